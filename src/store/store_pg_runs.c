/*
 * store_pg_runs.c — the run queue on PostgreSQL: enqueue, claim, heartbeat,
 * fail, release, requeue of expired leases, retry of dead-lettered runs, and
 * the read side (get, list, count, next event).
 *
 * The queue's state lives in three tables of schema 7 (sql/pg/0007_*.sql):
 * job_active (the slices of runs not finished for good), job_queue (the
 * claimable runs) and job_leases (the running ones), so that job_runs' rows
 * change only in columns no index refers to and both writes of every run are
 * HOT updates. As on SQLite every state change is one statement whose WHERE
 * clause states the transition it allows — on a state table, whose changed
 * rows then hand their ids to the job_runs UPDATE of the same statement — so
 * a worker that lost its lease changes nothing and learns it from an
 * affected-row count of 0. What SQLite gets from its single writer,
 * PostgreSQL gets from row locks: the claim picks its runs with FOR UPDATE
 * SKIP LOCKED, so concurrent claimers skip each other's candidates instead of
 * queueing behind them. Enqueue is one statement for the whole batch
 * (INSERT … SELECT FROM unnest(binary arrays) into three tables).
 */
#include "store/store_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUN_COLS                                                                                   \
    "id, job_def_id, symbol, timeframe, job_type, slice_from, slice_to, status,"                   \
    " progress_percent, rows_written, provider, attempt, max_attempts, priority, error_code,"      \
    " error_message, triggered_by, lease_owner, created_at, started_at, finished_at,"              \
    " updated_at, not_before, lease_until, lease_expiries, dead_retries"

#define DEFAULT_MAX_ATTEMPTS 5

/* Returns 0, or BK_ESTORE for a row this binary cannot read. lease_until
 * is stored in the server's time (store_pg_clock.c): given back in ours. */
static int read_run(const pg_store *q, const PGresult *r, int row, bk_run *x)
{
    char type[24], status[16];
    memset(x, 0, sizeof *x);
    bk_pg_c_text(x->id, sizeof x->id, r, row, 0);
    bk_pg_c_text(x->def_id, sizeof x->def_id, r, row, 1);
    bk_pg_c_text(x->symbol, sizeof x->symbol, r, row, 2);
    int tf = bk_pg_c_tf(r, row, 3);
    bk_pg_c_text(type, sizeof type, r, row, 4);
    bk_pg_c_text(status, sizeof status, r, row, 7);
    if (tf < 0 || bk_job_parse(type, &x->type) < 0 || bk_status_parse(status, &x->status) < 0)
        return BK_ESTORE;
    x->tf = (bk_tf)tf;
    x->slice_from_us = bk_pg_c_time(r, row, 5);
    x->slice_to_us = bk_pg_c_time(r, row, 6);
    x->progress_percent = bk_pg_c_f64(r, row, 8);
    x->rows_written = bk_pg_c_i64(r, row, 9);
    bk_pg_c_text(x->provider, sizeof x->provider, r, row, 10);
    x->attempt = (int32_t)bk_pg_c_i64(r, row, 11);
    x->max_attempts = (int32_t)bk_pg_c_i64(r, row, 12);
    x->priority = (int32_t)bk_pg_c_i64(r, row, 13);
    bk_pg_c_text(x->error_code, sizeof x->error_code, r, row, 14);
    bk_pg_c_text(x->error_message, sizeof x->error_message, r, row, 15);
    bk_pg_c_text(x->triggered_by, sizeof x->triggered_by, r, row, 16);
    bk_pg_c_text(x->lease_owner, sizeof x->lease_owner, r, row, 17);
    x->created_us = bk_pg_c_time(r, row, 18);
    x->started_us = bk_pg_c_time(r, row, 19);
    x->finished_us = bk_pg_c_time(r, row, 20);
    x->updated_us = bk_pg_c_time(r, row, 21);
    x->not_before_us = bk_pg_c_time(r, row, 22);
    x->lease_until_us = pg_clock_from_db(q, bk_pg_c_time(r, row, 23));
    x->lease_expiries = (int32_t)bk_pg_c_i64(r, row, 24);
    x->dead_retries = (int32_t)bk_pg_c_i64(r, row, 25);
    return 0;
}

/* Run a statement returning at most one run: 0 with it in *out, BK_ENOENT
 * with no row, or a store error. */
static int one_run(pg_store *q, int slot, const char *sql, const char *types, const bk_pg_params *p,
                   bk_run *out, const char *what, bk_err *err)
{
    PGresult *r = bk_pg_exec(q, slot, sql, types, p, what, err);
    if (!r)
        return bk_pg_errc(err);
    int rc = BK_ENOENT;
    if (PQntuples(r) > 0) {
        rc = read_run(q, r, 0, out);
        if (rc < 0)
            bk_err_set(err, rc, "%s: unreadable job_runs row", what);
    }
    PQclear(r);
    return rc;
}

