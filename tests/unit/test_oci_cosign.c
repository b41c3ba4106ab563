// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for cosign's signature formats (oci/cosign.c).
 *
 * The payload must come out byte for byte as cosign writes it (a signature
 * covers those bytes), the manifests as go-containerregistry serializes
 * them, and what a registry hands back is parsed strictly: a payload that
 * names another image, another type, or says two things at once (duplicate
 * keys) is refused.
 */
#include "oci/cosign.h"

#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/file.h"

#define SIGN_DIR TEST_DATA_DIR "/oci/sign/"
#define DIGEST_A "sha256:9d14a7c385a997c101525dfa73e53dcecf8743c9b473fa58bd9cb456b519c783"
#define DIGEST_B "sha256:0000000000000000000000000000000000000000000000000000000000000001"

static char err[512];

static char *data(const char *name, size_t *len)
{
	char path[512], *buf = NULL;
	size_t n = 0;

	snprintf(path, sizeof(path), SIGN_DIR "%s", name);
	assert_int_equal(base_file_read(path, 1 << 20, &buf, &n), 0);
	if (len)
		*len = n;
	return buf;
}

static void test_tags(void **state)
{
	char t[OCI_COSIGN_TAG_SIZE];

	assert_int_equal(oci_cosign_sig_tag(DIGEST_A, t), 0);
	assert_string_equal(
		t, "sha256-9d14a7c385a997c101525dfa73e53dcecf8743c9b473fa58bd9cb456b519c783.sig");
	assert_int_equal(oci_cosign_referrers_tag(DIGEST_A, t), 0);
	assert_string_equal(
		t, "sha256-9d14a7c385a997c101525dfa73e53dcecf8743c9b473fa58bd9cb456b519c783");
	assert_int_equal(oci_cosign_sig_tag("sha512:abcd", t), -EINVAL);
	assert_int_equal(oci_cosign_sig_tag("sha256:ABCD", t), -EINVAL);
}

/* the bytes openssl signed in tests/data/oci/sign were written as cosign writes them */
static void test_payload_bytes(void **state)
{
	size_t want_len, len = 0;
	char *want = data("payload.json", &want_len), *p = NULL;

	assert_int_equal(oci_cosign_payload_new("localhost:5000/trace_open", DIGEST_A, &p, &len),
			 0);
	assert_int_equal(len, want_len);
	assert_memory_equal(p, want, len);
	assert_int_equal(oci_cosign_payload_check(p, len, DIGEST_A, err, sizeof(err)), 0);
	free(p);
	free(want);
	assert_int_equal(oci_cosign_payload_new("", DIGEST_A, &p, &len), -EINVAL);
	assert_int_equal(oci_cosign_payload_new("x", "sha256:12", &p, &len), -EINVAL);
}

static void expect_payload(const char *text, int code, const char *needle)
{
	err[0] = '\0';
	assert_int_equal(oci_cosign_payload_check(text, strlen(text), DIGEST_A, err, sizeof(err)),
			 code);
	if (needle && !strstr(err, needle))
		fail_msg("'%s' does not say '%s'", err, needle);
}

static void test_payload_check(void **state)
{
	char *big;

	/* cosign adds annotations under optional, and the identity is not checked */
	expect_payload("{\"critical\":{\"identity\":{\"docker-reference\":\"elsewhere/x\"},"
		       "\"image\":{\"docker-manifest-digest\":\"" DIGEST_A "\"},"
		       "\"type\":\"cosign container image signature\"},"
		       "\"optional\":{\"creator\":\"me\"}}",
		       0, NULL);
	expect_payload("{\"critical\":{\"image\":{\"docker-manifest-digest\":\"" DIGEST_B "\"},"
		       "\"type\":\"cosign container image signature\"}}",
		       -EBADMSG, "for another image (" DIGEST_B ")");
	expect_payload("{\"critical\":{\"image\":{\"docker-manifest-digest\":\"" DIGEST_A "\"},"
		       "\"type\":\"atomic container signature\"}}",
		       -EINVAL, "not a cosign container image signature");
	expect_payload("{\"critical\":{\"type\":\"cosign container image signature\"}}", -EINVAL,
		       "names no image digest");
	expect_payload("{\"critical\":{\"image\":{\"docker-manifest-digest\":\"sha256:AB\"},"
		       "\"type\":\"cosign container image signature\"}}",
		       -EINVAL, "names no image digest");
	/* two digests in one payload: which one was signed would depend on the reader */
	expect_payload("{\"critical\":{\"image\":{\"docker-manifest-digest\":\"" DIGEST_B "\","
		       "\"docker-manifest-digest\":\"" DIGEST_A "\"},"
		       "\"type\":\"cosign container image signature\"}}",
		       -EINVAL, "not valid JSON");
	expect_payload("[1,2]", -EINVAL, "not a JSON object");
	expect_payload("{\"optional\":null}", -EINVAL, "no \"critical\" section");
	expect_payload("", -EINVAL, "not valid JSON");
	big = calloc(1, OCI_COSIGN_MAX_PAYLOAD + 2);
	memset(big, ' ', OCI_COSIGN_MAX_PAYLOAD + 1);
	expect_payload(big, -EFBIG, "larger than");
	free(big);
}

