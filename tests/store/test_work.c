/*
 * test_work.c — the worker (bk_work_execute, bk_work_backoff_us, the pool)
 * against a real SQLite store in a temporary directory and a fake provider.
 *
 * The fake provider implements bk_prov_ops: it serves correct bars by
 * delegating to an inner sim provider with a small page size, counts its
 * calls, and can be told to misbehave on the Nth call (and the calls after
 * it): return an error code (with Retry-After), spoil a bar, repeat the page
 * token, slip in an extended-hours bar, sleep, or run a hook (steal the
 * lease, set the stop flag, requeue expired leases while a page is slow).
 * Runs are set up as the planner does: a definition, an enqueued run, a
 * claim. The clock is fixed after the slices, so every slice has closed.
 *
 * Hooks that run on pool threads never assert (cmocka's failure jump must
 * happen on the test thread): they record, and the test checks afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cal/cal.h"
#include "conf/conf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "model/time.h"
#include "prov/prov.h"
#include "store/store.h"
#include "testutil.h"
#include "work/work.h"

#define S  BK_US_PER_S
#define MS BK_US_PER_MS

#define PAGE_SIZE 25 /* a 2h slice of 1m bars (120) is 5 pages */
#define SYM       "ACME"
#define OWNER     "w-test"

static int64_t ny(int y, int m, int d, int h, int min)
{
    return bk_cal_ny_to_utc(bk_days_from_civil(y, m, d), h, min);
}

/* ---- the fake provider ---- */

enum fault {
    F_NONE,
    F_ERROR,    /* fail with code (and retry_after_ms) */
    F_INVALID,  /* serve the page with one bar's high below its low */
    F_REPEAT,   /* serve the page, next_token = the token asked for */
    F_EXTENDED, /* serve the page with an extended-hours bar (ext_ts_us) in front */
    F_SLEEP,    /* sleep sleep_us, then serve */
    F_HOOK,     /* run hook(hook_ctx), then serve */
};

typedef struct fake {
    bk_prov prov;   /* what the worker sees; prov.impl points here */
    bk_prov *inner; /* the sim that makes the bars */
    /* Set before a run starts, read-only while it runs. */
    enum fault fault;
    int fault_call; /* first misbehaving call (1-based); 0 = never */
    int fault_n;    /* misbehaving calls from fault_call on: 0 or 1 = one, -1 = all */
    int code;
    int64_t retry_after_ms;
    int64_t sleep_us;
    int64_t ext_ts_us;
    void (*hook)(void *ctx);
    void *hook_ctx;
    atomic_int calls;
    atomic_int last_attempt; /* req->attempt of the latest call */
} fake;

static bool fault_hits(const fake *f, int call)
{
    if (f->fault == F_NONE || f->fault_call <= 0 || call < f->fault_call)
        return false;
    return f->fault_n < 0 || call < f->fault_call + BK_MAX(f->fault_n, 1);
}

static void push_front(bk_page *pg, const bk_bar *b)
{
    bk_page_push(pg, b);
    memmove(pg->bars + 1, pg->bars, (pg->n - 1) * sizeof *pg->bars);
    pg->bars[0] = *b;
}

static int fake_fetch(bk_prov *p, const bk_fetch_req *req, bk_page *out, bk_err *err)
{
    fake *f = p->impl;
    int call = atomic_fetch_add(&f->calls, 1) + 1;
    atomic_store(&f->last_attempt, req->attempt);
    if (!fault_hits(f, call))
        return bk_prov_fetch(f->inner, req, out, err);
    if (f->fault == F_ERROR) {
        int rc = bk_err_set(err, f->code, "fake: told to fail call %d", call);
        err->retry_after_ms = f->retry_after_ms;
        return rc;
    }
    if (f->fault == F_SLEEP)
        bk_sleep_us(f->sleep_us); /* a slow provider, not synchronisation */
    if (f->fault == F_HOOK) {
        f->hook(f->hook_ctx);
        if (f->code) /* the hook ran, then the call fails */
            return bk_err_set(err, f->code, "fake: hook then fail on call %d", call);
    }
    int rc = bk_prov_fetch(f->inner, req, out, err);
    if (rc)
        return rc;
    if (f->fault == F_INVALID && out->n > 0) {
        bk_bar *b = &out->bars[out->n / 2];
        b->high = b->low - 0.01;
    } else if (f->fault == F_REPEAT) {
        bk_strlcpy(out->next_token, req->page_token ? req->page_token : "", sizeof out->next_token);
    } else if (f->fault == F_EXTENDED) {
        bk_bar ext = {.ts_us = f->ext_ts_us,
                      .open = 100,
                      .high = 101,
                      .low = 99,
                      .close = 100.5,
                      .volume = 1000};
        push_front(out, &ext);
    }
    return 0;
}

static void fake_free(bk_prov *p)
{
    fake *f = p->impl;
    bk_prov_free(f->inner);
    f->inner = NULL;
}

static const bk_prov_ops fake_ops = {.fetch = fake_fetch, .free = fake_free};

static void fake_init(fake *f)
{
    memset(f, 0, sizeof *f);
    bk_sim_opts o;
    bk_sim_opts_default(&o);
    o.page_size = PAGE_SIZE;
    o.anchor = BK_ANCHOR_SESSION;
    bk_err err = {0};
    if (bk_sim_new(&f->inner, &o, &err) != 0)
        fail_msg("sim: %s", err.msg);
    f->prov.ops = &fake_ops;
    bk_strlcpy(f->prov.name, "fake", sizeof f->prov.name);
    bk_strlcpy(f->prov.feed, "sim", sizeof f->prov.feed);
    bk_strlcpy(f->prov.adjustment, "raw", sizeof f->prov.adjustment);
    f->prov.anchor = BK_ANCHOR_SESSION;
    f->prov.delay_us = 0;
    f->prov.impl = f;
    atomic_init(&f->calls, 0);
    atomic_init(&f->last_attempt, 0);
}

static void fake_fail(fake *f, int call, int n, int code, int64_t retry_after_ms)
{
    f->fault = F_ERROR;
    f->fault_call = call;
    f->fault_n = n;
    f->code = code;
    f->retry_after_ms = retry_after_ms;
}

static void fake_hook(fake *f, int call, void (*hook)(void *), void *ctx)
{
    f->fault = F_HOOK;
    f->fault_call = call;
    f->hook = hook;
    f->hook_ctx = ctx;
    f->code = 0;
}

/* ---- the event recorder ---- */

typedef struct event {
    char run_id[BK_ID_MAX];
    bk_status status;
    double progress;
    int attempt;
} event;

typedef struct recorder {
    pthread_mutex_t lock;
    event *v;
    size_t n, cap;
    /* Runs on the worker's thread after recording (may be NULL). */
    void (*hook)(void *ctx, const bk_run *run);
    void *hook_ctx;
} recorder;

static void on_event(void *ctx, const bk_run *run)
{
    recorder *r = ctx;
    pthread_mutex_lock(&r->lock);
    bk_grow((void **)&r->v, &r->cap, r->n + 1, sizeof *r->v);
    event *e = &r->v[r->n++];
    bk_strlcpy(e->run_id, run->id, sizeof e->run_id);
    e->status = run->status;
    e->progress = run->progress_percent;
    e->attempt = run->attempt;
    pthread_mutex_unlock(&r->lock);
    if (r->hook)
        r->hook(r->hook_ctx, run);
}

/* ---- fixture ---- */

