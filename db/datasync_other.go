//go:build !linux

package db

import "os"

// datasync flushes f to its disk (fsync, or FlushFileBuffers on Windows).
func datasync(f *os.File) error { return f.Sync() }
