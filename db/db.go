// Package db owns tokenjar's SQL: the SQLite file, its migrations, and every query.
//
// One SQLite file is opened twice: a write pool of exactly one connection, driven by a
// single writer goroutine that commits whatever is queued as one transaction (group commit),
// and a read pool whose connections are query-only, so dashboard reads never wait on writes.
package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// ErrNotFound is returned by lookups that match no row.
var ErrNotFound = errors.New("not found")

//go:embed migrations/*.sql
var migrations embed.FS

// Queryer is what both a pool and a transaction offer.
type Queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// DB is one tokenjar database file.
type DB struct {
	Path      string
	write     *sql.DB
	read      *sql.DB
	writer    *Writer
	readStmts *stmtCache
	ckpt      *sql.DB
	stopCkpt  chan struct{}
	ckptDone  chan struct{}
	// restartFrames is the log length past which the writer starts it over (walRestartFrames;
	// tests lower it).
	restartFrames atomic.Int64
	dbSyncs       atomic.Int64 // fsyncs of the database file by the checkpointer (for tests)
}

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	if readOnly {
		q.Add("_pragma", "synchronous(FULL)")
	} else {
		// NORMAL: a commit writes the log without waiting for the disk; the writer's syncer
		// fsyncs the log before any caller is answered (see Writer), so a 201 still survives
		// a power cut. Checkpoints still sync before and after they copy.
		q.Add("_pragma", "synchronous(NORMAL)")
	}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "foreign_keys(1)")
	// Each write runs in a SAVEPOINT, whose sub-journal keeps the original of every page it
	// touches: in memory, not in a temp file written page by page.
	q.Add("_pragma", "temp_store(2)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
		q.Add("_pragma", "cache_size(-8000)") // 8 MB per reader
		// Long forward walks read ahead (see readahead.go).
		q.Set("vfs", readAheadVFSName)
	} else {
		q.Set("_txlock", "immediate")
		// 32 MB: a group of charges touches many index pages; a smaller cache spills them to
		// the WAL in the middle of the transaction.
		q.Add("_pragma", "cache_size(-32000)")
		// Checkpoints run in the background (see checkpointer), not inside whichever commit
		// crosses the WAL size threshold, where they stall that commit's callers.
		q.Add("_pragma", "wal_autocheckpoint(0)")
		// The writer's log writes go out one per commit (see walvfs.go).
		q.Set("vfs", walBufferVFSName)
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed) the database file at path.
func Open(path string) (*DB, error) {
	if err := registerWALBufferVFS(); err != nil {
		return nil, err
	}
	if err := registerReadAheadVFS(); err != nil {
		return nil, err
	}
	write, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("open write pool: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	var mode string
	if err := write.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	var syncMode int
	if err := write.QueryRow("PRAGMA synchronous").Scan(&syncMode); err != nil {
		write.Close()
		return nil, fmt.Errorf("read synchronous: %w", err)
	}
	if strings.ToLower(mode) != "wal" || syncMode != 1 {
		write.Close()
		return nil, fmt.Errorf("%s: want journal_mode=wal synchronous=NORMAL(1), got %s/%d", path, mode, syncMode)
	}

	read, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open read pool: %w", err)
	}
	n := max(4, runtime.NumCPU()*2)
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)

	d := &DB{Path: path, write: write, read: read, readStmts: newStmtCache(read)}
	d.writer, err = newWriter(write, (&walSyncer{path: path + "-wal"}).sync)
	if err != nil {
		read.Close()
		write.Close()
		return nil, err
	}
	// A short busy timeout: a RESTART checkpoint holds writers while it waits for readers.
	ckpt, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(100)&_pragma=synchronous(FULL)")
	if err != nil {
		d.Close()
		return nil, err
	}
	ckpt.SetMaxOpenConns(1)
	d.ckpt, d.stopCkpt, d.ckptDone = ckpt, make(chan struct{}), make(chan struct{})
	d.restartFrames.Store(walRestartFrames)
	go d.checkpointer()
	return d, nil
}

// checkpointer copies the WAL back into the database file every second on its own connection.
// A PASSIVE checkpoint blocks no one, but under a steady stream of commits it never catches up
// with the end of the log, so the log would only grow. Once the log is past walRestartFrames,
// the checkpointer runs passes back to back, each copying what the commits added during the last
// one, until a pass has little left to copy; then the writer finishes the copy itself between
// two transactions (Writer.restartLog), which reaches the end of the log because no commit lands
// meanwhile, and SQLite starts the log over at the next commit. The writer's share must stay
// small: its checkpoint ends with an fsync of the database file, and every caller waits for it
// (at 10M events, finishing after a single pass held the writer for 150-200 ms). So each pass
// here is followed by an fsync of the database file, and the next pass copies what the
// commits added during both.
//
// A RESTART checkpoint from this connection did the same by taking the write lock, and the
// writer, finding it taken, slept in SQLite's busy handler.
func (d *DB) checkpointer() {
	defer close(d.ckptDone)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-d.stopCkpt:
			d.ckpt.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
			return
		case <-t.C:
			d.checkpoint()
		}
	}
}

