/*
 * routes_ops.c — what an operator reads: /functions/v1/ops-jobs (stats over
 * a window, per-provider stats with duration percentiles, coverage with
 * freshness lag, active and queued runs, recent errors, dead letters),
 * /healthz and /readyz.
 */
#include "api/api_impl.h"
#include "api/render.h"
#include "core/clock.h"
#include "core/log.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OPS_LIST_MAX   100
#define OPS_ERRORS_MAX 50

typedef struct prov_acc {
    char name[BK_PROV_NAME_MAX];
    int64_t total, success, failed, rows;
    int64_t *durations_ms; /* of successful runs */
    size_t n_dur, cap_dur;
} prov_acc;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static int64_t percentile(const int64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t rank = (size_t)ceil(p / 100.0 * (double)n);
    return v[rank ? rank - 1 : 0];
}

static void num_or_null(bk_jw *w, const char *key, double v, bool present)
{
    bk_jw_key(w, key);
    if (present)
        bk_jw_num(w, round(v * 100.0) / 100.0);
    else
        bk_jw_null(w);
}

static void int_key(bk_jw *w, const char *key, int64_t v)
{
    bk_jw_key(w, key);
    bk_jw_int(w, v);
}

static prov_acc *acc_for(prov_acc **accs, size_t *n, size_t *cap, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*accs)[i].name, name) == 0)
            return &(*accs)[i];
    bk_grow((void **)accs, cap, *n + 1, sizeof **accs);
    prov_acc *p = &(*accs)[(*n)++];
    memset(p, 0, sizeof *p);
    bk_strlcpy(p->name, name, sizeof p->name);
    return p;
}

/* stats{} and provider_stats[] over the runs created in the window. */
static void render_window(bk_jw *w, const bk_run *runs, size_t n)
{
    int64_t by[BK_ST__N] = {0};
    prov_acc *accs = NULL;
    size_t n_acc = 0, cap_acc = 0;
    for (size_t i = 0; i < n; i++) {
        const bk_run *r = &runs[i];
        by[r->status]++;
        if (!r->provider[0])
            continue;
        prov_acc *p = acc_for(&accs, &n_acc, &cap_acc, r->provider);
        p->total++;
        p->success += r->status == BK_ST_SUCCESS;
        p->failed += r->status == BK_ST_FAILED;
        if (r->status == BK_ST_SUCCESS) {
            p->rows += r->rows_written;
            if (r->started_us && r->finished_us >= r->started_us) {
                bk_grow((void **)&p->durations_ms, &p->cap_dur, p->n_dur + 1, sizeof(int64_t));
                p->durations_ms[p->n_dur++] = (r->finished_us - r->started_us) / 1000;
            }
        }
    }
    int64_t finished = by[BK_ST_SUCCESS] + by[BK_ST_FAILED];
    bk_jw_key(w, "stats");
    bk_jw_obj_begin(w);
    int_key(w, "total", (int64_t)n);
    for (int st = 0; st < BK_ST__N; st++)
        int_key(w, bk_status_name((bk_status)st), by[st]);
    num_or_null(w, "success_rate",
                100.0 * (double)by[BK_ST_SUCCESS] / (double)(finished ? finished : 1),
                finished > 0);
    bk_jw_obj_end(w);
    bk_jw_key(w, "provider_stats");
    bk_jw_arr_begin(w);
    for (size_t i = 0; i < n_acc; i++) {
        prov_acc *p = &accs[i];
        qsort(p->durations_ms, p->n_dur, sizeof(int64_t), cmp_i64);
        int64_t fin = p->success + p->failed;
        bk_jw_obj_begin(w);
        bk_jw_key(w, "provider");
        bk_jw_str(w, p->name);
        int_key(w, "total_runs", p->total);
        int_key(w, "success_runs", p->success);
        int_key(w, "failed_runs", p->failed);
        num_or_null(w, "success_rate", 100.0 * (double)p->success / (double)(fin ? fin : 1),
                    fin > 0);
        int_key(w, "total_rows", p->rows);
        int_key(w, "p50_duration_ms", percentile(p->durations_ms, p->n_dur, 50));
        int_key(w, "p95_duration_ms", percentile(p->durations_ms, p->n_dur, 95));
        bk_jw_obj_end(w);
        free(p->durations_ms);
    }
    bk_jw_arr_end(w);
    free(accs);
}

