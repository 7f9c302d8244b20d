package core

import (
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
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
	at      time.Time
	ip      string
	account string // the normalized email; empty for one-time codes
	gen     string // the account's password generation at the time (see passwordGeneration)
}

// throttle counts sign-in attempts per account and address, per account, and per address.
// It lives in the server's memory: a restart forgets it. Failures against an older password
// generation do not count, so a password set from the command line (another process) lifts a
// lock without the server being told.
type throttle struct {
	mu        sync.Mutex
	byAccount map[string][]*attempt
	byIP      map[string][]*attempt
	trusted   map[string]time.Time // account + "\x00" + ip → last successful sign-in
	swept     time.Time
	// compare is the password check the throttle guards (a test hook counts it).
	compare func(hash, password []byte) error
}

func newThrottle() *throttle {
	return &throttle{byAccount: map[string][]*attempt{}, byIP: map[string][]*attempt{}, trusted: map[string]time.Time{},
		compare: bcrypt.CompareHashAndPassword}
}

func tooManySignins(wait time.Duration) error {
	return Errorf(ERATELIMITED, "too many failed sign-ins; try again in %d seconds", int(wait.Seconds())+1)
}

// begin counts an attempt at account (password generation gen) from ip, or returns how long
// the caller must wait. With an empty account only the address is limited (one-time codes).
// The caller must finish the attempt it gets.
func (t *throttle) begin(now time.Time, account, gen, ip string) (*attempt, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweep(now)
	var pair, acct []*attempt
	if account != "" {
		t.byAccount[account] = live(now, t.byAccount[account])
		for _, a := range t.byAccount[account] {
			if a.gen != gen {
				continue
			}
			acct = append(acct, a)
			if a.ip == ip {
				pair = append(pair, a)
			}
		}
	}
	t.byIP[ip] = live(now, t.byIP[ip])
	var fromIP []*attempt
	for _, a := range t.byIP[ip] {
		// Failures at this account against an older password do not hold its owner back.
		if account != "" && a.account == account && a.gen != gen {
			continue
		}
		fromIP = append(fromIP, a)
	}
	wait := max(waitFor(now, pair, throttlePair), waitFor(now, fromIP, throttleIP))
	if trust, ok := t.trusted[account+"\x00"+ip]; !ok || now.Sub(trust) > trustedFor {
		wait = max(wait, waitFor(now, acct, throttleAccount))
	}
	if wait > 0 {
		return nil, wait
	}
	a := &attempt{at: now, ip: ip, account: account, gen: gen}
	if account != "" {
		t.byAccount[account] = append(t.byAccount[account], a)
	}
	t.byIP[ip] = append(t.byIP[ip], a)
	return a, 0
}

// finish records how an attempt ended. A success is not a failure: it is dropped, the
// account's failures from that address are cleared, and the address is trusted for the account.
func (t *throttle) finish(now time.Time, a *attempt, ok bool) {
	if a == nil || !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.byIP[a.ip] = remove(t.byIP[a.ip], func(b *attempt) bool { return b == a })
	if a.account != "" {
		t.byAccount[a.account] = remove(t.byAccount[a.account], func(b *attempt) bool { return b.ip == a.ip })
		t.byIP[a.ip] = remove(t.byIP[a.ip], func(b *attempt) bool { return b.account == a.account })
		t.trusted[a.account+"\x00"+a.ip] = now
	}
}

// waitFor returns how long until fewer than limit of the attempts (oldest first) are within
// the window, or 0 if there are fewer already.
func waitFor(now time.Time, as []*attempt, limit int) time.Duration {
	if len(as) < limit {
		return 0
	}
	return max(throttleWindow-now.Sub(as[len(as)-limit].at), time.Second)
}

func live(now time.Time, as []*attempt) []*attempt {
	return remove(as, func(a *attempt) bool { return now.Sub(a.at) >= throttleWindow })
}

func remove(as []*attempt, drop func(*attempt) bool) []*attempt {
	keep := as[:0]
	for _, a := range as {
		if !drop(a) {
			keep = append(keep, a)
		}
	}
	clear(as[len(keep):])
	return keep
}

// sweep forgets what has expired, once a window, so addresses and emails that are never seen
// again do not stay in memory.
func (t *throttle) sweep(now time.Time) {
	if now.Sub(t.swept) < throttleWindow {
		return
	}
	t.swept = now
	for _, m := range []map[string][]*attempt{t.byAccount, t.byIP} {
		for k, as := range m {
			if as = live(now, as); len(as) == 0 {
				delete(m, k)
			} else {
				m[k] = as
			}
		}
	}
	for k, at := range t.trusted {
		if now.Sub(at) > trustedFor {
			delete(t.trusted, k)
		}
	}
}
