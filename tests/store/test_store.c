/*
 * test_store.c — the store suite, on real databases.
 *
 * The backend-agnostic tests run through generic_suite(url): each test gets
 * a fresh, migrated store. With BK_TEST_DB_URL unset that is a new SQLite
 * file in a temporary directory per test; set it to a postgres:// URL
 * (scripts/with-pg.sh does) to run the same tests against PostgreSQL, whose
 * schema public the fixture drops and re-creates before each test. The
 * SQLite-only tests (a corrupt file, a newer schema, an unopenable path) and
 * the PostgreSQL-only tests (exact microseconds, get_coverage_gaps against
 * bk_plan_gaps, claims from 8 connections) are separate groups.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/util.h"
#include "store/store.h"
#include "store/store_test.h"
#include "testutil.h"

#include "plan/plan.h" /* bk_plan_gaps, the reference for get_coverage_gaps */

#define T0 INT64_C(1717400000000000) /* 2024-06-03T07:33:20Z */
#define H  BK_US_PER_HOUR
#define S  BK_US_PER_S

static const char *g_base_url; /* NULL: a temporary SQLite file per test */

#define PG_LATEST 10 /* PG_SCHEMA_LATEST (schema_pg.h) */

typedef struct fixture {
    char *dir;
    char *url;
    bk_store *s;
} fixture;

static bk_store *open_or_die(const char *url)
{
    bk_err err = {0};
    bk_store *s = NULL;
    int rc = bk_store_open(&s, url, &err);
    if (rc < 0)
        fail_msg("open %s: %s", url, err.msg);
    return s;
}

static int fixture_setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    bk_err err = {0};
    if (g_base_url) {
        /* A shared database: start every test from an empty schema. */
        fx->url = bk_xstrdup(g_base_url);
        fx->s = open_or_die(fx->url);
        if (bk_store__pg_exec(fx->s, "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public",
                              &err) < 0)
            fail_msg("reset database: %s", err.msg);
    } else {
        fx->dir = bk_t_tmpdir("store");
        fx->url = bk_t_path(fx->dir, "barkeep.db");
        fx->s = open_or_die(fx->url);
    }
    int v = 0;
    if (bk_store_migrate(fx->s, &v, &err) < 0)
        fail_msg("migrate: %s", err.msg);
    *state = fx;
    return 0;
}

static int fixture_teardown(void **state)
{
    fixture *fx = *state;
    bk_store_close(fx->s);
    if (fx->dir)
        bk_t_rmtree(fx->dir);
    free(fx->dir);
    free(fx->url);
    free(fx);
    return 0;
}

/* ---- helpers ---- */

#define OK(call)                                                                                   \
    do {                                                                                           \
        bk_err err_ = {0};                                                                         \
        int rc_ = (call);                                                                          \
        if (rc_ != 0)                                                                              \
            fail_msg("%s -> %s: %s", #call, bk_err_name(rc_), err_.msg);                           \
    } while (0)
#define ERR (&err_)

static bk_run mk_run(const char *sym, bk_tf tf, int64_t from, int64_t to, int prio)
{
    bk_run r;
    memset(&r, 0, sizeof r);
    bk_strlcpy(r.symbol, sym, sizeof r.symbol);
    r.tf = tf;
    r.type = bk_job_for_tf(tf);
    r.slice_from_us = from;
    r.slice_to_us = to;
    r.priority = prio;
    r.max_attempts = 3;
    bk_strlcpy(r.triggered_by, "tick", sizeof r.triggered_by);
    return r;
}

/* Enqueue one run; returns whether it was inserted and fills r->id. */
static bool enqueue1(bk_store *s, bk_run *r, int64_t now)
{
    size_t k = 99;
    OK(bk_store_runs_enqueue(s, r, 1, &k, now, ERR));
    return k == 1;
}

static void claim_ok(bk_store *s, const char *owner, int64_t now, bk_run *out)
{
    OK(bk_store_run_claim(s, owner, now, 60 * S, out, ERR));
}

static bk_run get_run(bk_store *s, const char *id)
{
    bk_run r;
    OK(bk_store_run_get(s, id, &r, ERR));
    return r;
}

static bk_commit mk_commit(const bk_run *r, const char *owner, const bk_bar *bars, size_t n,
                           int64_t now)
{
    bk_commit c = {
        .run_id = r->id,
        .owner = owner,
        .symbol = r->symbol,
        .tf = r->tf,
        .provider = "sim",
        .bars = bars,
        .n_bars = n,
        .covered = {r->slice_from_us, r->slice_to_us},
        .covered_ext = {r->slice_from_us, r->slice_to_us},
        .now_us = now,
    };
    return c;
}

static bk_bar mk_bar(int64_t ts, double px)
{
    return (bk_bar){
        .ts_us = ts, .open = px, .high = px + 1, .low = px - 1, .close = px + 0.5, .volume = 1000};
}

/* Enqueue, claim and commit one run over [from, to) with one bar at from. */
static void fill_slice(bk_store *s, const char *sym, bk_tf tf, int64_t from, int64_t to,
                       int64_t now)
{
    bk_run r = mk_run(sym, tf, from, to, 0), c;
    assert_true(enqueue1(s, &r, now));
    OK(bk_store_run_claim_id(s, r.id, "w", now, 60 * S, &c, ERR));
    bk_bar b = mk_bar(from, 100);
    bk_commit cm = mk_commit(&c, "w", &b, 1, now);
    OK(bk_store_run_commit(s, &cm, ERR));
}

static int64_t bars_count(bk_store *s, const char *sym, int tf)
{
    int64_t n = -1;
    OK(bk_store_bars_count(s, sym, tf, &n, ERR));
    return n;
}

static void expect_series(bk_store *s, const char *sym, bk_tf tf, bk_series *out_copy)
{
    bk_series *v = NULL;
    size_t n = 0;
    OK(bk_store_series_load(s, sym, (int)tf, &v, &n, ERR));
    assert_int_equal(n, 1);
    *out_copy = v[0];
    free(v); /* ownership of the ivsets moves to *out_copy */
}

static void series_fini(bk_series *x)
{
    bk_ivset_fini(&x->covered);
    bk_ivset_fini(&x->active);
    bk_ivset_fini(&x->dead);
}

/* ---- migrations ---- */

static void t_migrate(void **state)
{
    fixture *fx = *state;
    bk_err err = {0};
    int v1 = 0, v2 = 0, v3 = 0;
    OK(bk_store_migrate(fx->s, &v1, ERR));
    assert_true(v1 >= 1);
    OK(bk_store_migrate(fx->s, &v2, ERR)); /* idempotent */
    assert_int_equal(v1, v2);
    OK(bk_store_schema_version(fx->s, &v3, ERR));
    assert_int_equal(v1, v3);
    OK(bk_store_check_schema(fx->s, ERR));
    if (!g_base_url) {
        assert_string_equal(bk_store_kind(fx->s), "sqlite");
        /* a new empty database: version 0, check_schema refuses */
        char *p = bk_t_path(fx->dir, "empty.db");
        bk_store *e = open_or_die(p);
        OK(bk_store_schema_version(e, &v3, ERR));
        assert_int_equal(v3, 0);
        assert_int_equal(bk_store_check_schema(e, &err), BK_ESCHEMA);
        bk_store_close(e);
        free(p);
    }
}

/* ---- job definitions ---- */

static bk_def mk_def(const char *sym, bk_tf tf, int window, int prio)
{
    bk_def d;
    memset(&d, 0, sizeof d);
    bk_strlcpy(d.symbol, sym, sizeof d.symbol);
    d.tf = tf;
    d.type = bk_job_for_tf(tf);
    d.window_days = window;
    d.priority = prio;
    d.enabled = true;
    return d;
}

static void t_def_put(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    bk_def d = mk_def("aapl", BK_TF_1H, 5, 190);
    bool created = false;
    OK(bk_store_def_put(s, &d, BK_PUT_SET, &created, T0, ERR));
    assert_true(created);
    assert_string_equal(d.symbol, "AAPL");
    assert_int_equal(strlen(d.id), 36);
    assert_true(d.enabled);
    assert_int_equal(d.created_us, T0);
    char id[BK_ID_MAX];
    memcpy(id, d.id, sizeof id);

    /* RAISE never lowers */
    bk_def r = mk_def("AAPL", BK_TF_1H, 3, 100);
    OK(bk_store_def_put(s, &r, BK_PUT_RAISE, &created, T0 + S, ERR));
    assert_false(created);
    assert_string_equal(r.id, id);
    assert_int_equal(r.window_days, 5);
    assert_int_equal(r.priority, 190);
    r = mk_def("AAPL", BK_TF_1H, 30, 100);
    OK(bk_store_def_put(s, &r, BK_PUT_RAISE, &created, T0 + S, ERR));
    assert_int_equal(r.window_days, 30);
    assert_int_equal(r.priority, 190);

    /* SET sets (lower too) and re-enables */
    OK(bk_store_def_set_enabled(s, "AAPL", BK_TF_1H, BK_JOB_INTRADAY, false, T0 + 2 * S, ERR));
    bk_def g;
    OK(bk_store_def_get(s, "AAPL", BK_TF_1H, BK_JOB_INTRADAY, &g, ERR));
    assert_false(g.enabled);
    bk_def d2 = mk_def("AAPL", BK_TF_1H, 2, 50);
    OK(bk_store_def_put(s, &d2, BK_PUT_SET, &created, T0 + 3 * S, ERR));
    assert_false(created);
    assert_string_equal(d2.id, id);
    assert_int_equal(d2.window_days, 2);
    assert_int_equal(d2.priority, 50);
    assert_true(d2.enabled);
    assert_int_equal(d2.created_us, T0);
    assert_int_equal(d2.updated_us, T0 + 3 * S);

    bk_err err = {0};
    assert_int_equal(bk_store_def_get(s, "MSFT", BK_TF_1H, BK_JOB_INTRADAY, &g, &err), BK_ENOENT);
    assert_int_equal(bk_store_def_set_enabled(s, "MSFT", BK_TF_1H, BK_JOB_INTRADAY, true, T0, &err),
                     BK_ENOENT);
    bk_def bad = mk_def("AAPL", BK_TF_1H, 0, 1);
    assert_int_equal(bk_store_def_put(s, &bad, BK_PUT_SET, NULL, T0, &err), BK_EINVAL);
    bad = mk_def("no spaces", BK_TF_1H, 5, 1);
    assert_int_equal(bk_store_def_put(s, &bad, BK_PUT_SET, NULL, T0, &err), BK_EINVAL);
}

static void t_def_list(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    bk_def in[] = {
        mk_def("NVDA", BK_TF_D1, 365, 100), mk_def("AAPL", BK_TF_15M, 5, 200),
        mk_def("AAPL", BK_TF_5M, 5, 200),   mk_def("TSLA", BK_TF_1H, 5, 190),
        mk_def("AAPL", BK_TF_D1, 365, 100),
    };
    for (size_t i = 0; i < BK_ARRAY_LEN(in); i++)
        OK(bk_store_def_put(s, &in[i], BK_PUT_SET, NULL, T0, ERR));
    OK(bk_store_def_set_enabled(s, "TSLA", BK_TF_1H, BK_JOB_INTRADAY, false, T0, ERR));

    bk_def *v;
    size_t n;
    OK(bk_store_def_list(s, false, &v, &n, ERR));
    assert_int_equal(n, 5);
    /* priority desc, then symbol, then timeframe in timeframe order (5m before 15m) */
    const char *want[] = {"AAPL 5m", "AAPL 15m", "TSLA 1h", "AAPL d1", "NVDA d1"};
    for (size_t i = 0; i < n; i++) {
        char got[64];
        snprintf(got, sizeof got, "%s %s", v[i].symbol, bk_tf_name(v[i].tf));
        assert_string_equal(got, want[i]);
    }
    free(v);
    OK(bk_store_def_list(s, true, &v, &n, ERR));
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++)
        assert_string_not_equal(v[i].symbol, "TSLA");
    free(v);
}

static void t_def_remove(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    bk_def d = mk_def("AAPL", BK_TF_1H, 5, 100);
    OK(bk_store_def_put(s, &d, BK_PUT_SET, NULL, T0, ERR));
    bk_run a = mk_run("AAPL", BK_TF_1H, T0, T0 + H, 0);
    bk_run b = mk_run("AAPL", BK_TF_1H, T0 + H, T0 + 2 * H, 0);
    bk_strlcpy(a.def_id, d.id, sizeof a.def_id);
    bk_strlcpy(b.def_id, d.id, sizeof b.def_id);
    assert_true(enqueue1(s, &a, T0));
    assert_true(enqueue1(s, &b, T0));
    bk_run c;
    OK(bk_store_run_claim_id(s, b.id, "w1", T0, 60 * S, &c, ERR));
    assert_string_equal(c.def_id, d.id);

    OK(bk_store_def_remove(s, "AAPL", BK_TF_1H, BK_JOB_INTRADAY, T0 + S, ERR));
    bk_err err = {0};
    bk_def g;
    assert_int_equal(bk_store_def_get(s, "AAPL", BK_TF_1H, BK_JOB_INTRADAY, &g, &err), BK_ENOENT);
    assert_int_equal(bk_store_def_remove(s, "AAPL", BK_TF_1H, BK_JOB_INTRADAY, T0, &err),
                     BK_ENOENT);
    bk_run ra = get_run(s, a.id), rb = get_run(s, b.id);
    assert_int_equal(ra.status, BK_ST_CANCELLED);
    assert_int_equal(ra.finished_us, T0 + S);
    assert_string_equal(ra.def_id, "");
    assert_int_equal(rb.status, BK_ST_RUNNING); /* the worker finishes it */
    assert_string_equal(rb.def_id, "");
}

/* ---- enqueue, claim ---- */

static void t_enqueue_dedup(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    bk_run v[3] = {mk_run("AAPL", BK_TF_1H, T0, T0 + H, 5),
                   mk_run("AAPL", BK_TF_1H, T0 + H, T0 + 2 * H, 5),
                   mk_run("AAPL", BK_TF_1H, T0, T0 + H, 5)};
    size_t k = 0;
    OK(bk_store_runs_enqueue(s, v, 3, &k, T0, ERR));
    assert_int_equal(k, 2);
    assert_int_equal(strlen(v[0].id), 36);
    assert_string_equal(v[2].id, ""); /* skipped */
    assert_int_equal(v[0].status, BK_ST_QUEUED);
    assert_int_equal(v[0].attempt, 1);
    assert_int_equal(v[0].created_us, T0);

    bk_run again[2] = {mk_run("AAPL", BK_TF_1H, T0, T0 + H, 9),
                       mk_run("AAPL", BK_TF_5M, T0, T0 + H, 9)}; /* other tf: allowed */
    OK(bk_store_runs_enqueue(s, again, 2, &k, T0 + S, ERR));
    assert_int_equal(k, 1);

    /* still skipped while running; allowed again after success */
    bk_run c;
    OK(bk_store_run_claim_id(s, v[0].id, "w", T0, 60 * S, &c, ERR));
    bk_run dup = mk_run("AAPL", BK_TF_1H, T0, T0 + H, 0);
    assert_false(enqueue1(s, &dup, T0 + S));
    bk_commit cm = mk_commit(&c, "w", NULL, 0, T0 + 2 * S);
    OK(bk_store_run_commit(s, &cm, ERR));
    dup = mk_run("AAPL", BK_TF_1H, T0, T0 + H, 0);
    assert_true(enqueue1(s, &dup, T0 + 3 * S));

    bk_err err = {0};
    bk_run bad = mk_run("AAPL", BK_TF_1H, T0 + H, T0, 0);
    assert_int_equal(bk_store_runs_enqueue(s, &bad, 1, &k, T0, &err), BK_EINVAL);
}

