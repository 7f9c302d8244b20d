package db

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"
)

// A page sorted by credits or tokens must walk an index in that order: sorting a member's
// whole history for 50 rows took seconds at a million events. The plan is deterministic, so
// this checks the property itself rather than a timing.
func TestSortedPagesWalkAnIndex(t *testing.T) {
	d := openTest(t)
	two := []string{"gpt-4o", "text-embedding-3-large"} // a merge of two models' walks
	for _, tc := range []struct {
		name  string
		f     UsageFilter
		index string
	}{
		{"own by time", UsageFilter{UserID: 1, Sort: "at"}, "usage_user_at"},
		{"own by credits", UsageFilter{UserID: 1, Sort: "credits", models: two}, "usage_user_model_credits"},
		{"own by tokens", UsageFilter{UserID: 1, Sort: "total_tokens", models: two}, "usage_user_model_tokens"},
		{"own by credits, ascending, after a cursor", UsageFilter{UserID: 1, Sort: "credits", Asc: true, After: &Cursor{Value: 5, ID: 9}, models: two}, "usage_user_model_credits"},
		{"own by credits, with an app", UsageFilter{UserID: 1, Sort: "credits", AppID: 3, models: two}, "usage_user_model_credits"},
		{"own by credits, with a model", UsageFilter{UserID: 1, Sort: "credits", Model: "m"}, "usage_user_model_credits"},
		{"own by tokens, with a model, after a cursor", UsageFilter{UserID: 1, Sort: "total_tokens", Model: "m", After: &Cursor{Value: 5, ID: 9}}, "usage_user_model_tokens"},
		{"granted by credits", UsageFilter{GranterID: 1, Sort: "credits", models: two}, "usage_payer_model_credits"},
		{"granted by tokens, after a cursor", UsageFilter{GranterID: 1, Sort: "total_tokens", After: &Cursor{Value: 5, ID: 9}, models: two}, "usage_payer_model_tokens"},
		{"granted by credits, one grantee, with a model", UsageFilter{GranterID: 1, UserID: 2, Sort: "credits", Model: "m"}, "usage_payer_model_credits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.Limit = 51
			q, args := tc.f.query()
			all := queryPlan(t, d, q, args)
			if !strings.Contains(all, "INDEX "+tc.index+" ") || strings.Contains(all, "TEMP B-TREE") {
				t.Fatalf("want a walk of %s with no sort, got: %s", tc.index, all)
			}
			if tc.f.merged() && (!strings.Contains(all, "MERGE (UNION ALL)") || strings.Count(all, "INDEX "+tc.index+" ") != len(tc.f.models)) {
				t.Fatalf("want a merge of one walk of %s per model, got: %s", tc.index, all)
			}
		})
	}
}

// The merge's models come from the sort index itself: the member's (or the granter's
// delegated events') distinct models, in order, one seek each.
func TestSortModelsAreTheMembersModels(t *testing.T) {
	d := openTest(t)
	ctx := context.Background()
	err := d.Update(ctx, func(c *Conn) error {
		for _, s := range []string{`INSERT INTO users(id, email, name, role, created_at) VALUES (1, 'a@x', 'A', 'member', 0), (2, 'b@x', 'B', 'member', 0), (3, 'c@x', 'C', 'member', 0)`,
			`INSERT INTO delegations(id, granter_id, grantee_id, credits, period, starts_at, created_at) VALUES (7, 3, 1, 1000, 'month', 0, 0)`} {
			if _, err := c.q.ExecContext(ctx, s); err != nil {
				return err
			}
		}
		for i, ev := range []struct {
			user, payer int64
			deleg       any
			model       string
		}{{1, 1, nil, "m2"}, {1, 1, nil, "m1"}, {1, 1, nil, "m2"}, {2, 2, nil, "m9"}, {1, 3, 7, "m3"}, {1, 1, nil, "m0"}} {
			if _, err := c.InsertUsage(ctx, UsageEvent{UserID: ev.user, PayerID: ev.payer, At: int64(i), Model: ev.model, Credits: int64(i),
				DelegationID: nullInt(ev.deleg)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		f    UsageFilter
		want []string
	}{
		{UsageFilter{UserID: 1, Sort: "credits"}, []string{"m0", "m1", "m2", "m3"}},
		{UsageFilter{UserID: 2, Sort: "total_tokens"}, []string{"m9"}},
		{UsageFilter{GranterID: 3, Sort: "credits"}, []string{"m3"}},
		{UsageFilter{UserID: 3, Sort: "credits"}, nil},              // no events: the plain query
		{UsageFilter{UserID: 1, Sort: "at"}, nil},                   // by time: no merge
		{UsageFilter{UserID: 1, Sort: "credits", Model: "m1"}, nil}, // one model: one walk
	} {
		f, err := d.Read().withSortModels(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(f.models, tc.want) {
			t.Errorf("%+v: models %v, want %v", tc.f, f.models, tc.want)
		}
	}
	for _, f := range []UsageFilter{{UserID: 1, Sort: "credits"}, {GranterID: 3, Sort: "credits"}} {
		q, args := f.sortModelsQuery()
		// (A granter's index holds only delegated events but not the column that says so:
		// SQLite reads the row of the one entry each seek finds.)
		if all := queryPlan(t, d, q, args); strings.Count(all, "SEARCH usage_events USING") != 2 || !strings.Contains(all, "AND model>?)") {
			t.Errorf("%+v: want two seeks in a sort index, got: %s", f, all)
		}
	}
	// And the merged page is the events in credits order, most first.
	evs, err := d.Read().ListUsage(ctx, UsageFilter{UserID: 1, Sort: "credits", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, e := range evs {
		got = append(got, e.Credits)
	}
	if !slices.Equal(got, []int64{5, 4, 2}) {
		t.Fatalf("credits of the first page %v, want [5 4 2]", got)
	}
}

func nullInt(v any) sql.NullInt64 {
	if v == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(v.(int)), Valid: true}
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
