package server

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
)

// Proves: GET /usage/aggregate's totals for a filter (the usage log's footer) equal the sum of the
// rows GET /usage lists for the same filter over every page, leaving out requests not charged and
// refunded ones, and its request count equals the number of rows; with and without filters, and
// for a grantee whose charges an allowance split. Not: ranges with a partial first or last day
// (the log always asks for whole days), nor a billing source filter: there the aggregate counts
// each source's share of a split request, and the log lists requests by their first source.
func TestAggregateTotalsEqualListedPages(t *testing.T) {
	ts := newTestServer(t)
	kidID, kidTok := ts.member("kid@example.org")
	mumID, mumTok := ts.member("mum@example.org")
	ts.grant(kidID, "addon", "100")
	ts.grant(mumID, "addon", "100")
	ts.do("POST", "/api/v1/delegations", mumTok, map[string]any{"granteeId": kidID, "credits": 5, "period": "day"}, 201, nil)
	var refundID int64
	for i := 0; i < 11; i++ {
		body := map[string]any{"aiAgentId": "homework-helper", "userEmail": "kid@example.org", "description": fmt.Sprint("report ", i),
			"credits": json.Number(fmt.Sprintf("%d.%03d", 1+i%4, (125*i)%1000)), "model": []string{"gpt-4o", "claude"}[i%2], "chargeUser": i%5 != 2}
		var res struct{ ID int64 }
		ts.do("POST", "/api/v1/usage", ts.appKey, body, 201, &res)
		if i == 8 {
			refundID = res.ID
		}
	}
	ts.do("POST", "/api/v1/usage/"+itoa(refundID)+"/refund", ts.owner, nil, 200, nil)

	for _, f := range []url.Values{{}, {"model": {"gpt-4o"}}, {"model": {"claude"}}} {
		var sum, rows int64
		cursor := ""
		for {
			q := url.Values{"limit": {"3"}}
			for k, v := range f {
				q[k] = v
			}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			var page struct {
				Items []struct {
					Credits  json.Number
					Charged  bool
					Refunded bool
				}
				NextCursor *string
			}
			ts.do("GET", "/api/v1/usage?"+q.Encode(), kidTok, nil, 200, &page)
			for _, it := range page.Items {
				rows++
				if it.Charged && !it.Refunded {
					sum += milli(t, it.Credits)
				}
			}
			if page.NextCursor == nil {
				break
			}
			cursor = *page.NextCursor
		}
		var agg struct {
			Totals struct {
				Requests int64
				Credits  json.Number
			}
		}
		ts.do("GET", "/api/v1/usage/aggregate?by=day&"+f.Encode(), kidTok, nil, 200, &agg)
		if rows < 4 || milli(t, agg.Totals.Credits) != sum || agg.Totals.Requests != rows {
			t.Fatalf("%v: %d rows summing to %d millicredits; the aggregate says %s in %d", f, rows, sum, agg.Totals.Credits, agg.Totals.Requests)
		}
	}
}
