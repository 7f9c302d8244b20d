package db

import (
	"os"
	"syscall"
)

// datasync flushes f's data and the metadata needed to read it back (its size), as SQLite's
// own syncs do on Linux: fdatasync skips the journal commit that a timestamp alone would cost.
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
