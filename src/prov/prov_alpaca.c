/*
 * prov_alpaca.c — the `alpaca` provider: Alpaca Market Data v2 stock bars,
 * GET /v2/stocks/{sym}/bars.
 *
 * Main idea: one request per page with the key id and secret in the
 * APCA-API-KEY-ID / APCA-API-SECRET-KEY headers, limit=10000, sort=asc, the
 * configured feed (iex by default: free and real time; sip: consolidated,
 * the latest 15 minutes refused on the free plan) and adjustment (raw by
 * default; split; split+div as `all`). Bar stamps are RFC 3339 UTC strings
 * (fractions down to nanoseconds tolerated). 1m..30m, d1 and w1 are native;
 * 1h and 4h are aggregated here from 30-minute bars with the calendar
 * (bk_prov_aggregate): Alpaca's hours start on the clock and include
 * extended hours, barkeep's bars cover the regular session only. Daily bars
 * (stamped 00:00 New York) and weekly bars are relabelled from the New York
 * date of the stamp, as in prov_massive.c.
 *
 * Pagination: next_page_token is the page token; the next request repeats
 * the query with page_token added (never on the first request). An
 * aggregated timeframe ends its pages on a whole bar instead: the last bar,
 * unless the page reaches the end of its span, is dropped as possibly
 * partial, and the token becomes "resume:<µs>", a fresh request from the
 * first bar not kept. Both the single-symbol shape
 * ({"bars":[...]}) and the multi-symbol one ({"bars":{"SYM":[...]}}) are
 * read; "no data" may be an absent, null, empty-array or empty-object bars.
 *
 * Read next: prov.h (the contract), adapt.h (page finishing and resume
 * tokens, shared with prov_massive.c), providers.md §5 (the API and its
 * quirks), prov_massive.c, docs/providers.md.
 */
#include "prov/adapt.h"
#include "prov/http.h"
#include "prov/prov.h"

#include "core/clock.h"
#include "core/util.h"
#include "json/jr.h"
#include "model/time.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WHO              "alpaca"
#define DEFAULT_BASE_URL "https://data.alpaca.markets"
#define PAGE_LIMIT       10000 /* bars per page (the maximum) */
/* Stamps accepted: 1970-01-01 .. 2200-01-01. */
#define T_MAX_US (INT64_C(7258118400) * BK_US_PER_S)
/* Alpaca's historical bars start in 2016. */
#define HISTORY_START_US (INT64_C(1451624400) * BK_US_PER_S) /* 2016-01-01 00:00 New York */

typedef struct alpaca {
    bk_http *http;
    char *base_url; /* without a trailing '/' */
    char *key_hdr;  /* "APCA-API-KEY-ID: ..." */
    char *secret_hdr;
    const char *adjustment; /* Alpaca's word: raw | split | all */
    char feed[8];
    int64_t timeout_ms;
} alpaca;

/* ---- timeframes ---- */

static bk_tf source_tf(bk_tf tf)
{
    return (tf == BK_TF_1H || tf == BK_TF_4H) ? BK_TF_30M : tf;
}

static bool aggregated(bk_tf tf)
{
    return source_tf(tf) != tf;
}

static const char *timeframe_name(bk_tf src)
{
    static const char *const names[BK_TF__N] = {"1Min",  "5Min",  "15Min", "30Min",
                                                "1Hour", "4Hour", "1Day",  "1Week"};
    return names[src];
}

/* ---- the parser ---- */

/* RFC 3339 text to µs: a fraction longer than microseconds is cut. */
static int parse_stamp(const char *s, size_t len, int64_t *out)
{
    char tmp[48];
    if (len != strlen(s) || len >= sizeof tmp || len < 10 || s[0] < '0' || s[0] > '9')
        return -1;
    size_t j = 0;
    int frac = -1; /* digits of the fraction so far; -1 outside it */
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            frac = 0;
        } else if (frac >= 0 && c >= '0' && c <= '9') {
            if (++frac > 6)
                continue;
        } else {
            frac = -1;
        }
        tmp[j++] = c;
    }
    tmp[j] = '\0';
    int64_t t;
    if (bk_time_parse(tmp, &t) != 0 || t < 0 || t >= T_MAX_US)
        return -1;
    *out = t;
    return 0;
}

typedef struct where {
    const char *sym; /* NULL for the single-symbol shape */
    size_t i;
} where;

static int bad(bk_err *err, where w, const char *key, const char *what)
{
    if (w.sym)
        return bk_err_set(err, BK_EPROV_MALFORMED, WHO ": bars.%.32s[%zu]%s%s %s", w.sym, w.i,
                          key[0] ? "." : "", key, what);
    return bk_err_set(err, BK_EPROV_MALFORMED, WHO ": bars[%zu]%s%s %s", w.i, key[0] ? "." : "",
                      key, what);
}

