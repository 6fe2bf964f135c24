/*
 * cmd_forecast.c — `barkeep forecast`: a forecast of the next bars of a
 * stored series (not stored), and `barkeep forecast backtest`: the model's
 * walk-forward over the stored bars, one row per (origin, step).
 *
 * History is every closed bar of the series up to --as-of (default now),
 * whatever provider wrote it (bars from `barkeep import` included). The model
 * (fc/fc.h, docs/forecast.md) sees the closes as consecutive steps, so a
 * missing expected bar inside the history would silently make one step two:
 * it is an error naming the latest gap unless --allow-gaps says to accept
 * it. Forecast timestamps come from the exchange calendar.
 */
#include "cal/cal.h"
#include "cli/cli.h"
#include "core/clock.h"
#include "core/util.h"
#include "fc/fc.h"
#include "json/jw.h"
#include "model/time.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char forecast_usage[] =
    "usage: barkeep forecast SYMBOL TF [--horizon N] [--as-of T] [--format csv|json]\n"
    "                        [--allow-gaps]\n"
    "       barkeep forecast backtest SYMBOL TF [--horizon N] [--start K] [--format csv]\n"
    "                        [--allow-gaps]\n"
    "       barkeep forecast --stats [SYMBOL TF] [--last N] [--format csv|json]\n"
    "\n"
    "A forecast of the next N bars of a stored series from its closed bars up to T\n"
    "(default now), printed and not stored: per step the bar's time on the exchange\n"
    "calendar, the point forecast and the 80% and 95% prediction intervals\n"
    "(docs/forecast.md). N defaults to 20 for d1 and w1 and to one session for\n"
    "intraday timeframes; the model needs at least 60 bars.\n"
    "\n"
    "backtest: a walk-forward over the stored bars: for every origin from bar K\n"
    "(0-based, default 500 or half the series when shorter) the forecast made with\n"
    "the bars up to it, one CSV row per step whose bar exists: origin_ts,\n"
    "target_ts, step, point, lo80, hi80, lo95, hi95, actual.\n"
    "\n"
    "--stats: how the stored forecasts of run_forecast definitions fared once the\n"
    "real bars landed: per series and horizon step, over the last N scored\n"
    "forecasts (default 20; 0 = all), the scored steps, the realized coverage of\n"
    "the 80% and 95% bands, the mean absolute error, the naive random walk's on\n"
    "the same origins and their ratio (below 1: better than naive).\n"
    "\n"
    "  --horizon N     bars ahead, 1..500\n"
    "  --as-of T       forecast from the bars closed by T (ISO-8601)\n"
    "  --start K       backtest: first origin, at least 59\n"
    "  --format F      csv (default) or json (forecast only)\n"
    "  --allow-gaps    accept missing expected bars in the history (each gap\n"
    "                  then counts as one step)\n"
    "  --last N        --stats: the newest N scored forecasts per series, 0..100000\n";

/* The closed bars of a series up to a limit. */
typedef struct history {
    bk_tf tf;
    bk_anchor anchor;
    int64_t as_of_us;
    int64_t *ts;
    double *close;
    size_t n, cap;
} history;

static int64_t bar_end(bk_tf tf, bk_anchor anchor, int64_t ts_us)
{
    bk_calbar cb;
    if (bk_cal_bar_at(tf, anchor, ts_us, &cb))
        return cb.to_us;
    return ts_us + bk_tf_step_us(tf);
}

static int add_bar(void *ctx, const bk_bar *bar, const char *provider)
{
    (void)provider;
    history *h = ctx;
    if (bar_end(h->tf, h->anchor, bar->ts_us) > h->as_of_us)
        return 0; /* not closed yet */
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 1024;
        h->ts = realloc(h->ts, h->cap * sizeof *h->ts);
        h->close = realloc(h->close, h->cap * sizeof *h->close);
        if (!h->ts || !h->close)
            return BK_ENOMEM;
    }
    h->ts[h->n] = bar->ts_us;
    h->close[h->n++] = bar->close;
    return 0;
}

