/*
 * test_empty.c — an empty answer becomes coverage only with evidence that
 * the symbol exists there (SPEC section 9), end to end: real adapters
 * (Massive, Alpaca, Finnhub, Tradier) through libcurl against fixture
 * servers on loopback, the worker, and a real SQLite store.
 *
 * The fixture servers answer daily bars for every symbol but NOPE (unknown:
 * each provider's own "no data" shape, exactly what it sends for an unknown
 * ticker) and HALT (no bars from 2025-03-10 to 2025-03-21, bars around).
 *
 * - an unknown symbol is never covered: each adapter's empty answer, then a
 *   probe of the neighbouring daily bars that finds none → UNKNOWN_SYMBOL,
 *   dead-lettered, no coverage, no bar; through a fallback chain too;
 * - a halt is covered as confirmed empty: the probe finds bars around it;
 * - a series that holds bars needs no probe (one request);
 * - a probe that fails is EMPTY_UNCONFIRMED (retryable), no coverage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cal/cal.h"
#include "conf/conf.h"
#include "core/clock.h"
#include "core/util.h"
#include "fixture.h"
#include "model/time.h"
#include "plan/plan.h"
#include "prov/prov.h"
#include "prov/provset.h"
#include "store/store.h"
#include "testutil.h"
#include "work/work.h"

#define OWNER "w-empty"

typedef struct server {
    atomic_int requests;
    atomic_int fail_probe; /* answer 500 to a request that spans more than 10 days */
} server;

static int64_t day_us(int y, int m, int d)
{
    return bk_prov_day_label(bk_days_from_civil(y, m, d));
}

/* Daily bars of sym with labels in [from, to): none for NOPE, none in
 * HALT's halt. */
static size_t bars_of(const char *sym, int64_t from_us, int64_t to_us, bk_calbar *out, size_t cap)
{
    if (strcmp(sym, "NOPE") == 0)
        return 0;
    size_t n = bk_cal_bars(BK_TF_D1, BK_ANCHOR_SESSION, from_us, to_us, NULL, 0);
    bk_calbar *all = calloc(n + 1, sizeof *all);
    bk_cal_bars(BK_TF_D1, BK_ANCHOR_SESSION, from_us, to_us, all, n);
    size_t k = 0;
    for (size_t i = 0; i < n && k < cap; i++) {
        bool halted = strcmp(sym, "HALT") == 0 && all[i].ts_us >= day_us(2025, 3, 10) &&
                      all[i].ts_us < day_us(2025, 3, 22);
        if (all[i].ts_us >= from_us && all[i].ts_us < to_us && !halted)
            out[k++] = all[i];
    }
    free(all);
    return k;
}

static double price(int64_t ts_us)
{
    return 100.0 + (double)((ts_us / BK_US_PER_DAY) % 50);
}

/* Shared by the handlers: count, and fail a probe when told to. */
static bool refuse(server *sv, int64_t from, int64_t to, fx_resp *r)
{
    atomic_fetch_add(&sv->requests, 1);
    if (atomic_load(&sv->fail_probe) && to - from > 10 * BK_US_PER_DAY) {
        r->status = 500;
        fx_body(r, "{\"error\":\"internal\"}");
        return true;
    }
    return false;
}

/* Massive's daily aggregates; an unknown ticker gets its no-data shape. */
static void massive_handler(void *ctx, const fx_req *req, fx_resp *r)
{
    char sym[16];
    bool daily;
    int64_t from, to;
    if (!fx_massive_range(req, sym, sizeof sym, &daily, &from, &to) || !daily) {
        r->status = 400;
        return;
    }
    if (refuse(ctx, from, to, r))
        return;
    bk_calbar cb[800];
    bk_bar bars[800];
    size_t n = bars_of(sym, from, to, cb, 800);
    for (size_t i = 0; i < n; i++) {
        double o = price(cb[i].ts_us);
        bars[i] = (bk_bar){.ts_us = cb[i].ts_us,
                           .open = o,
                           .high = o + 2,
                           .low = o - 1,
                           .close = o + 1,
                           .volume = 1000};
    }
    fx_massive_body(r, sym, bars, n);
}

