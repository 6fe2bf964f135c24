/*
 * test_accept.c — the provider acceptance suite: barkeep's record is the
 * truth. Each of the five HTTP adapters, for each of the eight timeframes it
 * serves, backfills a short window against a deterministic market
 * (market.h) speaking that provider's real request and response formats,
 * with the real planner, the real worker pool (several workers) and a real
 * store (SQLite, or PostgreSQL when BK_TEST_DB_URL is set). Once the queue is
 * idle, every series is checked against what the market served:
 *
 *   - the stored bars are exactly the market's bars of the covered time
 *     (labels and values; an aggregated timeframe's bars are the aggregates
 *     of the native bars served, which the market guarantees equal
 *     bk_sim_bar's bars of that timeframe), none outside it, none missing;
 *   - nothing is left to fetch (no gap), and no covered time lacks bars
 *     except where the market served none: a halted series (no bars on 24
 *     and 25 November) is covered there as confirmed empty, exactly those
 *     bars, and every other series has no confirmed-empty bar at all;
 *   - an unknown symbol is never covered, holds no bar, and its runs are
 *     dead-lettered UNKNOWN_SYMBOL;
 *   - then all over again with 30% of the requests faulted (5xx, 429 with
 *     Retry-After, timeouts, truncated and malformed bodies, impossible OHLC
 *     in served bars, native bars of aggregated timeframes included): still
 *     not one wrong bar stored, and after bounded retries every series exact;
 *   - no request came back sooner than the Retry-After of its 429;
 *   - and 1h and 4h once more, faulted, labelled on the clock grid.
 *
 * Each series has its own symbol, so the market's observer tells what it
 * served for which series; the figures are printed per series and in total
 * (BK_ACCEPT_RUNS=1 also lists every run, BK_ACCEPT_LOG=1 shows the log).
 *
 * The clock is pinned (2025-11-29, a Saturday): the windows hold the early
 * close of 28 November 2025, Thanksgiving, and the end of daylight saving
 * time on 2 November. Finnhub serves intraday candles unadjusted and daily
 * ones split-adjusted, so one configuration cannot serve both: it is run
 * twice, "raw" for 1m..4h and "split" for d1/w1.
 *
 * Read next: market.h (what is served), plan.h, work.h (the pool).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cal/cal.h"
#include "conf/conf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "fixture.h"
#include "market.h"
#include "model/time.h"
#include "plan/plan.h"
#include "prov/prov.h"
#include "prov/provset.h"
#include "store/store.h"
#include "testutil.h"
#include "work/work.h"

#define NOW         "2025-11-29T12:00:00Z"
#define WORKERS     4
#define FAULT_RATE  0.3
#define TIMEOUT_MS  300 /* the adapters' request timeout; a timeout fault stalls longer */
#define PAGE_SIZE   300 /* Alpaca: bars per page; Massive: minutes (10 bars of 30m) */
#define PHASE_LIMIT (60 * BK_US_PER_S)

/* One provider configuration and the timeframes it serves under it. */
typedef struct pconf {
    const char *name; /* the provider column */
    const char *label;
    int (*ctor)(bk_prov **out, const bk_prov_cfg *cfg, bk_err *err);
    const char *feed, *adjustment;
    unsigned tfs;        /* 1 << bk_tf served */
    unsigned aggregated; /* 1 << bk_tf built here from finer bars */
    const char *sym[2];  /* the symbol of the clean and of the faulted phase */
    const char *unknown;
    bk_tf unknown_tf;
} pconf;

#define ALL_TF   0xffu
#define INTRADAY 0x3fu
#define DAILY    0xc0u
#define B(tf)    (1u << (tf))

#define INTRA_AGG (B(BK_TF_1H) | B(BK_TF_4H)) /* 1h and 4h from 30-minute bars */

