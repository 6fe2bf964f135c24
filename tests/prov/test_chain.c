/*
 * test_chain.c — the provider chain end to end: real adapters (Massive,
 * Alpaca) through libcurl against fixture servers on loopback, the worker,
 * and a real SQLite store.
 *
 * - fallback: the primary answers 500 every time → the run completes from
 *   the secondary (the primary's page is not retried), whose name, feed and
 *   adjustment the bars record; the primary's breaker opens and later runs
 *   stop asking it;
 * - refusal: a secondary with another adjustment is never asked; the run
 *   waits (queued, with the reason in its error message) and stores nothing;
 * - a new series takes the feed of the provider that serves it first, even a
 *   fallback's; a series holding bars of one feed refuses another;
 * - one series' malformed answers open no breaker: other series are still
 *   fetched;
 * - a run that finds every breaker open waits for the first to half-open
 *   without spending an attempt;
 * - a failing primary out of budget does not hold runs a fallback serves;
 * - rate limits: a fixture provider limited to R requests per second (429
 *   above it) and barkeep configured at R → a pool of workers drains many
 *   runs without a single 429; a provider publishing "N a second" (a
 *   sliding window) and barkeep's default budget for it, N less the margin
 *   of bk_prov_budget_below → 240 requests, no 429;
 * - 429s answered to pages that a retry then fetched are counted by
 *   `barkeep providers` (recorded in the store), and so is a 429 of a
 *   primary whose run a fallback then served;
 * - history: the real binary on the chain yahoo plans no 1m run older than
 *   Yahoo's retention, and reports that time as unservable; the worker
 *   never asks a provider for a slice older than its history.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cal/cal.h"
#include "conf/conf.h"
#include "core/clock.h"
#include "core/util.h"
#include "fixture.h"
#include "model/time.h"
#include "prov/prov.h"
#include "prov/provset.h"
#include "store/store.h"
#include "testutil.h"
#include "work/work.h"

#define OWNER "w-chain"

/* ---- fixture providers: daily bars for whatever range is asked ---- */

typedef struct server {
    atomic_int fail_status; /* 0 = answer, else this status every time */
    atomic_int limit_next;  /* answer 429 to this many requests, then serve */
    atomic_int bars_served;
} server;

static double price(int64_t ts_us)
{
    return 100.0 + (double)((ts_us / BK_US_PER_DAY) % 50);
}

/* Expected daily bars whose label lies in [from, to). */
static size_t daily(int64_t from_us, int64_t to_us, bk_calbar *out, size_t cap)
{
    size_t n = bk_cal_bars(BK_TF_D1, BK_ANCHOR_SESSION, from_us, to_us, NULL, 0);
    bk_calbar *all = calloc(n + 1, sizeof *all);
    bk_cal_bars(BK_TF_D1, BK_ANCHOR_SESSION, from_us, to_us, all, n);
    size_t k = 0;
    for (size_t i = 0; i < n && k < cap; i++)
        if (all[i].ts_us >= from_us && all[i].ts_us < to_us)
            out[k++] = all[i];
    free(all);
    return k;
}

/* Expected weekly bars whose label lies in [from, to) (labels: 00:00 New
 * York of the Monday, as Massive stamps them). */
static size_t weeks(int64_t from_us, int64_t to_us, bk_calbar *out, size_t cap)
{
    bk_calbar all[64];
    size_t n = bk_cal_bars(BK_TF_W1, BK_ANCHOR_SESSION, from_us, to_us, all, 64), k = 0;
    for (size_t i = 0; i < n && i < 64 && k < cap; i++)
        if (all[i].ts_us >= from_us && all[i].ts_us < to_us)
            out[k++] = all[i];
    return k;
}

/* Massive's 30-minute bars of Monday 2025-07-07 09:30-11:00 New York, the
 * 10:00 one impossible (high below low): the source of 1h and 4h bars. */
static void bad_minutes(fx_resp *r)
{
    static const double px[4][4] = {{100, 102, 99, 101},
                                    {101, 99, 103, 101.5},
                                    {101.5, 103, 100.5, 102},
                                    {102, 103.5, 101, 102.5}};
    bk_buf out;
    bk_buf_init(&out);
    bk_buf_puts(&out, "{\"ticker\":\"X\",\"results\":[");
    for (int i = 0; i < 4; i++)
        bk_buf_printf(&out, "%s{\"v\":1000,\"o\":%g,\"h\":%g,\"l\":%g,\"c\":%g,\"t\":%lld}",
                      i ? "," : "", px[i][0], px[i][1], px[i][2], px[i][3],
                      1751895000000LL + i * 1800000LL);
    bk_buf_puts(&out, "],\"status\":\"OK\",\"request_id\":\"r1\"}");
    r->body = out.data;
    r->len = out.len;
}

/* The symbol whose every answer is malformed (the shape of a page that cuts
 * a bar, of a body the adapter cannot read): a fault of one series. */
#define BAD_SYMBOL "BADS"

/* Massive: /v2/aggs/ticker/SYM/range/1/day/YYYY-MM-DD/YYYY-MM-DD (and the
 * 30-minute bars above) */
static void massive_handler(void *ctx, const fx_req *req, fx_resp *r)
{
    server *sv = ctx;
    int st = atomic_load(&sv->fail_status);
    if (strstr(req->path, "/ticker/" BAD_SYMBOL "/")) {
        fx_body(r, "{\"status\":\"OK\",\"request_id\":\"x\",\"results\":\"cut\"}");
        return;
    }
    if (st) {
        r->status = st;
        fx_body(r, "{\"status\":\"ERROR\",\"request_id\":\"x\",\"error\":\"internal\"}");
        return;
    }
    int left = atomic_load(&sv->limit_next);
    while (left > 0 && !atomic_compare_exchange_weak(&sv->limit_next, &left, left - 1))
        ;
    if (left > 0) {
        r->status = 429;
        fx_body(r, "{\"status\":\"ERROR\",\"error\":\"too many requests\"}");
        return;
    }
    if (strstr(req->path, "/range/30/minute/")) {
        bad_minutes(r);
        return;
    }
    bool weekly = strstr(req->path, "/range/1/week/") != NULL;
    const char *p = strstr(req->path, weekly ? "/range/1/week/" : "/range/1/day/");
    int32_t d0, d1;
    char a[11] = "", b[11] = "";
    if (!p || strlen(p) < 13 + 21) {
        r->status = 400;
        return;
    }
    p += weekly ? 1 : 0; /* "week" is one letter longer than "day" */
    memcpy(a, p + 13, 10);
    memcpy(b, p + 24, 10);
    if (bk_date_parse(a, &d0) || bk_date_parse(b, &d1)) {
        r->status = 400;
        return;
    }
    bk_calbar cb[400];
    size_t n = weekly ? weeks(bk_prov_day_label(d0), bk_prov_day_label(d1 + 1), cb, 400)
                      : daily(bk_prov_day_label(d0), bk_prov_day_label(d1 + 1), cb, 400);
    bk_buf out;
    bk_buf_init(&out);
    bk_buf_printf(&out,
                  "{\"ticker\":\"X\",\"queryCount\":%zu,\"resultsCount\":%zu,"
                  "\"adjusted\":true,\"results\":[",
                  n, n);
    for (size_t i = 0; i < n; i++) {
        double o = price(cb[i].ts_us);
        bk_buf_printf(&out,
                      "%s{\"v\":1000,\"vw\":%.2f,\"o\":%.2f,\"c\":%.2f,\"h\":%.2f,\"l\":%.2f,"
                      "\"t\":%lld,\"n\":10}",
                      i ? "," : "", o, o, o + 1, o + 2, o - 1, (long long)(cb[i].ts_us / 1000));
    }
    bk_buf_puts(&out, "],\"status\":\"OK\",\"request_id\":\"r1\"}");
    r->body = out.data;
    r->len = out.len;
    atomic_fetch_add(&sv->bars_served, (int)n);
}