/* ---- enqueue ---- */

/* One statement for the whole batch: the job_active rows first, where a
 * slice already queued or running (job_active_slice) or a taken id skips its
 * run, then the job_queue and job_runs rows of those inserted. seq, job_runs'
 * insertion order, is drawn from its identity in the caller's order (a
 * volatile target is computed after the sort) and shared by the rows: it
 * breaks claim ties like SQLite's rowid. */
static const char SQL_RUN_INSERT[] =
    "WITH u AS (SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    "   WITH ORDINALITY AS u(id, def_id, symbol, tf, jt, sf, st, ma, pr, tb, nb, ord)),"
    " a AS (INSERT INTO job_active (id, symbol, timeframe, job_type, slice_from, slice_to, seq)"
    "   SELECT u.id::uuid, u.symbol, u.tf, u.jt, u.sf, u.st, nextval('job_runs_seq_seq')"
    "   FROM u ORDER BY u.ord ON CONFLICT DO NOTHING RETURNING id, seq),"
    " q AS (INSERT INTO job_queue SELECT a.id, u.pr, $12, a.seq, u.nb"
    "   FROM a JOIN u ON u.id::uuid = a.id)"
    " INSERT INTO job_runs (id, job_def_id, symbol, timeframe, job_type, slice_from, slice_to,"
    " status, attempt, max_attempts, priority, triggered_by, not_before, created_at, updated_at,"
    " seq) OVERRIDING SYSTEM VALUE"
    " SELECT a.id, u.def_id::uuid, u.symbol, u.tf, u.jt, u.sf, u.st, 'queued', 1, u.ma,"
    " u.pr, u.tb, u.nb, $12, $12, a.seq"
    " FROM a JOIN u ON u.id::uuid = a.id ORDER BY a.seq"
    " RETURNING id";
static const char T_RUN_INSERT[] = "AAAAABBCCABT";

enum { A_ID, A_DEF, A_SYM, A_TF, A_TYPE, A_FROM, A_TO, A_MAXATT, A_PRIO, A_TRIG, A_NB, A__N };

static const uint32_t arr_oid[A__N] = {25, 25, 25, 25, 25, 1184, 1184, 23, 23, 25, 1184};

static void arr_text(bk_buf *b, const char *s)
{
    bk_pg_arr_elem(b, s && *s ? s : NULL, s ? (int)strlen(s) : 0);
}

static void arr_ts(bk_buf *b, int64_t us, bool null_if_zero)
{
    char d[8];
    int64_t v = bk_pg_ts_enc(us);
    for (int i = 7; i >= 0; i--, v = (int64_t)((uint64_t)v >> 8))
        d[i] = (char)(v & 0xff);
    bk_pg_arr_elem(b, null_if_zero && !us ? NULL : d, 8);
}

static void arr_i32(bk_buf *b, int32_t v)
{
    char d[4];
    uint32_t u = (uint32_t)v;
    for (int i = 3; i >= 0; i--, u >>= 8)
        d[i] = (char)(u & 0xff);
    bk_pg_arr_elem(b, d, 4);
}

static void fill_arrays(bk_buf a[A__N], bk_run *runs, size_t n, char (*ids)[BK_ID_MAX])
{
    for (int k = 0; k < A__N; k++)
        bk_pg_arr_begin(&a[k], arr_oid[k], (int)n);
    for (size_t i = 0; i < n; i++) {
        bk_run *r = &runs[i];
        bk_uuid4(ids[i]);
        arr_text(&a[A_ID], ids[i]);
        arr_text(&a[A_DEF], bk_pg_is_uuid(r->def_id) ? r->def_id : NULL);
        arr_text(&a[A_SYM], r->symbol);
        arr_text(&a[A_TF], bk_tf_name(r->tf));
        arr_text(&a[A_TYPE], bk_job_name(r->type));
        arr_ts(&a[A_FROM], r->slice_from_us, false);
        arr_ts(&a[A_TO], r->slice_to_us, false);
        arr_i32(&a[A_MAXATT], r->max_attempts > 0 ? r->max_attempts : DEFAULT_MAX_ATTEMPTS);
        arr_i32(&a[A_PRIO], r->priority);
        arr_text(&a[A_TRIG], r->triggered_by);
        arr_ts(&a[A_NB], r->not_before_us, true);
    }
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Mark the runs whose generated id came back from RETURNING as inserted. */
static size_t mark_inserted(const PGresult *res, bk_run *runs, size_t n, char (*ids)[BK_ID_MAX],
                            int64_t now_us)
{
    int rows = PQntuples(res);
    char(*got)[BK_ID_MAX] = bk_xcalloc((size_t)rows + 1, BK_ID_MAX);
    for (int i = 0; i < rows; i++)
        bk_pg_c_text(got[i], BK_ID_MAX, res, i, 0);
    qsort(got, (size_t)rows, BK_ID_MAX, cmp_id);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bk_run *r = &runs[i];
        if (!bsearch(ids[i], got, (size_t)rows, BK_ID_MAX, cmp_id)) {
            r->id[0] = '\0';
            continue;
        }
        memcpy(r->id, ids[i], BK_ID_MAX);
        r->status = BK_ST_QUEUED;
        r->attempt = 1;
        r->max_attempts = r->max_attempts > 0 ? r->max_attempts : DEFAULT_MAX_ATTEMPTS;
        r->created_us = r->updated_us = now_us;
        k++;
    }
    free(got);
    return k;
}

