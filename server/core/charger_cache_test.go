package core

import (
	"context"
	"testing"
	"time"

	"tokenjar/db"
)

// The charger keeps wallets in memory from one group to the next. These tests change a wallet
// between two charges without going through the charger, and check that the second charge
// sees the change: limited-time credits are drawn before Recharge credits, so a stale wallet
// would draw the second charge from the addon bucket.

func TestChargerSeesGrantsMadeBetweenGroups(t *testing.T) {
	h := newHarness(t, at("2026-10-05T10:00:00Z"))
	u := h.member("kim")
	addon := h.grant(u, KindAddon, 10_000, nil)
	h.charge(u, 4_000)
	exp := at("2027-01-01T00:00:00Z")
	event := h.grant(u, KindEvent, 100_000, &exp)
	res := h.charge(u, 5_000)
	if len(res.Parts) != 1 || res.Parts[0].BucketID != event {
		t.Fatalf("second charge parts = %+v, want all of it from the new event bucket %d", res.Parts, event)
	}
	if got := h.remaining(addon); got != 6_000 {
		t.Fatalf("addon remaining = %v, want 6", got)
	}
	if got := h.balance(u).Total; got != 101_000 {
		t.Fatalf("balance = %v, want 101", got)
	}
	h.checkInvariant()
}

func TestChargerSeesWritesFromAnotherProcess(t *testing.T) {
	h := newHarness(t, at("2026-10-05T10:00:00Z"))
	u := h.member("kim")
	addon := h.grant(u, KindAddon, 10_000, nil)
	h.charge(u, 4_000)

	// A second pool on the same file is what `tokenjar` run from a shell while the server runs
	// would open.
	other, err := db.Open(h.target)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	svc2, err := New(context.Background(), other, h.clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer svc2.Close()
	exp := at("2027-01-01T00:00:00Z")
	g, err := svc2.Grant(h.ctx, h.owner, u, NewGrant{Kind: KindEvent, Credits: 100_000, ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	res := h.charge(u, 5_000)
	if len(res.Parts) != 1 || res.Parts[0].BucketID != g.BucketID {
		t.Fatalf("charge after another process's grant: parts = %+v, want all from bucket %d", res.Parts, g.BucketID)
	}
	if got := h.remaining(addon); got != 6_000 {
		t.Fatalf("addon remaining = %v, want 6", got)
	}
	h.checkInvariant()
}

// A bucket that expires between two groups is not drawn by the second, though its wallet is
// still in the charger's memory and no job ran.
func TestChargerCachedWalletSkipsBucketThatExpired(t *testing.T) {
	h := newHarness(t, at("2026-10-05T10:00:00Z"))
	u := h.member("kim")
	exp := at("2026-10-05T12:00:00Z")
	event := h.grant(u, KindEvent, 10_000, &exp)
	addon := h.grant(u, KindAddon, 10_000, nil)
	if res := h.charge(u, 1_000); res.Parts[0].BucketID != event {
		t.Fatalf("first charge parts = %+v, want the event bucket", res.Parts)
	}
	h.clock.Advance(3 * time.Hour)
	res := h.charge(u, 1_000)
	if len(res.Parts) != 1 || res.Parts[0].BucketID != addon {
		t.Fatalf("after expiry parts = %+v, want the addon bucket %d", res.Parts, addon)
	}
	if got := h.remaining(event); got != 0 {
		t.Fatalf("expired bucket remaining = %v, want 0", got)
	}
	h.checkInvariant()
}
