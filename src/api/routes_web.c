/*
 * routes_web.c — what the web client needs beyond the guide's endpoints:
 * the page itself (GET / and GET /assets/<hash>/<file>, embedded into the
 * binary at build time by web/embed.mjs), the watchlist with per-series
 * coverage, holes and hydration progress (GET /functions/v1/watchlist),
 * removing a definition (POST /functions/v1/watchlist?action=remove) and
 * the newest runs (GET /functions/v1/runs).
 *
 * The page is served with its own caching rules: "/" is revalidated on
 * every load (no-cache, ETag, 304), files under /assets/ carry the hash of
 * the whole asset set in their path and are cached for a year. When the
 * build had no node/npm the asset table is empty and "/" answers a small
 * page saying so; the API never depends on the page. Read docs/web.md next.
 */
#include "api/api_impl.h"
#include "api/render.h"
#include "core/clock.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

#define STRIP_CELLS 48  /* cells of the holes strip over the window */
#define RUNS_LIMIT  50  /* default of GET /functions/v1/runs?limit= */
#define RUNS_MAX    500 /* its largest accepted value */

static const unsigned char fallback_page[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>barkeep</title></head><body style=\"font-family:sans-serif;max-width:40em;"
    "margin:2em auto;padding:0 1em\"><h1>barkeep</h1>"
    "<p>The web client was not built into this binary: node and npm were not found when "
    "it was configured. The HTTP API works as usual (see docs/http-api.md).</p>"
    "<p>To get the page, install Node.js and npm (<code>scripts/deps.sh test</code>), "
    "then configure and build again.</p></body></html>\n";

static const bk_web_asset fallback = {.path = "/index.html",
                                      .type = "text/html; charset=utf-8",
                                      .etag = NULL,
                                      .data = fallback_page,
                                      .size = sizeof fallback_page - 1,
                                      .immutable = false};

/* ---- static files ---- */

static const bk_web_asset *find_asset(const char *path)
{
    for (size_t i = 0; i < bk_web_n_assets; i++)
        if (strcmp(bk_web_assets[i].path, path) == 0)
            return &bk_web_assets[i];
    return NULL;
}

/* True when an If-None-Match header names etag (or is "*"). */
static bool etag_matches(const char *header, const char *etag)
{
    if (!header)
        return false;
    if (strcmp(header, "*") == 0)
        return true;
    size_t n = strlen(etag);
    for (const char *p = strstr(header, etag); p; p = strstr(p + 1, etag)) {
        char after = p[n];
        if (after == '\0' || after == ',' || after == ' ')
            return true;
    }
    return false;
}

/* Answer with a (200) or, when the client holds it already, 304 without a body. */
static bk_http_rc send_asset(bk_api_req *r, const bk_web_asset *a, bool not_modified)
{
    const char *h[16];
    size_t n = 0;
    if (!not_modified) {
        h[n++] = "Content-Type";
        h[n++] = a->type;
    }
    if (a->etag) {
        h[n++] = "ETag";
        h[n++] = a->etag;
    }
    h[n++] = "Cache-Control";
    h[n++] = a->immutable ? "public, max-age=31536000, immutable" : "no-cache";
    h[n++] = "X-Content-Type-Options";
    h[n++] = "nosniff";
    h[n++] = "Referrer-Policy";
    h[n++] = "no-referrer";
    if (strncmp(a->type, "text/html", 9) == 0) {
        h[n++] = "Content-Security-Policy";
        h[n++] = "default-src 'self'; img-src 'self' data:; "
                 "style-src 'self' 'unsafe-inline'; object-src 'none'; "
                 "base-uri 'none'; frame-ancestors 'none'";
        h[n++] = "X-Frame-Options";
        h[n++] = "DENY";
    }
    h[n] = NULL;
    /* the bytes live as long as the process */
    return bk_http_static(r, not_modified ? 304 : 200, a->data, not_modified ? 0 : a->size, h);
}

bk_http_rc bk_route_web(bk_api_req *r)
{
    const char *path = bk_http_path(r);
    bool index = strcmp(path, "/") == 0;
    if (bk_web_n_assets == 0 && index)
        return send_asset(r, &fallback, false);
    const bk_web_asset *a = find_asset(index ? "/index.html" : path);
    if (!a || (!index && !a->immutable))
        return bk_http_error(r, 404, "not_found", "no such file: %s", path);
    return send_asset(r, a, etag_matches(bk_http_header(r, "If-None-Match"), a->etag));
}

/* ---- GET /functions/v1/watchlist ---- */

/* Length of s ∩ [from, to). */
static int64_t overlap(const bk_ivset *s, int64_t from, int64_t to)
{
    int64_t sum = 0;
    for (size_t i = 0; i < s->n; i++) {
        int64_t a = BK_MAX(s->v[i].from_us, from), b = BK_MIN(s->v[i].to_us, to);
        if (b > a)
            sum += b - a;
    }
    return sum;
}

/* Cells of the planner's fixed grid (counted from the epoch) that free time
 * touches: the slices still to enqueue, give or take a split cell. */
static int64_t grid_cells(const bk_ivset *free_time, int64_t cell_us)
{
    int64_t n = 0, last = INT64_MIN;
    for (size_t i = 0; cell_us > 0 && i < free_time->n; i++) {
        int64_t first = free_time->v[i].from_us / cell_us;
        int64_t end = (free_time->v[i].to_us - 1) / cell_us;
        n += end - BK_MAX(first, last + 1) + 1;
        last = end;
    }
    return n;
}

/* Everything the watchlist says about one definition. */
typedef struct entry {
    bk_ivset expected, covered; /* covered ∩ expected */
    int64_t window_from, horizon;
    int64_t gaps, gap_us, pending;
    int64_t unservable_us; /* missing, older than any provider of the chain serves */
    char unservable_why[64];
    int64_t total, done, running, queued, failed;
    double partial; /* progress of running slices, in slices */
    int64_t bars, last_success_us, cov_to_us;
    char last_provider[BK_PROV_NAME_MAX];
    bk_run last; /* the run updated last; id "" when none */
} entry;

static void entry_plan(entry *e, const bk_api_opts *o, const bk_def *d, const bk_series *st,
                       int64_t now)
{
    e->window_from = bk_plan_window_start(&o->plan, d->tf, d->window_days, now);
    e->horizon = bk_plan_horizon(&o->plan, d->tf, now);
    bk_plan_expected(&o->plan, d->tf, d->window_days, now, &e->expected);
    bk_ivset gaps;
    bk_ivset_init(&gaps);
    bk_plan_gaps(&o->plan, d, st ? &st->covered : NULL, now, &gaps);
    e->gaps = (int64_t)gaps.n;
    e->gap_us = bk_ivset_total(&gaps);
    if (st) {
        bk_ivset_copy(&e->covered, &st->covered);
        bk_ivset_intersect(&e->covered, &e->expected);
        bk_ivset_subtract(&gaps, &st->active);
        bk_ivset_subtract(&gaps, &st->dead);
    }
    e->pending = grid_cells(&gaps, bk_plan_slice_step(&o->plan, d->type, d->tf));
    bk_plan_unservable(&o->plan, d, st ? &st->covered : NULL, now, &gaps);
    e->unservable_us = bk_ivset_total(&gaps);
    if (e->unservable_us)
        bk_plan_unservable_reason(&o->plan, d->tf, e->unservable_why, sizeof e->unservable_why);
    bk_ivset_fini(&gaps);
}

static void entry_runs(entry *e, const bk_def *d, const bk_run *runs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const bk_run *x = &runs[i];
        /* a fetch definition's last run is a fetch run, a run_forecast
         * definition's a forecast run: the series has both kinds */
        bool kind = (x->type == BK_JOB_FORECAST) == (d->type == BK_JOB_FORECAST);
        if (kind && (!e->last.id[0] || x->updated_us > e->last.updated_us))
            e->last = *x;
        if (x->slice_to_us <= e->window_from || x->status == BK_ST_CANCELLED || x->type != d->type)
            continue;
        e->total++;
        e->done += x->status == BK_ST_SUCCESS;
        e->queued += x->status == BK_ST_QUEUED;
        e->failed += x->status == BK_ST_FAILED;
        if (x->status == BK_ST_RUNNING) {
            e->running++;
            e->partial += x->progress_percent / 100.0;
        }
    }
}

