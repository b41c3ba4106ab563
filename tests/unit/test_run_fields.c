// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the --fields grammar every client uses (run/fields.c).
 */
#include "run/fields.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static const struct run_fields_item items[] = {
	{"timestamp", "timestamp", true},	      /* 0 */
	{"proc.comm", "comm", true},		      /* 1 */
	{"proc.pid", "pid", true},		      /* 2 */
	{"proc.mntns_id", "mntns_id", false},	      /* 3 */
	{"proc.parent.comm", "pcomm", true},	      /* 4 */
	{"k8s.containerName", "containerName", true}, /* 5 */
	{"error_raw", "error_raw", false},	      /* 6 */
	{"src.port", "port", true},		      /* 7 */
	{"dst.port", "port", true},		      /* 8 */
};

#define N (sizeof(items) / sizeof(items[0]))

/* The selection as "0,1,2", or the error. */
static const char *sel(const char *spec)
{
	static char out[256];
	size_t idx[N], n = 0, i, len = 0;
	char err[256] = "";

	if (run_fields_select(items, N, spec, idx, &n, err, sizeof(err)) < 0) {
		snprintf(out, sizeof(out), "E:%s", err);
		return out;
	}
	out[0] = '\0';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%zu", i ? "," : "",
					idx[i]);
	return out;
}

static void test_defaults(void **state)
{
	assert_string_equal(sel(NULL), "0,1,2,4,5,7,8");
	assert_string_equal(sel(""), "0,1,2,4,5,7,8");
	assert_string_equal(sel(" , "), "0,1,2,4,5,7,8");
}

static void test_exact_lists(void **state)
{
	assert_string_equal(sel("proc.pid,timestamp"), "2,0");
	/* a column name, a struct, a hidden field by name */
	assert_string_equal(sel("comm,error_raw"), "1,6");
	assert_string_equal(sel("proc"), "1,2,4");
	assert_string_equal(sel("proc.parent"), "4");
	assert_string_equal(sel("pcomm"), "4");
	/* repeated names count once */
	assert_string_equal(sel("pid,pid,proc.pid"), "2");
}

static void test_relative(void **state)
{
	assert_string_equal(sel("-timestamp,+mntns_id"), "1,2,4,5,7,8,3");
	assert_string_equal(sel("+error_raw"), "0,1,2,4,5,7,8,6");
	assert_string_equal(sel("-proc"), "0,5,7,8");
	assert_string_equal(sel(" - timestamp , + proc.mntns_id "), "1,2,4,5,7,8,3");
}

static void test_case(void **state)
{
	/* IG's docs write k8s.containername */
	assert_string_equal(sel("k8s.containername,COMM,Proc.Pid"), "5,1,2");
}

static void test_errors(void **state)
{
	assert_string_equal(sel("nope"),
			    "E:unknown field 'nope' (see --help for the fields of this gadget)");
	assert_string_equal(sel("port"), "E:field 'port' is ambiguous, use its full name");
	assert_string_equal(sel("src.port,+nope"),
			    "E:unknown field 'nope' (see --help for the fields of this gadget)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults), cmocka_unit_test(test_exact_lists),
		cmocka_unit_test(test_relative), cmocka_unit_test(test_case),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
