package core

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"tokenjar/db"
)

// ChargeResult is the reply to a usage report.
type ChargeResult struct {
	ID             int64   `json:"id"`
	CreditsCharged Credits `json:"creditsCharged"`
	BillingSource  string  `json:"billingSource"`
	SourceNote     string  `json:"sourceNote,omitempty"`
	Parts          []Part  `json:"parts"`
	Debt           Credits `json:"debt"`
	BalanceAfter   Credits `json:"balanceAfter"`
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
		return s.appByRef(ctx, ref)
	}
	if p.Via == ViaAppKey {
		if ref == "" {
			return db.App{}, Invalid("aiAgentId", "aiAgentId is required with an app key: the id or slug of the app")
		}
		a, err := s.appByRef(ctx, ref)
		if err != nil || a.ID != p.AppID {
			return db.App{}, &Error{Code: EFORBIDDEN, Message: "aiAgentId does not name this key's app", Field: "aiAgentId"}
		}
		return a, nil
	}
	if ref == "" {
		return db.App{}, nil
	}
	a, err := s.appByRef(ctx, ref)
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
	r := s.db.Read()
	if p.Via != ViaAppKey && p.Via != ViaOperator {
		if (rep.UserID != 0 && rep.UserID != p.UserID) || (rep.UserEmail != "" && !strings.EqualFold(rep.UserEmail, p.Email)) {
			return db.User{}, &Error{Code: EFORBIDDEN, Message: "a personal token reports only its own member's usage", Field: "userId"}
		}
		return r.UserByID(ctx, p.UserID)
	}
	var u db.User
	var err error
	field := "userId"
	switch {
	case rep.UserID != 0:
		u, err = r.UserByID(ctx, rep.UserID)
	case rep.UserEmail != "":
		field = "userEmail"
		u, err = r.UserByEmail(ctx, rep.UserEmail)
	default:
		return u, Invalid("userId", "userId or userEmail is required with an app key")
	}
	if errors.Is(err, db.ErrNotFound) {
		return u, Invalid(field, "no member with this %s", map[string]string{"userId": "id", "userEmail": "email"}[field])
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
	if pc.idemScope.Valid {
		// Fast path for replays; the writer checks again, since two copies may race.
		if ev, err := s.db.Read().UsageByIdempotencyKey(ctx, pc.idemScope.String, rep.IdempotencyKey); err == nil {
			res, err = s.replayResult(ctx, s.db.Read(), ev)
			return res, true, err
		}
	}
	var out chargeOutcome
	err = s.db.Update(ctx, func(c *db.Conn) error {
		var err error
		out, err = s.chargeInTx(ctx, c, pc, s.clock.Now())
		return err
	})
	if err != nil {
		return ChargeResult{}, false, err
	}
	if !out.replay {
		s.publish(out)
	}
	return out.res, out.replay, nil
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
		now := s.clock.Now()
		for i, pc := range pcs {
			o, err := s.chargeInTx(ctx, c, pc, now)
			if err != nil {
				return fmt.Errorf("report %d: %w", i, err)
			}
			out[i] = o.res
		}
		return nil
	})
	return out, err
}

type chargeOutcome struct {
	res       ChargeResult
	replay    bool
	event     db.UsageEvent
	granterID int64
}

func (s *Service) publish(o chargeOutcome) {
	if s.hub.empty() {
		return
	}
	s.hub.publish(s.usageItem(context.Background(), o.event), o.granterID)
}

