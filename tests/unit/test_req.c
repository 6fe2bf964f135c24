/*
 * test_req.c — HTTP request validation (api/req.c) and the JSON reader it
 * stands on (json/jr.c): every accepted form from the deployment guide,
 * every error code with its HTTP status, and that each message names the
 * offending value; and the JWTs that are keys (api/jwt.c): HS256 only,
 * strict base64url, signature, exp and nbf.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/jwt.h"
#include "api/req.h"
#include "core/err.h"
#include "json/jr.h"

#define BODY(s) (s), strlen(s)

/* rc is a failure with this status and code, and the message contains want. */
static void check_fail(int rc, const bk_api_error *e, int status, const char *code,
                       const char *want)
{
    if (rc == 0)
        fail_msg("expected %s, got success", code);
    assert_int_equal(rc, BK_EINVAL);
    assert_int_equal(e->status, status);
    assert_string_equal(e->code, code);
    if (want && !strstr(e->msg, want))
        fail_msg("message \"%s\" does not mention \"%s\"", e->msg, want);
}

/* ---------------------------------------------------------------- jr */

static bk_jdoc *parse_ok(const char *s)
{
    bk_jdoc *d = NULL;
    bk_err err = {0};
    if (bk_jdoc_parse(&d, s, strlen(s), &err) != 0)
        fail_msg("parse of %s failed: %s", s, err.msg);
    return d;
}

static void parse_bad(const char *s, size_t n, const char *want)
{
    bk_jdoc *d = (bk_jdoc *)1;
    bk_err err = {0};
    assert_int_equal(bk_jdoc_parse(&d, s, n, &err), BK_EINVAL);
    assert_null(d);
    assert_int_equal(err.code, BK_EINVAL);
    if (!strstr(err.msg, want))
        fail_msg("message \"%s\" does not mention \"%s\"", err.msg, want);
}

