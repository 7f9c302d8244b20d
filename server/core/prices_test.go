package core

import (
	"math/rand"
	"strings"
	"testing"
)

const perUSD = 1_000_000 // millicredits per USD at the default 1000 credits per USD

func mustPrice(t *testing.T, model string) Price {
	t.Helper()
	p, _, ok := NewPriceBook(nil).Lookup(model)
	if !ok {
		t.Fatalf("no price for %s", model)
	}
	return p
}

// Every expected value below is worked out by hand in pico-USD (tokens × USD-per-million × 10⁶),
// then × millicredits-per-USD / 10¹², rounded half up.
func TestPriceCreditsExact(t *testing.T) {
	cases := []struct {
		name  string
		model string
		u     ModelUsage
		per   int64
		want  Credits
	}{
		// 800×2.5e6 + 200×1.25e6 + 500×10e6 = 7.25e9 pico = $0.00725
		{"openai cached inside input", "gpt-4o", ModelUsage{InputTokens: 1000, CachedInputTokens: 200, OutputTokens: 500}, perUSD, 7250},
		// 50×3e6 + 4000×0.3e6 + 1000×3.75e6 + 20×15e6 = 5.4e9
		{"anthropic reads and writes", "claude-sonnet-4-5-20250929", ModelUsage{InputTokens: 5050, CachedInputTokens: 4000, CacheWriteTokens: 1000, OutputTokens: 20}, perUSD, 5400},
		// 500×2e6 + 900×8e6 = 8.2e9; reasoning (700) is inside output, not added (would be 13800)
		{"reasoning not charged twice", "o3", ModelUsage{InputTokens: 500, OutputTokens: 900, ReasoningTokens: 700}, perUSD, 8200},
		// 10×0.15e6 = 1.5e6 pico = 1.5 millicredits → 2 (half up)
		{"half rounds up", "gpt-4o-mini", ModelUsage{InputTokens: 10}, perUSD, 2},
		// 9×0.15e6 = 1.35 millicredits → 1
		{"below half rounds down", "gpt-4o-mini", ModelUsage{InputTokens: 9}, perUSD, 1},
		// 7.25e9 × 1234500 / 1e12 = 8950.125 → 8950
		{"other creditsPerUSD", "gpt-4o", ModelUsage{InputTokens: 1000, CachedInputTokens: 200, OutputTokens: 500}, 1_234_500, 8950},
		// cached clamped to input: 100×1.25e6 = 1.25e8 → 125; negative output → 0
		{"clamped", "gpt-4o", ModelUsage{InputTokens: 100, CachedInputTokens: 500, OutputTokens: -40}, perUSD, 125},
		// no cached rate listed: cached tokens at input price, 1000×10e6 = 1e10
		{"no cached rate", "gpt-4-turbo", ModelUsage{InputTokens: 1000, CachedInputTokens: 400}, perUSD, 10000},
		// 2 × $0.12
		{"dall-e-3 hd tall", "dall-e-3", ModelUsage{Images: 2, ImageSize: "1024x1792", ImageQuality: "hd"}, perUSD, 240000},
		// default variant: standard 1024x1024, $0.04
		{"dall-e-3 default", "dall-e-3", ModelUsage{Images: 1}, perUSD, 40000},
		// unknown variant: the dearest, $0.12
		{"dall-e-3 unknown size", "dall-e-3", ModelUsage{Images: 1, ImageSize: "512x512", ImageQuality: "hd"}, perUSD, 120000},
		{"dall-e-2 size only", "dall-e-2", ModelUsage{Images: 3, ImageSize: "256x256"}, perUSD, 48000},
		// 10×3e6 + 100×3.75e6 (5-minute writes) + 200×6e6 (1-hour writes) + 5×15e6 = 1.68e9
		{"1-hour cache writes", "claude-sonnet-4-5", ModelUsage{InputTokens: 310, CacheWriteTokens: 300, CacheWrite1hTokens: 200, OutputTokens: 5}, perUSD, 1680},
		// 1-hour writes on a model with no 1-hour rate fall back to the write rate: gpt-4o has none, so input: 100×2.5e6
		{"1-hour writes without a rate", "gpt-4o", ModelUsage{InputTokens: 100, CacheWriteTokens: 100, CacheWrite1hTokens: 100}, perUSD, 250},
		// past 200k: 300000×6e6 + 1000×22.5e6 = 1.8225e12 pico = $1.8225
		{"long context", "claude-sonnet-4-5", ModelUsage{InputTokens: 300000, OutputTokens: 1000}, perUSD, 1822500},
		// at 200k exactly: normal rates, 200000×3e6 = 6e11
		{"at the threshold", "claude-sonnet-4-5", ModelUsage{InputTokens: 200000}, perUSD, 600000},
		// deepseek: 36×0.28e6 + 64×0.028e6 + 10×0.42e6 = 10.08e6+1.792e6+4.2e6 = 16.072e6 → 16.072 → 16
		{"deepseek cache hits", "deepseek-chat", ModelUsage{InputTokens: 100, CachedInputTokens: 64, OutputTokens: 10}, perUSD, 16},
		// embeddings: 1e6 tokens × 0.02 = $0.02
		{"embeddings", "text-embedding-3-small", ModelUsage{InputTokens: 1_000_000}, perUSD, 20000},
	}
	for _, c := range cases {
		got, ok := mustPrice(t, c.model).Credits(c.u, c.per)
		if !ok || got != c.want {
			t.Errorf("%s: %d (%v), want %d", c.name, got, ok, c.want)
		}
	}
}

