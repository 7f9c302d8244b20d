package core

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestDeductionOrderAcrossAllKinds(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	u := h.member("emma")
	// Granted in a shuffled order so that grant order alone cannot produce the expected order.
	addonOld := h.grant(u, KindAddon, 5000, nil)
	eventLate := h.grant(u, KindEvent, 4000, ptr(at("2026-11-30T00:00:00Z")))
	sub := h.grant(u, KindSubscription, 3000, nil)
	eventSoon := h.grant(u, KindEvent, 2000, ptr(at("2026-11-20T00:00:00Z")))
	addonNew := h.grant(u, KindAddon, 6000, nil)
	eventSoonSecond := h.grant(u, KindEvent, 1000, ptr(at("2026-11-20T00:00:00Z"))) // same expiry, granted later

	want := []int64{eventSoon, eventSoonSecond, eventLate, sub, addonOld, addonNew}
	res := h.charge(u, 20_500) // all but 500 of the last addon
	var got []int64
	for _, p := range res.Parts {
		got = append(got, p.BucketID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("deduction order = %v, want %v", got, want)
	}
	wantCredits := []Credits{2000, 1000, 4000, 3000, 5000, 5500}
	for i, p := range res.Parts {
		if p.Credits != wantCredits[i] {
			t.Errorf("part %d took %d, want %d", i, p.Credits, wantCredits[i])
		}
	}
	if res.Debt != 0 || res.BalanceAfter != 500 {
		t.Errorf("debt %d balance %d, want 0 and 500", res.Debt, res.BalanceAfter)
	}
	if h.remaining(addonNew) != 500 || h.remaining(eventSoon) != 0 {
		t.Errorf("remainders wrong: addonNew %d eventSoon %d", h.remaining(addonNew), h.remaining(eventSoon))
	}
	h.checkInvariant()
}

func TestChargeSpansBucketsWithOneLedgerRowEach(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	u := h.member("sam")
	a := h.grant(u, KindAddon, 1000, nil)
	b := h.grant(u, KindAddon, 1000, nil)
	res := h.charge(u, 1500)
	if len(res.Parts) != 2 || res.Parts[0].BucketID != a || res.Parts[0].Credits != 1000 || res.Parts[1].BucketID != b || res.Parts[1].Credits != 500 {
		t.Fatalf("parts = %+v", res.Parts)
	}
	rows, _ := h.db.Read().LedgerForUsage(h.ctx, res.ID)
	if len(rows) != 2 || rows[0].Amount != -1000 || rows[1].Amount != -500 || rows[1].BalanceAfter != 500 {
		t.Fatalf("ledger rows = %+v", rows)
	}
	h.checkInvariant()
}

func TestExpiredBucketIsSkippedBeforeTheExpiryJobRuns(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	u := h.member("kim")
	promo := h.grant(u, KindEvent, 3000, ptr(at("2026-11-12T00:00:00Z")))
	addon := h.grant(u, KindAddon, 1000, nil)
	h.clock.Set(at("2026-11-12T00:00:00Z")) // the instant of expiry: no longer usable

	if b := h.balance(u); b.Total != 1000 || len(b.Buckets) != 1 {
		t.Fatalf("balance shows expired bucket: %+v", b)
	}
	res := h.charge(u, 1500)
	if len(res.Parts) != 1 || res.Parts[0].BucketID != addon || res.Debt != 500 {
		t.Fatalf("charge drew an expired bucket or missed the debt: %+v", res)
	}
	if h.remaining(promo) != 0 {
		t.Errorf("expired bucket still holds %d", h.remaining(promo))
	}
	acts := h.ledgerActions(u)
	if !slices.Contains(acts, "expire -3000 b1") {
		t.Errorf("no expire row for the promo bucket: %v", acts)
	}
	// The job finds nothing left to do.
	if res, err := h.svc.RunJob(h.ctx, "expire", h.clock.Now(), h.dir); err != nil || res != "0 buckets expired" {
		t.Errorf("expire job after lazy expiry: %q %v", res, err)
	}
	h.checkInvariant()
}

func TestDebtIsRepaidByTheNextGrant(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	u := h.member("ada")
	h.grant(u, KindAddon, 1000, nil)
	res := h.charge(u, 1800)
	if res.Debt != 800 || res.BalanceAfter != -800 {
		t.Fatalf("debt %d balance %d, want 800 and -800", res.Debt, res.BalanceAfter)
	}
	if b := h.balance(u); b.Debt != 800 || b.Total != -800 {
		t.Fatalf("balance = %+v", b)
	}
	h.checkInvariant()
	next := h.grant(u, KindAddon, 500, nil) // covers part of the debt
	if b := h.balance(u); b.Debt != 300 || b.Total != -300 || h.remaining(next) != 0 {
		t.Fatalf("after partial repayment: %+v, bucket %d", b, h.remaining(next))
	}
	last := h.grant(u, KindEvent, 1000, ptr(at("2026-12-01T00:00:00Z")))
	if b := h.balance(u); b.Debt != 0 || b.Total != 700 || h.remaining(last) != 700 {
		t.Fatalf("after full repayment: %+v, bucket %d", b, h.remaining(last))
	}
	h.checkInvariant()
}

func TestRefundReturnsCreditsToTheirBuckets(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	u := h.member("lee")
	ev := h.grant(u, KindEvent, 1000, ptr(at("2026-11-20T00:00:00Z")))
	ad := h.grant(u, KindAddon, 1000, nil)
	res := h.charge(u, 1500)
	rows, err := h.svc.Refund(h.ctx, h.owner, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || h.remaining(ev) != 1000 || h.remaining(ad) != 1000 {
		t.Fatalf("refund rows %+v; remainders %d %d", rows, h.remaining(ev), h.remaining(ad))
	}
	if _, err := h.svc.Refund(h.ctx, h.owner, res.ID); ErrorCode(err) != ECONFLICT {
		t.Fatalf("second refund: %v, want conflict", err)
	}
	agg, err := h.svc.Aggregate(h.ctx, Principal{UserID: u, Role: RoleMember}, UsageQuery{By: "day"})
	if err != nil || agg.Totals.Credits != 0 || agg.Totals.Requests != 1 {
		t.Fatalf("rollup after refund: %+v %v", agg.Totals, err)
	}
	h.checkInvariant()
}

func TestRefundGoesToANewAddonBucketWhenTheOriginalExpired(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	u := h.member("noor")
	ev := h.grant(u, KindEvent, 1000, ptr(at("2026-11-15T00:00:00Z")))
	ad := h.grant(u, KindAddon, 1000, nil)
	res := h.charge(u, 1200) // 1000 from the event bucket, 200 from the addon
	h.clock.Set(at("2026-11-16T00:00:00Z"))
	if _, err := h.svc.Refund(h.ctx, h.owner, res.ID); err != nil {
		t.Fatal(err)
	}
	if h.remaining(ev) != 0 || h.remaining(ad) != 1000 {
		t.Fatalf("expired bucket refilled or addon not refunded: %d %d", h.remaining(ev), h.remaining(ad))
	}
	b := h.balance(u)
	if b.Total != 2000 || len(b.Buckets) != 2 {
		t.Fatalf("balance after refund = %+v", b)
	}
	var fresh *BucketInfo
	for i := range b.Buckets {
		if b.Buckets[i].ID != ad {
			fresh = &b.Buckets[i]
		}
	}
	if fresh == nil || fresh.Kind != KindAddon || fresh.Remaining != 1000 || fresh.ExpiresAt != nil {
		t.Fatalf("refund bucket = %+v", fresh)
	}
	// Every refund row refers to the usage it reverses, the new bucket's too.
	rows, err := h.db.Read().LedgerForUsage(h.ctx, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	var refunds []string
	for _, r := range rows {
		if r.Action == "refund" {
			refunds = append(refunds, fmt.Sprintf("%d b%d", r.Amount, r.BucketID.Int64))
		}
	}
	if want := []string{fmt.Sprintf("200 b%d", ad), fmt.Sprintf("1000 b%d", fresh.ID)}; !slices.Equal(refunds, want) {
		t.Fatalf("refund rows of usage %d: %v, want %v", res.ID, refunds, want)
	}
	h.checkInvariant()
}

func TestRefundForgivesTheDebtTheChargeMade(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	u := h.member("ivy")
	h.grant(u, KindAddon, 100, nil)
	res := h.charge(u, 400)
	if _, err := h.svc.Refund(h.ctx, h.owner, res.ID); err != nil {
		t.Fatal(err)
	}
	if b := h.balance(u); b.Debt != 0 || b.Total != 100 {
		t.Fatalf("after refund: %+v", b)
	}
	h.checkInvariant()
}

func TestChargeUserFalseRecordsWithoutCharging(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	u := h.member("max")
	h.grant(u, KindAddon, 1000, nil)
	c := Credits(300)
	res, _, err := h.svc.ChargeUsage(h.ctx, h.app, UsageReport{AIAgentID: "test-app", UserID: u, Description: "free", UsageType: "api_call", Credits: &c, ChargeUser: false})
	if err != nil {
		t.Fatal(err)
	}
	if res.CreditsCharged != 0 || len(res.Parts) != 0 || res.BalanceAfter != 1000 {
		t.Fatalf("uncharged report charged: %+v", res)
	}
	if b := h.balance(u); b.Total != 1000 {
		t.Fatalf("balance moved: %+v", b)
	}
	h.checkInvariant()
}

func TestPlanTakesEffectNextCycleOrNow(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	u := h.member("zoe")
	if _, err := h.svc.SetPlan(h.ctx, h.owner, u, 2000, false); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.RunJob(h.ctx, "refresh", h.clock.Now(), h.dir); err != nil {
		t.Fatal(err)
	}
	if b := h.balance(u); b.Total != 0 {
		t.Fatalf("plan applied before the next cycle: %+v", b)
	}
	if _, err := h.svc.SetPlan(h.ctx, h.owner, u, 3000, true); err != nil {
		t.Fatal(err)
	}
	if b := h.balance(u); b.Total != 3000 || b.Cycle.Allowance != 3000 {
		t.Fatalf("plan now: %+v", b)
	}
	h.charge(u, 1000)
	if _, err := h.svc.SetPlan(h.ctx, h.owner, u, 1500, true); err != nil { // cut below what is left
		t.Fatal(err)
	}
	if b := h.balance(u); b.Total != 500 {
		t.Fatalf("after lowering the plan: %+v (used credits must stay used)", b)
	}
	// Cut below what was used, then back: the 1000 used stay used, none are paid back.
	for _, plan := range []Credits{400, 3000} {
		if _, err := h.svc.SetPlan(h.ctx, h.owner, u, plan, true); err != nil {
			t.Fatal(err)
		}
	}
	if b := h.balance(u); b.Total != 2000 || b.Buckets[0].Granted != 3000 {
		t.Fatalf("after lowering below the used credits and raising back: %+v", b)
	}
	h.checkInvariant()
}

func TestRefreshGrantsOncePerCycle(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	u := h.member("otto")
	if _, err := h.svc.SetPlan(h.ctx, h.owner, u, 2000, true); err != nil {
		t.Fatal(err)
	}
	h.charge(u, 500)
	start := at("2026-12-01T00:00:00Z")
	h.clock.Set(start)
	for i := 0; i < 2; i++ {
		if _, err := h.svc.RunJob(h.ctx, "refresh", start, h.dir); err != nil {
			t.Fatal(err)
		}
	}
	b := h.balance(u)
	if b.Total != 2000 || len(b.Buckets) != 1 || b.Buckets[0].Kind != KindSubscription {
		t.Fatalf("after refresh run twice: %+v", b)
	}
	acts := h.ledgerActions(u)
	refreshes, expires := 0, 0
	for _, a := range acts {
		if a[:7] == "refresh" {
			refreshes++
		}
		if a == "expire -1500 b1" {
			expires++
		}
	}
	if refreshes != 1 || expires != 1 {
		t.Fatalf("want one refresh and one expiry of last cycle's 1500, got %v", acts)
	}
	h.checkInvariant()
}

func TestCatchUpAfterAMissedCycle(t *testing.T) {
	h := newHarness(t, at("2026-10-10T12:00:00Z"))
	u := h.member("pia")
	if _, err := h.svc.SetPlan(h.ctx, h.owner, u, 1000, true); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.RunJob(h.ctx, "refresh", h.clock.Now(), h.dir); err != nil {
		t.Fatal(err)
	}
	// The server was off for all of November; it starts on 3 December.
	h.clock.Set(at("2026-12-03T09:00:00Z"))
	for i := 0; i < 2; i++ { // a second start in the same cycle does nothing more
		if err := h.svc.CatchUp(h.ctx, h.dir); err != nil {
			t.Fatal(err)
		}
	}
	b := h.balance(u)
	if b.Total != 1000 || len(b.Buckets) != 1 || b.Cycle.Allowance != 1000 {
		t.Fatalf("after catch-up: %+v", b)
	}
	bs, _ := h.db.Read().BucketsInCycle(h.ctx, u, 202612)
	if len(bs) != 1 {
		t.Fatalf("want one December bucket, got %d", len(bs))
	}
	if old, _ := h.db.Read().BucketsInCycle(h.ctx, u, 202610); len(old) != 1 || old[0].Remaining != 0 {
		t.Fatalf("October bucket not expired: %+v", old)
	}
	h.checkInvariant()
}

func TestBackupKeepsSeven(t *testing.T) {
	h := newHarness(t, at("2026-11-01T12:00:00Z"))
	for i := 0; i < 9; i++ {
		if _, err := h.svc.RunJob(h.ctx, "backup", h.clock.Now().AddDate(0, 0, i), h.dir); err != nil {
			t.Fatal(err)
		}
	}
	ext := h.db.BackupExt() // .dump on PostgreSQL: pg_dump archives
	res, err := h.svc.RunJob(h.ctx, "backup", h.clock.Now().AddDate(0, 0, 8), h.dir)
	if err != nil || res != "already backed up today: tokenjar-2026-11-09"+ext {
		t.Fatalf("second backup the same day: %q %v", res, err)
	}
	files, _ := filepathGlob(h.dir + "/backups/tokenjar-*" + ext)
	if len(files) != BackupsKept || files[0] != h.dir+"/backups/tokenjar-2026-11-03"+ext {
		t.Fatalf("backups kept: %v", files)
	}
}

var _ = time.Second