static void t_claim_order(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    bk_err err = {0};
    bk_run c;
    assert_int_equal(bk_store_run_claim(s, "w", T0, 60 * S, &c, &err), BK_ENOENT);

    bk_run old_low = mk_run("A", BK_TF_1H, T0, T0 + H, 1);
    bk_run new_high = mk_run("B", BK_TF_1H, T0, T0 + H, 7);
    bk_run old_high = mk_run("C", BK_TF_1H, T0, T0 + H, 7);
    bk_run later = mk_run("D", BK_TF_1H, T0, T0 + H, 100);
    later.not_before_us = T0 + 100 * S;
    assert_true(enqueue1(s, &old_low, T0));
    assert_true(enqueue1(s, &old_high, T0 + 1));
    assert_true(enqueue1(s, &new_high, T0 + 2));
    assert_true(enqueue1(s, &later, T0 + 3));

    claim_ok(s, "w", T0 + 10 * S, &c);
    assert_string_equal(c.symbol, "C");
    assert_int_equal(c.status, BK_ST_RUNNING);
    assert_string_equal(c.lease_owner, "w");
    assert_int_equal(c.started_us, T0 + 10 * S);
    assert_int_equal(c.lease_until_us, T0 + 70 * S);
    claim_ok(s, "w", T0 + 10 * S, &c);
    assert_string_equal(c.symbol, "B");
    claim_ok(s, "w", T0 + 10 * S, &c);
    assert_string_equal(c.symbol, "A");
    assert_int_equal(bk_store_run_claim(s, "w", T0 + 99 * S, 60 * S, &c, &err), BK_ENOENT);
    claim_ok(s, "w", T0 + 100 * S, &c);
    assert_string_equal(c.symbol, "D");
    assert_int_equal(bk_store_run_claim(s, "w", T0 + 200 * S, 60 * S, &c, &err), BK_ENOENT);

    /* claim_id */
    assert_int_equal(bk_store_run_claim_id(s, "nope", "w", T0, 60 * S, &c, &err), BK_ENOENT);
    assert_int_equal(bk_store_run_claim_id(s, old_low.id, "w", T0, 60 * S, &c, &err), BK_EBUSY);
}

static void t_heartbeat(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    bk_run r = mk_run("AAPL", BK_TF_1H, T0, T0 + H, 0), c;
    assert_true(enqueue1(s, &r, T0));
    claim_ok(s, "w1", T0, &c);
    OK(bk_store_run_heartbeat(s, c.id, "w1", 40.0, T0 + 10 * S, T0 + 100 * S, ERR));
    bk_run g = get_run(s, c.id);
    assert_true(g.progress_percent > 39.9 && g.progress_percent < 40.1);
    assert_int_equal(g.lease_until_us, T0 + 100 * S);
    OK(bk_store_run_heartbeat(s, c.id, "w1", -1, T0 + 20 * S, T0 + 110 * S, ERR));
    g = get_run(s, c.id);
    assert_true(g.progress_percent > 39.9 && g.progress_percent < 40.1);

    bk_err err = {0};
    assert_int_equal(bk_store_run_heartbeat(s, c.id, "w2", 50, T0, T0 + H, &err), BK_ELEASE);
    /* the lease expires and the run is requeued: w1 has lost it */
    size_t n = 0;
    OK(bk_store_runs_requeue_expired(s, T0 + 111 * S, 10, NULL, 0, &n, ERR));
    assert_int_equal(n, 1);
    assert_int_equal(bk_store_run_heartbeat(s, c.id, "w1", 50, T0, T0 + H, &err), BK_ELEASE);
    assert_int_equal(err.code, BK_ELEASE);
}

/* ---- commit ---- */

static void t_commit(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    bk_run r = mk_run("AAPL", BK_TF_1H, T0, T0 + 3 * H, 0), c;
    assert_true(enqueue1(s, &r, T0));
    claim_ok(s, "w", T0 + S, &c);
    bk_bar bars[3] = {mk_bar(T0, 10), mk_bar(T0 + H, 11), mk_bar(T0 + 2 * H, 12)};
    bk_commit cm = mk_commit(&c, "w", bars, 3, T0 + 2 * S);
    cm.covered_ext = (bk_iv){T0 - H, T0 + 3 * H}; /* widened over closed time */
    OK(bk_store_run_commit(s, &cm, ERR));

    assert_int_equal(bars_count(s, "AAPL", BK_TF_1H), 3);
    bk_run g = get_run(s, c.id);
    assert_int_equal(g.status, BK_ST_SUCCESS);
    assert_int_equal(g.rows_written, 3);
    assert_string_equal(g.provider, "sim");
    assert_true(g.progress_percent > 99.9);
    assert_int_equal(g.finished_us, T0 + 2 * S);
    assert_string_equal(g.lease_owner, "");
    assert_int_equal(g.lease_until_us, 0);

    bk_coverage *cov;
    size_t n;
    OK(bk_store_coverage_list(s, "AAPL", BK_TF_1H, &cov, &n, ERR));
    assert_int_equal(n, 1);
    assert_int_equal(cov[0].from_us, T0); /* the summary uses covered, not the extension */
    assert_int_equal(cov[0].to_us, T0 + 3 * H);
    assert_int_equal(cov[0].last_success_us, T0 + 2 * S);
    assert_int_equal(cov[0].last_rows_written, 3);
    assert_string_equal(cov[0].last_provider, "sim");
    assert_int_equal(cov[0].n_intervals, 1);
    assert_int_equal(cov[0].covered_us, 4 * H);
    free(cov);

    /* a disjoint slice: two intervals; then the one that touches both: one */
    fill_slice(s, "AAPL", BK_TF_1H, T0 + 5 * H, T0 + 6 * H, T0 + 10 * S);
    bk_series x;
    expect_series(s, "AAPL", BK_TF_1H, &x);
    assert_int_equal(x.covered.n, 2);
    series_fini(&x);
    fill_slice(s, "AAPL", BK_TF_1H, T0 + 3 * H, T0 + 5 * H, T0 + 20 * S);
    expect_series(s, "AAPL", BK_TF_1H, &x);
    assert_int_equal(x.covered.n, 1);
    assert_int_equal(x.covered.v[0].from_us, T0 - H);
    assert_int_equal(x.covered.v[0].to_us, T0 + 6 * H);
    assert_int_equal(x.active.n, 0);
    series_fini(&x);
    /* an overlapping one inside changes nothing but the summary's last_* */
    fill_slice(s, "AAPL", BK_TF_1H, T0 + H, T0 + 2 * H, T0 + 30 * S);
    OK(bk_store_coverage_list(s, NULL, -1, &cov, &n, ERR));
    assert_int_equal(n, 1);
    assert_int_equal(cov[0].from_us, T0);
    assert_int_equal(cov[0].to_us, T0 + 6 * H);
    assert_int_equal(cov[0].n_intervals, 1);
    assert_int_equal(cov[0].covered_us, 7 * H);
    assert_int_equal(cov[0].last_rows_written, 1);
    assert_int_equal(cov[0].last_success_us, T0 + 30 * S);
    free(cov);
}

static void t_commit_empty_covered(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    bk_run r = mk_run("AAPL", BK_TF_5M, T0, T0 + H, 0), c;
    assert_true(enqueue1(s, &r, T0));
    claim_ok(s, "w", T0, &c);
    bk_bar b = mk_bar(T0, 1);
    bk_commit cm = mk_commit(&c, "w", &b, 1, T0 + S);
    cm.covered = cm.covered_ext = (bk_iv){T0 + H, T0 + H};
    OK(bk_store_run_commit(s, &cm, ERR));
    assert_int_equal(bars_count(s, "AAPL", BK_TF_5M), 1);
    assert_int_equal(get_run(s, c.id).status, BK_ST_SUCCESS);
    bk_coverage *cov;
    size_t n;
    OK(bk_store_coverage_list(s, NULL, -1, &cov, &n, ERR));
    assert_int_equal(n, 0);
    free(cov);
}

static void t_commit_lease_lost(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    bk_run r = mk_run("AAPL", BK_TF_1H, T0, T0 + H, 0), c1, c2;
    assert_true(enqueue1(s, &r, T0));
    claim_ok(s, "w1", T0, &c1);
    size_t n;
    OK(bk_store_runs_requeue_expired(s, T0 + 61 * S, 10, NULL, 0, &n, ERR));
    assert_int_equal(n, 1);
    claim_ok(s, "w2", T0 + 62 * S, &c2);
    assert_string_equal(c1.id, c2.id);
    assert_int_equal(c2.attempt, 1); /* a lost lease spends no attempt */
    assert_int_equal(c2.lease_expiries, 1);

    bk_bar b = mk_bar(T0, 5);
    bk_commit cm = mk_commit(&c1, "w1", &b, 1, T0 + 63 * S);
    bk_err err = {0};
    assert_int_equal(bk_store_run_commit(s, &cm, &err), BK_ELEASE);
    assert_int_equal(bars_count(s, NULL, -1), 0);
    bk_coverage *cov;
    OK(bk_store_coverage_list(s, NULL, -1, &cov, &n, ERR));
    assert_int_equal(n, 0);
    free(cov);
    bk_run g = get_run(s, c1.id);
    assert_int_equal(g.status, BK_ST_RUNNING);
    assert_string_equal(g.lease_owner, "w2");
    /* w2 still commits */
    cm = mk_commit(&c2, "w2", &b, 1, T0 + 64 * S);
    OK(bk_store_run_commit(s, &cm, ERR));
    assert_int_equal(bars_count(s, "AAPL", BK_TF_1H), 1);
    /* and a commit for the wrong series is refused, writing nothing */
    bk_run r2 = mk_run("MSFT", BK_TF_1H, T0, T0 + H, 0), c3;
    assert_true(enqueue1(s, &r2, T0));
    claim_ok(s, "w", T0, &c3);
    cm = mk_commit(&c3, "w", &b, 1, T0);
    cm.symbol = "AAPL";
    assert_int_equal(bk_store_run_commit(s, &cm, &err), BK_EINVAL);
    assert_int_equal(get_run(s, c3.id).status, BK_ST_RUNNING);
}

/* ---- failures, expiry, dead letters ---- */

static bk_failure mk_failure(const bk_run *r, const char *owner, int64_t now, int64_t retry_at)
{
    bk_failure f = {.run_id = r->id,
                    .owner = owner,
                    .error_code = "PROVIDER_5XX",
                    .error_message = "HTTP 503",
                    .provider = "massive",
                    .now_us = now,
                    .retry_at_us = retry_at};
    return f;
}

static void t_fail(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    bk_run r = mk_run("AAPL", BK_TF_1H, T0, T0 + H, 0), c;
    assert_true(enqueue1(s, &r, T0));
    claim_ok(s, "w", T0, &c);
    bk_failure f = mk_failure(&c, "w", T0 + S, T0 + 30 * S);
    OK(bk_store_run_fail(s, &f, ERR));
    bk_run g = get_run(s, c.id);
    assert_int_equal(g.status, BK_ST_QUEUED);
    assert_int_equal(g.attempt, 2);
    assert_int_equal(g.not_before_us, T0 + 30 * S);
    assert_string_equal(g.error_code, "PROVIDER_5XX");
    assert_string_equal(g.error_message, "HTTP 503");
    assert_string_equal(g.lease_owner, "");

    bk_err err = {0};
    assert_int_equal(bk_store_run_claim(s, "w", T0 + 29 * S, 60 * S, &c, &err), BK_ENOENT);
    claim_ok(s, "w", T0 + 30 * S, &c);
    f = mk_failure(&c, "w", T0 + 31 * S, 0);
    f.error_code = "PROVIDER_AUTH";
    OK(bk_store_run_fail(s, &f, ERR));
    g = get_run(s, c.id);
    assert_int_equal(g.status, BK_ST_FAILED);
    assert_int_equal(g.attempt, 2);
    assert_int_equal(g.finished_us, T0 + 31 * S);
    assert_string_equal(g.error_code, "PROVIDER_AUTH");
    assert_int_equal(bk_store_run_fail(s, &f, &err), BK_ELEASE);

    /* release: back to queued, same attempt */
    bk_run r2 = mk_run("AAPL", BK_TF_1H, T0 + H, T0 + 2 * H, 0);
    assert_true(enqueue1(s, &r2, T0));
    claim_ok(s, "w", T0, &c);
    OK(bk_store_run_release(s, c.id, "w", T0 + S, ERR));
    g = get_run(s, c.id);
    assert_int_equal(g.status, BK_ST_QUEUED);
    assert_int_equal(g.attempt, 1);
    assert_int_equal(bk_store_run_release(s, c.id, "w", T0 + S, &err), BK_ELEASE);
}

/* A deferred run (no provider was asked: every breaker open) goes back to
 * the queue until retry_at with the same attempt, however often. */
static void t_fail_keep_attempt(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    bk_run r = mk_run("AAPL", BK_TF_1H, T0, T0 + H, 0), c;
    r.max_attempts = 2;
    assert_true(enqueue1(s, &r, T0));
    bk_err err = {0};
    for (int i = 0; i < 3; i++) {
        int64_t at = T0 + i * 60 * S;
        claim_ok(s, "w", at, &c);
        bk_failure f = mk_failure(&c, "w", at + S, at + 30 * S);
        f.error_code = "PROVIDER_UNAVAILABLE";
        f.keep_attempt = true;
        OK(bk_store_run_fail(s, &f, ERR));
        bk_run g = get_run(s, c.id);
        assert_int_equal(g.status, BK_ST_QUEUED);
        assert_int_equal(g.attempt, 1);
        assert_int_equal(g.not_before_us, at + 30 * S);
        assert_string_equal(g.error_code, "PROVIDER_UNAVAILABLE");
        assert_string_equal(g.lease_owner, "");
        assert_int_equal(bk_store_run_claim(s, "w", at + 29 * S, 60 * S, &c, &err), BK_ENOENT);
        assert_int_equal(bk_store_run_fail(s, &f, &err), BK_ELEASE);
    }
    /* a failure that asked a provider still counts */
    claim_ok(s, "w", T0 + 600 * S, &c);
    bk_failure f = mk_failure(&c, "w", T0 + 601 * S, T0 + 630 * S);
    OK(bk_store_run_fail(s, &f, ERR));
    assert_int_equal(get_run(s, c.id).attempt, 2);
}

/* Issue 13.3: a lease that expires (its owner died or stalled) spends no
 * attempt; lease_expiries counts it, and only reaching max_lease_expiries
 * dead-letters the run. */
