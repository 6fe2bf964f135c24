#!/bin/sh
# Install the packages pinned in SRC/package-lock.json into DIR/node_modules
# (npm ci, no install scripts), for the Node.js-driven suites (tests/browser,
# tests/supabase). Runs npm only when the lock file changed since DIR's last
# install (or PACKAGE, one of them, is missing). Exit 77 when npm is missing.
# Usage: npm_ci.sh SRC DIR PACKAGE
set -eu
src=$1 dir=$2 package=$3
if ! command -v npm >/dev/null 2>&1; then
    echo "skipped: npm not found (scripts/deps.sh test installs Node.js and npm)" >&2
    exit 77
fi
mkdir -p "$dir"
if [ -d "$dir/node_modules/$package" ] && cmp -s "$src/package-lock.json" "$dir/lock.stamp"; then
    exit 0
fi
cp "$src/package.json" "$src/package-lock.json" "$src/.npmrc" "$dir/"
npm ci --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=error
cp "$src/package-lock.json" "$dir/lock.stamp"
