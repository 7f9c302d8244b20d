package server

import (
	"encoding/json"
	"fmt"
	"testing"
)

type delegationReply struct {
	ID        int64
	GranteeID int64
	Status    string
	Note      string
}

// classroom makes a teacher with credits and n students in group 7B, each with a daily
// allowance of perDay from the teacher. It returns the teacher's token, the students' ids and
// tokens, and the allowances.
func classroom(ts *testServer, n int, perDay int) (string, []int64, []string, []delegationReply) {
	ts.t.Helper()
	teacherID, teacher := ts.member("teacher@example.org")
	ts.grant(teacherID, "addon", "5000")
	ids := make([]int64, n)
	tokens := make([]string, n)
	for i := range ids {
		ids[i], tokens[i] = ts.member(fmt.Sprintf("student%d@example.org", i))
		ts.do("PATCH", "/api/v1/members/"+itoa(ids[i]), ts.owner, map[string]any{"group": "7B"}, 200, nil)
	}
	var created struct{ Items []delegationReply }
	ts.do("POST", "/api/v1/delegations/bulk", teacher, map[string]any{"group": "7B", "credits": perDay, "period": "day", "note": "Homework"}, 201, &created)
	if len(created.Items) != n {
		ts.t.Fatalf("bulk gave %d allowances, want %d", len(created.Items), n)
	}
	return teacher, ids, tokens, created.Items
}

func errorField(t *testing.T, b []byte) string {
	t.Helper()
	var e struct {
		Error struct{ Field, Message string }
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("decode error %s: %v", b, err)
	}
	return e.Error.Field
}

