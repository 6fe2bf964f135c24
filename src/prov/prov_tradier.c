/*
 * prov_tradier.c — the `tradier` provider: Tradier's brokerage market data,
 * GET /v1/markets/timesales (intraday: 1min, 5min, 15min; start/end in New
 * York local "YYYY-MM-DD HH:MM") and GET /v1/markets/history (daily,
 * weekly; start/end dates), both with session_filter=open (regular session)
 * and the headers `Authorization: Bearer <token>` and `Accept:
 * application/json` (without it Tradier answers XML).
 *
 * No pagination and no 30m/1h/4h interval: those are aggregated here from
 * 15min bars (their edges fit both anchors). Retention is the limit that
 * matters: with session_filter=open, 1min reaches back 20 days and 5min/15min
 * 40 days; an older start is refused with "start: must be on or after DATE",
 * which becomes BK_EPROV_RANGE.
 *
 * Quirks of the XML heritage: a single bar comes as an object instead of a
 * one-element list (`"data": {...}`, `"day": {...}`), and an empty window as
 * `{"series": null}` / `{"history": null}`. Intraday bars carry `timestamp`
 * (Unix seconds, bar start; preferred) and `time` (New York local, no
 * offset; used when timestamp is absent). Daily bars carry a `date`: the
 * label is 00:00 New York of it; weekly bars map to their week's Monday.
 * Auth faults are Apigee objects; any keymanagement.service.* error code is
 * a credential problem (even when sent with HTTP 500).
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

#define TRADIER_URL "https://api.tradier.com"
#define DAY_US      BK_US_PER_DAY
#define MAX_UNIX_S  INT64_C(7258118400) /* 2200-01-01 */

typedef struct tradier {
    bk_http *http;
    char *base_url; /* without the /v1 */
    char *auth;     /* "Authorization: Bearer TOKEN" */
    int64_t timeout_ms;
} tradier;

typedef struct tf_plan {
    const char *interval;
    bk_tf native;
    bool history; /* /markets/history (dates) rather than /markets/timesales */
} tf_plan;

static tf_plan plan_for(bk_tf tf)
{
    switch (tf) {
    case BK_TF_1M:
        return (tf_plan){"1min", BK_TF_1M, false};
    case BK_TF_5M:
        return (tf_plan){"5min", BK_TF_5M, false};
    case BK_TF_15M:
    case BK_TF_30M:
    case BK_TF_1H:
    case BK_TF_4H:
        return (tf_plan){"15min", BK_TF_15M, false};
    case BK_TF_D1:
        return (tf_plan){"daily", BK_TF_D1, true};
    case BK_TF_W1:
    default:
        return (tf_plan){"weekly", BK_TF_W1, true};
    }
}

/* ---- the parser ---- */

static const char *const price_keys[5] = {"open", "high", "low", "close", "volume"};

/* The label of one item: `date` for history, `timestamp` (else `time`)
 * for timesales. */
static int item_label(const bk_jval *it, const char *list, size_t i, bk_tf native, int64_t *out,
                      bk_err *err)
{
    const char *s;
    size_t len;
    if (native == BK_TF_D1 || native == BK_TF_W1) {
        int32_t day;
        if (bk_jv_str(bk_jv_get(it, "date"), &s, &len) != 0 || len != strlen(s) ||
            bk_date_parse(s, &day) != 0)
            return bk_err_set(err, BK_EPROV_MALFORMED,
                              "tradier: %s[%zu].date is not a YYYY-MM-DD date", list, i);
        *out = bk_adapt_date_label(native, day, false); /* Sunday: the next week */
        return 0;
    }
    const bk_jval *tsv = bk_jv_get(it, "timestamp");
    double t;
    if (tsv) {
        if (bk_jv_num(tsv, &t) != 0 || !(t >= 0 && t <= (double)MAX_UNIX_S) ||
            t != (double)(int64_t)t)
            return bk_err_set(err, BK_EPROV_MALFORMED,
                              "tradier: %s[%zu].timestamp is not a Unix time in seconds", list, i);
        *out = (int64_t)t * BK_US_PER_S;
        return 0;
    }
    if (bk_jv_str(bk_jv_get(it, "time"), &s, &len) != 0 || len != strlen(s) ||
        bk_prov_parse_ny_local(s, out) != 0)
        return bk_err_set(err, BK_EPROV_MALFORMED,
                          "tradier: %s[%zu] has neither a timestamp nor a New York time", list, i);
    return 0;
}

