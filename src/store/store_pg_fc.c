/*
 * store_pg_fc.c — forecasts on PostgreSQL: the forecast run's commit (run
 * success, scoring of the previous forecast, replacement, one transaction),
 * reads of stored forecasts, scoring as bars land. Schema: migration 13.
 */
#include "store/store_pg.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static const char SQL_FC_SCORE[] =
    "INSERT INTO forecast_scores (symbol, timeframe, origin_ts, step, target_ts, model,"
    " made_at, point, lo80, hi80, lo95, hi95, actual, origin_close, in80, in95, abs_err,"
    " naive_abs_err, scored_at)"
    " SELECT f.symbol, f.timeframe, f.origin_ts, f.step, f.ts, f.model, f.made_at, f.point,"
    " f.lo80, f.hi80, f.lo95, f.hi95, b.close, f.origin_close,"
    " b.close >= f.lo80 AND b.close <= f.hi80, b.close >= f.lo95 AND b.close <= f.hi95,"
    " abs(b.close - f.point), abs(b.close - f.origin_close), $3"
    " FROM forecasts f JOIN ohlc_bars_v2 b"
    " ON b.symbol = f.symbol AND b.timeframe = f.timeframe AND b.ts = f.ts"
    " WHERE f.symbol = $1 AND f.timeframe = $2 ON CONFLICT DO NOTHING";
static const char SQL_FC_DELETE[] = "DELETE FROM forecasts WHERE symbol = $1 AND timeframe = $2";
static const char SQL_FC_INSERT[] =
    "INSERT INTO forecasts (symbol, timeframe, step, ts, point, lo80, hi80, lo95, hi95, model,"
    " origin_ts, origin_close, n_bars, made_at, run_id)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";
/* Whether a forecast from origin $3 may replace the stored one: the series
 * still has a run_forecast definition (a run that finished after its
 * definition was removed stores nothing; the row lock orders the commit
 * with a removal and with another commit of the series) and no forecast
 * from the same or a newer bar is stored (a revived run of an old origin
 * never replaces it; read after the lock, a statement of its own, so it
 * sees what a commit that held the lock wrote). */
static const char SQL_FC_LOCK_DEF[] =
    "SELECT 1 FROM job_definitions WHERE symbol = $1 AND timeframe = $2"
    " AND job_type = 'run_forecast' FOR UPDATE";
static const char SQL_FC_NEWER[] = "SELECT 1 FROM forecasts WHERE symbol = $1 AND timeframe = $2"
                                   " AND origin_ts >= $3 LIMIT 1";
#define FC_META_COLS                                                                               \
    "symbol, timeframe, max(model), max(origin_ts), max(origin_close), max(n_bars),"               \
    " max(made_at), max(run_id::text), count(*)"
static const char SQL_FC_META[] =
    "SELECT " FC_META_COLS " FROM forecasts"
    " WHERE symbol = $1 AND timeframe = $2 GROUP BY symbol, timeframe";
static const char SQL_FC_LIST[] =
    "SELECT " FC_META_COLS " FROM forecasts GROUP BY symbol, timeframe ORDER BY symbol, timeframe";
static const char SQL_FC_POINTS[] = "SELECT step, ts, point, lo80, hi80, lo95, hi95 FROM forecasts"
                                    " WHERE symbol = $1 AND timeframe = $2 ORDER BY step";
/* The last $3 origins' scores ($3 <= 0: all), newest origin first. */
static const char SQL_FC_SCORES[] =
    "SELECT symbol, timeframe, origin_ts, target_ts, step, in80, in95, abs_err, naive_abs_err"
    " FROM forecast_scores WHERE symbol = $1 AND timeframe = $2 AND origin_ts >= coalesce("
    " (SELECT min(origin_ts) FROM (SELECT DISTINCT origin_ts FROM forecast_scores"
    " WHERE symbol = $1 AND timeframe = $2 ORDER BY origin_ts DESC"
    " LIMIT CASE WHEN $3 > 0 THEN $3 END) o), '-infinity'::timestamptz)"
    " ORDER BY origin_ts DESC, step";

static int score(pg_store *q, const char *symbol, bk_tf tf, int64_t now_us, size_t *n, bk_err *err)
{
    bk_pg_params p = {0};
    bk_pg_p_str(&p, symbol);
    bk_pg_p_str(&p, bk_tf_name(tf));
    bk_pg_p_ts(&p, now_us);
    return bk_pg_exec_cmd(q, P_FC_SCORE, SQL_FC_SCORE, "ttT", &p, "score forecast", n, err);
}

