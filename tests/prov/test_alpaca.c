/*
 * test_alpaca.c — the Alpaca v2 stock bars adapter end to end: real libcurl
 * against the fixture server on loopback, serving recorded-format bodies
 * from tests/prov/fixtures/alpaca/. Covers providers.md §7 for Alpaca: a
 * normal page, a single bar, every "no data" shape (bars [], null, {} or
 * absent), the multi-symbol shape, the next_page_token chain ending in
 * null, 401/403 bodies, 429 with and without a body, the SIP 403 of the free
 * plan, daily bars across both DST changes, weekly labels (a week starting
 * after a Monday holiday), 5xx, a deadline, a cut connection, malformed
 * bodies; and 1h/4h aggregation from 30-minute bars, one page or two, on a
 * normal and an early-close day.
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

#define KEY    "AKID-Q7w2Pz0"
#define SECRET "sk-Vf93hsEcReTxL1"

/* ---- helpers ---- */

/* The adapter under test, against e's fixture. */
static void mk(pt_env *e, bk_anchor anchor, const char *feed, const char *adjustment,
               int64_t timeout_ms)
{
    bk_prov_cfg cfg = {.key = KEY,
                       .secret = SECRET,
                       .feed = feed,
                       .adjustment = adjustment,
                       .anchor = anchor,
                       .timeout_ms = timeout_ms};
    pt_env_prov(e, bk_alpaca_new, &cfg);
}

/* The key id and secret travel in the APCA headers only. */
static void assert_keys_in_headers_only(const fx_req *r)
{
    assert_string_equal(fx_header(r, "APCA-API-KEY-ID"), KEY);
    assert_string_equal(fx_header(r, "APCA-API-SECRET-KEY"), SECRET);
    assert_null(fx_header(r, "Authorization"));
    assert_null(strstr(r->path, KEY));
    for (int i = 0; i < r->n_query; i++) {
        assert_null(strstr(r->query[i].value, KEY));
        assert_null(strstr(r->query[i].value, SECRET));
    }
}

static void assert_query(const fx_req *r, const char *timeframe, const char *start, const char *end)
{
    assert_string_equal(r->path, "/v2/stocks/AAPL/bars");
    assert_string_equal(fx_param(r, "timeframe"), timeframe);
    assert_string_equal(fx_param(r, "start"), start);
    assert_string_equal(fx_param(r, "end"), end);
    assert_string_equal(fx_param(r, "limit"), "10000");
    assert_string_equal(fx_param(r, "sort"), "asc");
}

/* ---- tests ---- */

static void test_new(void **state)
{
    (void)state;
    bk_prov *p = NULL;
    bk_err err = {0};
    bk_prov_cfg cfg = {.key = KEY, .secret = SECRET};
    assert_int_equal(bk_alpaca_new(&p, &cfg, &err), 0);
    assert_string_equal(p->name, "alpaca");
    assert_string_equal(p->feed, "iex");
    assert_string_equal(p->adjustment, "raw");
    assert_int_equal(p->anchor, BK_ANCHOR_SESSION);
    assert_int_equal(p->delay_us, BK_US_PER_MIN);
    assert_near(p->limits.rate_per_s, 195.5 / 66); /* 200/min less the margin */
    assert_near(p->limits.burst, 5);
    assert_int_equal(p->limits.max_span_us[BK_TF_1M], 14 * BK_US_PER_DAY);
    assert_int_equal(p->limits.max_span_us[BK_TF_5M], 70 * BK_US_PER_DAY);
    assert_int_equal(p->limits.max_span_us[BK_TF_4H], 420 * BK_US_PER_DAY);
    assert_int_equal(p->limits.max_span_us[BK_TF_W1], 0);
    /* history back to 2016-01-01 New York */
    int64_t oldest = bk_clock_now_us() - p->limits.history_us[BK_TF_1M];
    char buf[BK_TIME_STR_MAX];
    assert_true(strncmp(bk_time_format(oldest, buf), "2016-01-01T05:00", 16) == 0);
    bk_prov_free(p);

    cfg.feed = "sip";
    cfg.adjustment = "split+div";
    assert_int_equal(bk_alpaca_new(&p, &cfg, &err), 0);
    assert_string_equal(p->feed, "sip");
    assert_string_equal(p->adjustment, "split+div");
    assert_int_equal(p->delay_us, 16 * BK_US_PER_MIN);
    bk_prov_free(p);

    cfg.feed = "otc";
    assert_int_equal(bk_alpaca_new(&p, &cfg, &err), BK_EINVAL);
    assert_null(p);
    assert_non_null(strstr(err.msg, "otc"));
    cfg.feed = NULL;
    cfg.adjustment = "dividend";
    assert_int_equal(bk_alpaca_new(&p, &cfg, &err), BK_EINVAL);
    cfg.adjustment = NULL;
    cfg.secret = NULL;
    assert_int_equal(bk_alpaca_new(&p, &cfg, &err), BK_EINVAL);
    assert_string_equal(err.msg,
                        "alpaca: no API key (set ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY)");
    cfg.secret = SECRET;
    cfg.key = NULL;
    assert_int_equal(bk_alpaca_new(&p, &cfg, &err), BK_EINVAL);
    cfg.key = KEY;
    cfg.secret = "x\ny";
    assert_int_equal(bk_alpaca_new(&p, &cfg, &err), BK_EINVAL);
}

