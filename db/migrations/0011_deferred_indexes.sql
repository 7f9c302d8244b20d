-- A bulk load (tokenjar demo --events) drops the sort indexes and builds them once at its end
-- (db.BulkLoad). Their definitions wait here meanwhile, so one it never finished is built by
-- the next start.
CREATE TABLE deferred_indexes (
  name TEXT PRIMARY KEY,
  sql  TEXT NOT NULL
) STRICT;
