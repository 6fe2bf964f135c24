/*
 * test_store_data.c — what runs leave behind: the planner's series
 * (loads, many at once, a consistent snapshot while another connection
 * commits), bars (read, their source), adopted coverage, and the bar series
 * per symbol.
 *
 * The fixture, the helpers and how the groups run: store_fixture.h.
 */
#include "store_fixture.h"

#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plan/plan.h"

/* ---- planning state ---- */

static void t_series_load(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    fill_slice(s, "MSFT", BK_TF_1H, T0, T0 + H, T0);
    bk_run act = mk_run("AAPL", BK_TF_5M, T0, T0 + H, 0);
    bk_run act2 = mk_run("AAPL", BK_TF_5M, T0 + H, T0 + 2 * H, 0);
    bk_run dead = mk_run("MSFT", BK_TF_1H, T0 + 2 * H, T0 + 3 * H, 0);
    assert_true(enqueue1(s, &act, T0));
    assert_true(enqueue1(s, &act2, T0));
    assert_true(enqueue1(s, &dead, T0));
    bk_run c;
    OK(bk_store_run_claim_id(s, dead.id, "w", T0, 60 * S, &c, ERR));
    bk_failure f = mk_failure(&c, "w", T0, 0);
    OK(bk_store_run_fail(s, &f, ERR));
    OK(bk_store_run_claim_id(s, act2.id, "w", T0, 60 * S, &c, ERR)); /* running is active too */

    bk_series *v;
    size_t n;
    OK(bk_store_series_load(s, NULL, -1, &v, &n, ERR));
    assert_int_equal(n, 2);
    assert_string_equal(v[0].symbol, "AAPL");
    assert_int_equal(v[0].tf, BK_TF_5M);
    assert_int_equal(v[0].covered.n, 0);
    assert_int_equal(v[0].active.n, 1); /* two touching slices, one interval */
    assert_int_equal(v[0].active.v[0].from_us, T0);
    assert_int_equal(v[0].active.v[0].to_us, T0 + 2 * H);
    assert_string_equal(v[1].symbol, "MSFT");
    assert_int_equal(v[1].covered.n, 1);
    assert_int_equal(v[1].dead.n, 1);
    assert_int_equal(v[1].dead.v[0].from_us, T0 + 2 * H);
    assert_int_equal(v[1].active.n, 0);
    bk_series_free(v, n);

    OK(bk_store_series_load(s, "MSFT", BK_TF_1H, &v, &n, ERR));
    assert_int_equal(n, 1);
    assert_int_equal(v[0].covered.v[0].to_us, T0 + H);
    bk_series_free(v, n);
    OK(bk_store_series_load(s, "MSFT", BK_TF_D1, &v, &n, ERR));
    assert_int_equal(n, 0);
    bk_series_free(v, n);
}

static void t_series_load_many(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    enum { N = 2000 };
    bk_run *runs = calloc(N, sizeof *runs);
    for (int i = 0; i < N; i++) {
        char sym[16];
        snprintf(sym, sizeof sym, "S%04d", i / 2);
        runs[i] = mk_run(sym, i % 2 ? BK_TF_1H : BK_TF_D1, T0, T0 + H, 0);
    }
    size_t k;
    OK(bk_store_runs_enqueue(s, runs, N, &k, T0, ERR));
    assert_int_equal(k, N);
    bk_series *v;
    size_t n;
    int64_t t = bk_clock_mono_us();
    OK(bk_store_series_load(s, NULL, -1, &v, &n, ERR));
    t = bk_clock_mono_us() - t;
    assert_int_equal(n, N);
    for (size_t i = 1; i < n; i++) {
        int c = strcmp(v[i - 1].symbol, v[i].symbol);
        assert_true(c < 0 || (c == 0 && v[i - 1].tf < v[i].tf));
        assert_int_equal(v[i].active.n, 1);
    }
    assert_true(t < 2 * S);
    bk_series_free(v, n);
    free(runs);
}

/* Commits every run in runs[0..n) (claimed by "w") through another
 * connection, once, when the planner's connection is between its reads. */
typedef struct commit_between {
    bk_store *other;
    bk_run *runs;
    size_t n;
    int64_t now;
    int fired, failed;
} commit_between;

