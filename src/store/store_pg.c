/*
 * store_pg.c — the PostgreSQL backend's store operations on the wire layer
 * (pg_wire.c): migrations, job definitions, leadership (a session-level
 * advisory lock), provider budgets (token buckets under a row lock),
 * LISTEN/NOTIFY of job_runs changes and the ops table store.c dispatches
 * through.
 *
 * One pg_store is one PGconn, used by one thread at a time (store.h). Many
 * connections — threads, processes, machines — share the database; the
 * queue's correctness between them comes from row locks (FOR UPDATE SKIP
 * LOCKED on claim, the run row on commit, the coverage_status row per series)
 * and the unique index on active slices, never from client-side locking.
 *
 * Read next: store_pg_runs.c (the queue), store_pg_data.c (commit, bars).
 */
#include "store/store_pg.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"

/* Classes of advisory locks barkeep takes (the first key of the pair). */
#define LOCK_MIGRATE 0x626b0001

/* SET lock_timeout to the connection's wait (bk_store_set_wait). */
static int apply_wait(pg_store *q, bk_err *err)
{
    char sql[64];
    snprintf(sql, sizeof sql, "SET lock_timeout = %lld", (long long)q->wait_ms);
    return bk_pg_simple(q, sql, "set lock_timeout", err);
}

/* ---- connection ---- */

static void pg_close(bk_store *s)
{
    pg_store *q = pgs(s);
    if (!q)
        return;
    PQfinish(q->conn);
    free(q);
}

static int read_version(pg_store *q, int *out, bk_err *err);

static const bk_store_ops pg_ops;

int bk_store__pg_open(bk_store **out, const char *url, bk_err *err)
{
    pg_store *q = bk_xcalloc(1, sizeof *q);
    q->base.ops = &pg_ops;
    int rc = bk_pg_connect(q, url, err);
    int v = 0;
    if (rc == 0)
        rc = read_version(q, &v, err);
    if (rc == 0 && v > PG_SCHEMA_LATEST)
        rc = bk_err_set(err, BK_ESCHEMA,
                        "database %s has schema version %d, newer than this barkeep (%d)", q->where,
                        v, PG_SCHEMA_LATEST);
    if (rc < 0) {
        pg_close(&q->base);
        return rc;
    }
    *out = &q->base;
    return 0;
}

/* ---- migrations ---- */

/* 0 for a database without schema_migrations (a new one). */
static int read_version(pg_store *q, int *out, bk_err *err)
{
    *out = 0;
    PGresult *r = bk_pg_run_text(q, "SELECT to_regclass('public.schema_migrations') IS NOT NULL",
                                 "read schema version", err);
    if (!r)
        return bk_pg_errc(err);
    bool exists = PQntuples(r) == 1 && bk_pg_c_i64(r, 0, 0) != 0;
    PQclear(r);
    if (!exists)
        return 0;
    r = bk_pg_run_text(q, "SELECT coalesce(max(version), 0) FROM public.schema_migrations",
                       "read schema version", err);
    if (!r)
        return bk_pg_errc(err);
    *out = PQntuples(r) == 1 ? (int)bk_pg_c_i64(r, 0, 0) : 0;
    PQclear(r);
    return 0;
}

static int apply_migration(pg_store *q, int version, bk_err *err)
{
    char what[32], sql[128];
    snprintf(what, sizeof what, "migration %d", version);
    int rc = bk_pg_simple(q, bk_store__pg_migrations[version - 1], what, err);
    if (rc < 0)
        return rc;
    snprintf(sql, sizeof sql,
             "INSERT INTO schema_migrations (version, applied_at) VALUES (%d, now())", version);
    return bk_pg_simple(q, sql, "log migration", err);
}

static int pg_migrate(bk_store *s, int *out_version, bk_err *err)
{
    pg_store *q = pgs(s);
    char lock[80];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%d, 0)", LOCK_MIGRATE);
    for (;;) {
        int v = 0;
        int rc = bk_pg_begin(q, err);
        if (rc == 0)
            rc = bk_pg_simple(q, lock, "migration lock", err);
        if (rc == 0)
            rc = read_version(q, &v, err); /* again, under the lock */
        if (rc == 0 && v > PG_SCHEMA_LATEST)
            rc = bk_err_set(err, BK_ESCHEMA,
                            "database %s has schema version %d, newer than this barkeep (%d)",
                            q->where, v, PG_SCHEMA_LATEST);
        if (rc == 0 && v < PG_SCHEMA_LATEST)
            rc = apply_migration(q, v + 1, err);
        if (rc == 0 && v >= PG_SCHEMA_LATEST)
            rc = bk_store__pg_fill_sessions(q, err);
        if (rc < 0) {
            bk_pg_rollback(q);
            return rc;
        }
        rc = bk_pg_commit(q, err);
        if (rc < 0)
            return rc;
        if (v >= PG_SCHEMA_LATEST) {
            *out_version = v;
            return 0;
        }
    }
}

