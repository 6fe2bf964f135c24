/*
 * test_fc.c — the forecast model (src/fc) against values computed here,
 * independently of the code under test: the Student-t density from the
 * textbook (unscaled) formula and by quadrature, the GARCH variance recursion
 * and likelihood by hand on a three-return series, the h-step variance from
 * the one-step expectation recursion, the calibration quantiles recomputed
 * from the fitted parameters, a fit recovering simulated parameters, the
 * backtest's walk-forward (no look-ahead, row counts, coverage on simulated
 * data), bad input, and the calendar of forecast timestamps (holidays, early
 * closes, DST, weekly bars; never closed time).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cal/cal.h"
#include "core/clock.h"
#include "fc/fc.h"
#include "model/time.h"

#define EST 5
#define EDT 4

static int64_t ny(int y, int mo, int d, int h, int mi, int behind)
{
    return (int64_t)bk_days_from_civil(y, mo, d) * BK_US_PER_DAY + (h + behind) * BK_US_PER_HOUR +
           mi * BK_US_PER_MIN;
}

/* Deterministic uniform (0, 1) and standard normal. */
static uint64_t rng_state = 88172645463325252ULL;
static double unif(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}
static double gauss(void)
{
    return sqrt(-2 * log(unif())) * cos(2 * M_PI * unif());
}
/* Student t with nu (integer) degrees of freedom, scaled to unit variance. */
static double student(int nu)
{
    double chi = 0;
    for (int i = 0; i < nu; i++) {
        double g = gauss();
        chi += g * g;
    }
    return gauss() / sqrt(chi / nu) * sqrt((nu - 2.0) / nu);
}

/* Closes of a GARCH(1,1)-t path. */
static double *garch_path(size_t n, double omega, double alpha, double beta, int nu)
{
    double *c = malloc(n * sizeof *c), v = omega / (1 - alpha - beta);
    c[0] = 100;
    for (size_t i = 1; i < n; i++) {
        double e = sqrt(v) * student(nu);
        c[i] = c[i - 1] * exp(e);
        v = omega + alpha * e * e + beta * v;
    }
    return c;
}

/* Textbook t density (unit scale): Gamma((v+1)/2) / (sqrt(v pi) Gamma(v/2))
 * (1 + x^2/v)^(-(v+1)/2). */
static double t_pdf_std(double x, double nu)
{
    return exp(lgamma((nu + 1) / 2) - lgamma(nu / 2)) / sqrt(nu * M_PI) *
           pow(1 + x * x / nu, -(nu + 1) / 2);
}

static void test_t_density(void **state)
{
    (void)state;
    /* at 0 with nu = 5: 8 / (3 pi sqrt 5) for the unit-scale t, times
     * sqrt(5/3) for unit variance = 8 / (3 pi sqrt 3) */
    assert_true(fabs(exp(bk_fc_t_logpdf(0, 5)) - 8 / (3 * M_PI * sqrt(3))) < 1e-12);
    double k = sqrt(7.0 / 5.0); /* nu = 7: z = x / k */
    assert_true(fabs(exp(bk_fc_t_logpdf(1.3, 7)) - k * t_pdf_std(1.3 * k, 7)) < 1e-12);
    /* unit mass and unit variance by quadrature */
    double m0 = 0, m2 = 0, dz = 0.001;
    for (double z = -400; z <= 400; z += dz) {
        double f = exp(bk_fc_t_logpdf(z, 6));
        m0 += f * dz;
        m2 += z * z * f * dz;
    }
    assert_true(fabs(m0 - 1) < 1e-6);
    assert_true(fabs(m2 - 1) < 1e-3);
}

static const double R3[] = {0.01, -0.02, 0.03};

static void test_filter_by_hand(void **state)
{
    (void)state;
    bk_fc_garch g = {.mu = 0, .omega = 1e-5, .alpha = 0.1, .beta = 0.8, .nu = 5};
    double v[3];
    double next = bk_fc_garch_filter(R3, 3, &g, 1e-4, v);
    /* 1e-5 + 0.1 e^2 + 0.8 v */
    assert_true(fabs(v[0] - 1e-4) < 1e-18);
    assert_true(fabs(v[1] - 1e-4) < 1e-18);    /* 1e-5 + 1e-5 + 8e-5 */
    assert_true(fabs(v[2] - 1.3e-4) < 1e-18);  /* 1e-5 + 4e-5 + 8e-5 */
    assert_true(fabs(next - 2.04e-4) < 1e-18); /* 1e-5 + 9e-5 + 1.04e-4 */
}

