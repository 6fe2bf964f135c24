/*
 * bench_forecast.c — calibration and speed of the forecast model (src/fc) on
 * real prices: per series and horizon h in {1, 5, 20}, a walk-forward over
 * every origin from --start on (20 steps per origin), printing the coverage
 * of the 80% and 95% intervals and the point MAE relative to the naive
 * random walk's, next to the baseline measured on the same origins: the
 * random walk's Gaussian bands (sd of the trailing 500 one-bar log returns,
 * times sqrt(h)). Then the time of a backtest of 1,800 origins x 20 steps
 * next to a raw loop computing the baseline's bands over the same rows, and
 * the time of one forecast.
 *
 * usage: [FC_FIT_WINDOW=N] [FC_CALIB_WINDOW=N] [FC_REFIT_EVERY=N] bench_forecast CSV[:START] ...
 * (the variables override the model's defaults, bk_fc_opts, for sensitivity runs)
 * Each CSV has a header with a close (or rate) column, oldest row first;
 * START is the first origin (default 500). The S&P 500 and MSFT files are in
 * bench/data (see its README); docs/BENCHMARKS.md has the command.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "fc/fc.h"

#define H        20
#define BASE_WIN 500
#define BLOCK    2500 /* origins per block for the stability figure (~10 years daily) */
#define MAXBLK   32

static const int report_h[] = {1, 5, 20};
static bk_fc_opts g_opts; /* zero: the defaults; FC_* variables change them */

static void die(const char *what)
{
    fprintf(stderr, "bench_forecast: %s\n", what);
    exit(1);
}

/* The close (or rate) column of a CSV with a header. */
static double *load(const char *path, size_t *n_out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die(path);
    char line[512];
    int col = -1;
    if (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        int k = 0;
        for (char *tok = line; tok; k++) {
            char *comma = strchr(tok, ',');
            if (comma)
                *comma = 0;
            if (strcmp(tok, "close") == 0 || strcmp(tok, "rate") == 0)
                col = k;
            tok = comma ? comma + 1 : NULL;
        }
    }
    if (col < 0)
        die("no close or rate column");
    size_t n = 0, cap = 1024;
    double *x = malloc(cap * sizeof *x);
    while (fgets(line, sizeof line, f)) {
        char *p = line;
        for (int k = 0; k < col && p; k++)
            p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
        if (!p)
            continue;
        if (n == cap)
            x = realloc(x, (cap *= 2) * sizeof *x);
        x[n++] = strtod(p, NULL);
    }
    fclose(f);
    *n_out = n;
    return x;
}

typedef struct acc {
    const double *c;
    size_t n;
    bk_fc_score model[H], base[H];
    bk_fc_score bmodel[MAXBLK][H], bbase[MAXBLK][H]; /* per block of origins */
    double width[H], bwidth[H];                      /* sums of 80% log-widths */
    int start;
    double *r; /* log returns */
} acc;

/* The baseline's bands for (origin, step): Gaussian, trailing sd. */
static void rw_bands(const acc *a, int origin, int step, bk_fc_row *out)
{
    int from = origin > BASE_WIN ? origin - BASE_WIN : 0;
    double s = 0, s2 = 0;
    for (int i = from; i < origin; i++) {
        s += a->r[i];
        s2 += a->r[i] * a->r[i];
    }
    double m = origin - from, sd = sqrt((s2 - s * s / m) / (m - 1)) * sqrt(step);
    double c = a->c[origin];
    out->point = c;
    out->lo80 = c * exp(-1.2815516 * sd);
    out->hi80 = c * exp(1.2815516 * sd);
    out->lo95 = c * exp(-1.9599640 * sd);
    out->hi95 = c * exp(1.9599640 * sd);
}

static int on_row(void *ctx, const bk_fc_row *row)
{
    acc *a = ctx;
    bk_fc_score_add(&a->model[row->step - 1], row, a->c[row->origin]);
    bk_fc_row b = *row;
    rw_bands(a, row->origin, row->step, &b);
    bk_fc_score_add(&a->base[row->step - 1], &b, a->c[row->origin]);
    int blk = (row->origin - a->start) / BLOCK;
    if (blk < MAXBLK) {
        bk_fc_score_add(&a->bmodel[blk][row->step - 1], row, a->c[row->origin]);
        bk_fc_score_add(&a->bbase[blk][row->step - 1], &b, a->c[row->origin]);
    }
    a->width[row->step - 1] += log(row->hi80 / row->lo80);
    a->bwidth[row->step - 1] += log(b.hi80 / b.lo80);
    return 0;
}

static int count_row(void *ctx, const bk_fc_row *row)
{
    (void)row;
    (*(long *)ctx)++;
    return 0;
}