func TestParseMicroUSD(t *testing.T) {
	cases := []struct {
		in   string
		want MicroUSD
		ok   bool
	}{
		{"2.50", 2_500_000, true}, {"0.075", 75_000, true}, {"0.000001", 1, true}, {"1e-2", 10_000, true},
		{"0", 0, true}, {"0.0000001", 0, false}, {"0.00000010", 0, false}, {"-1", 0, false}, {"abc", 0, false},
		{"1000000", 1_000_000_000_000, true}, {"1000001", 0, false},
	}
	for _, c := range cases {
		got, ok := ParseMicroUSD(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: %d %v", c.in, got, ok)
		}
	}
	for m, s := range map[MicroUSD]string{2_500_000: "2.5", 75_000: "0.075", 1: "0.000001", 10_000_000: "10", 0: "0"} {
		if m.String() != s {
			t.Errorf("%d → %s, want %s", m, m.String(), s)
		}
	}
}

func TestPriceLookupResolvesModelIDs(t *testing.T) {
	cases := map[string]string{
		"gpt-4o":                                 "gpt-4o",
		"gpt-4o-2024-08-06":                      "gpt-4o",
		"gpt-4o-2024-05-13":                      "gpt-4o-2024-05-13", // its own, dearer row
		"gpt-4o-mini-2024-07-18":                 "gpt-4o-mini",
		"openai/gpt-4.1-mini":                    "gpt-4.1-mini",
		"o1-mini-2024-09-12":                     "o1-mini",
		"gpt-3.5-turbo-0125":                     "gpt-3.5-turbo",
		"claude-3-5-sonnet-20241022":             "claude-3-5-sonnet",
		"claude-3-5-sonnet-v2@20241022":          "claude-3-5-sonnet",
		"claude-3-7-sonnet-latest":               "claude-3-7-sonnet",
		"anthropic/claude-sonnet-4-5-20250929":   "claude-sonnet-4-5",
		"claude-opus-4-1-20250805":               "claude-opus-4-1",
		"claude-haiku-4-5":                       "claude-haiku-4-5",
		"anthropic.claude-3-haiku-20240307-v1:0": "claude-3-haiku",
		"models/gemini-2.5-flash":                "gemini-2.5-flash",
		"gemini-2.5-flash-preview-05-20":         "gemini-2.5-flash",
		"gemini-2.0-flash-001":                   "gemini-2.0-flash",
		"gemini-3-pro-preview":                   "gemini-3-pro-preview",
		"mistral-large-2411":                     "mistral-large",
		"mistral-large-latest":                   "mistral-large",
		"deepseek-reasoner":                      "deepseek-reasoner",
		"GPT-4o":                                 "gpt-4o",
	}
	b := NewPriceBook(nil)
	for in, want := range cases {
		p, src, ok := b.Lookup(in)
		if !ok || p.Model != want || src != PriceFromTable {
			t.Errorf("%s → %q %s %v, want %s", in, p.Model, src, ok, want)
		}
	}
	// ids that only look like a priced model must not borrow its price
	for _, in := range []string{"gpt-4o-audio-preview", "gpt-4o-realtime-preview-2024-12-17", "chatgpt-4o-latest", "o1-pro", "llama3.2:latest", ""} {
		if p, _, ok := b.Lookup(in); ok {
			t.Errorf("%s got the price of %s", in, p.Model)
		}
	}
}

