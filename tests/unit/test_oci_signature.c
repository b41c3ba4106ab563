// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for signing and verifying images in a local store
 * (oci/signature.c), without a registry: the registry paths run against
 * docker-registry in tests/integration/test_signing.py.
 *
 * What a user of ig or the agent must be able to rely on: an image signed
 * with a key verifies with its public key and with no other; a signature
 * moved to another image (same manifest under another digest's tag) is
 * refused as being for another image; a missing signature says so; signing
 * again with the same key replaces that key's signature, another key adds
 * one.
 */
#include "oci/signature.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "oci/cosign.h"
#include "oci/digest.h"
#include "oci/key.h"
#include "oci/store.h"

#define SIGN_DIR TEST_DATA_DIR "/oci/sign/"
#define NAME	 "localhost:5000/trace_open"

static char tmp_root[64];
static char err[OCI_SIGNATURE_ERRLEN];

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	snprintf(tmp_root, sizeof(tmp_root), "/tmp/test-oci-signature-XXXXXX");
	return mkdtemp(tmp_root) ? 0 : -1;
}

static int teardown(void **state)
{
	nftw(tmp_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* A store holding a stand-in "image" blob; its digest in digest. */
static struct oci_store *store_with_image(const char *content, char digest[OCI_DIGEST_SIZE])
{
	struct oci_store *s = NULL;

	assert_int_equal(oci_store_open(tmp_root, &s), 0);
	assert_int_equal(oci_store_put_blob(s, content, strlen(content), NULL, digest), 0);
	return s;
}

static struct oci_key *private_key(const char *name)
{
	struct oci_key *k = NULL;
	char path[512];

	snprintf(path, sizeof(path), SIGN_DIR "%s", name);
	assert_int_equal(oci_key_load_private(path, &k, err, sizeof(err)), 0);
	return k;
}

static struct oci_key_set *public_keys(const char *text)
{
	struct oci_key_set *ks = NULL;

	assert_int_equal(oci_key_set_new(&ks), 0);
	assert_int_equal(oci_key_set_add(ks, text, err, sizeof(err)), 0);
	return ks;
}

/* Signatures in the manifest the store keeps for digest. */
static size_t count_signatures(struct oci_store *s, const char *digest)
{
	struct oci_store_image *images = NULL;
	struct oci_cosign_sigs sigs = {0};
	char *ref = NULL;
	void *buf = NULL;
	size_t n = 0, len = 0, count = 0;

	assert_int_equal(oci_signature_ref(NAME, digest, &ref), 0);
	assert_int_equal(oci_store_list(s, &images, &n), 0);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(images[i].ref, ref))
			continue;
		assert_int_equal(oci_store_get_blob(s, images[i].digest, 1 << 20, &buf, &len), 0);
		assert_int_equal(oci_cosign_manifest_parse(buf, len, &sigs, err, sizeof(err)), 0);
		count = sigs.n;
		oci_cosign_sigs_done(&sigs);
		free(buf);
	}
	oci_store_images_free(images, n);
	free(ref);
	return count;
}

