package core

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"tokenjar/db"
)

// The gateway's side of the billing contract (gateway_billing.go): hold, then settle or
// release. Every step is a turn at the charger, so holds and charges are weighed one at a time.

// gatewayAppSlug is the app of gateway requests made with a personal token.
const gatewayAppSlug = "gateway"

// gatewayMember is the member a gateway call bills, checked against the caller.
func (s *Service) gatewayMember(ctx context.Context, p Principal, call GatewayCall) (db.User, error) {
	if p.Via == ViaToken && call.MemberID != p.UserID {
		return db.User{}, Errorf(EFORBIDDEN, "a personal token uses only its own member's credits")
	}
	if p.Via != ViaToken && p.Via != ViaAppKey && p.Via != ViaOperator {
		return db.User{}, Errorf(EFORBIDDEN, "use the gateway with an app key or a personal token")
	}
	u, err := s.cachedUser(ctx, call.MemberID, "")
	if errors.Is(err, db.ErrNotFound) {
		return u, Errorf(EFORBIDDEN, "no such member")
	}
	if err == nil && u.Disabled {
		return u, Errorf(EFORBIDDEN, "this member is disabled")
	}
	if err == nil && call.Delegation != 0 {
		d, derr := s.db.Read().DelegationByID(ctx, call.Delegation)
		if derr != nil || d.GranteeID != u.ID {
			return u, Errorf(EFORBIDDEN, "this key's allowance does not belong to this member")
		}
	}
	return u, err
}

// HoldGatewayCall sets aside the worst-case cost of a request before it is forwarded, on the
// member's sources in the order of SPEC section 5 (only call.Delegation when it is set), less
// what other requests hold. When it does not fit, the output cap is lowered to what fits if that
// leaves at least call.MinOutputTokens, else the answer is EPAYMENT with a message that names
// what ran out and when it refills. A free call holds nothing (GatewayHold.ID 0).
func (s *Service) HoldGatewayCall(ctx context.Context, p Principal, call GatewayCall) (GatewayHold, error) {
	u, err := s.gatewayMember(ctx, p, call)
	if err != nil {
		return GatewayHold{}, err
	}
	set := s.Settings()
	if call.Free {
		return GatewayHold{MemberID: u.ID, OutputTokens: call.Hold.OutputTokens}, nil
	}
	// The app the event will be recorded under, so an allowance for certain apps holds as it
	// will pay.
	app, err := s.gatewayApp(ctx, call.AppID)
	if err != nil {
		return GatewayHold{}, err
	}
	call.AppID = app.ID
	reply, err := s.turn(ctx, &gatewayOp{kind: opHold, user: u, call: call, set: set}, preparedCharge{})
	if err != nil {
		return GatewayHold{}, err
	}
	if reply.refusal != nil {
		return GatewayHold{}, reply.refusal
	}
	s.publish(reply)
	return reply.hold, nil
}

// SettleGatewayCall turns a hold into the request's actual charge, in one transaction: the
// hold is dropped and the cost of u charged as a usage event (events, ledger rows, sources,
// rollups and live updates as a report's). A cost within the hold is paid by the sources it
// held; what the provider reported beyond the hold is charged as ordinary usage (it may become
// debt) and flagged overHold on the event.
func (s *Service) SettleGatewayCall(ctx context.Context, h GatewayHold, call GatewayCall, u GatewayUsage) (ChargeResult, error) {
	pc, err := s.prepareGatewayCharge(ctx, h, call, u)
	if err != nil {
		return ChargeResult{}, err
	}
	// The hold is released whether or not the caller still waits: settle in the background of
	// a cancelled request too.
	reply, err := s.turn(context.WithoutCancel(ctx), &gatewayOp{kind: opSettle, holdID: h.ID}, pc)
	if err != nil {
		return ChargeResult{}, err
	}
	s.publish(reply)
	return reply.res, nil
}

// ReleaseGatewayCall drops a hold and charges nothing (the provider failed before answering).
func (s *Service) ReleaseGatewayCall(ctx context.Context, h GatewayHold) error {
	if h.ID == 0 {
		return nil
	}
	reply, err := s.turn(context.WithoutCancel(ctx), &gatewayOp{kind: opRelease, holdID: h.ID}, preparedCharge{})
	if err == nil {
		s.publish(reply)
	}
	return err
}

// ReleaseExpiredHolds drops the holds whose expiry has passed (the sweeper calls it); how many.
func (s *Service) ReleaseExpiredHolds(ctx context.Context) (int, error) {
	reply, err := s.turn(ctx, &gatewayOp{kind: opSweep}, preparedCharge{})
	if err == nil {
		s.publish(reply)
	}
	return reply.released, err
}

