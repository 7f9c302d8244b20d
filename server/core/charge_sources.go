package core

import (
	"errors"
	"fmt"

	"tokenjar/db"
)

// Who pays for a charge (SPEC section 5): the asked-for allowance (the report's billingSource or
// the key's binding), else the member's active allowances, oldest first; then the member's own
// credits. A charge larger than an allowance's remainder is split: each allowance pays what it
// has left this period, bounded by its granter's live credits (an allowance never puts its
// granter into debt, as before), and the rest goes on to the next source. An allowance is never
// overdrawn. Credits held for in-flight gateway requests are not there to be paid by others,
// not even by the member's own reports: a report that finds only held credits becomes debt.

// fundingMode is what the charge is.
type fundingMode int

const (
	// modeReport: usage that already happened. What no source covers becomes the member's debt.
	modeReport fundingMode = iota
	// modeHold: a gateway hold. Only what is free of other holds counts; nothing becomes debt;
	// what does not fit is left uncovered.
	modeHold
	// modeSettle: a gateway request's actual cost, its own hold already released. As modeHold,
	// but what does not fit (the provider reported more than was held) becomes debt.
	modeSettle
)

// sourceRequest is what the choice of billing sources depends on.
type sourceRequest struct {
	userID   int64
	explicit int64 // the delegation asked for, or 0
	bound    bool  // explicit comes from the key's binding, not the report
	personal bool  // the report asked for "personal": no delegation
	only     bool  // explicit and nothing else: a gateway hold on a bound token
	appID    int64
	model    string
	amount   int64
	mode     fundingMode
}

// leg is one source's share of a charge.
type leg struct {
	payer      *wallet
	live       []db.Bucket    // the payer's live buckets as this leg finds them
	delegation *db.Delegation // the group's working copy, terms current; nil: own credits
	periodKey  int64
	used       int64
	amount     int64 // what this source pays, debt included
	d          deduction
}

// fundingPlan is how a charge splits over its sources, before anything is written.
type fundingPlan struct {
	legs      []leg
	note      string
	uncovered int64       // modeHold: what no source could set aside
	shortOf   []shortNote // the sources that ran out, for a refusal's message
}

// shortNote is a source that had nothing (or not enough) left.
type shortNote struct {
	delegation *db.Delegation // nil: the member's own credits
	granterOut bool           // the granter's credits ran out, not the allowance
	left       int64          // what the source could still pay (less than was asked)
}

func (p fundingPlan) first() *leg {
	for i := range p.legs {
		if p.legs[i].amount > 0 || i == len(p.legs)-1 {
			return &p.legs[i]
		}
	}
	return nil
}

// candidates lists the allowances to try, in order.
func (g *chargeGroup) candidates(req sourceRequest) (ids []int64, explicit int64, err error) {
	explicit = req.explicit
	if explicit != 0 {
		d, err := g.delegation(explicit)
		if err != nil && !errors.Is(err, db.ErrNotFound) {
			return nil, 0, err
		}
		if err == nil && d.GranteeID == req.userID {
			return []int64{explicit}, explicit, nil
		}
		explicit = 0 // a key bound to someone else's allowance: resolve as usual
	}
	if req.personal {
		return nil, 0, nil
	}
	ids, err = g.delegationsOf(req.userID)
	return ids, 0, err
}

// planSources splits req.amount over the member's sources.
func (g *chargeGroup) planSources(req sourceRequest, set Settings) (fundingPlan, error) {
	var plan fundingPlan
	ids, explicit, err := g.candidates(req)
	if err != nil {
		return plan, err
	}
	left := req.amount
	var planned map[int64]int64 // payer → what earlier legs of this plan take from their buckets
	for _, id := range ids {
		l, why, err := g.allowanceLeg(id, req, left, planned, set)
		if err != nil {
			return plan, err
		}
		if l != nil {
			plan.legs = append(plan.legs, *l)
			left -= l.amount
			if planned == nil {
				planned = map[int64]int64{}
			}
			planned[l.payer.user.ID] += l.amount
		}
		if why != "" {
			g.noteWhy(&plan, id, why, explicit != 0)
		}
		if left == 0 {
			return plan, nil
		}
	}
	if req.only && explicit != 0 {
		plan.uncovered = left
		return plan, nil
	}
	return plan, g.personalLeg(&plan, req, left, planned)
}