static void t_requeue_expired(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    bk_run r = mk_run("AAPL", BK_TF_1H, T0, T0 + H, 0),
           other = mk_run("MSFT", BK_TF_1H, T0, T0 + H, 0);
    r.max_attempts = 2;
    bk_run c, co;
    assert_true(enqueue1(s, &r, T0));
    claim_ok(s, "w", T0, &c);
    assert_true(enqueue1(s, &other, T0));
    OK(bk_store_run_claim(s, "w", T0 + 30 * S, 6000 * S, &co, ERR)); /* long lease */

    size_t n = 0;
    OK(bk_store_runs_requeue_expired(s, T0 + 60 * S, 3, NULL, 0, &n, ERR)); /* strictly after */
    assert_int_equal(n, 0);
    /* an owner that claims and never heartbeats, three times: a cap of 3 */
    int64_t t = T0 + 61 * S;
    for (int k = 1; k <= 3; k++) {
        OK(bk_store_runs_requeue_expired(s, t, 3, NULL, 0, &n, ERR));
        assert_int_equal(n, 1);
        bk_run g = get_run(s, c.id);
        assert_int_equal(g.attempt, 1); /* no provider failed: no attempt spent */
        assert_int_equal(g.lease_expiries, k);
        assert_string_equal(g.error_code, "LEASE_EXPIRED");
        if (k < 3) {
            assert_int_equal(g.status, BK_ST_QUEUED);
            assert_string_equal(g.triggered_by, "lease_expired");
            claim_ok(s, "ghost", t + S, &c);
            assert_int_equal(c.attempt, 1);
            t += 100 * S;
        } else {
            assert_int_equal(g.status, BK_ST_FAILED); /* only past the cap */
            assert_int_equal(g.finished_us, t);
        }
    }
    assert_int_equal(get_run(s, co.id).status, BK_ST_RUNNING);
    /* a provider failure still spends an attempt, and retry-failed resets
     * the lease count with the attempts */
    OK(bk_store_runs_retry_failed(s, t + S, 2, &n, ERR));
    assert_int_equal(n, 1);
    bk_run g = get_run(s, c.id);
    assert_int_equal(g.lease_expiries, 0);
    assert_int_equal(g.attempt, 2);
}

/* Issue 13.5: the runs of an owner known to be dead are requeued at once,
 * however far their lease reaches (a clock stepped back), without spending
 * an attempt; other owners' runs stay. */
static void t_requeue_dead_owner(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    bk_run a = mk_run("AAPL", BK_TF_1H, T0, T0 + H, 0), b = mk_run("MSFT", BK_TF_1H, T0, T0 + H, 0);
    bk_run ca, cb;
    assert_true(enqueue1(s, &a, T0));
    assert_true(enqueue1(s, &b, T0 + 1));
    OK(bk_store_run_claim(s, "gone:1:w0", T0 + H, 60 * S, &ca, ERR)); /* an hour ahead */
    OK(bk_store_run_claim(s, "alive:2:w0", T0 + H, 60 * S, &cb, ERR));
    size_t n = 0;
    const char *dead[] = {"gone:1:w0"};
    OK(bk_store_runs_requeue_expired(s, T0, 10, dead, 1, &n, ERR));
    assert_int_equal(n, 1);
    bk_run g = get_run(s, ca.id);
    assert_int_equal(g.status, BK_ST_QUEUED);
    assert_int_equal(g.attempt, 1);
    assert_int_equal(g.lease_expiries, 1);
    assert_string_equal(g.lease_owner, "");
    assert_string_equal(g.triggered_by, "lease_expired");
    assert_int_equal(get_run(s, cb.id).status, BK_ST_RUNNING);
    /* claimable at once by this process */
    claim_ok(s, "here:3:w0", T0 + S, &ca);
    assert_string_equal(ca.id, a.id);
}

/* Issue 13.3: a dead-lettered run is re-planned once its cool-down since it
 * finished has passed, never before, and the cool-down doubles per re-plan
 * of the same run up to the cap. Only runs of an enabled definition. */
static void t_revive_dead(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    bk_def d = mk_def("AAPL", BK_TF_1H, 5, 100), off = mk_def("MSFT", BK_TF_1H, 5, 100);
    OK(bk_store_def_put(s, &d, BK_PUT_SET, NULL, T0, ERR));
    OK(bk_store_def_put(s, &off, BK_PUT_SET, NULL, T0, ERR));
    OK(bk_store_def_set_enabled(s, "MSFT", BK_TF_1H, off.type, false, T0, ERR));
    bk_run r = mk_run("AAPL", BK_TF_1H, T0, T0 + H, 0), o = mk_run("MSFT", BK_TF_1H, T0, T0 + H, 0),
           orphan = mk_run("AAPL", BK_TF_1H, T0 + H, T0 + 2 * H, 0), c;
    bk_strlcpy(r.def_id, d.id, sizeof r.def_id);
    bk_strlcpy(o.def_id, off.id, sizeof o.def_id);
    assert_true(enqueue1(s, &r, T0));
    assert_true(enqueue1(s, &o, T0 + 1));
    assert_true(enqueue1(s, &orphan, T0 + 2)); /* no definition (removed) */
    int64_t fin = T0 + 10 * S;
    for (int i = 0; i < 3; i++) {
        claim_ok(s, "w", T0 + S, &c);
        bk_failure f = mk_failure(&c, "w", fin, 0);
        OK(bk_store_run_fail(s, &f, ERR));
    }
    size_t n = 99;
    OK(bk_store_runs_revive_dead(s, fin + 3600 * S, 0, 0, 5, &n, ERR)); /* 0: disabled */
    assert_int_equal(n, 0);
    /* base 600 s, cap 2400 s: cool-downs 600, 1200, 2400, 2400 */
    const int64_t cool[] = {600, 1200, 2400, 2400};
    for (int k = 0; k < 4; k++) {
        OK(bk_store_runs_revive_dead(s, fin + (cool[k] - 1) * S, 600 * S, 2400 * S, 5, &n, ERR));
        assert_int_equal(n, 0); /* not before */
        OK(bk_store_runs_revive_dead(s, fin + cool[k] * S, 600 * S, 2400 * S, 5, &n, ERR));
        assert_int_equal(n, 1);
        bk_run g = get_run(s, r.id);
        assert_int_equal(g.status, BK_ST_QUEUED);
        assert_int_equal(g.dead_retries, k + 1);
        assert_int_equal(g.attempt, 2 + k);
        assert_int_equal(g.max_attempts, 1 + k + 5); /* 5 attempts from this one */
        assert_string_equal(g.triggered_by, "dead_retry");
        assert_int_equal(g.slice_from_us, T0); /* the same slice */
        assert_int_equal(g.finished_us, 0);
        /* it dies again */
        fin += cool[k] * S + 10 * S;
        OK(bk_store_run_claim_id(s, r.id, "w", fin - S, 60 * S, &c, ERR));
        bk_failure f = mk_failure(&c, "w", fin, 0);
        OK(bk_store_run_fail(s, &f, ERR));
    }
    assert_int_equal(get_run(s, o.id).status, BK_ST_FAILED);      /* disabled definition */
    assert_int_equal(get_run(s, orphan.id).status, BK_ST_FAILED); /* no definition */
    /* a dead run whose slice is active again is left alone */
    bk_run again = mk_run("AAPL", BK_TF_1H, T0, T0 + H, 0);
    assert_true(enqueue1(s, &again, fin));
    OK(bk_store_runs_revive_dead(s, fin + 86400 * S, 600 * S, 2400 * S, 5, &n, ERR));
    assert_int_equal(n, 0);
    assert_int_equal(get_run(s, r.id).status, BK_ST_FAILED);
}

static void t_retry_failed(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    bk_run a = mk_run("AAPL", BK_TF_1H, T0, T0 + H, 0),
           b = mk_run("AAPL", BK_TF_1H, T0 + H, T0 + 2 * H, 0);
    bk_run c;
    assert_true(enqueue1(s, &a, T0));
    assert_true(enqueue1(s, &b, T0 + 1));
    for (int i = 0; i < 2; i++) {
        claim_ok(s, "w", T0, &c);
        bk_failure f = mk_failure(&c, "w", T0 + S, 0);
        OK(bk_store_run_fail(s, &f, ERR));
    }
    /* b's slice is active again: retry skips it */
    bk_run b2 = mk_run("AAPL", BK_TF_1H, T0 + H, T0 + 2 * H, 0);
    assert_true(enqueue1(s, &b2, T0 + 2 * S));

    size_t n = 0;
    OK(bk_store_runs_retry_failed(s, T0 + 10 * S, 2, &n, ERR));
    assert_int_equal(n, 1);
    bk_run g = get_run(s, a.id);
    assert_int_equal(g.status, BK_ST_QUEUED);
    assert_int_equal(g.attempt, 2);
    assert_int_equal(g.max_attempts, 3);
    assert_string_equal(g.triggered_by, "retry_failed");
    assert_string_equal(g.error_code, "PROVIDER_5XX"); /* kept until the next outcome */
    assert_int_equal(g.finished_us, 0);
    assert_int_equal(get_run(s, b.id).status, BK_ST_FAILED);
    OK(bk_store_runs_retry_failed(s, T0 + 11 * S, 1, &n, ERR));
    assert_int_equal(n, 0);
}

/* ---- reading runs ---- */

static void t_runs_list(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    const char *syms[] = {"AAPL", "MSFT", "AAPL", "AAPL"};
    bk_tf tfs[] = {BK_TF_1H, BK_TF_1H, BK_TF_15M, BK_TF_1H};
    bk_run r[4];
    for (int i = 0; i < 4; i++) {
        r[i] = mk_run(syms[i], tfs[i], T0 + i * H, T0 + (i + 1) * H, 0);
        assert_true(enqueue1(s, &r[i], T0 + i * S));
    }
    bk_run c;
    OK(bk_store_run_claim_id(s, r[3].id, "w", T0, 60 * S, &c, ERR));

    bk_run *v;
    size_t n;
    OK(bk_store_runs_list(s, NULL, &v, &n, ERR));
    assert_int_equal(n, 4);
    assert_string_equal(v[0].id, r[3].id); /* newest first */
    assert_string_equal(v[3].id, r[0].id);
    free(v);
    bk_run_filter f = {.status = -1, .symbol = "AAPL", .tf = BK_TF_1H};
    OK(bk_store_runs_list(s, &f, &v, &n, ERR));
    assert_int_equal(n, 2);
    free(v);
    f = (bk_run_filter){.status = BK_ST_QUEUED, .symbol = "AAPL", .tf = -1, .limit = 1};
    OK(bk_store_runs_list(s, &f, &v, &n, ERR));
    assert_int_equal(n, 1);
    assert_string_equal(v[0].id, r[2].id);
    free(v);
    f = (bk_run_filter){.status = -1, .tf = -1, .since_us = T0 + 2 * S};
    OK(bk_store_runs_list(s, &f, &v, &n, ERR));
    assert_int_equal(n, 2);
    free(v);

    int64_t counts[BK_ST__N];
    OK(bk_store_runs_count(s, NULL, counts, ERR));
    assert_int_equal(counts[BK_ST_QUEUED], 3);
    assert_int_equal(counts[BK_ST_RUNNING], 1);
    assert_int_equal(counts[BK_ST_SUCCESS], 0);
    f = (bk_run_filter){.status = -1, .symbol = "AAPL", .tf = BK_TF_1H, .limit = 1};
    OK(bk_store_runs_count(s, &f, counts, ERR));
    assert_int_equal(counts[BK_ST_QUEUED], 1);
    assert_int_equal(counts[BK_ST_RUNNING], 1);

    bk_err err = {0};
    assert_int_equal(bk_store_run_get(s, "no-such-run", &c, &err), BK_ENOENT);
}

static void t_next_event(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    int64_t t = -1;
    OK(bk_store_runs_next_event(s, &t, ERR));
    assert_int_equal(t, 0);
    bk_run a = mk_run("AAPL", BK_TF_1H, T0, T0 + H, 0),
           b = mk_run("AAPL", BK_TF_1H, T0 + H, T0 + 2 * H, 0);
    a.not_before_us = T0 + 500 * S;
    assert_true(enqueue1(s, &a, T0));
    OK(bk_store_runs_next_event(s, &t, ERR));
    assert_int_equal(t, T0 + 500 * S);
    assert_true(enqueue1(s, &b, T0));
    OK(bk_store_runs_next_event(s, &t, ERR));
    assert_int_equal(t, T0); /* b is claimable already */
    bk_run c;
    OK(bk_store_run_claim_id(s, b.id, "w", T0, 60 * S, &c, ERR));
    OK(bk_store_runs_next_event(s, &t, ERR));
    assert_int_equal(t, T0 + 60 * S); /* b's lease */
}

/* ---- planning state ---- */

static void t_series_load(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    fill_slice(s, "MSFT", BK_TF_1H, T0, T0 + H, T0);
    bk_run act = mk_run("AAPL", BK_TF_5M, T0, T0 + H, 0);
    bk_run act2 = mk_run("AAPL", BK_TF_5M, T0 + H, T0 + 2 * H, 0);
    bk_run dead = mk_run("MSFT", BK_TF_1H, T0 + 2 * H, T0 + 3 * H, 0);
    assert_true(enqueue1(s, &act, T0));
    assert_true(enqueue1(s, &act2, T0));
    assert_true(enqueue1(s, &dead, T0));
    bk_run c;
    OK(bk_store_run_claim_id(s, dead.id, "w", T0, 60 * S, &c, ERR));
    bk_failure f = mk_failure(&c, "w", T0, 0);
    OK(bk_store_run_fail(s, &f, ERR));
    OK(bk_store_run_claim_id(s, act2.id, "w", T0, 60 * S, &c, ERR)); /* running is active too */

    bk_series *v;
    size_t n;
    OK(bk_store_series_load(s, NULL, -1, &v, &n, ERR));
    assert_int_equal(n, 2);
    assert_string_equal(v[0].symbol, "AAPL");
    assert_int_equal(v[0].tf, BK_TF_5M);
    assert_int_equal(v[0].covered.n, 0);
    assert_int_equal(v[0].active.n, 1); /* two touching slices, one interval */
    assert_int_equal(v[0].active.v[0].from_us, T0);
    assert_int_equal(v[0].active.v[0].to_us, T0 + 2 * H);
    assert_string_equal(v[1].symbol, "MSFT");
    assert_int_equal(v[1].covered.n, 1);
    assert_int_equal(v[1].dead.n, 1);
    assert_int_equal(v[1].dead.v[0].from_us, T0 + 2 * H);
    assert_int_equal(v[1].active.n, 0);
    bk_series_free(v, n);

    OK(bk_store_series_load(s, "MSFT", BK_TF_1H, &v, &n, ERR));
    assert_int_equal(n, 1);
    assert_int_equal(v[0].covered.v[0].to_us, T0 + H);
    bk_series_free(v, n);
    OK(bk_store_series_load(s, "MSFT", BK_TF_D1, &v, &n, ERR));
    assert_int_equal(n, 0);
    bk_series_free(v, n);
}

