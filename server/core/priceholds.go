package core

import "math/big"

// HoldRequest is what is known of a request before it is forwarded.
type HoldRequest struct {
	InputTokens  int64 // the conservative estimate (EstimateInputTokens)
	OutputTokens int64 // max_tokens as sent, or the model's cap
	Images       int64 // images asked for (n)
	ImageSize    string
	ImageQuality string
	// CacheMarks says which cache writes the request can cause; the zero value assumes the dearest.
	CacheMarks CacheMarks
}

// CacheMarks is what a request marks for prompt caching, which bounds the cache writes it can cause.
type CacheMarks int

const (
	CacheMarksUnknown CacheMarks = iota // not known: assume the dearest writes
	CacheMarksNone                      // nothing marked (Anthropic), or a provider without write charges
	CacheMarks5m                        // 5-minute cache marks only
	CacheMarks1h                        // a 1-hour cache mark
)

// CacheMarksOf reads wire.Input.CacheControl: "" none, "5m", "1h".
func CacheMarksOf(s string) CacheMarks {
	switch s {
	case "":
		return CacheMarksNone
	case "5m":
		return CacheMarks5m
	}
	return CacheMarks1h
}

// worstInputRate is the dearest rate an input token of a request with these marks can cost: a cache
// write (a 1-hour one most of all) costs more than plain input at Anthropic, so when the request may
// write a cache the hold assumes every input token is written.
func (r tokenRates) worstInputRate(marks CacheMarks) MicroUSD {
	worst := max(r.Input, r.cached())
	switch marks {
	case CacheMarksNone:
		return worst
	case CacheMarks5m:
		return max(worst, r.cacheWrite())
	}
	return max(worst, r.cacheWrite(), r.cacheWrite1h())
}

// worstCasePico is the most the request can cost at p, in pico-USD, before its output; and the
// output rate that applies.
func (p Price) worstCasePico(h HoldRequest) (fixed *big.Int, outRate MicroUSD) {
	in := min(max(h.InputTokens, 0), MaxCount)
	// The estimate is at or above the real count, so an estimate within a long-context threshold
	// means the real input is too; past it, the dearer of both sets of rates applies.
	r := maxRates(p.rates(0), p.rates(in))
	fixed = new(big.Int).Mul(big.NewInt(in), big.NewInt(int64(r.worstInputRate(h.CacheMarks))))
	img := new(big.Int).Mul(big.NewInt(min(max(h.Images, 0), MaxCount)), big.NewInt(int64(p.imagePrice(h.ImageSize, h.ImageQuality))*1_000_000))
	return fixed.Add(fixed, img), r.Output
}

func maxRates(a, b tokenRates) tokenRates {
	a.Input, a.Output = max(a.Input, b.Input), max(a.Output, b.Output)
	a.Cached, a.CacheWrite = max(a.Cached, b.Cached), max(a.CacheWrite, b.CacheWrite)
	a.CacheWrite1h = max(a.CacheWrite1h, b.CacheWrite1h)
	return a
}

// HoldCredits is the worst-case cost of h in millicredits (rounded half up), to hold before
// forwarding: every input token at the dearest input rate, every allowed output token at the output
// rate, every image at its price. Whatever the provider then reports within those bounds costs no more.
func (p Price) HoldCredits(h HoldRequest, milliPerUSD int64) (Credits, bool) {
	fixed, out := p.worstCasePico(h)
	total := fixed.Add(fixed, new(big.Int).Mul(big.NewInt(min(max(h.OutputTokens, 0), MaxCount)), big.NewInt(int64(out))))
	return picoToCredits(total, milliPerUSD)
}

// MaxOutputWithin is the largest output cap n such that the hold of h with OutputTokens = n is at most
// budget millicredits, and ok false when even n = 0 does not fit. With a free output rate it returns
// MaxCount. The handler lowers max_tokens to n when n still leaves a useful reply, else answers 402.
func (p Price) MaxOutputWithin(h HoldRequest, budget Credits, milliPerUSD int64) (n int64, ok bool) {
	if budget < 0 || milliPerUSD <= 0 {
		return 0, false
	}
	fixed, out := p.worstCasePico(h)
	// round half up(x·m/10¹²) ≤ B  ⇔  2·x·m < (2B+1)·10¹²  ⇔  x ≤ ⌊((2B+1)·10¹² − 1) / 2m⌋
	limit := new(big.Int).Mul(big.NewInt(2*int64(budget)+1), big.NewInt(1_000_000_000_000))
	limit.Sub(limit, big.NewInt(1)).Quo(limit, big.NewInt(2*milliPerUSD))
	room := limit.Sub(limit, fixed)
	if room.Sign() < 0 {
		return 0, false
	}
	if out <= 0 {
		return MaxCount, true
	}
	room.Quo(room, big.NewInt(int64(out)))
	if !room.IsInt64() || room.Int64() > MaxCount {
		return MaxCount, true
	}
	return room.Int64(), true
}