static void test_sign_verify(void **state)
{
	char digest[OCI_DIGEST_SIZE];
	struct oci_store *s = store_with_image("{\"image\":1}", digest);
	struct oci_key *k = private_key("ec.key");
	struct oci_key_set *good = public_keys(SIGN_DIR "ec.pub");
	struct oci_key_set *other = public_keys(SIGN_DIR "ec2.pub");
	struct oci_key_set *both = public_keys(SIGN_DIR "ec2.pub," SIGN_DIR "ec.pub");
	char *ref = NULL, want[256];
	size_t key = 99;

	/* nothing signed yet */
	assert_int_equal(oci_signature_verify(s, NULL, NAME, digest, good, NULL, err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "no signature found (looked in the local store)");

	assert_int_equal(oci_signature_sign(s, NAME, digest, k, &ref, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), NAME ":sha256-%s.sig", oci_digest_hex(digest));
	assert_string_equal(ref, want);
	assert_int_equal(oci_store_has_ref(s, ref), 1);

	assert_int_equal(oci_signature_verify(s, NULL, NAME, digest, good, &key, err, sizeof(err)),
			 0);
	assert_int_equal(key, 0);
	assert_int_equal(oci_signature_verify(s, NULL, NAME, digest, both, &key, err, sizeof(err)),
			 0);
	assert_int_equal(key, 1);
	assert_int_equal(oci_signature_verify(s, NULL, NAME, digest, other, NULL, err, sizeof(err)),
			 -EKEYREJECTED);
	assert_string_equal(err, "it is not signed by the public key (ECDSA P-256)");

	free(ref);
	oci_key_set_free(good);
	oci_key_set_free(other);
	oci_key_set_free(both);
	oci_key_free(k);
	oci_store_free(s);
}

/* The signature manifest of image A tagged as the signature of image B. */
static void test_signature_for_another_image(void **state)
{
	char a[OCI_DIGEST_SIZE], b[OCI_DIGEST_SIZE], sigman[OCI_DIGEST_SIZE];
	struct oci_store *s = store_with_image("{\"image\":\"a\"}", a);
	struct oci_key *k = private_key("rsa.key");
	struct oci_key_set *ks = public_keys(SIGN_DIR "rsa.pub");
	struct oci_store_image *images = NULL;
	char *ref_a = NULL, *ref_b = NULL;
	size_t n = 0;

	assert_int_equal(oci_store_put_blob(s, "{\"image\":\"b\"}", 13, NULL, b), 0);
	assert_int_equal(oci_signature_sign(s, NAME, a, k, &ref_a, err, sizeof(err)), 0);
	assert_int_equal(oci_store_list(s, &images, &n), 0);
	assert_int_equal(n, 1);
	snprintf(sigman, sizeof(sigman), "%s", images[0].digest);
	oci_store_images_free(images, n);
	assert_int_equal(oci_signature_ref(NAME, b, &ref_b), 0);
	assert_int_equal(oci_store_tag(s, ref_b, sigman), 0);

	assert_int_equal(oci_signature_verify(s, NULL, NAME, b, ks, NULL, err, sizeof(err)),
			 -EKEYREJECTED);
	assert_non_null(strstr(err, "public key 1 signed a payload that does not match: the "
				    "signature is for another image"));
	assert_non_null(strstr(err, a));
	assert_int_equal(oci_signature_verify(s, NULL, NAME, a, ks, NULL, err, sizeof(err)), 0);
	free(ref_a);
	free(ref_b);
	oci_key_set_free(ks);
	oci_key_free(k);
	oci_store_free(s);
}

static void test_resign(void **state)
{
	char digest[OCI_DIGEST_SIZE];
	struct oci_store *s = store_with_image("{\"image\":2}", digest);
	struct oci_key *k1 = private_key("ec.key"), *k2 = private_key("ed25519.key");
	struct oci_key_set *ks1 = public_keys(SIGN_DIR "ec.pub");
	struct oci_key_set *ks2 = public_keys(SIGN_DIR "ed25519.pub");

	assert_int_equal(oci_signature_sign(s, NAME, digest, k1, NULL, err, sizeof(err)), 0);
	assert_int_equal(oci_signature_sign(s, NAME, digest, k1, NULL, err, sizeof(err)), 0);
	assert_int_equal(count_signatures(s, digest), 1);
	assert_int_equal(oci_signature_sign(s, NAME, digest, k2, NULL, err, sizeof(err)), 0);
	assert_int_equal(count_signatures(s, digest), 2);
	assert_int_equal(oci_signature_verify(s, NULL, NAME, digest, ks1, NULL, err, sizeof(err)),
			 0);
	assert_int_equal(oci_signature_verify(s, NULL, NAME, digest, ks2, NULL, err, sizeof(err)),
			 0);
	/* removing the signature leaves the store consistent */
	assert_true(oci_store_gc(s) >= 0);
	oci_key_set_free(ks1);
	oci_key_set_free(ks2);
	oci_key_free(k1);
	oci_key_free(k2);
	oci_store_free(s);
}

static void test_sign_missing_image(void **state)
{
	struct oci_store *s = NULL;
	struct oci_key *k = private_key("ec.key");

	assert_int_equal(oci_store_open(tmp_root, &s), 0);
	assert_int_equal(oci_signature_sign(s, NAME,
					    "sha256:0000000000000000000000000000000000000000000000"
					    "000000000000000000",
					    k, NULL, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "is not in the store"));
	oci_key_free(k);
	oci_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sign_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signature_for_another_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_missing_image, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