/* Alpaca: /v2/stocks/SYM/bars?timeframe=1Day&start=RFC3339&end=RFC3339 */
static void alpaca_handler(void *ctx, const fx_req *req, fx_resp *r)
{
    server *sv = ctx;
    int st = atomic_load(&sv->fail_status);
    const char *tf = fx_param(req, "timeframe"), *s0 = fx_param(req, "start"),
               *s1 = fx_param(req, "end");
    int64_t from, to;
    if (strstr(req->path, "/stocks/" BAD_SYMBOL "/")) {
        fx_body(r, "{\"bars\":\"cut\",\"symbol\":\"" BAD_SYMBOL "\"}");
        return;
    }
    if (st || !tf || strcmp(tf, "1Day") != 0 || !s0 || !s1 || bk_time_parse(s0, &from) ||
        bk_time_parse(s1, &to)) {
        r->status = st ? st : 400;
        fx_body(r, "{\"code\":40010001,\"message\":\"bad request\"}");
        return;
    }
    bk_calbar cb[400];
    size_t n = daily(from, to + 1, cb, 400);
    bk_buf out;
    bk_buf_init(&out);
    bk_buf_puts(&out, "{\"bars\":[");
    for (size_t i = 0; i < n; i++) {
        char t[BK_TIME_STR_MAX];
        double o = price(cb[i].ts_us);
        bk_buf_printf(&out,
                      "%s{\"t\":\"%s\",\"o\":%.2f,\"h\":%.2f,\"l\":%.2f,\"c\":%.2f,"
                      "\"v\":1000,\"n\":10,\"vw\":%.2f}",
                      i ? "," : "", bk_time_format(cb[i].ts_us, t), o, o + 2, o - 1, o + 1, o);
    }
    bk_buf_puts(&out, "],\"symbol\":\"X\",\"next_page_token\":null}");
    r->body = out.data;
    r->len = out.len;
    atomic_fetch_add(&sv->bars_served, (int)n);
}

/* ---- the test fixture ---- */

typedef struct tfix {
    char *dir, *db;
    bk_store *s;
    bk_conf conf;
    server ms, al;
    fx *fm, *fa;
    bk_provset *ps;
    bk_work_env env;
} tfix;

static bk_prov *make(int (*fn)(bk_prov **, const bk_prov_cfg *, bk_err *), const char *url,
                     const char *feed, const char *adjustment)
{
    bk_prov_cfg cfg = {.base_url = url,
                       .key = "key-id-0123456789",
                       .secret = "secret-0123456789",
                       .feed = feed,
                       .adjustment = adjustment,
                       .timeout_ms = 5000,
                       .anchor = BK_ANCHOR_SESSION};
    bk_prov *p = NULL;
    bk_err err = {0};
    if (fn(&p, &cfg, &err) != 0)
        fail_msg("provider: %s", err.msg);
    p->limits.rate_per_s = 0; /* unlimited unless a test says otherwise */
    return p;
}

/* A store, two fixture servers, and the chain massive → alpaca (alpaca
 * serving alpaca_adj bars of alpaca_feed). */
static tfix *setup_feed(const char *alpaca_feed, const char *alpaca_adj)
{
    tfix *t = calloc(1, sizeof *t);
    t->dir = bk_t_tmpdir("chain");
    t->db = bk_t_path(t->dir, "chain.db");
    bk_err err = {0};
    if (bk_store_open(&t->s, t->db, &err) || bk_store_migrate(t->s, NULL, &err))
        fail_msg("store: %s", err.msg);
    bk_conf_defaults(&t->conf);
    t->conf.page_retries = 1;
    t->conf.retry_base_ms = 1;
    t->conf.retry_max_ms = 5;
    t->conf.max_attempts = 3;
    t->fm = fx_start(massive_handler, &t->ms);
    t->fa = fx_start(alpaca_handler, &t->al);
    bk_breaker_cfg bc = {.failures = 2, .open_us = 60 * BK_US_PER_S};
    t->ps = bk_provset_new(&bc);
    if (bk_provset_add(t->ps, make(bk_massive_new, fx_url(t->fm), NULL, "split"), &err) ||
        bk_provset_add(t->ps, make(bk_alpaca_new, fx_url(t->fa), alpaca_feed, alpaca_adj), &err) ||
        bk_provset_set_chain(t->ps, BK_CLASS_DAILY, "massive,alpaca", &err) ||
        bk_provset_set_chain(t->ps, BK_CLASS_INTRADAY, "massive,alpaca", &err))
        fail_msg("provset: %s", err.msg);
    t->env = (bk_work_env){
        .prov = bk_provset_primary(t->ps, BK_TF_D1), .provs = t->ps, .conf = &t->conf};
    return t;
}

/* The same with alpaca on the SIP feed. */
static tfix *setup(const char *alpaca_adj)
{
    return setup_feed("sip", alpaca_adj);
}

static void teardown(tfix *t)
{
    bk_provset_free(t->ps);
    fx_stop(t->fm);
    fx_stop(t->fa);
    bk_store_close(t->s);
    bk_t_rmtree(t->dir);
    free(t->dir);
    free(t->db);
    free(t);
}

static int64_t day_us(int y, int m, int d)
{
    return bk_prov_day_label(bk_days_from_civil(y, m, d));
}

/* Enqueue a run of sym tf over [from, to) (queued). */
static bk_run enqueue_run(bk_store *s, const char *sym, bk_tf tf, int64_t from, int64_t to)
{
    bk_err err = {0};
    bk_run r;
    memset(&r, 0, sizeof r);
    bk_strlcpy(r.symbol, sym, sizeof r.symbol);
    r.tf = tf;
    r.type = bk_job_for_tf(tf);
    r.slice_from_us = from;
    r.slice_to_us = to;
    r.priority = 1;
    r.max_attempts = 3;
    bk_strlcpy(r.triggered_by, "test", sizeof r.triggered_by);
    size_t k = 0;
    if (bk_store_runs_enqueue(s, &r, 1, &k, bk_clock_now_us(), &err) || k != 1)
        fail_msg("enqueue: %s", err.msg);
    return r;
}

/* Enqueue a run of sym tf over [from, to) and claim it. */
static bk_run claim_run(bk_store *s, const char *sym, bk_tf tf, int64_t from, int64_t to)
{
    bk_err err = {0};
    bk_run r = enqueue_run(s, sym, tf, from, to), c;
    if (bk_store_run_claim_id(s, r.id, OWNER, bk_clock_now_us(), 60 * BK_US_PER_S, &c, &err))
        fail_msg("claim: %s", err.msg);
    return c;
}

/* Claim run id again (whatever its not_before), execute it and return it as
 * stored afterwards. */
static bk_run rerun(tfix *t, const char *id, bk_outcome *out)
{
    bk_err err = {0};
    bk_run r, got;
    if (bk_store_run_claim_id(t->s, id, OWNER, bk_clock_now_us(), 60 * BK_US_PER_S, &r, &err))
        fail_msg("claim %s: %s", id, err.msg);
    assert_int_equal(bk_work_execute(t->s, &t->env, OWNER, &r, out, &err), 0);
    assert_int_equal(bk_store_run_get(t->s, id, &got, &err), 0);
    return got;
}

static int64_t bars_of(bk_store *s, const char *sym, bk_tf tf)
{
    int64_t n = 0;
    bk_err err = {0};
    if (bk_store_bars_count(s, sym, tf, &n, &err))
        fail_msg("count: %s", err.msg);
    return n;
}

