/*
 * pool.c — the worker pool: N threads claiming runs, one heartbeat thread
 * renewing the leases of the runs in flight. Each thread owns its store
 * connection. Idle workers sleep on a condition variable until woken by
 * bk_pool_wake or until the next queued run becomes claimable.
 *
 * claim_batch K > 1: a worker claims up to K runs in one statement into its
 * own list, registers all of them with the heartbeat thread (their leases are
 * renewed while they wait), executes them one by one (fetch + validate) and
 * commits the ones ready to commit together, in one transaction
 * (bk_store_runs_commit_many). Failures and releases take the per-run paths
 * of bk_work_execute. On stop, the runs not started yet are released.
 *
 * Waking: runs enqueued in this process wake the workers (bk_pool_wake). On
 * PostgreSQL a waker thread LISTENs for job_runs changes and wakes them when
 * any process makes a run claimable (enqueued, requeued), so an idle worker
 * sleeps until work arrives; it looks on its own only every worker_poll_ms
 * (default 30 s there, a fallback for notifications lost with a connection)
 * and when the next backed-off run becomes due. On SQLite nothing tells a
 * process about another's runs: idle workers look every second.
 */
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "work/work.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_SQLITE_MS   1000  /* catch runs enqueued by other processes */
#define POLL_NOTIFIED_MS 30000 /* a fallback: notifications wake workers */
#define WAKER_WAIT_MS    200   /* the waker notices bk_pool_stop within this */
/* A claim the store failed (a full disk, a vanished table) is retried after
 * a back-off doubling from the first to the cap, and logged at most once per
 * FAIL_LOG_US with the count of failures not logged. */
#define CLAIM_BACKOFF_MIN_US (20 * BK_US_PER_MS)
#define CLAIM_BACKOFF_MAX_US (5 * BK_US_PER_S)
#define FAIL_LOG_US          (10 * BK_US_PER_S)

typedef struct slot {
    struct bk_pool *pool;
    int index;
    pthread_t thread;
    char owner[BK_OWNER_MAX];
    /* Runs this worker holds (claimed, not finished): their leases are the
     * heartbeat's to renew. "" = free entry. Guarded by pool->lock. */
    char (*run_ids)[BK_ID_MAX];
    size_t n_runs;
    bool idle;         /* asleep in idle_wait (guarded by pool->lock) */
    uint64_t idle_seq; /* the wake_seq it went to sleep at */
} slot;

struct bk_pool {
    bk_pool_opts opts;
    char *db_url;
    atomic_bool stop;
    pthread_mutex_t lock;
    pthread_cond_t wake;     /* workers wait here for work */
    pthread_cond_t progress; /* waiters on finished runs */
    pthread_cond_t hb_cond;  /* heartbeat thread sleeps here */
    uint64_t wake_seq;
    int64_t finished, dead;
    int busy;
    int64_t poll_us; /* an idle worker's longest sleep */
    bool listening;  /* the waker receives notifications */
    slot *slots;
    int n_slots;
    size_t batch;               /* conf->claim_batch, at least 1 */
    char (*run_ids)[BK_ID_MAX]; /* n_slots × batch entries, the slots' run_ids */
    pthread_t hb_thread, waker_thread;
    bool hb_started, waker_started;
    /* claims failing for the store's reasons (guarded by lock) */
    int n_failing;                 /* slots whose last claim failed */
    char fail_msg[BK_ERR_MSG_MAX]; /* the latest failure */
    int64_t fail_logged_us;        /* monotonic time of the last log line */
    long fail_unlogged;            /* failures since then */
};

static void timed_wait(pthread_cond_t *c, pthread_mutex_t *m, int64_t timeout_us)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (timeout_us % BK_US_PER_S) * 1000;
    ts.tv_sec += (time_t)(timeout_us / BK_US_PER_S + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_cond_timedwait(c, m, &ts);
}