func TestPriceOverridesBeatTheTableAndSurviveIt(t *testing.T) {
	b := NewPriceBook([]Price{{Model: "GPT-4o", Input: 3_000_000, Output: 12_000_000}, {Model: "my-local-llm", Input: 1}})
	for in, wantSrc := range map[string]PriceSource{"gpt-4o": PriceFromOverride, "gpt-4o-2024-11-20": PriceFromOverride,
		"gpt-4o-2024-05-13": PriceFromTable, "my-local-llm": PriceFromOverride, "gpt-4o-mini": PriceFromTable} {
		if _, src, ok := b.Lookup(in); !ok || src != wantSrc {
			t.Errorf("%s: %s %v, want %s", in, src, ok, wantSrc)
		}
	}
	if p, _, _ := b.Lookup("gpt-4o"); p.Input != 3_000_000 {
		t.Errorf("override not used: %+v", p)
	}
	if ShippedPrices()["gpt-4o"].Input != 2_500_000 {
		t.Error("an override changed the shipped table")
	}
}

func TestShippedPriceTableIsDatedAndSourced(t *testing.T) {
	rows := ShippedPrices()
	if len(rows) < 30 {
		t.Fatalf("%d rows, want at least 30", len(rows))
	}
	per := map[string]int{}
	for id, p := range rows {
		if !strings.HasPrefix(p.Source, "https://") || len(p.AsOf) < 7 || p.Note == "" {
			t.Errorf("%s: source %q, date %q, note %q", id, p.Source, p.AsOf, p.Note)
		}
		if p.ContextWindow == 0 && p.ImageVariants == nil && p.Model != "gpt-image-1" {
			t.Errorf("%s: no context window", id)
		}
		if p.MaxOutput > 0 && p.ContextWindow > 0 && p.MaxOutput > p.ContextWindow {
			t.Errorf("%s: output cap past the context window", id)
		}
		if p.HasCached && p.CachedInput > p.Input {
			t.Errorf("%s: cached input dearer than input", id)
		}
		for _, host := range []string{"openai.com", "claude.com", "google.dev", "mistral.ai", "deepseek.com"} {
			if strings.Contains(p.Source, host) {
				per[host]++
			}
		}
	}
	for _, host := range []string{"openai.com", "claude.com", "google.dev", "mistral.ai", "deepseek.com"} {
		if per[host] < 2 {
			t.Errorf("only %d rows from %s", per[host], host)
		}
	}
	if _, err := parsePriceTable([]byte(`{"rows":[{"model":"x","input":"0.1234567","source":"s","asOf":"d"}]}`)); err == nil {
		t.Error("an inexact price was accepted")
	}
}

func TestHoldCredits(t *testing.T) {
	cases := []struct {
		model string
		h     HoldRequest
		want  Credits
	}{
		// 1000×2.5e6 + 500×10e6 = 7.5e9
		{"gpt-4o", HoldRequest{InputTokens: 1000, OutputTokens: 500}, 7500},
		// marks unknown: every input token at the 1-hour write rate: 1000×6e6 + 100×15e6 = 7.5e9
		{"claude-sonnet-4-5", HoldRequest{InputTokens: 1000, OutputTokens: 100}, 7500},
		// 5-minute marks: 1000×3.75e6 + 100×15e6 = 5.25e9
		{"claude-sonnet-4-5", HoldRequest{InputTokens: 1000, OutputTokens: 100, CacheMarks: CacheMarks5m}, 5250},
		// nothing marked: 1000×3e6 + 100×15e6 = 4.5e9
		{"claude-sonnet-4-5", HoldRequest{InputTokens: 1000, OutputTokens: 100, CacheMarks: CacheMarksNone}, 4500},
		// past the threshold, long rates, unknown marks: 250000×12e6 + 1000×22.5e6 = 3.0225e12
		{"claude-sonnet-4-5", HoldRequest{InputTokens: 250000, OutputTokens: 1000}, 3022500},
		// past the threshold, 5-minute marks: 250000×7.5e6 + 1000×22.5e6 = 1.8975e12
		{"claude-sonnet-4-5", HoldRequest{InputTokens: 250000, OutputTokens: 1000, CacheMarks: CacheMarks5m}, 1897500},
		// 2 hd tall images at $0.12 + 10 tokens of prompt at 0
		{"dall-e-3", HoldRequest{InputTokens: 10, Images: 2, ImageSize: "1024x1792", ImageQuality: "hd"}, 240000},
	}
	for _, c := range cases {
		got, ok := mustPrice(t, c.model).HoldCredits(c.h, perUSD)
		if !ok || got != c.want {
			t.Errorf("%s %+v: %d, want %d", c.model, c.h, got, c.want)
		}
	}
}

