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

-- Sign-in attempts the throttle counts (core/throttle.go), shared by every replica so that N
-- replicas do not give a guesser N times the guesses. A row is written before the password is
-- checked and deleted when the sign-in succeeds; rows older than the throttle's window are
-- swept. account is the normalized email ('' for one-time codes), gen the account's password
-- generation at the time.
CREATE TABLE IF NOT EXISTS signin_attempts (
  id      INTEGER PRIMARY KEY,
  at      INTEGER NOT NULL,
  ip      TEXT NOT NULL,
  account TEXT NOT NULL DEFAULT '',
  gen     TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX IF NOT EXISTS signin_attempts_ip ON signin_attempts(ip, at);
CREATE INDEX IF NOT EXISTS signin_attempts_account ON signin_attempts(account, at);
CREATE INDEX IF NOT EXISTS signin_attempts_at ON signin_attempts(at);

-- Addresses an account signed in from (last time): exempt from the per-account limit.
CREATE TABLE IF NOT EXISTS signin_trust (
  account TEXT NOT NULL,
  ip      TEXT NOT NULL,
  at      INTEGER NOT NULL,
  PRIMARY KEY (account, ip)
) STRICT;
CREATE INDEX IF NOT EXISTS signin_trust_at ON signin_trust(at);
