-- The granted-usage log: events billed to a granter's delegations are exactly the delegated
-- events the granter paid for, so one ordered range serves the log instead of merging one
-- range per delegation and sorting them all.
CREATE INDEX IF NOT EXISTS usage_payer_delegated ON usage_events(payer_id, at, id) WHERE delegation_id IS NOT NULL;
DROP INDEX IF EXISTS usage_delegation_at;
