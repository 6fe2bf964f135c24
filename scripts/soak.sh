#!/bin/sh
# The soak: barkeep under faults, then healing on its own, checked against a
# clean reference run. Not part of the test command; a figure-producing tool
# like the benchmarks (docs/RELIABILITY.md records a run and says what each
# fault does).
#
# usage: scripts/soak.sh [--store sqlite|pg|both] [--seconds N]
#                        [--symbols N] [--heal-seconds N] [--set NAME=VALUE]...
#
# Per store (SQLite; PostgreSQL on a throwaway cluster):
#   1. reference: a clean store, the watchlist (--symbols symbols x 1m 20 days,
#      5m 60 days, 1h 365 days, d1 3650 days), the sim provider without faults,
#      the clock pinned at $SOAK_NOW (default 2026-11-18T22:30:00Z, a Wednesday
#      after the close: every window and horizon stays put while the runs
#      last), `tick --wait`; its bars are dumped.
#   2. faulted run: a fresh store, the same watchlist, one `serve` (scheduler,
#      API, workers) and several `worker` processes on one timeline (each start
#      gets --now = that instant + the seconds elapsed since the run began);
#      for --seconds: provider faults (sim_fault_rate, every fault kind, and
#      an outage where every page fails for a third of the window), one
#      worker's clock $SOAK_SKEW_S seconds ahead, SIGKILLs of serve, worker,
#      import and migrate processes (each killed process restarted), restarts
#      of the PostgreSQL server, a full disk for a while (SQLite, a small tmpfs
#      as the store's directory; root only) and a hostile HTTP client
#      (slowloris, malformed requests, huge headers, request smuggling shapes,
#      anon-key ensure-coverage spam).
#   3. healing: the faults stop, every process is stopped and one clean set
#      (serve + workers, no faults, no skew) started; no manual command (no
#      retry-failed). Healed = no queued or running run and every reference
#      series' covered trading hours equal to the reference's; at most
#      --heal-seconds.
#   4. checks on the final store: lost, extra and changed bars against the
#      reference, duplicated, invalid and off-session bars, stuck and
#      dead-lettered runs, coverage without bars (`barkeep verify` of every
#      series against the sim: bars missing inside covered time).
# Prints one table (a row per store); exits 1 if any check is nonzero or the
# store did not heal, 2 on a usage error.
#
# The binary: $BARKEEP, else build/release/barkeep, else build/bench/barkeep,
# else the release preset is built. PostgreSQL: $BK_TEST_DB_URL (its server is
# restarted only if $BK_TEST_PG_RESTART says how), else the script runs itself
# under scripts/with-pg.sh (a private cluster on a free port). Every child is
# killed on exit; SOAK_KEEP=1 keeps the temporary directory (stores and logs).
# Also: SOAK_NOW, SOAK_SKEW_S (45; negative puts the worker behind),
# SOAK_FAULT_RATE (0.3), SOAK_LATENCY_MS (the sim's page latency, 25),
# SOAK_SLICE_HOURS (the intraday slice grid, 2: about a minute of runs, so
# the faults meet a backfill in progress; 0 = barkeep's default, one slice
# per request of the sim, which backfills the watchlist in seconds).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)

usage() {
    sed -n '7,8p' "$0" | sed 's/^# //' >&2
    [ $# -gt 0 ] && echo "soak: $*" >&2
    exit 2
}

stores=both
seconds=60
nsym=12
heal_s=240
extra_sets=""
is_uint() { case $1 in '' | *[!0-9]*) return 1 ;; esac; }
parse() { # shifts its own arguments, not the script's (kept for with-pg.sh)
    while [ $# -gt 0 ]; do
        case $1 in
        --store | --seconds | --symbols | --heal-seconds | --set)
            [ $# -ge 2 ] || usage "$1 needs a value"
            case $1 in
            --store) stores=$2 ;;
            --seconds) seconds=$2 ;;
            --symbols) nsym=$2 ;;
            --heal-seconds) heal_s=$2 ;;
            --set)
                case $2 in *=*) ;; *) usage "--set wants NAME=VALUE" ;; esac
                extra_sets="$extra_sets --set $2"
                ;;
            esac
            shift 2
            ;;
        -h | --help)
            sed -n '2,/^set -eu/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) usage "unknown argument '$1'" ;;
        esac
    done
}
parse "$@"
case $stores in sqlite | pg | both) ;; *) usage "--store is sqlite, pg or both" ;; esac
is_uint "$seconds" && [ "$seconds" -ge 10 ] || usage "--seconds is an integer >= 10"
is_uint "$nsym" && [ "$nsym" -ge 1 ] && [ "$nsym" -le 40 ] || usage "--symbols is 1..40"
is_uint "$heal_s" && [ "$heal_s" -ge 1 ] || usage "--heal-seconds is a positive integer"

