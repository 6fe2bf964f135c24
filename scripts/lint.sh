#!/bin/sh
# Project hygiene: formatting (clang-format), banned libc functions, and
# third-party headers included only where they belong.
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
check_include microhttpd.h api
exit $status
