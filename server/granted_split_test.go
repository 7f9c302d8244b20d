package server

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"slices"
	"testing"
)

type grantedEvent struct {
	ID                int64
	BillingSource     string
	Credits           json.Number
	DelegationCredits json.Number
}

// twoGrantersKid is a kid with two allowances a day: 10 from a parent (the older, so it pays
// first), 30 from a teacher; both granters have 1000 credits. The stranger gives nothing.
type twoGrantersKid struct {
	parent, teacher, stranger, kid string // tokens
	fromParent, fromTeacher        delegationReply
}

func twoGranters(ts *testServer) twoGrantersKid {
	ts.t.Helper()
	var f twoGrantersKid
	var parentID, teacherID, kidID int64
	parentID, f.parent = ts.member("parent@example.org")
	teacherID, f.teacher = ts.member("teacher@example.org")
	_, f.stranger = ts.member("stranger@example.org")
	ts.grant(parentID, "addon", "1000")
	ts.grant(teacherID, "addon", "1000")
	kidID, f.kid = ts.member("kid@example.org")
	ts.do("POST", "/api/v1/delegations", f.parent, map[string]any{"granteeId": kidID, "credits": 10, "period": "day"}, 201, &f.fromParent)
	ts.do("POST", "/api/v1/delegations", f.teacher, map[string]any{"granteeId": kidID, "credits": 30, "period": "day"}, 201, &f.fromTeacher)
	return f
}

// TestEachGranterOfASplitChargeSeesTheirPart: a report larger than the first allowance's
// remainder is paid by two allowances of two granters. Each granter's log, detail and CSV show
// the event with their own allowance and part; someone who paid nothing sees nothing.
func TestEachGranterOfASplitChargeSeesTheirPart(t *testing.T) {
	ts := newTestServer(t)
	f := twoGranters(ts)
	parent, teacher, stranger, kid, fromParent, fromTeacher := f.parent, f.teacher, f.stranger, f.kid, f.fromParent, f.fromTeacher
	var split struct{ ID int64 }
	ts.do("POST", "/api/v1/usage", kid, map[string]any{"description": "essay", "credits": 25, "project": "Essay"}, 201, &split)
	var whole struct{ ID int64 }
	ts.do("POST", "/api/v1/usage", kid, map[string]any{"description": "quiz", "credits": 4}, 201, &whole) // the teacher's alone

	for _, g := range []struct {
		name, token string
		d           int64
		want        map[int64]string // event → the granter's part
	}{
		{"parent", parent, fromParent.ID, map[int64]string{split.ID: "10"}},
		{"teacher", teacher, fromTeacher.ID, map[int64]string{split.ID: "15", whole.ID: "4"}},
	} {
		var page struct{ Items []grantedEvent }
		ts.do("GET", "/api/v1/granted/usage", g.token, nil, 200, &page)
		if len(page.Items) != len(g.want) {
			t.Fatalf("%s's granted log has %d events, want %d: %+v", g.name, len(page.Items), len(g.want), page.Items)
		}
		for _, e := range page.Items {
			part := e.DelegationCredits
			if part == "" {
				part = e.Credits
			}
			if e.BillingSource != itoa(g.d) || part.String() != g.want[e.ID] {
				t.Fatalf("%s sees event %d billed to %s, part %s; want allowance %d, part %s", g.name, e.ID, e.BillingSource, part, g.d, g.want[e.ID])
			}
		}
		var detail grantedEvent
		ts.do("GET", "/api/v1/usage/"+itoa(split.ID), g.token, nil, 200, &detail)
		if detail.BillingSource != itoa(g.d) || detail.DelegationCredits.String() != g.want[split.ID] {
			t.Fatalf("%s's detail of the split charge: %+v", g.name, detail)
		}

		records, err := csv.NewReader(bytes.NewReader(ts.do("GET", "/api/v1/granted/usage/export?format=csv", g.token, nil, 200, nil))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		head := records[0]
		col := func(name string) int {
			i := slices.Index(head, name)
			if i < 0 {
				t.Fatalf("%s's granted CSV has no %s column: %v", g.name, name, head)
			}
			return i
		}
		if slices.Contains(head, "credits") {
			t.Fatalf("the granted CSV's credits column is ambiguous: %v", head)
		}
		if len(records)-1 != len(g.want) {
			t.Fatalf("%s's granted CSV has %d rows, want %d", g.name, len(records)-1, len(g.want))
		}
		for _, r := range records[1:] {
			id := r[col("id")]
			var want, full string
			for e, part := range g.want {
				if itoa(e) == id {
					want = part
					full = map[bool]string{true: "25", false: "4"}[e == split.ID]
				}
			}
			if r[col("allowanceCredits")] != want || r[col("requestCredits")] != full || r[col("billingSource")] != itoa(g.d) {
				t.Fatalf("%s's CSV row %v: allowanceCredits %s, requestCredits %s, billingSource %s; want %s, %s, %d",
					g.name, id, r[col("allowanceCredits")], r[col("requestCredits")], r[col("billingSource")], want, full, g.d)
			}
		}
	}
	// Filtered by the teacher's allowance, the log still holds the split charge it paid a share of.
	var bySource struct{ Items []grantedEvent }
	ts.do("GET", "/api/v1/granted/usage?source="+itoa(fromTeacher.ID), teacher, nil, 200, &bySource)
	if len(bySource.Items) != 2 {
		t.Fatalf("the teacher's log filtered by their allowance has %d events, want 2", len(bySource.Items))
	}
	var none struct{ Items []grantedEvent }
	ts.do("GET", "/api/v1/granted/usage", stranger, nil, 200, &none)
	if len(none.Items) != 0 {
		t.Fatalf("a member who paid nothing sees %d events", len(none.Items))
	}
	ts.do("GET", "/api/v1/usage/"+itoa(split.ID), stranger, nil, 404, nil)
	// The member's own export keeps its columns.
	records, err := csv.NewReader(bytes.NewReader(ts.do("GET", "/api/v1/usage/export?format=csv", kid, nil, 200, nil))).ReadAll()
	if err != nil || !slices.Contains(records[0], "credits") || slices.Contains(records[0], "requestCredits") {
		t.Fatalf("the own CSV's header changed: %v %v", records[0], err)
	}
}
