/*
 * fc_model.c — forecasts and the walk-forward backtest on top of the GARCH
 * numerics (fc_garch.c), with interval quantiles calibrated on the series'
 * own standardized h-step errors.
 *
 * Calibration: for origin o and step h the standardized error is
 * z = |log(close[o+h] / point_o)| / sd_h(o), sd_h the GARCH h-step sd. The
 * 80% (95%) half-width at a new origin is the 0.80 (0.95) quantile of the z
 * of the last calib_window origins whose target has closed, times that
 * origin's sd_h. Each step keeps its window twice, in arrival order (a ring)
 * and sorted, so a new z costs one binary search and one memmove and a
 * quantile is O(1). With fewer than CALIB_MIN errors for a step, the
 * quantiles of the fit's one-step standardized residuals stand in.
 */
#include "fc/fc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CALIB_MIN 50

static void opts_fill(const bk_fc_opts *o, bk_fc_opts *out)
{
    bk_fc_opts d = o ? *o : (bk_fc_opts){0};
    if (d.fit_window <= 0)
        d.fit_window = 2000;
    if (d.fit_window < BK_FC_MIN_BARS - 1)
        d.fit_window = BK_FC_MIN_BARS - 1;
    if (d.calib_window <= 0)
        d.calib_window = 500;
    if (d.refit_every <= 0)
        d.refit_every = 25;
    if (!(d.drift_shrink > 0))
        d.drift_shrink = 0;
    if (d.drift_shrink > 1)
        d.drift_shrink = 1;
    *out = d;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double quantile_sorted(const double *x, size_t n, double p)
{
    if (n == 0)
        return NAN;
    double pos = p * (double)(n - 1);
    size_t i = (size_t)pos;
    if (i + 1 >= n)
        return x[n - 1];
    return x[i] + (pos - (double)i) * (x[i + 1] - x[i]);
}

double bk_fc_quantile(const double *x, size_t n, double p, double *scratch)
{
    memcpy(scratch, x, n * sizeof *x);
    qsort(scratch, n, sizeof *scratch, cmp_double);
    return quantile_sorted(scratch, n, p);
}

int bk_fc_check_closes(const double *closes, size_t n, bk_err *err)
{
    if (n < BK_FC_MIN_BARS)
        return bk_err_set(err, BK_EINVAL, "too little history: %zu bars, a forecast needs %d", n,
                          BK_FC_MIN_BARS);
    size_t moved = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(closes[i]) || closes[i] <= 0)
            return bk_err_set(err, BK_EINVAL, "bar %zu has close %g: prices must be finite and > 0",
                              i, closes[i]);
        moved += i > 0 && closes[i] != closes[i - 1];
    }
    if (!moved)
        return bk_err_set(err, BK_EINVAL, "flat series: every close is %g, no variance to forecast",
                          closes[0]);
    /* the quantiles are those of the series' own errors: when most closes
     * repeat the last, the 80% band would have no width */
    if (moved * 100 < (n - 1) * BK_FC_MIN_MOVED_PCT)
        return bk_err_set(err, BK_EINVAL,
                          "nearly flat series: only %zu of %zu closes moved (a forecast needs "
                          "%d%%), its bands would have no width",
                          moved, n - 1, BK_FC_MIN_MOVED_PCT);
    return 0;
}

/* A step the caller may use: finite, 0 < lo95 <= ... <= hi95; else
 * BK_EINVAL saying the bands overflow (a volatility exp() cannot carry). */
static int step_ok(const bk_fc_step *st, bk_err *err)
{
    const double v[] = {st->point, st->lo80, st->hi80, st->lo95, st->hi95, st->sd};
    bool ok = st->lo95 > 0;
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
        ok = ok && isfinite(v[k]);
    if (ok)
        return 0;
    return bk_err_set(err, BK_EINVAL,
                      "the series' volatility is too large: the step-%d bands overflow "
                      "(sd of the log return %g; lower the horizon or check the prices)",
                      st->step, st->sd);
}

/* The trailing window of one step's standardized errors. */
typedef struct calib {
    double *ring, *sorted;
    size_t cap, n, head; /* head: next ring slot */
} calib;

static void calib_push(calib *c, double z)
{
    if (c->n == c->cap) {
        double old = c->ring[c->head];
        size_t lo = 0, hi = c->n; /* first index with sorted >= old */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (c->sorted[mid] < old)
                lo = mid + 1;
            else
                hi = mid;
        }
        memmove(c->sorted + lo, c->sorted + lo + 1, (c->n - lo - 1) * sizeof(double));
        c->n--;
    }
    c->ring[c->head] = z;
    c->head = (c->head + 1) % c->cap;
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->sorted[mid] < z)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(c->sorted + lo + 1, c->sorted + lo, (c->n - lo) * sizeof(double));
    c->sorted[lo] = z;
    c->n++;
}

