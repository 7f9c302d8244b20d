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

// GrantResult is the new bucket and the ledger rows the grant wrote.
type GrantResult struct {
	BucketID  int64       `json:"bucketId"`
	Kind      string      `json:"kind"`
	Credits   Credits     `json:"credits"`
	ExpiresAt *string     `json:"expiresAt"`
	Ledger    []LedgerRow `json:"ledger"`
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
			return Errorf(ENOTFOUND, "no member %d", userID)
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
		res = GrantResult{BucketID: nb.ID, Kind: nb.Kind, Credits: g.Credits, ExpiresAt: optTime(nb.ExpiresAt), Ledger: ledgerRows(w.written)}
		return nil
	})
	return res, err
}

// SetPlan sets a member's monthly allowance. It takes effect at the next cycle, or with now
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
			return Errorf(ENOTFOUND, "no member %d", userID)
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

// applyPlanNow moves this cycle's plan bucket to a new allowance.
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

// Refund reverses a usage charge (admins only). Credits go back to the buckets they came from,
// or to a new addon bucket where those have expired; debt the charge made is forgiven.
func (s *Service) Refund(ctx context.Context, p Principal, usageID int64) ([]LedgerRow, error) {
	if err := p.requireAdmin(); err != nil {
		return nil, err
	}
	var out []LedgerRow
	err := s.db.Update(ctx, func(c *db.Conn) error {
		e, err := c.UsageByID(ctx, usageID)
		if errors.Is(err, db.ErrNotFound) {
			return Errorf(ENOTFOUND, "no usage event %d", usageID)
		}
		if err != nil {
			return err
		}
		if e.RefundedAt.Valid {
			return Errorf(ECONFLICT, "usage event %d was refunded already", usageID)
		}
		if !e.Charged {
			return Errorf(ECONFLICT, "usage event %d was recorded without a charge; there is nothing to refund", usageID)
		}
		now := s.clock.Now()
		rows, err := c.LedgerForUsage(ctx, usageID)
		if err != nil {
			return err
		}
		w, err := openWallet(ctx, c, e.PayerID, ms(now))
		if err != nil {
			return err
		}
		var toAddon int64
		var credited []*db.Bucket
		split := db.KindSplit{}
		for _, r := range rows {
			switch {
			case r.Action == "usage" && r.BucketID.Valid:
				amount := -r.Amount
				switch r.Kind {
				case KindSubscription:
					split.Subscription -= amount
				case KindAddon:
					split.Addon -= amount
				case KindEvent:
					split.Event -= amount
				}
				b, err := c.BucketByID(ctx, r.BucketID.Int64)
				if err != nil {
					return err
				}
				if expired(b, ms(now)) {
					toAddon += amount
					continue
				}
				if err := w.addToBucket("refund", &b, amount, usageID, ""); err != nil {
					return err
				}
				credited = append(credited, &b)
			case r.Action == "debt" && !r.BucketID.Valid && r.Amount < 0:
				owed := -r.Amount
				split.Debt -= owed
				forgive := min(owed, w.user.Debt)
				if forgive > 0 {
					w.user.Debt -= forgive
					if err := w.record("refund", forgive, nil, usageID, "debt forgiven"); err != nil {
						return err
					}
				}
				toAddon += owed - forgive // already repaid from later credits: give those back
			}
		}
		if toAddon > 0 {
			nb, err := w.creditInFor("refund", db.Bucket{Kind: KindAddon, Granted: toAddon, Note: "refund of usage"}, usageID, "")
			if err != nil {
				return err
			}
			_ = nb
		}
		for _, b := range credited {
			if err := w.repayDebt(b); err != nil {
				return err
			}
		}
		if err := w.save(); err != nil {
			return err
		}
		if err := c.MarkRefunded(ctx, usageID, ms(now)); err != nil {
			return err
		}
		if e.DelegationID.Valid {
			d, err := c.DelegationByID(ctx, e.DelegationID.Int64)
			if err != nil {
				return err
			}
			if key := periodKey(d.Period, now, s.Settings().Location); d.PeriodKey == key {
				if err := c.SetDelegationUse(ctx, d.ID, key, max(0, d.PeriodUsed-e.Credits)); err != nil {
					return err
				}
			}
		}
		if err := c.AddDaily(ctx, dailyDelta(e, 0, -e.Credits, split)); err != nil {
			return err
		}
		out = ledgerRows(w.written)
		return nil
	})
	return out, err
}
