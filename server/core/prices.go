package core

import (
	"math/big"
	"strconv"
	"strings"
)

// MicroUSD is an amount of millionths of a US dollar. Token prices are MicroUSD per million tokens, so
// n tokens at price p cost exactly n × p pico-USD (10⁻¹² USD): no division, no rounding until the
// one rounding of a charge's total into millicredits.
type MicroUSD int64

// maxPrice bounds one price: a million dollars per million tokens (or per image).
const maxPrice MicroUSD = 1_000_000_000_000

// ParseMicroUSD reads a USD decimal ("2.50", "0.075", "1e-2") exactly. It refuses negatives and any
// value that is not a whole number of micro-dollars, rather than round a price.
func ParseMicroUSD(s string) (MicroUSD, bool) {
	d, ok := parseDecimal(s)
	if !ok {
		return 0, false
	}
	n := new(big.Int).Set(d.mant)
	if d.scale > 6 {
		den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.scale-6)), nil)
		var rem big.Int
		if n.QuoRem(n, den, &rem); rem.Sign() != 0 {
			return 0, false
		}
	} else {
		n.Mul(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(6-d.scale)), nil))
	}
	if !n.IsInt64() || n.Int64() > int64(maxPrice) {
		return 0, false
	}
	return MicroUSD(n.Int64()), true
}

// String is the price as a USD decimal, e.g. "2.5" or "0.075".
func (m MicroUSD) String() string {
	whole, frac := int64(m)/1_000_000, int64(m)%1_000_000
	if frac == 0 {
		return strconv.FormatInt(whole, 10)
	}
	return strconv.FormatInt(whole, 10) + "." + strings.TrimRight(strconv.FormatInt(frac+1_000_000, 10)[1:], "0")
}

// MarshalJSON writes the price as a JSON number of USD.
func (m MicroUSD) MarshalJSON() ([]byte, error) { return []byte(m.String()), nil }

// ModelUsage is what one gateway request used, as the provider reported it (see wire.Usage):
// InputTokens include the cached and cache-write parts; OutputTokens include ReasoningTokens.
type ModelUsage struct {
	InputTokens       int64
	CachedInputTokens int64
	CacheWriteTokens  int64
	// CacheWrite1hTokens is the part of CacheWriteTokens written to a 1-hour cache (Anthropic).
	CacheWrite1hTokens int64
	OutputTokens       int64
	ReasoningTokens    int64 // part of OutputTokens; never charged on top
	Images             int64
	ImageSize          string
	ImageQuality       string
}

// clamp makes every count ≥ 0 and keeps the cached and cache-write parts within the input.
func (u ModelUsage) clamp() ModelUsage {
	for _, p := range []*int64{&u.InputTokens, &u.CachedInputTokens, &u.CacheWriteTokens, &u.CacheWrite1hTokens, &u.OutputTokens, &u.ReasoningTokens, &u.Images} {
		*p = min(max(*p, 0), MaxCount)
	}
	u.CachedInputTokens = min(u.CachedInputTokens, u.InputTokens)
	u.CacheWriteTokens = min(u.CacheWriteTokens, u.InputTokens-u.CachedInputTokens)
	u.CacheWrite1hTokens = min(u.CacheWrite1hTokens, u.CacheWriteTokens)
	return u
}

// CostPicoUSD is the exact cost of u at price p, in pico-USD:
//
//	(input − cached − cache writes) × input + cached × cachedInput
//	+ 5-minute cache writes × cacheWrite + 1-hour cache writes × cacheWrite1h
//	+ output × output (reasoning is inside output) + images × per-image price,
//
// with every count clamped at ≥ 0, and the long-context rates when the input is past their threshold.
func (p Price) CostPicoUSD(u ModelUsage) *big.Int {
	u = u.clamp()
	r := p.rates(u.InputTokens)
	plain := u.InputTokens - u.CachedInputTokens - u.CacheWriteTokens
	total := new(big.Int)
	add := func(n int64, price MicroUSD) {
		total.Add(total, new(big.Int).Mul(big.NewInt(n), big.NewInt(int64(price))))
	}
	add(plain, r.Input)
	add(u.CachedInputTokens, r.cached())
	add(u.CacheWriteTokens-u.CacheWrite1hTokens, r.cacheWrite())
	add(u.CacheWrite1hTokens, r.cacheWrite1h())
	add(u.OutputTokens, r.Output)
	add(u.Images, p.imagePrice(u.ImageSize, u.ImageQuality)*1_000_000) // per image, not per million
	return total
}

// Credits is the cost of u in millicredits at milliPerUSD (the instance's creditsPerUSD × 1000),
// rounded half up once on the total. ok is false past MaxAmount.
func (p Price) Credits(u ModelUsage, milliPerUSD int64) (Credits, bool) {
	return picoToCredits(p.CostPicoUSD(u), milliPerUSD)
}

// picoToCredits converts pico-USD into millicredits, rounding half up as costToCredits does.
func picoToCredits(pico *big.Int, milliPerUSD int64) (Credits, bool) {
	v, ok := decimal{mant: pico, scale: 12}.mulRound(milliPerUSD)
	return Credits(v), ok
}
