package core

import (
	"testing"
	"time"
)

// notices drains a subscription's balance notices, waiting a little for one.
func notices(sub *Subscription) int {
	n := 0
	for {
		select {
		case <-sub.Balance:
			n++
		case <-time.After(50 * time.Millisecond):
			return n
		}
	}
}

// Proves: a gateway hold, its settle, a release and an expired hold's sweep each send a
// balance notice to the member and to the granter whose allowance the hold took, and to no
// one else; the notice carries nothing (figures come from GET /balance, which shows each
// member only their own); a refused hold sends nothing; notices waiting for a slow viewer
// merge into one. Not: the SSE wire (server tests, e2e).
func TestHoldsSendBalanceNotices(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	mum, kid, other := h.member("mum"), h.member("kid"), h.member("other")
	h.grant(mum, KindAddon, 100_000, nil)
	h.delegate(mum, kid, 3000, "day")
	hub := h.svc.Hub()
	subMum := hub.Subscribe(tokenOf(mum))
	subKid := hub.Subscribe(tokenOf(kid))
	subOther := hub.Subscribe(tokenOf(other))
	defer hub.Unsubscribe(subMum)
	defer hub.Unsubscribe(subKid)
	defer hub.Unsubscribe(subOther)

	call := gwCall(kid, 1000, 1000)
	g := h.hold(tokenOf(kid), call)
	if notices(subKid) != 1 || notices(subMum) != 1 || notices(subOther) != 0 {
		t.Fatal("hold: member and granter are told, no one else")
	}
	h.settle(g, call, gwUsage(500, 500))
	if notices(subKid) != 1 || notices(subMum) != 1 || notices(subOther) != 0 {
		t.Fatal("settle")
	}
	// The usage event of the settle goes out as before.
	select {
	case it := <-subKid.C:
		if it.UserID != kid || it.Model != "m" {
			t.Fatalf("usage event: %+v", it)
		}
	default:
		t.Fatal("no usage event on settle")
	}

	g = h.hold(tokenOf(kid), call)
	notices(subKid)
	notices(subMum)
	if err := h.svc.ReleaseGatewayCall(h.ctx, g); err != nil {
		t.Fatal(err)
	}
	if notices(subKid) != 1 || notices(subMum) != 1 || notices(subOther) != 0 {
		t.Fatal("release")
	}

	// Refused: nothing is held, nothing is said.
	if _, err := h.svc.HoldGatewayCall(h.ctx, tokenOf(kid), gwCall(kid, 1_000_000, 1_000_000)); err == nil {
		t.Fatal("a hold beyond everything must be refused")
	}
	if notices(subKid) != 0 || notices(subMum) != 0 {
		t.Fatal("a refused hold sends no notice")
	}

	// A hold paid from the member's own credits tells only the member.
	h.grant(other, KindAddon, 10_000, nil)
	og := h.hold(tokenOf(other), gwCall(other, 100, 100))
	if notices(subOther) != 1 || notices(subKid) != 0 || notices(subMum) != 0 {
		t.Fatal("own credits: only the member")
	}
	// Expiry: the sweep tells the member.
	h.clock.Advance(holdTTL + time.Second)
	if n, err := h.svc.ReleaseExpiredHolds(h.ctx); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	if notices(subOther) != 1 {
		t.Fatal("sweep")
	}
	_ = og

	// Several changes while the viewer is slow: one notice waits.
	for range 3 {
		g := h.hold(tokenOf(kid), call)
		if err := h.svc.ReleaseGatewayCall(h.ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	if n := notices(subKid); n != 1 {
		t.Fatalf("coalesced notices: %d", n)
	}
	h.checkInvariant()
}

// Proves: a grant tells the member's live views (the ledger page, spending power) that new
// credits came in, with a balance notice to that member and no one else. Not: the page (e2e).
func TestGrantSendsBalanceNotice(t *testing.T) {
	h := newHarness(t, at("2026-11-10T12:00:00Z"))
	kid, other := h.member("kid"), h.member("other")
	hub := h.svc.Hub()
	subKid, subOther := hub.Subscribe(tokenOf(kid)), hub.Subscribe(tokenOf(other))
	defer hub.Unsubscribe(subKid)
	defer hub.Unsubscribe(subOther)
	h.grant(kid, KindAddon, 5000, nil)
	if notices(subKid) != 1 || notices(subOther) != 0 {
		t.Fatal("a grant should notify its member and no one else")
	}
}
