/*
 * change.h — row changes of the tables Supabase clients subscribe to
 * (job_runs, coverage_status, job_definitions), as Realtime's
 * postgres_changes carries them, and the filters a subscription puts on them.
 *
 * A change is built once where it is published (the work and plan callbacks
 * on SQLite, the change listener on PostgreSQL) and shared read-only,
 * reference-counted, by every subscriber it reaches: the realtime sockets
 * render it into their channels' frames; the SSE streams keep their own
 * job_runs frames (events.h).
 *
 * - A table's columns are fixed (bk_rt_table): their names, their PostgreSQL
 *   type names as Realtime's `columns` gives them (int8, text, timestamptz,
 *   ...), and a type class that filters compare by.
 * - record/old_record are JSON object texts: record is the new row (NULL for
 *   DELETE); old_record holds the primary key only (NULL for INSERT), as
 *   Realtime sends it without REPLICA IDENTITY FULL.
 * - values are the row's cells as text, one per column of the table (NULL
 *   for SQL null): of the new row for INSERT and UPDATE, of the old row for
 *   DELETE. Filters test these.
 *
 * Threads: a published change is immutable; bk_change_retain/release are
 * thread-safe.
 */
#ifndef BK_API_CHANGE_H
#define BK_API_CHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "model/coverage.h"
#include "model/run.h"

typedef enum bk_col_class {
    BK_COL_TEXT,  /* text, uuid: compared as strings */
    BK_COL_INT,   /* int2/int4/int8: compared as integers */
    BK_COL_FLOAT, /* float8/numeric: compared as doubles */
    BK_COL_BOOL,  /* bool: true/false (t/f accepted in filters) */
    BK_COL_TIME,  /* timestamptz: compared as instants */
    BK_COL_JSON,  /* jsonb: eq/neq on the text only */
} bk_col_class;

typedef struct bk_col {
    const char *name;
    const char *pg_type; /* "int8", "text", "timestamptz", ... */
    bk_col_class cls;
} bk_col;

typedef struct bk_table_def {
    const char *name; /* "job_runs" */
    const bk_col *cols;
    size_t ncols;
    const char *pk;           /* primary key column */
    const char *columns_json; /* [{"name":..,"type":..},...] rendered once */
} bk_table_def;

/* The table called name in schema public, or NULL. */
const bk_table_def *bk_rt_table(const char *name);
/* Index of column name in t, or -1. */
int bk_rt_col(const bk_table_def *t, const char *name);

typedef struct bk_change {
    const bk_table_def *table;
    char type[8];      /* "INSERT", "UPDATE" or "DELETE" */
    int64_t commit_us; /* the commit's time */
    char *record;      /* JSON object text, NULL for DELETE */
    char *old_record;  /* JSON object text (primary key only), NULL for INSERT */
    char **values;     /* table->ncols cells as text, NULL = SQL null */
    _Atomic int refs;
} bk_change;

void bk_change_retain(const bk_change *c);
void bk_change_release(const bk_change *c); /* frees on the last release; NULL is fine */

/*
 * Constructors (added with change.c): a new change holding one reference
 * (the caller's), type "INSERT", "UPDATE" or "DELETE", of the row given. ""
 * strings and 0 times are SQL null, as the renderers show them. For DELETE
 * record is NULL and values are the old row's; for INSERT old_record is NULL.
 * A composite primary key (coverage_status: "symbol,timeframe") is named in
 * table->pk comma-separated, and old_record holds each of its columns.
 */
bk_change *bk_change_run(const char *type, const bk_run *r, int64_t commit_us);
bk_change *bk_change_coverage(const char *type, const bk_coverage *cv, int64_t commit_us);
bk_change *bk_change_def(const char *type, const bk_def *d, int64_t commit_us);
/* A DELETE known by its key only (a notification's payload): key[k] is the
 * k-th column of t->pk; the other cells are NULL. */
bk_change *bk_change_delete(const bk_table_def *t, const char *const *key, int64_t commit_us);

/* An instant as PostgreSQL's to_json renders timestamptz (Realtime's record
 * values): "2026-01-02T03:04:05.678+00:00", the fraction's trailing zeros
 * dropped, no fraction when whole. Returns buf. */
#define BK_RT_TIME_MAX 40
char *bk_rt_time_format(int64_t us, char buf[BK_RT_TIME_MAX]);

/*
 * Filters as Realtime accepts them: "col=op.value" with op one of eq, neq,
 * lt, lte, gt, gte, in ("col=in.(a,b,c)", elements optionally in double
 * quotes), several conditions joined by commas outside quotes and
 * parentheses are ANDed. Values are compared by the column's class. Parse
 * fails (BK_EINVAL, a message naming the column or operator) on an unknown
 * column, an unknown operator, or a value that does not parse as the
 * column's type. An empty text is no filter.
 */
typedef struct bk_rt_filter bk_rt_filter;

int bk_rt_filter_parse(const bk_table_def *t, const char *text, bk_rt_filter **out, bk_err *err);
bool bk_rt_filter_match(const bk_rt_filter *f, const bk_change *c); /* NULL f matches all */
void bk_rt_filter_free(bk_rt_filter *f);

#endif
