/*
 * adapt.c — the HTTP adapters' shared parts (adapt.h): page finishing for
 * window and cursor adapters, the request round trip, resume tokens,
 * daily/weekly labels, and the construction helpers.
 *
 * Main idea: an adapter parses its provider's body into bars of the
 * timeframe it asked for, in whatever order the provider sent them; the
 * functions here make that a page of the contract (prov.h): labels
 * ascending and unique, in [from, to), aggregated into the requested
 * timeframe, with the next page token.
 *
 * Read next: adapt.h (the contracts), prov.c (bk_prov_aggregate).
 */
#include "prov/adapt.h"

#include "cal/cal.h"
#include "core/clock.h"
#include "core/util.h"
#include "model/time.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- pages ---- */

/* Stable bottom-up merge sort by label; a sorted page costs one pass. */
static void sort_bars(bk_bar *a, size_t n)
{
    size_t i = 1;
    while (i < n && a[i - 1].ts_us <= a[i].ts_us)
        i++;
    if (i >= n)
        return;
    bk_bar *tmp = bk_xmalloc(n * sizeof *tmp);
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo + w < n; lo += 2 * w) {
            size_t mid = lo + w, hi = BK_MIN(lo + 2 * w, n), x = lo, y = mid, k = lo;
            while (x < mid && y < hi)
                tmp[k++] = a[y].ts_us < a[x].ts_us ? a[y++] : a[x++];
            while (x < mid)
                tmp[k++] = a[x++];
            while (y < hi)
                tmp[k++] = a[y++];
            memcpy(a + lo, tmp + lo, (hi - lo) * sizeof *a);
        }
    }
    free(tmp);
}

/* Sorted bars: keep the last of those with one label. */
static void dedupe_keep_last(bk_page *pg)
{
    size_t w = 0;
    for (size_t i = 0; i < pg->n; i++) {
        if (w && pg->bars[w - 1].ts_us == pg->bars[i].ts_us)
            pg->bars[w - 1] = pg->bars[i];
        else
            pg->bars[w++] = pg->bars[i];
    }
    pg->n = w;
}

/* True if [ts, ts + step) overlaps the regular session of ts's date. */
static bool in_session(int64_t ts, int64_t step, bk_session *cache)
{
    int32_t day = bk_cal_ny_day(ts);
    if (cache->day != day) {
        if (!bk_cal_session(day, cache)) {
            memset(cache, 0, sizeof *cache);
            cache->day = day;
        }
    }
    return ts < cache->close_us && ts + step > cache->open_us;
}

void bk_adapt_keep_range(bk_page *pg, const bk_fetch_req *req, int64_t session_step_us)
{
    bk_session cache = {.day = INT32_MIN};
    size_t w = 0;
    for (size_t i = 0; i < pg->n; i++) {
        int64_t ts = pg->bars[i].ts_us;
        if (ts < req->from_us || ts >= req->to_us)
            continue;
        if (session_step_us > 0 && !in_session(ts, session_step_us, &cache))
            continue;
        pg->bars[w++] = pg->bars[i];
    }
    pg->n = w;
}

int bk_adapt_finish_window(bk_page *pg, const bk_fetch_req *req, bk_anchor anchor, bk_tf native,
                           bk_err *err)
{
    sort_bars(pg->bars, pg->n);
    dedupe_keep_last(pg);
    if (native != req->tf) {
        int rc = bk_prov_aggregate(pg, req->tf, anchor, err);
        if (rc)
            return rc;
    }
    bool check_session = native == req->tf && bk_tf_intraday(native);
    bk_adapt_keep_range(pg, req, check_session ? bk_tf_step_us(native) : 0);
    return 0;
}

/* Where this request started: req->from_us, or a resume point of ours. */
static int64_t range_start(const bk_fetch_req *req)
{
    int64_t v;
    if (bk_adapt_is_resume(req->page_token) &&
        bk_parse_i64(req->page_token + sizeof BK_ADAPT_RESUME_PREFIX - 1, req->from_us, req->to_us,
                     &v) == 0)
        return v;
    return req->from_us;
}

/* Where the next page of an aggregated page starts. Its last bar is whole
 * when its last source bar reaches the end of its trading span (no later
 * source bar can belong to it): kept, and the next page starts at that end.
 * Otherwise it may be partial: dropped, and fetched again from its label. */
static int64_t last_bar_resume(bk_page *pg, const bk_fetch_req *req, const bk_adapt_cursor *c,
                               int64_t last_src)
{
    bk_calbar cb;
    const bk_bar *last = &pg->bars[pg->n - 1];
    if (bk_cal_bar_at(req->tf, c->anchor, last->ts_us, &cb) &&
        last_src + bk_tf_step_us(c->src) >= cb.to_us)
        return cb.to_us;
    return pg->bars[--pg->n].ts_us;
}

/* An aggregated page: end it on a whole bar when the provider has more. */
static int end_on_whole_bar(bk_page *pg, const bk_fetch_req *req, const bk_adapt_cursor *c,
                            bk_err *err)
{
    int64_t last_src = pg->n ? pg->bars[pg->n - 1].ts_us : INT64_MIN;
    bk_err aerr = {0};
    int rc = bk_prov_aggregate(pg, req->tf, c->anchor, &aerr);
    if (rc)
        return bk_err_set(err, rc, "%s: %s", c->who, aerr.msg);
    if (!c->cont[0])
        return 0;
    int64_t resume = INT64_MIN;
    if (pg->n)
        resume = last_bar_resume(pg, req, c, last_src);
    else if (last_src != INT64_MIN)
        resume = last_src + bk_tf_step_us(c->src);
    if (resume <= range_start(req))
        return bk_err_set(err, BK_EPROV_MALFORMED, "%s: a page continues before a whole %s bar",
                          c->who, bk_tf_name(req->tf));
    if (resume < req->to_us)
        snprintf(pg->next_token, sizeof pg->next_token, BK_ADAPT_RESUME_PREFIX "%" PRId64, resume);
    return 0;
}

