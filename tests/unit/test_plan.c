/*
 * test_plan.c — the planner on a fixed clock: idempotent planning, slices
 * on the fixed grid and only over trading time, waves that never overlap and
 * end in complete coverage, tail runs when a bar closes, dead slices left
 * alone, nothing planned older than the provider chain's history.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "model/time.h"
#include "plan/plan.h"

static int64_t T(const char *s)
{
    int64_t us = 0;
    assert_int_equal(bk_time_parse(s, &us), 0);
    return us;
}

static bk_plan_cfg cfg_default(void)
{
    bk_conf c;
    bk_conf_defaults(&c);
    bk_plan_cfg cfg;
    bk_plan_cfg_from_conf(&cfg, &c, 0);
    return cfg;
}

static bk_def def_of(const char *sym, bk_tf tf, int window_days)
{
    bk_def d;
    memset(&d, 0, sizeof d);
    strcpy(d.id, "00000000-0000-4000-8000-000000000000");
    strcpy(d.symbol, sym);
    d.tf = tf;
    d.type = bk_job_for_tf(tf);
    d.window_days = window_days;
    d.priority = 100;
    d.enabled = true;
    return d;
}

typedef struct series_fix {
    bk_series st;
} series_fix;

static void series_init(bk_series *st, const char *sym, bk_tf tf)
{
    memset(st, 0, sizeof *st);
    strcpy(st->symbol, sym);
    st->tf = tf;
    bk_ivset_init(&st->covered);
    bk_ivset_init(&st->active);
    bk_ivset_init(&st->dead);
}

static void series_fini(bk_series *st)
{
    bk_ivset_fini(&st->covered);
    bk_ivset_fini(&st->active);
    bk_ivset_fini(&st->dead);
}

static size_t plan(const bk_plan_cfg *cfg, const bk_def *d, const bk_series *st, int64_t now,
                   bk_run *out, size_t cap, bool *more)
{
    bk_ivset exp;
    bk_ivset_init(&exp);
    bk_plan_expected(cfg, d->tf, d->window_days, now, &exp);
    size_t n = bk_plan_slices(cfg, d, st, &exp, now, "test", out, cap, more);
    bk_ivset_fini(&exp);
    return n;
}

static int64_t cell(int64_t t, int64_t step)
{
    return t >= 0 ? t / step : -((-t + step - 1) / step);
}

/* Every slice: inside one grid cell, starts and ends in trading time. */
static void check_slices(const bk_plan_cfg *cfg, const bk_def *d, const bk_run *runs, size_t n)
{
    int64_t step = bk_plan_slice_step(cfg, d->type, d->tf);
    for (size_t i = 0; i < n; i++) {
        const bk_run *r = &runs[i];
        assert_true(r->slice_from_us < r->slice_to_us);
        assert_int_equal(cell(r->slice_from_us, step), cell(r->slice_to_us - 1, step));
        assert_true(bk_cal_is_open(r->slice_from_us, false));
        assert_true(bk_cal_is_open(r->slice_to_us - 1, false));
        assert_string_equal(r->symbol, d->symbol);
        assert_int_equal(r->status, BK_ST_QUEUED);
        assert_int_equal(r->attempt, 1);
        if (i > 0) /* newest first, disjoint */
            assert_true(r->slice_to_us <= runs[i - 1].slice_from_us);
    }
}

static void test_idempotent(void **state)
{
    (void)state;
    bk_plan_cfg cfg = cfg_default();
    bk_def d = def_of("AAPL", BK_TF_15M, 5);
    int64_t now = T("2025-07-08T18:07:00Z");
    bk_run a[16], b[16];
    bool more_a, more_b;
    size_t na = plan(&cfg, &d, NULL, now, a, 16, &more_a);
    size_t nb = plan(&cfg, &d, NULL, now + 60 * BK_US_PER_S, b, 16, &more_b);
    assert_int_equal(na, 5);
    assert_int_equal(na, nb);
    assert_true(more_a && more_b);
    for (size_t i = 0; i < na; i++) {
        assert_int_equal(a[i].slice_from_us, b[i].slice_from_us);
        assert_int_equal(a[i].slice_to_us, b[i].slice_to_us);
    }
    check_slices(&cfg, &d, a, na);
    /* the newest slice ends at the last closed 15m bar: 14:00 NY = 18:00Z */
    assert_int_equal(a[0].slice_to_us, T("2025-07-08T18:00:00Z"));
    assert_int_equal(a[0].priority, 100 + cfg.tail_boost);
    assert_int_equal(a[1].priority, 100);
}

