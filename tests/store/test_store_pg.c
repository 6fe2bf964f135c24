/*
 * test_store_pg.c — the PostgreSQL-only store tests (run through
 * scripts/with-pg.sh; skipped without a postgres:// BK_TEST_DB_URL): exact
 * microseconds, get_coverage_gaps against bk_plan_gaps, the deployment
 * guide's SQL, reconnection, the database's clock, leadership by session
 * lock, change notifications.
 *
 * The fixture, the helpers and how the groups run: store_fixture.h.
 */
#include "store_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plan/plan.h"

/* ---- PostgreSQL only ---- */

static int collect_bar(void *ctx, const bk_bar *bar, const char *provider)
{
    (void)provider;
    bk_bar **p = ctx;
    **p = *bar;
    (*p)++;
    return 0;
}

/* Instants round-trip to the microsecond through both bar paths, the run
 * columns, and SQL's own view of the value. */
static void t_pg_microseconds(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    static const int64_t ts[] = {T0 + 1, T0 + 999999,     -1234567,
                                 1,      T0 + 60 * S + 7, INT64_C(4102444799999999)};
    enum { N = sizeof ts / sizeof ts[0] };
    bk_bar in[N], out[N + 1], *p = out;
    for (int i = 0; i < N; i++)
        in[i] = mk_bar(ts[i], 10 + i);
    OK(bk_store_bars_upsert(s, "AAPL", BK_TF_1M, "sim", in, N, ERR));     /* COPY path */
    OK(bk_store_bars_upsert(s, "MSFT", BK_TF_1M, "sim", in + 0, 2, ERR)); /* one-row path */
    OK(bk_store_bars_read(s, "AAPL", BK_TF_1M, INT64_MIN / 2, 0, collect_bar, &p, ERR));
    assert_int_equal(p - out, N);
    int64_t sorted[N];
    memcpy(sorted, ts, sizeof ts);
    for (int i = 1; i < N; i++) /* insertion sort: read order is ts order */
        for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
            int64_t t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    for (int i = 0; i < N; i++)
        assert_int_equal(out[i].ts_us, sorted[i]);
    p = out;
    OK(bk_store_bars_read(s, "MSFT", BK_TF_1M, T0, T0 + 2, collect_bar, &p, ERR));
    assert_int_equal(p - out, 1);
    assert_int_equal(out[0].ts_us, T0 + 1);

    cells c = pg_q(s,
                   "SELECT ts::text, bk_us(ts) FROM ohlc_bars_v2 WHERE symbol = 'MSFT'"
                   " ORDER BY ts",
                   NULL, 0);
    assert_int_equal(c.rows, 2);
    assert_string_equal(c.v[0], "2024-06-03 07:33:20.000001+00");
    assert_string_equal(c.v[1], "1717400000000001");
    assert_string_equal(c.v[2], "2024-06-03 07:33:20.999999+00");
    cells_free(&c);
    const char *v[] = {"-1234567"};
    c = pg_q(s, "SELECT bk_us(bk_ts($1::int8))::text", v, 1);
    assert_string_equal(c.v[0], "-1234567");
    cells_free(&c);

    bk_run r = mk_run("AAPL", BK_TF_1H, T0 + 3, T0 + H + 5, 0), g;
    r.not_before_us = T0 + 11;
    assert_true(enqueue1(s, &r, T0 + 7));
    g = get_run(s, r.id);
    assert_int_equal(g.slice_from_us, T0 + 3);
    assert_int_equal(g.slice_to_us, T0 + H + 5);
    assert_int_equal(g.created_us, T0 + 7);
    assert_int_equal(g.not_before_us, T0 + 11);
}

/* get_coverage_gaps(symbol, tf, days, now) must equal bk_plan_gaps with the
 * default configuration (session anchor, no delay). */
