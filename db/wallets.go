package db

import (
	"context"
	"strings"
)

// The charge path on PostgreSQL reads the wallets of a whole group at once: there each
// statement is a round trip to the database server, and a wallet read one member at a time
// cost two of them per report.

// UsersByIDs returns the members with these ids, in id order.
func (c *Conn) UsersByIDs(ctx context.Context, ids []int64) ([]User, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return c.users(ctx, `SELECT `+userCols+` FROM users WHERE id IN (`+placeholders(len(ids))+`) ORDER BY id`, int64Args(ids)...)
}

// BucketsWithCreditsOf returns the buckets holding credits of these members: grouped by
// member, each member's in the order BucketsWithCredits gives.
func (c *Conn) BucketsWithCreditsOf(ctx context.Context, userIDs []int64) ([]Bucket, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	return c.buckets(ctx, `SELECT `+bucketCols+` FROM buckets WHERE user_id IN (`+placeholders(len(userIDs))+`) AND remaining > 0
		ORDER BY user_id, `+deductionOrder, int64Args(userIDs)...)
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func int64Args(ids []int64) []any {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return args
}
