#!/bin/sh
# A backfill from a rate-limited Massive-format server into PostgreSQL,
# barkeep against the Node stack a developer would assemble (issue 18), in
# one run on one throwaway PostgreSQL cluster, with the same server and the
# same checks:
#   barkeep     the build's real binary: `barkeep --now NOW jobs add SYM TF
#               --window-days 14` per series, then `tick --wait`, default
#               settings except the provider (massive_url, its key, a budget
#               of RATE/s burst BURST, provider_timeout_ms 5000)
#   Node stack  bench/peers/nodestack.mjs: pg-boss 10, @massive.com/client-js,
#               bottleneck (RATE/s burst BURST), node-postgres; one job per
#               symbol, timeframe and trading day (one per symbol for d1),
#               a batched upsert per job; request timeout 5000 ms
# Each run gets a fresh database and a fresh bench_massive_server (pages of
# at most 5,000 bars, a token bucket answering 429 beyond RATE/s burst
# BURST, a fault fraction: 500, 503, a stall of 8 s, malformed JSON, a bar
# with high < low). The 10 sessions are 2026-11-09..2026-11-20, the clock
# is pinned at 2026-11-21T12:00:00Z.
#
# Scenarios (all by default, or name some):
#   base     20 symbols x 10 sessions of 1m at 20 req/s burst 20
#   faults   the same with 30% faults
#   multi    20 symbols x 10 sessions of 1m, 15m and d1 at 20 req/s
#   slow     3 symbols x 10 sessions of 1m at 0.2 req/s burst 1 (barkeep only)
#   sqlite   bench_backfill: the sim backfill on SQLite against a raw upsert
#
# Per run it prints: requests (429s, faults) next to the provider minimum
# (pages the bars need at 5,000 a page), wall next to requests / rate,
# client CPU (barkeep's or node's process, user + sys), PostgreSQL CPU (the
# postmaster and its children, from /proc, before and after) in total and per
# 1,000 stored bars, statements per provider request (pg_stat_statements:
# calls in the run's database), and the check of the stored bars against
# the server's expected ones (series stored exactly: same labels and whole-
# cent OHLC and volume; bars with high < low or outside [low, high]). For
# barkeep runs the top statements by calls follow (BK_BENCH_TOP, default 8).
#
# usage: bench/bench_fetch.sh BUILD_DIR [SCENARIO...]
#   e.g. bench/bench_fetch.sh build/bench
# Builds nothing (build with the bench preset first). Runs itself under
# scripts/with-pg.sh with pg_stat_statements preloaded; installs the Node
# packages with `npm ci` in bench/peers when node_modules is missing. The
# figures are recorded in docs/BENCHMARKS.md.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 1 ]; then
    echo "usage: $0 BUILD_DIR [base|faults|multi|slow|sqlite]..." >&2
    exit 2
fi
build=$(cd "$1" && pwd)
shift
scenarios=${*:-base faults multi slow sqlite}
for s in $scenarios; do
    case $s in
    base | faults | multi | slow | sqlite) ;;
    *)
        echo "$0: unknown scenario $s" >&2
        exit 2
        ;;
    esac
done
if [ -z "${BK_TEST_DB_URL:-}" ]; then
    BK_WITH_PG_OPTIONS="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c max_connections=200"
    export BK_WITH_PG_OPTIONS
    exec "$root/scripts/with-pg.sh" "$0" "$build" $scenarios
fi

barkeep=$build/barkeep
server=$build/bench/bench_massive_server
pgcpu=$build/bench/bench_pgcpu
for b in "$barkeep" "$server" "$pgcpu"; do
    [ -x "$b" ] || {
        echo "$0: $b missing (cmake --preset bench && cmake --build --preset bench)" >&2
        exit 1
    }
