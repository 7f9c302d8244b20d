package db

import (
	"context"
	"strings"
)

// UsageByIDs reads the events with these ids (those that exist), in id order: what a replica
// shows its live views of the events another replica charged.
func (c *Conn) UsageByIDs(ctx context.Context, ids []int64) ([]UsageEvent, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	q := `SELECT ` + usageCols + usageFrom + ` WHERE e.id IN (?` + strings.Repeat(", ?", len(ids)-1) + `) ORDER BY e.id`
	rows, err := c.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []UsageEvent
	for rows.Next() {
		e, err := scanUsage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
