-- Anonymous noise (throttled, CSRF failures, permission denials and failed
-- token checks without a user) is counted into one row per (kind, client
-- address, route, window) instead of one row per event.
--
-- `aggregate_key` is the hex SHA-256 of that tuple (NULL for every other
-- event); it is unique, so that concurrent writers adding to one key make one
-- row (an upsert). `aggregate_count` is the row's count, listed in `detail` as
-- "count" (NULL for every other event).
ALTER TABLE tessera_audit ADD COLUMN aggregate_key TEXT;
ALTER TABLE tessera_audit ADD COLUMN aggregate_count INTEGER;
CREATE UNIQUE INDEX tessera_audit_aggregate_key ON tessera_audit (aggregate_key)
    WHERE aggregate_key IS NOT NULL;
-- Retention deletes by time alone: tessera_audit_time (time, id) serves it.
