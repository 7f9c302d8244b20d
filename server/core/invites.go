package core

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"tokenjar/db"
)

// InviteTTL is how long an invitation works unless the admin says otherwise.
const InviteTTL = 7 * 24 * time.Hour

// NewInvite is an admin's invitation.
type NewInvite struct {
	Email          string
	Role           string
	MonthlyCredits *Credits
	ExpiresAt      *time.Time
	Note           string
}

// InviteInfo is an invitation as the API shows it; URL and Token only right after creation.
type InviteInfo struct {
	ID             int64    `json:"id"`
	Email          string   `json:"email"`
	Role           string   `json:"role"`
	MonthlyCredits *Credits `json:"monthlyCredits"`
	Note           string   `json:"note"`
	CreatedAt      string   `json:"createdAt"`
	ExpiresAt      string   `json:"expiresAt"`
	UsedAt         *string  `json:"usedAt"`
	UsedBy         *int64   `json:"usedBy"`
	RevokedAt      *string  `json:"revokedAt"`
	Token          string   `json:"token,omitempty"`
	URL            string   `json:"url,omitempty"`
}

func inviteInfo(i db.Invite) InviteInfo {
	info := InviteInfo{ID: i.ID, Email: i.Email, Role: i.Role, Note: i.Note, CreatedAt: fromMS(i.CreatedAt).Format(time.RFC3339),
		ExpiresAt: fromMS(i.ExpiresAt).Format(time.RFC3339), UsedAt: optTime(i.UsedAt), RevokedAt: optTime(i.RevokedAt)}
	if i.MonthlyCredits.Valid {
		v := Credits(i.MonthlyCredits.Int64)
		info.MonthlyCredits = &v
	}
	if i.UsedBy.Valid {
		v := i.UsedBy.Int64
		info.UsedBy = &v
	}
	return info
}

// CreateInvite makes a single-use invitation link (admins only). baseURL is where the link points.
func (s *Service) CreateInvite(ctx context.Context, p Principal, in NewInvite, baseURL string) (InviteInfo, error) {
	if err := p.requireAdmin(); err != nil {
		return InviteInfo{}, err
	}
	in.Email = strings.TrimSpace(in.Email)
	if in.Email != "" && !validEmail(in.Email) {
		return InviteInfo{}, Invalid("email", "%q is not an email address", in.Email)
	}
	if in.Role == "" {
		in.Role = RoleMember
	}
	if in.Role != RoleMember && in.Role != RoleAdmin && in.Role != RoleOwner {
		return InviteInfo{}, Invalid("role", "role must be owner, admin or member")
	}
	if in.Role == RoleOwner && p.Role != RoleOwner {
		return InviteInfo{}, &Error{Code: EFORBIDDEN, Message: "only an owner can invite owners", Field: "role"}
	}
	if in.MonthlyCredits != nil && *in.MonthlyCredits < 0 {
		return InviteInfo{}, Invalid("monthlyCredits", "monthlyCredits must be 0 or more")
	}
	now := s.clock.Now()
	exp := now.Add(InviteTTL)
	if in.ExpiresAt != nil {
		if !in.ExpiresAt.After(now) {
			return InviteInfo{}, Invalid("expiresAt", "expiresAt must be in the future")
		}
		exp = *in.ExpiresAt
	}
	if len(strings.TrimSpace(in.Note)) > 200 {
		return InviteInfo{}, Invalid("note", "note must be at most 200 characters")
	}
	plain, hash := secret("tj_inv_")
	inv := db.Invite{Email: in.Email, Role: in.Role, Note: strings.TrimSpace(in.Note), CreatedBy: p.UserID, CreatedAt: ms(now), ExpiresAt: ms(exp)}
	if in.MonthlyCredits != nil {
		inv.MonthlyCredits = sql.NullInt64{Int64: int64(*in.MonthlyCredits), Valid: true}
	}
	err := s.db.Update(ctx, func(c *db.Conn) error {
		id, err := c.InsertInvite(ctx, inv, hash)
		inv.ID = id
		if err != nil {
			return err
		}
		return s.auditTx(ctx, c, p.UserID, "invite_created", fmt.Sprintf("invite %d", id), p.IP, in.Role+" "+in.Email)
	})
	if err != nil {
		return InviteInfo{}, err
	}
	info := inviteInfo(inv)
	info.Token = plain
	info.URL = strings.TrimRight(baseURL, "/") + "/invite/" + plain
	return info, nil
}

// ListInvites lists invitations, newest first (admins only).
func (s *Service) ListInvites(ctx context.Context, p Principal) ([]InviteInfo, error) {
	if err := p.requireAdmin(); err != nil {
		return nil, err
	}
	invs, err := s.db.Read().ListInvites(ctx)
	out := []InviteInfo{}
	for _, i := range invs {
		out = append(out, inviteInfo(i))
	}
	return out, err
}

