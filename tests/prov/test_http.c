/*
 * test_http.c — the providers' HTTP client against the fixture server on
 * loopback: bodies, headers sent, Retry-After (seconds and HTTP date), the
 * status classification, deadlines, a connection cut mid-body, the body cap,
 * a refused connection, and keys kept out of error messages. Also the shared
 * normalisation helpers (New York local time, daily/weekly labels, session
 * aware aggregation).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cal/cal.h"
#include "core/clock.h"
#include "core/util.h"
#include "fixture.h"
#include "model/time.h"
#include "prov/http.h"
#include "prov/prov.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void handler(void *ctx, const fx_req *req, fx_resp *r)
{
    (void)ctx;
    if (strcmp(req->path, "/ok") == 0) {
        fx_bodyf(r, "{\"q\":\"%s\",\"auth\":\"%s\"}", fx_param(req, "q") ? fx_param(req, "q") : "",
                 fx_header(req, "Authorization") ? fx_header(req, "Authorization") : "");
    } else if (strcmp(req->path, "/429s") == 0) {
        r->status = 429;
        snprintf(r->retry_after, sizeof r->retry_after, "7");
        fx_body(r, "Too Many Requests");
        snprintf(r->content_type, sizeof r->content_type, "text/plain");
    } else if (strcmp(req->path, "/429date") == 0) {
        r->status = 429;
        time_t t = time(NULL) + 120;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(r->retry_after, sizeof r->retry_after, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    } else if (strcmp(req->path, "/429bare") == 0) {
        r->status = 429;
    } else if (strncmp(req->path, "/status/", 8) == 0) {
        r->status = atoi(req->path + 8); /* NOLINT: test input */
        fx_body(r, "{\"error\":\"no\"}");
    } else if (strcmp(req->path, "/slow") == 0) {
        r->delay_ms = 3000;
        fx_body(r, "{}");
    } else if (strcmp(req->path, "/cut") == 0) {
        fx_body(r, "{\"results\":[1,2,3,4,5,6,7,8,9,10]}");
        r->truncate_at = 12;
    } else if (strcmp(req->path, "/big") == 0) {
        r->len = 100000;
        r->body = malloc(r->len);
        memset(r->body, ' ', r->len);
    } else {
        r->status = 404;
    }
}

static bk_http *client(void)
{
    bk_http *h = NULL;
    bk_err err = {0};
    assert_int_equal(bk_http_new(&h, NULL, &err), 0);
    return h;
}

static int get(bk_http *h, fx *f, const char *path_query, int64_t timeout_ms, size_t max,
               bk_http_resp *r, bk_err *err)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", fx_url(f), path_query);
    bk_http_req req = {.url = url,
                       .headers = {"Authorization: Bearer sekrit"},
                       .timeout_ms = timeout_ms,
                       .max_body = max};
    return bk_http_get(h, "test", &req, r, err);
}

static void test_body_and_headers(void **state)
{
    (void)state;
    fx *f = fx_start(handler, NULL);
    bk_http *h = client();
    bk_http_resp r;
    bk_err err = {0};
    for (int i = 0; i < 3; i++) { /* the pooled handle is reused */
        assert_int_equal(get(h, f, "/ok?q=a%20b", 0, 0, &r, &err), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "{\"q\":\"a b\",\"auth\":\"Bearer sekrit\"}");
        assert_int_equal(r.len, strlen(r.body));
        assert_string_equal(r.content_type, "application/json");
        assert_int_equal(r.retry_after_ms, -1);
        assert_int_equal(bk_http_classify(&r, "test", &err), 0);
        bk_http_resp_fini(&r);
    }
    fx_req seen;
    assert_int_equal(fx_request(f, 2, &seen), 0);
    assert_string_equal(seen.method, "GET");
    assert_non_null(fx_header(&seen, "User-Agent"));
    assert_true(strncmp(fx_header(&seen, "User-Agent"), "barkeep/", 8) == 0);
    bk_http_free(h);
    fx_stop(f);
}

