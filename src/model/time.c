/*
 * time.c — civil-date arithmetic (days since 1970-01-01, proleptic
 * Gregorian, after Howard Hinnant's days_from_civil algorithm) and strict
 * ISO-8601 parsing and formatting of instants.
 *
 * The parser is a small recursive-descent reader over a cursor: each piece
 * (date, clock, fraction, offset) consumes exactly what it accepts and fails
 * otherwise, and the caller insists on reaching the NUL. Every accepted
 * instant lies in [1900-01-01T00:00Z, 2201-01-01T00:00Z), so that anything
 * bk_time_parse accepts formats to text it accepts again (an offset may not
 * carry an instant out of that range). Formatting uses floor division, so
 * instants before 1970 print correctly. Read time.h for the contract.
 */
#include "model/time.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/util.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int32_t bk_days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (unsigned)((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + (int)doe - 719468);
}

void bk_civil_from_days(int32_t days, int *y, int *m, int *d)
{
    int z = days + 719468;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int yy = (int)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yy + (*m <= 2);
}

int bk_weekday(int32_t days)
{
    return days >= -4 ? (days + 4) % 7 : (days + 5) % 7 + 6;
}

int bk_date_valid(int y, int m, int d)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

#define YEAR_MIN        1900
#define YEAR_MAX        2200
#define FRAC_DIGITS_MAX 6
#define UNIX_S_MAX      INT64_C(99999999999)

/* First and one-past-last accepted instants (1900-01-01 .. 2201-01-01 UTC). */
static int64_t instant_min(void)
{
    return (int64_t)bk_days_from_civil(YEAR_MIN, 1, 1) * BK_US_PER_DAY;
}

static int64_t instant_end(void)
{
    return (int64_t)bk_days_from_civil(YEAR_MAX + 1, 1, 1) * BK_US_PER_DAY;
}

/* Read exactly n decimal digits at *p into *out and advance; false otherwise. */
static bool take_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool take_char(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

/* "YYYY-MM-DD" with a real date and a year in range. */
static bool take_date(const char **p, int32_t *days)
{
    int y, m, d;
    if (!take_digits(p, 4, &y) || !take_char(p, '-') || !take_digits(p, 2, &m) ||
        !take_char(p, '-') || !take_digits(p, 2, &d))
        return false;
    if (y < YEAR_MIN || y > YEAR_MAX || !bk_date_valid(y, m, d))
        return false;
    *days = bk_days_from_civil(y, m, d);
    return true;
}

/* ".f" with 1..6 digits, scaled to microseconds; absent means 0. */
static bool take_fraction(const char **p, int64_t *us)
{
    *us = 0;
    if (!take_char(p, '.'))
        return true;
    int n = 0;
    int64_t v = 0;
    while (**p >= '0' && **p <= '9') {
        if (++n > FRAC_DIGITS_MAX)
            return false;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    if (n == 0)
        return false;
    for (; n < FRAC_DIGITS_MAX; n++)
        v *= 10;
    *us = v;
    return true;
}

/* "HH:MM", "HH:MM:SS" or "HH:MM:SS.f" as microseconds since midnight. */
static bool take_clock(const char **p, int64_t *us)
{
    int h, m, sec = 0;
    int64_t frac = 0;
    if (!take_digits(p, 2, &h) || !take_char(p, ':') || !take_digits(p, 2, &m))
        return false;
    if (take_char(p, ':')) {
        if (!take_digits(p, 2, &sec) || !take_fraction(p, &frac))
            return false;
    }
    if (h > 23 || m > 59 || sec > 59)
        return false;
    *us = h * BK_US_PER_HOUR + m * BK_US_PER_MIN + sec * BK_US_PER_S + frac;
    return true;
}

/* "", "Z", "z", "±HH:MM", "±HHMM" or "±HH" as the offset of local time
 * from UTC in microseconds (local = UTC + offset). */
static bool take_offset(const char **p, int64_t *off_us)
{
    *off_us = 0;
    if (**p == '\0' || take_char(p, 'Z') || take_char(p, 'z'))
        return true;
    int sign = **p == '+' ? 1 : **p == '-' ? -1 : 0;
    if (sign == 0)
        return false;
    (*p)++;
    int h, m = 0;
    if (!take_digits(p, 2, &h))
        return false;
    if (**p != '\0') {
        (void)take_char(p, ':');
        if (!take_digits(p, 2, &m))
            return false;
    }
    if (h > 23 || m > 59)
        return false;
    *off_us = sign * (h * BK_US_PER_HOUR + m * BK_US_PER_MIN);
    return true;
}

/* "@[-]digits": Unix seconds. */
static bool parse_unix(const char *p, int64_t *us)
{
    bool neg = take_char(&p, '-');
    int64_t v = 0;
    const char *start = p;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (*p - '0');
        if (v > UNIX_S_MAX) /* far outside the year range; stops overflow */
            return false;
    }
    if (p == start || *p != '\0')
        return false;
    *us = (neg ? -v : v) * BK_US_PER_S;
    return true;
}

/* Date, optional time of day with optional offset, then the end. */
static bool parse_iso(const char *p, int64_t *us)
{
    int32_t days;
    int64_t tod = 0, off = 0;
    if (!take_date(&p, &days))
        return false;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (!take_clock(&p, &tod) || !take_offset(&p, &off))
            return false;
    }
    if (*p != '\0')
        return false;
    *us = (int64_t)days * BK_US_PER_DAY + tod - off;
    return true;
}

