#!/usr/bin/env bash
# accuracy.sh: leakhound's verdicts on real runs against real servers, scored against the truth.
#
# Each seed is paired with a target (tests/targets/: Node leak patterns and their fixed twins,
# express / express-session / lru-cache apps, Python, a JVM HttpServer, a C server; each with its
# truth: leak / none / bounded / time_growth) and a scenario design drawn from the seed
# (scripts/accuracy/designs.py: idle first / middle / last, never idle, ramp, leak-hunt, steps;
# 100-3,000 req/s capped per target; 20 s-5 min, most under 35 s; 250 ms-2 s sampling).
# leakhound starts each target on a free loopback port, runs the design, and the verdict is
# scored by scripts/accuracy/rules.py (`inconclusive` is right only when the run was too small
# to decide: the sensitivity rule is there, in one function).
#
#   scripts/accuracy.sh [--seeds A..B|A,B,...] [--tune] [--repeat K] [--bin PATH] [--out DIR]
#                       [--max-duration D] [--targets a,b] [--families f,g] [--list]
#   scripts/accuracy.sh --reanalyse DIR --bin PATH [--out NEWDIR]
#   scripts/accuracy.sh --score DIR
#
#   --seeds        seeds to run (default: the held-out range 1000..1119, 120 runs, ~85 min).
#   --tune         the tuning range 0..59 instead. Tune the analysis on these seeds only; the
#                  held-out range is for the score you report (never look at it while tuning).
#   --repeat K     run each (design, target) K times (stability; default 1).
#   --bin PATH     the leakhound binary (default: cargo build --release, target/release/leakhound).
#   --out DIR      keep everything here (default reports/accuracy-<UTC time>/): scenarios/,
#                  runs/<name>/ (each leakhound run folder), meta/, logs/, results.tsv,
#                  report.md. An existing DIR resumes: finished runs are kept, not re-run.
#   --max-duration D  cap every run at D (e.g. 20s; for smoke tests; at least 12s).
#   --targets / --families  only the planned runs whose target (or target/design family) is
#                  listed (the seed pairing is unchanged).
#   --list         print the planned runs (seed, design, target, duration, rate) and totals, run nothing.
#   --metric M (with --reanalyse) judge metric M instead of the run's (e.g. rss_anon for an older binary)
#   --reanalyse DIR --bin PATH  copy DIR's run folders to NEWDIR (default DIR-reanalysed-<time>),
#                  run `PATH report` on each copy (it rewrites summary.json: the originals are
#                  never touched), score them, and print old vs new verdicts on the same runs.
#   --score DIR    re-score DIR's runs (after a change to rules.py) without running anything.
#
# Prints confusion matrices truth x verdict (overall, per target family, per design family),
# the false-leak rate, per-target counts, and every wrong run with its reason.
# Load goes to 127.0.0.1 only; every run is bounded (its phases + 120 s, then its process group
# is stopped); leakhound stops each target, and the targets exit when their parent dies.
# Needs: python3, node (+ `npm ci --prefix tests/targets`), a JDK 17 (javac, java), cc.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
esac
command -v python3 >/dev/null || { echo "accuracy: python3 is required" >&2; exit 2; }
exec python3 scripts/accuracy/main.py "$@"
