#!/bin/sh
# Build the bench preset (the release build with the benchmarks) and run
# every benchmark; each prints its figure next to the raw baseline measured
# in the same run.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh test
cmake --preset bench >/dev/null
cmake --build --preset bench -j"$(nproc)"
for b in bench_upsert bench_plan bench_backfill; do
    echo "== $b"
    ./build/bench/bench/$b
done
echo "== bench_forecast"
./build/bench/bench/bench_forecast bench/data/sp500_daily_1928_1991.csv \
    bench/data/msft_daily_2000_2001.csv:100
