#!/usr/bin/env bash
# Renders HTML reports in headless Chromium and saves a PNG screenshot next to each, so a
# person (or CI, as an artifact) can look at what a browser shows.
#
#   scripts/screenshot.sh reports/examples/listener-leak/report.html [more.html ...]
#   scripts/screenshot.sh                      # every report.html / compare.html under reports/examples
#
# Writes <folder>-<page>.png into $SCREENSHOT_DIR (default target/screenshots/), never next to
# the page (reports/examples/ is committed). Exits 0 with a message when Chromium is not
# installed (CI may not have it); exits 1 when Chromium fails or writes no image.
set -euo pipefail

browser=""
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then browser="$b"; break; fi
done
if [[ -z "$browser" ]]; then
  echo "screenshot: chromium is not installed; skipping (apt-get install -y chromium to enable)"
  exit 0
fi

root="$(cd "$(dirname "$0")/.." && pwd)"
pages=("$@")
if [[ ${#pages[@]} -eq 0 ]]; then
  mapfile -t pages < <(find "$root/reports/examples" -name 'report.html' -o -name 'compare.html' | sort)
fi
if [[ ${#pages[@]} -eq 0 ]]; then
  echo "screenshot: no pages given and none under reports/examples"
  exit 0
fi

shots="${SCREENSHOT_DIR:-$root/target/screenshots}"
mkdir -p "$shots"
width="${SCREENSHOT_WIDTH:-1280}"
height="${SCREENSHOT_HEIGHT:-2000}"
status=0
for page in "${pages[@]}"; do
  abs="$(cd "$(dirname "$page")" && pwd)/$(basename "$page")"
  out="$shots/$(basename "$(dirname "$abs")")-$(basename "${abs%.html}").png"
  profile="$(mktemp -d)"
  rm -f "$out"
  # No network: the page must be self-contained; a fetch would fail and show in the image.
  timeout 60 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
    --user-data-dir="$profile" --window-size="$width,$height" \
    --screenshot="$out" "file://$abs" >/dev/null 2>&1 || true
  rm -rf "$profile"
  if [[ -s "$out" ]]; then
    echo "screenshot: $out"
  else
    echo "screenshot: chromium wrote no image for $abs" >&2
    status=1
  fi
done
exit $status
