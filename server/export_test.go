package server

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"tokenjar/server/core"
)

// csvRecord is how a usage item reads in the CSV export, written the plain way: from the JSON
// item, through encoding/csv. The export builds its lines from one raw text per row (db.UsageCSV);
// this is the oracle it must agree with.
func csvRecord(it core.UsageItem) []string {
	cell := func(s string) string {
		if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
			return "'" + s
		}
		return s
	}
	pt := ""
	if it.ProcessingTimeMs != nil {
		pt = strconv.FormatInt(*it.ProcessingTimeMs, 10)
	}
	price := func(i int) string {
		if it.Prices == nil {
			return ""
		}
		p := []*core.MicroUSD{&it.Prices.Input, &it.Prices.Output, &it.Prices.CachedInput, &it.Prices.CacheWrite, it.Prices.PerImage}[i]
		if p == nil {
			return ""
		}
		return p.String()
	}
	cost := ""
	if string(it.CostUSD) != "null" {
		cost = string(it.CostUSD)
	}
	return []string{strconv.FormatInt(it.ID, 10), it.At, cell(it.UserName), cell(it.UserEmail), cell(it.AppSlug), cell(it.Model),
		cell(it.Provider), cell(it.Modality), cell(it.UsageType), cell(it.Description), cell(it.ShortDescription),
		strconv.FormatInt(it.InputTokens, 10), strconv.FormatInt(it.OutputTokens, 10), strconv.FormatInt(it.TotalTokens, 10),
		pt, cell(it.Project), it.BillingSource, cost, it.Credits.String(), strconv.FormatBool(it.Charged), it.Debt.String(),
		strconv.FormatBool(it.Refunded),
		strconv.FormatInt(it.CachedInputTokens, 10), strconv.FormatInt(it.CacheWriteTokens, 10), strconv.FormatInt(it.ReasoningTokens, 10),
		strconv.FormatBool(it.Estimated), strconv.FormatBool(it.OverHold), price(0), price(1), price(2), price(3), price(4)}
}

