/*
 * fuzz_closures.c — fuzz target for bk_cal_load_closures (cal/cal.c), the
 * parser of the special-closures text the orchestrator reads at start-up.
 *
 * The bytes are handed over as they are (no NUL terminator), so reading past
 * len is caught by ASan. Invariants checked, aborting on a breach: a failed
 * load reports BK_EINVAL with a message and changes nothing; a successful
 * load can only remove or shorten sessions; every session stays inside
 * 09:30-16:00 New York; bk_cal_reset_closures restores the rules. Each
 * input scans the whole calendar once (~40,000 days).
 */
#include "cal/cal.h"
#include "core/clock.h"

#include <stdint.h>
#include <stdlib.h>

#define FIRST_DAY 7305                                /* 1990-01-01 */
#define LAST_DAY  47481                               /* 2099-12-31 */
#define REF_FROM  (INT64_C(1704085200) * BK_US_PER_S) /* 2024-01-01 05:00Z */
#define REF_TO    (INT64_C(1735707600) * BK_US_PER_S) /* 2025-01-01 05:00Z */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Sessions and total regular trading minutes over the whole calendar. */
static void census(size_t *n_sessions, int64_t *minutes)
{
    bk_session s;
    *n_sessions = 0;
    *minutes = 0;
    for (int32_t day = FIRST_DAY; day <= LAST_DAY; day++) {
        if (!bk_cal_session(day, &s))
            continue;
        int64_t len = s.close_us - s.open_us;
        if (len <= 0 || len > 390 * BK_US_PER_MIN || s.open_us != bk_cal_ny_to_utc(day, 9, 30))
            abort();
        (*n_sessions)++;
        *minutes += len / BK_US_PER_MIN;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static size_t base_n;
    static int64_t base_min = -1;
    size_t n;
    int64_t min;
    bk_err err = {0};
    if (base_min < 0)
        census(&base_n, &base_min);
    int rc = bk_cal_load_closures((const char *)data, size, &err);
    census(&n, &min);
    if (rc != 0 && (rc != BK_EINVAL || err.code != BK_EINVAL || err.msg[0] == '\0' || n != base_n ||
                    min != base_min))
        abort();
    if (rc == 0 && (n > base_n || min > base_min))
        abort();
    bk_cal_reset_closures();
    if (bk_cal_sessions(REF_FROM, REF_TO, NULL, 0) != 252) /* 2024, by rule */
        abort();
    return 0;
}
