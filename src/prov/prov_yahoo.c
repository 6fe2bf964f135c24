/*
 * prov_yahoo.c — the `yahoo` provider: Yahoo Finance's chart API,
 * GET /v8/finance/chart/{symbol}?interval&period1&period2&includePrePost=false.
 *
 * Unofficial and keyless: the only credential is a browser-like User-Agent.
 * One request answers one window (no pagination), so the planner slices by
 * limits.max_span_us; Yahoo refuses windows outside its retention (1m: last
 * ~30 days and 7 days per call; 2m..90m: 60 days; 60m: 730 days) with a
 * chart.error body, which becomes BK_EPROV_RANGE.
 *
 * The response is parallel arrays: timestamp[] (Unix seconds, bar start) and
 * indicators.quote[0].{open,high,low,close,volume}[], any entry of which may
 * be null (a minute without trades, a halt): a bar with a null price is
 * skipped, a null volume counts as 0. A window without bars has no
 * `timestamp` key and `quote: [{}]`. Daily bars are stamped at the session
 * open (09:30 New York): they are relabelled to 00:00 New York of their
 * trading date; weekly bars to the Monday of their week.
 *
 * Yahoo's 60m bars start at the session open (09:30, 10:30, ...): 1h is
 * native for a session-anchored barkeep, and 4h is aggregated from them.
 * For a clock-anchored barkeep both 1h and 4h are aggregated from 30m bars
 * (which fit both grids), so their retention is 30m's 60 days.
 *
 * Read next: prov.h (the contract), adapt.h (page normalisation, shared
 * with prov_finnhub.c and prov_tradier.c), http.h (transport and
 * classification).
 */
#include "prov/prov.h"
#include "core/clock.h"
#include "core/util.h"
#include "json/jr.h"
#include "model/time.h"
#include "prov/adapt.h"
#include "prov/http.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define YAHOO_URL "https://query2.finance.yahoo.com"
/* Yahoo throttles clients that do not look like a browser. */
#define YAHOO_UA "Mozilla/5.0 (compatible; barkeep/0.1)"
#define DAY_US   BK_US_PER_DAY
/* Unix seconds accepted in a payload: 1970 .. 2200. */
#define MAX_UNIX_S INT64_C(7258118400)

typedef struct yahoo {
    bk_http *http;
    char *base_url;
    int64_t timeout_ms;
} yahoo;

/* How a barkeep timeframe is asked of Yahoo: the interval sent and the
 * timeframe of the bars it returns (aggregated when it differs). */
typedef struct tf_plan {
    const char *interval;
    bk_tf native;
} tf_plan;

static tf_plan plan_for(bk_tf tf, bk_anchor anchor)
{
    bool session = anchor == BK_ANCHOR_SESSION;
    switch (tf) {
    case BK_TF_1M:
        return (tf_plan){"1m", BK_TF_1M};
    case BK_TF_5M:
        return (tf_plan){"5m", BK_TF_5M};
    case BK_TF_15M:
        return (tf_plan){"15m", BK_TF_15M};
    case BK_TF_30M:
        return (tf_plan){"30m", BK_TF_30M};
    case BK_TF_1H:
    case BK_TF_4H:
        return session ? (tf_plan){"60m", BK_TF_1H} : (tf_plan){"30m", BK_TF_30M};
    case BK_TF_D1:
        return (tf_plan){"1d", BK_TF_D1};
    case BK_TF_W1:
    default:
        return (tf_plan){"1wk", BK_TF_W1};
    }
}

/* ---- the parser ---- */

/* A JSON number (1, *x set), null (0) or anything else (-1). */
static int num_or_null(const bk_jval *v, double *x)
{
    if (v && bk_jv_type(v) == BK_JT_NULL)
        return 0;
    return bk_jv_num(v, x) == 0 ? 1 : -1;
}

static const char *const quote_keys[5] = {"open", "high", "low", "close", "volume"};

/* chart.error as "CODE: DESCRIPTION" in buf; false when there is none. */
static bool chart_error(const bk_jval *chart, char *buf, size_t cap)
{
    const bk_jval *e = bk_jv_get(chart, "error");
    if (bk_jv_type(e) != BK_JT_OBJECT)
        return false;
    const char *code = "", *desc = "";
    bk_jv_str(bk_jv_get(e, "code"), &code, NULL);
    bk_jv_str(bk_jv_get(e, "description"), &desc, NULL);
    snprintf(buf, cap, "%s%s%s", code, code[0] && desc[0] ? ": " : "", desc);
    return true;
}

