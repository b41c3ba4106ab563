// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for signing keys (oci/key.c).
 *
 * The keys and signatures under tests/data/oci/sign were made with the
 * openssl CLI, so a signature that verifies here was made by another
 * implementation.  Keys are given the ways users give them: PEM text,
 * several joined by commas as Inspektor Gadget's --public-keys takes them,
 * and file names; the mistakes users make (a private key where the public
 * one belongs, a weak or unusual key, two file names) are refused with the
 * reason, and a refused text adds nothing.
 */
#include "oci/key.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/file.h"

#define SIGN_DIR TEST_DATA_DIR "/oci/sign/"

static char err[OCI_KEY_ERRLEN];

static char *slurp(const char *name, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;

	assert_int_equal(base_file_read(name, 1 << 20, &buf, &n), 0);
	if (len)
		*len = n;
	return buf;
}

static char *data(const char *name, size_t *len)
{
	char path[512];

	snprintf(path, sizeof(path), SIGN_DIR "%s", name);
	return slurp(path, len);
}

static struct oci_key_set *set_of(const char *text)
{
	struct oci_key_set *ks = NULL;

	assert_int_equal(oci_key_set_new(&ks), 0);
	assert_int_equal(oci_key_set_add(ks, text, err, sizeof(err)), 0);
	return ks;
}

static void test_one_key_each_kind(void **state)
{
	static const struct {
		const char *pub, *desc;
	} kinds[] = {
		{"ec.pub", "ECDSA P-256"},
		{"rsa.pub", "RSA 2048"},
		{"ed25519.pub", "Ed25519"},
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		char *pem = data(kinds[i].pub, NULL);
		struct oci_key_set *ks = set_of(pem);

		assert_int_equal(oci_key_set_count(ks), 1);
		assert_string_equal(oci_key_set_describe(ks, 0), kinds[i].desc);
		oci_key_set_free(ks);
		free(pem);
	}
}

/* --public-keys="$(cat ec.pub),$(cat rsa.pub),$(cat ed25519.pub)" and the signatures of each */
static void test_comma_list_and_verify(void **state)
{
	char *ec = data("ec.pub", NULL), *rsa = data("rsa.pub", NULL),
	     *ed = data("ed25519.pub", NULL);
	size_t plen, elen, rlen, dlen;
	char *payload = data("payload.json", &plen), *esig = data("payload.ec.sig", &elen),
	     *rsig = data("payload.rsa.sig", &rlen), *dsig = data("payload.ed25519.sig", &dlen);
	struct oci_key_set *ks;
	char *text;

	/* $(cat) strips the trailing newline; a comma and a newline both separate */
	ec[strlen(ec) - 1] = '\0';
	assert_true(asprintf(&text, "%s,%s,\n%s", ec, rsa, ed) > 0);
	ks = set_of(text);
	assert_int_equal(oci_key_set_count(ks), 3);
	assert_int_equal(oci_key_set_verify(ks, esig, elen, payload, plen), 0);
	assert_int_equal(oci_key_set_verify(ks, rsig, rlen, payload, plen), 1);
	assert_int_equal(oci_key_set_verify(ks, dsig, dlen, payload, plen), 2);
	/* one byte of the payload changed: no key verifies it */
	payload[10] ^= 1;
	assert_int_equal(oci_key_set_verify(ks, esig, elen, payload, plen), -EKEYREJECTED);
	assert_int_equal(oci_key_set_verify(ks, rsig, rlen, payload, plen), -EKEYREJECTED);
	assert_int_equal(oci_key_set_verify(ks, dsig, dlen, payload, plen), -EKEYREJECTED);
	payload[10] ^= 1;
	/* a damaged or empty signature */
	esig[elen - 1] ^= 0x55;
	assert_int_equal(oci_key_set_verify(ks, esig, elen, payload, plen), -EKEYREJECTED);
	assert_int_equal(oci_key_set_verify(ks, esig, 0, payload, plen), -EKEYREJECTED);
	oci_key_set_free(ks);
	free(text);
	free(ec);
	free(rsa);
	free(ed);
	free(payload);
	free(esig);
	free(rsig);
	free(dsig);
}

static void test_other_key_rejects(void **state)
{
	char *ec2 = data("ec2.pub", NULL);
	size_t plen, elen;
	char *payload = data("payload.json", &plen), *esig = data("payload.ec.sig", &elen);
	struct oci_key_set *ks = set_of(ec2);

	assert_int_equal(oci_key_set_verify(ks, esig, elen, payload, plen), -EKEYREJECTED);
	oci_key_set_free(ks);
	free(ec2);
	free(payload);
	free(esig);
}

static void test_file_names(void **state)
{
	struct oci_key_set *ks = set_of(SIGN_DIR "ec.pub, " SIGN_DIR "rsa.pub");

	assert_int_equal(oci_key_set_count(ks), 2);
	/* a second call adds to the set */
	assert_int_equal(oci_key_set_add(ks, SIGN_DIR "ed25519.pub", err, sizeof(err)), 0);
	assert_int_equal(oci_key_set_count(ks), 3);
	oci_key_set_free(ks);
}