/* The range of 80% coverage over the complete blocks of origins (h = step). */
static void block_range(bk_fc_score (*blk)[H], int n_blk, int h, double *lo, double *hi)
{
    *lo = 1, *hi = 0;
    for (int i = 0; i < n_blk; i++) {
        double c = (double)blk[i][h - 1].in80 / (double)blk[i][h - 1].n;
        *lo = c < *lo ? c : *lo;
        *hi = c > *hi ? c : *hi;
    }
}

static void calibration(const char *name, const double *c, size_t n, int start)
{
    static acc a;
    memset(&a, 0, sizeof a);
    a.c = c, a.n = n, a.start = start, a.r = malloc(n * sizeof(double));
    for (size_t i = 0; i + 1 < n; i++)
        a.r[i] = log(c[i + 1] / c[i]);
    bk_err err = {0};
    if (bk_fc_backtest(c, n, H, start, &g_opts, on_row, &a, &err))
        die(err.msg);
    for (size_t k = 0; k < sizeof report_h / sizeof *report_h; k++) {
        int h = report_h[k];
        const bk_fc_score *m = &a.model[h - 1], *b = &a.base[h - 1];
        printf("%-28s h=%-2d origins=%-6lld model: cov80=%.3f cov95=%.3f mae/naive=%.4f | "
               "rw-gauss: cov80=%.3f cov95=%.3f\n",
               name, h, (long long)m->n, (double)m->in80 / m->n, (double)m->in95 / m->n,
               m->abs_err / m->naive_abs_err, (double)b->in80 / b->n, (double)b->in95 / b->n);
        int n_blk = (int)((n - 1 - (size_t)start) / BLOCK);
        n_blk = n_blk > MAXBLK ? MAXBLK : n_blk;
        if (n_blk >= 2) {
            double l1, h1, l2, h2;
            block_range(a.bmodel, n_blk, h, &l1, &h1);
            block_range(a.bbase, n_blk, h, &l2, &h2);
            printf("%-28s h=%-2d   cov80 over %d blocks of %d origins: model %.3f-%.3f | "
                   "rw-gauss %.3f-%.3f; mean 80%% width model/rw-gauss=%.3f\n",
                   name, h, n_blk, BLOCK, l1, h1, l2, h2, a.width[h - 1] / a.bwidth[h - 1]);
        }
    }
    free(a.r);
}

static void speed(const char *name, const double *c, size_t n)
{
    if (n < 1800 + H + 600)
        return;
    int start = (int)(n - 1800 - 1);
    bk_err err = {0};
    long rows = 0;
    int64_t t0 = bk_clock_mono_us();
    if (bk_fc_backtest(c, n, H, start, &g_opts, count_row, &rows, &err))
        die(err.msg);
    int64_t t1 = bk_clock_mono_us();
    acc a = {.c = c, .n = n, .r = malloc(n * sizeof(double))};
    for (size_t i = 0; i + 1 < n; i++)
        a.r[i] = log(c[i + 1] / c[i]);
    double sink = 0;
    for (size_t t = (size_t)start; t + 1 < n; t++)
        for (int h = 1; h <= H && t + (size_t)h < n; h++) {
            bk_fc_row b;
            rw_bands(&a, (int)t, h, &b);
            sink += b.hi95;
        }
    int64_t t2 = bk_clock_mono_us();
    bk_fc_step steps[H];
    bk_fc_result res = {.steps = steps};
    int reps = 20;
    for (int i = 0; i < reps; i++)
        if (bk_fc_fit_forecast(c, n, H, &g_opts, &res, &err))
            die(err.msg);
    int64_t t3 = bk_clock_mono_us();
    printf("%-28s backtest 1800 origins x %d steps (%ld rows): %.3f s | raw loop (rw-gauss "
           "bands, same rows): %.3f s (%g)\n",
           name, H, rows, (t1 - t0) / 1e6, (t2 - t1) / 1e6, sink > 0 ? 1.0 : 0.0);
    printf("%-28s one forecast (%d bars, %d steps): %.2f ms; alpha=%.3f beta=%.3f nu=%.1f\n", name,
           (int)n, H, (t3 - t2) / 1e3 / reps, res.params.alpha, res.params.beta, res.params.nu);
    free(a.r);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs("usage: bench_forecast CSV[:START] ...\n", stderr);
        return 2;
    }
    const char *e;
    if ((e = getenv("FC_FIT_WINDOW")))
        g_opts.fit_window = (int)strtol(e, NULL, 10);
    if ((e = getenv("FC_CALIB_WINDOW")))
        g_opts.calib_window = (int)strtol(e, NULL, 10);
    if ((e = getenv("FC_REFIT_EVERY")))
        g_opts.refit_every = (int)strtol(e, NULL, 10);
    for (int i = 1; i < argc; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s", argv[i]);
        int start = 500;
        char *colon = strrchr(path, ':');
        if (colon) {
            *colon = 0;
            start = (int)strtol(colon + 1, NULL, 10);
        }
        size_t n;
        double *c = load(path, &n);
        const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        calibration(name, c, n, start);
        speed(name, c, n);
        free(c);
    }
    return 0;
}
