/*
 * bench_pg.c — the PostgreSQL backend against raw libpq, measured in the
 * same run on the same server:
 *
 *   A. bar upsert through the store (bk_store_bars_upsert, BATCH bars per
 *      call) vs the raw bulk path on a plain libpq connection: per batch
 *      BEGIN; binary COPY into a temp table; one INSERT … SELECT … ON
 *      CONFLICT (symbol, timeframe, ts) DO UPDATE; COMMIT — into a table of
 *      the same definition (LIKE public.ohlc_bars_v2 INCLUDING ALL). An
 *      insert pass, then an update pass over the same keys; best of a few
 *      rounds, each on a freshly migrated schema, alternating which side
 *      goes first. Goal: store >= 70% of raw.
 *   B. one planner tick (bk_plan_tick) over 10,000 definitions whose
 *      coverage is complete and over 1,000 definitions of 1h with fresh
 *      1-year gaps, next to a raw libpq read of the same definition and
 *      coverage rows. Rows are loaded with COPY, as bench_plan does with
 *      bare sqlite3.
 *
 * Each round starts from DROP SCHEMA public CASCADE; CREATE SCHEMA public;
 * migrate — the database must be a throwaway one (scripts/with-pg.sh).
 *
 * usage: bench_pg [url|- [n_bars=1000000 [upsert_rounds=3 [defs_complete=10000
 *                 [defs_gaps=1000 [plan_rounds=5]]]]]]
 *        url "-" or absent: $BK_TEST_DB_URL
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_bars.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "model/time.h"
#include "plan/plan.h"
#include "store/store.h"

#define BATCH    5000
#define T0       INT64_C(1717400000000000)
#define PG_EPOCH INT64_C(946684800000000) /* 2000-01-01 in Unix microseconds */
#define PLAN_NOW "2025-07-08T18:07:00Z"

static const char *const SYMS[] = {"AAPL", "MSFT", "NVDA", "TSLA"};
#define N_SYMS BK_ARRAY_LEN(SYMS)

static const char SQL_RAW_TEMP[] =
    "CREATE TEMP TABLE raw_in (ts timestamptz, open float8, high float8, low float8,"
    " close float8, volume float8) ON COMMIT DELETE ROWS";
static const char SQL_RAW_COPY[] = "COPY raw_in FROM STDIN (FORMAT binary)";
static const char SQL_RAW_UPSERT[] =
    "INSERT INTO bk_raw.ohlc_bars_v2 (symbol, timeframe, ts, open, high, low, close, volume,"
    " provider) SELECT $1, '1m', ts, open, high, low, close, volume, 'sim' FROM raw_in"
    " ON CONFLICT (symbol, timeframe, ts) DO UPDATE SET open = excluded.open,"
    " high = excluded.high, low = excluded.low, close = excluded.close,"
    " volume = excluded.volume, provider = excluded.provider";

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_pg: %s: %s\n", what, msg ? msg : "");
    exit(1);
}

/* ---- raw libpq helpers ---- */

static PGconn *raw_connect(const char *url)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK)
        die("connect", PQerrorMessage(c));
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

static void raw_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        die(sql, PQerrorMessage(c));
    PQclear(r);
}

