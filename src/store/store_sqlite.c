/*
 * store_sqlite.c — the SQLite backend: opening a connection (WAL,
 * synchronous=NORMAL, a busy timeout), the per-connection statement cache,
 * error mapping, migrations, job definitions, the leader lease, provider
 * budgets (token buckets), and the ops table that store.c dispatches through.
 *
 * One sq_store is one sqlite3 connection opened with SQLITE_OPEN_NOMUTEX: it
 * belongs to one thread at a time, as store.h says. Concurrency between
 * connections (threads or processes) is SQLite's: readers never block, one
 * writer at a time, BEGIN IMMEDIATE waits up to the busy timeout.
 *
 * Read next: store_sqlite_runs.c (the queue), store_sqlite_data.c (commit).
 */
#include "store/store_sqlite.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"

#define BUSY_TIMEOUT_MS 10000

/* ---- helpers ---- */

static int map_code(int src)
{
    switch (src & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return BK_EBUSY;
    case SQLITE_NOMEM:
        return BK_ENOMEM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return BK_ECORRUPT;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
        return BK_EIO;
    default:
        return BK_ESTORE;
    }
}

int bk_sq_fail(sq_store *q, int src, const char *what, bk_err *err)
{
    return bk_err_set(err, map_code(src), "%s: %s (%s)", what, sqlite3_errmsg(q->db), q->path);
}

sqlite3_stmt *bk_sq_stmt(sq_store *q, int slot, const char *sql, bk_err *err)
{
    assert(slot >= 0 && slot < Q__N);
    if (q->st[slot]) {
        if (q->st_sql[slot] && q->st_sql[slot] != sql) {
            bk_err_set(err, BK_ESTORE, "statement slot %d reused for different SQL", slot);
            return NULL;
        }
        return q->st[slot];
    }
    int src = sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &q->st[slot], NULL);
    if (src != SQLITE_OK) {
        bk_sq_fail(q, src, "prepare", err);
        sqlite3_finalize(q->st[slot]);
        q->st[slot] = NULL;
        return NULL;
    }
    q->st_sql[slot] = sql;
    return q->st[slot];
}

sqlite3_stmt *bk_sq_stmt_dyn(sq_store *q, int slot, const char *sql, bk_err *err)
{
    if (q->st[slot])
        return q->st[slot];
    sqlite3_stmt *st = bk_sq_stmt(q, slot, sql, err);
    q->st_sql[slot] = NULL; /* sql is the caller's buffer */
    return st;
}

int bk_sq_exec_stmt(sq_store *q, sqlite3_stmt *st, const char *what, bk_err *err)
{
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW)
        ;
    int rc = src == SQLITE_DONE ? 0 : bk_sq_fail(q, src, what, err);
    sqlite3_reset(st);
    return rc;
}

static const char SQL_BEGIN[] = "BEGIN IMMEDIATE";
static const char SQL_BEGIN_READ[] = "BEGIN";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";

int bk_sq_begin(sq_store *q, bk_err *err)
{
    sqlite3_stmt *st = bk_sq_stmt(q, Q_BEGIN, SQL_BEGIN, err);
    return st ? bk_sq_exec_stmt(q, st, "begin", err) : BK_ESTORE;
}

int bk_sq_begin_read(sq_store *q, bk_err *err)
{
    sqlite3_stmt *st = bk_sq_stmt(q, Q_BEGIN_READ, SQL_BEGIN_READ, err);
    return st ? bk_sq_exec_stmt(q, st, "begin read", err) : BK_ESTORE;
}

int bk_sq_commit(sq_store *q, bk_err *err)
{
    sqlite3_stmt *st = bk_sq_stmt(q, Q_COMMIT, SQL_COMMIT, err);
    int rc = st ? bk_sq_exec_stmt(q, st, "commit", err) : BK_ESTORE;
    if (rc < 0)
        bk_sq_rollback(q);
    return rc;
}

