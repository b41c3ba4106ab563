// SPDX-License-Identifier: Apache-2.0
/*
 * Clocks and timerfds; see time.h.
 */
#include "base/time.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "base/log.h"

uint64_t base_time_mono_ms(void)
{
	struct timespec ts;

	/* cannot fail for CLOCK_MONOTONIC with a valid pointer */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void base_time_mono_deadline(uint64_t ms, struct timespec *ret)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	*ret = ts;
}

int64_t base_time_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int base_time_timer_set(int fd, uint64_t first_ms, uint64_t interval_ms)
{
	struct itimerspec its = {
		.it_value = {(time_t)(first_ms / 1000), (long)(first_ms % 1000) * 1000000L},
		.it_interval = {(time_t)(interval_ms / 1000),
				(long)(interval_ms % 1000) * 1000000L},
	};

	return timerfd_settime(fd, 0, &its, NULL) < 0 ? -errno : 0;
}

int base_time_timer_new(uint64_t first_ms, uint64_t interval_ms)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	int err;

	if (fd < 0)
		return -errno;
	err = base_time_timer_set(fd, first_ms, interval_ms);
	if (err < 0) {
		close(fd);
		return err;
	}
	return fd;
}

void base_time_timer_drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		base_log_debug("read of timer %d: %s", fd, strerror(errno));
}
