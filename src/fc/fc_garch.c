/*
 * fc_garch.c — GARCH(1,1) with Student-t innovations: the log-likelihood, the
 * variance recursion, the h-step variance and a maximum-likelihood fit.
 *
 * The fit uses variance targeting (omega = s^2 (1 - alpha - beta), s^2 the
 * sample variance of the residuals), which leaves three parameters; they are
 * searched unconstrained through a transform that keeps alpha, beta >= 0,
 * alpha + beta < 1 and nu > 2 by construction, with a small Nelder-Mead
 * simplex (three dimensions need nothing smarter; it converges in a few
 * hundred likelihood evaluations of O(n) each). Read fc.h for the contracts.
 */
#include "fc/fc.h"

#include <math.h>
#include <string.h>

#define PERSIST_MAX 0.9995 /* alpha + beta stays below this */
#define NU_MIN      2.1
#define NU_MAX      200.0
#define NM_MAX_EVAL 400

/* log Γ(x) without lgamma's write of the global signgam (a data race when
 * worker threads fit at once). */
static double log_gamma(double x)
{
    int sign;
    return lgamma_r(x, &sign);
}
#define NM_TOL 1e-9

double bk_fc_t_logpdf(double z, double nu)
{
    double c = log_gamma((nu + 1) / 2) - log_gamma(nu / 2) - 0.5 * log(M_PI * (nu - 2));
    return c - (nu + 1) / 2 * log1p(z * z / (nu - 2));
}

static bool garch_valid(const bk_fc_garch *g)
{
    return g->omega > 0 && g->alpha >= 0 && g->beta >= 0 && g->alpha + g->beta < 1 && g->nu > 2 &&
           isfinite(g->mu);
}

static double sample_var(const double *r, size_t n, double mu)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (r[i] - mu) * (r[i] - mu);
    return n ? s / (double)n : 0;
}

double bk_fc_garch_filter(const double *r, size_t n, const bk_fc_garch *g, double var0,
                          double *var_out)
{
    double v = var0;
    for (size_t i = 0; i < n; i++) {
        if (var_out)
            var_out[i] = v;
        double e = r[i] - g->mu;
        v = g->omega + g->alpha * e * e + g->beta * v;
    }
    return v;
}

double bk_fc_garch_loglik(const double *r, size_t n, const bk_fc_garch *g)
{
    if (!garch_valid(g) || n == 0)
        return -INFINITY;
    double nu = g->nu, k = 1 / (nu - 2);
    double c = log_gamma((nu + 1) / 2) - log_gamma(nu / 2) - 0.5 * log(M_PI * (nu - 2));
    double v = sample_var(r, n, g->mu), ll = 0;
    for (size_t i = 0; i < n; i++) {
        double e = r[i] - g->mu;
        if (!(v > 0))
            return -INFINITY;
        ll += c - 0.5 * log(v) - (nu + 1) / 2 * log1p(e * e * k / v);
        v = g->omega + g->alpha * e * e + g->beta * v;
    }
    return ll / (double)n;
}

void bk_fc_garch_hvar(const bk_fc_garch *g, double var1, int horizon, double *out)
{
    double p = g->alpha + g->beta, V = g->omega / (1 - p), pk = 1, cum = 0;
    for (int h = 0; h < horizon; h++) {
        cum += V + pk * (var1 - V);
        out[h] = cum;
        pk *= p;
    }
}

/* x (unconstrained) -> parameters; omega by variance targeting on s2. */
static void unpack(const double x[3], double mu, double s2, bk_fc_garch *g)
{
    double p = PERSIST_MAX / (1 + exp(-x[0]));
    double share = 1 / (1 + exp(-x[1]));
    g->mu = mu;
    g->alpha = p * share;
    g->beta = p - g->alpha;
    g->omega = s2 * (1 - p);
    g->nu = NU_MIN + fmin(exp(x[2]), NU_MAX - NU_MIN);
}

typedef struct fit_ctx {
    const double *r;
    size_t n;
    double mu, s2;
} fit_ctx;

static double objective(const fit_ctx *c, const double x[3])
{
    bk_fc_garch g;
    unpack(x, c->mu, c->s2, &g);
    double ll = bk_fc_garch_loglik(c->r, c->n, &g);
    return isfinite(ll) ? -ll : 1e300;
}