void bk_sq_rollback(sq_store *q)
{
    if (sqlite3_get_autocommit(q->db))
        return; /* SQLite already rolled back (or nothing was begun) */
    sqlite3_stmt *st = bk_sq_stmt(q, Q_ROLLBACK, SQL_ROLLBACK, NULL);
    if (st)
        bk_sq_exec_stmt(q, st, "rollback", NULL);
}

void bk_sq_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s && *s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

void bk_sq_bind_time(sqlite3_stmt *st, int i, int64_t us)
{
    if (us)
        sqlite3_bind_int64(st, i, us);
    else
        sqlite3_bind_null(st, i);
}

void bk_sq_col_text(char *dst, size_t cap, sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    bk_strlcpy(dst, t ? (const char *)t : "", cap);
}

int bk_sq_col_tf(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    bk_tf tf;
    return t && bk_tf_parse((const char *)t, &tf) == 0 ? (int)tf : -1;
}

/* ---- connection ---- */

static const char SQL_USER_VERSION[] = "PRAGMA user_version";

static int read_version(sq_store *q, int *out, bk_err *err)
{
    sqlite3_stmt *st = bk_sq_stmt(q, Q_USER_VERSION, SQL_USER_VERSION, err);
    if (!st)
        return err ? err->code : BK_ESTORE;
    int src = sqlite3_step(st);
    int rc = 0;
    if (src == SQLITE_ROW)
        *out = sqlite3_column_int(st, 0);
    else
        rc = bk_sq_fail(q, src, "read schema version", err);
    sqlite3_reset(st);
    return rc;
}

static void sq_close(bk_store *s)
{
    sq_store *q = sq(s);
    for (int i = 0; i < Q__N; i++)
        sqlite3_finalize(q->st[i]);
    sqlite3_close(q->db);
    free(q->path);
    free(q);
}

/* Connection settings. journal_mode is the first statement that reads the
 * file, so a file that is not a database fails here. */
static int configure(sq_store *q, bk_err *err)
{
    static const char *const pragmas[] = {
        "PRAGMA journal_mode = WAL",  "PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = OFF",
        "PRAGMA temp_store = MEMORY", "PRAGMA cache_size = -16384",
    };
    sqlite3_busy_timeout(q->db, BUSY_TIMEOUT_MS);
    for (size_t i = 0; i < BK_ARRAY_LEN(pragmas); i++) {
        int src = sqlite3_exec(q->db, pragmas[i], NULL, NULL, NULL);
        if ((src & 0xff) == SQLITE_NOTADB || (src & 0xff) == SQLITE_CORRUPT)
            return bk_err_set(err, BK_ECORRUPT, "'%s' is not a SQLite database (or is corrupt)",
                              q->path);
        if (src != SQLITE_OK)
            return bk_sq_fail(q, src, "configure connection", err);
    }
    return 0;
}

static const bk_store_ops sq_ops;

int bk_store__sqlite_open(bk_store **out, const char *path, bk_err *err)
{
    sq_store *q = bk_xcalloc(1, sizeof *q);
    q->base.ops = &sq_ops;
    q->path = bk_xstrdup(path);
    int flags =
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    int src = sqlite3_open_v2(path, &q->db, flags, NULL);
    int rc = 0;
    if (src != SQLITE_OK) {
        int e = q->db ? sqlite3_system_errno(q->db) : 0;
        rc = bk_err_set(err, BK_EIO, "cannot open database '%s': %s%s%s", path,
                        q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(src), e ? ": " : "",
                        e ? strerror(e) : "");
        goto out;
    }
    rc = configure(q, err);
    if (rc < 0)
        goto out;
    int v = 0;
    rc = read_version(q, &v, err);
    if (rc < 0)
        goto out;
    if (v > SQ_SCHEMA_LATEST)
        rc = bk_err_set(err, BK_ESCHEMA,
                        "database '%s' has schema version %d, newer than this barkeep (%d)", path,
                        v, SQ_SCHEMA_LATEST);
out:
    if (rc < 0) {
        sq_close(&q->base);
        return rc;
    }
    *out = &q->base;
    return 0;
}

/* ---- migrations ---- */