static void expect_gaps_equal(bk_store *s, const char *sym, const char *tf_text, int days,
                              int64_t now)
{
    bk_def d = {0};
    bk_strlcpy(d.symbol, sym, sizeof d.symbol);
    assert_int_equal(bk_tf_parse(tf_text, &d.tf), 0);
    d.type = bk_job_for_tf(d.tf);
    d.window_days = days;
    bk_plan_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.anchor = BK_ANCHOR_SESSION;
    bk_series *st = NULL;
    size_t n = 0;
    OK(bk_store_series_load(s, sym, (int)d.tf, &st, &n, ERR));
    bk_ivset want;
    bk_ivset_init(&want);
    bk_plan_gaps(&cfg, &d, n ? &st[0].covered : NULL, now, &want);

    char days_s[16], now_s[24];
    snprintf(days_s, sizeof days_s, "%d", days);
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    const char *v[] = {sym, tf_text, days_s, now_s};
    cells c = pg_q(s,
                   "SELECT bk_us(gap_from), bk_us(gap_to), gap_hours FROM"
                   " get_coverage_gaps($1, $2, $3::int, bk_ts($4::int8))",
                   v, 4);
    if (c.rows != want.n)
        fail_msg("%s %s %d days at %s: SQL %zu gaps, C %zu", sym, tf_text, days, now_s, c.rows,
                 want.n);
    for (size_t i = 0; i < want.n; i++) {
        int64_t f = 0, t = 0;
        assert_int_equal(bk_parse_i64(c.v[i * 3], INT64_MIN, INT64_MAX, &f), 0);
        assert_int_equal(bk_parse_i64(c.v[i * 3 + 1], INT64_MIN, INT64_MAX, &t), 0);
        assert_int_equal(f, want.v[i].from_us);
        assert_int_equal(t, want.v[i].to_us);
        double h = strtod(c.v[i * 3 + 2], NULL);
        double expect = (double)(t - f) / 3600e6;
        assert_true(h > expect - 1e-9 && h < expect + 1e-9);
    }
    cells_free(&c);
    bk_ivset_fini(&want);
    bk_series_free(st, n);
}

static void t_pg_coverage_gaps(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    static const char *const tfs[] = {"1m", "5m", "15m", "30m", "1h", "4h", "d1", "w1"};
    static const int64_t nows[] = {
        INT64_C(1717602440000000), /* Wed 2024-06-05 15:47:20Z, mid-session */
        INT64_C(1717848000000000), /* Sat 2024-06-08 12:00Z */
        INT64_C(1718020800000000), /* Mon 2024-06-10 12:00Z, before the open */
        INT64_C(1732900200000000), /* Fri 2024-11-29 17:10Z, after an early close */
        INT64_C(1710165620000000), /* Mon 2024-03-11 13:60:20Z, after the DST switch */
        INT64_C(1704205800000000), /* Tue 2024-01-02 14:30Z, the open after New Year */
    };
    for (size_t k = 0; k < sizeof nows / sizeof nows[0]; k++) /* nothing covered */
        for (size_t i = 0; i < sizeof tfs / sizeof tfs[0]; i++)
            expect_gaps_equal(s, "AAPL", tfs[i], 7, nows[k]);
    /* partial coverage: pieces inside and across sessions */
    int64_t now = nows[0];
    fill_slice(s, "AAPL", BK_TF_1H, now - 3 * BK_US_PER_DAY + H, now - 2 * BK_US_PER_DAY, T0);
    fill_slice(s, "AAPL", BK_TF_1H, now - 20 * H, now - 19 * H - 30 * 60 * S, T0);
    fill_slice(s, "AAPL", BK_TF_1H, now - 2 * H, now + H, T0);
    fill_slice(s, "AAPL", BK_TF_D1, now - 40 * BK_US_PER_DAY, now - 4 * BK_US_PER_DAY, T0);
    for (size_t k = 0; k < sizeof nows / sizeof nows[0]; k++) {
        expect_gaps_equal(s, "AAPL", "1h", 7, nows[k]);
        expect_gaps_equal(s, "AAPL", "d1", 30, nows[k]);
        expect_gaps_equal(s, "aapl", "h1", 5, nows[k]); /* aliases, lower case */
        expect_gaps_equal(s, "AAPL", "1d", 10, nows[k]);
        for (int days = 25; days <= 31; days++) /* w1 windows from every weekday */
            expect_gaps_equal(s, "AAPL", "w1", days, nows[k]);
    }
    /* complete coverage: no gaps */
    fill_slice(s, "MSFT", BK_TF_15M, now - 30 * BK_US_PER_DAY, now + BK_US_PER_DAY, T0);
    expect_gaps_equal(s, "MSFT", "m15", 7, now);
    char now_s[24];
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    const char *v[] = {now_s};
    cells c =
        pg_q(s, "SELECT count(*) FROM get_coverage_gaps('MSFT', '15M', 7, bk_ts($1::int8))", v, 1);
    assert_string_equal(c.v[0], "0");
    cells_free(&c);
    /* the guide's own call (now(), three arguments) runs */
    c = pg_q(s, "SELECT * FROM get_coverage_gaps('AAPL', '1h', 7)", NULL, 0);
    cells_free(&c);
    bk_err err = {0};
    char **x = NULL;
    size_t rows, cols;
    assert_int_equal(bk_store__pg_query(s, "SELECT * FROM get_coverage_gaps('AAPL', 'x9', 7)", NULL,
                                        0, &x, &rows, &cols, &err),
                     BK_ESTORE);
    assert_non_null(strstr(err.msg, "unknown timeframe"));
}