/* Waves of slices, each marked active then covered, drain the gaps exactly. */
static void drain(const bk_plan_cfg *cfg, const bk_def *d, bk_series *st, int64_t now,
                  size_t *n_slices)
{
    bk_run runs[64];
    bool more = true;
    *n_slices = 0;
    for (int wave = 0; wave < 1000 && more; wave++) {
        size_t n = plan(cfg, d, st, now, runs, 64, &more);
        check_slices(cfg, d, runs, n);
        for (size_t i = 0; i < n; i++) {
            /* never overlaps active or covered time */
            bk_ivset probe;
            bk_ivset_init(&probe);
            bk_ivset_add(&probe, runs[i].slice_from_us, runs[i].slice_to_us);
            bk_ivset_intersect(&probe, &st->active);
            assert_int_equal(probe.n, 0);
            bk_ivset_add(&probe, runs[i].slice_from_us, runs[i].slice_to_us);
            bk_ivset_intersect(&probe, &st->covered);
            assert_int_equal(probe.n, 0);
            bk_ivset_fini(&probe);
            bk_ivset_add(&st->active, runs[i].slice_from_us, runs[i].slice_to_us);
        }
        *n_slices += n;
        if (wave % 2 == 1) { /* every other wave the active runs succeed */
            bk_ivset_union(&st->covered, &st->active);
            bk_ivset_clear(&st->active);
        }
    }
    bk_ivset_union(&st->covered, &st->active);
    bk_ivset_clear(&st->active);
}

static void test_waves_complete_coverage(void **state)
{
    (void)state;
    bk_plan_cfg cfg = cfg_default();
    const struct {
        bk_tf tf;
        int days;
    } cases[] = {{BK_TF_15M, 5}, {BK_TF_1H, 5}, {BK_TF_1M, 30}, {BK_TF_D1, 365}, {BK_TF_W1, 730}};
    int64_t now = T("2025-07-08T18:07:00Z");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        bk_def d = def_of("NVDA", cases[c].tf, cases[c].days);
        bk_series st;
        series_init(&st, "NVDA", d.tf);
        size_t n = 0;
        drain(&cfg, &d, &st, now, &n);
        assert_true(n > 0);
        bk_ivset gaps;
        bk_ivset_init(&gaps);
        bk_plan_gaps(&cfg, &d, &st.covered, now, &gaps);
        assert_int_equal(gaps.n, 0);
        /* and nothing more to plan */
        bk_run runs[4];
        bool more;
        assert_int_equal(plan(&cfg, &d, &st, now, runs, 4, &more), 0);
        assert_false(more);
        bk_ivset_fini(&gaps);
        series_fini(&st);
    }
}

static void test_tail_run(void **state)
{
    (void)state;
    bk_plan_cfg cfg = cfg_default();
    bk_def d = def_of("TSLA", BK_TF_15M, 5);
    bk_series st;
    series_init(&st, "TSLA", d.tf);
    int64_t now = T("2025-07-08T18:07:00Z");
    size_t n;
    drain(&cfg, &d, &st, now, &n);
    bk_run runs[8];
    bool more;
    /* 18:14: the 17:45 bar closes at 18:00 already covered; nothing new */
    assert_int_equal(plan(&cfg, &d, &st, T("2025-07-08T18:14:59Z"), runs, 8, &more), 0);
    /* 18:15: the 18:00 bar has closed → exactly one tail slice */
    assert_int_equal(plan(&cfg, &d, &st, T("2025-07-08T18:15:00Z"), runs, 8, &more), 1);
    assert_int_equal(runs[0].slice_from_us, T("2025-07-08T18:00:00Z"));
    assert_int_equal(runs[0].slice_to_us, T("2025-07-08T18:15:00Z"));
    assert_int_equal(runs[0].priority, 100 + cfg.tail_boost);
    series_fini(&st);
}

static void test_weekend_and_holiday(void **state)
{
    (void)state;
    bk_plan_cfg cfg = cfg_default();
    bk_def d = def_of("AAPL", BK_TF_1H, 5);
    /* Saturday 2025-07-05: window covers Mon 30 Jun .. Fri 4 Jul (holiday),
     * Thu 3 Jul closes at 13:00 NY = 17:00Z */
    int64_t now = T("2025-07-05T12:00:00Z");
    bk_ivset exp;
    bk_ivset_init(&exp);
    bk_plan_expected(&cfg, d.tf, d.window_days, now, &exp);
    assert_true(exp.n > 0);
    assert_int_equal(exp.v[exp.n - 1].to_us, T("2025-07-03T17:00:00Z"));
    for (size_t i = 0; i < exp.n; i++) {
        assert_true(bk_cal_is_open(exp.v[i].from_us, false));
        assert_true(bk_cal_is_open(exp.v[i].to_us - 1, false));
    }
    bk_ivset_fini(&exp);
}

