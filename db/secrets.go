package db

import (
	"context"
	"database/sql"
	"errors"
)

// SettingOnce stores value under key unless a value is stored there already, and returns the
// stored one: value, or what another replica stored first. Replicas that start together so
// agree on one value.
func (c *Conn) SettingOnce(ctx context.Context, key, value string) (string, error) {
	if _, err := c.exec(ctx, `INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
		return "", err
	}
	return c.Setting(ctx, key)
}

// Setting reads one setting; ErrNotFound when none is stored.
func (c *Conn) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := c.queryRow(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return v, err
}
