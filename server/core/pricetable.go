package core

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Price is one model's price. Token prices are per million tokens; PerImage and ImageVariants are per
// image. A zero CachedInput or CacheWrite with its Has flag false means the provider names no such
// rate: those tokens are then charged at the input price.
type Price struct {
	Model         string   `json:"model"`
	Input         MicroUSD `json:"input"`
	Output        MicroUSD `json:"output"`
	CachedInput   MicroUSD `json:"cachedInput"`
	HasCached     bool     `json:"-"`
	CacheWrite    MicroUSD `json:"cacheWrite"`
	HasCacheWrite bool     `json:"-"`
	// CacheWrite1h is the 1-hour cache write rate (Anthropic); without it, the 5-minute rate applies.
	CacheWrite1h    MicroUSD            `json:"cacheWrite1h"`
	HasCacheWrite1h bool                `json:"-"`
	PerImage        MicroUSD            `json:"perImage,omitempty"`
	ImageVariants   map[string]MicroUSD `json:"imageVariants,omitempty"` // "quality size" or "size" → per image
	ImageDefault    string              `json:"imageDefault,omitempty"`  // the variant of a request naming none
	// LongContext, when set, prices a whole request whose input is past its threshold at its rates.
	LongContext *PriceTier `json:"longContext,omitempty"`
	// MaxOutput is the model's output cap in tokens (per image for token-priced image models); 0: unknown.
	MaxOutput int64 `json:"maxOutput,omitempty"`
	// ContextWindow is the most tokens (input and output) the model takes in one request, the bound
	// of the input when the provider adds input the body does not carry (wire.Input.Unbounded);
	// 0: unknown. From the author's knowledge, like the notes say.
	ContextWindow int64  `json:"contextWindow,omitempty"`
	Source        string `json:"source"`
	AsOf          string `json:"asOf"`
	Note          string `json:"note,omitempty"`
}

// priceJSON is a price as the API shows it: absent rates as null, prices as USD numbers.
type priceJSON struct {
	Model         string              `json:"model"`
	Input         MicroUSD            `json:"input"`
	Output        MicroUSD            `json:"output"`
	CachedInput   *MicroUSD           `json:"cachedInput"`
	CacheWrite    *MicroUSD           `json:"cacheWrite"`
	CacheWrite1h  *MicroUSD           `json:"cacheWrite1h"`
	PerImage      *MicroUSD           `json:"perImage"`
	ImageVariants map[string]MicroUSD `json:"imageVariants,omitempty"`
	LongContext   *PriceTier          `json:"longContext,omitempty"`
	MaxOutput     int64               `json:"maxOutput,omitempty"`
	ContextWindow int64               `json:"contextWindow,omitempty"`
	Source        string              `json:"source"`
	AsOf          string              `json:"asOf"`
	Note          string              `json:"note,omitempty"`
}

func (p Price) jsonView() priceJSON {
	v := priceJSON{Model: p.Model, Input: p.Input, Output: p.Output, ImageVariants: p.ImageVariants,
		LongContext: p.LongContext, MaxOutput: p.MaxOutput, ContextWindow: p.ContextWindow, Source: p.Source, AsOf: p.AsOf, Note: p.Note}
	if p.HasCached {
		v.CachedInput = &p.CachedInput
	}
	if p.HasCacheWrite {
		v.CacheWrite = &p.CacheWrite
	}
	if p.HasCacheWrite1h {
		v.CacheWrite1h = &p.CacheWrite1h
	}
	if p.PerImage > 0 {
		v.PerImage = &p.PerImage
	}
	return v
}

// MarshalJSON writes the price with absent rates as null.
func (p Price) MarshalJSON() ([]byte, error) { return json.Marshal(p.jsonView()) }

// PriceTier is a set of rates that applies above a number of input tokens.
type PriceTier struct {
	AboveInputTokens int64    `json:"aboveInputTokens"`
	Input            MicroUSD `json:"input"`
	Output           MicroUSD `json:"output"`
	CachedInput      MicroUSD `json:"cachedInput"`
	CacheWrite       MicroUSD `json:"cacheWrite"`
	CacheWrite1h     MicroUSD `json:"cacheWrite1h"`
}

// tokenRates are the per-million rates a request is charged at.
type tokenRates struct {
	Input, Output, Cached, CacheWrite, CacheWrite1h MicroUSD
	hasCached, hasCacheWrite, hasCacheWrite1h       bool
}

func (r tokenRates) cached() MicroUSD {
	if r.hasCached {
		return r.Cached
	}
	return r.Input
}

func (r tokenRates) cacheWrite() MicroUSD {
	if r.hasCacheWrite {
		return r.CacheWrite
	}
	return r.Input
}

func (r tokenRates) cacheWrite1h() MicroUSD {
	if r.hasCacheWrite1h {
		return r.CacheWrite1h
	}
	return r.cacheWrite()
}

