package server

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"tokenjar/db"
	"tokenjar/db/dbtest"
)

// Proves: a provider sign-in started through one replica completes through another (two servers
// on one PostgreSQL database, no sticky sessions; on SQLite one server owns the file, so both
// ends are the same server), and its state works once: the same callback replayed, with the
// browser's cookie put back, through either replica is refused and writes nothing.
// Does not prove: expiry (core's TestSignInFlowCrossesReplicasOnce sets the clock for that).
func TestProviderSignInCompletesOnAnotherReplica(t *testing.T) {
	f := newFakeOIDC(t)
	f.configure(t)
	a := newTestServer(t)
	b := a
	if dbtest.Engine() == db.Postgres {
		b = a.replica(Config{})
	}
	memberID, _ := a.member("pupil@school.example.org")

	client := newJarClient()
	state := a.startSignIn(t, "oidc", client, f, "")
	to := b.finishSignIn(t, "oidc", client, state, f.issue("s-1", "pupil@school.example.org", true, time.Minute))
	b.signedInAs(t, client, to, memberID)

	// Replay: a fresh browser holding the same state cookie, with a fresh good code.
	before := a.signinRows()
	for _, ts := range []*testServer{a, b} {
		replay := newJarClient()
		u, _ := url.Parse(ts.url + "/api/v1/auth/")
		replay.Jar.SetCookies(u, []*http.Cookie{{Name: oauthCookie, Value: state, Path: "/api/v1/auth/"}})
		to := ts.finishSignIn(t, "oidc", replay, state, f.issue("s-1", "pupil@school.example.org", true, time.Minute))
		ts.refused(t, replay, to, "has expired", before)
	}
}
