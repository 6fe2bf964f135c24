/*
 * prov.h — the market-data provider interface.
 *
 * A provider answers one page of bars per call for (symbol, timeframe,
 * [from, to)), where to is exclusive and both are bar-start instants: it
 * returns the bars whose label (start) lies in [from, to). Bars are
 * normalised to bar-start UTC (see model/bar.h). A page that is not the last
 * sets next_token; the caller passes it back for the next page. The worker
 * validates every bar; providers only parse, except that a bar they build
 * from finer ones (bk_prov_aggregate) is built only from bars that each
 * pass the worker's value rules (BK_EBADBAR otherwise, nothing returned).
 *
 * Errors are BK_EPROV_* codes (core/err.h) with the provider's words in err;
 * a 429 sets err->retry_after_ms when the provider said how long to wait.
 *
 * Threads: one bk_prov is shared by all workers; fetch must be thread-safe.
 */
#ifndef BK_PROV_PROV_H
#define BK_PROV_PROV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cal/cal.h"
#include "core/err.h"
#include "model/bar.h"
#include "model/tf.h"

#define BK_PAGE_TOKEN_MAX 2048 /* Massive's next_url is a whole URL */
/* The HTTP adapters' default settle window: minute bars are recomputed after
 * they are first published (late trades, corrections) and daily bars change
 * after the close; an hour covers both. provider_settle overrides it. */
#define BK_PROV_SETTLE_US (3600LL * 1000000)

typedef struct bk_fetch_req {
    const char *symbol;
    bk_tf tf;
    int64_t from_us, to_us; /* bar labels in [from, to) */
    const char *page_token; /* NULL or "" for the first page */
    int attempt;            /* the run's attempt number (1-based) */
    int retry;              /* 0, or how many times this page was retried within the attempt */
} bk_fetch_req;

typedef struct bk_page {
    bk_bar *bars; /* grown by the provider with bk_page_push */
    size_t n, cap;
    char next_token[BK_PAGE_TOKEN_MAX]; /* "" on the last page */
    int64_t total_hint;                 /* expected bars in the whole request, 0 if unknown */
} bk_page;

void bk_page_init(bk_page *p);
void bk_page_fini(bk_page *p);
/* Empty the page for reuse (keeps the allocation). */
void bk_page_reset(bk_page *p);
void bk_page_push(bk_page *p, const bk_bar *bar);

typedef struct bk_prov bk_prov;

typedef struct bk_prov_ops {
    int (*fetch)(bk_prov *p, const bk_fetch_req *req, bk_page *out, bk_err *err);
    void (*free)(bk_prov *p);
} bk_prov_ops;

/* Counters kept by bk_prov_fetch for metrics and health. */
typedef struct bk_prov_stats {
    atomic_llong requests;        /* fetch calls (pages asked) */
    atomic_llong errors;          /* calls that failed, any reason */
    atomic_llong rate_limited;    /* calls answered BK_EPROV_RATE (HTTP 429) */
    atomic_llong latency_us;      /* total time spent in fetch */
    atomic_llong fallback_served; /* runs it served after another provider failed them */
    atomic_llong bars_revised;    /* bars a settle refetch found new or changed */
} bk_prov_stats;

/* What a provider serves well in one request, for the planner's slicing and
 * the default budget. Filled by each adapter's constructor. */
typedef struct bk_prov_limits {
    double rate_per_s;             /* default request budget (its free or basic plan); 0 = none */
    double burst;                  /* requests at once (0 = max(1, rate)) */
    int64_t max_span_us[BK_TF__N]; /* longest label range per request; 0 = no limit */
    int64_t history_us[BK_TF__N];  /* how far back it serves; 0 = no limit */
    bool refused[BK_TF__N];        /* never served by this instance (its configuration):
                                      fails BK_EPROV_RANGE without a request */
} bk_prov_limits;

