/*
 * validate.h — the worker's check of every bar a provider returns, before
 * anything reaches the store.
 *
 * Providers only parse; the worker decides what is acceptable. A page is
 * rejected as a whole (BK_EBADBAR, a retryable failure) if any bar is
 * impossible: a non-finite or non-positive price, negative volume, an OHLC
 * order that cannot happen, a label that is on no grid of the calendar, a
 * bar outside the requested slice, or labels that repeat or go back.
 * Extended-hours intraday bars are real data that providers send whether
 * asked or not: they are tolerated by the check and then dropped by
 * bk_validate_keep_regular, because barkeep stores regular-session bars only.
 *
 * Pure functions of their arguments and the calendar; any thread.
 */
#ifndef BK_WORK_VALIDATE_H
#define BK_WORK_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "cal/cal.h"
#include "core/err.h"
#include "model/bar.h"
#include "model/tf.h"

/*
 * Check bars[0 .. n) of timeframe tf, anchored as anchor, fetched for the
 * slice [slice_from_us, slice_to_us). Returns 0 if every bar is valid, else
 * BK_EBADBAR with err naming the first bad bar (index, label, what is wrong).
 * A bar is valid when:
 *   - its values pass bk_bar_check (model/bar.h): open, high, low, close
 *     are finite and > 0; volume is finite and >= 0; high >= max(open,
 *     close), low <= min(open, close), high >= low;
 *   - its label is an expected bar of the calendar (bk_cal_bar_at), or, for
 *     intraday tf only, an extended-hours label: on the same grid as the
 *     day's expected bars, inside that trading day's [pre, post), outside
 *     regular hours;
 *   - its span overlaps the slice: the calendar span for an expected bar,
 *     [label, label + step) for an extended-hours bar;
 *   - its label is strictly greater than the previous bar's.
 * n == 0 is valid. bars is only read.
 */
int bk_validate_bars(const bk_bar *bars, size_t n, bk_tf tf, bk_anchor anchor,
                     int64_t slice_from_us, int64_t slice_to_us, bk_err *err);

/*
 * Compact bars[0 .. n) in place, keeping (in order) only the bars whose label
 * is an expected regular-session bar of tf/anchor. Returns the new count;
 * bars[count .. n) are left unspecified.
 */
size_t bk_validate_keep_regular(bk_bar *bars, size_t n, bk_tf tf, bk_anchor anchor);

#endif
