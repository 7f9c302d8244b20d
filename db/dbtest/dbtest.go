// Package dbtest gives each test a database of its own: a SQLite file in the test's temp
// folder, or, when TOKENJAR_TEST_DATABASE names a PostgreSQL server (an admin URL such as
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable), a new database on that server,
// dropped when the test ends. `make test` runs the suite both ways.
package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"tokenjar/db"
)

// EnvVar names the PostgreSQL server the tests run on; unset, they run on SQLite.
const EnvVar = "TOKENJAR_TEST_DATABASE"

// Engine is the engine this test run uses.
func Engine() db.Engine {
	if os.Getenv(EnvVar) != "" {
		return db.Postgres
	}
	return db.SQLite
}

// SkipOnPostgres skips a test that is about SQLite itself (its file, its log, its fsync).
func SkipOnPostgres(t testing.TB, why string) {
	t.Helper()
	if Engine() == db.Postgres {
		t.Skip("SQLite only: " + why)
	}
}

// Open returns a fresh, migrated database, closed when the test ends.
func Open(t testing.TB) *db.DB {
	t.Helper()
	d, err := db.Open(Target(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

var created atomic.Int64

// Target returns what db.Open (or `tokenjar --database`) takes for a fresh, empty database: a
// file path in the test's temp folder, or the URL of a new PostgreSQL database. Each call makes
// a new one.
func Target(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvVar)
	if admin == "" {
		return filepath.Join(t.TempDir(), "tokenjar.db")
	}
	name := fmt.Sprintf("tj_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, created.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() { dropDatabase(admin, name) })
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func dropDatabase(admin, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := sql.Open("pgx", admin)
	if err != nil {
		return
	}
	defer pool.Close()
	// FORCE ends connections a test left open (a killed server's, say).
	pool.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
}
