#!/bin/sh
# Run one browser test (web_test.mjs MODE) after checking for Node.js and
# Debian's Chromium, and installing playwright-core into $BK_BROWSER_DIR.
# Exit 77 (skipped) only when node, npm or chromium is absent.
# Usage: run.sh hydrate|fault
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null 2>&1; then
    echo "browser tests skipped: node not found (scripts/deps.sh test installs Node.js)" >&2
    exit 77
fi
chromium=${BK_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
    echo "browser tests skipped: $chromium not found (Debian package chromium; scripts/deps.sh test installs it)" >&2
    exit 77
fi
sh "$here/../npm_ci.sh" "$here" "$BK_BROWSER_DIR" playwright-core
export BK_CHROMIUM="$chromium"
exec node "$here/web_test.mjs" "$@"