/* a signature manifest as cosign pushes it under sha256-<hex>.sig */
#define LEGACY_MANIFEST                                                                            \
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","       \
	"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":233,"     \
	"\"digest\":\"sha256:" HEX1 "\"},\"layers\":[{\"mediaType\":"                              \
	"\"application/vnd.dev.cosign.simplesigning.v1+json\",\"size\":241,\"digest\":"            \
	"\"sha256:" HEX2 "\",\"annotations\":{\"dev.cosignproject.cosign/signature\":\"" SIG       \
	"\"}}]}"
#define HEX1 "1111111111111111111111111111111111111111111111111111111111111111"
#define HEX2 "2222222222222222222222222222222222222222222222222222222222222222"
#define SIG                                                                                        \
	"MEUCIQDkmR8Ej9Gq0jz2q3KUPjG1XUXA7Dg4nCfl3CzcFwJ2mgIgUl7oE6Dm3pxl4F6n13Fp3eDgmgJkSg1yZVCO" \
	"8"                                                                                        \
	"nbEufE="

static void test_manifest_parse(void **state)
{
	struct oci_cosign_sigs s = {0};

	assert_int_equal(oci_cosign_manifest_parse(LEGACY_MANIFEST, strlen(LEGACY_MANIFEST), &s,
						   err, sizeof(err)),
			 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.n_layers, 1);
	assert_string_equal(s.v[0].payload_digest, "sha256:" HEX2);
	assert_int_equal(s.v[0].payload_size, 241);
	assert_int_equal(s.v[0].signature_len, 71);
	assert_int_equal(s.v[0].signature[0], 0x30); /* a DER SEQUENCE */
	oci_cosign_sigs_done(&s);
}

static void expect_manifest(const char *text, int code, const char *needle)
{
	struct oci_cosign_sigs s = {0};

	err[0] = '\0';
	assert_int_equal(oci_cosign_manifest_parse(text, strlen(text), &s, err, sizeof(err)), code);
	if (needle && !strstr(err, needle))
		fail_msg("'%s' does not say '%s'", err, needle);
	oci_cosign_sigs_done(&s);
}

#define LAYER(mt, size, digest, ann)                                                               \
	"{\"mediaType\":\"" mt "\",\"size\":" #size ",\"digest\":\"" digest                        \
	"\",\"annotations\":{" ann "}}"
#define SSIG	    "application/vnd.dev.cosign.simplesigning.v1+json"
#define MAN(layers) "{\"schemaVersion\":2,\"layers\":[" layers "]}"

static void test_manifest_bad(void **state)
{
	expect_manifest(MAN(LAYER(SSIG, 10, "sha256:" HEX2, "\"x\":\"y\"")), -EINVAL,
			"holds no cosign signature");
	expect_manifest(MAN(LAYER("text/plain", 10, "sha256:" HEX2,
				  "\"dev.cosignproject.cosign/signature\":\"" SIG "\"")),
			-EINVAL, "holds no cosign signature");
	expect_manifest(MAN(LAYER(SSIG, 10, "sha256:12",
				  "\"dev.cosignproject.cosign/signature\":\"" SIG "\"")),
			-EINVAL, "signature 1 has no valid digest");
	expect_manifest(MAN(LAYER(SSIG, -1, "sha256:" HEX2,
				  "\"dev.cosignproject.cosign/signature\":\"" SIG "\"")),
			-EINVAL, "no valid digest or size");
	expect_manifest(MAN(LAYER(SSIG, 99999999, "sha256:" HEX2,
				  "\"dev.cosignproject.cosign/signature\":\"" SIG "\"")),
			-EINVAL, "a payload of 99999999 bytes");
	expect_manifest(MAN(LAYER(SSIG, 10, "sha256:" HEX2,
				  "\"dev.cosignproject.cosign/signature\":\"not base64!\"")),
			-EINVAL, "not base64");
	expect_manifest(
		MAN(LAYER(SSIG, 10, "sha256:" HEX2, "\"dev.cosignproject.cosign/signature\":\"\"")),
		-EINVAL, "not base64");
	expect_manifest("{\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
			"\"manifests\":[]}",
			-EINVAL, "not an image manifest");
	expect_manifest("{\"layers\":{}}", -EINVAL, "not an image manifest");
	expect_manifest("nope", -EINVAL, "not valid JSON");
}

