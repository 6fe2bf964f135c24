/*
 * store_sqlite_runs.c — the run queue on SQLite: enqueue, claim, heartbeat,
 * fail, release, requeue of expired leases, retry of dead-lettered runs, and
 * the read side (get, list, count, next event).
 *
 * Every state change is one UPDATE whose WHERE clause states the transition
 * it allows (status = 'running' AND lease_owner = ?), so a worker that lost
 * its lease changes nothing and learns it from sqlite3_changes() == 0. A
 * single writing statement is its own write transaction: SQLite takes the
 * write lock before the statement reads anything, which makes the claim's
 * "pick the best queued run and mark it running" atomic across connections.
 * Batches (enqueue, requeue) use BEGIN IMMEDIATE. See docs/internals/store.md.
 */
#include "store/store_sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

#define RUN_COLS                                                                                   \
    "id, job_def_id, symbol, timeframe, job_type, slice_from, slice_to, status,"                   \
    " progress_percent, rows_written, provider, attempt, max_attempts, priority, error_code,"      \
    " error_message, triggered_by, lease_owner, created_at, started_at, finished_at,"              \
    " updated_at, not_before, lease_until, lease_expiries, dead_retries"

#define DEFAULT_MAX_ATTEMPTS 5

/* Returns 0, or BK_ESTORE for a row this binary cannot read. */
static int read_run(sqlite3_stmt *st, bk_run *r)
{
    memset(r, 0, sizeof *r);
    bk_sq_col_text(r->id, sizeof r->id, st, 0);
    bk_sq_col_text(r->def_id, sizeof r->def_id, st, 1);
    bk_sq_col_text(r->symbol, sizeof r->symbol, st, 2);
    int tf = bk_sq_col_tf(st, 3);
    const unsigned char *type = sqlite3_column_text(st, 4);
    const unsigned char *status = sqlite3_column_text(st, 7);
    if (tf < 0 || !type || bk_job_parse((const char *)type, &r->type) < 0 || !status ||
        bk_status_parse((const char *)status, &r->status) < 0)
        return BK_ESTORE;
    r->tf = (bk_tf)tf;
    r->slice_from_us = sqlite3_column_int64(st, 5);
    r->slice_to_us = sqlite3_column_int64(st, 6);
    r->progress_percent = sqlite3_column_double(st, 8);
    r->rows_written = sqlite3_column_int64(st, 9);
    bk_sq_col_text(r->provider, sizeof r->provider, st, 10);
    r->attempt = sqlite3_column_int(st, 11);
    r->max_attempts = sqlite3_column_int(st, 12);
    r->priority = sqlite3_column_int(st, 13);
    bk_sq_col_text(r->error_code, sizeof r->error_code, st, 14);
    bk_sq_col_text(r->error_message, sizeof r->error_message, st, 15);
    bk_sq_col_text(r->triggered_by, sizeof r->triggered_by, st, 16);
    bk_sq_col_text(r->lease_owner, sizeof r->lease_owner, st, 17);
    r->created_us = sqlite3_column_int64(st, 18);
    r->started_us = sqlite3_column_int64(st, 19);
    r->finished_us = sqlite3_column_int64(st, 20);
    r->updated_us = sqlite3_column_int64(st, 21);
    r->not_before_us = sqlite3_column_int64(st, 22);
    r->lease_until_us = sqlite3_column_int64(st, 23);
    r->lease_expiries = sqlite3_column_int(st, 24);
    r->dead_retries = sqlite3_column_int(st, 25);
    return 0;
}

/* Step st (whose bindings are set) expecting at most one row: 0 with the
 * row in *out, BK_ENOENT with no row, or a store error. Resets st. */