static void test_dead_slices_not_replanned(void **state)
{
    (void)state;
    bk_plan_cfg cfg = cfg_default();
    bk_def d = def_of("ZZZX", BK_TF_1H, 3);
    bk_series st;
    series_init(&st, "ZZZX", d.tf);
    int64_t now = T("2025-07-08T18:07:00Z");
    bk_run runs[64];
    bool more;
    size_t n = plan(&cfg, &d, &st, now, runs, 64, &more);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++)
        bk_ivset_add(&st.dead, runs[i].slice_from_us, runs[i].slice_to_us);
    bk_run again[64];
    size_t m = plan(&cfg, &d, &st, now, again, 64, &more);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            assert_false(again[i].slice_from_us < runs[j].slice_to_us &&
                         runs[j].slice_from_us < again[i].slice_to_us);
    series_fini(&st);
}

/* run_forecast planning: one run from the newest closed bar once the window
 * is covered; nothing while one is active, without a new bar, with the
 * window not covered or after that origin's run failed; on a new bar again. */
static void test_forecast_planning(void **state)
{
    (void)state;
    bk_plan_cfg cfg = cfg_default();
    bk_def d = def_of("AAPL", BK_TF_D1, 90);
    d.type = BK_JOB_FORECAST;
    d.priority = 50;
    bk_series st;
    series_init(&st, "AAPL", d.tf);
    int64_t now = T("2025-07-08T18:00:00Z"); /* Tuesday in session: Monday is the last close */
    int64_t mon = T("2025-07-07T04:00:00Z"), fri = T("2025-07-03T04:00:00Z");
    bk_run r;
    /* nothing covered: no run */
    assert_false(bk_plan_forecast(&cfg, &d, &st, mon, INT64_MIN, false, now, "t", &r));
    assert_false(bk_plan_forecast(&cfg, &d, NULL, mon, INT64_MIN, false, now, "t", &r));
    /* the window covered but for its first day: still none */
    bk_ivset exp;
    bk_ivset_init(&exp);
    bk_plan_expected(&cfg, d.tf, d.window_days, now, &exp);
    assert_true(exp.n > 0);
    bk_ivset_add(&st.covered, exp.v[0].from_us + BK_US_PER_HOUR, exp.v[exp.n - 1].to_us);
    assert_false(bk_plan_forecast(&cfg, &d, &st, mon, INT64_MIN, false, now, "t", &r));
    bk_ivset_add(&st.covered, exp.v[0].from_us, exp.v[exp.n - 1].to_us);
    bk_ivset_fini(&exp);
    /* covered, no forecast yet: one run from Monday's bar */
    assert_true(bk_plan_forecast(&cfg, &d, &st, mon, INT64_MIN, false, now, "t", &r));
    assert_int_equal(r.type, BK_JOB_FORECAST);
    assert_int_equal(r.slice_from_us, mon);
    assert_int_equal(r.slice_to_us, mon + 1);
    assert_int_equal(r.priority, 50);
    assert_int_equal(r.status, BK_ST_QUEUED);
    /* one active already: none */
    assert_false(bk_plan_forecast(&cfg, &d, &st, mon, INT64_MIN, true, now, "t", &r));
    /* the stored forecast is from Monday: no new closed bar, none */
    assert_false(bk_plan_forecast(&cfg, &d, &st, mon, mon, false, now, "t", &r));
    /* from Friday's: Monday is new, a re-forecast */
    assert_true(bk_plan_forecast(&cfg, &d, &st, mon, fri, false, now, "t", &r));
    assert_int_equal(r.slice_from_us, mon);
    /* the run from Monday failed (dead-lettered): not planned again */
    bk_ivset_add(&st.dead, mon, mon + 1);
    assert_false(bk_plan_forecast(&cfg, &d, &st, mon, fri, false, now, "t", &r));
    /* disabled, or a fetch definition: none */
    bk_ivset_clear(&st.dead);
    d.enabled = false;
    assert_false(bk_plan_forecast(&cfg, &d, &st, mon, fri, false, now, "t", &r));
    d.enabled = true;
    d.type = BK_JOB_HISTORICAL;
    assert_false(bk_plan_forecast(&cfg, &d, &st, mon, fri, false, now, "t", &r));
    series_fini(&st);
}

