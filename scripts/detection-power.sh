#!/usr/bin/env bash
# detection-power.sh: how small a leak leakhound catches, and how often it cries wolf.
#
# A benchmark, not a test. For a tunable leak of B bytes per request
# (tests/targets/tunable-leak.js, LEAK_BYTES=B) and a budget of N requests per run, it runs
# leakhound REPEATS times per (B, N) and counts how often the verdict is `leak`; the smallest B
# flagged in >= 95% of runs is the detection limit for N requests. Then it runs the
# non-leaking targets (tunable-leak with LEAK_BYTES=0, clean.js, and the fixed twins given with
# --fp-targets) REPEATS times each and counts any `leak` or `time_growth` verdict as a false
# positive. Prints two tables (Markdown) on stdout; per-run lines go to stderr.
#
#   scripts/detection-power.sh [--bytes 64,128,256,512,1024] [--requests 5000,20000,50000]
#       [--repeats 5] [--rate 1500] [--limit 128B] [--metric rss_anon]
#       [--fp-targets clean.js,listener-fixed.js,...] [--fp-requests 20000]
#       [--budget 1800] [--bin target/release/leakhound] [--keep DIR]
#
# Each run: a 2 s warm-up at the rate (not counted in N), then N requests at the rate (open
# model; the soak phase lasts N / rate seconds), memory sampled every 250 ms, the
# leak_per_request threshold at --limit (leakhound's default 128B). Node targets run with
# NODE_OPTIONS=--max-semi-space-size=1 like the example scenarios.
# Loopback only (127.0.0.1, a free port per run); every run is bounded by its phases plus a
# 60 s grace (`timeout`), leakhound stops its target, and the whole script refuses to start a
# plan longer than --budget seconds (default 30 minutes). With 95% as the bar, fewer than 20
# repeats means "flagged in every run".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bytes=64,128,256,512,1024
requests=5000,20000,50000
repeats=5
rate=1500
limit=128B
metric=rss_anon
fp_targets=clean.js,listener-fixed.js,cache-fixed.js,promise-fixed.js,metrics-fixed.js
fp_requests=20000
budget=1800
bin=$root/target/release/leakhound
keep=

# The header comment above, without the leading "# ".
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --bytes) bytes=$2; shift 2 ;;
        --requests) requests=$2; shift 2 ;;
        --repeats) repeats=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        --limit) limit=$2; shift 2 ;;
        --metric) metric=$2; shift 2 ;;
        --fp-targets) fp_targets=$2; shift 2 ;;
        --fp-requests) fp_requests=$2; shift 2 ;;
        --budget) budget=$2; shift 2 ;;
        --bin) bin=$2; shift 2 ;;
        --keep) keep=$2; shift 2 ;;
        -h|--help) usage 0 ;;
        *) echo "detection-power: unknown option $1" >&2; usage 2 >&2 ;;
    esac
done

