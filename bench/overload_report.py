#!/usr/bin/env python3
"""Turns `bench/run overload`'s results (JSON lines) into a Markdown report."""

import json
import sys

MAX_QUEUE_WAIT_MS = 5000  # password.max_queue_wait's default


def rps(r):
    return r["requests"] / r["duration_us"] * 1e6


def ms(value):
    return "" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def errors(r):
    return r["connect"] + r["read"] + r["write"] + r["timeout"] + r["status"]


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    machine = next(r for r in rows if r["kind"] == "machine")
    argon2s = [r for r in rows if r["kind"] == "argon2"]
    runs = [r for r in rows if r["kind"] == "overload"]
    out = []
    w = out.append
    w("## Overload")
    w("")
    w(
        f"{machine['date']}, commit {machine['commit']}{' (dirty)' if machine['dirty'] else ''}; "
        f"{machine['cores']} cores ({machine['cpu']}), load average at start "
        f"{' '.join(machine['loadavg'])}; {machine['wrk']}."
    )
    w("")
    w(
        "Token-authenticated `GET /api/example/` at 16 connections (wrk, 2 threads) and "
        "anonymous `GET /api/public/` at 8 (wrk, 1 thread), with password logins "
        "(`POST /api-token-auth/`, 1,000 users in turn) offered at a fixed rate by "
        "`bench/logins.py` (each on its own connection, waiting up to 30 s; in the "
        "impatient runs, 1 s); quiet: the same GETs without logins, before and after."
    )
    w("")
    for a in argon2s:
        w(
            f"- argon2id, every core, {a['when']}: {a['rate']:.1f}/s "
            f"({a['mean_ms']:.1f} ms per verification per thread), other load "
            f"{a['cpu']['other_s'] / a['cpu']['wall_s']:.2f} cores"
        )
    rate = sum(a["rate"] for a in argon2s) / len(argon2s) if argon2s else float("nan")
    hash_ms = (
        sum(a["mean_ms"] for a in argon2s) / len(argon2s) if argon2s else float("nan")
    )
    w("")
    w(
        "| run | offered /s | 200 /s | 200 | 503 | no answer | other | 200 p50 ms | "
        "200 p99 ms | slowest answer ms | token req/s | token p99 ms | × quiet | anon p99 ms | "
        "hashing cores | other load |"
    )
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    quiet = [r for r in runs if r["rate"] == 0 and r["token"]]
    quiet_p99 = (
        min(r["token"]["p99_us"] for r in quiet) / 1000 if quiet else float("nan")
    )
    # The quiet reference: the lower of the quiet runs' p99 (before and
    # after), the stricter reading on a machine whose speed drifts.
    first_quiet = quiet_p99
    targets = []
    for r in runs:
        t, a, l, c = r["token"], r["anon"], r["logins"], r["cpu"]
        token_p99 = t["p99_us"] / 1000
        cells = [r["label"], f"{r['rate']:.0f}"]
        if l:
            st = l["statuses"]
            other = sum(v for k, v in st.items() if k not in ("200", "503", "timeout"))
            cells += [
                f"{l['ok_per_s']:.1f}",
                str(st.get("200", 0)),
                str(st.get("503", 0)),
                str(st.get("timeout", 0)),
                str(other),
                ms(l["ok_p50_ms"]),
                ms(l["ok_p99_ms"]),
                ms(l["answered_max_ms"]),
            ]
        else:
            cells += [""] * 8
        hash_cores = c["hash_s"] / c["wall_s"] if c else float("nan")
        cells += [
            f"{rps(t):,.0f}",
            f"{token_p99:.2f}",
            f"{token_p99 / first_quiet:.2f}",
            f"{a['p99_us'] / 1000:.2f}",
            f"{hash_cores:.2f}",
            f"{c['other_s'] / c['wall_s']:.2f}" if c else "",
        ]
        w("| " + " | ".join(cells) + " |")
        if l and r["label"].startswith("impatient"):
            dropped = r["hash_after"].get("dropped_total", 0) - r["hash_before"].get(
                "dropped_total", 0
            )
            targets.append(
                f"- {r['label']}: clients giving up after {l['timeout_s']:.0f} s: "
                f"{l['statuses'].get('timeout', 0)} gave up, {dropped:.0f} jobs dropped "
                f"unhashed, {l['statuses'].get('200', 0)} logged in"
            )
        elif l:
            floor = min(r["rate"], 0.25 * rate)
            bound = MAX_QUEUE_WAIT_MS + hash_ms
            late = l["answered_max_ms"] is not None and l["answered_max_ms"] > bound
            server_503 = r.get("server_slowest_503_ms")
            targets.append(
                f"- {r['label']}: successful logins {l['ok_per_s']:.1f}/s ≥ min(offered "
                f"{r['rate']:.0f}/s, 0.25 × argon2id {rate:.1f}/s = {0.25 * rate:.1f}/s) = "
                f"{floor:.1f}/s: {'met' if l['ok_per_s'] >= floor * 0.97 else '**missed**'}"
                f" ({l['ok_per_s'] / rate:.2f} × the argon2id rate); slowest answer "
                f"{ms(l['answered_max_ms'])} ms ≤ max_queue_wait + one hash "
                f"({bound:,.0f} ms): {'**missed**' if late else 'met'}"
                + (
                    f" (the slowest 503 as the server logged it: {server_503:,.0f} ms)"
                    if server_503
                    else ""
                )
                + f", {l['statuses'].get('timeout', 0)} without an answer; token p99 "
                f"{token_p99:.2f} ms ≤ 2 × quiet ({first_quiet:.2f} ms): "
                f"{'met' if token_p99 <= 2 * first_quiet else '**missed**'} "
                f"({token_p99 / first_quiet:.2f}×)"
            )
    w("")
    w(
        "no answer: none within the client's patience (30 s; 1 s in the impatient runs). "
        "200 /s: successful logins over the run. slowest answer: the longest any login "
        "waited for an answer of any status, as the client measured it. × quiet: token "
        "p99 against the lower of the quiet runs'. hashing cores: CPU of the server's hashing threads (both lanes) per "
        "second. other load: CPU of processes other than the server and the token wrk "
        "(the anonymous wrk and the login generator included)."
    )
    w("")
    w("Hashing pool counters over each run (from `/metrics`):")
    w("")
    keys = [
        "gave_way_total",
        "forced_total",
        "share_total",
        "dropped_total",
        "timed_out_total",
        "refused_total",
    ]
    w("| run | " + " | ".join(k[: -len("_total")] for k in keys) + " |")
    w("|---|" + "---:|" * len(keys))
    for r in runs:
        b, e = r["hash_before"], r["hash_after"]
        w(
            f"| {r['label']} | "
            + " | ".join(str(int(e.get(k, 0) - b.get(k, 0))) for k in keys)
            + " |"
        )
    w("")
    w("### Targets")
    w("")
    out.extend(targets)
    if quiet:
        figures = ", ".join(f"{q['token']['p99_us'] / 1000:.2f}" for q in quiet)
        w(f"- quiet token p99: {figures} ms")
    print("\n".join(out))


if __name__ == "__main__":
    main()
