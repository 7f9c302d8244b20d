package core

import (
	"context"
	"math/rand"
	"sync"
	"testing"
	"time"
)

// Proves (issue 19's exactness, at the core): 200 concurrent gateway requests (600 in all) of mixed sizes,
// each holding then settling (some settling at their whole hold, some below, some released),
// against one small allowance and one small wallet never together spend a millicredit more than
// the allowance and the wallet hold, create no debt, and leave the ledger invariant whole; every
// settled event's credits are exactly what left the two wallets. Not: the HTTP layer, providers,
// or a provider reporting more than was held (TestSettleChargesTheActualCost covers that).
func TestConcurrentHoldsNeverOverspend(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	mum, kid := h.member("mum"), h.member("kid")
	const allowance, wallet, granter = 50_000, 30_000, 1_000_000
	h.grant(mum, KindAddon, granter, nil)
	h.grant(kid, KindAddon, wallet, nil)
	d := h.delegate(mum, kid, allowance, "once", func(nd *NewDelegation) { nd.Note = "Homework" })

	ctx, cancel := context.WithTimeout(h.ctx, 2*time.Minute) // a deadline, not a timing assertion
	defer cancel()
	type outcome struct {
		charged Credits
		refused bool
		err     error
	}
	const n, rounds = 200, 3 // 200 at once, each making 3 requests one after another
	out := make([]outcome, n*rounds)
	request := func(i int) {
		r := rand.New(rand.NewSource(int64(i)))
		call := gwCall(kid, 100+r.Int63n(2000), 200+r.Int63n(6000))
		if i%5 == 0 {
			call.Delegation = d // a token bound to the allowance
		}
		g, err := h.svc.HoldGatewayCall(ctx, tokenOf(kid), call)
		if ErrorCode(err) == EPAYMENT {
			out[i].refused = true
			return
		}
		if err != nil {
			out[i].err = err
			return
		}
		switch i % 4 {
		case 0: // the provider failed before answering
			out[i].err = h.svc.ReleaseGatewayCall(ctx, g)
		case 1: // the whole hold used
			res, err := h.svc.SettleGatewayCall(ctx, g, call, gwUsage(call.Hold.InputTokens, g.OutputTokens))
			out[i].charged, out[i].err = res.CreditsCharged, err
		default: // less than held
			res, err := h.svc.SettleGatewayCall(ctx, g, call, gwUsage(call.Hold.InputTokens/2, g.OutputTokens/3))
			out[i].charged, out[i].err = res.CreditsCharged, err
		}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			<-start
			for k := 0; k < rounds; k++ {
				request(w*rounds + k)
			}
		}(w)
	}
	close(start)
	wg.Wait()

	var charged Credits
	refused := 0
	for i, o := range out {
		if o.err != nil {
			t.Fatalf("request %d: %v", i, o.err)
		}
		charged += o.charged
		if o.refused {
			refused++
		}
	}
	kidB, mumB := h.balance(kid), h.balance(mum)
	spentKid, spentMum := wallet-kidB.Total, granter-mumB.Total
	if kidB.Debt != 0 || mumB.Debt != 0 || kidB.Total < 0 {
		t.Fatalf("debt: kid %+v mum %+v", kidB, mumB)
	}
	if spentMum > allowance || spentKid > wallet {
		t.Fatalf("overspent: allowance paid %s of %s, wallet %s of %s", Credits(spentMum), Credits(allowance), Credits(spentKid), Credits(wallet))
	}
	if charged != Credits(spentKid+spentMum) {
		t.Fatalf("events charged %s but the wallets lost %s", charged, Credits(spentKid+spentMum))
	}
	got, _ := h.db.Read().DelegationByID(h.ctx, d)
	if got.PeriodUsed != int64(spentMum) {
		t.Fatalf("allowance used %d, granter paid %d", got.PeriodUsed, spentMum)
	}
	if kidB.Reserved != 0 || refused == 0 {
		t.Fatalf("reserved %s after all ended; %d refused (the demand is meant to exceed the supply)", kidB.Reserved, refused)
	}
	t.Logf("charged %s (allowance %s, wallet %s), %d of %d refused", charged, Credits(spentMum), Credits(spentKid), refused, n*rounds)
	h.checkInvariant()
}
