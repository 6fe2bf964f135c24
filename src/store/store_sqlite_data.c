/*
 * store_sqlite_data.c — what a finished run writes, and the state the
 * planner and the charts read back: the commit transaction (run success +
 * bars + coverage), the coverage interval set and its coverage_status
 * summary, bars, and series_load.
 *
 * The coverage set lives in coverage_intervals, one row per interval, kept
 * normalised (disjoint, not touching) by merging on every commit: the row
 * that starts at or before the new interval and reaches it, plus every row
 * that starts inside it, are deleted and replaced by their union. Both
 * lookups are bounded ranges of the primary key (symbol, timeframe, from_ts).
 *
 * Read next: docs/internals/store.md.
 */
#include "store/store_sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* ---- bars ---- */

static const char SQL_BAR_UPSERT[] =
    "INSERT INTO ohlc_bars_v2 (symbol, timeframe, ts, open, high, low, close, volume, provider,"
    " feed, adjustment) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    " ON CONFLICT (symbol, timeframe, ts) DO UPDATE SET open = excluded.open,"
    " high = excluded.high, low = excluded.low, close = excluded.close,"
    " volume = excluded.volume, provider = excluded.provider, feed = excluded.feed,"
    " adjustment = excluded.adjustment";

int bk_sq_bars_write(sq_store *q, const char *symbol, bk_tf tf, const char *provider,
                     const char *feed, const char *adjustment, const bk_bar *bars, size_t n,
                     bk_err *err)
{
    sqlite3_stmt *st = bk_sq_stmt(q, Q_BAR_UPSERT, SQL_BAR_UPSERT, err);
    if (!st)
        return BK_ESTORE;
    /* The batch's constant columns stay bound across sqlite3_reset. */
    sqlite3_bind_text(st, 1, symbol, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, bk_tf_name(tf), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, provider, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, feed ? feed : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, adjustment ? adjustment : "", -1, SQLITE_STATIC);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        const bk_bar *b = &bars[i];
        sqlite3_bind_int64(st, 3, b->ts_us);
        sqlite3_bind_double(st, 4, b->open);
        sqlite3_bind_double(st, 5, b->high);
        sqlite3_bind_double(st, 6, b->low);
        sqlite3_bind_double(st, 7, b->close);
        sqlite3_bind_double(st, 8, b->volume);
        int src = sqlite3_step(st);
        sqlite3_reset(st);
        if (src != SQLITE_DONE) {
            rc = bk_sq_fail(q, src, "upsert bar", err);
            break;
        }
    }
    sqlite3_clear_bindings(st); /* drop the borrowed strings */
    return rc;
}

int sq_bars_upsert(bk_store *s, const char *symbol, bk_tf tf, const char *provider,
                   const char *feed, const char *adjustment, const bk_bar *bars, size_t n,
                   bk_err *err)
{
    sq_store *q = sq(s);
    int rc = bk_sq_begin(q, err);
    if (rc < 0)
        return rc;
    rc = bk_sq_bars_write(q, symbol, tf, provider, feed, adjustment, bars, n, err);
    if (rc < 0) {
        bk_sq_rollback(q);
        return rc;
    }
    return bk_sq_commit(q, err);
}

static const char SQL_BAR_READ[] =
    "SELECT ts, open, high, low, close, volume, provider FROM ohlc_bars_v2"
    " WHERE symbol = ?1 AND timeframe = ?2 AND ts >= ?3 AND ts < ?4 ORDER BY ts";

int sq_bars_read(bk_store *s, const char *symbol, bk_tf tf, int64_t from_us, int64_t to_us,
                 bk_bar_cb cb, void *ctx, bk_err *err)
{
    sq_store *q = sq(s);
    sqlite3_stmt *st = bk_sq_stmt(q, Q_BAR_READ, SQL_BAR_READ, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_text(st, 1, symbol, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, bk_tf_name(tf), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, from_us);
    sqlite3_bind_int64(st, 4, to_us);
    int src, rc = 0;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        bk_bar b = {
            .ts_us = sqlite3_column_int64(st, 0),
            .open = sqlite3_column_double(st, 1),
            .high = sqlite3_column_double(st, 2),
            .low = sqlite3_column_double(st, 3),
            .close = sqlite3_column_double(st, 4),
            .volume = sqlite3_column_double(st, 5),
        };
        const unsigned char *prov = sqlite3_column_text(st, 6);
        rc = cb(ctx, &b, prov ? (const char *)prov : "");
        if (rc)
            break;
    }
    if (!rc && src != SQLITE_DONE)
        rc = bk_sq_fail(q, src, "read bars", err);
    sqlite3_reset(st);
    return rc;
}

