package db

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// fillPages commits one transaction of rows big enough that each takes a page of its own.
func fillPages(t *testing.T, d *DB, rows int) {
	t.Helper()
	ctx := context.Background()
	err := d.Update(ctx, func(c *Conn) error {
		if _, err := c.exec(ctx, `CREATE TABLE IF NOT EXISTS pages (x BLOB)`); err != nil {
			return err
		}
		_, err := c.exec(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
			INSERT INTO pages SELECT randomblob(3000) FROM n`, rows)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// logWrites sums, over the writer's open log files, the writes SQLite made and the writes that
// reached the file.
func logWrites(d *DB) (gathered, written int64) {
	filesMu.Lock()
	defer filesMu.Unlock()
	for _, b := range walsOf[d.Path] {
		b.mu.Lock()
		gathered += b.gathered
		written += b.written
		b.mu.Unlock()
	}
	return gathered, written
}

// The writer's commits reach the log in a few large writes, not two per page.
func TestTheLogIsWrittenInFewLargeWrites(t *testing.T) {
	d := openTest(t)
	g0, w0 := logWrites(d)
	fillPages(t, d, 400)
	g, w := logWrites(d)
	g, w = g-g0, w-w0
	if g < 800 {
		t.Fatalf("SQLite made %d writes to the log for 400 pages; the writer's connection does not use the gathering VFS", g)
	}
	if w == 0 || w*20 > g {
		t.Fatalf("%d writes to the log reached the file as %d writes; want a few large ones", g, w)
	}
}

// Every committed transaction is whole in the log file once its write returns: a copy of the
// files taken then, opened by a plain connection (which replays the log and checks every
// frame's checksum), holds every row. Commits larger than the buffer are covered too.
func TestCommittedFramesAreInTheLogFile(t *testing.T) {
	d := openTest(t)
	want := 0
	for i, rows := range []int{1, 50, walBufferLimit/4096 + 300, 3} {
		fillPages(t, d, rows)
		want += rows
		dir := t.TempDir()
		for _, name := range []string{"-wal", ""} { // the log first: the checkpointer only adds to the database file
			b, err := os.ReadFile(d.Path + name)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "copy.db"+name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		copyDB, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "copy.db"))
		if err != nil {
			t.Fatal(err)
		}
		var n int
		var check string
		if err := copyDB.QueryRow(`SELECT count(*) FROM pages`).Scan(&n); err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
		if err := copyDB.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil {
			t.Fatal(err)
		}
		copyDB.Close()
		if n != want || check != "ok" {
			t.Fatalf("commit %d: a copy taken after it holds %d rows (want %d), integrity %q", i, n, want, check)
		}
	}
	if got := countRows(t, d, `SELECT count(*) FROM pages`); got != int64(want) {
		t.Fatalf("the read pool sees %d rows, want %d", got, want)
	}
}

// A reader on its own connection sees each commit as soon as it returns: small commits, commits
// of many pages, and commits that start the log over (the restart threshold is lowered).
func TestReadersSeeEachCommitAtOnce(t *testing.T) {
	d := openTest(t)
	d.restartFrames.Store(64) // restart the log often
	ctx := context.Background()
	for i := 1; i <= 200; i++ {
		err := d.Update(ctx, func(c *Conn) error {
			if _, err := c.exec(ctx, `CREATE TABLE IF NOT EXISTS counter (n INTEGER)`); err != nil {
				return err
			}
			_, err := c.exec(ctx, `INSERT INTO counter VALUES (?)`, i)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if i%20 == 0 {
			fillPages(t, d, 30)
		}
		if got := countRows(t, d, `SELECT count(*) FROM counter`); got != int64(i) {
			t.Fatalf("after commit %d the read pool counts %d rows", i, got)
		}
	}
	if got := countRows(t, d, fmt.Sprintf(`SELECT count(*) FROM pages WHERE length(x) = %d`, 3000)); got != 300 {
		t.Fatalf("%d pages rows, want 300", got)
	}
}
