package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"tokenjar/db"
	"tokenjar/db/dbtest"
	"tokenjar/server/demo"
)

// migrateDemoFamily writes the demo family into a fresh SQLite data folder and migrates it into
// a fresh PostgreSQL database; it returns the folder, the target URL and migrate's output.
func migrateDemoFamily(t *testing.T) (dir, target, output string) {
	t.Helper()
	if dbtest.Engine() != db.Postgres {
		t.Skip("migrate copies into PostgreSQL: set " + dbtest.EnvVar + " to a PostgreSQL admin URL (make test-go-postgres)")
	}
	t.Setenv("TOKENJAR_DATABASE_URL", "") // the demo goes into the SQLite file of the folder
	dir = t.TempDir()
	var out bytes.Buffer
	if err := run([]string{"demo", "--data", dir}, &out); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	target = dbtest.Target(t)
	out.Reset()
	if err := run([]string{"migrate", "--data", dir, "--to", target}, &out); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out.String())
	}
	return dir, target, out.String()
}

func openBoth(t *testing.T, dir, target string) (src, dst *db.DB) {
	t.Helper()
	src, err := db.Open(filepath.Join(dir, "tokenjar.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	dst, err = db.Open(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dst.Close() })
	return src, dst
}

func count(t *testing.T, d *db.DB, q string) int64 {
	t.Helper()
	var n int64
	if err := d.Read().QueryRowForTest(context.Background(), q, &n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// tableRows reads every row of a table, in the order of its columns, as the driver gives them.
func tableRows(t *testing.T, d *db.DB, table string, cols []string, order string) [][]any {
	t.Helper()
	var out [][]any
	err := d.Read().QueryRowsForTest(context.Background(), `SELECT `+strings.Join(cols, ", ")+` FROM `+table+` ORDER BY `+order, func(row []any) {
		out = append(out, append([]any(nil), row...))
	})
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	return out
}

// TestMigrateTheDemoFamily makes the demo family once (it takes a while), migrates it into
// PostgreSQL, and checks the copy in three steps, in this order (the last one writes to it).
func TestMigrateTheDemoFamily(t *testing.T) {
	dir, target, output := migrateDemoFamily(t)
	if !t.Run("the copy is whole", func(t *testing.T) { copyIsWhole(t, dir, target, output) }) {
		return
	}
	t.Run("a second migrate is refused and writes nothing", func(t *testing.T) { secondMigrateIsRefused(t, dir, target) })
	t.Run("a server on the copy charges the right member, ids past the old ones", func(t *testing.T) { serveFromTheCopy(t, dir, target) })
}

// Proves: `tokenjar migrate` copies the demo family into PostgreSQL whole: every table's rows,
// column by column with their ids, usage_sources in the order the sources paid, balances and
// debts, the ledger invariant and rollups that add up to the events, all checked on the copy.
// It does not prove the copy of a large instance is fast (measured by hand on 10M events,
// docs/scaling.md) nor that a copy interrupted half-way leaves nothing (that rests on the one
// transaction).
func copyIsWhole(t *testing.T, dir, target, output string) {
	if !strings.Contains(output, "ledger consistent on the copy") {
		t.Fatalf("migrate did not report its checks:\n%s", output)
	}
	src, dst := openBoth(t, dir, target)
	ctx := context.Background()

	// The demo's own consistency test, on the copy.
	if bad, err := dst.Read().CheckLedger(ctx); err != nil || len(bad) > 0 {
		t.Fatalf("ledger on the copy: %v %v", bad, err)
	}
	if n := count(t, dst, `SELECT count(*) FROM usage_events`); n < 1000 {
		t.Fatalf("only %d events on the copy", n)
	}
	for _, q := range []string{
		`SELECT count(*) FROM usage_events WHERE delegation_id IS NOT NULL`,
		`SELECT count(*) FROM ledger WHERE action = 'expire'`,
		`SELECT count(*) FROM ledger WHERE action = 'refresh'`,
		`SELECT count(*) FROM ledger WHERE action = 'refund'`,
		`SELECT count(*) FROM users WHERE debt > 0`,
		`SELECT count(*) FROM usage_sources`,
	} {
		if count(t, dst, q) == 0 {
			t.Errorf("the copy has none of: %s", q)
		}
	}
	if a, b := count(t, dst, `SELECT coalesce(sum(requests),0) FROM usage_daily`), count(t, dst, `SELECT count(*) FROM usage_events`); a != b {
		t.Fatalf("copy: rollups count %d requests, events %d", a, b)
	}
	if a, b := count(t, dst, `SELECT coalesce(sum(credits),0) FROM usage_daily`), count(t, dst, `SELECT coalesce(sum(credits),0) FROM usage_events WHERE charged = 1 AND refunded_at IS NULL`); a != b {
		t.Fatalf("copy: rollups sum %d credits, events %d", a, b)
	}

	// Every table, row for row and column for column (the family is small enough to compare
	// whole): ids, balances, debts, hashes, times, NULLs.
	tables := map[string]string{} // table → order
	var names []string
	if err := src.Read().QueryRowsForTest(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' AND name NOT IN ('schema_migrations', 'deferred_indexes') ORDER BY name`, func(r []any) {
		names = append(names, r[0].(string))
	}); err != nil {
		t.Fatal(err)
	}
	if len(names) < 20 {
		t.Fatalf("only %d tables in the SQLite file: %v", len(names), names)
	}
	compared := 0
	for _, table := range names {
		var cols []string
		if err := src.Read().QueryRowsForTest(ctx, `SELECT name FROM pragma_table_info('`+table+`') ORDER BY cid`, func(r []any) {
			cols = append(cols, r[0].(string))
		}); err != nil {
			t.Fatal(err)
		}
		order := make([]string, len(cols))
		for i := range cols {
			order[i] = fmt.Sprint(i + 1)
		}
		tables[table] = strings.Join(order, ", ")
		a := tableRows(t, src, table, cols, tables[table])
		b := tableRows(t, dst, table, cols, tables[table])
		if len(a) != len(b) {
			t.Fatalf("%s: %d rows in SQLite, %d on the copy", table, len(a), len(b))
		}
		for i := range a {
			if !reflect.DeepEqual(a[i], b[i]) {
				t.Fatalf("%s row %d differs:\nSQLite %v\ncopy   %v\n(columns %v)", table, i, a[i], b[i], cols)
			}
			compared++
		}
	}
	t.Logf("%d tables, %d rows equal column by column", len(names), compared)

	// usage_sources.seq (PostgreSQL's stand-in for the rowid) follows the order the sources paid in.
	cols := []string{"usage_id", "delegation_id", "payer_id", "credits"}
	if a, b := tableRows(t, src, "usage_sources", cols, "rowid"), tableRows(t, dst, "usage_sources", cols, "seq"); !reflect.DeepEqual(a, b) {
		t.Fatalf("usage_sources: the copy's seq order is not SQLite's rowid order")
	}
}

// Proves: migrate refuses a database that has rows, says so, exits non-zero and writes
// nothing: every table's count and the schema migrations are as they were.
func secondMigrateIsRefused(t *testing.T, dir, target string) {
	_, dst := openBoth(t, dir, target)
	snapshot := func() map[string]int64 {
		m := map[string]int64{}
		for _, table := range []string{"users", "usage_events", "ledger", "buckets", "usage_daily", "usage_sources", "settings", "schema_migrations"} {
			m[table] = count(t, dst, `SELECT count(*) FROM `+table)
		}
		return m
	}
	before := snapshot()
	var out bytes.Buffer
	err := run([]string{"migrate", "--data", dir, "--to", target}, &out)
	if !errors.Is(err, db.ErrTargetNotEmpty) || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("second migrate into the same database: %v, want a refusal (ErrTargetNotEmpty)\n%s", err, out.String())
	}
	if after := snapshot(); !reflect.DeepEqual(before, after) {
		t.Fatalf("the refused migrate changed the target: before %v, after %v", before, after)
	}
}

// Proves: a server started on the copy works: a member signs in with the password they had,
// a new report charges that member, and the new event's and ledger row's ids come after the
// largest copied ones (the identities were moved past them). The ledger still adds up.
func serveFromTheCopy(t *testing.T, dir, target string) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	_, dst := openBoth(t, dir, target)
	maxEvent := count(t, dst, `SELECT max(id) FROM usage_events`)
	maxLedger := count(t, dst, `SELECT max(id) FROM ledger`)
	var alex int64
	if err := dst.Read().QueryRowForTest(context.Background(), `SELECT id FROM users WHERE email = 'alex@example.org'`, &alex); err != nil {
		t.Fatal(err)
	}
	balanceBefore := count(t, dst, fmt.Sprintf(`SELECT balance FROM users WHERE id = %d`, alex))

	bin := buildBinary(t)
	addr := freeAddr(t)
	srv := exec.Command(bin, "serve", "--addr", addr, "--data", t.TempDir(), "--database", target, "--no-browser")
	var logs bytes.Buffer
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	base := "http://" + addr + "/api/v1"
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server on the copy did not start in 30s:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	// post signs in by the session cookies, or by a personal token when bearer is set.
	post := func(path, bearer string, body any) (int, []byte) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", base+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		c := client
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
			c = &http.Client{Timeout: 10 * time.Second}
		}
		for _, c := range jar.Cookies(req.URL) {
			if c.Name == "tj_csrf" { // what the web app sends back: the cookie's value in a header
				req.Header.Set("X-CSRF-Token", c.Value)
			}
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	if status, b := post("/auth/login", "", map[string]any{"email": "alex@example.org", "password": demo.FamilyPassword}); status != 200 {
		t.Fatalf("sign in on the copy: %d %s", status, b)
	}
	status, b := post("/tokens", "", map[string]any{"name": "after the move"})
	var tok struct{ Token string }
	if status != 201 || json.Unmarshal(b, &tok) != nil || tok.Token == "" {
		t.Fatalf("a personal token on the copy: %d %s", status, b)
	}
	status, b = post("/usage", tok.Token, map[string]any{"aiAgentId": "family-chat", "description": "after the move", "credits": 1.5, "idempotencyKey": "after-migrate-1"})
	if status != 201 {
		t.Fatalf("report on the copy: %d %s", status, b)
	}
	var ev struct {
		ID int64
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.ID <= maxEvent {
		t.Fatalf("new event id %d, want past the copied max %d (identity not moved)", ev.ID, maxEvent)
	}
	if got := count(t, dst, fmt.Sprintf(`SELECT user_id FROM usage_events WHERE id = %d`, ev.ID)); got != alex {
		t.Fatalf("the new event is member %d's, want Alex (%d)", got, alex)
	}
	if got := count(t, dst, fmt.Sprintf(`SELECT payer_id FROM usage_events WHERE id = %d`, ev.ID)); got != alex {
		t.Fatalf("the new event was paid by member %d, want Alex (%d)", got, alex)
	}
	if n := count(t, dst, fmt.Sprintf(`SELECT count(*) FROM ledger WHERE usage_id = %d AND user_id = %d AND id > %d`, ev.ID, alex, maxLedger)); n == 0 {
		t.Fatalf("no ledger row past id %d charges Alex for event %d", maxLedger, ev.ID)
	}
	if after := count(t, dst, fmt.Sprintf(`SELECT balance FROM users WHERE id = %d`, alex)); after != balanceBefore-1500 {
		t.Fatalf("Alex's balance %d after a 1.5-credit report, want %d", after, balanceBefore-1500)
	}
	if bad, err := dst.Read().CheckLedger(context.Background()); err != nil || len(bad) > 0 {
		t.Fatalf("ledger after serving from the copy: %v %v", bad, err)
	}
}

// Proves: migrate into a PostgreSQL database that some other program already keeps rows in
// refuses before making its schema there: no tokenjar table appears in it.
func TestMigrateWritesNothingIntoAForeignDatabase(t *testing.T) {
	if dbtest.Engine() != db.Postgres {
		t.Skip("migrate copies into PostgreSQL: set " + dbtest.EnvVar + " to a PostgreSQL admin URL (make test-go-postgres)")
	}
	dir := emptyInstance(t)
	target := dbtest.Target(t)
	pool, err := sql.Open("pgx", target)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(`CREATE TABLE notes (body text); INSERT INTO notes VALUES ('theirs')`); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = run([]string{"migrate", "--data", dir, "--to", target}, &out)
	if !errors.Is(err, db.ErrTargetNotEmpty) || !strings.Contains(err.Error(), "notes") {
		t.Fatalf("migrate into a database with rows of its own: %v, want a refusal naming the table", err)
	}
	var tables int
	if err := pool.QueryRow(`SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()`).Scan(&tables); err != nil || tables != 1 {
		t.Fatalf("%d tables in the refused target (want only notes): %v", tables, err)
	}
}

// emptyInstance is a data folder with a migrated, empty SQLite file.
func emptyInstance(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	d, err := db.Open(filepath.Join(dir, "tokenjar.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Proves: migrate will not copy a data folder a server is using (its writes during the copy
// would be lost or torn): it fails with the folder lock's error, and tells to stop the server.
// The target is never contacted (its URL here leads nowhere), so this runs on both engines.
func TestMigrateRefusesAFolderInUse(t *testing.T) {
	dir := emptyInstance(t)
	unlock, err := lockDataFolder(dir) // as `tokenjar serve` does
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	var out bytes.Buffer
	err = run([]string{"migrate", "--data", dir, "--to", "postgres://nobody@127.0.0.1:1/none"}, &out)
	if !errors.Is(err, errFolderInUse) || !strings.Contains(err.Error(), "stop the server") {
		t.Fatalf("migrate of a folder in use: %v, want the folder lock's refusal", err)
	}
}