static int entry_load(bk_store *s, const bk_api_opts *o, const bk_def *d, int64_t now, entry *e,
                      bk_err *err)
{
    bk_series *st = NULL;
    bk_coverage *cov = NULL;
    bk_run *runs = NULL;
    size_t n_st = 0, n_cov = 0, n_runs = 0;
    bk_run_filter f = {.status = -1, .symbol = d->symbol, .tf = (int)d->tf};
    int rc = bk_store_series_load(s, d->symbol, (int)d->tf, &st, &n_st, err);
    if (rc == 0)
        rc = bk_store_coverage_list(s, d->symbol, (int)d->tf, &cov, &n_cov, err);
    if (rc == 0)
        rc = bk_store_runs_list(s, &f, &runs, &n_runs, err);
    if (rc == 0)
        rc = bk_store_bars_count(s, d->symbol, (int)d->tf, &e->bars, err);
    if (rc == 0) {
        entry_plan(e, o, d, n_st ? &st[0] : NULL, now);
        entry_runs(e, d, runs, n_runs);
        if (n_cov) {
            e->last_success_us = cov[0].last_success_us;
            e->cov_to_us = cov[0].to_us;
            bk_strlcpy(e->last_provider, cov[0].last_provider, sizeof e->last_provider);
        }
    }
    bk_series_free(st, n_st);
    free(cov);
    free(runs);
    return rc;
}

