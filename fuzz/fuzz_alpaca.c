/*
 * fuzz_alpaca.c — fuzz target for the alpaca response parser
 * (src/prov/prov_alpaca.c, bk_alpaca_parse).
 *
 * Parses the input as a response body for a fixed request under several
 * (timeframe, anchor, page token) combinations: native intraday, aggregated
 * 1h/4h (session and clock anchored, first page and resumed), daily and
 * weekly. A failure must be BK_EPROV_MALFORMED with a message and leave no
 * bar behind; a success must hold labels inside [from, to), strictly
 * ascending, and a NUL-terminated next_token. Violations abort.
 */
#include "prov/prov.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FROM_US (INT64_C(1704067200) * 1000000) /* 2024-01-01T00:00:00Z */
#define TO_US   (INT64_C(1767225600) * 1000000) /* 2026-01-01T00:00:00Z */

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void run(const char *body, size_t len, bk_tf tf, bk_anchor anchor, const char *token)
{
    bk_fetch_req req = {.symbol = "AAPL",
                        .tf = tf,
                        .from_us = FROM_US,
                        .to_us = TO_US,
                        .page_token = token,
                        .attempt = 1};
    bk_page pg;
    bk_page_init(&pg);
    bk_err err = {0};
    int rc = bk_alpaca_parse(body, len, &req, anchor, &pg, &err);
    if (rc) {
        check(rc == BK_EPROV_MALFORMED && err.code == rc && err.msg[0] != '\0');
        check(pg.n == 0 && pg.next_token[0] == '\0');
    } else {
        check(memchr(pg.next_token, '\0', sizeof pg.next_token) != NULL);
        for (size_t i = 0; i < pg.n; i++) {
            check(pg.bars[i].ts_us >= FROM_US && pg.bars[i].ts_us < TO_US);
            check(i == 0 || pg.bars[i].ts_us > pg.bars[i - 1].ts_us);
        }
    }
    bk_page_fini(&pg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct {
        bk_tf tf;
        bk_anchor anchor;
        const char *token;
    } cases[] = {
        {BK_TF_1M, BK_ANCHOR_SESSION, NULL},
        {BK_TF_5M, BK_ANCHOR_CLOCK, "opaque"},
        {BK_TF_1H, BK_ANCHOR_SESSION, NULL},
        {BK_TF_4H, BK_ANCHOR_CLOCK, NULL},
        {BK_TF_4H, BK_ANCHOR_SESSION, "resume:1751895000000000"},
        {BK_TF_D1, BK_ANCHOR_SESSION, NULL},
        {BK_TF_W1, BK_ANCHOR_CLOCK, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run((const char *)data, size, cases[i].tf, cases[i].anchor, cases[i].token);
    return 0;
}
