/*
 * bar.c — the value rules of one bar (see bar.h), shared by the worker's
 * validation and the providers' aggregation.
 */
#include "model/bar.h"
#include "model/time.h"

#include <math.h>

static int bad(bk_err *err, size_t i, int64_t ts_us, const char *what, double a, double b)
{
    char t[BK_TIME_STR_MAX];
    return bk_err_set(err, BK_EBADBAR, "bar %zu (%s): %s (%.10g vs %.10g)", i,
                      bk_time_format(ts_us, t), what, a, b);
}

int bk_bar_check(const bk_bar *b, size_t i, bk_err *err)
{
    char t[BK_TIME_STR_MAX];
    const struct {
        const char *name;
        double v;
    } px[] = {{"open", b->open}, {"high", b->high}, {"low", b->low}, {"close", b->close}};
    for (size_t k = 0; k < sizeof px / sizeof px[0]; k++) {
        if (!isfinite(px[k].v) || px[k].v <= 0.0)
            return bk_err_set(err, BK_EBADBAR, "bar %zu (%s): %s %.10g is not a positive price", i,
                              bk_time_format(b->ts_us, t), px[k].name, px[k].v);
    }
    if (!isfinite(b->volume) || b->volume < 0.0)
        return bk_err_set(err, BK_EBADBAR, "bar %zu (%s): volume %.10g is not >= 0", i,
                          bk_time_format(b->ts_us, t), b->volume);
    if (b->high < b->low)
        return bad(err, i, b->ts_us, "high below low", b->high, b->low);
    if (b->high < fmax(b->open, b->close))
        return bad(err, i, b->ts_us, "high below max(open, close)", b->high,
                   fmax(b->open, b->close));
    if (b->low > fmin(b->open, b->close))
        return bad(err, i, b->ts_us, "low above min(open, close)", b->low, fmin(b->open, b->close));
    return 0;
}
