/*
 * bench_queue.c — barkeep's run queue on PostgreSQL, end to end: runs/s of
 * claim → sim fetch of an empty slice → commit, with a bk_pool of 1, 4 and
 * 16 worker threads.
 *
 * Each measurement starts from a fresh migrated schema (DROP SCHEMA public
 * CASCADE — use a throwaway database) holding N queued runs enqueued with
 * bk_store_runs_enqueue: 1m slices of one minute on Saturday 2025-06-07
 * (closed market), spread round-robin over many symbols so that commits of
 * neighbouring runs do not wait on one series' coverage row. The calendar
 * expects no bar in such a slice, so the worker asks the provider for
 * nothing and commits the run with 0 bars (run success + coverage) in one
 * transaction: what is measured is the queue and the commit, not the fetch.
 * The clock runs from bk_pool_start until the pool has finished N runs.
 * Every pool row is measured with claim_batch 1 (one run claimed per
 * statement, committed in its own transaction) and claim_batch 100 (a worker
 * claims up to 100 runs in one statement and commits those it finished in
 * one transaction); --claim-batch K[,K...] picks other values.
 *
 * Then a breakdown on one connection, no threads: N claims in a row, then N
 * commits in a row, so the cost of each side shows; and the same in batches
 * of 100 (bk_store_runs_claim_many, bk_store_runs_commit_many). Diagnostics last: the
 * pool at 4 and 16 threads and the breakdown again with the job_runs NOTIFY
 * triggers disabled (not how barkeep runs: it shows what they cost).
 *
 * Each pool row also reports CPU time per run: the server's (its postmaster
 * and children, from /proc; only for a server on this machine) and this
 * process's — steadier than the rates on a shared machine.
 *
 * Environment: BK_BENCH_CLAIM_BATCH (as --claim-batch); BK_BENCH_PARTS, a
 * comma list of pool, single, batched, diag (default: all) picking what runs;
 * BK_BENCH_PREP_SQL, SQL run on each fresh schema right after the migration
 * (for experiments: e.g. dropping an index to see what it costs).
 *
 * The raw and peer baselines of the same run come from bench/bench_queue.sh,
 * which calls this program; lines starting "ROW|" are for its table.
 *
 * usage: bench_queue [--claim-batch K[,K...]] [url|- [n_runs=20000 [workers=1,4,16]]]
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench_cpu.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "model/time.h"
#include "work/work.h"

#define SATURDAY   "2025-06-07T12:00:00Z" /* slices from here on: market closed */
#define FRI_CLOSE  "2025-06-06T20:00:00Z"
#define MON_OPEN   "2025-06-09T13:30:00Z"
#define MAX_SLICES 600 /* one-minute slices per symbol, all before Sunday */
#define ENQ_BATCH  5000
#define TIMEOUT_S  600
#define BD_BATCH   100 /* runs per claim/commit in the batched breakdown */

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_queue: %s: %s\n", what, msg ? msg : "");
    exit(1);
}

static int64_t at(const char *iso)
{
    int64_t us;
    if (bk_time_parse(iso, &us))
        die("time", iso);
    return us;
}

/* ---- CPU time, server and client ----
 * The 2 cores are shared by the server, the workers and whatever else runs
 * on the machine, so wall-clock rates are noisy; CPU time per run is not.
 * Server: see bench_cpu.h. Client: this process, every thread (getrusage). */

static long pg_postmaster = -1;

static void find_postmaster(const char *url)
{
    pg_postmaster = bk_bench_pg_postmaster(url);
}

static double server_cpu_s(void)
{
    return bk_bench_pg_cpu_s(pg_postmaster);
}

