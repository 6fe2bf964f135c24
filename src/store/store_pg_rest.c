/*
 * store_pg_rest.c — the PostgREST reads on PostgreSQL (rest.h): the SQL of
 * bk_rquery_sql run unprepared (its shape varies with the query) with every
 * value a parameter of the column's type, the count and the rows in one
 * REPEATABLE READ transaction; and the schema's get_coverage_gaps.
 */
#include "store/store_pg.h"

#include <stdio.h>
#include <stdlib.h>

#include "model/time.h"

#define OID_BOOL        16
#define OID_INT8        20
#define OID_TEXT        25
#define OID_FLOAT8      701
#define OID_TIMESTAMPTZ 1184
#define OID_UUID        2950

typedef struct pg_vals {
    const char *val[BK_RQ_MAX_VALUES];
    Oid oid[BK_RQ_MAX_VALUES];
    char num[BK_RQ_MAX_VALUES][BK_TIME_STR_MAX];
} pg_vals;

static void text_values(const bk_rquery *q, pg_vals *pv)
{
    for (size_t i = 0; i < q->n_f; i++) {
        const bk_rfilter *f = &q->f[i];
        bk_rtype t = q->t->cols[f->col].type;
        for (size_t k = 0; k < f->n_val; k++) {
            size_t j = f->first + k;
            const bk_rval *v = &q->v[j];
            char *buf = pv->num[j];
            pv->val[j] = buf;
            switch (t) {
            case BK_RT_TEXT:
                pv->oid[j] = OID_TEXT;
                pv->val[j] = v->s;
                break;
            case BK_RT_UUID:
                pv->oid[j] = OID_UUID;
                pv->val[j] = v->s;
                break;
            case BK_RT_REAL:
                pv->oid[j] = OID_FLOAT8;
                snprintf(buf, BK_TIME_STR_MAX, "%.17g", v->f);
                break;
            case BK_RT_BOOL:
                pv->oid[j] = OID_BOOL;
                snprintf(buf, BK_TIME_STR_MAX, "%s", v->i ? "t" : "f");
                break;
            case BK_RT_TIME:
                pv->oid[j] = OID_TIMESTAMPTZ;
                bk_time_format(v->i, buf);
                break;
            default:
                pv->oid[j] = OID_INT8;
                snprintf(buf, BK_TIME_STR_MAX, "%lld", (long long)v->i);
            }
            if (v->null)
                pv->val[j] = NULL;
        }
    }
}

static PGresult *run(pg_store *pq, const bk_rquery *q, const pg_vals *pv, bool count, bk_err *err)
{
    bk_buf sql;
    bk_buf_init(&sql);
    bk_rquery_sql(q, count, '$', true, &sql);
    PGresult *r = PQexecParams(pq->conn, sql.data, (int)q->n_v, q->n_v ? pv->oid : NULL,
                               q->n_v ? pv->val : NULL, NULL, NULL, 1);
    bk_buf_fini(&sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        bk_pg_fail(pq, r, count ? "rest count" : "rest read", err);
        PQclear(r);
        return NULL;
    }
    return r;
}

static int rows_out(const bk_rquery *q, const PGresult *r, bk_rrow_fn row, void *ctx)
{
    bk_rval cells[BK_RQ_MAX_COLS];
    char uuids[BK_RQ_MAX_COLS][40];
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        for (size_t c = 0; c < q->n_cols; c++) {
            int k = (int)c;
            bk_rval *v = &cells[c];
            *v = (bk_rval){.null = bk_pg_c_null(r, i, k)};
            switch (q->t->cols[q->cols[c]].type) {
            case BK_RT_TEXT:
                v->s = v->null ? NULL : PQgetvalue(r, i, k);
                break;
            case BK_RT_UUID:
                bk_pg_c_text(uuids[c], sizeof uuids[c], r, i, k);
                v->s = v->null ? NULL : uuids[c];
                break;
            case BK_RT_REAL:
                v->f = bk_pg_c_f64(r, i, k);
                break;
            case BK_RT_TIME:
                v->i = bk_pg_c_time(r, i, k);
                break;
            default:
                v->i = bk_pg_c_i64(r, i, k);
            }
        }
        int rc = row(ctx, cells);
        if (rc)
            return rc;
    }
    return 0;
}

int pg_rest_read(bk_store *s, const bk_rquery *q, bk_rrow_fn row, void *ctx, int64_t *total,
                 bk_err *err)
{
    pg_store *pq = (pg_store *)s;
    pg_vals pv;
    text_values(q, &pv);
    int rc = bk_pg_simple(pq, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "begin", err);
    if (rc)
        return rc;
    pq->in_tx = true;
    PGresult *r;
    if (total) {
        if (!(r = run(pq, q, &pv, true, err))) {
            bk_pg_rollback(pq);
            return bk_pg_errc(err);
        }
        *total = bk_pg_c_i64(r, 0, 0);
        PQclear(r);
    }
    if (!(r = run(pq, q, &pv, false, err))) {
        bk_pg_rollback(pq);
        return bk_pg_errc(err);
    }
    rc = rows_out(q, r, row, ctx);
    PQclear(r);
    if (rc) {
        bk_pg_rollback(pq);
        return rc;
    }
    return bk_pg_commit(pq, err);
}

#define SQL_GAPS                                                                                   \
    "SELECT bk_us(gap_from), bk_us(gap_to) FROM get_coverage_gaps($1, $2, $3, $4) "                \
    "ORDER BY gap_from"

int pg_coverage_gaps(bk_store *s, const char *symbol, bk_tf tf, int32_t window_days, int64_t now_us,
                     bk_ivset *out, bk_err *err)
{
    pg_store *pq = (pg_store *)s;
    bk_pg_params p = {0};
    bk_pg_p_str(&p, symbol);
    bk_pg_p_str(&p, bk_tf_name(tf));
    bk_pg_p_i32(&p, window_days);
    bk_pg_p_ts(&p, now_us);
    PGresult *r = bk_pg_exec(pq, P_COVERAGE_GAPS, SQL_GAPS, "ttiT", &p, "coverage gaps", err);
    if (!r)
        return bk_pg_errc(err);
    for (int i = 0; i < PQntuples(r); i++)
        bk_ivset_add(out, bk_pg_c_i64(r, i, 0), bk_pg_c_i64(r, i, 1));
    PQclear(r);
    return 0;
}