int pg_runs_enqueue(bk_store *s, bk_run *runs, size_t n, size_t *n_inserted, int64_t now_us,
                    bk_err *err)
{
    pg_store *q = pgs(s);
    bk_buf a[A__N];
    char(*ids)[BK_ID_MAX] = bk_xcalloc(n, BK_ID_MAX);
    for (int k = 0; k < A__N; k++)
        bk_buf_init(&a[k]);
    fill_arrays(a, runs, n, ids);
    bk_pg_params p = {0};
    for (int k = 0; k < A__N; k++)
        bk_pg_p_bytes(&p, a[k].data, (int)a[k].len);
    bk_pg_p_ts(&p, now_us);
    PGresult *r =
        bk_pg_exec(q, P_RUN_INSERT, SQL_RUN_INSERT, T_RUN_INSERT, &p, "enqueue runs", err);
    int rc = r ? 0 : bk_pg_errc(err);
    if (r) {
        *n_inserted = mark_inserted(r, runs, n, ids, now_us);
        PQclear(r);
    } else {
        for (size_t i = 0; i < n; i++)
            runs[i].id[0] = '\0';
    }
    for (int k = 0; k < A__N; k++)
        bk_buf_fini(&a[k]);
    free(ids);
    return rc;
}

/* ---- claim ---- */

/* A claim takes its runs out of job_queue and gives them a lease; the
 * job_runs rows of the ids follow, found through the primary key
 * (= ANY (ARRAY(…)): an IN or a join may be planned as a hash join over a
 * scan of job_runs). */
#define CLAIM_RUNS(picked, tail)                                                                   \
    "WITH q AS (DELETE FROM job_queue WHERE " picked " RETURNING id),"                             \
    " l AS (INSERT INTO job_leases SELECT id, $1, $2 FROM q RETURNING id),"                        \
    " c AS (UPDATE job_runs SET status = 'running', lease_owner = $1, lease_until = $2,"           \
    "   started_at = $3, updated_at = $3 WHERE id = ANY (ARRAY(SELECT id FROM l))"                 \
    "   RETURNING seq, " RUN_COLS ") SELECT " RUN_COLS " FROM c" tail
static const char SQL_RUN_CLAIM_ID[] = CLAIM_RUNS("id = $4", "");
static const char SQL_RUN_EXISTS[] = "SELECT status FROM job_runs WHERE id = $1";

/* Up to $4 runs in one statement; the outer ORDER BY puts RETURNING's rows
 * back in claim order (the subquery's order does not survive the UPDATE).
 * The picked ids are an array (= ANY (ARRAY(…))), which the DELETE finds
 * through the primary key: written `id IN (SELECT …)`, the planner
 * hash-joined the picked ids with a sequential scan of the table on every
 * claim (schema 5 and before). */
static const char SQL_RUNS_CLAIM_MANY[] =
    CLAIM_RUNS("id = ANY (ARRAY(SELECT id FROM job_queue"
               " WHERE (not_before IS NULL OR not_before <= $3)"
               " ORDER BY priority DESC, created_at, seq LIMIT $4 FOR UPDATE SKIP LOCKED))",
               " ORDER BY priority DESC, created_at, seq");

/* One run: LIMIT 1 written out, so that the statement keeps a generic plan
 * (with LIMIT $4 the plan cache prices the generic plan for 10% of the queue
 * and plans every call for its parameters, about 100 µs for this statement). */
static const char SQL_RUN_CLAIM[] =
    CLAIM_RUNS("id = (SELECT id FROM job_queue WHERE (not_before IS NULL OR not_before <= $3)"
               " ORDER BY priority DESC, created_at, seq LIMIT 1 FOR UPDATE SKIP LOCKED)",
               "");

int pg_run_claim(bk_store *s, const char *owner, int64_t now_us, int64_t lease_us, bk_run *out,
                 bk_err *err)
{
    bk_pg_params p = {0};
    bk_pg_p_str(&p, owner);
    bk_pg_p_ts(&p, now_us + lease_us + pg_clock_off(pgs(s))); /* lease_until: the server's time */
    bk_pg_p_ts(&p, now_us);
    int rc = one_run(pgs(s), P_RUN_CLAIM, SQL_RUN_CLAIM, "tTT", &p, out, "claim run", err);
    if (rc == BK_ENOENT)
        bk_err_set(err, rc, "no claimable run");
    return rc;
}

