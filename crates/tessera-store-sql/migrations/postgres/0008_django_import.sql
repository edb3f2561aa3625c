-- `tessera import-django`: Django's name fields, and the link from each
-- imported Django user (by its id) to the Tessera user it became, so that a
-- second import updates rather than duplicates. The link keeps SHA-256 of the
-- imported password hash, to tell whether it changed in Django since, never
-- the hash itself.

ALTER TABLE tessera_users ADD COLUMN first_name TEXT NOT NULL DEFAULT '';
ALTER TABLE tessera_users ADD COLUMN last_name TEXT NOT NULL DEFAULT '';

-- An import refuses a username equal to another user's but for letter case.
CREATE INDEX tessera_users_username_lower ON tessera_users (lower(username));

CREATE TABLE tessera_django_users (
    django_id       BIGINT PRIMARY KEY,
    user_id         BIGINT NOT NULL UNIQUE REFERENCES tessera_users (id) ON DELETE CASCADE,
    password_digest BYTEA  NOT NULL CHECK (length(password_digest) = 32)
);
