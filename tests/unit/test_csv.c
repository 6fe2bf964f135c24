/*
 * test_csv.c — the bar-file parser behind `barkeep import`: header and
 * headerless files, column names, separators, quoting, byte-order mark and
 * line ends, every timestamp form and the per-timeframe label
 * normalisation, error messages naming line and column, and the limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cal/cal.h"
#include "core/clock.h"
#include "core/util.h"
#include "model/time.h"
#include "prov/csv.h"
#include "prov/prov.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t ny(int y, int m, int d, int h, int min)
{
    return bk_cal_ny_to_utc(bk_days_from_civil(y, m, d), h, min);
}

static int64_t utc(int y, int m, int d, int h, int min)
{
    return (int64_t)bk_days_from_civil(y, m, d) * BK_US_PER_DAY + h * BK_US_PER_HOUR +
           min * BK_US_PER_MIN;
}

/* Parse text (tf or -1) into c; returns the code. */
static int parse(bk_csv *c, const char *text, int tf, bk_err *err)
{
    bk_csv_init(c);
    bk_err_clear(err);
    return bk_csv_parse(c, text, strlen(text), tf, err);
}

/* Parse text expecting failure with code and a message containing msg. */
static void expect_error(const char *text, int tf, int code, const char *msg)
{
    bk_csv c;
    bk_err err = {0};
    int rc = parse(&c, text, tf, &err);
    if (rc != code || !strstr(err.msg, msg))
        fail_msg("rc %d (want %d), message '%s' (want '%s')", rc, code, err.msg, msg);
    bk_csv_fini(&c);
}

static void assert_bar(const bk_csv_row *r, int64_t ts, double o, double h, double l, double cl,
                       double v)
{
    assert_true(r->bar.ts_us == ts);
    assert_true(r->bar.open == o && r->bar.high == h && r->bar.low == l && r->bar.close == cl);
    assert_true(r->bar.volume == v);
}

static void test_header_names(void **state)
{
    (void)state;
    bk_csv c;
    bk_err err;
    /* a spreadsheet download: the close is used, never the adjusted close */
    assert_int_equal(parse(&c,
                           "Date,Open,High,Low,Close,Adj Close,Volume\n"
                           "2024-06-03,10,11,9,10.5,10.25,1000\n"
                           "2024-06-04,10.5,12,10,11,10.75,2e3\n",
                           BK_TF_D1, &err),
                     0);
    assert_true(c.header && c.has_volume && !c.has_symbol && !c.has_tf);
    assert_int_equal(c.sep, ',');
    assert_int_equal(c.n_rows, 2);
    assert_int_equal(c.n_series, 1);
    assert_string_equal(c.series[0].symbol, "");
    assert_int_equal(c.series[0].tf, BK_TF_D1);
    assert_bar(&c.rows[0], ny(2024, 6, 3, 0, 0), 10, 11, 9, 10.5, 1000);
    assert_bar(&c.rows[1], ny(2024, 6, 4, 0, 0), 10.5, 12, 10, 11, 2000);
    assert_int_equal(c.rows[0].line, 2);
    assert_int_equal(c.rows[1].line, 3);
    bk_csv_fini(&c);

    /* short names, any case, blanks around; unknown columns ignored; no volume */
    assert_int_equal(parse(&c,
                           " T , O ,H,L,C,VWAP,n\n"
                           "1717421400, 1 ,2,0.5,1.5,1.2,9\n",
                           BK_TF_1H, &err),
                     0);
    assert_false(c.has_volume);
    assert_bar(&c.rows[0], utc(2024, 6, 3, 13, 30), 1, 2, 0.5, 1.5, 0);
    bk_csv_fini(&c);

    /* barkeep's own `bars` output reads back */
    assert_int_equal(parse(&c,
                           "ts,open,high,low,close,volume,provider\n"
                           "2024-06-03T13:30:00Z,1,2,0.5,1.5,10,sim\n",
                           BK_TF_1H, &err),
                     0);
    assert_bar(&c.rows[0], utc(2024, 6, 3, 13, 30), 1, 2, 0.5, 1.5, 10);
    bk_csv_fini(&c);

    /* separate date and time columns are joined (New York time) */
    assert_int_equal(parse(&c,
                           "Date,Time,Open,High,Low,Close,Vol\n"
                           "2024-06-03,09:30,1,2,0.5,1.5,7\n"
                           "2024-01-03,09:30:00,1,2,0.5,1.5,\n",
                           BK_TF_1H, &err),
                     0);
    assert_bar(&c.rows[0], utc(2024, 6, 3, 13, 30), 1, 2, 0.5, 1.5, 7);
    assert_bar(&c.rows[1], utc(2024, 1, 3, 14, 30), 1, 2, 0.5, 1.5, 0); /* empty volume: 0 */
    bk_csv_fini(&c);

    /* Timestamp, Datetime, Ticker, Interval, Volume spelled otherwise */
    assert_int_equal(parse(&c,
                           "Ticker;Interval;DateTime;open;high;low;close;VOLUME\n"
                           "msft;h1;2024-06-03T09:30;1;2;0,5;1,5;3\n",
                           -1, &err),
                     0);
    assert_true(c.has_symbol && c.has_tf);
    assert_string_equal(c.series[0].symbol, "MSFT");
    assert_int_equal(c.series[0].tf, BK_TF_1H);
    bk_csv_fini(&c);
}

