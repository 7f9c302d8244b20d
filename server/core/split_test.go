package core

import (
	"fmt"
	"strings"
	"testing"
)

// Proves: a report larger than an allowance's remainder is split (SPEC 5): each allowance pays
// what it has left this period, bounded by its granter's live credits, and the rest goes to the
// next allowance, then the member's own credits, then debt; a paused allowance and one whose
// granter has nothing pay nothing; an explicit billingSource goes straight on to personal.
// billingSource is the first source that paid; each part names its source. Not: holds (the
// gateway tests), the granted log's pages (only the event's delegationCredits).
func TestSplitCharges(t *testing.T) {
	type want struct {
		source string // billingSource: "a", "b" or "personal"
		parts  string // "source:credits ..." in order
		debt   Credits
		note   string // a part of the sourceNote
	}
	cases := []struct {
		name     string
		aLeft    Credits // allowance a (from mum, oldest): its per-day credits
		bLeft    Credits // allowance b (from dad)
		mumHas   Credits
		kidHas   Credits
		paused   bool // a is paused
		explicit bool // the report names a
		charge   Credits
		want     want
	}{
		{"allowance covers it", 1000, 1000, 10_000, 10_000, false, false, 600, want{"a", "a:600", 0, ""}},
		{"allowance, then personal", 400, 0, 10_000, 10_000, false, false, 1000, want{"a", "a:400 personal:600", 0, "paid 0.4"}},
		{"two allowances, then personal", 400, 300, 10_000, 10_000, false, false, 1000, want{"a", "a:400 b:300 personal:300", 0, "paid 0.4"}},
		{"then debt", 400, 0, 10_000, 100, false, false, 1000, want{"a", "a:400 personal:100", 500, ""}},
		{"bounded by the granter", 5000, 0, 250, 10_000, false, false, 1000, want{"a", "a:250 personal:750", 0, "granter's credits"}},
		{"granter has nothing", 5000, 0, 0, 10_000, false, false, 1000, want{"personal", "personal:1000", 0, "granter's credits are used up"}},
		{"paused pays nothing", 5000, 5000, 10_000, 10_000, true, false, 1000, want{"b", "b:1000", 0, "paused"}},
		{"explicit, then personal", 400, 5000, 10_000, 10_000, false, true, 1000, want{"a", "a:400 personal:600", 0, "paid 0.4"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, at("2026-11-10T12:00:00Z"))
			mum, dad, kid := h.member("mum"), h.member("dad"), h.member("kid")
			for _, g := range []struct {
				who int64
				c   Credits
			}{{mum, tc.mumHas}, {dad, 10_000}, {kid, tc.kidHas}} {
				if g.c > 0 {
					h.grant(g.who, KindAddon, g.c, nil)
				}
			}
			names := map[string]string{"personal": "personal"}
			a := h.delegate(mum, kid, tc.aLeft, "day")
			names[src(a)] = "a"
			if tc.bLeft > 0 {
				names[src(h.delegate(dad, kid, tc.bLeft, "day"))] = "b"
			}
			if tc.paused {
				if _, err := h.svc.EditDelegation(h.ctx, granterOf(mum), a, DelegationEdit{Status: ptr("paused")}); err != nil {
					t.Fatal(err)
				}
			}
			res := h.chargeWith(kid, tc.charge, func(r *UsageReport) {
				if tc.explicit {
					r.BillingSource = src(a)
				}
			})
			var parts []string
			var sum Credits
			for _, p := range res.Parts {
				parts = append(parts, fmt.Sprintf("%s:%d", names[p.Source], p.Credits))
				sum += p.Credits
			}
			if names[res.BillingSource] != tc.want.source || strings.Join(parts, " ") != tc.want.parts || res.Debt != tc.want.debt ||
				sum+res.Debt != tc.charge || !strings.Contains(res.SourceNote, tc.want.note) {
				t.Fatalf("got %s [%s] debt %s note %q; want %+v", names[res.BillingSource], strings.Join(parts, " "), res.Debt, res.SourceNote, tc.want)
			}
			// The reply as a retry of the same report would see it.
			ev, err := h.db.Read().UsageByID(h.ctx, res.ID)
			if err != nil {
				t.Fatal(err)
			}
			replay, err := h.svc.replayResult(h.ctx, h.db.Read(), ev)
			if err != nil || fmt.Sprint(replay.Parts) != fmt.Sprint(res.Parts) || replay.BalanceAfter != res.BalanceAfter {
				t.Fatalf("replay %+v vs %+v (%v)", replay, res, err)
			}
			h.checkInvariant()
		})
	}
}

