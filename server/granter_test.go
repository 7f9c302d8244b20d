package server

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDisabledGranterAllowancesStopPaying proves that once a granter is disabled, their
// allowances pay nothing: a report falls to the grantee's next source (another granter's
// allowance, then personal), as for a paused allowance, and the disabled granter's balance
// does not move, whether the report named the allowance or not. Enabling the granter again
// lets the allowance pay. It does not cover the balance's spending-power view.
func TestDisabledGranterAllowancesStopPaying(t *testing.T) {
	ts := newTestServer(t)
	granterID, granter := ts.member("granter@example.org")
	otherID, other := ts.member("other@example.org")
	kid, kidToken := ts.member("kid@example.org")
	ts.grant(granterID, "addon", "100")
	ts.grant(otherID, "addon", "100")
	ts.grant(kid, "addon", "100")
	var d1, d2 struct{ ID int64 }
	ts.do("POST", "/api/v1/delegations", granter, map[string]any{"granteeId": kid, "credits": 50, "period": "week"}, 201, &d1)
	ts.do("POST", "/api/v1/delegations", other, map[string]any{"granteeId": kid, "credits": 1, "period": "week"}, 201, &d2)
	type result struct {
		BillingSource string
		SourceNote    string
	}
	report := func(body map[string]any) result {
		t.Helper()
		body["description"] = "homework"
		body["credits"] = 1
		var r result
		ts.do("POST", "/api/v1/usage", kidToken, body, 201, &r)
		return r
	}
	balance := func(tok string) string {
		var b struct{ Total json.Number }
		ts.do("GET", "/api/v1/balance", tok, nil, 200, &b)
		return string(b.Total)
	}
	if r := report(map[string]any{}); r.BillingSource != itoa(d1.ID) {
		t.Fatalf("before disabling, the oldest allowance pays: got %+v", r)
	}
	ts.do("PATCH", "/api/v1/members/"+itoa(granterID), ts.owner, map[string]any{"disabled": true}, 200, nil)

	if r := report(map[string]any{}); r.BillingSource != itoa(d2.ID) {
		t.Fatalf("with the granter disabled, the next allowance should pay: got %+v", r)
	}
	if r := report(map[string]any{}); r.BillingSource != "personal" {
		t.Fatalf("with the other allowance spent, personal credits should pay: got %+v", r)
	}
	r := report(map[string]any{"billingSource": d1.ID})
	if r.BillingSource != "personal" || !strings.Contains(r.SourceNote, "disabled") {
		t.Fatalf("a report naming the disabled granter's allowance should fall to personal with a note: got %+v", r)
	}
	var bal struct{ Total json.Number }
	ts.do("GET", "/api/v1/balance?userId="+itoa(granterID), ts.appKey, nil, 200, &bal)
	if bal.Total != "99" {
		t.Fatalf("the disabled granter paid: balance %s, want 99 (only the report before disabling)", bal.Total)
	}
	if b := balance(kidToken); b != "98" {
		t.Fatalf("grantee balance %s, want 98", b)
	}

	ts.do("PATCH", "/api/v1/members/"+itoa(granterID), ts.owner, map[string]any{"disabled": false}, 200, nil)
	if r := report(map[string]any{}); r.BillingSource != itoa(d1.ID) {
		t.Fatalf("enabled again, the allowance pays again: got %+v", r)
	}
	ts.checkInvariant()
}
