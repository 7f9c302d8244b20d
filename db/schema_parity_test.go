package db

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// The PostgreSQL schema (migrations_postgres/*.sql) must describe the same database as the
// SQLite migrations (migrations/*.sql): these tests compare what each engine reports about the
// schema it ends up with. They need a PostgreSQL server: TOKENJAR_TEST_DATABASE is an admin URL
// (postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable, as scripts/pg-test-cluster.sh
// prints); each test makes a scratch database there and drops it at the end.
//
// Compared: the tables; each column's type (INTEGER is BIGINT, TEXT is TEXT, BLOB is BYTEA, REAL
// is DOUBLE PRECISION), NOT NULL, DEFAULT and collation (SQLite's BINARY is "C", NOCASE is the
// schema's nocase collation); each named index's table, columns, uniqueness and WHERE; primary
// keys and UNIQUE constraints; foreign keys with their ON DELETE. Not compared: CHECK constraints
// (each engine prints them its own way) and whether a key is generated (signin_codes.user_id is
// a rowid on SQLite but is always the member's id, so it is no identity on PostgreSQL).

const testDatabaseEnv = "TOKENJAR_TEST_DATABASE"

// bookkeeping tables belong to whatever applies the migrations, not to the schema.
var bookkeeping = []string{"schema_migrations", "goose_db_version"}

// pgRowid are PostgreSQL columns that stand in for SQLite's implicit rowid.
var pgRowid = []string{"usage_sources.seq"}

func TestPostgresSchemaMatchesSQLite(t *testing.T) {
	ctx, pg := scratchPostgres(t)
	applyPostgresMigrations(t, ctx, pg)
	for _, d := range diffSchemas(sqliteSchema(t), postgresSchema(t, ctx, pg)) {
		t.Error(d)
	}
}

