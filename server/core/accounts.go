package core

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"tokenjar/db"
)

// Session lifetimes.
const (
	SessionIdle     = 7 * 24 * time.Hour
	SessionAbsolute = 30 * 24 * time.Hour
)

func hashPassword(pw string) (string, error) {
	if pw == "" {
		return "", nil
	}
	b, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	return string(b), err
}

// SetupNeeded tells whether the instance still has no user.
func (s *Service) SetupNeeded(ctx context.Context) (bool, error) {
	n, err := s.db.Read().CountUsers(ctx)
	return n == 0, err
}

// SetupResult is the first owner and a personal token for them.
type SetupResult struct {
	User  Member `json:"user"`
	Token string `json:"token"`
}

// StartingCredits are the credits the first owner gives themselves at setup: monthly credits
// (this cycle's whole amount at once, then again at each cycle start) and a one-off top-up.
type StartingCredits struct {
	MonthlyCredits Credits
	TopUpCredits   Credits
}

// Setup creates the first owner, only while no user exists.
func (s *Service) Setup(ctx context.Context, m NewMember, settings SettingsUpdate) (SetupResult, error) {
	return s.SetupWith(ctx, m, settings, StartingCredits{})
}

// SetupWith is Setup with the owner's starting credits.
func (s *Service) SetupWith(ctx context.Context, m NewMember, settings SettingsUpdate, start StartingCredits) (SetupResult, error) {
	m.Role = RoleOwner
	if m.Password == "" {
		return SetupResult{}, Invalid("password", "password is required")
	}
	if err := validateMember(&m); err != nil {
		return SetupResult{}, err
	}
	next, err := validateSettings(s.Settings(), settings)
	if err != nil {
		return SetupResult{}, err
	}
	if start.MonthlyCredits < 0 {
		return SetupResult{}, Invalid("monthlyCredits", "monthlyCredits must be 0 or more")
	}
	if start.TopUpCredits < 0 {
		return SetupResult{}, Invalid("topUpCredits", "topUpCredits must be 0 or more")
	}
	hash, err := hashPassword(m.Password)
	if err != nil {
		return SetupResult{}, err
	}
	var res SetupResult
	err = s.db.Update(ctx, func(c *db.Conn) error {
		n, err := c.CountUsers(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return Errorf(ECONFLICT, "setup is done already; sign in instead")
		}
		if err := s.storeSettings(ctx, c, next); err != nil {
			return err
		}
		res, err = s.createOwner(ctx, c, m, hash, CycleAt(s.clock.Now(), next.Location), start)
		return err
	})
	if err != nil {
		return SetupResult{}, err
	}
	s.settings.mu.Lock()
	s.settings.s = next
	s.settings.mu.Unlock()
	s.announce("c " + cacheSettings)
	return res, nil
}

// createOwner writes the first owner, their starting credits and a personal token, inside a write.
// The monthly credits of the cycle cy are granted whole at once, and the cycle is marked granted,
// so the refresh job does not grant them a second time.
func (s *Service) createOwner(ctx context.Context, c *db.Conn, m NewMember, hash string, cy Cycle, start StartingCredits) (SetupResult, error) {
	t := s.clock.Now()
	now := ms(t)
	id, err := c.InsertUser(ctx, db.User{Email: m.Email, Name: m.Name, Role: RoleOwner, PasswordHash: hash,
		PlanCredits: int64(start.MonthlyCredits), CreatedAt: now})
	if err != nil {
		return SetupResult{}, err
	}
	w, err := openWallet(ctx, c, id, now)
	if err != nil {
		return SetupResult{}, err
	}
	if _, err := s.grantCycle(ctx, c, w, cy, int64(start.MonthlyCredits), t); err != nil {
		return SetupResult{}, err
	}
	if start.TopUpCredits > 0 {
		if _, err := w.creditIn("topup", db.Bucket{Kind: KindAddon, Granted: int64(start.TopUpCredits), Note: "starting credits"}, "starting credits"); err != nil {
			return SetupResult{}, err
		}
	}
	if err := w.save(); err != nil {
		return SetupResult{}, err
	}
	plain, th := secret("tj_pat_")
	if _, err := c.InsertToken(ctx, db.Key{OwnerID: id, Name: "setup", Prefix: plain[:12], CreatedAt: now}, th); err != nil {
		return SetupResult{}, err
	}
	u, err := c.UserByID(ctx, id)
	return SetupResult{User: memberOf(u), Token: plain}, err
}

