package db

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
)

// The write-ahead log is kept bounded by checkpoints, which copy its pages back into the
// database file; SQLite starts the log over at the next commit once a checkpoint has copied all
// of it. Two things pull against each other:
//
//   - Every checkpoint writes each page the log holds to the database file once, however often
//     the commits changed it, and the database file is fsynced when the log starts over. A page
//     that many reports touch (an index's upper levels, a member's newest rollups and ledger
//     page) is written once per cycle of the log, so a longer cycle writes less: at 10M events
//     and 5,000 reports/s, a report cost 96 KB of disk writes with a pass every 250 ms and 61 KB
//     with a cycle of about a second (docs/benchmarks.md).
//   - The log must stay bounded: it takes disk space beside the database, and on a small disk
//     it could fill it.
//
// So the bound grows with the database: the log may hold walBound(database size), a sixteenth
// of the database file, at least 24 MB and at most 256 MB (an 18 MB database keeps a log of at
// most 24 MB; a 4 GB one up to 256 MB). The cycle follows the log's length, not the clock:
//
//   - The writer counts the frames each commit appends (SQLite's own counter of pages written,
//     sqlite3_db_status CACHE_WRITE). Once the log holds half its bound, it wakes the
//     checkpointer.
//   - The checkpointer, on its own connection, runs PASSIVE checkpoints back to back, each
//     copying what the commits added during the last one, until one finds little new; it fsyncs
//     the database file and asks the writer to finish. A PASSIVE checkpoint blocks no one, but
//     under a steady stream of commits it never reaches the log's end.
//   - The writer finishes between two transactions: its PASSIVE checkpoint copies the little
//     the last pass left and reaches the end (no commit can land meanwhile), and SQLite starts
//     the log over at the next commit. If the log reaches its whole bound before the
//     checkpointer asked (a slow disk), the writer finishes anyway.
//   - journal_size_limit is the bound too, so the log file is reused in place from one cycle to
//     the next (its size, and so its metadata, does not change at every fsync) and never kept
//     larger than the bound. A clean stop truncates it.
//   - Once a second, if no commit landed since the last tick, the checkpointer copies whatever
//     is in the log, so a quiet log starts over too.
//
// The log grows past its bound only while a read transaction that began before the last
// checkpoint stays open (a long export): SQLite keeps every frame a reader may need. The first
// checkpoint after that read ends brings it back. SQLite syncs the log before any checkpoint
// copies from it, and the database file when a checkpoint reaches the log's end, so no page is
// lost whatever is interrupted; checkpoints play no part in a commit's durability (logsync.go).
const (
	walMinBound   = 24 << 20  // bytes
	walMaxBound   = 256 << 20 // bytes
	walBoundShare = 16        // the log may hold 1/walBoundShare of the database file
	walIdleEvery  = time.Second
	// walSettled ends a round of passes: a pass that found fewer new frames than this leaves
	// the writer little to copy.
	walSettled   = 1000
	walMaxPasses = 8
	// Past the bound, the writer waits up to walRestartWait for readers to leave the log, at
	// most every walRestartEvery (see restartCheckpoint).
	walRestartWait  = 50 * time.Millisecond
	walRestartEvery = 250 * time.Millisecond
)

// walBound is the log's bound, in bytes, for a database file of dbBytes.
func walBound(dbBytes int64) int64 {
	return min(max(dbBytes/walBoundShare, walMinBound), walMaxBound)
}

// walLog is what the writer and the checkpointer know of the log's length.
type walLog struct {
	frameBytes int64        // a frame: a page and its 24-byte header
	frames     atomic.Int64 // frames appended since the log last started over (at least)
	round      atomic.Int64 // at this many frames the checkpointer starts a round
	limit      atomic.Int64 // at this many frames the writer finishes the checkpoint itself
	bound      atomic.Int64 // the bound in bytes
	// sizeLimit is a journal_size_limit for the writer to set (0: nothing to set).
	sizeLimit atomic.Int64
	// long is set by the checkpointer after a round: the writer finishes the checkpoint.
	long atomic.Bool
	// seq is odd while the writer has a transaction open: a checkpoint that copied the whole
	// log with seq even and unchanged around it saw every frame, and the log starts over.
	seq  atomic.Int64
	path string        // the log file
	wake chan struct{} // the writer wakes the checkpointer when the log reaches round
}

func newWALLog(dbPath string, pageSize int64) *walLog {
	l := &walLog{frameBytes: pageSize + 24, wake: make(chan struct{}, 1), path: dbPath + "-wal"}
	l.setBound(walMinBound)
	return l
}

// setBound sets the bound in bytes, and asks the writer to make it the log file's size limit.
func (l *walLog) setBound(bytes int64) {
	if l.bound.Swap(bytes) == bytes {
		return
	}
	limit := bytes / l.frameBytes
	l.limit.Store(limit)
	l.round.Store(limit / 2)
	l.sizeLimit.Store(bytes)
}