static void t_series_load_many(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    enum { N = 2000 };
    bk_run *runs = calloc(N, sizeof *runs);
    for (int i = 0; i < N; i++) {
        char sym[16];
        snprintf(sym, sizeof sym, "S%04d", i / 2);
        runs[i] = mk_run(sym, i % 2 ? BK_TF_1H : BK_TF_D1, T0, T0 + H, 0);
    }
    size_t k;
    OK(bk_store_runs_enqueue(s, runs, N, &k, T0, ERR));
    assert_int_equal(k, N);
    bk_series *v;
    size_t n;
    int64_t t = bk_clock_mono_us();
    OK(bk_store_series_load(s, NULL, -1, &v, &n, ERR));
    t = bk_clock_mono_us() - t;
    assert_int_equal(n, N);
    for (size_t i = 1; i < n; i++) {
        int c = strcmp(v[i - 1].symbol, v[i].symbol);
        assert_true(c < 0 || (c == 0 && v[i - 1].tf < v[i].tf));
        assert_int_equal(v[i].active.n, 1);
    }
    assert_true(t < 2 * S);
    bk_series_free(v, n);
    free(runs);
}

/* Commits every run in runs[0..n) (claimed by "w") through another
 * connection, once, when the planner's connection is between its reads. */
typedef struct commit_between {
    bk_store *other;
    bk_run *runs;
    size_t n;
    int64_t now;
    int fired, failed;
} commit_between;

static void commit_between_reads(void *ctx)
{
    commit_between *cb = ctx;
    if (cb->fired++)
        return;
    for (size_t i = 0; i < cb->n; i++) {
        bk_bar b = mk_bar(cb->runs[i].slice_from_us, 100);
        bk_commit c = mk_commit(&cb->runs[i], "w", &b, 1, cb->now);
        bk_err err = {0};
        if (bk_store_run_commit(cb->other, &c, &err) != 0)
            cb->failed++; /* no assert here: the hook runs inside the store */
    }
}

/* Claim and commit every queued run; returns how many. */
static size_t drain_queue(bk_store *s, int64_t now)
{
    bk_run got[64];
    size_t n = 0, total = 0;
    do {
        OK(bk_store_runs_claim_many(s, "w", now, 60 * S, got, 64, &n, ERR));
        for (size_t i = 0; i < n; i++) {
            bk_bar b = mk_bar(got[i].slice_from_us, 100);
            bk_commit c = mk_commit(&got[i], "w", &b, 1, now);
            OK(bk_store_run_commit(s, &c, ERR));
        }
        total += n;
    } while (n > 0);
    return total;
}

static int cmp_slice(const void *a, const void *b)
{
    const bk_run *x = a, *y = b;
    if (x->slice_from_us != y->slice_from_us)
        return x->slice_from_us < y->slice_from_us ? -1 : 1;
    return (x->slice_to_us > y->slice_to_us) - (x->slice_to_us < y->slice_to_us);
}

/* Slices of sym/tf with more than one successful run. */
static size_t duplicate_successes(bk_store *s, const char *sym, bk_tf tf)
{
    bk_run_filter f = {.status = BK_ST_SUCCESS, .symbol = sym, .tf = (int)tf};
    bk_run *v = NULL;
    size_t n = 0, dup = 0;
    OK(bk_store_runs_list(s, &f, &v, &n, ERR));
    qsort(v, n, sizeof *v, cmp_slice);
    for (size_t i = 1; i < n; i++)
        dup += cmp_slice(&v[i - 1], &v[i]) == 0;
    free(v);
    return dup;
}

/* Issue 12.5: a run that commits while the planner reads a series' state
 * must not look free. The planner reads coverage, active runs and dead runs;
 * the runs it sees running commit (through another connection) right after
 * the coverage read. One consistent read sees them either running or
 * covered, never neither: the second tick plans nothing, no slice runs
 * twice. */
static void t_series_load_snapshot(void **state)
{
    fixture *fx = *state;
    bk_store *s = fx->s, *other = open_or_die(fx->url);
    int64_t now = INT64_C(1717534800000000); /* 2024-06-04T21:00:00Z, Tuesday after the close */
    bk_def d = mk_def("MSFT", BK_TF_1H, 1, 10);
    OK(bk_store_def_put(s, &d, BK_PUT_SET, NULL, now, ERR));
    bk_conf conf;
    bk_conf_defaults(&conf);
    conf.max_slices[BK_JOB_INTRADAY] = 100; /* the whole window in one tick */
    bk_plan_cfg cfg;
    bk_plan_cfg_from_conf(&cfg, &conf, 0);
    bk_tick_stats t;
    OK(bk_plan_tick(s, &cfg, NULL, now, "tick", &t, ERR));
    assert_true(t.enqueued > 0);
    assert_false(t.more);
    bk_run running[64];
    size_t n = 0;
    OK(bk_store_runs_claim_many(s, "w", now, 60 * S, running, 64, &n, ERR));
    assert_int_equal(n, t.enqueued);

    commit_between cb = {.other = other, .runs = running, .n = n, .now = now};
    bk_store__set_read_hook(s, commit_between_reads, &cb);
    OK(bk_plan_tick(s, &cfg, NULL, now, "tick", &t, ERR));
    bk_store__set_read_hook(s, NULL, NULL);
    assert_int_equal(cb.fired, 1);
    assert_int_equal(cb.failed, 0);
    assert_int_equal(t.enqueued, 0); /* every slice was running or covered */

    assert_int_equal(drain_queue(s, now), 0);
    assert_int_equal(duplicate_successes(s, "MSFT", BK_TF_1H), 0);
    bk_store_close(other);
}

/* Claim every queued run and dead-letter it at now; returns how many. */
static size_t kill_queue(bk_store *s, int64_t now)
{
    bk_run got[64];
    size_t n = 0;
    OK(bk_store_runs_claim_many(s, "w", now, 60 * S, got, 64, &n, ERR));
    for (size_t i = 0; i < n; i++) {
        bk_failure f = {.run_id = got[i].id,
                        .owner = "w",
                        .error_code = "PROVIDER_5XX",
                        .error_message = "down",
                        .now_us = now};
        OK(bk_store_run_fail(s, &f, ERR));
    }
    return n;
}

/* Issue 13.3: the tick leaves a dead-lettered slice alone during its
 * cool-down (no duplicate run, no hammering) and re-plans it after, with a
 * cool-down that grows; dead_retry_after_s 0 never does. */
static void t_tick_replans_dead(void **state)
{
    fixture *fx = *state;
    bk_store *s = fx->s;
    int64_t now = INT64_C(1717534800000000); /* 2024-06-04T21:00:00Z, Tuesday after the close */
    bk_def d = mk_def("MSFT", BK_TF_1H, 1, 10);
    OK(bk_store_def_put(s, &d, BK_PUT_SET, NULL, now, ERR));
    bk_conf conf;
    bk_conf_defaults(&conf);
    conf.max_slices[BK_JOB_INTRADAY] = 100;
    conf.dead_retry_after_s = 600;
    conf.dead_retry_max_s = 3600;
    bk_plan_cfg cfg;
    bk_plan_cfg_from_conf(&cfg, &conf, 0);
    bk_tick_stats t;
    OK(bk_plan_tick(s, &cfg, NULL, now, "tick", &t, ERR));
    size_t planned = t.enqueued;
    assert_true(planned > 0);
    int64_t fin = now + S;
    assert_int_equal(kill_queue(s, fin), planned);
    const int64_t cool[] = {600, 1200};
    for (int k = 0; k < 2; k++) {
        OK(bk_plan_tick(s, &cfg, NULL, fin + (cool[k] - 1) * S, "tick", &t, ERR));
        assert_int_equal(t.revived, 0);
        assert_int_equal(t.enqueued, 0); /* dead slices are not free */
        OK(bk_plan_tick(s, &cfg, NULL, fin + cool[k] * S, "tick", &t, ERR));
        assert_int_equal(t.revived, planned);
        assert_int_equal(t.enqueued, 0); /* the dead runs themselves, not new ones */
        OK(bk_plan_tick(s, &cfg, NULL, fin + cool[k] * S, "tick", &t, ERR));
        assert_int_equal(t.revived + t.enqueued, 0); /* idempotent */
        fin += cool[k] * S + S;
        assert_int_equal(kill_queue(s, fin), planned);
    }
    int64_t counts[BK_ST__N] = {0};
    bk_run_filter f = {.status = -1, .tf = -1};
    OK(bk_store_runs_count(s, &f, counts, ERR));
    assert_int_equal(counts[BK_ST_FAILED], planned); /* never a second run of a slice */
    /* switched off: never re-planned */
    conf.dead_retry_after_s = 0;
    bk_plan_cfg_from_conf(&cfg, &conf, 0);
    OK(bk_plan_tick(s, &cfg, NULL, fin + 30 * 86400 * S, "tick", &t, ERR));
    assert_int_equal(t.revived, 0);
}

/* ---- bars ---- */

typedef struct bar_sink {
    size_t n, stop_after;
    int64_t first_ts, last_ts;
    double close_at_5;
    char provider[32];
} bar_sink;

static int sink_cb(void *ctx, const bk_bar *b, const char *provider)
{
    bar_sink *k = ctx;
    if (k->n == 0)
        k->first_ts = b->ts_us;
    if (b->ts_us <= k->last_ts && k->n)
        return -1; /* not in order */
    k->last_ts = b->ts_us;
    if (b->ts_us == T0 + 5 * 60 * S) {
        k->close_at_5 = b->close;
        bk_strlcpy(k->provider, provider, sizeof k->provider);
    }
    k->n++;
    return k->stop_after && k->n >= k->stop_after ? 7 : 0;
}

static void t_bars(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    enum { N = 100 };
    bk_bar bars[N];
    for (int i = 0; i < N; i++)
        bars[i] = mk_bar(T0 + i * 60 * S, 100 + i);
    OK(bk_store_bars_upsert(s, "AAPL", BK_TF_1M, "sim", bars, N, ERR));
    OK(bk_store_bars_upsert(s, "MSFT", BK_TF_1M, "sim", bars, 10, ERR));
    OK(bk_store_bars_upsert(s, "AAPL", BK_TF_5M, "sim", bars, 20, ERR));
    /* overwrite 10 bars with new values and another provider */
    for (int i = 0; i < 10; i++)
        bars[i].close = 1.25;
    OK(bk_store_bars_upsert(s, "AAPL", BK_TF_1M, "massive", bars, 10, ERR));
    assert_int_equal(bars_count(s, "AAPL", BK_TF_1M), N);
    assert_int_equal(bars_count(s, "AAPL", -1), N + 20);
    assert_int_equal(bars_count(s, NULL, BK_TF_1M), N + 10);
    assert_int_equal(bars_count(s, NULL, -1), N + 30);

    bar_sink k = {0};
    OK(bk_store_bars_read(s, "AAPL", BK_TF_1M, T0 + 2 * 60 * S, T0 + 12 * 60 * S, sink_cb, &k,
                          ERR));
    assert_int_equal(k.n, 10); /* [from, to) */
    assert_int_equal(k.first_ts, T0 + 2 * 60 * S);
    assert_int_equal(k.last_ts, T0 + 11 * 60 * S);
    assert_true(k.close_at_5 == 1.25);
    assert_string_equal(k.provider, "massive");

    k = (bar_sink){.stop_after = 3};
    bk_err err = {0};
    assert_int_equal(bk_store_bars_read(s, "AAPL", BK_TF_1M, T0, T0 + H * 10, sink_cb, &k, &err),
                     7);
    assert_int_equal(k.n, 3);
    k = (bar_sink){0};
    OK(bk_store_bars_read(s, "AAPL", BK_TF_1M, T0 + 90 * 60 * S, 0, sink_cb, &k, ERR));
    assert_int_equal(k.n, 10); /* to 0 = no upper bound */
}

/* ---- leadership ---- */

static void t_leader(void **state)
{
    fixture *fx = *state;
    bk_store *a = fx->s, *b = open_or_die(fx->url);
    bool la = false, lb = true;
    OK(bk_store_leader_try(a, "scheduler", "A", T0, 10 * S, &la, ERR));
    OK(bk_store_leader_try(b, "scheduler", "B", T0 + S, 10 * S, &lb, ERR));
    assert_true(la);
    assert_false(lb);
    OK(bk_store_leader_try(a, "scheduler", "A", T0 + 5 * S, 10 * S, &la, ERR)); /* renew */
    assert_true(la);
    OK(bk_store_leader_try(b, "scheduler", "B", T0 + 14 * S, 10 * S, &lb, ERR));
    assert_false(lb);
    OK(bk_store_leader_try(b, "other", "B", T0 + 14 * S, 10 * S, &lb, ERR)); /* another name */
    assert_true(lb);
    if (strcmp(bk_store_kind(a), "sqlite") == 0) {
        /* The lease row decides: an expired lease is taken over. */
        OK(bk_store_leader_try(b, "scheduler", "B", T0 + 16 * S, 10 * S, &lb, ERR)); /* expired */
        assert_true(lb);
        OK(bk_store_leader_try(a, "scheduler", "A", T0 + 17 * S, 10 * S, &la, ERR));
        assert_false(la);
    } else {
        /* The session lock decides: A's session is alive, the row's age does
         * not matter (t_pg_leader_session). */
        OK(bk_store_leader_try(b, "scheduler", "B", T0 + 16 * S, 10 * S, &lb, ERR));
        assert_false(lb);
        OK(bk_store_leader_release(a, "scheduler", "A", ERR));
        OK(bk_store_leader_try(b, "scheduler", "B", T0 + 16 * S, 10 * S, &lb, ERR));
        assert_true(lb);
    }
    OK(bk_store_leader_release(a, "scheduler", "A", ERR)); /* not the holder: no effect */
    OK(bk_store_leader_try(a, "scheduler", "A", T0 + 18 * S, 10 * S, &la, ERR));
    assert_false(la);
    OK(bk_store_leader_release(b, "scheduler", "B", ERR));
    OK(bk_store_leader_try(a, "scheduler", "A", T0 + 19 * S, 10 * S, &la, ERR));
    assert_true(la);
    bk_store_close(b);
}

/* ---- concurrency ---- */

enum { N_THREADS = 4, N_CLAIM_RUNS = 200 };

/* One claiming thread with its own connection; ids receives what it claimed. */
typedef struct claimer {
    const char *url;
    char owner[32];
    char (*ids)[BK_ID_MAX]; /* cap slots */
    size_t cap, n;
    int rc;
    char msg[BK_ERR_MSG_MAX];
} claimer;