static bk_store *open_store(bk_pool *p, const char *who)
{
    int64_t backoff = 50 * BK_US_PER_MS;
    while (!atomic_load(&p->stop)) {
        bk_store *s = NULL;
        bk_err err = {0};
        if (bk_store_open(&s, p->db_url, &err) == 0)
            return s;
        bk_log(BK_LOG_ERROR, "work", "cannot open store who=%s error=\"%s\"", who, err.msg);
        pthread_mutex_lock(&p->lock);
        timed_wait(&p->wake, &p->lock, backoff);
        pthread_mutex_unlock(&p->lock);
        backoff = BK_MIN(backoff * 2, 5 * BK_US_PER_S);
    }
    return NULL;
}

/* A slot's claim failed (or, ok, succeeded or found nothing) for the
 * store's reasons: track the failing slots for readiness and log at most
 * once per FAIL_LOG_US. */
static void note_claim(bk_pool *p, slot *sl, bool *failing, bool ok, const char *msg)
{
    pthread_mutex_lock(&p->lock);
    if (ok) {
        p->n_failing -= *failing;
        *failing = false;
        pthread_mutex_unlock(&p->lock);
        return;
    }
    p->n_failing += !*failing;
    *failing = true;
    bk_strlcpy(p->fail_msg, msg, sizeof p->fail_msg);
    int64_t now = bk_clock_mono_us();
    long unlogged = -1;
    if (p->fail_logged_us == 0 || now - p->fail_logged_us >= FAIL_LOG_US) {
        unlogged = p->fail_unlogged;
        p->fail_unlogged = 0;
        p->fail_logged_us = now;
    } else {
        p->fail_unlogged++;
    }
    pthread_mutex_unlock(&p->lock);
    if (unlogged >= 0)
        bk_log(BK_LOG_WARN, "work",
               "claim failed owner=%s failing_workers=%d suppressed=%ld error=\"%s\"", sl->owner,
               p->n_failing, unlogged, msg);
}

/* Wait backoff_us unless woken or stopped. */
static void pause_claims(bk_pool *p, uint64_t seen_seq, int64_t backoff_us)
{
    pthread_mutex_lock(&p->lock);
    if (p->wake_seq == seen_seq && !atomic_load(&p->stop))
        timed_wait(&p->wake, &p->lock, backoff_us);
    pthread_mutex_unlock(&p->lock);
}

/* Sleep until woken, or until the next run could become claimable. */
static void idle_wait(bk_pool *p, slot *sl, bk_store *s, uint64_t seen_seq)
{
    pthread_mutex_lock(&p->lock);
    int64_t next = 0, timeout = p->poll_us;
    pthread_mutex_unlock(&p->lock);
    bk_err err = {0};
    /* Only a future event: a run already due that this worker could not
     * claim waits for another of its series to finish (a wake, or the poll). */
    int64_t now = bk_clock_now_us();
    if (bk_store_runs_next_event(s, &next, &err) == 0 && next > now)
        timeout = BK_MAX(BK_MIN(next - now, timeout), 1000);
    pthread_mutex_lock(&p->lock);
    if (p->wake_seq == seen_seq && !atomic_load(&p->stop)) {
        sl->idle = true;
        sl->idle_seq = seen_seq;
        timed_wait(&p->wake, &p->lock, timeout);
        sl->idle = false;
    }
    pthread_mutex_unlock(&p->lock);
}

static void run_claimed(bk_pool *p, slot *sl, bk_store *s, bk_run *run)
{
    const bk_work_env *env = &p->opts.env;
    pthread_mutex_lock(&p->lock);
    bk_strlcpy(sl->run_ids[0], run->id, BK_ID_MAX);
    sl->n_runs = 1;
    p->busy++;
    pthread_mutex_unlock(&p->lock);
    if (env->on_event)
        env->on_event(env->event_ctx, run);
    bk_outcome out;
    bk_err err = {0};
    int rc = bk_work_execute(s, env, sl->owner, run, &out, &err);
    if (rc && rc != BK_ELEASE)
        bk_log(BK_LOG_ERROR, "work", "run outcome not recorded run=%s error=\"%s\"", run->id,
               err.msg);
    pthread_mutex_lock(&p->lock);
    sl->n_runs = 0;
    p->busy--;
    p->finished++;
    if (out.status == BK_ST_FAILED)
        p->dead++;
    pthread_cond_broadcast(&p->progress);
    pthread_mutex_unlock(&p->lock);
}

