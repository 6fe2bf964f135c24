/*
 * test_validate.c — the worker's bar checks: each rule accepted and
 * rejected, extended-hours tolerance and removal, ordering, the edges of the
 * slice overlap, and two properties against the sim provider: every honest
 * sim bar validates, every page spoiled by the INVALID fault is rejected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cal/cal.h"
#include "core/clock.h"
#include "core/util.h"
#include "model/time.h"
#include "prov/prov.h"
#include "work/validate.h"
#include "testutil.h"

#include <math.h>
#include <string.h>

static int64_t ny(int y, int m, int d, int h, int min)
{
    return bk_cal_ny_to_utc(bk_days_from_civil(y, m, d), h, min);
}

/* A plausible bar at ts. */
static bk_bar bar_at(int64_t ts)
{
    return (bk_bar){
        .ts_us = ts, .open = 100, .high = 101, .low = 99, .close = 100.5, .volume = 1000};
}

/* Validate one bar of tf (session anchor) against a wide slice around it. */
static int check1(const bk_bar *b, bk_tf tf, bk_err *err)
{
    return bk_validate_bars(b, 1, tf, BK_ANCHOR_SESSION, b->ts_us - 30 * BK_US_PER_DAY,
                            b->ts_us + 30 * BK_US_PER_DAY, err);
}

static void test_values(void **state)
{
    (void)state;
    bk_err err = {0};
    bk_bar ok = bar_at(ny(2024, 6, 4, 10, 0)), b;
    assert_int_equal(check1(&ok, BK_TF_1M, &err), 0);
    assert_int_equal(bk_validate_bars(NULL, 0, BK_TF_1M, BK_ANCHOR_SESSION, 0, 1, &err), 0);

    /* Every price: NaN, infinities, zero and negative are refused. */
    const double badpx[] = {NAN, INFINITY, -INFINITY, 0.0, -1.0};
    for (int field = 0; field < 4; field++) {
        for (size_t k = 0; k < BK_ARRAY_LEN(badpx); k++) {
            b = ok;
            double *px[] = {&b.open, &b.high, &b.low, &b.close};
            *px[field] = badpx[k];
            assert_int_equal(check1(&b, BK_TF_1M, &err), BK_EBADBAR);
            assert_int_equal(err.code, BK_EBADBAR);
            assert_non_null(strstr(err.msg, "bar 0 (2024-06-04T14:00:00Z)"));
        }
    }
    /* Volume: finite and >= 0; zero and fractions are fine. */
    b = ok;
    b.volume = 0;
    assert_int_equal(check1(&b, BK_TF_1M, &err), 0);
    b.volume = 0.5;
    assert_int_equal(check1(&b, BK_TF_1M, &err), 0);
    b.volume = -1;
    assert_int_equal(check1(&b, BK_TF_1M, &err), BK_EBADBAR);
    assert_non_null(strstr(err.msg, "volume"));
    b.volume = NAN;
    assert_int_equal(check1(&b, BK_TF_1M, &err), BK_EBADBAR);

    /* OHLC order. */
    b = ok;
    b.high = 100.2; /* below close 100.5 */
    assert_int_equal(check1(&b, BK_TF_1M, &err), BK_EBADBAR);
    assert_non_null(strstr(err.msg, "high below max(open, close)"));
    b = ok;
    b.low = 100.2; /* above open 100 */
    assert_int_equal(check1(&b, BK_TF_1M, &err), BK_EBADBAR);
    assert_non_null(strstr(err.msg, "low above min(open, close)"));
    b = ok;
    b.high = 98;
    b.low = 99;
    assert_int_equal(check1(&b, BK_TF_1M, &err), BK_EBADBAR);
    assert_non_null(strstr(err.msg, "high below low"));
    /* A flat bar is fine. */
    b = (bk_bar){ok.ts_us, 5, 5, 5, 5, 0};
    assert_int_equal(check1(&b, BK_TF_1M, &err), 0);
}

