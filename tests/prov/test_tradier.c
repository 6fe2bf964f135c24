/*
 * test_tradier.c — the tradier adapter end to end: bk_prov_fetch through
 * real libcurl against the fixture server, which answers with
 * recorded-format timesales/history bodies from
 * tests/prov/fixtures/tradier/. Covers providers.md §7 for Tradier: a
 * multi-bar page, a single bar sent as an object (timesales and history),
 * {"series": null} / {"history": null}, the 401 fault and the expired-token
 * fault sent with HTTP 500, 429 with a JSON body and Retry-After and with
 * neither, the "start: must be on or after" refusal, daily bars across a
 * DST change, weekly labels, bars with only the New York `time`, 30m/1h/4h
 * aggregated from 15min on a normal and an early-close day, 5xx, a
 * deadline, a cut connection and malformed bodies — and the request sent
 * (Bearer token and Accept headers, New York local start/end,
 * session_filter=open).
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
    pt_env *e = pt_env_served("tradier");
    bk_prov_cfg cfg = {.key = "tr-test-token", .anchor = anchor, .timeout_ms = timeout_ms};
    pt_env_prov(e, bk_tradier_new, &cfg);
    return e;
}

static void check_auth(const fx_req *r)
{
    assert_string_equal(fx_header(r, "Authorization"), "Bearer tr-test-token");
    assert_string_equal(fx_header(r, "Accept"), "application/json");
    for (int i = 0; i < r->n_query; i++)
        assert_null(strstr(r->query[i].value, "tr-test-token"));
}

/* §7.1: a normal page, and what was asked. */
static void test_multi_bar_page(void **state)
{
    (void)state;
    pt_env *e = env_new(BK_ANCHOR_SESSION, 0);
    pt_serve(e, 200, "timesales_multi.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_5M, "2025-07-07T13:30:00Z", "2025-07-07T13:45:00Z"), 0);
    assert_int_equal(e->pg.n, 3);
    pt_check_bar(&e->pg.bars[0], "2025-07-07T13:30:00Z", 212.68, 213.26, 212.31, 213.09, 2145873);
    pt_check_bar(&e->pg.bars[1], "2025-07-07T13:35:00Z", 213.1, 213.4, 212.85, 212.93, 911204);
    pt_check_bar(&e->pg.bars[2], "2025-07-07T13:40:00Z", 212.92, 213.05, 212.5, 212.77, 702515);
    assert_string_equal(e->pg.next_token, "");
    fx_req r;
    pt_last_request(e, &r);
    assert_string_equal(r.path, "/v1/markets/timesales");
    assert_string_equal(fx_param(&r, "symbol"), "AAPL");
    assert_string_equal(fx_param(&r, "interval"), "5min");
    assert_string_equal(fx_param(&r, "start"), "2025-07-07 09:30");
    assert_string_equal(fx_param(&r, "end"), "2025-07-07 09:44");
    assert_string_equal(fx_param(&r, "session_filter"), "open");
    check_auth(&r);

    /* 1m maps to 1min; bars carrying only the New York `time` */
    pt_serve(e, 200, "timesales_time_only.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_5M, "2025-07-07T13:30:00Z", "2025-07-07T13:45:00Z"), 0);
    assert_int_equal(e->pg.n, 3);
    pt_check_bar(&e->pg.bars[2], "2025-07-07T13:40:00Z", 212.92, 213.05, 212.5, 212.77, 702515);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_1M, "2025-07-07T13:30:00Z", "2025-07-07T13:45:00Z"), 0);
    pt_last_request(e, &r);
    assert_string_equal(fx_param(&r, "interval"), "1min");
    pt_env_free(e);
}

