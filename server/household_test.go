package server

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

type householdReply struct {
	Scope   string
	Members []struct {
		ID               int64
		Name             string
		Credits          json.Number
		OwnCredits       json.Number
		AllowanceCredits json.Number
		Requests         int64
		TopModels        []struct {
			Model    string
			Credits  json.Number
			Requests int64
		}
	}
	Totals struct {
		Credits  json.Number
		Requests int64
	}
}

// householdFamily sets up Alex, who gives Emma a 50-a-week allowance, Emma's usage (one report
// the allowance pays, one it pays in part, one from her own credits, and an old one outside the
// range) and Sam's, who gets no allowance from Alex. It returns the tokens.
func householdFamily(t *testing.T, ts *testServer) (alex, emma, sam string, emmaID, samID int64) {
	t.Helper()
	alexID, alex := ts.member("alex@example.org")
	emmaID, emma = ts.member("emma@example.org")
	samID, sam = ts.member("sam@example.org")
	ts.grant(alexID, "addon", "1000")
	ts.grant(emmaID, "addon", "100")
	ts.grant(samID, "addon", "100")
	var d struct{ ID int64 }
	ts.do("POST", "/api/v1/delegations", alex, map[string]any{"granteeId": emmaID, "credits": 50, "period": "week"}, 201, &d)
	report := func(tok string, credits float64, model string, extra map[string]any) {
		t.Helper()
		body := map[string]any{"description": "homework", "credits": credits, "model": model}
		for k, v := range extra {
			body[k] = v
		}
		ts.do("POST", "/api/v1/usage", tok, body, 201, nil)
	}
	// Ten days ago, before the allowance existed: outside the range the tests ask for.
	report(emma, 5, "old-model", map[string]any{"timestamp": time.Now().UTC().AddDate(0, 0, -10).Format(time.RFC3339), "billingSource": "personal"})
	report(emma, 30, "gpt-4o", nil)                                         // the allowance pays all 30
	report(emma, 40, "claude-haiku", nil)                                   // the allowance pays its last 20, her own credits 20
	report(emma, 10, "gpt-4o", map[string]any{"billingSource": "personal"}) // her own credits
	report(sam, 25, "mistral", nil)
	return alex, emma, sam, emmaID, samID
}

// lastThreeDays is a custom range of whole days around today (instance time zone: UTC).
func lastThreeDays() string {
	now := time.Now().UTC()
	return "from=" + now.AddDate(0, 0, -2).Format("2006-01-02") + "&to=" + now.AddDate(0, 0, 1).Format("2006-01-02")
}

// TestHouseholdAdminScope proves an admin's household page sums every member's usage over a
// custom range, split by who paid, with top models, and leaves out usage before the range.
func TestHouseholdAdminScope(t *testing.T) {
	ts := newTestServer(t)
	_, _, _, emmaID, samID := householdFamily(t, ts)
	var h householdReply
	ts.do("GET", "/api/v1/household?"+lastThreeDays(), ts.owner, nil, 200, &h)
	if h.Scope != "all" || len(h.Members) != 4 {
		t.Fatalf("admin: scope %q with %d members, want all with 4: %+v", h.Scope, len(h.Members), h)
	}
	emma, sam := h.Members[0], h.Members[1] // ordered by credits
	if emma.ID != emmaID || emma.Credits != "80" || emma.OwnCredits != "30" || emma.AllowanceCredits != "50" || emma.Requests != 3 {
		t.Fatalf("Emma: %+v, want 80 credits (30 own, 50 from the allowance) in 3 requests", emma)
	}
	if len(emma.TopModels) != 2 || emma.TopModels[0].Model != "gpt-4o" || emma.TopModels[0].Credits != "40" || emma.TopModels[0].Requests != 2 ||
		emma.TopModels[1].Model != "claude-haiku" || emma.TopModels[1].Credits != "40" {
		t.Fatalf("Emma's top models: %+v, want gpt-4o 40 (2 requests) then claude-haiku 40", emma.TopModels)
	}
	if sam.ID != samID || sam.Credits != "25" || sam.TopModels[0].Model != "mistral" {
		t.Fatalf("Sam: %+v", sam)
	}
	if h.Totals.Credits != "105" || h.Totals.Requests != 4 {
		t.Fatalf("totals %+v, want 105 credits in 4 requests", h.Totals)
	}
	// The same range through the aggregate the privacy rules allow an admin agrees.
	var agg struct{ Totals struct{ Credits json.Number } }
	ts.do("GET", "/api/v1/usage/aggregate?scope=all&by=member&"+lastThreeDays(), ts.owner, nil, 200, &agg)
	if agg.Totals.Credits != h.Totals.Credits {
		t.Fatalf("aggregate total %s, household total %s", agg.Totals.Credits, h.Totals.Credits)
	}
	// All time counts the old report too.
	ts.do("GET", "/api/v1/household", ts.owner, nil, 200, &h)
	if h.Totals.Credits != "110" {
		t.Fatalf("all time: %s, want 110", h.Totals.Credits)
	}
}