static void test_loglik_by_hand(void **state)
{
    (void)state;
    bk_fc_garch g = {.mu = 0.001, .omega = 2e-5, .alpha = 0.15, .beta = 0.7, .nu = 6};
    /* by hand: var0 = mean of (r - mu)^2, then the recursion; the density of
     * e with variance v is that of the unit-scale t at e / (s sqrt((nu-2)/nu))
     * divided by that scale */
    double e[3], v = 0, ll = 0;
    for (int i = 0; i < 3; i++) {
        e[i] = R3[i] - g.mu;
        v += e[i] * e[i] / 3;
    }
    for (int i = 0; i < 3; i++) {
        double scale = sqrt(v * (g.nu - 2) / g.nu);
        ll += log(t_pdf_std(e[i] / scale, g.nu) / scale);
        v = g.omega + g.alpha * e[i] * e[i] + g.beta * v;
    }
    assert_true(fabs(bk_fc_garch_loglik(R3, 3, &g) - ll / 3) < 1e-10);
    g.alpha = 0.4, g.beta = 0.6; /* alpha + beta = 1: invalid */
    assert_true(isinf(bk_fc_garch_loglik(R3, 3, &g)));
}

static void test_hvar(void **state)
{
    (void)state;
    bk_fc_garch g = {.omega = 1e-5, .alpha = 0.1, .beta = 0.8, .nu = 5};
    double out[40];
    bk_fc_garch_hvar(&g, 2e-4, 40, out);
    /* E[v_{k+1}] = omega + (a + b) E[v_k]: 2e-4, 1.9e-4, 1.81e-4 */
    assert_true(fabs(out[0] - 2e-4) < 1e-18);
    assert_true(fabs(out[1] - 3.9e-4) < 1e-17);
    assert_true(fabs(out[2] - 5.71e-4) < 1e-17);
    double ev = 2e-4, cum = 0;
    for (int k = 0; k < 40; k++) {
        cum += ev;
        assert_true(fabs(out[k] - cum) < 1e-15);
        ev = g.omega + (g.alpha + g.beta) * ev;
    }
}

static void test_quantile(void **state)
{
    (void)state;
    double x[] = {5, 1, 4, 2, 3}, s[5];
    assert_true(fabs(bk_fc_quantile(x, 5, 0.5, s) - 3) < 1e-12);
    assert_true(fabs(bk_fc_quantile(x, 5, 0.8, s) - 4.2) < 1e-12);
    assert_true(fabs(bk_fc_quantile(x, 5, 0.95, s) - 4.8) < 1e-12);
    assert_true(fabs(bk_fc_quantile(x, 5, 1, s) - 5) < 1e-12);
    assert_true(isnan(bk_fc_quantile(x, 0, 0.5, s)));
}

static void test_fit_recovers(void **state)
{
    (void)state;
    size_t n = 4000;
    double *c = garch_path(n, 2e-6, 0.08, 0.9, 5);
    double *r = malloc((n - 1) * sizeof *r);
    for (size_t i = 0; i + 1 < n; i++)
        r[i] = log(c[i + 1] / c[i]);
    bk_fc_garch g;
    double ll;
    bk_err err = {0};
    assert_int_equal(bk_fc_garch_fit(r, n - 1, &g, &ll, &err), 0);
    assert_true(fabs(g.alpha - 0.08) < 0.04);
    assert_true(fabs(g.beta - 0.9) < 0.05);
    assert_true(g.nu > 3.5 && g.nu < 8);
    assert_true(g.alpha + g.beta < 1);
    /* a maximum: no better than at the fit, including at nearby points */
    assert_true(fabs(ll - bk_fc_garch_loglik(r, n - 1, &g)) < 1e-12);
    bk_fc_garch h = g;
    h.alpha *= 1.1, h.omega = g.omega * (1 - h.alpha - h.beta) / (1 - g.alpha - g.beta);
    assert_true(bk_fc_garch_loglik(r, n - 1, &h) <= ll);
    h = g, h.nu += 0.5;
    assert_true(bk_fc_garch_loglik(r, n - 1, &h) <= ll);
    free(r);
    free(c);
}

