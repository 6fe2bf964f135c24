/*
 * test_massive.c — the Massive (Polygon) aggregates adapter end to end: real
 * libcurl against the fixture server on loopback, serving recorded-format
 * bodies from tests/prov/fixtures/massive/. Covers providers.md §7 for
 * Massive: a normal page, a single bar, the empty range (no `results`), the
 * next_url chain with the key re-applied as a header, 401/403 bodies (and
 * the plan-window 403 as a range refusal), 429 with and without a body,
 * exponent volumes, daily bars across both DST changes, weekly labels, 5xx,
 * a deadline, a cut connection, malformed bodies; and 1h/4h aggregation
 * from 30-minute bars, one page or two, on a normal and an early-close day.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/clock.h"
#include "core/util.h"
#include "model/time.h"
#include "prov/prov.h"
#include "ptest.h"

#include <stdio.h>
#include <string.h>

#define KEY "mkey-Zx81sEcReT"

/* ---- helpers ---- */

/* The adapter under test, against e's fixture. */
static void mk(pt_env *e, bk_anchor anchor, const char *adjustment, int64_t timeout_ms)
{
    bk_prov_cfg cfg = {
        .key = KEY, .adjustment = adjustment, .anchor = anchor, .timeout_ms = timeout_ms};
    pt_env_prov(e, bk_massive_new, &cfg);
}

/* The key travels in the Authorization header only. */
static void assert_key_in_header_only(const fx_req *r)
{
    assert_string_equal(fx_header(r, "Authorization"), "Bearer " KEY);
    assert_null(strstr(r->path, KEY));
    assert_null(fx_param(r, "apiKey"));
    for (int i = 0; i < r->n_query; i++)
        assert_null(strstr(r->query[i].value, KEY));
}

static void assert_range_path(const fx_req *r, const char *span, int64_t from_us, int64_t end_us)
{
    char want[256];
    snprintf(want, sizeof want, "/v2/aggs/ticker/AAPL/range/%s/%lld/%lld", span,
             (long long)(from_us / 1000), (long long)((end_us - 1) / 1000));
    assert_string_equal(r->path, want);
}

/* ---- tests ---- */

static void test_new(void **state)
{
    (void)state;
    bk_prov *p = NULL;
    bk_err err = {0};
    bk_prov_cfg cfg = {.key = KEY};
    assert_int_equal(bk_massive_new(&p, &cfg, &err), 0);
    assert_string_equal(p->name, "massive");
    assert_string_equal(p->feed, "sip");
    assert_string_equal(p->adjustment, "split");
    assert_int_equal(p->anchor, BK_ANCHOR_SESSION);
    assert_int_equal(p->delay_us, 15 * BK_US_PER_MIN);
    assert_near(p->limits.rate_per_s, 4.5 / 66); /* 5/min less the margin */
    assert_near(p->limits.burst, 1);
    assert_int_equal(p->limits.max_span_us[BK_TF_1M], 70 * BK_US_PER_DAY);
    assert_int_equal(p->limits.max_span_us[BK_TF_4H], 70 * BK_US_PER_DAY);
    assert_int_equal(p->limits.max_span_us[BK_TF_D1], 0);
    assert_int_equal(p->limits.history_us[BK_TF_1M], 730 * BK_US_PER_DAY);
    assert_int_equal(p->stats.requests, 0);
    bk_prov_free(p);

    cfg.adjustment = "raw";
    cfg.anchor = BK_ANCHOR_CLOCK;
    assert_int_equal(bk_massive_new(&p, &cfg, &err), 0);
    assert_string_equal(p->adjustment, "raw");
    assert_int_equal(p->anchor, BK_ANCHOR_CLOCK);
    bk_prov_free(p);

    cfg.adjustment = "split+div";
    assert_int_equal(bk_massive_new(&p, &cfg, &err), BK_EINVAL);
    assert_null(p);
    assert_non_null(strstr(err.msg, "split+div"));
    cfg.adjustment = NULL;
    cfg.feed = "iex";
    assert_int_equal(bk_massive_new(&p, &cfg, &err), BK_EINVAL);
    cfg.feed = NULL;
    cfg.base_url = "ftp://example";
    assert_int_equal(bk_massive_new(&p, &cfg, &err), BK_EINVAL);
    cfg.base_url = NULL;
    cfg.key = "";
    assert_int_equal(bk_massive_new(&p, &cfg, &err), BK_EINVAL);
    assert_string_equal(err.msg, "massive: no API key (set MASSIVE_API_KEY)");
    assert_int_equal(bk_massive_new(&p, NULL, &err), BK_EINVAL);
    cfg.key = "a\r\nX-Evil: 1";
    assert_int_equal(bk_massive_new(&p, &cfg, &err), BK_EINVAL);
}