static void test_labels(void **state)
{
    (void)state;
    bk_err err = {0};
    static const struct {
        bk_tf tf;
        int y, m, d, h, min;
        bool ok;
    } cases[] = {
        {BK_TF_1M, 2024, 6, 4, 9, 30, true},    {BK_TF_1M, 2024, 6, 4, 15, 59, true},
        {BK_TF_15M, 2024, 6, 4, 9, 45, true},   {BK_TF_15M, 2024, 6, 4, 9, 50, false},
        {BK_TF_1H, 2024, 6, 4, 10, 30, true},   {BK_TF_1H, 2024, 6, 4, 10, 0, false},
        {BK_TF_4H, 2024, 6, 4, 13, 30, true},   {BK_TF_D1, 2024, 6, 4, 0, 0, true},
        {BK_TF_D1, 2024, 6, 4, 9, 30, false},   {BK_TF_D1, 2024, 6, 8, 0, 0, false},
        {BK_TF_W1, 2024, 6, 3, 0, 0, true},     {BK_TF_W1, 2024, 6, 4, 0, 0, false},
        {BK_TF_1M, 2024, 6, 8, 10, 0, false},   /* Saturday */
        {BK_TF_1M, 2024, 7, 4, 10, 0, false},   /* Independence Day */
        {BK_TF_D1, 2024, 12, 25, 0, 0, false},  /* Christmas */
        {BK_TF_1M, 2024, 11, 29, 12, 59, true}, /* early close: last bar */
    };
    for (size_t i = 0; i < BK_ARRAY_LEN(cases); i++) {
        bk_bar b = bar_at(ny(cases[i].y, cases[i].m, cases[i].d, cases[i].h, cases[i].min));
        int rc = check1(&b, cases[i].tf, &err);
        assert_int_equal(rc, cases[i].ok ? 0 : BK_EBADBAR);
        if (!cases[i].ok)
            assert_non_null(strstr(err.msg, "not a"));
    }
    /* Off the grid by one second. */
    bk_bar b = bar_at(ny(2024, 6, 4, 10, 0) + BK_US_PER_S);
    assert_int_equal(check1(&b, BK_TF_1M, &err), BK_EBADBAR);
    assert_int_equal(bk_validate_bars(&b, 1, BK_TF__N, BK_ANCHOR_SESSION, 0, INT64_MAX, &err),
                     BK_EINVAL);
}

/* Extended-hours intraday labels on the grid inside [pre, post) pass the
 * check and are then dropped by keep_regular. */
static void test_extended_hours(void **state)
{
    (void)state;
    bk_err err = {0};
    static const struct {
        bk_tf tf;
        bk_anchor a;
        int d, h, min; /* June 2024 (4th: full day), November 2024 (29th: 13:00 close) */
        bool nov, ok;
    } cases[] = {
        {BK_TF_1M, BK_ANCHOR_SESSION, 4, 4, 0, false, true},
        {BK_TF_1M, BK_ANCHOR_SESSION, 4, 3, 59, false, false},
        {BK_TF_1M, BK_ANCHOR_SESSION, 4, 9, 29, false, true},
        {BK_TF_1M, BK_ANCHOR_SESSION, 4, 16, 0, false, true}, /* closing auction */
        {BK_TF_1M, BK_ANCHOR_SESSION, 4, 19, 59, false, true},
        {BK_TF_1M, BK_ANCHOR_SESSION, 4, 20, 0, false, false},
        {BK_TF_1M, BK_ANCHOR_SESSION, 8, 10, 0, false, false}, /* Saturday */
        {BK_TF_15M, BK_ANCHOR_SESSION, 4, 8, 15, false, true},
        {BK_TF_15M, BK_ANCHOR_SESSION, 4, 8, 10, false, false},
        {BK_TF_1H, BK_ANCHOR_SESSION, 4, 8, 30, false, true},
        {BK_TF_1H, BK_ANCHOR_SESSION, 4, 8, 0, false, false},
        {BK_TF_1H, BK_ANCHOR_SESSION, 4, 16, 30, false, true},
        {BK_TF_1H, BK_ANCHOR_CLOCK, 4, 8, 0, false, true},
        {BK_TF_1H, BK_ANCHOR_CLOCK, 4, 8, 30, false, false},
        {BK_TF_1H, BK_ANCHOR_CLOCK, 4, 19, 0, false, true},
        {BK_TF_4H, BK_ANCHOR_CLOCK, 4, 4, 0, false, true},
        {BK_TF_4H, BK_ANCHOR_CLOCK, 4, 16, 0, false, true},
        {BK_TF_4H, BK_ANCHOR_SESSION, 4, 5, 30, false, true},
        {BK_TF_4H, BK_ANCHOR_SESSION, 4, 1, 30, false, false},
        {BK_TF_1M, BK_ANCHOR_SESSION, 29, 13, 0, true, true}, /* after an early close */
        {BK_TF_1M, BK_ANCHOR_SESSION, 29, 17, 30, true, true},
    };
    for (size_t i = 0; i < BK_ARRAY_LEN(cases); i++) {
        int64_t t = ny(2024, cases[i].nov ? 11 : 6, cases[i].d, cases[i].h, cases[i].min);
        bk_bar b = bar_at(t);
        int rc = bk_validate_bars(&b, 1, cases[i].tf, cases[i].a, t, t + 1, &err);
        assert_int_equal(rc, cases[i].ok ? 0 : BK_EBADBAR);
        assert_int_equal(bk_validate_keep_regular(&b, 1, cases[i].tf, cases[i].a), 0);
    }
    /* d1 and w1 have no extended hours. */
    bk_bar d = bar_at(ny(2024, 6, 4, 4, 0));
    assert_int_equal(check1(&d, BK_TF_D1, &err), BK_EBADBAR);

    /* keep_regular compacts in order. */
    int64_t day = ny(2024, 6, 4, 0, 0);
    int mins[] = {8 * 60, 9 * 60 + 30, 12 * 60, 16 * 60, 16 * 60 + 1, 15 * 60 + 59};
    bk_bar v[6];
    for (int i = 0; i < 6; i++)
        v[i] = bar_at(day + mins[i] * BK_US_PER_MIN);
    assert_int_equal(bk_validate_keep_regular(v, 6, BK_TF_1M, BK_ANCHOR_SESSION), 3);
    assert_int_equal(v[0].ts_us, ny(2024, 6, 4, 9, 30));
    assert_int_equal(v[1].ts_us, ny(2024, 6, 4, 12, 0));
    assert_int_equal(v[2].ts_us, ny(2024, 6, 4, 15, 59));
    assert_int_equal(bk_validate_keep_regular(NULL, 0, BK_TF_1M, BK_ANCHOR_SESSION), 0);
}

