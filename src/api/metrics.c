/*
 * metrics.c — /metrics in the Prometheus text format (version 0.0.4) and the
 * counters behind it. Counters describe this process (publish.c feeds the run
 * counters); gauges (queue depth, freshness) are read from the store at
 * scrape time, so they describe the whole database.
 */
#include "api/api_impl.h"
#include "core/clock.h"
#include "core/log.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const double bucket_le[BK_HIST_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                  0.5,   1,    2.5,   5,    10,  30};

void bk_metrics__init(bk_api_metrics *m)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
}

void bk_metrics__fini(bk_api_metrics *m)
{
    pthread_mutex_destroy(&m->lock);
}

/* A run reached an outcome: success, failed, or queued again after a failed
 * attempt (counted as "retry"). */
void bk_api_on_tick(bk_api *a, size_t leases_lost, size_t revived)
{
    if (!a)
        return;
    atomic_fetch_add(&a->metrics.leases_lost, (long long)leases_lost);
    atomic_fetch_add(&a->metrics.runs_revived, (long long)revived);
}

void bk_metrics__on_run(bk_api_metrics *m, const bk_run *run)
{
    int slot;
    if (run->status == BK_ST_SUCCESS || run->status == BK_ST_FAILED)
        slot = (int)run->status;
    else if (run->status == BK_ST_QUEUED && run->error_code[0])
        slot = BK_ST_QUEUED; /* exported as "retry" */
    else
        return;
    const char *prov = run->provider[0] ? run->provider : "none";
    pthread_mutex_lock(&m->lock);
    int i = 0;
    while (i < m->n_runs && strcmp(m->runs[i].provider, prov) != 0)
        i++;
    if (i == m->n_runs && m->n_runs < (int)BK_ARRAY_LEN(m->runs))
        bk_strlcpy(m->runs[m->n_runs++].provider, prov, sizeof m->runs[0].provider);
    if (i < m->n_runs)
        m->runs[i].by_status[slot]++;
    if (run->status == BK_ST_SUCCESS && run->started_us && run->finished_us >= run->started_us) {
        double s = (double)(run->finished_us - run->started_us) / 1e6;
        for (int b = 0; b < BK_HIST_BUCKETS; b++)
            if (s <= bucket_le[b])
                m->duration_buckets[b]++;
        m->duration_buckets[BK_HIST_BUCKETS]++;
        m->duration_sum_s += s;
        m->duration_count++;
    }
    pthread_mutex_unlock(&m->lock);
    if (run->status == BK_ST_SUCCESS)
        atomic_fetch_add(&m->bars_written, run->rows_written);
}

void bk_api__count_request(bk_api *a, int status)
{
    int cls = status / 100;
    if (cls >= 1 && cls <= 5)
        atomic_fetch_add(&a->metrics.http_by_class[cls], 1);
}

