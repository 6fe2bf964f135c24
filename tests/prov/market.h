/*
 * market.h — a deterministic market behind the fixture server (fixture.h):
 * one handler that answers the real request formats of the five HTTP
 * providers barkeep speaks (Massive aggregates, Alpaca v2 bars, Yahoo's
 * chart API, Finnhub candles, Tradier timesales and history; see
 * providers.md) for any symbol, native timeframe and range.
 *
 * Every bar it serves is bk_sim_bar's bar of the native timeframe
 * (session-anchored), so whoever asked knows exactly which bars a provider
 * served, and every timeframe built from finer bars agrees with the sim's
 * own bar of that timeframe. Each provider answers in its own shape and with
 * its quirks: Massive next_url pagination, no `results` key when empty and
 * volumes in exponent form; Alpaca next_page_token pagination and `null`
 * bars; Yahoo parallel arrays with null entries and daily stamps at the
 * open; Finnhub {"s":"no_data"}; Tradier's single bar as an object and
 * `null` containers. Symbols starting with "ZZZ" are unknown: each provider
 * answers what it answers for an unknown ticker. A halt (a prefix and whole
 * days) makes a known symbol's answers hold no bar there.
 *
 * Faults are drawn at a rate from a seed, per request: the same request
 * (path and query) gets the same fate the nth time it is asked, whatever
 * the order requests arrive in. Everything served is counted, and an
 * observer may see every answer. Massive's next_url names its public host,
 * as the real one does (the adapter follows its path on its own base URL).
 *
 * Usable on its own as a local provider server, e.g. for a benchmark:
 *
 *     mk *m = mk_new(&opts);
 *     fx *f = fx_start(mk_handler, m);
 *     fx_limit(f, 5.0, 1.0);            optional: 429 above 5 requests a second
 *     ... point an adapter's base_url at fx_url(f) ...
 *     fx_stop(f);
 *     mk_free(m);
 *
 * Threads: mk_handler runs on the fixture's threads; the counters are
 * atomic; mk_counts_get and mk_set_fault_rate may be called from any
 * thread. Read next: fixture.h, market.c, test_accept.c (what it proves).
 */
#ifndef BK_TEST_MARKET_H
#define BK_TEST_MARKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cal/cal.h"
#include "fixture.h"
#include "model/bar.h"
#include "model/tf.h"

enum mk_fault {
    MK_FAULT_5XX,       /* HTTP 500 or 503 with the provider's error body */
    MK_FAULT_429,       /* HTTP 429 with Retry-After */
    MK_FAULT_TIMEOUT,   /* the answer comes after timeout_ms (the client gave up) */
    MK_FAULT_TRUNCATED, /* the connection is cut halfway through the body */
    MK_FAULT_MALFORMED, /* HTTP 200 with a body that is not the provider's JSON */
    MK_FAULT_BAD_OHLC,  /* one served bar has high below low (pages with bars only) */
    MK_FAULT__N
};

#define MK_FAULT_ALL ((1u << MK_FAULT__N) - 1)

/* One answer, as told to an observer (mk_opts.observe). */
typedef struct mk_served {
    const char *provider; /* "massive", "alpaca", "yahoo", "finnhub", "tradier" */
    const char *symbol;
    bk_tf tf;       /* the native timeframe asked for */
    int64_t lo, hi; /* the stamps asked for, [lo, hi) */
    size_t n_bars;  /* bars in the answer (before a fault spoiled it) */
    int fault;      /* the mk_fault served, or -1 */
    bool unknown;   /* the symbol is unknown */
} mk_served;

typedef void (*mk_observe_fn)(void *ctx, const mk_served *s);

typedef struct mk_opts {
    double fault_rate;       /* share of requests that fail, 0 .. 1 */
    unsigned fault_kinds;    /* 1 << mk_fault bits to draw from; 0 = all */
    uint64_t seed;           /* fault draws */
    int timeout_ms;          /* how long a timeout fault stalls */
    int retry_after_s;       /* Retry-After of a 429 fault */
    size_t page_size;        /* page size of the paginated APIs: Alpaca bars; Massive base
                              * aggregates, as it counts its limit (minutes of intraday
                              * bars: 300 is 10 bars of 30m) */
    const char *unknown_pfx; /* symbols starting with it are unknown ("ZZZ") */
    const char *halt_pfx;    /* symbols starting with it are halted (NULL = none): */
    int64_t halt_from_us;    /* no bar labelled in [halt_from, halt_to) is served, */
    int64_t halt_to_us;      /* weekly bars excepted (give whole New York days) */
    mk_observe_fn observe;   /* called for every answer (NULL = none), on the server's threads */
    void *observe_ctx;
} mk_opts;

/* What was served so far. */
typedef struct mk_counts {
    long requests; /* every request, faults included */
    long bars;     /* bars served in answers that were not faults */
    long pages;    /* answers with bars */
    long empty;    /* answers without bars (no data in the range) */
    long unknown;  /* answers for an unknown symbol */
    long bad;      /* requests the market could not read (400) */
    long early;    /* requests repeated sooner than the Retry-After they were given */
    long faults[MK_FAULT__N];
} mk_counts;

typedef struct mk mk;

void mk_opts_default(mk_opts *o);
/* A market (o NULL: defaults: no faults, pages of 10000 bars). */
mk *mk_new(const mk_opts *o);
void mk_free(mk *m);
/* Change the fault rate of a running market (any thread). */
void mk_set_fault_rate(mk *m, double rate);
/* The fixture handler; ctx is the mk. */
void mk_handler(void *ctx, const fx_req *req, fx_resp *resp);
void mk_counts_get(mk *m, mk_counts *out);
long mk_faults_total(const mk_counts *c);
const char *mk_fault_name(enum mk_fault f);

/* The bar the market serves for symbol in native timeframe tf at label ts
 * (false when the calendar expects none). 1h bars are session-anchored. */
bool mk_bar(const char *symbol, bk_tf tf, int64_t ts_us, bk_bar *out);
/* Whether m serves the bars of a bar of tf labelled ts on anchor's grid:
 * the calendar expects it, the symbol is known and not halted there. */
bool mk_serves(const mk *m, const char *symbol, bk_tf tf, bk_anchor anchor, int64_t ts_us);

#endif
