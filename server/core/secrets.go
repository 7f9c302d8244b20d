package core

import (
	"context"
	"errors"

	"tokenjar/db"
)

// Secrets every replica of one database must share (the key sealing AI provider keys) are kept
// in the settings table under secretPrefix+name, on PostgreSQL, where replicas do not share a
// data folder. The settings API never lists them: it reads named settings only.
const secretPrefix = "secret."

// SharedSecret returns the secret stored under name, storing candidate first if none is: the
// first replica to start stores its own, and every other one reads that back.
func (s *Service) SharedSecret(ctx context.Context, name, candidate string) (string, error) {
	var got string
	err := s.db.Update(ctx, func(c *db.Conn) error {
		v, err := c.SettingOnce(ctx, secretPrefix+name, candidate)
		got = v
		return err
	})
	return got, err
}

// StoredSecret returns the secret stored under name; ok is false when there is none.
func (s *Service) StoredSecret(ctx context.Context, name string) (v string, ok bool, err error) {
	v, err = s.db.Read().Setting(ctx, secretPrefix+name)
	if errors.Is(err, db.ErrNotFound) {
		return "", false, nil
	}
	return v, err == nil, err
}

// Replicated says whether several servers may share this database (PostgreSQL), each with a
// data folder of its own; on SQLite one server owns the database and its data folder.
func (s *Service) Replicated() bool { return s.db.Engine() == db.Postgres }
