package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxBatch bounds how many operations share one commit, so one fsync never waits on an
// unbounded queue and a slow batch cannot starve the next callers for long.
const maxBatch = 512

type op struct {
	ctx  context.Context
	fn   func(*Conn) error
	done chan error // the outcome, once the commit holding it is on disk
	// committed, if set, gets the outcome as soon as the transaction has committed (or failed),
	// before its fsync: for a caller that may go on with its next write meanwhile.
	committed  chan error
	keepCaches bool
}

// Writer is the single goroutine that owns the write connection. Callers queue operations;
// the writer runs everything queued (up to maxBatch) in one transaction, each operation inside
// its own SAVEPOINT (one alone in its batch needs none), and commits once (group commit). An
// operation that returns an error rolls back only itself; an I/O error fails the whole batch.
//
// The connection runs with synchronous=NORMAL: COMMIT writes the log without an fsync, and the
// log syncer (logsync.go) answers the callers once its fsync of the log has returned. While one
// group's fsync runs, the writer runs the next group, and the groups grow with the load: one
// fsync covers many callers.
type Writer struct {
	// conn is the write pool's one connection, held for the writer's life. Transactions are
	// plain BEGIN/COMMIT statements on it rather than sql.Tx, which starts a goroutine per
	// transaction and per query to watch for cancellation: wake-ups that cost the writer its
	// turn on a processor under load.
	conn  *sql.Conn
	stmts *stmtCache
	// log answers each committed batch's callers once the log holding it is fsynced.
	log    *logSyncer
	ops    chan *op
	quit   chan struct{}
	wg     sync.WaitGroup
	closed sync.Once
	gen    atomic.Uint64 // bumped by every op that may invalidate a caller's cache of rows
	// commits counts the transactions that committed (tests read it).
	commits atomic.Uint64
	// wal is the log's length as the writer counts it, and whether it should finish a
	// checkpoint between two transactions (see wal.go).
	wal *walLog
	// lastRestart is when the writer last waited for readers to leave the log (wal.go).
	lastRestart time.Time
}

var errClosed = errors.New("db: writer is closed")

func newWriter(pool *sql.DB, path string) (*Writer, error) {
	conn, err := pool.Conn(context.Background())
	if err != nil {
		return nil, fmt.Errorf("db: writer connection: %w", err)
	}
	var pageSize int64
	if err := conn.QueryRowContext(context.Background(), "PRAGMA page_size").Scan(&pageSize); err != nil {
		conn.Close()
		return nil, fmt.Errorf("db: page size: %w", err)
	}
	w := &Writer{conn: conn, stmts: newStmtCache(conn), log: newLogSyncer(path), wal: newWALLog(path, pageSize),
		ops: make(chan *op, 4096), quit: make(chan struct{})}
	w.wg.Add(1)
	go w.loop()
	return w, nil
}

func (w *Writer) do(ctx context.Context, fn func(*Conn) error) error {
	o := &op{ctx: ctx, fn: fn, done: make(chan error, 1)}
	if err := w.queue(ctx, o); err != nil {
		return err
	}
	// Once queued, wait for the outcome even if ctx ends: the caller must learn whether its
	// write committed, and the writer always answers.
	return <-o.done
}

func (w *Writer) queue(ctx context.Context, o *op) error {
	select {
	case <-w.quit:
		return errClosed
	default:
	}
	select {
	case w.ops <- o:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-w.quit:
		return errClosed
	}
}

func (w *Writer) close() {
	w.closed.Do(func() {
		close(w.quit)
		w.wg.Wait()
		w.log.close()
		w.stmts.close()
		w.conn.Close()
	})
}