/* Migration 12: the Supabase roles exist with Supabase's default privileges
 * (anon and authenticated read, service_role writes), and anon can call
 * get_coverage_gaps, which reads market_sessions as its owner. */
static void t_pg_roles(void **state)
{
    fixture *fx = *state;
    int64_t now = INT64_C(1717602440000000); /* Wed 2024-06-05 15:47:20Z, mid-session */
    fill_slice(fx->s, "AAPL", BK_TF_1H, now - 2 * BK_US_PER_DAY, now - BK_US_PER_DAY, T0);
    cells c = pg_q(fx->s,
                   "SELECT has_schema_privilege('anon', 'public', 'USAGE'),"
                   " has_table_privilege('anon', 'job_runs', 'SELECT'),"
                   " has_table_privilege('authenticated', 'coverage_status', 'SELECT'),"
                   " has_table_privilege('anon', 'job_runs', 'INSERT'),"
                   " has_table_privilege('service_role', 'job_runs', 'INSERT'),"
                   " has_table_privilege('service_role', 'ohlc_bars_v2', 'DELETE')",
                   NULL, 0);
    static const char *const want[] = {"t", "t", "t", "f", "t", "t"};
    for (size_t i = 0; i < BK_ARRAY_LEN(want); i++)
        assert_string_equal(c.v[i], want[i]);
    cells_free(&c);
    bk_store *anon = open_or_die(fx->url); /* a connection of its own keeps its role */
    OK(bk_store__pg_exec(anon, "SET ROLE anon", ERR));
    char now_s[24];
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    const char *v[] = {now_s};
    c = pg_q(anon, "SELECT count(*) FROM get_coverage_gaps('AAPL', '1h', 7, bk_ts($1::int8))", v,
             1);
    assert_true(strcmp(c.v[0], "0") != 0); /* the days before the slice are gaps */
    cells_free(&c);
    c = pg_q(anon, "SELECT count(*) FROM coverage_status WHERE symbol = 'AAPL'", NULL, 0);
    assert_string_equal(c.v[0], "1");
    cells_free(&c);
    bk_err err = {0};
    assert_int_equal(bk_store__pg_exec(anon, "DELETE FROM coverage_status", &err), BK_ESTORE);
    assert_non_null(strstr(err.msg, "permission denied"));
    OK(bk_store__pg_exec(anon, "RESET ROLE; SET ROLE service_role", ERR));
    OK(bk_store__pg_exec(anon, "UPDATE coverage_status SET last_rows_written = 7", ERR));
    bk_store_close(anon);
}

