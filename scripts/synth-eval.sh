#!/usr/bin/env bash
# The synthetic evaluation corpus (src/analysis/synth): generates series with known truth
# (design x runtime x truth, by seed), runs the analysis on each and prints confusion matrices
# (truth x verdict) overall, per runtime, per design family and per kind, with accuracy on
# decidable series, false leaks and `none` for big leaks.
#
#   scripts/synth-eval.sh                      # the tuning set, seeds 0..2000 (release build)
#   scripts/synth-eval.sh --seeds 0..10000     # any range of the tuning set
#   scripts/synth-eval.sh --held-out           # the held-out set, seeds 1000000..1002000
#   scripts/synth-eval.sh --held-out --seeds 0..5000   # held-out, offset: 1000000..1005000
#   scripts/synth-eval.sh --show 123           # one series: its YAML, truth, label, verdict, ticks
#   scripts/synth-eval.sh --debug --threads 2 ...
#   SYNTH_LIST=100 scripts/synth-eval.sh       # list up to 100 seeds of each kind of error
#   SYNTH_FORCE_GC=off scripts/synth-eval.sh   # no forced full collections in any series
#
# Tune the model on the tuning set only; the held-out set is for reporting what it does on
# series it was not tuned to.
set -euo pipefail
cd "$(dirname "$0")/.."
held_out=1000000
seeds="0..2000" held=0 show="" profile=(--release) threads=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seeds) seeds="$2"; shift 2 ;;
    --held-out) held=1; shift ;;
    --show) show="$2"; shift 2 ;;
    --debug) profile=(); shift ;;
    --threads) threads="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "synth-eval.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [[ ! "$seeds" =~ ^[0-9]+\.\.[0-9]+$ ]]; then
  echo "synth-eval.sh: --seeds takes A..B, e.g. 0..2000" >&2; exit 2
fi
if [[ $held == 1 ]]; then
  seeds="$((held_out + ${seeds%%..*}))..$((held_out + ${seeds##*..}))"
fi
if [[ -n "$show" ]]; then
  export SYNTH_SEED="$show"
  exec cargo test --quiet "${profile[@]}" --lib analysis::synth::tests::synth_show_seed -- \
    --ignored --nocapture --test-threads=1
fi
export SYNTH_SEEDS="$seeds" SYNTH_THREADS="$threads"
exec cargo test --quiet "${profile[@]}" --lib analysis::synth::tests::synth_eval_report -- \
  --ignored --nocapture --test-threads=1