/* The forecast's step-1 quantiles are the 0.80 / 0.95 quantiles of
 * |r| / sd over the last calib_window origins, sd from the fitted
 * parameters' recursion over the fit window: recomputed here. */
static void test_calibration_quantiles(void **state)
{
    (void)state;
    size_t n = 700;
    double *c = garch_path(n, 4e-6, 0.1, 0.85, 4);
    bk_fc_opts o = {.calib_window = 200};
    bk_fc_step steps[3];
    bk_fc_result res = {.steps = steps};
    bk_err err = {0};
    assert_int_equal(bk_fc_fit_forecast(c, n, 3, &o, &res, &err), 0);
    assert_int_equal(res.n_fit, (int)n - 1);
    assert_int_equal(res.n_calib, 200);
    const bk_fc_garch *g = &res.params;
    double v = 0, z[700], s[700];
    for (size_t i = 0; i + 1 < n; i++) {
        double e = log(c[i + 1] / c[i]) - g->mu;
        v += e * e / (double)(n - 1);
    }
    size_t m = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        double r = log(c[i + 1] / c[i]);
        if (i + 1 + 200 >= n) /* the last 200 origins with a closed target */
            z[m++] = fabs(r) / sqrt(v);
        v = g->omega + g->alpha * (r - g->mu) * (r - g->mu) + g->beta * v;
    }
    assert_int_equal(m, 200);
    assert_true(fabs(res.q80_1 - bk_fc_quantile(z, m, 0.8, s)) < 1e-9);
    assert_true(fabs(res.q95_1 - bk_fc_quantile(z, m, 0.95, s)) < 1e-9);
    /* the bands: point = last close, symmetric in log, sd of step 1 = sqrt(v) */
    assert_true(fabs(steps[0].point - c[n - 1]) < 1e-12);
    assert_true(fabs(steps[0].sd - sqrt(v)) < 1e-12);
    assert_true(fabs(log(steps[0].hi95 / steps[0].point) + log(steps[0].lo95 / steps[0].point)) <
                1e-12);
    for (int h = 0; h < 3; h++)
        assert_true(steps[h].lo95 < steps[h].lo80 && steps[h].lo80 < steps[h].point &&
                    steps[h].point < steps[h].hi80 && steps[h].hi80 < steps[h].hi95);
    assert_true(steps[2].sd > steps[0].sd);
    free(c);
}

typedef struct rows {
    bk_fc_row *r;
    size_t n, cap;
} rows;

static int collect(void *ctx, const bk_fc_row *row)
{
    rows *a = ctx;
    if (a->n == a->cap)
        a->r = realloc(a->r, (a->cap = a->cap * 2 + 64) * sizeof *a->r);
    a->r[a->n++] = *row;
    return 0;
}

/* Rows for the same (origin, step) are identical whether or not later bars
 * exist: the walk never looks ahead. Row counts and coverage too. */
static void test_backtest_walk_forward(void **state)
{
    (void)state;
    size_t n = 900, m = 700;
    int H = 5, start = 300;
    double *c = garch_path(n, 3e-6, 0.1, 0.85, 5);
    bk_fc_opts o = {.calib_window = 150, .refit_every = 50, .fit_window = 500};
    rows full = {0}, part = {0};
    bk_err err = {0};
    assert_int_equal(bk_fc_backtest(c, n, H, start, &o, collect, &full, &err), 0);
    assert_int_equal(bk_fc_backtest(c, m, H, start, &o, collect, &part, &err), 0);
    /* origins start..n-2, each with min(H, n-1-origin) steps */
    size_t want = 0;
    for (size_t t = (size_t)start; t + 1 < n; t++)
        want += (n - 1 - t) < (size_t)H ? n - 1 - t : (size_t)H;
    assert_int_equal(full.n, want);
    for (size_t i = 0; i < part.n; i++) { /* full has H rows per origin until n-1-H */
        const bk_fc_row *p = &part.r[i];
        const bk_fc_row *f = &full.r[(size_t)(p->origin - start) * (size_t)H + (size_t)p->step - 1];
        assert_int_equal(p->origin, f->origin);
        assert_int_equal(p->step, f->step);
        assert_true(p->hi95 == f->hi95 && p->lo80 == f->lo80 && p->point == f->point);
    }
    bk_fc_score sc[5] = {{0}};
    for (size_t i = 0; i < full.n; i++) {
        const bk_fc_row *r = &full.r[i];
        assert_true(r->actual == c[r->origin + r->step]);
        bk_fc_score_add(&sc[r->step - 1], r, c[r->origin]);
    }
    double cov80 = (double)sc[0].in80 / (double)sc[0].n,
           cov95 = (double)sc[0].in95 / (double)sc[0].n;
    assert_true(cov80 > 0.72 && cov80 < 0.88);
    assert_true(cov95 > 0.90 && cov95 < 0.99);
    assert_true(fabs(sc[0].abs_err - sc[0].naive_abs_err) < 1e-9);
    free(full.r);
    free(part.r);
    free(c);
}

