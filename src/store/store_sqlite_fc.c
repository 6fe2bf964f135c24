/*
 * store_sqlite_fc.c — forecasts on SQLite: the forecast run's commit (run
 * success, scoring of the previous forecast, replacement, one transaction),
 * reads of stored forecasts, scoring as bars land. Schema: migration 6.
 */
#include "store/store_sqlite.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* Steps of the series' forecast whose real bar is stored, not yet scored. */
static const char SQL_FC_SCORE[] =
    "INSERT OR IGNORE INTO forecast_scores (symbol, timeframe, origin_ts, step, target_ts, model,"
    " made_at, point, lo80, hi80, lo95, hi95, actual, origin_close, in80, in95, abs_err,"
    " naive_abs_err, scored_at)"
    " SELECT f.symbol, f.timeframe, f.origin_ts, f.step, f.ts, f.model, f.made_at, f.point,"
    " f.lo80, f.hi80, f.lo95, f.hi95, b.close, f.origin_close,"
    " b.close >= f.lo80 AND b.close <= f.hi80, b.close >= f.lo95 AND b.close <= f.hi95,"
    " abs(b.close - f.point), abs(b.close - f.origin_close), ?3"
    " FROM forecasts f JOIN ohlc_bars_v2 b"
    " ON b.symbol = f.symbol AND b.timeframe = f.timeframe AND b.ts = f.ts"
    " WHERE f.symbol = ?1 AND f.timeframe = ?2";
static const char SQL_FC_DELETE[] = "DELETE FROM forecasts WHERE symbol = ?1 AND timeframe = ?2";
static const char SQL_FC_INSERT[] =
    "INSERT INTO forecasts (symbol, timeframe, step, ts, point, lo80, hi80, lo95, hi95, model,"
    " origin_ts, origin_close, n_bars, made_at, run_id)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
/* Whether a forecast from origin ?3 may replace the stored one: the series
 * still has a run_forecast definition (a run that finished after its
 * definition was removed stores nothing) and no forecast from the same or a
 * newer bar is stored (a revived run of an old origin never replaces it). */
static const char SQL_FC_GUARD[] =
    "SELECT EXISTS (SELECT 1 FROM job_definitions WHERE symbol = ?1 AND timeframe = ?2"
    " AND job_type = 'run_forecast') AND NOT EXISTS (SELECT 1 FROM forecasts"
    " WHERE symbol = ?1 AND timeframe = ?2 AND origin_ts >= ?3)";
#define FC_META_COLS                                                                               \
    "symbol, timeframe, max(model), max(origin_ts), max(origin_close), max(n_bars),"               \
    " max(made_at), max(run_id), count(*)"
static const char SQL_FC_META[] =
    "SELECT " FC_META_COLS " FROM forecasts"
    " WHERE symbol = ?1 AND timeframe = ?2 GROUP BY symbol, timeframe";
static const char SQL_FC_LIST[] =
    "SELECT " FC_META_COLS " FROM forecasts GROUP BY symbol, timeframe ORDER BY symbol, timeframe";
static const char SQL_FC_POINTS[] = "SELECT step, ts, point, lo80, hi80, lo95, hi95 FROM forecasts"
                                    " WHERE symbol = ?1 AND timeframe = ?2 ORDER BY step";
/* The last ?3 origins' scores (?3 = -1: all), newest origin first. */
static const char SQL_FC_SCORES[] =
    "SELECT symbol, timeframe, origin_ts, target_ts, step, in80, in95, abs_err, naive_abs_err"
    " FROM forecast_scores WHERE symbol = ?1 AND timeframe = ?2 AND origin_ts >= coalesce("
    " (SELECT min(origin_ts) FROM (SELECT DISTINCT origin_ts FROM forecast_scores"
    " WHERE symbol = ?1 AND timeframe = ?2 ORDER BY origin_ts DESC LIMIT ?3)),"
    " -9223372036854775807) ORDER BY origin_ts DESC, step";