// TestBulkPauseOfAClassStopsItsAllowances: the teacher pauses the whole class at once, and a
// student's next report is not paid by the allowance; resume, edit and revoke do the same for
// every allowance, and a bad one in the list changes none.
func TestBulkPauseOfAClassStopsItsAllowances(t *testing.T) {
	ts := newTestServer(t)
	teacher, _, tokens, given := classroom(ts, 4, 50)
	otherID, _ := ts.member("outsider@example.org")
	var outside delegationReply
	ts.do("POST", "/api/v1/delegations", teacher, map[string]any{"granteeId": otherID, "credits": 50, "period": "day"}, 201, &outside)

	var paused struct{ Items []delegationReply }
	ts.do("POST", "/api/v1/delegations/bulk-update", teacher, map[string]any{"group": "7B", "action": "pause"}, 200, &paused)
	if len(paused.Items) != 4 {
		t.Fatalf("paused %d allowances, want 4", len(paused.Items))
	}
	for _, d := range paused.Items {
		if d.Status != "paused" {
			t.Fatalf("allowance %d is %s after the bulk pause", d.ID, d.Status)
		}
	}
	var r struct{ BillingSource string }
	ts.do("POST", "/api/v1/usage", tokens[2], map[string]any{"description": "essay", "credits": 10}, 201, &r)
	if r.BillingSource != "personal" {
		t.Fatalf("a report after the pause was billed to %s, want personal", r.BillingSource)
	}
	var list struct{ Given []delegationReply }
	ts.do("GET", "/api/v1/delegations", teacher, nil, 200, &list)
	for _, d := range list.Given {
		if d.ID == outside.ID && d.Status != "active" {
			t.Fatalf("the allowance outside the group is %s; a group's pause must leave it", d.Status)
		}
	}

	// All or nothing: a revoked allowance in the list is named, and the others stay paused.
	ts.do("DELETE", "/api/v1/delegations/"+itoa(given[3].ID), teacher, nil, 200, nil)
	status, b := ts.send(httpClient, "POST", "/api/v1/delegations/bulk-update", teacher,
		map[string]any{"ids": []int64{given[0].ID, given[3].ID}, "action": "resume"}, nil)
	if status != 400 || errorField(t, b) != "ids[1]" {
		t.Fatalf("resume with a revoked allowance: %d %s, want 400 naming ids[1]", status, b)
	}
	ts.do("GET", "/api/v1/delegations", teacher, nil, 200, &list)
	for _, d := range list.Given {
		if d.ID == given[0].ID && d.Status != "paused" {
			t.Fatalf("a failed bulk update changed allowance %d to %s", d.ID, d.Status)
		}
	}
	// Someone else's allowance is not found, and named.
	status, b = ts.send(httpClient, "POST", "/api/v1/delegations/bulk-update", ts.owner,
		map[string]any{"ids": []int64{given[0].ID}, "action": "pause"}, nil)
	if status != 400 || errorField(t, b) != "ids[0]" {
		t.Fatalf("pausing another member's allowance: %d %s, want 400 naming ids[0]", status, b)
	}
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"group": "7B", "action": "stop"}, "action"},
		{map[string]any{"action": "pause"}, "ids"},
		{map[string]any{"group": "nobody", "action": "pause"}, "group"},
		{map[string]any{"group": "7B", "action": "edit"}, "fields"},
		{map[string]any{"group": "7B", "action": "edit", "fields": map[string]any{"credits": -1}}, "credits"},
	} {
		status, b := ts.send(httpClient, "POST", "/api/v1/delegations/bulk-update", teacher, tc.body, nil)
		if status != 400 || errorField(t, b) != tc.field {
			t.Fatalf("%v: %d %s, want 400 naming %s", tc.body, status, b, tc.field)
		}
	}

	// The group's update leaves the revoked one: resume, edit, then revoke the rest.
	var out struct{ Items []delegationReply }
	ts.do("POST", "/api/v1/delegations/bulk-update", teacher, map[string]any{"group": "7B", "action": "resume"}, 200, &out)
	if len(out.Items) != 3 {
		t.Fatalf("resumed %d allowances, want the 3 not revoked", len(out.Items))
	}
	ts.do("POST", "/api/v1/usage", tokens[2], map[string]any{"description": "essay", "credits": 10}, 201, &r)
	if r.BillingSource != itoa(given[2].ID) {
		t.Fatalf("a report after the resume was billed to %s, want allowance %d", r.BillingSource, given[2].ID)
	}
	ts.do("POST", "/api/v1/delegations/bulk-update", teacher,
		map[string]any{"group": "7B", "action": "edit", "fields": map[string]any{"note": "Term 2"}}, 200, &out)
	for _, d := range out.Items {
		if d.Note != "Term 2" {
			t.Fatalf("allowance %d note %q after the bulk edit", d.ID, d.Note)
		}
	}
	ts.do("POST", "/api/v1/delegations/bulk-update", teacher, map[string]any{"group": "7B", "action": "revoke"}, 200, &out)
	for _, d := range out.Items {
		if d.Status != "revoked" {
			t.Fatalf("allowance %d is %s after the bulk revoke", d.ID, d.Status)
		}
	}
	ts.checkInvariant()
}

type assignmentSplit struct{ Allowance, Own, Total json.Number }

