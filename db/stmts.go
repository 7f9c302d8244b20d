package db

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps prepared statements per pool. Parsing SQL is most of SQLite's cost for the
// small statements the charge path runs, so each statement is parsed once per connection
// instead of once per call. The cache is bounded: the usage filters make many distinct
// queries, and past the bound a query just runs unprepared.
type stmtCache struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
	// For the write pool: its one connection is busy with the writer's transaction whenever
	// a statement is first needed, so those queries are prepared on the transaction for the
	// batch at hand and on the pool right after the commit (see Writer.run).
	deferred bool
	pending  map[string]bool
}

const maxCachedStmts = 512

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}}
}

func (s *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.stmts[query]; ok {
		return st, nil
	}
	if len(s.stmts) >= maxCachedStmts {
		return nil, nil
	}
	if s.deferred {
		if s.pending == nil {
			s.pending = map[string]bool{}
		}
		s.pending[query] = true
		return nil, nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.stmts[query] = st
	return st, nil
}

// preparePending prepares the queries first seen inside a transaction; call it only while
// no transaction holds the pool's connection.
func (s *stmtCache) preparePending(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for q := range s.pending {
		if st, err := s.db.PrepareContext(ctx, q); err == nil {
			s.stmts[q] = st
		}
	}
	s.pending = nil
}

func (s *stmtCache) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.stmts {
		st.Close()
	}
	s.stmts = map[string]*sql.Stmt{}
}

// stmt returns the cached statement for query, bound to the Conn's transaction if it has
// one; nil means "run it unprepared".
func (c *Conn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if c.cache == nil {
		return nil, nil
	}
	st, err := c.cache.get(ctx, query)
	if err != nil || st == nil {
		return nil, err
	}
	if c.tx != nil {
		return c.tx.StmtContext(ctx, st), nil
	}
	return st, nil
}

func (c *Conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.q.ExecContext(ctx, query, args...)
}

func (c *Conn) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.q.QueryContext(ctx, query, args...)
}

// errRow carries a prepare error to Scan, like *sql.Row does.
type row struct {
	r   *sql.Row
	err error
}

func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.r.Scan(dest...)
}

func (c *Conn) queryRow(ctx context.Context, query string, args ...any) row {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return row{err: err}
	}
	if st != nil {
		return row{r: st.QueryRowContext(ctx, args...)}
	}
	return row{r: c.q.QueryRowContext(ctx, query, args...)}
}