// added counts the frames a commit appended, and wakes the checkpointer once the log is half
// way to its bound.
func (l *walLog) added(n int64) {
	if l.frames.Add(n) >= l.round.Load() && !l.long.Load() {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// atLeast corrects the count up to what a checkpoint found in the log (after a start, the log
// may hold frames no commit of this process counted).
func (l *walLog) atLeast(frames int64) {
	for {
		cur := l.frames.Load()
		if frames <= cur || l.frames.CompareAndSwap(cur, frames) {
			return
		}
	}
}

// startedOver records a checkpoint that copied the whole log, with no transaction open
// meanwhile: the next commit starts the log over. (SQLite does not, while a reader that began
// before the checkpoint is still open; then the file grows past its size, which the writer
// watches too: see wantsCheckpoint.)
func (l *walLog) startedOver() {
	l.frames.Store(0)
	l.long.Store(false)
}

// fileLonger reports whether the log file is longer than the bound. journal_size_limit is the
// bound, so the file is only ever longer when the log is.
func (l *walLog) fileLonger() bool {
	fi, err := os.Stat(l.path)
	return err == nil && fi.Size() > l.bound.Load()+l.frameBytes
}

var noFrameCount sync.Once

// countFrames adds the frames the last transaction appended to the log: SQLite counts the pages
// the connection wrote (in WAL mode, the frames), and the count is reset by reading it.
func (w *Writer) countFrames() {
	var n int
	err := w.conn.Raw(func(dc any) error {
		s, ok := dc.(sqlite.DBStatus)
		if !ok {
			noFrameCount.Do(func() {
				slog.Warn("db: the SQLite driver counts no written pages; the log is checkpointed only at its bound", "driver", fmt.Sprintf("%T", dc))
			})
			return nil
		}
		var err error
		n, _, err = s.Status(sqlite.DBStatusCacheWrite, true)
		return err
	})
	if err != nil {
		slog.Warn("db: counting the log's frames", "err", err)
		return
	}
	w.wal.added(int64(n))
}

// finishCheckpoint copies the rest of the log between two transactions, so that the copy
// reaches the log's end and SQLite starts it over at the next commit. A reader still on an
// older snapshot keeps it short of the end: then the writer tries again after its next batch.
func (w *Writer) finishCheckpoint() {
	var busy, frames, copied int
	err := w.conn.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
	if err != nil {
		slog.Warn("db: checkpoint", "err", err)
		w.wal.long.Store(false) // the checkpointer asks again after its next round
		return
	}
	w.wal.atLeast(int64(frames))
	if busy == 0 && copied == frames {
		w.wal.startedOver()
		return
	}
	if w.wal.pastBound() && time.Since(w.lastRestart) >= walRestartEvery {
		w.lastRestart = time.Now()
		w.restartCheckpoint()
	}
}

// restartCheckpoint waits a little for readers to leave the log. A PASSIVE checkpoint copies
// only up to what the oldest reader may still read, and SQLite starts the log over only when no
// reader is on it: short reads that overlap one another can hold it off for ever (the log of a
// small database reached 126 MB against its 24 MB bound with three readers back to back). A
// RESTART checkpoint waits (busy_timeout, here walRestartWait) until every reader has moved to
// the database file; new readers then read the file, so the next commit starts the log over.
// A long export outlasts the wait: the writer then tries again after walRestartEvery.
func (w *Writer) restartCheckpoint() {
	ctx := context.Background()
	if _, err := w.conn.ExecContext(ctx, "PRAGMA busy_timeout = "+strconv.Itoa(int(walRestartWait.Milliseconds()))); err != nil {
		slog.Warn("db: checkpoint", "err", err)
		return
	}
	defer func() {
		if _, err := w.conn.ExecContext(ctx, "PRAGMA busy_timeout = "+strconv.Itoa(busyTimeoutMS)); err != nil {
			slog.Error("db: busy_timeout", "err", err)
		}
	}()
	var busy, frames, copied int
	if err := w.conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(RESTART)").Scan(&busy, &frames, &copied); err != nil {
		slog.Warn("db: checkpoint", "err", err)
		return
	}
	println("DBG restart", busy, frames, copied)
	if busy == 0 && copied == frames {
		w.wal.startedOver()
	}
}

// wantsCheckpoint tells the writer to finish a checkpoint after its batch: the checkpointer
// asked, or the log reached its bound.
func (w *Writer) wantsCheckpoint() bool { return w.wal.long.Load() || w.wal.pastBound() }

// pastBound reports whether the log has reached its bound, by the writer's count or by the
// file's size.
func (l *walLog) pastBound() bool { return l.frames.Load() >= l.limit.Load() || l.fileLonger() }

// applySizeLimit sets a new journal_size_limit on the write connection, between transactions.
func (w *Writer) applySizeLimit() {
	if v := w.wal.sizeLimit.Swap(0); v != 0 {
		if _, err := w.conn.ExecContext(context.Background(), "PRAGMA journal_size_limit = "+strconv.FormatInt(v, 10)); err != nil {
			slog.Warn("db: journal_size_limit", "err", err)
		}
	}
}

func (d *DB) startCheckpointer() error {
	// Its own connection: the writer's belongs to the writer goroutine. A short busy timeout,
	// since a PASSIVE checkpoint that finds the log busy just tries again later.
	ckpt, err := sql.Open("sqlite", "file:"+d.Path+"?_pragma=busy_timeout(100)&_pragma=synchronous(FULL)")
	if err != nil {
		return err
	}
	ckpt.SetMaxOpenConns(1)
	// The database file, opened once for the fsync after a round and closed only after every
	// SQLite connection (DB.Close). Closing any descriptor of a file drops all the POSIX locks
	// the process holds on it, SQLite's included: an open-sync-close here let another process
	// (tokenjar check, backup) take the exclusive lock when it closed, checkpoint, and delete the
	// log the server was still writing to, losing acknowledged commits.
	f, err := os.OpenFile(d.Path, os.O_RDWR, 0)
	if err != nil {
		ckpt.Close()
		return err
	}
	d.dbFile = f
	d.ckpt, d.stopCkpt, d.ckptDone = ckpt, make(chan struct{}), make(chan struct{})
	d.setWALBound()
	go d.checkpointer()
	return nil
}

func (d *DB) stopCheckpointer() {
	if d.stopCkpt == nil {
		return
	}
	close(d.stopCkpt)
	<-d.ckptDone
	d.ckpt.Close()
	d.stopCkpt = nil
}

func (d *DB) checkpointer() {
	defer close(d.ckptDone)
	t := time.NewTicker(walIdleEvery)
	defer t.Stop()
	l := d.writer.wal
	lastTick := int64(-1)
	for {
		select {
		case <-d.stopCkpt:
			// Leave a short log behind for the next start. The writer has stopped by now.
			if _, err := d.ckpt.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
				slog.Warn("db: final checkpoint", "err", err)
			}
			return
		case <-l.wake:
			d.checkpointRound()
		case <-t.C:
			// A quiet log: copy it, so that it starts over. While commits go on, the rounds
			// do that.
			if n := l.frames.Load(); n == lastTick {
				d.checkpointPass()
			}
			lastTick = l.frames.Load()
		}
	}
}

