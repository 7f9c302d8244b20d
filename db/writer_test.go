package db

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

func openTest(t *testing.T) *DB {
	t.Helper()
	d, err := Open(filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

func countRows(t *testing.T, d *DB, q string) int64 {
	var n int64
	if err := d.Read().QueryRowForTest(context.Background(), q, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestForeignKeysAreEnforced(t *testing.T) {
	d := openTest(t)
	ctx := context.Background()
	orphan := func(c *Conn) error {
		_, err := c.InsertLedger(ctx, LedgerRow{UserID: 999, At: 1, Action: "grant", Amount: 5, BalanceAfter: 5})
		return err
	}
	if err := d.Update(ctx, orphan); err == nil || countRows(t, d, `SELECT count(*) FROM ledger`) != 0 {
		t.Fatalf("a ledger row for a missing member committed (err %v)", err)
	}
	// In a shared batch the violation fails its own op only.
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = d.Update(ctx, func(c *Conn) error {
				if i%4 == 0 {
					return orphan(c)
				}
				_, err := c.InsertApp(ctx, App{Slug: fmt.Sprintf("fk-%d", i), Name: "x", CreatedAt: 1})
				return err
			})
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if (i%4 == 0) != (err != nil) {
			t.Fatalf("op %d: %v", i, err)
		}
	}
	if n := countRows(t, d, `SELECT count(*) FROM ledger`); n != 0 {
		t.Fatalf("%d orphan ledger rows committed", n)
	}
	if n := countRows(t, d, `SELECT count(*) FROM apps WHERE slug LIKE 'fk-%'`); n != 30 {
		t.Fatalf("%d of 30 valid ops committed", n)
	}
}

func TestAFailedOpUndoesOnlyItself(t *testing.T) {
	d := openTest(t)
	ctx := context.Background()
	boom := errors.New("boom")
	// Alone in its transaction.
	err := d.Update(ctx, func(c *Conn) error {
		if _, err := c.InsertApp(ctx, App{Slug: "half", Name: "Half", CreatedAt: 1}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || countRows(t, d, `SELECT count(*) FROM apps`) != 0 {
		t.Fatalf("a failed op left its writes: %v", err)
	}
	// Sharing batches with others: many ops at once, every third one fails after writing.
	var wg sync.WaitGroup
	errs := make([]error, 90)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = d.Update(ctx, func(c *Conn) error {
				if _, err := c.InsertApp(ctx, App{Slug: fmt.Sprintf("app-%d", i), Name: "x", CreatedAt: 1}); err != nil {
					return err
				}
				if i%3 == 0 {
					return boom
				}
				return nil
			})
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if (i%3 == 0) != errors.Is(err, boom) || (i%3 != 0 && err != nil) {
			t.Fatalf("op %d: %v", i, err)
		}
	}
	if n := countRows(t, d, `SELECT count(*) FROM apps`); n != 60 {
		t.Fatalf("%d apps committed, want the 60 ops that succeeded", n)
	}
	if n := countRows(t, d, `SELECT count(*) FROM apps WHERE CAST(substr(slug, 5) AS INTEGER) % 3 = 0`); n != 0 {
		t.Fatalf("%d writes of failed ops committed", n)
	}
}

func insertApp(d *DB, slug string) error {
	ctx := context.Background()
	return d.Update(ctx, func(c *Conn) error {
		_, err := c.InsertApp(ctx, App{Slug: slug, Name: slug, CreatedAt: 1})
		return err
	})
}

// execTest runs one statement in its own write.
func execTest(t *testing.T, d *DB, sql string) {
	t.Helper()
	ctx := context.Background()
	if err := d.Update(ctx, func(c *Conn) error {
		_, err := c.exec(ctx, sql)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}
