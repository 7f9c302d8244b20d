-- Every report updated this index on its day's rollup row. Its only reader, the all-members
-- aggregate, now walks the primary key member by member instead (db.Aggregate).
DROP INDEX IF EXISTS usage_daily_day;
