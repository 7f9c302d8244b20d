package db

import (
	"context"
	"os"
	"testing"
	"time"
)

// Every PostgreSQL connection asks for custom plans (pgCustomPlans) unless the URL says
// otherwise. This proves the URL rewrite and, with a server (TOKENJAR_TEST_DATABASE), that the
// server reports the setting on the pool's connections; that a generic plan was slow is in
// docs/benchmarks-postgres.md, not here.
func TestPostgresConnectionsAskForCustomPlans(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u@127.0.0.1:5432/db?sslmode=disable", "postgres://u@127.0.0.1:5432/db?plan_cache_mode=force_custom_plan&sslmode=disable"},
		{"postgres://u@h/db", "postgres://u@h/db?plan_cache_mode=force_custom_plan"},
		{"postgres://u@h/db?plan_cache_mode=auto", "postgres://u@h/db?plan_cache_mode=auto"}, // the operator's choice stays
	} {
		if got := withRuntimeParam(tc.in, pgCustomPlans[0], pgCustomPlans[1]); got != tc.want {
			t.Errorf("withRuntimeParam(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	admin := os.Getenv(testDatabaseEnv)
	if admin == "" {
		t.Skipf("%s is not set: the server side is not checked", testDatabaseEnv)
	}
	d, err := Open(admin)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var mode string
	if err := d.pg.pool.QueryRowContext(ctx, `SHOW plan_cache_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "force_custom_plan" {
		t.Fatalf("plan_cache_mode %q on a pool connection, want force_custom_plan", mode)
	}
}
