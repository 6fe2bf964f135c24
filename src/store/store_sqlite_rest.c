/*
 * store_sqlite_rest.c — the PostgREST reads on SQLite (rest.h): the SQL of
 * bk_rquery_sql prepared for the call (its shape varies with the query), the
 * values bound, the count and the rows read in one read transaction.
 */
#include "store/store_sqlite.h"

#include <stdlib.h>

static void bind_values(sqlite3_stmt *st, const bk_rquery *q)
{
    for (size_t i = 0; i < q->n_f; i++) {
        const bk_rfilter *f = &q->f[i];
        bk_rtype t = q->t->cols[f->col].type;
        for (size_t k = 0; k < f->n_val; k++) {
            const bk_rval *v = &q->v[f->first + k];
            int idx = (int)(f->first + k + 1);
            if (v->null)
                sqlite3_bind_null(st, idx);
            else if (t == BK_RT_TEXT || t == BK_RT_UUID)
                sqlite3_bind_text(st, idx, v->s, -1, SQLITE_TRANSIENT);
            else if (t == BK_RT_REAL)
                sqlite3_bind_double(st, idx, v->f);
            else
                sqlite3_bind_int64(st, idx, v->i);
        }
    }
}

static int prepare(sq_store *q, const bk_rquery *rq, bool count, sqlite3_stmt **st, bk_err *err)
{
    bk_buf sql;
    bk_buf_init(&sql);
    bk_rquery_sql(rq, count, '?', false, &sql);
    int src = sqlite3_prepare_v2(q->db, sql.data, (int)sql.len, st, NULL);
    bk_buf_fini(&sql);
    if (src != SQLITE_OK) {
        sqlite3_finalize(*st);
        *st = NULL;
        return bk_sq_fail(q, src, "rest read", err);
    }
    bind_values(*st, rq);
    return 0;
}

static int read_rows(sq_store *q, const bk_rquery *rq, bk_rrow_fn row, void *ctx, bk_err *err)
{
    sqlite3_stmt *st;
    int rc = prepare(q, rq, false, &st, err);
    if (rc)
        return rc;
    bk_rval cells[BK_RQ_MAX_COLS];
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        for (size_t i = 0; i < rq->n_cols; i++) {
            bk_rval *c = &cells[i];
            int k = (int)i;
            *c = (bk_rval){.null = sqlite3_column_type(st, k) == SQLITE_NULL};
            switch (rq->t->cols[rq->cols[i]].type) {
            case BK_RT_TEXT:
            case BK_RT_UUID:
                c->s = (const char *)sqlite3_column_text(st, k);
                c->null = c->null || !c->s;
                break;
            case BK_RT_REAL:
                c->f = sqlite3_column_double(st, k);
                break;
            case BK_RT_BOOL:
                c->i = sqlite3_column_int64(st, k) != 0;
                break;
            default:
                c->i = sqlite3_column_int64(st, k);
            }
        }
        if ((rc = row(ctx, cells)) != 0)
            break;
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = bk_sq_fail(q, src, "rest read", err);
    sqlite3_finalize(st);
    return rc;
}

static int count_rows(sq_store *q, const bk_rquery *rq, int64_t *total, bk_err *err)
{
    sqlite3_stmt *st;
    int rc = prepare(q, rq, true, &st, err);
    if (rc)
        return rc;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        *total = sqlite3_column_int64(st, 0);
    else
        rc = bk_sq_fail(q, src, "rest count", err);
    sqlite3_finalize(st);
    return rc;
}

int sq_rest_read(bk_store *s, const bk_rquery *rq, bk_rrow_fn row, void *ctx, int64_t *total,
                 bk_err *err)
{
    sq_store *q = sq(s);
    int rc = bk_sq_begin_read(q, err);
    if (rc)
        return rc;
    if (total)
        rc = count_rows(q, rq, total, err);
    if (rc == 0)
        rc = read_rows(q, rq, row, ctx, err);
    if (rc == 0)
        return bk_sq_commit(q, err);
    bk_sq_rollback(q);
    return rc;
}
