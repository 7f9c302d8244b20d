package db_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"tokenjar/db"
	"tokenjar/db/dbtest"
)

// copySource makes a migrated SQLite file with a few hand-written rows: a member, a provider
// whose sealed key is binary (zero bytes included) and one whose key is NULL, and settings.
func copySource(t *testing.T) *db.DB {
	t.Helper()
	if dbtest.Engine() != db.Postgres {
		t.Skip("a copy goes into PostgreSQL: set " + dbtest.EnvVar + " to a PostgreSQL admin URL")
	}
	path := filepath.Join(t.TempDir(), "tokenjar.db")
	src, err := db.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	if err := src.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, stmt := range []string{
		`INSERT INTO users(id, email, name, role, created_at) VALUES (7, 'Ann@example.org', 'Ann', 'owner', 1)`,
		`INSERT INTO providers(id, name, kind, base_url, api_key_enc, created_at, updated_at) VALUES (3, 'Local', 'openai-compatible', 'http://127.0.0.1:1', x'00ff0010', 1, 2)`,
		`INSERT INTO providers(id, name, kind, base_url, api_key_enc, created_at, updated_at) VALUES (9, 'None', 'openai', 'https://example.org', NULL, 1, 2)`,
		`INSERT INTO settings(key, value) VALUES ('instance_name', 'Copy test')`,
	} {
		if _, err := raw.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	return src
}

// Proves: a BLOB arrives as the same bytes in BYTEA, a NULL stays NULL, ids are kept, and the
// identities continue past the copied ids (a new provider gets id 10, not 1).
func TestCopyKeepsBytesNullsAndIds(t *testing.T) {
	src := copySource(t)
	dst := dbtest.Open(t)
	ctx := context.Background()
	counts, err := src.CopyTo(ctx, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range counts {
		if c.Source != c.Copied || c.Copied != c.Target {
			t.Errorf("%s: source %d, copied %d, target %d", c.Table, c.Source, c.Copied, c.Target)
		}
	}
	var key []byte
	if err := dst.Read().QueryRowForTest(ctx, `SELECT api_key_enc FROM providers WHERE id = 3`, &key); err != nil || !bytes.Equal(key, []byte{0, 0xff, 0, 0x10}) {
		t.Fatalf("provider 3's key on the copy: %x %v", key, err)
	}
	var isNull bool
	if err := dst.Read().QueryRowForTest(ctx, `SELECT api_key_enc IS NULL FROM providers WHERE id = 9`, &isNull); err != nil || !isNull {
		t.Fatalf("provider 9's NULL key: null=%v %v", isNull, err)
	}
	var id int64
	err = dst.Read().QueryRowForTest(ctx, `INSERT INTO providers(name, kind, base_url, created_at, updated_at) VALUES ('New', 'openai', 'https://example.org', 1, 1) RETURNING id`, &id)
	if err != nil || id != 10 {
		t.Fatalf("a new provider after the copy: id %d %v, want 10", id, err)
	}
}

// Proves: a copy that fails half-way (here: cancelled once the first tables are in) leaves the
// target as it was: no rows in any table, and its indexes and foreign keys, which the copy
// drops to load faster, all back. A copy into it then succeeds.
func TestAFailedCopyLeavesTheTargetEmpty(t *testing.T) {
	src := copySource(t)
	dst := dbtest.Open(t)
	ctx := context.Background()
	var before int64
	schemaSize := `SELECT (SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema()) + (SELECT count(*) FROM pg_constraint WHERE connamespace = current_schema()::regnamespace)`
	if err := dst.Read().QueryRowForTest(ctx, schemaSize, &before); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, err := src.CopyTo(cctx, dst, func(p db.CopyProgress) {
		if p.Done && p.Table == "users" {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled copy: %v", err)
	}
	var users, providers, settings, after int64
	for q, n := range map[string]*int64{`SELECT count(*) FROM users`: &users, `SELECT count(*) FROM providers`: &providers, `SELECT count(*) FROM settings`: &settings, schemaSize: &after} {
		if err := dst.Read().QueryRowForTest(ctx, q, n); err != nil {
			t.Fatal(err)
		}
	}
	if users+providers+settings != 0 || after != before {
		t.Fatalf("after a failed copy: %d users, %d providers, %d settings; %d indexes and constraints, had %d", users, providers, settings, after, before)
	}
	if _, err := src.CopyTo(ctx, dst, nil); err != nil {
		t.Fatalf("copy after a failed one: %v", err)
	}
}
