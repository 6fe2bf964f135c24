/*
 * prov_finnhub.c — the `finnhub` provider: Finnhub stock candles,
 * GET /stock/candle?symbol&resolution&from&to (Unix seconds), key in the
 * X-Finnhub-Token header (never in the URL). A paid-plan endpoint.
 *
 * The answer is parallel arrays t,o,h,l,c,v with s "ok", or {"s":"no_data"}
 * for an empty window (a success with no bars). No pagination: Finnhub
 * returns at most one month of intraday bars per call, silently cutting the
 * rest, so max_span_us keeps intraday slices at 28 days.
 *
 * Adjustment: Finnhub's daily and weekly candles are split-adjusted, its
 * intraday candles are not. One provider instance serves one adjustment, so
 * "raw" (the default) serves 1m..4h and refuses d1/w1, and "split" serves
 * d1/w1 and refuses intraday, both with BK_EPROV_RANGE so that a chain falls
 * back. Intraday bars from Finnhub may include extended hours: bars that do
 * not touch the regular session are dropped here.
 *
 * 1h and 4h are aggregated from 30-minute candles, which fit both grids.
 * Finnhub's 60-minute candles start on the clock (09:00, 10:00, ...), but
 * its intraday candles include extended hours, so its 09:00 candle would
 * hold 09:00-09:30 pre-market trades where barkeep's clock-anchored 09:00
 * bar covers 09:30-10:00 only; from 30-minute candles it does. Daily candles'
 * stamp is not documented: the trading date is read as the UTC date of the
 * stamp, which is right for 00:00 UTC, 00:00 New York, the 09:30 open and
 * the 16:00 close alike, and the window is padded by a day on each side.
 *
 * Read next: prov.h (the contract), adapt.h (page normalisation), http.h,
 * prov_yahoo.c (same structure).
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

#define FINNHUB_URL "https://finnhub.io/api/v1"
#define DAY_US      BK_US_PER_DAY
#define MAX_UNIX_S  INT64_C(7258118400) /* 2200-01-01 */

typedef struct finnhub {
    bk_http *http;
    char *base_url;
    char *auth; /* "X-Finnhub-Token: KEY" */
    int64_t timeout_ms;
    bool split; /* serves d1/w1 (split-adjusted) instead of intraday (raw) */
} finnhub;

typedef struct tf_plan {
    const char *resolution;
    bk_tf native;
} tf_plan;

/* Both anchors map alike (see the file comment). */
static tf_plan plan_for(bk_tf tf)
{
    switch (tf) {
    case BK_TF_1M:
        return (tf_plan){"1", BK_TF_1M};
    case BK_TF_5M:
        return (tf_plan){"5", BK_TF_5M};
    case BK_TF_15M:
        return (tf_plan){"15", BK_TF_15M};
    case BK_TF_30M:
        return (tf_plan){"30", BK_TF_30M};
    case BK_TF_1H:
    case BK_TF_4H:
        return (tf_plan){"30", BK_TF_30M};
    case BK_TF_D1:
        return (tf_plan){"D", BK_TF_D1};
    case BK_TF_W1:
    default:
        return (tf_plan){"W", BK_TF_W1};
    }
}

/* ---- the parser ---- */

static const char *const keys[6] = {"t", "o", "h", "l", "c", "v"};

/* The six arrays, all present and of one length. */
static int arrays(const bk_jval *root, const bk_jval *arr[6], size_t *n, bk_err *err)
{
    for (int k = 0; k < 6; k++) {
        arr[k] = bk_jv_get(root, keys[k]);
        if (bk_jv_type(arr[k]) != BK_JT_ARRAY)
            return bk_err_set(err, BK_EPROV_MALFORMED, "finnhub: \"%s\" is %s, not an array",
                              keys[k], arr[k] ? bk_jtype_name(bk_jv_type(arr[k])) : "missing");
        if (bk_jv_len(arr[k]) != bk_jv_len(arr[0]))
            return bk_err_set(err, BK_EPROV_MALFORMED,
                              "finnhub: \"%s\" has %zu entries, \"t\" has %zu", keys[k],
                              bk_jv_len(arr[k]), bk_jv_len(arr[0]));
    }
    *n = bk_jv_len(arr[0]);
    return 0;
}

/* Daily and weekly candles: the UTC date of the stamp names the bar (a
 * Sunday stamp the week that starts the next day). */
static int64_t label_of(bk_tf native, int64_t t_s)
{
    if (native == BK_TF_D1 || native == BK_TF_W1)
        return bk_adapt_date_label(native, (int32_t)(t_s / 86400), false);
    return t_s * BK_US_PER_S;
}