// allowanceLeg is what delegation id pays of left, or nil and why it pays nothing.
func (g *chargeGroup) allowanceLeg(id int64, req sourceRequest, left int64, planned map[int64]int64, set Settings) (*leg, string, error) {
	d, err := g.delegation(id)
	if err != nil {
		return nil, "", err
	}
	cur, due := currentTerms(*d, g.now)
	key, used, why := usable(cur, req.appID, req.model, g.now, set)
	if why != "" {
		return nil, why, nil
	}
	w, err := g.wallet(cur.GranterID)
	if err != nil {
		return nil, "", err
	}
	// A disabled granter's allowances pay nothing (SPEC 5), as if paused. The cached wallet's
	// user row is current: disabling a member is a write that drops the cache.
	if w.user.Disabled {
		return nil, "the granter is disabled", nil
	}
	live, err := w.liveBuckets()
	if err != nil {
		return nil, "", err
	}
	if left == 0 {
		// A charge of nothing (a free model, a record of 0 credits) is still billed to the
		// allowance it was made under.
		if due {
			*d = cur
		}
		return &leg{payer: w, live: live, delegation: d, periodKey: key, used: used}, "", nil
	}
	room := cur.Credits - used - g.holds.deleg[id]
	granterFree := sumRemaining(live) - g.holds.wallet[w.user.ID] - planned[w.user.ID]
	take := min(left, max(room, 0), max(granterFree, 0))
	if take <= 0 {
		if room <= 0 {
			return nil, "allowance for this period is spent", nil
		}
		return nil, "the granter's credits are used up", nil
	}
	if due {
		*d = cur
	}
	live = afterTaking(live, planned[w.user.ID])
	l := &leg{payer: w, live: live, delegation: d, periodKey: key, used: used, amount: take, d: planDeduction(live, take)}
	why = ""
	if take < left {
		if room <= take {
			why = "allowance for this period is spent"
		} else {
			why = "the granter's credits are used up"
		}
	}
	return l, why, nil
}

// noteWhy records why an allowance paid nothing or only part, for the event's sourceNote and a
// refusal's message.
func (g *chargeGroup) noteWhy(plan *fundingPlan, id int64, why string, explicit bool) {
	d := g.delegs[id]
	paid := int64(0)
	for _, l := range plan.legs {
		if l.delegation != nil && l.delegation.ID == id {
			paid = l.amount
		}
	}
	switch why {
	case "allowance for this period is spent":
		plan.shortOf = append(plan.shortOf, shortNote{delegation: d, left: paid})
	case "the granter's credits are used up":
		plan.shortOf = append(plan.shortOf, shortNote{delegation: d, granterOut: true, left: paid})
	}
	// A paused allowance is news to the grantee; an ended or revoked one is history, and would
	// otherwise put the same note on every later request.
	quiet := why == "ended" || why == "not started yet" || why == "revoked"
	if !explicit && (plan.note != "" || quiet) {
		return
	}
	if paid > 0 {
		plan.note = fmt.Sprintf("%s paid %s: %s; the rest went to the next source", allowanceName(*d), Credits(paid), why)
		return
	}
	plan.note = fmt.Sprintf("%s: %s; charged to the next source", allowanceName(*d), why)
}

// personalLeg adds the member's own credits (and, for a report or a settle, any debt).
func (g *chargeGroup) personalLeg(plan *fundingPlan, req sourceRequest, left int64, planned map[int64]int64) error {
	w, err := g.wallet(req.userID)
	if err != nil {
		return err
	}
	live, err := w.liveBuckets()
	if err != nil {
		return err
	}
	live = afterTaking(live, planned[w.user.ID])
	l := leg{payer: w, live: live, amount: left}
	// Credits held for in-flight gateway requests are theirs: a report that finds only held
	// credits left becomes debt rather than take them, so a gateway request never does.
	free := max(sumRemaining(live)-g.holds.wallet[w.user.ID], 0)
	take := min(left, free)
	if take < left {
		plan.shortOf = append(plan.shortOf, shortNote{left: take})
	}
	l.d = planDeduction(live, take)
	if req.mode == modeHold {
		l.amount = take
		plan.uncovered = left - take
	} else {
		l.d.shortfall = left - take // debt: a report's, or a settle's over its hold
	}
	if l.amount > 0 || len(plan.legs) == 0 {
		plan.legs = append(plan.legs, l)
	}
	return nil
}

// afterTaking is live with its first n credits (in deduction order) taken by an earlier leg.
func afterTaking(live []db.Bucket, n int64) []db.Bucket {
	if n == 0 {
		return live
	}
	out := make([]db.Bucket, 0, len(live))
	for _, b := range live {
		take := min(b.Remaining, n)
		n -= take
		b.Remaining -= take
		if b.Remaining > 0 {
			out = append(out, b)
		}
	}
	return out
}