static void render_errors(bk_jw *w, const bk_run *runs, size_t n)
{
    bk_jw_key(w, "recent_errors");
    bk_jw_arr_begin(w);
    size_t shown = 0;
    for (size_t i = 0; i < n && shown < OPS_ERRORS_MAX; i++) {
        const bk_run *r = &runs[i];
        if (!r->error_code[0])
            continue;
        shown++;
        bk_jw_obj_begin(w);
        bk_jw_key(w, "id");
        bk_jw_str(w, r->id);
        bk_jw_key(w, "symbol");
        bk_jw_str(w, r->symbol);
        bk_jw_key(w, "timeframe");
        bk_jw_str(w, bk_tf_name(r->tf));
        bk_jw_key(w, "job_type");
        bk_jw_str(w, bk_job_name(r->type));
        bk_jw_key(w, "status");
        bk_jw_str(w, bk_status_name(r->status));
        bk_jw_key(w, "error_code");
        bk_jw_str(w, r->error_code);
        bk_jw_key(w, "error_message");
        bk_jw_str(w, r->error_message);
        int_key(w, "attempt", r->attempt);
        bk_jw_key(w, "provider");
        bk_jw_str(w, r->provider[0] ? r->provider : NULL);
        bk_jw_key(w, "updated_at");
        bk_jw_time(w, r->updated_us);
        bk_jw_key(w, "finished_at");
        bk_jw_time(w, r->finished_us);
        bk_jw_obj_end(w);
    }
    bk_jw_arr_end(w);
}

static void render_coverage(bk_jw *w, const bk_api_opts *o, const bk_coverage *cov, size_t n,
                            int64_t now)
{
    bk_jw_key(w, "coverage");
    bk_jw_arr_begin(w);
    for (size_t i = 0; i < n; i++) {
        const bk_coverage *c = &cov[i];
        int64_t horizon = bk_plan_horizon(&o->plan, c->tf, now);
        bk_jw_obj_begin(w);
        bk_jw_key(w, "symbol");
        bk_jw_str(w, c->symbol);
        bk_jw_key(w, "timeframe");
        bk_jw_str(w, bk_tf_name(c->tf));
        bk_jw_key(w, "from_ts");
        bk_jw_time(w, c->from_us);
        bk_jw_key(w, "to_ts");
        bk_jw_time(w, c->to_us);
        bk_jw_key(w, "last_success_at");
        bk_jw_time(w, c->last_success_us);
        int_key(w, "last_rows_written", c->last_rows_written);
        bk_jw_key(w, "last_provider");
        bk_jw_str(w, c->last_provider[0] ? c->last_provider : NULL);
        num_or_null(w, "coverage_hours", (double)c->covered_us / 3600e6, true);
        bk_jw_key(w, "freshness_lag_seconds");
        if (c->to_us)
            bk_jw_int(w, horizon > c->to_us ? (horizon - c->to_us) / BK_US_PER_S : 0);
        else
            bk_jw_null(w);
        bk_jw_obj_end(w);
    }
    bk_jw_arr_end(w);
}

/* provider_health[]: this process's view of each configured provider. */
static void render_health(bk_jw *w, const bk_api_opts *o, int64_t now)
{
    bk_jw_key(w, "provider_health");
    bk_jw_arr_begin(w);
    bk_prov *provs[BK_PROVSET_MAX];
    size_t n = bk_api_providers(o, provs, BK_PROVSET_MAX);
    for (size_t i = 0; i < n; i++) {
        const bk_prov *p = provs[i];
        int64_t req = atomic_load(&p->stats.requests), until;
        bk_breaker_state st = bk_api_breaker(o, p, now, &until);
        bk_jw_obj_begin(w);
        bk_jw_key(w, "provider");
        bk_jw_str(w, p->name);
        bk_jw_key(w, "feed");
        bk_jw_str(w, p->feed);
        bk_jw_key(w, "adjustment");
        bk_jw_str(w, p->adjustment);
        int_key(w, "requests", req);
        int_key(w, "errors", atomic_load(&p->stats.errors));
        int_key(w, "rate_limited", atomic_load(&p->stats.rate_limited));
        int_key(w, "fallback_runs", atomic_load(&p->stats.fallback_served));
        int_key(w, "bars_revised", atomic_load(&p->stats.bars_revised));
        int_key(w, "settle_seconds", p->settle_us / BK_US_PER_S);
        num_or_null(w, "avg_latency_ms",
                    req ? (double)atomic_load(&p->stats.latency_us) / (double)req / 1000.0 : 0,
                    req > 0);
        num_or_null(w, "rate_per_s", p->limits.rate_per_s, p->limits.rate_per_s > 0);
        bk_jw_key(w, "breaker");
        bk_jw_str(w, bk_breaker_name(st));
        bk_jw_key(w, "breaker_until");
        if (st != BK_BREAKER_CLOSED)
            bk_jw_time(w, until);
        else
            bk_jw_null(w);
        bk_jw_obj_end(w);
    }
    bk_jw_arr_end(w);
}