/* Every SQL statement of the guide, verbatim, runs on the schema. */
static void t_pg_guide_sql(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    fill_slice(s, "AAPL", BK_TF_1H, T0, T0 + H, T0);
    static const char *const stmts[] = {
        "SELECT table_name FROM information_schema.tables \n"
        "WHERE table_schema = 'public' \n"
        "AND table_name IN ('job_definitions', 'job_runs', 'coverage_status');",
        "SELECT symbol, timeframe, job_type, enabled, priority \n"
        "FROM job_definitions \nORDER BY priority DESC;",
        "SELECT schemaname, tablename \nFROM pg_publication_tables \n"
        "WHERE pubname = 'supabase_realtime' \nAND tablename = 'job_runs';",
        "INSERT INTO job_definitions (job_type, symbol, timeframe, window_days, priority, "
        "enabled)\nVALUES\n"
        "  ('fetch_intraday', 'AAPL', '15m', 5, 200, true),\n"
        "  ('fetch_intraday', 'AAPL', '1h', 5, 190, true),\n"
        "  ('fetch_intraday', 'NVDA', '15m', 5, 200, true),\n"
        "  ('fetch_intraday', 'NVDA', '1h', 5, 190, true),\n"
        "  ('fetch_intraday', 'TSLA', '15m', 5, 200, true),\n"
        "  ('fetch_intraday', 'TSLA', '1h', 5, 190, true)\n"
        "ON CONFLICT (symbol, timeframe, job_type) DO UPDATE\n"
        "SET enabled = true, priority = EXCLUDED.priority;",
        "INSERT INTO job_definitions (job_type, symbol, timeframe, window_days, priority, "
        "enabled)\nVALUES\n"
        "  ('fetch_historical', 'AAPL', 'd1', 365, 100, true),\n"
        "  ('fetch_historical', 'NVDA', 'd1', 365, 100, true),\n"
        "  ('fetch_historical', 'TSLA', 'd1', 365, 100, true)\n"
        "ON CONFLICT (symbol, timeframe, job_type) DO UPDATE\nSET enabled = true;",
        "SELECT id, symbol, timeframe, job_type, status, progress_percent, rows_written\n"
        "FROM job_runs\nORDER BY created_at DESC\nLIMIT 10;",
        "SELECT symbol, timeframe, from_ts, to_ts, last_success_at, last_rows_written\n"
        "FROM coverage_status\nORDER BY updated_at DESC;",
        "SELECT symbol, timeframe, error_code, error_message, attempt\nFROM job_runs\n"
        "WHERE status = 'failed'\nORDER BY finished_at DESC\nLIMIT 5;",
        "SELECT \n  provider,\n  COUNT(*) as total_runs,\n"
        "  SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END) as success_runs,\n"
        "  ROUND(100.0 * SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END) / COUNT(*), 2) as "
        "success_rate,\n  SUM(rows_written) as total_rows\nFROM job_runs\n"
        "WHERE created_at > NOW() - INTERVAL '24 hours'\n  AND provider IS NOT NULL\n"
        "GROUP BY provider\nORDER BY success_rate DESC;",
        "SELECT \n  job_type,\n  COUNT(*) as runs,\n"
        "  ROUND(AVG(EXTRACT(EPOCH FROM (finished_at - started_at))), 2) as avg_duration_sec,\n"
        "  ROUND(AVG(rows_written), 0) as avg_rows\nFROM job_runs\nWHERE status = 'success'\n"
        "  AND started_at IS NOT NULL\n  AND finished_at IS NOT NULL\nGROUP BY job_type;",
        "SELECT \n  symbol,\n  timeframe,\n  from_ts,\n  to_ts,\n"
        "  EXTRACT(EPOCH FROM (to_ts - from_ts)) / 3600 as coverage_hours,\n"
        "  last_success_at,\n  last_rows_written\nFROM coverage_status\n"
        "ORDER BY last_success_at DESC;",
        "SELECT \n  symbol,\n  timeframe,\n  job_type,\n  error_code,\n  error_message,\n"
        "  attempt,\n  finished_at\nFROM job_runs\nWHERE status = 'failed'\n"
        "ORDER BY finished_at DESC\nLIMIT 10;",
        "SELECT * FROM job_definitions WHERE enabled = true;",
        "SELECT * FROM get_coverage_gaps('AAPL', '1h', 7);",
        "SELECT id, symbol, timeframe, created_at, attempt\nFROM job_runs\n"
        "WHERE status = 'queued'\nORDER BY created_at ASC;",
        "UPDATE job_runs\nSET status = 'queued', attempt = attempt + 1\n"
        "WHERE status = 'running' AND started_at < NOW() - INTERVAL '10 minutes';",
        "SELECT \n  error_code,\n  COUNT(*) as occurrences,\n"
        "  MAX(error_message) as example_message\nFROM job_runs\nWHERE status = 'failed'\n"
        "  AND created_at > NOW() - INTERVAL '1 hour'\nGROUP BY error_code\n"
        "ORDER BY occurrences DESC;",
        "SELECT * FROM pg_publication_tables \nWHERE pubname = 'supabase_realtime';",
        "GRANT SELECT ON job_runs TO anon, authenticated;",
        "UPDATE job_definitions\nSET priority = 250\n"
        "WHERE symbol IN ('AAPL', 'NVDA', 'TSLA') AND timeframe = '15m';",
        "INSERT INTO coverage_status (symbol, timeframe, from_ts, to_ts, last_success_at, "
        "last_rows_written)\nSELECT \n  symbol,\n  timeframe,\n  MIN(ts) as from_ts,\n"
        "  MAX(ts) as to_ts,\n  MAX(ts) as last_success_at,\n  COUNT(*) as last_rows_written\n"
        "FROM ohlc_bars_v2\nGROUP BY symbol, timeframe\n"
        "ON CONFLICT (symbol, timeframe) DO UPDATE\nSET from_ts = EXCLUDED.from_ts,\n"
        "    to_ts = EXCLUDED.to_ts,\n    last_success_at = EXCLUDED.last_success_at,\n"
        "    last_rows_written = EXCLUDED.last_rows_written;",
        "SELECT symbol, timeframe, COUNT(*) as bar_count\nFROM ohlc_bars_v2\n"
        "GROUP BY symbol, timeframe\nORDER BY symbol, timeframe;",
    };
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        bk_err err = {0};
        if (bk_store__pg_exec(s, stmts[i], &err) < 0)
            fail_msg("guide statement %zu failed: %s\n%s", i, err.msg, stmts[i]);
    }
    cells c = pg_q(s, "SELECT count(*) FROM job_definitions", NULL, 0);
    assert_string_equal(c.v[0], "9");
    cells_free(&c);
    bk_def d;
    OK(bk_store_def_get(s, "NVDA", BK_TF_15M, BK_JOB_INTRADAY, &d, ERR));
    assert_int_equal(d.priority, 250);
    assert_int_equal(d.window_days, 5);
}

