#!/usr/bin/env bash
# bench/profile/callgrind.sh: instruction counts per request, repeatable on a
# loaded machine (wall-clock figures are not). Starts the release `tessera`
# (or BENCH_BIN) under `valgrind --tool=callgrind` on a fresh SQLite store,
# sends N requests per scenario over one keep-alive connection
# (bench/profile/client.py), and dumps one profile per scenario
# (callgrind_control -z before, -d after). Prints each scenario's
# instructions per request; the profiles stay in OUT (default
# bench/out/callgrind) for callgrind_annotate.
#
#   bench/profile/callgrind.sh [N]      # default 2000 requests a scenario
#
# Environment: RUST_LOG (default: unset, the server's default `info`),
# BENCH_BIN, BENCH_BARE_BIN, OUT.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
N=${1:-2000}
BIN=${BENCH_BIN:-$ROOT/target/release/tessera}
BARE=${BENCH_BARE_BIN:-$ROOT/target/release/bench-bare}
OUT=${OUT:-$ROOT/bench/out/callgrind}
PASSWORD='Bench-pass-8c1f9e2a7d'
mkdir -p "$OUT"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tessera-callgrind.XXXXXX")
PID=
cleanup() {
    [ -n "$PID" ] && { kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
    rm -rf "$TMP"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ready() { # ready URL
    for _ in $(seq 1 600); do
        curl -fs -o /dev/null "$1" && return 0
        kill -0 "$PID" 2>/dev/null || { cat "$TMP/server.log" >&2; exit 1; }
        sleep 0.2
    done
    echo "not ready: $1" >&2; exit 1
}
export TESSERA_DATABASE__URL="sqlite://$TMP/db.sqlite"
export TESSERA_LOGIN_PROTECTION__MAX_FAILURES=100000000 TESSERA_LOGIN_PROTECTION__MAX_FAILURES_PER_ADDRESS=100000000
# Credentials, made by the server run normally (argon2id under valgrind is slow).
P=$(port)
"$BIN" serve --bind "127.0.0.1:$P" >>"$TMP/server.log" 2>&1 &
PID=$!
ready "http://127.0.0.1:$P/readyz"
TESSERA_SUPERUSER_PASSWORD=$PASSWORD RUST_LOG=warn "$BIN" createsuperuser --no-input --username bench >&2
BODY="{\"username\": \"bench\", \"password\": \"$PASSWORD\"}"
TOKEN=$(curl -fs -X POST "http://127.0.0.1:$P/api-token-auth/" -H 'Content-Type: application/json' -d "$BODY" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
JAR=$TMP/jar
CSRF=$(curl -fs -c "$JAR" -b "$JAR" "http://127.0.0.1:$P/auth/csrf" | python3 -c 'import json, sys; print(json.load(sys.stdin)["csrfToken"])')
curl -fs -c "$JAR" -b "$JAR" -X POST "http://127.0.0.1:$P/auth/login" -H "X-CSRFToken: $CSRF" \
    -H 'Content-Type: application/json' -d "$BODY" >/dev/null
SESSION=$(awk '$6 == "sessionid" {print $7}' "$JAR")
kill -TERM "$PID"; wait "$PID" || true; PID=

run() { # run NAME BINARY ARGS... : start under callgrind, then the scenarios in SCENARIOS
    local name=$1; shift
    P=$(port)
    rm -f "$OUT/$name".*
    valgrind --tool=callgrind --callgrind-out-file="$OUT/$name.%p" --dump-instr=no \
        "$@" --bind "127.0.0.1:$P" >>"$TMP/server.log" 2>&1 &
    PID=$!
    ready "http://127.0.0.1:$P/api/public/"
    local spec label path header
    for spec in "${SCENARIOS[@]}"; do
        IFS='|' read -r label path header <<<"$spec"
        python3 "$ROOT/bench/profile/client.py" "http://127.0.0.1:$P$path" 200 "$header" >/dev/null # warm
        callgrind_control -z "$PID" >/dev/null 2>&1
        python3 "$ROOT/bench/profile/client.py" "http://127.0.0.1:$P$path" "$N" "$header" 2>/dev/null
        callgrind_control -d "$label" "$PID" >/dev/null 2>&1
        local file
        file=$(ls -t "$OUT/$name".*.* 2>/dev/null | head -1)
        local ir
        ir=$(callgrind_annotate "$file" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
        mv "$file" "$OUT/$name-$label.out"
        printf '%-10s %-10s %9.0f instructions/request\n' "$name" "$label" "$(echo "$ir / $N" | bc -l)"
    done
    kill -TERM "$PID"; wait "$PID" || true; PID=
}
SCENARIOS=("public|/api/public/|")
run bare "$BARE"
SCENARIOS=("public|/api/public/|" "token|/api/example/|Authorization: Token $TOKEN"
    "session|/api/example/|Cookie: sessionid=$SESSION" "refused|/api/example/|")
run tessera "$BIN" serve
