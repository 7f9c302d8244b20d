package core

import (
	"database/sql"

	"tokenjar/db"
)

// newEvent is the usage event of a prepared report, before its sources are known.
func (g *chargeGroup) newEvent(pc preparedCharge) db.UsageEvent {
	rep := pc.rep
	at := g.now
	if rep.Timestamp != nil {
		at = *rep.Timestamp
	}
	e := db.UsageEvent{
		UserID: pc.user.ID, PayerID: pc.user.ID, At: ms(at), Day: DayOf(at, pc.set.Location), RecordedAt: ms(g.now),
		Description: rep.Description, ShortDescription: rep.ShortDescription, UsageType: rep.UsageType,
		Model: rep.Model, Provider: rep.Provider, Modality: rep.Modality,
		InputTokens: rep.InputTokens, OutputTokens: rep.OutputTokens, TotalTokens: rep.TotalTokens,
		Project: rep.Project, Credits: int64(pc.credits), Charged: rep.ChargeUser, IdemScope: pc.idemScope,
		UserName: pc.user.Name, UserEmail: pc.user.Email,
	}
	if pc.app.ID != 0 {
		e.AppID = sql.NullInt64{Int64: pc.app.ID, Valid: true}
		e.AppSlug = sql.NullString{String: pc.app.Slug, Valid: true}
		e.AppName = sql.NullString{String: pc.app.Name, Valid: true}
	}
	if rep.ProcessingTimeMs != nil {
		e.ProcessingTimeMs = sql.NullInt64{Int64: *rep.ProcessingTimeMs, Valid: true}
	}
	if rep.ModelParameters != "" {
		e.ModelParameters = sql.NullString{String: rep.ModelParameters, Valid: true}
	}
	if rep.InternalUnits != "" {
		e.InternalUnits = sql.NullString{String: rep.InternalUnits, Valid: true}
	}
	if rep.TotalCost != "" {
		e.CostUSD = sql.NullString{String: rep.TotalCost, Valid: true}
	}
	if rep.IdempotencyKey != "" {
		e.IdemKey = sql.NullString{String: rep.IdempotencyKey, Valid: true}
	}
	if pc.meter != nil {
		e.Gateway = *pc.meter
		e.Gateway.OverHold = pc.credits > pc.held
	}
	return e
}

// charge records one report (or a gateway request's actual cost) in the group.
func (g *chargeGroup) charge(pc preparedCharge) (chargeOutcome, error) {
	var out chargeOutcome
	rep := pc.rep
	e := g.newEvent(pc)
	var plan fundingPlan
	if rep.ChargeUser {
		var err error
		plan, err = g.planSources(sourceRequest{userID: pc.user.ID, explicit: pc.explicit, bound: pc.bound, only: pc.only,
			personal: rep.BillingSource == "personal", appID: pc.app.ID, model: rep.Model, amount: int64(pc.credits), mode: pc.mode}, pc.set)
		if err != nil {
			return out, err
		}
		describeSources(&e, plan)
	}
	// The event goes in first: a taken idempotency key stops the charge before it moves money.
	id, inserted, err := g.c.InsertUsageOnce(g.ctx, e)
	if err != nil {
		return out, err
	}
	if !inserted {
		out.duplicate = true
		return out, nil
	}
	e.ID = id
	out.res = ChargeResult{ID: id, BillingSource: sourceName(e.DelegationID), SourceNote: e.SourceNote, Parts: []Part{}}
	if rep.ChargeUser {
		if err := g.applyPlan(&out, e, pc, plan); err != nil {
			return out, err
		}
	} else {
		g.addDaily(dailyDelta(e, 1, 0, db.KindSplit{}))
	}
	w, err := g.wallet(pc.user.ID)
	if err != nil {
		return out, err
	}
	// The member's own balance, never a granter's: the reply goes to the grantee (or an app
	// acting for them), and an allowance leaves it as it was.
	out.res.BalanceAfter = Credits(w.user.Balance)
	out.event = e
	return out, nil
}

// describeSources puts a plan's first source, its debt and its note on the event.
func describeSources(e *db.UsageEvent, plan fundingPlan) {
	e.SourceNote = plan.note
	first := plan.first()
	if first == nil {
		return
	}
	e.PayerID = first.payer.user.ID
	if first.delegation != nil {
		e.DelegationID = sql.NullInt64{Int64: first.delegation.ID, Valid: true}
		if first.amount < e.Credits {
			e.DelegationCredits = sql.NullInt64{Int64: first.amount, Valid: true}
		}
	}
	for _, l := range plan.legs {
		e.Debt += l.d.shortfall
	}
}

// applyPlan moves the money of each source's share, and adds each share to the day's rollup
// under its own source (the request is counted once, under the first).
func (g *chargeGroup) applyPlan(out *chargeOutcome, e db.UsageEvent, pc preparedCharge, plan fundingPlan) error {
	paying := 0
	for _, l := range plan.legs {
		if l.amount > 0 {
			paying++
		}
	}
	requests := int64(1)
	for _, l := range plan.legs {
		note, source := "", "personal"
		ev := e
		ev.DelegationID = sql.NullInt64{}
		if l.delegation != nil {
			// The granter's ledger would otherwise show the grantee's request as their own.
			note = pc.user.Name + ", through " + allowanceName(*l.delegation)
			source = sourceName(sql.NullInt64{Int64: l.delegation.ID, Valid: true})
			ev.DelegationID = sql.NullInt64{Int64: l.delegation.ID, Valid: true}
			l.delegation.PeriodKey, l.delegation.PeriodUsed = l.periodKey, l.used+l.amount
			g.touched[l.delegation.ID] = true
			if l.amount > 0 || len(plan.legs) == 1 {
				out.granters = addGranterPart(out.granters, *l.delegation, l.amount)
			}
		}
		if err := l.payer.applyDeduction(l.live, l.d, e.ID, note); err != nil {
			return err
		}
		for _, p := range l.d.parts {
			p.Source = source
			out.res.Parts = append(out.res.Parts, p)
		}
		out.res.Debt += Credits(l.d.shortfall)
		if paying > 1 && l.amount > 0 {
			g.sources = append(g.sources, db.UsageSource{UsageID: e.ID, DelegationID: ev.DelegationID.Int64, PayerID: l.payer.user.ID, Credits: l.amount})
		}
		g.addDaily(dailyDelta(ev, requests, l.amount, kindSplit(l.d.parts, l.d.shortfall)))
		requests = 0
	}
	if len(plan.legs) == 0 {
		g.addDaily(dailyDelta(e, 1, 0, db.KindSplit{}))
	}
	out.res.CreditsCharged = pc.credits
	return nil
}