/* two signatures, and layers that are something else, in one manifest */
static void test_manifest_several(void **state)
{
	static const char text[] = MAN(LAYER(
		SSIG, 10, "sha256:" HEX1,
		"\"dev.cosignproject.cosign/signature\":\"" SIG
		"\"") "," LAYER("application/octet-stream", 5, "sha256:" HEX2,
				"") "," LAYER(SSIG, 20, "sha256:" HEX2,
					      "\"dev.sigstore.cosign/bundle\":\"{}\","
					      "\"dev.cosignproject.cosign/signature\":\"AQID\""));
	struct oci_cosign_sigs s = {0};

	assert_int_equal(oci_cosign_manifest_parse(text, strlen(text), &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.n_layers, 3);
	assert_int_equal(s.v[0].layer, 0);
	assert_int_equal(s.v[1].layer, 2);
	assert_int_equal(s.v[1].signature_len, 3);
	oci_cosign_sigs_done(&s);
}

static void test_manifest_new(void **state)
{
	static const unsigned char sig[] = {1, 2, 3};
	char *man = NULL, *cfg = NULL, *man2 = NULL, *cfg2 = NULL;
	size_t man_len, cfg_len, man2_len, cfg2_len;
	struct oci_cosign_sigs s = {0};
	char cfg_digest[OCI_DIGEST_SIZE], want[1024];
	size_t drop = 0;

	assert_int_equal(oci_cosign_manifest_new(NULL, 0, NULL, 0, "sha256:" HEX1, 241, sig, 3,
						 &man, &man_len, &cfg, &cfg_len),
			 0);
	/* go-containerregistry's empty image with one layer, as cosign pushes it */
	assert_string_equal(cfg, "{\"architecture\":\"\",\"created\":\"0001-01-01T00:00:00Z\","
				 "\"history\":[{\"created\":\"0001-01-01T00:00:00Z\"}],"
				 "\"os\":\"\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":"
				 "[\"sha256:" HEX1 "\"]},\"config\":{}}");
	assert_int_equal(oci_digest_buf(cfg, cfg_len, cfg_digest), 0);
	snprintf(
		want, sizeof(want),
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
		"\"size\":%zu,\"digest\":\"%s\"},\"layers\":[{\"mediaType\":\"" SSIG "\","
		"\"size\":241,\"digest\":\"sha256:" HEX1 "\",\"annotations\":"
		"{\"dev.cosignproject.cosign/signature\":\"AQID\"}}]}",
		cfg_len, cfg_digest);
	assert_string_equal(man, want);
	/* a second signature is appended; the first can be replaced instead */
	assert_int_equal(oci_cosign_manifest_new(man, man_len, NULL, 0, "sha256:" HEX2, 7, sig, 2,
						 &man2, &man2_len, &cfg2, &cfg2_len),
			 0);
	assert_int_equal(oci_cosign_manifest_parse(man2, man2_len, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.v[1].payload_digest, "sha256:" HEX2);
	assert_non_null(strstr(cfg2, "\"diff_ids\":[\"sha256:" HEX1 "\",\"sha256:" HEX2 "\"]"));
	oci_cosign_sigs_done(&s);
	free(man2);
	free(cfg2);
	assert_int_equal(oci_cosign_manifest_new(man, man_len, &drop, 1, "sha256:" HEX2, 7, sig, 2,
						 &man2, &man2_len, &cfg2, &cfg2_len),
			 0);
	assert_int_equal(oci_cosign_manifest_parse(man2, man2_len, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.v[0].payload_digest, "sha256:" HEX2);
	oci_cosign_sigs_done(&s);
	free(man2);
	free(cfg2);
	free(man);
	free(cfg);
	assert_int_equal(oci_cosign_manifest_new(NULL, 0, NULL, 0, "sha256:" HEX1, 1, sig, 0, &man,
						 &man_len, &cfg, &cfg_len),
			 -EINVAL);
}

static void test_referrers(void **state)
{
	static const char idx[] =
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
		"\"manifests\":["
		"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":500,"
		"\"digest\":\"sha256:" HEX1 "\","
		"\"artifactType\":\"application/vnd.dev.cosign.artifact.sig.v1+json\"},"
		"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":10,"
		"\"digest\":\"sha256:" HEX2 "\",\"artifactType\":\"application/spdx+json\"},"
		"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":900000,"
		"\"digest\":\"sha256:" HEX2 "\","
		"\"artifactType\":\"application/vnd.dev.cosign.artifact.sig.v1+json\"}]}";
	struct oci_cosign_referrer r[4];

	assert_int_equal(oci_cosign_referrers_parse(idx, strlen(idx), r, 4, err, sizeof(err)), 1);
	assert_string_equal(r[0].digest, "sha256:" HEX1);
	assert_int_equal(r[0].size, 500);
	assert_int_equal(
		oci_cosign_referrers_parse("{\"manifests\":[]}", 16, r, 4, err, sizeof(err)), 0);
	assert_int_equal(oci_cosign_referrers_parse("{}", 2, r, 4, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no manifests array"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tags),	      cmocka_unit_test(test_payload_bytes),
		cmocka_unit_test(test_payload_check), cmocka_unit_test(test_manifest_parse),
		cmocka_unit_test(test_manifest_bad),  cmocka_unit_test(test_manifest_several),
		cmocka_unit_test(test_manifest_new),  cmocka_unit_test(test_referrers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
