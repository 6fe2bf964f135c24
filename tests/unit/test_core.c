/*
 * test_core.c — core helpers: error names and classification, strict integer
 * parsing, buffers, UUIDs, the clock started at a fixed instant.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/util.h"

static void test_errors(void **state)
{
    (void)state;
    assert_string_equal(bk_err_name(BK_EPROV_5XX), "EPROV_5XX");
    assert_string_equal(bk_err_name(0), "OK");
    assert_string_equal(bk_err_name(-123456), "E?");
    assert_string_equal(bk_err_run_code(BK_EPROV_RATE), "PROVIDER_RATE_LIMITED");
    assert_string_equal(bk_err_run_code(BK_EBADBAR), "INVALID_BAR");
    assert_string_equal(bk_err_run_code(-99999), "INTERNAL_ERROR");
    assert_true(bk_err_retryable(BK_EPROV_5XX));
    assert_true(bk_err_retryable(BK_ETIMEDOUT));
    assert_true(bk_err_retryable(BK_EPROV_MALFORMED));
    assert_true(bk_err_retryable(BK_EBADBAR));
    assert_false(bk_err_retryable(BK_EPROV_AUTH));
    assert_false(bk_err_retryable(BK_EPROV_SYMBOL));
    bk_err e = {0};
    assert_int_equal(bk_err_set(&e, BK_EINVAL, "bad %s", "thing"), BK_EINVAL);
    assert_string_equal(e.msg, "bad thing");
    assert_int_equal(bk_err_set(NULL, BK_EIO, "x"), BK_EIO);
    assert_string_equal(bk_strerror(BK_ELEASE), "run lease lost to another worker");
}

static void test_parse_i64(void **state)
{
    (void)state;
    int64_t v = 7;
    assert_int_equal(bk_parse_i64("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(bk_parse_i64("-5", -10, 10, &v), 0);
    assert_int_equal(v, -5);
    assert_int_equal(bk_parse_i64("9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
    assert_int_equal(v, INT64_MAX);
    assert_int_equal(bk_parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(bk_parse_i64("9223372036854775808", INT64_MIN, INT64_MAX, &v), BK_ERANGE);
    assert_int_equal(bk_parse_i64("101", 0, 100, &v), BK_ERANGE);
    const char *bad[] = {"", "x", "1x", " 1", "1 ", "--1", "+", "0x10", "1.5", NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(bk_parse_i64(bad[i], INT64_MIN, INT64_MAX, &v), BK_EINVAL);
    assert_int_equal(bk_parse_i64(NULL, 0, 1, &v), BK_EINVAL);
}

static void test_buf(void **state)
{
    (void)state;
    bk_buf b;
    bk_buf_init(&b);
    for (int i = 0; i < 1000; i++)
        bk_buf_printf(&b, "%d,", i);
    assert_int_equal(b.len, strlen(b.data));
    assert_memory_equal(b.data, "0,1,2,", 6);
    bk_buf_reset(&b);
    assert_string_equal(b.data, "");
    bk_buf_puts(&b, "abc");
    bk_buf_append(&b, "def", 2);
    assert_string_equal(b.data, "abcde");
    bk_buf_fini(&b);

    /* A cap: what would pass it is not appended, and the buffer stays over
     * (even for what would fit) until reset. */
    bk_buf_init_max(&b, 8);
    bk_buf_puts(&b, "12345");
    bk_buf_printf(&b, "%d", 678);
    assert_false(bk_buf_over(&b));
    assert_string_equal(b.data, "12345678");
    bk_buf_append(&b, "9", 1);
    assert_true(bk_buf_over(&b));
    assert_string_equal(b.data, "12345678");
    bk_buf_reset(&b);
    assert_false(bk_buf_over(&b));
    bk_buf_printf(&b, "%s", "123456789");
    assert_true(bk_buf_over(&b));
    assert_int_equal(b.len, 0);
    bk_buf_puts(&b, "1");
    assert_int_equal(b.len, 0); /* over is sticky */
    bk_buf_fini(&b);
    char small[4];
    assert_int_equal(bk_strlcpy(small, "hello", sizeof small), 5);
    assert_string_equal(small, "hel");
}

static void test_uuid(void **state)
{
    (void)state;
    char a[37], b[37];
    bk_uuid4(a);
    bk_uuid4(b);
    assert_int_equal(strlen(a), 36);
    assert_string_not_equal(a, b);
    assert_true(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
    assert_true(a[14] == '4');
    assert_non_null(strchr("89ab", a[19]));
}

static void test_clock_start_at(void **state)
{
    (void)state;
    int64_t t = INT64_C(1720000000) * BK_US_PER_S;
    bk_clock_start_at(t);
    int64_t now = bk_clock_now_us();
    assert_true(now >= t && now < t + 5 * BK_US_PER_S);
    int64_t m0 = bk_clock_mono_us();
    bk_sleep_us(2000);
    assert_true(bk_clock_mono_us() - m0 >= 2000);
    assert_true(bk_clock_now_us() >= now);
}

static void test_hash(void **state)
{
    (void)state;
    assert_true(bk_hash_bytes(1, "AAPL", 4) == bk_hash_bytes(1, "AAPL", 4));
    assert_true(bk_hash_bytes(1, "AAPL", 4) != bk_hash_bytes(2, "AAPL", 4));
    assert_true(bk_hash_bytes(1, "AAPL", 4) != bk_hash_bytes(1, "AAPM", 4));
    for (uint64_t i = 0; i < 1000; i++) {
        double u = bk_unit(bk_mix64(i));
        assert_true(u >= 0.0 && u < 1.0);
    }
}

/* Issue 13.5: lease owners name their process well enough to tell a dead
 * one of this host from a live one, a reused pid, or another host's. */
static void test_owner_dead(void **state)
{
    (void)state;
    char me[400], o[420];
    snprintf(me, sizeof me, "%s:w0", bk_host_id());
    assert_false(bk_owner_dead(me)); /* this process */
    const char *colon = strchr(me, ':');
    assert_non_null(colon);
    int host_len = (int)(colon - me);
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    assert_true(child > 0);
    int st;
    assert_int_equal(waitpid(child, &st, 0), child);
    snprintf(o, sizeof o, "%.*s:%ld:w0", host_len, me, (long)child);
    assert_true(bk_owner_dead(o)); /* exited and reaped */
    snprintf(o, sizeof o, "%.*s:%ld:scheduler", host_len, me, (long)getppid());
    assert_false(bk_owner_dead(o)); /* alive, no start time to compare */
    const char *at = strchr(me, '@');
    if (at) { /* Linux: start time and pid namespace */
        char *end;
        long long start = strtoll(at + 1, &end, 10);
        assert_int_equal(*end, '.');
        unsigned long long ns = strtoull(end + 1, NULL, 10);
        snprintf(o, sizeof o, "%.*s:%ld@%lld.%llu:w0", host_len, me, (long)getpid(), start + 1, ns);
        assert_true(bk_owner_dead(o)); /* our pid, an earlier process: pid reused */
        snprintf(o, sizeof o, "%.*s:%ld@%lld.%llu:w0", host_len, me, (long)child, start, ns + 1);
        assert_false(bk_owner_dead(o)); /* another pid namespace: cannot tell */
    }
    snprintf(o, sizeof o, "not-%s", me);
    assert_false(bk_owner_dead(o)); /* another host */
    assert_false(bk_owner_dead("w"));
    assert_false(bk_owner_dead(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_parse_i64),
        cmocka_unit_test(test_buf),
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_clock_start_at),
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_owner_dead),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
