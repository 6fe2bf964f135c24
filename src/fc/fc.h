/*
 * fc.h — price forecasts with calibrated prediction intervals (issue 16).
 *
 * The model (docs/forecast.md says why): the point forecast is a log-price
 * random walk (the last close, or a shrunk drift on request); the spread of
 * log returns is a GARCH(1,1) with Student-t innovations fitted by maximum
 * likelihood (variance targeting, Nelder-Mead on three unconstrained
 * parameters, alpha+beta < 1 by construction); the h-step variance is the sum
 * of the GARCH variance forecasts; and the interval quantiles are the
 * empirical quantiles of the series' own standardized h-step errors
 * |log(actual/point)| / sd_h over a trailing window of past origins
 * (conformal-style), so fat tails and mis-specification are absorbed by the
 * data rather than assumed away.
 *
 * Pure computation (libm only) plus the calendar for forecast timestamps:
 * every function here is reentrant and safe from any thread; results are
 * caller-owned buffers. Read next: fc_garch.c (likelihood, fit, variance),
 * fc_model.c (forecast, backtest, scoring), fc_cal.c (timestamps).
 */
#ifndef BK_FC_FC_H
#define BK_FC_FC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cal/cal.h"
#include "core/err.h"
#include "model/tf.h"

/* Fewest closes a forecast needs (59 returns). */
#define BK_FC_MIN_BARS 60
/* Least share (%) of closes that differ from the one before: a series
 * that mostly repeats its last close has no bands to calibrate. */
#define BK_FC_MIN_MOVED_PCT 25
/* Longest horizon in bars. */
#define BK_FC_MAX_HORIZON 500
/* The model's name in results and rows. */
#define BK_FC_MODEL "garch11t-cal"

/* GARCH(1,1): var_{t+1} = omega + alpha * e_t^2 + beta * var_t, e_t = r_t - mu;
 * e_t / sqrt(var_t) ~ Student t with nu degrees of freedom scaled to unit
 * variance. Invariants after a fit: omega > 0, alpha, beta >= 0,
 * alpha + beta < 1, nu > 2. */
typedef struct bk_fc_garch {
    double mu;    /* mean log return per bar (used for residuals only) */
    double omega; /* variance intercept */
    double alpha; /* weight of the last squared residual */
    double beta;  /* weight of the last variance */
    double nu;    /* Student-t degrees of freedom */
} bk_fc_garch;

/* Options; zero fields take the defaults in brackets. */
typedef struct bk_fc_opts {
    int fit_window;      /* returns used for the ML fit, newest [2000] */
    int calib_window;    /* past origins per horizon for the quantiles [500] */
    int refit_every;     /* backtest: re-estimate every N origins [25] */
    double drift_shrink; /* point drift = shrink * mean return, 0..1 [0] */
} bk_fc_opts;

/* One forecast step: prices, h bars after the last close. */
typedef struct bk_fc_step {
    int step;  /* 1..horizon */
    double sd; /* predicted sd of the h-step log return (model scale) */
    double point, lo80, hi80, lo95, hi95;
} bk_fc_step;

/* A forecast. steps has horizon entries (caller-owned, see fit_forecast). */
typedef struct bk_fc_result {
    const char *model; /* BK_FC_MODEL (static) */
    int horizon;
    bk_fc_step *steps;
    bk_fc_garch params;
    double loglik;       /* of the fit, per the fitted returns */
    int n_fit;           /* returns in the fit */
    int n_calib;         /* standardized errors behind the step-1 quantiles */
    double q80_1, q95_1; /* step-1 interval half-widths in sd units */
    double last_close;
} bk_fc_result;

/* --- GARCH numerics (fc_garch.c) ------------------------------------------ */

/* Student-t log density (unit variance) of z with nu degrees of freedom. */
double bk_fc_t_logpdf(double z, double nu);
/* Mean Student-t log-likelihood of returns r[0..n) under g, the recursion
 * starting at var0 = the sample variance of r; -INFINITY when g is invalid. */
double bk_fc_garch_loglik(const double *r, size_t n, const bk_fc_garch *g);
/* Run the recursion over r[0..n): var_out[i] is the variance of r[i] given
 * r[0..i) (var_out[0] = var0), and the return value is the variance of the
 * next, unseen return. var_out may be NULL. */
double bk_fc_garch_filter(const double *r, size_t n, const bk_fc_garch *g, double var0,
                          double *var_out);
