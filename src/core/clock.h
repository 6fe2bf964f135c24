/*
 * clock.h — barkeep's clock. All instants are int64_t microseconds since the
 * Unix epoch, UTC (names end in _us). The wall clock can be started at a chosen
 * instant (--now / BARKEEP_NOW) and then runs at real speed, so replays and
 * tests see a fixed "today" while leases and back-offs still elapse.
 * Pure modules (calendar, planner) never read the clock: they take now_us.
 */
#ifndef BK_CORE_CLOCK_H
#define BK_CORE_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BK_US_PER_MS   INT64_C(1000)
#define BK_US_PER_S    INT64_C(1000000)
#define BK_US_PER_MIN  (60 * BK_US_PER_S)
#define BK_US_PER_HOUR (60 * BK_US_PER_MIN)
#define BK_US_PER_DAY  (24 * BK_US_PER_HOUR)

/* Start the wall clock at now_us (process-wide; call once at start-up). */
void bk_clock_start_at(int64_t now_us);
/* Current wall time (real time, or the --now instant plus elapsed real time). */
int64_t bk_clock_now_us(void);
/* How far bk_clock_now_us is set from the machine's real clock (0 unless the
 * clock was started at a chosen instant). */
int64_t bk_clock_pin_us(void);
/* Whether bk_clock_start_at was called (--now / BARKEEP_NOW). */
bool bk_clock_pinned(void);
/* Monotonic microseconds for durations. */
int64_t bk_clock_mono_us(void);
/* Sleep; returns early on signals only if the caller checks its own flag. */
void bk_sleep_us(int64_t us);
/* Current wall time as "2026-11-28T18:31:58.120Z" (for logs). */
void bk_clock_format_wall(char *buf, size_t cap);

#endif
