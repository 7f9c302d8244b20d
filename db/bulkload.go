package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
)

// bulkDeferredIndexes are the indexes a bulk load builds once at its end instead of row by
// row: the usage and ledger indexes that no write path reads. The usage log's sort orders (by
// credits, by tokens) put each new event at a random place in a large tree, so past a few
// million events every event costs a leaf read and a leaf written back for each; the orders by
// member and time cost less, but still a leaf per member per transaction. Building an index
// from the finished table is one sort. The idempotency index stays: the load's inserts use it.
var bulkDeferredIndexes = []string{
	"usage_user_model_credits", "usage_user_model_tokens", "usage_payer_model_credits", "usage_payer_model_tokens",
	"usage_user_at", "usage_payer_delegated", "ledger_user_at", "ledger_usage",
}

// BulkLoad runs load with bulkDeferredIndexes dropped, then builds them again. Their
// definitions are kept in the deferred_indexes table meanwhile, in the same transaction as the
// drop, so a load that never finishes (a crash, a kill) leaves them to Migrate, which builds
// whatever that table still holds. Queries are right without them, only slower: the planner
// finds another index.
func (d *DB) BulkLoad(ctx context.Context, load func() error) error {
	if err := d.Update(ctx, deferIndexes); err != nil {
		return fmt.Errorf("db: bulk load: %w", err)
	}
	loadErr := load()
	if err := d.buildDeferredIndexes(ctx); err != nil {
		if loadErr != nil {
			return loadErr
		}
		return err
	}
	return loadErr
}

// indexDefinitionSQL reads the statement that creates an index, by name.
func indexDefinitionSQL(c *Conn) string {
	if c.pg {
		return `SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = ?`
	}
	return `SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?`
}

func deferIndexes(c *Conn) error {
	ctx := context.Background()
	for _, name := range bulkDeferredIndexes {
		var def string
		err := c.queryRow(ctx, indexDefinitionSQL(c), name).Scan(&def)
		if err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				continue // deferred already, or never made
			}
			return err
		}
		if _, err := c.exec(ctx, `INSERT INTO deferred_indexes(name, sql) VALUES (?, ?)`, name, def); err != nil {
			return err
		}
		if _, err := c.exec(ctx, `DROP INDEX `+name); err != nil {
			return err
		}
	}
	return nil
}

// buildDeferredIndexes builds every index deferred_indexes holds, each in its own transaction
// with its row's removal.
func (d *DB) buildDeferredIndexes(ctx context.Context) error {
	type deferred struct{ name, sql string }
	var todo []deferred
	rows, err := d.Read().query(ctx, `SELECT name, sql FROM deferred_indexes ORDER BY name`)
	if err != nil {
		return fmt.Errorf("db: deferred indexes: %w", err)
	}
	for rows.Next() {
		var x deferred
		if err := rows.Scan(&x.name, &x.sql); err != nil {
			rows.Close()
			return err
		}
		todo = append(todo, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, x := range todo {
		slog.Info("building an index", "index", x.name)
		build := func(inFiles bool) error {
			return d.Update(ctx, func(c *Conn) error {
				if err := buildIndex(ctx, c, x.sql, inFiles); err != nil {
					return err
				}
				_, err := c.exec(ctx, `DELETE FROM deferred_indexes WHERE name = ?`, x.name)
				return err
			})
		}
		err := build(true)
		// The sort's temporary files need room in the temporary directory (several hundred MB
		// for one 10M-event index). Without it, sorting in memory still builds the index, and
		// a start after a killed seed is not refused for want of temporary space.
		if err != nil && ctx.Err() == nil {
			slog.Warn("building an index with its sort in temporary files failed; sorting in memory", "index", x.name, "err", err)
			err = build(false)
		}
		if err != nil {
			return fmt.Errorf("db: build index %s: %w", x.name, err)
		}
	}
	return nil
}

// indexBuildThreads is how many helper threads SQLite's sorter may use while it builds an
// index (SQLite caps it at 8).
var indexBuildThreads = min(runtime.NumCPU(), 8)

// buildIndex runs one CREATE INDEX with its sort in temporary files and the sorter's helper
// threads, then puts the writer's settings back (temp_store(2) from dsn, no helpers).
//
// With the writer's settings a 10M-event index took 37-39 s on this two-core machine; like
// this, 18-19 s. The sort's runs kept in memory (temp_store 2) are slower to merge than runs in
// files the kernel caches, and SQLite does not hand in-memory runs to helper threads.
//
// The settings are only for speed: SQLite refuses to change temp_store inside a transaction
// once the connection has a temporary database open, and then the index is built the slow way.
// With inFiles false it is built the slow way from the start.
func buildIndex(ctx context.Context, c *Conn, def string, inFiles bool) error {
	if c.pg {
		_, err := c.exec(ctx, def)
		return err
	}
	pragmas := []string{"PRAGMA temp_store = FILE", fmt.Sprintf("PRAGMA threads = %d", indexBuildThreads)}
	if !inFiles {
		pragmas = nil
	}
	for _, p := range pragmas {
		if _, err := c.q.ExecContext(ctx, p); err != nil {
			slog.Warn("building an index without the faster sort", "pragma", p, "err", err)
			break
		}
	}
	_, err := c.q.ExecContext(ctx, def)
	for _, p := range []string{"PRAGMA temp_store = MEMORY", "PRAGMA threads = 0"} {
		if _, rerr := c.q.ExecContext(ctx, p); rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}
