/*
 * store_pg.h — internals of the PostgreSQL backend, shared by its files:
 *   pg_wire.c        the libpq wire layer (pg_wire.h): connection (reset once
 *                    on a lost connection), statement cache, binary
 *                    parameters and columns, COPY, errors
 *   store_pg.c       migrations, definitions, leadership (session advisory
 *                    locks), provider budgets (token buckets under a row
 *                    lock), LISTEN/NOTIFY of job_runs changes, the ops table
 *   store_pg_runs.c  the run queue: enqueue, claim (SKIP LOCKED), heartbeat,
 *                    fail, requeue, lists
 *   store_pg_clock.c the database's clock: leases and budgets are kept in the
 *                    server's time, converted from and to barkeep's
 *   store_pg_data.c  commit (run + bars + coverage), bars (COPY path), coverage
 *                    (also adopted coverage), series_load
 *   schema_pg.c      the market_sessions fill (schema_pg.h; calls the wire
 *                    layer only)
 *   sql/pg/NNNN_*.sql the migrations (tables, triggers, PL/pgSQL,
 *                    get_coverage_gaps), embedded at build time
 *
 * Every statement is prepared once per connection (PQprepare, named "bk<slot>")
 * and run with PQexecPrepared, parameters and results in binary format:
 * instants travel as timestamptz (int64 microseconds since 2000-01-01), so
 * they round-trip exactly. Read docs/internals/store.md, "PostgreSQL".
 */
#ifndef BK_STORE_STORE_PG_H
#define BK_STORE_STORE_PG_H

#include "store/pg_wire.h"
#include "store/schema_pg.h"
#include "store/store_test.h"

enum pg_slot {
    P_DEF_PUT_SET,
    P_DEF_PUT_RAISE,
    P_DEF_GET,
    P_DEF_LIST_ALL,
    P_DEF_LIST_ENABLED,
    P_DEF_ENABLE,
    P_DEF_DELETE,
    P_DEF_CANCEL_RUNS,
    P_RUN_INSERT,
    P_RUN_CLAIM,
    P_RUN_CLAIM_ID,
    P_RUN_EXISTS,
    P_RUN_HEARTBEAT,
    P_RUN_SUCCESS,
    P_RUN_RETRY,
    P_RUN_DEAD,
    P_RUN_RELEASE,
    P_RUNS_EXPIRED_DEAD,
    P_RUNS_EXPIRED_REQUEUE,
    P_RUNS_OWNER_DEAD,
    P_RUNS_OWNER_REQUEUE,
    P_RUNS_RETRY_FAILED,
    P_RUNS_REVIVE_DEAD,
    P_RUN_GET,
    P_RUNS_NEXT_QUEUED,
    P_RUNS_NEXT_LEASE,
    P_RUNS_OLDEST_QUEUED,
    BK_SLOTS(P_RUNS_LIST, BK_VARIANTS_FILTER),  /* + filter mask */
    BK_SLOTS(P_RUNS_COUNT, BK_VARIANTS_FILTER), /* + filter mask */
    BK_SLOTS(P_SERIES_COV, BK_VARIANTS_ONE),    /* + 1 for one series */
    BK_SLOTS(P_COV_LIST, BK_VARIANTS_ONE),      /* + 1 for one series */
    P_COV_BOUNDS,
    P_COV_MERGE,
    P_COV_STATUS,
    P_BAR_UPSERT,
    P_BAR_FROM_TEMP,
    P_BAR_READ,
    BK_SLOTS(P_BAR_COUNT, BK_VARIANTS_BAR_COUNT), /* + mask: 1 symbol, 2 tf */
    P_LEADER_TRY,
    P_LEADER_RELEASE,
    P_LEADER_LOCK,
    P_LEADER_UNLOCK,
    P_COV_LOCK,
    P_COV_ADOPT,
    BK_SLOTS(P_BAR_SERIES, BK_VARIANTS_ONE), /* + 1 for one symbol */
    P_BUDGET_INIT,
    P_BUDGET_GET,
    P_BUDGET_PUT,
    P_RUNS_CLAIM_MANY,
    P_RUNS_COMMIT_MANY,
    P_BAR_SOURCE,
    P_RATE_LIMITED_ADD,
    P_RATE_LIMITED_COUNT,
    P_CLOCK_NOW,
    P_COVERAGE_GAPS,
    P_FC_SCORE,
    P_FC_DELETE,
    P_FC_INSERT,
    P_FC_META,
    P_FC_POINTS,
    P_FC_LIST,
    P_FC_SCORES,
    P_FC_LOCK_DEF,
    P_FC_NEWER,
    P__N
};

_Static_assert(P__N <= BK_PG_SLOTS_MAX, "more statement slots than a connection caches");

static inline pg_store *pgs(bk_store *s)
{
    return (pg_store *)s;
}

/* The server's clock (store_pg_clock.c). Instants that processes compare
 * (lease_until, provider budgets, the leader row) are stored in the server's
 * time: server = barkeep's + pg_clock_off(q). pg_clock_off measures when due
 * (first use, a new session, every minute; never inside a transaction: call
 * it before bk_pg_begin); pg_clock_off_cached does not. pg_clock_from_db turns
 * a stored server instant back into barkeep's time (0 stays 0). */