/* A connection the server dropped is reset once, and the call succeeds; the
 * new session gets the session settings again (TimeZone UTC, ...). */
static void t_pg_reconnect(void **state)
{
    fixture *fx = *state;
    bk_store *a = open_or_die(fx->url);
    bk_def d = mk_def("AAPL", BK_TF_1H, 5, 1), *v = NULL;
    bool created;
    OK(bk_store_def_put(a, &d, BK_PUT_SET, &created, T0, ERR));
    cells c = pg_q(a, "SELECT pg_backend_pid()::text", NULL, 0);
    const char *pid[] = {c.v[0]};
    cells k = pg_q(fx->s, "SELECT pg_terminate_backend($1::int)::text", pid, 1);
    assert_string_equal(k.v[0], "true");
    cells_free(&k);
    cells_free(&c);
    size_t n = 0;
    OK(bk_store_def_list(a, false, &v, &n, ERR)); /* reset, then prepared again */
    assert_int_equal(n, 1);
    free(v);
    /* the new session is configured like the first one */
    c = pg_q(a, "SELECT current_setting('TimeZone') || ' ' || current_setting('application_name')",
             NULL, 0);
    assert_string_equal(c.v[0], "UTC barkeep");
    cells_free(&c);
    bk_store_close(a);
}

/* ---- PostgreSQL: one clock ---- */