func TestCSVExportMatchesTheItems(t *testing.T) {
	ts := newTestServer(t)
	jane, janeToken := ts.member("jane@example.org")
	ts.do("PATCH", "/api/v1/members/"+itoa(jane), ts.owner, map[string]any{"name": `=Doe, "Jane"`}, 200, nil)
	ts.grant(jane, "addon", "0.5")
	// Backfilled times within the accepted window (a year back), on a day a month ago.
	day := time.Now().UTC().AddDate(0, 0, -30).Format("2006-01-02")
	reports := []map[string]any{
		{"description": `He said "hi", then left`, "totalCost": json.Number("0.0123"), "timestamp": day + "T10:00:00.120Z", "processingTimeMs": 1500},
		{"description": "line one\nline two\r\nthree", "totalCost": json.Number("0.0001"), "timestamp": day + "T10:00:00Z"},
		{"description": "=SUM(A1:A9)", "shortDescription": "+1 -2 @3", "totalCost": json.Number("0.001"), "timestamp": day + "T10:00:00.5Z"},
		{"description": "\tindented", "shortDescription": "Zoë — ☕, 100%", "project": " leading space", "totalCost": json.Number("1"), "timestamp": day + "T23:59:59.9Z"},
		{"description": "-minus", "project": "@home", "totalCost": json.Number("0.000001"), "timestamp": day + "T10:00:00.007Z", "model": "gpt-4o", "provider": "OpenAI"},
		{"description": "not charged", "totalCost": json.Number("0.02"), "chargeUser": false, "usageType": "image_generation", "modality": "image"},
		{"description": "no cost", "credits": json.Number("2.25"), "inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
		// The export's raw rows separate texts with 0x1f: a text holding it is read alone.
		{"description": "a\x1fb,\"c\"", "shortDescription": "\x1f", "project": "p\x1f", "totalCost": json.Number("0.5")},
	}
	var ids []int64
	for _, who := range []string{"owner@example.org", "jane@example.org"} {
		for _, r := range reports {
			r["aiAgentId"] = "homework-helper"
			r["userEmail"] = who
			var res struct{ ID int64 }
			ts.do("POST", "/api/v1/usage", ts.appKey, r, 201, &res)
			ids = append(ids, res.ID)
		}
	}
	ts.do("POST", "/api/v1/usage/"+itoa(ids[0])+"/refund", ts.owner, map[string]any{}, 200, nil)

	// Gateway events carry the metering columns at the end: cache and reasoning tokens, an
	// estimated charge, one over its hold, the prices (with and without a per-image price).
	ts.grant(jane, "addon", "100000")
	ctx := context.Background()
	janeP := core.Principal{Via: core.ViaToken, UserID: jane, Role: core.RoleMember}
	gw := []struct {
		price core.Price
		use   core.GatewayUsage
	}{
		{core.Price{Model: "gpt-x", Input: 2_500_000, Output: 10_000_000, CachedInput: 1_250_000, HasCached: true},
			core.GatewayUsage{Usage: core.ModelUsage{InputTokens: 1000, CachedInputTokens: 400, CacheWriteTokens: 100, OutputTokens: 500, ReasoningTokens: 120}}},
		{core.Price{Model: "gpt-x", Input: 75_000, Output: 300_000},
			core.GatewayUsage{Usage: core.ModelUsage{InputTokens: 50, OutputTokens: 5000}, Estimated: true}},
	}
	for _, g := range gw {
		call := core.GatewayCall{MemberID: jane, Model: "gpt-x", Provider: "Fake AI", Price: g.price, MinOutputTokens: 1,
			Hold: core.HoldRequest{InputTokens: 1000, OutputTokens: 1000, CacheMarks: core.CacheMarksNone}, UsageType: "token_usage", Modality: "text"}
		h, err := ts.svc.HoldGatewayCall(ctx, janeP, call)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ts.svc.SettleGatewayCall(ctx, h, call, g.use); err != nil {
			t.Fatal(err)
		}
	}

	for _, tok := range []string{ts.owner, janeToken} {
		items := exportedItems(t, ts.do("GET", "/api/v1/usage/export?format=json", tok, nil, 200, nil))
		want := len(reports)
		if tok == janeToken {
			want += len(gw)
			var est, metered int
			for _, it := range items {
				if it.Estimated && it.OverHold && it.Prices != nil && it.Prices.Input == 75_000 {
					est++
				}
				if it.CachedInputTokens == 400 && it.CacheWriteTokens == 100 && it.ReasoningTokens == 120 && it.Prices != nil &&
					it.Prices.CachedInput == 1_250_000 && !it.Estimated {
					metered++
				}
			}
			if est != 1 || metered != 1 {
				t.Fatalf("gateway events: %d estimated, %d metered, want 1 each", est, metered)
			}
		}
		if len(items) != want {
			t.Fatalf("JSON export has %d items, want %d", len(items), want)
		}
		records, err := csv.NewReader(bytes.NewReader(ts.do("GET", "/api/v1/usage/export?format=csv", tok, nil, 200, nil))).ReadAll()
		if err != nil {
			t.Fatalf("the CSV export does not parse: %v", err)
		}
		if !reflect.DeepEqual(records[0], core.UsageCSVColumns) {
			t.Fatalf("header = %v", records[0])
		}
		if len(records)-1 != len(items) {
			t.Fatalf("CSV has %d rows, JSON %d", len(records)-1, len(items))
		}
		for i, it := range items {
			if want := roundTrip(t, csvRecord(it)); !reflect.DeepEqual(records[i+1], want) {
				t.Errorf("row %d:\n got %q\nwant %q", i+1, records[i+1], want)
			}
		}
	}
}

// exportedItems reads a JSON export back into items (Credits has no JSON decoder: the API only
// writes them).
func exportedItems(t *testing.T, body []byte) []core.UsageItem {
	t.Helper()
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	items := make([]core.UsageItem, len(raw))
	for i, m := range raw {
		money := map[string]*core.Credits{"credits": &items[i].Credits, "debt": &items[i].Debt}
		for k, dst := range money {
			c, ok := core.ParseCredits(string(m[k]))
			if !ok {
				t.Fatalf("item %d: %s = %s", i, k, m[k])
			}
			*dst = c
			delete(m, k)
		}
		// Prices are USD decimals (MicroUSD writes them, nothing reads them back).
		var prices map[string]json.Number
		if p := m["prices"]; len(p) > 0 && string(p) != "null" {
			if err := json.Unmarshal(p, &prices); err != nil {
				t.Fatal(err)
			}
		}
		delete(m, "prices")
		b, _ := json.Marshal(m)
		if err := json.Unmarshal(b, &items[i]); err != nil {
			t.Fatal(err)
		}
		if prices != nil {
			usd := func(k string) core.MicroUSD {
				v, ok := core.ParseMicroUSD(string(prices[k]))
				if !ok {
					t.Fatalf("item %d: price %s = %q", i, k, prices[k])
				}
				return v
			}
			ep := &core.EventPrices{Input: usd("input"), Output: usd("output"), CachedInput: usd("cachedInput"), CacheWrite: usd("cacheWrite")}
			if prices["perImage"] != "" {
				v := usd("perImage")
				ep.PerImage = &v
			}
			items[i].Prices = ep
		}
	}
	return items
}

// roundTrip writes a record with encoding/csv and reads it back, as a reader of the export sees
// it (a reader turns \r\n inside a quoted cell into \n).
func roundTrip(t *testing.T, rec []string) []string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(rec)
	w.Flush()
	out, err := csv.NewReader(&b).Read()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The server reads the CSV body in 4 KiB chunks: lines that straddle a chunk's end must come
// out whole and in order.
func TestALongCSVExportComesOutWhole(t *testing.T) {
	ts := newTestServer(t)
	day := time.Now().UTC().AddDate(0, 0, -30).Format("2006-01-02")
	for i := range 120 {
		desc := strings.Repeat(fmt.Sprintf("report %d, \"quoted\" and long; ", i), 1+i%9)
		ts.do("POST", "/api/v1/usage", ts.appKey, map[string]any{"aiAgentId": "homework-helper", "userEmail": "owner@example.org",
			"description": desc, "totalCost": json.Number("0.001"), "timestamp": fmt.Sprintf("%sT10:%02d:%02dZ", day, i/60, i%60)}, 201, nil)
	}
	body := ts.do("GET", "/api/v1/usage/export?format=csv", ts.owner, nil, 200, nil)
	if len(body) < 5*4096 {
		t.Fatalf("the export is %d bytes: too short to cross several chunks", len(body))
	}
	records, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("the CSV export does not parse: %v", err)
	}
	items := exportedItems(t, ts.do("GET", "/api/v1/usage/export?format=json", ts.owner, nil, 200, nil))
	if len(items) != 120 || len(records) != 121 {
		t.Fatalf("%d CSV rows and %d JSON items, want 120 of each", len(records)-1, len(items))
	}
	for i, it := range items {
		if want := roundTrip(t, csvRecord(it)); !reflect.DeepEqual(records[i+1], want) {
			t.Fatalf("row %d:\n got %q\nwant %q", i+1, records[i+1], want)
		}
	}
}

