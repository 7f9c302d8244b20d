package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"tokenjar/db"
)

// Login checks a password and opens a session. It returns the session id (for the cookie).
func (s *Service) Login(ctx context.Context, email, password, ip string) (Member, string, Session, error) {
	email = strings.TrimSpace(strings.ToLower(email))
	if email == "" {
		return Member{}, "", Session{}, Invalid("email", "email is required")
	}
	if password == "" {
		return Member{}, "", Session{}, Invalid("password", "password is required")
	}
	now := s.clock.Now()
	if wait := s.throttle.blocked(now, "acct:"+email, "ip:"+ip); wait > 0 {
		return Member{}, "", Session{}, Errorf(ERATELIMITED, "too many failed sign-ins; try again in %d seconds", int(wait.Seconds())+1)
	}
	u, err := s.db.Read().UserByEmail(ctx, email)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return Member{}, "", Session{}, err
	}
	ok := err == nil && u.PasswordHash != "" && bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) == nil
	if !ok || u.Disabled {
		s.throttle.fail(now, "acct:"+email, "ip:"+ip)
		s.audit(ctx, u.ID, "signin_failed", email, ip, "password")
		return Member{}, "", Session{}, Errorf(EUNAUTHORIZED, "wrong email or password")
	}
	s.throttle.reset("acct:" + email)
	id, sess, err := s.openSession(ctx, u.ID)
	if err == nil {
		s.audit(ctx, u.ID, "signin", fmt.Sprintf("member %d", u.ID), ip, "password")
	}
	return memberOf(u), id, sess, err
}

// throttle counts failed sign-ins per account and per address.
type throttle struct {
	mu    sync.Mutex
	fails map[string][]time.Time
}

const (
	throttleWindow  = 15 * time.Minute
	throttleAccount = 5
	throttleIP      = 20
)

func newThrottle() *throttle { return &throttle{fails: map[string][]time.Time{}} }

func (t *throttle) recent(now time.Time, key string) []time.Time {
	var keep []time.Time
	for _, f := range t.fails[key] {
		if now.Sub(f) < throttleWindow {
			keep = append(keep, f)
		}
	}
	if keep == nil {
		delete(t.fails, key)
	} else {
		t.fails[key] = keep
	}
	return keep
}

// blocked returns how long the caller must wait, or 0. Keys starting "ip:" allow more
// failures than account keys, since a household or a classroom shares one address.
func (t *throttle) blocked(now time.Time, keys ...string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, key := range keys {
		limit := throttleAccount
		if strings.HasPrefix(key, "ip:") {
			limit = throttleIP
		}
		if f := t.recent(now, key); len(f) >= limit {
			return throttleWindow - now.Sub(f[len(f)-limit])
		}
	}
	return 0
}

func (t *throttle) fail(now time.Time, keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		t.fails[k] = append(t.recent(now, k), now)
	}
}

func (t *throttle) reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.fails, key)
}