static const char SQL_MIGRATION_LOG[] =
    "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)";

static int apply_migration(sq_store *q, int version, bk_err *err)
{
    char buf[64];
    char *msg = NULL;
    int src = sqlite3_exec(q->db, bk_store__sq_migrations[version - 1], NULL, NULL, &msg);
    if (src != SQLITE_OK) {
        int rc = bk_err_set(err, map_code(src), "migration %d: %s (%s)", version,
                            msg ? msg : sqlite3_errstr(src), q->path);
        sqlite3_free(msg);
        return rc;
    }
    snprintf(buf, sizeof buf, "PRAGMA user_version = %d", version);
    src = sqlite3_exec(q->db, buf, NULL, NULL, NULL);
    if (src != SQLITE_OK)
        return bk_sq_fail(q, src, "set schema version", err);
    sqlite3_stmt *st;
    src = sqlite3_prepare_v2(q->db, SQL_MIGRATION_LOG, -1, &st, NULL);
    if (src != SQLITE_OK)
        return bk_sq_fail(q, src, "log migration", err);
    sqlite3_bind_int(st, 1, version);
    sqlite3_bind_int64(st, 2, bk_clock_now_us());
    src = sqlite3_step(st);
    sqlite3_finalize(st);
    return src == SQLITE_DONE ? 0 : bk_sq_fail(q, src, "log migration", err);
}

static int sq_migrate(bk_store *s, int *out_version, bk_err *err)
{
    sq_store *q = sq(s);
    int latest = SQ_SCHEMA_LATEST;
    for (;;) {
        int rc = bk_sq_begin(q, err);
        if (rc < 0)
            return rc;
        int v = 0;
        rc = read_version(q, &v, err); /* again, under the write lock */
        if (rc == 0 && v > latest)
            rc = bk_err_set(err, BK_ESCHEMA,
                            "database '%s' has schema version %d, newer than "
                            "this barkeep (%d)",
                            q->path, v, latest);
        if (rc == 0 && v < latest)
            rc = apply_migration(q, v + 1, err);
        if (rc < 0) {
            bk_sq_rollback(q);
            return rc;
        }
        rc = bk_sq_commit(q, err);
        if (rc < 0)
            return rc;
        if (v >= latest) {
            *out_version = v;
            return 0;
        }
    }
}

static int sq_schema_version(bk_store *s, int *out_version, bk_err *err)
{
    return read_version(sq(s), out_version, err);
}

/* ---- job definitions ---- */

#define DEF_COLS                                                                                   \
    "id, job_type, symbol, timeframe, window_days, priority, enabled, created_at, updated_at,"     \
    " horizon"

static const char SQL_DEF_PUT_SET[] =
    "INSERT INTO job_definitions (" DEF_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7, ?8)"
    " ON CONFLICT (symbol, timeframe, job_type) DO UPDATE SET"
    " window_days = excluded.window_days, priority = excluded.priority, enabled = 1,"
    " updated_at = excluded.updated_at, horizon = excluded.horizon"
    " RETURNING " DEF_COLS;
static const char SQL_DEF_PUT_RAISE[] =
    "INSERT INTO job_definitions (" DEF_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7, ?8)"
    " ON CONFLICT (symbol, timeframe, job_type) DO UPDATE SET"
    " window_days = max(window_days, excluded.window_days),"
    " priority = max(priority, excluded.priority), enabled = 1,"
    " updated_at = excluded.updated_at"
    " RETURNING " DEF_COLS;
static const char SQL_DEF_GET[] = "SELECT " DEF_COLS " FROM job_definitions"
                                  " WHERE symbol = ?1 AND timeframe = ?2 AND job_type = ?3";
static const char SQL_DEF_LIST_ALL[] = "SELECT " DEF_COLS " FROM job_definitions";
static const char SQL_DEF_LIST_ENABLED[] =
    "SELECT " DEF_COLS " FROM job_definitions WHERE enabled <> 0";
