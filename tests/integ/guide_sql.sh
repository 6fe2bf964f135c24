#!/bin/sh
# The deployment guide's SQL, statement by statement, against a PostgreSQL
# database that barkeep hydrated itself (real runs and bars from `sim`), each
# checked for a meaningful answer. Run through scripts/with-pg.sh (label pg);
# without BK_TEST_DB_URL it reports itself skipped (77).
set -eu
[ -n "${BK_TEST_DB_URL:-}" ] || { echo "skipped: needs BK_TEST_DB_URL"; exit 77; }
BIN=${BARKEEP_BIN:?}
DB=$BK_TEST_DB_URL
failures=0

q() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$DB" -c "$1"; }
# check NAME EXPECTED_ROWS_CMP SQL   (EXPECTED like "=9", ">0", "=0")
check() {
    name=$1 want=$2 sql=$3
    if ! out=$(q "$sql" 2>&1); then
        echo "FAIL $name: $out"
        failures=$((failures + 1))
        return
    fi
    rows=$(printf '%s' "$out" | grep -c . || true)
    op=$(printf '%s' "$want" | cut -c1) n=$(printf '%s' "$want" | cut -c2-)
    case $op in
    '=') ok=$([ "$rows" -eq "$n" ] && echo y || echo n) ;;
    '>') ok=$([ "$rows" -gt "$n" ] && echo y || echo n) ;;
    esac
    if [ "$ok" = y ]; then
        echo "ok   $name ($rows rows)"
    else
        echo "FAIL $name: $rows rows, want $want"
        printf '%s\n' "$out" | head -5
        failures=$((failures + 1))
    fi
}

q "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public" >/dev/null
# barkeep's clock is pinned to the database's: the guide's statements (and
# get_coverage_gaps' default) measure against the server's NOW(), so the
# runs and coverage they read must be written at that instant. The checks
# hold at any instant (5-day windows always hold sessions).
BARKEEP_NOW=$(q "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
export BARKEEP_NOW
"$BIN" --db "$DB" migrate >/dev/null

# Step 1: verify
check "step1 tables" "=3" "SELECT table_name FROM information_schema.tables
WHERE table_schema = 'public'
AND table_name IN ('job_definitions', 'job_runs', 'coverage_status');"

# Step 5: seed, verbatim
q "INSERT INTO job_definitions (job_type, symbol, timeframe, window_days, priority, enabled)
VALUES
  ('fetch_intraday', 'AAPL', '15m', 5, 200, true),
  ('fetch_intraday', 'AAPL', '1h', 5, 190, true),
  ('fetch_intraday', 'NVDA', '15m', 5, 200, true),
  ('fetch_intraday', 'NVDA', '1h', 5, 190, true),
  ('fetch_intraday', 'TSLA', '15m', 5, 200, true),
  ('fetch_intraday', 'TSLA', '1h', 5, 190, true)
ON CONFLICT (symbol, timeframe, job_type) DO UPDATE
SET enabled = true, priority = EXCLUDED.priority;" >/dev/null
q "INSERT INTO job_definitions (job_type, symbol, timeframe, window_days, priority, enabled)
VALUES
  ('fetch_historical', 'AAPL', 'd1', 365, 100, true),
  ('fetch_historical', 'NVDA', 'd1', 365, 100, true),
  ('fetch_historical', 'TSLA', 'd1', 365, 100, true)
ON CONFLICT (symbol, timeframe, job_type) DO UPDATE
SET enabled = true;" >/dev/null
check "step1 seed data" "=9" "SELECT symbol, timeframe, job_type, enabled, priority
FROM job_definitions
ORDER BY priority DESC;"

# barkeep does the work: definitions seeded by SQL, runs and bars from sim.
"$BIN" --db "$DB" --log-level warn tick --wait >/dev/null

# Step 3: realtime publication
check "step3 publication" "=1" "SELECT schemaname, tablename
FROM pg_publication_tables
WHERE pubname = 'supabase_realtime'
AND tablename = 'job_runs';"

# Step 6: monitor first run (one run per series: the sim serves each
# window in one request)
check "step6 job runs" "=9" "SELECT id, symbol, timeframe, job_type, status, progress_percent, rows_written
FROM job_runs
ORDER BY created_at DESC
LIMIT 10;"
check "step6 coverage" "=9" "SELECT symbol, timeframe, from_ts, to_ts, last_success_at, last_rows_written
FROM coverage_status
ORDER BY updated_at DESC;"
check "step6 errors" "=0" "SELECT symbol, timeframe, error_code, error_message, attempt
FROM job_runs
WHERE status = 'failed'
ORDER BY finished_at DESC
LIMIT 5;"

# Step 8: monitoring
check "step8 success rate by provider" "=1" "SELECT
  provider,
  COUNT(*) as total_runs,
  SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END) as success_runs,
  ROUND(100.0 * SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END) / COUNT(*), 2) as success_rate,
  SUM(rows_written) as total_rows
