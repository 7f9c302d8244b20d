package db_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"tokenjar/db"
	"tokenjar/db/dbtest"
)

// A page sorted by credits or tokens with no model filter is a merge of one walk per model; on
// PostgreSQL each walk has its own ORDER BY and LIMIT (the planner otherwise sorted a member's
// whole history). This proves, on whichever engine the suite runs, that walking every page by
// cursor, in both directions and for both sorts, gives every event once and in order, across
// models whose values interleave and tie (ties are broken by id). It does not time anything: the
// plans are checked by hand with EXPLAIN (docs/benchmarks.md).
func TestMergedSortPagesAreEveryEventInOrder(t *testing.T) {
	d := dbtest.Open(t)
	ctx := context.Background()
	models := []string{"a-model", "b-model", "c-model", "d-model"}
	var uid int64
	err := d.Update(ctx, func(c *db.Conn) error {
		var err error
		if uid, err = c.InsertUser(ctx, db.User{Email: "m@example.org", Name: "M", Role: "member"}); err != nil {
			return err
		}
		for i := 0; i < 60; i++ {
			m := models[(i*7)%len(models)]
			credits := int64((i * 13) % 17) // ties within and across models
			_, err := c.InsertUsage(ctx, db.UsageEvent{UserID: uid, PayerID: uid, At: int64(1000 + i), Description: fmt.Sprint(i),
				UsageType: "token_usage", Model: m, Credits: credits, TotalTokens: int64((i * 11) % 23), Charged: true})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, sort := range []string{"credits", "total_tokens"} {
		for _, asc := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s asc=%v", sort, asc), func(t *testing.T) {
				f := db.UsageFilter{UserID: uid, Sort: sort, Asc: asc, Limit: 7}
				var got []db.UsageEvent
				for pages := 0; pages < 20; pages++ {
					page, err := d.Read().ListUsage(ctx, f)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, page...)
					if len(page) < f.Limit {
						break
					}
					last := page[len(page)-1]
					f.After = &db.Cursor{Value: f.SortValue(last), ID: last.ID}
				}
				if len(got) != 60 {
					t.Fatalf("%d events over the pages, want 60", len(got))
				}
				want := slices.Clone(got)
				slices.SortStableFunc(want, func(a, b db.UsageEvent) int {
					va, vb := f.SortValue(a), f.SortValue(b)
					c := 0
					switch {
					case va < vb || va == vb && a.ID < b.ID:
						c = -1
					case va > vb || va == vb && a.ID > b.ID:
						c = 1
					}
					if !asc {
						c = -c
					}
					return c
				})
				ids := func(es []db.UsageEvent) (out []int64) {
					for _, e := range es {
						out = append(out, e.ID)
					}
					return out
				}
				if !slices.Equal(ids(got), ids(want)) {
					t.Fatalf("pages in order %v, want %v", ids(got), ids(want))
				}
				seen := map[int64]bool{}
				for _, e := range got {
					if seen[e.ID] {
						t.Fatalf("event %d on two pages", e.ID)
					}
					seen[e.ID] = true
				}
			})
		}
	}
}
