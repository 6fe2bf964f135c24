/*
 * tf.h — bar timeframes.
 *
 * Canonical spellings are the guide's: 1m 5m 15m 30m 1h 4h d1 w1. Every edge
 * also accepts the aliases m1 m5 m15 m30 h1 h4 1d 1w (case-insensitive) and
 * stores the canonical form.
 */
#ifndef BK_MODEL_TF_H
#define BK_MODEL_TF_H

#include "core/err.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum bk_tf {
    BK_TF_1M,
    BK_TF_5M,
    BK_TF_15M,
    BK_TF_30M,
    BK_TF_1H,
    BK_TF_4H,
    BK_TF_D1,
    BK_TF_W1,
    BK_TF__N
} bk_tf;

/* Parse a canonical spelling or alias; 0 or BK_EINVAL. */
BK_MUST_CHECK int bk_tf_parse(const char *s, bk_tf *out);
/* Canonical spelling ("15m", "d1"). */
const char *bk_tf_name(bk_tf tf);
/* Nominal bar length: 60 s .. 4 h for intraday, 1 day for d1, 7 days for w1. */
int64_t bk_tf_step_us(bk_tf tf);
/* True for sub-daily timeframes (1m .. 4h). */
bool bk_tf_intraday(bk_tf tf);

#endif
