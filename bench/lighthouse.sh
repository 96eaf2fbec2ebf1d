#!/usr/bin/env bash
# Lighthouse scores of the front, an article, a story and the search page of `tidings demo`.
#
# Lighthouse 12.2.3 (npm, installed into .cache/lighthouse by `make bench-lighthouse`) drives
# Debian's Chromium headless, with its default mobile emulation and simulated throttling, on
# the demo served at 127.0.0.1 (nothing leaves the machine). Prints Performance, Accessibility,
# Best Practices and SEO per page (the median of LIGHTHOUSE_RUNS runs, default 3: on a busy
# machine one run's Performance swings with the CPU), then every audit that did not pass in
# full in the median run. The JSON reports stay in bench/results/lighthouse/.
# Usage: bench/lighthouse.sh [--desktop]
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
LIGHTHOUSE="$ROOT/.cache/lighthouse/node_modules/.bin/lighthouse"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
export CHROME_PATH="${CHROME_PATH:-/usr/bin/chromium}"
RESULTS="$ROOT/bench/results/lighthouse"
PRESET=()
[[ "${1:-}" == "--desktop" ]] && PRESET=(--preset=desktop)

[[ -x "$LIGHTHOUSE" ]] || { echo "Lighthouse is missing: run make bench-lighthouse" >&2; exit 1; }
[[ -x "$CHROME_PATH" ]] || { echo "No Chromium at $CHROME_PATH (apt-get install chromium)" >&2; exit 1; }

free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
SITE_PORT="$(free_port)"
PUBLISHER_PORT="$(free_port)"
WORK="$(mktemp -d)"
mkdir -p "$RESULTS"
TIDINGS_DATABASE_URL="sqlite:///$WORK/demo.db" "$PYTHON" -m tidings demo \
    --port "$SITE_PORT" --publisher-port "$PUBLISHER_PORT" >"$WORK/demo.log" 2>&1 &
DEMO_PID=$!
trap 'kill "$DEMO_PID" 2>/dev/null; wait "$DEMO_PID" 2>/dev/null; rm -rf "$WORK"' EXIT

BASE="http://127.0.0.1:$SITE_PORT"
for _ in $(seq 1 240); do
    curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null && break
    kill -0 "$DEMO_PID" 2>/dev/null || { cat "$WORK/demo.log" >&2; exit 1; }
    sleep 0.5
done
FRONT="$(curl -fsS "$BASE/")"
ARTICLE="$(grep -o 'href="/articles/[0-9]*"' <<<"$FRONT" | head -1 | cut -d'"' -f2)"
STORY="$(grep -o 'href="/stories/[0-9]*"' <<<"$FRONT" | head -1 | cut -d'"' -f2)"
PAGES=("front /" "article $ARTICLE" "story $STORY" "search /search?q=panda+cub")
# Steady state, not start-up: the enrichment loads its vectors in the background after the
# demo starts serving, and the first render of each page warms the app's caches.
sleep "${LIGHTHOUSE_SETTLE_S:-15}"
for page in "${PAGES[@]}"; do
    read -r _ path <<<"$page"
    for _ in 1 2 3; do curl -fsS -o /dev/null "$BASE$path"; done
done

RUNS="${LIGHTHOUSE_RUNS:-3}"
rm -f "$RESULTS"/*.json
for run in $(seq 1 "$RUNS"); do
    for page in "${PAGES[@]}"; do
        read -r name path <<<"$page"
        "$LIGHTHOUSE" "$BASE$path" --quiet "${PRESET[@]}" \
            --only-categories=performance,accessibility,best-practices,seo \
            --chrome-flags="--headless=new --no-sandbox --disable-gpu --no-first-run" \
            --output=json --output-path="$RESULTS/$name-$run.json" >/dev/null
    done
done

"$PYTHON" - "$RESULTS" "${PAGES[@]}" <<'EOF'
import json
import statistics
import sys
from pathlib import Path

results, pages = Path(sys.argv[1]), [page.split(" ", 1) for page in sys.argv[2:]]
categories = ["performance", "accessibility", "best-practices", "seo"]
print("| page | Performance | Accessibility | Best Practices | SEO |")
print("|---|---:|---:|---:|---:|")
failing = []
for name, path in pages:
    runs = [json.loads(file.read_text()) for file in sorted(results.glob(f"{name}-*.json"))]
    runs.sort(key=lambda run: run["categories"]["performance"]["score"])
    report = runs[len(runs) // 2]  # the median run by Performance, for the audit list
    scores = [
        round(statistics.median(run["categories"][c]["score"] for run in runs) * 100)
        for c in categories
    ]
    print(f"| {name} (`{path.split('?')[0]}`) | " + " | ".join(map(str, scores)) + " |")
    for category in categories:
        for ref in report["categories"][category]["auditRefs"]:
            audit = report["audits"][ref["id"]]
            if ref["weight"] and audit["score"] is not None and audit["score"] < 1:
                failing.append(f"{name}: {category}/{ref['id']} {audit['score']:.2f} "
                               f"{audit.get('displayValue', '')}")
if failing:
    print("\nAudits not passed in full:")
    print("\n".join(failing))
EOF
