#!/bin/sh
# Run a command against a throwaway PostgreSQL and remove it afterwards:
#   scripts/with-pg.sh ctest --preset dev -L store
#   scripts/with-pg.sh ./build/dev/tests/test_store_runs
# The command sees BK_TEST_DB_URL=postgresql://USER@HOST:PORT/DB (the password,
# if any, stays in PGPASSWORD, which libpq reads). With pg_virtualenv (Debian's
# postgresql-common) that tool makes the cluster, also as root; otherwise a
# cluster is initdb'ed in a temporary directory on a free port, listening on a
# Unix socket there and on 127.0.0.1, and stopped and deleted on exit.
# BK_WITH_PG_OPTIONS adds server options to the private cluster's start, e.g.
# "-c shared_preload_libraries=pg_stat_statements" (ignored by pg_virtualenv).
# The command also sees BK_TEST_PG_RESTART, a shell command that restarts the
# server (own cluster only). The command's exit status is the script's.
set -eu

if [ $# -eq 0 ]; then
    echo "usage: $0 COMMAND [ARG]..." >&2
    exit 2
fi

if [ "${BK_WITH_PG_INNER:-}" = 1 ]; then
    # Inside pg_virtualenv: PGHOST, PGPORT, PGUSER, PGDATABASE are exported.
    BK_TEST_DB_URL="postgresql://${PGUSER}@${PGHOST}:${PGPORT}/${PGDATABASE}"
    export BK_TEST_DB_URL
    exec "$@"
fi

# pg_virtualenv names every cluster "regress", so two runs at once collide:
# the private initdb below is the default; BK_WITH_PG_VIRTUALENV=1 opts in.
if [ "${BK_WITH_PG_VIRTUALENV:-}" = 1 ] && command -v pg_virtualenv >/dev/null 2>&1; then
    BK_WITH_PG_INNER=1 exec pg_virtualenv -- "$0" "$@"
fi

# No pg_virtualenv: initdb by hand. Find the server binaries.
bindir=""
for d in "$(command -v pg_ctl 2>/dev/null | xargs -r dirname)" \
    $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
        bindir=$d
        break
    fi
done
if [ -z "$bindir" ]; then
    echo "$0: no PostgreSQL server binaries (initdb, pg_ctl) found" >&2
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bk-pg.XXXXXX")
runas=""
if [ "$(id -u)" = 0 ]; then
    # The server refuses to run as root: use an unprivileged account.
    for u in postgres nobody; do
        if id "$u" >/dev/null 2>&1; then
            runas=$u
            break
        fi
    done
    chown "$runas" "$tmp"
fi
as_user() {
    if [ -n "$runas" ]; then
        su -s /bin/sh "$runas" -c "$*"
    else
        sh -c "$*"
    fi
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + $$ % 20000)))
user=barkeep
cleanup() {
    as_user "'$bindir/pg_ctl' -D '$tmp/data' -m immediate stop" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

as_user "'$bindir/initdb' -D '$tmp/data' -U $user -A trust -E UTF8 --no-sync" >"$tmp/initdb.log" 2>&1 ||
    {
        cat "$tmp/initdb.log" >&2
        exit 1
    }
as_user "'$bindir/pg_ctl' -D '$tmp/data' -l '$tmp/server.log' -w -o \"-p $port -k '$tmp' -c listen_addresses=127.0.0.1 -c fsync=off ${BK_WITH_PG_OPTIONS:-}\" start" >/dev/null ||
    {
        cat "$tmp/server.log" >&2
        exit 1
    }

BK_TEST_DB_URL="postgresql://${user}@127.0.0.1:${port}/postgres"
PGHOST=127.0.0.1 PGPORT=$port PGUSER=$user PGDATABASE=postgres
# How a test restarts the server (the resilience tests).
BK_TEST_PG_RESTART="$(printf '%s' "$(command -v su) -s /bin/sh ${runas:-$(id -un)} -c \"'$bindir/pg_ctl' -D '$tmp/data' -l '$tmp/server.log' -w -m fast restart\"")"
[ -z "$runas" ] && BK_TEST_PG_RESTART="'$bindir/pg_ctl' -D '$tmp/data' -l '$tmp/server.log' -w -m fast restart"
export BK_TEST_DB_URL PGHOST PGPORT PGUSER PGDATABASE BK_TEST_PG_RESTART
status=0
"$@" || status=$?
exit $status