/* The state of a forecaster walking forward over one series. */
typedef struct walk {
    const double *c; /* closes */
    double *r;       /* r[i] = log(c[i+1] / c[i]) */
    size_t n;        /* closes */
    int H;
    bk_fc_opts o;
    bk_fc_garch g;
    double loglik, var_next, drift;
    double fb80, fb95; /* fallback quantiles (one-step residuals) */
    int n_fit;
    calib *cal;   /* H windows */
    double *hist; /* (H+1) origins x (H sd + point), ring by origin */
    double *buf;  /* scratch: max(fit_window, H) doubles */
} walk;

static void walk_free(walk *w)
{
    if (w->cal)
        for (int h = 0; h < w->H; h++) {
            free(w->cal[h].ring);
            free(w->cal[h].sorted);
        }
    free(w->cal);
    free(w->r);
    free(w->hist);
    free(w->buf);
}

static int walk_init(walk *w, const double *closes, size_t n, int H, const bk_fc_opts *o,
                     bk_err *err)
{
    memset(w, 0, sizeof *w);
    if (H < 1 || H > BK_FC_MAX_HORIZON)
        return bk_err_set(err, BK_EINVAL, "horizon %d outside 1..%d", H, BK_FC_MAX_HORIZON);
    int rc = bk_fc_check_closes(closes, n, err);
    if (rc)
        return rc;
    opts_fill(o, &w->o);
    w->c = closes;
    w->n = n;
    w->H = H;
    w->r = malloc((n - 1) * sizeof *w->r);
    w->hist = malloc((size_t)(H + 1) * (size_t)(H + 1) * sizeof *w->hist);
    size_t nb = (size_t)(w->o.fit_window > H ? w->o.fit_window : H) + 1;
    w->buf = malloc(nb * sizeof *w->buf);
    w->cal = calloc((size_t)H, sizeof *w->cal);
    if (!w->r || !w->hist || !w->buf || !w->cal)
        goto oom;
    for (int h = 0; h < H; h++) {
        w->cal[h].cap = (size_t)w->o.calib_window;
        w->cal[h].ring = malloc(w->cal[h].cap * sizeof(double));
        w->cal[h].sorted = malloc(w->cal[h].cap * sizeof(double));
        if (!w->cal[h].ring || !w->cal[h].sorted)
            goto oom;
    }
    for (size_t i = 0; i + 1 < n; i++)
        w->r[i] = log(closes[i + 1] / closes[i]);
    return 0;
oom:
    walk_free(w);
    return bk_err_set(err, BK_ENOMEM, "out of memory for a forecast of %zu bars", n);
}

/* Re-estimate on the returns up to origin t (closes[0..t]) and filter them:
 * var_next becomes the variance of r[t]. Also refreshes the fallback
 * quantiles and the drift. */
static int walk_refit(walk *w, size_t t, bk_err *err)
{
    size_t nr = t, fw = (size_t)w->o.fit_window, from = nr > fw ? nr - fw : 0;
    const double *r = w->r + from;
    size_t m = nr - from;
    int rc = bk_fc_garch_fit(r, m, &w->g, &w->loglik, err);
    if (rc)
        return rc;
    double v0 = 0;
    for (size_t i = 0; i < m; i++)
        v0 += (r[i] - w->g.mu) * (r[i] - w->g.mu);
    v0 /= (double)m;
    double v = v0;
    for (size_t i = 0; i < m; i++) {
        w->buf[i] = fabs(r[i] - w->g.mu) / sqrt(v);
        double e = r[i] - w->g.mu;
        v = w->g.omega + w->g.alpha * e * e + w->g.beta * v;
    }
    w->var_next = v;
    qsort(w->buf, m, sizeof *w->buf, cmp_double);
    w->fb80 = quantile_sorted(w->buf, m, 0.80);
    w->fb95 = quantile_sorted(w->buf, m, 0.95);
    w->drift = w->o.drift_shrink * w->g.mu;
    w->n_fit = (int)m;
    return 0;
}

/* The row of hist for origin t: sd[0..H) then the point. */
static double *hist_at(walk *w, size_t t)
{
    return w->hist + (t % (size_t)(w->H + 1)) * (size_t)(w->H + 1);
}

/* At origin t (var_next current): record sd_h and the point, then add the
 * errors of earlier origins whose targets close at t. */
static void walk_observe(walk *w, size_t t, size_t t0)
{
    double *row = hist_at(w, t);
    bk_fc_garch_hvar(&w->g, w->var_next, w->H, row);
    for (int h = 0; h < w->H; h++)
        row[h] = sqrt(row[h]);
    row[w->H] = w->c[t];
    for (int h = 1; h <= w->H && (size_t)h <= t - t0; h++) {
        const double *p = hist_at(w, t - (size_t)h);
        double point = p[w->H] * exp(w->drift * h);
        calib_push(&w->cal[h - 1], fabs(log(w->c[t] / point)) / p[h - 1]);
    }
}

/* Step h's (1-based) forecast at origin t from the recorded sd. */
static void walk_step(const walk *w, size_t t, int h, const double *row, bk_fc_step *out)
{
    const calib *c = &w->cal[h - 1];
    double q80 = w->fb80, q95 = w->fb95;
    if (c->n >= CALIB_MIN) {
        q80 = quantile_sorted(c->sorted, c->n, 0.80);
        q95 = quantile_sorted(c->sorted, c->n, 0.95);
    }
    double sd = row[h - 1], point = w->drift != 0 ? w->c[t] * exp(w->drift * h) : w->c[t];
    out->step = h;
    out->sd = sd;
    out->point = point;
    out->lo80 = point * exp(-q80 * sd);
    out->hi80 = point * exp(q80 * sd);
    out->lo95 = point * exp(-q95 * sd);
    out->hi95 = point * exp(q95 * sd);
}

