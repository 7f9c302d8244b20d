package core

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// onePerToken prices every input and output token at 1 USD per million: at the default 1000
// credits per USD, one token costs exactly one millicredit, so the tests read in tokens.
var onePerToken = Price{Model: "m", Input: 1_000_000, Output: 1_000_000}

func tokenOf(id int64) Principal { return Principal{Via: ViaToken, UserID: id, Role: RoleMember} }

func gwCall(member int64, in, out int64) GatewayCall {
	return GatewayCall{MemberID: member, Model: "m", Provider: "fake", Price: onePerToken, MinOutputTokens: 10,
		Hold: HoldRequest{InputTokens: in, OutputTokens: out, CacheMarks: CacheMarksNone}, UsageType: "token_usage", Modality: "text"}
}

// msgOf is the message a coded error shows the caller.
func msgOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return ""
}

func gwUsage(in, out int64) GatewayUsage {
	return GatewayUsage{Usage: ModelUsage{InputTokens: in, OutputTokens: out}, ProcessingTimeMs: 5}
}

func (h *harness) hold(p Principal, call GatewayCall) GatewayHold {
	h.t.Helper()
	g, err := h.svc.HoldGatewayCall(h.ctx, p, call)
	if err != nil {
		h.t.Fatal(err)
	}
	return g
}

func (h *harness) settle(g GatewayHold, call GatewayCall, u GatewayUsage) ChargeResult {
	h.t.Helper()
	res, err := h.svc.SettleGatewayCall(h.ctx, g, call, u)
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

// Proves: a hold that fits is set aside (reserved, and out of available) and settling it
// charges the actual cost, below, at or above the hold: above it, the excess is charged as
// usage, may become debt, and is flagged overHold. The event keeps the metering and the prices.
// Not: HTTP, streaming (the gateway handlers' tests).
func TestSettleChargesTheActualCost(t *testing.T) {
	cases := []struct {
		name               string
		own                Credits
		in, out            int64 // actual usage
		wantTotal          Credits
		wantDebt           Credits
		wantOver           bool
		wantCharged        Credits
		wantReservedDuring Credits
	}{
		{"below the hold", 100_000, 1000, 2000, 97_000, 0, false, 3000, 5000},
		{"at the hold", 100_000, 1000, 4000, 95_000, 0, false, 5000, 5000},
		{"above the hold, credits cover it", 100_000, 1000, 6000, 93_000, 0, true, 7000, 5000},
		{"above the hold, beyond the credits", 5000, 1000, 6000, -2000, 2000, true, 7000, 5000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, at("2026-11-10T12:00:00Z"))
			kid := h.member("kid")
			h.grant(kid, KindAddon, tc.own, nil)
			call := gwCall(kid, 1000, 4000)
			g := h.hold(tokenOf(kid), call)
			if g.Credits != 5000 || g.OutputTokens != 4000 || g.Lowered {
				t.Fatalf("hold: %+v", g)
			}
			if b := h.balance(kid); b.Reserved != tc.wantReservedDuring || b.Available != tc.own-5000 {
				t.Fatalf("during: reserved %s available %s", b.Reserved, b.Available)
			}
			u := gwUsage(tc.in, tc.out)
			u.Usage.CachedInputTokens, u.Usage.ReasoningTokens = 100, 50
			res := h.settle(g, call, u)
			if res.CreditsCharged != tc.wantCharged || res.Debt != tc.wantDebt || res.BillingSource != "personal" {
				t.Fatalf("settle: %+v", res)
			}
			b := h.balance(kid)
			if b.Total != tc.wantTotal || b.Reserved != 0 || b.Debt != tc.wantDebt {
				t.Fatalf("after: %+v", b)
			}
			page, err := h.svc.ListUsage(h.ctx, tokenOf(kid), UsageQuery{}, false)
			if err != nil || len(page.Items) != 1 {
				t.Fatalf("events: %+v %v", page, err)
			}
			it := page.Items[0]
			if it.OverHold != tc.wantOver || it.AppSlug != "gateway" || it.Model != "m" || it.Provider != "fake" || it.InputTokens != tc.in ||
				it.TotalTokens != tc.in+tc.out || it.CachedInputTokens != 100 || it.ReasoningTokens != 50 || it.Prices == nil ||
				it.Prices.Input != 1_000_000 || it.Prices.Output != 1_000_000 || it.Estimated {
				t.Fatalf("event: %+v prices %+v", it, it.Prices)
			}
			h.checkInvariant()
		})
	}
}