static void expect_refused(const char *text, int code, const char *needle)
{
	struct oci_key_set *ks = NULL;
	char *ec = data("ec.pub", NULL);

	assert_int_equal(oci_key_set_new(&ks), 0);
	assert_int_equal(oci_key_set_add(ks, ec, err, sizeof(err)), 0);
	err[0] = '\0';
	assert_int_equal(oci_key_set_add(ks, text, err, sizeof(err)), code);
	if (!strstr(err, needle))
		fail_msg("'%s' does not say '%s'", err, needle);
	assert_null(strchr(err, '\n'));
	/* nothing of a refused text was added */
	assert_int_equal(oci_key_set_count(ks), 1);
	oci_key_set_free(ks);
	free(ec);
}

static void test_refused(void **state)
{
	char *priv = data("ec.key", NULL), *ec2 = data("ec2.pub", NULL), *text;

	expect_refused(priv, -EINVAL, "a private key, where the public key belongs");
	expect_refused(SIGN_DIR "rsa1024.pub", -EINVAL, "1024 bits is too weak");
	expect_refused(SIGN_DIR "secp256k1.pub", -EINVAL, "secp256k1 is not one cosign uses");
	expect_refused("", -EINVAL, "no public key given");
	expect_refused(" , ,\n", -EINVAL, "no public key given");
	expect_refused("/nonexistent/key.pub", -EINVAL, "/nonexistent/key.pub: No such file");
	expect_refused("/dev/null", -EINVAL, "not a regular file");
	expect_refused("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", -EINVAL,
		       "public key 1: an unreadable public key");
	expect_refused("-----BEGIN PUBLIC KEY-----\nAAAA\n", -EINVAL, "without its END line");
	expect_refused("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", -EINVAL,
		       "a PEM \"CERTIFICATE\" block");
	/* text around a good key is not skipped over */
	assert_true(asprintf(&text, "%sgarbage", ec2) > 0);
	expect_refused(text, -EINVAL, "public key 1: not a PEM public key");
	free(text);
	/* the second of two items is bad: the first is not kept either */
	assert_true(asprintf(&text, "%s,%s", ec2, priv) > 0);
	expect_refused(text, -EINVAL, "public key 2: a private key");
	free(text);
	free(priv);
	free(ec2);
}

static void test_limits(void **state)
{
	struct oci_key_set *ks = NULL;
	char *ec = data("ec.pub", NULL), *big;
	size_t len = strlen(ec), n = OCI_KEY_MAX_KEYS + 1;

	big = calloc(n, len + 1);
	assert_non_null(big);
	for (size_t i = 0; i < n; i++) {
		memcpy(big + i * (len + 1), ec, len);
		big[i * (len + 1) + len] = i + 1 < n ? ',' : '\0';
	}
	assert_int_equal(oci_key_set_new(&ks), 0);
	assert_int_equal(oci_key_set_add(ks, big, err, sizeof(err)), -E2BIG);
	assert_int_equal(oci_key_set_count(ks), 0);
	free(big);

	big = malloc(OCI_KEY_MAX_TEXT + 2);
	memset(big, ' ', OCI_KEY_MAX_TEXT + 1);
	big[OCI_KEY_MAX_TEXT + 1] = '\0';
	assert_int_equal(oci_key_set_add(ks, big, err, sizeof(err)), -E2BIG);
	free(big);
	oci_key_set_free(ks);
	free(ec);
}

static void test_sign_and_verify(void **state)
{
	static const char *const keys[][2] = {
		{"ec.key", "ec.pub"},
		{"ec-sec1.key", NULL},
		{"rsa.key", "rsa.pub"},
		{"ed25519.key", "ed25519.pub"},
	};
	const char msg[] = "the payload";

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct oci_key *k = NULL;
		unsigned char *sig = NULL;
		size_t sig_len = 0;
		char path[512];

		snprintf(path, sizeof(path), SIGN_DIR "%s", keys[i][0]);
		assert_int_equal(oci_key_load_private(path, &k, err, sizeof(err)), 0);
		assert_int_equal(oci_key_sign(k, msg, sizeof(msg), &sig, &sig_len), 0);
		assert_int_equal(oci_key_verify(k, sig, sig_len, msg, sizeof(msg)), 0);
		assert_int_equal(oci_key_verify(k, sig, sig_len, msg, sizeof(msg) - 1),
				 -EKEYREJECTED);
		if (keys[i][1]) {
			struct oci_key_set *ks = NULL;

			snprintf(path, sizeof(path), SIGN_DIR "%s", keys[i][1]);
			ks = set_of(path);
			assert_int_equal(oci_key_set_verify(ks, sig, sig_len, msg, sizeof(msg)), 0);
			oci_key_set_free(ks);
		}
		free(sig);
		oci_key_free(k);
	}
}

static void test_private_refused(void **state)
{
	struct oci_key *k = NULL;

	assert_int_equal(oci_key_load_private(SIGN_DIR "ec.pub", &k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a private key"));
	assert_int_equal(oci_key_load_private(SIGN_DIR "nonexistent.key", &k, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "nonexistent.key"));
	assert_null(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_key_each_kind),
		cmocka_unit_test(test_comma_list_and_verify),
		cmocka_unit_test(test_other_key_rejects),
		cmocka_unit_test(test_file_names),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_sign_and_verify),
		cmocka_unit_test(test_private_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
