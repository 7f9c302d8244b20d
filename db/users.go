package db

import (
	"context"
	"database/sql"
	"errors"
	"strings"
)

// User is a member of the instance.
type User struct {
	ID           int64
	Email        string
	Name         string
	Role         string
	PasswordHash string
	Disabled     bool
	PlanCredits  int64
	PlanNext     sql.NullInt64
	Balance      int64
	Debt         int64
	CreatedAt    int64
	Group        string
}

const userCols = `id, email, name, role, password_hash, disabled, plan_credits, plan_next, balance, debt, created_at, group_name`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.Disabled, &u.PlanCredits, &u.PlanNext, &u.Balance, &u.Debt, &u.CreatedAt, &u.Group)
	if errors.Is(err, sql.ErrNoRows) {
		return u, ErrNotFound
	}
	return u, err
}

func (c *Conn) UserByID(ctx context.Context, id int64) (User, error) {
	return scanUser(c.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
}

func (c *Conn) UserByEmail(ctx context.Context, email string) (User, error) {
	return scanUser(c.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE email = ?`, strings.TrimSpace(email)))
}

func (c *Conn) CountUsers(ctx context.Context) (int64, error) {
	var n int64
	err := c.queryRow(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, err
}

func (c *Conn) CountActiveOwners(ctx context.Context) (int64, error) {
	var n int64
	err := c.queryRow(ctx, `SELECT count(*) FROM users WHERE role = 'owner' AND disabled = 0`).Scan(&n)
	return n, err
}

func (c *Conn) ListUsers(ctx context.Context) ([]User, error) {
	return c.users(ctx, `SELECT `+userCols+` FROM users ORDER BY id`)
}

// users runs a query of userCols and scans every row.
func (c *Conn) users(ctx context.Context, query string, args ...any) ([]User, error) {
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// IsUniqueViolation tells whether err is a UNIQUE constraint failure (SQLite's, or
// PostgreSQL's unique_violation, 23505).
func IsUniqueViolation(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "UNIQUE constraint failed") || pgCode(err) == "23505")
}

func (c *Conn) InsertUser(ctx context.Context, u User) (int64, error) {
	return c.insertID(ctx, `INSERT INTO users(email, name, role, password_hash, plan_credits, created_at, group_name) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		strings.TrimSpace(u.Email), u.Name, u.Role, u.PasswordHash, u.PlanCredits, u.CreatedAt, u.Group)
}

func (c *Conn) UpdateUserProfile(ctx context.Context, id int64, name, role string, disabled bool, group string) error {
	_, err := c.exec(ctx, `UPDATE users SET name = ?, role = ?, disabled = ?, group_name = ? WHERE id = ?`, name, role, disabled, group, id)
	return err
}

// UserIDsInGroup lists the active members of a group.
func (c *Conn) UserIDsInGroup(ctx context.Context, group string) ([]int64, error) {
	return c.ids(ctx, `SELECT id FROM users WHERE group_name = ? AND disabled = 0 ORDER BY id`, group)
}

// PutSigninCode stores a member's one-time sign-in code, replacing any earlier one.
func (c *Conn) PutSigninCode(ctx context.Context, userID int64, hash string, created, expires int64) error {
	_, err := c.exec(ctx, `INSERT INTO signin_codes(user_id, hash, created_at, expires_at) VALUES (?, ?, ?, ?)
		ON CONFLICT(user_id) DO UPDATE SET hash = excluded.hash, created_at = excluded.created_at, expires_at = excluded.expires_at`,
		userID, hash, created, expires)
	return err
}

// TakeSigninCode consumes a code: it returns the member and deletes the code, so it works once.
func (c *Conn) TakeSigninCode(ctx context.Context, hash string, now int64) (int64, error) {
	var userID, expires int64
	err := c.queryRow(ctx, `SELECT user_id, expires_at FROM signin_codes WHERE hash = ?`, hash).Scan(&userID, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	if _, err := c.exec(ctx, `DELETE FROM signin_codes WHERE user_id = ?`, userID); err != nil {
		return 0, err
	}
	if expires <= now {
		return 0, ErrNotFound
	}
	return userID, nil
}

func (c *Conn) SetPassword(ctx context.Context, id int64, hash string) error {
	_, err := c.exec(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, id)
	return err
}

func (c *Conn) SetPlan(ctx context.Context, id int64, credits int64, next sql.NullInt64) error {
	_, err := c.exec(ctx, `UPDATE users SET plan_credits = ?, plan_next = ? WHERE id = ?`, credits, next, id)
	return err
}

// SetMoney stores a member's running balance and debt, moved in step with the ledger.
func (c *Conn) SetMoney(ctx context.Context, id, balance, debt int64) error {
	_, err := c.exec(ctx, `UPDATE users SET balance = ?, debt = ? WHERE id = ?`, balance, debt, id)
	return err
}

// ActiveUserIDs lists members that are not disabled.
func (c *Conn) ActiveUserIDs(ctx context.Context) ([]int64, error) {
	return c.ids(ctx, `SELECT id FROM users WHERE disabled = 0 ORDER BY id`)
}

func (c *Conn) ids(ctx context.Context, query string, args ...any) ([]int64, error) {
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