func TestMaxOutputWithinIsTheLargestThatFits(t *testing.T) {
	p := mustPrice(t, "gpt-4o")
	h := HoldRequest{InputTokens: 1000}
	if n, ok := p.MaxOutputWithin(h, 7500, perUSD); !ok || n != 500 {
		t.Errorf("budget 7500: %d %v, want 500", n, ok)
	}
	if _, ok := p.MaxOutputWithin(h, 2499, perUSD); ok {
		t.Error("input alone (2500) does not fit 2499")
	}
	if n, ok := p.MaxOutputWithin(h, 2500, perUSD); !ok || n != 0 {
		t.Errorf("budget 2500: %d %v", n, ok)
	}
	rng := rand.New(rand.NewSource(1))
	models := []string{"gpt-4o-mini", "claude-sonnet-4-5", "o3", "deepseek-chat", "gemini-2.5-pro", "claude-3-haiku"}
	for i := 0; i < 2000; i++ {
		p := mustPrice(t, models[i%len(models)])
		h := HoldRequest{InputTokens: rng.Int63n(300_000)}
		budget := Credits(rng.Int63n(5_000_000))
		per := []int64{perUSD, 1_234_567, 1000}[i%3]
		n, ok := p.MaxOutputWithin(h, budget, per)
		h0 := h
		if !ok {
			if c, _ := p.HoldCredits(h0, per); c <= budget {
				t.Fatalf("%s %+v budget %d: said nothing fits but the input costs %d", p.Model, h, budget, c)
			}
			continue
		}
		h.OutputTokens = n
		if c, _ := p.HoldCredits(h, per); c > budget {
			t.Fatalf("%s %+v: hold %d over budget %d", p.Model, h, c, budget)
		}
		h.OutputTokens = n + 1
		if c, _ := p.HoldCredits(h, per); c <= budget {
			t.Fatalf("%s %+v: n+1 still fits budget %d (hold %d)", p.Model, h, budget, c)
		}
	}
}

// TestChargeNeverExceedsItsHold: whatever a provider reports within the held bounds (input at most the
// estimate, in any split of plain, cached and cache-write tokens; output at most the cap) costs no
// more than the hold, so settling a hold never needs more than was held.
func TestChargeNeverExceedsItsHold(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	models := ShippedPriceModels()
	for i := 0; i < 5000; i++ {
		p := ShippedPrices()[models[i%len(models)]]
		h := HoldRequest{InputTokens: rng.Int63n(400_000), OutputTokens: rng.Int63n(70_000), Images: rng.Int63n(3),
			CacheMarks: CacheMarks(rng.Intn(4))}
		in := rng.Int63n(h.InputTokens + 1)
		cached := rng.Int63n(in + 1)
		u := ModelUsage{InputTokens: in, CachedInputTokens: cached, OutputTokens: rng.Int63n(h.OutputTokens + 1), Images: h.Images}
		if h.CacheMarks != CacheMarksNone { // a request that marks nothing writes no cache
			u.CacheWriteTokens = rng.Int63n(in - cached + 1)
		}
		if h.CacheMarks == CacheMarksUnknown || h.CacheMarks == CacheMarks1h {
			u.CacheWrite1hTokens = rng.Int63n(u.CacheWriteTokens + 1)
		}
		per := []int64{perUSD, 1_234_567, 1000}[i%3]
		hold, _ := p.HoldCredits(h, per)
		got, _ := p.Credits(u, per)
		if got > hold {
			t.Fatalf("%s: usage %+v costs %d, more than the hold %d of %+v", p.Model, u, got, hold, h)
		}
	}
}
