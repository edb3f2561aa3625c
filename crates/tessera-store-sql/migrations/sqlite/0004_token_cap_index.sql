-- The cap on a user's live tokens is counted from this index alone: the owner
-- and the expiry of each token are both in it, so counting reads no table row.
-- It also serves every lookup by owner, which the index it replaces did.
CREATE INDEX tessera_tokens_user_expires ON tessera_tokens (user_id, expires);
DROP INDEX tessera_tokens_user_id;
