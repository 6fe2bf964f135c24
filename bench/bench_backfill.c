/*
 * bench_backfill.c — a full backfill end to end: N symbols × D days of 1m
 * bars from `sim` at zero latency into a fresh SQLite store, by the real
 * binary: `barkeep --now ... --set workers=W tick --wait` on a store holding
 * the N definitions (default settings otherwise). Prints runs/s and bars/s,
 * next to two baselines measured in the same run: the sim generating the
 * same bars alone, and a raw sqlite3 prepared-statement upsert of that many
 * bars.
 *
 * usage: bench_backfill [symbols=100] [days=30] [workers=4 [barkeep]]
 */
#include <spawn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_server.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "model/time.h"
#include "plan/plan.h"
#include "work/work.h"

#define NOW "2025-07-08T21:00:00Z"

static double secs(int64_t us)
{
    return (double)us / 1e6;
}

static void die(const char *what, const bk_err *err)
{
    fprintf(stderr, "bench_backfill: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

extern char **environ;

/* Run `bin --db db --now NOW --log-level error --set workers=W tick --wait`;
 * its wall time in seconds. */
static double tick_wait(const char *bin, const char *db, int workers)
{
    char w[64];
    snprintf(w, sizeof w, "workers=%d", workers);
    const char *const args[] = {bin,     "--db",  db, "--now", NOW,     "--log-level",
                                "error", "--set", w,  "tick",  "--wait"};
    char *argv[BK_ARRAY_LEN(args) + 1];
    for (size_t i = 0; i < BK_ARRAY_LEN(args); i++)
        argv[i] = bk_xstrdup(args[i]);
    argv[BK_ARRAY_LEN(args)] = NULL;
    int64_t t0 = bk_clock_mono_us();
    pid_t pid;
    int rc = posix_spawn(&pid, bin, NULL, NULL, argv, environ);
    for (size_t i = 0; i < BK_ARRAY_LEN(args); i++)
        free(argv[i]);
    if (rc != 0)
        die("cannot start barkeep", NULL);
    int st = 0;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("barkeep tick --wait failed", NULL);
    return secs(bk_clock_mono_us() - t0);
}

/* Baseline 1: the sim alone, the same symbols and range, whole pages. */
static double sim_alone(bk_prov *p, int symbols, int64_t from, int64_t to, int64_t *n_bars)
{
    bk_page pg;
    bk_page_init(&pg);
    int64_t t0 = bk_clock_mono_us();
    *n_bars = 0;
    for (int i = 0; i < symbols; i++) {
        char sym[16], tok[BK_PAGE_TOKEN_MAX] = "";
        snprintf(sym, sizeof sym, "S%03d", i);
        for (;;) {
            bk_fetch_req req = {sym, BK_TF_1M, from, to, tok, 1, 0};
            bk_err err = {0};
            if (bk_prov_fetch(p, &req, &pg, &err))
                die("sim", &err);
            *n_bars += (int64_t)pg.n;
            if (!pg.next_token[0])
                break;
            bk_strlcpy(tok, pg.next_token, sizeof tok);
        }
    }
    bk_page_fini(&pg);
    return secs(bk_clock_mono_us() - t0);
}

/* Baseline 2: raw sqlite3 upsert of n bars, 5,000 per transaction. */
static double raw_sqlite(const char *path, int64_t n)
{
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                 "CREATE TABLE b(symbol TEXT, timeframe TEXT, ts INTEGER, open REAL, high REAL,"
                 " low REAL, close REAL, volume REAL, provider TEXT,"
                 " PRIMARY KEY(symbol, timeframe, ts)) WITHOUT ROWID;",
                 NULL, NULL, NULL);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db,
                       "INSERT INTO b VALUES(?,?,?,?,?,?,?,?,?) ON CONFLICT(symbol,timeframe,ts)"
                       " DO UPDATE SET open=excluded.open, high=excluded.high, low=excluded.low,"
                       " close=excluded.close, volume=excluded.volume, provider=excluded.provider",
                       -1, &st, NULL);
    int64_t t0 = bk_clock_mono_us();
    for (int64_t i = 0; i < n; i++) {
        if (i % 5000 == 0)
            sqlite3_exec(db, i ? "COMMIT; BEGIN" : "BEGIN", NULL, NULL, NULL);
        char sym[16];
        snprintf(sym, sizeof sym, "S%03d", (int)(i % 100));
        sqlite3_bind_text(st, 1, sym, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, "1m", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, i * 60 * BK_US_PER_S);
        for (int k = 4; k <= 7; k++)
            sqlite3_bind_double(st, k, 100.0 + (double)k);
        sqlite3_bind_double(st, 8, 1000);
        sqlite3_bind_text(st, 9, "sim", -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    double s = secs(bk_clock_mono_us() - t0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return s;
}

int main(int argc, char **argv)
{
    int symbols = argc > 1 ? atoi(argv[1]) : 100;
    int days = argc > 2 ? atoi(argv[2]) : 30;
    int workers = argc > 3 ? atoi(argv[3]) : 4;
    char bin[1100];
    if (argc > 4)
        snprintf(bin, sizeof bin, "%s", argv[4]);
    else
        bench_default_bin(bin, sizeof bin);
    bk_log_setup(BK_LOG_WARN, BK_LOG_KV);
    int64_t now;
    if (bk_time_parse(NOW, &now) != 0)
        die("NOW", NULL);
    bk_clock_start_at(now);

    char dir[] = "/tmp/bk-bench-XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp", NULL);
    char db[256], raw[256];
    snprintf(db, sizeof db, "%s/store.db", dir);
    snprintf(raw, sizeof raw, "%s/raw.db", dir);

    bk_conf conf;
    bk_conf_defaults(&conf);
    bk_err err = {0};
    bk_store *s;
    if (bk_store_open(&s, db, &err) || bk_store_migrate(s, NULL, &err))
        die("store", &err);
    for (int i = 0; i < symbols; i++) {
        bk_def d = {.type = BK_JOB_INTRADAY,
                    .tf = BK_TF_1M,
                    .window_days = days,
                    .priority = 100,
                    .enabled = true};
        snprintf(d.symbol, sizeof d.symbol, "S%03d", i);
        if (bk_store_def_put(s, &d, BK_PUT_SET, NULL, now, &err))
            die("def", &err);
    }
    bk_sim_opts so;
    bk_sim_opts_default(&so);
    bk_prov *prov;
    if (bk_sim_new(&prov, &so, &err))
        die("sim", &err);
    bk_plan_cfg cfg;
    bk_plan_cfg_from_conf(&cfg, &conf, 0);
    double wall = tick_wait(bin, db, workers);

    int64_t counts[BK_ST__N], bars = 0;
    bk_run_filter f = {.status = -1, .tf = -1};
    bk_store_runs_count(s, &f, counts, &err);
    bk_store_bars_count(s, NULL, -1, &bars, &err);
    printf("backfill    %d symbols x %d days of 1m, %d workers: %lld runs, %lld bars in %.2f s"
           " -> %.0f runs/s, %.0f bars/s (failed runs: %lld)\n",
           symbols, days, workers, (long long)counts[BK_ST_SUCCESS], (long long)bars, wall,
           (double)counts[BK_ST_SUCCESS] / wall, (double)bars / wall,
           (long long)counts[BK_ST_FAILED]);

    int64_t from = bk_plan_window_start(&cfg, BK_TF_1M, days, now), n_sim = 0;
    double t_sim = sim_alone(prov, symbols, from, now, &n_sim);
    printf("baseline    sim generating the same bars alone: %lld bars in %.2f s -> %.0f bars/s\n",
           (long long)n_sim, t_sim, (double)n_sim / t_sim);
    double t_raw = raw_sqlite(raw, bars);
    printf("baseline    raw sqlite3 prepared upsert of %lld bars: %.2f s -> %.0f bars/s\n",
           (long long)bars, t_raw, (double)bars / t_raw);
    bk_prov_free(prov);
    bk_store_close(s);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
