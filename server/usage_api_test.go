package server

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestUsageReportValidation(t *testing.T) {
	ts := newTestServer(t)
	otherID, _ := ts.member("other@example.org")
	valid := map[string]any{"aiAgentId": "homework-helper", "userEmail": "owner@example.org", "description": "d", "totalCost": 0.01}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range valid {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{"not json", "{nope", 400, "body"},
		{"array", "[]", 400, "body"},
		{"two objects", `{"description":"a"} {"description":"b"}`, 400, "body"},
		{"trailing comma", `{"description":"a",}`, 400, "body"},
		{"null", "null", 400, "body"},
		{"missing aiAgentId", with("aiAgentId", nil), 400, "aiAgentId"},
		{"aiAgentId of another app", with("aiAgentId", "someone-else"), 403, "aiAgentId"},
		{"aiAgentId wrong type", with("aiAgentId", true), 400, "aiAgentId"},
		{"missing user", with("userEmail", nil), 400, "userId"},
		{"unknown user", with("userEmail", "nobody@example.org"), 400, "userEmail"},
		{"userId wrong type", with("userId", "abc"), 400, "userId"},
		{"userId and userEmail of different members", with("userId", otherID), 400, "userEmail"},
		{"credits over a billion", with("credits", 1e15), 400, "credits"},
		{"totalCost worth over a billion credits", with("totalCost", 1e12), 400, "totalCost"},
		{"inputTokens over a trillion", with("inputTokens", int64(9e18)), 400, "inputTokens"},
		{"missing description", with("description", nil), 400, "description"},
		{"blank description", with("description", "   "), 400, "description"},
		{"description wrong type", with("description", 5), 400, "description"},
		{"missing cost and credits", with("totalCost", nil), 400, "totalCost"},
		{"negative cost", with("totalCost", -1), 400, "totalCost"},
		{"cost as string", with("totalCost", "0.01"), 400, "totalCost"},
		{"negative credits", with("credits", -2), 400, "credits"},
		{"credits wrong type", with("credits", "x"), 400, "credits"},
		{"inputTokens negative", with("inputTokens", -1), 400, "inputTokens"},
		{"inputTokens fraction", with("inputTokens", 1.5), 400, "inputTokens"},
		{"outputTokens wrong type", with("outputTokens", "10"), 400, "outputTokens"},
		{"totalTokens wrong type", with("totalTokens", []int{1}), 400, "totalTokens"},
		{"processingTimeMs negative", with("processingTimeMs", -5), 400, "processingTimeMs"},
		{"modality unknown", with("modality", "smell"), 400, "modality"},
		{"usageType with spaces", with("usageType", "api call"), 400, "usageType"},
		{"modelParameters not object", with("modelParameters", "hot"), 400, "modelParameters"},
		{"internal units object", with("internalTokensOrCredits", map[string]int{"a": 1}), 400, "internalTokensOrCredits"},
		{"billingSource unknown", with("billingSource", "someone"), 400, "billingSource"},
		{"billingSource foreign delegation", with("billingSource", "999"), 400, "billingSource"},
		{"chargeUser wrong type", with("chargeUser", "yes"), 400, "chargeUser"},
		{"timestamp not RFC 3339", with("timestamp", "yesterday"), 400, "timestamp"},
		{"timestamp in the future", with("timestamp", "2999-01-01T00:00:00Z"), 400, "timestamp"},
		{"shortDescription two lines", with("shortDescription", "a\nb"), 400, "shortDescription"},
		{"description too long", with("description", strings.Repeat("x", 2001)), 400, "description"},
		{"model too long", with("model", strings.Repeat("m", 101)), 400, "model"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, b := ts.send(httpClient, "POST", "/api/v1/usage", ts.appKey, c.body, nil)
			var e struct {
				Error struct{ Code, Message, Field string }
			}
			json.Unmarshal(b, &e)
			if status != c.status || e.Error.Field != c.field || e.Error.Message == "" {
				t.Fatalf("status %d field %q (%s); want %d field %q", status, e.Error.Field, b, c.status, c.field)
			}
		})
	}
	if n := ts.countEvents(); n != 0 {
		t.Fatalf("rejected reports wrote %d events", n)
	}
	ts.do("POST", "/api/v1/usage", ts.appKey, valid, 201, nil)
	if n := ts.countEvents(); n != 1 {
		t.Fatalf("the valid report wrote %d events", n)
	}
}

