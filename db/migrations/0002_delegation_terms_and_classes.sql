-- Delegation restrictions and edits that wait for the next period; member groups and
-- one-time sign-in codes for classes.
ALTER TABLE delegations ADD COLUMN apps TEXT NOT NULL DEFAULT '';    -- JSON array of app ids; '' = any app
ALTER TABLE delegations ADD COLUMN models TEXT NOT NULL DEFAULT '';  -- JSON array of model names; '' = any model
ALTER TABLE delegations ADD COLUMN pending_credits INTEGER;
ALTER TABLE delegations ADD COLUMN pending_period TEXT;
ALTER TABLE delegations ADD COLUMN pending_from INTEGER;             -- when the pending terms take over

ALTER TABLE users ADD COLUMN group_name TEXT NOT NULL DEFAULT '';
CREATE INDEX users_group ON users(group_name) WHERE group_name != '';

CREATE TABLE signin_codes (
  user_id    INTEGER PRIMARY KEY REFERENCES users(id),
  hash       TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
