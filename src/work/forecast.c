/*
 * forecast.c — one run_forecast run from claim to outcome: the window of
 * closed bars up to the run's origin bar, the model (fc/fc.h), the forecast
 * committed with the run's success. Read work.h ("forecast runs") and
 * docs/forecast.md ("Planning", "Storage") first.
 */
#include "work/work.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "fc/fc.h"
#include "model/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(BK_DEF_HORIZON_MAX == BK_FC_MAX_HORIZON, "a definition's horizon is the model's");

typedef struct closes {
    int64_t *ts;
    double *close;
    size_t n, cap;
    int64_t origin_us;
} closes;

static int add_close(void *ctx, const bk_bar *b, const char *provider)
{
    (void)provider;
    closes *c = ctx;
    if (b->ts_us > c->origin_us)
        return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        int64_t *ts = realloc(c->ts, cap * sizeof *ts);
        if (ts)
            c->ts = ts;
        double *cl = ts ? realloc(c->close, cap * sizeof *cl) : NULL;
        if (!ts || !cl)
            return BK_ENOMEM;
        c->close = cl;
        c->cap = cap;
    }
    c->ts[c->n] = b->ts_us;
    c->close[c->n++] = b->close;
    return 0;
}

/* The forecast, or a failure code with why set. */
static int make(bk_store *s, const bk_work_env *env, const bk_run *run, closes *h,
                bk_fc_point **pts, int *horizon, bk_fc_result *res, bk_err *why, bk_err *err)
{
    bk_def def;
    int rc = bk_store_def_get(s, run->symbol, run->tf, BK_JOB_FORECAST, &def, why);
    if (rc == BK_ENOENT)
        return bk_err_set(why, BK_EINVAL, "no run_forecast definition for %s %s any more",
                          run->symbol, bk_tf_name(run->tf));
    if (rc) {
        *err = *why;
        return rc;
    }
    h->origin_us = run->slice_from_us;
    bk_fc_meta stored;
    char t[BK_TIME_STR_MAX], t2[BK_TIME_STR_MAX];
    rc = bk_store_fc_get(s, run->symbol, run->tf, &stored, NULL, NULL, why);
    if (rc == 0 && stored.origin_us >= h->origin_us) /* a revived run of an old origin */
        return bk_err_set(why, BK_EINVAL,
                          "%s %s: a forecast from a newer bar (%s) is stored than "
                          "this run's origin %s",
                          run->symbol, bk_tf_name(run->tf), bk_time_format(stored.origin_us, t),
                          bk_time_format(h->origin_us, t2));
    if (rc && rc != BK_ENOENT) {
        *err = *why;
        return rc;
    }
    int64_t from = h->origin_us - (int64_t)def.window_days * BK_US_PER_DAY;
    rc = bk_store_bars_read(s, run->symbol, run->tf, from, h->origin_us + 1, add_close, h, why);
    if (rc) {
        if (rc != BK_ENOMEM)
            *err = *why;
        return rc;
    }
    if (h->n < BK_FC_MIN_BARS)
        return bk_err_set(why, BK_EFC_HISTORY,
                          "%s %s: %zu closed bar(s) in the %d-day window up to %s, a forecast "
                          "needs %d (raise window_days)",
                          run->symbol, bk_tf_name(run->tf), h->n, (int)def.window_days,
                          bk_time_format(h->origin_us, t), BK_FC_MIN_BARS);
    if (h->ts[h->n - 1] != h->origin_us)
        return bk_err_set(why, BK_EFC_HISTORY, "%s %s: the origin bar %s is not stored",
                          run->symbol, bk_tf_name(run->tf), bk_time_format(h->origin_us, t));
    bk_anchor anchor =
        strcmp(env->conf->anchor, "clock") == 0 ? BK_ANCHOR_CLOCK : BK_ANCHOR_SESSION;
    for (size_t i = h->n - 1; i > 0; i--) { /* the model takes the closes as consecutive bars */
        bk_calbar a;
        if (!bk_cal_bar_at(run->tf, anchor, h->ts[i - 1], &a))
            continue;
        size_t k = bk_cal_bars(run->tf, anchor, a.to_us, h->ts[i], NULL, 0);
        if (k)
            return bk_err_set(why, BK_EFC_HISTORY,
                              "%s %s: the history has a gap: %zu expected bar(s) missing between "
                              "%s and %s",
                              run->symbol, bk_tf_name(run->tf), k, bk_time_format(h->ts[i - 1], t),
                              bk_time_format(h->ts[i], t2));
    }
    if (bk_fc_check_closes(h->close, h->n, why) != 0) {
        char msg[BK_ERR_MSG_MAX];
        bk_strlcpy(msg, why->msg, sizeof msg);
        return bk_err_set(why, BK_EFC_INPUT, "%s %s: %s", run->symbol, bk_tf_name(run->tf), msg);
    }
    *horizon = def.horizon > 0 ? def.horizon : bk_fc_default_horizon(run->tf);
    res->steps = bk_xcalloc((size_t)*horizon, sizeof *res->steps);
    int64_t *ts = bk_xcalloc((size_t)*horizon, sizeof *ts);
    rc = bk_fc_fit_forecast(h->close, h->n, *horizon, NULL, res, why);
    if (rc == BK_EINVAL) {
        char msg[BK_ERR_MSG_MAX];
        bk_strlcpy(msg, why->msg, sizeof msg);
        rc = bk_err_set(why, BK_EFC_INPUT, "%s %s: %s", run->symbol, bk_tf_name(run->tf), msg);
    }
    if (rc == 0)
        rc = bk_fc_next_ts(run->tf, anchor, h->origin_us, *horizon, ts, why);
    if (rc == 0) {
        *pts = bk_xcalloc((size_t)*horizon, sizeof **pts);
        for (int i = 0; i < *horizon; i++) {
            const bk_fc_step *st = &res->steps[i];
            (*pts)[i] = (bk_fc_point){.step = st->step,
                                      .ts_us = ts[i],
                                      .point = st->point,
                                      .lo80 = st->lo80,
                                      .hi80 = st->hi80,
                                      .lo95 = st->lo95,
                                      .hi95 = st->hi95};
        }
    }
    free(ts);
    return rc;
}

