package db

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
)

// Durability: the writer connection runs WAL with synchronous=NORMAL, so COMMIT appends the
// transaction's frames to the log (plain writes, which reach the page cache) and returns without
// an fsync. The writer hands the committed batch to the log syncer and starts the next
// transaction at once; the syncer fsyncs the log file and only then answers the batch's callers.
// So the fsync of one group overlaps the work of the next, and still no caller hears "done"
// before the log holding its transaction is on disk.
//
// Why that is as safe as synchronous=FULL for what we acknowledge:
//   - fsync flushes every dirty page of the file, whichever descriptor wrote it, so our own
//     descriptor of the -wal file covers SQLite's writes made before the call.
//   - The log is append-only between checkpoints, and recovery replays it only up to the last
//     commit whose frames are all present with a valid checksum chain. A later commit can never
//     survive without the earlier ones, so answering commits in order after an fsync that began
//     after them answers only durable work.
//   - SQLite overwrites the log from its start only after a checkpoint has copied all of it into
//     the database file, and with synchronous=NORMAL a checkpoint fsyncs the log before it copies
//     and the database file when it reaches the end. Frames are never overwritten before they
//     are on disk in one file or the other.
//   - Transactions are visible to readers a few milliseconds before they are durable; nothing is
//     acknowledged to the caller that made it until it is.
//
// A failed fsync is not retried: on Linux the failed pages may be marked clean, so a later fsync
// can succeed without them. Like PostgreSQL, the syncer then refuses every later write (the
// callers get ErrStorage) until tokenjar restarts and SQLite recovers the log from what is on disk.

// logSyncer fsyncs the write-ahead log for committed batches and answers their callers.
type logSyncer struct {
	path string
	file *os.File
	// dirSynced is set once the directory entry of file is known to be on disk.
	dirSynced bool
	batches   chan committedBatch
	done      chan struct{}

	mu     sync.Mutex
	broken error // set once an fsync failed; every later batch is failed with it
	// syncs counts the fsyncs done (tests read it).
	syncs int
	// fsync makes the log durable; tests replace it to hold or fail a sync.
	fsync func() error
}

// committedBatch is a batch whose transaction committed (or, when failed is set, did not) and
// whose callers wait for the log to be on disk.
type committedBatch struct {
	ops     []*op
	results []error
}

func newLogSyncer(dbPath string) *logSyncer {
	s := &logSyncer{path: dbPath + "-wal", batches: make(chan committedBatch, 64), done: make(chan struct{})}
	s.fsync = s.syncFile
	go s.loop()
	return s
}

// add queues a committed batch; it blocks while 64 batches already wait for their fsync.
func (s *logSyncer) add(b committedBatch) { s.batches <- b }

// close answers what was queued and stops the syncer; nothing may be added after it.
func (s *logSyncer) close() {
	close(s.batches)
	<-s.done
	if s.file != nil {
		s.file.Close()
	}
}

// failed returns the error of an earlier fsync, if one failed.
func (s *logSyncer) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.broken
}

func (s *logSyncer) loop() {
	defer close(s.done)
	for b := range s.batches {
		pending := []committedBatch{b}
	drain:
		for {
			select {
			case more, ok := <-s.batches:
				if !ok {
					break drain
				}
				pending = append(pending, more)
			default:
				break drain
			}
		}
		err := s.sync()
		for _, p := range pending {
			for i, o := range p.ops {
				if err != nil {
					o.done <- err
				} else {
					o.done <- p.results[i]
				}
			}
		}
	}
}

// sync makes every log write made so far durable, once per group of batches.
func (s *logSyncer) sync() error {
	if err := s.failed(); err != nil {
		return err
	}
	err := s.fsync()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncs++
	if err != nil {
		slog.Error("db: fsync of the write-ahead log failed; every write is refused until tokenjar restarts", "err", err)
		s.broken = fmt.Errorf("%w: fsync of the write-ahead log: %w", ErrWritesStopped, err)
		return s.broken
	}
	return nil
}

func (s *logSyncer) syncFile() error {
	if err := s.open(); err != nil || s.file == nil {
		return err
	}
	if err := datasync(s.file); err != nil {
		return err
	}
	// The log's directory entry must be on disk too, once per log file: SQLite syncs the
	// directory at its own first sync of a new log, which with synchronous=NORMAL comes only
	// at the first checkpoint.
	if !s.dirSynced {
		if err := syncDir(filepath.Dir(s.path)); err != nil {
			return err
		}
		s.dirSynced = true
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if runtime.GOOS == "windows" {
		return nil // a directory cannot be flushed there; NTFS journals the entry itself
	}
	return err
}

// open keeps one descriptor of the log file, opened again if the path names another file
// (SQLite deletes the log when the last connection closes; ours stay open, so this is a guard).
func (s *logSyncer) open() error {
	if s.file != nil {
		held, err1 := s.file.Stat()
		named, err2 := os.Stat(s.path)
		if err1 == nil && err2 == nil && os.SameFile(held, named) {
			return nil
		}
		s.file.Close()
		s.file, s.dirSynced = nil, false
	}
	f, err := os.OpenFile(s.path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		// No log yet means no commit has written one: there is nothing to make durable.
		return nil
	}
	if err != nil {
		return err
	}
	s.file = f
	return nil
}