typedef struct fixture {
    char *dir, *url;
    bk_store *s;  /* the worker's connection */
    bk_store *s2; /* another party's connection (scheduler, another worker) */
    fake fk;
    bk_conf conf;
    recorder rec;
    atomic_bool stop;
    bk_work_env env;
    /* Written by hooks, checked by the test afterwards. */
    atomic_int hook_rc;
    atomic_long hook_n;
    bk_run stolen; /* the run as the other party left it */
} fixture;

#define OK(call)                                                                                   \
    do {                                                                                           \
        bk_err err_ = {0};                                                                         \
        int rc_ = (call);                                                                          \
        if (rc_ != 0)                                                                              \
            fail_msg("%s -> %s: %s", #call, bk_err_name(rc_), err_.msg);                           \
    } while (0)
#define ERR (&err_)

static bk_store *open_migrated(const char *url)
{
    bk_err err = {0};
    bk_store *s = NULL;
    if (bk_store_open(&s, url, &err) != 0)
        fail_msg("open %s: %s", url, err.msg);
    if (bk_store_migrate(s, NULL, &err) != 0)
        fail_msg("migrate: %s", err.msg);
    return s;
}

static int fixture_setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    fx->dir = bk_t_tmpdir("work");
    fx->url = bk_t_path(fx->dir, "barkeep.db");
    fx->s = open_migrated(fx->url);
    fx->s2 = open_migrated(fx->url);
    fake_init(&fx->fk);
    bk_conf_defaults(&fx->conf);
    fx->conf.retry_base_ms = 1;
    fx->conf.retry_max_ms = 4;
    fx->conf.page_retries = 0;
    pthread_mutex_init(&fx->rec.lock, NULL);
    atomic_init(&fx->stop, false);
    atomic_init(&fx->hook_rc, 0);
    atomic_init(&fx->hook_n, 0);
    fx->env = (bk_work_env){.prov = &fx->fk.prov,
                            .conf = &fx->conf,
                            .on_event = on_event,
                            .event_ctx = &fx->rec,
                            .stop = &fx->stop};
    *state = fx;
    return 0;
}

static int fixture_teardown(void **state)
{
    fixture *fx = *state;
    bk_store_close(fx->s);
    bk_store_close(fx->s2);
    bk_prov_free(&fx->fk.prov);
    pthread_mutex_destroy(&fx->rec.lock);
    free(fx->rec.v);
    bk_t_rmtree(fx->dir);
    free(fx->dir);
    free(fx->url);
    free(fx);
    return 0;
}

/* ---- helpers ---- */

/* The 2h cell 10:00-12:00 New York of Tuesday 2024-06-04: 120 minute bars. */
#define CELL_FROM ny(2024, 6, 4, 10, 0)
#define CELL_TO   ny(2024, 6, 4, 12, 0)

/* Define the series and enqueue one run of [from, to); returns it. */
static bk_run enqueue_as(fixture *fx, const char *sym, bk_tf tf, int64_t from, int64_t to,
                         int max_attempts, const char *triggered_by)
{
    int64_t now = bk_clock_now_us();
    bk_def d;
    memset(&d, 0, sizeof d);
    bk_strlcpy(d.symbol, sym, sizeof d.symbol);
    d.tf = tf;
    d.type = bk_job_for_tf(tf);
    d.window_days = 30;
    d.priority = 100;
    d.enabled = true;
    OK(bk_store_def_put(fx->s, &d, BK_PUT_SET, NULL, now, ERR));
    bk_run r;
    memset(&r, 0, sizeof r);
    bk_strlcpy(r.def_id, d.id, sizeof r.def_id);
    bk_strlcpy(r.symbol, sym, sizeof r.symbol);
    r.tf = tf;
    r.type = d.type;
    r.slice_from_us = from;
    r.slice_to_us = to;
    r.priority = d.priority;
    r.max_attempts = max_attempts;
    bk_strlcpy(r.triggered_by, triggered_by, sizeof r.triggered_by);
    size_t k = 0;
    OK(bk_store_runs_enqueue(fx->s, &r, 1, &k, now, ERR));
    assert_int_equal(k, 1);
    return r;
}

static bk_run enqueue(fixture *fx, const char *sym, bk_tf tf, int64_t from, int64_t to,
                      int max_attempts)
{
    return enqueue_as(fx, sym, tf, from, to, max_attempts, "tick");
}

/* A run of SYM's 1m bars over [from, to) triggered by triggered_by. */
static bk_run enqueue_by(fixture *fx, int64_t from, int64_t to, const char *triggered_by)
{
    return enqueue_as(fx, SYM, BK_TF_1M, from, to, 3, triggered_by);
}

/* Claim the next run as owner at now (or later, when it is not claimable yet). */
static bk_run claim(fixture *fx, const char *owner, int64_t at_least_us)
{
    bk_run r;
    int64_t now = BK_MAX(bk_clock_now_us(), at_least_us);
    OK(bk_store_run_claim(fx->s, owner, now, fx->conf.lease_ms * MS, &r, ERR));
    assert_int_equal(r.status, BK_ST_RUNNING);
    return r;
}

static int execute(fixture *fx, bk_run *run, bk_outcome *out)
{
    bk_err err = {0};
    return bk_work_execute(fx->s, &fx->env, OWNER, run, out, &err);
}

static bk_run get_run(bk_store *s, const char *id)
{
    bk_run r;
    OK(bk_store_run_get(s, id, &r, ERR));
    return r;
}

static int64_t count_bars(fixture *fx, const char *sym, bk_tf tf)
{
    int64_t n = -1;
    OK(bk_store_bars_count(fx->s, sym, (int)tf, &n, ERR));
    return n;
}

/* The bars a correct worker stores for a slice: the sim's bar of every
 * expected bar whose trading span starts inside the slice. malloc'd. */
static size_t expected_bars(const char *sym, bk_tf tf, int64_t from, int64_t to, bk_bar **out)
{
    size_t n = bk_cal_bars(tf, BK_ANCHOR_SESSION, from, to, NULL, 0);
    bk_calbar *cb = calloc(n + 1, sizeof *cb);
    bk_cal_bars(tf, BK_ANCHOR_SESSION, from, to, cb, n);
    bk_bar *bars = calloc(n + 1, sizeof *bars);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (cb[i].from_us < from || cb[i].from_us >= to)
            continue;
        assert_true(bk_sim_bar(sym, tf, BK_ANCHOR_SESSION, cb[i].ts_us, &bars[k]));
        k++;
    }
    free(cb);
    *out = bars;
    return k;
}

typedef struct bar_list {
    bk_bar *v;
    size_t n, cap;
    char provider[BK_PROV_NAME_MAX];
} bar_list;

static int collect_bar(void *ctx, const bk_bar *bar, const char *provider)
{
    bar_list *l = ctx;
    bk_grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v);
    l->v[l->n++] = *bar;
    bk_strlcpy(l->provider, provider, sizeof l->provider);
    return 0;
}

/* Assert that the store holds exactly the sim's bars of the slice. */
static void assert_bars_stored(fixture *fx, const char *sym, bk_tf tf, int64_t from, int64_t to)
{
    bk_bar *want = NULL;
    size_t n = expected_bars(sym, tf, from, to, &want);
    assert_true(n > 0);
    bar_list got = {0};
    OK(bk_store_bars_read(fx->s, sym, tf, INT64_MIN / 2, INT64_MAX / 2, collect_bar, &got, ERR));
    assert_int_equal(got.n, n);
    assert_string_equal(got.provider, "fake");
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(got.v[i].ts_us, want[i].ts_us);
        assert_true(got.v[i].open == want[i].open && got.v[i].high == want[i].high &&
                    got.v[i].low == want[i].low && got.v[i].close == want[i].close &&
                    got.v[i].volume == want[i].volume);
    }
    free(got.v);
    free(want);
}