struct bk_prov {
    const bk_prov_ops *ops;
    char name[32];       /* the value stored in the provider column */
    char feed[16];       /* e.g. "sim", "sip", "iex" */
    char adjustment[16]; /* "raw" | "split" | "split+div" */
    bk_anchor anchor;    /* how its 1h/4h bars are anchored */
    int64_t delay_us;    /* publication delay after a bar closes */
    int64_t settle_us;   /* how long after it closes a bar may still be revised (0 = never) */
    bk_prov_limits limits;
    bk_prov_stats stats; /* zeroed by the constructor */
    void *impl;
};

/* Margin of the default budgets: a provider's published limit, n requests
 * per window, is kept even when requests reach it up to a tenth of the
 * window later than their tokens were taken (network, store lock, clocks). */
#define BK_PROV_BUDGET_SLACK 0.1

/* Set l's default budget below a published limit of n requests per window_s
 * seconds (counted over a fixed or a sliding window), with burst requests at
 * once: rate = (n - burst + 1/2) / ((1 + BK_PROV_BUDGET_SLACK) · window_s).
 * A token bucket (rate r, burst b) lets at most b + floor(r·T) requests start
 * in any T seconds; over T = 1.1 · window_s that is n - 1/2 rounded down, so
 * no window_s seconds at the provider see more than n requests however the
 * two clocks are phased and whatever each request's delay up to 0.1 ·
 * window_s. burst >= 1 and n >= burst. */
void bk_prov_budget_below(bk_prov_limits *l, double n, double window_s, double burst);

/* Fetch one page (and count it in p->stats). A request without a symbol,
 * with an unknown timeframe or an empty range is BK_EINVAL before any
 * provider sees it: the adapters may take those for granted. */
BK_MUST_CHECK int bk_prov_fetch(bk_prov *p, const bk_fetch_req *req, bk_page *out, bk_err *err);
void bk_prov_free(bk_prov *p);

/* ---- sim: the deterministic simulated market ---- */

enum bk_sim_fault {
    BK_SIM_FAULT_TIMEOUT = 1 << 0,   /* waits timeout_us, then BK_ETIMEDOUT */
    BK_SIM_FAULT_5XX = 1 << 1,       /* BK_EPROV_5XX */
    BK_SIM_FAULT_429 = 1 << 2,       /* BK_EPROV_RATE with retry_after_ms */
    BK_SIM_FAULT_MALFORMED = 1 << 3, /* BK_EPROV_MALFORMED (unparseable body) */
    BK_SIM_FAULT_INVALID = 1 << 4,   /* a page holding an impossible bar (high < low, NaN, ...) */
};

typedef struct bk_sim_opts {
    int64_t latency_us;   /* per page */
    size_t page_size;     /* bars per page (>= 1) */
    double fault_rate;    /* probability that a page fails, 0 .. 1 */
    unsigned fault_kinds; /* bk_sim_fault bits to choose from (0 = all) */
    int64_t timeout_us;   /* how long a timeout fault waits */
    uint64_t seed;        /* fault draws; prices depend on the symbol only */
    bk_anchor anchor;     /* 1h/4h anchoring */
} bk_sim_opts;

void bk_sim_opts_default(bk_sim_opts *o);
/* The sim provider. Same (symbol, tf, bar label) → same bar, however the
 * range is sliced, paged or refetched. Bars exist only for expected bars of the
 * calendar; they are aggregates of one underlying minute path. Fault draws
 * are deterministic in (seed, symbol, tf, from, to, page, attempt, retry). */
BK_MUST_CHECK int bk_sim_new(bk_prov **out, const bk_sim_opts *opts, bk_err *err);
/* The sim bar labelled ts (false if ts is not an expected bar). For tests. */
bool bk_sim_bar(const char *symbol, bk_tf tf, bk_anchor anchor, int64_t ts_us, bk_bar *out);

/* ---- helpers shared by the HTTP adapters (prov.c) ---- */

/* Label of the daily bar of New York trading date day: 00:00 New York. */
int64_t bk_prov_day_label(int32_t ny_day);
/* Label of the weekly bar holding New York date day: 00:00 New York of its
 * Monday. */
