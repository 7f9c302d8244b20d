package server

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrentDelegatedReportsStayExact: 200 reports at once, by 10 grantees, against one
// granter's small pool and a daily allowance each. Allowances add up to more than the pool, so
// both limits bind at once.
func TestConcurrentDelegatedReportsStayExact(t *testing.T) {
	ts := newTestServer(t)
	granterID, granter := ts.member("teacher@example.org")
	ts.grant(granterID, "addon", "2500")
	type kid struct {
		id    int64
		token string
		deleg int64
	}
	kids := make([]kid, 10)
	for i := range kids {
		id, tok := ts.member(fmt.Sprintf("s%d@example.org", i))
		ts.grant(id, "addon", "50")
		var d struct{ ID int64 }
		ts.do("POST", "/api/v1/delegations", granter, map[string]any{"granteeId": id, "credits": 300, "period": "day", "note": "Maths"}, 201, &d)
		kids[i] = kid{id, tok, d.ID}
	}
	type result struct {
		kid    int
		source string
	}
	results := make(chan result, 200)
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			k := i % len(kids)
			status, b := ts.send(httpClient, "POST", "/api/v1/usage", kids[k].token, map[string]any{"description": "exercise", "credits": 20}, nil)
			if status != 201 {
				t.Errorf("report %d: %d %s", i, status, b)
				return
			}
			var r struct{ BillingSource string }
			json.Unmarshal(b, &r)
			results <- result{k, r.BillingSource}
		}(i)
	}
	wg.Wait()
	close(results)
	delegated := make([]int64, len(kids))
	personal := make([]int64, len(kids))
	for r := range results {
		if r.source == "personal" {
			personal[r.kid] += 20
		} else {
			if r.source != itoa(kids[r.kid].deleg) {
				t.Fatalf("kid %d billed to %s, not their delegation %d", r.kid, r.source, kids[r.kid].deleg)
			}
			delegated[r.kid] += 20
		}
	}
	var totalDelegated, totalPersonal int64
	for i := range kids {
		if delegated[i] > 300 {
			t.Fatalf("kid %d overspent the allowance: %d", i, delegated[i])
		}
		totalDelegated += delegated[i]
		totalPersonal += personal[i]
		var bal struct{ Total, Debt json.Number }
		ts.do("GET", "/api/v1/balance", kids[i].token, nil, 200, &bal)
		wantDebt := max(0, personal[i]-50)
		if milli(t, bal.Total) != (50-personal[i])*1000 || milli(t, bal.Debt) != wantDebt*1000 {
			t.Fatalf("kid %d: balance %s debt %s after %d personal", i, bal.Total, bal.Debt, personal[i])
		}
		var d struct{ UsedThisPeriod json.Number }
		var list struct {
			Received []struct{ UsedThisPeriod json.Number }
		}
		ts.do("GET", "/api/v1/delegations", kids[i].token, nil, 200, &list)
		d.UsedThisPeriod = list.Received[0].UsedThisPeriod
		if milli(t, d.UsedThisPeriod) != delegated[i]*1000 {
			t.Fatalf("kid %d: allowance used %s, charged %d", i, d.UsedThisPeriod, delegated[i])
		}
	}
	// The pool (2,500) is smaller than the allowances (3,000): exactly the pool is spent.
	if totalDelegated != 2500 || totalPersonal != 4000-2500 {
		t.Fatalf("delegated %d personal %d; want 2500 and 1500", totalDelegated, totalPersonal)
	}
	var bal struct{ Total, Debt json.Number }
	ts.do("GET", "/api/v1/balance", granter, nil, 200, &bal)
	if bal.Total != "0" || bal.Debt != "0" {
		t.Fatalf("granter balance %s debt %s", bal.Total, bal.Debt)
	}
	var agg struct {
		Totals struct {
			Requests int64
			Credits  json.Number
		}
	}
	ts.do("GET", "/api/v1/usage/aggregate?scope=granted&by=member", granter, nil, 200, &agg)
	if agg.Totals.Requests != 125 || agg.Totals.Credits != "2500" {
		t.Fatalf("granted totals %+v", agg.Totals)
	}
	t.Logf("200 reports: %d credits delegated (125 reports), %d personal; per kid delegated %v", totalDelegated, totalPersonal, delegated)
	ts.checkInvariant()
}

// streamIDs subscribes to the live stream and collects event ids until stop.
func streamIDs(t *testing.T, ts *testServer, token string) (ids func() []int64, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.url+"/api/v1/usage/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", err, resp)
	}
	var mu sync.Mutex
	var got []int64
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(resp.Body)
		first := true
		for sc.Scan() {
			line := sc.Text()
			if first && strings.HasPrefix(line, ": connected") {
				first = false
				close(ready)
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				var it struct{ ID int64 }
				json.Unmarshal([]byte(data), &it)
				mu.Lock()
				got = append(got, it.ID)
				mu.Unlock()
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatal("stream never connected")
	}
	return func() []int64 {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(got)
		}, func() {
			cancel()
			resp.Body.Close()
			<-done
		}
}

