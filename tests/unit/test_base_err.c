// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the error-buffer helpers (base/err.c): a reason is cut to the
 * buffer and always terminated, a NULL or empty buffer is left alone, and
 * control characters never split the reason's line.
 */
#include "base/err.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_set(void **state)
{
	char buf[16];

	base_err_set(buf, sizeof(buf), "%s: %d", "file", 42);
	assert_string_equal(buf, "file: 42");
	/* cut to the buffer, terminated */
	base_err_set(buf, sizeof(buf), "%s", "a reason longer than sixteen bytes");
	assert_string_equal(buf, "a reason longer");
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
}

static void test_no_buffer(void **state)
{
	char buf[4] = "abc";

	base_err_set(NULL, 10, "ignored %d", 1);
	base_err_set(buf, 0, "ignored %d", 1);
	assert_string_equal(buf, "abc");
	assert_int_equal(base_err_fail(NULL, 0, -ENOENT, "x"), -ENOENT);
}

static void test_fail(void **state)
{
	char buf[32];

	assert_int_equal(base_err_fail(buf, sizeof(buf), -EINVAL, "bad %s", "value"), -EINVAL);
	assert_string_equal(buf, "bad value");
	assert_int_equal(base_err_fail(buf, sizeof(buf), 0, "fine"), 0);
	assert_string_equal(buf, "fine");
}

static void wrapper(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void wrapper(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	base_err_setv(buf, len, fmt, ap);
	va_end(ap);
}

static void test_setv(void **state)
{
	char buf[32];

	wrapper(buf, sizeof(buf), "%s=%u", "n", 7u);
	assert_string_equal(buf, "n=7");
}

static void test_oneline(void **state)
{
	char buf[] = "key 'a\nb\tc\x7f' \xc3\xa9";

	base_err_oneline(buf);
	/* C0 and DEL masked; UTF-8 kept */
	assert_string_equal(buf, "key 'a?b?c?' \xc3\xa9");
	base_err_oneline(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set),	cmocka_unit_test(test_no_buffer),
		cmocka_unit_test(test_fail),	cmocka_unit_test(test_setv),
		cmocka_unit_test(test_oneline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