static const pconf confs[] = {
    {.name = "massive",
     .label = "massive",
     .ctor = bk_massive_new,
     .adjustment = "split",
     .tfs = ALL_TF,
     .aggregated = INTRA_AGG,
     .sym = {"AAPL", "AMD"},
     .unknown = "ZZZMA",
     .unknown_tf = BK_TF_D1},
    {.name = "alpaca",
     .label = "alpaca (sip, raw)",
     .ctor = bk_alpaca_new,
     .feed = "sip",
     .adjustment = "raw",
     .tfs = ALL_TF,
     .aggregated = INTRA_AGG,
     .sym = {"MSFT", "INTC"},
     .unknown = "ZZZAL",
     .unknown_tf = BK_TF_D1},
    {.name = "yahoo",
     .label = "yahoo",
     .ctor = bk_yahoo_new,
     .tfs = ALL_TF,
     .aggregated = B(BK_TF_4H), /* from 60m bars, which start at the open */
     .sym = {"NVDA", "QCOM"},
     .unknown = "ZZZYA",
     .unknown_tf = BK_TF_D1},
    {.name = "finnhub",
     .label = "finnhub (raw: intraday)",
     .ctor = bk_finnhub_new,
     .adjustment = "raw",
     .tfs = INTRADAY,
     .aggregated = INTRA_AGG,
     .sym = {"AMZN", "ORCL"},
     .unknown = "ZZZFR",
     .unknown_tf = BK_TF_15M},
    {.name = "finnhub",
     .label = "finnhub (split: d1, w1)",
     .ctor = bk_finnhub_new,
     .adjustment = "split",
     .tfs = DAILY,
     .sym = {"META", "IBM"},
     .unknown = "ZZZFS",
     .unknown_tf = BK_TF_D1},
    {.name = "tradier",
     .label = "tradier",
     .ctor = bk_tradier_new,
     .tfs = ALL_TF,
     .aggregated = B(BK_TF_30M) | INTRA_AGG, /* from 15min bars */
     .sym = {"TSLA", "CSCO"},
     .unknown = "ZZZTR",
     .unknown_tf = BK_TF_D1},
};
#define N_CONF (sizeof confs / sizeof confs[0])

/* The window of each timeframe, in days back from NOW: 1m..15m hold the
 * early close and Thanksgiving, 30m and longer the end of DST too. */
static const int32_t window_days[BK_TF__N] = {4, 5, 7, 28, 28, 35, 60, 182};
#define UNKNOWN_DAYS 7

static char *g_db;  /* the store's URL or path */
static char *g_dir; /* the SQLite file's folder, NULL on PostgreSQL */
static int64_t g_now;

/* Totals over the suite, for the figures printed at the end. */
typedef struct totals {
    long requests, served, stored, faults[MK_FAULT__N], badbar_agg, cells;
} totals;
static totals g_tot[3]; /* clean, faulted, clock-anchored (faulted) */

/* What the market served one series (its own symbol), counted by the
 * market's observer on the server's threads. */
typedef struct served {
    atomic_long requests, bars, faults, bad_ohlc;
} served;

/* ---- setting up ---- */

static bk_prov *make_prov(const pconf *c, const char *url, bk_anchor anchor)
{
    bk_prov_cfg cfg = {.base_url = url,
                       .key = "key-id-0123456789",
                       .secret = "secret-0123456789",
                       .feed = c->feed,
                       .adjustment = c->adjustment,
                       .timeout_ms = TIMEOUT_MS,
                       .anchor = anchor};
    bk_prov *p = NULL;
    bk_err err = {0};
    if (c->ctor(&p, &cfg, &err) != 0)
        fail_msg("%s: %s", c->label, err.msg);
    p->limits.rate_per_s = 0; /* the market has no rate limit here */
    return p;
}

static void conf_for_test(bk_conf *conf)
{
    bk_conf_defaults(conf);
    conf->page_retries = 2;
    conf->retry_base_ms = 5;
    conf->retry_max_ms = 50;
    conf->max_attempts = 30;
    conf->claim_batch = 1;
    conf->slice_hours[BK_JOB_HISTORICAL] = 24; /* daily slices: many runs, many requests */
    conf->max_slices[BK_JOB_HISTORICAL] = 100;
}