static void test_fallback(void **state)
{
    (void)state;
    tfix *t = setup("split");
    atomic_store(&t->ms.fail_status, 500);
    bk_prov *massive = bk_provset_get(t->ps, "massive"), *alpaca = bk_provset_get(t->ps, "alpaca");
    /* June 2025: 20 sessions (Juneteenth closed) */
    bk_run r = claim_run(t->s, "AAPL", BK_TF_D1, day_us(2025, 6, 2), day_us(2025, 7, 1));
    bk_outcome out;
    bk_err err = {0};
    assert_int_equal(bk_work_execute(t->s, &t->env, OWNER, &r, &out, &err), 0);
    assert_int_equal(out.status, BK_ST_SUCCESS);
    assert_string_equal(out.provider, "alpaca");
    assert_int_equal(out.rows_written, 20);
    assert_int_equal(bars_of(t->s, "AAPL", BK_TF_D1), 20);
    bk_run got;
    assert_int_equal(bk_store_run_get(t->s, r.id, &got, &err), 0);
    assert_string_equal(got.provider, "alpaca");
    assert_int_equal(got.status, BK_ST_SUCCESS);
    bk_source src;
    assert_int_equal(bk_store_bars_source(t->s, "AAPL", BK_TF_D1, &src, &err), 0);
    assert_string_equal(src.provider, "alpaca");
    assert_string_equal(src.feed, "sip");
    assert_string_equal(src.adjustment, "split");
    /* the primary was asked once (no page retry while a fallback can
     * serve), then the secondary */
    assert_int_equal(fx_count(t->fm), 1);
    assert_int_equal(atomic_load(&alpaca->stats.fallback_served), 1);
    int64_t until;
    assert_int_equal(bk_provset_breaker(t->ps, massive, bk_clock_now_us(), &until),
                     BK_BREAKER_CLOSED); /* one failed run so far: 1 < 2 */

    /* a second failing run opens the primary's breaker; the third run goes
     * straight to the secondary */
    r = claim_run(t->s, "MSFT", BK_TF_D1, day_us(2025, 6, 2), day_us(2025, 7, 1));
    assert_int_equal(bk_work_execute(t->s, &t->env, OWNER, &r, &out, &err), 0);
    assert_string_equal(out.provider, "alpaca");
    assert_int_equal(bk_provset_breaker(t->ps, massive, bk_clock_now_us(), &until),
                     BK_BREAKER_OPEN);
    int asked = fx_count(t->fm);
    r = claim_run(t->s, "NVDA", BK_TF_D1, day_us(2025, 6, 2), day_us(2025, 7, 1));
    assert_int_equal(bk_work_execute(t->s, &t->env, OWNER, &r, &out, &err), 0);
    assert_string_equal(out.provider, "alpaca");
    assert_int_equal(fx_count(t->fm), asked); /* not asked while open */
    assert_int_equal(bars_of(t->s, "NVDA", BK_TF_D1), 20);
    teardown(t);
}

static bk_source source_of(bk_store *s, const char *sym)
{
    bk_source src;
    bk_err err = {0};
    if (bk_store_bars_source(s, sym, BK_TF_D1, &src, &err))
        fail_msg("source of %s: %s", sym, err.msg);
    return src;
}

/* A new series takes the feed of whichever compatible provider serves it
 * first; from then on its stored bars fix the feed. */
static void test_new_series_any_feed(void **state)
{
    (void)state;
    tfix *t = setup_feed("iex", "split"); /* massive: sip */
    atomic_store(&t->ms.fail_status, 500);
    bk_outcome out;
    bk_err err = {0};
    /* AAPL holds no bars: the primary fails, alpaca's iex bars start it */
    bk_run r = claim_run(t->s, "AAPL", BK_TF_D1, day_us(2025, 6, 2), day_us(2025, 7, 1));
    assert_int_equal(bk_work_execute(t->s, &t->env, OWNER, &r, &out, &err), 0);
    assert_int_equal(out.status, BK_ST_SUCCESS);
    assert_string_equal(out.provider, "alpaca");
    assert_int_equal(bars_of(t->s, "AAPL", BK_TF_D1), 20);
    assert_string_equal(source_of(t->s, "AAPL").feed, "iex");

    /* MSFT starts with massive's sip bars ... */
    atomic_store(&t->ms.fail_status, 0);
    r = claim_run(t->s, "MSFT", BK_TF_D1, day_us(2025, 6, 2), day_us(2025, 7, 1));
    assert_int_equal(bk_work_execute(t->s, &t->env, OWNER, &r, &out, &err), 0);
    assert_string_equal(out.provider, "massive");
    assert_string_equal(source_of(t->s, "MSFT").feed, "sip");
    /* ... so when massive fails, iex may not continue it */
    atomic_store(&t->ms.fail_status, 500);
    int asked = fx_count(t->fa);
    r = claim_run(t->s, "MSFT", BK_TF_D1, day_us(2025, 7, 1), day_us(2025, 8, 1));
    assert_int_equal(bk_work_execute(t->s, &t->env, OWNER, &r, &out, &err), 0);
    assert_int_equal(out.status, BK_ST_QUEUED);
    assert_int_equal(fx_count(t->fa), asked);
    bk_run got;
    assert_int_equal(bk_store_run_get(t->s, r.id, &got, &err), 0);
    assert_non_null(strstr(got.error_message, "alpaca serves the iex feed, the series holds sip"));
    assert_int_equal(bars_of(t->s, "MSFT", BK_TF_D1), 20);

    /* and AAPL, now an iex series, is not continued by massive's sip */
    atomic_store(&t->ms.fail_status, 0);
    asked = fx_count(t->fm);
    r = claim_run(t->s, "AAPL", BK_TF_D1, day_us(2025, 7, 1), day_us(2025, 8, 1));
    assert_int_equal(bk_work_execute(t->s, &t->env, OWNER, &r, &out, &err), 0);
    assert_string_equal(out.provider, "alpaca");
    assert_int_equal(fx_count(t->fm), asked);
    assert_string_equal(source_of(t->s, "AAPL").feed, "iex");
    teardown(t);
}

static void test_incompatible_refused(void **state)
{
    (void)state;
    tfix *t = setup("raw"); /* the secondary serves unadjusted bars */
    atomic_store(&t->ms.fail_status, 503);
    bk_run r = claim_run(t->s, "AAPL", BK_TF_D1, day_us(2025, 6, 2), day_us(2025, 7, 1));
    bk_outcome out;
    bk_err err = {0};
    assert_int_equal(bk_work_execute(t->s, &t->env, OWNER, &r, &out, &err), 0);
    assert_int_equal(out.status, BK_ST_QUEUED); /* waits for a compatible provider */
    assert_int_equal(fx_count(t->fa), 0);       /* never asked */
    assert_int_equal(bars_of(t->s, "AAPL", BK_TF_D1), 0);
    bk_run got;
    assert_int_equal(bk_store_run_get(t->s, r.id, &got, &err), 0);
    assert_string_equal(got.error_code, "PROVIDER_5XX");
    assert_non_null(strstr(got.error_message, "alpaca serves raw bars"));

    /* the primary's breaker opens: now no provider can be asked at all */
    r = got;
    assert_int_equal(
        bk_store_run_claim_id(t->s, r.id, OWNER, bk_clock_now_us(), 60 * BK_US_PER_S, &r, &err), 0);
    assert_int_equal(bk_work_execute(t->s, &t->env, OWNER, &r, &out, &err), 0);
    assert_int_equal(
        bk_store_run_claim_id(t->s, r.id, OWNER, bk_clock_now_us(), 60 * BK_US_PER_S, &r, &err), 0);
    int asked = fx_count(t->fm);
    assert_int_equal(bk_work_execute(t->s, &t->env, OWNER, &r, &out, &err), 0);
    assert_int_equal(fx_count(t->fm), asked);
    assert_int_equal(fx_count(t->fa), 0);
    assert_int_equal(bk_store_run_get(t->s, r.id, &got, &err), 0);
    assert_string_equal(got.error_code, "PROVIDER_UNAVAILABLE");
    assert_non_null(strstr(got.error_message, "massive: circuit breaker open"));
    assert_int_equal(bars_of(t->s, "AAPL", BK_TF_D1), 0);
    teardown(t);
}