/* One run of a batch is done with (finished, released or lost). Waiters on
 * progress are woken once per batch step (wake_progress), not once per run. */
static void batch_done(bk_pool *p, slot *sl, size_t i, const bk_outcome *out, bool counted)
{
    assert(i < p->batch);
    pthread_mutex_lock(&p->lock);
    assert(sl->run_ids[i][0] != '\0'); /* a run this slot holds */
    sl->run_ids[i][0] = '\0';
    if (counted) {
        p->finished++;
        if (out->status == BK_ST_FAILED)
            p->dead++;
    }
    pthread_mutex_unlock(&p->lock);
}

static void wake_progress(bk_pool *p)
{
    pthread_mutex_lock(&p->lock);
    pthread_cond_broadcast(&p->progress);
    pthread_mutex_unlock(&p->lock);
}

/* Commit the runs of a batch that are ready, in one transaction; if that
 * fails as a whole, one by one (so one bad commit costs only its run). */
static void batch_commit(bk_pool *p, slot *sl, bk_store *s, bk_run *runs, bk_work_ready *ready,
                         bk_outcome *outs, size_t *which, size_t m)
{
    const bk_work_env *env = &p->opts.env;
    if (m == 0)
        return;
    bk_commit *c = bk_xmalloc(m * sizeof *c);
    int *rc_each = bk_xmalloc(m * sizeof *rc_each);
    for (size_t j = 0; j < m; j++)
        c[j] = ready[which[j]].commit;
    bk_err err = {0};
    int rc = bk_store_runs_commit_many(s, c, m, rc_each, &err);
    if (rc < 0) {
        bk_log(BK_LOG_WARN, "work",
               "batch commit failed, committing one by one runs=%zu error=\"%s\"", m, err.msg);
        for (size_t j = 0; j < m; j++) {
            bk_err e1 = {0};
            rc_each[j] = bk_store_run_commit(s, &c[j], &e1);
            if (rc_each[j] && rc_each[j] != BK_ELEASE)
                bk_log(BK_LOG_ERROR, "work", "run outcome not recorded run=%s error=\"%s\"",
                       runs[which[j]].id, e1.msg);
        }
    }
    for (size_t j = 0; j < m; j++) {
        size_t i = which[j];
        if (rc_each[j] == 0)
            bk_work_score(s, &c[j]);
        bk_work_committed(env, &runs[i], &ready[i], rc_each[j], &outs[i]);
        batch_done(p, sl, i, &outs[i], true);
    }
    free(c);
    free(rc_each);
}

/* Execute the k runs claimed together, then commit the finished ones. */
static void run_batch(bk_pool *p, slot *sl, bk_store *s, bk_run *runs, size_t k)
{
    const bk_work_env *env = &p->opts.env;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < k; i++)
        memcpy(sl->run_ids[i], runs[i].id, BK_ID_MAX);
    sl->n_runs = k;
    p->busy++;
    pthread_mutex_unlock(&p->lock);
    if (env->on_event)
        for (size_t i = 0; i < k; i++)
            env->on_event(env->event_ctx, &runs[i]);
    bk_work_ready *ready = bk_xcalloc(k, sizeof *ready);
    bk_outcome *outs = bk_xcalloc(k, sizeof *outs);
    size_t *which = bk_xmalloc(k * sizeof *which), m = 0, i = 0;
    for (; i < k && !atomic_load(&p->stop); i++) {
        bool is_ready = false;
        bk_err err = {0};
        int rc = bk_work_fetch(s, env, sl->owner, &runs[i], &outs[i], &is_ready, &ready[i], &err);
        if (is_ready) {
            which[m++] = i;
            continue;
        }
        if (rc && rc != BK_ELEASE)
            bk_log(BK_LOG_ERROR, "work", "run outcome not recorded run=%s error=\"%s\"", runs[i].id,
                   err.msg);
        batch_done(p, sl, i, &outs[i], true);
        wake_progress(p);
    }
    /* Stopping: give back the runs not started. */
    for (; i < k; i++) {
        bk_err err = {0};
        int64_t now = bk_clock_now_us();
        int rc = bk_store_run_release(s, runs[i].id, sl->owner, now, &err);
        if (rc == 0) {
            runs[i].status = BK_ST_QUEUED;
            runs[i].progress_percent = 0;
            runs[i].updated_us = now;
            if (env->on_event)
                env->on_event(env->event_ctx, &runs[i]);
        } else if (rc != BK_ELEASE) {
            bk_log(BK_LOG_WARN, "work", "release failed run=%s error=\"%s\"", runs[i].id, err.msg);
        }
        batch_done(p, sl, i, &outs[i], false);
    }
    batch_commit(p, sl, s, runs, ready, outs, which, m);
    pthread_mutex_lock(&p->lock);
    sl->n_runs = 0;
    p->busy--;
    pthread_cond_broadcast(&p->progress);
    pthread_mutex_unlock(&p->lock);
    free(ready);
    free(outs);
    free(which);
}

