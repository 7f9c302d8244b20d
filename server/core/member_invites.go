package core

import (
	"context"
	"fmt"
	"strings"
	"time"

	"tokenjar/db"
)

// memberInviteLink makes a single-use invitation link for a member who exists already (a
// student imported with an email), inside a write: whoever opens it sets the member's password
// and is signed in. It works as long as a sign-in code does.
func (s *Service) memberInviteLink(ctx context.Context, c *db.Conn, u db.User, createdBy int64, now time.Time, baseURL string) (string, string, error) {
	plain, hash := secret("tj_inv_")
	exp := now.Add(SigninCodeTTL)
	inv := db.Invite{Email: u.Email, Role: u.Role, Note: "class import", CreatedBy: createdBy, CreatedAt: ms(now), ExpiresAt: ms(exp)}
	if _, err := c.InsertMemberInvite(ctx, inv, u.ID, hash); err != nil {
		return "", "", err
	}
	return strings.TrimRight(baseURL, "/") + "/invite/" + plain, exp.UTC().Format(time.RFC3339), nil
}

// claimInvite lets the member an invitation was made for set their password with it, inside a
// write, and uses the invitation up. It never creates a member.
func (s *Service) claimInvite(ctx context.Context, c *db.Conn, inv db.Invite, userID int64, password string) (db.User, error) {
	if password == "" {
		return db.User{}, Invalid("password", "choose a password to sign in with")
	}
	if len(password) < 8 || len(password) > 72 {
		return db.User{}, Invalid("password", "password must be 8 to 72 characters")
	}
	u, err := c.UserByID(ctx, userID)
	if err != nil {
		return db.User{}, err
	}
	if u.Disabled {
		return db.User{}, Errorf(EFORBIDDEN, "this member is disabled; ask an admin")
	}
	hash, err := hashPassword(password)
	if err != nil {
		return db.User{}, err
	}
	if err := c.SetPassword(ctx, u.ID, hash); err != nil {
		return db.User{}, err
	}
	now := s.clock.Now()
	if err := c.UseInvite(ctx, inv.ID, u.ID, ms(now)); err != nil {
		return db.User{}, Errorf(ECONFLICT, "this invitation was just used")
	}
	return u, s.auditTx(ctx, c, u.ID, "invite_accepted", fmt.Sprintf("invite %d", inv.ID), "", u.Email+" (set a password)")
}