static int pg_schema_version(bk_store *s, int *out_version, bk_err *err)
{
    return read_version(pgs(s), out_version, err);
}

/* ---- job definitions ---- */

#define DEF_COLS                                                                                   \
    "id, job_type, symbol, timeframe, window_days, priority, enabled, created_at, updated_at,"     \
    " horizon"

static const char T_DEF_PUT[] = "utttiiTi";
static const char SQL_DEF_PUT_SET[] =
    "INSERT INTO job_definitions (" DEF_COLS ") VALUES ($1, $2, $3, $4, $5, $6, true, $7, $7, $8)"
    " ON CONFLICT (symbol, timeframe, job_type) DO UPDATE SET"
    " window_days = excluded.window_days, priority = excluded.priority, enabled = true,"
    " updated_at = excluded.updated_at, horizon = excluded.horizon"
    " RETURNING " DEF_COLS;
static const char SQL_DEF_PUT_RAISE[] =
    "INSERT INTO job_definitions (" DEF_COLS ") VALUES ($1, $2, $3, $4, $5, $6, true, $7, $7, $8)"
    " ON CONFLICT (symbol, timeframe, job_type) DO UPDATE SET"
    " window_days = greatest(job_definitions.window_days, excluded.window_days),"
    " priority = greatest(job_definitions.priority, excluded.priority), enabled = true,"
    " updated_at = excluded.updated_at"
    " RETURNING " DEF_COLS;
static const char SQL_DEF_GET[] = "SELECT " DEF_COLS " FROM job_definitions"
                                  " WHERE symbol = $1 AND timeframe = $2 AND job_type = $3";
static const char SQL_DEF_LIST_ALL[] = "SELECT " DEF_COLS " FROM job_definitions";
static const char SQL_DEF_LIST_ENABLED[] = "SELECT " DEF_COLS " FROM job_definitions WHERE enabled";
static const char SQL_DEF_ENABLE[] = "UPDATE job_definitions SET enabled = $4, updated_at = $5"
                                     " WHERE symbol = $1 AND timeframe = $2 AND job_type = $3";
static const char SQL_DEF_DELETE[] =
    "DELETE FROM job_definitions WHERE symbol = $1 AND timeframe = $2 AND job_type = $3"
    " RETURNING id";
/* Runs outlive their definition (history); queued ones are cancelled: out
 * of job_queue and job_active, then marked in job_runs (found through
 * job_runs_series). */
static const char SQL_DEF_CANCEL_RUNS[] =
    "WITH q AS (DELETE FROM job_queue WHERE id IN (SELECT id FROM job_runs WHERE symbol = $1"
    "     AND timeframe = $2 AND job_type = $3 AND job_def_id = $4) RETURNING id),"
    " c AS (DELETE FROM job_active WHERE id IN (SELECT id FROM q) RETURNING id)"
    " UPDATE job_runs SET job_def_id = NULL,"
    " status = CASE WHEN id IN (SELECT id FROM c) THEN 'cancelled' ELSE status END,"
    " finished_at = CASE WHEN id IN (SELECT id FROM c) THEN $5 ELSE finished_at END,"
    " updated_at = CASE WHEN id IN (SELECT id FROM c) THEN $5 ELSE updated_at END"
    " WHERE symbol = $1 AND timeframe = $2 AND job_type = $3 AND job_def_id = $4";

static int read_def(const PGresult *r, int row, bk_def *d)
{
    char type[24];
    memset(d, 0, sizeof *d);
    bk_pg_c_text(d->id, sizeof d->id, r, row, 0);
    bk_pg_c_text(type, sizeof type, r, row, 1);
    int tf = bk_pg_c_tf(r, row, 3);
    if (bk_job_parse(type, &d->type) < 0 || tf < 0)
        return BK_ESTORE;
    bk_pg_c_text(d->symbol, sizeof d->symbol, r, row, 2);
    d->tf = (bk_tf)tf;
    d->window_days = (int32_t)bk_pg_c_i64(r, row, 4);
    d->priority = (int32_t)bk_pg_c_i64(r, row, 5);
    d->enabled = bk_pg_c_i64(r, row, 6) != 0;
    d->created_us = bk_pg_c_time(r, row, 7);
    d->updated_us = bk_pg_c_time(r, row, 8);
    d->horizon = (int32_t)bk_pg_c_i64(r, row, 9);
    return 0;
}