static void test_bad_input(void **state)
{
    (void)state;
    double c[100];
    for (int i = 0; i < 100; i++)
        c[i] = 100 + (i % 7) * 0.5;
    bk_fc_step steps[5];
    bk_fc_result res = {.steps = steps};
    bk_err err = {0};
    assert_int_equal(bk_fc_fit_forecast(c, 59, 5, NULL, &res, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "too little history"));
    assert_int_equal(bk_fc_fit_forecast(c, 100, 0, NULL, &res, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "horizon"));
    double flat[80];
    for (int i = 0; i < 80; i++)
        flat[i] = 42;
    assert_int_equal(bk_fc_fit_forecast(flat, 80, 5, NULL, &res, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "flat series"));
    c[50] = 0;
    assert_int_equal(bk_fc_fit_forecast(c, 100, 5, NULL, &res, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "bar 50"));
    c[50] = NAN; /* a hole in the closes */
    assert_int_equal(bk_fc_fit_forecast(c, 100, 5, NULL, &res, &err), BK_EINVAL);
    c[50] = 100;
    assert_int_equal(bk_fc_fit_forecast(c, 100, 5, NULL, &res, &err), 0);
    assert_int_equal(bk_fc_backtest(c, 100, 5, 10, NULL, collect, NULL, &err), BK_EINVAL);
    assert_int_equal(bk_fc_backtest(c, 100, 5, 99, NULL, collect, NULL, &err), BK_EINVAL);
}

static void next3(bk_tf tf, int64_t last, int64_t a, int64_t b, int64_t c)
{
    int64_t out[3];
    bk_err err = {0};
    assert_int_equal(bk_fc_next_ts(tf, BK_ANCHOR_SESSION, last, 3, out, &err), 0);
    assert_true(out[0] == a);
    assert_true(out[1] == b);
    assert_true(out[2] == c);
}