static void int_key(bk_jw *w, const char *key, int64_t v)
{
    bk_jw_key(w, key);
    bk_jw_int(w, v);
}

static void str_key(bk_jw *w, const char *key, const char *v)
{
    bk_jw_key(w, key);
    bk_jw_str(w, v && v[0] ? v : NULL);
}

/* Hundredths, so percentages and fractions read well. */
static double round2(double v)
{
    return (double)(int64_t)(v * 100.0 + 0.5) / 100.0;
}

static void render_strip(bk_jw *w, const entry *e)
{
    int64_t span = e->horizon - e->window_from;
    bk_jw_key(w, "strip");
    bk_jw_arr_begin(w);
    for (int i = 0; i < STRIP_CELLS && span > 0; i++) {
        int64_t a = e->window_from + span * i / STRIP_CELLS;
        int64_t b = e->window_from + span * (i + 1) / STRIP_CELLS;
        int64_t want = overlap(&e->expected, a, b);
        if (want > 0)
            bk_jw_num(w, round2((double)overlap(&e->covered, a, b) / (double)want));
        else
            bk_jw_null(w);
    }
    bk_jw_arr_end(w);
}

static void render_progress(bk_jw *w, const entry *e, bool enabled)
{
    int64_t total = e->total + e->pending;
    bk_jw_key(w, "slices");
    bk_jw_obj_begin(w);
    int_key(w, "total", total);
    int_key(w, "done", e->done);
    int_key(w, "running", e->running);
    int_key(w, "queued", e->queued);
    int_key(w, "failed", e->failed);
    int_key(w, "pending", e->pending);
    bk_jw_obj_end(w);
    int_key(w, "progress_percent",
            total ? (int64_t)(100.0 * ((double)e->done + e->partial) / (double)total) : 100);
    bk_jw_key(w, "is_hydrating");
    bk_jw_bool(w, e->running + e->queued > 0 || (enabled && e->pending > 0));
}