int sq_bars_count(bk_store *s, const char *symbol, int tf, int64_t *out, bk_err *err)
{
    sq_store *q = sq(s);
    int mask = (symbol ? 1 : 0) | (tf >= 0 ? 2 : 0);
    sqlite3_stmt *st = q->st[Q_BAR_COUNT_FIRST + mask];
    if (!st) {
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM ohlc_bars_v2 WHERE 1%s%s",
                 mask & 1 ? " AND symbol = ?1" : "", mask & 2 ? " AND timeframe = ?2" : "");
        st = bk_sq_stmt_dyn(q, Q_BAR_COUNT_FIRST + mask, sql, err);
        if (!st)
            return BK_ESTORE;
    }
    if (symbol)
        sqlite3_bind_text(st, 1, symbol, -1, SQLITE_TRANSIENT);
    if (tf >= 0)
        sqlite3_bind_text(st, 2, bk_tf_name((bk_tf)tf), -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    int rc = src == SQLITE_ROW ? 0 : bk_sq_fail(q, src, "count bars", err);
    sqlite3_reset(st);
    return rc;
}

static const char SQL_BAR_SOURCE[] =
    "SELECT provider, feed, adjustment FROM ohlc_bars_v2 WHERE symbol = ?1 AND timeframe = ?2"
    " ORDER BY ts DESC LIMIT 1";