int pg_runs_claim_many(bk_store *s, const char *owner, int64_t now_us, int64_t lease_us,
                       bk_run *out, size_t cap, size_t *n, bk_err *err)
{
    bk_pg_params p = {0};
    bk_pg_p_str(&p, owner);
    bk_pg_p_ts(&p, now_us + lease_us + pg_clock_off(pgs(s))); /* lease_until: the server's time */
    bk_pg_p_ts(&p, now_us);
    bk_pg_p_i64(&p, (int64_t)cap);
    PGresult *r =
        bk_pg_exec(pgs(s), P_RUNS_CLAIM_MANY, SQL_RUNS_CLAIM_MANY, "tTTl", &p, "claim runs", err);
    if (!r)
        return bk_pg_errc(err);
    size_t k = 0;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && k < cap; i++) {
        if (read_run(pgs(s), r, i, &out[k]) < 0) {
            rc = bk_err_set(err, BK_ESTORE, "claim runs: unreadable job_runs row");
            continue; /* claimed but unreadable: its lease will expire */
        }
        k++;
    }
    PQclear(r);
    *n = k;
    return k ? 0 : rc;
}

int pg_run_claim_id(bk_store *s, const char *id, const char *owner, int64_t now_us,
                    int64_t lease_us, bk_run *out, bk_err *err)
{
    pg_store *q = pgs(s);
    if (!bk_pg_is_uuid(id))
        return bk_err_set(err, BK_ENOENT, "run %s not found", id);
    bk_pg_params p = {0};
    bk_pg_p_str(&p, owner);
    bk_pg_p_ts(&p, now_us + lease_us + pg_clock_off(pgs(s))); /* lease_until: the server's time */
    bk_pg_p_ts(&p, now_us);
    bk_pg_p_uuid(&p, id);
    int rc = one_run(q, P_RUN_CLAIM_ID, SQL_RUN_CLAIM_ID, "tTTu", &p, out, "claim run", err);
    if (rc != BK_ENOENT)
        return rc;
    bk_pg_params e = {0};
    bk_pg_p_uuid(&e, id);
    PGresult *r = bk_pg_exec(q, P_RUN_EXISTS, SQL_RUN_EXISTS, "u", &e, "claim run", err);
    if (!r)
        return bk_pg_errc(err);
    char status[16];
    if (PQntuples(r) == 1) {
        bk_pg_c_text(status, sizeof status, r, 0, 0);
        rc = bk_err_set(err, BK_EBUSY, "run %s is %s, not queued", id, status);
    } else {
        rc = bk_err_set(err, BK_ENOENT, "run %s not found", id);
    }
    PQclear(r);
    return rc;
}

/* ---- the running run's owner: heartbeat, fail, release ---- */

/* The owner-guarded changes of one run: its lease (job_leases) found by id
 * and owner, then the state it goes to, then its job_runs row. A run going
 * back to the queue is queued again with its own priority and order. */
static const char SQL_RUN_HEARTBEAT[] =
    "WITH l AS (UPDATE job_leases SET lease_until = $3 WHERE id = $1 AND owner = $2"
    "   RETURNING id)"
    " UPDATE job_runs SET lease_until = $3, updated_at = $4,"
    " progress_percent = CASE WHEN $5 >= 0 THEN $5 ELSE progress_percent END"
    " WHERE id = (SELECT id FROM l)";
static const char SQL_RUN_RETRY[] =
    "WITH l AS (DELETE FROM job_leases WHERE id = $1 AND owner = $2 RETURNING id),"
    " q AS (INSERT INTO job_queue SELECT id, priority, created_at, seq, $3::timestamptz"
    "   FROM job_runs WHERE id = (SELECT id FROM l) RETURNING id)"
    " UPDATE job_runs SET status = 'queued', attempt = attempt + $8, not_before = $3,"
    " error_code = $4, error_message = $5, provider = coalesce($6, provider),"
    " progress_percent = 0, lease_owner = NULL, lease_until = NULL, updated_at = $7"
    " WHERE id = (SELECT id FROM q)";
static const char SQL_RUN_DEAD[] =
    "WITH l AS (DELETE FROM job_leases WHERE id = $1 AND owner = $2 RETURNING id),"
    " a AS (UPDATE job_active SET dead = true WHERE id = (SELECT id FROM l) RETURNING id)"
    " UPDATE job_runs SET status = 'failed', finished_at = $7, updated_at = $7,"
    " error_code = $4, error_message = $5, provider = coalesce($6, provider),"
    " lease_owner = NULL, lease_until = NULL"
    " WHERE id = (SELECT id FROM a)";