/* The last recorded event (fails if none). */
static event last_event(fixture *fx)
{
    assert_true(fx->rec.n > 0);
    return fx->rec.v[fx->rec.n - 1];
}

/* Run a fresh 1m cell of SYM through one attempt; returns the outcome. */
static bk_run run_cell(fixture *fx, int max_attempts, int expect_rc, bk_outcome *out)
{
    bk_run r = enqueue(fx, SYM, BK_TF_1M, CELL_FROM, CELL_TO, max_attempts);
    bk_run c = claim(fx, OWNER, 0);
    assert_string_equal(c.id, r.id);
    assert_int_equal(execute(fx, &c, out), expect_rc);
    return c;
}

/* ---- 1. success ---- */

static void t_success(void **state)
{
    fixture *fx = *state;
    bk_outcome out;
    bk_run c = run_cell(fx, 3, 0, &out);
    assert_int_equal(out.status, BK_ST_SUCCESS);
    assert_int_equal(out.code, 0);
    assert_int_equal(out.rows_written, 120);
    assert_string_equal(out.provider, "fake");
    assert_int_equal(atomic_load(&fx->fk.calls), 5);

    bk_run r = get_run(fx->s, c.id);
    assert_int_equal(r.status, BK_ST_SUCCESS);
    assert_true(r.progress_percent == 100.0);
    assert_int_equal(r.rows_written, 120);
    assert_string_equal(r.provider, "fake");
    assert_int_equal(r.attempt, 1);
    assert_string_equal(r.error_code, "");
    assert_string_equal(r.lease_owner, "");
    assert_true(r.finished_us > 0);
    assert_int_equal(count_bars(fx, SYM, BK_TF_1M), 120);
    assert_bars_stored(fx, SYM, BK_TF_1M, CELL_FROM, CELL_TO);

    /* Coverage: the set holds the slice, the summary names the provider. */
    bk_series *ser = NULL;
    size_t ns = 0;
    OK(bk_store_series_load(fx->s, SYM, BK_TF_1M, &ser, &ns, ERR));
    assert_int_equal(ns, 1);
    assert_true(bk_ivset_covers(&ser[0].covered, CELL_FROM, CELL_TO));
    assert_int_equal(ser[0].active.n, 0);
    bk_series_free(ser, ns);
    bk_coverage *cov = NULL;
    size_t nc = 0;
    OK(bk_store_coverage_list(fx->s, SYM, BK_TF_1M, &cov, &nc, ERR));
    assert_int_equal(nc, 1);
    assert_string_equal(cov[0].last_provider, "fake");
    assert_int_equal(cov[0].last_rows_written, 120);
    assert_true(cov[0].from_us <= CELL_FROM && cov[0].to_us >= CELL_TO);
    free(cov);

    /* Events: progress strictly increasing, ending with success at 100. */
    assert_true(fx->rec.n >= 2);
    for (size_t i = 0; i < fx->rec.n; i++) {
        assert_string_equal(fx->rec.v[i].run_id, c.id);
        if (i > 0)
            assert_true(fx->rec.v[i].progress > fx->rec.v[i - 1].progress);
        if (i + 1 < fx->rec.n)
            assert_int_equal(fx->rec.v[i].status, BK_ST_RUNNING);
    }
    event e = last_event(fx);
    assert_int_equal(e.status, BK_ST_SUCCESS);
    assert_true(e.progress == 100.0);
}

/* A settle refetch counts the bars that differ from the stored ones: three
 * stored bars of the cell are not what the provider serves now, and one it
 * serves (12:00) is not stored at all; the refetch stores the provider's
 * bars and adds 4 to its bars_revised counter. Another run over the same
 * bars counts nothing. */
static void t_settle_counts_revisions(void **state)
{
    fixture *fx = *state;
    bk_outcome out;
    run_cell(fx, 3, 0, &out);
    bk_bar *want = NULL;
    size_t n = expected_bars(SYM, BK_TF_1M, CELL_FROM, CELL_TO, &want);
    assert_int_equal(n, 120);
    bk_bar first[3] = {want[5], want[60], want[119]};
    free(want);
    for (size_t i = 0; i < 3; i++)
        first[i].volume += 100; /* what the provider first published */

    OK(bk_store_bars_upsert(fx->s, SYM, BK_TF_1M, "fake", first, 3, ERR));
    bk_run r = enqueue_by(fx, CELL_FROM, CELL_TO, "retry_failed");
    bk_run c = claim(fx, OWNER, 0);
    assert_string_equal(c.id, r.id);
    assert_int_equal(execute(fx, &c, &out), 0);
    assert_int_equal(atomic_load(&fx->fk.prov.stats.bars_revised), 0); /* not a settle run */

    OK(bk_store_bars_upsert(fx->s, SYM, BK_TF_1M, "fake", first, 3, ERR));
    r = enqueue_by(fx, CELL_FROM, CELL_TO + BK_US_PER_MIN, "settle");
    c = claim(fx, OWNER, 0);
    assert_string_equal(c.id, r.id);
    assert_string_equal(c.triggered_by, "settle");
    assert_int_equal(execute(fx, &c, &out), 0);
    assert_int_equal(out.status, BK_ST_SUCCESS);
    assert_int_equal(atomic_load(&fx->fk.prov.stats.bars_revised), 4);
    assert_bars_stored(fx, SYM, BK_TF_1M, CELL_FROM, CELL_TO + BK_US_PER_MIN);
}

/* ---- 2. page retries ---- */

static void t_page_retry(void **state)
{
    fixture *fx = *state;
    fx->conf.page_retries = 2;
    fake_fail(&fx->fk, 1, 1, BK_EPROV_5XX, 0);
    bk_outcome out;
    bk_run c = run_cell(fx, 3, 0, &out);
    assert_int_equal(out.status, BK_ST_SUCCESS);
    assert_int_equal(atomic_load(&fx->fk.calls), 6); /* 5 pages + 1 retry */
    bk_run r = get_run(fx->s, c.id);
    assert_int_equal(r.status, BK_ST_SUCCESS);
    assert_int_equal(r.attempt, 1);
    assert_int_equal(r.rows_written, 120);
    assert_bars_stored(fx, SYM, BK_TF_1M, CELL_FROM, CELL_TO);
}

/* Page retries are bounded: page 3 fails three times, two retries are allowed. */
static void t_page_retries_run_out(void **state)
{
    fixture *fx = *state;
    fx->conf.page_retries = 2;
    fake_fail(&fx->fk, 3, 3, BK_ETIMEDOUT, 0);
    bk_outcome out;
    bk_run c = run_cell(fx, 3, 0, &out);
    assert_int_equal(out.status, BK_ST_QUEUED);
    assert_int_equal(out.code, BK_ETIMEDOUT);
    assert_int_equal(atomic_load(&fx->fk.calls), 5); /* pages 1, 2, then page 3 three times */
    bk_run r = get_run(fx->s, c.id);
    assert_int_equal(r.status, BK_ST_QUEUED);
    assert_int_equal(r.attempt, 2);
    assert_string_equal(r.error_code, "PROVIDER_TIMEOUT");
    assert_int_equal(count_bars(fx, SYM, BK_TF_1M), 0);
}

