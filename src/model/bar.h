/*
 * bar.h — one OHLCV price bar. ts_us is the bar's start (UTC); intraday bars
 * start on the timeframe's grid, daily bars at 00:00 New York of the trading
 * date, weekly bars at 00:00 New York of the week's Monday. Symbol,
 * timeframe and provider travel with the batch, not with each bar.
 *
 * bk_bar_check is the one rule for what a bar's values may be: the worker's
 * validation (work/validate.c) applies it to every bar it stores, and the
 * providers' aggregation (bk_prov_aggregate) to every bar it folds, so an
 * aggregate is only ever built from bars that each passed it.
 */
#ifndef BK_MODEL_BAR_H
#define BK_MODEL_BAR_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct bk_bar {
    int64_t ts_us;
    double open, high, low, close;
    double volume; /* shares; may be fractional */
} bk_bar;

/*
 * Check the values of b, the i-th bar of its batch (i only names it in the
 * message). 0 when open, high, low and close are finite and > 0, volume is
 * finite and >= 0, high >= low, high >= max(open, close) and low <=
 * min(open, close); else BK_EBADBAR with err saying "bar i (label): what"
 * (the first rule broken). The label is not checked: where a bar may lie is
 * the calendar's business. Pure; any thread.
 */
BK_MUST_CHECK int bk_bar_check(const bk_bar *b, size_t i, bk_err *err);

#endif