/* The planner's view of a one-provider chain (as the CLI builds it). */
static void plan_cfg_for(bk_plan_cfg *cfg, const bk_conf *conf, const bk_prov *p)
{
    bk_plan_cfg_from_conf(cfg, conf, p->delay_us);
    for (int tf = 0; tf < BK_TF__N; tf++) {
        cfg->max_span_us[tf] = p->limits.max_span_us[tf];
        cfg->history_us[tf] = p->limits.history_us[tf];
        bk_strlcpy(cfg->history_by[tf], p->name, sizeof cfg->history_by[tf]);
    }
}

static bk_store *open_store(void)
{
    bk_store *s = NULL;
    bk_err err = {0};
    if (bk_store_open(&s, g_db, &err) || bk_store_migrate(s, NULL, &err))
        fail_msg("store: %s", err.msg);
    return s;
}

static void put_def(bk_store *s, const char *sym, bk_tf tf, int32_t days)
{
    bk_def d = {
        .type = BK_JOB_HISTORICAL, .tf = tf, .window_days = days, .priority = 10, .enabled = true};
    bk_strlcpy(d.symbol, sym, sizeof d.symbol);
    bk_err err = {0};
    if (bk_store_def_put(s, &d, BK_PUT_SET, NULL, g_now, &err))
        fail_msg("def %s %s: %s", sym, bk_tf_name(tf), err.msg);
}

/* ---- running a phase ---- */

static bool queue_idle(bk_store *s)
{
    int64_t counts[BK_ST__N];
    bk_run_filter f = {.status = -1, .tf = -1};
    bk_err err = {0};
    if (bk_store_runs_count(s, &f, counts, &err))
        fail_msg("runs count: %s", err.msg);
    return counts[BK_ST_QUEUED] + counts[BK_ST_RUNNING] == 0;
}

/* Plan and drain with the pool until a tick plans nothing and the queue is
 * idle. */
static void backfill(bk_store *s, const bk_plan_cfg *pc, bk_pool *pool)
{
    int64_t t0 = bk_clock_mono_us();
    for (;;) {
        bk_tick_stats st;
        bk_err err = {0};
        if (bk_plan_tick(s, pc, NULL, bk_clock_now_us(), "accept", &st, &err))
            fail_msg("tick: %s", err.msg);
        if (st.enqueued)
            bk_pool_wake(pool);
        else if (queue_idle(s))
            return;
        while (!queue_idle(s)) {
            if (bk_clock_mono_us() - t0 > PHASE_LIMIT)
                fail_msg("the queue did not drain within %d s", (int)(PHASE_LIMIT / BK_US_PER_S));
            bk_pool_wait_progress(pool, 100 * BK_US_PER_MS);
        }
    }
}

/* ---- a phase: one configuration, clean or faulted ---- */

typedef struct phase {
    const pconf *c;
    int faulted;      /* 0 clean, 1 with FAULT_RATE faults */
    bk_anchor anchor; /* how barkeep labels 1h/4h bars */
    unsigned only;    /* the timeframes to run (1 << bk_tf); 0 = all the configuration serves */
    int fig;          /* which totals (g_tot) it adds to */
    bk_store *s;
    mk *m;
    fx *f;
    bk_provset *ps;
    bk_conf conf;
    bk_plan_cfg pc;
    char sym[BK_TF__N][BK_SYM_MAX + 1]; /* one symbol per series: the market tells them apart */
    char halt_sym[BK_SYM_MAX + 1];      /* a series with halted days */
    served sv[BK_TF__N];
} phase;

/* The market's observer: count what each series was served. */
static void observe(void *ctx, const mk_served *m)
{
    phase *ph = ctx;
    for (int tf = 0; tf < BK_TF__N; tf++) {
        if (strcmp(ph->sym[tf], m->symbol) != 0)
            continue;
        served *v = &ph->sv[tf];
        atomic_fetch_add(&v->requests, 1);
        if (m->fault < 0)
            atomic_fetch_add(&v->bars, (long)m->n_bars);
        else
            atomic_fetch_add(&v->faults, 1);
        if (m->fault == MK_FAULT_BAD_OHLC)
            atomic_fetch_add(&v->bad_ohlc, 1);
    }
}

/* ---- checking a series ---- */

typedef struct stored_bars {
    bk_bar *v;
    size_t n, cap;
    bool other_provider;
    const char *want_provider;
} stored_bars;

