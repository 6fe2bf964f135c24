/*
 * test_cli.c — the real barkeep binary: help, usage errors (exit 2, message
 * naming the bad value, nothing written), failures (exit 1), the job
 * definition commands and the calendar command.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static char *g_dir, *g_db;

#define MAXARGS 32

/* Run barkeep --db <g_db> args... (NULL-terminated). */
static bk_t_result bk(const char *first, ...)
{
    const char *argv[MAXARGS];
    int n = 0;
    argv[n++] = bk_t_bin();
    argv[n++] = "--db";
    argv[n++] = g_db;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && n < MAXARGS - 1; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return bk_t_run(argv, NULL);
}

static int setup(void **state)
{
    (void)state;
    g_dir = bk_t_tmpdir("cli");
    g_db = bk_t_path(g_dir, "t.db");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bk_t_rmtree(g_dir);
    free(g_db);
    free(g_dir);
    return 0;
}

static void expect(bk_t_result r, int status, const char *in_out, const char *in_err)
{
    if (r.status != status || (in_out && !strstr(r.out, in_out)) ||
        (in_err && !strstr(r.err, in_err)))
        fprintf(stderr, "status=%d\nstdout:\n%s\nstderr:\n%s\n", r.status, r.out, r.err);
    assert_int_equal(r.status, status);
    if (in_out)
        assert_non_null(strstr(r.out, in_out));
    if (in_err)
        assert_non_null(strstr(r.err, in_err));
    bk_t_result_free(&r);
}