int bk_adapt_finish_cursor(bk_page *pg, const bk_fetch_req *req, const bk_adapt_cursor *c,
                           bk_err *err)
{
    if (c->src != req->tf) {
        int rc = end_on_whole_bar(pg, req, c, err);
        if (rc)
            return rc;
    } else {
        bk_strlcpy(pg->next_token, c->cont, sizeof pg->next_token);
    }
    bk_adapt_keep_range(pg, req, 0);
    return 0;
}

int bk_adapt_parse_cursor(const bk_adapt_body *body, const bk_adapt_cursor *c,
                          bk_adapt_read_fn read, bk_page *out, bk_err *err)
{
    bk_page_reset(out);
    if ((unsigned)body->req->tf >= BK_TF__N)
        return bk_err_set(err, BK_EINVAL, "%s: bad timeframe", c->who);
    bk_jdoc *doc = NULL;
    bk_err jerr = {0};
    if (bk_jdoc_parse(&doc, body->data, body->len, &jerr) != 0)
        return bk_err_set(err, BK_EPROV_MALFORMED, "%s: invalid JSON: %s", c->who, jerr.msg);
    char *cont = bk_xcalloc(1, BK_PAGE_TOKEN_MAX);
    int rc = read(bk_jdoc_root(doc), body->req, out, cont, err);
    if (rc == 0) {
        bk_adapt_cursor page = *c;
        page.cont = cont;
        rc = bk_adapt_finish_cursor(out, body->req, &page, err);
    }
    free(cont);
    bk_jdoc_free(doc);
    if (rc)
        bk_page_reset(out);
    return rc;
}

/* ---- requests ---- */

int bk_adapt_fetch(const bk_adapt_call *c, const bk_prov *p, const bk_fetch_req *req, bk_page *out,
                   bk_err *err)
{
    bk_http_resp resp = {0};
    int rc = bk_http_get(c->http, c->who, &c->hr, &resp, err);
    if (rc == 0)
        rc = c->check(p, req, &resp, err);
    if (rc == 0)
        rc = c->parse(resp.body, resp.len, req, p->anchor, out, err);
    bk_http_resp_fini(&resp);
    if (rc)
        bk_page_reset(out);
    return rc;
}

/* ---- page tokens ---- */

bool bk_adapt_is_resume(const char *token)
{
    return token && strncmp(token, BK_ADAPT_RESUME_PREFIX, sizeof BK_ADAPT_RESUME_PREFIX - 1) == 0;
}

int bk_adapt_request_start(int64_t *out_us, const bk_fetch_req *req, const char *who, bk_err *err)
{
    *out_us = req->from_us;
    if (!bk_adapt_is_resume(req->page_token))
        return 0;
    if (bk_parse_i64(req->page_token + sizeof BK_ADAPT_RESUME_PREFIX - 1, req->from_us,
                     req->to_us - 1, out_us) != 0)
        return bk_err_set(err, BK_EINVAL, "%s: page token resumes outside the range", who);
    return 0;
}

/* ---- labels ---- */

int64_t bk_adapt_date_label(bk_tf tf, int32_t ny_day, bool weekend_next)
{
    if (tf == BK_TF_D1)
        return bk_prov_day_label(ny_day);
    int wd = bk_weekday(ny_day);
    if (wd == 0)
        ny_day += 1;
    else if (wd == 6 && weekend_next)
        ny_day += 2;
    return bk_prov_week_label(ny_day);
}

int64_t bk_adapt_stamp_label(bk_tf tf, int64_t stamp_us)
{
    if (tf != BK_TF_D1 && tf != BK_TF_W1)
        return stamp_us;
    return bk_adapt_date_label(tf, bk_cal_ny_day(stamp_us + 12 * BK_US_PER_HOUR), true);
}

/* ---- construction ---- */

char *bk_adapt_base_url(const char *base_url, const char *dflt)
{
    char *s = bk_xstrdup(base_url && base_url[0] ? base_url : dflt);
    for (size_t n = strlen(s); n > 0 && s[n - 1] == '/'; n--)
        s[n - 1] = '\0';
    return s;
}

char *bk_adapt_header(const char *name, const char *scheme, const char *value)
{
    bk_buf b;
    bk_buf_init(&b);
    if (scheme)
        bk_buf_printf(&b, "%s: %s %s", name, scheme, value);
    else
        bk_buf_printf(&b, "%s: %s", name, value);
    return b.data; /* the buffer's allocation, kept */
}

int bk_adapt_check_key(const char *who, const char *key, const char *env, bk_err *err)
{
    if (!key || !key[0])
        return bk_err_set(err, BK_EINVAL, "%s: no API key (set %s)", who, env);
    if (strpbrk(key, "\r\n"))
        return bk_err_set(err, BK_EINVAL, "%s: the API key holds a line break", who);
    return 0;
}

int bk_adapt_check_transport(const char *who, const bk_prov_cfg *cfg, const char *dflt, bk_err *err)
{
    const char *base = cfg->base_url && cfg->base_url[0] ? cfg->base_url : dflt;
    if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)
        return bk_err_set(err, BK_EINVAL, "%s: base URL \"%s\" is not http(s)", who, base);
    if (cfg->timeout_ms < 0)
        return bk_err_set(err, BK_EINVAL, "%s: negative timeout", who);
    if (cfg->anchor != BK_ANCHOR_SESSION && cfg->anchor != BK_ANCHOR_CLOCK)
        return bk_err_set(err, BK_EINVAL, "%s: bad anchor", who);
    return 0;
}
