package db

import "context"

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
	_, err := c.q.ExecContext(ctx, `INSERT INTO audit_log(at, actor_id, action, target, ip, detail) VALUES (?, ?, ?, ?, ?, ?)`,
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
	rows, err := c.q.QueryContext(ctx, q, args...)
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
