/*
 * test_finnhub.c — the finnhub adapter end to end: bk_prov_fetch through
 * real libcurl against the fixture server, which answers with
 * recorded-format candle bodies from tests/prov/fixtures/finnhub/. Covers
 * providers.md §7 for Finnhub: a multi-bar page (volumes as integer, float
 * and exponent), a single-bar page, {"s":"no_data"}, the 401 and 403
 * bodies, 429 with a JSON body and Retry-After and with neither, daily bars
 * across a DST change (stamped 00:00 UTC or 00:00 New York), weekly
 * labels, extended-hours bars dropped, 1h and 4h aggregated from 30 for
 * both anchors on a normal and an early-close day, the adjustment split between intraday and daily
 * candles, 5xx, a deadline, a cut connection and malformed bodies — and the request sent (token in
 * the X-Finnhub-Token header, never in the URL).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/clock.h"
#include "core/util.h"
#include "prov/prov.h"
#include "ptest.h"

#include <string.h>

/* A served fixture and the adapter under test against it. */
static pt_env *env_new(bk_anchor anchor, int64_t timeout_ms, const char *adjustment)
{
    pt_env *e = pt_env_served("finnhub");
    bk_prov_cfg cfg = {
        .key = "fh-test-key", .adjustment = adjustment, .anchor = anchor, .timeout_ms = timeout_ms};
    pt_env_prov(e, bk_finnhub_new, &cfg);
    return e;
}

static void check_auth(const fx_req *r)
{
    assert_string_equal(fx_header(r, "X-Finnhub-Token"), "fh-test-key");
    assert_null(fx_param(r, "token"));
    for (int i = 0; i < r->n_query; i++)
        assert_null(strstr(r->query[i].value, "fh-test-key"));
}