int pg_fc_score(bk_store *s, const char *symbol, bk_tf tf, int64_t now_us, size_t *n_scored,
                bk_err *err)
{
    return score(pgs(s), symbol, tf, now_us, n_scored, err);
}

int bk_pg_fc_drop(pg_store *q, const char *symbol, bk_tf tf, bk_err *err)
{
    bk_pg_params p = {0};
    bk_pg_p_str(&p, symbol);
    bk_pg_p_str(&p, bk_tf_name(tf));
    return bk_pg_exec_cmd(q, P_FC_DELETE, SQL_FC_DELETE, "tt", &p, "replace forecast", NULL, err);
}

/* SQL_FC_LOCK_DEF then SQL_FC_NEWER into *ok. */
static int may_replace(pg_store *q, const bk_fc_commit *c, bool *ok, bk_err *err)
{
    bk_pg_params p = {0};
    bk_pg_p_str(&p, c->symbol);
    bk_pg_p_str(&p, bk_tf_name(c->tf));
    size_t n = 0;
    int rc = bk_pg_exec_cmd(q, P_FC_LOCK_DEF, SQL_FC_LOCK_DEF, "tt", &p, "lock forecast definition",
                            &n, err);
    if (rc || n == 0) {
        *ok = false;
        return rc;
    }
    bk_pg_p_ts(&p, c->origin_us);
    rc = bk_pg_exec_cmd(q, P_FC_NEWER, SQL_FC_NEWER, "ttT", &p, "check forecast replacement", &n,
                        err);
    *ok = rc == 0 && n == 0;
    return rc;
}

static int replace(pg_store *q, const bk_fc_commit *c, bk_err *err)
{
    bool ok = false;
    int rc = may_replace(q, c, &ok, err);
    if (rc || !ok)
        return rc;
    rc = bk_pg_fc_drop(q, c->symbol, c->tf, err);
    for (size_t i = 0; i < c->n_pts && rc == 0; i++) {
        const bk_fc_point *pt = &c->pts[i];
        bk_pg_params v = {0};
        bk_pg_p_str(&v, c->symbol);
        bk_pg_p_str(&v, bk_tf_name(c->tf));
        bk_pg_p_i32(&v, pt->step);
        bk_pg_p_ts(&v, pt->ts_us);
        bk_pg_p_f64(&v, pt->point);
        bk_pg_p_f64(&v, pt->lo80);
        bk_pg_p_f64(&v, pt->hi80);
        bk_pg_p_f64(&v, pt->lo95);
        bk_pg_p_f64(&v, pt->hi95);
        bk_pg_p_str(&v, c->model);
        bk_pg_p_ts(&v, c->origin_us);
        bk_pg_p_f64(&v, c->origin_close);
        bk_pg_p_i32(&v, c->n_bars);
        bk_pg_p_ts(&v, c->now_us);
        bk_pg_p_uuid(&v, c->run_id && bk_pg_is_uuid(c->run_id) ? c->run_id : "");
        rc = bk_pg_exec_cmd(q, P_FC_INSERT, SQL_FC_INSERT, "ttiTdddddtTdiTu", &v, "insert forecast",
                            NULL, err);
    }
    return rc;
}

int pg_fc_commit(bk_store *s, const bk_fc_commit *c, bk_err *err)
{
    pg_store *q = pgs(s);
    bk_commit run = bk_store__fc_run(c);
    int rc = bk_pg_begin(q, err);
    if (rc < 0)
        return rc;
    rc = bk_pg_mark_success(q, &run, err);
    if (rc == 0)
        rc = score(q, c->symbol, c->tf, c->now_us, NULL, err);
    if (rc == 0)
        rc = replace(q, c, err);
    if (rc < 0) {
        bk_pg_rollback(q);
        return rc;
    }
    return bk_pg_commit(q, err);
}

static void read_meta(const PGresult *r, int i, bk_fc_meta *m)
{
    memset(m, 0, sizeof *m);
    bk_pg_c_text(m->symbol, sizeof m->symbol, r, i, 0);
    m->tf = (bk_tf)bk_pg_c_tf(r, i, 1);
    bk_pg_c_text(m->model, sizeof m->model, r, i, 2);
    m->origin_us = bk_pg_c_time(r, i, 3);
    m->origin_close = bk_pg_c_f64(r, i, 4);
    m->n_bars = (int32_t)bk_pg_c_i64(r, i, 5);
    m->made_us = bk_pg_c_time(r, i, 6);
    bk_pg_c_text(m->run_id, sizeof m->run_id, r, i, 7);
    m->horizon = (int32_t)bk_pg_c_i64(r, i, 8);
}

