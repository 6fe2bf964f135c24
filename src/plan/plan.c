/*
 * plan.c — gaps and slices (pure) and the tick that feeds them to the store.
 * Read plan.h first; docs/internals/plan.md explains the fixed grid.
 */
#include "plan/plan.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bk_plan_cfg_from_conf(bk_plan_cfg *cfg, const bk_conf *conf, int64_t delay_us)
{
    memset(cfg, 0, sizeof *cfg);
    for (int j = 0; j < BK_JOB__N; j++) {
        cfg->slice_us[j] = conf->slice_hours[j] * BK_US_PER_HOUR;
        cfg->max_slices[j] = conf->max_slices[j];
    }
    cfg->max_attempts = (int32_t)conf->max_attempts;
    cfg->max_lease_expiries = (int32_t)conf->max_lease_expiries;
    cfg->dead_retry_us = conf->dead_retry_after_s * BK_US_PER_S;
    cfg->dead_retry_max_us = conf->dead_retry_max_s * BK_US_PER_S;
    cfg->tail_boost = conf->tail_boost;
    cfg->anchor = strcmp(conf->anchor, "clock") == 0 ? BK_ANCHOR_CLOCK : BK_ANCHOR_SESSION;
    cfg->delay_us = delay_us;
}

/* The grid when slice_hours is 0 (auto) and no provider of the chain
 * states a span: the sim and unlimited providers. */
static const int64_t AUTO_STEP_US[BK_JOB__N] = {
    [BK_JOB_INTRADAY] = 2 * BK_US_PER_HOUR,
    [BK_JOB_HISTORICAL] = 2160 * BK_US_PER_HOUR,
    [BK_JOB_FORECAST] = 24 * BK_US_PER_HOUR,
};

int64_t bk_plan_slice_step(const bk_plan_cfg *cfg, bk_job type, bk_tf tf)
{
    int64_t span = (unsigned)tf < BK_TF__N ? cfg->max_span_us[tf] : 0;
    int64_t step = cfg->slice_us[type];
    if (step <= 0) /* auto: one request of the chain per slice */
        step = span > 0 ? span : ((unsigned)type < BK_JOB__N ? AUTO_STEP_US[type] : 0);
    else if (span > 0 && span < step)
        step = span;
    return BK_MAX(BK_US_PER_HOUR, step / BK_US_PER_HOUR * BK_US_PER_HOUR);
}

int64_t bk_plan_horizon(const bk_plan_cfg *cfg, bk_tf tf, int64_t now_us)
{
    return bk_cal_closed_through(tf, cfg->anchor, now_us - cfg->delay_us);
}

/* A slice owns the bars whose trading span starts inside it (work.c), so a
 * window starting inside a bar's span (a w1 window from a Wednesday) would
 * leave that bar to no slice: the window starts where that bar starts. */
int64_t bk_plan_window_start(const bk_plan_cfg *cfg, bk_tf tf, int32_t window_days, int64_t now_us)
{
    int64_t t = now_us - (int64_t)window_days * BK_US_PER_DAY;
    int64_t r = t % BK_US_PER_DAY;
    int64_t day = t - (r < 0 ? r + BK_US_PER_DAY : r);
    bk_calbar cb;
    if ((unsigned)tf < BK_TF__N && bk_cal_bars(tf, cfg->anchor, day, day + 1, &cb, 1) > 0 &&
        cb.from_us < day)
        return cb.from_us;
    return day;
}

void bk_plan_expected(const bk_plan_cfg *cfg, bk_tf tf, int32_t window_days, int64_t now_us,
                      bk_ivset *out)
{
    bk_ivset_clear(out);
    int64_t from = bk_plan_window_start(cfg, tf, window_days, now_us);
    int64_t to = bk_plan_horizon(cfg, tf, now_us);
    if (to > from)
        bk_cal_trading_time(from, to, false, out);
}

int64_t bk_plan_servable_from(const bk_plan_cfg *cfg, bk_tf tf, int64_t now_us)
{
    int64_t history = (unsigned)tf < BK_TF__N ? cfg->history_us[tf] : 0;
    if (history <= 0)
        return INT64_MIN;
    int64_t t = now_us - history;
    int64_t r = t % BK_US_PER_DAY;
    if (r < 0)
        r += BK_US_PER_DAY;
    return r ? t - r + BK_US_PER_DAY : t;
}

void bk_plan_servable(const bk_plan_cfg *cfg, bk_tf tf, int32_t window_days, int64_t now_us,
                      bk_ivset *out)
{
    bk_plan_expected(cfg, tf, window_days, now_us, out);
    int64_t from = bk_plan_servable_from(cfg, tf, now_us);
    if (from != INT64_MIN)
        bk_ivset_remove(out, INT64_MIN, from);
}