static void *worker_main(void *arg)
{
    slot *sl = arg;
    bk_pool *p = sl->pool;
    bk_store *s = open_store(p, sl->owner);
    bk_run *runs = bk_xmalloc(p->batch * sizeof *runs);
    int64_t backoff = 0;
    bool failing = false;
    while (s && !atomic_load(&p->stop)) {
        pthread_mutex_lock(&p->lock);
        uint64_t seq = p->wake_seq;
        pthread_mutex_unlock(&p->lock);
        bk_err err = {0};
        int64_t now = bk_clock_now_us(), lease = p->opts.env.conf->lease_ms * BK_US_PER_MS;
        size_t k = 0;
        int rc;
        pthread_mutex_t *order = p->opts.env.publish_order;
        if (order)
            pthread_mutex_lock(order);
        if (p->batch == 1) {
            rc = bk_store_run_claim(s, sl->owner, now, lease, &runs[0], &err);
        } else {
            rc = bk_store_runs_claim_many(s, sl->owner, now, lease, runs, p->batch, &k, &err);
            if (rc == 0 && k == 0)
                rc = BK_ENOENT;
        }
        if (order)
            pthread_mutex_unlock(order);
        if (failing || rc != BK_ENOENT)
            note_claim(p, sl, &failing, rc == 0 || rc == BK_ENOENT, err.msg);
        if (rc == 0) {
            backoff = 0;
            if (p->batch == 1)
                run_claimed(p, sl, s, &runs[0]);
            else
                run_batch(p, sl, s, runs, k);
            continue;
        }
        if (rc != BK_ENOENT) { /* the store failed: back off, do not spin */
            backoff = backoff ? BK_MIN(backoff * 2, CLAIM_BACKOFF_MAX_US) : CLAIM_BACKOFF_MIN_US;
            pause_claims(p, seq, backoff);
            continue;
        }
        backoff = 0;
        idle_wait(p, sl, s, seq);
    }
    free(runs);
    bk_store_close(s);
    return NULL;
}

/* Renew the lease of every run in flight every lease/3. */
static void *heartbeat_main(void *arg)
{
    bk_pool *p = arg;
    bk_store *s = open_store(p, "heartbeat");
    int64_t lease = p->opts.env.conf->lease_ms * BK_US_PER_MS;
    while (s && !atomic_load(&p->stop)) {
        pthread_mutex_lock(&p->lock);
        timed_wait(&p->hb_cond, &p->lock, lease / 3);
        size_t n = 0, total = 1;
        for (int i = 0; i < p->n_slots; i++)
            total += p->slots[i].n_runs;
        char(*ids)[BK_ID_MAX] = bk_xmalloc(total * sizeof *ids);
        char(*owners)[BK_OWNER_MAX] = bk_xmalloc(total * sizeof *owners);
        for (int i = 0; i < p->n_slots; i++) {
            for (size_t j = 0; j < p->slots[i].n_runs; j++) {
                if (!p->slots[i].run_ids[j][0])
                    continue;
                memcpy(ids[n], p->slots[i].run_ids[j], BK_ID_MAX);
                memcpy(owners[n], p->slots[i].owner, BK_OWNER_MAX);
                n++;
            }
        }
        pthread_mutex_unlock(&p->lock);
        for (size_t i = 0; i < n && !atomic_load(&p->stop); i++) {
            bk_err err = {0};
            int64_t now = bk_clock_now_us();
            int rc = bk_store_run_heartbeat(s, ids[i], owners[i], -1, now, now + lease, &err);
            if (rc && rc != BK_ELEASE)
                bk_log(BK_LOG_WARN, "work", "heartbeat failed run=%s error=\"%s\"", ids[i],
                       err.msg);
        }
        free(ids);
        free(owners);
    }
    bk_store_close(s);
    return NULL;
}