static void test_help(void **state)
{
    (void)state;
    expect(bk("--help", NULL), 0, "usage: barkeep", NULL);
    const char *cmds[] = {"migrate",  "tick", "serve", "runs",     "retry-failed",
                          "coverage", "gaps", "bars",  "calendar", "config"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        expect(bk(cmds[i], "--help", NULL), 0, "usage: barkeep", NULL);
    expect(bk("jobs", "--help", NULL), 0, "jobs add", NULL);
    expect(bk("jobs", "add", "--help", NULL), 0, "--window-days", NULL);
    expect(bk(NULL), 2, NULL, "usage: barkeep");
    expect(bk("frobnicate", NULL), 2, NULL, "unknown command 'frobnicate'");
    expect(bk("--bogus", "runs", NULL), 2, NULL, "--bogus");
}

static void assert_no_jobs(void)
{
    bk_t_result r = bk("jobs", "list", "--json", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "[]\n");
    bk_t_result_free(&r);
}

static void test_bad_input_changes_nothing(void **state)
{
    (void)state;
    expect(bk("jobs", "add", "AA PL", "1h", NULL), 2, NULL, "'AA PL'");
    expect(bk("jobs", "add", "ABCDEFGHIJKLMNOPQRSTU", "1h", NULL), 2, NULL,
           "ABCDEFGHIJKLMNOPQRSTU");
    expect(bk("jobs", "add", "", "1h", NULL), 2, NULL, "invalid symbol");
    expect(bk("jobs", "add", "AAPL", "2h", NULL), 2, NULL, "'2h'");
    expect(bk("jobs", "add", "AAPL", "1h", "--window-days", "0", NULL), 2, NULL, "'0'");
    expect(bk("jobs", "add", "AAPL", "1h", "--window-days", "36501", NULL), 2, NULL, "'36501'");
    expect(bk("jobs", "add", "AAPL", "1h", "--window-days", "-3", NULL), 2, NULL, "'-3'");
    expect(bk("jobs", "add", "AAPL", "1h", "--window-days", "5x", NULL), 2, NULL, "'5x'");
    expect(bk("jobs", "add", "AAPL", "1h", "--priority", "high", NULL), 2, NULL, "'high'");
    expect(bk("jobs", "add", "AAPL", "1h", "--type", "fetch_all", NULL), 2, NULL, "'fetch_all'");
    expect(bk("jobs", "add", "AAPL", NULL), 2, NULL, "SYMBOL and TIMEFRAME");
    expect(bk("jobs", "add", "AAPL", "1h", "--window-days", NULL), 2, NULL, "needs a value");
    expect(bk("--now", "yesterday", "jobs", "add", "AAPL", "1h", NULL), 2, NULL, "'yesterday'");
    expect(bk("--now", "2024-02-30", "jobs", "add", "AAPL", "1h", NULL), 2, NULL, "'2024-02-30'");
    expect(bk("--set", "workers=300", "jobs", "add", "AAPL", "1h", NULL), 2, NULL, "workers");
    expect(bk("--set", "nope=1", "jobs", "add", "AAPL", "1h", NULL), 2, NULL, "nope");
    assert_no_jobs();
    expect(bk("runs", "--status", "done", NULL), 2, NULL, "'done'");
    expect(bk("bars", "AAPL", "1h", "--from", "2024-13-01", NULL), 2, NULL, "'2024-13-01'");
    expect(bk("bars", "AAPL", "1h", "--format", "xml", NULL), 2, NULL, "'xml'");
    expect(bk("gaps", "AAPL", "7m", NULL), 2, NULL, "'7m'");
    expect(bk("gaps", "AAPL", "1h", "--window-days", "99999", NULL), 2, NULL, "'99999'");
    expect(bk("calendar", "--from", "2025-02-29", NULL), 2, NULL, "'2025-02-29'");
    expect(bk("calendar", "--from", "2025-03-01", "--to", "2025-02-01", NULL), 2, NULL, "before");
    expect(bk("tick", "--wait", "--workers", "0", NULL), 2, NULL, "'0'");
    assert_no_jobs();
}

static void test_jobs_lifecycle(void **state)
{
    (void)state;
    expect(bk("jobs", "add", "aapl", "h1", NULL), 0, "added AAPL 1h fetch_intraday", NULL);
    expect(bk("jobs", "add", "AAPL", "1d", "--window-days", "30", "--priority", "7", NULL), 0,
           "added AAPL d1 fetch_historical window_days=30 priority=7", NULL);
    expect(bk("jobs", "add", "AAPL", "1h", "--window-days", "9", NULL), 0,
           "updated AAPL 1h fetch_intraday window_days=9", NULL);
    expect(bk("jobs", "disable", "AAPL", "60m", NULL), 2, NULL, "'60m'");
    expect(bk("jobs", "disable", "AAPL", "1h", NULL), 0, "disabled AAPL 1h", NULL);
    expect(bk("jobs", "list", NULL), 0, "no", NULL);
    bk_t_result r = bk("jobs", "list", "--json", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"symbol\":\"AAPL\",\"timeframe\":\"1h\",\"window_days\":9"));
    assert_non_null(strstr(r.out, "\"enabled\":false"));
    bk_t_result_free(&r);
    expect(bk("jobs", "enable", "AAPL", "1h", NULL), 0, "enabled AAPL 1h", NULL);
    expect(bk("jobs", "rm", "AAPL", "1h", NULL), 0, "removed AAPL 1h", NULL);
    expect(bk("jobs", "rm", "AAPL", "1h", NULL), 1, NULL, "no fetch_intraday definition");
    expect(bk("jobs", "rm", "AAPL", "d1", NULL), 0, "removed", NULL);
    assert_no_jobs();
    expect(bk("jobs", "seed", NULL), 0, "added TSLA d1 fetch_historical", NULL);
    r = bk("jobs", "list", NULL);
    int lines = 0;
    for (const char *p = r.out; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, 10); /* header + the guide's 9 definitions */
    bk_t_result_free(&r);
}

static void test_corrupt_database(void **state)
{
    (void)state;
    char *bad = bk_t_path(g_dir, "corrupt.db");
    FILE *f = fopen(bad, "wb");
    for (int i = 0; i < 4096; i++)
        fputc("garbage!"[i % 8], f);
    fclose(f);
    const char *argv[] = {bk_t_bin(), "--db", bad, "jobs", "list", NULL};
    bk_t_result r = bk_t_run(argv, NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, bad));
    bk_t_result_free(&r);
    const char *dir_as_db[] = {bk_t_bin(), "--db", g_dir, "runs", NULL};
    r = bk_t_run(dir_as_db, NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, g_dir));
    bk_t_result_free(&r);
    free(bad);
}

