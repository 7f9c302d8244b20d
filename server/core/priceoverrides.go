package core

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sort"
	"strings"

	"tokenjar/db"
)

// PriceInput is an admin's price for a model, in USD per million tokens (PerImage: per image), as
// decimal text; nil optional rates are "no such rate".
type PriceInput struct {
	Input, Output                                   string
	CachedInput, CacheWrite, CacheWrite1h, PerImage *string
}

// PriceView is one model's price as the admin's price table shows it: what applies, where it comes
// from, and the shipped default beside an override.
type PriceView struct {
	Price
	From    PriceSource
	Default *Price
}

// MarshalJSON writes the price's fields with "from" and "default" beside them.
func (v PriceView) MarshalJSON() ([]byte, error) {
	type view struct {
		priceJSON
		From    PriceSource `json:"from"`
		Default *Price      `json:"default,omitempty"`
	}
	return json.Marshal(view{v.Price.jsonView(), v.From, v.Default})
}

func parsePriceField(field, s string) (MicroUSD, error) {
	v, ok := ParseMicroUSD(strings.TrimSpace(s))
	if !ok {
		return 0, Invalid(field, "%s must be a USD amount ≥ 0 with at most 6 decimals", field)
	}
	return v, nil
}

func parseOptionalPrice(field string, s *string) (sql.NullInt64, error) {
	if s == nil {
		return sql.NullInt64{}, nil
	}
	v, err := parsePriceField(field, *s)
	return sql.NullInt64{Int64: int64(v), Valid: err == nil}, err
}

// priceOverrideRow checks in and turns it into a row.
func priceOverrideRow(model string, in PriceInput) (db.PriceOverride, error) {
	row := db.PriceOverride{Model: strings.ToLower(strings.TrimSpace(model))}
	if row.Model == "" || len(row.Model) > 200 {
		return row, Invalid("model", "model must be 1 to 200 characters")
	}
	var err error
	req := func(field, v string, dst *int64) {
		if err == nil {
			var m MicroUSD
			m, err = parsePriceField(field, v)
			*dst = int64(m)
		}
	}
	opt := func(field string, v *string, dst *sql.NullInt64) {
		if err == nil {
			*dst, err = parseOptionalPrice(field, v)
		}
	}
	req("input", in.Input, &row.Input)
	req("output", in.Output, &row.Output)
	opt("cachedInput", in.CachedInput, &row.CachedInput)
	opt("cacheWrite", in.CacheWrite, &row.CacheWrite)
	opt("cacheWrite1h", in.CacheWrite1h, &row.CacheWrite1h)
	opt("perImage", in.PerImage, &row.PerImage)
	return row, err
}

func overridePrice(o db.PriceOverride) Price {
	return Price{Model: o.Model, Input: MicroUSD(o.Input), Output: MicroUSD(o.Output),
		CachedInput: MicroUSD(o.CachedInput.Int64), HasCached: o.CachedInput.Valid,
		CacheWrite: MicroUSD(o.CacheWrite.Int64), HasCacheWrite: o.CacheWrite.Valid,
		CacheWrite1h: MicroUSD(o.CacheWrite1h.Int64), HasCacheWrite1h: o.CacheWrite1h.Valid,
		PerImage: MicroUSD(o.PerImage.Int64), Source: "admin", AsOf: fromMS(o.UpdatedAt).Format("2006-01-02")}
}

// SetPrice sets an admin's price for model (admins only). It overrides the shipped table for that id
// (and its dated variants) and survives updates of the table.
func (s *Service) SetPrice(ctx context.Context, p Principal, model string, in PriceInput) (PriceView, error) {
	defer s.changed(cacheGateway) // after the change has committed
	if err := p.requireAdmin(); err != nil {
		return PriceView{}, err
	}
	row, err := priceOverrideRow(model, in)
	if err != nil {
		return PriceView{}, err
	}
	row.UpdatedAt, row.UpdatedBy = ms(s.clock.Now()), sql.NullInt64{Int64: p.UserID, Valid: true}
	err = s.db.Update(ctx, func(c *db.Conn) error {
		if err := c.PutPriceOverride(ctx, row); err != nil {
			return err
		}
		return s.auditTx(ctx, c, p.UserID, "price_set", row.Model, p.IP, "")
	})
	v := PriceView{Price: overridePrice(row), From: PriceFromOverride}
	if d, ok := shippedPrices[row.Model]; ok {
		v.Default = &d
	}
	return v, err
}

// DeletePrice returns model to the shipped table's price (admins only).
func (s *Service) DeletePrice(ctx context.Context, p Principal, model string) error {
	defer s.changed(cacheGateway) // after the change has committed
	if err := p.requireAdmin(); err != nil {
		return err
	}
	m := strings.ToLower(strings.TrimSpace(model))
	err := s.db.Update(ctx, func(c *db.Conn) error {
		if err := c.DeletePriceOverride(ctx, m); err != nil {
			return err
		}
		return s.auditTx(ctx, c, p.UserID, "price_reset", m, p.IP, "")
	})
	if errors.Is(err, db.ErrNotFound) {
		return Errorf(ENOTFOUND, "%s has no price of its own", m)
	}
	return err
}

// loadPriceBook reads the admins' overrides over the shipped table (see PriceBook).
func (s *Service) loadPriceBook(ctx context.Context) (*PriceBook, error) {
	rows, err := s.db.Read().ListPriceOverrides(ctx)
	if err != nil {
		return nil, err
	}
	over := make([]Price, 0, len(rows))
	for _, r := range rows {
		over = append(over, overridePrice(r))
	}
	return NewPriceBook(over), nil
}

// Prices lists every priced model, shipped and overridden, by model id (admins only).
func (s *Service) Prices(ctx context.Context, p Principal) ([]PriceView, error) {
	if err := p.requireAdmin(); err != nil {
		return nil, err
	}
	rows, err := s.db.Read().ListPriceOverrides(ctx)
	if err != nil {
		return nil, err
	}
	byModel := map[string]PriceView{}
	for id, pr := range shippedPrices {
		byModel[id] = PriceView{Price: pr, From: PriceFromTable}
	}
	for _, r := range rows {
		v := PriceView{Price: overridePrice(r), From: PriceFromOverride}
		if d, ok := shippedPrices[r.Model]; ok {
			v.Default = &d
		}
		byModel[r.Model] = v
	}
	out := make([]PriceView, 0, len(byModel))
	for _, v := range byModel {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Model < out[j].Model })
	return out, nil
}
