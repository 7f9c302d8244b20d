package db

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// walSyncer fsyncs the write-ahead log file. fsync acts on the file, not on the descriptor, so
// opening the log by its name reaches the pages SQLite wrote through its own descriptor.
type walSyncer struct {
	path      string
	dirSynced os.FileInfo // the log file whose directory entry is known to be on disk
}

func (s *walSyncer) sync() error {
	f, err := os.OpenFile(s.path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // no log yet: nothing was written through it
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return err
	}
	// The log's directory entry must be on disk too: once after SQLite creates the file (again
	// if it ever deletes and recreates it).
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if s.dirSynced == nil || !os.SameFile(fi, s.dirSynced) {
		if err := syncDir(filepath.Dir(s.path)); err != nil {
			return err
		}
		s.dirSynced = fi
	}
	return f.Close()
}

// syncFile fsyncs the file at path.
func syncFile(path string) error { return syncOpened(os.OpenFile(path, os.O_RDWR, 0)) }

func syncDir(dir string) error { return syncOpened(os.Open(dir)) }

func syncOpened(f *os.File, err error) error {
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