static void key_params(bk_pg_params *p, const char *symbol, bk_tf tf, bk_job type)
{
    bk_pg_p_str(p, symbol);
    bk_pg_p_str(p, bk_tf_name(tf));
    bk_pg_p_str(p, bk_job_name(type));
}

static int pg_def_put(bk_store *s, bk_def *def, enum bk_put_mode mode, bool *created,
                      int64_t now_us, bk_err *err)
{
    pg_store *q = pgs(s);
    char id[BK_ID_MAX];
    bk_uuid4(id);
    bk_pg_params p = {0};
    bk_pg_p_uuid(&p, id);
    bk_pg_p_str(&p, bk_job_name(def->type));
    bk_pg_p_str(&p, def->symbol);
    bk_pg_p_str(&p, bk_tf_name(def->tf));
    bk_pg_p_i32(&p, def->window_days);
    bk_pg_p_i32(&p, def->priority);
    bk_pg_p_ts(&p, now_us);
    bk_pg_p_i32(&p, def->horizon);
    PGresult *r = mode == BK_PUT_RAISE ? bk_pg_exec(q, P_DEF_PUT_RAISE, SQL_DEF_PUT_RAISE,
                                                    T_DEF_PUT, &p, "put job definition", err)
                                       : bk_pg_exec(q, P_DEF_PUT_SET, SQL_DEF_PUT_SET, T_DEF_PUT,
                                                    &p, "put job definition", err);
    if (!r)
        return bk_pg_errc(err);
    int rc = PQntuples(r) == 1 ? read_def(r, 0, def) : BK_ESTORE;
    if (rc < 0)
        bk_err_set(err, rc, "put job definition: unreadable row");
    else
        *created = strcmp(def->id, id) == 0;
    PQclear(r);
    return rc;
}

static int pg_def_get(bk_store *s, const char *symbol, bk_tf tf, bk_job type, bk_def *out,
                      bk_err *err)
{
    bk_pg_params p = {0};
    key_params(&p, symbol, tf, type);
    PGresult *r = bk_pg_exec(pgs(s), P_DEF_GET, SQL_DEF_GET, "ttt", &p, "get job definition", err);
    if (!r)
        return bk_pg_errc(err);
    int rc = PQntuples(r) == 1 ? read_def(r, 0, out) : bk_store__no_def(err, symbol, tf, type);
    PQclear(r);
    return rc;
}

static int pg_def_list(bk_store *s, bool enabled_only, bk_def **out, size_t *n, bk_err *err)
{
    pg_store *q = pgs(s);
    PGresult *r = enabled_only ? bk_pg_exec(q, P_DEF_LIST_ENABLED, SQL_DEF_LIST_ENABLED, "", NULL,
                                            "list job definitions", err)
                               : bk_pg_exec(q, P_DEF_LIST_ALL, SQL_DEF_LIST_ALL, "", NULL,
                                            "list job definitions", err);
    if (!r)
        return bk_pg_errc(err);
    int rows = PQntuples(r);
    bk_def *v = bk_xcalloc((size_t)rows + 1, sizeof *v);
    size_t len = 0;
    for (int i = 0; i < rows; i++)
        if (read_def(r, i, &v[len]) == 0) /* skip rows this binary cannot read */
            len++;
    PQclear(r);
    bk_store__sort_defs(v, len);
    *out = v;
    *n = len;
    return 0;
}

static int pg_def_set_enabled(bk_store *s, const char *symbol, bk_tf tf, bk_job type, bool enabled,
                              int64_t now_us, bk_err *err)
{
    bk_pg_params p = {0};
    key_params(&p, symbol, tf, type);
    char b = enabled ? 1 : 0;
    bk_pg_p_bytes(&p, &b, 1);
    bk_pg_p_ts(&p, now_us);
    size_t k = 0;
    int rc = bk_pg_exec_cmd(pgs(s), P_DEF_ENABLE, SQL_DEF_ENABLE, "tttbT", &p,
                            "enable job definition", &k, err);
    if (rc == 0 && k == 0)
        rc = bk_store__no_def(err, symbol, tf, type);
    return rc;
}

