package db

import (
	"context"
	"strings"
)

// AssignmentCell is what one grantee spent on one project (an assignment) in a range: what
// the granter's allowances paid, and what the grantee paid from their own credits (debt
// included) for a project those allowances also paid for.
type AssignmentCell struct {
	UserID    int64
	UserName  string
	Project   string
	Allowance int64
	Own       int64
	Requests  int64 // requests billed to the granter's allowances
}

// GrantedAssignments groups, in one query over the per-day rollups, what each of a granter's
// grantees spent per project: the granter's allowances' part, and the grantee's own part for
// the projects the granter's allowances paid for in the range. Other granters' allowances and
// the grantee's own spending on other projects are not counted. Days are inclusive.
func (c *Conn) GrantedAssignments(ctx context.Context, granterID int64, hasFrom bool, fromDay int64, hasTo bool, toDay int64) ([]AssignmentCell, error) {
	var days []string
	var dayArgs []any
	if hasFrom {
		days, dayArgs = append(days, "d.day >= ?"), append(dayArgs, fromDay)
	}
	if hasTo {
		days, dayArgs = append(days, "d.day <= ?"), append(dayArgs, toDay)
	}
	inRange := ""
	if len(days) > 0 {
		inRange = " AND " + strings.Join(days, " AND ")
	}
	// given: the granter's allowances; funded: the projects they paid for in the range.
	q := `WITH given AS (SELECT id, grantee_id FROM delegations WHERE granter_id = ?),
		funded AS (SELECT DISTINCT d.project FROM usage_daily d
			WHERE d.delegation_id IN (SELECT id FROM given) AND d.delegation_id != 0 AND d.project != ''` + inRange + `)
		SELECT d.user_id, u.name, d.project,
			sum(CASE WHEN d.delegation_id != 0 THEN d.credits ELSE 0 END),
			sum(CASE WHEN d.delegation_id = 0 THEN d.credits ELSE 0 END),
			sum(CASE WHEN d.delegation_id != 0 THEN d.requests ELSE 0 END)
		FROM usage_daily d JOIN users u ON u.id = d.user_id
		WHERE d.user_id IN (SELECT grantee_id FROM given)` + inRange + `
			AND (d.delegation_id IN (SELECT id FROM given)
				OR (d.delegation_id = 0 AND d.project IN (SELECT project FROM funded)))
		GROUP BY d.user_id, u.name, d.project
		ORDER BY u.name, d.user_id, d.project`
	args := append([]any{granterID}, dayArgs...)
	args = append(args, dayArgs...)
	rows, err := c.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AssignmentCell
	for rows.Next() {
		var a AssignmentCell
		if err := rows.Scan(&a.UserID, &a.UserName, &a.Project, &a.Allowance, &a.Own, &a.Requests); err != nil {
			return nil, err
		}
		if a.Allowance != 0 || a.Own != 0 { // a refunded request leaves a row of zeros
			out = append(out, a)
		}
	}
	return out, rows.Err()
}
