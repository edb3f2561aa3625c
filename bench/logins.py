#!/usr/bin/env python3
"""Offers password logins at a fixed rate, whatever the server answers (an
open loop, as users arriving on their own would: wrk waits for each answer
before it sends the next request, so it cannot offer a rate).

    logins.py URL BODIES_FILE --rate N --seconds S [--timeout T]

Every 1/N seconds for S seconds, a new connection posts the next body of
BODIES_FILE (one JSON object a line, used in turn) to URL and waits up to T
seconds (default 30, a browser's patience) for the answer. Prints one line,
`BENCH_LOGINS {...}`: logins offered, answered by status, not answered within
T, connection errors, and the latencies (p50, p99, max, in ms) of the 200s
and of every answer.
"""

import argparse
import asyncio
import json
import time
import urllib.parse


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * len(values) + 0.5) - 1))
    return values[k]


async def login(host, port, path, body, timeout):
    started = time.monotonic()
    writer = None
    try:
        async def exchange():
            nonlocal writer
            reader, writer = await asyncio.open_connection(host, port)
            data = body.encode()
            writer.write(
                (
                    f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                    "Content-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
                ).encode()
                + data
            )
            await writer.drain()
            status_line = await reader.readline()
            await reader.read()  # the rest, until the server closes
            return int(status_line.split()[1])

        status = await asyncio.wait_for(exchange(), timeout)
        return status, time.monotonic() - started
    except asyncio.TimeoutError:
        return "timeout", time.monotonic() - started
    except (OSError, ValueError, IndexError):
        return "error", time.monotonic() - started
    finally:
        if writer is not None:
            writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("bodies")
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    url = urllib.parse.urlsplit(args.url)
    bodies = [line.strip() for line in open(args.bodies) if line.strip()]
    interval = 1.0 / args.rate
    count = int(args.rate * args.seconds)
    start = time.monotonic()
    tasks = []
    for i in range(count):
        delay = start + i * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        body = bodies[i % len(bodies)]
        tasks.append(
            asyncio.create_task(login(url.hostname, url.port, url.path, body, args.timeout))
        )
    offered_for = time.monotonic() - start
    results = await asyncio.gather(*tasks)
    by_status = {}
    for status, _ in results:
        by_status[str(status)] = by_status.get(str(status), 0) + 1
    ok = [t * 1000 for s, t in results if s == 200]
    answered = [t * 1000 for s, t in results if isinstance(s, int)]
    summary = {
        "offered": count,
        "rate": args.rate,
        "seconds": args.seconds,
        "offered_for_s": round(offered_for, 3),
        "timeout_s": args.timeout,
        "statuses": by_status,
        "ok": len(ok),
        "ok_per_s": round(len(ok) / args.seconds, 3),
        "ok_p50_ms": percentile(ok, 50),
        "ok_p99_ms": percentile(ok, 99),
        "ok_max_ms": max(ok) if ok else None,
        "answered_p50_ms": percentile(answered, 50),
        "answered_p99_ms": percentile(answered, 99),
        "answered_max_ms": max(answered) if answered else None,
    }
    print("BENCH_LOGINS " + json.dumps(summary), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