static void test_historical_slices_span_nights(void **state)
{
    (void)state;
    bk_plan_cfg cfg = cfg_default();
    bk_def d = def_of("AAPL", BK_TF_D1, 365);
    bk_run runs[16];
    bool more;
    size_t n = plan(&cfg, &d, NULL, T("2025-07-08T18:07:00Z"), runs, 16, &more);
    /* 365 days on a 90-day grid: at most 6 slices, each holding many sessions */
    assert_true(n >= 4 && n <= 6);
    assert_false(more);
    for (size_t i = 0; i < n; i++) {
        bk_ivset t;
        bk_ivset_init(&t);
        bk_cal_trading_time(runs[i].slice_from_us, runs[i].slice_to_us, false, &t);
        if (i > 0 && i + 1 < n)
            assert_true(t.n > 20);
        bk_ivset_fini(&t);
    }
}

/* Provider-aware slicing: a primary that serves 7 days of 1m per request
 * (Yahoo) cuts a 90-day historical grid down to 168-hour cells; a span
 * shorter than an hour still gives one-hour cells; a span longer than the
 * configured grid changes nothing; other timeframes keep theirs. */
static void test_provider_span_slicing(void **state)
{
    (void)state;
    bk_plan_cfg cfg = cfg_default();
    cfg.slice_us[BK_JOB_INTRADAY] = 2160 * BK_US_PER_HOUR; /* as if configured long */
    cfg.max_span_us[BK_TF_1M] = 7 * 24 * BK_US_PER_HOUR;
    cfg.max_span_us[BK_TF_5M] = 10 * BK_US_PER_MIN;
    cfg.max_span_us[BK_TF_15M] = 10000 * BK_US_PER_HOUR;
    assert_int_equal(bk_plan_slice_step(&cfg, BK_JOB_INTRADAY, BK_TF_1M), 168 * BK_US_PER_HOUR);
    assert_int_equal(bk_plan_slice_step(&cfg, BK_JOB_INTRADAY, BK_TF_5M), BK_US_PER_HOUR);
    assert_int_equal(bk_plan_slice_step(&cfg, BK_JOB_INTRADAY, BK_TF_15M), 2160 * BK_US_PER_HOUR);
    assert_int_equal(bk_plan_slice_step(&cfg, BK_JOB_INTRADAY, BK_TF_1H), 2160 * BK_US_PER_HOUR);
    bk_def d = def_of("AAPL", BK_TF_1M, 30);
    bk_run a[16], b[16];
    bool more;
    int64_t now = T("2025-07-08T18:07:00Z");
    size_t n = plan(&cfg, &d, NULL, now, a, 16, &more);
    assert_true(n >= 4 && n <= 6); /* 30 days in 7-day cells */
    int64_t step = 168 * BK_US_PER_HOUR;
    for (size_t i = 0; i < n; i++) {
        assert_true(a[i].slice_to_us - a[i].slice_from_us <= step);
        assert_int_equal(cell(a[i].slice_from_us, step), cell(a[i].slice_to_us - 1, step));
    }
    assert_int_equal(plan(&cfg, &d, NULL, now, b, 16, &more), n); /* same grid again */
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(a[i].slice_from_us, b[i].slice_from_us);
        assert_int_equal(a[i].slice_to_us, b[i].slice_to_us);
    }
}

/* 00:00 UTC of (now - days): the window's start before it is moved to a bar. */
static int64_t utc_day_start(int days, int64_t now)
{
    int64_t t = now - days * BK_US_PER_DAY;
    return t - ((t % BK_US_PER_DAY) + BK_US_PER_DAY) % BK_US_PER_DAY;
}

/* Every expected bar touching the window [00:00 UTC of (now - days),
 * horizon) is owned by exactly one planned slice (its trading span starts
 * inside it), so it is fetched; and once those slices are covered no gap is
 * left. */
static void check_bars_owned(const bk_plan_cfg *cfg, bk_tf tf, int days, int64_t now)
{
    bk_def d = def_of("AAPL", tf, days);
    bk_series st;
    series_init(&st, "AAPL", tf);
    bk_run runs[64], all[512];
    size_t n_all = 0;
    bool more = true;
    while (more) {
        size_t n = plan(cfg, &d, &st, now, runs, 64, &more);
        for (size_t i = 0; i < n; i++) {
            assert_true(n_all < 512);
            all[n_all++] = runs[i];
            bk_ivset_add(&st.active, runs[i].slice_from_us, runs[i].slice_to_us);
        }
    }
    int64_t from = utc_day_start(days, now), to = bk_plan_horizon(cfg, tf, now);
    size_t n_cb = to > from ? bk_cal_bars(tf, cfg->anchor, from, to, NULL, 0) : 0;
    bk_calbar *cb = calloc(n_cb + 1, sizeof *cb);
    bk_cal_bars(tf, cfg->anchor, from, to, cb, n_cb);
    for (size_t k = 0; k < n_cb; k++) {
        if (cb[k].to_us > to)
            continue; /* still open at the horizon: not expected yet */
        int owners = 0;
        for (size_t i = 0; i < n_all; i++)
            owners += all[i].slice_from_us <= cb[k].from_us && cb[k].from_us < all[i].slice_to_us;
        if (owners != 1) {
            char a[BK_TIME_STR_MAX], b[BK_TIME_STR_MAX];
            fail_msg("%s window %d days at %s: bar %s owned by %d slices", bk_tf_name(tf), days,
                     bk_time_format(now, a), bk_time_format(cb[k].ts_us, b), owners);
        }
    }
    free(cb);
    bk_ivset gaps;
    bk_ivset_init(&gaps);
    bk_plan_gaps(cfg, &d, &st.active, now, &gaps);
    assert_int_equal(gaps.n, 0);
    bk_ivset_fini(&gaps);
    series_fini(&st);
}