int bk_time_parse(const char *s, int64_t *out_us)
{
    int64_t us;
    if (!s)
        return BK_EINVAL;
    bool ok = s[0] == '@' ? parse_unix(s + 1, &us) : parse_iso(s, &us);
    if (!ok || us < instant_min() || us >= instant_end())
        return BK_EINVAL;
    *out_us = us;
    return 0;
}

int bk_date_parse(const char *s, int32_t *out_days)
{
    int32_t days;
    if (!s || !take_date(&s, &days) || *s != '\0')
        return BK_EINVAL;
    *out_days = days;
    return 0;
}

/* Floor division of us into whole days and the microseconds left over. */
static void split_day(int64_t us, int64_t *days, int64_t *rem_us)
{
    int64_t d = us / BK_US_PER_DAY, r = us % BK_US_PER_DAY;
    if (r < 0) {
        r += BK_US_PER_DAY;
        d--;
    }
    *days = d;
    *rem_us = r;
}

static char *put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

char *bk_time_format(int64_t us, char *buf)
{
    int64_t days, rem;
    split_day(us, &days, &rem);
    int y, mo, d;
    bk_civil_from_days((int32_t)days, &y, &mo, &d);
    int h = (int)(rem / BK_US_PER_HOUR);
    int mi = (int)(rem / BK_US_PER_MIN % 60);
    int sec = (int)(rem / BK_US_PER_S % 60);
    int frac = (int)(rem % BK_US_PER_S);
    if (y < 0 || y > 9999) { /* rare: let printf handle signs and wide years */
        char fbuf[16] = "";
        if (frac != 0 && frac % 1000 == 0)
            snprintf(fbuf, sizeof fbuf, ".%03d", frac / 1000);
        else if (frac != 0)
            snprintf(fbuf, sizeof fbuf, ".%06d", frac);
        snprintf(buf, BK_TIME_STR_MAX, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", y, mo, d, h, mi, sec,
                 fbuf);
        return buf;
    }
    /* The hot path (every bar of every chart): digits by hand. */
    char *p = put2(put2(buf, y / 100), y % 100);
    *p++ = '-';
    p = put2(p, mo);
    *p++ = '-';
    p = put2(p, d);
    *p++ = 'T';
    p = put2(p, h);
    *p++ = ':';
    p = put2(p, mi);
    *p++ = ':';
    p = put2(p, sec);
    if (frac != 0) {
        int ndig = frac % 1000 == 0 ? 3 : 6;
        int f = ndig == 3 ? frac / 1000 : frac;
        *p++ = '.';
        for (int i = ndig - 1; i >= 0; i--, f /= 10)
            p[i] = (char)('0' + f % 10);
        p += ndig;
    }
    *p++ = 'Z';
    *p = '\0';
    return buf;
}

char *bk_date_format(int32_t days, char *buf)
{
    int y, m, d;
    bk_civil_from_days(days, &y, &m, &d);
    char tmp[40]; /* years beyond 9999 do not fit the caller's 11 bytes */
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", y, m, d);
    bk_strlcpy(buf, tmp, 11);
    return buf;
}
