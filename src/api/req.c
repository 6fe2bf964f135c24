/*
 * req.c — validation of HTTP API requests (req.h): JSON bodies of
 * ensure-coverage, chart-data-v2 and fetch-bars, the query parameters of
 * orchestrator, ops-jobs and the realtime stream, and the credential
 * headers.
 *
 * Everything here is a pure function of its input bytes: no microhttpd, no
 * store, no clock, so fuzz/fuzz_req.c can drive every path. Each failure
 * names the offending field and quotes its value (escaped and truncated by
 * quote(), since it came from outside), except credentials, which are never
 * echoed. Bodies are parsed by json/jr.h; symbols and timeframes by model/.
 * Error codes are listed in docs/http-api.md.
 */
#include "api/req.h"

#include "core/err.h"
#include "core/util.h"
#include "json/jr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define QUOTE_MAX 40 /* bytes of an outside value quoted in a message */
#define QUOTE_CAP (QUOTE_MAX * 4 + 8)

#define TF_EXPECTED  "1m 5m 15m 30m 1h 4h d1 w1 (or m1 m5 m15 m30 h1 h4 1d 1w)"
#define SYM_EXPECTED "1-20 characters from A-Z 0-9 . - ^ = /"

int bk_api_fail(bk_api_error *e, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    e->status = status;
    bk_strlcpy(e->code, code, sizeof e->code);
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return BK_EINVAL;
}

/* Printable ASCII copy of s[0..n) for a message: '"', '\\' and other bytes
 * escaped, cut after QUOTE_MAX bytes with "...". */
static const char *quote(char out[QUOTE_CAP], const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && i < QUOTE_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, QUOTE_CAP - o, "\\%c", c);
        else if (c < 0x20 || c > 0x7e)
            o += (size_t)snprintf(out + o, QUOTE_CAP - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    if (n > QUOTE_MAX)
        o += (size_t)snprintf(out + o, QUOTE_CAP - o, "...");
    out[o] = '\0';
    return out;
}

/* ---- values shared by bodies and query parameters ---- */

/* s[0..n) (not NUL-terminated, may hold NULs) as a symbol; from names the
 * field it came from. */
static int parse_symbol(const char *s, size_t n, const char *from, char out[BK_SYM_MAX + 1],
                        bk_api_error *e)
{
    char buf[BK_SYM_MAX + 1], q[QUOTE_CAP];
    if (n > BK_SYM_MAX || memchr(s, '\0', n))
        goto bad;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (bk_sym_parse(buf, out) == 0)
        return 0;
bad:
    return bk_api_fail(e, 400, "invalid_symbol", "invalid %s \"%s\": expected " SYM_EXPECTED, from,
                       quote(q, s, n));
}

static int parse_tf(const char *s, size_t n, const char *from, bk_tf *out, bk_api_error *e)
{
    char buf[8], q[QUOTE_CAP];
    if (n >= sizeof buf || memchr(s, '\0', n))
        goto bad;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (bk_tf_parse(buf, out) == 0)
        return 0;
bad:
    return bk_api_fail(e, 400, "invalid_timeframe", "invalid %s \"%s\": expected " TF_EXPECTED,
                       from, quote(q, s, n));
}

/* ---- JSON bodies ---- */

static int load_object(const char *body, size_t len, bk_jdoc **doc, bk_api_error *e)
{
    *doc = NULL;
    if (len > BK_REQ_BODY_MAX)
        return bk_api_fail(e, 413, "payload_too_large",
                           "request body is %zu bytes; the limit is %d bytes", len,
                           BK_REQ_BODY_MAX);
    if (!body || len == 0)
        return bk_api_fail(e, 400, "invalid_json", "request body is empty; expected a JSON object");
    bk_err err = {0};
    if (bk_jdoc_parse(doc, body, len, &err) != 0)
        return bk_api_fail(e, 400, "invalid_json", "request body: %s", err.msg);
    bk_jtype t = bk_jv_type(bk_jdoc_root(*doc));
    if (t != BK_JT_OBJECT)
        return bk_api_fail(e, 400, "invalid_body", "request body must be a JSON object, not %s",
                           bk_jtype_name(t));
    return 0;
}

