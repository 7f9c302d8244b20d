package db

import (
	"context"
	"strings"
	"sync"
)

// A charge group writes many rows of the same shape at once. One statement per row costs a
// bind, a step and a reset each through database/sql; one statement per chunk of rows costs
// them once. Chunks are powers of two up to maxChunk, so only a handful of statement texts
// (each prepared once) exist per shape.
const maxChunk = 64

// manyText builds (and remembers) a statement whose VALUES list holds n rows of one
// placeholder tuple.
type manyText struct {
	head, tuple, tail string
	// pgTuple, if set, is tuple for PostgreSQL, which types a VALUES list in an UPDATE's FROM
	// by its first row: bare parameters there would be text.
	pgTuple string
	mu      sync.Mutex
	texts   map[int]string
}

func (m *manyText) text(n int) string { return m.build(n, false) }

func (m *manyText) textFor(c *Conn, n int) string { return m.build(n, c.pg) }

func (m *manyText) build(n int, pg bool) string {
	key := n
	if pg {
		key = -n
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.texts[key]; ok {
		return t
	}
	var b strings.Builder
	b.WriteString(m.head)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		if pg && m.pgTuple != "" {
			b.WriteString(m.pgTuple)
		} else {
			b.WriteString(m.tuple)
		}
	}
	b.WriteString(m.tail)
	if m.texts == nil {
		m.texts = map[int]string{}
	}
	m.texts[key] = b.String()
	return m.texts[key]
}

// execMany runs m over rows in power-of-two chunks; args appends one row's arguments.
func execMany[T any](ctx context.Context, c *Conn, m *manyText, rows []T, args func([]any, *T) []any) error {
	var buf []any
	for len(rows) > 0 {
		n := maxChunk
		for n > len(rows) {
			n /= 2
		}
		buf = buf[:0]
		for i := range rows[:n] {
			buf = args(buf, &rows[i])
		}
		if _, err := c.exec(ctx, m.textFor(c, n), buf...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

var addDailyMany = &manyText{
	head: `INSERT INTO usage_daily(user_id, day, app_id, model, provider, usage_type, project, modality, delegation_id,
		requests, credits, tokens, c_subscription, c_addon, c_event, c_debt) VALUES `,
	tuple: `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	tail:  addDailyUpsert,
}

// AddDailyMany adds each delta to its rollup row. The deltas must have distinct keys: one
// statement cannot update the row it inserted.
func (c *Conn) AddDailyMany(ctx context.Context, ds []DailyDelta) error {
	return execMany(ctx, c, addDailyMany, ds, func(a []any, d *DailyDelta) []any {
		return append(a, d.UserID, d.Day, d.AppID, d.Model, d.Provider, d.UsageType, d.Project, d.Modality, d.DelegationID,
			d.Requests, d.Credits, d.Tokens, d.Kinds.Subscription, d.Kinds.Addon, d.Kinds.Event, d.Kinds.Debt)
	})
}

var insertLedgerMany = &manyText{
	head:  `INSERT INTO ledger(user_id, at, action, amount, bucket_id, kind, usage_id, balance_after, note) VALUES `,
	tuple: `(?, ?, ?, ?, ?, ?, ?, ?, ?)`,
}

// InsertLedgerMany appends ledger rows in order.
func (c *Conn) InsertLedgerMany(ctx context.Context, rs []LedgerRow) error {
	return execMany(ctx, c, insertLedgerMany, rs, func(a []any, r *LedgerRow) []any {
		return append(a, r.UserID, r.At, r.Action, r.Amount, r.BucketID, r.Kind, r.UsageID, r.BalanceAfter, r.Note)
	})
}

// Remaining is a bucket's new remainder.
type Remaining struct{ BucketID, Remaining int64 }

var setRemainingMany = &manyText{
	head:    `UPDATE buckets SET remaining = v.column2 FROM (VALUES `,
	tuple:   `(?, ?)`,
	pgTuple: `(?::bigint, ?::bigint)`,
	tail:    `) AS v WHERE buckets.id = v.column1`,
}

// SetBucketsRemaining stores several buckets' remainders.
func (c *Conn) SetBucketsRemaining(ctx context.Context, rs []Remaining) error {
	return execMany(ctx, c, setRemainingMany, rs, func(a []any, r *Remaining) []any {
		return append(a, r.BucketID, r.Remaining)
	})
}

// Money is a member's running balance and debt.
type Money struct{ UserID, Balance, Debt int64 }

var setMoneyMany = &manyText{
	head:    `UPDATE users SET balance = v.column2, debt = v.column3 FROM (VALUES `,
	tuple:   `(?, ?, ?)`,
	pgTuple: `(?::bigint, ?::bigint, ?::bigint)`,
	tail:    `) AS v WHERE users.id = v.column1`,
}

// SetMoneyMany stores several members' balances and debts.
func (c *Conn) SetMoneyMany(ctx context.Context, ms []Money) error {
	return execMany(ctx, c, setMoneyMany, ms, func(a []any, m *Money) []any {
		return append(a, m.UserID, m.Balance, m.Debt)
	})
}
