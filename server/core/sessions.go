package core

import (
	"context"
	"errors"

	"tokenjar/db"
)

// StillSignedIn checks that the credential p was made from still holds: the session exists
// and has not expired, or the personal token is not revoked, and the member is not disabled.
// A long-lived response (the live stream) calls it while it runs, so credentials that end in
// another process, or by expiry, end the response too. It reads the database each time.
func (s *Service) StillSignedIn(ctx context.Context, p Principal) error {
	r := s.db.Read()
	switch p.Via {
	case ViaSession:
		sess, err := r.SessionByHash(ctx, p.SessionHash)
		if errors.Is(err, db.ErrNotFound) || (err == nil && sess.UserID != p.UserID) {
			return Errorf(EUNAUTHORIZED, "your session has ended; sign in again")
		}
		if err != nil {
			return err
		}
		now := s.clock.Now()
		if ms(now) >= sess.ExpiresAt || now.Sub(fromMS(sess.LastSeenAt)) > SessionIdle {
			return Errorf(EUNAUTHORIZED, "your session has expired; sign in again")
		}
	case ViaToken:
		k, err := r.LiveTokenByID(ctx, p.KeyID)
		if errors.Is(err, db.ErrNotFound) || (err == nil && k.OwnerID != p.UserID) {
			return Errorf(EUNAUTHORIZED, "invalid or revoked token")
		}
		if err != nil {
			return err
		}
	case ViaOperator:
		return nil
	default:
		return Errorf(EUNAUTHORIZED, "this credential cannot hold a live view")
	}
	u, err := r.UserByID(ctx, p.UserID)
	if err != nil {
		return s.authErr(err)
	}
	if u.Disabled {
		return Errorf(EUNAUTHORIZED, "this member is disabled")
	}
	return nil
}

// credentialsEnded is called once a change that ends credentials has committed: cached
// tokens are forgotten and the live views opened with the ended credentials close at once, in
// this process and in every replica (replicas.go).
func (s *Service) credentialsEnded(e credentialEnd) {
	s.endCredentials(e)
	s.announce("end " + e.String())
}

// endCredentials forgets the ended tokens and closes the live views of this process that were
// opened with the ended credentials.
func (s *Service) endCredentials(e credentialEnd) {
	if e.tokenID != 0 || e.allTokens {
		s.keys.clear()
	}
	s.hub.end(e)
}

// revokeAllTokensTx revokes every personal token of a member (target names them, see
// memberTarget), inside a write, and audits it.
func (s *Service) revokeAllTokensTx(ctx context.Context, c *db.Conn, p Principal, userID int64, target, why string) error {
	n, err := c.RevokeUserTokens(ctx, userID, ms(s.clock.Now()))
	if err != nil || n == 0 {
		return err
	}
	return s.auditTx(ctx, c, p.UserID, "tokens_revoked", target, p.IP, plural(n, "personal token")+", "+why)
}