// RevokeInvite stops an unused invitation (admins only).
func (s *Service) RevokeInvite(ctx context.Context, p Principal, id int64) error {
	if err := p.requireAdmin(); err != nil {
		return err
	}
	err := s.db.Update(ctx, func(c *db.Conn) error { return c.RevokeInvite(ctx, id, ms(s.clock.Now())) })
	if errors.Is(err, db.ErrNotFound) {
		return Errorf(ENOTFOUND, "no open invitation %d", id)
	}
	return err
}

// usableInvite finds a live invitation by its token.
func (s *Service) usableInvite(ctx context.Context, c *db.Conn, token string) (db.Invite, error) {
	inv, err := c.InviteByHash(ctx, hashSecret(token))
	if errors.Is(err, db.ErrNotFound) || (err == nil && (inv.UsedAt.Valid || inv.RevokedAt.Valid || inv.ExpiresAt <= ms(s.clock.Now()))) {
		return inv, Errorf(ENOTFOUND, "this invitation is used, expired or unknown; ask for a new one")
	}
	return inv, err
}

// PublicInvite is what an invitee sees before accepting.
type PublicInvite struct {
	InstanceName string `json:"instanceName"`
	Email        string `json:"email"`
	Role         string `json:"role"`
	ExpiresAt    string `json:"expiresAt"`
	// MonthlyCredits are the invitee's own monthly credits, from the day they accept (null: none set).
	MonthlyCredits *Credits `json:"monthlyCredits"`
}

// Invite describes a live invitation to whoever holds its token.
func (s *Service) Invite(ctx context.Context, token string) (PublicInvite, error) {
	inv, err := s.usableInvite(ctx, s.db.Read(), token)
	if err != nil {
		return PublicInvite{}, err
	}
	return PublicInvite{InstanceName: s.Settings().InstanceName, Email: inv.Email, Role: inv.Role, ExpiresAt: fromMS(inv.ExpiresAt).Format(time.RFC3339),
		MonthlyCredits: inviteInfo(inv).MonthlyCredits}, nil
}

// joinByInvite creates the invited member and uses up the invitation, inside a write.
func (s *Service) joinByInvite(ctx context.Context, c *db.Conn, token, email, name, password string) (db.User, error) {
	inv, err := s.usableInvite(ctx, c, token)
	if err != nil {
		return db.User{}, err
	}
	if inv.Email != "" && !strings.EqualFold(inv.Email, email) {
		return db.User{}, &Error{Code: EFORBIDDEN, Message: "this invitation is for " + inv.Email, Field: "email"}
	}
	if forMember, err := c.InviteMemberID(ctx, inv.ID); err != nil || forMember != 0 {
		if err != nil {
			return db.User{}, err
		}
		return s.claimInvite(ctx, c, inv, forMember, password) // an imported member sets a password
	}
	now := s.clock.Now()
	u, err := s.insertMember(ctx, c, NewMember{Email: email, Name: firstNonEmpty(strings.TrimSpace(name), email), Password: password, Role: inv.Role}, now)
	if err != nil {
		return db.User{}, err
	}
	if inv.MonthlyCredits.Valid {
		// Monthly credits start at once and whole: this cycle's full amount now, whatever the day,
		// then again at each cycle start. insertMember marked this cycle granted, so the refresh
		// job does not grant it a second time.
		if err := c.SetPlan(ctx, u.ID, inv.MonthlyCredits.Int64, sql.NullInt64{}); err != nil {
			return db.User{}, err
		}
		if err := s.applyPlanNow(ctx, c, u.ID, inv.MonthlyCredits.Int64); err != nil {
			return db.User{}, err
		}
	}
	if err := c.UseInvite(ctx, inv.ID, u.ID, ms(now)); err != nil {
		return db.User{}, Errorf(ECONFLICT, "this invitation was just used")
	}
	return u, s.auditTx(ctx, c, u.ID, "invite_accepted", fmt.Sprintf("invite %d", inv.ID), "", email)
}

// AcceptInvite creates the invited member with a password and signs them in.
func (s *Service) AcceptInvite(ctx context.Context, token, email, name, password string) (Member, string, Session, error) {
	if password == "" {
		return Member{}, "", Session{}, Invalid("password", "password is required")
	}
	var u db.User
	err := s.db.Update(ctx, func(c *db.Conn) error {
		var err error
		u, err = s.joinByInvite(ctx, c, token, strings.TrimSpace(email), name, password)
		return err
	})
	if err != nil {
		return Member{}, "", Session{}, err
	}
	sid, sess, err := s.openSession(ctx, u.ID)
	return memberOf(u), sid, sess, err
}
