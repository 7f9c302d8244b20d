package server

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawRequest opens a connection, sends head (and no body, unless head holds some), and returns
// the status line the server answers within 5 s, or "" if it answers nothing by then (it is
// waiting for the body).
func rawRequest(t *testing.T, ts *testServer, head string) string {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

func declared(method, path, token string, size int) string {
	h := method + " " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(size) + "\r\n"
	if token != "" {
		h += "Authorization: Bearer " + token + "\r\n"
	}
	return h + "\r\n"
}

// Proves: a body declared over 64 KiB is refused with 413 before any of it is sent, on the
// report route (even with a valid app key) and on public routes, and a chunked body as soon as
// a chunk would pass the limit: the server never waits for (or holds) such a body. Does not
// measure memory: bench/abuse does (README "Limits").
func TestBodiesOverTheLimitAreRefusedBeforeTheyAreRead(t *testing.T) {
	ts := newTestServer(t)
	for _, tc := range []struct{ name, head string }{
		{"report, 4 MB, no key", declared("POST", "/api/v1/usage", "", 4<<20)},
		{"report, 64 KiB + 1, app key", declared("POST", "/api/v1/usage", ts.appKey, BodyLimit+1)},
		{"login, 100 KB", declared("POST", "/api/v1/auth/login", "", 100_000)},
		{"setup, 4 MB", declared("POST", "/api/v1/setup", "", 4<<20)},
		{"import, 200 KB, no credentials", declared("POST", "/api/v1/members/import", "", 200_000)},
		{"SPA path, 4 MB", declared("POST", "/anything", "", 4<<20)},
		{"report, chunked 1 MiB chunk", "POST /api/v1/usage HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n"},
	} {
		if got := rawRequest(t, ts, tc.head); !strings.HasPrefix(got, "HTTP/1.1 413") {
			t.Errorf("%s: %q, want 413 at once", tc.name, got)
		}
	}
}

// Proves: the class import (an admin route) takes a body over 64 KiB from an admin, with a
// token or the session cookie, but not from a member, an app key or a bad token, whose
// declared size is refused before it is read; and not over 1 MiB from anyone.
func TestLargeBodiesOnlyForTheRouteAndTheAccessThatNeedThem(t *testing.T) {
	ts := newTestServer(t)
	_, memberToken := ts.member("kid@example.org")
	var rows []string
	for i := 0; len(strings.Join(rows, ",")) < 200_000; i++ {
		rows = append(rows, `{"name":"Student `+strconv.Itoa(i)+` `+strings.Repeat("x", 80)+`"}`)
	}
	body := `{"members":[` + strings.Join(rows[:1500], ",") + `]}`
	if len(body) <= BodyLimit {
		t.Fatalf("the body is only %d bytes", len(body))
	}
	ts.do("POST", "/api/v1/members/import", ts.owner, body, 201, nil)
	// The dashboard signs in with the cookie, not a token.
	admin := ts.browser("owner@example.org")
	again := strings.ReplaceAll(body, "Student ", "Pupil ")
	if status, b := ts.sendBrowser(admin, "POST", "/api/v1/members/import", []byte(again)); status != 201 {
		t.Fatalf("import with the session cookie: %d %.200s", status, b)
	}
	for _, tok := range []string{memberToken, ts.appKey, "tj_pat_not-a-token"} {
		if got := rawRequest(t, ts, declared("POST", "/api/v1/members/import", tok, len(body))); !strings.HasPrefix(got, "HTTP/1.1 413") {
			t.Errorf("import by %s…: %q, want 413 at once", tok[:8], got)
		}
	}
	if got := rawRequest(t, ts, declared("POST", "/api/v1/members/import", ts.owner, LargeBodyLimit+1)); !strings.HasPrefix(got, "HTTP/1.1 413") {
		t.Errorf("import over 1 MiB: %q, want 413", got)
	}
}

// Proves: every large-body route exists and is not public, so no stranger gets more than 64 KiB.
func TestLargeBodyRoutesAreSignedIn(t *testing.T) {
	ts := newTestServer(t)
	access := map[string]string{}
	for _, r := range ts.srvRoutes() {
		access[r.Method+" "+r.Path] = r.Access
	}
	for _, r := range largeBodyRoutes {
		if a, ok := access[r]; !ok || a == "public" {
			t.Errorf("%s: access %q", r, a)
		}
	}
}

// Proves: a compressed body is refused (Fiber would inflate it without a limit).
func TestCompressedBodiesAreRefused(t *testing.T) {
	ts := newTestServer(t)
	status, b := ts.send(httpClient, "POST", "/api/v1/auth/login", "", "\x1f\x8b", map[string]string{"Content-Encoding": "gzip"})
	if status != 415 || !strings.Contains(string(b), "Content-Encoding") {
		t.Fatalf("gzip body: %d %s", status, b)
	}
}

// Proves: a connection that sends nothing, one that sends its head too slowly, and a kept-alive
// one after its request are closed by the server after the configured timeouts (short here;
// the defaults are in limits.go and measured by bench/abuse). The bound of 10 s is a deadline
// for the test, not a timing assertion.
func TestIdleAndSlowConnectionsAreClosed(t *testing.T) {
	ts := newTestServerWith(t, Config{ReadTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond})
	for _, tc := range []struct{ name, send string }{
		{"silent", ""},
		{"half a head", "GET /api/v1/healthz HTTP/1.1\r\nHost: x\r\n"},
		{"kept alive", "GET /api/v1/healthz HTTP/1.1\r\nHost: x\r\n\r\n"},
	} {
		c, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, tc.send)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = io.Copy(io.Discard, c) // returns nil at EOF: the server closed it
		c.Close()
		if err != nil {
			t.Errorf("%s: still open after 10 s: %v", tc.name, err)
		}
	}
}
