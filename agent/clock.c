// SPDX-License-Identifier: Apache-2.0
/*
 * Clocks and timers of the agent's epoll loops.  See clock.h.
 */
#include "agent/clock.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/time.h"

uint64_t agent_clock_mono_ms(void)
{
	return base_time_mono_ms();
}

int64_t agent_clock_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int agent_clock_timer_set(int fd, uint64_t first_ms, uint64_t interval_ms)
{
	struct itimerspec its = {
		.it_value = {(time_t)(first_ms / 1000), (long)(first_ms % 1000) * 1000000L},
		.it_interval = {(time_t)(interval_ms / 1000),
				(long)(interval_ms % 1000) * 1000000L},
	};

	return timerfd_settime(fd, 0, &its, NULL) < 0 ? -errno : 0;
}

void agent_clock_drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		base_log_debug("agent: read %d: %s", fd, strerror(errno));
}
