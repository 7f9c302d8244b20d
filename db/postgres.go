package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	neturl "net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// Engine is the database engine a DB runs on.
type Engine int

const (
	SQLite Engine = iota
	Postgres
)

func (e Engine) String() string {
	if e == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// IsPostgresURL says whether target names a PostgreSQL database rather than a SQLite file.
func IsPostgresURL(target string) bool {
	return strings.HasPrefix(target, "postgres://") || strings.HasPrefix(target, "postgresql://")
}

// pgStore is the PostgreSQL side of a DB: one pool for reads and writes. There is no writer
// goroutine: several replicas write to one database, so no process can serialize the writes.
// Every write is a SERIALIZABLE transaction instead, retried when PostgreSQL finds it
// conflicted with another (see pgUpdate): each write decides from data no other commit changed
// meanwhile, which is what the single writer gives on SQLite.
type pgStore struct {
	url     string
	pool    *sql.DB
	gen     atomic.Uint64 // the write generation (Conn.WriteGeneration)
	commits atomic.Uint64
}

// pgPoolSize bounds one replica's connections: its writes and reads share them.
const pgPoolSize = 24

// pgCustomPlans is a runtime parameter every connection sends unless the URL sets it: the
// statements pgx prepares once per connection would otherwise get PostgreSQL's generic plan after
// five runs, planned without the member, the dates or the model. For the usage log that plan
// sorts the member's whole history for a page of 51 (seconds at a million events, against half a
// millisecond planned with the values); see docs/benchmarks-postgres.md. Planning each run costs far less.
var pgCustomPlans = [2]string{"plan_cache_mode", "force_custom_plan"}

// withRuntimeParam adds name=value to a postgres:// URL's query unless it names it already (pgx
// sends the query parameters it does not know itself as runtime parameters).
func withRuntimeParam(rawURL, name, value string) string {
	u, err := neturl.Parse(rawURL)
	if err != nil {
		return rawURL // sql.Open reports it
	}
	q := u.Query()
	if q.Has(name) {
		return rawURL
	}
	q.Set(name, value)
	u.RawQuery = q.Encode()
	return u.String()
}

func openPostgres(url string) (*DB, error) {
	pool, err := sql.Open("pgx", withRuntimeParam(url, pgCustomPlans[0], pgCustomPlans[1]))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", redactURL(url), err)
	}
	pool.SetMaxOpenConns(pgPoolSize)
	pool.SetMaxIdleConns(pgPoolSize)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var version int
	if err := pool.QueryRowContext(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&version); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s: %w", redactURL(url), err)
	}
	if version < 150000 {
		pool.Close()
		return nil, fmt.Errorf("%s runs PostgreSQL %d.%d; tokenjar needs 15 or newer", redactURL(url), version/10000, version%10000/100)
	}
	return &DB{engine: Postgres, pg: &pgStore{url: url, pool: pool}}, nil
}

// redactURL drops the password from a database URL, for messages and logs.
func redactURL(u string) string {
	at := strings.LastIndex(u, "@")
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return u
	}
	userinfo := u[scheme+3 : at]
	if i := strings.Index(userinfo, ":"); i >= 0 {
		return u[:scheme+3] + userinfo[:i] + ":***" + u[at:]
	}
	return u
}

// pgRetryFor bounds how long one write that keeps conflicting is retried. Conflicts come from
// writes to the same rows (one wallet charged from three replicas at once), and each retry
// waits a little longer, so this is reached only if the database is unhealthy.
const pgRetryFor = 30 * time.Second

