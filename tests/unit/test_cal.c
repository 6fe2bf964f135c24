/*
 * test_cal.c — the US equity calendar of cal/cal.c against the rules of the
 * project's market-calendar notes: every holiday and its observance, every
 * early-close rule and one-off, the special closures, the 2023-2028 table
 * compared day by day, both daylight-saving regimes, the bar grids for both
 * anchors, closed-through, navigation, trading time and the closures loader.
 * Expected instants are written as UTC wall times (utc()) or New York wall
 * times with an explicit offset (ny()), never through the code under test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cal/cal.h"
#include "core/clock.h"
#include "core/err.h"
#include "model/ivset.h"
#include "model/time.h"

enum { CLOSED, FULL, EARLY };
#define EST 5 /* hours behind UTC */
#define EDT 4

static int32_t day_of(int y, int m, int d)
{
    return bk_days_from_civil(y, m, d);
}

static int64_t utc(int y, int mo, int d, int h, int mi)
{
    return (int64_t)day_of(y, mo, d) * BK_US_PER_DAY + h * BK_US_PER_HOUR + mi * BK_US_PER_MIN;
}

/* New York wall time h:mi on y-mo-d, given the zone's hours behind UTC. */
static int64_t ny(int y, int mo, int d, int h, int mi, int behind)
{
    return utc(y, mo, d, h, mi) + behind * BK_US_PER_HOUR;
}

static int kind(int y, int m, int d)
{
    bk_session s;
    if (!bk_cal_session(day_of(y, m, d), &s))
        return CLOSED;
    return s.early_close ? EARLY : FULL;
}

static int64_t close_of(int y, int m, int d)
{
    bk_session s;
    assert_true(bk_cal_session(day_of(y, m, d), &s));
    return s.close_us;
}

static int64_t open_of(int y, int m, int d)
{
    bk_session s;
    assert_true(bk_cal_session(day_of(y, m, d), &s));
    return s.open_us;
}

static size_t sessions_in_year(int y)
{
    int64_t from = utc(y, 1, 1, 12, 0), to = utc(y + 1, 1, 1, 12, 0);
    return bk_cal_sessions(from, to, NULL, 0);
}

/* ---- holidays ----------------------------------------------------------- */

static void test_weekends(void **state)
{
    (void)state;
    assert_int_equal(kind(2024, 6, 1), CLOSED);
    assert_int_equal(kind(2024, 6, 2), CLOSED);
    assert_int_equal(kind(2024, 6, 3), FULL);
    assert_int_equal(kind(1990, 1, 6), CLOSED);
    assert_int_equal(kind(2099, 12, 26), CLOSED); /* Saturday */
    assert_false(bk_cal_is_open(ny(2024, 6, 1, 10, 0, EDT), false));
    assert_false(bk_cal_is_open(ny(2024, 6, 1, 10, 0, EDT), true));
}

static void test_range_limits(void **state)
{
    (void)state;
    assert_int_equal(kind(1989, 12, 29), CLOSED); /* a Friday before the range */
    assert_int_equal(kind(1990, 1, 1), CLOSED);
    assert_int_equal(kind(1990, 1, 2), FULL);
    assert_int_equal(kind(2099, 12, 31), FULL); /* a Thursday */
    assert_int_equal(kind(2100, 1, 4), CLOSED); /* a Monday after the range */
    assert_int_equal(bk_cal_next_open(0), ny(1990, 1, 2, 9, 30, EST));
    assert_int_equal(bk_cal_next_open(INT64_MIN), ny(1990, 1, 2, 9, 30, EST));
    assert_int_equal(bk_cal_prev_close(INT64_MAX), ny(2099, 12, 31, 16, 0, EST));
    assert_true(bk_cal_next_open(ny(2099, 12, 31, 9, 31, EST)) == INT64_MAX);
    assert_true(bk_cal_next_open(INT64_MAX) == INT64_MAX);
    assert_true(bk_cal_prev_close(ny(1990, 1, 2, 15, 59, EST)) == INT64_MIN);
    assert_true(bk_cal_prev_close(INT64_MIN) == INT64_MIN);
    assert_int_equal(bk_cal_sessions(INT64_MIN, INT64_MAX, NULL, 0) > 27000, 1);
    assert_int_equal(bk_cal_sessions(utc(1980, 1, 1, 0, 0), utc(1990, 1, 1, 0, 0), NULL, 0), 0);
    assert_int_equal(bk_cal_sessions(utc(2100, 1, 1, 0, 0), utc(2110, 1, 1, 0, 0), NULL, 0), 0);
}

static void test_new_year(void **state)
{
    (void)state;
    assert_int_equal(kind(2024, 1, 1), CLOSED);
    assert_int_equal(kind(2023, 1, 2), CLOSED); /* 1 Jan on a Sunday */
    assert_int_equal(kind(2017, 1, 2), CLOSED);
    /* 1 Jan on a Saturday: nothing observed, 31 Dec stays a full session */
    assert_int_equal(kind(2004, 12, 31), FULL);
    assert_int_equal(kind(2010, 12, 31), FULL);
    assert_int_equal(kind(2021, 12, 31), FULL);
    assert_int_equal(kind(2022, 1, 3), FULL);
    assert_int_equal(kind(2027, 12, 31), FULL);
    assert_int_equal(kind(1993, 12, 31), FULL);
}

static void test_mlk(void **state)
{
    (void)state;
    assert_int_equal(kind(1990, 1, 15), FULL);
    assert_int_equal(kind(1997, 1, 20), FULL);
    assert_int_equal(kind(1998, 1, 19), CLOSED);
    assert_int_equal(kind(1998, 1, 12), FULL);
    assert_int_equal(kind(2024, 1, 15), CLOSED);
    assert_int_equal(kind(2025, 1, 20), CLOSED);
}

static void test_presidents_memorial_labor(void **state)
{
    (void)state;
    assert_int_equal(kind(1990, 2, 19), CLOSED);
    assert_int_equal(kind(2024, 2, 19), CLOSED);
    assert_int_equal(kind(2024, 2, 12), FULL);
    assert_int_equal(kind(2024, 5, 27), CLOSED);
    assert_int_equal(kind(2021, 5, 31), CLOSED);
    assert_int_equal(kind(2021, 5, 24), FULL);
    assert_int_equal(kind(2024, 9, 2), CLOSED);
    assert_int_equal(kind(2020, 9, 7), CLOSED);
    assert_int_equal(kind(2020, 9, 14), FULL);
}

static void test_good_friday(void **state)
{
    (void)state;
    static const int gf[][3] = {
        {1990, 4, 13}, {1991, 3, 29}, {1995, 4, 14}, {1998, 4, 10}, {1999, 4, 2},
        {2000, 4, 21}, {2008, 3, 21}, {2011, 4, 22}, {2019, 4, 19}, {2024, 3, 29},
        {2025, 4, 18}, {2026, 4, 3},  {2027, 3, 26}, {2028, 4, 14},
    };
    for (size_t i = 0; i < sizeof gf / sizeof *gf; i++) {
        int32_t d = day_of(gf[i][0], gf[i][1], gf[i][2]);
        assert_int_equal(bk_weekday(d), 5);
        assert_false(bk_cal_session(d, NULL));
        assert_true(bk_cal_session(d - 1, NULL)); /* Thursday */
        assert_true(bk_cal_session(d + 3, NULL)); /* Easter Monday */
    }
}

