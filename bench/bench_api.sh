#!/bin/sh
# bench_api.sh — HTTP throughput and latency of the API under wrk, next to
# the server's floor (GET /healthz) measured in the same run.
#
# Prepares one SQLite store with the binary itself (sim provider, fixed
# --now): AAPL 1m over 39 days (~10k bars) and MSFT 1m over 377 days (~100k
# bars), both fully covered by `jobs add` + `tick --wait`. Then starts
# `serve --workers 0` on a free port (port_file) at the same --now and runs
# wrk (--latency, 2 threads, 16 connections, DURATION s each) against:
#   healthz      GET /healthz                                (baseline: the floor)
#   ensure       POST ensure-coverage AAPL 1m 39 days        (already covered)
#   chart-10k    POST chart-data-v2 AAPL 1m 39 days
#   chart-100k   POST chart-data-v2 MSFT 1m 377 days
# wrk shares the 2 cores with the server, so absolute figures are a floor.
# Builds nothing. Needs wrk (apt-get install -y wrk) and curl.
#
# Usage: bench/bench_api.sh [BARKEEP [DURATION_S]]
#        (defaults: build/bench/barkeep, 10)
set -eu

BIN=${1:-build/bench/barkeep}
DUR=${2:-10}
NOW=2025-06-02T20:05:00Z # a Monday, five minutes after the close
THREADS=2
CONNS=16

case $DUR in '' | *[!0-9]*) echo "bench_api: DURATION_S must be a number" >&2; exit 2 ;; esac
if [ "$DUR" -lt 1 ] || [ "$DUR" -gt 120 ]; then echo "bench_api: DURATION_S in 1..120" >&2; exit 2; fi
[ -x "$BIN" ] || { echo "bench_api: $BIN is not executable" >&2; exit 2; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get install -y wrk >/dev/null
    else
        echo "bench_api: wrk not found (apt-get install -y wrk)" >&2
        exit 2
    fi
fi
command -v curl >/dev/null 2>&1 || { echo "bench_api: curl not found" >&2; exit 2; }

DIR=$(mktemp -d "${TMPDIR:-/tmp}/bk-bench-api-XXXXXX")
PID=
cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill "$PID" 2>/dev/null || true
        i=0
        while kill -0 "$PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$PID" 2>/dev/null || true
    fi
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

DB=$DIR/api.db
bk() { timeout 300 "$BIN" --db "$DB" --now "$NOW" --log-level warn "$@"; }

# ---- the data ----
t0=$(date +%s)
bk jobs add AAPL 1m --window-days 39 >/dev/null
bk jobs add MSFT 1m --window-days 377 >/dev/null
bk tick --wait --workers 2 >"$DIR/tick.log" 2>&1 || { cat "$DIR/tick.log" >&2; exit 1; }
echo "prepared $DB in $(($(date +%s) - t0)) s: $(tail -1 "$DIR/tick.log")"

# ---- the server ----
timeout 600 "$BIN" --db "$DB" --now "$NOW" --log-level warn --set listen=127.0.0.1:0 \
    --set "port_file=$DIR/port" serve --workers 0 >"$DIR/serve.log" 2>&1 &
PID=$!
i=0
while [ ! -s "$DIR/port" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$DIR/port" ] || { echo "bench_api: serve did not start" >&2; cat "$DIR/serve.log" >&2; exit 1; }
URL=http://127.0.0.1:$(cat "$DIR/port")

# ---- the requests ----
post_script() { # name body
    cat >"$DIR/$1.lua" <<EOF
wrk.method = "POST"
wrk.body = '$2'
wrk.headers["Content-Type"] = "application/json"
EOF
}
B_ENSURE='{"symbol":"AAPL","timeframe":"1m","window_days":39}'
B_CHART10K='{"symbol":"AAPL","timeframe":"1m","days":39}'
B_CHART100K='{"symbol":"MSFT","timeframe":"1m","days":377}'
post_script ensure "$B_ENSURE"
post_script chart10k "$B_CHART10K"
post_script chart100k "$B_CHART100K"

# Check each request once by hand: status, answer size, bar count.
probe() { # name path [body]
    if [ $# -gt 2 ]; then
        res=$(curl -sS --max-time 30 -o "$DIR/$1.out" -w '%{http_code} %{size_download}' \
            -H 'Content-Type: application/json' -d "$3" "$URL$2")
    else
        res=$(curl -sS --max-time 30 -o "$DIR/$1.out" -w '%{http_code} %{size_download}' "$URL$2")
    fi
    detail=$(grep -o '"total_bars":[0-9]*\|"status":"[a-z_]*"\|"slices_enqueued":[0-9]*' \
        "$DIR/$1.out" | tr '\n' ' ')
    printf '%-11s %s  %s\n' "$1" "$res" "$detail"
    case $res in 200\ *) ;; *) echo "bench_api: $1 answered $res" >&2; exit 1 ;; esac
}
echo "request     status bytes  detail"
probe healthz /healthz
probe ensure /functions/v1/ensure-coverage "$B_ENSURE"
probe chart10k /functions/v1/chart-data-v2 "$B_CHART10K"
probe chart100k /functions/v1/chart-data-v2 "$B_CHART100K"

run_wrk() { # name path [script]
    if [ $# -gt 2 ]; then set -- "$1" "$2" -s "$DIR/$3.lua"; fi
    name=$1
    path=$2
    shift 2
    timeout $((DUR + 30)) wrk -t$THREADS -c$CONNS -d"${DUR}s" --timeout 10s --latency "$@" \
        "$URL$path" >"$DIR/$name.wrk" 2>&1 || { cat "$DIR/$name.wrk" >&2; exit 1; }
}
# wrk prints "50%  1.23ms": normalise to milliseconds.
ms() { # name percentile
    awk -v p="$2%" '$1 == p {
        v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
        if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000;
        printf "%.2f", v }' "$DIR/$1.wrk"
}
row() { # name label
    rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$DIR/$1.wrk")
    n=$(awk '/requests in/ { print $1 }' "$DIR/$1.wrk")
    bad=$(awk '/Non-2xx/ { print $NF }' "$DIR/$1.wrk")
    errs=$(awk '/Socket errors/ { sub(/^ *Socket errors: */, ""); print }' "$DIR/$1.wrk")
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$2" "$rps" "$(ms "$1" 50)" "$(ms "$1" 90)" \
        "$(ms "$1" 99)" "$n" "${bad:-0}${errs:+; $errs}"
}

run_wrk healthz /healthz
run_wrk ensure /functions/v1/ensure-coverage ensure
run_wrk chart10k /functions/v1/chart-data-v2 chart10k
run_wrk chart100k /functions/v1/chart-data-v2 chart100k

echo
echo "wrk -t$THREADS -c$CONNS -d${DUR}s --latency, server: serve --workers 0 (http_threads default)"
echo "| request | req/s | p50 ms | p90 ms | p99 ms | requests | non-2xx / errors |"
echo "|---|---|---|---|---|---|---|"
row healthz "GET /healthz (baseline: floor)"
row ensure "POST ensure-coverage, covered series"
row chart10k "POST chart-data-v2, $(grep -o '"total_bars":[0-9]*' "$DIR/chart10k.out" | cut -d: -f2) bars"
row chart100k "POST chart-data-v2, $(grep -o '"total_bars":[0-9]*' "$DIR/chart100k.out" | cut -d: -f2) bars"
