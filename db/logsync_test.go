package db

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// These tests prove the order the log syncer keeps: a write is answered only after an fsync
// that started after its commit, and after a failed fsync nothing is answered as done. They
// replace the fsync itself, so they do not prove that an fsync reaches the disk (the strace
// test in the repository root does, for a real report).

func addApp(ctx context.Context, d *DB, slug string) error {
	return d.Update(ctx, func(c *Conn) error {
		_, err := c.InsertApp(ctx, App{Slug: slug, Name: slug, CreatedAt: 1})
		return err
	})
}

func TestAWriteIsAnsweredOnlyAfterTheLogIsSynced(t *testing.T) {
	d := openTest(t)
	ctx := context.Background()
	s := d.writer.log
	entered, release := make(chan struct{}, 8), make(chan struct{})
	s.fsync = func() error {
		entered <- struct{}{}
		<-release
		return nil
	}
	answered := make(chan error, 1)
	go func() { answered <- addApp(ctx, d, "held") }()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no fsync started after the commit")
	}
	// The transaction has committed (readers see it), but its fsync has not returned: the
	// caller must still be waiting.
	if n := countRows(t, d, `SELECT count(*) FROM apps WHERE slug = 'held'`); n != 1 {
		t.Fatalf("the commit is not visible while its fsync runs: %d rows", n)
	}
	select {
	case err := <-answered:
		t.Fatalf("the write was answered (%v) before its fsync returned", err)
	case <-time.After(100 * time.Millisecond):
	}
	// The writer goes on while the fsync runs: a second write commits meanwhile.
	second := make(chan error, 1)
	go func() { second <- addApp(ctx, d, "next") }()
	deadline := time.Now().Add(10 * time.Second)
	for countRows(t, d, `SELECT count(*) FROM apps WHERE slug = 'next'`) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the writer did not commit the next write while the previous fsync ran")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	for _, ch := range []chan error{answered, second} {
		select {
		case err := <-ch:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a write was not answered after its fsync")
		}
	}
}

func TestAFailedLogSyncFailsItsWritesAndRefusesLaterOnes(t *testing.T) {
	d := openTest(t)
	ctx := context.Background()
	if err := addApp(ctx, d, "before"); err != nil {
		t.Fatal(err)
	}
	eio := errors.New("input/output error")
	d.writer.log.fsync = func() error { return eio }
	err := addApp(ctx, d, "lost")
	if !errors.Is(err, ErrWritesStopped) || !errors.Is(err, ErrStorage) || !errors.Is(err, eio) {
		t.Fatalf("a write whose fsync failed got %v, want ErrStorage wrapping the fsync's error", err)
	}
	// The failed pages may be gone from the disk while a later fsync succeeds: nothing after
	// that is answered as done, even once fsync works again.
	d.writer.log.fsync = func() error { return nil }
	for i := range 3 {
		if err := addApp(ctx, d, fmt.Sprintf("after-%d", i)); !errors.Is(err, ErrStorage) {
			t.Fatalf("write %d after a failed fsync got %v, want ErrStorage", i, err)
		}
	}
	// Reads keep working.
	if n := countRows(t, d, `SELECT count(*) FROM apps WHERE slug = 'before'`); n != 1 {
		t.Fatalf("read after a failed fsync: %d", n)
	}
}