int64_t bk_prov_week_label(int32_t ny_day);
/* Parse New York local "YYYY-MM-DD", "YYYY-MM-DDTHH:MM" or
 * "YYYY-MM-DDTHH:MM:SS" (a space may replace the T) to UTC. 0 or BK_EINVAL. */
BK_MUST_CHECK int bk_prov_parse_ny_local(const char *s, int64_t *out_us);
/* Aggregate the page's bars (sorted, of a finer timeframe) in place into
 * bars of tf labelled by the calendar with anchor: a bar goes to the expected
 * tf bar whose trading span contains its start; bars outside every span
 * (closed market) are dropped; open = first, close = last, high/low =
 * extremes, volume = sum. Every input bar must pass bk_bar_check (the
 * worker's value rules, model/bar.h) before it is folded, dropped ones
 * included. BK_EBADBAR, naming the bar, if one does not or if the input goes
 * back in time; the page is then left unspecified (callers reset it). */
BK_MUST_CHECK int bk_prov_aggregate(bk_page *pg, bk_tf tf, bk_anchor anchor, bk_err *err);

/* ---- HTTP providers ---- */

/* What a user configures for one provider. Strings are copied. */
typedef struct bk_prov_cfg {
    const char *base_url;   /* NULL = the provider's public URL (tests: loopback) */
    const char *key;        /* API key or token; Alpaca: key id */
    const char *secret;     /* Alpaca: secret key */
    const char *feed;       /* Alpaca: "iex" (default) | "sip"; others: NULL */
    const char *adjustment; /* "raw" | "split" | "split+div"; NULL = the provider's default */
    int64_t timeout_ms;     /* per request; 0 = 30 s */
    bk_anchor anchor;       /* how barkeep labels 1h/4h bars (adapters aggregate to it) */
} bk_prov_cfg;

/* Each adapter: a constructor, and its response parser as a pure function
 * (for the fuzz targets and the parser benchmarks): parse the body of the
 * response to req into out (bars normalised to bar-start UTC, next_token for
 * the next page), or BK_EPROV_MALFORMED / BK_EPROV_SYMBOL with err saying
 * what, or BK_EBADBAR when a bar an aggregated timeframe is built from is
 * impossible (bk_prov_aggregate). On failure out holds no bar. */
BK_MUST_CHECK int bk_massive_new(bk_prov **out, const bk_prov_cfg *cfg, bk_err *err);
BK_MUST_CHECK int bk_alpaca_new(bk_prov **out, const bk_prov_cfg *cfg, bk_err *err);
BK_MUST_CHECK int bk_yahoo_new(bk_prov **out, const bk_prov_cfg *cfg, bk_err *err);
BK_MUST_CHECK int bk_finnhub_new(bk_prov **out, const bk_prov_cfg *cfg, bk_err *err);
BK_MUST_CHECK int bk_tradier_new(bk_prov **out, const bk_prov_cfg *cfg, bk_err *err);
BK_MUST_CHECK int bk_massive_parse(const char *body, size_t len, const bk_fetch_req *req,
                                   bk_anchor anchor, bk_page *out, bk_err *err);
BK_MUST_CHECK int bk_alpaca_parse(const char *body, size_t len, const bk_fetch_req *req,
                                  bk_anchor anchor, bk_page *out, bk_err *err);
BK_MUST_CHECK int bk_yahoo_parse(const char *body, size_t len, const bk_fetch_req *req,
                                 bk_anchor anchor, bk_page *out, bk_err *err);
BK_MUST_CHECK int bk_finnhub_parse(const char *body, size_t len, const bk_fetch_req *req,
                                   bk_anchor anchor, bk_page *out, bk_err *err);
BK_MUST_CHECK int bk_tradier_parse(const char *body, size_t len, const bk_fetch_req *req,
                                   bk_anchor anchor, bk_page *out, bk_err *err);

#endif
