/*
 * test_json.c — the streaming JSON writer (json/jw.c): commas and nesting,
 * string escapes, replacement of invalid UTF-8, numbers, null and instants.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/clock.h"
#include "json/jw.h"
#include "model/time.h"

typedef struct fixture {
    bk_buf buf;
    bk_jw w;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    bk_buf_init(&f->buf);
    bk_jw_init(&f->w, &f->buf);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    bk_buf_fini(&f->buf);
    free(f);
    return 0;
}

static void test_nested(void **state)
{
    fixture *f = *state;
    bk_jw *w = &f->w;
    bk_jw_obj_begin(w);
    bk_jw_key(w, "a");
    bk_jw_int(w, 1);
    bk_jw_key(w, "b");
    bk_jw_arr_begin(w);
    bk_jw_int(w, 1);
    bk_jw_str(w, "two");
    bk_jw_obj_begin(w);
    bk_jw_key(w, "c");
    bk_jw_null(w);
    bk_jw_key(w, "d");
    bk_jw_bool(w, true);
    bk_jw_obj_end(w);
    bk_jw_arr_begin(w);
    bk_jw_arr_end(w);
    bk_jw_bool(w, false);
    bk_jw_arr_end(w);
    bk_jw_key(w, "e");
    bk_jw_obj_begin(w);
    bk_jw_obj_end(w);
    bk_jw_key(w, "f");
    bk_jw_str(w, NULL);
    bk_jw_obj_end(w);
    assert_string_equal(f->buf.data,
                        "{\"a\":1,\"b\":[1,\"two\",{\"c\":null,\"d\":true},[],false],\"e\":{},"
                        "\"f\":null}");
    assert_int_equal(w->depth, 0);
}

static void test_deep_nesting(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < BK_JW_DEPTH - 1; i++)
        bk_jw_arr_begin(&f->w);
    bk_jw_int(&f->w, 7);
    bk_jw_int(&f->w, 8);
    for (int i = 0; i < BK_JW_DEPTH - 1; i++)
        bk_jw_arr_end(&f->w);
    char want[2 * BK_JW_DEPTH + 8];
    size_t n = 0;
    for (int i = 0; i < BK_JW_DEPTH - 1; i++)
        want[n++] = '[';
    memcpy(want + n, "7,8", 3);
    n += 3;
    for (int i = 0; i < BK_JW_DEPTH - 1; i++)
        want[n++] = ']';
    want[n] = '\0';
    assert_string_equal(f->buf.data, want);
}

/* Write one string value and compare the whole output. */
static void expect_str(fixture *f, const char *in, const char *want)
{
    bk_buf_reset(&f->buf);
    bk_jw_init(&f->w, &f->buf);
    bk_jw_str(&f->w, in);
    assert_string_equal(f->buf.data, want);
}

static void test_escapes(void **state)
{
    fixture *f = *state;
    expect_str(f, "", "\"\"");
    expect_str(f, "plain text", "\"plain text\"");
    expect_str(f, "a\"b\\c/d", "\"a\\\"b\\\\c/d\"");
    expect_str(f, "\n\t\r\b\f", "\"\\u000a\\u0009\\u000d\\u0008\\u000c\"");
    expect_str(f, "\x01\x1f x\x7f", "\"\\u0001\\u001f x\x7f\"");

    bk_buf_reset(&f->buf);
    bk_jw_init(&f->w, &f->buf);
    bk_jw_obj_begin(&f->w);
    bk_jw_key(&f->w, "k\"\n");
    bk_jw_str(&f->w, "v");
    bk_jw_obj_end(&f->w);
    assert_string_equal(f->buf.data, "{\"k\\\"\\u000a\":\"v\"}");
}

#define FFFD "\xef\xbf\xbd"

