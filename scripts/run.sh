#!/bin/sh
# Quick start: build barkeep and run the daemon on the embedded store with the
# offline `sim` provider and the deployment guide's watchlist.
# Usage: scripts/run.sh [extra serve arguments]
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)" --target barkeep
export BARKEEP_DB="${BARKEEP_DB:-barkeep.db}"
./build/release/barkeep jobs seed
exec ./build/release/barkeep serve "$@"
