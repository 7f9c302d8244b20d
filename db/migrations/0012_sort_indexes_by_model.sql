-- The sort orders (by credits, by tokens) now put the model before the sort value. With the
-- model after it, a page of one cheap model sorted by credits walked past every dearer event
-- of the member first: at 10M events, a member's embedding model took 114 ms for its first
-- page. With the model first, a model filter is one index range, and a page with no model
-- filter is a merge of the member's per-model ranges (db.UsageFilter.selectFrom), which
-- SQLite streams in order without sorting. Reports still pay one leaf per order.
DROP INDEX IF EXISTS usage_user_credits;
DROP INDEX IF EXISTS usage_user_tokens;
DROP INDEX IF EXISTS usage_payer_credits;
DROP INDEX IF EXISTS usage_payer_tokens;
-- A bulk load cut short must not build the old orders again.
DELETE FROM deferred_indexes WHERE name IN ('usage_user_credits', 'usage_user_tokens', 'usage_payer_credits', 'usage_payer_tokens');
CREATE INDEX usage_user_model_credits ON usage_events(user_id, model, credits, id, app_id);
CREATE INDEX usage_user_model_tokens ON usage_events(user_id, model, total_tokens, id, app_id);
CREATE INDEX usage_payer_model_credits ON usage_events(payer_id, model, credits, id, app_id, user_id) WHERE delegation_id IS NOT NULL;
CREATE INDEX usage_payer_model_tokens ON usage_events(payer_id, model, total_tokens, id, app_id, user_id) WHERE delegation_id IS NOT NULL;
