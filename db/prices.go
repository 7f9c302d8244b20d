package db

import (
	"context"
	"database/sql"
)

// PriceOverride is an admin's price for a model, in micro-USD per million tokens (per image for
// PerImage); an invalid NullInt64 is "no such rate".
type PriceOverride struct {
	Model        string
	Input        int64
	Output       int64
	CachedInput  sql.NullInt64
	CacheWrite   sql.NullInt64
	CacheWrite1h sql.NullInt64
	PerImage     sql.NullInt64
	UpdatedAt    int64
	UpdatedBy    sql.NullInt64
}

// PutPriceOverride sets (or replaces) the override of p.Model.
func (c *Conn) PutPriceOverride(ctx context.Context, p PriceOverride) error {
	_, err := c.exec(ctx, `INSERT INTO price_overrides(model, input_micro, output_micro, cached_input_micro, cache_write_micro, cache_write_1h_micro, per_image_micro, updated_at, updated_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(model) DO UPDATE SET input_micro = excluded.input_micro, output_micro = excluded.output_micro,
			cached_input_micro = excluded.cached_input_micro, cache_write_micro = excluded.cache_write_micro, cache_write_1h_micro = excluded.cache_write_1h_micro,
			per_image_micro = excluded.per_image_micro, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
		p.Model, p.Input, p.Output, p.CachedInput, p.CacheWrite, p.CacheWrite1h, p.PerImage, p.UpdatedAt, p.UpdatedBy)
	return err
}

// DeletePriceOverride returns model to the shipped table's price.
func (c *Conn) DeletePriceOverride(ctx context.Context, model string) error {
	res, err := c.exec(ctx, `DELETE FROM price_overrides WHERE model = ?`, model)
	return gatewayOneRow(res, err)
}

// ListPriceOverrides lists every override by model.
func (c *Conn) ListPriceOverrides(ctx context.Context) ([]PriceOverride, error) {
	rows, err := c.query(ctx, `SELECT model, input_micro, output_micro, cached_input_micro, cache_write_micro, cache_write_1h_micro, per_image_micro, updated_at, updated_by
		FROM price_overrides ORDER BY model`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PriceOverride
	for rows.Next() {
		var p PriceOverride
		if err := rows.Scan(&p.Model, &p.Input, &p.Output, &p.CachedInput, &p.CacheWrite, &p.CacheWrite1h, &p.PerImage, &p.UpdatedAt, &p.UpdatedBy); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
