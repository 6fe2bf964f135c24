/*
 * prov_massive.c — the `massive` provider: Massive (formerly Polygon.io)
 * stock aggregates, GET /v2/aggs/ticker/{sym}/range/{mult}/{timespan}/{from}/{to}.
 *
 * Main idea: one request per page with the key in `Authorization: Bearer`
 * (never in the URL), limit=50000 base aggregates, sort=asc. 1m..30m, d1 and
 * w1 are native; 1h and 4h are aggregated here from 30-minute bars with the
 * calendar (bk_prov_aggregate), because Massive's hourly and 4-hour buckets
 * are aligned to the clock in UTC and include extended hours, while barkeep's
 * bars cover the regular session only (the 09:00 clock-anchored bar spans
 * 09:30-10:00). Daily bars are stamped 00:00 New York and weekly bars at the
 * start of their week; both are relabelled from the New York date of the
 * stamp, so a stamp at 00:00 UTC, 00:00 New York or on a Sunday lands on the
 * same bar.
 *
 * Pagination: the response's next_url is the page token, passed back by the
 * worker; it is followed on the configured host (its path and query only, so
 * the key is never sent elsewhere) with the Bearer header re-applied. An
 * aggregated timeframe cannot continue a provider cursor (a 4h bar may
 * straddle two pages), so its pages end on a whole bar: the last bar,
 * unless the page reaches the end of its span, is dropped as possibly
 * partial, and the token becomes "resume:<µs>", a fresh request from the
 * first bar not kept.
 *
 * Read next: prov.h (the contract), adapt.h (page finishing and resume
 * tokens, shared with prov_alpaca.c), providers.md §4 (the API and its
 * quirks), prov_alpaca.c (the same structure for Alpaca), docs/providers.md.
 */
#include "prov/adapt.h"
#include "prov/http.h"
#include "prov/prov.h"

#include "core/clock.h"
#include "core/util.h"
#include "json/jr.h"
#include "model/time.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WHO              "massive"
#define DEFAULT_BASE_URL "https://api.massive.com"
#define PAGE_LIMIT       50000 /* base aggregates per request (the maximum) */
#define AGGS_PATH        "/v2/aggs/"
/* Stamps accepted: 1970-01-01 .. 2200-01-01 (ms). */
#define T_MAX_MS INT64_C(7258118400000)

typedef struct massive {
    bk_http *http;
    char *base_url; /* without a trailing '/' */
    char *auth;     /* "Authorization: Bearer KEY" */
    bool adjusted;
    int64_t timeout_ms;
} massive;

/* ---- timeframes ---- */

/* The timeframe requested from Massive for tf, and whether its bars are
 * aggregated into tf afterwards. */
static bk_tf source_tf(bk_tf tf)
{
    return (tf == BK_TF_1H || tf == BK_TF_4H) ? BK_TF_30M : tf;
}

static bool aggregated(bk_tf tf)
{
    return source_tf(tf) != tf;
}

static void timespan(bk_tf src, int *mult, const char **span)
{
    static const int mults[BK_TF__N] = {1, 5, 15, 30, 1, 4, 1, 1};
    *mult = mults[src];
    *span = src == BK_TF_D1 ? "day" : src == BK_TF_W1 ? "week" : "minute";
}

/* ---- the parser ---- */

static int field_num(const bk_jval *bar, const char *key, size_t i, double *out, bk_err *err)
{
    const bk_jval *v = bk_jv_get(bar, key);
    if (!v)
        return bk_err_set(err, BK_EPROV_MALFORMED, WHO ": results[%zu].%s is missing", i, key);
    if (bk_jv_num(v, out) != 0)
        return bk_err_set(err, BK_EPROV_MALFORMED, WHO ": results[%zu].%s is %s, not a number", i,
                          key, bk_jtype_name(bk_jv_type(v)));
    return 0;
}

