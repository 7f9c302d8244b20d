package db

import "context"

// JobRuns lists the recorded runs of the job name as of from or later, oldest first.
func (c *Conn) JobRuns(ctx context.Context, name string, from int64) ([]JobRun, error) {
	rows, err := c.query(ctx, `SELECT name, as_of, started_at, result FROM job_runs WHERE name = ? AND as_of >= ? ORDER BY as_of, id`, name, from)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []JobRun
	for rows.Next() {
		var r JobRun
		if err := rows.Scan(&r.Name, &r.AsOf, &r.StartedAt, &r.Result); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
