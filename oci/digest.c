// SPDX-License-Identifier: Apache-2.0
/*
 * sha256 digests through OpenSSL's EVP interface.  See digest.h.
 *
 * EVP is used rather than the deprecated SHA256_* calls so that OpenSSL 3
 * builds without warnings and a FIPS provider, when configured, is honoured.
 */
#include "oci/digest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/log.h"

struct oci_digest {
	EVP_MD_CTX *ctx;
	bool done;
};

int oci_digest_new(struct oci_digest **ret)
{
	struct oci_digest *d;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->ctx = EVP_MD_CTX_new();
	if (!d->ctx) {
		free(d);
		return -ENOMEM;
	}
	if (EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) != 1) {
		base_log_debug("oci: EVP_DigestInit_ex(sha256) failed");
		oci_digest_free(d);
		return -EIO;
	}
	*ret = d;
	return 0;
}

int oci_digest_update(struct oci_digest *d, const void *buf, size_t len)
{
	if (d->done)
		return -EINVAL;
	if (len && EVP_DigestUpdate(d->ctx, buf, len) != 1)
		return -EIO;
	return 0;
}

int oci_digest_final(struct oci_digest *d, char out[OCI_DIGEST_SIZE])
{
	static const char hexdigits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char *p;

	if (d->done)
		return -EINVAL;
	d->done = true;
	if (EVP_DigestFinal_ex(d->ctx, md, &n) != 1 || n * 2 != OCI_DIGEST_SHA256_HEX)
		return -EIO;
	memcpy(out, OCI_DIGEST_SHA256_PREFIX, strlen(OCI_DIGEST_SHA256_PREFIX));
	p = out + strlen(OCI_DIGEST_SHA256_PREFIX);
	for (unsigned int i = 0; i < n; i++) {
		*p++ = hexdigits[md[i] >> 4];
		*p++ = hexdigits[md[i] & 0xf];
	}
	*p = '\0';
	return 0;
}

struct oci_digest *oci_digest_free(struct oci_digest *d)
{
	if (!d)
		return NULL;
	EVP_MD_CTX_free(d->ctx);
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