static void test_ordering(void **state)
{
    (void)state;
    bk_err err = {0};
    int64_t t = ny(2024, 6, 4, 10, 0);
    bk_bar v[3] = {bar_at(t), bar_at(t + BK_US_PER_MIN), bar_at(t + 2 * BK_US_PER_MIN)};
    assert_int_equal(check1(v, BK_TF_1M, &err), 0);
    assert_int_equal(
        bk_validate_bars(v, 3, BK_TF_1M, BK_ANCHOR_SESSION, t, t + BK_US_PER_HOUR, &err), 0);
    v[2].ts_us = v[1].ts_us; /* duplicate */
    assert_int_equal(
        bk_validate_bars(v, 3, BK_TF_1M, BK_ANCHOR_SESSION, t, t + BK_US_PER_HOUR, &err),
        BK_EBADBAR);
    assert_non_null(strstr(err.msg, "bar 2 (2024-06-04T14:01:00Z)"));
    assert_non_null(strstr(err.msg, "bar 1"));
    v[2].ts_us = t; /* backwards */
    assert_int_equal(
        bk_validate_bars(v, 3, BK_TF_1M, BK_ANCHOR_SESSION, t, t + BK_US_PER_HOUR, &err),
        BK_EBADBAR);
    assert_non_null(strstr(err.msg, "bar 2"));
    /* The first bad bar is the one reported. */
    v[2].ts_us = t + 2 * BK_US_PER_MIN;
    v[1].open = NAN;
    v[2].low = -1;
    assert_int_equal(
        bk_validate_bars(v, 3, BK_TF_1M, BK_ANCHOR_SESSION, t, t + BK_US_PER_HOUR, &err),
        BK_EBADBAR);
    assert_non_null(strstr(err.msg, "bar 1 "));
    assert_non_null(strstr(err.msg, "open"));
}

static int slice1(bk_tf tf, bk_anchor a, int64_t ts, int64_t from, int64_t to)
{
    bk_bar b = bar_at(ts);
    return bk_validate_bars(&b, 1, tf, a, from, to, NULL);
}

static void test_slice_overlap(void **state)
{
    (void)state;
    const bk_anchor S = BK_ANCHOR_SESSION, C = BK_ANCHOR_CLOCK;
    int64_t open = ny(2024, 6, 4, 9, 30), q = 15 * BK_US_PER_MIN;
    /* 15m bars against the slice [open+15m, open+30m). */
    assert_int_equal(slice1(BK_TF_15M, S, open, open + q, open + 2 * q), BK_EBADBAR);
    assert_int_equal(slice1(BK_TF_15M, S, open + q, open + q, open + 2 * q), 0);
    assert_int_equal(slice1(BK_TF_15M, S, open + 2 * q, open + q, open + 2 * q), BK_EBADBAR);
    /* One microsecond of overlap is enough. */
    assert_int_equal(slice1(BK_TF_15M, S, open, open + q - 1, open + 2 * q), 0);
    assert_int_equal(slice1(BK_TF_15M, S, open + 2 * q, open, open + 2 * q + 1), 0);
    /* Clock 1h 09:00 spans [09:30, 10:00): the calendar span decides. */
    int64_t nine = ny(2024, 6, 4, 9, 0);
    assert_int_equal(slice1(BK_TF_1H, C, nine, nine, open), BK_EBADBAR);
    assert_int_equal(slice1(BK_TF_1H, C, nine, open, open + 1), 0);
    /* Session 1h 15:30 spans only [15:30, 16:00). */
    int64_t last = ny(2024, 6, 4, 15, 30), close = ny(2024, 6, 4, 16, 0);
    assert_int_equal(slice1(BK_TF_1H, S, last, close, close + BK_US_PER_HOUR), BK_EBADBAR);
    assert_int_equal(slice1(BK_TF_1H, S, last, close - 1, close + BK_US_PER_HOUR), 0);
    /* d1 spans the session, not the label's midnight. */
    int64_t mid = ny(2024, 6, 4, 0, 0);
    assert_int_equal(slice1(BK_TF_D1, S, mid, mid, open), BK_EBADBAR);
    assert_int_equal(slice1(BK_TF_D1, S, mid, ny(2024, 6, 4, 12, 0), ny(2024, 6, 4, 13, 0)), 0);
    assert_int_equal(slice1(BK_TF_D1, S, mid, close, close + BK_US_PER_DAY), BK_EBADBAR);
    /* An extended-hours bar spans [label, label+step). */
    int64_t pre = ny(2024, 6, 4, 8, 0);
    assert_int_equal(slice1(BK_TF_1M, S, pre, pre, pre + 1), 0);
    assert_int_equal(slice1(BK_TF_1M, S, pre, pre + BK_US_PER_MIN - 1, open), 0);
    assert_int_equal(slice1(BK_TF_1M, S, pre, pre + BK_US_PER_MIN, open), BK_EBADBAR);
    assert_int_equal(slice1(BK_TF_1M, S, pre, open - 2 * BK_US_PER_HOUR, pre), BK_EBADBAR);
    /* The message says where the slice was. */
    bk_err err = {0};
    bk_bar b = bar_at(open);
    assert_int_equal(bk_validate_bars(&b, 1, BK_TF_1M, S, close, close + 1, &err), BK_EBADBAR);
    assert_non_null(strstr(err.msg, "outside the slice [2024-06-04T20:00:00Z"));
}

