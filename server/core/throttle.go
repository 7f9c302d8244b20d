package core

import (
	"context"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"tokenjar/db"
)

// Sign-in limits. A failed attempt counts for throttleWindow. Each limit is checked, and the
// attempt counted, before the password is looked at.
const (
	throttleWindow = 15 * time.Minute
	// throttlePair: wrong passwords for one account from one address. A stranger who guesses
	// locks out only their own address, never the account's owner elsewhere.
	throttlePair = 5
	// throttleIP: failed sign-ins from one address, over all accounts and one-time codes. It is
	// higher than throttlePair since a household or a classroom shares one address.
	throttleIP = 20
	// throttleAccount: wrong passwords for one account from all addresses together, against
	// guessing spread over many addresses. An address that signed in to the account within
	// trustedFor is exempt, so even such guessing does not lock out the people who use it.
	throttleAccount = 100
	trustedFor      = 30 * 24 * time.Hour
)

// An attempt is one sign-in counted by the throttle: in flight until finish, then a failure
// (or dropped, when it succeeded).
type attempt struct {
	id      int64 // its row in signin_attempts
	ip      string
	account string // the normalized email; empty for one-time codes
}

// throttle counts sign-in attempts per account and address, per account, and per address.
// The attempts live in the database (signin_attempts, signin_trust), shared by every replica
// and kept over a restart: N replicas behind a load balancer give a guesser no more guesses
// than one. Each attempt is counted in one write transaction with the check of the limits
// (SQLite's single writer, or PostgreSQL's SERIALIZABLE retried), so parallel attempts on any
// replicas cannot pass a limit together. Failures against an older password generation do not
// count, so a password set from the command line (another process) lifts a lock.
type throttle struct {
	db    *db.DB
	mu    sync.Mutex
	swept time.Time // when this process last swept (see sweep)
	// compare is the password check the throttle guards (a test hook counts it).
	compare func(hash, password []byte) error
}

func newThrottle(d *db.DB) *throttle {
	return &throttle{db: d, compare: bcrypt.CompareHashAndPassword}
}

func tooManySignins(wait time.Duration) error {
	return Errorf(ERATELIMITED, "too many failed sign-ins; try again in %d seconds", int(wait.Seconds())+1)
}

// begin counts an attempt at account (password generation gen) from ip, or returns how long
// the caller must wait. With an empty account only the address is limited (one-time codes).
// The caller must finish the attempt it gets.
func (t *throttle) begin(ctx context.Context, now time.Time, account, gen, ip string) (*attempt, time.Duration, error) {
	t.sweep(ctx, now)
	var a *attempt
	var wait time.Duration
	err := t.db.UpdateKeepingCaches(ctx, func(c *db.Conn) error {
		a, wait = nil, 0 // fn may run again (PostgreSQL)
		since := ms(now.Add(-throttleWindow))
		if account != "" {
			pair, err := c.SigninPairAttempts(ctx, account, gen, ip, since, throttlePair)
			if err != nil {
				return err
			}
			wait = waitFor(now, pair, throttlePair)
			trust, ok, err := c.SigninTrustedAt(ctx, account, ip)
			if err != nil {
				return err
			}
			if !ok || now.Sub(fromMS(trust)) > trustedFor {
				acct, err := c.SigninAccountAttempts(ctx, account, gen, since, throttleAccount)
				if err != nil {
					return err
				}
				wait = max(wait, waitFor(now, acct, throttleAccount))
			}
		}
		// Failures at this account against an older password do not hold its owner back.
		fromIP, err := c.SigninAddressAttempts(ctx, ip, account, gen, since, throttleIP)
		if err != nil {
			return err
		}
		wait = max(wait, waitFor(now, fromIP, throttleIP))
		if wait > 0 {
			return nil
		}
		id, err := c.AddSigninAttempt(ctx, ms(now), ip, account, gen)
		a = &attempt{id: id, ip: ip, account: account}
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return a, wait, nil
}

// finish records how an attempt ended. A success is not a failure: it is dropped, the
// account's failures from that address are cleared, and the address is trusted for the account.
func (t *throttle) finish(ctx context.Context, now time.Time, a *attempt, ok bool) error {
	if a == nil || !ok {
		return nil
	}
	return t.db.UpdateKeepingCaches(ctx, func(c *db.Conn) error {
		return c.SigninSucceeded(ctx, a.id, a.account, a.ip, ms(now))
	})
}

// waitFor returns how long until fewer than limit of the attempts are within the window, or 0
// if there are fewer already. newest are the times of the newest attempts, newest first (at
// most limit of them).
func waitFor(now time.Time, newest []int64, limit int) time.Duration {
	if len(newest) < limit {
		return 0
	}
	return max(throttleWindow-now.Sub(fromMS(newest[limit-1])), time.Second)
}

// sweep deletes what has expired, once a window per process, so addresses and emails that are
// never seen again do not stay in the database. A failed sweep is tried again next window.
func (t *throttle) sweep(ctx context.Context, now time.Time) {
	t.mu.Lock()
	due := now.Sub(t.swept) >= throttleWindow
	if due {
		t.swept = now
	}
	t.mu.Unlock()
	if !due {
		return
	}
	t.db.UpdateKeepingCaches(ctx, func(c *db.Conn) error {
		return c.SweepSignins(ctx, ms(now.Add(-throttleWindow)), ms(now.Add(-trustedFor)))
	})
}
