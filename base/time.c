// SPDX-License-Identifier: Apache-2.0
/*
 * The monotonic clock in milliseconds; see time.h.
 */
#include "base/time.h"

#include <time.h>

uint64_t base_time_mono_ms(void)
{
	struct timespec ts;

	/* cannot fail for CLOCK_MONOTONIC with a valid pointer */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