static void commit_between_reads(void *ctx)
{
    commit_between *cb = ctx;
    if (cb->fired++)
        return;
    for (size_t i = 0; i < cb->n; i++) {
        bk_bar b = mk_bar(cb->runs[i].slice_from_us, 100);
        bk_commit c = mk_commit(&cb->runs[i], "w", &b, 1, cb->now);
        bk_err err = {0};
        if (bk_store_run_commit(cb->other, &c, &err) != 0)
            cb->failed++; /* no assert here: the hook runs inside the store */
    }
}

/* Claim and commit every queued run; returns how many. */
static size_t drain_queue(bk_store *s, int64_t now)
{
    bk_run got[64];
    size_t n = 0, total = 0;
    do {
        OK(bk_store_runs_claim_many(s, "w", now, 60 * S, got, 64, &n, ERR));
        for (size_t i = 0; i < n; i++) {
            bk_bar b = mk_bar(got[i].slice_from_us, 100);
            bk_commit c = mk_commit(&got[i], "w", &b, 1, now);
            OK(bk_store_run_commit(s, &c, ERR));
        }
        total += n;
    } while (n > 0);
    return total;
}

static int cmp_slice(const void *a, const void *b)
{
    const bk_run *x = a, *y = b;
    if (x->slice_from_us != y->slice_from_us)
        return x->slice_from_us < y->slice_from_us ? -1 : 1;
    return (x->slice_to_us > y->slice_to_us) - (x->slice_to_us < y->slice_to_us);
}

/* Slices of sym/tf with more than one successful run. */
static size_t duplicate_successes(bk_store *s, const char *sym, bk_tf tf)
{
    bk_run_filter f = {.status = BK_ST_SUCCESS, .symbol = sym, .tf = (int)tf};
    bk_run *v = NULL;
    size_t n = 0, dup = 0;
    OK(bk_store_runs_list(s, &f, &v, &n, ERR));
    qsort(v, n, sizeof *v, cmp_slice);
    for (size_t i = 1; i < n; i++)
        dup += cmp_slice(&v[i - 1], &v[i]) == 0;
    free(v);
    return dup;
}

/* Issue 12.5: a run that commits while the planner reads a series' state
 * must not look free. The planner reads coverage, active runs and dead runs;
 * the runs it sees running commit (through another connection) right after
 * the coverage read. One consistent read sees them either running or
 * covered, never neither: the second tick plans nothing, no slice runs
 * twice. */
static void t_series_load_snapshot(void **state)
{
    fixture *fx = *state;
    bk_store *s = fx->s, *other = open_or_die(fx->url);
    int64_t now = INT64_C(1717534800000000); /* 2024-06-04T21:00:00Z, Tuesday after the close */
    bk_def d = mk_def("MSFT", BK_TF_1H, 1, 10);
    OK(bk_store_def_put(s, &d, BK_PUT_SET, NULL, now, ERR));
    bk_conf conf;
    bk_conf_defaults(&conf);
    conf.max_slices[BK_JOB_INTRADAY] = 100; /* the whole window in one tick */
    bk_plan_cfg cfg;
    bk_plan_cfg_from_conf(&cfg, &conf, 0);
    bk_tick_stats t;
    OK(bk_plan_tick(s, &cfg, NULL, now, "tick", &t, ERR));
    assert_true(t.enqueued > 0);
    assert_false(t.more);
    bk_run running[64];
    size_t n = 0;
    OK(bk_store_runs_claim_many(s, "w", now, 60 * S, running, 64, &n, ERR));
    assert_int_equal(n, t.enqueued);

    commit_between cb = {.other = other, .runs = running, .n = n, .now = now};
    bk_store__set_read_hook(s, commit_between_reads, &cb);
    OK(bk_plan_tick(s, &cfg, NULL, now, "tick", &t, ERR));
    bk_store__set_read_hook(s, NULL, NULL);
    assert_int_equal(cb.fired, 1);
    assert_int_equal(cb.failed, 0);
    assert_int_equal(t.enqueued, 0); /* every slice was running or covered */

    assert_int_equal(drain_queue(s, now), 0);
    assert_int_equal(duplicate_successes(s, "MSFT", BK_TF_1H), 0);
    bk_store_close(other);
}

/* ---- bars ---- */

typedef struct bar_sink {
    size_t n, stop_after;
    int64_t first_ts, last_ts;
    double close_at_5;
    char provider[32];
} bar_sink;