static void test_classify(void **state)
{
    (void)state;
    fx *f = fx_start(handler, NULL);
    bk_http *h = client();
    bk_http_resp r;
    bk_err err = {0};
    assert_int_equal(get(h, f, "/429s", 0, 0, &r, &err), 0);
    assert_int_equal(bk_http_classify(&r, "test", &err), BK_EPROV_RATE);
    assert_int_equal(err.retry_after_ms, 7000);
    assert_non_null(strstr(err.msg, "HTTP 429: Too Many Requests"));
    bk_http_resp_fini(&r);

    bk_err_clear(&err);
    assert_int_equal(get(h, f, "/429date", 0, 0, &r, &err), 0);
    assert_int_equal(bk_http_classify(&r, "test", &err), BK_EPROV_RATE);
    assert_in_range(err.retry_after_ms, 100000, 121000);
    bk_http_resp_fini(&r);

    bk_err_clear(&err);
    assert_int_equal(get(h, f, "/429bare", 0, 0, &r, &err), 0);
    assert_int_equal(bk_http_classify(&r, "test", &err), BK_EPROV_RATE);
    assert_int_equal(err.retry_after_ms, 0);
    bk_http_resp_fini(&r);

    static const struct {
        const char *path;
        int code;
    } cases[] = {{"/status/401", BK_EPROV_AUTH},      {"/status/403", BK_EPROV_AUTH},
                 {"/status/404", BK_EPROV_SYMBOL},    {"/status/500", BK_EPROV_5XX},
                 {"/status/502", BK_EPROV_5XX},       {"/status/503", BK_EPROV_5XX},
                 {"/status/408", BK_EPROV_5XX},       {"/status/400", BK_EPROV_MALFORMED},
                 {"/status/422", BK_EPROV_MALFORMED}, {"/status/204", 0}};
    for (size_t i = 0; i < BK_ARRAY_LEN(cases); i++) {
        bk_err_clear(&err);
        assert_int_equal(get(h, f, cases[i].path, 0, 0, &r, &err), 0);
        assert_int_equal(bk_http_classify(&r, "test", &err), cases[i].code);
        bk_http_resp_fini(&r);
    }
    /* the body's quotes do not break a key="value" log line */
    bk_err_clear(&err);
    assert_int_equal(get(h, f, "/status/500", 0, 0, &r, &err), 0);
    assert_int_equal(bk_http_classify(&r, "test", &err), BK_EPROV_5XX);
    assert_string_equal(err.msg, "test: HTTP 500: {'error':'no'}");
    bk_http_resp_fini(&r);
    bk_http_free(h);
    fx_stop(f);
}

static void test_transport_failures(void **state)
{
    (void)state;
    fx *f = fx_start(handler, NULL);
    bk_http *h = client();
    bk_http_resp r;
    bk_err err = {0};
    assert_int_equal(get(h, f, "/slow?apiKey=sekrit", 200, 0, &r, &err), BK_ETIMEDOUT);
    assert_null(strstr(err.msg, "sekrit"));
    assert_non_null(strstr(err.msg, "/slow"));
    assert_null(r.body);

    bk_err_clear(&err);
    assert_int_equal(get(h, f, "/cut", 0, 0, &r, &err), BK_EPROV_NET);
    assert_null(r.body);

    bk_err_clear(&err);
    assert_int_equal(get(h, f, "/big", 0, 1000, &r, &err), BK_EPROV_MALFORMED);
    assert_non_null(strstr(err.msg, "over 1000 bytes"));

    /* the client still works after each failure */
    assert_int_equal(get(h, f, "/ok", 0, 0, &r, &err), 0);
    assert_int_equal(r.status, 200);
    bk_http_resp_fini(&r);

    /* nobody listening: a port of a stopped server */
    char url[128];
    snprintf(url, sizeof url, "%s/ok?token=sekrit", fx_url(f));
    fx_stop(f);
    bk_err_clear(&err);
    bk_http_req req = {.url = url, .timeout_ms = 2000};
    assert_int_equal(bk_http_get(h, "test", &req, &r, &err), BK_EPROV_NET);
    assert_null(strstr(err.msg, "sekrit"));
    bk_http_free(h);
}

static void test_url_escape(void **state)
{
    (void)state;
    bk_buf b;
    bk_buf_init(&b);
    bk_url_escape(&b, "BRK.B a/b&c=d~_-");
    assert_string_equal(b.data, "BRK.B%20a%2Fb%26c%3Dd~_-");
    bk_buf_fini(&b);
}

static int64_t ny(int y, int m, int d, int h, int min)
{
    return bk_cal_ny_to_utc(bk_days_from_civil(y, m, d), h, min);
}

