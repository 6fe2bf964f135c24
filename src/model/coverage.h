/*
 * coverage.h — the coverage summary of one (symbol, timeframe) series as a
 * row (the store's coverage_status): what the store keeps and the renderers
 * turn into JSON.
 */
#ifndef BK_MODEL_COVERAGE_H
#define BK_MODEL_COVERAGE_H

#include <stdint.h>

#include "model/run.h"
#include "model/sym.h"
#include "model/tf.h"

typedef struct bk_coverage {
    char symbol[BK_SYM_MAX + 1];
    bk_tf tf;
    int64_t from_us, to_us; /* summary: earliest and latest covered time (0 = none) */
    int64_t last_success_us;
    int64_t last_rows_written;
    char last_provider[BK_PROV_NAME_MAX];
    int64_t updated_us;
    int64_t n_intervals; /* pieces of the interval set */
    int64_t covered_us;  /* total covered time */
} bk_coverage;

#endif
