package db

import (
	"database/sql"
	"log/slog"
	"os"
	"time"
)

// The write-ahead log is kept short by checkpoints, which copy its pages back into the database
// file, and SQLite starts the log over once a checkpoint has copied all of it. The work is split
// so that the single writer, whom every caller waits on, does as little of it as possible:
//
//   - A background connection runs a PASSIVE checkpoint every checkpointEvery (250 ms: a page
//     the commits rewrite many times in that time is copied once; the log's bound holds). It blocks no one
//     and copies, on the other core, whatever the commits have added, then fsyncs the database
//     file, so those pages are on disk before anyone waits for them. Under a steady stream of
//     commits it never reaches the log's end: commits keep adding to it.
//   - When the log is past walCheckpointPages, the background pass asks the writer to finish.
//     Between two transactions the writer runs a PASSIVE checkpoint of its own, which copies
//     the little that the last pass left and reaches the end (no commit can land meanwhile),
//     and SQLite starts the log over at the next commit, truncating the file to walSizeLimit
//     (journal_size_limit).
//
// So the log file stays under about walSizeLimit. It grows past that only while a read
// transaction that began before the checkpoint still needs older pages (a long export), since
// SQLite keeps every frame a reader may need; the first checkpoint after that read ends brings
// it back. SQLite syncs the log before any checkpoint copies from it, and syncs the database
// file when a checkpoint reaches the log's end, so no page is lost whatever is interrupted.
const (
	walCheckpointPages = 4096     // 16 MB of 4 KiB pages
	walSizeLimit       = 24 << 20 // bytes
	checkpointEvery    = 250 * time.Millisecond
)

func (d *DB) startCheckpointer() error {
	// Its own connection: the writer's belongs to the writer goroutine. A short busy timeout,
	// since a PASSIVE checkpoint that finds the log busy just tries again at the next tick.
	ckpt, err := sql.Open("sqlite", "file:"+d.Path+"?_pragma=busy_timeout(100)&_pragma=synchronous(FULL)")
	if err != nil {
		return err
	}
	ckpt.SetMaxOpenConns(1)
	d.ckpt, d.stopCkpt, d.ckptDone = ckpt, make(chan struct{}), make(chan struct{})
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
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-d.stopCkpt:
			// Leave a short log behind for the next start. The writer has stopped by now.
			if _, err := d.ckpt.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
				slog.Warn("db: final checkpoint", "err", err)
			}
			return
		case <-t.C:
			d.checkpointPass()
		}
	}
}

// checkpointPass copies what it can of the log, and asks the writer to finish when the log is
// long. An error (the disk is full, say) leaves the log as it is; commits are unaffected.
func (d *DB) checkpointPass() {
	var busy, frames, copied int
	if err := d.ckpt.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
		return
	}
	if copied > d.lastCopied && frames > walCheckpointPages/2 {
		// SQLite syncs the database file only in a checkpoint that reaches the log's end, which
		// is the writer's: without this it would wait for every page the passes copied. This
		// sync only moves that wait here; SQLite's own syncs decide what is durable. It starts
		// once the log is half way to the writer's turn: an fsync of the database file every
		// pass wrote each hot page to the disk ten times a second, and the log's fsyncs, which
		// every caller waits on, queued behind those writes.
		if err := syncFile(d.Path); err != nil {
			slog.Warn("db: fsync of the database file after a checkpoint pass", "err", err)
		}
	}
	d.lastCopied = copied
	if frames > walCheckpointPages {
		d.writer.logLong.Store(true)
	}
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
