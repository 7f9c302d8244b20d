package db

import (
	"context"
	"database/sql"
	"errors"
)

// Provider is an AI provider the gateway forwards to. APIKeyEnc is the sealed key (see core's
// KeyBox); this package never sees a key in clear.
type Provider struct {
	ID           int64
	Name         string
	Kind         string
	BaseURL      string
	APIKeyEnc    []byte
	Models       string // JSON array
	Free         bool
	IncludeUsage bool
	TimeoutMS    int64
	CreatedAt    int64
	UpdatedAt    int64
}

const providerCols = `id, name, kind, base_url, api_key_enc, models, free, include_usage, timeout_ms, created_at, updated_at`

func scanProvider(row interface{ Scan(...any) error }) (Provider, error) {
	var p Provider
	err := row.Scan(&p.ID, &p.Name, &p.Kind, &p.BaseURL, &p.APIKeyEnc, &p.Models, &p.Free, &p.IncludeUsage,
		&p.TimeoutMS, &p.CreatedAt, &p.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return p, ErrNotFound
	}
	return p, err
}

// InsertProvider stores a new provider and returns its id.
func (c *Conn) InsertProvider(ctx context.Context, p Provider) (int64, error) {
	return c.insertID(ctx, `INSERT INTO providers(name, kind, base_url, api_key_enc, models, free, include_usage, timeout_ms, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.Name, p.Kind, p.BaseURL, p.APIKeyEnc, p.Models, p.Free, p.IncludeUsage, p.TimeoutMS, p.CreatedAt, p.UpdatedAt)
}

// UpdateProvider writes every field of p but its id and creation time.
func (c *Conn) UpdateProvider(ctx context.Context, p Provider) error {
	res, err := c.exec(ctx, `UPDATE providers SET name = ?, kind = ?, base_url = ?, api_key_enc = ?, models = ?, free = ?,
		include_usage = ?, timeout_ms = ?, updated_at = ? WHERE id = ?`,
		p.Name, p.Kind, p.BaseURL, p.APIKeyEnc, p.Models, p.Free, p.IncludeUsage, p.TimeoutMS, p.UpdatedAt, p.ID)
	return gatewayOneRow(res, err)
}

// DeleteProvider removes a provider.
func (c *Conn) DeleteProvider(ctx context.Context, id int64) error {
	res, err := c.exec(ctx, `DELETE FROM providers WHERE id = ?`, id)
	return gatewayOneRow(res, err)
}

// ProviderByID finds a provider.
func (c *Conn) ProviderByID(ctx context.Context, id int64) (Provider, error) {
	return scanProvider(c.queryRow(ctx, `SELECT `+providerCols+` FROM providers WHERE id = ?`, id))
}

// ProviderByName finds a provider by its (case-insensitive) name.
func (c *Conn) ProviderByName(ctx context.Context, name string) (Provider, error) {
	return scanProvider(c.queryRow(ctx, `SELECT `+providerCols+` FROM providers WHERE name = ?`, name))
}

// ListProviders lists every provider by name.
func (c *Conn) ListProviders(ctx context.Context) ([]Provider, error) {
	rows, err := c.query(ctx, `SELECT `+providerCols+` FROM providers ORDER BY name, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Provider
	for rows.Next() {
		p, err := scanProvider(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// gatewayOneRow turns an update or delete that touched no row into ErrNotFound.
func gatewayOneRow(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		return ErrNotFound
	}
	return err
}
