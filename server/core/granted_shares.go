package core

import (
	"context"
	"strconv"

	"tokenjar/db"
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
	return withShare(it, id, credits), nil
}

// withShare is an event as a granter sees it who paid a later share of it: their allowance
// (the first of theirs that paid) as the billing source, and what their allowances paid.
func withShare(it UsageItem, delegationID, credits int64) UsageItem {
	paid := Credits(credits)
	it.DelegationID, it.BillingSource, it.DelegationCredits = &delegationID, strconv.FormatInt(delegationID, 10), &paid
	return it
}

// granterPart is what one granter's allowances paid of a charge as it is made.
type granterPart struct {
	userID       int64
	delegationID int64 // the first of their allowances that paid (the lowest id, as GranterShare)
	credits      int64
}

func addGranterPart(parts []granterPart, d db.Delegation, credits int64) []granterPart {
	for i := range parts {
		if parts[i].userID == d.GranterID {
			parts[i].credits += credits
			parts[i].delegationID = min(parts[i].delegationID, d.ID)
			return parts
		}
	}
	return append(parts, granterPart{userID: d.GranterID, delegationID: d.ID, credits: credits})
}

// grantedItems is a new event as each granter who paid a part sees it live, the same as their
// granted log shows it: the first payer sees the event as it is, a later one their own part.
func grantedItems(it UsageItem, parts []granterPart) map[int64]UsageItem {
	if len(parts) == 0 {
		return nil
	}
	out := make(map[int64]UsageItem, len(parts))
	for _, p := range parts {
		if p.userID == it.UserID {
			continue
		}
		if p.userID == it.payerID {
			out[p.userID] = it
		} else {
			out[p.userID] = withShare(it, p.delegationID, p.credits)
		}
	}
	return out
}

// paidAShare reports whether a granter's allowances paid a share of a split charge.
func (s *Service) paidAShare(ctx context.Context, usageID, granterID int64) (bool, error) {
	_, _, found, err := s.db.Read().GranterShare(ctx, usageID, granterID)
	return found, err
}
