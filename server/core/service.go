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
}

// New builds the service on an open, migrated database.
func New(ctx context.Context, d *db.DB, clock Clock, log *slog.Logger) (*Service, error) {
	if clock == nil {
		clock = SystemClock
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Service{db: d, clock: clock, log: log, hub: newHub(), throttle: newThrottle()}
	s.keys.init()
	if err := s.loadSettings(ctx); err != nil {
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