/* §7.1: a normal page, and what was asked. */
static void test_multi_bar_page(void **state)
{
    (void)state;
    pt_env *e = env_new(BK_ANCHOR_SESSION, 0, NULL);
    pt_serve(e, 200, "5m_multi.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_5M, "2025-07-07T13:30:00Z", "2025-07-07T13:45:00Z"), 0);
    assert_int_equal(e->pg.n, 3);
    pt_check_bar(&e->pg.bars[0], "2025-07-07T13:30:00Z", 212.68, 213.26, 212.31, 213.09, 2145873);
    pt_check_bar(&e->pg.bars[1], "2025-07-07T13:35:00Z", 213.1, 213.4, 212.85, 212.93, 911204);
    pt_check_bar(&e->pg.bars[2], "2025-07-07T13:40:00Z", 212.92, 213.05, 212.5, 212.77, 702515);
    assert_string_equal(e->pg.next_token, "");
    fx_req r;
    pt_last_request(e, &r);
    assert_string_equal(r.path, "/stock/candle");
    assert_string_equal(fx_param(&r, "symbol"), "AAPL");
    assert_string_equal(fx_param(&r, "resolution"), "5");
    assert_string_equal(fx_param(&r, "from"), "1751895000");
    assert_string_equal(fx_param(&r, "to"), "1751895900");
    check_auth(&r);
    pt_env_free(e);
}

/* §7.2 single bar, §7.3 no_data, and extended-hours bars dropped. */
static void test_single_no_data_extended(void **state)
{
    (void)state;
    pt_env *e = env_new(BK_ANCHOR_SESSION, 0, NULL);
    pt_serve(e, 200, "5m_single.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_5M, "2025-07-07T13:30:00Z", "2025-07-07T20:00:00Z"), 0);
    assert_int_equal(e->pg.n, 1);
    pt_check_bar(&e->pg.bars[0], "2025-07-07T13:30:00Z", 212.68, 213.26, 212.31, 213.09, 2145873);

    pt_serve(e, 200, "no_data.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_1M, "2025-07-05T13:30:00Z", "2025-07-05T20:00:00Z"), 0);
    assert_int_equal(e->pg.n, 0);
    fx_req r;
    pt_last_request(e, &r);
    assert_string_equal(fx_param(&r, "resolution"), "1");

    pt_serve(e, 200, "5m_extended.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_5M, "2025-07-07T13:00:00Z", "2025-07-07T21:00:00Z"), 0);
    assert_int_equal(e->pg.n, 1);
    pt_check_bar(&e->pg.bars[0], "2025-07-07T13:30:00Z", 212.68, 213.26, 212.31, 213.09, 2145873);
    pt_env_free(e);
}

/* §7.10: daily candles either side of the March 2025 DST change, whether
 * stamped 00:00 UTC or 00:00 New York, get 05:00Z then 04:00Z labels. */
static void test_daily_dst_and_weekly(void **state)
{
    (void)state;
    pt_env *e = env_new(BK_ANCHOR_SESSION, 0, "split");
    fx_req r;
    const char *stamps[] = {"D_dst_utc.json", "D_dst_ny.json"};
    for (int i = 0; i < 2; i++) {
        pt_serve(e, 200, stamps[i], NULL);
        assert_int_equal(
            pt_fetch_at(e, "AAPL", BK_TF_D1, "2025-03-07T05:00:00Z", "2025-03-11T04:00:00Z"), 0);
        assert_int_equal(e->pg.n, 2);
        pt_check_bar(&e->pg.bars[0], "2025-03-07T05:00:00Z", 235.1, 241.37, 234.76, 239.07,
                     46273600);
        pt_check_bar(&e->pg.bars[1], "2025-03-10T04:00:00Z", 235.54, 236.16, 224.22, 227.48,
                     72071200);
        pt_last_request(e, &r);
        assert_string_equal(fx_param(&r, "resolution"), "D");
        assert_string_equal(fx_param(&r, "from"), "1741237200"); /* padded by a day */
        assert_string_equal(fx_param(&r, "to"), "1741752000");
    }
    pt_serve(e, 200, "W.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_W1, "2025-06-30T04:00:00Z", "2025-07-14T04:00:00Z"), 0);
    assert_int_equal(e->pg.n, 2);
    pt_check_bar(&e->pg.bars[0], "2025-06-30T04:00:00Z", 202.01, 214.65, 200.64, 213.55, 221301200);
    pt_check_bar(&e->pg.bars[1], "2025-07-07T04:00:00Z", 212.68, 216.23, 207.22, 211.16, 245678900);
    pt_last_request(e, &r);
    assert_string_equal(fx_param(&r, "resolution"), "W");
    pt_env_free(e);
}

/* Session anchor: Finnhub's 60 starts on the clock, so 1h and 4h are
 * aggregated from 30 (09:30, 10:30, ...; 4h 09:30 and 13:30), and on the
 * 2025-07-03 early close the day has one 4h bar. */
static void test_hourly_session_anchor(void **state)
{
    (void)state;
    pt_env *e = env_new(BK_ANCHOR_SESSION, 0, NULL);
    fx_req r;
    pt_serve(e, 200, "30_normal.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_1H, "2025-07-07T13:30:00Z", "2025-07-07T20:00:00Z"), 0);
    pt_last_request(e, &r);
    assert_string_equal(fx_param(&r, "resolution"), "30");
    assert_int_equal(e->pg.n, 7);
    pt_check_bar(&e->pg.bars[0], "2025-07-07T13:30:00Z", 200, 203, 199, 202, 3000);
    pt_check_bar(&e->pg.bars[6], "2025-07-07T19:30:00Z", 212, 214, 211, 213, 13000);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_4H, "2025-07-07T13:30:00Z", "2025-07-07T21:30:00Z"), 0);
    pt_last_request(e, &r);
    assert_string_equal(fx_param(&r, "resolution"), "30");
    assert_string_equal(fx_param(&r, "to"), "1751938200"); /* 21:30Z + 4h */
    assert_int_equal(e->pg.n, 2);
    pt_check_bar(&e->pg.bars[0], "2025-07-07T13:30:00Z", 200, 209, 199, 208, 36000);
    pt_check_bar(&e->pg.bars[1], "2025-07-07T17:30:00Z", 208, 214, 207, 213, 55000);

    pt_serve(e, 200, "30_early.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_4H, "2025-07-03T13:30:00Z", "2025-07-03T21:30:00Z"), 0);
    assert_int_equal(e->pg.n, 1);
    pt_check_bar(&e->pg.bars[0], "2025-07-03T13:30:00Z", 200, 208, 199, 207, 28000);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_1H, "2025-07-03T13:30:00Z", "2025-07-03T21:30:00Z"), 0);
    assert_int_equal(e->pg.n, 4);
    pt_check_bar(&e->pg.bars[3], "2025-07-03T16:30:00Z", 206, 208, 205, 207, 7000);
    pt_env_free(e);
}

/* Clock anchor: 1h and 4h are aggregated from 30 (09:00 = 09:30-10:00,
 * 4h 08:00 = 09:30-12:00, 12:00 = 12:00-16:00): the 09:00-09:30 pre-market
 * candle and the 16:00 post-market candle are left out. */
static void test_hourly_clock_anchor(void **state)
{
    (void)state;
    pt_env *e = env_new(BK_ANCHOR_CLOCK, 0, NULL);
    fx_req r;
    pt_serve(e, 200, "30_extended.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_1H, "2025-07-07T12:00:00Z", "2025-07-07T21:00:00Z"), 0);
    pt_last_request(e, &r);
    assert_string_equal(fx_param(&r, "resolution"), "30");
    assert_int_equal(e->pg.n, 7);
    pt_check_bar(&e->pg.bars[0], "2025-07-07T13:00:00Z", 200, 202, 199, 201, 1000);
    pt_check_bar(&e->pg.bars[1], "2025-07-07T14:00:00Z", 201, 204, 200, 203, 5000);
    pt_check_bar(&e->pg.bars[6], "2025-07-07T19:00:00Z", 211, 214, 210, 213, 25000);

    pt_serve(e, 200, "30_normal.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_4H, "2025-07-07T12:00:00Z", "2025-07-07T20:00:00Z"), 0);
    pt_last_request(e, &r);
    assert_string_equal(fx_param(&r, "resolution"), "30");
    assert_int_equal(e->pg.n, 2);
    pt_check_bar(&e->pg.bars[0], "2025-07-07T12:00:00Z", 200, 206, 199, 205, 15000);
    pt_check_bar(&e->pg.bars[1], "2025-07-07T16:00:00Z", 205, 214, 204, 213, 76000);

    pt_serve(e, 200, "30_early.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_4H, "2025-07-03T12:00:00Z", "2025-07-03T20:00:00Z"), 0);
    assert_int_equal(e->pg.n, 2);
    pt_check_bar(&e->pg.bars[0], "2025-07-03T12:00:00Z", 200, 206, 199, 205, 15000);
    pt_check_bar(&e->pg.bars[1], "2025-07-03T16:00:00Z", 205, 208, 204, 207, 13000);
    pt_env_free(e);
}

/* Intraday candles are raw, daily/weekly split-adjusted: each instance
 * serves one kind and refuses the other without asking. */
static void test_adjustment_split(void **state)
{
    (void)state;
    pt_env *e = env_new(BK_ANCHOR_SESSION, 0, NULL);
    assert_string_equal(e->p->adjustment, "raw");
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_D1, "2025-03-07T05:00:00Z", "2025-03-11T04:00:00Z"),
        BK_EPROV_RANGE);
    assert_non_null(strstr(e->err.msg, "split-adjusted"));
    assert_int_equal(fx_count(e->f), 0);
    pt_env_free(e);

    e = env_new(BK_ANCHOR_SESSION, 0, "split");
    assert_string_equal(e->p->adjustment, "split");
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_5M, "2025-07-07T13:30:00Z", "2025-07-07T13:45:00Z"),
        BK_EPROV_RANGE);
    assert_int_equal(fx_count(e->f), 0);
    pt_env_free(e);
}

/* §7.5, §7.6 and the common statuses. */
static void test_error_statuses(void **state)
{
    (void)state;
    pt_env *e = env_new(BK_ANCHOR_SESSION, 0, NULL);
    const char *f = "2025-07-07T13:30:00Z", *t = "2025-07-07T14:30:00Z";
    pt_serve(e, 401, "401.json", NULL);
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_AUTH);
    assert_non_null(strstr(e->err.msg, "Please use an API key"));
    assert_null(strstr(e->err.msg, "fh-test-key"));
    pt_serve(e, 403, "403.json", NULL);
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_AUTH);
    assert_non_null(strstr(e->err.msg, "access to this resource"));

    pt_serve(e, 429, "429.json", NULL);
    pt_serve_extra(e, &(pt_extra){.retry_after = "2"});
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_RATE);
    assert_int_equal(e->err.retry_after_ms, 2000);
    pt_serve(e, 429, NULL, "");
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_RATE);
    assert_int_equal(e->err.retry_after_ms, 0);

    pt_serve(e, 502, NULL, "<html>Bad Gateway</html>");
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_5XX);
    /* an error object in a 200 */
    pt_serve(e, 200, NULL, "{\"error\":\"Symbol not supported\"}");
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_MALFORMED);
    assert_non_null(strstr(e->err.msg, "Symbol not supported"));
    assert_int_equal(e->pg.n, 0);
    pt_env_free(e);
}

