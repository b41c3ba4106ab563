// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the monotonic millisecond clock (base/time.c): it agrees with
 * CLOCK_MONOTONIC, never goes back and moves with elapsed time, and a
 * deadline lies as far ahead as asked.
 */
#include "base/time.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

static uint64_t mono_ms(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_agrees_with_clock(void **state)
{
	uint64_t before = mono_ms(), t = base_time_mono_ms(), after = mono_ms();

	assert_true(before <= t);
	assert_true(t <= after);
}

static void test_moves_forward(void **state)
{
	struct timespec pause = {.tv_nsec = 20 * 1000000};
	uint64_t t0 = base_time_mono_ms(), last = t0;

	for (int i = 0; i < 1000; i++) {
		uint64_t t = base_time_mono_ms();

		assert_true(t >= last);
		last = t;
	}
	while (nanosleep(&pause, &pause) != 0)
		;
	assert_true(base_time_mono_ms() - t0 >= 20);
}

static uint64_t ts_ms(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000 + (uint64_t)ts->tv_nsec / 1000000;
}

static void test_deadline(void **state)
{
	static const uint64_t waits[] = {0, 1, 999, 1000, 1001, 123456};

	for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++) {
		uint64_t before = mono_ms(), after;
		struct timespec d;

		base_time_mono_deadline(waits[i], &d);
		after = mono_ms();
		/* normalised, and ms after a moment between the two readings */
		assert_true(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
		assert_true(ts_ms(&d) >= before + waits[i]);
		assert_true(ts_ms(&d) <= after + waits[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agrees_with_clock),
		cmocka_unit_test(test_moves_forward),
		cmocka_unit_test(test_deadline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
