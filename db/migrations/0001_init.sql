-- All amounts are int64 millicredits. All times are unix milliseconds (UTC).
-- "day" columns are whole days since 1970-01-01 of the local date in the instance time zone.

CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE users (
  id            INTEGER PRIMARY KEY,
  email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
  name          TEXT NOT NULL,
  role          TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
  password_hash TEXT NOT NULL DEFAULT '',
  disabled      INTEGER NOT NULL DEFAULT 0,
  plan_credits  INTEGER NOT NULL DEFAULT 0 CHECK (plan_credits >= 0),
  plan_next     INTEGER CHECK (plan_next >= 0),  -- plan change waiting for the next cycle
  balance       INTEGER NOT NULL DEFAULT 0,      -- sum(buckets.remaining) - debt, moved with every ledger row
  debt          INTEGER NOT NULL DEFAULT 0 CHECK (debt >= 0),
  created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
  id_hash      TEXT PRIMARY KEY,
  user_id      INTEGER NOT NULL REFERENCES users(id),
  csrf         TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE delegations (
  id           INTEGER PRIMARY KEY,
  granter_id   INTEGER NOT NULL REFERENCES users(id),
  grantee_id   INTEGER NOT NULL REFERENCES users(id),
  credits      INTEGER NOT NULL CHECK (credits > 0),
  period       TEXT NOT NULL CHECK (period IN ('day', 'week', 'month', 'once')),
  starts_at    INTEGER NOT NULL,
  ends_at      INTEGER,
  note         TEXT NOT NULL DEFAULT '',
  status       TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'revoked')),
  created_at   INTEGER NOT NULL,
  revoked_at   INTEGER,
  period_key   INTEGER NOT NULL DEFAULT -1,     -- which period period_used counts
  period_used  INTEGER NOT NULL DEFAULT 0 CHECK (period_used >= 0)
) STRICT;
CREATE INDEX delegations_grantee ON delegations(grantee_id, id);
CREATE INDEX delegations_granter ON delegations(granter_id, id);

CREATE TABLE tokens (
  id            INTEGER PRIMARY KEY,
  user_id       INTEGER NOT NULL REFERENCES users(id),
  name          TEXT NOT NULL,
  prefix        TEXT NOT NULL,
  hash          TEXT NOT NULL UNIQUE,
  delegation_id INTEGER REFERENCES delegations(id),
  created_at    INTEGER NOT NULL,
  last_used_at  INTEGER,
  revoked_at    INTEGER
) STRICT;
CREATE INDEX tokens_user ON tokens(user_id);

