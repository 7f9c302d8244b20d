package db

import (
	"context"
	"errors"
	"testing"
	"time"
)

// gateSync replaces the writer's fsync with one that reports each call on calls and returns
// only when the test sends its result on release.
func gateSync(d *DB) (calls chan struct{}, release chan error) {
	calls, release = make(chan struct{}, 16), make(chan error)
	d.writer.sync = func() error {
		calls <- struct{}{}
		return <-release
	}
	return calls, release
}

func insertApp(d *DB, slug string) error {
	ctx := context.Background()
	return d.Update(ctx, func(c *Conn) error {
		_, err := c.InsertApp(ctx, App{Slug: slug, Name: slug, CreatedAt: 1})
		return err
	})
}

// No caller learns that its write succeeded before the write is on disk, and a reader that
// answers from committed data waits for the disk too; meanwhile the writer goes on committing.
func TestWritesAreAnsweredOnlyAfterTheSync(t *testing.T) {
	d := openTest(t)
	calls, release := gateSync(d)

	first := make(chan error, 1)
	go func() { first <- insertApp(d, "first") }()
	<-calls // committed, and its sync has begun
	if n := countRows(t, d, `SELECT count(*) FROM apps WHERE slug = 'first'`); n != 1 {
		t.Fatalf("first is not committed while its sync runs (%d rows)", n)
	}
	waitBriefly := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		return d.WaitDurable(ctx)
	}
	if err := waitBriefly(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitDurable returned %v while a commit was not yet on disk", err)
	}

	// The writer does not wait for the disk: a second write commits during the first's sync.
	second := make(chan error, 1)
	go func() { second <- insertApp(d, "second") }()
	deadline := time.Now().Add(5 * time.Second)
	for countRows(t, d, `SELECT count(*) FROM apps WHERE slug = 'second'`) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the second write did not commit while the first one's sync ran")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-first:
		t.Fatalf("first was answered (%v) before its sync finished", err)
	case err := <-second:
		t.Fatalf("second was answered (%v) before any sync covering it", err)
	case <-time.After(50 * time.Millisecond):
	}

	release <- nil // the first sync
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	<-calls // the second commit's sync
	if err := waitBriefly(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitDurable returned %v while the second commit was not yet on disk", err)
	}
	select {
	case err := <-second:
		t.Fatalf("second was answered (%v) before its own sync", err)
	case <-time.After(20 * time.Millisecond):
	}
	release <- nil
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	if err := d.WaitDurable(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A failed fsync is reported to the callers whose commits it held, never as a success.
func TestAFailedSyncFailsItsWrites(t *testing.T) {
	d := openTest(t)
	calls, release := gateSync(d)
	done := make(chan error, 1)
	go func() { done <- insertApp(d, "lost") }()
	<-calls
	release <- errors.New("disk on fire")
	if err := <-done; err == nil {
		t.Fatal("a write whose fsync failed was answered with success")
	}
	go func() {
		<-calls
		release <- nil
	}()
	if err := insertApp(d, "next"); err != nil {
		t.Fatalf("the next write after a failed sync: %v", err)
	}
}

// The real sync reaches the log SQLite wrote: after it, the log is on disk (fsync succeeded on
// the file SQLite created next to the database).
func TestWALSyncerSyncsTheLog(t *testing.T) {
	d := openTest(t)
	if err := insertApp(d, "a"); err != nil {
		t.Fatal(err)
	}
	s := &walSyncer{path: d.Path + "-wal"}
	if err := s.sync(); err != nil {
		t.Fatal(err)
	}
	if s.dirSynced == nil {
		t.Fatal("the log's directory was not synced after the log appeared")
	}
	if err := (&walSyncer{path: d.Path + "-missing-wal"}).sync(); err != nil {
		t.Fatalf("syncing a log that does not exist yet: %v", err)
	}
}
