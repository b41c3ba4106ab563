/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The monotonic clock in milliseconds.
 *
 * Deadlines, idle timers and rate limits all measure elapsed time, which
 * must not jump when the wall clock is set; CLOCK_MONOTONIC does not.  The
 * value means nothing on its own: compare it only with other values from
 * this process.
 */
#ifndef BASE_TIME_H
#define BASE_TIME_H

#include <stdint.h>
#include <time.h>

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t base_time_mono_ms(void);
/*
 * The CLOCK_MONOTONIC time ms milliseconds from now, the absolute deadline
 * pthread_cond_timedwait() takes on a condition variable whose clock was
 * set to CLOCK_MONOTONIC (pthread_condattr_setclock()).
 */
void base_time_mono_deadline(uint64_t ms, struct timespec *ret);

#endif /* BASE_TIME_H */
