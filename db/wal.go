package db

import (
	"database/sql"
	"log/slog"
	"time"
)

// The write-ahead log's size is kept bounded by SQLite's own checkpoints:
//
//   - The writer's connection checkpoints by itself (wal_autocheckpoint) after a commit that
//     leaves more than walCheckpointPages frames in the log. It runs between two transactions, so
//     it reaches the end of the log unless a reader still needs an older snapshot, and the next
//     transaction then writes the log from its start again. At that restart SQLite truncates the
//     file to walSizeLimit (journal_size_limit), so a burst does not leave a large file behind.
//   - A background connection runs a PASSIVE checkpoint every second. It blocks no one and copies
//     most of the log back while commits go on, so the writer's own checkpoint has little left to
//     copy and its callers wait less.
//
// So the log stays under about walSizeLimit. It grows past it only while a read transaction
// that began before the last checkpoint is still open (a long export), since SQLite must keep
// the frames that reader may need; the next checkpoint after that read ends brings it back.
const (
	walCheckpointPages = 4096     // 16 MB of 4 KiB pages
	walSizeLimit       = 24 << 20 // bytes
	checkpointEvery    = time.Second
)

func (d *DB) startCheckpointer() error {
	// Its own connection: the writer's belongs to the writer goroutine. A short busy timeout,
	// since a PASSIVE checkpoint that finds the log busy just tries again a second later.
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
			var busy, frames, copied int
			// An error (the disk is full, say) leaves the log as it is; commits are unaffected.
			_ = d.ckpt.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
		}
	}
}
