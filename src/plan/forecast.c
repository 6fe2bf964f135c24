/*
 * forecast.c — planning of run_forecast definitions (docs/forecast.md,
 * "Planning"). A forecast run's slice is [origin, origin + 1 µs): origin is
 * the label of the newest closed bar it forecasts from, so the unique index
 * on active slices refuses a second run for the same origin, and a fetch's
 * planning (which subtracts active slices) loses nothing: that instant is
 * covered already.
 */
#include "plan/plan.h"
#include "core/log.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

bool bk_plan_forecast(const bk_plan_cfg *cfg, const bk_def *def, const bk_series *st,
                      int64_t last_bar_us, int64_t last_origin_us, bool active, int64_t now_us,
                      const char *triggered_by, bk_run *out)
{
    if (def->type != BK_JOB_FORECAST || !def->enabled || active || !st || last_bar_us == INT64_MIN)
        return false;
    if (last_origin_us != INT64_MIN && last_bar_us <= last_origin_us)
        return false; /* no new closed bar since the last forecast */
    if (bk_ivset_contains(&st->dead, last_bar_us))
        return false; /* a forecast from this bar failed: its cool-down re-plans it */
    bk_ivset missing;
    bk_ivset_init(&missing);
    bk_plan_expected(cfg, def->tf, def->window_days, now_us, &missing);
    bool planned = missing.n > 0;
    bk_ivset_subtract(&missing, &st->covered);
    planned = planned && missing.n == 0; /* the history window is covered */
    bk_ivset_fini(&missing);
    if (!planned)
        return false;
    bk_plan__fill_run(out, def, cfg, (bk_iv){last_bar_us, last_bar_us + 1}, def->priority,
                      triggered_by);
    return true;
}

typedef struct last_bar {
    bk_tf tf;
    bk_anchor anchor;
    int64_t horizon_us;
    int64_t last_us;
} last_bar;

static int take_last(void *ctx, const bk_bar *b, const char *provider)
{
    (void)provider;
    last_bar *l = ctx;
    bk_calbar cb;
    int64_t end =
        bk_cal_bar_at(l->tf, l->anchor, b->ts_us, &cb) ? cb.to_us : b->ts_us + bk_tf_step_us(l->tf);
    if (end <= l->horizon_us)
        l->last_us = b->ts_us;
    return 0;
}

/* A queued or running forecast run of def's series? */
static int forecast_active(bk_store *s, const bk_def *def, bool *active, bk_err *err)
{
    *active = false;
    const int st[2] = {BK_ST_QUEUED, BK_ST_RUNNING};
    for (int k = 0; k < 2 && !*active; k++) {
        bk_run_filter f = {.status = st[k], .symbol = def->symbol, .tf = (int)def->tf};
        bk_run *v = NULL;
        size_t n = 0;
        int rc = bk_store_runs_list(s, &f, &v, &n, err);
        if (rc)
            return rc;
        for (size_t i = 0; i < n && !*active; i++)
            *active = v[i].type == BK_JOB_FORECAST;
        free(v);
    }
    return 0;
}

int bk_plan_forecasts(bk_store *s, const bk_plan_cfg *cfg, const bk_def *defs, size_t n_defs,
                      const bk_series *series, size_t n_series, int64_t now_us,
                      const char *triggered_by, bk_run **runs, size_t *n_runs, size_t *cap_runs,
                      bk_err *err)
{
    bk_fc_meta *fcs = NULL;
    size_t n_fcs = 0;
    bool any = false;
    for (size_t i = 0; i < n_defs && !any; i++)
        any = defs[i].type == BK_JOB_FORECAST && defs[i].enabled;
    if (!any)
        return 0;
    int rc = bk_store_fc_list(s, &fcs, &n_fcs, err);
    for (size_t i = 0; i < n_defs && rc == 0; i++) {
        const bk_def *d = &defs[i];
        if (d->type != BK_JOB_FORECAST || !d->enabled)
            continue;
        const bk_series *st = NULL;
        for (size_t j = 0; j < n_series && !st; j++)
            if (series[j].tf == d->tf && strcmp(series[j].symbol, d->symbol) == 0)
                st = &series[j];
        if (!st)
            continue;
        int64_t origin = INT64_MIN;
        for (size_t j = 0; j < n_fcs; j++)
            if (fcs[j].tf == d->tf && strcmp(fcs[j].symbol, d->symbol) == 0)
                origin = fcs[j].origin_us;
        /* the newest closed bar: only bars after the last origin are read */
        last_bar l = {.tf = d->tf,
                      .anchor = cfg->anchor,
                      .horizon_us = bk_plan_horizon(cfg, d->tf, now_us),
                      .last_us = INT64_MIN};
        int64_t from = origin != INT64_MIN
                           ? origin + 1
                           : bk_plan_window_start(cfg, d->tf, d->window_days, now_us);
        rc = bk_store_bars_read(s, d->symbol, d->tf, from, l.horizon_us, take_last, &l, err);
        if (rc || l.last_us == INT64_MIN)
            continue;
        bk_run r;
        if (!bk_plan_forecast(cfg, d, st, l.last_us, origin, false, now_us, triggered_by, &r))
            continue;
        bool active = false;
        rc = forecast_active(s, d, &active, err);
        if (rc || active)
            continue;
        bk_grow((void **)runs, cap_runs, *n_runs + 1, sizeof **runs);
        (*runs)[(*n_runs)++] = r;
    }
    free(fcs);
    return rc;
}
