/*
 * settle.c — refetching provisional bars once they have settled.
 *
 * Providers revise their newest bars (minute bars are recomputed after they
 * are first published, daily bars change after the close), so bars a run
 * fetched less than settle_us after they closed are provisional. The state
 * of a series is its runs, replayed in creation order: each run takes its
 * slice out of the unsettled set U, and a successful run that finished
 * before its newest bar settled puts back the part of its slice holding
 * bars younger than settle_us at that instant. A later refetch, a queued or
 * running run, or a dead-lettered one thus leaves nothing behind: no
 * duplicate, no loop. Each grid cell of U is refetched once, over the hull
 * of U in the cell, when all of it has settled — a session's many tail runs
 * cost one refetch per cell. Read plan.h first; docs/internals/plan.md
 * ("Settling") has the rationale.
 */
#include "core/log.h"
#include "core/util.h"
#include "plan/plan.h"

#include <stdlib.h>
#include <string.h>

void bk_plan_unsettled(const bk_run *const *runs, size_t n, int64_t settle_us, bk_ivset *out)
{
    bk_ivset_clear(out);
    if (settle_us <= 0)
        return;
    for (size_t i = 0; i < n; i++) {
        const bk_run *x = runs[i];
        if (x->slice_to_us <= x->slice_from_us)
            continue;
        bk_ivset_remove(out, x->slice_from_us, x->slice_to_us);
        if (x->status != BK_ST_SUCCESS || x->finished_us >= x->slice_to_us + settle_us)
            continue;
        /* bars that had not settled when it finished: a bar [b, b + step)
         * is provisional when b + step > finished − settle, so b > t below;
         * t is floored to the step so that the refetch starts at a bar label
         * when labels are aligned to it (1m .. 30m): at worst one settled
         * bar early, never a provisional bar late (1h, 4h, d1 labels are
         * not aligned to it, and a floor is still at or before them) */
        int64_t step = bk_tf_step_us(x->tf);
        int64_t from = bk_plan__cell(x->finished_us - settle_us - step, step) * step;
        bk_ivset_add(out, BK_MAX(from, x->slice_from_us), x->slice_to_us);
    }
}

/* One refetch over [from, to) unless some of it has not settled at now. */
static size_t push_refetch(const bk_plan_cfg *cfg, const bk_def *def, bk_iv hull, int64_t now_us,
                           bk_run *out, size_t n, size_t cap)
{
    if (n == cap || hull.to_us + cfg->settle_us[def->tf] > now_us)
        return n;
    bk_plan__fill_run(&out[n], def, cfg, hull, def->priority, BK_PLAN_SETTLE_TRIGGER);
    return n + 1;
}

size_t bk_plan_settle_slices(const bk_plan_cfg *cfg, const bk_def *def, const bk_ivset *unsettled,
                             int64_t now_us, bk_run *out, size_t cap)
{
    int64_t step = bk_plan_slice_step(cfg, def->type, def->tf);
    size_t n = 0;
    bk_iv hull = {0, 0};
    int64_t cell = 0;
    for (size_t i = 0; i < unsettled->n; i++) {
        bk_iv v = unsettled->v[i];
        while (v.from_us < v.to_us) { /* split at cell edges */
            int64_t c = bk_plan__cell(v.from_us, step);
            int64_t to = BK_MIN(v.to_us, (c + 1) * step);
            if (hull.to_us > hull.from_us && c == cell) {
                hull.to_us = to;
            } else {
                if (hull.to_us > hull.from_us)
                    n = push_refetch(cfg, def, hull, now_us, out, n, cap);
                hull = (bk_iv){v.from_us, to};
                cell = c;
            }
            v.from_us = to;
        }
    }
    if (hull.to_us > hull.from_us)
        n = push_refetch(cfg, def, hull, now_us, out, n, cap);
    return n;
}

/* Runs by series (symbol, tf), each series in creation order; the list
 * comes newest first, so among runs created at the same instant the one
 * listed later is older. */