/* ---- 3. a retryable failure fails the attempt ---- */

static void t_retryable_requeues(void **state)
{
    fixture *fx = *state;
    fake_fail(&fx->fk, 3, 1, BK_EPROV_5XX, 0);
    int64_t before = bk_clock_now_us();
    bk_outcome out;
    bk_run c = run_cell(fx, 3, 0, &out);
    assert_int_equal(out.status, BK_ST_QUEUED);
    assert_int_equal(out.code, BK_EPROV_5XX);
    assert_int_equal(atomic_load(&fx->fk.calls), 3);
    bk_run r = get_run(fx->s, c.id);
    assert_int_equal(r.status, BK_ST_QUEUED);
    assert_int_equal(r.attempt, 2);
    assert_true(r.not_before_us > before);
    assert_true(r.not_before_us <= bk_clock_now_us() + fx->conf.retry_max_ms * MS);
    assert_string_equal(r.error_code, "PROVIDER_5XX");
    assert_string_equal(r.lease_owner, "");
    assert_true(r.progress_percent == 0.0);
    assert_int_equal(count_bars(fx, SYM, BK_TF_1M), 0);
    event e = last_event(fx);
    assert_int_equal(e.status, BK_ST_QUEUED);
    assert_int_equal(e.attempt, 2);

    /* The second attempt, once claimable, succeeds and tells the provider
     * which attempt it is. */
    fx->fk.fault = F_NONE;
    bk_run c2 = claim(fx, OWNER, r.not_before_us);
    assert_string_equal(c2.id, c.id);
    assert_int_equal(c2.attempt, 2);
    assert_int_equal(execute(fx, &c2, &out), 0);
    assert_int_equal(out.status, BK_ST_SUCCESS);
    assert_int_equal(atomic_load(&fx->fk.last_attempt), 2);
    r = get_run(fx->s, c.id);
    assert_int_equal(r.status, BK_ST_SUCCESS);
    assert_int_equal(r.attempt, 2);
    assert_string_equal(r.error_code, "");
    assert_bars_stored(fx, SYM, BK_TF_1M, CELL_FROM, CELL_TO);
}

/* ---- 4. permanent failures ---- */

static void check_permanent(fixture *fx, int code, const char *run_code)
{
    fx->conf.page_retries = 2;
    fake_fail(&fx->fk, 2, -1, code, 0);
    bk_outcome out;
    bk_run c = run_cell(fx, 3, 0, &out);
    assert_int_equal(out.status, BK_ST_FAILED);
    assert_int_equal(out.code, code);
    assert_int_equal(atomic_load(&fx->fk.calls), 2); /* never retried */
    bk_run r = get_run(fx->s, c.id);
    assert_int_equal(r.status, BK_ST_FAILED);
    assert_int_equal(r.attempt, 1);
    assert_string_equal(r.error_code, run_code);
    assert_true(r.finished_us > 0);
    assert_int_equal(count_bars(fx, SYM, BK_TF_1M), 0);
    assert_int_equal(last_event(fx).status, BK_ST_FAILED);
}

static void t_permanent_auth(void **state)
{
    check_permanent(*state, BK_EPROV_AUTH, "PROVIDER_AUTH");
}

static void t_permanent_symbol(void **state)
{
    check_permanent(*state, BK_EPROV_SYMBOL, "UNKNOWN_SYMBOL");
}

/* ---- 5. exhausted attempts are dead-lettered ---- */

static void t_exhausted(void **state)
{
    fixture *fx = *state;
    fake_fail(&fx->fk, 1, -1, BK_EPROV_5XX, 0);
    bk_outcome out;
    bk_run c = run_cell(fx, 2, 0, &out);
    assert_int_equal(out.status, BK_ST_QUEUED);
    bk_run r = get_run(fx->s, c.id);
    assert_int_equal(r.attempt, 2);

    bk_run c2 = claim(fx, OWNER, r.not_before_us);
    assert_int_equal(c2.attempt, c2.max_attempts);
    assert_int_equal(execute(fx, &c2, &out), 0);
    assert_int_equal(out.status, BK_ST_FAILED);
    assert_int_equal(out.code, BK_EPROV_5XX);
    r = get_run(fx->s, c.id);
    assert_int_equal(r.status, BK_ST_FAILED);
    assert_int_equal(r.attempt, 2);
    assert_string_equal(r.error_code, "PROVIDER_5XX");
    assert_true(r.finished_us > 0);
    assert_int_equal(count_bars(fx, SYM, BK_TF_1M), 0);
}

/* ---- 6. what a page may hold ---- */

static void t_invalid_bar(void **state)
{
    fixture *fx = *state;
    fx->fk.fault = F_INVALID;
    fx->fk.fault_call = 3;
    bk_outcome out;
    bk_run c = run_cell(fx, 3, 0, &out);
    assert_int_equal(out.status, BK_ST_QUEUED);
    assert_int_equal(out.code, BK_EBADBAR);
    assert_int_equal(atomic_load(&fx->fk.calls), 3);
    bk_run r = get_run(fx->s, c.id);
    assert_string_equal(r.error_code, "INVALID_BAR");
    assert_int_equal(r.rows_written, 0);
    assert_int_equal(count_bars(fx, SYM, BK_TF_1M), 0);
    bk_series *ser = NULL;
    size_t ns = 0;
    OK(bk_store_series_load(fx->s, SYM, BK_TF_1M, &ser, &ns, ERR));
    assert_int_equal(ns, 1);
    assert_int_equal(ser[0].covered.n, 0);
    bk_series_free(ser, ns);
}

/* A page retry replaces the spoiled page: none of it is kept twice. */
static void t_invalid_bar_retried(void **state)
{
    fixture *fx = *state;
    fx->conf.page_retries = 1;
    fx->fk.fault = F_INVALID;
    fx->fk.fault_call = 3;
    bk_outcome out;
    bk_run c = run_cell(fx, 3, 0, &out);
    assert_int_equal(out.status, BK_ST_SUCCESS);
    assert_int_equal(atomic_load(&fx->fk.calls), 6);
    assert_int_equal(get_run(fx->s, c.id).rows_written, 120);
    assert_bars_stored(fx, SYM, BK_TF_1M, CELL_FROM, CELL_TO);
}

static void t_repeated_token(void **state)
{
    fixture *fx = *state;
    fx->conf.page_retries = 2;
    fx->fk.fault = F_REPEAT;
    fx->fk.fault_call = 2;
    bk_outcome out;
    bk_run c = run_cell(fx, 3, 0, &out);
    assert_int_equal(out.status, BK_ST_QUEUED);
    assert_int_equal(out.code, BK_EPROV_MALFORMED);
    assert_int_equal(atomic_load(&fx->fk.calls), 2);
    bk_run r = get_run(fx->s, c.id);
    assert_int_equal(r.status, BK_ST_QUEUED);
    assert_string_equal(r.error_code, "PROVIDER_MALFORMED");
    assert_int_equal(count_bars(fx, SYM, BK_TF_1M), 0);
}

