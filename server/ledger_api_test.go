package server

import (
	"encoding/json"
	"testing"
	"time"

	"tokenjar/server/core"
)

// ledgerPageReply is GET /ledger's reply with the fields of a page.
type ledgerPageReply struct {
	Month      string
	Items      []ledgerEntryItem
	Totals     struct{ In, Out, Net json.Number }
	NextCursor *string
	EndCursor  string
}

type ledgerEntryItem struct {
	ledgerItem
	RepaidDebt  *json.Number
	KeptCredits *json.Number
}

func ledgerCredits(t *testing.T, n json.Number) core.Credits {
	t.Helper()
	return sumCredits(t, []ledgerItem{{Credits: n}})
}

// debtThenReward gives jane 10 credits, charges 250 (240 of it debt), then grants her a 300
// "reward" that repays the debt, and charges 5 more. It returns her token and what came in
// and went out, as the test made it.
func debtThenReward(ts *testServer) (token string, in, out core.Credits) {
	ts.t.Helper()
	jane, janeToken := ts.member("jane@example.org")
	ts.grant(jane, "addon", "10")
	ts.do("POST", "/api/v1/usage", janeToken, map[string]any{"description": "a big image", "credits": 250}, 201, nil)
	ts.do("POST", "/api/v1/members/"+itoa(jane)+"/grants", ts.owner, map[string]any{"kind": "addon", "credits": 300, "note": "reward"}, 201, nil)
	ts.do("POST", "/api/v1/usage", janeToken, map[string]any{"description": "a question", "credits": 5}, 201, nil)
	return janeToken, 310 * 1000, -255 * 1000
}

// TestLedgerTotalsCountWhatCameInOnce proves the ledger's In and Out for a month are the
// credits granted and the charges made (as the test made them), not inflated by a debt
// repayment: a 300 grant that repays 240 of debt is +300 in, not +540. The rows still add up
// to Net, and the grant's row says what it repaid and what was kept.
func TestLedgerTotalsCountWhatCameInOnce(t *testing.T) {
	ts := newTestServer(t)
	token, wantIn, wantOut := debtThenReward(ts)
	var page ledgerPageReply
	ts.do("GET", "/api/v1/ledger?month="+time.Now().UTC().Format("2006-01"), token, nil, 200, &page)
	if in, out := ledgerCredits(t, page.Totals.In), ledgerCredits(t, page.Totals.Out); in != wantIn || out != wantOut {
		t.Fatalf("the ledger says in %s, out %s; the grants were %s and the charges %s", in, out, wantIn, wantOut)
	}
	var rows []ledgerItem
	for _, it := range page.Items {
		rows = append(rows, it.ledgerItem)
	}
	if sum, net := sumCredits(t, rows), ledgerCredits(t, page.Totals.Net); sum != net || net != wantIn+wantOut {
		t.Fatalf("the rows add up to %s, net is %s, want %s", sum, net, wantIn+wantOut)
	}
	var reward *ledgerEntryItem
	for i, it := range page.Items {
		if it.Note == "reward" {
			reward = &page.Items[i]
		}
		if it.Note != "reward" && it.RepaidDebt != nil {
			t.Fatalf("a row that repaid no debt says it did: %+v", it)
		}
	}
	if reward == nil || reward.RepaidDebt == nil || reward.KeptCredits == nil ||
		*reward.RepaidDebt != "240" || *reward.KeptCredits != "60" || reward.Credits != "300" {
		t.Fatalf("the reward's row should say 240 repaid debt, 60 kept: %+v", reward)
	}
	ts.checkInvariant()
}