// turn queues one gateway step at the charger and waits for its answer.
func (s *Service) turn(ctx context.Context, op *gatewayOp, pc preparedCharge) (chargeOutcome, error) {
	pending := &pendingCharge{pc: pc, gw: op, done: make(chan chargeReply, 1)}
	if err := s.enqueue(ctx, pending); err != nil {
		return chargeOutcome{}, err
	}
	reply := <-pending.done // once queued, the charger always answers
	return reply.out, reply.err
}

// prepareGatewayCharge is the usage report of a finished gateway request.
func (s *Service) prepareGatewayCharge(ctx context.Context, h GatewayHold, call GatewayCall, u GatewayUsage) (preparedCharge, error) {
	pc := preparedCharge{set: s.Settings(), explicit: call.Delegation, bound: call.Delegation != 0, mode: modeSettle, held: h.Credits}
	var err error
	if pc.user, err = s.cachedUser(ctx, call.MemberID, ""); err != nil {
		return pc, err
	}
	if pc.app, err = s.gatewayApp(ctx, call.AppID); err != nil {
		return pc, err
	}
	use := u.Usage
	if !call.Free {
		var ok bool
		if pc.credits, ok = call.Price.Credits(use, pc.set.MilliPerUSD); !ok {
			return pc, Errorf(EINTERNAL, "the reported usage is too large to charge")
		}
	}
	pc.meter = gatewayMeter(call, u)
	usageType := call.UsageType
	if usageType == "" {
		usageType = "token_usage"
	}
	pt := max(u.ProcessingTimeMs, 0)
	in, out := max(use.InputTokens, 0), max(use.OutputTokens, 0)
	pc.rep = UsageReport{Description: "AI gateway: " + call.Model, UsageType: usageType, Model: call.Model,
		Provider: call.Provider, Modality: call.Modality, InputTokens: in, OutputTokens: out, TotalTokens: in + out,
		ProcessingTimeMs: &pt, ChargeUser: true}
	if call.Delegation != 0 {
		pc.rep.BillingSource = sourceName(sql.NullInt64{Int64: call.Delegation, Valid: true})
	}
	return pc, nil
}

// gatewayMeter is what the event keeps of a gateway request: its metering and the prices.
func gatewayMeter(call GatewayCall, u GatewayUsage) *db.GatewayMeter {
	use := u.Usage
	m := &db.GatewayMeter{CachedInputTokens: max(use.CachedInputTokens, 0), CacheWriteTokens: max(use.CacheWriteTokens, 0),
		ReasoningTokens: max(use.ReasoningTokens, 0), Estimated: u.Estimated}
	if call.Free {
		return m
	}
	r := call.Price.rates(use.InputTokens)
	m.PriceInput = sql.NullInt64{Int64: int64(r.Input), Valid: true}
	m.PriceOutput = sql.NullInt64{Int64: int64(r.Output), Valid: true}
	m.PriceCached = sql.NullInt64{Int64: int64(r.cached()), Valid: true}
	m.PriceCacheWrite = sql.NullInt64{Int64: int64(r.cacheWrite()), Valid: true}
	if use.Images > 0 {
		m.PricePerImage = sql.NullInt64{Int64: int64(call.Price.imagePrice(use.ImageSize, use.ImageQuality)), Valid: true}
	}
	return m
}

// gatewayApp is the app a gateway event is recorded under: the key's app, or "gateway" for a
// personal token, made on first use.
func (s *Service) gatewayApp(ctx context.Context, appID int64) (db.App, error) {
	if appID != 0 {
		return s.db.Read().AppByID(ctx, appID)
	}
	a, err := s.cachedApp(ctx, gatewayAppSlug)
	if !errors.Is(err, db.ErrNotFound) {
		return a, err
	}
	err = s.db.Update(ctx, func(c *db.Conn) error {
		return c.EnsureApp(ctx, db.App{Slug: gatewayAppSlug, Name: "AI gateway", CreatedAt: ms(s.clock.Now())})
	})
	if err != nil {
		return a, err
	}
	return s.cachedApp(ctx, gatewayAppSlug)
}

// runHoldSweeper releases expired holds every minute until stop is closed.
func (s *Service) runHoldSweeper(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if n, err := s.ReleaseExpiredHolds(context.Background()); err != nil {
				s.log.Error("releasing expired holds", "err", err)
			} else if n > 0 {
				s.log.Info("released expired holds", "holds", n)
			}
		}
	}
}
