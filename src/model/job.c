/*
 * job.c — names of job types and run statuses.
 */
#include "model/job.h"
#include "core/err.h"

#include <string.h>

static const char *const job_names[BK_JOB__N] = {"fetch_intraday", "fetch_historical",
                                                 "run_forecast"};
static const char *const status_names[BK_ST__N] = {"queued", "running", "success", "failed",
                                                   "cancelled"};

const char *bk_job_name(bk_job j)
{
    return (unsigned)j < BK_JOB__N ? job_names[j] : "?";
}

int bk_job_parse(const char *s, bk_job *out)
{
    for (int i = 0; i < BK_JOB__N; i++) {
        if (strcmp(s, job_names[i]) == 0) {
            *out = (bk_job)i;
            return 0;
        }
    }
    return BK_EINVAL;
}

bk_job bk_job_for_tf(bk_tf tf)
{
    return bk_tf_intraday(tf) ? BK_JOB_INTRADAY : BK_JOB_HISTORICAL;
}

const char *bk_status_name(bk_status st)
{
    return (unsigned)st < BK_ST__N ? status_names[st] : "?";
}

int bk_status_parse(const char *s, bk_status *out)
{
    for (int i = 0; i < BK_ST__N; i++) {
        if (strcmp(s, status_names[i]) == 0) {
            *out = (bk_status)i;
            return 0;
        }
    }
    return BK_EINVAL;
}