static void history_fini(history *h)
{
    free(h->ts);
    free(h->close);
}

/* The latest gap among the last n_used bars: expected bars of the calendar
 * between two consecutive stored ones. Returns 0, or BK_EINVAL naming it. */
static int check_gaps(const history *h, size_t n_used, bk_err *err)
{
    size_t first = h->n > n_used ? h->n - n_used : 0;
    for (size_t i = h->n - 1; i > first; i--) {
        bk_calbar a;
        if (!bk_cal_bar_at(h->tf, h->anchor, h->ts[i - 1], &a))
            continue; /* outside the calendar (before 1990): not checked */
        size_t k = bk_cal_bars(h->tf, h->anchor, a.to_us, h->ts[i], NULL, 0);
        if (k == 0)
            continue;
        char t0[BK_TIME_STR_MAX], t1[BK_TIME_STR_MAX];
        return bk_err_set(err, BK_EINVAL,
                          "history has a gap: %zu expected bar(s) missing between %s and %s "
                          "(fill it, forecast --as-of before it, or pass --allow-gaps)",
                          k, bk_time_format(h->ts[i - 1], t0), bk_time_format(h->ts[i], t1));
    }
    return 0;
}

/* Parsed arguments of both forms. */
typedef struct fc_args {
    char sym[BK_SYM_MAX + 1];
    bk_tf tf;
    int horizon;
    int64_t as_of_us, start; /* start -1: default */
    bool json, allow_gaps;
} fc_args;

static int parse_args(int argc, char **argv, bool backtest, fc_args *a)
{
    const char *h_s = NULL, *as_of_s = NULL, *start_s = NULL, *format = "csv", *pos[2];
    int n_pos, rc;
    bool gaps = false;
    bk_opt opts[] = {{"--horizon", true, &h_s, NULL},      {"--as-of", true, &as_of_s, NULL},
                     {"--start", true, &start_s, NULL},    {"--format", true, &format, NULL},
                     {"--allow-gaps", false, NULL, &gaps}, {NULL, false, NULL, NULL}};
    if ((rc = bk_cli_parse(argc, argv, opts, pos, 2, &n_pos, forecast_usage)) != 0)
        return rc < 0 ? -1 : rc;
    if (n_pos != 2)
        return bk_cli_usage_error("forecast needs SYMBOL and TIMEFRAME");
    if (bk_cli_symbol(pos[0], a->sym) || bk_cli_tf(pos[1], &a->tf))
        return BK_EXIT_USAGE;
    int64_t v = bk_fc_default_horizon(a->tf);
    if (h_s && bk_cli_int("--horizon", h_s, 1, BK_FC_MAX_HORIZON, &v))
        return BK_EXIT_USAGE;
    a->horizon = (int)v;
    a->as_of_us = bk_clock_now_us();
    if (as_of_s && (backtest || bk_cli_time("--as-of", as_of_s, &a->as_of_us)))
        return backtest ? bk_cli_usage_error("--as-of is for a forecast, not a backtest")
                        : BK_EXIT_USAGE;
    a->start = -1;
    if (start_s &&
        (!backtest || bk_cli_int("--start", start_s, BK_FC_MIN_BARS - 1, INT32_MAX, &a->start)))
        return backtest ? BK_EXIT_USAGE : bk_cli_usage_error("--start is for a backtest");
    if (strcmp(format, "csv") != 0 && (backtest || strcmp(format, "json") != 0))
        return bk_cli_usage_error("invalid format '%s' (%s)", format,
                                  backtest ? "a backtest prints csv" : "csv or json");
    a->json = strcmp(format, "json") == 0;
    a->allow_gaps = gaps;
    return 0;
}

