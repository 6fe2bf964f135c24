#!/bin/sh
# The real supabase-js against barkeep serve (supabase_test.mjs) after
# installing it into $BK_SUPABASE_DIR. Exit 77 (skipped) only when node or
# npm is absent.
# Usage: run.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null 2>&1; then
    echo "supabase tests skipped: node not found (scripts/deps.sh test installs Node.js)" >&2
    exit 77
fi
sh "$here/deps.sh" "$BK_SUPABASE_DIR"
exec node "$here/supabase_test.mjs" "$@"
