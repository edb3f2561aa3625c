-- Groups (Django's `auth_group`, carried over by `tessera import-django`) and
-- their members. A user's groups are read with the user, by the primary key
-- of `tessera_user_groups` (user first).

CREATE TABLE tessera_groups (
    id   BIGSERIAL PRIMARY KEY,
    name TEXT      NOT NULL UNIQUE
);

CREATE TABLE tessera_user_groups (
    user_id  BIGINT NOT NULL REFERENCES tessera_users (id) ON DELETE CASCADE,
    group_id BIGINT NOT NULL REFERENCES tessera_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);

-- A group's members (for a group deleted, and its cascade).
CREATE INDEX tessera_user_groups_group ON tessera_user_groups (group_id);
