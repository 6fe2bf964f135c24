/*
 * verify.c — see verify.h.
 */
#include "work/verify.h"
#include "core/clock.h"
#include "core/util.h"
#include "model/time.h"
#include "work/validate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PAGES 100000

void bk_verify_report_init(bk_verify_report *r)
{
    memset(r, 0, sizeof *r);
}

void bk_verify_report_fini(bk_verify_report *r)
{
    free(r->diffs);
    free(r->bad);
    memset(r, 0, sizeof *r);
}

typedef struct bars {
    bk_bar *v;
    size_t n, cap;
} bars;

static void bars_push(bars *b, const bk_bar *x, size_t n)
{
    bk_grow((void **)&b->v, &b->cap, b->n + n, sizeof *b->v);
    memcpy(b->v + b->n, x, n * sizeof *x);
    b->n += n;
}

/* The longest range checked in one request. */
static int64_t range_span(const bk_prov *p, bk_tf tf)
{
    if (p->limits.max_span_us[tf] > 0)
        return p->limits.max_span_us[tf];
    return (bk_tf_intraday(tf) ? 30 : 365) * BK_US_PER_DAY;
}

/* Covered time within [from, to), cut into ranges of at most span. */
static bk_iv *cut_ranges(const bk_ivset *covered, int64_t from, int64_t to, int64_t span, size_t *n)
{
    bk_ivset c;
    bk_ivset_init(&c);
    bk_ivset_copy(&c, covered);
    bk_ivset_clip(&c, from, to);
    bk_iv *out = NULL;
    size_t cap = 0;
    *n = 0;
    for (size_t i = 0; i < c.n; i++)
        for (int64_t a = c.v[i].from_us; a < c.v[i].to_us; a += span) {
            bk_grow((void **)&out, &cap, *n + 1, sizeof *out);
            out[(*n)++] = (bk_iv){a, BK_MIN(a + span, c.v[i].to_us)};
        }
    bk_ivset_fini(&c);
    return out;
}

/* Every page of p's answer for the labels [lo, hi), validated as a run's. */
static int fetch_range(bk_store *s, const bk_work_env *env, bk_prov *p, const char *symbol,
                       bk_tf tf, bk_iv iv, int64_t lo, int64_t hi, bars *out, bk_err *err)
{
    bk_fetch_req req = {.symbol = symbol, .tf = tf, .from_us = lo, .to_us = hi, .attempt = 1};
    char token[BK_PAGE_TOKEN_MAX] = "";
    bk_page pg;
    bk_page_init(&pg);
    int rc = 0;
    for (int page = 0; rc == 0 && page < MAX_PAGES; page++) {
        req.page_token = token;
        rc = bk_work_take_budget(s, env, p, err);
        if (rc == 0)
            rc = bk_work_fetch_page(s, p, &req, &pg, err);
        if (rc == 0)
            rc = bk_validate_bars(pg.bars, pg.n, tf, p->anchor, iv.from_us, iv.to_us, err);
        if (rc)
            break;
        bars_push(out, pg.bars, bk_validate_keep_regular(pg.bars, pg.n, tf, p->anchor));
        if (pg.next_token[0] == '\0')
            break;
        if (strcmp(pg.next_token, token) == 0)
            rc = bk_err_set(err, BK_EPROV_MALFORMED, "%s: repeated page token", p->name);
        bk_strlcpy(token, pg.next_token, sizeof token);
    }
    bk_page_fini(&pg);
    return rc;
}

static int collect(void *ctx, const bk_bar *bar, const char *provider)
{
    (void)provider;
    bars_push(ctx, bar, 1);
    return 0;
}

static bool same_value(double a, double b)
{
    return a == b || fabs(a - b) <= 1e-9 * BK_MAX(fabs(a), fabs(b));
}

static bool same_bar(const bk_bar *a, const bk_bar *b)
{
    return same_value(a->open, b->open) && same_value(a->high, b->high) &&
           same_value(a->low, b->low) && same_value(a->close, b->close) &&
           same_value(a->volume, b->volume);
}