static int field_num(const bk_jval *bar, const char *key, where w, double *out, bk_err *err)
{
    const bk_jval *v = bk_jv_get(bar, key);
    if (!v)
        return bad(err, w, key, "is missing");
    if (bk_jv_num(v, out) != 0) {
        char what[48];
        snprintf(what, sizeof what, "is %s, not a number", bk_jtype_name(bk_jv_type(v)));
        return bad(err, w, key, what);
    }
    return 0;
}

static int read_bar(const bk_jval *item, where w, bk_tf src, bk_bar *b, bk_err *err)
{
    if (bk_jv_type(item) != BK_JT_OBJECT)
        return bad(err, w, "", "is not an object");
    const bk_jval *tv = bk_jv_get(item, "t");
    const char *ts;
    size_t len;
    int64_t t;
    if (!tv)
        return bad(err, w, "t", "is missing");
    if (bk_jv_str(tv, &ts, &len) != 0 || parse_stamp(ts, len, &t) != 0)
        return bad(err, w, "t", "is not an RFC 3339 time");
    int rc = field_num(item, "o", w, &b->open, err);
    if (rc == 0)
        rc = field_num(item, "h", w, &b->high, err);
    if (rc == 0)
        rc = field_num(item, "l", w, &b->low, err);
    if (rc == 0)
        rc = field_num(item, "c", w, &b->close, err);
    if (rc == 0)
        rc = field_num(item, "v", w, &b->volume, err);
    if (rc == 0)
        b->ts_us = bk_adapt_stamp_label(src, t); /* as Massive's stamps */
    return rc;
}

static int read_token(const bk_jval *root, char *out, bk_err *err)
{
    const bk_jval *v = bk_jv_get(root, "next_page_token");
    const char *s;
    size_t len;
    out[0] = '\0';
    if (!v || bk_jv_type(v) == BK_JT_NULL)
        return 0;
    if (bk_jv_str(v, &s, &len) != 0)
        return bk_err_set(err, BK_EPROV_MALFORMED, WHO ": next_page_token is %s, not a string",
                          bk_jtype_name(bk_jv_type(v)));
    if (len >= BK_PAGE_TOKEN_MAX)
        return bk_err_set(err, BK_EPROV_MALFORMED,
                          WHO ": next_page_token of %zu bytes is longer than a page token (%d)",
                          len, BK_PAGE_TOKEN_MAX - 1);
    if (len != strlen(s) || bk_adapt_is_resume(s))
        return bk_err_set(err, BK_EPROV_MALFORMED, WHO ": next_page_token is not a token");
    memcpy(out, s, len + 1);
    return 0;
}

/* The bars array of the response: single-symbol (an array) or
 * multi-symbol (an object keyed by symbol). *arr NULL means no bars. */
static int find_bars(const bk_jval *root, const bk_fetch_req *req, const bk_jval **arr, where *w,
                     bk_err *err)
{
    const bk_jval *bars = bk_jv_get(root, "bars");
    *arr = NULL;
    w->sym = NULL;
    switch (bk_jv_type(bars)) {
    case BK_JT_NULL:
        return 0;
    case BK_JT_ARRAY:
        *arr = bars;
        return 0;
    case BK_JT_OBJECT:
        w->sym = req->symbol ? req->symbol : "";
        *arr = bk_jv_get(bars, w->sym);
        if (*arr && bk_jv_type(*arr) != BK_JT_ARRAY && bk_jv_type(*arr) != BK_JT_NULL)
            return bk_err_set(err, BK_EPROV_MALFORMED, WHO ": bars.%.32s is %s, not an array",
                              w->sym, bk_jtype_name(bk_jv_type(*arr)));
        return 0;
    default:
        return bk_err_set(err, BK_EPROV_MALFORMED, WHO ": bars is %s, not an array",
                          bk_jtype_name(bk_jv_type(bars)));
    }
}

/* The document's bars and next_page_token (a bk_adapt_read_fn). */
static int read_doc(const bk_jval *root, const bk_fetch_req *req, bk_page *out, char *cont,
                    bk_err *err)
{
    if (bk_jv_type(root) != BK_JT_OBJECT)
        return bk_err_set(err, BK_EPROV_MALFORMED, WHO ": the body is %s, not an object",
                          bk_jtype_name(bk_jv_type(root)));
    const bk_jval *arr = NULL;
    where w;
    int rc = read_token(root, cont, err);
    if (rc == 0)
        rc = find_bars(root, req, &arr, &w, err);
    bk_tf src = source_tf(req->tf);
    size_t n = bk_jv_len(arr);
    int64_t prev = INT64_MIN;
    for (w.i = 0; rc == 0 && w.i < n; w.i++) {
        bk_bar b;
        rc = read_bar(bk_jv_at(arr, w.i), w, src, &b, err);
        if (rc == 0 && b.ts_us <= prev)
            rc = bad(err, w, "t", "repeats or goes back in time");
        if (rc == 0) {
            prev = b.ts_us;
            bk_page_push(out, &b);
        }
    }
    return rc;
}