/* Cumulative variance of the sum of the next h returns, h = 1..H, given the
 * next one-step variance var1: sum_{k=1..h} [V + (a+b)^(k-1) (var1 - V)],
 * V = omega / (1 - a - b). Writes out[0..H). */
void bk_fc_garch_hvar(const bk_fc_garch *g, double var1, int horizon, double *out);
/* Fit g to r[0..n) by maximum likelihood: mu = mean, omega by variance
 * targeting, (alpha, beta, nu) by Nelder-Mead. 0, or BK_EINVAL when n <
 * BK_FC_MIN_BARS - 1 or the returns have no variance. Sets *loglik. */
BK_MUST_CHECK int bk_fc_garch_fit(const double *r, size_t n, bk_fc_garch *g, double *loglik,
                                  bk_err *err);

/* --- calibration and scoring (fc_model.c) --------------------------------- */

/* The p-quantile (0..1, type 7: linear between order statistics) of
 * x[0..n); sorts a copy in scratch[0..n). NAN when n == 0. */
double bk_fc_quantile(const double *x, size_t n, double p, double *scratch);
/* Check closes for the model: n >= BK_FC_MIN_BARS, every value finite and >
 * 0, not flat (some return non-zero) nor nearly flat (at least
 * BK_FC_MIN_MOVED_PCT % of returns non-zero). 0 or BK_EINVAL with a clear
 * message. */
BK_MUST_CHECK int bk_fc_check_closes(const double *closes, size_t n, bk_err *err);

/* A forecast of the next horizon bars after closes[n-1]. out->steps must
 * hold horizon entries (caller allocates). Calibration uses the last
 * calib_window origins of the history with the fitted parameters. Errors:
 * BK_EINVAL (too little history, non-positive or non-finite prices, flat
 * or nearly flat series, horizon outside 1..BK_FC_MAX_HORIZON, bands that
 * overflow: every step written is finite with 0 < lo95), BK_ENOMEM. */
BK_MUST_CHECK int bk_fc_fit_forecast(const double *closes, size_t n, int horizon,
                                     const bk_fc_opts *o, bk_fc_result *out, bk_err *err);

/* One backtest row: the forecast made at closes[origin] for closes[origin +
 * step]; actual is that close. */
typedef struct bk_fc_row {
    int origin; /* index into closes */
    int step;
    double point, lo80, hi80, lo95, hi95;
    double actual;
} bk_fc_row;
/* Called once per row, origins ascending, steps ascending; non-zero stops
 * (returned by backtest). */
typedef int (*bk_fc_row_cb)(void *ctx, const bk_fc_row *row);

/* Walk-forward over closes[0..n): for every origin start..n-2, a forecast
 * of the next horizon bars using closes[0..origin] only; one row per step
 * whose target exists (origin + step < n). Parameters are re-estimated every
 * refit_every origins (on the fit_window returns up to the origin) and the
 * variance updated every bar; the quantiles come from the standardized
 * errors of earlier origins whose targets had closed by the origin (a
 * warm-up before start fills them, not reported). start >= BK_FC_MIN_BARS - 1. */
BK_MUST_CHECK int bk_fc_backtest(const double *closes, size_t n, int horizon, int start,
                                 const bk_fc_opts *o, bk_fc_row_cb cb, void *ctx, bk_err *err);

/* Scores of rows: per step, counts of actual inside the 80% and 95% bands,
 * sums of the absolute point error and of the naive random walk's (the
 * origin close). */
typedef struct bk_fc_score {
    int64_t n, in80, in95;
    double abs_err, naive_abs_err;
} bk_fc_score;
/* Add row (with the origin's close, the naive forecast) to s. */
void bk_fc_score_add(bk_fc_score *s, const bk_fc_row *row, double origin_close);

/* --- forecast timestamps (fc_cal.c) ---------------------------------------- */

/* The default horizon of tf: 20 bars for d1 and w1, one regular session
 * (390 minutes) of bars for intraday timeframes. */
int bk_fc_default_horizon(bk_tf tf);

/* The labels of the next horizon bars of tf after a bar labelled last_ts_us,
 * on the exchange calendar: the next sessions for d1 (00:00 New York of the
 * date) and w1 (the week's Monday), the next bars inside regular sessions
 * for intraday (early closes, holidays and DST included; never a bar in
 * closed time). Writes out[0..horizon). 0, or BK_ERANGE when the calendar
 * ends first (2099), BK_EINVAL for a bad horizon. */
BK_MUST_CHECK int bk_fc_next_ts(bk_tf tf, bk_anchor anchor, int64_t last_ts_us, int horizon,
                                int64_t *out, bk_err *err);

#endif