static int def_delete(pg_store *q, const char *symbol, bk_tf tf, bk_job type, char id[BK_ID_MAX],
                      bk_err *err)
{
    bk_pg_params p = {0};
    key_params(&p, symbol, tf, type);
    PGresult *r =
        bk_pg_exec(q, P_DEF_DELETE, SQL_DEF_DELETE, "ttt", &p, "remove job definition", err);
    if (!r)
        return bk_pg_errc(err);
    int rc = 0;
    if (PQntuples(r) == 1)
        bk_pg_c_text(id, BK_ID_MAX, r, 0, 0);
    else
        rc = bk_store__no_def(err, symbol, tf, type);
    PQclear(r);
    return rc;
}

static int pg_def_remove(bk_store *s, const char *symbol, bk_tf tf, bk_job type, int64_t now_us,
                         bk_err *err)
{
    pg_store *q = pgs(s);
    char id[BK_ID_MAX];
    int rc = bk_pg_begin(q, err);
    if (rc < 0)
        return rc;
    rc = def_delete(q, symbol, tf, type, id, err);
    if (rc == 0) {
        bk_pg_params p = {0};
        key_params(&p, symbol, tf, type);
        bk_pg_p_uuid(&p, id);
        bk_pg_p_ts(&p, now_us);
        rc = bk_pg_exec_cmd(q, P_DEF_CANCEL_RUNS, SQL_DEF_CANCEL_RUNS, "tttuT", &p,
                            "cancel runs of removed job", NULL, err);
    }
    if (rc == 0 && type == BK_JOB_FORECAST)
        rc = bk_pg_fc_drop(q, symbol, tf, err);
    if (rc < 0) {
        bk_pg_rollback(q);
        return rc;
    }
    return bk_pg_commit(q, err);
}

/* ---- provider budgets ---- */

/* The bucket row is created full on first use, then read FOR UPDATE,
 * refilled and written back in one transaction: the row lock serialises
 * every connection's take, on any machine. */
static const char SQL_BUDGET_INIT[] =
    "INSERT INTO provider_budgets (provider, tokens, updated_at) VALUES ($1, $2, $3)"
    " ON CONFLICT (provider) DO NOTHING";
static const char SQL_BUDGET_GET[] =
    "SELECT tokens, updated_at FROM provider_budgets WHERE provider = $1 FOR UPDATE";
static const char SQL_BUDGET_PUT[] =
    "UPDATE provider_budgets SET tokens = $2, updated_at = $3 WHERE provider = $1";

static int budget_take(pg_store *q, const char *provider, double rate_per_s, double burst,
                       bool reserve, int64_t now_us, int64_t *wait_us, bk_err *err)
{
    bk_pg_params p = {0};
    bk_pg_p_str(&p, provider);
    bk_pg_p_f64(&p, burst);
    bk_pg_p_ts(&p, now_us);
    int rc = bk_pg_exec_cmd(q, P_BUDGET_INIT, SQL_BUDGET_INIT, "tdT", &p, "create provider budget",
                            NULL, err);
    if (rc < 0)
        return rc;
    bk_pg_params g = {0};
    bk_pg_p_str(&g, provider);
    PGresult *r = bk_pg_exec(q, P_BUDGET_GET, SQL_BUDGET_GET, "t", &g, "read provider budget", err);
    if (!r)
        return bk_pg_errc(err);
    if (PQntuples(r) != 1) {
        PQclear(r);
        return bk_err_set(err, BK_ESTORE, "provider budget row vanished");
    }
    double tokens = bk_pg_c_f64(r, 0, 0);
    int64_t updated = bk_pg_c_time(r, 0, 1);
    PQclear(r);
    bk_store__bucket_take(&tokens, &updated, rate_per_s, burst, reserve, now_us, wait_us);
    bk_pg_params u = {0};
    bk_pg_p_str(&u, provider);
    bk_pg_p_f64(&u, tokens);
    bk_pg_p_ts(&u, updated);
    return bk_pg_exec_cmd(q, P_BUDGET_PUT, SQL_BUDGET_PUT, "tdT", &u, "update provider budget",
                          NULL, err);
}

static int pg_take_token(bk_store *s, const char *provider, double rate_per_s, double burst,
                         bool reserve, int64_t now_us, int64_t *wait_us, bk_err *err)
{
    pg_store *q = pgs(s);
    int64_t db_now = now_us + pg_clock_off(q); /* the bucket is in the server's time */
    int rc = bk_pg_begin(q, err);
    if (rc < 0)
        return rc;
    rc = budget_take(q, provider, rate_per_s, burst, reserve, db_now, wait_us, err);
    if (rc < 0) {
        bk_pg_rollback(q);
        *wait_us = 0;
        return rc;
    }
    return bk_pg_commit(q, err);
}