/* 09:00-11:00 New York: 90 regular bars; the provider adds 09:29. */
static void t_extended_hours_dropped(void **state)
{
    fixture *fx = *state;
    int64_t from = ny(2024, 6, 4, 9, 0), to = ny(2024, 6, 4, 11, 0);
    int64_t ext = ny(2024, 6, 4, 9, 29);
    fx->fk.fault = F_EXTENDED;
    fx->fk.fault_call = 1;
    fx->fk.ext_ts_us = ext;
    bk_run r = enqueue(fx, SYM, BK_TF_1M, from, to, 3);
    bk_run c = claim(fx, OWNER, 0);
    assert_string_equal(c.id, r.id);
    bk_outcome out;
    assert_int_equal(execute(fx, &c, &out), 0);
    assert_int_equal(out.status, BK_ST_SUCCESS);
    assert_int_equal(out.rows_written, 90);
    assert_int_equal(get_run(fx->s, c.id).rows_written, 90);
    assert_int_equal(count_bars(fx, SYM, BK_TF_1M), 90);
    bar_list got = {0};
    OK(bk_store_bars_read(fx->s, SYM, BK_TF_1M, ext, ext + BK_US_PER_MIN, collect_bar, &got, ERR));
    assert_int_equal(got.n, 0);
    free(got.v);
    assert_bars_stored(fx, SYM, BK_TF_1M, from, to);
}

/* ---- 7. Retry-After ---- */

static void t_retry_after(void **state)
{
    fixture *fx = *state;
    fx->conf.retry_max_ms = 1000;
    fake_fail(&fx->fk, 1, 1, BK_EPROV_RATE, 5000);
    int64_t before = bk_clock_now_us();
    bk_outcome out;
    bk_run c = run_cell(fx, 3, 0, &out);
    int64_t after = bk_clock_now_us();
    assert_int_equal(out.status, BK_ST_QUEUED);
    assert_int_equal(out.code, BK_EPROV_RATE);
    bk_run r = get_run(fx->s, c.id);
    assert_string_equal(r.error_code, "PROVIDER_RATE_LIMITED");
    assert_int_equal(r.attempt, 2);
    assert_true(r.not_before_us >= before + 5 * S);
    assert_true(r.not_before_us <= after + 5 * S);
}

/* ---- 8. lease lost ---- */

/* Another party requeues every lease as if long expired. */
static void steal_by_requeue(void *ctx)
{
    fixture *fx = ctx;
    bk_err err = {0};
    size_t n = 0;
    int rc = bk_store_runs_requeue_expired(fx->s2, bk_clock_now_us() + BK_US_PER_DAY, 10, NULL, 0,
                                           &n, &err);
    atomic_store(&fx->hook_rc, rc);
    atomic_store(&fx->hook_n, (long)n);
    bk_run_filter f = {.status = -1, .tf = -1};
    bk_run *runs = NULL;
    size_t nr = 0;
    if (rc == 0 && bk_store_runs_list(fx->s2, &f, &runs, &nr, &err) == 0 && nr == 1)
        fx->stolen = runs[0];
    free(runs);
}

static void t_lease_lost_mid_run(void **state)
{
    fixture *fx = *state;
    fake_hook(&fx->fk, 3, steal_by_requeue, fx);
    bk_outcome out;
    bk_run c = run_cell(fx, 3, BK_ELEASE, &out);
    assert_int_equal(atomic_load(&fx->hook_rc), 0);
    assert_int_equal(atomic_load(&fx->hook_n), 1);
    assert_int_equal(out.status, BK_ST_RUNNING);
    assert_int_equal(atomic_load(&fx->fk.calls), 3); /* stopped at the next lease check */
    assert_int_equal(count_bars(fx, SYM, BK_TF_1M), 0);

    bk_run r = get_run(fx->s, c.id);
    assert_string_equal(fx->stolen.id, c.id);
    assert_int_equal(r.status, BK_ST_QUEUED);
    assert_int_equal(r.attempt, 1); /* a lost lease spends no attempt */
    assert_int_equal(r.lease_expiries, 1);
    assert_string_equal(r.triggered_by, "lease_expired");
    assert_string_equal(r.error_code, "LEASE_EXPIRED");
    /* Exactly as the other party left it. */
    assert_int_equal(r.status, fx->stolen.status);
    assert_int_equal(r.attempt, fx->stolen.attempt);
    assert_int_equal(r.updated_us, fx->stolen.updated_us);
    assert_true(r.progress_percent == fx->stolen.progress_percent);
    assert_string_equal(r.lease_owner, fx->stolen.lease_owner);
    assert_string_equal(r.error_message, fx->stolen.error_message);
    for (size_t i = 0; i < fx->rec.n; i++)
        assert_int_equal(fx->rec.v[i].status, BK_ST_RUNNING);
}

/* The lease is taken (requeued and claimed by a thief) after the last page,
 * just before the commit: the commit must write nothing. */
static void steal_before_commit(void *ctx, const bk_run *run)
{
    fixture *fx = ctx;
    if (run->status != BK_ST_RUNNING || run->progress_percent < 99 || fx->stolen.id[0])
        return;
    bk_err err = {0};
    size_t n = 0;
    int64_t later = bk_clock_now_us() + BK_US_PER_DAY;
    int rc = bk_store_runs_requeue_expired(fx->s2, later, 10, NULL, 0, &n, &err);
    if (rc == 0)
        rc = bk_store_run_claim(fx->s2, "thief", later, 60 * S, &fx->stolen, &err);
    atomic_store(&fx->hook_rc, rc);
    atomic_store(&fx->hook_n, (long)n);
}

static void t_lease_lost_before_commit(void **state)
{
    fixture *fx = *state;
    fx->rec.hook = steal_before_commit;
    fx->rec.hook_ctx = fx;
    bk_outcome out;
    bk_run c = run_cell(fx, 3, BK_ELEASE, &out);
    assert_int_equal(atomic_load(&fx->hook_rc), 0);
    assert_int_equal(atomic_load(&fx->hook_n), 1);
    assert_int_equal(atomic_load(&fx->fk.calls), 5);
    assert_int_equal(out.status, BK_ST_RUNNING);
    assert_int_equal(count_bars(fx, SYM, BK_TF_1M), 0);
    bk_run r = get_run(fx->s, c.id);
    assert_int_equal(r.status, BK_ST_RUNNING);
    assert_string_equal(r.lease_owner, "thief");
    assert_int_equal(r.attempt, 1);
    assert_int_equal(r.rows_written, 0);
    assert_int_equal(r.lease_until_us, fx->stolen.lease_until_us);
    bk_series *ser = NULL;
    size_t ns = 0;
    OK(bk_store_series_load(fx->s, SYM, BK_TF_1M, &ser, &ns, ERR));
    assert_int_equal(ns, 1);
    assert_int_equal(ser[0].covered.n, 0);
    bk_series_free(ser, ns);
    assert_int_not_equal(last_event(fx).status, BK_ST_SUCCESS);
}

/* ---- 9. stop ---- */

static void set_stop(void *ctx)
{
    fixture *fx = ctx;
    atomic_store(&fx->stop, true);
}

static void t_stop_releases(void **state)
{
    fixture *fx = *state;
    fake_hook(&fx->fk, 2, set_stop, fx);
    bk_outcome out;
    bk_run c = run_cell(fx, 3, 0, &out);
    assert_int_equal(out.status, BK_ST_RUNNING); /* released, no outcome */
    assert_int_equal(atomic_load(&fx->fk.calls), 2);
    bk_run r = get_run(fx->s, c.id);
    assert_int_equal(r.status, BK_ST_QUEUED);
    assert_int_equal(r.attempt, 1);
    assert_true(r.progress_percent == 0.0);
    assert_string_equal(r.lease_owner, "");
    assert_string_equal(r.error_code, "");
    assert_int_equal(count_bars(fx, SYM, BK_TF_1M), 0);
    event e = last_event(fx);
    assert_int_equal(e.status, BK_ST_QUEUED);
    assert_int_equal(e.attempt, 1);
}

