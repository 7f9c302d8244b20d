package server

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tokenjar/db"
	"tokenjar/server/core"
)

// liveStream is an open GET /usage/stream as a viewer sees it.
type liveStream struct {
	t   *testing.T
	mu  sync.Mutex
	got []int64
	raw map[int64]string // each usage event's data, as sent
	// balances counts "balance" notices, whose data must be {} (anything else is counted in bad).
	balances, bad int
	ended         chan struct{} // closed when the server ends the response
	stop          func()
}

// openStream connects with the given client (a cookie jar) and bearer token ("" for none).
func openStream(t *testing.T, ts *testServer, client *http.Client, token string) *liveStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.url+"/api/v1/usage/stream", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode != 200 {
		cancel()
		t.Fatalf("stream: %v %v", err, resp)
	}
	ls := &liveStream{t: t, ended: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		defer close(ls.ended)
		sc := bufio.NewScanner(resp.Body)
		first := true
		event := ""
		for sc.Scan() {
			line := sc.Text()
			if first && strings.HasPrefix(line, ": connected") {
				first = false
				close(ready)
			}
			if name, ok := strings.CutPrefix(line, "event: "); ok {
				event = name
				continue
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok && event == "balance" {
				ls.mu.Lock()
				if data == "{}" {
					ls.balances++
				} else {
					ls.bad++
				}
				ls.mu.Unlock()
			} else if ok {
				var it struct{ ID int64 }
				json.Unmarshal([]byte(data), &it)
				ls.mu.Lock()
				ls.got = append(ls.got, it.ID)
				if ls.raw == nil {
					ls.raw = map[int64]string{}
				}
				ls.raw[it.ID] = data
				ls.mu.Unlock()
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatal("stream never connected")
	}
	ls.stop = func() { cancel(); resp.Body.Close(); <-ls.ended }
	t.Cleanup(ls.stop)
	return ls
}

func (ls *liveStream) ids() []int64 {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return slices.Clone(ls.got)
}

// waitFor waits (5 s at most) until the stream delivered the event.
func (ls *liveStream) waitFor(id int64) {
	ls.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Contains(ls.ids(), id) {
		if time.Now().After(deadline) {
			ls.t.Fatalf("event %d never arrived; got %v", id, ls.ids())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitEnded waits (5 s at most) until the server ended the stream.
func (ls *liveStream) waitEnded(why string) {
	ls.t.Helper()
	select {
	case <-ls.ended:
	case <-time.After(5 * time.Second):
		ls.t.Fatalf("the stream is still open %s", why)
	}
}

func (ls *liveStream) isOpen() bool {
	select {
	case <-ls.ended:
		return false
	default:
		return true
	}
}

// reportFor makes a report for a member with the app key and returns its id.
func (ts *testServer) reportFor(userID int64, desc string) int64 {
	ts.t.Helper()
	var r struct{ ID int64 }
	ts.do("POST", "/api/v1/usage", ts.appKey, map[string]any{"aiAgentId": "homework-helper", "userId": userID, "description": desc, "credits": 1}, 201, &r)
	return r.ID
}

func (ts *testServer) tokenIDs(token string) []int64 {
	ts.t.Helper()
	var list struct{ Items []struct{ ID int64 } }
	ts.do("GET", "/api/v1/tokens", token, nil, 200, &list)
	var out []int64
	for _, it := range list.Items {
		out = append(out, it.ID)
	}
	return out
}

// TestStreamEndsWhenItsTokenIsRevoked proves a stream opened with a personal token ends at once
// when that token is revoked, and the report made afterwards never reaches it, while the same
// member's stream opened with a session stays open and gets the report. Before, the revoked
// token's stream kept delivering new events with their descriptions.
func TestStreamEndsWhenItsTokenIsRevoked(t *testing.T) {
	ts := newTestServer(t)
	kid, kidToken := ts.member("kid@example.org")
	browser := ts.browser("kid@example.org")
	byToken := openStream(t, ts, http.DefaultClient, kidToken)
	bySession := openStream(t, ts, browser, "")
	first := ts.reportFor(kid, "before")
	byToken.waitFor(first)

	ids := ts.tokenIDs(kidToken)
	if status, b := ts.sendBrowser(browser, "DELETE", "/api/v1/tokens/"+itoa(ids[0]), nil); status != 200 {
		t.Fatalf("revoke: %d %s", status, b)
	}
	byToken.waitEnded("after its token was revoked")
	after := ts.reportFor(kid, "secret after revocation")
	bySession.waitFor(after)
	if slices.Contains(byToken.ids(), after) {
		t.Fatalf("the revoked token's stream delivered event %d", after)
	}
}

// TestStreamEndsWhenItsMemberIsDisabled proves every stream of a member, by token and by
// session, ends at once when an admin disables the member, and that a later event that would
// have been theirs (billed to an allowance they granted, reported before disabling took effect
// on it) is not delivered. Before, the streams stayed open.
func TestStreamEndsWhenItsMemberIsDisabled(t *testing.T) {
	ts := newTestServer(t)
	granterID, granter := ts.member("granter@example.org")
	kid, _ := ts.member("kid@example.org")
	ts.grant(granterID, "addon", "10")
	ts.do("POST", "/api/v1/delegations", granter, map[string]any{"granteeId": kid, "credits": 5, "period": "week"}, 201, nil)
	byToken := openStream(t, ts, http.DefaultClient, granter)
	bySession := openStream(t, ts, ts.browser("granter@example.org"), "")
	paid := ts.reportFor(kid, "paid by the allowance")
	byToken.waitFor(paid)
	bySession.waitFor(paid)

	ts.do("PATCH", "/api/v1/members/"+itoa(granterID), ts.owner, map[string]any{"disabled": true}, 200, nil)
	byToken.waitEnded("after its member was disabled")
	bySession.waitEnded("after its member was disabled")
	own := ts.reportFor(kid, "after disabling")
	for _, s := range []*liveStream{byToken, bySession} {
		if slices.Contains(s.ids(), own) {
			t.Fatalf("a disabled member's stream delivered event %d", own)
		}
	}
}

// TestStreamEndsWithItsSession proves a cookie stream ends when its session ends: by signing out
// in that browser, and by "sign out everywhere" from another. A token stream survives sign out
// everywhere unless revokeTokens is asked for.
func TestStreamEndsWithItsSession(t *testing.T) {
	ts := newTestServer(t)
	kid, kidToken := ts.member("kid@example.org")
	a := ts.browser("kid@example.org")
	b := ts.browser("kid@example.org")
	streamA := openStream(t, ts, a, "")
	streamB := openStream(t, ts, b, "")
	byToken := openStream(t, ts, http.DefaultClient, kidToken)

	if status, body := ts.sendBrowser(a, "POST", "/api/v1/auth/logout", nil); status != 200 {
		t.Fatalf("logout: %d %s", status, body)
	}
	streamA.waitEnded("after its session signed out")
	if !streamB.isOpen() {
		t.Fatal("signing out one browser ended another browser's stream")
	}

	ts.do("POST", "/api/v1/auth/logout-all", kidToken, nil, 200, nil)
	streamB.waitEnded("after sign out everywhere")
	ev := ts.reportFor(kid, "tokens still live")
	byToken.waitFor(ev)

	ts.do("POST", "/api/v1/auth/logout-all", kidToken, map[string]any{"revokeTokens": true}, 200, nil)
	byToken.waitEnded("after sign out everywhere with revokeTokens")
}

// TestStreamRechecksCredentialsEndedElsewhere proves a stream checks its credential before it
// sends an event, so a token revoked where this process cannot see it (another process on the
// same database, simulated by writing to the database directly) ends the stream before the
// next event goes out. The check's age limit is set to 0 here; in production it is a second.
func TestStreamRechecksCredentialsEndedElsewhere(t *testing.T) {
	old := streamRecheckBeforeSend
	streamRecheckBeforeSend = 0
	t.Cleanup(func() { streamRecheckBeforeSend = old })
	ts := newTestServer(t)
	kid, kidToken := ts.member("kid@example.org")
	s := openStream(t, ts, http.DefaultClient, kidToken)
	first := ts.reportFor(kid, "before")
	s.waitFor(first)
	id := ts.tokenIDs(kidToken)[0]
	if err := ts.db.Update(context.Background(), func(c *db.Conn) error { return c.RevokeToken(context.Background(), kid, id, time.Now().UnixMilli()) }); err != nil {
		t.Fatal(err)
	}
	after := ts.reportFor(kid, "secret after revocation elsewhere")
	s.waitEnded("after its token was revoked in the database")
	if slices.Contains(s.ids(), after) {
		t.Fatalf("the stream delivered event %d after its token was revoked", after)
	}
}

func (ls *liveStream) notices() (balances, bad int) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.balances, ls.bad
}

// Proves: over the wire, a gateway hold and its settle send "balance" notices (data {}) to the
// member and to the granter whose allowance the hold took, and none to another member; the
// settle's usage event still goes to both. Not: what the dashboard does with them (e2e).
func TestStreamSendsBalanceNotices(t *testing.T) {
	ts := newTestServer(t)
	kid, kidToken := ts.member("kid@example.org")
	_, otherToken := ts.member("other@example.org")
	var me struct{ ID int64 }
	ts.do("GET", "/api/v1/me", ts.owner, nil, 200, &me)
	ts.grant(me.ID, "addon", "1000")
	ts.do("POST", "/api/v1/delegations", ts.owner, map[string]any{"granteeId": kid, "credits": 50, "period": "day"}, 201, nil)
	kidLive := openStream(t, ts, http.DefaultClient, kidToken)
	ownerLive := openStream(t, ts, http.DefaultClient, ts.owner)
	otherLive := openStream(t, ts, http.DefaultClient, otherToken)

	ctx := context.Background()
	call := core.GatewayCall{MemberID: kid, Model: "m", Provider: "fake", Price: core.Price{Model: "m", Input: 1_000_000, Output: 1_000_000},
		MinOutputTokens: 1, Hold: core.HoldRequest{InputTokens: 100, OutputTokens: 100, CacheMarks: core.CacheMarksNone}, UsageType: "token_usage", Modality: "text"}
	h, err := ts.svc.HoldGatewayCall(ctx, core.Principal{Via: core.ViaToken, UserID: kid, Role: core.RoleMember}, call)
	if err != nil {
		t.Fatal(err)
	}
	waitNotices := func(ls *liveStream, want int, who string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			n, bad := ls.notices()
			if bad != 0 {
				t.Fatalf("%s: a notice with content", who)
			}
			if n >= want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d balance notices, want %d", who, n, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitNotices(kidLive, 1, "the member, on hold")
	waitNotices(ownerLive, 1, "the granter, on hold")
	res, err := ts.svc.SettleGatewayCall(ctx, h, call, core.GatewayUsage{Usage: core.ModelUsage{InputTokens: 50, OutputTokens: 50}})
	if err != nil {
		t.Fatal(err)
	}
	kidLive.waitFor(res.ID)
	ownerLive.waitFor(res.ID)
	waitNotices(kidLive, 2, "the member, on settle")
	waitNotices(ownerLive, 2, "the granter, on settle")
	time.Sleep(100 * time.Millisecond)
	if n, _ := otherLive.notices(); n != 0 || len(otherLive.ids()) != 0 {
		t.Fatalf("another member heard %d notices and %v", n, otherLive.ids())
	}
}
