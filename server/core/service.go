package core

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"tokenjar/db"
)

// Service is tokenjar's domain: every rule about credits and accounts goes through it.
type Service struct {
	db       *db.DB
	clock    Clock
	log      *slog.Logger
	settings settingsCache
	keys     keyCache
	hub      *Hub
	throttle *throttle
	touched  sync.Map // key → time it was last recorded as used
	lookups  *lookups
	gwRates  gatewayRates  // per-member gateway requests per minute (gateway_access.go)
	gwConf   gatewayConfig // providers and prices, cached for the gateway (gateway_config.go)
	// charges feeds the charger goroutine, which charges queued reports in groups.
	charges     chan *pendingCharge
	chargerDone chan struct{}
	closing     sync.RWMutex // held for reading while queueing; Close takes it to stop queueing
	closed      bool
	stopSweeper chan struct{}
	sweeperDone chan struct{}
	// origin names this Service in its database notices; unlisten stops its listeners
	// (replicas.go).
	origin   string
	unlisten []func()
}

// New builds the service on an open, migrated database.
func New(ctx context.Context, d *db.DB, clock Clock, log *slog.Logger) (*Service, error) {
	if clock == nil {
		clock = SystemClock
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Service{db: d, clock: clock, log: log, hub: newHub(), throttle: newThrottle(), lookups: newLookups(), origin: newOrigin()}
	s.keys.init()
	// Before the settings are read, so no change made meanwhile by another replica is missed.
	s.listen()
	s.charges = make(chan *pendingCharge, 4096)
	s.chargerDone = make(chan struct{})
	go s.runCharger()
	if err := s.loadSettings(ctx); err != nil {
		for _, stop := range s.unlisten {
			stop()
		}
		return nil, err
	}
	return s, nil
}

// DB exposes the database to the jobs runner and tests.
func (s *Service) DB() *db.DB { return s.db }

// Now is the service clock's current time.
func (s *Service) Now() time.Time { return s.clock.Now() }

// Hub is where new usage events are published for live views.
func (s *Service) Hub() *Hub { return s.hub }

// Close stops taking reports and waits for the charger to finish what was queued. Call it
// before closing the database.
func (s *Service) Close() {
	s.closing.Lock()
	stop, done := s.stopSweeper, s.sweeperDone
	s.stopSweeper = nil
	s.closing.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	s.closing.Lock()
	if !s.closed {
		s.closed = true
		close(s.charges)
	}
	unlisten := s.unlisten
	s.unlisten = nil
	s.closing.Unlock()
	<-s.chargerDone
	for _, stop := range unlisten {
		stop()
	}
}

// StartHolds makes this process a keeper of gateway holds: it drops the holds left in the
// database by a process that is gone, and starts the sweeper that releases expired ones. Only
// the server calls it; command-line tools that open the same database while it runs must not.
//
// On SQLite the server holds the data folder's lock, so every hold found belongs to a process
// that is gone (a crash): its request will never be settled, nothing was charged for it, and
// all of them are dropped. On PostgreSQL other replicas may be serving requests that hold
// credits right now, and a hold does not say whose process made it: only the expired ones are
// dropped, and a crashed replica's holds set their credits aside until they expire (holdTTL).
func (s *Service) StartHolds(ctx context.Context) error {
	if s.Replicated() {
		if _, err := s.ReleaseExpiredHolds(ctx); err != nil {
			return err
		}
	} else if err := s.db.Update(ctx, func(c *db.Conn) error { return c.DeleteAllHolds(ctx) }); err != nil {
		return err
	}
	s.closing.Lock()
	defer s.closing.Unlock()
	if s.closed || s.stopSweeper != nil {
		return nil
	}
	s.stopSweeper, s.sweeperDone = make(chan struct{}), make(chan struct{})
	go s.runHoldSweeper(s.stopSweeper, s.sweeperDone)
	return nil
}

// errClosing answers reports that arrive while the server shuts down.
var errClosing = Errorf(EINTERNAL, "tokenjar is shutting down")

func (s *Service) enqueue(ctx context.Context, p *pendingCharge) error {
	s.closing.RLock()
	defer s.closing.RUnlock()
	if s.closed {
		return errClosing
	}
	select {
	case s.charges <- p:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
