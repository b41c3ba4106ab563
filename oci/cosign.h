/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cosign's signature formats for container images, read and written byte
 * for byte as cosign does, so that images signed by cosign verify here and
 * images signed by `ig image sign` verify with cosign (and Inspektor
 * Gadget).  No I/O and no cryptography: signature.c fetches, key.c checks.
 *
 * What is signed is the "simple signing" payload, a small JSON document
 * naming the image by the digest of its top object (index or manifest):
 *
 *   {"critical":{"identity":{"docker-reference":"host/repo"},
 *                "image":{"docker-manifest-digest":"sha256:..."},
 *                "type":"cosign container image signature"},
 *    "optional":null}
 *
 * The payload travels as a layer of a signature manifest, with the
 * base64 signature over its exact bytes in the layer's annotation
 * "dev.cosignproject.cosign/signature"; one manifest may carry several
 * signatures (one layer each).  Where the manifest is found:
 *
 *  - tag scheme ("legacy", cosign's default): the tag sha256-<hex>.sig of
 *    the image's repository;
 *  - OCI 1.1 referrers (cosign --registry-referrers-mode=oci-1-1): a
 *    manifest with artifactType application/vnd.dev.cosign.artifact.sig.v1+json
 *    and the image as its subject, listed by the registry's referrers API
 *    (GET /v2/<name>/referrers/<digest>) or, where the registry has none, by
 *    the index under the fallback tag sha256-<hex> (distribution spec 1.1,
 *    "referrers tag schema").
 *
 * Everything parsed here comes from a registry and is bounded by the
 * limits below.  Callers verify a payload's signature before reading it
 * with oci_cosign_payload_check(), as the containers-signature format asks.
 */
#ifndef OCI_COSIGN_H
#define OCI_COSIGN_H

#include <stddef.h>
#include <stdint.h>

#include "oci/digest.h"

#define OCI_COSIGN_MEDIA_TYPE_PAYLOAD	"application/vnd.dev.cosign.simplesigning.v1+json"
#define OCI_COSIGN_ARTIFACT_TYPE	"application/vnd.dev.cosign.artifact.sig.v1+json"
#define OCI_COSIGN_ANNOTATION_SIGNATURE "dev.cosignproject.cosign/signature"
#define OCI_COSIGN_PAYLOAD_TYPE		"cosign container image signature"
#define OCI_MEDIA_TYPE_IMAGE_CONFIG	"application/vnd.oci.image.config.v1+json"

/* Largest signature manifest, referrers index and payload read. */
#define OCI_COSIGN_MAX_MANIFEST (256u << 10)
#define OCI_COSIGN_MAX_INDEX	(256u << 10)
#define OCI_COSIGN_MAX_PAYLOAD	(64u << 10)
/* Signatures (layers) of one manifest looked at, and referrers followed. */
#define OCI_COSIGN_MAX_SIGNATURES 16
#define OCI_COSIGN_MAX_REFERRERS  16
/* Longest decoded signature (RSA 16384 bits) and its base64 annotation. */
#define OCI_COSIGN_MAX_SIGNATURE 2048
/* Bytes of a tag name: "sha256-" + 64 hex + ".sig" + NUL. */
#define OCI_COSIGN_TAG_SIZE 76

/* "sha256-<hex>.sig": where the tag scheme keeps the signatures of digest. */
int oci_cosign_sig_tag(const char *digest, char out[OCI_COSIGN_TAG_SIZE]);
/* "sha256-<hex>": the referrers fallback tag of digest. */
int oci_cosign_referrers_tag(const char *digest, char out[OCI_COSIGN_TAG_SIZE]);

/*
 * The payload signing image digest (top object) of repository identity
 * ("localhost:5000/trace_open"), exactly as cosign writes it, in a new
 * buffer *ret (free(); NUL-terminated, not counted in *ret_len).
 */
int oci_cosign_payload_new(const char *identity, const char *digest, char **ret, size_t *ret_len);

/*
 * Checks that payload (len bytes, already verified as signed) is a cosign
 * container image signature for digest.  0 when it is; -EBADMSG when it
 * signs another image (err names the digest it signs); -EINVAL when it is
 * not such a payload (err says why); -EFBIG past OCI_COSIGN_MAX_PAYLOAD.
 */
int oci_cosign_payload_check(const void *payload, size_t len, const char *digest, char *err,
			     size_t errlen);

/* One signature of a signature manifest. */
struct oci_cosign_sig {
	char payload_digest[OCI_DIGEST_SIZE]; /* the layer holding the payload */
	uint64_t payload_size;
	unsigned char *signature; /* decoded from the annotation */
	size_t signature_len;
	size_t layer; /* index in the manifest's layers */
};

struct oci_cosign_sigs {
	struct oci_cosign_sig v[OCI_COSIGN_MAX_SIGNATURES];
	size_t n;
	size_t n_layers; /* layers of the manifest, signatures or not */
};

/*
 * Parses a signature manifest (either form): every layer of media type
 * OCI_COSIGN_MEDIA_TYPE_PAYLOAD with a signature annotation, in order, up
 * to OCI_COSIGN_MAX_SIGNATURES.  -EINVAL with err when it is not a JSON
 * image manifest, a signature layer is malformed (its digest, size or
 * base64), or it holds no signature at all; -EFBIG past
 * OCI_COSIGN_MAX_MANIFEST.  Release with oci_cosign_sigs_done().
 */
int oci_cosign_manifest_parse(const void *buf, size_t len, struct oci_cosign_sigs *ret, char *err,
			      size_t errlen);
void oci_cosign_sigs_done(struct oci_cosign_sigs *s);

/*
 * A tag-scheme signature manifest and its config, as cosign writes them:
 * the layers of old (a signature manifest, or NULL for none) except those
 * whose index is in drop[0..n_drop), then a new layer for the payload
 * (payload_digest, payload_size) with signature sig.  New buffers in
 * *ret_manifest and *ret_config (free()).
 */
int oci_cosign_manifest_new(const void *old, size_t old_len, const size_t *drop, size_t n_drop,
			    const char *payload_digest, uint64_t payload_size,
			    const unsigned char *sig, size_t sig_len, char **ret_manifest,
			    size_t *ret_manifest_len, char **ret_config, size_t *ret_config_len);

/* A manifest named by a referrers index. */
struct oci_cosign_referrer {
	char digest[OCI_DIGEST_SIZE];
	uint64_t size;
};

/*
 * The cosign signature manifests an image index lists (a referrers API
 * reply or the fallback tag's index): entries with artifactType
 * OCI_COSIGN_ARTIFACT_TYPE, in order, up to max (at most
 * OCI_COSIGN_MAX_REFERRERS).  Returns how many were found (0 is not an
 * error), or -EINVAL with err when buf is not an index.
 */
int oci_cosign_referrers_parse(const void *buf, size_t len, struct oci_cosign_referrer *ret,
			       size_t max, char *err, size_t errlen);

#endif /* OCI_COSIGN_H */
