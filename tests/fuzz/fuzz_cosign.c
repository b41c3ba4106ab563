// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for what a registry hands a signature verifier: the
 * signed payload, the signature manifest, the referrers index (oci/cosign.c)
 * and the signature bytes themselves (oci/key.c over libcrypto).
 *
 * The first byte picks the parser.  Each must stay within its bounds and
 * keep its promises: a parsed manifest yields at most
 * OCI_COSIGN_MAX_SIGNATURES signatures of sane sizes over sha256 payloads,
 * and rebuilding a manifest from it (what `ig image sign` does when it adds
 * a signature) gives one that parses again; a payload is accepted for
 * exactly the digest it names; random bytes never verify as a signature.
 * Any broken promise aborts so that the fuzzer records the input.
 */
#include "oci/cosign.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oci/key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_DIGEST "sha256:9d14a7c385a997c101525dfa73e53dcecf8743c9b473fa58bd9cb456b519c783"

/* tests/data/oci/sign/ec.pub */
static const char fuzz_pub[] = "-----BEGIN PUBLIC KEY-----\n"
			       "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAErJnO2/+X2JZIKWTDWWZVjvR4CKcd\n"
			       "46y3ec1dr3tlTZ8MT84sEpZLqvm1UdEdkV+ZpDMZFeh1gS+vVH0UdW0S/g==\n"
			       "-----END PUBLIC KEY-----\n";

static void fuzz_payload(const char *buf, size_t len)
{
	char err[256];
	int r = oci_cosign_payload_check(buf, len, FUZZ_DIGEST, err, sizeof(err));

	if (r != 0 && r != -EINVAL && r != -EBADMSG && r != -EFBIG && r != -ENOMEM)
		abort();
	/* accepted: the text must name the digest */
	if (r == 0 && !memmem(buf, len, FUZZ_DIGEST, strlen(FUZZ_DIGEST)))
		abort();
}

static void fuzz_manifest(const char *buf, size_t len)
{
	static const unsigned char sig[] = {0x30, 0x01, 0x00};
	struct oci_cosign_sigs s = {0}, s2 = {0};
	char *man = NULL, *cfg = NULL, err[256];
	size_t man_len, cfg_len, drop = 0;
	int r;

	r = oci_cosign_manifest_parse(buf, len, &s, err, sizeof(err));
	if (r < 0) {
		if ((r != -EINVAL && r != -EFBIG && r != -ENOMEM) || s.n)
			abort();
		return;
	}
	if (!s.n || s.n > OCI_COSIGN_MAX_SIGNATURES || s.n > s.n_layers)
		abort();
	for (size_t i = 0; i < s.n; i++) {
		if (!oci_digest_is_sha256(s.v[i].payload_digest) ||
		    s.v[i].payload_size > OCI_COSIGN_MAX_PAYLOAD || !s.v[i].signature_len ||
		    s.v[i].signature_len > OCI_COSIGN_MAX_SIGNATURE || s.v[i].layer >= s.n_layers)
			abort();
	}
	r = oci_cosign_manifest_new(buf, len, &drop, 1, FUZZ_DIGEST, 10, sig, sizeof(sig), &man,
				    &man_len, &cfg, &cfg_len);
	if (r == 0) {
		if (oci_cosign_manifest_parse(man, man_len, &s2, err, sizeof(err)) != 0)
			abort();
		if (strcmp(s2.v[s2.n - 1].payload_digest, FUZZ_DIGEST) &&
		    s2.n < OCI_COSIGN_MAX_SIGNATURES)
			abort();
		oci_cosign_sigs_done(&s2);
		free(man);
		free(cfg);
	} else if (r != -EINVAL && r != -ENOMEM) {
		abort();
	}
	oci_cosign_sigs_done(&s);
}

static void fuzz_referrers(const char *buf, size_t len)
{
	struct oci_cosign_referrer ref[OCI_COSIGN_MAX_REFERRERS];
	char err[256];
	int r = oci_cosign_referrers_parse(buf, len, ref, OCI_COSIGN_MAX_REFERRERS, err,
					   sizeof(err));

	if ((r < 0 && r != -EINVAL && r != -EFBIG && r != -ENOMEM) || r > OCI_COSIGN_MAX_REFERRERS)
		abort();
	for (int i = 0; i < r; i++)
		if (!oci_digest_is_sha256(ref[i].digest) || ref[i].size > OCI_COSIGN_MAX_MANIFEST)
			abort();
}

static void fuzz_signature(const char *buf, size_t len)
{
	static struct oci_key_set *ks;
	static const char msg[] = "a cosign payload";

	if (!ks && (oci_key_set_new(&ks) < 0 || oci_key_set_add(ks, fuzz_pub, NULL, 0) < 0))
		abort();
	if (oci_key_set_verify(ks, buf, len, msg, sizeof(msg)) != -EKEYREJECTED)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy;

	if (size == 0 || size > OCI_COSIGN_MAX_MANIFEST + 1)
		return 0;
	/* An exact-size copy lets ASan see any read past the length. */
	copy = malloc(size - 1 ? size - 1 : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size - 1);
	switch (data[0] & 3) {
	case 0:
		fuzz_payload(copy, size - 1);
		break;
	case 1:
		fuzz_manifest(copy, size - 1);
		break;
	case 2:
		fuzz_referrers(copy, size - 1);
		break;
	default:
		fuzz_signature(copy, size - 1);
		break;
	}
	free(copy);
	return 0;
}
