package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// maxBatch bounds how many operations share one commit, so one fsync never waits on an
// unbounded queue and a slow batch cannot starve the next callers for long.
const maxBatch = 512

type op struct {
	ctx  context.Context
	fn   func(*Conn) error
	done chan error
}

// Writer is the single goroutine that owns the write connection. Callers queue operations;
// the writer runs everything queued in one transaction, each operation inside its own
// SAVEPOINT, and commits once. A failed operation rolls back only itself. Each caller is
// answered after the commit that holds its work has reached the disk.
type Writer struct {
	db     *sql.DB
	stmts  *stmtCache
	ops    chan *op
	quit   chan struct{}
	wg     sync.WaitGroup
	closed sync.Once
}

var errClosed = errors.New("db: writer is closed")

func newWriter(db *sql.DB, stmts *stmtCache) *Writer {
	w := &Writer{db: db, stmts: stmts, ops: make(chan *op, 4096), quit: make(chan struct{})}
	w.wg.Add(1)
	go w.loop()
	return w
}

func (w *Writer) do(ctx context.Context, fn func(*Conn) error) error {
	o := &op{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case <-w.quit:
		return errClosed
	default:
	}
	select {
	case w.ops <- o:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.quit:
		return errClosed
	}
	// Once queued, wait for the outcome even if ctx ends: the caller must learn whether its
	// write committed, and the writer always answers.
	return <-o.done
}

func (w *Writer) close() {
	w.closed.Do(func() {
		close(w.quit)
		w.wg.Wait()
	})
}

func (w *Writer) loop() {
	defer w.wg.Done()
	batch := make([]*op, 0, maxBatch)
	for {
		select {
		case o := <-w.ops:
			batch = append(batch[:0], o)
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
	}
}

func (w *Writer) run(batch []*op) {
	ctx := context.Background()
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		for _, o := range batch {
			o.done <- fmt.Errorf("db: begin: %w", err)
		}
		return
	}
	conn := &Conn{q: tx, tx: tx, cache: w.stmts}
	// Foreign keys are checked at COMMIT rather than per statement: a statement that cannot
	// abort half way needs no statement journal, and rolling that journal back to each
	// statement's start cost more than the insert itself inside a large transaction. A
	// violation still fails the commit, and so the whole batch.
	if _, err := conn.exec(ctx, "PRAGMA defer_foreign_keys = ON"); err != nil {
		tx.Rollback()
		for _, o := range batch {
			o.done <- fmt.Errorf("db: defer foreign keys: %w", err)
		}
		return
	}
	results := make([]error, len(batch))
	if len(batch) == 1 {
		// Alone in its transaction, an op needs no savepoint: the transaction is its
		// all-or-nothing. (A savepoint's journal grows with every page the op touches, and
		// each statement inside pays to roll it back to its own start.)
		o := batch[0]
		err := o.ctx.Err()
		if err == nil {
			err = runOp(o.fn, conn)
		}
		if err != nil {
			tx.Rollback()
			o.done <- err
			return
		}
	} else {
		for i, o := range batch {
			results[i] = runSavepoint(ctx, conn, o)
			if results[i] == errBrokenTx {
				tx.Rollback()
				for _, o := range batch {
					o.done <- fmt.Errorf("db: rollback to savepoint failed")
				}
				return
			}
		}
	}
	if err := tx.Commit(); err != nil {
		for _, o := range batch {
			o.done <- fmt.Errorf("db: commit: %w", err)
		}
		return
	}
	for i, o := range batch {
		o.done <- results[i]
	}
	w.stmts.preparePending(ctx)
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