static int collect(void *ctx, const bk_bar *bar, const char *provider)
{
    stored_bars *st = ctx;
    if (st->n == st->cap) {
        st->cap = st->cap ? 2 * st->cap : 256;
        st->v = realloc(st->v, st->cap * sizeof *st->v);
    }
    st->v[st->n++] = *bar;
    if (strcmp(provider, st->want_provider) != 0)
        st->other_provider = true;
    return 0;
}

/* The expected bars owned by covered time: those whose span starts in it. */
static size_t expected_labels(bk_tf tf, bk_anchor anchor, const bk_ivset *cov, int64_t **out)
{
    size_t n = 0, cap = 0;
    *out = NULL;
    for (size_t i = 0; i < cov->n; i++) {
        size_t k = bk_cal_bars(tf, anchor, cov->v[i].from_us, cov->v[i].to_us, NULL, 0);
        bk_calbar *cb = calloc(k + 1, sizeof *cb);
        k = bk_cal_bars(tf, anchor, cov->v[i].from_us, cov->v[i].to_us, cb, k);
        for (size_t j = 0; j < k; j++) {
            if (!bk_ivset_contains(cov, cb[j].from_us) || (n && (*out)[n - 1] >= cb[j].ts_us))
                continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 256;
                *out = realloc(*out, cap * sizeof **out);
            }
            (*out)[n++] = cb[j].ts_us;
        }
        free(cb);
    }
    return n;
}

/* The series being checked. */
typedef struct cell {
    const char *who, *sym;
    bk_tf tf;
    bk_anchor anchor;
} cell;

/* Keep the labels of exp whose bars the market served (all but halted
 * ones); returns how many. */
static size_t keep_served(const mk *m, const cell *c, int64_t *exp, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (mk_serves(m, c->sym, c->tf, c->anchor, exp[i]))
            exp[w++] = exp[i];
    return w;
}

static bool same_bar(const bk_bar *a, const bk_bar *b)
{
    return a->ts_us == b->ts_us && a->open == b->open && a->high == b->high && a->low == b->low &&
           a->close == b->close && a->volume == b->volume;
}

/* The stored bars are the expected ones, each the sim's bar: for a native
 * timeframe the very bar the market served, for an aggregated one the
 * aggregate of the bars it served (the sim's bars agree across timeframes). */
static void check_values(const cell *c, const stored_bars *st, const int64_t *exp, size_t n_exp)
{
    const char *who = c->who, *sym = c->sym;
    bk_tf tf = c->tf;
    for (size_t i = 0; i < st->n && i < n_exp; i++) {
        bk_bar want;
        char t[BK_TIME_STR_MAX];
        if (st->v[i].ts_us != exp[i])
            fail_msg("%s %s %s: stored bar %zu is %s, the market's is %s", who, sym, bk_tf_name(tf),
                     i, bk_time_format(st->v[i].ts_us, t),
                     bk_time_format(exp[i], (char[BK_TIME_STR_MAX]){0}));
        assert_true(bk_sim_bar(sym, tf, c->anchor, exp[i], &want));
        if (!same_bar(&st->v[i], &want))
            fail_msg(
                "%s %s %s %s: stored %.2f/%.2f/%.2f/%.2f/%.0f, served %.2f/%.2f/%.2f/%.2f/%.0f",
                who, sym, bk_tf_name(tf), bk_time_format(exp[i], t), st->v[i].open, st->v[i].high,
                st->v[i].low, st->v[i].close, st->v[i].volume, want.open, want.high, want.low,
                want.close, want.volume);
    }
    if (st->n != n_exp)
        fail_msg("%s %s %s: %zu bars stored, the market served %zu for the covered time", who, sym,
                 bk_tf_name(tf), st->n, n_exp);
}