static int sink_cb(void *ctx, const bk_bar *b, const char *provider)
{
    bar_sink *k = ctx;
    if (k->n == 0)
        k->first_ts = b->ts_us;
    if (b->ts_us <= k->last_ts && k->n)
        return -1; /* not in order */
    k->last_ts = b->ts_us;
    if (b->ts_us == T0 + 5 * 60 * S) {
        k->close_at_5 = b->close;
        bk_strlcpy(k->provider, provider, sizeof k->provider);
    }
    k->n++;
    return k->stop_after && k->n >= k->stop_after ? 7 : 0;
}

static void t_bars(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    enum { N = 100 };
    bk_bar bars[N];
    for (int i = 0; i < N; i++)
        bars[i] = mk_bar(T0 + i * 60 * S, 100 + i);
    OK(bk_store_bars_upsert(s, "AAPL", BK_TF_1M, "sim", bars, N, ERR));
    OK(bk_store_bars_upsert(s, "MSFT", BK_TF_1M, "sim", bars, 10, ERR));
    OK(bk_store_bars_upsert(s, "AAPL", BK_TF_5M, "sim", bars, 20, ERR));
    /* overwrite 10 bars with new values and another provider */
    for (int i = 0; i < 10; i++)
        bars[i].close = 1.25;
    OK(bk_store_bars_upsert(s, "AAPL", BK_TF_1M, "massive", bars, 10, ERR));
    assert_int_equal(bars_count(s, "AAPL", BK_TF_1M), N);
    assert_int_equal(bars_count(s, "AAPL", -1), N + 20);
    assert_int_equal(bars_count(s, NULL, BK_TF_1M), N + 10);
    assert_int_equal(bars_count(s, NULL, -1), N + 30);

    bar_sink k = {0};
    OK(bk_store_bars_read(s, "AAPL", BK_TF_1M, T0 + 2 * 60 * S, T0 + 12 * 60 * S, sink_cb, &k,
                          ERR));
    assert_int_equal(k.n, 10); /* [from, to) */
    assert_int_equal(k.first_ts, T0 + 2 * 60 * S);
    assert_int_equal(k.last_ts, T0 + 11 * 60 * S);
    assert_true(k.close_at_5 == 1.25);
    assert_string_equal(k.provider, "massive");

    k = (bar_sink){.stop_after = 3};
    bk_err err = {0};
    assert_int_equal(bk_store_bars_read(s, "AAPL", BK_TF_1M, T0, T0 + H * 10, sink_cb, &k, &err),
                     7);
    assert_int_equal(k.n, 3);
    k = (bar_sink){0};
    OK(bk_store_bars_read(s, "AAPL", BK_TF_1M, T0 + 90 * 60 * S, 0, sink_cb, &k, ERR));
    assert_int_equal(k.n, 10); /* to 0 = no upper bound */
}

/* Every bar records provider, feed and adjustment: through a single commit
 * (SQLite and the PostgreSQL COPY path alike, 600 bars), a batch commit, and
 * a plain upsert (""); the series' source is its newest bar's. */