/* Read the history and check it for gaps over the bars the model uses. */
static int load_history(bk_cli *cli, const fc_args *a, size_t n_used, history *h)
{
    bk_store *s;
    int rc = bk_cli_open(cli, &s);
    if (rc)
        return rc;
    bk_err err = {0};
    h->tf = a->tf;
    h->anchor = strcmp(cli->conf.anchor, "clock") == 0 ? BK_ANCHOR_CLOCK : BK_ANCHOR_SESSION;
    h->as_of_us = a->as_of_us;
    rc = bk_store_bars_read(s, a->sym, a->tf, INT64_MIN, a->as_of_us, add_bar, h, &err);
    bk_store_close(s);
    if (rc)
        return bk_cli_fail("%s", rc == BK_ENOMEM ? "out of memory" : err.msg);
    if (h->n < BK_FC_MIN_BARS)
        return bk_cli_fail("%s %s: too little history: %zu closed bar(s), a forecast needs %d",
                           a->sym, bk_tf_name(a->tf), h->n, BK_FC_MIN_BARS);
    if (!a->allow_gaps && check_gaps(h, n_used, &err) != 0)
        return bk_cli_fail("%s %s: %s", a->sym, bk_tf_name(a->tf), err.msg);
    return 0;
}

static void print_json(const fc_args *a, const history *h, const bk_fc_result *r, const int64_t *ts)
{
    bk_buf b;
    bk_jw w;
    bk_buf_init(&b);
    bk_jw_init(&w, &b);
    bk_jw_obj_begin(&w);
    bk_jw_key(&w, "symbol");
    bk_jw_str(&w, a->sym);
    bk_jw_key(&w, "timeframe");
    bk_jw_str(&w, bk_tf_name(a->tf));
    bk_jw_key(&w, "model");
    bk_jw_str(&w, r->model);
    bk_jw_key(&w, "as_of");
    bk_jw_time(&w, a->as_of_us);
    bk_jw_key(&w, "last_bar_ts");
    bk_jw_time(&w, h->ts[h->n - 1]);
    bk_jw_key(&w, "last_close");
    bk_jw_num(&w, r->last_close);
    bk_jw_key(&w, "bars");
    bk_jw_int(&w, (int64_t)h->n);
    bk_jw_key(&w, "diagnostics");
    bk_jw_obj_begin(&w);
    const char *names[] = {"mu", "omega", "alpha", "beta", "nu", "loglik", "q80", "q95"};
    double vals[] = {r->params.mu, r->params.omega, r->params.alpha, r->params.beta,
                     r->params.nu, r->loglik,       r->q80_1,        r->q95_1};
    for (size_t i = 0; i < BK_ARRAY_LEN(names); i++) {
        bk_jw_key(&w, names[i]);
        bk_jw_num(&w, vals[i]);
    }
    bk_jw_key(&w, "fit_returns");
    bk_jw_int(&w, r->n_fit);
    bk_jw_key(&w, "calib_errors");
    bk_jw_int(&w, r->n_calib);
    bk_jw_obj_end(&w);
    bk_jw_key(&w, "steps");
    bk_jw_arr_begin(&w);
    for (int i = 0; i < r->horizon; i++) {
        const bk_fc_step *s = &r->steps[i];
        const char *k[] = {"point", "lo80", "hi80", "lo95", "hi95"};
        double v[] = {s->point, s->lo80, s->hi80, s->lo95, s->hi95};
        bk_jw_obj_begin(&w);
        bk_jw_key(&w, "ts");
        bk_jw_time(&w, ts[i]);
        bk_jw_key(&w, "step");
        bk_jw_int(&w, s->step);
        for (size_t j = 0; j < BK_ARRAY_LEN(k); j++) {
            bk_jw_key(&w, k[j]);
            bk_jw_num(&w, v[j]);
        }
        bk_jw_obj_end(&w);
    }
    bk_jw_arr_end(&w);
    bk_jw_obj_end(&w);
    fwrite(b.data, 1, b.len, stdout);
    fputc('\n', stdout);
    bk_buf_fini(&b);
}

