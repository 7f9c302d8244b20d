package db_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tokenjar/db"
	"tokenjar/db/dbtest"
)

// A job's lock is held by one opening of the database at a time, and the others skip it
// (TryLockJob) or wait for it (LockJob). On PostgreSQL the second opening is a second pool, as a
// second replica has; on SQLite one server owns the file, so it is the same DB. It proves the
// mutual exclusion, not what happens when the lock's connection breaks mid-job.
func TestJobLockIsHeldOnce(t *testing.T) {
	ctx := context.Background()
	target := dbtest.Target(t)
	a, err := db.Open(target)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	b := a
	if a.Engine() == db.Postgres {
		if b, err = db.Open(target); err != nil {
			t.Fatal(err)
		}
		defer b.Close()
	}
	held, err := a.TryLockJob(ctx, "refresh")
	if err != nil || held == nil {
		t.Fatalf("first lock: %v %v", held, err)
	}
	if l, err := b.TryLockJob(ctx, "refresh"); err != nil || l != nil {
		t.Fatalf("second try while held: %v %v; want nil, nil", l, err)
	}
	other, err := b.TryLockJob(ctx, "expire") // another job's lock is its own
	if err != nil || other == nil {
		t.Fatalf("another job's lock: %v %v", other, err)
	}
	other.Release()

	got := make(chan error, 1)
	go func() {
		l, err := b.LockJob(ctx, "refresh")
		if err == nil {
			l.Release()
		}
		got <- err
	}()
	held.Release()
	held.Release() // twice is harmless
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("LockJob still waiting 30s after the lock was released")
	}
	if l, err := a.TryLockJob(ctx, "refresh"); err != nil || l == nil {
		t.Fatalf("lock after both released: %v %v", l, err)
	} else {
		l.Release()
	}

	// A wait cut off by its context returns the context's error.
	held, _ = a.TryLockJob(ctx, "backup")
	defer held.Release()
	short, cancel := context.WithCancel(ctx)
	cancel()
	if l, err := b.LockJob(short, "backup"); err == nil || l != nil {
		t.Fatalf("LockJob with a cancelled context: %v %v", l, err)
	}
}

// On PostgreSQL, Backup writes a pg_dump archive (custom format, which starts with PGDMP).
func TestBackupOnPostgresIsAPgDumpArchive(t *testing.T) {
	d := dbtest.Open(t)
	if d.Engine() != db.Postgres {
		t.Skip("PostgreSQL only: SQLite backups are VACUUM INTO copies (TestBackupKeepsSeven)")
	}
	dest := filepath.Join(t.TempDir(), "x"+d.BackupExt())
	if err := d.Backup(context.Background(), dest); err != nil {
		var no *db.NoPgDumpError
		if errors.As(err, &no) {
			t.Skip("pg_dump is not installed here")
		}
		t.Fatal(err)
	}
	b, err := os.ReadFile(dest)
	if err != nil || !strings.HasPrefix(string(b), "PGDMP") {
		t.Fatalf("backup file: %d bytes, %v", len(b), err)
	}
}