static void *claim_thread(void *arg)
{
    claimer *w = arg;
    bk_err err = {0};
    bk_store *s = NULL;
    w->rc = bk_store_open(&s, w->url, &err);
    while (w->rc == 0) {
        bk_run r;
        int rc = bk_store_run_claim(s, w->owner, T0, 60 * S, &r, &err);
        if (rc == BK_ENOENT)
            break;
        if (rc < 0) {
            w->rc = rc;
            break;
        }
        if (w->n < w->cap)
            memcpy(w->ids[w->n], r.id, BK_ID_MAX);
        w->n++;
        /* and finish it, so the writers interleave claims and commits */
        bk_bar b = mk_bar(r.slice_from_us, 1);
        bk_commit c = mk_commit(&r, w->owner, &b, 1, T0);
        rc = bk_store_run_commit(s, &c, &err);
        if (rc < 0) {
            w->rc = rc;
            break;
        }
    }
    if (w->rc < 0)
        bk_strlcpy(w->msg, err.msg, sizeof w->msg);
    bk_store_close(s);
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Enqueue n one-minute 1m runs from T0 on: run i of syms[i % n_syms] with
 * priority i % prio_mod; every one is inserted. */
static void enqueue_minutes(fixture *fx, int n, const char *const *syms, int n_syms, int prio_mod)
{
    bk_run *runs = calloc((size_t)n, sizeof *runs);
    for (int i = 0; i < n; i++)
        runs[i] = mk_run(syms[i % n_syms], BK_TF_1M, T0 + i * 60 * S, T0 + (i + 1) * 60 * S,
                         i % prio_mod);
    size_t k;
    OK(bk_store_runs_enqueue(fx->s, runs, (size_t)n, &k, T0 - S, ERR));
    assert_int_equal(k, n);
    free(runs);
}

/* Run n_threads claimers (fn) over n_runs queued runs and check that together
 * they claimed every run exactly once and committed all of them. */
static void claim_concurrently(fixture *fx, void *(*fn)(void *), int n_threads, size_t n_runs,
                               const char *prefix)
{
    claimer *w = calloc((size_t)n_threads, sizeof *w);
    pthread_t *th = calloc((size_t)n_threads, sizeof *th);
    char(*ids)[BK_ID_MAX] = calloc((size_t)n_threads * n_runs, BK_ID_MAX);
    for (int i = 0; i < n_threads; i++) {
        w[i] = (claimer){.url = fx->url, .ids = ids + (size_t)i * n_runs, .cap = n_runs};
        snprintf(w[i].owner, sizeof w[i].owner, "%s-%d", prefix, i);
        assert_int_equal(pthread_create(&th[i], NULL, fn, &w[i]), 0);
    }
    size_t total = 0;
    char(*all)[BK_ID_MAX] = calloc((size_t)n_threads * n_runs, BK_ID_MAX);
    for (int i = 0; i < n_threads; i++) {
        pthread_join(th[i], NULL);
        if (w[i].rc != 0)
            fail_msg("%s: %s %s", w[i].owner, bk_err_name(w[i].rc), w[i].msg);
        for (size_t j = 0; j < w[i].n && j < n_runs; j++)
            memcpy(all[total + j], w[i].ids[j], BK_ID_MAX);
        total += w[i].n;
    }
    assert_int_equal(total, n_runs);
    qsort(all, total, BK_ID_MAX, cmp_id);
    for (size_t i = 1; i < total; i++)
        assert_string_not_equal(all[i - 1], all[i]);
    assert_int_equal(bars_count(fx->s, NULL, -1), (int64_t)n_runs);
    int64_t counts[BK_ST__N];
    OK(bk_store_runs_count(fx->s, NULL, counts, ERR));
    assert_int_equal(counts[BK_ST_SUCCESS], n_runs);
    free(all);
    free(ids);
    free(th);
    free(w);
}

static void t_concurrent_claims(void **state)
{
    fixture *fx = *state;
    enqueue_minutes(fx, N_CLAIM_RUNS, (const char *const[]){"MSFT", "AAPL"}, 2, 5);
    claim_concurrently(fx, claim_thread, N_THREADS, N_CLAIM_RUNS, "worker");
}

/* ---- batches ---- */

static void t_claim_many(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    bk_run got[8];
    size_t n = 99;
    OK(bk_store_runs_claim_many(s, "w", T0, 60 * S, got, 8, &n, ERR));
    assert_int_equal(n, 0);

    /* claim order as in t_claim_order: priority desc, then created */
    bk_run runs[6] = {
        mk_run("A", BK_TF_1H, T0, T0 + H, 1), mk_run("C", BK_TF_1H, T0, T0 + H, 7),
        mk_run("B", BK_TF_1H, T0, T0 + H, 7), mk_run("E", BK_TF_1H, T0, T0 + H, 0),
        mk_run("F", BK_TF_1H, T0, T0 + H, 0), mk_run("D", BK_TF_1H, T0, T0 + H, 100),
    };
    runs[5].not_before_us = T0 + 100 * S;
    for (int i = 0; i < 6; i++)
        assert_true(enqueue1(s, &runs[i], T0 + i));
    OK(bk_store_runs_claim_many(s, "w", T0 + 10 * S, 60 * S, got, 3, &n, ERR));
    assert_int_equal(n, 3); /* the cap */
    assert_string_equal(got[0].symbol, "C");
    assert_string_equal(got[1].symbol, "B");
    assert_string_equal(got[2].symbol, "A");
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(got[i].status, BK_ST_RUNNING);
        assert_string_equal(got[i].lease_owner, "w");
        assert_int_equal(got[i].started_us, T0 + 10 * S);
        assert_int_equal(got[i].lease_until_us, T0 + 70 * S);
        assert_int_equal(get_run(s, got[i].id).status, BK_ST_RUNNING);
    }
    OK(bk_store_runs_claim_many(s, "w2", T0 + 10 * S, 60 * S, got, 8, &n, ERR));
    assert_int_equal(n, 2); /* D is not claimable yet */
    assert_string_equal(got[0].symbol, "E");
    assert_string_equal(got[1].symbol, "F");
    assert_string_equal(got[1].lease_owner, "w2");
    OK(bk_store_runs_claim_many(s, "w", T0 + 100 * S, 60 * S, got, 8, &n, ERR));
    assert_int_equal(n, 1);
    assert_string_equal(got[0].symbol, "D");
    OK(bk_store_runs_claim_many(s, "w", T0 + 200 * S, 60 * S, got, 8, &n, ERR));
    assert_int_equal(n, 0);
    bk_err err = {0};
    assert_int_equal(bk_store_runs_claim_many(s, "", T0, 60 * S, got, 8, &n, &err), BK_EINVAL);
}

enum { N_BATCH_THREADS = 8, N_BATCH_RUNS = 500, BATCH_CAP = 7 };

/* Claim batches of BATCH_CAP on its own connection, committing every batch. */
static void *batch_claim_thread(void *arg)
{
    claimer *w = arg;
    bk_err err = {0};
    bk_store *s = NULL;
    w->rc = bk_store_open(&s, w->url, &err);
    while (w->rc == 0) {
        bk_run r[BATCH_CAP];
        size_t k = 0;
        int rc = bk_store_runs_claim_many(s, w->owner, T0, 60 * S, r, BATCH_CAP, &k, &err);
        if (rc < 0) {
            w->rc = rc;
            break;
        }
        if (k == 0)
            break;
        bk_bar b[BATCH_CAP];
        bk_commit c[BATCH_CAP];
        int rc_each[BATCH_CAP];
        for (size_t i = 0; i < k; i++) {
            if (w->n < w->cap)
                memcpy(w->ids[w->n], r[i].id, BK_ID_MAX);
            w->n++;
            b[i] = mk_bar(r[i].slice_from_us, 1);
            c[i] = mk_commit(&r[i], w->owner, &b[i], 1, T0);
        }
        rc = bk_store_runs_commit_many(s, c, k, rc_each, &err);
        for (size_t i = 0; i < k && rc == 0; i++)
            if (rc_each[i] != 0)
                rc = bk_err_set(&err, rc_each[i], "run %s not committed", r[i].id);
        if (rc < 0) {
            w->rc = rc;
            break;
        }
    }
    if (w->rc < 0)
        bk_strlcpy(w->msg, err.msg, sizeof w->msg);
    bk_store_close(s);
    return NULL;
}

static void t_claim_many_concurrent(void **state)
{
    fixture *fx = *state;
    enqueue_minutes(fx, N_BATCH_RUNS, (const char *const[]){"AAPL", "MSFT", "IBM"}, 3, 5);
    claim_concurrently(fx, batch_claim_thread, N_BATCH_THREADS, N_BATCH_RUNS, "batcher");
    /* three series, each one merged interval */
    bk_coverage *cov;
    size_t n;
    OK(bk_store_coverage_list(fx->s, NULL, -1, &cov, &n, ERR));
    assert_int_equal(n, 3);
    int64_t pieces = 0;
    for (size_t i = 0; i < n; i++)
        pieces += cov[i].n_intervals; /* every third minute: no two slices touch */
    assert_int_equal(pieces, N_BATCH_RUNS);
    free(cov);
}

/* Opens of the bars at T0 and T0 + H. */
static int open_cb(void *ctx, const bk_bar *b, const char *provider)
{
    (void)provider;
    double *open = ctx;
    if (b->ts_us == T0 || b->ts_us == T0 + H)
        open[b->ts_us == T0 ? 0 : 1] = b->open;
    return 0;
}

/* Every bar records provider, feed and adjustment: through a single commit
 * (SQLite and the PostgreSQL COPY path alike, 600 bars), a batch commit, and
 * a plain upsert (""); the series' source is its newest bar's. */
static void t_bars_source(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    bk_source src;
    bk_err err = {0};
    assert_int_equal(bk_store_bars_source(s, "AAPL", BK_TF_1M, &src, &err), BK_ENOENT);
    enum { N = 600 };
    static bk_bar bars[N];
    for (int i = 0; i < N; i++)
        bars[i] = mk_bar(T0 + i * 60 * S, 100 + i);
    bk_run r[2] = {mk_run("AAPL", BK_TF_1M, T0, T0 + N * 60 * S, 5),
                   mk_run("MSFT", BK_TF_1H, T0, T0 + 2 * H, 5)};
    size_t k;
    OK(bk_store_runs_enqueue(s, r, 2, &k, T0, ERR));
    bk_run c[2];
    OK(bk_store_runs_claim_many(s, "w1", T0 + S, 60 * S, c, 2, &k, ERR));
    assert_int_equal(k, 2);
    bk_run *aapl = strcmp(c[0].symbol, "AAPL") == 0 ? &c[0] : &c[1];
    bk_run *msft = aapl == &c[0] ? &c[1] : &c[0];
    bk_commit one = mk_commit(aapl, "w1", bars, N, T0 + 2 * S);
    one.provider = "alpaca";
    one.feed = "iex";
    one.adjustment = "raw";
    OK(bk_store_run_commit(s, &one, ERR));
    OK(bk_store_bars_source(s, "aapl", BK_TF_1M, &src, ERR));
    assert_string_equal(src.provider, "alpaca");
    assert_string_equal(src.feed, "iex");
    assert_string_equal(src.adjustment, "raw");

    bk_bar hb[2] = {mk_bar(T0, 10), mk_bar(T0 + H, 11)};
    bk_commit many = mk_commit(msft, "w1", hb, 2, T0 + 3 * S);
    many.provider = "massive";
    many.feed = "sip";
    many.adjustment = "split";
    int rc_each[1] = {-1};
    OK(bk_store_runs_commit_many(s, &many, 1, rc_each, ERR));
    assert_int_equal(rc_each[0], 0);
    OK(bk_store_bars_source(s, "MSFT", BK_TF_1H, &src, ERR));
    assert_string_equal(src.provider, "massive");
    assert_string_equal(src.feed, "sip");
    assert_string_equal(src.adjustment, "split");

    /* a newer bar from elsewhere makes it the series' source; an upsert
     * without a source records "" */
    bk_bar late = mk_bar(T0 + N * 60 * S, 5);
    OK(bk_store_bars_put(s, "AAPL", BK_TF_1M, "csv", "file", "split", &late, 1, ERR));
    OK(bk_store_bars_source(s, "AAPL", BK_TF_1M, &src, ERR));
    assert_string_equal(src.provider, "csv");
    assert_string_equal(src.feed, "file");
    assert_string_equal(src.adjustment, "split");
    OK(bk_store_bars_upsert(s, "AAPL", BK_TF_1M, "sim", &late, 1, ERR));
    OK(bk_store_bars_source(s, "AAPL", BK_TF_1M, &src, ERR));
    assert_string_equal(src.provider, "sim");
    assert_string_equal(src.feed, "");
    assert_string_equal(src.adjustment, "");
}

