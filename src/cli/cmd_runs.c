/*
 * cmd_runs.c — `barkeep runs` and `barkeep retry-failed`.
 */
#include "cli/cli.h"
#include "api/render.h"
#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void run_json(bk_jw *w, const void *item)
{
    bk_render_run(w, (const bk_run *)item);
}

static const char runs_usage[] =
    "usage: barkeep runs [--status S] [--symbol SYM] [--timeframe TF] [--limit N] [--json]\n"
    "\n"
    "Job runs, newest first. S is queued, running, success, failed or cancelled;\n"
    "failed runs are dead-lettered (no retry pending until retry-failed).\n";

static const char retry_usage[] =
    "usage: barkeep retry-failed\n"
    "\n"
    "Requeue every dead-lettered (failed) run with a fresh attempt budget.\n";

static void print_table(const bk_run *runs, size_t n)
{
    printf("%-36s %-8s %-4s %-20s %-20s %-9s %5s %6s %-8s %3s %s\n", "ID", "SYMBOL", "TF", "FROM",
           "TO", "STATUS", "PCT", "ROWS", "PROVIDER", "ATT", "ERROR");
    for (size_t i = 0; i < n; i++) {
        const bk_run *r = &runs[i];
        char f[40], t[40];
        printf("%-36s %-8s %-4s %-20s %-20s %-9s %5.1f %6lld %-8s %3d %s\n", r->id, r->symbol,
               bk_tf_name(r->tf), bk_render_time(r->slice_from_us, f),
               bk_render_time(r->slice_to_us, t), bk_status_name(r->status), r->progress_percent,
               (long long)r->rows_written, r->provider[0] ? r->provider : "-", r->attempt,
               r->error_code[0] ? r->error_code : "");
    }
}

int bk_cmd_runs(bk_cli *cli, int argc, char **argv)
{
    const char *status = NULL, *symbol = NULL, *tf_s = NULL, *limit = NULL, *pos[1];
    bool json = false;
    int n_pos, rc;
    bk_opt opts[] = {{"--status", true, &status, NULL},  {"--symbol", true, &symbol, NULL},
                     {"--timeframe", true, &tf_s, NULL}, {"--limit", true, &limit, NULL},
                     {"--json", false, NULL, &json},     {NULL, false, NULL, NULL}};
    if ((rc = bk_cli_parse(argc - 1, argv + 1, opts, pos, 0, &n_pos, runs_usage)) != 0)
        return rc < 0 ? 0 : rc;
    bk_run_filter f = {.status = -1, .tf = -1};
    char sym[BK_SYM_MAX + 1];
    bk_status st;
    bk_tf tf;
    int64_t v;
    if (status) {
        if (bk_status_parse(status, &st) != 0)
            return bk_cli_usage_error(
                "invalid status '%s' (queued, running, success, failed, cancelled)", status);
        f.status = (int)st;
    }
    if (symbol) {
        if (bk_cli_symbol(symbol, sym))
            return BK_EXIT_USAGE;
        f.symbol = sym;
    }
    if (tf_s) {
        if (bk_cli_tf(tf_s, &tf))
            return BK_EXIT_USAGE;
        f.tf = (int)tf;
    }
    if (limit) {
        if (bk_cli_int("limit", limit, 0, 100000000, &v))
            return BK_EXIT_USAGE;
        f.limit = (size_t)v;
    }
    bk_store *s;
    if ((rc = bk_cli_open(cli, &s)) != 0)
        return rc;
    bk_run *runs = NULL;
    size_t n = 0;
    bk_err err = {0};
    rc = bk_store_runs_list(s, &f, &runs, &n, &err);
    bk_store_close(s);
    if (rc)
        return bk_cli_fail("%s", err.msg);
    if (json) {
        bk_cli_print_json_array(runs, n, sizeof *runs, run_json);
    } else {
        print_table(runs, n);
    }
    free(runs);
    return 0;
}

int bk_cmd_retry_failed(bk_cli *cli, int argc, char **argv)
{
    const char *pos[1];
    int n_pos, rc;
    if ((rc = bk_cli_parse(argc - 1, argv + 1, NULL, pos, 0, &n_pos, retry_usage)) != 0)
        return rc < 0 ? 0 : rc;
    bk_store *s;
    if ((rc = bk_cli_open(cli, &s)) != 0)
        return rc;
    size_t n = 0;
    bk_err err = {0};
    rc = bk_store_runs_retry_failed(s, bk_clock_now_us(), (int)cli->conf.max_attempts, &n, &err);
    bk_store_close(s);
    if (rc)
        return bk_cli_fail("%s", err.msg);
    printf("requeued %zu failed runs\n", n);
    return 0;
}
