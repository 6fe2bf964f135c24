/*
 * prov_fuzz.h — the driver shared by the provider parser fuzz targets
 * (fuzz_<name>.c for the adapters in src/prov/prov_<name>.c).
 *
 * Each target parses the input as a response body to a fixed set of
 * requests, chosen by the kind of adapter:
 *   - prov_fuzz_cursor (Massive, Alpaca: paged with the provider's cursor):
 *     2024-01-01 .. 2026-01-01, native intraday with and without an opaque
 *     token, aggregated 1h/4h under both anchors (first page and resumed),
 *     daily and weekly. A failure must be BK_EPROV_MALFORMED; a success may
 *     carry a next_token, which must be NUL-terminated.
 *   - prov_fuzz_window (Yahoo, Finnhub, Tradier: one window per request):
 *     2000-01-01 .. 2100-01-01 (wide enough to keep most parsed bars),
 *     native intraday, aggregated 1h/4h and daily/weekly under both
 *     anchors, no token. A failure must be BK_EPROV_MALFORMED or
 *     BK_EPROV_SYMBOL; a success never carries a next_token.
 * For both, an aggregated request (1h/4h, and the timeframes an adapter
 * builds from finer bars) may also fail BK_EBADBAR: a source bar that is
 * impossible (high below low, a non-positive price) is refused before it is
 * folded. For both, a failure must set err (its code, a message) and leave no bar
 * behind, and a success must hold labels strictly ascending inside
 * [from, to). Violations abort. One page serves every request of an input,
 * so a parser that leaves state behind in it is caught too.
 *
 * Header-only (static inline): each target is a single translation unit.
 */
#ifndef BK_FUZZ_PROV_FUZZ_H
#define BK_FUZZ_PROV_FUZZ_H

#include "prov/prov.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int (*prov_fuzz_parse)(const char *body, size_t len, const bk_fetch_req *req,
                               bk_anchor anchor, bk_page *out, bk_err *err);

typedef struct prov_fuzz_case {
    bk_tf tf;
    bk_anchor anchor;
    const char *token; /* NULL for the first page */
} prov_fuzz_case;

/* What a target asks and accepts. */
typedef struct prov_fuzz_spec {
    int64_t from_us, to_us;
    const prov_fuzz_case *cases;
    size_t n_cases;
    bool paged;         /* a success may set next_token (else it must be "") */
    bool symbol_errors; /* BK_EPROV_SYMBOL is a valid failure besides BK_EPROV_MALFORMED */
} prov_fuzz_spec;

static inline void prov_fuzz_check(bool ok)
{
    if (!ok)
        abort();
}

/* Timeframes some adapter builds from finer bars (Tradier: 30m from 15min). */
static inline bool prov_fuzz_aggregated(bk_tf tf)
{
    return tf == BK_TF_30M || tf == BK_TF_1H || tf == BK_TF_4H;
}

static inline void prov_fuzz_one(prov_fuzz_parse parse, const prov_fuzz_spec *s,
                                 const prov_fuzz_case *c, const char *body, size_t len, bk_page *pg)
{
    bk_fetch_req req = {.symbol = "AAPL",
                        .tf = c->tf,
                        .from_us = s->from_us,
                        .to_us = s->to_us,
                        .page_token = c->token,
                        .attempt = 1};
    bk_err err = {0};
    int rc = parse(body, len, &req, c->anchor, pg, &err);
    if (rc) {
        prov_fuzz_check(rc == err.code && err.msg[0] != '\0');
        /* an impossible source bar of an aggregated timeframe is BK_EBADBAR */
        prov_fuzz_check(rc == BK_EPROV_MALFORMED || (s->symbol_errors && rc == BK_EPROV_SYMBOL) ||
                        (rc == BK_EBADBAR && prov_fuzz_aggregated(c->tf)));
        prov_fuzz_check(pg->n == 0 && pg->next_token[0] == '\0');
        return;
    }
    if (s->paged)
        prov_fuzz_check(memchr(pg->next_token, '\0', sizeof pg->next_token) != NULL);
    else
        prov_fuzz_check(pg->next_token[0] == '\0');
    for (size_t i = 0; i < pg->n; i++) {
        prov_fuzz_check(pg->bars[i].ts_us >= s->from_us && pg->bars[i].ts_us < s->to_us);
        prov_fuzz_check(i == 0 || pg->bars[i].ts_us > pg->bars[i - 1].ts_us);
    }
}

static inline int prov_fuzz_run(prov_fuzz_parse parse, const prov_fuzz_spec *s, const uint8_t *data,
                                size_t size)
{
    bk_page pg;
    bk_page_init(&pg);
    for (size_t i = 0; i < s->n_cases; i++)
        prov_fuzz_one(parse, s, &s->cases[i], (const char *)data, size, &pg);
    bk_page_fini(&pg);
    return 0;
}

/* The driver of a cursor adapter's parser (see the file comment). */
static inline int prov_fuzz_cursor(prov_fuzz_parse parse, const uint8_t *data, size_t size)
{
    static const prov_fuzz_case cases[] = {
        {BK_TF_1M, BK_ANCHOR_SESSION, NULL},
        {BK_TF_5M, BK_ANCHOR_CLOCK, "opaque"},
        {BK_TF_1H, BK_ANCHOR_SESSION, NULL},
        {BK_TF_4H, BK_ANCHOR_CLOCK, NULL},
        {BK_TF_4H, BK_ANCHOR_SESSION, "resume:1751895000000000"},
        {BK_TF_D1, BK_ANCHOR_SESSION, NULL},
        {BK_TF_W1, BK_ANCHOR_CLOCK, NULL},
    };
    static const prov_fuzz_spec spec = {
        .from_us = INT64_C(1704067200) * 1000000, /* 2024-01-01T00:00:00Z */
        .to_us = INT64_C(1767225600) * 1000000,   /* 2026-01-01T00:00:00Z */
        .cases = cases,
        .n_cases = sizeof cases / sizeof cases[0],
        .paged = true,
    };
    return prov_fuzz_run(parse, &spec, data, size);
}

/* The driver of a window adapter's parser (see the file comment). */
static inline int prov_fuzz_window(prov_fuzz_parse parse, const uint8_t *data, size_t size)
{
    static const prov_fuzz_case cases[] = {
        {BK_TF_5M, BK_ANCHOR_SESSION, NULL}, {BK_TF_1H, BK_ANCHOR_SESSION, NULL},
        {BK_TF_1H, BK_ANCHOR_CLOCK, NULL},   {BK_TF_4H, BK_ANCHOR_CLOCK, NULL},
        {BK_TF_D1, BK_ANCHOR_SESSION, NULL}, {BK_TF_W1, BK_ANCHOR_CLOCK, NULL},
    };
    static const prov_fuzz_spec spec = {
        .from_us = INT64_C(946684800000000), /* 2000-01-01T00:00:00Z */
        .to_us = INT64_C(4102444800000000),  /* 2100-01-01T00:00:00Z */
        .cases = cases,
        .n_cases = sizeof cases / sizeof cases[0],
        .symbol_errors = true,
    };
    return prov_fuzz_run(parse, &spec, data, size);
}

#endif