# PostgreSQL: re-run under with-pg.sh with the arguments untouched.
if [ "$stores" != sqlite ] && [ -z "${BK_TEST_DB_URL:-}" ]; then
    exec "$root/scripts/with-pg.sh" "$0" "$@"
fi

NOW0=${SOAK_NOW:-2026-11-18T22:30:00Z}
SKEW_S=${SOAK_SKEW_S:-45}
FAULT_RATE=${SOAK_FAULT_RATE:-0.3}
LATENCY_MS=${SOAK_LATENCY_MS:-25}
SLICE_HOURS=${SOAK_SLICE_HOURS:-2}

# ---- the binary ----
B=${BARKEEP:-}
if [ -z "$B" ]; then
    for c in "$root/build/release/barkeep" "$root/build/bench/barkeep"; do
        if [ -x "$c" ]; then
            B=$c
            break
        fi
    done
fi
if [ -z "$B" ]; then
    echo "== building barkeep (release preset)"
    (cd "$root" && cmake --preset release >/dev/null && cmake --build --preset release -j2 --target barkeep)
    B=$root/build/release/barkeep
fi
[ -x "$B" ] || {
    echo "soak: $B is not an executable" >&2
    exit 1
}
for t in sqlite3 curl timeout awk; do
    command -v "$t" >/dev/null || {
        echo "soak: $t is needed" >&2
        exit 1
    }
done