/* A w1 window that starts mid-week (00:00 UTC Thursday 2026-10-22, Wednesday
 * evening in New York) starts at that week's first open instead, so the
 * week's bar (labelled 00:00 New York Monday 2026-10-19) is planned and
 * counted as a gap until covered. d1 and intraday windows start at 00:00 UTC,
 * when no bar of theirs is open. Every timeframe, both anchors, windows
 * starting on every weekday: each bar touching the window is owned by
 * exactly one slice. */
static void test_window_starts_at_a_bar(void **state)
{
    (void)state;
    bk_plan_cfg cfg = cfg_default();
    int64_t now = T("2026-11-18T20:00:00Z"), mon_open = T("2026-10-19T13:30:00Z");
    assert_int_equal(bk_plan_window_start(&cfg, BK_TF_W1, 27, now), mon_open);
    bk_calbar wk;
    assert_true(bk_cal_bar_at(BK_TF_W1, cfg.anchor, T("2026-10-19T04:00:00Z"), &wk));
    assert_int_equal(wk.from_us, mon_open);
    bk_def d = def_of("AAPL", BK_TF_W1, 27);
    bk_ivset gaps;
    bk_ivset_init(&gaps);
    bk_plan_gaps(&cfg, &d, NULL, now, &gaps);
    assert_true(gaps.n > 0);
    assert_int_equal(gaps.v[0].from_us, mon_open);
    bk_ivset_fini(&gaps);
    bk_run runs[16];
    bool more;
    size_t n = plan(&cfg, &d, NULL, now, runs, 16, &more);
    assert_true(n > 0);
    assert_int_equal(runs[n - 1].slice_from_us, mon_open); /* the oldest slice owns the bar */
    /* a Saturday (after Friday's close) or Monday (Sunday evening in New
     * York) 00:00 UTC is inside no w1 bar: unchanged */
    assert_int_equal(bk_plan_window_start(&cfg, BK_TF_W1, 25, now), T("2026-10-24T00:00:00Z"));
    assert_int_equal(bk_plan_window_start(&cfg, BK_TF_W1, 23, now), T("2026-10-26T00:00:00Z"));
    /* the week of Labor Day (Monday 2025-09-01 closed) starts on Tuesday */
    int64_t labor_day_wk = T("2025-09-20T15:00:00Z");
    assert_int_equal(bk_plan_window_start(&cfg, BK_TF_W1, 17, labor_day_wk),
                     T("2025-09-02T13:30:00Z"));
    for (int a = 0; a < 2; a++) {
        cfg.anchor = a ? BK_ANCHOR_CLOCK : BK_ANCHOR_SESSION;
        for (int tf = 0; tf < BK_TF__N; tf++) {
            for (int days = 1; days <= 8; days++) {
                if (tf != BK_TF_W1)
                    assert_int_equal(bk_plan_window_start(&cfg, (bk_tf)tf, days, now),
                                     utc_day_start(days, now));
                check_bars_owned(&cfg, (bk_tf)tf, days, now);
            }
            check_bars_owned(&cfg, (bk_tf)tf, 27, now);
            check_bars_owned(&cfg, (bk_tf)tf, 17, labor_day_wk);
        }
    }
}

/* Issue 12.6: a chain whose deepest history is Yahoo's 29 days of 1m. The
 * servable start is now − 29 days rounded up to 00:00 UTC (stable all day);
 * gaps and slices start there; the older part of a 35-day window is
 * unservable, with the reason; together they are the whole missing time.
 * A timeframe without a limit is untouched. */
