package core

import (
	"context"
	"crypto/rand"
	"errors"
	"math/big"
	"strings"
	"time"

	"tokenjar/db"
)

// noEmailDomain marks members who have no email (students who sign in with a code). The
// .invalid top-level domain is reserved and never delivers mail, so such an address can never
// collide with a real one or be used to sign in.
const noEmailDomain = "@no-email.invalid"

// shownEmail hides the placeholder address of members who have no email.
func shownEmail(email string) string {
	if strings.HasSuffix(email, noEmailDomain) {
		return ""
	}
	return email
}

// SigninCodeTTL is how long a one-time sign-in code works.
const SigninCodeTTL = 14 * 24 * time.Hour

// codeAlphabet leaves out letters and digits that look alike (0/O, 1/I/L).
const codeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

func newSigninCode() string {
	var b strings.Builder
	for i := 0; i < 8; i++ {
		if i == 4 {
			b.WriteByte('-')
		}
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(codeAlphabet))))
		if err != nil {
			panic(err)
		}
		b.WriteByte(codeAlphabet[n.Int64()])
	}
	return b.String()
}

func normalizeCode(code string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		if r >= 'a' && r <= 'z' {
			return r - 32
		}
		return r
	}, code)
}

func (s *Service) putCode(ctx context.Context, c *db.Conn, userID int64, now time.Time) (string, string, error) {
	code := newSigninCode()
	exp := now.Add(SigninCodeTTL)
	err := c.PutSigninCode(ctx, userID, hashSecret(normalizeCode(code)), ms(now), ms(exp))
	return code, exp.UTC().Format(time.RFC3339), err
}

// SigninCode is a one-time code a member signs in with.
type SigninCode struct {
	Code      string `json:"code"`
	ExpiresAt string `json:"expiresAt"`
}

// NewSigninCode makes a fresh one-time sign-in code for a member (admins only), replacing any
// earlier code.
func (s *Service) NewSigninCode(ctx context.Context, p Principal, userID int64) (SigninCode, error) {
	if err := p.requireAdmin(); err != nil {
		return SigninCode{}, err
	}
	var out SigninCode
	err := s.db.Update(ctx, func(c *db.Conn) error {
		u, err := c.UserByID(ctx, userID)
		if errors.Is(err, db.ErrNotFound) {
			return Errorf(ENOTFOUND, "no such member")
		}
		if err != nil {
			return err
		}
		if u.Disabled {
			return Errorf(ECONFLICT, "%s is disabled; enable them first", u.Name)
		}
		out.Code, out.ExpiresAt, err = s.putCode(ctx, c, userID, s.clock.Now())
		return err
	})
	return out, err
}

// LoginWithCode signs a member in with a one-time code. The code works once.
func (s *Service) LoginWithCode(ctx context.Context, code, ip string) (Member, string, Session, error) {
	norm := normalizeCode(code)
	if norm == "" {
		return Member{}, "", Session{}, Invalid("code", "code is required")
	}
	now := s.clock.Now()
	att, wait, err := s.throttle.begin(ctx, now, "", "", ip)
	if err != nil {
		return Member{}, "", Session{}, err
	}
	if wait > 0 {
		return Member{}, "", Session{}, tooManySignins(wait)
	}
	var u db.User
	err = s.db.Update(ctx, func(c *db.Conn) error {
		id, err := c.TakeSigninCode(ctx, hashSecret(norm), ms(now))
		if err != nil {
			return err
		}
		u, err = c.UserByID(ctx, id)
		return err
	})
	if ferr := s.throttle.finish(ctx, s.clock.Now(), att, err == nil && !u.Disabled); ferr != nil {
		return Member{}, "", Session{}, ferr
	}
	if errors.Is(err, db.ErrNotFound) || (err == nil && u.Disabled) {
		s.audit(ctx, 0, "signin_failed", "code", ip, "")
		return Member{}, "", Session{}, &Error{Code: EUNAUTHORIZED, Message: "this code is wrong, used or expired; ask for a new one", Field: "code"}
	}
	if err != nil {
		return Member{}, "", Session{}, err
	}
	id, sess, err := s.openSession(ctx, u.ID)
	if err == nil {
		s.audit(ctx, u.ID, "signin", memberTarget(u.Name, u.Email), ip, "one-time code")
	}
	return memberOf(u), id, sess, err
}