// Proves: a hold that does not fit lowers the output cap to what fits when that leaves at
// least MinOutputTokens, and otherwise is refused with EPAYMENT saying the member's own credits
// are used up; a refused request holds nothing. Not: the allowance wording (next test).
func TestHoldLowersTheOutputCapOrRefuses(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	kid := h.member("kid")
	h.grant(kid, KindAddon, 3000, nil)
	g := h.hold(tokenOf(kid), gwCall(kid, 1000, 4000))
	if !g.Lowered || g.OutputTokens != 2000 || g.Credits != 3000 {
		t.Fatalf("lowered: %+v", g)
	}
	_, err := h.svc.HoldGatewayCall(h.ctx, tokenOf(kid), gwCall(kid, 10, 100))
	if ErrorCode(err) != EPAYMENT || msgOf(err) != "Your own credits are used up." {
		t.Fatalf("refusal: %v", err)
	}
	if err := h.svc.ReleaseGatewayCall(h.ctx, g); err != nil {
		t.Fatal(err)
	}
	// 3000 free again: 2995 output would fit, but the request needs at least 10 more than that.
	call := gwCall(kid, 5, 5000)
	call.MinOutputTokens = 2996
	if _, err := h.svc.HoldGatewayCall(h.ctx, tokenOf(kid), call); ErrorCode(err) != EPAYMENT {
		t.Fatalf("below the useful minimum: %v", err)
	}
	if b := h.balance(kid); b.Reserved != 0 || b.Available != 3000 {
		t.Fatalf("a refusal held something: %+v", b)
	}
}

// Proves: the refusal names the allowance by its note and granter and says when it refills, in
// the instance's time zone; and a token bound to an allowance holds only on that allowance,
// never on the member's own credits. Not: week and month wording beyond whenText's own cases.
func TestHoldOnAnAllowance(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	mum, kid := h.member("Mum"), h.member("kid")
	h.grant(mum, KindAddon, 100_000, nil)
	d := h.delegate(mum, kid, 3000, "day", func(nd *NewDelegation) { nd.Note = "Homework" })

	_, err := h.svc.HoldGatewayCall(h.ctx, tokenOf(kid), gwCall(kid, 5000, 100))
	want := "Your Homework allowance from Mum has only 3 credits left until tomorrow 00:00, and your own credits are used up. That is not enough for this request."
	if ErrorCode(err) != EPAYMENT || msgOf(err) != want {
		t.Fatalf("refusal: %v", err)
	}

	h.grant(kid, KindAddon, 100_000, nil)
	bound := gwCall(kid, 1000, 4000)
	bound.Delegation = d
	g := h.hold(tokenOf(kid), bound)
	if !g.Lowered || g.Credits != 3000 || g.OutputTokens != 2000 {
		t.Fatalf("bound hold: %+v", g)
	}
	if _, err := h.svc.HoldGatewayCall(h.ctx, tokenOf(kid), bound); ErrorCode(err) != EPAYMENT ||
		msgOf(err) != "Your Homework allowance from Mum is used up until tomorrow 00:00." {
		t.Fatalf("bound refusal: %v", err)
	}
	// The usual order: the allowance is all held, so the member's own credits take it.
	free := h.hold(tokenOf(kid), gwCall(kid, 100, 100))
	if free.Lowered || free.Credits != 200 {
		t.Fatalf("own credits: %+v", free)
	}
	res := h.settle(g, bound, gwUsage(1000, 1500))
	if res.BillingSource != src(d) || res.CreditsCharged != 2500 || h.balance(mum).Total != 97_500 {
		t.Fatalf("settle on the allowance: %+v", res)
	}
	if err := h.svc.ReleaseGatewayCall(h.ctx, free); err != nil {
		t.Fatal(err)
	}
	if b := h.balance(kid); b.Total != 100_000 || b.Reserved != 0 || b.Available != 100_500 {
		t.Fatalf("after: %+v", b)
	}
	h.checkInvariant()
}

