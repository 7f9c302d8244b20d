-- Twin of db/migrations/0020_oauth_flows.sql: sign-in flows in progress at a third-party
-- provider, shared by every replica.
CREATE TABLE oauth_flows (
  state      TEXT COLLATE "C" PRIMARY KEY,
  provider   TEXT COLLATE "C" NOT NULL,
  session    TEXT COLLATE "C" NOT NULL,
  invite     TEXT COLLATE "C" NOT NULL DEFAULT '',
  next       TEXT COLLATE "C" NOT NULL DEFAULT '',
  expires_at BIGINT NOT NULL
);
CREATE INDEX oauth_flows_expires ON oauth_flows(expires_at);