/* §7.1: a normal page; the request; bars outside [from, to) dropped. */
static void test_multi_bar_page(void **state)
{
    (void)state;
    pt_script s = {.steps = {{.file = "aggs_5m.json"}}, .n = 1};
    pt_env *e = pt_env_scripted("massive", &s);
    mk(e, BK_ANCHOR_SESSION, NULL, 0);
    int64_t from = pt_ny(2024, 6, 3, 9, 30), to = pt_ny(2024, 6, 3, 9, 40) + 1;
    assert_int_equal(pt_fetch(e, BK_TF_5M, from, to, NULL), 0);
    assert_int_equal(e->pg.n, 3);
    pt_check_bar_near(&e->pg.bars[0], "2024-06-03T13:30:00Z", 190.90, 191.60, 190.71, 191.25,
                      1532045);
    pt_check_bar_near(&e->pg.bars[1], "2024-06-03T13:35:00Z", 191.24, 191.80, 191.02, 191.47,
                      802113);
    pt_check_bar_near(&e->pg.bars[2], "2024-06-03T13:40:00Z", 191.47, 191.52, 190.80, 190.98,
                      655402);
    assert_string_equal(e->pg.next_token, "");

    assert_int_equal(fx_count(e->f), 1);
    fx_req r = pt_request(e, 0);
    assert_string_equal(r.method, "GET");
    assert_range_path(&r, "5/minute", from, to);
    assert_string_equal(fx_param(&r, "adjusted"), "true");
    assert_string_equal(fx_param(&r, "sort"), "asc");
    assert_string_equal(fx_param(&r, "limit"), "50000");
    assert_null(fx_param(&r, "cursor"));
    assert_key_in_header_only(&r);
    assert_int_equal(e->p->stats.requests, 1);

    /* raw: adjusted=false; 1m/15m/30m native multipliers */
    mk(e, BK_ANCHOR_SESSION, "raw", 0);
    assert_int_equal(pt_fetch(e, BK_TF_1M, from, to, ""), 0);
    r = pt_request(e, 1);
    assert_range_path(&r, "1/minute", from, to);
    assert_string_equal(fx_param(&r, "adjusted"), "false");
    assert_int_equal(pt_fetch(e, BK_TF_15M, from, to, NULL), 0);
    r = pt_request(e, 2);
    assert_range_path(&r, "15/minute", from, to);
    assert_int_equal(pt_fetch(e, BK_TF_30M, from, to, NULL), 0);
    r = pt_request(e, 3);
    assert_range_path(&r, "30/minute", from, to);
    pt_env_free(e);
}

/* §7.2 and §7.3: one bar; no `results` key at all. */
static void test_single_and_empty(void **state)
{
    (void)state;
    pt_script s = {.steps = {{.file = "aggs_single.json"}, {.file = "aggs_empty.json"}}, .n = 2};
    pt_env *e = pt_env_scripted("massive", &s);
    mk(e, BK_ANCHOR_SESSION, NULL, 0);
    int64_t from = pt_ny(2024, 6, 3, 9, 30), to = pt_ny(2024, 6, 3, 16, 0);
    assert_int_equal(pt_fetch(e, BK_TF_1M, from, to, NULL), 0);
    assert_int_equal(e->pg.n, 1);
    pt_check_bar_near(&e->pg.bars[0], "2024-06-03T13:30:00Z", 415.53, 415.90, 415.30, 415.71,
                      210334);
    assert_int_equal(pt_fetch(e, BK_TF_1M, from, to, NULL), 0);
    assert_int_equal(e->pg.n, 0);
    assert_string_equal(e->pg.next_token, "");
    pt_env_free(e);

    /* results null, or an empty array: also no bars */
    bk_page pg;
    bk_page_init(&pg);
    bk_err err = {0};
    bk_fetch_req req = {.symbol = "AAPL", .tf = BK_TF_1M, .from_us = from, .to_us = to};
    static const char *const empty[] = {"{\"results\":null}", "{\"results\":[]}",
                                        "{\"resultsCount\":0,\"next_url\":null}"};
    for (size_t i = 0; i < BK_ARRAY_LEN(empty); i++) {
        assert_int_equal(
            bk_massive_parse(empty[i], strlen(empty[i]), &req, BK_ANCHOR_SESSION, &pg, &err), 0);
        assert_int_equal(pg.n, 0);
    }
    bk_page_fini(&pg);
}

