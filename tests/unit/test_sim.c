/*
 * test_sim.c — the sim provider: determinism however a range is sliced or
 * paged, OHLC invariants, agreement between timeframes, the calendar, label
 * ranges and total_hint, page tokens, and deterministic fault injection.
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
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* New York local time as UTC. */
static int64_t ny(int y, int m, int d, int h, int min)
{
    return bk_cal_ny_to_utc(bk_days_from_civil(y, m, d), h, min);
}

static bk_prov *new_sim(const bk_sim_opts *o)
{
    bk_prov *p = NULL;
    bk_err err = {0};
    assert_int_equal(bk_sim_new(&p, o, &err), 0);
    return p;
}

typedef struct bars {
    bk_bar *v;
    size_t n, cap;
    int pages;
    int64_t hint;
} bars;

static void bars_fini(bars *b)
{
    free(b->v);
    memset(b, 0, sizeof *b);
}

/* Fetch every page of [from, to) into *acc (appending); returns the first error. */
static int fetch_all(bk_prov *p, const char *sym, bk_tf tf, int64_t from, int64_t to, bars *acc)
{
    bk_page pg;
    bk_err err = {0};
    char tok[BK_PAGE_TOKEN_MAX] = "";
    int rc = 0;
    bk_page_init(&pg);
    for (;;) {
        bk_fetch_req req = {sym, tf, from, to, tok, 1, 0};
        rc = bk_prov_fetch(p, &req, &pg, &err);
        if (rc)
            break;
        acc->pages++;
        acc->hint = pg.total_hint;
        bk_grow((void **)&acc->v, &acc->cap, acc->n + pg.n, sizeof *acc->v);
        if (pg.n)
            memcpy(acc->v + acc->n, pg.bars, pg.n * sizeof *acc->v);
        acc->n += pg.n;
        if (!pg.next_token[0])
            break;
        /* The token is the next page's first label. */
        bk_strlcpy(tok, pg.next_token, sizeof tok);
    }
    bk_page_fini(&pg);
    return rc;
}

static void assert_same_bars(const bars *a, const bars *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->v[i].ts_us, b->v[i].ts_us);
        assert_true(a->v[i].open == b->v[i].open && a->v[i].high == b->v[i].high);
        assert_true(a->v[i].low == b->v[i].low && a->v[i].close == b->v[i].close);
        assert_true(a->v[i].volume == b->v[i].volume);
    }
}

static bool whole_cents(double x)
{
    return fabs(x * 100.0 - round(x * 100.0)) < 1e-6;
}

static void assert_bar_ok(const bk_bar *b)
{
    assert_true(b->low > 0.0);
    assert_true(b->low <= fmin(b->open, b->close));
    assert_true(fmax(b->open, b->close) <= b->high);
    assert_true(b->volume >= 0.0 && b->volume == floor(b->volume));
    assert_true(whole_cents(b->open) && whole_cents(b->high));
    assert_true(whole_cents(b->low) && whole_cents(b->close));
}

static void test_defaults_and_identity(void **state)
{
    (void)state;
    bk_sim_opts o;
    bk_sim_opts_default(&o);
    assert_int_equal(o.latency_us, 0);
    assert_int_equal(o.page_size, 5000);
    assert_true(o.fault_rate == 0.0);
    assert_int_equal(o.fault_kinds, 0);
    assert_int_equal(o.timeout_us, 50 * BK_US_PER_MS);
    assert_int_equal(o.seed, 1);
    assert_int_equal(o.anchor, BK_ANCHOR_SESSION);
    bk_prov *p = new_sim(NULL);
    assert_string_equal(p->name, "sim");
    assert_string_equal(p->feed, "sim");
    assert_string_equal(p->adjustment, "split");
    assert_int_equal(p->delay_us, 0);
    bk_prov_free(p);
    bk_prov_free(NULL);

    bk_err err = {0};
    o.page_size = 0;
    assert_int_equal(bk_sim_new(&p, &o, &err), BK_EINVAL);
    bk_sim_opts_default(&o);
    o.fault_rate = 1.5;
    assert_int_equal(bk_sim_new(&p, &o, &err), BK_EINVAL);
    o.fault_rate = NAN;
    assert_int_equal(bk_sim_new(&p, &o, &err), BK_EINVAL);
}

