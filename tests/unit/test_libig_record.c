// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for libig's records (libig/record.c): the typed accessors of
 * <ig/record.h> on JSON lines as the pipeline writes them, and the scanner
 * under them on JSON that is broken, deep or otherwise hostile.
 */
#include "libig/record.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <ig/record.h>

static const char line[] =
	"{\"k8s\":{\"node\":\"n1\",\"podLabels\":\"\"},\"timestamp\":\"2024-01-02T03:04:05Z\","
	"\"proc\":{\"comm\":\"cat\",\"pid\":4242,\"creds\":{\"uid\":0,\"user\":\"root\"}},"
	"\"error\":\"ENOENT\",\"error_raw\":2,\"neg\":-17,\"big\":18446744073709551615,"
	"\"ratio\":0.25,\"ok\":true,\"no\":false,\"none\":null,\"fname\":\"/tmp/a \\\"b\\\"\\\\c\","
	"\"uni\":\"caf\\u00e9 \\ud83d\\ude00\",\"arr\":[1,{\"x\":[2,3]},\"]\"],\"obj\":{}}";

static void set(struct ig_record *r, const char *json)
{
	libig_record_set(r, json, strlen(json), "open", 0);
}

static void test_typed_accessors(void **state)
{
	struct ig_record r = {0};
	const char *s;
	size_t len;
	uint64_t u;
	int64_t i;
	double d;
	bool b;

	set(&r, line);
	assert_int_equal(ig_record_get_str(&r, "proc.comm", &s, &len), 0);
	assert_string_equal(s, "cat");
	assert_int_equal(len, 3);
	assert_int_equal(ig_record_get_uint(&r, "proc.pid", &u), 0);
	assert_int_equal(u, 4242);
	assert_int_equal(ig_record_get_str(&r, "proc.creds.user", &s, NULL), 0);
	assert_string_equal(s, "root");
	assert_int_equal(ig_record_get_str(&r, "k8s.node", &s, NULL), 0);
	assert_string_equal(s, "n1");
	assert_int_equal(ig_record_get_str(&r, "error", &s, NULL), 0);
	assert_string_equal(s, "ENOENT");
	assert_int_equal(ig_record_get_int(&r, "error_raw", &i), 0);
	assert_int_equal(i, 2);
	assert_int_equal(ig_record_get_int(&r, "neg", &i), 0);
	assert_int_equal(i, -17);
	assert_int_equal(ig_record_get_uint(&r, "big", &u), 0);
	assert_true(u == UINT64_MAX);
	assert_int_equal(ig_record_get_double(&r, "ratio", &d), 0);
	assert_true(d == 0.25);
	assert_int_equal(ig_record_get_bool(&r, "ok", &b), 0);
	assert_true(b);
	assert_int_equal(ig_record_get_bool(&r, "no", &b), 0);
	assert_false(b);
	/* escapes come out unescaped, UTF-16 surrogates as one code point */
	assert_int_equal(ig_record_get_str(&r, "fname", &s, NULL), 0);
	assert_string_equal(s, "/tmp/a \"b\"\\c");
	assert_int_equal(ig_record_get_str(&r, "uni", &s, NULL), 0);
	assert_string_equal(s, "caf\xc3\xa9 \xf0\x9f\x98\x80");
	/* a value of any kind, as JSON; skipping it found what follows */
	assert_int_equal(ig_record_get_json(&r, "arr", &s, &len), 0);
	assert_int_equal(len, strlen("[1,{\"x\":[2,3]},\"]\"]"));
	assert_memory_equal(s, "[1,{\"x\":[2,3]},\"]\"]", len);
	assert_int_equal(ig_record_get_json(&r, "obj", &s, &len), 0);
	assert_int_equal(len, 2);
	libig_record_done(&r);
}

static void test_missing_and_mistyped(void **state)
{
	struct ig_record r = {0};
	const char *s;
	uint64_t u;
	int64_t i;
	bool b;

	set(&r, line);
	assert_int_equal(ig_record_get_str(&r, "proc.nope", &s, NULL), -ENOENT);
	assert_int_equal(ig_record_get_str(&r, "nope", &s, NULL), -ENOENT);
	/* a path through something that is not an object */
	assert_int_equal(ig_record_get_str(&r, "error.x", &s, NULL), -ENOENT);
	assert_int_equal(ig_record_get_str(&r, "proc.", &s, NULL), -ENOENT);
	assert_int_equal(ig_record_get_str(&r, "", &s, NULL), -ENOENT);
	/* null is no value */
	assert_int_equal(ig_record_get_str(&r, "none", &s, NULL), -ENOENT);
	/* types */
	assert_int_equal(ig_record_get_uint(&r, "proc.comm", &u), -EINVAL);
	assert_int_equal(ig_record_get_str(&r, "proc.pid", &s, NULL), -EINVAL);
	assert_int_equal(ig_record_get_bool(&r, "proc.pid", &b), -EINVAL);
	assert_int_equal(ig_record_get_int(&r, "ratio", &i), -EINVAL);
	assert_int_equal(ig_record_get_uint(&r, "proc", &u), -EINVAL);
	/* ranges */
	assert_int_equal(ig_record_get_uint(&r, "neg", &u), -ERANGE);
	assert_int_equal(ig_record_get_int(&r, "big", &i), -ERANGE);
	libig_record_done(&r);
}

