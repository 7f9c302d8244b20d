package db

import (
	"context"
	"database/sql"
	"testing"
)

// readAheadCounts sums, over the read pool's files of d, the reads SQLite made and the reads of
// the file that served them.
func readAheadCounts(d *DB) (reads, preads int64) {
	raFilesMu.Lock()
	defer raFilesMu.Unlock()
	reads, preads = raClosedIO[d.Path][0], raClosedIO[d.Path][1]
	for _, r := range raFiles {
		r.mu.Lock()
		if r.name == d.Path {
			reads += r.reads
			preads += r.preads
		}
		r.mu.Unlock()
	}
	return reads, preads
}

// scanPages reads every row of the pages table on q, in the given order, and returns the sum
// of their lengths.
func scanPages(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, order string) int64 {
	t.Helper()
	var n int64
	if err := q.QueryRowContext(context.Background(), `SELECT sum(length(x)) FROM (SELECT x FROM pages ORDER BY rowid `+order+` LIMIT 1000000)`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A walk through the table in either direction is read through a few large reads.
func TestLongWalksReadAhead(t *testing.T) {
	d := openTest(t)
	fillPages(t, d, 2000) // 2,000 pages
	if _, err := d.ckpt.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	d.read.SetMaxIdleConns(0) // each walk on a new connection, its cache empty
	for _, order := range []string{"ASC", "DESC"} {
		r0, f0 := readAheadCounts(d)
		scanPages(t, d.read, order)
		r, f := readAheadCounts(d)
		r, f = r-r0, f-f0
		if r < 1000 {
			t.Fatalf("%s: the walk made %d reads of the database file; it was served from the log or the cache, the test proves nothing", order, r)
		}
		if f*8 > r {
			t.Fatalf("%s: %d reads were served by %d reads of the file; want one per 8 or more", order, r, f)
		}
	}
}

// A reader never sees bytes read ahead in an earlier transaction: between two of its reads,
// a write and a checkpoint put new pages in the database file.
func TestReadAheadIsDroppedBetweenTransactions(t *testing.T) {
	d := openTest(t)
	ctx := context.Background()
	fillPages(t, d, 1500)
	if _, err := d.ckpt.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	conn, err := d.read.Conn(ctx) // one reader for both walks
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	before := scanPages(t, conn, "DESC")
	// The walk's transaction is over: nothing it read ahead may be left.
	raFilesMu.Lock()
	for _, r := range raFiles {
		for _, st := range r.streams {
			if r.name == d.Path && st.n > 0 {
				t.Errorf("%d bytes read ahead outlived their transaction", st.n)
			}
		}
	}
	raFilesMu.Unlock()
	err = d.Update(ctx, func(c *Conn) error {
		_, err := c.exec(ctx, `UPDATE pages SET x = randomblob(2000 + rowid % 7)`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var busy, frames, copied int
	if err := d.ckpt.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &frames, &copied); err != nil || busy != 0 {
		t.Fatalf("checkpoint: busy %d, err %v", busy, err)
	}
	after := scanPages(t, conn, "DESC")
	var want int64
	if err := d.read.QueryRow(`SELECT sum(length(x)) FROM pages`).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if after != want || after == before {
		t.Fatalf("the reader's second walk summed %d (first walk %d); the pages now sum to %d", after, before, want)
	}
}