/* Alpaca: /v2/stocks/SYM/bars?timeframe=1Day&start=&end=; no bars: null. */
static void alpaca_handler(void *ctx, const fx_req *req, fx_resp *r)
{
    char sym[16] = "";
    const char *s0 = fx_param(req, "start"), *s1 = fx_param(req, "end");
    int64_t from, to;
    if (sscanf(req->path, "/v2/stocks/%15[^/]/bars", sym) != 1 || !s0 || !s1 ||
        bk_time_parse(s0, &from) || bk_time_parse(s1, &to)) {
        r->status = 400;
        return;
    }
    if (refuse(ctx, from, to, r))
        return;
    bk_calbar cb[800];
    size_t n = bars_of(sym, from, to + 1, cb, 800);
    bk_buf out;
    bk_buf_init(&out);
    bk_buf_puts(&out, n ? "{\"bars\":[" : "{\"bars\":null");
    for (size_t i = 0; i < n; i++) {
        char t[BK_TIME_STR_MAX];
        double o = price(cb[i].ts_us);
        bk_buf_printf(&out,
                      "%s{\"t\":\"%s\",\"o\":%.2f,\"h\":%.2f,\"l\":%.2f,\"c\":%.2f,"
                      "\"v\":1000,\"n\":10,\"vw\":%.2f}",
                      i ? "," : "", bk_time_format(cb[i].ts_us, t), o, o + 2, o - 1, o + 1, o);
    }
    bk_buf_printf(&out, "%s,\"symbol\":\"%s\",\"next_page_token\":null}", n ? "]" : "", sym);
    r->body = out.data;
    r->len = out.len;
}

/* Finnhub: /stock/candle?symbol=&resolution=D&from=&to= (unix seconds);
 * nothing: {"s":"no_data"}. Tradier: /v1/markets/history?symbol=&start=&end=
 * (dates); nothing: {"history":null}. Only NOPE is asked of them. */
static void finnhub_handler(void *ctx, const fx_req *req, fx_resp *r)
{
    (void)req;
    if (refuse(ctx, 0, 0, r))
        return;
    fx_body(r, "{\"s\":\"no_data\"}");
}

static void tradier_handler(void *ctx, const fx_req *req, fx_resp *r)
{
    (void)req;
    if (refuse(ctx, 0, 0, r))
        return;
    fx_body(r, "{\"history\":null}");
}

/* ---- fixture ---- */

enum { MASSIVE, ALPACA, FINNHUB, TRADIER, N_PROV };

typedef struct tfix {
    char *dir, *db;
    bk_store *s;
    bk_conf conf;
    server sv[N_PROV];
    fx *fx[N_PROV];
    bk_provset *ps;
    bk_work_env env;
} tfix;

static bk_prov *make(int which, const char *url)
{
    static int (*const ctor[N_PROV])(bk_prov **, const bk_prov_cfg *, bk_err *) = {
        bk_massive_new, bk_alpaca_new, bk_finnhub_new, bk_tradier_new};
    bk_prov_cfg cfg = {.base_url = url,
                       .key = "key-id-0123456789",
                       .secret = "secret-0123456789",
                       .feed = which == ALPACA ? "sip" : NULL,
                       .adjustment = which == FINNHUB  ? "split"
                                     : which == ALPACA ? "raw"
                                                       : NULL,
                       .timeout_ms = 5000,
                       .anchor = BK_ANCHOR_SESSION};
    bk_prov *p = NULL;
    bk_err err = {0};
    if (ctor[which](&p, &cfg, &err) != 0)
        fail_msg("provider: %s", err.msg);
    p->limits.rate_per_s = 0;
    return p;
}

/* Every provider added; the daily chain as given ("massive,alpaca"). */
static tfix *setup(const char *chain)
{
    static const fx_handler h[N_PROV] = {massive_handler, alpaca_handler, finnhub_handler,
                                         tradier_handler};
    tfix *t = calloc(1, sizeof *t);
    t->dir = bk_t_tmpdir("empty");
    t->db = bk_t_path(t->dir, "empty.db");
    bk_err err = {0};
    if (bk_store_open(&t->s, t->db, &err) || bk_store_migrate(t->s, NULL, &err))
        fail_msg("store: %s", err.msg);
    bk_conf_defaults(&t->conf);
    t->conf.page_retries = 0;
    t->conf.retry_base_ms = 1;
    t->conf.retry_max_ms = 5;
    t->conf.max_attempts = 3;
    bk_breaker_cfg bc = {.failures = 100, .open_us = 60 * BK_US_PER_S};
    t->ps = bk_provset_new(&bc);
    for (int i = 0; i < N_PROV; i++) {
        t->fx[i] = fx_start(h[i], &t->sv[i]);
        if (bk_provset_add(t->ps, make(i, fx_url(t->fx[i])), &err))
            fail_msg("provset: %s", err.msg);
    }
    if (bk_provset_set_chain(t->ps, BK_CLASS_DAILY, chain, &err) ||
        bk_provset_set_chain(t->ps, BK_CLASS_INTRADAY, chain, &err))
        fail_msg("chain: %s", err.msg);
    t->env = (bk_work_env){
        .prov = bk_provset_primary(t->ps, BK_TF_D1), .provs = t->ps, .conf = &t->conf};
    return t;
}

