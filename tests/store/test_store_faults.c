/*
 * test_store_faults.c — the error paths of the worker and the planner, on a
 * store that fails on command (store_fail.h) in front of a real one (the
 * suite's fixture: a SQLite file, or BK_TEST_DB_URL's database).
 *
 * Each test makes one call (or every call from the nth on) fail with a
 * store error (BK_ESTORE "disk full", BK_EBUSY), runs the real
 * bk_work_execute or bk_plan_tick, and asserts what the caller was told and
 * what the real store holds afterwards, read through a second connection
 * the fault does not touch: a run whose commit failed is not a success and
 * left no bars or coverage; a tick whose store failed enqueued nothing. The
 * sweeps fail each call of a whole execute or tick in turn, so every store
 * call the worker and the planner make has its failure tried.
 *
 * The fixture, the helpers and how the groups run: store_fixture.h.
 */
#include "store_fixture.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cal/cal.h"
#include "conf/conf.h"
#include "core/log.h"
#include "model/time.h"
#include "plan/plan.h"
#include "prov/prov.h"
#include "store/store_impl.h" /* bk_store__set_open_hook */
#include "store_fail.h"
#include "work/work.h"

#define OWNER "w-faults"
#define FULL  "disk full"

/* ---- the worker's side ---- */

/* The 2h cell 10:00-12:00 New York of Tuesday 2024-06-04: 120 minute bars,
 * 5 pages of 25. */
static int64_t cell_from(void)
{
    return bk_cal_ny_to_utc(bk_days_from_civil(2024, 6, 4), 10, 0);
}

/* A provider that always answers 5xx. */
static int broken_fetch(bk_prov *p, const bk_fetch_req *req, bk_page *out, bk_err *err)
{
    (void)p;
    (void)req;
    (void)out;
    return bk_err_set(err, BK_EPROV_5XX, "broken: 503");
}

static void broken_free(bk_prov *p)
{
    (void)p;
}

static const bk_prov_ops broken_ops = {.fetch = broken_fetch, .free = broken_free};

typedef struct wfx {
    fixture *fx;
    bk_store *s;    /* the worker's connection, failing on command */
    store_fail *sf; /* its faults */
    bk_store *look; /* another connection: what the store really holds */
    bk_prov *sim;
    bk_prov broken;
    bk_conf conf;
    bk_work_env env;
    int events, successes; /* events the worker emitted */
} wfx;

static void on_event(void *ctx, const bk_run *run)
{
    wfx *w = ctx;
    w->events++;
    w->successes += run->status == BK_ST_SUCCESS;
}

static void wfx_init(wfx *w, fixture *fx)
{
    memset(w, 0, sizeof *w);
    w->fx = fx;
    w->s = fx->s;
    w->sf = store_fail_wrap(fx->s); /* freed when the fixture closes fx->s */
    w->look = open_or_die(fx->url);
    bk_sim_opts o;
    bk_sim_opts_default(&o);
    o.page_size = 25;
    o.anchor = BK_ANCHOR_SESSION;
    OK(bk_sim_new(&w->sim, &o, ERR));
    w->broken = (bk_prov){.ops = &broken_ops, .name = "broken", .feed = "sim", .adjustment = "raw"};
    bk_conf_defaults(&w->conf);
    w->conf.retry_base_ms = 1;
    w->conf.retry_max_ms = 4;
    w->conf.page_retries = 0;
    w->conf.provider_rate_per_s = 1e6; /* every page takes a budget token: never a wait */
    w->conf.provider_burst = 1e6;
    w->env = (bk_work_env){.prov = w->sim, .conf = &w->conf, .on_event = on_event, .event_ctx = w};
}

static void wfx_fini(wfx *w)
{
    bk_store_close(w->look);
    bk_prov_free(w->sim);
}

/* Enqueue the cell's run of sym's 1m bars (through the real connection)
 * and claim it as OWNER. */
static bk_run enqueue_claim(wfx *w, const char *sym)
{
    int64_t from = cell_from(), now = bk_clock_now_us();
    bk_run r = mk_run(sym, BK_TF_1M, from, from + 2 * H, 1), c;
    assert_true(enqueue1(w->look, &r, now));
    OK(bk_store_run_claim_id(w->look, r.id, OWNER, now, w->conf.lease_ms * BK_US_PER_MS, &c, ERR));
    return c;
}

/* What the real store holds of sym's 1m series: rows, and whether any of
 * the cell is covered. */
