/*
 * prov.c — the provider interface's shared parts: pages and dispatch.
 */
#include "prov/prov.h"
#include "core/clock.h"
#include "core/util.h"
#include "model/time.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void bk_page_init(bk_page *p)
{
    memset(p, 0, sizeof *p);
}

void bk_page_fini(bk_page *p)
{
    free(p->bars);
    bk_page_init(p);
}

void bk_page_reset(bk_page *p)
{
    p->n = 0;
    p->next_token[0] = '\0';
    p->total_hint = 0;
}

void bk_page_push(bk_page *p, const bk_bar *bar)
{
    bk_grow((void **)&p->bars, &p->cap, p->n + 1, sizeof *p->bars);
    p->bars[p->n++] = *bar;
}

int bk_prov_fetch(bk_prov *p, const bk_fetch_req *req, bk_page *out, bk_err *err)
{
    bk_page_reset(out);
    /* checked once for every provider; not a request, not counted */
    if (!req->symbol || !req->symbol[0] || (unsigned)req->tf >= BK_TF__N ||
        req->to_us <= req->from_us)
        return bk_err_set(err, BK_EINVAL, "%s: invalid request (symbol, timeframe or range)",
                          p->name);
    int64_t t0 = bk_clock_mono_us();
    int rc = p->ops->fetch(p, req, out, err);
    atomic_fetch_add(&p->stats.requests, 1);
    atomic_fetch_add(&p->stats.latency_us, bk_clock_mono_us() - t0);
    if (rc)
        atomic_fetch_add(&p->stats.errors, 1);
    if (rc == BK_EPROV_RATE)
        atomic_fetch_add(&p->stats.rate_limited, 1);
    return rc;
}

void bk_prov_budget_below(bk_prov_limits *l, double n, double window_s, double burst)
{
    l->burst = burst;
    l->rate_per_s = (n - burst + 0.5) / ((1 + BK_PROV_BUDGET_SLACK) * window_s);
}

void bk_prov_free(bk_prov *p)
{
    if (p)
        p->ops->free(p);
}

int64_t bk_prov_day_label(int32_t ny_day)
{
    return bk_cal_ny_to_utc(ny_day, 0, 0);
}

int64_t bk_prov_week_label(int32_t ny_day)
{
    return bk_cal_ny_to_utc(ny_day - (bk_weekday(ny_day) + 6) % 7, 0, 0);
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int bk_prov_parse_ny_local(const char *s, int64_t *out_us)
{
    int y, mo, d, h = 0, mi = 0, se = 0;
    size_t n = strlen(s);
    if (n < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || !bk_date_valid(y, mo, d))
        return BK_EINVAL;
    if (n > 10) {
        if ((s[10] != 'T' && s[10] != ' ') || n < 16 || digits(s + 11, 2, &h) || s[13] != ':' ||
            digits(s + 14, 2, &mi))
            return BK_EINVAL;
        if (n > 16 && (n != 19 || s[16] != ':' || digits(s + 17, 2, &se)))
            return BK_EINVAL;
        if (h > 23 || mi > 59 || se > 59)
            return BK_EINVAL;
    }
    *out_us = bk_cal_ny_to_utc(bk_days_from_civil(y, mo, d), h, mi) + (int64_t)se * BK_US_PER_S;
    return 0;
}

/* Source bar i, checked before it is folded: an impossible bar would
 * otherwise vanish into a plausible-looking aggregate. */
static int check_source(const bk_bar *b, size_t i, bk_tf tf, bk_err *err)
{
    bk_err e = {0};
    if (bk_bar_check(b, i, &e) == 0)
        return 0;
    return bk_err_set(err, BK_EBADBAR, "source of a %s bar: %s", bk_tf_name(tf), e.msg);
}

int bk_prov_aggregate(bk_page *pg, bk_tf tf, bk_anchor anchor, bk_err *err)
{
    size_t w = 0;
    bool open = false;
    bk_calbar cur = {0};
    int64_t last_ts = INT64_MIN;
    for (size_t i = 0; i < pg->n; i++) {
        bk_bar b = pg->bars[i];
        if (b.ts_us <= last_ts)
            return bk_err_set(err, BK_EBADBAR, "bars go back in time before aggregation");
        int rc = check_source(&b, i, tf, err);
        if (rc)
            return rc;
        last_ts = b.ts_us;
        if (!open || b.ts_us < cur.from_us || b.ts_us >= cur.to_us) {
            bk_calbar cb;
            if (bk_cal_bars(tf, anchor, b.ts_us, b.ts_us + 1, &cb, 1) == 0 ||
                b.ts_us < cb.from_us || b.ts_us >= cb.to_us)
                continue; /* closed market (extended hours): not part of any bar */
            if (open)
                w++;
            cur = cb;
            open = true;
            b.ts_us = cb.ts_us;
            assert(w <= i);
            pg->bars[w] = b; /* w <= i: never overwrites an unread bar */
            continue;
        }
        bk_bar *a = &pg->bars[w];
        a->high = BK_MAX(a->high, b.high);
        a->low = BK_MIN(a->low, b.low);
        a->close = b.close;
        a->volume += b.volume;
    }
    pg->n = open ? w + 1 : 0;
    return 0;
}
