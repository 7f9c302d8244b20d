package core

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"tokenjar/db"
)

// AppInfo is an app as the API shows it.
type AppInfo struct {
	ID        int64  `json:"id"`
	Slug      string `json:"slug"`
	Name      string `json:"name"`
	Disabled  bool   `json:"disabled"`
	CreatedAt string `json:"createdAt"`
	// NamesMembers: the app's keys may name the member each gateway request bills.
	NamesMembers bool        `json:"namesMembers"`
	Keys         []TokenInfo `json:"keys,omitempty"`
}

func appInfo(a db.App, keys []db.Key) AppInfo {
	info := AppInfo{ID: a.ID, Slug: a.Slug, Name: a.Name, Disabled: a.Disabled, NamesMembers: a.NamesMembers, CreatedAt: fromMS(a.CreatedAt).Format(time.RFC3339)}
	if keys != nil {
		info.Keys = []TokenInfo{}
		for _, k := range keys {
			info.Keys = append(info.Keys, tokenInfo(k))
		}
	}
	return info
}

// NewApp is the reply to registering an app: the key is shown once.
type NewApp struct {
	ID    int64  `json:"id"`
	Slug  string `json:"slug"`
	Name  string `json:"name"`
	Key   string `json:"key"`
	KeyID int64  `json:"keyId"`
	// NamesMembers is set by the handler when the app was created allowed to name members.
	NamesMembers bool `json:"namesMembers"`
}

// CreateApp registers an app and makes its first key (admins only).
func (s *Service) CreateApp(ctx context.Context, p Principal, name, slug string) (NewApp, error) {
	if err := p.requireAdmin(); err != nil {
		return NewApp{}, err
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return NewApp{}, Invalid("name", "name must be 1 to 100 characters")
	}
	if slug == "" {
		slug = slugify(name)
	} else if !slugRe.MatchString(slug) {
		return NewApp{}, Invalid("slug", "slug may hold lowercase letters, digits and -, at most 63")
	}
	if slug[0] >= '0' && slug[0] <= '9' && strings.Trim(slug, "0123456789") == "" {
		slug = "app-" + slug // an all-digit slug would read as an id
	}
	now := ms(s.clock.Now())
	plain, hash := secret("tj_app_")
	var out NewApp
	err := s.db.Update(ctx, func(c *db.Conn) error {
		id, err := c.InsertApp(ctx, db.App{Slug: slug, Name: name, CreatedAt: now})
		if db.IsUniqueViolation(err) {
			return &Error{Code: ECONFLICT, Message: "an app with slug " + slug + " exists already", Field: "slug"}
		}
		if err != nil {
			return err
		}
		kid, err := c.InsertAppKey(ctx, db.Key{OwnerID: id, Prefix: plain[:12], CreatedAt: now}, hash)
		out = NewApp{ID: id, Slug: slug, Name: name, Key: plain, KeyID: kid}
		if err != nil {
			return err
		}
		return s.auditTx(ctx, c, p.UserID, "key_created", fmt.Sprintf("app %d key %d", id, kid), p.IP, "first key of "+slug)
	})
	return out, err
}

// ListApps lists apps; admins also see each app's keys (never their secrets).
func (s *Service) ListApps(ctx context.Context, p Principal) ([]AppInfo, error) {
	if err := p.requireUser(); err != nil {
		return nil, err
	}
	r := s.db.Read()
	apps, err := r.ListApps(ctx)
	if err != nil {
		return nil, err
	}
	out := []AppInfo{}
	for _, a := range apps {
		var keys []db.Key
		if p.isAdmin() {
			if keys, err = r.ListAppKeys(ctx, a.ID); err != nil {
				return nil, err
			}
			if keys == nil {
				keys = []db.Key{}
			}
		}
		out = append(out, appInfo(a, keys))
	}
	return out, nil
}

// CreateAppKey makes another key for an app (admins only).
func (s *Service) CreateAppKey(ctx context.Context, p Principal, appID, delegationID int64) (NewToken, error) {
	if err := p.requireAdmin(); err != nil {
		return NewToken{}, err
	}
	plain, hash := secret("tj_app_")
	k := db.Key{OwnerID: appID, Prefix: plain[:12], CreatedAt: ms(s.clock.Now())}
	if delegationID != 0 {
		k.DelegationID = sql.NullInt64{Int64: delegationID, Valid: true}
	}
	err := s.db.Update(ctx, func(c *db.Conn) error {
		if delegationID != 0 {
			if _, err := c.DelegationByID(ctx, delegationID); errors.Is(err, db.ErrNotFound) {
				return Invalid("delegationId", "no delegation %d", delegationID)
			} else if err != nil {
				return err
			}
		}
		if _, err := c.AppByID(ctx, appID); errors.Is(err, db.ErrNotFound) {
			return Errorf(ENOTFOUND, "no app %d", appID)
		} else if err != nil {
			return err
		}
		id, err := c.InsertAppKey(ctx, k, hash)
		k.ID = id
		if err != nil {
			return err
		}
		return s.auditTx(ctx, c, p.UserID, "key_created", fmt.Sprintf("app %d key %d", appID, id), p.IP, k.Prefix)
	})
	return NewToken{TokenInfo: tokenInfo(k), Token: plain}, err
}

// RevokeAppKey revokes an app key at once (admins only).
func (s *Service) RevokeAppKey(ctx context.Context, p Principal, appID, keyID int64) error {
	if err := p.requireAdmin(); err != nil {
		return err
	}
	err := s.db.Update(ctx, func(c *db.Conn) error {
		if err := c.RevokeAppKey(ctx, appID, keyID, ms(s.clock.Now())); err != nil {
			return err
		}
		return s.auditTx(ctx, c, p.UserID, "key_revoked", fmt.Sprintf("app %d key %d", appID, keyID), p.IP, "")
	})
	if errors.Is(err, db.ErrNotFound) {
		return Errorf(ENOTFOUND, "no live key %d on app %d", keyID, appID)
	}
	s.changed(cacheKeys)
	return err
}

// UpdateApp renames or disables an app (admins only). A disabled app's keys stop working at once.
func (s *Service) UpdateApp(ctx context.Context, p Principal, id int64, name *string, disabled *bool) (AppInfo, error) {
	if err := p.requireAdmin(); err != nil {
		return AppInfo{}, err
	}
	var out AppInfo
	err := s.db.Update(ctx, func(c *db.Conn) error {
		a, err := c.AppByID(ctx, id)
		if errors.Is(err, db.ErrNotFound) {
			return Errorf(ENOTFOUND, "no app %d", id)
		}
		if err != nil {
			return err
		}
		if name != nil {
			n := strings.TrimSpace(*name)
			if n == "" || len(n) > 100 {
				return Invalid("name", "name must be 1 to 100 characters")
			}
			a.Name = n
		}
		if disabled != nil {
			a.Disabled = *disabled
		}
		if err := c.UpdateApp(ctx, id, a.Name, a.Disabled); err != nil {
			return err
		}
		keys, err := c.ListAppKeys(ctx, id)
		if keys == nil {
			keys = []db.Key{}
		}
		out = appInfo(a, keys)
		return err
	})
	s.changed(cacheKeys, cacheLookups)
	return out, err
}