static void render_last_run(bk_jw *w, const bk_run *x)
{
    bk_jw_key(w, "last_run");
    if (!x->id[0]) {
        bk_jw_null(w);
        return;
    }
    bk_jw_obj_begin(w);
    str_key(w, "id", x->id);
    str_key(w, "status", bk_status_name(x->status));
    str_key(w, "provider", x->provider);
    bk_jw_key(w, "progress_percent");
    bk_jw_num(w, x->progress_percent);
    str_key(w, "error_code", x->error_code);
    bk_jw_key(w, "updated_at");
    bk_jw_time(w, x->updated_us);
    bk_jw_obj_end(w);
}

static void render_entry(bk_jw *w, const bk_def *d, const entry *e)
{
    int64_t want = bk_ivset_total(&e->expected);
    bk_jw_obj_begin(w);
    str_key(w, "id", d->id);
    str_key(w, "symbol", d->symbol);
    str_key(w, "timeframe", bk_tf_name(d->tf));
    str_key(w, "job_type", bk_job_name(d->type));
    int_key(w, "window_days", d->window_days);
    int_key(w, "priority", d->priority);
    bk_jw_key(w, "enabled");
    bk_jw_bool(w, d->enabled);
    bk_jw_key(w, "coverage_percent");
    bk_jw_num(w, want ? round2(100.0 * (double)bk_ivset_total(&e->covered) / (double)want) : 100);
    int_key(w, "gaps", e->gaps);
    bk_jw_key(w, "gap_hours");
    bk_jw_num(w, round2((double)e->gap_us / 3600e6));
    bk_jw_key(w, "unservable_hours");
    bk_jw_num(w, round2((double)e->unservable_us / 3600e6));
    str_key(w, "unservable_reason", e->unservable_why);
    int_key(w, "bars_stored", e->bars);
    bk_jw_key(w, "window_from");
    bk_jw_time(w, e->window_from);
    bk_jw_key(w, "window_to");
    bk_jw_time(w, e->horizon);
    render_strip(w, e);
    bk_jw_key(w, "freshness_lag_seconds");
    if (e->cov_to_us)
        bk_jw_int(w, e->horizon > e->cov_to_us ? (e->horizon - e->cov_to_us) / BK_US_PER_S : 0);
    else
        bk_jw_null(w);
    bk_jw_key(w, "last_success_at");
    bk_jw_time(w, e->last_success_us);
    str_key(w, "last_provider", e->last_provider);
    render_progress(w, e, d->enabled);
    render_last_run(w, &e->last);
    bk_jw_obj_end(w);
}

static bool def_wanted(const bk_def *d, const bk_ops_req *q)
{
    if (q->symbol[0] && strcmp(d->symbol, q->symbol) != 0)
        return false;
    return q->tf < 0 || (int)d->tf == q->tf;
}

static int watchlist_body(bk_store *s, const bk_api_opts *o, const void *ctx, int64_t now, bk_jw *w,
                          bk_err *err)
{
    const bk_ops_req *q = ctx;
    bk_def *defs = NULL;
    size_t n = 0;
    int rc = bk_store_def_list(s, false, &defs, &n, err);
    bk_jw_key(w, "definitions");
    bk_jw_arr_begin(w);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!def_wanted(&defs[i], q))
            continue;
        entry e;
        memset(&e, 0, sizeof e);
        bk_ivset_init(&e.expected);
        bk_ivset_init(&e.covered);
        rc = entry_load(s, o, &defs[i], now, &e, err);
        if (rc == 0)
            render_entry(w, &defs[i], &e);
        bk_ivset_fini(&e.expected);
        bk_ivset_fini(&e.covered);
    }
    bk_jw_arr_end(w);
    free(defs);
    return rc;
}

