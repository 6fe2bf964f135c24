/*
 * cal.c — the US equity market calendar (NYSE rules; Nasdaq follows them).
 *
 * Main idea: every New York date from 1990-01-01 to 2099-12-31 gets one
 * uint16_t in a table built once (pthread_once): the regular close as
 * minutes after midnight (0 = no session) and a bit saying whether New York
 * is on daylight time at local noon. Sessions, grids and navigation are then
 * day-by-day table lookups plus arithmetic. Closures added at run time
 * (bk_cal_load_closures) live in a small sorted table consulted on top of
 * the rules; the built table itself is never modified.
 *
 * Daylight saving follows the US rules directly (not the TZ environment):
 * from 2007 the second Sunday of March to the first Sunday of November,
 * 1987-2006 the first Sunday of April to the last Sunday of October, both at
 * 02:00 local. Transitions fall on Sundays, so the offset is constant over
 * every trading day. Read cal.h for the contract and docs/internals/cal.md
 * for the rules and the yearly maintenance.
 */
#include "cal/cal.h"
#include "core/clock.h"
#include "model/time.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CLOSE_MASK      0x07ffu /* close, minutes after NY midnight; 0 = closed */
#define DST_BIT         0x8000u /* daylight time at local noon */
#define OPEN_MIN        (9 * 60 + 30)
#define CLOSE_MIN       (16 * 60)
#define PRE_MIN         (4 * 60)
#define POST_MIN        (20 * 60)
#define MAX_EXTRA       512
#define MAX_LINE_TOKENS 3

#define N_DAYS 40177 /* 1990-01-01 .. 2099-12-31 */

typedef struct ymd {
    int16_t y;
    int8_t m, d;
} ymd;

/* Section 4 of the calendar notes: unscheduled full-day closures. */
static const ymd special_closures[] = {
    {1994, 4, 27}, {2001, 9, 11},  {2001, 9, 12},  {2001, 9, 13}, {2001, 9, 14}, {2004, 6, 11},
    {2007, 1, 2},  {2012, 10, 29}, {2012, 10, 30}, {2018, 12, 5}, {2025, 1, 9},
};

/* Early closes that follow no rule. */
static const ymd oneoff_early[] = {{1997, 12, 26}, {1999, 12, 31}, {2003, 12, 26}};

typedef struct extra {
    int32_t day;
    uint16_t close_min; /* 0 = closed */
} extra;

static uint16_t tbl[N_DAYS];
static int32_t first_day, last_day;
static pthread_once_t tbl_once = PTHREAD_ONCE_INIT;

