/*
 * cmd_jobs.c — `barkeep jobs`: the watchlist of job definitions.
 */
#include "cli/cli.h"
#include "core/clock.h"
#include "json/jw.h"
#include "model/time.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char jobs_usage[] =
    "usage: barkeep jobs add SYMBOL TIMEFRAME [--type T] [--window-days N] [--priority N]\n"
    "                        [--horizon N]\n"
    "       barkeep jobs list [--json]\n"
    "       barkeep jobs enable|disable|rm SYMBOL TIMEFRAME [--type T]\n"
    "       barkeep jobs seed\n"
    "\n"
    "  --type T          fetch_intraday | fetch_historical | run_forecast\n"
    "                    (default: intraday below d1, historical otherwise)\n"
    "  --window-days N   days of history to keep covered, 1..36500\n"
    "                    (default 5 intraday, 365 historical)\n"
    "  --priority N      higher runs first, -1000000..1000000 (default 190 intraday, 100\n"
    "                    historical)\n"
    "  --horizon N       run_forecast: bars to forecast, 1..500 (default 20 for d1 and w1,\n"
    "                    one session for intraday)\n"
    "  seed              add the deployment guide's Step 5 watchlist (AAPL NVDA TSLA)\n"
    "                    and its forecasts (run_forecast d1, 90 days, priority 50)\n";

/* The guide's Step 5 watchlist. */
static const struct {
    const char *symbol, *tf;
    bk_job type;
    int window_days, priority;
} guide_watchlist[] = {
    {"AAPL", "15m", BK_JOB_INTRADAY, 5, 200},    {"AAPL", "1h", BK_JOB_INTRADAY, 5, 190},
    {"NVDA", "15m", BK_JOB_INTRADAY, 5, 200},    {"NVDA", "1h", BK_JOB_INTRADAY, 5, 190},
    {"TSLA", "15m", BK_JOB_INTRADAY, 5, 200},    {"TSLA", "1h", BK_JOB_INTRADAY, 5, 190},
    {"AAPL", "d1", BK_JOB_HISTORICAL, 365, 100}, {"NVDA", "d1", BK_JOB_HISTORICAL, 365, 100},
    {"TSLA", "d1", BK_JOB_HISTORICAL, 365, 100}, {"AAPL", "d1", BK_JOB_FORECAST, 90, 50},
    {"NVDA", "d1", BK_JOB_FORECAST, 90, 50},     {"TSLA", "d1", BK_JOB_FORECAST, 90, 50},
};

static int put_def(bk_store *s, bk_def *d)
{
    bk_err err = {0};
    bool created = false;
    if (bk_store_def_put(s, d, BK_PUT_SET, &created, bk_clock_now_us(), &err) != 0)
        return bk_cli_fail("%s", err.msg);
    char h[32] = "";
    if (d->type == BK_JOB_FORECAST && d->horizon)
        snprintf(h, sizeof h, " horizon=%d", (int)d->horizon);
    printf("%s %s %s %s window_days=%d priority=%d%s id=%s\n", created ? "added" : "updated",
           d->symbol, bk_tf_name(d->tf), bk_job_name(d->type), d->window_days, d->priority, h,
           d->id);
    return 0;
}