static void test_headerless(void **state)
{
    (void)state;
    bk_csv c;
    bk_err err;
    assert_int_equal(parse(&c, "1717421400,1,2,0.5,1.5\n1717425000,1.5,2,1,1.8\n", BK_TF_1H, &err),
                     0);
    assert_false(c.header);
    assert_false(c.has_volume);
    assert_int_equal(c.n_rows, 2);
    assert_int_equal(c.rows[0].line, 1);
    assert_bar(&c.rows[1], utc(2024, 6, 3, 14, 30), 1.5, 2, 1, 1.8, 0);
    bk_csv_fini(&c);
    assert_int_equal(parse(&c, "2024-06-03 09:30,1,2,0.5,1.5,100\n", BK_TF_1H, &err), 0);
    assert_true(c.has_volume);
    assert_bar(&c.rows[0], utc(2024, 6, 3, 13, 30), 1, 2, 0.5, 1.5, 100);
    bk_csv_fini(&c);
    expect_error("1717421400,1,2,0.5,1.5,100,7\n", BK_TF_1H, BK_EINVAL,
                 "line 1: 7 fields: a file without a header has the columns "
                 "time,open,high,low,close[,volume]");
    expect_error("1717421400,1,2,0.5\n", BK_TF_1H, BK_EINVAL, "line 1: 4 fields");
    expect_error("1717421400,1,2,0.5,1.5\n1717425000,1,2,0.5,1.5,3\n", BK_TF_1H, BK_EINVAL,
                 "line 2: 6 fields where the first row has 5");
}

static void test_separators(void **state)
{
    (void)state;
    bk_csv c;
    bk_err err;
    /* semicolons with decimal commas */
    assert_int_equal(
        parse(&c, "time;open;high;low;close\n2024-06-03 09:30;1,5;2;1;1,75\n", BK_TF_1H, &err), 0);
    assert_int_equal(c.sep, ';');
    assert_bar(&c.rows[0], utc(2024, 6, 3, 13, 30), 1.5, 2, 1, 1.75, 0);
    bk_csv_fini(&c);
    /* tabs */
    assert_int_equal(
        parse(&c, "time\topen\thigh\tlow\tclose\n1717421400\t1\t2\t0.5\t1.5\n", BK_TF_1H, &err), 0);
    assert_int_equal(c.sep, '\t');
    assert_int_equal(c.n_rows, 1);
    bk_csv_fini(&c);
    /* detected on the first record, not on a blank line before it */
    assert_int_equal(
        parse(&c, "\n\r\ntime;open;high;low;close\n1717421400;1;2;0,5;1,5\n", BK_TF_1H, &err), 0);
    assert_int_equal(c.sep, ';');
    assert_int_equal(c.rows[0].line, 4);
    bk_csv_fini(&c);
    /* commas win over a semicolon inside quotes */
    assert_int_equal(
        parse(&c, "\"a;b;c\",time,open,high,low,close\nx,1717421400,1,2,0.5,1.5\n", BK_TF_1H, &err),
        0);
    assert_int_equal(c.sep, ',');
    bk_csv_fini(&c);
    /* with a comma separator a decimal comma cannot be told apart */
    expect_error("time,open,high,low,close\n1717421400,\"1,5\",2,1,1.5\n", BK_TF_1H, BK_EINVAL,
                 "line 2: open '1,5' is not a number");
    expect_error("time;open;high;low;close\n1717421400;1,5,0;2;1;1.5\n", BK_TF_1H, BK_EINVAL,
                 "line 2: open '1,5,0' is not a number");
}