/* §7.1: a normal page; the request; bars outside [from, to) dropped; a
 * stamp with nanoseconds. */
static void test_multi_bar_page(void **state)
{
    (void)state;
    pt_script s = {.steps = {{.file = "bars_5m.json"}}, .n = 1};
    pt_env *e = pt_env_scripted("alpaca", &s);
    mk(e, BK_ANCHOR_SESSION, NULL, NULL, 0);
    int64_t from = pt_ny(2024, 6, 3, 9, 30), to = pt_ny(2024, 6, 3, 9, 40) + 1;
    assert_int_equal(pt_fetch(e, BK_TF_5M, from, to, NULL), 0);
    assert_int_equal(e->pg.n, 3);
    pt_check_bar_near(&e->pg.bars[0], "2024-06-03T13:30:00Z", 190.90, 191.60, 190.71, 191.25,
                      45210);
    pt_check_bar_near(&e->pg.bars[1], "2024-06-03T13:35:00Z", 191.24, 191.80, 191.02, 191.47,
                      21733);
    pt_check_bar_near(&e->pg.bars[2], "2024-06-03T13:40:00Z", 191.47, 191.52, 190.80, 190.98,
                      18120);
    assert_string_equal(e->pg.next_token, "");

    fx_req r = pt_request(e, 0);
    assert_string_equal(r.method, "GET");
    assert_query(&r, "5Min", "2024-06-03T13:30:00Z", "2024-06-03T13:40:00Z");
    assert_string_equal(fx_param(&r, "adjustment"), "raw");
    assert_string_equal(fx_param(&r, "feed"), "iex");
    assert_null(fx_param(&r, "page_token"));
    assert_keys_in_headers_only(&r);

    /* sip, split+div → adjustment=all; 1m/15m/30m native */
    mk(e, BK_ANCHOR_SESSION, "sip", "split+div", 0);
    assert_int_equal(pt_fetch(e, BK_TF_1M, from, to, ""), 0);
    r = pt_request(e, 1);
    assert_query(&r, "1Min", "2024-06-03T13:30:00Z", "2024-06-03T13:40:00Z");
    assert_string_equal(fx_param(&r, "adjustment"), "all");
    assert_string_equal(fx_param(&r, "feed"), "sip");
    assert_null(fx_param(&r, "page_token"));
    assert_int_equal(pt_fetch(e, BK_TF_15M, from, to, NULL), 0);
    assert_string_equal(fx_param((r = pt_request(e, 2), &r), "timeframe"), "15Min");
    assert_int_equal(pt_fetch(e, BK_TF_30M, from, to, NULL), 0);
    assert_string_equal(fx_param((r = pt_request(e, 3), &r), "timeframe"), "30Min");
    pt_env_free(e);
}