static void test_juneteenth(void **state)
{
    (void)state;
    assert_int_equal(kind(2021, 6, 18), FULL); /* before 2022 */
    assert_int_equal(kind(2021, 6, 21), FULL);
    assert_int_equal(kind(2022, 6, 17), FULL);
    assert_int_equal(kind(2022, 6, 20), CLOSED); /* first closure, Sunday observed */
    assert_int_equal(kind(2023, 6, 19), CLOSED);
    assert_int_equal(kind(2027, 6, 18), CLOSED); /* Saturday observed */
    assert_int_equal(kind(2027, 6, 21), FULL);
}

static void test_independence_day(void **state)
{
    (void)state;
    assert_int_equal(kind(2024, 7, 4), CLOSED);
    assert_int_equal(kind(2020, 7, 3), CLOSED); /* Saturday -> Friday */
    assert_int_equal(kind(2020, 7, 2), FULL);
    assert_int_equal(kind(2021, 7, 5), CLOSED); /* Sunday -> Monday */
    assert_int_equal(kind(2021, 7, 2), FULL);   /* no early close then */
    assert_int_equal(kind(2026, 7, 3), CLOSED);
    assert_int_equal(kind(2027, 7, 5), CLOSED);
    assert_int_equal(kind(1999, 7, 5), CLOSED);
}

static void test_thanksgiving(void **state)
{
    (void)state;
    assert_int_equal(kind(2024, 11, 28), CLOSED);
    assert_int_equal(kind(2006, 11, 23), CLOSED);
    assert_int_equal(kind(2006, 11, 30), FULL); /* last, not fourth, Thursday */
    assert_int_equal(kind(2006, 11, 24), EARLY);
    assert_int_equal(kind(1990, 11, 22), CLOSED);
}

static void test_christmas(void **state)
{
    (void)state;
    assert_int_equal(kind(2024, 12, 25), CLOSED);
    assert_int_equal(kind(2021, 12, 24), CLOSED); /* Saturday -> Friday */
    assert_int_equal(kind(2022, 12, 26), CLOSED); /* Sunday -> Monday */
    assert_int_equal(kind(2022, 12, 23), FULL);
    assert_int_equal(kind(2027, 12, 24), CLOSED);
    assert_int_equal(kind(2008, 12, 26), FULL);
    assert_int_equal(kind(2014, 12, 26), FULL);
    assert_int_equal(kind(2025, 12, 26), FULL);
}

static void test_special_closures(void **state)
{
    (void)state;
    static const int sc[][3] = {
        {1994, 4, 27}, {2001, 9, 11},  {2001, 9, 12},  {2001, 9, 13}, {2001, 9, 14}, {2004, 6, 11},
        {2007, 1, 2},  {2012, 10, 29}, {2012, 10, 30}, {2018, 12, 5}, {2025, 1, 9},
    };
    for (size_t i = 0; i < sizeof sc / sizeof *sc; i++)
        assert_int_equal(kind(sc[i][0], sc[i][1], sc[i][2]), CLOSED);
    assert_int_equal(kind(2001, 9, 10), FULL);
    assert_int_equal(kind(2001, 9, 17), FULL); /* reopened; late open ignored */
    assert_int_equal(kind(2012, 10, 31), FULL);
    assert_int_equal(kind(2025, 1, 8), FULL);
    assert_int_equal(kind(2025, 1, 10), FULL);
}

/* ---- early closes ------------------------------------------------------- */

static void test_early_close_times(void **state)
{
    (void)state;
    /* 14:00 before 1993 */
    assert_int_equal(close_of(1990, 12, 24), ny(1990, 12, 24, 14, 0, EST));
    assert_int_equal(close_of(1991, 12, 24), ny(1991, 12, 24, 14, 0, EST));
    assert_int_equal(close_of(1992, 11, 27), ny(1992, 11, 27, 14, 0, EST));
    assert_int_equal(kind(1991, 11, 29), FULL); /* day after Thanksgiving: from 1992 */
    assert_int_equal(close_of(1993, 11, 26), ny(1993, 11, 26, 13, 0, EST));
    /* 13:00 afterwards, in both zones */
    assert_int_equal(close_of(2024, 12, 24), utc(2024, 12, 24, 18, 0));
    assert_int_equal(close_of(2024, 7, 3), utc(2024, 7, 3, 17, 0));
    assert_int_equal(open_of(2024, 7, 3), utc(2024, 7, 3, 13, 30));
}

static void test_christmas_eve(void **state)
{
    (void)state;
    assert_int_equal(kind(2024, 12, 24), EARLY);  /* Tuesday */
    assert_int_equal(kind(2018, 12, 24), EARLY);  /* Monday */
    assert_int_equal(kind(2019, 12, 24), EARLY);  /* Tuesday */
    assert_int_equal(kind(2025, 12, 24), EARLY);  /* Wednesday */
    assert_int_equal(kind(2026, 12, 24), EARLY);  /* Thursday */
    assert_int_equal(kind(2027, 12, 24), CLOSED); /* Friday: observed Christmas */
}

static void test_july_third(void **state)
{
    (void)state;
    assert_int_equal(kind(1990, 7, 3), FULL);  /* rule from 1995 */
    assert_int_equal(kind(1995, 7, 3), EARLY); /* Monday */
    assert_int_equal(kind(2018, 7, 3), EARLY); /* Tuesday */
    assert_int_equal(kind(2025, 7, 3), EARLY); /* Thursday */
    assert_int_equal(kind(2023, 7, 3), EARLY);
    /* 3 July on a Wednesday: before 2013 the Friday after closed early */
    assert_int_equal(kind(1996, 7, 3), FULL);
    assert_int_equal(kind(1996, 7, 5), EARLY);
    assert_int_equal(kind(2002, 7, 3), FULL);
    assert_int_equal(kind(2002, 7, 5), EARLY);
    assert_int_equal(close_of(2002, 7, 5), ny(2002, 7, 5, 13, 0, EDT));
    assert_int_equal(kind(1991, 7, 5), FULL);
    /* since 2013 the Wednesday does and the Friday is a full day */
    assert_int_equal(kind(2013, 7, 3), EARLY);
    assert_int_equal(kind(2013, 7, 5), FULL);
    assert_int_equal(kind(2019, 7, 3), EARLY);
    assert_int_equal(kind(2019, 7, 5), FULL);
    assert_int_equal(kind(2024, 7, 3), EARLY);
    assert_int_equal(kind(2024, 7, 5), FULL);
    /* 4 July on a Sunday: no early close on Friday 2 July */
    assert_int_equal(kind(2010, 7, 2), FULL);
    assert_int_equal(kind(2010, 7, 5), CLOSED);
}

static void test_oneoff_early(void **state)
{
    (void)state;
    assert_int_equal(close_of(1997, 12, 26), ny(1997, 12, 26, 13, 0, EST));
    assert_int_equal(close_of(1999, 12, 31), ny(1999, 12, 31, 13, 0, EST));
    assert_int_equal(close_of(2003, 12, 26), ny(2003, 12, 26, 13, 0, EST));
    assert_int_equal(kind(1998, 12, 31), FULL);
    assert_int_equal(kind(2003, 12, 31), FULL);
}

