/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Base64 (RFC 4648 section 4, the standard alphabet with '+' and '/').
 *
 * Credentials travel in it (HTTP Basic, the "auth" field of container
 * registry credential files) and so do certificates and keys inside
 * kubeconfig files.  Both come from outside, so decoding is strict: every
 * character must belong to the alphabet, '=' may only pad the last group
 * and then must pad it fully, and the bits left over after the last byte
 * must be zero, so that one text never has two readings.  Padding itself
 * may be left out, as many writers do.
 *
 * Decoded and encoded buffers are wiped before they are freed on failure,
 * since they may hold a password or a private key.
 */
#ifndef BASE_B64_H
#define BASE_B64_H

#include <stddef.h>

/*
 * Encodes len bytes, padded, into a new NUL-terminated string in *ret
 * (free() it).  -ENOMEM; -E2BIG when the result would not fit in memory.
 */
int base_b64_encode(const void *in, size_t len, char **ret);

/* Skips white space (space, tab, CR, LF) anywhere in the input. */
#define BASE_B64_SPACE (1u << 0)

/*
 * Decodes len characters of in into a new buffer in *ret, NUL-terminated
 * for text users (the terminator is not counted in *ret_len; the data may
 * hold NUL bytes of its own).  -EINVAL for anything but strict base64, with
 * the reason ("invalid character at offset 3") in err when err is not NULL;
 * the reason never quotes the input, which may be a secret.  -ENOMEM.  ret
 * and ret_len are untouched on failure.
 */
int base_b64_decode(const char *in, size_t len, unsigned int flags, char **ret, size_t *ret_len,
		    char *err, size_t errlen);

#endif /* BASE_B64_H */
