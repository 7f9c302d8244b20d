package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// This file copies a SQLite instance into an empty PostgreSQL database (`tokenjar migrate`):
// every table, ids kept, in one PostgreSQL transaction, so that a failure leaves the target as
// empty as it was.

// ErrTargetNotEmpty: the database a copy was to write into holds rows already.
var ErrTargetNotEmpty = errors.New("the target database is not empty")

// copySkipped are the SQLite tables a copy leaves out: the migrations' own bookkeeping (the
// target's Migrate wrote its own), and the indexes a bulk load left to build, which belong to
// the SQLite file (Migrate builds them before anything else runs, so it is empty).
var copySkipped = map[string]bool{"schema_migrations": true, "deferred_indexes": true}

// CopyProgress tells how far a copy is: Rows of Table copied so far, in Took; Done once the
// table is whole. After the rows, each index and foreign key made again is reported once, as
// Built (such as "index usage_user_at") with the Took it took, Done.
type CopyProgress struct {
	Table string
	Built string
	Rows  int64
	Took  time.Duration
	Done  bool
}

// TableCount is one table's rows: in the SQLite snapshot that was copied, as copied, and as
// counted in PostgreSQL after the commit. All three are equal after a good copy.
type TableCount struct {
	Table          string
	Source, Copied int64
	Target         int64
	Took           time.Duration
}

// copyProgressEvery is how often a long table reports progress.
const copyProgressEvery = 5 * time.Second

