/*
 * fuzz_csv.c — a user's bar file (`barkeep import`): the whole parser, with
 * the caller's timeframe taken from the first byte (or none), and the
 * timestamp reader alone on the rest. Every accepted row must carry a
 * finite bar of a known series and a line inside the input.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "prov/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const bk_csv *c, size_t size)
{
    for (size_t i = 0; i < c->n_rows; i++) {
        const bk_csv_row *r = &c->rows[i];
        if (r->series >= c->n_series || r->line < 1 || (size_t)r->line > size + 1 ||
            !isfinite(r->bar.open) || !isfinite(r->bar.volume))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int tf = data[0] % (BK_TF__N + 1) - 1;
    bk_csv c;
    bk_csv_init(&c);
    bk_err err = {0};
    if (bk_csv_parse(&c, (const char *)data + 1, size - 1, tf, &err) == 0)
        check(&c, size);
    bk_csv_fini(&c);
    char s[128];
    size_t n = size - 1 < sizeof s - 1 ? size - 1 : sizeof s - 1;
    memcpy(s, data + 1, n);
    s[n] = '\0';
    int64_t us = 0;
    if (bk_csv_time(s, (bk_tf)(tf < 0 ? BK_TF_1M : tf), &us) == 0 && us == INT64_MIN)
        __builtin_trap(); /* a parsed instant is a real one */
    return 0;
}
