package core

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

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
func (s *Service) resolveApp(ctx context.Context, p Principal, ref string) (sql.NullInt64, error) {
	if p.Via == ViaAppKey {
		if ref == "" {
			return sql.NullInt64{}, Invalid("aiAgentId", "aiAgentId is required with an app key: the id or slug of the app")
		}
		a, err := s.appByRef(ctx, ref)
		if err != nil || a.ID != p.AppID {
			return sql.NullInt64{}, &Error{Code: EFORBIDDEN, Message: "aiAgentId does not name this key's app", Field: "aiAgentId"}
		}
		return sql.NullInt64{Int64: a.ID, Valid: true}, nil
	}
	if ref == "" {
		return sql.NullInt64{}, nil
	}
	a, err := s.appByRef(ctx, ref)
	if errors.Is(err, db.ErrNotFound) {
		return sql.NullInt64{}, Invalid("aiAgentId", "no registered app %q", ref)
	}
	if err != nil {
		return sql.NullInt64{}, err
	}
	return sql.NullInt64{Int64: a.ID, Valid: true}, nil
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
	if p.Via != ViaAppKey {
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

// ChargeUsage records a usage report and charges it: the event, its ledger rows, the bucket
// and allowance updates and the day's rollup commit together, durably, before it returns.
// replay is true when the idempotency key was seen before; nothing is charged then.
func (s *Service) ChargeUsage(ctx context.Context, p Principal, rep UsageReport) (res ChargeResult, replay bool, err error) {
	if p.Via != ViaAppKey && p.Via != ViaToken {
		return res, false, Errorf(EFORBIDDEN, "report usage with an app key or a personal token")
	}
	appID, err := s.resolveApp(ctx, p, rep.AIAgentID)
	if err != nil {
		return res, false, err
	}
	user, err := s.resolveUser(ctx, p, rep)
	if err != nil {
		return res, false, err
	}
	set := s.Settings()
	var credits Credits
	if rep.Credits != nil {
		credits = *rep.Credits
	} else {
		var ok bool
		if credits, ok = costToCredits(rep.TotalCost, set.MilliPerUSD); !ok {
			return res, false, Invalid("totalCost", "totalCost is too large")
		}
	}
	var explicit int64
	switch rep.BillingSource {
	case "", "personal":
	default:
		explicit, err = strconv.ParseInt(rep.BillingSource, 10, 64)
		if err != nil || explicit <= 0 {
			return res, false, Invalid("billingSource", `billingSource must be "personal" or a delegation id`)
		}
	}
	if explicit == 0 && rep.BillingSource == "" {
		explicit = p.BoundDelegation
	}

	var idemScope sql.NullString
	if rep.IdempotencyKey != "" {
		if p.Via == ViaAppKey {
			idemScope = sql.NullString{String: "app:" + strconv.FormatInt(p.AppID, 10), Valid: true}
		} else {
			idemScope = sql.NullString{String: "user:" + strconv.FormatInt(user.ID, 10), Valid: true}
		}
		// Fast path for replays; the writer checks again, since two copies may race.
		if ev, err := s.db.Read().UsageByIdempotencyKey(ctx, idemScope.String, rep.IdempotencyKey); err == nil {
			res, err = s.replayResult(ctx, s.db.Read(), ev)
			return res, true, err
		}
	}

	var item UsageItem
	var granterID int64
	err = s.db.Update(ctx, func(c *db.Conn) error {
		if idemScope.Valid {
			ev, err := c.UsageByIdempotencyKey(ctx, idemScope.String, rep.IdempotencyKey)
			if err == nil {
				replay = true
				res, err = s.replayResult(ctx, c, ev)
				return err
			}
			if !errors.Is(err, db.ErrNotFound) {
				return err
			}
		}
		now := s.clock.Now()
		at := now
		if rep.Timestamp != nil {
			at = *rep.Timestamp
		}
		e := db.UsageEvent{
			UserID: user.ID, PayerID: user.ID, AppID: appID, At: ms(at), Day: DayOf(at, set.Location), RecordedAt: ms(now),
			Description: rep.Description, ShortDescription: rep.ShortDescription, UsageType: rep.UsageType,
			Model: rep.Model, Provider: rep.Provider, Modality: rep.Modality,
			InputTokens: rep.InputTokens, OutputTokens: rep.OutputTokens, TotalTokens: rep.TotalTokens,
			Project: rep.Project, Credits: int64(credits), Charged: rep.ChargeUser,
			IdemScope: idemScope,
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
			choice, err := s.chooseSource(ctx, c, user.ID, explicit, int64(credits), now, set)
			if err != nil {
				return err
			}
			payer, live = choice.payer, choice.live
			e.SourceNote = choice.note
			if choice.delegation != nil {
				e.DelegationID = sql.NullInt64{Int64: choice.delegation.ID, Valid: true}
				e.PayerID = choice.delegation.GranterID
				granterID = choice.delegation.GranterID
				if err := c.SetDelegationUse(ctx, choice.delegation.ID, choice.periodKey, choice.used+int64(credits)); err != nil {
					return err
				}
			}
			d = planDeduction(live, int64(credits))
			e.Debt = d.shortfall
		}
		id, err := c.InsertUsage(ctx, e)
		if err != nil {
			return err
		}
		e.ID = id
		res = ChargeResult{ID: id, BillingSource: sourceName(e.DelegationID), SourceNote: e.SourceNote, Parts: []Part{}}
		split := db.KindSplit{}
		if rep.ChargeUser {
			if err := payer.applyDeduction(live, d, id); err != nil {
				return err
			}
			if err := payer.save(); err != nil {
				return err
			}
			res.CreditsCharged = credits
			res.Parts = append(res.Parts, d.parts...)
			res.Debt = Credits(d.shortfall)
			res.BalanceAfter = Credits(payer.user.Balance)
			split = kindSplit(d.parts, d.shortfall)
		} else {
			res.BalanceAfter = Credits(user.Balance)
		}
		charged := int64(0)
		if rep.ChargeUser {
			charged = int64(credits)
		}
		if err := c.AddDaily(ctx, dailyDelta(e, 1, charged, split)); err != nil {
			return err
		}
		e.UserName, e.UserEmail = user.Name, user.Email
		item = s.usageItem(ctx, e)
		return nil
	})
	if err != nil {
		return ChargeResult{}, false, err
	}
	if !replay {
		s.hub.publish(item, granterID)
	}
	return res, replay, nil
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