/* A week of 15m bars in one request equals the same week cut into odd
 * slices and small pages, and equals bk_sim_bar bar by bar. */
static void test_slicing_and_paging(void **state)
{
    (void)state;
    int64_t from = ny(2024, 6, 3, 0, 0), to = ny(2024, 6, 10, 0, 0);
    bk_prov *whole = new_sim(NULL);
    bk_sim_opts o;
    bk_sim_opts_default(&o);
    o.page_size = 7;
    bk_prov *paged = new_sim(&o);

    bars a = {0}, b = {0};
    assert_int_equal(fetch_all(whole, "AAPL", BK_TF_15M, from, to, &a), 0);
    assert_int_equal(a.n, 5 * 26);
    assert_int_equal(a.pages, 1);
    uint64_t h = 7;
    for (int64_t cut = from; cut < to;) {
        h = bk_mix64(h);
        int64_t next = cut + 1 + (int64_t)(h % (uint64_t)(9 * BK_US_PER_HOUR));
        next = BK_MIN(next, to);
        assert_int_equal(fetch_all(paged, "AAPL", BK_TF_15M, cut, next, &b), 0);
        cut = next;
    }
    assert_true(b.pages > 20);
    assert_same_bars(&a, &b);
    for (size_t i = 0; i < a.n; i++) {
        bk_bar one;
        assert_true(bk_sim_bar("AAPL", BK_TF_15M, BK_ANCHOR_SESSION, a.v[i].ts_us, &one));
        assert_memory_equal(&one, &a.v[i], sizeof one);
    }
    bars_fini(&a);
    bars_fini(&b);
    bk_prov_free(whole);
    bk_prov_free(paged);
}

static void test_symbols_differ(void **state)
{
    (void)state;
    bk_bar x, y;
    int64_t t = ny(2024, 6, 3, 9, 30);
    assert_true(bk_sim_bar("AAPL", BK_TF_1M, BK_ANCHOR_SESSION, t, &x));
    assert_true(bk_sim_bar("MSFT", BK_TF_1M, BK_ANCHOR_SESSION, t, &y));
    assert_true(x.open != y.open);
    assert_false(bk_sim_bar("", BK_TF_1M, BK_ANCHOR_SESSION, t, &x));
    assert_false(bk_sim_bar(NULL, BK_TF_1M, BK_ANCHOR_SESSION, t, &x));
}

static void test_invariants_every_tf(void **state)
{
    (void)state;
    static const int64_t slow_days[BK_TF__N] = {10, 40, 60, 60, 120, 240, 800, 1500};
    static const int64_t fast_days[BK_TF__N] = {2, 5, 8, 8, 15, 30, 40, 120};
    const int64_t *days = bk_t_rounds(0, 1) ? slow_days : fast_days;
    const char *syms[] = {"AAPL", "X", "PENNY1", "BRK.A"};
    for (int a = 0; a < 2; a++) {
        bk_sim_opts o;
        bk_sim_opts_default(&o);
        o.anchor = (bk_anchor)a;
        bk_prov *p = new_sim(&o);
        for (int tf = 0; tf < BK_TF__N; tf++) {
            for (size_t s = 0; s < BK_ARRAY_LEN(syms); s++) {
                int64_t to = ny(2025, 3, 1, 0, 0), from = to - days[tf] * BK_US_PER_DAY;
                bars b = {0};
                assert_int_equal(fetch_all(p, syms[s], (bk_tf)tf, from, to, &b), 0);
                assert_true(b.n > 5);
                assert_int_equal(b.hint, (int64_t)b.n);
                for (size_t i = 0; i < b.n; i++) {
                    assert_bar_ok(&b.v[i]);
                    assert_true(bk_cal_bar_at((bk_tf)tf, (bk_anchor)a, b.v[i].ts_us, NULL));
                    assert_true(i == 0 || b.v[i].ts_us > b.v[i - 1].ts_us);
                }
                bars_fini(&b);
            }
        }
        bk_prov_free(p);
    }
}

