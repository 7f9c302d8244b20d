package db

import (
	"context"
	"database/sql"
	"errors"
)

// AuditEntry is one security event.
type AuditEntry struct {
	ID        int64
	At        int64
	ActorID   int64
	ActorName string
	Action    string
	Target    string
	IP        string
	Detail    string
}

func (c *Conn) InsertAudit(ctx context.Context, e AuditEntry) error {
	var actor any
	if e.ActorID > 0 {
		actor = e.ActorID
	}
	_, err := c.exec(ctx, `INSERT INTO audit_log(at, actor_id, action, target, ip, detail) VALUES (?, ?, ?, ?, ?, ?)`,
		e.At, actor, e.Action, e.Target, e.IP, e.Detail)
	return err
}

// ListAudit returns entries newest first, before the id beforeID (0: from the newest).
func (c *Conn) ListAudit(ctx context.Context, beforeID int64, limit int) ([]AuditEntry, error) {
	q := `SELECT a.id, a.at, coalesce(a.actor_id, 0), coalesce(u.name, ''), a.action, a.target, a.ip, a.detail
		FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id`
	args := []any{}
	if beforeID > 0 {
		q += ` WHERE a.id < ?`
		args = append(args, beforeID)
	}
	q += ` ORDER BY a.id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := c.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		if err := rows.Scan(&e.ID, &e.At, &e.ActorID, &e.ActorName, &e.Action, &e.Target, &e.IP, &e.Detail); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Identity links a third-party sign-in (provider + subject) to a member.
type Identity struct {
	ID        int64
	UserID    int64
	Provider  string
	Subject   string
	Email     string
	CreatedAt int64
}

func (c *Conn) IdentityBySubject(ctx context.Context, provider, subject string) (Identity, error) {
	var i Identity
	err := c.queryRow(ctx, `SELECT id, user_id, provider, subject, email, created_at FROM identities WHERE provider = ? AND subject = ?`, provider, subject).
		Scan(&i.ID, &i.UserID, &i.Provider, &i.Subject, &i.Email, &i.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return i, ErrNotFound
	}
	return i, err
}

func (c *Conn) InsertIdentity(ctx context.Context, i Identity) (int64, error) {
	return c.insertID(ctx, `INSERT INTO identities(user_id, provider, subject, email, created_at) VALUES (?, ?, ?, ?, ?)`,
		i.UserID, i.Provider, i.Subject, i.Email, i.CreatedAt)
}

func (c *Conn) IdentitiesOf(ctx context.Context, userID int64) ([]Identity, error) {
	rows, err := c.query(ctx, `SELECT id, user_id, provider, subject, email, created_at FROM identities WHERE user_id = ? ORDER BY id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Identity
	for rows.Next() {
		var i Identity
		if err := rows.Scan(&i.ID, &i.UserID, &i.Provider, &i.Subject, &i.Email, &i.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

func (c *Conn) DeleteIdentity(ctx context.Context, userID, id int64) error {
	res, err := c.exec(ctx, `DELETE FROM identities WHERE id = ? AND user_id = ?`, id, userID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// Invite is an invitation link; only the hash of its token is stored.
type Invite struct {
	ID             int64
	Email          string
	Role           string
	MonthlyCredits sql.NullInt64
	Note           string
	CreatedBy      int64
	CreatedAt      int64
	ExpiresAt      int64
	UsedAt         sql.NullInt64
	UsedBy         sql.NullInt64
	RevokedAt      sql.NullInt64
}

const inviteCols = `id, email, role, monthly_credits, note, coalesce(created_by, 0), created_at, expires_at, used_at, used_by, revoked_at`

func scanInvite(row interface{ Scan(...any) error }) (Invite, error) {
	var i Invite
	err := row.Scan(&i.ID, &i.Email, &i.Role, &i.MonthlyCredits, &i.Note, &i.CreatedBy, &i.CreatedAt, &i.ExpiresAt, &i.UsedAt, &i.UsedBy, &i.RevokedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return i, ErrNotFound
	}
	return i, err
}

func (c *Conn) InsertInvite(ctx context.Context, i Invite, hash string) (int64, error) {
	return c.insertID(ctx, `INSERT INTO invites(hash, email, role, monthly_credits, note, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		hash, i.Email, i.Role, i.MonthlyCredits, i.Note, i.CreatedBy, i.CreatedAt, i.ExpiresAt)
}

func (c *Conn) InviteByHash(ctx context.Context, hash string) (Invite, error) {
	return scanInvite(c.queryRow(ctx, `SELECT `+inviteCols+` FROM invites WHERE hash = ?`, hash))
}

// ListInvites lists the invitations that create members; the links a class import made for
// members who exist already are handed out from the import (and replaced from the members page).
func (c *Conn) ListInvites(ctx context.Context) ([]Invite, error) {
	rows, err := c.query(ctx, `SELECT `+inviteCols+` FROM invites WHERE user_id IS NULL ORDER BY id DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Invite
	for rows.Next() {
		i, err := scanInvite(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

func (c *Conn) UseInvite(ctx context.Context, id, userID, at int64) error {
	res, err := c.exec(ctx, `UPDATE invites SET used_at = ?, used_by = ? WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL`, at, userID, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

func (c *Conn) RevokeInvite(ctx context.Context, id, at int64) error {
	res, err := c.exec(ctx, `UPDATE invites SET revoked_at = ? WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL`, at, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteOtherSessions ends every session of a member but one (keep may be "").
func (c *Conn) DeleteOtherSessions(ctx context.Context, userID int64, keep string) error {
	_, err := c.exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND id_hash != ?`, userID, keep)
	return err
}