static int type_error(const char *key, const char *want, const bk_jval *v, bk_api_error *e)
{
    return bk_api_fail(e, 400, "invalid_type", "field \"%s\" must be %s, not %s", key, want,
                       bk_jtype_name(bk_jv_type(v)));
}

/* A required string member; *n is its length in bytes (it may hold NULs). */
static int get_str(const bk_jval *obj, const char *key, const char **s, size_t *n, bk_api_error *e)
{
    const bk_jval *v = bk_jv_get(obj, key);
    if (!v)
        return bk_api_fail(e, 400, "missing_field", "missing required field \"%s\"", key);
    if (bk_jv_str(v, s, n) != 0)
        return type_error(key, "a string", v, e);
    return 0;
}

/* An optional integer member in [min, max]; absent or null leaves *out alone. */
static int get_int(const bk_jval *obj, const char *key, int64_t min, int64_t max,
                   const char *range_code, int32_t *out, bk_api_error *e)
{
    const bk_jval *v = bk_jv_get(obj, key);
    if (!v || bk_jv_type(v) == BK_JT_NULL)
        return 0;
    int64_t x;
    if (bk_jv_int(v, &x) != 0)
        return type_error(key, "an integer", v, e);
    if (x < min || x > max)
        return bk_api_fail(e, 400, range_code,
                           "field \"%s\" is %lld; expected an integer from %lld to %lld", key,
                           (long long)x, (long long)min, (long long)max);
    *out = (int32_t)x;
    return 0;
}

/* The "symbol" and "timeframe" members shared by ensure and chart bodies. */
static int get_series(const bk_jval *obj, char sym[BK_SYM_MAX + 1], bk_tf *tf, bk_api_error *e)
{
    const char *s;
    size_t n;
    if (get_str(obj, "symbol", &s, &n, e) != 0 || parse_symbol(s, n, "symbol", sym, e) != 0)
        return BK_EINVAL;
    if (get_str(obj, "timeframe", &s, &n, e) != 0 || parse_tf(s, n, "timeframe", tf, e) != 0)
        return BK_EINVAL;
    return 0;
}

int bk_req_ensure(const char *body, size_t len, bk_ensure_req *out, bk_api_error *e)
{
    bk_jdoc *doc;
    int rc = load_object(body, len, &doc, e);
    if (rc != 0)
        goto out;
    const bk_jval *root = bk_jdoc_root(doc);
    out->window_days = 7;
    out->priority = 150;
    if ((rc = get_series(root, out->symbol, &out->tf, e)) != 0 ||
        (rc = get_int(root, "window_days", 1, 36500, "invalid_window", &out->window_days, e)) !=
            0 ||
        (rc = get_int(root, "priority", -1000000, 1000000, "invalid_priority", &out->priority,
                      e)) != 0)
        goto out;
out:
    bk_jdoc_free(doc);
    return rc;
}

int bk_req_chart(const char *body, size_t len, bk_chart_req *out, bk_api_error *e)
{
    bk_jdoc *doc;
    int rc = load_object(body, len, &doc, e);
    if (rc != 0)
        goto out;
    const bk_jval *root = bk_jdoc_root(doc);
    out->days = 30;
    if ((rc = get_series(root, out->symbol, &out->tf, e)) != 0 ||
        (rc = get_int(root, "days", 1, 36500, "invalid_days", &out->days, e)) != 0)
        goto out;
out:
    bk_jdoc_free(doc);
    return rc;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Canonical 8-4-4-4-12 hex uuid (either case) into lower case. */
static bool parse_uuid(const char *s, size_t n, char out[37])
{
    if (n != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : hexval(s[i]) < 0)
            return false;
        out[i] = dash ? '-' : "0123456789abcdef"[hexval(s[i])];
    }
    out[36] = '\0';
    return true;
}

