/*
 * cmd_data.c — read commands over the data: `coverage`, `gaps`, `bars`.
 */
#include "cli/cli.h"
#include "api/render.h"
#include "core/clock.h"
#include "model/time.h"
#include "plan/plan.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void coverage_json(bk_jw *w, const void *item)
{
    bk_render_coverage(w, (const bk_coverage *)item);
}

static const char coverage_usage[] =
    "usage: barkeep coverage [SYMBOL [TIMEFRAME]] [--json]\n"
    "\n"
    "Coverage summary per series: the covered range, last success, the number of\n"
    "intervals in the coverage set and the covered trading hours.\n";

static const char gaps_usage[] =
    "usage: barkeep gaps SYMBOL TIMEFRAME [--window-days N] [--json]\n"
    "\n"
    "Expected trading time (regular sessions, up to the last closed bar) within the\n"
    "window that is not covered yet. The window defaults to the series' definition,\n"
    "else 7 days.\n";

static const char bars_usage[] =
    "usage: barkeep bars SYMBOL TIMEFRAME [--from T] [--to T] [--format csv|json]\n"
    "\n"
    "Stored bars with labels in [from, to), oldest first (CSV by default).\n";

static void flush_json(bk_buf *b, bool force)
{
    if (force || b->len > (1u << 16)) {
        fwrite(b->data, 1, b->len, stdout);
        bk_buf_reset(b);
    }
}

int bk_cmd_coverage(bk_cli *cli, int argc, char **argv)
{
    bool json = false;
    const char *pos[2];
    int n_pos, rc;
    bk_opt opts[] = {{"--json", false, NULL, &json}, {NULL, false, NULL, NULL}};
    if ((rc = bk_cli_parse(argc - 1, argv + 1, opts, pos, 2, &n_pos, coverage_usage)) != 0)
        return rc < 0 ? 0 : rc;
    char sym[BK_SYM_MAX + 1];
    bk_tf tf;
    int tf_i = -1;
    if (n_pos >= 1 && bk_cli_symbol(pos[0], sym))
        return BK_EXIT_USAGE;
    if (n_pos >= 2) {
        if (bk_cli_tf(pos[1], &tf))
            return BK_EXIT_USAGE;
        tf_i = (int)tf;
    }
    bk_store *s;
    if ((rc = bk_cli_open(cli, &s)) != 0)
        return rc;
    bk_coverage *cov = NULL;
    size_t n = 0;
    bk_err err = {0};
    rc = bk_store_coverage_list(s, n_pos ? sym : NULL, tf_i, &cov, &n, &err);
    bk_store_close(s);
    if (rc)
        return bk_cli_fail("%s", err.msg);
    if (json) {
        bk_cli_print_json_array(cov, n, sizeof *cov, coverage_json);
    } else {
        printf("%-8s %-4s %-20s %-20s %-20s %6s %-8s %9s %8s\n", "SYMBOL", "TF", "FROM", "TO",
               "LAST_SUCCESS", "ROWS", "PROVIDER", "INTERVALS", "HOURS");
        for (size_t i = 0; i < n; i++) {
            char a[40], b[40], c[40];
            printf("%-8s %-4s %-20s %-20s %-20s %6lld %-8s %9lld %8.1f\n", cov[i].symbol,
                   bk_tf_name(cov[i].tf), bk_render_time(cov[i].from_us, a),
                   bk_render_time(cov[i].to_us, b), bk_render_time(cov[i].last_success_us, c),
                   (long long)cov[i].last_rows_written,
                   cov[i].last_provider[0] ? cov[i].last_provider : "-",
                   (long long)cov[i].n_intervals, (double)cov[i].covered_us / 3600e6);
        }
    }
    free(cov);
    return 0;
}

/* The series' window: its definition's (intraday or historical), else 7. */
static int32_t default_window(bk_store *s, const char *sym, bk_tf tf)
{
    bk_def d;
    bk_err err = {0};
    if (bk_store_def_get(s, sym, tf, bk_job_for_tf(tf), &d, &err) == 0)
        return d.window_days;
    return 7;
}

static void print_gaps(const bk_ivset *gaps, bool json)
{
    char a[BK_TIME_STR_MAX], b[BK_TIME_STR_MAX];
    if (!json) {
        printf("%-20s %-20s %9s\n", "GAP_FROM", "GAP_TO", "GAP_HOURS");
        for (size_t i = 0; i < gaps->n; i++)
            printf("%-20s %-20s %9.2f\n", bk_time_format(gaps->v[i].from_us, a),
                   bk_time_format(gaps->v[i].to_us, b),
                   (double)(gaps->v[i].to_us - gaps->v[i].from_us) / 3600e6);
        return;
    }
    bk_buf buf;
    bk_buf_init(&buf);
    bk_jw w;
    bk_jw_init(&w, &buf);
    bk_jw_arr_begin(&w);
    for (size_t i = 0; i < gaps->n; i++) {
        bk_jw_obj_begin(&w);
        bk_jw_key(&w, "gap_from");
        bk_jw_time(&w, gaps->v[i].from_us);
        bk_jw_key(&w, "gap_to");
        bk_jw_time(&w, gaps->v[i].to_us);
        bk_jw_key(&w, "gap_hours");
        bk_jw_num(&w, (double)(gaps->v[i].to_us - gaps->v[i].from_us) / 3600e6);
        bk_jw_obj_end(&w);
    }
    bk_jw_arr_end(&w);
    printf("%s\n", buf.data);
    bk_buf_fini(&buf);
}

