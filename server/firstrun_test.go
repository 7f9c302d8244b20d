package server

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"tokenjar/server/core"
)

// balanceTotal reads GET /balance with a bearer token and returns its total as the API wrote it.
func (ts *testServer) balanceTotal(token string) string {
	ts.t.Helper()
	var b struct {
		Total   json.Number
		Buckets []struct{ Kind string }
	}
	ts.do("GET", "/api/v1/balance", token, nil, 200, &b)
	return b.Total.String()
}

// planBuckets says how many Monthly buckets a member has and what they were granted, in millicredits.
func (ts *testServer) planBuckets(userID int64) (int64, int64) {
	ts.t.Helper()
	n := ts.count(fmt.Sprintf(`SELECT count(*) FROM buckets WHERE user_id = %d AND kind = 'subscription'`, userID))
	sum := ts.count(fmt.Sprintf(`SELECT coalesce(sum(granted), 0) FROM buckets WHERE user_id = %d AND kind = 'subscription'`, userID))
	return n, sum
}

// refreshAt runs the refresh job as of at, as the scheduler or `tokenjar jobs run` would.
func (ts *testServer) refreshAt(at time.Time) {
	ts.t.Helper()
	if _, err := ts.svc.RunJob(context.Background(), "refresh", at, ts.t.TempDir()); err != nil {
		ts.t.Fatal(err)
	}
}

func nextCycleStart(ts *testServer) time.Time {
	return core.CycleAt(time.Now(), ts.svc.Settings().Location).End
}

// TestSetupStartingCredits proves the owner starts with what setup asked for: this cycle's
// whole monthly credits plus a one-off top-up, on /balance at once; the refresh job for this
// cycle adds nothing, and the next cycle grants the monthly credits once, not twice.
func TestSetupStartingCredits(t *testing.T) {
	ts := newBareTestServer(t, Config{})
	var setup struct {
		Token string
		User  struct {
			ID             int64
			MonthlyCredits json.Number
		}
	}
	ts.do("POST", "/api/v1/setup", "", map[string]any{"email": "mum@example.org", "name": "Mum", "password": "password123",
		"instanceName": "The Parkers' AI jar", "monthlyCredits": 500, "topUpCredits": 250.5}, 201, &setup)
	if got := ts.balanceTotal(setup.Token); got != "750.5" {
		t.Fatalf("balance right after setup = %s, want 750.5", got)
	}
	if setup.User.MonthlyCredits.String() != "500" {
		t.Fatalf("owner's monthly credits = %s, want 500", setup.User.MonthlyCredits)
	}
	if n := ts.count(`SELECT count(*) FROM buckets WHERE kind = 'addon' AND granted = 250500`); n != 1 {
		t.Fatalf("top-up buckets of 250.5: %d, want 1", n)
	}
	ts.refreshAt(time.Now())
	if got := ts.balanceTotal(setup.Token); got != "750.5" {
		t.Fatalf("balance after this cycle's refresh = %s, want 750.5 (the monthly credits granted twice?)", got)
	}
	ts.refreshAt(nextCycleStart(ts))
	if n, sum := ts.planBuckets(setup.User.ID); n != 2 || sum != 1_000_000 {
		t.Fatalf("after the next cycle's refresh: %d Monthly buckets granting %d millicredits, want 2 granting 1000000", n, sum)
	}
	ts.checkInvariant()
}

// TestSetupRefusesBadStartingCredits proves that bad starting credits get a 400 naming the field
// and write nothing: no user, no bucket, and setup is still needed.
func TestSetupRefusesBadStartingCredits(t *testing.T) {
	ts := newBareTestServer(t, Config{})
	base := func(field string, v any) map[string]any {
		return map[string]any{"email": "mum@example.org", "name": "Mum", "password": "password123", "instanceName": "Jar", field: v}
	}
	for _, field := range []string{"monthlyCredits", "topUpCredits"} {
		for _, bad := range []any{-5, "5", 5.0001, "lots", 2_000_000_000} {
			ts.wantInvalid("POST", "/api/v1/setup", "", base(field, bad), field)
		}
	}
	if u, b, l := ts.count(`SELECT count(*) FROM users`), ts.count(`SELECT count(*) FROM buckets`), ts.count(`SELECT count(*) FROM ledger`); u+b+l != 0 {
		t.Fatalf("refused setups wrote: %d users, %d buckets, %d ledger rows", u, b, l)
	}
	var st struct {
		Needed       bool
		InstanceName string
	}
	ts.do("GET", "/api/v1/setup", "", nil, 200, &st)
	if !st.Needed || st.InstanceName == "Jar" {
		t.Fatalf("after refused setups: %+v, want setup still needed and the name unchanged", st)
	}
}

// TestInviteMonthlyCreditsStartAtOnce proves an invited member has the invitation's whole monthly
// credits on /balance as soon as they accept, and that neither this cycle's refresh nor the next
// cycle's grants them twice.
func TestInviteMonthlyCreditsStartAtOnce(t *testing.T) {
	ts := newTestServer(t)
	var inv struct{ Token string }
	ts.do("POST", "/api/v1/invites", ts.owner, map[string]any{"email": "kid@example.org", "monthlyCredits": 300.25}, 201, &inv)
	var pub struct{ MonthlyCredits json.Number }
	ts.do("GET", "/api/v1/invites/"+inv.Token, "", nil, 200, &pub)
	if pub.MonthlyCredits.String() != "300.25" {
		t.Fatalf("the invitee is told of %q monthly credits, want 300.25", pub.MonthlyCredits)
	}
	var acc struct{ User struct{ ID int64 } }
	ts.do("POST", "/api/v1/invites/"+inv.Token+"/accept", "", map[string]any{"email": "kid@example.org", "name": "Kid", "password": "password123"}, 201, &acc)
	client := ts.browser("kid@example.org")
	status, b := ts.sendBrowser(client, "GET", "/api/v1/balance", nil)
	var bal struct {
		Total   json.Number
		Buckets []struct{ Kind string }
	}
	json.Unmarshal(b, &bal)
	if status != 200 || bal.Total.String() != "300.25" || len(bal.Buckets) != 1 || bal.Buckets[0].Kind != "subscription" {
		t.Fatalf("invited kid's balance right after accepting: %d %s; want 300.25 in one Monthly bucket", status, b)
	}
	ts.refreshAt(time.Now())
	if n, sum := ts.planBuckets(acc.User.ID); n != 1 || sum != 300_250 {
		t.Fatalf("after this cycle's refresh: %d Monthly buckets granting %d, want 1 granting 300250", n, sum)
	}
	ts.refreshAt(nextCycleStart(ts))
	if n, sum := ts.planBuckets(acc.User.ID); n != 2 || sum != 600_500 {
		t.Fatalf("after the next cycle's refresh: %d Monthly buckets granting %d, want 2 granting 600500", n, sum)
	}
	var list struct {
		Items []struct {
			ID             int64
			MonthlyCredits json.Number
		}
	}
	ts.do("GET", "/api/v1/members", ts.owner, nil, 200, &list)
	for _, m := range list.Items {
		if m.ID == acc.User.ID && m.MonthlyCredits.String() != "300.25" {
			t.Fatalf("member's monthly credits = %s, want 300.25", m.MonthlyCredits)
		}
	}
	ts.checkInvariant()
}