func (w *Writer) loop() {
	defer w.wg.Done()
	for {
		var batch []*op
		select {
		case o := <-w.ops:
			batch = []*op{o}
		case <-w.quit:
			// Drain what was queued before close so no caller is left waiting.
			for {
				select {
				case o := <-w.ops:
					w.run([]*op{o})
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case o := <-w.ops:
				batch = append(batch, o)
			default:
				break fill
			}
		}
		w.run(batch)
		if w.wantsCheckpoint() {
			w.finishCheckpoint()
		}
	}
}

// fail answers every op of a batch that did not commit.
func fail(batch []*op, err error) {
	for _, o := range batch {
		if o.committed != nil {
			o.committed <- err
		}
		o.done <- err
	}
}

func (w *Writer) run(batch []*op) {
	if err := w.log.failed(); err != nil {
		fail(batch, err)
		return
	}
	ctx := context.Background()
	w.applySizeLimit()
	w.wal.seq.Add(1) // a transaction is open (see walLog.seq)
	defer w.wal.seq.Add(1)
	conn := &Conn{q: w.conn, cache: w.stmts, gen: &w.gen}
	if _, err := conn.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
		fail(batch, fmt.Errorf("db: begin: %w", err))
		return
	}
	// Foreign keys are checked by each statement (not deferred to COMMIT): deferring them takes
	// a PRAGMA per transaction, and every PRAGMA of that kind expires all prepared statements,
	// so each group re-parsed every statement it ran. A violation fails its statement, and so
	// its op, which its savepoint rolls back.
	results := make([]error, len(batch))
	if len(batch) == 1 {
		// Alone in its transaction, an op needs no savepoint: the transaction is its
		// all-or-nothing. (A savepoint's journal grows with every page the op touches, and
		// each statement inside pays to roll it back to its own start.)
		o := batch[0]
		err := o.ctx.Err()
		if err == nil {
			w.touch(o)
			err = runOp(o.fn, conn)
		}
		if err != nil {
			w.rollback(conn)
			fail(batch, storageError(err))
			return
		}
	} else {
		for i, o := range batch {
			w.touch(o)
			results[i] = storageError(runSavepoint(ctx, conn, o))
			if results[i] == errBrokenTx {
				w.rollback(conn)
				fail(batch, fmt.Errorf("db: rollback to savepoint failed"))
				return
			}
			// After an I/O error SQLite may have rolled the whole transaction back: nothing
			// of the batch can commit, so none of it is reported as done.
			if IsStorageError(results[i]) {
				w.rollback(conn)
				fail(batch, results[i])
				return
			}
		}
	}
	// COMMIT writes the frames to the log (synchronous=NORMAL: no fsync). If it fails (the disk
	// is full or failing), the batch is not committed, and every caller is told it failed. Once
	// it succeeds, the log syncer answers the callers after its fsync (see logsync.go), while
	// this goroutine goes on with the next batch.
	if _, err := conn.exec(ctx, "COMMIT"); err != nil {
		w.rollback(conn) // a failed COMMIT may leave the transaction open
		fail(batch, storageError(fmt.Errorf("db: commit: %w", err)))
		return
	}
	w.commits.Add(1)
	w.countFrames()
	for i, o := range batch {
		if o.committed != nil {
			o.committed <- results[i]
		}
	}
	w.log.add(committedBatch{ops: batch, results: results})
}

// rollback ends a transaction that must not commit. Callers caching rows learn of it through
// the write generation.
func (w *Writer) rollback(conn *Conn) {
	w.gen.Add(1)
	if _, err := conn.exec(context.Background(), "ROLLBACK"); err != nil && !strings.Contains(err.Error(), "no transaction is active") {
		slog.Error("db: rollback failed", "err", err)
	}
}

// touch counts an op that may change rows a caller keeps cached (see Conn.WriteGeneration).
func (w *Writer) touch(o *op) {
	if !o.keepCaches {
		w.gen.Add(1)
	}
}

var errBrokenTx = errors.New("db: transaction broken")

// runSavepoint runs one op of a shared batch inside its own savepoint, so a failure rolls back
// only that op.
func runSavepoint(ctx context.Context, conn *Conn, o *op) error {
	if err := o.ctx.Err(); err != nil {
		return err
	}
	if _, err := conn.exec(ctx, "SAVEPOINT op"); err != nil {
		return err
	}
	err := runOp(o.fn, conn)
	if err != nil {
		if _, rerr := conn.exec(ctx, "ROLLBACK TO op"); rerr != nil {
			return errBrokenTx // the transaction can no longer be trusted
		}
	}
	if _, rerr := conn.exec(ctx, "RELEASE op"); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

func runOp(fn func(*Conn) error, c *Conn) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("db: panic in write operation: %v", r)
		}
	}()
	return fn(c)
}
