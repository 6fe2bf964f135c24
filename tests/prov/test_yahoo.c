/*
 * test_yahoo.c — the yahoo adapter end to end: bk_prov_fetch through real
 * libcurl against the fixture server, which answers with recorded-format
 * chart bodies from tests/prov/fixtures/yahoo/. Covers providers.md §7 for
 * Yahoo: a multi-bar and a single-bar page, the empty-window shape
 * (quote: [{}]), null entries, 401/403, 429 with a plain-text body and
 * Retry-After and with a JSON body without it, the retention refusal, an
 * unknown symbol, daily bars across a DST change, weekly labels, 1h/4h
 * (native 60m, or aggregated) on a normal and an early-close day for both
 * anchors, 5xx, a deadline, a cut connection and malformed bodies — and the
 * request the adapter sends.
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
static pt_env *env_new(bk_anchor anchor, int64_t timeout_ms)
{
    pt_env *e = pt_env_served("yahoo");
    bk_prov_cfg cfg = {.anchor = anchor, .timeout_ms = timeout_ms};
    pt_env_prov(e, bk_yahoo_new, &cfg);
    return e;
}

/* The request carries no credential of any kind in its query. */
static void check_no_key(const fx_req *r)
{
    for (int i = 0; i < r->n_query; i++) {
        assert_null(strstr(r->query[i].name, "key"));
        assert_null(strstr(r->query[i].name, "token"));
        assert_null(strstr(r->query[i].name, "crumb"));
    }
    assert_null(fx_header(r, "Authorization"));
}

/* §7.1: a normal page, and what was asked. */
static void test_multi_bar_page(void **state)
{
    (void)state;
    pt_env *e = env_new(BK_ANCHOR_SESSION, 0);
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
    assert_string_equal(r.method, "GET");
    assert_string_equal(r.path, "/v8/finance/chart/AAPL");
    assert_string_equal(fx_param(&r, "interval"), "5m");
    assert_string_equal(fx_param(&r, "period1"), "1751895000");
    assert_string_equal(fx_param(&r, "period2"), "1751895900");
    assert_string_equal(fx_param(&r, "includePrePost"), "false");
    assert_non_null(fx_header(&r, "User-Agent"));
    assert_true(strncmp(fx_header(&r, "User-Agent"), "Mozilla/5.0", 11) == 0);
    assert_string_equal(fx_header(&r, "Accept"), "application/json");
    check_no_key(&r);

    /* bars outside [from, to) are dropped */
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_5M, "2025-07-07T13:35:00Z", "2025-07-07T13:40:00Z"), 0);
    assert_int_equal(e->pg.n, 1);
    pt_check_bar(&e->pg.bars[0], "2025-07-07T13:35:00Z", 213.1, 213.4, 212.85, 212.93, 911204);
    pt_env_free(e);
}