/* §7.4: a next_url chain of three pages; each next_url is followed on the
 * configured host with the Bearer header, never with apiKey. */
static void test_pagination(void **state)
{
    (void)state;
    pt_script s = {.steps = {{.file = "aggs_page1.json"},
                             {.file = "aggs_page1.json"},
                             {.file = "aggs_page2.json"},
                             {.file = "aggs_page3.json"}},
                   .n = 4};
    pt_env *e = pt_env_scripted("massive", &s);
    mk(e, BK_ANCHOR_SESSION, NULL, 0);
    int64_t from = pt_ny(2024, 6, 3, 9, 30), to = pt_ny(2024, 6, 3, 9, 50) + 1;
    assert_int_equal(pt_fetch(e, BK_TF_5M, from, to, NULL), 0);
    assert_int_equal(e->pg.n, 2);
    assert_string_equal(e->pg.next_token,
                        "https://api.massive.com/v2/aggs/ticker/AAPL/range/5/minute/"
                        "1717421400000/1717422899999?cursor=bGltaXQ9MiZzb3J0PWFzYw");

    bk_page all;
    bk_page_init(&all);
    assert_int_equal(pt_fetch_all(e, BK_TF_5M, from, to, &all), 0);
    assert_int_equal(fx_count(e->f), 4);
    assert_int_equal(all.n, 5);
    static const char *const want[] = {"2024-06-03T13:30:00Z", "2024-06-03T13:35:00Z",
                                       "2024-06-03T13:40:00Z", "2024-06-03T13:45:00Z",
                                       "2024-06-03T13:50:00Z"};
    char buf[BK_TIME_STR_MAX];
    for (size_t i = 0; i < all.n; i++)
        assert_string_equal(bk_time_format(all.bars[i].ts_us, buf), want[i]);
    pt_check_bar_near(&all.bars[4], "2024-06-03T13:50:00Z", 191.1, 191.41, 191.0, 191.3, 498120);

    fx_req r = pt_request(e, 1); /* the chain's first page */
    assert_range_path(&r, "5/minute", from, to);
    assert_null(fx_param(&r, "cursor"));
    r = pt_request(e, 2);
    assert_string_equal(r.path, "/v2/aggs/ticker/AAPL/range/5/minute/1717421400000/1717422899999");
    assert_string_equal(fx_param(&r, "cursor"), "bGltaXQ9MiZzb3J0PWFzYw");
    assert_key_in_header_only(&r);
    r = pt_request(e, 3); /* a next_url on the old host is followed on ours too */
    assert_string_equal(fx_param(&r, "cursor"), "bGltaXQ9MiZzb3J0PWFzYyZwYWdlPTM");
    assert_key_in_header_only(&r);
    bk_page_fini(&all);
    pt_env_free(e);
}