static int step_one_run(sq_store *q, sqlite3_stmt *st, bk_run *out, const char *what, bk_err *err)
{
    int src = sqlite3_step(st);
    int rc = BK_ENOENT;
    if (src == SQLITE_ROW) {
        rc = read_run(st, out);
        if (rc < 0)
            bk_err_set(err, rc, "%s: unreadable job_runs row", what);
        src = sqlite3_step(st); /* finish the statement: autocommit commits here */
    }
    if (src != SQLITE_DONE && src != SQLITE_ROW)
        rc = bk_sq_fail(q, src, what, err);
    sqlite3_reset(st);
    return rc;
}

/* ---- enqueue ---- */

static const char SQL_RUN_INSERT[] =
    "INSERT INTO job_runs (id, job_def_id, symbol, timeframe, job_type, slice_from, slice_to,"
    " status, attempt, max_attempts, priority, triggered_by, not_before, created_at, updated_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', 1, ?8, ?9, ?10, ?11, ?12, ?12)"
    " ON CONFLICT DO NOTHING";

static int insert_run(sq_store *q, sqlite3_stmt *st, bk_run *r, int64_t now_us, bool *inserted,
                      bk_err *err)
{
    char id[BK_ID_MAX];
    bk_uuid4(id);
    int max_attempts = r->max_attempts > 0 ? r->max_attempts : DEFAULT_MAX_ATTEMPTS;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    bk_sq_bind_text(st, 2, r->def_id);
    sqlite3_bind_text(st, 3, r->symbol, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, bk_tf_name(r->tf), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, bk_job_name(r->type), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, r->slice_from_us);
    sqlite3_bind_int64(st, 7, r->slice_to_us);
    sqlite3_bind_int(st, 8, max_attempts);
    sqlite3_bind_int(st, 9, r->priority);
    bk_sq_bind_text(st, 10, r->triggered_by);
    bk_sq_bind_time(st, 11, r->not_before_us);
    sqlite3_bind_int64(st, 12, now_us);
    int rc = bk_sq_exec_stmt(q, st, "enqueue run", err);
    *inserted = rc == 0 && sqlite3_changes(q->db) > 0;
    if (*inserted) {
        memcpy(r->id, id, sizeof id);
        r->status = BK_ST_QUEUED;
        r->attempt = 1;
        r->max_attempts = max_attempts;
        r->created_us = r->updated_us = now_us;
    } else {
        r->id[0] = '\0';
    }
    return rc;
}

int sq_runs_enqueue(bk_store *s, bk_run *runs, size_t n, size_t *n_inserted, int64_t now_us,
                    bk_err *err)
{
    sq_store *q = sq(s);
    sqlite3_stmt *st = bk_sq_stmt(q, Q_RUN_INSERT, SQL_RUN_INSERT, err);
    if (!st)
        return BK_ESTORE;
    int rc = bk_sq_begin(q, err);
    if (rc < 0)
        return rc;
    size_t k = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        bool inserted;
        rc = insert_run(q, st, &runs[i], now_us, &inserted, err);
        k += inserted;
    }
    if (rc == 0)
        rc = bk_sq_commit(q, err);
    else
        bk_sq_rollback(q);
    if (rc < 0) {
        for (size_t i = 0; i < n; i++)
            runs[i].id[0] = '\0';
        return rc;
    }
    *n_inserted = k;
    return 0;
}

/* ---- claim ---- */

static const char SQL_RUN_CLAIM[] =
    "UPDATE job_runs SET status = 'running', lease_owner = ?1, lease_until = ?2,"
    " started_at = ?3, updated_at = ?3"
    " WHERE id = (SELECT id FROM job_runs WHERE status = 'queued'"
    "   AND (not_before IS NULL OR not_before <= ?3)"
    "   ORDER BY priority DESC, created_at ASC, rowid ASC LIMIT 1)"
    " RETURNING " RUN_COLS;
static const char SQL_RUN_CLAIM_ID[] =
    "UPDATE job_runs SET status = 'running', lease_owner = ?1, lease_until = ?2,"
    " started_at = ?3, updated_at = ?3"
    " WHERE id = ?4 AND status = 'queued'"
    " RETURNING " RUN_COLS;
