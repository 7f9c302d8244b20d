package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"hash/fnv"
	"sync"
	"time"
)

// JobLock is held while a scheduled job runs, so that the replicas sharing one database run
// each job once. On PostgreSQL it is a session advisory lock, held on a connection of its own
// for as long as the job runs (a job is many transactions, so a transaction lock would not
// cover it); a replica that dies loses its session, and the lock with it. On SQLite one
// process owns the database (the data folder's lock), and the lock is a mutex of this DB.
type JobLock struct {
	release func()
}

// Release gives the lock back. It is safe to call twice.
func (l *JobLock) Release() {
	if l != nil && l.release != nil {
		l.release()
		l.release = nil
	}
}

// TryLockJob takes the lock of the job name, or returns nil (and no error) when another run of
// it, here or on another replica, holds it.
func (d *DB) TryLockJob(ctx context.Context, name string) (*JobLock, error) {
	return d.lockJob(ctx, name, false)
}

// LockJob takes the lock of the job name, waiting while another run holds it.
func (d *DB) LockJob(ctx context.Context, name string) (*JobLock, error) {
	return d.lockJob(ctx, name, true)
}

func (d *DB) lockJob(ctx context.Context, name string, wait bool) (*JobLock, error) {
	if d.pg == nil {
		return d.jobs.lock(ctx, name, wait)
	}
	conn, err := d.pg.pool.Conn(ctx)
	if err != nil {
		return nil, storageError(err)
	}
	key := jobLockKey(name)
	var ok bool
	if wait {
		_, err = conn.ExecContext(ctx, `SELECT pg_advisory_lock($1, $2)`, pgJobLockClass, key)
		ok = err == nil
	} else {
		err = conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1, $2)`, pgJobLockClass, key).Scan(&ok)
	}
	if err != nil || !ok {
		discardConn(conn) // a lock request cut off by ctx may still have been granted
		return nil, storageError(err)
	}
	return &JobLock{release: func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var unlocked bool
		err := conn.QueryRowContext(ctx, `SELECT pg_advisory_unlock($1, $2)`, pgJobLockClass, key).Scan(&unlocked)
		if err != nil || !unlocked {
			discardConn(conn) // the session ends, and any lock it still holds with it
			return
		}
		conn.Close()
	}}, nil
}

// pgJobLockClass is the first key of the jobs' advisory locks (pg_advisory_lock(int, int)); the
// second is a hash of the job's name. The migrations use the one-key form, which PostgreSQL
// keeps apart from the two-key one.
const pgJobLockClass = 7040

func jobLockKey(name string) int32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int32(h.Sum32())
}

// discardConn closes a connection instead of returning it to the pool.
func discardConn(conn *sql.Conn) {
	conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}

// jobMutexes are the SQLite side of the job locks: one per job name, in this process.
type jobMutexes struct {
	mu   sync.Mutex
	held map[string]chan struct{} // closed when released
}

func (m *jobMutexes) lock(ctx context.Context, name string, wait bool) (*JobLock, error) {
	for {
		m.mu.Lock()
		ch, busy := m.held[name]
		if !busy {
			if m.held == nil {
				m.held = map[string]chan struct{}{}
			}
			ch = make(chan struct{})
			m.held[name] = ch
			m.mu.Unlock()
			return &JobLock{release: func() {
				m.mu.Lock()
				delete(m.held, name)
				m.mu.Unlock()
				close(ch)
			}}, nil
		}
		m.mu.Unlock()
		if !wait {
			return nil, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