static void test_quoting(void **state)
{
    (void)state;
    bk_csv c;
    bk_err err;
    assert_int_equal(parse(&c,
                           "\"time\",\"open\",\"high\",\"low\",\"close\",\"note\"\n"
                           "\"1717421400\",\"1\",\"2\",\"0.5\",\"1.5\",\"a, \"\"b\"\"\"\n"
                           "1717425000,1,2,0.5,1.5,\"two\nlines\"\n"
                           "1717428600,1,2,0.5,1.5,\"\"\n"
                           "1717432200, \"1\" ,2,0.5,1.5,x\n",
                           BK_TF_1H, &err),
                     0);
    assert_int_equal(c.n_rows, 4);
    assert_int_equal(c.rows[1].line, 3);
    assert_int_equal(c.rows[2].line, 5); /* after the quoted line break */
    assert_int_equal(c.rows[3].line, 6);
    assert_bar(&c.rows[3], utc(2024, 6, 3, 16, 30), 1, 2, 0.5, 1.5, 0);
    bk_csv_fini(&c);
    expect_error("time,open,high,low,close\n1717421400,\"1\"x,2,0.5,1.5\n", BK_TF_1H, BK_EINVAL,
                 "line 2: text after a closing quote");
    expect_error("time,open,high,low,close\n1717421400,1,2,0.5,\"1.5\n", BK_TF_1H, BK_EINVAL,
                 "line 2: a quoted field is not closed");
    expect_error("time,open,high,low,close\n1717421400,1\"5,2,0.5,1.5\n", BK_TF_1H, BK_EINVAL,
                 "line 2: a quote inside an unquoted field");
}

static void test_bom_and_line_ends(void **state)
{
    (void)state;
    bk_csv c;
    bk_err err;
    const char *texts[] = {
        ("\xEF\xBB\xBFtime,open,high,low,close\r\n1717421400,1,2,0.5,1.5\r\n\r\n"
         "1717425000,1,2,0.5,1.5\r\n"),
        "time,open,high,low,close\n\n  \n1717421400,1,2,0.5,1.5\n1717425000,1,2,0.5,1.5",
        "time,open,high,low,close\r1717421400,1,2,0.5,1.5\r1717425000,1,2,0.5,1.5\r",
    };
    for (size_t i = 0; i < BK_ARRAY_LEN(texts); i++) {
        assert_int_equal(parse(&c, texts[i], BK_TF_1H, &err), 0);
        assert_true(c.header);
        assert_int_equal(c.n_rows, 2);
        assert_bar(&c.rows[1], utc(2024, 6, 3, 14, 30), 1, 2, 0.5, 1.5, 0);
        bk_csv_fini(&c);
    }
    assert_int_equal(
        parse(&c, "time,open,high,low,close\n\n  \n1717421400,1,2,0.5,1.5\n", BK_TF_1H, &err), 0);
    assert_int_equal(c.rows[0].line, 4);
    bk_csv_fini(&c);
    /* empty input and a header alone: no rows, no error */
    assert_int_equal(parse(&c, "", BK_TF_1H, &err), 0);
    assert_int_equal(c.n_rows, 0);
    bk_csv_fini(&c);
    assert_int_equal(parse(&c, "\xEF\xBB\xBFtime,open,high,low,close\r\n", BK_TF_1H, &err), 0);
    assert_true(c.header);
    assert_int_equal(c.n_rows, 0);
    bk_csv_fini(&c);
}

