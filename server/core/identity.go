package core

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"tokenjar/db"
)

// ExternalIdentity is who a sign-in provider says the person is, after the server checked
// the provider's answer.
type ExternalIdentity struct {
	Provider      string
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
}

// SignInWithProvider signs in with what a provider said; SignInIdentity decides which email
// counts as verified and what the identity is keyed by.
func (s *Service) SignInWithProvider(ctx context.Context, c ProviderClaims, inviteToken, ip string) (Member, string, Session, error) {
	return s.SignInWithIdentity(ctx, SignInIdentity(c), inviteToken, ip)
}

// SignInWithIdentity signs in through a provider. A known identity signs its member in; a
// verified email that matches a member links to that member; an unknown email is refused
// unless it holds an invitation or its domain may sign up. A refused sign-in creates nothing.
func (s *Service) SignInWithIdentity(ctx context.Context, id ExternalIdentity, inviteToken, ip string) (Member, string, Session, error) {
	fail := func(msg string, args ...any) (Member, string, Session, error) {
		s.audit(ctx, 0, "signin_failed", id.Provider+":"+id.Email, ip, fmt.Sprintf(msg, args...))
		return Member{}, "", Session{}, Errorf(EUNAUTHORIZED, msg, args...)
	}
	if id.Subject == "" {
		return fail("the provider did not say who you are")
	}
	now := s.clock.Now()
	var user db.User
	var linked bool
	err := s.db.Update(ctx, func(c *db.Conn) error {
		ident, err := c.IdentityBySubject(ctx, id.Provider, id.Subject)
		if err == nil {
			user, err = c.UserByID(ctx, ident.UserID)
			return err
		}
		if !errors.Is(err, db.ErrNotFound) {
			return err
		}
		if id.Email == "" {
			return Errorf(EUNAUTHORIZED, "%s did not share an email address, so it cannot be matched to a member here; sign in with a password", id.Provider)
		}
		if !id.EmailVerified && id.Provider == "microsoft" {
			return Errorf(EUNAUTHORIZED, "Microsoft did not confirm that your organisation owns the address %s, so it is not matched to a member here; sign in with a password, or ask an admin", id.Email)
		}
		if !id.EmailVerified {
			return Errorf(EUNAUTHORIZED, "%s has not verified the email %s; verify it there, or sign in with a password", id.Provider, id.Email)
		}
		user, err = c.UserByEmail(ctx, id.Email)
		switch {
		case err == nil:
		case !errors.Is(err, db.ErrNotFound):
			return err
		case inviteToken != "":
			if user, err = s.joinByInvite(ctx, c, inviteToken, id.Email, id.Name, ""); err != nil {
				return err
			}
		case s.mayJoin(id.Email):
			if user, err = s.insertMember(ctx, c, NewMember{Email: id.Email, Name: firstNonEmpty(id.Name, id.Email), Role: RoleMember}, now); err != nil {
				return err
			}
		default:
			return Errorf(EUNAUTHORIZED, "no member has the email %s here; ask an admin for an invitation", id.Email)
		}
		if _, err := c.InsertIdentity(ctx, db.Identity{UserID: user.ID, Provider: id.Provider, Subject: id.Subject, Email: id.Email, CreatedAt: ms(now)}); err != nil {
			return err
		}
		linked = true
		return s.auditTx(ctx, c, user.ID, "identity_linked", memberTarget(user.Name, user.Email), ip, id.Provider+" "+id.Email)
	})
	if err != nil {
		if e, ok := err.(*Error); ok && e.Code == EUNAUTHORIZED {
			return fail("%s", e.Message)
		}
		return Member{}, "", Session{}, err
	}
	if user.Disabled {
		return fail("this member is disabled")
	}
	sid, sess, err := s.openSession(ctx, user.ID)
	if err != nil {
		return Member{}, "", Session{}, err
	}
	detail := id.Provider
	if linked {
		detail += " (first sign-in, identity linked)"
	}
	s.audit(ctx, user.ID, "signin", memberTarget(user.Name, user.Email), ip, detail)
	return memberOf(user), sid, sess, nil
}

