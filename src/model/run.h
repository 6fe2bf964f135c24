/*
 * run.h — job definitions and job runs as rows: what the store keeps, the
 * planner and the workers pass around, and the renderers turn into JSON.
 * Plain data (inline strings, UTC microseconds, 0 for unset); the store
 * (store/store.h) reads and writes them.
 */
#ifndef BK_MODEL_RUN_H
#define BK_MODEL_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "model/job.h"
#include "model/sym.h"
#include "model/tf.h"

#define BK_ID_MAX        37 /* uuid text + NUL */
#define BK_PROV_NAME_MAX 32
#define BK_OWNER_MAX     96
#define BK_CODE_MAX      40
#define BK_MSG_MAX       256

typedef struct bk_def {
    char id[BK_ID_MAX];
    bk_job type;
    char symbol[BK_SYM_MAX + 1];
    bk_tf tf;
    int32_t window_days; /* 1 .. 36500 */
    int32_t priority;    /* higher runs first */
    int32_t horizon;     /* run_forecast: steps, 1 .. BK_DEF_HORIZON_MAX; 0 = the default */
    bool enabled;
    int64_t created_us, updated_us;
} bk_def;

/* The longest horizon of a run_forecast definition (fc.h's BK_FC_MAX_HORIZON). */
#define BK_DEF_HORIZON_MAX 500

typedef struct bk_run {
    char id[BK_ID_MAX];
    char def_id[BK_ID_MAX]; /* "" when the definition was removed */
    char symbol[BK_SYM_MAX + 1];
    bk_tf tf;
    bk_job type;
    int64_t slice_from_us, slice_to_us; /* [from, to) */
    bk_status status;
    double progress_percent; /* 0 .. 100 */
    int64_t rows_written;
    char provider[BK_PROV_NAME_MAX]; /* the provider that answered; "" until one did */
    int32_t attempt;                 /* 1 for the first attempt */
    int32_t max_attempts;            /* dead-letter when a failed attempt reaches this */
    int32_t lease_expiries; /* leases lost to a dead or silent owner since the last revival */
    int32_t dead_retries;   /* times the tick re-planned it after a dead-letter */
    int32_t priority;
    char error_code[BK_CODE_MAX];
    char error_message[BK_MSG_MAX];
    char triggered_by[32]; /* scheduler | tick | ensure-coverage | retry_failed | lease_expired |
                              ... */
    char lease_owner[BK_OWNER_MAX];
    int64_t created_us, started_us, finished_us, updated_us;
    int64_t not_before_us;  /* not claimable before this instant */
    int64_t lease_until_us; /* running: requeued after this instant */
} bk_run;

/* A callback told about one run (a change event). */
typedef void (*bk_run_fn)(void *ctx, const bk_run *run);

#endif