// Proves: releasing a hold charges nothing and frees what it held; a free provider holds and
// charges nothing but still records its tokens. Not: the HTTP layer's choice of when to release.
func TestReleaseAndFreeCalls(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	kid := h.member("kid")
	h.grant(kid, KindAddon, 10_000, nil)
	g := h.hold(tokenOf(kid), gwCall(kid, 1000, 1000))
	if b := h.balance(kid); b.Reserved != 2000 || b.Available != 8000 {
		t.Fatalf("held: %+v", b)
	}
	if err := h.svc.ReleaseGatewayCall(h.ctx, g); err != nil {
		t.Fatal(err)
	}
	if b := h.balance(kid); b.Reserved != 0 || b.Available != 10_000 || b.Total != 10_000 {
		t.Fatalf("released: %+v", b)
	}
	free := gwCall(kid, 1_000_000, 1_000_000)
	free.Free = true
	fg := h.hold(tokenOf(kid), free)
	if fg.ID != 0 || fg.Credits != 0 {
		t.Fatalf("free hold: %+v", fg)
	}
	res := h.settle(fg, free, gwUsage(500, 700))
	if res.CreditsCharged != 0 || h.balance(kid).Total != 10_000 {
		t.Fatalf("free settle: %+v", res)
	}
	page, _ := h.svc.ListUsage(h.ctx, tokenOf(kid), UsageQuery{}, false)
	if len(page.Items) != 1 || page.Items[0].TotalTokens != 1200 || page.Items[0].Prices != nil {
		t.Fatalf("free event: %+v", page.Items)
	}
	h.checkInvariant()
}

