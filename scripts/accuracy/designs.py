#!/usr/bin/env python3
"""Scenario designs drawn from a seed, for the real-run evaluation (scripts/accuracy.sh).

    python3 scripts/accuracy/designs.py SEED [--target NAME] [--max-duration 20s]

prints the scenario YAML for SEED (paired with its target unless --target is given).

Seed -> (target, design family) is deterministic and cycles, so any run of consecutive seeds
covers every target and every design family: target = seed mod #targets, family =
(seed + seed // #targets) mod #families (each pass over the targets shifts the family by one).
Everything else comes from random.Random(seed): total duration (85% 20-35 s, 12% 35-120 s,
3% 2-5 min), peak rate (log-uniform 100-3,000/s, capped per target and by the leak memory
budget), sampling interval (250 ms-2 s, at most a 40th of the run), the warm-up (its length
and rate), the family's own shape, and the leak limit (default 128 B, or 64 B / 256 B).

Families:
  idle-first   warm-up, idle, then busy
  idle-middle  warm-up, busy, idle, busy
  idle-last    warm-up, busy, idle
  never-idle   warm-up, one rate (time and traffic cannot be told apart)
  ramp         warm-up, a linear ramp (up or down), sometimes a hold at the end
  leak-hunt    `load: {profile: leak-hunt, rate, duration}` (the only built-in profile)
  steps        warm-up, then 3-5 busy steps at different rates

No design looks at the target's truth: only its rate cap and, for leaks, the memory budget.
"""

import argparse
import math
import os
import random
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import targets as T  # noqa: E402

FAMILIES = ["idle-first", "idle-middle", "idle-last", "never-idle", "ramp", "leak-hunt", "steps"]
RATE_MIN, RATE_MAX = 100, 3000
INTERVALS_MS = [250, 500, 1000, 2000]
INTERVAL_WEIGHTS = [3, 3, 2, 1]
HELD_OUT = (1000, 1119)
TUNING = (0, 59)


