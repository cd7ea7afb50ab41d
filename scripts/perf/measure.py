#!/usr/bin/env python3
"""Runs one command and reports what it cost, as one JSON line on stdout.

    measure.py [--rss-every S] [--out FILE] -- COMMAND ARGS...

CPU is the child's own user and system seconds from wait4 (getrusage of the child), so the
shell and this wrapper are not counted. With --rss-every, the child's VmRSS and CPU seconds so
far are read from /proc/PID/status and /proc/PID/stat every S seconds, as
[seconds since the child started, RSS KiB, CPU s] (CPU in clock ticks, 10 ms). The child's
stdout goes to --out (or /dev/null); its stderr passes through.
"""

import argparse
import json
import os
import subprocess
import sys
import time


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    """User + system seconds of `pid` so far, from /proc/PID/stat (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, ValueError, IndexError):
        return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rss-every", type=float, default=0.0)
    p.add_argument("--out", default=os.devnull)
    p.add_argument("--timeout", type=float, default=1800.0)
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        p.error("no command")
    with open(a.out, "wb") as out:
        t0 = time.monotonic()
        child = subprocess.Popen(cmd, stdout=out)
        samples = []
        status, usage = None, None
        deadline = t0 + a.timeout
        step = a.rss_every if a.rss_every > 0 else 0.05
        next_sample = t0
        while True:
            pid, st, ru = os.wait4(child.pid, os.WNOHANG)
            if pid == child.pid:
                status, usage = st, ru
                break
            now = time.monotonic()
            if now > deadline:
                child.kill()
                pid, status, usage = os.wait4(child.pid, 0)
                break
            if a.rss_every > 0 and now >= next_sample:
                kib, cpu = rss_kib(child.pid), cpu_s(child.pid)
                if kib is not None and cpu is not None:
                    samples.append([round(now - t0, 3), kib, cpu])
                next_sample += step
            time.sleep(min(0.01, step))
        child.returncode = os.waitstatus_to_exitcode(status)
    print(
        json.dumps(
            {
                "exit": child.returncode,
                "wall_s": time.monotonic() - t0,
                "user_s": usage.ru_utime,
                "sys_s": usage.ru_stime,
                "maxrss_kib": usage.ru_maxrss,
                "rss": samples,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
