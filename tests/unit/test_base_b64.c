// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for base64 (base/b64.c): the RFC 4648 test vectors both ways, and
 * the strictness that keeps one text from having two readings: no stray
 * characters, padding only at the end and complete, no bits left over.
 */
#include "base/b64.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* RFC 4648 section 10 */
static const struct {
	const char *plain, *enc;
} vectors[] = {
	{"", ""},
	{"f", "Zg=="},
	{"fo", "Zm8="},
	{"foo", "Zm9v"},
	{"foob", "Zm9vYg=="},
	{"fooba", "Zm9vYmE="},
	{"foobar", "Zm9vYmFy"},
};

static void test_vectors(void **state)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		size_t plen = strlen(vectors[i].plain), len = 99;
		char *enc = NULL, *dec = NULL;

		assert_int_equal(base_b64_encode(vectors[i].plain, plen, &enc), 0);
		assert_string_equal(enc, vectors[i].enc);
		assert_int_equal(base_b64_decode(enc, strlen(enc), 0, &dec, &len, NULL, 0), 0);
		assert_int_equal(len, plen);
		assert_string_equal(dec, vectors[i].plain);
		free(enc);
		free(dec);
	}
}

static void test_binary(void **state)
{
	unsigned char all[256];
	char *enc = NULL, *dec = NULL;
	size_t len = 0;

	for (size_t i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)(255 - i);
	assert_int_equal(base_b64_encode(all, sizeof(all), &enc), 0);
	assert_int_equal(base_b64_decode(enc, strlen(enc), 0, &dec, &len, NULL, 0), 0);
	assert_int_equal(len, sizeof(all));
	assert_memory_equal(dec, all, sizeof(all));
	assert_int_equal(dec[len], '\0');
	free(enc);
	free(dec);
}

static void expect_ok(const char *in, unsigned int flags, const char *want)
{
	char *dec = NULL;
	size_t len = 0;

	assert_int_equal(base_b64_decode(in, strlen(in), flags, &dec, &len, NULL, 0), 0);
	assert_int_equal(len, strlen(want));
	assert_string_equal(dec, want);
	free(dec);
}

static void expect_bad(const char *in, unsigned int flags, const char *why)
{
	char *dec = (char *)"untouched", err[64] = "";
	size_t len = 7;

	assert_int_equal(base_b64_decode(in, strlen(in), flags, &dec, &len, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(dec, "untouched");
	assert_int_equal(len, 7);
	if (!strstr(err, why))
		fail_msg("\"%s\": \"%s\" does not say \"%s\"", in, err, why);
}

static void test_padding_optional(void **state)
{
	expect_ok("Zg", 0, "f");
	expect_ok("Zm8", 0, "fo");
	expect_ok("Zm9vYg", 0, "foob");
}

static void test_space(void **state)
{
	expect_ok("Zm9v\nYmFy\n", BASE_B64_SPACE, "foobar");
	expect_ok(" Zm 9v\tYg =\r\n= ", BASE_B64_SPACE, "foob");
	expect_bad("Zm9v\nYmFy", 0, "invalid character at offset 4");
}

static void test_strict(void **state)
{
	expect_bad("Zm9v!", 0, "invalid character at offset 4");
	expect_bad("Zm9v-_", 0, "invalid character at offset 4"); /* the URL alphabet */
	expect_bad("Zg==Zg==", 0, "'=' at offset 2 before the end");
	expect_bad("Z", 0, "one character too many");
	expect_bad("Zm9vY", 0, "one character too many");
	expect_bad("Zh==", 0, "stray bits"); /* 'h' leaves bits set past "f" */
	expect_bad("Zm9=", 0, "stray bits");
	expect_bad("Zg=", 0, "1 '=' where 2 belong");
	expect_bad("Zm8==", 0, "2 '=' where 1 belong");
	expect_bad("Zm9v=", 0, "1 '=' where 0 belong");
	expect_bad("Zg===", 0, "3 '='");
	expect_bad("=", 0, "1 '=' where 0 belong");
}

static void test_nul(void **state)
{
	char *dec = NULL;
	size_t len = 0;

	/* a NUL in the text is not base64; one in the data comes back */
	assert_int_equal(base_b64_decode("Zg\0=", 4, 0, &dec, &len, NULL, 0), -EINVAL);
	assert_int_equal(base_b64_decode("AGE=", 4, 0, &dec, &len, NULL, 0), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(dec, "\0a", 2);
	free(dec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),		 cmocka_unit_test(test_binary),
		cmocka_unit_test(test_padding_optional), cmocka_unit_test(test_space),
		cmocka_unit_test(test_strict),		 cmocka_unit_test(test_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