void bk_plan_gaps(const bk_plan_cfg *cfg, const bk_def *def, const bk_ivset *covered,
                  int64_t now_us, bk_ivset *out)
{
    bk_plan_servable(cfg, def->tf, def->window_days, now_us, out);
    if (covered)
        bk_ivset_subtract(out, covered);
}

void bk_plan_unservable(const bk_plan_cfg *cfg, const bk_def *def, const bk_ivset *covered,
                        int64_t now_us, bk_ivset *out)
{
    bk_ivset_clear(out);
    int64_t from = bk_plan_servable_from(cfg, def->tf, now_us);
    if (from == INT64_MIN)
        return;
    bk_plan_expected(cfg, def->tf, def->window_days, now_us, out);
    bk_ivset_remove(out, from, INT64_MAX);
    if (covered)
        bk_ivset_subtract(out, covered);
}

const char *bk_plan_unservable_reason(const bk_plan_cfg *cfg, bk_tf tf, char *out, size_t cap)
{
    if ((unsigned)tf >= BK_TF__N || cfg->history_us[tf] <= 0)
        snprintf(out, cap, "%s", "");
    else if (cfg->history_by[tf][0])
        snprintf(out, cap, "beyond %s's history", cfg->history_by[tf]);
    else
        snprintf(out, cap, "%s", "beyond the providers' history");
    return out;
}

/* floor(t / step) for possibly negative t. */
int64_t bk_plan__cell(int64_t t, int64_t step)
{
    int64_t q = t / step;
    return (t % step != 0 && t < 0) ? q - 1 : q;
}

