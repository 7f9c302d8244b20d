package core

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// countCompares replaces the throttle's password check with one that counts its calls. With a
// hold channel, wrong guesses (passwords starting "wrong") stay inside the check until it is
// closed, so a batch of guesses is truly in flight at once; other passwords are checked for real.
func countCompares(h *harness, hold <-chan struct{}) (calls, inside *atomic.Int64) {
	calls, inside = &atomic.Int64{}, &atomic.Int64{}
	h.svc.throttle.compare = func(hash, pw []byte) error {
		calls.Add(1)
		if hold != nil && strings.HasPrefix(string(pw), "wrong") {
			inside.Add(1)
			<-hold
			return bcrypt.ErrMismatchedHashAndPassword
		}
		return bcrypt.CompareHashAndPassword(hash, pw)
	}
	return calls, inside
}

// fastCompares makes wrong guesses (passwords starting "wrong") fail without bcrypt's cost,
// so tests of many attempts stay quick; other passwords are checked for real.
func fastCompares(h *harness) {
	h.svc.throttle.compare = func(hash, pw []byte) error {
		if strings.HasPrefix(string(pw), "wrong") {
			return bcrypt.ErrMismatchedHashAndPassword
		}
		return bcrypt.CompareHashAndPassword(hash, pw)
	}
}

// waitUntil polls cond until it holds or the deadline (10 s) passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Proves: 100 parallel sign-ins at one account from one address get at most throttlePair
// password checks, and the right password sent while those are in flight is refused (429):
// the attempt is counted before the password is checked. The wrong guesses are held inside the
// check until every one of them has either entered it or been refused, so the batch really is
// parallel. Does not prove anything about several replicas (server's
// TestParallelGuessesOverTwoReplicas does, over HTTP).
func TestParallelGuessesAreCountedBeforeThePasswordCheck(t *testing.T) {
	h := newHarness(t, at("2026-11-01T12:00:00Z"))
	hold := make(chan struct{})
	calls, inside := countCompares(h, hold)
	var refused atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 99; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, _, err := h.svc.Login(h.ctx, "owner@example.org", "wrong-guess", "203.0.113.9"); ErrorCode(err) == ERATELIMITED {
				refused.Add(1)
			}
		}()
	}
	waitUntil(t, "every guess checked or refused", func() bool { return inside.Load()+refused.Load() == 99 })
	_, _, _, err := h.svc.Login(h.ctx, "owner@example.org", "password123", "203.0.113.9")
	close(hold)
	wg.Wait()
	if n := calls.Load(); n > throttlePair+1 { // +1: the right password, if it had been let through
		t.Errorf("%d of 100 parallel sign-ins reached the password check, want at most %d", n, throttlePair)
	}
	if ErrorCode(err) != ERATELIMITED {
		t.Errorf("the right password during the batch: %v, want rate_limited", err)
	}
	t.Logf("password checks: %d of 100", calls.Load())
}

