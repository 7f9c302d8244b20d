package server

// The gateway with the domain's real hold-then-settle (not fakeBilling): what a parent or a
// teacher relies on. Requests go through the official OpenAI SDK to the fake provider of
// gateway_test.go, and the money is read back from the database.

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"

	"tokenjar/db"
	"tokenjar/db/dbtest"
	"tokenjar/server/core"
)

// newLimitsEnv is newGatewayEnv with the domain's billing, gpt-4o priced so that one fake reply
// (12 input tokens, 4 of them cached, 2 output) costs 0.45 credits, and a kid who has an
// allowance of allowance credits a day from the owner and own credits of own.
func newLimitsEnv(t *testing.T, allowance, own string) (g *gatewayEnv, delegationID int64) {
	t.Helper()
	g = newGatewayEnvWith(t, nil, 5000)
	owner, err := g.svc.AuthenticateBearer(context.Background(), g.owner)
	if err != nil {
		t.Fatal(err)
	}
	cached := "12.5"
	// USD per million tokens; 1,000 credits per USD: 8×25 + 4×12.5 + 2×100 = 450 millicredits.
	if _, err := g.svc.SetPrice(context.Background(), owner, "gpt-4o", core.PriceInput{Input: "25", Output: "100", CachedInput: &cached}); err != nil {
		t.Fatal(err)
	}
	g.grant(1, "addon", "1000")
	if own != "0" {
		g.grant(g.memberID, "addon", own)
	}
	var d struct{ ID int64 }
	g.do("POST", "/api/v1/delegations", g.owner, map[string]any{"granteeId": g.memberID, "credits": json.Number(allowance), "period": "day", "note": "Homework"}, 201, &d)
	return g, d.ID
}

// kidMoney reads the kid's allowance use, own balance and debt, in millicredits.
func (g *gatewayEnv) kidMoney(t *testing.T, delegationID int64) (allowanceUsed, balance, debt int64) {
	t.Helper()
	one := func(query string, dest *int64) {
		if err := g.db.Read().QueryRowForTest(context.Background(), query, dest); err != nil {
			t.Fatal(err)
		}
	}
	one(`SELECT period_used FROM delegations WHERE id = `+itoa(delegationID), &allowanceUsed)
	one(`SELECT coalesce(sum(remaining), 0) FROM buckets WHERE user_id = `+itoa(g.memberID), &balance)
	one(`SELECT debt FROM users WHERE id = `+itoa(g.memberID), &debt)
	return
}

func chatWithCap(say string, maxTokens int64) openai.ChatCompletionNewParams {
	p := chatParams(say)
	p.MaxTokens = openai.Int(maxTokens)
	return p
}

