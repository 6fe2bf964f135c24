/*
 * routes_chart.c — POST /functions/v1/chart-data-v2: the stored bars of a
 * series in the guide's layer shape. Served from what is stored whatever
 * the providers are doing (a failed fetch never blanks a chart that has
 * bars), with metadata saying how fresh the series is and whether gaps
 * remain. For intraday timeframes the latest trading day's bars form the
 * "intraday" layer and earlier ones the "historical" layer; daily and weekly
 * bars are all historical. The forecast layer holds the series' stored
 * forecast (a run_forecast definition's latest run, docs/forecast.md), with
 * when and on which bars it was made and how its past forecasts fared.
 * A bar is "provisional" while the provider that served it may still revise
 * it: its end is later than now minus that provider's settle window (the
 * planner fetches it again once settled, plan/settle.c).
 */
#include "api/api_impl.h"
#include "core/clock.h"

#include <stdlib.h>
#include <string.h>

#define PROVIDERS_MAX 8

typedef struct chart_bars {
    bk_bar *bars;
    unsigned char *prov; /* index into names, per bar */
    size_t n, cap;
    char names[PROVIDERS_MAX][BK_PROV_NAME_MAX];
    int n_names;
    int64_t
        settled_before[PROVIDERS_MAX]; /* per provider: a bar ending after this is provisional */
    bk_tf tf;
    bk_anchor anchor;
} chart_bars;

static int collect(void *ctx, const bk_bar *bar, const char *provider)
{
    chart_bars *c = ctx;
    int p = 0;
    while (p < c->n_names && strcmp(c->names[p], provider) != 0)
        p++;
    if (p == c->n_names) {
        if (c->n_names == PROVIDERS_MAX)
            p = PROVIDERS_MAX - 1; /* more providers than that in one series: lump them */
        else
            bk_strlcpy(c->names[c->n_names++], provider, BK_PROV_NAME_MAX);
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        c->bars = bk_xrealloc(c->bars, cap * sizeof *c->bars);
        c->prov = bk_xrealloc(c->prov, cap);
        c->cap = cap;
    }
    c->bars[c->n] = *bar;
    c->prov[c->n++] = (unsigned char)p;
    return 0;
}

/* now − the settle window of each provider of the series: a configured
 * provider's own, 0 for one no longer configured (nothing will refetch its
 * bars on its behalf, nor say how long it revises them). */
static void settled_before(chart_bars *c, const bk_api_opts *o, int64_t now)
{
    bk_prov *provs[BK_PROVSET_MAX];
    size_t n = bk_api_providers(o, provs, BK_PROVSET_MAX);
    for (int i = 0; i < c->n_names; i++) {
        int64_t settle = 0;
        for (size_t k = 0; k < n; k++)
            if (strcmp(provs[k]->name, c->names[i]) == 0)
                settle = provs[k]->settle_us;
        c->settled_before[i] = now - settle;
    }
}

/* Whether bar i may still be revised: its trading span (label + its
 * timeframe's step when the calendar does not know it) ends after its
 * provider's settle window began. */
static bool provisional(const chart_bars *c, size_t i)
{
    const bk_bar *b = &c->bars[i];
    int64_t since = c->settled_before[c->prov[i]];
    int64_t end = b->ts_us + bk_tf_step_us(c->tf);
    if (end <= since)
        return false; /* a trading span never outlasts its nominal step: no calendar needed */
    bk_calbar cb;
    if (bk_cal_bars(c->tf, c->anchor, b->ts_us, b->ts_us + 1, &cb, 1) > 0 && cb.ts_us == b->ts_us)
        end = cb.to_us;
    return end > since;
}