num_list() { [[ $1 =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "detection-power: $2 must be a comma list of whole numbers, got '$1'" >&2; exit 2; }; }
num_list "$bytes" --bytes
num_list "$requests" --requests
[[ $repeats =~ ^[0-9]+$ && $repeats -ge 1 && $repeats -le 100 ]] || { echo "detection-power: --repeats must be 1..100" >&2; exit 2; }
[[ $rate =~ ^[0-9]+$ && $rate -ge 10 && $rate -le 20000 ]] || { echo "detection-power: --rate must be 10..20000" >&2; exit 2; }
[[ $fp_requests =~ ^[0-9]+$ ]] || { echo "detection-power: --fp-requests must be a whole number" >&2; exit 2; }
[ -x "$bin" ] || { echo "detection-power: no leakhound binary at $bin (cargo build --release)" >&2; exit 2; }
command -v node >/dev/null || { echo "detection-power: node is required" >&2; exit 2; }
IFS=, read -r -a B_LIST <<<"$bytes"
IFS=, read -r -a N_LIST <<<"$requests"
IFS=, read -r -a FP_LIST <<<"$fp_targets"
for f in "${FP_LIST[@]}"; do
    [ -z "$f" ] || [ -f "tests/targets/$f" ] || { echo "detection-power: no target tests/targets/$f" >&2; exit 2; }
done

# Milliseconds of load for N requests at the rate (at least 1 s); seconds, rounded up.
soak_ms() { local ms=$(( $1 * 1000 / rate )); echo $(( ms < 1000 ? 1000 : ms )); }
soak_s() { echo $(( ($(soak_ms "$1") + 999) / 1000 )); }
plan=0
for n in "${N_LIST[@]}"; do plan=$(( plan + ${#B_LIST[@]} * repeats * ($(soak_s "$n") + 2 + 3) )); done
plan=$(( plan + (${#FP_LIST[@]} + 1) * repeats * ($(soak_s "$fp_requests") + 2 + 3) ))
echo "detection-power: ~${plan}s planned (budget ${budget}s)" >&2
if [ "$plan" -gt "$budget" ]; then
    echo "detection-power: the plan (~${plan}s) exceeds --budget ${budget}s; use fewer --repeats, --bytes or --requests" >&2
    exit 2
fi

work=$(mktemp -d -t leakhound-power-XXXXXX)
if [ -n "$keep" ]; then mkdir -p "$keep"; work=$keep; fi
cleanup() { [ -n "$keep" ] || rm -rf "$work"; }
trap cleanup EXIT

free_port() {
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# run_one NAME TARGET_JS LEAK_BYTES N [PATH] -> prints "verdict estimate low high sent"
run_one() {
    local name=$1 js=$2 leak=$3 n=$4 path=${5:-'/work?id={{seq}}'}
    local port dur ms out scen
    port=$(free_port)
    dur=$(soak_s "$n")
    ms=$(soak_ms "$n")
    out="$work/$name"
    scen="$work/$name.yaml"
    rm -rf "$out"
    cat >"$scen" <<EOF
name: power-$name
target:
  base_url: http://127.0.0.1:$port
  command: [node, $root/tests/targets/$js]
  env: {PORT: "$port", LEAK_BYTES: "$leak", NODE_OPTIONS: "--max-semi-space-size=1"}
  ready: {path: /health, timeout: 10s}
memory:
  interval: 250ms
  metric: $metric
load:
  model: open
  timeout: 5s
  phases:
    - {name: warmup, duration: 2s, rate: $rate}
    - {name: soak, duration: ${ms}ms, rate: $rate}
requests:
  - name: work
    path: $path
thresholds:
  leak_per_request: $limit
EOF
    timeout $(( dur + 62 )) "$bin" run "$scen" --out "$out" --no-progress >"$out.log" 2>&1 || true
    node -e '
      const fs = require("fs");
      try {
        const s = JSON.parse(fs.readFileSync(process.argv[1] + "/summary.json", "utf8"));
        const b = s.leak.bytes_per_request;
        console.log([s.leak.verdict, Math.round(b.estimate), Math.round(b.low), Math.round(b.high), s.requests.sent].join(" "));
      } catch (e) {
        console.log("error 0 0 0 0");
      }' "$out"
}

# The request path each non-leaking target serves (GET; every target accepts any method).
fp_path() {
    case "$1" in
        listener-fixed.js) echo '/process?id={{seq}}' ;;
        cache-fixed.js) echo '/users/{{seq}}?x={{seq}}' ;;
        promise-fixed.js) echo '/checkout' ;;
        metrics-fixed.js) echo '/api/items/{{seq}}' ;;
        *) echo '/work?id={{seq}}' ;;
    esac
}

declare -A flagged
echo "== detection: tunable-leak.js, rate ${rate}/s, limit $limit, $repeats repeats" >&2
for n in "${N_LIST[@]}"; do
    for b in "${B_LIST[@]}"; do
        hits=0
        for r in $(seq 1 "$repeats"); do
            read -r v est lo hi sent < <(run_one "leak-$b-$n-$r" tunable-leak.js "$b" "$n")
            [ "$v" = leak ] && hits=$(( hits + 1 ))
            echo "  B=$b N=$n run $r: $v ${est} [${lo}, ${hi}] B/req, sent $sent" >&2
        done
        flagged[$b,$n]=$hits
    done
done

echo "== false positives: $fp_requests requests per run, $repeats repeats" >&2
declare -A fp
fp_names=("tunable-leak.js(LEAK_BYTES=0)")
for f in "${FP_LIST[@]}"; do [ -n "$f" ] && fp_names+=("$f"); done
for name in "${fp_names[@]}"; do
    js=${name%%(*}
    bad=0
    verdicts=
    for r in $(seq 1 "$repeats"); do
        if [ "$js" = tunable-leak.js ]; then
            read -r v est lo hi sent < <(run_one "fp-zero-$r" tunable-leak.js 0 "$fp_requests")
        else
            read -r v est lo hi sent < <(run_one "fp-${js%.js}-$r" "$js" 0 "$fp_requests" "$(fp_path "$js")")
        fi
        case "$v" in leak|time_growth) bad=$(( bad + 1 )) ;; esac
        verdicts="$verdicts $v"
        echo "  $name run $r: $v ${est} [${lo}, ${hi}] B/req, sent $sent" >&2
    done
    fp[$name]="$bad/$repeats ($(echo "$verdicts" | tr ' ' '\n' | sed '/^$/d' | sort | uniq -c | awk '{printf "%s%s x%s", (NR>1?", ":""), $2, $1}'))"
done

echo
echo "### Detection power (tunable-leak.js, $metric, rate ${rate}/s after a 2 s warm-up, limit $limit, $repeats runs per cell)"
echo
header="| requests after warm-up |"
sep="|---:|"
for b in "${B_LIST[@]}"; do header="$header ${b} B |"; sep="$sep---:|"; done
echo "$header smallest B flagged in >= 95% |"
echo "$sep---:|"
for n in "${N_LIST[@]}"; do
    row="| $n |"
    smallest="none"
    for b in "${B_LIST[@]}"; do
        h=${flagged[$b,$n]}
        row="$row $h/$repeats |"
        # >= 95% of runs: h * 100 >= 95 * repeats.
        if [ "$smallest" = none ] && [ $(( h * 100 )) -ge $(( 95 * repeats )) ]; then smallest="$b B"; fi
    done
    echo "$row $smallest |"
done
echo
echo "### False positives (verdict leak or time_growth; $fp_requests requests per run)"
echo
echo "| target | false positives (verdicts) |"
echo "|---|---|"
for name in "${fp_names[@]}"; do echo "| $name | ${fp[$name]} |"; done