static void t_bars_source(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    bk_source src;
    bk_err err = {0};
    assert_int_equal(bk_store_bars_source(s, "AAPL", BK_TF_1M, &src, &err), BK_ENOENT);
    enum { N = 600 };
    static bk_bar bars[N];
    for (int i = 0; i < N; i++)
        bars[i] = mk_bar(T0 + i * 60 * S, 100 + i);
    bk_run r[2] = {mk_run("AAPL", BK_TF_1M, T0, T0 + N * 60 * S, 5),
                   mk_run("MSFT", BK_TF_1H, T0, T0 + 2 * H, 5)};
    size_t k;
    OK(bk_store_runs_enqueue(s, r, 2, &k, T0, ERR));
    bk_run c[2];
    OK(bk_store_runs_claim_many(s, "w1", T0 + S, 60 * S, c, 2, &k, ERR));
    assert_int_equal(k, 2);
    bk_run *aapl = strcmp(c[0].symbol, "AAPL") == 0 ? &c[0] : &c[1];
    bk_run *msft = aapl == &c[0] ? &c[1] : &c[0];
    bk_commit one = mk_commit(aapl, "w1", bars, N, T0 + 2 * S);
    one.provider = "alpaca";
    one.feed = "iex";
    one.adjustment = "raw";
    OK(bk_store_run_commit(s, &one, ERR));
    OK(bk_store_bars_source(s, "aapl", BK_TF_1M, &src, ERR));
    assert_string_equal(src.provider, "alpaca");
    assert_string_equal(src.feed, "iex");
    assert_string_equal(src.adjustment, "raw");

    bk_bar hb[2] = {mk_bar(T0, 10), mk_bar(T0 + H, 11)};
    bk_commit many = mk_commit(msft, "w1", hb, 2, T0 + 3 * S);
    many.provider = "massive";
    many.feed = "sip";
    many.adjustment = "split";
    int rc_each[1] = {-1};
    OK(bk_store_runs_commit_many(s, &many, 1, rc_each, ERR));
    assert_int_equal(rc_each[0], 0);
    OK(bk_store_bars_source(s, "MSFT", BK_TF_1H, &src, ERR));
    assert_string_equal(src.provider, "massive");
    assert_string_equal(src.feed, "sip");
    assert_string_equal(src.adjustment, "split");

    /* a newer bar from elsewhere makes it the series' source; an upsert
     * without a source records "" */
    bk_bar late = mk_bar(T0 + N * 60 * S, 5);
    OK(bk_store_bars_put(s, "AAPL", BK_TF_1M, "csv", "file", "split", &late, 1, ERR));
    OK(bk_store_bars_source(s, "AAPL", BK_TF_1M, &src, ERR));
    assert_string_equal(src.provider, "csv");
    assert_string_equal(src.feed, "file");
    assert_string_equal(src.adjustment, "split");
    OK(bk_store_bars_upsert(s, "AAPL", BK_TF_1M, "sim", &late, 1, ERR));
    OK(bk_store_bars_source(s, "AAPL", BK_TF_1M, &src, ERR));
    assert_string_equal(src.provider, "sim");
    assert_string_equal(src.feed, "");
    assert_string_equal(src.adjustment, "");
}

/* ---- adopted coverage ---- */

static void t_coverage_add(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    fill_slice(s, "AAPL", BK_TF_1H, T0 + 5 * H, T0 + 6 * H, T0 + 10 * S);
    bk_bar more[2] = {mk_bar(T0, 10), mk_bar(T0 + 8 * H, 11)};
    OK(bk_store_bars_upsert(s, "AAPL", BK_TF_1H, "legacy", more, 2, ERR));
    bk_ivset add;
    bk_ivset_init(&add);
    OK(bk_store_coverage_add(s, "AAPL", BK_TF_1H, &add, "legacy", T0, ERR)); /* empty: no-op */
    bk_ivset_add(&add, T0, T0 + 2 * H);
    bk_ivset_add(&add, T0 + 4 * H, T0 + 5 * H); /* touches the committed [5h, 6h) */
    bk_ivset_add(&add, T0 + 8 * H, T0 + 9 * H);
    OK(bk_store_coverage_add(s, "AAPL", BK_TF_1H, &add, "legacy", T0 + 100 * S, ERR));
    bk_series x;
    expect_series(s, "AAPL", BK_TF_1H, &x);
    assert_int_equal(x.covered.n, 3);
    assert_int_equal(x.covered.v[1].from_us, T0 + 4 * H);
    assert_int_equal(x.covered.v[1].to_us, T0 + 6 * H);
    series_fini(&x);
    bk_coverage *cov;
    size_t n;
    OK(bk_store_coverage_list(s, "AAPL", BK_TF_1H, &cov, &n, ERR));
    assert_int_equal(n, 1);
    assert_int_equal(cov[0].from_us, T0); /* derived from the set, overwritten */
    assert_int_equal(cov[0].to_us, T0 + 9 * H);
    assert_int_equal(cov[0].last_success_us, T0 + 100 * S);
    assert_int_equal(cov[0].updated_us, T0 + 100 * S);
    assert_int_equal(cov[0].last_rows_written, 3); /* the series' stored bars */
    assert_string_equal(cov[0].last_provider, "legacy");
    assert_int_equal(cov[0].n_intervals, 3);
    assert_int_equal(cov[0].covered_us, 5 * H);
    free(cov);
    /* one interval over the holes merges everything */
    bk_ivset_clear(&add);
    bk_ivset_add(&add, T0 + H, T0 + 8 * H);
    OK(bk_store_coverage_add(s, "aapl", BK_TF_1H, &add, NULL, T0 + 200 * S, ERR));
    expect_series(s, "AAPL", BK_TF_1H, &x);
    assert_int_equal(x.covered.n, 1);
    assert_int_equal(x.covered.v[0].from_us, T0);
    assert_int_equal(x.covered.v[0].to_us, T0 + 9 * H);
    series_fini(&x);
    /* a series with no summary row yet gets one */
    OK(bk_store_coverage_add(s, "MSFT", BK_TF_D1, &add, "legacy", T0 + 300 * S, ERR));
    OK(bk_store_coverage_list(s, NULL, -1, &cov, &n, ERR));
    assert_int_equal(n, 2);
    assert_string_equal(cov[0].last_provider, "");
    assert_string_equal(cov[1].symbol, "MSFT");
    assert_int_equal(cov[1].from_us, T0 + H);
    assert_int_equal(cov[1].to_us, T0 + 8 * H);
    assert_int_equal(cov[1].last_rows_written, 0);
    free(cov);
    bk_err err = {0};
    assert_int_equal(bk_store_coverage_add(s, "AA PL", BK_TF_1H, &add, NULL, T0, &err), BK_EINVAL);
    bk_ivset_fini(&add);
}

