/*
 * test_cli.c — the real barkeep binary: help, usage errors (exit 2, message
 * naming the bad value, nothing written), failures (exit 1), the job
 * definition commands, the calendar command, a tick under a provider
 * budget, adopting bars a migrating user brings (`adopt`), and minting a
 * JWT key (`keys jwt`).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/jwt.h"
#include "testutil.h"

static char *g_dir, *g_db;

#define MAXARGS 32

static bk_t_result vbk(const char *db, const char *first, va_list ap)
{
    const char *argv[MAXARGS];
    int n = 0;
    argv[n++] = bk_t_bin();
    argv[n++] = "--db";
    argv[n++] = db;
    for (const char *a = first; a && n < MAXARGS - 1; a = va_arg(ap, const char *))
        argv[n++] = a;
    argv[n] = NULL;
    return bk_t_run(argv, NULL);
}

/* Run barkeep --db <g_db> args... (NULL-terminated). */
static bk_t_result bk(const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    bk_t_result r = vbk(g_db, first, ap);
    va_end(ap);
    return r;
}

/* Run barkeep --db <db> args... (NULL-terminated). */
static bk_t_result bkd(const char *db, const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    bk_t_result r = vbk(db, first, ap);
    va_end(ap);
    return r;
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
    const char *cmds[] = {"migrate",  "tick",   "serve",     "runs",     "retry-failed",
                          "coverage", "gaps",   "bars",      "calendar", "config",
                          "adopt",    "import", "providers", "forecast"};
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
    expect(bk("jobs", "seed", NULL), 0, "updated NVDA d1 run_forecast window_days=90 priority=50",
           NULL);
    r = bk("jobs", "list", NULL);
    int lines = 0;
    for (const char *p = r.out; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, 13); /* header + the guide's 9 definitions + its 3 forecasts */
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

/* `keys jwt` prints a JWT of the role, signed with the JWT secret, expiring
 * --days after barkeep's clock; bad roles, days or secrets are usage errors. */
static void test_keys_jwt(void **state)
{
    (void)state;
#define JWT_SECRET "jwt-secret-for-tests-0123456789abcdef0123"
    const char *env[] = {"BARKEEP_JWT_SECRET=" JWT_SECRET, NULL};
    const char *argv[] = {bk_t_bin(), "keys", "jwt", "--role", "service_role", "--days", "2", NULL};
    bk_t_result r = bk_t_run(argv, env);
    assert_int_equal(r.status, 0);
    size_t n = strcspn(r.out, "\n");
    bk_jwt_claims c;
    bk_api_error e;
    assert_int_equal(bk_jwt_verify(&c, r.out, n, JWT_SECRET, strlen(JWT_SECRET), 0, &e), 0);
    assert_string_equal(c.role, "service_role");
    struct tm tm = {0};
    assert_int_equal(sscanf(bk_t_now(), "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                            &tm.tm_hour, &tm.tm_min, &tm.tm_sec),
                     6);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int64_t now_s = (int64_t)timegm(&tm);
    assert_true(c.exp_s >= now_s + 2 * 86400 && c.exp_s <= now_s + 2 * 86400 + 60);
    bk_t_result_free(&r);
    const char *bad_role[] = {bk_t_bin(), "keys", "jwt", "--role", "supabase_admin", NULL};
    r = bk_t_run(bad_role, env);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--role"));
    bk_t_result_free(&r);
    const char *bad_days[] = {bk_t_bin(), "keys", "jwt", "--role", "anon", "--days", "0", NULL};
    r = bk_t_run(bad_days, env);
    assert_int_equal(r.status, 2);
    bk_t_result_free(&r);
    const char *short_env[] = {"BARKEEP_JWT_SECRET=too-short", NULL};
    const char *anon[] = {bk_t_bin(), "keys", "jwt", "--role", "anon", NULL};
    r = bk_t_run(anon, short_env);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "32"));
    assert_null(strstr(r.err, "too-short")); /* the secret is never echoed */
    bk_t_result_free(&r);
    const char *no_env[] = {"BARKEEP_JWT_SECRET=", NULL};
    r = bk_t_run(anon, no_env);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "no JWT secret"));
    bk_t_result_free(&r);
#undef JWT_SECRET
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

/* The provider budget's wiring: a rate-limited sim still drains the queue. */
static void test_tick_with_provider_budget(void **state)
{
    (void)state;
    char *db = bk_t_path(g_dir, "budget.db");
    const char *now = "2024-06-07T21:00:00Z";
    expect(bkd(db, "jobs", "add", "AAPL", "1h", "--window-days", "3", NULL), 0, "added", NULL);
    expect(bkd(db, "--now", now, "--set", "provider_rate_per_s=50", "--set", "provider_burst=5",
               "--set", "sim_page_size=2", "tick", "--wait", NULL),
           0, NULL, NULL);
    expect(bkd(db, "--now", now, "runs", "--status", "queued", "--json", NULL), 0, "[]", NULL);
    expect(bkd(db, "--now", now, "coverage", "AAPL", "1h", NULL), 0, "sim", NULL);
    expect(bkd(db, "--set", "provider_rate_per_s=-1", "config", NULL), 2, NULL,
           "provider_rate_per_s");
    expect(bkd(db, "config", NULL), 0, "BARKEEP_PROVIDER_BURST", NULL);
    free(db);
}

/* tick --wait while runs wait for a busy worker: the planner ticks when
 * runs finish or its wait times out, not in a loop (a queued run that is
 * already due is no event to wake for; it ticked every millisecond). */
static void test_tick_wait_does_not_spin(void **state)
{
    (void)state;
    char *db = bk_t_path(g_dir, "spin.db");
    const char *now = "2024-06-07T21:00:00Z";
    const char *syms[] = {"AAPL", "MSFT", "SPY"};
    for (int i = 0; i < 3; i++)
        expect(bkd(db, "jobs", "add", syms[i], "1m", "--window-days", "1", NULL), 0, "added", NULL);
    bk_t_result r =
        bkd(db, "--now", now, "--log-level", "debug", "--set", "sim_latency_ms=150", "--set",
            "slice_hours_intraday=24", "tick", "--wait", "--workers", "1", NULL);
    int ticks = 0;
    for (const char *p = r.err; (p = strstr(p, "msg=\"tick\"")) != NULL; p++)
        ticks++;
    if (ticks > 12)
        fprintf(stderr, "%d ticks:\n%s\n", ticks, r.err);
    expect(r, 0, "enqueued 6 runs", NULL); /* frees r */
    assert_in_range(ticks, 1, 12);
    free(db);
}

