package db

import "context"

// MemberModelRow is one member's usage of one model over a range, from the per-day rollups,
// split by who paid: the member's own credits, or an allowance they receive.
type MemberModelRow struct {
	UserID      int64
	Model       string
	ByAllowance bool
	Requests    int64
	Credits     int64
	Tokens      int64
}

// UsageByMemberModel sums f's rollup rows by member, model and payer (own credits or an
// allowance), in one query: the household page and the members page read every member's
// totals and top models from it instead of asking once per member.
func (c *Conn) UsageByMemberModel(ctx context.Context, f AggFilter) ([]MemberModelRow, error) {
	q, args := aggregateQuery("d.user_id, d.model, d.delegation_id != 0", f)
	rows, err := c.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []MemberModelRow
	for rows.Next() {
		var r MemberModelRow
		var unused KindSplit
		if err := rows.Scan(&r.UserID, &r.Model, &r.ByAllowance, &r.Requests, &r.Credits, &r.Tokens,
			&unused.Subscription, &unused.Addon, &unused.Event, &unused.Debt); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
