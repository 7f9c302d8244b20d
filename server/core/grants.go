package core

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"tokenjar/db"
)

// NewGrant is an admin's grant of credits to a member.
type NewGrant struct {
	Kind      string
	Credits   Credits
	ExpiresAt *time.Time
	Note      string
}

// GrantResult is the new bucket and the ledger rows the grant wrote. A grant pays the member's
// debt first: RepaidDebt is what went to the debt and KeptCredits what the member kept
// ("300 reward: 240 repaid debt, 60 left"); the grant's ledger row carries both too, as on
// GET /ledger.
type GrantResult struct {
	BucketID    int64       `json:"bucketId"`
	Kind        string      `json:"kind"`
	Credits     Credits     `json:"credits"`
	RepaidDebt  Credits     `json:"repaidDebt"`
	KeptCredits Credits     `json:"keptCredits"`
	ExpiresAt   *string     `json:"expiresAt"`
	Ledger      []LedgerRow `json:"ledger"`
}

// Grant credits a member with a new bucket (admins only). A grant pays any debt first.
func (s *Service) Grant(ctx context.Context, p Principal, userID int64, g NewGrant) (GrantResult, error) {
	if err := p.requireAdmin(); err != nil {
		return GrantResult{}, err
	}
	if g.Credits <= 0 {
		return GrantResult{}, Invalid("credits", "credits must be greater than 0")
	}
	g.Note = strings.TrimSpace(g.Note)
	if len(g.Note) > 200 {
		return GrantResult{}, Invalid("note", "note must be at most 200 characters")
	}
	now := s.clock.Now()
	set := s.Settings()
	b := db.Bucket{Kind: g.Kind, Granted: int64(g.Credits), Note: g.Note}
	action := "grant"
	switch g.Kind {
	case KindAddon:
		action = "topup"
		if g.ExpiresAt != nil {
			return GrantResult{}, Invalid("expiresAt", "Recharge (addon) credits never expire; leave expiresAt out")
		}
	case KindEvent:
		if g.ExpiresAt == nil {
			return GrantResult{}, Invalid("expiresAt", "Limited-time (event) credits need expiresAt")
		}
		if !g.ExpiresAt.After(now) {
			return GrantResult{}, Invalid("expiresAt", "expiresAt must be in the future")
		}
		b.ExpiresAt = sql.NullInt64{Int64: ms(*g.ExpiresAt), Valid: true}
	case KindSubscription:
		if g.ExpiresAt != nil {
			return GrantResult{}, Invalid("expiresAt", "Monthly (subscription) credits expire at the cycle end; leave expiresAt out")
		}
		cy := CycleAt(now, set.Location)
		b.Cycle = sql.NullInt64{Int64: cy.Key, Valid: true}
		b.ExpiresAt = sql.NullInt64{Int64: ms(cy.End), Valid: true}
	default:
		return GrantResult{}, Invalid("kind", "kind must be subscription, addon or event")
	}
	var res GrantResult
	err := s.db.Update(ctx, func(c *db.Conn) error {
		w, err := openWallet(ctx, c, userID, ms(now))
		if errors.Is(err, db.ErrNotFound) {
			return Errorf(ENOTFOUND, "no such member")
		}
		if err != nil {
			return err
		}
		nb, err := w.creditIn(action, b, g.Note)
		if err != nil {
			return err
		}
		if err := w.save(); err != nil {
			return err
		}
		res = grantResult(nb, g.Credits, w.written)
		return nil
	})
	if err == nil {
		// The member's live views (balance, ledger) read again: new credits came in.
		s.balanceChanged(userID)
	}
	return res, err
}

// grantResult is the reply to a grant of credits that wrote the bucket b and the ledger rows
// written: the grant's row, then (if the member was in debt) the pair that repaid it.
func grantResult(b db.Bucket, credits Credits, written []db.LedgerRow) GrantResult {
	res := GrantResult{BucketID: b.ID, Kind: b.Kind, Credits: credits, ExpiresAt: optTime(b.ExpiresAt), Ledger: ledgerRows(written)}
	for _, r := range written {
		if r.Action == "debt" && !r.UsageID.Valid && r.Amount < 0 && r.BucketID.Int64 == b.ID {
			res.RepaidDebt -= Credits(r.Amount)
		}
	}
	res.KeptCredits = credits - res.RepaidDebt
	for i, r := range written {
		if res.RepaidDebt > 0 && r.Action != "debt" && r.Amount > 0 && r.BucketID.Int64 == b.ID {
			repaid, kept := res.RepaidDebt, res.KeptCredits
			res.Ledger[i].RepaidDebt, res.Ledger[i].KeptCredits = &repaid, &kept
			break
		}
	}
	return res
}

