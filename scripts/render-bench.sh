#!/usr/bin/env bash
# Render benchmark: a one-hour synthetic timeline (3,600 ticks, 5 endpoints) into every report
# file, in release. Prints the seconds it took (the target is well under 1 s).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --quiet --release --example render_bench
