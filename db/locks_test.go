package db

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Another process may open the database while the server runs (an operator's sqlite3 shell, a
// backup tool).
// When its last connection closes, SQLite checkpoints and deletes the log if it can take the
// exclusive lock, which the server's connections hold it off from. Closing any descriptor of
// the database file drops every POSIX lock the process holds on it, SQLite's included: the
// checkpointer's fsync once opened and closed the file, after which such a process deleted the
// log under the server, and the commits acknowledged after that were lost (the server went on
// writing to the deleted file; its final checkpoint failed with a disk I/O error).
//
// What it proves: after the checkpointer's fsync of the database file, a second
// process opening and closing the database leaves the server's log in place and sees every
// commit. What it does not: other ways to lose the locks (a file copied over the database, say).
func TestAnotherProcessLeavesTheServersLogAlone(t *testing.T) {
	d := openTest(t)
	ctx := context.Background()
	execTest(t, d, "CREATE TABLE z(a)")
	insert := func() {
		t.Helper()
		if err := d.Update(ctx, func(c *Conn) error {
			_, err := c.exec(ctx, "INSERT INTO z VALUES (1)")
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	insert()
	if err := d.syncDBFile(); err != nil { // as at the end of a checkpoint round
		t.Fatal(err)
	}
	if n := rowsInAnotherProcess(t, d.Path); n != 1 {
		t.Fatalf("another process saw %d rows, want 1", n)
	}
	if _, err := os.Stat(d.Path + "-wal"); err != nil {
		t.Fatalf("the other process deleted the server's log: %v", err)
	}
	insert()
	insert()
	if n := rowsInAnotherProcess(t, d.Path); n != 3 {
		t.Fatalf("another process saw %d rows after 3 acknowledged inserts, want 3", n)
	}
}

// rowsInAnotherProcess counts z's rows with the sqlite3 command-line shell, in a second process
// (Debian's sqlite3; `make test` installs it). tokenjar's own commands open the file through the
// same library as the server; the shell is what an operator might run on it.
func rowsInAnotherProcess(t *testing.T, path string) int {
	t.Helper()
	if _, err := exec.LookPath("sqlite3"); err != nil {
		t.Skip("needs the sqlite3 shell (Debian's sqlite3; make test installs it)")
	}
	out, err := exec.Command("sqlite3", path, "SELECT 'rows=' || count(*) FROM z").CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3: %v\n%s", err, out)
	}
	var n int
	if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "rows=%d", &n); err != nil {
		t.Fatalf("sqlite3 printed %q", out)
	}
	return n
}
