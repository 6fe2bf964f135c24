/*
 * routes_fn.c — the guide's actions: /functions/v1/orchestrator
 * (tick | status | retry_failed), /functions/v1/ensure-coverage and
 * /functions/v1/fetch-bars. Shapes: docs/http-api.md.
 */
#include "api/api_impl.h"
#include "api/render.h"
#include "core/clock.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

#define LIST_MAX   100 /* runs listed per array in status answers (counts are exact) */
#define RECENT_MAX 20  /* recent_jobs: the latest runs of any status */

static void time_key(bk_jw *w, const char *key, int64_t us)
{
    bk_jw_key(w, key);
    bk_jw_time(w, us);
}

static void int_key(bk_jw *w, const char *key, int64_t v)
{
    bk_jw_key(w, key);
    bk_jw_int(w, v);
}

static bk_http_rc store_fail(bk_api_req *r, bk_store *s, const bk_err *err)
{
    bk_http_store_put(r, s);
    return bk_http_store_error(r, err);
}

static int runs_array(bk_jw *w, bk_store *s, const char *key, int status, bk_err *err)
{
    bk_run_filter f = {.status = status, .tf = -1, .limit = LIST_MAX};
    return bk_api__runs_json(w, s, key, &f, err);
}

/* Revive dead-lettered runs and announce each one that changed. */
static int retry_failed(bk_api *a, bk_store *s, int64_t now, size_t *n, bk_err *err)
{
    bk_run_filter f = {.status = BK_ST_FAILED, .tf = -1};
    bk_run *dead = NULL;
    size_t n_dead = 0;
    int rc = bk_store_runs_list(s, &f, &dead, &n_dead, err);
    if (rc == 0)
        rc = bk_store_runs_retry_failed(s, now, (int)a->opts.conf->max_attempts, n, err);
    for (size_t i = 0; rc == 0 && i < n_dead; i++) {
        bk_run row;
        bk_err ignore = {0};
        if (bk_store_run_get(s, dead[i].id, &row, &ignore) == 0 && row.status != BK_ST_FAILED)
            bk_api_on_run(a, &row);
    }
    free(dead);
    return rc;
}

static int orchestrator_status(bk_api_req *r, bk_store *s, bk_jw *w, bk_err *err)
{
    int64_t counts[BK_ST__N] = {0};
    bk_run_filter all = {.status = -1, .tf = -1};
    int rc = bk_store_runs_count(s, &all, counts, err);
    bk_def *defs = NULL;
    size_t n_defs = 0, enabled = 0;
    if (rc == 0)
        rc = bk_store_def_list(s, false, &defs, &n_defs, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n_defs; i++)
        enabled += defs[i].enabled;
    free(defs);
    bk_jw_key(w, "counts");
    bk_jw_obj_begin(w);
    int64_t total = 0;
    for (int st = 0; st < BK_ST__N; st++) {
        int_key(w, bk_status_name((bk_status)st), counts[st]);
        total += counts[st];
    }
    int_key(w, "total", total);
    bk_jw_obj_end(w);
    int_key(w, "dead_letter", counts[BK_ST_FAILED]);
    bk_jw_key(w, "definitions");
    bk_jw_obj_begin(w);
    int_key(w, "total", (int64_t)n_defs);
    int_key(w, "enabled", (int64_t)enabled);
    bk_jw_obj_end(w);
    int_key(w, "sse_clients", (int64_t)bk_bus_clients(bk_http_opts(r)->bus));
    /* the original function's top-level fields, beside counts */
    int_key(w, "queued", counts[BK_ST_QUEUED]);
    int_key(w, "running", counts[BK_ST_RUNNING]);
    bk_run_filter recent = {.status = -1, .tf = -1, .limit = RECENT_MAX};
    if ((rc = runs_array(w, s, "active_jobs", BK_ST_RUNNING, err)) != 0 ||
        (rc = runs_array(w, s, "running_jobs", BK_ST_RUNNING, err)) != 0 ||
        (rc = runs_array(w, s, "queued_jobs", BK_ST_QUEUED, err)) != 0 ||
        (rc = runs_array(w, s, "failed_jobs", BK_ST_FAILED, err)) != 0 ||
        (rc = bk_api__runs_json(w, s, "recent_jobs", &recent, err)) != 0)
        return rc;
    return 0;
}