static bool is_not_found(const char *what)
{
    return strncasecmp(what, "Not Found", 9) == 0;
}

/* The quote arrays of one result, each checked against n timestamps. */
static int quote_arrays(const bk_jval *result, size_t n, const bk_jval *arr[5], bk_err *err)
{
    const bk_jval *q = bk_jv_at(bk_jv_get(bk_jv_get(result, "indicators"), "quote"), 0);
    if (bk_jv_type(q) != BK_JT_OBJECT)
        return bk_err_set(err, BK_EPROV_MALFORMED,
                          "yahoo: timestamp[] present but no indicators.quote[0] object");
    for (int k = 0; k < 5; k++) {
        arr[k] = bk_jv_get(q, quote_keys[k]);
        if (bk_jv_type(arr[k]) != BK_JT_ARRAY)
            return bk_err_set(err, BK_EPROV_MALFORMED,
                              "yahoo: indicators.quote[0].%s is %s, not an array", quote_keys[k],
                              arr[k] ? bk_jtype_name(bk_jv_type(arr[k])) : "missing");
        if (bk_jv_len(arr[k]) != n)
            return bk_err_set(err, BK_EPROV_MALFORMED,
                              "yahoo: indicators.quote[0].%s has %zu entries for %zu timestamps",
                              quote_keys[k], bk_jv_len(arr[k]), n);
    }
    return 0;
}

/* Daily and weekly stamps are the session open: their New York date names
 * the bar (a Sunday stamp the week that starts the next day). */
static int64_t label_of(bk_tf native, int64_t t_s)
{
    int64_t us = t_s * BK_US_PER_S;
    if (native == BK_TF_D1 || native == BK_TF_W1)
        return bk_adapt_date_label(native, bk_cal_ny_day(us), false);
    return us;
}

/* Push bar i unless a price is null; BK_EPROV_MALFORMED on a non-number. */
static int push_bar(bk_page *out, const bk_jval *ts, const bk_jval *arr[5], size_t i, bk_tf native,
                    bk_err *err)
{
    int64_t t;
    double x[5];
    if (bk_jv_int(bk_jv_at(ts, i), &t) != 0 || t < 0 || t > MAX_UNIX_S)
        return bk_err_set(err, BK_EPROV_MALFORMED,
                          "yahoo: timestamp[%zu] is not a Unix time in seconds", i);
    bool skip = false;
    for (int k = 0; k < 5; k++) {
        int r = num_or_null(bk_jv_at(arr[k], i), &x[k]);
        if (r < 0)
            return bk_err_set(err, BK_EPROV_MALFORMED,
                              "yahoo: indicators.quote[0].%s[%zu] is %s, not a number",
                              quote_keys[k], i, bk_jtype_name(bk_jv_type(bk_jv_at(arr[k], i))));
        if (r == 0 && k < 4)
            skip = true;
        if (r == 0 && k == 4)
            x[4] = 0;
    }
    if (skip)
        return 0;
    bk_bar b = {label_of(native, t), x[0], x[1], x[2], x[3], x[4]};
    bk_page_push(out, &b);
    return 0;
}