static void check_time(const char *s, bk_tf tf, int64_t want)
{
    int64_t got = 0;
    if (bk_csv_time(s, tf, &got) != 0)
        fail_msg("'%s' refused", s);
    if (got != want) {
        char a[BK_TIME_STR_MAX], b[BK_TIME_STR_MAX];
        fail_msg("'%s' %s: %s, want %s", s, bk_tf_name(tf), bk_time_format(got, a),
                 bk_time_format(want, b));
    }
}

static void test_timestamps(void **state)
{
    (void)state;
    int64_t t = utc(2024, 6, 3, 13, 30);
    /* Unix numbers by magnitude */
    check_time("1717421400", BK_TF_1H, t);
    check_time("1717421400.000", BK_TF_1H, t);
    check_time("1717421400000", BK_TF_1H, t);
    check_time("1717421400000000", BK_TF_1H, t);
    check_time("1717421400000000000", BK_TF_1H, t);
    check_time("631152000", BK_TF_1H, utc(1990, 1, 1, 0, 0));
    /* ISO-8601 with a zone */
    check_time("2024-06-03T13:30:00Z", BK_TF_1H, t);
    check_time("2024-06-03 13:30Z", BK_TF_1H, t);
    check_time("2024-06-03T09:30:00-04:00", BK_TF_1H, t);
    check_time("2024-06-03T13:30:00.000+00:00", BK_TF_1H, t);
    /* no zone: New York time, summer and winter */
    check_time("2024-06-03 09:30", BK_TF_1H, t);
    check_time("2024-06-03T09:30:00", BK_TF_1H, t);
    check_time("2024-06-03 09:30:00.000", BK_TF_1H, t);
    check_time("2024-01-03 09:30:00", BK_TF_1H, utc(2024, 1, 3, 14, 30));
    check_time("2024-06-03", BK_TF_1H, ny(2024, 6, 3, 0, 0));
    check_time("20240603", BK_TF_1H, ny(2024, 6, 3, 0, 0));
    /* d1: the day label of the written date, or of a Unix number's UTC date */
    int64_t day = ny(2024, 6, 3, 0, 0);
    const char *daily[] = {"2024-06-03",           "20240603",         "2024-06-03T00:00:00Z",
                           "2024-06-03T04:00:00Z", "2024-06-03 16:00", "2024-06-03T00:00:00+09:00",
                           "1717372800",           "1717372800000",    "1717421400"};
    for (size_t i = 0; i < BK_ARRAY_LEN(daily); i++)
        check_time(daily[i], BK_TF_D1, day);
    check_time("2024-01-03", BK_TF_D1, ny(2024, 1, 3, 0, 0));
    /* w1: the Monday of the week (Monday to Sunday) */
    check_time("2024-06-03", BK_TF_W1, day);
    check_time("2024-06-07", BK_TF_W1, day);
    check_time("2024-06-09", BK_TF_W1, day);
    check_time("2024-06-10", BK_TF_W1, ny(2024, 6, 10, 0, 0));
    check_time("1717804800", BK_TF_W1, day); /* 2024-06-08T00:00Z */
    /* refused */
    const char *bad[] = {"",
                         "06/03/2024",
                         "2024-6-3",
                         "2024-06-31",
                         "2024-06-03T25:00",
                         "2024-06-03 09:30:00.5",
                         "2024-06-03X09:30",
                         "2024-06-03T09:30 EST",
                         "1717421400.5e3",
                         "1717421400000.5",
                         "1717421400000000001",
                         "99999999999999999999",
                         "-1717421400",
                         "1e9",
                         "abc",
                         "1899-12-31",
                         "2201-01-01T00:00Z",
                         "9999999999999999999"};
    for (size_t i = 0; i < BK_ARRAY_LEN(bad); i++) {
        int64_t got;
        if (bk_csv_time(bad[i], BK_TF_1H, &got) == 0)
            fail_msg("'%s' accepted", bad[i]);
    }
}