bk_http_rc bk_route_orchestrator(bk_api_req *r)
{
    bk_action act;
    bk_api_error e;
    if (bk_req_action(bk_http_arg(r, "action"), &act, &e) != 0)
        return bk_http_api_error(r, &e);
    if (act != BK_ACTION_STATUS && bk_http_granted(r) < BK_ACCESS_SERVICE)
        return bk_http_error(r, 403, "forbidden", "this action needs the service key");
    bk_store *s = bk_http_store(r);
    if (!s)
        return BK_HTTP_ANSWERED;
    bk_api *a = bk_http_api(r);
    const bk_api_opts *o = &a->opts;
    bk_err err = {0};
    bk_buf b;
    bk_buf_init(&b);
    bk_jw w;
    bk_jw_init(&w, &b);
    bk_jw_obj_begin(&w);
    bk_jw_key(&w, "success");
    bk_jw_bool(&w, true);
    bk_jw_key(&w, "action");
    int rc = 0;
    int64_t now = bk_clock_now_us();
    if (act == BK_ACTION_TICK) {
        bk_jw_str(&w, "tick");
        bk_tick_stats t;
        rc = bk_plan_tick(s, &o->plan, NULL, now, "api", &t, &err);
        if (rc == 0) {
            int_key(&w, "definitions", (int64_t)t.defs);
            int_key(&w, "planned", (int64_t)t.planned);
            int_key(&w, "enqueued", (int64_t)t.enqueued);
            int_key(&w, "requeued", (int64_t)t.requeued);
            if (t.enqueued || t.requeued)
                bk_api__wake(a);
            if (t.more)
                atomic_store(&a->plan_more, true);
        }
    } else if (act == BK_ACTION_RETRY_FAILED) {
        bk_jw_str(&w, "retry_failed");
        size_t n = 0;
        rc = retry_failed(a, s, now, &n, &err);
        if (rc == 0) {
            int_key(&w, "retried", (int64_t)n);
            if (n) {
                bk_api__wake(a);
                atomic_store(&a->plan_more, true); /* revived slices may need replanning */
            }
        }
    } else {
        bk_jw_str(&w, "status");
        rc = orchestrator_status(r, s, &w, &err);
    }
    if (rc) {
        bk_buf_fini(&b);
        return store_fail(r, s, &err);
    }
    time_key(&w, "timestamp", now);
    bk_jw_obj_end(&w);
    bk_http_store_put(r, s);
    return bk_http_json(r, 200, &b);
}

/* What ensure-coverage reports about a series. */
typedef struct series_report {
    int64_t from_us, to_us, last_success_us;
    int64_t gaps_found, gap_us;
    int64_t unservable_us; /* missing time older than any provider of the chain serves */
    int64_t empty_us;      /* covered, bars expected, none stored: confirmed empty */
    char unservable_why[64];
    int64_t total, done, running, queued, failed, bars;
    double partial; /* progress of running slices, in slices */
} series_report;

/* Coverage, gaps, unservable and confirmed-empty time of the series. */
static int report_coverage(bk_store *s, const bk_api_opts *o, const bk_def *d, int64_t now,
                           series_report *rep, bk_err *err)
{
    bk_coverage *cov = NULL;
    bk_series *st = NULL;
    size_t n_cov = 0, n_st = 0;
    int rc = bk_store_coverage_list(s, d->symbol, (int)d->tf, &cov, &n_cov, err);
    if (rc == 0)
        rc = bk_store_series_load(s, d->symbol, (int)d->tf, &st, &n_st, err);
    if (rc == 0) {
        bk_ivset gaps;
        bk_ivset_init(&gaps);
        bk_plan_gaps(&o->plan, d, n_st ? &st[0].covered : NULL, now, &gaps);
        rep->gaps_found = (int64_t)gaps.n;
        rep->gap_us = bk_ivset_total(&gaps);
        bk_plan_unservable(&o->plan, d, n_st ? &st[0].covered : NULL, now, &gaps);
        rep->unservable_us = bk_ivset_total(&gaps);
        if (rep->unservable_us)
            bk_plan_unservable_reason(&o->plan, d->tf, rep->unservable_why,
                                      sizeof rep->unservable_why);
        size_t n_empty = 0;
        rc = bk_plan_confirmed_empty(s, &o->plan, d, n_st ? &st[0].covered : NULL, now, &gaps,
                                     &n_empty, err);
        rep->empty_us = bk_ivset_total(&gaps);
        bk_ivset_fini(&gaps);
        if (n_cov) {
            rep->from_us = cov[0].from_us;
            rep->to_us = cov[0].to_us;
            rep->last_success_us = cov[0].last_success_us;
        }
    }
    bk_series_free(st, n_st);
    free(cov);
    return rc;
}

