-- Gateway holds (SPEC section 10, "Limits that hold") and split charges (SPEC section 5).
--
-- A hold sets credits aside for one in-flight gateway request, on named sources: an allowance
-- (delegation_id, paid by its granter, payer_id) or the member's own credits (delegation_id 0,
-- payer_id = the member). Holds never outlive the process that made them: the server drops every
-- hold when it starts (the data folder is locked to one server), and a sweeper drops expired ones.
CREATE TABLE holds (
  id         INTEGER PRIMARY KEY,
  user_id    INTEGER NOT NULL REFERENCES users(id),  -- whose request it is
  credits    INTEGER NOT NULL CHECK (credits >= 0),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;

CREATE TABLE hold_parts (
  hold_id       INTEGER NOT NULL REFERENCES holds(id) ON DELETE CASCADE,
  payer_id      INTEGER NOT NULL,   -- whose credits are set aside
  delegation_id INTEGER NOT NULL,   -- 0: the member's own credits
  credits       INTEGER NOT NULL CHECK (credits > 0)
) STRICT;
CREATE INDEX hold_parts_hold ON hold_parts(hold_id);

-- A charge split over several sources keeps each source's share, so a refund gives each
-- allowance back what it paid. Only split charges have rows here; a charge with one source is
-- described by its event alone.
CREATE TABLE usage_sources (
  usage_id      INTEGER NOT NULL REFERENCES usage_events(id),
  delegation_id INTEGER NOT NULL,   -- 0: the member's own credits (and any debt)
  payer_id      INTEGER NOT NULL,
  credits       INTEGER NOT NULL
) STRICT;
CREATE INDEX usage_sources_usage ON usage_sources(usage_id);

-- What the event's own delegation paid of a split charge (NULL: all of it, or no delegation),
-- and gateway metering: cache and reasoning tokens, whether the cost was estimated or went over
-- the hold, and the prices charged (micro-USD per million tokens; per image).
ALTER TABLE usage_events ADD COLUMN delegation_credits INTEGER;
ALTER TABLE usage_events ADD COLUMN cached_input_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_events ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_events ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_events ADD COLUMN estimated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_events ADD COLUMN over_hold INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_events ADD COLUMN price_input_micro INTEGER;
ALTER TABLE usage_events ADD COLUMN price_output_micro INTEGER;
ALTER TABLE usage_events ADD COLUMN price_cached_micro INTEGER;
ALTER TABLE usage_events ADD COLUMN price_cache_write_micro INTEGER;
ALTER TABLE usage_events ADD COLUMN price_per_image_micro INTEGER;
