// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the command-line number parsers (base/parse.c): the spellings
 * ig and kubectl-gadget accept, and the ones they must refuse rather than
 * read as something else.
 */
#include "base/parse.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static void test_duration(void **state)
{
	static const struct {
		const char *in;
		uint64_t ms;
	} ok[] = {{"10", 10000},   {"1.5s", 1500}, {"500ms", 500}, {"2m", 120000},
		  {"1h", 3600000}, {"0", 0},	   {"0.25", 250}};
	static const char *const bad[] = {"", "-1", "+1", "s", "10x", "1 s", "nan", "1e300"};
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(base_parse_duration_ms(ok[i].in, &v), 0);
		assert_int_equal(v, ok[i].ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_true(base_parse_duration_ms(bad[i], &v) < 0);
	assert_int_equal(base_parse_duration_ms(NULL, &v), -EINVAL);
	assert_int_equal(base_parse_duration_ms("1e300", &v), -ERANGE);
}

static void test_size(void **state)
{
	uint64_t v;

	assert_int_equal(base_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(base_parse_size("64K", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(base_parse_size("4MiB", &v), 0);
	assert_int_equal(v, 4u << 20);
	assert_int_equal(base_parse_size("1G", &v), 0);
	assert_int_equal(v, 1u << 30);
	assert_int_equal(base_parse_size("4MB", &v), -EINVAL);
	assert_int_equal(base_parse_size("-4M", &v), -EINVAL);
}

static void test_uint(void **state)
{
	uint64_t v;

	assert_int_equal(base_parse_uint("42", 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(base_parse_uint("101", 100, &v), -ERANGE);
	assert_int_equal(base_parse_uint("99999999999999999999999", UINT64_MAX, &v), -ERANGE);
	assert_int_equal(base_parse_uint("4x", 100, &v), -EINVAL);
	assert_int_equal(base_parse_uint("-1", 100, &v), -EINVAL);
	assert_int_equal(base_parse_uint("", 100, &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_uint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
