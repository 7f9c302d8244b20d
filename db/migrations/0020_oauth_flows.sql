-- Sign-in flows in progress at a third-party provider (OAuth/OIDC), keyed by the random state
-- the browser carries to the provider and back. They live in the database, not in one
-- replica's memory, so the callback may reach any replica. A row is taken (deleted) once.
CREATE TABLE IF NOT EXISTS oauth_flows (
  state      TEXT PRIMARY KEY,
  provider   TEXT NOT NULL,
  session    TEXT NOT NULL,
  invite     TEXT NOT NULL DEFAULT '',
  next       TEXT NOT NULL DEFAULT '',
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS oauth_flows_expires ON oauth_flows(expires_at);