static const char SQL_RUN_RELEASE[] =
    "WITH l AS (DELETE FROM job_leases WHERE id = $1 AND owner = $2 RETURNING id),"
    " q AS (INSERT INTO job_queue SELECT id, priority, created_at, seq, not_before"
    "   FROM job_runs WHERE id = (SELECT id FROM l) RETURNING id)"
    " UPDATE job_runs SET status = 'queued', progress_percent = 0, lease_owner = NULL,"
    " lease_until = NULL, updated_at = $3"
    " WHERE id = (SELECT id FROM q)";

/* Run an owner-guarded UPDATE (p starts with the run id and the owner);
 * BK_ELEASE when it matched no row. */
static int owner_update(pg_store *q, int slot, const char *sql, const char *types,
                        const bk_pg_params *p, const char *run_id, const char *owner,
                        const char *what, bk_err *err)
{
    size_t k = 0;
    int rc = bk_pg_is_uuid(run_id) ? bk_pg_exec_cmd(q, slot, sql, types, p, what, &k, err) : 0;
    if (rc == 0 && k == 0)
        rc = bk_err_set(err, BK_ELEASE, "%s: run %s is no longer running under %s", what,
                        run_id ? run_id : "", owner);
    return rc;
}

static void owner_params(bk_pg_params *p, const char *run_id, const char *owner)
{
    bk_pg_p_uuid(p, bk_pg_is_uuid(run_id) ? run_id : NULL);
    bk_pg_p_str(p, owner);
}

int pg_run_heartbeat(bk_store *s, const char *run_id, const char *owner, double progress,
                     int64_t now_us, int64_t lease_until_us, bk_err *err)
{
    bk_pg_params p = {0};
    owner_params(&p, run_id, owner);
    bk_pg_p_ts(&p, lease_until_us + pg_clock_off(pgs(s)));
    bk_pg_p_ts(&p, now_us);
    bk_pg_p_f64(&p, progress);
    return owner_update(pgs(s), P_RUN_HEARTBEAT, SQL_RUN_HEARTBEAT, "utTTd", &p, run_id, owner,
                        "heartbeat", err);
}

int pg_run_fail(bk_store *s, const bk_failure *f, bk_err *err)
{
    bool retry = f->retry_at_us > 0;
    bk_pg_params p = {0};
    owner_params(&p, f->run_id, f->owner);
    bk_pg_p_time(&p, retry ? f->retry_at_us : 0);
    bk_pg_p_str(&p, f->error_code && *f->error_code ? f->error_code : "UNKNOWN");
    bk_pg_p_text(&p, f->error_message);
    bk_pg_p_text(&p, f->provider);
    bk_pg_p_ts(&p, f->now_us);
    if (retry)
        bk_pg_p_i32(&p, f->keep_attempt ? 0 : 1);
    return retry ? owner_update(pgs(s), P_RUN_RETRY, SQL_RUN_RETRY, "utTtttTi", &p, f->run_id,
                                f->owner, "record failure", err)
                 : owner_update(pgs(s), P_RUN_DEAD, SQL_RUN_DEAD, "utTtttT", &p, f->run_id,
                                f->owner, "record failure", err);
}

int pg_run_release(bk_store *s, const char *run_id, const char *owner, int64_t now_us, bk_err *err)
{
    bk_pg_params p = {0};
    owner_params(&p, run_id, owner);
    bk_pg_p_ts(&p, now_us);
    return owner_update(pgs(s), P_RUN_RELEASE, SQL_RUN_RELEASE, "utT", &p, run_id, owner,
                        "release run", err);
}

/* ---- maintenance: expired leases, dead letters ---- */

/* job_runs still holds the expired lease's owner for the message. A lost
 * lease does not spend an attempt (the owner died or stalled; the provider
 * did not fail): lease_expiries counts it, and only reaching
 * max_lease_expiries ($2) dead-letters the run. The expired variants pick
 * leases by lease_until against the database's time ($3, $2 for requeue:
 * leases are written in it, store_pg_clock.c), the owner variants those of
 * one owner known to be dead ($3, $2 for requeue). */
#define EXPIRED_DEAD_SQL(cond)                                                                     \
    "WITH l AS (DELETE FROM job_leases l USING job_runs j WHERE " cond                             \
    "   AND j.id = l.id AND j.lease_expiries + 1 >= $2 RETURNING l.id),"                           \
    " a AS (UPDATE job_active SET dead = true WHERE id = ANY (ARRAY(SELECT id FROM l))"            \
    "   RETURNING id)"                                                                             \
    " UPDATE job_runs SET status = 'failed', error_code = 'LEASE_EXPIRED',"                        \
    " error_message = 'lease of ' || coalesce(lease_owner, '?') || ' lost ' ||"                    \
    " (lease_expiries + 1) || ' times', lease_expiries = lease_expiries + 1,"                      \
    " finished_at = $1, updated_at = $1, lease_owner = NULL, lease_until = NULL"                   \
    " WHERE id = ANY (ARRAY(SELECT id FROM a))"