/* ---- 429s received ---- */

/* One statement: the new row and the pruning of those older than $3. */
static const char SQL_RATE_LIMITED_ADD[] =
    "WITH pruned AS (DELETE FROM provider_rate_limits WHERE at < $3)"
    " INSERT INTO provider_rate_limits (provider, at) VALUES ($1, $2)";
static const char SQL_RATE_LIMITED_COUNT[] =
    "SELECT provider, count(*) FROM provider_rate_limits WHERE at >= $1"
    " GROUP BY provider ORDER BY provider COLLATE \"C\"";

static int pg_rate_limited_add(bk_store *s, const char *provider, int64_t now_us, bk_err *err)
{
    bk_pg_params p = {0};
    bk_pg_p_str(&p, provider);
    bk_pg_p_ts(&p, now_us);
    bk_pg_p_ts(&p, now_us - BK_STORE_RATE_LIMITED_KEEP_US);
    return bk_pg_exec_cmd(pgs(s), P_RATE_LIMITED_ADD, SQL_RATE_LIMITED_ADD, "tTT", &p, "record 429",
                          NULL, err);
}

static int pg_rate_limited_count(bk_store *s, int64_t since_us, bk_prov_count **out, size_t *n,
                                 bk_err *err)
{
    bk_pg_params p = {0};
    bk_pg_p_ts(&p, since_us);
    PGresult *r = bk_pg_exec(pgs(s), P_RATE_LIMITED_COUNT, SQL_RATE_LIMITED_COUNT, "T", &p,
                             "count 429s", err);
    if (!r)
        return bk_pg_errc(err);
    int rows = PQntuples(r);
    if (rows > 0)
        *out = bk_xcalloc((size_t)rows, sizeof **out);
    for (int i = 0; i < rows; i++) {
        bk_pg_c_text((*out)[i].provider, sizeof(*out)[i].provider, r, i, 0);
        (*out)[i].n = bk_pg_c_i64(r, i, 1);
    }
    *n = (size_t)rows;
    PQclear(r);
    return 0;
}

/* ---- leadership ---- */

/* Leadership is a session-level advisory lock (the bigint key space, apart
 * from the (int, int) keys of the migration lock): the server drops it with
 * the session, so a dead leader's standby wins at its next try. The
 * scheduler_leases row is written by the holder for visibility only. */
static const char SQL_LEADER_LOCK[] = "SELECT pg_try_advisory_lock($1)";
static const char SQL_LEADER_UNLOCK[] = "SELECT pg_advisory_unlock($1)";
/* The row is written only while this very session holds the lock (a reset
 * session that lost it writes nothing): $4, $5 are the key's halves as
 * pg_locks shows them. */
static const char SQL_LEADER_TRY[] =
    "INSERT INTO scheduler_leases (name, owner, lease_until) SELECT $1, $2, $3"
    " WHERE EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
    " AND pid = pg_backend_pid() AND granted AND objsubid = 1"
    " AND classid::int8 = $4 AND objid::int8 = $5)"
    " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
    " lease_until = excluded.lease_until";
static const char SQL_LEADER_RELEASE[] =
    "DELETE FROM scheduler_leases WHERE name = $1 AND owner = $2";

/* The lock key of a leader name: FNV-1a 64 of "barkeep:leader:" + name. */
static int64_t leader_key(const char *name)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (const char *p = "barkeep:leader:"; *p; p++)
        h = (h ^ (unsigned char)*p) * UINT64_C(0x100000001b3);
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * UINT64_C(0x100000001b3);
    return (int64_t)h;
}

static int held_index(const pg_store *q, int64_t key)
{
    for (int i = 0; i < q->n_leader; i++)
        if (q->leader_key[i] == key)
            return i;
    return -1;
}

/* Hold the lock of key on this session: at most one pg_try_advisory_lock per
 * session (the server counts repeated acquisitions). */