/* §7.5: 401 and 403 bodies; the plan-window 403 is a range refusal. */
static void test_auth_errors(void **state)
{
    (void)state;
    pt_script s = {.steps = {{.file = "err_401.json", .status = 401},
                             {.file = "err_403_entitled.json", .status = 403},
                             {.file = "err_403_timeframe.json", .status = 403}},
                   .n = 3};
    pt_env *e = pt_env_scripted("massive", &s);
    mk(e, BK_ANCHOR_SESSION, NULL, 0);
    int64_t from = pt_ny(2024, 6, 3, 9, 30), to = pt_ny(2024, 6, 3, 16, 0);
    assert_int_equal(pt_fetch(e, BK_TF_1M, from, to, NULL), BK_EPROV_AUTH);
    assert_non_null(strstr(e->err.msg, "401"));
    assert_non_null(strstr(e->err.msg, "Unknown API Key"));
    assert_null(strstr(e->err.msg, KEY));
    assert_int_equal(pt_fetch(e, BK_TF_1M, from, to, NULL), BK_EPROV_AUTH);
    assert_non_null(strstr(e->err.msg, "not entitled"));
    assert_int_equal(pt_fetch(e, BK_TF_1M, from, to, NULL), BK_EPROV_RANGE);
    assert_non_null(strstr(e->err.msg, "time range"));
    assert_int_equal(e->pg.n, 0);
    assert_int_equal(e->p->stats.errors, 3);
    pt_env_free(e);
}

/* §7.6: 429 with a JSON body and Retry-After; 429 bare. */
static void test_rate_limited(void **state)
{
    (void)state;
    pt_script s = {.steps = {{.file = "err_429.json", .status = 429, .retry_after = "7"},
                             {.status = 429, .text = "", .content_type = "text/plain"}},
                   .n = 2};
    pt_env *e = pt_env_scripted("massive", &s);
    mk(e, BK_ANCHOR_SESSION, NULL, 0);
    int64_t from = pt_ny(2024, 6, 3, 9, 30), to = pt_ny(2024, 6, 3, 16, 0);
    assert_int_equal(pt_fetch(e, BK_TF_1M, from, to, NULL), BK_EPROV_RATE);
    assert_int_equal(e->err.retry_after_ms, 7000);
    assert_non_null(strstr(e->err.msg, "maximum requests per minute"));
    assert_int_equal(pt_fetch(e, BK_TF_1M, from, to, NULL), BK_EPROV_RATE);
    assert_int_equal(e->err.retry_after_ms, 0);
    assert_int_equal(e->p->stats.rate_limited, 2);
    pt_env_free(e);
}

/* §7.8: `v` (and even `t`) in exponent form; status DELAYED is data. */
static void test_exponent_volume(void **state)
{
    (void)state;
    pt_script s = {.steps = {{.file = "aggs_exp_volume.json"}}, .n = 1};
    pt_env *e = pt_env_scripted("massive", &s);
    mk(e, BK_ANCHOR_SESSION, NULL, 0);
    int64_t from = pt_ny(2024, 6, 3, 9, 30), to = pt_ny(2024, 6, 3, 16, 0);
    assert_int_equal(pt_fetch(e, BK_TF_5M, from, to, NULL), 0);
    assert_int_equal(e->pg.n, 2);
    pt_check_bar_near(&e->pg.bars[0], "2024-06-03T13:30:00Z", 190.9, 191.6, 190.71, 191.25,
                      1029145);
    pt_check_bar_near(&e->pg.bars[1], "2024-06-03T13:35:00Z", 191.24, 191.8, 191.02, 191.47,
                      802113);
    pt_env_free(e);
}

/* §7.10: daily bars across both DST changes (04:00Z and 05:00Z), asked by
 * date; weekly bars stamped on Sundays land on their Mondays. */
