package db_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"tokenjar/db"
	"tokenjar/db/dbtest"
)

// Proves: CheckLedger, on either engine, passes a consistent member and names each kind of
// break: a stored balance that is not the ledger's sum, a bucket whose remainder is not its
// rows' sum, and a debt that its rows do not account for. (The tests elsewhere only ever see
// it pass.)
func TestCheckLedgerFindsEachKindOfBreak(t *testing.T) {
	target := dbtest.Target(t)
	d, err := db.Open(target)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	if err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	driver := "sqlite"
	if db.IsPostgresURL(target) {
		driver = "pgx"
	}
	raw, err := sql.Open(driver, target)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	exec := func(stmt string) {
		t.Helper()
		if _, err := raw.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	check := func(want ...string) {
		t.Helper()
		bad, err := d.Read().CheckLedger(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(bad) != len(want) {
			t.Fatalf("CheckLedger: %q, want %d problems like %q", bad, len(want), want)
		}
		for i, w := range want {
			if !strings.Contains(bad[i], w) {
				t.Fatalf("problem %d: %q, want it to say %q", i, bad[i], w)
			}
		}
	}
	// Member 1: 500 in a bucket, 100 of debt: balance 400. Member 2: nothing at all.
	exec(`INSERT INTO users(id, email, name, role, created_at, balance, debt) VALUES (1, 'a@example.org', 'A', 'owner', 1, 400, 100)`)
	exec(`INSERT INTO users(id, email, name, role, created_at) VALUES (2, 'b@example.org', 'B', 'member', 1)`)
	exec(`INSERT INTO buckets(id, user_id, kind, granted, remaining, granted_at) VALUES (1, 1, 'addon', 500, 500, 1)`)
	exec(`INSERT INTO ledger(user_id, at, action, amount, bucket_id, balance_after) VALUES (1, 1, 'grant', 500, 1, 500)`)
	exec(`INSERT INTO ledger(user_id, at, action, amount, bucket_id, balance_after) VALUES (1, 2, 'debt', -100, NULL, 400)`)
	check()
	exec(`UPDATE users SET balance = 450 WHERE id = 1`)
	check("member 1: ledger 400, remaining 500 - debt 100 = 400, stored balance 450")
	exec(`UPDATE users SET balance = 400 WHERE id = 1`)
	exec(`UPDATE buckets SET remaining = 450 WHERE id = 1`)
	check("member 1: ledger 400, remaining 450", "bucket 1: remaining 450 but its ledger rows sum to 500")
	exec(`UPDATE buckets SET remaining = 500 WHERE id = 1`)
	exec(`UPDATE users SET debt = 0, balance = 500 WHERE id = 1`)
	check("member 1: ledger 400", "member 1: debt 0 but debt rows sum to -100")
}