def pair(seed):
    """(target, family) for a seed."""
    n = len(T.TARGETS)
    return T.TARGETS[seed % n], FAMILIES[(seed + seed // n) % len(FAMILIES)]


def parse_duration(text):
    """'20s', '1m30s', '500ms', '90' (seconds) -> seconds (float)."""
    text = str(text).strip()
    if text.replace(".", "", 1).isdigit():
        return float(text)
    total, num = 0.0, ""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    i = 0
    while i < len(text):
        c = text[i]
        if c.isdigit() or c == ".":
            num += c
            i += 1
            continue
        u = "ms" if text.startswith("ms", i) else c
        if u not in units or not num:
            raise ValueError(f"bad duration {text!r}")
        total += float(num) * units[u]
        num = ""
        i += len(u)
    if num:
        raise ValueError(f"bad duration {text!r} (a number without a unit at the end)")
    return total


def ms(seconds):
    return f"{int(round(seconds * 1000))}ms"


def draw(seed, target=None, max_duration=None):
    """The design for `seed` as a dict (phases in seconds); `target` overrides the pairing."""
    paired, family = pair(seed)
    t = target or paired
    rng = random.Random(f"leakhound-accuracy-{seed}")
    u = rng.random()
    if u < 0.85:
        total = rng.uniform(20, 35)
    elif u < 0.97:
        total = rng.uniform(35, 120)
    else:
        total = rng.uniform(120, 300)
    total = float(round(total))
    drawn_rate = math.exp(rng.uniform(math.log(RATE_MIN), math.log(RATE_MAX)))
    interval_ms = rng.choices(INTERVALS_MS, INTERVAL_WEIGHTS)[0]
    limit = rng.choices([None, "64B", "256B"], [6, 2, 2])[0]
    warm_share = rng.uniform(0.10, 0.25)
    warm_factor = rng.choice([0.25, 0.5, 1.0])
    # The family's own shape, drawn whatever the family, so the stream of draws (and every
    # other field) does not depend on which family the seed got.
    idle_share = rng.uniform(0.15, 0.35)
    split = rng.uniform(0.3, 0.7)
    ramp_from = rng.uniform(0.1, 0.4)
    ramp_down = rng.random() < 0.3
    hold_share = rng.choice([0.0, 0.0, 0.25])
    n_steps = rng.randint(3, 5)
    step_factors = [rng.uniform(0.15, 1.0) for _ in range(n_steps)]
    step_factors[rng.randrange(n_steps)] = 1.0

    capped_by = None
    if max_duration and total > max_duration:
        total = float(max_duration)
        capped_by = "max-duration"
    # The interval: at most a 40th of the run, so every run has 40+ samples.
    while interval_ms > 250 and interval_ms / 1000 > total / 40:
        interval_ms //= 2
    rate = min(drawn_rate, t["rate_cap"])
    rate_note = "cap" if drawn_rate > t["rate_cap"] else None
    if t["truth"] in ("leak", "bounded") and t.get("bpr"):
        budget_rate = T.LEAK_BUDGET_BYTES / (t["bpr"] * T.RSS_SLACK * total)
        if budget_rate < rate:
            rate, rate_note = budget_rate, "memory budget"
    rate = max(10, int(round(rate)))

    d = dict(seed=seed, target=t["name"], family=family, total_s=total, rate=rate,
             drawn_rate=int(round(drawn_rate)), rate_note=rate_note, interval_ms=interval_ms,
             limit=limit, capped_by=capped_by)
    if family == "leak-hunt":
        d["profile"] = "leak-hunt"
        d["phases"] = leak_hunt_phases(rate, total, len(t["requests"]))
        return d
    warm = max(2.0, round(total * warm_share, 1))
    body = total - warm
    phases = [dict(name="warmup", duration=warm, rate=round(rate * warm_factor, 1))]
    if family == "idle-first":
        idle = body * idle_share
        phases += [dict(name="idle", duration=idle, rate=0), dict(name="busy", duration=body - idle, rate=rate)]
    elif family == "idle-middle":
        idle = body * idle_share
        a = (body - idle) * split
        phases += [dict(name="busy-1", duration=a, rate=rate), dict(name="idle", duration=idle, rate=0),
                   dict(name="busy-2", duration=body - idle - a, rate=rate)]
    elif family == "idle-last":
        idle = body * idle_share
        phases += [dict(name="busy", duration=body - idle, rate=rate), dict(name="idle", duration=idle, rate=0)]
    elif family == "never-idle":
        phases += [dict(name="soak", duration=body, rate=rate)]
    elif family == "ramp":
        hold = body * hold_share
        lo = max(1.0, round(rate * ramp_from, 1))
        a, b = (rate, lo) if ramp_down else (lo, rate)
        phases += [dict(name="ramp", duration=body - hold, rate=a, ramp_to=b)]
        if hold > 0:
            phases += [dict(name="hold", duration=hold, rate=b)]
    elif family == "steps":
        each = body / n_steps
        phases += [dict(name=f"step-{i + 1}", duration=each, rate=max(1.0, round(rate * f, 1)))
                   for i, f in enumerate(step_factors)]
    else:
        raise ValueError(family)
    d["phases"] = phases
    return d


def leak_hunt_phases(rate, total, n_requests):
    """The phases leak-hunt expands into (mirrors src/scenario/resolve/profile.rs, only to plan
    request counts and the warm-up's end: leakhound expands the profile itself)."""
    total_ms = int(total * 1000)
    warm_ms = min(max(total_ms * 15 // 100, 1000), 60_000)
    body_ms = total_ms - warm_ms
    blocks = min(max(n_requests, 3), max(body_ms // 3000, 1))
    block_ms = body_ms // blocks
    out = [dict(name="warmup", duration=warm_ms / 1000, rate=rate / 2)]
    for b in range(blocks):
        for name, share, factor in (("busy", 0.225, 1.0), ("busy", 0.225, 1.0), ("idle", 0.25, 0.0),
                                    ("low", 0.30, 1 / 3)):
            out.append(dict(name=f"{name}-{b + 1}", duration=max(round(block_ms * share), 100) / 1000,
                            rate=rate * factor))
    return out


def planned_requests(phases, after_warmup=True):
    n = 0.0
    for p in phases[1:] if after_warmup else phases:
        r0 = p["rate"]
        r1 = p.get("ramp_to", r0)
        n += (r0 + r1) / 2 * p["duration"]
    return int(n)


def separable(d):
    """Whether the plan after warm-up lets time be told from traffic: an idle phase next to a
    busy one, or rates at least 1.5x apart (the condition README.md gives)."""
    body = d["phases"][1:]
    rates = []
    for p in body:
        rates.append(p["rate"])
        if "ramp_to" in p:
            rates.append(p["ramp_to"])
    busy = [r for r in rates if r > 0]
    if not busy:
        return False
    if any(r == 0 for r in rates):
        return True
    return max(busy) >= 1.5 * min(busy)


def scenario_yaml(d, t, port, root, build):
    """The scenario file for design `d` against target `t` on `port`."""
    sub = lambda s: s.replace("{root}", root).replace("{build}", build)  # noqa: E731
    cmd = ", ".join(yq(sub(a)) for a in t["command"])
    env = {"PORT": str(port)}
    env.update(t.get("env") or {})
    env_s = ", ".join(f"{k}: {yq(v)}" for k, v in env.items())
    lines = [
        f"# leakhound accuracy evaluation: seed {d['seed']}, design {d['family']}, target {t['name']}",
        f"# (truth: {t['truth']}); generated by scripts/accuracy/designs.py",
        f"name: acc-{d['seed']}-{t['name']}",
        "target:",
        f"  base_url: http://127.0.0.1:{port}",
        f"  command: [{cmd}]",
        f"  cwd: {yq(os.path.join(root, 'tests', 'targets'))}",
        f"  env: {{{env_s}}}",
        "  ready: {path: /health, timeout: 60s}",
        "memory:",
        f"  interval: {d['interval_ms']}ms",
        "load:",
        "  model: open",
        "  timeout: 5s",
    ]
    if d.get("profile"):
        lines += [f"  profile: {d['profile']}", f"  rate: {d['rate']}", f"  duration: {ms(d['total_s'])}"]
    else:
        lines.append("  phases:")
        for p in d["phases"]:
            extra = f", ramp_to: {fmt_rate(p['ramp_to'])}" if "ramp_to" in p else ""
            lines.append(f"    - {{name: {p['name']}, duration: {ms(p['duration'])}, "
                         f"rate: {fmt_rate(p['rate'])}{extra}}}")
    lines.append("requests:")
    lines += [f"  - {r}" for r in t["requests"]]
    if d.get("limit"):
        lines += ["thresholds:", f"  leak_per_request: {d['limit']}"]
    return "\n".join(lines) + "\n"


def fmt_rate(r):
    return str(int(r)) if float(r).is_integer() else f"{r:.1f}"


def yq(s):
    s = str(s)
    return "'" + s.replace("'", "''") + "'"


def main():
    ap = argparse.ArgumentParser(description="print the scenario YAML for a seed")
    ap.add_argument("seed", type=int)
    ap.add_argument("--target")
    ap.add_argument("--max-duration")
    ap.add_argument("--port", type=int, default=3999)
    a = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    t = T.by_name(a.target) if a.target else None
    d = draw(a.seed, t, parse_duration(a.max_duration) if a.max_duration else None)
    sys.stdout.write(scenario_yaml(d, t or T.by_name(d["target"]), a.port, root, "/tmp/leakhound-accuracy-build"))


if __name__ == "__main__":
    main()
