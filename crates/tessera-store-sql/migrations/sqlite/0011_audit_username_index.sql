-- The admin pages filter the audit log by username (actual or attempted),
-- newest first: read through this index rather than the whole log.
CREATE INDEX tessera_audit_username_time ON tessera_audit (username, time, id);
