package core

import (
	"context"
	"errors"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"tokenjar/db"
)

// Login checks a password and opens a session. It returns the session id (for the cookie).
//
// The attempt is counted by the throttle before the password is checked, so parallel guesses
// cannot pass the limits together. Every attempt spends one bcrypt comparison, against a
// dummy hash of the same cost when the email is unknown or has no password, so the answer's
// timing does not tell which emails are members.
func (s *Service) Login(ctx context.Context, email, password, ip string) (Member, string, Session, error) {
	email = strings.TrimSpace(strings.ToLower(email))
	if email == "" {
		return Member{}, "", Session{}, Invalid("email", "email is required")
	}
	if password == "" {
		return Member{}, "", Session{}, Invalid("password", "password is required")
	}
	u, err := s.db.Read().UserByEmail(ctx, email)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return Member{}, "", Session{}, err
	}
	known := err == nil && u.PasswordHash != ""
	hash, gen := dummyHash(), ""
	if known {
		hash, gen = u.PasswordHash, passwordGeneration(u.PasswordHash)
	}
	att, wait, err := s.throttle.begin(ctx, s.clock.Now(), email, gen, ip)
	if err != nil {
		return Member{}, "", Session{}, err
	}
	if wait > 0 {
		return Member{}, "", Session{}, tooManySignins(wait)
	}
	ok := s.throttle.compare([]byte(hash), []byte(password)) == nil && known && !u.Disabled
	if err := s.throttle.finish(ctx, s.clock.Now(), att, ok); err != nil {
		return Member{}, "", Session{}, err
	}
	if !ok {
		s.audit(ctx, u.ID, "signin_failed", email, ip, "password")
		return Member{}, "", Session{}, Errorf(EUNAUTHORIZED, "wrong email or password")
	}
	id, sess, err := s.openSession(ctx, u.ID)
	if err == nil {
		s.audit(ctx, u.ID, "signin", memberTarget(u.Name, u.Email), ip, "password")
	}
	return memberOf(u), id, sess, err
}

// WarmSignIn makes the dummy hash in the background. Made on first use, it cost the first
// sign-in after a start a second bcrypt hashing, known email or not: a gap between the first
// attempts at known and unknown emails that looked like an oracle (bench/abuse: 69 against 54 ms,
// the mean of four each, known first).
// The channel it returns is closed once the hash is made.
func (s *Service) WarmSignIn() <-chan struct{} {
	made := make(chan struct{})
	go func() {
		dummyHash()
		close(made)
	}()
	return made
}

var dummy struct {
	once sync.Once
	hash string
}

// dummyHash is a bcrypt hash of the cost real passwords get, made once on first use (not at
// start, so the command line does not pay for it), for sign-ins without a real hash.
func dummyHash() string {
	dummy.once.Do(func() {
		plain, _ := secret("")
		h, err := bcrypt.GenerateFromPassword([]byte(plain), bcrypt.DefaultCost)
		if err != nil {
			panic(err) // only for a cost out of range
		}
		dummy.hash = string(h)
	})
	return dummy.hash
}

// passwordGeneration names the password a failed sign-in was made against. A new password
// (from the member, an admin, or `tokenjar user reset-password` in another process) always
// has a new bcrypt salt and so a new generation, and the throttle counts failures against the
// current generation only: setting a password lifts the lock on the account.
func passwordGeneration(hash string) string {
	return hashSecret(hash)[:16]
}