// Proves: a stranger's wrong passwords from one address lock out only that address; the owner,
// signing in from another address, gets in. Guessing spread over many addresses hits the
// per-account limit for new addresses, but an address that signed in before is exempt. Does
// not prove the limits survive a restart (they are kept in the database; not tested here).
func TestAStrangerCannotLockTheOwnerOut(t *testing.T) {
	h := newHarness(t, at("2026-11-01T12:00:00Z"))
	fastCompares(h)
	for i := 0; i < throttlePair; i++ {
		if _, _, _, err := h.svc.Login(h.ctx, "owner@example.org", "wrong", "203.0.113.9"); ErrorCode(err) != EUNAUTHORIZED {
			t.Fatal(err)
		}
	}
	if _, _, _, err := h.svc.Login(h.ctx, "owner@example.org", "password123", "203.0.113.9"); ErrorCode(err) != ERATELIMITED {
		t.Fatalf("the guessing address is not locked: %v", err)
	}
	if _, _, _, err := h.svc.Login(h.ctx, "owner@example.org", "password123", "198.51.100.7"); err != nil {
		t.Fatalf("the owner, from home, is locked out by a stranger: %v", err)
	}
	// Guessing from many addresses: each stays under its own limit, the account's is reached.
	for ip := 0; ip*throttlePair < throttleAccount; ip++ {
		for i := 0; i < throttlePair; i++ {
			h.svc.Login(h.ctx, "owner@example.org", "wrong", "203.0.113."+strconv.Itoa(10+ip))
		}
	}
	if _, _, _, err := h.svc.Login(h.ctx, "owner@example.org", "wrong", "192.0.2.1"); ErrorCode(err) != ERATELIMITED {
		t.Fatalf("a fresh address after %d failures at the account: %v", throttleAccount, err)
	}
	if _, _, _, err := h.svc.Login(h.ctx, "owner@example.org", "password123", "198.51.100.7"); err != nil {
		t.Fatalf("the owner's address, trusted since it signed in: %v", err)
	}
	h.clock.Advance(throttleWindow)
	if _, _, _, err := h.svc.Login(h.ctx, "owner@example.org", "password123", "203.0.113.9"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// Proves: one address guessing at many accounts is stopped at throttleIP, for every account.
func TestOneAddressGuessingManyAccountsIsStopped(t *testing.T) {
	h := newHarness(t, at("2026-11-01T12:00:00Z"))
	fastCompares(h)
	for i := 0; i < throttleIP; i++ {
		h.svc.Login(h.ctx, "nobody"+strconv.Itoa(i)+"@example.org", "wrong", "10.0.0.3")
	}
	if _, _, _, err := h.svc.Login(h.ctx, "owner@example.org", "password123", "10.0.0.3"); ErrorCode(err) != ERATELIMITED {
		t.Fatalf("address throttle: %v", err)
	}
}

// Proves: setting a new password lifts the lock on the account (for its owner's address
// too), with nothing but the database changed: ResetPasswordAsOperator runs in another
// process in real use. (The end-to-end run through `tokenjar user reset-password` is in the
// root package's TestResetPasswordLiftsTheSigninLock.)
func TestResetPasswordLiftsTheLock(t *testing.T) {
	h := newHarness(t, at("2026-11-01T12:00:00Z"))
	fastCompares(h)
	for i := 0; i < throttleIP; i++ {
		h.svc.Login(h.ctx, "owner@example.org", "wrong", "10.0.0.1")
	}
	if _, _, _, err := h.svc.Login(h.ctx, "owner@example.org", "password123", "10.0.0.1"); ErrorCode(err) != ERATELIMITED {
		t.Fatalf("not locked: %v", err)
	}
	if err := h.svc.ResetPasswordAsOperator(h.ctx, "owner@example.org", "new-password-1"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := h.svc.Login(h.ctx, "owner@example.org", "new-password-1", "10.0.0.1"); err != nil {
		t.Fatalf("after the reset: %v", err)
	}
}

// Proves: a sign-in with an unknown email, and one for a member without a password, spend a
// password hash comparison like a known email does, so their timing does not tell which
// emails are members. Counts the comparisons; it does not time them.
func TestUnknownEmailsSpendAPasswordComparison(t *testing.T) {
	h := newHarness(t, at("2026-11-01T12:00:00Z"))
	calls, _ := countCompares(h, nil)
	if _, err := h.svc.CreateMember(h.ctx, h.owner, NewMember{Email: "nopassword@example.org", Name: "No password"}); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"owner@example.org", "nobody@example.org", "nopassword@example.org"} {
		before := calls.Load()
		if _, _, _, err := h.svc.Login(h.ctx, email, "wrong-password", "10.0.0.1"); ErrorCode(err) != EUNAUTHORIZED {
			t.Fatalf("%s: %v", email, err)
		}
		if calls.Load() != before+1 {
			t.Errorf("%s: %d password comparisons, want 1", email, calls.Load()-before)
		}
	}
	if cost, err := bcrypt.Cost([]byte(dummyHash())); err != nil || cost != bcrypt.DefaultCost {
		t.Errorf("the dummy hash costs %d (%v), want %d like real passwords", cost, err, bcrypt.DefaultCost)
	}
}

// Proves: a server's warm-up makes the dummy hash before any sign-in, so the first sign-in after
// a start (known email or not) does not pay for making it. Does not time anything: that the
// known and unknown attempts then take alike is bench/abuse's figure.
func TestWarmSignInMakesTheDummyHashBeforeAnySignIn(t *testing.T) {
	h := newHarness(t, at("2026-11-01T12:00:00Z"))
	dummy.once, dummy.hash = sync.Once{}, "" // as in a new process (no test here runs in parallel)
	select {
	case <-h.svc.WarmSignIn():
	case <-time.After(10 * time.Second):
		t.Fatal("the dummy hash was not made in 10 s")
	}
	if cost, err := bcrypt.Cost([]byte(dummy.hash)); err != nil || cost != bcrypt.DefaultCost {
		t.Fatalf("the warm-up made %q (cost %d, %v), want a hash of the real passwords' cost", dummy.hash, cost, err)
	}
}
