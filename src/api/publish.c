/*
 * publish.c — the change glue: bk_api_on_run and bk_api_on_enqueue are the
 * work and plan event callbacks. They count a run's outcome in the metrics
 * (metrics.c) and, unless the change listener publishes instead (PostgreSQL,
 * listen.c), publish the change on the event bus (events.h) for SSE clients
 * and change subscribers. On SQLite they also publish what else a change
 * made visible: a run's success changed its series' coverage_status row
 * (read back here, while a change subscriber is there), and the API's
 * writes of job_definitions (bk_api__publish_def).
 *
 * INSERT or UPDATE of coverage_status: the series known to have a row are
 * kept in a set seeded from the store at start (listen.c) and grown by
 * every success; a row of a series not in it is an INSERT. A row created by
 * another process writing the same SQLite file meanwhile is told as an
 * INSERT once.
 */
#include "api/api_impl.h"
#include "core/clock.h"
#include "core/log.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

/* Adds the series to the known set; returns whether it was there. The set
 * holds 64-bit hashes of (symbol, tf): a collision (odds ~n²/2^65) would
 * tell one first row as an UPDATE. Past 65536 series nothing more is
 * remembered (their changes read as INSERT). */
static bool cov_known_add(bk_api *a, const char *symbol, bk_tf tf)
{
    uint64_t h = bk_hash_bytes((uint64_t)tf + 1, symbol, strlen(symbol));
    h += h == 0; /* 0 marks an empty slot */
    pthread_mutex_lock(&a->cov_lock);
    if (a->n_cov_known < 65536 && 2 * (a->n_cov_known + 1) > a->cap_cov_known) {
        size_t cap = a->cap_cov_known ? 2 * a->cap_cov_known : 64;
        uint64_t *t = bk_xcalloc(cap, sizeof *t);
        for (size_t i = 0; i < a->cap_cov_known; i++)
            for (size_t j = a->cov_known[i] & (cap - 1); a->cov_known[i]; j = (j + 1) & (cap - 1))
                if (!t[j]) {
                    t[j] = a->cov_known[i];
                    break;
                }
        free(a->cov_known);
        a->cov_known = t;
        a->cap_cov_known = cap;
    }
    bool found = false;
    size_t mask = a->cap_cov_known - 1, j = h & mask;
    while (a->cov_known[j] && !(found = a->cov_known[j] == h))
        j = (j + 1) & mask;
    if (!found && 2 * (a->n_cov_known + 1) <= a->cap_cov_known) {
        a->cov_known[j] = h;
        a->n_cov_known++;
    }
    pthread_mutex_unlock(&a->cov_lock);
    return found;
}

void bk_api__cov_known(bk_api *a, const char *symbol, bk_tf tf)
{
    (void)cov_known_add(a, symbol, tf);
}

/* A run committed: publish its series' coverage_status row. */
static void publish_coverage(bk_api *a, const bk_run *run)
{
    if (!bk_bus_wants_changes(a->opts.bus)) {
        /* nobody to tell; a success leaves a row (but for an empty slice) */
        (void)cov_known_add(a, run->symbol, run->tf);
        return;
    }
    bk_err err = {0};
    bk_store *s = bk_api__db_take(a, &err);
    bk_coverage *rows = NULL;
    size_t n = 0;
    if (!s || bk_store_coverage_list(s, run->symbol, (int)run->tf, &rows, &n, &err) != 0) {
        bk_log(BK_LOG_WARN, "api", "cannot read coverage for its change symbol=%s error=\"%s\"",
               run->symbol, err.msg);
        bk_api__db_put(a, s);
        return;
    }
    bk_api__db_put(a, s);
    if (n == 1) {
        bool had = cov_known_add(a, rows[0].symbol, rows[0].tf);
        bk_change *c =
            bk_change_coverage(had ? "UPDATE" : "INSERT", &rows[0],
                               rows[0].updated_us ? rows[0].updated_us : bk_clock_now_us());
        bk_bus_publish_change(a->opts.bus, c);
        bk_change_release(c);
    }
    free(rows);
}

/* When the store notifies (PostgreSQL), the change listener (listen.c)
 * publishes every change, this process's included: publishing here too would
 * show each change twice. */
void bk_api_on_run(void *ctx, const bk_run *run)
{
    bk_api *a = ctx;
    if (!a->notifies) {
        bk_bus_publish_run(a->opts.bus, "UPDATE", run,
                           run->updated_us ? run->updated_us : bk_clock_now_us());
        if (run->status == BK_ST_SUCCESS)
            publish_coverage(a, run);
    }
    bk_metrics__on_run(&a->metrics, run);
}

void bk_api_on_enqueue(void *ctx, const bk_run *run)
{
    bk_api *a = ctx;
    if (!a->notifies)
        bk_bus_publish_run(a->opts.bus, "INSERT", run,
                           run->created_us ? run->created_us : bk_clock_now_us());
}

void bk_api__publish_def(bk_api *a, const char *type, const bk_def *d, int64_t at_us)
{
    if (a->notifies || !bk_bus_wants_changes(a->opts.bus))
        return;
    bk_change *c = bk_change_def(type, d, at_us ? at_us : bk_clock_now_us());
    bk_bus_publish_change(a->opts.bus, c);
    bk_change_release(c);
}