static void note(bk_verify_report *r, bk_verify_kind kind, const bk_bar *stored,
                 const bk_bar *served)
{
    bk_grow((void **)&r->diffs, &r->cap_diffs, r->n_diffs + 1, sizeof *r->diffs);
    bk_verify_diff *d = &r->diffs[r->n_diffs++];
    memset(d, 0, sizeof *d);
    d->kind = kind;
    d->ts_us = stored ? stored->ts_us : served->ts_us;
    if (stored)
        d->stored = *stored;
    if (served)
        d->served = *served;
    r->missing += kind == BK_VERIFY_MISSING;
    r->extra += kind == BK_VERIFY_EXTRA;
    r->different += kind == BK_VERIFY_DIFFERENT;
}

/* Merge the two label-ordered lists; true if they differ. */
static bool compare(const bars *stored, const bars *served, bk_verify_report *r)
{
    size_t i = 0, j = 0, before = r->n_diffs;
    while (i < stored->n || j < served->n) {
        const bk_bar *a = i < stored->n ? &stored->v[i] : NULL;
        const bk_bar *b = j < served->n ? &served->v[j] : NULL;
        if (a && (!b || a->ts_us < b->ts_us)) {
            note(r, BK_VERIFY_EXTRA, a, NULL);
            i++;
        } else if (b && (!a || b->ts_us < a->ts_us)) {
            note(r, BK_VERIFY_MISSING, NULL, b);
            j++;
        } else if (a && b) { /* the same label */
            if (!same_bar(a, b))
                note(r, BK_VERIFY_DIFFERENT, a, b);
            i++;
            j++;
        } else {
            break; /* (unreachable: the loop runs while one list has bars) */
        }
    }
    return r->n_diffs > before;
}

static int check_range(bk_store *s, const bk_work_env *env, bk_prov *p, const char *symbol,
                       bk_tf tf, bk_iv iv, bk_verify_report *r, bk_err *err)
{
    int64_t lo, hi;
    if (bk_work_slice_labels(tf, p->anchor, iv.from_us, iv.to_us, &lo, &hi) == 0)
        return 0;
    bars served = {0}, stored = {0};
    int rc = fetch_range(s, env, p, symbol, tf, iv, lo, hi, &served, err);
    if (rc == 0)
        rc = bk_store_bars_read(s, symbol, tf, lo, hi, collect, &stored, err);
    if (rc == 0) {
        r->served += (int64_t)served.n;
        r->stored += (int64_t)stored.n;
        if (compare(&stored, &served, r)) {
            bk_grow((void **)&r->bad, &r->cap_bad, r->n_bad + 1, sizeof *r->bad);
            r->bad[r->n_bad++] = iv;
        }
    } else {
        char a[BK_TIME_STR_MAX], b[BK_TIME_STR_MAX], msg[BK_ERR_MSG_MAX];
        bk_strlcpy(msg, err->msg, sizeof msg);
        bk_err_set(err, rc, "range %s to %s: %s", bk_time_format(iv.from_us, a),
                   bk_time_format(iv.to_us, b), msg);
    }
    free(served.v);
    free(stored.v);
    return rc;
}

int bk_verify(bk_store *s, const bk_work_env *env, bk_prov *p, const char *symbol, bk_tf tf,
              int64_t from_us, int64_t to_us, size_t sample, bk_verify_report *out, bk_err *err)
{
    bk_series *ser = NULL;
    size_t n_ser = 0;
    int rc = bk_store_series_load(s, symbol, (int)tf, &ser, &n_ser, err);
    if (rc)
        return rc;
    size_t n = 0;
    bk_iv *ranges =
        n_ser ? cut_ranges(&ser[0].covered, from_us, to_us, range_span(p, tf), &n) : NULL;
    bk_series_free(ser, n_ser);
    out->ranges = n;
    size_t k = sample > 0 && sample < n ? sample : n;
    for (size_t i = 0; rc == 0 && i < k; i++) {
        size_t at = k == n ? i : i * n / k; /* spread evenly, first and all between */
        rc = check_range(s, env, p, symbol, tf, ranges[at], out, err);
        out->ranges_checked += rc == 0;
    }
    free(ranges);
    return rc;
}