/* A Retry-After beyond the back-off cap is not slept by the worker: the
 * attempt fails at once and not_before carries the wait. */
static void t_long_retry_after_not_slept(void **state)
{
    fixture *fx = *state;
    fx->conf.retry_max_ms = 100;
    fx->conf.page_retries = 2;
    fake_fail(&fx->fk, 2, 1, BK_EPROV_RATE, 3000);
    int64_t before = bk_clock_now_us();
    bk_outcome out;
    bk_run c = run_cell(fx, 3, 0, &out);
    assert_int_equal(out.status, BK_ST_QUEUED);
    assert_int_equal(atomic_load(&fx->fk.calls), 2); /* no page retry */
    bk_run r = get_run(fx->s, c.id);
    assert_int_equal(r.attempt, 2);
    assert_true(r.not_before_us >= before + 3 * S);
}

/* A page that fails while the pool is stopping releases the run: no attempt
 * is spent on a shutdown. */
static void t_stop_during_failing_page(void **state)
{
    fixture *fx = *state;
    fx->conf.page_retries = 2;
    fake_hook(&fx->fk, 2, set_stop, fx);
    fx->fk.code = BK_EPROV_5XX;
    bk_outcome out;
    bk_run c = run_cell(fx, 3, 0, &out);
    assert_int_equal(out.status, BK_ST_RUNNING); /* released */
    assert_int_equal(atomic_load(&fx->fk.calls), 2);
    bk_run r = get_run(fx->s, c.id);
    assert_int_equal(r.status, BK_ST_QUEUED);
    assert_int_equal(r.attempt, 1);
    assert_int_equal(count_bars(fx, SYM, BK_TF_1M), 0);
}

/* ---- 10. back-off ---- */

static void backoff_bounds(const bk_conf *c, int attempt, int64_t retry_after_ms, int64_t lo_us,
                           int64_t hi_us)
{
    int64_t mn = INT64_MAX, mx = INT64_MIN;
    for (int i = 0; i < 4000; i++) {
        int64_t d = bk_work_backoff_us(c, attempt, retry_after_ms);
        mn = BK_MIN(mn, d);
        mx = BK_MAX(mx, d);
    }
    if (mn < lo_us || mx > hi_us)
        fail_msg("attempt %d retry_after %lld ms: [%lld, %lld] outside [%lld, %lld]", attempt,
                 (long long)retry_after_ms, (long long)mn, (long long)mx, (long long)lo_us,
                 (long long)hi_us);
    /* Jitter spreads over the random half (unless Retry-After dominates). */
    if (hi_us > lo_us && (mn > lo_us + (hi_us - lo_us) / 10 || mx < hi_us - (hi_us - lo_us) / 10))
        fail_msg("attempt %d: [%lld, %lld] does not spread over [%lld, %lld]", attempt,
                 (long long)mn, (long long)mx, (long long)lo_us, (long long)hi_us);
}

static void t_backoff(void **state)
{
    (void)state;
    bk_conf c;
    bk_conf_defaults(&c);
    c.retry_base_ms = 100;
    c.retry_max_ms = 1000;
    backoff_bounds(&c, 1, 0, 50 * MS, 100 * MS);
    backoff_bounds(&c, 2, 0, 100 * MS, 200 * MS);
    backoff_bounds(&c, 3, 0, 200 * MS, 400 * MS);
    backoff_bounds(&c, 4, 0, 400 * MS, 800 * MS);
    backoff_bounds(&c, 5, 0, 500 * MS, 1000 * MS); /* capped */
    backoff_bounds(&c, 100, 0, 500 * MS, 1000 * MS);
    /* Retry-After is a floor. */
    backoff_bounds(&c, 1, 5000, 5000 * MS, 5000 * MS);
    for (int i = 0; i < 1000; i++) {
        int64_t d = bk_work_backoff_us(&c, 1, 70);
        assert_true(d >= 70 * MS && d <= 100 * MS);
    }
    /* A cap far above: doubling never overflows. */
    c.retry_base_ms = 2000;
    c.retry_max_ms = 86400000;
    backoff_bounds(&c, 100, 0, 43200 * S, 86400 * S);
    /* Zero base: no wait at all, except Retry-After. */
    c.retry_base_ms = 0;
    assert_int_equal(bk_work_backoff_us(&c, 3, 0), 0);
    assert_int_equal(bk_work_backoff_us(&c, 3, 7), 7 * MS);
}

/* ---- 11. the pool ---- */

typedef struct waiter {
    int64_t finished, dead;
} waiter;

/* Wait (on the pool's progress signal, with a deadline) until n runs finished. */
static waiter pool_wait(bk_pool *p, int64_t n, int64_t timeout_us)
{
    waiter w = {0};
    int64_t deadline = bk_clock_mono_us() + timeout_us;
    bk_pool_counts(p, &w.finished, &w.dead);
    while (w.finished < n && bk_clock_mono_us() < deadline) {
        bk_pool_wait_progress(p, 100 * MS);
        bk_pool_counts(p, &w.finished, &w.dead);
    }
    return w;
}

static void count_runs(fixture *fx, int64_t counts[BK_ST__N])
{
    bk_run_filter f = {.status = -1, .tf = -1};
    OK(bk_store_runs_count(fx->s, &f, counts, ERR));
}

static void t_pool(void **state)
{
    fixture *fx = *state;
    static const char *const syms[] = {"AAA", "BBB", "CCC"};
    bk_session ss[32];
    size_t n_days = bk_cal_sessions(ny(2024, 6, 3, 0, 0), ny(2024, 7, 1, 0, 0), ss, 32);
    assert_true(n_days >= 10);

    bk_pool *p = NULL;
    bk_pool_opts po = {.db_url = fx->url, .threads = 3, .env = fx->env};
    OK(bk_pool_start(&p, &po, ERR));
    for (size_t k = 0; k < BK_ARRAY_LEN(syms); k++) {
        for (size_t d = 0; d < 10; d++) {
            int32_t day = ss[d].day;
            enqueue(fx, syms[k], BK_TF_15M, bk_cal_ny_to_utc(day, 0, 0),
                    bk_cal_ny_to_utc(day + 1, 0, 0), 3);
        }
    }
    bk_pool_wake(p);
    waiter w = pool_wait(p, 30, 60 * S);
    int64_t busy = bk_pool_busy(p);
    bk_pool_stop(p);
    assert_int_equal(w.finished, 30);
    assert_int_equal(w.dead, 0);
    assert_int_equal(busy, 0);

    int64_t counts[BK_ST__N] = {0};
    count_runs(fx, counts);
    assert_int_equal(counts[BK_ST_SUCCESS], 30);
    assert_int_equal(counts[BK_ST_RUNNING], 0);
    assert_int_equal(counts[BK_ST_QUEUED], 0);
    assert_int_equal(atomic_load(&fx->fk.calls), 60); /* 26 bars a day, 2 pages */
    for (size_t k = 0; k < BK_ARRAY_LEN(syms); k++) {
        assert_int_equal(count_bars(fx, syms[k], BK_TF_15M), 260);
        assert_bars_stored(fx, syms[k], BK_TF_15M, bk_cal_ny_to_utc(ss[0].day, 0, 0),
                           bk_cal_ny_to_utc(ss[9].day + 1, 0, 0));
    }
    size_t n_success = 0;
    for (size_t i = 0; i < fx->rec.n; i++)
        n_success += fx->rec.v[i].status == BK_ST_SUCCESS;
    assert_int_equal(n_success, 30);
}

