/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signatures of the images in a local store: checking them against public
 * keys, fetching them from a registry, and signing, in cosign's formats
 * (oci/cosign.h) with the keys of oci/key.h.
 *
 * An image is named by its repository ("localhost:5000/trace_open", or a
 * short name for a local image) and the digest of its top object (index or
 * manifest): what the signature signs.  Locally, its signatures are kept
 * where cosign's tag scheme keeps them in a registry, as the image tagged
 * "<repository>:sha256-<hex>.sig" in the same store, so that a verified
 * image needs no network the next time, `ig image push` carries the
 * signature along and any OCI tool sees it.
 *
 * Verification looks in the store first, then, with a registry client, in
 * the registry: the tag scheme, the referrers API, and its fallback tag.  A
 * signature manifest that verifies there is stored; one that does not is
 * never stored by a verification.  A payload is read only after its
 * signature has been checked, and it must name the digest being verified.
 *
 * Signatures and payloads are bounded by oci/cosign.h's limits.  Errors are
 * -errno with a one-line reason in err that does not repeat the image's
 * name (the caller puts it in front): -ENOENT when no signature was found
 * anywhere it looked, -EKEYREJECTED when signatures were found and none is
 * by one of the keys for this digest, the store's or registry's -errno.
 */
#ifndef OCI_SIGNATURE_H
#define OCI_SIGNATURE_H

#include <stddef.h>

struct oci_key;
struct oci_key_set;
struct oci_registry;
struct oci_store;

/* Longest message the functions below leave. */
#define OCI_SIGNATURE_ERRLEN 1024

/* "<name>:sha256-<hex>.sig", the store's reference for the signatures of digest, in *ret. */
int oci_signature_ref(const char *name, const char *digest, char **ret);

/*
 * Checks that image digest of repository name is signed by one of keys.
 * reg (may be NULL) is a client for name's registry, asked when the store
 * has no signature that verifies.  0 and the index of the key in *ret_key
 * (may be NULL) on success.
 */
int oci_signature_verify(struct oci_store *s, struct oci_registry *reg, const char *name,
			 const char *digest, const struct oci_key_set *keys, size_t *ret_key,
			 char *err, size_t errlen);

/*
 * Copies the signatures of image digest from the registry into the store,
 * unchecked (no keys are known yet; the check happens when the image is
 * verified): what a pull does so that verification works offline.  1 when
 * a signature manifest was stored, 0 when the registry has none.
 */
int oci_signature_fetch(struct oci_store *s, struct oci_registry *reg, const char *name,
			const char *digest, char *err, size_t errlen);

/*
 * Signs image digest of repository name (which must be in the store) with
 * key: adds a signature to those the store keeps for it, replacing one made
 * with the same key before.  The signature's reference goes to *ret_ref
 * (free()) when ret_ref is not NULL.
 */
int oci_signature_sign(struct oci_store *s, const char *name, const char *digest,
		       const struct oci_key *key, char **ret_ref, char *err, size_t errlen);

#endif /* OCI_SIGNATURE_H */
