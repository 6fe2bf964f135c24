/*
 * rest.c — the tables /rest/v1/ serves and the SQL of a read query (rest.h),
 * shared by both backends (store_sqlite_rest.c, store_pg_rest.c).
 */
#include "store/rest.h"

#include <string.h>

#define T  BK_RT_TEXT
#define U  BK_RT_UUID
#define I  BK_RT_INT
#define R  BK_RT_REAL
#define B  BK_RT_BOOL
#define TS BK_RT_TIME

static const bk_rcol runs_cols[] = {
    {"id", U},
    {"job_def_id", U},
    {"symbol", T},
    {"timeframe", T},
    {"job_type", T},
    {"slice_from", TS},
    {"slice_to", TS},
    {"status", T},
    {"progress_percent", R},
    {"rows_written", I},
    {"provider", T},
    {"attempt", I},
    {"error_code", T},
    {"error_message", T},
    {"triggered_by", T},
    {"created_at", TS},
    {"started_at", TS},
    {"finished_at", TS},
    {"updated_at", TS},
    {"priority", I},
    {"max_attempts", I},
    {"not_before", TS},
    {"lease_owner", T},
    {"lease_until", TS},
    {"lease_expiries", I},
    {"dead_retries", I},
};
static const int runs_key[] = {15, 0}; /* created_at, id */

static const bk_rcol defs_cols[] = {
    {"id", U},       {"job_type", T}, {"symbol", T},      {"timeframe", T},   {"window_days", I},
    {"priority", I}, {"enabled", B},  {"created_at", TS}, {"updated_at", TS},
};
static const int defs_key[] = {7, 0}; /* created_at, id */

static const bk_rcol cov_cols[] = {
    {"symbol", T},           {"timeframe", T},         {"from_ts", TS},      {"to_ts", TS},
    {"last_success_at", TS}, {"last_rows_written", I}, {"last_provider", T}, {"updated_at", TS},
};
static const int cov_key[] = {0, 1}; /* symbol, timeframe */

static const bk_rcol bars_cols[] = {
    {"symbol", T}, {"timeframe", T}, {"ts", TS},      {"open", R}, {"high", R},       {"low", R},
    {"close", R},  {"volume", R},    {"provider", T}, {"feed", T}, {"adjustment", T},
};
static const int bars_key[] = {0, 1, 2}; /* symbol, timeframe, ts: the primary key */

#undef T
#undef U
#undef I
#undef R
#undef B
#undef TS

#define TABLE(name, cols, key)                                                                     \
    {                                                                                              \
        name, cols, sizeof cols / sizeof cols[0], key, sizeof key / sizeof key[0]                  \
    }
static const bk_rtable tables[] = {
    TABLE("job_runs", runs_cols, runs_key),
    TABLE("job_definitions", defs_cols, defs_key),
    TABLE("coverage_status", cov_cols, cov_key),
    TABLE("ohlc_bars_v2", bars_cols, bars_key),
};

const bk_rtable *bk_rtable_find(const char *name)
{
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        if (strcmp(tables[i].name, name) == 0)
            return &tables[i];
    return NULL;
}

int bk_rtable_col(const bk_rtable *t, const char *name)
{
    for (size_t i = 0; i < t->n_cols; i++)
        if (strcmp(t->cols[i].name, name) == 0)
            return (int)i;
    return -1;
}

static void put_order(const bk_rquery *q, int col, bool desc, int nulls, bool pg, bool *first,
                      bk_buf *b)
{
    const bk_rcol *c = &q->t->cols[col];
    bk_buf_puts(b, *first ? " ORDER BY " : ", ");
    *first = false;
    bk_buf_puts(b, c->name);
    if (pg && c->type == BK_RT_TEXT)
        bk_buf_puts(b, " COLLATE \"C\"");
    bk_buf_puts(b, desc ? " DESC" : " ASC");
    bool nf = nulls == 1 || (nulls == 0 && desc);
    bk_buf_puts(b, nf ? " NULLS FIRST" : " NULLS LAST");
}

void bk_rquery_sql(const bk_rquery *q, bool count, char ph, bool pg, bk_buf *b)
{
    static const char *const ops[] = {"=", "<>", ">", ">=", "<", "<="};
    bk_buf_puts(b, "SELECT ");
    if (count) {
        bk_buf_puts(b, "count(*)");
    } else {
        for (size_t i = 0; i < q->n_cols; i++)
            bk_buf_printf(b, "%s%s", i ? ", " : "", q->t->cols[q->cols[i]].name);
    }
    bk_buf_printf(b, " FROM %s", q->t->name);
    for (size_t i = 0; i < q->n_f; i++) {
        const bk_rfilter *f = &q->f[i];
        const char *col = q->t->cols[f->col].name;
        bk_buf_puts(b, i ? " AND " : " WHERE ");
        if (f->negate)
            bk_buf_puts(b, "NOT ");
        if (f->op == BK_ROP_IS) {
            static const char *const is[] = {"NULL", "TRUE", "FALSE"};
            bk_buf_printf(b, "(%s IS %s)", col, is[f->is_what]);
        } else if (f->op == BK_ROP_IN) {
            bk_buf_printf(b, "(%s IN (", col);
            for (size_t k = 0; k < f->n_val; k++)
                bk_buf_printf(b, "%s%c%zu", k ? ", " : "", ph, f->first + k + 1);
            if (f->n_val == 0)
                bk_buf_puts(b, "NULL"); /* in.() matches nothing */
            bk_buf_puts(b, "))");
        } else {
            bk_buf_printf(b, "(%s %s %c%zu)", col, ops[f->op], ph, f->first + 1);
        }
    }
    if (count)
        return;
    bool first = true;
    for (size_t i = 0; i < q->n_o; i++)
        put_order(q, q->o[i].col, q->o[i].desc, q->o[i].nulls, pg, &first, b);
    for (size_t i = 0; i < q->t->n_key; i++)
        put_order(q, q->t->key[i], false, 0, pg, &first, b);
    bk_buf_printf(b, " LIMIT %lld OFFSET %lld", (long long)q->limit, (long long)q->offset);
}