#define EXPIRED_REQUEUE_SQL(cond, why)                                                             \
    "WITH l AS (DELETE FROM job_leases WHERE " cond " RETURNING id),"                              \
    " q AS (INSERT INTO job_queue SELECT id, priority, created_at, seq, NULL FROM job_runs"        \
    "   WHERE id = ANY (ARRAY(SELECT id FROM l)) RETURNING id)"                                    \
    " UPDATE job_runs SET status = 'queued', lease_expiries = lease_expiries + 1,"                 \
    " triggered_by = 'lease_expired', error_code = 'LEASE_EXPIRED',"                               \
    " error_message = 'lease of ' || coalesce(lease_owner, '?') || " why ","                       \
    " progress_percent = 0, not_before = NULL, lease_owner = NULL, lease_until = NULL,"            \
    " updated_at = $1"                                                                             \
    " WHERE id = ANY (ARRAY(SELECT id FROM q))"
static const char SQL_RUNS_EXPIRED_DEAD[] = EXPIRED_DEAD_SQL("l.lease_until < $3");
static const char SQL_RUNS_EXPIRED_REQUEUE[] =
    EXPIRED_REQUEUE_SQL("lease_until < $2", "' expired'");
static const char SQL_RUNS_OWNER_DEAD[] = EXPIRED_DEAD_SQL("l.owner = $3");
static const char SQL_RUNS_OWNER_REQUEUE[] =
    EXPIRED_REQUEUE_SQL("owner = $2", "' lost: the process is gone'");
/* SQLite's UPDATE OR IGNORE: skip a run whose slice is active again, and
 * revive only the oldest of several failed runs of one slice. */
#define REVIVE_PICK(cond)                                                                          \
    "WITH a AS (UPDATE job_active SET dead = false"                                                \
    "   WHERE id IN (SELECT DISTINCT ON (f.symbol, f.timeframe, f.job_type, f.slice_from,"         \
    "     f.slice_to) f.id FROM job_active f WHERE f.dead" cond                                    \
    "     AND NOT EXISTS (SELECT 1 FROM job_active x WHERE NOT x.dead"                             \
    "       AND x.symbol = f.symbol AND x.timeframe = f.timeframe AND x.job_type = f.job_type"     \
    "       AND x.slice_from = f.slice_from AND x.slice_to = f.slice_to)"                          \
    "     ORDER BY f.symbol, f.timeframe, f.job_type, f.slice_from, f.slice_to, f.seq)"            \
    "   RETURNING id),"                                                                            \
    " q AS (INSERT INTO job_queue SELECT id, priority, created_at, seq, NULL FROM job_runs"        \
    "   WHERE id = ANY (ARRAY(SELECT id FROM a)) RETURNING id)"
#define REVIVE_SET                                                                                 \
    " UPDATE job_runs SET status = 'queued', attempt = attempt + 1,"                               \
    " max_attempts = attempt + $2, lease_expiries = 0, not_before = NULL,"                         \
    " finished_at = NULL, progress_percent = 0, updated_at = $1"
/* The cool-down of a dead run: least($3 << least(dead_retries, $5), $4),
 * where $3 << $5 is the first doubling at or past the cap $4 (no overflow). */
#define REVIVE_DUE                                                                                 \
    " AND EXISTS (SELECT 1 FROM job_runs j JOIN job_definitions d ON d.id = j.job_def_id"          \
    "   WHERE j.id = f.id AND d.enabled AND bk_us(coalesce(j.finished_at, j.updated_at))"          \
    "     + least($3::int8 << least(j.dead_retries, $5), $4::int8) <= bk_us($1))"
static const char SQL_RUNS_RETRY_FAILED[] = REVIVE_PICK("") REVIVE_SET
    ", triggered_by = 'retry_failed' WHERE id = ANY (ARRAY(SELECT id FROM q))";
static const char SQL_RUNS_REVIVE_DEAD[] = REVIVE_PICK(REVIVE_DUE) REVIVE_SET
    ", triggered_by = 'dead_retry', dead_retries = dead_retries + 1"
    " WHERE id = ANY (ARRAY(SELECT id FROM q))";