// mayJoin tells whether an email's domain may sign up without an invitation.
func (s *Service) mayJoin(email string) bool {
	_, domain, ok := strings.Cut(strings.ToLower(email), "@")
	return ok && slices.Contains(s.Settings().SignupDomains, domain)
}

// insertMember creates a member inside a write; the current cycle counts as handled.
func (s *Service) insertMember(ctx context.Context, c *db.Conn, m NewMember, now time.Time) (db.User, error) {
	if err := validateMember(&m); err != nil {
		return db.User{}, err
	}
	hash, err := hashPassword(m.Password)
	if err != nil {
		return db.User{}, err
	}
	id, err := c.InsertUser(ctx, db.User{Email: m.Email, Name: m.Name, Role: m.Role, PasswordHash: hash, CreatedAt: ms(now)})
	if db.IsUniqueViolation(err) {
		return db.User{}, &Error{Code: ECONFLICT, Message: "a member with this email exists already", Field: "email"}
	}
	if err != nil {
		return db.User{}, err
	}
	if err := c.InsertCycleGrant(ctx, id, CycleAt(now, s.Settings().Location).Key, sql.NullInt64{}, ms(now)); err != nil {
		return db.User{}, err
	}
	return c.UserByID(ctx, id)
}

// IdentityInfo is a linked identity as the API shows it.
type IdentityInfo struct {
	ID        int64  `json:"id"`
	Provider  string `json:"provider"`
	Email     string `json:"email"`
	CreatedAt string `json:"createdAt"`
}

// Identities lists the caller's linked sign-in identities.
func (s *Service) Identities(ctx context.Context, p Principal) ([]IdentityInfo, error) {
	if err := p.requireUser(); err != nil {
		return nil, err
	}
	ids, err := s.db.Read().IdentitiesOf(ctx, p.UserID)
	out := []IdentityInfo{}
	for _, i := range ids {
		out = append(out, IdentityInfo{ID: i.ID, Provider: i.Provider, Email: i.Email, CreatedAt: fromMS(i.CreatedAt).Format(time.RFC3339)})
	}
	return out, err
}

// UnlinkIdentity removes a linked identity; a member always keeps one way to sign in.
func (s *Service) UnlinkIdentity(ctx context.Context, p Principal, id int64) error {
	if err := p.requireUser(); err != nil {
		return err
	}
	return s.db.Update(ctx, func(c *db.Conn) error {
		u, err := c.UserByID(ctx, p.UserID)
		if err != nil {
			return err
		}
		ids, err := c.IdentitiesOf(ctx, p.UserID)
		if err != nil {
			return err
		}
		if u.PasswordHash == "" && len(ids) <= 1 {
			return Errorf(ECONFLICT, "this is your only way to sign in; set a password first")
		}
		if err := c.DeleteIdentity(ctx, p.UserID, id); errors.Is(err, db.ErrNotFound) {
			return Errorf(ENOTFOUND, "no linked identity %d", id)
		} else if err != nil {
			return err
		}
		return s.auditTx(ctx, c, p.UserID, "identity_unlinked", memberTarget(p.Name, p.Email), p.IP, fmt.Sprintf("identity %d", id))
	})
}

