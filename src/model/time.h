/*
 * time.h — civil dates and ISO-8601 text for barkeep's instants.
 *
 * An instant is int64_t microseconds since the Unix epoch, UTC (see
 * core/clock.h). A "day" is int32_t days since 1970-01-01 (proleptic
 * Gregorian), the key the calendar uses for New York trading dates.
 * Parsing is strict: any character that does not belong is an error.
 */
#ifndef BK_MODEL_TIME_H
#define BK_MODEL_TIME_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

#define BK_TIME_STR_MAX 40

/* Days since 1970-01-01 for y-m-d (m 1..12, d 1..31); no validation. */
int32_t bk_days_from_civil(int y, int m, int d);
/* Inverse of bk_days_from_civil. */
void bk_civil_from_days(int32_t days, int *y, int *m, int *d);
/* 0 = Sunday .. 6 = Saturday. */
int bk_weekday(int32_t days);
/* 1 if y-m-d is a real calendar date. */
int bk_date_valid(int y, int m, int d);

/*
 * Parse an instant. Accepted forms (surrounding whitespace is not):
 *   2024-06-03                       midnight UTC of that date
 *   2024-06-03T13:30 | T13:30:00 | T13:30:00.123456   ('T' or one space)
 *   each time form optionally followed by Z, z, +HH:MM, -HH:MM, +HHMM or +HH
 *   (no suffix means UTC)
 *   @1717421400                      Unix seconds
 * Years 1900..2200. Returns 0, or BK_EINVAL with nothing written to *out_us.
 */
BK_MUST_CHECK int bk_time_parse(const char *s, int64_t *out_us);
/* Parse a bare date "YYYY-MM-DD" into days since epoch; 0 or BK_EINVAL. */
BK_MUST_CHECK int bk_date_parse(const char *s, int32_t *out_days);

/* "2024-06-03T13:30:00Z"; fractional seconds (".123Z" or ".123456Z") only when non-zero.
 * buf must hold BK_TIME_STR_MAX bytes. Returns buf. */
char *bk_time_format(int64_t us, char *buf);
/* "2024-06-03" for a day number; buf of at least 11 bytes. Returns buf. */
char *bk_date_format(int32_t days, char *buf);

#endif
