package db

import (
	"context"
	"strings"
	"testing"
)

// A page sorted by credits or tokens must walk an index in that order: sorting a member's
// whole history for 50 rows took seconds at a million events. The plan is deterministic, so
// this checks the property itself rather than a timing.
func TestSortedPagesWalkAnIndex(t *testing.T) {
	d := openTest(t)
	for _, tc := range []struct {
		name  string
		f     UsageFilter
		index string
	}{
		{"own by time", UsageFilter{UserID: 1, Sort: "at"}, "usage_user_at"},
		{"own by credits", UsageFilter{UserID: 1, Sort: "credits"}, "usage_user_credits"},
		{"own by tokens", UsageFilter{UserID: 1, Sort: "total_tokens"}, "usage_user_tokens"},
		{"own by credits, ascending, after a cursor", UsageFilter{UserID: 1, Sort: "credits", Asc: true, After: &Cursor{Value: 5, ID: 9}}, "usage_user_credits"},
		{"own by tokens, with a model", UsageFilter{UserID: 1, Sort: "total_tokens", Model: "m"}, "usage_user_tokens"},
		{"granted by credits", UsageFilter{GranterID: 1, Sort: "credits"}, "usage_payer_credits"},
		{"granted by tokens, after a cursor", UsageFilter{GranterID: 1, Sort: "total_tokens", After: &Cursor{Value: 5, ID: 9}}, "usage_payer_tokens"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.Limit = 51
			q, args := tc.f.query()
			all := queryPlan(t, d, q, args)
			if !strings.Contains(all, "INDEX "+tc.index+" ") || strings.Contains(all, "TEMP B-TREE") {
				t.Fatalf("want a walk of %s with no sort, got: %s", tc.index, all)
			}
		})
	}
}

// A granter's charts read the rollups' granted index alone, never a rollup row per entry.
func TestGrantedAggregatesReadOnlyTheirIndex(t *testing.T) {
	d := openTest(t)
	for _, by := range []string{"day", "member", "model", "project"} {
		q, args := aggregateQuery(aggKeys[by], AggFilter{GranterID: 1, HasFrom: true, FromDay: 10, HasTo: true, ToDay: 20})
		if all := queryPlan(t, d, q, args); !strings.Contains(all, "COVERING INDEX usage_daily_granted") {
			t.Fatalf("by=%s: want a read of the covering index alone, got: %s", by, all)
		}
	}
}

// queryPlan returns SQLite's plan for q, its steps joined by "; ".
func queryPlan(t *testing.T, d *DB, q string, args []any) string {
	t.Helper()
	rows, err := d.read.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "; ")
}
