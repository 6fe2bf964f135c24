/*
 * test_verify.c — `barkeep verify` end to end: the real binary hydrates a
 * daily series from a fixture server speaking Massive's aggregates format,
 * then the provider's answers change (it now serves a bar it had left out,
 * revised one close, and dropped one bar), and verify must report exactly
 * one missing, one different and one extra bar without changing anything;
 * --repair queues the ranges that differ, a tick refetches them, and the
 * next verify finds only the extra bar (upserts do not delete).
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
#include "core/clock.h"
#include "core/util.h"
#include "fixture.h"
#include "model/time.h"
#include "prov/prov.h"
#include "testutil.h"

#define NOW "2025-07-01T12:00:00Z"

static atomic_int g_revised; /* 0: the first answers; 1: the provider's data changed */

static int64_t day_us(int y, int m, int d)
{
    return bk_prov_day_label(bk_days_from_civil(y, m, d));
}

/* Bars of the day labelled ts in the current state; false if not served. */
static bool served_bar(int64_t ts, double *close)
{
    bool revised = atomic_load(&g_revised);
    if (ts == day_us(2025, 6, 10) && !revised)
        return false; /* left out at first: missing later */
    if (ts == day_us(2025, 6, 17) && revised)
        return false; /* dropped later: extra */
    *close = 101.0 + (double)((ts / BK_US_PER_DAY) % 7);
    if (ts == day_us(2025, 6, 24) && revised)
        *close += 0.5; /* revised: different */
    return true;
}