static void render_layer(bk_jw *w, const char *key, const chart_bars *c, size_t from, size_t to)
{
    bk_jw_key(w, key);
    bk_jw_obj_begin(w);
    bk_jw_key(w, "count");
    bk_jw_int(w, (int64_t)(to - from));
    bk_jw_key(w, "provider");
    bk_jw_str(w, to > from ? c->names[c->prov[to - 1]] : NULL);
    bk_jw_key(w, "data");
    bk_jw_arr_begin(w);
    for (size_t i = from; i < to; i++) {
        const bk_bar *b = &c->bars[i];
        bk_jw_obj_begin(w);
        bk_jw_key(w, "ts");
        bk_jw_time(w, b->ts_us);
        bk_jw_key(w, "open");
        bk_jw_num(w, b->open);
        bk_jw_key(w, "high");
        bk_jw_num(w, b->high);
        bk_jw_key(w, "low");
        bk_jw_num(w, b->low);
        bk_jw_key(w, "close");
        bk_jw_num(w, b->close);
        bk_jw_key(w, "volume");
        bk_jw_num(w, b->volume);
        bk_jw_key(w, "provider");
        bk_jw_str(w, c->names[c->prov[i]]);
        bk_jw_key(w, "provisional");
        bk_jw_bool(w, provisional(c, i));
        bk_jw_obj_end(w);
    }
    bk_jw_arr_end(w);
    bk_jw_obj_end(w);
}

/* Freshness, gaps and unservable time of the series over the requested days. */
typedef struct chart_meta {
    int64_t cov_from, cov_to, last_success;
    int64_t gaps, gap_us;
    int64_t unservable_us; /* missing, older than any provider of the chain serves */
    char unservable_why[64];
    bool hydrating;
} chart_meta;

static int load_meta(bk_store *s, const bk_api_opts *o, const bk_chart_req *q, int64_t now,
                     chart_meta *m, bk_err *err)
{
    bk_coverage *cov = NULL;
    bk_series *st = NULL;
    size_t n_cov = 0, n_st = 0;
    int rc = bk_store_coverage_list(s, q->symbol, (int)q->tf, &cov, &n_cov, err);
    if (rc == 0)
        rc = bk_store_series_load(s, q->symbol, (int)q->tf, &st, &n_st, err);
    if (rc == 0) {
        bk_def d = {.tf = q->tf, .type = bk_job_for_tf(q->tf), .window_days = q->days};
        bk_strlcpy(d.symbol, q->symbol, sizeof d.symbol);
        bk_ivset gaps;
        bk_ivset_init(&gaps);
        bk_plan_gaps(&o->plan, &d, n_st ? &st[0].covered : NULL, now, &gaps);
        m->gaps = (int64_t)gaps.n;
        m->gap_us = bk_ivset_total(&gaps);
        bk_plan_unservable(&o->plan, &d, n_st ? &st[0].covered : NULL, now, &gaps);
        m->unservable_us = bk_ivset_total(&gaps);
        if (m->unservable_us)
            bk_plan_unservable_reason(&o->plan, d.tf, m->unservable_why, sizeof m->unservable_why);
        bk_ivset_fini(&gaps);
        m->hydrating = n_st && st[0].active.n > 0;
        if (n_cov) {
            m->cov_from = cov[0].from_us;
            m->cov_to = cov[0].to_us;
            m->last_success = cov[0].last_success_us;
        }
    }
    bk_series_free(st, n_st);
    free(cov);
    return rc;
}

/* The series' stored forecast and its realized quality. */
typedef struct chart_fc {
    bool have;
    bk_fc_meta meta;
    bk_fc_point *pts;
    size_t n;
    bk_fc_stat total; /* over every step of the last BK_API_FC_LAST scored forecasts */
} chart_fc;

#define BK_API_FC_LAST 20

static int load_fc(bk_store *s, const bk_chart_req *q, chart_fc *f, bk_err *err)
{
    int rc = bk_store_fc_get(s, q->symbol, q->tf, &f->meta, &f->pts, &f->n, err);
    if (rc == BK_ENOENT) {
        bk_err_clear(err);
        return 0;
    }
    if (rc)
        return rc;
    f->have = true;
    bk_fc_stat *st = NULL;
    size_t n = 0;
    rc = bk_store_fc_stats(s, q->symbol, (int)q->tf, BK_API_FC_LAST, &st, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        double k = (double)st[i].n;
        f->total.n += st[i].n;
        f->total.coverage80 += st[i].coverage80 * k;
        f->total.coverage95 += st[i].coverage95 * k;
        f->total.mae += st[i].mae * k;
        f->total.naive_mae += st[i].naive_mae * k;
    }
    free(st);
    return rc;
}