// rates are p's token rates for a request of inputTokens.
func (p Price) rates(inputTokens int64) tokenRates {
	r := tokenRates{p.Input, p.Output, p.CachedInput, p.CacheWrite, p.CacheWrite1h, p.HasCached, p.HasCacheWrite, p.HasCacheWrite1h}
	if t := p.LongContext; t != nil && inputTokens > t.AboveInputTokens {
		r.Input, r.Output = t.Input, t.Output
		if r.hasCached {
			r.Cached = t.CachedInput
		}
		if r.hasCacheWrite {
			r.CacheWrite = t.CacheWrite
		}
		if r.hasCacheWrite1h {
			r.CacheWrite1h = t.CacheWrite1h
		}
	}
	return r
}

// imagePrice is the price of one image of the given size and quality: the matching variant (the
// request's missing parts taken from ImageDefault), else the dearest variant, else PerImage.
func (p Price) imagePrice(size, quality string) MicroUSD {
	if len(p.ImageVariants) == 0 {
		return p.PerImage
	}
	defQuality, defSize, _ := strings.Cut(p.ImageDefault, " ")
	if defSize == "" { // a default of just a size
		defQuality, defSize = "", defQuality
	}
	if size == "" || size == "auto" {
		size = defSize
	}
	if quality == "" || quality == "auto" {
		quality = defQuality
	}
	for _, k := range []string{quality + " " + size, size} {
		if v, ok := p.ImageVariants[strings.TrimSpace(k)]; ok {
			return v
		}
	}
	var dearest MicroUSD
	for _, v := range p.ImageVariants {
		dearest = max(dearest, v)
	}
	return dearest
}

//go:embed pricetable.json
var priceTableJSON []byte

// priceRow is a table row as written in pricetable.json: prices as USD decimal text.
type priceRow struct {
	Model, Input, Output, CachedInput, CacheWrite, CacheWrite1h, PerImage string
	ImageVariants                                                         map[string]string
	ImageDefault                                                          string
	LongContext                                                           *struct {
		AboveInputTokens                                     int64
		Input, Output, CachedInput, CacheWrite, CacheWrite1h string
	}
	MaxOutput, ContextWindow int64
	Source, AsOf, Note       string
}

type priceTableFile struct {
	AsOf string
	Note string
	Rows []priceRow
}

var shippedPrices = mustParsePriceTable(priceTableJSON)

// ShippedPrices is the price table shipped with this build, by model id.
func ShippedPrices() map[string]Price { return shippedPrices }

func mustParsePriceTable(b []byte) map[string]Price {
	m, err := parsePriceTable(b)
	if err != nil {
		panic(err)
	}
	return m
}

func parsePriceTable(b []byte) (map[string]Price, error) {
	var f priceTableFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("price table: %w", err)
	}
	out := make(map[string]Price, len(f.Rows))
	for _, r := range f.Rows {
		p, err := r.price()
		if err != nil {
			return nil, fmt.Errorf("price table, %s: %w", r.Model, err)
		}
		if _, dup := out[p.Model]; dup || p.Model == "" || p.Source == "" || p.AsOf == "" {
			return nil, fmt.Errorf("price table, %q: duplicate, or no model, source or date", r.Model)
		}
		out[p.Model] = p
	}
	return out, nil
}

func (r priceRow) price() (Price, error) {
	var err error
	parse := func(s string) MicroUSD {
		if s == "" {
			return 0
		}
		v, ok := ParseMicroUSD(s)
		if !ok && err == nil {
			err = fmt.Errorf("bad price %q", s)
		}
		return v
	}
	p := Price{Model: r.Model, Input: parse(r.Input), Output: parse(r.Output), CachedInput: parse(r.CachedInput),
		HasCached: r.CachedInput != "", CacheWrite: parse(r.CacheWrite), HasCacheWrite: r.CacheWrite != "",
		CacheWrite1h: parse(r.CacheWrite1h), HasCacheWrite1h: r.CacheWrite1h != "",
		PerImage: parse(r.PerImage), ImageDefault: r.ImageDefault, MaxOutput: r.MaxOutput, ContextWindow: r.ContextWindow,
		Source: r.Source, AsOf: r.AsOf, Note: r.Note}
	if len(r.ImageVariants) > 0 {
		p.ImageVariants = map[string]MicroUSD{}
		for k, v := range r.ImageVariants {
			p.ImageVariants[k] = parse(v)
		}
	}
	if lc := r.LongContext; lc != nil {
		p.LongContext = &PriceTier{AboveInputTokens: lc.AboveInputTokens, Input: parse(lc.Input),
			Output: parse(lc.Output), CachedInput: parse(lc.CachedInput), CacheWrite: parse(lc.CacheWrite),
			CacheWrite1h: parse(lc.CacheWrite1h)}
	}
	return p, err
}

// ShippedPriceModels lists the shipped table's model ids, sorted.
func ShippedPriceModels() []string {
	ids := make([]string, 0, len(shippedPrices))
	for id := range shippedPrices {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