# ---- children and cleanup ----
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bk-soak.XXXXXX")
pids=""   # every background child, killed on exit
mounted="" # a tmpfs to unmount on exit
track() { pids="$pids $1"; }
untrack() {
    _un=""
    for _up in $pids; do [ "$_up" = "$1" ] || _un="$_un $_up"; done
    pids=$_un
}
cleanup() {
    for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
    for p in $pids; do wait "$p" 2>/dev/null || true; done
    [ -n "$mounted" ] && umount "$mounted" 2>/dev/null || true
    if [ "${SOAK_KEEP:-}" = 1 ]; then
        echo "soak: kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rand() { od -An -N4 -tu4 /dev/urandom | tr -d ' '; } # 0 .. 2^32-1
rand_to() { echo $(($(rand) % $1)); }                   # 0 .. N-1

alive() { # a zombie (exited, not yet waited for) is not alive
    kill -0 "$1" 2>/dev/null || return 1
    [ -r "/proc/$1/stat" ] || return 0
    [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -c1)" != Z ]
}
# stop PID SIG TIMEOUT_S: signal, wait up to the timeout, then SIGKILL.
stop() {
    kill "-$2" "$1" 2>/dev/null || true
    _si=0
    while alive "$1" && [ $_si -lt $(($3 * 10)) ]; do
        sleep 0.1
        _si=$((_si + 1))
    done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    untrack "$1"
}

# The shared timeline: the pinned instant plus the seconds since t0.
base_epoch=$(date -u -d "$NOW0" +%s)
t0=$(date +%s)
now_at() { date -u -d "@$((base_epoch + $(date +%s) - t0 + $1))" +%Y-%m-%dT%H:%M:%SZ; }

symbols=$(echo AAPL MSFT NVDA TSLA AMZN GOOG META NFLX AMD INTC ORCL IBM CSCO ADBE CRM QCOM \
    TXN AVGO MU PYPL SHOP UBER ABNB SNOW PLTR COIN SQ DIS KO PEP WMT COST HD LOW NKE SBUX \
    MCD JPM BAC GS | tr ' ' '\n' | head -n "$nsym")
tfs="1m:20 5m:60 1h:365 d1:3650"

# ---- one store's plumbing: $store, $db ----
# sql QUERY: rows as comma-separated values.
sql() {
    if [ "$store" = sqlite ]; then
        sqlite3 -batch -noheader -separator , -cmd '.timeout 10000' "$db" "$1"
    else
        psql "$db" -XAtq -F, -v ON_ERROR_STOP=1 -c "$1"
    fi
}
ts_expr() { if [ "$store" = sqlite ]; then echo ts; else echo '(extract(epoch FROM ts)*1000000)::bigint'; fi; }
dump_bars() { # symbol,tf,ts_us,o,h,l,c,v sorted
    sql "SELECT symbol, timeframe, $(ts_expr), open, high, low, close, volume
         FROM ohlc_bars_v2 ORDER BY 1, 2, 3"
}
bk() {
    timeout 120 "$B" --db "$db" --log-level warn --set providers=sim \
        --set slice_hours_intraday="$SLICE_HOURS" $extra_sets "$@"
}
add_watchlist() {
    for s in $symbols; do
        for x in $tfs; do
            bk --now "$(now_at 0)" jobs add "$s" "${x%%:*}" --window-days "${x#*:}" >/dev/null
        done
    done
}
new_pg_db() { # NAME -> URL of a fresh database in the throwaway cluster
    PGOPTIONS='-c client_min_messages=warning' \
        psql "$BK_TEST_DB_URL" -XAtq -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $1" \
        -c "CREATE DATABASE $1" >/dev/null
    echo "${BK_TEST_DB_URL%/*}/$1"
}

# coverage_key: one line per series with its covered trading hours, which
# must match the reference's. (Not the covered range: an import also covers
# the closed-market time around its bars, harmlessly.)
coverage_key() {
    bk --now "$(now_at 0)" coverage --json 2>/dev/null | awk '
        function get(o, k,   m) {
            if (match(o, "\"" k "\":(\"[^\"]*\"|[^,}]*)")) {
                m = substr(o, RSTART + length(k) + 3, RLENGTH - length(k) - 3)
                gsub(/"/, "", m); return m
            }
            return "?"
        }
        { n = split($0, objs, /\},\{/)
          for (i = 1; i <= n; i++) { o = objs[i]
            print get(o, "symbol") "," get(o, "timeframe") "," \
                  get(o, "covered_hours") } }' |
        sort
}

# ---- the hostile HTTP client (raw sockets; python3) ----
# Each kind of traffic comes from its own loopback address (slowloris
# 127.0.0.2, one-shot garbage 127.0.0.3, the curl spam 127.0.0.4), so the
# per-address connection limit applies to each, and a /healthz probe from
# 127.0.0.1 every 0.5 s measures what a well-behaved client gets meanwhile.
cat >"$tmp/hostile.py" <<'EOF'
import os, random, signal, socket, sys, threading, time
port_file, out, stop_file = sys.argv[1], sys.argv[2], sys.argv[3]
n = {"slowloris": 0, "malformed": 0, "huge_header": 0, "smuggle": 0, "health_ok": 0,
     "health_fail": 0, "health_max_ms": 0}
lock = threading.Lock()
def port():
    try:
        return int(open(port_file).read().strip())
    except Exception:
        return 0
def conn(timeout=3, src="127.0.0.2"):
    p = port()
    if not p:
        return None
    try:
        return socket.create_connection(("127.0.0.1", p), timeout=timeout,
                                        source_address=(src, 0))
    except OSError:
        return None
def count(k, v=1):
    with lock:
        n[k] += v
def one_shot(kind, payload):
    s = conn(src="127.0.0.3")
    if not s:
        return
    try:
        s.sendall(payload)
        s.recv(4096)
    except OSError:
        pass
    finally:
        s.close()
    count(kind)
def slowloris():
    socks = []
    while not os.path.exists(stop_file):
        while len(socks) < 150:
            s = conn()
            if not s:
                break
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                socks.append(s)
                count("slowloris")
            except OSError:
                s.close()
        keep = []
        for s in socks:
            try:
                s.sendall(b"X-a: %d\r\n" % random.randrange(1 << 30))
                keep.append(s)
            except OSError:
                s.close()
        socks = keep
        time.sleep(2)
    for s in socks:
        s.close()
def garbage():
    bad = [b"\x00\x01\x02 / HTTP/1.1\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
           b"POST /functions/v1/ensure-coverage HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
           b"GET /functions/v1/ops-jobs?timeframe=%00 HTTP/1.1\r\nHost: x\r\n\r\n",
           b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n"]
    while not os.path.exists(stop_file):
        r = random.random()
        if r < 0.5:
            one_shot("malformed", random.choice(bad))
        elif r < 0.8:
            one_shot("huge_header", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
                     b"b" * random.choice([9000, 70000, 300000]) + b"\r\n\r\n")
        else:
            one_shot("smuggle", b"POST /functions/v1/ensure-coverage HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                     b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.02)
def health():
    while not os.path.exists(stop_file):
        t = time.monotonic()
        s = conn(timeout=2, src="127.0.0.1")
        ok = False
        if s:
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                ok = s.recv(64).startswith(b"HTTP/1.1 200")
            except OSError:
                pass
            s.close()
        ms = int((time.monotonic() - t) * 1000)
        if s is not None or port():
            count("health_ok" if ok else "health_fail")
            with lock:
                n["health_max_ms"] = max(n["health_max_ms"], ms)
        time.sleep(0.5)
ts = [threading.Thread(target=f, daemon=True) for f in (slowloris, garbage, garbage, health)]
for t in ts:
    t.start()
while not os.path.exists(stop_file):
    time.sleep(0.2)
for t in ts:
    t.join(timeout=5)
with open(out, "w") as f:
    for k, v in n.items():
        f.write("%s %d\n" % (k, v))
EOF

# anon ensure-coverage spam with curl: raise attempts on the watchlist's series
# (a service-set definition must not move), invalid symbols, new symbols with a
# small window (the definitions-per-hour limit answers 429). The new symbols
# ask priority 1: at the anon ceiling (anon_max_priority 200, above the
# intraday default 190) their runs would go before the whole watchlist's and
# the faults would hardly meet the watchlist's backfill.
spam() { # PORT_FILE OUT STOP_FILE
    k=0
    while [ ! -e "$3" ]; do
        p=$(cat "$1" 2>/dev/null || true)
        if [ -z "$p" ]; then
            sleep 0.2
            continue
        fi
        k=$((k + 1))
        s=$(echo "$symbols" | sed -n "$(($(rand_to "$nsym") + 1))p")
        case $((k % 5)) in
        0) body="{\"symbol\":\"$s\",\"timeframe\":\"1m\",\"window_days\":36500,\"priority\":1000000}" ;;
        1) body="{\"symbol\":\"$s\",\"timeframe\":\"d1\",\"window_days\":36500}" ;;
        2) body="{\"symbol\":\"..\",\"timeframe\":\"1m\"}" ;;
        3) body="{\"symbol\":\"ANON$k\",\"timeframe\":\"1h\",\"window_days\":2,\"priority\":1}" ;;
        *) body="{\"symbol\":\"$(printf '%040d' "$k")\",\"timeframe\":\"5m\",\"window_days\":7.5}" ;;
        esac
        code=$(curl -s -o /dev/null --interface 127.0.0.4 -w '%{http_code}' --max-time 5 -X POST \
            -H "apikey: $anon_key" -H 'Content-Type: application/json' --data "$body" \
            "http://127.0.0.1:$p/functions/v1/ensure-coverage" 2>/dev/null || true)
        echo "$code" >>"$2"
    done
}