int64_t pg_clock_off(pg_store *q);
int64_t pg_clock_off_cached(const pg_store *q);
int64_t pg_clock_from_db(const pg_store *q, int64_t db_us);
/* The clock_skew op: barkeep's clock − the server's. */
int pg_clock_skew(bk_store *s, int64_t *skew_us, bk_err *err);

/* ops implemented in store_pg_runs.c */
int pg_runs_enqueue(bk_store *s, bk_run *runs, size_t n, size_t *n_inserted, int64_t now_us,
                    bk_err *err);
int pg_run_claim(bk_store *s, const char *owner, int64_t now_us, int64_t lease_us, bk_run *out,
                 bk_err *err);
int pg_runs_claim_many(bk_store *s, const char *owner, int64_t now_us, int64_t lease_us,
                       bk_run *out, size_t cap, size_t *n, bk_err *err);
int pg_run_claim_id(bk_store *s, const char *id, const char *owner, int64_t now_us,
                    int64_t lease_us, bk_run *out, bk_err *err);
int pg_run_heartbeat(bk_store *s, const char *run_id, const char *owner, double progress,
                     int64_t now_us, int64_t lease_until_us, bk_err *err);
int pg_run_fail(bk_store *s, const bk_failure *f, bk_err *err);
int pg_run_release(bk_store *s, const char *run_id, const char *owner, int64_t now_us, bk_err *err);
int pg_runs_requeue_expired(bk_store *s, int64_t now_us, int max_lease_expiries, const char *owner,
                            size_t *n, bk_err *err);
int pg_runs_revive_dead(bk_store *s, int64_t now_us, int64_t base_us, int64_t max_us,
                        int extra_attempts, size_t *n, bk_err *err);
int pg_runs_retry_failed(bk_store *s, int64_t now_us, int extra_attempts, size_t *n, bk_err *err);
int pg_run_get(bk_store *s, const char *id, bk_run *out, bk_err *err);
int pg_runs_list(bk_store *s, const bk_run_filter *f, bk_run **out, size_t *n, bk_err *err);
int pg_runs_count(bk_store *s, const bk_run_filter *f, int64_t counts[BK_ST__N], bk_err *err);
int pg_runs_next_event(bk_store *s, int64_t *out_us, bk_err *err);
int pg_runs_oldest_queued(bk_store *s, int64_t *out_us, bk_err *err);

/* ops implemented in store_pg_data.c */
int pg_run_commit(bk_store *s, const bk_commit *c, bk_err *err);
int pg_runs_commit_many(bk_store *s, const bk_commit *c, size_t n, int *rc_each, bk_err *err);
int pg_series_load(bk_store *s, const char *symbol, int tf, bk_series **out, size_t *n,
                   bk_err *err);
int pg_coverage_list(bk_store *s, const char *symbol, int tf, bk_coverage **out, size_t *n,
                     bk_err *err);
int pg_bars_upsert(bk_store *s, const char *symbol, bk_tf tf, const char *provider,
                   const char *feed, const char *adjustment, const bk_bar *bars, size_t n,
                   bk_err *err);
int pg_bars_read(bk_store *s, const char *symbol, bk_tf tf, int64_t from_us, int64_t to_us,
                 bk_bar_cb cb, void *ctx, bk_err *err);
int pg_bars_count(bk_store *s, const char *symbol, int tf, int64_t *out, bk_err *err);
int pg_bars_source(bk_store *s, const char *symbol, bk_tf tf, bk_source *out, bk_err *err);
int pg_bars_series(bk_store *s, const char *symbol, bk_bar_series **out, size_t *n, bk_err *err);
/* The lease check and the run's success (rows_written = c->n_bars) inside
 * the caller's transaction, row-locking the run: BK_ELEASE when the run is no
 * longer running under c->owner, BK_EINVAL when it is not of c's series. */
int bk_pg_mark_success(pg_store *q, const bk_commit *c, bk_err *err);
/* store_pg_fc.c */
int pg_fc_commit(bk_store *s, const bk_fc_commit *c, bk_err *err);
/* Delete the series' stored forecast (its scores stay): a removed
 * run_forecast definition's forecast is no longer served. In q's open
 * transaction. */
int bk_pg_fc_drop(pg_store *q, const char *symbol, bk_tf tf, bk_err *err);
int pg_fc_get(bk_store *s, const char *symbol, bk_tf tf, bk_fc_meta *meta, bk_fc_point **pts,
              size_t *n, bk_err *err);
int pg_fc_list(bk_store *s, bk_fc_meta **out, size_t *n, bk_err *err);
int pg_fc_score(bk_store *s, const char *symbol, bk_tf tf, int64_t now_us, size_t *n_scored,
                bk_err *err);
int pg_fc_scores_read(bk_store *s, const char *symbol, bk_tf tf, int last_n, bk_fc_scored_cb cb,
                      void *ctx, bk_err *err);
/* store_pg_rest.c */
int pg_rest_read(bk_store *s, const bk_rquery *q, bk_rrow_fn row, void *ctx, int64_t *total,
                 bk_err *err);
int pg_coverage_gaps(bk_store *s, const char *symbol, bk_tf tf, int32_t window_days, int64_t now_us,
                     bk_ivset *out, bk_err *err);
int pg_coverage_add(bk_store *s, const char *symbol, bk_tf tf, const bk_ivset *covered,
                    const char *provider, int64_t now_us, bk_err *err);

#endif
