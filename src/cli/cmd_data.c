/*
 * cmd_data.c — read commands over the data: `coverage`, `gaps`, `bars`.
 */
#include "cli/cli.h"
#include "api/render.h"
#include "core/clock.h"
#include "core/util.h"
#include "model/time.h"
#include "plan/plan.h"
#include "prov/provset.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A coverage row and the part of its window that no provider of its chain
 * serves any more (not covered, older than the chain's history). */
typedef struct cov_row {
    bk_coverage c;
    int64_t unservable_us;
    char reason[64];  /* "" when nothing is unservable */
    int64_t empty_us; /* confirmed empty: covered, bars expected, none stored */
    size_t empty_bars;
} cov_row;

static void coverage_json(bk_jw *w, const void *item)
{
    const cov_row *r = item;
    bk_jw_obj_begin(w);
    bk_render_coverage_fields(w, &r->c);
    bk_jw_key(w, "unservable_hours");
    bk_jw_num(w, (double)r->unservable_us / 3600e6);
    bk_jw_key(w, "unservable_reason");
    if (r->reason[0])
        bk_jw_str(w, r->reason);
    else
        bk_jw_null(w);
    bk_jw_key(w, "confirmed_empty_hours");
    bk_jw_num(w, (double)r->empty_us / 3600e6);
    bk_jw_key(w, "confirmed_empty_bars");
    bk_jw_int(w, (int64_t)r->empty_bars);
    bk_jw_obj_end(w);
}

#define EMPTY_REASON "confirmed empty: the provider served no bars (halt, listing, delisting)"

static const char coverage_usage[] =
    "usage: barkeep coverage [SYMBOL [TIMEFRAME]] [--json]\n"
    "\n"
    "Coverage summary per series: the covered range, last success, the number of\n"
    "intervals in the coverage set, the covered trading hours, and the trading hours\n"
    "of its window (its definition's, else 7 days) that no provider of its chain\n"
    "serves any more (older than their history), with the reason, and the covered\n"
    "trading hours where the provider confirmed there are no bars (EMPTY: a halt,\n"
    "before a listing, after a delisting).\n";

static const char gaps_usage[] =
    "usage: barkeep gaps SYMBOL TIMEFRAME [--window-days N] [--json]\n"
    "\n"
    "Expected trading time (regular sessions, up to the last closed bar) within the\n"
    "window that is not covered yet. The window defaults to the series' definition,\n"
    "else 7 days. Gaps are the time runs will fetch; time older than any provider of\n"
    "the series' chain serves is listed apart as unservable, with the reason, and\n"
    "covered time where the provider confirmed there are no bars as confirmed empty.\n";

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

/* Planning settings as the daemon has them: the configured providers'
 * chains decide the delay and what is servable. */
static int plan_cfg_of(bk_cli *cli, bk_plan_cfg *cfg)
{
    bk_provset *ps = NULL;
    int rc = bk_cli_providers(cli, &ps);
    if (rc)
        return rc;
    bk_cli_plan_cfg(cfg, &cli->conf, ps);
    bk_provset_free(ps);
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

/* The unservable and confirmed-empty time of one series at now. */
static int row_unservable(bk_store *s, const bk_plan_cfg *cfg, cov_row *r, int64_t now_us,
                          bk_err *err)
{
    bk_def d = {.tf = r->c.tf};
    bk_strlcpy(d.symbol, r->c.symbol, sizeof d.symbol);
    d.window_days = default_window(s, d.symbol, d.tf);
    bk_series *st = NULL;
    size_t n = 0;
    int rc = bk_store_series_load(s, d.symbol, (int)d.tf, &st, &n, err);
    if (rc)
        return rc;
    bk_ivset u;
    bk_ivset_init(&u);
    bk_plan_unservable(cfg, &d, n ? &st[0].covered : NULL, now_us, &u);
    r->unservable_us = bk_ivset_total(&u);
    if (r->unservable_us > 0)
        bk_plan_unservable_reason(cfg, d.tf, r->reason, sizeof r->reason);
    rc = bk_plan_confirmed_empty(s, cfg, &d, n ? &st[0].covered : NULL, now_us, &u, &r->empty_bars,
                                 err);
    r->empty_us = bk_ivset_total(&u);
    bk_ivset_fini(&u);
    bk_series_free(st, n);
    return rc;
}

/* coverage_status rows (filtered like bk_store_coverage_list), each with
 * its unservable time. */
static int coverage_rows(bk_store *s, const bk_plan_cfg *cfg, const char *sym, int tf,
                         cov_row **out, size_t *n_out, bk_err *err)
{
    bk_coverage *cov = NULL;
    size_t n = 0;
    int rc = bk_store_coverage_list(s, sym, tf, &cov, &n, err);
    if (rc)
        return rc;
    cov_row *rows = bk_xcalloc(n + 1, sizeof *rows);
    int64_t now = bk_clock_now_us();
    for (size_t i = 0; i < n && rc == 0; i++) {
        rows[i].c = cov[i];
        rc = row_unservable(s, cfg, &rows[i], now, err);
    }
    free(cov);
    if (rc) {
        free(rows);
        return rc;
    }
    *out = rows;
    *n_out = n;
    return 0;
}

static void print_coverage(const cov_row *rows, size_t n)
{
    printf("%-8s %-4s %-20s %-20s %-20s %6s %-8s %9s %8s %8s %10s\n", "SYMBOL", "TF", "FROM", "TO",
           "LAST_SUCCESS", "ROWS", "PROVIDER", "INTERVALS", "HOURS", "EMPTY", "UNSERVABLE");
    for (size_t i = 0; i < n; i++) {
        const bk_coverage *c = &rows[i].c;
        char a[40], b[40], d[40];
        printf("%-8s %-4s %-20s %-20s %-20s %6lld %-8s %9lld %8.1f %8.1f %10.1f%s%s\n", c->symbol,
               bk_tf_name(c->tf), bk_render_time(c->from_us, a), bk_render_time(c->to_us, b),
               bk_render_time(c->last_success_us, d), (long long)c->last_rows_written,
               c->last_provider[0] ? c->last_provider : "-", (long long)c->n_intervals,
               (double)c->covered_us / 3600e6, (double)rows[i].empty_us / 3600e6,
               (double)rows[i].unservable_us / 3600e6, rows[i].reason[0] ? " " : "",
               rows[i].reason);
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
    bk_plan_cfg cfg;
    if ((rc = plan_cfg_of(cli, &cfg)) != 0)
        return rc;
    bk_store *s;
    if ((rc = bk_cli_open(cli, &s)) != 0)
        return rc;
    cov_row *rows = NULL;
    size_t n = 0;
    bk_err err = {0};
    rc = coverage_rows(s, &cfg, n_pos ? sym : NULL, tf_i, &rows, &n, &err);
    bk_store_close(s);
    if (rc)
        return bk_cli_fail("%s", err.msg);
    if (json)
        bk_cli_print_json_array(rows, n, sizeof *rows, coverage_json);
    else
        print_coverage(rows, n);
    free(rows);
    return 0;
}

static void gaps_text(const bk_ivset *gaps, const bk_ivset *unserv, const char *why)
{
    char a[BK_TIME_STR_MAX], b[BK_TIME_STR_MAX];
    printf("%-20s %-20s %9s\n", "GAP_FROM", "GAP_TO", "GAP_HOURS");
    for (size_t i = 0; i < gaps->n; i++)
        printf("%-20s %-20s %9.2f\n", bk_time_format(gaps->v[i].from_us, a),
               bk_time_format(gaps->v[i].to_us, b),
               (double)(gaps->v[i].to_us - gaps->v[i].from_us) / 3600e6);
    if (unserv->n == 0)
        return;
    printf("%-20s %-20s %9s %s\n", "UNSERVABLE_FROM", "UNSERVABLE_TO", "HOURS", "REASON");
    for (size_t i = 0; i < unserv->n; i++)
        printf("%-20s %-20s %9.2f %s\n", bk_time_format(unserv->v[i].from_us, a),
               bk_time_format(unserv->v[i].to_us, b),
               (double)(unserv->v[i].to_us - unserv->v[i].from_us) / 3600e6, why);
}

/* Covered time where the provider confirmed there are no bars. */
static void empty_text(const bk_ivset *empty)
{
    char a[BK_TIME_STR_MAX], b[BK_TIME_STR_MAX];
    if (empty->n == 0)
        return;
    printf("%-20s %-20s %9s\n", "EMPTY_FROM", "EMPTY_TO", "HOURS");
    for (size_t i = 0; i < empty->n; i++)
        printf("%-20s %-20s %9.2f\n", bk_time_format(empty->v[i].from_us, a),
               bk_time_format(empty->v[i].to_us, b),
               (double)(empty->v[i].to_us - empty->v[i].from_us) / 3600e6);
}

/* One JSON object per interval: {"<prefix>_from", "<prefix>_to",
 * "<prefix>_hours"[, "reason"]}. */
static void intervals_json(bk_jw *w, const bk_ivset *set, const char *prefix, const char *why)
{
    char key[32];
    for (size_t i = 0; i < set->n; i++) {
        bk_jw_obj_begin(w);
        snprintf(key, sizeof key, "%s_from", prefix);
        bk_jw_key(w, key);
        bk_jw_time(w, set->v[i].from_us);
        snprintf(key, sizeof key, "%s_to", prefix);
        bk_jw_key(w, key);
        bk_jw_time(w, set->v[i].to_us);
        snprintf(key, sizeof key, "%s_hours", prefix);
        bk_jw_key(w, key);
        bk_jw_num(w, (double)(set->v[i].to_us - set->v[i].from_us) / 3600e6);
        if (why) {
            bk_jw_key(w, "reason");
            bk_jw_str(w, why);
        }
        bk_jw_obj_end(w);
    }
}

/* Gaps, then unservable time, then confirmed-empty time: text tables, or
 * one JSON array of gap objects followed by unservable and empty objects. */
static void print_gaps(const bk_ivset *gaps, const bk_ivset *unserv, const char *why,
                       const bk_ivset *empty, bool json)
{
    if (!json) {
        gaps_text(gaps, unserv, why);
        empty_text(empty);
        return;
    }
    bk_buf buf;
    bk_buf_init(&buf);
    bk_jw w;
    bk_jw_init(&w, &buf);
    bk_jw_arr_begin(&w);
    intervals_json(&w, gaps, "gap", NULL);
    intervals_json(&w, unserv, "unservable", why);
    intervals_json(&w, empty, "empty", EMPTY_REASON);
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
    bk_plan_cfg cfg;
    if ((rc = plan_cfg_of(cli, &cfg)) != 0)
        return rc;
    bk_store *s;
    if ((rc = bk_cli_open(cli, &s)) != 0)
        return rc;
    d.window_days = window ? (int32_t)v : default_window(s, d.symbol, d.tf);
    bk_series *st = NULL;
    size_t n = 0, n_empty = 0;
    bk_err err = {0};
    bk_ivset gaps, unserv, empty;
    bk_ivset_init(&gaps);
    bk_ivset_init(&unserv);
    bk_ivset_init(&empty);
    int64_t now = bk_clock_now_us();
    rc = bk_store_series_load(s, d.symbol, (int)d.tf, &st, &n, &err);
    if (rc == 0)
        rc = bk_plan_confirmed_empty(s, &cfg, &d, n ? &st[0].covered : NULL, now, &empty, &n_empty,
                                     &err);
    bk_store_close(s);
    if (rc == 0) {
        bk_plan_gaps(&cfg, &d, n ? &st[0].covered : NULL, now, &gaps);
        bk_plan_unservable(&cfg, &d, n ? &st[0].covered : NULL, now, &unserv);
        char why[64];
        print_gaps(&gaps, &unserv, bk_plan_unservable_reason(&cfg, d.tf, why, sizeof why), &empty,
                   json);
    }
    bk_ivset_fini(&gaps);
    bk_ivset_fini(&unserv);
    bk_ivset_fini(&empty);
    bk_series_free(st, n);
    return rc ? bk_cli_fail("%s", err.msg) : 0;
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