int bk_alpaca_parse(const char *body, size_t len, const bk_fetch_req *req, bk_anchor anchor,
                    bk_page *out, bk_err *err)
{
    bk_adapt_body b = {.data = body, .len = len, .req = req};
    bk_adapt_cursor c = {.who = WHO, .anchor = anchor, .src = source_tf(req->tf)};
    return bk_adapt_parse_cursor(&b, &c, read_doc, out, err);
}

/* ---- requests ---- */

/* Whole seconds, RFC 3339, percent-encoded. */
static void append_time(bk_buf *b, int64_t t_us)
{
    char s[BK_TIME_STR_MAX];
    int64_t sec = t_us / BK_US_PER_S - (t_us % BK_US_PER_S < 0);
    bk_url_escape(b, bk_time_format(sec * BK_US_PER_S, s));
}

static int request_url(const alpaca *a, const bk_fetch_req *req, bk_buf *url, bk_err *err)
{
    const char *token = req->page_token && req->page_token[0] ? req->page_token : NULL;
    int64_t start;
    int rc = bk_adapt_request_start(&start, req, WHO, err);
    if (rc)
        return rc;
    if (bk_adapt_is_resume(token))
        token = NULL;
    bk_tf src = source_tf(req->tf);
    /* end is inclusive: every source bar starting before the last requested
     * bar ends (aggregation needs all of it); daily and weekly stamps are
     * met with a margin (a weekly bar may be stamped on the Sunday before
     * its week or after a Monday holiday) and filtered by label. */
    int64_t end = req->to_us - 1 + (aggregated(req->tf) ? bk_tf_step_us(req->tf) - 1 : 0);
    if (src == BK_TF_D1) {
        start -= 12 * BK_US_PER_HOUR;
        end += 12 * BK_US_PER_HOUR;
    } else if (src == BK_TF_W1) {
        start -= BK_US_PER_DAY;
        end += 7 * BK_US_PER_DAY;
    }
    bk_buf_printf(url, "%s/v2/stocks/", a->base_url);
    bk_url_escape(url, req->symbol);
    bk_buf_printf(url, "/bars?timeframe=%s&start=", timeframe_name(src));
    append_time(url, start);
    bk_buf_puts(url, "&end=");
    append_time(url, end);
    bk_buf_printf(url, "&limit=%d&adjustment=%s&feed=%s&sort=asc", PAGE_LIMIT, a->adjustment,
                  a->feed);
    if (token) {
        bk_buf_puts(url, "&page_token=");
        bk_url_escape(url, token);
    }
    return 0;
}

/* Alpaca's words before the common status mapping (a bk_adapt_check_fn). */
static int check_status(const bk_prov *p, const bk_fetch_req *req, const bk_http_resp *r,
                        bk_err *err)
{
    const alpaca *a = p->impl;
    (void)req;
    const char *body = r->body ? r->body : "";
    if (r->status == 403 && strstr(body, "subscription does not permit"))
        return bk_err_set(err, BK_EPROV_AUTH,
                          WHO ": the subscription does not permit recent %s data (HTTP 403); "
                              "use the IEX feed (feed=iex), or only ask for bars older than 15 "
                              "minutes",
                          a->feed);
    if ((r->status == 400 || r->status == 422) && strstr(body, "invalid symbol"))
        return bk_err_set(err, BK_EPROV_SYMBOL, WHO ": HTTP %ld: %.120s", r->status, body);
    return bk_http_classify(r, WHO, err);
}

static int alpaca_fetch(bk_prov *p, const bk_fetch_req *req, bk_page *out, bk_err *err)
{
    alpaca *a = p->impl;
    bk_buf url;
    bk_buf_init(&url);
    int rc = request_url(a, req, &url, err);
    if (rc == 0) {
        bk_adapt_call c = {
            .who = WHO,
            .http = a->http,
            .hr = {.url = url.data,
                   .headers = {a->key_hdr, a->secret_hdr, "Accept: application/json"},
                   .timeout_ms = a->timeout_ms},
            .check = check_status,
            .parse = bk_alpaca_parse};
        rc = bk_adapt_fetch(&c, p, req, out, err);
    }
    if (rc)
        bk_page_reset(out);
    bk_buf_fini(&url);
    return rc;
}

