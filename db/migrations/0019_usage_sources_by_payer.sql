-- The granted log of a granter whose allowance paid a later share of a split charge (the event
-- names only its first allowance) finds those charges by the share's payer.
CREATE INDEX IF NOT EXISTS usage_sources_payer ON usage_sources(payer_id, usage_id) WHERE delegation_id != 0;
