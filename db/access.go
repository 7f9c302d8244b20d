package db

import (
	"context"
	"database/sql"
	"errors"
)

// App is a registered application (agent) that reports usage.
type App struct {
	ID        int64
	Slug      string
	Name      string
	Disabled  bool
	CreatedAt int64
	// NamesMembers: the app's keys may name the member a gateway request bills (0017).
	NamesMembers bool
}

// Key is an app key or a personal token; only its hash is stored.
type Key struct {
	ID           int64
	OwnerID      int64 // app id for app keys, user id for personal tokens
	Name         string
	Prefix       string
	DelegationID sql.NullInt64
	CreatedAt    int64
	LastUsedAt   sql.NullInt64
	RevokedAt    sql.NullInt64
}

// Session is a signed-in browser.
type Session struct {
	UserID     int64
	CSRF       string
	CreatedAt  int64
	LastSeenAt int64
	ExpiresAt  int64
}

func (c *Conn) InsertApp(ctx context.Context, a App) (int64, error) {
	return c.insertID(ctx, `INSERT INTO apps(slug, name, created_at) VALUES (?, ?, ?)`, a.Slug, a.Name, a.CreatedAt)
}

// EnsureApp makes the app unless one with its slug exists: made by another writer at the same
// time is not an error. (On PostgreSQL a failed INSERT would end the whole transaction.)
func (c *Conn) EnsureApp(ctx context.Context, a App) error {
	_, err := c.exec(ctx, `INSERT INTO apps(slug, name, created_at) VALUES (?, ?, ?) ON CONFLICT (slug) DO NOTHING`, a.Slug, a.Name, a.CreatedAt)
	return err
}

func scanApp(row interface{ Scan(...any) error }) (App, error) {
	var a App
	err := row.Scan(&a.ID, &a.Slug, &a.Name, &a.Disabled, &a.CreatedAt, &a.NamesMembers)
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrNotFound
	}
	return a, err
}

func (c *Conn) UpdateApp(ctx context.Context, id int64, name string, disabled bool) error {
	_, err := c.exec(ctx, `UPDATE apps SET name = ?, disabled = ? WHERE id = ?`, name, disabled, id)
	return err
}

func (c *Conn) AppByID(ctx context.Context, id int64) (App, error) {
	return scanApp(c.queryRow(ctx, `SELECT id, slug, name, disabled, created_at, names_members FROM apps WHERE id = ?`, id))
}

func (c *Conn) AppBySlug(ctx context.Context, slug string) (App, error) {
	return scanApp(c.queryRow(ctx, `SELECT id, slug, name, disabled, created_at, names_members FROM apps WHERE slug = ?`, slug))
}

func (c *Conn) ListApps(ctx context.Context) ([]App, error) {
	rows, err := c.query(ctx, `SELECT id, slug, name, disabled, created_at, names_members FROM apps ORDER BY name, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []App
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// keyTable names the two tables that hold hashed secrets.
type keyTable struct{ table, owner string }

var (
	appKeys        = keyTable{"app_keys", "app_id"}
	personalTokens = keyTable{"tokens", "user_id"}
)

func (c *Conn) insertKey(ctx context.Context, t keyTable, k Key, hash string) (int64, error) {
	if t == personalTokens {
		return c.insertID(ctx, `INSERT INTO tokens(user_id, name, prefix, hash, delegation_id, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			k.OwnerID, k.Name, k.Prefix, hash, k.DelegationID, k.CreatedAt)
	}
	return c.insertID(ctx, `INSERT INTO app_keys(app_id, prefix, hash, delegation_id, created_at) VALUES (?, ?, ?, ?, ?)`,
		k.OwnerID, k.Prefix, hash, k.DelegationID, k.CreatedAt)
}

func (t keyTable) cols() string {
	name := "''"
	if t == personalTokens {
		name = "name"
	}
	return `id, ` + t.owner + `, ` + name + `, prefix, delegation_id, created_at, last_used_at, revoked_at`
}

func scanKey(row interface{ Scan(...any) error }) (Key, error) {
	var k Key
	err := row.Scan(&k.ID, &k.OwnerID, &k.Name, &k.Prefix, &k.DelegationID, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return k, ErrNotFound
	}
	return k, err
}

func (c *Conn) keyByHash(ctx context.Context, t keyTable, hash string) (Key, error) {
	return scanKey(c.queryRow(ctx, `SELECT `+t.cols()+` FROM `+t.table+` WHERE hash = ? AND revoked_at IS NULL`, hash))
}

