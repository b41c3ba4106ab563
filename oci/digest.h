/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Content digests as OCI writes them: "<algorithm>:<encoded>".
 *
 * Every blob of an image is named by the sha256 of its bytes, so this is
 * both how the store names files and how it notices corruption.  Only
 * sha256 is computed (it is what registries and every OCI tool produce);
 * oci_digest_check() accepts the general grammar of the image spec so that
 * references naming other algorithms parse, and callers that need a blob
 * refuse them with -EOPNOTSUPP.
 */
#ifndef OCI_DIGEST_H
#define OCI_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#define OCI_DIGEST_SHA256_PREFIX "sha256:"
#define OCI_DIGEST_SHA256_HEX	 64
/* Bytes needed for a sha256 digest string and its terminator. */
#define OCI_DIGEST_SIZE (sizeof(OCI_DIGEST_SHA256_PREFIX) + OCI_DIGEST_SHA256_HEX)
/* Longest digest string oci_digest_check() accepts. */
#define OCI_DIGEST_MAX_LEN 256

/* Incremental sha256 over data that arrives in pieces. */
struct oci_digest;

/* Returns a new hash context in *ret; free with oci_digest_free(). */
int oci_digest_new(struct oci_digest **ret);
int oci_digest_update(struct oci_digest *d, const void *buf, size_t len);
/*
 * Writes "sha256:<hex>" to out.  The context cannot be updated afterwards
 * (only freed).
 */
int oci_digest_final(struct oci_digest *d, char out[OCI_DIGEST_SIZE]);
struct oci_digest *oci_digest_free(struct oci_digest *d);

/* sha256 of len bytes at buf, as "sha256:<hex>". */
int oci_digest_buf(const void *buf, size_t len, char out[OCI_DIGEST_SIZE]);

/*
 * 0 if s follows the image spec's digest grammar
 *   algorithm ":" encoded, algorithm = [a-z0-9]+ ([+._-] [a-z0-9]+)*,
 *   encoded = [a-zA-Z0-9=_-]+
 * and, for the registered algorithms, has their exact form (sha256: 64 and
 * sha512: 128 lowercase hex digits); -EINVAL otherwise.
 */
int oci_digest_check(const char *s);
/* True if s is "sha256:" followed by 64 lowercase hex digits. */
bool oci_digest_is_sha256(const char *s);
/* The 64 hex digits of a valid sha256 digest (a pointer into s). */
const char *oci_digest_hex(const char *s);

#endif /* OCI_DIGEST_H */