static void test_calendar_steps(void **state)
{
    (void)state;
    /* d1 over Christmas 2025 (Thursday): early close Wed 24, closed 25 */
    next3(BK_TF_D1, ny(2025, 12, 23, 0, 0, EST), ny(2025, 12, 24, 0, 0, EST),
          ny(2025, 12, 26, 0, 0, EST), ny(2025, 12, 29, 0, 0, EST));
    /* d1 over Thanksgiving 2026 (Thursday 26) */
    next3(BK_TF_D1, ny(2026, 11, 25, 0, 0, EST), ny(2026, 11, 27, 0, 0, EST),
          ny(2026, 11, 30, 0, 0, EST), ny(2026, 12, 1, 0, 0, EST));
    /* 1h from the last bar of the early close after Thanksgiving 2025
     * (12:30-13:00): next session Monday, 09:30 and 10:30 */
    next3(BK_TF_1H, ny(2025, 11, 28, 11, 30, EST), ny(2025, 11, 28, 12, 30, EST),
          ny(2025, 12, 1, 9, 30, EST), ny(2025, 12, 1, 10, 30, EST));
    /* 30m across the spring DST change (Sunday 2025-03-09) */
    next3(BK_TF_30M, ny(2025, 3, 7, 15, 0, EST), ny(2025, 3, 7, 15, 30, EST),
          ny(2025, 3, 10, 9, 30, EDT), ny(2025, 3, 10, 10, 0, EDT));
    /* 1h across the autumn change (Sunday 2025-11-02), and clock-anchored */
    next3(BK_TF_1H, ny(2025, 10, 31, 13, 30, EDT), ny(2025, 10, 31, 14, 30, EDT),
          ny(2025, 10, 31, 15, 30, EDT), ny(2025, 11, 3, 9, 30, EST));
    int64_t clk[2];
    bk_err e2 = {0};
    assert_int_equal(
        bk_fc_next_ts(BK_TF_1H, BK_ANCHOR_CLOCK, ny(2025, 10, 31, 15, 0, EDT), 2, clk, &e2), 0);
    assert_true(clk[0] == ny(2025, 11, 3, 9, 0, EST) && clk[1] == ny(2025, 11, 3, 10, 0, EST));
    /* w1: labels are the weeks' Mondays, also a holiday Monday (MLK 2026) */
    next3(BK_TF_W1, ny(2026, 1, 5, 0, 0, EST), ny(2026, 1, 12, 0, 0, EST),
          ny(2026, 1, 19, 0, 0, EST), ny(2026, 1, 26, 0, 0, EST));
    /* never closed time: 2000 15m steps from a Friday close */
    int64_t out[2000];
    bk_err err = {0};
    assert_int_equal(
        bk_fc_next_ts(BK_TF_15M, BK_ANCHOR_SESSION, ny(2026, 12, 18, 15, 45, EST), 2000, out, &err),
        BK_EINVAL); /* over the longest horizon */
    assert_int_equal(bk_fc_next_ts(BK_TF_15M, BK_ANCHOR_SESSION, ny(2026, 12, 18, 15, 45, EST),
                                   BK_FC_MAX_HORIZON, out, &err),
                     0);
    for (int i = 0; i < BK_FC_MAX_HORIZON; i++) {
        assert_true(bk_cal_is_open(out[i], false));
        assert_true(i == 0 || out[i] > out[i - 1]);
    }
    /* 4h, session-anchored (09:30-13:30, 13:30-16:00): over Thanksgiving
     * 2025 (closed Thursday, Friday 09:30-13:00 one bar) */
    next3(BK_TF_4H, ny(2025, 11, 26, 13, 30, EST), ny(2025, 11, 28, 9, 30, EST),
          ny(2025, 12, 1, 9, 30, EST), ny(2025, 12, 1, 13, 30, EST));
    /* every intraday timeframe and anchor, from the last bar before an
     * early close, a holiday, a weekend and the autumn DST change: each
     * step is the label of an expected bar (as fetched bars are stamped,
     * bk_cal_bar_at) and no expected bar is skipped between steps */
    const bk_tf tfs[] = {BK_TF_1M, BK_TF_5M, BK_TF_15M, BK_TF_1H, BK_TF_4H};
    const int64_t starts[] = {ny(2025, 11, 26, 9, 30, EST), ny(2025, 10, 30, 9, 30, EDT)};
    for (size_t t = 0; t < sizeof tfs / sizeof tfs[0]; t++)
        for (int an = 0; an < 2; an++)
            for (size_t k = 0; k < 2; k++) {
                bk_anchor anchor = an ? BK_ANCHOR_CLOCK : BK_ANCHOR_SESSION;
                bk_calbar cb;
                int64_t last = starts[k];
                if (!bk_cal_bar_at(tfs[t], anchor, last, &cb)) { /* clock-anchored 4h: 08:00 */
                    size_t m = bk_cal_bars(tfs[t], anchor, last, last + 1, &cb, 1);
                    assert_int_equal(m, 1);
                    last = cb.ts_us;
                }
                int64_t steps[120];
                assert_int_equal(bk_fc_next_ts(tfs[t], anchor, last, 120, steps, &err), 0);
                for (int i = 0; i < 120; i++) {
                    int64_t prev = i ? steps[i - 1] : last;
                    assert_true(bk_cal_bar_at(tfs[t], anchor, steps[i], &cb));
                    assert_true(cb.ts_us == steps[i] && steps[i] > prev);
                    bk_calbar p;
                    assert_true(bk_cal_bar_at(tfs[t], anchor, prev, &p));
                    assert_int_equal(bk_cal_bars(tfs[t], anchor, p.to_us, steps[i], NULL, 0), 0);
                }
            }
    /* the default horizons: 20 daily or weekly bars, one regular session
     * of intraday bars (390 minutes, the last bar partial for 1h and 4h) */
    assert_int_equal(bk_fc_default_horizon(BK_TF_D1), 20);
    assert_int_equal(bk_fc_default_horizon(BK_TF_W1), 20);
    assert_int_equal(bk_fc_default_horizon(BK_TF_1M), 390);
    assert_int_equal(bk_fc_default_horizon(BK_TF_15M), 26);
    assert_int_equal(bk_fc_default_horizon(BK_TF_1H), 7);
    assert_int_equal(bk_fc_default_horizon(BK_TF_4H), 2);
    /* the calendar ends */
    assert_int_equal(
        bk_fc_next_ts(BK_TF_D1, BK_ANCHOR_SESSION, ny(2099, 12, 29, 0, 0, EST), 5, out, &err),
        BK_ERANGE);
}