/* Two processes whose clocks differ by 45 s (issue 13: with a 30 s lease,
 * every run was requeued or dead-lettered LEASE_EXPIRED before its worker
 * could finish): leases and budget tokens are kept in the database's time,
 * so each process sees the other's lease end 30 s after it was renewed,
 * whoever's clock is ahead, and a token one takes is honoured by the other.
 * The instants are the real clock's: the conversion is measured against the
 * server's clock. */
static void t_pg_clock_skew(void **state)
{
    fixture *fx = *state;
    const int64_t ahead = 45 * S, lease = 30 * S;
    bk_store *w = open_or_die(fx->url), *l = open_or_die(fx->url);
    OK(bk_store__pg_set_clock(l, ahead, ERR)); /* the leader's machine runs 45 s ahead */
    int64_t skew = -1;
    OK(bk_store_clock_skew(w, &skew, ERR));
    assert_int_equal(skew, 0);
    OK(bk_store_clock_skew(l, &skew, ERR));
    assert_int_equal(skew, ahead);

    /* The worker (behind) claims; the leader's reaper leaves the lease alone. */
    int64_t now = bk_clock_now_us();
    bk_run r = mk_run("AAPL", BK_TF_1H, T0, T0 + H, 0), c, g;
    assert_true(enqueue1(w, &r, now));
    OK(bk_store_run_claim(w, "worker", now, lease, &c, ERR));
    assert_int_equal(c.lease_until_us, now + lease);
    size_t n = 99;
    OK(bk_store_runs_requeue_expired(l, bk_clock_now_us() + ahead, 10, NULL, 0, &n, ERR));
    assert_int_equal(n, 0);
    g = get_run(l, c.id); /* on the leader's clock, the lease ends 45 s later */
    assert_int_equal(g.status, BK_ST_RUNNING);
    assert_int_equal(g.lease_until_us, now + lease + ahead);
    int64_t hb = bk_clock_now_us(), next = 0;
    OK(bk_store_run_heartbeat(w, c.id, "worker", 50, hb, hb + lease, ERR));
    OK(bk_store_runs_next_event(l, &next, ERR));
    assert_int_equal(next, hb + lease + ahead);
    OK(bk_store_runs_requeue_expired(l, hb + ahead + lease, 10, NULL, 0, &n,
                                     ERR)); /* strictly after */
    assert_int_equal(n, 0);
    OK(bk_store_runs_requeue_expired(l, hb + ahead + lease + 1, 10, NULL, 0, &n, ERR));
    assert_int_equal(n, 1);
    assert_int_equal(get_run(w, c.id).status, BK_ST_QUEUED);

    /* The other way round: a run claimed on the clock that is ahead expires
     * for a reaper behind 30 s (not 75 s) after. */
    now = bk_clock_now_us();
    OK(bk_store_run_claim(l, "leader", now + ahead, lease, &c, ERR));
    OK(bk_store_runs_requeue_expired(w, now + lease + 1, 10, NULL, 0, &n, ERR));
    assert_int_equal(n, 1);

    /* One token every 10 s, burst 1: the worker takes the full bucket's;
     * 45 s ahead, the leader finds it empty (not refilled 45 s worth). */
    int64_t wait = -1;
    OK(bk_store_take_token(w, "massive", 0.1, 1, bk_clock_now_us(), &wait, ERR));
    assert_int_equal(wait, 0);
    OK(bk_store_take_token(l, "massive", 0.1, 1, bk_clock_now_us() + ahead, &wait, ERR));
    assert_true(wait > 5 * S && wait <= 10 * S);
    OK(bk_store_reserve_token(l, "massive", 0.1, 1, bk_clock_now_us() + ahead, &wait, ERR));
    assert_true(wait > 5 * S && wait <= 10 * S);
    OK(bk_store_reserve_token(w, "massive", 0.1, 1, bk_clock_now_us(), &wait, ERR));
    assert_true(wait > 15 * S && wait <= 20 * S); /* behind the leader's reservation */
    bk_store_close(l);
    bk_store_close(w);
}

