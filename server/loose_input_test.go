package server

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// wantInvalid sends a request and checks it got 400 naming field.
func (ts *testServer) wantInvalid(method, path, token string, body any, field string) {
	ts.t.Helper()
	status, b := ts.send(httpClient, method, path, token, body, nil)
	var e struct {
		Error struct{ Code, Message, Field string }
	}
	json.Unmarshal(b, &e)
	if status != 400 || e.Error.Field != field || e.Error.Message == "" {
		ts.t.Fatalf("%s %s %v: status %d field %q (%s); want 400 naming %q", method, path, body, status, e.Error.Field, b, field)
	}
}

// count runs a count(*) query for the test.
func (ts *testServer) count(query string) int64 {
	ts.t.Helper()
	var n int64
	if err := ts.db.Read().QueryRowForTest(context.Background(), query, &n); err != nil {
		ts.t.Fatal(err)
	}
	return n
}

// TestCreditsMustBeExactNumbers proves that credits sent as a string ("5") or finer than a
// millicredit (5.0001) get a 400 naming the field on grants, plans, invites and delegations
// (new, bulk and edited), and on a report's credits, and that none of them writes anything.
// Before, json.Number took the string and ParseCredits rounded 5.0001 to 5. It does not cover
// totalCost, which is USD and is rounded to the millicredit by design.
func TestCreditsMustBeExactNumbers(t *testing.T) {
	ts := newTestServer(t)
	kid, kidToken := ts.member("kid@example.org")
	ts.grant(1, "addon", "100")
	var d struct{ ID int64 }
	ts.do("POST", "/api/v1/delegations", ts.owner, map[string]any{"granteeId": kid, "credits": 10, "period": "week"}, 201, &d)
	buckets, delegations, invites := ts.count(`SELECT count(*) FROM buckets`), ts.count(`SELECT count(*) FROM delegations`), ts.count(`SELECT count(*) FROM invites`)
	ledger := ts.count(`SELECT count(*) FROM ledger`)

	for _, bad := range []any{"5", json.Number("5.0001"), json.Number("0.0005"), json.Number("1e-4")} {
		ts.wantInvalid("POST", "/api/v1/members/"+itoa(kid)+"/grants", ts.owner, map[string]any{"kind": "addon", "credits": bad}, "credits")
		ts.wantInvalid("PUT", "/api/v1/members/"+itoa(kid)+"/plan?now=true", ts.owner, map[string]any{"monthlyCredits": bad}, "monthlyCredits")
		ts.wantInvalid("POST", "/api/v1/invites", ts.owner, map[string]any{"email": "new@example.org", "monthlyCredits": bad}, "monthlyCredits")
		ts.wantInvalid("POST", "/api/v1/delegations", ts.owner, map[string]any{"granteeId": kid, "credits": bad, "period": "week"}, "credits")
		ts.wantInvalid("POST", "/api/v1/delegations/bulk", ts.owner, map[string]any{"granteeIds": []int64{kid}, "credits": bad, "period": "week"}, "credits")
		ts.wantInvalid("PATCH", "/api/v1/delegations/"+itoa(d.ID), ts.owner, map[string]any{"credits": bad}, "credits")
		ts.wantInvalid("POST", "/api/v1/usage", kidToken, map[string]any{"description": "d", "credits": bad}, "credits")
	}
	if b, dl, inv, l, ev := ts.count(`SELECT count(*) FROM buckets`), ts.count(`SELECT count(*) FROM delegations`),
		ts.count(`SELECT count(*) FROM invites`), ts.count(`SELECT count(*) FROM ledger`), ts.countEvents(); b != buckets || dl != delegations || inv != invites || l != ledger || ev != 0 {
		t.Fatalf("refused requests wrote: buckets %d→%d, delegations %d→%d, invites %d→%d, ledger %d→%d, events %d", buckets, b, delegations, dl, invites, inv, ledger, l, ev)
	}
	var members struct {
		Items []struct {
			ID                 int64
			MonthlyCredits     json.Number
			NextMonthlyCredits *json.Number
		}
	}
	ts.do("GET", "/api/v1/members", ts.owner, nil, 200, &members)
	for _, m := range members.Items {
		if m.ID == kid && (m.MonthlyCredits != "0" || m.NextMonthlyCredits != nil) {
			t.Fatalf("a refused plan changed the member: %+v", m)
		}
	}

	// Exactly three decimals, and trailing zeros past them, still go through.
	var g struct{ Credits json.Number }
	ts.do("POST", "/api/v1/members/"+itoa(kid)+"/grants", ts.owner, map[string]any{"kind": "addon", "credits": json.Number("5.0010")}, 201, &g)
	if g.Credits != "5.001" {
		t.Fatalf("granted %s, want 5.001", g.Credits)
	}
	ts.checkInvariant()
}

