package db

import (
	"context"
	"database/sql"
	"errors"
)

// Delegation is an allowance a granter gives a grantee from the granter's own credits.
type Delegation struct {
	ID         int64
	GranterID  int64
	GranteeID  int64
	Credits    int64
	Period     string
	StartsAt   int64
	EndsAt     sql.NullInt64
	Note       string
	Status     string
	CreatedAt  int64
	RevokedAt  sql.NullInt64
	PeriodKey  int64
	PeriodUsed int64
	Apps       string // JSON array of app ids; "" = any app
	Models     string // JSON array of model names; "" = any model
	// Terms waiting for the next period.
	PendingCredits sql.NullInt64
	PendingPeriod  sql.NullString
	PendingFrom    sql.NullInt64

	GranterName, GranteeName, GranteeEmail string
}

const delegationCols = `d.id, d.granter_id, d.grantee_id, d.credits, d.period, d.starts_at, d.ends_at, d.note, d.status,
	d.created_at, d.revoked_at, d.period_key, d.period_used, d.apps, d.models, d.pending_credits, d.pending_period,
	d.pending_from, g.name, e.name, e.email`
const delegationFrom = ` FROM delegations d JOIN users g ON g.id = d.granter_id JOIN users e ON e.id = d.grantee_id`

func scanDelegation(row interface{ Scan(...any) error }) (Delegation, error) {
	var d Delegation
	err := row.Scan(&d.ID, &d.GranterID, &d.GranteeID, &d.Credits, &d.Period, &d.StartsAt, &d.EndsAt, &d.Note, &d.Status,
		&d.CreatedAt, &d.RevokedAt, &d.PeriodKey, &d.PeriodUsed, &d.Apps, &d.Models, &d.PendingCredits, &d.PendingPeriod,
		&d.PendingFrom, &d.GranterName, &d.GranteeName, &d.GranteeEmail)
	if errors.Is(err, sql.ErrNoRows) {
		return d, ErrNotFound
	}
	return d, err
}

func (c *Conn) delegations(ctx context.Context, where string, args ...any) ([]Delegation, error) {
	rows, err := c.query(ctx, `SELECT `+delegationCols+delegationFrom+` WHERE `+where+` ORDER BY d.id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Delegation
	for rows.Next() {
		d, err := scanDelegation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func (c *Conn) InsertDelegation(ctx context.Context, d Delegation) (int64, error) {
	return c.insertID(ctx, `INSERT INTO delegations(granter_id, grantee_id, credits, period, starts_at, ends_at, note, status, created_at, apps, models)
		VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)`, d.GranterID, d.GranteeID, d.Credits, d.Period, d.StartsAt, d.EndsAt, d.Note, d.CreatedAt, d.Apps, d.Models)
}

func (c *Conn) DelegationByID(ctx context.Context, id int64) (Delegation, error) {
	return scanDelegation(c.queryRow(ctx, `SELECT `+delegationCols+delegationFrom+` WHERE d.id = ?`, id))
}

// DelegationsReceived lists a grantee's delegations, oldest first.
func (c *Conn) DelegationsReceived(ctx context.Context, granteeID int64) ([]Delegation, error) {
	return c.delegations(ctx, `d.grantee_id = ?`, granteeID)
}

// CountDelegationsReceived counts a member's delegations, in any state.
func (c *Conn) CountDelegationsReceived(ctx context.Context, granteeID int64) (int64, error) {
	var n int64
	err := c.queryRow(ctx, `SELECT count(*) FROM delegations WHERE grantee_id = ?`, granteeID).Scan(&n)
	return n, err
}

// DelegationsGiven lists a granter's delegations, oldest first.
func (c *Conn) DelegationsGiven(ctx context.Context, granterID int64) ([]Delegation, error) {
	return c.delegations(ctx, `d.granter_id = ?`, granterID)
}

func (c *Conn) SetDelegationUse(ctx context.Context, id, periodKey, used int64) error {
	_, err := c.exec(ctx, `UPDATE delegations SET period_key = ?, period_used = ? WHERE id = ?`, periodKey, used, id)
	return err
}

func (c *Conn) RevokeDelegation(ctx context.Context, id, at int64) error {
	_, err := c.exec(ctx, `UPDATE delegations SET status = 'revoked', revoked_at = ? WHERE id = ?`, at, id)
	return err
}

// UpdateDelegationTerms stores everything an edit can change.
func (c *Conn) UpdateDelegationTerms(ctx context.Context, d Delegation) error {
	_, err := c.exec(ctx, `UPDATE delegations SET credits = ?, period = ?, ends_at = ?, note = ?, status = ?, apps = ?, models = ?,
		pending_credits = ?, pending_period = ?, pending_from = ?, period_key = ?, period_used = ? WHERE id = ?`,
		d.Credits, d.Period, d.EndsAt, d.Note, d.Status, d.Apps, d.Models, d.PendingCredits, d.PendingPeriod, d.PendingFrom,
		d.PeriodKey, d.PeriodUsed, d.ID)
	return err
}
