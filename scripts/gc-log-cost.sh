#!/usr/bin/env bash
# What the gc_log source costs: the same soak against tests/targets/clean.js with and without
# the GC trace. Node is started here (so its CPU time can be read from /proc) with stdout and
# stderr appended to a file, as leakhound does with target.log; leakhound attaches by PID and,
# in the traced run, follows that file with `gc_log: {file: ...}`. Prints per run: node's CPU
# (% of one core), leakhound's CPU, p99, collections read and the size of the target's log.
# The third run adds leakhound's node preload forcing a full collection every FORCE_MS and
# reading the Buffers after each (what `force_gc: auto` does with 30 s judged after warm-up).
#
#   scripts/gc-log-cost.sh                 # RATE=2000 DURATION=20s FORCE_MS=1000, release build
set -euo pipefail
cd "$(dirname "$0")/.."
RATE="${RATE:-2000}" DURATION="${DURATION:-20s}"
cargo build --release --quiet
bin=target/release/leakhound
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# node's utime+stime in clock ticks
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() { # $1 = label, $2 = extra node flags or "", $3 = gc_log source entry or "", $4 = ms between forced GCs or ""
  local port log pid before after
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  log="$work/$1.log"
  # shellcheck disable=SC2086 # $2 is a list of flags
  LEAKHOUND_FORCE_GC_MS="$4" PORT=$port node $2 tests/targets/clean.js >>"$log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
  cat >"$work/$1.yaml" <<EOF
name: gc-cost-$1
target: {base_url: "http://127.0.0.1:$port", pid: $pid}
memory:
  metric: rss_anon
  sources: [process$3]
load:
  phases: [{name: soak, duration: $DURATION, rate: $RATE}]
requests: [{path: /x}]
EOF
  before=$(cpu_ticks "$pid")
  "$bin" run "$work/$1.yaml" --out "$work/$1" --quiet --no-progress >/dev/null || true
  after=$(cpu_ticks "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  python3 - "$work/$1/summary.json" "$((after - before))" "$(getconf CLK_TCK)" "$log" "$1" <<'EOF'
import json, os, sys
s = json.load(open(sys.argv[1]))
ticks, hz, log, label = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
gc = s.get("gc") or {}
print(f"{label:8} node CPU {100 * ticks / hz / s['duration_s']:5.1f}%  "
      f"leakhound CPU {s['generator'].get('cpu_percent') or 0:5.1f}%  "
      f"p99 {s['latency_ms']['p99']:.2f} ms  {s['achieved_rate']:.0f}/s  "
      f"GCs read {gc.get('count', 0)} ({gc.get('major', 0)} major)  "
      f"log {os.path.getsize(log) / 1024:.0f} KiB")
EOF
}

run plain "" "" ""
run traced --trace-gc-nvp ", {gc_log: {file: $work/traced.log}}" ""
run forced "--trace-gc-nvp --require $PWD/src/memory/gc_log/preload.js" \
  ", {gc_log: {file: $work/forced.log, force_gc: off}}" "${FORCE_MS:-1000}"
