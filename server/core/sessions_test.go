package core

import (
	"testing"
	"time"
)

func TestSessionsExpireWhenIdleAndAtTheAbsoluteLimit(t *testing.T) {
	h := newHarness(t, at("2026-11-01T12:00:00Z"))
	_, sid, _, err := h.svc.Login(h.ctx, "owner@example.org", "password123", "10.0.0.9")
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(SessionIdle - time.Hour)
	if _, err := h.svc.AuthenticateSession(h.ctx, sid); err != nil {
		t.Fatalf("within the idle window: %v", err)
	}
	// Activity keeps it alive past the first idle window...
	for i := 0; i < 3; i++ {
		h.clock.Advance(SessionIdle - time.Hour)
		if _, err := h.svc.AuthenticateSession(h.ctx, sid); err != nil {
			t.Fatalf("active session ended at step %d: %v", i, err)
		}
	}
	// ...but not past the absolute limit.
	h.clock.Set(at("2026-11-01T12:00:00Z").Add(SessionAbsolute))
	if _, err := h.svc.AuthenticateSession(h.ctx, sid); ErrorCode(err) != EUNAUTHORIZED {
		t.Fatalf("past the absolute limit: %v", err)
	}
	_, sid2, _, err := h.svc.Login(h.ctx, "owner@example.org", "password123", "10.0.0.9")
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(SessionIdle + time.Minute)
	if _, err := h.svc.AuthenticateSession(h.ctx, sid2); ErrorCode(err) != EUNAUTHORIZED {
		t.Fatalf("idle session still works: %v", err)
	}
}
