-- The same write as one call of setup.sql's function: one round trip.
\set uid random(1, 1000)
\set t random(1700000000000000, 1800000000000000)
SELECT exp_login(:uid, :t, sha256(convert_to(random()::text || :t, 'UTF8')), 'login', '[]', NULL, 9223372036854775807, '127.0.0.1', 'wrk/4.1', 'abcdefabcdef0123', 'user');