/* Section 5 of the notes: every weekday of 2023-2028 compared exhaustively. */
static const struct {
    int year;
    const char *closed, *early; /* "MM-DD" separated by spaces */
} schedule[] = {
    {2023, "01-02 01-16 02-20 04-07 05-29 06-19 07-04 09-04 11-23 12-25", "07-03 11-24"},
    {2024, "01-01 01-15 02-19 03-29 05-27 06-19 07-04 09-02 11-28 12-25", "07-03 11-29 12-24"},
    {2025, "01-01 01-09 01-20 02-17 04-18 05-26 06-19 07-04 09-01 11-27 12-25",
     "07-03 11-28 12-24"},
    {2026, "01-01 01-19 02-16 04-03 05-25 06-19 07-03 09-07 11-26 12-25", "11-27 12-24"},
    {2027, "01-01 01-18 02-15 03-26 05-31 06-18 07-05 09-06 11-25 12-24", "11-26"},
    {2028, "01-17 02-21 04-14 05-29 06-19 07-04 09-04 11-23 12-25", "07-03 11-24"},
};

static bool listed(const char *list, int m, int d)
{
    char key[6];
    snprintf(key, sizeof key, "%02d-%02d", m, d);
    return strstr(list, key) != NULL;
}

static void test_schedule_2023_2028(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof schedule / sizeof *schedule; i++) {
        int y = schedule[i].year, weekdays = 0, closed = 0;
        for (int32_t day = day_of(y, 1, 1); day < day_of(y + 1, 1, 1); day++) {
            int yy, m, d, wd = bk_weekday(day);
            if (wd == 0 || wd == 6)
                continue;
            bk_civil_from_days(day, &yy, &m, &d);
            int want = listed(schedule[i].closed, m, d)  ? CLOSED
                       : listed(schedule[i].early, m, d) ? EARLY
                                                         : FULL;
            if (kind(y, m, d) != want)
                fail_msg("%d-%02d-%02d: got %d, want %d", y, m, d, kind(y, m, d), want);
            weekdays++;
            closed += want == CLOSED;
        }
        assert_int_equal(sessions_in_year(y), (size_t)(weekdays - closed));
    }
}

static void test_session_counts(void **state)
{
    (void)state;
    assert_int_equal(sessions_in_year(2001), 248);
    assert_int_equal(sessions_in_year(2020), 253);
    assert_int_equal(sessions_in_year(2022), 251);
    assert_int_equal(sessions_in_year(2023), 250);
    assert_int_equal(sessions_in_year(2024), 252);
    assert_int_equal(sessions_in_year(1992), 254);
    for (int y = 1990; y <= 2035; y++) {
        size_t n = sessions_in_year(y);
        if (n < 248 || n > 254)
            fail_msg("%d: %zu sessions", y, n);
    }
}

/* ---- time zone ---------------------------------------------------------- */

static void test_dst_switches(void **state)
{
    (void)state;
    /* 1987-2006: first Sunday of April .. last Sunday of October */
    assert_int_equal(open_of(1990, 3, 30), utc(1990, 3, 30, 14, 30));
    assert_int_equal(open_of(1990, 4, 2), utc(1990, 4, 2, 13, 30));
    assert_int_equal(open_of(2006, 3, 31), utc(2006, 3, 31, 14, 30));
    assert_int_equal(open_of(2006, 4, 3), utc(2006, 4, 3, 13, 30));
    assert_int_equal(open_of(2006, 10, 27), utc(2006, 10, 27, 13, 30));
    assert_int_equal(open_of(2006, 10, 30), utc(2006, 10, 30, 14, 30));
    /* 2007 on: second Sunday of March .. first Sunday of November */
    assert_int_equal(open_of(2007, 3, 9), utc(2007, 3, 9, 14, 30));
    assert_int_equal(open_of(2007, 3, 12), utc(2007, 3, 12, 13, 30));
    assert_int_equal(open_of(2007, 11, 2), utc(2007, 11, 2, 13, 30));
    assert_int_equal(open_of(2007, 11, 5), utc(2007, 11, 5, 14, 30));
    assert_int_equal(open_of(2024, 3, 8), utc(2024, 3, 8, 14, 30));
    assert_int_equal(open_of(2024, 3, 11), utc(2024, 3, 11, 13, 30));
    assert_int_equal(close_of(2024, 11, 1), utc(2024, 11, 1, 20, 0));
    assert_int_equal(close_of(2024, 11, 4), utc(2024, 11, 4, 21, 0));
    /* offsets at local noon of the switch Sundays */
    assert_int_equal(bk_cal_utc_offset_s(day_of(2024, 3, 10)), -14400);
    assert_int_equal(bk_cal_utc_offset_s(day_of(2024, 3, 9)), -18000);
    assert_int_equal(bk_cal_utc_offset_s(day_of(2024, 11, 3)), -18000);
    assert_int_equal(bk_cal_utc_offset_s(day_of(2024, 11, 2)), -14400);
    assert_int_equal(bk_cal_utc_offset_s(day_of(2006, 4, 2)), -14400);
    assert_int_equal(bk_cal_utc_offset_s(day_of(2006, 10, 29)), -18000);
    assert_int_equal(bk_cal_utc_offset_s(day_of(2150, 7, 1)), -14400); /* outside the table */
    assert_int_equal(bk_cal_ny_to_utc(day_of(2024, 1, 10), 9, 30), utc(2024, 1, 10, 14, 30));
    assert_int_equal(bk_cal_ny_to_utc(day_of(2024, 6, 3), 16, 0), utc(2024, 6, 3, 20, 0));
}

static void test_ny_day(void **state)
{
    (void)state;
    assert_int_equal(bk_cal_ny_day(utc(2024, 1, 10, 0, 30)), day_of(2024, 1, 9));
    assert_int_equal(bk_cal_ny_day(utc(2024, 1, 10, 5, 0)), day_of(2024, 1, 10));
    assert_int_equal(bk_cal_ny_day(utc(2024, 6, 3, 3, 59)), day_of(2024, 6, 2));
    assert_int_equal(bk_cal_ny_day(utc(2024, 6, 3, 4, 0)), day_of(2024, 6, 3));
    /* spring forward 2024-03-10 07:00Z */
    assert_int_equal(bk_cal_ny_day(utc(2024, 3, 10, 4, 59)), day_of(2024, 3, 9));
    assert_int_equal(bk_cal_ny_day(utc(2024, 3, 10, 5, 0)), day_of(2024, 3, 10));
    assert_int_equal(bk_cal_ny_day(utc(2024, 3, 11, 3, 59)), day_of(2024, 3, 10));
    assert_int_equal(bk_cal_ny_day(utc(2024, 3, 11, 4, 0)), day_of(2024, 3, 11));
    /* fall back 2024-11-03 06:00Z */
    assert_int_equal(bk_cal_ny_day(utc(2024, 11, 3, 3, 59)), day_of(2024, 11, 2));
    assert_int_equal(bk_cal_ny_day(utc(2024, 11, 3, 4, 0)), day_of(2024, 11, 3));
    assert_int_equal(bk_cal_ny_day(utc(2024, 11, 4, 4, 59)), day_of(2024, 11, 3));
    assert_int_equal(bk_cal_ny_day(utc(2024, 11, 4, 5, 0)), day_of(2024, 11, 4));
    assert_int_equal(bk_cal_ny_day(-1), -1);
    bk_cal_ny_day(INT64_MIN); /* must not overflow */
    bk_cal_ny_day(INT64_MAX);
}