/* Aggregate bars *b of [from, to) labels of tf. */
static void aggregate_of(const char *sym, bk_tf tf, bk_anchor anchor, int64_t from, int64_t to,
                         bk_bar *out)
{
    bk_sim_opts o;
    bk_sim_opts_default(&o);
    o.anchor = anchor;
    bk_prov *p = new_sim(&o);
    bars b = {0};
    assert_int_equal(fetch_all(p, sym, tf, from, to, &b), 0);
    assert_true(b.n > 0);
    *out = b.v[0];
    for (size_t i = 1; i < b.n; i++) {
        out->high = fmax(out->high, b.v[i].high);
        out->low = fmin(out->low, b.v[i].low);
        out->close = b.v[i].close;
        out->volume += b.v[i].volume;
    }
    bars_fini(&b);
    bk_prov_free(p);
}

static void assert_prices_equal(const bk_bar *a, const bk_bar *b)
{
    assert_true(a->open == b->open);
    assert_true(a->high == b->high);
    assert_true(a->low == b->low);
    assert_true(a->close == b->close);
    assert_true(a->volume == b->volume);
}

static void test_timeframes_agree(void **state)
{
    (void)state;
    bk_bar d1, agg;
    /* A full day and an early-close day: d1 = aggregate of its 1m bars. */
    int64_t days[2] = {ny(2024, 6, 4, 0, 0), ny(2024, 11, 29, 0, 0)};
    for (int i = 0; i < 2; i++) {
        assert_true(bk_sim_bar("MSFT", BK_TF_D1, BK_ANCHOR_SESSION, days[i], &d1));
        aggregate_of("MSFT", BK_TF_1M, BK_ANCHOR_SESSION, days[i], days[i] + BK_US_PER_DAY, &agg);
        assert_prices_equal(&d1, &agg);
        /* ... and of its 15m bars, and of its clock-anchored 1h bars. */
        aggregate_of("MSFT", BK_TF_15M, BK_ANCHOR_SESSION, days[i], days[i] + BK_US_PER_DAY, &agg);
        assert_prices_equal(&d1, &agg);
        aggregate_of("MSFT", BK_TF_1H, BK_ANCHOR_CLOCK, days[i], days[i] + BK_US_PER_DAY, &agg);
        assert_prices_equal(&d1, &agg);
    }
    /* The week of 2024-07-01 (a holiday and an early close): w1 = its d1 bars. */
    bk_bar w1;
    int64_t mon = ny(2024, 7, 1, 0, 0);
    assert_true(bk_sim_bar("MSFT", BK_TF_W1, BK_ANCHOR_SESSION, mon, &w1));
    aggregate_of("MSFT", BK_TF_D1, BK_ANCHOR_SESSION, mon, mon + 7 * BK_US_PER_DAY, &agg);
    assert_prices_equal(&w1, &agg);
    /* A 4h session-anchored bar = its 1m bars. */
    bk_bar h4;
    int64_t t = ny(2024, 6, 4, 9, 30);
    assert_true(bk_sim_bar("MSFT", BK_TF_4H, BK_ANCHOR_SESSION, t, &h4));
    aggregate_of("MSFT", BK_TF_1M, BK_ANCHOR_SESSION, t, t + 4 * BK_US_PER_HOUR, &agg);
    assert_prices_equal(&h4, &agg);
}