int bk_work_forecast(bk_store *s, const bk_work_env *env, const char *owner, bk_run *run,
                     bk_outcome *out, bk_err *err)
{
    closes h = {0};
    bk_fc_point *pts = NULL;
    bk_fc_result res = {0};
    bk_err why = {0};
    int horizon = 0;
    int rc = make(s, env, run, &h, &pts, &horizon, &res, &why, err);
    if (rc == BK_ESTORE || rc == BK_EBUSY || rc == BK_EIO) {
        /* the store failed: the lease will expire and the run be requeued */
    } else if (rc) {
        rc = bk_work__fail(s, env, owner, run, rc, &why, BK_FC_PROVIDER, out, err);
    } else {
        int64_t now = bk_clock_now_us();
        bk_fc_commit c = {.run_id = run->id,
                          .owner = owner,
                          .symbol = run->symbol,
                          .tf = run->tf,
                          .model = res.model,
                          .origin_us = h.origin_us,
                          .origin_close = h.close[h.n - 1],
                          .n_bars = (int32_t)h.n,
                          .pts = pts,
                          .n_pts = (size_t)horizon,
                          .now_us = now};
        rc = bk_store_fc_commit(s, &c, err);
        if (rc == BK_ELEASE) {
            bk_log(BK_LOG_WARN, "work", "lease lost, forecast run abandoned run=%s", run->id);
        } else if (rc == 0) {
            out->status = BK_ST_SUCCESS;
            out->rows_written = horizon;
            bk_strlcpy(out->provider, BK_FC_PROVIDER, sizeof out->provider);
            bk_strlcpy(run->provider, BK_FC_PROVIDER, sizeof run->provider);
            run->status = BK_ST_SUCCESS;
            run->progress_percent = 100;
            run->rows_written = horizon;
            run->finished_us = run->updated_us = now;
            run->error_code[0] = run->error_message[0] = '\0';
            run->lease_owner[0] = '\0';
            run->lease_until_us = 0;
            bk_log(BK_LOG_INFO, "work", "forecast stored run=%s symbol=%s tf=%s bars=%zu steps=%d",
                   run->id, run->symbol, bk_tf_name(run->tf), h.n, horizon);
            bk_work__emit(env, run);
        }
    }
    free(pts);
    free(res.steps);
    free(h.ts);
    free(h.close);
    return rc;
}