/* ---- sessions and navigation -------------------------------------------- */

static void test_session_fields(void **state)
{
    (void)state;
    bk_session s;
    assert_true(bk_cal_session(day_of(2024, 6, 3), &s));
    assert_int_equal(s.day, day_of(2024, 6, 3));
    assert_int_equal(s.open_us, utc(2024, 6, 3, 13, 30));
    assert_int_equal(s.close_us, utc(2024, 6, 3, 20, 0));
    assert_int_equal(s.pre_us, utc(2024, 6, 3, 8, 0));
    assert_int_equal(s.post_us, utc(2024, 6, 4, 0, 0));
    assert_false(s.early_close);
    assert_true(bk_cal_session(day_of(2024, 11, 29), &s));
    assert_true(s.early_close);
    assert_int_equal(s.close_us, utc(2024, 11, 29, 18, 0));
    assert_int_equal(s.post_us, utc(2024, 11, 30, 1, 0)); /* still 20:00 NY */
}

static void test_sessions_range(void **state)
{
    (void)state;
    bk_session out[8];
    /* a week with a holiday: Jul 4 2024 */
    int64_t from = utc(2024, 7, 1, 0, 0), to = utc(2024, 7, 8, 0, 0);
    assert_int_equal(bk_cal_sessions(from, to, out, 8), 4);
    assert_int_equal(out[0].day, day_of(2024, 7, 1));
    assert_int_equal(out[2].day, day_of(2024, 7, 3));
    assert_int_equal(out[3].day, day_of(2024, 7, 5));
    /* cap smaller than the count */
    memset(out, 0, sizeof out);
    assert_int_equal(bk_cal_sessions(from, to, out, 2), 4);
    assert_int_equal(out[1].day, day_of(2024, 7, 2));
    assert_int_equal(out[2].day, 0);
    /* overlap with [open, close) only: a range ending at the open is empty */
    assert_int_equal(bk_cal_sessions(from, utc(2024, 7, 1, 13, 30), out, 8), 0);
    assert_int_equal(bk_cal_sessions(utc(2024, 7, 1, 20, 0), utc(2024, 7, 2, 13, 30), out, 8), 0);
    assert_int_equal(bk_cal_sessions(utc(2024, 7, 1, 19, 59), utc(2024, 7, 1, 20, 0), out, 8), 1);
    assert_int_equal(bk_cal_sessions(to, from, out, 8), 0);
}

static void test_is_open(void **state)
{
    (void)state;
    assert_false(bk_cal_is_open(ny(2024, 6, 3, 9, 29, EDT), false));
    assert_true(bk_cal_is_open(ny(2024, 6, 3, 9, 30, EDT), false));
    assert_true(bk_cal_is_open(ny(2024, 6, 3, 15, 59, EDT), false));
    assert_false(bk_cal_is_open(ny(2024, 6, 3, 16, 0, EDT), false));
    assert_false(bk_cal_is_open(ny(2024, 6, 3, 3, 59, EDT), true));
    assert_true(bk_cal_is_open(ny(2024, 6, 3, 4, 0, EDT), true));
    assert_true(bk_cal_is_open(ny(2024, 6, 3, 19, 59, EDT), true));
    assert_false(bk_cal_is_open(ny(2024, 6, 3, 20, 0, EDT), true));
    assert_false(bk_cal_is_open(ny(2024, 7, 3, 13, 0, EDT), false));
    assert_true(bk_cal_is_open(ny(2024, 7, 3, 17, 30, EDT), true));
    assert_false(bk_cal_is_open(ny(2024, 7, 4, 11, 0, EDT), true));
}

static void test_next_open_prev_close(void **state)
{
    (void)state;
    /* across a weekend */
    assert_int_equal(bk_cal_next_open(ny(2024, 6, 7, 16, 0, EDT)), ny(2024, 6, 10, 9, 30, EDT));
    assert_int_equal(bk_cal_prev_close(ny(2024, 6, 10, 9, 0, EDT)), ny(2024, 6, 7, 16, 0, EDT));
    /* across a holiday, from an early close */
    assert_int_equal(bk_cal_next_open(ny(2024, 7, 3, 13, 30, EDT)), ny(2024, 7, 5, 9, 30, EDT));
    assert_int_equal(bk_cal_prev_close(ny(2024, 7, 5, 9, 0, EDT)), ny(2024, 7, 3, 13, 0, EDT));
    /* Good Friday weekend 2024 */
    assert_int_equal(bk_cal_next_open(ny(2024, 3, 28, 16, 0, EDT)), ny(2024, 4, 1, 9, 30, EDT));
    /* boundaries are inclusive */
    assert_int_equal(bk_cal_next_open(ny(2024, 6, 3, 9, 30, EDT)), ny(2024, 6, 3, 9, 30, EDT));
    assert_int_equal(bk_cal_next_open(ny(2024, 6, 3, 9, 31, EDT)), ny(2024, 6, 4, 9, 30, EDT));
    assert_int_equal(bk_cal_prev_close(ny(2024, 6, 3, 16, 0, EDT)), ny(2024, 6, 3, 16, 0, EDT));
    assert_int_equal(bk_cal_prev_close(ny(2024, 6, 3, 15, 59, EDT)), ny(2024, 5, 31, 16, 0, EDT));
    /* across a DST switch weekend */
    assert_int_equal(bk_cal_next_open(utc(2024, 3, 8, 21, 0)), utc(2024, 3, 11, 13, 30));
    assert_int_equal(bk_cal_prev_close(utc(2024, 11, 4, 14, 0)), utc(2024, 11, 1, 20, 0));
}

static void test_trading_time(void **state)
{
    (void)state;
    bk_ivset s;
    bk_ivset_init(&s);
    bk_cal_trading_time(utc(2024, 6, 3, 0, 0), utc(2024, 6, 10, 0, 0), false, &s);
    assert_int_equal(s.n, 5);
    assert_int_equal(bk_ivset_total(&s), 5 * (6 * BK_US_PER_HOUR + 30 * BK_US_PER_MIN));
    assert_int_equal(s.v[0].from_us, utc(2024, 6, 3, 13, 30));
    bk_ivset_clear(&s);
    bk_cal_trading_time(utc(2024, 6, 3, 0, 0), utc(2024, 6, 10, 0, 0), true, &s);
    assert_int_equal(bk_ivset_total(&s), 5 * 16 * BK_US_PER_HOUR);
    bk_ivset_clear(&s);
    /* holiday and early close: 6.5 + 6.5 + 3.5 + 0 + 6.5 hours */
    bk_cal_trading_time(utc(2024, 7, 1, 0, 0), utc(2024, 7, 8, 0, 0), false, &s);
    assert_int_equal(bk_ivset_total(&s), 23 * BK_US_PER_HOUR);
    bk_ivset_clear(&s);
    /* clipped to the range */
    bk_cal_trading_time(ny(2024, 6, 3, 10, 0, EDT), ny(2024, 6, 3, 11, 0, EDT), false, &s);
    assert_int_equal(s.n, 1);
    assert_int_equal(bk_ivset_total(&s), BK_US_PER_HOUR);
    bk_ivset_clear(&s);
    /* a whole year: 252 sessions, 3 of them 13:00 closes */
    bk_cal_trading_time(utc(2024, 1, 1, 0, 0), utc(2025, 1, 1, 0, 0), false, &s);
    assert_int_equal(s.n, 252);
    assert_int_equal(bk_ivset_total(&s), 249 * (390 * BK_US_PER_MIN) + 3 * (210 * BK_US_PER_MIN));
    bk_ivset_fini(&s);
}

