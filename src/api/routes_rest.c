/*
 * routes_rest.c — PostgREST-compatible reads at /rest/v1/ (docs/supabase.md,
 * "PostgREST reads"): GET/HEAD of job_runs, job_definitions,
 * coverage_status and ohlc_bars_v2 with the grammar of pgrst.h, answered
 * from one store read (store/rest.h) with PostgREST's Content-Range, status
 * and error JSON; POST /rest/v1/rpc/get_coverage_gaps; every write refused
 * as PostgREST refuses the anon role.
 */
#include "api/api_impl.h"
#include "api/pgrst.h"
#include "core/clock.h"
#include "json/jr.h"
#include "model/time.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REST_PREFIX "/rest/v1/"
#define RPC_PREFIX  "/rest/v1/rpc/"
#define CT_JSON     "application/json; charset=utf-8"
#define CT_OBJECT   "application/vnd.pgrst.object+json; charset=utf-8"
#define MAX_ARGS    64

static bk_http_rc answer(bk_api_req *r, int status, const char *ctype, bk_buf *b,
                         const char *content_range)
{
    const char *h[] = {"Access-Control-Expose-Headers", "Content-Range", "Content-Range",
                       content_range, NULL};
    if (!content_range)
        h[2] = NULL;
    return bk_http_send(r, status, ctype, b, h);
}

static bk_http_rc fail(bk_api_req *r, const bk_pgrst_err *e)
{
    bk_buf b;
    bk_buf_init(&b);
    bk_pgrst_err_json(e, &b);
    return answer(r, e->status, CT_JSON, &b, NULL);
}

static bk_http_rc no_table(bk_api_req *r, const char *name)
{
    bk_pgrst_err e;
    bk_pgrst_fail(&e, 404, "PGRST205", NULL,
                  "barkeep serves job_runs, job_definitions, coverage_status and ohlc_bars_v2",
                  "Could not find the table 'public.%.64s' in the schema cache", name);
    return fail(r, &e);
}

/* The schema asked by Accept-Profile / Content-Profile: only public. */
static bool schema_ok(bk_api_req *r, const char *header)
{
    const char *p = bk_http_header(r, header);
    if (!p || strcmp(p, "public") == 0)
        return true;
    bk_pgrst_err e;
    bk_pgrst_fail(&e, 406, "PGRST106", NULL, NULL,
                  "The schema must be one of the following: public");
    fail(r, &e);
    return false;
}

/* ---- reads ---- */

typedef struct args_ctx {
    bk_pgrst_arg a[MAX_ARGS];
    size_t n;
    bool over;
} args_ctx;

static bool collect(void *ctx, const char *key, const char *value)
{
    args_ctx *c = ctx;
    if (c->n == MAX_ARGS) {
        c->over = true;
        return false;
    }
    c->a[c->n++] = (bk_pgrst_arg){key, value};
    return true;
}

typedef struct rows_ctx {
    const bk_rquery *q;
    bk_jw w;
    size_t n;
    bool object; /* the first row alone, as an object */
} rows_ctx;

static int put_row(void *ctx, const bk_rval *cells)
{
    rows_ctx *c = ctx;
    c->n++;
    if (c->object && c->n > 1)
        return 0;
    bk_jw_obj_begin(&c->w);
    for (size_t i = 0; i < c->q->n_cols; i++) {
        const bk_rcol *col = &c->q->t->cols[c->q->cols[i]];
        const bk_rval *v = &cells[i];
        bk_jw_key(&c->w, col->name);
        if (v->null) {
            bk_jw_null(&c->w);
            continue;
        }
        switch (col->type) {
        case BK_RT_TEXT:
        case BK_RT_UUID:
            bk_jw_str(&c->w, v->s);
            break;
        case BK_RT_INT:
            bk_jw_int(&c->w, v->i);
            break;
        case BK_RT_REAL:
            bk_jw_num(&c->w, v->f);
            break;
        case BK_RT_BOOL:
            bk_jw_bool(&c->w, v->i != 0);
            break;
        case BK_RT_TIME: {
            char ts[BK_PGRST_TIME_MAX];
            bk_jw_str(&c->w, bk_pgrst_time(v->i, ts));
            break;
        }
        }
    }
    bk_jw_obj_end(&c->w);
    return 0;
}

/* ohlc_bars_v2 is read one series at a time: symbol=eq. and timeframe=eq. */
static bool bars_bounded(const bk_rquery *q)
{
    bool sym = false, tf = false;
    for (size_t i = 0; i < q->n_f; i++) {
        const bk_rfilter *f = &q->f[i];
        if (f->op != BK_ROP_EQ || f->negate)
            continue;
        sym = sym || f->col == 0;
        tf = tf || f->col == 1;
    }
    return sym && tf;
}

