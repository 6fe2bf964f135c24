/*
 * bar.h — one OHLCV price bar. ts_us is the bar's start (UTC); intraday bars
 * start on the timeframe's grid, daily bars at 00:00 New York of the trading
 * date, weekly bars at 00:00 New York of the week's Monday. Symbol,
 * timeframe and provider travel with the batch, not with each bar.
 */
#ifndef BK_MODEL_BAR_H
#define BK_MODEL_BAR_H

#include <stdint.h>

typedef struct bk_bar {
    int64_t ts_us;
    double open, high, low, close;
    double volume; /* shares; may be fractional */
} bk_bar;

#endif