// TestHouseholdGranterScope proves a granter sees only the people they give allowances to, and
// of their spending only what those allowances paid: not Emma's own-credit usage, not the own
// part of a split charge, not Sam.
func TestHouseholdGranterScope(t *testing.T) {
	ts := newTestServer(t)
	alex, _, sam, emmaID, _ := householdFamily(t, ts)
	var h householdReply
	ts.do("GET", "/api/v1/household?"+lastThreeDays(), alex, nil, 200, &h)
	if h.Scope != "granted" || len(h.Members) != 1 {
		t.Fatalf("granter: scope %q with %d members, want granted with only Emma: %+v", h.Scope, len(h.Members), h)
	}
	emma := h.Members[0]
	if emma.ID != emmaID || emma.Credits != "50" || emma.OwnCredits != "0" || emma.AllowanceCredits != "50" || emma.Requests != 2 {
		t.Fatalf("Emma as Alex sees her: %+v, want 50 credits from his allowance in 2 requests", emma)
	}
	if len(emma.TopModels) != 2 || emma.TopModels[0].Model != "gpt-4o" || emma.TopModels[0].Credits != "30" ||
		emma.TopModels[1].Model != "claude-haiku" || emma.TopModels[1].Credits != "20" {
		t.Fatalf("top models as Alex sees them: %+v, want gpt-4o 30, claude-haiku 20 (his share only)", emma.TopModels)
	}
	if h.Totals.Credits != "50" {
		t.Fatalf("granter total %s, want 50", h.Totals.Credits)
	}
	// Nor may a granter ask for everyone, and a member who gives nothing sees nobody.
	status, b := ts.send(httpClient, "GET", "/api/v1/household?scope=all", alex, nil, nil)
	if status != 403 {
		t.Fatalf("granter asking for scope=all: %d %s", status, b)
	}
	ts.do("GET", "/api/v1/household", sam, nil, 200, &h)
	if len(h.Members) != 0 || h.Totals.Credits != "0" {
		t.Fatalf("Sam gives no allowance, yet sees %+v", h)
	}
	status, b = ts.send(httpClient, "GET", "/api/v1/household?from=yesterdayish", alex, nil, nil)
	if status != 400 || !strings.Contains(string(b), `"field":"from"`) {
		t.Fatalf("bad from: %d %s", status, b)
	}
}

// TestMembersUsedThisCycleIsTheBalanceFigure proves the members page's "used this cycle" is
// the figure the member's own /balance reports (cycle.used: their own credits), and that what
// allowances paid is shown beside it rather than mixed in.
func TestMembersUsedThisCycleIsTheBalanceFigure(t *testing.T) {
	ts := newTestServer(t)
	_, emma, _, emmaID, _ := householdFamily(t, ts)
	var list struct {
		Items []struct {
			ID                  int64
			UsedThisCycle       json.Number
			AllowancesThisCycle json.Number
			RequestsThisCycle   int64
		}
	}
	ts.do("GET", "/api/v1/members", ts.owner, nil, 200, &list)
	var bal struct {
		Cycle struct {
			Used     json.Number
			Requests int64
		}
	}
	ts.do("GET", "/api/v1/balance", emma, nil, 200, &bal)
	for _, m := range list.Items {
		if m.ID != emmaID {
			continue
		}
		if m.UsedThisCycle != bal.Cycle.Used {
			t.Fatalf("members page: Emma used %s this cycle; her own balance says %s", m.UsedThisCycle, bal.Cycle.Used)
		}
		// The old report may fall in this cycle or the last, so compare without it.
		if m.AllowancesThisCycle != "50" {
			t.Fatalf("paid by allowances this cycle: %s, want 50", m.AllowancesThisCycle)
		}
		return
	}
	t.Fatalf("Emma is not on the members page: %+v", list)
}