// pgUpdate runs fn in a SERIALIZABLE transaction, again from the start whenever PostgreSQL
// refuses it for a conflict with a concurrent transaction (SQLSTATE 40001, or 40P01 for a
// deadlock). fn may run more than once: it must only write through c and keep its results
// in variables it sets afresh on each run.
func (d *DB) pgUpdate(ctx context.Context, fn func(*Conn) error, keepCaches bool) error {
	p := d.pg
	began := time.Now()
	for attempt := 1; ; attempt++ {
		err := p.runTx(ctx, fn, keepCaches)
		if err == nil {
			p.commits.Add(1)
			if attempt > 20 {
				slog.Warn("db: a write conflicted with others many times before it committed", "attempts", attempt, "took", time.Since(began).Round(time.Millisecond))
			}
			return nil
		}
		p.gen.Add(1) // rolled back: cached rows read inside may be wrong
		if !isPgConflict(err) || time.Since(began) > pgRetryFor {
			return storageError(err)
		}
		// Back off with jitter, so the transactions that collided do not collide again.
		wait := time.Duration(min(attempt, 20)) * time.Duration(200+rand.IntN(800)) * time.Microsecond
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (p *pgStore) runTx(ctx context.Context, fn func(*Conn) error, keepCaches bool) error {
	tx, err := p.pool.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
	if err != nil {
		return err
	}
	if !keepCaches {
		p.gen.Add(1)
	}
	c := &Conn{q: tx, pg: true, gen: &p.gen, conflict: new(bool)}
	err = runOp(fn, c)
	if err == nil {
		err = tx.Commit()
	} else {
		tx.Rollback()
	}
	if err != nil && *c.conflict && !isPgConflict(err) {
		// A statement failed for a conflict, and fn turned that into an error of its own (or
		// went on, and COMMIT rolled back): it is still a conflict, and runs again.
		return fmt.Errorf("%w (after: %w)", errPgConflict, err)
	}
	return err
}

// errPgConflict marks a transaction that one of its statements found conflicting.
var errPgConflict = errors.New("db: serialization conflict")

// noteConflict records on c a statement error that makes the transaction run again.
func (c *Conn) noteConflict(err error) error {
	if err != nil && c.conflict != nil && isPgConflict(err) {
		*c.conflict = true
	}
	return err
}

// isPgConflict says whether err is PostgreSQL refusing a transaction because of a concurrent
// one, which succeeds when run again.
func isPgConflict(err error) bool {
	if errors.Is(err, errPgConflict) {
		return true
	}
	code := pgCode(err)
	if code == "" && err != nil {
		// fn may have turned the error into text of its own; pgx's text names the code.
		msg := err.Error()
		return strings.Contains(msg, "(SQLSTATE 40001)") || strings.Contains(msg, "(SQLSTATE 40P01)")
	}
	return code == "40001" || code == "40P01"
}

// pgCode is the SQLSTATE of a PostgreSQL error, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// pgMigrationLock is the advisory lock key that serializes migrations of replicas starting
// together: the first migrates, the others then find nothing to do.
const pgMigrationLock = 7_040_001

func (d *DB) migratePostgres(ctx context.Context) error {
	names, err := fs.Glob(pgMigrations, "migrations_postgres/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	// Not through pgUpdate: a migration is DDL, run once, under a lock rather than retried.
	conn, err := d.pg.pool.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, pgMigrationLock); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'))`); err != nil {
		return err
	}
	for _, name := range names {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = $1`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		body, err := pgMigrations.ReadFile(name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(name) VALUES ($1)`, name); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// rebind turns the ? placeholders tokenjar's SQL is written with into PostgreSQL's $1, $2, …,
// skipping quoted text. Each distinct query is rewritten once.
func rebind(query string) string {
	if q, ok := rebound.Load(query); ok {
		return q.(string)
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	inQuote := false
	for i := 0; i < len(query); i++ {
		ch := query[i]
		switch {
		case ch == '\'':
			inQuote = !inQuote
			b.WriteByte(ch)
		case ch == '?' && !inQuote:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(ch)
		}
	}
	q := b.String()
	if reboundCount.Add(1) < maxRebound {
		rebound.Store(query, q)
	}
	return q
}

// pgVersion stands in for SQLite's data_version on PostgreSQL (Conn.DataVersion).
var pgVersion atomic.Int64

var (
	rebound      sync.Map
	reboundCount atomic.Int64
)

// maxRebound bounds the rewritten queries kept: the usage filters make many distinct ones.
const maxRebound = 4096

// pgArgs converts what SQLite takes but PostgreSQL's integer columns do not: Go booleans,
// which tokenjar stores as 0 and 1 on both engines.
func pgArgs(args []any) []any {
	for i, a := range args {
		switch v := a.(type) {
		case bool:
			if v {
				args[i] = int64(1)
			} else {
				args[i] = int64(0)
			}
		}
	}
	return args
}