/* Every honest sim bar of a month validates for every timeframe and anchor,
 * page by page; every page spoiled by the INVALID fault is rejected. */
static void test_sim_property(void **state)
{
    (void)state;
    bk_page pg;
    bk_page_init(&pg);
    bk_err err = {0};
    for (int a = 0; a < 2; a++) {
        bk_sim_opts o;
        bk_sim_opts_default(&o);
        o.anchor = (bk_anchor)a;
        o.page_size = 997;
        bk_prov *p = NULL;
        assert_int_equal(bk_sim_new(&p, &o, &err), 0);
        for (int tf = 0; tf < BK_TF__N; tf++) {
            /* w1 over a month has few bars: take a year. */
            int64_t from = ny(2024, 11, 1, 0, 0);
            int64_t to = tf == BK_TF_W1                       ? ny(2025, 11, 1, 0, 0)
                         : bk_t_rounds(0, 1) || tf > BK_TF_5M ? ny(2024, 12, 1, 0, 0)
                                                              : ny(2024, 11, 8, 0, 0);
            char tok[BK_PAGE_TOKEN_MAX] = "";
            size_t total = 0;
            do {
                bk_fetch_req req = {"QQQ", (bk_tf)tf, from, to, tok, 1, 0};
                assert_int_equal(bk_prov_fetch(p, &req, &pg, &err), 0);
                assert_int_equal(
                    bk_validate_bars(pg.bars, pg.n, (bk_tf)tf, (bk_anchor)a, from, to, &err), 0);
                assert_int_equal(bk_validate_keep_regular(pg.bars, pg.n, (bk_tf)tf, (bk_anchor)a),
                                 pg.n);
                total += pg.n;
                bk_strlcpy(tok, pg.next_token, sizeof tok);
            } while (tok[0]);
            assert_int_equal((int64_t)total, pg.total_hint);
            assert_true(total > 3);
        }
        bk_prov_free(p);

        o.fault_rate = 1.0;
        o.fault_kinds = BK_SIM_FAULT_INVALID;
        assert_int_equal(bk_sim_new(&p, &o, &err), 0);
        int rounds = bk_t_rounds(40, 200);
        for (int i = 0; i < rounds; i++) {
            bk_tf tf = (bk_tf)(i % BK_TF__N);
            int64_t from = ny(2024, 3, 1, 0, 0) + (i / BK_TF__N) * BK_US_PER_DAY;
            int64_t to = from + (tf == BK_TF_W1 ? 30 : 3) * BK_US_PER_DAY;
            bk_fetch_req req = {"QQQ", tf, from, to, NULL, i, 0};
            assert_int_equal(bk_prov_fetch(p, &req, &pg, &err), 0);
            assert_int_equal(bk_validate_bars(pg.bars, pg.n, tf, (bk_anchor)a, from, to, &err),
                             BK_EBADBAR);
        }
        bk_prov_free(p);
    }
    bk_page_fini(&pg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),         cmocka_unit_test(test_labels),
        cmocka_unit_test(test_extended_hours), cmocka_unit_test(test_ordering),
        cmocka_unit_test(test_slice_overlap),  cmocka_unit_test(test_sim_property),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