/* ---- bar grids ----------------------------------------------------------- */

static size_t day_bars(bk_tf tf, bk_anchor a, int y, int m, int d, bk_calbar *out, size_t cap)
{
    return bk_cal_bars(tf, a, utc(y, m, d, 0, 0), utc(y, m, d + 1, 0, 0), out, cap);
}

static void test_bars_counts(void **state)
{
    (void)state;
    for (int a = BK_ANCHOR_SESSION; a <= BK_ANCHOR_CLOCK; a++) {
        assert_int_equal(day_bars(BK_TF_1M, (bk_anchor)a, 2024, 6, 3, NULL, 0), 390);
        assert_int_equal(day_bars(BK_TF_1M, (bk_anchor)a, 2024, 7, 3, NULL, 0), 210);
        assert_int_equal(day_bars(BK_TF_5M, (bk_anchor)a, 2024, 6, 3, NULL, 0), 78);
        assert_int_equal(day_bars(BK_TF_15M, (bk_anchor)a, 2024, 6, 3, NULL, 0), 26);
        assert_int_equal(day_bars(BK_TF_15M, (bk_anchor)a, 2024, 7, 3, NULL, 0), 14);
        assert_int_equal(day_bars(BK_TF_30M, (bk_anchor)a, 2024, 6, 3, NULL, 0), 13);
        assert_int_equal(day_bars(BK_TF_1H, (bk_anchor)a, 2024, 6, 3, NULL, 0), 7);
        assert_int_equal(day_bars(BK_TF_1H, (bk_anchor)a, 2024, 7, 3, NULL, 0), 4);
        assert_int_equal(day_bars(BK_TF_4H, (bk_anchor)a, 2024, 6, 3, NULL, 0), 2);
        assert_int_equal(day_bars(BK_TF_1H, (bk_anchor)a, 2024, 7, 4, NULL, 0), 0);
        assert_int_equal(day_bars(BK_TF_15M, (bk_anchor)a, 2024, 6, 1, NULL, 0), 0);
    }
    /* a 14:00 close before 1993: 18 quarter hours */
    assert_int_equal(day_bars(BK_TF_15M, BK_ANCHOR_SESSION, 1991, 12, 24, NULL, 0), 18);
}

static void test_bars_15m_labels(void **state)
{
    (void)state;
    bk_calbar b[30];
    bk_calbar c[30];
    assert_int_equal(day_bars(BK_TF_15M, BK_ANCHOR_SESSION, 2024, 1, 10, b, 30), 26);
    assert_int_equal(day_bars(BK_TF_15M, BK_ANCHOR_CLOCK, 2024, 1, 10, c, 30), 26);
    assert_memory_equal(b, c, 26 * sizeof *b);
    for (int i = 0; i < 26; i++) {
        int64_t t = utc(2024, 1, 10, 14, 30) + i * 15 * BK_US_PER_MIN;
        assert_int_equal(b[i].ts_us, t);
        assert_int_equal(b[i].from_us, t);
        assert_int_equal(b[i].to_us, t + 15 * BK_US_PER_MIN);
    }
    /* cap smaller than the count writes a prefix */
    memset(b, 0, sizeof b);
    assert_int_equal(day_bars(BK_TF_15M, BK_ANCHOR_SESSION, 2024, 1, 10, b, 3), 26);
    assert_int_equal(b[2].ts_us, utc(2024, 1, 10, 15, 0));
    assert_int_equal(b[3].ts_us, 0);
    /* a partial range: bars whose span overlaps [10:07, 10:20) */
    assert_int_equal(bk_cal_bars(BK_TF_15M, BK_ANCHOR_SESSION, ny(2024, 1, 10, 10, 7, EST),
                                 ny(2024, 1, 10, 10, 20, EST), b, 30),
                     2);
    assert_int_equal(b[0].ts_us, ny(2024, 1, 10, 10, 0, EST));
    assert_int_equal(b[1].ts_us, ny(2024, 1, 10, 10, 15, EST));
}

static void test_bars_1h_session(void **state)
{
    (void)state;
    bk_calbar b[8];
    assert_int_equal(day_bars(BK_TF_1H, BK_ANCHOR_SESSION, 2024, 6, 3, b, 8), 7);
    for (int i = 0; i < 7; i++)
        assert_int_equal(b[i].ts_us, ny(2024, 6, 3, 9 + i, 30, EDT));
    assert_int_equal(b[0].from_us, ny(2024, 6, 3, 9, 30, EDT));
    assert_int_equal(b[6].from_us, ny(2024, 6, 3, 15, 30, EDT));
    assert_int_equal(b[6].to_us, ny(2024, 6, 3, 16, 0, EDT));
    assert_int_equal(day_bars(BK_TF_1H, BK_ANCHOR_SESSION, 2024, 7, 3, b, 8), 4);
    assert_int_equal(b[3].ts_us, ny(2024, 7, 3, 12, 30, EDT));
    assert_int_equal(b[3].to_us, ny(2024, 7, 3, 13, 0, EDT));
}

static void test_bars_1h_clock(void **state)
{
    (void)state;
    bk_calbar b[8];
    assert_int_equal(day_bars(BK_TF_1H, BK_ANCHOR_CLOCK, 2024, 1, 10, b, 8), 7);
    for (int i = 0; i < 7; i++)
        assert_int_equal(b[i].ts_us, ny(2024, 1, 10, 9 + i, 0, EST));
    assert_int_equal(b[0].from_us, ny(2024, 1, 10, 9, 30, EST));
    assert_int_equal(b[0].to_us, ny(2024, 1, 10, 10, 0, EST));
    assert_int_equal(b[6].from_us, ny(2024, 1, 10, 15, 0, EST));
    assert_int_equal(b[6].to_us, ny(2024, 1, 10, 16, 0, EST));
    assert_int_equal(day_bars(BK_TF_1H, BK_ANCHOR_CLOCK, 2024, 11, 29, b, 8), 4);
    assert_int_equal(b[0].ts_us, ny(2024, 11, 29, 9, 0, EST));
    assert_int_equal(b[3].ts_us, ny(2024, 11, 29, 12, 0, EST));
    assert_int_equal(b[3].to_us, ny(2024, 11, 29, 13, 0, EST));
    /* 4h on the clock: 08:00 and 12:00 */
    assert_int_equal(day_bars(BK_TF_4H, BK_ANCHOR_CLOCK, 2024, 1, 10, b, 8), 2);
    assert_int_equal(b[0].ts_us, ny(2024, 1, 10, 8, 0, EST));
    assert_int_equal(b[0].from_us, ny(2024, 1, 10, 9, 30, EST));
    assert_int_equal(b[1].ts_us, ny(2024, 1, 10, 12, 0, EST));
}

