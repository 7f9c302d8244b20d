package server

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"tokenjar/server/core"
)

type ledgerItem struct {
	ID           int64
	At           string
	Action       string
	Credits      json.Number
	BucketID     *int64
	Kind         string
	Ref          string
	BalanceAfter json.Number
	Note         string
}

// ledgerMonths reads the ledger of the given months (deduplicated, in order).
func (ts *testServer) ledgerMonths(token, query string, months ...string) []ledgerItem {
	ts.t.Helper()
	var out []ledgerItem
	seen := map[string]bool{}
	for _, m := range months {
		if seen[m] {
			continue
		}
		seen[m] = true
		var page struct{ Items []ledgerItem }
		ts.do("GET", "/api/v1/ledger?month="+m+query, token, nil, 200, &page)
		out = append(out, page.Items...)
	}
	return out
}

func sumCredits(t *testing.T, items []ledgerItem) core.Credits {
	var n core.Credits
	for _, it := range items {
		c, ok := core.ParseCredits(strings.TrimPrefix(string(it.Credits), "-"))
		if !ok {
			t.Fatalf("credits %s", it.Credits)
		}
		if strings.HasPrefix(string(it.Credits), "-") {
			c = -c
		}
		n += c
	}
	return n
}

// TestAdminReadsAnotherMembersLedgerAsDailyUsage proves that GET /ledger?member= gives an admin
// another member's top-ups, refunds and debt row by row but their usage only as one row for the
// day (SPEC 5): no row refers to a single request or says what it was, the rows add up to the
// member's own, and the member still sees every row of their own ledger. Ledger rows carry the
// time they were written, so all of these fall on today: the folding of several days and
// kinds is proven in core (TestLedgerForAdminFoldsUsagePerDay).
func TestAdminReadsAnotherMembersLedgerAsDailyUsage(t *testing.T) {
	ts := newTestServer(t)
	jane, janeToken := ts.member("jane@example.org")
	ts.grant(jane, "addon", "2")
	var ids []int64
	for _, credits := range []float64{0.5, 0.25, 1, 0.5, 0.5} { // the fourth runs into debt, the fifth is all debt
		var res struct{ ID int64 }
		ts.do("POST", "/api/v1/usage", janeToken, map[string]any{"description": "private homework question", "credits": credits}, 201, &res)
		ids = append(ids, res.ID)
	}
	ts.do("POST", "/api/v1/usage/"+itoa(ids[2])+"/refund", ts.owner, map[string]any{}, 200, nil)
	month := time.Now().UTC().Format("2006-01")
	own := ts.ledgerMonths(janeToken, "", month)
	admin := ts.ledgerMonths(ts.owner, "&member="+itoa(jane), month)
	ownUsage := 0
	for _, it := range own {
		if it.Action == "usage" {
			ownUsage++
		}
	}
	if ownUsage != 4 {
		t.Fatalf("the member's own ledger has %d usage rows, want 4 (one per request a bucket paid): %+v", ownUsage, own)
	}
	byAction := map[string]int{}
	var days []ledgerItem
	for _, it := range admin {
		byAction[it.Action]++
		if it.Action == "usage" {
			if !strings.HasPrefix(it.Ref, "day:") || it.BucketID != nil {
				t.Fatalf("an admin sees a single request's usage row: %+v", it)
			}
			days = append(days, it)
		}
		if strings.Contains(it.Note, "homework") {
			t.Fatalf("a row shows the request's description: %+v", it)
		}
	}
	today := time.Now().UTC().Format("2006-01-02")
	if len(days) != 1 || days[0].Ref != "day:"+today || days[0].Credits != "-2" || days[0].Note != "4 requests (daily total)" || days[0].Kind != "addon" {
		t.Fatalf("want one daily usage row for today of -2 credits from 4 requests, got %+v", days)
	}
	if byAction["topup"] != 1 || byAction["refund"] != 1 || byAction["debt"] != 4 {
		t.Fatalf("an admin should see the top-up, the refund and the 4 debt rows in full: %v", byAction)
	}
	if a, o := sumCredits(t, admin), sumCredits(t, own); a != o {
		t.Fatalf("the admin's view adds up to %s, the member's to %s", a, o)
	}
	if last, want := admin[len(admin)-1], own[len(own)-1]; last.Action != "usage" || last.BalanceAfter != want.BalanceAfter {
		t.Fatalf("the day's usage row should come last with the day's closing balance %s: %+v", want.BalanceAfter, last)
	}
	// An admin reading their own ledger sees it in full.
	ts.do("POST", "/api/v1/usage", ts.owner, map[string]any{"description": "mine", "credits": 1}, 201, nil)
	for _, it := range ts.ledgerMonths(ts.owner, "&member=1", month) {
		if it.Action == "usage" && !strings.HasPrefix(it.Ref, "usage:") {
			t.Fatalf("the admin's own ledger is folded: %+v", it)
		}
	}
}
