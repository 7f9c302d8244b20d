package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"testing"
	"testing/fstest"

	"tokenjar/db"
	"tokenjar/db/dbtest"
	"tokenjar/server/core"
)

type testServer struct {
	t      *testing.T
	url    string
	db     *db.DB
	svc    *core.Service
	owner  string // owner's personal token
	appKey string
	logs   *bytes.Buffer
	target string // the database d opened (file or URL), for replicas
}

func newTestServer(t *testing.T) *testServer { t.Helper(); return newTestServerWith(t, Config{}) }

func newTestServerWith(t *testing.T, cfg Config, opts ...Option) *testServer {
	t.Helper()
	ts := newBareTestServer(t, cfg, opts...)
	ts.setUp()
	return ts
}

// setUp makes the owner (first-run setup) and an app.
func (ts *testServer) setUp() {
	ts.t.Helper()
	var setup struct{ Token string }
	ts.do("POST", "/api/v1/setup", "", map[string]any{"email": "owner@example.org", "name": "Owner", "password": "password123"}, 201, &setup)
	ts.owner = setup.Token
	var app struct{ Key string }
	ts.do("POST", "/api/v1/apps", ts.owner, map[string]any{"name": "Homework Helper"}, 201, &app)
	ts.appKey = app.Key
}

// newBareTestServer is a fresh instance before its first-run setup: no user, no app.
func newBareTestServer(t *testing.T, cfg Config, opts ...Option) *testServer {
	t.Helper()
	return startTestServer(t, dbtest.Target(t), cfg, opts...)
}

// replica starts another server on ts's database, as a second replica behind a load balancer
// would be (PostgreSQL: each has its own pool, caches and charger).
func (ts *testServer) replica(cfg Config, opts ...Option) *testServer {
	ts.t.Helper()
	r := startTestServer(ts.t, ts.target, cfg, opts...)
	r.owner, r.appKey = ts.owner, ts.appKey
	return r
}

// startTestServer runs a server on the database at target.
func startTestServer(t *testing.T, target string, cfg Config, opts ...Option) *testServer {
	t.Helper()
	d, err := db.Open(target)
	if err != nil {
		t.Fatal(err)
	}
	ts := serveTestServer(t, d, cfg, opts...)
	ts.target = target
	return ts
}

// serveTestServer serves an instance on d (migrated first), closed (d too) when the test ends.
func serveTestServer(t *testing.T, d *db.DB, cfg Config, opts ...Option) *testServer {
	t.Helper()
	ctx := context.Background()
	if err := d.Migrate(ctx); err != nil {
		d.Close()
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	svc, err := core.New(ctx, d, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	spa := fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>spa</title>")}, "assets/app-123.js": {Data: []byte("console.log(1)")}}
	srv := New(svc, spa, cfg, log, opts...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		srv.Shutdown()
		svc.Close()
		d.Close()
	})
	return &testServer{t: t, url: "http://" + ln.Addr().String(), db: d, svc: svc, logs: logs}
}

// do sends a request with an optional bearer token and checks the status. body may be raw bytes.
func (ts *testServer) do(method, path, token string, body any, wantStatus int, out any) []byte {
	ts.t.Helper()
	status, b := ts.send(http.DefaultClient, method, path, token, body, nil)
	if status != wantStatus {
		ts.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, wantStatus, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			ts.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	return b
}

func (ts *testServer) send(client *http.Client, method, path, token string, body any, header map[string]string) (int, []byte) {
	ts.t.Helper()
	var r io.Reader
	switch v := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(v)
	case string:
		r = bytes.NewReader([]byte(v))
	default:
		b, _ := json.Marshal(v)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, ts.url+path, r)
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// member creates a member with a password and returns their id and a personal token.
func (ts *testServer) member(email string) (int64, string) {
	ts.t.Helper()
	var m struct{ ID int64 }
	ts.do("POST", "/api/v1/members", ts.owner, map[string]any{"email": email, "name": email, "password": "password123"}, 201, &m)
	client := ts.browser(email)
	var tok struct{ Token string }
	status, b := ts.sendBrowser(client, "POST", "/api/v1/tokens", map[string]any{"name": "test"})
	if status != 201 {
		ts.t.Fatalf("create token: %d %s", status, b)
	}
	json.Unmarshal(b, &tok)
	return m.ID, tok.Token
}

// browser signs in with the cookie, like the SPA.
func (ts *testServer) browser(email string) *http.Client {
	ts.t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	status, b := ts.send(client, "POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": "password123"}, nil)
	if status != 200 {
		ts.t.Fatalf("login %s: %d %s", email, status, b)
	}
	return client
}

// sendBrowser sends a cookie request with the CSRF header, as the SPA does.
func (ts *testServer) sendBrowser(client *http.Client, method, path string, body any) (int, []byte) {
	ts.t.Helper()
	req, _ := http.NewRequest("GET", ts.url, nil)
	csrf := ""
	for _, c := range client.Jar.Cookies(req.URL) {
		if c.Name == csrfCookie {
			csrf = c.Value
		}
	}
	return ts.send(client, method, path, "", body, map[string]string{csrfHeader: csrf})
}

func (ts *testServer) grant(userID int64, kind string, credits string) {
	ts.t.Helper()
	body := `{"kind":"` + kind + `","credits":` + credits + `}`
	ts.do("POST", "/api/v1/members/"+itoa(userID)+"/grants", ts.owner, body, 201, nil)
}

func (ts *testServer) countEvents() int64 {
	ts.t.Helper()
	var n int64
	if err := ts.db.Read().QueryRowForTest(context.Background(), `SELECT count(*) FROM usage_events`, &n); err != nil {
		ts.t.Fatal(err)
	}
	return n
}

func (ts *testServer) checkInvariant() {
	ts.t.Helper()
	bad, err := ts.db.Read().CheckLedger(context.Background())
	if err != nil {
		ts.t.Fatal(err)
	}
	if len(bad) > 0 {
		ts.t.Fatalf("ledger invariant: %v", bad)
	}
}

func itoa(n int64) string { return json.Number(jsonInt(n)).String() }

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

var httpClient = http.DefaultClient

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// srvRoutes lists the API routes (through a throwaway Server, since the route list is data).
func (ts *testServer) srvRoutes() []Route {
	return (&Server{}).Routes()
}