static void t_commit_many(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    /* three runs of AAPL 1h (adjacent slices), one of MSFT; the second AAPL
     * run loses its lease to w2 before the batch commits */
    bk_run r[4] = {mk_run("AAPL", BK_TF_1H, T0, T0 + 2 * H, 5),
                   mk_run("AAPL", BK_TF_1H, T0 + 2 * H, T0 + 4 * H, 4),
                   mk_run("AAPL", BK_TF_1H, T0 + 4 * H, T0 + 6 * H, 3),
                   mk_run("msft", BK_TF_1H, T0, T0 + H, 2)};
    size_t k;
    OK(bk_store_runs_enqueue(s, r, 4, &k, T0, ERR));
    assert_int_equal(k, 4);
    bk_run c[4];
    OK(bk_store_runs_claim_many(s, "w1", T0 + S, 60 * S, c, 4, &k, ERR));
    assert_int_equal(k, 4);
    OK(bk_store_run_release(s, c[1].id, "w1", T0 + 2 * S, ERR));
    bk_run stolen;
    OK(bk_store_run_claim_id(s, c[1].id, "w2", T0 + 3 * S, 60 * S, &stolen, ERR));

    bk_bar b0[5] = {mk_bar(T0, 10), mk_bar(T0 + H, 11), mk_bar(T0, 9), mk_bar(T0 + H, 12),
                    mk_bar(T0 + H, 13)}; /* duplicates: the last one wins */
    bk_bar b1[2] = {mk_bar(T0 + 2 * H, 20), mk_bar(T0 + 3 * H, 21)};
    bk_bar b2[2] = {mk_bar(T0 + 4 * H, 30), mk_bar(T0 + 5 * H, 31)};
    bk_commit cm[5] = {
        mk_commit(&c[0], "w1", b0, 5, T0 + 10 * S),   mk_commit(&c[1], "w1", b1, 2, T0 + 11 * S),
        mk_commit(&c[2], "w1", b2, 2, T0 + 12 * S),   mk_commit(&c[3], "w1", NULL, 0, T0 + 13 * S),
        mk_commit(&c[3], "w1", NULL, 0, T0 + 14 * S), /* twice: no longer running */
    };
    cm[0].covered_ext = (bk_iv){T0 - H, T0 + 2 * H};
    cm[3].symbol = "MSFT";
    cm[4].symbol = "msft"; /* upper-cased like a single commit */
    int rc_each[5] = {-1, -1, -1, -1, -1};
    OK(bk_store_runs_commit_many(s, cm, 5, rc_each, ERR));
    assert_int_equal(rc_each[0], 0);
    assert_int_equal(rc_each[1], BK_ELEASE);
    assert_int_equal(rc_each[2], 0);
    assert_int_equal(rc_each[3], 0);
    assert_int_equal(rc_each[4], BK_ELEASE);

    /* the lost run wrote nothing and is still w2's */
    bk_run g = get_run(s, c[1].id);
    assert_int_equal(g.status, BK_ST_RUNNING);
    assert_string_equal(g.lease_owner, "w2");
    assert_int_equal(g.rows_written, 0);
    assert_int_equal(bars_count(s, "AAPL", BK_TF_1H), 4); /* 2 of run 0 + 2 of run 2 */
    assert_int_equal(bars_count(s, "MSFT", BK_TF_1H), 0);
    /* the others: success, rows, finished at their own now */
    g = get_run(s, c[0].id);
    assert_int_equal(g.status, BK_ST_SUCCESS);
    assert_int_equal(g.rows_written, 5);
    assert_string_equal(g.provider, "sim");
    assert_int_equal(g.finished_us, T0 + 10 * S);
    assert_string_equal(g.lease_owner, "");
    g = get_run(s, c[2].id);
    assert_int_equal(g.status, BK_ST_SUCCESS);
    assert_int_equal(g.finished_us, T0 + 12 * S);
    g = get_run(s, c[3].id);
    assert_int_equal(g.status, BK_ST_SUCCESS);
    assert_int_equal(g.rows_written, 0);
    /* coverage: AAPL [T0-H, T0+2H) and [T0+4H, T0+6H) — the lost run's slice
     * is a hole; MSFT [T0, T0+H) */
    bk_series x;
    expect_series(s, "AAPL", BK_TF_1H, &x);
    assert_int_equal(x.covered.n, 2);
    assert_int_equal(x.covered.v[0].from_us, T0 - H);
    assert_int_equal(x.covered.v[0].to_us, T0 + 2 * H);
    assert_int_equal(x.covered.v[1].from_us, T0 + 4 * H);
    assert_int_equal(x.covered.v[1].to_us, T0 + 6 * H);
    series_fini(&x);
    bk_coverage *cov;
    size_t n;
    OK(bk_store_coverage_list(s, NULL, -1, &cov, &n, ERR));
    assert_int_equal(n, 2);
    assert_string_equal(cov[0].symbol, "AAPL");
    assert_int_equal(cov[0].from_us, T0);
    assert_int_equal(cov[0].to_us, T0 + 6 * H);
    assert_int_equal(cov[0].last_rows_written, 2);
    assert_int_equal(cov[0].last_success_us, T0 + 12 * S);
    assert_string_equal(cov[1].symbol, "MSFT");
    assert_int_equal(cov[1].from_us, T0);
    assert_int_equal(cov[1].to_us, T0 + H);
    free(cov);
    /* of duplicate timestamps the last bar won */
    double open[2] = {0, 0};
    OK(bk_store_bars_read(s, "AAPL", BK_TF_1H, T0, T0 + 2 * H, open_cb, open, ERR));
    assert_true(open[0] > 8.9 && open[0] < 9.1);
    assert_true(open[1] > 12.9 && open[1] < 13.1);

    /* w2 commits its run alone: the hole closes into one interval */
    bk_commit one = mk_commit(&stolen, "w2", b1, 2, T0 + 20 * S);
    int rc1 = -1;
    OK(bk_store_runs_commit_many(s, &one, 1, &rc1, ERR));
    assert_int_equal(rc1, 0);
    expect_series(s, "AAPL", BK_TF_1H, &x);
    assert_int_equal(x.covered.n, 1);
    assert_int_equal(x.covered.v[0].from_us, T0 - H);
    assert_int_equal(x.covered.v[0].to_us, T0 + 6 * H);
    series_fini(&x);
    assert_int_equal(bars_count(s, "AAPL", BK_TF_1H), 6);

    /* a run of another series fails the whole batch, writing nothing */
    bk_run r2[2] = {mk_run("IBM", BK_TF_1H, T0, T0 + H, 0),
                    mk_run("IBM", BK_TF_1H, T0 + H, T0 + 2 * H, 0)};
    OK(bk_store_runs_enqueue(s, r2, 2, &k, T0, ERR));
    OK(bk_store_runs_claim_many(s, "w3", T0 + S, 60 * S, c, 2, &k, ERR));
    assert_int_equal(k, 2);
    bk_commit bad[2] = {mk_commit(&c[0], "w3", b0, 1, T0 + 30 * S),
                        mk_commit(&c[1], "w3", b0, 1, T0 + 30 * S)};
    bad[1].symbol = "AAPL";
    bk_err err = {0};
    assert_int_equal(bk_store_runs_commit_many(s, bad, 2, rc_each, &err), BK_EINVAL);
    assert_int_equal(get_run(s, c[0].id).status, BK_ST_RUNNING);
    assert_int_equal(get_run(s, c[1].id).status, BK_ST_RUNNING);
    assert_int_equal(bars_count(s, "IBM", BK_TF_1H), 0);
}

/* The batch's intervals merged with the stored ones as one-by-one commits
 * would: two new intervals reaching one stored interval from both sides, one
 * inside a stored interval, one bridging two stored intervals. */
static void t_commit_many_merge(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    fill_slice(s, "AAPL", BK_TF_1H, T0 + 15 * H, T0 + 35 * H, T0);
    fill_slice(s, "AAPL", BK_TF_1H, T0 + 50 * H, T0 + 60 * H, T0);
    fill_slice(s, "AAPL", BK_TF_1H, T0 + 70 * H, T0 + 80 * H, T0);
    bk_run r[4] = {mk_run("AAPL", BK_TF_1H, T0 + 10 * H, T0 + 20 * H, 4),
                   mk_run("AAPL", BK_TF_1H, T0 + 30 * H, T0 + 40 * H, 3),
                   mk_run("AAPL", BK_TF_1H, T0 + 52 * H, T0 + 55 * H, 2),
                   mk_run("AAPL", BK_TF_1H, T0 + 60 * H, T0 + 70 * H, 1)};
    size_t k;
    OK(bk_store_runs_enqueue(s, r, 4, &k, T0, ERR));
    assert_int_equal(k, 4);
    bk_run c[4];
    OK(bk_store_runs_claim_many(s, "w", T0 + S, 60 * S, c, 4, &k, ERR));
    assert_int_equal(k, 4);
    bk_commit cm[4];
    for (int i = 0; i < 4; i++)
        cm[i] = mk_commit(&c[i], "w", NULL, 0, T0 + (10 + i) * S);
    int rc_each[4];
    OK(bk_store_runs_commit_many(s, cm, 4, rc_each, ERR));
    for (int i = 0; i < 4; i++)
        assert_int_equal(rc_each[i], 0);
    bk_series x;
    expect_series(s, "AAPL", BK_TF_1H, &x);
    assert_int_equal(x.covered.n, 2);
    assert_int_equal(x.covered.v[0].from_us, T0 + 10 * H);
    assert_int_equal(x.covered.v[0].to_us, T0 + 40 * H);
    assert_int_equal(x.covered.v[1].from_us, T0 + 50 * H);
    assert_int_equal(x.covered.v[1].to_us, T0 + 80 * H);
    assert_int_equal(x.active.n, 0);
    series_fini(&x);
    bk_coverage *cov;
    size_t n;
    OK(bk_store_coverage_list(s, NULL, -1, &cov, &n, ERR));
    assert_int_equal(n, 1);
    assert_int_equal(cov[0].from_us, T0 + 10 * H);
    assert_int_equal(cov[0].to_us, T0 + 80 * H);
    assert_int_equal(cov[0].n_intervals, 2);
    assert_int_equal(cov[0].covered_us, 60 * H);
    assert_int_equal(cov[0].last_success_us, T0 + 13 * S); /* the batch's last run */
    assert_int_equal(cov[0].last_rows_written, 0);
    free(cov);
}

/* ---- provider budgets ---- */

static int64_t take(bk_store *s, const char *prov, double rate, double burst, int64_t now)
{
    int64_t wait = -1;
    OK(bk_store_take_token(s, prov, rate, burst, now, &wait, ERR));
    assert_true(wait >= 0);
    return wait;
}

static void t_take_token(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    const int64_t MS = BK_US_PER_MS;
    /* rate 2/s, burst 3: a new bucket is full */
    for (int i = 0; i < 3; i++)
        assert_int_equal(take(s, "polygon", 2, 3, T0), 0);
    assert_int_equal(take(s, "polygon", 2, 3, T0), 500 * MS);            /* 1 token at 2/s */
    assert_int_equal(take(s, "polygon", 2, 3, T0 + 250 * MS), 250 * MS); /* 0.5 there */
    assert_int_equal(take(s, "polygon", 2, 3, T0 + 500 * MS), 0);        /* 1.0: taken */
    assert_int_equal(take(s, "polygon", 2, 3, T0 + 500 * MS), 500 * MS);
    /* a clock behind the bucket's refills nothing */
    assert_int_equal(take(s, "polygon", 2, 3, T0), 500 * MS);
    assert_int_equal(take(s, "polygon", 2, 3, T0 + 700 * MS), 300 * MS); /* 0.4 there */
    /* a long pause refills up to the burst, no more */
    for (int i = 0; i < 3; i++)
        assert_int_equal(take(s, "polygon", 2, 3, T0 + 100 * S), 0);
    assert_int_equal(take(s, "polygon", 2, 3, T0 + 100 * S), 500 * MS);
    /* buckets are per provider; a slow one: 0.5/s, burst 1 */
    assert_int_equal(take(s, "alpaca", 0.5, 1, T0), 0);
    assert_int_equal(take(s, "alpaca", 0.5, 1, T0), 2 * S);
    assert_int_equal(take(s, "alpaca", 0.5, 1, T0 + 1500 * MS), 500 * MS);
    assert_int_equal(take(s, "alpaca", 0.5, 1, T0 + 2 * S), 0);
    /* arguments */
    bk_err err = {0};
    int64_t w = 0;
    assert_int_equal(bk_store_take_token(s, "polygon", 0, 3, T0, &w, &err), BK_EINVAL);
    assert_int_equal(bk_store_take_token(s, "polygon", 2, 0.5, T0, &w, &err), BK_EINVAL);
    assert_int_equal(bk_store_take_token(s, "", 2, 3, T0, &w, &err), BK_EINVAL);
}

/* Reservations: the token is always taken, the bucket goes below zero, and
 * each caller learns when its own token is due, so waiting workers need no
 * second round trip; a plain take still only takes a token that is there. */
static void t_reserve_token(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    const int64_t MS = BK_US_PER_MS;
    int64_t w = -1;
    OK(bk_store_reserve_token(s, "massive", 2, 1, T0, &w, ERR));
    assert_int_equal(w, 0); /* the full bucket's token */
    OK(bk_store_reserve_token(s, "massive", 2, 1, T0, &w, ERR));
    assert_int_equal(w, 500 * MS);
    OK(bk_store_reserve_token(s, "massive", 2, 1, T0, &w, ERR));
    assert_int_equal(w, 1000 * MS); /* queued behind the previous reservation */
    assert_int_equal(take(s, "massive", 2, 1, T0 + 600 * MS), 900 * MS); /* not taken */
    OK(bk_store_reserve_token(s, "massive", 2, 1, T0 + 1500 * MS, &w, ERR));
    assert_int_equal(w, 0);
    OK(bk_store_reserve_token(s, "massive", 2, 1, T0 + 1500 * MS, &w, ERR));
    assert_int_equal(w, 500 * MS);
}

/* 429s received: counted per provider since an instant, shared by every
 * connection; rows older than the keep time are pruned by the next one. */
static void t_rate_limited(void **state)
{
    fixture *fx = *state;
    bk_store *s = fx->s;
    const int64_t KEEP = BK_STORE_RATE_LIMITED_KEEP_US;
    bk_prov_count *c = NULL;
    size_t n = 9;
    OK(bk_store_rate_limited_count(s, 0, &c, &n, ERR));
    assert_int_equal(n, 0);
    assert_null(c);
    OK(bk_store_rate_limited_add(s, "massive", T0 - KEEP - S, ERR)); /* pruned below */
    OK(bk_store_rate_limited_add(s, "massive", T0, ERR));
    OK(bk_store_rate_limited_add(s, "massive", T0 + H, ERR));
    bk_store *b = open_or_die(fx->url); /* another connection writes too */
    OK(bk_store_rate_limited_add(b, "alpaca", T0 + 2 * H, ERR));
    OK(bk_store_rate_limited_add(b, "massive", T0 + 2 * H, ERR));
    bk_store_close(b);
    OK(bk_store_rate_limited_count(s, T0, &c, &n, ERR));
    assert_int_equal(n, 2);
    assert_string_equal(c[0].provider, "alpaca");
    assert_int_equal(c[0].n, 1);
    assert_string_equal(c[1].provider, "massive");
    assert_int_equal(c[1].n, 3);
    free(c);
    OK(bk_store_rate_limited_count(s, T0 + H, &c, &n, ERR)); /* since is inclusive */
    assert_int_equal(n, 2);
    assert_int_equal(c[1].n, 2);
    free(c);
    OK(bk_store_rate_limited_count(s, 0, &c, &n, ERR)); /* the oldest was pruned */
    assert_int_equal(n, 2);
    assert_int_equal(c[1].n, 3);
    free(c);
    bk_err err = {0};
    assert_int_equal(bk_store_rate_limited_add(s, "", T0, &err), BK_EINVAL);
}

enum { BUDGET_STEPS = 100, BUDGET_TRIES = 3 };
#define BUDGET_RATE  20.0
#define BUDGET_BURST 5.0

typedef struct taker {
    const char *url;
    int64_t granted;
    int rc;
    char msg[BK_ERR_MSG_MAX];
} taker;

/* Take tokens on a simulated clock that runs from T0 to T0 + 1 s in
 * BUDGET_STEPS steps, BUDGET_TRIES times per step, on its own connection. */
static void *take_thread(void *arg)
{
    taker *t = arg;
    bk_err err = {0};
    bk_store *s = NULL;
    t->rc = bk_store_open(&s, t->url, &err);
    for (int i = 0; i <= BUDGET_STEPS && t->rc == 0; i++) {
        int64_t now = T0 + (int64_t)i * S / BUDGET_STEPS;
        for (int k = 0; k < BUDGET_TRIES && t->rc == 0; k++) {
            int64_t wait = 0;
            t->rc = bk_store_take_token(s, "polygon", BUDGET_RATE, BUDGET_BURST, now, &wait, &err);
            if (t->rc == 0 && wait == 0)
                t->granted++;
        }
    }
    if (t->rc < 0)
        bk_strlcpy(t->msg, err.msg, sizeof t->msg);
    bk_store_close(s);
    return NULL;
}

/* The budget holds across connections: however the takes interleave, no
 * more than burst + rate · 1 s tokens are granted in 1 s. */
static void t_take_token_concurrent(void **state)
{
    fixture *fx = *state;
    taker t[N_THREADS];
    pthread_t th[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        t[i] = (taker){.url = fx->url};
        assert_int_equal(pthread_create(&th[i], NULL, take_thread, &t[i]), 0);
    }
    int64_t total = 0;
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(th[i], NULL);
        if (t[i].rc != 0)
            fail_msg("taker %d: %s %s", i, bk_err_name(t[i].rc), t[i].msg);
        total += t[i].granted;
    }
    assert_true(total >= (int64_t)BUDGET_BURST);
    assert_true(total <= (int64_t)(BUDGET_BURST + BUDGET_RATE * 1.0));
}

/* ---- adopted coverage ---- */

