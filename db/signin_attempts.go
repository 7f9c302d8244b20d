package db

import (
	"context"
	"database/sql"
	"errors"
)

// Sign-in attempts and trusted addresses, for the sign-in throttle (core/throttle.go), which
// decides what they mean. Times are unix ms. The "attempts" readers return the times of the
// newest attempts after since (at most limit of them), newest first.

// SigninPairAttempts: attempts at account (password generation gen) from ip.
func (c *Conn) SigninPairAttempts(ctx context.Context, account, gen, ip string, since int64, limit int) ([]int64, error) {
	return c.ids(ctx, `SELECT at FROM signin_attempts WHERE account = ? AND at > ? AND gen = ? AND ip = ? ORDER BY at DESC LIMIT ?`,
		account, since, gen, ip, limit)
}

// SigninAccountAttempts: attempts at account (password generation gen) from any address.
func (c *Conn) SigninAccountAttempts(ctx context.Context, account, gen string, since int64, limit int) ([]int64, error) {
	return c.ids(ctx, `SELECT at FROM signin_attempts WHERE account = ? AND at > ? AND gen = ? ORDER BY at DESC LIMIT ?`,
		account, since, gen, limit)
}

// SigninAddressAttempts: attempts from ip at any account, but for those at account (when not
// empty) against another password generation than gen.
func (c *Conn) SigninAddressAttempts(ctx context.Context, ip, account, gen string, since int64, limit int) ([]int64, error) {
	return c.ids(ctx, `SELECT at FROM signin_attempts WHERE ip = ? AND at > ? AND NOT (account != '' AND account = ? AND gen != ?) ORDER BY at DESC LIMIT ?`,
		ip, since, account, gen, limit)
}

// SigninTrustedAt returns when account last signed in from ip; ok is false if never (or swept).
func (c *Conn) SigninTrustedAt(ctx context.Context, account, ip string) (at int64, ok bool, err error) {
	err = c.queryRow(ctx, `SELECT at FROM signin_trust WHERE account = ? AND ip = ?`, account, ip).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return at, err == nil, err
}

// AddSigninAttempt records an attempt and returns its id.
func (c *Conn) AddSigninAttempt(ctx context.Context, at int64, ip, account, gen string) (int64, error) {
	return c.insertID(ctx, `INSERT INTO signin_attempts(at, ip, account, gen) VALUES (?, ?, ?, ?)`, at, ip, account, gen)
}

// SigninSucceeded drops attempt id, and when account is not empty every attempt at account
// from ip, and trusts ip for account from now.
func (c *Conn) SigninSucceeded(ctx context.Context, id int64, account, ip string, now int64) error {
	if _, err := c.exec(ctx, `DELETE FROM signin_attempts WHERE id = ?`, id); err != nil || account == "" {
		return err
	}
	if _, err := c.exec(ctx, `DELETE FROM signin_attempts WHERE account = ? AND ip = ?`, account, ip); err != nil {
		return err
	}
	_, err := c.exec(ctx, `INSERT INTO signin_trust(account, ip, at) VALUES (?, ?, ?) ON CONFLICT (account, ip) DO UPDATE SET at = excluded.at`,
		account, ip, now)
	return err
}

// SweepSignins deletes the attempts made at or before attemptsUntil and the trust last earned
// before trustBefore.
func (c *Conn) SweepSignins(ctx context.Context, attemptsUntil, trustBefore int64) error {
	if _, err := c.exec(ctx, `DELETE FROM signin_attempts WHERE at <= ?`, attemptsUntil); err != nil {
		return err
	}
	_, err := c.exec(ctx, `DELETE FROM signin_trust WHERE at < ?`, trustBefore)
	return err
}
