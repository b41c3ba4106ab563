// SPDX-License-Identifier: Apache-2.0
/*
 * Strict base64; see b64.h.  Six bits per character go into an
 * accumulator that hands out a byte whenever it holds eight.
 */
#include "base/b64.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base_b64_encode(const void *in, size_t len, char **ret)
{
	const unsigned char *p = in;
	size_t o = 0;
	char *out;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 2)
		return -E2BIG;
	out = malloc((len + 2) / 3 * 4 + 1);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	*ret = out;
	return 0;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static bool b64_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int base_b64_decode(const char *in, size_t len, unsigned int flags, char **ret, size_t *ret_len,
		    char *err, size_t errlen)
{
	/* Every 4 characters give at most 3 bytes; a last short group at most 2. */
	char *out = malloc(len / 4 * 3 + 3);
	size_t n = 0, bits = 0, pad = 0, first_pad = 0;
	uint32_t acc = 0;
	int r = 0;

	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len && r == 0; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if ((flags & BASE_B64_SPACE) && b64_is_space(c))
			continue;
		if (c == '=') {
			if (!pad++)
				first_pad = i;
			continue;
		}
		v = b64_value(c);
		if (v < 0) {
			r = base_err_fail(err, errlen, -EINVAL, "invalid character at offset %zu",
					  i);
		} else if (pad) {
			r = base_err_fail(err, errlen, -EINVAL, "'=' at offset %zu before the end",
					  first_pad);
		} else {
			acc = (acc << 6) | (uint32_t)v;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				out[n++] = (char)((acc >> bits) & 0xff);
			}
		}
	}
	/*
	 * What a last group leaves: 0 bits (complete), 4 bits (2 characters,
	 * "==" to pad), 2 bits (3 characters, "=").  6 bits is one character
	 * alone, which cannot hold a byte.
	 */
	if (r == 0 && bits >= 6)
		r = base_err_fail(err, errlen, -EINVAL, "one character too many at the end");
	else if (r == 0 && (acc & ((1u << bits) - 1)))
		r = base_err_fail(err, errlen, -EINVAL, "stray bits after the last byte");
	else if (r == 0 && pad && pad != bits / 2)
		r = base_err_fail(err, errlen, -EINVAL, "%zu '=' where %zu belong", pad, bits / 2);
	if (r < 0) {
		explicit_bzero(out, n);
		free(out);
		return r;
	}
	out[n] = '\0';
	*ret = out;
	*ret_len = n;
	return 0;
}