static void test_daily_weekly_dst(void **state)
{
    (void)state;
    pt_script s = {.steps = {{.file = "aggs_day_dst.json"}, {.file = "aggs_week.json"}}, .n = 2};
    pt_env *e = pt_env_scripted("massive", &s);
    mk(e, BK_ANCHOR_SESSION, NULL, 0);
    assert_int_equal(
        pt_fetch(e, BK_TF_D1, pt_day_label(2024, 11, 1), pt_day_label(2025, 3, 10) + 1, NULL), 0);
    assert_int_equal(e->pg.n, 4);
    pt_check_bar_near(&e->pg.bars[0], "2024-11-01T04:00:00Z", 222.91, 225.35, 220.27, 222.91,
                      64370086);
    pt_check_bar_near(&e->pg.bars[1], "2024-11-04T05:00:00Z", 220.99, 222.79, 219.71, 222.01,
                      44944470);
    pt_check_bar_near(&e->pg.bars[2], "2025-03-07T05:00:00Z", 235.11, 241.37, 234.76, 239.07,
                      46273565);
    pt_check_bar_near(&e->pg.bars[3], "2025-03-10T04:00:00Z", 235.54, 236.16, 224.22, 227.48,
                      71451281);
    fx_req r = pt_request(e, 0);
    assert_string_equal(r.path, "/v2/aggs/ticker/AAPL/range/1/day/2024-11-01/2025-03-10");
    assert_key_in_header_only(&r);

    int64_t w1 = bk_prov_week_label(bk_days_from_civil(2025, 3, 10));
    int64_t w2 = bk_prov_week_label(bk_days_from_civil(2025, 3, 17));
    assert_int_equal(pt_fetch(e, BK_TF_W1, w1, w2 + 1, NULL), 0);
    assert_int_equal(e->pg.n, 2);
    pt_check_bar_near(&e->pg.bars[0], "2025-03-10T04:00:00Z", 235.54, 236.16, 208.42, 213.49,
                      304112933);
    pt_check_bar_near(&e->pg.bars[1], "2025-03-17T04:00:00Z", 213.31, 218.84, 209.97, 218.27,
                      275418302);
    r = pt_request(e, 1);
    assert_string_equal(r.path, "/v2/aggs/ticker/AAPL/range/1/week/2025-03-09/2025-03-23");
    pt_env_free(e);
}

/* 5xx, a slow answer past the deadline, a connection cut mid-body, and
 * complete answers with bad bodies: no bars in any case. */
