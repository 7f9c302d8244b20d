package core

import (
	"context"
	"errors"
	"time"

	"tokenjar/db"
)

// SignInFlowTTL is how long a sign-in at a third-party provider may take, from the redirect to
// the provider until its callback.
const SignInFlowTTL = 10 * time.Minute

// SignInFlow is what a sign-in at a third-party provider carries from its start to its
// callback. It is kept in the database, so the callback may reach any replica.
type SignInFlow struct {
	Provider string
	Session  string // the provider library's session, marshalled
	Invite   string
	Next     string
}

// StartSignInFlow stores f under state (random, unguessable) for SignInFlowTTL.
func (s *Service) StartSignInFlow(ctx context.Context, state string, f SignInFlow) error {
	now := s.clock.Now()
	row := db.OAuthFlow{State: state, Provider: f.Provider, Session: f.Session, Invite: f.Invite, Next: f.Next,
		ExpiresAt: ms(now.Add(SignInFlowTTL))}
	return s.db.UpdateKeepingCaches(ctx, func(c *db.Conn) error { return c.PutOAuthFlow(ctx, row, ms(now)) })
}

// TakeSignInFlow returns the flow stored under state and forgets it: a state works once, on
// any replica. ok is false when there is none or it has expired.
func (s *Service) TakeSignInFlow(ctx context.Context, state string) (f SignInFlow, ok bool, err error) {
	var row db.OAuthFlow
	err = s.db.UpdateKeepingCaches(ctx, func(c *db.Conn) error {
		var err error
		row, err = c.TakeOAuthFlow(ctx, state, ms(s.clock.Now()))
		return err
	})
	if errors.Is(err, db.ErrNotFound) {
		return SignInFlow{}, false, nil
	}
	if err != nil {
		return SignInFlow{}, false, err
	}
	return SignInFlow{Provider: row.Provider, Session: row.Session, Invite: row.Invite, Next: row.Next}, true, nil
}
