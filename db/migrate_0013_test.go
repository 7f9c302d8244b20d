package db

import (
	"context"
	"path/filepath"
	"testing"
)

// TestMigrationDropsMicrosoftIdentitiesLinkedByEmail proves migration 0013 removes Microsoft
// identities linked under the old rule (by Graph id, after an email match any tenant's admin
// could fake), writes one audit line for each, and leaves other providers' identities alone.
// It does not prove the new linking rule; server/oauth_test.go does.
func TestMigrationDropsMicrosoftIdentitiesLinkedByEmail(t *testing.T) {
	ctx := context.Background()
	d, err := Open(filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	err = d.Update(ctx, func(c *Conn) error {
		uid, err := c.InsertUser(ctx, User{Email: "mum@family.example", Name: "Mum", Role: "member", CreatedAt: 1})
		if err != nil {
			return err
		}
		for _, i := range []Identity{{UserID: uid, Provider: "microsoft", Subject: "graph-id-1", Email: "mum@family.example", CreatedAt: 1},
			{UserID: uid, Provider: "google", Subject: "g-1", Email: "mum@family.example", CreatedAt: 1}} {
			if _, err := c.InsertIdentity(ctx, i); err != nil {
				return err
			}
		}
		// As on an instance that has not run 0013 yet.
		_, err = c.q.ExecContext(ctx, `DELETE FROM schema_migrations WHERE name = 'migrations/0013_microsoft_identities_by_tenant.sql'`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var ms, google, audits int64
	r := d.Read()
	r.QueryRowForTest(ctx, `SELECT count(*) FROM identities WHERE provider = 'microsoft'`, &ms)
	r.QueryRowForTest(ctx, `SELECT count(*) FROM identities WHERE provider = 'google'`, &google)
	r.QueryRowForTest(ctx, `SELECT count(*) FROM audit_log WHERE action = 'identity_unlinked' AND target = 'member 1' AND detail LIKE 'microsoft mum@family.example:%' AND at > 1700000000000`, &audits)
	if ms != 0 || google != 1 || audits != 1 {
		t.Fatalf("after 0013: %d microsoft identities (want 0), %d google (want 1), %d audit lines (want 1)", ms, google, audits)
	}
}
