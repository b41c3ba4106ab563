// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for the base64 decoder (base/b64.c), which reads
 * registry credentials and kubeconfig certificate and key data.
 *
 * The first byte picks the flags.  Strictness means one text, one
 * reading: whatever decodes must encode back to the same text with white
 * space removed (when skipped) and padding added.  A refusal must leave
 * the outputs alone and say why.  Any broken promise aborts so that the
 * fuzzer records the input.
 */
#include "base/b64.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as the decoder should have read it: no white space, padded. */
static char *canonical(const char *in, size_t len, unsigned int flags, size_t *ret_len)
{
	char *out = malloc(len + 3);
	size_t n = 0;

	if (!out)
		abort();
	for (size_t i = 0; i < len; i++) {
		if ((flags & BASE_B64_SPACE) && strchr(" \t\r\n", in[i]) && in[i])
			continue;
		out[n++] = in[i];
	}
	while (n % 4)
		out[n++] = '=';
	*ret_len = n;
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *dec = NULL, *enc = NULL, *copy, *want, err[128] = "";
	unsigned int flags;
	size_t len = 0, want_len;
	int r;

	if (size == 0 || size > 1 << 16)
		return 0;
	flags = data[0] & 1 ? BASE_B64_SPACE : 0;
	/* An exact-size copy lets ASan see any read past the length. */
	copy = malloc(size - 1 ? size - 1 : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size - 1);
	r = base_b64_decode(copy, size - 1, flags, &dec, &len, err, sizeof(err));
	if (r == 0) {
		if (!dec || dec[len] != '\0' || len > (size - 1) / 4 * 3 + 2)
			abort();
		if (base_b64_encode(dec, len, &enc) != 0)
			abort();
		want = canonical(copy, size - 1, flags, &want_len);
		if (strlen(enc) != want_len || memcmp(enc, want, want_len))
			abort();
		free(want);
		free(enc);
		free(dec);
	} else if (r != -EINVAL || dec || len || !err[0]) {
		abort();
	}
	free(copy);
	return 0;
}
