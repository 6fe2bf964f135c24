/*
 * store_sqlite.h — internals of the SQLite backend, shared by its files:
 *   store_sqlite.c       connection, statement cache, helpers, migrations, definitions,
 *                        leadership, provider budgets (token buckets), the ops table
 *   store_sqlite_runs.c  the run queue: enqueue, claim, heartbeat, fail, requeue, lists
 *   store_sqlite_data.c  commit (bars + coverage + run), bars, coverage (also adopted
 *                        coverage), series_load
 *   sql/sqlite/NNNN_name.sql  the migrations, one SQL file per schema
 *                        version, embedded at build time (sql/embed.cmake)
 *
 * Every statement is prepared once per connection (bk_sq_stmt) into a slot named
 * by enum sq_slot and reused; callers sqlite3_reset it when done, so no
 * statement holds a read transaction between calls. Write transactions start
 * with BEGIN IMMEDIATE so they take the write lock up front (waiting up to
 * the busy timeout) instead of failing on a read-to-write upgrade.
 */
#ifndef BK_STORE_STORE_SQLITE_H
#define BK_STORE_STORE_SQLITE_H

#include <sqlite3.h>

#include "store/store_impl.h"

enum sq_slot {
    Q_BEGIN,
    Q_BEGIN_READ,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_USER_VERSION,
    Q_DEF_PUT_SET,
    Q_DEF_PUT_RAISE,
    Q_DEF_GET,
    Q_DEF_LIST_ALL,
    Q_DEF_LIST_ENABLED,
    Q_DEF_ENABLE,
    Q_DEF_DELETE,
    Q_DEF_CANCEL_RUNS,
    Q_RUN_INSERT,
    Q_RUN_CLAIM,
    Q_RUN_CLAIM_ID,
    Q_RUN_EXISTS,
    Q_RUN_HEARTBEAT,
    Q_RUN_SUCCESS,
    Q_RUN_RETRY,
    Q_RUN_DEAD,
    Q_RUN_RELEASE,
    Q_RUNS_EXPIRED_DEAD,
    Q_RUNS_EXPIRED_REQUEUE,
    Q_RUNS_OWNER_DEAD,
    Q_RUNS_OWNER_REQUEUE,
    Q_RUNS_RETRY_FAILED,
    Q_RUNS_REVIVE_DEAD,
    Q_RUN_GET,
    Q_RUNS_NEXT_QUEUED,
    Q_RUNS_NEXT_LEASE,
    Q_RUNS_OLDEST_QUEUED,
    BK_SLOTS(Q_RUNS_LIST, BK_VARIANTS_FILTER),  /* + filter mask */
    BK_SLOTS(Q_RUNS_COUNT, BK_VARIANTS_FILTER), /* + filter mask */
    BK_SLOTS(Q_SERIES_COV, BK_VARIANTS_ONE),    /* + 1 for one series */
    BK_SLOTS(Q_SERIES_ACTIVE, BK_VARIANTS_ONE),
    BK_SLOTS(Q_SERIES_DEAD, BK_VARIANTS_ONE),
    BK_SLOTS(Q_COV_LIST, BK_VARIANTS_ONE), /* + 1 for one series */
    Q_COV_PREV,
    Q_COV_MAXTO,
    Q_COV_DELETE,
    Q_COV_INSERT,
    Q_COV_STATUS,
    Q_BAR_UPSERT,
    Q_BAR_READ,
    BK_SLOTS(Q_BAR_COUNT, BK_VARIANTS_BAR_COUNT), /* + mask: 1 symbol, 2 tf */
    Q_LEADER_TRY,
    Q_LEADER_RELEASE,
    Q_LEADER_GET,
    Q_LEADER_TAKE,
    Q_COV_ADOPT,
    BK_SLOTS(Q_BAR_SERIES, BK_VARIANTS_ONE), /* + 1 for one symbol */
    Q_BUDGET_INIT,
    Q_BUDGET_GET,
    Q_BUDGET_PUT,
    Q_BAR_SOURCE,
    Q_RATE_LIMITED_ADD,
    Q_RATE_LIMITED_PRUNE,
    Q_RATE_LIMITED_COUNT,
    Q_FC_SCORE,
    Q_FC_DELETE,
    Q_FC_INSERT,
    Q_FC_META,
    Q_FC_POINTS,
    Q_FC_LIST,
    Q_FC_SCORES,
    Q_FC_GUARD,
    Q__N
};

