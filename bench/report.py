#!/usr/bin/env python3
"""Turns bench/run's results (JSON lines) into the Markdown report."""

import json
import sys

SCENARIOS = [
    ("bare", "bare axum (bench/bare): `GET /api/public/`"),
    ("baseline", "anonymous: `GET /api/public/`"),
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


def hit_rate(rs):
    """The credential cache's hit rate over runs, as text ("" when unknown)."""
    hits = sum(r.get("cache_hits") or 0 for r in rs)
    misses = sum(r.get("cache_misses") or 0 for r in rs)
    if not any(r.get("cache_hits") is not None for r in rs):
        return "n/a"
    if hits + misses == 0:
        return "-"
    return f"{100 * hits / (hits + misses):.1f}%"


def spread(values):
    if len(values) < 2:
        return ""
    return f"{min(values):.2f}-{max(values):.2f}"


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    machine = next(r for r in rows if r["kind"] == "machine")
    database = machine.get("database", "sqlite")
    argon2s = [r for r in rows if r["kind"] == "argon2"]
    wrk = [r for r in rows if r["kind"] == "wrk"]
    levels = []
    for r in wrk:
        if r.get("log") and r["log"] not in levels:
            levels.append(r["log"])

    def bracket(conns, rnd):
        """The argon2id rate for the login row at `conns` in round `rnd`: the
        mean of the measurements taken just before and just after it."""
        rates = [
            r["rate"] for r in argon2s if r.get("login_conns") == conns and r.get("round") == rnd
        ]
        return sum(rates) / len(rates) if rates else float("nan")

    def find(scenario, conns, **kw):
        for r in wrk:
            if r["scenario"] == scenario and r["conns"] == conns and all(
                r.get(k) == v for k, v in kw.items()
            ):
                return r
        return None

    def runs(scenario, conns, **kw):
        return [
            r for r in wrk
            if r["scenario"] == scenario and r["conns"] == conns
            and all(r.get(k) == v for k, v in kw.items())
        ]

    def ratios(scenario, conns, level, base="bare"):
        """Each round's req/s over the same round's `base` row."""
        out = []
        for r in runs(scenario, conns, log=level):
            b = find(base, conns, round=r.get("round"), log=level)
            if b:
                out.append(rps(r) / rps(b))
        return out

    def login_ratios(conns):
        return [rps(r) / bracket(conns, r.get("round")) for r in runs("login", conns)]

    conns_list = sorted({r["conns"] for r in wrk if r["scenario"] == "bare"})
    http_rounds = max((r.get("round") or 0 for r in wrk if r["scenario"] == "bare"), default=0)
    out = []
    w = out.append
    w("## Results")
    w("")
    store = "SQLite in a temporary directory" if database == "sqlite" else "PostgreSQL (127.0.0.1:5432, a database made for the run)"
    w(
        f"{machine['date']}, commit {machine['commit']}{' (with uncommitted changes)' if machine['dirty'] else ''}; "
        f"{'**smoke run** (one short round: no figure here means anything); ' if machine.get('smoke') else ''}"
        f"{machine['cores']} cores ({machine['cpu']}), {machine['mem_gib']} GiB, Linux {machine['kernel']}; "
        f"load average at start {' '.join(machine['loadavg'])}; {machine['rustc']}; {machine['wrk']}. "
        f"Each figure: wrk for {machine['duration_s']} s on loopback (1 thread at 1 connection, 2 otherwise), "
        f"the server on {store}."
    )
    w("")
    if levels:  # none in a `bench/run scale` run
        w("### HTTP")
        w("")
        w(
            f"{http_rounds} rounds at each connection count and log level, each round every row one "
            "after another, bare axum (bench/bare, the same axum/tokio/hyper) first; req/s, p50 and "
            "p99 are the medians over the rounds, failures their sum, × bare the median of each "
            "round's ratio to the same round's bare-axum figure (its range over the rounds beside "
            "it); cache: the credential cache's hit rate over the rounds (from /metrics; n/a when "
            "the server exports no cache counter); RSS: the server's after the rounds; log B/req: "
            "bytes of log per request."
        )
        for level in levels:
            w("")
            label = "the server's default log level (`info`: the access log on)" if level == "default" else f"`RUST_LOG={level}`"
            w(f"#### Log level: {label}")
            w("")
            w("| scenario | conns | req/s | p50 ms | p99 ms | failures | × bare | range | cache | RSS MiB | log B/req | other load |")
            w("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|")
            for conns in conns_list:
                for key, name in SCENARIOS:
                    rs = runs(key, conns, log=level)
                    if not rs:
                        continue
                    rr = [] if key in ("login", "bare") else ratios(key, conns, level)
                    logb = [r["log_bytes"] / max(r["requests"], 1) for r in rs if r.get("log_bytes") is not None]
                    w(
                        f"| {name} | {conns} | {median([rps(r) for r in rs]):,.0f} "
                        f"| {ms(median([r['p50_us'] for r in rs]))} | {ms(median([r['p99_us'] for r in rs]))} "
                        f"| {sum(failures(r) for r in rs)} | {f'{median(rr):.2f}' if rr else ''} | {spread(rr)} "
                        f"| {'' if key == 'bare' else hit_rate(rs)} "
                        f"| {rs[-1].get('rss_kb', 0) / 1024:.0f} "
                        f"| {f'{median(logb):.0f}' if logb and key != 'bare' else ''} "
                        f"| {max(other(r) for r in rs):.2f} |"
                    )
        w("")
        w(
            "failures: socket errors and timeouts, plus answers other than the expected "
            "one (any status >= 400, except in the refused row, where anything below 400). "
            "other load: CPU (in cores, of the machine's "
            f"{machine['cores']}) that processes other than the server and wrk used during the run "
            "(the highest of the rounds); anything well above 0 means the figure was taken on a busy machine."
        )
        for r in rows:
            if r["kind"] == "main_rss":
                w(
                    f"Server resident memory after the `{r.get('log', '?')}` pass: {r['rss_kb'] / 1024:.1f} MiB "
                    f"(peak {r['hwm_kb'] / 1024:.1f} MiB)."
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

    if argon2s:
        argon2 = argon2s[0]
        w("### Password login against the all-cores argon2id rate")
        w("")
        w(
            f"argon2id ({argon2['params']}) verified on {argon2['threads']} threads at once "
            "(`cargo bench -p tessera-core --bench argon2_parallel`, `verify_now` as the server "
            "calls it, the server idle), measured just before and just after each login row; "
            "the row is compared with the mean of the two. Login rows run at the default log level."
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
        for conns in conns_list:
            for r in runs("login", conns):
                rate = bracket(conns, r.get("round"))
                cpu, n = r["cpu"], max(r["requests"], 1)
                hashing = cpu.get("hash_s")
                rest = None if hashing is None else (cpu["server_s"] - hashing) / n * 1000
                w(
                    f"| {conns} | {r.get('round')} | {rps(r):.1f} | {rate:.1f} | {rps(r) / rate:.2f} "
                    f"| {ms(r['p50_us'])} | {ms(r['p99_us'])} "
                    f"| {cpu['server_s'] / cpu['wall_s']:.2f} "
                    f"| {'' if hashing is None else f'{hashing / n * 1000:.1f}'} "
                    f"| {'' if rest is None else f'{rest:.2f}'} | {other(r):.2f} |"
                )
        w("")

    rounds = sorted({r["round"] for r in wrk if r["scenario"] == "storm_off"})
    storm_ratios, spin_ratios, storm_failures, storm_logins = [], [], 0, []
    if rounds:
        w("### Login storm")
        w("")
        storm = next((r for r in wrk if r["scenario"] == "storm_login"), None)
        w(
            f"Token-authenticated `GET /api/example/` at 16 connections: alone; while "
            f"{storm['conns'] if storm else '?'} connections post `/api-token-auth/` "
            "(the hashing pool full, a queue behind it); and, as this machine's reference, "
            "while one busy loop per core runs at the hashing threads' priority "
            "(`chrt -i 0`, SCHED_IDLE). The server at its default log level. "
            f"{len(rounds)} rounds; the target is read on the median of the rounds' ratios."
        )
        w("")
        w(
            "| round | run | token req/s | p50 ms | p99 ms | p99 ÷ alone | failures "
            "| logins/s | login p99 ms | login failures | other load |"
        )
        w("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n in rounds:
            off = find("storm_off", 16, round=n)
            on = find("storm_on", 16, round=n)
            spin = find("spin_on", 16, round=n)
            logins = find("storm_login", storm["conns"] if storm else 32, round=n)
            w(
                f"| {n} | alone | {rps(off):,.0f} | {ms(off['p50_us'])} | {ms(off['p99_us'])} "
                f"| 1.00 | {failures(off)} | | | | {other(off):.2f} |"
            )
            if on:
                ratio = on["p99_us"] / off["p99_us"]
                storm_ratios.append(ratio)
                storm_failures += failures(on)
                if logins:
                    storm_logins.append(rps(logins))
                w(
                    f"| {n} | login storm | {rps(on):,.0f} | {ms(on['p50_us'])} | {ms(on['p99_us'])} "
                    f"| {ratio:.2f} | {failures(on)} "
                    f"| {rps(logins) if logins else float('nan'):.1f} "
                    f"| {ms(logins['p99_us']) if logins else ''} "
                    f"| {failures(logins) if logins else '?'} | {other(on):.2f} |"
                )
            if spin:
                ratio = spin["p99_us"] / off["p99_us"]
                spin_ratios.append(ratio)
                w(
                    f"| {n} | idle-priority busy loops | {rps(spin):,.0f} | {ms(spin['p50_us'])} "
                    f"| {ms(spin['p99_us'])} | {ratio:.2f} | {failures(spin)} | | | "
                    f"| {other(spin):.2f} |"
                )
        w("")
        w(
            f"Median p99 ratio, login storm / alone: **{median(storm_ratios):.2f}×**; "
            f"idle-priority busy loops / alone: {median(spin_ratios):.2f}×; "
            f"logins/s during the storm: median {median(storm_logins):.1f}."
        )
        w("")

    stores = {r["store"]: r for r in rows if r["kind"] == "scale_store"}
    scale_rss = {r["store"]: r for r in rows if r["kind"] == "scale_rss"}
    scale_ratios, scale_p99 = {}, {}
    if stores:
        w("### Scale")
        w("")
        w(
            "Stores filled directly (bench/populate.py; keys last used an hour before, so the "
            "server makes its real last-used writes), each served by its own server at the "
            "default log level, both up at once; wrk cycles through the keys in use (its "
            "threads evenly spaced in the list), after warm-up passes over them until "
            "a pass meets almost no uncached key (not reported); the two stores' rows "
            "alternate in each round. "
            "× small: the median of each round's ratio to the 100-key store's figure."
        )
        w("")
        w("| store | users | tokens | sessions | keys in use | store MiB | RSS idle MiB | RSS after MiB (peak) |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|")
        for name, st in stores.items():
            rss = scale_rss.get(name, {})
            w(
                f"| {name} | {st['users']:,} | {st['tokens']:,} | {st['sessions']:,} | {st['keys']:,} "
                f"| {st['db_bytes'] / 1048576:.1f} | {st['idle_kb'] / 1024:.1f} "
                f"| {rss.get('rss_kb', 0) / 1024:.1f} ({rss.get('hwm_kb', 0) / 1024:.1f}) |"
            )
        w("")
        w("| row | conns | store | req/s | p50 ms | p99 ms | failures | × small | range | p99 × small | cache |")
        w("|---|---:|---|---:|---:|---:|---:|---:|---|---:|---:|")
        for scenario, conns in (("scale_token", 16), ("scale_token", 64), ("scale_session", 16)):
            for name in stores:
                rs = [r for r in runs(scenario, conns) if r.get("store") == name]
                if not rs:
                    continue
                rr, pp = [], []
                for r in rs:
                    small = next((x for x in runs(scenario, conns) if x.get("store") == "small" and x.get("round") == r.get("round")), None)
                    if small and name != "small":
                        rr.append(rps(r) / rps(small))
                        pp.append(r["p99_us"] / small["p99_us"])
                if name != "small":
                    scale_ratios[(scenario, conns)] = rr
                    scale_p99[(scenario, conns)] = pp
                w(
                    f"| {scenario.replace('scale_', '')} | {conns} | {name} | {median([rps(r) for r in rs]):,.0f} "
                    f"| {ms(median([r['p50_us'] for r in rs]))} | {ms(median([r['p99_us'] for r in rs]))} "
                    f"| {sum(failures(r) for r in rs)} | {f'{median(rr):.2f}' if rr else ''} | {spread(rr)} "
                    f"| {f'{median(pp):.2f}' if pp else ''} | {hit_rate(rs)} |"
                )
        w("")

    w("### Targets")
    w("")
    w(
        "Each read on the median over the rounds (range in brackets); \"met\" only when the "
        "median holds and there are at least five rounds (fewer: \"not judged\")."
    )
    w("")

    def verdict(values, ok):
        if not values:
            return None
        m = median(values)
        if len(values) < 5:
            return m, "not judged (fewer than 5 rounds)"
        return m, mark(ok(m))

    for level in levels:
        for conns in (16, 64):
            for key, floor in (("token", 0.8), ("session", 0.8), ("baseline", 0.85), ("refused_401", 0.85)):
                v = verdict(ratios(key, conns, level), lambda m: m >= floor)
                if v:
                    name = "anonymous" if key == "baseline" else key
                    w(
                        f"- {database}, log level {level}: {name} ≥ {floor} × bare axum at {conns} connections: "
                        f"{v[0]:.2f} ({spread(ratios(key, conns, level)) or 'one round'}), {v[1]}"
                    )
    for conns in (16, 64):
        rr = login_ratios(conns)
        v = verdict(rr, lambda m: m >= 0.95)
        if v:
            w(
                f"- login ≥ 0.95 × all-cores argon2id rate at {conns} connections: {v[0]:.2f} "
                f"({spread(rr) or 'one round'}), {v[1]}"
            )
    v = verdict(storm_ratios, lambda m: m <= 1.5)
    if v:
        w(
            f"- login storm, token p99 within 1.5× of no storm: {v[0]:.2f}× "
            f"({spread(storm_ratios) or 'one round'}), {v[1]}"
        )
        w(f"- login storm, no failed token request: {storm_failures} failed, {mark(storm_failures == 0)}")
    for (scenario, conns), rr in scale_ratios.items():
        if scenario != "scale_token":
            continue
        v = verdict(rr, lambda m: m >= 0.8)
        if v:
            w(
                f"- {database}, scale: token checks over {stores['large']['keys']:,} keys ≥ 0.8 × the 100-key "
                f"figure at {conns} connections: {v[0]:.2f} ({spread(rr) or 'one round'}), {v[1]}"
            )
        pp = scale_p99.get((scenario, conns), [])
        v = verdict(pp, lambda m: m <= 2)
        if v:
            w(
                f"- {database}, scale: token p99 ≤ 2 × the 100-key p99 at {conns} connections: "
                f"{v[0]:.2f}× ({spread(pp) or 'one round'}), {v[1]}"
            )
    if "large" in scale_rss:
        rss = scale_rss["large"]["rss_kb"] / 1024
        w(
            f"- scale: server RSS under 200 MiB with {stores['large']['tokens']:,} tokens: "
            f"{rss:.1f} MiB, {mark(rss < 200)}"
        )
    print("\n".join(out))


if __name__ == "__main__":
    main()
