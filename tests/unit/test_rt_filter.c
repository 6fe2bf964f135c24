/*
 * test_rt_filter.c — the realtime tables and changes (api/change.c) and
 * their filters (api/rt_filter.c): columns JSON, record/old_record/values of
 * each table, timestamptz as to_json renders it, reference counting; every
 * operator on every column class, comma-AND outside quotes and parentheses,
 * quoted values, null cells, and the error message of each malformed filter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/change.h"

#define T0 INT64_C(1767323045678000) /* 2026-01-02T03:04:05.678Z */

static bk_run sample_run(void)
{
    bk_run r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "7c9e6679-7425-40de-944b-e07fc1f90ae7");
    snprintf(r.symbol, sizeof r.symbol, "AAPL");
    r.tf = BK_TF_1H;
    r.type = BK_JOB_INTRADAY;
    r.status = BK_ST_RUNNING;
    r.progress_percent = 40.5;
    r.rows_written = 12;
    r.attempt = 1;
    r.max_attempts = 5;
    r.priority = 3;
    r.slice_from_us = T0 - 678000;
    r.slice_to_us = T0 + 3600 * INT64_C(1000000);
    r.created_us = T0;
    r.updated_us = T0 + 1;
    return r;
}

static const char *cell(const bk_change *c, const char *col)
{
    int i = bk_rt_col(c->table, col);
    assert_true(i >= 0);
    return c->values[i];
}

static void test_tables(void **state)
{
    (void)state;
    const bk_table_def *t = bk_rt_table("job_runs");
    assert_non_null(t);
    assert_string_equal(t->pk, "id");
    assert_ptr_equal(bk_rt_table("job_runs"), t);
    assert_null(bk_rt_table("ohlc_bars_v2"));
    assert_null(bk_rt_table(NULL));
    assert_int_equal(bk_rt_col(t, "nope"), -1);
    assert_int_equal(bk_rt_col(t, "id"), 0);
    assert_non_null(strstr(t->columns_json, "{\"name\":\"id\",\"type\":\"uuid\"}"));
    assert_non_null(strstr(t->columns_json, "{\"name\":\"progress_percent\",\"type\":\"float8\"}"));
    assert_non_null(strstr(t->columns_json, "{\"name\":\"created_at\",\"type\":\"timestamptz\"}"));
    const bk_table_def *cv = bk_rt_table("coverage_status");
    assert_non_null(cv);
    assert_string_equal(cv->pk, "symbol,timeframe");
    assert_int_equal(cv->ncols, 8);
    const bk_table_def *d = bk_rt_table("job_definitions");
    assert_non_null(d);
    assert_non_null(strstr(d->columns_json, "{\"name\":\"enabled\",\"type\":\"bool\"}"));
}

static void test_time_format(void **state)
{
    (void)state;
    char b[BK_RT_TIME_MAX];
    assert_string_equal(bk_rt_time_format(T0, b), "2026-01-02T03:04:05.678+00:00");
    assert_string_equal(bk_rt_time_format(T0 - 678000, b), "2026-01-02T03:04:05+00:00");
    assert_string_equal(bk_rt_time_format(T0 + 1, b), "2026-01-02T03:04:05.678001+00:00");
    assert_string_equal(bk_rt_time_format(T0 + 20000, b), "2026-01-02T03:04:05.698+00:00");
    assert_string_equal(bk_rt_time_format(-1, b), "1969-12-31T23:59:59.999999+00:00");
}

static void test_change_run(void **state)
{
    (void)state;
    bk_run r = sample_run();
    bk_change *c = bk_change_run("UPDATE", &r, T0);
    assert_string_equal(c->type, "UPDATE");
    assert_int_equal(c->commit_us, T0);
    assert_string_equal(c->old_record, "{\"id\":\"7c9e6679-7425-40de-944b-e07fc1f90ae7\"}");
    assert_non_null(strstr(c->record, "{\"id\":\"7c9e6679-7425-40de-944b-e07fc1f90ae7\","
                                      "\"job_def_id\":null,\"symbol\":\"AAPL\","
                                      "\"timeframe\":\"1h\",\"job_type\":\"fetch_intraday\","
                                      "\"slice_from\":\"2026-01-02T03:04:05+00:00\""));
    assert_non_null(strstr(c->record, "\"status\":\"running\",\"progress_percent\":40.5,"
                                      "\"rows_written\":12,\"provider\":null,\"attempt\":1"));
    assert_non_null(strstr(c->record, "\"created_at\":\"2026-01-02T03:04:05.678+00:00\","
                                      "\"started_at\":null"));
    assert_string_equal(cell(c, "progress_percent"), "40.5");
    assert_string_equal(cell(c, "attempt"), "1");
    assert_string_equal(cell(c, "updated_at"), "2026-01-02T03:04:05.678001+00:00");
    assert_null(cell(c, "provider"));
    assert_null(cell(c, "finished_at"));
    bk_change_retain(c);
    bk_change_release(c);
    bk_change_release(c); /* the last: freed (ASan checks) */
    bk_change_release(NULL);

    bk_change *i = bk_change_run("INSERT", &r, T0);
    assert_null(i->old_record);
    assert_non_null(i->record);
    bk_change_release(i);
}

