#!/usr/bin/env bash
# Serve a synthetic store (bench/scale.py) and measure five pages with wrk.
#
#   bench/serve.sh SIZE DB [SECONDS]      e.g. bench/serve.sh 1000000 sqlite
#
# Builds the store if it is not built yet (reused otherwise), starts `tidings serve` (one
# uvicorn process, scheduler off) pinned to core 0, warms each page, then runs
# `wrk -t1 -c16 --latency` pinned to core 1 for SECONDS (default 15) per page and prints
# req/s, p50 and p99. Pages: front, an article, a story, a hashtag, a search, and a random
# article per request (so rarely in the page micro-cache: the cost of rendering).
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE=${1:?usage: bench/serve.sh SIZE sqlite|postgresql [SECONDS]}
DB=${2:?usage: bench/serve.sh SIZE sqlite|postgresql [SECONDS]}
SECONDS_PER_PAGE=${3:-15}
PORT=${PORT:-8765}
BIN=.venv/bin

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
$BIN/python bench/scale.py --size "$SIZE" --database "$DB"
URL=$($BIN/python bench/scale.py --size "$SIZE" --database "$DB" --print-url)

LOG=$(mktemp /tmp/tidings-serve-XXXX.log)
TIDINGS_DATABASE_URL=$URL TIDINGS_SCHEDULER_ENABLED=false \
    taskset -c 0 $BIN/tidings serve --port "$PORT" --no-scheduler >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -f "$LOG"' EXIT
for _ in $(seq 1 600); do
    curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
    kill -0 $SERVER 2>/dev/null || { cat "$LOG" >&2; exit 1; }
    sleep 0.2
done

# An article and a story from the middle of the store, the most used hashtag, a common word.
ARTICLE=$((SIZE / 2))
STORY=$((SIZE / 10))
PAGES=(
    "front /"
    "article /articles/$ARTICLE"
    "story /stories/$STORY"
    "tag /tags/topic1"
    "search /search?q=council+vote"
    "random /articles/1"  # any of the SIZE articles per request (bench/random_articles.lua)
)

# The page micro-cache (web/microcache.py) answers repeated anonymous pages from memory;
# TIDINGS_PAGE_CACHE_S=0 bench/serve.sh … measures rendering every request.
CACHE=$([ "${TIDINGS_PAGE_CACHE_S:-5}" = 0 ] && echo off || echo on)
printf '%-8s %-7s %-6s %-8s %10s %9s %9s\n' size db cache page "req/s" "p50 ms" "p99 ms"
for entry in "${PAGES[@]}"; do
    name=${entry%% *}
    path=${entry#* }
    status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT$path")
    [ "$status" = 200 ] || { echo "$path answered $status" >&2; exit 1; }
    script=()
    [ "$name" = random ] && script=(-s bench/random_articles.lua)
    taskset -c 1 wrk -t1 -c16 -d2s "${script[@]}" "http://127.0.0.1:$PORT$path" >/dev/null  # warm-up
    out=$(ARTICLES=$SIZE taskset -c 1 wrk -t1 -c16 -d"${SECONDS_PER_PAGE}s" --latency "${script[@]}" \
        "http://127.0.0.1:$PORT$path")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errors=$(awk '/Non-2xx|Socket errors/' <<<"$out")
    [ -z "$errors" ] || echo "warning: $path: $errors" >&2
    # wrk prints 950.00us / 12.34ms / 1.20s: turn each into milliseconds.
    to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/ && v !~ /ms$/) n *= 1000; printf "%.1f", n }'; }
    printf '%-8s %-7s %-6s %-8s %10.0f %9s %9s\n' "$SIZE" "$DB" "$CACHE" "$name" "$rps" "$(to_ms "$p50")" "$(to_ms "$p99")"
done