static int read_item(const bk_jval *it, const char *list, size_t i, bk_tf native, bk_page *out,
                     bk_err *err)
{
    if (bk_jv_type(it) != BK_JT_OBJECT)
        return bk_err_set(err, BK_EPROV_MALFORMED, "tradier: %s[%zu] is %s, not an object", list, i,
                          bk_jtype_name(bk_jv_type(it)));
    bk_bar b;
    int rc = item_label(it, list, i, native, &b.ts_us, err);
    if (rc)
        return rc;
    double x[5];
    for (int k = 0; k < 5; k++) {
        const bk_jval *v = bk_jv_get(it, price_keys[k]);
        if (bk_jv_num(v, &x[k]) != 0)
            return bk_err_set(err, BK_EPROV_MALFORMED, "tradier: %s[%zu].%s is %s, not a number",
                              list, i, price_keys[k], v ? bk_jtype_name(bk_jv_type(v)) : "missing");
    }
    b.open = x[0];
    b.high = x[1];
    b.low = x[2];
    b.close = x[3];
    b.volume = x[4];
    bk_page_push(out, &b);
    return 0;
}

/* {"history": {"day": [...] | {...} | null} | null} or the same with
 * series/data. */
static int parse_doc(const bk_jval *root, tf_plan pl, bk_page *out, bk_err *err)
{
    const char *outer = pl.history ? "history" : "series";
    const char *list = pl.history ? "day" : "data";
    if (bk_jv_type(root) != BK_JT_OBJECT)
        return bk_err_set(err, BK_EPROV_MALFORMED, "tradier: response is not a JSON object");
    const bk_jval *c = bk_jv_get(root, outer);
    if (!c)
        return bk_err_set(err, BK_EPROV_MALFORMED, "tradier: no \"%s\" in the response", outer);
    if (bk_jv_type(c) == BK_JT_NULL)
        return 0; /* no data in the window */
    if (bk_jv_type(c) != BK_JT_OBJECT)
        return bk_err_set(err, BK_EPROV_MALFORMED, "tradier: \"%s\" is %s, not an object", outer,
                          bk_jtype_name(bk_jv_type(c)));
    const bk_jval *items = bk_jv_get(c, list);
    switch (bk_jv_type(items)) {
    case BK_JT_NULL:
        return 0;
    case BK_JT_OBJECT:
        return read_item(items, list, 0, pl.native, out, err);
    case BK_JT_ARRAY:
        for (size_t i = 0; i < bk_jv_len(items); i++) {
            int rc = read_item(bk_jv_at(items, i), list, i, pl.native, out, err);
            if (rc)
                return rc;
        }
        return 0;
    default:
        return bk_err_set(err, BK_EPROV_MALFORMED, "tradier: %s.%s is %s", outer, list,
                          bk_jtype_name(bk_jv_type(items)));
    }
}