int bk_req_fetch_bars(const char *body, size_t len, bk_fetch_bars_req *out, bk_api_error *e)
{
    bk_jdoc *doc;
    int rc = load_object(body, len, &doc, e);
    if (rc != 0)
        goto out;
    const char *s;
    size_t n;
    if ((rc = get_str(bk_jdoc_root(doc), "job_run_id", &s, &n, e)) != 0)
        goto out;
    if (!parse_uuid(s, n, out->run_id)) {
        char q[QUOTE_CAP];
        rc = bk_api_fail(e, 400, "invalid_run_id",
                         "job_run_id \"%s\" is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
                         quote(q, s, n));
    }
out:
    bk_jdoc_free(doc);
    return rc;
}

/* ---- query parameters ---- */

int bk_req_action(const char *s, bk_action *out, bk_api_error *e)
{
    static const struct {
        const char *name;
        bk_action action;
    } actions[] = {
        {"tick", BK_ACTION_TICK},
        {"status", BK_ACTION_STATUS},
        {"retry_failed", BK_ACTION_RETRY_FAILED},
    };
    if (!s || !*s)
        return bk_api_fail(e, 400, "missing_action",
                           "missing ?action= parameter; expected tick, status or retry_failed");
    for (size_t i = 0; i < BK_ARRAY_LEN(actions); i++) {
        if (strcmp(s, actions[i].name) == 0) {
            *out = actions[i].action;
            return 0;
        }
    }
    char q[QUOTE_CAP];
    return bk_api_fail(e, 400, "unknown_action",
                       "unknown action \"%s\"; expected tick, status or retry_failed",
                       quote(q, s, strlen(s)));
}

int bk_req_ops(const char *symbol, const char *tf, const char *hours, bk_ops_req *out,
               bk_api_error *e)
{
    out->symbol[0] = '\0';
    out->tf = -1;
    out->hours = 24;
    if (symbol && *symbol && parse_symbol(symbol, strlen(symbol), "symbol", out->symbol, e) != 0)
        return BK_EINVAL;
    bk_tf t;
    if (tf && *tf) {
        if (parse_tf(tf, strlen(tf), "timeframe", &t, e) != 0)
            return BK_EINVAL;
        out->tf = (int)t;
    }
    int64_t h;
    if (hours && *hours) {
        if (bk_parse_i64(hours, 1, 8760, &h) != 0) {
            char q[QUOTE_CAP];
            return bk_api_fail(e, 400, "invalid_hours",
                               "invalid hours \"%s\": expected an integer from 1 to 8760",
                               quote(q, hours, strlen(hours)));
        }
        out->hours = (int32_t)h;
    }
    return 0;
}

/* One filter term "column=eq.value" (n bytes) narrowing out; a value other
 * than one already set (by a plain parameter or an earlier term) conflicts. */
static int filter_term(const char *t, size_t n, bk_sub_req *out, bk_api_error *e)
{
    char q[QUOTE_CAP];
    const char *eq = memchr(t, '=', n);
    if (!eq || (size_t)(t + n - eq) < 4 || memcmp(eq, "=eq.", 4) != 0)
        return bk_api_fail(e, 400, "invalid_filter",
                           "invalid filter term \"%s\": expected column=eq.value", quote(q, t, n));
    size_t col_n = (size_t)(eq - t);
    const char *v = eq + 4;
    size_t vn = n - col_n - 4;
    if (col_n == 6 && memcmp(t, "symbol", 6) == 0) {
        char sym[BK_SYM_MAX + 1];
        if (parse_symbol(v, vn, "symbol in filter", sym, e) != 0)
            return BK_EINVAL;
        if (out->symbol[0] && strcmp(out->symbol, sym) != 0)
            return bk_api_fail(e, 400, "invalid_filter",
                               "filter symbol=eq.%s conflicts with symbol %s", sym, out->symbol);
        memcpy(out->symbol, sym, sizeof sym);
        return 0;
    }
    if (col_n == 9 && memcmp(t, "timeframe", 9) == 0) {
        bk_tf tf;
        if (parse_tf(v, vn, "timeframe in filter", &tf, e) != 0)
            return BK_EINVAL;
        if (out->tf >= 0 && out->tf != (int)tf)
            return bk_api_fail(e, 400, "invalid_filter",
                               "filter timeframe=eq.%s conflicts with timeframe %s", bk_tf_name(tf),
                               bk_tf_name((bk_tf)out->tf));
        out->tf = (int)tf;
        return 0;
    }
    return bk_api_fail(e, 400, "invalid_filter",
                       "unsupported filter column \"%s\": expected symbol or timeframe",
                       quote(q, t, col_n));
}