static bk_http_rc no_function(bk_api_req *r, const char *name);
static bk_http_rc coverage_gaps_get(bk_api_req *r);

bk_http_rc bk_route_rest_read(bk_api_req *r)
{
    const char *name = bk_http_path(r) + strlen(REST_PREFIX);
    if (strncmp(bk_http_path(r), RPC_PREFIX, strlen(RPC_PREFIX)) == 0) {
        const char *fn = bk_http_path(r) + strlen(RPC_PREFIX);
        if (strcmp(fn, "get_coverage_gaps") != 0)
            return no_function(r, fn);
        return schema_ok(r, "Accept-Profile") ? coverage_gaps_get(r) : BK_HTTP_ANSWERED;
    }
    const bk_rtable *t = bk_rtable_find(name);
    if (!t)
        return no_table(r, name);
    if (!schema_ok(r, "Accept-Profile"))
        return BK_HTTP_ANSWERED;
    args_ctx ac = {.n = 0};
    bk_http_each_arg(r, collect, &ac);
    bk_pgrst_err e;
    if (ac.over) {
        bk_pgrst_fail(&e, 400, "PGRST100", NULL, NULL, "more than %d query parameters", MAX_ARGS);
        return fail(r, &e);
    }
    bk_pgrst *p = bk_xcalloc(1, sizeof *p);
    bk_http_rc rc;
    if (bk_pgrst_parse(p, t, ac.a, ac.n, &e) < 0) {
        rc = fail(r, &e);
        goto out;
    }
    if (t == bk_rtable_find("ohlc_bars_v2") && !bars_bounded(&p->q)) {
        bk_pgrst_fail(&e, 400, "PGRST100", NULL, "add symbol=eq.AAPL&timeframe=eq.1h",
                      "ohlc_bars_v2 is read one series at a time: filter symbol=eq. and "
                      "timeframe=eq.");
        rc = fail(r, &e);
        goto out;
    }
    /* the window: offset/limit within the Range header's items */
    int64_t lo = p->offset, hi = p->limit >= 0 ? p->offset + p->limit - 1 : -1;
    int64_t hlo, hhi;
    bool ranged = bk_pgrst_range(bk_http_header(r, "Range"), &hlo, &hhi);
    if (ranged) {
        if (hhi >= 0 && hhi < hlo) {
            bk_pgrst_fail(&e, 416, "PGRST103", NULL, NULL, "Requested range not satisfiable");
            rc = fail(r, &e);
            goto out;
        }
        lo = BK_MAX(lo, hlo);
        hi = hi < 0 ? hhi : hhi < 0 ? hi : BK_MIN(hi, hhi);
    }
    int64_t max_rows = bk_http_opts(r)->conf->rest_max_rows;
    int64_t want = p->limit == 0 ? 0 : hi < 0 ? max_rows : hi < lo ? 0 : hi - lo + 1;
    const char *accept = bk_http_header(r, "Accept");
    bool object = accept && strstr(accept, "application/vnd.pgrst.object+json");
    p->q.offset = lo;
    p->q.limit = BK_MIN(want, max_rows);
    if (object)
        p->q.limit = BK_MIN(p->q.limit, 2); /* enough to tell one row from several */
    bool count = bk_pgrst_prefer_count(bk_http_header(r, "Prefer"));
    bk_store *s = bk_http_store(r);
    if (!s) {
        rc = BK_HTTP_ANSWERED;
        goto out;
    }
    bk_buf b;
    bk_buf_init(&b);
    rows_ctx rows = {.q = &p->q, .object = object};
    bk_jw_init(&rows.w, &b);
    if (!object)
        bk_jw_arr_begin(&rows.w);
    int64_t total = -1;
    bk_err err = {0};
    int src = bk_store_rest_read(s, &p->q, put_row, &rows, count ? &total : NULL, &err);
    bk_http_store_put(r, s);
    if (src) {
        bk_buf_fini(&b);
        rc = bk_http_store_error(r, &err);
        goto out;
    }
    if (!object)
        bk_jw_arr_end(&rows.w);
    if (count && lo > total) {
        bk_buf_fini(&b);
        char det[128];
        snprintf(det, sizeof det, "An offset of %lld was requested, but there are only %lld rows.",
                 (long long)lo, (long long)total);
        bk_pgrst_fail(&e, 416, "PGRST103", det, NULL, "Requested range not satisfiable");
        rc = fail(r, &e);
        goto out;
    }
    if (object && rows.n != 1) {
        bk_buf_fini(&b);
        char det[64];
        snprintf(det, sizeof det, "The result contains %s rows", rows.n ? "2 or more" : "0");
        bk_pgrst_fail(&e, 406, "PGRST116", det, NULL,
                      "JSON object requested, multiple (or no) rows returned");
        rc = fail(r, &e);
        goto out;
    }
    /* Content-Range as PostgREST writes it: FIRST-LAST/TOTAL, * for an empty
     * range or an unknown total; 206 only when a count shows rows left out */
    char range[64], tot[24];
    int64_t n = (int64_t)rows.n;
    snprintf(tot, sizeof tot, count ? "%lld" : "*", (long long)total);
    if (n > 0 && total != 0)
        snprintf(range, sizeof range, "%lld-%lld/%s", (long long)lo, (long long)(lo + n - 1), tot);
    else
        snprintf(range, sizeof range, "*/%s", tot);
    int status = count && n < total && !object ? 206 : 200;
    rc = answer(r, status, object ? CT_OBJECT : CT_JSON, &b, range);
out:
    free(p);
    return rc;
}

