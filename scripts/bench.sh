#!/bin/sh
# Build the release preset and run every benchmark; each prints its figure
# next to the raw baseline measured in the same run.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)"
for b in bench_upsert bench_plan bench_backfill; do
    echo "== $b"
    ./build/release/bench/$b
done
