#!/usr/bin/env python3
"""Runs a command (wrk, the argon2 bench) and tells where the machine's CPU
went meanwhile, so that a figure taken while other work ran (a shared machine,
a concurrent build) can be recognised as such.

    measure.py SERVER_PID|- -- COMMAND [ARGS...]

Passes the command's output through, then prints one line
`BENCH_CPU {"wall_s", "busy_s", "server_s", "hash_s", "command_s", "other_s"}`:
seconds of CPU the whole machine spent busy, the server process, the server's
password-hashing threads (part of the server's), the command (with its
children), and everything else (busy minus server and command).
"""

import json
import os
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def busy_seconds():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal guest guest_nice
    idle = fields[3] + fields[4]
    # guest time is already counted in user.
    return (sum(fields[:8]) - idle) / TICK


def process_seconds(pid):
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def hashing_seconds(pid):
    """CPU seconds of the server's password-hashing threads (`tessera-hash-N`)."""
    if pid is None:
        return 0.0
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        if comm.startswith("tessera-hash"):
            fields = stat.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / TICK


def main():
    sep = sys.argv.index("--")
    pid = None if sys.argv[1] == "-" else int(sys.argv[1])
    command = sys.argv[sep + 1 :]
    start = time.monotonic()
    busy0, server0, hash0 = busy_seconds(), process_seconds(pid), hashing_seconds(pid)
    child = subprocess.Popen(command)
    _, status, usage = os.wait4(child.pid, 0)
    busy1, server1, hash1 = busy_seconds(), process_seconds(pid), hashing_seconds(pid)
    wall = time.monotonic() - start
    command_s = usage.ru_utime + usage.ru_stime
    server_s = server1 - server0
    busy = busy1 - busy0
    sys.stdout.flush()
    print(
        "BENCH_CPU "
        + json.dumps(
            {
                "wall_s": round(wall, 3),
                "busy_s": round(busy, 3),
                "server_s": round(server_s, 3),
                "hash_s": round(hash1 - hash0, 3),
                "command_s": round(command_s, 3),
                "other_s": round(max(0.0, busy - server_s - command_s), 3),
            }
        ),
        flush=True,
    )
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
