package db

import (
	"context"
	"database/sql"
	"errors"
)

// LedgerRow is one append-only movement of credits.
type LedgerRow struct {
	ID           int64
	UserID       int64
	At           int64
	Action       string
	Amount       int64
	BucketID     sql.NullInt64
	Kind         string
	UsageID      sql.NullInt64
	BalanceAfter int64
	Note         string
}

const ledgerCols = `id, user_id, at, action, amount, bucket_id, kind, usage_id, balance_after, note`

func (c *Conn) InsertLedger(ctx context.Context, r LedgerRow) (int64, error) {
	res, err := c.exec(ctx, `INSERT INTO ledger(user_id, at, action, amount, bucket_id, kind, usage_id, balance_after, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.UserID, r.At, r.Action, r.Amount, r.BucketID, r.Kind, r.UsageID, r.BalanceAfter, r.Note)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func (c *Conn) ledger(ctx context.Context, query string, args ...any) ([]LedgerRow, error) {
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []LedgerRow
	for rows.Next() {
		var r LedgerRow
		if err := rows.Scan(&r.ID, &r.UserID, &r.At, &r.Action, &r.Amount, &r.BucketID, &r.Kind, &r.UsageID, &r.BalanceAfter, &r.Note); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// LedgerBetween returns a member's rows with from <= at < to, oldest first.
func (c *Conn) LedgerBetween(ctx context.Context, userID, from, to int64) ([]LedgerRow, error) {
	return c.ledger(ctx, `SELECT `+ledgerCols+` FROM ledger WHERE user_id = ? AND at >= ? AND at < ? ORDER BY at, id`, userID, from, to)
}

// BalanceBefore returns a member's balance just before the ledger position (at, id): the
// balance after their last row before it, or 0 if they had none.
func (c *Conn) BalanceBefore(ctx context.Context, userID, at, id int64) (int64, error) {
	var b int64
	err := c.q.QueryRowContext(ctx, `SELECT balance_after FROM ledger WHERE user_id = ? AND (at, id) < (?, ?) ORDER BY at DESC, id DESC LIMIT 1`,
		userID, at, id).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return b, err
}

// LedgerForUsage returns the rows written for one usage event, in order.
func (c *Conn) LedgerForUsage(ctx context.Context, usageID int64) ([]LedgerRow, error) {
	return c.ledger(ctx, `SELECT `+ledgerCols+` FROM ledger WHERE usage_id = ? ORDER BY id`, usageID)
}

// LedgerSum is the sum of all of a member's ledger rows (used by invariant checks).
func (c *Conn) LedgerSum(ctx context.Context, userID int64) (int64, error) {
	var n int64
	err := c.queryRow(ctx, `SELECT coalesce(sum(amount), 0) FROM ledger WHERE user_id = ?`, userID).Scan(&n)
	return n, err
}
