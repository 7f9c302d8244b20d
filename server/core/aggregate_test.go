package core

import (
	"testing"
	"time"
)

// Proves: a grantee's own aggregate by day and by month puts what an allowance paid in its own
// series (PaidBy, named after the granter), and the bucket kinds count only the grantee's own
// buckets, also for the two shares of one split charge; the totals still count every credit.
// Not: the granter's view (scope=granted), which shows the granter's own buckets as before.
func TestAggregatePaidByAllowance(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	mum, kid := h.member("Mum"), h.member("Kim")
	h.grant(mum, KindAddon, 10_000, nil)
	h.grant(kid, KindEvent, 10_000, ptr(at("2026-12-31T00:00:00Z")))
	d := h.delegate(mum, kid, 400, "day", func(nd *NewDelegation) { nd.Note = "Homework" })
	h.charge(kid, 1000) // split: the allowance pays 400 from Mum's Recharge, Kim's own credits 600
	h.clock.Advance(24 * time.Hour)
	h.charge(kid, 300) // all from the allowance

	for _, by := range []string{"day", "month"} {
		agg, err := h.svc.Aggregate(h.ctx, granterOf(kid), UsageQuery{By: by})
		if err != nil {
			t.Fatal(err)
		}
		var own, paid, total Credits
		for _, it := range agg.Items {
			if it.Kinds.Addon != 0 {
				t.Fatalf("by %s: Mum's Recharge shown as Kim's own: %+v", by, it)
			}
			own += it.Kinds.Event + it.Kinds.Subscription + it.Kinds.Addon + it.Kinds.Debt
			for _, p := range it.PaidBy {
				if p.Source != src(d) || p.Label != "Mum's allowance (Homework)" {
					t.Fatalf("by %s: paid by %+v", by, p)
				}
				paid += p.Credits
			}
			total += it.Credits
		}
		if own != 600 || paid != 700 || total != 1300 || agg.Totals.Credits != 1300 {
			t.Fatalf("by %s: own %s paid %s total %s (%s)", by, own, paid, total, agg.Totals.Credits)
		}
	}
	// Only the personal share: nothing was paid by an allowance.
	agg, err := h.svc.Aggregate(h.ctx, granterOf(kid), UsageQuery{By: "day", Source: "personal"})
	if err != nil || agg.Totals.Credits != 600 || len(agg.Items) != 1 || agg.Items[0].PaidBy != nil || agg.Items[0].Kinds.Event != 600 {
		t.Fatalf("personal only: %+v %v", agg, err)
	}
	// The granter's view keeps the granter's buckets.
	agg, err = h.svc.Aggregate(h.ctx, granterOf(mum), UsageQuery{By: "day", Scope: "granted"})
	if err != nil || agg.Totals.Credits != 700 || agg.Items[0].Kinds.Addon+agg.Items[1].Kinds.Addon != 700 {
		t.Fatalf("granted view: %+v %v", agg, err)
	}
}

// Proves: the aggregate's total for a filter (what the usage log's footer shows) equals the sum
// of the listed rows over every page, leaving out "not charged" and refunded events, and its
// request count equals the number of rows; for a range of days and with a model filter.
func TestAggregateTotalEqualsListedRows(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	mum, kid := h.member("Mum"), h.member("Kim")
	h.grant(mum, KindAddon, 10_000, nil)
	h.grant(kid, KindAddon, 1_000, nil)
	h.delegate(mum, kid, 400, "day")
	var refundMe int64
	for i := 0; i < 9; i++ {
		model := []string{"gpt-4o", "claude"}[i%2]
		res := h.chargeWith(kid, Credits(150+i*37), func(r *UsageReport) {
			r.Model = model
			r.ChargeUser = i%4 != 3 // a few are recorded only
		})
		if i == 4 {
			refundMe = res.ID
		}
		h.clock.Advance(9 * time.Hour)
	}
	if _, err := h.svc.Refund(h.ctx, h.owner, refundMe); err != nil {
		t.Fatal(err)
	}
	for _, q := range []UsageQuery{{}, {From: "2026-11-11", To: "2026-11-12"}, {Model: "gpt-4o"}, {From: "2026-11-10", To: "2026-11-11", Model: "claude"}} {
		var sum Credits
		var rows int64
		q.Limit = "2"
		for {
			page, err := h.svc.ListUsage(h.ctx, granterOf(kid), q, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range page.Items {
				rows++
				if it.Charged && !it.Refunded {
					sum += it.Credits
				}
			}
			if page.NextCursor == nil {
				break
			}
			q.Cursor = *page.NextCursor
		}
		q.Cursor, q.Limit = "", ""
		agg, err := h.svc.Aggregate(h.ctx, granterOf(kid), UsageQuery{From: q.From, To: q.To, Model: q.Model, By: "day"})
		if err != nil {
			t.Fatal(err)
		}
		if rows == 0 || agg.Totals.Credits != sum || agg.Totals.Requests != rows {
			t.Fatalf("%+v: the rows sum to %s in %d rows, the aggregate says %s in %d", q, sum, rows, agg.Totals.Credits, agg.Totals.Requests)
		}
	}
}

// Proves: the granter's balance names whom their allowances paid for this cycle (paidFor), and
// the names' credits add up to paidForOthers, so the Overview can say "72.9 paid for Emma".
func TestBalancePaidForNamesGrantees(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	mum, kim, leo := h.member("Mum"), h.member("Kim"), h.member("Leo")
	h.grant(mum, KindAddon, 10_000, nil)
	h.delegate(mum, kim, 400, "day")
	h.delegate(mum, leo, 400, "day")
	h.charge(kim, 250)
	h.charge(leo, 100)
	h.charge(kim, 50)
	b := h.balance(mum)
	got := map[string]Credits{}
	var sum Credits
	for _, p := range b.Cycle.PaidFor {
		got[p.Name] += p.Credits
		sum += p.Credits
	}
	if b.Cycle.PaidForOthers != 400 || sum != 400 || got["Kim"] != 300 || got["Leo"] != 100 || b.Total != 9600 {
		t.Fatalf("paid for others %s: %+v", b.Cycle.PaidForOthers, b.Cycle.PaidFor)
	}
}
