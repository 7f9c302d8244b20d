package core

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"tokenjar/db"
)

// ChargeResult is the reply to a usage report.
type ChargeResult struct {
	ID             int64   `json:"id"`
	CreditsCharged Credits `json:"creditsCharged"`
	// BillingSource is the first source that paid: a delegation id, or "personal". A split
	// charge's other sources are in Parts.
	BillingSource string  `json:"billingSource"`
	SourceNote    string  `json:"sourceNote,omitempty"`
	Parts         []Part  `json:"parts"`
	Debt          Credits `json:"debt"`
	BalanceAfter  Credits `json:"balanceAfter"`
}

func sourceName(delegationID sql.NullInt64) string {
	if delegationID.Valid {
		return strconv.FormatInt(delegationID.Int64, 10)
	}
	return "personal"
}

// resolveApp finds the app a report names and checks it against the caller's key.
func (s *Service) resolveApp(ctx context.Context, p Principal, ref string) (db.App, error) {
	if p.Via == ViaOperator {
		if ref == "" {
			return db.App{}, nil
		}
		return s.cachedApp(ctx, ref)
	}
	if p.Via == ViaAppKey {
		if ref == "" {
			return db.App{}, Invalid("aiAgentId", "aiAgentId is required with an app key: the id or slug of the app")
		}
		a, err := s.cachedApp(ctx, ref)
		if err != nil || a.ID != p.AppID {
			return db.App{}, &Error{Code: EFORBIDDEN, Message: "aiAgentId does not name this key's app", Field: "aiAgentId"}
		}
		return a, nil
	}
	if ref == "" {
		return db.App{}, nil
	}
	a, err := s.cachedApp(ctx, ref)
	if errors.Is(err, db.ErrNotFound) {
		return db.App{}, Invalid("aiAgentId", "no registered app %q", ref)
	}
	return a, err
}

func (s *Service) appByRef(ctx context.Context, ref string) (db.App, error) {
	r := s.db.Read()
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		return r.AppByID(ctx, id)
	}
	return r.AppBySlug(ctx, strings.ToLower(ref))
}

// resolveUser finds whose usage a report is.
func (s *Service) resolveUser(ctx context.Context, p Principal, rep UsageReport) (db.User, error) {
	if p.Via != ViaAppKey && p.Via != ViaOperator {
		if (rep.UserID != 0 && rep.UserID != p.UserID) || (rep.UserEmail != "" && !strings.EqualFold(rep.UserEmail, p.Email)) {
			return db.User{}, &Error{Code: EFORBIDDEN, Message: "a personal token reports only its own member's usage", Field: "userId"}
		}
		return s.cachedUser(ctx, p.UserID, "")
	}
	var u db.User
	var err error
	field := "userId"
	switch {
	case rep.UserID != 0:
		u, err = s.cachedUser(ctx, rep.UserID, "")
	case rep.UserEmail != "":
		field = "userEmail"
		u, err = s.cachedUser(ctx, 0, rep.UserEmail)
	default:
		return u, Invalid("userId", "userId or userEmail is required with an app key")
	}
	if errors.Is(err, db.ErrNotFound) {
		return u, Invalid(field, "no member with this %s", map[string]string{"userId": "id", "userEmail": "email"}[field])
	}
	// Both given must name one member: charging the id and ignoring the email would bill
	// someone the app did not mean.
	if err == nil && rep.UserID != 0 && rep.UserEmail != "" && !strings.EqualFold(rep.UserEmail, u.Email) {
		return u, Invalid("userEmail", "userId %d and userEmail %s are different members: send one of them", rep.UserID, rep.UserEmail)
	}
	if err == nil && u.Disabled {
		return u, &Error{Code: EFORBIDDEN, Message: "this member is disabled", Field: field}
	}
	return u, err
}

// preparedCharge is a report with everything resolved that can be resolved outside the writer.
type preparedCharge struct {
	rep       UsageReport
	app       db.App
	user      db.User
	credits   Credits
	explicit  int64 // the delegation asked for, or 0
	bound     bool  // explicit comes from the key's binding, not the report
	idemScope sql.NullString
	set       Settings
	// Gateway requests only.
	mode  fundingMode
	only  bool             // bill the explicit allowance and nothing else
	meter *db.GatewayMeter // metering and prices to store on the event
	held  Credits          // what the request's hold set aside
}