static int parse_doc(const bk_jval *root, const bk_fetch_req *req, bk_tf native, bk_page *out,
                     bk_err *err)
{
    const bk_jval *chart = bk_jv_get(root, "chart");
    if (bk_jv_type(chart) != BK_JT_OBJECT)
        return bk_err_set(err, BK_EPROV_MALFORMED, "yahoo: no \"chart\" object in the response");
    char what[200];
    if (chart_error(chart, what, sizeof what))
        return bk_err_set(err, is_not_found(what) ? BK_EPROV_SYMBOL : BK_EPROV_MALFORMED,
                          "yahoo: %s: %s", req->symbol ? req->symbol : "?", what);
    const bk_jval *results = bk_jv_get(chart, "result");
    if (bk_jv_type(results) != BK_JT_ARRAY)
        return bk_err_set(err, BK_EPROV_MALFORMED, "yahoo: chart.result is %s, not an array",
                          results ? bk_jtype_name(bk_jv_type(results)) : "missing");
    const bk_jval *r = bk_jv_at(results, 0);
    if (!r)
        return 0; /* no result: nothing in the window */
    if (bk_jv_type(r) != BK_JT_OBJECT)
        return bk_err_set(err, BK_EPROV_MALFORMED, "yahoo: chart.result[0] is not an object");
    const bk_jval *ts = bk_jv_get(r, "timestamp");
    if (!ts || bk_jv_type(ts) == BK_JT_NULL)
        return 0; /* the documented empty shape: no timestamp, quote: [{}] */
    if (bk_jv_type(ts) != BK_JT_ARRAY)
        return bk_err_set(err, BK_EPROV_MALFORMED, "yahoo: timestamp is not an array");
    size_t n = bk_jv_len(ts);
    if (n == 0)
        return 0;
    const bk_jval *arr[5];
    int rc = quote_arrays(r, n, arr, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = push_bar(out, ts, arr, i, native, err);
    return rc;
}

int bk_yahoo_parse(const char *body, size_t len, const bk_fetch_req *req, bk_anchor anchor,
                   bk_page *out, bk_err *err)
{
    bk_page_reset(out);
    if ((unsigned)req->tf >= BK_TF__N)
        return bk_err_set(err, BK_EINVAL, "yahoo: invalid timeframe");
    tf_plan pl = plan_for(req->tf, anchor);
    bk_jdoc *doc = NULL;
    bk_err jerr = {0};
    if (bk_jdoc_parse(&doc, body, len, &jerr) != 0)
        return bk_err_set(err, BK_EPROV_MALFORMED, "yahoo: response is not JSON (%s)", jerr.msg);
    int rc = parse_doc(bk_jdoc_root(doc), req, pl.native, out, err);
    bk_jdoc_free(doc);
    if (rc == 0)
        rc = bk_adapt_finish_window(out, req, anchor, pl.native, err);
    if (rc)
        bk_page_reset(out);
    return rc;
}

/* ---- fetch ---- */

/* Case-insensitive strstr for ASCII text. */
static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return false;
}

/* A refusal of the window (retention, span per call), in Yahoo's words. */
static bool is_range_refusal(const char *what)
{
    static const char *const marks[] = {"not available", "within the last", "range", "days worth"};
    for (size_t i = 0; i < BK_ARRAY_LEN(marks); i++)
        if (contains_ci(what, marks[i]))
            return true;
    return false;
}

/* Map a non-2xx answer: Yahoo's chart.error first, then the common rules
 * (a bk_adapt_check_fn; 2xx answers go to the parser). */
static int check_status(const bk_prov *p, const bk_fetch_req *req, const bk_http_resp *r,
                        bk_err *err)
{
    (void)p;
    if (r->status >= 200 && r->status <= 299)
        return 0;
    const char *symbol = req->symbol;
    char what[200] = "";
    bool have = false;
    bk_jdoc *doc = NULL;
    if (r->status != 429 && bk_jdoc_parse(&doc, r->body, r->len, NULL) == 0) {
        have = chart_error(bk_jv_get(bk_jdoc_root(doc), "chart"), what, sizeof what);
        bk_jdoc_free(doc);
    }
    if (have && r->status == 404)
        return bk_err_set(err, BK_EPROV_SYMBOL, "yahoo: unknown symbol %s (%s)", symbol, what);
    if (have && (r->status == 400 || r->status == 422) && is_range_refusal(what))
        return bk_err_set(err, BK_EPROV_RANGE, "yahoo: window refused for %s: %s", symbol, what);
    return bk_http_classify(r, "yahoo", err);
}

/* Yahoo spells share classes with a hyphen: BRK.B is BRK-B there. */
static void yahoo_symbol(const char *sym, char *out, size_t cap)
{
    bk_strlcpy(out, sym, cap);
    size_t n = strlen(out);
    if (n >= 3 && out[n - 2] == '.' && out[n - 1] >= 'A' && out[n - 1] <= 'Z' &&
        strchr(out, '.') == out + n - 2)
        out[n - 2] = '-';
}

static int64_t ceil_s(int64_t us)
{
    return us / BK_US_PER_S + (us % BK_US_PER_S > 0);
}

