package core

import (
	"strconv"
	"testing"
	"time"
)

// benchHarness is a wallet with plenty of credits in a few buckets, like a real member.
func benchHarness(b *testing.B) (*harness, []int64) {
	h := newHarness(&testing.T{}, time.Now())
	h.t = &testing.T{}
	var users []int64
	for i := 0; i < 50; i++ {
		u := h.member("bench" + strconv.Itoa(i))
		h.grant(u, KindAddon, 1_000_000_000, nil)
		h.grant(u, KindSubscription, 1_000_000, nil)
		users = append(users, u)
	}
	return h, users
}

// BenchmarkChargeUsage is the durable ingest path without HTTP: concurrent callers, each
// report committed (group commit) before it returns.
func BenchmarkChargeUsage(b *testing.B) {
	h, users := benchHarness(b)
	credits := Credits(1234)
	b.ResetTimer()
	b.SetParallelism(32) // 32 × GOMAXPROCS callers, like many HTTP connections
	var n int64
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			u := users[i%len(users)]
			_, _, err := h.svc.ChargeUsage(h.ctx, h.app, UsageReport{AIAgentID: "test-app", UserID: u, Description: "bench",
				UsageType: "token_usage", Model: "gpt-4o", Provider: "OpenAI", InputTokens: 1000, OutputTokens: 200, TotalTokens: 1200,
				Credits: &credits, ChargeUser: true, IdempotencyKey: "k" + strconv.FormatInt(time.Now().UnixNano(), 36) + strconv.Itoa(i)})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	_ = n
}

// BenchmarkChargeBatch is the engine's CPU cost per charge: many charges in one transaction.
func BenchmarkChargeBatch(b *testing.B) {
	h, users := benchHarness(b)
	credits := Credits(1234)
	reps := make([]UsageReport, 500)
	b.ResetTimer()
	for done := 0; done < b.N; done += len(reps) {
		n := min(len(reps), b.N-done)
		for i := 0; i < n; i++ {
			reps[i] = UsageReport{AIAgentID: "test-app", UserID: users[(done+i)%len(users)], Description: "bench", UsageType: "token_usage",
				Model: "gpt-4o", Provider: "OpenAI", InputTokens: 1000, OutputTokens: 200, TotalTokens: 1200, Credits: &credits, ChargeUser: true}
		}
		if _, err := h.svc.ChargeBatch(h.ctx, Operator, reps[:n]); err != nil {
			b.Fatal(err)
		}
	}
}
