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
	b := make([]byte, 16)
	f, err := os.Open(d.Path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return binary.BigEndian.Uint32(b[12:16])
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
	if err := d.Update(ctx, func(c *Conn) error {
		_, err := c.exec(ctx, "CREATE TABLE filler(b BLOB)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	before := walRestarts(t, d)
	stop := time.Now().Add(3500 * time.Millisecond)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
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
		t.Fatalf("the log started over %d times in 3.5 s of writes (%d rows of 3 KB)", n, rows)
	}
}