static int read_bar(const bk_jval *arr[6], size_t i, bk_tf native, bk_bar *b, bk_err *err)
{
    double x[6];
    for (int k = 0; k < 6; k++) {
        const bk_jval *v = bk_jv_at(arr[k], i);
        if (bk_jv_num(v, &x[k]) != 0)
            return bk_err_set(err, BK_EPROV_MALFORMED, "finnhub: %s[%zu] is %s, not a number",
                              keys[k], i, bk_jtype_name(bk_jv_type(v)));
    }
    /* seconds, possibly serialised as a float: must be a whole number */
    if (!(x[0] >= 0 && x[0] <= (double)MAX_UNIX_S) || x[0] != (double)(int64_t)x[0])
        return bk_err_set(err, BK_EPROV_MALFORMED, "finnhub: t[%zu] is not a Unix time in seconds",
                          i);
    *b = (bk_bar){label_of(native, (int64_t)x[0]), x[1], x[2], x[3], x[4], x[5]};
    return 0;
}

static int parse_doc(const bk_jval *root, bk_tf native, bk_page *out, bk_err *err)
{
    if (bk_jv_type(root) != BK_JT_OBJECT)
        return bk_err_set(err, BK_EPROV_MALFORMED, "finnhub: response is not a JSON object");
    const char *s = NULL, *msg = NULL;
    if (bk_jv_str(bk_jv_get(root, "s"), &s, NULL) != 0) {
        if (bk_jv_str(bk_jv_get(root, "error"), &msg, NULL) == 0)
            return bk_err_set(err, BK_EPROV_MALFORMED, "finnhub: error: %.160s", msg);
        return bk_err_set(err, BK_EPROV_MALFORMED, "finnhub: no status \"s\" in the response");
    }
    if (strcmp(s, "no_data") == 0)
        return 0;
    if (strcmp(s, "ok") != 0)
        return bk_err_set(err, BK_EPROV_MALFORMED, "finnhub: status \"%.40s\"", s);
    const bk_jval *arr[6];
    size_t n = 0;
    int rc = arrays(root, arr, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bk_bar b;
        rc = read_bar(arr, i, native, &b, err);
        if (rc == 0)
            bk_page_push(out, &b);
    }
    return rc;
}

int bk_finnhub_parse(const char *body, size_t len, const bk_fetch_req *req, bk_anchor anchor,
                     bk_page *out, bk_err *err)
{
    bk_page_reset(out);
    if ((unsigned)req->tf >= BK_TF__N)
        return bk_err_set(err, BK_EINVAL, "finnhub: invalid timeframe");
    tf_plan pl = plan_for(req->tf);
    bk_jdoc *doc = NULL;
    bk_err jerr = {0};
    if (bk_jdoc_parse(&doc, body, len, &jerr) != 0)
        return bk_err_set(err, BK_EPROV_MALFORMED, "finnhub: response is not JSON (%s)", jerr.msg);
    int rc = parse_doc(bk_jdoc_root(doc), pl.native, out, err);
    bk_jdoc_free(doc);
    if (rc == 0)
        rc = bk_adapt_finish_window(out, req, anchor, pl.native, err);
    if (rc)
        bk_page_reset(out);
    return rc;
}

/* ---- fetch ---- */

static void build_url(const finnhub *f, const bk_fetch_req *req, bk_buf *url)
{
    tf_plan pl = plan_for(req->tf);
    int64_t from = req->from_us, to = req->to_us;
    if (pl.native == BK_TF_D1 || pl.native == BK_TF_W1) {
        int64_t pad = pl.native == BK_TF_W1 ? 7 * DAY_US : DAY_US;
        from -= pad;
        to += pad;
    } else if (pl.native != req->tf) {
        to += bk_tf_step_us(req->tf); /* the whole span of the last bar */
    }
    bk_buf_puts(url, f->base_url);
    bk_buf_puts(url, "/stock/candle?symbol=");
    bk_url_escape(url, req->symbol);
    bk_buf_printf(url, "&resolution=%s&from=%" PRId64 "&to=%" PRId64, pl.resolution,
                  BK_MAX(from, 0) / BK_US_PER_S, (BK_MAX(to, 1) + BK_US_PER_S - 1) / BK_US_PER_S);
}

/* The common status rules (a bk_adapt_check_fn; 2xx answers are parsed). */
static int check_status(const bk_prov *p, const bk_fetch_req *req, const bk_http_resp *r,
                        bk_err *err)
{
    (void)p;
    (void)req;
    return bk_http_classify(r, "finnhub", err);
}