static void test_transport_and_malformed(void **state)
{
    (void)state;
    pt_env *e = env_new(BK_ANCHOR_SESSION, 300, NULL);
    const char *f = "2025-07-07T13:30:00Z", *t = "2025-07-07T13:45:00Z";
    pt_serve(e, 200, "5m_multi.json", NULL);
    pt_serve_extra(e, &(pt_extra){.delay_ms = 3000});
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_ETIMEDOUT);
    assert_null(strstr(e->err.msg, "fh-test-key"));

    pt_serve(e, 200, "5m_multi.json", NULL);
    pt_serve_extra(e, &(pt_extra){.truncate_at = 60});
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_NET);

    pt_serve(e, 200, "truncated.json", NULL);
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_MALFORMED);
    assert_int_equal(e->pg.n, 0);
    pt_serve(e, 200, "mismatch.json", NULL);
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_MALFORMED);
    assert_non_null(strstr(e->err.msg, "\"c\" has 2 entries, \"t\" has 3"));
    assert_int_equal(e->pg.n, 0);
    pt_serve(e, 200, "bad_price.json", NULL);
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_MALFORMED);
    assert_non_null(strstr(e->err.msg, "c[1] is null"));
    assert_int_equal(e->pg.n, 0);
    pt_serve(e, 200, NULL,
             "{\"s\":\"ok\",\"t\":[1751895000.5],\"o\":[1],\"h\":[1],\"l\":[1],"
             "\"c\":[1],\"v\":[1]}");
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_MALFORMED);
    assert_non_null(strstr(e->err.msg, "t[0]"));
    pt_serve(e, 200, NULL, "{\"s\":\"ok\"}");
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_MALFORMED);
    pt_serve(e, 200, NULL, "[]");
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_MALFORMED);
    assert_int_equal(e->pg.n, 0);
    pt_serve(e, 200, "5m_multi.json", NULL);
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), 0);
    assert_int_equal(e->pg.n, 3);
    pt_env_free(e);
}