/* §7.2 and §7.3: one bar; every empty shape; the multi-symbol shape. */
static void test_single_empty_multi(void **state)
{
    (void)state;
    pt_script s = {.steps = {{.file = "bars_single.json"},
                             {.file = "bars_empty_array.json"},
                             {.file = "bars_empty_null.json"},
                             {.file = "bars_empty_multi.json"},
                             {.text = "{\"next_page_token\":null}"},
                             {.file = "bars_multi.json"}},
                   .n = 6};
    pt_env *e = pt_env_scripted("alpaca", &s);
    mk(e, BK_ANCHOR_SESSION, NULL, NULL, 0);
    int64_t from = pt_ny(2024, 6, 3, 9, 30), to = pt_ny(2024, 6, 3, 16, 0);
    assert_int_equal(pt_fetch(e, BK_TF_1M, from, to, NULL), 0);
    assert_int_equal(e->pg.n, 1);
    pt_check_bar_near(&e->pg.bars[0], "2024-06-03T13:30:00Z", 415.53, 415.9, 415.3, 415.71, 8123);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pt_fetch(e, BK_TF_1M, from, to, NULL), 0);
        assert_int_equal(e->pg.n, 0);
        assert_string_equal(e->pg.next_token, "");
    }
    assert_int_equal(
        pt_fetch(e, BK_TF_D1, pt_day_label(2024, 6, 3), pt_day_label(2024, 6, 3) + 1, NULL), 0);
    assert_int_equal(e->pg.n, 1);
    pt_check_bar_near(&e->pg.bars[0], "2024-06-03T04:00:00Z", 192.90, 194.99, 192.52, 194.03,
                      50080539);
    pt_env_free(e);
}

/* §7.4: a next_page_token chain ending in null; page_token only from the
 * second request on, with the same query. */
static void test_pagination(void **state)
{
    (void)state;
    pt_script s = {.steps = {{.file = "bars_page1.json"},
                             {.file = "bars_page2.json"},
                             {.file = "bars_page3.json"}},
                   .n = 3};
    pt_env *e = pt_env_scripted("alpaca", &s);
    mk(e, BK_ANCHOR_SESSION, NULL, NULL, 0);
    bk_page all;
    bk_page_init(&all);
    int64_t from = pt_ny(2024, 6, 3, 9, 30), to = pt_ny(2024, 6, 3, 9, 50) + 1;
    assert_int_equal(pt_fetch_all(e, BK_TF_5M, from, to, &all), 0);
    assert_int_equal(fx_count(e->f), 3);
    assert_int_equal(all.n, 5);
    char buf[BK_TIME_STR_MAX];
    for (size_t i = 0; i < all.n; i++)
        assert_int_equal(all.bars[i].ts_us, from + (int64_t)i * 5 * BK_US_PER_MIN);
    pt_check_bar_near(&all.bars[4], "2024-06-03T13:50:00Z", 191.1, 191.41, 191.0, 191.3, 14877);
    (void)buf;
    static const char *const tokens[] = {NULL, "QUFQTHxNfDIwMjQtMDYtMDNUMTM6MzU6MDBa",
                                         "QUFQTHxNfDIwMjQtMDYtMDNUMTM6NDU6MDBa"};
    for (int i = 0; i < 3; i++) {
        fx_req r = pt_request(e, i);
        assert_query(&r, "5Min", "2024-06-03T13:30:00Z", "2024-06-03T13:50:00Z");
        if (tokens[i])
            assert_string_equal(fx_param(&r, "page_token"), tokens[i]);
        else
            assert_null(fx_param(&r, "page_token"));
        assert_keys_in_headers_only(&r);
    }
    bk_page_fini(&all);
    pt_env_free(e);
}

/* §7.5 and §7.9: 401, 403, the free plan's SIP 403 (pointing to IEX), and
 * an invalid symbol. */