int bk_fc_fit_forecast(const double *closes, size_t n, int horizon, const bk_fc_opts *o,
                       bk_fc_result *out, bk_err *err)
{
    walk w;
    int rc = walk_init(&w, closes, n, horizon, o, err);
    if (rc)
        return rc;
    size_t t = n - 1;
    if ((rc = walk_refit(&w, t, err)) != 0)
        goto out;
    /* replay the recursion over the calibration origins with the fitted
     * parameters (pseudo out-of-sample: the variance at each is one step
     * ahead, the parameters saw the whole window) */
    size_t need = (size_t)w.o.calib_window + (size_t)horizon;
    size_t from = (size_t)w.n_fit < need ? t - (size_t)w.n_fit : t - need;
    double v = 0;
    for (size_t i = t - (size_t)w.n_fit; i < t; i++)
        v += (w.r[i] - w.g.mu) * (w.r[i] - w.g.mu);
    v /= w.n_fit;
    for (size_t i = t - (size_t)w.n_fit; i < from; i++)
        v = w.g.omega + w.g.alpha * (w.r[i] - w.g.mu) * (w.r[i] - w.g.mu) + w.g.beta * v;
    for (size_t s = from; s <= t; s++) {
        w.var_next = v;
        walk_observe(&w, s, from);
        if (s < t)
            v = w.g.omega + w.g.alpha * (w.r[s] - w.g.mu) * (w.r[s] - w.g.mu) + w.g.beta * v;
    }
    const double *row = hist_at(&w, t);
    for (int h = 1; h <= horizon && rc == 0; h++) {
        walk_step(&w, t, h, row, &out->steps[h - 1]);
        rc = step_ok(&out->steps[h - 1], err);
    }
    if (rc)
        goto out;
    out->model = BK_FC_MODEL;
    out->horizon = horizon;
    out->params = w.g;
    out->loglik = w.loglik;
    out->n_fit = w.n_fit;
    out->n_calib = (int)w.cal[0].n;
    out->last_close = closes[t];
    out->q80_1 = log(out->steps[0].hi80 / out->steps[0].point) / out->steps[0].sd;
    out->q95_1 = log(out->steps[0].hi95 / out->steps[0].point) / out->steps[0].sd;
out:
    walk_free(&w);
    return rc;
}

int bk_fc_backtest(const double *closes, size_t n, int horizon, int start, const bk_fc_opts *o,
                   bk_fc_row_cb cb, void *ctx, bk_err *err)
{
    if (start < BK_FC_MIN_BARS - 1)
        return bk_err_set(err, BK_EINVAL, "backtest start %d: the first origin needs %d bars",
                          start, BK_FC_MIN_BARS);
    if ((size_t)start + 1 >= n)
        return bk_err_set(err, BK_EINVAL, "backtest start %d: the series has %zu bars", start, n);
    walk w;
    int rc = walk_init(&w, closes, n, horizon, o, err);
    if (rc)
        return rc;
    size_t warm = (size_t)w.o.calib_window + (size_t)horizon, s0 = (size_t)start;
    size_t t0 = s0 > warm + BK_FC_MIN_BARS - 1 ? s0 - warm : BK_FC_MIN_BARS - 1;
    bk_fc_step st;
    for (size_t t = t0; t + 1 < n && rc == 0; t++) {
        if ((t - t0) % (size_t)w.o.refit_every == 0) {
            if ((rc = walk_refit(&w, t, err)) != 0)
                break;
        } else {
            double e = w.r[t - 1] - w.g.mu;
            w.var_next = w.g.omega + w.g.alpha * e * e + w.g.beta * w.var_next;
        }
        walk_observe(&w, t, t0);
        if (t < s0)
            continue;
        const double *row = hist_at(&w, t);
        for (int h = 1; h <= horizon && t + (size_t)h < n && rc == 0; h++) {
            walk_step(&w, t, h, row, &st);
            if ((rc = step_ok(&st, err)) != 0)
                break;
            bk_fc_row r = {.origin = (int)t,
                           .step = h,
                           .point = st.point,
                           .lo80 = st.lo80,
                           .hi80 = st.hi80,
                           .lo95 = st.lo95,
                           .hi95 = st.hi95,
                           .actual = closes[t + (size_t)h]};
            rc = cb(ctx, &r);
        }
    }
    walk_free(&w);
    return rc;
}

void bk_fc_score_add(bk_fc_score *s, const bk_fc_row *row, double origin_close)
{
    s->n++;
    s->in80 += row->actual >= row->lo80 && row->actual <= row->hi80;
    s->in95 += row->actual >= row->lo95 && row->actual <= row->hi95;
    s->abs_err += fabs(row->actual - row->point);
    s->naive_abs_err += fabs(row->actual - origin_close);
}
