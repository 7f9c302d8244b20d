package db

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// BackupExt is how the name of a backup of this database ends: a SQLite file, or a pg_dump
// archive in its custom format (restored with pg_restore).
func (d *DB) BackupExt() string {
	if d.pg != nil {
		return ".dump"
	}
	return ".db"
}

// NoPgDumpError says that a PostgreSQL database cannot be backed up from here because pg_dump
// is not installed; Command is how to back it up, with the URL's password left out.
type NoPgDumpError struct {
	Command string
}

func (e *NoPgDumpError) Error() string {
	return "pg_dump is not installed here; back up the PostgreSQL database with: " + e.Command
}

// PgDumpCommand is the pg_dump command that writes a backup of the database to dest, with the
// URL's password replaced by ***.
func (d *DB) PgDumpCommand(dest string) string {
	return "pg_dump --format=custom --file=" + shellQuote(dest) + " " + shellQuote(redactURL(d.pg.url))
}

// pgDump writes a pg_dump archive (custom format) of the database to dest. The password goes
// to pg_dump in PGPASSWORD, not on its command line, where other users could read it.
func (d *DB) pgDump(ctx context.Context, dest string) error {
	bin := findPgDump()
	if bin == "" {
		return &NoPgDumpError{Command: d.PgDumpCommand(dest)}
	}
	target, password, err := splitPassword(d.pg.url)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, "--format=custom", "--no-password", "--file="+dest, "--dbname="+target)
	cmd.Env = os.Environ()
	if password != "" {
		cmd.Env = append(cmd.Env, "PGPASSWORD="+password)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		os.Remove(dest)
		return fmt.Errorf("pg_dump: %w: %s", err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

// splitPassword takes the password out of a database URL.
func splitPassword(raw string) (target, password string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("database URL %s: %w", redactURL(raw), err)
	}
	if u.User != nil {
		password, _ = u.User.Password()
		u.User = url.User(u.User.Username())
	}
	return u.String(), password, nil
}

// pgDumpDirs are where pg_dump lives when it is installed but not on PATH (Debian and Ubuntu,
// the PGDG RPMs, Homebrew): the newest major version found is used, since pg_dump refuses a
// server newer than itself.
var pgDumpDirs = []string{
	"/usr/lib/postgresql/*/bin/pg_dump",
	"/usr/pgsql-*/bin/pg_dump",
	"/opt/homebrew/opt/postgresql@*/bin/pg_dump",
	"/usr/local/opt/postgresql@*/bin/pg_dump",
}

var majorVersion = regexp.MustCompile(`(\d+)(?:\.\d+)?/bin/pg_dump$`)

// findPgDump returns pg_dump's path, or "" when it is not installed.
func findPgDump() string {
	if p, err := exec.LookPath("pg_dump"); err == nil {
		return p
	}
	best, bestMajor := "", -1
	for _, pattern := range pgDumpDirs {
		found, _ := filepath.Glob(pattern)
		for _, p := range found {
			m := majorVersion.FindStringSubmatch(p)
			if m == nil {
				continue
			}
			if n, _ := strconv.Atoi(m[1]); n > bestMajor {
				best, bestMajor = p, n
			}
		}
	}
	return best
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)
