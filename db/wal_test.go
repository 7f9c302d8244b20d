package db

import (
	"context"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The write-ahead log stays under its bound (walBound: 24 MB for a small database) under a burst
// of writes with readers going on: the checkpointer's rounds and the writer's own checkpoints
// let it start over, and journal_size_limit keeps the file at the bound. (Before, a 30 s burst
// left a 140 MB log beside an 18 MB database.)
//
// What it proves: with short reads going on all the time, some of them overlapping, the log's
// file never grows past the documented bound while 38 MB are written through it. What it does not: a read held open for the whole burst keeps
// the frames it may need, and then the log grows (see wal.go).
func TestTheLogStaysBoundedUnderABurst(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 38 MB")
	}
	d := openTest(t)
	ctx := context.Background()
	execTest(t, d, "CREATE TABLE filler(b BLOB)")

	var maxSize atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // samples the log's size, and reads like the dashboard does
		defer close(sampled)
		for {
			if fi, err := os.Stat(d.Path + "-wal"); err == nil && fi.Size() > maxSize.Load() {
				maxSize.Store(fi.Size())
			}
			var n int64
			if err := d.Read().QueryRowForTest(ctx, "SELECT count(*) FROM (SELECT rowid FROM filler ORDER BY rowid DESC LIMIT 100)", &n); err != nil {
				t.Error(err)
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	// Three more readers, back to back: short reads that overlap one another leave no moment
	// without a reader on the log, which once held its end off for ever (restartCheckpoint).
	var readers sync.WaitGroup
	for range 3 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				var n int64
				if err := d.Read().QueryRowForTest(ctx, overlappingRead, &n); err != nil {
					t.Error(err)
					return
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
	}
	const writers, rowsEach = 16, 800 // 12,800 rows of 3 KB: 38 MB
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rowsEach {
				if err := d.Update(ctx, func(c *Conn) error {
					_, err := c.exec(ctx, "INSERT INTO filler VALUES (randomblob(3000))")
					return err
				}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	readers.Wait()
	// The writer finishes a checkpoint once the log passes its bound; the group commit that
	// crossed it may add a few MB.
	const bound = walMinBound + 4<<20
	t.Logf("largest log seen: %.1f MB (bound %.1f MB)", float64(maxSize.Load())/(1<<20), float64(bound)/(1<<20))
	if maxSize.Load() > bound {
		t.Fatalf("the log grew to %d bytes, past %d", maxSize.Load(), bound)
	}
}

// The log's bound is a sixteenth of the database, within 24 and 256 MB.
func TestTheLogsBoundGrowsWithTheDatabase(t *testing.T) {
	for _, c := range []struct{ db, want int64 }{
		{0, 24 << 20},
		{18 << 20, 24 << 20},
		{1 << 30, 64 << 20},
		{4 << 30, 256 << 20},
		{100 << 30, 256 << 20},
	} {
		if got := walBound(c.db); got != c.want {
			t.Errorf("walBound(%d MB) = %d MB, want %d MB", c.db>>20, got>>20, c.want>>20)
		}
	}
}

// The writer counts the frames each commit appends to the log (the count that starts the
// checkpoints), and a quiet log is copied and started over within a few seconds.
//
// What it proves: SQLite's page-write counter reaches the writer (without it no round would
// start and the log would grow to the writer's limit before each checkpoint). What it does not:
// the throughput a longer cycle buys, which is a benchmark's (docs/benchmarks.md).
func TestTheWriterCountsTheLogsFrames(t *testing.T) {
	d := openTest(t)
	ctx := context.Background()
	execTest(t, d, "CREATE TABLE filler(b BLOB)")
	before := d.writer.wal.frames.Load()
	if err := d.Update(ctx, func(c *Conn) error {
		_, err := c.exec(ctx, "INSERT INTO filler VALUES (randomblob(1000000))")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// A 1 MB value takes at least 1,000,000 / 4,096 = 245 pages, each a frame.
	if got := d.writer.wal.frames.Load() - before; got < 245 {
		t.Fatalf("the writer counted %d frames for a 1 MB commit, want at least 245", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for d.writer.wal.frames.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("a quiet log was not started over in 10 s: %d frames counted", d.writer.wal.frames.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// overlappingRead takes about a millisecond (a count to 3,000) inside a read of the log.
const overlappingRead = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 3000)
	SELECT count(*) FROM c, (SELECT rowid FROM filler ORDER BY rowid DESC LIMIT 1)`

// A write that fails for lack of space is reported as ErrDiskFull, so the layers above can say
// so; other errors are left as they are.
func TestStorageErrorsAreNamed(t *testing.T) {
	d := openTest(t)
	ctx := context.Background()
	err := d.Update(ctx, func(c *Conn) error {
		_, err := c.exec(ctx, "INSERT INTO no_such_table VALUES (1)")
		return err
	})
	if err == nil || IsStorageError(err) {
		t.Fatalf("a missing table reported as a storage error: %v", err)
	}
	// SQLite's max_page_count makes the database "full" at a size, as a full disk does.
	execTest(t, d, "CREATE TABLE filler(b BLOB)")
	var pages int64
	if err := d.Read().QueryRowForTest(ctx, "PRAGMA page_count", &pages); err != nil {
		t.Fatal(err)
	}
	if err := d.Update(ctx, func(c *Conn) error {
		_, err := c.exec(ctx, "PRAGMA max_page_count = "+itoa(pages+2))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	err = d.Update(ctx, func(c *Conn) error {
		_, err := c.exec(ctx, "INSERT INTO filler VALUES (randomblob(100000))")
		return err
	})
	if !IsStorageError(err) {
		t.Fatalf("a write past the database's size limit: want ErrDiskFull, got %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
