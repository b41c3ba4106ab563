/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Clocks and timers of the agent's epoll loops: the two clocks its files
 * read, arming a timerfd, and taking the count a timerfd or an eventfd
 * holds so that a level-triggered epoll stops reporting it.
 */
#ifndef AGENT_CLOCK_H
#define AGENT_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: ages and deadlines. */
uint64_t agent_clock_mono_ms(void);
/* Milliseconds since the epoch (CLOCK_REALTIME): times shown to people. */
int64_t agent_clock_unix_ms(void);

/*
 * Arms the timerfd fd to fire first_ms from now, then every interval_ms
 * (0: once); first_ms 0 disarms it.  0 or -errno.
 */
int agent_clock_timer_set(int fd, uint64_t first_ms, uint64_t interval_ms);
/* Reads the count of a timerfd or eventfd, so that it is not readable again before it fires. */
void agent_clock_drain(int fd);

#endif /* AGENT_CLOCK_H */