static void test_calendar(void **state)
{
    (void)state;
    bk_prov *p = new_sim(NULL);
    bk_bar b;
    /* A weekend and holidays have no bars. */
    int64_t closed[][2] = {{ny(2024, 6, 8, 0, 0), ny(2024, 6, 10, 0, 0)},
                           {ny(2024, 7, 4, 0, 0), ny(2024, 7, 5, 0, 0)},
                           {ny(2024, 12, 25, 0, 0), ny(2024, 12, 26, 0, 0)}};
    for (size_t i = 0; i < BK_ARRAY_LEN(closed); i++) {
        for (int tf = 0; tf <= BK_TF_D1; tf++) {
            bars r = {0};
            assert_int_equal(fetch_all(p, "AAPL", (bk_tf)tf, closed[i][0], closed[i][1], &r), 0);
            assert_int_equal(r.n, 0);
            assert_int_equal(r.hint, 0);
            bars_fini(&r);
        }
        assert_false(bk_sim_bar("AAPL", BK_TF_D1, BK_ANCHOR_SESSION, closed[i][0], &b));
    }
    assert_false(bk_sim_bar("AAPL", BK_TF_1M, BK_ANCHOR_SESSION, ny(2024, 6, 4, 8, 0), &b));
    assert_false(bk_sim_bar("AAPL", BK_TF_1M, BK_ANCHOR_SESSION, ny(2024, 6, 4, 16, 0), &b));
    assert_false(bk_sim_bar("AAPL", BK_TF_15M, BK_ANCHOR_SESSION, ny(2024, 6, 4, 9, 31), &b));

    /* Counts on a full day and on a 13:00 day. */
    static const struct {
        bk_tf tf;
        size_t full, early;
    } counts[] = {{BK_TF_1M, 390, 210}, {BK_TF_5M, 78, 42}, {BK_TF_15M, 26, 14}, {BK_TF_30M, 13, 7},
                  {BK_TF_1H, 7, 4},     {BK_TF_4H, 2, 1},   {BK_TF_D1, 1, 1}};
    for (size_t i = 0; i < BK_ARRAY_LEN(counts); i++) {
        bars r = {0}, e = {0};
        int64_t d = ny(2024, 6, 4, 0, 0), x = ny(2024, 11, 29, 0, 0);
        assert_int_equal(fetch_all(p, "AAPL", counts[i].tf, d, d + BK_US_PER_DAY, &r), 0);
        assert_int_equal(fetch_all(p, "AAPL", counts[i].tf, x, x + BK_US_PER_DAY, &e), 0);
        assert_int_equal(r.n, counts[i].full);
        assert_int_equal(e.n, counts[i].early);
        assert_int_equal(r.hint, (int64_t)r.n);
        bars_fini(&r);
        bars_fini(&e);
    }
    bk_prov_free(p);
}

/* Labels in [from, to): brute force over the calendar, for comparison. */
static int64_t brute_count(bk_tf tf, bk_anchor a, int64_t from, int64_t to)
{
    size_t cap = 200000;
    bk_calbar *cb = malloc(cap * sizeof *cb);
    size_t n = bk_cal_bars(tf, a, from - 8 * BK_US_PER_DAY, to + 8 * BK_US_PER_DAY, cb, cap);
    assert_true(n <= cap);
    int64_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += cb[i].ts_us >= from && cb[i].ts_us < to;
    free(cb);
    return k;
}

/* Requests select bars by label, also where label and span differ (d1, w1,
 * clock-anchored hours), and total_hint counts exactly those. */
static void test_label_ranges(void **state)
{
    (void)state;
    bk_sim_opts o;
    bk_sim_opts_default(&o);
    o.anchor = BK_ANCHOR_CLOCK;
    bk_prov *p = new_sim(&o);
    bars r = {0};
    /* d1: [00:00, 00:01) holds the day's bar; [03:00, next 00:00) does not. */
    assert_int_equal(fetch_all(p, "AAPL", BK_TF_D1, ny(2024, 6, 4, 0, 0), ny(2024, 6, 4, 0, 1), &r),
                     0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.hint, 1);
    bars_fini(&r);
    assert_int_equal(fetch_all(p, "AAPL", BK_TF_D1, ny(2024, 6, 4, 3, 0), ny(2024, 6, 5, 0, 0), &r),
                     0);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.hint, 0);
    bars_fini(&r);
    /* Clock 1h: [09:00, 09:15) holds the 09:00 bar whose span starts 09:30. */
    assert_int_equal(
        fetch_all(p, "AAPL", BK_TF_1H, ny(2024, 6, 4, 9, 0), ny(2024, 6, 4, 9, 15), &r), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.hint, 1);
    assert_int_equal(r.v[0].ts_us, ny(2024, 6, 4, 9, 0));
    bars_fini(&r);

    /* Random ranges of every timeframe and anchor: count = hint = brute force. */
    uint64_t h = 99;
    int rounds = bk_t_rounds(40, 300);
    for (int i = 0; i < rounds; i++) {
        bk_tf tf = (bk_tf)((h = bk_mix64(h)) % BK_TF__N);
        o.anchor = (bk_anchor)((h >> 8) & 1);
        o.page_size = 1 + (size_t)((h >> 16) % 40);
        bk_prov *q = new_sim(&o);
        int64_t span = tf == BK_TF_1M ? 3 * BK_US_PER_DAY : 40 * BK_US_PER_DAY;
        int64_t from =
            ny(2024, 1, 1, 0, 0) + (int64_t)((h = bk_mix64(h)) % (300 * 86400)) * BK_US_PER_S;
        int64_t to = from + (int64_t)((h = bk_mix64(h)) % (uint64_t)span);
        assert_int_equal(fetch_all(q, "ABC", tf, from, to, &r), 0);
        int64_t want = brute_count(tf, o.anchor, from, to);
        assert_int_equal((int64_t)r.n, want);
        if (r.pages)
            assert_int_equal(r.hint, want);
        for (size_t k = 0; k < r.n; k++)
            assert_true(r.v[k].ts_us >= from && r.v[k].ts_us < to);
        bars_fini(&r);
        bk_prov_free(q);
    }
    bk_prov_free(p);
}

