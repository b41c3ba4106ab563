/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The monotonic clock in milliseconds, the wall clock, and timerfds.
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

/* Milliseconds since the epoch (CLOCK_REALTIME): times shown to people. */
int64_t base_time_unix_ms(void);

/*
 * Timers of epoll loops: a CLOCK_MONOTONIC timerfd, non-blocking and
 * close-on-exec, armed to fire first_ms from now, then every interval_ms
 * (0: once); first_ms 0 leaves it disarmed.  The fd or -errno.
 */
int base_time_timer_new(uint64_t first_ms, uint64_t interval_ms);
/* Arms the timerfd fd as above; first_ms 0 disarms it.  0 or -errno. */
int base_time_timer_set(int fd, uint64_t first_ms, uint64_t interval_ms);
/*
 * Reads the count a timerfd or eventfd holds, so that a level-triggered
 * epoll stops reporting it until it fires again.
 */
void base_time_timer_drain(int fd);

#endif /* BASE_TIME_H */
