package core

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func granterOf(id int64) Principal { return Principal{Via: ViaToken, UserID: id, Role: RoleMember} }

func (h *harness) delegate(granter, grantee int64, credits Credits, period string, opts ...func(*NewDelegation)) int64 {
	h.t.Helper()
	nd := NewDelegation{GranteeID: grantee, Credits: credits, Period: period}
	for _, o := range opts {
		o(&nd)
	}
	d, err := h.svc.CreateDelegation(h.ctx, granterOf(granter), nd)
	if err != nil {
		h.t.Fatal(err)
	}
	return d.ID
}

func (h *harness) chargeWith(user int64, credits Credits, mod func(*UsageReport)) ChargeResult {
	h.t.Helper()
	rep := UsageReport{AIAgentID: "test-app", UserID: user, Description: "test", UsageType: "api_call", Credits: &credits, ChargeUser: true}
	if mod != nil {
		mod(&rep)
	}
	res, _, err := h.svc.ChargeUsage(h.ctx, h.app, rep)
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

func src(id int64) string { return strconv.FormatInt(id, 10) }

func TestDelegationResolutionOrder(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	mum, dad, kid := h.member("mum"), h.member("dad"), h.member("kid")
	h.grant(mum, KindAddon, 10_000, nil)
	h.grant(dad, KindAddon, 10_000, nil)
	h.grant(kid, KindAddon, 10_000, nil)
	older := h.delegate(mum, kid, 1000, "day")
	newer := h.delegate(dad, kid, 1000, "day")

	// No billingSource: the oldest active delegation with allowance left pays, from the granter.
	res := h.charge(kid, 600)
	if res.BillingSource != src(older) || h.balance(mum).Total != 9400 || h.balance(kid).Total != 10_000 {
		t.Fatalf("first charge: %+v mum %d kid %d", res, h.balance(mum).Total, h.balance(kid).Total)
	}
	// The older allowance has 400 left: a 500 charge is split (SPEC 5): the older pays its 400,
	// the next allowance the other 100. (Before split charges the newer paid all 500.)
	res = h.charge(kid, 500)
	if res.BillingSource != src(older) || len(res.Parts) != 2 || res.Parts[0].Credits != 400 || res.Parts[0].Source != src(older) ||
		res.Parts[1].Credits != 100 || res.Parts[1].Source != src(newer) || h.balance(mum).Total != 9000 || h.balance(dad).Total != 9900 {
		t.Fatalf("second charge: %+v", res)
	}
	// Explicit billingSource wins over the order.
	if res := h.chargeWith(kid, 100, func(r *UsageReport) { r.BillingSource = src(newer) }); res.BillingSource != src(newer) {
		t.Fatalf("explicit source: %+v", res)
	}
	// "personal" skips delegations.
	if res := h.chargeWith(kid, 100, func(r *UsageReport) { r.BillingSource = "personal" }); res.BillingSource != "personal" || h.balance(kid).Total != 9900 {
		t.Fatalf("personal: %+v", res)
	}
	// The older allowance is spent and the newer has 800 left: it pays 800 of 1000, the member's
	// own credits the rest, and the event says why.
	res = h.charge(kid, 1000)
	if res.BillingSource != src(newer) || !strings.Contains(res.SourceNote, "allowance for this period is spent") ||
		h.balance(dad).Total != 9000 || h.balance(kid).Total != 9700 {
		t.Fatalf("fall-through: %+v", res)
	}
	// Both spent: personal, whole.
	if res := h.charge(kid, 50); res.BillingSource != "personal" || h.balance(kid).Total != 9650 {
		t.Fatalf("both spent: %+v", res)
	}
	// Someone else's delegation is a bad request, not a silent fallback.
	other := h.member("other")
	if _, _, err := h.svc.ChargeUsage(h.ctx, h.app, UsageReport{AIAgentID: "test-app", UserID: other, Description: "x", UsageType: "api_call",
		Credits: ptr(Credits(1)), ChargeUser: true, BillingSource: src(older)}); ErrorCode(err) != EINVALID {
		t.Fatalf("foreign delegation: %v", err)
	}
	h.checkInvariant()
}

func TestDelegationNeverPushesTheGranterIntoDebt(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	mum, kid := h.member("mum"), h.member("kid")
	h.grant(mum, KindAddon, 300, nil)
	h.delegate(mum, kid, 5000, "week")
	// The allowance pays what the granter's live credits cover (300), never more; the rest is the
	// grantee's (here debt, having no credits). Before split charges the grantee paid all 400.
	res := h.charge(kid, 400)
	if res.BillingSource != "1" || res.Debt != 100 || !strings.Contains(res.SourceNote, "granter's credits") {
		t.Fatalf("charge beyond the granter's credits: %+v", res)
	}
	if b := h.balance(mum); b.Total != 0 || b.Debt != 0 {
		t.Fatalf("granter touched: %+v", b)
	}
	h.checkInvariant()
}

func TestDelegationDrawsTheGranterInTheGranterOrder(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	mum, kid := h.member("mum"), h.member("kid")
	addon := h.grant(mum, KindAddon, 1000, nil)
	promo := h.grant(mum, KindEvent, 200, ptr(at("2026-11-20T00:00:00Z")))
	h.grant(kid, KindEvent, 500, ptr(at("2026-11-20T00:00:00Z"))) // the kid's own: untouched
	h.delegate(mum, kid, 1000, "month")
	res := h.charge(kid, 300)
	if len(res.Parts) != 2 || res.Parts[0].BucketID != promo || res.Parts[1].BucketID != addon || res.Parts[1].Credits != 100 {
		t.Fatalf("parts: %+v", res.Parts)
	}
	if h.balance(kid).Total != 500 {
		t.Fatal("the grantee's buckets were drawn")
	}
	h.checkInvariant()
}

func TestAllowancePeriodsResetAtLocalBoundaries(t *testing.T) {
	h := newHarness(t, at("2026-10-20T10:00:00Z"))
	tz := "Europe/Berlin"
	if _, err := h.svc.UpdateSettings(h.ctx, h.owner, SettingsUpdate{TimeZone: &tz}); err != nil {
		t.Fatal(err)
	}
	mum, kid := h.member("mum"), h.member("kid")
	h.grant(mum, KindAddon, 1_000_000, nil)
	day := h.delegate(mum, kid, 100, "day")
	week := h.delegate(mum, kid, 100, "week")
	month := h.delegate(mum, kid, 100, "month")
	charge := func(when string, from int64) {
		t.Helper()
		h.clock.Set(at(when))
		res := h.chargeWith(kid, 100, func(r *UsageReport) { r.BillingSource = src(from) })
		if res.BillingSource != src(from) {
			t.Fatalf("%s: allowance %d did not reset: %+v", when, from, res)
		}
	}
	spent := func(when string, from int64) {
		t.Helper()
		h.clock.Set(at(when))
		if res := h.chargeWith(kid, 1, func(r *UsageReport) { r.BillingSource = src(from) }); res.BillingSource != "personal" {
			t.Fatalf("%s: allowance %d should be spent: %+v", when, from, res)
		}
	}
	// Day: 23:30 and 00:30 Berlin time on the night the clocks go back (25 October, CEST→CET).
	charge("2026-10-24T21:30:00Z", day) // 23:30 CEST, 24 Oct
	spent("2026-10-24T21:50:00Z", day)
	charge("2026-10-24T22:30:00Z", day) // 00:30 CEST, 25 Oct: a new day, while UTC is still the 24th
	charge("2026-10-25T23:30:00Z", day) // 00:30 CET, 26 Oct, after the change
	// Week: Sunday 23:30 local and Monday 00:10 local are different weeks; both are Sunday in UTC.
	charge("2026-10-25T22:30:00Z", week) // Sunday 25 Oct, 23:30 CET
	spent("2026-10-25T22:40:00Z", week)
	charge("2026-10-25T23:10:00Z", week) // Monday 26 Oct, 00:10 CET
	// Month: 31 October 23:30 vs 1 November 00:30 local.
	charge("2026-10-31T22:30:00Z", month)
	spent("2026-10-31T22:40:00Z", month)
	charge("2026-10-31T23:30:00Z", month)
	h.checkInvariant()
}

func TestEndedPausedRevokedAndScheduledDelegationsDoNotPay(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	mum, kid := h.member("mum"), h.member("kid")
	h.grant(mum, KindAddon, 10_000, nil)
	ends := h.delegate(mum, kid, 1000, "once", func(n *NewDelegation) { n.EndsAt = ptr(at("2026-11-11T00:00:00Z")) })
	if res := h.charge(kid, 10); res.BillingSource != src(ends) {
		t.Fatalf("before its end: %+v", res)
	}
	h.clock.Set(at("2026-11-11T00:00:00Z"))
	if res := h.charge(kid, 10); res.BillingSource != "personal" || res.SourceNote != "" {
		t.Fatalf("after its end (quietly personal): %+v", res)
	}
	p := h.delegate(mum, kid, 1000, "day")
	paused := "paused"
	if _, err := h.svc.EditDelegation(h.ctx, granterOf(mum), p, DelegationEdit{Status: &paused}); err != nil {
		t.Fatal(err)
	}
	if res := h.charge(kid, 10); res.BillingSource != "personal" || !strings.Contains(res.SourceNote, "paused") {
		t.Fatalf("paused (personal, and the grantee is told why): %+v", res)
	}
	active := "active"
	if _, err := h.svc.EditDelegation(h.ctx, granterOf(mum), p, DelegationEdit{Status: &active}); err != nil {
		t.Fatal(err)
	}
	if res := h.charge(kid, 10); res.BillingSource != src(p) {
		t.Fatalf("resumed: %+v", res)
	}
	if err := h.svc.RevokeDelegation(h.ctx, granterOf(kid), p); ErrorCode(err) != EFORBIDDEN {
		t.Fatalf("the grantee revoked: %v", err)
	}
	if err := h.svc.RevokeDelegation(h.ctx, granterOf(mum), p); err != nil {
		t.Fatal(err)
	}
	if res := h.charge(kid, 10); res.BillingSource != "personal" {
		t.Fatalf("revoked: %+v", res)
	}
	later := h.delegate(mum, kid, 1000, "day", func(n *NewDelegation) { n.StartsAt = ptr(at("2026-11-12T00:00:00Z")) })
	if res := h.charge(kid, 10); res.BillingSource != "personal" {
		t.Fatalf("before its start: %+v", res)
	}
	h.clock.Set(at("2026-11-12T00:00:00Z"))
	if res := h.charge(kid, 10); res.BillingSource != src(later) {
		t.Fatalf("from its start: %+v", res)
	}
	h.checkInvariant()
}

func TestDelegationRestrictedToAppsAndModels(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	mum, kid := h.member("mum"), h.member("kid")
	h.grant(mum, KindAddon, 10_000, nil)
	other, err := h.svc.CreateApp(h.ctx, h.owner, "Games", "")
	if err != nil {
		t.Fatal(err)
	}
	otherKey, _ := h.svc.AuthenticateBearer(h.ctx, other.Key)
	d := h.delegate(mum, kid, 1000, "day", func(n *NewDelegation) { n.Apps = []string{"test-app"}; n.Models = []string{"gpt-4o-mini"} })
	if res := h.chargeWith(kid, 10, func(r *UsageReport) { r.Model = "gpt-4o-mini" }); res.BillingSource != src(d) {
		t.Fatalf("allowed app and model: %+v", res)
	}
	if res := h.chargeWith(kid, 10, func(r *UsageReport) { r.Model = "o3" }); res.BillingSource != "personal" || !strings.Contains(res.SourceNote, "not for this model") {
		t.Fatalf("other model: %+v", res)
	}
	res, _, err := h.svc.ChargeUsage(h.ctx, otherKey, UsageReport{AIAgentID: "games", UserID: kid, Description: "x", UsageType: "api_call",
		Model: "gpt-4o-mini", Credits: ptr(Credits(10)), ChargeUser: true})
	if err != nil || res.BillingSource != "personal" || !strings.Contains(res.SourceNote, "not for this app") {
		t.Fatalf("other app: %+v %v", res, err)
	}
	if _, err := h.svc.CreateDelegation(h.ctx, granterOf(mum), NewDelegation{GranteeID: kid, Credits: 1, Period: "day", Apps: []string{"nope"}}); ErrorCode(err) != EINVALID {
		t.Fatalf("unknown app restriction: %v", err)
	}
	h.checkInvariant()
}

func TestBoundKeysBillTheirDelegation(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	mum, dad, kid := h.member("mum"), h.member("dad"), h.member("kid")
	h.grant(mum, KindAddon, 10_000, nil)
	h.grant(dad, KindAddon, 10_000, nil)
	h.delegate(mum, kid, 1000, "day") // older: would win without a binding
	dads := h.delegate(dad, kid, 1000, "day")
	kidP := granterOf(kid)
	tok, err := h.svc.CreateToken(h.ctx, kidP, "school laptop", dads)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.CreateToken(h.ctx, granterOf(mum), "not mine", dads); ErrorCode(err) != EINVALID {
		t.Fatalf("binding a token to someone else's allowance: %v", err)
	}
	tp, _ := h.svc.AuthenticateBearer(h.ctx, tok.Token)
	res, _, err := h.svc.ChargeUsage(h.ctx, tp, UsageReport{Description: "x", UsageType: "api_call", Credits: ptr(Credits(10)), ChargeUser: true})
	if err != nil || res.BillingSource != src(dads) {
		t.Fatalf("bound token: %+v %v", res, err)
	}
	// An app key bound to the kid's allowance bills it for the kid, and is ignored for others.
	key, err := h.svc.CreateAppKey(h.ctx, h.owner, h.app.AppID, dads)
	if err != nil {
		t.Fatal(err)
	}
	kp, _ := h.svc.AuthenticateBearer(h.ctx, key.Token)
	res, _, err = h.svc.ChargeUsage(h.ctx, kp, UsageReport{AIAgentID: "test-app", UserID: kid, Description: "x", UsageType: "api_call", Credits: ptr(Credits(10)), ChargeUser: true})
	if err != nil || res.BillingSource != src(dads) {
		t.Fatalf("bound app key, grantee: %+v %v", res, err)
	}
	h.grant(mum, KindAddon, 10, nil)
	res, _, err = h.svc.ChargeUsage(h.ctx, kp, UsageReport{AIAgentID: "test-app", UserID: mum, Description: "x", UsageType: "api_call", Credits: ptr(Credits(10)), ChargeUser: true})
	if err != nil || res.BillingSource != "personal" {
		t.Fatalf("bound app key, another member: %+v %v", res, err)
	}
	h.checkInvariant()
}

func TestEditingCreditsAppliesFromTheNextPeriod(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	mum, kid := h.member("mum"), h.member("kid")
	h.grant(mum, KindAddon, 10_000, nil)
	d := h.delegate(mum, kid, 100, "day")
	h.charge(kid, 80)
	info, err := h.svc.EditDelegation(h.ctx, granterOf(mum), d, DelegationEdit{Credits: ptr(Credits(500))})
	if err != nil {
		t.Fatal(err)
	}
	if info.Credits != 100 || info.Pending == nil || info.Pending.Credits != 500 || info.Pending.From != "2026-11-11T00:00:00Z" {
		t.Fatalf("pending edit: %+v %+v", info, info.Pending)
	}
	// Before the next period the allowance has 20 left of its old 100: it pays 20, the rest is
	// the grantee's (debt; they have no credits).
	if res := h.charge(kid, 50); res.BillingSource != src(d) || res.Debt != 30 || len(res.Parts) != 1 || res.Parts[0].Credits != 20 {
		t.Fatalf("the raise applied before the next period: %+v", res)
	}
	h.clock.Set(at("2026-11-11T08:00:00Z"))
	if res := h.charge(kid, 450); res.BillingSource != src(d) {
		t.Fatalf("the raise did not apply in the next period: %+v", res)
	}
	got, _ := h.db.Read().DelegationByID(h.ctx, d)
	if got.Credits != 500 || got.PendingFrom.Valid || got.PeriodUsed != 450 {
		t.Fatalf("stored terms after the period turned: %+v", got)
	}
	if _, err := h.svc.EditDelegation(h.ctx, granterOf(kid), d, DelegationEdit{Credits: ptr(Credits(1))}); ErrorCode(err) != EFORBIDDEN {
		t.Fatalf("grantee edited: %v", err)
	}
	h.checkInvariant()
}

func TestBulkDelegationIsAllOrNothing(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	teacher := h.member("teacher")
	var ids []int64
	for i := 0; i < 5; i++ {
		ids = append(ids, h.member("s"+strconv.Itoa(i)))
	}
	_, err := h.svc.CreateDelegations(h.ctx, granterOf(teacher), BulkDelegation{NewDelegation: NewDelegation{Credits: 500, Period: "day"},
		GranteeIDs: append(ids, 9999)})
	if e, ok := err.(*Error); !ok || e.Field != "granteeIds[5]" {
		t.Fatalf("bad grantee: %v", err)
	}
	if given, _, _ := h.svc.Delegations(h.ctx, granterOf(teacher)); len(given) != 0 {
		t.Fatalf("a failed bulk created %d delegations", len(given))
	}
	items, err := h.svc.CreateDelegations(h.ctx, granterOf(teacher), BulkDelegation{NewDelegation: NewDelegation{Credits: 500, Period: "day", Note: "Maths"}, GranteeIDs: ids})
	if err != nil || len(items) != 5 || items[4].Note != "Maths" {
		t.Fatalf("bulk: %d %v", len(items), err)
	}
}

func TestClassImportAndOneTimeCodes(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	csv := "Name,Email,Group\nAda Lovelace,ada@example.org,7B\nAlan Turing,,7B\n\nGrace Hopper,,\n"
	items, err := h.svc.ImportMembers(h.ctx, h.owner, ClassImport{CSV: csv, Group: "7C"})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 3 || items[0].Code != "" || items[1].Code == "" || items[1].Member.Email != "" || items[2].Member.Group != "7C" {
		t.Fatalf("imported: %+v", items)
	}
	if _, err := h.svc.ImportMembers(h.ctx, h.owner, ClassImport{CSV: "name,email\nX,ada@example.org\n"}); ErrorCode(err) != ECONFLICT {
		t.Fatalf("duplicate email: %v", err)
	}
	_, err = h.svc.ImportMembers(h.ctx, h.owner, ClassImport{CSV: "name,email\nY,y@example.org\nZ,not-an-email\n"})
	if e, ok := err.(*Error); !ok || e.Field != "row 3: email" {
		t.Fatalf("bad row: %v", err)
	}
	if _, err := h.db.Read().UserByEmail(h.ctx, "y@example.org"); err == nil {
		t.Fatal("a failed import created a member")
	}
	m, _, _, err := h.svc.LoginWithCode(h.ctx, strings.ToLower(items[1].Code), "10.0.0.1")
	if err != nil || m.Name != "Alan Turing" {
		t.Fatalf("code sign-in: %+v %v", m, err)
	}
	if _, _, _, err := h.svc.LoginWithCode(h.ctx, items[1].Code, "10.0.0.1"); ErrorCode(err) != EUNAUTHORIZED {
		t.Fatalf("a code worked twice: %v", err)
	}
	h.clock.Advance(SigninCodeTTL + time.Minute)
	if _, _, _, err := h.svc.LoginWithCode(h.ctx, items[2].Code, "10.0.0.1"); ErrorCode(err) != EUNAUTHORIZED {
		t.Fatalf("an expired code worked: %v", err)
	}
}