typedef struct run_ref {
    const bk_run *run;
    size_t idx;
} run_ref;

static int ref_cmp(const void *a, const void *b)
{
    const run_ref *x = a, *y = b;
    int c = strcmp(x->run->symbol, y->run->symbol);
    if (c)
        return c;
    if (x->run->tf != y->run->tf)
        return x->run->tf < y->run->tf ? -1 : 1;
    if (x->run->created_us != y->run->created_us)
        return x->run->created_us < y->run->created_us ? -1 : 1;
    return x->idx > y->idx ? -1 : x->idx < y->idx;
}

/* The first ref of (symbol, tf) in sorted refs, and how many follow. */
static size_t series_runs(const run_ref *refs, size_t n, const bk_def *def, size_t *count)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(refs[mid].run->symbol, def->symbol);
        if (c < 0 || (c == 0 && refs[mid].run->tf < def->tf))
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < n && refs[end].run->tf == def->tf &&
           strcmp(refs[end].run->symbol, def->symbol) == 0)
        end++;
    *count = end - lo;
    return lo;
}

/* The refetches of one definition, appended to *runs. */
static void settle_def(const bk_plan_cfg *cfg, const bk_def *def, const run_ref *refs, size_t n,
                       int64_t now_us, bk_run **runs, size_t *n_runs, size_t *cap_runs)
{
    size_t count;
    size_t first = series_runs(refs, n, def, &count);
    if (count == 0)
        return;
    const bk_run **mine = bk_xmalloc(count * sizeof *mine);
    for (size_t i = 0; i < count; i++)
        mine[i] = refs[first + i].run;
    bk_ivset u;
    bk_ivset_init(&u);
    bk_plan_unsettled(mine, count, cfg->settle_us[def->tf], &u);
    if (u.n) {
        /* one refetch per cell that U meets: at most span / step + 2 */
        int64_t step = bk_plan_slice_step(cfg, def->type, def->tf);
        size_t max = (size_t)((u.v[u.n - 1].to_us - u.v[0].from_us) / step) + 2;
        bk_grow((void **)runs, cap_runs, *n_runs + max, sizeof **runs);
        *n_runs += bk_plan_settle_slices(cfg, def, &u, now_us, *runs + *n_runs, max);
    }
    bk_ivset_fini(&u);
    free(mine);
}

int bk_plan_settle(bk_store *s, const bk_plan_cfg *cfg, const bk_def *defs, size_t n_defs,
                   int64_t now_us, bk_run **runs, size_t *n_runs, size_t *cap_runs, bk_err *err)
{
    int64_t settle = 0;
    for (size_t i = 0; i < n_defs; i++)
        if (defs[i].enabled && defs[i].type != BK_JOB_FORECAST)
            settle = BK_MAX(settle, cfg->settle_us[defs[i].tf]);
    if (settle <= 0)
        return 0;
    bk_run_filter f = {
        .status = -1, .tf = -1, .since_us = now_us - settle - BK_PLAN_SETTLE_LOOKBACK_US};
    bk_run *recent = NULL;
    size_t n = 0;
    int rc = bk_store_runs_list(s, &f, &recent, &n, err);
    if (rc)
        return rc;
    run_ref *refs = bk_xmalloc((n ? n : 1) * sizeof *refs);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) /* forecast runs fetch nothing */
        if (recent[i].type != BK_JOB_FORECAST)
            refs[k++] = (run_ref){&recent[i], i};
    n = k;
    qsort(refs, n, sizeof *refs, ref_cmp);
    size_t before = *n_runs;
    for (size_t i = 0; i < n_defs; i++) {
        const bk_def *d = &defs[i];
        if (d->enabled && d->type != BK_JOB_FORECAST && cfg->settle_us[d->tf] > 0)
            settle_def(cfg, d, refs, n, now_us, runs, n_runs, cap_runs);
    }
    if (*n_runs > before)
        bk_log(BK_LOG_INFO, "plan", "settled bars to refetch runs=%zu", *n_runs - before);
    free(refs);
    free(recent);
    return 0;
}