static void num_or_null(bk_jw *w, const char *key, double v, bool have)
{
    bk_jw_key(w, key);
    if (have)
        bk_jw_num(w, v);
    else
        bk_jw_null(w);
}

static void render_fc_layer(bk_jw *w, const chart_fc *f)
{
    bk_jw_key(w, "forecast");
    bk_jw_obj_begin(w);
    bk_jw_key(w, "count");
    bk_jw_int(w, (int64_t)f->n);
    bk_jw_key(w, "provider");
    bk_jw_str(w, f->n ? BK_FC_PROVIDER : NULL);
    bk_jw_key(w, "model");
    bk_jw_str(w, f->have ? f->meta.model : NULL);
    bk_jw_key(w, "data");
    bk_jw_arr_begin(w);
    for (size_t i = 0; i < f->n; i++) {
        const bk_fc_point *p = &f->pts[i];
        bk_jw_obj_begin(w);
        bk_jw_key(w, "ts");
        bk_jw_time(w, p->ts_us);
        bk_jw_key(w, "step");
        bk_jw_int(w, p->step);
        const char *k[] = {"point", "lo80", "hi80", "lo95", "hi95"};
        double v[] = {p->point, p->lo80, p->hi80, p->lo95, p->hi95};
        for (size_t j = 0; j < BK_ARRAY_LEN(k); j++) {
            bk_jw_key(w, k[j]);
            bk_jw_num(w, v[j]);
        }
        bk_jw_key(w, "model");
        bk_jw_str(w, f->meta.model);
        bk_jw_obj_end(w);
    }
    bk_jw_arr_end(w);
    bk_jw_obj_end(w);
}

/* metadata.forecast: null without a stored forecast. */
static void render_fc_meta(bk_jw *w, const chart_fc *f)
{
    bk_jw_key(w, "forecast");
    if (!f->have) {
        bk_jw_null(w);
        return;
    }
    bk_jw_obj_begin(w);
    bk_jw_key(w, "model");
    bk_jw_str(w, f->meta.model);
    bk_jw_key(w, "made_at");
    bk_jw_time(w, f->meta.made_us);
    bk_jw_key(w, "as_of_bar_ts");
    bk_jw_time(w, f->meta.origin_us);
    bk_jw_key(w, "as_of_close");
    bk_jw_num(w, f->meta.origin_close);
    bk_jw_key(w, "bars_used");
    bk_jw_int(w, f->meta.n_bars);
    bk_jw_key(w, "horizon");
    bk_jw_int(w, f->meta.horizon);
    bk_jw_key(w, "run_id");
    bk_jw_str(w, f->meta.run_id[0] ? f->meta.run_id : NULL);
    bk_jw_key(w, "realized");
    bk_jw_obj_begin(w);
    bool any = f->total.n > 0;
    double k = any ? (double)f->total.n : 1;
    bk_jw_key(w, "last_forecasts");
    bk_jw_int(w, BK_API_FC_LAST);
    bk_jw_key(w, "scored_steps");
    bk_jw_int(w, f->total.n);
    num_or_null(w, "coverage80", f->total.coverage80 / k, any);
    num_or_null(w, "coverage95", f->total.coverage95 / k, any);
    num_or_null(w, "mae", f->total.mae / k, any);
    num_or_null(w, "naive_mae", f->total.naive_mae / k, any);
    num_or_null(w, "rel_mae", f->total.mae / f->total.naive_mae, any && f->total.naive_mae > 0);
    bk_jw_obj_end(w);
    bk_jw_obj_end(w);
}