/* One element of results, as a bar labelled in the source timeframe. */
static int read_bar(const bk_jval *item, size_t i, bk_tf src, bk_bar *b, bk_err *err)
{
    if (bk_jv_type(item) != BK_JT_OBJECT)
        return bk_err_set(err, BK_EPROV_MALFORMED, WHO ": results[%zu] is %s, not an object", i,
                          bk_jtype_name(bk_jv_type(item)));
    double t;
    int rc = field_num(item, "t", i, &t, err);
    if (rc == 0 && !(t >= 0 && t < (double)T_MAX_MS && t == floor(t)))
        rc = bk_err_set(err, BK_EPROV_MALFORMED,
                        WHO ": results[%zu].t is not a millisecond timestamp (%.17g)", i, t);
    if (rc == 0)
        rc = field_num(item, "o", i, &b->open, err);
    if (rc == 0)
        rc = field_num(item, "h", i, &b->high, err);
    if (rc == 0)
        rc = field_num(item, "l", i, &b->low, err);
    if (rc == 0)
        rc = field_num(item, "c", i, &b->close, err);
    if (rc == 0) /* may be in exponent form: 1.029145e+06 */
        rc = field_num(item, "v", i, &b->volume, err);
    if (rc == 0)
        b->ts_us = bk_adapt_stamp_label(src, (int64_t)t * BK_US_PER_MS);
    return rc;
}

/* next_url, when present, must be an http(s) URL of the aggregates API. */
static const char *next_url_path(const char *url)
{
    const char *p = NULL;
    if (strncmp(url, "https://", 8) == 0)
        p = url + 8;
    else if (strncmp(url, "http://", 7) == 0)
        p = url + 7;
    if (!p)
        return NULL;
    p = strchr(p, '/');
    if (!p || strncmp(p, AGGS_PATH, sizeof AGGS_PATH - 1) != 0)
        return NULL;
    for (const char *c = p; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f)
            return NULL;
    return p;
}

static int read_next_url(const bk_jval *root, char *out, bk_err *err)
{
    const bk_jval *v = bk_jv_get(root, "next_url");
    const char *s;
    size_t len;
    out[0] = '\0';
    if (!v || bk_jv_type(v) == BK_JT_NULL)
        return 0;
    if (bk_jv_str(v, &s, &len) != 0)
        return bk_err_set(err, BK_EPROV_MALFORMED, WHO ": next_url is %s, not a string",
                          bk_jtype_name(bk_jv_type(v)));
    if (len == 0)
        return 0;
    if (len >= BK_PAGE_TOKEN_MAX)
        return bk_err_set(err, BK_EPROV_MALFORMED,
                          WHO ": next_url of %zu bytes is longer than a page token (%d)", len,
                          BK_PAGE_TOKEN_MAX - 1);
    if (len != strlen(s) || !next_url_path(s))
        return bk_err_set(err, BK_EPROV_MALFORMED,
                          WHO ": next_url is not a URL of the aggregates API");
    memcpy(out, s, len + 1);
    return 0;
}

/* The document's bars and next_url (a bk_adapt_read_fn). */
static int read_doc(const bk_jval *root, const bk_fetch_req *req, bk_page *out, char *cont,
                    bk_err *err)
{
    if (bk_jv_type(root) != BK_JT_OBJECT)
        return bk_err_set(err, BK_EPROV_MALFORMED, WHO ": the body is %s, not an object",
                          bk_jtype_name(bk_jv_type(root)));
    const char *status = NULL;
    if (bk_jv_str(bk_jv_get(root, "status"), &status, NULL) == 0 && strcmp(status, "ERROR") == 0) {
        const char *why = "(no message)";
        if (bk_jv_str(bk_jv_get(root, "error"), &why, NULL) != 0)
            (void)bk_jv_str(bk_jv_get(root, "message"), &why, NULL);
        return bk_err_set(err, BK_EPROV_MALFORMED, WHO ": status ERROR: %.160s", why);
    }
    int rc = read_next_url(root, cont, err);
    const bk_jval *res = bk_jv_get(root, "results"); /* omitted when there is no data */
    bk_jtype rt = bk_jv_type(res);
    if (rc == 0 && rt != BK_JT_NULL && rt != BK_JT_ARRAY)
        rc = bk_err_set(err, BK_EPROV_MALFORMED, WHO ": results is %s, not an array",
                        bk_jtype_name(rt));
    bk_tf src = source_tf(req->tf);
    size_t n = bk_jv_len(res);
    int64_t prev = INT64_MIN;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bk_bar b;
        rc = read_bar(bk_jv_at(res, i), i, src, &b, err);
        if (rc == 0 && b.ts_us <= prev)
            rc = bk_err_set(err, BK_EPROV_MALFORMED,
                            WHO ": results[%zu].t repeats or goes back in time", i);
        if (rc == 0) {
            prev = b.ts_us;
            bk_page_push(out, &b);
        }
    }
    return rc;
}

