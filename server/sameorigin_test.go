package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// loginWith posts the owner's right credentials with the given headers and returns the status,
// the body and whether a session cookie was set.
func loginWith(ts *testServer, path string, header map[string]string) (int, string, bool) {
	ts.t.Helper()
	req, _ := http.NewRequest("POST", ts.url+path, strings.NewReader(`{"email":"owner@example.org","password":"password123"}`))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	cookie := false
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie && c.Value != "" {
			cookie = true
		}
	}
	return resp.StatusCode, string(b), cookie
}

// Proves: a cross-site form (text/plain, no Content-Type, or urlencoded) and a JSON request
// from another site's page (Origin) get no session cookie from the cookie-setting routes
// (login CSRF); the same-site JSON sign-in, with or without Origin, still works. Does not
// prove anything about browsers' SameSite handling.
func TestLoginRefusesCrossSiteRequests(t *testing.T) {
	ts := newTestServer(t)
	for _, tc := range []struct {
		name   string
		header map[string]string
		status int
		field  string
	}{
		{"text/plain from another site", map[string]string{"Content-Type": "text/plain", "Origin": "https://evil.example"}, 400, "Content-Type"},
		{"text/plain, no Origin", map[string]string{"Content-Type": "text/plain"}, 400, "Content-Type"},
		{"a form", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 400, "Content-Type"},
		{"no Content-Type", nil, 400, "Content-Type"},
		{"JSON from another site", map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"}, 403, "Origin"},
		{"JSON from another port", map[string]string{"Content-Type": "application/json", "Origin": strings.Replace(ts.url, "127.0.0.1:", "127.0.0.1:1", 1)}, 403, "Origin"},
		{"JSON from a sandboxed frame", map[string]string{"Content-Type": "application/json", "Origin": "null"}, 403, "Origin"},
		{"same-site JSON", map[string]string{"Content-Type": "application/json; charset=utf-8", "Origin": ts.url}, 200, ""},
		{"JSON without Origin (not a browser)", map[string]string{"Content-Type": "application/json"}, 200, ""},
	} {
		status, body, cookie := loginWith(ts, "/api/v1/auth/login", tc.header)
		if status != tc.status || (tc.field != "" && !strings.Contains(body, `"field":"`+tc.field+`"`)) {
			t.Errorf("%s: %d %s, want %d naming %s", tc.name, status, body, tc.status, tc.field)
		}
		if cookie != (tc.status == 200) {
			t.Errorf("%s: session cookie set: %v", tc.name, cookie)
		}
	}
	// The other routes that set the cookie are guarded the same way.
	for _, path := range []string{"/api/v1/setup", "/api/v1/auth/code", "/api/v1/invites/x/accept"} {
		if status, body, cookie := loginWith(ts, path, map[string]string{"Content-Type": "text/plain"}); status != 400 || cookie {
			t.Errorf("%s text/plain: %d %s (cookie %v)", path, status, body, cookie)
		}
		if status, body, cookie := loginWith(ts, path, map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"}); status != 403 || cookie {
			t.Errorf("%s from another site: %d %s (cookie %v)", path, status, body, cookie)
		}
	}
}

// Proves: behind a proxy that does not pass the Host on, the configured base URL is the site.
func TestLoginAcceptsTheBaseURLAsOrigin(t *testing.T) {
	ts := newTestServerWith(t, Config{BaseURL: "https://jar.example.org"})
	if status, body, _ := loginWith(ts, "/api/v1/auth/login", map[string]string{"Content-Type": "application/json", "Origin": "https://jar.example.org"}); status != 200 {
		t.Fatalf("from the base URL: %d %s", status, body)
	}
}

// Proves: every public POST route is either guarded as a cookie-setting route or known not to
// set the cookie, so a new sign-in route cannot be added without deciding.
func TestEveryPublicPostRouteIsClassified(t *testing.T) {
	ts := newTestServer(t)
	setsNoCookie := map[string]bool{"POST /auth/logout": true}
	for _, r := range ts.srvRoutes() {
		if r.Method == "POST" && r.Access == "public" && !isCookieRoute(r) && !setsNoCookie[r.Method+" "+r.Path] {
			t.Errorf("%s %s: public POST route neither in cookieRoutes nor known to set no cookie", r.Method, r.Path)
		}
	}
}