static const char SQL_DEF_ENABLE[] = "UPDATE job_definitions SET enabled = ?4, updated_at = ?5"
                                     " WHERE symbol = ?1 AND timeframe = ?2 AND job_type = ?3";
static const char SQL_DEF_DELETE[] =
    "DELETE FROM job_definitions WHERE symbol = ?1 AND timeframe = ?2 AND job_type = ?3"
    " RETURNING id";
/* Runs outlive their definition (history); queued ones are cancelled. */
static const char SQL_DEF_CANCEL_RUNS[] =
    "UPDATE job_runs SET job_def_id = NULL,"
    " status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,"
    " finished_at = CASE WHEN status = 'queued' THEN ?5 ELSE finished_at END,"
    " updated_at = CASE WHEN status = 'queued' THEN ?5 ELSE updated_at END"
    " WHERE symbol = ?1 AND timeframe = ?2 AND job_type = ?3 AND job_def_id = ?4";

/* Returns 0 for a good row, BK_ESTORE for a row this binary cannot read. */
static int read_def(sqlite3_stmt *st, bk_def *d)
{
    memset(d, 0, sizeof *d);
    bk_sq_col_text(d->id, sizeof d->id, st, 0);
    const unsigned char *type = sqlite3_column_text(st, 1);
    int tf = bk_sq_col_tf(st, 3);
    if (!type || bk_job_parse((const char *)type, &d->type) < 0 || tf < 0)
        return BK_ESTORE;
    bk_sq_col_text(d->symbol, sizeof d->symbol, st, 2);
    d->tf = (bk_tf)tf;
    d->window_days = sqlite3_column_int(st, 4);
    d->priority = sqlite3_column_int(st, 5);
    d->enabled = sqlite3_column_int(st, 6) != 0;
    d->created_us = sqlite3_column_int64(st, 7);
    d->updated_us = sqlite3_column_int64(st, 8);
    d->horizon = sqlite3_column_int(st, 9);
    return 0;
}

static void bind_key(sqlite3_stmt *st, const char *symbol, bk_tf tf, bk_job type)
{
    sqlite3_bind_text(st, 1, symbol, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, bk_tf_name(tf), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, bk_job_name(type), -1, SQLITE_STATIC);
}

static int sq_def_put(bk_store *s, bk_def *def, enum bk_put_mode mode, bool *created,
                      int64_t now_us, bk_err *err)
{
    sq_store *q = sq(s);
    sqlite3_stmt *st = mode == BK_PUT_RAISE ? bk_sq_stmt(q, Q_DEF_PUT_RAISE, SQL_DEF_PUT_RAISE, err)
                                            : bk_sq_stmt(q, Q_DEF_PUT_SET, SQL_DEF_PUT_SET, err);
    if (!st)
        return BK_ESTORE;
    char id[BK_ID_MAX];
    bk_uuid4(id);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, bk_job_name(def->type), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, def->symbol, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, bk_tf_name(def->tf), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, def->window_days);
    sqlite3_bind_int(st, 6, def->priority);
    sqlite3_bind_int64(st, 7, now_us);
    sqlite3_bind_int(st, 8, def->horizon);
    int src = sqlite3_step(st);
    int rc = 0;
    if (src == SQLITE_ROW) {
        rc = read_def(st, def);
        *created = strcmp(def->id, id) == 0;
    } else {
        rc = bk_sq_fail(q, src, "put job definition", err);
    }
    sqlite3_reset(st);
    return rc;
}

static int sq_def_get(bk_store *s, const char *symbol, bk_tf tf, bk_job type, bk_def *out,
                      bk_err *err)
{
    sq_store *q = sq(s);
    sqlite3_stmt *st = bk_sq_stmt(q, Q_DEF_GET, SQL_DEF_GET, err);
    if (!st)
        return BK_ESTORE;
    bind_key(st, symbol, tf, type);
    int src = sqlite3_step(st);
    int rc;
    if (src == SQLITE_ROW)
        rc = read_def(st, out);
    else if (src == SQLITE_DONE)
        rc = bk_store__no_def(err, symbol, tf, type);
    else
        rc = bk_sq_fail(q, src, "get job definition", err);
    sqlite3_reset(st);
    return rc;
}

