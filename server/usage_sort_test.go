package server

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// Pages sorted by credits or tokens, followed by their cursors, list every matching event once,
// in order (ties by id), with and without a model or app filter: the order by credits or tokens
// with no model filter is a merge of one walk per model.
func TestSortedPagesListEveryEventInOrder(t *testing.T) {
	ts := newTestServer(t)
	var other struct{ Key string }
	ts.do("POST", "/api/v1/apps", ts.owner, map[string]any{"name": "Essay Coach"}, 201, &other)
	type ev struct {
		id      int64
		model   string
		app     string
		credits int64 // millicredits
		tokens  int64
	}
	var evs []ev
	models := []string{"gpt-4o", "gpt-4o-mini", "text-embedding-3-small"}
	for i := range 40 {
		e := ev{model: models[i%3], app: "homework-helper", credits: int64(1000 * (1 + (i*7)%11)), tokens: int64(100 * (1 + (i*5)%9))}
		key := ts.appKey
		if i%4 == 0 {
			e.app, key = "essay-coach", other.Key
		}
		var res struct{ ID int64 }
		ts.do("POST", "/api/v1/usage", key, map[string]any{"aiAgentId": e.app, "userEmail": "owner@example.org", "model": e.model, "description": "sorted",
			"credits": json.Number(fmt.Sprint(e.credits / 1000)), "inputTokens": e.tokens, "totalTokens": e.tokens}, 201, &res)
		e.id = res.ID
		evs = append(evs, e)
	}
	for _, tc := range []struct {
		sort, model, app string
	}{
		{"-credits", "", ""}, {"credits", "", ""}, {"-totalTokens", "", ""}, {"totalTokens", "", ""},
		{"-credits", "gpt-4o-mini", ""}, {"-credits", "", "essay-coach"}, {"totalTokens", "text-embedding-3-small", "homework-helper"},
	} {
		t.Run(tc.sort+" "+tc.model+" "+tc.app, func(t *testing.T) {
			var want []int64
			var sorted []ev
			for _, e := range evs {
				if (tc.model == "" || e.model == tc.model) && (tc.app == "" || e.app == tc.app) {
					sorted = append(sorted, e)
				}
			}
			value := func(e ev) int64 {
				if strings.HasSuffix(tc.sort, "credits") {
					return e.credits
				}
				return e.tokens
			}
			desc := tc.sort[0] == '-'
			slices.SortFunc(sorted, func(a, b ev) int {
				c := cmp.Or(cmp.Compare(value(a), value(b)), cmp.Compare(a.id, b.id))
				if desc {
					return -c
				}
				return c
			})
			for _, e := range sorted {
				want = append(want, e.id)
			}
			var got []int64
			cursor := ""
			for pages := 0; ; pages++ {
				q := url.Values{"sort": {tc.sort}, "limit": {"3"}}
				if tc.model != "" {
					q.Set("model", tc.model)
				}
				if tc.app != "" {
					q.Set("app", tc.app)
				}
				if cursor != "" {
					q.Set("cursor", cursor)
				}
				var page struct {
					Items      []struct{ ID int64 }
					NextCursor *string
				}
				ts.do("GET", "/api/v1/usage?"+q.Encode(), ts.owner, nil, 200, &page)
				for _, it := range page.Items {
					got = append(got, it.ID)
				}
				if page.NextCursor == nil || pages > 40 {
					break
				}
				cursor = *page.NextCursor
			}
			if !slices.Equal(got, want) {
				t.Fatalf("pages listed\n %v\nwant\n %v", got, want)
			}
		})
	}
}
