#!/usr/bin/env bash
# Long-run stability benchmark (not CI): a release build of leakhound drives the stateless
# target tests/targets/clean.js at 2,000 requests/s for 30 minutes. Every 10 s it samples
# leakhound's OWN memory (VmRSS, RssAnon from /proc/PID/status) and open file handles
# (entries of /proc/PID/fd), then prints a table (start / middle / end, and the extremes),
# and checks the run's timeline is complete (one tick per sampling interval, no gap).
#
#   scripts/stability.sh                   # the real thing: 30 min at 2000/s
#   DURATION=2m RATE=500 scripts/stability.sh     # a quick look
#
# Env: DURATION (default 30m), RATE (default 2000), INTERVAL (memory sampling, default 1s),
# SAMPLE_EVERY (seconds between samples of leakhound itself, default 10), PORT (default: a free
# one), OUT (run folder, default a fresh temp folder), LEAKHOUND (binary, default
# target/release/leakhound, built when missing).
# It stops by itself: leakhound ends after DURATION, and a watchdog kills it at DURATION + 5 min.
# Exit status: 0 when leakhound's RSS grew by less than 10% (and 8 MiB) from the middle sample
# to the end, the lowest fd count of the last third is within 8 of the middle third's, and the
# timeline is complete;
# 1 otherwise; leakhound's own exit code when it failed to run.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-30m}
RATE=${RATE:-2000}
INTERVAL=${INTERVAL:-1s}
SAMPLE_EVERY=${SAMPLE_EVERY:-10}
LEAKHOUND=${LEAKHOUND:-target/release/leakhound}
WORK=$(mktemp -d -t leakhound-stability-XXXXXX)
OUT=${OUT:-$WORK/run}
PORT=${PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}

if [[ ! -x $LEAKHOUND ]]; then
  cargo build --release --quiet
fi

# Seconds in DURATION (humantime-ish: 30m, 1h, 90s, 1h30m).
secs=$(python3 - "$DURATION" <<'EOF'
import re, sys
total = 0
for n, u in re.findall(r'(\d+)\s*(h|m|s)', sys.argv[1]):
    total += int(n) * {'h': 3600, 'm': 60, 's': 1}[u]
print(total)
EOF
)
if [[ $secs -le 0 ]]; then
  echo "stability: DURATION must be like 30m, 90s or 1h (got $DURATION)" >&2
  exit 2
fi

cat >"$WORK/stability.yaml" <<EOF
name: stability
target:
  base_url: http://127.0.0.1:$PORT
  command: [node, $PWD/tests/targets/clean.js]
  env: {PORT: "$PORT"}
  ready: {path: /health, timeout: 15s}
memory:
  interval: $INTERVAL
load:
  model: open
  timeout: 5s
  phases:
    - {name: soak, duration: $DURATION, rate: $RATE}
requests:
  - name: get
    path: /items/{{seq}}
  - name: post
    method: POST
    path: /process?id={{seq}}
    headers: {content-type: application/json}
    body: '{"user": "{{uuid}}"}'
EOF

echo "stability: $DURATION at $RATE/s against clean.js on 127.0.0.1:$PORT; run folder $OUT"
"$LEAKHOUND" run "$WORK/stability.yaml" --out "$OUT" --no-progress >"$WORK/leakhound.out" 2>&1 &
LH=$!
# Watchdog: never let a stuck run outlive DURATION + 5 min.
( sleep $((secs + 300)); kill -TERM "$LH" 2>/dev/null || true ) &
WATCHDOG=$!
trap 'kill "$WATCHDOG" 2>/dev/null || true' EXIT

SAMPLES="$WORK/samples.tsv"
printf 't_s\tvmrss_kib\trss_anon_kib\tfds\tthreads\n' >"$SAMPLES"
start=$(date +%s)
sample() {
  local status fds
  status=$(cat "/proc/$LH/status" 2>/dev/null) || return 1
  fds=$(ls "/proc/$LH/fd" 2>/dev/null | wc -l)
  printf '%s\t%s\t%s\t%s\t%s\n' "$(( $(date +%s) - start ))" \
    "$(awk '/^VmRSS:/{print $2}' <<<"$status")" \
    "$(awk '/^RssAnon:/{print $2}' <<<"$status")" \
    "$fds" \
    "$(awk '/^Threads:/{print $2}' <<<"$status")" >>"$SAMPLES"
}
# Sample until leakhound exits (bounded by the watchdog).
while kill -0 "$LH" 2>/dev/null; do
  sample || break
  for _ in $(seq "$SAMPLE_EVERY"); do
    kill -0 "$LH" 2>/dev/null || break
    sleep 1
  done