static void put32(bk_buf *b, uint32_t v)
{
    unsigned char d[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    bk_buf_append(b, d, 4);
}

static void put64(bk_buf *b, uint64_t v)
{
    put32(b, (uint32_t)(v >> 32));
    put32(b, (uint32_t)v);
}

static void put_f64(bk_buf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    put32(b, 8);
    put64(b, u);
}

/* Send one binary COPY: data holds the tuples (header and trailer added here). */
static void raw_copy(PGconn *c, const char *sql, const bk_buf *tuples)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN)
        die(sql, PQerrorMessage(c));
    PQclear(r);
    static const char hdr[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
    if (PQputCopyData(c, hdr, 19) != 1 || PQputCopyData(c, tuples->data, (int)tuples->len) != 1 ||
        PQputCopyData(c, "\377\377", 2) != 1 || PQputCopyEnd(c, NULL) != 1)
        die("copy data", PQerrorMessage(c));
    while ((r = PQgetResult(c)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            die("copy end", PQerrorMessage(c));
        PQclear(r);
    }
}

/* A fresh migrated schema plus the raw side's table of the same definition. */
static void fresh_schema(PGconn *c, const char *url)
{
    raw_exec(c, "DROP SCHEMA IF EXISTS bk_raw CASCADE");
    raw_exec(c, "DROP SCHEMA public CASCADE");
    raw_exec(c, "CREATE SCHEMA public");
    bk_store *s;
    bk_err err = {0};
    if (bk_store_open(&s, url, &err) || bk_store_migrate(s, NULL, &err))
        die("migrate", err.msg);
    bk_store_close(s);
    raw_exec(c, "CREATE SCHEMA bk_raw");
    raw_exec(c, "CREATE TABLE bk_raw.ohlc_bars_v2 (LIKE public.ohlc_bars_v2 INCLUDING ALL)");
}

/* ---- A. bar upsert ---- */

static double upsert_store(const char *url, bk_bar *v, size_t per_sym, int pass)
{
    bk_err err = {0};
    bk_store *s;
    if (bk_store_open(&s, url, &err))
        die("open store", err.msg);
    int64_t us = 0;
    for (size_t k = 0; k < N_SYMS; k++) {
        bench_make_bars(v, per_sym, T0, k, pass);
        int64_t t = bk_clock_mono_us();
        for (size_t i = 0; i < per_sym; i += BATCH)
            if (bk_store_bars_upsert(s, SYMS[k], BK_TF_1M, "sim", v + i, BK_MIN(BATCH, per_sym - i),
                                     &err) < 0)
                die("store upsert", err.msg);
        us += bk_clock_mono_us() - t;
    }
    bk_store_close(s);
    return (double)us / 1e6;
}

static void raw_batch(PGconn *c, const char *sym, const bk_bar *v, size_t m, bk_buf *b)
{
    b->len = 0;
    for (size_t j = 0; j < m; j++) {
        bk_buf_append(b, "\0\6", 2);
        put32(b, 8);
        put64(b, (uint64_t)(v[j].ts_us - PG_EPOCH));
        put_f64(b, v[j].open);
        put_f64(b, v[j].high);
        put_f64(b, v[j].low);
        put_f64(b, v[j].close);
        put_f64(b, v[j].volume);
    }
    raw_exec(c, "BEGIN");
    raw_copy(c, SQL_RAW_COPY, b);
    const char *p[1] = {sym};
    PGresult *r = PQexecPrepared(c, "up", 1, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die("raw upsert", PQerrorMessage(c));
    PQclear(r);
    raw_exec(c, "COMMIT");
}

static double upsert_raw(const char *url, bk_bar *v, size_t per_sym, int pass)
{
    PGconn *c = raw_connect(url);
    raw_exec(c, SQL_RAW_TEMP);
    PGresult *r = PQprepare(c, "up", SQL_RAW_UPSERT, 1, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die("prepare raw", PQerrorMessage(c));
    PQclear(r);
    bk_buf b;
    bk_buf_init(&b);
    int64_t us = 0;
    for (size_t k = 0; k < N_SYMS; k++) {
        bench_make_bars(v, per_sym, T0, k, pass);
        int64_t t = bk_clock_mono_us();
        for (size_t i = 0; i < per_sym; i += BATCH)
            raw_batch(c, SYMS[k], v + i, BK_MIN(BATCH, per_sym - i), &b);
        us += bk_clock_mono_us() - t;
    }
    bk_buf_fini(&b);
    PQfinish(c);
    return (double)us / 1e6;
}

static void upsert_report(const char *phase, size_t n, double store_s, double raw_s)
{
    printf("upsert %s store: %.0f bars/s (%zu bars, %.3f s)\n", phase, (double)n / store_s, n,
           store_s);
    printf("upsert %s raw:   %.0f bars/s (%zu bars, %.3f s)\n", phase, (double)n / raw_s, n, raw_s);
    printf("upsert %s ratio store/raw: %.1f%% (goal >= 70%%)\n", phase, 100.0 * raw_s / store_s);
}

static void bench_upsert(PGconn *c, const char *url, int64_t n, int rounds)
{
    size_t per_sym = ((size_t)n + N_SYMS - 1) / N_SYMS, total = per_sym * N_SYMS;
    bk_bar *v = bk_xcalloc(per_sym, sizeof *v);
    double best[4] = {1e30, 1e30, 1e30, 1e30}; /* insert store, raw; update store, raw */
    for (int r = 0; r < rounds; r++) {
        fresh_schema(c, url);
        for (int pass = 0; pass < 2; pass++) {
            double t[2];
            if (r % 2 == 0) {
                t[1] = upsert_raw(url, v, per_sym, pass);
                t[0] = upsert_store(url, v, per_sym, pass);
            } else {
                t[0] = upsert_store(url, v, per_sym, pass);
                t[1] = upsert_raw(url, v, per_sym, pass);
            }
            for (int i = 0; i < 2; i++)
                best[2 * pass + i] = BK_MIN(best[2 * pass + i], t[i]);
        }
    }
    printf("upsert: %zu bars, %zu symbols, %d bars per transaction, best of %d rounds\n", total,
           N_SYMS, BATCH, rounds);
    upsert_report("insert", total, best[0], best[1]);
    upsert_report("update", total, best[2], best[3]);
    free(v);
}

/* ---- B. one planner tick ---- */

static const bk_tf TFS[] = {BK_TF_15M, BK_TF_1H, BK_TF_D1};
static const int WINDOWS[] = {5, 5, 365};

/* n definitions (mixed: 15m/1h 5 days, d1 365 days; else 1h 365 days), with
 * covered a coverage interval over all of the window for each. */
static void plan_populate(PGconn *c, int n, bool covered, int64_t now)
{
    bk_buf d, cov;
    bk_buf_init(&d);
    bk_buf_init(&cov);
    char ts[BK_TIME_STR_MAX], from[BK_TIME_STR_MAX], line[256];
    bk_time_format(now, ts);
    bk_time_format(now - 400 * BK_US_PER_DAY, from);
    for (int i = 0; i < n; i++) {
        char id[37];
        bk_uuid4(id);
        int k = covered ? i % 3 : 1;
        bk_tf tf = TFS[k];
        snprintf(line, sizeof line, "%s\t%s\tS%05d\t%s\t%d\t100\tt\t%s\t%s\n", id,
                 bk_job_name(bk_job_for_tf(tf)), i, bk_tf_name(tf), covered ? WINDOWS[k] : 365, ts,
                 ts);
        bk_buf_puts(&d, line);
        snprintf(line, sizeof line, "S%05d\t%s\t%s\t%s\n", i, bk_tf_name(tf), from, ts);
        bk_buf_puts(&cov, line);
    }
    const char *q[2] = {"COPY job_definitions (id, job_type, symbol, timeframe, window_days,"
                        " priority, enabled, created_at, updated_at) FROM STDIN",
                        "COPY coverage_intervals (symbol, timeframe, from_ts, to_ts) FROM STDIN"};
    bk_buf *data[2] = {&d, &cov};
    for (int k = 0; k < (covered ? 2 : 1); k++) {
        PGresult *r = PQexec(c, q[k]);
        if (PQresultStatus(r) != PGRES_COPY_IN)
            die(q[k], PQerrorMessage(c));
        PQclear(r);
        if (PQputCopyData(c, data[k]->data, (int)data[k]->len) != 1 || PQputCopyEnd(c, NULL) != 1)
            die("copy", PQerrorMessage(c));
        while ((r = PQgetResult(c)) != NULL) {
            if (PQresultStatus(r) != PGRES_COMMAND_OK)
                die(q[k], PQerrorMessage(c));
            PQclear(r);
        }
    }
    raw_exec(c, "ANALYZE");
    bk_buf_fini(&d);
    bk_buf_fini(&cov);
}

/* The raw floor: read the same rows over libpq (binary results), touching each. */
static double plan_raw_ms(PGconn *c)
{
    const char *q[] = {"SELECT id, job_type, symbol, timeframe, window_days, priority, enabled"
                       " FROM job_definitions WHERE enabled ORDER BY priority DESC",
                       "SELECT symbol, timeframe, from_ts, to_ts FROM coverage_intervals"
                       " ORDER BY symbol, timeframe, from_ts"};
    int64_t t0 = bk_clock_mono_us();
    long touched = 0;
    for (size_t k = 0; k < BK_ARRAY_LEN(q); k++) {
        PGresult *r = PQexecParams(c, q[k], 0, NULL, NULL, NULL, NULL, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            die(q[k], PQerrorMessage(c));
        for (int i = 0; i < PQntuples(r); i++)
            touched += PQgetlength(r, i, 2) > 0;
        PQclear(r);
    }
    double ms = (double)(bk_clock_mono_us() - t0) / 1000.0;
    return touched >= 0 ? ms : 0;
}

static double plan_tick_ms(const char *url, int64_t now, bk_tick_stats *t)
{
    bk_store *s;
    bk_err err = {0};
    if (bk_store_open(&s, url, &err))
        die("open", err.msg);
    bk_conf conf;
    bk_conf_defaults(&conf);
    bk_plan_cfg cfg;
    bk_plan_cfg_from_conf(&cfg, &conf, 0);
    int64_t t0 = bk_clock_mono_us();
    if (bk_plan_tick(s, &cfg, NULL, now, "bench", t, &err))
        die("tick", err.msg);
    double ms = (double)(bk_clock_mono_us() - t0) / 1000.0;
    bk_store_close(s);
    return ms;
}

static void plan_scenario(PGconn *c, const char *url, const char *label, int n, bool covered,
                          int rounds)
{
    int64_t now = 0;
    if (bk_time_parse(PLAN_NOW, &now) != 0)
        abort();
    double best = 1e18, best_raw = 1e18;
    bk_tick_stats t = {0};
    for (int r = 0; r < rounds; r++) {
        fresh_schema(c, url);
        plan_populate(c, n, covered, now);
        double raw = plan_raw_ms(c);
        double ms = plan_tick_ms(url, now, &t);
        best = BK_MIN(best, ms);
        best_raw = BK_MIN(best_raw, raw);
    }
    printf("plan %-9s %6d defs: tick %8.1f ms (enqueued %zu runs) | baseline raw libpq read of "
           "the same rows %6.1f ms | best of %d\n",
           label, n, best, t.enqueued, best_raw, rounds);
}

static int64_t arg_i64(int argc, char **argv, int i, int64_t def, int64_t max)
{
    int64_t v = def;
    if (argc > i && bk_parse_i64(argv[i], 1, max, &v) < 0)
        die("bad argument", argv[i]);
    return v;
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 && strcmp(argv[1], "-") != 0 ? argv[1] : getenv("BK_TEST_DB_URL");
    if (!url || !*url) {
        fprintf(stderr, "usage: bench_pg [url|- [n_bars [upsert_rounds [defs_complete "
                        "[defs_gaps [plan_rounds]]]]]] (url defaults to $BK_TEST_DB_URL)\n");
        return 2;
    }
    int64_t n_bars = arg_i64(argc, argv, 2, 1000000, 100000000);
    int up_rounds = (int)arg_i64(argc, argv, 3, 3, 100);
    int defs_complete = (int)arg_i64(argc, argv, 4, 10000, 1000000);
    int defs_gaps = (int)arg_i64(argc, argv, 5, 1000, 1000000);
    int plan_rounds = (int)arg_i64(argc, argv, 6, 5, 100);
    bk_log_setup(BK_LOG_WARN, BK_LOG_KV);
    PGconn *c = raw_connect(url);
    PGresult *r = PQexec(c, "SELECT current_setting('server_version'), current_setting('fsync'),"
                            " current_setting('synchronous_commit')");
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        printf("bench_pg: PostgreSQL %s (fsync=%s, synchronous_commit=%s), libpq %d\n",
               PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), PQlibVersion());
    PQclear(r);
    bench_upsert(c, url, n_bars, up_rounds);
    plan_scenario(c, url, "complete", defs_complete, true, plan_rounds);
    plan_scenario(c, url, "gaps", defs_gaps, false, plan_rounds);
    PQfinish(c);
    return 0;
}