static double client_cpu_s(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 +
           (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec / 1e6;
}

typedef struct cpu_mark {
    double server, client;
} cpu_mark;

static cpu_mark cpu_now(void)
{
    return (cpu_mark){server_cpu_s(), client_cpu_s()};
}

/* " server X us/run, client Y us/run" for the n runs since m. */
static void cpu_since(const cpu_mark *m, int64_t n, char *out, size_t cap)
{
    cpu_mark e = cpu_now();
    if (m->server >= 0 && e.server >= 0)
        snprintf(out, cap, "; CPU per run: server %.1f us, client %.1f us",
                 (e.server - m->server) * 1e6 / (double)n,
                 (e.client - m->client) * 1e6 / (double)n);
    else
        snprintf(out, cap, "; CPU per run: client %.1f us (server not local)",
                 (e.client - m->client) * 1e6 / (double)n);
}

static void raw_sql(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die(sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

static void fresh_schema(const char *url)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK)
        die("connect", PQerrorMessage(c));
    PGresult *r = PQexec(c, "SET client_min_messages = warning;"
                            " DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die("fresh schema", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    bk_store *s;
    bk_err err = {0};
    if (bk_store_open(&s, url, &err) || bk_store_migrate(s, NULL, &err))
        die("migrate", err.msg);
    bk_store_close(s);
    const char *prep = getenv("BK_BENCH_PREP_SQL");
    if (prep && *prep)
        raw_sql(url, prep);
}

/* n queued runs with distinct empty slices; returns the open store. Without
 * notify, the job_runs NOTIFY trigger is disabled once they are queued. */
static bk_store *prepare_runs(const char *url, int64_t n, bool notify)
{
    fresh_schema(url);
    bk_store *s;
    bk_err err = {0};
    if (bk_store_open(&s, url, &err))
        die("open", err.msg);
    int64_t sat = at(SATURDAY), now = bk_clock_now_us();
    int64_t n_sym = BK_MAX(1000, (n + MAX_SLICES - 1) / MAX_SLICES);
    bk_run *v = bk_xcalloc(ENQ_BATCH, sizeof *v);
    for (int64_t i = 0; i < n; i += ENQ_BATCH) {
        size_t m = (size_t)BK_MIN(ENQ_BATCH, n - i), got = 0;
        for (size_t j = 0; j < m; j++) {
            int64_t k = i + (int64_t)j, slot = k / n_sym;
            bk_run *r = &v[j];
            memset(r, 0, sizeof *r);
            snprintf(r->symbol, sizeof r->symbol, "Q%05lld", (long long)(k % n_sym));
            r->tf = BK_TF_1M;
            r->type = bk_job_for_tf(BK_TF_1M);
            r->slice_from_us = sat + slot * 60 * BK_US_PER_S;
            r->slice_to_us = r->slice_from_us + 60 * BK_US_PER_S;
            r->priority = 100;
            r->max_attempts = 5;
            bk_strlcpy(r->triggered_by, "bench", sizeof r->triggered_by);
        }
        if (bk_store_runs_enqueue(s, v, m, &got, now, &err) || got != m)
            die("enqueue", err.msg[0] ? err.msg : "runs skipped");
    }
    free(v);
    if (!notify)
        raw_sql(url, "ALTER TABLE job_runs DISABLE TRIGGER USER");
    /* what autovacuum would have done by then: statistics and hint bits */
    raw_sql(url, "VACUUM ANALYZE job_runs");
    raw_sql(url, "VACUUM ANALYZE job_queue");
    raw_sql(url, "VACUUM ANALYZE job_active");
    return s;
}

/* How many of the updates of job_runs were HOT (in place, no index entry),
 * once the server has the statistics of the pool's connections, which their
 * backends send as they exit: polled until the expected number of updates is
 * in (2 per run: claim and success), for up to 3 s. */
static void hot_updates(const char *url, int64_t want, char *out, size_t cap)
{
    PGconn *c = PQconnectdb(url);
    long long hot = 0, all = 0;
    for (int i = 0; i < 150 && all < want; i++) {
        if (i)
            bk_sleep_us(20 * BK_US_PER_MS);
        PGresult *r = PQexec(c, "SELECT n_tup_hot_upd, n_tup_upd FROM pg_stat_user_tables"
                                " WHERE relid = 'job_runs'::regclass");
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
            hot = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
            all = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        }
        PQclear(r);
    }
    PQfinish(c);
    size_t used = strlen(out);
    snprintf(out + used, cap - used, "; job_runs updates in place (HOT): %lld of %lld", hot, all);
}

static int64_t count_status(bk_store *s, bk_status st)
{
    int64_t counts[BK_ST__N];
    bk_run_filter f = {.status = -1, .tf = -1};
    bk_err err = {0};
    if (bk_store_runs_count(s, &f, counts, &err))
        die("count", err.msg);
    return counts[st];
}

/* The pool with w threads drains n runs: seconds. */
static double drain(const char *url, bk_prov *prov, int w, int64_t n, int64_t batch, bool notify,
                    char *cpu, size_t cpu_cap)
{
    bk_store *s = prepare_runs(url, n, notify);
    bk_conf conf;
    bk_conf_defaults(&conf);
    conf.workers = w;
    conf.claim_batch = batch;
    bk_pool_opts po = {.db_url = url, .threads = w};
    po.env.prov = prov;
    po.env.conf = &conf;
    bk_pool *pool;
    bk_err err = {0};
    cpu_mark m = cpu_now();
    int64_t t0 = bk_clock_mono_us(), fin = 0, dead = 0;
    if (bk_pool_start(&pool, &po, &err))
        die("pool", err.msg);
    while (fin < n) {
        if (bk_clock_mono_us() - t0 > TIMEOUT_S * BK_US_PER_S)
            die("drain", "timed out");
        bk_pool_wait_progress(pool, 100 * BK_US_PER_MS);
        bk_pool_counts(pool, &fin, &dead);
    }
    double secs = (double)(bk_clock_mono_us() - t0) / 1e6;
    bk_pool_stop(pool);
    cpu_since(&m, n, cpu, cpu_cap);
    hot_updates(url, 2 * n, cpu, cpu_cap);
    int64_t ok = count_status(s, BK_ST_SUCCESS);
    bk_store_close(s);
    if (ok != n || dead)
        die("drain", "not every run succeeded");
    return secs;
}

/* One connection, no threads: n claims in a row, then n commits in a row. */
static void breakdown(const char *url, int64_t n, bool notify)
{
    bk_store *s = prepare_runs(url, n, notify);
    const char *how = notify ? "" : " (diagnostic: NOTIFY trigger disabled)";
    bk_run *runs = bk_xcalloc((size_t)n, sizeof *runs);
    bk_err err = {0};
    const char *owner = "bench:w0";
    int64_t t0 = bk_clock_mono_us();
    for (int64_t i = 0; i < n; i++)
        if (bk_store_run_claim(s, owner, bk_clock_now_us(), 60 * BK_US_PER_S, &runs[i], &err))
            die("claim", err.msg);
    int64_t t1 = bk_clock_mono_us();
    bk_iv ext = {at(FRI_CLOSE), at(MON_OPEN)};
    for (int64_t i = 0; i < n; i++) {
        bk_commit c = {.run_id = runs[i].id,
                       .owner = owner,
                       .symbol = runs[i].symbol,
                       .tf = runs[i].tf,
                       .provider = "sim",
                       .covered = {runs[i].slice_from_us, runs[i].slice_to_us},
                       .covered_ext = ext,
                       .now_us = bk_clock_now_us()};
        if (bk_store_run_commit(s, &c, &err))
            die("commit", err.msg);
    }
    int64_t t2 = bk_clock_mono_us();
    printf("breakdown   1 connection, sequential, %lld runs%s: claim %.1f us/run (%.0f/s),"
           " commit of an empty run %.1f us/run (%.0f/s), claim+commit %.0f runs/s\n",
           (long long)n, how, (double)(t1 - t0) / (double)n, (double)n * 1e6 / (double)(t1 - t0),
           (double)(t2 - t1) / (double)n, (double)n * 1e6 / (double)(t2 - t1),
           (double)n * 1e6 / (double)(t2 - t0));
    printf("ROW|barkeep|breakdown: claims alone, 1 connection%s|1|%lld|%.3f|%.0f\n", how,
           (long long)n, (double)(t1 - t0) / 1e6, (double)n * 1e6 / (double)(t1 - t0));
    printf("ROW|barkeep|breakdown: commits alone, 1 connection%s|1|%lld|%.3f|%.0f\n", how,
           (long long)n, (double)(t2 - t1) / 1e6, (double)n * 1e6 / (double)(t2 - t1));
    free(runs);
    bk_store_close(s);
}

/* The same in batches of BD_BATCH: claim_many, then commit_many per batch. */
static void breakdown_batched(const char *url, int64_t n, bool notify)
{
    bk_store *s = prepare_runs(url, n, notify);
    const char *how = notify ? "" : " (diagnostic: NOTIFY trigger disabled)";
    bk_run *runs = bk_xcalloc((size_t)n, sizeof *runs);
    bk_err err = {0};
    const char *owner = "bench:w0";
    int64_t t0 = bk_clock_mono_us();
    for (int64_t i = 0; i < n;) {
        size_t got = 0;
        if (bk_store_runs_claim_many(s, owner, bk_clock_now_us(), 60 * BK_US_PER_S, &runs[i],
                                     (size_t)BK_MIN(BD_BATCH, n - i), &got, &err) ||
            got == 0)
            die("claim_many", err.msg);
        i += (int64_t)got;
    }
    int64_t t1 = bk_clock_mono_us();
    bk_iv ext = {at(FRI_CLOSE), at(MON_OPEN)};
    bk_commit c[BD_BATCH];
    int rc_each[BD_BATCH];
    for (int64_t i = 0; i < n; i += BD_BATCH) {
        size_t m = (size_t)BK_MIN(BD_BATCH, n - i);
        for (size_t j = 0; j < m; j++) {
            const bk_run *r = &runs[i + (int64_t)j];
            c[j] = (bk_commit){.run_id = r->id,
                               .owner = owner,
                               .symbol = r->symbol,
                               .tf = r->tf,
                               .provider = "sim",
                               .covered = {r->slice_from_us, r->slice_to_us},
                               .covered_ext = ext,
                               .now_us = bk_clock_now_us()};
        }
        if (bk_store_runs_commit_many(s, c, m, rc_each, &err))
            die("commit_many", err.msg);
        for (size_t j = 0; j < m; j++)
            if (rc_each[j])
                die("commit_many", "a lease was lost");
    }
    int64_t t2 = bk_clock_mono_us();
    printf("breakdown   1 connection, batches of %d, %lld runs%s: claim %.1f us/run (%.0f/s),"
           " commit of an empty run %.1f us/run (%.0f/s), claim+commit %.0f runs/s\n",
           BD_BATCH, (long long)n, how, (double)(t1 - t0) / (double)n,
           (double)n * 1e6 / (double)(t1 - t0), (double)(t2 - t1) / (double)n,
           (double)n * 1e6 / (double)(t2 - t1), (double)n * 1e6 / (double)(t2 - t0));
    printf(
        "ROW|barkeep|breakdown: claims alone, %d per statement, 1 connection%s|1|%lld|%.3f|%.0f\n",
        BD_BATCH, how, (long long)n, (double)(t1 - t0) / 1e6, (double)n * 1e6 / (double)(t1 - t0));
    printf("ROW|barkeep|breakdown: commits alone, %d per transaction, 1 connection%s|1|%lld|%.3f|"
           "%.0f\n",
           BD_BATCH, how, (long long)n, (double)(t2 - t1) / 1e6,
           (double)n * 1e6 / (double)(t2 - t1));
    free(runs);
    bk_store_close(s);
}

static void pool_row(const char *url, bk_prov *prov, int w, int64_t n, int64_t batch, bool notify)
{
    char cpu[200];
    double secs = drain(url, prov, w, n, batch, notify, cpu, sizeof cpu);
    const char *how = notify ? "" : " (diagnostic: NOTIFY trigger disabled)";
    printf("barkeep     %2d workers, claim_batch %3lld%s: %lld runs in %.3f s -> %.0f runs/s%s\n",
           w, (long long)batch, how, (long long)n, secs, (double)n / secs, cpu);
    if (batch == 1)
        printf("ROW|barkeep|bk_pool, claim_batch 1: claim 1 run per statement, commit"
               " transaction%s|%d|%lld|%.3f|%.0f\n",
               how, w, (long long)n, secs, (double)n / secs);
    else
        printf("ROW|barkeep|bk_pool, claim_batch %lld: claim up to %lld runs per statement, commit"
               " the batch in one transaction%s|%d|%lld|%.3f|%.0f\n",
               (long long)batch, (long long)batch, how, w, (long long)n, secs, (double)n / secs);
    fflush(stdout);
}

/* Parse a comma list of integers in [lo, hi] into v (at most cap). */
static size_t parse_list(const char *text, int64_t lo, int64_t hi, int64_t *v, size_t cap)
{
    char buf[128], *save = NULL;
    size_t n = 0;
    bk_strlcpy(buf, text, sizeof buf);
    for (char *tok = strtok_r(buf, ",", &save); tok && n < cap; tok = strtok_r(NULL, ",", &save))
        if (bk_parse_i64(tok, lo, hi, &v[n++]) < 0)
            die("bad number", tok);
    return n;
}

int main(int argc, char **argv)
{
    int64_t batches[8] = {1, 100};
    size_t n_batches = 2;
    const char *env_batch = getenv("BK_BENCH_CLAIM_BATCH");
    if (env_batch && *env_batch)
        n_batches = parse_list(env_batch, 1, 1000, batches, 8);
    if (argc > 2 && strcmp(argv[1], "--claim-batch") == 0) {
        n_batches = parse_list(argv[2], 1, 1000, batches, 8);
        argv += 2;
        argc -= 2;
    }
    const char *url = argc > 1 && strcmp(argv[1], "-") != 0 ? argv[1] : getenv("BK_TEST_DB_URL");
    int64_t n = 20000;
    if (!url || !*url || (argc > 2 && bk_parse_i64(argv[2], 1, 10000000, &n) < 0)) {
        fprintf(stderr,
                "usage: bench_queue [--claim-batch K[,K...]] [url|- [n_runs [workers=1,4,16]]]\n");
        return 2;
    }
    int64_t workers[16];
    size_t n_workers = parse_list(argc > 3 ? argv[3] : "1,4,16", 1, 256, workers, 16);
    bk_log_setup(BK_LOG_WARN, BK_LOG_KV);
    find_postmaster(url);
    bk_sim_opts so;
    bk_sim_opts_default(&so);
    so.latency_us = 0;
    bk_prov *prov;
    bk_err err = {0};
    if (bk_sim_new(&prov, &so, &err))
        die("sim", err.msg);
    const char *parts = getenv("BK_BENCH_PARTS");
    if (!parts || !*parts)
        parts = "pool,single,batched,diag";
    if (strstr(parts, "pool"))
        for (size_t b = 0; b < n_batches; b++)
            for (size_t i = 0; i < n_workers; i++)
                pool_row(url, prov, (int)workers[i], n, batches[b], true);
    if (strstr(parts, "single"))
        breakdown(url, BK_MIN(n, 5000), true);
    if (strstr(parts, "batched"))
        breakdown_batched(url, BK_MIN(n, 5000), true);
    if (!strstr(parts, "diag")) {
        bk_prov_free(prov);
        return 0;
    }
    for (size_t b = 0; b < n_batches; b++) {
        pool_row(url, prov, 4, n, batches[b], false);
        pool_row(url, prov, 16, n, batches[b], false);
    }
    breakdown(url, BK_MIN(n, 5000), false);
    breakdown_batched(url, BK_MIN(n, 5000), false);
    bk_prov_free(prov);
    return 0;
}
