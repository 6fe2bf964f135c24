/*
 * change.c — the tables Supabase clients subscribe to and the row changes
 * published for them (see change.h for the contract).
 *
 * Main idea: a table's columns are a static list; the first call of
 * bk_rt_table renders each table's `columns` JSON once (pthread_once). A
 * change is built by one row builder that walks the table's columns in
 * order and writes each cell twice: as a JSON value into record (numbers,
 * booleans and null as JSON, timestamptz as PostgreSQL's to_json renders it,
 * "2026-01-02T03:04:05.678+00:00") and as text into values (what filters
 * test, rt_filter.c). old_record is the primary key, from the same cells.
 *
 * Read next: src/api/rt_filter.c (filters), src/api/events.c (the bus).
 */
#include "api/change.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/util.h"
#include "json/jw.h"
#include "model/time.h"

/* Columns as the PostgreSQL schema has them (src/store/sql/pg/), in the
 * order the SSE payload renders a run (render.c); job_runs.seq is the
 * store's own and not shown. */
static const bk_col RUN_COLS[] = {
    {"id", "uuid", BK_COL_TEXT},
    {"job_def_id", "uuid", BK_COL_TEXT},
    {"symbol", "text", BK_COL_TEXT},
    {"timeframe", "text", BK_COL_TEXT},
    {"job_type", "text", BK_COL_TEXT},
    {"slice_from", "timestamptz", BK_COL_TIME},
    {"slice_to", "timestamptz", BK_COL_TIME},
    {"status", "text", BK_COL_TEXT},
    {"progress_percent", "float8", BK_COL_FLOAT},
    {"rows_written", "int8", BK_COL_INT},
    {"provider", "text", BK_COL_TEXT},
    {"attempt", "int4", BK_COL_INT},
    {"max_attempts", "int4", BK_COL_INT},
    {"lease_expiries", "int4", BK_COL_INT},
    {"dead_retries", "int4", BK_COL_INT},
    {"priority", "int4", BK_COL_INT},
    {"error_code", "text", BK_COL_TEXT},
    {"error_message", "text", BK_COL_TEXT},
    {"triggered_by", "text", BK_COL_TEXT},
    {"created_at", "timestamptz", BK_COL_TIME},
    {"started_at", "timestamptz", BK_COL_TIME},
    {"finished_at", "timestamptz", BK_COL_TIME},
    {"updated_at", "timestamptz", BK_COL_TIME},
    {"not_before", "timestamptz", BK_COL_TIME},
    {"lease_owner", "text", BK_COL_TEXT},
    {"lease_until", "timestamptz", BK_COL_TIME},
};

static const bk_col COV_COLS[] = {
    {"symbol", "text", BK_COL_TEXT},
    {"timeframe", "text", BK_COL_TEXT},
    {"from_ts", "timestamptz", BK_COL_TIME},
    {"to_ts", "timestamptz", BK_COL_TIME},
    {"last_success_at", "timestamptz", BK_COL_TIME},
    {"last_rows_written", "int8", BK_COL_INT},
    {"last_provider", "text", BK_COL_TEXT},
    {"updated_at", "timestamptz", BK_COL_TIME},
};

static const bk_col DEF_COLS[] = {
    {"id", "uuid", BK_COL_TEXT},
    {"job_type", "text", BK_COL_TEXT},
    {"symbol", "text", BK_COL_TEXT},
    {"timeframe", "text", BK_COL_TEXT},
    {"window_days", "int4", BK_COL_INT},
    {"priority", "int4", BK_COL_INT},
    {"enabled", "bool", BK_COL_BOOL},
    {"created_at", "timestamptz", BK_COL_TIME},
    {"updated_at", "timestamptz", BK_COL_TIME},
};

#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))

/* coverage_status's primary key is (symbol, timeframe): pk names both,
 * comma-separated, and old_record holds both. */
static bk_table_def TABLES[] = {
    {"job_runs", RUN_COLS, NCOLS(RUN_COLS), "id", NULL},
    {"coverage_status", COV_COLS, NCOLS(COV_COLS), "symbol,timeframe", NULL},
    {"job_definitions", DEF_COLS, NCOLS(DEF_COLS), "id", NULL},
};
#define N_TABLES NCOLS(TABLES)

static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void tables_init(void)
{
    for (size_t t = 0; t < N_TABLES; t++) {
        bk_buf b;
        bk_buf_init(&b);
        bk_jw w;
        bk_jw_init(&w, &b);
        bk_jw_arr_begin(&w);
        for (size_t i = 0; i < TABLES[t].ncols; i++) {
            bk_jw_obj_begin(&w);
            bk_jw_key(&w, "name");
            bk_jw_str(&w, TABLES[t].cols[i].name);
            bk_jw_key(&w, "type");
            bk_jw_str(&w, TABLES[t].cols[i].pg_type);
            bk_jw_obj_end(&w);
        }
        bk_jw_arr_end(&w);
        TABLES[t].columns_json = b.data; /* process lifetime */
    }
}