bk_http_rc bk_route_watchlist(bk_api_req *r)
{
    bk_ops_req q;
    bk_api_error e;
    if (bk_req_ops(bk_http_arg(r, "symbol"), bk_http_arg(r, "timeframe"), NULL, &q, &e) != 0)
        return bk_http_api_error(r, &e);
    return bk_http_answer(r, watchlist_body, &q);
}

/* ---- POST /functions/v1/watchlist?action=remove ---- */

bk_http_rc bk_route_watchlist_change(bk_api_req *r)
{
    const char *action = bk_http_arg(r, "action");
    if (!action || !action[0])
        return bk_http_error(r, 400, "missing_action", "missing ?action= (remove)");
    if (strcmp(action, "remove") != 0)
        return bk_http_error(r, 400, "unknown_action", "unknown action \"%.40s\": expected remove",
                             action);
    bk_ensure_req q;
    bk_api_error e;
    if (bk_req_ensure(bk_http_body(r), bk_http_body_len(r), &q, &e) != 0)
        return bk_http_api_error(r, &e);
    bk_store *s = bk_http_store(r);
    if (!s)
        return BK_HTTP_ANSWERED;
    bk_err err = {0};
    bk_def old;
    int64_t now = bk_clock_now_us();
    int rc = bk_store_def_get(s, q.symbol, q.tf, bk_job_for_tf(q.tf), &old, &err);
    if (rc == 0)
        rc = bk_store_def_remove(s, q.symbol, q.tf, bk_job_for_tf(q.tf), now, &err);
    bk_http_store_put(r, s);
    if (rc == 0)
        bk_api__publish_def(bk_http_api(r), "DELETE", &old, now);
    if (rc == BK_ENOENT)
        return bk_http_error(r, 404, "not_found", "no definition %s %s", q.symbol,
                             bk_tf_name(q.tf));
    if (rc)
        return bk_http_store_error(r, &err);
    bk_log(BK_LOG_INFO, "api", "definition removed symbol=%s timeframe=%s", q.symbol,
           bk_tf_name(q.tf));
    bk_buf b;
    bk_buf_init(&b);
    bk_jw w;
    bk_jw_init(&w, &b);
    bk_jw_obj_begin(&w);
    bk_jw_key(&w, "success");
    bk_jw_bool(&w, true);
    str_key(&w, "action", "remove");
    str_key(&w, "symbol", q.symbol);
    str_key(&w, "timeframe", bk_tf_name(q.tf));
    bk_jw_obj_end(&w);
    return bk_http_json(r, 200, &b);
}

/* ---- GET /functions/v1/runs ---- */

typedef struct runs_q {
    bk_ops_req f;
    size_t limit;
} runs_q;

static int runs_body(bk_store *s, const bk_api_opts *o, const void *ctx, int64_t now, bk_jw *w,
                     bk_err *err)
{
    (void)o;
    (void)now;
    const runs_q *q = ctx;
    bk_run_filter f = {.status = -1,
                       .symbol = q->f.symbol[0] ? q->f.symbol : NULL,
                       .tf = q->f.tf,
                       .limit = q->limit};
    return bk_api__runs_json(w, s, "runs", &f, err);
}

bk_http_rc bk_route_runs(bk_api_req *r)
{
    runs_q q = {.limit = RUNS_LIMIT};
    bk_api_error e;
    if (bk_req_ops(bk_http_arg(r, "symbol"), bk_http_arg(r, "timeframe"), NULL, &q.f, &e) != 0)
        return bk_http_api_error(r, &e);
    const char *limit = bk_http_arg(r, "limit");
    int64_t v;
    if (limit && limit[0]) {
        if (bk_parse_i64(limit, 1, RUNS_MAX, &v) != 0)
            return bk_http_error(r, 400, "invalid_limit",
                                 "invalid limit \"%.40s\": expected an integer from 1 to %d", limit,
                                 RUNS_MAX);
        q.limit = (size_t)v;
    }
    return bk_http_answer(r, runs_body, &q);
}
