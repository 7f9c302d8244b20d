package db

import (
	"context"
	"database/sql"
)

// GatewayMeter is what a gateway request adds to its usage event: the metered cache and
// reasoning tokens, how its cost is known, and the prices it was charged at (micro-USD per
// million tokens; per image). Zero for reported usage.
type GatewayMeter struct {
	CachedInputTokens int64
	CacheWriteTokens  int64
	ReasoningTokens   int64
	Estimated         bool // the stream was cut before the provider's usage arrived
	OverHold          bool // the provider reported more than was held; the excess was charged as usage
	PriceInput        sql.NullInt64
	PriceOutput       sql.NullInt64
	PriceCached       sql.NullInt64
	PriceCacheWrite   sql.NullInt64
	PricePerImage     sql.NullInt64
}

// HoldPart is the share of a hold set aside on one source.
type HoldPart struct {
	HoldID       int64
	UserID       int64 // whose request holds it
	PayerID      int64
	DelegationID int64 // 0: the member's own credits
	Credits      int64
	ExpiresAt    int64
}

// InsertHold stores a hold and its parts.
func (c *Conn) InsertHold(ctx context.Context, userID, credits, at, expires int64, parts []HoldPart) (int64, error) {
	id, err := c.insertID(ctx, `INSERT INTO holds(user_id, credits, created_at, expires_at) VALUES (?, ?, ?, ?)`, userID, credits, at, expires)
	if err != nil {
		return 0, err
	}
	for _, p := range parts {
		if _, err := c.exec(ctx, `INSERT INTO hold_parts(hold_id, payer_id, delegation_id, credits) VALUES (?, ?, ?, ?)`,
			id, p.PayerID, p.DelegationID, p.Credits); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// DeleteHold drops a hold (its parts go with it); false when there was none.
func (c *Conn) DeleteHold(ctx context.Context, id int64) (bool, error) {
	res, err := c.exec(ctx, `DELETE FROM holds WHERE id = ?`, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// DeleteAllHolds drops every hold: at start, any hold belongs to a process that is gone.
func (c *Conn) DeleteAllHolds(ctx context.Context) error {
	_, err := c.exec(ctx, `DELETE FROM holds`)
	return err
}

// HoldParts lists every part of every hold.
func (c *Conn) HoldParts(ctx context.Context) ([]HoldPart, error) {
	rows, err := c.query(ctx, `SELECT h.id, h.user_id, p.payer_id, p.delegation_id, p.credits, h.expires_at
		FROM holds h JOIN hold_parts p ON p.hold_id = h.id ORDER BY h.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []HoldPart
	for rows.Next() {
		var p HoldPart
		if err := rows.Scan(&p.HoldID, &p.UserID, &p.PayerID, &p.DelegationID, &p.Credits, &p.ExpiresAt); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// ExpiredHolds lists the holds whose expiry has passed.
func (c *Conn) ExpiredHolds(ctx context.Context, now int64) ([]int64, error) {
	return c.ids(ctx, `SELECT id FROM holds WHERE expires_at <= ?`, now)
}

// UsageSource is one source's share of a split charge.
type UsageSource struct {
	UsageID      int64
	DelegationID int64 // 0: the member's own credits
	PayerID      int64
	Credits      int64
}

func (c *Conn) InsertUsageSources(ctx context.Context, rows []UsageSource) error {
	for _, r := range rows {
		if _, err := c.exec(ctx, `INSERT INTO usage_sources(usage_id, delegation_id, payer_id, credits) VALUES (?, ?, ?, ?)`,
			r.UsageID, r.DelegationID, r.PayerID, r.Credits); err != nil {
			return err
		}
	}
	return nil
}

// UsageSources lists the shares of a split charge; none for a charge with one source.
func (c *Conn) UsageSources(ctx context.Context, usageID int64) ([]UsageSource, error) {
	rows, err := c.query(ctx, `SELECT usage_id, delegation_id, payer_id, credits FROM usage_sources WHERE usage_id = ? ORDER BY `+sourcesOrder(c), usageID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []UsageSource
	for rows.Next() {
		var r UsageSource
		if err := rows.Scan(&r.UsageID, &r.DelegationID, &r.PayerID, &r.Credits); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// sourcesOrder is the column that keeps a split charge's sources in the order they paid.
func sourcesOrder(c *Conn) string {
	if c.pg {
		return "seq"
	}
	return "rowid"
}
