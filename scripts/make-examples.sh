#!/usr/bin/env bash
# Regenerates reports/examples/ with the real tool: the listener-leak zoo target
# (tests/targets/listener-leak.js), its fix (listener-fixed.js), and their comparison.
# Needs node on PATH; takes about 40 s of real load on loopback (port 3101).
#
#   scripts/make-examples.sh
#
# run.json (the whole timeline), target.log and the SVG files (already inlined in the HTML)
# are left out to keep the committed size small.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release
# On PATH as plain `leakhound`, so the reports' "how to reproduce" lines read naturally.
export PATH="$PWD/target/release:$PATH"
out=reports/examples
rm -rf "$out/listener-leak" "$out/listener-fixed" "$out/compare"

# Exit 1 is expected for the leak (a failed threshold): keep going.
leakhound run scenarios/listener-leak.yaml --out "$out/listener-leak" --no-progress || true
leakhound run scenarios/listener-leak.yaml --out "$out/listener-fixed" --no-progress \
  --set target.command.1=../tests/targets/listener-fixed.js || true
leakhound compare "$out/listener-leak" "$out/listener-fixed" --out "$out/compare" || true

rm -f "$out"/*/run.json "$out"/*/target.log "$out"/*/*.svg
du -sh "$out"
