/*
 * store_pg_data.c — what a finished run writes on PostgreSQL, and the state
 * the planner and the charts read back: the commit transaction (run success
 * + bars + coverage), bars (a binary COPY path for batches), the coverage
 * interval set with its coverage_status summary, and series_load.
 *
 * Bars: a batch of BAR_COPY_MIN or more is COPYed (binary) into a temporary
 * staging table and upserted with one INSERT … SELECT … ON CONFLICT DO UPDATE
 * (DISTINCT ON (ts) keeps the last of duplicate timestamps, as SQLite's
 * one-row-at-a-time upsert does); smaller batches use a prepared one-row
 * upsert.
 *
 * Coverage: the merge is SQLite's (widen the new interval over the stored
 * interval that reaches its start and every interval starting inside it,
 * delete those, store the union), run after the coverage_status upsert: that
 * upsert row-locks the series' summary row, so two commits on one series
 * merge one after the other and the set stays normalised.
 *
 * Read next: docs/internals/store.md.
 */
#include "store/store_pg.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BAR_COPY_MIN  4     /* below this, prepared one-row upserts */
#define BAR_READ_PAGE 10000 /* rows per keyset page of bars_read */

/* ---- bars ---- */

#define BAR_SET                                                                                    \
    " ON CONFLICT (symbol, timeframe, ts) DO UPDATE SET open = excluded.open,"                     \
    " high = excluded.high, low = excluded.low, close = excluded.close,"                           \
    " volume = excluded.volume, provider = excluded.provider, feed = excluded.feed,"               \
    " adjustment = excluded.adjustment"

static const char SQL_BAR_UPSERT[] =
    "INSERT INTO ohlc_bars_v2 (symbol, timeframe, ts, open, high, low, close, volume, provider,"
    " feed, adjustment) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)" BAR_SET;
static const char SQL_BAR_TEMP[] =
    "CREATE TEMP TABLE IF NOT EXISTS bk_bars_in (n int4, ts timestamptz, open float8,"
    " high float8, low float8, close float8, volume float8) ON COMMIT DELETE ROWS";
static const char SQL_BAR_COPY[] =
    "COPY bk_bars_in (n, ts, open, high, low, close, volume) FROM STDIN (FORMAT binary)";
static const char SQL_BAR_FROM_TEMP[] =
    "INSERT INTO ohlc_bars_v2 (symbol, timeframe, ts, open, high, low, close, volume, provider,"
    " feed, adjustment) SELECT DISTINCT ON (ts) $1, $2, ts, open, high, low, close, volume, $3,"
    " $4, $5 FROM bk_bars_in ORDER BY ts, n DESC" BAR_SET;

/* The staging table lives for the session; create it outside any
 * transaction so a rollback cannot take it away. */
static int ensure_temp(pg_store *q, size_t n, bk_err *err)
{
    if (n < BAR_COPY_MIN || q->temp_bars)
        return 0;
    int rc = bk_pg_simple(q, SQL_BAR_TEMP, "create bars staging table", err);
    q->temp_bars = rc == 0;
    return rc;
}

static void copy_f64(bk_buf *b, double v)
{
    if (isnan(v)) { /* NULL: the NOT NULL columns refuse it */
        bk_pg_put_u32(b, UINT32_MAX);
        return;
    }
    uint64_t u;
    memcpy(&u, &v, 8);
    bk_pg_put_u32(b, 8);
    bk_pg_put_u64(b, u);
}

/* Where bars came from: provider, feed, adjustment (never NULL). */
typedef struct source {
    const char *provider, *feed, *adjustment;
} source;

static int bars_copy(pg_store *q, const char *symbol, bk_tf tf, const source *src,
                     const bk_bar *bars, size_t n, bk_err *err)
{
    bk_buf b;
    bk_buf_init(&b);
    bk_pg_copy_header(&b);
    for (size_t i = 0; i < n; i++) {
        bk_buf_append(&b, "\0\7", 2); /* 7 fields */
        bk_pg_put_u32(&b, 4);
        bk_pg_put_u32(&b, (uint32_t)i);
        bk_pg_put_u32(&b, 8);
        bk_pg_put_u64(&b, (uint64_t)bk_pg_ts_enc(bars[i].ts_us));
        copy_f64(&b, bars[i].open);
        copy_f64(&b, bars[i].high);
        copy_f64(&b, bars[i].low);
        copy_f64(&b, bars[i].close);
        copy_f64(&b, bars[i].volume);
    }
    int rc = bk_pg_copy_in(q, SQL_BAR_COPY, &b, "copy bars", err);
    bk_buf_fini(&b);
    if (rc < 0)
        return rc;
    bk_pg_params p = {0};
    bk_pg_p_str(&p, symbol);
    bk_pg_p_str(&p, bk_tf_name(tf));
    bk_pg_p_str(&p, src->provider);
    bk_pg_p_str(&p, src->feed);
    bk_pg_p_str(&p, src->adjustment);
    return bk_pg_exec_cmd(q, P_BAR_FROM_TEMP, SQL_BAR_FROM_TEMP, "ttttt", &p, "upsert bars", NULL,
                          err);
}