/* The runs of a series, on stderr: what went wrong when a check fails. */
static void dump_runs(bk_store *s, const char *sym, bk_tf tf)
{
    bk_run *runs = NULL;
    size_t n = 0;
    bk_err err = {0};
    bk_run_filter f = {.status = -1, .symbol = sym, .tf = (int)tf};
    if (bk_store_runs_list(s, &f, &runs, &n, &err))
        return;
    for (size_t i = 0; i < n; i++) {
        char a[BK_TIME_STR_MAX], b[BK_TIME_STR_MAX];
        fprintf(stderr, "  run %s [%s, %s) %s attempt %d/%d rows %lld %s %s\n", runs[i].id,
                bk_time_format(runs[i].slice_from_us, a), bk_time_format(runs[i].slice_to_us, b),
                bk_status_name(runs[i].status), runs[i].attempt, runs[i].max_attempts,
                (long long)runs[i].rows_written, runs[i].error_code, runs[i].error_message);
    }
    free(runs);
}

/* One served series: exact bars over its coverage, no gap, nothing
 * confirmed empty but what the market served none of (their count into
 * *n_empty_out). Returns the bars stored. */
static size_t check_series(const phase *ph, const char *sym, bk_tf tf, size_t *n_empty_out)
{
    bk_store *s = ph->s;
    const bk_plan_cfg *pc = &ph->pc;
    const pconf *c = ph->c;
    bk_series *ser = NULL;
    size_t n_ser = 0, n_empty = 0;
    bk_err err = {0};
    if (bk_store_series_load(s, sym, tf, &ser, &n_ser, &err))
        fail_msg("series: %s", err.msg);
    if (n_ser != 1 || ser[0].covered.n == 0) {
        dump_runs(s, sym, tf);
        fail_msg("%s %s %s: nothing covered", c->label, sym, bk_tf_name(tf));
    }
    stored_bars st = {.want_provider = c->name};
    if (bk_store_bars_read(s, sym, tf, 0, INT64_MAX, collect, &st, &err))
        fail_msg("bars: %s", err.msg);
    int64_t *exp = NULL;
    size_t n_cov = expected_labels(tf, pc->anchor, &ser[0].covered, &exp);
    cell ce = {.who = c->label, .sym = sym, .tf = tf, .anchor = pc->anchor};
    size_t n_exp = keep_served(ph->m, &ce, exp, n_cov);
    check_values(&ce, &st, exp, n_exp);
    assert_false(st.other_provider);
    bk_def d = {.type = BK_JOB_HISTORICAL, .tf = tf, .window_days = window_days[tf]};
    bk_strlcpy(d.symbol, sym, sizeof d.symbol);
    bk_ivset gaps, empty;
    bk_ivset_init(&gaps);
    bk_ivset_init(&empty);
    bk_plan_gaps(pc, &d, &ser[0].covered, g_now, &gaps);
    if (gaps.n) {
        dump_runs(s, sym, tf);
        fail_msg("%s %s %s: %zu gaps left", c->label, sym, bk_tf_name(tf), gaps.n);
    }
    if (bk_plan_confirmed_empty(s, pc, &d, &ser[0].covered, g_now, &empty, &n_empty, &err))
        fail_msg("confirmed empty: %s", err.msg);
    if (n_empty != n_cov - n_exp) /* only where the market served none */
        fail_msg("%s %s %s: %zu covered bars without a bar, the market served none for %zu",
                 c->label, sym, bk_tf_name(tf), n_empty, n_cov - n_exp);
    *n_empty_out = n_empty;
    bk_ivset_fini(&gaps);
    bk_ivset_fini(&empty);
    free(exp);
    free(st.v);
    bk_series_free(ser, n_ser);
    return st.n;
}

/* The unknown symbol: no coverage, no bar, runs dead-lettered
 * UNKNOWN_SYMBOL and nothing else. */