/* ---- PostgreSQL: leadership by session lock ---- */

static void expect_lease_owner(bk_store *s, const char *want)
{
    cells c = pg_q(s, "SELECT owner FROM scheduler_leases WHERE name = 'scheduler'", NULL, 0);
    assert_int_equal(c.rows, 1);
    assert_string_equal(c.v[0], want);
    cells_free(&c);
}

/* Leadership follows the session lock: repeated tries do not stack it, one
 * release frees it, closing the holder's connection frees it at once
 * (however long the row's lease), and the row shows the holder. */
/* A closed session's lock is freed when its backend exits, a moment after
 * the client hung up: try again (bounded) until this store leads. */
static bool lead_soon(bk_store *s, const char *owner, int64_t now_us, int64_t ttl)
{
    bool lead = false;
    for (int i = 0; i < 500 && !lead; i++) {
        OK(bk_store_leader_try(s, "scheduler", owner, now_us, ttl, &lead, ERR));
        if (!lead) {
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return lead;
}

static void t_pg_leader_session(void **state)
{
    fixture *fx = *state;
    const int64_t ttl = H; /* never expires within the test */
    bk_store *a = open_or_die(fx->url), *b = open_or_die(fx->url);
    bool la = false, lb = true;
    OK(bk_store_leader_try(a, "scheduler", "A", T0, ttl, &la, ERR));
    assert_true(la);
    OK(bk_store_leader_try(b, "scheduler", "B", T0, ttl, &lb, ERR));
    assert_false(lb);
    for (int i = 1; i <= 3; i++) {
        OK(bk_store_leader_try(a, "scheduler", "A", T0 + i * S, ttl, &la, ERR));
        assert_true(la);
    }
    expect_lease_owner(fx->s, "A");
    OK(bk_store_leader_release(b, "scheduler", "B", ERR)); /* not the holder: no effect */
    OK(bk_store_leader_try(b, "scheduler", "B", T0 + 4 * S, ttl, &lb, ERR));
    assert_false(lb);
    OK(bk_store_leader_release(a, "scheduler", "A", ERR)); /* once frees it */
    OK(bk_store_leader_try(b, "scheduler", "B", T0 + 5 * S, ttl, &lb, ERR));
    assert_true(lb);
    expect_lease_owner(fx->s, "B");
    OK(bk_store_leader_try(a, "scheduler", "A", T0 + 6 * S, ttl, &la, ERR));
    assert_false(la);
    bk_store_close(b); /* the session ends: no ttl wait */
    assert_true(lead_soon(a, "A", T0 + 7 * S, ttl));
    expect_lease_owner(fx->s, "A");
    bk_store_close(a);
}

/* A connection whose session died lost the lock with it: a standby takes
 * over, and the old holder's next try says so (and leaves the row alone). */
static void t_pg_leader_lost_session(void **state)
{
    fixture *fx = *state;
    const int64_t ttl = H;
    bk_store *a = open_or_die(fx->url), *c = open_or_die(fx->url);
    bool la = false, lc = true;
    OK(bk_store_leader_try(a, "scheduler", "A", T0, ttl, &la, ERR));
    assert_true(la);
    cells pid = pg_q(a, "SELECT pg_backend_pid()::text", NULL, 0);
    const char *args[] = {pid.v[0]};
    cells k = pg_q(fx->s, "SELECT pg_terminate_backend($1::int, 5000)::text", args, 1);
    assert_string_equal(k.v[0], "true"); /* waited until the backend exited */
    cells_free(&k);
    cells_free(&pid);
    OK(bk_store_leader_try(c, "scheduler", "C", T0 + S, ttl, &lc, ERR));
    assert_true(lc);
    OK(bk_store_leader_try(a, "scheduler", "A", T0 + 2 * S, ttl, &la, ERR)); /* resets */
    assert_false(la);
    expect_lease_owner(fx->s, "C");
    bk_store_close(c);
    assert_true(lead_soon(a, "A", T0 + 3 * S, ttl));
    bk_store_close(a);
}

/* ---- PostgreSQL: change notifications ---- */

/* Changes made on one connection reach another that LISTENs: the insert,
 * the claim and the heartbeat, in commit order. */
static void t_pg_notify(void **state)
{
    fixture *fx = *state;
    assert_true(bk_store_notifies(fx->s));
    bk_store *a = open_or_die(fx->url);
    OK(bk_store_listen(a, ERR));
    notes n = {.n = 0};
    OK(bk_store_notifications(a, 10, note_cb, &n, ERR)); /* nothing yet: times out */
    assert_int_equal(n.n, 0);
    bk_run r = mk_run("AAPL", BK_TF_1H, T0, T0 + H, 1), got;
    assert_true(enqueue1(fx->s, &r, T0));
    bk_strlcpy(n.run_id, r.id, sizeof n.run_id);
    claim_ok(fx->s, "w1", T0 + S, &got);
    assert_string_equal(got.id, r.id);
    OK(bk_store_run_heartbeat(fx->s, r.id, "w1", 50, T0 + 2 * S, T0 + 60 * S, ERR));
    wait_notes(a, &n, 3);
    assert_string_equal(n.ops[0], "INSERT");
    assert_string_equal(n.ops[1], "UPDATE");
    assert_string_equal(n.ops[2], "UPDATE");
    /* each note says what the change was, though the row has moved on */
    assert_int_equal(n.status[0], BK_ST_QUEUED);
    assert_int_equal(n.status[1], BK_ST_RUNNING);
    OK(bk_store_notifications(a, 0, note_cb, &n, ERR)); /* nothing more */
    assert_int_equal(n.n, 3);
    bk_store_close(a);
}

/* A listener whose connection dies is told so (BK_ESTORE); LISTEN again
 * reconnects and notifications flow again. */
static void t_pg_notify_lost(void **state)
{
    fixture *fx = *state;
    bk_store *a = open_or_die(fx->url);
    cells pid = pg_q(a, "SELECT pg_backend_pid()::text", NULL, 0);
    OK(bk_store_listen(a, ERR));
    const char *args[] = {pid.v[0]};
    cells k = pg_q(fx->s, "SELECT pg_terminate_backend($1::int, 5000)::text", args, 1);
    assert_string_equal(k.v[0], "true");
    cells_free(&k);
    cells_free(&pid);
    notes n = {.n = 0};
    bk_err err = {0};
    int rc = 0;
    int64_t deadline = bk_clock_mono_us() + 10 * S;
    while (rc == 0 && bk_clock_mono_us() < deadline)
        rc = bk_store_notifications(a, 100, note_cb, &n, &err);
    assert_int_equal(rc, BK_ESTORE);
    assert_int_equal(bk_store_notifications(a, 0, note_cb, &n, &err), BK_ESTORE); /* stays lost */
    OK(bk_store_listen(a, ERR));                                                  /* reconnects */
    bk_run r = mk_run("MSFT", BK_TF_1H, T0, T0 + H, 1);
    assert_true(enqueue1(fx->s, &r, T0));
    bk_strlcpy(n.run_id, r.id, sizeof n.run_id);
    wait_notes(a, &n, 1);
    assert_string_equal(n.ops[0], "INSERT");
    bk_store_close(a);
}

/* ---- suites ---- */

static const struct CMUnitTest pg_only[] = {
    FX(t_pg_microseconds),        FX(t_pg_coverage_gaps),
    FX(t_pg_guide_sql),           FX(t_pg_reconnect),
    FX(t_pg_clock_skew),          FX(t_pg_leader_session),
    FX(t_pg_leader_lost_session), FX(t_pg_notify),
    FX(t_pg_notify_lost),         FX(t_pg_roles),
};

int main(void)
{
    const store_suite suite = {
        .name = "pg",
        .pg_only = pg_only,
        .n_pg_only = BK_ARRAY_LEN(pg_only),
    };
    return store_suite_main(&suite);
}