static void held(wfx *w, const char *sym, int64_t *n_bars, bool *covered)
{
    *n_bars = bars_count(w->look, sym, BK_TF_1M);
    bk_series *v = NULL;
    size_t n = 0;
    OK(bk_store_series_load(w->look, sym, BK_TF_1M, &v, &n, ERR));
    *covered = n == 1 && v[0].covered.n > 0;
    bk_series_free(v, n);
}

/* The run was executed as if the store had failed under it: not a
 * success, in the store or in what the worker said, and nothing of it
 * written. */
static void expect_nothing_written(wfx *w, const bk_run *c, const bk_outcome *out)
{
    assert_int_not_equal(out->status, BK_ST_SUCCESS);
    assert_int_equal(w->successes, 0);
    bk_run r = get_run(w->look, c->id);
    assert_int_not_equal(r.status, BK_ST_SUCCESS);
    int64_t n = -1;
    bool covered = true;
    held(w, c->symbol, &n, &covered);
    assert_int_equal(n, 0);
    assert_false(covered);
}

/* The commit fails (a full disk, a busy database): execute says so with
 * the store's message, the run is still running under its lease (not
 * recorded as a success, not failed: the lease expires), and the store
 * holds no bar and no coverage of it. */
static void t_work_commit_fails(void **state)
{
    wfx w;
    wfx_init(&w, *state);
    const int codes[] = {BK_ESTORE, BK_EBUSY};
    const char *syms[] = {"AAPL", "MSFT"};
    for (int i = 0; i < 2; i++) {
        bk_run c = enqueue_claim(&w, syms[i]);
        store_fail_set(w.sf, "run_commit", 1, 1, codes[i], FULL);
        bk_outcome out;
        bk_err err = {0};
        assert_int_equal(bk_work_execute(w.s, &w.env, OWNER, &c, &out, &err), codes[i]);
        assert_int_equal(store_fail_failed(w.sf, "run_commit"), i + 1);
        assert_non_null(strstr(err.msg, FULL));
        assert_int_equal(out.status, BK_ST_RUNNING);
        expect_nothing_written(&w, &c, &out);
        bk_run r = get_run(w.look, c.id);
        assert_int_equal(r.status, BK_ST_RUNNING);
        assert_string_equal(r.lease_owner, OWNER);
    }
    /* The next run, the store well again, is a success. */
    store_fail_clear(w.sf);
    bk_run c = enqueue_claim(&w, "NVDA");
    bk_outcome out;
    OK(bk_work_execute(w.s, &w.env, OWNER, &c, &out, ERR));
    assert_int_equal(out.status, BK_ST_SUCCESS);
    assert_int_equal(bars_count(w.look, "NVDA", BK_TF_1M), 120);
    wfx_fini(&w);
}

/* A heartbeat fails: the run stops at once without committing or recording
 * a failure (its lease will expire), the store's error surfaces. */
static void t_work_heartbeat_fails(void **state)
{
    wfx w;
    wfx_init(&w, *state);
    bk_run c = enqueue_claim(&w, "AAPL");
    store_fail_set(w.sf, "run_heartbeat", 2, 1, BK_EBUSY, FULL);
    bk_outcome out;
    bk_err err = {0};
    assert_int_equal(bk_work_execute(w.s, &w.env, OWNER, &c, &out, &err), BK_EBUSY);
    assert_non_null(strstr(err.msg, FULL));
    assert_int_equal(store_fail_calls(w.sf, "run_heartbeat"), 2);
    assert_int_equal(store_fail_calls(w.sf, "run_commit"), 0);
    assert_int_equal(store_fail_calls(w.sf, "run_fail"), 0);
    expect_nothing_written(&w, &c, &out);
    bk_run r = get_run(w.look, c.id);
    assert_int_equal(r.status, BK_ST_RUNNING);
    assert_string_equal(r.lease_owner, OWNER);
    wfx_fini(&w);
}

/* The provider fails and recording the failure fails too: execute returns
 * the store's error, and the run is neither requeued nor dead-lettered
 * (no event claims it was). */
