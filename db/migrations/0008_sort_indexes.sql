-- The usage and granted-usage logs sort by credits or tokens as well as by time. Without an
-- index in that order, a first page sorted by credits read and sorted every event of the
-- member (2.4 s for 1.4 million); with one, a page is a walk of one index range, and a cursor
-- continues it. The model and app ride along after the key, so a page filtered by them checks
-- each entry without reading its row: a cheap model sorted by credits sits at the far end of
-- the walk (1M events: 439 ms with a row read per entry, 10.5 ms without). Each report pays one
-- more index leaf per order (the granted ones only for delegated reports).
CREATE INDEX IF NOT EXISTS usage_user_credits ON usage_events(user_id, credits, id, model, app_id);
CREATE INDEX IF NOT EXISTS usage_user_tokens ON usage_events(user_id, total_tokens, id, model, app_id);
CREATE INDEX IF NOT EXISTS usage_payer_credits ON usage_events(payer_id, credits, id, model, app_id) WHERE delegation_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS usage_payer_tokens ON usage_events(payer_id, total_tokens, id, model, app_id) WHERE delegation_id IS NOT NULL;
