#!/bin/sh
# Build barkeep and run every test: the release build as a bare machine sees
# it (no test-only package), the dev build (-Werror; the browser tests run
# here only), the store suites again on a throwaway PostgreSQL, the pure and
# store suites and a whole loop under valgrind, the clock matrix (the
# integration suites at hostile instants), the same under AddressSanitizer +
# UndefinedBehaviorSanitizer, then the threaded suites under
# ThreadSanitizer. Installs missing Debian packages.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh test
scripts/lint.sh
jobs="-j$(nproc)"

echo "== release build without the test-only packages" >&2
scripts/release-check.sh

for preset in dev asan; do
    echo "== $preset build" >&2
    cmake --preset "$preset" >/dev/null
    cmake --build --preset "$preset" $jobs
    echo "== $preset tests" >&2
    if [ "$preset" = dev ]; then
        ctest --preset "$preset" $jobs # the browser, supabase and slow labels too, once
    else
        ctest --preset "$preset" $jobs -LE 'browser|slow|supabase'
    fi
    echo "== $preset store and loop suites on a throwaway PostgreSQL" >&2
    if [ "$preset" = dev ]; then
        scripts/with-pg.sh ctest --preset "$preset" -L 'store|pg'
    else # the adapters' acceptance suite and the whole loop run under ASan on
        # SQLite (above), their PostgreSQL paths being the store's, run here;
        # supabase-js runs in dev only
        scripts/with-pg.sh ctest --preset "$preset" -L 'store|pg' -E '^(test_accept_pg|test_loop_pg|supabase_js_pg)$'
    fi
    if [ "$preset" = dev ]; then
        echo "== valgrind" >&2
        scripts/valgrind.sh
        scripts/clock-matrix.sh
    fi
done
echo "== tsan tests" >&2
cmake --preset tsan >/dev/null
cmake --build --preset tsan $jobs
ctest --preset tsan $jobs -L 'unit|store|integ|prov'