func (s *Service) prepareCharge(ctx context.Context, p Principal, rep UsageReport) (preparedCharge, error) {
	pc := preparedCharge{rep: rep, set: s.Settings()}
	if p.Via != ViaAppKey && p.Via != ViaToken && p.Via != ViaOperator {
		return pc, Errorf(EFORBIDDEN, "report usage with an app key or a personal token")
	}
	var err error
	if pc.app, err = s.resolveApp(ctx, p, rep.AIAgentID); err != nil {
		return pc, err
	}
	if pc.user, err = s.resolveUser(ctx, p, rep); err != nil {
		return pc, err
	}
	if rep.Credits != nil {
		pc.credits = *rep.Credits
	} else {
		var ok bool
		if pc.credits, ok = costToCredits(rep.TotalCost, pc.set.MilliPerUSD); !ok {
			return pc, Invalid("totalCost", "totalCost is too large")
		}
	}
	switch rep.BillingSource {
	case "", "personal":
	default:
		pc.explicit, err = strconv.ParseInt(rep.BillingSource, 10, 64)
		if err != nil || pc.explicit <= 0 {
			return pc, Invalid("billingSource", `billingSource must be "personal" or a delegation id`)
		}
	}
	if pc.explicit != 0 {
		// The grantee of a delegation never changes, so this is checked once, here.
		d, err := s.db.Read().DelegationByID(ctx, pc.explicit)
		if errors.Is(err, db.ErrNotFound) || (err == nil && d.GranteeID != pc.user.ID) {
			return pc, Invalid("billingSource", "delegation %d does not belong to this member", pc.explicit)
		}
		if err != nil {
			return pc, err
		}
	}
	if rep.BillingSource == "" && p.BoundDelegation != 0 {
		pc.explicit, pc.bound = p.BoundDelegation, true
	}
	if rep.IdempotencyKey != "" {
		// Keys are per app; a personal token's keys are per member, so one member can never
		// replay (and so read) another's result.
		if p.Via == ViaAppKey {
			pc.idemScope = sql.NullString{String: "app:" + strconv.FormatInt(p.AppID, 10), Valid: true}
		} else {
			pc.idemScope = sql.NullString{String: "user:" + strconv.FormatInt(pc.user.ID, 10), Valid: true}
		}
	}
	return pc, nil
}

// ChargeUsage records a usage report and charges it: the event, its ledger rows, the bucket
// and allowance updates and the day's rollup commit together, durably, before it returns.
// replay is true when the idempotency key was seen before; nothing is charged then.
func (s *Service) ChargeUsage(ctx context.Context, p Principal, rep UsageReport) (res ChargeResult, replay bool, err error) {
	pc, err := s.prepareCharge(ctx, p, rep)
	if err != nil {
		return res, false, err
	}
	// A replay is found by the group's insert, which meets the key in the unique index; a read
	// beforehand would cost every new report a lookup for the sake of the rare retry.
	pending := &pendingCharge{pc: pc, done: make(chan chargeReply, 1)}
	if err := s.enqueue(ctx, pending); err != nil {
		return res, false, err
	}
	reply := <-pending.done // once queued, the charger always answers
	if reply.err != nil {
		return ChargeResult{}, false, reply.err
	}
	if reply.out.duplicate {
		ev, err := s.db.Read().UsageByIdempotencyKey(ctx, pc.idemScope.String, rep.IdempotencyKey)
		if err != nil {
			return ChargeResult{}, false, err
		}
		if !sameReport(ev, pc) {
			// Answering with the first event would drop this usage without a word: a reused
			// key is the client's bug, and it must hear of it.
			return ChargeResult{}, false, &Error{Code: ECONFLICT, Field: "idempotencyKey",
				Message: fmt.Sprintf("idempotencyKey %q was already used for a different report (event %d): send a new key", rep.IdempotencyKey, ev.ID)}
		}
		res, err = s.replayResult(ctx, s.db.Read(), ev)
		return res, true, err
	}
	s.publish(reply.out)
	return reply.out.res, false, nil
}

// ChargeBatch charges many reports in one transaction through the same rules as ChargeUsage
// (the demo generator uses it to write history quickly). All or nothing.
func (s *Service) ChargeBatch(ctx context.Context, p Principal, reps []UsageReport) ([]ChargeResult, error) {
	pcs := make([]preparedCharge, len(reps))
	for i, rep := range reps {
		var err error
		if pcs[i], err = s.prepareCharge(ctx, p, rep); err != nil {
			return nil, fmt.Errorf("report %d: %w", i, err)
		}
	}
	out := make([]ChargeResult, len(reps))
	err := s.db.Update(ctx, func(c *db.Conn) error {
		g, err := s.newChargeGroup(ctx, c, s.clock.Now())
		if err != nil {
			return err
		}
		for i, pc := range pcs {
			o, err := g.charge(pc)
			if err != nil {
				return fmt.Errorf("report %d: %w", i, err)
			}
			out[i] = o.res
		}
		return g.flush()
	})
	return out, err
}

type chargeOutcome struct {
	res       ChargeResult
	duplicate bool // the idempotency key was taken: answer with the first result
	event     db.UsageEvent
	// The granters whose allowances paid a part: each one's granted view lists the event.
	granters []granterPart
	// Gateway steps.
	hold     GatewayHold
	refusal  error // a hold that does not fit: the request's answer, not the group's failure
	released int   // holds a sweep released
	// Members whose spending power a hold, settle, release or sweep changed: the member and
	// the payers of the hold's parts (granters, for allowance legs).
	notify []int64
}