/* Upsert bars inside the caller's transaction (ensure_temp called before it). */
static int bars_write(pg_store *q, const char *symbol, bk_tf tf, const source *src,
                      const bk_bar *bars, size_t n, bk_err *err)
{
    if (n >= BAR_COPY_MIN)
        return bars_copy(q, symbol, tf, src, bars, n, err);
    for (size_t i = 0; i < n; i++) {
        bk_pg_params p = {0};
        bk_pg_p_str(&p, symbol);
        bk_pg_p_str(&p, bk_tf_name(tf));
        bk_pg_p_ts(&p, bars[i].ts_us);
        bk_pg_p_f64(&p, bars[i].open);
        bk_pg_p_f64(&p, bars[i].high);
        bk_pg_p_f64(&p, bars[i].low);
        bk_pg_p_f64(&p, bars[i].close);
        bk_pg_p_f64(&p, bars[i].volume);
        bk_pg_p_str(&p, src->provider);
        bk_pg_p_str(&p, src->feed);
        bk_pg_p_str(&p, src->adjustment);
        int rc = bk_pg_exec_cmd(q, P_BAR_UPSERT, SQL_BAR_UPSERT, "ttTdddddttt", &p, "upsert bar",
                                NULL, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int pg_bars_upsert(bk_store *s, const char *symbol, bk_tf tf, const char *provider,
                   const char *feed, const char *adjustment, const bk_bar *bars, size_t n,
                   bk_err *err)
{
    pg_store *q = pgs(s);
    int rc = ensure_temp(q, n, err);
    if (rc == 0)
        rc = bk_pg_begin(q, err);
    if (rc < 0)
        return rc;
    source src = {provider, feed, adjustment};
    rc = bars_write(q, symbol, tf, &src, bars, n, err);
    if (rc < 0) {
        bk_pg_rollback(q);
        return rc;
    }
    return bk_pg_commit(q, err);
}

static const char SQL_BAR_READ[] =
    "SELECT ts, open, high, low, close, volume, provider FROM ohlc_bars_v2"
    " WHERE symbol = $1 AND timeframe = $2 AND ts >= $3 AND ts < $4 ORDER BY ts LIMIT $5";

/* Keyset pages of BAR_READ_PAGE rows: memory stays bounded and no statement
 * or transaction stays open while the callback runs. */
int pg_bars_read(bk_store *s, const char *symbol, bk_tf tf, int64_t from_us, int64_t to_us,
                 bk_bar_cb cb, void *ctx, bk_err *err)
{
    pg_store *q = pgs(s);
    for (;;) {
        bk_pg_params p = {0};
        bk_pg_p_str(&p, symbol);
        bk_pg_p_str(&p, bk_tf_name(tf));
        bk_pg_p_ts(&p, from_us);
        bk_pg_p_ts(&p, to_us);
        bk_pg_p_i64(&p, BAR_READ_PAGE);
        PGresult *r = bk_pg_exec(q, P_BAR_READ, SQL_BAR_READ, "ttTTl", &p, "read bars", err);
        if (!r)
            return bk_pg_errc(err);
        int rows = PQntuples(r), rc = 0;
        char prov[BK_PROV_NAME_MAX * 2];
        for (int i = 0; i < rows && rc == 0; i++) {
            bk_bar b = {
                .ts_us = bk_pg_c_time(r, i, 0),
                .open = bk_pg_c_f64(r, i, 1),
                .high = bk_pg_c_f64(r, i, 2),
                .low = bk_pg_c_f64(r, i, 3),
                .close = bk_pg_c_f64(r, i, 4),
                .volume = bk_pg_c_f64(r, i, 5),
            };
            bk_pg_c_text(prov, sizeof prov, r, i, 6);
            rc = cb(ctx, &b, prov);
            from_us = b.ts_us + 1;
        }
        PQclear(r);
        if (rc || rows < BAR_READ_PAGE)
            return rc;
    }
}

static const char SQL_BAR_SOURCE[] =
    "SELECT provider, feed, adjustment FROM ohlc_bars_v2 WHERE symbol = $1 AND timeframe = $2"
    " ORDER BY ts DESC LIMIT 1";

int pg_bars_source(bk_store *s, const char *symbol, bk_tf tf, bk_source *out, bk_err *err)
{
    bk_pg_params p = {0};
    bk_pg_p_str(&p, symbol);
    bk_pg_p_str(&p, bk_tf_name(tf));
    PGresult *r = bk_pg_exec(pgs(s), P_BAR_SOURCE, SQL_BAR_SOURCE, "tt", &p, "bars source", err);
    if (!r)
        return bk_pg_errc(err);
    int rc = 0;
    if (PQntuples(r) == 0) {
        rc = bk_err_set(err, BK_ENOENT, "%s %s has no bars", symbol, bk_tf_name(tf));
    } else {
        bk_pg_c_text(out->provider, sizeof out->provider, r, 0, 0);
        bk_pg_c_text(out->feed, sizeof out->feed, r, 0, 1);
        bk_pg_c_text(out->adjustment, sizeof out->adjustment, r, 0, 2);
    }
    PQclear(r);
    return rc;
}

int pg_bars_count(bk_store *s, const char *symbol, int tf, int64_t *out, bk_err *err)
{
    int mask = (symbol ? 1 : 0) | (tf >= 0 ? 2 : 0);
    char sql[160], types[3] = "";
    bk_pg_params p = {0};
    int k = 0;
    if (symbol) {
        bk_pg_p_str(&p, symbol);
        types[k++] = 't';
    }
    if (tf >= 0) {
        bk_pg_p_str(&p, bk_tf_name((bk_tf)tf));
        types[k++] = 't';
    }
    snprintf(sql, sizeof sql, "SELECT count(*) FROM ohlc_bars_v2 WHERE true%s%s",
             symbol ? " AND symbol = $1" : "",
             tf < 0   ? ""
             : symbol ? " AND timeframe = $2"
                      : " AND timeframe = $1");
    PGresult *r = bk_pg_exec(pgs(s), P_BAR_COUNT_FIRST + mask, sql, types, &p, "count bars", err);
    if (!r)
        return bk_pg_errc(err);
    *out = bk_pg_c_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

static const char *const SQL_BAR_SERIES[2] = {
    "SELECT symbol, timeframe, count(*), min(ts), max(ts) FROM ohlc_bars_v2"
    " GROUP BY symbol, timeframe",
    "SELECT symbol, timeframe, count(*), min(ts), max(ts) FROM ohlc_bars_v2"
    " WHERE symbol = $1 GROUP BY symbol, timeframe",
};

int pg_bars_series(bk_store *s, const char *symbol, bk_bar_series **out, size_t *n, bk_err *err)
{
    int one = symbol != NULL;
    bk_pg_params p = {0};
    if (one)
        bk_pg_p_str(&p, symbol);
    PGresult *r = bk_pg_exec(pgs(s), P_BAR_SERIES_FIRST + one, SQL_BAR_SERIES[one], one ? "t" : "",
                             &p, "list bar series", err);
    if (!r)
        return bk_pg_errc(err);
    int rows = PQntuples(r);
    bk_bar_series *v = bk_xcalloc((size_t)rows + 1, sizeof *v);
    size_t len = 0;
    for (int i = 0; i < rows; i++) {
        int tf = bk_pg_c_tf(r, i, 1);
        if (tf < 0)
            continue; /* a timeframe this binary cannot read */
        bk_bar_series *x = &v[len++];
        bk_pg_c_text(x->symbol, sizeof x->symbol, r, i, 0);
        x->tf = (bk_tf)tf;
        x->n_bars = bk_pg_c_i64(r, i, 2);
        x->first_us = bk_pg_c_time(r, i, 3);
        x->last_us = bk_pg_c_time(r, i, 4);
    }
    PQclear(r);
    bk_store__sort_bar_series(v, len);
    *out = v;
    *n = len;
    return 0;
}

/* ---- coverage ---- */

/* [lo, hi): the new interval [$3, $4) widened over the stored interval that
 * starts at or before $3 and reaches it, and every interval starting in
 * ($3, $4] — two bounded ranges of the primary key. */
static const char SQL_COV_BOUNDS[] =
    "SELECT coalesce(p.from_ts, $3),"
    " greatest($4, p.to_ts, (SELECT max(i.to_ts) FROM coverage_intervals i"
    "   WHERE i.symbol = $1 AND i.timeframe = $2 AND i.from_ts > $3 AND i.from_ts <= $4))"
    " FROM (SELECT 1) AS one LEFT JOIN LATERAL (SELECT from_ts, to_ts FROM coverage_intervals"
    "   WHERE symbol = $1 AND timeframe = $2 AND from_ts <= $3 ORDER BY from_ts DESC LIMIT 1)"
    "   AS p ON p.to_ts >= $3";
/* Delete the merged intervals except the one starting at lo, which the
 * upsert rewrites: no key is both deleted and inserted by the statement. */
static const char SQL_COV_MERGE[] =
    "WITH d AS (DELETE FROM coverage_intervals"
    "   WHERE symbol = $1 AND timeframe = $2 AND from_ts > $3 AND from_ts <= $5)"
    " INSERT INTO coverage_intervals (symbol, timeframe, from_ts, to_ts) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (symbol, timeframe, from_ts) DO UPDATE SET to_ts = excluded.to_ts";
static const char SQL_COV_STATUS[] =
    "INSERT INTO coverage_status (symbol, timeframe, from_ts, to_ts, last_success_at,"
    " last_rows_written, last_provider, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $5)"
    " ON CONFLICT (symbol, timeframe) DO UPDATE SET"
    " from_ts = least(coverage_status.from_ts, excluded.from_ts),"
    " to_ts = greatest(coverage_status.to_ts, excluded.to_ts),"
    " last_success_at = excluded.last_success_at,"
    " last_rows_written = excluded.last_rows_written,"
    " last_provider = excluded.last_provider, updated_at = excluded.updated_at";

/* coverage_intervals ∪= iv, inside the caller's transaction, after
 * coverage_summary locked the series. */
static int coverage_add(pg_store *q, const char *symbol, bk_tf tf, bk_iv iv, bk_err *err)
{
    bk_pg_params p = {0};
    bk_pg_p_str(&p, symbol);
    bk_pg_p_str(&p, bk_tf_name(tf));
    bk_pg_p_ts(&p, iv.from_us);
    bk_pg_p_ts(&p, iv.to_us);
    PGresult *r = bk_pg_exec(q, P_COV_BOUNDS, SQL_COV_BOUNDS, "ttTT", &p, "merge coverage", err);
    if (!r)
        return bk_pg_errc(err);
    int64_t lo = bk_pg_c_time(r, 0, 0), hi = bk_pg_c_time(r, 0, 1);
    PQclear(r);
    bk_pg_params m = {0};
    bk_pg_p_str(&m, symbol);
    bk_pg_p_str(&m, bk_tf_name(tf));
    bk_pg_p_ts(&m, lo);
    bk_pg_p_ts(&m, hi);
    bk_pg_p_ts(&m, iv.to_us);
    return bk_pg_exec_cmd(q, P_COV_MERGE, SQL_COV_MERGE, "ttTTT", &m, "merge coverage", NULL, err);
}

static int coverage_summary(pg_store *q, const bk_commit *c, bk_err *err)
{
    bk_pg_params p = {0};
    bk_pg_p_str(&p, c->symbol);
    bk_pg_p_str(&p, bk_tf_name(c->tf));
    bk_pg_p_ts(&p, c->covered.from_us);
    bk_pg_p_ts(&p, c->covered.to_us);
    bk_pg_p_ts(&p, c->now_us);
    bk_pg_p_i64(&p, (int64_t)c->n_bars);
    bk_pg_p_text(&p, c->provider);
    return bk_pg_exec_cmd(q, P_COV_STATUS, SQL_COV_STATUS, "ttTTTlt", &p, "update coverage_status",
                          NULL, err);
}

/* Adopted coverage: the series' summary row is upserted first (locking it,
 * as a commit does), the intervals merged, then the summary overwritten with
 * values derived from the whole set and the series' bar count. */
static const char SQL_COV_LOCK[] =
    "INSERT INTO coverage_status (symbol, timeframe, updated_at) VALUES ($1, $2, $3)"
    " ON CONFLICT (symbol, timeframe) DO UPDATE SET updated_at = excluded.updated_at";
static const char SQL_COV_ADOPT[] =
    "UPDATE coverage_status c SET from_ts = i.f, to_ts = i.t, last_success_at = $3,"
    " last_rows_written = (SELECT count(*) FROM ohlc_bars_v2"
    "   WHERE symbol = $1 AND timeframe = $2),"
    " last_provider = $4, updated_at = $3"
    " FROM (SELECT min(from_ts) AS f, max(to_ts) AS t FROM coverage_intervals"
    "   WHERE symbol = $1 AND timeframe = $2) AS i"
    " WHERE c.symbol = $1 AND c.timeframe = $2";

int pg_coverage_add(bk_store *s, const char *symbol, bk_tf tf, const bk_ivset *covered,
                    const char *provider, int64_t now_us, bk_err *err)
{
    pg_store *q = pgs(s);
    int rc = bk_pg_begin(q, err);
    if (rc < 0)
        return rc;
    bk_pg_params p = {0};
    bk_pg_p_str(&p, symbol);
    bk_pg_p_str(&p, bk_tf_name(tf));
    bk_pg_p_ts(&p, now_us);
    rc =
        bk_pg_exec_cmd(q, P_COV_LOCK, SQL_COV_LOCK, "ttT", &p, "update coverage_status", NULL, err);
    for (size_t i = 0; i < covered->n && rc == 0; i++)
        rc = coverage_add(q, symbol, tf, covered->v[i], err);
    if (rc == 0) {
        bk_pg_params a = {0};
        bk_pg_p_str(&a, symbol);
        bk_pg_p_str(&a, bk_tf_name(tf));
        bk_pg_p_ts(&a, now_us);
        bk_pg_p_text(&a, provider);
        rc = bk_pg_exec_cmd(q, P_COV_ADOPT, SQL_COV_ADOPT, "ttTt", &a, "update coverage_status",
                            NULL, err);
    }
    if (rc < 0) {
        bk_pg_rollback(q);
        return rc;
    }
    return bk_pg_commit(q, err);
}

/* ---- commit ---- */

static const char SQL_RUN_SUCCESS[] =
    "WITH l AS (DELETE FROM job_leases WHERE id = $1 AND owner = $2 RETURNING id),"
    " a AS (DELETE FROM job_active WHERE id = (SELECT id FROM l) RETURNING id)"
    " UPDATE job_runs SET status = 'success', progress_percent = 100, rows_written = $3,"
    " provider = coalesce($4, provider), finished_at = $5, updated_at = $5,"
    " lease_owner = NULL, lease_until = NULL, error_code = NULL, error_message = NULL"
    " WHERE id = (SELECT id FROM a) RETURNING symbol, timeframe";

/* The lease check and the run's success in one statement, which also
 * row-locks the run until the commit: no row, no lease. The run leaves
 * job_leases and job_active (schema 7). */
int bk_pg_mark_success(pg_store *q, const bk_commit *c, bk_err *err)
{
    const char *id = c->run_id ? c->run_id : "";
    int rc =
        bk_err_set(err, BK_ELEASE, "commit: run %s is no longer running under %s", id, c->owner);
    if (!bk_pg_is_uuid(id))
        return rc;
    bk_pg_params p = {0};
    bk_pg_p_uuid(&p, id);
    bk_pg_p_str(&p, c->owner);
    bk_pg_p_i64(&p, (int64_t)c->n_bars);
    bk_pg_p_text(&p, c->provider);
    bk_pg_p_ts(&p, c->now_us);
    PGresult *r = bk_pg_exec(q, P_RUN_SUCCESS, SQL_RUN_SUCCESS, "utltT", &p, "commit run", err);
    if (!r)
        return bk_pg_errc(err);
    if (PQntuples(r) == 1) {
        char sym[BK_SYM_MAX + 1];
        bk_pg_c_text(sym, sizeof sym, r, 0, 0);
        if (strcmp(sym, c->symbol) != 0 || bk_pg_c_tf(r, 0, 1) != (int)c->tf)
            rc = bk_err_set(err, BK_EINVAL, "commit: run %s is not for %s %s", id, c->symbol,
                            bk_tf_name(c->tf));
        else
            rc = 0;
    }
    PQclear(r);
    if (rc == 0)
        bk_err_clear(err);
    return rc;
}

int pg_run_commit(bk_store *s, const bk_commit *c, bk_err *err)
{
    pg_store *q = pgs(s);
    if (c->n_bars && (!c->provider || !*c->provider))
        return bk_err_set(err, BK_EINVAL, "commit: bars without a provider");
    int rc = ensure_temp(q, c->n_bars, err);
    if (rc == 0)
        rc = bk_pg_begin(q, err);
    if (rc < 0)
        return rc;
    rc = bk_pg_mark_success(q, c, err);
    if (rc == 0 && c->n_bars)
        rc = bars_write(
            q, c->symbol, c->tf,
            &(source){c->provider, c->feed ? c->feed : "", c->adjustment ? c->adjustment : ""},
            c->bars, c->n_bars, err);
    if (rc == 0 && c->covered.from_us < c->covered.to_us) {
        bk_iv iv = c->covered;
        if (c->covered_ext.from_us < c->covered_ext.to_us) {
            iv.from_us = BK_MIN(iv.from_us, c->covered_ext.from_us);
            iv.to_us = BK_MAX(iv.to_us, c->covered_ext.to_us);
        }
        rc = coverage_summary(q, c, err);
        if (rc == 0)
            rc = coverage_add(q, c->symbol, c->tf, iv, err);
    }
    if (rc < 0) {
        bk_pg_rollback(q);
        return rc;
    }
    return bk_pg_commit(q, err);
}

/* ---- commit of a batch ---- */

/* The bars of every run of a batch, tagged with the run's position (1-based,
 * as in bk_commit_runs' arrays) and their index within the run. */
static const char SQL_BATCH_TEMP[] =
    "CREATE TEMP TABLE IF NOT EXISTS bk_bars_batch (run_no int4, n int4, ts timestamptz,"
    " open float8, high float8, low float8, close float8, volume float8) ON COMMIT DELETE ROWS";
static const char SQL_BATCH_COPY[] =
    "COPY bk_bars_batch (run_no, n, ts, open, high, low, close, volume) FROM STDIN (FORMAT binary)";
static const char SQL_COMMIT_RUNS[] =
    "SELECT o_k, o_code FROM bk_commit_runs($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
    " $13)";

enum {
    B_ID,
    B_OWNER,
    B_SYM,
    B_TF,
    B_PROV,
    B_ROWS,
    B_CF,
    B_CT,
    B_EF,
    B_ET,
    B_NOW,
    B_FEED,
    B_ADJ,
    B__N
};

static const uint32_t batch_oid[B__N] = {25,   25,   25,   25,   25, 23, 1184,
                                         1184, 1184, 1184, 1184, 25, 25};

static void elem_text(bk_buf *b, const char *s)
{
    bk_pg_arr_elem(b, s && *s ? s : NULL, s ? (int)strlen(s) : 0);
}

static void elem_be(bk_buf *b, uint64_t v, int len)
{
    char d[8];
    for (int i = len - 1; i >= 0; i--, v >>= 8)
        d[i] = (char)(v & 0xff);
    bk_pg_arr_elem(b, d, len);
}

static int batch_copy(pg_store *q, const bk_commit *c, const size_t *idx, size_t m, bk_err *err)
{
    bk_buf b;
    bk_buf_init(&b);
    bk_pg_copy_header(&b);
    for (size_t k = 0; k < m; k++) {
        const bk_commit *x = &c[idx[k]];
        for (size_t i = 0; i < x->n_bars; i++) {
            bk_buf_append(&b, "\0\10", 2); /* 8 fields */
            bk_pg_put_u32(&b, 4);
            bk_pg_put_u32(&b, (uint32_t)(k + 1));
            bk_pg_put_u32(&b, 4);
            bk_pg_put_u32(&b, (uint32_t)i);
            bk_pg_put_u32(&b, 8);
            bk_pg_put_u64(&b, (uint64_t)bk_pg_ts_enc(x->bars[i].ts_us));
            copy_f64(&b, x->bars[i].open);
            copy_f64(&b, x->bars[i].high);
            copy_f64(&b, x->bars[i].low);
            copy_f64(&b, x->bars[i].close);
            copy_f64(&b, x->bars[i].volume);
        }
    }
    int rc = bk_pg_copy_in(q, SQL_BATCH_COPY, &b, "copy bars of a batch", err);
    bk_buf_fini(&b);
    return rc;
}

/* One call of bk_commit_runs for the batch; *bad gets the first run of
 * another series (code 2), or stays SIZE_MAX. */
static int batch_call(pg_store *q, const bk_commit *c, const size_t *idx, size_t m, int *rc_each,
                      size_t *bad, bk_err *err)
{
    bk_buf a[B__N];
    for (int j = 0; j < B__N; j++) {
        bk_buf_init(&a[j]);
        bk_pg_arr_begin(&a[j], batch_oid[j], (int)m);
    }
    for (size_t k = 0; k < m; k++) {
        const bk_commit *x = &c[idx[k]];
        bk_iv ext = x->covered_ext.from_us < x->covered_ext.to_us ? x->covered_ext : (bk_iv){0, 0};
        elem_text(&a[B_ID], x->run_id);
        elem_text(&a[B_OWNER], x->owner);
        elem_text(&a[B_SYM], x->symbol);
        elem_text(&a[B_TF], bk_tf_name(x->tf));
        elem_text(&a[B_PROV], x->provider);
        elem_be(&a[B_ROWS], (uint32_t)x->n_bars, 4);
        elem_be(&a[B_CF], (uint64_t)bk_pg_ts_enc(x->covered.from_us), 8);
        elem_be(&a[B_CT], (uint64_t)bk_pg_ts_enc(x->covered.to_us), 8);
        elem_be(&a[B_EF], (uint64_t)bk_pg_ts_enc(ext.from_us), 8);
        elem_be(&a[B_ET], (uint64_t)bk_pg_ts_enc(ext.to_us), 8);
        elem_be(&a[B_NOW], (uint64_t)bk_pg_ts_enc(x->now_us), 8);
        elem_text(&a[B_FEED], x->feed ? x->feed : "");
        elem_text(&a[B_ADJ], x->adjustment ? x->adjustment : "");
    }
    bk_pg_params p = {0};
    for (int j = 0; j < B__N; j++)
        bk_pg_p_bytes(&p, a[j].data, (int)a[j].len);
    PGresult *r =
        bk_pg_exec(q, P_RUNS_COMMIT_MANY, SQL_COMMIT_RUNS, "AAAAACBBBBBAA", &p, "commit runs", err);
    for (int j = 0; j < B__N; j++)
        bk_buf_fini(&a[j]);
    if (!r)
        return bk_pg_errc(err);
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t k = bk_pg_c_i64(r, i, 0), code = bk_pg_c_i64(r, i, 1);
        if (k < 1 || (size_t)k > m)
            continue;
        if (code == 1)
            rc_each[idx[k - 1]] = BK_ELEASE;
        else if (*bad == SIZE_MAX || idx[k - 1] < *bad)
            *bad = idx[k - 1];
    }
    PQclear(r);
    return 0;
}

typedef struct id_pos {
    const char *id;
    size_t i;
} id_pos;

static int cmp_id_pos(const void *a, const void *b)
{
    const id_pos *x = a, *y = b;
    int d = strcmp(x->id, y->id);
    return d ? d : (x->i > y->i) - (x->i < y->i);
}

/* rc_each of every commit that names no run, or a run an earlier commit of
 * the batch names, is BK_ELEASE (as after a commit in its own transaction:
 * the run is no longer running under the owner); idx gets the others, in
 * batch order. Returns their number. */
static size_t distinct_runs(const bk_commit *c, size_t n, int *rc_each, size_t *idx)
{
    id_pos *v = bk_xmalloc((n + 1) * sizeof *v);
    size_t k = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        rc_each[i] = BK_ELEASE;
        if (c[i].run_id && bk_pg_is_uuid(c[i].run_id))
            v[k++] = (id_pos){c[i].run_id, i};
    }
    qsort(v, k, sizeof *v, cmp_id_pos);
    for (size_t j = 0; j < k; j++)
        if (j == 0 || strcmp(v[j].id, v[j - 1].id) != 0)
            rc_each[v[j].i] = 0; /* the first commit of each run */
    free(v);
    for (size_t i = 0; i < n; i++)
        if (rc_each[i] == 0)
            idx[m++] = i;
    return m;
}

/* BEGIN, one COPY of every bar of the batch (if any), one call of
 * bk_commit_runs (which takes distinct runs since schema 7), COMMIT. */
int pg_runs_commit_many(bk_store *s, const bk_commit *c, size_t n, int *rc_each, bk_err *err)
{
    pg_store *q = pgs(s);
    size_t *idx = bk_xmalloc((n + 1) * sizeof *idx), n_bars = 0, bad = SIZE_MAX;
    size_t m = distinct_runs(c, n, rc_each, idx);
    for (size_t j = 0; j < m; j++)
        n_bars += c[idx[j]].n_bars;
    int rc = 0;
    if (m > 0 && n_bars > 0 && !q->temp_batch) {
        rc = bk_pg_simple(q, SQL_BATCH_TEMP, "create batch staging table", err);
        q->temp_batch = rc == 0;
    }
    if (m > 0 && rc == 0)
        rc = bk_pg_begin(q, err);
    if (m > 0 && rc == 0) {
        if (n_bars > 0)
            rc = batch_copy(q, c, idx, m, err);
        if (rc == 0)
            rc = batch_call(q, c, idx, m, rc_each, &bad, err);
        if (rc == 0 && bad != SIZE_MAX)
            rc = bk_err_set(err, BK_EINVAL, "commit: run %s is not for %s %s", c[bad].run_id,
                            c[bad].symbol, bk_tf_name(c[bad].tf));
        if (rc < 0)
            bk_pg_rollback(q);
        else
            rc = bk_pg_commit(q, err);
    }
    if (rc < 0)
        for (size_t i = 0; i < n; i++)
            rc_each[i] = 0;
    free(idx);
    return rc;
}

/* ---- series_load ---- */

/* The three sets of every series in one query, grouped by series. */
#define SERIES_SQL(where)                                                                          \
    "SELECT symbol, timeframe, 0, from_ts, to_ts FROM coverage_intervals WHERE true" where         \
    " UNION ALL SELECT symbol, timeframe, 1, slice_from, slice_to FROM job_active"                 \
    "   WHERE NOT dead" where                                                                      \
    " UNION ALL SELECT symbol, timeframe, 2, slice_from, slice_to FROM job_active"                 \
    "   WHERE dead" where " ORDER BY 1, 2"

static const char *const SQL_SERIES[2] = {
    SERIES_SQL(""),
    SERIES_SQL(" AND symbol = $1 AND timeframe = $2"),
};

static void series_init(bk_series *x, const char *symbol, int tf)
{
    memset(x, 0, sizeof *x);
    bk_strlcpy(x->symbol, symbol, sizeof x->symbol);
    x->tf = (bk_tf)tf;
    bk_ivset_init(&x->covered);
    bk_ivset_init(&x->active);
    bk_ivset_init(&x->dead);
}

int pg_series_load(bk_store *s, const char *symbol, int tf, bk_series **out, size_t *n, bk_err *err)
{
    int one = symbol != NULL;
    bk_pg_params p = {0};
    if (one) {
        bk_pg_p_str(&p, symbol);
        bk_pg_p_str(&p, bk_tf_name((bk_tf)tf));
    }
    PGresult *r = bk_pg_exec(pgs(s), P_SERIES_COV_FIRST + one, SQL_SERIES[one], one ? "tt" : "", &p,
                             "load series", err);
    if (!r)
        return bk_pg_errc(err);
    bk_store__between_reads(s); /* one statement: nothing can commit between its reads */
    bk_series *v = NULL;
    size_t len = 0, cap = 0;
    char sym[BK_SYM_MAX + 1];
    for (int i = 0; i < PQntuples(r); i++) {
        int row_tf = bk_pg_c_tf(r, i, 1);
        bk_pg_c_text(sym, sizeof sym, r, i, 0);
        if (row_tf < 0)
            continue; /* a row this binary cannot read */
        if (len == 0 || (int)v[len - 1].tf != row_tf || strcmp(v[len - 1].symbol, sym) != 0) {
            bk_grow((void **)&v, &cap, len + 1, sizeof *v);
            series_init(&v[len++], sym, row_tf);
        }
        bk_series *x = &v[len - 1];
        int64_t which = bk_pg_c_i64(r, i, 2);
        bk_ivset *set = which == 0 ? &x->covered : which == 1 ? &x->active : &x->dead;
        bk_ivset_add(set, bk_pg_c_time(r, i, 3), bk_pg_c_time(r, i, 4));
    }
    PQclear(r);
    bk_store__sort_series(v, len);
    *out = v;
    *n = len;
    return 0;
}

/* ---- coverage_list ---- */

#define COV_LIST_SQL(where)                                                                        \
    "SELECT c.symbol, c.timeframe, c.from_ts, c.to_ts, c.last_success_at,"                         \
    " c.last_rows_written, c.last_provider, c.updated_at,"                                         \
    " (SELECT count(*) FROM coverage_intervals i"                                                  \
    "   WHERE i.symbol = c.symbol AND i.timeframe = c.timeframe),"                                 \
    " (SELECT coalesce(sum(bk_us(i.to_ts) - bk_us(i.from_ts)), 0)::int8 FROM coverage_intervals i" \
    "   WHERE i.symbol = c.symbol AND i.timeframe = c.timeframe)"                                  \
    " FROM coverage_status c" where

static const char *const SQL_COV_LIST[2] = {
    COV_LIST_SQL(""),
    COV_LIST_SQL(" WHERE c.symbol = $1 AND c.timeframe = $2"),
};

static int read_coverage(const PGresult *r, int row, bk_coverage *c)
{
    memset(c, 0, sizeof *c);
    int tf = bk_pg_c_tf(r, row, 1);
    if (tf < 0)
        return BK_ESTORE;
    bk_pg_c_text(c->symbol, sizeof c->symbol, r, row, 0);
    c->tf = (bk_tf)tf;
    c->from_us = bk_pg_c_time(r, row, 2);
    c->to_us = bk_pg_c_time(r, row, 3);
    c->last_success_us = bk_pg_c_time(r, row, 4);
    c->last_rows_written = bk_pg_c_i64(r, row, 5);
    bk_pg_c_text(c->last_provider, sizeof c->last_provider, r, row, 6);
    c->updated_us = bk_pg_c_time(r, row, 7);
    c->n_intervals = bk_pg_c_i64(r, row, 8);
    c->covered_us = bk_pg_c_i64(r, row, 9);
    return 0;
}

int pg_coverage_list(bk_store *s, const char *symbol, int tf, bk_coverage **out, size_t *n,
                     bk_err *err)
{
    int one = symbol != NULL;
    bk_pg_params p = {0};
    if (one) {
        bk_pg_p_str(&p, symbol);
        bk_pg_p_str(&p, bk_tf_name((bk_tf)tf));
    }
    PGresult *r = bk_pg_exec(pgs(s), P_COV_LIST_FIRST + one, SQL_COV_LIST[one], one ? "tt" : "", &p,
                             "list coverage", err);
    if (!r)
        return bk_pg_errc(err);
    int rows = PQntuples(r);
    bk_coverage *v = bk_xcalloc((size_t)rows + 1, sizeof *v);
    size_t len = 0;
    for (int i = 0; i < rows; i++)
        if (read_coverage(r, i, &v[len]) == 0)
            len++;
    PQclear(r);
    bk_store__sort_coverage(v, len);
    *out = v;
    *n = len;
    return 0;
}