static const char *sqlite3_cli(void)
{
    static const char *const paths[] = {"/usr/bin/sqlite3", "/usr/local/bin/sqlite3",
                                        "/bin/sqlite3"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    return NULL;
}

/* Bars the original system left: AAPL 1h, two bars on Tuesday 2024-06-04 and
 * one on Wednesday 2024-06-05 (sessions 13:30-20:00 UTC), and the guide's
 * coverage_status backfill over them. */
static const char legacy_sql[] =
    "INSERT INTO ohlc_bars_v2 (symbol, timeframe, ts, open, high, low, close, volume, provider)"
    " VALUES ('AAPL', '1h', 1717507800000000, 1, 2, 0.5, 1.5, 10, 'legacy'),"
    " ('AAPL', '1h', 1717515000000000, 1, 2, 0.5, 1.5, 10, 'legacy'),"
    " ('AAPL', '1h', 1717597800000000, 1, 2, 0.5, 1.5, 10, 'legacy');"
    "INSERT INTO coverage_status (symbol, timeframe, from_ts, to_ts, last_success_at,"
    " last_rows_written) SELECT symbol, timeframe, MIN(ts), MAX(ts), MAX(ts), COUNT(*)"
    " FROM ohlc_bars_v2 GROUP BY symbol, timeframe ON CONFLICT (symbol, timeframe) DO UPDATE"
    " SET from_ts = EXCLUDED.from_ts, to_ts = EXCLUDED.to_ts,"
    " last_success_at = EXCLUDED.last_success_at, last_rows_written = EXCLUDED.last_rows_written;";

/* Every run's slice must lie outside [from, to) (ISO texts compare in order). */
static size_t assert_slices_avoid(const char *json, const char *from, const char *to)
{
    size_t n = 0;
    for (const char *p = json; (p = strstr(p, "\"slice_from\":\"")); n++) {
        char a[32] = "", b[32] = "";
        p += strlen("\"slice_from\":\"");
        sscanf(p, "%31[^\"]", a);
        const char *q = strstr(p, "\"slice_to\":\"");
        assert_non_null(q);
        sscanf(q + strlen("\"slice_to\":\""), "%31[^\"]", b);
        if (strcmp(a, to) < 0 && strcmp(b, from) > 0)
            fail_msg("slice [%s, %s) overlaps adopted [%s, %s)", a, b, from, to);
    }
    return n;
}

static void test_adopt(void **state)
{
    (void)state;
    const char *sq = sqlite3_cli();
    if (!sq) {
        fprintf(stderr, "sqlite3 command not found: adopt test skipped\n");
        skip();
    }
    char *db = bk_t_path(g_dir, "adopt.db");
    const char *now = "2024-06-07T21:00:00Z"; /* Friday after the close */
    expect(bkd(db, "migrate", NULL), 0, NULL, NULL);
    const char *ins[] = {sq, db, legacy_sql, NULL};
    bk_t_result r = bk_t_run(ins, NULL);
    expect(r, 0, NULL, NULL);

    bk_t_result before = bkd(db, "--now", now, "gaps", "AAPL", "1h", "--window-days", "7", NULL);
    assert_int_equal(before.status, 0);
    assert_non_null(strstr(before.out, "2024-06-04T13:30:00Z"));
    assert_non_null(strstr(before.out, "2024-06-05T13:30:00Z"));

    /* bad arguments: exit 2, nothing written */
    expect(bkd(db, "adopt", "AA PL", NULL), 2, NULL, "'AA PL'");
    expect(bkd(db, "adopt", "AAPL", "7m", NULL), 2, NULL, "'7m'");
    expect(bkd(db, "adopt", "AAPL", "1h", "extra", NULL), 2, NULL, "'extra'");
    expect(bkd(db, "adopt", "--provider", "bad name", NULL), 2, NULL, "'bad name'");
    expect(bkd(db, "adopt", "--provider", NULL), 2, NULL, "needs a value");
    expect(bkd(db, "adopt", "--bogus", NULL), 2, NULL, "--bogus");

    /* a dry run reports and writes nothing */
    expect(bkd(db, "--now", now, "adopt", "--dry-run", NULL), 0,
           "AAPL 1h: 3 bars, 2 sessions, 1 interval, 13.0 trading hours would be adopted", NULL);
    r = bkd(db, "--now", now, "gaps", "AAPL", "1h", "--window-days", "7", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, before.out);
    bk_t_result_free(&r);
    expect(bkd(db, "--now", now, "coverage", "AAPL", "1h", NULL), 0, "        0      0.0", NULL);

    expect(bkd(db, "--now", now, "adopt", "MSFT", NULL), 0, "nothing to adopt", NULL);
    expect(bkd(db, "--now", now, "adopt", "AAPL", "1h", NULL), 0,
           "AAPL 1h: 3 bars, 2 sessions, 1 interval, 13.0 trading hours adopted", NULL);
    /* the guide's backfill summary is replaced by the set's: the two sessions
     * merged across the closed night, widened to the neighbouring close/open */
    expect(bkd(db, "--now", now, "coverage", "AAPL", "1h", NULL), 0,
           "2024-06-03T20:00:00Z 2024-06-06T13:30:00Z", NULL);
    expect(bkd(db, "--now", now, "coverage", "AAPL", "1h", NULL), 0, "legacy", NULL);
    r = bkd(db, "--now", now, "gaps", "AAPL", "1h", "--window-days", "7", NULL);
    assert_int_equal(r.status, 0);
    /* the adopted sessions are covered: no gap; their hours without a legacy
     * bar are listed apart as confirmed empty */
    char *empty = strstr(r.out, "EMPTY_FROM");
    assert_non_null(empty);
    *empty = '\0';
    assert_null(strstr(r.out, "2024-06-04T13:30:00Z"));
    assert_null(strstr(r.out, "2024-06-05T13:30:00Z"));
    assert_non_null(strstr(empty + 1, "2024-06-05T14:30:00Z"));
    assert_non_null(strstr(r.out, "2024-06-03T13:30:00Z"));
    assert_non_null(strstr(r.out, "2024-06-06T13:30:00Z"));
    bk_t_result_free(&r);
    bk_t_result_free(&before);
    /* adopting again changes nothing */
    expect(bkd(db, "--now", now, "adopt", NULL), 0, "1 series adopted", NULL);

    /* the planner fetches only the rest */
    expect(bkd(db, "jobs", "add", "AAPL", "1h", "--window-days", "7", NULL), 0, "added", NULL);
    expect(bkd(db, "--now", now, "--set", "max_slices_intraday=100", "--set",
               "slice_hours_intraday=2", "tick", NULL),
           0, "enqueued", NULL);
    r = bkd(db, "--now", now, "runs", "--json", NULL);
    assert_int_equal(r.status, 0);
    size_t n = assert_slices_avoid(r.out, "2024-06-04T13:30:00Z", "2024-06-05T20:00:00Z");
    assert_int_equal(n, 16); /* 4 sessions of 4 slices each on the 2 h grid */
    bk_t_result_free(&r);
    free(db);
}

/* ---- import: a user's own bars ---- */

static char *write_file(const char *name, const char *text)
{
    char *path = bk_t_path(g_dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Lines of out (after its header line) whose [from, to) starts overlap
 * [from, to); ISO texts of one format compare in time order. */
static int gaps_within(const char *out, const char *from, const char *to)
{
    int n = 0;
    const char *p = strchr(out, '\n');
    for (; p && p[1]; p = strchr(p + 1, '\n')) {
        char a[32] = "", b[32] = "";
        if (sscanf(p + 1, "%31s %31s", a, b) == 2 && strcmp(a, to) < 0 && strcmp(b, from) > 0)
            n++;
    }
    return n;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; (s = strchr(s, '\n')); s++)
        n++;
    return n;
}

/* AAPL 1h, Tuesday 2024-06-04 and Wednesday 2024-06-05 complete (session
 * grid, 7 bars each), newest first, plus one pre-market bar. */
static const char hourly_csv[] = "time,open,high,low,close,volume\n"
                                 "2024-06-05T19:30:00Z,10,11,9,10.5,100\n"
                                 "2024-06-05T18:30:00Z,10,11,9,10.5,100\n"
                                 "2024-06-05T17:30:00Z,10,11,9,10.5,100\n"
                                 "2024-06-05T16:30:00Z,10,11,9,10.5,100\n"
                                 "2024-06-05T15:30:00Z,10,11,9,10.5,100\n"
                                 "2024-06-05T14:30:00Z,10,11,9,10.5,100\n"
                                 "2024-06-05T13:30:00Z,10,11,9,10.5,100\n"
                                 "2024-06-05T12:30:00Z,10,11,9,10.5,100\n"
                                 "2024-06-04T19:30:00Z,10,11,9,10.5,100\n"
                                 "2024-06-04T18:30:00Z,10,11,9,10.5,100\n"
                                 "2024-06-04T17:30:00Z,10,11,9,10.5,100\n"
                                 "2024-06-04T16:30:00Z,10,11,9,10.5,100\n"
                                 "2024-06-04T15:30:00Z,10,11,9,10.5,100\n"
                                 "2024-06-04T14:30:00Z,10,11,9,10.5,100\n"
                                 "2024-06-04T13:30:00Z,10,11,9,10.5,100\n";

static void test_import_hourly(void **state)
{
    (void)state;
    char *db = bk_t_path(g_dir, "import_h.db");
    char *csv = write_file("hourly.csv", hourly_csv);
    const char *now = "2024-06-07T21:00:00Z";
    const char *summary = "AAPL 1h: bars 15 read, 14 written, 1 dropped (extended hours), first "
                          "2024-06-04T13:30:00Z, last 2024-06-05T19:30:00Z, coverage added 1 "
                          "interval, 13.0 trading hours";
    expect(bkd(db, "import", "--help", NULL), 0, "usage: barkeep import", NULL);
    expect(bkd(db, "--now", now, "import", csv, "--symbol", "aapl", "--timeframe", "h1", NULL), 0,
           summary, NULL);
    bk_t_result r = bkd(db, "bars", "AAPL", "1h", NULL);
    assert_int_equal(r.status, 0);
    assert_int_equal(count_lines(r.out), 15); /* header + 14 bars */
    assert_non_null(strstr(r.out, "\n2024-06-04T13:30:00Z,10,11,9,10.5,100,csv\n"));
    assert_null(strstr(r.out, "2024-06-05T12:30:00Z"));
    bk_t_result_free(&r);
    /* covered: the two sessions, merged across the night and widened */
    expect(bkd(db, "--now", now, "coverage", "AAPL", "1h", NULL), 0,
           "2024-06-03T20:00:00Z 2024-06-06T13:30:00Z", NULL);
    expect(bkd(db, "--now", now, "coverage", "AAPL", "1h", NULL), 0, "csv", NULL);
    r = bkd(db, "--now", now, "gaps", "AAPL", "1h", "--window-days", "7", NULL);
    assert_int_equal(r.status, 0);
    assert_int_equal(gaps_within(r.out, "2024-06-04T13:30:00Z", "2024-06-05T20:00:00Z"), 0);
    assert_non_null(strstr(r.out, "2024-06-03T13:30:00Z"));
    assert_non_null(strstr(r.out, "2024-06-06T13:30:00Z"));
    char *gaps_before = r.out;
    r.out = NULL;
    bk_t_result_free(&r);
    /* importing again rewrites the same rows and changes nothing */
    expect(bkd(db, "--now", now, "import", csv, "--symbol", "AAPL", "--timeframe", "1h", NULL), 0,
           summary, NULL);
    r = bkd(db, "bars", "AAPL", "1h", NULL);
    assert_int_equal(count_lines(r.out), 15);
    bk_t_result_free(&r);
    r = bkd(db, "--now", now, "gaps", "AAPL", "1h", "--window-days", "7", NULL);
    assert_string_equal(r.out, gaps_before);
    bk_t_result_free(&r);
    free(gaps_before);
    free(csv);
    free(db);
}

/* A daily file without Wednesday: exactly that session stays a gap. */
static void test_import_daily_gap(void **state)
{
    (void)state;
    char *db = bk_t_path(g_dir, "import_d.db");
    char *csv = write_file("daily.csv", "\xEF\xBB\xBF"
                                        "Date,Open,High,Low,Close,Adj Close,Volume\r\n"
                                        "2024-06-03,10,11,9,10.5,10.4,1000\r\n"
                                        "2024-06-04,10,11,9,10.5,10.4,1000\r\n"
                                        "2024-06-06,10,11,9,10.5,10.4,1000\r\n"
                                        "2024-06-07,10,11,9,10.5,10.4,1000\r\n");
    const char *now = "2024-06-10T12:00:00Z";
    expect(bkd(db, "--now", now, "import", csv, "--symbol", "SPY", "--timeframe", "d1", NULL), 0,
           "SPY d1: bars 4 read, 4 written, 0 dropped (extended hours), first "
           "2024-06-03T04:00:00Z, last 2024-06-07T04:00:00Z, coverage added 2 intervals",
           NULL);
    expect(bkd(db, "bars", "SPY", "d1", NULL), 0, "2024-06-06T04:00:00Z,10,11,9,10.5,1000,csv",
           NULL);
    bk_t_result r = bkd(db, "--now", now, "gaps", "SPY", "d1", "--window-days", "14", NULL);
    assert_int_equal(r.status, 0);
    assert_int_equal(gaps_within(r.out, "2024-06-03T13:30:00Z", "2024-06-07T20:00:00Z"), 1);
    assert_non_null(strstr(r.out, "2024-06-05T13:30:00Z 2024-06-05T20:00:00Z"));
    bk_t_result_free(&r);
    free(csv);
    free(db);
}

/* Nothing in the database: no bars and no coverage for sym tf. */
static void assert_nothing_stored(const char *db, const char *sym, const char *tf)
{
    bk_t_result r = bkd(db, "bars", sym, tf, NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "ts,open,high,low,close,volume,provider\n");
    bk_t_result_free(&r);
    r = bkd(db, "coverage", "--json", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "[]\n");
    bk_t_result_free(&r);
}

static void test_import_invalid_rows(void **state)
{
    (void)state;
    char *db = bk_t_path(g_dir, "import_bad.db");
    const struct {
        const char *text, *msg;
    } cases[] = {
        {"time,open,high,low,close\n2024-06-04 09:30,10,11,9,10.5\n2024-06-04 10:30,10,11,9,10.5\n"
         "2024-06-04 11:30,10,9,11,10.5\n",
         "line 4 (2024-06-04T15:30:00Z): high below low"},
        {"time,open,high,low,close\n2024-06-04 09:30,10,11,9,10.5\n2024-06-04 10:00,10,11,9,10.5\n",
         "line 3 (2024-06-04T14:00:00Z): not a 1h bar of the calendar"},
        {"time,open,high,low,close\n2024-06-04 09:30,10,11,9,10.5\n2024-06-04 10:30,10,11,9,-1\n",
         "line 3 (2024-06-04T14:30:00Z): close -1 is not a positive price"},
        {"time,open,high,low,close\n2024-06-04 09:30,10,11,9,10.5\n2024-06-08 09:30,10,11,9,10.5\n",
         "line 3 (2024-06-08T13:30:00Z): not a 1h bar"},
        {"time,open,high,low,close\n2024-06-04 09:30,10,11,9,10.5\n2024-06-04T13:30Z,10,11,9,10\n",
         "lines 2 and 3 are both the AAPL 1h bar of 2024-06-04T13:30:00Z"},
        {"time,open,high,low,close\n2024-06-04 09:30,10,11,9,10.5\n2024-06-04 10:30,10,x,9,10.5\n",
         "line 3: high 'x' is not a number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *csv = write_file("bad.csv", cases[i].text);
        expect(bkd(db, "import", csv, "--symbol", "AAPL", "--timeframe", "1h", NULL), 1, NULL,
               cases[i].msg);
        free(csv);
        assert_nothing_stored(db, "AAPL", "1h");
    }
    /* a dry run reports and writes nothing */
    char *csv = write_file("good.csv", hourly_csv);
    expect(bkd(db, "--now", "2024-06-07T21:00:00Z", "import", csv, "--symbol", "AAPL",
               "--timeframe", "1h", "--dry-run", NULL),
           0, "14 to write", NULL);
    expect(bkd(db, "import", csv, "--symbol", "AAPL", "--timeframe", "1h", "--dry-run", NULL), 0,
           "dry run: nothing written", NULL);
    assert_nothing_stored(db, "AAPL", "1h");
    free(csv);
    free(db);
}

static void test_import_usage_errors(void **state)
{
    (void)state;
    char *db = bk_t_path(g_dir, "import_usage.db");
    char *csv = write_file("usage.csv", hourly_csv);
    char *cols = write_file("usage_cols.csv", "symbol,tf,time,open,high,low,close\n"
                                              "AAPL,1h,2024-06-04T13:30:00Z,10,11,9,10.5\n");
    char *missing = bk_t_path(g_dir, "missing.csv");
    expect(bkd(db, "import", NULL), 2, NULL, "import needs FILE");
    expect(bkd(db, "import", csv, csv, NULL), 2, NULL, "unexpected argument");
    expect(bkd(db, "import", csv, "--bogus", NULL), 2, NULL, "--bogus");
    expect(bkd(db, "import", csv, "--symbol", "AAPL", "--timeframe", "2h", NULL), 2, NULL, "'2h'");
    expect(bkd(db, "import", csv, "--symbol", "AA PL", "--timeframe", "1h", NULL), 2, NULL,
           "'AA PL'");
    expect(bkd(db, "import", csv, "--timeframe", "1h", NULL), 2, NULL, "no symbol");
    expect(bkd(db, "import", csv, "--symbol", "AAPL", NULL), 2, NULL, "no timeframe");
    expect(bkd(db, "import", csv, "--symbol", NULL), 2, NULL, "needs a value");
    expect(bkd(db, "import", cols, "--symbol", "MSFT", NULL), 2, NULL,
           "line 2: symbol AAPL disagrees with --symbol MSFT");
    expect(bkd(db, "import", cols, "--timeframe", "15m", NULL), 2, NULL,
           "line 2: timeframe 1h disagrees with --timeframe 15m");
    expect(bkd(db, "import", missing, "--symbol", "AAPL", "--timeframe", "1h", NULL), 1, NULL,
           missing);
    expect(bkd(db, "import", g_dir, "--symbol", "AAPL", "--timeframe", "1h", NULL), 1, NULL, g_dir);
    assert_nothing_stored(db, "AAPL", "1h");
    /* flags that agree with the columns are fine */
    expect(bkd(db, "--now", "2024-06-07T21:00:00Z", "import", cols, "--symbol", "aapl",
               "--timeframe", "h1", NULL),
           0, "AAPL 1h: bars 1 read, 1 written", NULL);
    free(missing);
    free(cols);
    free(csv);
    free(db);
}

/* ---- forecast: bars imported as history ---- */

/* The MSFT daily file of bench/data rewritten: without data line skip
 * (0-based; -1 keeps all) and, with flat, every price 10. */
static char *msft_csv(const char *name, int skip, bool flat)
{
    const char *src = getenv("BK_SOURCE_DIR");
    assert_non_null(src);
    char in_path[4096], line[256];
    snprintf(in_path, sizeof in_path, "%s/bench/data/msft_daily_2000_2001.csv", src);
    FILE *in = fopen(in_path, "r");
    assert_non_null(in);
    char *path = bk_t_path(g_dir, name);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    for (int i = -1; fgets(line, sizeof line, in); i++) {
        if (i == skip)
            continue;
        if (flat && i >= 0)
            fprintf(out, "%.10s,10,10,10,10,100\n", line);
        else
            fputs(line, out);
    }
    fclose(in);
    fclose(out);
    return path;
}

static void test_forecast(void **state)
{
    (void)state;
    char *db = bk_t_path(g_dir, "forecast.db");
    char *csv = msft_csv("msft.csv", -1, false);
    expect(bkd(db, "import", csv, "--symbol", "MSFT", "--timeframe", "d1", NULL), 0,
           "bars 249 read, 249 written", NULL);
    expect(bkd(db, "forecast", "--help", NULL), 0, "usage: barkeep forecast", NULL);
    /* the next sessions after Thursday 2001-09-27, from the last close */
    bk_t_result r = bkd(db, "forecast", "MSFT", "d1", "--horizon", "3", NULL);
    assert_int_equal(r.status, 0);
    assert_int_equal(count_lines(r.out), 4);
    assert_non_null(strstr(r.out, "ts,step,point,lo80,hi80,lo95,hi95,model\n"
                                  "2001-09-28T04:00:00Z,1,49.96,"));
    assert_non_null(strstr(r.out, "\n2001-10-01T04:00:00Z,2,49.96,"));
    assert_non_null(strstr(r.out, "\n2001-10-02T04:00:00Z,3,49.96,"));
    double p, lo80, hi80, lo95, hi95;
    const char *row = strstr(r.out, "\n2001-10-02") + 1;
    assert_int_equal(
        sscanf(row, "%*[^,],3,%lf,%lf,%lf,%lf,%lf,garch11t-cal", &p, &lo80, &hi80, &lo95, &hi95),
        5);
    assert_true(lo95 < lo80 && lo80 < p && p < hi80 && hi80 < hi95);
    bk_t_result_free(&r);
    expect(bkd(db, "forecast", "MSFT", "d1", "--horizon", "2", "--format", "json", NULL), 0,
           "\"model\":\"garch11t-cal\"", NULL);
    expect(
        bkd(db, "forecast", "MSFT", "d1", "--horizon", "2", "--format", "json", NULL), 0,
        "\"steps\":[{\"ts\":\"2001-09-28T04:00:00Z\",\"step\":1,\"point\":49.96,\"lo80\":", NULL);
    /* default horizon 20 for d1; --as-of: only bars closed by then */
    r = bkd(db, "forecast", "MSFT", "d1", NULL);
    assert_int_equal(count_lines(r.out), 21);
    bk_t_result_free(&r);
    expect(bkd(db, "forecast", "MSFT", "d1", "--as-of", "2001-06-29T12:00:00Z", NULL), 0,
           "\n2001-06-29T04:00:00Z,1,", NULL);
    expect(bkd(db, "forecast", "MSFT", "d1", "--as-of", "2000-12-01T00:00:00Z", NULL), 1, NULL,
           "too little history: 46 closed bar(s), a forecast needs 60");
    expect(bkd(db, "forecast", "AAPL", "d1", NULL), 1, NULL, "too little history: 0");
    /* the backtest: origins 240..247, two steps while the target exists */
    r = bkd(db, "forecast", "backtest", "MSFT", "d1", "--horizon", "2", "--start", "240", NULL);
    assert_int_equal(r.status, 0);
    assert_int_equal(count_lines(r.out), 1 + 15);
    assert_non_null(strstr(r.out, "origin_ts,target_ts,step,point,lo80,hi80,lo95,hi95,actual\n"
                                  "2001-09-17T04:00:00Z,2001-09-18T04:00:00Z,1,52.91,"));
    assert_non_null(strstr(r.out, "\n2001-09-26T04:00:00Z,2001-09-27T04:00:00Z,1,50.27,"));
    assert_non_null(strstr(r.out, ",49.96\n"));
    bk_t_result_free(&r);
    expect(bkd(db, "forecast", "backtest", "MSFT", "d1", "--start", "248", NULL), 1, NULL,
           "the series has 249 closed bars");
    free(csv);
    free(db);
}

static void test_forecast_bad_history(void **state)
{
    (void)state;
    char *db = bk_t_path(g_dir, "forecast_bad.db");
    char *gap = msft_csv("msft_gap.csv", 200, false); /* 2001-07-16 missing */
    char *flat = msft_csv("msft_flat.csv", -1, true);
    expect(bkd(db, "import", gap, "--symbol", "GAP", "--timeframe", "d1", NULL), 0, NULL, NULL);
    expect(bkd(db, "import", flat, "--symbol", "FLAT", "--timeframe", "d1", NULL), 0, NULL, NULL);
    expect(bkd(db, "forecast", "GAP", "d1", NULL), 1, NULL,
           "history has a gap: 1 expected bar(s) missing between 2001-07-13T04:00:00Z and "
           "2001-07-17T04:00:00Z");
    expect(bkd(db, "forecast", "backtest", "GAP", "d1", NULL), 1, NULL, "history has a gap");
    expect(bkd(db, "forecast", "GAP", "d1", "--allow-gaps", NULL), 0, "2001-09-28T04:00:00Z,1,",
           NULL);
    expect(bkd(db, "forecast", "FLAT", "d1", NULL), 1, NULL,
           "flat series: every close is 10, no variance to forecast");
    free(gap);
    free(flat);
    free(db);
}

/* The first n data lines of the MSFT daily file. */
static char *msft_head(const char *name, int n)
{
    char *full = msft_csv("msft_head_src.csv", -1, false);
    FILE *in = fopen(full, "r");
    assert_non_null(in);
    char *path = bk_t_path(g_dir, name), line[256];
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    for (int i = -1; i < n && fgets(line, sizeof line, in); i++)
        fputs(line, out);
    fclose(in);
    fclose(out);
    free(full);
    return path;
}

static int count_str(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The forecast runs of run_forecast definitions, end to end over imported
 * bars: planned when the window is covered and a bar closed since the last
 * forecast (once: not again without a new bar), stored, scored when the real
 * bars land (an import), replaced by the next run with the scores kept; too
 * little history and a flat series fail with their codes; a window that is
 * not covered plans nothing. */
static void test_forecast_runs(void **state)
{
    (void)state;
    char *db = bk_t_path(g_dir, "forecast_runs.db");
    char *head = msft_head("msft_200.csv", 200); /* through Friday 2001-07-13 */
    char *full = msft_csv("msft_full.csv", -1, false);
    char *flat = msft_csv("msft_flat_runs.csv", -1, true);
    const char *now1 = "2001-07-16T12:00:00Z", *now2 = "2001-09-28T12:00:00Z";
    const char *syms[] = {"MSFT", "TINY", "OLD"};
    for (int i = 0; i < 3; i++)
        expect(bkd(db, "import", head, "--symbol", syms[i], "--timeframe", "d1", NULL), 0, NULL,
               NULL);
    expect(bkd(db, "import", flat, "--symbol", "FLAT", "--timeframe", "d1", NULL), 0, NULL, NULL);
    struct {
        const char *sym, *days;
    } defs[] = {{"TINY", "30"}, {"OLD", "400"}, {"FLAT", "250"}};
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
        expect(bkd(db, "jobs", "add", defs[i].sym, "d1", "--type", "run_forecast", "--window-days",
                   defs[i].days, NULL),
               0, "run_forecast", NULL);
    /* MSFT: 25 steps instead of the default 20 */
    expect(bkd(db, "jobs", "add", "MSFT", "d1", "--type", "run_forecast", "--window-days", "250",
               "--horizon", "25", NULL),
           0, "added MSFT d1 run_forecast window_days=250 priority=100 horizon=25", NULL);
    expect(bkd(db, "jobs", "list", "--json", NULL), 0, "\"priority\":100,\"horizon\":25,", NULL);
    expect(bkd(db, "jobs", "add", "MSFT", "1h", "--horizon", "5", NULL), 2, NULL,
           "--horizon is for --type run_forecast");
    expect(bkd(db, "jobs", "add", "MSFT", "d1", "--type", "run_forecast", "--horizon", "501", NULL),
           2, NULL, "501");
    expect(bkd(db, "--now", now1, "tick", "--wait", NULL), 1, "dead-lettered 2", NULL);
    bk_t_result r = bkd(db, "--now", now1, "runs", "--json", NULL);
    assert_int_equal(r.status, 0);
    assert_int_equal(count_str(r.out, "\"job_type\":\"run_forecast\""), 3); /* not OLD */
    assert_int_equal(count_str(r.out, "\"symbol\":\"OLD\""), 0);
    assert_non_null(strstr(r.out, "\"error_code\":\"FORECAST_HISTORY\""));
    assert_non_null(strstr(r.out, "\"error_code\":\"FORECAST_INPUT\""));
    bk_t_result_free(&r);
    expect(bkd(db, "--now", now1, "runs", "--symbol", "TINY", "--json", NULL), 0,
           "closed bar(s) in the 30-day window up to 2001-07-13T04:00:00Z, a forecast needs 60",
           NULL);
    expect(bkd(db, "--now", now1, "runs", "--symbol", "MSFT", "--json", NULL), 0,
           "\"status\":\"success\"", NULL);
    /* forecast runs are the ml_forecast provider's in the run lists and ops statistics */
    expect(bkd(db, "--now", now1, "runs", "--symbol", "MSFT", "--json", NULL), 0,
           "\"rows_written\":25,\"provider\":\"ml_forecast\"", NULL);
    expect(bkd(db, "--now", now1, "runs", "--symbol", "TINY", "--json", NULL), 0,
           "\"provider\":\"ml_forecast\"", NULL);
    /* nothing new closed: no second run */
    expect(bkd(db, "--now", now1, "tick", "--wait", NULL), 0, NULL, NULL);
    r = bkd(db, "--now", now1, "runs", "--json", NULL);
    assert_int_equal(count_str(r.out, "\"job_type\":\"run_forecast\""), 3);
    bk_t_result_free(&r);
    expect(bkd(db, "forecast", "--stats", "MSFT", "d1", NULL), 0,
           "symbol,timeframe,step,n,coverage80,coverage95,mae,naive_mae,rel_mae\n",
           "no scored forecast of this series yet");
    /* the real bars land: the 25 steps are scored */
    expect(bkd(db, "import", full, "--symbol", "MSFT", "--timeframe", "d1", NULL), 0,
           "MSFT d1: 25 forecast steps scored", NULL);
    r = bkd(db, "forecast", "--stats", "MSFT", "d1", NULL);
    assert_int_equal(r.status, 0);
    assert_int_equal(count_lines(r.out), 26);
    assert_non_null(strstr(r.out, "\nMSFT,d1,1,1,"));
    assert_non_null(strstr(r.out, "\nMSFT,d1,25,1,"));
    bk_t_result_free(&r);
    /* new bars: a new forecast from the last one, the scores kept (FLAT
     * fails again on its new bars, TINY's dead-lettered run is re-planned
     * after its cool-down and fails again) */
    expect(bkd(db, "--now", now2, "tick", "--wait", NULL), 1, "dead-lettered 3", NULL);
    r = bkd(db, "--now", now2, "runs", "--symbol", "MSFT", "--json", NULL);
    assert_int_equal(count_str(r.out, "\"status\":\"success\""), 2);
    bk_t_result_free(&r);
    expect(bkd(db, "forecast", "--stats", "--format", "json", NULL), 0,
           "{\"symbol\":\"MSFT\",\"timeframe\":\"d1\",\"step\":25,\"n\":1,", NULL);
    expect(bkd(db, "forecast", "--stats", "MSFT", NULL), 2, NULL, "SYMBOL and TIMEFRAME");
    expect(bkd(db, "forecast", "--stats", "--last", "-1", NULL), 2, NULL, "--last");
    free(head);
    free(full);
    free(flat);
    free(db);
}

/* The worker's gap check inside a covered window: the coverage says the
 * window is covered (so the run is planned) but a bar inside it is missing
 * (a provider's empty answer recorded as covered, or a bar deleted): the run
 * fails with FORECAST_HISTORY naming the gap, never fits across it. */
static void test_forecast_run_gap(void **state)
{
    (void)state;
    const char *sq = sqlite3_cli();
    if (!sq) {
        fprintf(stderr, "sqlite3 command not found: forecast gap test skipped\n");
        skip();
    }
    char *db = bk_t_path(g_dir, "forecast_gap.db");
    char *head = msft_head("msft_gap_head.csv", 200); /* through Friday 2001-07-13 */
    const char *now = "2001-07-16T12:00:00Z";
    expect(bkd(db, "import", head, "--symbol", "GAP", "--timeframe", "d1", NULL), 0, NULL, NULL);
    const char *del[] = {sq, db,
                         "DELETE FROM ohlc_bars_v2 WHERE symbol = 'GAP' AND ts = (SELECT ts FROM"
                         " ohlc_bars_v2 WHERE symbol = 'GAP' ORDER BY ts DESC LIMIT 1 OFFSET 10)",
                         NULL};
    expect(bk_t_run(del, NULL), 0, NULL, NULL);
    expect(
        bkd(db, "jobs", "add", "GAP", "d1", "--type", "run_forecast", "--window-days", "250", NULL),
        0, NULL, NULL);
    expect(bkd(db, "--now", now, "tick", "--wait", NULL), 1, "dead-lettered 1", NULL);
    bk_t_result r = bkd(db, "--now", now, "runs", "--symbol", "GAP", "--json", NULL);
    expect(r, 0, "\"error_code\":\"FORECAST_HISTORY\"", NULL);
    r = bkd(db, "--now", now, "runs", "--symbol", "GAP", "--json", NULL);
    expect(r, 0,
           "history has a gap: 1 expected bar(s) missing between 2001-06-28T04:00:00Z and "
           "2001-07-02T04:00:00Z",
           NULL);
    free(head);
    free(db);
}

static void test_forecast_usage_errors(void **state)
{
    (void)state;
    char *db = bk_t_path(g_dir, "forecast_usage.db");
    expect(bkd(db, "forecast", NULL), 2, NULL, "forecast needs SYMBOL and TIMEFRAME");
    expect(bkd(db, "forecast", "MSFT", NULL), 2, NULL, "forecast needs SYMBOL and TIMEFRAME");
    expect(bkd(db, "forecast", "backtest", "MSFT", NULL), 2, NULL, "needs SYMBOL");
    expect(bkd(db, "forecast", "MSFT", "2h", NULL), 2, NULL, "'2h'");
    expect(bkd(db, "forecast", "MS FT", "d1", NULL), 2, NULL, "invalid symbol");
    expect(bkd(db, "forecast", "MSFT", "d1", "--horizon", "0", NULL), 2, NULL, "--horizon '0'");
    expect(bkd(db, "forecast", "MSFT", "d1", "--horizon", "501", NULL), 2, NULL, "'501'");
    expect(bkd(db, "forecast", "MSFT", "d1", "--as-of", "soon", NULL), 2, NULL, "'soon'");
    expect(bkd(db, "forecast", "MSFT", "d1", "--format", "xml", NULL), 2, NULL, "'xml'");
    expect(bkd(db, "forecast", "MSFT", "d1", "--start", "100", NULL), 2, NULL,
           "--start is for a backtest");
    expect(bkd(db, "forecast", "MSFT", "d1", "--bogus", NULL), 2, NULL, "--bogus");
    expect(bkd(db, "forecast", "backtest", "MSFT", "d1", "--format", "json", NULL), 2, NULL,
           "a backtest prints csv");
    expect(bkd(db, "forecast", "backtest", "MSFT", "d1", "--start", "10", NULL), 2, NULL,
           "--start '10'");
    expect(bkd(db, "forecast", "backtest", "MSFT", "d1", "--as-of", "2024-01-01", NULL), 2, NULL,
           "--as-of is for a forecast");
    free(db);
}

/* Symbol and timeframe columns: several series in one file, none flagged. */
static void test_import_series_columns(void **state)
{
    (void)state;
    char *db = bk_t_path(g_dir, "import_multi.db");
    char *csv = write_file("multi.csv", "Ticker;Interval;Timestamp;Open;High;Low;Close;Volume\n"
                                        "MSFT;d1;2024-06-04;400;410;395;405,5;1000\n"
                                        "AAPL;1h;1717507800000;10;11;9;10,5;100\n"
                                        "MSFT;1d;2024-06-05;405;412;401;410;1100\n"
                                        "AAPL;1h;1717511400000;10,5;11;10;10,75;90\n");
    const char *now = "2024-06-07T21:00:00Z";
    expect(bkd(db, "--now", now, "import", csv, NULL), 0, "2 series imported", NULL);
    expect(bkd(db, "bars", "MSFT", "d1", NULL), 0,
           "2024-06-04T04:00:00Z,400,410,395,405.5,1000,csv\n"
           "2024-06-05T04:00:00Z,405,412,401,410,1100,csv\n",
           NULL);
    expect(bkd(db, "bars", "AAPL", "1h", NULL), 0,
           "2024-06-04T13:30:00Z,10,11,9,10.5,100,csv\n"
           "2024-06-04T14:30:00Z,10.5,11,10,10.75,90,csv\n",
           NULL);
    bk_t_result r = bkd(db, "--now", now, "coverage", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "AAPL     1h   2024-06-03T20:00:00Z 2024-06-04T15:30:00Z"));
    assert_non_null(strstr(r.out, "MSFT     d1   2024-06-03T20:00:00Z 2024-06-06T13:30:00Z"));
    bk_t_result_free(&r);
    free(csv);
    free(db);
}

/* Run barkeep with extra environment entries. */
static bk_t_result bke(const char *const env[], const char *a1, const char *a2, const char *a3,
                       const char *a4)
{
    const char *argv[] = {bk_t_bin(), "--db", g_db, a1, a2, a3, a4, NULL};
    return bk_t_run(argv, env);
}

/* Provider configuration: sim without keys; a key from the environment or
 * a 0600 keys file brings its provider in (and sim out); listing a provider
 * without its key, or an unknown one, is a usage error; a keys file readable
 * by others is refused; chains follow the providers setting. */
static void test_providers(void **state)
{
    (void)state;
    expect(bk("providers", NULL), 0, "chain intraday: sim", NULL);
    expect(bk("providers", NULL), 0, "massive  no key", NULL);
    const char *env_m[] = {"MASSIVE_API_KEY=mk-0123456789abcdef", NULL};
    expect(bke(env_m, "providers", NULL, NULL, NULL), 0, "chain intraday: massive\n", NULL);
    expect(bke(env_m, "providers", NULL, NULL, NULL), 0, "massive  configured sip", NULL);
    const char *env_p[] = {"POLYGON_API_KEY=pk-0123456789abcdef", NULL}; /* the alias */
    expect(bke(env_p, "providers", NULL, NULL, NULL), 0, "chain daily:    massive\n", NULL);
    expect(bke(env_m, "--set", "providers=yahoo,massive", "providers", NULL), 0,
           "chain intraday: yahoo,massive\n", NULL);
    expect(bke(env_m, "--set", "chain_daily=massive,sim", "providers", NULL), 2, NULL,
           "not configured");
    expect(bk("--set", "providers=alpaca", "providers", NULL), 2, NULL, "ALPACA_API_SECRET_KEY");
    expect(bk("--set", "providers=nosuch", "providers", NULL), 2, NULL,
           "unknown provider 'nosuch'");
    expect(bk("--set", "adjustment=half", "providers", NULL), 2, NULL, "raw, split or split+div");
    expect(bk("--set", "provider_rates=massive=fast", "providers", NULL), 2, NULL,
           "'fast' is not a rate");
    expect(bk("--set", "provider_rates=massive=1", "--set", "providers=sim", "providers", NULL), 0,
           NULL, NULL); /* a budget for a provider not in use is ignored */

    char *keys = bk_t_path(g_dir, "provider.keys");
    FILE *f = fopen(keys, "w");
    assert_non_null(f);
    fprintf(f, "# provider keys\nexport TRADIER_API_KEY=tk-0123456789abcdef\n");
    fclose(f);
    char set[600];
    snprintf(set, sizeof set, "provider_keys_file=%s", keys);
    chmod(keys, 0644);
    expect(bk("--set", set, "providers", NULL), 1, NULL, "chmod 600");
    chmod(keys, 0600);
    expect(bk("--set", set, "providers", NULL), 0, "chain intraday: tradier\n", NULL);
    expect(bk("--set", set, "--set", "provider_rates=tradier=0.5/3", "providers", NULL), 0,
           "0.5/s burst 3", NULL);
    /* an end-of-day plan: a day's publication delay (and the default
     * settle window of an HTTP provider, an hour) */
    expect(bk("--set", set, "--set", "provider_delays=tradier=86400", "providers", NULL), 0,
           " 1d     1h\n", NULL);
    expect(bk("--set", set, "--set", "provider_settle=tradier=600", "providers", NULL), 0, " 10m\n",
           NULL);
    expect(bk("--set", "provider_settle=sim=later", "providers", NULL), 2, NULL,
           "provider_settle: 'later' is not 0 to 2678400 seconds");
    expect(bk("--set", "provider_delays=sim=soon", "providers", NULL), 2, NULL,
           "'soon' is not 0 to 2678400 seconds");
    /* per-provider settings: NAME_url and NAME_feed, for providers that
     * exist and feeds they serve, from --set or the environment */
    const char *env_a[] = {"ALPACA_API_KEY_ID=ak-0123456789abcdef",
                           "ALPACA_API_SECRET_KEY=as-0123456789abcdef", "BARKEEP_ALPACA_FEED=sip",
                           NULL};
    expect(bke(env_a, "providers", NULL, NULL, NULL), 0, "alpaca   configured sip", NULL);
    expect(bke(env_a, "--set", "alpaca_feed=iex", "providers", NULL), 0, "alpaca   configured iex",
           NULL);
    expect(bk("--set", "alpaca_feed=otc", "providers", NULL), 2, NULL,
           "alpaca_feed: 'otc' is not one of iex,sip");
    expect(bk("--set", "massive_feed=sip", "config", NULL), 2, NULL,
           "massive_feed: massive has no feeds");
    expect(bk("--set", "masive_url=http://127.0.0.1:1", "config", NULL), 2, NULL,
           "masive_url: unknown provider 'masive'");
    const char *env_u[] = {"BARKEEP_YAHOO_URL=http://127.0.0.1:9", NULL};
    expect(bke(env_u, "config", NULL, NULL, NULL), 0,
           "yahoo_url                http://127.0.0.1:9 BARKEEP_YAHOO_URL", NULL);
    free(keys);
}

/* Finnhub serves one class per adjustment (raw: intraday; split: daily and
 * weekly): its spans show the other class as refused, not as a span it
 * would never serve. */
static void test_providers_finnhub_refused(void **state)
{
    (void)state;
    const char *env_raw[] = {"FINNHUB_API_KEY=fk-0123456789abcdef", "BARKEEP_ADJUSTMENT=raw", NULL};
    const char *env_split[] = {"FINNHUB_API_KEY=fk-0123456789abcdef", "BARKEEP_ADJUSTMENT=split",
                               NULL};
    expect(bke(env_raw, "--set", "providers=finnhub", "providers", NULL), 0, " 28d/28d/refused ",
           NULL);
    expect(bke(env_split, "--set", "providers=finnhub", "providers", NULL), 0,
           " refused/refused/1825d ", NULL);
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
        cmocka_unit_test(test_keys_jwt),
        cmocka_unit_test(test_closures_file_and_env_db),
        cmocka_unit_test(test_tick_with_provider_budget),
        cmocka_unit_test(test_tick_wait_does_not_spin),
        cmocka_unit_test(test_adopt),
        cmocka_unit_test(test_import_hourly),
        cmocka_unit_test(test_import_daily_gap),
        cmocka_unit_test(test_import_invalid_rows),
        cmocka_unit_test(test_import_usage_errors),
        cmocka_unit_test(test_import_series_columns),
        cmocka_unit_test(test_forecast),
        cmocka_unit_test(test_forecast_bad_history),
        cmocka_unit_test(test_forecast_runs),
        cmocka_unit_test(test_forecast_run_gap),
        cmocka_unit_test(test_forecast_usage_errors),
        cmocka_unit_test(test_providers),
        cmocka_unit_test(test_providers_finnhub_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