static int run_forecast(bk_cli *cli, const fc_args *a)
{
    history h = {0};
    bk_fc_result r = {0};
    int64_t *ts = NULL;
    bk_err err = {0};
    int rc = load_history(cli, a, 2000 + 1, &h);
    if (rc)
        goto out;
    r.steps = calloc((size_t)a->horizon, sizeof *r.steps);
    ts = calloc((size_t)a->horizon, sizeof *ts);
    if (!r.steps || !ts) {
        rc = bk_cli_fail("out of memory");
        goto out;
    }
    if (bk_fc_fit_forecast(h.close, h.n, a->horizon, NULL, &r, &err) != 0 ||
        bk_fc_next_ts(a->tf, h.anchor, h.ts[h.n - 1], a->horizon, ts, &err) != 0) {
        rc = bk_cli_fail("%s %s: %s", a->sym, bk_tf_name(a->tf), err.msg);
        goto out;
    }
    if (a->json) {
        print_json(a, &h, &r, ts);
        goto out;
    }
    printf("ts,step,point,lo80,hi80,lo95,hi95,model\n");
    for (int i = 0; i < a->horizon; i++) {
        const bk_fc_step *s = &r.steps[i];
        char t[BK_TIME_STR_MAX];
        printf("%s,%d,%.10g,%.10g,%.10g,%.10g,%.10g,%s\n", bk_time_format(ts[i], t), s->step,
               s->point, s->lo80, s->hi80, s->lo95, s->hi95, r.model);
    }
out:
    free(r.steps);
    free(ts);
    history_fini(&h);
    return rc;
}

static int print_row(void *ctx, const bk_fc_row *row)
{
    const history *h = ctx;
    char o[BK_TIME_STR_MAX], t[BK_TIME_STR_MAX];
    printf("%s,%s,%d,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g\n", bk_time_format(h->ts[row->origin], o),
           bk_time_format(h->ts[row->origin + row->step], t), row->step, row->point, row->lo80,
           row->hi80, row->lo95, row->hi95, row->actual);
    return 0;
}

static int run_backtest(bk_cli *cli, const fc_args *a)
{
    history h = {0};
    bk_err err = {0};
    int rc = load_history(cli, a, SIZE_MAX, &h);
    if (rc)
        goto out;
    int64_t start = a->start;
    if (start < 0) {
        start = h.n / 2 < 500 ? (int64_t)h.n / 2 : 500;
        if (start < BK_FC_MIN_BARS - 1)
            start = BK_FC_MIN_BARS - 1;
    }
    if (start + 1 >= (int64_t)h.n) {
        rc = bk_cli_fail("%s %s: --start %lld: the series has %zu closed bars", a->sym,
                         bk_tf_name(a->tf), (long long)start, h.n);
        goto out;
    }
    printf("origin_ts,target_ts,step,point,lo80,hi80,lo95,hi95,actual\n");
    if (bk_fc_backtest(h.close, h.n, a->horizon, (int)start, NULL, print_row, &h, &err) != 0)
        rc = bk_cli_fail("%s %s: %s", a->sym, bk_tf_name(a->tf), err.msg);
out:
    history_fini(&h);
    return rc;
}

