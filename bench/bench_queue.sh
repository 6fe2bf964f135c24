#!/bin/sh
# Queue throughput on PostgreSQL, barkeep against raw SQL and two Node job
# queues, all in one run on one server:
#   barkeep      bench_queue: a bk_pool of 1, 4, 16 threads drains N runs of
#                empty slices (claim -> sim fetch of nothing -> commit), with
#                claim_batch 1 (one run per claim, one commit transaction per
#                run) and claim_batch 100 (up to 100 runs per claim statement,
#                the batch committed in one transaction); BK_BENCH_CLAIM_BATCH
#                (e.g. 1,10,100) picks other batch sizes
#   raw SQL      pgbench, N rows in a plain jobs table, 1, 4, 16 clients:
#                claim one job per statement (UPDATE ... WHERE id = (SELECT
#                ... FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id) then mark
#                it done; and the same with 100 jobs per statement
#   peers        graphile-worker 0.17 and pg-boss 10 draining N no-op jobs,
#                concurrency 1, 4, 16 (bench/peers/*.js)
# and prints one table of jobs/s.
#
# usage: bench/bench_queue.sh BUILD_DIR [N=20000]
#   e.g. bench/bench_queue.sh build/bench
# BK_BENCH_BASELINE=DIR (a release build of an earlier barkeep) runs that
# build's bench_queue first, on the same server in the same run, its rows
# labelled "barkeep (baseline)" or $BK_BENCH_BASELINE_LABEL: a before/after
# comparison whose figures share the machine's state.
# Builds nothing. Uses $BK_TEST_DB_URL (a throwaway database: every phase
# drops and recreates its schema) or else runs itself under
# scripts/with-pg.sh (BK_WITH_PG_INITDB=1 gives a private cluster on a free
# port). Installs the peers with `npm ci` in bench/peers if missing; a peer
# that cannot be installed or run is reported and skipped. N must be a
# multiple of 16 (the pgbench clients share the one-per-statement jobs
# evenly).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 1 ]; then
    echo "usage: $0 BUILD_DIR [N]" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
n=${2:-20000}
if [ -z "${BK_TEST_DB_URL:-}" ]; then
    exec "$root/scripts/with-pg.sh" "$0" "$build" "$n"
fi
if [ $((n % 16)) -ne 0 ]; then
    echo "$0: N must be a multiple of 16" >&2
    exit 2
fi
url=$BK_TEST_DB_URL
clients="1 4 16"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bk-bench-queue.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
rows=$tmp/rows
: >"$rows"

note() {
    echo "$*"
    echo "NOTE|$*" >>"$rows"
}

echo "== machine: $(nproc) CPU, $(psql "$url" -Atc 'SELECT version()' | cut -d, -f1)," \
    "fsync=$(psql "$url" -Atc 'SHOW fsync'), N=$n"

# ---- barkeep, and an earlier build of it ----
if [ -n "${BK_BENCH_BASELINE:-}" ]; then
    label=${BK_BENCH_BASELINE_LABEL:-barkeep (baseline)}
    echo "== $label ($BK_BENCH_BASELINE/bench/bench_queue)"
    "$BK_BENCH_BASELINE/bench/bench_queue" "$url" "$n" 1,4,16 | tee "$tmp/base.out"
    grep '^ROW|barkeep|' "$tmp/base.out" | sed "s/^ROW|barkeep|/ROW|$label|/" >>"$rows" || true
fi
echo "== barkeep (bench_queue, claim_batch ${BK_BENCH_CLAIM_BATCH:-1,100})"
"$build/bench/bench_queue" "$url" "$n" 1,4,16 | tee "$tmp/bk.out"
grep '^ROW|' "$tmp/bk.out" >>"$rows" || true

