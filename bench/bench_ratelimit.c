/*
 * bench_ratelimit.c — a backfill against a rate-limited provider: wall time
 * against the theoretical minimum (pages ÷ rate), and the 429s received.
 *
 * The provider is the Massive adapter (real libcurl) talking to a fixture
 * server on loopback (tests/prov/fixture.c) that serves 1-minute aggregates
 * in Massive's format, PAGE bars per page with a next_url cursor, and answers
 * 429 to any request above RATE per second (token bucket, burst 2 to absorb
 * loopback jitter). barkeep's budget for the provider is RATE per second,
 * burst 1, shared by a pool of 4 workers through the store (SQLite). RUNS
 * runs of SESSIONS sessions each are enqueued, then drained.
 *
 * Usage: bench_ratelimit [rate [runs [sessions]]]   (defaults 5, 12, 25)
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cal/cal.h"
#include "conf/conf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "fixture.h"
#include "model/time.h"
#include "prov/provset.h"
#include "store/store.h"
#include "work/work.h"

#define PAGE 5000

/* /v2/aggs/ticker/SYM/range/1/minute/FROM_MS/TO_MS[?cursor=K...] */
static void handler(void *ctx, const fx_req *req, fx_resp *r)
{
    const char *base = ctx;
    const char *p = strstr(req->path, "/range/1/minute/");
    long long from_ms, to_ms;
    if (!p || sscanf(p, "/range/1/minute/%lld/%lld", &from_ms, &to_ms) != 2) {
        r->status = 400;
        fx_body(r, "{\"status\":\"ERROR\",\"error\":\"bad path\"}");
        return;
    }
    const char *cur = fx_param(req, "cursor");
    long k = cur ? strtol(cur, NULL, 10) : 0;
    int64_t from = from_ms * 1000, to = to_ms * 1000 + 1;
    size_t n = bk_cal_bars(BK_TF_1M, BK_ANCHOR_SESSION, from, to, NULL, 0);
    bk_calbar *cb = bk_xmalloc((n + 1) * sizeof *cb);
    bk_cal_bars(BK_TF_1M, BK_ANCHOR_SESSION, from, to, cb, n);
    size_t lo = (size_t)k * PAGE, hi = BK_MIN(n, lo + PAGE);
    bk_buf o;
    bk_buf_init(&o);
    bk_buf_printf(&o,
                  "{\"ticker\":\"SPY\",\"queryCount\":%zu,\"resultsCount\":%zu,"
                  "\"adjusted\":true,\"results\":[",
                  hi - lo, hi - lo);
    for (size_t i = lo; i < hi; i++) {
        double b = 400 + (double)(i % 300) * 0.01;
        bk_buf_printf(&o,
                      "%s{\"v\":%zu,\"vw\":%.2f,\"o\":%.2f,\"c\":%.2f,\"h\":%.2f,\"l\":%.2f,"
                      "\"t\":%lld,\"n\":12}",
                      i > lo ? "," : "", 1000 + i % 700, b, b, b + 0.02, b + 0.05, b - 0.05,
                      (long long)(cb[i].ts_us / 1000));
    }
    bk_buf_puts(&o, "],\"status\":\"OK\",\"request_id\":\"bench\"");
    if (hi < n)
        bk_buf_printf(&o, ",\"next_url\":\"%s%s?cursor=%ld&adjusted=true&sort=asc&limit=50000\"",
                      base, req->path, k + 1);
    bk_buf_puts(&o, "}");
    free(cb);
    r->body = o.data;
    r->len = o.len;
}