static int jobs_add(bk_cli *cli, int argc, char **argv)
{
    const char *type = NULL, *window = NULL, *prio = NULL, *horizon = NULL, *pos[2];
    int n_pos, rc;
    bk_opt opts[] = {{"--type", true, &type, NULL},
                     {"--window-days", true, &window, NULL},
                     {"--priority", true, &prio, NULL},
                     {"--horizon", true, &horizon, NULL},
                     {NULL, false, NULL, NULL}};
    if ((rc = bk_cli_parse(argc, argv, opts, pos, 2, &n_pos, jobs_usage)) != 0)
        return rc < 0 ? 0 : rc;
    if (n_pos != 2)
        return bk_cli_usage_error("jobs add needs SYMBOL and TIMEFRAME");
    bk_def d = {0};
    int64_t v;
    if (bk_cli_symbol(pos[0], d.symbol) || bk_cli_tf(pos[1], &d.tf))
        return BK_EXIT_USAGE;
    d.type = bk_job_for_tf(d.tf);
    if (type && bk_cli_job(type, &d.type))
        return BK_EXIT_USAGE;
    bool intraday = d.type == BK_JOB_INTRADAY;
    d.window_days = intraday ? 5 : 365;
    d.priority = intraday ? 190 : 100;
    if (window) {
        if (bk_cli_int("window", window, 1, 36500, &v))
            return BK_EXIT_USAGE;
        d.window_days = (int32_t)v;
    }
    if (prio) {
        if (bk_cli_int("priority", prio, -1000000, 1000000, &v))
            return BK_EXIT_USAGE;
        d.priority = (int32_t)v;
    }
    if (horizon) {
        if (d.type != BK_JOB_FORECAST)
            return bk_cli_usage_error("--horizon is for --type run_forecast");
        if (bk_cli_int("horizon", horizon, 1, BK_DEF_HORIZON_MAX, &v))
            return BK_EXIT_USAGE;
        d.horizon = (int32_t)v;
    }
    d.enabled = true;
    bk_store *s;
    if ((rc = bk_cli_open(cli, &s)) != 0)
        return rc;
    rc = put_def(s, &d);
    bk_store_close(s);
    return rc;
}

static int jobs_seed(bk_cli *cli)
{
    bk_store *s;
    int rc = bk_cli_open(cli, &s);
    for (size_t i = 0; rc == 0 && i < sizeof guide_watchlist / sizeof guide_watchlist[0]; i++) {
        bk_def d = {0};
        bk_strlcpy(d.symbol, guide_watchlist[i].symbol, sizeof d.symbol);
        rc = bk_tf_parse(guide_watchlist[i].tf, &d.tf);
        assert(rc == 0); /* the table's timeframes are valid */
        d.type = guide_watchlist[i].type;
        d.window_days = guide_watchlist[i].window_days;
        d.priority = guide_watchlist[i].priority;
        d.enabled = true;
        rc = put_def(s, &d);
    }
    if (rc == 0)
        bk_store_close(s);
    return rc;
}

static void def_json(bk_jw *w, const void *item)
{
    const bk_def *d = item;
    bk_jw_obj_begin(w);
    bk_jw_key(w, "id");
    bk_jw_str(w, d->id);
    bk_jw_key(w, "job_type");
    bk_jw_str(w, bk_job_name(d->type));
    bk_jw_key(w, "symbol");
    bk_jw_str(w, d->symbol);
    bk_jw_key(w, "timeframe");
    bk_jw_str(w, bk_tf_name(d->tf));
    bk_jw_key(w, "window_days");
    bk_jw_int(w, d->window_days);
    bk_jw_key(w, "priority");
    bk_jw_int(w, d->priority);
    bk_jw_key(w, "horizon");
    if (d->type == BK_JOB_FORECAST)
        bk_jw_int(w, d->horizon);
    else
        bk_jw_null(w);
    bk_jw_key(w, "enabled");
    bk_jw_bool(w, d->enabled);
    bk_jw_key(w, "created_at");
    bk_jw_time(w, d->created_us);
    bk_jw_key(w, "updated_at");
    bk_jw_time(w, d->updated_us);
    bk_jw_obj_end(w);
}