// readLedgerPages reads a month page by page and returns the ids in order and whether some
// page boundary fell between two rows written at the same millisecond.
func (ts *testServer) readLedgerPages(token, query string, limit int) (ids []int64, splitTie bool, end string) {
	ts.t.Helper()
	cursor := ""
	var last *ledgerEntryItem
	for pages := 0; ; pages++ {
		if pages > 1000 {
			ts.t.Fatal("paging does not end")
		}
		var page ledgerPageReply
		ts.do("GET", "/api/v1/ledger?"+query+"&limit="+itoa(int64(limit))+cursor, token, nil, 200, &page)
		if len(page.Items) > limit {
			ts.t.Fatalf("a page of %d rows for limit %d", len(page.Items), limit)
		}
		for i := range page.Items {
			if i == 0 && last != nil && last.At == page.Items[0].At {
				splitTie = true
			}
			ids = append(ids, page.Items[i].ID)
		}
		if len(page.Items) > 0 {
			last = &page.Items[len(page.Items)-1]
		}
		end = page.EndCursor
		if page.NextCursor == nil {
			return ids, splitTie, end
		}
		cursor = "&cursor=" + *page.NextCursor
	}
}

// TestLedgerPagesByCursor proves GET /ledger pages a month by cursor with no row twice and
// none missed, also where a page ends between rows written at the same millisecond (a grant
// and the debt it repays), for the member's own view and an admin's folded view; that the
// end cursor gives exactly the rows written since; and that a bad limit or cursor is a 400
// naming the field.
func TestLedgerPagesByCursor(t *testing.T) {
	ts := newTestServer(t)
	token, _, _ := debtThenReward(ts)
	for i := 0; i < 3; i++ {
		ts.do("POST", "/api/v1/usage", token, map[string]any{"description": "more", "credits": 100}, 201, nil)
		ts.do("POST", "/api/v1/members/2/grants", ts.owner, map[string]any{"kind": "addon", "credits": 150}, 201, nil)
	}
	month := "month=" + time.Now().UTC().Format("2006-01")
	for _, view := range []struct{ token, query string }{{token, month}, {ts.owner, month + "&member=2"}} {
		var whole ledgerPageReply
		ts.do("GET", "/api/v1/ledger?"+view.query, view.token, nil, 200, &whole)
		if whole.NextCursor != nil || len(whole.Items) < 10 {
			t.Fatalf("without limit the whole month comes at once: %d rows, next %v", len(whole.Items), whole.NextCursor)
		}
		for _, limit := range []int{1, 2, 3, 100} {
			ids, splitTie, _ := ts.readLedgerPages(view.token, view.query, limit)
			seen := map[int64]bool{}
			for i, id := range ids {
				if seen[id] {
					t.Fatalf("%s limit %d: row %d twice", view.query, limit, id)
				}
				seen[id] = true
				if i >= len(whole.Items) || whole.Items[i].ID != id {
					t.Fatalf("%s limit %d: pages give %v, the whole month %d rows", view.query, limit, ids, len(whole.Items))
				}
			}
			if len(ids) != len(whole.Items) {
				t.Fatalf("%s limit %d: pages give %d rows, the whole month %d", view.query, limit, len(ids), len(whole.Items))
			}
			if limit == 2 && view.token == token && !splitTie {
				t.Fatal("no page ended between rows of the same millisecond: the test proves nothing")
			}
		}
	}
	_, _, end := ts.readLedgerPages(token, month, 100)
	ts.do("POST", "/api/v1/usage", token, map[string]any{"description": "later", "credits": 1}, 201, nil)
	var since ledgerPageReply
	ts.do("GET", "/api/v1/ledger?"+month+"&cursor="+end, token, nil, 200, &since)
	if len(since.Items) != 1 || since.Items[0].Action != "usage" || since.Items[0].Credits != "-1" {
		t.Fatalf("the end cursor should give only the row written since: %+v", since.Items)
	}
	for _, bad := range []struct{ query, field string }{{"&limit=0", "limit"}, {"&limit=501", "limit"}, {"&cursor=nope", "cursor"}} {
		var e struct{ Error struct{ Field string } }
		ts.do("GET", "/api/v1/ledger?"+month+bad.query, token, nil, 400, &e)
		if e.Error.Field != bad.field {
			t.Fatalf("%s: the error names %q, want %q", bad.query, e.Error.Field, bad.field)
		}
	}
}