static void test_page_tokens(void **state)
{
    (void)state;
    bk_sim_opts o;
    bk_sim_opts_default(&o);
    o.page_size = 100;
    bk_prov *p = new_sim(&o);
    int64_t from = ny(2024, 6, 3, 0, 0), to = ny(2024, 6, 8, 0, 0);
    bk_page pg;
    bk_page_init(&pg);
    bk_err err = {0};
    char tok[BK_PAGE_TOKEN_MAX] = "";
    int pages = 0;
    size_t total = 0;
    int64_t last = INT64_MIN;
    for (;;) {
        bk_fetch_req req = {"AAPL", BK_TF_1M, from, to, tok, 1, 0};
        assert_int_equal(bk_prov_fetch(p, &req, &pg, &err), 0);
        assert_int_equal(pg.total_hint, 1950);
        pages++;
        total += pg.n;
        assert_true(pg.n > 0 && pg.bars[0].ts_us > last);
        if (tok[0])
            assert_int_equal(pg.bars[0].ts_us, strtoll(tok, NULL, 10));
        last = pg.bars[pg.n - 1].ts_us;
        if (!pg.next_token[0])
            break;
        assert_int_equal(pg.n, 100);
        bk_strlcpy(tok, pg.next_token, sizeof tok);
    }
    assert_int_equal(pages, 20);
    assert_int_equal(total, 1950);
    assert_int_equal(last, ny(2024, 6, 7, 15, 59));

    /* Exactly one full page: no token. */
    bk_fetch_req one = {"AAPL", BK_TF_15M, from, from + BK_US_PER_DAY, NULL, 1, 0};
    o.page_size = 26;
    bk_prov *q = new_sim(&o);
    assert_int_equal(bk_prov_fetch(q, &one, &pg, &err), 0);
    assert_int_equal(pg.n, 26);
    assert_string_equal(pg.next_token, "");

    /* Tokens that do not belong to the request are refused. */
    const char *bad[] = {"x", "12abc", "-5", "99999999999999999999"};
    for (size_t i = 0; i < BK_ARRAY_LEN(bad); i++) {
        bk_fetch_req req = {"AAPL", BK_TF_1M, from, to, bad[i], 1, 0};
        assert_int_equal(bk_prov_fetch(p, &req, &pg, &err), BK_EINVAL);
    }
    bk_page_fini(&pg);
    bk_prov_free(p);
    bk_prov_free(q);
}

/* Outcome of one fetch as a small code: 0 ok, else the error. */
static int outcome(bk_prov *p, const char *sym, int64_t from, int attempt, bk_page *pg)
{
    bk_err err = {0};
    bk_fetch_req req = {sym, BK_TF_15M, from, from + BK_US_PER_DAY, NULL, attempt, 0};
    return bk_prov_fetch(p, &req, pg, &err);
}

static void test_fault_draws_deterministic(void **state)
{
    (void)state;
    bk_sim_opts o;
    bk_sim_opts_default(&o);
    o.fault_rate = 0.5;
    o.fault_kinds = BK_SIM_FAULT_5XX;
    bk_prov *p = new_sim(&o), *p2 = new_sim(&o);
    o.seed = 2;
    bk_prov *other = new_sim(&o);
    bk_page pg;
    bk_page_init(&pg);
    int64_t from = ny(2024, 6, 4, 0, 0);
    int changed_attempt = 0, changed_seed = 0;
    for (int a = 1; a <= 40; a++) {
        int rc = outcome(p, "AAPL", from, a, &pg);
        assert_int_equal(rc, outcome(p, "AAPL", from, a, &pg));
        assert_int_equal(rc, outcome(p2, "AAPL", from, a, &pg));
        changed_attempt += rc != outcome(p, "AAPL", from, a + 1, &pg);
        changed_seed += rc != outcome(other, "AAPL", from, a, &pg);
    }
    assert_true(changed_attempt > 5);
    assert_true(changed_seed > 5);
    bk_page_fini(&pg);
    bk_prov_free(p);
    bk_prov_free(p2);
    bk_prov_free(other);
}