done
admin=$BK_TEST_DB_URL
base_url=${admin%/*}
NOW=2026-11-21T12:00:00Z
FIRST=2026-11-09
LAST=2026-11-20
PAGE=5000
STALL_MS=8000
TIMEOUT_MS=5000
KEY=bench-key-0123456789
SYMBOLS="AAPL MSFT NVDA AMZN GOOG META TSLA AVGO JPM LLY V UNH XOM MA COST HD PG JNJ ABBV WMT"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bk-bench-fetch.XXXXXX")
srv_pid=""
cleanup() {
    if [ -n "$srv_pid" ]; then
        kill "$srv_pid" 2>/dev/null || true
        wait "$srv_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
rows=$tmp/rows
: >"$rows"
dates=$("$server" sessions "$FIRST" "$LAST" | paste -sd, -)

psql "$admin" -q -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null 2>&1 ||
    echo "note: pg_stat_statements unavailable: statements not counted"
echo "== machine: $(nproc) CPU, $(psql "$admin" -Atc 'SELECT version()' | cut -d, -f1)," \
    "node $(node --version 2>/dev/null || echo missing), sessions $dates"

peers=$root/bench/peers
if [ ! -d "$peers/node_modules" ]; then
    (cd "$peers" && npm ci --no-audit --no-fund >"$tmp/npm.out" 2>&1) ||
        {
            cat "$tmp/npm.out" >&2
            echo "NOTE|npm ci in bench/peers failed: the Node stack not measured" >>"$rows"
        }
fi

# first NAME: the first N symbols
first() {
    echo "$SYMBOLS" | tr ' ' '\n' | head -n "$1" | paste -sd' ' -
}

start_server() { # RATE BURST FAULTS
    rm -f "$tmp/port" "$tmp/stats"
    "$server" serve --port-file "$tmp/port" --stats-file "$tmp/stats" --rate "$1" \
        --burst "$2" --page-max "$PAGE" --faults "$3" --seed 7 --stall-ms "$STALL_MS" \
        2>"$tmp/server.err" &
    srv_pid=$!
    i=0
    while [ ! -s "$tmp/port" ]; do
        i=$((i + 1))
        [ $i -lt 200 ] || {
            echo "$0: the server did not start" >&2
            exit 1
        }
        sleep 0.05
    done
    port=$(cat "$tmp/port")
}

stop_server() {
    kill "$srv_pid"
    wait "$srv_pid" || true
    srv_pid=""
}

stat() { # NAME: a count of the server's stats file
    awk -v k="$1" '$1 == k { print $2 }' "$tmp/stats"
}

# run LABEL SYSTEM(barkeep|node) TFS NSYM RATE BURST FAULTS [--set NAME=VALUE...]
run() {
    label=$1 system=$2 tfs=$3 nsym=$4 rate=$5 burst=$6 faults=$7
    shift 7
    syms=$(first "$nsym")
    db=bk_fetch_$(date +%s%N | tail -c 9)
    psql "$admin" -q -c "CREATE DATABASE $db" >/dev/null
    url=$base_url/$db
    psql "$url" -q -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null 2>&1 || true
    start_server "$rate" "$burst" "$faults"
    common="--db $url --now $NOW --log-level warn --set massive_url=http://127.0.0.1:$port \
--set providers=massive --set provider_rates=massive=$rate/$burst \
--set provider_timeout_ms=$TIMEOUT_MS"
    if [ "$system" = barkeep ]; then
        # shellcheck disable=SC2086
        MASSIVE_API_KEY=$KEY "$barkeep" $common "$@" migrate >/dev/null
        for s in $syms; do
            for tf in $(echo "$tfs" | tr , ' '); do
                # shellcheck disable=SC2086
                MASSIVE_API_KEY=$KEY "$barkeep" $common "$@" jobs add "$s" "$tf" \
                    --window-days 14 >/dev/null
            done
        done
    fi
    psql "$url" -q -Atc "SELECT pg_stat_statements_reset()" >/dev/null 2>&1 || true
    cpu0=$("$pgcpu" "$url")
    if [ "$system" = barkeep ]; then
        # shellcheck disable=SC2086
        MASSIVE_API_KEY=$KEY /usr/bin/time -f "%e %U %S" -o "$tmp/time" \
            "$barkeep" $common "$@" tick --wait >"$tmp/out" 2>&1 || {
            cat "$tmp/out" >&2
            echo "NOTE|$label: barkeep failed" >>"$rows"
        }
        table=ohlc_bars_v2
    else
        MASSIVE_API_KEY=$KEY RATE=$rate BURST=$burst TIMEOUT_MS=$TIMEOUT_MS \
            /usr/bin/time -f "%e %U %S" -o "$tmp/time" \
            node "$peers/nodestack.mjs" "$url" "http://127.0.0.1:$port" \
            "$(echo "$syms" | tr ' ' ,)" "$tfs" "$dates" >"$tmp/out" 2>&1 || {
            cat "$tmp/out" >&2
            echo "NOTE|$label: the Node stack failed" >>"$rows"
        }
        table=bars
    fi
    cpu1=$("$pgcpu" "$url")
    tail -n 3 "$tmp/out" | grep -v '^ROW|' | sed 's/^/  /' || true
    stmts=$(psql "$url" -Atc "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())" \
        2>/dev/null || echo "")
    if [ "$system" = barkeep ] && [ "${BK_BENCH_TOP:-8}" -gt 0 ]; then
        echo "  top statements by calls (calls, total ms, query):"
        psql "$url" -Atc "SELECT calls, round(total_exec_time::numeric, 1),
              left(regexp_replace(query, '\\s+', ' ', 'g'), 110)
            FROM pg_stat_statements
            WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            ORDER BY calls DESC LIMIT ${BK_BENCH_TOP:-8}" 2>/dev/null |
            sed 's/^/    /' || true
    fi
    stop_server
    # the check: expected bars from the server, compared in SQL
    for tf in $(echo "$tfs" | tr , ' '); do
        # shellcheck disable=SC2086
        "$server" expect "$FIRST" "$LAST" "$tf" $syms
    done >"$tmp/expected.csv"
    psql "$url" -q -v ON_ERROR_STOP=1 >/dev/null <<EOF
CREATE TEMP TABLE IF NOT EXISTS x (symbol text, tf text, ts_ms bigint, o bigint, h bigint,
  l bigint, c bigint, v bigint);
\copy x FROM '$tmp/expected.csv' WITH (FORMAT csv)
CREATE TABLE bench_check AS
WITH s AS (
  SELECT symbol, timeframe AS tf, (extract(epoch FROM ts) * 1000)::bigint AS ts_ms,
         round(open * 100)::bigint AS o, round(high * 100)::bigint AS h,
         round(low * 100)::bigint AS l, round(close * 100)::bigint AS c,
         round(volume)::bigint AS v, (high < low OR high < greatest(open, close)
           OR low > least(open, close)) AS invalid
    FROM $table)
SELECT coalesce(s.symbol, x.symbol) AS symbol, coalesce(s.tf, x.tf) AS tf,
       count(*) FILTER (WHERE s.ts_ms IS NOT NULL) AS stored,
       count(*) FILTER (WHERE s.invalid) AS invalid,
       count(*) FILTER (WHERE x.ts_ms IS NULL OR s.ts_ms IS NULL OR (s.o, s.h, s.l, s.c, s.v)
                        IS DISTINCT FROM (x.o, x.h, x.l, x.c, x.v)) AS wrong
  FROM s FULL JOIN x ON (s.symbol, s.tf, s.ts_ms) = (x.symbol, x.tf, x.ts_ms)
 GROUP BY 1, 2;
EOF
    check=$(psql "$url" -Atc "SELECT count(*) FILTER (WHERE wrong = 0), count(*),
        sum(stored), sum(invalid) FROM bench_check")
    series_ok=$(echo "$check" | cut -d'|' -f1)
    series=$(echo "$check" | cut -d'|' -f2)
    stored=$(echo "$check" | cut -d'|' -f3)
    invalid=$(echo "$check" | cut -d'|' -f4)
    expected=$(wc -l <"$tmp/expected.csv")
    # provider minimum: pages of PAGE bars per series
    minimum=$(awk -F, -v p="$PAGE" '{ n[$1 "," $2]++ } END { for (k in n) m += int((n[k] + p - 1) / p); print m }' "$tmp/expected.csv")
    set -- $(tail -n 1 "$tmp/time")
    wall=$1 cpu_client=$(awk -v u="$2" -v s="$3" 'BEGIN { printf "%.2f", u + s }')
    req=$(stat requests) r429=$(stat rate_limited) nf=$(stat faults)
    psql "$admin" -q -c "DROP DATABASE $db" >/dev/null 2>&1 || true
    awk -v label="$label" -v req="$req" -v r429="$r429" -v nf="$nf" -v min="$minimum" \
        -v wall="$wall" -v rate="$rate" -v cc="$cpu_client" -v c0="$cpu0" -v c1="$cpu1" \
        -v stored="$stored" -v stmts="$stmts" -v ok="$series_ok" -v series="$series" \
        -v invalid="$invalid" -v expected="$expected" 'BEGIN {
        pg = c1 - c0
        per = stored > 0 ? sprintf("%.3f", pg * 1000 / stored) : "-"
        spr = stmts != "" && req > 0 ? sprintf("%.1f", stmts / req) : "-"
        printf "ROW|%s|%d (%d, %d)|%d|%.1f|%.1f|%.2f|%.2f|%s|%s|%d/%d|%d of %d|%d\n", label, req,
            r429, nf, min, wall, req / rate, cc, pg, per, spr, ok, series, stored, expected, invalid
    }' | tee -a "$rows" | sed 's/^ROW|/  /'
}

for s in $scenarios; do
    case $s in
    base)
        echo "== base: 20 symbols x 10 sessions of 1m, 20 req/s burst 20"
        run "barkeep, defaults" barkeep 1m 20 20 20 0
        run "Node stack" node 1m 20 20 20 0
        ;;
    faults)
        echo "== faults: the same with 30% faults"
        run "barkeep defaults, 30% faults" barkeep 1m 20 20 20 0.3
        run "Node stack, 30% faults" node 1m 20 20 20 0.3
        ;;
    multi)
        echo "== multi: 1m + 15m + d1, 20 req/s burst 20"
        run "barkeep defaults, 1m + 15m + d1" barkeep 1m,15m,d1 20 20 20 0
        run "Node stack, 1m + 15m + d1" node 1m,15m,d1 20 20 20 0
        ;;
    slow)
        echo "== slow: 3 symbols x 10 sessions of 1m at 0.2 req/s burst 1"
        run "barkeep defaults, 3 symbols at 0.2 req/s" barkeep 1m 3 0.2 1 0
        ;;
    sqlite)
        echo "== sqlite: bench_backfill (sim backfill on SQLite against a raw upsert)"
        "$build/bench/bench_backfill" | tee "$tmp/backfill.out"
        echo "NOTE|embedded store: $(grep -i 'raw\|ratio' "$tmp/backfill.out" | tail -n 2 | paste -sd' ' -)" >>"$rows"
        ;;
    esac
done

echo
echo "| run | requests (429s, faults) | provider minimum | wall s | requests / rate s | client CPU s | PostgreSQL CPU s | PostgreSQL CPU s per 1,000 bars | statements per request | series exact | bars stored | invalid stored |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
grep '^ROW|' "$rows" | awk -F'|' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 }'
grep '^NOTE|' "$rows" | sed 's/^NOTE|/note: /' || true
