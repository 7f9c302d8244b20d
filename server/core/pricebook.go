package core

import (
	"regexp"
	"strings"
)

// PriceSource says where a model's price came from.
type PriceSource string

const (
	PriceFromOverride PriceSource = "override" // an admin's price
	PriceFromTable    PriceSource = "table"    // the shipped table
)

// PriceBook finds a model's price: an admin's override, else the shipped table. Overrides are kept
// apart from the table, so a new table never undoes them.
type PriceBook struct {
	table     map[string]Price
	overrides map[string]Price
}

// NewPriceBook is the shipped table with the admin's overrides (keyed by their Model) on top.
func NewPriceBook(overrides []Price) *PriceBook {
	b := &PriceBook{table: shippedPrices, overrides: make(map[string]Price, len(overrides))}
	for _, o := range overrides {
		b.overrides[strings.ToLower(o.Model)] = o
	}
	return b
}

// datedSuffixes are the version tails a model id may carry beyond the id its price is listed under.
var datedSuffixes = []*regexp.Regexp{
	regexp.MustCompile(`-\d{4}-\d{2}-\d{2}$`),    // gpt-4o-2024-08-06
	regexp.MustCompile(`[-@]\d{8}$`),             // claude-3-5-sonnet-20241022, claude-…@20241022
	regexp.MustCompile(`-preview-\d{2}-\d{2}$`),  // gemini-2.5-flash-preview-05-20
	regexp.MustCompile(`-(latest|preview|exp)$`), // claude-3-7-sonnet-latest, mistral-large-latest
	regexp.MustCompile(`-\d{3,4}$`),              // gpt-4-0613, mistral-large-2411, gemini-2.0-flash-001
	regexp.MustCompile(`-v\d+(:\d+)?$`),          // Bedrock's -v2:0
}

// priceCandidates are the ids to try for model, most specific first: the id itself, without a
// provider prefix ("openai/", "models/", "anthropic."), then with version tails stripped one by one.
func priceCandidates(model string) []string {
	id := strings.ToLower(strings.TrimSpace(model))
	out := []string{id}
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		id = id[i+1:]
		out = append(out, id)
	}
	for _, p := range []string{"us.anthropic.", "eu.anthropic.", "anthropic."} {
		if strings.HasPrefix(id, p) {
			id = strings.TrimPrefix(id, p)
			out = append(out, id)
		}
	}
	for stripped := true; stripped; {
		stripped = false
		for _, re := range datedSuffixes {
			if loc := re.FindStringIndex(id); loc != nil && loc[0] > 0 {
				id = id[:loc[0]]
				out = append(out, id)
				stripped = true
			}
		}
	}
	return out
}

// Lookup finds model's price. The most specific id wins: an exact table row for a dated snapshot
// (gpt-4o-2024-05-13) beats an override of its family (gpt-4o); at the same id an override beats the
// table. ok is false for a model with no price: the gateway must refuse it, never charge it 0.
func (b *PriceBook) Lookup(model string) (Price, PriceSource, bool) {
	for _, id := range priceCandidates(model) {
		if p, ok := b.overrides[id]; ok {
			return p, PriceFromOverride, true
		}
		if p, ok := b.table[id]; ok {
			return p, PriceFromTable, true
		}
	}
	return Price{}, "", false
}
