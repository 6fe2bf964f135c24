/*
 * test_store_runs.c — the queue of runs one at a time: enqueue and its
 * dedup, claim order, heartbeats and leases, commit, failure and retry,
 * expired leases and dead owners, dead letters and their revival, listing
 * runs, the queue's next event, and the scheduler's leadership lease.
 *
 * The fixture, the helpers and how the groups run: store_fixture.h.
 */
#include "store_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/plan.h"

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

/* ---- suites ---- */

static const struct CMUnitTest generic[] = {
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
    FX(t_leader),
};

int main(void)
{
    const store_suite suite = {
        .name = "runs",
        .generic = generic,
        .n_generic = BK_ARRAY_LEN(generic),
    };
    return store_suite_main(&suite);
}