static void check_unknown(bk_store *s, const pconf *c)
{
    bk_series *ser = NULL;
    size_t n_ser = 0;
    int64_t n_bars = -1;
    bk_err err = {0};
    if (bk_store_series_load(s, c->unknown, c->unknown_tf, &ser, &n_ser, &err) ||
        bk_store_bars_count(s, c->unknown, c->unknown_tf, &n_bars, &err))
        fail_msg("unknown: %s", err.msg);
    if (n_ser && ser[0].covered.n)
        fail_msg("%s: the unknown symbol %s is covered", c->label, c->unknown);
    assert_int_equal(n_bars, 0);
    bk_series_free(ser, n_ser);
    bk_run *runs = NULL;
    size_t n = 0;
    bk_run_filter f = {.status = BK_ST_FAILED, .tf = -1};
    if (bk_store_runs_list(s, &f, &runs, &n, &err))
        fail_msg("runs: %s", err.msg);
    size_t mine = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strstr(runs[i].symbol, c->sym[0]) && !strstr(runs[i].symbol, c->sym[1]) &&
            strcmp(runs[i].symbol, c->unknown) != 0)
            continue; /* another configuration's (its symbols hold its base symbols) */
        if (strcmp(runs[i].symbol, c->unknown) != 0)
            fail_msg("%s: run %s %s dead-lettered: %s %s", c->label, runs[i].symbol,
                     bk_tf_name(runs[i].tf), runs[i].error_code, runs[i].error_message);
        assert_string_equal(runs[i].error_code, "UNKNOWN_SYMBOL");
        mine++;
    }
    assert_true(mine > 0);
    free(runs);
}

static void phase_start(phase *ph)
{
    mk_opts o;
    mk_opts_default(&o);
    o.fault_rate = ph->faulted ? FAULT_RATE : 0;
    o.seed = 12 + (uint64_t)(ph->c - confs);
    o.timeout_ms = 2 * TIMEOUT_MS;
    o.retry_after_s = 1;
    o.page_size = PAGE_SIZE;
    o.observe = observe;
    o.observe_ctx = ph;
    o.halt_pfx = "HALT";
    o.halt_from_us = bk_prov_day_label(bk_days_from_civil(2025, 11, 24));
    o.halt_to_us = bk_prov_day_label(bk_days_from_civil(2025, 11, 26));
    snprintf(ph->halt_sym, sizeof ph->halt_sym, "HALT%s", ph->c->sym[ph->faulted]);
    static const char *const sfx[BK_TF__N] = {"M1", "M5", "M15", "M30", "H1", "H4", "D", "W"};
    for (int tf = 0; tf < BK_TF__N; tf++)
        snprintf(ph->sym[tf], sizeof ph->sym[tf], "%s%s%s", ph->c->sym[ph->faulted], sfx[tf],
                 ph->anchor == BK_ANCHOR_CLOCK ? "K" : "");
    ph->m = mk_new(&o);
    ph->f = fx_start(mk_handler, ph->m);
    conf_for_test(&ph->conf);
    if (ph->anchor == BK_ANCHOR_CLOCK)
        bk_strlcpy(ph->conf.anchor, "clock", sizeof ph->conf.anchor);
    bk_breaker_cfg bc = {.failures = 1000, .open_us = BK_US_PER_S};
    ph->ps = bk_provset_new(&bc);
    bk_prov *p = make_prov(ph->c, fx_url(ph->f), ph->anchor);
    bk_err err = {0};
    if (bk_provset_add(ph->ps, p, &err) ||
        bk_provset_set_chain(ph->ps, BK_CLASS_DAILY, ph->c->name, &err) ||
        bk_provset_set_chain(ph->ps, BK_CLASS_INTRADAY, ph->c->name, &err))
        fail_msg("provset: %s", err.msg);
    plan_cfg_for(&ph->pc, &ph->conf, p);
    ph->s = open_store();
}

/* The timeframes a phase runs. */
static unsigned phase_tfs(const phase *ph)
{
    return ph->c->tfs & (ph->only ? ph->only : ALL_TF);
}