static const char SQL_RUN_EXISTS[] = "SELECT status FROM job_runs WHERE id = ?1";

int sq_run_claim(bk_store *s, const char *owner, int64_t now_us, int64_t lease_us, bk_run *out,
                 bk_err *err)
{
    sq_store *q = sq(s);
    sqlite3_stmt *st = bk_sq_stmt(q, Q_RUN_CLAIM, SQL_RUN_CLAIM, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, now_us + lease_us);
    sqlite3_bind_int64(st, 3, now_us);
    int rc = step_one_run(q, st, out, "claim run", err);
    if (rc == BK_ENOENT)
        bk_err_set(err, rc, "no claimable run");
    return rc;
}

/* The single-run claim, repeated inside one write transaction: the runs
 * come out in claim order and no other connection claims in between. */
int sq_runs_claim_many(bk_store *s, const char *owner, int64_t now_us, int64_t lease_us,
                       bk_run *out, size_t cap, size_t *n, bk_err *err)
{
    sq_store *q = sq(s);
    int rc = bk_sq_begin(q, err);
    if (rc < 0)
        return rc;
    size_t k = 0;
    while (k < cap && (rc = sq_run_claim(s, owner, now_us, lease_us, &out[k], err)) == 0)
        k++;
    if (rc == BK_ENOENT) {
        bk_err_clear(err);
        rc = 0;
    }
    if (rc == 0)
        rc = bk_sq_commit(q, err);
    else
        bk_sq_rollback(q);
    *n = rc == 0 ? k : 0;
    return rc;
}