static void test_history_clips_window(void **state)
{
    (void)state;
    bk_plan_cfg cfg = cfg_default();
    cfg.history_us[BK_TF_1M] = 29 * BK_US_PER_DAY;
    strcpy(cfg.history_by[BK_TF_1M], "yahoo");
    int64_t now = T("2025-07-08T20:30:00Z"), from = T("2025-06-10T00:00:00Z");
    assert_int_equal(bk_plan_servable_from(&cfg, BK_TF_1M, now), from);
    assert_int_equal(bk_plan_servable_from(&cfg, BK_TF_1M, T("2025-07-08T00:30:00Z")), from);
    assert_int_equal(bk_plan_servable_from(&cfg, BK_TF_1M, T("2025-07-09T00:00:00Z")), from);
    assert_int_equal(bk_plan_servable_from(&cfg, BK_TF_5M, now), INT64_MIN);

    bk_def d = def_of("AAPL", BK_TF_1M, 35);
    bk_ivset exp, gaps, un;
    bk_ivset_init(&exp);
    bk_ivset_init(&gaps);
    bk_ivset_init(&un);
    bk_plan_expected(&cfg, BK_TF_1M, 35, now, &exp);
    bk_plan_gaps(&cfg, &d, NULL, now, &gaps);
    bk_plan_unservable(&cfg, &d, NULL, now, &un);
    assert_int_equal(gaps.v[0].from_us, T("2025-06-10T13:30:00Z"));
    assert_int_equal(un.n, 5); /* 3, 4, 5, 6 and 9 June */
    assert_int_equal(un.v[0].from_us, T("2025-06-03T13:30:00Z"));
    assert_int_equal(un.v[4].to_us, T("2025-06-09T20:00:00Z"));
    assert_int_equal(bk_ivset_total(&un), 325 * BK_US_PER_HOUR / 10);
    assert_int_equal(bk_ivset_total(&un) + bk_ivset_total(&gaps), bk_ivset_total(&exp));
    char why[64];
    assert_string_equal(bk_plan_unservable_reason(&cfg, BK_TF_1M, why, sizeof why),
                        "beyond yahoo's history");
    assert_string_equal(bk_plan_unservable_reason(&cfg, BK_TF_5M, why, sizeof why), "");

    /* the planner slices the servable time only, the same all day */
    bk_run a[256], b[256];
    bool more;
    bk_plan_servable(&cfg, BK_TF_1M, 35, now, &exp);
    size_t n = bk_plan_slices(&cfg, &d, NULL, &exp, now, "test", a, 256, &more);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++)
        assert_true(a[i].slice_from_us >= from);
    bk_plan_servable(&cfg, BK_TF_1M, 35, T("2025-07-08T21:30:00Z"), &exp);
    assert_int_equal(bk_plan_slices(&cfg, &d, NULL, &exp, now, "test", b, 256, &more), n);
    assert_int_equal(a[n - 1].slice_from_us, b[n - 1].slice_from_us);

    /* covered old time is neither a gap nor unservable */
    bk_ivset cov;
    bk_ivset_init(&cov);
    bk_ivset_add(&cov, T("2025-06-03T13:30:00Z"), T("2025-06-03T20:00:00Z"));
    bk_plan_unservable(&cfg, &d, &cov, now, &un);
    assert_int_equal(un.n, 4);

    /* no limit: nothing is unservable */
    d = def_of("AAPL", BK_TF_5M, 35);
    bk_plan_unservable(&cfg, &d, NULL, now, &un);
    assert_int_equal(un.n, 0);
    bk_ivset_fini(&cov);
    bk_ivset_fini(&exp);
    bk_ivset_fini(&gaps);
    bk_ivset_fini(&un);
}

/* ---- settling ---- */

static bk_run run_of(bk_tf tf, int64_t from, int64_t to, bk_status st, int64_t created,
                     int64_t finished)
{
    bk_run r;
    memset(&r, 0, sizeof r);
    strcpy(r.symbol, "AAPL");
    r.tf = tf;
    r.type = bk_job_for_tf(tf);
    r.slice_from_us = from;
    r.slice_to_us = to;
    r.status = st;
    r.created_us = created;
    r.finished_us = finished;
    return r;
}

/* Refetches of d at now given its runs (in creation order). */
static size_t settle_at(const bk_plan_cfg *cfg, const bk_def *d, const bk_run *runs, size_t n,
                        int64_t now, bk_run *out, size_t cap)
{
    const bk_run **refs = calloc(n + 1, sizeof *refs);
    for (size_t i = 0; i < n; i++)
        refs[i] = &runs[i];
    bk_ivset u;
    bk_ivset_init(&u);
    bk_plan_unsettled(refs, n, cfg->settle_us[d->tf], &u);
    size_t k = bk_plan_settle_slices(cfg, d, &u, now, out, cap);
    bk_ivset_fini(&u);
    free(refs);
    return k;
}