/* A notification may have made some run claimable: note it for waker_main. */
static void on_note(void *ctx, const bk_note *note)
{
    bool *claimable = ctx;
    /* queued: enqueued or requeued; finished: a run of its series may now
     * be claimable (one run per series at a time) */
    if (note->status != BK_ST_RUNNING)
        *claimable = true;
}

/* PostgreSQL only: LISTEN for job_runs changes and wake the workers when a
 * run becomes claimable. While listening, idle workers poll only every
 * poll_us; when the connection is lost they go back to polling every second
 * until the waker listens again (with a back-off), and are woken once then
 * (changes made meanwhile were not notified). */
static void *waker_main(void *arg)
{
    bk_pool *p = arg;
    int64_t poll_ms = p->opts.env.conf->worker_poll_ms;
    int64_t backoff = 0, notified_poll = (poll_ms > 0 ? poll_ms : POLL_NOTIFIED_MS) * BK_US_PER_MS;
    bk_store *s = NULL;
    while (!atomic_load(&p->stop)) {
        bk_err err = {0};
        if (!s) {
            s = open_store(p, "waker");
            if (!s)
                break;
            if (bk_store_listen(s, &err) != 0) {
                bk_log(BK_LOG_WARN, "work", "waker cannot listen error=\"%s\"", err.msg);
                bk_store_close(s);
                s = NULL;
                backoff = backoff ? BK_MIN(backoff * 2, CLAIM_BACKOFF_MAX_US) : 50 * BK_US_PER_MS;
                pthread_mutex_lock(&p->lock);
                if (!atomic_load(&p->stop))
                    timed_wait(&p->wake, &p->lock, backoff);
                pthread_mutex_unlock(&p->lock);
                continue;
            }
            backoff = 0;
            pthread_mutex_lock(&p->lock);
            p->poll_us = notified_poll;
            p->listening = true;
            pthread_mutex_unlock(&p->lock);
            bk_pool_wake(p); /* look once: runs enqueued before LISTEN were not notified */
        }
        bool claimable = false;
        if (bk_store_notifications(s, WAKER_WAIT_MS, on_note, &claimable, &err) != 0) {
            bk_log(BK_LOG_WARN, "work", "waker lost its connection error=\"%s\"", err.msg);
            bk_store_close(s);
            s = NULL;
            pthread_mutex_lock(&p->lock);
            p->poll_us = POLL_SQLITE_MS * BK_US_PER_MS;
            p->listening = false;
            pthread_mutex_unlock(&p->lock);
            bk_pool_wake(p); /* sleep a second at most until the waker is back */
            continue;
        }
        if (claimable)
            bk_pool_wake(p);
    }
    bk_store_close(s);
    return NULL;
}

