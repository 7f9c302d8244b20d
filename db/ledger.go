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
	return c.insertID(ctx, `INSERT INTO ledger(user_id, at, action, amount, bucket_id, kind, usage_id, balance_after, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.UserID, r.At, r.Action, r.Amount, r.BucketID, r.Kind, r.UsageID, r.BalanceAfter, r.Note)
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
	err := c.queryRow(ctx, `SELECT balance_after FROM ledger WHERE user_id = ? AND (at, id) < (?, ?) ORDER BY at DESC, id DESC LIMIT 1`,
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

// LedgerEntry is a ledger row as a ledger page shows it: for a row that brought credits into
// a bucket (a grant, top-up, refresh or refund), RepaidDebt is what that bucket paid towards
// the member's debt in the same movement (the "repays debt" row right after it).
type LedgerEntry struct {
	LedgerRow
	RepaidDebt int64
}

// LedgerPageQuery selects one page of a member's ledger: rows with From <= at < To after the
// keyset position After (at, id), oldest first; Limit 0 means all of them.
type LedgerPageQuery struct {
	UserID   int64
	From, To int64
	After    *Cursor
	Limit    int
}

// A debt repayment is a zero-sum pair of "debt" rows without a usage event: the bucket's
// "repays debt" row and the debt's "debt repaid" row. repaymentLeg matches both.
const repaymentLeg = `action = 'debt' AND usage_id IS NULL`

// repaidBy is what the bucket of the credit-in row l repaid in the same movement: the
// bucket's repayment rows after l at l's time, up to the bucket's next credit-in row.
const repaidBy = `CASE WHEN l.amount > 0 AND l.bucket_id IS NOT NULL AND l.action <> 'debt' THEN (
	SELECT coalesce(-sum(d.amount), 0) FROM ledger d
	WHERE d.user_id = l.user_id AND d.at = l.at AND d.id > l.id AND d.bucket_id = l.bucket_id
	  AND d.action = 'debt' AND d.usage_id IS NULL AND d.amount < 0
	  AND NOT EXISTS (SELECT 1 FROM ledger m WHERE m.user_id = l.user_id AND m.at = l.at
	    AND m.id > l.id AND m.id < d.id AND m.bucket_id = l.bucket_id AND m.amount > 0 AND m.action <> 'debt')
) ELSE 0 END`

// LedgerPage returns one page of a member's ledger (see LedgerPageQuery).
func (c *Conn) LedgerPage(ctx context.Context, q LedgerPageQuery) ([]LedgerEntry, error) {
	query := `SELECT l.id, l.user_id, l.at, l.action, l.amount, l.bucket_id, l.kind, l.usage_id, l.balance_after, l.note, ` + repaidBy + `
		FROM ledger l WHERE l.user_id = ? AND l.at >= ? AND l.at < ?`
	args := []any{q.UserID, q.From, q.To}
	if q.After != nil {
		query += ` AND (l.at, l.id) > (?, ?)`
		args = append(args, q.After.Value, q.After.ID)
	}
	query += ` ORDER BY l.at, l.id`
	if q.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, q.Limit)
	}
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []LedgerEntry
	for rows.Next() {
		var r LedgerEntry
		if err := rows.Scan(&r.ID, &r.UserID, &r.At, &r.Action, &r.Amount, &r.BucketID, &r.Kind, &r.UsageID, &r.BalanceAfter, &r.Note, &r.RepaidDebt); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// LedgerTotals returns what came into and went out of a member's credits with from <= at <
// to. A debt repayment moves credits from a bucket to the debt inside the member's wallet, so
// neither of its rows counts: in + out is still the sum of all the rows.
func (c *Conn) LedgerTotals(ctx context.Context, userID, from, to int64) (in, out int64, err error) {
	err = c.queryRow(ctx, `SELECT coalesce(sum(CASE WHEN amount > 0 THEN amount END), 0), coalesce(sum(CASE WHEN amount < 0 THEN amount END), 0)
		FROM ledger WHERE user_id = ? AND at >= ? AND at < ? AND NOT (`+repaymentLeg+`)`, userID, from, to).Scan(&in, &out)
	return in, out, err
}