// TestGrantedAssignmentsAddUpToEvents: every cell, row, column and the grand total of the
// student × assignment table equal the sums of the students' own events, split into what the
// teacher's allowance paid and what they paid themselves; own spending on an assignment the
// allowances never paid for is left out.
func TestGrantedAssignmentsAddUpToEvents(t *testing.T) {
	ts := newTestServer(t)
	teacher, ids, tokens, _ := classroom(ts, 2, 30)
	ts.grant(ids[0], "addon", "100")
	reports := []struct {
		who              int
		credits          int
		project, billing string
	}{
		{0, 20, "Essay", ""},        // the allowance pays all
		{0, 20, "Essay", ""},        // split: 10 allowance, 10 own
		{0, 5, "Essay", "personal"}, // own, same assignment
		{0, 7, "Diary", "personal"}, // own, an assignment the teacher never paid: not shown
		{1, 15, "Maths", ""},        // allowance
		{1, 4, "", ""},              // allowance, no assignment named
		{1, 30, "Maths", ""},        // split: 11 allowance, 19 own (debt: student 1 has no credits)
	}
	for _, r := range reports {
		body := map[string]any{"description": "homework", "credits": r.credits, "project": r.project}
		if r.billing != "" {
			body["billingSource"] = r.billing
		}
		ts.do("POST", "/api/v1/usage", tokens[r.who], body, 201, nil)
	}
	var table struct {
		Projects []struct {
			Project string
			assignmentSplit
		}
		Students []struct {
			UserID int64
			Cells  map[string]assignmentSplit
			assignmentSplit
		}
		Totals assignmentSplit
	}
	ts.do("GET", "/api/v1/granted/assignments?from=2000-01-01", teacher, nil, 200, &table)

	// The same sums from each student's own log.
	type split struct{ allowance, own int64 }
	want := map[int64]map[string]*split{}
	for i, tok := range tokens {
		var page struct {
			Items []struct {
				Credits, DelegationCredits json.Number
				DelegationID               *int64
				Project                    string
			}
		}
		ts.do("GET", "/api/v1/usage?limit=500", tok, nil, 200, &page)
		want[ids[i]] = map[string]*split{}
		for _, e := range page.Items {
			full := milli(t, e.Credits)
			paid := int64(0)
			if e.DelegationID != nil {
				paid = full
				if e.DelegationCredits != "" {
					paid = milli(t, e.DelegationCredits)
				}
			}
			if want[ids[i]][e.Project] == nil {
				want[ids[i]][e.Project] = &split{}
			}
			want[ids[i]][e.Project].allowance += paid
			want[ids[i]][e.Project].own += full - paid
		}
	}
	delete(want[ids[0]], "Diary")
	var grand split
	cols := map[string]*split{}
	for _, s := range table.Students {
		w := want[s.UserID]
		if len(s.Cells) != len(w) {
			t.Fatalf("student %d: %d cells, want %d (%v)", s.UserID, len(s.Cells), len(w), s.Cells)
		}
		var row split
		for p, c := range s.Cells {
			if w[p] == nil || milli(t, c.Allowance) != w[p].allowance || milli(t, c.Own) != w[p].own {
				t.Fatalf("student %d, %q: table %+v, events %+v", s.UserID, p, c, w[p])
			}
			row.allowance += w[p].allowance
			row.own += w[p].own
			if cols[p] == nil {
				cols[p] = &split{}
			}
			cols[p].allowance += w[p].allowance
			cols[p].own += w[p].own
		}
		if milli(t, s.Allowance) != row.allowance || milli(t, s.Own) != row.own || milli(t, s.Total) != row.allowance+row.own {
			t.Fatalf("student %d row total %+v, events %+v", s.UserID, s.assignmentSplit, row)
		}
		grand.allowance += row.allowance
		grand.own += row.own
	}
	if len(table.Students) != 2 || len(table.Projects) != len(cols) {
		t.Fatalf("table has %d students and %d assignments, want 2 and %d", len(table.Students), len(table.Projects), len(cols))
	}
	for _, p := range table.Projects {
		if milli(t, p.Allowance) != cols[p.Project].allowance || milli(t, p.Own) != cols[p.Project].own {
			t.Fatalf("assignment %q total %+v, events %+v", p.Project, p.assignmentSplit, cols[p.Project])
		}
	}
	if milli(t, table.Totals.Allowance) != grand.allowance || milli(t, table.Totals.Own) != grand.own || milli(t, table.Totals.Total) != grand.allowance+grand.own {
		t.Fatalf("grand total %+v, events %+v", table.Totals, grand)
	}
	// The figures themselves, so a table and a log that are wrong the same way fail too.
	if e := cols["Essay"]; e.allowance != 30000 || e.own != 15000 {
		t.Fatalf("Essay: %+v, want 30 from the allowance and 15 own", e)
	}
	if m := cols["Maths"]; m.allowance != 26000 || m.own != 19000 {
		t.Fatalf("Maths: %+v, want 26 from the allowance and 19 own", m)
	}
	// A student sees no table of their own grantees' spending: it is empty, not theirs.
	var empty struct{ Students []any }
	ts.do("GET", "/api/v1/granted/assignments", tokens[0], nil, 200, &empty)
	if len(empty.Students) != 0 {
		t.Fatalf("a member who gives no allowance sees %d students", len(empty.Students))
	}
	status, b := ts.send(httpClient, "GET", "/api/v1/granted/assignments?from=yesterday", teacher, nil, nil)
	if status != 400 || errorField(t, b) != "from" {
		t.Fatalf("a bad from: %d %s, want 400 naming from", status, b)
	}
}