int bk_tradier_parse(const char *body, size_t len, const bk_fetch_req *req, bk_anchor anchor,
                     bk_page *out, bk_err *err)
{
    bk_page_reset(out);
    if ((unsigned)req->tf >= BK_TF__N)
        return bk_err_set(err, BK_EINVAL, "tradier: invalid timeframe");
    tf_plan pl = plan_for(req->tf);
    bk_jdoc *doc = NULL;
    bk_err jerr = {0};
    if (bk_jdoc_parse(&doc, body, len, &jerr) != 0)
        return bk_err_set(err, BK_EPROV_MALFORMED, "tradier: response is not JSON (%s)", jerr.msg);
    int rc = parse_doc(bk_jdoc_root(doc), pl, out, err);
    bk_jdoc_free(doc);
    if (rc == 0)
        rc = bk_adapt_finish_window(out, req, anchor, pl.native, err);
    if (rc)
        bk_page_reset(out);
    return rc;
}

/* ---- fetch ---- */

/* New York local date (and time, when with_time) of instant t, floored to
 * the minute: "YYYY-MM-DD" or "YYYY-MM-DD HH:MM". */
static void ny_local(int64_t t_us, bool with_time, char out[20])
{
    int32_t day = bk_cal_ny_day(t_us);
    int64_t min = (t_us - bk_cal_ny_to_utc(day, 0, 0)) / BK_US_PER_MIN;
    if (min < 0)
        min = 0;
    int y, mo, d;
    bk_civil_from_days(day, &y, &mo, &d);
    /* minutes since local midnight differ from h*60+m only on DST change
     * nights, when the market is closed */
    if (with_time)
        snprintf(out, 20, "%04d-%02d-%02d %02d:%02d", y, mo, d, (int)(min / 60) % 24,
                 (int)(min % 60));
    else
        snprintf(out, 20, "%04d-%02d-%02d", y, mo, d);
}

static void build_url(const tradier *t, const bk_fetch_req *req, bk_buf *url)
{
    tf_plan pl = plan_for(req->tf);
    char start[20], end[20];
    int64_t to = req->to_us;
    if (pl.native != req->tf)
        to += bk_tf_step_us(req->tf); /* the whole span of the last bar */
    /* end is inclusive (a date, or a minute) */
    ny_local(req->from_us, !pl.history, start);
    ny_local(to - 1, !pl.history, end);
    bk_buf_puts(url, t->base_url);
    bk_buf_puts(url, pl.history ? "/v1/markets/history?symbol=" : "/v1/markets/timesales?symbol=");
    bk_url_escape(url, req->symbol);
    bk_buf_printf(url, "&interval=%s&start=", pl.interval);
    bk_url_escape(url, start);
    bk_buf_puts(url, "&end=");
    bk_url_escape(url, end);
    bk_buf_puts(url, "&session_filter=open");
}

static bool body_has(const bk_http_resp *r, const char *needle)
{
    return r->body && strstr(r->body, needle) != NULL;
}

/* Tradier's words first (retention refusal, whatever the status but 429;
 * credential faults), then the common status rules (a bk_adapt_check_fn;
 * other 2xx answers go to the parser). */
static int check_status(const bk_prov *p, const bk_fetch_req *req, const bk_http_resp *r,
                        bk_err *err)
{
    (void)p;
    if (r->status >= 200 && r->status <= 299 && !body_has(r, "must be on or after"))
        return 0;
    const char *symbol = req->symbol;
    if (r->status != 429 && body_has(r, "must be on or after")) {
        const char *m = strstr(r->body, "start");
        return bk_err_set(err, BK_EPROV_RANGE, "tradier: window refused for %s: %.120s", symbol,
                          m ? m : r->body);
    }
    if (body_has(r, "keymanagement.service"))
        return bk_err_set(err, BK_EPROV_AUTH, "tradier: HTTP %ld: token refused (%.120s)",
                          r->status, r->body);
    return bk_http_classify(r, "tradier", err);
}

static int tradier_fetch(bk_prov *p, const bk_fetch_req *req, bk_page *out, bk_err *err)
{
    const tradier *t = p->impl;
    bk_buf url;
    bk_buf_init(&url);
    build_url(t, req, &url);
    bk_adapt_call c = {.who = "tradier",
                       .http = t->http,
                       .hr = {.url = url.data,
                              .headers = {t->auth, "Accept: application/json"},
                              .timeout_ms = t->timeout_ms},
                       .check = check_status,
                       .parse = bk_tradier_parse};
    int rc = bk_adapt_fetch(&c, p, req, out, err);
    bk_buf_fini(&url);
    return rc;
}

