/*
 * test_settle.c — provisional bars settle, end to end: the real binary
 * hydrates a minute series from a fixture server speaking Massive's
 * aggregates format at 15:50:30 New York with a 10-minute settle window;
 * chart-data-v2 marks the bars younger than that provisional. The provider
 * then revises its newest bars; twenty minutes later a tick refetches them
 * (one run triggered by settle, which counts the revised bars), the store
 * holds the revised values, and twenty minutes after that nothing is
 * provisional and a tick plans nothing more.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../integ/api_client.h"
#include "cal/cal.h"
#include "core/clock.h"
#include "core/util.h"
#include "fixture.h"
#include "model/time.h"
#include "testutil.h"

#define T0           "2025-07-08T19:50:30Z" /* Tuesday 15:50:30 New York */
#define T20          "2025-07-08T20:10:30Z" /* the newest bars have settled */
#define T40          "2025-07-08T20:30:30Z"
#define REVISED_FROM "2025-07-08T19:45:00Z" /* the provider revises bars from here */

static atomic_int g_revised; /* 0: first publication; 1: the newest bars revised */
static int64_t g_revised_from;

static double close_of(int64_t ts)
{
    double c = 100.0 + (double)((ts / BK_US_PER_MIN) % 10) * 0.1;
    if (atomic_load(&g_revised) && ts >= g_revised_from)
        c += 0.25;
    return c;
}

/* Massive's minute aggregates, revised ones once g_revised is set */
static void massive_handler(void *ctx, const fx_req *req, fx_resp *r)
{
    (void)ctx;
    char sym[16];
    bool daily;
    int64_t from, to;
    if (!fx_massive_range(req, sym, sizeof sym, &daily, &from, &to) || daily) {
        r->status = 400;
        return;
    }
    size_t n = bk_cal_bars(BK_TF_1M, BK_ANCHOR_SESSION, from, to, NULL, 0);
    bk_calbar *cb = calloc(n + 1, sizeof *cb);
    bk_bar *bars = calloc(n + 1, sizeof *bars);
    bk_cal_bars(BK_TF_1M, BK_ANCHOR_SESSION, from, to, cb, n);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (cb[i].ts_us < from || cb[i].ts_us >= to)
            continue;
        double c = close_of(cb[i].ts_us);
        bars[k++] = (bk_bar){.ts_us = cb[i].ts_us,
                             .open = c,
                             .high = c + 0.5,
                             .low = c - 0.5,
                             .close = c,
                             .volume = 1000};
    }
    fx_massive_body(r, sym, bars, k);
    free(cb);
    free(bars);
}

typedef struct tfix {
    char *dir, *db;
    fx *fm;
    char url_set[160];
} tfix;

static const char *const g_env[] = {"MASSIVE_API_KEY=mk-0123456789abcdef", NULL};

#define SERVICE "service-key-0123456789abcdef"
static const char *const g_srv_env[] = {"MASSIVE_API_KEY=mk-0123456789abcdef",
                                        "BARKEEP_SERVICE_KEY=" SERVICE,
                                        "BARKEEP_ANON_KEY=anon-key-0123456789abcdef0123", NULL};

/* Run barkeep at now with the fixture configured; args NULL-terminated. */
static bk_t_result bk(const tfix *t, const char *now, const char *first, ...)
{
    const char *argv[40] = {bk_t_bin(),
                            "--db",
                            t->db,
                            "--now",
                            now,
                            "--set",
                            "providers=massive",
                            "--set",
                            t->url_set,
                            "--set",
                            "provider_rates=massive=100",
                            "--set",
                            "provider_delays=massive=0",
                            "--set",
                            "provider_settle=massive=600"};
    int n = 15;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && n < 39; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return bk_t_run(argv, g_env);
}

static void expect_status(bk_t_result r, int status)
{
    if (r.status != status)
        fail_msg("exit %d (want %d)\nstdout: %s\nstderr: %s", r.status, status, r.out, r.err);
}

