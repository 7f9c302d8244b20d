package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestMembersCannotReadEachOthersData(t *testing.T) {
	ts := newTestServer(t)
	aliceID, alice := ts.member("alice@example.org")
	bobID, bob := ts.member("bob@example.org")
	ts.grant(aliceID, "addon", "100")
	ts.grant(bobID, "addon", "100")
	report := func(user int64, desc string) int64 {
		var r struct{ ID int64 }
		ts.do("POST", "/api/v1/usage", ts.appKey, map[string]any{"aiAgentId": "homework-helper", "userId": user, "description": desc, "credits": 1, "model": "gpt-4o"}, 201, &r)
		return r.ID
	}
	aliceEvent := report(aliceID, "alice secret")
	bobEvent := report(bobID, "bob secret")

	// Bob's own views contain nothing of Alice's.
	for _, path := range []string{"/api/v1/usage", "/api/v1/usage/export?format=csv", "/api/v1/usage/export?format=json", "/api/v1/ledger", "/api/v1/usage/aggregate?by=model", "/api/v1/granted/usage"} {
		b := ts.do("GET", path, bob, nil, 200, nil)
		if strings.Contains(string(b), "alice") {
			t.Errorf("%s shows Alice's data to Bob: %s", path, b)
		}
	}
	if b := ts.do("GET", "/api/v1/usage", bob, nil, 200, nil); !strings.Contains(string(b), "bob secret") {
		t.Errorf("Bob cannot see his own event: %s", b)
	}
	// Asking for Alice's data directly is refused.
	ts.do("GET", "/api/v1/usage/"+itoa(aliceEvent), bob, nil, 404, nil)
	ts.do("GET", "/api/v1/usage/"+itoa(bobEvent), bob, nil, 200, nil)
	ts.do("GET", "/api/v1/usage?member="+itoa(aliceID), bob, nil, 403, nil)
	ts.do("GET", "/api/v1/balance?userId="+itoa(aliceID), bob, nil, 403, nil)
	ts.do("GET", "/api/v1/balance?userEmail=alice@example.org", bob, nil, 403, nil)
	ts.do("GET", "/api/v1/ledger?member="+itoa(aliceID), bob, nil, 403, nil)
	ts.do("GET", "/api/v1/usage/aggregate?scope=all", bob, nil, 403, nil)
	ts.do("GET", "/api/v1/members", bob, nil, 403, nil)
	ts.do("POST", "/api/v1/usage/"+itoa(aliceEvent)+"/refund", bob, nil, 403, nil)
	ts.do("POST", "/api/v1/members/"+itoa(bobID)+"/grants", bob, `{"kind":"addon","credits":5}`, 403, nil)

	// Admins see balances and totals, not another member's per-request log.
	ts.do("GET", "/api/v1/balance?userId="+itoa(aliceID), ts.owner, nil, 200, nil)
	ts.do("GET", "/api/v1/usage/"+itoa(aliceEvent), ts.owner, nil, 404, nil)
	var all struct{ Totals struct{ Requests int64 } }
	ts.do("GET", "/api/v1/usage/aggregate?scope=all&by=member", ts.owner, nil, 200, &all)
	if all.Totals.Requests != 2 {
		t.Errorf("admin totals: %+v", all)
	}
	if b := ts.do("GET", "/api/v1/usage", ts.owner, nil, 200, nil); strings.Contains(string(b), "secret") {
		t.Errorf("owner's usage log shows members' events: %s", b)
	}
	// An app key may read a member's balance (to check before expensive work) but not logs.
	ts.do("GET", "/api/v1/balance?userId="+itoa(aliceID), ts.appKey, nil, 200, nil)
	ts.do("GET", "/api/v1/usage", ts.appKey, nil, 403, nil)
	_ = alice
}

func TestCookieRequestsNeedTheCSRFToken(t *testing.T) {
	ts := newTestServer(t)
	client := ts.browser("owner@example.org")
	// GET with the cookie works without the token.
	if status, b := ts.send(client, "GET", "/api/v1/me", "", nil, nil); status != 200 {
		t.Fatalf("GET /me with cookie: %d %s", status, b)
	}
	// A state change with the cookie but without the token is refused, and writes nothing.
	status, b := ts.send(client, "POST", "/api/v1/tokens", "", map[string]any{"name": "x"}, nil)
	if status != 403 || !strings.Contains(string(b), "CSRF") {
		t.Fatalf("POST without CSRF: %d %s", status, b)
	}
	status, _ = ts.send(client, "POST", "/api/v1/tokens", "", map[string]any{"name": "x"}, map[string]string{csrfHeader: "wrong"})
	if status != 403 {
		t.Fatalf("POST with a wrong CSRF token: %d", status)
	}
	if status, b := ts.sendBrowser(client, "POST", "/api/v1/tokens", map[string]any{"name": "x"}); status != 201 {
		t.Fatalf("POST with CSRF: %d %s", status, b)
	}
	// Sign-out ends the session at once.
	if status, _ := ts.sendBrowser(client, "POST", "/api/v1/auth/logout", nil); status != 200 {
		t.Fatal("logout failed")
	}
	if status, _ := ts.send(client, "GET", "/api/v1/me", "", nil, nil); status != 401 {
		t.Fatalf("after logout /me = %d", status)
	}
}

func TestLoginErrorsAndThrottle(t *testing.T) {
	ts := newTestServer(t)
	for i := 0; i < 5; i++ {
		ts.do("POST", "/api/v1/auth/login", "", map[string]any{"email": "owner@example.org", "password": "wrong-password"}, 401, nil)
	}
	b := ts.do("POST", "/api/v1/auth/login", "", map[string]any{"email": "owner@example.org", "password": "password123"}, 429, nil)
	if !strings.Contains(string(b), "try again") {
		t.Fatalf("throttle message: %s", b)
	}
	ts.do("POST", "/api/v1/setup", "", map[string]any{"email": "x@example.org", "name": "X", "password": "password123"}, 409, nil)
}

func TestSPAFallbackNeverSwallowsTheAPI(t *testing.T) {
	ts := newTestServer(t)
	resp, err := http.Get(ts.url + "/usage?model=gpt-4o")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-cache" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("SPA route: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = http.Get(ts.url + "/assets/app-123.js")
	resp.Body.Close()
	if !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("asset cache header: %v", resp.Header)
	}
	b := ts.do("GET", "/api/v1/no-such-thing", ts.owner, nil, 404, nil)
	if !strings.Contains(string(b), `"not_found"`) {
		t.Fatalf("unknown API path: %s", b)
	}
	ts.do("GET", "/api/nope", "", nil, 404, nil)
}

func TestServerErrorsHideInternals(t *testing.T) {
	ts := newTestServer(t)
	ts.db.Close() // every query now fails inside the server
	status, b := ts.send(httpClient, "GET", "/api/v1/setup", "", nil, nil)
	var e struct {
		Error struct{ Code, Message string }
	}
	json.Unmarshal(b, &e)
	if status != 500 || e.Error.Code != "internal" || e.Error.Message != "internal error" {
		t.Fatalf("500 reply: %d %s", status, b)
	}
	if strings.Contains(string(b), "sql") || strings.Contains(string(b), "closed") {
		t.Fatalf("500 leaks internals: %s", b)
	}
	if !strings.Contains(ts.logs.String(), "request failed") {
		t.Fatalf("the failure was not logged: %s", ts.logs.String())
	}
	_ = context.Background
}