// TestPrivacyMatrix checks, as data, who sees which events through every read path: lists,
// exports, aggregates, single events, ledgers, balances and the live stream.
func TestPrivacyMatrix(t *testing.T) {
	ts := newTestServer(t)
	gID, g := ts.member("granter@example.org")
	kID, k := ts.member("grantee@example.org")
	oID, o := ts.member("other@example.org")
	a := ts.owner
	for _, id := range []int64{gID, kID, oID} {
		ts.grant(id, "addon", "1000")
	}
	var d struct{ ID int64 }
	ts.do("POST", "/api/v1/delegations", g, map[string]any{"granteeId": kID, "credits": 100, "period": "week"}, 201, &d)
	viewers := map[string]string{"grantee": k, "granter": g, "other": o, "admin": a}
	streams := map[string]func() []int64{}
	for name, tok := range viewers {
		ids, stop := streamIDs(t, ts, tok)
		defer stop()
		streams[name] = ids
	}
	report := func(user int64, source string) int64 {
		var r struct{ ID int64 }
		body := map[string]any{"aiAgentId": "homework-helper", "userId": user, "description": "matrix", "credits": 1}
		if source != "" {
			body["billingSource"] = source
		}
		ts.do("POST", "/api/v1/usage", ts.appKey, body, 201, &r)
		return r.ID
	}
	ev := map[string]int64{
		"grantee-personal":  report(kID, "personal"),
		"grantee-delegated": report(kID, itoa(d.ID)),
		"granter-own":       report(gID, ""),
		"other-own":         report(oID, ""),
	}
	names := map[int64]string{}
	for n, id := range ev {
		names[id] = n
	}
	set := func(items ...string) []string { sort.Strings(items); return items }
	own := map[string][]string{"grantee": set("grantee-personal", "grantee-delegated"), "granter": set("granter-own"), "other": set("other-own"), "admin": {}}
	granted := map[string][]string{"grantee": {}, "granter": set("grantee-delegated"), "other": {}, "admin": {}}
	union := func(v string) []string { return set(append(slices.Clone(own[v]), granted[v]...)...) }
	ledgerRefs := map[string][]string{"grantee": set("grantee-personal"), "granter": set("granter-own", "grantee-delegated"), "other": set("other-own"), "admin": {}}
	balanceStatus := map[string]int{"grantee": 200, "granter": 403, "other": 403, "admin": 200}

	listed := func(path, tok string) []string {
		var page struct{ Items []struct{ ID int64 } }
		ts.do("GET", path, tok, nil, 200, &page)
		out := []string{}
		for _, it := range page.Items {
			out = append(out, names[it.ID])
		}
		sort.Strings(out)
		return out
	}
	exported := func(path, tok string) []string {
		b := ts.do("GET", path, tok, nil, 200, nil)
		rows, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, r := range rows[1:] {
			var id int64
			fmt.Sscan(r[0], &id)
			out = append(out, names[id])
		}
		sort.Strings(out)
		return out
	}
	requests := func(path, tok string) int {
		var agg struct{ Totals struct{ Requests int } }
		ts.do("GET", path, tok, nil, 200, &agg)
		return agg.Totals.Requests
	}
	eq := func(viewer, endpoint string, got, want []string) {
		t.Helper()
		if want == nil {
			want = []string{}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s via %s sees %v, want %v", viewer, endpoint, got, want)
		}
	}
	deadline := time.Now().Add(3 * time.Second)
	for viewer, tok := range viewers {
		eq(viewer, "GET /usage", listed("/api/v1/usage", tok), own[viewer])
		eq(viewer, "GET /granted/usage", listed("/api/v1/granted/usage", tok), granted[viewer])
		eq(viewer, "export", exported("/api/v1/usage/export?format=csv", tok), own[viewer])
		eq(viewer, "granted export", exported("/api/v1/granted/usage/export?format=csv", tok), granted[viewer])
		if n := requests("/api/v1/usage/aggregate?by=day", tok); n != len(own[viewer]) {
			t.Errorf("%s: own aggregate counts %d requests, want %d", viewer, n, len(own[viewer]))
		}
		if n := requests("/api/v1/usage/aggregate?scope=granted&by=member", tok); n != len(granted[viewer]) {
			t.Errorf("%s: granted aggregate counts %d requests, want %d", viewer, n, len(granted[viewer]))
		}
		for name, id := range ev {
			want := 404
			if slices.Contains(union(viewer), name) {
				want = 200
			}
			if status, _ := ts.send(httpClient, "GET", "/api/v1/usage/"+itoa(id), tok, nil, nil); status != want {
				t.Errorf("%s: GET /usage/{%s} = %d, want %d", viewer, name, status, want)
			}
		}
		var ledger struct{ Items []struct{ Ref string } }
		ts.do("GET", "/api/v1/ledger", tok, nil, 200, &ledger)
		refs := []string{}
		for _, it := range ledger.Items {
			if id, ok := strings.CutPrefix(it.Ref, "usage:"); ok {
				var n int64
				fmt.Sscan(id, &n)
				refs = append(refs, names[n])
			}
		}
		sort.Strings(refs)
		eq(viewer, "ledger", refs, ledgerRefs[viewer])
		if status, _ := ts.send(httpClient, "GET", "/api/v1/balance?userId="+itoa(kID), tok, nil, nil); status != balanceStatus[viewer] {
			t.Errorf("%s: the grantee's balance = %d, want %d", viewer, status, balanceStatus[viewer])
		}
		for {
			got := []string{}
			for _, id := range streams[viewer]() {
				got = append(got, names[id])
			}
			sort.Strings(got)
			if slices.Equal(got, union(viewer)) || time.Now().After(deadline) {
				eq(viewer, "live stream", got, union(viewer))
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// The granter's export holds the delegated row and never the grantee's personal one.
	b := ts.do("GET", "/api/v1/granted/usage/export?format=csv", g, nil, 200, nil)
	if strings.Contains(string(b), "\n"+itoa(ev["grantee-personal"])+",") {
		t.Fatal("the granter's export holds a personal row of the grantee")
	}
}

// A grantee's view of an allowance-paid request never shows the granter's wallet: not the
// balance in the report's reply, nor the granter's ledger rows in the request's detail.
func TestAGranteeSeesNotTheGrantersWallet(t *testing.T) {
	ts := newTestServer(t)
	gID, g := ts.member("granter@example.org")
	kID, k := ts.member("grantee@example.org")
	ts.grant(gID, "addon", "1000")
	ts.grant(kID, "addon", "50")
	var d struct{ ID int64 }
	ts.do("POST", "/api/v1/delegations", g, map[string]any{"granteeId": kID, "credits": 100, "period": "week", "note": "Homework"}, 201, &d)
	var res struct {
		ID            int64
		BillingSource string
		BalanceAfter  json.Number
		Parts         []struct{ Kind string }
	}
	first := map[string]any{"description": "paid by the allowance", "credits": 1, "idempotencyKey": "k1"}
	ts.do("POST", "/api/v1/usage", k, first, 201, &res)
	if res.BillingSource != itoa(d.ID) || res.BalanceAfter != "50" || len(res.Parts) != 1 {
		t.Fatalf("reply %+v: want billed to delegation %d with the grantee's own balance 50", res, d.ID)
	}
	// The replay of that report answers as the first time, even after the grantee spent more.
	ts.do("POST", "/api/v1/usage", k, map[string]any{"description": "personal", "credits": 5, "billingSource": "personal"}, 201, nil)
	id := res.ID
	ts.do("POST", "/api/v1/usage", k, first, 200, &res)
	if res.ID != id || res.BalanceAfter != "50" {
		t.Fatalf("replay %+v: want event %d with the grantee's balance 50 as first answered", res, id)
	}
	type detail struct {
		Parts  []struct{ Kind string }
		Ledger []struct {
			BalanceAfter json.Number
			Note         string
		}
	}
	var seen detail
	ts.do("GET", "/api/v1/usage/"+itoa(res.ID), k, nil, 200, &seen)
	if len(seen.Ledger) != 0 || len(seen.Parts) != 1 {
		t.Fatalf("the grantee's detail: %+v; want the parts and none of the granter's ledger rows", seen)
	}
	ts.do("GET", "/api/v1/usage/"+itoa(res.ID), g, nil, 200, &seen)
	if len(seen.Ledger) != 1 || seen.Ledger[0].BalanceAfter != "999" || seen.Ledger[0].Note != "grantee@example.org, through granter@example.org's allowance (Homework)" {
		t.Fatalf("the granter's detail: %+v; want its own ledger row, balance after 999, naming the grantee and the allowance by its granter and note", seen)
	}
	// This cycle: the grantee used 5 of its own; the granter's credits paid 1 for the grantee.
	var bal struct {
		Cycle struct{ Used, PaidForOthers json.Number }
	}
	for tok, want := range map[string][2]json.Number{k: {"5", "0"}, g: {"0", "1"}} {
		ts.do("GET", "/api/v1/balance", tok, nil, 200, &bal)
		if bal.Cycle.Used != want[0] || bal.Cycle.PaidForOthers != want[1] {
			t.Errorf("cycle %+v, want used %s paid for others %s", bal.Cycle, want[0], want[1])
		}
	}
}