CREATE TABLE apps (
  id         INTEGER PRIMARY KEY,
  slug       TEXT NOT NULL UNIQUE,
  name       TEXT NOT NULL,
  disabled   INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE app_keys (
  id            INTEGER PRIMARY KEY,
  app_id        INTEGER NOT NULL REFERENCES apps(id),
  prefix        TEXT NOT NULL,
  hash          TEXT NOT NULL UNIQUE,
  delegation_id INTEGER REFERENCES delegations(id),
  created_at    INTEGER NOT NULL,
  last_used_at  INTEGER,
  revoked_at    INTEGER
) STRICT;
CREATE INDEX app_keys_app ON app_keys(app_id);

CREATE TABLE buckets (
  id         INTEGER PRIMARY KEY,
  user_id    INTEGER NOT NULL REFERENCES users(id),
  kind       TEXT NOT NULL CHECK (kind IN ('subscription', 'addon', 'event')),
  granted    INTEGER NOT NULL CHECK (granted >= 0),
  remaining  INTEGER NOT NULL CHECK (remaining >= 0),
  granted_at INTEGER NOT NULL,
  expires_at INTEGER,
  cycle      INTEGER,            -- YYYYMM of the cycle a subscription bucket belongs to
  note       TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX buckets_user ON buckets(user_id, kind);
CREATE INDEX buckets_expiring ON buckets(expires_at) WHERE remaining > 0 AND expires_at IS NOT NULL;

-- One row per member and cycle once the refresh job granted that cycle: what makes refresh idempotent.
CREATE TABLE cycle_grants (
  user_id   INTEGER NOT NULL REFERENCES users(id),
  cycle     INTEGER NOT NULL,
  bucket_id INTEGER REFERENCES buckets(id),
  at        INTEGER NOT NULL,
  PRIMARY KEY (user_id, cycle)
) STRICT, WITHOUT ROWID;

CREATE TABLE usage_events (
  id                 INTEGER PRIMARY KEY,
  user_id            INTEGER NOT NULL REFERENCES users(id),  -- whose usage it is
  payer_id           INTEGER NOT NULL REFERENCES users(id),  -- whose buckets paid (the granter under a delegation)
  delegation_id      INTEGER REFERENCES delegations(id),
  app_id             INTEGER REFERENCES apps(id),
  at                 INTEGER NOT NULL,
  day                INTEGER NOT NULL,
  recorded_at        INTEGER NOT NULL,
  description        TEXT NOT NULL,
  short_description  TEXT NOT NULL DEFAULT '',
  usage_type         TEXT NOT NULL,
  model              TEXT NOT NULL DEFAULT '',
  provider           TEXT NOT NULL DEFAULT '',
  modality           TEXT NOT NULL DEFAULT '',
  input_tokens       INTEGER NOT NULL DEFAULT 0,
  output_tokens      INTEGER NOT NULL DEFAULT 0,
  total_tokens       INTEGER NOT NULL DEFAULT 0,
  processing_time_ms INTEGER,
  model_parameters   TEXT,
  internal_units     TEXT,
  project            TEXT NOT NULL DEFAULT '',
  cost_usd           TEXT,                  -- as reported, exact decimal text
  credits            INTEGER NOT NULL,      -- the price in credits; charged only when charged = 1
  debt               INTEGER NOT NULL DEFAULT 0,
  charged            INTEGER NOT NULL,
  source_note        TEXT NOT NULL DEFAULT '',  -- why this billing source was chosen when it was not the asked one
  refunded_at        INTEGER,
  idem_scope         TEXT,
  idem_key           TEXT
) STRICT;
CREATE UNIQUE INDEX usage_idem ON usage_events(idem_scope, idem_key) WHERE idem_key IS NOT NULL;
CREATE INDEX usage_user_at ON usage_events(user_id, at, id);
CREATE INDEX usage_delegation_at ON usage_events(delegation_id, at, id) WHERE delegation_id IS NOT NULL;

CREATE TABLE ledger (
  id            INTEGER PRIMARY KEY,
  user_id       INTEGER NOT NULL REFERENCES users(id),
  at            INTEGER NOT NULL,
  action        TEXT NOT NULL CHECK (action IN ('usage', 'grant', 'topup', 'refresh', 'expire', 'refund', 'debt')),
  amount        INTEGER NOT NULL,
  bucket_id     INTEGER REFERENCES buckets(id),  -- NULL: the row moves the debt
  kind          TEXT NOT NULL DEFAULT '',
  usage_id      INTEGER REFERENCES usage_events(id),
  balance_after INTEGER NOT NULL,
  note          TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX ledger_user_at ON ledger(user_id, at, id);
CREATE INDEX ledger_usage ON ledger(usage_id) WHERE usage_id IS NOT NULL;
CREATE INDEX ledger_bucket ON ledger(bucket_id) WHERE bucket_id IS NOT NULL;

-- Per-day rollups, written in the same transaction as each event so charts are never stale.
CREATE TABLE usage_daily (
  user_id        INTEGER NOT NULL,
  day            INTEGER NOT NULL,
  app_id         INTEGER NOT NULL,   -- 0: no app
  model          TEXT NOT NULL,
  provider       TEXT NOT NULL,
  usage_type     TEXT NOT NULL,
  project        TEXT NOT NULL,
  modality       TEXT NOT NULL,
  delegation_id  INTEGER NOT NULL,   -- 0: personal
  requests       INTEGER NOT NULL DEFAULT 0,
  credits        INTEGER NOT NULL DEFAULT 0,
  tokens         INTEGER NOT NULL DEFAULT 0,
  c_subscription INTEGER NOT NULL DEFAULT 0,
  c_addon        INTEGER NOT NULL DEFAULT 0,
  c_event        INTEGER NOT NULL DEFAULT 0,
  c_debt         INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, day, app_id, model, provider, usage_type, project, modality, delegation_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX usage_daily_delegation ON usage_daily(delegation_id, day) WHERE delegation_id != 0;
CREATE INDEX usage_daily_day ON usage_daily(day);

CREATE TABLE job_runs (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL,
  as_of       INTEGER NOT NULL,
  started_at  INTEGER NOT NULL,
  result      TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX job_runs_name ON job_runs(name, as_of);