// A report's strings arrive decoded whichever way the body was read: escaped values take
// encoding/json's way, and an escaped key sends the whole body that way.
func TestUsageReportEscapesAreDecoded(t *testing.T) {
	ts := newTestServer(t)
	bodies := map[string]string{
		`Said "hi"`:                `{"aiAgentId":"homework-helper","userEmail":"owner@example.org","description":"Said \"hi\"","totalCost":0.01}`,
		`café, then	tabbed`:        `{"aiAgentId":"homework-helper","userEmail":"owner@example.org","description":"caf\u00e9, then\ttabbed","totalCost":0.01}`,
		`plain words, escaped key`: `{"aiAgentId":"homework-helper","userEmail":"owner@example.org","descr\u0069ption":"plain words, escaped key","totalCost":0.01}`,
	}
	for want, body := range bodies {
		ts.do("POST", "/api/v1/usage", ts.appKey, body, 201, nil)
		var page struct {
			Items []struct{ Description string }
		}
		b := ts.do("GET", "/api/v1/usage?limit=1", ts.owner, nil, 200, nil)
		if err := json.Unmarshal(b, &page); err != nil || len(page.Items) != 1 {
			t.Fatalf("usage page: %v %s", err, b)
		}
		if got := page.Items[0].Description; got != want {
			t.Fatalf("stored description %q, want %q", got, want)
		}
	}
}

func TestUsageAuth(t *testing.T) {
	ts := newTestServer(t)
	body := map[string]any{"aiAgentId": "homework-helper", "userId": 1, "description": "d", "totalCost": 0}
	ts.do("POST", "/api/v1/usage", "", body, 401, nil)
	ts.do("POST", "/api/v1/usage", "tj_app_notarealkey", body, 401, nil)
	ts.do("POST", "/api/v1/usage", "garbage", body, 401, nil)
	// A personal token reports for its own member; naming another is refused.
	other, _ := ts.member("kid@example.org")
	ts.do("POST", "/api/v1/usage", ts.owner, map[string]any{"description": "mine", "credits": 0}, 201, nil)
	ts.do("POST", "/api/v1/usage", ts.owner, map[string]any{"description": "theirs", "credits": 0, "userId": other}, 403, nil)
}

func TestUsageBodyOver64KiBIsRefused(t *testing.T) {
	ts := newTestServer(t)
	big := `{"aiAgentId":"homework-helper","userId":1,"totalCost":0,"description":"` + strings.Repeat("x", 65*1024) + `"}`
	b := ts.do("POST", "/api/v1/usage", ts.appKey, big, 413, nil)
	if !strings.Contains(string(b), `"too_large"`) {
		t.Fatalf("413 body: %s", b)
	}
	if ts.countEvents() != 0 {
		t.Fatal("oversized report was written")
	}
}

func TestIdempotentReplayChargesOnce(t *testing.T) {
	ts := newTestServer(t)
	ts.grant(1, "addon", "100")
	body := map[string]any{"aiAgentId": "homework-helper", "userId": 1, "description": "d", "credits": 7.5, "idempotencyKey": "k-1"}
	var first, second map[string]any
	ts.do("POST", "/api/v1/usage", ts.appKey, body, 201, &first)
	ts.do("POST", "/api/v1/usage", ts.appKey, body, 200, &second)
	if fmt.Sprint(first) != fmt.Sprint(second) {
		t.Fatalf("replay differs:\n%v\n%v", first, second)
	}
	var bal struct{ Total json.Number }
	ts.do("GET", "/api/v1/balance", ts.owner, nil, 200, &bal)
	if bal.Total != "92.5" || ts.countEvents() != 1 {
		t.Fatalf("balance %s events %d after replay", bal.Total, ts.countEvents())
	}
	// The same key on a different report is refused, and writes nothing.
	for field, v := range map[string]any{"credits": 8, "description": "other", "userId": 2} {
		other := map[string]any{}
		for k, x := range body {
			other[k] = x
		}
		other[field] = v
		if field == "userId" {
			ts.member("second@example.org")
		}
		status, b := ts.send(httpClient, "POST", "/api/v1/usage", ts.appKey, other, nil)
		if status != 409 || !strings.Contains(string(b), `"field":"idempotencyKey"`) {
			t.Fatalf("key reused with another %s: %d %s; want 409 naming idempotencyKey", field, status, b)
		}
	}
	if ts.countEvents() != 1 {
		t.Fatalf("a refused reuse of a key wrote an event: %d events", ts.countEvents())
	}
	// Keys are per app: the same key from a personal token is a different report.
	ts.do("POST", "/api/v1/usage", ts.owner, map[string]any{"description": "d", "credits": 1, "idempotencyKey": "k-1"}, 201, nil)
}

