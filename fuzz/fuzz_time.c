/*
 * fuzz_time.c — fuzz target for the ISO-8601 parsers in model/time.c.
 *
 * Any input bk_time_parse accepts must format to text that parses back to
 * the same instant, and any date bk_date_parse accepts must format and
 * re-parse to the same day; a mismatch aborts so the fuzzer reports it.
 * Inputs are capped at 256 bytes (no valid form is longer than ~40).
 */
#include "model/time.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_INPUT 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_instant(const char *s)
{
    int64_t us, back;
    if (bk_time_parse(s, &us) != 0)
        return;
    char buf[BK_TIME_STR_MAX];
    bk_time_format(us, buf);
    if (bk_time_parse(buf, &back) != 0 || back != us)
        abort();
}

static void check_date(const char *s)
{
    int32_t days, back;
    if (bk_date_parse(s, &days) != 0)
        return;
    char buf[11];
    bk_date_format(days, buf);
    if (bk_date_parse(buf, &back) != 0 || back != days || strcmp(buf, s) != 0)
        abort();
    int64_t us; /* a bare date is also an instant: midnight UTC */
    if (bk_time_parse(s, &us) != 0 || us != (int64_t)days * 86400 * 1000000)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[FUZZ_MAX_INPUT + 1];
    if (size > FUZZ_MAX_INPUT)
        size = FUZZ_MAX_INPUT;
    memcpy(s, data, size);
    s[size] = '\0';
    check_instant(s);
    check_date(s);
    return 0;
}