static void test_ny_local_and_labels(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(bk_prov_parse_ny_local("2025-07-07T09:30:00", &t), 0);
    assert_int_equal(t, ny(2025, 7, 7, 9, 30));
    char buf[BK_TIME_STR_MAX];
    assert_string_equal(bk_time_format(t, buf), "2025-07-07T13:30:00Z"); /* EDT */
    assert_int_equal(bk_prov_parse_ny_local("2025-01-06 09:31", &t), 0);
    assert_string_equal(bk_time_format(t, buf), "2025-01-06T14:31:00Z"); /* EST */
    assert_int_equal(bk_prov_parse_ny_local("2025-03-10", &t), 0);
    assert_string_equal(bk_time_format(t, buf), "2025-03-10T04:00:00Z");
    assert_int_equal(bk_prov_parse_ny_local("2025-01-06T09:30:00:00", &t), BK_EINVAL);
    assert_int_equal(bk_prov_parse_ny_local("2025-02-30", &t), BK_EINVAL);
    assert_int_equal(bk_prov_parse_ny_local("2025-01-06T24:00", &t), BK_EINVAL);
    assert_int_equal(bk_prov_parse_ny_local("2025-1-6", &t), BK_EINVAL);
    /* daily labels across the March 2025 DST change: 05:00Z then 04:00Z */
    assert_string_equal(bk_time_format(bk_prov_day_label(bk_days_from_civil(2025, 3, 7)), buf),
                        "2025-03-07T05:00:00Z");
    assert_string_equal(bk_time_format(bk_prov_day_label(bk_days_from_civil(2025, 3, 10)), buf),
                        "2025-03-10T04:00:00Z");
    /* weekly: the Monday of the week, whatever day is given */
    assert_string_equal(bk_time_format(bk_prov_week_label(bk_days_from_civil(2025, 7, 11)), buf),
                        "2025-07-07T04:00:00Z");
    assert_string_equal(bk_time_format(bk_prov_week_label(bk_days_from_civil(2025, 7, 7)), buf),
                        "2025-07-07T04:00:00Z");
}

static void test_aggregate(void **state)
{
    (void)state;
    /* 1h session-anchored bars of Thursday 2025-07-03 (early close 13:00)
     * and Monday 2025-07-07 into 4h: 09:30-13:00 is one bar on the short
     * day; 09:30-13:30 and 13:30-16:00 on the full day. A pre-market bar is
     * dropped. */
    bk_page pg;
    bk_page_init(&pg);
    int64_t starts[] = {ny(2025, 7, 3, 8, 0),   ny(2025, 7, 3, 9, 30),  ny(2025, 7, 3, 10, 30),
                        ny(2025, 7, 3, 11, 30), ny(2025, 7, 3, 12, 30), ny(2025, 7, 7, 9, 30),
                        ny(2025, 7, 7, 10, 30), ny(2025, 7, 7, 11, 30), ny(2025, 7, 7, 12, 30),
                        ny(2025, 7, 7, 13, 30), ny(2025, 7, 7, 14, 30), ny(2025, 7, 7, 15, 30)};
    for (size_t i = 0; i < BK_ARRAY_LEN(starts); i++) {
        double base = 100 + (double)i;
        bk_bar b = {starts[i], base, base + 2, base - 1, base + 1, 10};
        bk_page_push(&pg, &b);
    }
    bk_err err = {0};
    assert_int_equal(bk_prov_aggregate(&pg, BK_TF_4H, BK_ANCHOR_SESSION, &err), 0);
    assert_int_equal(pg.n, 3);
    assert_int_equal(pg.bars[0].ts_us, ny(2025, 7, 3, 9, 30));
    assert_true(pg.bars[0].open == 101 && pg.bars[0].close == 105);
    assert_true(pg.bars[0].high == 106 && pg.bars[0].low == 100);
    assert_true(pg.bars[0].volume == 40);
    assert_int_equal(pg.bars[1].ts_us, ny(2025, 7, 7, 9, 30));
    assert_true(pg.bars[1].open == 105 && pg.bars[1].close == 109 && pg.bars[1].volume == 40);
    assert_int_equal(pg.bars[2].ts_us, ny(2025, 7, 7, 13, 30));
    assert_true(pg.bars[2].open == 109 && pg.bars[2].close == 112 && pg.bars[2].volume == 30);
    /* going back in time is refused */
    bk_page_reset(&pg);
    bk_bar a = {ny(2025, 7, 7, 10, 30), 1, 1, 1, 1, 1}, b = {ny(2025, 7, 7, 9, 30), 1, 1, 1, 1, 1};
    bk_page_push(&pg, &a);
    bk_page_push(&pg, &b);
    assert_int_equal(bk_prov_aggregate(&pg, BK_TF_4H, BK_ANCHOR_SESSION, &err), BK_EBADBAR);
    bk_page_fini(&pg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_and_headers),    cmocka_unit_test(test_classify),
        cmocka_unit_test(test_transport_failures),  cmocka_unit_test(test_url_escape),
        cmocka_unit_test(test_ny_local_and_labels), cmocka_unit_test(test_aggregate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
