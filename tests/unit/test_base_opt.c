// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the option matcher every command uses (base/opt.c): the
 * spellings it takes, what it refuses, aliases, tags and the help lines.
 */
#include "base/opt.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

enum { O_OUT = 1, O_HOST, O_POD, O_ONLY_A, O_ONLY_B };

static const struct base_opt opts[] = {
	{"output", 'o', BASE_OPT_VALUE, O_OUT, "FORMAT", "the format", 0},
	{"host", 0, BASE_OPT_SWITCH, O_HOST, NULL, "host too", 0},
	{"podname", 'p', BASE_OPT_VALUE, O_POD, "POD", "the pod", 0},
	{"k8s-podname", 0, BASE_OPT_VALUE, O_POD, NULL, NULL, 0},
	{"only-a", 0, BASE_OPT_SWITCH, O_ONLY_A, NULL, "a's", 1},
	{"only-b", 0, BASE_OPT_SWITCH, O_ONLY_B, NULL, "b's", 2},
};

#define N (sizeof(opts) / sizeof(opts[0]))

/* One step over args; returns the step with the option id and value. */
static int step(unsigned int tags, const char *const *args, int n, int *i, int *id, const char **v,
		char *err)
{
	struct base_opt_table t = {.opts = opts, .n = N, .tags = tags};
	const struct base_opt *o = NULL;
	int r = base_opt_next(&t, 1, n, (char *const *)args, i, &o, v, err, 256);

	*id = o ? o->id : 0;
	return r;
}

static void test_spellings(void **state)
{
	const char *a1[] = {"cmd", "-o", "json"}, *a2[] = {"cmd", "-ojson"},
		   *a3[] = {"cmd", "--output=json"}, *a4[] = {"cmd", "--output", "json"},
		   *a5[] = {"cmd", "--k8s-podname", "web"};
	const char *const *all[] = {a1, a2, a3, a4};
	const int lens[] = {3, 2, 2, 3};
	char err[256];
	const char *v;
	int i, id;
	size_t k;

	for (k = 0; k < 4; k++) {
		i = 1;
		assert_int_equal(step(0, all[k], lens[k], &i, &id, &v, err), BASE_OPT_MATCHED);
		assert_int_equal(id, O_OUT);
		assert_string_equal(v, "json");
		assert_int_equal(i, lens[k] - 1);
	}
	i = 1;
	assert_int_equal(step(0, a5, 3, &i, &id, &v, err), BASE_OPT_MATCHED);
	assert_int_equal(id, O_POD);
	assert_string_equal(v, "web");
}

static void test_switches(void **state)
{
	const char *on[] = {"cmd", "--host"}, *off[] = {"cmd", "--host=false"},
		   *bad[] = {"cmd", "--host=maybe"}, *next[] = {"cmd", "--host", "false"};
	char err[256];
	const char *v;
	int i = 1, id;

	assert_int_equal(step(0, on, 2, &i, &id, &v, err), BASE_OPT_MATCHED);
	assert_string_equal(v, "true");
	i = 1;
	assert_int_equal(step(0, off, 2, &i, &id, &v, err), BASE_OPT_MATCHED);
	assert_string_equal(v, "false");
	i = 1;
	assert_int_equal(step(0, bad, 2, &i, &id, &v, err), -EINVAL);
	assert_non_null(strstr(err, "--host takes no value but true or false"));
	/* a switch never takes the next word */
	i = 1;
	assert_int_equal(step(0, next, 3, &i, &id, &v, err), BASE_OPT_MATCHED);
	assert_int_equal(i, 1);
}

static void test_words_end_unknown(void **state)
{
	const char *a[] = {"cmd", "gadget", "-", "--", "--nope", "-z", "-o"};
	char err[256];
	const char *v;
	int i, id;

	i = 1;
	assert_int_equal(step(0, a, 7, &i, &id, &v, err), BASE_OPT_WORD);
	i = 2;
	assert_int_equal(step(0, a, 7, &i, &id, &v, err), BASE_OPT_WORD);
	i = 3;
	assert_int_equal(step(0, a, 7, &i, &id, &v, err), BASE_OPT_END);
	i = 4;
	assert_int_equal(step(0, a, 7, &i, &id, &v, err), BASE_OPT_UNKNOWN);
	i = 5;
	assert_int_equal(step(0, a, 7, &i, &id, &v, err), BASE_OPT_UNKNOWN);
	/* a value that is missing is an error, never the next option */
	i = 6;
	assert_int_equal(step(0, a, 7, &i, &id, &v, err), -EINVAL);
	assert_string_equal(err, "option --output needs a value");
}

static void test_tags_and_limits(void **state)
{
	const char *a[] = {"cmd", "--only-a"}, *b[] = {"cmd", "--only-b"};
	const char *big[] = {"cmd", "--output", NULL};
	char err[256], *huge = malloc(BASE_OPT_MAX_VALUE + 2);
	const char *v;
	int i, id;

	i = 1;
	assert_int_equal(step(1, a, 2, &i, &id, &v, err), BASE_OPT_MATCHED);
	i = 1;
	assert_int_equal(step(1, b, 2, &i, &id, &v, err), BASE_OPT_UNKNOWN);
	i = 1;
	assert_int_equal(step(0, b, 2, &i, &id, &v, err), BASE_OPT_MATCHED);
	assert_non_null(huge);
	memset(huge, 'x', BASE_OPT_MAX_VALUE + 1);
	huge[BASE_OPT_MAX_VALUE + 1] = '\0';
	big[2] = huge;
	i = 1;
	assert_int_equal(step(0, big, 3, &i, &id, &v, err), -EINVAL);
	assert_non_null(strstr(err, "longer than"));
	free(huge);
}

static void test_help(void **state)
{
	struct base_opt_table t = {.opts = opts, .n = N, .tags = 1};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	base_opt_help(f, &t, 1);
	fclose(f);
	assert_non_null(strstr(buf, "  -o, --output FORMAT"));
	/* the alias stands beside its option and nowhere else */
	assert_non_null(strstr(buf, "  -p, --podname, --k8s-podname POD"));
	assert_null(strstr(buf, "\n      --k8s-podname"));
	assert_non_null(strstr(buf, "--only-a"));
	assert_null(strstr(buf, "--only-b"));
	free(buf);
}

static void test_bool(void **state)
{
	bool b;

	assert_int_equal(base_opt_parse_bool("yes", &b), 0);
	assert_true(b);
	assert_int_equal(base_opt_parse_bool("0", &b), 0);
	assert_false(b);
	assert_int_equal(base_opt_parse_bool("TRUE", &b), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spellings),
		cmocka_unit_test(test_switches),
		cmocka_unit_test(test_words_end_unknown),
		cmocka_unit_test(test_tags_and_limits),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_bool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