/* §7.2 single bar, §7.3 empty window, §7.7 null entries. */
static void test_single_empty_nulls(void **state)
{
    (void)state;
    pt_env *e = env_new(BK_ANCHOR_SESSION, 0);
    pt_serve(e, 200, "5m_single.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_5M, "2025-07-07T13:30:00Z", "2025-07-07T20:00:00Z"), 0);
    assert_int_equal(e->pg.n, 1);
    pt_check_bar(&e->pg.bars[0], "2025-07-07T13:30:00Z", 212.68, 213.26, 212.31, 213.09, 2145873);

    pt_serve(e, 200, "empty.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_1M, "2025-07-05T13:30:00Z", "2025-07-05T20:00:00Z"), 0);
    assert_int_equal(e->pg.n, 0);
    assert_string_equal(e->pg.next_token, "");
    fx_req r;
    pt_last_request(e, &r);
    assert_string_equal(fx_param(&r, "interval"), "1m");

    /* 09:35 is all null (skipped), 09:40 has a null volume (0) */
    pt_serve(e, 200, "5m_nulls.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_5M, "2025-07-07T13:30:00Z", "2025-07-07T13:50:00Z"), 0);
    assert_int_equal(e->pg.n, 3);
    pt_check_bar(&e->pg.bars[0], "2025-07-07T13:30:00Z", 212.68, 213.26, 212.31, 213.09, 2145873);
    pt_check_bar(&e->pg.bars[1], "2025-07-07T13:40:00Z", 212.92, 213.05, 212.5, 212.77, 0);
    pt_check_bar(&e->pg.bars[2], "2025-07-07T13:45:00Z", 212.8, 213.0, 212.6, 212.95, 512000);
    pt_env_free(e);
}

/* §7.10: daily bars stamped 09:30 New York either side of the March 2025
 * DST change get 05:00Z (EST) and 04:00Z (EDT) labels; weekly bars the
 * week's Monday. */
static void test_daily_dst_and_weekly(void **state)
{
    (void)state;
    pt_env *e = env_new(BK_ANCHOR_SESSION, 0);
    pt_serve(e, 200, "1d_dst.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_D1, "2025-03-07T05:00:00Z", "2025-03-11T04:00:00Z"), 0);
    assert_int_equal(e->pg.n, 2);
    pt_check_bar(&e->pg.bars[0], "2025-03-07T05:00:00Z", 235.1, 241.37, 234.76, 239.07, 46273600);
    pt_check_bar(&e->pg.bars[1], "2025-03-10T04:00:00Z", 235.54, 236.16, 224.22, 227.48, 72071200);
    fx_req r;
    pt_last_request(e, &r);
    assert_string_equal(fx_param(&r, "interval"), "1d");
    /* padded by a day each side: stamps are not at the label */
    assert_string_equal(fx_param(&r, "period1"), "1741237200"); /* 2025-03-06T05:00Z */
    assert_string_equal(fx_param(&r, "period2"), "1741752000"); /* 2025-03-12T04:00Z */

    pt_serve(e, 200, "1wk.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_W1, "2025-06-30T04:00:00Z", "2025-07-14T04:00:00Z"), 0);
    assert_int_equal(e->pg.n, 2);
    pt_check_bar(&e->pg.bars[0], "2025-06-30T04:00:00Z", 202.01, 214.65, 200.64, 213.55, 221301200);
    pt_check_bar(&e->pg.bars[1], "2025-07-07T04:00:00Z", 212.68, 216.23, 207.22, 211.16, 245678900);
    pt_last_request(e, &r);
    assert_string_equal(fx_param(&r, "interval"), "1wk");
    pt_env_free(e);
}

/* Session anchor: 1h is Yahoo's 60m (which starts at 09:30), 4h is
 * aggregated from it; on 2025-07-03 (close 13:00) the day has one 4h bar. */
static void test_hourly_session_anchor(void **state)
{
    (void)state;
    pt_env *e = env_new(BK_ANCHOR_SESSION, 0);
    fx_req r;
    pt_serve(e, 200, "60m_normal.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_1H, "2025-07-07T13:30:00Z", "2025-07-07T20:00:00Z"), 0);
    assert_int_equal(e->pg.n, 7);
    pt_check_bar(&e->pg.bars[0], "2025-07-07T13:30:00Z", 200, 202, 199, 201, 1000);
    pt_check_bar(&e->pg.bars[6], "2025-07-07T19:30:00Z", 206, 208, 205, 207, 7000);
    pt_last_request(e, &r);
    assert_string_equal(fx_param(&r, "interval"), "60m");

    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_4H, "2025-07-07T13:30:00Z", "2025-07-07T21:30:00Z"), 0);
    assert_int_equal(e->pg.n, 2);
    pt_check_bar(&e->pg.bars[0], "2025-07-07T13:30:00Z", 200, 205, 199, 204, 10000);
    pt_check_bar(&e->pg.bars[1], "2025-07-07T17:30:00Z", 204, 208, 203, 207, 18000);
    pt_last_request(e, &r);
    assert_string_equal(fx_param(&r, "interval"), "60m");
    /* the window reaches the end of the last 4h bar's span */
    assert_string_equal(fx_param(&r, "period2"), "1751938200"); /* 21:30Z + 4h */

    pt_serve(e, 200, "60m_early.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_4H, "2025-07-03T13:30:00Z", "2025-07-03T17:30:00Z"), 0);
    assert_int_equal(e->pg.n, 1);
    pt_check_bar(&e->pg.bars[0], "2025-07-03T13:30:00Z", 200, 205, 199, 204, 10000);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_1H, "2025-07-03T13:30:00Z", "2025-07-03T17:30:00Z"), 0);
    assert_int_equal(e->pg.n, 4);
    pt_check_bar(&e->pg.bars[3], "2025-07-03T16:30:00Z", 203, 205, 202, 204, 4000);
    pt_env_free(e);
}

/* Clock anchor: Yahoo's 60m bars do not start on the hour, so 1h and 4h
 * are aggregated from 30m bars (09:00 = 09:30-10:00; 4h = 08:00, 12:00). */
static void test_hourly_clock_anchor(void **state)
{
    (void)state;
    pt_env *e = env_new(BK_ANCHOR_CLOCK, 0);
    fx_req r;
    pt_serve(e, 200, "30m_normal.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_1H, "2025-07-07T13:00:00Z", "2025-07-07T20:00:00Z"), 0);
    pt_last_request(e, &r);
    assert_string_equal(fx_param(&r, "interval"), "30m");
    assert_int_equal(e->pg.n, 7);
    pt_check_bar(&e->pg.bars[0], "2025-07-07T13:00:00Z", 200, 202, 199, 201, 1000);
    pt_check_bar(&e->pg.bars[1], "2025-07-07T14:00:00Z", 201, 204, 200, 203, 5000);
    pt_check_bar(&e->pg.bars[6], "2025-07-07T19:00:00Z", 211, 214, 210, 213, 25000);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_4H, "2025-07-07T12:00:00Z", "2025-07-07T20:00:00Z"), 0);
    assert_int_equal(e->pg.n, 2);
    pt_check_bar(&e->pg.bars[0], "2025-07-07T12:00:00Z", 200, 206, 199, 205, 15000);
    pt_check_bar(&e->pg.bars[1], "2025-07-07T16:00:00Z", 205, 214, 204, 213, 76000);

    pt_serve(e, 200, "30m_early.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_4H, "2025-07-03T12:00:00Z", "2025-07-03T20:00:00Z"), 0);
    assert_int_equal(e->pg.n, 2);
    pt_check_bar(&e->pg.bars[0], "2025-07-03T12:00:00Z", 200, 206, 199, 205, 15000);
    pt_check_bar(&e->pg.bars[1], "2025-07-03T16:00:00Z", 205, 208, 204, 207, 13000);
    pt_env_free(e);
}

/* §7.5, §7.6, §7.9 and the common statuses. */
static void test_error_statuses(void **state)
{
    (void)state;
    pt_env *e = env_new(BK_ANCHOR_SESSION, 0);
    const char *f = "2025-07-07T13:30:00Z", *t = "2025-07-07T14:30:00Z";

    pt_serve(e, 404, "404.json", NULL);
    assert_int_equal(pt_fetch_at(e, "ZZZZQ", BK_TF_5M, f, t), BK_EPROV_SYMBOL);
    assert_non_null(strstr(e->err.msg, "ZZZZQ"));
    assert_non_null(strstr(e->err.msg, "delisted"));

    pt_serve(e, 422, "422_retention.json", NULL);
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_1M, f, t), BK_EPROV_RANGE);
    assert_non_null(strstr(e->err.msg, "within the last 30 days"));
    pt_serve(e, 400, "422_retention.json", NULL);
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_1M, f, t), BK_EPROV_RANGE);
    /* a 400 that is not about the window stays a bad request */
    pt_serve(e, 400, NULL,
             "{\"chart\":{\"result\":null,\"error\":{\"code\":\"Bad Request\","
             "\"description\":\"Invalid input - interval=7m is not supported.\"}}}");
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_1M, f, t), BK_EPROV_MALFORMED);

    pt_serve(e, 401, "401.json", NULL);
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_AUTH);
    assert_non_null(strstr(e->err.msg, "Invalid Crumb"));
    pt_serve(e, 403, NULL, "{\"finance\":{\"result\":null,\"error\":{\"code\":\"Forbidden\"}}}");
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_AUTH);

    /* 429 with a plain-text body and Retry-After */
    pt_serve(e, 429, NULL, "Too Many Requests");
    pt_serve_extra(e, &(pt_extra){.content_type = "text/plain", .retry_after = "3"});
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_RATE);
    assert_int_equal(e->err.retry_after_ms, 3000);
    /* 429 with a JSON body and no Retry-After */
    pt_serve(e, 429, NULL, "{\"finance\":{\"error\":{\"code\":\"Too Many Requests\"}}}");
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_RATE);
    assert_int_equal(e->err.retry_after_ms, 0);
    assert_int_equal(e->p->stats.rate_limited, 2);

    pt_serve(e, 500, NULL, "Internal Server Error");
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_5XX);
    pt_serve(e, 503, NULL, "");
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_5XX);
    assert_int_equal(e->pg.n, 0);
    pt_env_free(e);
}

