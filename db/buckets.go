package db

import (
	"context"
	"database/sql"
	"errors"
)

// Bucket is one grant of credits with its own credit-in time and expiry.
type Bucket struct {
	ID        int64
	UserID    int64
	Kind      string
	Granted   int64
	Remaining int64
	GrantedAt int64
	ExpiresAt sql.NullInt64
	Cycle     sql.NullInt64
	Note      string
}

const bucketCols = `id, user_id, kind, granted, remaining, granted_at, expires_at, cycle, note`

func scanBucket(row interface{ Scan(...any) error }) (Bucket, error) {
	var b Bucket
	err := row.Scan(&b.ID, &b.UserID, &b.Kind, &b.Granted, &b.Remaining, &b.GrantedAt, &b.ExpiresAt, &b.Cycle, &b.Note)
	if errors.Is(err, sql.ErrNoRows) {
		return b, ErrNotFound
	}
	return b, err
}

func (c *Conn) buckets(ctx context.Context, query string, args ...any) ([]Bucket, error) {
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Bucket
	for rows.Next() {
		b, err := scanBucket(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// BucketsWithCredits returns a member's buckets that still hold credits, expired or not,
// in deduction order: event (soonest expiry, then oldest), subscription, addon (oldest first).
// deductionOrder is the order a member's buckets pay in.
const deductionOrder = `CASE kind WHEN 'event' THEN 0 WHEN 'subscription' THEN 1 ELSE 2 END,
		expires_at IS NULL, expires_at, granted_at, id`

func (c *Conn) BucketsWithCredits(ctx context.Context, userID int64) ([]Bucket, error) {
	return c.buckets(ctx, `SELECT `+bucketCols+` FROM buckets WHERE user_id = ? AND remaining > 0 ORDER BY `+deductionOrder, userID)
}

func (c *Conn) BucketByID(ctx context.Context, id int64) (Bucket, error) {
	return scanBucket(c.queryRow(ctx, `SELECT `+bucketCols+` FROM buckets WHERE id = ?`, id))
}

// BucketsInCycle returns a member's subscription buckets of one cycle.
func (c *Conn) BucketsInCycle(ctx context.Context, userID, cycle int64) ([]Bucket, error) {
	return c.buckets(ctx, `SELECT `+bucketCols+` FROM buckets WHERE user_id = ? AND kind = 'subscription' AND cycle = ? ORDER BY id`, userID, cycle)
}

// UsersWithExpiredCredits lists members holding credits in buckets expired at or before now.
func (c *Conn) UsersWithExpiredCredits(ctx context.Context, now int64) ([]int64, error) {
	return c.ids(ctx, `SELECT DISTINCT user_id FROM buckets WHERE remaining > 0 AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY user_id`, now)
}

func (c *Conn) InsertBucket(ctx context.Context, b Bucket) (int64, error) {
	return c.insertID(ctx, `INSERT INTO buckets(user_id, kind, granted, remaining, granted_at, expires_at, cycle, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		b.UserID, b.Kind, b.Granted, b.Remaining, b.GrantedAt, b.ExpiresAt, b.Cycle, b.Note)
}

func (c *Conn) SetBucketRemaining(ctx context.Context, id, remaining int64) error {
	_, err := c.exec(ctx, `UPDATE buckets SET remaining = ? WHERE id = ?`, remaining, id)
	return err
}

func (c *Conn) SetBucketAmounts(ctx context.Context, id, granted, remaining int64) error {
	_, err := c.exec(ctx, `UPDATE buckets SET granted = ?, remaining = ? WHERE id = ?`, granted, remaining, id)
	return err
}

// SumRemaining is the sum of remainders of all of a member's buckets (used by invariant checks).
func (c *Conn) SumRemaining(ctx context.Context, userID int64) (int64, error) {
	var n int64
	err := c.queryRow(ctx, `SELECT coalesce(sum(remaining), 0) FROM buckets WHERE user_id = ?`, userID).Scan(&n)
	return n, err
}

// CycleGranted tells whether the refresh job already granted this member's cycle.
func (c *Conn) CycleGranted(ctx context.Context, userID, cycle int64) (bool, error) {
	var n int
	err := c.queryRow(ctx, `SELECT count(*) FROM cycle_grants WHERE user_id = ? AND cycle = ?`, userID, cycle).Scan(&n)
	return n > 0, err
}

func (c *Conn) InsertCycleGrant(ctx context.Context, userID, cycle int64, bucketID sql.NullInt64, at int64) error {
	_, err := c.exec(ctx, `INSERT INTO cycle_grants(user_id, cycle, bucket_id, at) VALUES (?, ?, ?, ?)`, userID, cycle, bucketID, at)
	return err
}
