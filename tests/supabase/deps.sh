#!/bin/sh
# Install the pinned @supabase/supabase-js and ws (package-lock.json) into
# DIR/node_modules. Runs npm only when the lock file changed since the last
# install. Exit 77 when npm is missing.
# Usage: deps.sh DIR
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir=$1
if ! command -v npm >/dev/null 2>&1; then
    echo "supabase tests skipped: npm not found (scripts/deps.sh test installs Node.js and npm)" >&2
    exit 77
fi
mkdir -p "$dir"
if [ -d "$dir/node_modules/@supabase/supabase-js" ] && cmp -s "$here/package-lock.json" "$dir/lock.stamp"; then
    exit 0
fi
cp "$here/package.json" "$here/package-lock.json" "$here/.npmrc" "$dir/"
npm ci --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=error
cp "$here/package-lock.json" "$dir/lock.stamp"
