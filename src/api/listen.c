/*
 * listen.c — the change listener: on PostgreSQL, every job_runs change made
 * by any process reaches this process's event bus. A thread owns two store
 * connections: one LISTENs (bk_store_listen) and waits for notifications in
 * short slices, so it notices bk_api_stop within LISTEN_POLL_MS; the other
 * reads each notified run (bk_store_run_get), which is then published with
 * the trigger's operation (INSERT or UPDATE) as the event type.
 *
 * While the store notifies, this thread is the only publisher of run events:
 * bk_api_on_run and bk_api_on_enqueue only count (publish.c), so a change made
 * in this process is published once, when its notification comes back.
 *
 * A lost connection is logged, both connections are closed and reopened
 * with a backoff of 50 ms doubling to 5 s; changes committed while
 * disconnected are not published (SSE clients see the next ones).
 *
 * Read next: docs/internals/events.md, "Across processes".
 */
#include "api/api_impl.h"
#include "core/clock.h"
#include "core/log.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LISTEN_POLL_MS 200
#define BACKOFF_MIN_US (50 * BK_US_PER_MS)
#define BACKOFF_MAX_US (5 * BK_US_PER_S)

static void close_conns(bk_api *a)
{
    bk_store_close(a->ln_listen);
    bk_store_close(a->ln_read);
    a->ln_listen = a->ln_read = NULL;
}

/* Open both connections and LISTEN. On failure nothing stays open. */
static int open_conns(bk_api *a, bk_err *err)
{
    int rc = bk_store_open(&a->ln_listen, a->db_url, err);
    if (rc == 0)
        rc = bk_store_listen(a->ln_listen, err);
    if (rc == 0)
        rc = bk_store_open(&a->ln_read, a->db_url, err);
    if (rc)
        close_conns(a);
    return rc;
}

/* A notification: read the run and publish it. */
static void on_note(void *ctx, const bk_note *note)
{
    bk_api *a = ctx;
    bk_run run;
    bk_err err = {0};
    int rc = bk_store_run_get(a->ln_read, note->run_id, &run, &err);
    if (rc == BK_ENOENT)
        return; /* removed meanwhile: nothing to show */
    if (rc) {
        bk_log(BK_LOG_WARN, "api", "change listener cannot read run id=%s error=\"%s\"",
               note->run_id, err.msg);
        return;
    }
    /* the row may have moved on since: show the change as it was made */
    run.status = note->status;
    run.progress_percent = note->progress_percent;
    if (note->updated_us)
        run.updated_us = note->updated_us;
    int64_t at = strcmp(note->op, "INSERT") == 0 ? run.created_us : run.updated_us;
    bk_bus_publish_run(a->opts.bus, note->op, &run, at ? at : bk_clock_now_us());
}

/* Sleep up to us, returning early when the API stops. */
static void nap(bk_api *a, int64_t us)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (us % BK_US_PER_S) * 1000;
    ts.tv_sec += (time_t)(us / BK_US_PER_S + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_mutex_lock(&a->sse_lock);
    while (!atomic_load(&a->stopping))
        if (pthread_cond_timedwait(&a->sse_cond, &a->sse_lock, &ts) != 0)
            break; /* timed out */
    pthread_mutex_unlock(&a->sse_lock);
}

/* Reconnect after backoff_us; returns the next backoff (0 once connected). */
static int64_t reconnect(bk_api *a, int64_t backoff_us)
{
    nap(a, backoff_us);
    if (atomic_load(&a->stopping))
        return backoff_us;
    bk_err err = {0};
    if (open_conns(a, &err) == 0) {
        bk_log(BK_LOG_INFO, "api", "change listener reconnected");
        return 0;
    }
    int64_t next = BK_MIN(backoff_us * 2, BACKOFF_MAX_US);
    bk_log(BK_LOG_WARN, "api", "change listener cannot reconnect retry_ms=%lld error=\"%s\"",
           (long long)(next / BK_US_PER_MS), err.msg);
    return next;
}

static void *listener_main(void *arg)
{
    bk_api *a = arg;
    int64_t backoff = 0;
    while (!atomic_load(&a->stopping)) {
        if (!a->ln_listen) {
            backoff = reconnect(a, backoff ? backoff : BACKOFF_MIN_US);
            continue;
        }
        bk_err err = {0};
        if (bk_store_notifications(a->ln_listen, LISTEN_POLL_MS, on_note, a, &err) != 0) {
            bk_log(BK_LOG_WARN, "api",
                   "change listener lost its connection, events are missed until it is back "
                   "error=\"%s\"",
                   err.msg);
            close_conns(a);
            backoff = BACKOFF_MIN_US;
        }
    }
    close_conns(a);
    return NULL;
}

int bk_listen__start(bk_api *a, bk_err *err)
{
    bk_store *s = NULL;
    int rc = bk_store_open(&s, a->db_url, err);
    if (rc)
        return rc;
    if (!bk_store_notifies(s)) {
        a->db_free[a->n_db_free++] = s; /* SQLite: one connection for the request pool */
        return 0;
    }
    a->ln_listen = s;
    rc = bk_store_listen(a->ln_listen, err);
    if (rc == 0)
        rc = bk_store_open(&a->ln_read, a->db_url, err);
    if (rc == 0 && pthread_create(&a->listener, NULL, listener_main, a) != 0)
        rc = bk_err_set(err, BK_ENOMEM, "cannot start the change listener thread");
    if (rc) {
        close_conns(a);
        return rc;
    }
    a->listener_started = true;
    a->notifies = true;
    bk_log(BK_LOG_INFO, "api", "change listener started: events of every process are streamed");
    return 0;
}

void bk_listen__stop(bk_api *a)
{
    if (a->listener_started) {
        pthread_join(a->listener, NULL); /* sees a->stopping within LISTEN_POLL_MS */
        a->listener_started = false;
    }
    close_conns(a);
}