/* Hostile but valid series: a forecast is either an error with a message or
 * all finite, ordered bands of some width (lo95 <= lo80 < hi80 <= hi95,
 * lo95 > 0); the backtest the same on every row. */
static void check_finite(const double *c, size_t n, int horizon)
{
    bk_fc_result res = {.steps = calloc((size_t)horizon, sizeof *res.steps)};
    assert_non_null(res.steps);
    bk_err err = {0};
    int rc = bk_fc_fit_forecast(c, n, horizon, NULL, &res, &err);
    if (rc) {
        assert_int_equal(rc, BK_EINVAL);
        assert_true(err.msg[0] != '\0');
    }
    for (int i = 0; rc == 0 && i < horizon; i++) {
        const bk_fc_step *st = &res.steps[i];
        double v[] = {st->lo95, st->lo80, st->point, st->hi80, st->hi95, st->sd};
        for (size_t k = 0; k < 6; k++)
            assert_true(isfinite(v[k]));
        assert_true(st->lo95 > 0 && st->lo95 <= st->lo80 && st->lo80 <= st->point);
        assert_true(st->point <= st->hi80 && st->hi80 <= st->hi95);
        assert_true(st->lo80 < st->hi80); /* a band with no width is no forecast */
    }
    free(res.steps);
}

static int finite_row(void *ctx, const bk_fc_row *r)
{
    (void)ctx;
    double v[] = {r->lo95, r->lo80, r->point, r->hi80, r->hi95};
    for (size_t k = 0; k < 5; k++)
        if (!isfinite(v[k]) || !(v[k] > 0))
            return 1;
    return r->lo95 <= r->lo80 && r->lo80 <= r->hi80 && r->hi80 <= r->hi95 ? 0 : 1;
}

static void test_numerics_hostile(void **state)
{
    (void)state;
    enum { N = 400 };
    double *c = malloc(N * sizeof *c);
    assert_non_null(c);
    bk_err err = {0};
    for (int kind = 0; kind < 8; kind++) {
        double p = 100;
        for (int i = 0; i < N; i++) {
            double r = 0.01 * gauss();
            switch (kind) {
            case 0: /* a huge jump (x1000) in the middle and one at the end */
                if (i == N / 2 || i == N - 1)
                    r = log(1000.0);
                break;
            case 1: /* 300 identical closes, then moves */
                r = i < 300 ? 0 : r;
                break;
            case 2: /* prices near 0 */
                if (i == 0)
                    p = 1e-6;
                break;
            case 3: /* 10^6 scale */
                if (i == 0)
                    p = 1e6;
                break;
            case 4: /* a single move in a flat series */
                r = i == N - 5 ? 0.05 : 0;
                break;
            case 6: /* wild swings between 1e-100 and 1e100: bands overflow */
                r = i % 2 ? 460 * (1 + 0.01 * gauss()) : -460 * (1 + 0.01 * gauss());
                break;
            case 7: /* an illiquid series: one close in 20 moves */
                r = i % 20 == 7 ? r : 0;
                break;
            default: /* integrated GARCH: variance close to explosive */
                r = i ? 0.01 * gauss() * (1 + 5 * fabs(c[i - 1] / 1e2 - 1)) : 0;
                break;
            }
            p = i ? c[i - 1] * exp(r) : p;
            c[i] = p;
        }
        check_finite(c, N, 1);
        check_finite(c, N, BK_FC_MAX_HORIZON);
        int rc = bk_fc_backtest(c, N, 20, 100, NULL, finite_row, NULL, &err);
        assert_true(rc == 0 || (rc == BK_EINVAL && err.msg[0]));
    }
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_t_density),
        cmocka_unit_test(test_filter_by_hand),
        cmocka_unit_test(test_loglik_by_hand),
        cmocka_unit_test(test_hvar),
        cmocka_unit_test(test_quantile),
        cmocka_unit_test(test_fit_recovers),
        cmocka_unit_test(test_calibration_quantiles),
        cmocka_unit_test(test_backtest_walk_forward),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_calendar_steps),
        cmocka_unit_test(test_numerics_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