# ---- raw SQL with pgbench ----
cat >"$tmp/claim1.sql" <<'EOF'
UPDATE bk_rawq.jobs SET status = 'running', locked_by = 'pgbench', locked_at = now()
 WHERE id = (SELECT id FROM bk_rawq.jobs WHERE status = 'queued'
             ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
 RETURNING id \gset
UPDATE bk_rawq.jobs SET status = 'done', finished_at = now() WHERE id = :id;
EOF
cat >"$tmp/claim100.sql" <<'EOF'
WITH c AS (
  UPDATE bk_rawq.jobs SET status = 'running', locked_by = 'pgbench', locked_at = now()
   WHERE id IN (SELECT id FROM bk_rawq.jobs WHERE status = 'queued'
                ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED)
   RETURNING id)
SELECT coalesce(array_agg(id)::text, '{}') AS ids FROM c \gset
UPDATE bk_rawq.jobs SET status = 'done', finished_at = now() WHERE id = ANY (:ids::bigint[]);
EOF

raw_reset() {
    psql "$url" -q -v ON_ERROR_STOP=1 <<EOF >/dev/null
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS bk_rawq CASCADE;
CREATE SCHEMA bk_rawq;
CREATE TABLE bk_rawq.jobs (id bigint PRIMARY KEY, status text NOT NULL DEFAULT 'queued',
  locked_by text, locked_at timestamptz, finished_at timestamptz, payload jsonb);
CREATE INDEX jobs_queued ON bk_rawq.jobs (id) WHERE status = 'queued';
INSERT INTO bk_rawq.jobs (id, payload) SELECT i, '{}' FROM generate_series(1, $n) AS i;
VACUUM ANALYZE bk_rawq.jobs;
EOF
}

# raw_run PER_STATEMENT CLIENTS
raw_run() {
    k=$1
    c=$2
    raw_reset
    per=$(((n / k + c - 1) / c))
    j=$c
    [ "$j" -gt 2 ] && j=2
    if ! pgbench -n -M prepared -f "$tmp/claim$k.sql" -c "$c" -j "$j" -t "$per" "$url" \
        >"$tmp/pgbench.out" 2>&1; then
        cat "$tmp/pgbench.out" >&2
        note "raw SQL $k per statement, $c clients: pgbench failed"
        return 0
    fi
    left=$(psql "$url" -Atc "SELECT count(*) FROM bk_rawq.jobs WHERE status <> 'done'")
    tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$tmp/pgbench.out")
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$tmp/pgbench.out")
    secs=$(awk -v tx="$tx" -v tps="$tps" 'BEGIN { printf "%.3f", tx / tps }')
    rate=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
    echo "raw SQL $k per statement, $c clients: $n jobs in $secs s -> $rate jobs/s" \
        "($tx transactions, $left jobs left)"
    if [ "$left" != 0 ]; then
        note "raw SQL $k per statement, $c clients: $left jobs left undone"
    fi
    echo "ROW|raw SQL (pgbench)|claim $k per statement (SKIP LOCKED), then mark done|$c|$n|$secs|$rate" >>"$rows"
}

echo "== raw SQL (pgbench $(pgbench --version | awk '{print $3}'))"
if command -v pgbench >/dev/null 2>&1; then
    for k in 1 100; do
        for c in $clients; do
            raw_run "$k" "$c"
        done
    done
else
    note "pgbench not found: raw SQL baseline skipped"
fi

# ---- peers ----
echo "== peers (node $(node --version 2>/dev/null || echo missing))"
peers=$root/bench/peers
if [ ! -d "$peers/node_modules" ]; then
    (cd "$peers" && npm ci --no-audit --no-fund >"$tmp/npm.out" 2>&1) ||
        {
            cat "$tmp/npm.out" >&2
            note "npm ci in bench/peers failed: peers not measured"
        }
fi
# peer SCRIPT MODE LABEL
peer() {
    for c in $clients; do
        if node "$peers/$1" "$url" "$n" "$c" "$2" >"$tmp/peer.out" 2>&1; then
            grep -v '^ROW|' "$tmp/peer.out" || true
            grep '^ROW|' "$tmp/peer.out" >>"$rows" || true
        else
            cat "$tmp/peer.out" >&2
            note "$3 ($2), concurrency $c: could not run ($(tail -n 1 "$tmp/peer.out"))"
        fi
    done
}
if [ -d "$peers/node_modules" ]; then
    peer graphile.js fast graphile-worker
    peer graphile.js default graphile-worker
    peer pgboss.js fast pg-boss
    peer pgboss.js poll pg-boss
fi

# ---- the table ----
echo
echo "| system | configuration | workers / clients | jobs | seconds | jobs/s |"
echo "|---|---|---|---|---|---|"
grep '^ROW|' "$rows" | awk -F'|' '{ printf "| %s | %s | %s | %s | %s | %s |\n", $2, $3, $4, $5, $6, $7 }'
grep '^NOTE|' "$rows" | sed 's/^NOTE|/note: /' || true
