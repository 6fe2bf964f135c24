/*
 * bench_upsert.c — bar upsert throughput through the store against a raw
 * SQLite baseline measured in the same run (target: store >= 70% of raw).
 *
 * Both sides write the same bars, in the same batches (BATCH bars per
 * transaction, like a worker commit), into fresh files with the same schema
 * (the store's migrations) and the same PRAGMAs: the store through
 * bk_store_bars_upsert, the baseline through one hand-written prepared
 * INSERT ... ON CONFLICT DO UPDATE inside BEGIN IMMEDIATE / COMMIT. Then a
 * second pass updates every bar (new close) on both.
 *
 * Each figure is the best of a few rounds (fresh files each round; which side
 * runs first alternates), to keep a busy machine's noise out of the ratio.
 *
 * Usage: bench_upsert [n_bars [rounds [dir]]]
 *        (defaults: 1000000 bars, 3 rounds, $TMPDIR or /tmp)
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_bars.h"
#include "core/clock.h"
#include "core/util.h"
#include "store/store.h"

#define BATCH 5000
#define T0    INT64_C(1717400000000000)

static const char *const SYMS[] = {"AAPL", "MSFT", "NVDA", "TSLA"};
#define N_SYMS (sizeof SYMS / sizeof SYMS[0])

static const char SQL_RAW_UPSERT[] =
    "INSERT INTO ohlc_bars_v2 (symbol, timeframe, ts, open, high, low, close, volume, provider)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    " ON CONFLICT (symbol, timeframe, ts) DO UPDATE SET open = excluded.open,"
    " high = excluded.high, low = excluded.low, close = excluded.close,"
    " volume = excluded.volume, provider = excluded.provider";

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_upsert: %s: %s\n", what, msg);
    exit(1);
}

static double run_store(const char *path, bk_bar *v, size_t per_sym, int pass)
{
    bk_err err = {0};
    bk_store *s;
    if (bk_store_open(&s, path, &err) < 0)
        die("open store", err.msg);
    int64_t us = 0;
    for (size_t k = 0; k < N_SYMS; k++) {
        bench_make_bars(v, per_sym, T0, k, pass);
        int64_t t = bk_clock_mono_us();
        for (size_t i = 0; i < per_sym; i += BATCH) {
            size_t m = BK_MIN(BATCH, per_sym - i);
            if (bk_store_bars_upsert(s, SYMS[k], BK_TF_1M, "sim", v + i, m, &err) < 0)
                die("store upsert", err.msg);
        }
        us += bk_clock_mono_us() - t;
    }
    bk_store_close(s);
    return (double)us / 1e6;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        die(sql, sqlite3_errmsg(db));
}

static void raw_batch(sqlite3 *db, sqlite3_stmt *st, const bk_bar *v, size_t m)
{
    raw_exec(db, "BEGIN IMMEDIATE");
    for (size_t j = 0; j < m; j++) {
        sqlite3_bind_int64(st, 3, v[j].ts_us);
        sqlite3_bind_double(st, 4, v[j].open);
        sqlite3_bind_double(st, 5, v[j].high);
        sqlite3_bind_double(st, 6, v[j].low);
        sqlite3_bind_double(st, 7, v[j].close);
        sqlite3_bind_double(st, 8, v[j].volume);
        if (sqlite3_step(st) != SQLITE_DONE)
            die("raw upsert", sqlite3_errmsg(db));
        sqlite3_reset(st);
    }
    raw_exec(db, "COMMIT");
}

static double run_raw(const char *path, bk_bar *v, size_t per_sym, int pass)
{
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        die("open raw", sqlite3_errmsg(db));
    raw_exec(db, "PRAGMA journal_mode = WAL");
    raw_exec(db, "PRAGMA synchronous = NORMAL");
    raw_exec(db, "PRAGMA temp_store = MEMORY");
    raw_exec(db, "PRAGMA cache_size = -16384");
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v3(db, SQL_RAW_UPSERT, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
        SQLITE_OK)
        die("prepare raw", sqlite3_errmsg(db));
    int64_t us = 0;
    for (size_t k = 0; k < N_SYMS; k++) {
        bench_make_bars(v, per_sym, T0, k, pass);
        int64_t t = bk_clock_mono_us();
        sqlite3_bind_text(st, 1, SYMS[k], -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, "1m", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 9, "sim", -1, SQLITE_STATIC);
        for (size_t i = 0; i < per_sym; i += BATCH)
            raw_batch(db, st, v + i, BK_MIN(BATCH, per_sym - i));
        us += bk_clock_mono_us() - t;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return (double)us / 1e6;
}

/* A fresh file with the store's schema. */
static char *fresh_db(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = bk_xmalloc(len);
    snprintf(p, len, "%s/%s", dir, name);
    bk_err err = {0};
    bk_store *s;
    int v;
    if (bk_store_open(&s, p, &err) < 0 || bk_store_migrate(s, &v, &err) < 0)
        die("create", err.msg);
    bk_store_close(s);
    return p;
}