int sq_bars_source(bk_store *s, const char *symbol, bk_tf tf, bk_source *out, bk_err *err)
{
    sq_store *q = sq(s);
    sqlite3_stmt *st = bk_sq_stmt(q, Q_BAR_SOURCE, SQL_BAR_SOURCE, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_text(st, 1, symbol, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, bk_tf_name(tf), -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    int rc = 0;
    if (src == SQLITE_ROW) {
        bk_sq_col_text(out->provider, sizeof out->provider, st, 0);
        bk_sq_col_text(out->feed, sizeof out->feed, st, 1);
        bk_sq_col_text(out->adjustment, sizeof out->adjustment, st, 2);
    } else if (src == SQLITE_DONE) {
        rc = bk_err_set(err, BK_ENOENT, "%s %s has no bars", symbol, bk_tf_name(tf));
    } else {
        rc = bk_sq_fail(q, src, "bars source", err);
    }
    sqlite3_reset(st);
    return rc;
}

static const char *const SQL_BAR_SERIES[2] = {
    "SELECT symbol, timeframe, count(*), min(ts), max(ts) FROM ohlc_bars_v2"
    " GROUP BY symbol, timeframe",
    "SELECT symbol, timeframe, count(*), min(ts), max(ts) FROM ohlc_bars_v2"
    " WHERE symbol = ?1 GROUP BY symbol, timeframe",
};

int sq_bars_series(bk_store *s, const char *symbol, bk_bar_series **out, size_t *n, bk_err *err)
{
    sq_store *q = sq(s);
    int one = symbol != NULL;
    sqlite3_stmt *st = bk_sq_stmt(q, Q_BAR_SERIES_FIRST + one, SQL_BAR_SERIES[one], err);
    if (!st)
        return BK_ESTORE;
    if (one)
        sqlite3_bind_text(st, 1, symbol, -1, SQLITE_TRANSIENT);
    bk_bar_series *v = NULL;
    size_t len = 0, cap = 0;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        int tf = bk_sq_col_tf(st, 1);
        if (tf < 0)
            continue; /* a timeframe this binary cannot read */
        bk_grow((void **)&v, &cap, len + 1, sizeof *v);
        bk_bar_series *x = &v[len++];
        memset(x, 0, sizeof *x);
        bk_sq_col_text(x->symbol, sizeof x->symbol, st, 0);
        x->tf = (bk_tf)tf;
        x->n_bars = sqlite3_column_int64(st, 2);
        x->first_us = sqlite3_column_int64(st, 3);
        x->last_us = sqlite3_column_int64(st, 4);
    }
    int rc = src == SQLITE_DONE ? 0 : bk_sq_fail(q, src, "list bar series", err);
    sqlite3_reset(st);
    if (rc < 0) {
        free(v);
        return rc;
    }
    bk_store__sort_bar_series(v, len);
    *out = v;
    *n = len;
    return 0;
}

/* ---- coverage ---- */

static const char SQL_COV_PREV[] =
    "SELECT from_ts, to_ts FROM coverage_intervals"
    " WHERE symbol = ?1 AND timeframe = ?2 AND from_ts <= ?3 ORDER BY from_ts DESC LIMIT 1";
static const char SQL_COV_MAXTO[] =
    "SELECT max(to_ts) FROM coverage_intervals"
    " WHERE symbol = ?1 AND timeframe = ?2 AND from_ts > ?3 AND from_ts <= ?4";
static const char SQL_COV_DELETE[] =
    "DELETE FROM coverage_intervals"
    " WHERE symbol = ?1 AND timeframe = ?2 AND from_ts >= ?3 AND from_ts <= ?4";
static const char SQL_COV_INSERT[] =
    "INSERT INTO coverage_intervals (symbol, timeframe, from_ts, to_ts) VALUES (?1, ?2, ?3, ?4)";
static const char SQL_COV_STATUS[] =
    "INSERT INTO coverage_status (symbol, timeframe, from_ts, to_ts, last_success_at,"
    " last_rows_written, last_provider, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?5)"
    " ON CONFLICT (symbol, timeframe) DO UPDATE SET"
    " from_ts = min(coalesce(from_ts, excluded.from_ts), excluded.from_ts),"
    " to_ts = max(coalesce(to_ts, excluded.to_ts), excluded.to_ts),"
    " last_success_at = excluded.last_success_at,"
    " last_rows_written = excluded.last_rows_written,"
    " last_provider = excluded.last_provider, updated_at = excluded.updated_at";

static sqlite3_stmt *series_stmt(sq_store *q, int slot, const char *sql, const char *symbol,
                                 bk_tf tf, bk_err *err)
{
    sqlite3_stmt *st = bk_sq_stmt(q, slot, sql, err);
    if (st) {
        sqlite3_bind_text(st, 1, symbol, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, bk_tf_name(tf), -1, SQLITE_STATIC);
    }
    return st;
}

/* The merged interval: iv widened over every stored interval it overlaps or
 * touches (*lo, *hi), by two bounded key-range reads. */
static int merge_bounds(sq_store *q, const char *symbol, bk_tf tf, bk_iv iv, int64_t *lo,
                        int64_t *hi, bk_err *err)
{
    *lo = iv.from_us;
    *hi = iv.to_us;
    sqlite3_stmt *st = series_stmt(q, Q_COV_PREV, SQL_COV_PREV, symbol, tf, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_int64(st, 3, iv.from_us);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW && sqlite3_column_int64(st, 1) >= iv.from_us) {
        *lo = sqlite3_column_int64(st, 0);
        *hi = BK_MAX(*hi, sqlite3_column_int64(st, 1));
    }
    sqlite3_reset(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return bk_sq_fail(q, src, "merge coverage", err);
    st = series_stmt(q, Q_COV_MAXTO, SQL_COV_MAXTO, symbol, tf, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_int64(st, 3, iv.from_us);
    sqlite3_bind_int64(st, 4, iv.to_us);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *hi = BK_MAX(*hi, sqlite3_column_int64(st, 0));
    sqlite3_reset(st);
    return src == SQLITE_ROW ? 0 : bk_sq_fail(q, src, "merge coverage", err);
}

/* coverage_intervals ∪= iv, inside the caller's transaction. */
static int coverage_add(sq_store *q, const char *symbol, bk_tf tf, bk_iv iv, bk_err *err)
{
    int64_t lo, hi;
    int rc = merge_bounds(q, symbol, tf, iv, &lo, &hi, err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *st = series_stmt(q, Q_COV_DELETE, SQL_COV_DELETE, symbol, tf, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_int64(st, 3, lo);
    sqlite3_bind_int64(st, 4, iv.to_us);
    rc = bk_sq_exec_stmt(q, st, "merge coverage", err);
    if (rc < 0)
        return rc;
    st = series_stmt(q, Q_COV_INSERT, SQL_COV_INSERT, symbol, tf, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_int64(st, 3, lo);
    sqlite3_bind_int64(st, 4, hi);
    return bk_sq_exec_stmt(q, st, "merge coverage", err);
}

static int coverage_summary(sq_store *q, const bk_commit *c, bk_err *err)
{
    sqlite3_stmt *st = series_stmt(q, Q_COV_STATUS, SQL_COV_STATUS, c->symbol, c->tf, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_int64(st, 3, c->covered.from_us);
    sqlite3_bind_int64(st, 4, c->covered.to_us);
    sqlite3_bind_int64(st, 5, c->now_us);
    sqlite3_bind_int64(st, 6, (int64_t)c->n_bars);
    bk_sq_bind_text(st, 7, c->provider);
    return bk_sq_exec_stmt(q, st, "update coverage_status", err);
}

/* Adopted coverage: the summary is derived from the whole interval set (and
 * the series' bar count), overwriting whatever was there (the guide's
 * backfill statement fills it from bars alone). */
static const char SQL_COV_ADOPT[] =
    "INSERT INTO coverage_status (symbol, timeframe, from_ts, to_ts, last_success_at,"
    " last_rows_written, last_provider, updated_at)"
    " SELECT ?1, ?2, min(from_ts), max(to_ts), ?3,"
    " (SELECT count(*) FROM ohlc_bars_v2 WHERE symbol = ?1 AND timeframe = ?2), ?4, ?3"
    " FROM coverage_intervals WHERE symbol = ?1 AND timeframe = ?2"
    " ON CONFLICT (symbol, timeframe) DO UPDATE SET from_ts = excluded.from_ts,"
    " to_ts = excluded.to_ts, last_success_at = excluded.last_success_at,"
    " last_rows_written = excluded.last_rows_written, last_provider = excluded.last_provider,"
    " updated_at = excluded.updated_at";

int sq_coverage_add(bk_store *s, const char *symbol, bk_tf tf, const bk_ivset *covered,
                    const char *provider, int64_t now_us, bk_err *err)
{
    sq_store *q = sq(s);
    int rc = bk_sq_begin(q, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < covered->n && rc == 0; i++)
        rc = coverage_add(q, symbol, tf, covered->v[i], err);
    if (rc == 0) {
        sqlite3_stmt *st = series_stmt(q, Q_COV_ADOPT, SQL_COV_ADOPT, symbol, tf, err);
        if (st) {
            sqlite3_bind_int64(st, 3, now_us);
            bk_sq_bind_text(st, 4, provider);
            rc = bk_sq_exec_stmt(q, st, "update coverage_status", err);
        } else {
            rc = BK_ESTORE;
        }
    }
    if (rc < 0) {
        bk_sq_rollback(q);
        return rc;
    }
    return bk_sq_commit(q, err);
}

/* ---- commit ---- */

static const char SQL_RUN_SUCCESS[] =
    "UPDATE job_runs SET status = 'success', progress_percent = 100, rows_written = ?3,"
    " provider = coalesce(?4, provider), finished_at = ?5, updated_at = ?5,"
    " lease_owner = NULL, lease_until = NULL, error_code = NULL, error_message = NULL"
    " WHERE id = ?1 AND status = 'running' AND lease_owner = ?2"
    " RETURNING symbol, timeframe";

/* The lease check and the run's success in one statement: no row, no lease. */
int bk_sq_mark_success(sq_store *q, const bk_commit *c, bk_err *err)
{
    sqlite3_stmt *st = bk_sq_stmt(q, Q_RUN_SUCCESS, SQL_RUN_SUCCESS, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_text(st, 1, c->run_id ? c->run_id : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, c->owner, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, (int64_t)c->n_bars);
    bk_sq_bind_text(st, 4, c->provider);
    sqlite3_bind_int64(st, 5, c->now_us);
    int src = sqlite3_step(st);
    int rc = 0;
    if (src == SQLITE_DONE) {
        rc = bk_err_set(err, BK_ELEASE, "commit: run %s is no longer running under %s",
                        c->run_id ? c->run_id : "", c->owner);
    } else if (src != SQLITE_ROW) {
        rc = bk_sq_fail(q, src, "commit run", err);
    } else {
        const unsigned char *sym = sqlite3_column_text(st, 0);
        if (!sym || strcmp((const char *)sym, c->symbol) != 0 || bk_sq_col_tf(st, 1) != (int)c->tf)
            rc = bk_err_set(err, BK_EINVAL, "commit: run %s is not for %s %s", c->run_id, c->symbol,
                            bk_tf_name(c->tf));
        else if ((src = sqlite3_step(st)) != SQLITE_DONE)
            rc = bk_sq_fail(q, src, "commit run", err);
    }
    sqlite3_reset(st);
    return rc;
}

/* Run success + bars + coverage inside the caller's transaction. */
static int commit_one(sq_store *q, const bk_commit *c, bk_err *err)
{
    int rc = bk_sq_mark_success(q, c, err);
    if (rc == 0 && c->n_bars)
        rc = bk_sq_bars_write(q, c->symbol, c->tf, c->provider, c->feed, c->adjustment, c->bars,
                              c->n_bars, err);
    if (rc == 0 && c->covered.from_us < c->covered.to_us) {
        bk_iv iv = c->covered;
        if (c->covered_ext.from_us < c->covered_ext.to_us) {
            iv.from_us = BK_MIN(iv.from_us, c->covered_ext.from_us);
            iv.to_us = BK_MAX(iv.to_us, c->covered_ext.to_us);
        }
        rc = coverage_add(q, c->symbol, c->tf, iv, err);
        if (rc == 0)
            rc = coverage_summary(q, c, err);
    }
    return rc;
}

int sq_run_commit(bk_store *s, const bk_commit *c, bk_err *err)
{
    sq_store *q = sq(s);
    if (c->n_bars && (!c->provider || !*c->provider))
        return bk_err_set(err, BK_EINVAL, "commit: bars without a provider");
    int rc = bk_sq_begin(q, err);
    if (rc < 0)
        return rc;
    rc = commit_one(q, c, err);
    if (rc < 0) {
        bk_sq_rollback(q);
        return rc;
    }
    return bk_sq_commit(q, err);
}

/* Every run's commit in one transaction. A lost lease is found by the first
 * statement of a run's commit, which then wrote nothing: that run is skipped,
 * the others go on. Any other failure rolls the whole batch back. */
int sq_runs_commit_many(bk_store *s, const bk_commit *c, size_t n, int *rc_each, bk_err *err)
{
    sq_store *q = sq(s);
    int rc = bk_sq_begin(q, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        bk_err e1 = {0};
        rc = commit_one(q, &c[i], &e1);
        rc_each[i] = rc == BK_ELEASE ? BK_ELEASE : 0;
        if (rc == BK_ELEASE)
            rc = 0;
        else if (rc < 0 && err)
            *err = e1;
    }
    if (rc < 0) {
        bk_sq_rollback(q);
        for (size_t i = 0; i < n; i++)
            rc_each[i] = 0;
        return rc;
    }
    return bk_sq_commit(q, err);
}

/* ---- series_load ---- */

/* The series being built, with a hash index from (symbol, tf) to position. */
typedef struct series_acc {
    bk_series *v;
    size_t n, cap;
    uint32_t *slot; /* index + 1, 0 = empty; power-of-two size */
    size_t n_slot;
} series_acc;

static uint64_t series_hash(const char *symbol, int tf)
{
    return bk_hash_bytes((uint64_t)tf * 0x9e3779b97f4a7c15u, symbol, strlen(symbol));
}

static void acc_rehash(series_acc *a)
{
    free(a->slot);
    a->n_slot = a->n_slot ? a->n_slot * 2 : 64;
    a->slot = bk_xcalloc(a->n_slot, sizeof *a->slot);
    for (size_t i = 0; i < a->n; i++) {
        size_t h = (size_t)series_hash(a->v[i].symbol, (int)a->v[i].tf) & (a->n_slot - 1);
        while (a->slot[h])
            h = (h + 1) & (a->n_slot - 1);
        a->slot[h] = (uint32_t)(i + 1);
    }
}

static bk_series *acc_get(series_acc *a, const char *symbol, int tf)
{
    if (a->n > 0) { /* rows come grouped: the last series is the likely one */
        bk_series *last = &a->v[a->n - 1];
        if ((int)last->tf == tf && strcmp(last->symbol, symbol) == 0)
            return last;
    }
    if ((a->n + 1) * 2 > a->n_slot)
        acc_rehash(a);
    size_t h = (size_t)series_hash(symbol, tf) & (a->n_slot - 1);
    for (; a->slot[h]; h = (h + 1) & (a->n_slot - 1)) {
        bk_series *x = &a->v[a->slot[h] - 1];
        if ((int)x->tf == tf && strcmp(x->symbol, symbol) == 0)
            return x;
    }
    bk_grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v);
    bk_series *x = &a->v[a->n++];
    memset(x, 0, sizeof *x);
    bk_strlcpy(x->symbol, symbol, sizeof x->symbol);
    x->tf = (bk_tf)tf;
    bk_ivset_init(&x->covered);
    bk_ivset_init(&x->active);
    bk_ivset_init(&x->dead);
    a->slot[h] = (uint32_t)a->n;
    return x;
}

enum { SET_COVERED, SET_ACTIVE, SET_DEAD };

/* Add every (symbol, timeframe, from, to) row of st to the chosen set. */
static int acc_load(sq_store *q, series_acc *a, sqlite3_stmt *st, int which, bk_err *err)
{
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *sym = sqlite3_column_text(st, 0);
        int tf = bk_sq_col_tf(st, 1);
        if (!sym || tf < 0)
            continue; /* a row this binary cannot read */
        bk_series *x = acc_get(a, (const char *)sym, tf);
        bk_ivset *set = which == SET_COVERED  ? &x->covered
                        : which == SET_ACTIVE ? &x->active
                                              : &x->dead;
        bk_ivset_add(set, sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3));
    }
    int rc = src == SQLITE_DONE ? 0 : bk_sq_fail(q, src, "load series", err);
    sqlite3_reset(st);
    return rc;
}

#define SERIES_ONE " AND symbol = ?1 AND timeframe = ?2"

static const char *const SQL_SERIES[3][2] = {
    {"SELECT symbol, timeframe, from_ts, to_ts FROM coverage_intervals WHERE 1"
     " ORDER BY symbol, timeframe, from_ts",
     "SELECT symbol, timeframe, from_ts, to_ts FROM coverage_intervals WHERE 1" SERIES_ONE
     " ORDER BY from_ts"},
    {"SELECT symbol, timeframe, slice_from, slice_to FROM job_runs"
     " WHERE status IN ('queued','running')",
     "SELECT symbol, timeframe, slice_from, slice_to FROM job_runs"
     " WHERE status IN ('queued','running')" SERIES_ONE},
    {"SELECT symbol, timeframe, slice_from, slice_to FROM job_runs WHERE status = 'failed'",
     "SELECT symbol, timeframe, slice_from, slice_to FROM job_runs WHERE status = "
     "'failed'" SERIES_ONE},
};

/* The three reads share one read transaction: a run that commits between
 * them (its slice leaves the active set and joins the coverage) would
 * otherwise be in neither set, and the planner would enqueue its slice again. */
int sq_series_load(bk_store *s, const char *symbol, int tf, bk_series **out, size_t *n, bk_err *err)
{
    static const int slots[3] = {Q_SERIES_COV_FIRST, Q_SERIES_ACTIVE_FIRST, Q_SERIES_DEAD_FIRST};
    sq_store *q = sq(s);
    series_acc a = {0};
    int one = symbol != NULL;
    int rc = bk_sq_begin_read(q, err);
    for (int which = SET_COVERED; which <= SET_DEAD && rc == 0; which++) {
        sqlite3_stmt *st = bk_sq_stmt(q, slots[which] + one, SQL_SERIES[which][one], err);
        if (!st) {
            rc = BK_ESTORE;
            break;
        }
        if (one) {
            sqlite3_bind_text(st, 1, symbol, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 2, bk_tf_name((bk_tf)tf), -1, SQLITE_STATIC);
        }
        rc = acc_load(q, &a, st, which, err);
        if (which == SET_COVERED)
            bk_store__between_reads(s);
    }
    if (rc == 0)
        rc = bk_sq_commit(q, err);
    else
        bk_sq_rollback(q);
    free(a.slot);
    if (rc < 0) {
        bk_series_free(a.v, a.n);
        return rc;
    }
    bk_store__sort_series(a.v, a.n);
    *out = a.v;
    *n = a.n;
    return 0;
}

/* ---- coverage_list ---- */

#define COV_LIST_SQL(where)                                                                        \
    "SELECT c.symbol, c.timeframe, c.from_ts, c.to_ts, c.last_success_at,"                         \
    " c.last_rows_written, c.last_provider, c.updated_at,"                                         \
    " (SELECT count(*) FROM coverage_intervals i"                                                  \
    "   WHERE i.symbol = c.symbol AND i.timeframe = c.timeframe),"                                 \
    " (SELECT coalesce(sum(i.to_ts - i.from_ts), 0) FROM coverage_intervals i"                     \
    "   WHERE i.symbol = c.symbol AND i.timeframe = c.timeframe)"                                  \
    " FROM coverage_status c" where

static const char *const SQL_COV_LIST[2] = {
    COV_LIST_SQL(""),
    COV_LIST_SQL(" WHERE c.symbol = ?1 AND c.timeframe = ?2"),
};

static int read_coverage(sqlite3_stmt *st, bk_coverage *c)
{
    memset(c, 0, sizeof *c);
    int tf = bk_sq_col_tf(st, 1);
    if (tf < 0)
        return BK_ESTORE;
    bk_sq_col_text(c->symbol, sizeof c->symbol, st, 0);
    c->tf = (bk_tf)tf;
    c->from_us = sqlite3_column_int64(st, 2);
    c->to_us = sqlite3_column_int64(st, 3);
    c->last_success_us = sqlite3_column_int64(st, 4);
    c->last_rows_written = sqlite3_column_int64(st, 5);
    bk_sq_col_text(c->last_provider, sizeof c->last_provider, st, 6);
    c->updated_us = sqlite3_column_int64(st, 7);
    c->n_intervals = sqlite3_column_int64(st, 8);
    c->covered_us = sqlite3_column_int64(st, 9);
    return 0;
}

int sq_coverage_list(bk_store *s, const char *symbol, int tf, bk_coverage **out, size_t *n,
                     bk_err *err)
{
    sq_store *q = sq(s);
    int one = symbol != NULL;
    sqlite3_stmt *st = bk_sq_stmt(q, Q_COV_LIST_FIRST + one, SQL_COV_LIST[one], err);
    if (!st)
        return BK_ESTORE;
    if (one) {
        sqlite3_bind_text(st, 1, symbol, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, bk_tf_name((bk_tf)tf), -1, SQLITE_STATIC);
    }
    bk_coverage *v = NULL;
    size_t len = 0, cap = 0;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        bk_grow((void **)&v, &cap, len + 1, sizeof *v);
        if (read_coverage(st, &v[len]) == 0)
            len++;
    }
    int rc = src == SQLITE_DONE ? 0 : bk_sq_fail(q, src, "list coverage", err);
    sqlite3_reset(st);
    if (rc < 0) {
        free(v);
        return rc;
    }
    bk_store__sort_coverage(v, len);
    *out = v;
    *n = len;
    return 0;
}
