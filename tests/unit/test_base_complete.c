// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for shell completion (base/complete.c): candidates filtered by the
 * word and offered once, flags and their aliases from an option table, the
 * value of "--flag VALUE" and "--flag=VALUE", the protocol's output, and
 * the scripts for bash and zsh (their loading in real shells is
 * tests/integration/test_completion.py's).
 */
#include "base/complete.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const struct base_opt opts[] = {
	{"output", 'o', BASE_OPT_VALUE, 1, "FORMAT", "columns or json\nmore text", 0},
	{"outdir", 0, BASE_OPT_VALUE, 2, "DIR", "where", 0},
	{"host", 0, BASE_OPT_SWITCH, 3, NULL, "the host too", 0},
	{"hosts", 0, BASE_OPT_SWITCH, 3, NULL, NULL, 0}, /* an alias: the help of id 3 */
	{"cluster-only", 0, BASE_OPT_SWITCH, 4, NULL, "hidden from the local view", 2},
};

static const struct base_opt_table table = {.opts = opts, .n = 5, .tags = 1};

static char *printed(const struct base_complete *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(base_complete_print(c, f), 0);
	fclose(f);
	return buf;
}

static void test_add_filters_and_dedups(void **state)
{
	struct base_complete c;
	char *out;

	base_complete_init(&c, "tr");
	base_complete_add(&c, "trace_exec", "execs");
	base_complete_add(&c, "top_file", NULL);
	base_complete_add(&c, "trace_exec", "again");
	base_complete_add(&c, "bad\nname", NULL);
	base_complete_add_list(&c, "trace_open, trace_tcp snapshot_process", NULL);
	c.directive = BASE_COMPLETE_NOFILE;
	out = printed(&c);
	assert_string_equal(out, "trace_exec\texecs\ntrace_open\ntrace_tcp\n:4\n");
	free(out);
	base_complete_done(&c);
}

static void test_flags(void **state)
{
	struct base_complete c;
	char *out;

	base_complete_init(&c, "--ho");
	base_complete_flags(&c, &table, 1);
	out = printed(&c);
	assert_string_equal(out, "--host\tthe host too\n--hosts\tthe host too\n:0\n");
	free(out);
	base_complete_done(&c);

	/* "-" alone also offers the short names; a tag outside the view is left out */
	base_complete_init(&c, "-");
	base_complete_flags(&c, &table, 1);
	out = printed(&c);
	assert_non_null(strstr(out, "-o\tcolumns or json\n"));
	assert_null(strstr(out, "cluster-only"));
	free(out);
	base_complete_done(&c);
}

static void test_value_of(void **state)
{
	const char *v = NULL;
	struct base_complete c;
	char *out;

	assert_int_equal(base_complete_value_of(&table, 1, "-o", "js", &v)->id, 1);
	assert_string_equal(v, "js");
	assert_int_equal(base_complete_value_of(&table, 1, "run", "--output=js", &v)->id, 1);
	assert_string_equal(v, "js");
	assert_int_equal(base_complete_value_of(&table, 1, "--outdir", "", &v)->id, 2);
	assert_null(base_complete_value_of(&table, 1, "--host", "x", &v));
	assert_null(base_complete_value_of(&table, 1, "--output=json", "x", &v));
	assert_null(base_complete_value_of(&table, 1, "--out", "x", &v));

	base_complete_init(&c, "--output=j");
	base_complete_add_value(&c, "json");
	base_complete_add_value(&c, "columns");
	out = printed(&c);
	assert_string_equal(out, "--output=json\n:0\n");
	free(out);
	base_complete_done(&c);
}

static void test_scripts(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(base_complete_script(f, "bash", "kubectl-gadget"), 0);
	assert_int_equal(base_complete_script(f, "zsh", "kubectl-gadget"), 0);
	assert_int_equal(base_complete_script(f, "fish", "kubectl-gadget"), -EINVAL);
	fclose(f);
	assert_non_null(strstr(buf, "complete -F _kubectl_gadget_complete kubectl-gadget\n"));
	assert_non_null(strstr(buf, "\"$1\" __complete \"${@:2}\""));
	assert_non_null(strstr(buf, "#compdef kubectl-gadget\n"));
	assert_non_null(strstr(buf, "compdef _kubectl_gadget kubectl-gadget\n"));
	assert_null(strstr(buf, "@PROG@"));
	assert_null(strstr(buf, "@FN@"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_filters_and_dedups),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_value_of),
		cmocka_unit_test(test_scripts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