int bk_cmd_gaps(bk_cli *cli, int argc, char **argv)
{
    bool json = false;
    const char *window = NULL, *pos[2];
    int n_pos, rc;
    bk_opt opts[] = {{"--json", false, NULL, &json},
                     {"--window-days", true, &window, NULL},
                     {NULL, false, NULL, NULL}};
    if ((rc = bk_cli_parse(argc - 1, argv + 1, opts, pos, 2, &n_pos, gaps_usage)) != 0)
        return rc < 0 ? 0 : rc;
    if (n_pos != 2)
        return bk_cli_usage_error("gaps needs SYMBOL and TIMEFRAME");
    bk_def d = {0};
    int64_t v = 0;
    if (bk_cli_symbol(pos[0], d.symbol) || bk_cli_tf(pos[1], &d.tf))
        return BK_EXIT_USAGE;
    if (window && bk_cli_int("window", window, 1, 36500, &v))
        return BK_EXIT_USAGE;
    bk_store *s;
    if ((rc = bk_cli_open(cli, &s)) != 0)
        return rc;
    d.window_days = window ? (int32_t)v : default_window(s, d.symbol, d.tf);
    bk_series *st = NULL;
    size_t n = 0;
    bk_err err = {0};
    rc = bk_store_series_load(s, d.symbol, (int)d.tf, &st, &n, &err);
    bk_store_close(s);
    if (rc)
        return bk_cli_fail("%s", err.msg);
    bk_prov *p = NULL;
    if ((rc = bk_cli_provider(cli, &p)) != 0) {
        bk_series_free(st, n);
        return rc;
    }
    bk_plan_cfg cfg;
    bk_plan_cfg_from_conf(&cfg, &cli->conf, p->delay_us);
    bk_prov_free(p);
    bk_ivset gaps;
    bk_ivset_init(&gaps);
    bk_plan_gaps(&cfg, &d, n ? &st[0].covered : NULL, bk_clock_now_us(), &gaps);
    print_gaps(&gaps, json);
    bk_ivset_fini(&gaps);
    bk_series_free(st, n);
    return 0;
}

typedef struct bars_out {
    bool json;
    bool first;
    bk_buf buf;
    bk_jw w;
} bars_out;

static int print_bar(void *ctx, const bk_bar *bar, const char *provider)
{
    bars_out *o = ctx;
    char ts[BK_TIME_STR_MAX];
    if (!o->json) {
        printf("%s,%.10g,%.10g,%.10g,%.10g,%.10g,%s\n", bk_time_format(bar->ts_us, ts), bar->open,
               bar->high, bar->low, bar->close, bar->volume, provider);
        return 0;
    }
    bk_jw_obj_begin(&o->w);
    bk_jw_key(&o->w, "ts");
    bk_jw_time(&o->w, bar->ts_us);
    bk_jw_key(&o->w, "open");
    bk_jw_num(&o->w, bar->open);
    bk_jw_key(&o->w, "high");
    bk_jw_num(&o->w, bar->high);
    bk_jw_key(&o->w, "low");
    bk_jw_num(&o->w, bar->low);
    bk_jw_key(&o->w, "close");
    bk_jw_num(&o->w, bar->close);
    bk_jw_key(&o->w, "volume");
    bk_jw_num(&o->w, bar->volume);
    bk_jw_key(&o->w, "provider");
    bk_jw_str(&o->w, provider);
    bk_jw_obj_end(&o->w);
    flush_json(&o->buf, false);
    return 0;
}

int bk_cmd_bars(bk_cli *cli, int argc, char **argv)
{
    const char *from_s = NULL, *to_s = NULL, *format = "csv", *pos[2];
    int n_pos, rc;
    bk_opt opts[] = {{"--from", true, &from_s, NULL},
                     {"--to", true, &to_s, NULL},
                     {"--format", true, &format, NULL},
                     {NULL, false, NULL, NULL}};
    if ((rc = bk_cli_parse(argc - 1, argv + 1, opts, pos, 2, &n_pos, bars_usage)) != 0)
        return rc < 0 ? 0 : rc;
    if (n_pos != 2)
        return bk_cli_usage_error("bars needs SYMBOL and TIMEFRAME");
    char sym[BK_SYM_MAX + 1];
    bk_tf tf;
    int64_t from = INT64_MIN, to = INT64_MAX;
    if (bk_cli_symbol(pos[0], sym) || bk_cli_tf(pos[1], &tf))
        return BK_EXIT_USAGE;
    if ((from_s && bk_cli_time("--from", from_s, &from)) ||
        (to_s && bk_cli_time("--to", to_s, &to)))
        return BK_EXIT_USAGE;
    if (strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)
        return bk_cli_usage_error("invalid format '%s' (csv or json)", format);
    bk_store *s;
    if ((rc = bk_cli_open(cli, &s)) != 0)
        return rc;
    bars_out o = {.json = strcmp(format, "json") == 0};
    bk_buf_init(&o.buf);
    bk_jw_init(&o.w, &o.buf);
    if (o.json)
        bk_jw_arr_begin(&o.w);
    else
        printf("ts,open,high,low,close,volume,provider\n");
    bk_err err = {0};
    rc = bk_store_bars_read(s, sym, tf, from, to, print_bar, &o, &err);
    bk_store_close(s);
    if (o.json) {
        bk_jw_arr_end(&o.w);
        bk_buf_puts(&o.buf, "\n");
        flush_json(&o.buf, true);
    }
    bk_buf_fini(&o.buf);
    if (rc)
        return bk_cli_fail("%s", err.msg);
    return 0;
}