FROM job_runs
WHERE created_at > NOW() - INTERVAL '24 hours'
  AND provider IS NOT NULL
GROUP BY provider
ORDER BY success_rate DESC;"
rate=$(q "SELECT ROUND(100.0 * SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END) / COUNT(*), 2)
FROM job_runs WHERE created_at > NOW() - INTERVAL '24 hours' AND provider IS NOT NULL")
[ "$rate" = "100.00" ] || { echo "FAIL success rate is $rate"; failures=$((failures + 1)); }
check "step8 duration by type" "=2" "SELECT
  job_type,
  COUNT(*) as runs,
  ROUND(AVG(EXTRACT(EPOCH FROM (finished_at - started_at))), 2) as avg_duration_sec,
  ROUND(AVG(rows_written), 0) as avg_rows
FROM job_runs
WHERE status = 'success'
  AND started_at IS NOT NULL
  AND finished_at IS NOT NULL
GROUP BY job_type;"
check "step8 coverage completeness" "=9" "SELECT
  symbol,
  timeframe,
  from_ts,
  to_ts,
  EXTRACT(EPOCH FROM (to_ts - from_ts)) / 3600 as coverage_hours,
  last_success_at,
  last_rows_written
FROM coverage_status
ORDER BY last_success_at DESC;"
check "step8 recent errors" "=0" "SELECT
  symbol,
  timeframe,
  job_type,
  error_code,
  error_message,
  attempt,
  finished_at
FROM job_runs
WHERE status = 'failed'
ORDER BY finished_at DESC
LIMIT 10;"

# Troubleshooting
check "ts enabled definitions" "=9" "SELECT * FROM job_definitions WHERE enabled = true;"
check "ts gaps (14 days > the 5-day window)" ">0" "SELECT * FROM get_coverage_gaps('AAPL', '1h', 14);"
check "ts gaps, the guide's call" ">-1" "SELECT * FROM get_coverage_gaps('AAPL', '1h', 7);"
check "ts no gaps inside the window" "=0" "SELECT * FROM get_coverage_gaps('AAPL', '1h', 5);"
check "ts queued jobs" "=0" "SELECT id, symbol, timeframe, created_at, attempt
FROM job_runs
WHERE status = 'queued'
ORDER BY created_at ASC;"
q "UPDATE job_runs
SET status = 'queued', attempt = attempt + 1
WHERE status = 'running' AND started_at < NOW() - INTERVAL '10 minutes';" >/dev/null
check "ts failure patterns" "=0" "SELECT
  error_code,
  COUNT(*) as occurrences,
  MAX(error_message) as example_message
FROM job_runs
WHERE status = 'failed'
  AND created_at > NOW() - INTERVAL '1 hour'
GROUP BY error_code
ORDER BY occurrences DESC;"
check "ts publication tables" ">0" "SELECT * FROM pg_publication_tables
WHERE pubname = 'supabase_realtime';"
q "GRANT SELECT ON job_runs TO anon, authenticated;" >/dev/null && echo "ok   ts grant"

# Migration from the old system
q "INSERT INTO coverage_status (symbol, timeframe, from_ts, to_ts, last_success_at, last_rows_written)
SELECT
  symbol,
  timeframe,
  MIN(ts) as from_ts,
  MAX(ts) as to_ts,
  MAX(ts) as last_success_at,
  COUNT(*) as last_rows_written
FROM ohlc_bars_v2
GROUP BY symbol, timeframe
ON CONFLICT (symbol, timeframe) DO UPDATE
SET from_ts = EXCLUDED.from_ts,
    to_ts = EXCLUDED.to_ts,
    last_success_at = EXCLUDED.last_success_at,
    last_rows_written = EXCLUDED.last_rows_written;" >/dev/null && echo "ok   backfill coverage_status"
check "bar counts" "=9" "SELECT symbol, timeframe, COUNT(*) as bar_count
FROM ohlc_bars_v2
GROUP BY symbol, timeframe
ORDER BY symbol, timeframe;"

echo "$failures failed"
[ "$failures" -eq 0 ]
