/*
 * job.h — job types and run statuses, with their guide spellings.
 */
#ifndef BK_MODEL_JOB_H
#define BK_MODEL_JOB_H

#include "core/err.h"

#include "model/tf.h"

typedef enum bk_job { BK_JOB_INTRADAY, BK_JOB_HISTORICAL, BK_JOB_FORECAST, BK_JOB__N } bk_job;

typedef enum bk_status {
    BK_ST_QUEUED,
    BK_ST_RUNNING,
    BK_ST_SUCCESS,
    BK_ST_FAILED, /* dead-lettered: no retry pending until retry_failed */
    BK_ST_CANCELLED,
    BK_ST__N
} bk_status;

/* "fetch_intraday" | "fetch_historical" | "run_forecast" */
const char *bk_job_name(bk_job j);
BK_MUST_CHECK int bk_job_parse(const char *s, bk_job *out);
/* The job type a timeframe implies: intraday below d1, historical otherwise. */
bk_job bk_job_for_tf(bk_tf tf);
/* "queued" | "running" | "success" | "failed" | "cancelled" */
const char *bk_status_name(bk_status st);
BK_MUST_CHECK int bk_status_parse(const char *s, bk_status *out);

#endif