/* ---- writes: refused ---- */

bk_http_rc bk_route_rest_write(bk_api_req *r)
{
    const char *name = bk_http_path(r) + strlen(REST_PREFIX);
    if (!bk_rtable_find(name))
        return no_table(r, name);
    bk_pgrst_err e;
    bk_pgrst_fail(&e, 401, "42501", NULL, NULL, "permission denied for table %s", name);
    return fail(r, &e);
}

/* ---- rpc ---- */

static bk_http_rc no_function(bk_api_req *r, const char *name)
{
    bk_pgrst_err e;
    char details[256]; /* bk_pgrst_fail copies details as they are: no format of its own */
    snprintf(details, sizeof details,
             "Searched for the function public.%.64s with parameter p_symbol, p_timeframe, "
             "p_window_days (and optionally p_now)",
             name);
    bk_pgrst_fail(&e, 404, "PGRST202", details,
                  "barkeep serves rpc/get_coverage_gaps(p_symbol, p_timeframe, p_window_days, "
                  "p_now)",
                  "Could not find the function public.%.64s in the schema cache", name);
    return fail(r, &e);
}

static bk_http_rc bad_param(bk_api_req *r, const char *what, const char *value)
{
    bk_pgrst_err e;
    bk_pgrst_fail(&e, 400, "22023", NULL, NULL, "%s %.40s", what, value);
    return fail(r, &e);
}

/* A string member of o (NULL when absent or not a string without NUL). */
static const char *str_arg(const bk_jval *o, const char *key)
{
    const char *s;
    size_t n;
    if (bk_jv_str(bk_jv_get(o, key), &s, &n) != 0 || n != strlen(s))
        return NULL;
    return s;
}

/* gaps = expected trading time of the window − coverage: what
 * get_coverage_gaps returns, computed in C on a store without the
 * function (SQLite). */
static int gaps_in_c(bk_store *s, const bk_api_opts *o, const char *sym, bk_tf tf, int32_t days,
                     int64_t now, bk_ivset *out, bk_err *err)
{
    bk_series *st = NULL;
    size_t n = 0;
    int rc = bk_store_series_load(s, sym, (int)tf, &st, &n, err);
    if (rc)
        return rc;
    bk_plan_expected(&o->plan, tf, days, now, out);
    if (n)
        bk_ivset_subtract(out, &st[0].covered);
    bk_series_free(st, n);
    return 0;
}

/* The arguments of get_coverage_gaps, from a JSON body or a query. */
typedef struct gaps_args {
    const char *sym, *tf, *now, *days_s; /* NULL when absent */
    int64_t days;
    bool days_given, now_bad;
} gaps_args;

