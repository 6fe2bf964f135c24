/*
 * validate.c — the worker's bar checks (see validate.h for the rules).
 *
 * Each bar goes through three checks in order — its label against the
 * previous one, its values (bk_bar_check in model/bar.h, the rule the
 * providers' aggregation also applies to its source bars), its place on the
 * calendar and in the slice — and the first failure is reported with the
 * bar's index and label, so a bad page in the logs points at the exact bar. Extended-hours intraday
 * bars are recognised here without the calendar's help for expected bars: the label must sit on the
 * grid of the day's expected bars (same base, same step), inside the day's [pre, post).
 *
 * Read next: cal/cal.h (what is expected), work/work.c (the caller).
 */
#include "work/validate.h"
#include "model/time.h"

#include <stdbool.h>

/* Where the bar lies in time: the span the slice check uses. */
typedef struct placed {
    int64_t from_us, to_us;
    bool regular;
} placed;

static int64_t floor_mod(int64_t a, int64_t b)
{
    int64_t r = a % b;
    return r < 0 ? r + b : r;
}

/* True if ts is an extended-hours label of intraday tf: on the grid of its
 * trading day's expected bars, inside [pre, post), outside [open, close). */
static bool extended_label(bk_tf tf, bk_anchor anchor, int64_t ts_us)
{
    bk_session s;
    if (!bk_tf_intraday(tf) || !bk_cal_session(bk_cal_ny_day(ts_us), &s))
        return false;
    int64_t step = bk_tf_step_us(tf);
    int64_t base = anchor == BK_ANCHOR_SESSION ? s.open_us : bk_cal_ny_to_utc(s.day, 0, 0);
    return floor_mod(ts_us - base, step) == 0 && ts_us >= s.pre_us && ts_us < s.post_us &&
           (ts_us < s.open_us || ts_us >= s.close_us);
}

/* Locate the bar on the calendar; false if its label is on no grid. */
static bool place(bk_tf tf, bk_anchor anchor, int64_t ts_us, placed *out)
{
    bk_calbar cb;
    if (bk_cal_bar_at(tf, anchor, ts_us, &cb)) {
        *out = (placed){cb.from_us, cb.to_us, true};
        return true;
    }
    if (extended_label(tf, anchor, ts_us)) {
        *out = (placed){ts_us, ts_us + bk_tf_step_us(tf), false};
        return true;
    }
    return false;
}

static int check_one(const bk_bar *bars, size_t i, bk_tf tf, bk_anchor anchor,
                     int64_t slice_from_us, int64_t slice_to_us, bk_err *err)
{
    char t[BK_TIME_STR_MAX], u[BK_TIME_STR_MAX], v[BK_TIME_STR_MAX];
    const bk_bar *b = &bars[i];
    if (i > 0 && b->ts_us <= bars[i - 1].ts_us)
        return bk_err_set(err, BK_EBADBAR, "bar %zu (%s): label not after bar %zu (%s)", i,
                          bk_time_format(b->ts_us, t), i - 1, bk_time_format(bars[i - 1].ts_us, u));
    int rc = bk_bar_check(b, i, err);
    if (rc)
        return rc;
    placed p;
    if (!place(tf, anchor, b->ts_us, &p))
        return bk_err_set(err, BK_EBADBAR, "bar %zu (%s): not a %s bar of the calendar", i,
                          bk_time_format(b->ts_us, t), bk_tf_name(tf));
    if (p.from_us >= slice_to_us || p.to_us <= slice_from_us)
        return bk_err_set(err, BK_EBADBAR, "bar %zu (%s): span outside the slice [%s, %s)", i,
                          bk_time_format(b->ts_us, t), bk_time_format(slice_from_us, u),
                          bk_time_format(slice_to_us, v));
    return 0;
}

int bk_validate_bars(const bk_bar *bars, size_t n, bk_tf tf, bk_anchor anchor,
                     int64_t slice_from_us, int64_t slice_to_us, bk_err *err)
{
    if ((unsigned)tf >= BK_TF__N)
        return bk_err_set(err, BK_EINVAL, "validate: bad timeframe");
    for (size_t i = 0; i < n; i++) {
        int rc = check_one(bars, i, tf, anchor, slice_from_us, slice_to_us, err);
        if (rc)
            return rc;
    }
    return 0;
}

size_t bk_validate_keep_regular(bk_bar *bars, size_t n, bk_tf tf, bk_anchor anchor)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (bk_cal_bar_at(tf, anchor, bars[i].ts_us, NULL))
            bars[k++] = bars[i];
    }
    return k;
}