int bk_massive_parse(const char *body, size_t len, const bk_fetch_req *req, bk_anchor anchor,
                     bk_page *out, bk_err *err)
{
    bk_adapt_body b = {.data = body, .len = len, .req = req};
    bk_adapt_cursor c = {.who = WHO, .anchor = anchor, .src = source_tf(req->tf)};
    return bk_adapt_parse_cursor(&b, &c, read_doc, out, err);
}

/* ---- requests ---- */

static void append_date(bk_buf *b, int32_t day)
{
    char d[16];
    bk_buf_puts(b, bk_date_format(day, d));
}

/* URL of the first request (or a resumed one) for req, from start_us. */
static void range_url(const massive *m, const bk_fetch_req *req, int64_t start_us, bk_buf *url)
{
    bk_tf src = source_tf(req->tf);
    int mult;
    const char *span;
    timespan(src, &mult, &span);
    bk_buf_printf(url, "%s/v2/aggs/ticker/", m->base_url);
    bk_url_escape(url, req->symbol);
    bk_buf_printf(url, "/range/%d/%s/", mult, span);
    if (src == BK_TF_D1 || src == BK_TF_W1) {
        /* Dates: a weekly bar may be stamped on the Sunday before its week,
         * or later in the week when its Monday is a holiday. */
        int32_t first = bk_cal_ny_day(start_us), last = bk_cal_ny_day(req->to_us - 1);
        if (src == BK_TF_W1) {
            first -= 1;
            last += 6;
        }
        append_date(url, first);
        bk_buf_puts(url, "/");
        append_date(url, last);
    } else {
        /* Milliseconds, both ends inclusive: every source bar that starts
         * before the last requested bar ends (aggregation needs all of it). */
        int64_t end_us = req->to_us - 1 + (aggregated(req->tf) ? bk_tf_step_us(req->tf) : 1);
        bk_buf_printf(url, "%" PRId64 "/%" PRId64, start_us / BK_US_PER_MS,
                      (end_us - 1) / BK_US_PER_MS);
    }
    bk_buf_printf(url, "?adjusted=%s&sort=asc&limit=%d", m->adjusted ? "true" : "false",
                  PAGE_LIMIT);
}

static int request_url(const massive *m, const bk_fetch_req *req, bk_buf *url, bk_err *err)
{
    const char *t = req->page_token;
    if (!t || !t[0] || bk_adapt_is_resume(t)) {
        int64_t start;
        int rc = bk_adapt_request_start(&start, req, WHO, err);
        if (rc == 0)
            range_url(m, req, start, url);
        return rc;
    }
    const char *path = next_url_path(t);
    if (!path)
        return bk_err_set(err, BK_EINVAL, WHO ": page token is not a next_url");
    /* The configured host, never the one in the token: the key goes there. */
    bk_buf_printf(url, "%s%s", m->base_url, path);
    return 0;
}

/* Massive's words before the common status mapping (a bk_adapt_check_fn). */
static int check_status(const bk_prov *p, const bk_fetch_req *req, const bk_http_resp *r,
                        bk_err *err)
{
    (void)p;
    (void)req;
    if (r->status == 403 && r->body && strstr(r->body, "data timeframe"))
        return bk_err_set(err, BK_EPROV_RANGE,
                          WHO ": the plan does not include this time range (HTTP 403: %.120s)",
                          r->body);
    return bk_http_classify(r, WHO, err);
}

