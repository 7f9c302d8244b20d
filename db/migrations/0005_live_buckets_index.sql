-- Every charge loads the payer's buckets that still hold credits; most buckets of a long-lived
-- member are spent or expired months ago.
CREATE INDEX IF NOT EXISTS buckets_live ON buckets(user_id) WHERE remaining > 0;
