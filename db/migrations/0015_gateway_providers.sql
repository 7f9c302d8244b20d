-- The AI gateway (SPEC section 10): the providers it forwards to, and the admin's prices, which
-- override the shipped price table and survive its updates (the table lives in the binary).
-- Prices are whole micro-USD per million tokens (per image for per_image), so tokens × price is
-- exact; NULL means "no such rate" (cached reads and cache writes are then charged as input).

CREATE TABLE providers (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
  kind          TEXT NOT NULL CHECK (kind IN ('openai', 'anthropic', 'openai-compatible')),
  base_url      TEXT NOT NULL,
  api_key_enc   BLOB,                          -- AES-256-GCM nonce || ciphertext; NULL: no key
  models        TEXT NOT NULL DEFAULT '[]',    -- JSON array of model ids it serves ([]: ask it)
  free          INTEGER NOT NULL DEFAULT 0,    -- a local server: metered in tokens, charged 0
  include_usage INTEGER NOT NULL DEFAULT 1,    -- 0: never inject stream_options.include_usage
  timeout_ms    INTEGER NOT NULL DEFAULT 60000 CHECK (timeout_ms > 0),
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE price_overrides (
  model              TEXT PRIMARY KEY,         -- lowercased model id
  input_micro        INTEGER NOT NULL CHECK (input_micro >= 0),
  output_micro       INTEGER NOT NULL CHECK (output_micro >= 0),
  cached_input_micro INTEGER CHECK (cached_input_micro >= 0),
  cache_write_micro  INTEGER CHECK (cache_write_micro >= 0),       -- 5-minute cache writes
  cache_write_1h_micro INTEGER CHECK (cache_write_1h_micro >= 0), -- 1-hour cache writes (Anthropic)
  per_image_micro    INTEGER CHECK (per_image_micro >= 0),
  updated_at         INTEGER NOT NULL,
  updated_by         INTEGER REFERENCES users(id)
) STRICT;
