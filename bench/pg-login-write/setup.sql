-- bench/pg-login-write: 1,000 users, and the login's write as one PL/pgSQL
-- function (the experiment of bench/RESULTS.md, not used by the server): the
-- same statements as transaction.sql, in the same order.
INSERT INTO tessera_users (username, password_hash, date_joined) SELECT 'user' || g, 'x', 0 FROM generate_series(1, 1000) g;
CREATE FUNCTION exp_login(uid bigint, t bigint, dig bytea, nm text, sc text, exp bigint, cap bigint,
  ip text, ua text, rid text, uname text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE tid bigint;
BEGIN
  UPDATE tessera_users SET last_login = t WHERE id = uid;
  IF NOT FOUND THEN RETURN NULL; END IF;
  INSERT INTO tessera_tokens (user_id, digest, name, scopes, created, expires, authenticated_at)
    SELECT uid, dig, nm, sc, t, exp, t
    WHERE (SELECT count(*) FROM (SELECT 1 FROM tessera_tokens WHERE user_id = uid AND (expires IS NULL OR expires > t)
           AND (grace_until IS NULL OR grace_until > t) LIMIT cap) AS live) < cap
    RETURNING id INTO tid;
  INSERT INTO tessera_audit (time, event, user_id, username, ip, user_agent, request_id, detail)
    VALUES (t, 'login', uid, uname, ip, ua, rid, 'null'),
           (t, 'token_created', uid, uname, ip, ua, rid, '{"token_id":' || tid || '}');
  RETURN tid;
END $$;
