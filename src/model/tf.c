/*
 * tf.c — timeframe names, aliases and steps.
 */
#include "model/tf.h"
#include "core/clock.h"
#include "core/err.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name, *alias;
    int64_t step_us;
} tfs[BK_TF__N] = {
    [BK_TF_1M] = {"1m", "m1", BK_US_PER_MIN},
    [BK_TF_5M] = {"5m", "m5", 5 * BK_US_PER_MIN},
    [BK_TF_15M] = {"15m", "m15", 15 * BK_US_PER_MIN},
    [BK_TF_30M] = {"30m", "m30", 30 * BK_US_PER_MIN},
    [BK_TF_1H] = {"1h", "h1", BK_US_PER_HOUR},
    [BK_TF_4H] = {"4h", "h4", 4 * BK_US_PER_HOUR},
    [BK_TF_D1] = {"d1", "1d", BK_US_PER_DAY},
    [BK_TF_W1] = {"w1", "1w", 7 * BK_US_PER_DAY},
};

int bk_tf_parse(const char *s, bk_tf *out)
{
    if (!s)
        return BK_EINVAL;
    for (int i = 0; i < BK_TF__N; i++) {
        if (strcasecmp(s, tfs[i].name) == 0 || strcasecmp(s, tfs[i].alias) == 0) {
            *out = (bk_tf)i;
            return 0;
        }
    }
    return BK_EINVAL;
}

const char *bk_tf_name(bk_tf tf)
{
    return (unsigned)tf < BK_TF__N ? tfs[tf].name : "?";
}

int64_t bk_tf_step_us(bk_tf tf)
{
    return (unsigned)tf < BK_TF__N ? tfs[tf].step_us : 0;
}

bool bk_tf_intraday(bk_tf tf)
{
    return tf < BK_TF_D1;
}
