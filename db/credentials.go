package db

import "context"

// LiveTokenByID returns a personal token that has not been revoked.
func (c *Conn) LiveTokenByID(ctx context.Context, id int64) (Key, error) {
	return scanKey(c.queryRow(ctx, `SELECT `+personalTokens.cols()+` FROM tokens WHERE id = ? AND revoked_at IS NULL`, id))
}

// RevokeUserTokens revokes every live personal token of a member and returns how many.
func (c *Conn) RevokeUserTokens(ctx context.Context, userID, at int64) (int64, error) {
	res, err := c.exec(ctx, `UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`, at, userID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