static size_t count_of(const char *text, const char *what)
{
    size_t n = 0;
    for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

/* The series' bars as chart-data-v2 serves them at now (serve on the same
 * database, no workers): *n_provisional counts the provisional ones, and
 * *close_at the close of the bar labelled at (NAN if absent). */
static void chart_at(const tfix *t, const char *now, const char *at, size_t *n_provisional,
                     double *close_at)
{
    const char *args[] = {"--db",  t->db,
                          "--now", now,
                          "--set", "providers=massive",
                          "--set", t->url_set,
                          "--set", "provider_delays=massive=0",
                          "--set", "provider_settle=massive=600",
                          "--set", "workers=0",
                          NULL};
    srv s;
    srv_start(&s, args, g_srv_env);
    static const char *const hdrs[] = {"Authorization: Bearer " SERVICE,
                                       "Content-Type: application/json", NULL};
    resp r = http_req(&s, "POST", "/functions/v1/chart-data-v2",
                      "{\"symbol\":\"AAPL\",\"timeframe\":\"1m\",\"days\":2}", hdrs, NULL);
    if (r.status != 200 || !r.json)
        fail_msg("chart-data-v2: %ld %s", r.status, r.body);
    *n_provisional = 0;
    *close_at = NAN;
    const char *layers[] = {"historical", "intraday"};
    for (size_t l = 0; l < 2; l++) {
        json_t *data =
            json_object_get(json_object_get(json_object_get(r.json, "layers"), layers[l]), "data");
        assert_true(json_is_array(data));
        for (size_t i = 0; i < json_array_size(data); i++) {
            json_t *bar = json_array_get(data, i);
            json_t *p = json_object_get(bar, "provisional");
            assert_true(json_is_boolean(p));
            *n_provisional += json_is_true(p);
            if (strcmp(json_string_value(json_object_get(bar, "ts")), at) == 0)
                *close_at = json_number_value(json_object_get(bar, "close"));
        }
    }
    resp_free(&r);
    srv_stop(&s);
}

static void test_revised_bars_settle(void **state)
{
    (void)state;
    tfix t = {0};
    t.dir = bk_t_tmpdir("settle");
    t.db = bk_t_path(t.dir, "settle.db");
    t.fm = fx_start(massive_handler, NULL);
    snprintf(t.url_set, sizeof t.url_set, "massive_url=%s", fx_url(t.fm));
    assert_int_equal(bk_time_parse(REVISED_FROM, &g_revised_from), 0);
    atomic_store(&g_revised, 0);

    bk_t_result r = bk(&t, T0, "jobs", "add", "AAPL", "1m", "--window-days", "1", NULL);
    expect_status(r, 0);
    bk_t_result_free(&r);
    r = bk(&t, T0, "tick", "--wait", NULL);
    expect_status(r, 0);
    bk_t_result_free(&r);
    /* 19:40 .. 19:49 end after 19:40:30 (now − settle): provisional */
    size_t n_prov;
    double close;
    chart_at(&t, T0, "2025-07-08T19:47:00Z", &n_prov, &close);
    assert_int_equal(n_prov, 10);
    assert_true(fabs(close - (100.0 + 0.7)) < 1e-9);
    /* before they settled, a tick refetches nothing (it queues the new tail) */
    r = bk(&t, "2025-07-08T19:55:00Z", "tick", NULL);
    expect_status(r, 0);
    bk_t_result_free(&r);
    r = bk(&t, "2025-07-08T19:55:00Z", "runs", "--json", NULL);
    expect_status(r, 0);
    assert_int_equal(count_of(r.out, "\"triggered_by\":\"settle\""), 0);
    bk_t_result_free(&r);

    atomic_store(&g_revised, 1);
    r = bk(&t, T20, "--log-level", "info", "tick", "--wait", NULL);
    expect_status(r, 0);
    const char *logged = strstr(r.err, "msg=\"bars revised\" run=");
    if (!logged)
        fail_msg("no revision logged\nstdout: %s\nstderr: %.6000s", r.out, r.err);
    assert_non_null(strstr(logged, " n=5\n")); /* 19:45 .. 19:49 */
    bk_t_result_free(&r);
    r = bk(&t, T20, "runs", "--json", NULL);
    expect_status(r, 0);
    assert_int_equal(count_of(r.out, "\"triggered_by\":\"settle\""), 1);
    bk_t_result_free(&r);

    /* the store holds the revised bars; nothing is provisional any more */
    chart_at(&t, T40, "2025-07-08T19:47:00Z", &n_prov, &close);
    assert_int_equal(n_prov, 0);
    assert_true(fabs(close - (100.0 + 0.7 + 0.25)) < 1e-9);
    int requests = fx_count(t.fm);
    r = bk(&t, T40, "tick", "--wait", NULL);
    expect_status(r, 0);
    assert_non_null(strstr(r.out, "enqueued 0 runs"));
    bk_t_result_free(&r);
    assert_int_equal(fx_count(t.fm), requests);
    r = bk(&t, T40, "runs", "--json", NULL);
    assert_int_equal(count_of(r.out, "\"triggered_by\":\"settle\""), 1);
    bk_t_result_free(&r);

    fx_stop(t.fm);
    bk_t_rmtree(t.dir);
    free(t.dir);
    free(t.db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_revised_bars_settle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