const bk_table_def *bk_rt_table(const char *name)
{
    pthread_once(&tables_once, tables_init);
    for (size_t t = 0; name && t < N_TABLES; t++)
        if (strcmp(TABLES[t].name, name) == 0)
            return &TABLES[t];
    return NULL;
}

int bk_rt_col(const bk_table_def *t, const char *name)
{
    for (size_t i = 0; t && name && i < t->ncols; i++)
        if (strcmp(t->cols[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* ---- timestamptz text ---- */

char *bk_rt_time_format(int64_t us, char buf[BK_RT_TIME_MAX])
{
    int64_t day = us / BK_US_PER_DAY, rem = us % BK_US_PER_DAY;
    if (rem < 0) {
        rem += BK_US_PER_DAY;
        day--;
    }
    int y, m, d;
    bk_civil_from_days((int32_t)day, &y, &m, &d);
    int64_t secs = rem / BK_US_PER_S;
    int frac = (int)(rem % BK_US_PER_S);
    int n = snprintf(buf, BK_RT_TIME_MAX, "%04d-%02d-%02dT%02d:%02d:%02d", y, m, d,
                     (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
    if (frac) {
        char f[8];
        snprintf(f, sizeof f, ".%06d", frac);
        size_t len = strlen(f);
        while (f[len - 1] == '0')
            f[--len] = '\0';
        n += snprintf(buf + n, BK_RT_TIME_MAX - (size_t)n, "%s", f);
    }
    snprintf(buf + n, BK_RT_TIME_MAX - (size_t)n, "+00:00");
    return buf;
}

/* ---- the row builder ---- */

typedef struct row_b {
    bk_change *c;
    bk_buf rec;
    bk_jw w;
    size_t i; /* the next column */
} row_b;

static void rb_begin(row_b *rb, const bk_table_def *t, const char *type, int64_t commit_us)
{
    bk_change *c = bk_xcalloc(1, sizeof *c);
    c->table = t;
    bk_strlcpy(c->type, type, sizeof c->type);
    c->commit_us = commit_us;
    c->values = bk_xcalloc(t->ncols ? t->ncols : 1, sizeof *c->values);
    atomic_init(&c->refs, 1);
    rb->c = c;
    rb->i = 0;
    bk_buf_init(&rb->rec);
    bk_jw_init(&rb->w, &rb->rec);
    bk_jw_obj_begin(&rb->w);
}

static void rb_key(row_b *rb)
{
    bk_jw_key(&rb->w, rb->c->table->cols[rb->i].name);
}

/* "" is SQL null, as the renderers show it. */
static void rb_text(row_b *rb, const char *s)
{
    rb_key(rb);
    bk_jw_str(&rb->w, s && *s ? s : NULL);
    rb->c->values[rb->i++] = s && *s ? bk_xstrdup(s) : NULL;
}

static void rb_int(row_b *rb, int64_t v)
{
    rb_key(rb);
    bk_jw_int(&rb->w, v);
    char t[24];
    snprintf(t, sizeof t, "%lld", (long long)v);
    rb->c->values[rb->i++] = bk_xstrdup(t);
}

static void rb_float(row_b *rb, double v)
{
    rb_key(rb);
    size_t at = rb->rec.len;
    bk_jw_num(&rb->w, v);
    /* the cell is the number's JSON text, as written */
    size_t n = rb->rec.len - at;
    char *t = bk_xmalloc(n + 1);
    memcpy(t, rb->rec.data + at, n);
    t[n] = '\0';
    rb->c->values[rb->i++] = t;
}

static void rb_bool(row_b *rb, bool v)
{
    rb_key(rb);
    bk_jw_bool(&rb->w, v);
    rb->c->values[rb->i++] = bk_xstrdup(v ? "true" : "false");
}

/* 0 is SQL null. */
static void rb_time(row_b *rb, int64_t us)
{
    rb_key(rb);
    if (!us) {
        bk_jw_null(&rb->w);
        rb->c->values[rb->i++] = NULL;
        return;
    }
    char t[BK_RT_TIME_MAX];
    bk_rt_time_format(us, t);
    bk_jw_str(&rb->w, t);
    rb->c->values[rb->i++] = bk_xstrdup(t);
}

/* {"<pk col>":"<cell>",...}: every key column is text. */
static char *pk_json(const bk_change *c)
{
    const bk_table_def *t = c->table;
    bk_buf b;
    bk_buf_init(&b);
    bk_jw w;
    bk_jw_init(&w, &b);
    bk_jw_obj_begin(&w);
    const char *p = t->pk;
    while (*p) {
        size_t n = strcspn(p, ",");
        for (size_t i = 0; i < t->ncols; i++)
            if (strlen(t->cols[i].name) == n && memcmp(t->cols[i].name, p, n) == 0) {
                bk_jw_key(&w, t->cols[i].name);
                bk_jw_str(&w, c->values[i]);
            }
        p += n + (p[n] == ',');
    }
    bk_jw_obj_end(&w);
    return b.data;
}

static bk_change *rb_end(row_b *rb)
{
    bk_change *c = rb->c;
    bk_jw_obj_end(&rb->w);
    if (rb->i != c->table->ncols)
        abort(); /* a builder out of step with its table's columns */
    bool del = strcmp(c->type, "DELETE") == 0;
    if (del)
        bk_buf_fini(&rb->rec);
    else
        c->record = rb->rec.data;
    if (strcmp(c->type, "INSERT") != 0)
        c->old_record = pk_json(c);
    return c;
}

bk_change *bk_change_run(const char *type, const bk_run *r, int64_t commit_us)
{
    row_b rb;
    rb_begin(&rb, bk_rt_table("job_runs"), type, commit_us);
    rb_text(&rb, r->id);
    rb_text(&rb, r->def_id);
    rb_text(&rb, r->symbol);
    rb_text(&rb, bk_tf_name(r->tf));
    rb_text(&rb, bk_job_name(r->type));
    rb_time(&rb, r->slice_from_us);
    rb_time(&rb, r->slice_to_us);
    rb_text(&rb, bk_status_name(r->status));
    rb_float(&rb, r->progress_percent);
    rb_int(&rb, r->rows_written);
    rb_text(&rb, r->provider);
    rb_int(&rb, r->attempt);
    rb_int(&rb, r->max_attempts);
    rb_int(&rb, r->lease_expiries);
    rb_int(&rb, r->dead_retries);
    rb_int(&rb, r->priority);
    rb_text(&rb, r->error_code);
    rb_text(&rb, r->error_message);
    rb_text(&rb, r->triggered_by);
    rb_time(&rb, r->created_us);
    rb_time(&rb, r->started_us);
    rb_time(&rb, r->finished_us);
    rb_time(&rb, r->updated_us);
    rb_time(&rb, r->not_before_us);
    rb_text(&rb, r->lease_owner);
    rb_time(&rb, r->lease_until_us);
    return rb_end(&rb);
}

bk_change *bk_change_coverage(const char *type, const bk_coverage *cv, int64_t commit_us)
{
    row_b rb;
    rb_begin(&rb, bk_rt_table("coverage_status"), type, commit_us);
    rb_text(&rb, cv->symbol);
    rb_text(&rb, bk_tf_name(cv->tf));
    rb_time(&rb, cv->from_us);
    rb_time(&rb, cv->to_us);
    rb_time(&rb, cv->last_success_us);
    rb_int(&rb, cv->last_rows_written);
    rb_text(&rb, cv->last_provider);
    rb_time(&rb, cv->updated_us);
    return rb_end(&rb);
}

bk_change *bk_change_def(const char *type, const bk_def *d, int64_t commit_us)
{
    row_b rb;
    rb_begin(&rb, bk_rt_table("job_definitions"), type, commit_us);
    rb_text(&rb, d->id);
    rb_text(&rb, bk_job_name(d->type));
    rb_text(&rb, d->symbol);
    rb_text(&rb, bk_tf_name(d->tf));
    rb_int(&rb, d->window_days);
    rb_int(&rb, d->priority);
    rb_bool(&rb, d->enabled);
    rb_time(&rb, d->created_us);
    rb_time(&rb, d->updated_us);
    return rb_end(&rb);
}

bk_change *bk_change_delete(const bk_table_def *t, const char *const *key, int64_t commit_us)
{
    bk_change *c = bk_xcalloc(1, sizeof *c);
    c->table = t;
    bk_strlcpy(c->type, "DELETE", sizeof c->type);
    c->commit_us = commit_us;
    c->values = bk_xcalloc(t->ncols ? t->ncols : 1, sizeof *c->values);
    atomic_init(&c->refs, 1);
    const char *p = t->pk;
    for (size_t k = 0; *p; k++) {
        size_t n = strcspn(p, ",");
        for (size_t i = 0; i < t->ncols; i++)
            if (strlen(t->cols[i].name) == n && memcmp(t->cols[i].name, p, n) == 0)
                c->values[i] = key[k] ? bk_xstrdup(key[k]) : NULL;
        p += n + (p[n] == ',');
    }
    c->old_record = pk_json(c);
    return c;
}

void bk_change_retain(const bk_change *c)
{
    if (c)
        atomic_fetch_add_explicit(&((bk_change *)(uintptr_t)c)->refs, 1, memory_order_relaxed);
}

void bk_change_release(const bk_change *c)
{
    bk_change *m = (bk_change *)(uintptr_t)c; /* refs is the one mutable field */
    if (!m || atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < m->table->ncols; i++)
        free(m->values[i]);
    free(m->values);
    free(m->record);
    free(m->old_record);
    free(m);
}