static void print_stats_json(const bk_fc_stat *v, size_t n, int last_n)
{
    bk_buf b;
    bk_jw w;
    bk_buf_init(&b);
    bk_jw_init(&w, &b);
    bk_jw_obj_begin(&w);
    bk_jw_key(&w, "last");
    bk_jw_int(&w, last_n);
    bk_jw_key(&w, "steps");
    bk_jw_arr_begin(&w);
    for (size_t i = 0; i < n; i++) {
        bk_jw_obj_begin(&w);
        bk_jw_key(&w, "symbol");
        bk_jw_str(&w, v[i].symbol);
        bk_jw_key(&w, "timeframe");
        bk_jw_str(&w, bk_tf_name(v[i].tf));
        bk_jw_key(&w, "step");
        bk_jw_int(&w, v[i].step);
        bk_jw_key(&w, "n");
        bk_jw_int(&w, v[i].n);
        const char *k[] = {"coverage80", "coverage95", "mae", "naive_mae", "rel_mae"};
        double x[] = {v[i].coverage80, v[i].coverage95, v[i].mae, v[i].naive_mae, v[i].rel_mae};
        for (size_t j = 0; j < BK_ARRAY_LEN(k); j++) {
            bk_jw_key(&w, k[j]);
            if (isfinite(x[j]))
                bk_jw_num(&w, x[j]);
            else
                bk_jw_null(&w);
        }
        bk_jw_obj_end(&w);
    }
    bk_jw_arr_end(&w);
    bk_jw_obj_end(&w);
    fwrite(b.data, 1, b.len, stdout);
    fputc('\n', stdout);
    bk_buf_fini(&b);
}

/* forecast --stats [SYMBOL TF] [--last N] [--format csv|json] */
static int run_stats(bk_cli *cli, int argc, char **argv)
{
    const char *last_s = NULL, *format = "csv", *pos[2];
    int n_pos, rc;
    bool stats = false;
    bk_opt opts[] = {{"--stats", false, NULL, &stats},
                     {"--last", true, &last_s, NULL},
                     {"--format", true, &format, NULL},
                     {NULL, false, NULL, NULL}};
    if ((rc = bk_cli_parse(argc, argv, opts, pos, 2, &n_pos, forecast_usage)) != 0)
        return rc < 0 ? 0 : rc;
    char sym[BK_SYM_MAX + 1];
    bk_tf tf = BK_TF_D1;
    if (n_pos == 1)
        return bk_cli_usage_error("forecast --stats takes SYMBOL and TIMEFRAME, or neither");
    if (n_pos == 2 && (bk_cli_symbol(pos[0], sym) || bk_cli_tf(pos[1], &tf)))
        return BK_EXIT_USAGE;
    int64_t last = 20;
    if (last_s && bk_cli_int("--last", last_s, 0, 100000, &last))
        return BK_EXIT_USAGE;
    if (strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)
        return bk_cli_usage_error("invalid format '%s' (csv or json)", format);
    bk_store *s;
    if ((rc = bk_cli_open(cli, &s)) != 0)
        return rc;
    bk_err err = {0};
    bk_fc_stat *v = NULL;
    size_t n = 0;
    rc = bk_store_fc_stats(s, n_pos ? sym : NULL, n_pos ? (int)tf : -1, (int)last, &v, &n, &err);
    bk_store_close(s);
    if (rc)
        return bk_cli_fail("%s", err.msg);
    if (strcmp(format, "json") == 0) {
        print_stats_json(v, n, (int)last);
    } else {
        printf("symbol,timeframe,step,n,coverage80,coverage95,mae,naive_mae,rel_mae\n");
        for (size_t i = 0; i < n; i++)
            printf("%s,%s,%d,%lld,%.4f,%.4f,%.6g,%.6g,%.4f\n", v[i].symbol, bk_tf_name(v[i].tf),
                   (int)v[i].step, (long long)v[i].n, v[i].coverage80, v[i].coverage95, v[i].mae,
                   v[i].naive_mae, v[i].rel_mae);
        if (n == 0)
            fprintf(stderr, "no scored forecast%s yet\n", n_pos ? " of this series" : "");
    }
    free(v);
    return 0;
}

int bk_cmd_forecast(bk_cli *cli, int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--stats") == 0)
            return run_stats(cli, argc - 1, argv + 1);
    bool backtest = argc > 1 && strcmp(argv[1], "backtest") == 0;
    int skip = backtest ? 2 : 1;
    fc_args a = {0};
    int rc = parse_args(argc - skip, argv + skip, backtest, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    return backtest ? run_backtest(cli, &a) : run_forecast(cli, &a);
}