// ChangePassword sets the caller's password; every other session of theirs ends, and with
// endTokens every personal token of theirs is revoked too.
func (s *Service) ChangePassword(ctx context.Context, p Principal, current, next string, endTokens bool) error {
	if err := p.requireUser(); err != nil {
		return err
	}
	if len(next) < 8 || len(next) > 72 {
		return Invalid("password", "password must be 8 to 72 characters")
	}
	hash, err := hashPassword(next)
	if err != nil {
		return err
	}
	err = s.db.Update(ctx, func(c *db.Conn) error {
		u, err := c.UserByID(ctx, p.UserID)
		if err != nil {
			return err
		}
		if u.PasswordHash != "" && bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(current)) != nil {
			return Invalid("current", "the current password is wrong")
		}
		if err := c.SetPassword(ctx, u.ID, hash); err != nil {
			return err
		}
		if err := c.DeleteOtherSessions(ctx, u.ID, p.SessionHash); err != nil {
			return err
		}
		if endTokens {
			if err := s.revokeAllTokensTx(ctx, c, p, u.ID, memberTarget(u.Name, u.Email), "with a password change"); err != nil {
				return err
			}
		}
		return s.auditTx(ctx, c, u.ID, "password_reset", memberTarget(u.Name, u.Email), p.IP, "changed by the member")
	})
	if err == nil {
		s.credentialsEnded(credentialEnd{userID: p.UserID, allSessions: true, keepSession: p.SessionHash, allTokens: endTokens})
	}
	return err
}

// ResetPassword sets a member's password (admins only) and ends their sessions; with
// endTokens (when the member asks, say after losing a device) it revokes their personal tokens.
func (s *Service) ResetPassword(ctx context.Context, p Principal, userID int64, password string, endTokens bool) error {
	if err := p.requireAdmin(); err != nil {
		return err
	}
	if len(password) < 8 || len(password) > 72 {
		return Invalid("password", "password must be 8 to 72 characters")
	}
	hash, err := hashPassword(password)
	if err != nil {
		return err
	}
	err = s.db.Update(ctx, func(c *db.Conn) error {
		u, err := c.UserByID(ctx, userID)
		if errors.Is(err, db.ErrNotFound) {
			return Errorf(ENOTFOUND, "no such member")
		}
		if err != nil {
			return err
		}
		if u.Role == RoleOwner && p.Role != RoleOwner {
			return Errorf(EFORBIDDEN, "only an owner can reset an owner's password")
		}
		if err := c.SetPassword(ctx, userID, hash); err != nil {
			return err
		}
		if err := c.DeleteUserSessions(ctx, userID); err != nil {
			return err
		}
		if endTokens {
			if err := s.revokeAllTokensTx(ctx, c, p, userID, memberTarget(u.Name, u.Email), "with a password reset"); err != nil {
				return err
			}
		}
		return s.auditTx(ctx, c, p.UserID, "password_reset", memberTarget(u.Name, u.Email), p.IP, "reset by an admin")
	})
	if err == nil {
		s.credentialsEnded(credentialEnd{userID: userID, allSessions: true, allTokens: endTokens})
	}
	return err
}

// LogoutAll ends every session of the caller ("sign out everywhere"); with endTokens it
// revokes every personal token of theirs too (the one making the call included).
func (s *Service) LogoutAll(ctx context.Context, p Principal, endTokens bool) error {
	if err := p.requireUser(); err != nil {
		return err
	}
	err := s.db.Update(ctx, func(c *db.Conn) error {
		if err := c.DeleteUserSessions(ctx, p.UserID); err != nil {
			return err
		}
		if endTokens {
			if err := s.revokeAllTokensTx(ctx, c, p, p.UserID, memberTarget(p.Name, p.Email), "with sign out everywhere"); err != nil {
				return err
			}
		}
		return s.auditTx(ctx, c, p.UserID, "signout_all", memberTarget(p.Name, p.Email), p.IP, "")
	})
	if err == nil {
		s.credentialsEnded(credentialEnd{userID: p.UserID, allSessions: true, allTokens: endTokens})
	}
	return err
}

// ProviderIDs are the sign-in providers tokenjar knows, in the order they are listed.
var ProviderIDs = []string{"google", "microsoft", "github", "oidc"}

var providerNames = map[string]string{"google": "Google", "microsoft": "Microsoft", "github": "GitHub", "oidc": "OpenID Connect"}