static void test_failures(void **state)
{
    (void)state;
    /* a next_url longer than a page token can hold */
    char big[2400];
    char pad[2101];
    memset(pad, 'a', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    snprintf(big, sizeof big, "{\"next_url\":\"https://api.massive.com/v2/aggs/%s\"}", pad);
    pt_script s = {.steps = {{.status = 503, .text = "{\"status\":\"ERROR\",\"error\":\"busy\"}"},
                             {.file = "aggs_5m.json", .delay_ms = 3000},
                             {.file = "aggs_5m.json", .truncate_at = 120},
                             {.file = "truncated.json"},
                             {.file = "bad_price.json"},
                             {.file = "bad_shape.json"},
                             {.text = big},
                             {.text = "{\"status\":\"ERROR\",\"error\":\"internal\"}"}},
                   .n = 8};
    pt_env *e = pt_env_scripted("massive", &s);
    mk(e, BK_ANCHOR_SESSION, NULL, 300);
    int64_t from = pt_ny(2024, 6, 3, 9, 30), to = pt_ny(2024, 6, 3, 16, 0);
    assert_int_equal(pt_fetch(e, BK_TF_5M, from, to, NULL), BK_EPROV_5XX);
    int64_t t0 = bk_clock_mono_us();
    assert_int_equal(pt_fetch(e, BK_TF_5M, from, to, NULL), BK_ETIMEDOUT);
    assert_true(bk_clock_mono_us() - t0 < 2500 * BK_US_PER_MS);
    assert_int_equal(pt_fetch(e, BK_TF_5M, from, to, NULL), BK_EPROV_NET);
    assert_int_equal(e->pg.n, 0);
    assert_int_equal(pt_fetch(e, BK_TF_5M, from, to, NULL), BK_EPROV_MALFORMED);
    assert_non_null(strstr(e->err.msg, "invalid JSON"));
    assert_int_equal(e->pg.n, 0);
    assert_int_equal(pt_fetch(e, BK_TF_5M, from, to, NULL), BK_EPROV_MALFORMED);
    assert_string_equal(e->err.msg, "massive: results[1].o is string, not a number");
    assert_int_equal(e->pg.n, 0); /* the good first bar is not left behind */
    assert_int_equal(pt_fetch(e, BK_TF_5M, from, to, NULL), BK_EPROV_MALFORMED);
    assert_string_equal(e->err.msg, "massive: results is object, not an array");
    assert_int_equal(pt_fetch(e, BK_TF_5M, from, to, NULL), BK_EPROV_MALFORMED);
    assert_non_null(strstr(e->err.msg, "longer than a page token"));
    assert_int_equal(pt_fetch(e, BK_TF_5M, from, to, NULL), BK_EPROV_MALFORMED);
    assert_non_null(strstr(e->err.msg, "internal"));
    assert_int_equal(e->pg.n, 0);
    /* a token that is neither a next_url nor ours is refused before any request */
    int n = fx_count(e->f);
    assert_int_equal(pt_fetch(e, BK_TF_5M, from, to, "https://evil.example/steal"), BK_EINVAL);
    assert_int_equal(pt_fetch(e, BK_TF_5M, from, to, "resume:12"), BK_EINVAL);
    assert_int_equal(fx_count(e->f), n);
    pt_env_free(e);
}

/* Parser edge cases without HTTP. */
static void test_parse_edges(void **state)
{
    (void)state;
    bk_page pg;
    bk_page_init(&pg);
    bk_fetch_req req = {.symbol = "AAPL",
                        .tf = BK_TF_1M,
                        .from_us = pt_ny(2024, 6, 3, 9, 30),
                        .to_us = pt_ny(2024, 6, 3, 16, 0)};
    static const pt_bad_body bad[] = {
        {"[]", "massive: the body is array, not an object"},
        {"{\"results\":[{\"t\":1717421400000,\"o\":1,\"h\":1,\"l\":1,\"c\":1}]}",
         "massive: results[0].v is missing"},
        {"{\"results\":[{\"t\":1717421400000,\"o\":1,\"h\":null,\"l\":1,\"c\":1,\"v\":1}]}",
         "massive: results[0].h is null, not a number"},
        {"{\"results\":[{\"t\":1717421400000.5,\"o\":1,\"h\":1,\"l\":1,\"c\":1,\"v\":1}]}",
         "massive: results[0].t is not a millisecond timestamp (1717421400000.5)"},
        {"{\"results\":[{\"t\":1717421460000,\"o\":1,\"h\":1,\"l\":1,\"c\":1,\"v\":1},"
         "{\"t\":1717421400000,\"o\":1,\"h\":1,\"l\":1,\"c\":1,\"v\":1}]}",
         "massive: results[1].t repeats or goes back in time"},
        {"{\"results\":[7]}", "massive: results[0] is integer, not an object"},
        {"{\"results\":[],\"next_url\":42}", "massive: next_url is integer, not a string"},
        {"{\"results\":[],\"next_url\":\"ftp://x/v2/aggs/\"}",
         "massive: next_url is not a URL of the aggregates API"},
    };
    pt_parse_bad(bk_massive_parse, &req, bad, BK_ARRAY_LEN(bad), &pg);
    bk_page_fini(&pg);
}

/* 1h and 4h from 30-minute bars, session anchored, on the early-close day
 * 2025-07-03 (13:00) and a normal Monday; pre/post-market bars dropped. */
static void test_aggregate_session(void **state)
{
    (void)state;
    pt_script s = {.steps = {{.file = "aggs_30m_jul.json"}}, .n = 1};
    pt_env *e = pt_env_scripted("massive", &s);
    mk(e, BK_ANCHOR_SESSION, NULL, 0);
    int64_t from = pt_ny(2025, 7, 3, 9, 30), to = pt_ny(2025, 7, 7, 13, 30) + 1;
    assert_int_equal(pt_fetch(e, BK_TF_4H, from, to, NULL), 0);
    assert_int_equal(e->pg.n, 3);
    pt_check_bar_near(&e->pg.bars[0], "2025-07-03T13:30:00Z", 100.5, 105.5, 99.5, 104.5, 7280);
    pt_check_bar_near(&e->pg.bars[1], "2025-07-07T13:30:00Z", 104.5, 110.0, 103.5, 109.0, 9000);
    pt_check_bar_near(&e->pg.bars[2], "2025-07-07T17:30:00Z", 108.5, 112.5, 107.5, 111.5, 5950);
    fx_req r = pt_request(e, 0);
    assert_range_path(&r, "30/minute", from, to - 1 + 4 * BK_US_PER_HOUR);

    to = pt_ny(2025, 7, 7, 15, 30) + 1;
    assert_int_equal(pt_fetch(e, BK_TF_1H, from, to, NULL), 0);
    assert_int_equal(e->pg.n, 11);
    pt_check_bar_near(&e->pg.bars[0], "2025-07-03T13:30:00Z", 100.5, 103.0, 99.5, 102.0, 2030);
    pt_check_bar_near(&e->pg.bars[1], "2025-07-03T14:30:00Z", 101.5, 104.0, 100.5, 103.0, 2070);
    pt_check_bar_near(&e->pg.bars[2], "2025-07-03T15:30:00Z", 102.5, 105.0, 101.5, 104.0, 2110);
    pt_check_bar_near(&e->pg.bars[3], "2025-07-03T16:30:00Z", 103.5, 105.5, 102.5, 104.5, 1070);
    pt_check_bar_near(&e->pg.bars[4], "2025-07-07T13:30:00Z", 104.5, 107.0, 103.5, 106.0, 2190);
    pt_check_bar_near(&e->pg.bars[9], "2025-07-07T18:30:00Z", 109.5, 112.0, 108.5, 111.0, 2390);
    pt_check_bar_near(&e->pg.bars[10], "2025-07-07T19:30:00Z", 110.5, 112.5, 109.5, 111.5, 1210);
    r = pt_request(e, 1);
    assert_range_path(&r, "30/minute", from, to - 1 + BK_US_PER_HOUR);
    pt_env_free(e);
}

/* Clock-anchored 4h: 08:00 (09:30-12:00) and 12:00 (12:00-16:00) New York. */
static void test_aggregate_clock(void **state)
{
    (void)state;
    pt_script s = {.steps = {{.file = "aggs_30m_jul.json"}}, .n = 1};
    pt_env *e = pt_env_scripted("massive", &s);
    mk(e, BK_ANCHOR_CLOCK, NULL, 0);
    assert_int_equal(
        pt_fetch(e, BK_TF_4H, pt_ny(2025, 7, 3, 8, 0), pt_ny(2025, 7, 7, 12, 0) + 1, NULL), 0);
    assert_int_equal(e->pg.n, 4);
    pt_check_bar_near(&e->pg.bars[0], "2025-07-03T12:00:00Z", 100.5, 104.5, 99.5, 103.5, 5150);
    pt_check_bar_near(&e->pg.bars[1], "2025-07-03T16:00:00Z", 103.0, 105.5, 102.0, 104.5, 2130);
    pt_check_bar_near(&e->pg.bars[2], "2025-07-07T12:00:00Z", 104.5, 108.5, 103.5, 107.5, 5550);
    pt_check_bar_near(&e->pg.bars[3], "2025-07-07T16:00:00Z", 107.0, 112.5, 106.0, 111.5, 9400);
    pt_env_free(e);
}

/* An aggregated timeframe over two provider pages: the first page ends
 * inside a 4h bar, which is dropped and fetched again from its start. */
static void test_aggregate_paged(void **state)
{
    (void)state;
    pt_script s = {.steps = {{.file = "aggs_30m_jul_p1.json"}, {.file = "aggs_30m_jul_p2.json"}},
                   .n = 2};
    pt_env *e = pt_env_scripted("massive", &s);
    mk(e, BK_ANCHOR_SESSION, NULL, 0);
    int64_t from = pt_ny(2025, 7, 3, 9, 30), to = pt_ny(2025, 7, 7, 13, 30) + 1;
    assert_int_equal(pt_fetch(e, BK_TF_4H, from, to, NULL), 0);
    assert_int_equal(e->pg.n, 1);
    pt_check_bar_near(&e->pg.bars[0], "2025-07-03T13:30:00Z", 100.5, 105.5, 99.5, 104.5, 7280);
    char want[64];
    snprintf(want, sizeof want, "resume:%lld", (long long)pt_ny(2025, 7, 7, 9, 30));
    assert_string_equal(e->pg.next_token, want);
    assert_int_equal(pt_fetch(e, BK_TF_4H, from, to, want), 0);
    assert_int_equal(e->pg.n, 2);
    pt_check_bar_near(&e->pg.bars[0], "2025-07-07T13:30:00Z", 104.5, 110.0, 103.5, 109.0, 9000);
    pt_check_bar_near(&e->pg.bars[1], "2025-07-07T17:30:00Z", 108.5, 112.5, 107.5, 111.5, 5950);
    assert_string_equal(e->pg.next_token, "");
    fx_req r = pt_request(e, 1); /* a fresh range from the dropped bar, not the cursor */
    assert_range_path(&r, "30/minute", pt_ny(2025, 7, 7, 9, 30), to - 1 + 4 * BK_US_PER_HOUR);
    assert_null(fx_param(&r, "cursor"));
    assert_key_in_header_only(&r);
    pt_env_free(e);
}

/* A page that ends exactly where a 4h bar ends holds that bar whole: it is
 * kept and the next page resumes after it. (It used to be dropped as
 * "possibly partial", and a page holding just that one bar failed with
 * "a page continues before a whole 4h bar".) */
static void test_aggregate_page_ends_on_bar(void **state)
{
    (void)state;
    int64_t open = pt_ny(2025, 7, 7, 9, 30);
    bk_buf b;
    bk_buf_init(&b);
    bk_buf_puts(&b, "{\"ticker\":\"AAPL\",\"status\":\"OK\",\"results\":[");
    for (int i = 0; i < 8; i++) /* 09:30 .. 13:00: the whole 09:30 4h bar */
        bk_buf_printf(&b, "%s{\"v\":100,\"o\":%d,\"c\":%d.5,\"h\":%d,\"l\":%d,\"t\":%lld}",
                      i ? "," : "", 100 + i, 100 + i, 101 + i, 99 + i,
                      (long long)((open + i * 30 * BK_US_PER_MIN) / BK_US_PER_MS));
    bk_buf_puts(&b, "],\"next_url\":\"https://api.massive.com/v2/aggs/ticker/AAPL/range/30/"
                    "minute/1/2?cursor=abc\"}");
    pt_script s = {.steps = {{.text = b.data}}, .n = 1};
    pt_env *e = pt_env_scripted("massive", &s);
    mk(e, BK_ANCHOR_SESSION, NULL, 0);
    assert_int_equal(pt_fetch(e, BK_TF_4H, open, pt_ny(2025, 7, 8, 9, 30), NULL), 0);
    assert_int_equal(e->pg.n, 1);
    pt_check_bar_near(&e->pg.bars[0], "2025-07-07T13:30:00Z", 100, 108, 99, 107.5, 800);
    char want[64];
    snprintf(want, sizeof want, "resume:%lld", (long long)pt_ny(2025, 7, 7, 13, 30));
    assert_string_equal(e->pg.next_token, want);
    pt_env_free(e);
    bk_buf_fini(&b);
}

/* One impossible 30-minute bar (high below low) inside the 1h and 4h bars
 * asked for: the fetch fails with BK_EBADBAR and returns nothing, instead of
 * folding it into a plausible-looking aggregate. */
static void test_aggregate_bad_source_bar(void **state)
{
    (void)state;
    pt_script s = {.steps = {{.file = "aggs_30m_bad_bar.json"}}, .n = 1};
    pt_env *e = pt_env_scripted("massive", &s);
    int64_t open = pt_ny(2025, 7, 7, 9, 30);
    mk(e, BK_ANCHOR_SESSION, NULL, 0);
    pt_check_bad_source_bar(e, BK_TF_1H, open, open + BK_US_PER_HOUR + 1);
    pt_check_bad_source_bar(e, BK_TF_4H, open, open + 1);
    mk(e, BK_ANCHOR_CLOCK, NULL, 0);
    pt_check_bad_source_bar(e, BK_TF_1H, pt_ny(2025, 7, 7, 10, 0), pt_ny(2025, 7, 7, 10, 0) + 1);
    pt_env_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new),
        cmocka_unit_test(test_multi_bar_page),
        cmocka_unit_test(test_single_and_empty),
        cmocka_unit_test(test_pagination),
        cmocka_unit_test(test_auth_errors),
        cmocka_unit_test(test_rate_limited),
        cmocka_unit_test(test_exponent_volume),
        cmocka_unit_test(test_daily_weekly_dst),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_parse_edges),
        cmocka_unit_test(test_aggregate_session),
        cmocka_unit_test(test_aggregate_clock),
        cmocka_unit_test(test_aggregate_paged),
        cmocka_unit_test(test_aggregate_page_ends_on_bar),
        cmocka_unit_test(test_aggregate_bad_source_bar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