static int jobs_list(bk_cli *cli, int argc, char **argv)
{
    bool json = false;
    const char *pos[1];
    int n_pos, rc;
    bk_opt opts[] = {{"--json", false, NULL, &json}, {NULL, false, NULL, NULL}};
    if ((rc = bk_cli_parse(argc, argv, opts, pos, 0, &n_pos, jobs_usage)) != 0)
        return rc < 0 ? 0 : rc;
    bk_store *s;
    if ((rc = bk_cli_open(cli, &s)) != 0)
        return rc;
    bk_def *defs = NULL;
    size_t n = 0;
    bk_err err = {0};
    if (bk_store_def_list(s, false, &defs, &n, &err) != 0) {
        bk_store_close(s);
        return bk_cli_fail("%s", err.msg);
    }
    if (json) {
        bk_cli_print_json_array(defs, n, sizeof *defs, def_json);
    } else {
        printf("%-10s %-4s %-17s %7s %8s %-7s %s\n", "SYMBOL", "TF", "TYPE", "WINDOW", "PRIORITY",
               "ENABLED", "ID");
        for (size_t i = 0; i < n; i++)
            printf("%-10s %-4s %-17s %7d %8d %-7s %s\n", defs[i].symbol, bk_tf_name(defs[i].tf),
                   bk_job_name(defs[i].type), defs[i].window_days, defs[i].priority,
                   defs[i].enabled ? "yes" : "no", defs[i].id);
    }
    free(defs);
    bk_store_close(s);
    return 0;
}

/* enable | disable | rm */
static int jobs_change(bk_cli *cli, const char *verb, int argc, char **argv)
{
    const char *type = NULL, *pos[2];
    int n_pos, rc;
    bk_opt opts[] = {{"--type", true, &type, NULL}, {NULL, false, NULL, NULL}};
    if ((rc = bk_cli_parse(argc, argv, opts, pos, 2, &n_pos, jobs_usage)) != 0)
        return rc < 0 ? 0 : rc;
    if (n_pos != 2)
        return bk_cli_usage_error("jobs %s needs SYMBOL and TIMEFRAME", verb);
    char sym[BK_SYM_MAX + 1];
    bk_tf tf;
    bk_job job;
    if (bk_cli_symbol(pos[0], sym) || bk_cli_tf(pos[1], &tf))
        return BK_EXIT_USAGE;
    job = bk_job_for_tf(tf);
    if (type && bk_cli_job(type, &job))
        return BK_EXIT_USAGE;
    bk_store *s;
    if ((rc = bk_cli_open(cli, &s)) != 0)
        return rc;
    bk_err err = {0};
    int64_t now = bk_clock_now_us();
    if (strcmp(verb, "rm") == 0)
        rc = bk_store_def_remove(s, sym, tf, job, now, &err);
    else
        rc = bk_store_def_set_enabled(s, sym, tf, job, strcmp(verb, "enable") == 0, now, &err);
    bk_store_close(s);
    if (rc == BK_ENOENT)
        return bk_cli_fail("no %s definition for %s %s", bk_job_name(job), sym, bk_tf_name(tf));
    if (rc)
        return bk_cli_fail("%s", err.msg);
    printf("%s %s %s %s\n",
           strcmp(verb, "rm") == 0 ? "removed"
           : verb[0] == 'e'        ? "enabled"
                                   : "disabled",
           sym, bk_tf_name(tf), bk_job_name(job));
    return 0;
}

int bk_cmd_jobs(bk_cli *cli, int argc, char **argv)
{
    if (argc < 2) {
        fputs(jobs_usage, stderr);
        return BK_EXIT_USAGE;
    }
    const char *verb = argv[1];
    if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
        fputs(jobs_usage, stdout);
        return 0;
    }
    if (strcmp(verb, "add") == 0)
        return jobs_add(cli, argc - 2, argv + 2);
    if (strcmp(verb, "list") == 0)
        return jobs_list(cli, argc - 2, argv + 2);
    if (strcmp(verb, "seed") == 0) {
        const char *pos[1];
        int n_pos, rc = bk_cli_parse(argc - 2, argv + 2, NULL, pos, 0, &n_pos, jobs_usage);
        return rc ? (rc < 0 ? 0 : rc) : jobs_seed(cli);
    }
    if (strcmp(verb, "enable") == 0 || strcmp(verb, "disable") == 0 || strcmp(verb, "rm") == 0)
        return jobs_change(cli, verb, argc - 2, argv + 2);
    return bk_cli_usage_error("unknown jobs command '%s' (add, list, enable, disable, rm, seed)",
                              verb);
}