static void phase_run(phase *ph)
{
    for (int tf = 0; tf < BK_TF__N; tf++)
        if (phase_tfs(ph) & B(tf))
            put_def(ph->s, ph->sym[tf], (bk_tf)tf, window_days[tf]);
    if (!ph->only) {
        put_def(ph->s, ph->c->unknown, ph->c->unknown_tf, UNKNOWN_DAYS);
        put_def(ph->s, ph->halt_sym, ph->c->unknown_tf, window_days[ph->c->unknown_tf]);
    }
    bk_pool *pool = NULL;
    bk_pool_opts po = {.db_url = g_db, .threads = WORKERS};
    po.env = (bk_work_env){
        .prov = bk_provset_primary(ph->ps, BK_TF_D1), .provs = ph->ps, .conf = &ph->conf};
    bk_err err = {0};
    if (bk_pool_start(&pool, &po, &err))
        fail_msg("pool: %s", err.msg);
    backfill(ph->s, &ph->pc, pool);
    bk_pool_stop(pool);
    /* the definitions go, so that the next phase plans its own only */
    for (int tf = 0; tf < BK_TF__N; tf++)
        if (phase_tfs(ph) & B(tf))
            bk_store_def_remove(ph->s, ph->sym[tf], (bk_tf)tf, BK_JOB_HISTORICAL, g_now, &err);
    if (!ph->only) {
        bk_store_def_remove(ph->s, ph->c->unknown, ph->c->unknown_tf, BK_JOB_HISTORICAL, g_now,
                            &err);
        bk_store_def_remove(ph->s, ph->halt_sym, ph->c->unknown_tf, BK_JOB_HISTORICAL, g_now, &err);
    }
}

/* The timeframes an adapter builds from finer bars in this phase: on the
 * clock grid every one of them builds 1h and 4h (Yahoo's 60m bars start at
 * the open). */
static unsigned phase_aggregated(const phase *ph)
{
    return ph->c->aggregated | (ph->anchor == BK_ANCHOR_CLOCK ? B(BK_TF_1H) | B(BK_TF_4H) : 0);
}

/* One series' figures, checked and printed. */
static void check_cell(phase *ph, bk_tf tf, totals *t)
{
    const served *v = &ph->sv[tf];
    size_t n_empty = 0, stored = check_series(ph, ph->sym[tf], tf, &n_empty);
    if (getenv("BK_ACCEPT_RUNS")) /* every run, for a reader of the figures */
        dump_runs(ph->s, ph->sym[tf], tf);
    long bars = atomic_load(&v->bars);
    printf("  %-24s %-3s %-9s %4ld requests %6ld bars served %5zu stored %3ld faults "
           "(%ld bad OHLC)%s\n",
           ph->c->label, bk_tf_name(tf), ph->sym[tf], atomic_load(&v->requests), bars, stored,
           atomic_load(&v->faults), atomic_load(&v->bad_ohlc),
           phase_aggregated(ph) & B(tf) ? ", aggregated here" : "");
    assert_true(bars >= (long)stored); /* a bar may be served twice, never stored unserved */
    t->cells++;
    t->stored += (long)stored;
    if (phase_aggregated(ph) & B(tf))
        t->badbar_agg += atomic_load(&v->bad_ohlc);
}

static void phase_check(phase *ph)
{
    totals *t = &g_tot[ph->fig];
    for (int tf = 0; tf < BK_TF__N; tf++) {
        if (phase_tfs(ph) & B(tf))
            check_cell(ph, (bk_tf)tf, t);
        else if (!ph->only)
            printf("  %-24s %-3s skipped: not served under this configuration\n", ph->c->label,
                   bk_tf_name((bk_tf)tf));
    }
    if (!ph->only) {
        check_unknown(ph->s, ph->c);
        size_t n_empty = 0, n = check_series(ph, ph->halt_sym, ph->c->unknown_tf, &n_empty);
        printf("  %-24s %-3s %-9s halted 24-25 November: %zu bars stored, %zu confirmed empty\n",
               ph->c->label, bk_tf_name(ph->c->unknown_tf), ph->halt_sym, n, n_empty);
        assert_true(n_empty > 0);
    }
    mk_counts mc;
    mk_counts_get(ph->m, &mc);
    assert_int_equal(mc.bad, 0); /* every request was one the provider understands */
    if (mc.early)
        fail_msg("%s: %ld requests came back sooner than their Retry-After", ph->c->label,
                 mc.early);
    if (!ph->faulted)
        assert_int_equal(mk_faults_total(&mc), 0);
    t->requests += mc.requests;
    t->served += mc.bars;
    for (int i = 0; i < MK_FAULT__N; i++)
        t->faults[i] += mc.faults[i];
}

static void phase_end(phase *ph)
{
    bk_store_close(ph->s);
    bk_provset_free(ph->ps);
    fx_stop(ph->f);
    mk_free(ph->m);
}