static void t_work_fail_record_fails(void **state)
{
    wfx w;
    wfx_init(&w, *state);
    w.env.prov = &w.broken;
    bk_run c = enqueue_claim(&w, "AAPL");
    store_fail_set(w.sf, "run_fail", 1, -1, BK_ESTORE, FULL);
    bk_outcome out;
    bk_err err = {0};
    assert_int_equal(bk_work_execute(w.s, &w.env, OWNER, &c, &out, &err), BK_ESTORE);
    assert_non_null(strstr(err.msg, FULL));
    assert_int_equal(store_fail_failed(w.sf, "run_fail"), 1);
    assert_int_equal(w.events, 0);
    expect_nothing_written(&w, &c, &out);
    bk_run r = get_run(w.look, c.id);
    assert_int_equal(r.status, BK_ST_RUNNING);
    assert_int_equal(r.attempt, 1);
    wfx_fini(&w);
}

/* The provider budget's store fails: the attempt fails as an i/o error,
 * retryable: the run is queued again for its second attempt, no bars. */
static void t_work_budget_fails(void **state)
{
    wfx w;
    wfx_init(&w, *state);
    bk_run c = enqueue_claim(&w, "AAPL");
    c.max_attempts = 3;
    store_fail_set(w.sf, "take_token", 1, -1, BK_ESTORE, FULL);
    bk_outcome out;
    OK(bk_work_execute(w.s, &w.env, OWNER, &c, &out, ERR));
    assert_int_equal(out.status, BK_ST_QUEUED);
    assert_int_equal(out.code, BK_EIO);
    assert_int_equal(store_fail_calls(w.sf, "run_commit"), 0);
    expect_nothing_written(&w, &c, &out);
    bk_run r = get_run(w.look, c.id);
    assert_int_equal(r.status, BK_ST_QUEUED);
    assert_int_equal(r.attempt, 2);
    assert_string_equal(r.error_code, bk_err_run_code(BK_EIO));
    assert_non_null(strstr(r.error_message, FULL));
    wfx_fini(&w);
}

/* Every store call of one execute fails in turn (the kth call of any op,
 * from k = 1 until a run needs fewer calls): whatever failed, the run is a
 * success in the store exactly when execute said so, and only then are
 * its bars and coverage there; a failure execute returns carries the
 * store's message. */
static void t_work_sweep(void **state)
{
    wfx w;
    wfx_init(&w, *state);
    int k = 0;
    for (bool done = false; !done; k++) {
        char sym[8];
        snprintf(sym, sizeof sym, "S%c%c", 'A' + k / 26, 'A' + k % 26);
        bk_run c = enqueue_claim(&w, sym);
        c.max_attempts = 3;
        w.successes = 0;
        store_fail_set(w.sf, NULL, k + 1, 1, BK_ESTORE, FULL);
        int failed0 = store_fail_failed(w.sf, NULL);
        bk_outcome out;
        bk_err err = {0};
        int rc = bk_work_execute(w.s, &w.env, OWNER, &c, &out, &err);
        done = store_fail_failed(w.sf, NULL) == failed0; /* the fault was never reached */
        bk_run r = get_run(w.look, c.id);
        int64_t n = -1;
        bool covered = false;
        held(&w, sym, &n, &covered);
        bool ok = rc == 0 && out.status == BK_ST_SUCCESS;
        if (ok != (r.status == BK_ST_SUCCESS) || ok != (n == 120) || ok != covered ||
            ok != (w.successes == 1) || (!ok && n != 0) || (rc && !strstr(err.msg, FULL)))
            fail_msg("call %d failed: rc %s, outcome %d, run %d, %lld bars, covered %d: %s", k + 1,
                     bk_err_name(rc), out.status, r.status, (long long)n, covered, err.msg);
        assert_int_equal(ok, done);
    }
    assert_true(k > 5); /* budget, heartbeats and commit were all tried */
    wfx_fini(&w);
}

/* Every store a pool opens, wrapped, its claims failing from the start. */
typedef struct opened {
    pthread_mutex_t lock;
    const char *op; /* the claim op the pool uses */
    store_fail *v[8];
    int n;
} opened;

static void wrap_opened(void *ctx, bk_store *s)
{
    opened *o = ctx;
    store_fail *f = store_fail_wrap(s);
    store_fail_set(f, o->op, 1, -1, BK_ESTORE, FULL);
    pthread_mutex_lock(&o->lock);
    if (o->n < 8)
        o->v[o->n++] = f;
    pthread_mutex_unlock(&o->lock);
}

/* The pool's claims fail (one at a time, then in batches): the pool says
 * it is failing, with the store's message, and the run stays queued,
 * unclaimed; once the store is well again the run is claimed and
 * succeeds, and the pool is no longer failing. */