static int leader_lock(pg_store *q, int64_t key, bool *held, bk_err *err)
{
    *held = held_index(q, key) >= 0;
    if (*held)
        return 0;
    if (q->n_leader == PG_MAX_LEADER)
        return bk_err_set(err, BK_EINVAL, "more than %d leader locks on one connection",
                          PG_MAX_LEADER);
    bk_pg_params p = {0};
    bk_pg_p_i64(&p, key);
    PGresult *r = bk_pg_exec(q, P_LEADER_LOCK, SQL_LEADER_LOCK, "l", &p, "leader lock", err);
    if (!r)
        return bk_pg_errc(err);
    *held = PQntuples(r) == 1 && bk_pg_c_i64(r, 0, 0) != 0;
    PQclear(r);
    if (*held)
        q->leader_key[q->n_leader++] = key; /* after bk_pg_exec: a reset inside it forgets keys */
    return 0;
}

static void forget_key(pg_store *q, int64_t key)
{
    int i = held_index(q, key);
    if (i >= 0)
        q->leader_key[i] = q->leader_key[--q->n_leader];
}

static int pg_leader_try(bk_store *s, const char *name, const char *owner, int64_t now_us,
                         int64_t ttl_us, bool *is_leader, bk_err *err)
{
    pg_store *q = pgs(s);
    int64_t key = leader_key(name), off = pg_clock_off(q); /* a standby measures (and warns) too */
    for (int attempt = 0; attempt < 2; attempt++) {
        bool held = false;
        int rc = leader_lock(q, key, &held, err);
        if (rc < 0 || !held)
            return rc;
        bk_pg_params p = {0};
        bk_pg_p_str(&p, name);
        bk_pg_p_str(&p, owner);
        bk_pg_p_ts(&p, now_us + ttl_us + off); /* the server's time, like run leases */
        bk_pg_p_i64(&p, (int64_t)((uint64_t)key >> 32));
        bk_pg_p_i64(&p, (int64_t)((uint64_t)key & UINT32_MAX));
        size_t k = 0;
        rc = bk_pg_exec_cmd(q, P_LEADER_TRY, SQL_LEADER_TRY, "ttTll", &p, "leader lease row", &k,
                            err);
        if (rc < 0)
            return rc;
        if (k == 1) {
            *is_leader = true;
            return 0;
        }
        /* The session that took the lock is gone (the connection was reset):
         * try once to take it on this one. */
        forget_key(q, key);
    }
    return 0;
}

static int pg_leader_release(bk_store *s, const char *name, const char *owner, bk_err *err)
{
    pg_store *q = pgs(s);
    int64_t key = leader_key(name);
    if (held_index(q, key) < 0)
        return 0; /* not ours: the row belongs to the lock's holder */
    /* The row first, while the lock keeps every other writer away from it. */
    bk_pg_params p = {0};
    bk_pg_p_str(&p, name);
    bk_pg_p_str(&p, owner);
    int rc = bk_pg_exec_cmd(q, P_LEADER_RELEASE, SQL_LEADER_RELEASE, "tt", &p,
                            "release leader lease row", NULL, err);
    if (rc < 0 || held_index(q, key) < 0)
        return rc; /* on a reset the lock is already gone */
    bk_pg_params u = {0};
    bk_pg_p_i64(&u, key);
    uint64_t session = q->session;
    PGresult *r = bk_pg_exec(q, P_LEADER_UNLOCK, SQL_LEADER_UNLOCK, "l", &u, "leader unlock", err);
    if (!r && q->session == session)
        return bk_pg_errc(err); /* still held: a later release may succeed */
    PQclear(r);
    forget_key(q, key);
    return 0;
}

/* ---- change notifications ---- */

static int pg_listen(bk_store *s, bk_err *err)
{
    pg_store *q = pgs(s);
    int rc = bk_pg_simple(q, "LISTEN " PG_CHANNEL_RUNS, "listen", err);
    if (rc == 0) {
        q->listening = true;
        q->listen_lost = false;
    }
    return rc;
}

static int pg_listen_rows(bk_store *s, bk_err *err)
{
    pg_store *q = pgs(s);
    int rc = bk_pg_simple(q, "LISTEN " PG_CHANNEL_ROWS, "listen", err);
    if (rc == 0) {
        q->listening = true;
        q->listen_lost = false;
    }
    return rc;
}

static int notes_lost(pg_store *q, bk_err *err)
{
    char msg[200];
    bk_pg_first_line(msg, sizeof msg,
                     q->listen_lost ? "the connection was reset" : PQerrorMessage(q->conn));
    if (q->listening)
        bk_pg_forget_session(
            q); /* LISTEN is gone with it; the next bk_pg_exec/bk_pg_simple resets */
    return bk_err_set(err, BK_ESTORE, "notifications: PostgreSQL connection lost: %s (%s)", msg,
                      q->where);
}