# ---- processes of the faulted run ----
common_sets() {
    echo "--set providers=sim --set sim_latency_ms=$LATENCY_MS" \
        "--set slice_hours_intraday=$SLICE_HOURS $extra_sets"
}
fault_sets() {
    if [ "$faults_on" = 1 ]; then
        echo "--set sim_fault_rate=$rate --set sim_faults=all --set sim_seed=$(rand_to 1000000)"
    fi
}
start_serve() {
    rm -f "$run/port"
    # shellcheck disable=SC2046
    "$B" --db "$db" --now "$(now_at 0)" --log-level warn $(common_sets) $(fault_sets) \
        --set listen=127.0.0.1:0 --set "port_file=$run/port" --set "keys_file=$run/keys" \
        serve --workers 3 >>"$run/serve.log" 2>&1 &
    serve_pid=$!
    track "$serve_pid"
}
start_worker() { # INDEX (worker 1 runs ahead while the faults are on)
    off=0
    [ "$1" = 1 ] && [ "$faults_on" = 1 ] && off=$SKEW_S
    # shellcheck disable=SC2046
    "$B" --db "$db" --now "$(now_at "$off")" --log-level warn $(common_sets) $(fault_sets) \
        worker --workers 2 >>"$run/worker$1.log" 2>&1 &
    eval "wpid_$1=\$!"
    track "$!"
}
stop_all() {
    [ -n "${serve_pid:-}" ] && stop "$serve_pid" TERM 20
    serve_pid=""
    _w=1
    while [ $_w -le "$nworkers" ]; do
        eval "p=\${wpid_$_w:-}"
        [ -n "$p" ] && stop "$p" TERM 20
        eval "wpid_$_w="
        _w=$((_w + 1))
    done
}
start_all() {
    start_serve
    _w=1
    while [ $_w -le "$nworkers" ]; do
        start_worker $_w
        _w=$((_w + 1))
    done
}
# revive: restart a process that exited on its own (counted in $exits).
revive() {
    if ! alive "$serve_pid"; then
        wait "$serve_pid" 2>/dev/null || true
        untrack "$serve_pid"
        exits=$((exits + 1))
        start_serve
    fi
    _w=1
    while [ $_w -le "$nworkers" ]; do
        eval "p=\$wpid_$_w"
        if ! alive "$p"; then
            wait "$p" 2>/dev/null || true
            untrack "$p"
            exits=$((exits + 1))
            start_worker $_w
        fi
        _w=$((_w + 1))
    done
}
# kill_run MS_MAX COMMAND...: start a short command, SIGKILL it within MS_MAX
# (< 1000) milliseconds; prints 1 if it was killed in flight, 0 if it had
# finished.
kill_run() {
    max=$1
    shift
    "$@" >>"$run/short.log" 2>&1 &
    p=$!
    track "$p"
    sleep "0.$(printf '%03d' "$(rand_to "$max")")"
    if kill -9 "$p" 2>/dev/null; then r=1; else r=0; fi
    wait "$p" 2>/dev/null || true
    untrack "$p"
    echo $r
}
pg_up() {
    _pi=0
    until psql "$db" -XAtq -c 'SELECT 1' >/dev/null 2>&1; do
        _pi=$((_pi + 1))
        [ $_pi -ge 60 ] && return 1
        sleep 0.5
    done
}