static void head(bk_buf *b, const char *name, const char *type, const char *help)
{
    bk_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_providers(bk_api *a, bk_buf *b);

static void render_counters(bk_api *a, bk_buf *b)
{
    bk_api_metrics *m = &a->metrics;
    static const char *const names[BK_ST__N] = {"retry", NULL, "success", "failed", NULL};
    pthread_mutex_lock(&m->lock);
    head(b, "barkeep_runs_finished_total", "counter",
         "Run attempts finished by this process, by provider and outcome.");
    for (int i = 0; i < m->n_runs; i++)
        for (int st = 0; st < BK_ST__N; st++)
            if (names[st])
                bk_buf_printf(b,
                              "barkeep_runs_finished_total{provider=\"%s\",outcome=\"%s\"} %lld\n",
                              m->runs[i].provider, names[st], (long long)m->runs[i].by_status[st]);
    head(b, "barkeep_run_duration_seconds", "histogram",
         "Duration of successful runs, claim to commit.");
    for (int i = 0; i < BK_HIST_BUCKETS; i++)
        bk_buf_printf(b, "barkeep_run_duration_seconds_bucket{le=\"%g\"} %lld\n", bucket_le[i],
                      (long long)m->duration_buckets[i]);
    bk_buf_printf(b, "barkeep_run_duration_seconds_bucket{le=\"+Inf\"} %lld\n",
                  (long long)m->duration_buckets[BK_HIST_BUCKETS]);
    bk_buf_printf(b, "barkeep_run_duration_seconds_sum %.6f\n", m->duration_sum_s);
    bk_buf_printf(b, "barkeep_run_duration_seconds_count %lld\n", (long long)m->duration_count);
    pthread_mutex_unlock(&m->lock);
    head(b, "barkeep_bars_written_total", "counter", "Bars committed by this process.");
    bk_buf_printf(b, "barkeep_bars_written_total %lld\n", (long long)atomic_load(&m->bars_written));
    head(b, "barkeep_leases_lost_total", "counter",
         "Runs whose lease was lost (expired, or its process gone), requeued or dead-lettered by "
         "this process's scheduler.");
    bk_buf_printf(b, "barkeep_leases_lost_total %lld\n", (long long)atomic_load(&m->leases_lost));
    head(b, "barkeep_runs_revived_total", "counter",
         "Dead-lettered runs this process's scheduler re-planned after their cool-down.");
    bk_buf_printf(b, "barkeep_runs_revived_total %lld\n", (long long)atomic_load(&m->runs_revived));
    render_providers(a, b);
    head(b, "barkeep_sse_clients", "gauge", "Connected event-stream clients.");
    pthread_mutex_lock(&a->sse_lock); /* the bus's subscribers include realtime sockets */
    int n_sse = a->n_sse;
    pthread_mutex_unlock(&a->sse_lock);
    bk_buf_printf(b, "barkeep_sse_clients %d\n", n_sse);
    head(b, "barkeep_realtime_sockets", "gauge", "Open Realtime WebSockets.");
    bk_buf_printf(b, "barkeep_realtime_sockets %zu\n", bk_ws__sockets(a));
    head(b, "barkeep_http_requests_total", "counter", "HTTP requests answered, by status class.");
    for (int c = 1; c <= 5; c++)
        bk_buf_printf(b, "barkeep_http_requests_total{code=\"%dxx\"} %lld\n", c,
                      (long long)atomic_load(&a->metrics.http_by_class[c]));
}

/* Provider counters and breaker states, for every configured provider. */
static void render_providers(bk_api *a, bk_buf *b)
{
    static const struct {
        const char *name, *help;
        size_t off;  /* of the atomic_llong in bk_prov_stats */
        double unit; /* 0: an integer count; else the value is divided by it */
    } counters[] = {
        {"barkeep_provider_requests_total", "Page requests sent to a provider.",
         offsetof(bk_prov_stats, requests), 0},
        {"barkeep_provider_errors_total", "Page requests that failed.",
         offsetof(bk_prov_stats, errors), 0},
        {"barkeep_provider_rate_limited_total",
         "Page requests answered with a rate limit (HTTP 429).",
         offsetof(bk_prov_stats, rate_limited), 0},
        {"barkeep_provider_latency_seconds_total", "Time spent waiting for a provider.",
         offsetof(bk_prov_stats, latency_us), 1e6},
        {"barkeep_provider_fallback_runs_total",
         "Runs a provider served after an earlier provider of the chain failed them.",
         offsetof(bk_prov_stats, fallback_served), 0},
        {"barkeep_bars_revised_total",
         "Bars a settle refetch found new or changed since they were first fetched.",
         offsetof(bk_prov_stats, bars_revised), 0},
    };
    bk_prov *provs[BK_PROVSET_MAX];
    size_t n = bk_api_providers(&a->opts, provs, BK_PROVSET_MAX);
    if (n == 0)
        return;
    for (size_t k = 0; k < BK_ARRAY_LEN(counters); k++) {
        head(b, counters[k].name, "counter", counters[k].help);
        for (size_t i = 0; i < n; i++) {
            atomic_llong *v = (atomic_llong *)((char *)&provs[i]->stats + counters[k].off);
            long long x = atomic_load(v);
            if (counters[k].unit > 0)
                bk_buf_printf(b, "%s{provider=\"%s\"} %.6f\n", counters[k].name, provs[i]->name,
                              (double)x / counters[k].unit);
            else
                bk_buf_printf(b, "%s{provider=\"%s\"} %lld\n", counters[k].name, provs[i]->name, x);
        }
    }
    int64_t now = bk_clock_now_us(), until;
    head(b, "barkeep_provider_breaker_open", "gauge",
         "1 while a provider's circuit breaker keeps it out (open or half-open).");
    for (size_t i = 0; i < n; i++)
        bk_buf_printf(b, "barkeep_provider_breaker_open{provider=\"%s\"} %d\n", provs[i]->name,
                      bk_api_breaker(&a->opts, provs[i], now, &until) != BK_BREAKER_CLOSED);
}

/* Gauges read from the store: runs by status, queue age, freshness. */
static int render_store(bk_api *a, bk_store *s, bk_buf *b, bk_err *err)
{
    int64_t counts[BK_ST__N] = {0}, oldest = 0, now = bk_clock_now_us();
    bk_run_filter all = {.status = -1, .tf = -1};
    int64_t skew = 0;
    int rc = bk_store_runs_count(s, &all, counts, err);
    if (rc == 0)
        rc = bk_store_runs_oldest_queued(s, &oldest, err);
    if (rc == 0)
        rc = bk_store_clock_skew(s, &skew, err);
    bk_coverage *cov = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = bk_store_coverage_list(s, NULL, -1, &cov, &n, err);
    if (rc)
        return rc;
    head(b, "barkeep_runs", "gauge", "Runs in the database by status.");
    for (int st = 0; st < BK_ST__N; st++)
        bk_buf_printf(b, "barkeep_runs{status=\"%s\"} %lld\n", bk_status_name((bk_status)st),
                      (long long)counts[st]);
    head(b, "barkeep_queue_depth", "gauge", "Queued runs.");
    bk_buf_printf(b, "barkeep_queue_depth %lld\n", (long long)counts[BK_ST_QUEUED]);
    head(b, "barkeep_dead_letter_runs", "gauge",
         "Dead-lettered (failed) runs awaiting retry_failed.");
    bk_buf_printf(b, "barkeep_dead_letter_runs %lld\n", (long long)counts[BK_ST_FAILED]);
    head(b, "barkeep_oldest_queued_age_seconds", "gauge", "Age of the oldest queued run.");
    bk_buf_printf(b, "barkeep_oldest_queued_age_seconds %.3f\n",
                  oldest ? (double)(now - oldest) / 1e6 : 0.0);
    head(b, "barkeep_clock_skew_seconds", "gauge",
         "How far this process's clock is ahead of the database's (negative: behind; 0 on"
         " SQLite).");
    bk_buf_printf(b, "barkeep_clock_skew_seconds %.3f\n", (double)skew / 1e6);
    head(b, "barkeep_freshness_lag_seconds", "gauge",
         "Time between the latest closed bar and the end of coverage, per series.");
    for (size_t i = 0; i < n; i++) {
        int64_t horizon = bk_plan_horizon(&a->opts.plan, cov[i].tf, now);
        double lag =
            cov[i].to_us && horizon > cov[i].to_us ? (double)(horizon - cov[i].to_us) / 1e6 : 0.0;
        bk_buf_printf(b, "barkeep_freshness_lag_seconds{symbol=\"%s\",timeframe=\"%s\"} %.3f\n",
                      cov[i].symbol, bk_tf_name(cov[i].tf), lag);
    }
    free(cov);
    return 0;
}

bk_http_rc bk_route_metrics(bk_api_req *r)
{
    bk_buf b;
    bk_buf_init(&b);
    render_counters(bk_http_api(r), &b);
    bk_store *s = bk_http_store(r);
    if (!s) {
        bk_buf_fini(&b);
        return BK_HTTP_ANSWERED;
    }
    bk_err err = {0};
    int rc = render_store(bk_http_api(r), s, &b, &err);
    bk_http_store_put(r, s);
    if (rc) {
        bk_buf_fini(&b);
        return bk_http_store_error(r, &err);
    }
    return bk_http_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
}
