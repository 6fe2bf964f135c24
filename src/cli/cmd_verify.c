/*
 * cmd_verify.c — `barkeep verify`: reconcile a series with a provider
 * (work/verify.h), and with --repair queue again the ranges that differ.
 */
#include "cli/cli.h"
#include "core/clock.h"
#include "json/jw.h"
#include "model/time.h"
#include "prov/provset.h"
#include "work/verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_DIFFS_MAX  50 /* lines of differences in the text report */
#define REPAIR_PRIORITY 100

static const char verify_usage[] =
    "usage: barkeep verify SYMBOL TIMEFRAME [--from T] [--to T] [--provider NAME]\n"
    "                      [--sample N] [--repair] [--json]\n"
    "\n"
    "Fetches again, from a provider, what the store holds for the series (its\n"
    "covered time within [from, to)) and reports the bars missing (served, not\n"
    "stored), extra (stored, not served) and different. The provider defaults to\n"
    "the one the series' bars came from, else the first of the timeframe's\n"
    "chain; every request takes a token of its budget. --sample N checks N of the\n"
    "ranges (one request span each) spread over the series instead of all.\n"
    "\n"
    "Nothing is changed unless --repair: the ranges that differ are queued again\n"
    "(the next tick or serve fetches them and overwrites the stored bars; extra\n"
    "bars are not deleted and stay reported).\n"
    "\n"
    "Exit status: 0 identical, 1 differences found or a failure, 2 usage error.\n";

typedef struct verify_args {
    char symbol[BK_SYM_MAX + 1];
    bk_tf tf;
    int64_t from_us, to_us, sample;
    const char *provider;
    bool repair, json;
} verify_args;

static int parse_args(int argc, char **argv, verify_args *a)
{
    const char *from_s = NULL, *to_s = NULL, *sample_s = NULL, *pos[2];
    int n_pos, rc;
    memset(a, 0, sizeof *a);
    bk_opt opts[] = {{"--from", true, &from_s, NULL},
                     {"--to", true, &to_s, NULL},
                     {"--provider", true, &a->provider, NULL},
                     {"--sample", true, &sample_s, NULL},
                     {"--repair", false, NULL, &a->repair},
                     {"--json", false, NULL, &a->json},
                     {NULL, false, NULL, NULL}};
    if ((rc = bk_cli_parse(argc - 1, argv + 1, opts, pos, 2, &n_pos, verify_usage)) != 0)
        return rc;
    if (n_pos != 2)
        return bk_cli_usage_error("verify needs SYMBOL and TIMEFRAME");
    a->from_us = INT64_MIN;
    a->to_us = INT64_MAX;
    if (bk_cli_symbol(pos[0], a->symbol) || bk_cli_tf(pos[1], &a->tf) ||
        (from_s && bk_cli_time("--from", from_s, &a->from_us)) ||
        (to_s && bk_cli_time("--to", to_s, &a->to_us)) ||
        (sample_s && bk_cli_int("--sample", sample_s, 1, 1000000, &a->sample)))
        return BK_EXIT_USAGE;
    if (a->from_us >= a->to_us)
        return bk_cli_usage_error("--from must be before --to");
    return 0;
}

/* --provider, else the series' own provider, else the chain's first. */
static bk_prov *pick(bk_store *s, bk_provset *ps, const verify_args *a, int *rc)
{
    *rc = 0;
    if (a->provider) {
        bk_prov *p = bk_provset_get(ps, a->provider);
        if (!p)
            *rc = bk_cli_usage_error("provider '%s' is not configured (see barkeep providers)",
                                     a->provider);
        return p;
    }
    bk_source src;
    bk_err err = {0};
    if (bk_store_bars_source(s, a->symbol, a->tf, &src, &err) == 0 &&
        bk_provset_get(ps, src.provider))
        return bk_provset_get(ps, src.provider);
    return bk_provset_primary(ps, a->tf);
}

static const char *kind_name(bk_verify_kind k)
{
    return k == BK_VERIFY_MISSING ? "missing" : k == BK_VERIFY_EXTRA ? "extra" : "different";
}

static void bar_text(const bk_bar *b, char *out, size_t cap)
{
    snprintf(out, cap, "%.10g/%.10g/%.10g/%.10g/%.10g", b->open, b->high, b->low, b->close,
             b->volume);
}

static void print_text(const verify_args *a, const bk_prov *p, const bk_verify_report *r)
{
    printf("verify %s %s against %s: %zu of %zu ranges checked, %lld bars served, %lld stored\n",
           a->symbol, bk_tf_name(a->tf), p->name, r->ranges_checked, r->ranges,
           (long long)r->served, (long long)r->stored);
    for (size_t i = 0; i < r->n_diffs && i < TEXT_DIFFS_MAX; i++) {
        const bk_verify_diff *d = &r->diffs[i];
        char t[BK_TIME_STR_MAX], x[160] = "-", y[160] = "-";
        if (d->kind != BK_VERIFY_MISSING)
            bar_text(&d->stored, x, sizeof x);
        if (d->kind != BK_VERIFY_EXTRA)
            bar_text(&d->served, y, sizeof y);
        printf("%-9s %s  stored %s  served %s\n", kind_name(d->kind), bk_time_format(d->ts_us, t),
               x, y);
    }
    if (r->n_diffs > TEXT_DIFFS_MAX)
        printf("... and %zu more\n", r->n_diffs - TEXT_DIFFS_MAX);
    printf("%zu missing, %zu extra, %zu different\n", r->missing, r->extra, r->different);
}

