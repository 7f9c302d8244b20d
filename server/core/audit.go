package core

import (
	"context"
	"strconv"
	"time"

	"tokenjar/db"
)

// audit records a security event. It is best effort by design: a failure to write the log
// is logged and must not turn a sign-in or a revocation into an error.
func (s *Service) audit(ctx context.Context, actor int64, action, target, ip, detail string) {
	err := s.db.Update(ctx, func(c *db.Conn) error {
		return c.InsertAudit(ctx, db.AuditEntry{At: ms(s.clock.Now()), ActorID: actor, Action: action, Target: target, IP: ip, Detail: detail})
	})
	if err != nil {
		s.log.Error("audit log write failed", "action", action, "err", err)
	}
}

// memberTarget names a member in the audit log as people know them: by name, else by email.
func memberTarget(name, email string) string {
	if name != "" {
		return name
	}
	return email
}

// plural counts things in plain words: "1 personal token", "2 personal tokens".
func plural(n int64, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.FormatInt(n, 10) + " " + thing + "s"
}

// auditTx records a security event inside a write that is already under way.
func (s *Service) auditTx(ctx context.Context, c *db.Conn, actor int64, action, target, ip, detail string) error {
	return c.InsertAudit(ctx, db.AuditEntry{At: ms(s.clock.Now()), ActorID: actor, Action: action, Target: target, IP: ip, Detail: detail})
}

// AuditItem is an audit entry as the API shows it.
type AuditItem struct {
	ID        int64  `json:"id"`
	At        string `json:"at"`
	Actor     *int64 `json:"actor"`
	ActorName string `json:"actorName"`
	Action    string `json:"action"`
	Target    string `json:"target"`
	IP        string `json:"ip"`
	Detail    string `json:"detail"`
}

// AuditPage is a page of the audit log.
type AuditPage struct {
	Items      []AuditItem `json:"items"`
	NextCursor *string     `json:"nextCursor"`
}

// Audit lists security events, newest first (admins only).
func (s *Service) Audit(ctx context.Context, p Principal, limit, cursor string) (AuditPage, error) {
	if err := p.requireAdmin(); err != nil {
		return AuditPage{}, err
	}
	n := 100
	if limit != "" {
		v, err := strconv.Atoi(limit)
		if err != nil || v < 1 || v > 500 {
			return AuditPage{}, Invalid("limit", "limit must be 1 to 500")
		}
		n = v
	}
	var before int64
	if cursor != "" {
		v, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || v <= 0 {
			return AuditPage{}, Invalid("cursor", "cursor is not one this server made")
		}
		before = v
	}
	rows, err := s.db.Read().ListAudit(ctx, before, n+1)
	if err != nil {
		return AuditPage{}, err
	}
	page := AuditPage{Items: []AuditItem{}}
	if len(rows) > n {
		rows = rows[:n]
		c := strconv.FormatInt(rows[n-1].ID, 10)
		page.NextCursor = &c
	}
	for _, r := range rows {
		it := AuditItem{ID: r.ID, At: fromMS(r.At).Format(time.RFC3339), ActorName: r.ActorName, Action: r.Action, Target: r.Target, IP: r.IP, Detail: r.Detail}
		if r.ActorID > 0 {
			v := r.ActorID
			it.Actor = &v
		}
		page.Items = append(page.Items, it)
	}
	return page, nil
}

// AuditFailedSignin records a provider sign-in that was refused before it reached a member.
func (s *Service) AuditFailedSignin(ctx context.Context, provider, ip, why string) {
	s.audit(ctx, 0, "signin_failed", provider, ip, why)
}
