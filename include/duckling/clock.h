/* duckling — time. Engines never read a clock: they are given `now` as a
 * dk_time_t (milliseconds on a monotonic scale with an arbitrary origin).
 * Only programs call dk_clock_now(). */
#ifndef DUCKLING_CLOCK_H
#define DUCKLING_CLOCK_H

#include <stdint.h>

typedef int64_t dk_time_t; /* milliseconds */
#define DK_TIME_NEVER INT64_MAX

/* CLOCK_MONOTONIC in milliseconds. */
dk_time_t dk_clock_now(void);
/* CLOCK_MONOTONIC in microseconds (benchmarks). */
int64_t dk_clock_now_us(void);
/* Wall clock, seconds since the Unix epoch. */
int64_t dk_clock_wall(void);

/* Earliest of two deadlines. */
static inline dk_time_t dk_time_min(dk_time_t a, dk_time_t b)
{
    return a < b ? a : b;
}

#endif
