package core

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"tokenjar/db"
)

// How a request proved who it is.
const (
	ViaSession = "session"
	ViaToken   = "token"
	ViaAppKey  = "app"
	// ViaOperator is the server's own command line (tokenjar user …, tokenjar demo).
	ViaOperator = "cli"
)

// Roles.
const (
	RoleOwner  = "owner"
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// Principal is the caller of a domain method.
type Principal struct {
	Via string
	// UserID, Role, Email and Name are set for sessions and personal tokens.
	UserID int64
	Role   string
	Email  string
	Name   string
	// AppID is set for app keys.
	AppID int64
	// KeyID is the token or app key id.
	KeyID int64
	// BoundDelegation is the delegation a key or token bills to, if it is bound to one.
	BoundDelegation int64
	// For sessions.
	SessionHash string
	CSRF        string
	// IP is the caller's address, for the audit log.
	IP string
}

func (p Principal) isUser() bool  { return p.UserID != 0 }
func (p Principal) isAdmin() bool { return p.Role == RoleAdmin || p.Role == RoleOwner }

func (p Principal) requireUser() error {
	if !p.isUser() {
		return Errorf(EFORBIDDEN, "this call needs a signed-in member, not an app key")
	}
	return nil
}

func (p Principal) requireAdmin() error {
	if err := p.requireUser(); err != nil {
		return err
	}
	if !p.isAdmin() {
		return Errorf(EFORBIDDEN, "only admins may do this")
	}
	return nil
}

// secret makes a new random secret with a readable prefix, and returns it with its hash.
func secret(prefix string) (plain, hash string) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	plain = prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
	return plain, hashSecret(plain)
}

// hashSecret hashes a high-entropy secret. SHA-256 fits: these are random 160-bit values,
// not passwords, so there is nothing to brute-force.
func hashSecret(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(sum[:])
}

// keyCache remembers which principal a token or app key hash belongs to, so the ingest path
// skips a query per request. Revocation and disabling members clear it at once, on every
// replica (replicas.go); keyCacheTTL bounds what a lost notice leaves.
type keyCache struct {
	mu sync.RWMutex
	m  map[string]cachedKey
}

type cachedKey struct {
	p  Principal
	at time.Time
}

const keyCacheTTL = 30 * time.Second

func (k *keyCache) init() { k.m = map[string]cachedKey{} }

func (k *keyCache) get(hash string) (Principal, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	c, ok := k.m[hash]
	if !ok || time.Since(c.at) >= keyCacheTTL {
		return Principal{}, false
	}
	return c.p, true
}

func (k *keyCache) put(hash string, p Principal) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.m) > 100_000 {
		k.m = map[string]cachedKey{}
	}
	k.m[hash] = cachedKey{p, time.Now()}
}

func (k *keyCache) clear() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m = map[string]cachedKey{}
}

// AuthenticateBearer resolves a personal token or an app key.
func (s *Service) AuthenticateBearer(ctx context.Context, bearer string) (Principal, error) {
	hash := hashSecret(bearer)
	if p, ok := s.keys.get(hash); ok {
		s.touchKey(ctx, p)
		return p, nil
	}
	r := s.db.Read()
	var p Principal
	switch {
	case strings.HasPrefix(bearer, "tj_pat_"):
		k, err := r.TokenByHash(ctx, hash)
		if err != nil {
			return p, s.authErr(err)
		}
		u, err := r.UserByID(ctx, k.OwnerID)
		if err != nil {
			return p, s.authErr(err)
		}
		if u.Disabled {
			return p, Errorf(EUNAUTHORIZED, "this member is disabled")
		}
		p = Principal{Via: ViaToken, UserID: u.ID, Role: u.Role, Email: u.Email, Name: u.Name, KeyID: k.ID, BoundDelegation: k.DelegationID.Int64}
	case strings.HasPrefix(bearer, "tj_app_"):
		k, err := r.AppKeyByHash(ctx, hash)
		if err != nil {
			return p, s.authErr(err)
		}
		a, err := r.AppByID(ctx, k.OwnerID)
		if err != nil {
			return p, s.authErr(err)
		}
		if a.Disabled {
			return p, Errorf(EUNAUTHORIZED, "this app is disabled")
		}
		p = Principal{Via: ViaAppKey, AppID: a.ID, KeyID: k.ID, BoundDelegation: k.DelegationID.Int64}
	default:
		return p, Errorf(EUNAUTHORIZED, "unknown token format")
	}
	s.keys.put(hash, p)
	s.touchKey(ctx, p)
	return p, nil
}

// touchInterval is how stale a key's "last used" may get; writing it on every request would
// put a write in front of each report.
const touchInterval = time.Minute

// touchKey records when a token or key was last used, at most once per touchInterval.
func (s *Service) touchKey(ctx context.Context, p Principal) {
	now := s.clock.Now()
	key := p.Via + ":" + strconv.FormatInt(p.KeyID, 10)
	if last, ok := s.touched.Load(key); ok && now.Sub(last.(time.Time)) < touchInterval {
		return
	}
	s.touched.Store(key, now)
	err := s.db.Update(ctx, func(c *db.Conn) error {
		if p.Via == ViaAppKey {
			return c.TouchAppKey(ctx, p.KeyID, ms(now))
		}
		return c.TouchToken(ctx, p.KeyID, ms(now))
	})
	if err != nil {
		s.log.Warn("could not record key use", "key", key, "err", err)
	}
}

func (s *Service) authErr(err error) error {
	if errors.Is(err, db.ErrNotFound) {
		return Errorf(EUNAUTHORIZED, "invalid or revoked token")
	}
	return err
}
