/*
 * clock.c — wall clock with an optional fixed start, monotonic clock, sleep.
 */
#include "core/clock.h"

#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static _Atomic int64_t g_offset_us; /* added to the real wall clock */
static atomic_bool g_pinned;        /* bk_clock_start_at was called */

static int64_t real_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * BK_US_PER_S + ts.tv_nsec / 1000;
}

void bk_clock_start_at(int64_t now_us)
{
    atomic_store(&g_offset_us, now_us - real_now_us());
    atomic_store(&g_pinned, true);
}

int64_t bk_clock_pin_us(void)
{
    return atomic_load(&g_offset_us);
}

bool bk_clock_pinned(void)
{
    return atomic_load(&g_pinned);
}

int64_t bk_clock_now_us(void)
{
    return real_now_us() + atomic_load(&g_offset_us);
}

int64_t bk_clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * BK_US_PER_S + ts.tv_nsec / 1000;
}

void bk_sleep_us(int64_t us)
{
    if (us <= 0)
        return;
    struct timespec ts = {.tv_sec = us / BK_US_PER_S, .tv_nsec = (us % BK_US_PER_S) * 1000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

void bk_clock_format_wall(char *buf, size_t cap)
{
    int64_t us = real_now_us(); /* logs carry real time even under --now */
    time_t s = (time_t)(us / BK_US_PER_S);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)((us / 1000) % 1000));
}
