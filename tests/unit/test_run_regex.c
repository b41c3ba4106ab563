// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the bounded regexes of -F filters (run/regex.c): RE2 syntax as
 * Inspektor Gadget's users write it, one-line errors for patterns that
 * cannot compile, and catastrophic patterns stopped by the limits in
 * bounded time, on the JIT and on the interpreter.
 */
#include "run/regex.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static int matches(const char *pattern, const char *subject)
{
	struct run_regex *re = NULL;
	char err[256] = "";
	int r;

	r = run_regex_new(pattern, strlen(pattern), &re, err, sizeof(err));
	if (r < 0)
		print_error("'%s': %s\n", pattern, err);
	assert_int_equal(r, 0);
	r = run_regex_match(re, subject, strlen(subject));
	run_regex_free(re);
	return r;
}

static void test_re2_syntax(void **state)
{
	static const struct {
		const char *re, *subject;
		int want;
	} cases[] = {
		{"^\\d+$", "12345", 1},
		{"^\\d+$", "12a45", 0},
		{"^\\d+$", "\xd9\xa3", 0}, /* ARABIC-INDIC THREE: \d is ASCII, as in RE2 */
		{"^\\w+$", "nginx_1", 1},
		{"^\\w+$", "ng-inx", 0},
		{"\\s", "a b", 1},
		{"^\\S+$", "a\tb", 0},
		{"^/.*?/", "/etc/passwd", 1},
		{"^a.+?c", "abcbc", 1},
		{"(?i)^NGINX$", "nginx", 1},
		{"^[[:alpha:]]+$", "abc", 1},
		{"a{,3}", "aaa", 0}, /* a literal in RE2 */
		{"a{,3}", "a{,3}", 1},
		{"^\\Qa.b\\E$", "a.b", 1},
		{"^.$", "\xc3\xa9", 1}, /* one character, two bytes */
		{"caf\xc3\xa9", "un caf\xc3\xa9", 1},
		{"^x$", "\xff", 0}, /* invalid UTF-8 in the subject is no error */
		{"", "", 1},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = matches(cases[i].re, cases[i].subject);

		if (got != cases[i].want)
			print_error("'%s' on '%s': want %d got %d\n", cases[i].re, cases[i].subject,
				    cases[i].want, got);
		assert_int_equal(got, cases[i].want);
	}
}

static void expect_error(const char *pattern, size_t len, int code, const char *msg)
{
	struct run_regex *re = NULL;
	char err[256] = "";

	assert_int_equal(run_regex_new(pattern, len, &re, err, sizeof(err)), code);
	assert_null(re);
	if (strcmp(err, msg))
		print_error("'%.40s': want '%s' got '%s'\n", pattern, msg, err);
	assert_string_equal(err, msg);
	assert_null(strchr(err, '\n'));
}

static void test_errors(void **state)
{
	char *big = malloc(RUN_REGEX_MAX_PATTERN + 2), nest[200];
	size_t i;

	expect_error("(", 1, -EINVAL, "missing closing parenthesis at offset 1");
	expect_error("a+++", 4, -EINVAL,
		     "quantifier does not follow a repeatable item at offset 3");
	expect_error("[z-a]", 5, -EINVAL, "range out of order in character class at offset 3");
	expect_error("(a)\\1", 5, -EINVAL, "back-references are not supported");
	expect_error("(?<n>a)\\k<n>", 12, -EINVAL, "back-references are not supported");
	expect_error("a\\C", 3, -EINVAL, "using \\C is disabled by the application at offset 3");
	expect_error("x{1,70000}", 10, -EINVAL, "number too big in {} quantifier at offset 9");
	/* over the limits */
	assert_non_null(big);
	memset(big, 'a', RUN_REGEX_MAX_PATTERN + 1);
	big[RUN_REGEX_MAX_PATTERN + 1] = '\0';
	expect_error(big, RUN_REGEX_MAX_PATTERN + 1, -E2BIG, "longer than 1024 bytes");
	free(big);
	for (i = 0; i < 40; i++) {
		nest[i] = '(';
		nest[41 + i] = ')';
	}
	nest[40] = 'a';
	nest[81] = '\0';
	expect_error(nest, 81, -E2BIG, "parentheses are too deeply nested at offset 33");
	/* the compiled code is bounded too: many copies of a large group */
	expect_error("((a|b|c|d|e|f|g|h){1,60}){1,60}", 32, -E2BIG,
		     "regular expression is too large at offset 32");
}

/* ms one match takes, at most, over a few tries */
static double worst_ms(struct run_regex *re, const char *s, size_t n)
{
	double worst = 0;
	int k;

	for (k = 0; k < 5; k++) {
		struct timespec a, b;
		double ms;

		clock_gettime(CLOCK_MONOTONIC, &a);
		assert_int_equal(run_regex_match(re, s, n), 0);
		clock_gettime(CLOCK_MONOTONIC, &b);
		ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
		if (ms > worst)
			worst = ms;
	}
	return worst;
}

static void test_catastrophic_patterns_are_bounded(void **state)
{
	/* the first ones backtrack exponentially; PCRE2 sees through the last ones */
	static const char *const bad[] = {"(a+)+$",	  "(a|aa)+$",  "(a|a?)+$",   "^(a|a)*$",
					  "(\\w+\\d*)+$", "((a+)+)+b", "(?=(a+)+$)x"};
	char subject[4097];
	size_t i;

	/* a path-sized run of a's that almost matches */
	memset(subject, 'a', sizeof(subject) - 2);
	subject[sizeof(subject) - 2] = '!';
	subject[sizeof(subject) - 1] = '\0';
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct run_regex *re = NULL;
		char err[256] = "";
		double ms;

		assert_int_equal(run_regex_new(bad[i], strlen(bad[i]), &re, err, sizeof(err)), 0);
		ms = worst_ms(re, subject, sizeof(subject) - 1);
		/* exponential without the limits; here a few ms even under valgrind */
		if (ms > 250)
			print_error("'%s' took %.1f ms\n", bad[i], ms);
		assert_true(ms < 250);
		if (i < 5)
			assert_true(run_regex_limit_hits(re) > 0);
		run_regex_free(re);
	}
}

static void test_jit_is_used(void **state)
{
	struct run_regex *re = NULL;
	char err[64];

	assert_int_equal(run_regex_new("^/etc/", 6, &re, err, sizeof(err)), 0);
	/* Debian's libpcre2 has the JIT; where it cannot run the interpreter does */
	print_message("JIT: %s\n", run_regex_jit(re) ? "yes" : "no");
	assert_int_equal(run_regex_match(re, "/etc/passwd", 11), 1);
	assert_int_equal(run_regex_match(re, "/tmp/x", 6), 0);
	assert_int_equal(run_regex_match(re, NULL, 0), 0);
	assert_int_equal(run_regex_limit_hits(re), 0);
	run_regex_free(re);
	assert_null(run_regex_free(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_re2_syntax),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_catastrophic_patterns_are_bounded),
		cmocka_unit_test(test_jit_is_used),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
