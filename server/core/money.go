package core

import (
	"math/big"
	"strconv"
	"strings"
)

// Credits is an amount in millicredits. It marshals to JSON as a decimal number of credits
// with at most three decimals, built from integers so no float ever touches it.
type Credits int64

func (c Credits) String() string {
	v := int64(c)
	sign := ""
	var u uint64
	if v < 0 {
		sign = "-"
		u = uint64(-(v + 1)) + 1 // safe for MinInt64
	} else {
		u = uint64(v)
	}
	whole, frac := u/1000, u%1000
	if frac == 0 {
		return sign + strconv.FormatUint(whole, 10)
	}
	f := strings.TrimRight(strconv.FormatUint(frac+1000, 10)[1:], "0")
	return sign + strconv.FormatUint(whole, 10) + "." + f
}

func (c Credits) MarshalJSON() ([]byte, error) { return []byte(c.String()), nil }

// decimal is an exact non-negative decimal: mant × 10^-scale.
type decimal struct {
	mant  *big.Int
	scale int
}

// parseDecimal parses JSON number text exactly. It rejects negatives and absurd exponents.
func parseDecimal(s string) (decimal, bool) {
	if s == "" || len(s) > 64 || s[0] == '-' || s[0] == '+' {
		return decimal{}, false
	}
	exp := 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > 30 || e < -30 {
			return decimal{}, false
		}
		exp, s = e, s[:i]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || (hasDot && frac == "") {
		return decimal{}, false
	}
	digits := intPart + frac
	for _, r := range digits {
		if r < '0' || r > '9' {
			return decimal{}, false
		}
	}
	m, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return decimal{}, false
	}
	return decimal{mant: m, scale: len(frac) - exp}, true
}

// MaxAmount bounds any one amount of credits a request may name (a grant, a report, an
// allowance, a plan): a billion credits. Balances, debts and totals are sums of such amounts,
// so with this bound they stay far inside int64 instead of wrapping around.
const MaxAmount Credits = 1_000_000_000_000

// MaxCount bounds any one count a report names (tokens, milliseconds), for the same reason.
const MaxCount = 1_000_000_000_000

// mulRound returns d × factor, rounded half up to an integer; ok is false past MaxAmount.
func (d decimal) mulRound(factor int64) (int64, bool) {
	n := new(big.Int).Mul(d.mant, big.NewInt(factor))
	if d.scale > 0 {
		den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.scale)), nil)
		// round half up: floor((2n + den) / 2den)
		n.Mul(n, big.NewInt(2)).Add(n, den)
		n.Quo(n, den.Mul(den, big.NewInt(2)))
	} else if d.scale < 0 {
		n.Mul(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-d.scale)), nil))
	}
	if !n.IsInt64() || n.Int64() > int64(MaxAmount) {
		return 0, false
	}
	return n.Int64(), true
}

// exactAt tells whether d × factor is a whole number, so nothing would be rounded away.
func (d decimal) exactAt(factor int64) bool {
	if d.scale <= 0 {
		return true
	}
	n := new(big.Int).Mul(d.mant, big.NewInt(factor))
	den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.scale)), nil)
	return new(big.Int).Rem(n, den).Sign() == 0
}

// ParseCredits turns a decimal number of credits into millicredits, exactly. An amount
// finer than a millicredit (5.0001) is refused rather than rounded: a grant, a plan or an
// allowance is money someone typed, and silently changing it would hide their mistake.
// Trailing zeros are fine (5.0010 is 5.001).
func ParseCredits(s string) (Credits, bool) {
	d, ok := parseDecimal(s)
	if !ok || !d.exactAt(1000) {
		return 0, false
	}
	v, ok := d.mulRound(1000)
	return Credits(v), ok
}

// costToCredits converts a USD cost into millicredits at milliPerUSD, rounding half up.
func costToCredits(cost string, milliPerUSD int64) (Credits, bool) {
	d, ok := parseDecimal(cost)
	if !ok {
		return 0, false
	}
	v, ok := d.mulRound(milliPerUSD)
	return Credits(v), ok
}
