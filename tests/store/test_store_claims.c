/*
 * test_store_claims.c — the queue under load: claims from several
 * threads (and, on PostgreSQL, from 8 connections), batch claims, batch
 * commits and how they merge coverage.
 *
 * The fixture, the helpers and how the groups run: store_fixture.h.
 */
#include "store_fixture.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

enum { N_PG_THREADS = 8, N_PG_RUNS = 400 };

/* 8 connections claim 400 runs at once: each run exactly once. */
static void t_pg_concurrent_claims(void **state)
{
    fixture *fx = *state;
    enqueue_minutes(fx, N_PG_RUNS, (const char *const[]){"MSFT", "AAPL", "AAPL"}, 3, 7);
    claim_concurrently(fx, claim_thread, N_PG_THREADS, N_PG_RUNS, "pg-worker");
}

/* ---- suites ---- */

static const struct CMUnitTest generic[] = {
    FX(t_concurrent_claims), FX(t_claim_many),        FX(t_claim_many_concurrent),
    FX(t_commit_many),       FX(t_commit_many_merge),
};

static const struct CMUnitTest pg_only[] = {
    FX(t_pg_concurrent_claims),
};

int main(void)
{
    const store_suite suite = {
        .name = "claims",
        .generic = generic,
        .n_generic = BK_ARRAY_LEN(generic),
        .pg_only = pg_only,
        .n_pg_only = BK_ARRAY_LEN(pg_only),
    };
    return store_suite_main(&suite);
}
