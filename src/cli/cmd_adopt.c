/*
 * cmd_adopt.c — `barkeep adopt`: turn the bars a user migrating from the
 * original system brings in ohlc_bars_v2 into coverage, so barkeep does not
 * fetch them again.
 *
 * The original kept no usable record of what it fetched (one hull per series
 * in coverage_status, holes invisible: SPEC §4), so coverage is derived from
 * the bars themselves, calendar-aware. An intraday bar proves its whole
 * regular session: an illiquid symbol legitimately misses bars, so one bar
 * of the session is enough. A d1 or w1 bar proves its own span (the session;
 * the week's trading time). Proven time is clipped at the horizon a worker
 * would use (the end of the last closed bar at now − the provider's delay),
 * widened over closed-market time with bk_cal_widen_closed exactly as a
 * worker's commit is, and merged into the coverage set by
 * bk_store_coverage_add, which also rewrites the coverage_status summary from
 * the set (replacing what the guide's backfill statement put there).
 *
 * Bars are streamed (bk_store_bars_read); memory is one interval per session.
 */
#include "cli/cli.h"
#include "core/clock.h"
#include "core/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char adopt_usage[] =
    "usage: barkeep adopt [SYMBOL [TIMEFRAME]] [--provider NAME] [--dry-run]\n"
    "\n"
    "Derive coverage from bars already stored in ohlc_bars_v2 (a database brought\n"
    "over from the original system), for every series with bars or the ones asked\n"
    "for, so that time is not fetched again. Intraday: a regular session with at\n"
    "least one bar counts as covered whole; d1/w1: each bar covers its own span.\n"
    "Covered sessions are merged across closed-market time, and the series'\n"
    "coverage_status summary is rewritten from the coverage set.\n"
    "\n"
    "  --provider NAME   provider recorded as last_provider (default: the provider\n"
    "                    column of the series' newest bar)\n"
    "  --dry-run         report what would be adopted; write nothing (the schema\n"
    "                    must already be current)\n";

/* What the bars of one series prove. */
typedef struct adopt_acc {
    bk_tf tf;
    bk_anchor anchor;
    bk_ivset proven;   /* trading time proven by the bars (before widening) */
    int64_t n_units;   /* sessions (weeks for w1) with at least one bar */
    int64_t last_unit; /* start of the last unit counted */
    int64_t n_skipped; /* bars that prove nothing: off the grid, outside sessions */
    char provider[BK_PROV_NAME_MAX];
} adopt_acc;

/* The trading time bar proves, or false. Intraday: the regular session its
 * span overlaps (tolerant of another grid's labels, e.g. clock-anchored 1h);
 * d1/w1: the span of the expected bar it is. */
static bool proven_span(const adopt_acc *a, int64_t ts_us, bk_iv *out)
{
    bk_calbar cb;
    if (!bk_tf_intraday(a->tf)) {
        if (!bk_cal_bar_at(a->tf, a->anchor, ts_us, &cb))
            return false;
        *out = (bk_iv){cb.from_us, cb.to_us};
        return true;
    }
    bk_session s;
    if (!bk_cal_session(bk_cal_ny_day(ts_us), &s))
        return false;
    if (ts_us >= s.close_us || ts_us + bk_tf_step_us(a->tf) <= s.open_us)
        return false;
    *out = (bk_iv){s.open_us, s.close_us};
    return true;
}

static int adopt_bar(void *ctx, const bk_bar *bar, const char *provider)
{
    adopt_acc *a = ctx;
    bk_iv span;
    if (!proven_span(a, bar->ts_us, &span)) {
        a->n_skipped++;
        return 0;
    }
    if (a->n_units == 0 || span.from_us != a->last_unit) {
        a->n_units++;
        a->last_unit = span.from_us;
    }
    bk_ivset_add(&a->proven, span.from_us, span.to_us);
    bk_strlcpy(a->provider, provider, sizeof a->provider);
    return 0;
}

/* Options shared by every series of one invocation. */
typedef struct adopt_opts {
    const char *provider; /* NULL: the bars' own */
    bool dry_run;
    bk_anchor anchor;
    int64_t delay_us;
    int64_t now_us;
} adopt_opts;