# ---- figures: one line per store in $tmp/rows ----
rows=$tmp/rows
: >"$rows"
notes=$tmp/notes
: >"$notes"
note() {
    echo "   note: $*"
    echo "$store: $*" >>"$notes"
}

soak_store() {
    store=$1
    dir=$tmp/$store
    run=$dir/run
    mkdir -p "$dir/ref" "$run"
    t0=$(date +%s)
    echo "== $store: reference run (sim, no faults, --now $NOW0)"
    if [ "$store" = sqlite ]; then db=$dir/ref/ref.db; else db=$(new_pg_db soak_ref); fi
    bk migrate >/dev/null
    add_watchlist
    rt0=$(date +%s)
    bk --now "$(now_at 0)" tick --wait >"$dir/ref/tick.log" 2>&1 || {
        echo "soak: the reference run failed:" >&2
        tail -5 "$dir/ref/tick.log" >&2
        exit 1
    }
    dump_bars >"$dir/ref.bars"
    coverage_key >"$dir/ref.cov"
    echo "   $(wc -l <"$dir/ref.bars") bars, $(wc -l <"$dir/ref.cov") series, $(($(date +%s) - rt0)) s"

    # The faulted store.
    mnt=""
    if [ "$store" = sqlite ]; then
        mnt=$dir/disk
        mkdir -p "$mnt"
        size_mb=$(($(du -sm "$dir/ref" | cut -f1) * 4 + 64))
        if [ "$(id -u)" = 0 ] && mount -t tmpfs -o "size=${size_mb}m" tmpfs "$mnt" 2>/dev/null; then
            mounted=$mnt
        else
            note "full disk skipped (needs root and a tmpfs mount)"
            mnt=""
        fi
        db=$dir/disk/soak.db
        nworkers=2
    else
        db=$(new_pg_db soak_run)
        nworkers=3
    fi
    t0=$(date +%s)
    bk migrate >/dev/null
    add_watchlist
    anon_key=anon-soak-key-$(rand)$(rand)
    printf 'service=service-soak-key-%s%s\nanon=%s\n' "$(rand)" "$(rand)" "$anon_key" >"$run/keys"
    chmod 600 "$run/keys"

    # Import a series' reference bars (their values are the sim's) as the
    # import that is killed in flight.
    isym=$(echo "$symbols" | head -n 1)
    awk -F, -v s="$isym" 'BEGIN { print "time,open,high,low,close,volume" }
        $1 == s && $2 == "1m" { printf "%d,%s,%s,%s,%s,%s\n", $3 / 1000000, $4, $5, $6, $7, $8 }' \
        "$dir/ref.bars" >"$run/import.csv"

    echo "== $store: faults for $seconds s (serve + $nworkers worker processes)"
    faults_on=1
    rate=$FAULT_RATE
    exits=0 k_serve=0 k_worker=0 k_import=0 k_migrate=0 pg_restarts=0 disk_s=0 outage_s=0
    start_all
    : >"$run/spam"
    rm -f "$run/stop"
    hostile_py=""
    if command -v python3 >/dev/null; then
        python3 "$tmp/hostile.py" "$run/port" "$run/hostile" "$run/stop" 2>>"$run/hostile.err" &
        hostile_py=$!
        track "$hostile_py"
    else
        note "python3 missing: no slowloris/malformed/huge-header/smuggling client"
    fi
    spam "$run/port" "$run/spam" "$run/stop" &
    spam_pid=$!
    track "$spam_pid"

    end=$(($(date +%s) + seconds))
    disk_from=$(($(date +%s) + seconds / 6))
    disk_to=$((disk_from + seconds / 4 + 5))
    # The provider outage: every page fails, from half the window on for a
    # third of it (at least 10 s); every process is restarted (SIGTERM) with
    # the rate at both ends.
    out_from=$(($(date +%s) + seconds / 2))
    out_to=$((out_from + seconds / 3))
    [ $((out_to - out_from)) -ge 10 ] || out_to=$((out_from + 10))
    outage=0
    filled=0
    last_pg=0
    while [ "$(date +%s)" -lt "$end" ]; do
        sleep "$((1 + $(rand_to 2))).$(rand_to 10)"
        revive
        now=$(date +%s)
        if [ $outage = 0 ] && [ "$now" -ge "$out_from" ] && [ "$now" -lt "$out_to" ]; then
            rate=1
            stop_all
            start_all
            outage=$now
            echo "   provider outage"
        elif [ $outage != 0 ] && [ "$now" -ge "$out_to" ]; then
            rate=$FAULT_RATE
            stop_all
            start_all
            outage_s=$((now - outage))
            outage=0
        fi
        if [ -n "$mnt" ] && [ $filled = 0 ] && [ "$now" -ge "$disk_from" ] && [ "$now" -lt "$disk_to" ]; then
            dd if=/dev/zero of="$mnt/fill" bs=64k 2>/dev/null || true
            filled=$now
            echo "   disk full ($(df -h "$mnt" | awk 'NR == 2 { print $2 }'))"
        elif [ $filled != 0 ] && [ "$now" -ge "$disk_to" ]; then
            rm -f "$mnt/fill"
            disk_s=$((disk_s + now - filled))
            filled=0
        fi
        case $(rand_to 10) in
        0 | 1)
            kill -9 "$serve_pid" 2>/dev/null && k_serve=$((k_serve + 1))
            wait "$serve_pid" 2>/dev/null || true
            untrack "$serve_pid"
            start_serve
            ;;
        2 | 3 | 4)
            w=$(($(rand_to "$nworkers") + 1))
            eval "p=\$wpid_$w"
            kill -9 "$p" 2>/dev/null && k_worker=$((k_worker + 1))
            wait "$p" 2>/dev/null || true
            untrack "$p"
            start_worker "$w"
            ;;
        5 | 6)
            k_import=$((k_import + $(kill_run 150 "$B" --db "$db" --now "$(now_at 0)" \
                --log-level warn import "$run/import.csv" --symbol "$isym" --timeframe 1m)))
            ;;
        7)
            k_migrate=$((k_migrate + $(kill_run 8 "$B" --db "$db" --log-level warn migrate)))
            ;;
        *)
            if [ "$store" = pg ] && [ -n "${BK_TEST_PG_RESTART:-}" ] && [ $((now - last_pg)) -ge 8 ]; then
                timeout 60 sh -c "$BK_TEST_PG_RESTART" >>"$run/pg.log" 2>&1 && pg_restarts=$((pg_restarts + 1))
                last_pg=$now
            fi
            ;;
        esac
    done
    [ "$store" = pg ] && [ -z "${BK_TEST_PG_RESTART:-}" ] && note "no BK_TEST_PG_RESTART: PostgreSQL not restarted"

    # Stop the faults.
    touch "$run/stop"
    [ $outage = 0 ] || outage_s=$(($(date +%s) - outage))
    if [ $filled != 0 ]; then
        rm -f "$mnt/fill"
        disk_s=$((disk_s + $(date +%s) - filled))
    fi
    [ -n "$hostile_py" ] && stop "$hostile_py" CONT 15
    stop "$spam_pid" CONT 15
    [ "$store" = pg ] && pg_up
    faults_on=0
    stop_all
    echo "== $store: healing (serve + $nworkers workers, no faults; at most $heal_s s)"
    h0=$(date +%s)
    start_all
    healed=""
    while [ $(($(date +%s) - h0)) -lt "$heal_s" ]; do
        sleep 2
        busy=$(sql "SELECT count(*) FROM job_runs WHERE status IN ('queued', 'running')" 2>/dev/null || echo x)
        [ "$busy" = 0 ] || continue
        if coverage_key | grep -F -x -f "$dir/ref.cov" | cmp -s - "$dir/ref.cov"; then
            healed=$(($(date +%s) - h0))
            break
        fi
    done
    revive_exits=$exits
    stop_all
    if [ -z "$healed" ]; then
        healed=">$heal_s"
        note "not healed: runs $(sql "SELECT status || '=' || count(*) FROM job_runs GROUP BY status" | tr '\n' ' ')," \
            "$(coverage_key | grep -F -x -v -f - "$dir/ref.cov" | wc -l) series' coverage unlike the reference's"
    fi
    echo "   healed: $healed s"

    # Checks.
    dump_bars >"$dir/run.bars"
    cmpf=$(awk -F, '
        NR == FNR { k = $1 "," $2 "," $3; ref[k] = $0; series[$1 "," $2] = 1; next }
        { if (!(($1 "," $2) in series)) next
          k = $1 "," $2 "," $3
          if (!(k in ref)) extra++
          else { if (ref[k] != $0) changed++; seen[k] = 1 } }
        END { for (k in ref) if (!(k in seen)) lost++
              printf "%d %d %d\n", lost, extra, changed }' "$dir/ref.bars" "$dir/run.bars")
    set -- $cmpf
    lost=$1 extra=$2 changed=$3
    dup=$(sql "SELECT count(*) - count(DISTINCT symbol || '|' || timeframe || '|' || $(ts_expr)) FROM ohlc_bars_v2")
    invalid=$(sql "SELECT count(*) FROM ohlc_bars_v2 WHERE high < low OR open > high OR open < low
                   OR close > high OR close < low OR volume < 0")
    "$B" calendar --from "$(date -u -d "@$((base_epoch - 3660 * 86400))" +%Y-%m-%d)" \
        --to "$(date -u -d "@$((base_epoch + 86400))" +%Y-%m-%d)" \
        --format csv >"$dir/cal.csv"
    offsess=$(awk -F, '
        function days(y, m, d) { y -= m <= 2; era = int(y / 400); yoe = y - era * 400
            doy = int((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
            return era * 146097 + yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy - 719468 }
        function us(iso,   d) {
            d = days(substr(iso, 1, 4) + 0, substr(iso, 6, 2) + 0, substr(iso, 9, 2) + 0)
            return (d * 86400 + substr(iso, 12, 2) * 3600 + substr(iso, 15, 2) * 60 + substr(iso, 18, 2)) * 1000000
        }
        BEGIN { step["1m"] = 60; step["5m"] = 300; step["15m"] = 900; step["30m"] = 1800
                step["1h"] = 3600; step["4h"] = 14400; DAY = 86400000000 }
        NR == FNR { if (FNR > 1) { o = us($2); day = int(o / DAY); open[day] = o; cls[day] = us($3) }; next }
        { ts = $3
          if ($2 == "d1") { o = ts + 34200000000; ok = open[int(o / DAY)] == o }
          else if ($2 in step) { day = int(ts / DAY)
              ok = (day in open) && ts >= open[day] && ts < cls[day] &&
                   (ts - open[day]) % (step[$2] * 1000000) == 0 }
          else ok = 1
          if (!ok) bad++ }
        END { print bad + 0 }' "$dir/cal.csv" "$dir/run.bars")
    stuck=$(sql "SELECT count(*) FROM job_runs WHERE status IN ('queued', 'running')")
    dead=$(sql "SELECT count(*) FROM job_runs WHERE status = 'failed'")
    nocov=0
    sql "SELECT DISTINCT symbol, timeframe FROM job_definitions ORDER BY 1, 2" >"$dir/series"
    while IFS=, read -r s tf; do
        m=$(bk --now "$(now_at 0)" verify "$s" "$tf" --provider sim --json 2>>"$run/verify.err" |
            sed -n 's/.*"missing":\([0-9]*\).*/\1/p' || true)
        if [ -z "$m" ]; then
            note "verify $s $tf failed (counted as 1)"
            m=1
        fi
        nocov=$((nocov + m))
    done <"$dir/series"

    prov=$(cat "$run"/serve.log "$run"/worker*.log 2>/dev/null | grep -c 'attempt failed\|run dead-lettered' || true)
    lost_lease=$(cat "$run"/serve.log "$run"/worker*.log 2>/dev/null | grep -c 'lease lost' || true)
    http=$(wc -l <"$run/spam")
    http429=$(grep -c '^429' "$run/spam" || true)
    http5xx=$(grep -c '^5' "$run/spam" || true)
    http000=$(grep -c '^000' "$run/spam" || true)
    hraw=0
    hfail="-"
    if [ -s "$run/hostile" ]; then
        hraw=$(awk '$1 != "health_ok" && $1 != "health_fail" && $1 != "health_max_ms" { s += $2 } END { print s + 0 }' "$run/hostile")
        hfail=$(awk '$1 == "health_fail" { f = $2 } $1 == "health_ok" { o = $2 } END { print f "/" f + o }' "$run/hostile")
    fi
    disk="-"
    [ -n "$mnt" ] && disk=${disk_s}s
    [ "$store" = pg ] && disk="n/a"
    pgr="n/a"
    [ "$store" = pg ] && pgr=$pg_restarts
    echo "$store|$k_serve|$k_worker|$k_import|$k_migrate|$revive_exits|$pgr|$prov|${outage_s}s|${SKEW_S}s|$disk|$((http + hraw))/$http429/$http5xx/$http000|$hfail|$lost_lease|$healed|$lost|$extra|$changed|$dup|$invalid|$offsess|$stuck|$dead|$nocov" >>"$rows"
    if [ -n "$mounted" ]; then
        [ "${SOAK_KEEP:-}" = 1 ] && cp "$db" "$dir/soak.db"
        umount "$mounted" 2>/dev/null || true
        mounted=""
    fi
    [ "$store" = pg ] && psql "$BK_TEST_DB_URL" -XAtq -c "DROP DATABASE IF EXISTS soak_run" \
        -c "DROP DATABASE IF EXISTS soak_ref" >/dev/null 2>&1 || true
}

case $stores in
both) list="sqlite pg" ;;
*) list=$stores ;;
esac
for st in $list; do soak_store "$st"; done

echo
echo "== soak: $seconds s of faults, $nsym symbols x 4 timeframes, --now $NOW0, $(basename "$B") $("$B" --version 2>/dev/null | head -n 1)"
{
    echo "store|kill serve|kill worker|kill import|kill migrate|self exit|pg restart|prov fail|outage|skew|disk full|http n/429/5xx/none|healthz fail|lease lost|heal s|lost|extra|changed|dup|invalid|off-session|stuck|dead|cov w/o bars"
    cat "$rows"
} | awk -F'|' '{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NF }
    END { for (r = 1; r <= NR; r++) { l = ""; for (i = 1; i <= n; i++) l = l sprintf("%*s ", w[i], c[r, i]); print l } }'
[ -s "$notes" ] && sed 's/^/note: /' "$notes"
status=0
while IFS='|' read -r st _ _ _ _ _ _ _ _ _ _ _ _ _ heal lost extra changed dup invalid offsess stuck dead nocov; do
    case $heal in '>'*) status=1 ;; esac
    for v in $lost $extra $changed $dup $invalid $offsess $stuck $dead $nocov; do
        [ "$v" = 0 ] || status=1
    done
done <"$rows"
exit $status