static bk_http_rc coverage_gaps(bk_api_req *r, const gaps_args *a)
{
    bk_err err = {0};
    bk_http_rc rc;
    char sym[BK_SYM_MAX + 1];
    bk_tf tf;
    int64_t now = bk_clock_now_us();
    if (!a->sym || !a->tf || !a->days_given || a->now_bad) {
        rc = no_function(r, "get_coverage_gaps");
    } else if (bk_tf_parse(a->tf, &tf) != 0) {
        rc = bad_param(r, "unknown timeframe", a->tf);
    } else if (a->days < 1 || a->days > 36500) {
        char days[24];
        snprintf(days, sizeof days, "%lld", (long long)a->days); /* a JSON number has no days_s */
        rc = bad_param(r, "window_days out of range 1..36500:", days);
    } else if (bk_sym_parse(a->sym, sym) != 0) {
        rc = bad_param(r, "invalid symbol", a->sym);
    } else if (a->now && bk_time_parse(a->now, &now) != 0) {
        bk_pgrst_err e;
        bk_pgrst_fail(&e, 400, "22007", NULL, NULL,
                      "invalid input syntax for type timestamp with time zone: \"%.60s\"", a->now);
        rc = fail(r, &e);
    } else {
        bk_store *s = bk_http_store(r);
        if (!s)
            return BK_HTTP_ANSWERED;
        bk_ivset gaps;
        bk_ivset_init(&gaps);
        int src = strcmp(bk_store_kind(s), "postgres") == 0
                      ? bk_store_coverage_gaps(s, sym, tf, (int32_t)a->days, now, &gaps, &err)
                      : gaps_in_c(s, bk_http_opts(r), sym, tf, (int32_t)a->days, now, &gaps, &err);
        bk_http_store_put(r, s);
        if (src) {
            rc = bk_http_store_error(r, &err);
        } else {
            bk_buf b;
            bk_buf_init(&b);
            bk_jw w;
            bk_jw_init(&w, &b);
            bk_jw_arr_begin(&w);
            for (size_t i = 0; i < gaps.n; i++) {
                char ts[BK_PGRST_TIME_MAX];
                bk_jw_obj_begin(&w);
                bk_jw_key(&w, "gap_from");
                bk_jw_str(&w, bk_pgrst_time(gaps.v[i].from_us, ts));
                bk_jw_key(&w, "gap_to");
                bk_jw_str(&w, bk_pgrst_time(gaps.v[i].to_us, ts));
                bk_jw_key(&w, "gap_hours");
                bk_jw_num(&w, (double)(gaps.v[i].to_us - gaps.v[i].from_us) / 3600e6);
                bk_jw_obj_end(&w);
            }
            bk_jw_arr_end(&w);
            char range[48];
            if (gaps.n)
                snprintf(range, sizeof range, "0-%zu/*", gaps.n - 1);
            else
                snprintf(range, sizeof range, "*/*");
            rc = answer(r, 200, CT_JSON, &b, range);
        }
        bk_ivset_fini(&gaps);
    }
    return rc;
}

static bk_http_rc coverage_gaps_post(bk_api_req *r)
{
    bk_jdoc *doc = NULL;
    bk_err err = {0};
    const char *body = bk_http_body(r);
    size_t len = bk_http_body_len(r);
    if (len == 0) { /* a call without arguments */
        body = "{}";
        len = 2;
    }
    if (bk_jdoc_parse(&doc, body, len, &err) != 0) {
        bk_pgrst_err e;
        bk_pgrst_fail(&e, 400, "PGRST102", NULL, NULL, "Empty or invalid json");
        return fail(r, &e);
    }
    const bk_jval *o = bk_jdoc_root(doc);
    gaps_args a = {.sym = str_arg(o, "p_symbol"),
                   .tf = str_arg(o, "p_timeframe"),
                   .now = str_arg(o, "p_now"),
                   .days_s = str_arg(o, "p_window_days")};
    a.days_given = bk_jv_int(bk_jv_get(o, "p_window_days"), &a.days) == 0 ||
                   (a.days_s && bk_parse_i64(a.days_s, INT32_MIN, INT32_MAX, &a.days) == 0);
    a.now_bad = bk_jv_get(o, "p_now") && !a.now;
    bk_http_rc rc = coverage_gaps(r, &a);
    bk_jdoc_free(doc);
    return rc;
}

/* GET /rest/v1/rpc/get_coverage_gaps?p_symbol=...: rpc(..., { get: true }). */
static bk_http_rc coverage_gaps_get(bk_api_req *r)
{
    gaps_args a = {.sym = bk_http_arg(r, "p_symbol"),
                   .tf = bk_http_arg(r, "p_timeframe"),
                   .now = bk_http_arg(r, "p_now"),
                   .days_s = bk_http_arg(r, "p_window_days")};
    a.days_given = a.days_s && bk_parse_i64(a.days_s, INT32_MIN, INT32_MAX, &a.days) == 0;
    return coverage_gaps(r, &a);
}

bk_http_rc bk_route_rest_post(bk_api_req *r)
{
    const char *path = bk_http_path(r);
    if (strncmp(path, RPC_PREFIX, strlen(RPC_PREFIX)) != 0)
        return bk_route_rest_write(r);
    if (!schema_ok(r, "Content-Profile"))
        return BK_HTTP_ANSWERED;
    const char *fn = path + strlen(RPC_PREFIX);
    if (strcmp(fn, "get_coverage_gaps") != 0)
        return no_function(r, fn);
    return coverage_gaps_post(r);
}