done
set +e
wait "$LH"
code=$?
set -e
echo "stability: leakhound exited with $code after $(( $(date +%s) - start )) s"
tail -n 12 "$WORK/leakhound.out"

python3 - "$SAMPLES" "$OUT" "$secs" "$INTERVAL" "$code" <<'EOF'
import json, re, sys
samples_path, out, secs, interval, code = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
rows = [l.rstrip('\n').split('\t') for l in open(samples_path)][1:]
rows = [[int(x) if x else 0 for x in r] for r in rows if len(r) == 5]
if len(rows) < 3:
    print(f"stability: only {len(rows)} samples of leakhound; nothing to compare")
    sys.exit(code or 1)
# Skip the start-up sample (target launch, before load) when picking "start"; "end" is the last
# sample under load ("final" is the last one taken, often while the report is being written).
loaded = [r for r in rows if r[0] <= secs] or rows
start, middle, end = loaded[min(1, len(loaded) - 1)], loaded[len(loaded) // 2], loaded[-1]
print()
print(f"{'sample':<8}{'t (s)':>8}{'VmRSS MiB':>12}{'RssAnon MiB':>13}{'fds':>6}{'threads':>9}")
for name, r in [('start', start), ('middle', middle), ('end', end), ('final', rows[-1])]:
    print(f"{name:<8}{r[0]:>8}{r[1]/1024:>12.1f}{r[2]/1024:>13.1f}{r[3]:>6}{r[4]:>9}")
print(f"{'min':<8}{'':>8}{min(r[1] for r in rows)/1024:>12.1f}{min(r[2] for r in rows)/1024:>13.1f}{min(r[3] for r in rows):>6}")
print(f"{'max':<8}{'':>8}{max(r[1] for r in rows)/1024:>12.1f}{max(r[2] for r in rows)/1024:>13.1f}{max(r[3] for r in rows):>6}")
print(f"samples: {len(rows)}")

ok = True
span_min = max((end[0] - middle[0]) / 60, 1e-9)
print(f"leakhound RSS: {start[1]/1024:.1f} -> {middle[1]/1024:.1f} -> {end[1]/1024:.1f} MiB; "
      f"second half {(end[1] - middle[1]) / 1024 / span_min:.2f} MiB/min")
grow_kib = end[1] - middle[1]
if grow_kib > max(0.10 * middle[1], 8 * 1024):
    print(f"FAIL: leakhound's RSS grew {grow_kib/1024:.1f} MiB from the middle to the end")
    ok = False
# Open connections come and go with the latency, so compare the floors: a handle leak raises
# the lowest count seen, a busy moment only the highest.
third = max(1, len(loaded) // 3)
floor_mid = min(r[3] for r in loaded[third:2 * third] or loaded)
floor_end = min(r[3] for r in loaded[-third:])
print(f"fd floor: middle third {floor_mid}, last third {floor_end}")
if floor_end > floor_mid + 8:
    print(f"FAIL: the open file handle floor grew from {floor_mid} to {floor_end}")
    ok = False

try:
    run = json.load(open(f"{out}/run.json"))
    summary = json.load(open(f"{out}/summary.json"))
except OSError as e:
    print(f"FAIL: run folder incomplete: {e}")
    sys.exit(1)
ticks = run["timeline"]["ticks"]
m = re.fullmatch(r'(\d+)(ms|s)', interval)
step = int(m.group(1)) / (1000 if m.group(2) == 'ms' else 1) if m else 1.0
expected = int(secs / step)
gaps = [(a["t_s"], b["t_s"]) for a, b in zip(ticks, ticks[1:]) if b["t_s"] - a["t_s"] > 2.5 * step]
with_memory = sum(1 for t in ticks if t.get("memory"))
r = summary["requests"]
print(f"timeline: {len(ticks)} ticks (expected ~{expected + 2}), {with_memory} with memory, "
      f"{len(gaps)} gaps > {2.5*step:g}s; completed={summary['completed']}")
print(f"requests: sent {r['sent']}, completed {r['completed']}, errors {r['errors']}, "
      f"timeouts {r['timeouts']}, overflow {r.get('overflow', 0)}, missed {r.get('missed', 0)}; "
      f"achieved {summary.get('achieved_rate', 0):.0f}/s; p99 {summary['latency_ms']['p99']:.1f} ms")
print(f"target: {summary['memory']['metric']} {summary['memory']['start_bytes']/2**20:.1f} -> "
      f"{summary['memory']['end_bytes']/2**20:.1f} MiB; verdict {summary['leak']['verdict']}")
if not summary["completed"] or gaps or len(ticks) < expected * 0.98:
    print("FAIL: the timeline is not complete")
    ok = False
print("stability: OK" if ok else "stability: FAILED")
sys.exit(0 if ok else 1)
EOF
