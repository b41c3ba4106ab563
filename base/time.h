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

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t base_time_mono_ms(void);

#endif /* BASE_TIME_H */
