/*
 * test_conf.c — settings: defaults, environment, --set, bounds and errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"

static void test_defaults(void **state)
{
    (void)state;
    bk_conf c;
    bk_conf_defaults(&c);
    assert_int_equal(c.workers, 5); /* the guide's MAX_CONCURRENT_JOBS */
    assert_int_equal(c.max_attempts, 5);
    assert_int_equal(c.slice_hours[BK_JOB_INTRADAY], 0); /* auto: one request (else 2 h) */
    assert_int_equal(c.max_slices[BK_JOB_INTRADAY], 5);  /* the guide's maxSlicesPerTick */
    assert_string_equal(c.anchor, "session");
    assert_true(c.sim_fault_rate == 0.0);
    assert_string_equal(c.closures_file, "");
}

static void test_set(void **state)
{
    (void)state;
    bk_conf c;
    bk_conf_defaults(&c);
    bk_err err = {0};
    assert_int_equal(bk_conf_set_pair(&c, "workers=8", &err), 0);
    assert_int_equal(c.workers, 8);
    assert_int_equal(bk_conf_set_pair(&c, "sim_fault_rate=0.25", &err), 0);
    assert_true(c.sim_fault_rate == 0.25);
    assert_int_equal(bk_conf_set_pair(&c, "anchor=clock", &err), 0);
    assert_string_equal(c.anchor, "clock");
    assert_int_equal(bk_conf_set_pair(&c, "anchor=noon", &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "noon"));
    assert_string_equal(c.anchor, "clock"); /* unchanged on error */
    assert_int_equal(bk_conf_set_pair(&c, "workers=257", &err), BK_ERANGE);
    assert_non_null(strstr(err.msg, "workers"));
    assert_int_equal(c.workers, 8); /* unchanged on error */
    assert_int_equal(bk_conf_set_pair(&c, "workers=two", &err), BK_EINVAL);
    assert_int_equal(bk_conf_set_pair(&c, "sim_fault_rate=1.5", &err), BK_ERANGE);
    assert_int_equal(bk_conf_set_pair(&c, "sim_fault_rate=nan", &err), BK_EINVAL);
    assert_int_equal(bk_conf_set_pair(&c, "nope=1", &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "nope"));
    assert_int_equal(bk_conf_set_pair(&c, "workers", &err), BK_EINVAL);
    assert_int_equal(bk_conf_set_pair(&c, "=3", &err), BK_EINVAL);
}

static void test_env(void **state)
{
    (void)state;
    bk_conf c;
    bk_conf_defaults(&c);
    bk_err err = {0};
    setenv("BARKEEP_LEASE_MS", "1234", 1);
    setenv("BARKEEP_SLICE_HOURS_INTRADAY", "4", 1);
    assert_int_equal(bk_conf_from_env(&c, &err), 0);
    assert_int_equal(c.lease_ms, 1234);
    assert_int_equal(c.slice_hours[BK_JOB_INTRADAY], 4);
    setenv("BARKEEP_MAX_ATTEMPTS", "-1", 1);
    assert_int_equal(bk_conf_from_env(&c, &err), BK_ERANGE);
    assert_non_null(strstr(err.msg, "BARKEEP_MAX_ATTEMPTS"));
    unsetenv("BARKEEP_MAX_ATTEMPTS");
    unsetenv("BARKEEP_LEASE_MS");
    unsetenv("BARKEEP_SLICE_HOURS_INTRADAY");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