/* True if b is a bar the sim could never produce honestly. */
static bool impossible(const bk_bar *b, bk_tf tf, bk_anchor a)
{
    bool num = isfinite(b->open) && isfinite(b->high) && isfinite(b->low) && isfinite(b->close);
    if (!num || b->low <= 0 || b->open <= 0 || b->close <= 0 || b->high < b->low)
        return true;
    if (b->high < fmax(b->open, b->close) || b->low > fmin(b->open, b->close))
        return true;
    return !bk_cal_bar_at(tf, a, b->ts_us, NULL);
}

static void test_fault_kinds(void **state)
{
    (void)state;
    bk_sim_opts o;
    bk_sim_opts_default(&o);
    o.fault_rate = 1.0;
    o.timeout_us = 2 * BK_US_PER_MS;
    bk_page pg;
    bk_page_init(&pg);
    bk_err err = {0};
    bk_fetch_req req = {"AAPL", BK_TF_15M, ny(2024, 6, 4, 0, 0), ny(2024, 6, 5, 0, 0), NULL, 1, 0};

    static const struct {
        unsigned kind;
        int code;
        const char *words;
    } k[] = {{BK_SIM_FAULT_TIMEOUT, BK_ETIMEDOUT, ""},
             {BK_SIM_FAULT_5XX, BK_EPROV_5XX, "503"},
             {BK_SIM_FAULT_429, BK_EPROV_RATE, "429"},
             {BK_SIM_FAULT_MALFORMED, BK_EPROV_MALFORMED, "unexpected end of JSON"}};
    for (size_t i = 0; i < BK_ARRAY_LEN(k); i++) {
        o.fault_kinds = k[i].kind;
        bk_prov *p = new_sim(&o);
        int64_t t0 = bk_clock_mono_us();
        assert_int_equal(bk_prov_fetch(p, &req, &pg, &err), k[i].code);
        assert_int_equal(err.code, k[i].code);
        assert_non_null(strstr(err.msg, k[i].words));
        if (k[i].kind == BK_SIM_FAULT_TIMEOUT)
            assert_true(bk_clock_mono_us() - t0 >= o.timeout_us);
        if (k[i].kind == BK_SIM_FAULT_429)
            assert_true(err.retry_after_ms >= 1 && err.retry_after_ms <= 50);
        else
            assert_int_equal(err.retry_after_ms, 0);
        bk_prov_free(p);
    }

    /* INVALID: success, and exactly one impossible bar per page (also on an
     * otherwise empty page). */
    o.fault_kinds = BK_SIM_FAULT_INVALID;
    bk_prov *p = new_sim(&o);
    for (int a = 1; a <= 60; a++) {
        req.attempt = a;
        req.from_us = ny(2024, 6, 4 + a % 5, 0, 0); /* some of them on a weekend */
        req.to_us = req.from_us + BK_US_PER_DAY;
        assert_int_equal(bk_prov_fetch(p, &req, &pg, &err), 0);
        int nbad = 0;
        for (size_t i = 0; i < pg.n; i++)
            nbad += impossible(&pg.bars[i], req.tf, o.anchor);
        assert_int_equal(nbad, 1);
    }
    bk_prov_free(p);
    bk_page_fini(&pg);
}

