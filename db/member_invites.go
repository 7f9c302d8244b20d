package db

import (
	"context"
	"database/sql"
	"errors"
)

// InsertMemberInvite stores an invitation for an existing member (an imported student), who
// sets their password with it.
func (c *Conn) InsertMemberInvite(ctx context.Context, i Invite, userID int64, hash string) (int64, error) {
	return c.insertID(ctx, `INSERT INTO invites(hash, email, role, monthly_credits, note, created_by, created_at, expires_at, user_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, hash, i.Email, i.Role, i.MonthlyCredits, i.Note, i.CreatedBy, i.CreatedAt, i.ExpiresAt, userID)
}

// InviteMemberID is the existing member an invitation is for; 0 for an invitation that creates
// a new member.
func (c *Conn) InviteMemberID(ctx context.Context, inviteID int64) (int64, error) {
	var id sql.NullInt64
	err := c.queryRow(ctx, `SELECT user_id FROM invites WHERE id = ?`, inviteID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	return id.Int64, err
}