static void test_change_coverage_def(void **state)
{
    (void)state;
    bk_coverage cv;
    memset(&cv, 0, sizeof cv);
    snprintf(cv.symbol, sizeof cv.symbol, "MSFT");
    cv.tf = BK_TF_D1;
    cv.from_us = T0;
    cv.last_rows_written = 3;
    snprintf(cv.last_provider, sizeof cv.last_provider, "sim");
    bk_change *c = bk_change_coverage("UPDATE", &cv, T0);
    assert_string_equal(c->record, "{\"symbol\":\"MSFT\",\"timeframe\":\"d1\","
                                   "\"from_ts\":\"2026-01-02T03:04:05.678+00:00\",\"to_ts\":null,"
                                   "\"last_success_at\":null,\"last_rows_written\":3,"
                                   "\"last_provider\":\"sim\",\"updated_at\":null}");
    assert_string_equal(c->old_record, "{\"symbol\":\"MSFT\",\"timeframe\":\"d1\"}");
    bk_change_release(c);

    bk_def d;
    memset(&d, 0, sizeof d);
    snprintf(d.id, sizeof d.id, "11111111-2222-3333-4444-555555555555");
    snprintf(d.symbol, sizeof d.symbol, "SPY");
    d.tf = BK_TF_5M;
    d.type = BK_JOB_INTRADAY;
    d.window_days = 7;
    d.priority = 100;
    d.enabled = true;
    d.created_us = d.updated_us = T0;
    c = bk_change_def("INSERT", &d, T0);
    assert_string_equal(c->record,
                        "{\"id\":\"11111111-2222-3333-4444-555555555555\","
                        "\"job_type\":\"fetch_intraday\",\"symbol\":\"SPY\",\"timeframe\":\"5m\","
                        "\"window_days\":7,\"priority\":100,\"enabled\":true,"
                        "\"created_at\":\"2026-01-02T03:04:05.678+00:00\","
                        "\"updated_at\":\"2026-01-02T03:04:05.678+00:00\"}");
    assert_null(c->old_record);
    assert_string_equal(cell(c, "enabled"), "true");
    bk_change_release(c);

    c = bk_change_def("DELETE", &d, T0);
    assert_null(c->record);
    assert_string_equal(c->old_record, "{\"id\":\"11111111-2222-3333-4444-555555555555\"}");
    assert_string_equal(cell(c, "symbol"), "SPY"); /* the old row's cells */
    bk_change_release(c);

    const char *key[] = {"QQQ", "1h"};
    c = bk_change_delete(bk_rt_table("coverage_status"), key, T0);
    assert_string_equal(c->type, "DELETE");
    assert_null(c->record);
    assert_string_equal(c->old_record, "{\"symbol\":\"QQQ\",\"timeframe\":\"1h\"}");
    assert_string_equal(cell(c, "timeframe"), "1h");
    assert_null(cell(c, "last_provider"));
    bk_change_release(c);
}

/* Whether filter text matches c; the parse must succeed. */
static bool m(const bk_change *c, const char *text)
{
    bk_rt_filter *f = NULL;
    bk_err err = {0};
    int rc = bk_rt_filter_parse(c->table, text, &f, &err);
    if (rc)
        fail_msg("parse \"%s\": %s", text, err.msg);
    bool r = bk_rt_filter_match(f, c);
    bk_rt_filter_free(f);
    return r;
}