int pg_runs_requeue_expired(bk_store *s, int64_t now_us, int max_lease_expiries, const char *owner,
                            size_t *n, bk_err *err)
{
    pg_store *q = pgs(s);
    bk_pg_params pd = {0}, pr = {0};
    bk_pg_p_ts(&pd, now_us);
    bk_pg_p_i32(&pd, max_lease_expiries);
    bk_pg_p_ts(&pr, now_us);
    if (owner) {
        bk_pg_p_str(&pd, owner);
        bk_pg_p_str(&pr, owner);
    } else { /* leases are in the server's time */
        bk_pg_p_ts(&pd, now_us + pg_clock_off(q));
        bk_pg_p_ts(&pr, now_us + pg_clock_off(q));
    }
    size_t dead = 0, requeued = 0;
    int rc = bk_pg_begin(q, err);
    if (rc < 0)
        return rc;
    rc = owner ? bk_pg_exec_cmd(q, P_RUNS_OWNER_DEAD, SQL_RUNS_OWNER_DEAD, "Tit", &pd,
                                "dead-letter runs of a dead owner", &dead, err)
               : bk_pg_exec_cmd(q, P_RUNS_EXPIRED_DEAD, SQL_RUNS_EXPIRED_DEAD, "TiT", &pd,
                                "dead-letter expired runs", &dead, err);
    if (rc == 0)
        rc = owner ? bk_pg_exec_cmd(q, P_RUNS_OWNER_REQUEUE, SQL_RUNS_OWNER_REQUEUE, "Tt", &pr,
                                    "requeue runs of a dead owner", &requeued, err)
                   : bk_pg_exec_cmd(q, P_RUNS_EXPIRED_REQUEUE, SQL_RUNS_EXPIRED_REQUEUE, "TT", &pr,
                                    "requeue expired runs", &requeued, err);
    if (rc < 0) {
        bk_pg_rollback(q);
        return rc;
    }
    rc = bk_pg_commit(q, err);
    if (rc == 0)
        *n = dead + requeued;
    return rc;
}

int pg_runs_retry_failed(bk_store *s, int64_t now_us, int extra_attempts, size_t *n, bk_err *err)
{
    bk_pg_params p = {0};
    bk_pg_p_ts(&p, now_us);
    bk_pg_p_i32(&p, extra_attempts);
    return bk_pg_exec_cmd(pgs(s), P_RUNS_RETRY_FAILED, SQL_RUNS_RETRY_FAILED, "Ti", &p,
                          "retry failed runs", n, err);
}

int pg_runs_revive_dead(bk_store *s, int64_t now_us, int64_t base_us, int64_t max_us,
                        int extra_attempts, size_t *n, bk_err *err)
{
    bk_pg_params p = {0};
    bk_pg_p_ts(&p, now_us);
    bk_pg_p_i32(&p, extra_attempts);
    bk_pg_p_i64(&p, base_us);
    bk_pg_p_i64(&p, max_us);
    bk_pg_p_i32(&p, bk_store__doublings(base_us, max_us));
    return bk_pg_exec_cmd(pgs(s), P_RUNS_REVIVE_DEAD, SQL_RUNS_REVIVE_DEAD, "Tilli", &p,
                          "re-plan dead runs", n, err);
}

/* ---- reading ---- */

static const char SQL_RUN_GET[] = "SELECT " RUN_COLS " FROM job_runs WHERE id = $1";

int pg_run_get(bk_store *s, const char *id, bk_run *out, bk_err *err)
{
    int rc = BK_ENOENT;
    if (bk_pg_is_uuid(id)) {
        bk_pg_params p = {0};
        bk_pg_p_uuid(&p, id);
        rc = one_run(pgs(s), P_RUN_GET, SQL_RUN_GET, "u", &p, out, "get run", err);
    }
    if (rc == BK_ENOENT)
        bk_err_set(err, rc, "run %s not found", id);
    return rc;
}

/* One prepared statement per combination of filters, so each can use its
 * index; parameters are numbered in the order present, the limit last.
 * With a status, the rows come from two branches: runs of a queue state,
 * whose ids come from that state's table (job_queue, job_leases, job_active's
 * dead letters) and whose rows are read through job_runs' primary key, and
 * the finished ones, read from job_runs (through job_runs_series with a
 * symbol); only one branch is not empty. */