// Proves: holds never stick. A restarted server (StartHolds on a new service over the same data)
// drops every hold on SQLite (on PostgreSQL the sweeper drops it once expired), so a crash mid-request charges nothing for that request, while merely opening
// the service (a command-line tool beside the server) keeps them; and the sweeper's pass
// drops holds past their expiry. Not: the sweeper's ticker (real time), only what it calls.
func TestHoldsNeverStick(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	kid := h.member("kid")
	h.grant(kid, KindAddon, 10_000, nil)
	h.hold(tokenOf(kid), gwCall(kid, 1000, 1000))
	h.svc.Close()
	svc, err := New(h.ctx, h.db, h.clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	// A tool opening the database beside the server leaves the holds alone; the server drops them.
	if ps, err := h.db.Read().HoldParts(h.ctx); err != nil || len(ps) != 1 {
		t.Fatalf("holds after New: %v %v", ps, err)
	}
	if err := svc.StartHolds(h.ctx); err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	if svc.Replicated() { // PostgreSQL keeps a hold another replica may still settle, until it expires
		h.clock.Advance(holdTTL + time.Second)
		if n, err := svc.ReleaseExpiredHolds(h.ctx); err != nil || n != 1 {
			t.Fatalf("sweep of the crashed process's hold: %d %v", n, err)
		}
	}
	if b := h.balance(kid); b.Reserved != 0 || b.Available != 10_000 || b.Total != 10_000 {
		t.Fatalf("after restart: %+v", b)
	}
	h.hold(tokenOf(kid), gwCall(kid, 1000, 1000))
	if n, err := svc.ReleaseExpiredHolds(h.ctx); err != nil || n != 0 {
		t.Fatalf("swept a live hold: %d %v", n, err)
	}
	h.clock.Advance(holdTTL + time.Second)
	if n, err := svc.ReleaseExpiredHolds(h.ctx); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	if b := h.balance(kid); b.Reserved != 0 || b.Available != 10_000 {
		t.Fatalf("after the sweep: %+v", b)
	}
	h.checkInvariant()
}

// Proves: a personal token spends only its own member's credits, and a bound allowance must be
// the member's. Not: app keys naming members (the handlers resolve MemberID).
func TestHoldChecksTheCaller(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	mum, kid := h.member("mum"), h.member("kid")
	h.grant(mum, KindAddon, 10_000, nil)
	if _, err := h.svc.HoldGatewayCall(h.ctx, tokenOf(kid), gwCall(mum, 10, 10)); ErrorCode(err) != EFORBIDDEN {
		t.Fatalf("someone else's credits: %v", err)
	}
	d := h.delegate(mum, kid, 100, "day")
	call := gwCall(mum, 10, 10)
	call.Delegation = d
	if _, err := h.svc.HoldGatewayCall(h.ctx, tokenOf(mum), call); ErrorCode(err) != EFORBIDDEN ||
		!strings.Contains(err.Error(), "allowance") {
		t.Fatalf("someone else's allowance: %v", err)
	}
}

// Proves: reports respect holds. A report that arrives while a gateway request holds the
// member's credits (or an allowance) takes only what is free; the rest of the report is debt,
// and the gateway request still settles in full without debt. Not: the order of arrival over HTTP.
func TestReportsDoNotTakeHeldCredits(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	mum, kid := h.member("mum"), h.member("kid")
	h.grant(mum, KindAddon, 100_000, nil)
	h.grant(kid, KindAddon, 5000, nil)
	d := h.delegate(mum, kid, 2000, "day")
	call := gwCall(kid, 1000, 6000) // 7000: the whole allowance and the whole wallet
	g := h.hold(tokenOf(kid), call)
	if g.Credits != 7000 || g.Lowered {
		t.Fatalf("hold: %+v", g)
	}
	res := h.charge(kid, 300)
	if res.Debt != 300 || len(res.Parts) != 0 || res.BillingSource != "personal" {
		t.Fatalf("report during the hold: %+v", res)
	}
	set := h.settle(g, call, gwUsage(1000, 6000))
	if set.Debt != 0 || set.BillingSource != src(d) || set.CreditsCharged != 7000 {
		t.Fatalf("settle: %+v", set)
	}
	if b := h.balance(kid); b.Total != -300 || b.Debt != 300 || h.balance(mum).Total != 98_000 {
		t.Fatalf("after: kid %+v mum %s", b, h.balance(mum).Total)
	}
	h.checkInvariant()
}

// Proves: an allowance restricted to an app holds and pays alike for a personal token's gateway
// requests, which are recorded under the app "gateway". Not: app keys (their own app id).
func TestHoldUsesTheGatewayApp(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	mum, kid := h.member("mum"), h.member("kid")
	h.grant(mum, KindAddon, 10_000, nil)
	if _, err := h.svc.gatewayApp(h.ctx, 0); err != nil { // made on first use; here, first
		t.Fatal(err)
	}
	d := h.delegate(mum, kid, 5000, "day", func(nd *NewDelegation) { nd.Apps = []string{"gateway"} })
	call := gwCall(kid, 100, 100)
	g := h.hold(tokenOf(kid), call)
	if g.Credits != 200 {
		t.Fatalf("hold: %+v", g)
	}
	if res := h.settle(g, call, gwUsage(100, 50)); res.BillingSource != src(d) || res.Debt != 0 {
		t.Fatalf("settle: %+v", res)
	}
}

// Proves: the refill time reads as people say it, in the instance's time zone; and a refusal
// when the granter has nothing left says so instead of blaming the allowance. Not: translation.
func TestRefusalWording(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	now := at("2026-11-10T12:00:00Z") // a Tuesday, 13:00 in Berlin
	for _, c := range []struct {
		t    string
		want string
	}{
		{"2026-11-10T17:00:00Z", "today 18:00"},
		{"2026-11-10T23:00:00Z", "tomorrow 00:00"},
		{"2026-11-15T23:00:00Z", "Monday 00:00"},
		{"2026-11-30T23:00:00Z", "Dec 1 00:00"},
	} {
		if got := whenText(at(c.t), now, loc); got != c.want {
			t.Errorf("whenText(%s) = %q, want %q", c.t, got, c.want)
		}
	}
	h := newHarness(t, now)
	mum, kid := h.member("Mum"), h.member("kid")
	h.delegate(mum, kid, 5000, "week", func(nd *NewDelegation) { nd.Note = "Homework" })
	_, err = h.svc.HoldGatewayCall(h.ctx, tokenOf(kid), gwCall(kid, 10, 100))
	if want := "Mum has no credits left for your Homework allowance, and your own credits are used up."; msgOf(err) != want {
		t.Fatalf("granter out: %q", msgOf(err))
	}
}
