package core

import (
	"testing"
)

// Proves: the throttle's counts are in the database, not in a service's memory: a new service
// on the same database (a restart, or another replica) refuses the address that guessed
// through the first one, and still lets the owner in from another address.
func TestTheThrottleOutlivesItsService(t *testing.T) {
	h := newHarness(t, at("2026-11-01T12:00:00Z"))
	fastCompares(h)
	for i := 0; i < throttlePair; i++ {
		if _, _, _, err := h.svc.Login(h.ctx, "owner@example.org", "wrong", "203.0.113.9"); ErrorCode(err) != EUNAUTHORIZED {
			t.Fatal(err)
		}
	}
	again, err := New(h.ctx, h.db, h.clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(again.Close)
	if _, _, _, err := again.Login(h.ctx, "owner@example.org", "password123", "203.0.113.9"); ErrorCode(err) != ERATELIMITED {
		t.Fatalf("the guessing address through a new service: %v, want rate_limited", err)
	}
	if _, _, _, err := again.Login(h.ctx, "owner@example.org", "password123", "198.51.100.7"); err != nil {
		t.Fatalf("the owner from another address: %v", err)
	}
}

// Proves: attempts older than the window are deleted (swept once a window), and a success
// deletes the account's failures from its address; the trust it earned stays.
func TestOldSigninAttemptsAreSwept(t *testing.T) {
	h := newHarness(t, at("2026-11-01T12:00:00Z"))
	fastCompares(h)
	for i := 0; i < 3; i++ {
		h.svc.Login(h.ctx, "nobody@example.org", "wrong", "10.0.0.3")
		h.svc.Login(h.ctx, "owner@example.org", "wrong", "10.0.0.4")
	}
	if n := h.count(`SELECT count(*) FROM signin_attempts`); n != 6 {
		t.Fatalf("%d attempts recorded, want 6", n)
	}
	if _, _, _, err := h.svc.Login(h.ctx, "owner@example.org", "password123", "10.0.0.4"); err != nil {
		t.Fatal(err)
	}
	if n := h.count(`SELECT count(*) FROM signin_attempts`); n != 3 {
		t.Fatalf("%d attempts after the owner's success, want the other 3", n)
	}
	h.clock.Advance(throttleWindow)
	h.svc.Login(h.ctx, "nobody@example.org", "wrong", "10.0.0.5")
	if n := h.count(`SELECT count(*) FROM signin_attempts`); n != 1 {
		t.Fatalf("%d attempts a window later, want only the new one", n)
	}
	if n := h.count(`SELECT count(*) FROM signin_trust`); n != 1 {
		t.Fatalf("%d trusted addresses, want the owner's", n)
	}
}

func (h *harness) count(query string) int64 {
	h.t.Helper()
	var n int64
	if err := h.db.Read().QueryRowForTest(h.ctx, query, &n); err != nil {
		h.t.Fatal(err)
	}
	return n
}
