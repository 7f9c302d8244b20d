package db

import (
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrNotFound is returned by lookups that match no row.
var ErrNotFound = errors.New("not found")

// ErrDiskFull marks a write that failed because the disk (or the file system holding the
// data folder) is full. Nothing of it was stored; the same write succeeds once there is room.
var ErrDiskFull = errors.New("db: the disk is full")

// ErrStorage marks a write that failed because reading or writing the database files failed.
// It was rolled back; but when only the log's fsync failed, SQLite may still find the commit
// whole in the log when it next opens the file, so the write is unacknowledged rather than
// certainly absent.
var ErrStorage = errors.New("db: the database files could not be written")

// ErrWritesStopped marks every write after an fsync of the log failed (see logsync.go): the
// writer refuses them until tokenjar restarts. It is also an ErrStorage.
var ErrWritesStopped = fmt.Errorf("%w: writes stopped after the log could not be synced", ErrStorage)

// IsStorageError reports whether err is ErrDiskFull or ErrStorage.
func IsStorageError(err error) bool {
	return errors.Is(err, ErrDiskFull) || errors.Is(err, ErrStorage)
}

// storageError wraps an SQLite error caused by the disk in ErrDiskFull or ErrStorage, so the
// layers above can answer "the disk is full" instead of a generic failure.
func storageError(err error) error {
	if code := pgCode(err); code != "" {
		switch {
		case code == "53100": // disk_full
			return fmt.Errorf("%w: %w", ErrDiskFull, err)
		case code[:2] == "58": // system_error, io_error
			return fmt.Errorf("%w: %w", ErrStorage, err)
		}
		return err
	}
	var se *sqlite.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_FULL:
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	return err
}
