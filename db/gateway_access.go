package db

import (
	"context"
	"database/sql"
	"errors"
)

// AppNamesMembers tells whether an admin allowed the app's keys to name the member a gateway
// request bills (migration 0017).
func (c *Conn) AppNamesMembers(ctx context.Context, appID int64) (bool, error) {
	var v bool
	err := c.queryRow(ctx, `SELECT names_members FROM apps WHERE id = ?`, appID).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return false, ErrNotFound
	}
	return v, err
}

// SetAppNamesMembers allows or forbids an app's keys to name members.
func (c *Conn) SetAppNamesMembers(ctx context.Context, appID int64, v bool) error {
	_, err := c.exec(ctx, `UPDATE apps SET names_members = ? WHERE id = ?`, v, appID)
	return err
}

// MemberGateway is a member's gateway settings: Models is a JSON array of globs ("[]": any model),
// RPM the requests-per-minute limit (0: none).
type MemberGateway struct {
	Models string
	RPM    int64
}

// MemberGatewayByID reads a member's gateway settings.
func (c *Conn) MemberGatewayByID(ctx context.Context, userID int64) (MemberGateway, error) {
	var g MemberGateway
	err := c.queryRow(ctx, `SELECT gateway_models, gateway_rpm FROM users WHERE id = ?`, userID).Scan(&g.Models, &g.RPM)
	if errors.Is(err, sql.ErrNoRows) {
		return g, ErrNotFound
	}
	return g, err
}

// SetMemberGateway stores a member's gateway settings.
func (c *Conn) SetMemberGateway(ctx context.Context, userID int64, g MemberGateway) error {
	_, err := c.exec(ctx, `UPDATE users SET gateway_models = ?, gateway_rpm = ? WHERE id = ?`, g.Models, g.RPM, userID)
	return err
}