// Session is a browser sign-in as the server hands it to the cookie layer.
type Session struct {
	CSRF      string
	ExpiresAt time.Time
}

func (s *Service) openSession(ctx context.Context, userID int64) (string, Session, error) {
	plain, hash := secret("")
	csrf, _ := secret("")
	now := s.clock.Now()
	exp := now.Add(SessionAbsolute)
	err := s.db.Update(ctx, func(c *db.Conn) error {
		return c.InsertSession(ctx, hash, db.Session{UserID: userID, CSRF: csrf, CreatedAt: ms(now), LastSeenAt: ms(now), ExpiresAt: ms(exp)})
	})
	return plain, Session{CSRF: csrf, ExpiresAt: exp}, err
}

// OpenSessionFor starts a session for a member who proved themselves another way (setup).
func (s *Service) OpenSessionFor(ctx context.Context, userID int64) (string, Session, error) {
	return s.openSession(ctx, userID)
}

// AuthenticateSession resolves a session cookie, enforcing idle and absolute expiry.
func (s *Service) AuthenticateSession(ctx context.Context, sessionID string) (Principal, error) {
	hash := hashSecret(sessionID)
	r := s.db.Read()
	sess, err := r.SessionByHash(ctx, hash)
	if errors.Is(err, db.ErrNotFound) {
		return Principal{}, Errorf(EUNAUTHORIZED, "your session has ended; sign in again")
	}
	if err != nil {
		return Principal{}, err
	}
	now := s.clock.Now()
	if ms(now) >= sess.ExpiresAt || now.Sub(fromMS(sess.LastSeenAt)) > SessionIdle {
		return Principal{}, Errorf(EUNAUTHORIZED, "your session has expired; sign in again")
	}
	u, err := r.UserByID(ctx, sess.UserID)
	if err != nil {
		return Principal{}, s.authErr(err)
	}
	if u.Disabled {
		return Principal{}, Errorf(EUNAUTHORIZED, "this member is disabled")
	}
	if now.Sub(fromMS(sess.LastSeenAt)) > time.Minute {
		// Best effort: a failed touch only shortens the idle window.
		_ = s.db.Update(ctx, func(c *db.Conn) error { return c.TouchSession(ctx, hash, ms(now)) })
	}
	return Principal{Via: ViaSession, UserID: u.ID, Role: u.Role, Email: u.Email, Name: u.Name, SessionHash: hash, CSRF: sess.CSRF}, nil
}

// Logout ends the caller's session.
func (s *Service) Logout(ctx context.Context, p Principal) error {
	if p.SessionHash == "" {
		return nil
	}
	err := s.db.Update(ctx, func(c *db.Conn) error { return c.DeleteSession(ctx, p.SessionHash) })
	if err == nil {
		s.credentialsEnded(credentialEnd{userID: p.UserID, session: p.SessionHash})
	}
	return err
}

// Me returns the caller as a member.
func (s *Service) Me(ctx context.Context, p Principal) (Member, error) {
	if err := p.requireUser(); err != nil {
		return Member{}, err
	}
	u, err := s.db.Read().UserByID(ctx, p.UserID)
	if err != nil {
		return Member{}, err
	}
	return memberOf(u), nil
}

// TokenInfo is a personal token or app key as listed (never with its secret).
type TokenInfo struct {
	ID         int64   `json:"id"`
	Name       string  `json:"name,omitempty"`
	Prefix     string  `json:"prefix"`
	CreatedAt  string  `json:"createdAt"`
	LastUsedAt *string `json:"lastUsedAt"`
	RevokedAt  *string `json:"revokedAt,omitempty"`
	// DelegationID is the allowance the token or key bills, when it is bound to one.
	DelegationID *int64 `json:"delegationId"`
}

func optTime(v sql.NullInt64) *string {
	if !v.Valid {
		return nil
	}
	s := fromMS(v.Int64).Format(time.RFC3339)
	return &s
}

func tokenInfo(k db.Key) TokenInfo {
	info := TokenInfo{ID: k.ID, Name: k.Name, Prefix: k.Prefix, CreatedAt: fromMS(k.CreatedAt).Format(time.RFC3339),
		LastUsedAt: optTime(k.LastUsedAt), RevokedAt: optTime(k.RevokedAt)}
	if k.DelegationID.Valid {
		v := k.DelegationID.Int64
		info.DelegationID = &v
	}
	return info
}