static int massive_fetch(bk_prov *p, const bk_fetch_req *req, bk_page *out, bk_err *err)
{
    massive *m = p->impl;
    bk_buf url;
    bk_buf_init(&url);
    int rc = request_url(m, req, &url, err);
    if (rc == 0) {
        bk_adapt_call c = {.who = WHO,
                           .http = m->http,
                           .hr = {.url = url.data,
                                  .headers = {m->auth, "Accept: application/json"},
                                  .timeout_ms = m->timeout_ms},
                           .check = check_status,
                           .parse = bk_massive_parse};
        rc = bk_adapt_fetch(&c, p, req, out, err);
    }
    if (rc)
        bk_page_reset(out);
    bk_buf_fini(&url);
    return rc;
}

static void massive_free(bk_prov *p)
{
    massive *m = p->impl;
    if (m) {
        bk_http_free(m->http);
        free(m->base_url);
        bk_free_secret(m->auth);
        free(m);
    }
    free(p);
}

static const bk_prov_ops massive_ops = {.fetch = massive_fetch, .free = massive_free};

/* ---- construction ---- */

static int check_cfg(const bk_prov_cfg *cfg, bool *adjusted, bk_err *err)
{
    int rc = bk_adapt_check_key(WHO, cfg ? cfg->key : NULL, "MASSIVE_API_KEY", err);
    if (rc)
        return rc;
    const char *adj = cfg->adjustment && cfg->adjustment[0] ? cfg->adjustment : "split";
    if (strcmp(adj, "split") != 0 && strcmp(adj, "raw") != 0)
        return bk_err_set(err, BK_EINVAL,
                          WHO ": adjustment \"%s\" is not served (aggregates are \"split\" "
                              "adjusted or \"raw\")",
                          adj);
    *adjusted = strcmp(adj, "split") == 0;
    if (cfg->feed && cfg->feed[0] && strcmp(cfg->feed, "sip") != 0)
        return bk_err_set(err, BK_EINVAL, WHO ": feed \"%s\" is not served (only \"sip\")",
                          cfg->feed);
    return bk_adapt_check_transport(WHO, cfg, DEFAULT_BASE_URL, err);
}

/* Defaults of the free ("Basic") plan: 5 requests a minute (the budget: one
 * at a time, one per 14.7 s, below it by bk_prov_budget_below's margin),
 * about two years of history. One page holds 50,000 base (minute) aggregates whatever the
 * multiplier: ~52 trading days of 04:00-20:00 minutes, so intraday slices of
 * ten weeks fit one page; daily and weekly ranges have no practical cap. */
static void set_limits(bk_prov_limits *l)
{
    memset(l, 0, sizeof *l);
    bk_prov_budget_below(l, 5, 60, 1); /* not 5 at once and 5 more */
    for (int tf = 0; tf < BK_TF__N; tf++) {
        l->max_span_us[tf] = bk_tf_intraday((bk_tf)tf) ? 70 * BK_US_PER_DAY : 0;
        l->history_us[tf] = 730 * BK_US_PER_DAY;
    }
}

int bk_massive_new(bk_prov **out, const bk_prov_cfg *cfg, bk_err *err)
{
    *out = NULL;
    bool adjusted = true;
    int rc = check_cfg(cfg, &adjusted, err);
    if (rc)
        return rc;
    bk_http *http = NULL;
    rc = bk_http_new(&http, NULL, err);
    if (rc)
        return rc;
    massive *m = bk_xcalloc(1, sizeof *m);
    m->http = http;
    m->auth = bk_adapt_header("Authorization", "Bearer", cfg->key);
    m->base_url = bk_adapt_base_url(cfg->base_url, DEFAULT_BASE_URL);
    m->adjusted = adjusted;
    m->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
    bk_prov *p = bk_xcalloc(1, sizeof *p);
    p->ops = &massive_ops;
    p->impl = m;
    bk_strlcpy(p->name, "massive", sizeof p->name);
    bk_strlcpy(p->feed, "sip", sizeof p->feed); /* built from consolidated trades */
    bk_strlcpy(p->adjustment, adjusted ? "split" : "raw", sizeof p->adjustment);
    p->anchor = cfg->anchor;
    p->delay_us = 15 * BK_US_PER_MIN; /* the delayed plans' 15 minutes */
    p->settle_us = BK_PROV_SETTLE_US;
    set_limits(&p->limits);
    *out = p;
    return 0;
}