/* §7.2 a single bar as an object, §7.3 null containers. */
static void test_single_and_null(void **state)
{
    (void)state;
    pt_env *e = env_new(BK_ANCHOR_SESSION, 0);
    pt_serve(e, 200, "timesales_single.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_5M, "2025-07-07T13:30:00Z", "2025-07-07T20:00:00Z"), 0);
    assert_int_equal(e->pg.n, 1);
    pt_check_bar(&e->pg.bars[0], "2025-07-07T13:30:00Z", 212.68, 213.26, 212.31, 213.09, 2145873);
    pt_serve(e, 200, "history_single.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_D1, "2025-03-07T05:00:00Z", "2025-03-08T05:00:00Z"), 0);
    assert_int_equal(e->pg.n, 1);
    pt_check_bar(&e->pg.bars[0], "2025-03-07T05:00:00Z", 235.1, 241.37, 234.76, 239.07, 46273600);

    pt_serve(e, 200, "series_null.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_5M, "2025-07-05T13:30:00Z", "2025-07-05T20:00:00Z"), 0);
    assert_int_equal(e->pg.n, 0);
    pt_serve(e, 200, "history_null.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_D1, "2025-07-05T04:00:00Z", "2025-07-07T04:00:00Z"), 0);
    assert_int_equal(e->pg.n, 0);
    pt_serve(e, 200, NULL, "{\"series\":{\"data\":null}}");
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_5M, "2025-07-05T13:30:00Z", "2025-07-05T20:00:00Z"), 0);
    assert_int_equal(e->pg.n, 0);
    pt_env_free(e);
}

/* §7.10: daily dates either side of the March 2025 DST change get 05:00Z
 * then 04:00Z labels; weekly dates the week's Monday. */
static void test_daily_dst_and_weekly(void **state)
{
    (void)state;
    pt_env *e = env_new(BK_ANCHOR_SESSION, 0);
    fx_req r;
    pt_serve(e, 200, "history_daily_dst.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_D1, "2025-03-07T05:00:00Z", "2025-03-11T04:00:00Z"), 0);
    assert_int_equal(e->pg.n, 2);
    pt_check_bar(&e->pg.bars[0], "2025-03-07T05:00:00Z", 235.1, 241.37, 234.76, 239.07, 46273600);
    pt_check_bar(&e->pg.bars[1], "2025-03-10T04:00:00Z", 235.54, 236.16, 224.22, 227.48, 72071200);
    pt_last_request(e, &r);
    assert_string_equal(r.path, "/v1/markets/history");
    assert_string_equal(fx_param(&r, "interval"), "daily");
    assert_string_equal(fx_param(&r, "start"), "2025-03-07");
    assert_string_equal(fx_param(&r, "end"), "2025-03-10");
    assert_string_equal(fx_param(&r, "session_filter"), "open");
    check_auth(&r);

    pt_serve(e, 200, "history_weekly.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_W1, "2025-06-30T04:00:00Z", "2025-07-14T04:00:00Z"), 0);
    assert_int_equal(e->pg.n, 2);
    pt_check_bar(&e->pg.bars[0], "2025-06-30T04:00:00Z", 202.01, 214.65, 200.64, 213.55, 221301200);
    pt_check_bar(&e->pg.bars[1], "2025-07-07T04:00:00Z", 212.68, 216.23, 207.22, 211.16, 245678900);
    pt_last_request(e, &r);
    assert_string_equal(fx_param(&r, "interval"), "weekly");
    assert_string_equal(fx_param(&r, "start"), "2025-06-30");
    assert_string_equal(fx_param(&r, "end"), "2025-07-13");
    pt_env_free(e);
}

/* 30m, 1h and 4h from 15min bars, session anchor, on a normal day and on
 * the 2025-07-03 early close (one 4h bar, a short last hour). */
static void test_aggregation_session(void **state)
{
    (void)state;
    pt_env *e = env_new(BK_ANCHOR_SESSION, 0);
    fx_req r;
    pt_serve(e, 200, "15min_normal.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_30M, "2025-07-07T13:30:00Z", "2025-07-07T20:00:00Z"), 0);
    assert_int_equal(e->pg.n, 13);
    pt_check_bar(&e->pg.bars[0], "2025-07-07T13:30:00Z", 200, 203, 199, 202, 3000);
    pt_check_bar(&e->pg.bars[12], "2025-07-07T19:30:00Z", 224, 227, 223, 226, 51000);
    pt_last_request(e, &r);
    assert_string_equal(fx_param(&r, "interval"), "15min");
    assert_string_equal(fx_param(&r, "end"), "2025-07-07 16:29"); /* + one 30m bar */

    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_1H, "2025-07-07T13:30:00Z", "2025-07-07T20:00:00Z"), 0);
    assert_int_equal(e->pg.n, 7);
    pt_check_bar(&e->pg.bars[0], "2025-07-07T13:30:00Z", 200, 205, 199, 204, 10000);
    pt_check_bar(&e->pg.bars[6], "2025-07-07T19:30:00Z", 224, 227, 223, 226, 51000);

    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_4H, "2025-07-07T13:30:00Z", "2025-07-07T21:30:00Z"), 0);
    assert_int_equal(e->pg.n, 2);
    pt_check_bar(&e->pg.bars[0], "2025-07-07T13:30:00Z", 200, 217, 199, 216, 136000);
    pt_check_bar(&e->pg.bars[1], "2025-07-07T17:30:00Z", 216, 227, 215, 226, 215000);
    pt_last_request(e, &r);
    assert_string_equal(fx_param(&r, "start"), "2025-07-07 09:30");
    assert_string_equal(fx_param(&r, "end"), "2025-07-07 21:29");

    pt_serve(e, 200, "15min_early.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_4H, "2025-07-03T13:30:00Z", "2025-07-03T21:30:00Z"), 0);
    assert_int_equal(e->pg.n, 1);
    pt_check_bar(&e->pg.bars[0], "2025-07-03T13:30:00Z", 200, 215, 199, 214, 105000);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_1H, "2025-07-03T13:30:00Z", "2025-07-03T21:30:00Z"), 0);
    assert_int_equal(e->pg.n, 4);
    pt_check_bar(&e->pg.bars[3], "2025-07-03T16:30:00Z", 212, 215, 211, 214, 27000);
    pt_env_free(e);
}