/* One series' malformed answers are not an outage: its runs fail
 * PROVIDER_MALFORMED and wait, but no breaker opens, so other series are
 * still fetched from the primary. */
static void test_malformed_one_series(void **state)
{
    (void)state;
    tfix *t = setup("split"); /* breakers open after 2 failures */
    bk_outcome out;
    bk_err err = {0};
    for (int i = 0; i < 3; i++) {
        bk_run r = claim_run(t->s, BAD_SYMBOL, BK_TF_D1, day_us(2025, 6, 2 + 7 * i),
                             day_us(2025, 6, 9 + 7 * i));
        assert_int_equal(bk_work_execute(t->s, &t->env, OWNER, &r, &out, &err), 0);
        assert_int_equal(out.status, BK_ST_QUEUED);
        bk_run got;
        assert_int_equal(bk_store_run_get(t->s, r.id, &got, &err), 0);
        assert_string_equal(got.error_code, "PROVIDER_MALFORMED");
    }
    int64_t until;
    assert_int_equal(
        bk_provset_breaker(t->ps, bk_provset_get(t->ps, "massive"), bk_clock_now_us(), &until),
        BK_BREAKER_CLOSED);
    assert_int_equal(
        bk_provset_breaker(t->ps, bk_provset_get(t->ps, "alpaca"), bk_clock_now_us(), &until),
        BK_BREAKER_CLOSED);
    int asked = fx_count(t->fm);
    const char *others[] = {"AAPL", "MSFT"};
    for (int i = 0; i < 2; i++) {
        bk_run r = claim_run(t->s, others[i], BK_TF_D1, day_us(2025, 6, 2), day_us(2025, 7, 1));
        assert_int_equal(bk_work_execute(t->s, &t->env, OWNER, &r, &out, &err), 0);
        assert_int_equal(out.status, BK_ST_SUCCESS);
        assert_string_equal(out.provider, "massive");
        assert_int_equal(bars_of(t->s, others[i], BK_TF_D1), 20);
    }
    assert_int_equal(fx_count(t->fm), asked + 2);
    teardown(t);
}

/* A run that reached no provider (every breaker open) has not spent an
 * attempt: it waits for the first breaker to half-open with its attempt
 * unchanged, however often it finds them open, and is never dead-lettered
 * for it. */
static void test_breaker_wait_keeps_attempt(void **state)
{
    (void)state;
    tfix *t = setup("split"); /* breakers open after 2 failures */
    atomic_store(&t->ms.fail_status, 500);
    atomic_store(&t->al.fail_status, 500);
    bk_outcome out;
    bk_err err = {0};
    const char *down[] = {"AAPL", "MSFT"};
    for (int i = 0; i < 2; i++) {
        bk_run r = claim_run(t->s, down[i], BK_TF_D1, day_us(2025, 6, 2), day_us(2025, 7, 1));
        assert_int_equal(bk_work_execute(t->s, &t->env, OWNER, &r, &out, &err), 0);
        assert_int_equal(out.status, BK_ST_QUEUED);
    }
    int64_t until_m, until_a, now = bk_clock_now_us();
    assert_int_equal(bk_provset_breaker(t->ps, bk_provset_get(t->ps, "massive"), now, &until_m),
                     BK_BREAKER_OPEN);
    assert_int_equal(bk_provset_breaker(t->ps, bk_provset_get(t->ps, "alpaca"), now, &until_a),
                     BK_BREAKER_OPEN);
    int asked_m = fx_count(t->fm), asked_a = fx_count(t->fa);
    bk_run r = enqueue_run(t->s, "NVDA", BK_TF_D1, day_us(2025, 6, 2), day_us(2025, 7, 1));
    assert_int_equal(r.max_attempts, 3);
    for (int i = 0; i < 5; i++) { /* more often than max_attempts */
        bk_run got = rerun(t, r.id, &out);
        assert_int_equal(out.status, BK_ST_QUEUED);
        assert_int_equal(got.status, BK_ST_QUEUED);
        assert_int_equal(got.attempt, 1);
        assert_int_equal(got.not_before_us, BK_MIN(until_m, until_a));
        assert_string_equal(got.error_code, "PROVIDER_UNAVAILABLE");
        assert_non_null(strstr(got.error_message, "massive: circuit breaker open"));
    }
    assert_int_equal(fx_count(t->fm), asked_m);
    assert_int_equal(fx_count(t->fa), asked_a);
    teardown(t);
}

/* A guard that sets stop (released runs, a failed test) should a run hang
 * past limit_s; guard_end ends it at once. It never paces the test. */
typedef struct guard {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    atomic_bool stop;
    int limit_s;
    pthread_t th;
} guard;

static void *guard_main(void *arg)
{
    guard *g = arg;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += g->limit_s;
    pthread_mutex_lock(&g->mu);
    while (!g->done && pthread_cond_timedwait(&g->cv, &g->mu, &until) == 0)
        ;
    if (!g->done)
        atomic_store(&g->stop, true);
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

static void guard_start(guard *g, int limit_s)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->done = false;
    atomic_init(&g->stop, false);
    g->limit_s = limit_s;
    pthread_create(&g->th, NULL, guard_main, g);
}

static void guard_end(guard *g)
{
    pthread_mutex_lock(&g->mu);
    g->done = true;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->th, NULL);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

/* A failing primary whose budget is spent does not hold the runs a fallback
 * can serve: its failed page is not retried (no second token), and later
 * runs do not wait for its next token (one every 1000 s) but go to the
 * fallback. Asserted on the requests each fixture received. */
static void test_fallback_skips_failing_budget(void **state)
{
    (void)state;
    tfix *t = setup("split");
    atomic_store(&t->ms.fail_status, 500);
    bk_prov *massive = bk_provset_get(t->ps, "massive");
    massive->limits.rate_per_s = 0.001;
    massive->limits.burst = 1;
    guard g;
    guard_start(&g, 30);
    t->env.stop = &g.stop;
    const char *syms[] = {"AAPL", "MSFT", "NVDA"};
    bk_outcome out;
    bk_err err = {0};
    for (int i = 0; i < 3; i++) {
        bk_run r = claim_run(t->s, syms[i], BK_TF_D1, day_us(2025, 6, 2), day_us(2025, 7, 1));
        assert_int_equal(bk_work_execute(t->s, &t->env, OWNER, &r, &out, &err), 0);
        assert_int_equal(out.status, BK_ST_SUCCESS);
        assert_string_equal(out.provider, "alpaca");
        assert_int_equal(fx_count(t->fm), 1); /* its one token, in the first run */
        assert_int_equal(fx_count(t->fa), i + 1);
    }
    guard_end(&g);
    int64_t until;
    /* not the breaker (2 failures open it): the budget spared the wait */
    assert_int_equal(bk_provset_breaker(t->ps, massive, bk_clock_now_us(), &until),
                     BK_BREAKER_CLOSED);
    teardown(t);
}