static void t_pool_claim_fails(void **state)
{
    wfx w;
    wfx_init(&w, *state);
    const int batch[] = {1, 4};
    const char *ops[] = {"run_claim", "runs_claim_many"};
    const char *syms[] = {"AAPL", "MSFT"};
    for (int i = 0; i < 2; i++) {
        opened o = {.op = ops[i]};
        pthread_mutex_init(&o.lock, NULL);
        w.conf.claim_batch = batch[i];
        int64_t from = cell_from();
        bk_run r = mk_run(syms[i], BK_TF_1M, from, from + 2 * H, 1);
        assert_true(enqueue1(w.look, &r, bk_clock_now_us()));
        bk_store__set_open_hook(wrap_opened, &o);
        bk_pool *p = NULL;
        bk_pool_opts po = {.db_url = w.fx->url, .threads = 1, .env = w.env};
        OK(bk_pool_start(&p, &po, ERR));
        char why[256] = "";
        int64_t deadline = bk_clock_mono_us() + 10 * S;
        while (!bk_pool_failing(p, why, sizeof why) && bk_clock_mono_us() < deadline)
            bk_pool_wait_progress(p, 20 * BK_US_PER_MS);
        assert_non_null(strstr(why, FULL));
        int n_failed = 0;
        pthread_mutex_lock(&o.lock);
        for (int k = 0; k < o.n; k++)
            n_failed += store_fail_failed(o.v[k], ops[i]);
        pthread_mutex_unlock(&o.lock);
        assert_true(n_failed > 0);
        assert_int_equal(get_run(w.look, r.id).status, BK_ST_QUEUED);
        pthread_mutex_lock(&o.lock);
        for (int k = 0; k < o.n; k++)
            store_fail_clear(o.v[k]);
        pthread_mutex_unlock(&o.lock);
        bk_pool_wake(p);
        int64_t finished = 0, dead = 0;
        while (finished == 0 && bk_clock_mono_us() < deadline) {
            bk_pool_wait_progress(p, 20 * BK_US_PER_MS);
            bk_pool_counts(p, &finished, &dead);
        }
        assert_int_equal(finished, 1);
        assert_false(bk_pool_failing(p, NULL, 0));
        bk_pool_stop(p);
        bk_store__set_open_hook(NULL, NULL);
        pthread_mutex_destroy(&o.lock);
        assert_int_equal(get_run(w.look, r.id).status, BK_ST_SUCCESS);
        assert_int_equal(bars_count(w.look, syms[i], BK_TF_1M), 120);
    }
    wfx_fini(&w);
}

/* ---- the planner's side ---- */

typedef struct pfx {
    bk_store *s;    /* the planner's connection, failing on command */
    store_fail *sf; /* its faults */
    bk_store *look; /* another connection */
    bk_conf conf;
    bk_plan_cfg cfg;
    int announced; /* runs the tick announced as enqueued (cfg.on_enqueue) */
} pfx;

#define PLAN_NOW INT64_C(1717534800000000) /* 2024-06-04T21:00:00Z, Tuesday after the close */

static void on_enqueue(void *ctx, const bk_run *run)
{
    (void)run;
    ((pfx *)ctx)->announced++;
}

/* Two series defined, and two runs of the first: one whose lease expired,
 * one dead-lettered a while ago, so that a tick calls every store op it
 * has: requeue, revive, definitions, series, enqueue. */
static void pfx_init(pfx *p, fixture *fx)
{
    memset(p, 0, sizeof *p);
    p->s = fx->s;
    p->look = open_or_die(fx->url);
    bk_def a = mk_def("AAPL", BK_TF_1H, 2, 10), m = mk_def("MSFT", BK_TF_D1, 30, 5);
    OK(bk_store_def_put(p->look, &a, BK_PUT_SET, NULL, PLAN_NOW - H, ERR));
    OK(bk_store_def_put(p->look, &m, BK_PUT_SET, NULL, PLAN_NOW - H, ERR));
    bk_run lost = mk_run("AAPL", BK_TF_1H, T0, T0 + H, 1), got;
    bk_run dead = mk_run("AAPL", BK_TF_1H, T0 + H, T0 + 2 * H, 1);
    bk_strlcpy(lost.def_id, a.id, sizeof lost.def_id);
    bk_strlcpy(dead.def_id, a.id, sizeof dead.def_id);
    assert_true(enqueue1(p->look, &lost, PLAN_NOW - H));
    assert_true(enqueue1(p->look, &dead, PLAN_NOW - H));
    OK(bk_store_run_claim_id(p->look, lost.id, "w-gone", PLAN_NOW - H, 60 * S, &got, ERR));
    OK(bk_store_run_claim_id(p->look, dead.id, "w", PLAN_NOW - H, 60 * S, &got, ERR));
    bk_failure f = mk_failure(&got, "w", PLAN_NOW - H, 0);
    OK(bk_store_run_fail(p->look, &f, ERR));
    bk_conf_defaults(&p->conf);
    p->conf.dead_retry_after_s = 600;
    bk_plan_cfg_from_conf(&p->cfg, &p->conf, 0);
    p->cfg.on_enqueue = on_enqueue;
    p->cfg.hook_ctx = p;
    p->sf = store_fail_wrap(fx->s); /* freed when the fixture closes fx->s */
}