int bk_api__runs_json(bk_jw *w, bk_store *s, const char *key, const bk_run_filter *f, bk_err *err)
{
    bk_run *runs = NULL;
    size_t n = 0;
    int rc = bk_store_runs_list(s, f, &runs, &n, err);
    if (rc)
        return rc;
    bk_jw_key(w, key);
    bk_jw_arr_begin(w);
    for (size_t i = 0; i < n; i++)
        bk_render_run(w, &runs[i]);
    bk_jw_arr_end(w);
    free(runs);
    return 0;
}

#define OPS_FC_LAST 20 /* scored forecasts per series behind the forecast section's stats */

static bool fc_wanted(const bk_ops_req *q, const char *symbol, bk_tf tf)
{
    return (!q->symbol[0] || strcmp(q->symbol, symbol) == 0) && (q->tf < 0 || q->tf == (int)tf);
}

static void render_fc_series(bk_jw *w, const char *symbol, bk_tf tf, const bk_fc_meta *m,
                             const bk_fc_stat *st, size_t n_st)
{
    bk_jw_obj_begin(w);
    bk_jw_key(w, "symbol");
    bk_jw_str(w, symbol);
    bk_jw_key(w, "timeframe");
    bk_jw_str(w, bk_tf_name(tf));
    bk_jw_key(w, "model");
    bk_jw_str(w, m ? m->model : NULL);
    bk_jw_key(w, "made_at");
    bk_jw_time(w, m ? m->made_us : 0);
    bk_jw_key(w, "as_of_bar_ts");
    bk_jw_time(w, m ? m->origin_us : 0);
    bk_jw_key(w, "bars_used");
    if (m)
        bk_jw_int(w, m->n_bars);
    else
        bk_jw_null(w);
    bk_jw_key(w, "horizon");
    if (m)
        bk_jw_int(w, m->horizon);
    else
        bk_jw_null(w);
    bk_jw_key(w, "steps");
    bk_jw_arr_begin(w);
    for (size_t i = 0; i < n_st; i++) {
        if (st[i].tf != tf || strcmp(st[i].symbol, symbol) != 0)
            continue;
        bk_jw_obj_begin(w);
        int_key(w, "step", st[i].step);
        int_key(w, "scored", st[i].n);
        num_or_null(w, "coverage80", st[i].coverage80, true);
        num_or_null(w, "coverage95", st[i].coverage95, true);
        num_or_null(w, "mae", st[i].mae, true);
        num_or_null(w, "naive_mae", st[i].naive_mae, true);
        num_or_null(w, "rel_mae", st[i].rel_mae, isfinite(st[i].rel_mae));
        bk_jw_obj_end(w);
    }
    bk_jw_arr_end(w);
    bk_jw_obj_end(w);
}

/* "forecast": every stored forecast matching the filters, with per-step
 * realized quality over the last OPS_FC_LAST scored forecasts. */
static int render_forecast(bk_jw *w, bk_store *s, const bk_ops_req *q, bk_err *err)
{
    bk_fc_meta *m = NULL;
    bk_fc_stat *st = NULL;
    size_t n_m = 0, n_st = 0;
    int rc = bk_store_fc_list(s, &m, &n_m, err);
    if (rc == 0)
        rc = bk_store_fc_stats(s, NULL, -1, OPS_FC_LAST, &st, &n_st, err);
    if (rc == 0) {
        bk_jw_key(w, "forecast");
        bk_jw_obj_begin(w);
        int_key(w, "last_forecasts", OPS_FC_LAST);
        bk_jw_key(w, "series");
        bk_jw_arr_begin(w);
        for (size_t i = 0; i < n_m; i++)
            if (fc_wanted(q, m[i].symbol, m[i].tf))
                render_fc_series(w, m[i].symbol, m[i].tf, &m[i], st, n_st);
        bk_jw_arr_end(w);
        bk_jw_obj_end(w);
    }
    free(m);
    free(st);
    return rc;
}

static int list_runs(bk_store *s, const bk_ops_req *q, int status, bk_jw *w, const char *key,
                     bk_err *err)
{
    bk_run_filter f = {.status = status,
                       .symbol = q->symbol[0] ? q->symbol : NULL,
                       .tf = q->tf,
                       .limit = OPS_LIST_MAX};
    return bk_api__runs_json(w, s, key, &f, err);
}

