package server

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestServerTextsNameMembersAndAllowances proves the texts people read name things as people
// know them: an unknown member is "no such member" (not "no member 9999"), the audit log names
// the member ("kid@example.org", not "member 4") and counts in plain words, and a charge's notes
// name an allowance by its granter and note ("Mum's allowance (Pocket money)"), not its number.
func TestServerTextsNameMembersAndAllowances(t *testing.T) {
	ts := newTestServer(t)
	type apiError struct {
		Error struct{ Code, Message string }
	}
	for _, r := range []struct {
		method, path string
		body         map[string]any
	}{
		{"POST", "/api/v1/members/9999/grants", map[string]any{"kind": "addon", "credits": 5}},
		{"PUT", "/api/v1/members/9999/plan", map[string]any{"monthlyCredits": 5}},
		{"POST", "/api/v1/members/9999/password", map[string]any{"password": "password123"}},
		{"PATCH", "/api/v1/members/9999", map[string]any{"requestsPerMinute": 5}},
	} {
		var e apiError
		ts.do(r.method, r.path, ts.owner, r.body, 404, &e)
		if e.Error.Message != "no such member" {
			t.Errorf("%s %s says %q; want \"no such member\"", r.method, r.path, e.Error.Message)
		}
	}

	mumID, mum := ts.member("mum@example.org")
	ts.do("PATCH", "/api/v1/members/"+itoa(mumID), ts.owner, map[string]any{"name": "Mum"}, 200, nil)
	ts.do("PATCH", "/api/v1/members/"+itoa(mumID), ts.owner, map[string]any{"requestsPerMinute": 50}, 200, nil)
	ts.grant(mumID, "addon", "1000")
	kidID, kid := ts.member("kid@example.org")
	ts.grant(kidID, "addon", "100")
	var d delegationReply
	ts.do("POST", "/api/v1/delegations", mum, map[string]any{"granteeId": kidID, "credits": 10, "period": "day", "note": "Pocket money"}, 201, &d)

	// A split charge: the allowance pays 10, the kid's own credits the rest.
	var res struct {
		ID         int64
		SourceNote string
	}
	ts.do("POST", "/api/v1/usage", kid, map[string]any{"description": "an image", "credits": 25}, 201, &res)
	if res.SourceNote != "Mum's allowance (Pocket money) paid 10: allowance for this period is spent; the rest went to the next source" {
		t.Errorf("the split charge's sourceNote: %q", res.SourceNote)
	}
	// Spent: the next charge is not paid by it, and says so by name.
	ts.do("POST", "/api/v1/usage", kid, map[string]any{"description": "a question", "credits": 2, "billingSource": itoa(d.ID)}, 201, &res)
	if res.SourceNote != "Mum's allowance (Pocket money): allowance for this period is spent; charged to the next source" {
		t.Errorf("the unpaid charge's sourceNote: %q", res.SourceNote)
	}
	var ledger ledgerPageReply
	ts.do("GET", "/api/v1/ledger", mum, nil, 200, &ledger)
	found := false
	for _, r := range ledger.Items {
		found = found || r.Note == "kid@example.org, through Mum's allowance (Pocket money)"
		if strings.Contains(r.Note, "allowance "+itoa(d.ID)) {
			t.Errorf("a ledger note names the allowance by its number: %q", r.Note)
		}
	}
	if !found {
		t.Errorf("no ledger row of Mum's names the kid and the allowance: %+v", ledger.Items)
	}

	// An allowance is named, not numbered, in what the granter reads when a change fails.
	var e apiError
	ts.do("PATCH", "/api/v1/delegations/9999", mum, map[string]any{"note": "x"}, 404, &e)
	if e.Error.Message != "no such allowance" {
		t.Errorf("editing an unknown allowance says %q", e.Error.Message)
	}
	ts.do("DELETE", "/api/v1/delegations/"+itoa(d.ID), mum, nil, 200, nil)
	ts.do("PATCH", "/api/v1/delegations/"+itoa(d.ID), mum, map[string]any{"note": "x"}, 409, &e)
	if e.Error.Message != "this allowance is revoked; create a new one" {
		t.Errorf("editing a revoked allowance says %q", e.Error.Message)
	}

	// The audit log: sign-in, gateway access and sign out everywhere with tokens name the member.
	ts.browser("kid@example.org")
	ts.do("POST", "/api/v1/auth/logout-all", kid, map[string]any{"revokeTokens": true}, 200, nil)
	var audit struct {
		Items []struct{ Action, Target, Detail string }
	}
	ts.do("GET", "/api/v1/audit", ts.owner, nil, 200, &audit)
	want := map[string]string{"signin": "kid@example.org", "member_gateway_access": "Mum", "signout_all": "kid@example.org",
		"tokens_revoked": "kid@example.org"}
	for _, e := range audit.Items {
		if strings.HasPrefix(e.Target, "member ") || strings.HasPrefix(e.Target, "user ") {
			t.Errorf("an audit entry names a member by number: %+v", e)
		}
		if w, ok := want[e.Action]; ok && e.Target == w {
			delete(want, e.Action)
		}
		if e.Action == "tokens_revoked" && e.Detail != "1 personal token, with sign out everywhere" {
			t.Errorf("tokens_revoked detail %q", e.Detail)
		}
	}
	if len(want) != 0 {
		b, _ := json.Marshal(audit.Items)
		t.Errorf("no audit entry naming the member for %v: %s", want, b)
	}
}