typedef struct sq_store {
    bk_store base; /* first: a bk_store * is a sq_store * */
    sqlite3 *db;
    char *path;
    sqlite3_stmt *st[Q__N];
    const char *st_sql[Q__N]; /* the text each slot was prepared from (catches slot reuse) */
} sq_store;

static inline sq_store *sq(bk_store *s)
{
    return (sq_store *)s;
}

/* The migrations: bk_store__sq_migrations[i], the text of
 * sql/sqlite/000<i+1>_*.sql, brings the schema to version i + 1; applied in
 * its own BEGIN IMMEDIATE transaction together with PRAGMA user_version and a
 * row in schema_migrations. SQ_SCHEMA_LATEST of them (the generated source
 * checks the count). Never edit a migration that has shipped: append one. */
#define SQ_SCHEMA_LATEST 6
extern const char *const bk_store__sq_migrations[SQ_SCHEMA_LATEST];

/* Map a SQLite result code to a BK_E* code and fill err with "what: sqlite message". */
int bk_sq_fail(sq_store *q, int src, const char *what, bk_err *err);
/* The statement for slot, prepared from sql on first use. NULL (err set) on failure. */
sqlite3_stmt *bk_sq_stmt(sq_store *q, int slot, const char *sql, bk_err *err);
/* Like bk_sq_stmt for SQL built at run time into a caller's buffer: sql is
 * only read when the slot is empty. */
sqlite3_stmt *bk_sq_stmt_dyn(sq_store *q, int slot, const char *sql, bk_err *err);
/* Step a statement that returns no rows (or whose rows are ignored), then reset it.
 * 0 or a BK_E* code. */
int bk_sq_exec_stmt(sq_store *q, sqlite3_stmt *st, const char *what, bk_err *err);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK (rollback never fails visibly). */
int bk_sq_begin(sq_store *q, bk_err *err);
/* BEGIN (deferred): a read transaction, so that several statements read one
 * snapshot (WAL: writers go on meanwhile). End it with bk_sq_commit. */
int bk_sq_begin_read(sq_store *q, bk_err *err);
int bk_sq_commit(sq_store *q, bk_err *err);
void bk_sq_rollback(sq_store *q);

/* Bind "" or NULL as SQL NULL, else the text (SQLITE_TRANSIENT). */
void bk_sq_bind_text(sqlite3_stmt *st, int i, const char *s);
/* Bind 0 as SQL NULL, else the integer. */
void bk_sq_bind_time(sqlite3_stmt *st, int i, int64_t us);
/* Copy a text column (NULL → "") into dst of cap bytes. */
void bk_sq_col_text(char *dst, size_t cap, sqlite3_stmt *st, int i);
/* Parse the timeframe text of a column; -1 if it is not one. */
int bk_sq_col_tf(sqlite3_stmt *st, int i);

/* Upsert bars with the cached statement inside the caller's transaction. */
int bk_sq_bars_write(sq_store *q, const char *symbol, bk_tf tf, const char *provider,
                     const char *feed, const char *adjustment, const bk_bar *bars, size_t n,
                     bk_err *err);

/* The lease check and the run's success (rows_written = c->n_bars) inside
 * the caller's transaction: BK_ELEASE when the run is no longer running
 * under c->owner, BK_EINVAL when it is not a run of c's series. */
int bk_sq_mark_success(sq_store *q, const bk_commit *c, bk_err *err);

/* ops implemented in store_sqlite_fc.c */
int sq_fc_commit(bk_store *s, const bk_fc_commit *c, bk_err *err);
/* Delete the series' stored forecast (its scores stay): a removed
 * run_forecast definition's forecast is no longer served. In q's open
 * transaction. */
int bk_sq_fc_drop(sq_store *q, const char *symbol, bk_tf tf, bk_err *err);
int sq_fc_get(bk_store *s, const char *symbol, bk_tf tf, bk_fc_meta *meta, bk_fc_point **pts,
              size_t *n, bk_err *err);