// TestBackfillWindow proves a report's timestamp is accepted only from a year back to five
// minutes ahead (year 0001 used to be accepted), with a 400 naming timestamp and nothing
// written otherwise. The server runs on the real clock, so the edges are probed with a margin
// of an hour rather than to the millisecond.
func TestBackfillWindow(t *testing.T) {
	ts := newTestServer(t)
	report := func(at string) map[string]any {
		return map[string]any{"description": "backfill", "credits": 1, "timestamp": at}
	}
	now := time.Now().UTC()
	for _, at := range []string{"0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z", now.AddDate(-1, 0, 0).Add(-time.Hour).Format(time.RFC3339),
		now.Add(10 * time.Minute).Format(time.RFC3339)} {
		ts.wantInvalid("POST", "/api/v1/usage", ts.owner, report(at), "timestamp")
	}
	if n := ts.countEvents(); n != 0 {
		t.Fatalf("refused reports wrote %d events", n)
	}
	for _, at := range []string{now.AddDate(-1, 0, 0).Add(time.Hour).Format(time.RFC3339), now.Add(4 * time.Minute).Format(time.RFC3339)} {
		ts.do("POST", "/api/v1/usage", ts.owner, report(at), 201, nil)
	}
}

// TestBillingSourceAsANumber proves a report may name its delegation as a number, the form
// the reply itself uses (it was refused with "must be a string"), and that a bad number is
// still a 400 naming billingSource.
func TestBillingSourceAsANumber(t *testing.T) {
	ts := newTestServer(t)
	kid, kidToken := ts.member("kid@example.org")
	ts.grant(1, "addon", "100")
	var d struct{ ID int64 }
	ts.do("POST", "/api/v1/delegations", ts.owner, map[string]any{"granteeId": kid, "credits": 10, "period": "week"}, 201, &d)
	var res struct{ BillingSource string }
	ts.do("POST", "/api/v1/usage", kidToken, map[string]any{"description": "d", "credits": 1, "billingSource": d.ID}, 201, &res)
	if res.BillingSource != itoa(d.ID) {
		t.Fatalf("billed %q, want delegation %d", res.BillingSource, d.ID)
	}
	for _, bad := range []any{-1, 0, 1.5, true, 999} {
		ts.wantInvalid("POST", "/api/v1/usage", kidToken, map[string]any{"description": "d", "credits": 1, "billingSource": bad}, "billingSource")
	}
	if n := ts.countEvents(); n != 1 {
		t.Fatalf("%d events, want the one accepted report", n)
	}
}

// TestDelegationGranteeIDAndEmailMustAgree proves POST /delegations with a granteeId and a
// granteeEmail naming different members is a 400 naming granteeEmail and creates nothing (it
// used to give the allowance to the id's member), while the two naming one member is fine.
func TestDelegationGranteeIDAndEmailMustAgree(t *testing.T) {
	ts := newTestServer(t)
	kid, _ := ts.member("kid@example.org")
	ts.member("other@example.org")
	ts.wantInvalid("POST", "/api/v1/delegations", ts.owner, map[string]any{"granteeId": kid, "granteeEmail": "other@example.org", "credits": 10, "period": "week"}, "granteeEmail")
	if n := ts.count(`SELECT count(*) FROM delegations`); n != 0 {
		t.Fatalf("the refused delegation was written (%d)", n)
	}
	ts.do("POST", "/api/v1/delegations", ts.owner, map[string]any{"granteeId": kid, "granteeEmail": "Kid@example.org", "credits": 10, "period": "week"}, 201, nil)
}