static void test_record_metadata(void **state)
{
	struct ig_record r = {0};
	size_t len;

	libig_record_set(&r, line, strlen(line), "files", 7);
	assert_string_equal(ig_record_ds(&r), "files");
	assert_int_equal(ig_record_fetch(&r), 7);
	assert_ptr_equal(ig_record_json(&r, &len), line);
	assert_int_equal(len, strlen(line));
	libig_record_done(&r);
}

/* Strings handed out stay valid until the record changes. */
static void test_strings_live_until_the_next_record(void **state)
{
	struct ig_record r = {0};
	const char *a, *b;

	set(&r, line);
	assert_int_equal(ig_record_get_str(&r, "proc.comm", &a, NULL), 0);
	assert_int_equal(ig_record_get_str(&r, "error", &b, NULL), 0);
	assert_string_equal(a, "cat");
	assert_string_equal(b, "ENOENT");
	set(&r, "{\"proc\":{\"comm\":\"ls\"}}");
	assert_int_equal(ig_record_get_str(&r, "proc.comm", &a, NULL), 0);
	assert_string_equal(a, "ls");
	libig_record_done(&r);
}

static void expect_find(const char *json, const char *path, int want)
{
	const char *v;
	size_t len;

	assert_int_equal(libig_record_find(json, strlen(json), path, &v, &len), want);
}

static void test_broken_json(void **state)
{
	char deep[4096];
	size_t i, n = 0;

	expect_find("", "a", -ENOENT);
	expect_find("[]", "a", -ENOENT);
	expect_find("{\"a\"", "a", -EINVAL);
	expect_find("{\"a\":", "a", -EINVAL);
	expect_find("{\"a\":\"x", "a", -EINVAL);
	expect_find("{\"b\":1,", "a", -EINVAL);
	expect_find("{\"b\":1 \"a\":2}", "a", -EINVAL);
	expect_find("{\"b\":[1,2,\"a\":3]}", "a", -EINVAL);
	expect_find("{\"b\"1}", "a", -EINVAL);
	expect_find("{\"a\":\"\x01\"}", "a", -EINVAL);
	/* a string's escape at the very end does not run past it */
	expect_find("{\"b\":\"\\", "a", -EINVAL);
	/* the value found must itself be whole */
	expect_find("{\"a\":[1,2", "a", -EINVAL);
	/* members after the one found are not looked at */
	expect_find("{\"a\":1,garbage", "a", 0);

	/* nesting deeper than the bound is refused, not followed */
	n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{\"b\":1,\"x\":");
	for (i = 0; i < LIBIG_RECORD_MAX_DEPTH + 10; i++)
		deep[n++] = '[';
	for (i = 0; i < LIBIG_RECORD_MAX_DEPTH + 10; i++)
		deep[n++] = ']';
	n += (size_t)snprintf(deep + n, sizeof(deep) - n, ",\"a\":1}");
	expect_find(deep, "a", -EINVAL);
	expect_find(deep, "b", 0);
}

static void test_unescape(void **state)
{
	char out[64];
	size_t n;

	assert_int_equal(libig_record_unescape("\"a\\nb\\t\\/\"", 10, out, &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "a\nb\t/", 5);
	/* a NUL in the middle is kept, with its length */
	assert_int_equal(libig_record_unescape("\"a\\u0000b\"", 10, out, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "a\0b", 3);
	/* a lone surrogate becomes U+FFFD */
	assert_int_equal(libig_record_unescape("\"\\ud800\"", 8, out, &n), 0);
	assert_memory_equal(out, "\xef\xbf\xbd", 3);
	assert_int_equal(libig_record_unescape("\"\\x\"", 4, out, &n), -EINVAL);
	assert_int_equal(libig_record_unescape("\"\\u12\"", 6, out, &n), -EINVAL);
	assert_int_equal(libig_record_unescape("\"\\", 2, out, &n), -EINVAL);
	assert_int_equal(libig_record_unescape("x", 1, out, &n), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_typed_accessors),
		cmocka_unit_test(test_missing_and_mistyped),
		cmocka_unit_test(test_record_metadata),
		cmocka_unit_test(test_strings_live_until_the_next_record),
		cmocka_unit_test(test_broken_json),
		cmocka_unit_test(test_unescape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