/* Runs by status in the real store. */
static void statuses(pfx *p, int64_t counts[BK_ST__N])
{
    bk_run_filter f = {.status = -1, .tf = -1};
    memset(counts, 0, BK_ST__N * sizeof *counts);
    OK(bk_store_runs_count(p->look, &f, counts, ERR));
}

static int64_t total(const int64_t c[BK_ST__N])
{
    int64_t n = 0;
    for (int i = 0; i < BK_ST__N; i++)
        n += c[i];
    return n;
}

/* A failed tick enqueued nothing: the store holds the two runs of the
 * setup only (requeued or revived when the steps doing that, each its own
 * transaction, came before the failure), none announced. */
static void expect_nothing_enqueued(pfx *p, const bk_tick_stats *t)
{
    int64_t c[BK_ST__N];
    statuses(p, c);
    assert_int_equal(total(c), 2);
    assert_int_equal(t->enqueued, 0);
    assert_int_equal(p->announced, 0);
}

/* Each store op of the tick fails in turn (BK_ESTORE, BK_EBUSY by turns):
 * the tick returns the store's code and message and enqueues nothing (and when the first steps
 * fail, changes nothing); the next tick, the store well again, does the whole work: the lost and
 * the dead run queued again, every free slice enqueued and announced. */
static void t_plan_op_fails(void **state)
{
    static const char *const ops[] = {"runs_list", "runs_requeue_expired", "runs_revive_dead",
                                      "def_list",  "series_load",          "runs_enqueue"};
    for (size_t i = 0; i < BK_ARRAY_LEN(ops); i++) {
        int code = i % 2 ? BK_EBUSY : BK_ESTORE;
        if (i > 0) { /* a fresh store per case */
            fixture_teardown(state);
            fixture_setup(state);
        }
        pfx p;
        pfx_init(&p, *state);
        store_fail_set(p.sf, ops[i], 1, -1, code, FULL);
        bk_tick_stats t;
        bk_err err = {0};
        int rc = bk_plan_tick(p.s, &p.cfg, NULL, PLAN_NOW, "tick", &t, &err);
        if (rc != code || !strstr(err.msg, FULL))
            fail_msg("%s failing: tick returned %s: %s", ops[i], bk_err_name(rc), err.msg);
        assert_int_equal(store_fail_failed(p.sf, ops[i]), 1);
        expect_nothing_enqueued(&p, &t);
        int64_t c[BK_ST__N];
        if (i < 2) { /* before the requeue: nothing changed */
            statuses(&p, c);
            assert_int_equal(c[BK_ST_RUNNING], 1);
            assert_int_equal(c[BK_ST_FAILED], 1);
        }
        store_fail_clear(p.sf);
        OK(bk_plan_tick(p.s, &p.cfg, NULL, PLAN_NOW, "tick", &t, ERR));
        assert_true(t.planned > 0);
        assert_int_equal(t.enqueued, t.planned);
        assert_int_equal(p.announced, (int)t.planned);
        statuses(&p, c);
        assert_int_equal(c[BK_ST_QUEUED], 2 + (int64_t)t.enqueued);
        assert_int_equal(total(c), 2 + (int64_t)t.enqueued);
        bk_store_close(p.look);
    }
}

/* Where the process publishes its own changes (SQLite), no run is claimed
 * between its enqueue's commit and its INSERT event (a client would see
 * "running" before "queued"): the planner holds publish_order through its
 * on_enqueue calls, and the pool claims under it. */
static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_enqueue_ordered(void *ctx, const bk_run *run)
{
    (void)run;
    assert_int_equal(pthread_mutex_trylock(&order_lock), EBUSY);
    ((pfx *)ctx)->announced++;
}