// Proves: the granter's view of a split event says what their allowance paid (delegationCredits),
// the rollups put each share under its own source, and a refund gives each source back exactly
// its share: both wallets and the allowance's use of the period. Not: the dashboard pages.
func TestSplitChargeViewsAndRefund(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	mum, kid := h.member("mum"), h.member("kid")
	h.grant(mum, KindAddon, 10_000, nil)
	h.grant(kid, KindAddon, 10_000, nil)
	d := h.delegate(mum, kid, 400, "day")
	res := h.charge(kid, 1000)
	if h.balance(mum).Total != 9600 || h.balance(kid).Total != 9400 {
		t.Fatalf("after the split: mum %s kid %s", h.balance(mum).Total, h.balance(kid).Total)
	}
	page, err := h.svc.ListUsage(h.ctx, granterOf(mum), UsageQuery{}, true)
	if err != nil || len(page.Items) != 1 || page.Items[0].DelegationCredits == nil || *page.Items[0].DelegationCredits != 400 ||
		page.Items[0].Credits != 1000 {
		t.Fatalf("granted view: %+v %v", page.Items, err)
	}
	b := h.balance(mum)
	if b.Cycle.PaidForOthers != 400 {
		t.Fatalf("paid for others: %s", b.Cycle.PaidForOthers)
	}
	if kb := h.balance(kid); kb.Cycle.Used != 600 || kb.Allowances[0].Left != 0 || kb.Available != 9400 {
		t.Fatalf("kid's cycle and spending power: %+v", kb)
	}
	if _, err := h.svc.Refund(h.ctx, h.owner, res.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := h.db.Read().DelegationByID(h.ctx, d)
	if h.balance(mum).Total != 10_000 || h.balance(kid).Total != 10_000 || got.PeriodUsed != 0 {
		t.Fatalf("after the refund: mum %s kid %s used %d", h.balance(mum).Total, h.balance(kid).Total, got.PeriodUsed)
	}
	if b := h.balance(mum); b.Cycle.PaidForOthers != 0 {
		t.Fatalf("rollup after the refund: %+v", b.Cycle)
	}
	h.checkInvariant()
}

// Proves: GET /balance's spending power: own live credits plus each active allowance's
// remainder, bounded by its granter's live credits (shared by that granter's allowances), less
// holds; paused allowances are not listed. Not: the HTTP JSON (docs/api.md shows it).
func TestSpendingPower(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	mum, kid := h.member("mum"), h.member("kid")
	h.grant(mum, KindAddon, 1500, nil)
	h.grant(kid, KindAddon, 700, nil)
	h.delegate(mum, kid, 1000, "day", func(nd *NewDelegation) { nd.Models = []string{"gpt-4o*"} })
	second := h.delegate(mum, kid, 1000, "week")
	paused := h.delegate(mum, kid, 1000, "day")
	if _, err := h.svc.EditDelegation(h.ctx, granterOf(mum), paused, DelegationEdit{Status: ptr("paused")}); err != nil {
		t.Fatal(err)
	}
	b := h.balance(kid)
	if b.Available != 700+1500 || len(b.Allowances) != 2 || b.Allowances[0].Left != 1000 || b.Allowances[1].Left != 500 ||
		b.Allowances[1].ID != second || b.Allowances[0].ResetsAt == nil || *b.Allowances[0].ResetsAt != "2026-11-11T00:00:00Z" ||
		b.Allowances[0].Models[0] != "gpt-4o*" || b.Allowances[1].Period != "week" || b.Allowances[0].GranterName != "mum" {
		t.Fatalf("spending power: %+v", b.SpendingPower)
	}
	g := h.hold(tokenOf(kid), gwCall(kid, 100, 100)) // on the first allowance (any model there: "m" is not gpt-4o*)
	b = h.balance(kid)
	if b.Reserved != 200 || b.Available != 2200-200 || g.Credits != 200 {
		t.Fatalf("with a hold: %+v", b.SpendingPower)
	}
}

// Proves: two allowances of one granter can split a charge over the same bucket of theirs, and
// a refund gives that bucket back both shares exactly once each (the ledger invariant holds).
// Not: the random mix (TestLedgerInvariantUnderRandomOperations).
func TestSplitOverTwoAllowancesOfOneGranter(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	mum, kid := h.member("mum"), h.member("kid")
	bucket := h.grant(mum, KindAddon, 10_000, nil)
	a := h.delegate(mum, kid, 300, "day")
	b := h.delegate(mum, kid, 500, "week")
	res := h.charge(kid, 1000)
	if len(res.Parts) != 2 || res.Parts[0].Source != src(a) || res.Parts[1].Source != src(b) || res.Parts[0].BucketID != bucket ||
		res.Parts[1].BucketID != bucket || res.Debt != 200 || h.remaining(bucket) != 9200 {
		t.Fatalf("split: %+v", res)
	}
	h.checkInvariant()
	if _, err := h.svc.Refund(h.ctx, h.owner, res.ID); err != nil {
		t.Fatal(err)
	}
	if h.remaining(bucket) != 10_000 || h.balance(kid).Debt != 0 {
		t.Fatalf("after the refund: bucket %s kid %+v", h.remaining(bucket), h.balance(kid))
	}
	h.checkInvariant()
}