/* Derive, report and (unless dry-run) write one series' coverage. */
static int adopt_series(bk_store *s, const adopt_opts *o, const bk_bar_series *x)
{
    adopt_acc a = {.tf = x->tf, .anchor = o->anchor};
    bk_ivset_init(&a.proven);
    bk_ivset covered;
    bk_ivset_init(&covered);
    bk_err err = {0};
    int rc = bk_store_bars_read(s, x->symbol, x->tf, INT64_MIN, INT64_MAX, adopt_bar, &a, &err);
    if (rc == 0) {
        int64_t horizon = bk_cal_closed_through(x->tf, o->anchor, o->now_us - o->delay_us);
        bk_ivset_clip(&a.proven, INT64_MIN, horizon);
        for (size_t i = 0; i < a.proven.n; i++) {
            bk_iv w = bk_cal_widen_closed(a.proven.v[i]);
            bk_ivset_add(&covered, w.from_us, w.to_us);
        }
        const char *prov = o->provider ? o->provider : a.provider;
        if (!o->dry_run)
            rc = bk_store_coverage_add(s, x->symbol, x->tf, &covered, prov, o->now_us, &err);
    }
    if (rc == 0)
        printf("%s %s: %lld bars, %lld %s, %zu interval%s, %.1f trading hours %s\n", x->symbol,
               bk_tf_name(x->tf), (long long)x->n_bars, (long long)a.n_units,
               x->tf == BK_TF_W1 ? "weeks" : "sessions", covered.n, covered.n == 1 ? "" : "s",
               (double)bk_ivset_total(&a.proven) / 3600e6,
               o->dry_run ? "would be adopted" : "adopted");
    if (rc == 0 && a.n_skipped)
        printf("%s %s: %lld bars ignored (not on an expected bar or session)\n", x->symbol,
               bk_tf_name(x->tf), (long long)a.n_skipped);
    bk_ivset_fini(&covered);
    bk_ivset_fini(&a.proven);
    if (rc)
        return bk_cli_fail("adopt %s %s: %s", x->symbol, bk_tf_name(x->tf), err.msg);
    return 0;
}

/* A provider name as it would appear in the provider column. */
static int check_provider(const char *p)
{
    size_t n = strlen(p);
    bool ok = n > 0 && n < BK_PROV_NAME_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)p[i]) || strchr("._-", p[i]);
    if (!ok)
        return bk_cli_usage_error(
            "invalid provider name '%s' (1-%d characters of A-Z a-z 0-9 . _ -)", p,
            BK_PROV_NAME_MAX - 1);
    return 0;
}

/* Open for reading only (dry run): no migration, the schema must be current. */
static int open_readonly(bk_cli *cli, bk_store **out)
{
    bk_err err = {0};
    if (bk_store_open(out, cli->db, &err) != 0)
        return bk_cli_fail("%s", err.msg);
    if (bk_store_check_schema(*out, &err) != 0) {
        bk_store_close(*out);
        *out = NULL;
        return bk_cli_fail("%s: %s", cli->db, err.msg);
    }
    return 0;
}

static int adopt_all(bk_store *s, const adopt_opts *o, const char *sym, int tf)
{
    bk_bar_series *v = NULL;
    size_t n = 0, done = 0;
    bk_err err = {0};
    if (bk_store_bars_series(s, sym, &v, &n, &err) != 0)
        return bk_cli_fail("%s", err.msg);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (tf >= 0 && (int)v[i].tf != tf)
            continue;
        rc = adopt_series(s, o, &v[i]);
        done++;
    }
    free(v);
    if (rc == 0 && done == 0)
        printf("no stored bars%s%s%s%s: nothing to adopt\n", sym ? " for " : "", sym ? sym : "",
               tf >= 0 ? " " : "", tf >= 0 ? bk_tf_name((bk_tf)tf) : "");
    else if (rc == 0)
        printf("%zu series %s\n", done,
               o->dry_run ? "examined (dry run: nothing written)" : "adopted");
    return rc;
}

int bk_cmd_adopt(bk_cli *cli, int argc, char **argv)
{
    bool dry_run = false;
    const char *provider = NULL, *pos[2];
    int n_pos, rc;
    bk_opt opts[] = {{"--provider", true, &provider, NULL},
                     {"--dry-run", false, NULL, &dry_run},
                     {NULL, false, NULL, NULL}};
    if ((rc = bk_cli_parse(argc - 1, argv + 1, opts, pos, 2, &n_pos, adopt_usage)) != 0)
        return rc < 0 ? 0 : rc;
    char sym[BK_SYM_MAX + 1];
    bk_tf tf;
    if (n_pos >= 1 && bk_cli_symbol(pos[0], sym))
        return BK_EXIT_USAGE;
    if (n_pos >= 2 && bk_cli_tf(pos[1], &tf))
        return BK_EXIT_USAGE;
    if (provider && check_provider(provider))
        return BK_EXIT_USAGE;
    bk_prov *p = NULL;
    if ((rc = bk_cli_provider(cli, &p)) != 0)
        return rc;
    adopt_opts o = {.provider = provider,
                    .dry_run = dry_run,
                    .anchor = p->anchor,
                    .delay_us = p->delay_us,
                    .now_us = bk_clock_now_us()};
    bk_prov_free(p);
    bk_store *s = NULL;
    if ((rc = dry_run ? open_readonly(cli, &s) : bk_cli_open(cli, &s)) != 0)
        return rc;
    rc = adopt_all(s, &o, n_pos >= 1 ? sym : NULL, n_pos >= 2 ? (int)tf : -1);
    bk_store_close(s);
    return rc;
}