static void test_symbol_errors(void **state)
{
    (void)state;
    bk_prov *p = new_sim(NULL);
    bk_page pg;
    bk_page_init(&pg);
    bk_err err = {0};
    bk_fetch_req req = {"ZZZNOPE", BK_TF_1H, ny(2024, 6, 4, 0, 0), ny(2024, 6, 5, 0, 0), NULL,
                        1,         0};
    assert_int_equal(bk_prov_fetch(p, &req, &pg, &err), BK_EPROV_SYMBOL);
    assert_false(bk_err_retryable(err.code));
    req.symbol = "ZZZ";
    assert_int_equal(bk_prov_fetch(p, &req, &pg, &err), BK_EPROV_SYMBOL);
    req.symbol = "AUTHFAIL";
    assert_int_equal(bk_prov_fetch(p, &req, &pg, &err), BK_EPROV_AUTH);
    req.symbol = "ZZ";
    assert_int_equal(bk_prov_fetch(p, &req, &pg, &err), 0);
    assert_int_equal(pg.n, 7);
    req.symbol = "";
    assert_int_equal(bk_prov_fetch(p, &req, &pg, &err), BK_EINVAL);
    req.symbol = "AAPL";
    req.tf = BK_TF__N;
    assert_int_equal(bk_prov_fetch(p, &req, &pg, &err), BK_EINVAL);
    /* an empty range too, refused before any provider: not counted */
    req.tf = BK_TF_1H;
    req.to_us = req.from_us;
    long long asked = atomic_load(&p->stats.requests);
    assert_int_equal(bk_prov_fetch(p, &req, &pg, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "sim: invalid request"));
    assert_int_equal(atomic_load(&p->stats.requests), asked);
    bk_page_fini(&pg);
    bk_prov_free(p);
}

/* Over 2000 pages the observed fault rate is within 4 sigma of the setting,
 * and every kind is drawn about equally often. */
static void test_fault_rate(void **state)
{
    (void)state;
    bk_sim_opts o;
    bk_sim_opts_default(&o);
    o.fault_rate = 0.2;
    o.timeout_us = 0;
    o.page_size = 2;
    bk_prov *p = new_sim(&o);
    bk_page pg;
    bk_page_init(&pg);
    bk_err err = {0};
    int faults = 0, by_code[5] = {0}, n = 2000;
    const int codes[4] = {BK_ETIMEDOUT, BK_EPROV_5XX, BK_EPROV_RATE, BK_EPROV_MALFORMED};
    int64_t from = ny(2024, 6, 3, 9, 30);
    for (int i = 0; i < n; i++) {
        char tok[32];
        snprintf(tok, sizeof tok, "%lld", (long long)(from + (i % 50) * 15 * BK_US_PER_MIN));
        bk_fetch_req req = {"SPY", BK_TF_15M, from, from + 5 * BK_US_PER_DAY, tok, 1 + i / 50, 0};
        int rc = bk_prov_fetch(p, &req, &pg, &err);
        bool bad_bar = false;
        for (size_t k = 0; k < pg.n && rc == 0; k++)
            bad_bar |= impossible(&pg.bars[k], req.tf, o.anchor);
        if (rc == 0 && !bad_bar)
            continue;
        faults++;
        for (int c = 0; c < 4; c++)
            by_code[c] += rc == codes[c];
        by_code[4] += bad_bar;
    }
    double sigma = sqrt(n * 0.2 * 0.8);
    assert_true(fabs(faults - n * 0.2) < 4 * sigma);
    for (int c = 0; c < 5; c++)
        assert_true(by_code[c] > faults / 5 - 40 && by_code[c] < faults / 5 + 40);
    bk_page_fini(&pg);
    bk_prov_free(p);
}

static void test_latency(void **state)
{
    (void)state;
    bk_sim_opts o;
    bk_sim_opts_default(&o);
    o.latency_us = 3 * BK_US_PER_MS;
    o.page_size = 10;
    bk_prov *p = new_sim(&o);
    bars r = {0};
    int64_t t0 = bk_clock_mono_us();
    assert_int_equal(fetch_all(p, "AAPL", BK_TF_1H, ny(2024, 6, 3, 0, 0), ny(2024, 6, 8, 0, 0), &r),
                     0);
    assert_int_equal(r.pages, 4);
    assert_true(bk_clock_mono_us() - t0 >= 4 * o.latency_us);
    bars_fini(&r);
    bk_prov_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_identity),
        cmocka_unit_test(test_slicing_and_paging),
        cmocka_unit_test(test_symbols_differ),
        cmocka_unit_test(test_invariants_every_tf),
        cmocka_unit_test(test_timeframes_agree),
        cmocka_unit_test(test_calendar),
        cmocka_unit_test(test_label_ranges),
        cmocka_unit_test(test_page_tokens),
        cmocka_unit_test(test_fault_draws_deterministic),
        cmocka_unit_test(test_fault_kinds),
        cmocka_unit_test(test_symbol_errors),
        cmocka_unit_test(test_fault_rate),
        cmocka_unit_test(test_latency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