/* True if expected has no time inside [from, to). */
static bool expected_empty_between(const bk_ivset *expected, int64_t from, int64_t to)
{
    size_t lo = 0, hi = expected->n;
    while (lo < hi) { /* first interval ending after from */
        size_t mid = (lo + hi) / 2;
        if (expected->v[mid].to_us <= from)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == expected->n || expected->v[lo].from_us >= to;
}

void bk_plan__fill_run(bk_run *r, const bk_def *def, const bk_plan_cfg *cfg, bk_iv slice,
                       int32_t priority, const char *triggered_by)
{
    memset(r, 0, sizeof *r);
    bk_strlcpy(r->def_id, def->id, sizeof r->def_id);
    bk_strlcpy(r->symbol, def->symbol, sizeof r->symbol);
    r->tf = def->tf;
    r->type = def->type;
    r->slice_from_us = slice.from_us;
    r->slice_to_us = slice.to_us;
    r->status = BK_ST_QUEUED;
    r->attempt = 1;
    r->max_attempts = cfg->max_attempts;
    r->priority = priority;
    bk_strlcpy(r->triggered_by, triggered_by, sizeof r->triggered_by);
}

size_t bk_plan_slices(const bk_plan_cfg *cfg, const bk_def *def, const bk_series *st,
                      const bk_ivset *expected, int64_t now_us, const char *triggered_by,
                      bk_run *out, size_t cap, bool *more)
{
    (void)now_us;
    *more = false;
    bk_ivset free_time;
    bk_ivset_init(&free_time);
    bk_ivset_copy(&free_time, expected);
    if (st) {
        bk_ivset_subtract(&free_time, &st->covered);
        bk_ivset_subtract(&free_time, &st->active);
        bk_ivset_subtract(&free_time, &st->dead);
    }
    int64_t step = bk_plan_slice_step(cfg, def->type, def->tf);
    size_t limit = BK_MIN(cap, (size_t)cfg->max_slices[def->type]);
    size_t n = 0;
    /* Walk newest first; a slice grows backwards over pieces in the same cell
     * that only closed-market time separates. */
    size_t i = free_time.n;
    while (i > 0) {
        bk_iv s = free_time.v[--i];
        int64_t cell = bk_plan__cell(s.to_us - 1, step);
        int64_t cell_from = cell * step;
        if (s.from_us < cell_from) { /* split a piece that crosses cell edges */
            free_time.v[i].to_us = cell_from;
            s.from_us = cell_from;
            i++;
        }
        while (i > 0 && free_time.v[i - 1].to_us > cell_from &&
               expected_empty_between(expected, free_time.v[i - 1].to_us, s.from_us)) {
            bk_iv *p = &free_time.v[i - 1];
            if (p->from_us < cell_from) {
                s.from_us = cell_from;
                p->to_us = cell_from;
                break;
            }
            s.from_us = p->from_us;
            i--;
        }
        if (n == limit) {
            *more = true;
            break;
        }
        int32_t prio = def->priority;
        if (n == 0 && bk_tf_intraday(def->tf) && s.to_us == expected->v[expected->n - 1].to_us)
            prio = (int32_t)BK_MIN((int64_t)def->priority + cfg->tail_boost, INT32_MAX);
        bk_plan__fill_run(&out[n++], def, cfg, s, prio, triggered_by);
    }
    bk_ivset_fini(&free_time);
    return n;
}

/* ---- the tick ---- */

/* Servable expected time per (tf, window_days), computed once per tick. */
typedef struct exp_cache {
    bk_tf tf;
    int32_t window_days;
    bk_ivset set;
} exp_cache;

typedef struct tick_ctx {
    const bk_plan_cfg *cfg;
    int64_t now_us;
    exp_cache *cache;
    size_t n_cache, cap_cache;
} tick_ctx;

static const bk_ivset *expected_for(tick_ctx *t, bk_tf tf, int32_t window_days)
{
    for (size_t i = 0; i < t->n_cache; i++)
        if (t->cache[i].tf == tf && t->cache[i].window_days == window_days)
            return &t->cache[i].set;
    bk_grow((void **)&t->cache, &t->cap_cache, t->n_cache + 1, sizeof *t->cache);
    exp_cache *c = &t->cache[t->n_cache++];
    c->tf = tf;
    c->window_days = window_days;
    bk_ivset_init(&c->set);
    bk_plan_servable(t->cfg, tf, window_days, t->now_us, &c->set);
    return &c->set;
}

static int series_cmp(const char *sym, bk_tf tf, const bk_series *s)
{
    int c = strcmp(sym, s->symbol);
    return c ? c : (int)tf - (int)s->tf;
}

static const bk_series *find_series(const bk_series *arr, size_t n, const char *sym, bk_tf tf)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = series_cmp(sym, tf, &arr[mid]);
        if (c == 0)
            return &arr[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* When the next bar of tf closes after now (plus the delay). */
static int64_t next_close(const bk_plan_cfg *cfg, bk_tf tf, int64_t now_us)
{
    int64_t ref = now_us - cfg->delay_us;
    bk_calbar bars[4];
    size_t n = bk_cal_bars(tf, cfg->anchor, ref, ref + 15 * BK_US_PER_DAY, bars, 4);
    for (size_t i = 0; i < n && i < 4; i++)
        if (bars[i].to_us > ref)
            return bars[i].to_us + cfg->delay_us;
    return 0;
}

static bool lease_lost(const bk_run *r, int64_t now_us, const char *const *dead, size_t n_dead)
{
    if (r->lease_until_us && r->lease_until_us < now_us)
        return true;
    for (size_t i = 0; i < n_dead; i++)
        if (strcmp(r->lease_owner, dead[i]) == 0)
            return true;
    return false;
}

int bk_plan_requeue_expired(bk_store *s, const bk_plan_cfg *cfg, int64_t now_us, size_t *n,
                            bk_err *err)
{
    /* the running runs: whose owner is gone, and which will change (to
     * announce them after) */
    bk_run_filter f = {.status = BK_ST_RUNNING, .tf = -1};
    bk_run *running = NULL;
    size_t n_running = 0, n_dead = 0, n_lost = 0;
    int rc = bk_store_runs_list(s, &f, &running, &n_running, err);
    if (rc)
        return rc;
    char(*owners)[BK_OWNER_MAX] = bk_xmalloc((n_running ? n_running : 1) * sizeof *owners);
    const char **dead = bk_xmalloc((n_running ? n_running : 1) * sizeof *dead);
    for (size_t i = 0; i < n_running; i++) {
        const char *o = running[i].lease_owner;
        bool seen = false;
        for (size_t j = 0; j < n_dead && !seen; j++)
            seen = strcmp(dead[j], o) == 0;
        if (!seen && *o && (running[i].lease_until_us >= now_us || !running[i].lease_until_us) &&
            bk_owner_dead(o)) {
            snprintf(owners[n_dead], BK_OWNER_MAX, "%s", o);
            dead[n_dead] = owners[n_dead];
            n_dead++;
            bk_log(BK_LOG_WARN, "plan",
                   "requeueing the runs of %s at once: that process no longer runs on this host",
                   o);
        }
    }
    for (size_t i = 0; i < n_running; i++)
        if (lease_lost(&running[i], now_us, dead, n_dead))
            running[n_lost++] = running[i];
    int cap = cfg->max_lease_expiries > 0 ? cfg->max_lease_expiries : 10; /* the default */
    rc = bk_store_runs_requeue_expired(s, now_us, cap, dead, n_dead, n, err);
    for (size_t i = 0; rc == 0 && cfg->on_change && i < n_lost; i++) {
        bk_run now_row;
        bk_err ignore = {0};
        if (bk_store_run_get(s, running[i].id, &now_row, &ignore) == 0)
            cfg->on_change(cfg->hook_ctx, &now_row);
    }
    free(owners);
    free(dead);
    free(running);
    return rc;
}

int bk_plan_clock_behind(bk_store *s, int64_t now_us, int64_t *ahead_us, bk_err *err)
{
    *ahead_us = 0;
    bk_run_filter newest = {.status = -1, .tf = -1, .limit = 1};
    bk_run_filter running = {.status = BK_ST_RUNNING, .tf = -1};
    const bk_run_filter *filters[2] = {&newest, &running};
    int64_t latest = 0;
    for (int k = 0; k < 2; k++) {
        bk_run *v = NULL;
        size_t n = 0;
        int rc = bk_store_runs_list(s, filters[k], &v, &n, err);
        if (rc)
            return rc;
        for (size_t i = 0; i < n; i++) {
            latest = BK_MAX(latest, BK_MAX(v[i].created_us, v[i].updated_us));
            latest = BK_MAX(latest, BK_MAX(v[i].started_us, v[i].finished_us));
        }
        free(v);
    }
    if (latest > now_us)
        *ahead_us = latest - now_us;
    return 0;
}

int bk_plan_tick(bk_store *s, const bk_plan_cfg *cfg, const bk_def *only, int64_t now_us,
                 const char *triggered_by, bk_tick_stats *out, bk_err *err)
{
    memset(out, 0, sizeof *out);
    bk_def *defs = NULL;
    bk_series *series = NULL;
    bk_run *runs = NULL;
    size_t n_defs = 0, n_series = 0, n_runs = 0, cap_runs = 0;
    tick_ctx t = {.cfg = cfg, .now_us = now_us};
    int rc = bk_plan_requeue_expired(s, cfg, now_us, &out->requeued, err);
    if (rc == 0)
        rc = bk_store_runs_revive_dead(s, now_us, cfg->dead_retry_us, cfg->dead_retry_max_us,
                                       cfg->max_attempts, &out->revived, err);
    if (rc)
        goto out;
    if (only) {
        defs = bk_xmalloc(sizeof *defs);
        defs[0] = *only;
        n_defs = 1;
        rc = bk_store_series_load(s, only->symbol, (int)only->tf, &series, &n_series, err);
    } else {
        rc = bk_store_def_list(s, true, &defs, &n_defs, err);
        if (rc == 0)
            rc = bk_store_series_load(s, NULL, -1, &series, &n_series, err);
    }
    if (rc)
        goto out;
    bool tf_seen[BK_TF__N] = {false};
    for (size_t i = 0; i < n_defs; i++) {
        const bk_def *d = &defs[i];
        if (d->enabled)
            tf_seen[d->tf] = true;
        if (d->type == BK_JOB_FORECAST || !d->enabled)
            continue; /* forecasts: bk_plan_forecasts below */
        out->defs++;
        tf_seen[d->tf] = true;
        const bk_ivset *exp = expected_for(&t, d->tf, d->window_days);
        if (exp->n == 0)
            continue;
        size_t max = (size_t)cfg->max_slices[d->type];
        bk_grow((void **)&runs, &cap_runs, n_runs + max, sizeof *runs);
        bool more = false;
        size_t k = bk_plan_slices(cfg, d, find_series(series, n_series, d->symbol, d->tf), exp,
                                  now_us, triggered_by, runs + n_runs, max, &more);
        n_runs += k;
        out->more |= more;
    }
    rc = bk_plan_settle(s, cfg, defs, n_defs, now_us, &runs, &n_runs, &cap_runs, err);
    if (rc == 0)
        rc = bk_plan_forecasts(s, cfg, defs, n_defs, series, n_series, now_us, triggered_by, &runs,
                               &n_runs, &cap_runs, err);
    if (rc)
        goto out;
    out->planned = n_runs;
    if (n_runs && cfg->publish_order)
        pthread_mutex_lock(cfg->publish_order);
    if (n_runs)
        rc = bk_store_runs_enqueue(s, runs, n_runs, &out->enqueued, now_us, err);
    for (size_t i = 0; rc == 0 && cfg->on_enqueue && i < n_runs; i++)
        if (runs[i].id[0]) /* skipped duplicates come back without an id */
            cfg->on_enqueue(cfg->hook_ctx, &runs[i]);
    if (n_runs && cfg->publish_order)
        pthread_mutex_unlock(cfg->publish_order);
    for (int tf = 0; tf < BK_TF__N; tf++) {
        if (!tf_seen[tf])
            continue;
        int64_t nc = next_close(cfg, (bk_tf)tf, now_us);
        if (nc && (out->next_close_us == 0 || nc < out->next_close_us))
            out->next_close_us = nc;
    }
out:
    for (size_t i = 0; i < t.n_cache; i++)
        bk_ivset_fini(&t.cache[i].set);
    free(t.cache);
    bk_series_free(series, n_series);
    free(defs);
    free(runs);
    return rc;
}