static void test_bars_d1(void **state)
{
    (void)state;
    bk_calbar b[8];
    /* DST began Sunday 2024-03-10: midnight NY is 05:00Z before, 04:00Z after */
    assert_int_equal(bk_cal_bars(BK_TF_D1, BK_ANCHOR_SESSION, utc(2024, 3, 7, 0, 0),
                                 utc(2024, 3, 13, 0, 0), b, 8),
                     4);
    assert_int_equal(b[0].ts_us, utc(2024, 3, 7, 5, 0));
    assert_int_equal(b[1].ts_us, utc(2024, 3, 8, 5, 0));
    assert_int_equal(b[1].from_us, utc(2024, 3, 8, 14, 30));
    assert_int_equal(b[1].to_us, utc(2024, 3, 8, 21, 0));
    assert_int_equal(b[2].ts_us, utc(2024, 3, 11, 4, 0));
    assert_int_equal(b[2].from_us, utc(2024, 3, 11, 13, 30));
    assert_int_equal(b[3].ts_us, utc(2024, 3, 12, 4, 0));
    /* a holiday week has one bar per session */
    assert_int_equal(
        bk_cal_bars(BK_TF_D1, BK_ANCHOR_CLOCK, utc(2024, 7, 1, 0, 0), utc(2024, 7, 8, 0, 0), b, 8),
        4);
    assert_int_equal(b[2].to_us, utc(2024, 7, 3, 17, 0));
    assert_int_equal(b[3].ts_us, utc(2024, 7, 5, 4, 0));
    /* a range inside one session still yields that day */
    assert_int_equal(bk_cal_bars(BK_TF_D1, BK_ANCHOR_SESSION, utc(2024, 7, 5, 15, 0),
                                 utc(2024, 7, 5, 15, 1), b, 8),
                     1);
    assert_int_equal(bk_cal_sessions(utc(2024, 1, 1, 0, 0), utc(2025, 1, 1, 0, 0), NULL, 0),
                     bk_cal_bars(BK_TF_D1, BK_ANCHOR_SESSION, utc(2024, 1, 1, 0, 0),
                                 utc(2025, 1, 1, 0, 0), NULL, 0));
}

static void test_bars_w1(void **state)
{
    (void)state;
    bk_calbar b[8];
    /* June-July 2024: weeks of Jun 24, Jul 1 (holiday Thursday), Jul 8 */
    assert_int_equal(bk_cal_bars(BK_TF_W1, BK_ANCHOR_SESSION, utc(2024, 6, 27, 0, 0),
                                 utc(2024, 7, 9, 0, 0), b, 8),
                     3);
    assert_int_equal(b[0].ts_us, utc(2024, 6, 24, 4, 0));
    assert_int_equal(b[1].ts_us, utc(2024, 7, 1, 4, 0));
    assert_int_equal(b[1].from_us, utc(2024, 7, 1, 13, 30));
    assert_int_equal(b[1].to_us, utc(2024, 7, 5, 20, 0));
    assert_int_equal(b[2].ts_us, utc(2024, 7, 8, 4, 0));
    /* Memorial Day week: label stays Monday, span starts Tuesday */
    assert_true(bk_cal_bar_at(BK_TF_W1, BK_ANCHOR_SESSION, utc(2024, 5, 27, 4, 0), &b[0]));
    assert_int_equal(b[0].from_us, utc(2024, 5, 28, 13, 30));
    assert_int_equal(b[0].to_us, utc(2024, 5, 31, 20, 0));
    /* Good Friday week ends Thursday; winter label at 05:00Z */
    assert_true(bk_cal_bar_at(BK_TF_W1, BK_ANCHOR_SESSION, utc(2024, 3, 25, 4, 0), &b[0]));
    assert_int_equal(b[0].to_us, utc(2024, 3, 28, 20, 0));
    assert_true(bk_cal_bar_at(BK_TF_W1, BK_ANCHOR_SESSION, utc(2024, 1, 8, 5, 0), &b[0]));
    assert_false(bk_cal_bar_at(BK_TF_W1, BK_ANCHOR_SESSION, utc(2024, 1, 8, 4, 0), &b[0]));
    assert_false(bk_cal_bar_at(BK_TF_W1, BK_ANCHOR_SESSION, utc(2024, 1, 9, 5, 0), &b[0]));
    /* 2024 has 53 weeks touching it (the last starts Monday Dec 30) */
    assert_int_equal(bk_cal_bars(BK_TF_W1, BK_ANCHOR_SESSION, utc(2024, 1, 1, 5, 0),
                                 utc(2025, 1, 1, 5, 0), NULL, 0),
                     53);
}

static void test_bar_at(void **state)
{
    (void)state;
    bk_calbar b;
    assert_true(bk_cal_bar_at(BK_TF_15M, BK_ANCHOR_SESSION, ny(2024, 6, 3, 10, 0, EDT), &b));
    assert_int_equal(b.to_us, ny(2024, 6, 3, 10, 15, EDT));
    assert_false(bk_cal_bar_at(BK_TF_15M, BK_ANCHOR_SESSION, ny(2024, 6, 3, 10, 7, EDT), &b));
    assert_false(bk_cal_bar_at(BK_TF_15M, BK_ANCHOR_SESSION, ny(2024, 6, 3, 16, 0, EDT), &b));
    assert_false(bk_cal_bar_at(BK_TF_15M, BK_ANCHOR_SESSION, ny(2024, 6, 3, 9, 15, EDT), &b));
    assert_false(bk_cal_bar_at(BK_TF_15M, BK_ANCHOR_SESSION, ny(2024, 6, 1, 10, 0, EDT), &b));
    assert_false(bk_cal_bar_at(BK_TF_1M, BK_ANCHOR_SESSION, ny(2024, 7, 3, 13, 0, EDT), &b));
    assert_true(bk_cal_bar_at(BK_TF_1M, BK_ANCHOR_SESSION, ny(2024, 7, 3, 12, 59, EDT), NULL));
    assert_true(bk_cal_bar_at(BK_TF_1H, BK_ANCHOR_CLOCK, ny(2024, 6, 3, 9, 0, EDT), &b));
    assert_int_equal(b.from_us, ny(2024, 6, 3, 9, 30, EDT));
    assert_false(bk_cal_bar_at(BK_TF_1H, BK_ANCHOR_CLOCK, ny(2024, 6, 3, 8, 0, EDT), &b));
    assert_false(bk_cal_bar_at(BK_TF_1H, BK_ANCHOR_CLOCK, ny(2024, 6, 3, 9, 30, EDT), &b));
    assert_false(bk_cal_bar_at(BK_TF_1H, BK_ANCHOR_SESSION, ny(2024, 6, 3, 10, 0, EDT), &b));
    assert_true(bk_cal_bar_at(BK_TF_1H, BK_ANCHOR_SESSION, ny(2024, 6, 3, 15, 30, EDT), &b));
    assert_int_equal(b.to_us, ny(2024, 6, 3, 16, 0, EDT));
    assert_true(bk_cal_bar_at(BK_TF_D1, BK_ANCHOR_SESSION, utc(2024, 6, 3, 4, 0), &b));
    assert_int_equal(b.from_us, utc(2024, 6, 3, 13, 30));
    assert_false(bk_cal_bar_at(BK_TF_D1, BK_ANCHOR_SESSION, utc(2024, 6, 3, 0, 0), &b));
    assert_false(bk_cal_bar_at(BK_TF_D1, BK_ANCHOR_SESSION, utc(2024, 7, 4, 4, 0), &b));
    assert_false(bk_cal_bar_at(BK_TF__N, BK_ANCHOR_SESSION, utc(2024, 6, 3, 4, 0), &b));
}