static int sq_def_list(bk_store *s, bool enabled_only, bk_def **out, size_t *n, bk_err *err)
{
    sq_store *q = sq(s);
    sqlite3_stmt *st = enabled_only ? bk_sq_stmt(q, Q_DEF_LIST_ENABLED, SQL_DEF_LIST_ENABLED, err)
                                    : bk_sq_stmt(q, Q_DEF_LIST_ALL, SQL_DEF_LIST_ALL, err);
    if (!st)
        return BK_ESTORE;
    bk_def *v = NULL;
    size_t len = 0, cap = 0;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        bk_grow((void **)&v, &cap, len + 1, sizeof *v);
        if (read_def(st, &v[len]) == 0) /* skip rows this binary cannot read */
            len++;
    }
    int rc = src == SQLITE_DONE ? 0 : bk_sq_fail(q, src, "list job definitions", err);
    sqlite3_reset(st);
    if (rc < 0) {
        free(v);
        return rc;
    }
    bk_store__sort_defs(v, len);
    *out = v;
    *n = len;
    return 0;
}

static int sq_def_set_enabled(bk_store *s, const char *symbol, bk_tf tf, bk_job type, bool enabled,
                              int64_t now_us, bk_err *err)
{
    sq_store *q = sq(s);
    sqlite3_stmt *st = bk_sq_stmt(q, Q_DEF_ENABLE, SQL_DEF_ENABLE, err);
    if (!st)
        return BK_ESTORE;
    bind_key(st, symbol, tf, type);
    sqlite3_bind_int(st, 4, enabled ? 1 : 0);
    sqlite3_bind_int64(st, 5, now_us);
    int rc = bk_sq_exec_stmt(q, st, "enable job definition", err);
    if (rc == 0 && sqlite3_changes(q->db) == 0)
        rc = bk_store__no_def(err, symbol, tf, type);
    return rc;
}

static int def_delete(sq_store *q, const char *symbol, bk_tf tf, bk_job type, char id[BK_ID_MAX],
                      bk_err *err)
{
    sqlite3_stmt *st = bk_sq_stmt(q, Q_DEF_DELETE, SQL_DEF_DELETE, err);
    if (!st)
        return BK_ESTORE;
    bind_key(st, symbol, tf, type);
    int src = sqlite3_step(st);
    int rc = 0;
    if (src == SQLITE_ROW)
        bk_sq_col_text(id, BK_ID_MAX, st, 0);
    else if (src == SQLITE_DONE)
        rc = bk_store__no_def(err, symbol, tf, type);
    else
        rc = bk_sq_fail(q, src, "remove job definition", err);
    sqlite3_reset(st);
    return rc;
}

static int sq_def_remove(bk_store *s, const char *symbol, bk_tf tf, bk_job type, int64_t now_us,
                         bk_err *err)
{
    sq_store *q = sq(s);
    char id[BK_ID_MAX];
    int rc = bk_sq_begin(q, err);
    if (rc < 0)
        return rc;
    rc = def_delete(q, symbol, tf, type, id, err);
    if (rc < 0)
        goto out;
    sqlite3_stmt *st = bk_sq_stmt(q, Q_DEF_CANCEL_RUNS, SQL_DEF_CANCEL_RUNS, err);
    if (!st) {
        rc = BK_ESTORE;
        goto out;
    }
    bind_key(st, symbol, tf, type);
    sqlite3_bind_text(st, 4, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, now_us);
    rc = bk_sq_exec_stmt(q, st, "cancel runs of removed job", err);
    if (rc == 0 && type == BK_JOB_FORECAST)
        rc = bk_sq_fc_drop(q, symbol, tf, err);
out:
    if (rc < 0) {
        bk_sq_rollback(q);
        return rc;
    }
    return bk_sq_commit(q, err);
}

/* ---- leadership ---- */

/* Take the lease if it is free, expired or already ours; one statement, so
 * two contenders are serialised by SQLite's write lock. */