static void test_constructor(void **state)
{
    (void)state;
    bk_prov *p = NULL;
    bk_err err = {0};
    bk_prov_cfg cfg = {.anchor = BK_ANCHOR_SESSION};
    assert_int_equal(bk_finnhub_new(&p, &cfg, &err), BK_EINVAL);
    assert_string_equal(err.msg, "finnhub: no API key (set FINNHUB_API_KEY)");
    assert_int_equal(bk_finnhub_new(&p, NULL, &err), BK_EINVAL);
    cfg.key = "k";
    cfg.adjustment = "split+div";
    assert_int_equal(bk_finnhub_new(&p, &cfg, &err), BK_EINVAL);
    cfg.adjustment = NULL;
    cfg.key = "k\r\nX-Evil: 1";
    assert_int_equal(bk_finnhub_new(&p, &cfg, &err), BK_EINVAL);
    cfg.key = "k";
    assert_int_equal(bk_finnhub_new(&p, &cfg, &err), 0);
    assert_string_equal(p->name, "finnhub");
    assert_string_equal(p->feed, "consolidated");
    assert_string_equal(p->adjustment, "raw");
    assert_int_equal(p->limits.max_span_us[BK_TF_1M], 28 * BK_US_PER_DAY);
    assert_int_equal(p->limits.max_span_us[BK_TF_4H], 28 * BK_US_PER_DAY);
    assert_true(p->limits.rate_per_s > 0.9 && p->limits.rate_per_s < 0.91); /* 60/min, margin */
    bk_prov_free(p);
}

/* One impossible 30 bar (high below low) inside the 1h and 4h bars asked
 * for: the fetch fails with BK_EBADBAR and returns nothing. */
static void test_aggregate_bad_source_bar(void **state)
{
    (void)state;
    int64_t open = pt_ny(2025, 7, 7, 9, 30);
    for (int a = 0; a < 2; a++) {
        pt_env *e = env_new(a ? BK_ANCHOR_CLOCK : BK_ANCHOR_SESSION, 0, NULL);
        pt_serve(e, 200, "30_bad_bar.json", NULL);
        int64_t h1 = a ? pt_ny(2025, 7, 7, 10, 0) : open;
        pt_check_bad_source_bar(e, BK_TF_1H, h1, h1 + 1);
        pt_check_bad_source_bar(e, BK_TF_4H, open, open + 1);
        pt_env_free(e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multi_bar_page),
        cmocka_unit_test(test_single_no_data_extended),
        cmocka_unit_test(test_daily_dst_and_weekly),
        cmocka_unit_test(test_hourly_session_anchor),
        cmocka_unit_test(test_hourly_clock_anchor),
        cmocka_unit_test(test_adjustment_split),
        cmocka_unit_test(test_error_statuses),
        cmocka_unit_test(test_transport_and_malformed),
        cmocka_unit_test(test_constructor),
        cmocka_unit_test(test_aggregate_bad_source_bar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
