#!/bin/sh
# Run the unit and store suites and one whole `tick --wait` loop under
# valgrind memcheck (dev build). Any error or definite leak fails.
set -eu
cd "$(dirname "$0")/.."
B=build/dev
# what ctest would set for the suites (tests/CMakeLists.txt)
BARKEEP_BIN=$(pwd)/$B/barkeep
BK_FIXTURES=$(pwd)/tests/prov/fixtures
BK_SOURCE_DIR=$(pwd)
export BARKEEP_BIN BK_FIXTURES BK_SOURCE_DIR
# test_events is not here: its races need threads running side by side, which
# valgrind serializes (ASan and TSan run it).
VG="valgrind --quiet --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite"
for t in test_core test_time test_tf_sym test_ivset test_cal test_conf test_json test_plan \
         test_validate test_sim test_csv test_store_defs test_store_runs test_store_claims \
         test_store_data test_store_budget test_store_migrate test_store_faults test_work \
         test_http test_req test_rt test_rt_filter test_massive test_alpaca \
         test_yahoo test_finnhub test_tradier test_chain; do
    [ -x "$B/tests/$t" ] || continue
    echo "valgrind $t" >&2
    $VG "$B/tests/$t" >/dev/null
done
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
$VG $B/barkeep --db "$dir/v.db" --now 2025-07-08T18:07:00Z jobs seed >/dev/null
$VG $B/barkeep --db "$dir/v.db" --now 2025-07-08T18:07:00Z --log-level error \
    --set sim_fault_rate=0.2 --set retry_base_ms=1 tick --wait >/dev/null
$VG $B/barkeep --db "$dir/v.db" --now 2025-07-08T18:07:00Z bars AAPL 1h --format json >/dev/null
$VG $B/barkeep --db "$dir/v.db" --now 2025-07-08T18:07:00Z gaps AAPL 15m --json >/dev/null
echo "valgrind: clean" >&2