func (c *Conn) listKeys(ctx context.Context, t keyTable, owner int64) ([]Key, error) {
	rows, err := c.query(ctx, `SELECT `+t.cols()+` FROM `+t.table+` WHERE `+t.owner+` = ? ORDER BY id`, owner)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func (c *Conn) revokeKey(ctx context.Context, t keyTable, owner, id, at int64) error {
	res, err := c.exec(ctx, `UPDATE `+t.table+` SET revoked_at = ? WHERE id = ? AND `+t.owner+` = ? AND revoked_at IS NULL`, at, id, owner)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

func (c *Conn) touchKey(ctx context.Context, t keyTable, id, at int64) error {
	_, err := c.exec(ctx, `UPDATE `+t.table+` SET last_used_at = ? WHERE id = ?`, at, id)
	return err
}

func (c *Conn) InsertAppKey(ctx context.Context, k Key, hash string) (int64, error) {
	return c.insertKey(ctx, appKeys, k, hash)
}
func (c *Conn) AppKeyByHash(ctx context.Context, hash string) (Key, error) {
	return c.keyByHash(ctx, appKeys, hash)
}
func (c *Conn) ListAppKeys(ctx context.Context, appID int64) ([]Key, error) {
	return c.listKeys(ctx, appKeys, appID)
}
func (c *Conn) RevokeAppKey(ctx context.Context, appID, id, at int64) error {
	return c.revokeKey(ctx, appKeys, appID, id, at)
}
func (c *Conn) TouchAppKey(ctx context.Context, id, at int64) error {
	return c.touchKey(ctx, appKeys, id, at)
}
func (c *Conn) InsertToken(ctx context.Context, k Key, hash string) (int64, error) {
	return c.insertKey(ctx, personalTokens, k, hash)
}
func (c *Conn) TokenByHash(ctx context.Context, hash string) (Key, error) {
	return c.keyByHash(ctx, personalTokens, hash)
}
func (c *Conn) ListTokens(ctx context.Context, userID int64) ([]Key, error) {
	return c.listKeys(ctx, personalTokens, userID)
}
func (c *Conn) RevokeToken(ctx context.Context, userID, id, at int64) error {
	return c.revokeKey(ctx, personalTokens, userID, id, at)
}
func (c *Conn) TouchToken(ctx context.Context, id, at int64) error {
	return c.touchKey(ctx, personalTokens, id, at)
}

func (c *Conn) InsertSession(ctx context.Context, idHash string, s Session) error {
	_, err := c.exec(ctx, `INSERT INTO sessions(id_hash, user_id, csrf, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		idHash, s.UserID, s.CSRF, s.CreatedAt, s.LastSeenAt, s.ExpiresAt)
	return err
}

func (c *Conn) SessionByHash(ctx context.Context, idHash string) (Session, error) {
	var s Session
	err := c.queryRow(ctx, `SELECT user_id, csrf, created_at, last_seen_at, expires_at FROM sessions WHERE id_hash = ?`, idHash).
		Scan(&s.UserID, &s.CSRF, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return s, ErrNotFound
	}
	return s, err
}

func (c *Conn) TouchSession(ctx context.Context, idHash string, at int64) error {
	_, err := c.exec(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?`, at, idHash)
	return err
}

func (c *Conn) DeleteSession(ctx context.Context, idHash string) error {
	_, err := c.exec(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash)
	return err
}

func (c *Conn) DeleteUserSessions(ctx context.Context, userID int64) error {
	_, err := c.exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
	return err
}

func (c *Conn) DeleteExpiredSessions(ctx context.Context, now int64) error {
	_, err := c.exec(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, now)
	return err
}

// Settings returns every stored instance setting.
func (c *Conn) Settings(ctx context.Context) (map[string]string, error) {
	rows, err := c.query(ctx, `SELECT key, value FROM settings`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}

func (c *Conn) PutSetting(ctx context.Context, key, value string) error {
	_, err := c.exec(ctx, `INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

// JobRun records one run of a scheduled job.
type JobRun struct {
	Name      string
	AsOf      int64
	StartedAt int64
	Result    string
}

func (c *Conn) InsertJobRun(ctx context.Context, r JobRun) error {
	_, err := c.exec(ctx, `INSERT INTO job_runs(name, as_of, started_at, result) VALUES (?, ?, ?, ?)`, r.Name, r.AsOf, r.StartedAt, r.Result)
	return err
}

// LastJobRun returns the latest run of a job by as-of time.
func (c *Conn) LastJobRun(ctx context.Context, name string) (JobRun, error) {
	var r JobRun
	err := c.queryRow(ctx, `SELECT name, as_of, started_at, result FROM job_runs WHERE name = ? ORDER BY as_of DESC, id DESC LIMIT 1`, name).
		Scan(&r.Name, &r.AsOf, &r.StartedAt, &r.Result)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	return r, err
}