/* Clock anchor: 1h from 15min starts on the hour (09:00 = 09:30-10:00). */
static void test_aggregation_clock(void **state)
{
    (void)state;
    pt_env *e = env_new(BK_ANCHOR_CLOCK, 0);
    pt_serve(e, 200, "15min_normal.json", NULL);
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_1H, "2025-07-07T13:00:00Z", "2025-07-07T20:00:00Z"), 0);
    assert_int_equal(e->pg.n, 7);
    pt_check_bar(&e->pg.bars[0], "2025-07-07T13:00:00Z", 200, 203, 199, 202, 3000);
    pt_check_bar(&e->pg.bars[1], "2025-07-07T14:00:00Z", 202, 207, 201, 206, 18000);
    pt_check_bar(&e->pg.bars[6], "2025-07-07T19:00:00Z", 222, 227, 221, 226, 98000);
    pt_env_free(e);
}

/* §7.5, §7.6, §7.9 and the common statuses. */
static void test_error_statuses(void **state)
{
    (void)state;
    pt_env *e = env_new(BK_ANCHOR_SESSION, 0);
    const char *f = "2025-07-07T13:30:00Z", *t = "2025-07-07T14:30:00Z";
    pt_serve(e, 401, "401.json", NULL);
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_AUTH);
    assert_non_null(strstr(e->err.msg, "Invalid Access Token"));
    assert_null(strstr(e->err.msg, "tr-test-token"));
    /* an expired token comes with HTTP 500: still a credential problem */
    pt_serve(e, 500, "500_expired.json", NULL);
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_AUTH);
    assert_non_null(strstr(e->err.msg, "expired"));
    pt_serve(e, 403, NULL, "Forbidden");
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_AUTH);
    /* a transient backend fault is retryable */
    pt_serve(e, 500, "500_datastore.json", NULL);
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_5XX);

    pt_serve(e, 400, "400_start.json", NULL);
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_1M, f, t), BK_EPROV_RANGE);
    assert_non_null(strstr(e->err.msg, "must be on or after 2025-10-19"));
    pt_serve(e, 400, NULL, "Invalid parameter, start: must be on or after 2025-10-19");
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_1M, f, t), BK_EPROV_RANGE);
    pt_serve(e, 200, NULL, "Invalid parameter, start: must be on or after 2025-10-19");
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_1M, f, t), BK_EPROV_RANGE);

    pt_serve(e, 429, NULL, "{\"fault\":{\"faultstring\":\"Rate limit quota violation\"}}");
    pt_serve_extra(e, &(pt_extra){.retry_after = "5"});
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_RATE);
    assert_int_equal(e->err.retry_after_ms, 5000);
    pt_serve(e, 429, NULL, "");
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_RATE);
    assert_int_equal(e->err.retry_after_ms, 0);

    pt_serve(e, 503, NULL, "Service Unavailable");
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_5XX);
    assert_int_equal(e->pg.n, 0);
    pt_env_free(e);
}

