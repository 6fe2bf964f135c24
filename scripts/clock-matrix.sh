#!/bin/sh
# The clock matrix: the integration suites of the dev build (the CLI, the
# HTTP API, the whole loop, the browser tests) at instants hostile to a test
# that assumes a weekday: a weekend, before the open, a full-day holiday,
# after an early close, the Sunday of the DST change, New Year's Day. Each
# runs with BK_TEST_NOW set (the harness pins barkeep's clock to it, see
# tests/testutil.h) and, for the C suites, under faketime at the same
# instant, so that a test or a code path that reads the wall clock instead of
# barkeep's clock sees the hostile instant too. (Chromium does not run under
# faketime's LD_PRELOAD; the browser tests get BK_TEST_NOW only.)
# Usage: scripts/clock-matrix.sh [INSTANT...]   (ISO 8601, UTC)
set -eu
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- \
    2026-11-28T17:00:00Z \
    2026-11-30T05:00:00Z \
    2026-11-26T17:00:00Z \
    2026-11-27T18:30:00Z \
    2026-11-01T12:00:00Z \
    2027-01-01T15:00:00Z
# Saturday noon in New York; Monday 05:00 UTC, before the open; Thanksgiving
# (closed all day); the day after, 18:30 UTC, after its 13:00 early close;
# the Sunday the clocks go back; New Year's Day (a Friday, closed). The CLI
# and API suites run at every instant; the whole loop (three quarters of a
# minute) at the second and fifth, the browser tests at the second and
# fourth, so the whole test command stays under 15 minutes on 2 cores. Given instants
# on the command line, everything runs at each.
jobs="-j$(nproc)"
i=0
for t in "$@"; do
    i=$((i + 1))
    c_suites='^(test_api|test_cli)$'
    if [ $# -lt 6 ] || [ $i -eq 2 ] || [ $i -eq 5 ]; then
        c_suites='^(test_api|test_cli|test_loop)$'
    fi
    echo "== clock matrix: $t" >&2
    if command -v faketime >/dev/null 2>&1; then
        fake=$(printf '%s' "$t" | sed 's/T/ /; s/Z$//')
        BK_TEST_NOW=$t TZ=UTC FAKETIME_DONT_FAKE_MONOTONIC=1 \
            faketime -f "@$fake" ctest --preset dev $jobs -R "$c_suites"
    else
        echo "clock matrix: faketime not found, the wall clock is not faked" >&2
        BK_TEST_NOW=$t ctest --preset dev $jobs -R "$c_suites"
    fi
    if [ $# -lt 6 ] || [ $i -eq 2 ] || [ $i -eq 4 ]; then
        BK_TEST_NOW=$t ctest --preset dev -L browser
    fi
done