static void bar_json(bk_jw *w, const char *key, const bk_bar *b, bool present)
{
    bk_jw_key(w, key);
    if (!present) {
        bk_jw_null(w);
        return;
    }
    bk_jw_obj_begin(w);
    const char *k[] = {"open", "high", "low", "close", "volume"};
    const double v[] = {b->open, b->high, b->low, b->close, b->volume};
    for (size_t i = 0; i < 5; i++) {
        bk_jw_key(w, k[i]);
        bk_jw_num(w, v[i]);
    }
    bk_jw_obj_end(w);
}

static void print_json(const verify_args *a, const bk_prov *p, const bk_verify_report *r,
                       size_t requeued)
{
    bk_buf b;
    bk_buf_init(&b);
    bk_jw w;
    bk_jw_init(&w, &b);
    bk_jw_obj_begin(&w);
    bk_jw_key(&w, "symbol");
    bk_jw_str(&w, a->symbol);
    bk_jw_key(&w, "timeframe");
    bk_jw_str(&w, bk_tf_name(a->tf));
    bk_jw_key(&w, "provider");
    bk_jw_str(&w, p->name);
    const char *k[] = {"ranges",  "ranges_checked", "served",    "stored",
                       "missing", "extra",          "different", "requeued"};
    const int64_t v[] = {(int64_t)r->ranges,
                         (int64_t)r->ranges_checked,
                         r->served,
                         r->stored,
                         (int64_t)r->missing,
                         (int64_t)r->extra,
                         (int64_t)r->different,
                         (int64_t)requeued};
    for (size_t i = 0; i < BK_ARRAY_LEN(k); i++) {
        bk_jw_key(&w, k[i]);
        bk_jw_int(&w, v[i]);
    }
    bk_jw_key(&w, "diffs");
    bk_jw_arr_begin(&w);
    for (size_t i = 0; i < r->n_diffs; i++) {
        const bk_verify_diff *d = &r->diffs[i];
        bk_jw_obj_begin(&w);
        bk_jw_key(&w, "kind");
        bk_jw_str(&w, kind_name(d->kind));
        bk_jw_key(&w, "ts");
        bk_jw_time(&w, d->ts_us);
        bar_json(&w, "stored", &d->stored, d->kind != BK_VERIFY_MISSING);
        bar_json(&w, "served", &d->served, d->kind != BK_VERIFY_EXTRA);
        bk_jw_obj_end(&w);
    }
    bk_jw_arr_end(&w);
    bk_jw_obj_end(&w);
    bk_buf_puts(&b, "\n");
    fwrite(b.data, 1, b.len, stdout);
    bk_buf_fini(&b);
}

/* Queue a run for every range that differs; *n = runs enqueued. */
static int repair(bk_store *s, const bk_cli *cli, const verify_args *a, const bk_verify_report *r,
                  size_t *n, bk_err *err)
{
    *n = 0;
    if (r->n_bad == 0)
        return 0;
    bk_run *runs = bk_xcalloc(r->n_bad, sizeof *runs);
    for (size_t i = 0; i < r->n_bad; i++) {
        bk_strlcpy(runs[i].symbol, a->symbol, sizeof runs[i].symbol);
        runs[i].tf = a->tf;
        runs[i].type = bk_job_for_tf(a->tf);
        runs[i].slice_from_us = r->bad[i].from_us;
        runs[i].slice_to_us = r->bad[i].to_us;
        runs[i].priority = REPAIR_PRIORITY;
        runs[i].max_attempts = (int)cli->conf.max_attempts;
        bk_strlcpy(runs[i].triggered_by, "verify", sizeof runs[i].triggered_by);
    }
    int rc = bk_store_runs_enqueue(s, runs, r->n_bad, n, bk_clock_now_us(), err);
    free(runs);
    return rc;
}

static int run_verify(bk_cli *cli, bk_store *s, bk_provset *ps, const verify_args *a)
{
    int rc;
    bk_prov *p = pick(s, ps, a, &rc);
    if (!p)
        return rc ? rc : bk_cli_fail("no provider serves %s", bk_tf_name(a->tf));
    bk_work_env env = {.prov = p, .conf = &cli->conf};
    bk_verify_report r;
    bk_verify_report_init(&r);
    bk_err err = {0};
    size_t requeued = 0;
    rc = bk_verify(s, &env, p, a->symbol, a->tf, a->from_us, a->to_us, (size_t)a->sample, &r, &err);
    if (rc == 0 && a->repair)
        rc = repair(s, cli, a, &r, &requeued, &err);
    if (rc) {
        bk_verify_report_fini(&r);
        return bk_cli_fail("verify %s %s: %s", a->symbol, bk_tf_name(a->tf), err.msg);
    }
    if (a->json) {
        print_json(a, p, &r, requeued);
    } else {
        if (r.ranges == 0)
            printf("%s %s: nothing covered to verify\n", a->symbol, bk_tf_name(a->tf));
        else
            print_text(a, p, &r);
        if (a->repair)
            printf("queued %zu runs for the ranges that differ\n", requeued);
    }
    rc = r.n_diffs ? BK_EXIT_FAIL : BK_EXIT_OK;
    bk_verify_report_fini(&r);
    return rc;
}

int bk_cmd_verify(bk_cli *cli, int argc, char **argv)
{
    verify_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    bk_provset *ps = NULL;
    if ((rc = bk_cli_providers(cli, &ps)) != 0)
        return rc;
    bk_store *s = NULL;
    if ((rc = bk_cli_open(cli, &s)) == 0) {
        rc = run_verify(cli, s, ps, &a);
        bk_store_close(s);
    }
    bk_provset_free(ps);
    return rc;
}
