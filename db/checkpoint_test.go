package db

import (
	"context"
	"encoding/binary"
	"os"
	"sync"
	"testing"
	"time"
)

// walRestarts reads the WAL header's checkpoint sequence number, which SQLite bumps each time
// it starts the log over from its beginning.
func walRestarts(t *testing.T, d *DB) uint32 {
	n, err := walHeaderSeq(d.Path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func walHeaderSeq(path string) (uint32, error) {
	b := make([]byte, 16)
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := f.ReadAt(b, 0); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b[12:16]), nil
}

// Under a steady stream of commits the log must still start over now and then; otherwise it
// grows by every page of every commit, and so does every reader's search through it.
func TestTheLogStartsOverUnderSteadyWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("writes for a few seconds")
	}
	d := openTest(t)
	d.restartFrames.Store(200) // so a slow run (-race) crosses it too
	ctx := context.Background()
	execTest(t, d, "CREATE TABLE filler(b BLOB)")
	before := walRestarts(t, d)
	// Writes go on until the log has started over twice, or for 20 s: a loaded machine (CI runs
	// the packages' tests side by side) slows the checkpointer's passes more than the writes.
	const limit = 20 * time.Second
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for time.Since(start) < limit {
			n, err := walHeaderSeq(d.Path + "-wal")
			if err != nil {
				t.Error(err)
				return
			}
			if n-before >= 2 {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
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
	var rows int
	if err := d.Read().QueryRowForTest(ctx, "SELECT count(*) FROM filler", &rows); err != nil {
		t.Fatal(err)
	}
	if n := walRestarts(t, d) - before; n < 2 {
		t.Fatalf("the log started over %d times in %s of writes (%d rows of 3 KB)", n, time.Since(start).Round(time.Millisecond), rows)
	}
}

// SQLite fsyncs the database file only in the checkpoint that reaches the end of the log: the
// writer's. The checkpointer's passes must sync what they copied themselves, or the writer's
// final checkpoint waits for all of it while every caller waits for the writer.
func TestCheckpointPassesSyncTheDatabaseFile(t *testing.T) {
	d := openTest(t)
	d.restartFrames.Store(20)
	execTest(t, d, "CREATE TABLE filler(b BLOB)")
	for range 100 {
		execTest(t, d, "INSERT INTO filler VALUES (randomblob(3000))")
	}
	d.checkpoint()
	if n := d.dbSyncs.Load(); n == 0 {
		t.Fatal("checkpoint passes copied a log of 100 commits and never fsynced the database file")
	}
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
