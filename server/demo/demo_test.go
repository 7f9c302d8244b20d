package demo

import (
	"context"
	"testing"
	"time"

	"tokenjar/db"
	"tokenjar/db/dbtest"
	"tokenjar/server/core"
)

func open(t *testing.T) (*db.DB, *core.Service, *Clock, string) {
	t.Helper()
	dir := t.TempDir()
	d := dbtest.Open(t)
	clock := &Clock{}
	clock.Set(time.Now())
	svc, err := core.New(context.Background(), d, clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return d, svc, clock, dir
}

func count(t *testing.T, d *db.DB, q string) int64 {
	var n int64
	if err := d.Read().QueryRowForTest(context.Background(), q, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func consistent(t *testing.T, d *db.DB) {
	t.Helper()
	bad, err := d.Read().CheckLedger(context.Background())
	if err != nil || len(bad) > 0 {
		t.Fatalf("ledger: %v %v", bad, err)
	}
}

func TestFamilyDemoIsConsistent(t *testing.T) {
	d, svc, clock, dir := open(t)
	if _, err := Family(context.Background(), svc, clock, dir, time.Now(), 1); err != nil {
		t.Fatal(err)
	}
	consistent(t, d)
	if n := count(t, d, `SELECT count(*) FROM usage_events`); n < 1000 {
		t.Fatalf("only %d events", n)
	}
	for _, q := range []string{
		`SELECT count(*) FROM usage_events WHERE delegation_id IS NOT NULL`, // allowances were used
		`SELECT count(*) FROM ledger WHERE action = 'expire'`,               // promo credits expired
		`SELECT count(*) FROM ledger WHERE action = 'refresh'`,              // monthly plans refreshed
		`SELECT count(*) FROM ledger WHERE action = 'refund'`,
		`SELECT count(*) FROM users WHERE debt > 0`,
	} {
		if count(t, d, q) == 0 {
			t.Errorf("the family demo has none of: %s", q)
		}
	}
	// The rollups agree with the events they summarise.
	if a, b := count(t, d, `SELECT coalesce(sum(requests),0) FROM usage_daily`), count(t, d, `SELECT count(*) FROM usage_events`); a != b {
		t.Fatalf("rollups count %d requests, events %d", a, b)
	}
	if a, b := count(t, d, `SELECT coalesce(sum(credits),0) FROM usage_daily`), count(t, d, `SELECT coalesce(sum(credits),0) FROM usage_events WHERE charged = 1 AND refunded_at IS NULL`); a != b {
		t.Fatalf("rollups sum %d credits, events %d", a, b)
	}
}

func TestScaleDemoWritesExactlyN(t *testing.T) {
	if testing.Short() {
		t.Skip("walks two years of jobs")
	}
	d, svc, clock, dir := open(t)
	info, err := Scale(context.Background(), svc, clock, dir, time.Now(), 5000, 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	consistent(t, d)
	if info.Events != 5000 || count(t, d, `SELECT count(*) FROM usage_events`) != 5000 {
		t.Fatalf("events: info %d, stored %d", info.Events, count(t, d, `SELECT count(*) FROM usage_events`))
	}
	if len(info.Members) != 200 || len(info.Apps) != 20 || len(info.Models) != 30 || len(info.Granters) != 20 {
		t.Fatalf("shape: %d members %d apps %d models %d granters", len(info.Members), len(info.Apps), len(info.Models), len(info.Granters))
	}
	if n := count(t, d, `SELECT count(DISTINCT model) FROM usage_events`); n < 25 {
		t.Fatalf("only %d models used", n)
	}
	if a, b := count(t, d, `SELECT coalesce(sum(credits),0) FROM usage_daily`), count(t, d, `SELECT coalesce(sum(credits),0) FROM usage_events WHERE charged = 1`); a != b {
		t.Fatalf("rollups sum %d credits, events %d", a, b)
	}
}