int bk_req_subscribe(const char *symbol, const char *tf, const char *filter,
                     const char *last_event_id, bk_sub_req *out, bk_api_error *e)
{
    bk_ops_req plain;
    if (bk_req_ops(symbol, tf, NULL, &plain, e) != 0)
        return BK_EINVAL;
    memcpy(out->symbol, plain.symbol, sizeof out->symbol);
    out->tf = plain.tf;
    out->last_event_id = 0;
    for (const char *t = filter; t && *t;) {
        const char *comma = strchr(t, ',');
        size_t n = comma ? (size_t)(comma - t) : strlen(t);
        if (filter_term(t, n, out, e) != 0)
            return BK_EINVAL;
        t = comma ? comma + 1 : t + n;
        if (comma && !*t)
            return bk_api_fail(e, 400, "invalid_filter", "invalid filter: trailing comma");
    }
    int64_t id;
    if (last_event_id && *last_event_id) {
        if (*last_event_id < '0' || *last_event_id > '9' ||
            bk_parse_i64(last_event_id, 0, INT64_MAX, &id) != 0) {
            char q[QUOTE_CAP];
            return bk_api_fail(e, 400, "invalid_event_id",
                               "invalid Last-Event-ID \"%s\": expected a decimal event id",
                               quote(q, last_event_id, strlen(last_event_id)));
        }
        out->last_event_id = (uint64_t)id;
    }
    return 0;
}

/* ---- credentials ---- */

/* Copy the key s[0..n) (already trimmed) from header `from`; never echoed. */
static int copy_key(const char *s, size_t n, const char *from, char *key, size_t cap,
                    bk_api_error *e)
{
    if (n == 0)
        return bk_api_fail(e, 401, "unauthorized", "empty key in the %s header", from);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return bk_api_fail(e, 401, "unauthorized",
                               "the key in the %s header contains a space or control character",
                               from);
    if (cap == 0 || n > cap - 1)
        return bk_api_fail(e, 401, "unauthorized",
                           "the key in the %s header is longer than %zu bytes", from,
                           cap ? cap - 1 : 0);
    memcpy(key, s, n);
    key[n] = '\0';
    return 0;
}

/* Header value without optional white space around it: [*s, *s + *n). */
static void trim_ows(const char **s, size_t *n)
{
    const char *p = *s, *end = p + strlen(p);
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *s = p;
    *n = (size_t)(end - p);
}

int bk_req_credentials(const char *authorization, const char *apikey, char *key, size_t cap,
                       bk_api_error *e)
{
    const char *s;
    size_t n;
    if (cap > 0)
        key[0] = '\0';
    if (authorization) {
        s = authorization;
        trim_ows(&s, &n);
        if (n < 6 || strncasecmp(s, "bearer", 6) != 0 || (n > 6 && s[6] != ' ')) {
            char q[QUOTE_CAP];
            size_t scheme = strcspn(s, " \t");
            return bk_api_fail(
                e, 401, "unauthorized",
                "malformed Authorization header (scheme \"%s\"): expected \"Bearer <key>\"",
                quote(q, s, BK_MIN(scheme, n)));
        }
        size_t i = 6;
        while (i < n && s[i] == ' ')
            i++;
        return copy_key(s + i, n - i, "Authorization", key, cap, e);
    }
    if (apikey) {
        s = apikey;
        trim_ows(&s, &n);
        return copy_key(s, n, "apikey", key, cap, e);
    }
    bk_api_fail(e, 401, "unauthorized",
                "missing credentials: send \"Authorization: Bearer <key>\" or \"apikey: <key>\"");
    return BK_ENOENT;
}