static const char SQL_LEADER_TRY[] =
    "INSERT INTO scheduler_leases (name, owner, lease_until) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
    " lease_until = excluded.lease_until"
    " WHERE scheduler_leases.owner = excluded.owner OR scheduler_leases.lease_until <= ?4";
static const char SQL_LEADER_RELEASE[] =
    "DELETE FROM scheduler_leases WHERE name = ?1 AND owner = ?2";
static const char SQL_LEADER_GET[] = "SELECT owner FROM scheduler_leases WHERE name = ?1";
/* Compare-and-set on the owner read: two contenders that both found the
 * owner dead are serialised by the write lock, and only one matches. */
static const char SQL_LEADER_TAKE[] =
    "UPDATE scheduler_leases SET owner = ?2, lease_until = ?3 WHERE name = ?1 AND owner = ?4";

/* The lease is held by someone else: take it over if its owner is a process
 * of this host that is gone (killed, crashed), whatever lease_until says. A
 * clock stepped back since that process wrote the row would otherwise keep
 * the lease for the whole step. */
static int leader_take_dead(sq_store *q, const char *name, const char *owner, int64_t until_us,
                            bool *is_leader, bk_err *err)
{
    sqlite3_stmt *st = bk_sq_stmt(q, Q_LEADER_GET, SQL_LEADER_GET, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    char held[BK_OWNER_MAX] = "";
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        bk_sq_col_text(held, sizeof held, st, 0);
    int rc = src == SQLITE_ROW || src == SQLITE_DONE ? 0 : bk_sq_fail(q, src, "leader lease", err);
    sqlite3_reset(st);
    if (rc < 0 || !held[0] || !bk_owner_dead(held))
        return rc;
    st = bk_sq_stmt(q, Q_LEADER_TAKE, SQL_LEADER_TAKE, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, owner, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, until_us);
    sqlite3_bind_text(st, 4, held, -1, SQLITE_TRANSIENT);
    rc = bk_sq_exec_stmt(q, st, "leader lease", err);
    if (rc == 0 && sqlite3_changes(q->db) > 0) {
        *is_leader = true;
        bk_log(BK_LOG_WARN, "store",
               "took over the %s lease of %s: that process no longer runs on this host", name,
               held);
    }
    return rc;
}

static int sq_leader_try(bk_store *s, const char *name, const char *owner, int64_t now_us,
                         int64_t ttl_us, bool *is_leader, bk_err *err)
{
    sq_store *q = sq(s);
    sqlite3_stmt *st = bk_sq_stmt(q, Q_LEADER_TRY, SQL_LEADER_TRY, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, owner, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, now_us + ttl_us);
    sqlite3_bind_int64(st, 4, now_us);
    int rc = bk_sq_exec_stmt(q, st, "leader lease", err);
    if (rc == 0)
        *is_leader = sqlite3_changes(q->db) > 0;
    if (rc == 0 && !*is_leader)
        rc = leader_take_dead(q, name, owner, now_us + ttl_us, is_leader, err);
    return rc;
}

static int sq_leader_release(bk_store *s, const char *name, const char *owner, bk_err *err)
{
    sq_store *q = sq(s);
    sqlite3_stmt *st = bk_sq_stmt(q, Q_LEADER_RELEASE, SQL_LEADER_RELEASE, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, owner, -1, SQLITE_TRANSIENT);
    return bk_sq_exec_stmt(q, st, "release leader lease", err);
}

/* ---- provider budgets ---- */

/* The bucket is read, refilled and written back inside one BEGIN IMMEDIATE
 * transaction: SQLite's write lock serialises every connection's take. */
static const char SQL_BUDGET_INIT[] =
    "INSERT INTO provider_budgets (provider, tokens, updated_at) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (provider) DO NOTHING";
static const char SQL_BUDGET_GET[] =
    "SELECT tokens, updated_at FROM provider_budgets WHERE provider = ?1";
static const char SQL_BUDGET_PUT[] =
    "UPDATE provider_budgets SET tokens = ?2, updated_at = ?3 WHERE provider = ?1";

static int budget_read(sq_store *q, const char *provider, double *tokens, int64_t *updated_us,
                       bk_err *err)
{
    sqlite3_stmt *st = bk_sq_stmt(q, Q_BUDGET_GET, SQL_BUDGET_GET, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_text(st, 1, provider, -1, SQLITE_TRANSIENT);
    int src = sqlite3_step(st);
    int rc = 0;
    if (src == SQLITE_ROW) {
        *tokens = sqlite3_column_double(st, 0);
        *updated_us = sqlite3_column_int64(st, 1);
    } else {
        rc = src == SQLITE_DONE ? bk_err_set(err, BK_ESTORE, "provider budget row vanished")
                                : bk_sq_fail(q, src, "read provider budget", err);
    }
    sqlite3_reset(st);
    return rc;
}

static int budget_take(sq_store *q, const char *provider, double rate_per_s, double burst,
                       bool reserve, int64_t now_us, int64_t *wait_us, bk_err *err)
{
    sqlite3_stmt *st = bk_sq_stmt(q, Q_BUDGET_INIT, SQL_BUDGET_INIT, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_text(st, 1, provider, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 2, burst);
    sqlite3_bind_int64(st, 3, now_us);
    int rc = bk_sq_exec_stmt(q, st, "create provider budget", err);
    double tokens = 0;
    int64_t updated = 0;
    if (rc == 0)
        rc = budget_read(q, provider, &tokens, &updated, err);
    if (rc < 0)
        return rc;
    bk_store__bucket_take(&tokens, &updated, rate_per_s, burst, reserve, now_us, wait_us);
    st = bk_sq_stmt(q, Q_BUDGET_PUT, SQL_BUDGET_PUT, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_text(st, 1, provider, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 2, tokens);
    sqlite3_bind_int64(st, 3, updated);
    return bk_sq_exec_stmt(q, st, "update provider budget", err);
}

static int sq_take_token(bk_store *s, const char *provider, double rate_per_s, double burst,
                         bool reserve, int64_t now_us, int64_t *wait_us, bk_err *err)
{
    sq_store *q = sq(s);
    int rc = bk_sq_begin(q, err);
    if (rc < 0)
        return rc;
    rc = budget_take(q, provider, rate_per_s, burst, reserve, now_us, wait_us, err);
    if (rc < 0) {
        bk_sq_rollback(q);
        *wait_us = 0;
        return rc;
    }
    return bk_sq_commit(q, err);
}

/* ---- 429s received ---- */

static const char SQL_RATE_LIMITED_ADD[] =
    "INSERT INTO provider_rate_limits (provider, at) VALUES (?1, ?2)";
static const char SQL_RATE_LIMITED_PRUNE[] = "DELETE FROM provider_rate_limits WHERE at < ?1";
static const char SQL_RATE_LIMITED_COUNT[] =
    "SELECT provider, count(*) FROM provider_rate_limits WHERE at >= ?1"
    " GROUP BY provider ORDER BY provider";

static int rate_limited_write(sq_store *q, const char *provider, int64_t now_us, bk_err *err)
{
    sqlite3_stmt *st = bk_sq_stmt(q, Q_RATE_LIMITED_ADD, SQL_RATE_LIMITED_ADD, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_text(st, 1, provider, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, now_us);
    int rc = bk_sq_exec_stmt(q, st, "record 429", err);
    if (rc < 0)
        return rc;
    st = bk_sq_stmt(q, Q_RATE_LIMITED_PRUNE, SQL_RATE_LIMITED_PRUNE, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_int64(st, 1, now_us - BK_STORE_RATE_LIMITED_KEEP_US);
    return bk_sq_exec_stmt(q, st, "prune 429s", err);
}

static int sq_rate_limited_add(bk_store *s, const char *provider, int64_t now_us, bk_err *err)
{
    sq_store *q = sq(s);
    int rc = bk_sq_begin(q, err);
    if (rc < 0)
        return rc;
    rc = rate_limited_write(q, provider, now_us, err);
    if (rc < 0) {
        bk_sq_rollback(q);
        return rc;
    }
    return bk_sq_commit(q, err);
}

static int sq_rate_limited_count(bk_store *s, int64_t since_us, bk_prov_count **out, size_t *n,
                                 bk_err *err)
{
    sq_store *q = sq(s);
    sqlite3_stmt *st = bk_sq_stmt(q, Q_RATE_LIMITED_COUNT, SQL_RATE_LIMITED_COUNT, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_int64(st, 1, since_us);
    size_t cap = 0;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        bk_grow((void **)out, &cap, *n + 1, sizeof **out);
        bk_prov_count *c = &(*out)[(*n)++];
        const char *name = (const char *)sqlite3_column_text(st, 0);
        bk_strlcpy(c->provider, name ? name : "", sizeof c->provider);
        c->n = sqlite3_column_int64(st, 1);
    }
    int rc = src == SQLITE_DONE ? 0 : bk_sq_fail(q, src, "count 429s", err);
    sqlite3_reset(st);
    if (rc < 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- change notifications: PostgreSQL only ---- */

static int sq_listen(bk_store *s, bk_err *err)
{
    (void)s;
    return bk_err_set(err, BK_EINVAL, "change notifications need PostgreSQL");
}

static int sq_notifications(bk_store *s, int timeout_ms, bk_notify_fn cb, void *ctx, bk_err *err)
{
    (void)timeout_ms;
    (void)cb;
    (void)ctx;
    return sq_listen(s, err);
}

/* ---- the ops table ---- */

static int sq_set_wait(bk_store *s, int64_t wait_ms, bk_err *err)
{
    (void)err;
    sqlite3_busy_timeout(sq(s)->db, (int)wait_ms);
    return 0;
}

static const bk_store_ops sq_ops = {
    .kind = "sqlite",
    .schema_latest = SQ_SCHEMA_LATEST,
    .close = sq_close,
    .migrate = sq_migrate,
    .schema_version = sq_schema_version,
    .def_put = sq_def_put,
    .def_get = sq_def_get,
    .def_list = sq_def_list,
    .def_set_enabled = sq_def_set_enabled,
    .def_remove = sq_def_remove,
    .runs_enqueue = sq_runs_enqueue,
    .run_claim = sq_run_claim,
    .runs_claim_many = sq_runs_claim_many,
    .run_claim_id = sq_run_claim_id,
    .run_heartbeat = sq_run_heartbeat,
    .run_commit = sq_run_commit,
    .fc_commit = sq_fc_commit,
    .fc_get = sq_fc_get,
    .fc_list = sq_fc_list,
    .fc_score = sq_fc_score,
    .fc_scores_read = sq_fc_scores_read,
    .runs_commit_many = sq_runs_commit_many,
    .run_fail = sq_run_fail,
    .run_release = sq_run_release,
    .runs_requeue_expired = sq_runs_requeue_expired,
    .runs_retry_failed = sq_runs_retry_failed,
    .runs_revive_dead = sq_runs_revive_dead,
    .run_get = sq_run_get,
    .runs_list = sq_runs_list,
    .runs_count = sq_runs_count,
    .runs_next_event = sq_runs_next_event,
    .runs_oldest_queued = sq_runs_oldest_queued,
    .series_load = sq_series_load,
    .coverage_list = sq_coverage_list,
    .bars_upsert = sq_bars_upsert,
    .bars_read = sq_bars_read,
    .bars_count = sq_bars_count,
    .bars_source = sq_bars_source,
    .bars_series = sq_bars_series,
    .rest_read = sq_rest_read,
    .coverage_add = sq_coverage_add,
    .take_token = sq_take_token,
    .rate_limited_add = sq_rate_limited_add,
    .rate_limited_count = sq_rate_limited_count,
    .leader_try = sq_leader_try,
    .leader_release = sq_leader_release,
    .listen = sq_listen,
    .notifications = sq_notifications,
    .set_wait = sq_set_wait,
};