// chargeInTx writes one charge inside the writer's transaction.
func (s *Service) chargeInTx(ctx context.Context, c *db.Conn, pc preparedCharge, now time.Time) (chargeOutcome, error) {
	var out chargeOutcome
	rep := pc.rep
	if pc.idemScope.Valid {
		ev, err := c.UsageByIdempotencyKey(ctx, pc.idemScope.String, rep.IdempotencyKey)
		if err == nil {
			out.replay = true
			out.res, err = s.replayResult(ctx, c, ev)
			return out, err
		}
		if !errors.Is(err, db.ErrNotFound) {
			return out, err
		}
	}
	at := now
	if rep.Timestamp != nil {
		at = *rep.Timestamp
	}
	e := db.UsageEvent{
		UserID: pc.user.ID, PayerID: pc.user.ID, At: ms(at), Day: DayOf(at, pc.set.Location), RecordedAt: ms(now),
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

	var payer *wallet
	var live []db.Bucket
	var d deduction
	if rep.ChargeUser {
		choice, err := s.chooseSource(ctx, c, sourceRequest{userID: pc.user.ID, explicit: pc.explicit, bound: pc.bound,
			personal: rep.BillingSource == "personal", appID: pc.app.ID, model: rep.Model, amount: int64(pc.credits)}, now, pc.set)
		if err != nil {
			return out, err
		}
		payer, live = choice.payer, choice.live
		e.SourceNote = choice.note
		if choice.delegation != nil {
			e.DelegationID = sql.NullInt64{Int64: choice.delegation.ID, Valid: true}
			e.PayerID = choice.delegation.GranterID
			out.granterID = choice.delegation.GranterID
			if err := choice.spend(ctx, c, int64(pc.credits)); err != nil {
				return out, err
			}
		}
		d = planDeduction(live, int64(pc.credits))
		e.Debt = d.shortfall
	}
	id, err := c.InsertUsage(ctx, e)
	if err != nil {
		return out, err
	}
	e.ID = id
	out.res = ChargeResult{ID: id, BillingSource: sourceName(e.DelegationID), SourceNote: e.SourceNote, Parts: []Part{}}
	split := db.KindSplit{}
	var charged int64
	if rep.ChargeUser {
		if err := payer.applyDeduction(live, d, id); err != nil {
			return out, err
		}
		if err := payer.save(); err != nil {
			return out, err
		}
		charged = int64(pc.credits)
		out.res.CreditsCharged = pc.credits
		out.res.Parts = append(out.res.Parts, d.parts...)
		out.res.Debt = Credits(d.shortfall)
		out.res.BalanceAfter = Credits(payer.user.Balance)
		split = kindSplit(d.parts, d.shortfall)
	} else {
		u, err := c.UserByID(ctx, pc.user.ID)
		if err != nil {
			return out, err
		}
		out.res.BalanceAfter = Credits(u.Balance)
	}
	if err := c.AddDaily(ctx, dailyDelta(e, 1, charged, split)); err != nil {
		return out, err
	}
	out.event = e
	return out, nil
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

// replayResult rebuilds the first reply to an idempotent report from what was stored.
func (s *Service) replayResult(ctx context.Context, c *db.Conn, e db.UsageEvent) (ChargeResult, error) {
	rows, err := c.LedgerForUsage(ctx, e.ID)
	if err != nil {
		return ChargeResult{}, err
	}
	res := ChargeResult{ID: e.ID, BillingSource: sourceName(e.DelegationID), SourceNote: e.SourceNote, Parts: []Part{}, Debt: Credits(e.Debt)}
	if e.Charged {
		res.CreditsCharged = Credits(e.Credits)
	}
	for _, r := range rows {
		if r.Action == "usage" && r.BucketID.Valid {
			res.Parts = append(res.Parts, Part{BucketID: r.BucketID.Int64, Kind: r.Kind, Credits: Credits(-r.Amount)})
		}
		if r.Action == "usage" || (r.Action == "debt" && !r.BucketID.Valid && r.Amount < 0) {
			res.BalanceAfter = Credits(r.BalanceAfter)
		}
	}
	if len(rows) == 0 {
		u, err := c.UserByID(ctx, e.PayerID)
		if err != nil {
			return res, err
		}
		res.BalanceAfter = Credits(u.Balance)
	}
	return res, nil
}