static void test_filter_match(void **state)
{
    (void)state;
    bk_run r = sample_run();
    bk_change *c = bk_change_run("UPDATE", &r, T0);
    assert_true(m(c, ""));
    assert_true(m(c, "symbol=eq.AAPL"));
    assert_false(m(c, "symbol=eq.MSFT"));
    assert_true(m(c, "symbol=neq.MSFT"));
    assert_true(m(c, "symbol=eq.AAPL,timeframe=eq.1h"));
    assert_false(m(c, "symbol=eq.AAPL,timeframe=eq.5m"));
    assert_true(m(c, "symbol=eq.AAPL, timeframe=eq.1h"));
    assert_true(m(c, "symbol=eq.\"AAPL\""));
    assert_false(m(c, "symbol=eq.\"AAPL,timeframe=eq.1h\"")); /* one quoted value */
    assert_true(m(c, "symbol=gt.AAP"));
    assert_true(m(c, "symbol=lt.B"));
    assert_true(m(c, "status=in.(queued,running)"));
    assert_true(m(c, "status=in.(\"a,b\",\"running\")"));
    assert_false(m(c, "status=in.(queued,success)"));
    /* integers compare as numbers, not text: "12" > "9" */
    assert_true(m(c, "rows_written=gt.9"));
    assert_true(m(c, "rows_written=gte.12"));
    assert_false(m(c, "rows_written=lt.12"));
    assert_true(m(c, "rows_written=lte.12"));
    assert_true(m(c, "attempt=in.(3,1)"));
    assert_true(m(c, "priority=neq.-1"));
    /* floats */
    assert_true(m(c, "progress_percent=gt.40"));
    assert_true(m(c, "progress_percent=eq.40.50"));
    assert_false(m(c, "progress_percent=gte.100"));
    assert_true(m(c, "progress_percent=lt.1e2"));
    /* instants, whatever their spelling */
    assert_true(m(c, "created_at=eq.2026-01-02T03:04:05.678Z"));
    assert_true(m(c, "created_at=eq.2026-01-02 03:04:05.678+00:00"));
    assert_true(m(c, "created_at=gt.2026-01-02"));
    assert_true(m(c, "created_at=lt.2026-01-02T04:04:05.678+00:30"));
    assert_false(m(c, "created_at=lt.2026-01-02T04:04:05.678+01:30")); /* 02:34Z */
    assert_true(m(c, "slice_from=gte.2026-01-02T03:04:05Z,slice_to=lte.2026-01-02T04:04:05.678Z"));
    /* a null cell satisfies nothing, neq included */
    assert_false(m(c, "provider=neq.sim"));
    assert_false(m(c, "finished_at=lt.2100-01-01"));
    bk_change_release(c);

    bk_def d;
    memset(&d, 0, sizeof d);
    snprintf(d.id, sizeof d.id, "11111111-2222-3333-4444-555555555555");
    snprintf(d.symbol, sizeof d.symbol, "SPY");
    d.enabled = true;
    d.window_days = 7;
    c = bk_change_def("INSERT", &d, T0);
    assert_true(m(c, "enabled=eq.true"));
    assert_true(m(c, "enabled=eq.t"));
    assert_false(m(c, "enabled=eq.f"));
    assert_true(m(c, "enabled=neq.false"));
    assert_true(m(c, "window_days=in.(1,7,\"30\")"));
    assert_true(m(c, "id=eq.11111111-2222-3333-4444-555555555555"));
    /* a filter of another table matches nothing */
    bk_rt_filter *f = NULL;
    bk_err err = {0};
    assert_int_equal(bk_rt_filter_parse(bk_rt_table("job_runs"), "symbol=eq.SPY", &f, &err), 0);
    assert_false(bk_rt_filter_match(f, c));
    bk_rt_filter_free(f);
    assert_true(bk_rt_filter_match(NULL, c));
    bk_change_release(c);

    /* DELETE: tested against the old row's cells (the key only when that is all) */
    const char *key[] = {"QQQ", "1h"};
    c = bk_change_delete(bk_rt_table("coverage_status"), key, T0);
    assert_true(m(c, "symbol=eq.QQQ"));
    assert_false(m(c, "last_rows_written=gte.0"));
    bk_change_release(c);
}

/* Parsing text fails with BK_EINVAL, no filter, and a message holding want. */
static void bad(const char *table, const char *text, const char *want)
{
    bk_rt_filter *f = (bk_rt_filter *)&f;
    bk_err err = {0};
    int rc = bk_rt_filter_parse(bk_rt_table(table), text, &f, &err);
    if (rc != BK_EINVAL || f || !strstr(err.msg, want))
        fail_msg("\"%s\": rc %d, message \"%s\", wanted \"%s\"", text, rc, err.msg, want);
}

static void test_filter_errors(void **state)
{
    (void)state;
    bad("job_runs", "nosuch=eq.1", "unknown column \"nosuch\" of table job_runs");
    bad("job_runs", "symbol=like.AA%", "unknown operator \"like\"");
    bad("job_runs", "symbol=AAPL", "is not operator.value");
    bad("job_runs", "symbol", "is not column=operator.value");
    bad("job_runs", "attempt=eq.1.5", "invalid int4 value \"1.5\" for column attempt");
    bad("job_runs", "attempt=eq.", "invalid int4 value \"\" for column attempt");
    bad("job_runs", "rows_written=gt.99999999999999999999", "invalid int8 value");
    bad("job_runs", "progress_percent=gt.nan", "invalid float8 value");
    bad("job_runs", "created_at=gt.yesterday", "invalid timestamptz value \"yesterday\"");
    bad("job_definitions", "enabled=eq.maybe", "invalid bool value \"maybe\" for column enabled");
    bad("job_runs", "symbol=eq.\"AAPL", "unterminated quoted value");
    bad("job_runs", "symbol=eq.\"AAPL\"x", "unexpected 'x' after a quoted value");
    bad("job_runs", "symbol=eq.A\"B\"", "a quote inside an unquoted value");
    bad("job_runs", "status=in.queued", "in takes a list in parentheses");
    bad("job_runs", "status=in.(a,(b)", "unbalanced '('");
    bad("job_runs", "status=in.(a))", "unbalanced ')'");
    bad("job_runs", "attempt=in.(1,x)", "invalid int4 value \"x\"");
    bad("job_runs", "symbol=eq.A,,status=eq.queued", "empty condition");
    bad("job_runs", "symbol=eq.A,", "empty condition");
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "symbol=eq.", 10);
    bad("job_runs", big, "longer than 4096 bytes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables),       cmocka_unit_test(test_time_format),
        cmocka_unit_test(test_change_run),   cmocka_unit_test(test_change_coverage_def),
        cmocka_unit_test(test_filter_match), cmocka_unit_test(test_filter_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