static int finnhub_fetch(bk_prov *p, const bk_fetch_req *req, bk_page *out, bk_err *err)
{
    const finnhub *f = p->impl;
    if (p->limits.refused[req->tf])
        return bk_err_set(
            err, BK_EPROV_RANGE, "finnhub: %s candles are %s; this provider is configured \"%s\"",
            bk_tf_name(req->tf), f->split ? "unadjusted" : "split-adjusted", p->adjustment);
    bk_buf url;
    bk_buf_init(&url);
    build_url(f, req, &url);
    bk_adapt_call c = {.who = "finnhub",
                       .http = f->http,
                       .hr = {.url = url.data,
                              .headers = {f->auth, "Accept: application/json"},
                              .timeout_ms = f->timeout_ms},
                       .check = check_status,
                       .parse = bk_finnhub_parse};
    int rc = bk_adapt_fetch(&c, p, req, out, err);
    bk_buf_fini(&url);
    return rc;
}

static void finnhub_free(bk_prov *p)
{
    finnhub *f = p->impl;
    bk_http_free(f->http);
    free(f->base_url);
    bk_free_secret(f->auth);
    free(f);
    free(p);
}

static const bk_prov_ops finnhub_ops = {.fetch = finnhub_fetch, .free = finnhub_free};

/* The limits of an instance serving d1/w1 (split) or intraday (raw): the
 * other class is refused. */
static void set_limits(bk_prov_limits *l, bool split)
{
    memset(l, 0, sizeof *l);
    for (int tf = 0; tf < BK_TF__N; tf++)
        l->refused[tf] = bk_tf_intraday((bk_tf)tf) == split;
    /* 60 calls/minute (and 30/s on every plan), kept below by the margin */
    bk_prov_budget_below(l, 60, 60, 1);
    for (int tf = BK_TF_1M; tf <= BK_TF_4H; tf++)
        l->max_span_us[tf] = 28 * DAY_US; /* "1 month of intraday per call" */
    l->max_span_us[BK_TF_D1] = 5 * 365 * DAY_US;
    l->max_span_us[BK_TF_W1] = 20 * 365 * DAY_US;
}

static int check_cfg(const bk_prov_cfg *cfg, bool *split, bk_err *err)
{
    int rc = bk_adapt_check_key("finnhub", cfg ? cfg->key : NULL, "FINNHUB_API_KEY", err);
    if (rc)
        return rc;
    const char *adj = cfg->adjustment ? cfg->adjustment : "raw";
    if (strcmp(adj, "raw") != 0 && strcmp(adj, "split") != 0)
        return bk_err_set(err, BK_EINVAL,
                          "finnhub: adjustment \"%s\" not served (\"raw\": intraday candles; "
                          "\"split\": daily and weekly candles)",
                          adj);
    *split = strcmp(adj, "split") == 0;
    if (cfg->feed && strcmp(cfg->feed, "consolidated") != 0)
        return bk_err_set(err, BK_EINVAL, "finnhub: feed \"%s\" not served (only \"consolidated\")",
                          cfg->feed);
    if (cfg->anchor != BK_ANCHOR_SESSION && cfg->anchor != BK_ANCHOR_CLOCK)
        return bk_err_set(err, BK_EINVAL, "finnhub: invalid anchor");
    return 0;
}

int bk_finnhub_new(bk_prov **out, const bk_prov_cfg *cfg, bk_err *err)
{
    bool split = false;
    int rc = check_cfg(cfg, &split, err);
    if (rc)
        return rc;
    bk_http *h = NULL;
    rc = bk_http_new(&h, NULL, err);
    if (rc)
        return rc;
    finnhub *f = bk_xcalloc(1, sizeof *f);
    f->http = h;
    f->split = split;
    f->base_url = bk_adapt_base_url(cfg->base_url, FINNHUB_URL);
    f->auth = bk_adapt_header("X-Finnhub-Token", NULL, cfg->key);
    f->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
    bk_prov *p = bk_xcalloc(1, sizeof *p);
    p->ops = &finnhub_ops;
    bk_strlcpy(p->name, "finnhub", sizeof p->name);
    bk_strlcpy(p->feed, "consolidated", sizeof p->feed);
    bk_strlcpy(p->adjustment, split ? "split" : "raw", sizeof p->adjustment);
    p->anchor = cfg->anchor;
    p->delay_us = 60 * BK_US_PER_S;
    p->settle_us = BK_PROV_SETTLE_US;
    set_limits(&p->limits, split);
    p->impl = f;
    *out = p;
    return 0;
}