// NewToken is a freshly made secret, shown once.
type NewToken struct {
	TokenInfo
	Token string `json:"token"`
}

// CreateToken makes a personal token for the caller.
func (s *Service) CreateToken(ctx context.Context, p Principal, name string, delegationID int64) (NewToken, error) {
	if err := p.requireUser(); err != nil {
		return NewToken{}, err
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return NewToken{}, Invalid("name", "name must be 1 to 100 characters")
	}
	plain, hash := secret("tj_pat_")
	k := db.Key{OwnerID: p.UserID, Name: name, Prefix: plain[:12], CreatedAt: ms(s.clock.Now())}
	if delegationID != 0 {
		k.DelegationID = sql.NullInt64{Int64: delegationID, Valid: true}
	}
	err := s.db.Update(ctx, func(c *db.Conn) error {
		if delegationID != 0 {
			d, err := c.DelegationByID(ctx, delegationID)
			if errors.Is(err, db.ErrNotFound) || (err == nil && d.GranteeID != p.UserID) {
				return Invalid("delegationId", "delegation %d is not one you receive", delegationID)
			}
			if err != nil {
				return err
			}
		}
		id, err := c.InsertToken(ctx, k, hash)
		k.ID = id
		if err != nil {
			return err
		}
		return s.auditTx(ctx, c, p.UserID, "token_created", fmt.Sprintf("token %d", id), p.IP, name+" "+k.Prefix)
	})
	return NewToken{TokenInfo: tokenInfo(k), Token: plain}, err
}

// ListTokens lists the caller's live tokens.
func (s *Service) ListTokens(ctx context.Context, p Principal) ([]TokenInfo, error) {
	if err := p.requireUser(); err != nil {
		return nil, err
	}
	ks, err := s.db.Read().ListTokens(ctx, p.UserID)
	out := []TokenInfo{}
	for _, k := range ks {
		if !k.RevokedAt.Valid {
			out = append(out, tokenInfo(k))
		}
	}
	return out, err
}

// RevokeToken revokes one of the caller's tokens at once.
func (s *Service) RevokeToken(ctx context.Context, p Principal, id int64) error {
	if err := p.requireUser(); err != nil {
		return err
	}
	err := s.db.Update(ctx, func(c *db.Conn) error {
		if err := c.RevokeToken(ctx, p.UserID, id, ms(s.clock.Now())); err != nil {
			return err
		}
		return s.auditTx(ctx, c, p.UserID, "token_revoked", fmt.Sprintf("token %d", id), p.IP, "")
	})
	if errors.Is(err, db.ErrNotFound) {
		return Errorf(ENOTFOUND, "no token %d", id)
	}
	if err == nil {
		s.credentialsEnded(credentialEnd{userID: p.UserID, tokenID: id})
	} else {
		s.keys.clear()
	}
	return err
}

var slugRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

func slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.TrimRight(b.String(), "-")
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-")
	}
	if s == "" {
		s = "app"
	}
	return s
}

// Operator is the principal of the server's own command line: an owner's rights, and it may
// report usage for any member and app (the demo generator does).
var Operator = Principal{Via: ViaOperator, UserID: -1, Role: RoleOwner}

// CreateMemberAsOperator creates a member from the command line, with an owner's rights.
func (s *Service) CreateMemberAsOperator(ctx context.Context, m NewMember) (Member, error) {
	return s.CreateMember(ctx, Operator, m)
}

// ResetPasswordAsOperator sets a member's password from the command line and ends their sessions.
func (s *Service) ResetPasswordAsOperator(ctx context.Context, email, password string) error {
	if len(password) < 8 || len(password) > 72 {
		return Invalid("password", "password must be 8 to 72 characters")
	}
	hash, err := hashPassword(password)
	if err != nil {
		return err
	}
	var userID int64
	err = s.db.Update(ctx, func(c *db.Conn) error {
		u, err := c.UserByEmail(ctx, email)
		if errors.Is(err, db.ErrNotFound) {
			return Invalid("email", "no member with this email")
		}
		if err != nil {
			return err
		}
		if err := c.SetPassword(ctx, u.ID, hash); err != nil {
			return err
		}
		userID = u.ID
		return c.DeleteUserSessions(ctx, u.ID)
	})
	if err == nil {
		// The server (every replica of it) closes the live views of the ended sessions.
		s.credentialsEnded(credentialEnd{userID: userID, allSessions: true})
	}
	return err
}