static void build_url(const yahoo *y, const bk_fetch_req *req, bk_anchor anchor, bk_buf *url)
{
    tf_plan pl = plan_for(req->tf, anchor);
    int64_t from = req->from_us, to = req->to_us;
    if (pl.native == BK_TF_D1 || pl.native == BK_TF_W1) {
        /* stamps are not at the label (09:30 for days): pad, then filter */
        int64_t pad = pl.native == BK_TF_W1 ? 7 * DAY_US : DAY_US;
        from -= pad;
        to += pad;
    } else if (pl.native != req->tf) {
        to += bk_tf_step_us(req->tf); /* the whole span of the last bar */
    }
    char sym[64];
    yahoo_symbol(req->symbol, sym, sizeof sym);
    bk_buf_puts(url, y->base_url);
    bk_buf_puts(url, "/v8/finance/chart/");
    bk_url_escape(url, sym);
    bk_buf_printf(url, "?interval=%s&period1=%" PRId64 "&period2=%" PRId64 "&includePrePost=false",
                  pl.interval, BK_MAX(from, 0) / BK_US_PER_S, ceil_s(BK_MAX(to, 1)));
}

static int yahoo_fetch(bk_prov *p, const bk_fetch_req *req, bk_page *out, bk_err *err)
{
    const yahoo *y = p->impl;
    bk_buf url;
    bk_buf_init(&url);
    build_url(y, req, p->anchor, &url);
    bk_adapt_call c = {.who = "yahoo",
                       .http = y->http,
                       .hr = {.url = url.data,
                              .headers = {"Accept: application/json"},
                              .timeout_ms = y->timeout_ms},
                       .check = check_status,
                       .parse = bk_yahoo_parse};
    int rc = bk_adapt_fetch(&c, p, req, out, err);
    bk_buf_fini(&url);
    return rc;
}

static void yahoo_free(bk_prov *p)
{
    yahoo *y = p->impl;
    bk_http_free(y->http);
    free(y->base_url);
    free(y);
    free(p);
}

static const bk_prov_ops yahoo_ops = {.fetch = yahoo_fetch, .free = yahoo_free};

static void set_limits(bk_prov_limits *l, bk_anchor anchor)
{
    memset(l, 0, sizeof *l);
    l->rate_per_s = 0.5; /* unpublished; bursts draw 429s */
    l->burst = 2;
    l->max_span_us[BK_TF_1M] = 7 * DAY_US;
    l->history_us[BK_TF_1M] = 29 * DAY_US;
    for (int tf = BK_TF_5M; tf <= BK_TF_30M; tf++) {
        l->max_span_us[tf] = 59 * DAY_US;
        l->history_us[tf] = 59 * DAY_US;
    }
    /* 60m (session anchor) reaches back 730 days; 30m only 60 */
    int64_t hour_days = anchor == BK_ANCHOR_SESSION ? 729 : 59;
    for (int tf = BK_TF_1H; tf <= BK_TF_4H; tf++) {
        l->max_span_us[tf] = hour_days * DAY_US;
        l->history_us[tf] = hour_days * DAY_US;
    }
}

int bk_yahoo_new(bk_prov **out, const bk_prov_cfg *cfg, bk_err *err)
{
    static const bk_prov_cfg none = {0};
    if (!cfg)
        cfg = &none;
    const char *adj = cfg->adjustment ? cfg->adjustment : "split";
    if (strcmp(adj, "split") != 0)
        return bk_err_set(err, BK_EINVAL,
                          "yahoo: adjustment \"%s\" not served (chart bars are split-adjusted "
                          "only; use \"split\")",
                          adj);
    if (cfg->feed && strcmp(cfg->feed, "consolidated") != 0)
        return bk_err_set(err, BK_EINVAL, "yahoo: feed \"%s\" not served (only \"consolidated\")",
                          cfg->feed);
    if (cfg->anchor != BK_ANCHOR_SESSION && cfg->anchor != BK_ANCHOR_CLOCK)
        return bk_err_set(err, BK_EINVAL, "yahoo: invalid anchor");
    bk_http *h = NULL;
    int rc = bk_http_new(&h, YAHOO_UA, err);
    if (rc)
        return rc;
    yahoo *y = bk_xcalloc(1, sizeof *y);
    y->http = h;
    y->base_url = bk_adapt_base_url(cfg->base_url, YAHOO_URL);
    y->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
    bk_prov *p = bk_xcalloc(1, sizeof *p);
    p->ops = &yahoo_ops;
    bk_strlcpy(p->name, "yahoo", sizeof p->name);
    bk_strlcpy(p->feed, "consolidated", sizeof p->feed);
    bk_strlcpy(p->adjustment, "split", sizeof p->adjustment);
    p->anchor = cfg->anchor;
    p->delay_us = 60 * BK_US_PER_S;
    p->settle_us = BK_PROV_SETTLE_US;
    set_limits(&p->limits, cfg->anchor);
    p->impl = y;
    *out = p;
    return 0;
}