static extra extras[MAX_EXTRA];
static size_t n_extras;

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static int64_t imax(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t imin(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int32_t monday_of(int32_t day)
{
    return day - (bk_weekday(day) + 6) % 7;
}

/* First day of the DST period (EDT at noon) and the first day after it. */
static void dst_bounds(int y, int32_t *start, int32_t *end)
{
    if (y >= 2007) {
        int32_t mar1 = bk_days_from_civil(y, 3, 1), nov1 = bk_days_from_civil(y, 11, 1);
        *start = mar1 + (7 - bk_weekday(mar1)) % 7 + 7;
        *end = nov1 + (7 - bk_weekday(nov1)) % 7;
    } else {
        int32_t apr1 = bk_days_from_civil(y, 4, 1), oct31 = bk_days_from_civil(y, 10, 31);
        *start = apr1 + (7 - bk_weekday(apr1)) % 7;
        *end = oct31 - bk_weekday(oct31);
    }
}

static bool dst_at_noon(int32_t day)
{
    int y, m, d;
    int32_t start, end;
    bk_civil_from_days(day, &y, &m, &d);
    dst_bounds(y, &start, &end);
    return day >= start && day < end;
}

/* Gregorian computus (anonymous algorithm): Easter Sunday of year y. */
static int32_t easter(int y)
{
    int a = y % 19, b = y / 100, c = y % 100, d = b / 4, e = b % 4;
    int f = (b + 8) / 25, g = (b - f + 1) / 3;
    int h = (19 * a + b - d - g + 15) % 30;
    int i = c / 4, k = c % 4;
    int l = (32 + 2 * e + 2 * i - h - k) % 7;
    int mm = (a + 11 * h + 22 * l) / 451;
    int month = (h + l - 7 * mm + 114) / 31, day = (h + l - 7 * mm + 114) % 31 + 1;
    return bk_days_from_civil(y, month, day);
}

/* Fixed-date holiday M-D observed on the nearest weekday (Sat -> Fri, Sun -> Mon). */
static bool observed(int m, int d, int wd, int hm, int hd)
{
    if (m != hm)
        return false;
    return d == hd || (wd == 5 && d == hd - 1) || (wd == 1 && d == hd + 1);
}

static bool in_list(const ymd *list, size_t n, int y, int m, int d)
{
    for (size_t i = 0; i < n; i++)
        if (list[i].y == y && list[i].m == m && list[i].d == d)
            return true;
    return false;
}

/* A date broken down once for the rules below. */
typedef struct civil {
    int32_t day;
    int y, m, d, wd; /* wd: 0 = Sunday .. 6 = Saturday */
} civil;

static bool is_holiday(const civil *c, int32_t good_friday)
{
    int y = c->y, m = c->m, d = c->d, wd = c->wd;
    bool monday = wd == 1;
    if ((m == 1 && d == 1) || (m == 1 && d == 2 && monday)) /* no Saturday rule */
        return true;
    if (monday && ((m == 1 && y >= 1998) || m == 2) && d >= 15 && d <= 21)
        return true; /* Martin Luther King Jr. Day, Washington's Birthday */
    if (c->day == good_friday || (monday && m == 5 && d >= 25) || (monday && m == 9 && d <= 7))
        return true; /* Good Friday, Memorial Day, Labor Day */
    if (m == 11 && wd == 4 && d >= 22 && d <= 28)
        return true; /* Thanksgiving: the fourth Thursday, not always the last */
    return (y >= 2022 && observed(m, d, wd, 6, 19)) || observed(m, d, wd, 7, 4) ||
           observed(m, d, wd, 12, 25);
}

static bool is_early(const civil *c)
{
    int y = c->y, m = c->m, d = c->d, wd = c->wd;
    if (m == 11 && wd == 5 && d >= 23 && d <= 29 && y >= 1992)
        return true; /* day after Thanksgiving */
    if (m == 12 && d == 24 && wd >= 1 && wd <= 4)
        return true; /* on a Friday it is the observed Christmas */
    if (m == 7 && d == 3 && y >= 1995 && (wd == 1 || wd == 2 || wd == 4 || (wd == 3 && y >= 2013)))
        return true;
    if (m == 7 && d == 5 && wd == 5 && y >= 1995 && y < 2013)
        return true; /* 4 July on a Thursday before 2013: the Friday after */
    return in_list(oneoff_early, sizeof oneoff_early / sizeof *oneoff_early, y, m, d);
}

/* Close minute by rule for a date, 0 when there is no session. */
static unsigned rule_close(int32_t day, int32_t good_friday)
{
    civil c = {.day = day, .wd = bk_weekday(day)};
    if (c.wd == 0 || c.wd == 6)
        return 0;
    bk_civil_from_days(day, &c.y, &c.m, &c.d);
    if (is_holiday(&c, good_friday) ||
        in_list(special_closures, sizeof special_closures / sizeof *special_closures, c.y, c.m,
                c.d))
        return 0;
    if (is_early(&c))
        return c.y < 1993 ? 14 * 60 : 13 * 60;
    return CLOSE_MIN;
}

static void tbl_build(void)
{
    first_day = bk_days_from_civil(BK_CAL_FIRST_YEAR, 1, 1);
    last_day = bk_days_from_civil(BK_CAL_LAST_YEAR, 12, 31);
    for (int y = BK_CAL_FIRST_YEAR; y <= BK_CAL_LAST_YEAR; y++) {
        int32_t gf = easter(y) - 2, start, end;
        int32_t d0 = bk_days_from_civil(y, 1, 1), d1 = bk_days_from_civil(y + 1, 1, 1);
        dst_bounds(y, &start, &end);
        for (int32_t day = d0; day < d1; day++) {
            unsigned v = rule_close(day, gf);
            if (day >= start && day < end)
                v |= DST_BIT;
            tbl[day - first_day] = (uint16_t)v;
        }
    }
}

static void tbl_init(void)
{
    pthread_once(&tbl_once, tbl_build);
}

static int extra_cmp(const void *a, const void *b)
{
    const extra *x = a, *y = b;
    return (x->day > y->day) - (x->day < y->day);
}

static const extra *extra_find(int32_t day)
{
    if (n_extras == 0)
        return NULL;
    extra key = {day, 0};
    return bsearch(&key, extras, n_extras, sizeof *extras, extra_cmp);
}

/* Effective close minute of a NY date (0 = no session). */
static unsigned day_close(int32_t day)
{
    tbl_init();
    if (day < first_day || day > last_day)
        return 0;
    unsigned c = tbl[day - first_day] & CLOSE_MASK;
    const extra *x = c ? extra_find(day) : NULL;
    if (x && x->close_min < c)
        c = x->close_min;
    return c;
}

int bk_cal_utc_offset_s(int32_t day)
{
    bool dst;
    tbl_init();
    if (day >= first_day && day <= last_day)
        dst = (tbl[day - first_day] & DST_BIT) != 0;
    else
        dst = dst_at_noon(day);
    return dst ? -4 * 3600 : -5 * 3600;
}

int64_t bk_cal_ny_to_utc(int32_t day, int h, int m)
{
    int64_t local_s = (int64_t)day * 86400 + (int64_t)h * 3600 + (int64_t)m * 60;
    return (local_s - bk_cal_utc_offset_s(day)) * BK_US_PER_S;
}

static int64_t midnight(int32_t day)
{
    return bk_cal_ny_to_utc(day, 0, 0);
}

int32_t bk_cal_ny_day(int64_t t_us)
{
    int64_t u = t_us / BK_US_PER_DAY, rem = t_us % BK_US_PER_DAY;
    if (rem < 0) { /* floor, without overflow near INT64_MIN */
        rem += BK_US_PER_DAY;
        u--;
    }
    int32_t day = (int32_t)u;
    int off = bk_cal_utc_offset_s(day), prev = bk_cal_utc_offset_s(day - 1);
    if (off != prev) { /* switch day: 07:00Z into EDT, 06:00Z back to EST */
        bool dst_now = off > prev ? rem >= 7 * BK_US_PER_HOUR : rem < 6 * BK_US_PER_HOUR;
        off = dst_now ? -4 * 3600 : -5 * 3600;
    }
    return rem + off * BK_US_PER_S < 0 ? day - 1 : day;
}

static void fill_session(int32_t day, unsigned close_min, bk_session *out)
{
    int64_t mid = midnight(day);
    out->day = day;
    out->open_us = mid + OPEN_MIN * BK_US_PER_MIN;
    out->close_us = mid + (int64_t)close_min * BK_US_PER_MIN;
    out->pre_us = mid + PRE_MIN * BK_US_PER_MIN;
    out->post_us = mid + POST_MIN * BK_US_PER_MIN;
    out->early_close = close_min < CLOSE_MIN;
}

bool bk_cal_session(int32_t day, bk_session *out)
{
    unsigned c = day_close(day);
    if (c == 0)
        return false;
    if (out)
        fill_session(day, c, out);
    return true;
}

/* NY dates that can hold a session touching [from, to), clamped to the
 * table; *d0 > *d1 when there are none. */
static void day_range(int64_t from_us, int64_t to_us, int32_t *d0, int32_t *d1)
{
    tbl_init();
    if (from_us >= to_us) {
        *d0 = 1;
        *d1 = 0;
        return;
    }
    int32_t a = bk_cal_ny_day(from_us), b = bk_cal_ny_day(to_us - 1);
    *d0 = a > first_day ? a : first_day;
    *d1 = b < last_day ? b : last_day;
}

size_t bk_cal_sessions(int64_t from_us, int64_t to_us, bk_session *out, size_t cap)
{
    int32_t d0, d1;
    size_t n = 0;
    bk_session s;
    day_range(from_us, to_us, &d0, &d1);
    for (int32_t day = d0; day <= d1; day++) {
        if (!bk_cal_session(day, &s) || s.open_us >= to_us || s.close_us <= from_us)
            continue;
        if (n < cap)
            out[n] = s;
        n++;
    }
    return n;
}

bool bk_cal_is_open(int64_t t_us, bool extended)
{
    bk_session s;
    if (!bk_cal_session(bk_cal_ny_day(t_us), &s))
        return false;
    return extended ? t_us >= s.pre_us && t_us < s.post_us : t_us >= s.open_us && t_us < s.close_us;
}

void bk_cal_trading_time(int64_t from_us, int64_t to_us, bool extended, bk_ivset *out)
{
    int32_t d0, d1;
    bk_session s;
    day_range(from_us, to_us, &d0, &d1);
    for (int32_t day = d0; day <= d1; day++) {
        if (!bk_cal_session(day, &s))
            continue;
        int64_t a = extended ? s.pre_us : s.open_us, b = extended ? s.post_us : s.close_us;
        bk_ivset_add(out, imax(a, from_us), imin(b, to_us));
    }
}

int64_t bk_cal_next_open(int64_t t_us)
{
    bk_session s;
    tbl_init();
    int32_t day = bk_cal_ny_day(t_us);
    for (day = day > first_day ? day : first_day; day <= last_day; day++)
        if (bk_cal_session(day, &s) && s.open_us >= t_us)
            return s.open_us;
    return INT64_MAX;
}

int64_t bk_cal_prev_close(int64_t t_us)
{
    bk_session s;
    tbl_init();
    int32_t day = bk_cal_ny_day(t_us);
    for (day = day < last_day ? day : last_day; day >= first_day; day--)
        if (bk_cal_session(day, &s) && s.close_us <= t_us)
            return s.close_us;
    return INT64_MIN;
}

bk_iv bk_cal_widen_closed(bk_iv iv)
{
    if (iv.from_us >= iv.to_us)
        return iv;
    bk_iv w = iv;
    if (!bk_cal_is_open(iv.from_us - 1, false)) {
        int64_t pc = bk_cal_prev_close(iv.from_us);
        if (pc != INT64_MIN && pc < w.from_us)
            w.from_us = pc;
    }
    if (!bk_cal_is_open(iv.to_us, false)) {
        int64_t no = bk_cal_next_open(iv.to_us);
        if (no != INT64_MAX && no > w.to_us)
            w.to_us = no;
    }
    return w;
}

/* ---- bar grids ---------------------------------------------------------- */

static int64_t grid_base(const bk_session *s, bk_anchor anchor)
{
    return anchor == BK_ANCHOR_SESSION ? s->open_us : midnight(s->day);
}

static bk_calbar intraday_bar(const bk_session *s, int64_t label, int64_t step)
{
    bk_calbar b = {label, imax(label, s->open_us), imin(label + step, s->close_us)};
    return b;
}

/* Where bk_cal_bars collects bars: those whose span overlaps [from, to) are
 * counted in n, the first cap of them written to out. */
typedef struct sink {
    int64_t from_us, to_us;
    bk_calbar *out;
    size_t cap, n;
} sink;

static void emit(sink *k, int64_t label, int64_t from_us, int64_t to_us)
{
    if (from_us >= k->to_us || to_us <= k->from_us)
        return;
    if (k->n < k->cap)
        k->out[k->n] = (bk_calbar){label, from_us, to_us};
    k->n++;
}

/* The grid base + i*step over one session; counts without a loop when
 * nothing more is written. */
static void session_bars(sink *k, const bk_session *s, int64_t step, int64_t base)
{
    int64_t lo = imax(s->open_us, k->from_us), hi = imin(s->close_us, k->to_us);
    if (lo >= hi)
        return;
    int64_t i0 = floor_div(lo - base, step), i1 = -floor_div(base - hi, step) - 1;
    size_t total = k->n + (size_t)(i1 - i0 + 1);
    for (int64_t i = i0; i <= i1 && k->n < k->cap; i++) {
        bk_calbar b = intraday_bar(s, base + i * step, step);
        emit(k, b.ts_us, b.from_us, b.to_us);
    }
    k->n = total;
}

/* Week of monday: span from its first open to its last close. */
static bool week_span(int32_t monday, int64_t *first_open, int64_t *last_close)
{
    bk_session s;
    bool any = false;
    *first_open = *last_close = 0;
    for (int32_t day = monday; day < monday + 5; day++) {
        if (!bk_cal_session(day, &s))
            continue;
        if (!any)
            *first_open = s.open_us;
        *last_close = s.close_us;
        any = true;
    }
    return any;
}

size_t bk_cal_bars(bk_tf tf, bk_anchor anchor, int64_t from_us, int64_t to_us, bk_calbar *out,
                   size_t cap)
{
    sink k = {from_us, to_us, out, cap, 0};
    int32_t d0, d1;
    int64_t fo, lc;
    bk_session s;
    if ((unsigned)tf >= BK_TF__N)
        return 0;
    day_range(from_us, to_us, &d0, &d1);
    if (tf == BK_TF_W1) {
        for (int32_t mon = monday_of(d0); mon <= d1; mon += 7)
            if (week_span(mon, &fo, &lc))
                emit(&k, midnight(mon), fo, lc);
        return k.n;
    }
    for (int32_t day = d0; day <= d1; day++) {
        if (!bk_cal_session(day, &s))
            continue;
        if (tf == BK_TF_D1)
            emit(&k, midnight(day), s.open_us, s.close_us);
        else
            session_bars(&k, &s, bk_tf_step_us(tf), grid_base(&s, anchor));
    }
    return k.n;
}

bool bk_cal_bar_at(bk_tf tf, bk_anchor anchor, int64_t ts_us, bk_calbar *out)
{
    int32_t day = bk_cal_ny_day(ts_us);
    bk_session s;
    bk_calbar b;
    if ((unsigned)tf >= BK_TF__N)
        return false;
    if (tf == BK_TF_W1) {
        if (bk_weekday(day) != 1 || ts_us != midnight(day) || !week_span(day, &b.from_us, &b.to_us))
            return false;
        b.ts_us = ts_us;
    } else if (!bk_cal_session(day, &s)) {
        return false;
    } else if (tf == BK_TF_D1) {
        if (ts_us != midnight(day))
            return false;
        b = (bk_calbar){ts_us, s.open_us, s.close_us};
    } else {
        int64_t step = bk_tf_step_us(tf), base = grid_base(&s, anchor);
        if (ts_us - base - floor_div(ts_us - base, step) * step != 0 || ts_us >= s.close_us ||
            ts_us + step <= s.open_us)
            return false;
        b = intraday_bar(&s, ts_us, step);
    }
    if (out)
        *out = b;
    return true;
}

static int64_t week_closed_through(int64_t ref_us)
{
    int64_t c = bk_cal_prev_close(ref_us), fo, lc;
    if (c == INT64_MIN)
        return c;
    int32_t mon = monday_of(bk_cal_ny_day(c));
    if (week_span(mon, &fo, &lc) && lc <= ref_us)
        return lc;
    return bk_cal_prev_close(midnight(mon));
}

int64_t bk_cal_closed_through(bk_tf tf, bk_anchor anchor, int64_t ref_us)
{
    bk_session s;
    if ((unsigned)tf >= BK_TF__N)
        return INT64_MIN;
    if (tf == BK_TF_W1)
        return week_closed_through(ref_us);
    if (tf != BK_TF_D1 && bk_cal_session(bk_cal_ny_day(ref_us), &s) && ref_us > s.open_us &&
        ref_us < s.close_us) {
        int64_t step = bk_tf_step_us(tf), base = grid_base(&s, anchor);
        int64_t end = base + floor_div(ref_us - base, step) * step;
        if (end > s.open_us)
            return end;
    }
    return bk_cal_prev_close(ref_us);
}

/* ---- closures loaded at start-up ---------------------------------------- */

static bool parse_day(const char *p, size_t len, int32_t *out)
{
    char buf[11];
    int y, m, d;
    if (len != 10 || memchr(p, '\0', len))
        return false;
    memcpy(buf, p, len);
    buf[len] = '\0';
    if (bk_date_parse(buf, out) != 0)
        return false;
    bk_civil_from_days(*out, &y, &m, &d);
    return y >= BK_CAL_FIRST_YEAR && y <= BK_CAL_LAST_YEAR;
}

/* "HH:MM", strictly between the regular open and close. */
static bool parse_close(const char *p, size_t len, uint16_t *out)
{
    if (len != 5 || p[2] != ':')
        return false;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (p[i] < '0' || p[i] > '9'))
            return false;
    int h = (p[0] - '0') * 10 + (p[1] - '0'), m = (p[3] - '0') * 10 + (p[4] - '0');
    int min = h * 60 + m;
    if (m > 59 || min <= OPEN_MIN || min >= CLOSE_MIN)
        return false;
    *out = (uint16_t)min;
    return true;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* One line with its comment cut off: 1 = entry in *x, 0 = blank, -1 = bad. */
static int parse_line(const char *p, size_t len, extra *x)
{
    const char *tok[MAX_LINE_TOKENS];
    size_t tlen[MAX_LINE_TOKENS], i = 0;
    int nt = 0;
    while (nt < MAX_LINE_TOKENS) {
        while (i < len && is_blank(p[i]))
            i++;
        if (i == len)
            break;
        size_t start = i;
        while (i < len && !is_blank(p[i]))
            i++;
        tok[nt] = p + start;
        tlen[nt++] = i - start;
    }
    if (nt == 0)
        return 0;
    if (nt == MAX_LINE_TOKENS || !parse_day(tok[0], tlen[0], &x->day))
        return -1;
    x->close_min = 0;
    if (nt == 1 || (tlen[1] == 6 && strncasecmp(tok[1], "closed", 6) == 0))
        return 1;
    return parse_close(tok[1], tlen[1], &x->close_min) ? 1 : -1;
}

/* Add x to set[0..*n), merging with an entry for the same day (the
 * shorter session wins). False when the table is full. */
static bool extra_put(extra *set, size_t *n, extra x)
{
    for (size_t i = 0; i < *n; i++) {
        if (set[i].day == x.day) {
            if (x.close_min < set[i].close_min)
                set[i].close_min = x.close_min;
            return true;
        }
    }
    if (*n == MAX_EXTRA)
        return false;
    set[(*n)++] = x;
    return true;
}

int bk_cal_load_closures(const char *text, size_t len, bk_err *err)
{
    extra tmp[MAX_EXTRA], x;
    size_t n = n_extras, i = 0, line = 0;
    if (!text && len)
        return bk_err_set(err, BK_EINVAL, "closures: no text");
    memcpy(tmp, extras, n * sizeof *tmp);
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        const char *hash = memchr(text + i, '#', end - i);
        int r = parse_line(text + i, (hash ? (size_t)(hash - text) : end) - i, &x);
        line++;
        if (r < 0)
            return bk_err_set(err, BK_EINVAL,
                              "closures line %zu: expected YYYY-MM-DD [closed | HH:MM] "
                              "(years %d-%d, HH:MM after 09:30 and before 16:00)",
                              line, BK_CAL_FIRST_YEAR, BK_CAL_LAST_YEAR);
        if (r > 0 && !extra_put(tmp, &n, x))
            return bk_err_set(err, BK_EINVAL, "closures line %zu: more than %d closures", line,
                              MAX_EXTRA);
        i = end + 1;
    }
    qsort(tmp, n, sizeof *tmp, extra_cmp);
    memcpy(extras, tmp, n * sizeof *tmp);
    n_extras = n;
    return 0;
}

void bk_cal_reset_closures(void)
{
    n_extras = 0;
}
