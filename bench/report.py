#!/usr/bin/env python3
"""Turns bench/run's results (JSON lines) into the Markdown report."""

import json
import sys

SCENARIOS = [
    ("baseline", "baseline: `GET /api/public/`, anonymous"),
    ("token", "token: `GET /api/example/`"),
    ("session", "session: `GET /api/example/` (cookie)"),
    ("refused_401", "refused: `GET /api/example/`, no credentials (401)"),
    ("login", "login: `POST /api-token-auth/` (argon2id)"),
]


def rps(r):
    return r["requests"] / r["duration_us"] * 1e6


def ms(us):
    return f"{us / 1000:.2f}"


def socket_errors(r):
    return r["connect"] + r["read"] + r["write"] + r["timeout"]


def failures(r):
    """Requests that did not get the answer the scenario expects."""
    if r["scenario"] == "refused_401":
        return socket_errors(r) + max(0, r["requests"] - r["status"])
    return socket_errors(r) + r["status"]


def other(r):
    """Cores' worth of CPU that processes other than the server and wrk used."""
    c = r.get("cpu")
    return c["other_s"] / c["wall_s"] if c else float("nan")


def mark(ok):
    return "met" if ok else "**missed**"


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    machine = next(r for r in rows if r["kind"] == "machine")
    argon2s = [r for r in rows if r["kind"] == "argon2"]
    # The better of the measurements (before and after the HTTP runs): other
    # load on a shared machine only lowers it, and the higher rate makes the
    # login target the harder one.
    argon2 = max(argon2s, key=lambda r: r["rate"])
    wrk = [r for r in rows if r["kind"] == "wrk"]
    main_rss = next((r for r in rows if r["kind"] == "main_rss"), None)

    def find(scenario, conns, **kw):
        for r in wrk:
            if r["scenario"] == scenario and r["conns"] == conns and all(
                r.get(k) == v for k, v in kw.items()
            ):
                return r
        return None

    conns_list = sorted({r["conns"] for r in wrk if r["scenario"] == "baseline"})
    out = []
    w = out.append
    w("## Results")
    w("")
    w(
        f"{machine['date']}, commit {machine['commit']}{' (with uncommitted changes)' if machine['dirty'] else ''}; "
        f"{machine['cores']} cores ({machine['cpu']}), {machine['mem_gib']} GiB, Linux {machine['kernel']}; "
        f"load average at start {' '.join(machine['loadavg'])}; {machine['rustc']}; {machine['wrk']}. "
        f"Each figure: wrk for {machine['duration_s']} s on loopback (1 thread at 1 connection, 2 otherwise), "
        "the server on SQLite in a temporary directory, `RUST_LOG=warn`."
    )
    w("")
    w("### HTTP")
    w("")
    w("| scenario | conns | req/s | p50 ms | p99 ms | failures | × baseline | other load |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    for conns in conns_list:
        base = find("baseline", conns)
        for key, label in SCENARIOS:
            r = find(key, conns)
            if r is None:
                continue
            ratio = rps(r) / rps(base) if base else float("nan")
            w(
                f"| {label} | {conns} | {rps(r):,.0f} | {ms(r['p50_us'])} | {ms(r['p99_us'])} "
                f"| {failures(r)} | {ratio:.2f} | {other(r):.2f} |"
            )
    w("")
    w(
        "failures: socket errors and timeouts, plus answers other than the expected "
        "one (any status >= 400, except in the refused row, where anything below 400). "
        "other load: CPU (in cores, of the machine's "
        f"{machine['cores']}) that processes other than the server and wrk used during the run; "
        "anything well above 0 means the figure was taken on a busy machine."
    )
    if main_rss:
        w(
            f"Server resident memory after this matrix: {main_rss['rss_kb'] / 1024:.1f} MiB "
            f"(peak {main_rss['hwm_kb'] / 1024:.1f} MiB)."
        )
    w("")

    w("### Password login against the all-cores argon2id rate")
    w("")
    w(
        f"argon2id ({argon2['params']}) verified on {argon2['threads']} threads at once "
        "(`cargo bench -p tessera-core --bench argon2_parallel`, `verify_now` as the server "
        "calls it), the better of two measurements: "
        f"**{argon2['rate']:.1f} verifications/s**."
    )
    w("")
    for r in argon2s:
        w(
            f"- {r['when']}: {r['rate']:.1f}/s, {r['mean_ms']:.1f} ms per verification per thread, "
            f"other load {other(r):.2f} cores"
        )
    w("")
    w("| conns | logins/s | × argon2id rate | p50 ms | p99 ms | server cores | other load |")
    w("|---:|---:|---:|---:|---:|---:|---:|")
    for conns in conns_list:
        r = find("login", conns)
        if r:
            w(
                f"| {conns} | {rps(r):.1f} | {rps(r) / argon2['rate']:.2f} | {ms(r['p50_us'])} "
                f"| {ms(r['p99_us'])} | {r['cpu']['server_s'] / r['cpu']['wall_s']:.2f} | {other(r):.2f} |"
            )
    w("")

    off, on, storm = find("storm_off", 16), find("storm_on", 16), None
    storm = next((r for r in wrk if r["scenario"] == "storm_login"), None)
    if off and on:
        w("### Login storm")
        w("")
        w(
            f"Token-authenticated `GET /api/example/` at 16 connections, alone and while "
            f"{storm['conns'] if storm else '?'} connections post `/api-token-auth/` "
            "(the hashing pool full, a queue behind it)."
        )
        w("")
        w("| | token req/s | p50 ms | p99 ms | failures | logins/s | login failures | other load |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|")
        w(
            f"| no storm | {rps(off):,.0f} | {ms(off['p50_us'])} | {ms(off['p99_us'])} | {failures(off)} "
            f"| | | {other(off):.2f} |"
        )
        w(
            f"| storm | {rps(on):,.0f} | {ms(on['p50_us'])} | {ms(on['p99_us'])} | {failures(on)} "
            f"| {rps(storm) if storm else float('nan'):.1f} | {failures(storm) if storm else '?'} "
            f"| {other(on):.2f} |"
        )
        w("")
        w(f"p99 with the storm / without: **{on['p99_us'] / off['p99_us']:.2f}×**.")
        w("")

    scale = [r for r in rows if r["kind"] == "scale_rss"]
    if scale:
        w("### Scale")
        w("")
        w(
            "A store filled directly (bench/populate.py), then the server restarted; token "
            "and session checks rotate over a random sample of the stored keys and ids "
            "(all of them in the small store, 10,000 in the large one)."
        )
        w("")
        w(
            "| store | users | tokens | sessions | file MiB | RSS idle MiB | RSS after MiB "
            "| token c=16 req/s | p99 ms | token c=64 req/s | p99 ms | session c=16 req/s | p99 ms |"
        )
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for s in scale:
            t16 = find("scale_token", 16, store=s["store"])
            t64 = find("scale_token", 64, store=s["store"])
            s16 = find("scale_session", 16, store=s["store"])
            w(
                f"| {s['store']} | {t16['users']:,} | {t16['tokens']:,} | {t16['sessions']:,} "
                f"| {s['db_bytes'] / 1048576:.1f} | {s['idle_kb'] / 1024:.1f} | {s['rss_kb'] / 1024:.1f} "
                f"| {rps(t16):,.0f} | {ms(t16['p99_us'])} | {rps(t64):,.0f} | {ms(t64['p99_us'])} "
                f"| {rps(s16):,.0f} | {ms(s16['p99_us'])} |"
            )
        runs = [r for r in wrk if r["scenario"].startswith("scale_")]
        w("")
        w(
            f"Failures across the scale runs: {sum(failures(r) for r in runs)}; other load at most "
            f"{max(other(r) for r in runs):.2f} cores."
        )
        w("")

    w("### Targets")
    w("")
    for conns in (16, 64):
        base = find("baseline", conns)
        for key in ("token", "session"):
            r = find(key, conns)
            if base and r:
                ratio = rps(r) / rps(base)
                w(f"- {key} ≥ 0.8 × baseline at {conns} connections: {ratio:.2f}, {mark(ratio >= 0.8)}")
    for conns in (16, 64):
        r = find("login", conns)
        if r:
            ratio = rps(r) / argon2["rate"]
            w(f"- login ≥ 0.9 × all-cores argon2id rate at {conns} connections: {ratio:.2f}, {mark(ratio >= 0.9)}")
    if off and on:
        ratio = on["p99_us"] / off["p99_us"]
        w(f"- login storm, token p99 within 2× of no storm: {ratio:.2f}×, {mark(ratio <= 2)}")
        w(f"- login storm, no failed token request: {failures(on)} failed, {mark(failures(on) == 0)}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