// TestSchemaParityNamesEachDifference shows that the comparison above sees what it claims to:
// a PostgreSQL schema with a column, an index, a default, a WHERE and a foreign key changed
// against the SQLite one gets one difference named for each.
func TestSchemaParityNamesEachDifference(t *testing.T) {
	ctx, pg := scratchPostgres(t)
	applyPostgresMigrations(t, ctx, pg)
	for _, q := range []string{
		`ALTER TABLE users ADD COLUMN nickname TEXT COLLATE "C"`,
		`ALTER TABLE users DROP COLUMN gateway_rpm`,
		`ALTER TABLE apps ALTER COLUMN disabled SET DEFAULT 1`,
		`ALTER TABLE apps ALTER COLUMN name DROP NOT NULL`,
		`ALTER TABLE tokens ALTER COLUMN name TYPE TEXT COLLATE nocase`,
		`DROP INDEX usage_user_at`,
		`CREATE INDEX usage_user_day ON usage_events(user_id, day)`,
		`DROP INDEX buckets_live`,
		`CREATE INDEX buckets_live ON buckets(user_id) WHERE remaining >= 0`,
		`ALTER TABLE hold_parts DROP CONSTRAINT hold_parts_hold_id_fkey`,
		`ALTER TABLE hold_parts ADD FOREIGN KEY (hold_id) REFERENCES holds(id)`,
		`DROP TABLE deferred_indexes`,
	} {
		if _, err := pg.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	got := diffSchemas(sqliteSchema(t), postgresSchema(t, ctx, pg))
	want := []string{
		"column users.nickname",
		"column users.gateway_rpm",
		"column apps.disabled",
		"column apps.name",
		"column tokens.name",
		"index usage_user_at",
		"index usage_user_day",
		"index buckets_live",
		"foreign key hold_parts.hold_id",
		"table deferred_indexes",
		"column deferred_indexes.name",
		"column deferred_indexes.sql",
		"deferred_indexes primary key",
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(d string) bool { return strings.Contains(d, w+" ") || strings.Contains(d, w+":") }) {
			t.Errorf("no difference names %q", w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d differences for %d changes:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
}

// scratchPostgres connects to a new empty database on the server of TOKENJAR_TEST_DATABASE, or
// skips the test when that is unset. The database is dropped when the test ends.
func scratchPostgres(t *testing.T) (context.Context, *sql.DB) {
	t.Helper()
	admin := os.Getenv(testDatabaseEnv)
	if admin == "" {
		t.Skipf("%s is not set: no PostgreSQL server to compare the schema on (make test-go-postgres starts one)", testDatabaseEnv)
	}
	// A deadline for everything the test asks the server, so a hung server fails the test.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	ac, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("%s: %v", testDatabaseEnv, err)
	}
	t.Cleanup(func() { ac.Close() })
	name := fmt.Sprintf("tokenjar_parity_%d_%d", os.Getpid(), time.Now().UnixNano())
	if _, err := ac.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := ac.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop the scratch database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	c, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return ctx, c
}

func applyPostgresMigrations(t *testing.T, ctx context.Context, c *sql.DB) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("migrations_postgres", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no PostgreSQL migrations found (%v)", err)
	}
	slices.Sort(files)
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// Without arguments pgx sends the file as one simple query: one implicit transaction.
		if _, err := c.ExecContext(ctx, string(body)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
}

// A schema is a set of named facts, each with a description that must match on both engines:
// "table users", "column users.email" → "text not null default ” collate nocase", ...
type schema map[string]string

// diffSchemas names each fact that one engine lacks or describes otherwise, sorted.
func diffSchemas(lite, pg schema) []string {
	var out []string
	for k, v := range lite {
		w, ok := pg[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("PostgreSQL lacks %s (SQLite: %s)", k, v))
		case v != w:
			out = append(out, fmt.Sprintf("%s: SQLite has %s, PostgreSQL %s", k, v, w))
		}
	}
	for k, w := range pg {
		if _, ok := lite[k]; !ok {
			out = append(out, fmt.Sprintf("SQLite lacks %s (PostgreSQL: %s)", k, w))
		}
	}
	slices.Sort(out)
	return out
}

func column(typ string, notNull bool, dflt, collation string) string {
	s := typ
	if notNull {
		s += " not null"
	}
	if dflt != "" {
		s += " default " + dflt
	}
	if collation != "" {
		s += " collate " + collation
	}
	return s
}

func index(table, cols string, unique bool, where string) string {
	s := "on " + table + "(" + cols + ")"
	if unique {
		s = "unique " + s
	}
	if where != "" {
		s += " where " + where
	}
	return s
}

var (
	castSuffix = regexp.MustCompile(`::[a-z ]+$`)
	casts      = regexp.MustCompile(`::[a-z]+`)
	spaces     = regexp.MustCompile(`\s+`)
)

// normDefault writes a DEFAULT the same way for both engines: PostgreSQL's '-1'::bigint and
// ”::text are SQLite's -1 and ”.
func normDefault(s string) string {
	s = castSuffix.ReplaceAllString(strings.TrimSpace(s), "")
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		if _, err := strconv.ParseInt(s[1:len(s)-1], 10, 64); err == nil {
			return s[1 : len(s)-1]
		}
	}
	return s
}

// normWhere writes a partial index's WHERE the same way for both engines: PostgreSQL prints
// (group_name <> ”::text) where SQLite keeps group_name != ”.
func normWhere(s string) string {
	s = strings.ToLower(casts.ReplaceAllString(s, ""))
	s = strings.NewReplacer("(", "", ")", "", "!=", "<>").Replace(s)
	return strings.TrimSpace(spaces.ReplaceAllString(s, " "))
}