static void t_coverage_add(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    fill_slice(s, "AAPL", BK_TF_1H, T0 + 5 * H, T0 + 6 * H, T0 + 10 * S);
    bk_bar more[2] = {mk_bar(T0, 10), mk_bar(T0 + 8 * H, 11)};
    OK(bk_store_bars_upsert(s, "AAPL", BK_TF_1H, "legacy", more, 2, ERR));
    bk_ivset add;
    bk_ivset_init(&add);
    OK(bk_store_coverage_add(s, "AAPL", BK_TF_1H, &add, "legacy", T0, ERR)); /* empty: no-op */
    bk_ivset_add(&add, T0, T0 + 2 * H);
    bk_ivset_add(&add, T0 + 4 * H, T0 + 5 * H); /* touches the committed [5h, 6h) */
    bk_ivset_add(&add, T0 + 8 * H, T0 + 9 * H);
    OK(bk_store_coverage_add(s, "AAPL", BK_TF_1H, &add, "legacy", T0 + 100 * S, ERR));
    bk_series x;
    expect_series(s, "AAPL", BK_TF_1H, &x);
    assert_int_equal(x.covered.n, 3);
    assert_int_equal(x.covered.v[1].from_us, T0 + 4 * H);
    assert_int_equal(x.covered.v[1].to_us, T0 + 6 * H);
    series_fini(&x);
    bk_coverage *cov;
    size_t n;
    OK(bk_store_coverage_list(s, "AAPL", BK_TF_1H, &cov, &n, ERR));
    assert_int_equal(n, 1);
    assert_int_equal(cov[0].from_us, T0); /* derived from the set, overwritten */
    assert_int_equal(cov[0].to_us, T0 + 9 * H);
    assert_int_equal(cov[0].last_success_us, T0 + 100 * S);
    assert_int_equal(cov[0].updated_us, T0 + 100 * S);
    assert_int_equal(cov[0].last_rows_written, 3); /* the series' stored bars */
    assert_string_equal(cov[0].last_provider, "legacy");
    assert_int_equal(cov[0].n_intervals, 3);
    assert_int_equal(cov[0].covered_us, 5 * H);
    free(cov);
    /* one interval over the holes merges everything */
    bk_ivset_clear(&add);
    bk_ivset_add(&add, T0 + H, T0 + 8 * H);
    OK(bk_store_coverage_add(s, "aapl", BK_TF_1H, &add, NULL, T0 + 200 * S, ERR));
    expect_series(s, "AAPL", BK_TF_1H, &x);
    assert_int_equal(x.covered.n, 1);
    assert_int_equal(x.covered.v[0].from_us, T0);
    assert_int_equal(x.covered.v[0].to_us, T0 + 9 * H);
    series_fini(&x);
    /* a series with no summary row yet gets one */
    OK(bk_store_coverage_add(s, "MSFT", BK_TF_D1, &add, "legacy", T0 + 300 * S, ERR));
    OK(bk_store_coverage_list(s, NULL, -1, &cov, &n, ERR));
    assert_int_equal(n, 2);
    assert_string_equal(cov[0].last_provider, "");
    assert_string_equal(cov[1].symbol, "MSFT");
    assert_int_equal(cov[1].from_us, T0 + H);
    assert_int_equal(cov[1].to_us, T0 + 8 * H);
    assert_int_equal(cov[1].last_rows_written, 0);
    free(cov);
    bk_err err = {0};
    assert_int_equal(bk_store_coverage_add(s, "AA PL", BK_TF_1H, &add, NULL, T0, &err), BK_EINVAL);
    bk_ivset_fini(&add);
}

static void t_bars_series(void **state)
{
    bk_store *s = ((fixture *)*state)->s;
    bk_bar h[3] = {mk_bar(T0, 1), mk_bar(T0 + H, 2), mk_bar(T0 + 5 * H, 3)};
    OK(bk_store_bars_upsert(s, "MSFT", BK_TF_1H, "sim", h, 3, ERR));
    OK(bk_store_bars_upsert(s, "AAPL", BK_TF_D1, "sim", h, 1, ERR));
    OK(bk_store_bars_upsert(s, "AAPL", BK_TF_1H, "sim", h + 1, 2, ERR));
    bk_bar_series *v;
    size_t n;
    OK(bk_store_bars_series(s, NULL, &v, &n, ERR));
    assert_int_equal(n, 3);
    assert_string_equal(v[0].symbol, "AAPL");
    assert_int_equal(v[0].tf, BK_TF_1H);
    assert_int_equal(v[0].n_bars, 2);
    assert_int_equal(v[0].first_us, T0 + H);
    assert_int_equal(v[0].last_us, T0 + 5 * H);
    assert_int_equal(v[1].tf, BK_TF_D1);
    assert_string_equal(v[2].symbol, "MSFT");
    assert_int_equal(v[2].n_bars, 3);
    free(v);
    OK(bk_store_bars_series(s, "msft", &v, &n, ERR));
    assert_int_equal(n, 1);
    assert_int_equal(v[0].first_us, T0);
    free(v);
    OK(bk_store_bars_series(s, "IBM", &v, &n, ERR));
    assert_int_equal(n, 0);
    free(v);
}

/* ---- PostgreSQL only ---- */

/* Every cell of a one-query result, as text. */
typedef struct cells {
    char **v;
    size_t rows, cols;
} cells;

static cells pg_q(bk_store *s, const char *sql, const char *const *params, int n)
{
    cells c = {0};
    bk_err err = {0};
    if (bk_store__pg_query(s, sql, params, n, &c.v, &c.rows, &c.cols, &err) < 0)
        fail_msg("%s: %s", sql, err.msg);
    return c;
}

static void cells_free(cells *c)
{
    bk_store__pg_cells_free(c->v, c->rows * c->cols);
}

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

enum { N_PG_THREADS = 8, N_PG_RUNS = 400 };