int sq_fc_list(bk_store *s, bk_fc_meta **out, size_t *n, bk_err *err);
int sq_fc_score(bk_store *s, const char *symbol, bk_tf tf, int64_t now_us, size_t *n_scored,
                bk_err *err);
int sq_fc_scores_read(bk_store *s, const char *symbol, bk_tf tf, int last_n, bk_fc_scored_cb cb,
                      void *ctx, bk_err *err);

/* ops implemented in store_sqlite_rest.c */
int sq_rest_read(bk_store *s, const bk_rquery *q, bk_rrow_fn row, void *ctx, int64_t *total,
                 bk_err *err);
/* ops implemented in store_sqlite_runs.c */
int sq_runs_enqueue(bk_store *s, bk_run *runs, size_t n, size_t *n_inserted, int64_t now_us,
                    bk_err *err);
int sq_run_claim(bk_store *s, const char *owner, int64_t now_us, int64_t lease_us, bk_run *out,
                 bk_err *err);
int sq_runs_claim_many(bk_store *s, const char *owner, int64_t now_us, int64_t lease_us,
                       bk_run *out, size_t cap, size_t *n, bk_err *err);
int sq_run_claim_id(bk_store *s, const char *id, const char *owner, int64_t now_us,
                    int64_t lease_us, bk_run *out, bk_err *err);
int sq_run_heartbeat(bk_store *s, const char *run_id, const char *owner, double progress,
                     int64_t now_us, int64_t lease_until_us, bk_err *err);
int sq_run_fail(bk_store *s, const bk_failure *f, bk_err *err);
int sq_run_release(bk_store *s, const char *run_id, const char *owner, int64_t now_us, bk_err *err);
int sq_runs_requeue_expired(bk_store *s, int64_t now_us, int max_lease_expiries, const char *owner,
                            size_t *n, bk_err *err);
int sq_runs_revive_dead(bk_store *s, int64_t now_us, int64_t base_us, int64_t max_us,
                        int extra_attempts, size_t *n, bk_err *err);
int sq_runs_retry_failed(bk_store *s, int64_t now_us, int extra_attempts, size_t *n, bk_err *err);
int sq_run_get(bk_store *s, const char *id, bk_run *out, bk_err *err);
int sq_runs_list(bk_store *s, const bk_run_filter *f, bk_run **out, size_t *n, bk_err *err);
int sq_runs_count(bk_store *s, const bk_run_filter *f, int64_t counts[BK_ST__N], bk_err *err);
int sq_runs_next_event(bk_store *s, int64_t *out_us, bk_err *err);
int sq_runs_oldest_queued(bk_store *s, int64_t *out_us, bk_err *err);

/* ops implemented in store_sqlite_data.c */
int sq_run_commit(bk_store *s, const bk_commit *c, bk_err *err);
int sq_runs_commit_many(bk_store *s, const bk_commit *c, size_t n, int *rc_each, bk_err *err);
int sq_series_load(bk_store *s, const char *symbol, int tf, bk_series **out, size_t *n,
                   bk_err *err);
int sq_coverage_list(bk_store *s, const char *symbol, int tf, bk_coverage **out, size_t *n,
                     bk_err *err);
int sq_bars_upsert(bk_store *s, const char *symbol, bk_tf tf, const char *provider,
                   const char *feed, const char *adjustment, const bk_bar *bars, size_t n,
                   bk_err *err);
int sq_bars_read(bk_store *s, const char *symbol, bk_tf tf, int64_t from_us, int64_t to_us,
                 bk_bar_cb cb, void *ctx, bk_err *err);
int sq_bars_count(bk_store *s, const char *symbol, int tf, int64_t *out, bk_err *err);
int sq_bars_source(bk_store *s, const char *symbol, bk_tf tf, bk_source *out, bk_err *err);
int sq_bars_series(bk_store *s, const char *symbol, bk_bar_series **out, size_t *n, bk_err *err);
int sq_coverage_add(bk_store *s, const char *symbol, bk_tf tf, const bk_ivset *covered,
                    const char *provider, int64_t now_us, bk_err *err);

#endif
