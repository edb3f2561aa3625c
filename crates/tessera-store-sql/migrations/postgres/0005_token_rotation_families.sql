-- Rotation families (see tessera_core::token): a rotated token names the first
-- token of its family (NULL: the token is the first of its own family), and a
-- rotated-out token keeps its row with the end of its grace period, so that
-- presenting it afterwards is recognised as reuse.
ALTER TABLE tessera_tokens ADD COLUMN family BIGINT;
ALTER TABLE tessera_tokens ADD COLUMN grace_until BIGINT;

-- Revoking a family, and purging rotated-out rows, find its members here.
CREATE INDEX tessera_tokens_family ON tessera_tokens (family) WHERE family IS NOT NULL;

-- The cap counts live tokens (unexpired, not rotated out past their grace),
-- still from the index alone.
DROP INDEX tessera_tokens_user_expires;
CREATE INDEX tessera_tokens_user_expires ON tessera_tokens (user_id, expires, grace_until);
