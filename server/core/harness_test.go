package core

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"tokenjar/db"
	"tokenjar/db/dbtest"
)

// fakeClock is a settable clock: expiry and cycles are tested without sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Set(t time.Time) {
	f.mu.Lock()
	f.t = t
	f.mu.Unlock()
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

type harness struct {
	t     *testing.T
	ctx   context.Context
	svc   *Service
	db    *db.DB
	clock *fakeClock
	owner Principal
	app   Principal // an app key's principal
	dir   string
	// target is the database (file or URL) d opened: a second pool opens it again to write as
	// another process or replica would.
	target string
}

// newHarness opens a fresh database file (never :memory:, whose pooled connections would each
// see a different database), with an owner and one app.
func newHarness(t *testing.T, start time.Time) *harness {
	t.Helper()
	dir := t.TempDir()
	target := dbtest.Target(t)
	d, err := db.Open(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	ctx := context.Background()
	if err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: start}
	svc, err := New(ctx, d, clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	h := &harness{t: t, ctx: ctx, svc: svc, db: d, clock: clock, dir: dir, target: target}
	tz := "UTC"
	res, err := svc.Setup(ctx, NewMember{Email: "owner@example.org", Name: "Owner", Password: "password123"}, SettingsUpdate{TimeZone: &tz})
	if err != nil {
		t.Fatal(err)
	}
	if h.owner, err = svc.AuthenticateBearer(ctx, res.Token); err != nil {
		t.Fatal(err)
	}
	app, err := svc.CreateApp(ctx, h.owner, "Test App", "")
	if err != nil {
		t.Fatal(err)
	}
	if h.app, err = svc.AuthenticateBearer(ctx, app.Key); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) member(name string) int64 {
	h.t.Helper()
	m, err := h.svc.CreateMember(h.ctx, h.owner, NewMember{Email: name + "@example.org", Name: name})
	if err != nil {
		h.t.Fatal(err)
	}
	return m.ID
}

func (h *harness) grant(user int64, kind string, credits Credits, expires *time.Time) int64 {
	h.t.Helper()
	res, err := h.svc.Grant(h.ctx, h.owner, user, NewGrant{Kind: kind, Credits: credits, ExpiresAt: expires})
	if err != nil {
		h.t.Fatal(err)
	}
	return res.BucketID
}

func (h *harness) charge(user int64, credits Credits) ChargeResult {
	h.t.Helper()
	res, _, err := h.svc.ChargeUsage(h.ctx, h.app, UsageReport{AIAgentID: "test-app", UserID: user, Description: "test",
		UsageType: "api_call", Credits: &credits, ChargeUser: true})
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

func (h *harness) balance(user int64) Balance {
	h.t.Helper()
	b, err := h.svc.Balance(h.ctx, h.app, user, "")
	if err != nil {
		h.t.Fatal(err)
	}
	return b
}

func (h *harness) remaining(bucket int64) Credits {
	h.t.Helper()
	b, err := h.db.Read().BucketByID(h.ctx, bucket)
	if err != nil {
		h.t.Fatal(err)
	}
	return Credits(b.Remaining)
}

func (h *harness) checkInvariant() {
	h.t.Helper()
	bad, err := h.db.Read().CheckLedger(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, b := range bad {
		h.t.Error("ledger invariant:", b)
	}
	if len(bad) > 0 {
		h.t.FailNow()
	}
}

func (h *harness) ledgerActions(user int64) []string {
	h.t.Helper()
	rows, err := h.db.Read().LedgerBetween(h.ctx, user, 0, 1<<62)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s %d b%d", r.Action, r.Amount, r.BucketID.Int64))
	}
	return out
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr[T any](v T) *T { return &v }

func filepathGlob(p string) ([]string, error) { return filepath.Glob(p) }