static void t_bars_series(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    bk_bar h[3] = {mk_bar(T0, 1), mk_bar(T0 + H, 2), mk_bar(T0 + 5 * H, 3)};
    OK(bk_store_bars_upsert(s, "MSFT", BK_TF_1H, "sim", h, 3, ERR));
    OK(bk_store_bars_upsert(s, "AAPL", BK_TF_D1, "sim", h, 1, ERR));
    OK(bk_store_bars_upsert(s, "AAPL", BK_TF_1H, "sim", h + 1, 2, ERR));
    bk_bar_series *v;
    size_t n;
    OK(bk_store_bars_series(s, NULL, &v, &n, ERR));
    assert_int_equal(n, 3);
    assert_string_equal(v[0].symbol, "AAPL");
    assert_int_equal(v[0].tf, BK_TF_1H);
    assert_int_equal(v[0].n_bars, 2);
    assert_int_equal(v[0].first_us, T0 + H);
    assert_int_equal(v[0].last_us, T0 + 5 * H);
    assert_int_equal(v[1].tf, BK_TF_D1);
    assert_string_equal(v[2].symbol, "MSFT");
    assert_int_equal(v[2].n_bars, 3);
    free(v);
    OK(bk_store_bars_series(s, "msft", &v, &n, ERR));
    assert_int_equal(n, 1);
    assert_int_equal(v[0].first_us, T0);
    free(v);
    OK(bk_store_bars_series(s, "IBM", &v, &n, ERR));
    assert_int_equal(n, 0);
    free(v);
}

/* ---- forecasts ---- */

static bk_run forecast_run(bk_store *s, const char *sym, int64_t origin, int64_t now)
{
    bk_run r = mk_run(sym, BK_TF_D1, origin, origin + 1, 50);
    r.type = BK_JOB_FORECAST;
    assert_true(enqueue1(s, &r, now));
    bk_run c;
    claim_ok(s, "w", now, &c);
    assert_string_equal(c.id, r.id);
    return c;
}

static void mk_points(bk_fc_point *p, int n, int64_t origin, double base)
{
    for (int i = 0; i < n; i++)
        p[i] = (bk_fc_point){.step = i + 1,
                             .ts_us = origin + (i + 1) * 24 * H,
                             .point = base,
                             .lo80 = base - 1,
                             .hi80 = base + 1,
                             .lo95 = base - 2,
                             .hi95 = base + 2};
}

/* A forecast run's commit: the run's success and the forecast in one
 * transaction (a lost lease writes neither), each new forecast replacing the
 * series' rows whole; the steps whose bars landed are scored (inside the
 * bands, errors, the naive walk's), and the scores outlive the forecast. */