/* 8 connections claim 400 runs at once: each run exactly once. */
static void t_pg_concurrent_claims(void **state)
{
    fixture *fx = *state;
    enqueue_minutes(fx, N_PG_RUNS, (const char *const[]){"MSFT", "AAPL", "AAPL"}, 3, 7);
    claim_concurrently(fx, claim_thread, N_PG_THREADS, N_PG_RUNS, "pg-worker");
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

typedef struct notes {
    char run_id[BK_ID_MAX]; /* count only notifications about this run */
    char ops[8][8];
    bk_status status[8];
    int n;
} notes;

static void note_cb(void *ctx, const bk_note *note)
{
    notes *n = ctx;
    if (strcmp(note->run_id, n->run_id) == 0 && n->n < 8) {
        n->status[n->n] = note->status;
        bk_strlcpy(n->ops[n->n++], note->op, sizeof n->ops[0]);
    }
}

/* Wait (bounded) until n->n reaches want. */
static void wait_notes(bk_store *s, notes *n, int want)
{
    int64_t deadline = bk_clock_mono_us() + 10 * S;
    while (n->n < want && bk_clock_mono_us() < deadline)
        OK(bk_store_notifications(s, 100, note_cb, n, ERR));
    if (n->n < want)
        fail_msg("%d of %d notifications for run %s", n->n, want, n->run_id);
}

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

/* Takes a database at version 8 back to version 6's queue: without
 * migration 8's bk_window_start (get_coverage_gaps is replaced again when
 * it is reapplied), the partial indexes on job_runs, no state tables (their
 * rows are made again from job_runs by migration 7). */
#define PG_UNDO_7                                                                                  \
    "DROP FUNCTION bk_window_start(text, timestamptz);"                                            \
    " DROP TRIGGER job_runs_mirror ON job_runs; DROP FUNCTION bk_job_runs_mirror();"               \
    " DROP TABLE job_active, job_queue, job_leases; ALTER TABLE job_runs RESET (fillfactor);"      \
    " CREATE UNIQUE INDEX job_runs_active_slice"                                                   \
    "   ON job_runs (symbol, timeframe, job_type, slice_from, slice_to)"                           \
    "   WHERE status IN ('queued','running');"                                                     \
    " CREATE INDEX job_runs_claim ON job_runs (priority DESC, created_at, seq)"                    \
    "   WHERE status = 'queued';"                                                                  \
    " CREATE INDEX job_runs_not_before ON job_runs (not_before) WHERE status = 'queued';"          \
    " CREATE INDEX job_runs_lease ON job_runs (lease_until) WHERE status = 'running';"             \
    " CREATE INDEX job_runs_dead ON job_runs (symbol, timeframe, slice_from, slice_to)"            \
    "   WHERE status = 'failed';"                                                                  \
    " DROP INDEX job_runs_series;"                                                                 \
    " CREATE INDEX job_runs_series ON job_runs (symbol, timeframe, created_at)"                    \
    "   WHERE status NOT IN ('queued','running');"

/* A database at version 1 with runs gets the trigger from migration 2 (and
 * the provider budgets of migration 3, the batch commit of 4, the bars'
 * feed and adjustment of 5, the statement-level triggers and the narrower
 * series index of 6). */
static void t_pg_migrate_1_to_2(void **state)
{
    fixture *fx = *state;
    bk_run r = mk_run("AAPL", BK_TF_1H, T0, T0 + H, 1);
    assert_true(enqueue1(fx->s, &r, T0));
    OK(bk_store__pg_exec(
        fx->s,
        PG_UNDO_7 " DROP TRIGGER job_runs_notify_insert ON job_runs;"
                  " DROP TRIGGER job_runs_notify_update ON job_runs;"
                  " DROP FUNCTION bk_job_runs_notify_batch();"
                  " DROP INDEX job_runs_series;"
                  " CREATE INDEX job_runs_series ON job_runs (symbol, timeframe, created_at);"
                  " DROP TABLE provider_budgets;"
                  " DROP FUNCTION bk_commit_runs;"
                  " ALTER TABLE ohlc_bars_v2 DROP COLUMN feed, DROP COLUMN adjustment;"
                  " DELETE FROM schema_migrations WHERE version >= 2",
        ERR));
    bk_err err = {0};
    assert_int_equal(bk_store_check_schema(fx->s, &err), BK_ESCHEMA);
    int v = 0;
    OK(bk_store_migrate(fx->s, &v, ERR));
    assert_int_equal(v, PG_LATEST);
    assert_int_equal(take(fx->s, "polygon", 1, 1, T0), 0);
    bk_store *a = open_or_die(fx->url);
    OK(bk_store_listen(a, ERR));
    bk_run got;
    claim_ok(fx->s, "w1", T0 + S, &got);
    notes n = {.n = 0};
    bk_strlcpy(n.run_id, r.id, sizeof n.run_id);
    wait_notes(a, &n, 1);
    assert_string_equal(n.ops[0], "UPDATE");
    bk_store_close(a);
}

/* Notifications about many runs: which of ids[] were seen, with what op
 * and status. */
typedef struct many_notes {
    char (*ids)[BK_ID_MAX];
    int n_ids;
    int seen[400];
    char op[8];       /* the op every note must have */
    bk_status status; /* and the status */
    int n, wrong;
} many_notes;

static void many_cb(void *ctx, const bk_note *note)
{
    many_notes *m = ctx;
    for (int i = 0; i < m->n_ids; i++) {
        if (strcmp(note->run_id, m->ids[i]) != 0)
            continue;
        m->seen[i]++;
        m->n++;
        if (strcmp(note->op, m->op) != 0 || note->status != m->status)
            m->wrong++;
    }
}

static void wait_many(bk_store *s, many_notes *m)
{
    int64_t deadline = bk_clock_mono_us() + 10 * S;
    while (m->n < m->n_ids && bk_clock_mono_us() < deadline)
        OK(bk_store_notifications(s, 100, many_cb, m, ERR));
    OK(bk_store_notifications(s, 50, many_cb, m, ERR)); /* and nothing more */
    assert_int_equal(m->n, m->n_ids);
    assert_int_equal(m->wrong, 0);
    for (int i = 0; i < m->n_ids; i++)
        assert_int_equal(m->seen[i], 1);
}

/* A database at version 5 (the row trigger of migration 2, the series index
 * over every run) holding runs gets version 6: the statement-level triggers
 * send one record per changed row, up to 64 in a payload, and a listener
 * hears each of 150 runs enqueued in one statement, then claimed in one;
 * a hand-written payload of several records is split; lists by series see
 * every run. */
static void t_pg_migrate_5_to_6(void **state)
{
    fixture *fx = *state;
    bk_run done = mk_run("AAPL", BK_TF_1H, T0, T0 + H, 1), got;
    assert_true(enqueue1(fx->s, &done, T0));
    claim_ok(fx->s, "w1", T0 + S, &got);
    bk_commit c = {.run_id = done.id,
                   .owner = "w1",
                   .symbol = "AAPL",
                   .tf = BK_TF_1H,
                   .provider = "sim",
                   .covered = {T0, T0 + H},
                   .now_us = T0 + 2 * S};
    OK(bk_store_run_commit(fx->s, &c, ERR));
    OK(bk_store__pg_exec(
        fx->s,
        PG_UNDO_7 " DROP TRIGGER job_runs_notify_insert ON job_runs;"
                  " DROP TRIGGER job_runs_notify_update ON job_runs;"
                  " DROP FUNCTION bk_job_runs_notify_batch();"
                  " DROP INDEX job_runs_series;"
                  " CREATE INDEX job_runs_series ON job_runs (symbol, timeframe, created_at);"
                  " CREATE FUNCTION bk_job_runs_notify() RETURNS trigger LANGUAGE plpgsql AS $$"
                  " BEGIN"
                  "   PERFORM pg_notify('barkeep_job_runs', TG_OP || ' ' || NEW.id::text || ' ' ||"
                  "     NEW.status || ' ' || NEW.progress_percent::text || ' ' ||"
                  "     coalesce((extract(epoch FROM NEW.updated_at) * 1000000)::int8, 0)::text);"
                  "   RETURN NULL;"
                  " END $$;"
                  " CREATE TRIGGER job_runs_notify AFTER INSERT OR UPDATE ON job_runs"
                  "   FOR EACH ROW EXECUTE PROCEDURE bk_job_runs_notify();"
                  " DELETE FROM schema_migrations WHERE version >= 6",
        ERR));
    bk_err err = {0};
    assert_int_equal(bk_store_check_schema(fx->s, &err), BK_ESCHEMA);
    int v = 0;
    OK(bk_store_migrate(fx->s, &v, ERR));
    assert_int_equal(v, PG_LATEST);
    cells k = pg_q(fx->s,
                   "SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger"
                   " WHERE tgrelid = 'job_runs'::regclass AND NOT tgisinternal",
                   NULL, 0);
    assert_string_equal(k.v[0], "job_runs_mirror,job_runs_notify_insert,job_runs_notify_update");
    cells_free(&k);
    k = pg_q(fx->s, "SELECT indexdef FROM pg_indexes WHERE indexname = 'job_runs_series'", NULL, 0);
    assert_null(strstr(k.v[0], "WHERE")); /* every run again since version 7 */
    cells_free(&k);

    bk_store *a = open_or_die(fx->url);
    OK(bk_store_listen(a, ERR));
    enum { N = 150 };
    bk_run runs[N];
    char ids[N][BK_ID_MAX];
    for (int i = 0; i < N; i++)
        runs[i] = mk_run("MSFT", BK_TF_1H, T0 + i * H, T0 + (i + 1) * H, 1);
    size_t n = 0;
    OK(bk_store_runs_enqueue(fx->s, runs, N, &n, T0 + 3 * S, ERR));
    assert_int_equal(n, N);
    for (int i = 0; i < N; i++)
        bk_strlcpy(ids[i], runs[i].id, BK_ID_MAX);
    many_notes m = {.ids = ids, .n_ids = N, .op = "INSERT", .status = BK_ST_QUEUED};
    wait_many(a, &m);

    bk_run claimed[N];
    OK(bk_store_runs_claim_many(fx->s, "w2", T0 + 4 * S, 60 * S, claimed, N, &n, ERR));
    assert_int_equal(n, N);
    m = (many_notes){.ids = ids, .n_ids = N, .op = "UPDATE", .status = BK_ST_RUNNING};
    wait_many(a, &m);

    /* several records in one payload; a line that is not one is skipped */
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT pg_notify('barkeep_job_runs', 'UPDATE %s success 100 5' || E'\\n' ||"
             " 'garbage' || E'\\n' || 'UPDATE %s success 100 6')",
             ids[0], ids[1]);
    k = pg_q(fx->s, sql, NULL, 0);
    cells_free(&k);
    m = (many_notes){.ids = ids, .n_ids = 2, .op = "UPDATE", .status = BK_ST_SUCCESS};
    wait_many(a, &m);
    bk_store_close(a);

    /* lists and counts by series see finished and active runs alike */
    bk_run_filter f = {.status = -1, .symbol = "AAPL", .tf = BK_TF_1H};
    bk_run *list = NULL;
    size_t nl = 0;
    OK(bk_store_runs_list(fx->s, &f, &list, &nl, ERR));
    assert_int_equal(nl, 1);
    assert_int_equal(list[0].status, BK_ST_SUCCESS);
    free(list);
    f.symbol = "MSFT";
    f.limit = 10;
    OK(bk_store_runs_list(fx->s, &f, &list, &nl, ERR));
    assert_int_equal(nl, 10);
    assert_int_equal(list[0].status, BK_ST_RUNNING);
    free(list);
    int64_t counts[BK_ST__N] = {0};
    bk_run_filter fc = {.status = -1, .symbol = "MSFT", .tf = -1};
    OK(bk_store_runs_count(fx->s, &fc, counts, ERR));
    assert_int_equal(counts[BK_ST_RUNNING], N);
    assert_int_equal(counts[BK_ST_SUCCESS], 0);
    fc.symbol = "AAPL";
    memset(counts, 0, sizeof counts);
    OK(bk_store_runs_count(fx->s, &fc, counts, ERR));
    assert_int_equal(counts[BK_ST_SUCCESS], 1);
}

/* The job_runs counters of HOT and all updates, as the server has them
 * after this connection's pending statistics are flushed. */
static void hot_counts(bk_store *s, int64_t *hot, int64_t *all)
{
    cells k = pg_q(s, "SELECT pg_stat_force_next_flush()", NULL, 0);
    cells_free(&k);
    k = pg_q(s,
             "SELECT n_tup_hot_upd, n_tup_upd FROM pg_stat_user_tables"
             " WHERE relid = 'job_runs'::regclass",
             NULL, 0);
    *hot = atoll(k.v[0]);
    *all = atoll(k.v[1]);
    cells_free(&k);
}

/* The state of every run in the state tables, in slice order. */
static cells queue_rows(bk_store *s)
{
    return pg_q(s,
                "SELECT string_agg(CASE WHEN a.dead THEN 'failed'"
                " WHEN l.id IS NOT NULL THEN 'running:' || l.owner"
                " WHEN q.id IS NOT NULL THEN 'queued' ELSE '?' END, ',' ORDER BY a.slice_from)"
                " FROM job_active a LEFT JOIN job_leases l USING (id)"
                " LEFT JOIN job_queue q USING (id)",
                NULL, 0);
}

/* A database at version 6 holding runs in every state gets version 7: every
 * run not finished for good is in the state tables with its state and lease
 * (a finished one is not), and the queue's paths carry on from there: the
 * running run commits under its lease, the queued one is claimed, the
 * dead-lettered one is revived. A run's claim and its success are HOT
 * updates of job_runs. Writes to job_runs by another session — the guide's
 * force retry, a run inserted or deleted by hand — reach the state tables
 * through the mirror trigger. */
static void t_pg_migrate_6_to_7(void **state)
{
    fixture *fx = *state;
    bk_run d = mk_run("AAPL", BK_TF_1H, T0 + 3 * H, T0 + 4 * H, 1), got;
    bk_run f = mk_run("AAPL", BK_TF_1H, T0 + 2 * H, T0 + 3 * H, 1);
    bk_run r = mk_run("AAPL", BK_TF_1H, T0 + H, T0 + 2 * H, 1);
    bk_run q = mk_run("AAPL", BK_TF_1H, T0, T0 + H, 1);
    assert_true(enqueue1(fx->s, &d, T0));
    claim_ok(fx->s, "w1", T0 + S, &got);
    bk_commit c = mk_commit(&d, "w1", NULL, 0, T0 + 2 * S);
    OK(bk_store_run_commit(fx->s, &c, ERR));
    assert_true(enqueue1(fx->s, &f, T0 + 3 * S));
    claim_ok(fx->s, "w1", T0 + 4 * S, &got);
    bk_failure fl = {
        .run_id = f.id, .owner = "w1", .error_code = "PROVIDER_5XX", .now_us = T0 + 5 * S};
    OK(bk_store_run_fail(fx->s, &fl, ERR));
    assert_true(enqueue1(fx->s, &r, T0 + 6 * S));
    claim_ok(fx->s, "w2", T0 + 7 * S, &got);
    assert_string_equal(got.id, r.id);
    assert_true(enqueue1(fx->s, &q, T0 + 8 * S));

    OK(bk_store__pg_exec(fx->s, PG_UNDO_7 " DELETE FROM schema_migrations WHERE version >= 7",
                         ERR));
    bk_err err = {0};
    assert_int_equal(bk_store_check_schema(fx->s, &err), BK_ESCHEMA);
    int v = 0;
    OK(bk_store_migrate(fx->s, &v, ERR));
    assert_int_equal(v, PG_LATEST);
    cells k = queue_rows(fx->s);
    assert_string_equal(k.v[0], "queued,running:w2,failed");
    cells_free(&k);
    k = pg_q(fx->s,
             "SELECT count(*) FROM pg_indexes WHERE tablename = 'job_runs'"
             " AND indexdef LIKE '%WHERE%'",
             NULL, 0);
    assert_string_equal(k.v[0], "0"); /* no index of job_runs names status */
    cells_free(&k);

    c = mk_commit(&r, "w1", NULL, 0, T0 + 9 * S); /* w1: not the lease's owner */
    assert_int_equal(bk_store_run_commit(fx->s, &c, &err), BK_ELEASE);
    c.owner = "w2";
    OK(bk_store_run_commit(fx->s, &c, ERR));
    claim_ok(fx->s, "w3", T0 + 10 * S, &got);
    assert_string_equal(got.id, q.id);
    size_t n = 0;
    OK(bk_store_runs_retry_failed(fx->s, T0 + 11 * S, 3, &n, ERR));
    assert_int_equal(n, 1);
    k = queue_rows(fx->s);
    assert_string_equal(k.v[0], "running:w3,queued");
    cells_free(&k);

    /* the claim and the success of each of 10 runs: 20 HOT updates */
    int64_t hot0, all0, hot1, all1;
    hot_counts(fx->s, &hot0, &all0);
    for (int i = 0; i < 10; i++) {
        bk_run x = mk_run("NVDA", BK_TF_1H, T0 + i * H, T0 + (i + 1) * H, 1);
        assert_true(enqueue1(fx->s, &x, T0 + 20 * S));
        OK(bk_store_run_claim_id(fx->s, x.id, "w4", T0 + 21 * S, 60 * S, &got, ERR));
        c = mk_commit(&x, "w4", NULL, 0, T0 + 22 * S);
        OK(bk_store_run_commit(fx->s, &c, ERR));
    }
    hot_counts(fx->s, &hot1, &all1);
    assert_int_equal(all1 - all0, 20);
    assert_int_equal(hot1 - hot0, 20);

    /* another session's writes: the guide's force retry of a run claimed
     * long ago (its started_at is T0's), then a run inserted and one
     * deleted by hand */
    OK(bk_store__pg_exec(fx->s,
                         "UPDATE job_runs\nSET status = 'queued', attempt = attempt + 1\n"
                         "WHERE status = 'running' AND started_at < NOW() - INTERVAL '10 minutes';",
                         ERR));
    k = queue_rows(fx->s);
    assert_string_equal(k.v[0], "queued,queued");
    cells_free(&k);
    c = mk_commit(&q, "w3", NULL, 0, T0 + 30 * S);
    assert_int_equal(bk_store_run_commit(fx->s, &c, &err), BK_ELEASE); /* lease taken back */
    char sql[300];
    snprintf(sql, sizeof sql,
             "INSERT INTO job_runs (symbol, timeframe, job_type, slice_from, slice_to, priority)"
             " SELECT 'MSFT', timeframe, job_type, slice_from, slice_to, 9 FROM job_runs"
             " WHERE id = '%s'; DELETE FROM job_runs WHERE id = '%s'",
             q.id, f.id);
    OK(bk_store__pg_exec(fx->s, sql, ERR));
    claim_ok(fx->s, "w5", T0 + 31 * S, &got); /* priority 9 first */
    assert_string_equal(got.symbol, "MSFT");
    claim_ok(fx->s, "w5", T0 + 32 * S, &got);
    assert_string_equal(got.id, q.id);
    assert_int_equal(got.attempt, 2);
    assert_int_equal(bk_store_run_claim(fx->s, "w5", T0 + 33 * S, 60 * S, &got, &err), BK_ENOENT);
}

/* ---- SQLite only ---- */

static void t_sqlite_corrupt(void **state)
{
    (void)state;
    char *dir = bk_t_tmpdir("store-corrupt");
    char *p = bk_t_path(dir, "garbage.db");
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    for (int i = 0; i < 4096; i++)
        fputc((i * 7919) & 0xff, f);
    fclose(f);
    bk_err err = {0};
    bk_store *s = (bk_store *)1;
    assert_int_equal(bk_store_open(&s, p, &err), BK_ECORRUPT);
    assert_null(s);
    assert_non_null(strstr(err.msg, p));
    bk_t_rmtree(dir);
    free(p);
    free(dir);
}

static void t_sqlite_newer_schema(void **state)
{
    (void)state;
    char *dir = bk_t_tmpdir("store-newer");
    char *p = bk_t_path(dir, "newer.db");
    bk_store *s = open_or_die(p);
    int v = 0;
    OK(bk_store_migrate(s, &v, ERR));
    bk_store_close(s);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    bk_err err = {0};
    assert_int_equal(bk_store_open(&s, p, &err), BK_ESCHEMA);
    assert_non_null(strstr(err.msg, p));
    bk_t_rmtree(dir);
    free(p);
    free(dir);
}

static void t_sqlite_bad_path(void **state)
{
    (void)state;
    bk_err err = {0};
    bk_store *s;
    const char *p = "/nonexistent-dir-for-barkeep/sub/x.db";
    int rc = bk_store_open(&s, p, &err);
    assert_true(rc < 0);
    assert_non_null(strstr(err.msg, p));
    char *dir = bk_t_tmpdir("store-dir");
    rc = bk_store_open(&s, dir, &err); /* a directory */
    assert_true(rc < 0);
    assert_non_null(strstr(err.msg, dir));
    bk_t_rmtree(dir);
    free(dir);
    /* a postgres URL goes to the PostgreSQL backend: nothing listens on
     * port 1, and the message must not show the password */
    s = (bk_store *)1;
    assert_int_equal(bk_store_open(&s, "postgresql://bk:s3cretpw@127.0.0.1:1/barkeep", &err),
                     BK_ESTORE);
    assert_null(s);
    assert_null(strstr(err.msg, "s3cretpw"));
    assert_int_equal(bk_store_open(&s, "postgres://bk:s3cretpw@127.0.0.1:1/barkeep", &err),
                     BK_ESTORE);
}

static void t_sqlite_listen(void **state)
{
    (void)state;
    char *dir = bk_t_tmpdir("store-listen");
    char *p = bk_t_path(dir, "barkeep.db");
    bk_store *s = open_or_die(p);
    assert_false(bk_store_notifies(s));
    bk_err err = {0};
    assert_int_equal(bk_store_listen(s, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "need PostgreSQL"));
    notes n = {.n = 0};
    assert_int_equal(bk_store_notifications(s, 0, note_cb, &n, &err), BK_EINVAL);
    bk_store_close(s);
    bk_t_rmtree(dir);
    free(p);
    free(dir);
}

/* ---- suites ---- */

#define FX(t) cmocka_unit_test_setup_teardown(t, fixture_setup, fixture_teardown)

static int generic_suite(const char *url)
{
    g_base_url = url;
    const struct CMUnitTest tests[] = {
        FX(t_migrate),
        FX(t_def_put),
        FX(t_def_list),
        FX(t_def_remove),
        FX(t_enqueue_dedup),
        FX(t_claim_order),
        FX(t_heartbeat),
        FX(t_commit),
        FX(t_commit_empty_covered),
        FX(t_commit_lease_lost),
        FX(t_fail),
        FX(t_fail_keep_attempt),
        FX(t_requeue_expired),
        FX(t_requeue_dead_owner),
        FX(t_revive_dead),
        FX(t_tick_replans_dead),
        FX(t_retry_failed),
        FX(t_runs_list),
        FX(t_next_event),
        FX(t_series_load),
        FX(t_series_load_many),
        FX(t_series_load_snapshot),
        FX(t_bars),
        FX(t_leader),
        FX(t_concurrent_claims),
        FX(t_claim_many),
        FX(t_claim_many_concurrent),
        FX(t_commit_many),
        FX(t_bars_source),
        FX(t_commit_many_merge),
        FX(t_take_token),
        FX(t_reserve_token),
        FX(t_rate_limited),
        FX(t_take_token_concurrent),
        FX(t_coverage_add),
        FX(t_bars_series),
    };
    return cmocka_run_group_tests_name(url ? "store (BK_TEST_DB_URL)" : "store (sqlite)", tests,
                                       NULL, NULL);
}

static int sqlite_suite(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_sqlite_corrupt),
        cmocka_unit_test(t_sqlite_newer_schema),
        cmocka_unit_test(t_sqlite_bad_path),
        cmocka_unit_test(t_sqlite_listen),
    };
    return cmocka_run_group_tests_name("store sqlite-only", tests, NULL, NULL);
}

static int pg_suite(const char *url)
{
    g_base_url = url;
    const struct CMUnitTest tests[] = {
        FX(t_pg_microseconds),        FX(t_pg_coverage_gaps),  FX(t_pg_guide_sql),
        FX(t_pg_concurrent_claims),   FX(t_pg_reconnect),      FX(t_pg_leader_session),
        FX(t_pg_leader_lost_session), FX(t_pg_notify),         FX(t_pg_notify_lost),
        FX(t_pg_migrate_1_to_2),      FX(t_pg_migrate_5_to_6), FX(t_pg_migrate_6_to_7),
        FX(t_pg_clock_skew),
    };
    return cmocka_run_group_tests_name("store postgres-only", tests, NULL, NULL);
}

int main(void)
{
    const char *url = getenv("BK_TEST_DB_URL");
    int fails = generic_suite(url && *url ? url : NULL);
    if (url && *url && strncmp(url, "postgres", 8) == 0)
        fails += pg_suite(url);
    fails += sqlite_suite();
    return fails ? 1 : 0;
}