static void teardown(tfix *t)
{
    bk_provset_free(t->ps);
    for (int i = 0; i < N_PROV; i++)
        fx_stop(t->fx[i]);
    bk_store_close(t->s);
    bk_t_rmtree(t->dir);
    free(t->dir);
    free(t->db);
    free(t);
}

/* Enqueue a d1 run of sym over [from, to), claim and execute it. */
static bk_outcome run_once(tfix *t, const char *sym, int64_t from, int64_t to, bk_run *out)
{
    bk_err err = {0};
    bk_run r;
    memset(&r, 0, sizeof r);
    bk_strlcpy(r.symbol, sym, sizeof r.symbol);
    r.tf = BK_TF_D1;
    r.type = BK_JOB_HISTORICAL;
    r.slice_from_us = from;
    r.slice_to_us = to;
    r.priority = 1;
    r.max_attempts = 3;
    bk_strlcpy(r.triggered_by, "test", sizeof r.triggered_by);
    size_t k = 0;
    int64_t now = bk_clock_now_us();
    if (bk_store_runs_enqueue(t->s, &r, 1, &k, now, &err) || k != 1)
        fail_msg("enqueue: %s", err.msg);
    if (bk_store_run_claim(t->s, OWNER, now, 60 * BK_US_PER_S, out, &err))
        fail_msg("claim: %s", err.msg);
    bk_outcome o;
    if (bk_work_execute(t->s, &t->env, OWNER, out, &o, &err))
        fail_msg("execute: %s", err.msg);
    return o;
}

/* Hours of coverage recorded for sym d1 (0 when there is no row). */
static size_t coverage_intervals(tfix *t, const char *sym)
{
    bk_series *ser = NULL;
    size_t n = 0;
    bk_err err = {0};
    if (bk_store_series_load(t->s, sym, BK_TF_D1, &ser, &n, &err))
        fail_msg("series: %s", err.msg);
    size_t k = n ? ser[0].covered.n : 0;
    bk_series_free(ser, n);
    return k;
}

static size_t bars_stored(tfix *t, const char *sym)
{
    bk_source src;
    bk_err err = {0};
    return bk_store_bars_source(t->s, sym, BK_TF_D1, &src, &err) == 0;
}

/* Confirmed-empty bars of sym d1 in a window reaching back to 2025. */
static size_t empty_bars(tfix *t, const char *sym)
{
    bk_plan_cfg cfg;
    bk_plan_cfg_from_conf(&cfg, &t->conf, 0);
    bk_def d = {.tf = BK_TF_D1, .type = BK_JOB_HISTORICAL, .window_days = 36500};
    bk_strlcpy(d.symbol, sym, sizeof d.symbol);
    bk_series *ser = NULL;
    size_t n = 0, k = 0;
    bk_err err = {0};
    bk_ivset e;
    bk_ivset_init(&e);
    if (bk_store_series_load(t->s, sym, BK_TF_D1, &ser, &n, &err) ||
        bk_plan_confirmed_empty(t->s, &cfg, &d, n ? &ser[0].covered : NULL, bk_clock_now_us(), &e,
                                &k, &err))
        fail_msg("confirmed empty: %s", err.msg);
    bk_ivset_fini(&e);
    bk_series_free(ser, n);
    return k;
}

static void expect_unknown(tfix *t, const char *who)
{
    bk_run r;
    bk_outcome o = run_once(t, "NOPE", day_us(2025, 3, 3), day_us(2025, 3, 8), &r);
    if (o.status != BK_ST_FAILED || o.code != BK_EPROV_SYMBOL)
        fail_msg("%s: NOPE ended %s (%s: %s), want failed UNKNOWN_SYMBOL", who,
                 bk_status_name(o.status), r.error_code, r.error_message);
    assert_string_equal(r.error_code, "UNKNOWN_SYMBOL");
    assert_int_equal(coverage_intervals(t, "NOPE"), 0);
    assert_int_equal(bars_stored(t, "NOPE"), 0);
    assert_int_equal(empty_bars(t, "NOPE"), 0); /* nothing covered: missing, not empty */
}

static void test_unknown_symbol_each_adapter(void **state)
{
    (void)state;
    static const char *const chains[] = {"massive", "alpaca", "finnhub", "tradier"};
    for (size_t i = 0; i < sizeof chains / sizeof chains[0]; i++) {
        tfix *t = setup(chains[i]);
        expect_unknown(t, chains[i]);
        /* the empty answer, then the probe of its neighbourhood */
        assert_int_equal(atomic_load(&t->sv[i].requests), 2);
        teardown(t);
    }
}