static void t_forecasts(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    const int64_t o1 = T0 - T0 % (24 * H); /* a day's label */
    bk_fc_meta m;
    bk_fc_point *pts = NULL;
    size_t n = 0;
    bk_err err = {0};
    assert_int_equal(bk_store_fc_get(s, "AAPL", BK_TF_D1, &m, &pts, &n, &err), BK_ENOENT);
    bk_def d = mk_def("AAPL", BK_TF_D1, 90, 50);
    d.type = BK_JOB_FORECAST;
    OK(bk_store_def_put(s, &d, BK_PUT_SET, NULL, T0, ERR));
    bk_run r1 = forecast_run(s, "AAPL", o1, T0);
    bk_fc_point p1[3];
    mk_points(p1, 3, o1, 100);
    bk_fc_commit c = {.run_id = r1.id,
                      .owner = "w",
                      .symbol = "aapl",
                      .tf = BK_TF_D1,
                      .model = "garch11t-cal",
                      .origin_us = o1,
                      .origin_close = 99,
                      .n_bars = 62,
                      .pts = p1,
                      .n_pts = 3,
                      .now_us = T0 + S};
    /* another owner: nothing written, the run still running */
    c.owner = "thief";
    assert_int_equal(bk_store_fc_commit(s, &c, &err), BK_ELEASE);
    assert_int_equal(bk_store_fc_get(s, "AAPL", BK_TF_D1, &m, NULL, NULL, &err), BK_ENOENT);
    assert_int_equal(get_run(s, r1.id).status, BK_ST_RUNNING);
    c.owner = "w";
    OK(bk_store_fc_commit(s, &c, ERR));
    bk_run done = get_run(s, r1.id);
    assert_int_equal(done.status, BK_ST_SUCCESS);
    assert_int_equal(done.rows_written, 3);
    OK(bk_store_fc_get(s, "AAPL", BK_TF_D1, &m, &pts, &n, ERR));
    assert_string_equal(m.symbol, "AAPL");
    assert_string_equal(m.model, "garch11t-cal");
    assert_int_equal(m.origin_us, o1);
    assert_int_equal(m.made_us, T0 + S);
    assert_int_equal(m.n_bars, 62);
    assert_int_equal(m.horizon, 3);
    assert_string_equal(m.run_id, r1.id);
    assert_int_equal(n, 3);
    assert_int_equal(pts[2].step, 3);
    assert_int_equal(pts[2].ts_us, o1 + 72 * H);
    assert_true(pts[2].lo95 == 98 && pts[2].hi80 == 101);
    free(pts);
    /* committed again (the run is done): a lost lease, nothing changes */
    assert_int_equal(bk_store_fc_commit(s, &c, &err), BK_ELEASE);
    /* the real bars of steps 1 and 2 land: inside 80, inside 95 only */
    bk_bar b[2] = {mk_bar(o1 + 24 * H, 100), mk_bar(o1 + 48 * H, 101)}; /* closes +0.5 */
    OK(bk_store_bars_upsert(s, "AAPL", BK_TF_D1, "sim", b, 2, ERR));
    size_t scored = 0;
    OK(bk_store_fc_score(s, "AAPL", BK_TF_D1, T0 + 2 * S, &scored, ERR));
    assert_int_equal(scored, 2);
    OK(bk_store_fc_score(s, "AAPL", BK_TF_D1, T0 + 3 * S, &scored, ERR));
    assert_int_equal(scored, 0); /* once */
    /* the next forecast replaces the rows whole (2 steps now, another origin) */
    const int64_t o2 = o1 + 48 * H;
    bk_run r2 = forecast_run(s, "AAPL", o2, T0 + 10 * S);
    bk_fc_point p2[2];
    mk_points(p2, 2, o2, 101.5);
    c.run_id = r2.id;
    c.origin_us = o2;
    c.origin_close = 101.5;
    c.pts = p2;
    c.n_pts = 2;
    c.now_us = T0 + 11 * S;
    OK(bk_store_fc_commit(s, &c, ERR));
    OK(bk_store_fc_get(s, "AAPL", BK_TF_D1, &m, &pts, &n, ERR));
    assert_int_equal(n, 2);
    assert_int_equal(m.origin_us, o2);
    assert_int_equal(pts[0].ts_us, o2 + 24 * H);
    free(pts);
    bk_fc_meta *list;
    OK(bk_store_fc_list(s, &list, &n, ERR));
    assert_int_equal(n, 1);
    assert_int_equal(list[0].tf, BK_TF_D1);
    assert_int_equal(list[0].horizon, 2);
    free(list);
    /* the scores stayed: step 1 inside both, step 2 inside 95 only */
    bk_fc_stat *st;
    OK(bk_store_fc_stats(s, "AAPL", BK_TF_D1, 0, &st, &n, ERR));
    assert_int_equal(n, 2);
    assert_int_equal(st[0].step, 1);
    assert_int_equal(st[0].n, 1);
    assert_true(st[0].coverage80 == 1 && st[0].coverage95 == 1);
    assert_true(st[0].mae == 0.5 && st[0].naive_mae == 1.5);
    assert_true(st[0].rel_mae > 0.333 && st[0].rel_mae < 0.334);
    assert_true(st[1].coverage80 == 0 && st[1].coverage95 == 1);
    assert_true(st[1].mae == 1.5 && st[1].naive_mae == 2.5);
    free(st);
    /* a new bar scores the new forecast's step 1; --last 1 sees only it */
    bk_bar b3 = mk_bar(o2 + 24 * H, 103.5); /* close 104 */
    OK(bk_store_bars_upsert(s, "AAPL", BK_TF_D1, "sim", &b3, 1, ERR));
    OK(bk_store_fc_score(s, "AAPL", BK_TF_D1, T0 + 12 * S, &scored, ERR));
    assert_int_equal(scored, 1);
    OK(bk_store_fc_stats(s, NULL, -1, 1, &st, &n, ERR));
    assert_int_equal(n, 1);
    assert_true(st[0].coverage95 == 0 && st[0].mae == 2.5);
    free(st);
    OK(bk_store_fc_stats(s, NULL, -1, 0, &st, &n, ERR));
    assert_int_equal(n, 2);
    assert_int_equal(st[0].n, 2);
    free(st);
    /* a revived run of an older origin succeeds but never replaces the
     * newer forecast */
    bk_run r3 = forecast_run(s, "AAPL", o1, T0 + 13 * S);
    c.run_id = r3.id;
    c.origin_us = o1;
    c.now_us = T0 + 13 * S;
    OK(bk_store_fc_commit(s, &c, ERR));
    assert_int_equal(get_run(s, r3.id).status, BK_ST_SUCCESS);
    OK(bk_store_fc_get(s, "AAPL", BK_TF_D1, &m, NULL, NULL, ERR));
    assert_int_equal(m.origin_us, o2);
    /* bad input */
    c.pts = NULL;
    assert_int_equal(bk_store_fc_commit(s, &c, &err), BK_EINVAL);
    p2[1].hi95 = NAN;
    c.pts = p2;
    assert_int_equal(bk_store_fc_commit(s, &c, &err), BK_EINVAL);
    mk_points(p2, 2, o2 + 24 * H, 104);
    /* the definition removed while a run of a newer origin is running: the
     * forecast is no longer served, the run's commit stores none, and the
     * scores stay as history (that series' stats) but leave the live list */
    const int64_t o3 = o2 + 24 * H;
    bk_run r4 = forecast_run(s, "AAPL", o3, T0 + 14 * S);
    OK(bk_store_def_remove(s, "AAPL", BK_TF_D1, BK_JOB_FORECAST, T0 + 15 * S, ERR));
    assert_int_equal(bk_store_fc_get(s, "AAPL", BK_TF_D1, &m, NULL, NULL, &err), BK_ENOENT);
    c.run_id = r4.id;
    c.origin_us = o3;
    c.now_us = T0 + 16 * S;
    OK(bk_store_fc_commit(s, &c, ERR));
    assert_int_equal(bk_store_fc_get(s, "AAPL", BK_TF_D1, &m, NULL, NULL, &err), BK_ENOENT);
    OK(bk_store_fc_list(s, &list, &n, ERR));
    assert_int_equal(n, 0);
    free(list);
    OK(bk_store_fc_stats(s, NULL, -1, 0, &st, &n, ERR));
    assert_int_equal(n, 0);
    free(st);
    OK(bk_store_fc_stats(s, "AAPL", BK_TF_D1, 0, &st, &n, ERR));
    assert_int_equal(n, 2);
    free(st);
}

/* ---- suites ---- */

static const struct CMUnitTest generic[] = {
    FX(t_series_load), FX(t_series_load_many), FX(t_series_load_snapshot), FX(t_bars),
    FX(t_bars_source), FX(t_coverage_add),     FX(t_bars_series),          FX(t_forecasts),
};

int main(void)
{
    const store_suite suite = {
        .name = "data",
        .generic = generic,
        .n_generic = BK_ARRAY_LEN(generic),
    };
    return store_suite_main(&suite);
}