static void test_rate_limit_respected(void **state)
{
    (void)state;
    enum { RUNS = 24, RATE = 12 };
    tfix *t = setup("split");
    /* the provider allows RATE requests per second (a burst of 2 absorbs
     * loopback scheduling jitter); barkeep is configured at RATE, burst 1 */
    fx_limit(t->fa, RATE, 2);
    bk_provset_free(t->ps);
    bk_breaker_cfg bc = {.failures = 5, .open_us = BK_US_PER_S};
    t->ps = bk_provset_new(&bc);
    bk_err err = {0};
    bk_prov *al = make(bk_alpaca_new, fx_url(t->fa), "sip", "split");
    al->limits.rate_per_s = RATE;
    al->limits.burst = 1;
    assert_int_equal(bk_provset_add(t->ps, al, &err), 0);
    assert_int_equal(bk_provset_set_chain(t->ps, BK_CLASS_DAILY, "alpaca", &err), 0);
    assert_int_equal(bk_provset_set_chain(t->ps, BK_CLASS_INTRADAY, "alpaca", &err), 0);
    /* RUNS one-week runs, enqueued then drained by a pool of 4 workers */
    bk_run runs[RUNS];
    memset(runs, 0, sizeof runs);
    int64_t week0 = day_us(2024, 1, 8);
    for (int i = 0; i < RUNS; i++) {
        bk_strlcpy(runs[i].symbol, "SPY", sizeof runs[i].symbol);
        runs[i].tf = BK_TF_D1;
        runs[i].type = BK_JOB_HISTORICAL;
        runs[i].slice_from_us = week0 + i * 7 * BK_US_PER_DAY;
        runs[i].slice_to_us = week0 + (i + 1) * 7 * BK_US_PER_DAY;
        runs[i].priority = 1;
        runs[i].max_attempts = 3;
        bk_strlcpy(runs[i].triggered_by, "test", sizeof runs[i].triggered_by);
    }
    size_t k = 0;
    assert_int_equal(bk_store_runs_enqueue(t->s, runs, RUNS, &k, bk_clock_now_us(), &err), 0);
    assert_int_equal(k, RUNS);
    bk_pool *pool = NULL;
    bk_pool_opts po = {.db_url = t->db, .threads = 4};
    po.env = (bk_work_env){.prov = al, .provs = t->ps, .conf = &t->conf};
    int64_t t0 = bk_clock_mono_us();
    assert_int_equal(bk_pool_start(&pool, &po, &err), 0);
    int64_t counts[BK_ST__N];
    bk_run_filter f = {.status = -1, .tf = -1};
    for (;;) {
        assert_int_equal(bk_store_runs_count(t->s, &f, counts, &err), 0);
        if (counts[BK_ST_SUCCESS] + counts[BK_ST_FAILED] == RUNS)
            break;
        assert_true(bk_clock_mono_us() - t0 < 60 * BK_US_PER_S);
        bk_pool_wait_progress(pool, 200 * BK_US_PER_MS);
    }
    int64_t elapsed = bk_clock_mono_us() - t0;
    bk_pool_stop(pool);
    assert_int_equal(counts[BK_ST_SUCCESS], RUNS);
    assert_int_equal(fx_count_429(t->fa), 0);
    assert_int_equal(fx_count(t->fa), RUNS);
    /* and the budget really paced them: RUNS requests at RATE/s take at
     * least (RUNS - 1) / RATE seconds */
    assert_true(elapsed >= (RUNS - 1) * BK_US_PER_S / RATE - 50 * BK_US_PER_MS);
    teardown(t);
}

/* Alpaca alone (budget rate/burst) drains n_sym × weeks one-week d1 runs
 * with a pool of 4 workers; returns the successes. */
static int64_t drain_alpaca(tfix *t, double rate, double burst, int n_sym, int weeks)
{
    static const char *const sym[] = {"SPY",  "QQQ",  "IWM",  "DIA",  "AAPL", "MSFT",
                                      "NVDA", "AMZN", "GOOG", "META", "TSLA", "NFLX"};
    assert_true(n_sym <= (int)BK_ARRAY_LEN(sym));
    bk_provset_free(t->ps);
    bk_breaker_cfg bc = {.failures = 5, .open_us = BK_US_PER_S};
    t->ps = bk_provset_new(&bc);
    bk_err err = {0};
    bk_prov *al = make(bk_alpaca_new, fx_url(t->fa), "sip", "split");
    al->limits.rate_per_s = rate;
    al->limits.burst = burst;
    assert_int_equal(bk_provset_add(t->ps, al, &err), 0);
    assert_int_equal(bk_provset_set_chain(t->ps, BK_CLASS_DAILY, "alpaca", &err), 0);
    assert_int_equal(bk_provset_set_chain(t->ps, BK_CLASS_INTRADAY, "alpaca", &err), 0);
    size_t n = (size_t)(n_sym * weeks), k = 0;
    bk_run *runs = calloc(n, sizeof *runs);
    for (size_t i = 0; i < n; i++) {
        bk_strlcpy(runs[i].symbol, sym[i % (size_t)n_sym], sizeof runs[i].symbol);
        runs[i].tf = BK_TF_D1;
        runs[i].type = BK_JOB_HISTORICAL;
        runs[i].slice_from_us =
            day_us(2024, 1, 8) + (int64_t)(i / (size_t)n_sym) * 7 * BK_US_PER_DAY;
        runs[i].slice_to_us = runs[i].slice_from_us + 7 * BK_US_PER_DAY;
        runs[i].priority = 1;
        runs[i].max_attempts = 3;
        bk_strlcpy(runs[i].triggered_by, "test", sizeof runs[i].triggered_by);
    }
    assert_int_equal(bk_store_runs_enqueue(t->s, runs, n, &k, bk_clock_now_us(), &err), 0);
    assert_int_equal(k, n);
    free(runs);
    bk_pool *pool = NULL;
    bk_pool_opts po = {.db_url = t->db, .threads = 4};
    po.env = (bk_work_env){.prov = al, .provs = t->ps, .conf = &t->conf};
    assert_int_equal(bk_pool_start(&pool, &po, &err), 0);
    int64_t counts[BK_ST__N], t0 = bk_clock_mono_us();
    bk_run_filter f = {.status = -1, .tf = -1};
    for (;;) {
        assert_int_equal(bk_store_runs_count(t->s, &f, counts, &err), 0);
        if (counts[BK_ST_SUCCESS] + counts[BK_ST_FAILED] == (int64_t)n)
            break;
        assert_true(bk_clock_mono_us() - t0 < 120 * BK_US_PER_S);
        bk_pool_wait_progress(pool, 200 * BK_US_PER_MS);
    }
    bk_pool_stop(pool);
    return counts[BK_ST_SUCCESS];
}

/* A provider publishing "LIMIT requests a second" (a sliding window of the
 * fixture) and barkeep's default budget for it (bk_prov_budget_below): 240
 * requests by 4 workers, not one 429. The margin is what makes it hold: at
 * the limit itself (LIMIT/s, burst 1) the 21st request of a second arrives
 * within the window of the first as soon as it travels faster than the
 * first did. */
static void test_rate_limit_margin(void **state)
{
    (void)state;
    enum { LIMIT = 20, N_SYM = 12, WEEKS = 20 };
    tfix *t = setup("split");
    fx_limit_window(t->fa, LIMIT, 1000);
    bk_prov_limits l;
    bk_prov_budget_below(&l, LIMIT, 1.0, 1);
    assert_true(l.rate_per_s < LIMIT);
    assert_int_equal(drain_alpaca(t, l.rate_per_s, l.burst, N_SYM, WEEKS), N_SYM * WEEKS);
    assert_int_equal(fx_count_429(t->fa), 0);
    assert_int_equal(fx_count(t->fa), N_SYM * WEEKS);
    teardown(t);
}

/* A 429 of the primary followed by a fallback that serves the run: the run
 * names alpaca and succeeds, and the store still holds massive's 429. */