static void test_transport_and_malformed(void **state)
{
    (void)state;
    pt_env *e = env_new(BK_ANCHOR_SESSION, 300);
    const char *f = "2025-07-07T13:30:00Z", *t = "2025-07-07T13:45:00Z";
    pt_serve(e, 200, "timesales_multi.json", NULL);
    pt_serve_extra(e, &(pt_extra){.delay_ms = 3000});
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_ETIMEDOUT);

    pt_serve(e, 200, "timesales_multi.json", NULL);
    pt_serve_extra(e, &(pt_extra){.truncate_at = 100});
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_NET);

    pt_serve(e, 200, "truncated.json", NULL);
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_MALFORMED);
    assert_int_equal(e->pg.n, 0);
    pt_serve(e, 200, "bad_price.json", NULL);
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_MALFORMED);
    assert_non_null(strstr(e->err.msg, "data[2].close is string"));
    assert_int_equal(e->pg.n, 0);
    pt_serve(e, 200, "missing_volume.json", NULL);
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_MALFORMED);
    assert_non_null(strstr(e->err.msg, "data[1].volume is missing"));
    /* XML (what Tradier sends without Accept: application/json) */
    pt_serve(e, 200, NULL, "<?xml version=\"1.0\"?><series><data/></series>");
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_MALFORMED);
    pt_serve(e, 200, NULL, "{\"history\":null}"); /* the wrong container */
    assert_int_equal(pt_fetch_at(e, "AAPL", BK_TF_5M, f, t), BK_EPROV_MALFORMED);
    pt_serve(e, 200, NULL,
             "{\"history\":{\"day\":[{\"date\":\"2025-02-30\",\"open\":1,\"high\":1,"
             "\"low\":1,\"close\":1,\"volume\":1}]}}");
    assert_int_equal(
        pt_fetch_at(e, "AAPL", BK_TF_D1, "2025-03-07T05:00:00Z", "2025-03-08T05:00:00Z"),
        BK_EPROV_MALFORMED);
    assert_non_null(strstr(e->err.msg, "day[0].date"));
    assert_int_equal(e->pg.n, 0);
    pt_serve(e, 200, "timesales_multi.json", NULL);
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
    assert_int_equal(bk_tradier_new(&p, &cfg, &err), BK_EINVAL);
    assert_string_equal(err.msg, "tradier: no API key (set TRADIER_API_KEY)");
    cfg.key = "t";
    cfg.adjustment = "raw";
    assert_int_equal(bk_tradier_new(&p, &cfg, &err), BK_EINVAL);
    cfg.adjustment = NULL;
    assert_int_equal(bk_tradier_new(&p, &cfg, &err), 0);
    assert_string_equal(p->name, "tradier");
    assert_string_equal(p->feed, "consolidated");
    assert_string_equal(p->adjustment, "split");
    assert_int_equal(p->limits.history_us[BK_TF_1M], 20 * BK_US_PER_DAY);
    assert_int_equal(p->limits.history_us[BK_TF_4H], 40 * BK_US_PER_DAY);
    assert_int_equal(p->limits.history_us[BK_TF_D1], 0);
    assert_true(p->limits.rate_per_s > 1.8 && p->limits.rate_per_s < 1.82); /* 120/min */
    bk_prov_free(p);
    cfg.base_url = "https://sandbox.tradier.com/v1/";
    assert_int_equal(bk_tradier_new(&p, &cfg, &err), 0);
    assert_true(p->limits.rate_per_s > 0.9 && p->limits.rate_per_s < 0.91); /* 60/min */
    assert_int_equal(p->delay_us, 15 * BK_US_PER_MIN);
    bk_prov_free(p);
}

/* One impossible 15min bar (high below low) inside the 30m, 1h and 4h bars
 * asked for: the fetch fails with BK_EBADBAR and returns nothing. */
static void test_aggregate_bad_source_bar(void **state)
{
    (void)state;
    int64_t open = pt_ny(2025, 7, 7, 9, 30);
    for (int a = 0; a < 2; a++) {
        pt_env *e = env_new(a ? BK_ANCHOR_CLOCK : BK_ANCHOR_SESSION, 0);
        pt_serve(e, 200, "15min_bad_bar.json", NULL);
        pt_check_bad_source_bar(e, BK_TF_30M, open, open + 1);
        pt_check_bad_source_bar(e, BK_TF_1H, a ? pt_ny(2025, 7, 7, 9, 0) : open, open + 1);
        pt_check_bad_source_bar(e, BK_TF_4H, a ? pt_ny(2025, 7, 7, 8, 0) : open, open + 1);
        pt_env_free(e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multi_bar_page),           cmocka_unit_test(test_single_and_null),
        cmocka_unit_test(test_daily_dst_and_weekly),     cmocka_unit_test(test_aggregation_session),
        cmocka_unit_test(test_aggregation_clock),        cmocka_unit_test(test_error_statuses),
        cmocka_unit_test(test_transport_and_malformed),  cmocka_unit_test(test_constructor),
        cmocka_unit_test(test_aggregate_bad_source_bar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