/* Runs of the series whose slice lies in the current window. */
static int report_runs(bk_store *s, const bk_def *d, int64_t window_from, series_report *rep,
                       bk_err *err)
{
    bk_run_filter f = {.status = -1, .symbol = d->symbol, .tf = (int)d->tf};
    bk_run *runs = NULL;
    size_t n = 0;
    int rc = bk_store_runs_list(s, &f, &runs, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const bk_run *x = &runs[i];
        if (x->slice_to_us <= window_from || x->status == BK_ST_CANCELLED || x->type != d->type)
            continue;
        rep->total++;
        if (x->status == BK_ST_SUCCESS) {
            rep->done++;
            rep->bars += x->rows_written;
        } else if (x->status == BK_ST_RUNNING) {
            rep->running++;
            rep->partial += x->progress_percent / 100.0;
        } else if (x->status == BK_ST_QUEUED) {
            rep->queued++;
        } else if (x->status == BK_ST_FAILED) {
            rep->failed++;
        }
    }
    free(runs);
    return rc;
}

static void render_ensure(bk_jw *w, const bk_def *d, const bk_tick_stats *t,
                          const series_report *rep)
{
    bk_jw_obj_begin(w);
    bk_jw_key(w, "job_def_id");
    bk_jw_str(w, d->id);
    bk_jw_key(w, "symbol");
    bk_jw_str(w, d->symbol);
    bk_jw_key(w, "timeframe");
    bk_jw_str(w, bk_tf_name(d->tf));
    bk_jw_key(w, "status");
    bk_jw_str(w, rep->gaps_found ? "gaps_detected" : "coverage_complete");
    int_key(w, "window_days", d->window_days);
    int_key(w, "priority", d->priority);
    int_key(w, "slices_enqueued", (int64_t)t->enqueued);
    bk_jw_key(w, "coverage_status");
    bk_jw_obj_begin(w);
    time_key(w, "from_ts", rep->from_us);
    time_key(w, "to_ts", rep->to_us);
    time_key(w, "last_success_at", rep->last_success_us);
    int_key(w, "gaps_found", rep->gaps_found);
    bk_jw_key(w, "gap_hours");
    bk_jw_num(w, (double)rep->gap_us / 3600e6);
    bk_jw_key(w, "unservable_hours");
    bk_jw_num(w, (double)rep->unservable_us / 3600e6);
    bk_jw_key(w, "unservable_reason");
    bk_jw_str(w, rep->unservable_us ? rep->unservable_why : NULL);
    bk_jw_key(w, "confirmed_empty_hours");
    bk_jw_num(w, (double)rep->empty_us / 3600e6);
    bk_jw_obj_end(w);
    bk_jw_key(w, "backfill_progress");
    bk_jw_obj_begin(w);
    int_key(w, "total_slices", rep->total);
    int_key(w, "completed_slices", rep->done);
    int_key(w, "running_slices", rep->running);
    int_key(w, "queued_slices", rep->queued);
    int_key(w, "failed_slices", rep->failed);
    int_key(w, "progress_percent",
            rep->total ? (int64_t)(100.0 * ((double)rep->done + rep->partial) / (double)rep->total)
                       : 100);
    int_key(w, "bars_written", rep->bars);
    bk_jw_obj_end(w);
    bk_jw_obj_end(w);
}

/* May an anon-key call create one more definition now? Counts the ring of
 * the last hour's creations; on yes, records this one. 0, or the seconds
 * until it may (the oldest creation leaves the hour). */