/* Massive's daily aggregates of the current state */
static void massive_handler(void *ctx, const fx_req *req, fx_resp *r)
{
    (void)ctx;
    char sym[16];
    bool daily;
    int64_t from, to;
    if (!fx_massive_range(req, sym, sizeof sym, &daily, &from, &to) || !daily) {
        r->status = 400;
        return;
    }
    size_t n = bk_cal_bars(BK_TF_D1, BK_ANCHOR_SESSION, from, to, NULL, 0);
    bk_calbar *cb = calloc(n + 1, sizeof *cb);
    bk_bar *bars = calloc(n + 1, sizeof *bars);
    bk_cal_bars(BK_TF_D1, BK_ANCHOR_SESSION, from, to, cb, n);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        double c;
        if (cb[i].ts_us >= from && cb[i].ts_us < to && served_bar(cb[i].ts_us, &c))
            bars[k++] = (bk_bar){.ts_us = cb[i].ts_us,
                                 .open = c,
                                 .high = c + 1,
                                 .low = c - 1,
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

/* Run barkeep with the fixture configured; args NULL-terminated. */
static bk_t_result bk(const tfix *t, const char *first, ...)
{
    const char *argv[40] = {bk_t_bin(),
                            "--db",
                            t->db,
                            "--now",
                            NOW,
                            "--set",
                            "providers=massive",
                            "--set",
                            t->url_set,
                            "--set",
                            "provider_rates=massive=100",
                            "--log-level",
                            "error"};
    int n = 13;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && n < 39; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return bk_t_run(argv, g_env);
}

static long long json_int(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    if (!p)
        fail_msg("no %s in %s", key, json);
    return strtoll(p + strlen(pat), NULL, 10);
}

static void expect_status(bk_t_result r, int status)
{
    if (r.status != status)
        fail_msg("exit %d (want %d)\nstdout: %s\nstderr: %s", r.status, status, r.out, r.err);
}

static tfix *setup(void)
{
    tfix *t = calloc(1, sizeof *t);
    t->dir = bk_t_tmpdir("verify");
    t->db = bk_t_path(t->dir, "verify.db");
    t->fm = fx_start(massive_handler, NULL);
    snprintf(t->url_set, sizeof t->url_set, "massive_url=%s", fx_url(t->fm));
    atomic_store(&g_revised, 0);
    bk_t_result r = bk(t, "jobs", "add", "AAPL", "d1", "--window-days", "30", NULL);
    expect_status(r, 0);
    bk_t_result_free(&r);
    r = bk(t, "tick", "--wait", NULL);
    expect_status(r, 0);
    bk_t_result_free(&r);
    return t;
}

static void teardown(tfix *t)
{
    fx_stop(t->fm);
    bk_t_rmtree(t->dir);
    free(t->dir);
    free(t->db);
    free(t);
}

static void test_identical(void **state)
{
    (void)state;
    tfix *t = setup();
    bk_t_result r = bk(t, "verify", "AAPL", "d1", "--json", NULL);
    expect_status(r, 0);
    assert_true(json_int(r.out, "served") >= 19);
    assert_int_equal(json_int(r.out, "served"), json_int(r.out, "stored"));
    assert_int_equal(
        json_int(r.out, "missing") + json_int(r.out, "extra") + json_int(r.out, "different"), 0);
    bk_t_result_free(&r);
    teardown(t);
}

static void test_differences_and_repair(void **state)
{
    (void)state;
    tfix *t = setup();
    atomic_store(&g_revised, 1);
    int before = fx_count(t->fm);
    bk_t_result r = bk(t, "verify", "AAPL", "d1", "--json", NULL);
    expect_status(r, 1);
    assert_int_equal(json_int(r.out, "missing"), 1);
    assert_int_equal(json_int(r.out, "extra"), 1);
    assert_int_equal(json_int(r.out, "different"), 1);
    assert_int_equal(json_int(r.out, "requeued"), 0);
    assert_non_null(strstr(r.out, "{\"kind\":\"missing\",\"ts\":\"2025-06-10T04:00:00Z\""));
    assert_non_null(strstr(r.out, "{\"kind\":\"extra\",\"ts\":\"2025-06-17T04:00:00Z\""));
    assert_non_null(strstr(r.out, "{\"kind\":\"different\",\"ts\":\"2025-06-24T04:00:00Z\""));
    bk_t_result_free(&r);
    assert_true(fx_count(t->fm) > before);
    /* nothing changed: the text report says the same */
    r = bk(t, "verify", "AAPL", "d1", NULL);
    expect_status(r, 1);
    assert_non_null(strstr(r.out, "1 missing, 1 extra, 1 different\n"));
    bk_t_result_free(&r);
    r = bk(t, "runs", "--status", "queued", "--json", NULL);
    assert_string_equal(r.out, "[]\n");
    bk_t_result_free(&r);

    r = bk(t, "verify", "AAPL", "d1", "--repair", NULL);
    expect_status(r, 1);
    assert_non_null(strstr(r.out, "queued 1 runs"));
    bk_t_result_free(&r);
    r = bk(t, "tick", "--wait", NULL);
    expect_status(r, 0);
    bk_t_result_free(&r);
    r = bk(t, "verify", "AAPL", "d1", "--json", NULL);
    expect_status(r, 1);
    assert_int_equal(json_int(r.out, "missing"), 0);
    assert_int_equal(json_int(r.out, "different"), 0);
    assert_int_equal(json_int(r.out, "extra"), 1); /* the repair overwrites, never deletes */
    bk_t_result_free(&r);
    teardown(t);
}

static void test_usage_and_nothing(void **state)
{
    (void)state;
    tfix *t = setup();
    int before = fx_count(t->fm);
    const char *bad[][4] = {{"AAPL", NULL},
                            {"AAPL", "7m", NULL},
                            {"AAPL", "d1", "--sample", "0"},
                            {"AAPL", "d1", "--provider", "nope"}};
    for (size_t i = 0; i < BK_ARRAY_LEN(bad); i++) {
        bk_t_result r = bk(t, "verify", bad[i][0], bad[i][1], bad[i][2], bad[i][3], NULL);
        expect_status(r, 2);
        assert_non_null(strstr(r.err, "barkeep: "));
        bk_t_result_free(&r);
    }
    bk_t_result r = bk(t, "verify", "MSFT", "d1", NULL);
    expect_status(r, 0);
    assert_non_null(strstr(r.out, "nothing covered to verify"));
    bk_t_result_free(&r);
    assert_int_equal(fx_count(t->fm), before); /* not one request */
    r = bk(t, "verify", "AAPL", "d1", "--sample", "1", "--json", NULL);
    expect_status(r, 0);
    assert_int_equal(json_int(r.out, "ranges_checked"), 1);
    bk_t_result_free(&r);
    teardown(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identical),
        cmocka_unit_test(test_differences_and_repair),
        cmocka_unit_test(test_usage_and_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