// CopyTo copies every table of d, a migrated SQLite database, into dst, a migrated and empty
// PostgreSQL database, and returns each table's counts. It refuses with ErrTargetNotEmpty,
// writing nothing, when any table of dst has a row. The source is read in one read
// transaction (one snapshot); the target is written in one transaction that also drops the
// secondary indexes and foreign keys of the tables it fills and makes them again at the end
// (building an index once is far faster than row by row), then moves every identity past the
// largest id copied. progress, if not nil, is called every few seconds and when a table is done.
func (d *DB) CopyTo(ctx context.Context, dst *DB, progress func(CopyProgress)) ([]TableCount, error) {
	if d.engine != SQLite || dst.engine != Postgres {
		return nil, errors.New("db: a copy goes from a SQLite file to a PostgreSQL database")
	}
	src, err := d.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer src.Rollback()
	srcTables, err := sqliteTables(ctx, src)
	if err != nil {
		return nil, err
	}
	conn, err := dst.pg.pool.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	pgTables, err := pgTableList(ctx, tx)
	if err != nil {
		return nil, err
	}
	for _, t := range srcTables {
		if !contains(pgTables, t) {
			return nil, fmt.Errorf("db: table %s has no twin in the PostgreSQL schema", t)
		}
	}
	if len(pgTables) > 0 {
		// Nobody writes into the target until the copy commits (reads still may).
		if _, err := tx.ExecContext(ctx, `LOCK TABLE `+quotePgList(pgTables)+` IN EXCLUSIVE MODE`); err != nil {
			return nil, err
		}
	}
	if err := requireEmpty(ctx, tx, pgTables); err != nil {
		return nil, err
	}
	order, err := pgFillOrder(ctx, tx, srcTables)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `SET LOCAL maintenance_work_mem = '256MB'`); err != nil {
		return nil, err
	}
	rebuild, err := dropForBulkLoad(ctx, tx, order)
	if err != nil {
		return nil, err
	}
	counts := make([]TableCount, 0, len(order))
	for _, t := range order {
		tc, err := copyTable(ctx, src, conn, tx, t, progress)
		if err != nil {
			return nil, fmt.Errorf("copy %s: %w", t, err)
		}
		counts = append(counts, tc)
	}
	for _, step := range rebuild {
		began := time.Now()
		if _, err := tx.ExecContext(ctx, step.stmt); err != nil {
			return nil, fmt.Errorf("%s: %w", step.stmt, err)
		}
		if progress != nil {
			progress(CopyProgress{Built: step.what, Took: time.Since(began), Done: true})
		}
	}
	if err := resetIdentities(ctx, tx, order); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	// The planner's statistics, now rather than when autovacuum gets to it.
	if _, err := conn.ExecContext(ctx, `ANALYZE`); err != nil {
		return nil, err
	}
	for i := range counts {
		if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM `+quotePg(counts[i].Table)).Scan(&counts[i].Target); err != nil {
			return nil, err
		}
	}
	return counts, nil
}

// RequireEmpty fails with ErrTargetNotEmpty, naming the tables, when any table of the
// PostgreSQL database d has a row. tokenjar migrate asks it before making the schema, so that it
// writes nothing into a database that is in use (CopyTo asks again, under lock).
func (d *DB) RequireEmpty(ctx context.Context) error {
	if d.engine != Postgres {
		return errors.New("db: RequireEmpty is for the PostgreSQL target of a copy")
	}
	tables, err := pgTableList(ctx, d.pg.pool)
	if err != nil {
		return err
	}
	return requireEmpty(ctx, d.pg.pool, tables)
}

func requireEmpty(ctx context.Context, q Queryer, tables []string) error {
	var full []string
	for _, t := range tables {
		var any bool
		if err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+quotePg(t)+`)`).Scan(&any); err != nil {
			return err
		}
		if any {
			full = append(full, t)
		}
	}
	if len(full) > 0 {
		return fmt.Errorf("%w: %s %s rows; tokenjar migrate only writes into a database with no rows in any table", ErrTargetNotEmpty, strings.Join(full, ", "), plural(len(full), "has", "have"))
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func quotePg(name string) string { return pgx.Identifier{name}.Sanitize() }

func quotePgList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quotePg(n)
	}
	return strings.Join(q, ", ")
}

func quoteSQLite(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// sqliteTables lists the tables a copy takes from the SQLite file.
func sqliteTables(ctx context.Context, q Queryer) ([]string, error) {
	names, err := firstColumn(ctx, q, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		if n == "deferred_indexes" {
			var left int64
			if err := q.QueryRowContext(ctx, `SELECT count(*) FROM deferred_indexes`).Scan(&left); err != nil {
				return nil, err
			}
			if left > 0 {
				return nil, errors.New("db: a bulk load of this SQLite file did not finish building its indexes; open it once with this tokenjar (tokenjar check) and copy again")
			}
		}
		if !copySkipped[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

// textRows reads every row of a query whose columns are all text (catalog queries).
func textRows(ctx context.Context, q Queryer, query string, args ...any) ([][]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]string
	for rows.Next() {
		row := make([]string, len(cols))
		ptrs := make([]any, len(cols))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// firstColumn reads the first column of every row of a catalog query.
func firstColumn(ctx context.Context, q Queryer, query string, args ...any) ([]string, error) {
	rows, err := textRows(ctx, q, query, args...)
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r[0]
	}
	return out, err
}

// pgTableList lists the target's tables, but for the migrations' bookkeeping.
func pgTableList(ctx context.Context, q Queryer) ([]string, error) {
	return firstColumn(ctx, q, `SELECT c.relname FROM pg_class c
		WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		AND c.relname <> 'schema_migrations' ORDER BY c.relname`)
}

// pgFillOrder puts tables in an order where every table comes after those its foreign keys
// point at (by name among equals, so the order is stable).
func pgFillOrder(ctx context.Context, q Queryer, tables []string) ([]string, error) {
	fks, err := textRows(ctx, q, `SELECT t.relname, r.relname FROM pg_constraint con
		JOIN pg_class t ON t.oid = con.conrelid JOIN pg_class r ON r.oid = con.confrelid
		WHERE con.contype = 'f' AND con.connamespace = current_schema()::regnamespace`)
	if err != nil {
		return nil, err
	}
	deps := map[string][]string{}
	for _, fk := range fks {
		if from, to := fk[0], fk[1]; from != to {
			deps[from] = append(deps[from], to)
		}
	}
	sorted := append([]string(nil), tables...)
	sort.Strings(sorted)
	state := map[string]int{} // 1: being visited, 2: placed
	var order []string
	var visit func(t string) error
	visit = func(t string) error {
		switch state[t] {
		case 1:
			return fmt.Errorf("db: the foreign keys between the tables form a cycle through %s", t)
		case 2:
			return nil
		}
		state[t] = 1
		for _, dep := range deps[t] {
			if contains(tables, dep) {
				if err := visit(dep); err != nil {
					return err
				}
			}
		}
		state[t] = 2
		order = append(order, t)
		return nil
	}
	for _, t := range sorted {
		if err := visit(t); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// rebuildStep makes again an index or foreign key that a copy dropped.
type rebuildStep struct{ what, stmt string }

// dropForBulkLoad drops the foreign keys and the indexes that no constraint owns on the given
// tables (plain tables only: a partitioned table keeps its indexes), and returns the
// statements that make them again, indexes first.
func dropForBulkLoad(ctx context.Context, tx *sql.Tx, tables []string) ([]rebuildStep, error) {
	// Rows of (table, name, definition).
	fks, err := textRows(ctx, tx, `SELECT t.relname, con.conname, pg_get_constraintdef(con.oid) FROM pg_constraint con
		JOIN pg_class t ON t.oid = con.conrelid
		WHERE con.contype = 'f' AND t.relkind = 'r' AND NOT t.relispartition
		AND t.relnamespace = current_schema()::regnamespace AND t.relname = ANY($1) ORDER BY t.relname, con.conname`, tables)
	if err != nil {
		return nil, err
	}
	idx, err := textRows(ctx, tx, `SELECT t.relname, i.relname, pg_get_indexdef(i.oid) FROM pg_index x
		JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
		WHERE t.relkind = 'r' AND NOT t.relispartition AND t.relnamespace = current_schema()::regnamespace
		AND t.relname = ANY($1) AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = x.indexrelid)
		ORDER BY t.relname, i.relname`, tables)
	if err != nil {
		return nil, err
	}
	var rebuild []rebuildStep
	for _, fk := range fks {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE `+quotePg(fk[0])+` DROP CONSTRAINT `+quotePg(fk[1])); err != nil {
			return nil, err
		}
	}
	for _, ix := range idx {
		if _, err := tx.ExecContext(ctx, `DROP INDEX `+quotePg(ix[1])); err != nil {
			return nil, err
		}
		rebuild = append(rebuild, rebuildStep{"index " + ix[1], ix[2]})
	}
	for _, fk := range fks {
		rebuild = append(rebuild, rebuildStep{"foreign key " + fk[1], `ALTER TABLE ` + quotePg(fk[0]) + ` ADD CONSTRAINT ` + quotePg(fk[1]) + ` ` + fk[2]})
	}
	return rebuild, nil
}