/* One record "OP ID STATUS PROGRESS UPDATED_US" (the triggers of migrations
 * 2 and 6) of len bytes; false for anything else. */
static bool parse_note(const char *rec, size_t len, char op[16], char id[BK_ID_MAX],
                       char status[16], bk_note *out)
{
    char line[160];
    double progress = 0;
    long long updated = 0;
    if (len >= sizeof line)
        return false;
    memcpy(line, rec, len);
    line[len] = '\0';
    if (sscanf(line, "%15s %36s %15s %lf %lld", op, id, status, &progress, &updated) != 5 ||
        !bk_pg_is_uuid(id) || bk_status_parse(status, &out->status) != 0)
        return false;
    out->op = op;
    out->run_id = id;
    out->progress_percent = progress;
    out->updated_us = (int64_t)updated;
    out->table = "job_runs";
    out->key = id;
    return true;
}

/* One record "TABLE OP KEY" of PG_CHANNEL_ROWS (migration 11) of len bytes,
 * copied into line (cap bytes); false for anything else. */
static bool parse_row_note(const char *rec, size_t len, char *line, size_t cap, bk_note *out)
{
    if (len >= cap)
        return false;
    memcpy(line, rec, len);
    line[len] = '\0';
    char *op = strchr(line, ' ');
    char *key = op ? strchr(op + 1, ' ') : NULL;
    if (!key || !key[1])
        return false;
    *op++ = '\0';
    *key++ = '\0';
    memset(out, 0, sizeof *out);
    if (strcmp(line, "coverage_status") == 0)
        out->table = "coverage_status";
    else if (strcmp(line, "job_definitions") == 0)
        out->table = "job_definitions";
    else
        return false;
    if (strcmp(op, "INSERT") != 0 && strcmp(op, "UPDATE") != 0 && strcmp(op, "DELETE") != 0)
        return false;
    out->op = op;
    out->run_id = "";
    out->key = key;
    return true;
}

/* Hand every notification libpq has buffered to cb, one call per record (a
 * payload of migration 6's trigger holds up to 64, one per line); returns
 * how many. */
static int drain_notes(pg_store *q, bk_notify_fn cb, void *ctx)
{
    int n = 0;
    PGnotify *nt;
    while ((nt = PQnotifies(q->conn)) != NULL) {
        const char *rec = nt->extra;
        while (strcmp(nt->relname, PG_CHANNEL_ROWS) == 0 && *rec) {
            size_t len = strcspn(rec, "\n");
            char line[256];
            bk_note note;
            if (parse_row_note(rec, len, line, sizeof line, &note)) {
                cb(ctx, &note);
                n++;
            }
            rec += len + (rec[len] == '\n');
        }
        while (strcmp(nt->relname, PG_CHANNEL_RUNS) == 0 && *rec) {
            size_t len = strcspn(rec, "\n");
            char op[16], id[BK_ID_MAX], status[16];
            bk_note note;
            if (parse_note(rec, len, op, id, status, &note)) {
                cb(ctx, &note);
                n++;
            }
            rec += len + (rec[len] == '\n');
        }
        PQfreemem(nt);
    }
    return n;
}

static int pg_notifications(bk_store *s, int timeout_ms, bk_notify_fn cb, void *ctx, bk_err *err)
{
    pg_store *q = pgs(s);
    if (!q->listening)
        return q->listen_lost ? notes_lost(q, err)
                              : bk_err_set(err, BK_EINVAL, "notifications: LISTEN first");
    if (PQstatus(q->conn) != CONNECTION_OK || !PQconsumeInput(q->conn))
        return notes_lost(q, err);
    if (drain_notes(q, cb, ctx) > 0 || timeout_ms == 0)
        return 0;
    struct pollfd pfd = {.fd = PQsocket(q->conn), .events = POLLIN};
    if (pfd.fd < 0)
        return notes_lost(q, err);
    int ready = poll(&pfd, 1, timeout_ms);
    if (ready <= 0)
        return 0; /* timeout, or a signal: the caller loops */
    if (!PQconsumeInput(q->conn) || PQstatus(q->conn) != CONNECTION_OK)
        return notes_lost(q, err);
    drain_notes(q, cb, ctx);
    return 0;
}

/* ---- test hooks ---- */