static void test_auth_errors(void **state)
{
    (void)state;
    pt_script s = {.steps = {{.file = "err_401.json", .status = 401},
                             {.file = "err_403.json", .status = 403},
                             {.file = "err_403_sip.json", .status = 403},
                             {.file = "err_422_symbol.json", .status = 422}},
                   .n = 4};
    pt_env *e = pt_env_scripted("alpaca", &s);
    mk(e, BK_ANCHOR_SESSION, "sip", NULL, 0);
    int64_t from = pt_ny(2024, 6, 3, 9, 30), to = pt_ny(2024, 6, 3, 16, 0);
    assert_int_equal(pt_fetch(e, BK_TF_1M, from, to, NULL), BK_EPROV_AUTH);
    assert_non_null(strstr(e->err.msg, "401"));
    assert_non_null(strstr(e->err.msg, "not authorized"));
    assert_null(strstr(e->err.msg, KEY));
    assert_null(strstr(e->err.msg, SECRET));
    assert_int_equal(pt_fetch(e, BK_TF_1M, from, to, NULL), BK_EPROV_AUTH);
    assert_non_null(strstr(e->err.msg, "403"));
    assert_int_equal(pt_fetch(e, BK_TF_1M, from, to, NULL), BK_EPROV_AUTH);
    assert_non_null(strstr(e->err.msg, "recent sip data"));
    assert_non_null(strstr(e->err.msg, "use the IEX feed (feed=iex)"));
    assert_int_equal(pt_fetch(e, BK_TF_1M, from, to, NULL), BK_EPROV_SYMBOL);
    assert_non_null(strstr(e->err.msg, "invalid symbol"));
    assert_int_equal(e->pg.n, 0);
    pt_env_free(e);
}

/* §7.6: 429 with a JSON body and Retry-After; 429 with a text body and none. */
static void test_rate_limited(void **state)
{
    (void)state;
    pt_script s = {
        .steps = {{.file = "err_429.json", .status = 429, .retry_after = "3"},
                  {.status = 429, .text = "Too Many Requests", .content_type = "text/plain"}},
        .n = 2};
    pt_env *e = pt_env_scripted("alpaca", &s);
    mk(e, BK_ANCHOR_SESSION, NULL, NULL, 0);
    int64_t from = pt_ny(2024, 6, 3, 9, 30), to = pt_ny(2024, 6, 3, 16, 0);
    assert_int_equal(pt_fetch(e, BK_TF_1M, from, to, NULL), BK_EPROV_RATE);
    assert_int_equal(e->err.retry_after_ms, 3000);
    assert_non_null(strstr(e->err.msg, "rate limit exceeded"));
    assert_int_equal(pt_fetch(e, BK_TF_1M, from, to, NULL), BK_EPROV_RATE);
    assert_int_equal(e->err.retry_after_ms, 0);
    assert_non_null(strstr(e->err.msg, "Too Many Requests"));
    assert_int_equal(e->p->stats.rate_limited, 2);
    pt_env_free(e);
}

/* §7.10: daily bars across both DST changes (04:00Z and 05:00Z); weekly
 * bars, one stamped on the Tuesday after a Monday holiday. */
static void test_daily_weekly_dst(void **state)
{
    (void)state;
    pt_script s = {.steps = {{.file = "bars_day_dst.json"}, {.file = "bars_week.json"}}, .n = 2};
    pt_env *e = pt_env_scripted("alpaca", &s);
    mk(e, BK_ANCHOR_SESSION, NULL, NULL, 0);
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
    assert_query(&r, "1Day", "2024-10-31T16:00:00Z", "2025-03-10T16:00:00Z");
    assert_keys_in_headers_only(&r);

    int64_t w1 = bk_prov_week_label(bk_days_from_civil(2025, 1, 13));
    int64_t w2 = bk_prov_week_label(bk_days_from_civil(2025, 1, 20));
    assert_int_equal(pt_fetch(e, BK_TF_W1, w1, w2 + 1, NULL), 0);
    assert_int_equal(e->pg.n, 2);
    pt_check_bar_near(&e->pg.bars[0], "2025-01-13T05:00:00Z", 233.53, 238.96, 228.03, 229.98,
                      221011422);
    pt_check_bar_near(&e->pg.bars[1], "2025-01-20T05:00:00Z", 224.0, 227.03, 219.38, 222.78,
                      301223110);
    r = pt_request(e, 1);
    assert_query(&r, "1Week", "2025-01-12T05:00:00Z", "2025-01-27T05:00:00Z");
    pt_env_free(e);
}

