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


def median(values):
    values = sorted(values)
    if not values:
        return float("nan")
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def mark(ok):
    return "met" if ok else "**missed**"


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    machine = next(r for r in rows if r["kind"] == "machine")
    argon2s = [r for r in rows if r["kind"] == "argon2"]
    argon2 = argon2s[0]

    def bracket(conns, rnd):
        """The argon2id rate for the login row at `conns` in round `rnd`: the
        mean of the measurements taken just before and just after it."""
        rates = [
            r["rate"] for r in argon2s if r.get("login_conns") == conns and r.get("round") == rnd
        ]
        return sum(rates) / len(rates) if rates else float("nan")
    wrk = [r for r in rows if r["kind"] == "wrk"]
    main_rss = next((r for r in rows if r["kind"] == "main_rss"), None)

    def find(scenario, conns, **kw):
        for r in wrk:
            if r["scenario"] == scenario and r["conns"] == conns and all(
                r.get(k) == v for k, v in kw.items()
            ):
                return r
        return None

    def runs(scenario, conns):
        return [r for r in wrk if r["scenario"] == scenario and r["conns"] == conns]

    def ratios(scenario, conns):
        """Each round's req/s over the same round's baseline."""
        out = []
        for r in runs(scenario, conns):
            base = find("baseline", conns, round=r.get("round"))
            if base:
                out.append(rps(r) / rps(base))
        return out

    def login_ratios(conns):
        return [rps(r) / bracket(conns, r.get("round")) for r in runs("login", conns)]

    def spread(values):
        if len(values) < 2:
            return ""
        return f"{min(values):.2f}-{max(values):.2f}"

    conns_list = sorted({r["conns"] for r in wrk if r["scenario"] == "baseline"})
    http_rounds = len(runs("baseline", conns_list[0])) if conns_list else 0
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
    w(
        f"{http_rounds} rounds at each connection count, each round every row one after "
        "another; req/s, p50 and p99 are the medians over the rounds, failures their sum, "
        "and × baseline the median of each round's ratio to the same round's baseline "
        "(its range over the rounds beside it)."
    )
    w("")
    w("| scenario | conns | req/s | p50 ms | p99 ms | failures | × baseline | range | other load |")
    w("|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for conns in conns_list:
        for key, label in SCENARIOS:
            rs = runs(key, conns)
            if not rs:
                continue
            # Logins are compared with the argon2id rate (below), not the baseline.
            rr = [] if key == "login" else ratios(key, conns)
            ratio = f"{median(rr):.2f}" if rr else ""
            w(
                f"| {label} | {conns} | {median([rps(r) for r in rs]):,.0f} "
                f"| {ms(median([r['p50_us'] for r in rs]))} | {ms(median([r['p99_us'] for r in rs]))} "
                f"| {sum(failures(r) for r in rs)} | {ratio} | {spread(rr)} "
                f"| {max(other(r) for r in rs):.2f} |"
            )
    w("")
    w(
        "failures: socket errors and timeouts, plus answers other than the expected "
        "one (any status >= 400, except in the refused row, where anything below 400). "
        "other load: CPU (in cores, of the machine's "
        f"{machine['cores']}) that processes other than the server and wrk used during the run "
        "(the highest of the rounds); "
        "anything well above 0 means the figure was taken on a busy machine."
    )
    if main_rss:
        w(
            f"Server resident memory after this matrix: {main_rss['rss_kb'] / 1024:.1f} MiB "
            f"(peak {main_rss['hwm_kb'] / 1024:.1f} MiB)."
        )
    gave = {r["when"]: r for r in rows if r["kind"] == "gave_way"}
    if "matrix" in gave:
        def told(r):
            return f"{r['gave_way']} gave way, {r['forced']} of them then ran anyway"
        w(
            "Hashing jobs that gave way to a busy runtime (`tessera_password_hash_gave_way_total`, "
            f"`..._forced_total`) after this matrix: {told(gave['matrix'])} "
            "(few expected: the login rows run alone)"
            + (f"; after the login storm rounds: {told(gave['storm'])}." if "storm" in gave else ".")
        )
    w("")

    w("### Password login against the all-cores argon2id rate")
    w("")
    w(
        f"argon2id ({argon2['params']}) verified on {argon2['threads']} threads at once "
        "(`cargo bench -p tessera-core --bench argon2_parallel`, `verify_now` as the server "
        "calls it, the server idle), measured just before and just after each login row; "
        "the row is compared with the mean of the two. The machine's speed drifts "
        "(another tenant's load), so a rate measured minutes away from the row it is "
        "compared with can be off by 10-20% either way."
    )
    w("")
    for r in argon2s:
        w(
            f"- {r['when']}: {r['rate']:.1f}/s, {r['mean_ms']:.1f} ms per verification per thread, "
            f"other load {other(r):.2f} cores"
        )
    w("")
    w(
        "| conns | round | logins/s | argon2id rate around it | × argon2id rate | p50 ms | p99 ms "
        "| server cores | hashing ms / login | other server ms / login | other load |"
    )
    w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    outside = []
    for conns in conns_list:
        for r in runs("login", conns):
            rate = bracket(conns, r.get("round"))
            cpu, n = r["cpu"], max(r["requests"], 1)
            hashing = cpu.get("hash_s")
            rest = None if hashing is None else (cpu["server_s"] - hashing) / n * 1000
            if rest is not None and conns > 1:
                outside.append(rest)
            w(
                f"| {conns} | {r.get('round')} | {rps(r):.1f} | {rate:.1f} | {rps(r) / rate:.2f} "
                f"| {ms(r['p50_us'])} | {ms(r['p99_us'])} "
                f"| {cpu['server_s'] / cpu['wall_s']:.2f} "
                f"| {'' if hashing is None else f'{hashing / n * 1000:.1f}'} "
                f"| {'' if rest is None else f'{rest:.2f}'} | {other(r):.2f} |"
            )
    w("")
    w(
        "Median × argon2id rate: "
        + "; ".join(
            f"{conns} connections {median(login_ratios(conns)):.2f}" for conns in conns_list
        )
        + "."
    )
    if outside:
        w(
            "CPU the server spent per login outside its hashing threads (HTTP, the store, "
            f"hand-offs), at 16 connections and more: median {median(outside):.2f} ms "
            "(server CPU from /proc, divided by the logins wrk counted; the 10 ms clock tick "
            "makes each row's figure good to about ±0.05 ms)."
        )
    w("")

    rounds = sorted({r["round"] for r in wrk if r["scenario"] == "storm_off"})
    storm_ratios, spin_ratios, storm_failures = [], [], 0
    if rounds:
        w("### Login storm")
        w("")
        storm = next((r for r in wrk if r["scenario"] == "storm_login"), None)
        w(
            f"Token-authenticated `GET /api/example/` at 16 connections: alone; while "
            f"{storm['conns'] if storm else '?'} connections post `/api-token-auth/` "
            "(the hashing pool full, a queue behind it); and, as this machine's reference, "
            "while one busy loop per core runs at the hashing threads' priority "
            "(`chrt -i 0`, SCHED_IDLE), which shows what any background CPU work, "
            f"hashing or not, does to the p99 here. {len(rounds)} rounds, one after "
            "another; the target is read on the median of the rounds' ratios."
        )
        w("")
        w(
            "| round | run | token req/s | p50 ms | p99 ms | p99 ÷ alone | failures "
            "| logins/s | login failures | other load |"
        )
        w("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n in rounds:
            off = find("storm_off", 16, round=n)
            on = find("storm_on", 16, round=n)
            spin = find("spin_on", 16, round=n)
            logins = find("storm_login", storm["conns"] if storm else 32, round=n)
            w(
                f"| {n} | alone | {rps(off):,.0f} | {ms(off['p50_us'])} | {ms(off['p99_us'])} "
                f"| 1.00 | {failures(off)} | | | {other(off):.2f} |"
            )
            if on:
                ratio = on["p99_us"] / off["p99_us"]
                storm_ratios.append(ratio)
                storm_failures += failures(on)
                w(
                    f"| {n} | login storm | {rps(on):,.0f} | {ms(on['p50_us'])} | {ms(on['p99_us'])} "
                    f"| {ratio:.2f} | {failures(on)} "
                    f"| {rps(logins) if logins else float('nan'):.1f} "
                    f"| {failures(logins) if logins else '?'} | {other(on):.2f} |"
                )
            if spin:
                ratio = spin["p99_us"] / off["p99_us"]
                spin_ratios.append(ratio)
                w(
                    f"| {n} | idle-priority busy loops | {rps(spin):,.0f} | {ms(spin['p50_us'])} "
                    f"| {ms(spin['p99_us'])} | {ratio:.2f} | {failures(spin)} | | "
                    f"| {other(spin):.2f} |"
                )
        w("")
        w(
            f"Median p99 ratio, login storm / alone: **{median(storm_ratios):.2f}×**; "
            f"idle-priority busy loops / alone: {median(spin_ratios):.2f}× "
            "(other load in those rows is the busy loops themselves)."
        )
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
        scale_runs = [r for r in wrk if r["scenario"].startswith("scale_")]
        w("")
        w(
            f"Failures across the scale runs: {sum(failures(r) for r in scale_runs)}; other load at most "
            f"{max(other(r) for r in scale_runs):.2f} cores."
        )
        w("")

    w("### Targets")
    w("")
    w("Each read on the median over the rounds (range in brackets).")
    w("")
    for conns in (16, 64):
        for key in ("token", "session"):
            rr = ratios(key, conns)
            if rr:
                ratio = median(rr)
                w(
                    f"- {key} ≥ 0.8 × baseline at {conns} connections: {ratio:.2f} "
                    f"({spread(rr) or 'one round'}), {mark(ratio >= 0.8)}"
                )
    for conns in (16, 64):
        rr = login_ratios(conns)
        if rr:
            ratio = median(rr)
            w(
                f"- login ≥ 0.9 × all-cores argon2id rate at {conns} connections: {ratio:.2f} "
                f"({spread(rr) or 'one round'}), {mark(ratio >= 0.9)}"
            )
    if storm_ratios:
        ratio = median(storm_ratios)
        w(
            f"- login storm, token p99 within 2× of no storm: {ratio:.2f}× "
            f"({spread(storm_ratios) or 'one round'}), {mark(ratio <= 2)}"
        )
        w(f"- login storm, no failed token request: {storm_failures} failed, {mark(storm_failures == 0)}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