func TestConcurrentReportsAgainstOneSmallBucket(t *testing.T) {
	ts := newTestServer(t)
	ts.grant(1, "addon", "1000")
	const n = 50
	var wg sync.WaitGroup
	results := make([]struct {
		CreditsCharged json.Number
		Parts          []struct{ Credits json.Number }
		Debt           json.Number
	}, n)
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			status, b := ts.send(httpClient, "POST", "/api/v1/usage", ts.appKey,
				map[string]any{"aiAgentId": "homework-helper", "userId": 1, "description": "burst", "credits": 30.001}, nil)
			if status != 201 {
				errs <- fmt.Sprintf("%d %s", status, b)
				return
			}
			json.Unmarshal(b, &results[i])
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	var drawn, debt int64
	for _, r := range results {
		for _, p := range r.Parts {
			drawn += milli(t, p.Credits)
		}
		debt += milli(t, r.Debt)
		if milli(t, r.CreditsCharged) != 30001 {
			t.Fatalf("charged %s, want 30.001", r.CreditsCharged)
		}
	}
	// 50 × 30.001 = 1500.05: exactly 1000 from the bucket, exactly 500.05 into debt.
	if drawn != 1_000_000 || debt != 500_050 {
		t.Fatalf("drawn %d debt %d millicredits; want 1000000 and 500050", drawn, debt)
	}
	var bal struct{ Total, Debt json.Number }
	ts.do("GET", "/api/v1/balance", ts.owner, nil, 200, &bal)
	if bal.Total != "-500.05" || bal.Debt != "500.05" {
		t.Fatalf("balance %+v", bal)
	}
	ts.checkInvariant()
}

func milli(t *testing.T, n json.Number) int64 {
	t.Helper()
	s := string(n)
	whole, frac, _ := strings.Cut(s, ".")
	frac = (frac + "000")[:3]
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("not a credits number: %q", s)
	}
	if strings.HasPrefix(s, "-") {
		return w*1000 - f
	}
	return w*1000 + f
}

// Copies of one report sent at once land in the same charge group or in groups racing each
// other; exactly one is charged and every copy gets its answer.
func TestConcurrentCopiesOfOneKeyChargeOnce(t *testing.T) {
	ts := newTestServer(t)
	ts.grant(1, "addon", "100")
	body := map[string]any{"aiAgentId": "homework-helper", "userId": 1, "description": "d", "credits": 3, "idempotencyKey": "same"}
	var wg sync.WaitGroup
	statuses := make(chan int, 40)
	ids := make(chan int64, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, b := ts.send(httpClient, "POST", "/api/v1/usage", ts.appKey, body, nil)
			var r struct{ ID int64 }
			json.Unmarshal(b, &r)
			statuses <- status
			ids <- r.ID
		}()
	}
	wg.Wait()
	close(statuses)
	close(ids)
	created := 0
	for s := range statuses {
		switch s {
		case 201:
			created++
		case 200:
		default:
			t.Fatalf("status %d", s)
		}
	}
	first := int64(0)
	for id := range ids {
		if first == 0 {
			first = id
		}
		if id != first || id == 0 {
			t.Fatalf("copies answered with different events: %d and %d", first, id)
		}
	}
	var bal struct{ Total json.Number }
	ts.do("GET", "/api/v1/balance", ts.owner, nil, 200, &bal)
	if created != 1 || ts.countEvents() != 1 || bal.Total != "97" {
		t.Fatalf("created %d, events %d, balance %s", created, ts.countEvents(), bal.Total)
	}
	ts.checkInvariant()
}
