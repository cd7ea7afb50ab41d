#!/usr/bin/env python3
"""The real-run evaluation's engine; scripts/accuracy.sh is its front door (see its --help)."""

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, HERE)
import designs as D  # noqa: E402
import rules as R  # noqa: E402
import targets as T  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
VERDICTS = ["leak", "time_growth", "bounded", "none", "inconclusive", "error"]
TRUTHS = ["leak", "time_growth", "bounded", "none"]
# Seconds a run costs beyond its phases (start the target, wait for it, write the report).
OVERHEAD_S = 6
COLUMNS = ["name", "seed", "rep", "target", "target_family", "design", "duration_s", "rate", "interval_ms",
           "limit_b", "separable", "truth", "truth_eff", "truth_bpr", "post_requests", "planned_post_requests",
           "post_seconds", "metric", "decidable", "acceptable", "verdict", "correct", "false_alarm",
           "bpr_est", "bpr_low", "bpr_high", "window_requests", "exit_code", "completed", "reason"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- plan

def parse_seeds(text):
    out = []
    for part in text.split(","):
        part = part.strip()
        if ".." in part:
            a, b = part.split("..", 1)
            a, b = int(a), int(b)
            if b < a or b - a > 100000:
                raise SystemExit(f"accuracy: bad seed range {part!r}")
            out += list(range(a, b + 1))
        elif part:
            out.append(int(part))
    return out


def plan(seeds, repeat, max_duration, only_targets=None, only_families=None):
    runs = []
    for s in seeds:
        t, fam = D.pair(s)
        if only_targets and t["name"] not in only_targets:
            continue
        if only_families and fam not in only_families and t["family"] not in only_families:
            continue
        d = D.draw(s, max_duration=max_duration)
        for k in range(1, repeat + 1):
            name = f"s{s}-{t['name']}" + (f"-r{k}" if repeat > 1 else "")
            runs.append(dict(name=name, seed=s, rep=k, target=t, design=d))
    return runs


def limit_bytes(text):
    if not text:
        return R.DEFAULT_LIMIT
    units = {"B": 1, "KiB": 1024, "KB": 1000, "MiB": 1 << 20}
    for u in sorted(units, key=len, reverse=True):
        if text.endswith(u):
            return float(text[: -len(u)]) * units[u]
    return float(text)


def print_list(runs, out=sys.stdout):
    out.write(f"{'seed':>5} {'rep':>3}  {'design':<11} {'target':<15} {'family':<12} {'truth':<11} "
              f"{'dur':>5} {'rate':>6} {'intv':>6} {'limit':>5}  post-warm-up req\n")
    total = 0.0
    fams, tfams, truths, tnames = Counter(), Counter(), Counter(), Counter()
    for r in runs:
        d, t = r["design"], r["target"]
        total += d["total_s"]
        fams[d["family"]] += 1
        tfams[t["family"]] += 1
        truths[t["truth"]] += 1
        tnames[t["name"]] += 1
        note = f" ({d['rate_note']})" if d.get("rate_note") else ""
        out.write(f"{r['seed']:>5} {r['rep']:>3}  {d['family']:<11} {t['name']:<15} {t['family']:<12} "
                  f"{t['truth']:<11} {d['total_s']:>4.0f}s {d['rate']:>6} {d['interval_ms']:>4}ms "
                  f"{d['limit'] or '128B':>5}  {D.planned_requests(d['phases']):>8,}{note}\n")
    n = len(runs)
    out.write(f"\n{n} runs, {total / 60:.1f} min of load, ~{(total + n * OVERHEAD_S) / 60:.0f} min wall "
              f"(+{OVERHEAD_S} s per run to start and report)\n")
    out.write("design families: " + ", ".join(f"{k} {fams[k]}" for k in D.FAMILIES) + "\n")
    out.write("target families: " + ", ".join(f"{k} {tfams[k]}" for k in T.FAMILIES) + "\n")
    out.write("truths: " + ", ".join(f"{k} {truths[k]}" for k in TRUTHS) + "\n")
    missing = [t["name"] for t in T.TARGETS if t["name"] not in tnames]
    out.write(f"targets: {len(tnames)} of {len(T.TARGETS)} covered"
              + (f" (not: {', '.join(missing)})" if 0 < len(missing) <= 8 else "") + "\n")
    durs = sorted(r["design"]["total_s"] for r in runs)
    if durs:
        out.write(f"durations: min {durs[0]:.0f} s, median {durs[len(durs) // 2]:.0f} s, max {durs[-1]:.0f} s; "
                  f"{sum(1 for x in durs if x < 60)} of {n} under a minute\n")


# ---------------------------------------------------------------- running

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def need(tool, why):
    if not shutil.which(tool):
        raise SystemExit(f"accuracy: `{tool}` is needed ({why}) and is not on PATH")


def prepare(runs, build):
    """Checks the tools the planned targets need and builds the Java and C targets into `build`."""
    fams = {r["target"]["family"] for r in runs}
    names = {r["target"]["name"] for r in runs}
    if fams & {"node-pattern", "node-npm"}:
        need("node", "Node targets")
    if "node-npm" in fams:
        for pkg in ("express", "express-session", "lru-cache"):
            if not os.path.isdir(os.path.join(ROOT, "tests", "targets", "node_modules", pkg)):
                raise SystemExit(f"accuracy: tests/targets/node_modules/{pkg} is missing: "
                                 "run `npm ci --prefix tests/targets`")
    if "python" in fams:
        need("python3", "Python targets")
    if "jvm" in fams:
        need("javac", "the Java target (JDK 17)")
        need("java", "the Java target (JDK 17)")
        os.makedirs(os.path.join(build, "java"), exist_ok=True)
        subprocess.run(["javac", "-d", os.path.join(build, "java"),
                        os.path.join(ROOT, "tests", "targets", "java", "Server.java")], check=True, timeout=300)
    if any(n.startswith("native") for n in names):
        need("cc", "the C target")
        subprocess.run(["cc", "-O2", "-Wall", "-o", os.path.join(build, "native"),
                        os.path.join(ROOT, "tests", "targets", "native.c")], check=True, timeout=300)


def kill_group(p):
    """Stops the process group we started for one run (leakhound and the target it started)."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            return
        try:
            p.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run_one(r, out, binary, build):
    d, t, name = r["design"], r["target"], r["name"]
    scen = os.path.join(out, "scenarios", name + ".yaml")
    rundir = os.path.join(out, "runs", name)
    logf = os.path.join(out, "logs", name + ".log")
    port = free_port()
    with open(scen, "w") as f:
        f.write(D.scenario_yaml(d, t, port, ROOT, build))
    if os.path.exists(rundir):
        shutil.rmtree(rundir)
    meta = dict(name=name, seed=r["seed"], rep=r["rep"], design=d, target={k: v for k, v in t.items()},
                port=port, binary=binary, started=dt.datetime.now(dt.timezone.utc).isoformat())
    with open(os.path.join(out, "meta", name + ".json"), "w") as f:
        json.dump(meta, f, indent=1)
    limit_s = d["total_s"] + 120
    started = time.time()
    with open(logf, "w") as lf:
        p = subprocess.Popen([binary, "run", scen, "--out", rundir, "--no-progress"], stdout=lf, stderr=lf,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            rc = p.wait(timeout=limit_s)
        except subprocess.TimeoutExpired:
            kill_group(p)
            rc = "timeout"
            lf.write(f"\naccuracy: stopped after {limit_s:.0f} s (timeout)\n")
        except BaseException:
            kill_group(p)
            raise
    meta["exit"] = rc
    meta["wall_s"] = round(time.time() - started, 1)
    with open(os.path.join(out, "meta", name + ".json"), "w") as f:
        json.dump(meta, f, indent=1)
    return meta


# ---------------------------------------------------------------- scoring

def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def requests_after(run_json, design):
    """(warm-up requests, post-warm-up requests, post-warm-up seconds) from run.json's timeline,
    with the warm-up's end as leakhound takes it (the first phase when there are several, else
    20% of the run)."""
    tl = (run_json or {}).get("timeline") or {}
    ticks = tl.get("ticks") or []
    phases = tl.get("phases") or []
    if not ticks:
        return None
    end_t = ticks[-1]["t_s"]
    if len(phases) > 1:
        warm_end = phases[0]["end_s"] - phases[0]["start_s"]
    elif phases:
        warm_end = end_t * 0.2
    else:
        warm_end = design["phases"][0]["duration"]
    at_warm = 0
    for tk in ticks:
        if tk["t_s"] <= warm_end + 1e-9:
            at_warm = tk["completed"]
    return at_warm, ticks[-1]["completed"] - at_warm, max(0.0, end_t - warm_end)


def score(meta, rundir):
    d, t = meta["design"], meta["target"]
    summ = read_json(os.path.join(rundir, "summary.json"))
    runj = read_json(os.path.join(rundir, "run.json"))
    leak = (summ or {}).get("leak") or {}
    verdict = leak.get("verdict") if summ else None
    completed = bool(summ and summ.get("completed"))
    if not summ or not completed or verdict not in VERDICTS:
        verdict = "error"
    counts = requests_after(runj, d)
    if counts is None:
        warm_req = D.planned_requests(d["phases"][:1], after_warmup=False)
        post_req, post_s = D.planned_requests(d["phases"]), d["total_s"] - d["phases"][0]["duration"]
    else:
        warm_req, post_req, post_s = counts
    metric = leak.get("metric") or "rss_anon"
    limit = leak.get("limit_bytes_per_request") or limit_bytes(d.get("limit"))
    sep = D.separable(d)
    eff, ok, dec, why = R.acceptable(t["truth"], bpr=t.get("bpr", 0), bps=t.get("bps", 0), fill=t.get("fill", 0),
                                     post_requests=post_req, warmup_requests=warm_req, post_seconds=post_s,
                                     metric=metric, limit=limit, separable=sep)
    bpr = leak.get("bytes_per_request") or {}
    window = leak.get("window") or {}
    reason = leak.get("reason") or (f"no summary ({meta.get('exit')})" if not summ else
                                    f"completed={summ.get('completed')} exit={summ.get('exit_code')}")
    return dict(
        name=meta["name"], seed=meta["seed"], rep=meta["rep"], target=t["name"], target_family=t["family"],
        design=d["family"], duration_s=d["total_s"], rate=d["rate"], interval_ms=d["interval_ms"],
        limit_b=int(limit), separable=sep, truth=t["truth"], truth_eff=eff, truth_bpr=t.get("bpr", t.get("bps", 0)),
        post_requests=post_req, planned_post_requests=D.planned_requests(d["phases"]), post_seconds=round(post_s, 1),
        metric=metric, decidable=dec, acceptable="/".join(sorted(ok)), verdict=verdict,
        correct=verdict in ok, false_alarm=R.false_alarm(eff, verdict),
        bpr_est=round(bpr.get("estimate", 0) or 0), bpr_low=round(bpr.get("low", 0) or 0),
        bpr_high=round(bpr.get("high", 0) or 0), window_requests=window.get("requests", ""),
        exit_code=(summ or {}).get("exit_code", meta.get("exit")), completed=completed,
        reason=" ".join(str(reason).split()), why=why)


def write_tsv(rows, path):
    with open(path, "w") as f:
        f.write("\t".join(COLUMNS) + "\n")
        for r in rows:
            f.write("\t".join(str(r[c]).replace("\t", " ") for c in COLUMNS) + "\n")


def matrix(rows, title):
    lines = [f"#### {title} ({len(rows)} runs, {sum(r['correct'] for r in rows)} correct)", "",
             "| truth \\ verdict | " + " | ".join(VERDICTS) + " | correct |",
             "|---|" + "---:|" * (len(VERDICTS) + 1)]
    for tr in TRUTHS:
        sub = [r for r in rows if r["truth_eff"] == tr]
        if not sub:
            continue
        c = Counter(r["verdict"] for r in sub)
        lines.append(f"| {tr} | " + " | ".join(str(c[v]) if c[v] else "." for v in VERDICTS)
                     + f" | {sum(r['correct'] for r in sub)}/{len(sub)} |")
    return "\n".join(lines) + "\n"


def pct(a, b):
    return f"{a}/{b} ({100 * a / b:.0f}%)" if b else f"{a}/0"


def report(rows, title, out=None):
    rows = sorted(rows, key=lambda r: (r["seed"], r["rep"]))
    parts = [f"## {title}", ""]
    n = len(rows)
    ok = sum(r["correct"] for r in rows)
    harmless = [r for r in rows if r["truth_eff"] in ("none", "bounded")]
    fa = sum(r["false_alarm"] for r in harmless)
    dec_leaks = [r for r in rows if r["truth_eff"] in ("leak", "time_growth") and r["decidable"]]
    miss = sum(R.missed(r["truth_eff"], r["verdict"], r["decidable"]) for r in dec_leaks)
    errors = sum(r["verdict"] == "error" for r in rows)
    parts += [f"- correct: {pct(ok, n)}; decidable runs correct: "
              f"{pct(sum(r['correct'] for r in rows if r['decidable']), sum(1 for r in rows if r['decidable']))}",
              f"- false-leak rate (leak or time_growth on a target that does not leak): {pct(fa, len(harmless))}",
              f"- missed leaks (a decidable leak called none or bounded): {pct(miss, len(dec_leaks))}",
              f"- runs that did not finish (error): {errors}",
              "- truth is the effective truth: a bounded cache still filling when the run ended counts as leak "
              "(scripts/accuracy/rules.py)", ""]
    parts.append(matrix(rows, "overall"))
    for key, label, order in (("target_family", "target family", T.FAMILIES), ("design", "design family", D.FAMILIES)):
        parts.append(f"### By {label}\n")
        for k in order:
            sub = [r for r in rows if r[key] == k]
            if sub:
                parts.append(matrix(sub, k))
    parts.append("### By target\n")
    parts.append("| target | truth | runs | correct | verdicts |")
    parts.append("|---|---|---:|---:|---|")
    for t in T.TARGETS:
        sub = [r for r in rows if r["target"] == t["name"]]
        if sub:
            c = Counter(r["verdict"] for r in sub)
            parts.append(f"| {t['name']} | {t['truth']} | {len(sub)} | {sum(r['correct'] for r in sub)} | "
                         + ", ".join(f"{v} {c[v]}" for v in VERDICTS if c[v]) + " |")
    parts.append("")
    reps = defaultdict(list)
    for r in rows:
        reps[(r["seed"], r["target"])].append(r["verdict"])
    multi = {k: v for k, v in reps.items() if len(v) > 1}
    if multi:
        same = [k for k, v in multi.items() if len(set(v)) == 1]
        parts.append(f"### Stability\n\n{len(same)} of {len(multi)} (design, target) pairs gave one verdict in "
                     f"all their runs.\n")
        for k, v in sorted(multi.items()):
            if len(set(v)) > 1:
                parts.append(f"- seed {k[0]} {k[1]}: " + ", ".join(f"{x} {c}" for x, c in Counter(v).items()))
        parts.append("")
    wrong = [r for r in rows if not r["correct"]]
    parts.append(f"### Wrong ({len(wrong)})\n")
    if wrong:
        parts.append("| seed | target | design | truth | verdict | post-warm-up req | reason (first 120 chars) |")
        parts.append("|---:|---|---|---|---|---:|---|")
        for r in wrong:
            parts.append(f"| {r['seed']}{'' if r['rep'] == 1 else '/' + str(r['rep'])} | {r['target']} | {r['design']} "
                         f"| {r['truth_eff']} | {r['verdict']} | {r['post_requests']:,} | "
                         f"{r['reason'][:120].replace('|', '/')} |")
    text = "\n".join(parts) + "\n"
    if out:
        with open(out, "w") as f:
            f.write(text)
    return text


def score_dir(out):
    rows = []
    metas = sorted(os.listdir(os.path.join(out, "meta"))) if os.path.isdir(os.path.join(out, "meta")) else []
    for m in metas:
        if not m.endswith(".json"):
            continue
        meta = read_json(os.path.join(out, "meta", m))
        if meta:
            rows.append(score(meta, os.path.join(out, "runs", meta["name"])))
    return rows


# ---------------------------------------------------------------- commands

def build_release():
    need("cargo", "building leakhound (or pass --bin PATH)")
    log("accuracy: cargo build --release")
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "release", "leakhound")


def cmd_run(a, runs):
    binary = os.path.abspath(a.bin) if a.bin else build_release()
    if not os.access(binary, os.X_OK):
        raise SystemExit(f"accuracy: no leakhound binary at {binary}")
    out = os.path.abspath(a.out or os.path.join(ROOT, "reports",
                                                "accuracy-" + dt.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")))
    for sub in ("scenarios", "runs", "meta", "logs"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    with open(os.path.join(out, "plan.txt"), "w") as f:
        print_list(runs, f)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(dict(binary=binary, argv=sys.argv[1:], max_duration=a.max_duration,
                       git=git_rev(), started=dt.datetime.now(dt.timezone.utc).isoformat()), f, indent=1)
    build = tempfile.mkdtemp(prefix="leakhound-accuracy-build-")
    est = sum(r["design"]["total_s"] + OVERHEAD_S for r in runs)
    log(f"accuracy: {len(runs)} runs, ~{est / 60:.0f} min; binary {binary}; out {out}")
    try:
        prepare(runs, build)
        for i, r in enumerate(runs, 1):
            done = read_json(os.path.join(out, "runs", r["name"], "summary.json"))
            if done and os.path.exists(os.path.join(out, "meta", r["name"] + ".json")):
                log(f"[{i}/{len(runs)}] {r['name']}: already run, kept")
                continue
            meta = run_one(r, out, binary, build)
            row = score(meta, os.path.join(out, "runs", r["name"]))
            log(f"[{i}/{len(runs)}] {r['name']} ({r['design']['family']}, {r['design']['total_s']:.0f} s, "
                f"{r['design']['rate']}/s): {row['verdict']} (truth {row['truth_eff']}, "
                f"{'ok' if row['correct'] else 'WRONG'}) {row['bpr_est']} B/req, {meta['wall_s']} s")
    except KeyboardInterrupt:
        log("accuracy: interrupted; scoring the runs so far")
    finally:
        shutil.rmtree(build, ignore_errors=True)
    finish(out, "Real-run accuracy: " + os.path.basename(out))


def finish(out, title):
    rows = score_dir(out)
    write_tsv(rows, os.path.join(out, "results.tsv"))
    text = report(rows, title, os.path.join(out, "report.md"))
    sys.stdout.write(text)
    log(f"accuracy: {out}/results.tsv, {out}/report.md")
    return rows


def cmd_reanalyse(a):
    src = os.path.abspath(a.reanalyse)
    if not os.path.isdir(os.path.join(src, "meta")):
        raise SystemExit(f"accuracy: {src} is not an accuracy output folder (no meta/)")
    if not a.bin:
        raise SystemExit("accuracy: --reanalyse needs --bin PATH (the leakhound whose analysis to apply)")
    binary = os.path.abspath(a.bin)
    dst = os.path.abspath(a.out or src.rstrip("/") + "-reanalysed-" + dt.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ"))
    if os.path.exists(dst) and os.listdir(dst):
        raise SystemExit(f"accuracy: {dst} exists and is not empty; give another --out")
    for sub in ("runs", "meta", "logs", "scenarios"):
        os.makedirs(os.path.join(dst, sub), exist_ok=True)
    old_rows = {r["name"]: r for r in score_dir(src)}
    names = sorted(old_rows)
    log(f"accuracy: re-analysing {len(names)} runs of {src} with {binary} into {dst}")
    for i, name in enumerate(names, 1):
        s_run = os.path.join(src, "runs", name)
        if not os.path.exists(os.path.join(s_run, "run.json")):
            log(f"[{i}/{len(names)}] {name}: no run.json, copied as is")
        # `report` rewrites summary.json: always work on a copy, never on the saved run.
        shutil.copytree(s_run, os.path.join(dst, "runs", name)) if os.path.isdir(s_run) else None
        shutil.copy(os.path.join(src, "meta", name + ".json"), os.path.join(dst, "meta", name + ".json"))
        if os.path.exists(os.path.join(src, "scenarios", name + ".yaml")):
            shutil.copy(os.path.join(src, "scenarios", name + ".yaml"), os.path.join(dst, "scenarios"))
        if not os.path.exists(os.path.join(dst, "runs", name, "run.json")):
            continue
        if a.metric:
            # Judge another metric (e.g. the older analysis, which knew no heap_after_gc, on rss_anon).
            rp = os.path.join(dst, "runs", name, "run.json")
            with open(rp) as f:
                rec = json.load(f)
            rec["plan"]["memory"]["metric"] = a.metric
            with open(rp, "w") as f:
                json.dump(rec, f)
        with open(os.path.join(dst, "logs", name + ".report.log"), "w") as lf:
            try:
                subprocess.run([binary, "report", os.path.join(dst, "runs", name), "--no-progress"], stdout=lf,
                               stderr=lf, stdin=subprocess.DEVNULL, timeout=300)
            except subprocess.TimeoutExpired:
                lf.write("accuracy: report timed out after 300 s\n")
    with open(os.path.join(dst, "config.json"), "w") as f:
        json.dump(dict(reanalysed_from=src, binary=binary, git=git_rev(),
                       at=dt.datetime.now(dt.timezone.utc).isoformat()), f, indent=1)
    new_rows = finish(dst, f"Re-analysed with {binary}: {os.path.basename(dst)}")
    new = {r["name"]: r for r in new_rows}
    lines = ["", f"## Old ({os.path.basename(src)}) vs new analysis, same {len(new)} runs", ""]
    o_ok = sum(old_rows[n]["correct"] for n in new)
    n_ok = sum(new[n]["correct"] for n in new)
    o_fa = sum(old_rows[n]["false_alarm"] for n in new)
    n_fa = sum(new[n]["false_alarm"] for n in new)
    lines.append(f"- correct: {o_ok} -> {n_ok} of {len(new)}; false leaks: {o_fa} -> {n_fa}")
    changed = [n for n in sorted(new, key=lambda n: new[n]["seed"]) if old_rows[n]["verdict"] != new[n]["verdict"]]
    lines.append(f"- verdicts changed: {len(changed)}")
    if changed:
        lines += ["", "| seed | target | design | truth | old | new | |", "|---:|---|---|---|---|---|---|"]
        for n in changed:
            o, w = old_rows[n], new[n]
            mark = {(True, False): "worse", (False, True): "better"}.get((o["correct"], w["correct"]), "")
            lines.append(f"| {w['seed']} | {w['target']} | {w['design']} | {w['truth_eff']} | {o['verdict']} | "
                         f"{w['verdict']} | {mark} |")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    with open(os.path.join(dst, "report.md"), "a") as f:
        f.write(text)


def git_rev():
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def main():
    ap = argparse.ArgumentParser(prog="scripts/accuracy.sh", add_help=False)
    ap.add_argument("--seeds")
    ap.add_argument("--tune", action="store_true")
    ap.add_argument("--bin")
    ap.add_argument("--out")
    ap.add_argument("--reanalyse")
    ap.add_argument("--metric")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--max-duration")
    ap.add_argument("--targets")
    ap.add_argument("--families")
    ap.add_argument("--score")
    a = ap.parse_args()
    if a.score:
        finish(os.path.abspath(a.score), "Real-run accuracy: " + os.path.basename(os.path.abspath(a.score)))
        return
    if a.reanalyse:
        cmd_reanalyse(a)
        return
    if a.tune and a.seeds:
        raise SystemExit("accuracy: give --tune or --seeds, not both")
    rng = D.TUNING if a.tune else D.HELD_OUT
    seeds = parse_seeds(a.seeds) if a.seeds else list(range(rng[0], rng[1] + 1))
    if not a.tune and a.seeds:
        tuned = [s for s in seeds if D.TUNING[0] <= s <= D.TUNING[1]]
        if tuned:
            log(f"accuracy: note: seeds {tuned[0]}..{tuned[-1]} are in the tuning range; "
                "a held-out score must not use them")
    if not 1 <= a.repeat <= 50:
        raise SystemExit("accuracy: --repeat must be 1..50")
    max_d = D.parse_duration(a.max_duration) if a.max_duration else None
    if max_d is not None and max_d < 12:
        raise SystemExit("accuracy: --max-duration must be at least 12s (leak-hunt's shortest run)")
    only_t = set(a.targets.split(",")) if a.targets else None
    if only_t:
        unknown = only_t - {t["name"] for t in T.TARGETS}
        if unknown:
            raise SystemExit(f"accuracy: unknown targets {sorted(unknown)}")
    only_f = set(a.families.split(",")) if a.families else None
    runs = plan(seeds, a.repeat, max_d, only_t, only_f)
    if not runs:
        raise SystemExit("accuracy: no runs planned (check --seeds / --targets / --families)")
    if a.list:
        print_list(runs)
        return
    cmd_run(a, runs)


if __name__ == "__main__":
    main()
