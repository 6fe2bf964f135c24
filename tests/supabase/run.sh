#!/bin/sh
# The real supabase-js against barkeep serve (supabase_test.mjs) after
# installing it into $BK_SUPABASE_DIR. Exit 77 (skipped) when node or npm
# is absent, or when BK_REQUIRE_PG is set without BK_TEST_DB_URL (the
# PostgreSQL copy outside scripts/with-pg.sh).
# Usage: run.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ -n "${BK_REQUIRE_PG:-}" ] && [ -z "${BK_TEST_DB_URL:-}" ]; then
    echo "skipped: needs BK_TEST_DB_URL (run through scripts/with-pg.sh)" >&2
    exit 77
fi
if ! command -v node >/dev/null 2>&1; then
    echo "supabase tests skipped: node not found (scripts/deps.sh test installs Node.js)" >&2
    exit 77
fi
sh "$here/../npm_ci.sh" "$here" "$BK_SUPABASE_DIR" @supabase/supabase-js
exec node "$here/supabase_test.mjs" "$@"