static int score(sq_store *q, const char *symbol, bk_tf tf, int64_t now_us, size_t *n, bk_err *err)
{
    sqlite3_stmt *st = bk_sq_stmt(q, Q_FC_SCORE, SQL_FC_SCORE, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_text(st, 1, symbol, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, bk_tf_name(tf), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now_us);
    int rc = bk_sq_exec_stmt(q, st, "score forecast", err);
    if (rc == 0 && n)
        *n = (size_t)sqlite3_changes(q->db);
    return rc;
}

int sq_fc_score(bk_store *s, const char *symbol, bk_tf tf, int64_t now_us, size_t *n_scored,
                bk_err *err)
{
    return score(sq(s), symbol, tf, now_us, n_scored, err);
}

int bk_sq_fc_drop(sq_store *q, const char *symbol, bk_tf tf, bk_err *err)
{
    sqlite3_stmt *st = bk_sq_stmt(q, Q_FC_DELETE, SQL_FC_DELETE, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_text(st, 1, symbol, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, bk_tf_name(tf), -1, SQLITE_STATIC);
    return bk_sq_exec_stmt(q, st, "replace forecast", err);
}

/* SQL_FC_GUARD into *ok. */
static int may_replace(sq_store *q, const bk_fc_commit *c, bool *ok, bk_err *err)
{
    sqlite3_stmt *st = bk_sq_stmt(q, Q_FC_GUARD, SQL_FC_GUARD, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_text(st, 1, c->symbol, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, bk_tf_name(c->tf), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, c->origin_us);
    int src = sqlite3_step(st);
    int rc = 0;
    if (src == SQLITE_ROW)
        *ok = sqlite3_column_int(st, 0) != 0;
    else
        rc = bk_sq_fail(q, src, "check forecast replacement", err);
    sqlite3_reset(st);
    return rc;
}

static int replace(sq_store *q, const bk_fc_commit *c, bk_err *err)
{
    bool ok = false;
    int rc = may_replace(q, c, &ok, err);
    if (rc || !ok)
        return rc;
    rc = bk_sq_fc_drop(q, c->symbol, c->tf, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = bk_sq_stmt(q, Q_FC_INSERT, SQL_FC_INSERT, err);
    if (!st)
        return BK_ESTORE;
    for (size_t i = 0; i < c->n_pts && rc == 0; i++) {
        const bk_fc_point *p = &c->pts[i];
        sqlite3_bind_text(st, 1, c->symbol, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, bk_tf_name(c->tf), -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, p->step);
        sqlite3_bind_int64(st, 4, p->ts_us);
        sqlite3_bind_double(st, 5, p->point);
        sqlite3_bind_double(st, 6, p->lo80);
        sqlite3_bind_double(st, 7, p->hi80);
        sqlite3_bind_double(st, 8, p->lo95);
        sqlite3_bind_double(st, 9, p->hi95);
        sqlite3_bind_text(st, 10, c->model, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 11, c->origin_us);
        sqlite3_bind_double(st, 12, c->origin_close);
        sqlite3_bind_int(st, 13, c->n_bars);
        sqlite3_bind_int64(st, 14, c->now_us);
        bk_sq_bind_text(st, 15, c->run_id);
        rc = bk_sq_exec_stmt(q, st, "insert forecast", err);
    }
    return rc;
}

int sq_fc_commit(bk_store *s, const bk_fc_commit *c, bk_err *err)
{
    sq_store *q = sq(s);
    bk_commit run = bk_store__fc_run(c);
    int rc = bk_sq_begin(q, err);
    if (rc < 0)
        return rc;
    rc = bk_sq_mark_success(q, &run, err);
    if (rc == 0)
        rc = score(q, c->symbol, c->tf, c->now_us, NULL, err);
    if (rc == 0)
        rc = replace(q, c, err);
    if (rc < 0) {
        bk_sq_rollback(q);
        return rc;
    }
    return bk_sq_commit(q, err);
}

static void read_meta(sqlite3_stmt *st, bk_fc_meta *m)
{
    memset(m, 0, sizeof *m);
    bk_sq_col_text(m->symbol, sizeof m->symbol, st, 0);
    m->tf = (bk_tf)bk_sq_col_tf(st, 1);
    bk_sq_col_text(m->model, sizeof m->model, st, 2);
    m->origin_us = sqlite3_column_int64(st, 3);
    m->origin_close = sqlite3_column_double(st, 4);
    m->n_bars = sqlite3_column_int(st, 5);
    m->made_us = sqlite3_column_int64(st, 6);
    bk_sq_col_text(m->run_id, sizeof m->run_id, st, 7);
    m->horizon = sqlite3_column_int(st, 8);
}

int sq_fc_get(bk_store *s, const char *symbol, bk_tf tf, bk_fc_meta *meta, bk_fc_point **pts,
              size_t *n, bk_err *err)
{
    sq_store *q = sq(s);
    int rc = bk_sq_begin_read(q, err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *st = bk_sq_stmt(q, Q_FC_META, SQL_FC_META, err);
    if (!st) {
        bk_sq_rollback(q);
        return BK_ESTORE;
    }
    sqlite3_bind_text(st, 1, symbol, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, bk_tf_name(tf), -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        read_meta(st, meta);
    else if (src == SQLITE_DONE)
        rc = bk_err_set(err, BK_ENOENT, "no forecast for %s %s", symbol, bk_tf_name(tf));
    else
        rc = bk_sq_fail(q, src, "read forecast", err);
    sqlite3_reset(st);
    if (rc == 0 && pts) {
        st = bk_sq_stmt(q, Q_FC_POINTS, SQL_FC_POINTS, err);
        if (!st)
            rc = BK_ESTORE;
        size_t cap = 0;
        if (st) {
            sqlite3_bind_text(st, 1, symbol, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 2, bk_tf_name(tf), -1, SQLITE_STATIC);
            while ((src = sqlite3_step(st)) == SQLITE_ROW) {
                bk_grow((void **)pts, &cap, *n + 1, sizeof **pts);
                bk_fc_point *p = &(*pts)[(*n)++];
                p->step = sqlite3_column_int(st, 0);
                p->ts_us = sqlite3_column_int64(st, 1);
                p->point = sqlite3_column_double(st, 2);
                p->lo80 = sqlite3_column_double(st, 3);
                p->hi80 = sqlite3_column_double(st, 4);
                p->lo95 = sqlite3_column_double(st, 5);
                p->hi95 = sqlite3_column_double(st, 6);
            }
            if (src != SQLITE_DONE)
                rc = bk_sq_fail(q, src, "read forecast", err);
            sqlite3_reset(st);
        }
        if (rc) {
            free(*pts);
            *pts = NULL;
            *n = 0;
        }
    }
    bk_sq_rollback(q); /* end of the read transaction */
    return rc;
}

int sq_fc_list(bk_store *s, bk_fc_meta **out, size_t *n, bk_err *err)
{
    sq_store *q = sq(s);
    sqlite3_stmt *st = bk_sq_stmt(q, Q_FC_LIST, SQL_FC_LIST, err);
    if (!st)
        return BK_ESTORE;
    size_t cap = 0;
    int src, rc = 0;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (bk_sq_col_tf(st, 1) < 0)
            continue;
        bk_grow((void **)out, &cap, *n + 1, sizeof **out);
        read_meta(st, &(*out)[(*n)++]);
    }
    if (src != SQLITE_DONE)
        rc = bk_sq_fail(q, src, "list forecasts", err);
    sqlite3_reset(st);
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int sq_fc_scores_read(bk_store *s, const char *symbol, bk_tf tf, int last_n, bk_fc_scored_cb cb,
                      void *ctx, bk_err *err)
{
    sq_store *q = sq(s);
    sqlite3_stmt *st = bk_sq_stmt(q, Q_FC_SCORES, SQL_FC_SCORES, err);
    if (!st)
        return BK_ESTORE;
    sqlite3_bind_text(st, 1, symbol, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, bk_tf_name(tf), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, last_n > 0 ? last_n : -1);
    int src, rc = 0;
    while (rc == 0 && (src = sqlite3_step(st)) == SQLITE_ROW) {
        bk_fc_scored r = {0};
        bk_sq_col_text(r.symbol, sizeof r.symbol, st, 0);
        int t = bk_sq_col_tf(st, 1);
        if (t < 0)
            continue;
        r.tf = (bk_tf)t;
        r.origin_us = sqlite3_column_int64(st, 2);
        r.target_us = sqlite3_column_int64(st, 3);
        r.step = sqlite3_column_int(st, 4);
        r.in80 = sqlite3_column_int(st, 5) != 0;
        r.in95 = sqlite3_column_int(st, 6) != 0;
        r.abs_err = sqlite3_column_double(st, 7);
        r.naive_abs_err = sqlite3_column_double(st, 8);
        rc = cb(ctx, &r);
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = bk_sq_fail(q, src, "read forecast scores", err);
    sqlite3_reset(st);
    return rc;
}