/* A session's tail of one-minute runs, each fetched 5 s after its bar
 * closed: nothing is refetched before it settled, then exactly one refetch
 * per 2-hour grid cell over the tail's part of it; a queued refetch or a
 * settled one removes its cell, and with both nothing is planned again. */
static void test_settle_tail(void **state)
{
    (void)state;
    bk_plan_cfg cfg = cfg_default();
    cfg.settle_us[BK_TF_1M] = 10 * BK_US_PER_MIN;
    bk_def d = def_of("AAPL", BK_TF_1M, 5);
    int64_t t0 = T("2025-07-08T17:30:00Z"), t1 = T("2025-07-08T19:00:00Z"); /* 13:30-15:00 NY */
    size_t n = (size_t)((t1 - t0) / BK_US_PER_MIN);
    bk_run *runs = calloc(n + 4, sizeof *runs);
    for (size_t i = 0; i < n; i++) {
        int64_t from = t0 + (int64_t)i * BK_US_PER_MIN;
        runs[i] = run_of(BK_TF_1M, from, from + BK_US_PER_MIN, BK_ST_SUCCESS, from + BK_US_PER_MIN,
                         from + BK_US_PER_MIN + 5 * BK_US_PER_S);
    }
    bk_run out[8];
    /* nothing has settled yet */
    assert_int_equal(settle_at(&cfg, &d, runs, n, T("2025-07-08T18:09:59Z"), out, 8), 0);
    /* the first cell [16:00Z, 18:00Z) settled at 18:10Z, the second not yet */
    assert_int_equal(settle_at(&cfg, &d, runs, n, T("2025-07-08T19:05:00Z"), out, 8), 1);
    assert_int_equal(out[0].slice_from_us, t0);
    assert_int_equal(out[0].slice_to_us, T("2025-07-08T18:00:00Z"));
    assert_string_equal(out[0].triggered_by, "settle");
    assert_int_equal(out[0].priority, d.priority);
    assert_int_equal(out[0].status, BK_ST_QUEUED);
    /* both settled: one refetch per cell, not one per bar */
    int64_t now = T("2025-07-08T19:10:00Z");
    assert_int_equal(settle_at(&cfg, &d, runs, n, now, out, 8), 2);
    assert_int_equal(out[0].slice_from_us, t0);
    assert_int_equal(out[0].slice_to_us, T("2025-07-08T18:00:00Z"));
    assert_int_equal(out[1].slice_from_us, T("2025-07-08T18:00:00Z"));
    assert_int_equal(out[1].slice_to_us, t1);
    /* the second cell's refetch is queued: only the first is left */
    runs[n] = run_of(BK_TF_1M, out[1].slice_from_us, out[1].slice_to_us, BK_ST_QUEUED, now, 0);
    runs[n + 1] = run_of(BK_TF_1M, out[0].slice_from_us, out[0].slice_to_us, BK_ST_SUCCESS, now,
                         now + BK_US_PER_S);
    assert_int_equal(settle_at(&cfg, &d, runs, n + 1, now, out, 8), 1);
    assert_int_equal(out[0].slice_from_us, t0);
    /* the first refetched (settled), the second still queued: nothing */
    assert_int_equal(settle_at(&cfg, &d, runs, n + 2, now + BK_US_PER_MIN, out, 8), 0);
    /* the second dead-lettered: nothing either (no loop) */
    runs[n].status = BK_ST_FAILED;
    assert_int_equal(settle_at(&cfg, &d, runs, n + 2, T("2025-07-09T12:00:00Z"), out, 8), 0);
    /* it succeeded instead: the next tick plans nothing */
    runs[n].status = BK_ST_SUCCESS;
    runs[n].finished_us = now + 2 * BK_US_PER_S;
    assert_int_equal(settle_at(&cfg, &d, runs, n + 2, T("2025-07-09T12:00:00Z"), out, 8), 0);
    /* no settle window: nothing is ever provisional */
    cfg.settle_us[BK_TF_1M] = 0;
    assert_int_equal(settle_at(&cfg, &d, runs, n, T("2025-07-09T12:00:00Z"), out, 8), 0);
    free(runs);
}

/* A long run fetched after most of its bars had settled leaves only its
 * young bars unsettled; a later run over its slice that finished before
 * they settled keeps them unsettled (it fetched them provisional again). */