// pgColumn is one column of a target table.
type pgColumn struct {
	name, dataType string
}

func pgColumns(ctx context.Context, q Queryer, table string) ([]pgColumn, error) {
	rows, err := textRows(ctx, q, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER' ORDER BY ordinal_position`, table)
	out := make([]pgColumn, len(rows))
	for i, r := range rows {
		out[i] = pgColumn{name: r[0], dataType: r[1]}
	}
	return out, err
}

func sqliteColumns(ctx context.Context, q Queryer, table string) ([]string, error) {
	return firstColumn(ctx, q, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, table)
}

// copyTable streams one table from the SQLite snapshot into PostgreSQL with COPY. The columns
// are those both sides have; a column only PostgreSQL has (usage_sources.seq, which stands in
// for SQLite's rowid) takes its default, in rowid order.
func copyTable(ctx context.Context, src *sql.Tx, conn *sql.Conn, tx *sql.Tx, table string, progress func(CopyProgress)) (TableCount, error) {
	tc := TableCount{Table: table}
	began := time.Now()
	dstCols, err := pgColumns(ctx, tx, table)
	if err != nil {
		return tc, err
	}
	srcCols, err := sqliteColumns(ctx, src, table)
	if err != nil {
		return tc, err
	}
	var cols []pgColumn
	for _, name := range srcCols {
		found := false
		for _, c := range dstCols {
			if c.name == name {
				cols = append(cols, c)
				found = true
			}
		}
		if !found {
			return tc, fmt.Errorf("column %s has no twin in the PostgreSQL schema", name)
		}
	}
	if err := src.QueryRowContext(ctx, `SELECT count(*) FROM `+quoteSQLite(table)).Scan(&tc.Source); err != nil {
		return tc, err
	}
	names := make([]string, len(cols))
	quoted := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
		quoted[i] = quoteSQLite(c.name)
	}
	query := `SELECT ` + strings.Join(quoted, ", ") + ` FROM ` + quoteSQLite(table)
	if len(cols) < len(dstCols) {
		query += ` ORDER BY rowid`
	}
	rows, err := src.QueryContext(ctx, query)
	if err != nil {
		return tc, err
	}
	defer rows.Close()
	rs := &rowSource{rows: rows, cols: cols, vals: make([]any, len(cols)), ptrs: make([]any, len(cols))}
	for i := range rs.vals {
		rs.ptrs[i] = &rs.vals[i]
	}
	if progress != nil {
		next := began.Add(copyProgressEvery)
		rs.tick = func(n int64) {
			if now := time.Now(); now.After(next) {
				next = now.Add(copyProgressEvery)
				progress(CopyProgress{Table: table, Rows: n, Took: now.Sub(began)})
			}
		}
	}
	err = conn.Raw(func(dc any) error {
		pc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("db: the PostgreSQL connection is a %T, not pgx's", dc)
		}
		n, err := pc.Conn().CopyFrom(ctx, pgx.Identifier{table}, names, rs)
		tc.Copied = n
		return err
	})
	if err != nil {
		return tc, err
	}
	tc.Took = time.Since(began)
	if progress != nil {
		progress(CopyProgress{Table: table, Rows: tc.Copied, Took: tc.Took, Done: true})
	}
	return tc, nil
}