/* A deadline, a connection cut mid-body, and complete answers whose body is
 * bad: each fails with no bars. */
static void test_transport_and_malformed(void **state)
{
    (void)state;
    pt_env *e = env_new(BK_ANCHOR_SESSION, 300);
    const char *f = "2025-07-07T13:30:00Z", *t = "2025-07-07T13:45:00Z";

    pt_serve(e, 200, "5m_multi.json", NULL);
    pt_serve_extra(e, &(pt_extra){.delay_ms = 3000});
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_ETIMEDOUT);
    assert_int_equal(e->pg.n, 0);

    pt_serve(e, 200, "5m_multi.json", NULL);
    pt_serve_extra(e, &(pt_extra){.truncate_at = 300});
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_NET);
    assert_int_equal(e->pg.n, 0);

    pt_serve(e, 200, "truncated.json", NULL);
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_MALFORMED);
    assert_non_null(strstr(e->err.msg, "not JSON"));
    assert_int_equal(e->pg.n, 0);

    pt_serve(e, 200, "mismatch.json", NULL);
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_MALFORMED);
    assert_non_null(strstr(e->err.msg, "close has 2 entries for 3 timestamps"));
    assert_int_equal(e->pg.n, 0);

    pt_serve(e, 200, "bad_price.json", NULL);
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_MALFORMED);
    assert_non_null(strstr(e->err.msg, "open[1] is string"));
    assert_int_equal(e->pg.n, 0);

    pt_serve(e, 200, NULL, "<html>Will be right back</html>");
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_MALFORMED);
    pt_serve(e, 200, NULL,
             "{\"chart\":{\"result\":[{\"timestamp\":[1751895000]}],\"error\":null}}");
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_MALFORMED);
    assert_non_null(strstr(e->err.msg, "indicators.quote[0]"));
    pt_serve(e, 200, NULL, "{\"chart\":{\"result\":null,\"error\":null}}");
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_MALFORMED);
    /* a 200 carrying chart.error "Not Found" is an unknown symbol too */
    pt_serve(e, 200, "404.json", NULL);
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_SYMBOL);

    /* and the adapter still works afterwards */
    pt_serve(e, 200, "5m_multi.json", NULL);
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), 0);
    assert_int_equal(e->pg.n, 3);
    assert_int_equal(e->p->stats.requests, 10);
    assert_int_equal(e->p->stats.errors, 9);
    pt_env_free(e);
}