static void test_series_columns(void **state)
{
    (void)state;
    bk_csv c;
    bk_err err;
    assert_int_equal(parse(&c,
                           "symbol,timeframe,time,open,high,low,close,volume\n"
                           "AAPL,1h,2024-06-03 09:30,1,2,0.5,1.5,1\n"
                           "MSFT,1d,2024-06-03,1,2,0.5,1.5,2\n"
                           "aapl,h1,2024-06-03 10:30,1,2,0.5,1.5,3\n"
                           "AAPL,d1,2024-06-03,1,2,0.5,1.5,4\n",
                           -1, &err),
                     0);
    assert_int_equal(c.n_series, 3);
    assert_string_equal(c.series[0].symbol, "AAPL");
    assert_int_equal(c.series[0].tf, BK_TF_1H);
    assert_int_equal(c.series[0].n_rows, 2);
    assert_int_equal(c.series[0].first_line, 2);
    assert_string_equal(c.series[1].symbol, "MSFT");
    assert_int_equal(c.series[1].tf, BK_TF_D1);
    assert_int_equal(c.series[2].first_line, 5);
    assert_int_equal(c.rows[2].series, 0);
    assert_int_equal(c.rows[3].series, 2);
    assert_true(c.rows[1].bar.ts_us == ny(2024, 6, 3, 0, 0));
    bk_csv_fini(&c);
    /* a symbol column alone: the caller's timeframe */
    assert_int_equal(parse(&c, "ticker,t,o,h,l,c\nSPY,1717421400,1,2,0.5,1.5\n", BK_TF_5M, &err),
                     0);
    assert_int_equal(c.series[0].tf, BK_TF_5M);
    bk_csv_fini(&c);
    expect_error("symbol,time,open,high,low,close\nAA PL,1717421400,1,2,0.5,1.5\n", BK_TF_1H,
                 BK_EINVAL, "line 2: symbol 'AA PL' is not a valid symbol");
    expect_error("tf,time,open,high,low,close\n2h,1717421400,1,2,0.5,1.5\n", -1, BK_EINVAL,
                 "line 2: timeframe '2h' is not one of");
    expect_error("time,open,high,low,close\n1717421400,1,2,0.5,1.5\n", -1, BK_ENOENT,
                 "no timeframe");
}

static void test_header_errors(void **state)
{
    (void)state;
    expect_error("Date,Open,High,Low,Adj Close,Volume\n2024-06-03,1,2,0.5,1.5,3\n", BK_TF_D1,
                 BK_EINVAL,
                 "line 1: the header has an adjusted close ('Adj Close') but no close column");
    expect_error("when,open,high,low,close\n2024-06-03,1,2,0.5,1.5\n", BK_TF_D1, BK_EINVAL,
                 "line 1: the header has no time column");
    expect_error("date,open,high,low\n2024-06-03,1,2,0.5\n", BK_TF_D1, BK_EINVAL,
                 "line 1: the header has no close column");
    expect_error("date,open,high,low,close,c\n", BK_TF_D1, BK_EINVAL,
                 "line 1: columns 5 ('close') and 6 ('c') are both the close");
    expect_error("timestamp,datetime,open,high,low,close\n", BK_TF_D1, BK_EINVAL,
                 "are both the time");
}