static int64_t anon_create_slot(bk_api *a, int64_t now_us)
{
    const int64_t limit = a->opts.conf->anon_defs_per_hour;
    int64_t wait_s = 0;
    pthread_mutex_lock(&a->db_lock);
    while (a->anon_n > 0 && a->anon_created[a->anon_head] <= now_us - BK_US_PER_HOUR) {
        a->anon_head = (a->anon_head + 1) % BK_API_ANON_RING;
        a->anon_n--;
    }
    if (a->anon_n >= limit) {
        int64_t oldest = limit > 0 ? a->anon_created[a->anon_head] : now_us;
        wait_s = BK_MAX(1, (oldest + BK_US_PER_HOUR - now_us + BK_US_PER_S - 1) / BK_US_PER_S);
    } else {
        a->anon_created[(a->anon_head + a->anon_n) % BK_API_ANON_RING] = now_us;
        a->anon_n++;
    }
    pthread_mutex_unlock(&a->db_lock);
    return wait_s;
}

/* An anon-key ensure-coverage: its window and priority are cut to the
 * anon bounds; an existing definition is used as it is (never raised: what
 * a service call set stays); a new one counts against the creations per
 * hour and the total. 0 with *d ready to plan, or 0 with *done set when it
 * answered a 429 itself (what that returned in *answered), or a store error. */
static int anon_definition(bk_api_req *r, bk_store *s, bk_def *d, int64_t now, bool *done,
                           bk_http_rc *answered, bk_err *err)
{
    const bk_conf *c = bk_http_opts(r)->conf;
    *done = false;
    d->window_days =
        (int32_t)BK_MIN(d->window_days, c->anon_max_window[bk_tf_intraday(d->tf) ? 0 : 1]);
    d->priority = (int32_t)BK_MIN(d->priority, c->anon_max_priority);
    bk_def old;
    int rc = bk_store_def_get(s, d->symbol, d->tf, d->type, &old, err);
    if (rc == 0) {
        *d = old;
        return 0;
    }
    if (rc != BK_ENOENT)
        return rc;
    bk_def *all = NULL;
    size_t n = 0;
    if ((rc = bk_store_def_list(s, false, &all, &n, err)) != 0)
        return rc;
    free(all);
    if ((int64_t)n >= c->anon_max_definitions) {
        bk_http_retry_after(r, 3600);
        *done = true;
        *answered =
            bk_http_error(r, 429, "too_many_definitions",
                          "%zu definitions: the anon key creates no more (the service key may)", n);
        return 0;
    }
    int64_t wait_s = anon_create_slot(bk_http_api(r), now);
    if (wait_s > 0) {
        bk_http_retry_after(r, (int)BK_MIN(wait_s, 3600));
        *done = true;
        *answered =
            bk_http_error(r, 429, "rate_limited",
                          "the anon key created %lld definitions in the last hour; retry in %lld s",
                          (long long)c->anon_defs_per_hour, (long long)wait_s);
        return 0;
    }
    bool created = false;
    rc = bk_store_def_put(s, d, BK_PUT_RAISE, &created, now, err);
    if (rc == 0)
        bk_api__publish_def(bk_http_api(r), created ? "INSERT" : "UPDATE", d, d->updated_us);
    return rc;
}