// SetPlan sets a member's monthly credits. It takes effect at the next cycle, or with now
// at once: this cycle's Monthly credits are raised or cut to the new allowance, and what was
// already used stays used.
func (s *Service) SetPlan(ctx context.Context, p Principal, userID int64, monthly Credits, now bool) (Member, error) {
	if err := p.requireAdmin(); err != nil {
		return Member{}, err
	}
	if monthly < 0 {
		return Member{}, Invalid("monthlyCredits", "monthlyCredits must be 0 or more")
	}
	var out Member
	err := s.db.Update(ctx, func(c *db.Conn) error {
		u, err := c.UserByID(ctx, userID)
		if errors.Is(err, db.ErrNotFound) {
			return Errorf(ENOTFOUND, "no such member")
		}
		if err != nil {
			return err
		}
		if !now {
			if err := c.SetPlan(ctx, userID, u.PlanCredits, sql.NullInt64{Int64: int64(monthly), Valid: true}); err != nil {
				return err
			}
		} else {
			if err := c.SetPlan(ctx, userID, int64(monthly), sql.NullInt64{}); err != nil {
				return err
			}
			if err := s.applyPlanNow(ctx, c, userID, int64(monthly)); err != nil {
				return err
			}
		}
		u, err = c.UserByID(ctx, userID)
		out = memberOf(u)
		return err
	})
	return out, err
}

// applyPlanNow moves this cycle's plan bucket to new monthly credits.
func (s *Service) applyPlanNow(ctx context.Context, c *db.Conn, userID, monthly int64) error {
	t := s.clock.Now()
	cy := CycleAt(t, s.Settings().Location)
	w, err := openWallet(ctx, c, userID, ms(t))
	if err != nil {
		return err
	}
	var planBucket *db.Bucket
	granted, err := c.CycleGranted(ctx, userID, cy.Key)
	if err != nil {
		return err
	}
	if granted {
		bs, err := c.BucketsInCycle(ctx, userID, cy.Key)
		if err != nil {
			return err
		}
		// The plan bucket is the cycle's bucket without a note; admins' extra Monthly grants carry theirs.
		for i := range bs {
			if bs[i].Note == planNote {
				planBucket = &bs[i]
				break
			}
		}
	}
	if planBucket == nil {
		var bucketID sql.NullInt64
		if monthly > 0 {
			b, err := w.creditIn("grant", db.Bucket{Kind: KindSubscription, Granted: monthly,
				ExpiresAt: sql.NullInt64{Int64: ms(cy.End), Valid: true}, Cycle: sql.NullInt64{Int64: cy.Key, Valid: true}, Note: planNote}, "plan started")
			if err != nil {
				return err
			}
			bucketID = sql.NullInt64{Int64: b.ID, Valid: true}
		}
		if !granted {
			if err := c.InsertCycleGrant(ctx, userID, cy.Key, bucketID, ms(t)); err != nil {
				return err
			}
		}
		return w.save()
	}
	// What this cycle's plan already paid for stays used: the bucket keeps the new allowance
	// less that, never below zero. Its granted amount is what it has handed out plus what is
	// left, so a cut below the used credits, then a raise, does not pay them back.
	used := planBucket.Granted - planBucket.Remaining
	remaining := max(0, monthly-used)
	change := remaining - planBucket.Remaining
	planBucket.Granted = used + remaining
	switch {
	case change > 0:
		if err := c.SetBucketAmounts(ctx, planBucket.ID, planBucket.Granted, planBucket.Remaining); err != nil {
			return err
		}
		if err := w.addToBucket("grant", planBucket, change, 0, "plan raised"); err != nil {
			return err
		}
		if err := w.repayDebt(planBucket); err != nil {
			return err
		}
	case change < 0:
		planBucket.Remaining = remaining
		if err := c.SetBucketAmounts(ctx, planBucket.ID, planBucket.Granted, planBucket.Remaining); err != nil {
			return err
		}
		if err := w.record("expire", change, planBucket, 0, "plan lowered"); err != nil {
			return err
		}
	default:
		if err := c.SetBucketAmounts(ctx, planBucket.ID, planBucket.Granted, planBucket.Remaining); err != nil {
			return err
		}
	}
	return w.save()
}

const planNote = "monthly plan"

// grantCycle grants a member's plan for one cycle, once: the cycle_grants row makes it idempotent.
func (s *Service) grantCycle(ctx context.Context, c *db.Conn, w *wallet, cy Cycle, monthly int64, t time.Time) (bool, error) {
	done, err := c.CycleGranted(ctx, w.user.ID, cy.Key)
	if err != nil || done {
		return false, err
	}
	var bucketID sql.NullInt64
	if monthly > 0 {
		b, err := w.creditIn("refresh", db.Bucket{Kind: KindSubscription, Granted: monthly, GrantedAt: ms(t),
			ExpiresAt: sql.NullInt64{Int64: ms(cy.End), Valid: true}, Cycle: sql.NullInt64{Int64: cy.Key, Valid: true}, Note: planNote}, "")
		if err != nil {
			return false, err
		}
		bucketID = sql.NullInt64{Int64: b.ID, Valid: true}
	}
	return true, c.InsertCycleGrant(ctx, w.user.ID, cy.Key, bucketID, ms(t))
}