static void test_settle_partial(void **state)
{
    (void)state;
    bk_plan_cfg cfg = cfg_default();
    cfg.settle_us[BK_TF_1M] = 10 * BK_US_PER_MIN;
    bk_def d = def_of("AAPL", BK_TF_1M, 5);
    int64_t from = T("2025-07-08T18:00:00Z"), to = T("2025-07-08T19:30:00Z");
    bk_run runs[2] = {
        run_of(BK_TF_1M, from, to, BK_ST_SUCCESS, to, to + BK_US_PER_MIN),
        run_of(BK_TF_1M, from, to, BK_ST_SUCCESS, to + BK_US_PER_MIN, to + 2 * BK_US_PER_MIN)};
    bk_run out[4];
    assert_int_equal(settle_at(&cfg, &d, runs, 1, T("2025-07-08T19:40:00Z"), out, 4), 1);
    /* bars ending after 19:21 (finished − settle) had not settled */
    assert_int_equal(out[0].slice_from_us, T("2025-07-08T19:20:00Z"));
    assert_int_equal(out[0].slice_to_us, to);
    assert_int_equal(settle_at(&cfg, &d, runs, 2, T("2025-07-08T19:40:00Z"), out, 4), 1);
    assert_int_equal(out[0].slice_from_us, T("2025-07-08T19:21:00Z"));
    /* fetched an hour after the close of its newest bar: nothing provisional */
    runs[0].finished_us = to + BK_US_PER_HOUR;
    assert_int_equal(settle_at(&cfg, &d, runs, 1, T("2025-07-09T12:00:00Z"), out, 4), 0);
}

/* Issue 18: with slice_hours 0 (the default) a slice is what one request
 * of the chain serves. Ten sessions of 1m bars on a chain whose shortest
 * span is 70 days (Massive alone) are one or two slices (two only when the
 * window crosses a 70-day grid edge), not four per session; a chain with
 * Yahoo (7 days of 1m per request) cuts at 7 days; without a stated span
 * the 2-hour grid stays; an explicit slice_hours still wins when shorter. */
static void test_auto_slices_one_request(void **state)
{
    (void)state;
    int64_t now = T("2025-07-18T21:00:00Z"); /* Friday after the close */
    bk_def d = def_of("AAPL", BK_TF_1M, 14);
    bk_ivset exp;
    bk_ivset_init(&exp);
    bk_run runs[64];
    bool more = false;
    bk_plan_cfg cfg = cfg_default();
    assert_int_equal(cfg.slice_us[BK_JOB_INTRADAY], 0); /* auto */
    cfg.max_slices[BK_JOB_INTRADAY] = 64;
    bk_plan_expected(&cfg, d.tf, d.window_days, now, &exp);
    size_t sessions = exp.n;
    assert_true(sessions >= 9);

    cfg.max_span_us[BK_TF_1M] = 70 * BK_US_PER_DAY;
    size_t n = bk_plan_slices(&cfg, &d, NULL, &exp, now, "test", runs, 64, &more);
    assert_true(n >= 1 && n <= 2);
    assert_false(more);
    check_slices(&cfg, &d, runs, n);

    cfg.max_span_us[BK_TF_1M] = 7 * BK_US_PER_DAY;
    n = bk_plan_slices(&cfg, &d, NULL, &exp, now, "test", runs, 64, &more);
    assert_true(n >= 2 && n <= 4);
    for (size_t i = 0; i < n; i++)
        assert_true(runs[i].slice_to_us - runs[i].slice_from_us <= 7 * BK_US_PER_DAY);

    cfg.max_span_us[BK_TF_1M] = 0; /* the sim: the 2-hour grid */
    n = bk_plan_slices(&cfg, &d, NULL, &exp, now, "test", runs, 64, &more);
    assert_true(n >= 3 * sessions);
    assert_int_equal(bk_plan_slice_step(&cfg, BK_JOB_INTRADAY, BK_TF_1M), 2 * BK_US_PER_HOUR);

    cfg.max_span_us[BK_TF_1M] = 70 * BK_US_PER_DAY; /* configured 24 h: shorter, so it wins */
    cfg.slice_us[BK_JOB_INTRADAY] = 24 * BK_US_PER_HOUR;
    assert_int_equal(bk_plan_slice_step(&cfg, BK_JOB_INTRADAY, BK_TF_1M), 24 * BK_US_PER_HOUR);
    bk_ivset_fini(&exp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idempotent),
        cmocka_unit_test(test_waves_complete_coverage),
        cmocka_unit_test(test_tail_run),
        cmocka_unit_test(test_weekend_and_holiday),
        cmocka_unit_test(test_dead_slices_not_replanned),
        cmocka_unit_test(test_forecast_planning),
        cmocka_unit_test(test_historical_slices_span_nights),
        cmocka_unit_test(test_provider_span_slicing),
        cmocka_unit_test(test_window_starts_at_a_bar),
        cmocka_unit_test(test_history_clips_window),
        cmocka_unit_test(test_auto_slices_one_request),
        cmocka_unit_test(test_settle_tail),
        cmocka_unit_test(test_settle_partial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
