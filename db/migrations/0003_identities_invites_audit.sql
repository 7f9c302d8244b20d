-- Third-party sign-in identities, invitation links and the security audit log.
CREATE TABLE identities (
  id         INTEGER PRIMARY KEY,
  user_id    INTEGER NOT NULL REFERENCES users(id),
  provider   TEXT NOT NULL,
  subject    TEXT NOT NULL,
  email      TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (provider, subject)
) STRICT;
CREATE INDEX identities_user ON identities(user_id);

CREATE TABLE invites (
  id              INTEGER PRIMARY KEY,
  hash            TEXT NOT NULL UNIQUE,
  email           TEXT NOT NULL DEFAULT '',
  role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
  monthly_credits INTEGER,
  note            TEXT NOT NULL DEFAULT '',
  created_by      INTEGER REFERENCES users(id),
  created_at      INTEGER NOT NULL,
  expires_at      INTEGER NOT NULL,
  used_at         INTEGER,
  used_by         INTEGER REFERENCES users(id),
  revoked_at      INTEGER
) STRICT;

CREATE TABLE audit_log (
  id       INTEGER PRIMARY KEY,
  at       INTEGER NOT NULL,
  actor_id INTEGER,
  action   TEXT NOT NULL,
  target   TEXT NOT NULL DEFAULT '',
  ip       TEXT NOT NULL DEFAULT '',
  detail   TEXT NOT NULL DEFAULT ''
) STRICT;