// A client that leaves in the middle of a large export must not keep the read connection the
// export held: the read pool has only a few.
func TestAbandonedExportsGiveTheirConnectionBack(t *testing.T) {
	ts := newTestServer(t)
	reps := make([]core.UsageReport, 30000)
	for i := range reps {
		reps[i] = core.UsageReport{AIAgentID: "homework-helper", UserEmail: "owner@example.org", TotalCost: "0.001",
			ChargeUser: true, Description: strings.Repeat("a long enough description ", 8)}
	}
	if _, err := ts.svc.ChargeBatch(context.Background(), core.Operator, reps); err != nil {
		t.Fatal(err)
	}
	for range 12 { // three times the pool on this machine's size (at least 4)
		req, _ := http.NewRequest("GET", ts.url+"/api/v1/usage/export?format=csv", nil)
		req.Header.Set("Authorization", "Bearer "+ts.owner)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 8192)); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close() // mid-stream: the rest (about 7 MB) is never read
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for range 8 {
		if status, b := ts.send(client, "GET", "/api/v1/usage?limit=1", ts.owner, nil, nil); status != 200 {
			t.Fatalf("after the abandoned exports: status %d: %s", status, b)
		}
	}
}

// The export writes its own response head: an HTTP/1.0 client gets the body unchunked, ended by
// the connection's close.
func TestTheExportAnswersHTTP10(t *testing.T) {
	ts := newTestServer(t)
	ts.do("POST", "/api/v1/usage", ts.appKey, map[string]any{"aiAgentId": "homework-helper", "userEmail": "owner@example.org",
		"description": "one", "totalCost": json.Number("0.001")}, 201, nil)
	raw := func(req string) string { // "METHOD PROTOCOL"
		conn, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "%s /api/v1/usage/export?format=csv %s\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer %s\r\n\r\n", strings.Fields(req)[0], strings.Fields(req)[1], ts.owner)
		b, err := io.ReadAll(conn) // the server closes the connection after the export
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	head, body, _ := strings.Cut(raw("GET HTTP/1.0"), "\r\n\r\n")
	if !strings.HasPrefix(head, "HTTP/1.1 200") || strings.Contains(strings.ToLower(head), "transfer-encoding") {
		t.Fatalf("HTTP/1.0 export head:\n%s\nbody %q", head, body)
	}
	records, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(records) != 2 || records[1][9] != "one" {
		t.Fatalf("HTTP/1.0 export body (%v):\n%s", err, body)
	}
}