/* Every configuration in turn, as tmpl says (its c is set here). */
static void run_phases(const phase *tmpl)
{
    for (size_t i = 0; i < N_CONF; i++) {
        phase ph = *tmpl;
        ph.c = &confs[i];
        if (!phase_tfs(&ph))
            continue;
        phase_start(&ph);
        phase_run(&ph);
        phase_check(&ph);
        phase_end(&ph);
    }
}

/* Every fault kind was injected, and impossible native bars were served
 * for aggregated timeframes (which barkeep refused, then fetched again). */
static void check_faults(const totals *t)
{
    for (int i = 0; i < MK_FAULT__N; i++)
        if (t->faults[i] == 0)
            fail_msg("no %s fault was injected", mk_fault_name((enum mk_fault)i));
    assert_true(t->badbar_agg > 0);
}

/* ---- tests ---- */

enum { FIG_CLEAN, FIG_FAULTED, FIG_CLOCK, FIG__N };
static const char *const fig_names[FIG__N] = {"clean", "faulted", "clock-anchored, faulted"};

static void test_clean_market(void **state)
{
    (void)state;
    run_phases(&(phase){.anchor = BK_ANCHOR_SESSION, .fig = FIG_CLEAN});
}

static void test_faulted_market(void **state)
{
    (void)state;
    run_phases(&(phase){.faulted = 1, .anchor = BK_ANCHOR_SESSION, .fig = FIG_FAULTED});
    check_faults(&g_tot[FIG_FAULTED]);
}

/* 1h and 4h labelled on the clock (09:00 holding 09:30-10:00, ...): each
 * adapter builds them from finer bars that fit both grids. */
static void test_clock_anchor(void **state)
{
    (void)state;
    run_phases(&(phase){.faulted = 1,
                        .anchor = BK_ANCHOR_CLOCK,
                        .only = B(BK_TF_1H) | B(BK_TF_4H),
                        .fig = FIG_CLOCK});
    check_faults(&g_tot[FIG_CLOCK]);
}

static void print_totals(void)
{
    for (int k = 0; k < FIG__N; k++) {
        const totals *t = &g_tot[k];
        printf("%s: %ld series, %ld requests, %ld bars served, %ld stored, faults:", fig_names[k],
               t->cells, t->requests, t->served, t->stored);
        for (int i = 0; i < MK_FAULT__N; i++)
            printf(" %s %ld", mk_fault_name((enum mk_fault)i), t->faults[i]);
        printf("; bad OHLC served in native bars of aggregated timeframes: %ld\n", t->badbar_agg);
    }
}

/* On PostgreSQL (BK_TEST_DB_URL, scripts/with-pg.sh) the database is emptied
 * first; otherwise a fresh SQLite file. */
static int setup_store(void)
{
    const char *url = getenv("BK_TEST_DB_URL");
    if (url && *url) {
        char msg[512];
        if (bk_t_pg_reset(url, msg, sizeof msg) != 0) {
            fprintf(stderr, "cannot reset %s: %s\n", url, msg);
            return -1;
        }
        g_db = strdup(url);
        return 0;
    }
    g_dir = bk_t_tmpdir("accept");
    g_db = bk_t_path(g_dir, "accept.db");
    return 0;
}

int main(void)
{
    if (getenv("BK_REQUIRE_PG") && !getenv("BK_TEST_DB_URL")) {
        printf("skipped: needs BK_TEST_DB_URL (run through scripts/with-pg.sh)\n");
        return 77;
    }
    if (bk_time_parse(NOW, &g_now) != 0 || setup_store() != 0)
        return 2;
    bk_clock_start_at(g_now);
    /* thousands of expected retries: the worker's log only on request */
    bk_log_setup(getenv("BK_ACCEPT_LOG") ? BK_LOG_INFO : BK_LOG_OFF, BK_LOG_KV);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_market),
        cmocka_unit_test(test_faulted_market),
        cmocka_unit_test(test_clock_anchor),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    print_totals();
    if (g_dir)
        bk_t_rmtree(g_dir);
    free(g_dir);
    free(g_db);
    return rc;
}