static void alpaca_free(bk_prov *p)
{
    alpaca *a = p->impl;
    if (a) {
        bk_http_free(a->http);
        free(a->base_url);
        bk_free_secret(a->key_hdr);
        bk_free_secret(a->secret_hdr);
        free(a);
    }
    free(p);
}

static const bk_prov_ops alpaca_ops = {.fetch = alpaca_fetch, .free = alpaca_free};

/* ---- construction ---- */

/* barkeep's adjustment word to Alpaca's, NULL if not served. */
static const char *alpaca_adjustment(const char *adj)
{
    if (strcmp(adj, "raw") == 0)
        return "raw";
    if (strcmp(adj, "split") == 0)
        return "split";
    if (strcmp(adj, "split+div") == 0)
        return "all";
    return NULL;
}

static int check_cfg(const bk_prov_cfg *cfg, bk_err *err)
{
    if (!cfg || !cfg->key || !cfg->key[0] || !cfg->secret || !cfg->secret[0])
        return bk_err_set(err, BK_EINVAL,
                          WHO ": no API key (set ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY)");
    if (strpbrk(cfg->key, "\r\n") || strpbrk(cfg->secret, "\r\n"))
        return bk_err_set(err, BK_EINVAL, WHO ": the API key holds a line break");
    const char *adj = cfg->adjustment && cfg->adjustment[0] ? cfg->adjustment : "raw";
    if (!alpaca_adjustment(adj))
        return bk_err_set(err, BK_EINVAL,
                          WHO ": adjustment \"%s\" is not served (\"raw\", \"split\" or "
                              "\"split+div\")",
                          adj);
    const char *feed = cfg->feed && cfg->feed[0] ? cfg->feed : "iex";
    if (strcmp(feed, "iex") != 0 && strcmp(feed, "sip") != 0)
        return bk_err_set(err, BK_EINVAL, WHO ": feed \"%s\" is not served (\"iex\" or \"sip\")",
                          feed);
    return bk_adapt_check_transport(WHO, cfg, DEFAULT_BASE_URL, err);
}

/* Defaults of the free plan: 200 requests a minute (the budget: 2.96/s with
 * a burst of 5, below it by bk_prov_budget_below's margin). A page holds
 * 10,000 bars; with extended hours (04:00-20:00) that is ~10 trading days of
 * minutes, ~52 of 5-minute bars, ~156 of 15-minute bars and ~312 of
 * 30-minute bars (which 1h and 4h are built from). History from 2016. */
static void set_limits(bk_prov_limits *l)
{
    static const int64_t span_days[BK_TF__N] = {14, 70, 210, 420, 420, 420, 0, 0};
    memset(l, 0, sizeof *l);
    bk_prov_budget_below(l, 200, 60, 5);
    int64_t history = bk_clock_now_us() - HISTORY_START_US;
    for (int tf = 0; tf < BK_TF__N; tf++) {
        l->max_span_us[tf] = span_days[tf] * BK_US_PER_DAY;
        l->history_us[tf] = history > 0 ? history : 0;
    }
}

int bk_alpaca_new(bk_prov **out, const bk_prov_cfg *cfg, bk_err *err)
{
    *out = NULL;
    int rc = check_cfg(cfg, err);
    if (rc)
        return rc;
    bk_http *http = NULL;
    rc = bk_http_new(&http, NULL, err);
    if (rc)
        return rc;
    const char *adj = cfg->adjustment && cfg->adjustment[0] ? cfg->adjustment : "raw";
    alpaca *a = bk_xcalloc(1, sizeof *a);
    a->http = http;
    a->key_hdr = bk_adapt_header("APCA-API-KEY-ID", NULL, cfg->key);
    a->secret_hdr = bk_adapt_header("APCA-API-SECRET-KEY", NULL, cfg->secret);
    a->adjustment = alpaca_adjustment(adj);
    bk_strlcpy(a->feed, cfg->feed && cfg->feed[0] ? cfg->feed : "iex", sizeof a->feed);
    a->base_url = bk_adapt_base_url(cfg->base_url, DEFAULT_BASE_URL);
    a->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
    bk_prov *p = bk_xcalloc(1, sizeof *p);
    p->ops = &alpaca_ops;
    p->impl = a;
    bk_strlcpy(p->name, "alpaca", sizeof p->name);
    bk_strlcpy(p->feed, a->feed, sizeof p->feed);
    bk_strlcpy(p->adjustment, adj, sizeof p->adjustment);
    p->anchor = cfg->anchor;
    /* IEX bars are real time; the free plan serves SIP 15 minutes late. */
    p->delay_us = strcmp(a->feed, "sip") == 0 ? 16 * BK_US_PER_MIN : BK_US_PER_MIN;
    p->settle_us = BK_PROV_SETTLE_US;
    set_limits(&p->limits);
    *out = p;
    return 0;
}
