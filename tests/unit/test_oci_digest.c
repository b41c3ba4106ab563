// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for oci/digest.c: the sha256 that names every blob of the store,
 * against the FIPS 180-4 example vectors, fed whole and in every split
 * around the block and padding boundaries, and a blob of 16 MiB checked
 * against sha256sum.
 */
#include "oci/digest.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void test_vectors(void **state)
{
	static const struct {
		const char *in;
		const char *hex;
	} v[] = {
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	};
	char out[OCI_DIGEST_SIZE];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(oci_digest_buf(v[i].in, strlen(v[i].in), out), 0);
		assert_string_equal(out + strlen(OCI_DIGEST_SHA256_PREFIX), v[i].hex);
		assert_true(oci_digest_is_sha256(out));
	}
}

static void test_million_a(void **state)
{
	struct oci_digest *d;
	char chunk[1000], out[OCI_DIGEST_SIZE];
	int i;

	memset(chunk, 'a', sizeof(chunk));
	assert_int_equal(oci_digest_new(&d), 0);
	for (i = 0; i < 1000; i++)
		assert_int_equal(oci_digest_update(d, chunk, sizeof(chunk)), 0);
	assert_int_equal(oci_digest_final(d, out), 0);
	assert_string_equal(out,
			    "sha256:"
			    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	/* finished: no more input, no second result */
	assert_int_equal(oci_digest_update(d, "x", 1), -EINVAL);
	assert_int_equal(oci_digest_final(d, out), -EINVAL);
	oci_digest_free(d);
}

/* Every split point of lengths around one and two blocks gives the one-shot digest. */
static void test_splits(void **state)
{
	unsigned char buf[200];
	size_t len, cut, i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 37 + 11);
	for (len = 50; len <= 140; len++) {
		char whole[OCI_DIGEST_SIZE];

		assert_int_equal(oci_digest_buf(buf, len, whole), 0);
		for (cut = 0; cut <= len; cut++) {
			struct oci_digest *d;
			char out[OCI_DIGEST_SIZE];

			assert_int_equal(oci_digest_new(&d), 0);
			assert_int_equal(oci_digest_update(d, buf, cut), 0);
			assert_int_equal(oci_digest_update(d, buf + cut, len - cut), 0);
			assert_int_equal(oci_digest_final(d, out), 0);
			assert_string_equal(out, whole);
			oci_digest_free(d);
		}
	}
}

/*
 * 16 MiB and a ragged tail, fed in uneven pieces.  The answer is
 * sha256sum's:
 *   python3 -c 'import sys; sys.stdout.buffer.write(bytes(i * 7 % 251
 *       for i in range(16777339)))' | sha256sum
 */
static void test_large_blob(void **state)
{
	const size_t n = (16u << 20) + 123;
	char whole[OCI_DIGEST_SIZE], out[OCI_DIGEST_SIZE];
	struct oci_digest *d;
	unsigned char *buf;
	size_t i, off, piece;

	buf = malloc(n);
	assert_non_null(buf);
	for (i = 0; i < n; i++)
		buf[i] = (unsigned char)(i * 7 % 251);
	assert_int_equal(oci_digest_buf(buf, n, whole), 0);
	assert_string_equal(whole,
			    "sha256:"
			    "8454d5eb8a34e513f3ce2c0d5da25ede90b25f2fc2bfe8383301a0e5805db958");
	assert_int_equal(oci_digest_new(&d), 0);
	for (off = 0, piece = 1; off < n; off += piece, piece = piece * 3 + 1) {
		if (piece > n - off)
			piece = n - off;
		assert_int_equal(oci_digest_update(d, buf + off, piece), 0);
	}
	assert_int_equal(oci_digest_final(d, out), 0);
	assert_string_equal(out, whole);
	oci_digest_free(d);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_million_a),
		cmocka_unit_test(test_splits),
		cmocka_unit_test(test_large_blob),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
