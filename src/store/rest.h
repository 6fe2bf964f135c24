/*
 * rest.h — the PostgREST-style reads of the HTTP API (/rest/v1/, api/pgrst.h
 * parses them) as the store serves them: the tables and columns that may be
 * read (a whitelist: no other name ever reaches SQL), and one read query —
 * columns, filters, order, a window — that each backend turns into one
 * parameterised SELECT (values are bound, never pasted).
 */
#ifndef BK_STORE_REST_H
#define BK_STORE_REST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/util.h"

typedef enum bk_rtype {
    BK_RT_TEXT,
    BK_RT_UUID,
    BK_RT_INT,  /* int4 / int8 */
    BK_RT_REAL, /* float8 */
    BK_RT_BOOL,
    BK_RT_TIME, /* timestamptz (SQLite: INTEGER microseconds) */
} bk_rtype;

typedef struct bk_rcol {
    const char *name;
    bk_rtype type;
} bk_rcol;

typedef struct bk_rtable {
    const char *name;
    const bk_rcol *cols;
    size_t n_cols;
    const int *key; /* columns of the default order, the tie-break of every order */
    size_t n_key;
} bk_rtable;

/* The served table called name, or NULL. */
const bk_rtable *bk_rtable_find(const char *name);
/* Index of column name in t, or -1. */
int bk_rtable_col(const bk_rtable *t, const char *name);

#define BK_RQ_MAX_COLS    48
#define BK_RQ_MAX_FILTERS 16
#define BK_RQ_MAX_VALUES  64 /* bound values over every filter */
#define BK_RQ_MAX_ORDER   8

typedef enum bk_rop {
    BK_ROP_EQ,
    BK_ROP_NEQ,
    BK_ROP_GT,
    BK_ROP_GTE,
    BK_ROP_LT,
    BK_ROP_LTE,
    BK_ROP_IN,
    BK_ROP_IS,
} bk_rop;

enum { BK_RIS_NULL, BK_RIS_TRUE, BK_RIS_FALSE };

/* A value of a column's type: i for INT, BOOL (0/1) and TIME (microseconds),
 * f for REAL, s for TEXT and UUID. */
typedef struct bk_rval {
    bool null;
    int64_t i;
    double f;
    const char *s;
} bk_rval;

typedef struct bk_rfilter {
    int col;
    bk_rop op;
    bool negate;
    int is_what;         /* BK_ROP_IS: BK_RIS_* */
    size_t first, n_val; /* its values: v[first .. first + n_val) (none for IS) */
} bk_rfilter;

typedef struct bk_rorder {
    int col;
    bool desc;
    int nulls; /* 0: PostgreSQL's default (last ascending, first descending), 1 first, 2 last */
} bk_rorder;

typedef struct bk_rquery {
    const bk_rtable *t;
    int cols[BK_RQ_MAX_COLS]; /* the columns returned, in order */
    size_t n_cols;
    bk_rfilter f[BK_RQ_MAX_FILTERS];
    size_t n_f;
    bk_rval v[BK_RQ_MAX_VALUES];
    size_t n_v;
    bk_rorder o[BK_RQ_MAX_ORDER];
    size_t n_o;
    int64_t offset, limit; /* rows skipped, rows returned at most (both >= 0) */
} bk_rquery;

/* One row: q->n_cols cells in q->cols order (strings valid during the call).
 * A non-zero return stops the read and is returned. */
typedef int (*bk_rrow_fn)(void *ctx, const bk_rval *cells);

/* The SQL of q for a backend (store/rest.c): "SELECT cols FROM t WHERE ...
 * ORDER BY ... LIMIT n OFFSET m", or with count "SELECT count(*) FROM t
 * WHERE ..."; value k of q->v is parameter k + 1, written ph (? or $)
 * followed by k + 1. pg adds COLLATE "C" to text orders (byte order, as
 * SQLite sorts). */
void bk_rquery_sql(const bk_rquery *q, bool count, char ph, bool pg, bk_buf *out);

#endif