int pg_fc_get(bk_store *s, const char *symbol, bk_tf tf, bk_fc_meta *meta, bk_fc_point **pts,
              size_t *n, bk_err *err)
{
    pg_store *q = pgs(s);
    bk_pg_params p = {0};
    bk_pg_p_str(&p, symbol);
    bk_pg_p_str(&p, bk_tf_name(tf));
    int rc = bk_pg_begin(q, err); /* meta and steps of one forecast */
    if (rc < 0)
        return rc;
    PGresult *r = bk_pg_exec(q, P_FC_META, SQL_FC_META, "tt", &p, "read forecast", err);
    if (!r) {
        bk_pg_rollback(q);
        return bk_pg_errc(err);
    }
    if (PQntuples(r) == 0)
        rc = bk_err_set(err, BK_ENOENT, "no forecast for %s %s", symbol, bk_tf_name(tf));
    else
        read_meta(r, 0, meta);
    PQclear(r);
    if (rc == 0 && pts) {
        r = bk_pg_exec(q, P_FC_POINTS, SQL_FC_POINTS, "tt", &p, "read forecast", err);
        if (!r) {
            rc = bk_pg_errc(err);
        } else {
            int rows = PQntuples(r);
            *pts = bk_xcalloc(rows ? (size_t)rows : 1, sizeof **pts);
            for (int i = 0; i < rows; i++) {
                bk_fc_point *pt = &(*pts)[i];
                pt->step = (int32_t)bk_pg_c_i64(r, i, 0);
                pt->ts_us = bk_pg_c_time(r, i, 1);
                pt->point = bk_pg_c_f64(r, i, 2);
                pt->lo80 = bk_pg_c_f64(r, i, 3);
                pt->hi80 = bk_pg_c_f64(r, i, 4);
                pt->lo95 = bk_pg_c_f64(r, i, 5);
                pt->hi95 = bk_pg_c_f64(r, i, 6);
            }
            *n = (size_t)rows;
            PQclear(r);
        }
    }
    bk_pg_rollback(q); /* read only */
    return rc;
}

int pg_fc_list(bk_store *s, bk_fc_meta **out, size_t *n, bk_err *err)
{
    PGresult *r =
        bk_pg_exec(pgs(s), P_FC_LIST, SQL_FC_LIST, "", &(bk_pg_params){0}, "list forecasts", err);
    if (!r)
        return bk_pg_errc(err);
    int rows = PQntuples(r);
    *out = bk_xcalloc(rows ? (size_t)rows : 1, sizeof **out);
    for (int i = 0; i < rows; i++) {
        if (bk_pg_c_tf(r, i, 1) < 0)
            continue;
        read_meta(r, i, &(*out)[(*n)++]);
    }
    PQclear(r);
    return 0;
}

int pg_fc_scores_read(bk_store *s, const char *symbol, bk_tf tf, int last_n, bk_fc_scored_cb cb,
                      void *ctx, bk_err *err)
{
    bk_pg_params p = {0};
    bk_pg_p_str(&p, symbol);
    bk_pg_p_str(&p, bk_tf_name(tf));
    bk_pg_p_i32(&p, last_n);
    PGresult *r =
        bk_pg_exec(pgs(s), P_FC_SCORES, SQL_FC_SCORES, "tti", &p, "read forecast scores", err);
    if (!r)
        return bk_pg_errc(err);
    int rows = PQntuples(r), rc = 0;
    for (int i = 0; i < rows && rc == 0; i++) {
        bk_fc_scored x = {0};
        int t = bk_pg_c_tf(r, i, 1);
        if (t < 0)
            continue;
        bk_pg_c_text(x.symbol, sizeof x.symbol, r, i, 0);
        x.tf = (bk_tf)t;
        x.origin_us = bk_pg_c_time(r, i, 2);
        x.target_us = bk_pg_c_time(r, i, 3);
        x.step = (int32_t)bk_pg_c_i64(r, i, 4);
        x.in80 = bk_pg_c_i64(r, i, 5) != 0;
        x.in95 = bk_pg_c_i64(r, i, 6) != 0;
        x.abs_err = bk_pg_c_f64(r, i, 7);
        x.naive_abs_err = bk_pg_c_f64(r, i, 8);
        rc = cb(ctx, &x);
    }
    PQclear(r);
    return rc;
}