static int ops_body(bk_store *s, const bk_api_opts *o, const void *ctx, int64_t now, bk_jw *w,
                    bk_err *err)
{
    const bk_ops_req *q = ctx;
    int_key(w, "window_hours", q->hours);
    bk_jw_key(w, "filters");
    bk_jw_obj_begin(w);
    bk_jw_key(w, "symbol");
    bk_jw_str(w, q->symbol[0] ? q->symbol : NULL);
    bk_jw_key(w, "timeframe");
    bk_jw_str(w, q->tf >= 0 ? bk_tf_name((bk_tf)q->tf) : NULL);
    bk_jw_obj_end(w);
    const char *sym = q->symbol[0] ? q->symbol : NULL;
    bk_run_filter win = {.status = -1,
                         .symbol = sym,
                         .tf = q->tf,
                         .since_us = now - (int64_t)q->hours * BK_US_PER_HOUR};
    bk_run_filter all = {.status = -1, .symbol = sym, .tf = q->tf};
    bk_run *runs = NULL;
    bk_coverage *cov = NULL;
    size_t n = 0, n_cov = 0;
    int64_t counts[BK_ST__N] = {0};
    int rc = bk_store_runs_list(s, &win, &runs, &n, err);
    if (rc == 0)
        rc = bk_store_runs_count(s, &all, counts, err);
    if (rc == 0)
        rc = bk_store_coverage_list(s, sym, q->tf, &cov, &n_cov, err);
    if (rc == 0) {
        render_window(w, runs, n);
        render_health(w, o, now);
        int_key(w, "dead_letter", counts[BK_ST_FAILED]);
        int_key(w, "queue_depth", counts[BK_ST_QUEUED]);
        render_coverage(w, o, cov, n_cov, now);
        rc = list_runs(s, q, BK_ST_RUNNING, w, "active_jobs", err);
    }
    if (rc == 0)
        rc = list_runs(s, q, BK_ST_QUEUED, w, "queued_jobs", err);
    if (rc == 0)
        render_errors(w, runs, n);
    if (rc == 0)
        rc = render_forecast(w, s, q, err);
    free(runs);
    free(cov);
    return rc;
}

bk_http_rc bk_route_ops_jobs(bk_api_req *r)
{
    bk_ops_req q;
    bk_api_error e;
    if (bk_req_ops(bk_http_arg(r, "symbol"), bk_http_arg(r, "timeframe"), bk_http_arg(r, "hours"),
                   &q, &e) != 0)
        return bk_http_api_error(r, &e);
    return bk_http_answer(r, ops_body, &q);
}

bk_http_rc bk_route_healthz(bk_api_req *r)
{
    bk_buf b;
    bk_buf_init(&b);
    bk_buf_puts(&b, "{\"status\":\"ok\"}");
    return bk_http_json(r, 200, &b);
}

bk_http_rc bk_route_readyz(bk_api_req *r)
{
    bk_store *s = bk_http_store(r);
    if (!s)
        return BK_HTTP_ANSWERED;
    bk_err err = {0};
    int64_t skew = 0;
    int rc = bk_store_check_schema(s, &err);
    if (rc == 0)
        rc = bk_store_clock_skew(s, &skew, &err);
    char kind[16];
    bk_strlcpy(kind, bk_store_kind(s), sizeof kind);
    bk_http_store_put(r, s);
    if (rc)
        return bk_http_error(r, 503, "not_ready", "store not ready: %s", err.msg);
    char why[BK_ERR_MSG_MAX];
    if (bk_pool_failing(atomic_load(&bk_http_api(r)->pool), why, sizeof why))
        return bk_http_error(r, 503, "not_ready", "the workers cannot use the store: %s", why);
    if (bk_store_writes_failing(why, sizeof why))
        return bk_http_error(r, 503, "not_ready", "store writes fail: %s", why);
    bk_buf b;
    bk_buf_init(&b);
    bk_buf_printf(&b, "{\"status\":\"ready\",\"store\":\"%s\",\"clock_skew_s\":%.3f,", kind,
                  (double)skew / 1e6);
    bool pinned = bk_clock_pinned();
    bk_buf_printf(&b, "\"clock_pinned\":%s", pinned ? "true" : "false");
    /* A skew is a warning, never "not ready": leases and budgets use the
     * database's clock, so the process works; only its planning runs on its
     * own clock (which --now pins on purpose). */
    if (llabs(skew) >= BK_STORE_CLOCK_SKEW_WARN_US)
        bk_buf_printf(&b,
                      ",\"warnings\":[\"clock skew: this process's clock is %.3f s %s the"
                      " database's%s\"]",
                      (double)llabs(skew) / 1e6, skew > 0 ? "ahead of" : "behind",
                      pinned ? " (pinned by --now)" : "");
    bk_buf_puts(&b, "}");
    return bk_http_json(r, 200, &b);
}