/* 5xx, a slow answer past the deadline, a connection cut mid-body, and
 * complete answers with bad bodies: no bars in any case. */
static void test_failures(void **state)
{
    (void)state;
    char big[2400];
    char pad[2101];
    memset(pad, 'Q', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    snprintf(big, sizeof big, "{\"bars\":[],\"next_page_token\":\"%s\"}", pad);
    pt_script s = {
        .steps = {{.status = 500, .text = "{\"code\":50010000,\"message\":\"internal\"}"},
                  {.file = "bars_5m.json", .delay_ms = 3000},
                  {.file = "bars_5m.json", .truncate_at = 150},
                  {.file = "truncated.json"},
                  {.file = "bad_price.json"},
                  {.file = "bad_shape.json"},
                  {.text = big}},
        .n = 7};
    pt_env *e = pt_env_scripted("alpaca", &s);
    mk(e, BK_ANCHOR_SESSION, NULL, NULL, 300);
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
    assert_string_equal(e->err.msg, "alpaca: bars[1].c is string, not a number");
    assert_int_equal(e->pg.n, 0); /* the good first bar is not left behind */
    assert_int_equal(pt_fetch(e, BK_TF_5M, from, to, NULL), BK_EPROV_MALFORMED);
    assert_string_equal(e->err.msg, "alpaca: bars is string, not an array");
    assert_int_equal(pt_fetch(e, BK_TF_5M, from, to, NULL), BK_EPROV_MALFORMED);
    assert_non_null(strstr(e->err.msg, "longer than a page token"));
    assert_int_equal(e->pg.n, 0);
    int n = fx_count(e->f);
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
    bk_err err = {0};
    bk_fetch_req req = {.symbol = "AAPL",
                        .tf = BK_TF_1M,
                        .from_us = pt_ny(2024, 6, 3, 9, 30),
                        .to_us = pt_ny(2024, 6, 3, 16, 0)};
    static const pt_bad_body bad[] = {
        {"null", "alpaca: the body is null, not an object"},
        {"{\"bars\":[{\"o\":1,\"h\":1,\"l\":1,\"c\":1,\"v\":1}]}", "alpaca: bars[0].t is missing"},
        {"{\"bars\":[{\"t\":1717421400,\"o\":1,\"h\":1,\"l\":1,\"c\":1,\"v\":1}]}",
         "alpaca: bars[0].t is not an RFC 3339 time"},
        {"{\"bars\":[{\"t\":\"2024-06-03T25:30:00Z\",\"o\":1,\"h\":1,\"l\":1,\"c\":1,\"v\":1}]}",
         "alpaca: bars[0].t is not an RFC 3339 time"},
        {"{\"bars\":[{\"t\":\"2024-06-03T13:30:00Z\",\"o\":1,\"h\":1,\"l\":1,\"c\":1}]}",
         "alpaca: bars[0].v is missing"},
        {"{\"bars\":[{\"t\":\"2024-06-03T13:31:00Z\",\"o\":1,\"h\":1,\"l\":1,\"c\":1,\"v\":1},"
         "{\"t\":\"2024-06-03T13:31:00Z\",\"o\":1,\"h\":1,\"l\":1,\"c\":1,\"v\":1}]}",
         "alpaca: bars[1].t repeats or goes back in time"},
        {"{\"bars\":{\"AAPL\":[{\"t\":\"2024-06-03T13:30:00Z\",\"o\":true}]}}",
         "alpaca: bars.AAPL[0].o is boolean, not a number"},
        {"{\"bars\":{\"AAPL\":{}}}", "alpaca: bars.AAPL is object, not an array"},
        {"{\"bars\":[false]}", "alpaca: bars[0] is not an object"},
        {"{\"bars\":[],\"next_page_token\":7}", "alpaca: next_page_token is integer, not a string"},
        {"{\"bars\":[],\"next_page_token\":\"resume:1\"}",
         "alpaca: next_page_token is not a token"},
    };
    pt_parse_bad(bk_alpaca_parse, &req, bad, BK_ARRAY_LEN(bad), &pg);
    /* offsets and fractions are accepted; another symbol's bars are not ours */
    const char *ok =
        "{\"bars\":[{\"t\":\"2024-06-03T09:30:00-04:00\",\"o\":1,\"h\":2,\"l\":0.5,"
        "\"c\":1.5,\"v\":10},{\"t\":\"2024-06-03T13:31:00.123456789Z\",\"o\":1,\"h\":2,"
        "\"l\":0.5,\"c\":1.5,\"v\":1e3}],\"next_page_token\":\"\"}";
    assert_int_equal(bk_alpaca_parse(ok, strlen(ok), &req, BK_ANCHOR_SESSION, &pg, &err), 0);
    assert_int_equal(pg.n, 2);
    assert_int_equal(pg.bars[0].ts_us, pt_ny(2024, 6, 3, 9, 30));
    assert_int_equal(pg.bars[1].ts_us, pt_ny(2024, 6, 3, 9, 31) + 123456);
    assert_near(pg.bars[1].volume, 1000);
    const char *other = "{\"bars\":{\"MSFT\":[{\"t\":\"2024-06-03T13:30:00Z\",\"o\":1,\"h\":1,"
                        "\"l\":1,\"c\":1,\"v\":1}]}}";
    assert_int_equal(bk_alpaca_parse(other, strlen(other), &req, BK_ANCHOR_SESSION, &pg, &err), 0);
    assert_int_equal(pg.n, 0);
    bk_page_fini(&pg);
}

/* 1h and 4h from 30-minute bars, session anchored, on the early-close day
 * 2025-07-03 (13:00) and a normal Monday; pre/post-market bars dropped. */
static void test_aggregate_session(void **state)
{
    (void)state;
    pt_script s = {.steps = {{.file = "bars_30m_jul.json"}}, .n = 1};
    pt_env *e = pt_env_scripted("alpaca", &s);
    mk(e, BK_ANCHOR_SESSION, NULL, NULL, 0);
    int64_t from = pt_ny(2025, 7, 3, 9, 30), to = pt_ny(2025, 7, 7, 13, 30) + 1;
    assert_int_equal(pt_fetch(e, BK_TF_4H, from, to, NULL), 0);
    assert_int_equal(e->pg.n, 3);
    pt_check_bar_near(&e->pg.bars[0], "2025-07-03T13:30:00Z", 100.5, 105.5, 99.5, 104.5, 7280);
    pt_check_bar_near(&e->pg.bars[1], "2025-07-07T13:30:00Z", 104.5, 110.0, 103.5, 109.0, 9000);
    pt_check_bar_near(&e->pg.bars[2], "2025-07-07T17:30:00Z", 108.5, 112.5, 107.5, 111.5, 5950);
    fx_req r = pt_request(e, 0);
    assert_query(&r, "30Min", "2025-07-03T13:30:00Z", "2025-07-07T21:29:59Z");

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
    assert_query(&r, "30Min", "2025-07-03T13:30:00Z", "2025-07-07T20:29:59Z");
    pt_env_free(e);
}

/* Clock-anchored 1h: 09:00 New York holds only 09:30-10:00 (the regular
 * session), never Alpaca's 09:00-10:00 hour with its pre-market trades. */
static void test_aggregate_clock(void **state)
{
    (void)state;
    pt_script s = {.steps = {{.file = "bars_30m_jul.json"}}, .n = 1};
    pt_env *e = pt_env_scripted("alpaca", &s);
    mk(e, BK_ANCHOR_CLOCK, NULL, NULL, 0);
    assert_int_equal(
        pt_fetch(e, BK_TF_1H, pt_ny(2025, 7, 3, 9, 0), pt_ny(2025, 7, 3, 12, 0) + 1, NULL), 0);
    assert_int_equal(e->pg.n, 4);
    pt_check_bar_near(&e->pg.bars[0], "2025-07-03T13:00:00Z", 100.5, 102.5, 99.5, 101.5, 1010);
    pt_check_bar_near(&e->pg.bars[1], "2025-07-03T14:00:00Z", 101.0, 103.5, 100.0, 102.5, 2050);
    pt_check_bar_near(&e->pg.bars[3], "2025-07-03T16:00:00Z", 103.0, 105.5, 102.0, 104.5, 2130);
    fx_req r = pt_request(e, 0);
    assert_query(&r, "30Min", "2025-07-03T13:00:00Z", "2025-07-03T16:59:59Z");
    assert_int_equal(
        pt_fetch(e, BK_TF_4H, pt_ny(2025, 7, 3, 8, 0), pt_ny(2025, 7, 7, 12, 0) + 1, NULL), 0);
    assert_int_equal(e->pg.n, 4);
    pt_check_bar_near(&e->pg.bars[0], "2025-07-03T12:00:00Z", 100.5, 104.5, 99.5, 103.5, 5150);
    pt_check_bar_near(&e->pg.bars[3], "2025-07-07T16:00:00Z", 107.0, 112.5, 106.0, 111.5, 9400);
    pt_env_free(e);
}

/* An aggregated timeframe over two provider pages: the first page ends
 * inside a 4h bar, which is dropped and fetched again from its start
 * (a fresh query, no page_token). */
static void test_aggregate_paged(void **state)
{
    (void)state;
    pt_script s = {.steps = {{.file = "bars_30m_jul_p1.json"}, {.file = "bars_30m_jul_p2.json"}},
                   .n = 2};
    pt_env *e = pt_env_scripted("alpaca", &s);
    mk(e, BK_ANCHOR_SESSION, NULL, NULL, 0);
    bk_page all;
    bk_page_init(&all);
    int64_t from = pt_ny(2025, 7, 3, 9, 30), to = pt_ny(2025, 7, 7, 13, 30) + 1;
    assert_int_equal(pt_fetch_all(e, BK_TF_4H, from, to, &all), 0);
    assert_int_equal(fx_count(e->f), 2);
    assert_int_equal(all.n, 3);
    pt_check_bar_near(&all.bars[0], "2025-07-03T13:30:00Z", 100.5, 105.5, 99.5, 104.5, 7280);
    pt_check_bar_near(&all.bars[1], "2025-07-07T13:30:00Z", 104.5, 110.0, 103.5, 109.0, 9000);
    pt_check_bar_near(&all.bars[2], "2025-07-07T17:30:00Z", 108.5, 112.5, 107.5, 111.5, 5950);
    fx_req r = pt_request(e, 1);
    assert_query(&r, "30Min", "2025-07-07T13:30:00Z", "2025-07-07T21:29:59Z");
    assert_null(fx_param(&r, "page_token"));
    assert_keys_in_headers_only(&r);
    bk_page_fini(&all);
    pt_env_free(e);
}

/* One impossible 30-minute bar (high below low) inside the 1h and 4h bars
 * asked for: the fetch fails with BK_EBADBAR and returns nothing. */
static void test_aggregate_bad_source_bar(void **state)
{
    (void)state;
    pt_script s = {.steps = {{.file = "bars_30m_bad_bar.json"}}, .n = 1};
    pt_env *e = pt_env_scripted("alpaca", &s);
    int64_t open = pt_ny(2025, 7, 7, 9, 30);
    mk(e, BK_ANCHOR_SESSION, NULL, NULL, 0);
    pt_check_bad_source_bar(e, BK_TF_1H, open, open + BK_US_PER_HOUR + 1);
    pt_check_bad_source_bar(e, BK_TF_4H, open, open + 1);
    mk(e, BK_ANCHOR_CLOCK, NULL, NULL, 0);
    pt_check_bad_source_bar(e, BK_TF_4H, pt_ny(2025, 7, 7, 8, 0), pt_ny(2025, 7, 7, 8, 0) + 1);
    pt_env_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new),
        cmocka_unit_test(test_multi_bar_page),
        cmocka_unit_test(test_single_empty_multi),
        cmocka_unit_test(test_pagination),
        cmocka_unit_test(test_auth_errors),
        cmocka_unit_test(test_rate_limited),
        cmocka_unit_test(test_daily_weekly_dst),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_parse_edges),
        cmocka_unit_test(test_aggregate_session),
        cmocka_unit_test(test_aggregate_clock),
        cmocka_unit_test(test_aggregate_paged),
        cmocka_unit_test(test_aggregate_bad_source_bar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
