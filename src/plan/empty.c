/*
 * empty.c — confirmed-empty time: the part of a series' coverage where the
 * calendar expects bars and the store holds none. The worker records such
 * coverage only with evidence that the symbol exists there (a halt, before a
 * listing, after a delisting: docs/internals/work.md, "Empty answers"), so
 * with gaps (missing) and unservable time it completes what `gaps`,
 * `coverage` and ensure-coverage say about a window: covered with bars,
 * confirmed empty, missing, unservable.
 */
#include "plan/plan.h"
#include "core/util.h"

#include <stdlib.h>

typedef struct labels {
    int64_t *v;
    size_t n, cap;
} labels;

static int collect(void *ctx, const bk_bar *bar, const char *provider)
{
    (void)provider;
    labels *l = ctx;
    bk_grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v);
    l->v[l->n++] = bar->ts_us;
    return 0;
}

/* The expected bars owned by covered expected time, into *out (*n). */
static bk_calbar *owned_bars(const bk_plan_cfg *cfg, bk_tf tf, const bk_ivset *e, size_t *n)
{
    int64_t from = e->v[0].from_us, to = e->v[e->n - 1].to_us;
    size_t m = bk_cal_bars(tf, cfg->anchor, from, to, NULL, 0);
    bk_calbar *cb = bk_xmalloc((m + 1) * sizeof *cb);
    bk_cal_bars(tf, cfg->anchor, from, to, cb, m);
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
        if (bk_ivset_contains(e, cb[i].from_us))
            cb[k++] = cb[i];
    *n = k;
    return cb;
}

int bk_plan_confirmed_empty(bk_store *s, const bk_plan_cfg *cfg, const bk_def *def,
                            const bk_ivset *covered, int64_t now_us, bk_ivset *out, size_t *n_bars,
                            bk_err *err)
{
    bk_ivset_clear(out);
    *n_bars = 0;
    if (!covered || covered->n == 0)
        return 0;
    bk_ivset e;
    bk_ivset_init(&e);
    bk_plan_expected(cfg, def->tf, def->window_days, now_us, &e);
    bk_ivset_intersect(&e, covered);
    int rc = 0;
    if (e.n > 0) {
        size_t n = 0;
        bk_calbar *cb = owned_bars(cfg, def->tf, &e, &n);
        labels l = {0};
        if (n > 0)
            rc = bk_store_bars_read(s, def->symbol, def->tf, cb[0].ts_us, cb[n - 1].ts_us + 1,
                                    collect, &l, err);
        for (size_t i = 0, j = 0; rc == 0 && i < n; i++) {
            while (j < l.n && l.v[j] < cb[i].ts_us)
                j++;
            if (j < l.n && l.v[j] == cb[i].ts_us)
                continue;
            bk_ivset_add(out, cb[i].from_us, cb[i].to_us);
            (*n_bars)++;
        }
        free(l.v);
        free(cb);
    }
    bk_ivset_fini(&e);
    return rc;
}
