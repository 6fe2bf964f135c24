#!/bin/sh
# The README's run command as a bare machine sees it: configure and build the
# release preset (BK_BUILD_TESTS off) with the test-only libraries invisible
# to pkg-config (cmocka's .pc hidden), check the binary is hardened as Debian
# builds daemons and links nothing test-only, then run it the way
# scripts/run.sh does (the guide's watchlist, sim, clock pinned) and ask the
# daemon for /healthz and the web page, which must not carry the browser
# tests' hook (web/src/testhook.js, window.__barkeep). Fails on the first
# thing that does not hold.
# Usage: scripts/release-check.sh [BUILD_DIR]   (default build/release-bare)
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build/release-bare}
tmp=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
    echo "release-check: $*" >&2
    exit 1
}

# Every .pc of the default search path but the test-only ones.
mkdir "$tmp/pc"
for d in $(pkg-config --variable pc_path pkg-config | tr : ' '); do
    [ -d "$d" ] || continue
    for f in "$d"/*.pc; do
        [ -e "$f" ] || continue
        case $(basename "$f") in
        cmocka.pc) ;;
        *) [ -e "$tmp/pc/$(basename "$f")" ] || ln -s "$f" "$tmp/pc/" ;;
        esac
    done
done
PKG_CONFIG_LIBDIR=$tmp/pc pkg-config --exists cmocka && fail "cmocka is still visible"

rm -f "$dir/CMakeCache.txt"
PKG_CONFIG_LIBDIR=$tmp/pc cmake --preset release -B "$dir" >/dev/null ||
    fail "configure failed without the test-only packages"
PKG_CONFIG_LIBDIR=$tmp/pc cmake --build "$dir" -j"$(nproc)" || fail "build failed"
bin=$dir/barkeep
[ -x "$bin" ] || fail "$bin was not built"
grep -q '^BK_BUILD_TESTS:BOOL=OFF' "$dir/CMakeCache.txt" || fail "BK_BUILD_TESTS is not off"

# Hardening: PIE, full RELRO (bind now), stack protector, fortified calls.
readelf -h "$bin" | grep -q 'Type:.*DYN' || fail "$bin is not a position-independent executable"
readelf -W -l "$bin" | grep -q GNU_RELRO || fail "$bin has no RELRO segment"
readelf -W -d "$bin" | grep -q 'BIND_NOW\|FLAGS.*NOW' || fail "$bin is not linked -z now"
readelf -W --dyn-syms "$bin" | grep -q __stack_chk_fail || fail "$bin has no stack protector"
readelf -W --dyn-syms "$bin" | grep -q '__[a-z]*_chk' || fail "$bin has no fortified calls"
readelf -W -d "$bin" | grep NEEDED | grep -q cmocka && fail "$bin links cmocka"
grep -q -- '-O2' "$dir/CMakeCache.txt" || fail "the release flags are not -O2"

# Run it as scripts/run.sh does, on a pinned clock.
now=2026-11-18T20:00:00Z
db=$tmp/barkeep.db
"$bin" --db "$db" --now "$now" jobs seed >/dev/null || fail "jobs seed failed"
out=$("$bin" --db "$db" --now "$now" --log-level warn tick --wait) || fail "tick --wait failed"
case $out in *"dead-lettered 0"*) ;; *) fail "the watchlist did not hydrate: $out" ;; esac
gaps=$("$bin" --db "$db" --now "$now" gaps AAPL 15m --json)
[ "$gaps" = "[]" ] || fail "AAPL 15m still has gaps: $gaps"
"$bin" --db "$db" --now "$now" --set port_file="$tmp/port" --set listen=127.0.0.1:0 \
    serve --workers 1 >"$tmp/serve.log" 2>&1 &
pid=$!
i=0
while [ ! -s "$tmp/port" ]; do
    i=$((i + 1))
    [ $i -le 200 ] || fail "serve did not start: $(tail -5 "$tmp/serve.log")"
    kill -0 "$pid" 2>/dev/null || fail "serve exited: $(tail -5 "$tmp/serve.log")"
    sleep 0.05
done
port=$(cat "$tmp/port")
code=$(curl -s -o "$tmp/healthz" -w '%{http_code}' "http://127.0.0.1:$port/healthz")
[ "$code" = 200 ] || fail "/healthz answered $code: $(cat "$tmp/healthz")"
code=$(curl -s -o "$tmp/index.html" -w '%{http_code}' "http://127.0.0.1:$port/")
[ "$code" = 200 ] || fail "/ answered $code"
if grep -q '/app\.js' "$tmp/index.html"; then
    if grep -q 'testhook\|TEST_HOOK' "$tmp/index.html"; then fail "the release page loads the test hook"; fi
    assets=$(grep -o 'assets/[0-9a-f]*' "$tmp/index.html" | head -1)
    for f in web/src/*.js; do
        name=$(basename "$f")
        code=$(curl -s -o "$tmp/$name" -w '%{http_code}' "http://127.0.0.1:$port/$assets/$name")
        if [ "$name" = testhook.js ]; then
            [ "$code" = 404 ] || fail "the release build serves $assets/$name ($code)"
        else
            [ "$code" = 200 ] || fail "$assets/$name answered $code"
            if grep -q 'window\.__barkeep *=' "$tmp/$name"; then fail "$name of the release page sets the test hook"; fi
        fi
    done
    web="the page has no test hook"
else
    web="the web client was not built (no node or npm)"
fi
kill "$pid"
wait "$pid" || fail "serve did not stop cleanly"
pid=""
echo "release-check: configured and built without cmocka; hardened (PIE, RELRO, bind now," \
    "stack protector, fortify); the watchlist hydrated; /healthz 200; $web"
