package core

import (
	"testing"
	"time"
)

// BenchmarkParseUsageReport is the ingest handler's decoding and validation of one report, the
// shape bench/ingest.lua sends.
func BenchmarkParseUsageReport(b *testing.B) {
	body := []byte(`{"aiAgentId":"homework-helper","userEmail":"member042@example.org","description":"Explained long division step by step with two worked examples","shortDescription":"Math help",` +
		`"usageType":"token_usage","model":"gpt-4o-mini","provider":"OpenAI","modality":"text",` +
		`"inputTokens":1834,"outputTokens":512,"processingTimeMs":2210,"totalCost":0.000582300,"project":"Course 4",` +
		`"modelParameters":{"temperature":0.7,"maxTokens":2048},"idempotencyKey":"wrk-1763884800-1-123456"}`)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseUsageReport(body, now); err != nil {
			b.Fatal(err)
		}
	}
}
