#!/bin/sh
# Project hygiene: formatting (clang-format), banned libc functions,
# third-party headers included only where they belong, and the JavaScript of
# the web client and the browser tests (eslint and prettier, pinned in
# web/lint; configs there).
set -eu
cd "$(dirname "$0")/.."
status=0
files=$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h' 'fuzz/*.c' 'bench/*.c')
if command -v clang-format >/dev/null; then
    if ! clang-format --dry-run --Werror $files 2>/dev/null; then
        echo "lint: files not clang-formatted (run: clang-format -i <file>):" >&2
        clang-format --dry-run $files 2>&1 | grep -o '^[^:]*\.[ch]' | sort -u >&2
        status=1
    fi
fi
banned='\b(sprintf|vsprintf|strcpy|strcat|atoi|atol|atof|gets|strtok|tmpnam|mktemp)\('
if git grep -nE "$banned" -- 'src/*.c' 'src/*.h' | grep -v 'snprintf'; then
    echo "lint: banned function in src/ (use snprintf, bk_strlcpy, bk_parse_i64, ...)" >&2
    status=1
fi
check_include() { # header allowed-dir
    if git grep -l "#include <$1>" -- 'src/*' | grep -v "^src/$2/"; then
        echo "lint: <$1> included outside src/$2/" >&2
        status=1
    fi
}
check_include sqlite3.h store
check_include libpq-fe.h store
check_include curl/curl.h prov
check_include jansson.h json
# The api's route handlers answer through http.h; only the server files
# (http.c, sse.c with its streamed responses, ws.c with its upgraded sockets)
# see libmicrohttpd; WebSocket framing is ws.c's, and libcrypto is for the
# handshake's SHA-1 (ws.c) and the JWT HMAC (jwt.c) only.
check_include_files() { # header allowed-file...
    h=$1
    shift
    allowed=$(printf '%s\n' "$@")
    if git grep -l "#include <$h>" -- 'src/*' | grep -vxF "$allowed"; then
        echo "lint: <$h> included outside $*" >&2
        status=1
    fi
}
check_include_files microhttpd.h src/api/http.c src/api/sse.c src/api/ws.c
check_include_files wslay/wslay.h src/api/ws.c
check_include_files openssl/evp.h src/api/ws.c src/api/jwt.c

# JavaScript: eslint and prettier from web/lint (its own package, so the
# build's `npm ci` of web/ never installs them), installed there on first use.
js=$(git ls-files 'web/*.js' 'web/*.mjs' 'tests/browser/*.mjs' 'tests/supabase/*.mjs')
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "lint: node or npm not found: JavaScript NOT linted (scripts/deps.sh installs them)" >&2
elif [ ! -d web/lint/node_modules ] &&
    ! npm ci --prefix web/lint --ignore-scripts --no-audit --no-fund --loglevel=error >&2; then
    echo "lint: npm ci in web/lint failed (offline?): JavaScript NOT linted" >&2
else
    bin=web/lint/node_modules/.bin
    if ! $bin/eslint --config web/lint/eslint.config.mjs $js; then
        echo "lint: eslint found problems (config: web/lint/eslint.config.mjs)" >&2
        status=1
    fi
    if ! $bin/prettier --config web/lint/prettier.json --check $js >/dev/null 2>&1; then
        echo "lint: JavaScript not prettier-formatted (run: $bin/prettier --config web/lint/prettier.json --write <file>):" >&2
        $bin/prettier --config web/lint/prettier.json --list-different $js >&2 || true
        status=1
    fi
fi
exit $status
