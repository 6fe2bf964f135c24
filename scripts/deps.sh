#!/bin/sh
# Install the Debian packages barkeep needs to build and test, if missing.
# Usage: scripts/deps.sh [build|test]   (test adds the test-only tools)
set -eu
want="build-essential cmake pkg-config libsqlite3-dev sqlite3 libjansson-dev libmicrohttpd-dev libpq-dev libcurl4-openssl-dev libssl-dev libwslay-dev"
# the web client is built with node and npm; Debian's only where none is installed
command -v npm >/dev/null 2>&1 || want="$want nodejs npm"
if [ "${1:-build}" = test ]; then
    want="$want libcmocka-dev clang clang-format valgrind postgresql chromium curl faketime"
fi
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "barkeep: installing Debian packages:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
