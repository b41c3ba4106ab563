// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the allow-list of gadget images (oci/allow.c): Inspektor
 * Gadget's three forms (tag, digest, prefix with a trailing '*'), compared
 * on canonical references so that spelling a name differently (no tag, the
 * default tag) neither escapes nor defeats a pattern.
 */
#include "oci/allow.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

static int match(const char *pattern, const char *image, const char *digest)
{
	const char *p[] = {pattern};

	return oci_allow_match(p, 1, image, digest);
}

static void test_forms(void **state)
{
	const char *none[1] = {NULL};

	/* no list: everything */
	assert_int_equal(oci_allow_match(none, 0, "anything:v1", NULL), OCI_ALLOW_YES);
	/* tags */
	assert_int_equal(
		match("localhost:5000/trace_exec:v1", "localhost:5000/trace_exec:v1", NULL),
		OCI_ALLOW_YES);
	assert_int_equal(
		match("localhost:5000/trace_exec:v1", "localhost:5000/trace_exec:v2", NULL),
		OCI_ALLOW_NO);
	assert_int_equal(match("trace_exec", "trace_exec:latest", NULL), OCI_ALLOW_YES);
	assert_int_equal(match("trace_exec:latest", "trace_exec", NULL), OCI_ALLOW_YES);
	assert_int_equal(match("trace_exec", "localhost:5000/trace_exec", NULL), OCI_ALLOW_NO);
	/* a tag pattern does not allow a digest reference of the same repository */
	assert_int_equal(match("trace_exec:v1", "trace_exec@" D1, NULL), OCI_ALLOW_NO);
	/* digests: by reference, or by what the tag resolved to */
	assert_int_equal(match("r.io/g@" D1, "r.io/g@" D1, NULL), OCI_ALLOW_YES);
	assert_int_equal(match("r.io/g@" D1, "r.io/g@" D2, NULL), OCI_ALLOW_NO);
	assert_int_equal(match("r.io/g@" D1, "r.io/g:v1", NULL), OCI_ALLOW_IF_DIGEST);
	assert_int_equal(match("r.io/g@" D1, "r.io/g:v1", D1), OCI_ALLOW_YES);
	assert_int_equal(match("r.io/g@" D1, "r.io/g:v1", D2), OCI_ALLOW_NO);
	assert_int_equal(match("r.io/g@" D1, "r.io/other:v1", NULL), OCI_ALLOW_NO);
	assert_int_equal(match("r.io/g:v1@" D1, "r.io/g:v2", D1), OCI_ALLOW_YES);
	/* prefixes, on the canonical text */
	assert_int_equal(match("ghcr.io/org/trace_*", "ghcr.io/org/trace_open:v1", NULL),
			 OCI_ALLOW_YES);
	assert_int_equal(match("ghcr.io/org/trace_*", "ghcr.io/org/top_file", NULL), OCI_ALLOW_NO);
	assert_int_equal(match("ghcr.io/org/*", "ghcr.io/orgevil/x", NULL), OCI_ALLOW_NO);
	assert_int_equal(match("*", "anything", NULL), OCI_ALLOW_YES);
	/* not a reference */
	assert_int_equal(match("x", "Not A Ref", NULL), -EINVAL);
}

static void test_several(void **state)
{
	const char *p[] = {"r.io/a:v1", "r.io/b@" D1, "r.io/c/*"};

	assert_int_equal(oci_allow_match(p, 3, "r.io/a:v1", NULL), OCI_ALLOW_YES);
	assert_int_equal(oci_allow_match(p, 3, "r.io/b:latest", NULL), OCI_ALLOW_IF_DIGEST);
	assert_int_equal(oci_allow_match(p, 3, "r.io/c/x:y", NULL), OCI_ALLOW_YES);
	assert_int_equal(oci_allow_match(p, 3, "r.io/d:v1", NULL), OCI_ALLOW_NO);
}

static void test_patterns(void **state)
{
	char err[128];

	assert_int_equal(oci_allow_check_pattern("ghcr.io/org/*", err, sizeof(err)), 0);
	assert_int_equal(oci_allow_check_pattern("trace_exec", err, sizeof(err)), 0);
	assert_int_equal(oci_allow_check_pattern("r.io/g@" D1, err, sizeof(err)), 0);
	assert_int_equal(oci_allow_check_pattern("ghcr.io/*/x", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "'*' is only allowed at the end");
	assert_int_equal(oci_allow_check_pattern("", err, sizeof(err)), -EINVAL);
	assert_int_equal(oci_allow_check_pattern("Bad Name", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "not an image reference, and no '*' at the end");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_several),
		cmocka_unit_test(test_patterns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
