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
	"sync"
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

// Target returns what db.Open (or `tokenjar --database`) takes for a fresh database: a file
// path in the test's temp folder (no file yet), or the URL of a new PostgreSQL database that
// has the schema and no rows (copied from a template migrated once per test binary: migrating
// each of hundreds of test databases took most of the suite's time). Each call makes a new one.
func Target(t testing.TB) string {
	t.Helper()
	if os.Getenv(EnvVar) == "" {
		return filepath.Join(t.TempDir(), "tokenjar.db")
	}
	tpl, err := migratedTemplate()
	if err != nil {
		t.Fatal(err)
	}
	return createDatabase(t, "TEMPLATE "+tpl)
}

// EmptyTarget is Target without the schema on PostgreSQL: for tests of migrating itself.
func EmptyTarget(t testing.TB) string {
	t.Helper()
	if os.Getenv(EnvVar) == "" {
		return filepath.Join(t.TempDir(), "tokenjar.db")
	}
	return createDatabase(t, "")
}

func createDatabase(t testing.TB, options string) string {
	t.Helper()
	admin := os.Getenv(EnvVar)
	name := newName("tj_test")
	if err := adminExec(admin, "CREATE DATABASE "+name+" "+options); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() { adminExec(admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	return databaseURL(t, admin, name)
}

func newName(prefix string) string {
	return fmt.Sprintf("%s_%d_%d_%d", prefix, os.Getpid(), time.Now().UnixNano()%1e9, created.Add(1))
}

func databaseURL(t testing.TB, admin, name string) string {
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

var template struct {
	once sync.Once
	name string
	err  error
}

// migratedTemplate makes, once per test binary, a database with the schema to copy. It is
// left behind when the binary ends (nothing runs then); the throwaway cluster of `make test`
// goes with it.
func migratedTemplate() (string, error) {
	template.once.Do(func() {
		admin := os.Getenv(EnvVar)
		name := newName("tj_tpl")
		if template.err = adminExec(admin, "CREATE DATABASE "+name); template.err != nil {
			return
		}
		u, err := url.Parse(admin)
		if err != nil {
			template.err = err
			return
		}
		u.Path = "/" + name
		d, err := db.Open(u.String())
		if err != nil {
			template.err = err
			return
		}
		template.err = d.Migrate(context.Background())
		d.Close() // a template must have no connections when it is copied
		template.name = name
	})
	return template.name, template.err
}

func adminExec(admin, statement string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool, err := sql.Open("pgx", admin)
	if err != nil {
		return err
	}
	defer pool.Close()
	_, err = pool.ExecContext(ctx, statement)
	return err
}
