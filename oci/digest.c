// SPDX-License-Identifier: Apache-2.0
/*
 * sha256 digest strings.  See digest.h.
 *
 * The hash is nettle's (x86-64 SHA extensions where the CPU has them).  It
 * replaced our own portable sha256 and was chosen over OpenSSL's libcrypto
 * by measurement on this project's 2-core test machine (medians; the
 * digest is oci_digest_update() over 64 MiB in 1 MiB pieces, 21 runs; ig
 * with libnghttp2 already linked):
 *
 *                     64 MiB digest  200 x ig version   ig version  ig run snapshot_process -o json
 *                                    in a shell loop    peak RSS    wall, peak RSS
 *   our own sha256     225 MiB/s      0.22 s             2.4 MB      25 ms, 14.0 MB
 *   nettle            1250 MiB/s      0.25 s             2.6 MB      26 ms, 14.4 MB
 *   libcrypto (EVP)   1400 MiB/s      0.42 s             3.8 MB      29 ms, 17.6 MB
 *
 * libcrypto hashes 10% faster, but ig does not load it otherwise (a
 * registry client gets TLS through libcurl, which is dlopen()ed), and
 * loading and initialising it for the hash nearly doubles the cost of
 * starting ig.  nettle is 310 KB with no dependencies.
 */
#include "oci/digest.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

struct oci_digest {
	struct sha256_ctx ctx;
	bool done;
};

int oci_digest_new(struct oci_digest **ret)
{
	struct oci_digest *d;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	sha256_init(&d->ctx);
	*ret = d;
	return 0;
}

int oci_digest_update(struct oci_digest *d, const void *buf, size_t len)
{
	if (d->done)
		return -EINVAL;
	sha256_update(&d->ctx, len, buf);
	return 0;
}

int oci_digest_final(struct oci_digest *d, char out[OCI_DIGEST_SIZE])
{
	static const char hexdigits[] = "0123456789abcdef";
	uint8_t md[SHA256_DIGEST_SIZE];
	char *p;
	int i;

	if (d->done)
		return -EINVAL;
	d->done = true;
	sha256_digest(&d->ctx, sizeof(md), md);
	memcpy(out, OCI_DIGEST_SHA256_PREFIX, strlen(OCI_DIGEST_SHA256_PREFIX));
	p = out + strlen(OCI_DIGEST_SHA256_PREFIX);
	for (i = 0; i < SHA256_DIGEST_SIZE; i++) {
		*p++ = hexdigits[md[i] >> 4];
		*p++ = hexdigits[md[i] & 0xf];
	}
	*p = '\0';
	return 0;
}

struct oci_digest *oci_digest_free(struct oci_digest *d)
{
	free(d);
	return NULL;
}

int oci_digest_buf(const void *buf, size_t len, char out[OCI_DIGEST_SIZE])
{
	struct oci_digest *d = NULL;
	int r;

	r = oci_digest_new(&d);
	if (r < 0)
		return r;
	r = oci_digest_update(d, buf, len);
	if (r == 0)
		r = oci_digest_final(d, out);
	oci_digest_free(d);
	return r;
}

static bool digest_is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool digest_is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[n] == '\0';
}

int oci_digest_check(const char *s)
{
	const char *colon, *p;
	size_t alg_len, enc_len;

	if (!s)
		return -EINVAL;
	colon = strchr(s, ':');
	if (!colon || colon == s || strnlen(s, OCI_DIGEST_MAX_LEN + 1) > OCI_DIGEST_MAX_LEN)
		return -EINVAL;
	alg_len = colon - s;
	/* algorithm: components of [a-z0-9]+ joined by single [+._-] */
	for (p = s; p < colon; p++) {
		if (digest_is_lower_alnum(*p))
			continue;
		if (!strchr("+._-", *p) || p == s || p + 1 == colon || !digest_is_lower_alnum(p[1]))
			return -EINVAL;
	}
	enc_len = strlen(colon + 1);
	if (enc_len == 0)
		return -EINVAL;
	for (p = colon + 1; *p; p++) {
		bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '=' || *p == '_' || *p == '-';

		if (!ok)
			return -EINVAL;
	}
	if (alg_len == 6 && !strncmp(s, "sha256", 6))
		return enc_len == 64 && digest_is_lower_hex(colon + 1, 64) ? 0 : -EINVAL;
	if (alg_len == 6 && !strncmp(s, "sha512", 6))
		return enc_len == 128 && digest_is_lower_hex(colon + 1, 128) ? 0 : -EINVAL;
	return 0;
}

bool oci_digest_is_sha256(const char *s)
{
	size_t plen = strlen(OCI_DIGEST_SHA256_PREFIX);

	return s && !strncmp(s, OCI_DIGEST_SHA256_PREFIX, plen) &&
	       strnlen(s + plen, OCI_DIGEST_SHA256_HEX + 1) == OCI_DIGEST_SHA256_HEX &&
	       digest_is_lower_hex(s + plen, OCI_DIGEST_SHA256_HEX);
}

const char *oci_digest_hex(const char *s)
{
	return s + strlen(OCI_DIGEST_SHA256_PREFIX);
}
