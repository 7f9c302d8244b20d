package server

import (
	"net/http"
	"testing"
)

// meStatus is the status GET /me answers a token, or a browser when token is "".
func (ts *testServer) meStatus(client *http.Client, token string) int {
	ts.t.Helper()
	status, _ := ts.send(client, "GET", "/api/v1/me", token, nil, nil)
	return status
}

// TestSignOutEverywhereCanEndTokens proves "sign out everywhere" ends every session and, only
// when revokeTokens is sent, every personal token too (before, tokens always survived it); an
// empty body still works as it did.
func TestSignOutEverywhereCanEndTokens(t *testing.T) {
	ts := newTestServer(t)
	_, token := ts.member("kid@example.org")
	browser := ts.browser("kid@example.org")
	if status, b := ts.sendBrowser(browser, "POST", "/api/v1/auth/logout-all", nil); status != 200 {
		t.Fatalf("logout-all: %d %s", status, b)
	}
	if ts.meStatus(browser, "") != 401 || ts.meStatus(http.DefaultClient, token) != 200 {
		t.Fatal("without revokeTokens, sessions end and tokens keep working")
	}
	browser = ts.browser("kid@example.org")
	if status, b := ts.sendBrowser(browser, "POST", "/api/v1/auth/logout-all", map[string]any{"revokeTokens": true}); status != 200 {
		t.Fatalf("logout-all: %d %s", status, b)
	}
	if ts.meStatus(browser, "") != 401 || ts.meStatus(http.DefaultClient, token) != 401 {
		t.Fatal("with revokeTokens, sessions and tokens end")
	}
	ts.wantInvalid("POST", "/api/v1/auth/logout-all", ts.owner, map[string]any{"revokeTokens": "yes"}, "revokeTokens")
	if ts.meStatus(http.DefaultClient, ts.owner) != 200 {
		t.Fatal("a refused request signed the owner out")
	}
}

// TestPasswordChangeCanEndTokens proves a member changing their own password keeps the session
// they change it from, ends their other sessions, and revokes their personal tokens only when
// they ask with revokeTokens. Before, there was no way to end tokens with it.
func TestPasswordChangeCanEndTokens(t *testing.T) {
	ts := newTestServer(t)
	_, token := ts.member("kid@example.org")
	here, other := ts.browser("kid@example.org"), ts.browser("kid@example.org")
	if status, b := ts.sendBrowser(here, "PUT", "/api/v1/me/password", map[string]any{"current": "password123", "password": "password456"}); status != 200 {
		t.Fatalf("change: %d %s", status, b)
	}
	if ts.meStatus(here, "") != 200 || ts.meStatus(other, "") != 401 || ts.meStatus(http.DefaultClient, token) != 200 {
		t.Fatal("without revokeTokens: this session stays, other sessions end, tokens keep working")
	}
	if status, b := ts.sendBrowser(here, "PUT", "/api/v1/me/password", map[string]any{"current": "password456", "password": "password123", "revokeTokens": true}); status != 200 {
		t.Fatalf("change: %d %s", status, b)
	}
	if ts.meStatus(here, "") != 200 || ts.meStatus(http.DefaultClient, token) != 401 {
		t.Fatal("with revokeTokens: this session stays and tokens end")
	}
}

// TestAdminPasswordResetCanEndTokens proves an admin's reset ends the member's sessions and, when
// the member asks for it (revokeTokens), their personal tokens, recorded in the audit log. A
// refused reset (a short password) ends nothing.
func TestAdminPasswordResetCanEndTokens(t *testing.T) {
	ts := newTestServer(t)
	kid, token := ts.member("kid@example.org")
	browser := ts.browser("kid@example.org")
	ts.wantInvalid("POST", "/api/v1/members/"+itoa(kid)+"/password", ts.owner, map[string]any{"password": "short", "revokeTokens": true}, "password")
	if ts.meStatus(browser, "") != 200 || ts.meStatus(http.DefaultClient, token) != 200 {
		t.Fatal("a refused reset ended credentials")
	}
	ts.do("POST", "/api/v1/members/"+itoa(kid)+"/password", ts.owner, map[string]any{"password": "password456"}, 200, nil)
	if ts.meStatus(browser, "") != 401 || ts.meStatus(http.DefaultClient, token) != 200 {
		t.Fatal("without revokeTokens: sessions end, tokens keep working")
	}
	ts.do("POST", "/api/v1/members/"+itoa(kid)+"/password", ts.owner, map[string]any{"password": "password123", "revokeTokens": true}, 200, nil)
	if ts.meStatus(http.DefaultClient, token) != 401 {
		t.Fatal("with revokeTokens the member's tokens end")
	}
	var audit struct {
		Items []struct{ Action, Target, Detail string }
	}
	ts.do("GET", "/api/v1/audit", ts.owner, nil, 200, &audit)
	found := false
	for _, e := range audit.Items {
		found = found || (e.Action == "tokens_revoked" && e.Target == "kid@example.org" && e.Detail == "1 personal token, with a password reset")
	}
	if !found {
		t.Fatalf("no tokens_revoked audit entry: %+v", audit.Items)
	}
}
