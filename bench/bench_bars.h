/*
 * bench_bars.h — the bars the upsert benchmarks write, the same on SQLite
 * (bench_upsert) and PostgreSQL (bench_pg) so that their figures compare.
 */
#ifndef BK_BENCH_BARS_H
#define BK_BENCH_BARS_H

#include <stddef.h>
#include <stdint.h>

#include "core/clock.h"
#include "model/bar.h"

/* Bars of symbol number sym: n of them, one minute apart from t0; pass
 * shifts the prices (a second pass updates every bar). */
static inline void bench_make_bars(bk_bar *v, size_t n, int64_t t0, size_t sym, int pass)
{
    for (size_t i = 0; i < n; i++) {
        double px = 100.0 + (double)sym * 10 + (double)(i % 1000) * 0.01 + pass;
        v[i] = (bk_bar){.ts_us = t0 + (int64_t)i * 60 * BK_US_PER_S,
                        .open = px,
                        .high = px + 0.5,
                        .low = px - 0.5,
                        .close = px + 0.25,
                        .volume = (double)(1000 + i % 5000)};
    }
}

#endif
