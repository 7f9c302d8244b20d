package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tokenjar/db"
	"tokenjar/db/dbtest"
)

// `tokenjar backup` writes a copy of the database: a SQLite file, or on PostgreSQL a pg_dump
// archive (when pg_dump is installed; db's TestPgDumpMissingSaysHow covers the other case).
func TestBackupCommand(t *testing.T) {
	target := dbtest.Target(t)
	args := []string{"--data", filepath.Dir(target)} // SQLite: the file in the data folder
	magic := "SQLite format 3"
	if dbtest.Engine() == db.Postgres {
		args = []string{"--data", t.TempDir(), "--database", target}
		magic = "PGDMP"
	}
	dest := filepath.Join(t.TempDir(), "copy")
	var out bytes.Buffer
	if err := run(append([]string{"backup", "--out", dest}, args...), &out); err != nil {
		if strings.Contains(out.String(), "pg_dump is not installed") {
			t.Skip("pg_dump is not installed here")
		}
		t.Fatalf("%v: %s", err, out.String())
	}
	b, err := os.ReadFile(dest)
	if err != nil || !strings.HasPrefix(string(b), magic) {
		t.Fatalf("backup file: %d bytes, %v; want it to start with %q", len(b), err, magic)
	}
	if st, _ := os.Stat(dest); st.Mode().Perm() != 0o600 {
		t.Fatalf("backup mode %v, want 0600", st.Mode().Perm())
	}
	if !strings.Contains(out.String(), "wrote "+dest) {
		t.Fatalf("output: %s", out.String())
	}
}
