/*
 * fuzz_finnhub.c — fuzz target for the Finnhub candle parser (src/prov/prov_finnhub.c).
 *
 * Parses the input as a response to a few fixed requests covering native
 * intraday, aggregated (1h/4h) and daily/weekly timeframes under both
 * anchors. Whatever the bytes, the parser must either succeed with bars
 * whose labels are strictly ascending and inside the requested range, or
 * fail with a provider code, a message and an empty page. Violations abort.
 */
#include "prov/prov.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

typedef struct fuzz_case {
    bk_tf tf;
    bk_anchor anchor;
} fuzz_case;

static const fuzz_case cases[] = {
    {BK_TF_5M, BK_ANCHOR_SESSION}, {BK_TF_1H, BK_ANCHOR_SESSION}, {BK_TF_1H, BK_ANCHOR_CLOCK},
    {BK_TF_4H, BK_ANCHOR_CLOCK},   {BK_TF_D1, BK_ANCHOR_SESSION}, {BK_TF_W1, BK_ANCHOR_CLOCK},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bk_page pg;
    bk_page_init(&pg);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        /* 2000-01-01 .. 2100-01-01: wide enough to keep most parsed bars */
        bk_fetch_req req = {.symbol = "AAPL",
                            .tf = cases[k].tf,
                            .from_us = INT64_C(946684800000000),
                            .to_us = INT64_C(4102444800000000),
                            .attempt = 1};
        bk_err err = {0};
        int rc = bk_finnhub_parse((const char *)data, size, &req, cases[k].anchor, &pg, &err);
        check(pg.next_token[0] == '\0');
        if (rc != 0) {
            check(rc == err.code && err.msg[0] != '\0' && pg.n == 0);
            check(rc == BK_EPROV_MALFORMED || rc == BK_EPROV_SYMBOL);
            continue;
        }
        for (size_t i = 0; i < pg.n; i++) {
            check(pg.bars[i].ts_us >= req.from_us && pg.bars[i].ts_us < req.to_us);
            check(i == 0 || pg.bars[i].ts_us > pg.bars[i - 1].ts_us);
        }
    }
    bk_page_fini(&pg);
    return 0;
}
