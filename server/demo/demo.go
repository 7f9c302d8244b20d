// Package demo fills a fresh tokenjar with realistic, reproducible usage. It drives the real
// engine through a settable clock, so grants, charges, expiries, monthly refreshes, debts and
// refunds happen on the dates they would have, and every number reconciles like real data.
package demo

import (
	"context"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"sync"
	"time"

	"tokenjar/server/core"
)

// Clock is the demo's settable clock; the service under construction reads it.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// Model is an AI model with its list price, in nano-USD per token (or per unit).
type Model struct {
	Name, Provider, Modality string
	In, Out                  int64 // nano-USD per input / output token
	PerUnit                  int64 // nano-USD per image or audio second, when not token-priced
}

// Models is the price list the demo reports with.
var Models = []Model{
	{Name: "gpt-4o", Provider: "OpenAI", Modality: "text", In: 2500, Out: 10000},
	{Name: "gpt-4o-mini", Provider: "OpenAI", Modality: "text", In: 150, Out: 600},
	{Name: "claude-sonnet-4", Provider: "Anthropic", Modality: "text", In: 3000, Out: 15000},
	{Name: "claude-haiku-3.5", Provider: "Anthropic", Modality: "text", In: 800, Out: 4000},
	{Name: "gemini-2.5-flash", Provider: "Google", Modality: "text", In: 300, Out: 2500},
	{Name: "dall-e-3", Provider: "OpenAI", Modality: "image", PerUnit: 40_000_000},
	{Name: "whisper-1", Provider: "OpenAI", Modality: "audio", PerUnit: 100_000},
	{Name: "text-embedding-3-small", Provider: "OpenAI", Modality: "embedding", In: 20},
}

func nanoUSD(n int64) string {
	s := strconv.FormatInt(n, 10)
	if len(s) <= 9 {
		s = strings.Repeat("0", 10-len(s)) + s
	}
	whole, frac := s[:len(s)-9], strings.TrimRight(s[len(s)-9:], "0")
	if frac == "" {
		return whole
	}
	return whole + "." + frac
}

// report builds a usage report priced from the model's list price.
func report(rng *rand.Rand, m Model, userID int64, app, project, desc string, at time.Time) core.UsageReport {
	r := core.UsageReport{AIAgentID: app, UserID: userID, Description: desc, Model: m.Name, Provider: m.Provider,
		Modality: m.Modality, Project: project, ChargeUser: true, Timestamp: &at}
	var cost int64
	switch m.Modality {
	case "image":
		r.UsageType = "image"
		n := int64(1 + rng.Intn(2))
		cost = n * m.PerUnit
		r.ModelParameters = fmt.Sprintf(`{"size":"1024x1024","n":%d}`, n)
	case "audio":
		r.UsageType = "processing_time"
		secs := int64(20 + rng.Intn(300))
		cost = secs * m.PerUnit
		pt := secs * 180
		r.ProcessingTimeMs = &pt
	default:
		r.UsageType = "token_usage"
		r.InputTokens = int64(200 + rng.Intn(3800))
		if m.Modality != "embedding" {
			r.OutputTokens = int64(50 + rng.Intn(1200))
		}
		r.TotalTokens = r.InputTokens + r.OutputTokens
		cost = r.InputTokens*m.In + r.OutputTokens*m.Out
		r.ModelParameters = fmt.Sprintf(`{"temperature":%.1f,"maxTokens":%d}`, float64(rng.Intn(11))/10, 1024*(1+rng.Intn(4)))
		pt := int64(300 + rng.Intn(6000))
		r.ProcessingTimeMs = &pt
	}
	r.TotalCost = nanoUSD(cost)
	return r
}

// dayStart is local midnight of t's day.
func dayStart(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// onDays walks local days from start to end, running refresh at each cycle start and the
// expiry job at each day's start, then calling fn for the day.
func onDays(ctx context.Context, svc *core.Service, clock *Clock, start, end time.Time, dataDir string, fn func(day time.Time, i int) error) error {
	loc := svc.Settings().Location
	i := 0
	for day := dayStart(start, loc); day.Before(end); day = day.AddDate(0, 0, 1) {
		clock.Set(day)
		if day.Day() == 1 || i == 0 {
			if _, err := svc.RunJob(ctx, "refresh", day, dataDir); err != nil {
				return err
			}
		}
		if _, err := svc.RunJob(ctx, "expire", day, dataDir); err != nil {
			return err
		}
		if err := fn(day, i); err != nil {
			return err
		}
		i++
	}
	return nil
}
