/*
 * test_time.c — civil-day arithmetic and the strict ISO-8601 parser and
 * formatter of model/time.c: round trips over a wide range of days, every
 * accepted text form, a long list of rejected ones, and format/parse round
 * trips including fractions and instants before 1970.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/clock.h"
#include "core/err.h"
#include "model/time.h"

/* Instant for a UTC civil time, built independently of the parser. */
static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
    return (int64_t)bk_days_from_civil(y, mo, d) * BK_US_PER_DAY + h * BK_US_PER_HOUR +
           mi * BK_US_PER_MIN + s * BK_US_PER_S;
}

static void test_civil_known(void **state)
{
    (void)state;
    assert_int_equal(bk_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(bk_days_from_civil(1970, 1, 2), 1);
    assert_int_equal(bk_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(bk_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(bk_days_from_civil(2024, 6, 3), 19877);
    assert_int_equal(bk_days_from_civil(1900, 1, 1), -25567);
    int y, m, d;
    bk_civil_from_days(-25567, &y, &m, &d);
    assert_true(y == 1900 && m == 1 && d == 1);
}

/* Each day number maps to a valid date, and consecutive days are
 * consecutive dates; covers negative days and several 400-year eras. */
static void test_civil_round_trip(void **state)
{
    (void)state;
    int py, pm, pd;
    bk_civil_from_days(-1000000 - 1, &py, &pm, &pd);
    for (int32_t days = -1000000; days <= 1000000; days++) {
        int y, m, d;
        bk_civil_from_days(days, &y, &m, &d);
        assert_true(bk_date_valid(y, m, d));
        assert_int_equal(bk_days_from_civil(y, m, d), days);
        bool next_day = y == py && m == pm && d == pd + 1;
        bool next_month = y == py && m == pm + 1 && d == 1;
        bool next_year = y == py + 1 && m == 1 && d == 1 && pm == 12 && pd == 31;
        assert_true(next_day || next_month || next_year);
        py = y, pm = m, pd = d;
    }
}

static void test_weekday(void **state)
{
    (void)state;
    assert_int_equal(bk_weekday(0), 4);                                /* Thu 1970-01-01 */
    assert_int_equal(bk_weekday(bk_days_from_civil(2024, 6, 3)), 1);   /* Monday */
    assert_int_equal(bk_weekday(bk_days_from_civil(1969, 12, 28)), 0); /* Sunday */
    assert_int_equal(bk_weekday(bk_days_from_civil(1900, 1, 1)), 1);   /* Monday */
    assert_int_equal(bk_weekday(bk_days_from_civil(2000, 1, 1)), 6);   /* Saturday */
    for (int32_t days = -100000; days < 100000; days++) {
        int wd = bk_weekday(days);
        assert_true(wd >= 0 && wd <= 6);
        assert_int_equal(bk_weekday(days + 1), (wd + 1) % 7);
    }
}

static void test_leap_years(void **state)
{
    (void)state;
    assert_true(bk_date_valid(2024, 2, 29));
    assert_true(bk_date_valid(2000, 2, 29));
    assert_true(bk_date_valid(1600, 2, 29));
    assert_false(bk_date_valid(1900, 2, 29));
    assert_false(bk_date_valid(2100, 2, 29));
    assert_false(bk_date_valid(2023, 2, 29));
    assert_false(bk_date_valid(2024, 2, 30));
    assert_false(bk_date_valid(2024, 4, 31));
    assert_true(bk_date_valid(2024, 12, 31));
    assert_false(bk_date_valid(2024, 13, 1));
    assert_false(bk_date_valid(2024, 0, 1));
    assert_false(bk_date_valid(2024, 1, 0));
    for (int y = 1900; y <= 2200; y++) {
        int len = bk_days_from_civil(y + 1, 1, 1) - bk_days_from_civil(y, 1, 1);
        int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        assert_int_equal(len, 365 + leap);
        assert_int_equal(bk_date_valid(y, 2, 29), leap);
    }
}

typedef struct accept_case {
    const char *text;
    int64_t us;
} accept_case;

static void test_parse_accepts(void **state)
{
    (void)state;
    const int64_t base = utc(2024, 6, 3, 13, 30, 0);
    const accept_case cases[] = {
        {"2024-06-03", utc(2024, 6, 3, 0, 0, 0)},
        {"2024-06-03T13:30", base},
        {"2024-06-03 13:30", base},
        {"2024-06-03T13:30:00", base},
        {"2024-06-03T13:30:07", base + 7 * BK_US_PER_S},
        {"2024-06-03T13:30:00.1", base + 100000},
        {"2024-06-03T13:30:00.12", base + 120000},
        {"2024-06-03T13:30:00.123", base + 123000},
        {"2024-06-03T13:30:00.123456", base + 123456},
        {"2024-06-03T13:30:00.000001", base + 1},
        {"2024-06-03T13:30:00.000000", base},
        {"2024-06-03T13:30Z", base},
        {"2024-06-03T13:30z", base},
        {"2024-06-03T13:30:00Z", base},
        {"2024-06-03T13:30:00.5Z", base + 500000},
        {"2024-06-03T09:30-04:00", base},
        {"2024-06-03T09:30:00-0400", base},
        {"2024-06-03T09:30:00.000-04", base},
        {"2024-06-03T15:30+02:00", base},
        {"2024-06-03T15:00+0130", base},
        {"2024-06-03T13:30+00:00", base},
        {"2024-06-03T13:30-00", base},
        {"2024-06-03 23:30+10:00", base},
        {"2024-06-02T23:30-14:00", base},
        {"2024-06-03T00:00:00", utc(2024, 6, 3, 0, 0, 0)},
        {"2024-06-03T23:59:59.999999", utc(2024, 6, 4, 0, 0, 0) - 1},
        {"2024-02-29", utc(2024, 2, 29, 0, 0, 0)},
        {"2000-02-29T12:00", utc(2000, 2, 29, 12, 0, 0)},
        {"1900-01-01", utc(1900, 1, 1, 0, 0, 0)},
        {"1900-01-01T00:00:00-01:00", utc(1900, 1, 1, 1, 0, 0)},
        {"1969-12-31T23:59:59.5", -500000},
        {"2200-12-31T23:59:59.999999", utc(2201, 1, 1, 0, 0, 0) - 1},
        {"2200-12-31T23:00+05:00", utc(2200, 12, 31, 18, 0, 0)},
        {"@1717421400", base},
        {"@0", 0},
        {"@0001717421400", base},
        {"@-1", -BK_US_PER_S},
        {"@-2208988800", utc(1900, 1, 1, 0, 0, 0)},
        {"@7289654399", utc(2201, 1, 1, 0, 0, 0) - BK_US_PER_S},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t us = 42;
        int rc = bk_time_parse(cases[i].text, &us);
        if (rc != 0 || us != cases[i].us)
            fail_msg("%s: rc %d us %lld want %lld", cases[i].text, rc, (long long)us,
                     (long long)cases[i].us);
    }
}

static void test_parse_rejects(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        " ",
        "2024",
        "2024-06",
        "2024-6-03",
        "2024-06-3",
        "24-06-03",
        "02024-06-03",
        " 2024-06-03",
        "2024-06-03 ",
        "2024-06-03\n",
        "2024/06/03",
        "2024-06-03T",
        "2024-06-03T13",
        "2024-06-03T1:30",
        "2024-06-03T13:3",
        "2024-06-03T13:30:",
        "2024-06-03T13:30:0",
        "2024-06-03T13:30:00.",
        "2024-06-03T13:30:00.1234567",
        "2024-06-03T13:30.5",
        "2024-06-03T24:00",
        "2024-06-03T23:60",
        "2024-06-03T23:59:60",
        "2024-06-03t13:30",
        "2024-06-03  13:30",
        "2024-06-03T13:30ZZ",
        "2024-06-03T13:30Z ",
        "2024-06-03T13:30+",
        "2024-06-03T13:30+5",
        "2024-06-03T13:30+05:",
        "2024-06-03T13:30+05:0",
        "2024-06-03T13:30+050",
        "2024-06-03T13:30+05:000",
        "2024-06-03T13:30+24:00",
        "2024-06-03T13:30+05:60",
        "2024-06-03T13:30 +05:00",
        "2024-06-03T13:30UTC",
        "2024-06-03Z",
        "2024-06-03+01:00",
        "2024-00-10",
        "2024-13-10",
        "2024-06-00",
        "2024-06-31",
        "2023-02-29",
        "1900-02-29",
        "2100-02-29",
        "1899-12-31",
        "2201-01-01",
        "9999-12-31",
        "0000-01-01",
        "-2024-06-03",
        "+2024-06-03",
        "2024-06-03T13:30:00,5",
        "2024-06-03T-1:30",
        "2024-06-03T13:-1",
        "1900-01-01T00:30+01:00",
        "2200-12-31T23:30-01:00",
        "@",
        "@-",
        "@+1",
        "@1.5",
        "@1e9",
        "@ 1",
        "@1 ",
        "@abc",
        "@99999999999999999999",
        "@-2208988801",
        "@7289654400",
        "now",
        "today",
        "2024-06-03T13:30:00.123456Z\x01",
        "2024-06-03\xc3\xa9",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t us = 42;
        if (bk_time_parse(bad[i], &us) != BK_EINVAL || us != 42)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    int64_t us = 42;
    assert_int_equal(bk_time_parse(NULL, &us), BK_EINVAL);
    assert_int_equal(us, 42);
}

static void test_date_parse(void **state)
{
    (void)state;
    int32_t days = 7;
    assert_int_equal(bk_date_parse("2024-06-03", &days), 0);
    assert_int_equal(days, bk_days_from_civil(2024, 6, 3));
    assert_int_equal(bk_date_parse("1969-12-31", &days), 0);
    assert_int_equal(days, -1);
    assert_int_equal(bk_date_parse("1900-01-01", &days), 0);
    assert_int_equal(bk_date_parse("2200-12-31", &days), 0);
    const char *bad[] = {"",           "2024-06-03T00:00", "2024-06-03 ",
                         "2024-02-30", "1899-12-31",       "2201-01-01",
                         "2024-6-3",   "20240603",         "@0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        days = 7;
        if (bk_date_parse(bad[i], &days) != BK_EINVAL || days != 7)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_int_equal(bk_date_parse(NULL, &days), BK_EINVAL);
}

static void test_format(void **state)
{
    (void)state;
    char buf[BK_TIME_STR_MAX];
    int64_t base = utc(2024, 6, 3, 13, 30, 0);
    assert_string_equal(bk_time_format(base, buf), "2024-06-03T13:30:00Z");
    assert_string_equal(bk_time_format(base + 123000, buf), "2024-06-03T13:30:00.123Z");
    assert_string_equal(bk_time_format(base + 100000, buf), "2024-06-03T13:30:00.100Z");
    assert_string_equal(bk_time_format(base + 123456, buf), "2024-06-03T13:30:00.123456Z");
    assert_string_equal(bk_time_format(base + 1, buf), "2024-06-03T13:30:00.000001Z");
    assert_string_equal(bk_time_format(base + 1000, buf), "2024-06-03T13:30:00.001Z");
    assert_string_equal(bk_time_format(0, buf), "1970-01-01T00:00:00Z");
    assert_string_equal(bk_time_format(-1, buf), "1969-12-31T23:59:59.999999Z");
    assert_string_equal(bk_time_format(-1000, buf), "1969-12-31T23:59:59.999Z");
    assert_string_equal(bk_time_format(-BK_US_PER_S, buf), "1969-12-31T23:59:59Z");
    assert_string_equal(bk_time_format(-BK_US_PER_DAY, buf), "1969-12-31T00:00:00Z");
    assert_string_equal(bk_time_format(utc(1900, 1, 1, 0, 0, 0), buf), "1900-01-01T00:00:00Z");
    assert_string_equal(bk_time_format(utc(1900, 1, 1, 0, 0, 0) - 1, buf),
                        "1899-12-31T23:59:59.999999Z");
    /* Extremes must not crash or overflow the buffer. */
    assert_true(strlen(bk_time_format(INT64_MIN, buf)) < BK_TIME_STR_MAX);
    assert_true(strlen(bk_time_format(INT64_MAX, buf)) < BK_TIME_STR_MAX);

    char dbuf[11];
    assert_string_equal(bk_date_format(0, dbuf), "1970-01-01");
    assert_string_equal(bk_date_format(-1, dbuf), "1969-12-31");
    assert_string_equal(bk_date_format(bk_days_from_civil(2024, 2, 29), dbuf), "2024-02-29");
    assert_string_equal(bk_date_format(-25567, dbuf), "1900-01-01");
}

/* Tiny deterministic PRNG so the sweep is reproducible. */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void test_format_parse_round_trip(void **state)
{
    (void)state;
    const int64_t lo = utc(1900, 1, 1, 0, 0, 0), hi = utc(2201, 1, 1, 0, 0, 0);
    uint64_t seed = 0x5eed1234abcdULL;
    char buf[BK_TIME_STR_MAX];
    for (int i = 0; i < 200000; i++) {
        int64_t us = lo + (int64_t)(next_rand(&seed) % (uint64_t)(hi - lo));
        switch (i % 4) { /* also exercise whole seconds and milliseconds */
        case 0:
            us -= ((us % BK_US_PER_S) + BK_US_PER_S) % BK_US_PER_S;
            break;
        case 1:
            us -= ((us % 1000) + 1000) % 1000;
            break;
        default:
            break;
        }
        int64_t back = 0;
        bk_time_format(us, buf);
        if (bk_time_parse(buf, &back) != 0 || back != us)
            fail_msg("%lld -> %s -> %lld", (long long)us, buf, (long long)back);
    }
    int32_t days;
    char dbuf[11];
    for (int32_t d = -25567; d < 84000; d += 7) {
        assert_int_equal(bk_date_parse(bk_date_format(d, dbuf), &days), 0);
        assert_int_equal(days, d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_civil_known),
        cmocka_unit_test(test_civil_round_trip),
        cmocka_unit_test(test_weekday),
        cmocka_unit_test(test_leap_years),
        cmocka_unit_test(test_parse_accepts),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_date_parse),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_parse_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
