package core

import (
	"context"
	"database/sql"
	"errors"

	"tokenjar/db"
)

// Refund reverses a usage charge (admins only). Credits go back to the buckets they came from,
// or to a new addon bucket where those have expired; debt the charge made is forgiven. A split
// charge gives each source back what it paid: each payer's buckets, each allowance its period.
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
		rows, err := c.LedgerForUsage(ctx, usageID)
		if err != nil {
			return err
		}
		var payers []int64
		byPayer := map[int64][]db.LedgerRow{}
		for _, r := range rows {
			if _, ok := byPayer[r.UserID]; !ok {
				payers = append(payers, r.UserID)
			}
			byPayer[r.UserID] = append(byPayer[r.UserID], r)
		}
		splits := map[int64]db.KindSplit{}
		for _, payer := range payers {
			w, split, err := s.refundPayer(ctx, c, payer, usageID, byPayer[payer])
			if err != nil {
				return err
			}
			splits[payer] = split
			out = append(out, ledgerRows(w.written)...)
		}
		if err := c.MarkRefunded(ctx, usageID, ms(s.clock.Now())); err != nil {
			return err
		}
		return s.refundSources(ctx, c, e, splits)
	})
	return out, err
}

// refundPayer gives one payer's part of a charge back.
func (s *Service) refundPayer(ctx context.Context, c *db.Conn, payer, usageID int64, rows []db.LedgerRow) (*wallet, db.KindSplit, error) {
	now := ms(s.clock.Now())
	split := db.KindSplit{}
	w, err := openWallet(ctx, c, payer, now)
	if err != nil {
		return nil, split, err
	}
	var toAddon int64
	var credited []*db.Bucket
	seen := map[int64]*db.Bucket{}
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
			// One bucket may have paid twice (two allowances of one granter): both refunds and
			// the debt repayment after them work on the same copy.
			b, ok := seen[r.BucketID.Int64]
			if !ok {
				fresh, err := c.BucketByID(ctx, r.BucketID.Int64)
				if err != nil {
					return nil, split, err
				}
				b = &fresh
				seen[b.ID] = b
			}
			if expired(*b, now) {
				toAddon += amount
				continue
			}
			if err := w.addToBucket("refund", b, amount, usageID, ""); err != nil {
				return nil, split, err
			}
			if !ok {
				credited = append(credited, b)
			}
		case r.Action == "debt" && !r.BucketID.Valid && r.Amount < 0:
			owed := -r.Amount
			split.Debt -= owed
			forgive := min(owed, w.user.Debt)
			if forgive > 0 {
				w.user.Debt -= forgive
				if err := w.record("refund", forgive, nil, usageID, "debt forgiven"); err != nil {
					return nil, split, err
				}
			}
			toAddon += owed - forgive // already repaid from later credits: give those back
		}
	}
	if toAddon > 0 {
		if _, err := w.creditInFor("refund", db.Bucket{Kind: KindAddon, Granted: toAddon, Note: "refund of usage"}, usageID, ""); err != nil {
			return nil, split, err
		}
	}
	for _, b := range credited {
		if err := w.repayDebt(b); err != nil {
			return nil, split, err
		}
	}
	return w, split, w.save()
}

// refundSources gives each allowance back its share of this period's use, and takes each
// source's share out of the day's rollup.
func (s *Service) refundSources(ctx context.Context, c *db.Conn, e db.UsageEvent, splits map[int64]db.KindSplit) error {
	sources, err := c.UsageSources(ctx, e.ID)
	if err != nil {
		return err
	}
	if len(sources) == 0 {
		sources = []db.UsageSource{{UsageID: e.ID, DelegationID: e.DelegationID.Int64, PayerID: e.PayerID, Credits: e.Credits}}
	}
	now := s.clock.Now()
	for _, src := range sources {
		ev := e
		ev.DelegationID = sql.NullInt64{}
		if src.DelegationID != 0 {
			ev.DelegationID = sql.NullInt64{Int64: src.DelegationID, Valid: true}
			d, err := c.DelegationByID(ctx, src.DelegationID)
			if err != nil {
				return err
			}
			if key := periodKey(d.Period, now, s.Settings().Location); d.PeriodKey == key {
				if err := c.SetDelegationUse(ctx, d.ID, key, max(0, d.PeriodUsed-src.Credits)); err != nil {
					return err
				}
			}
		}
		split := splits[src.PayerID] // a payer's kinds go with their first source
		delete(splits, src.PayerID)
		if err := c.AddDaily(ctx, dailyDelta(ev, 0, -src.Credits, split)); err != nil {
			return err
		}
	}
	return nil
}
