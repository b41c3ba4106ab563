// SPDX-License-Identifier: Apache-2.0
/*
 * sha256 (FIPS 180-4) and digest strings.  See digest.h.
 *
 * The hash is computed here rather than through OpenSSL: ig verifies every
 * blob it reads from its store, and linking libcrypto for that alone cost
 * each start of ig some 3.5 MB of resident pages and its initialisation.
 * Gadget blobs are small (tens to hundreds of KiB), so a portable
 * implementation is fast enough; a registry client that wants TLS loads
 * OpenSSL through libcurl anyway.
 */
#include "oci/digest.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SHA256_BLOCK 64
#define SHA256_BYTES 32

struct oci_digest {
	uint32_t h[8];
	uint64_t total; /* bytes hashed */
	uint8_t block[SHA256_BLOCK];
	size_t fill; /* bytes waiting in block */
	bool done;
};

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static inline uint32_t ror32(uint32_t x, unsigned int n)
{
	return (x >> n) | (x << (32 - n));
}

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, hh;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (; i < 64; i++) {
		uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
	for (i = 0; i < 64; i++) {
		uint32_t t1 = hh + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) +
			      ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
		uint32_t t2 =
			(ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));

		hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

int oci_digest_new(struct oci_digest **ret)
{
	static const uint32_t init[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	struct oci_digest *d;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	memcpy(d->h, init, sizeof(init));
	*ret = d;
	return 0;
}

int oci_digest_update(struct oci_digest *d, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (d->done)
		return -EINVAL;
	d->total += len;
	if (d->fill) {
		size_t n = SHA256_BLOCK - d->fill < len ? SHA256_BLOCK - d->fill : len;

		memcpy(d->block + d->fill, p, n);
		d->fill += n, p += n, len -= n;
		if (d->fill < SHA256_BLOCK)
			return 0;
		sha256_block(d->h, d->block);
		d->fill = 0;
	}
	for (; len >= SHA256_BLOCK; p += SHA256_BLOCK, len -= SHA256_BLOCK)
		sha256_block(d->h, p);
	memcpy(d->block, p, len);
	d->fill = len;
	return 0;
}

int oci_digest_final(struct oci_digest *d, char out[OCI_DIGEST_SIZE])
{
	static const char hexdigits[] = "0123456789abcdef";
	uint64_t bits;
	char *p;
	int i;

	if (d->done)
		return -EINVAL;
	d->done = true;
	bits = d->total * 8;
	d->block[d->fill++] = 0x80;
	if (d->fill > SHA256_BLOCK - 8) {
		memset(d->block + d->fill, 0, SHA256_BLOCK - d->fill);
		sha256_block(d->h, d->block);
		d->fill = 0;
	}
	memset(d->block + d->fill, 0, SHA256_BLOCK - 8 - d->fill);
	for (i = 0; i < 8; i++)
		d->block[SHA256_BLOCK - 1 - i] = (uint8_t)(bits >> (8 * i));
	sha256_block(d->h, d->block);

	memcpy(out, OCI_DIGEST_SHA256_PREFIX, strlen(OCI_DIGEST_SHA256_PREFIX));
	p = out + strlen(OCI_DIGEST_SHA256_PREFIX);
	for (i = 0; i < SHA256_BYTES; i++) {
		uint8_t byte = (uint8_t)(d->h[i / 4] >> (24 - 8 * (i % 4)));

		*p++ = hexdigits[byte >> 4];
		*p++ = hexdigits[byte & 0xf];
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