static void test_row_errors(void **state)
{
    (void)state;
    char text[4096];
    size_t n = (size_t)snprintf(text, sizeof text, "time,open,high,low,close,volume\n");
    for (int i = 0; i < 15; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%d,1,2,0.5,1.5,10\n",
                              1717421400 + 3600 * i);
    snprintf(text + n, sizeof text - n, "1717479000,1,abc,0.5,1.5,10\n");
    expect_error(text, BK_TF_1H, BK_EINVAL, "line 17: high 'abc' is not a number");
    expect_error("time,open,high,low,close\n1717421400,,2,0.5,1.5\n", BK_TF_1H, BK_EINVAL,
                 "line 2: open is empty");
    expect_error("time,open,high,low,close,volume\n1717421400,1,2,0.5,1.5,lots\n", BK_TF_1H,
                 BK_EINVAL, "line 2: volume 'lots' is not a number");
    expect_error("time,open,high,low,close\n1717421400,1,2,0.5,nan\n", BK_TF_1H, BK_EINVAL,
                 "line 2: close 'nan' is not a number");
    expect_error("time,open,high,low,close\n1717421400,1,2,0.5,1e999\n", BK_TF_1H, BK_EINVAL,
                 "line 2: close '1e999' is not a number");
    expect_error("time,open,high,low,close\n1717421400,0x1,2,0.5,1.5\n", BK_TF_1H, BK_EINVAL,
                 "line 2: open '0x1' is not a number");
    expect_error("time,open,high,low,close\n06/03/2024,1,2,0.5,1.5\n", BK_TF_1H, BK_EINVAL,
                 "line 2: time '06/03/2024' is not a timestamp");
    expect_error("time,open,high,low,close\n1717421400,1,2,0.5,1.5,9\n", BK_TF_1H, BK_EINVAL,
                 "line 2: 6 fields where the header has 5");
    /* a first row in which nothing is a number is a header, and says so */
    expect_error("x,y,z,w,v\n", BK_TF_1H, BK_EINVAL, "line 1: the header has no time column");
    bk_csv c;
    bk_err err = {0};
    bk_csv_init(&c);
    const char nul[] = "time,open,high,low,close\n1717421400,1,2\0,0.5,1.5\n";
    assert_int_equal(bk_csv_parse(&c, nul, sizeof nul - 1, BK_TF_1H, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "line 2: NUL byte"));
    bk_csv_fini(&c);
}

static void test_limits(void **state)
{
    (void)state;
    bk_csv c;
    bk_err err = {0};
    /* a file over the cap is refused before a byte is read */
    bk_csv_init(&c);
    assert_int_equal(bk_csv_parse(&c, "", BK_CSV_FILE_MAX + 1, BK_TF_1H, &err), BK_ERANGE);
    assert_non_null(strstr(err.msg, "MiB"));
    bk_csv_fini(&c);
    /* one record over the line cap, quoted or not */
    size_t big = BK_CSV_LINE_MAX + 100;
    char *text = bk_xmalloc(big + 64);
    int n = snprintf(text, 64, "time,open,high,low,close,note\n1717421400,1,2,0.5,1.5,");
    memset(text + n, 'x', big);
    text[n + (int)big] = '\0';
    expect_error(text, BK_TF_1H, BK_ERANGE, "line 2: record longer than 4096 bytes");
    text[n] = '"';
    expect_error(text, BK_TF_1H, BK_ERANGE, "line 2: record longer than 4096 bytes");
    /* too many fields */
    memset(text, ',', 200);
    text[200] = '\0';
    expect_error(text, BK_TF_1H, BK_ERANGE, "line 1: more than 64 fields");
    free(text);
    /* too many series */
    bk_buf b;
    bk_buf_init(&b);
    bk_buf_puts(&b, "symbol,time,open,high,low,close\n");
    for (int i = 0; i <= BK_CSV_SERIES_MAX; i++)
        bk_buf_printf(&b, "S%d,1717421400,1,2,0.5,1.5\n", i);
    expect_error(b.data, BK_TF_1H, BK_ERANGE, "line 1002: more than 1000 series");
    bk_buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_names),      cmocka_unit_test(test_headerless),
        cmocka_unit_test(test_separators),        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_bom_and_line_ends), cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_series_columns),    cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_row_errors),        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
