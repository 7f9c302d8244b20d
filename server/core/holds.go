package core

import (
	"time"

	"tokenjar/db"
)

// Holds are made, settled, released and swept by the charger, in the same groups as reports:
// one goroutine weighs every hold and every charge against what is left, so concurrent
// requests together never set aside or spend more than an allowance or a wallet holds.

// holdTTL is how long a hold lives without being settled or released; the sweeper then drops
// it. It is longer than any provider timeout plus the 30 s read-on after a disconnect.
const holdTTL = 15 * time.Minute

type gatewayOpKind int

const (
	opHold gatewayOpKind = iota + 1
	opSettle
	opRelease
	opSweep
)

// gatewayOp is a gateway request's turn at the charger.
type gatewayOp struct {
	kind   gatewayOpKind
	user   db.User
	call   GatewayCall
	set    Settings
	holdID int64 // opSettle, opRelease
}

// run does one queued item of a group.
func (g *chargeGroup) run(p *pendingCharge) (chargeOutcome, error) {
	if p.gw == nil {
		return g.charge(p.pc)
	}
	switch p.gw.kind {
	case opHold:
		return g.hold(p.gw)
	case opSettle:
		parts, err := g.dropHold(p.gw.holdID)
		if err != nil {
			return chargeOutcome{}, err
		}
		out, err := g.charge(p.pc)
		out.notify = addNotify(appendOnce(out.notify, p.pc.user.ID), parts)
		return out, err
	case opRelease:
		parts, err := g.dropHold(p.gw.holdID)
		return chargeOutcome{notify: addNotify(nil, parts)}, err
	case opSweep:
		ids, err := g.c.ExpiredHolds(g.ctx, ms(g.now))
		if err != nil {
			return chargeOutcome{}, err
		}
		var out chargeOutcome
		for _, id := range ids {
			parts, err := g.dropHold(id)
			if err != nil {
				return chargeOutcome{}, err
			}
			out.notify = addNotify(out.notify, parts)
		}
		out.released = len(ids)
		return out, nil
	}
	return chargeOutcome{}, nil
}

// dropHold deletes a hold; its parts, for the members to tell.
func (g *chargeGroup) dropHold(id int64) ([]db.HoldPart, error) {
	if id == 0 {
		return nil, nil
	}
	parts := g.holds.drop(id)
	_, err := g.c.DeleteHold(g.ctx, id)
	return parts, err
}

// hold sets a request's worst-case cost aside on the member's sources, lowering its output
// cap to what fits when that still leaves a useful reply. A refusal is the request's answer,
// not the group's failure.
func (g *chargeGroup) hold(op *gatewayOp) (chargeOutcome, error) {
	var out chargeOutcome
	call, milli := op.call, op.set.MilliPerUSD
	want, ok := call.Price.HoldCredits(call.Hold, milli)
	if !ok {
		out.refusal = Errorf(EPAYMENT, "This request is too big to pay for. Ask for a shorter reply.")
		return out, nil
	}
	req := sourceRequest{userID: op.user.ID, explicit: call.Delegation, only: call.Delegation != 0, bound: true,
		appID: call.AppID, model: call.Model, amount: int64(want), mode: modeHold}
	plan, err := g.planSources(req, op.set)
	if err != nil {
		return out, err
	}
	h := GatewayHold{MemberID: op.user.ID, OutputTokens: call.Hold.OutputTokens}
	if plan.uncovered > 0 {
		n, ok := call.Price.MaxOutputWithin(call.Hold, Credits(req.amount-plan.uncovered), milli)
		if !ok || n < max(call.MinOutputTokens, 1) {
			out.refusal = g.refusal(plan, op.set)
			return out, nil
		}
		lowered := call.Hold
		lowered.OutputTokens = min(n, call.Hold.OutputTokens)
		if want, ok = call.Price.HoldCredits(lowered, milli); !ok {
			out.refusal = g.refusal(plan, op.set)
			return out, nil
		}
		req.amount = int64(want)
		if plan, err = g.planSources(req, op.set); err != nil {
			return out, err
		}
		if plan.uncovered > 0 {
			out.refusal = g.refusal(plan, op.set)
			return out, nil
		}
		h.OutputTokens, h.Lowered = lowered.OutputTokens, lowered.OutputTokens < call.Hold.OutputTokens
	}
	var parts []db.HoldPart
	for _, l := range plan.legs {
		if l.amount > 0 {
			p := db.HoldPart{UserID: op.user.ID, PayerID: l.payer.user.ID, Credits: l.amount}
			if l.delegation != nil {
				p.DelegationID = l.delegation.ID
			}
			parts = append(parts, p)
		}
	}
	id, err := g.c.InsertHold(g.ctx, op.user.ID, int64(want), ms(g.now), ms(g.now.Add(holdTTL)), parts)
	if err != nil {
		return out, err
	}
	for _, p := range parts {
		p.HoldID = id
		g.holds.add(p)
	}
	h.ID, h.Credits = id, want
	out.hold = h
	out.notify = addNotify([]int64{op.user.ID}, parts)
	return out, nil
}