static void report(const char *phase, size_t n, double store_s, double raw_s)
{
    printf("%s store: %.0f bars/s (%zu bars, %.3f s)\n", phase, (double)n / store_s, n, store_s);
    printf("%s raw:   %.0f bars/s (%zu bars, %.3f s)\n", phase, (double)n / raw_s, n, raw_s);
    printf("%s ratio store/raw: %.1f%%\n", phase, 100.0 * raw_s / store_s);
}

static void remove_db(const char *p)
{
    char buf[4096];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < BK_ARRAY_LEN(suffix); i++) {
        snprintf(buf, sizeof buf, "%s%s", p, suffix[i]);
        unlink(buf);
    }
}

/* One round: fresh files, insert then update on both sides; the side that
 * goes first alternates between rounds. t[0..3] = insert store, insert raw,
 * update store, update raw (seconds). */
static void round_once(const char *dir, bk_bar *v, size_t per_sym, int r, double t[4])
{
    char *store_db = fresh_db(dir, "store.db"), *raw_db = fresh_db(dir, "raw.db");
    for (int pass = 0; pass < 2; pass++) {
        if (r % 2 == 0) {
            t[2 * pass + 1] = run_raw(raw_db, v, per_sym, pass);
            t[2 * pass] = run_store(store_db, v, per_sym, pass);
        } else {
            t[2 * pass] = run_store(store_db, v, per_sym, pass);
            t[2 * pass + 1] = run_raw(raw_db, v, per_sym, pass);
        }
    }
    remove_db(store_db);
    remove_db(raw_db);
    free(store_db);
    free(raw_db);
}

int main(int argc, char **argv)
{
    int64_t n = 1000000, rounds = 3;
    if ((argc > 1 && bk_parse_i64(argv[1], 1, INT64_C(100000000), &n) < 0) ||
        (argc > 2 && bk_parse_i64(argv[2], 1, 100, &rounds) < 0)) {
        fprintf(stderr, "usage: bench_upsert [n_bars [rounds [dir]]]\n");
        return 2;
    }
    const char *base = argc > 3 ? argv[3] : getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/bk-bench-upsert-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir))
        die("mkdtemp", dir);
    size_t per_sym = ((size_t)n + N_SYMS - 1) / N_SYMS, total = per_sym * N_SYMS;
    bk_bar *v = bk_xcalloc(per_sym, sizeof *v);
    printf("bench_upsert: %zu bars, %zu symbols, %d bars per transaction, best of %d rounds, "
           "sqlite %s\n",
           total, N_SYMS, BATCH, (int)rounds, sqlite3_libversion());
    double best[4] = {1e30, 1e30, 1e30, 1e30};
    for (int r = 0; r < (int)rounds; r++) {
        double t[4];
        round_once(dir, v, per_sym, r, t);
        for (int i = 0; i < 4; i++)
            best[i] = t[i] < best[i] ? t[i] : best[i];
    }
    report("insert", total, best[0], best[1]);
    report("update", total, best[2], best[3]);
    rmdir(dir);
    free(v);
    return 0;
}