int bk_pool_start(bk_pool **out, const bk_pool_opts *opts, bk_err *err)
{
    bk_pool *p = bk_xcalloc(1, sizeof *p);
    p->opts = *opts;
    p->db_url = bk_xstrdup(opts->db_url);
    p->opts.db_url = p->db_url;
    p->opts.env.stop = &p->stop;
    atomic_init(&p->stop, false);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->progress, NULL);
    pthread_cond_init(&p->hb_cond, NULL);
    p->n_slots = opts->threads > 0 ? opts->threads : 1;
    p->batch = opts->env.conf->claim_batch > 1 ? (size_t)opts->env.conf->claim_batch : 1;
    /* SQLite: worker_poll_ms or a second; PostgreSQL: a second until the
     * waker listens. */
    int64_t poll_ms = opts->env.conf->worker_poll_ms;
    p->poll_us = (poll_ms > 0 && !bk_store_url_notifies(opts->db_url) ? poll_ms : POLL_SQLITE_MS) *
                 BK_US_PER_MS;
    p->slots = bk_xcalloc((size_t)p->n_slots, sizeof *p->slots);
    p->run_ids = bk_xcalloc((size_t)p->n_slots * p->batch, sizeof *p->run_ids);
    for (int i = 0; i < p->n_slots; i++) {
        slot *sl = &p->slots[i];
        sl->pool = p;
        sl->index = i;
        sl->run_ids = p->run_ids + (size_t)i * p->batch;
        snprintf(sl->owner, sizeof sl->owner, "%s:w%d", bk_host_id(), i);
        if (pthread_create(&sl->thread, NULL, worker_main, sl) != 0) {
            p->n_slots = i;
            bk_pool_stop(p);
            return bk_err_set(err, BK_ENOMEM, "cannot start worker thread %d", i);
        }
    }
    if (pthread_create(&p->hb_thread, NULL, heartbeat_main, p) != 0) {
        bk_pool_stop(p);
        return bk_err_set(err, BK_ENOMEM, "cannot start heartbeat thread");
    }
    p->hb_started = true;
    if (bk_store_url_notifies(p->db_url)) { /* it raises poll_us once it listens */
        if (pthread_create(&p->waker_thread, NULL, waker_main, p) != 0) {
            bk_pool_stop(p);
            return bk_err_set(err, BK_ENOMEM, "cannot start waker thread");
        }
        p->waker_started = true;
    }
    *out = p;
    return 0;
}

bool bk_pool_failing(bk_pool *p, char *why, size_t cap)
{
    if (!p)
        return false;
    pthread_mutex_lock(&p->lock);
    bool failing = p->n_failing > 0;
    if (failing && why)
        bk_strlcpy(why, p->fail_msg, cap);
    pthread_mutex_unlock(&p->lock);
    return failing;
}

void bk_pool_wake(bk_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->wake_seq++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
}

void bk_pool_wait_progress(bk_pool *p, int64_t timeout_us)
{
    if (!p) {
        bk_sleep_us(timeout_us);
        return;
    }
    pthread_mutex_lock(&p->lock);
    timed_wait(&p->progress, &p->lock, timeout_us);
    pthread_mutex_unlock(&p->lock);
}

void bk_pool_counts(bk_pool *p, int64_t *finished, int64_t *dead)
{
    if (!p) {
        *finished = *dead = 0;
        return;
    }
    pthread_mutex_lock(&p->lock);
    *finished = p->finished;
    *dead = p->dead;
    pthread_mutex_unlock(&p->lock);
}

int bk_pool_idle(bk_pool *p, bool *listening)
{
    pthread_mutex_lock(&p->lock);
    int n = 0;
    for (int i = 0; i < p->n_slots; i++)
        n += p->slots[i].idle && p->slots[i].idle_seq == p->wake_seq;
    if (listening)
        *listening = p->listening;
    pthread_mutex_unlock(&p->lock);
    return n;
}

int bk_pool_busy(bk_pool *p)
{
    pthread_mutex_lock(&p->lock);
    int b = p->busy;
    pthread_mutex_unlock(&p->lock);
    return b;
}

void bk_pool_stop(bk_pool *p)
{
    if (!p)
        return;
    atomic_store(&p->stop, true);
    pthread_mutex_lock(&p->lock);
    pthread_cond_broadcast(&p->wake);
    pthread_cond_broadcast(&p->hb_cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->n_slots; i++)
        pthread_join(p->slots[i].thread, NULL);
    if (p->hb_started)
        pthread_join(p->hb_thread, NULL);
    if (p->waker_started)
        pthread_join(p->waker_thread, NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->progress);
    pthread_cond_destroy(&p->hb_cond);
    free(p->run_ids);
    free(p->slots);
    free(p->db_url);
    free(p);
}
