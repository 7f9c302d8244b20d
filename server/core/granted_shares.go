package core

import (
	"context"
	"strconv"
)

// A split charge paid by two allowances names only the first on its event; the second
// allowance's share is a usage_sources row. These let each granter see the events their
// allowances paid for, with their own part (SPEC 5: a granter sees the events billed to their
// delegations).

// withGranterShares makes a granted query look past each event's first payer, when the
// granter's allowances paid a later share of some split charge.
func (s *Service) withGranterShares(ctx context.Context, r *resolvedQuery) error {
	if r.f.GranterID == 0 {
		return nil
	}
	ok, err := s.db.Read().HasLaterShares(ctx, r.f.GranterID)
	r.f.GranterShares = ok
	return err
}

// grantedItem shows a granter their own share of an event a later allowance of theirs paid
// part of: that allowance as the billing source, and what it paid.
func (s *Service) grantedItem(ctx context.Context, granterID int64, it UsageItem) (UsageItem, error) {
	if it.payerID == granterID {
		return it, nil
	}
	id, credits, found, err := s.db.Read().GranterShare(ctx, it.ID, granterID)
	if err != nil || !found {
		return it, err
	}
	paid := Credits(credits)
	it.DelegationID, it.BillingSource, it.DelegationCredits = &id, strconv.FormatInt(id, 10), &paid
	return it, nil
}

// paidAShare reports whether a granter's allowances paid a share of a split charge.
func (s *Service) paidAShare(ctx context.Context, usageID, granterID int64) (bool, error) {
	_, _, found, err := s.db.Read().GranterShare(ctx, usageID, granterID)
	return found, err
}
