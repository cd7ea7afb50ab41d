#!/usr/bin/env bash
# Post-GC heap slope benchmark for the inspector source: starts tests/targets/tunable-leak.js
# with `node --inspect=127.0.0.1:0` (default V8 flags), sends REQUESTS requests (default 100000)
# on loopback while sampling the V8 heap over CDP every 250 ms with a forced full GC, and prints
# the Theil-Sen slope (bytes/request, 95% CI) over the first 5k, 10k, ... requests and where the
# leak is first detected.
#
#   scripts/heap-slope.sh [--release]            # LEAK_BYTES=64 REQUESTS=100000 CONC=8
#   LEAK_BYTES=0 scripts/heap-slope.sh           # clean control: the slope should straddle 0
set -euo pipefail
cd "$(dirname "$0")/.."
profile=()
if [[ "${1:-}" == "--release" ]]; then profile=(--release); fi
export LEAK_BYTES="${LEAK_BYTES:-64}" REQUESTS="${REQUESTS:-100000}" CONC="${CONC:-8}"
exec cargo test --quiet "${profile[@]}" --lib inspect::tests::heap_slope_benchmark -- \
  --ignored --nocapture --test-threads=1