static void test_closed_through(void **state)
{
    (void)state;
    bk_anchor S = BK_ANCHOR_SESSION, C = BK_ANCHOR_CLOCK;
    assert_int_equal(bk_cal_closed_through(BK_TF_15M, S, ny(2024, 6, 4, 10, 7, EDT)),
                     ny(2024, 6, 4, 10, 0, EDT));
    assert_int_equal(bk_cal_closed_through(BK_TF_15M, C, ny(2024, 6, 4, 10, 0, EDT)),
                     ny(2024, 6, 4, 10, 0, EDT));
    assert_int_equal(bk_cal_closed_through(BK_TF_15M, S, ny(2024, 6, 4, 9, 40, EDT)),
                     ny(2024, 6, 3, 16, 0, EDT));
    assert_int_equal(bk_cal_closed_through(BK_TF_D1, S, ny(2024, 6, 4, 15, 0, EDT)),
                     ny(2024, 6, 3, 16, 0, EDT));
    assert_int_equal(bk_cal_closed_through(BK_TF_D1, S, ny(2024, 6, 4, 16, 0, EDT)),
                     ny(2024, 6, 4, 16, 0, EDT));
    assert_int_equal(bk_cal_closed_through(BK_TF_1H, S, ny(2024, 6, 4, 16, 5, EDT)),
                     ny(2024, 6, 4, 16, 0, EDT));
    assert_int_equal(bk_cal_closed_through(BK_TF_1H, S, ny(2024, 6, 4, 15, 59, EDT)),
                     ny(2024, 6, 4, 15, 30, EDT));
    assert_int_equal(bk_cal_closed_through(BK_TF_1H, S, ny(2024, 6, 4, 10, 29, EDT)),
                     ny(2024, 6, 3, 16, 0, EDT));
    assert_int_equal(bk_cal_closed_through(BK_TF_1H, C, ny(2024, 6, 4, 9, 45, EDT)),
                     ny(2024, 6, 3, 16, 0, EDT));
    assert_int_equal(bk_cal_closed_through(BK_TF_1H, C, ny(2024, 6, 4, 10, 5, EDT)),
                     ny(2024, 6, 4, 10, 0, EDT));
    /* early close */
    assert_int_equal(bk_cal_closed_through(BK_TF_1H, S, ny(2024, 7, 3, 12, 59, EDT)),
                     ny(2024, 7, 3, 12, 30, EDT));
    assert_int_equal(bk_cal_closed_through(BK_TF_1H, S, ny(2024, 7, 3, 13, 0, EDT)),
                     ny(2024, 7, 3, 13, 0, EDT));
    /* across a weekend and a holiday */
    assert_int_equal(bk_cal_closed_through(BK_TF_1M, S, ny(2024, 6, 10, 9, 0, EDT)),
                     ny(2024, 6, 7, 16, 0, EDT));
    assert_int_equal(bk_cal_closed_through(BK_TF_15M, S, ny(2024, 7, 4, 12, 0, EDT)),
                     ny(2024, 7, 3, 13, 0, EDT));
    /* weeks: Wednesday -> last Friday; Saturday -> that Friday */
    assert_int_equal(bk_cal_closed_through(BK_TF_W1, S, ny(2024, 6, 5, 12, 0, EDT)),
                     ny(2024, 5, 31, 16, 0, EDT));
    assert_int_equal(bk_cal_closed_through(BK_TF_W1, S, ny(2024, 6, 8, 12, 0, EDT)),
                     ny(2024, 6, 7, 16, 0, EDT));
    /* Good Friday week is over on Thursday's close */
    assert_int_equal(bk_cal_closed_through(BK_TF_W1, S, ny(2024, 3, 29, 12, 0, EDT)),
                     ny(2024, 3, 28, 16, 0, EDT));
    assert_true(bk_cal_closed_through(BK_TF_1H, S, 0) == INT64_MIN);
    assert_true(bk_cal_closed_through(BK_TF_W1, S, 0) == INT64_MIN);
}

/* Property check over two awkward stretches (a holiday week with an early
 * close, a DST switch): for every timeframe and anchor, bk_cal_bar_at agrees
 * with bk_cal_bars on every 5-minute instant, and bk_cal_closed_through is
 * the latest span end at or before the reference. */
static void check_grid_consistency(int64_t from, int64_t to)
{
    static bk_calbar bars[8192];
    for (int tf = 0; tf < BK_TF__N; tf++) {
        for (int a = BK_ANCHOR_SESSION; a <= BK_ANCHOR_CLOCK; a++) {
            /* widen by a week so that the week bars around the edges are complete */
            size_t n = bk_cal_bars((bk_tf)tf, (bk_anchor)a, from - 7 * BK_US_PER_DAY,
                                   to + 7 * BK_US_PER_DAY, bars, 8192);
            assert_true(n < 8192);
            size_t j = 0;
            for (int64_t t = from; t < to; t += 5 * BK_US_PER_MIN) {
                while (j < n && bars[j].ts_us < t)
                    j++;
                bk_calbar b;
                bool at = bk_cal_bar_at((bk_tf)tf, (bk_anchor)a, t, &b);
                assert_int_equal(at, j < n && bars[j].ts_us == t);
                if (at)
                    assert_memory_equal(&b, &bars[j], sizeof b);
                int64_t want = INT64_MIN;
                for (size_t i = 0; i < n; i++)
                    if (bars[i].to_us <= t && bars[i].to_us > want)
                        want = bars[i].to_us;
                assert_int_equal(bk_cal_closed_through((bk_tf)tf, (bk_anchor)a, t), want);
            }
            for (size_t i = 1; i < n; i++)
                assert_true(bars[i - 1].ts_us < bars[i].ts_us &&
                            bars[i - 1].to_us <= bars[i].from_us &&
                            bars[i].from_us < bars[i].to_us);
        }
    }
}

static void test_grid_consistency(void **state)
{
    (void)state;
    check_grid_consistency(utc(2024, 6, 27, 0, 0), utc(2024, 7, 9, 0, 0));
    check_grid_consistency(utc(2024, 10, 31, 0, 0), utc(2024, 11, 6, 0, 0));
}

/* ---- closures loaded from text ------------------------------------------ */

static int load(const char *text, bk_err *err)
{
    bk_err_clear(err);
    return bk_cal_load_closures(text, strlen(text), err);
}

