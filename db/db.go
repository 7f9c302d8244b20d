// Package db owns tokenjar's SQL: the SQLite file, its migrations, and every query.
//
// One SQLite file is opened twice: a write pool of exactly one connection, driven by a
// single writer goroutine that commits whatever is queued as one transaction (group commit),
// and a read pool of query-only connections. Both run in WAL mode, so reads never wait on
// writes. docs/design.md describes the whole path from a request to the fsync.
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
	"os"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

//go:embed migrations_postgres/*.sql
var pgMigrations embed.FS

// Queryer is what both a pool and a transaction offer.
type Queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// DB is one tokenjar database: a SQLite file, or a PostgreSQL database (pg set) that several
// replicas may share.
type DB struct {
	Path      string // the SQLite file; empty on PostgreSQL
	engine    Engine
	pg        *pgStore
	write     *sql.DB
	read      *sql.DB
	writer    *Writer
	readStmts *stmtCache
	ckpt      *sql.DB
	stopCkpt  chan struct{}
	ckptDone  chan struct{}
	dbFile    *os.File   // the database file, for the checkpointer's fsync (wal.go); closed last
	notify    *notifier  // listeners of notices (notify.go); nil until used
	jobs      jobMutexes // the job locks on SQLite (jobs_lock.go)
}

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	// NORMAL: in WAL mode SQLite fsyncs the log before each checkpoint and the database file
	// after it, but not at COMMIT. The writer's log syncer fsyncs the log after each commit and
	// answers the callers only then (see logsync.go for why that is enough).
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "foreign_keys(1)")
	// A write that shares its batch runs in a SAVEPOINT, and a statement that may have to undo
	// itself (a foreign key check, say) keeps a statement journal: both hold the original of
	// every page they touch, here in memory, not in a temp file written page by page.
	q.Add("_pragma", "temp_store(2)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
		// 8 MB per reader, and the file memory-mapped (SQLite's own mmap_size, which this
		// build caps at 2 GB): a page in the map is read without a system call, which an
		// export of a million rows makes for nearly every table page. The mapped pages are the
		// kernel's page cache, shared by all readers; they count in the process's VmRSS as
		// RssFile, not as memory tokenjar allocated. The writer does not map the file.
		q.Add("_pragma", "cache_size(-8000)")
		q.Add("_pragma", fmt.Sprintf("mmap_size(%d)", readMmapSize))
	} else {
		q.Set("_txlock", "immediate")
		// 32 MB: a group of charges touches many index pages; a smaller cache spills them to
		// the WAL in the middle of the transaction.
		q.Add("_pragma", "cache_size(-32000)")
		// No checkpoint inside a commit: the background checkpointer copies the log, and the
		// writer finishes the copy between two transactions (see wal.go).
		q.Add("_pragma", "wal_autocheckpoint(0)")
		q.Add("_pragma", fmt.Sprintf("journal_size_limit(%d)", walMinBound))
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens a database: target is a PostgreSQL URL (postgres://…) or the path of a SQLite
// file, created if needed.
func Open(target string) (*DB, error) {
	if IsPostgresURL(target) {
		return openPostgres(target)
	}
	return openSQLite(target)
}

// Engine is the engine the database runs on.
func (d *DB) Engine() Engine { return d.engine }

func openSQLite(path string) (*DB, error) {
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
	if strings.ToLower(mode) != "wal" || syncMode != syncNormal {
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
	d.writer, err = newWriter(write, path)
	if err != nil {
		read.Close()
		write.Close()
		return nil, err
	}
	if err := d.startCheckpointer(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

const syncNormal = 1

// busyTimeoutMS is how long a connection of the pools waits for a lock another holds.
const busyTimeoutMS = 5000

// readMmapSize is the read pool's memory map: SQLite caps it to what the build allows (2 GB).
const readMmapSize = 2 << 30

func (d *DB) Close() error {
	d.closeNotify()
	if d.pg != nil {
		return d.pg.pool.Close()
	}
	d.writer.close()
	d.stopCheckpointer()
	d.readStmts.close()
	err1 := d.read.Close()
	err2 := d.write.Close()
	if d.dbFile != nil {
		d.dbFile.Close() // after every SQLite connection: see startCheckpointer
	}
	return errors.Join(err1, err2)
}

// Read returns a Conn on the read pool.
func (d *DB) Read() *Conn {
	if d.pg != nil {
		return &Conn{q: d.pg.pool, pg: true}
	}
	return &Conn{q: d.read, cache: d.readStmts}
}

// Update runs fn inside the writer's current batch transaction. fn's changes commit
// (durably) before Update returns nil; an error from fn rolls back only fn's changes, while an
// I/O error (ErrDiskFull, ErrStorage) fails the whole batch.
// fn must be quick and must not wait on anything but the Conn it is given.
func (d *DB) Update(ctx context.Context, fn func(*Conn) error) error {
	if d.pg != nil {
		return d.pgUpdate(ctx, fn, false)
	}
	return d.writer.do(ctx, fn)
}

// UpdateKeepingCaches runs fn like Update, promising that fn changes nothing other writers'
// callers cache: it does not move the WriteGeneration.
func (d *DB) UpdateKeepingCaches(ctx context.Context, fn func(*Conn) error) error {
	if d.pg != nil {
		return d.pgUpdate(ctx, fn, true)
	}
	o := &op{ctx: ctx, fn: fn, done: make(chan error, 1), keepCaches: true}
	if err := d.writer.queue(ctx, o); err != nil {
		return err
	}
	return <-o.done
}

// UpdateInStages runs fn like UpdateKeepingCaches, for a caller that makes one write after
// another and must not wait for each fsync: it returns as soon as fn's transaction has committed
// (or failed), visible to readers but maybe not yet on disk, and durable then gets the final
// outcome once the log holding it is fsynced. Nobody may be told the write is done before
// durable says so; a nil committed can still end in a durable error.
func (d *DB) UpdateInStages(ctx context.Context, fn func(*Conn) error) (committed error, durable <-chan error) {
	if d.pg != nil {
		// PostgreSQL's COMMIT returns once the commit is durable (synchronous_commit=on).
		err := d.pgUpdate(ctx, fn, true)
		ch := make(chan error, 1)
		ch <- err
		return err, ch
	}
	o := &op{ctx: ctx, fn: fn, done: make(chan error, 1), committed: make(chan error, 1), keepCaches: true}
	if err := d.writer.queue(ctx, o); err != nil {
		o.done <- err
		return err, o.done
	}
	return <-o.committed, o.done
}

// Migrate applies every embedded migration that has not run yet, in file name order.
func (d *DB) Migrate(ctx context.Context) error {
	if d.pg != nil {
		return d.migratePostgres(ctx)
	}
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

// Backup writes a consistent copy of the database to dest: on PostgreSQL a pg_dump archive
// (NoPgDumpError when pg_dump is not installed). On SQLite, with VACUUM INTO. It uses a
// connection of its own: the read pool is query-only, and the write connection belongs to
// the writer, which must not wait on a copy.
func (d *DB) Backup(ctx context.Context, dest string) error {
	if d.pg != nil {
		return d.pgDump(ctx, dest) // backup_postgres.go
	}
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
	q  Queryer
	pg bool // PostgreSQL: placeholders are rewritten (rebind)
	// conflict, inside a PostgreSQL write, is set once a statement failed for a conflict with
	// a concurrent transaction: the write then runs again whatever fn made of the error.
	conflict *bool
	cache    *stmtCache     // prepared statements of the pool q belongs to
	gen      *atomic.Uint64 // the writer's generation, inside the writer's transaction
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
	if c.pg {
		// Other replicas write at any time and nothing tells this one in time to decide about
		// money: a caller comparing versions never keeps rows across writes.
		return pgVersion.Add(1), nil
	}
	var v int64
	err := c.q.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v)
	return v, err
}