/* Nelder-Mead on 3 dimensions (standard coefficients); s[0] starts as the
 * initial point and ends as the best. Returns the best value. */
static double nelder_mead(const fit_ctx *c, double s[4][3], double step)
{
    double f[4];
    for (int i = 1; i < 4; i++) {
        memcpy(s[i], s[0], sizeof s[0]);
        s[i][i - 1] += step;
    }
    for (int i = 0; i < 4; i++)
        f[i] = objective(c, s[i]);
    for (int ev = 4; ev < NM_MAX_EVAL;) {
        int lo = 0, hi = 0, nh = 0;
        for (int i = 1; i < 4; i++) {
            if (f[i] < f[lo])
                lo = i;
            if (f[i] > f[hi])
                hi = i;
        }
        nh = lo;
        for (int i = 0; i < 4; i++)
            if (i != hi && f[i] > f[nh])
                nh = i;
        if (fabs(f[hi] - f[lo]) <= NM_TOL * (fabs(f[lo]) + 1e-12))
            break;
        double cen[3] = {0, 0, 0}, xr[3], xe[3];
        for (int i = 0; i < 4; i++)
            for (int d = 0; i != hi && d < 3; d++)
                cen[d] += s[i][d] / 3;
        for (int d = 0; d < 3; d++)
            xr[d] = cen[d] + (cen[d] - s[hi][d]);
        double fr = objective(c, xr);
        ev++;
        if (fr < f[lo]) {
            for (int d = 0; d < 3; d++)
                xe[d] = cen[d] + 2 * (cen[d] - s[hi][d]);
            double fe = objective(c, xe);
            ev++;
            memcpy(s[hi], fe < fr ? xe : xr, sizeof xr);
            f[hi] = fe < fr ? fe : fr;
        } else if (fr < f[nh]) {
            memcpy(s[hi], xr, sizeof xr);
            f[hi] = fr;
        } else {
            bool outside = fr < f[hi];
            for (int d = 0; d < 3; d++)
                xe[d] =
                    outside ? cen[d] + 0.5 * (xr[d] - cen[d]) : cen[d] + 0.5 * (s[hi][d] - cen[d]);
            double fc = objective(c, xe);
            ev++;
            if (fc < (outside ? fr : f[hi])) {
                memcpy(s[hi], xe, sizeof xe);
                f[hi] = fc;
            } else {
                for (int i = 0; i < 4; i++) {
                    if (i == lo)
                        continue;
                    for (int d = 0; d < 3; d++)
                        s[i][d] = s[lo][d] + 0.5 * (s[i][d] - s[lo][d]);
                    f[i] = objective(c, s[i]);
                    ev++;
                }
            }
        }
    }
    int best = 0;
    for (int i = 1; i < 4; i++)
        if (f[i] < f[best])
            best = i;
    if (best)
        memcpy(s[0], s[best], sizeof s[0]);
    return f[best];
}

int bk_fc_garch_fit(const double *r, size_t n, bk_fc_garch *g, double *loglik, bk_err *err)
{
    if (n < BK_FC_MIN_BARS - 1)
        return bk_err_set(err, BK_EINVAL, "too little history: %zu returns, the model needs %d", n,
                          BK_FC_MIN_BARS - 1);
    double mu = 0;
    for (size_t i = 0; i < n; i++)
        mu += r[i];
    mu /= (double)n;
    fit_ctx c = {.r = r, .n = n, .mu = mu, .s2 = sample_var(r, n, mu)};
    if (!(c.s2 > 0) || !isfinite(c.s2))
        return bk_err_set(err, BK_EINVAL, "flat series: the returns have no variance");
    /* start at alpha 0.08, beta 0.90, nu 8: typical of daily prices */
    double s[4][3] = {{log(0.98 / (PERSIST_MAX - 0.98)), log(0.08 / 0.90), log(8 - NU_MIN)}};
    double f = nelder_mead(&c, s, 0.5);
    unpack(s[0], mu, c.s2, g);
    if (loglik)
        *loglik = -f;
    return 0;
}
