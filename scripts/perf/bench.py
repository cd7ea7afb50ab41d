#!/usr/bin/env python3
"""The driver behind scripts/perf-bench.sh: leakhound against oha and wrk on loopback.

Every figure is measured in this run, on this machine, and printed next to the same figure of
the peers, as a ratio. Nothing here is a pass/fail timing test; the `target` column only says
what the project aims for. Run it through scripts/perf-bench.sh (which installs the peers and
builds leakhound); `bench.py --help` lists the knobs.
"""

import argparse
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# ---------------------------------------------------------------------------------- processes

SPAWNED = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def spawn(cmd, log):
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    SPAWNED.append(p)
    return p


def stop(p):
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)  # its own session: nginx master and worker
        except ProcessLookupError:
            pass
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)


def measured(cmd, out=os.devnull, rss_every=0.0, timeout=900):
    """Runs `cmd` under measure.py; returns its JSON (CPU from wait4, optional RSS samples)."""
    m = [sys.executable, os.path.join(HERE, "measure.py"), "--out", out,
         "--timeout", str(timeout)]
    if rss_every:
        m += ["--rss-every", str(rss_every)]
    r = subprocess.run(m + ["--"] + cmd, stdout=subprocess.PIPE, check=True, text=True)
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res["cpu_s"] = res["user_s"] + res["sys_s"]
    return res