static void test_jr_types(void **state)
{
    (void)state;
    bk_jdoc *d = parse_ok("{\"n\":null,\"b\":true,\"i\":-7,\"r\":7.0,\"e\":1e2,\"s\":\"x\","
                          "\"a\":[1,2],\"o\":{}}");
    const bk_jval *root = bk_jdoc_root(d);
    assert_int_equal(bk_jv_type(root), BK_JT_OBJECT);
    static const struct {
        const char *key;
        bk_jtype type;
        const char *name;
    } cases[] = {
        {"n", BK_JT_NULL, "null"},   {"b", BK_JT_BOOL, "boolean"},  {"i", BK_JT_INT, "integer"},
        {"r", BK_JT_REAL, "number"}, {"e", BK_JT_REAL, "number"},   {"s", BK_JT_STRING, "string"},
        {"a", BK_JT_ARRAY, "array"}, {"o", BK_JT_OBJECT, "object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bk_jval *v = bk_jv_get(root, cases[i].key);
        assert_non_null(v);
        assert_int_equal(bk_jv_type(v), cases[i].type);
        assert_string_equal(bk_jtype_name(bk_jv_type(v)), cases[i].name);
    }
    int64_t i64;
    double x;
    bool b;
    const char *s;
    size_t n;
    assert_int_equal(bk_jv_int(bk_jv_get(root, "i"), &i64), 0);
    assert_int_equal(i64, -7);
    assert_int_equal(bk_jv_int(bk_jv_get(root, "r"), &i64), BK_EINVAL);
    assert_int_equal(bk_jv_num(bk_jv_get(root, "i"), &x), 0);
    assert_true(x == -7.0);
    assert_int_equal(bk_jv_num(bk_jv_get(root, "e"), &x), 0);
    assert_true(x == 100.0);
    assert_int_equal(bk_jv_bool(bk_jv_get(root, "b"), &b), 0);
    assert_true(b);
    assert_int_equal(bk_jv_str(bk_jv_get(root, "s"), &s, &n), 0);
    assert_string_equal(s, "x");
    assert_int_equal(n, 1);
    assert_int_equal(bk_jv_str(bk_jv_get(root, "i"), &s, &n), BK_EINVAL);
    assert_int_equal(bk_jv_bool(bk_jv_get(root, "n"), &b), BK_EINVAL);
    assert_int_equal(bk_jv_num(bk_jv_get(root, "s"), &x), BK_EINVAL);
    /* missing members and NULL values */
    assert_null(bk_jv_get(root, "zz"));
    assert_int_equal(bk_jv_int(NULL, &i64), BK_EINVAL);
    assert_int_equal(bk_jv_type(NULL), BK_JT_NULL);
    assert_null(bk_jv_get(bk_jv_get(root, "a"), "n"));
    /* arrays */
    const bk_jval *a = bk_jv_get(root, "a");
    assert_int_equal(bk_jv_len(a), 2);
    assert_int_equal(bk_jv_int(bk_jv_at(a, 1), &i64), 0);
    assert_int_equal(i64, 2);
    assert_null(bk_jv_at(a, 2));
    assert_int_equal(bk_jv_len(root), 0);
    assert_null(bk_jv_at(root, 0));
    bk_jdoc_free(d);
    bk_jdoc_free(NULL);
}

static void test_jr_rules(void **state)
{
    (void)state;
    /* the last duplicate wins */
    bk_jdoc *d = parse_ok("{\"a\":1,\"a\":2}");
    int64_t v;
    assert_int_equal(bk_jv_int(bk_jv_get(bk_jdoc_root(d), "a"), &v), 0);
    assert_int_equal(v, 2);
    bk_jdoc_free(d);
    /* any root; int64 limits */
    d = parse_ok("-9223372036854775808");
    assert_int_equal(bk_jv_int(bk_jdoc_root(d), &v), 0);
    assert_true(v == INT64_MIN);
    bk_jdoc_free(d);
    /* NUL inside a string: length tells */
    d = parse_ok("\"a\\u0000b\"");
    const char *s;
    size_t n;
    assert_int_equal(bk_jv_str(bk_jdoc_root(d), &s, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(strlen(s), 1);
    bk_jdoc_free(d);
    /* not NUL-terminated input */
    char buf[] = {'[', '1', ']', 'x'};
    d = NULL;
    bk_err err = {0};
    assert_int_equal(bk_jdoc_parse(&d, buf, 3, &err), 0);
    assert_int_equal(bk_jv_len(bk_jdoc_root(d)), 1);
    bk_jdoc_free(d);

    parse_bad("9223372036854775808", 19, "out of range");
    parse_bad("{\"w\":-9223372036854775809}", 26, "64 bits");
    parse_bad("{} x", 4, "line 1 column");
    parse_bad("", 0, "invalid JSON");
    parse_bad(NULL, 0, "invalid JSON");
    parse_bad("{\"a\\u0000\":1}", 13, "NUL");
    parse_bad("\"\xff\"", 3, "invalid JSON");
    parse_bad("{\"a\":1", 6, "invalid JSON");
}

static char *nested(int depth)
{
    char *s = malloc((size_t)depth * 2 + 1);
    for (int i = 0; i < depth; i++) {
        s[i] = '[';
        s[depth * 2 - 1 - i] = ']';
    }
    s[depth * 2] = '\0';
    return s;
}

static void test_jr_depth(void **state)
{
    (void)state;
    char *ok = nested(BK_JR_DEPTH), *deep = nested(BK_JR_DEPTH + 1);
    bk_jdoc_free(parse_ok(ok));
    parse_bad(deep, strlen(deep), "nested deeper than 64");
    free(ok);
    free(deep);
    char *very = nested(5000); /* beyond jansson's own limit */
    parse_bad(very, strlen(very), "invalid JSON");
    free(very);
    /* depth through objects counts as well */
    char obj[BK_JR_DEPTH * 8 + 16];
    size_t o = 0;
    for (int i = 0; i <= BK_JR_DEPTH; i++)
        o += (size_t)snprintf(obj + o, sizeof obj - o, "{\"a\":");
    obj[o++] = '1';
    for (int i = 0; i <= BK_JR_DEPTH; i++)
        obj[o++] = '}';
    obj[o] = '\0';
    parse_bad(obj, strlen(obj), "nested deeper");
}

/* ---------------------------------------------------------------- bodies */

static void test_ensure_guide(void **state)
{
    (void)state;
    bk_ensure_req r;
    bk_api_error e = {0};
    assert_int_equal(
        bk_req_ensure(BODY("{\"symbol\":\"AAPL\",\"timeframe\":\"1h\",\"window_days\":7}"), &r, &e),
        0);
    assert_string_equal(r.symbol, "AAPL");
    assert_int_equal(r.tf, BK_TF_1H);
    assert_int_equal(r.window_days, 7);
    assert_int_equal(r.priority, 150);
    /* the Swift client's dictionary body (key order and spacing vary) */
    assert_int_equal(bk_req_ensure(BODY("{ \"window_days\" : 7, \"timeframe\" : \"h1\",\n"
                                        "  \"symbol\" : \"aapl\", \"extra\": [null] }"),
                                   &r, &e),
                     0);
    assert_string_equal(r.symbol, "AAPL");
    assert_int_equal(r.tf, BK_TF_1H);
}

static void test_ensure_defaults_ranges(void **state)
{
    (void)state;
    bk_ensure_req r;
    bk_api_error e = {0};
    assert_int_equal(bk_req_ensure(BODY("{\"symbol\":\"BRK.B\",\"timeframe\":\"1d\"}"), &r, &e), 0);
    assert_string_equal(r.symbol, "BRK.B");
    assert_int_equal(r.tf, BK_TF_D1);
    assert_int_equal(r.window_days, 7);
    assert_int_equal(r.priority, 150);
    /* null optional = default */
    assert_int_equal(bk_req_ensure(BODY("{\"symbol\":\"X\",\"timeframe\":\"w1\","
                                        "\"window_days\":null,\"priority\":null}"),
                                   &r, &e),
                     0);
    assert_int_equal(r.window_days, 7);
    assert_int_equal(r.priority, 150);
    assert_int_equal(bk_req_ensure(BODY("{\"symbol\":\"^GSPC\",\"timeframe\":\"m15\","
                                        "\"window_days\":36500,\"priority\":-1000000}"),
                                   &r, &e),
                     0);
    assert_int_equal(r.tf, BK_TF_15M);
    assert_int_equal(r.window_days, 36500);
    assert_int_equal(r.priority, -1000000);
    assert_int_equal(bk_req_ensure(BODY("{\"symbol\":\"EURUSD=X\",\"timeframe\":\"5m\","
                                        "\"window_days\":1,\"priority\":1000000}"),
                                   &r, &e),
                     0);
    assert_int_equal(r.window_days, 1);
    assert_int_equal(r.priority, 1000000);

    int rc =
        bk_req_ensure(BODY("{\"symbol\":\"A\",\"timeframe\":\"1h\",\"window_days\":0}"), &r, &e);
    check_fail(rc, &e, 400, "invalid_window", "0");
    rc = bk_req_ensure(BODY("{\"symbol\":\"A\",\"timeframe\":\"1h\",\"window_days\":36501}"), &r,
                       &e);
    check_fail(rc, &e, 400, "invalid_window", "36501");
    rc = bk_req_ensure(BODY("{\"symbol\":\"A\",\"timeframe\":\"1h\",\"window_days\":-5}"), &r, &e);
    check_fail(rc, &e, 400, "invalid_window", "-5");
    rc =
        bk_req_ensure(BODY("{\"symbol\":\"A\",\"timeframe\":\"1h\",\"priority\":1000001}"), &r, &e);
    check_fail(rc, &e, 400, "invalid_priority", "1000001");
    rc = bk_req_ensure(
        BODY("{\"symbol\":\"A\",\"timeframe\":\"1h\",\"priority\":-9223372036854775808}"), &r, &e);
    check_fail(rc, &e, 400, "invalid_priority", "-9223372036854775808");
}

static void test_ensure_errors(void **state)
{
    (void)state;
    bk_ensure_req r;
    bk_api_error e = {0};
    int rc;
    rc = bk_req_ensure(BODY(""), &r, &e);
    check_fail(rc, &e, 400, "invalid_json", "empty");
    rc = bk_req_ensure(NULL, 0, &r, &e);
    check_fail(rc, &e, 400, "invalid_json", "empty");
    rc = bk_req_ensure(BODY("symbol=AAPL"), &r, &e);
    check_fail(rc, &e, 400, "invalid_json", "line 1");
    rc = bk_req_ensure(BODY("{\"symbol\":\"AAPL\",\"timeframe\":\"1h\"} trailing"), &r, &e);
    check_fail(rc, &e, 400, "invalid_json", "end of file expected");
    rc = bk_req_ensure(BODY("{\"symbol\":\"A\",\"timeframe\":\"1h\",\"window_days\":1e999}"), &r,
                       &e);
    check_fail(rc, &e, 400, "invalid_json", "out of range");
    rc = bk_req_ensure(BODY("[\"AAPL\",\"1h\"]"), &r, &e);
    check_fail(rc, &e, 400, "invalid_body", "array");
    rc = bk_req_ensure(BODY("null"), &r, &e);
    check_fail(rc, &e, 400, "invalid_body", "null");
    rc = bk_req_ensure(BODY("{\"timeframe\":\"1h\"}"), &r, &e);
    check_fail(rc, &e, 400, "missing_field", "\"symbol\"");
    rc = bk_req_ensure(BODY("{\"symbol\":\"AAPL\"}"), &r, &e);
    check_fail(rc, &e, 400, "missing_field", "\"timeframe\"");
    rc = bk_req_ensure(BODY("{\"symbol\":7,\"timeframe\":\"1h\"}"), &r, &e);
    check_fail(rc, &e, 400, "invalid_type", "\"symbol\" must be a string, not integer");
    rc = bk_req_ensure(BODY("{\"symbol\":null,\"timeframe\":\"1h\"}"), &r, &e);
    check_fail(rc, &e, 400, "invalid_type", "not null");
    rc = bk_req_ensure(BODY("{\"symbol\":\"A\",\"timeframe\":[\"1h\"]}"), &r, &e);
    check_fail(rc, &e, 400, "invalid_type", "\"timeframe\" must be a string, not array");
    rc = bk_req_ensure(BODY("{\"symbol\":\"A\",\"timeframe\":\"1h\",\"window_days\":7.0}"), &r, &e);
    check_fail(rc, &e, 400, "invalid_type", "\"window_days\" must be an integer, not number");
    rc = bk_req_ensure(BODY("{\"symbol\":\"A\",\"timeframe\":\"1h\",\"window_days\":\"7\"}"), &r,
                       &e);
    check_fail(rc, &e, 400, "invalid_type", "not string");
    rc = bk_req_ensure(BODY("{\"symbol\":\"A\",\"timeframe\":\"1h\",\"priority\":true}"), &r, &e);
    check_fail(rc, &e, 400, "invalid_type", "\"priority\" must be an integer, not boolean");
    rc = bk_req_ensure(BODY("{\"symbol\":\"AA PL\",\"timeframe\":\"1h\"}"), &r, &e);
    check_fail(rc, &e, 400, "invalid_symbol", "\"AA PL\"");
    rc = bk_req_ensure(BODY("{\"symbol\":\"\",\"timeframe\":\"1h\"}"), &r, &e);
    check_fail(rc, &e, 400, "invalid_symbol", "\"\"");
    rc = bk_req_ensure(BODY("{\"symbol\":\"ABCDEFGHIJKLMNOPQRSTU\",\"timeframe\":\"1h\"}"), &r, &e);
    check_fail(rc, &e, 400, "invalid_symbol", "ABCDEFGHIJKLMNOPQRSTU");
    rc = bk_req_ensure(BODY("{\"symbol\":\"AAPL\\u0000X\",\"timeframe\":\"1h\"}"), &r, &e);
    check_fail(rc, &e, 400, "invalid_symbol", "AAPL\\x00X");
    rc = bk_req_ensure(BODY("{\"symbol\":\"AAPL\",\"timeframe\":\"2h\"}"), &r, &e);
    check_fail(rc, &e, 400, "invalid_timeframe", "\"2h\"");
    rc = bk_req_ensure(BODY("{\"symbol\":\"AAPL\",\"timeframe\":\"1h\\u0000\"}"), &r, &e);
    check_fail(rc, &e, 400, "invalid_timeframe", "1h\\x00");
    rc = bk_req_ensure(BODY("{\"symbol\":\"AAPL\",\"timeframe\":\"hourly-bars\"}"), &r, &e);
    check_fail(rc, &e, 400, "invalid_timeframe", "hourly-bars");
}

static void test_body_limits(void **state)
{
    (void)state;
    bk_ensure_req r;
    bk_api_error e = {0};
    /* a valid body of exactly the limit is accepted (padded with spaces) */
    size_t n = BK_REQ_BODY_MAX + 1;
    char *big = malloc(n);
    memset(big, ' ', n);
    const char *body = "{\"symbol\":\"AAPL\",\"timeframe\":\"1h\"}";
    memcpy(big, body, strlen(body));
    assert_int_equal(bk_req_ensure(big, BK_REQ_BODY_MAX, &r, &e), 0);
    int rc = bk_req_ensure(big, n, &r, &e);
    check_fail(rc, &e, 413, "payload_too_large", "65537");
    bk_chart_req c;
    check_fail(bk_req_chart(big, n, &c, &e), &e, 413, "payload_too_large", "65536");
    bk_fetch_bars_req f;
    check_fail(bk_req_fetch_bars(big, n, &f, &e), &e, 413, "payload_too_large", NULL);
    free(big);
    /* a long bad value is quoted, cut short */
    char val[600], json[700];
    memset(val, 'Z', sizeof val - 1);
    val[sizeof val - 1] = '\0';
    snprintf(json, sizeof json, "{\"symbol\":\"%s\",\"timeframe\":\"1h\"}", val);
    rc = bk_req_ensure(BODY(json), &r, &e);
    check_fail(rc, &e, 400, "invalid_symbol", "ZZZZ...\"");
    /* control characters and quotes are escaped */
    rc = bk_req_ensure(BODY("{\"symbol\":\"a\\\"\\n\\u00e9\",\"timeframe\":\"1h\"}"), &r, &e);
    check_fail(rc, &e, 400, "invalid_symbol", "a\\\"\\x0a\\xc3\\xa9");
}

static void test_chart(void **state)
{
    (void)state;
    bk_chart_req r;
    bk_api_error e = {0};
    assert_int_equal(
        bk_req_chart(BODY("{\"symbol\":\"AAPL\",\"timeframe\":\"1h\",\"days\":60}"), &r, &e), 0);
    assert_string_equal(r.symbol, "AAPL");
    assert_int_equal(r.tf, BK_TF_1H);
    assert_int_equal(r.days, 60);
    assert_int_equal(bk_req_chart(BODY("{\"symbol\":\"msft\",\"timeframe\":\"D1\"}"), &r, &e), 0);
    assert_string_equal(r.symbol, "MSFT");
    assert_int_equal(r.tf, BK_TF_D1);
    assert_int_equal(r.days, 30);
    int rc = bk_req_chart(BODY("{\"symbol\":\"A\",\"timeframe\":\"1h\",\"days\":0}"), &r, &e);
    check_fail(rc, &e, 400, "invalid_days", "is 0");
    rc = bk_req_chart(BODY("{\"symbol\":\"A\",\"timeframe\":\"1h\",\"days\":36501}"), &r, &e);
    check_fail(rc, &e, 400, "invalid_days", "36501");
    rc = bk_req_chart(BODY("{\"symbol\":\"A\",\"timeframe\":\"1h\",\"days\":\"30\"}"), &r, &e);
    check_fail(rc, &e, 400, "invalid_type", "\"days\"");
    rc = bk_req_chart(BODY("{\"timeframe\":\"1h\"}"), &r, &e);
    check_fail(rc, &e, 400, "missing_field", "symbol");
    rc = bk_req_chart(BODY("\"AAPL\""), &r, &e);
    check_fail(rc, &e, 400, "invalid_body", "string");
    rc = bk_req_chart(BODY("{"), &r, &e);
    check_fail(rc, &e, 400, "invalid_json", NULL);
    rc = bk_req_chart(BODY("{\"symbol\":\"$$\",\"timeframe\":\"1h\"}"), &r, &e);
    check_fail(rc, &e, 400, "invalid_symbol", "$$");
    rc = bk_req_chart(BODY("{\"symbol\":\"A\",\"timeframe\":\"1y\"}"), &r, &e);
    check_fail(rc, &e, 400, "invalid_timeframe", "1y");
}

static void test_fetch_bars(void **state)
{
    (void)state;
    bk_fetch_bars_req r;
    bk_api_error e = {0};
    assert_int_equal(bk_req_fetch_bars(
                         BODY("{\"job_run_id\":\"0f8fad5b-d9cb-469f-a165-70867728950e\"}"), &r, &e),
                     0);
    assert_string_equal(r.run_id, "0f8fad5b-d9cb-469f-a165-70867728950e");
    assert_int_equal(bk_req_fetch_bars(
                         BODY("{\"job_run_id\":\"0F8FAD5B-D9CB-469F-A165-70867728950E\"}"), &r, &e),
                     0);
    assert_string_equal(r.run_id, "0f8fad5b-d9cb-469f-a165-70867728950e");
    static const char *const bad[] = {
        "0f8fad5b-d9cb-469f-a165-70867728950",   "0f8fad5b-d9cb-469f-a165-70867728950e0",
        "0f8fad5bd9cb-469f-a165-70867728950e-",  "0f8fad5g-d9cb-469f-a165-70867728950e",
        "{0f8fad5b-d9cb-469f-a165-70867728950e", "",
        "0f8fad5b d9cb 469f a165 70867728950e",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[128];
        snprintf(json, sizeof json, "{\"job_run_id\":\"%s\"}", bad[i]);
        int rc = bk_req_fetch_bars(BODY(json), &r, &e);
        char want[64];
        snprintf(want, sizeof want, "\"%s\"", bad[i]);
        check_fail(rc, &e, 400, "invalid_run_id", want);
    }
    int rc = bk_req_fetch_bars(
        BODY("{\"job_run_id\":\"0f8fad5b-d9cb-469f-a165-7086772895\\u0000e\"}"), &r, &e);
    check_fail(rc, &e, 400, "invalid_run_id", "\\x00");
    rc = bk_req_fetch_bars(BODY("{\"id\":\"0f8fad5b-d9cb-469f-a165-70867728950e\"}"), &r, &e);
    check_fail(rc, &e, 400, "missing_field", "job_run_id");
    rc = bk_req_fetch_bars(BODY("{\"job_run_id\":42}"), &r, &e);
    check_fail(rc, &e, 400, "invalid_type", "\"job_run_id\" must be a string, not integer");
    rc = bk_req_fetch_bars(BODY("[]"), &r, &e);
    check_fail(rc, &e, 400, "invalid_body", "array");
    rc = bk_req_fetch_bars(BODY("  "), &r, &e);
    check_fail(rc, &e, 400, "invalid_json", NULL);
}

/* ---------------------------------------------------------------- query */

static void test_action(void **state)
{
    (void)state;
    bk_action a;
    bk_api_error e = {0};
    assert_int_equal(bk_req_action("tick", &a, &e), 0);
    assert_int_equal(a, BK_ACTION_TICK);
    assert_int_equal(bk_req_action("status", &a, &e), 0);
    assert_int_equal(a, BK_ACTION_STATUS);
    assert_int_equal(bk_req_action("retry_failed", &a, &e), 0);
    assert_int_equal(a, BK_ACTION_RETRY_FAILED);
    check_fail(bk_req_action(NULL, &a, &e), &e, 400, "missing_action", "action");
    check_fail(bk_req_action("", &a, &e), &e, 400, "missing_action", "tick");
    check_fail(bk_req_action("tock", &a, &e), &e, 400, "unknown_action", "\"tock\"");
    check_fail(bk_req_action("TICK", &a, &e), &e, 400, "unknown_action", "\"TICK\"");
    check_fail(bk_req_action("tick ", &a, &e), &e, 400, "unknown_action", "\"tick \"");
}

static void test_ops(void **state)
{
    (void)state;
    bk_ops_req r;
    bk_api_error e = {0};
    /* the guide's three calls */
    assert_int_equal(bk_req_ops("AAPL", "1h", NULL, &r, &e), 0);
    assert_string_equal(r.symbol, "AAPL");
    assert_int_equal(r.tf, BK_TF_1H);
    assert_int_equal(r.hours, 24);
    assert_int_equal(bk_req_ops(NULL, NULL, "24", &r, &e), 0);
    assert_string_equal(r.symbol, "");
    assert_int_equal(r.tf, -1);
    assert_int_equal(r.hours, 24);
    assert_int_equal(bk_req_ops("AAPL", "1h", "6", &r, &e), 0);
    assert_int_equal(r.hours, 6);
    /* empty = unset; aliases; bounds */
    assert_int_equal(bk_req_ops("", "", "", &r, &e), 0);
    assert_string_equal(r.symbol, "");
    assert_int_equal(r.tf, -1);
    assert_int_equal(r.hours, 24);
    assert_int_equal(bk_req_ops("spy", "1w", "8760", &r, &e), 0);
    assert_string_equal(r.symbol, "SPY");
    assert_int_equal(r.tf, BK_TF_W1);
    assert_int_equal(r.hours, 8760);
    assert_int_equal(bk_req_ops(NULL, NULL, "1", &r, &e), 0);
    assert_int_equal(r.hours, 1);

    check_fail(bk_req_ops("A B", NULL, NULL, &r, &e), &e, 400, "invalid_symbol", "\"A B\"");
    check_fail(bk_req_ops(NULL, "1x", NULL, &r, &e), &e, 400, "invalid_timeframe", "\"1x\"");
    check_fail(bk_req_ops(NULL, NULL, "0", &r, &e), &e, 400, "invalid_hours", "\"0\"");
    check_fail(bk_req_ops(NULL, NULL, "8761", &r, &e), &e, 400, "invalid_hours", "\"8761\"");
    check_fail(bk_req_ops(NULL, NULL, "6h", &r, &e), &e, 400, "invalid_hours", "\"6h\"");
    check_fail(bk_req_ops(NULL, NULL, "-1", &r, &e), &e, 400, "invalid_hours", "\"-1\"");
    check_fail(bk_req_ops(NULL, NULL, "99999999999999999999999", &r, &e), &e, 400, "invalid_hours",
               "99999");
    check_fail(bk_req_ops(NULL, NULL, " 6", &r, &e), &e, 400, "invalid_hours", "\" 6\"");
}

static void test_subscribe(void **state)
{
    (void)state;
    bk_sub_req r;
    bk_api_error e = {0};
    /* plain parameters (SPEC §6) */
    assert_int_equal(bk_req_subscribe("AAPL", "1h", NULL, NULL, &r, &e), 0);
    assert_string_equal(r.symbol, "AAPL");
    assert_int_equal(r.tf, BK_TF_1H);
    assert_int_equal(r.last_event_id, 0);
    /* the guide's Swift filter */
    assert_int_equal(bk_req_subscribe(NULL, NULL, "symbol=eq.AAPL,timeframe=eq.1h", NULL, &r, &e),
                     0);
    assert_string_equal(r.symbol, "AAPL");
    assert_int_equal(r.tf, BK_TF_1H);
    /* nothing = everything */
    assert_int_equal(bk_req_subscribe(NULL, "", "", "", &r, &e), 0);
    assert_string_equal(r.symbol, "");
    assert_int_equal(r.tf, -1);
    /* one term; symbols with '=' and '.'; agreement after normalisation */
    assert_int_equal(bk_req_subscribe(NULL, NULL, "symbol=eq.EURUSD=X", NULL, &r, &e), 0);
    assert_string_equal(r.symbol, "EURUSD=X");
    assert_int_equal(r.tf, -1);
    assert_int_equal(
        bk_req_subscribe("brk.b", "h1", "timeframe=eq.1h,symbol=eq.BRK.B", "17", &r, &e), 0);
    assert_string_equal(r.symbol, "BRK.B");
    assert_int_equal(r.tf, BK_TF_1H);
    assert_int_equal(r.last_event_id, 17);
    assert_int_equal(bk_req_subscribe("AAPL", NULL, "timeframe=eq.d1", NULL, &r, &e), 0);
    assert_string_equal(r.symbol, "AAPL");
    assert_int_equal(r.tf, BK_TF_D1);
    assert_int_equal(bk_req_subscribe(NULL, NULL, NULL, "9223372036854775807", &r, &e), 0);
    assert_true(r.last_event_id == (uint64_t)INT64_MAX);
    assert_int_equal(bk_req_subscribe(NULL, NULL, NULL, "0", &r, &e), 0);
    assert_int_equal(r.last_event_id, 0);
}

static void test_subscribe_errors(void **state)
{
    (void)state;
    bk_sub_req r;
    bk_api_error e = {0};
    static const struct {
        const char *symbol, *tf, *filter, *id, *code, *want;
    } cases[] = {
        {"A$", NULL, NULL, NULL, "invalid_symbol", "\"A$\""},
        {NULL, "7m", NULL, NULL, "invalid_timeframe", "\"7m\""},
        {NULL, NULL, "symbol", NULL, "invalid_filter", "\"symbol\""},
        {NULL, NULL, "symbol=AAPL", NULL, "invalid_filter", "\"symbol=AAPL\""},
        {NULL, NULL, "symbol=neq.AAPL", NULL, "invalid_filter", "symbol=neq.AAPL"},
        {NULL, NULL, "symbol=in.(AAPL,MSFT)", NULL, "invalid_filter", "symbol=in.(AAPL"},
        {NULL, NULL, "symbol=eq", NULL, "invalid_filter", "\"symbol=eq\""},
        {NULL, NULL, "status=eq.failed", NULL, "invalid_filter", "\"status\""},
        {NULL, NULL, "symbol=eq.AAPL,", NULL, "invalid_filter", "trailing comma"},
        {NULL, NULL, ",symbol=eq.AAPL", NULL, "invalid_filter", "\"\""},
        {NULL, NULL, "symbol=eq.AAPL,,timeframe=eq.1h", NULL, "invalid_filter", "\"\""},
        {NULL, NULL, "symbol=eq.", NULL, "invalid_symbol", "\"\""},
        {NULL, NULL, "symbol=eq.A B", NULL, "invalid_symbol", "\"A B\""},
        {NULL, NULL, "timeframe=eq.2h", NULL, "invalid_timeframe", "\"2h\""},
        {"MSFT", NULL, "symbol=eq.AAPL", NULL, "invalid_filter", "MSFT"},
        {NULL, "1h", "timeframe=eq.4h", NULL, "invalid_filter", "4h"},
        {NULL, NULL, "symbol=eq.AAPL,symbol=eq.MSFT", NULL, "invalid_filter", "AAPL"},
        {NULL, NULL, NULL, "abc", "invalid_event_id", "\"abc\""},
        {NULL, NULL, NULL, "-1", "invalid_event_id", "\"-1\""},
        {NULL, NULL, NULL, "+1", "invalid_event_id", "\"+1\""},
        {NULL, NULL, NULL, "12 ", "invalid_event_id", "\"12 \""},
        {NULL, NULL, NULL, "99999999999999999999", "invalid_event_id", "99999999999999999999"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&e, 0, sizeof e);
        int rc =
            bk_req_subscribe(cases[i].symbol, cases[i].tf, cases[i].filter, cases[i].id, &r, &e);
        if (rc == 0)
            fail_msg("case %zu (%s) accepted", i, cases[i].code);
        check_fail(rc, &e, 400, cases[i].code, cases[i].want);
    }
    /* duplicate but equal terms are fine */
    assert_int_equal(bk_req_subscribe(NULL, NULL, "symbol=eq.AAPL,symbol=eq.aapl", NULL, &r, &e),
                     0);
}

/* ---------------------------------------------------------------- credentials */

static void test_credentials(void **state)
{
    (void)state;
    char key[64];
    bk_api_error e = {0};
    assert_int_equal(bk_req_credentials("Bearer sk-123.abc", NULL, key, sizeof key, &e), 0);
    assert_string_equal(key, "sk-123.abc");
    assert_int_equal(bk_req_credentials("bearer   tok", NULL, key, sizeof key, &e), 0);
    assert_string_equal(key, "tok");
    assert_int_equal(bk_req_credentials("BEARER tok ", NULL, key, sizeof key, &e), 0);
    assert_string_equal(key, "tok");
    assert_int_equal(bk_req_credentials(NULL, "anon-key", key, sizeof key, &e), 0);
    assert_string_equal(key, "anon-key");
    assert_int_equal(bk_req_credentials(NULL, " anon-key\t", key, sizeof key, &e), 0);
    assert_string_equal(key, "anon-key");
    /* the Authorization header wins over apikey (Supabase clients send both) */
    assert_int_equal(bk_req_credentials("Bearer user-jwt", "anon-key", key, sizeof key, &e), 0);
    assert_string_equal(key, "user-jwt");
    /* exactly cap-1 bytes fit */
    char small[4];
    assert_int_equal(bk_req_credentials("Bearer abc", NULL, small, sizeof small, &e), 0);
    assert_string_equal(small, "abc");

    assert_int_equal(bk_req_credentials(NULL, NULL, key, sizeof key, &e), BK_ENOENT);
    assert_int_equal(e.status, 401);
    assert_string_equal(e.code, "unauthorized");
    assert_string_equal(key, "");
}

static void test_credentials_errors(void **state)
{
    (void)state;
    char key[8];
    bk_api_error e = {0};
    static const struct {
        const char *auth, *apikey, *want;
    } cases[] = {
        {"Basic dXNlcjpwYXNz", NULL, "\"Basic\""},
        {"Bearer", NULL, "empty key"},
        {"Bearer    ", NULL, "empty key"},
        {"", "anon", "\"\""},
        {"Bearertok", NULL, "\"Bearertok\""},
        {"Bearer\ttok", NULL, "Bearer"},
        {"Token tok", NULL, "\"Token\""},
        {"Bearer tok en", NULL, "space or control"},
        {"Bearer tok\x01", NULL, "space or control"},
        {"Bearer 12345678", NULL, "longer than 7 bytes"},
        {NULL, "", "empty key in the apikey header"},
        {NULL, "a b", "apikey"},
        {NULL, "123456789", "longer than 7"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&e, 0, sizeof e);
        int rc = bk_req_credentials(cases[i].auth, cases[i].apikey, key, sizeof key, &e);
        if (rc == 0)
            fail_msg("case %zu accepted", i);
        check_fail(rc, &e, 401, "unauthorized", cases[i].want);
        assert_string_equal(key, "");
    }
    /* the key is never echoed */
    int rc = bk_req_credentials("Bearer secret-but-too-long", NULL, key, sizeof key, &e);
    check_fail(rc, &e, 401, "unauthorized", NULL);
    assert_null(strstr(e.msg, "secret"));
    rc = bk_req_credentials(NULL, "secret\x7f", key, sizeof key, &e);
    check_fail(rc, &e, 401, "unauthorized", NULL);
    assert_null(strstr(e.msg, "secret"));
    rc = bk_req_credentials("Bearer x", NULL, key, 0, &e);
    check_fail(rc, &e, 401, "unauthorized", "longer than 0");
}

static void test_fail(void **state)
{
    (void)state;
    bk_api_error e;
    assert_int_equal(bk_api_fail(&e, 415, "unsupported_media_type", "got %s", "text/plain"),
                     BK_EINVAL);
    assert_int_equal(e.status, 415);
    assert_string_equal(e.code, "unsupported_media_type");
    assert_string_equal(e.msg, "got text/plain");
    char longmsg[400];
    memset(longmsg, 'm', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    bk_api_fail(&e, 400, "a_very_long_code_that_does_not_fit_in_forty_bytes", "%s", longmsg);
    assert_int_equal(strlen(e.code), sizeof e.code - 1);
    assert_int_equal(strlen(e.msg), sizeof e.msg - 1);
}

/* ---------------------------------------------------------------- jwt */

#define SECRET  "jwt-secret-0123456789abcdef0123456789abcdef"
#define JWT_NOW INT64_C(1780000000)

static char *jwt(const char *header, const char *payload, const char *secret)
{
    bk_buf b;
    bk_buf_init(&b);
    bk_jwt_sign(&b, header, payload, secret, strlen(secret));
    return b.data;
}

static int verify(const char *token, bk_jwt_claims *c, bk_api_error *e)
{
    return bk_jwt_verify(c, token, strlen(token), SECRET, strlen(SECRET), JWT_NOW, e);
}

/* A token signed by secret with header and payload fails with code, and the
 * message mentions want. */
static void jwt_refused(const char *header, const char *payload, const char *secret,
                        const char *code, const char *want)
{
    char *t = jwt(header, payload, secret);
    bk_jwt_claims c;
    bk_api_error e;
    check_fail(verify(t, &c, &e), &e, 401, code, want);
    free(t);
}

static void test_jwt(void **state)
{
    (void)state;
    static const char *const roles[] = {"anon", "authenticated", "service_role"};
    for (size_t i = 0; i < 3; i++) {
        char payload[160];
        snprintf(payload, sizeof payload,
                 "{\"iss\":\"supabase\",\"role\":\"%s\",\"iat\":1700000000,"
                 "\"exp\":1780000001,\"nbf\":1780000000.5}",
                 roles[i]);
        char *t = jwt(NULL, payload, SECRET);
        assert_true(bk_jwt_shaped(t));
        bk_jwt_claims c;
        bk_api_error e;
        assert_int_equal(verify(t, &c, &e), 0);
        assert_string_equal(c.role, roles[i]);
        assert_true(c.has_exp && c.exp_s == 1780000001 && c.has_nbf && c.nbf_s == 1780000000);
        free(t);
    }
    /* no exp: valid for ever; a header with kid and typ other than JWT is fine */
    char *t = jwt("{\"alg\":\"HS256\",\"kid\":\"k1\"}", "{\"role\":\"anon\"}", SECRET);
    bk_jwt_claims c;
    bk_api_error e;
    assert_int_equal(verify(t, &c, &e), 0);
    assert_false(c.has_exp);
    free(t);
}

static void test_jwt_refused(void **state)
{
    (void)state;
    const char *role = "{\"role\":\"anon\"}";
    jwt_refused(NULL, "{\"role\":\"anon\",\"exp\":1780000000}", SECRET, "jwt_expired", "expired");
    jwt_refused(NULL, "{\"role\":\"anon\",\"nbf\":1780000060}", SECRET, "invalid_jwt",
                "not valid before");
    jwt_refused(NULL, role, "another-secret-0123456789abcdef0123456789", "invalid_jwt",
                "bad signature");
    jwt_refused("{\"alg\":\"none\"}", role, SECRET, "invalid_jwt", "HS256");
    jwt_refused("{\"alg\":\"HS512\"}", role, SECRET, "invalid_jwt", "HS256");
    jwt_refused("{\"alg\":\"hs256\"}", role, SECRET, "invalid_jwt", "HS256");
    jwt_refused("{\"typ\":\"JWT\"}", role, SECRET, "invalid_jwt", "no alg");
    jwt_refused("{\"alg\":\"HS256\",\"crit\":[\"b64\"]}", role, SECRET, "invalid_jwt", "crit");
    jwt_refused("[\"HS256\"]", role, SECRET, "invalid_jwt", "header");
    jwt_refused(NULL, "[1]", SECRET, "invalid_jwt", "payload");
    jwt_refused(NULL, "{\"role\":7}", SECRET, "invalid_jwt", "role");
    jwt_refused(NULL, "{\"role\":\"anon\",\"exp\":\"soon\"}", SECRET, "invalid_jwt", "exp");
    /* malformed compact forms */
    char *good = jwt(NULL, role, SECRET);
    size_t n = strlen(good);
    const char *dot2 = strrchr(good, '.');
    char buf[512];
    bk_jwt_claims c;
    bk_api_error e;
    static const char *const shapes[] = {"", ".", "..", "a.b", "a.b.c.d", ".b.c", "a..c", "a.b."};
    for (size_t i = 0; i < BK_ARRAY_LEN(shapes); i++) {
        assert_false(bk_jwt_shaped(shapes[i]));
        check_fail(verify(shapes[i], &c, &e), &e, 401, "invalid_jwt", "header.payload.signature");
    }
    snprintf(buf, sizeof buf, "%s=", good); /* padding */
    check_fail(verify(buf, &c, &e), &e, 401, "invalid_jwt", "signature");
    snprintf(buf, sizeof buf, "%.*s", (int)(n - 1), good); /* 42 characters: not 32 bytes */
    check_fail(verify(buf, &c, &e), &e, 401, "invalid_jwt", "signature");
    /* the signature's last character with its unused bits set: the same
     * bytes spelled another way */
    snprintf(buf, sizeof buf, "%s", good);
    char *last = buf + n - 1;
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    *last = abc[(strchr(abc, *last) - abc) | 1];
    check_fail(verify(buf, &c, &e), &e, 401, "invalid_jwt", "signature");
    snprintf(buf, sizeof buf, "%.*s+%s", (int)(dot2 - good - 1), good, dot2); /* not base64url */
    check_fail(verify(buf, &c, &e), &e, 401, "invalid_jwt", NULL);
    free(good);
    /* base64url alone */
    unsigned char out[8];
    size_t len;
    assert_int_equal(bk_jwt_b64url_decode(out, sizeof out, &len, "YWJj", 4), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(out, "abc", 3);
    assert_int_equal(bk_jwt_b64url_decode(out, sizeof out, &len, "YQ", 2), 0);
    assert_int_equal(len, 1);
    assert_int_equal(bk_jwt_b64url_decode(out, sizeof out, &len, "YR", 2), BK_EINVAL);
    assert_int_equal(bk_jwt_b64url_decode(out, sizeof out, &len, "YQ==", 4), BK_EINVAL);
    assert_int_equal(bk_jwt_b64url_decode(out, sizeof out, &len, "Y", 1), BK_EINVAL);
    assert_int_equal(bk_jwt_b64url_decode(out, sizeof out, &len, "Y/8", 3), BK_EINVAL);
    assert_int_equal(bk_jwt_b64url_decode(out, 2, &len, "YWJj", 4), BK_EINVAL); /* cap */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jr_types),
        cmocka_unit_test(test_jr_rules),
        cmocka_unit_test(test_jr_depth),
        cmocka_unit_test(test_ensure_guide),
        cmocka_unit_test(test_ensure_defaults_ranges),
        cmocka_unit_test(test_ensure_errors),
        cmocka_unit_test(test_body_limits),
        cmocka_unit_test(test_chart),
        cmocka_unit_test(test_fetch_bars),
        cmocka_unit_test(test_action),
        cmocka_unit_test(test_ops),
        cmocka_unit_test(test_subscribe),
        cmocka_unit_test(test_subscribe_errors),
        cmocka_unit_test(test_credentials),
        cmocka_unit_test(test_credentials_errors),
        cmocka_unit_test(test_fail),
        cmocka_unit_test(test_jwt),
        cmocka_unit_test(test_jwt_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