/* Symbols: share classes take Yahoo's hyphen; others are escaped as is. */
static void test_symbols(void **state)
{
    (void)state;
    pt_env *e = env_new(BK_ANCHOR_SESSION, 0);
    fx_req r;
    pt_serve(e, 200, "empty.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "BRK.B", BK_TF_D1, "2025-07-07T04:00:00Z", "2025-07-08T04:00:00Z"), 0);
    pt_last_request(e, &r);
    assert_string_equal(r.path, "/v8/finance/chart/BRK-B");
    assert_int_equal(
        pt_fetch_at(e, "^GSPC", BK_TF_D1, "2025-07-07T04:00:00Z", "2025-07-08T04:00:00Z"), 0);
    pt_last_request(e, &r);
    assert_string_equal(r.path, "/v8/finance/chart/^GSPC"); /* decoded by the fixture */
    pt_env_free(e);
}

static void test_constructor(void **state)
{
    (void)state;
    bk_prov *p = NULL;
    bk_err err = {0};
    assert_int_equal(bk_yahoo_new(&p, NULL, &err), 0);
    assert_string_equal(p->name, "yahoo");
    assert_string_equal(p->feed, "consolidated");
    assert_string_equal(p->adjustment, "split");
    assert_int_equal(p->limits.max_span_us[BK_TF_1M], 7 * BK_US_PER_DAY);
    assert_true(p->limits.history_us[BK_TF_1M] <= 30 * BK_US_PER_DAY);
    assert_int_equal(p->limits.history_us[BK_TF_1H], 729 * BK_US_PER_DAY);
    assert_int_equal(p->limits.history_us[BK_TF_D1], 0);
    assert_true(p->limits.rate_per_s > 0);
    bk_prov_free(p);

    bk_prov_cfg cfg = {.anchor = BK_ANCHOR_CLOCK};
    assert_int_equal(bk_yahoo_new(&p, &cfg, &err), 0);
    assert_int_equal(p->limits.history_us[BK_TF_1H], 59 * BK_US_PER_DAY); /* from 30m */
    bk_prov_free(p);

    cfg.adjustment = "raw";
    assert_int_equal(bk_yahoo_new(&p, &cfg, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "split"));
    cfg.adjustment = "split+div";
    assert_int_equal(bk_yahoo_new(&p, &cfg, &err), BK_EINVAL);
    cfg.adjustment = "split";
    cfg.feed = "iex";
    assert_int_equal(bk_yahoo_new(&p, &cfg, &err), BK_EINVAL);
}

/* One impossible source bar (high below low) inside the aggregated bar
 * asked for: 4h from 60m (session anchor), 1h and 4h from 30m (clock
 * anchor). The fetch fails with BK_EBADBAR and returns nothing. */
static void test_aggregate_bad_source_bar(void **state)
{
    (void)state;
    int64_t open = pt_ny(2025, 7, 7, 9, 30);
    pt_env *e = env_new(BK_ANCHOR_SESSION, 0);
    pt_serve(e, 200, "60m_bad_bar.json", NULL);
    pt_check_bad_source_bar(e, BK_TF_4H, open, open + 1);
    pt_env_free(e);
    e = env_new(BK_ANCHOR_CLOCK, 0);
    pt_serve(e, 200, "30m_bad_bar.json", NULL);
    pt_check_bad_source_bar(e, BK_TF_1H, pt_ny(2025, 7, 7, 10, 0), pt_ny(2025, 7, 7, 10, 0) + 1);
    pt_check_bad_source_bar(e, BK_TF_4H, pt_ny(2025, 7, 7, 8, 0), open + 1);
    pt_env_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multi_bar_page),
        cmocka_unit_test(test_single_empty_nulls),
        cmocka_unit_test(test_daily_dst_and_weekly),
        cmocka_unit_test(test_hourly_session_anchor),
        cmocka_unit_test(test_hourly_clock_anchor),
        cmocka_unit_test(test_aggregate_bad_source_bar),
        cmocka_unit_test(test_error_statuses),
        cmocka_unit_test(test_transport_and_malformed),
        cmocka_unit_test(test_symbols),
        cmocka_unit_test(test_constructor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