static void test_load_closures_good(void **state)
{
    (void)state;
    bk_err err;
    const char *text = "# special closures\n"
                       "\n"
                       "2030-05-06\n"
                       "  2030-05-07   closed   # a note\r\n"
                       "2026-07-02 13:00\n"
                       "2024-06-04\t12:15\n"
                       "2024-06-04 CLOSED\n" /* the shorter session wins */
                       "2031-06-07";         /* a Saturday, no newline at the end */
    assert_int_equal(kind(2030, 5, 6), FULL);
    assert_int_equal(load(text, &err), 0);
    assert_int_equal(kind(2030, 5, 6), CLOSED);
    assert_int_equal(kind(2030, 5, 7), CLOSED);
    assert_int_equal(kind(2030, 5, 8), FULL);
    assert_int_equal(close_of(2026, 7, 2), ny(2026, 7, 2, 13, 0, EDT));
    assert_int_equal(kind(2024, 6, 4), CLOSED);
    assert_int_equal(bk_cal_next_open(ny(2024, 6, 3, 16, 0, EDT)), ny(2024, 6, 5, 9, 30, EDT));
    assert_int_equal(day_bars(BK_TF_15M, BK_ANCHOR_SESSION, 2026, 7, 2, NULL, 0), 14);
    /* a second load adds; an early close never lengthens a day */
    assert_int_equal(load("2024-11-29 14:00\n2024-06-03 15:00\n", &err), 0);
    assert_int_equal(close_of(2024, 11, 29), ny(2024, 11, 29, 13, 0, EST));
    assert_int_equal(close_of(2024, 6, 3), ny(2024, 6, 3, 15, 0, EDT));
    assert_int_equal(kind(2030, 5, 6), CLOSED);
    bk_cal_reset_closures();
    assert_int_equal(kind(2030, 5, 6), FULL);
    assert_int_equal(kind(2024, 6, 4), FULL);
    assert_int_equal(kind(2026, 7, 2), FULL);
    assert_int_equal(bk_cal_load_closures(NULL, 0, &err), 0);
    assert_int_equal(load("", &err), 0);
    assert_int_equal(load("# nothing\n\n   \n", &err), 0);
}

static void test_load_closures_empty_week(void **state)
{
    (void)state;
    bk_err err;
    bk_calbar b;
    assert_int_equal(load("2024-06-10\n2024-06-11\n2024-06-12\n2024-06-13\n2024-06-14\n", &err), 0);
    assert_int_equal(bk_cal_bars(BK_TF_W1, BK_ANCHOR_SESSION, utc(2024, 6, 3, 0, 0),
                                 utc(2024, 6, 24, 0, 0), NULL, 0),
                     2);
    assert_false(bk_cal_bar_at(BK_TF_W1, BK_ANCHOR_SESSION, utc(2024, 6, 10, 4, 0), &b));
    assert_int_equal(
        bk_cal_closed_through(BK_TF_W1, BK_ANCHOR_SESSION, ny(2024, 6, 19, 12, 0, EDT)),
        ny(2024, 6, 7, 16, 0, EDT));
    bk_cal_reset_closures();
    assert_true(bk_cal_bar_at(BK_TF_W1, BK_ANCHOR_SESSION, utc(2024, 6, 10, 4, 0), &b));
}

static void test_load_closures_bad(void **state)
{
    (void)state;
    static const char *bad[] = {
        "2025-13-01",
        "2025-02-30",
        "2025-1-9",
        "20250109",
        "x",
        "2025-01-09 12",
        "2025-01-09 closed x",
        "2025-01-09 09:30",
        "2025-01-09 16:00",
        "2025-01-09 17:00",
        "2025-01-09 13:60",
        "2025-01-09 9:30",
        "2025-01-09closed",
        "2025-01-09 open",
        "1989-12-29",
        "2100-01-04",
        "2025-01-09 13:00x",
        "2025-01-09 -13:00",
        "2025-01-09 24:00",
        "2025-01-09 ab:cd",
        "2025-01-09 closedd",
    };
    bk_err err;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char text[128];
        snprintf(text, sizeof text, "2030-05-06\n# comment\n%s\n2030-05-08\n", bad[i]);
        if (load(text, &err) != BK_EINVAL)
            fail_msg("accepted: %s", bad[i]);
        assert_int_equal(err.code, BK_EINVAL);
        assert_non_null(strstr(err.msg, "line 3"));
        assert_int_equal(kind(2030, 5, 6), FULL); /* nothing added */
    }
    /* an embedded NUL is not text */
    static const char nul[] = "2030-05-06\n2030-05\0-07\n";
    assert_int_equal(bk_cal_load_closures(nul, sizeof nul - 1, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "line 2"));
    assert_int_equal(kind(2030, 5, 6), FULL);
    /* too many: the table is small and bounded */
    static char many[700 * 11 + 1];
    size_t n = 0;
    for (int32_t d = day_of(2040, 2, 1); d < day_of(2040, 2, 1) + 700; d++) {
        bk_date_format(d, many + n);
        many[n + 10] = '\n';
        n += 11;
    }
    assert_int_equal(bk_cal_load_closures(many, n, &err), BK_EINVAL);
    assert_int_equal(kind(2040, 2, 1), FULL);
    assert_int_equal(bk_cal_load_closures(many, 500 * 11, &err), 0);
    assert_int_equal(kind(2040, 2, 1), CLOSED);
    bk_cal_reset_closures();
    assert_int_equal(kind(2040, 2, 1), FULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weekends),
        cmocka_unit_test(test_range_limits),
        cmocka_unit_test(test_new_year),
        cmocka_unit_test(test_mlk),
        cmocka_unit_test(test_presidents_memorial_labor),
        cmocka_unit_test(test_good_friday),
        cmocka_unit_test(test_juneteenth),
        cmocka_unit_test(test_independence_day),
        cmocka_unit_test(test_thanksgiving),
        cmocka_unit_test(test_christmas),
        cmocka_unit_test(test_special_closures),
        cmocka_unit_test(test_early_close_times),
        cmocka_unit_test(test_christmas_eve),
        cmocka_unit_test(test_july_third),
        cmocka_unit_test(test_oneoff_early),
        cmocka_unit_test(test_schedule_2023_2028),
        cmocka_unit_test(test_session_counts),
        cmocka_unit_test(test_dst_switches),
        cmocka_unit_test(test_ny_day),
        cmocka_unit_test(test_session_fields),
        cmocka_unit_test(test_sessions_range),
        cmocka_unit_test(test_is_open),
        cmocka_unit_test(test_next_open_prev_close),
        cmocka_unit_test(test_trading_time),
        cmocka_unit_test(test_bars_counts),
        cmocka_unit_test(test_bars_15m_labels),
        cmocka_unit_test(test_bars_1h_session),
        cmocka_unit_test(test_bars_1h_clock),
        cmocka_unit_test(test_bars_d1),
        cmocka_unit_test(test_bars_w1),
        cmocka_unit_test(test_bar_at),
        cmocka_unit_test(test_closed_through),
        cmocka_unit_test(test_grid_consistency),
        cmocka_unit_test(test_load_closures_good),
        cmocka_unit_test(test_load_closures_empty_week),
        cmocka_unit_test(test_load_closures_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
