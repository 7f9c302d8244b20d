package db

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// Without pg_dump, a PostgreSQL backup fails with the command to run instead, its password
// replaced by ***; nothing is run.
func TestPgDumpMissingSaysHow(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	saved := pgDumpDirs
	pgDumpDirs = nil
	defer func() { pgDumpDirs = saved }()
	d := &DB{engine: Postgres, pg: &pgStore{url: "postgres://app:s3cret@db.example.org:5432/tokenjar?sslmode=require"}}
	err := d.Backup(context.Background(), "/backups/tokenjar.dump")
	var no *NoPgDumpError
	if !errors.As(err, &no) {
		t.Fatalf("want NoPgDumpError, got %v", err)
	}
	want := `pg_dump --format=custom --file=/backups/tokenjar.dump 'postgres://app:***@db.example.org:5432/tokenjar?sslmode=require'`
	if no.Command != want || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("command:\n got %s\nwant %s", no.Command, want)
	}
}

// pg_dump gets the URL without its password (the password goes in PGPASSWORD).
func TestSplitPassword(t *testing.T) {
	target, pw, err := splitPassword("postgres://app:s%40cret@h/db?sslmode=disable")
	if err != nil || target != "postgres://app@h/db?sslmode=disable" || pw != "s@cret" {
		t.Fatalf("%q %q %v", target, pw, err)
	}
}
