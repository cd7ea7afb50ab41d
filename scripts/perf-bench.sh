#!/usr/bin/env bash
# Performance benchmark: leakhound against oha and wrk, all hitting nginx (one worker,
# `return 200`) on loopback. Prints a table of figures and leakhound/peer ratios measured in
# this run: CPU per request at fixed rates, maximum throughput, latency and sending around a
# stalling target, leakhound's own RSS growth, the memory collector's cost, report time.
#
#   scripts/perf-bench.sh                       # everything, ~8 min after the installs
#   scripts/perf-bench.sh --only fixed,max      # a subset: fixed,max,stall,rss,collector,render
#   scripts/perf-bench.sh --rates 5000 --duration 10 --rss-requests 500000
#   scripts/perf-bench.sh --help                # every knob
#
# Installs what is missing: wrk and nginx-light (apt-get, as root), oha (cargo install --locked),
# then builds leakhound in release. Needs Python 3. Ratios are only comparable within one run;
# anything else running on the machine skews them (nginx wants one core for itself).
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in -h|--help) exec python3 scripts/perf/bench.py --help ;; esac

need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]} (apt-get)" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
  # Debian starts the packaged nginx service where it can; the benchmark runs its own.
fi
if ! command -v oha >/dev/null && [ ! -x "$HOME/.cargo/bin/oha" ]; then
  echo "installing oha (cargo install oha --locked; a few minutes)" >&2
  cargo install oha --locked
fi
export PATH="$HOME/.cargo/bin:$PATH"

cargo build --release --quiet
# Up to a couple of thousand connections in the stall step.
ulimit -n 65536 2>/dev/null || true
exec python3 scripts/perf/bench.py "$@"