bk_http_rc bk_route_ensure_coverage(bk_api_req *r)
{
    bk_ensure_req q;
    bk_api_error e;
    if (bk_req_ensure(bk_http_body(r), bk_http_body_len(r), &q, &e) != 0)
        return bk_http_api_error(r, &e);
    bk_store *s = bk_http_store(r);
    if (!s)
        return BK_HTTP_ANSWERED;
    const bk_api_opts *o = bk_http_opts(r);
    bk_err err = {0};
    int64_t now = bk_clock_now_us();
    bk_def d = {.tf = q.tf,
                .type = bk_job_for_tf(q.tf),
                .window_days = q.window_days,
                .priority = q.priority,
                .enabled = true};
    bk_strlcpy(d.symbol, q.symbol, sizeof d.symbol);
    bk_tick_stats t;
    series_report rep = {0};
    bk_work_env env = {.prov = o->prov, .provs = o->provs, .conf = o->conf};
    int rc = bk_work_symbol_check(s, &env, d.symbol, d.tf, &err);
    if (rc == BK_EPROV_SYMBOL) { /* nothing written: no definition, no run */
        bk_http_store_put(r, s);
        return bk_http_error(r, 404, "unknown_symbol", "%s", err.msg);
    }
    if (bk_http_granted(r) == BK_ACCESS_SERVICE) {
        bool created = false;
        rc = bk_store_def_put(s, &d, BK_PUT_RAISE, &created, now, &err);
        if (rc == 0)
            bk_api__publish_def(bk_http_api(r), created ? "INSERT" : "UPDATE", &d, d.updated_us);
    } else {
        bool done = false;
        bk_http_rc answered = BK_HTTP_ANSWERED;
        rc = anon_definition(r, s, &d, now, &done, &answered, &err);
        if (rc == 0 && done) {
            bk_http_store_put(r, s);
            return answered;
        }
    }
    if (rc == 0)
        rc = bk_plan_tick(s, &o->plan, &d, now, "ensure-coverage", &t, &err);
    if (rc == 0 && t.enqueued)
        bk_api__wake(bk_http_api(r));
    if (rc == 0 && t.more)
        atomic_store(&bk_http_api(r)->plan_more, true);
    if (rc == 0)
        rc = report_coverage(s, o, &d, now, &rep, &err);
    if (rc == 0)
        rc = report_runs(s, &d, bk_plan_window_start(&o->plan, d.tf, d.window_days, now), &rep,
                         &err);
    if (rc)
        return store_fail(r, s, &err);
    bk_http_store_put(r, s);
    bk_buf b;
    bk_buf_init(&b);
    bk_jw w;
    bk_jw_init(&w, &b);
    render_ensure(&w, &d, &t, &rep);
    return bk_http_json(r, 200, &b);
}

bk_http_rc bk_route_fetch_bars(bk_api_req *r)
{
    bk_fetch_bars_req q;
    bk_api_error e;
    if (bk_req_fetch_bars(bk_http_body(r), bk_http_body_len(r), &q, &e) != 0)
        return bk_http_api_error(r, &e);
    bk_store *s = bk_http_store(r);
    if (!s)
        return BK_HTTP_ANSWERED;
    const bk_api_opts *o = bk_http_opts(r);
    char owner[BK_OWNER_MAX];
    snprintf(owner, sizeof owner, "%s:api", bk_host_id());
    bk_run run;
    bk_err err = {0};
    int rc = bk_store_run_claim_id(s, q.run_id, owner, bk_clock_now_us(),
                                   o->conf->lease_ms * BK_US_PER_MS, &run, &err);
    if (rc == BK_ENOENT) {
        bk_http_store_put(r, s);
        return bk_http_error(r, 404, "not_found", "no job run %s", q.run_id);
    }
    if (rc == BK_EBUSY) {
        bk_http_store_put(r, s);
        return bk_http_error(r, 409, "not_queued", "job run %s is not queued", q.run_id);
    }
    if (rc)
        return store_fail(r, s, &err);
    bk_api_on_run(bk_http_api(r), &run);
    bk_work_env env = {.prov = o->prov,
                       .provs = o->provs,
                       .conf = o->conf,
                       .on_event = bk_api_on_run,
                       .event_ctx = bk_http_api(r)};
    bk_outcome out;
    rc = bk_work_execute(s, &env, owner, &run, &out, &err);
    bk_http_store_put(r, s);
    if (rc && rc != BK_ELEASE)
        return bk_http_store_error(r, &err);
    bk_buf b;
    bk_buf_init(&b);
    bk_jw w;
    bk_jw_init(&w, &b);
    bk_jw_obj_begin(&w);
    bk_jw_key(&w, "job_run_id");
    bk_jw_str(&w, run.id);
    bk_jw_key(&w, "status");
    bk_jw_str(&w, bk_status_name(run.status));
    int_key(&w, "rows_written", out.rows_written);
    bk_jw_key(&w, "provider");
    bk_jw_str(&w, out.provider[0] ? out.provider : NULL);
    time_key(&w, "from", run.slice_from_us);
    time_key(&w, "to", run.slice_to_us);
    int_key(&w, "duration_ms", out.duration_us / 1000);
    int_key(&w, "attempt", run.attempt);
    bk_jw_key(&w, "error_code");
    bk_jw_str(&w, out.code ? bk_err_run_code(out.code) : NULL);
    bk_jw_key(&w, "error_message");
    bk_jw_str(&w, run.error_message[0] ? run.error_message : NULL);
    bk_jw_obj_end(&w);
    return bk_http_json(r, 200, &b);
}