// TestAKidWhoseAllowanceIsUsedUpGets402 proves that an allowance is a limit that holds through
// the gateway: a kid with a 5-credit allowance and no credits of their own gets replies until it
// is used up, then a 402 whose message names the allowance, and never any debt. It does not
// show concurrency (TestConcurrentGatewayRequestsNeverOverspend does).
func TestAKidWhoseAllowanceIsUsedUpGets402(t *testing.T) {
	g, deleg := newLimitsEnv(t, "5", "0")
	client := g.openai(g.token)
	ctx := context.Background()
	var refused *openai.Error
	ok := 0
	for i := 0; i < 20 && refused == nil; i++ {
		_, err := client.Chat.Completions.New(ctx, chatWithCap("hi", 5))
		if err == nil {
			ok++
			continue
		}
		if !errors.As(err, &refused) {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if refused == nil || refused.StatusCode != 402 {
		t.Fatalf("20 requests on a 5-credit allowance were never refused with 402 (%d answered)", ok)
	}
	if ok == 0 {
		t.Fatal("the allowance paid for nothing")
	}
	msg := refused.Message
	if !strings.Contains(msg, "Homework") || !strings.Contains(strings.ToLower(msg), "used up") {
		t.Errorf("the 402 does not say which allowance ran out: %q", msg)
	}
	used, balance, debt := g.kidMoney(t, deleg)
	if debt != 0 || balance < 0 || used > 5000 {
		t.Fatalf("after %d replies: allowance used %d mc of 5000, own balance %d, debt %d", ok, used, balance, debt)
	}
	if int64(ok)*450 != used {
		t.Errorf("%d replies of 450 mc each, but the allowance shows %d mc used", ok, used)
	}
	g.checkInvariant()
	t.Logf("%d replies charged %d mc, then: %s", ok, used, msg)
}

// TestConcurrentGatewayRequestsNeverOverspend sends waves of 200 requests at once, plain and
// streamed, against a 20-credit allowance and 10 credits of the kid's own, until a wave gets no
// reply: each wave asks for far more than the 30 credits there are. Not one millicredit more is
// charged than the two hold, no debt is made, the ledger invariant holds, every charge is an
// event, and the money runs out (what is left is less than one request's hold). What it does
// not prove: several server processes (one server runs on a data folder).
func TestConcurrentGatewayRequestsNeverOverspend(t *testing.T) {
	g, deleg := newLimitsEnv(t, "20", "10")
	ctx := context.Background()
	var answered, refused atomic.Int64
	for wave := 0; wave < 20; wave++ {
		before := answered.Load()
		g.gatewayWave(t, ctx, 200, []string{g.url}, &answered, &refused)
		if answered.Load() == before {
			break
		}
	}
	g.checkNoOverspend(t, ctx, deleg, &answered, &refused)
}

// TestConcurrentGatewayRequestsOverThreeReplicasNeverOverspend is the test above with the waves
// spread over three servers on one PostgreSQL database, each with its own pool, caches and
// charger: the holds of one replica count in the decisions of the others, because each hold is
// a serializable transaction on the shared database, not a number in one process's memory.
func TestConcurrentGatewayRequestsOverThreeReplicasNeverOverspend(t *testing.T) {
	if dbtest.Engine() != db.Postgres {
		t.Skip("replicas need PostgreSQL (set " + dbtest.EnvVar + "; `make test` does)")
	}
	g, deleg := newLimitsEnv(t, "20", "10")
	r1, r2 := g.replica(Config{ProviderKeys: g.box}), g.replica(Config{ProviderKeys: g.box})
	urls := []string{g.url, r1.url, r2.url}
	defer func() { // what the servers logged of a failure
		if !t.Failed() {
			return
		}
		for _, l := range []string{g.logs.String(), r1.logs.String(), r2.logs.String()} {
			for _, line := range strings.Split(l, "\n") {
				if strings.Contains(line, "level=ERROR") {
					t.Log(line)
				}
			}
		}
	}()
	ctx := context.Background()
	var answered, refused atomic.Int64
	for wave := 0; wave < 20; wave++ {
		before := answered.Load()
		g.gatewayWave(t, ctx, 200, urls, &answered, &refused)
		if answered.Load() == before {
			break
		}
	}
	g.checkNoOverspend(t, ctx, deleg, &answered, &refused)
}

// checkNoOverspend checks the kid's money after the waves: nothing charged beyond the 20-credit
// allowance and the 10 own credits, no debt, an event for every answer, and the money run down.
func (g *gatewayEnv) checkNoOverspend(t *testing.T, ctx context.Context, deleg int64, answered, refused *atomic.Int64) {
	t.Helper()
	used, balance, debt := g.kidMoney(t, deleg)
	var charged, events int64
	for q, dest := range map[string]*int64{
		`SELECT coalesce(sum(credits), 0) FROM usage_events WHERE charged = 1 AND user_id = ` + itoa(g.memberID): &charged,
		`SELECT count(*) FROM usage_events WHERE user_id = ` + itoa(g.memberID):                                  &events,
	} {
		if err := g.db.Read().QueryRowForTest(ctx, q, dest); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d answered, %d refused with 402; %d events charged %d mc: allowance %d mc of 20000, own credits left %d mc of 10000, debt %d",
		answered.Load(), refused.Load(), events, charged, used, balance, debt)
	if used > 20000 || balance < 0 || debt != 0 {
		t.Fatalf("overspent: allowance used %d mc of 20000, own balance %d, debt %d", used, balance, debt)
	}
	if charged != used+(10000-balance) {
		t.Fatalf("events charged %d mc, but the allowance and the wallet paid %d", charged, used+(10000-balance))
	}
	if events != answered.Load() || refused.Load() == 0 {
		t.Fatalf("%d events for %d answers; %d refused (the holds must have run out)", events, answered.Load(), refused.Load())
	}
	// One request holds at most a few credits: the waves ran the money down to less than that.
	if left := 30000 - charged; left > 5000 {
		t.Fatalf("the waves stopped with %d mc still unspent", left)
	}
	g.checkInvariant()
}

// gatewayWave sends n requests at once, every other one streamed, and counts the answers and
// the 402s; any other failure fails the test.
func (g *gatewayEnv) gatewayWave(t *testing.T, ctx context.Context, n int, urls []string, answered, refused *atomic.Int64) {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := openai.NewClient(ooption.WithBaseURL(urls[i%len(urls)]+"/v1/"), ooption.WithAPIKey(g.token), ooption.WithMaxRetries(0))
			var err error
			if i%2 == 0 {
				_, err = client.Chat.Completions.New(ctx, chatWithCap("hi", 5))
			} else {
				s := client.Chat.Completions.NewStreaming(ctx, chatWithCap("hi", 5))
				for s.Next() {
				}
				err = s.Err()
			}
			var apiErr *openai.Error
			switch {
			case err == nil:
				answered.Add(1)
			case errors.As(err, &apiErr) && apiErr.StatusCode == 402:
				refused.Add(1)
			default:
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a request failed other than with 402: %v", err)
	}
}