// A database that fails once the export has begun gets a 500 with no internal text, before any
// row: the head is written only once the rows are open.
func TestAFailingExportAnswers500(t *testing.T) {
	ts := newTestServer(t)
	if err := ts.db.ExecForTest(context.Background(), `ALTER TABLE usage_events RENAME TO usage_events_gone`); err != nil {
		t.Fatal(err)
	}
	b := ts.do("GET", "/api/v1/usage/export?format=csv", ts.owner, nil, 500, nil)
	if string(b) != `{"error":{"code":"internal","message":"internal error"}}` {
		t.Fatalf("body %s", b)
	}
	if !strings.Contains(ts.logs.String(), "export failed") {
		t.Fatalf("the failure was not logged where the export opens its rows: %s", ts.logs.String())
	}
}

// An export sorted by credits or tokens with no model filter merges one walk per model (the
// query returns its sort columns too): the CSV holds the JSON export's rows, in its order.
func TestASortedCSVExportFollowsTheJSONOrder(t *testing.T) {
	ts := newTestServer(t)
	models := []string{"gpt-4o", "claude-3", "mistral", ""}
	for i := 0; i < 40; i++ {
		r := map[string]any{"aiAgentId": "homework-helper", "userEmail": "owner@example.org", "description": fmt.Sprintf("r%d", i),
			"credits": json.Number(fmt.Sprintf("%d.%03d", i%7, i*37%1000)), "totalTokens": (i * 7919) % 500, "model": models[i%len(models)]}
		ts.do("POST", "/api/v1/usage", ts.appKey, r, 201, nil)
	}
	for _, sort := range []string{"-credits", "credits", "-totalTokens", "totalTokens", "-at"} {
		q := "/api/v1/usage/export?sort=" + sort + "&format="
		items := exportedItems(t, ts.do("GET", q+"json", ts.owner, nil, 200, nil))
		records, err := csv.NewReader(bytes.NewReader(ts.do("GET", q+"csv", ts.owner, nil, 200, nil))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 40 || len(records) != 41 {
			t.Fatalf("sort=%s: %d items, %d records", sort, len(items), len(records)-1)
		}
		for i, it := range items {
			if records[i+1][0] != strconv.FormatInt(it.ID, 10) {
				t.Fatalf("sort=%s: row %d is event %s, the JSON export has %d", sort, i+1, records[i+1][0], it.ID)
			}
		}
	}
}