/* ---- 12. the heartbeat keeps a slow run alive ---- */

/* A page that takes 1.2 s while the lease is 300 ms; every 400 ms the
 * scheduler's expiry sweep runs with the real current time. */
static void slow_page_sweeps(void *ctx)
{
    fixture *fx = ctx;
    bk_store *s = NULL;
    bk_err err = {0};
    int rc = bk_store_open(&s, fx->url, &err);
    for (int i = 0; i < 3 && rc == 0; i++) {
        bk_sleep_us(400 * MS); /* the slow provider */
        size_t n = 0;
        rc = bk_store_runs_requeue_expired(s, bk_clock_now_us(), 10, NULL, 0, &n, &err);
        atomic_fetch_add(&fx->hook_n, (long)n);
    }
    atomic_store(&fx->hook_rc, rc);
    bk_store_close(s);
}

static void t_heartbeat_keeps_lease(void **state)
{
    fixture *fx = *state;
    fx->conf.lease_ms = 300;
    fake_hook(&fx->fk, 2, slow_page_sweeps, fx);
    bk_run r = enqueue(fx, SYM, BK_TF_1M, CELL_FROM, CELL_TO, 3);
    bk_pool *p = NULL;
    bk_pool_opts po = {.db_url = fx->url, .threads = 1, .env = fx->env};
    OK(bk_pool_start(&p, &po, ERR));
    bk_pool_wake(p);
    waiter w = pool_wait(p, 1, 30 * S);
    bk_pool_stop(p);
    assert_int_equal(w.finished, 1);
    assert_int_equal(atomic_load(&fx->hook_rc), 0);
    assert_int_equal(atomic_load(&fx->hook_n), 0); /* never requeued */
    bk_run g = get_run(fx->s, r.id);
    assert_int_equal(g.status, BK_ST_SUCCESS);
    assert_int_equal(g.attempt, 1);
    assert_int_equal(g.rows_written, 120);
    assert_bars_stored(fx, SYM, BK_TF_1M, CELL_FROM, CELL_TO);
}

/* ---- 13. stopping the pool releases the run in flight ---- */

typedef struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool entered;
} gate;

static gate g_gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};

/* Tell the test the page has started, then be slow for a while. */
static void slow_page_signal(void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&g_gate.lock);
    g_gate.entered = true;
    pthread_cond_broadcast(&g_gate.cond);
    pthread_mutex_unlock(&g_gate.lock);
    bk_sleep_us(300 * MS); /* the slow provider */
}

/* Wait (bounded) until a pool thread has entered the slow page. */
static bool gate_wait(int64_t timeout_us)
{
    int64_t deadline = bk_clock_mono_us() + timeout_us;
    pthread_mutex_lock(&g_gate.lock);
    while (!g_gate.entered && bk_clock_mono_us() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&g_gate.cond, &g_gate.lock, &ts);
    }
    bool entered = g_gate.entered;
    pthread_mutex_unlock(&g_gate.lock);
    return entered;
}

static void t_pool_stop_releases(void **state)
{
    fixture *fx = *state;
    fake_hook(&fx->fk, 2, slow_page_signal, fx);
    g_gate.entered = false;
    bk_run r = enqueue(fx, SYM, BK_TF_1M, CELL_FROM, CELL_TO, 3);
    bk_pool *p = NULL;
    bk_pool_opts po = {.db_url = fx->url, .threads = 2, .env = fx->env};
    OK(bk_pool_start(&p, &po, ERR));
    bk_pool_wake(p);
    bool entered = gate_wait(30 * S);
    bk_pool_stop(p);
    assert_true(entered);
    assert_int_equal(atomic_load(&fx->fk.calls), 2);
    bk_run g = get_run(fx->s, r.id);
    assert_int_equal(g.status, BK_ST_QUEUED);
    assert_int_equal(g.attempt, 1);
    assert_string_equal(g.lease_owner, "");
    assert_int_equal(count_bars(fx, SYM, BK_TF_1M), 0);
    int64_t counts[BK_ST__N] = {0};
    count_runs(fx, counts);
    assert_int_equal(counts[BK_ST_RUNNING], 0);
}

/* ---- 14. claim_batch: a worker claims and commits runs in batches ---- */

/* Every run's events: first the claim (running, 0 %), last the outcome want. */
static void assert_events_per_run(fixture *fx, const char *id, bk_status want)
{
    int n = 0;
    event first = {0}, last = {0};
    for (size_t i = 0; i < fx->rec.n; i++) {
        if (strcmp(fx->rec.v[i].run_id, id) != 0)
            continue;
        if (n++ == 0)
            first = fx->rec.v[i];
        last = fx->rec.v[i];
    }
    assert_true(n >= 2);
    assert_int_equal(first.status, BK_ST_RUNNING);
    assert_true(first.progress < 0.1);
    assert_int_equal(last.status, want);
}

static void t_pool_batch(void **state)
{
    fixture *fx = *state;
    fx->conf.claim_batch = 4;
    static const char *const syms[] = {"AAA", "BBB", "CCC"};
    bk_session ss[32];
    size_t n_days = bk_cal_sessions(ny(2024, 6, 3, 0, 0), ny(2024, 7, 1, 0, 0), ss, 32);
    assert_true(n_days >= 10);
    bk_run runs[30];
    size_t n = 0;
    for (size_t k = 0; k < BK_ARRAY_LEN(syms); k++)
        for (size_t d = 0; d < 10; d++)
            runs[n++] = enqueue(fx, syms[k], BK_TF_15M, bk_cal_ny_to_utc(ss[d].day, 0, 0),
                                bk_cal_ny_to_utc(ss[d].day + 1, 0, 0), 3);

    bk_pool *p = NULL;
    bk_pool_opts po = {.db_url = fx->url, .threads = 2, .env = fx->env};
    OK(bk_pool_start(&p, &po, ERR));
    bk_pool_wake(p);
    waiter w = pool_wait(p, 30, 60 * S);
    int64_t busy = bk_pool_busy(p);
    bk_pool_stop(p);
    assert_int_equal(w.finished, 30);
    assert_int_equal(w.dead, 0);
    assert_int_equal(busy, 0);

    int64_t counts[BK_ST__N] = {0};
    count_runs(fx, counts);
    assert_int_equal(counts[BK_ST_SUCCESS], 30);
    assert_int_equal(counts[BK_ST_RUNNING], 0);
    assert_int_equal(counts[BK_ST_QUEUED], 0);
    assert_int_equal(atomic_load(&fx->fk.calls), 60);
    for (size_t k = 0; k < BK_ARRAY_LEN(syms); k++) {
        assert_int_equal(count_bars(fx, syms[k], BK_TF_15M), 260);
        assert_bars_stored(fx, syms[k], BK_TF_15M, bk_cal_ny_to_utc(ss[0].day, 0, 0),
                           bk_cal_ny_to_utc(ss[9].day + 1, 0, 0));
    }
    for (size_t i = 0; i < n; i++) {
        bk_run g = get_run(fx->s, runs[i].id);
        assert_int_equal(g.status, BK_ST_SUCCESS);
        assert_int_equal(g.attempt, 1);
        assert_int_equal(g.rows_written, 26);
        assert_events_per_run(fx, runs[i].id, BK_ST_SUCCESS);
    }
    /* one interval per series: the ten days merged over the closed nights */
    bk_coverage *cov = NULL;
    size_t n_cov = 0;
    OK(bk_store_coverage_list(fx->s, NULL, -1, &cov, &n_cov, ERR));
    assert_int_equal(n_cov, 3);
    for (size_t i = 0; i < n_cov; i++)
        assert_true(cov[i].n_intervals >= 1);
    free(cov);
}

