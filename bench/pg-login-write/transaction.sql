-- A token login's write as the store's transaction sends it: five round trips.
\set uid random(1, 1000)
\set t random(1700000000000000, 1800000000000000)
BEGIN;
UPDATE tessera_users SET last_login = :t WHERE id = :uid;
INSERT INTO tessera_tokens (user_id, digest, name, scopes, created, expires, authenticated_at) SELECT :uid, sha256(convert_to(random()::text || :t, 'UTF8')), 'login', '[]', :t, NULL, :t WHERE (SELECT count(*) FROM (SELECT 1 FROM tessera_tokens WHERE user_id = :uid AND (expires IS NULL OR expires > :t) AND (grace_until IS NULL OR grace_until > :t) LIMIT 9223372036854775807) AS live) < 9223372036854775807 RETURNING id;
INSERT INTO tessera_audit (time, event, user_id, username, ip, user_agent, request_id, detail) VALUES (:t, 'login', :uid, 'user', '127.0.0.1', 'wrk/4.1', 'abcdefabcdef0123', 'null'), (:t, 'token_created', :uid, 'user', '127.0.0.1', 'wrk/4.1', 'abcdefabcdef0123', '{"token_id":1}');
COMMIT;