// eachRow runs query on db and hands each row to scan; any error fails the test.
func eachRow(t *testing.T, ctx context.Context, db *sql.DB, query string, args []any, scan func(*sql.Rows) error) {
	t.Helper()
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			t.Fatal(err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

var sqliteTypes = map[string]string{"INTEGER": "bigint", "TEXT": "text", "BLOB": "bytea", "REAL": "double precision"}

// sqliteSchema migrates a new SQLite file and describes what the migrations left.
func sqliteSchema(t *testing.T) schema {
	t.Helper()
	ctx := context.Background()
	// A file of its own rather than openTest's: this side is SQLite whatever engine the rest of
	// the suite runs on.
	d, err := Open(filepath.Join(t.TempDir(), "schema.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	q := func(query string, args []any, scan func(*sql.Rows) error) {
		t.Helper()
		eachRow(t, ctx, d.read, query, args, scan)
	}
	out := schema{}
	var tables []string
	tableSQL := map[string]string{}
	q(`SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`, nil, func(r *sql.Rows) error {
		var name, def string
		if err := r.Scan(&name, &def); err != nil {
			return err
		}
		if !slices.Contains(bookkeeping, name) {
			tables = append(tables, name)
			tableSQL[name] = def
		}
		return nil
	})
	for _, tb := range tables {
		out["table "+tb] = ""
		// SQLite reports no column's collation; its CREATE TABLE (ALTERs included) says it.
		nocase := map[string]bool{}
		for _, m := range regexp.MustCompile(`(?i)(\w+)\s+TEXT\b[^,]*COLLATE\s+NOCASE`).FindAllStringSubmatch(tableSQL[tb], -1) {
			nocase[m[1]] = true
		}
		pk := map[int]string{}
		q(`SELECT name, type, "notnull", coalesce(dflt_value, ''), pk FROM pragma_table_info(?)`, []any{tb}, func(r *sql.Rows) error {
			var name, typ, dflt string
			var notNull bool
			var pkPos int
			if err := r.Scan(&name, &typ, &notNull, &dflt, &pkPos); err != nil {
				return err
			}
			pgType, ok := sqliteTypes[strings.ToUpper(typ)]
			if !ok {
				pgType = "sqlite " + typ
			}
			collation := ""
			if pgType == "text" {
				collation = "binary"
				if nocase[name] {
					collation = "nocase"
				}
			}
			if pkPos > 0 {
				pk[pkPos] = name
				notNull = true // a key column; SQLite lets some hold NULL, PostgreSQL none
			}
			out["column "+tb+"."+name] = column(pgType, notNull, normDefault(dflt), collation)
			return nil
		})
		var pkCols []string
		for i := 1; i <= len(pk); i++ {
			pkCols = append(pkCols, pk[i])
		}
		if len(pkCols) > 0 {
			out[tb+" primary key"] = strings.Join(pkCols, ", ")
		}
		q(`SELECT l.name, l.origin, (SELECT group_concat(name, ', ') FROM (SELECT name FROM pragma_index_info(l.name) ORDER BY seqno))
		   FROM pragma_index_list(?) l WHERE l.origin = 'u'`, []any{tb}, func(r *sql.Rows) error {
			var name, origin, cols string
			if err := r.Scan(&name, &origin, &cols); err != nil {
				return err
			}
			out[tb+" unique ("+cols+")"] = ""
			return nil
		})
		q(`SELECT "from", "table", coalesce("to", ''), on_delete FROM pragma_foreign_key_list(?)`, []any{tb}, func(r *sql.Rows) error {
			var from, parent, to, onDelete string
			if err := r.Scan(&from, &parent, &to, &onDelete); err != nil {
				return err
			}
			out["foreign key "+tb+"."+from] = "references " + parent + "(" + to + ") on delete " + strings.ToLower(onDelete)
			return nil
		})
	}
	q(`SELECT m.name, m.tbl_name, m.sql, (SELECT group_concat(name, ', ') FROM (SELECT name FROM pragma_index_info(m.name) ORDER BY seqno)),
	          (SELECT "unique" FROM pragma_index_list(m.tbl_name) l WHERE l.name = m.name)
	   FROM sqlite_master m WHERE m.type = 'index' AND m.sql IS NOT NULL`, nil, func(r *sql.Rows) error {
		var name, tb, def, cols string
		var unique bool
		if err := r.Scan(&name, &tb, &def, &cols, &unique); err != nil {
			return err
		}
		where := ""
		if i := strings.LastIndex(strings.ToUpper(def), " WHERE "); i >= 0 {
			where = normWhere(def[i+len(" WHERE "):])
		}
		out["index "+name] = index(tb, cols, unique, where)
		return nil
	})
	return out
}

// postgresSchema describes the tables, columns, indexes and keys of the connection's schema.
func postgresSchema(t *testing.T, ctx context.Context, c *sql.DB) schema {
	t.Helper()
	q := func(query string, scan func(*sql.Rows) error) {
		t.Helper()
		eachRow(t, ctx, c, query, nil, scan)
	}
	out := schema{}
	skip := func(table string) bool { return slices.Contains(bookkeeping, table) }
	q(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`, func(r *sql.Rows) error {
		var name string
		if err := r.Scan(&name); err != nil {
			return err
		}
		if !skip(name) {
			out["table "+name] = ""
		}
		return nil
	})
	q(`SELECT table_name, column_name, data_type, is_nullable = 'NO', coalesce(column_default, ''), coalesce(collation_name, '')
	   FROM information_schema.columns WHERE table_schema = current_schema()`, func(r *sql.Rows) error {
		var tb, name, typ, dflt, collation string
		var notNull bool
		if err := r.Scan(&tb, &name, &typ, &notNull, &dflt, &collation); err != nil {
			return err
		}
		if skip(tb) {
			return nil
		}
		switch {
		case typ != "text":
		case collation == "C":
			collation = "binary"
		case collation == "nocase":
		case collation == "":
			collation = "the database's (name one: \"C\" or nocase)"
		}
		if slices.Contains(pgRowid, tb+"."+name) {
			return nil
		}
		out["column "+tb+"."+name] = column(typ, notNull, normDefault(dflt), collation)
		return nil
	})
	// Primary keys and UNIQUE constraints, their columns in key order.
	q(`SELECT t.relname, k.contype,
	          (SELECT string_agg(a.attname, ', ' ORDER BY o.n) FROM unnest(k.conkey) WITH ORDINALITY o(att, n)
	           JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = o.att)
	   FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid
	   WHERE t.relnamespace = current_schema()::regnamespace AND k.contype IN ('p', 'u')`, func(r *sql.Rows) error {
		var tb, kind, cols string
		if err := r.Scan(&tb, &kind, &cols); err != nil {
			return err
		}
		switch {
		case skip(tb):
		case kind == "p":
			out[tb+" primary key"] = cols
		default:
			out[tb+" unique ("+cols+")"] = ""
		}
		return nil
	})
	q(`SELECT t.relname, a.attname, p.relname, pa.attname,
	          CASE k.confdeltype WHEN 'a' THEN 'no action' WHEN 'r' THEN 'restrict' WHEN 'c' THEN 'cascade'
	                             WHEN 'n' THEN 'set null' ELSE 'set default' END
	   FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid
	   JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
	   JOIN pg_attribute pa ON pa.attrelid = k.confrelid AND pa.attnum = k.confkey[1]
	   WHERE t.relnamespace = current_schema()::regnamespace AND k.contype = 'f'`, func(r *sql.Rows) error {
		var tb, from, parent, to, onDelete string
		if err := r.Scan(&tb, &from, &parent, &to, &onDelete); err != nil {
			return err
		}
		out["foreign key "+tb+"."+from] = "references " + parent + "(" + to + ") on delete " + onDelete
		return nil
	})
	// Named indexes: every index but those behind a primary key or UNIQUE constraint.
	q(`SELECT i.relname, t.relname, x.indisunique, coalesce(pg_get_expr(x.indpred, x.indrelid), ''),
	          (SELECT string_agg(pg_get_indexdef(x.indexrelid, k, true), ', ' ORDER BY k) FROM generate_series(1, x.indnkeyatts) k)
	   FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
	   WHERE t.relnamespace = current_schema()::regnamespace
	     AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid AND k.conrelid = x.indrelid AND k.contype IN ('p', 'u'))`,
		func(r *sql.Rows) error {
			var name, tb, where, cols string
			var unique bool
			if err := r.Scan(&name, &tb, &unique, &where, &cols); err != nil {
				return err
			}
			if !skip(tb) {
				out["index "+name] = index(tb, cols, unique, normWhere(where))
			}
			return nil
		})
	return out
}
