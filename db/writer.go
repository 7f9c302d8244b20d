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
	// committed, when set, gets the outcome as soon as the transaction has committed, before
	// it is on disk: the caller may prepare its next write while the disk syncs this one.
	committed  chan error
	keepCaches bool
}

// A syncJob is a committed transaction waiting for the fsync that makes it durable.
type syncJob struct {
	seq     uint64
	ops     []*op
	results []error
}

// Writer is the single goroutine that owns the write connection. Callers queue operations;
// the writer runs everything queued in one transaction, each operation inside its own
// SAVEPOINT, and commits once. A failed operation rolls back only itself. Each caller is
// answered after the commit that holds its work has reached the disk.
//
// The commit itself does not wait for the disk (synchronous=NORMAL in WAL mode): the writer
// hands the committed transaction to the syncer and starts the next one, and the syncer
// fsyncs the WAL once for every commit that queued up meanwhile before it answers their
// callers. So the disk's latency overlaps the next transaction's work instead of adding to it,
// and an answer still means "on disk".
type Writer struct {
	// conn is the write pool's one connection, held for the writer's life. Transactions are
	// plain BEGIN/COMMIT statements on it rather than sql.Tx, which starts a goroutine per
	// transaction and per query to watch for cancellation: wake-ups that cost the writer its
	// turn on a processor under load.
	conn   *sql.Conn
	stmts  *stmtCache
	ops    chan *op
	quit   chan struct{}
	wg     sync.WaitGroup
	closed sync.Once

	sync        func() error // makes every commit so far durable
	syncq       chan syncJob
	syncDone    chan struct{}
	commitSeq   atomic.Uint64 // commits started
	gen         atomic.Uint64 // bumped by every op that may invalidate a caller's cache of rows
	logLong     atomic.Bool   // the WAL has grown past walRestartFrames (set by the checkpointer)
	lastRestart time.Time
	mu          sync.Mutex
	durable     uint64        // commits on disk
	synced      chan struct{} // closed (and replaced) after each sync
}

var errClosed = errors.New("db: writer is closed")

func newWriter(pool *sql.DB, sync func() error) (*Writer, error) {
	conn, err := pool.Conn(context.Background())
	if err != nil {
		return nil, fmt.Errorf("db: writer connection: %w", err)
	}
	w := &Writer{conn: conn, stmts: newStmtCache(conn), ops: make(chan *op, 4096), quit: make(chan struct{}),
		sync: sync, syncq: make(chan syncJob, 1024), syncDone: make(chan struct{}), synced: make(chan struct{})}
	w.wg.Add(1)
	go w.loop()
	go w.syncLoop()
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
		close(w.syncq)
		<-w.syncDone
		w.stmts.close()
		w.conn.Close()
	})
}

// syncLoop makes committed transactions durable: one fsync for all that are waiting, then their
// callers are answered.
func (w *Writer) syncLoop() {
	defer close(w.syncDone)
	for first := range w.syncq {
		jobs := []syncJob{first}
	drain:
		for {
			select {
			case j, ok := <-w.syncq:
				if !ok {
					break drain
				}
				jobs = append(jobs, j)
			default:
				break drain
			}
		}
		err := w.sync()
		if err != nil {
			// The commits may not be on disk: their callers must not be told they are.
			slog.Error("db: fsync of the write-ahead log failed", "err", err)
			err = fmt.Errorf("db: sync: %w", err)
		} else {
			w.mu.Lock()
			w.durable = jobs[len(jobs)-1].seq
			close(w.synced)
			w.synced = make(chan struct{})
			w.mu.Unlock()
		}
		for _, j := range jobs {
			for i, o := range j.ops {
				res := j.results[i]
				if res == nil {
					res = err
				}
				o.done <- res
			}
		}
	}
}

// waitDurable returns once every transaction committed before the call is on disk. A reader
// that answers from what it read (an idempotent replay) calls it first, so it never
// acknowledges a write the disk could still lose.
func (w *Writer) waitDurable(ctx context.Context) error {
	target := w.commitSeq.Load()
	for {
		w.mu.Lock()
		done, ch := w.durable >= target, w.synced
		w.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (w *Writer) loop() {
	defer w.wg.Done()
	var batch []*op // a new slice each time: the syncer still holds the last one
	for {
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
		if w.logLong.Load() {
			w.restartLog()
		}
	}
}

// restartLog lets SQLite start the WAL over: a checkpoint run here, between two transactions,
// copies the log to its end (the background checkpointer copied most of it already), and the
// next commit then writes from the log's start. A reader still on an older snapshot keeps the
// copy short of the end; the next try is after restartEvery.
func (w *Writer) restartLog() {
	if time.Since(w.lastRestart) < restartEvery {
		return
	}
	w.lastRestart = time.Now()
	var busy, frames, copied int
	err := w.conn.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
	if err == nil && busy == 0 && copied == frames {
		w.logLong.Store(false)
	}
}

const restartEvery = 100 * time.Millisecond

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
	ctx := context.Background()
	conn := &Conn{q: w.conn, cache: w.stmts, gen: &w.gen}
	if _, err := conn.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
		fail(batch, fmt.Errorf("db: begin: %w", err))
		return
	}
	// Foreign keys are checked by each statement (not deferred to COMMIT): deferring them takes
	// a PRAGMA per transaction, and every PRAGMA of that kind expires all prepared statements,
	// so each group re-parsed every statement it ran (a sixth of the writer's time). A charge
	// group runs alone in its transaction, so the statement journal immediate checks need is
	// never rolled back; a violation fails its statement and so its op.
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
			fail(batch, err)
			return
		}
	} else {
		for i, o := range batch {
			w.touch(o)
			results[i] = runSavepoint(ctx, conn, o)
			if results[i] == errBrokenTx {
				w.rollback(conn)
				fail(batch, fmt.Errorf("db: rollback to savepoint failed"))
				return
			}
		}
	}
	// The sequence number is taken before the commit, so a reader that sees this transaction
	// also finds it counted when it waits for durability.
	seq := w.commitSeq.Add(1)
	if _, err := conn.exec(ctx, "COMMIT"); err != nil {
		w.rollback(conn) // a failed COMMIT may leave the transaction open
		fail(batch, fmt.Errorf("db: commit: %w", err))
		w.syncq <- syncJob{seq: seq} // waiters on this number are released by the next sync
		return
	}
	for i, o := range batch {
		if o.committed != nil {
			o.committed <- results[i]
		}
	}
	w.syncq <- syncJob{seq: seq, ops: batch, results: results}
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