/* The leases of runs waiting in a worker's batch are renewed too: the first
 * run's slow page outlives the lease four times over while the sweeps run. */
static void t_pool_batch_heartbeat(void **state)
{
    fixture *fx = *state;
    fx->conf.lease_ms = 300;
    fx->conf.claim_batch = 3;
    fake_hook(&fx->fk, 2, slow_page_sweeps, fx);
    bk_run runs[3];
    for (int d = 0; d < 3; d++)
        runs[d] = enqueue(fx, SYM, BK_TF_1M, CELL_FROM + d * 24 * 3600 * S,
                          CELL_TO + d * 24 * 3600 * S, 3);
    bk_pool *p = NULL;
    bk_pool_opts po = {.db_url = fx->url, .threads = 1, .env = fx->env};
    OK(bk_pool_start(&p, &po, ERR));
    bk_pool_wake(p);
    waiter w = pool_wait(p, 3, 30 * S);
    bk_pool_stop(p);
    assert_int_equal(w.finished, 3);
    assert_int_equal(atomic_load(&fx->hook_rc), 0);
    assert_int_equal(atomic_load(&fx->hook_n), 0); /* never requeued */
    for (int d = 0; d < 3; d++) {
        bk_run g = get_run(fx->s, runs[d].id);
        assert_int_equal(g.status, BK_ST_SUCCESS);
        assert_int_equal(g.attempt, 1);
        assert_int_equal(g.rows_written, 120);
    }
}

/* Stop while the first run of a batch of five fetches: that one and the four
 * claimed but not started go back to the queue. */
static void t_pool_batch_stop_releases(void **state)
{
    fixture *fx = *state;
    fx->conf.claim_batch = 5;
    fake_hook(&fx->fk, 2, slow_page_signal, fx);
    g_gate.entered = false;
    bk_run runs[5];
    for (int d = 0; d < 5; d++)
        runs[d] = enqueue(fx, SYM, BK_TF_1M, CELL_FROM + d * 24 * 3600 * S,
                          CELL_TO + d * 24 * 3600 * S, 3);
    bk_pool *p = NULL;
    bk_pool_opts po = {.db_url = fx->url, .threads = 1, .env = fx->env};
    OK(bk_pool_start(&p, &po, ERR));
    bk_pool_wake(p);
    bool entered = gate_wait(30 * S);
    bk_pool_stop(p);
    assert_true(entered);
    assert_int_equal(atomic_load(&fx->fk.calls), 2);
    for (int d = 0; d < 5; d++) {
        bk_run g = get_run(fx->s, runs[d].id);
        assert_int_equal(g.status, BK_ST_QUEUED);
        assert_int_equal(g.attempt, 1);
        assert_string_equal(g.lease_owner, "");
        assert_events_per_run(fx, runs[d].id, BK_ST_QUEUED);
    }
    assert_int_equal(count_bars(fx, SYM, BK_TF_1M), 0);
    int64_t counts[BK_ST__N] = {0};
    count_runs(fx, counts);
    assert_int_equal(counts[BK_ST_RUNNING], 0);
    assert_int_equal(counts[BK_ST_QUEUED], 5);
}

/* PostgreSQL: a worker with nothing to do sleeps until a notification says
 * a run was enqueued, by any connection (here one the pool does not know),
 * not until its poll: with a poll of ten minutes the run still finishes at
 * once. */
static void t_pool_woken_by_notification(void **state)
{
    fixture *fx = *state;
    fx->conf.worker_poll_ms = 600000;
    bk_pool *p = NULL;
    bk_pool_opts po = {.db_url = fx->url, .threads = 1, .env = fx->env};
    OK(bk_pool_start(&p, &po, ERR));
    /* Wait until the worker looked after the waker started listening and
     * found nothing: from then on only a wake can end its sleep. */
    bool listening = false;
    int64_t deadline = bk_clock_mono_us() + 30 * S;
    while ((bk_pool_idle(p, &listening) < 1 || !listening) && bk_clock_mono_us() < deadline)
        bk_pool_wait_progress(p, 10 * MS);
    assert_true(listening);
    bk_run r = enqueue(fx, SYM, BK_TF_1M, CELL_FROM, CELL_TO, 3); /* fx->s: not the pool's */
    waiter w = pool_wait(p, 1, 60 * S);
    bk_pool_stop(p);
    assert_int_equal(w.finished, 1);
    assert_int_equal(get_run(fx->s, r.id).status, BK_ST_SUCCESS);
}

/* The same fixture on the PostgreSQL database at BK_TEST_DB_URL, emptied. */
static int fixture_setup_pg(void **state)
{
    fixture_setup(state);
    fixture *fx = *state;
    bk_store_close(fx->s);
    bk_store_close(fx->s2);
    free(fx->url);
    fx->url = bk_xstrdup(getenv("BK_TEST_DB_URL"));
    char msg[512];
    if (bk_t_pg_reset(fx->url, msg, sizeof msg) != 0)
        fail_msg("reset %s", msg);
    fx->s = open_migrated(fx->url);
    fx->s2 = open_migrated(fx->url);
    return 0;
}

#define T(f) cmocka_unit_test_setup_teardown(f, fixture_setup, fixture_teardown)

int main(void)
{
    bk_log_setup(getenv("BK_TEST_LOG") ? BK_LOG_DEBUG : BK_LOG_OFF, BK_LOG_KV);
    bk_clock_start_at(ny(2024, 7, 1, 12, 0)); /* every slice below has closed */
    const struct CMUnitTest tests[] = {
        T(t_success),
        T(t_settle_counts_revisions),
        T(t_page_retry),
        T(t_page_retries_run_out),
        T(t_retryable_requeues),
        T(t_permanent_auth),
        T(t_permanent_symbol),
        T(t_exhausted),
        T(t_invalid_bar),
        T(t_invalid_bar_retried),
        T(t_repeated_token),
        T(t_extended_hours_dropped),
        T(t_retry_after),
        T(t_lease_lost_mid_run),
        T(t_lease_lost_before_commit),
        T(t_stop_releases),
        T(t_long_retry_after_not_slept),
        T(t_stop_during_failing_page),
        T(t_backoff),
        T(t_pool),
        T(t_heartbeat_keeps_lease),
        T(t_pool_stop_releases),
        T(t_pool_batch),
        T(t_pool_batch_heartbeat),
        T(t_pool_batch_stop_releases),
    };
    int fails = cmocka_run_group_tests_name("work", tests, NULL, NULL);
    const char *url = getenv("BK_TEST_DB_URL");
    if (url && strncmp(url, "postgres", 8) == 0) {
        const struct CMUnitTest pg_tests[] = {
            cmocka_unit_test_setup_teardown(t_pool_woken_by_notification, fixture_setup_pg,
                                            fixture_teardown),
        };
        fails += cmocka_run_group_tests_name("work postgres", pg_tests, NULL, NULL);
    }
    return fails;
}
