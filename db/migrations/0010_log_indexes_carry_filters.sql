-- The time-ordered logs walk (user_id, at, id) and, for a granter, (payer_id, at, id). A filtered
-- page read each event's row just to test the filter, so a sparse filter cost a row read per
-- event walked past (a granter's log with a model filter: 22.6 ms on the 100k copy). With the
-- model, the app, the source (delegation_id) and, for a granter, the grantee after the key, those
-- filters are tested in the index and only the page's own rows are read. Reports still touch one
-- leaf of each.
DROP INDEX IF EXISTS usage_user_at;
CREATE INDEX usage_user_at ON usage_events(user_id, at, id, model, app_id, delegation_id);
DROP INDEX IF EXISTS usage_payer_delegated;
CREATE INDEX usage_payer_delegated ON usage_events(payer_id, at, id, model, app_id, user_id) WHERE delegation_id IS NOT NULL;
