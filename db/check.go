package db

import (
	"context"
	"database/sql"
	"fmt"
)

// CheckLedger verifies the ledger invariant for every member and bucket and returns one line
// per violation (none means consistent):
//   - each member: sum(ledger) = sum(bucket remainders) - debt = stored balance
//   - each bucket: the sum of its ledger rows equals its remainder
//   - each member's debt equals minus the sum of the ledger rows that move debt
func (c *Conn) CheckLedger(ctx context.Context) ([]string, error) {
	var out []string
	rows, err := c.query(ctx, `SELECT u.id, u.balance, u.debt,
		(SELECT coalesce(sum(amount), 0) FROM ledger WHERE user_id = u.id),
		(SELECT coalesce(sum(remaining), 0) FROM buckets WHERE user_id = u.id),
		(SELECT coalesce(sum(amount), 0) FROM ledger WHERE user_id = u.id AND bucket_id IS NULL)
		FROM users u ORDER BY u.id`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id, balance, debt, ledger, remaining, debtRows int64
		if err := rows.Scan(&id, &balance, &debt, &ledger, &remaining, &debtRows); err != nil {
			rows.Close()
			return nil, err
		}
		if ledger != remaining-debt || balance != ledger {
			out = append(out, fmt.Sprintf("member %d: ledger %d, remaining %d - debt %d = %d, stored balance %d", id, ledger, remaining, debt, remaining-debt, balance))
		}
		if debtRows != -debt {
			out = append(out, fmt.Sprintf("member %d: debt %d but debt rows sum to %d", id, debt, debtRows))
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sums := map[int64]int64{}
	lrows, err := c.query(ctx, `SELECT bucket_id, sum(amount) FROM ledger WHERE bucket_id IS NOT NULL GROUP BY bucket_id`)
	if err != nil {
		return nil, err
	}
	for lrows.Next() {
		var id, sum int64
		if err := lrows.Scan(&id, &sum); err != nil {
			lrows.Close()
			return nil, err
		}
		sums[id] = sum
	}
	lrows.Close()
	if err := lrows.Err(); err != nil {
		return nil, err
	}
	brows, err := c.query(ctx, `SELECT id, remaining FROM buckets ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer brows.Close()
	for brows.Next() {
		var id, remaining int64
		if err := brows.Scan(&id, &remaining); err != nil {
			return nil, err
		}
		if sums[id] != remaining {
			out = append(out, fmt.Sprintf("bucket %d: remaining %d but its ledger rows sum to %d", id, remaining, sums[id]))
		}
	}
	return out, brows.Err()
}

// QueryRowForTest runs one query that returns a single value; tests use it to count rows.
func (c *Conn) QueryRowForTest(ctx context.Context, query string, dest any) error {
	return c.queryRow(ctx, query).Scan(dest)
}

// ExecForTest runs a statement outside the writer, for tests that break the database on
// purpose: on its own connection to the SQLite file (the read pool is query-only), or on the
// PostgreSQL pool.
func (d *DB) ExecForTest(ctx context.Context, query string) error {
	if d.pg != nil {
		_, err := d.pg.pool.ExecContext(ctx, query)
		return err
	}
	conn, err := sql.Open("sqlite", "file:"+d.Path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.ExecContext(ctx, query)
	return err
}

// QueryRowsForTest runs one query and hands each row to fn as the driver gives it (the slice is
// reused: copy what you keep); tests use it to compare tables across engines.
func (c *Conn) QueryRowsForTest(ctx context.Context, query string, fn func(row []any)) error {
	rows, err := c.query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		fn(vals)
	}
	return rows.Err()
}
