package db

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"testing"
)

// indexDefs maps each index of the schema to its CREATE statement.
func indexDefs(t *testing.T, d *DB) map[string]string {
	t.Helper()
	rows, err := d.read.Query(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		out[name] = def
	}
	return out
}

func TestABulkLoadBuildsTheIndexesItDropped(t *testing.T) {
	d := openTest(t)
	ctx := context.Background()
	before := indexDefs(t, d)
	for _, name := range bulkDeferredIndexes {
		if before[name] == "" {
			t.Fatalf("%s is not in the schema: the list names an index that no longer exists", name)
		}
	}
	err := d.BulkLoad(ctx, func() error {
		during := indexDefs(t, d)
		for _, name := range bulkDeferredIndexes {
			if during[name] != "" {
				t.Errorf("%s still exists during the load", name)
			}
		}
		if during["usage_idem"] == "" {
			t.Error("the idempotency index was dropped: the load's inserts need it")
		}
		if n := countRows(t, d, `SELECT count(*) FROM deferred_indexes`); n != int64(len(bulkDeferredIndexes)) {
			t.Errorf("deferred_indexes holds %d rows during the load, want %d", n, len(bulkDeferredIndexes))
		}
		return insertApp(d, "loaded")
	})
	if err != nil {
		t.Fatal(err)
	}
	if after := indexDefs(t, d); !maps.Equal(before, after) {
		t.Fatalf("the schema's indexes changed:\nbefore %v\nafter  %v", before, after)
	}
	if n := countRows(t, d, `SELECT count(*) FROM deferred_indexes`); n != 0 {
		t.Fatalf("deferred_indexes still holds %d rows", n)
	}
	// The builds sort in files with helper threads; the writer's own statements must get its
	// settings back (a savepoint's journal in memory, no helpers).
	var threads, tempStore int
	err = d.Update(ctx, func(c *Conn) error {
		if err := c.q.QueryRowContext(ctx, "PRAGMA threads").Scan(&threads); err != nil {
			return err
		}
		return c.q.QueryRowContext(ctx, "PRAGMA temp_store").Scan(&tempStore)
	})
	if err != nil {
		t.Fatal(err)
	}
	if threads != 0 || tempStore != 2 {
		t.Fatalf("after the builds the writer has threads = %d, temp_store = %d; want 0 and 2", threads, tempStore)
	}
}

// SQLite will not move the sort to files inside a transaction once the connection holds a
// temporary table; the index is then built as before.
func TestAnIndexIsBuiltWhenTheFasterSortIsRefused(t *testing.T) {
	d := openTest(t)
	ctx := context.Background()
	err := d.Update(ctx, func(c *Conn) error {
		if _, err := c.q.ExecContext(ctx, `CREATE TEMP TABLE scratch(a)`); err != nil {
			return err
		}
		if _, err := c.q.ExecContext(ctx, `PRAGMA temp_store = FILE`); err == nil {
			t.Error("SQLite changed temp_store with a temporary table open: the test proves nothing")
		}
		if err := buildIndex(ctx, c, `CREATE INDEX apps_name_test ON apps(name)`, true); err != nil {
			return err
		}
		_, err := c.q.ExecContext(ctx, `DROP TABLE scratch`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if indexDefs(t, d)["apps_name_test"] == "" {
		t.Fatal("the index was not built")
	}
}

func TestAFailedBulkLoadStillBuildsTheIndexes(t *testing.T) {
	d := openTest(t)
	before := indexDefs(t, d)
	boom := errors.New("boom")
	if err := d.BulkLoad(context.Background(), func() error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the load's error", err)
	}
	if after := indexDefs(t, d); !maps.Equal(before, after) {
		t.Fatalf("the schema's indexes changed:\nbefore %v\nafter  %v", before, after)
	}
}

// A load killed before its end leaves the indexes dropped; the next start builds them.
func TestMigrateBuildsWhatAnUnfinishedBulkLoadLeft(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	ctx := context.Background()
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	before := indexDefs(t, d)
	if err := d.Update(ctx, deferIndexes); err != nil {
		t.Fatal(err)
	}
	if err := insertApp(d, "half-loaded"); err != nil {
		t.Fatal(err)
	}
	d.Close()

	d, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := indexDefs(t, d); maps.Equal(before, got) {
		t.Fatal("the indexes were there before Migrate: the test proves nothing")
	}
	if err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if after := indexDefs(t, d); !maps.Equal(before, after) {
		t.Fatalf("the schema's indexes after Migrate:\nbefore %v\nafter  %v", before, after)
	}
	if n := countRows(t, d, `SELECT count(*) FROM deferred_indexes`); n != 0 {
		t.Fatalf("deferred_indexes still holds %d rows", n)
	}
}

// With no room for the sort's temporary files, the index is still built, sorting in memory.
// SQLite is pointed at /proc for its temporary files, where creating one fails; it uses that
// directory only when the process may write to it (root), so the test needs root.
func TestAnIndexIsBuiltInMemoryWhenTheTemporaryFilesFail(t *testing.T) {
	d := openTest(t)
	ctx := context.Background()
	exec := func(c *Conn, stmts ...string) error {
		for _, s := range stmts {
			if _, err := c.q.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return nil
	}
	// About 5 MB of keys, and a writer cache of 10 pages: SQLite's sorter keeps about 1 MB in
	// memory before it writes a run to a temporary file.
	err := d.Update(ctx, func(c *Conn) error {
		return exec(c, `CREATE TABLE big(a TEXT)`,
			`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000) INSERT INTO big SELECT hex(randomblob(40)) FROM n`,
			`INSERT INTO deferred_indexes(name, sql) VALUES ('big_a', 'CREATE INDEX big_a ON big(a)')`,
			`PRAGMA cache_size = 10`, `PRAGMA temp_store_directory = '/proc'`)
	})
	t.Cleanup(func() { // the directory is SQLite's, not the connection's
		d.Update(ctx, func(c *Conn) error { return exec(c, `PRAGMA temp_store_directory = ''`) })
	})
	if err != nil {
		t.Fatal(err)
	}
	premise := d.Update(ctx, func(c *Conn) error {
		return buildIndex(ctx, c, `CREATE INDEX big_premise ON big(a)`, true)
	})
	if premise == nil {
		t.Skip("SQLite did not use /proc for its temporary files (it does as root only): nothing fails here")
	}

	if err := d.buildDeferredIndexes(ctx); err != nil {
		t.Fatalf("got %v, want the index built in memory", err)
	}
	if indexDefs(t, d)["big_a"] == "" {
		t.Fatal("the index was not built")
	}
	if n := countRows(t, d, `SELECT count(*) FROM deferred_indexes`); n != 0 {
		t.Fatalf("deferred_indexes still holds %d rows", n)
	}
	if n := countRows(t, d, `SELECT count(*) FROM big INDEXED BY big_a WHERE a > ''`); n != 60000 {
		t.Fatalf("the index holds %d rows, want 60000", n)
	}
}