// rowSource feeds SQLite rows to pgx's COPY one at a time, so no table is ever held in memory.
type rowSource struct {
	rows *sql.Rows
	cols []pgColumn
	vals []any
	ptrs []any
	n    int64
	err  error
	tick func(n int64)
}

func (r *rowSource) Next() bool {
	if !r.rows.Next() {
		return false
	}
	if err := r.rows.Scan(r.ptrs...); err != nil {
		r.err = err
		return false
	}
	for i, v := range r.vals {
		cv, err := pgValue(v, r.cols[i].dataType)
		if err != nil {
			r.err = fmt.Errorf("row %d, column %s: %w", r.n+1, r.cols[i].name, err)
			return false
		}
		r.vals[i] = cv
	}
	r.n++
	if r.tick != nil && r.n%4096 == 0 {
		r.tick(r.n)
	}
	return true
}

func (r *rowSource) Values() ([]any, error) { return r.vals, nil }

func (r *rowSource) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.rows.Err()
}

// pgValue converts what SQLite's loose typing may have stored to what the PostgreSQL column
// takes: a number kept as text in an integer column, a number in a text column, text in a
// BYTEA column. NULL stays NULL.
func pgValue(v any, dataType string) (any, error) {
	switch dataType {
	case "bigint", "integer", "smallint":
		switch x := v.(type) {
		case string:
			n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not an integer", x)
			}
			return n, nil
		case float64:
			if x != float64(int64(x)) {
				return nil, fmt.Errorf("%v is not an integer", x)
			}
			return int64(x), nil
		case []byte:
			return nil, errors.New("a BLOB in an integer column")
		}
	case "text", "character varying":
		switch x := v.(type) {
		case int64:
			return strconv.FormatInt(x, 10), nil
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64), nil
		case []byte:
			return string(x), nil
		}
	case "bytea":
		if s, ok := v.(string); ok {
			return []byte(s), nil
		}
	}
	return v, nil
}

// resetIdentities moves every identity (or serial) column's sequence of the given tables past
// the largest value copied, so the ids of new rows continue after the old ones.
func resetIdentities(ctx context.Context, tx *sql.Tx, tables []string) error {
	cols, err := textRows(ctx, tx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = ANY($1)
		AND (is_identity = 'YES' OR column_default LIKE 'nextval(%') ORDER BY table_name, column_name`, tables)
	if err != nil {
		return err
	}
	for _, c := range cols {
		table, col := c[0], quotePg(c[1])
		q := `SELECT setval(pg_get_serial_sequence($1, $2), coalesce(max(` + col + `), 1), max(` + col + `) IS NOT NULL) FROM ` + quotePg(table)
		if _, err := tx.ExecContext(ctx, q, quotePg(table), c[1]); err != nil {
			return fmt.Errorf("move the ids of %s.%s past the copied ones: %w", table, c[1], err)
		}
	}
	return nil
}