static void test_calendar(void **state)
{
    (void)state;
    bk_t_result r = bk("calendar", "--from", "2025-07-01", "--to", "2025-07-07", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "date,open,close,early_close\n"
                               "2025-07-01,2025-07-01T13:30:00Z,2025-07-01T20:00:00Z,false\n"
                               "2025-07-02,2025-07-02T13:30:00Z,2025-07-02T20:00:00Z,false\n"
                               "2025-07-03,2025-07-03T13:30:00Z,2025-07-03T17:00:00Z,true\n"
                               "2025-07-07,2025-07-07T13:30:00Z,2025-07-07T20:00:00Z,false\n");
    bk_t_result_free(&r);
    r = bk("calendar", "--from", "2024-12-24", "--to", "2024-12-24", "--extended", "--format",
           "json", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out,
                        "[{\"date\":\"2024-12-24\",\"open\":\"2024-12-24T14:30:00Z\","
                        "\"close\":\"2024-12-24T18:00:00Z\",\"early_close\":true,"
                        "\"pre\":\"2024-12-24T09:00:00Z\",\"post\":\"2024-12-25T01:00:00Z\"}]\n");
    bk_t_result_free(&r);
}

static void test_config(void **state)
{
    (void)state;
    expect(bk("config", NULL), 0, "BARKEEP_LEASE_MS", NULL);
    expect(bk("--set", "workers=9", "config", NULL), 0, "workers                  9", NULL);
    const char *env[] = {"BARKEEP_WORKERS=abc", NULL};
    const char *argv[] = {bk_t_bin(), "--db", g_db, "config", NULL};
    bk_t_result r = bk_t_run(argv, env);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "BARKEEP_WORKERS"));
    bk_t_result_free(&r);
}

static void test_closures_file_and_env_db(void **state)
{
    (void)state;
    char *closures = bk_t_path(g_dir, "closures.txt");
    FILE *f = fopen(closures, "w");
    fputs("# unscheduled closures\n2025-07-02\n2025-07-07 13:00  # early close\n", f);
    fclose(f);
    char set[600];
    snprintf(set, sizeof set, "closures_file=%s", closures);
    bk_t_result r =
        bk("--set", set, "calendar", "--from", "2025-07-01", "--to", "2025-07-07", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "date,open,close,early_close\n"
                               "2025-07-01,2025-07-01T13:30:00Z,2025-07-01T20:00:00Z,false\n"
                               "2025-07-03,2025-07-03T13:30:00Z,2025-07-03T17:00:00Z,true\n"
                               "2025-07-07,2025-07-07T13:30:00Z,2025-07-07T17:00:00Z,true\n");
    bk_t_result_free(&r);
    f = fopen(closures, "w");
    fputs("2025-07-02\nnot a date\n", f);
    fclose(f);
    expect(bk("--set", set, "calendar", NULL), 2, NULL, "line 2");

    /* BARKEEP_DB picks the database when --db is absent */
    char *db = bk_t_path(g_dir, "env.db");
    char env_db[600];
    snprintf(env_db, sizeof env_db, "BARKEEP_DB=%s", db);
    const char *env[] = {env_db, NULL};
    const char *add[] = {bk_t_bin(), "jobs", "add", "MSFT", "15m", NULL};
    r = bk_t_run(add, env);
    assert_int_equal(r.status, 0);
    bk_t_result_free(&r);
    const char *list[] = {bk_t_bin(), "--db", db, "jobs", "list", NULL};
    r = bk_t_run(list, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "MSFT"));
    bk_t_result_free(&r);
    free(db);
    free(closures);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_bad_input_changes_nothing),
        cmocka_unit_test(test_jobs_lifecycle),
        cmocka_unit_test(test_corrupt_database),
        cmocka_unit_test(test_calendar),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_closures_file_and_env_db),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