func (s *Service) publish(o chargeOutcome) {
	if s.hub.empty() {
		return
	}
	if o.event.ID != 0 {
		it := s.usageItem(context.Background(), o.event)
		s.hub.publish(it, grantedItems(it, o.granters))
	}
	s.hub.notifyBalance(o.notify)
}

// addNotify adds the members a hold's parts touch to those told their balance changed.
func addNotify(ids []int64, parts []db.HoldPart) []int64 {
	for _, p := range parts {
		ids = appendOnce(appendOnce(ids, p.UserID), p.PayerID)
	}
	return ids
}

func appendOnce(ids []int64, id int64) []int64 {
	if id == 0 {
		return ids
	}
	for _, x := range ids {
		if x == id {
			return ids
		}
	}
	return append(ids, id)
}

func kindSplit(parts []Part, debt int64) db.KindSplit {
	k := db.KindSplit{Debt: debt}
	for _, p := range parts {
		switch p.Kind {
		case KindSubscription:
			k.Subscription += int64(p.Credits)
		case KindAddon:
			k.Addon += int64(p.Credits)
		case KindEvent:
			k.Event += int64(p.Credits)
		}
	}
	return k
}

func dailyDelta(e db.UsageEvent, requests, credits int64, split db.KindSplit) db.DailyDelta {
	return db.DailyDelta{UserID: e.UserID, Day: e.Day, AppID: e.AppID.Int64, Model: e.Model, Provider: e.Provider,
		UsageType: e.UsageType, Project: e.Project, Modality: e.Modality, DelegationID: e.DelegationID.Int64,
		Requests: requests, Credits: credits, Tokens: e.TotalTokens * requests, Kinds: split}
}

// sameReport tells a retry of the stored event from a different report under the same key:
// the member, what was done, with which model, the counts and the price as the client sent
// them (a cost, not the credits it came to, since the rate may have changed since).
func sameReport(e db.UsageEvent, pc preparedCharge) bool {
	rep := pc.rep
	price := e.CostUSD.String == rep.TotalCost
	if rep.Credits != nil {
		price = e.Credits == int64(*rep.Credits)
	}
	return price && e.UserID == pc.user.ID && e.Description == rep.Description && e.Model == rep.Model &&
		e.InputTokens == rep.InputTokens && e.OutputTokens == rep.OutputTokens && e.TotalTokens == rep.TotalTokens &&
		e.Charged == rep.ChargeUser && e.AppID.Int64 == pc.app.ID
}

// replayResult rebuilds the first reply to an idempotent report from what was stored.
func (s *Service) replayResult(ctx context.Context, c *db.Conn, e db.UsageEvent) (ChargeResult, error) {
	rows, err := c.LedgerForUsage(ctx, e.ID)
	if err != nil {
		return ChargeResult{}, err
	}
	sources, err := c.UsageSources(ctx, e.ID)
	if err != nil {
		return ChargeResult{}, err
	}
	source := map[int64]string{e.PayerID: sourceName(e.DelegationID)} // payer → the source they paid as
	for _, src := range sources {
		if _, ok := source[src.PayerID]; !ok {
			source[src.PayerID] = sourceName(sql.NullInt64{Int64: src.DelegationID, Valid: src.DelegationID != 0})
		}
	}
	source[e.UserID] = "personal"
	res := ChargeResult{ID: e.ID, BillingSource: sourceName(e.DelegationID), SourceNote: e.SourceNote, Parts: []Part{}, Debt: Credits(e.Debt)}
	if e.Charged {
		res.CreditsCharged = Credits(e.Credits)
	}
	own := false // a row moved the member's own balance
	for _, r := range rows {
		if r.Action == "usage" && r.BucketID.Valid {
			res.Parts = append(res.Parts, Part{BucketID: r.BucketID.Int64, Kind: r.Kind, Credits: Credits(-r.Amount), Source: source[r.UserID]})
		}
		if r.UserID == e.UserID && (r.Action == "usage" || (r.Action == "debt" && !r.BucketID.Valid && r.Amount < 0)) {
			res.BalanceAfter, own = Credits(r.BalanceAfter), true
		}
	}
	if own {
		return res, nil
	}
	if len(rows) > 0 || e.DelegationID.Valid {
		// Only allowances paid: the member's own balance as it was just before the charge.
		at, id := e.RecordedAt, int64(math.MaxInt64)
		if len(rows) > 0 {
			at, id = rows[0].At, rows[0].ID
		}
		b, err := c.BalanceBefore(ctx, e.UserID, at, id)
		res.BalanceAfter = Credits(b)
		return res, err
	}
	u, err := c.UserByID(ctx, e.UserID)
	if err != nil {
		return res, err
	}
	res.BalanceAfter = Credits(u.Balance)
	return res, nil
}
