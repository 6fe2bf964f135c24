/*
 * fuzz_rt_filter.c — fuzz target for Realtime filters (api/rt_filter.c).
 *
 * The first byte picks the table (job_runs, coverage_status,
 * job_definitions), the rest is the filter text. A parse either fails with
 * BK_EINVAL and a message and no filter, or yields a filter that is then
 * matched against a fixed change of that table (an INSERT and a DELETE):
 * matching must not crash, and a failed parse must leave *out NULL.
 * Violations abort. Inputs are capped at 8192 bytes (above the parser's own
 * cap, so that is exercised too).
 */
#include "api/change.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_INPUT 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const TABLES[] = {"job_runs", "coverage_status", "job_definitions"};

static bk_change *sample(const bk_table_def *t)
{
    if (strcmp(t->name, "job_runs") == 0) {
        bk_run r = {.id = "7c9e6679-7425-40de-944b-e07fc1f90ae7",
                    .symbol = "AAPL",
                    .tf = BK_TF_1H,
                    .status = BK_ST_RUNNING,
                    .progress_percent = 40.5,
                    .rows_written = 12,
                    .attempt = 1,
                    .max_attempts = 5,
                    .created_us = INT64_C(1767323045678000)};
        return bk_change_run("INSERT", &r, r.created_us);
    }
    if (strcmp(t->name, "coverage_status") == 0) {
        bk_coverage c = {.symbol = "MSFT",
                         .tf = BK_TF_D1,
                         .from_us = INT64_C(1767323045000000),
                         .to_us = INT64_C(1767409445000000),
                         .last_rows_written = 3};
        return bk_change_coverage("UPDATE", &c, c.to_us);
    }
    bk_def d = {.id = "11111111-2222-3333-4444-555555555555",
                .symbol = "SPY",
                .tf = BK_TF_5M,
                .window_days = 7,
                .priority = 100,
                .enabled = true};
    return bk_change_def("INSERT", &d, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const bk_table_def *t = bk_rt_table(TABLES[data[0] % 3]);
    data++;
    size--;
    if (size > FUZZ_MAX_INPUT)
        size = FUZZ_MAX_INPUT;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    bk_rt_filter *f = (bk_rt_filter *)1;
    bk_err err = {0};
    int rc = bk_rt_filter_parse(t, s, &f, &err);
    if (rc) {
        if (rc != BK_EINVAL || f || !err.msg[0])
            abort();
    } else {
        if (!f && s[0])
            abort();
        bk_change *c = sample(t);
        (void)bk_rt_filter_match(f, c);
        const char *key[2] = {"k1", "k2"};
        bk_change *d = bk_change_delete(t, key, 1);
        (void)bk_rt_filter_match(f, d);
        bk_change_release(c);
        bk_change_release(d);
        bk_rt_filter_free(f);
    }
    free(s);
    return 0;
}