static void test_fallback_429_recorded(void **state)
{
    (void)state;
    tfix *t = setup("split");
    atomic_store(&t->ms.limit_next, 1);
    bk_run r = claim_run(t->s, "AAPL", BK_TF_D1, day_us(2025, 6, 2), day_us(2025, 7, 1));
    bk_outcome out;
    bk_err err = {0};
    assert_int_equal(bk_work_execute(t->s, &t->env, OWNER, &r, &out, &err), 0);
    assert_int_equal(out.status, BK_ST_SUCCESS);
    assert_string_equal(out.provider, "alpaca");
    assert_int_equal(fx_count_429(t->fm), 1);
    bk_prov_count *c = NULL;
    size_t n = 0;
    assert_int_equal(bk_store_rate_limited_count(t->s, 0, &c, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(c[0].provider, "massive");
    assert_int_equal(c[0].n, 1);
    free(c);
    teardown(t);
}

/* The 429 column of `barkeep providers` from the output of the command:
 * the massive row of the runs section, -1 when absent. */
static long long providers_429(const char *out, const char *name)
{
    const char *sec = strstr(out, "\nruns in the last");
    char key[40];
    snprintf(key, sizeof key, "\n%-8s ", name);
    const char *row = sec ? strstr(sec, key) : NULL;
    long long ok, queued, failed, limited;
    if (!row || sscanf(row + 1, "%*s %lld %lld %lld %lld", &ok, &queued, &failed, &limited) != 4)
        return -1;
    return limited;
}

/* 429s answered to pages that a retry then fetched leave no trace in the
 * runs (they all succeed), yet `barkeep providers` counts them: every 429
 * received is recorded in the store. */
static void test_providers_counts_429s(void **state)
{
    (void)state;
    tfix *t = setup("split");
    atomic_store(&t->ms.limit_next, 3);
    char fx_set[160];
    snprintf(fx_set, sizeof fx_set, "massive_url=%s", fx_url(t->fm));
    const char *now = "2025-07-01T12:00:00Z";
    const char *add[] = {bk_t_bin(), "--db", t->db, "--now",         now,  "jobs",
                         "add",      "AAPL", "d1",  "--window-days", "30", NULL};
    bk_t_result r = bk_t_run(add, NULL);
    assert_int_equal(r.status, 0);
    bk_t_result_free(&r);
    const char *env[] = {"MASSIVE_API_KEY=mk-0123456789abcdef", NULL};
    const char *tick[] = {bk_t_bin(),
                          "--db",
                          t->db,
                          "--now",
                          now,
                          "--set",
                          "providers=massive",
                          "--set",
                          fx_set,
                          "--set",
                          "provider_rates=massive=50",
                          "--set",
                          "page_retries=3",
                          "--set",
                          "retry_base_ms=10",
                          "--log-level",
                          "error",
                          "tick",
                          "--wait",
                          NULL};
    r = bk_t_run(tick, env);
    if (r.status != 0)
        fprintf(stderr, "%s%s", r.out, r.err);
    assert_int_equal(r.status, 0);
    bk_t_result_free(&r);
    assert_int_equal(fx_count_429(t->fm), 3);
    bk_run_filter f = {.status = -1, .tf = -1};
    int64_t counts[BK_ST__N];
    bk_err err = {0};
    assert_int_equal(bk_store_runs_count(t->s, &f, counts, &err), 0);
    assert_true(counts[BK_ST_SUCCESS] > 0);
    assert_int_equal(counts[BK_ST_SUCCESS], counts[BK_ST_QUEUED] + counts[BK_ST_RUNNING] +
                                                counts[BK_ST_SUCCESS] + counts[BK_ST_FAILED]);
    const char *prov[] = {bk_t_bin(),          "--db",  t->db,  "--now",     now, "--set",
                          "providers=massive", "--set", fx_set, "providers", NULL};
    r = bk_t_run(prov, env);
    assert_int_equal(r.status, 0);
    if (providers_429(r.out, "massive") != 3)
        fprintf(stderr, "%s", r.out);
    assert_int_equal(providers_429(r.out, "massive"), 3);
    bk_t_result_free(&r);
    teardown(t);
}

/* A 1h run whose source bars hold one impossible bar: the run fails with
 * INVALID_BAR, and neither bars nor coverage are stored for it. */
static void test_bad_source_bar_not_stored(void **state)
{
    (void)state;
    tfix *t = setup("split");
    bk_provset_free(t->ps);
    bk_breaker_cfg bc = {.failures = 5, .open_us = BK_US_PER_S};
    t->ps = bk_provset_new(&bc);
    bk_err err = {0};
    bk_prov *ms = make(bk_massive_new, fx_url(t->fm), NULL, "split");
    assert_int_equal(bk_provset_add(t->ps, ms, &err), 0);
    assert_int_equal(bk_provset_set_chain(t->ps, BK_CLASS_INTRADAY, "massive", &err), 0);
    assert_int_equal(bk_provset_set_chain(t->ps, BK_CLASS_DAILY, "massive", &err), 0);
    t->env = (bk_work_env){.prov = ms, .provs = t->ps, .conf = &t->conf};
    int64_t open = bk_cal_ny_to_utc(bk_days_from_civil(2025, 7, 7), 9, 30);
    for (int tf = BK_TF_1H; tf <= BK_TF_4H; tf++) {
        bk_run r = claim_run(t->s, "AAPL", (bk_tf)tf, open, open + 2 * BK_US_PER_HOUR);
        bk_outcome out;
        assert_int_equal(bk_work_execute(t->s, &t->env, OWNER, &r, &out, &err), 0);
        assert_int_equal(out.code, BK_EBADBAR);
        bk_run got;
        assert_int_equal(bk_store_run_get(t->s, r.id, &got, &err), 0);
        assert_string_equal(got.error_code, "INVALID_BAR");
        assert_non_null(strstr(got.error_message, "high below low"));
        assert_int_equal(got.rows_written, 0);
        assert_int_equal(bars_of(t->s, "AAPL", (bk_tf)tf), 0);
        bk_series *st = NULL;
        size_t n_st = 0;
        assert_int_equal(bk_store_series_load(t->s, "AAPL", tf, &st, &n_st, &err), 0);
        assert_true(n_st == 0 || st[0].covered.n == 0);
        bk_series_free(st, n_st);
    }
    teardown(t);
}

/* Run the real binary at --now with massive configured (key, fixture URL,
 * budget) and args after the global options; its exit status is asserted. */
static bk_t_result run_massive(tfix *t, const char *now, const char *const *args, int status)
{
    char fx_set[160];
    snprintf(fx_set, sizeof fx_set, "massive_url=%s", fx_url(t->fm));
    const char *argv[32] = {bk_t_bin(),
                            "--db",
                            t->db,
                            "--now",
                            now,
                            "--set",
                            "providers=massive",
                            "--set",
                            fx_set,
                            "--set",
                            "provider_rates=massive=50",
                            "--log-level",
                            "error"};
    size_t n = 13;
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    const char *env[] = {"MASSIVE_API_KEY=mk-0123456789abcdef", NULL};
    bk_t_result r = bk_t_run(argv, env);
    if (r.status != status)
        fprintf(stderr, "%s%s", r.out, r.err);
    assert_int_equal(r.status, status);
    return r;
}

/* A weekly window that starts mid-week: 30 days before Thursday 2025-07-03
 * is 00:00 UTC Tuesday 2025-06-03, inside the week of Monday 2025-06-02.
 * That week's bar is planned, fetched and stored with the four after it (the
 * week of 2025-06-30 closed at Thursday's 13:00 early close: July 4 is a
 * holiday), and `gaps` agrees that nothing is missing. */
static void test_weekly_window_mid_week(void **state)
{
    (void)state;
    tfix *t = setup("split");
    const char *now = "2025-07-03T18:00:00Z";
    const char *add[] = {"jobs", "add", "AAPL", "w1", "--window-days", "30", NULL};
    bk_t_result r = run_massive(t, now, add, 0);
    bk_t_result_free(&r);
    const char *tick[] = {"tick", "--wait", NULL};
    r = run_massive(t, now, tick, 0);
    bk_t_result_free(&r);
    const char *bars[] = {"bars", "AAPL", "w1", NULL};
    r = run_massive(t, now, bars, 0);
    const char *want[] = {"2025-06-02T04:00:00Z", "2025-06-09T04:00:00Z", "2025-06-16T04:00:00Z",
                          "2025-06-23T04:00:00Z", "2025-06-30T04:00:00Z"};
    const char *line = strchr(r.out, '\n');
    assert_non_null(line);
    for (size_t i = 0; i < BK_ARRAY_LEN(want); i++) {
        assert_non_null(line);
        if (strncmp(line + 1, want[i], strlen(want[i])) != 0)
            fail_msg("bar %zu: want %s, got:\n%s", i, want[i], r.out);
        line = strchr(line + 1, '\n');
    }
    assert_string_equal(line, "\n");
    bk_t_result_free(&r);
    const char *gaps[] = {"gaps", "AAPL", "w1", NULL};
    r = run_massive(t, now, gaps, 0);
    assert_string_equal(r.out, "GAP_FROM             GAP_TO               GAP_HOURS\n"); /* none */
    bk_t_result_free(&r);
    teardown(t);
}

/* The real binary, configured only through settings and the environment:
 * the key from MASSIVE_API_KEY, the base URL from massive_url; `tick --wait`
 * hydrates a daily series from the fixture; the bars record massive / sip /
 * split, and no gap is left. Without the key, listing massive is a usage
 * error and nothing is fetched. */
static void test_binary_configuration(void **state)
{
    (void)state;
    tfix *t = setup("split");
    char url[128], fx_set[160];
    bk_strlcpy(url, fx_url(t->fm), sizeof url);
    snprintf(fx_set, sizeof fx_set, "massive_url=%s", url);
    const char *now = "2025-07-01T12:00:00Z";
    const char *add[] = {bk_t_bin(), "--db", t->db, "--now",         now,  "jobs",
                         "add",      "AAPL", "d1",  "--window-days", "30", NULL};
    bk_t_result r = bk_t_run(add, NULL);
    assert_int_equal(r.status, 0);
    bk_t_result_free(&r);
    /* (the plan's 5 requests a minute would make the second slice wait 12 s) */
    const char *tick[] = {bk_t_bin(),
                          "--db",
                          t->db,
                          "--now",
                          now,
                          "--set",
                          "providers=massive",
                          "--set",
                          fx_set,
                          "--set",
                          "provider_rates=massive=50",
                          "--log-level",
                          "error",
                          "tick",
                          "--wait",
                          NULL};
    r = bk_t_run(tick, NULL); /* no key */
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "MASSIVE_API_KEY"));
    bk_t_result_free(&r);
    assert_int_equal(fx_count(t->fm), 0);
    const char *env[] = {"MASSIVE_API_KEY=mk-0123456789abcdef", NULL};
    r = bk_t_run(tick, env);
    if (r.status != 0)
        fprintf(stderr, "%s%s", r.out, r.err);
    assert_int_equal(r.status, 0);
    bk_t_result_free(&r);
    assert_true(fx_count(t->fm) > 0);
    fx_req seen;
    assert_int_equal(fx_request(t->fm, 0, &seen), 0);
    assert_string_equal(fx_header(&seen, "Authorization"), "Bearer mk-0123456789abcdef");
    assert_null(fx_param(&seen, "apiKey"));
    bk_err err = {0};
    bk_source src;
    assert_int_equal(bk_store_bars_source(t->s, "AAPL", BK_TF_D1, &src, &err), 0);
    assert_string_equal(src.provider, "massive");
    assert_string_equal(src.feed, "sip");
    assert_string_equal(src.adjustment, "split");
    assert_true(bars_of(t->s, "AAPL", BK_TF_D1) >= 20);
    assert_int_equal(bars_of(t->s, "AAPL", BK_TF_D1), atomic_load(&t->ms.bars_served));
    const char *gaps[] = {bk_t_bin(), "--db", t->db, "--now", now, "gaps", "AAPL", "d1", NULL};
    r = bk_t_run(gaps, NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "GAP_FROM             GAP_TO               GAP_HOURS\n"); /* none */
    bk_t_result_free(&r);
    teardown(t);
}

