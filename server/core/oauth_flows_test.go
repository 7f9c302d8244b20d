package core

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proves: a sign-in flow started through one replica is taken through another (on PostgreSQL
// two services with pools of their own on one database; on SQLite one service, since one server
// owns the file), carries what was stored, works once only even when both replicas take it at
// the same moment, and is refused once SignInFlowTTL has passed (and not before).
// Does not prove: anything about the HTTP callback (server/oauth_replicas_test.go does).
func TestSignInFlowCrossesReplicasOnce(t *testing.T) {
	h := newHarness(t, at("2026-03-01T10:00:00Z"))
	svcs, clocks := h.replicas(2)
	a, b := svcs[0], svcs[1]
	want := SignInFlow{Provider: "oidc", Session: `{"AuthURL":"x"}`, Invite: "inv", Next: "/members"}
	if err := a.StartSignInFlow(h.ctx, "state-1", want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := b.TakeSignInFlow(h.ctx, "state-1")
	if err != nil || !ok || got != want {
		t.Fatalf("taken through the other replica: %+v %v %v, want %+v", got, ok, err, want)
	}
	for _, s := range svcs {
		if _, ok, err := s.TakeSignInFlow(h.ctx, "state-1"); ok || err != nil {
			t.Fatalf("taken twice: %v %v", ok, err)
		}
	}
	if _, ok, err := a.TakeSignInFlow(h.ctx, "never-started"); ok || err != nil {
		t.Fatalf("unknown state: %v %v", ok, err)
	}

	// Both replicas take one state at once, 10 times each: exactly one take gets it.
	if err := a.StartSignInFlow(h.ctx, "state-2", want); err != nil {
		t.Fatal(err)
	}
	var taken atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, ok, err := svcs[i%2].TakeSignInFlow(h.ctx, "state-2")
			if err != nil {
				t.Error(err)
			}
			if ok {
				taken.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := taken.Load(); n != 1 {
		t.Fatalf("a state taken %d times by 20 concurrent takes, want once", n)
	}

	// Expiry: still good at the last moment, refused a millisecond after it.
	for _, s := range []string{"state-3", "state-4"} {
		if err := a.StartSignInFlow(h.ctx, s, want); err != nil {
			t.Fatal(err)
		}
	}
	clocks[1].Advance(SignInFlowTTL)
	if _, ok, err := b.TakeSignInFlow(h.ctx, "state-3"); !ok || err != nil {
		t.Fatalf("taken at its expiry: %v %v", ok, err)
	}
	clocks[1].Advance(time.Millisecond)
	if _, ok, err := b.TakeSignInFlow(h.ctx, "state-4"); ok || err != nil {
		t.Fatalf("expired flow taken: %v %v", ok, err)
	}
}

// Proves: starting a flow deletes the flows that expired (abandoned sign-ins do not pile up),
// and keeps those still running.
func TestStartingASignInFlowSweepsExpiredOnes(t *testing.T) {
	h := newHarness(t, at("2026-03-01T10:00:00Z"))
	f := SignInFlow{Provider: "oidc", Session: "{}"}
	if err := h.svc.StartSignInFlow(h.ctx, "old", f); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(SignInFlowTTL / 2)
	if err := h.svc.StartSignInFlow(h.ctx, "running", f); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(SignInFlowTTL/2 + time.Millisecond)
	if err := h.svc.StartSignInFlow(h.ctx, "new", f); err != nil {
		t.Fatal(err)
	}
	var states []string
	err := h.db.Read().QueryRowsForTest(h.ctx, `SELECT state FROM oauth_flows ORDER BY state`, func(row []any) {
		states = append(states, fmt.Sprint(row[0]))
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(states, " "); got != "new running" {
		t.Fatalf("flows kept: %q, want %q", got, "new running")
	}
}
