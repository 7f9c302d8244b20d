package db_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"tokenjar/db"
	"tokenjar/db/dbtest"
)

// receive waits (with a deadline) for the next payload a listener got.
func receive(t *testing.T, got <-chan string, what string) string {
	t.Helper()
	select {
	case p := <-got:
		return p
	case <-time.After(10 * time.Second):
		t.Fatalf("no notice within 10 s: %s", what)
		return ""
	}
}

func listen(d *db.DB, channel string) <-chan string {
	got := make(chan string, 16)
	d.Listen(channel, func(p string) { got <- p })
	return got
}

// Proves: a notice sent after a commit reaches a listener of the same DB, on either engine, and
// a stopped listener gets nothing more. Does not prove anything across processes.
func TestNotifyReachesListenersOfTheSameDB(t *testing.T) {
	d := dbtest.Open(t)
	ctx := context.Background()
	got := make(chan string, 16)
	stop := d.Listen("tj_test", func(p string) { got <- p })
	if err := d.Notify(ctx, "tj_test", "one"); err != nil {
		t.Fatal(err)
	}
	if p := receive(t, got, "one"); p != "one" {
		t.Fatalf("got %q, want one", p)
	}
	stop()
	other := listen(d, "tj_test")
	if err := d.Notify(ctx, "tj_test", "two"); err != nil {
		t.Fatal(err)
	}
	if p := receive(t, other, "two"); p != "two" {
		t.Fatalf("got %q, want two", p)
	}
	select {
	case p := <-got:
		t.Fatalf("a stopped listener got %q", p)
	default:
	}
	if err := d.Notify(ctx, "tj_test", string(make([]byte, db.MaxNotifyPayload+1))); err == nil {
		t.Error("a payload over the limit was sent")
	}
}

// openTwice opens one new database twice, as two replicas do; both close when the test ends.
func openTwice(t *testing.T) (target string, a, b *db.DB) {
	t.Helper()
	target = dbtest.Target(t)
	var err error
	if a, err = db.Open(target); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if b, err = db.Open(target); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return target, a, b
}

func requirePostgres(t *testing.T) {
	t.Helper()
	if dbtest.Engine() != db.Postgres {
		t.Skip("PostgreSQL only: notices between two opens of one database (replicas)")
	}
}

// Proves: on PostgreSQL a notice sent inside a committed write reaches a listener on a second
// db.Open of the same database (another replica), one sent inside a rolled-back write never
// does, and after the listener's connection is killed it reconnects, tells its listener ""
// and gets later notices. Does not prove the delay stays under any bound (no timed assertion).
func TestNoticesBetweenReplicas(t *testing.T) {
	requirePostgres(t)
	target, a, b := openTwice(t)
	ctx := context.Background()
	if err := a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	got := listen(b, "tj_test")

	if err := a.Update(ctx, func(c *db.Conn) error {
		if err := c.PutSetting(ctx, "instanceName", "one"); err != nil {
			return err
		}
		return c.Notify(ctx, "tj_test", "committed")
	}); err != nil {
		t.Fatal(err)
	}
	if p := receive(t, got, "committed write"); p != "committed" {
		t.Fatalf("got %q, want committed", p)
	}

	boom := errors.New("roll back")
	if err := a.Update(ctx, func(c *db.Conn) error {
		if err := c.Notify(ctx, "tj_test", "rolled back"); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("update: %v", err)
	}
	// Notices arrive in commit order: the next one is the marker, not the rolled-back one.
	if err := a.Notify(ctx, "tj_test", "marker"); err != nil {
		t.Fatal(err)
	}
	if p := receive(t, got, "marker"); p != "marker" {
		t.Fatalf("got %q after a rolled-back write, want marker", p)
	}

	// Kill b's listening connection from outside.
	admin, err := sql.Open("pgx", target)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var killed int
	if err := admin.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = 'tokenjar-listen' AND datname = current_database()`).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("terminated %d listening connections, want 1", killed)
	}
	if p := receive(t, got, "reconnect"); p != "" {
		t.Fatalf("after the kill the listener got %q, want \"\" (may have missed notices)", p)
	}
	if err := a.Notify(ctx, "tj_test", "later"); err != nil {
		t.Fatal(err)
	}
	if p := receive(t, got, "after reconnect"); p != "later" {
		t.Fatalf("got %q, want later", p)
	}
}

// Proves: Listen on a new channel while the connection already listens works (the waiting
// connection is woken to LISTEN), and Close ends the listening goroutine.
func TestListenAddsChannelsLater(t *testing.T) {
	requirePostgres(t)
	_, a, b := openTwice(t)
	first := listen(b, "tj_first")
	second := listen(b, "tj_second")
	ctx := context.Background()
	for _, ch := range []string{"tj_second", "tj_first"} {
		if err := a.Notify(ctx, ch, ch); err != nil {
			t.Fatal(err)
		}
	}
	if p := receive(t, second, "second channel"); p != "tj_second" {
		t.Fatalf("got %q", p)
	}
	if p := receive(t, first, "first channel"); p != "tj_first" {
		t.Fatalf("got %q", p)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}