int bk_store__pg_exec(bk_store *s, const char *sql, bk_err *err)
{
    if (strcmp(s->ops->kind, "postgres") != 0)
        return bk_err_set(err, BK_EINVAL, "not a PostgreSQL store");
    pg_store *q = pgs(s);
    bk_pg_forget_session(q); /* the SQL may drop what the cache refers to */
    PQclear(PQexec(q->conn, "DEALLOCATE ALL"));
    /* As any other session: job_runs' mirror trigger keeps the state tables in step. */
    PQclear(PQexec(q->conn, "SET barkeep.writer = 'off'"));
    int rc = bk_pg_simple(q, sql, "exec", err);
    PQclear(PQexec(q->conn, "SET barkeep.writer = 'on'"));
    return rc;
}

int bk_store__pg_query(bk_store *s, const char *sql, const char *const *params, int n_params,
                       char ***out, size_t *rows, size_t *cols, bk_err *err)
{
    *out = NULL;
    *rows = *cols = 0;
    if (strcmp(s->ops->kind, "postgres") != 0)
        return bk_err_set(err, BK_EINVAL, "not a PostgreSQL store");
    pg_store *q = pgs(s);
    PGresult *r = PQexecParams(q->conn, sql, n_params, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = bk_pg_fail(q, r, "query", err);
        PQclear(r);
        return rc;
    }
    size_t nr = (size_t)PQntuples(r), nc = (size_t)PQnfields(r);
    char **cells = bk_xcalloc(nr * nc + 1, sizeof *cells);
    for (size_t i = 0; i < nr; i++)
        for (size_t j = 0; j < nc; j++)
            cells[i * nc + j] = bk_xstrdup(PQgetvalue(r, (int)i, (int)j));
    PQclear(r);
    *out = cells;
    *rows = nr;
    *cols = nc;
    return 0;
}

void bk_store__pg_cells_free(char **cells, size_t n)
{
    if (!cells)
        return;
    for (size_t i = 0; i < n; i++)
        free(cells[i]);
    free(cells);
}

/* ---- the ops table ---- */

static int pg_set_wait(bk_store *s, int64_t wait_ms, bk_err *err)
{
    pg_store *q = pgs(s);
    q->wait_ms = wait_ms;
    return apply_wait(q, err);
}

static const bk_store_ops pg_ops = {
    .kind = "postgres",
    .schema_latest = PG_SCHEMA_LATEST,
    .notifies = true,
    .close = pg_close,
    .migrate = pg_migrate,
    .schema_version = pg_schema_version,
    .def_put = pg_def_put,
    .def_get = pg_def_get,
    .def_list = pg_def_list,
    .def_set_enabled = pg_def_set_enabled,
    .def_remove = pg_def_remove,
    .runs_enqueue = pg_runs_enqueue,
    .run_claim = pg_run_claim,
    .runs_claim_many = pg_runs_claim_many,
    .run_claim_id = pg_run_claim_id,
    .run_heartbeat = pg_run_heartbeat,
    .run_commit = pg_run_commit,
    .fc_commit = pg_fc_commit,
    .fc_get = pg_fc_get,
    .fc_list = pg_fc_list,
    .fc_score = pg_fc_score,
    .fc_scores_read = pg_fc_scores_read,
    .runs_commit_many = pg_runs_commit_many,
    .run_fail = pg_run_fail,
    .run_release = pg_run_release,
    .runs_requeue_expired = pg_runs_requeue_expired,
    .runs_retry_failed = pg_runs_retry_failed,
    .runs_revive_dead = pg_runs_revive_dead,
    .run_get = pg_run_get,
    .runs_list = pg_runs_list,
    .runs_count = pg_runs_count,
    .runs_next_event = pg_runs_next_event,
    .runs_oldest_queued = pg_runs_oldest_queued,
    .series_load = pg_series_load,
    .coverage_list = pg_coverage_list,
    .bars_upsert = pg_bars_upsert,
    .bars_read = pg_bars_read,
    .bars_count = pg_bars_count,
    .bars_source = pg_bars_source,
    .bars_series = pg_bars_series,
    .rest_read = pg_rest_read,
    .coverage_gaps = pg_coverage_gaps,
    .coverage_add = pg_coverage_add,
    .take_token = pg_take_token,
    .rate_limited_add = pg_rate_limited_add,
    .rate_limited_count = pg_rate_limited_count,
    .leader_try = pg_leader_try,
    .leader_release = pg_leader_release,
    .listen = pg_listen,
    .listen_rows = pg_listen_rows,
    .notifications = pg_notifications,
    .set_wait = pg_set_wait,
    .clock_skew = pg_clock_skew,
};
