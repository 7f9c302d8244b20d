package db

import (
	"context"
	"database/sql"
	"errors"
)

// OAuthFlow is a sign-in in progress at a third-party provider, keyed by its random state.
// It is kept in the database so that the provider's callback may reach any replica.
type OAuthFlow struct {
	State     string
	Provider  string
	Session   string // the provider library's session, marshalled
	Invite    string
	Next      string
	ExpiresAt int64 // unix ms
}

// PutOAuthFlow stores f, and deletes the flows that expired before now (abandoned sign-ins).
func (c *Conn) PutOAuthFlow(ctx context.Context, f OAuthFlow, now int64) error {
	if _, err := c.exec(ctx, `DELETE FROM oauth_flows WHERE expires_at < ?`, now); err != nil {
		return err
	}
	_, err := c.exec(ctx, `INSERT INTO oauth_flows(state, provider, session, invite, next, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		f.State, f.Provider, f.Session, f.Invite, f.Next, f.ExpiresAt)
	return err
}

// TakeOAuthFlow deletes the flow stored under state and returns it: a state works once, on
// whichever replica takes it first. ErrNotFound when there is none, or when it expired before
// now (it is deleted all the same).
func (c *Conn) TakeOAuthFlow(ctx context.Context, state string, now int64) (OAuthFlow, error) {
	f := OAuthFlow{State: state}
	err := c.queryRow(ctx, `DELETE FROM oauth_flows WHERE state = ? RETURNING provider, session, invite, next, expires_at`, state).
		Scan(&f.Provider, &f.Session, &f.Invite, &f.Next, &f.ExpiresAt)
	if errors.Is(err, sql.ErrNoRows) || err == nil && now > f.ExpiresAt {
		return OAuthFlow{}, ErrNotFound
	}
	if err != nil {
		return OAuthFlow{}, err
	}
	return f, nil
}
