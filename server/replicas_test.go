package server

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"tokenjar/db"
	"tokenjar/db/dbtest"
)

// newReplicas serves two instances on one PostgreSQL database, each with its own db.Open and
// core.Service, as two `tokenjar serve` processes behind a load balancer: b shares a's owner
// and app key. The tests using it skip on SQLite, where one process owns the file.
func newReplicas(t *testing.T) (a, b *testServer) {
	t.Helper()
	if dbtest.Engine() != db.Postgres {
		t.Skip("PostgreSQL only: replicas share a database server")
	}
	target := dbtest.Target(t)
	open := func() *db.DB {
		d, err := db.Open(target)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Migrate(context.Background()); err != nil {
			d.Close()
			t.Fatal(err)
		}
		return d
	}
	a = serveTestServer(t, open(), Config{})
	a.setUp()
	b = serveTestServer(t, open(), Config{})
	b.owner, b.appKey = a.owner, a.appKey
	return a, b
}

// within polls cond until it holds, failing the test after deadline.
func within(t *testing.T, deadline time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("not within %v: %s", deadline, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Proves: a personal token that replica b has cached (it answered with it) is refused by b
// within a second of being revoked through replica a, and so is an app key b has cached.
// Without the notice b would keep answering from its cache for its TTL (30 s).
func TestReplicaRefusesWhatAnotherRevoked(t *testing.T) {
	a, b := newReplicas(t)
	_, token := a.member("kid@example.org")
	if s := b.meStatus(http.DefaultClient, token); s != 200 {
		t.Fatalf("replica b answered the new token with %d", s)
	}
	ids := a.tokenIDs(token)
	a.do("DELETE", "/api/v1/tokens/"+itoa(ids[0]), token, nil, 200, nil)
	within(t, time.Second, "b refuses the token revoked through a", func() bool {
		return b.meStatus(http.DefaultClient, token) == 401
	})

	var k struct {
		ID  int64
		Key string
	}
	a.do("POST", "/api/v1/apps/1/keys", a.owner, nil, 201, &k)
	b.do("GET", "/api/v1/me", k.Key, nil, 200, nil) // b knows (and caches) the key
	a.do("DELETE", "/api/v1/apps/1/keys/"+itoa(k.ID), a.owner, nil, 200, nil)
	within(t, time.Second, "b refuses the app key revoked through a", func() bool {
		status, _ := b.send(http.DefaultClient, "GET", "/api/v1/me", k.Key, nil, nil)
		return status == 401
	})
}

// Proves: a member disabled through replica a is refused by replica b within a second, though
// b had their token cached, and b's live streams of that member (by token and by session) end.
func TestReplicaRefusesAMemberDisabledOnAnother(t *testing.T) {
	a, b := newReplicas(t)
	kid, token := a.member("kid@example.org")
	if s := b.meStatus(http.DefaultClient, token); s != 200 {
		t.Fatalf("replica b answered the new token with %d", s)
	}
	byToken := openStream(t, b, http.DefaultClient, token)
	bySession := openStream(t, b, b.browser("kid@example.org"), "")
	a.do("PATCH", "/api/v1/members/"+itoa(kid), a.owner, map[string]any{"disabled": true}, 200, nil)
	within(t, time.Second, "b refuses the member disabled through a", func() bool {
		return b.meStatus(http.DefaultClient, token) == 401
	})
	byToken.waitEnded("on b after its member was disabled through a")
	bySession.waitEnded("on b after its member was disabled through a")
}

// Proves: an open usage stream on replica b gets the event reported through replica a (once),
// and a stream on b ends when its token is revoked through a, while the same member's session
// stream on b stays open and gets the next event. Without notices b's stream would see nothing
// of a's reports, and would end only at its periodic recheck (15 s; waitEnded waits 5).
func TestReplicaStreamsFollowAnother(t *testing.T) {
	a, b := newReplicas(t)
	kid, token := a.member("kid@example.org")
	byToken := openStream(t, b, http.DefaultClient, token)
	bySession := openStream(t, b, b.browser("kid@example.org"), "")
	first := a.reportFor(kid, "reported through a")
	byToken.waitFor(first)
	bySession.waitFor(first)

	ids := a.tokenIDs(token)
	a.do("DELETE", "/api/v1/tokens/"+itoa(ids[0]), token, nil, 200, nil)
	byToken.waitEnded("on b after its token was revoked through a")
	second := a.reportFor(kid, "after the revocation")
	bySession.waitFor(second)
	if slices.Contains(byToken.ids(), second) {
		t.Fatalf("the revoked token's stream on b delivered event %d", second)
	}
	got := bySession.ids()
	if n := len(got); n != 2 || got[0] != first || got[1] != second {
		t.Fatalf("the session stream on b got %v, want [%d %d] once each", got, first, second)
	}
}

// Proves: a report through replica b reaches a stream on b once (its own notice is skipped).
func TestReplicaDeliversItsOwnEventsOnce(t *testing.T) {
	_, b := newReplicas(t)
	kid, token := b.member("kid@example.org")
	s := openStream(t, b, http.DefaultClient, token)
	first := b.reportFor(kid, "through b")
	second := b.reportFor(kid, "through b again")
	s.waitFor(second)
	if got := s.ids(); len(got) != 2 || got[0] != first {
		t.Fatalf("the stream got %v, want [%d %d]", got, first, second)
	}
}

// Proves: an allowance granted through replica a pays the next report charged through replica
// b, though b had just charged the same member when they received none. b must not decide who
// pays from what it remembered of an earlier charge (its grantee cache): money is decided from
// the database only.
func TestReplicaChargesAnAllowanceGrantedOnAnother(t *testing.T) {
	a, b := newReplicas(t)
	granterID, granter := a.member("granter@example.org")
	kid, _ := a.member("kid@example.org")
	a.grant(granterID, "addon", "10")
	report := func() string {
		var r struct{ BillingSource string }
		b.do("POST", "/api/v1/usage", b.appKey, map[string]any{"aiAgentId": "homework-helper", "userId": kid, "description": "x", "credits": 1}, 201, &r)
		return r.BillingSource
	}
	if got := report(); got != "personal" {
		t.Fatalf("before any allowance b billed %q", got)
	}
	a.do("POST", "/api/v1/delegations", granter, map[string]any{"granteeId": kid, "credits": 5, "period": "week"}, 201, nil)
	if got := report(); got == "personal" {
		t.Fatal("b billed the kid personally though an allowance from the granter had committed")
	}
	a.checkInvariant()
}

// Proves: a grant made through replica a sends a "balance" notice to the member's open stream on
// replica b (it reads GET /balance then). Without the notice b's stream would get nothing.
func TestReplicaStreamHearsOfAGrantOnAnother(t *testing.T) {
	a, b := newReplicas(t)
	kid, token := a.member("kid@example.org")
	s := openStream(t, b, http.DefaultClient, token)
	a.grant(kid, "addon", "5")
	within(t, 5*time.Second, "b's stream gets a balance notice", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.balances > 0 && s.bad == 0
	})
}