static void test_utf8(void **state)
{
    fixture *f = *state;
    /* Well-formed sequences of every length pass through unchanged. */
    expect_str(f, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf",
               "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"");
    expect_str(f, "\xed\x9f\xbf", "\"\xed\x9f\xbf\""); /* U+D7FF, just below surrogates */
    expect_str(f, "\xef\xbf\xbf", "\"\xef\xbf\xbf\""); /* U+FFFF */
    /* Invalid bytes become U+FFFD one by one. */
    expect_str(f,
               "a\xff"
               "b",
               "\"a" FFFD "b\"");
    expect_str(f, "\x80", "\"" FFFD "\"");                            /* lone continuation */
    expect_str(f, "\xc3", "\"" FFFD "\"");                            /* truncated at end */
    expect_str(f, "\xc3x", "\"" FFFD "x\"");                          /* truncated mid-string */
    expect_str(f, "\xe2\x82", "\"" FFFD FFFD "\"");                   /* truncated 3-byte */
    expect_str(f, "\xc0\xaf", "\"" FFFD FFFD "\"");                   /* overlong '/' */
    expect_str(f, "\xc1\xbf", "\"" FFFD FFFD "\"");                   /* overlong */
    expect_str(f, "\xe0\x80\xaf", "\"" FFFD FFFD FFFD "\"");          /* overlong 3-byte */
    expect_str(f, "\xf0\x80\x80\xaf", "\"" FFFD FFFD FFFD FFFD "\""); /* overlong 4-byte */
    expect_str(f, "\xed\xa0\x80", "\"" FFFD FFFD FFFD "\"");          /* surrogate U+D800 */
    expect_str(f, "\xf4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\""); /* above U+10FFFF */
    expect_str(f, "\xf5\x80\x80\x80", "\"" FFFD FFFD FFFD FFFD "\"");
    expect_str(f, "\xe2\x28\xa1", "\"" FFFD "(" FFFD "\"");
}

/* Write one double and return the output (valid until the next call). */
static const char *num(fixture *f, double v)
{
    bk_buf_reset(&f->buf);
    bk_jw_init(&f->w, &f->buf);
    bk_jw_num(&f->w, v);
    return f->buf.data;
}

static void test_numbers(void **state)
{
    fixture *f = *state;
    assert_string_equal(num(f, 191.0), "191");
    assert_string_equal(num(f, 0.0), "0");
    assert_string_equal(num(f, -2.5), "-2.5");
    assert_string_equal(num(f, 0.1), "0.1");
    assert_string_equal(num(f, 123.456), "123.456");
    assert_string_equal(num(f, 1.0 / 3.0), "0.3333333333333333");
    assert_string_equal(num(f, 0.1 + 0.2), "0.30000000000000004");
    assert_string_equal(num(f, 1e300), "1e+300");
    assert_string_equal(num(f, 1e-7), "1e-07");
    assert_string_equal(num(f, NAN), "null");
    assert_string_equal(num(f, INFINITY), "null");
    assert_string_equal(num(f, -INFINITY), "null");

    /* Round trip for many bit patterns. */
    uint64_t x = 0x243f6a8885a308d3ULL;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double d;
        memcpy(&d, &x, sizeof d);
        const char *s = num(f, d);
        if (!isfinite(d)) {
            assert_string_equal(s, "null");
            continue;
        }
        assert_true(strlen(s) <= 24);
        assert_true(strtod(s, NULL) == d);
    }

    bk_buf_reset(&f->buf);
    bk_jw_init(&f->w, &f->buf);
    bk_jw_arr_begin(&f->w);
    bk_jw_int(&f->w, 0);
    bk_jw_int(&f->w, -42);
    bk_jw_int(&f->w, INT64_MAX);
    bk_jw_int(&f->w, INT64_MIN);
    bk_jw_num(&f->w, 1.5);
    bk_jw_arr_end(&f->w);
    assert_string_equal(f->buf.data, "[0,-42,9223372036854775807,-9223372036854775808,1.5]");
}

static void test_time(void **state)
{
    fixture *f = *state;
    int64_t t = (int64_t)bk_days_from_civil(2024, 6, 3) * BK_US_PER_DAY + 13 * BK_US_PER_HOUR +
                30 * BK_US_PER_MIN;
    bk_jw *w = &f->w;
    bk_jw_obj_begin(w);
    bk_jw_key(w, "ts");
    bk_jw_time(w, t);
    bk_jw_key(w, "ms");
    bk_jw_time(w, t + 250000);
    bk_jw_key(w, "none");
    bk_jw_time(w, 0);
    bk_jw_key(w, "old");
    bk_jw_time(w, -1);
    bk_jw_obj_end(w);
    assert_string_equal(f->buf.data,
                        "{\"ts\":\"2024-06-03T13:30:00Z\",\"ms\":\"2024-06-03T13:30:00.250Z\","
                        "\"none\":null,\"old\":\"1969-12-31T23:59:59.999999Z\"}");
}

/* The shortest %.15g..%.17g text that reads back as v (the writer's slow path). */
static void reference_num(double v, char *out, size_t cap)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

/* Numbers written by the fast path read back exactly and match the slow
 * path's text, for prices in cents, volumes, fractions and random doubles. */
static void test_number_round_trip(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        switch (i % 4) {
        case 0:
            v = (double)(x % 10000000) / 100.0;
            break; /* prices */
        case 1:
            v = (double)(x % 100000000000ULL);
            break; /* volumes */
        case 2:
            v = -(double)(x % 1000000) / 1e6;
            break; /* fractions */
        default:
            v = (double)(x >> 11) / 9007199254740992.0 * 1e6; /* anything */
        }
        bk_buf b;
        bk_buf_init(&b);
        bk_jw w;
        bk_jw_init(&w, &b);
        bk_jw_num(&w, v);
        assert_true(strtod(b.data, NULL) == v);
        char ref[40];
        reference_num(v, ref, sizeof ref);
        if (strcmp(ref, b.data) != 0 && strtod(ref, NULL) == v)
            assert_true(strlen(b.data) <= strlen(ref)); /* never longer than the reference */
        bk_buf_fini(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nested, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_nesting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time, setup, teardown),
        cmocka_unit_test(test_number_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
