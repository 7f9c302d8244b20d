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
	prep  preparer // the read pool, or the writer's one connection
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// preparer is a pool (*sql.DB) or one connection taken from it (*sql.Conn).
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

const maxCachedStmts = 512

func newStmtCache(p preparer) *stmtCache {
	return &stmtCache{prep: p, stmts: map[string]*sql.Stmt{}}
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
	st, err := s.prep.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.stmts[query] = st
	return st, nil
}

func (s *stmtCache) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.stmts {
		st.Close()
	}
	s.stmts = map[string]*sql.Stmt{}
}

// stmt returns the cached statement for query; nil means "run it unprepared".
func (c *Conn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if c.cache == nil {
		return nil, nil
	}
	return c.cache.get(ctx, query)
}

func (c *Conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if c.pg {
		res, err := c.q.ExecContext(ctx, rebind(query), pgArgs(args)...)
		return res, c.noteConflict(err)
	}
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
	if c.pg {
		rows, err := c.q.QueryContext(ctx, rebind(query), pgArgs(args)...)
		return rows, c.noteConflict(err)
	}
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
	c   *Conn // PostgreSQL: notes a conflict found at Scan
}

func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	err := r.r.Scan(dest...)
	if r.c != nil {
		r.c.noteConflict(err)
	}
	return err
}

func (c *Conn) queryRow(ctx context.Context, query string, args ...any) row {
	if c.pg {
		return row{r: c.q.QueryRowContext(ctx, rebind(query), pgArgs(args)...), c: c}
	}
	st, err := c.stmt(ctx, query)
	if err != nil {
		return row{err: err}
	}
	if st != nil {
		return row{r: st.QueryRowContext(ctx, args...)}
	}
	return row{r: c.q.QueryRowContext(ctx, query, args...)}
}

// insertID runs an INSERT of one row and returns the id it was given: SQLite reports the last
// rowid; PostgreSQL has no such thing and returns the id from the statement itself.
func (c *Conn) insertID(ctx context.Context, query string, args ...any) (int64, error) {
	if c.pg {
		var id int64
		err := c.queryRow(ctx, query+" RETURNING id", args...).Scan(&id)
		return id, err
	}
	res, err := c.exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}