int sq_run_claim_id(bk_store *s, const char *id, const char *owner, int64_t now_us,
                    int64_t lease_us, bk_run *out, bk_err *err)
{
    sq_store *q = sq(s);
    sqlite3_stmt *st = bk_sq_stmt(q, Q_RUN_CLAIM_ID, SQL_RUN_CLAIM_ID, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, now_us + lease_us);
    sqlite3_bind_int64(st, 3, now_us);
    sqlite3_bind_text(st, 4, id, -1, SQLITE_TRANSIENT);
    int rc = step_one_run(q, st, out, "claim run", err);
    if (rc != BK_ENOENT)
        return rc;
    st = bk_sq_stmt(q, Q_RUN_EXISTS, SQL_RUN_EXISTS, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        rc = bk_err_set(err, BK_EBUSY, "run %s is %s, not queued", id,
                        (const char *)sqlite3_column_text(st, 0));
    else if (src == SQLITE_DONE)
        rc = bk_err_set(err, BK_ENOENT, "run %s not found", id);
    else
        rc = bk_sq_fail(q, src, "claim run", err);
    sqlite3_reset(st);
    return rc;
}

/* ---- the running run's owner: heartbeat, fail, release ---- */

static const char SQL_RUN_HEARTBEAT[] =
    "UPDATE job_runs SET lease_until = ?3, updated_at = ?4,"
    " progress_percent = CASE WHEN ?5 >= 0 THEN ?5 ELSE progress_percent END"
    " WHERE id = ?1 AND status = 'running' AND lease_owner = ?2";
static const char SQL_RUN_RETRY[] =
    "UPDATE job_runs SET status = 'queued', attempt = attempt + ?8, not_before = ?3,"
    " error_code = ?4, error_message = ?5, provider = coalesce(?6, provider),"
    " progress_percent = 0, lease_owner = NULL, lease_until = NULL, updated_at = ?7"
    " WHERE id = ?1 AND status = 'running' AND lease_owner = ?2";
static const char SQL_RUN_DEAD[] =
    "UPDATE job_runs SET status = 'failed', finished_at = ?7, updated_at = ?7,"
    " error_code = ?4, error_message = ?5, provider = coalesce(?6, provider),"
    " lease_owner = NULL, lease_until = NULL"
    " WHERE id = ?1 AND status = 'running' AND lease_owner = ?2";
static const char SQL_RUN_RELEASE[] =
    "UPDATE job_runs SET status = 'queued', progress_percent = 0, lease_owner = NULL,"
    " lease_until = NULL, updated_at = ?3"
    " WHERE id = ?1 AND status = 'running' AND lease_owner = ?2";

/* Run st (bindings ?1 = run id, ?2 = owner, the rest set by the caller);
 * BK_ELEASE when it matched no row. */
static int owner_update(sq_store *q, sqlite3_stmt *st, const char *run_id, const char *owner,
                        const char *what, bk_err *err)
{
    sqlite3_bind_text(st, 1, run_id ? run_id : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, owner, -1, SQLITE_TRANSIENT);
    int rc = bk_sq_exec_stmt(q, st, what, err);
    if (rc == 0 && sqlite3_changes(q->db) == 0)
        rc = bk_err_set(err, BK_ELEASE, "%s: run %s is no longer running under %s", what,
                        run_id ? run_id : "", owner);
    return rc;
}

int sq_run_heartbeat(bk_store *s, const char *run_id, const char *owner, double progress,
                     int64_t now_us, int64_t lease_until_us, bk_err *err)
{
    sq_store *q = sq(s);
    sqlite3_stmt *st = bk_sq_stmt(q, Q_RUN_HEARTBEAT, SQL_RUN_HEARTBEAT, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_int64(st, 3, lease_until_us);
    sqlite3_bind_int64(st, 4, now_us);
    sqlite3_bind_double(st, 5, progress);
    return owner_update(q, st, run_id, owner, "heartbeat", err);
}

int sq_run_fail(bk_store *s, const bk_failure *f, bk_err *err)
{
    sq_store *q = sq(s);
    sqlite3_stmt *st = f->retry_at_us > 0 ? bk_sq_stmt(q, Q_RUN_RETRY, SQL_RUN_RETRY, err)
                                          : bk_sq_stmt(q, Q_RUN_DEAD, SQL_RUN_DEAD, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_int64(st, 3, f->retry_at_us > 0 ? f->retry_at_us : 0);
    sqlite3_bind_text(st, 4, f->error_code && *f->error_code ? f->error_code : "UNKNOWN", -1,
                      SQLITE_TRANSIENT);
    bk_sq_bind_text(st, 5, f->error_message);
    bk_sq_bind_text(st, 6, f->provider);
    sqlite3_bind_int64(st, 7, f->now_us);
    if (f->retry_at_us > 0)
        sqlite3_bind_int(st, 8, f->keep_attempt ? 0 : 1);
    return owner_update(q, st, f->run_id, f->owner, "record failure", err);
}

int sq_run_release(bk_store *s, const char *run_id, const char *owner, int64_t now_us, bk_err *err)
{
    sq_store *q = sq(s);
    sqlite3_stmt *st = bk_sq_stmt(q, Q_RUN_RELEASE, SQL_RUN_RELEASE, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_int64(st, 3, now_us);
    return owner_update(q, st, run_id, owner, "release run", err);
}

/* ---- maintenance: expired leases, dead letters ---- */

/* A lost lease does not spend an attempt (the owner died or stalled; the
 * provider did not fail): lease_expiries counts it, and only reaching
 * max_lease_expiries (?2) dead-letters the run. The expired variants pick
 * runs by lease_until (the job_runs_lease index), the owner variants the
 * running runs of one owner known to be dead (?3). */
#define EXPIRED_DEAD_SQL(cond)                                                                     \
    "UPDATE job_runs SET status = 'failed', error_code = 'LEASE_EXPIRED',"                         \
    " error_message = 'lease of ' || coalesce(lease_owner, '?') || ' lost ' ||"                    \
    " (lease_expiries + 1) || ' times', lease_expiries = lease_expiries + 1,"                      \
    " finished_at = ?1, updated_at = ?1, lease_owner = NULL, lease_until = NULL"                   \
    " WHERE status = 'running' AND " cond " AND lease_expiries + 1 >= ?2"
#define EXPIRED_REQUEUE_SQL(cond, why)                                                             \
    "UPDATE job_runs SET status = 'queued', lease_expiries = lease_expiries + 1,"                  \
    " triggered_by = 'lease_expired', error_code = 'LEASE_EXPIRED',"                               \
    " error_message = 'lease of ' || coalesce(lease_owner, '?') || " why ","                       \
    " progress_percent = 0, not_before = NULL, lease_owner = NULL, lease_until = NULL,"            \
    " updated_at = ?1"                                                                             \
    " WHERE status = 'running' AND " cond " AND ?2 > 0"
static const char SQL_RUNS_EXPIRED_DEAD[] = EXPIRED_DEAD_SQL("lease_until < ?1 AND ?3 IS NULL");
static const char SQL_RUNS_EXPIRED_REQUEUE[] =
    EXPIRED_REQUEUE_SQL("lease_until < ?1 AND ?3 IS NULL", "' expired'");
static const char SQL_RUNS_OWNER_DEAD[] = EXPIRED_DEAD_SQL("lease_owner = ?3");
static const char SQL_RUNS_OWNER_REQUEUE[] =
    EXPIRED_REQUEUE_SQL("lease_owner = ?3", "' lost: the process is gone'");
/* OR IGNORE skips a run whose slice is active again (the unique index). */
static const char SQL_RUNS_RETRY_FAILED[] =
    "UPDATE OR IGNORE job_runs SET status = 'queued', attempt = attempt + 1,"
    " max_attempts = attempt + ?2, lease_expiries = 0, triggered_by = 'retry_failed',"
    " not_before = NULL, finished_at = NULL, progress_percent = 0, updated_at = ?1"
    " WHERE status = 'failed'";
/* The cool-down of a dead run: min(?3 << min(dead_retries, ?5), ?4), where
 * ?3 << ?5 is the first doubling at or past the cap ?4 (no overflow). */
static const char SQL_RUNS_REVIVE_DEAD[] =
    "UPDATE OR IGNORE job_runs SET status = 'queued', attempt = attempt + 1,"
    " max_attempts = attempt + ?2, lease_expiries = 0, dead_retries = dead_retries + 1,"
    " triggered_by = 'dead_retry', not_before = NULL, finished_at = NULL,"
    " progress_percent = 0, updated_at = ?1"
    " WHERE status = 'failed'"
    "   AND coalesce(finished_at, updated_at) + min(?3 << min(dead_retries, ?5), ?4) <= ?1"
    "   AND job_def_id IN (SELECT id FROM job_definitions WHERE enabled = 1)";

int sq_runs_requeue_expired(bk_store *s, int64_t now_us, int max_lease_expiries, const char *owner,
                            size_t *n, bk_err *err)
{
    sq_store *q = sq(s);
    sqlite3_stmt *dead = owner ? bk_sq_stmt(q, Q_RUNS_OWNER_DEAD, SQL_RUNS_OWNER_DEAD, err)
                               : bk_sq_stmt(q, Q_RUNS_EXPIRED_DEAD, SQL_RUNS_EXPIRED_DEAD, err);
    sqlite3_stmt *requeue =
        !dead   ? NULL
        : owner ? bk_sq_stmt(q, Q_RUNS_OWNER_REQUEUE, SQL_RUNS_OWNER_REQUEUE, err)
                : bk_sq_stmt(q, Q_RUNS_EXPIRED_REQUEUE, SQL_RUNS_EXPIRED_REQUEUE, err);
    if (!requeue)
        return BK_ESTORE;
    int rc = bk_sq_begin(q, err);
    if (rc < 0)
        return rc;
    size_t k = 0;
    sqlite3_stmt *steps[2] = {dead, requeue};
    for (int i = 0; i < 2 && rc == 0; i++) {
        sqlite3_bind_int64(steps[i], 1, now_us);
        sqlite3_bind_int(steps[i], 2, max_lease_expiries);
        bk_sq_bind_text(steps[i], 3, owner);
        rc = bk_sq_exec_stmt(q, steps[i], i ? "requeue expired runs" : "dead-letter expired runs",
                             err);
        k += rc == 0 ? (size_t)sqlite3_changes(q->db) : 0;
    }
    if (rc < 0) {
        bk_sq_rollback(q);
        return rc;
    }
    rc = bk_sq_commit(q, err);
    if (rc == 0)
        *n = k;
    return rc;
}

int sq_runs_retry_failed(bk_store *s, int64_t now_us, int extra_attempts, size_t *n, bk_err *err)
{
    sq_store *q = sq(s);
    sqlite3_stmt *st = bk_sq_stmt(q, Q_RUNS_RETRY_FAILED, SQL_RUNS_RETRY_FAILED, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_int64(st, 1, now_us);
    sqlite3_bind_int(st, 2, extra_attempts);
    int rc = bk_sq_exec_stmt(q, st, "retry failed runs", err);
    if (rc == 0)
        *n = (size_t)sqlite3_changes(q->db);
    return rc;
}

int sq_runs_revive_dead(bk_store *s, int64_t now_us, int64_t base_us, int64_t max_us,
                        int extra_attempts, size_t *n, bk_err *err)
{
    sq_store *q = sq(s);
    sqlite3_stmt *st = bk_sq_stmt(q, Q_RUNS_REVIVE_DEAD, SQL_RUNS_REVIVE_DEAD, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_int64(st, 1, now_us);
    sqlite3_bind_int(st, 2, extra_attempts);
    sqlite3_bind_int64(st, 3, base_us);
    sqlite3_bind_int64(st, 4, max_us);
    sqlite3_bind_int(st, 5, bk_store__doublings(base_us, max_us));
    int rc = bk_sq_exec_stmt(q, st, "re-plan dead runs", err);
    if (rc == 0)
        *n = (size_t)sqlite3_changes(q->db);
    return rc;
}

/* ---- reading ---- */

static const char SQL_RUN_GET[] = "SELECT " RUN_COLS " FROM job_runs WHERE id = ?1";

int sq_run_get(bk_store *s, const char *id, bk_run *out, bk_err *err)
{
    sq_store *q = sq(s);
    sqlite3_stmt *st = bk_sq_stmt(q, Q_RUN_GET, SQL_RUN_GET, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int rc = step_one_run(q, st, out, "get run", err);
    if (rc == BK_ENOENT)
        bk_err_set(err, rc, "run %s not found", id);
    return rc;
}

/* Statement for a filter shape: one cached statement per combination of
 * filters, so each can use its index. Parameters ?1 status, ?2 symbol,
 * ?3 timeframe, ?4 since, ?5 limit (list only). */
static sqlite3_stmt *filter_stmt(sq_store *q, const bk_run_filter *f, bool count, bk_err *err)
{
    int mask = bk_store__filter_mask(f);
    int slot = (count ? Q_RUNS_COUNT_FIRST : Q_RUNS_LIST_FIRST) + mask;
    sqlite3_stmt *st = q->st[slot];
    if (!st) {
        char sql[512];
        snprintf(sql, sizeof sql, "SELECT %s FROM job_runs WHERE 1%s%s%s%s %s",
                 count ? "status, count(*)" : RUN_COLS,
                 mask & BK_F_STATUS ? " AND status = ?1" : "",
                 mask & BK_F_SYMBOL ? " AND symbol = ?2" : "",
                 mask & BK_F_TF ? " AND timeframe = ?3" : "",
                 mask & BK_F_SINCE ? " AND created_at >= ?4" : "",
                 count ? "GROUP BY status" : "ORDER BY created_at DESC, rowid DESC LIMIT ?5");
        st = bk_sq_stmt_dyn(q, slot, sql, err);
        if (!st)
            return NULL;
    }
    if (mask & BK_F_STATUS)
        sqlite3_bind_text(st, 1, bk_status_name((bk_status)f->status), -1, SQLITE_STATIC);
    if (mask & BK_F_SYMBOL)
        sqlite3_bind_text(st, 2, f->symbol, -1, SQLITE_TRANSIENT);
    if (mask & BK_F_TF)
        sqlite3_bind_text(st, 3, bk_tf_name((bk_tf)f->tf), -1, SQLITE_STATIC);
    if (mask & BK_F_SINCE)
        sqlite3_bind_int64(st, 4, f->since_us);
    if (!count)
        sqlite3_bind_int64(st, 5, f->limit ? (int64_t)f->limit : -1);
    return st;
}

int sq_runs_list(bk_store *s, const bk_run_filter *f, bk_run **out, size_t *n, bk_err *err)
{
    sq_store *q = sq(s);
    sqlite3_stmt *st = filter_stmt(q, f, false, err);
    if (!st)
        return BK_ESTORE;
    bk_run *v = NULL;
    size_t len = 0, cap = 0;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        bk_grow((void **)&v, &cap, len + 1, sizeof *v);
        if (read_run(st, &v[len]) == 0)
            len++;
    }
    int rc = src == SQLITE_DONE ? 0 : bk_sq_fail(q, src, "list runs", err);
    sqlite3_reset(st);
    if (rc < 0) {
        free(v);
        return rc;
    }
    *out = v;
    *n = len;
    return 0;
}

int sq_runs_count(bk_store *s, const bk_run_filter *f, int64_t counts[BK_ST__N], bk_err *err)
{
    sq_store *q = sq(s);
    sqlite3_stmt *st = filter_stmt(q, f, true, err);
    if (!st)
        return BK_ESTORE;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        bk_status status;
        const unsigned char *t = sqlite3_column_text(st, 0);
        if (t && bk_status_parse((const char *)t, &status) == 0)
            counts[status] = sqlite3_column_int64(st, 1);
    }
    int rc = src == SQLITE_DONE ? 0 : bk_sq_fail(q, src, "count runs", err);
    sqlite3_reset(st);
    return rc;
}

/* A queued run without not_before sorts first (NULLs first) and reports its
 * created_at: already claimable. */
static const char SQL_RUNS_NEXT_QUEUED[] =
    "SELECT coalesce(not_before, created_at) FROM job_runs WHERE status = 'queued'"
    " ORDER BY not_before LIMIT 1";
static const char SQL_RUNS_NEXT_LEASE[] =
    "SELECT min(lease_until) FROM job_runs WHERE status = 'running'";
static const char SQL_RUNS_OLDEST_QUEUED[] =
    "SELECT min(created_at) FROM job_runs WHERE status = 'queued'";

static int first_i64(sq_store *q, int slot, const char *sql, int64_t *out, bk_err *err)
{
    sqlite3_stmt *st = bk_sq_stmt(q, slot, sql, err);
    if (!st)
        return BK_ESTORE;
    int src = sqlite3_step(st);
    *out = src == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    int rc = src == SQLITE_ROW || src == SQLITE_DONE ? 0 : bk_sq_fail(q, src, "next event", err);
    sqlite3_reset(st);
    return rc;
}

int sq_runs_next_event(bk_store *s, int64_t *out_us, bk_err *err)
{
    sq_store *q = sq(s);
    int64_t a = 0, b = 0;
    int rc = first_i64(q, Q_RUNS_NEXT_QUEUED, SQL_RUNS_NEXT_QUEUED, &a, err);
    if (rc == 0)
        rc = first_i64(q, Q_RUNS_NEXT_LEASE, SQL_RUNS_NEXT_LEASE, &b, err);
    if (rc == 0)
        *out_us = !a ? b : !b ? a : BK_MIN(a, b);
    return rc;
}

int sq_runs_oldest_queued(bk_store *s, int64_t *out_us, bk_err *err)
{
    return first_i64(sq(s), Q_RUNS_OLDEST_QUEUED, SQL_RUNS_OLDEST_QUEUED, out_us, err);
}
