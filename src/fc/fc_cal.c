/*
 * fc_cal.c — where the next bars of a forecast fall: the labels of the
 * expected bars after the last one, taken from the exchange calendar
 * (cal/cal.h), so a forecast never lands on a weekend, a holiday, after an
 * early close or in the night, and intraday steps follow DST.
 */
#include "fc/fc.h"
#include "core/clock.h"

#include "model/time.h"

#include <stdlib.h>

#define DAY_US (86400LL * 1000000LL)

int bk_fc_next_ts(bk_tf tf, bk_anchor anchor, int64_t last_ts_us, int horizon, int64_t *out,
                  bk_err *err)
{
    if (horizon < 1 || horizon > BK_FC_MAX_HORIZON)
        return bk_err_set(err, BK_EINVAL, "horizon %d outside 1..%d", horizon, BK_FC_MAX_HORIZON);
    /* a window that surely holds horizon bars: sessions are at least 1 per
     * 4 days and an intraday session at least 3.5 hours */
    int64_t step = bk_tf_step_us(tf);
    int64_t span = bk_tf_intraday(tf) ? (horizon * step / (3 * 3600LL * 1000000LL) + 2) * 4 * DAY_US
                                      : (horizon + 2) * step * 2 + 10 * DAY_US;
    size_t cap = (size_t)horizon + 64;
    bk_calbar *bars = malloc(cap * sizeof *bars);
    if (!bars)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    int got = 0;
    int64_t from = last_ts_us + 1;
    int64_t end = bk_cal_ny_to_utc(bk_days_from_civil(BK_CAL_LAST_YEAR + 1, 1, 1), 0, 0);
    while (got < horizon && from < end) {
        size_t k = bk_cal_bars(tf, anchor, from, from + span, bars, cap);
        if (k > cap)
            k = cap;
        int before = got;
        for (size_t i = 0; i < k && got < horizon; i++)
            if (bars[i].ts_us > last_ts_us && (got == 0 || bars[i].ts_us > out[got - 1]))
                out[got++] = bars[i].ts_us;
        /* on from the last bar found (a full buffer), else past the window */
        from = got > before ? out[got - 1] + 1 : from + span;
    }
    free(bars);
    if (got < horizon)
        return bk_err_set(err, BK_ERANGE, "the exchange calendar ends before %d more bars",
                          horizon);
    return 0;
}

int bk_fc_default_horizon(bk_tf tf)
{
    if (!bk_tf_intraday(tf))
        return 20;
    int64_t session = 390LL * BK_US_PER_MIN, step = bk_tf_step_us(tf);
    return (int)((session + step - 1) / step);
}