int main(int argc, char **argv)
{
    double rate = argc > 1 ? strtod(argv[1], NULL) : 5;
    int runs = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 12;
    int sessions = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 25;
    if (!(rate > 0) || runs < 1 || sessions < 1 || runs * sessions > 2000) {
        fprintf(stderr, "usage: bench_ratelimit [rate [runs [sessions]]]\n");
        return 2;
    }
    bk_log_setup(BK_LOG_WARN, BK_LOG_KV);
    char dir[] = "/tmp/bk-bench-rate.XXXXXX";
    char path[512];
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/rate.db", dir);
    static char base[64];
    fx *f = fx_start(handler, base);
    bk_strlcpy(base, fx_url(f), sizeof base);
    fx_limit(f, rate, 2);

    bk_err err = {0};
    bk_store *s = NULL;
    if (bk_store_open(&s, path, &err) || bk_store_migrate(s, NULL, &err)) {
        fprintf(stderr, "store: %s\n", err.msg);
        return 1;
    }
    /* runs of `sessions` consecutive sessions from 2024-01-02 */
    int64_t t = bk_cal_ny_to_utc(bk_days_from_civil(2024, 1, 2), 0, 0);
    bk_session *ss = bk_xmalloc((size_t)(runs * sessions) * sizeof *ss);
    size_t got = bk_cal_sessions(t, t + 4000 * BK_US_PER_DAY, ss, (size_t)(runs * sessions));
    if (got < (size_t)(runs * sessions))
        return 1;
    bk_run *rr = bk_xcalloc((size_t)runs, sizeof *rr);
    long pages = 0, bars = 0;
    for (int i = 0; i < runs; i++) {
        const bk_session *a = &ss[i * sessions], *b = &ss[(i + 1) * sessions - 1];
        bk_strlcpy(rr[i].symbol, "SPY", sizeof rr[i].symbol);
        rr[i].tf = BK_TF_1M;
        rr[i].type = BK_JOB_HISTORICAL;
        rr[i].slice_from_us = a->open_us;
        rr[i].slice_to_us = b->close_us;
        rr[i].priority = 1;
        rr[i].max_attempts = 5;
        bk_strlcpy(rr[i].triggered_by, "bench", sizeof rr[i].triggered_by);
        long nb = (long)bk_cal_bars(BK_TF_1M, BK_ANCHOR_SESSION, a->open_us, b->close_us, NULL, 0);
        bars += nb;
        pages += (nb + PAGE - 1) / PAGE;
    }
    size_t k = 0;
    if (bk_store_runs_enqueue(s, rr, (size_t)runs, &k, bk_clock_now_us(), &err)) {
        fprintf(stderr, "enqueue: %s\n", err.msg);
        return 1;
    }
    bk_conf conf;
    bk_conf_defaults(&conf);
    bk_breaker_cfg bc = {.failures = 5, .open_us = BK_US_PER_S};
    bk_provset *ps = bk_provset_new(&bc);
    bk_prov_cfg cfg = {.base_url = base,
                       .key = "bench-key-0123456789",
                       .adjustment = "split",
                       .anchor = BK_ANCHOR_SESSION};
    bk_prov *m = NULL;
    if (bk_massive_new(&m, &cfg, &err) || bk_provset_add(ps, m, &err) ||
        bk_provset_set_chain(ps, BK_CLASS_INTRADAY, "massive", &err) ||
        bk_provset_set_chain(ps, BK_CLASS_DAILY, "massive", &err)) {
        fprintf(stderr, "provider: %s\n", err.msg);
        return 1;
    }
    m->limits.rate_per_s = rate;
    m->limits.burst = 1;
    /* the fixture stands in for a plan without a history limit: the runs
     * span years from 2024 (the free plan's 730 days would refuse most) */
    for (int tf = 0; tf < BK_TF__N; tf++)
        m->limits.history_us[tf] = 0;
    bk_pool *pool = NULL;
    bk_pool_opts po = {.db_url = path, .threads = 4};
    po.env = (bk_work_env){.prov = m, .provs = ps, .conf = &conf};
    int64_t t0 = bk_clock_mono_us();
    if (bk_pool_start(&pool, &po, &err)) {
        fprintf(stderr, "pool: %s\n", err.msg);
        return 1;
    }
    int64_t counts[BK_ST__N];
    bk_run_filter flt = {.status = -1, .tf = -1};
    for (;;) {
        if (bk_store_runs_count(s, &flt, counts, &err)) {
            fprintf(stderr, "count: %s\n", err.msg);
            return 1;
        }
        if (counts[BK_ST_SUCCESS] + counts[BK_ST_FAILED] == runs)
            break;
        bk_pool_wait_progress(pool, 100 * BK_US_PER_MS);
    }
    double wall = (double)(bk_clock_mono_us() - t0) / 1e6;
    bk_pool_stop(pool);
    int64_t stored = 0;
    bk_store_bars_count(s, "SPY", BK_TF_1M, &stored, &err);
    double minimum = (double)pages / rate;
    printf("bench_ratelimit: %d runs, %ld bars, %ld pages of <= %d bars, provider limit %.3g/s "
           "(barkeep budget %.3g/s, 4 workers)\n",
           runs, bars, pages, PAGE, rate, rate);
    printf("requests %d (429: %d), runs ok %lld failed %lld, bars stored %lld\n", fx_count(f),
           fx_count_429(f), (long long)counts[BK_ST_SUCCESS], (long long)counts[BK_ST_FAILED],
           (long long)stored);
    printf("wall %.3f s, theoretical minimum pages/rate %.3f s, ratio %.3f (goal <= 1.1, zero "
           "429); with a burst of 1 the first request needs no wait: (pages-1)/rate %.3f s, "
           "ratio %.3f\n",
           wall, minimum, wall / minimum, (double)(pages - 1) / rate,
           wall / ((double)(pages - 1) / rate));
    int bad = fx_count_429(f) != 0 || counts[BK_ST_SUCCESS] != runs || stored != bars;
    bk_provset_free(ps);
    bk_store_close(s);
    fx_stop(f);
    unlink(path);
    char wal[600];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", path);
    unlink(wal);
    rmdir(dir);
    free(ss);
    free(rr);
    return bad;
}