// checkpointRound copies the log back to back until a pass finds little new, then asks the
// writer to finish. An error (the disk is full, say) leaves the log as it is; commits are
// unaffected, and the writer still finishes once the log reaches its bound.
func (d *DB) checkpointRound() {
	l := d.writer.wal
	if l.long.Load() || l.frames.Load() < l.round.Load() {
		return // a wake from before the writer finished
	}
	d.setWALBound()
	last := int64(-1)
	for range walMaxPasses {
		frames, whole, ok := d.checkpointPass()
		if !ok || whole {
			return
		}
		if last >= 0 && frames-last < walSettled {
			break
		}
		last = frames
	}
	// SQLite fsyncs the database file when a checkpoint reaches the log's end, which is the
	// writer's, and every caller waits on the writer: this fsync moves that wait here. It does
	// not decide what is durable; SQLite's own syncs do.
	if err := d.syncDBFile(); err != nil {
		slog.Warn("db: fsync of the database file after a checkpoint round", "err", err)
	}
	l.long.Store(true)
}

// checkpointPass runs one PASSIVE checkpoint: frames is the log's length when it began, whole
// whether it copied all of it while no transaction was open (then the log starts over).
func (d *DB) checkpointPass() (frames int64, whole, ok bool) {
	l := d.writer.wal
	seq := l.seq.Load()
	var busy, n, copied int
	if err := d.ckpt.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &n, &copied); err != nil {
		return 0, false, false
	}
	if busy != 0 || n < 0 {
		return 0, false, false // the writer holds the log (its own checkpoint): nothing learned
	}
	l.atLeast(int64(n))
	counted := l.frames.Load()
	whole = copied == n && seq%2 == 0 && l.seq.Load() == seq
	// Only if no commit counted frames since: one that ran between the check and here started
	// the log over and its frames are the log now.
	if whole && l.frames.CompareAndSwap(counted, 0) {
		l.long.Store(false)
	}
	return int64(n), whole, true
}

// setWALBound sets the log's bound from the database file's size.
func (d *DB) setWALBound() {
	if fi, err := os.Stat(d.Path); err == nil {
		d.writer.wal.setBound(walBound(fi.Size()))
	}
}

// syncDBFile fsyncs the database file through the descriptor kept open for it (never one opened
// and closed here: see startCheckpointer).
func (d *DB) syncDBFile() error { return d.dbFile.Sync() }