// checkpoint runs one round of passes (see checkpointer).
func (d *DB) checkpoint() {
	last := -1
	for pass := 0; pass < maxCheckpointPasses; pass++ {
		var busy, frames, copied int
		if err := d.ckpt.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
			return
		}
		if int64(frames) <= d.restartFrames.Load() {
			return
		}
		// SQLite fsyncs the database file only in a checkpoint that reaches the end of the log,
		// so without this the writer's final one paid for every page the passes had copied
		// (at 10M events: 70-95 ms, once a second, with every caller waiting). Here the disk
		// takes them while commits go on, and the writer syncs only what it copies itself.
		if err := syncFile(d.Path); err != nil {
			slog.Error("db: fsync of the database file after a checkpoint pass", "err", err)
			return
		}
		d.dbSyncs.Add(1)
		// frames is the log's length when this pass began: what it added since the last pass
		// began is what this pass had to copy, and about what the writer would copy next.
		if last >= 0 && frames-last <= writerCopyFrames || pass == maxCheckpointPasses-1 {
			d.writer.logLong.Store(true)
			return
		}
		last = frames
	}
}

const (
	maxCheckpointPasses = 6
	writerCopyFrames    = 1000
)

// walRestartFrames is 16 MB of 4 KiB pages.
const walRestartFrames = 4096

func (d *DB) Close() error {
	d.writer.close()
	if d.stopCkpt != nil {
		close(d.stopCkpt)
		<-d.ckptDone
		d.ckpt.Close()
		d.stopCkpt = nil
	}
	d.readStmts.close()
	err1 := d.read.Close()
	err2 := d.write.Close()
	return errors.Join(err1, err2)
}

// Read returns a Conn on the read pool.
func (d *DB) Read() *Conn { return &Conn{q: d.read, cache: d.readStmts} }

// Update runs fn inside the writer's current batch transaction. fn's changes commit
// (durably) before Update returns nil; an error from fn rolls back only fn's changes.
// fn must be quick and must not wait on anything but the Conn it is given.
func (d *DB) Update(ctx context.Context, fn func(*Conn) error) error {
	return d.writer.do(ctx, fn)
}

// UpdateKeepingCaches queues fn like Update but returns at once. committed receives fn's outcome
// as soon as its transaction has committed, before it is on disk, so the caller can prepare its
// next write meanwhile; durable receives it once the commit is on disk, and only that may be
// acknowledged to anyone. fn promises that it changes nothing other writers' callers cache:
// it does not move the WriteGeneration.
func (d *DB) UpdateKeepingCaches(ctx context.Context, fn func(*Conn) error) (committed, durable <-chan error) {
	o := &op{ctx: ctx, fn: fn, done: make(chan error, 1), committed: make(chan error, 1), keepCaches: true}
	if err := d.writer.queue(ctx, o); err != nil {
		o.committed <- err
		o.done <- err
	}
	return o.committed, o.done
}

// WaitDurable returns once every write committed before the call is on disk.
func (d *DB) WaitDurable(ctx context.Context) error { return d.writer.waitDurable(ctx) }

// Migrate applies every embedded migration that has not run yet, in file name order.
func (d *DB) Migrate(ctx context.Context) error {
	err := d.Update(ctx, func(c *Conn) error {
		if _, err := c.q.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP) STRICT`); err != nil {
			return err
		}
		names, err := fs.Glob(migrations, "migrations/*.sql")
		if err != nil {
			return err
		}
		sort.Strings(names)
		var applied int
		if err := c.q.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil {
			return err
		}
		for _, name := range names {
			var n int
			if err := c.q.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				continue
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if applied > 0 {
				// An upgrade: building an index over millions of events takes a while, and the
				// server answers nothing meanwhile. Say so rather than look hung.
				slog.Info("updating the database; on a large one this can take a few minutes", "migration", name)
			}
			if _, err := c.q.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", name, err)
			}
			if _, err := c.q.ExecContext(ctx, `INSERT INTO schema_migrations(name) VALUES (?)`, name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// A bulk load that did not finish left indexes to build.
	return d.buildDeferredIndexes(ctx)
}

// Backup writes a consistent copy of the database to dest with VACUUM INTO. It uses a
// connection of its own: the read pool is query-only, and the write connection belongs to
// the writer, which must not wait on a copy.
func (d *DB) Backup(ctx context.Context, dest string) error {
	conn, err := sql.Open("sqlite", "file:"+d.Path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.ExecContext(ctx, `VACUUM INTO ?`, dest)
	return err
}

// Conn runs tokenjar's queries on a pool or inside the writer's transaction.
type Conn struct {
	q     Queryer
	cache *stmtCache     // prepared statements of the pool q belongs to
	gen   *atomic.Uint64 // the writer's generation, inside the writer's transaction
}

// WriteGeneration, inside a write, is a number that changes whenever an operation that did not
// promise to keep caches valid (see UpdateKeepingCaches) has run or a transaction rolled back.
// A caller that keeps rows in memory across its writes drops them when it changes.
func (c *Conn) WriteGeneration() uint64 {
	if c.gen == nil {
		return 0
	}
	return c.gen.Load()
}

// DataVersion changes when another connection (another process) has committed to the file.
func (c *Conn) DataVersion(ctx context.Context) (int64, error) {
	var v int64
	err := c.q.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v)
	return v, err
}