static void render_meta(bk_jw *w, const bk_api_opts *o, const bk_chart_req *q, const chart_bars *c,
                        const chart_meta *m, const chart_fc *f, int64_t now)
{
    int64_t horizon = bk_plan_horizon(&o->plan, q->tf, now);
    bk_jw_key(w, "metadata");
    bk_jw_obj_begin(w);
    bk_jw_key(w, "total_bars");
    bk_jw_int(w, (int64_t)c->n);
    bk_jw_key(w, "start_date");
    bk_jw_time(w, c->n ? c->bars[0].ts_us : 0);
    bk_jw_key(w, "end_date");
    bk_jw_time(w, c->n ? c->bars[c->n - 1].ts_us : 0);
    bk_jw_key(w, "days");
    bk_jw_int(w, q->days);
    bk_jw_key(w, "coverage_from");
    bk_jw_time(w, m->cov_from);
    bk_jw_key(w, "coverage_to");
    bk_jw_time(w, m->cov_to);
    bk_jw_key(w, "last_success_at");
    bk_jw_time(w, m->last_success);
    bk_jw_key(w, "freshness_lag_seconds");
    if (m->cov_to)
        bk_jw_int(w, horizon > m->cov_to ? (horizon - m->cov_to) / BK_US_PER_S : 0);
    else
        bk_jw_null(w);
    bk_jw_key(w, "gaps_remaining");
    bk_jw_int(w, m->gaps);
    bk_jw_key(w, "gap_hours");
    bk_jw_num(w, (double)m->gap_us / 3600e6);
    bk_jw_key(w, "unservable_hours");
    bk_jw_num(w, (double)m->unservable_us / 3600e6);
    bk_jw_key(w, "unservable_reason");
    bk_jw_str(w, m->unservable_us ? m->unservable_why : NULL);
    bk_jw_key(w, "is_hydrating");
    bk_jw_bool(w, m->hydrating);
    render_fc_meta(w, f);
    bk_jw_key(w, "generated_at");
    bk_jw_time(w, now);
    bk_jw_obj_end(w);
}

bk_http_rc bk_route_chart(bk_api_req *r)
{
    bk_chart_req q;
    bk_api_error e;
    if (bk_req_chart(bk_http_body(r), bk_http_body_len(r), &q, &e) != 0)
        return bk_http_api_error(r, &e);
    bk_store *s = bk_http_store(r);
    if (!s)
        return BK_HTTP_ANSWERED;
    const bk_api_opts *o = bk_http_opts(r);
    int64_t now = bk_clock_now_us();
    chart_bars c = {.tf = q.tf, .anchor = o->plan.anchor};
    chart_meta m = {0};
    chart_fc f = {0};
    bk_err err = {0};
    int rc = bk_store_bars_read(s, q.symbol, q.tf, now - (int64_t)q.days * BK_US_PER_DAY, now + 1,
                                collect, &c, &err);
    if (rc == 0)
        rc = load_meta(s, o, &q, now, &m, &err);
    if (rc == 0)
        rc = load_fc(s, &q, &f, &err);
    bk_http_store_put(r, s);
    if (rc) {
        free(c.bars);
        free(c.prov);
        free(f.pts);
        return bk_http_store_error(r, &err);
    }
    settled_before(&c, o, now);
    size_t split = c.n; /* first bar of the intraday layer */
    if (bk_tf_intraday(q.tf) && c.n) {
        int32_t last_day = bk_cal_ny_day(c.bars[c.n - 1].ts_us);
        while (split > 0 && bk_cal_ny_day(c.bars[split - 1].ts_us) == last_day)
            split--;
    }
    bk_buf b;
    bk_buf_init(&b);
    bk_jw w;
    bk_jw_init(&w, &b);
    bk_jw_obj_begin(&w);
    bk_jw_key(&w, "symbol");
    bk_jw_str(&w, q.symbol);
    bk_jw_key(&w, "timeframe");
    bk_jw_str(&w, bk_tf_name(q.tf));
    bk_jw_key(&w, "layers");
    bk_jw_obj_begin(&w);
    render_layer(&w, "historical", &c, 0, split);
    render_layer(&w, "intraday", &c, split, c.n);
    render_fc_layer(&w, &f);
    bk_jw_obj_end(&w);
    render_meta(&w, o, &q, &c, &m, &f, now);
    bk_jw_obj_end(&w);
    free(c.bars);
    free(c.prov);
    free(f.pts);
    return bk_http_json(r, 200, &b);
}
