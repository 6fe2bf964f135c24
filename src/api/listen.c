/*
 * listen.c — the change listener: on PostgreSQL, every job_runs,
 * coverage_status and job_definitions change made by any process reaches
 * this process's event bus. A thread owns two store connections: one
 * LISTENs (bk_store_listen, bk_store_listen_rows) and waits for
 * notifications in short slices, so it notices bk_api_stop within
 * LISTEN_POLL_MS; the other reads each notified row (bk_store_run_get,
 * bk_store_coverage_list, bk_store_def_list), which is then published with
 * the trigger's operation (INSERT, UPDATE, or DELETE with the key the
 * notification carries) as the change's type. Rows of the other tables are
 * read only while a change subscriber is there (bk_bus_wants_changes).
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
        rc = bk_store_listen_rows(a->ln_listen, err);
    if (rc == 0)
        rc = bk_store_open(&a->ln_read, a->db_url, err);
    if (rc)
        close_conns(a);
    return rc;
}

/* A coverage_status notification ("SYMBOL TF"): read the row and publish it. */
static void on_coverage_note(bk_api *a, const bk_note *note)
{
    char sym[BK_SYM_MAX + 1];
    const char *sp = strrchr(note->key, ' ');
    bk_tf tf;
    if (!sp || (size_t)(sp - note->key) > BK_SYM_MAX || bk_tf_parse(sp + 1, &tf) != 0)
        return;
    memcpy(sym, note->key, (size_t)(sp - note->key));
    sym[sp - note->key] = '\0';
    const bk_table_def *t = bk_rt_table("coverage_status");
    if (strcmp(note->op, "DELETE") == 0) {
        const char *key[2] = {sym, bk_tf_name(tf)};
        bk_change *c = bk_change_delete(t, key, bk_clock_now_us());
        bk_bus_publish_change(a->opts.bus, c);
        bk_change_release(c);
        return;
    }
    bk_coverage *rows = NULL;
    size_t n = 0;
    bk_err err = {0};
    if (bk_store_coverage_list(a->ln_read, sym, (int)tf, &rows, &n, &err) != 0) {
        bk_log(BK_LOG_WARN, "api", "change listener cannot read coverage symbol=%s error=\"%s\"",
               sym, err.msg);
        return;
    }
    if (n == 1) { /* none: removed meanwhile */
        bk_change *c = bk_change_coverage(
            note->op, &rows[0], rows[0].updated_us ? rows[0].updated_us : bk_clock_now_us());
        bk_bus_publish_change(a->opts.bus, c);
        bk_change_release(c);
    }
    free(rows);
}

/* A job_definitions notification (the id): read the row and publish it.
 * There are few definitions; the store has no read by id. */
static void on_def_note(bk_api *a, const bk_note *note)
{
    if (strcmp(note->op, "DELETE") == 0) {
        const char *key[1] = {note->key};
        bk_change *c = bk_change_delete(bk_rt_table("job_definitions"), key, bk_clock_now_us());
        bk_bus_publish_change(a->opts.bus, c);
        bk_change_release(c);
        return;
    }
    bk_def *defs = NULL;
    size_t n = 0;
    bk_err err = {0};
    if (bk_store_def_list(a->ln_read, false, &defs, &n, &err) != 0) {
        bk_log(BK_LOG_WARN, "api", "change listener cannot read definition id=%s error=\"%s\"",
               note->key, err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(defs[i].id, note->key) == 0) {
            bk_change *c = bk_change_def(
                note->op, &defs[i], defs[i].updated_us ? defs[i].updated_us : bk_clock_now_us());
            bk_bus_publish_change(a->opts.bus, c);
            bk_change_release(c);
            break;
        }
    free(defs);
}

/* A notification: read the row and publish it. */
static void on_note(void *ctx, const bk_note *note)
{
    bk_api *a = ctx;
    if (note->table && strcmp(note->table, "job_runs") != 0) {
        if (!bk_bus_wants_changes(a->opts.bus))
            return; /* nobody takes them: no read */
        if (strcmp(note->table, "coverage_status") == 0)
            on_coverage_note(a, note);
        else if (strcmp(note->table, "job_definitions") == 0)
            on_def_note(a, note);
        return;
    }
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
        /* SQLite: the series with coverage so far (publish.c), and one
         * connection for the request pool */
        bk_coverage *rows = NULL;
        size_t n = 0;
        bk_err e = {0};
        if (bk_store_coverage_list(s, NULL, -1, &rows, &n, &e) != 0)
            bk_log(BK_LOG_WARN, "api",
                   "cannot read coverage: its first changes may show as INSERT error=\"%s\"",
                   e.msg);
        for (size_t i = 0; i < n; i++)
            bk_api__cov_known(a, rows[i].symbol, rows[i].tf);
        free(rows);
        a->db_free[a->n_db_free++] = s;
        return 0;
    }
    a->ln_listen = s;
    rc = bk_store_listen(a->ln_listen, err);
    if (rc == 0)
        rc = bk_store_listen_rows(a->ln_listen, err);
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
