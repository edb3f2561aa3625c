#!/usr/bin/env python3
"""Bulk-fills a migrated (and closed) Tessera store, SQLite or PostgreSQL
(through `psql`'s COPY), for bench/run's scale runs: users, tokens and sessions written straight into the tables of
crates/tessera-store-sql/migrations/sqlite, as the server would have stored
them (SHA-256 digests of keys and session ids, times in microseconds since the
epoch), and writes a sample of the usable header values to files.

Keys have the server's form (crates/tessera-core/src/token.rs): "tsr_", 43
characters of a-zA-Z0-9, then CRC32 of those 43 characters in base62
(0-9A-Za-z), six characters, zero-padded.

    populate.py DB --users N --tokens N --sessions N --sample N \
        --token-headers FILE --session-cookies FILE

DB is a SQLite file, or a `postgres://` URL. Keys were last used an hour
ago, so the server records their use (its coalesced last-used writes, once a
minute a key at most) as a deployment does.
"""

import argparse
import hashlib
import random
import sqlite3
import subprocess
import sys
import time
import zlib

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def checksum(random_part: str) -> str:
    n = zlib.crc32(random_part.encode())
    out = []
    for _ in range(6):
        out.append(BASE62[n % 62])
        n //= 62
    return "".join(reversed(out))


def token_key(rng: random.Random) -> str:
    body = "".join(rng.choices(ALNUM, k=43))
    return "tsr_" + body + checksum(body)


def session_id(rng: random.Random) -> str:
    return "".join(rng.choices(ALNUM, k=43))


class Postgres:
    """The little of sqlite3's interface populate needs, through `psql`."""

    def __init__(self, url):
        self.url = url

    def execute(self, sql):
        out = subprocess.run(
            ["psql", self.url, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        row = tuple(int(v) if v.lstrip("-").isdigit() else v for v in out.split("|")) if out else ()
        return type("Rows", (), {"fetchone": lambda self: row})()

    def copy(self, target, rows):
        """COPY rows (tuples of str/int, no commas or quotes) into `target`."""
        proc = subprocess.Popen(
            ["psql", self.url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
             f"COPY {target} FROM STDIN WITH (FORMAT csv)"],
            stdin=subprocess.PIPE, text=True,
        )
        for row in rows:
            proc.stdin.write(",".join(str(v) for v in row) + "\n")
        proc.stdin.close()
        if proc.wait() != 0:
            raise SystemExit(f"COPY {target} failed")

    def close(self):
        pass


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("db")
    p.add_argument("--users", type=int, required=True)
    p.add_argument("--tokens", type=int, required=True)
    p.add_argument("--sessions", type=int, required=True)
    p.add_argument("--sample", type=int, default=1000)
    p.add_argument("--token-headers", required=True)
    p.add_argument("--session-cookies", required=True)
    p.add_argument("--session-cookie-name", default="sessionid")
    args = p.parse_args()

    # Not the OS CSPRNG: these are throwaway keys in a throwaway store, and a
    # seeded generator makes runs comparable.
    rng = random.Random(20240601)
    now = int(time.time() * 1_000_000)
    day = 86_400 * 1_000_000
    # Used an hour ago: the server records each key's use again (a write a
    # key, at most once a minute), as it would in a deployment.
    recent = now - 3600 * 1_000_000

    postgres = args.db.startswith(("postgres://", "postgresql://"))
    if postgres:
        db = Postgres(args.db)
    else:
        db = sqlite3.connect(args.db)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = OFF")
        db.execute("PRAGMA foreign_keys = ON")
    (base,) = db.execute("SELECT coalesce(max(id), 0) FROM tessera_users").fetchone()
    users = (
        (base + i + 1, f"bench{base + i + 1}", f"bench{base + i + 1}@example.com", now)
        for i in range(args.users)
    )
    if postgres:
        db.copy(
            "tessera_users (id, username, email, password_hash, is_active, is_staff,"
            " is_superuser, date_joined)",
            ((i, u, e, "!", "t", "f", "f", t) for (i, u, e, t) in users),
        )
        db.execute("SELECT setval('tessera_users_id_seq', (SELECT max(id) FROM tessera_users))")
    else:
        with db:
            db.executemany(
                "INSERT INTO tessera_users (id, username, email, password_hash, is_active,"
                " is_staff, is_superuser, date_joined) VALUES (?, ?, ?, '!', 1, 0, 0, ?)",
                users,
            )
    user_ids = range(base + 1, base + args.users + 1)

    # Which rows the sample takes: random, so that the looked-up rows (and
    # their users) are spread over the tables, not packed in the first pages.
    token_picks = set(rng.sample(range(args.tokens), min(args.sample, args.tokens)))
    session_picks = set(rng.sample(range(args.sessions), min(args.sample, args.sessions)))

    def tokens():
        for i in range(args.tokens):
            key = token_key(rng)
            if i in token_picks:
                token_sample.append(key)
            yield (
                user_ids[i % len(user_ids)],
                hashlib.sha256(key.encode()).digest(),
                f"bench {i}",
                now,
                now + 90 * day,
                recent,
            )

    def sessions():
        for i in range(args.sessions):
            sid = session_id(rng)
            if i in session_picks:
                session_sample.append(sid)
            yield (
                user_ids[i % len(user_ids)],
                hashlib.sha256(sid.encode()).digest(),
                now,
                recent,
                now + 14 * day,
                now,
            )

    token_sample: list = []
    session_sample: list = []
    if postgres:
        hexed = lambda rows, at: (r[:at] + ("\\x" + r[at].hex(),) + r[at + 1 :] for r in rows)
        db.copy(
            "tessera_tokens (user_id, digest, name, created, expires, last_used)",
            hexed(tokens(), 1),
        )
        db.copy(
            "tessera_sessions (user_id, digest, data, created, last_seen, expires,"
            " authenticated_at)",
            ((u, "\\x" + d.hex(), "{}", c, l, e, a) for (u, d, c, l, e, a) in sessions()),
        )
        db.execute("ANALYZE")
    else:
        with db:
            db.executemany(
                "INSERT INTO tessera_tokens (user_id, digest, name, scopes, created, expires,"
                " last_used) VALUES (?, ?, ?, '[]', ?, ?, ?)",
                tokens(),
            )
            db.executemany(
                "INSERT INTO tessera_sessions (user_id, digest, data, created, last_seen,"
                " expires, authenticated_at) VALUES (?, ?, '{}', ?, ?, ?, ?)",
                sessions(),
            )
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("ANALYZE")
    counts = [
        db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("tessera_users", "tessera_tokens", "tessera_sessions")
    ]
    db.close()

    # And used in no particular order.
    rng.shuffle(token_sample)
    rng.shuffle(session_sample)
    with open(args.token_headers, "w") as f:
        f.writelines(f"Token {k}\n" for k in token_sample)
    with open(args.session_cookies, "w") as f:
        f.writelines(f"{args.session_cookie_name}={s}\n" for s in session_sample)
    print(f"users={counts[0]} tokens={counts[1]} sessions={counts[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