static PGresult *filter_exec(pg_store *q, const bk_run_filter *f, bool count, const char *what,
                             bk_err *err)
{
    static const char *const cond[4] = {"status =", "symbol =", "timeframe =", "created_at >="};
    int mask = bk_store__filter_mask(f), k = 0;
    char sql[1400], from[800], where[200] = "", types[8] = "";
    bk_pg_params p = {0};
    for (int bit = 0; bit < 4; bit++) {
        if (!(mask & (1 << bit)))
            continue;
        size_t used = strlen(where);
        snprintf(where + used, sizeof where - used, " AND %s $%d", cond[bit], k + 1);
        types[k++] = bit == 3 ? 'T' : 't';
    }
    if (mask & BK_F_STATUS)
        bk_pg_p_str(&p, bk_status_name((bk_status)f->status));
    if (mask & BK_F_SYMBOL)
        bk_pg_p_str(&p, f->symbol);
    if (mask & BK_F_TF)
        bk_pg_p_str(&p, bk_tf_name((bk_tf)f->tf));
    if (mask & BK_F_SINCE)
        bk_pg_p_ts(&p, f->since_us);
    if (mask & BK_F_STATUS)
        snprintf(from, sizeof from,
                 "(SELECT * FROM job_runs WHERE id = ANY (ARRAY("
                 "SELECT id FROM job_queue WHERE $1 = 'queued'"
                 " UNION ALL SELECT id FROM job_leases WHERE $1 = 'running'"
                 " UNION ALL SELECT id FROM job_active WHERE dead AND $1 = 'failed'))%s"
                 " UNION ALL SELECT * FROM job_runs"
                 " WHERE $1 NOT IN ('queued','running','failed')%s) AS j WHERE true",
                 where, where);
    else
        snprintf(from, sizeof from, "job_runs WHERE true%s", where);
    if (count) {
        snprintf(sql, sizeof sql, "SELECT status, count(*) FROM %s GROUP BY status", from);
    } else {
        types[k++] = 'l';
        if (f->limit)
            bk_pg_p_i64(&p, (int64_t)f->limit);
        else
            bk_pg_p_bytes(&p, NULL, 0); /* LIMIT NULL: no limit */
        snprintf(sql, sizeof sql,
                 "SELECT " RUN_COLS " FROM %s ORDER BY created_at DESC, seq DESC LIMIT $%d", from,
                 k);
    }
    int slot = (count ? P_RUNS_COUNT_FIRST : P_RUNS_LIST_FIRST) + mask;
    return bk_pg_exec(q, slot, sql, types, &p, what, err);
}

int pg_runs_list(bk_store *s, const bk_run_filter *f, bk_run **out, size_t *n, bk_err *err)
{
    PGresult *r = filter_exec(pgs(s), f, false, "list runs", err);
    if (!r)
        return bk_pg_errc(err);
    int rows = PQntuples(r);
    bk_run *v = bk_xcalloc((size_t)rows + 1, sizeof *v);
    size_t len = 0;
    for (int i = 0; i < rows; i++)
        if (read_run(pgs(s), r, i, &v[len]) == 0)
            len++;
    PQclear(r);
    *out = v;
    *n = len;
    return 0;
}

int pg_runs_count(bk_store *s, const bk_run_filter *f, int64_t counts[BK_ST__N], bk_err *err)
{
    PGresult *r = filter_exec(pgs(s), f, true, "count runs", err);
    if (!r)
        return bk_pg_errc(err);
    for (int i = 0; i < PQntuples(r); i++) {
        char t[16];
        bk_status st;
        bk_pg_c_text(t, sizeof t, r, i, 0);
        if (bk_status_parse(t, &st) == 0)
            counts[st] = bk_pg_c_i64(r, i, 1);
    }
    PQclear(r);
    return 0;
}

/* A queued run without not_before sorts first (NULLS FIRST, as SQLite's
 * default) and reports its created_at: already claimable. */
static const char SQL_RUNS_NEXT_QUEUED[] = "SELECT coalesce(not_before, created_at) FROM job_queue"
                                           " ORDER BY not_before NULLS FIRST LIMIT 1";
static const char SQL_RUNS_NEXT_LEASE[] = "SELECT min(lease_until) FROM job_leases";
static const char SQL_RUNS_OLDEST_QUEUED[] = "SELECT min(created_at) FROM job_queue";

static int first_time(pg_store *q, int slot, const char *sql, int64_t *out, bk_err *err)
{
    PGresult *r = bk_pg_exec(q, slot, sql, "", NULL, "next event", err);
    if (!r)
        return bk_pg_errc(err);
    *out = PQntuples(r) > 0 ? bk_pg_c_time(r, 0, 0) : 0;
    PQclear(r);
    return 0;
}

int pg_runs_next_event(bk_store *s, int64_t *out_us, bk_err *err)
{
    pg_store *q = pgs(s);
    int64_t a = 0, b = 0;
    int rc = first_time(q, P_RUNS_NEXT_QUEUED, SQL_RUNS_NEXT_QUEUED, &a, err);
    if (rc == 0)
        rc = first_time(q, P_RUNS_NEXT_LEASE, SQL_RUNS_NEXT_LEASE, &b, err);
    b = pg_clock_from_db(q, b); /* a lease: the server's time */
    if (rc == 0)
        *out_us = !a ? b : !b ? a : BK_MIN(a, b);
    return rc;
}

int pg_runs_oldest_queued(bk_store *s, int64_t *out_us, bk_err *err)
{
    return first_time(pgs(s), P_RUNS_OLDEST_QUEUED, SQL_RUNS_OLDEST_QUEUED, out_us, err);
}