// ProviderConfig is how one sign-in provider is set up.
type ProviderConfig struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"-"`
	DiscoveryURL string `json:"discoveryUrl,omitempty"`
	Tenant       string `json:"tenant,omitempty"`
	Source       string `json:"source"` // env, settings, or "" when not configured
	Configured   bool   `json:"configured"`
}

type storedProvider struct {
	ClientID, ClientSecret, DiscoveryURL, Tenant, Name string
}

// Providers returns every provider's configuration; environment variables win over settings.
func (s *Service) Providers(ctx context.Context) ([]ProviderConfig, error) {
	stored, err := s.db.Read().Settings(ctx)
	if err != nil {
		return nil, err
	}
	var out []ProviderConfig
	for _, id := range ProviderIDs {
		pc := ProviderConfig{ID: id, Name: providerNames[id]}
		env := func(k string) string { return os.Getenv("TOKENJAR_" + strings.ToUpper(id) + "_" + k) }
		if v := env("CLIENT_ID"); v != "" {
			pc.ClientID, pc.ClientSecret, pc.DiscoveryURL, pc.Tenant, pc.Source = v, env("CLIENT_SECRET"), env("DISCOVERY_URL"), env("TENANT"), "env"
			if n := env("NAME"); n != "" {
				pc.Name = n
			}
		} else if raw, ok := stored["provider."+id]; ok {
			var sp storedProvider
			if json.Unmarshal([]byte(raw), &sp) == nil && sp.ClientID != "" {
				pc.ClientID, pc.ClientSecret, pc.DiscoveryURL, pc.Tenant, pc.Source = sp.ClientID, sp.ClientSecret, sp.DiscoveryURL, sp.Tenant, "settings"
				if sp.Name != "" {
					pc.Name = sp.Name
				}
			}
		}
		pc.Configured = pc.ClientID != "" && pc.ClientSecret != "" && (id != "oidc" || pc.DiscoveryURL != "")
		out = append(out, pc)
	}
	return out, nil
}

// SetProvider stores a provider's settings (admins only). An empty client id removes it.
func (s *Service) SetProvider(ctx context.Context, p Principal, id string, sp storedProviderInput) error {
	if err := p.requireAdmin(); err != nil {
		return err
	}
	if providerNames[id] == "" {
		return Errorf(ENOTFOUND, "no sign-in provider %q; providers are %s", id, strings.Join(ProviderIDs, ", "))
	}
	cur, err := s.db.Read().Settings(ctx)
	if err != nil {
		return err
	}
	var old storedProvider
	_ = json.Unmarshal([]byte(cur["provider."+id]), &old)
	next := storedProvider{ClientID: strings.TrimSpace(sp.ClientID), ClientSecret: old.ClientSecret, DiscoveryURL: strings.TrimSpace(sp.DiscoveryURL),
		Tenant: strings.TrimSpace(sp.Tenant), Name: strings.TrimSpace(sp.Name)}
	if sp.ClientSecret != "" {
		next.ClientSecret = sp.ClientSecret
	}
	if next.ClientID != "" {
		if next.ClientSecret == "" {
			return Invalid("clientSecret", "clientSecret is required")
		}
		if id == "oidc" && !strings.HasPrefix(next.DiscoveryURL, "https://") && !strings.HasPrefix(next.DiscoveryURL, "http://") {
			return Invalid("discoveryUrl", "discoveryUrl must be the provider's .well-known/openid-configuration URL")
		}
	}
	value := ""
	if next.ClientID != "" {
		b, _ := json.Marshal(next)
		value = string(b)
	}
	return s.db.Update(ctx, func(c *db.Conn) error {
		if err := c.PutSetting(ctx, "provider."+id, value); err != nil {
			return err
		}
		return s.auditTx(ctx, c, p.UserID, "settings_changed", "provider "+id, p.IP, "client id "+next.ClientID)
	})
}

// storedProviderInput is what an admin sends for a provider.
type storedProviderInput struct {
	ClientID, ClientSecret, DiscoveryURL, Tenant, Name string
}

// ProviderInput is the exported form of a provider's settings.
type ProviderInput = storedProviderInput

// validEmail tells whether s is a plain email address.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}
