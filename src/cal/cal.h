/*
 * cal.h — the US equity market calendar (NYSE; Nasdaq follows it).
 *
 * Pure code, no I/O except bk_cal_load_closures. Sessions exist for New York
 * trading dates from 1990-01-01 through 2099-12-31 (rules verified for
 * 1990-2035); outside that range there are no sessions. All instants are UTC
 * microseconds; only this module speaks New York local time. Rules: weekends,
 * the full-day holidays with their observance rules, early closes (13:00;
 * 14:00 before 1993), special closures, both US daylight-saving regimes — see
 * docs/internals/cal.md and the project's market-calendar notes.
 *
 * Regular session [open, close) is 09:30-16:00 (13:00 on early-close days).
 * Extended hours are [pre, post) = 04:00-20:00 on trading days (post is still
 * 20:00 on early-close days; bars after 17:00 there are optional).
 *
 * Thread safety: every function is safe to call from any thread once
 * bk_cal_load_closures (if used) has returned; call that at start-up only.
 */
#ifndef BK_CAL_CAL_H
#define BK_CAL_CAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "model/ivset.h"
#include "model/tf.h"

#define BK_CAL_FIRST_YEAR 1990
#define BK_CAL_LAST_YEAR  2099

typedef struct bk_session {
    int32_t day;      /* New York trading date, days since 1970-01-01 */
    int64_t open_us;  /* regular open, UTC */
    int64_t close_us; /* regular close, UTC (early close on short days) */
    int64_t pre_us;   /* extended-hours start (04:00 NY) */
    int64_t post_us;  /* extended-hours end (20:00 NY) */
    bool early_close;
} bk_session;

/* Where intraday bars of 1h and longer start: at the session open (09:30,
 * 10:30, ...) or on the clock (09:00, 10:00, ... counted from NY midnight).
 * 1m..30m grids coincide for both. */
typedef enum bk_anchor { BK_ANCHOR_SESSION, BK_ANCHOR_CLOCK } bk_anchor;

/* One expected bar: its label (start, on the grid) and the regular trading
 * time it covers, [from_us, to_us) = [label, label+step) ∩ session(s). For d1
 * the label is 00:00 NY of the date and the span is the session; for w1 the
 * label is 00:00 NY of the week's Monday and the span runs from the week's
 * first open to its last close. */
typedef struct bk_calbar {
    int64_t ts_us;
    int64_t from_us, to_us;
} bk_calbar;

/* New York UTC offset in seconds (-18000 or -14400) at local noon of day. */
int bk_cal_utc_offset_s(int32_t day);
/* UTC instant of New York local time h:m on day. */
int64_t bk_cal_ny_to_utc(int32_t day, int h, int m);
/* New York trading date (days since epoch) of instant t. */
int32_t bk_cal_ny_day(int64_t t_us);

/* Fill *out and return true if day is a trading day. */
bool bk_cal_session(int32_t day, bk_session *out);
/* Sessions whose regular [open, close) overlaps [from, to), in order.
 * Writes at most cap; returns the total count (call with cap 0 to size). */
size_t bk_cal_sessions(int64_t from_us, int64_t to_us, bk_session *out, size_t cap);
/* True if t is inside a regular session (extended: inside [pre, post)). */
bool bk_cal_is_open(int64_t t_us, bool extended);
/* Add to out the regular (or extended) trading time within [from, to). */
void bk_cal_trading_time(int64_t from_us, int64_t to_us, bool extended, bk_ivset *out);
/* Earliest regular open >= t (INT64_MAX if none before 2100). */
int64_t bk_cal_next_open(int64_t t_us);
/* Latest regular close <= t (INT64_MIN if none since 1990). */
int64_t bk_cal_prev_close(int64_t t_us);

/* iv widened over closed-market time on both sides: from moves back to the
 * previous regular close when the market is closed just before from, to
 * moves on to the next regular open when it is closed at to. Coverage of
 * adjacent sessions widened so touches and merges into one interval; a
 * missing session stays a hole. An empty iv is returned unchanged. */
bk_iv bk_cal_widen_closed(bk_iv iv);

/* Expected bars of tf whose span overlaps [from, to), in order. Writes at most
 * cap; returns the total count. */
size_t bk_cal_bars(bk_tf tf, bk_anchor anchor, int64_t from_us, int64_t to_us, bk_calbar *out,
                   size_t cap);
/* If ts is the label of an expected bar of tf, fill *out and return true. */
bool bk_cal_bar_at(bk_tf tf, bk_anchor anchor, int64_t ts_us, bk_calbar *out);
/* The end (span to_us) of the latest expected bar whose span ends at or before
 * ref: everything expected before it has closed. INT64_MIN if none. */
int64_t bk_cal_closed_through(bk_tf tf, bk_anchor anchor, int64_t ref_us);

/* Add special full-day closures (or early closes) from text, one per line:
 *   2025-01-09            full-day closure
 *   2025-01-09 closed     same
 *   2026-07-02 13:00      early close at 13:00 New York
 * Blank lines and text after '#' are ignored. Returns 0, or BK_EINVAL with the
 * line number in err (nothing added). */
BK_MUST_CHECK int bk_cal_load_closures(const char *text, size_t len, bk_err *err);
/* Forget closures added by bk_cal_load_closures (for tests). */
void bk_cal_reset_closures(void);

#endif
