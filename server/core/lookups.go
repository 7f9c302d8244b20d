package core

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"tokenjar/db"
)

// lookups caches what the ingest path reads for every report (the app, the member, whether
// the member receives any delegation), so a report costs no read queries before the writer.
// Every change made through the service clears the entries it affects; a short TTL bounds
// what another process (the command line) could change underneath.
type lookups struct {
	mu       sync.Mutex
	apps     map[string]cachedApp
	users    map[string]cachedUser
	grantees map[int64]bool // member → may receive a delegation
}

type cachedApp struct {
	app db.App
	at  time.Time
}

type cachedUser struct {
	user db.User
	at   time.Time
}

const lookupTTL = 30 * time.Second

func newLookups() *lookups {
	return &lookups{apps: map[string]cachedApp{}, users: map[string]cachedUser{}, grantees: map[int64]bool{}}
}

func (l *lookups) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.apps, l.users = map[string]cachedApp{}, map[string]cachedUser{}
}

// dropGrantees forgets who may receive a delegation: a write this process did not see may
// have made anyone a grantee (the charge group calls it when its cached rows are dropped).
func (l *lookups) dropGrantees() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.grantees) > 0 {
		l.grantees = map[int64]bool{}
	}
}

// app finds an app by id or slug, through the cache.
func (s *Service) cachedApp(ctx context.Context, ref string) (db.App, error) {
	key := strings.ToLower(ref)
	s.lookups.mu.Lock()
	c, ok := s.lookups.apps[key]
	s.lookups.mu.Unlock()
	if ok && time.Since(c.at) < lookupTTL {
		return c.app, nil
	}
	a, err := s.appByRef(ctx, ref)
	if err != nil {
		return a, err
	}
	s.lookups.mu.Lock()
	if len(s.lookups.apps) > 10_000 {
		s.lookups.apps = map[string]cachedApp{}
	}
	s.lookups.apps[key] = cachedApp{a, time.Now()}
	s.lookups.mu.Unlock()
	return a, nil
}

// cachedUser finds a member by id or email, through the cache. The balance in the returned
// row is not current: money is always read inside the writer.
func (s *Service) cachedUser(ctx context.Context, id int64, email string) (db.User, error) {
	key := "e:" + strings.ToLower(email)
	if id != 0 {
		key = "i:" + strconv.FormatInt(id, 10)
	}
	s.lookups.mu.Lock()
	c, ok := s.lookups.users[key]
	s.lookups.mu.Unlock()
	if ok && time.Since(c.at) < lookupTTL {
		return c.user, nil
	}
	var u db.User
	var err error
	if id != 0 {
		u, err = s.db.Read().UserByID(ctx, id)
	} else {
		u, err = s.db.Read().UserByEmail(ctx, email)
	}
	if err != nil {
		return u, err
	}
	s.lookups.mu.Lock()
	if len(s.lookups.users) > 100_000 {
		s.lookups.users = map[string]cachedUser{}
	}
	s.lookups.users[key] = cachedUser{u, time.Now()}
	s.lookups.mu.Unlock()
	return u, nil
}

// mayHaveDelegations tells whether a member receives (or once received) any delegation. Most
// members never do, and for them the charge path skips the delegation query. Inside the
// writer, so it sees every delegation committed before.
//
// Not used on PostgreSQL, where other replicas create delegations: the charge reads the
// member's delegations in its own transaction instead.
func (s *Service) mayHaveDelegations(ctx context.Context, c *db.Conn, userID int64) (bool, error) {
	s.lookups.mu.Lock()
	known, ok := s.lookups.grantees[userID]
	s.lookups.mu.Unlock()
	if ok {
		return known, nil
	}
	n, err := c.CountDelegationsReceived(ctx, userID)
	if err != nil {
		return false, err
	}
	s.lookups.mu.Lock()
	s.lookups.grantees[userID] = n > 0
	s.lookups.mu.Unlock()
	return n > 0, nil
}

// markGrantee records that a member now receives a delegation; call it inside the write that
// creates it (before it commits, so no charge can miss it).
func (s *Service) markGrantee(userID int64) {
	s.lookups.mu.Lock()
	s.lookups.grantees[userID] = true
	s.lookups.mu.Unlock()
}