/* ---- Yahoo's 1m retention (issue 12.6) ---- */

/* Yahoo: /v8/finance/chart/SYM?interval=1m&period1=..&period2=..: 1m bars of
 * the regular session, or the recorded 422 retention refusal for a window
 * that starts more than 30 days before the test's instant. */
typedef struct yserver {
    int64_t oldest_us; /* a window starting before this is refused */
    atomic_int refused, answered;
} yserver;

static void yahoo_bars(fx_resp *r, int64_t from_us, int64_t to_us)
{
    size_t n = bk_cal_bars(BK_TF_1M, BK_ANCHOR_SESSION, from_us, to_us, NULL, 0);
    bk_calbar *b = calloc(n + 1, sizeof *b);
    bk_cal_bars(BK_TF_1M, BK_ANCHOR_SESSION, from_us, to_us, b, n);
    size_t cap = 256 + n * 80, len = 0;
    char *j = malloc(cap);
    static const char *const keys[] = {"open", "high", "low", "close", "volume"};
    static const double delta[] = {0, 1, -1, 0.5};
    len += (size_t)snprintf(j + len, cap - len, "{\"chart\":{\"result\":[{\"timestamp\":[");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(j + len, cap - len, "%s%lld", i ? "," : "",
                                (long long)(b[i].ts_us / BK_US_PER_S));
    len += (size_t)snprintf(j + len, cap - len, "],\"indicators\":{\"quote\":[{");
    for (int k = 0; k < 5; k++) {
        len += (size_t)snprintf(j + len, cap - len, "%s\"%s\":[", k ? "," : "", keys[k]);
        for (size_t i = 0; i < n; i++) {
            double v = k == 4 ? 1000 : 100 + (double)(i % 7) + delta[k];
            len += (size_t)snprintf(j + len, cap - len, "%s%g", i ? "," : "", v);
        }
        len += (size_t)snprintf(j + len, cap - len, "]");
    }
    snprintf(j + len, cap - len, "}]}}],\"error\":null}}");
    fx_body(r, j);
    free(j);
    free(b);
}

static void yahoo_handler(void *ctx, const fx_req *req, fx_resp *r)
{
    yserver *sv = ctx;
    const char *iv = fx_param(req, "interval"), *p1 = fx_param(req, "period1"),
               *p2 = fx_param(req, "period2");
    if (!iv || !p1 || !p2 || strcmp(iv, "1m") != 0) {
        r->status = 400;
        fx_body(r, "{\"chart\":{\"result\":null,\"error\":{\"code\":\"Bad Request\","
                   "\"description\":\"unexpected request\"}}}");
        return;
    }
    int64_t from = strtoll(p1, NULL, 10) * BK_US_PER_S, to = strtoll(p2, NULL, 10) * BK_US_PER_S;
    if (from < sv->oldest_us) {
        atomic_fetch_add(&sv->refused, 1);
        char path[512];
        snprintf(path, sizeof path, "%s/yahoo/422_retention.json", getenv("BK_FIXTURES"));
        r->status = 422;
        fx_body_file(r, path);
        return;
    }
    atomic_fetch_add(&sv->answered, 1);
    yahoo_bars(r, from, to);
}

/* Run the binary on db at now with the chain yahoo (served by f). */
static bk_t_result yahoo_run(const char *db, const char *now, const fx *f, const char *const *cmd)
{
    char url[160];
    snprintf(url, sizeof url, "yahoo_url=%s", fx_url(f));
    const char *argv[32] = {bk_t_bin(),
                            "--db",
                            db,
                            "--now",
                            now,
                            "--set",
                            "providers=yahoo",
                            "--set",
                            url,
                            "--set",
                            "provider_rates=yahoo=1000",
                            "--log-level",
                            "error"};
    size_t n = 13;
    for (size_t i = 0; cmd[i] && n < 31; i++)
        argv[n++] = cmd[i];
    argv[n] = NULL;
    return bk_t_run(argv, NULL);
}