def http_json(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return json.loads(r.read())


# ---------------------------------------------------------------------------------- the tools


def scenario(work, name, port, pid, model, duration, rate=0, conns=0, interval="1s",
             metric="rss_anon", max_in_flight=None):
    phase = (f"{{name: run, duration: {duration}s, rate: {rate}}}" if model == "open"
             else f"{{name: run, duration: {duration}s, concurrency: {conns}}}")
    extra = f"\n  max_in_flight: {max_in_flight}" if max_in_flight else ""
    text = f"""name: {name}
target:
  base_url: http://127.0.0.1:{port}
  pid: {pid}
memory:
  interval: {interval}
  metric: {metric}
load:
  model: {model}
  timeout: 10s{extra}
  phases:
    - {phase}
requests:
  - name: root
    path: /
"""
    path = os.path.join(work, f"{name}.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def leakhound(a, work, name, scen, rss_every=0.0):
    out = os.path.join(work, name)
    shutil.rmtree(out, ignore_errors=True)
    m = measured([a.leakhound, "--no-progress", "--quiet", "run", scen, "--out", out],
                 rss_every=rss_every)
    if m["exit"] not in (0, 1):
        raise SystemExit(f"leakhound run {scen} exited {m['exit']} (see {out})")
    with open(os.path.join(out, "summary.json")) as f:
        s = json.load(f)
    with open(os.path.join(out, "run.json")) as f:
        run = json.load(f)
    m["completed"] = s["requests"]["completed"]
    m["errors"] = s["requests"]["errors"]
    m["missed"] = s["requests"].get("missed", 0) + s["requests"].get("overflow", 0)
    m["lat"] = s["latency_ms"]
    m["ticks"] = run["timeline"]["ticks"]
    m["interval_s"] = run["timeline"]["interval_s"]
    return m


def oha(a, work, name, port, args, rss_every=0.0):
    out = os.path.join(work, f"{name}.json")
    cmd = [a.oha, "--no-tui", "--output-format", "json"] + args + [f"http://127.0.0.1:{port}/"]
    m = measured(cmd, out=out, rss_every=rss_every)
    if m["exit"] != 0:
        raise SystemExit(f"oha exited {m['exit']}: {' '.join(cmd)}")
    with open(out) as f:
        j = json.load(f)
    codes = j.get("statusCodeDistribution", {})
    m["completed"] = sum(codes.values())
    m["errors"] = sum(v for k, v in codes.items() if int(k) >= 400) + sum(
        j.get("errorDistribution", {}).values())
    lp = j.get("latencyPercentiles", {})
    ms = lambda k: None if lp.get(k) is None else lp[k] * 1000  # noqa: E731
    m["lat"] = {"p50": ms("p50"), "p99": ms("p99"), "p999": ms("p99.9")}
    m["rps"] = j.get("summary", {}).get("requestsPerSec")
    return m


def wrk(a, work, name, port, conns, duration):
    out = os.path.join(work, f"{name}.txt")
    cmd = [a.wrk, "-t1", f"-c{conns}", f"-d{duration}s", f"http://127.0.0.1:{port}/"]
    m = measured(cmd, out=out)
    text = open(out).read()
    found = re.search(r"(\d+) requests in", text)
    if m["exit"] != 0 or not found:
        raise SystemExit(f"wrk failed: {text}")
    m["completed"] = int(found.group(1))
    rps = re.search(r"Requests/sec:\s*([\d.]+)", text)
    m["rps"] = float(rps.group(1)) if rps else None
    return m


def us_per_req(m):
    return m["cpu_s"] * 1e6 / max(m["completed"], 1)


# ---------------------------------------------------------------------------------- helpers


def pct(values, q):
    v = sorted(values)
    if not v:
        return None
    return v[min(len(v) - 1, max(0, math.ceil(q * len(v)) - 1))]


def jitter_ms(m):
    """How far each gap between consecutive memory samples is from the interval, in ms.

    The first and the final sample (taken at the end of the run, off the grid) are left out.
    """
    iv = m["interval_s"]
    ts = [t["memory"]["t_s"] for t in m["ticks"][1:-1] if t.get("memory")]
    return [abs(b - a - iv) * 1000 for a, b in zip(ts, ts[1:])]


def ratio(x, y):
    return None if x is None or y in (None, 0) else x / y


def fmt(v, digits=1):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


ROWS = []


def row(what, lh, o=None, w=None, target="", digits=1, note=""):
    ROWS.append([what, fmt(lh, digits), fmt(o, digits), fmt(w, digits),
                 fmt(ratio(lh, o), 2) + ("x" if ratio(lh, o) is not None else ""),
                 fmt(ratio(lh, w), 2) + ("x" if ratio(lh, w) is not None else ""),
                 target, note])
    print(f"  {what}: leakhound {fmt(lh, digits)}  oha {fmt(o, digits)}  wrk {fmt(w, digits)}",
          flush=True)


def print_table():
    head = ["measure", "leakhound", "oha", "wrk", "lh/oha", "lh/wrk", "target", "note"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in ROWS]
    print("\n".join(lines))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- benchmarks


def nginx(a, work):
    port = free_port()
    conf = open(os.path.join(HERE, "nginx.conf")).read()
    conf = conf.replace("@PORT@", str(port)).replace("@DIR@", work)
    path = os.path.join(work, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    p = spawn([a.nginx, "-p", work, "-c", path, "-e", os.path.join(work, "nginx-error.log")],
              open(os.path.join(work, "nginx.log"), "w"))
    wait_port(port)
    return p, port


def bench_fixed_rate(a, work, port, pid):
    print("== 1. CPU per request at a fixed rate (open model)", flush=True)
    out = {}
    for rate in a.rates:
        scen = scenario(work, f"open-{rate}", port, pid, "open", a.duration, rate=rate)
        lh = leakhound(a, work, f"open-{rate}", scen)
        o = oha(a, work, f"oha-{rate}", port,
                ["-q", str(rate), "-z", f"{a.duration}s", "-c", str(a.connections),
                 "--latency-correction"])
        out[rate] = (lh, o)
        row(f"CPU per request at {rate}/s, µs", us_per_req(lh), us_per_req(o),
            target="lh/oha <= 1.0")
        row(f"  requests completed at {rate}/s", lh["completed"], o["completed"], digits=0)
        row(f"  latency p50 at {rate}/s, ms (from intended send)", lh["lat"]["p50"],
            o["lat"]["p50"], digits=3, note="oha --latency-correction")
        row(f"  latency p99 at {rate}/s, ms", lh["lat"]["p99"], o["lat"]["p99"], digits=3)
        j = jitter_ms(lh)
        row(f"  sampling jitter p99 at {rate}/s, ms (1 s interval)", pct(j, 0.99),
            digits=2, target="< 10", note=f"max {max(j, default=0):.1f} ms")
    return out


def bench_max(a, work, port, pid):
    print("== 2. Maximum throughput, closed model", flush=True)
    scen = scenario(work, "closed", port, pid, "closed", a.max_duration, conns=a.connections)
    lh = leakhound(a, work, "closed", scen)
    o = oha(a, work, "oha-max", port, ["-z", f"{a.max_duration}s", "-c", str(a.connections)])
    w = wrk(a, work, "wrk-max", port, a.connections, a.max_duration)
    lh_rps = lh["completed"] / a.max_duration
    o_rps = o["completed"] / a.max_duration
    w_rps = w["rps"]
    row(f"max throughput, {a.connections} connections, req/s", lh_rps, o_rps, w_rps,
        target="lh/oha >= 0.9", note="wrk -t1")
    row("  CPU per request at max throughput, µs", us_per_req(lh), us_per_req(o),
        us_per_req(w), note="the wrk column of row 1 is this (no fixed rate in Debian's wrk)")
    return lh, o, w


def arrivals(stats, since):
    """Arrival counts per 100 ms bucket and the stalls, from the stall target's /__stats."""
    counts = {int(k): v for k, v in stats["counts"].items()}
    return counts, [s for s in stats["stalls"] if s[0] >= since]


def stall_shape(stats, rate, since, until):
    """During-stall send ratio and the worst 100 ms catch-up burst after each stall."""
    counts, stalls = arrivals(stats, since)
    per = rate * stats["bucket_s"]
    during, after = [], []
    for s0, s1 in stalls:
        if s1 + 1.0 > until:
            continue
        b0, b1 = round(s0 / stats["bucket_s"]), round(s1 / stats["bucket_s"])
        n = sum(counts.get(b, 0) for b in range(b0, b1))
        during.append(n / (per * (b1 - b0)))
        after.append(max(counts.get(b, 0) for b in range(b1, b1 + 10)) / per)
    return during, after


def bench_stall(a, work):
    print(f"== 3. Latency honesty: a target that stalls {a.stall_for}s every {a.stall_every}s",
          flush=True)
    port = free_port()
    target = spawn([sys.executable, os.path.join(HERE, "stall_target.py"), "--port", str(port),
                    "--stall-every", str(a.stall_every), "--stall-for", str(a.stall_for)],
                   open(os.path.join(work, "stall-target.log"), "w"))
    try:
        wait_port(port)
        rate = a.stall_rate
        res = {}
        for tool in ("leakhound", "oha"):
            http_json(port, "/__reset")
            since = http_json(port, "/__stats")["now_s"]
            if tool == "leakhound":
                scen = scenario(work, "stall", port, target.pid, "open", a.stall_duration,
                                rate=rate, interval="100ms")
                m = leakhound(a, work, "stall", scen)
            else:
                m = oha(a, work, "oha-stall", port,
                        ["-q", str(rate), "-z", f"{a.stall_duration}s", "-c",
                         str(a.connections), "--latency-correction"])
            until = http_json(port, "/__stats")["now_s"]
            stats = http_json(port, "/__stats")
            m["during"], m["after"] = stall_shape(stats, rate, since, until)
            res[tool] = m
        lh, o = res["leakhound"], res["oha"]
        # A request arriving s seconds into a D-second stall waits D - s: a fraction D/every of
        # arrivals waits, uniformly up to D. So p99 = D - every/100, p99.9 = D - every/1000.
        exp99 = (a.stall_for - a.stall_every * 0.01) * 1000
        exp999 = (a.stall_for - a.stall_every * 0.001) * 1000
        row(f"stall: p99 at {rate}/s, ms", lh["lat"]["p99"], o["lat"]["p99"], digits=0,
            target=f"≈ {exp99:.0f} (expected)", note=f"oha -c {a.connections} --latency-correction")
        row(f"stall: p99.9 at {rate}/s, ms", lh["lat"]["p999"], o["lat"]["p999"], digits=0,
            target=f"≈ {exp999:.0f} (expected)")
        mean = lambda v: sum(v) / len(v) if v else None  # noqa: E731
        row("stall: sent during a stall / scheduled", mean(lh["during"]), mean(o["during"]),
            digits=2, target="≈ 1 (keeps the schedule)",
            note=f"{len(lh['during'])} stalls seen by the target")
        row("stall: worst 100 ms after a stall / scheduled", max(lh["after"], default=None),
            max(o["after"], default=None), digits=2, target="≈ 1 (no catch-up burst)")
        return res
    finally:
        stop(target)


def rss_at(samples, t):
    """The RSS sample (KiB) nearest to `t` seconds after the process started."""
    best = min(samples, key=lambda s: abs(s[0] - t), default=None)
    return None if best is None else best[1]


def bench_rss(a, work, port, pid):
    n, rate = a.rss_requests, a.rss_rate
    secs = max(1, round(n / rate))
    print(f"== 4. Own memory: {n:,} requests at {rate}/s ({secs} s per tool)", flush=True)
    scen = scenario(work, "rss", port, pid, "open", secs, rate=rate)
    lh = leakhound(a, work, "rss", scen, rss_every=0.25)
    o = oha(a, work, "oha-rss", port,
            ["-n", str(n), "-q", str(rate), "-c", str(a.connections), "--latency-correction"],
            rss_every=0.25)
    early = 100_000 / rate
    lh0, lh1 = rss_at(lh["rss"], early), rss_at(lh["rss"], secs - 0.3)
    o0, o1 = rss_at(o["rss"], early), rss_at(o["rss"], secs - 0.3)
    mib = lambda k: None if k is None else k / 1024  # noqa: E731
    row("own RSS after 100k requests, MiB", mib(lh0), mib(o0), digits=1)
    row(f"own RSS after {n/1e6:g}M requests, MiB", mib(lh1), mib(o1), digits=1,
        note=f"leakhound completed {lh['completed']:,}, oha {o['completed']:,}")
    row(f"own RSS growth 100k -> {n/1e6:g}M, MiB", mib(lh1 - lh0), mib(o1 - o0), digits=1,
        target="leakhound < 5")
    row(f"  CPU per request at {rate}/s over {secs} s, µs", us_per_req(lh), us_per_req(o))
    return lh, o


def smaps_cost(pid, n=200):
    def timed(path):
        t = time.perf_counter()
        for _ in range(n):
            with open(path, "rb") as f:
                f.read()
        return (time.perf_counter() - t) / n * 1e6
    return timed(f"/proc/{pid}/smaps_rollup"), timed(f"/proc/{pid}/status")


def window_cpu(m, t_from, t_to):
    """CPU share of one core between two times, from the RSS/CPU samples (ticks are 10 ms)."""
    s = [x for x in m["rss"] if t_from <= x[0] <= t_to]
    if len(s) < 2 or s[-1][0] - s[0][0] <= 0:
        return None
    return (s[-1][2] - s[0][2]) / (s[-1][0] - s[0][0]) * 100


def bench_collector(a, work):
    print(f"== 5. Memory collector on a target with a {a.heap_mib} MiB heap", flush=True)
    port = free_port()
    target = spawn([sys.executable, os.path.join(HERE, "stall_target.py"), "--port", str(port),
                    "--heap-mib", str(a.heap_mib)],
                   open(os.path.join(work, "heap-target.log"), "w"))
    res = {}
    try:
        wait_port(port, timeout=60)
        rollup_us, status_us = smaps_cost(target.pid)
        d = a.collector_duration
        for label, interval, metric in (("1s", "1s", "rss_anon"), ("100ms", "100ms", "rss_anon"),
                                        ("100ms-pss", "100ms", "pss")):
            # Rate 1/s: the run is all collector; the one request a second is noise.
            scen = scenario(work, f"collector-{label}", port, target.pid, "open", d, rate=1,
                            interval=interval, metric=metric)
            m = leakhound(a, work, f"collector-{label}", scen, rss_every=0.5)
            m["core_pct"] = window_cpu(m, 1.0, d - 0.5)
            res[label] = m
        row("collector CPU at 1 s interval, % of a core", res["1s"]["core_pct"], digits=2,
            target="< 1", note="whole leakhound process, idle load (1 req/s)")
        row("collector CPU at 100 ms interval, % of a core", res["100ms"]["core_pct"],
            digits=2, target="< 5", note="pss not read below 1 s unless judged")
        row("collector CPU at 100 ms, pss judged, % of a core", res["100ms-pss"]["core_pct"],
            digits=2, target="< 5", note="smaps_rollup every sample")
        row(f"smaps_rollup read, {a.heap_mib} MiB heap, µs", rollup_us, digits=0,
            note=f"/proc/PID/status: {status_us:.0f} µs")
        for label in ("1s", "100ms", "100ms-pss"):
            j = jitter_ms(res[label])
            row(f"sampling jitter p99 at {label}, ms", pct(j, 0.99), digits=2, target="< 10",
                note=f"abs(gap - interval) over {len(j)} gaps; p50 {pct(j, 0.5) or 0:.2f}")
        return res
    finally:
        stop(target)


def bench_render(a):
    print("== 6. Analysis and report time, one-hour timeline", flush=True)
    script = os.path.join(ROOT, "scripts", "render-bench.sh")
    r = subprocess.run(["bash", script], capture_output=True, text=True, timeout=900)
    text = (r.stdout + r.stderr).strip()
    found = re.findall(r"([\d.]+)\s*s\b", text)
    secs = float(found[-1]) if found else None
    row("analysis + every report file, 1 h timeline, s", secs, digits=2, target="< 1",
        note="scripts/render-bench.sh")
    if secs is None:
        print(text)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--leakhound", default=os.path.join(ROOT, "target/release/leakhound"))
    p.add_argument("--oha", default=shutil.which("oha") or os.path.expanduser("~/.cargo/bin/oha"))
    p.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    p.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    p.add_argument("--rates", default="10000,20000", help="fixed open-model rates, req/s")
    p.add_argument("--duration", type=int, default=20, help="seconds per fixed-rate run")
    p.add_argument("--max-duration", type=int, default=10, help="seconds per max-throughput run")
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--stall-rate", type=int, default=1000)
    p.add_argument("--stall-duration", type=int, default=20)
    p.add_argument("--stall-every", type=float, default=10.0)
    p.add_argument("--stall-for", type=float, default=1.0)
    p.add_argument("--rss-rate", type=int, default=20000)
    p.add_argument("--rss-requests", type=int, default=2_000_000)
    p.add_argument("--heap-mib", type=int, default=500)
    p.add_argument("--collector-duration", type=int, default=10)
    p.add_argument("--only", default="fixed,max,stall,rss,collector,render",
                   help="comma-separated subset of: fixed,max,stall,rss,collector,render")
    p.add_argument("--keep", action="store_true", help="keep the work folder (runs, logs)")
    a = p.parse_args()
    a.rates = [int(r) for r in a.rates.split(",") if r]
    only = set(a.only.split(","))
    for tool in ("leakhound", "oha", "wrk", "nginx"):
        if not os.path.exists(getattr(a, tool)) and not shutil.which(getattr(a, tool)):
            raise SystemExit(f"{tool} not found ({getattr(a, tool)}); run scripts/perf-bench.sh")
    work = tempfile.mkdtemp(prefix="leakhound-perf-")
    print(f"work folder: {work}; {os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()[0]:.2f} (other load skews every figure)", flush=True)
    ng = None
    try:
        if only & {"fixed", "max", "rss"}:
            ng, port = nginx(a, work)
            pid = ng.pid  # `daemon off`: the process started is nginx's master
        if "fixed" in only:
            bench_fixed_rate(a, work, port, pid)
        if "max" in only:
            bench_max(a, work, port, pid)
        if "stall" in only:
            bench_stall(a, work)
        if "rss" in only:
            bench_rss(a, work, port, pid)
        if ng is not None:
            stop(ng)
        if "collector" in only:
            bench_collector(a, work)
        if "render" in only:
            bench_render(a)
    finally:
        for s in SPAWNED:
            stop(s)
    print()
    table = print_table()
    with open(os.path.join(work, "table.md"), "w") as f:
        f.write(table + "\n")
    if a.keep:
        print(f"\nruns and logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