static void t_publish_order(void **state)
{
    pfx p;
    pfx_init(&p, *state);
    p.cfg.on_enqueue = on_enqueue_ordered;
    p.cfg.publish_order = &order_lock;
    bk_tick_stats t;
    OK(bk_plan_tick(p.s, &p.cfg, NULL, PLAN_NOW, "tick", &t, ERR));
    assert_true(t.planned > 0);
    assert_int_equal(p.announced, (int)t.planned);
    assert_int_equal(pthread_mutex_trylock(&order_lock), 0); /* released */
    pthread_mutex_unlock(&order_lock);
    bk_store_close(p.look);
    fixture_teardown(state); /* a fresh store: the pool's only run is r */
    fixture_setup(state);

    wfx w;
    wfx_init(&w, *state);
    w.env.publish_order = &order_lock;
    int64_t from = cell_from();
    bk_run r = mk_run("AAPL", BK_TF_1M, from, from + 2 * H, 1);
    pthread_mutex_lock(&order_lock); /* an enqueue not yet announced */
    assert_true(enqueue1(w.look, &r, bk_clock_now_us()));
    bk_pool *pool = NULL;
    bk_pool_opts po = {.db_url = w.fx->url, .threads = 1, .env = w.env};
    OK(bk_pool_start(&pool, &po, ERR));
    bk_pool_wake(pool);
    int64_t finished = 0, dead = 0;
    bk_pool_wait_progress(pool, 200 * BK_US_PER_MS); /* a worker would claim it here */
    bk_pool_counts(pool, &finished, &dead);
    assert_int_equal(finished, 0);
    assert_int_equal(get_run(w.look, r.id).status, BK_ST_QUEUED);
    pthread_mutex_unlock(&order_lock);
    bk_pool_wake(pool);
    int64_t deadline = bk_clock_mono_us() + 20 * BK_US_PER_S;
    while (finished == 0 && bk_clock_mono_us() < deadline) {
        bk_pool_wait_progress(pool, 20 * BK_US_PER_MS);
        bk_pool_counts(pool, &finished, &dead);
    }
    assert_int_equal(finished, 1);
    bk_pool_stop(pool);
    assert_int_equal(get_run(w.look, r.id).status, BK_ST_SUCCESS);
    wfx_fini(&w);
}

/* The kth store call of a tick fails, for every k up to the tick's last
 * call: the tick fails with the store's code and nothing is enqueued, or
 * (a call after the enqueue) the tick succeeds whole. */
static void t_plan_sweep(void **state)
{
    pfx p;
    pfx_init(&p, *state);
    int k = 0;
    for (bool done = false; !done; k++) {
        store_fail_set(p.sf, NULL, k + 1, 1, BK_ESTORE, FULL);
        int failed0 = store_fail_failed(p.sf, NULL);
        bk_tick_stats t;
        bk_err err = {0};
        int rc = bk_plan_tick(p.s, &p.cfg, NULL, PLAN_NOW, "tick", &t, &err);
        done = store_fail_failed(p.sf, NULL) == failed0;
        if (!done && rc == 0)
            continue; /* a call after the tick's writes (announcing requeued runs) */
        if (!done) {
            if (rc != BK_ESTORE || !strstr(err.msg, FULL))
                fail_msg("call %d failing: tick returned %s: %s", k + 1, bk_err_name(rc), err.msg);
            expect_nothing_enqueued(&p, &t);
        } else {
            OK(rc);
            assert_true(t.enqueued > 0);
            assert_int_equal(p.announced, (int)t.enqueued);
        }
    }
    assert_true(k >= 6);
    bk_store_close(p.look);
}

/* ---- suites ---- */

static const struct CMUnitTest generic[] = {
    FX(t_work_commit_fails), FX(t_work_heartbeat_fails), FX(t_work_fail_record_fails),
    FX(t_work_budget_fails), FX(t_work_sweep),           FX(t_pool_claim_fails),
    FX(t_plan_op_fails),     FX(t_plan_sweep),           FX(t_publish_order),
};

int main(void)
{
    bk_log_setup(getenv("BK_TEST_LOG") ? BK_LOG_DEBUG : BK_LOG_OFF, BK_LOG_KV);
    const store_suite suite = {
        .name = "store faults",
        .generic = generic,
        .n_generic = BK_ARRAY_LEN(generic),
    };
    return store_suite_main(&suite);
}