/* Yahoo serves 1m bars of the last 30 days only (its limits say 29). A
 * 35-day 1m window on the chain yahoo: no run is planned for time older
 * than that, so no request is refused and `tick --wait` exits 0; `gaps` and
 * `coverage` show the old part as unservable ("beyond yahoo's history"),
 * not as a gap that will fill. */
static void test_yahoo_history_clipped(void **state)
{
    (void)state;
    const char *now = "2025-07-08T20:30:00Z"; /* a Tuesday after the close */
    int64_t now_us;
    assert_int_equal(bk_time_parse(now, &now_us), 0);
    yserver ys = {.oldest_us = now_us - 30 * BK_US_PER_DAY};
    fx *f = fx_start(yahoo_handler, &ys);
    char *dir = bk_t_tmpdir("yhist"), *db = bk_t_path(dir, "y.db");
    const char *add[] = {"jobs", "add", "AAPL", "1m", "--window-days", "35", NULL};
    bk_t_result r = yahoo_run(db, now, f, add);
    assert_int_equal(r.status, 0);
    bk_t_result_free(&r);

    const char *tick[] = {"tick", "--wait", NULL};
    r = yahoo_run(db, now, f, tick);
    if (r.status != 0)
        fprintf(stderr, "%s%s", r.out, r.err);
    assert_int_equal(r.status, 0);
    bk_t_result_free(&r);
    assert_int_equal(atomic_load(&ys.refused), 0);
    assert_true(atomic_load(&ys.answered) > 0);

    /* every run lies within Yahoo's 29 days; none failed */
    bk_store *s = NULL;
    bk_err err = {0};
    assert_int_equal(bk_store_open(&s, db, &err), 0);
    bk_run_filter rf = {.status = -1, .tf = -1};
    bk_run *runs = NULL;
    size_t n = 0;
    assert_int_equal(bk_store_runs_list(s, &rf, &runs, &n, &err), 0);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        assert_true(runs[i].slice_from_us >= now_us - 29 * BK_US_PER_DAY);
        assert_int_equal(runs[i].status, BK_ST_SUCCESS);
    }
    free(runs);
    bk_store_close(s);

    /* gaps: no gap left; the window's first days are unservable */
    const char *gaps[] = {"gaps", "AAPL", "1m", NULL};
    r = yahoo_run(db, now, f, gaps);
    assert_int_equal(r.status, 0);
    assert_true(
        strncmp(r.out, "GAP_FROM             GAP_TO               GAP_HOURS\nUNSERVABLE", 62) == 0);
    assert_non_null(strstr(r.out, "2025-06-03T13:30:00Z 2025-06-03T20:00:00Z"));
    assert_non_null(strstr(r.out, "beyond yahoo's history"));
    assert_null(strstr(r.out, "2025-06-10T")); /* servable from 2025-06-10T00:00Z */
    bk_t_result_free(&r);
    const char *gaps_json[] = {"gaps", "AAPL", "1m", "--json", NULL};
    r = yahoo_run(db, now, f, gaps_json);
    assert_int_equal(r.status, 0);
    assert_null(strstr(r.out, "\"gap_from\""));
    assert_non_null(strstr(r.out, "{\"unservable_from\":\"2025-06-03T13:30:00Z\","
                                  "\"unservable_to\":\"2025-06-03T20:00:00Z\","
                                  "\"unservable_hours\":6.5,"
                                  "\"reason\":\"beyond yahoo's history\"}"));
    bk_t_result_free(&r);

    /* coverage: 5 sessions (3-9 June) of 6.5 hours unservable */
    const char *cov[] = {"coverage", "AAPL", "1m", "--json", NULL};
    r = yahoo_run(db, now, f, cov);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"unservable_hours\":32.5,"
                                  "\"unservable_reason\":\"beyond yahoo's history\""));
    bk_t_result_free(&r);
    fx_stop(f);
    bk_t_rmtree(dir);
    free(db);
    free(dir);
}

/* A run older than every provider of its chain serves (planned before the
 * limit was known, or enqueued by hand) is not sent to be refused: the
 * worker skips Yahoo for it and dead-letters it as PROVIDER_RANGE, "yahoo:
 * beyond its history", without a request. */
static void test_worker_skips_beyond_history(void **state)
{
    (void)state;
    yserver ys = {.oldest_us = INT64_MIN}; /* would answer anything */
    fx *f = fx_start(yahoo_handler, &ys);
    char *dir = bk_t_tmpdir("yskip"), *db = bk_t_path(dir, "y.db");
    bk_err err = {0};
    bk_store *s = NULL;
    assert_int_equal(bk_store_open(&s, db, &err), 0);
    assert_int_equal(bk_store_migrate(s, NULL, &err), 0);
    bk_conf conf;
    bk_conf_defaults(&conf);
    bk_breaker_cfg bc = {.failures = 2, .open_us = 60 * BK_US_PER_S};
    bk_provset *ps = bk_provset_new(&bc);
    assert_int_equal(bk_provset_add(ps, make(bk_yahoo_new, fx_url(f), NULL, NULL), &err), 0);
    assert_int_equal(bk_provset_set_chain(ps, BK_CLASS_INTRADAY, "yahoo", &err), 0);
    bk_work_env env = {.prov = bk_provset_primary(ps, BK_TF_1M), .provs = ps, .conf = &conf};

    int64_t now = bk_clock_now_us();
    int64_t day = bk_prov_day_label((int32_t)((now - 40 * BK_US_PER_DAY) / BK_US_PER_DAY));
    bk_run r;
    memset(&r, 0, sizeof r);
    bk_strlcpy(r.symbol, "AAPL", sizeof r.symbol);
    r.tf = BK_TF_1M;
    r.type = BK_JOB_INTRADAY;
    r.slice_from_us = day + 14 * BK_US_PER_HOUR;
    r.slice_to_us = day + 16 * BK_US_PER_HOUR;
    r.max_attempts = 3;
    bk_strlcpy(r.triggered_by, "test", sizeof r.triggered_by);
    size_t k = 0;
    assert_int_equal(bk_store_runs_enqueue(s, &r, 1, &k, now, &err), 0);
    assert_int_equal(k, 1);
    bk_run c;
    assert_int_equal(bk_store_run_claim(s, OWNER, now, 60 * BK_US_PER_S, &c, &err), 0);
    bk_outcome out;
    assert_int_equal(bk_work_execute(s, &env, OWNER, &c, &out, &err), 0);
    assert_int_equal(out.status, BK_ST_FAILED);
    assert_int_equal(fx_count(f), 0);
    bk_run got;
    assert_int_equal(bk_store_run_get(s, c.id, &got, &err), 0);
    assert_string_equal(got.error_code, "PROVIDER_RANGE");
    assert_non_null(strstr(got.error_message, "yahoo: beyond its history"));
    bk_provset_free(ps);
    bk_store_close(s);
    fx_stop(f);
    bk_t_rmtree(dir);
    free(db);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fallback),
        cmocka_unit_test(test_incompatible_refused),
        cmocka_unit_test(test_new_series_any_feed),
        cmocka_unit_test(test_malformed_one_series),
        cmocka_unit_test(test_breaker_wait_keeps_attempt),
        cmocka_unit_test(test_fallback_skips_failing_budget),
        cmocka_unit_test(test_rate_limit_respected),
        cmocka_unit_test(test_rate_limit_margin),
        cmocka_unit_test(test_bad_source_bar_not_stored),
        cmocka_unit_test(test_binary_configuration),
        cmocka_unit_test(test_providers_counts_429s),
        cmocka_unit_test(test_fallback_429_recorded),
        cmocka_unit_test(test_weekly_window_mid_week),
        cmocka_unit_test(test_yahoo_history_clipped),
        cmocka_unit_test(test_worker_skips_beyond_history),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