static void test_unknown_symbol_through_fallback(void **state)
{
    (void)state;
    tfix *t = setup("massive,tradier");
    expect_unknown(t, "massive,tradier");
    assert_int_equal(atomic_load(&t->sv[MASSIVE].requests), 2);
    assert_int_equal(atomic_load(&t->sv[TRADIER].requests), 2); /* asked, and it agreed */
    teardown(t);
}

static void test_halt_is_confirmed_empty(void **state)
{
    (void)state;
    tfix *t = setup("massive");
    bk_run r;
    bk_outcome o = run_once(t, "HALT", day_us(2025, 3, 10), day_us(2025, 3, 15), &r);
    if (o.status != BK_ST_SUCCESS)
        fail_msg("HALT ended %s (%s)", bk_status_name(o.status), r.error_message);
    assert_int_equal(o.rows_written, 0);
    assert_int_equal(coverage_intervals(t, "HALT"), 1);
    assert_int_equal(atomic_load(&t->sv[MASSIVE].requests), 2);
    assert_int_equal(empty_bars(t, "HALT"), 5); /* 10-14 March: covered, confirmed empty */
    teardown(t);
}

static void test_known_series_needs_no_probe(void **state)
{
    (void)state;
    tfix *t = setup("massive");
    bk_run r;
    bk_outcome o = run_once(t, "HALT", day_us(2025, 3, 3), day_us(2025, 3, 8), &r);
    assert_int_equal(o.status, BK_ST_SUCCESS);
    assert_int_equal(o.rows_written, 5);
    o = run_once(t, "HALT", day_us(2025, 3, 17), day_us(2025, 3, 22), &r);
    assert_int_equal(o.status, BK_ST_SUCCESS);
    assert_int_equal(o.rows_written, 0);
    assert_int_equal(atomic_load(&t->sv[MASSIVE].requests), 2); /* one per run */
    assert_int_equal(empty_bars(t, "HALT"), 5); /* 17-21 March; 3-7 March holds its bars */
    teardown(t);
}

static void test_failed_probe_is_unconfirmed(void **state)
{
    (void)state;
    tfix *t = setup("massive");
    atomic_store(&t->sv[MASSIVE].fail_probe, 1);
    bk_run r;
    bk_outcome o = run_once(t, "HALT", day_us(2025, 3, 10), day_us(2025, 3, 15), &r);
    assert_int_equal(o.status, BK_ST_QUEUED); /* retryable */
    assert_int_equal(o.code, BK_EPROV_EMPTY);
    assert_string_equal(r.error_code, "EMPTY_UNCONFIRMED");
    assert_int_equal(coverage_intervals(t, "HALT"), 0);
    teardown(t);
}

/* ensure-coverage's check before it writes anything */
static void test_symbol_check(void **state)
{
    (void)state;
    tfix *t = setup("massive,tradier");
    bk_err err = {0};
    assert_int_equal(bk_work_symbol_check(t->s, &t->env, "NOPE", BK_TF_D1, &err), BK_EPROV_SYMBOL);
    assert_non_null(strstr(err.msg, "NOPE"));
    assert_int_equal(atomic_load(&t->sv[MASSIVE].requests), 1);
    assert_int_equal(atomic_load(&t->sv[TRADIER].requests), 1);
    assert_int_equal(bk_work_symbol_check(t->s, &t->env, "AAPL", BK_TF_D1, &err), 0);
    assert_int_equal(atomic_load(&t->sv[MASSIVE].requests), 2); /* the primary served bars */
    assert_int_equal(atomic_load(&t->sv[TRADIER].requests), 1);
    atomic_store(&t->sv[MASSIVE].fail_probe, 1); /* an error tells nothing: no refusal */
    atomic_store(&t->sv[TRADIER].fail_probe, 1);
    assert_int_equal(bk_work_symbol_check(t->s, &t->env, "NOPE", BK_TF_D1, &err), 0);
    teardown(t);
}

int main(void)
{
    int64_t now;
    if (bk_time_parse(bk_t_now(), &now) != 0)
        return 2;
    bk_clock_start_at(now); /* the probes stop at the last closed bar */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_symbol_each_adapter),
        cmocka_unit_test(test_unknown_symbol_through_fallback),
        cmocka_unit_test(test_halt_is_confirmed_empty),
        cmocka_unit_test(test_known_series_needs_no_probe),
        cmocka_unit_test(test_failed_probe_is_unconfirmed),
        cmocka_unit_test(test_symbol_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