static void tradier_free(bk_prov *p)
{
    tradier *t = p->impl;
    bk_http_free(t->http);
    free(t->base_url);
    bk_free_secret(t->auth);
    free(t);
    free(p);
}

static const bk_prov_ops tradier_ops = {.fetch = tradier_fetch, .free = tradier_free};

static void set_limits(bk_prov_limits *l, bool sandbox)
{
    memset(l, 0, sizeof *l);
    /* 120/minute published (sandbox: 60), kept below by the budget margin */
    bk_prov_budget_below(l, sandbox ? 60 : 120, 60, 1);
    /* session_filter=open retention; one call may span all of it */
    l->max_span_us[BK_TF_1M] = 20 * DAY_US;
    l->history_us[BK_TF_1M] = 20 * DAY_US;
    for (int tf = BK_TF_5M; tf <= BK_TF_4H; tf++) {
        l->max_span_us[tf] = 40 * DAY_US;
        l->history_us[tf] = 40 * DAY_US;
    }
}

static int check_cfg(const bk_prov_cfg *cfg, bk_err *err)
{
    int rc = bk_adapt_check_key("tradier", cfg ? cfg->key : NULL, "TRADIER_API_KEY", err);
    if (rc)
        return rc;
    if (cfg->adjustment && strcmp(cfg->adjustment, "split") != 0)
        return bk_err_set(err, BK_EINVAL,
                          "tradier: adjustment \"%s\" not served (history is split-adjusted, "
                          "dividends not reliably: use \"split\")",
                          cfg->adjustment);
    if (cfg->feed && strcmp(cfg->feed, "consolidated") != 0)
        return bk_err_set(err, BK_EINVAL, "tradier: feed \"%s\" not served (only \"consolidated\")",
                          cfg->feed);
    if (cfg->anchor != BK_ANCHOR_SESSION && cfg->anchor != BK_ANCHOR_CLOCK)
        return bk_err_set(err, BK_EINVAL, "tradier: invalid anchor");
    return 0;
}

int bk_tradier_new(bk_prov **out, const bk_prov_cfg *cfg, bk_err *err)
{
    int rc = check_cfg(cfg, err);
    if (rc)
        return rc;
    bk_http *h = NULL;
    rc = bk_http_new(&h, NULL, err);
    if (rc)
        return rc;
    tradier *t = bk_xcalloc(1, sizeof *t);
    t->http = h;
    t->base_url = bk_adapt_base_url(cfg->base_url, TRADIER_URL);
    size_t n = strlen(t->base_url);
    if (n >= 3 && strcmp(t->base_url + n - 3, "/v1") == 0) /* accept the documented base */
        t->base_url[n - 3] = '\0';
    t->auth = bk_adapt_header("Authorization", "Bearer", cfg->key);
    t->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
    bool sandbox = strstr(t->base_url, "sandbox.tradier.com") != NULL;
    bk_prov *p = bk_xcalloc(1, sizeof *p);
    p->ops = &tradier_ops;
    bk_strlcpy(p->name, "tradier", sizeof p->name);
    bk_strlcpy(p->feed, "consolidated", sizeof p->feed);
    bk_strlcpy(p->adjustment, "split", sizeof p->adjustment);
    p->anchor = cfg->anchor;
    /* the sandbox's data is 15 minutes late */
    p->delay_us = sandbox ? 15 * BK_US_PER_MIN : 60 * BK_US_PER_S;
    p->settle_us = BK_PROV_SETTLE_US;
    set_limits(&p->limits, sandbox);
    p->impl = t;
    *out = p;
    return 0;
}
