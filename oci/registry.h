/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registry client: pushes images from the local store to a registry and
 * pulls them back, over the OCI distribution spec (HTTP API v2) with
 * libcurl.
 *
 *   GET/HEAD /v2/<name>/manifests/<tag|digest>   index or manifest
 *   GET/HEAD /v2/<name>/blobs/<digest>           config and layers
 *   POST /v2/<name>/blobs/uploads/ + PUT <location>?digest=   monolithic upload
 *   PUT /v2/<name>/manifests/<tag|digest>
 *
 * Transport: HTTPS with the system CAs plus an optional CA file; plain HTTP
 * only when the caller says the registry is insecure.  Authentication
 * answers the registry's WWW-Authenticate challenge on a 401: "Basic" sends
 * the credentials, "Bearer realm=...,service=...,scope=..." fetches a token
 * from the realm (with the credentials, if any) and retries; tokens are
 * cached per scope for the life of the object.  Credentials go to the
 * registry's own origin and to a token realm on the registry's own host
 * (any port; for Docker Hub, auth.docker.io) and nowhere else: a realm on
 * another host is asked for an anonymous token, and a 401 from a host that
 * a redirect led to is not answered at all (-EACCES), so neither a
 * registry's object storage nor whoever answers there can collect them.
 *
 * Pull: the manifest is fetched by tag or digest (Accept: OCI index and
 * manifest, and their Docker equivalents), then every object it reaches
 * (child manifests, configs, layers), skipping blobs the store already
 * has.  Each blob's size and sha256 are checked against its descriptor as
 * it arrives, and a manifest fetched by digest against that digest.  Nothing
 * enters the store until the whole image has been fetched and verified;
 * then the blobs are stored and the tag set under the store lock, so a
 * failed pull (corrupt or truncated blob, registry gone mid-pull, a limit
 * hit) leaves the store as it was.  (Only a failure while storing, a full
 * disk, can leave blobs no tag names; the store's next garbage collection
 * removes them.)
 *
 * Push: walks the local image, HEADs each blob and uploads only the missing
 * ones, then puts the manifests by digest and the top object by tag, children
 * before parents.
 *
 * Redirects (registries send blob GETs to object storage) are followed
 * for GET and HEAD only, never from HTTPS to HTTP, and the Authorization
 * header is dropped when one leaves the registry's scheme, host and port.
 *
 * Every response body is bounded (the limits below).  On failure functions
 * return -errno and leave a one-line message for the user in
 * oci_registry_errmsg() naming the registry and what failed ("401
 * Unauthorized from localhost:5000: bad credentials", "blob sha256:ab..
 * from localhost:5000 has digest sha256:cd..").  Errors: -EACCES (401/403
 * after authenticating), -ENOENT (404: no such repository, tag or blob),
 * -EBADMSG (digest or size mismatch), -EPROTO (a reply that breaks the
 * protocol, a TLS handshake that fails), -ECONNREFUSED / -EHOSTUNREACH /
 * -ETIMEDOUT / -ECONNRESET (transport), -EKEYREJECTED (the server's
 * certificate is not trusted), -EINVAL (an unusable CA file, a reference
 * on another registry), -EFBIG (over a limit), -EMEDIUMTYPE (not an
 * image), or the store's errors.  An object is not thread-safe.
 */
#ifndef OCI_REGISTRY_H
#define OCI_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "oci/digest.h"

struct oci_store;
struct oci_registry;

/* Largest manifest or index fetched. */
#define OCI_REGISTRY_MAX_MANIFEST (4u << 20)
/* Largest token endpoint reply and error body read. */
#define OCI_REGISTRY_MAX_REPLY (64u << 10)
/* Largest WWW-Authenticate header parsed. */
#define OCI_REGISTRY_MAX_CHALLENGE 4096
/* Largest total of blobs held in memory by one pull. */
#define OCI_REGISTRY_MAX_PULL_BYTES (1ull << 30)

/*
 * Progress of one transfer: what (a digest or "manifest"), bytes done and
 * total (0 when unknown).  Called from inside libcurl's progress callback at
 * most a few times a second and once at the end of each blob.
 */
typedef void (*oci_registry_progress_fn)(void *userdata, const char *what, uint64_t done,
					 uint64_t total);

struct oci_registry_opts {
	const char *registry; /* required: "host[:port]" as in a reference */
	bool plain_http;      /* talk HTTP instead of HTTPS */
	bool tls_skip_verify; /* HTTPS without checking the certificate */
	const char *ca_file;  /* PEM bundle trusted in addition to the system's */
	const char *username; /* credentials, both or neither */
	const char *password;
	long connect_timeout_ms; /* 0 for 10 s */
	/*
	 * A transfer slower than min_rate for this long is abandoned; 0 for 30 s.
	 * Keeps a registry that stops answering from hanging a pull for ever.
	 */
	long stall_timeout_ms;
	/* A transfer slower than this many bytes/s over the stall time is abandoned; 0 for 16
	 * KiB/s. */
	long min_rate;
	/*
	 * The most a whole pull, push or ping may take, every request included;
	 * 0 for 10 minutes.  Keeps a registry that sends just fast enough from
	 * holding a pull for hours.
	 */
	long deadline_ms;
	oci_registry_progress_fn progress; /* may be NULL */
	void *progress_userdata;
};

/*
 * Returns a new client in *ret; free with oci_registry_free().  No I/O.
 * Loads libcurl the first time: -ELIBACC or -ELIBBAD when it cannot be,
 * and base_curl_load() (base/curl.h) then has the message for the user.
 */
int oci_registry_new(const struct oci_registry_opts *opts, struct oci_registry **ret);
struct oci_registry *oci_registry_free(struct oci_registry *r);
/* The message for the last failure ("" if none yet); borrowed. */
const char *oci_registry_errmsg(const struct oci_registry *r);

/*
 * GET /v2/ and answers its challenge: 0 when the credentials (or none) are
 * accepted, -EACCES when they are not.  What `ig login` uses to check
 * credentials before saving them.
 */
int oci_registry_ping(struct oci_registry *r);

/*
 * Pulls ref (a full reference whose registry is this client's, with a tag
 * or a digest) into store and tags it there under the same reference: a
 * digest reference ("name@sha256:...") is stored under that reference, and
 * "name:tag@sha256:..." fetches by digest and tags name:tag.  Writes the
 * digest of the top object to digest_out when not NULL.
 */
int oci_registry_pull(struct oci_registry *r, struct oci_store *store, const char *ref,
		      char digest_out[OCI_DIGEST_SIZE]);

/*
 * Single objects, fetched into memory rather than the store (what a
 * signature check reads before deciding what to keep).  ref names the
 * repository on this registry ("host/name:tag" or "host/name@sha256:...").
 *
 * oci_registry_get_manifest(): the manifest or index ref names, at most
 * max bytes, in a new NUL-terminated buffer (free()), with its digest
 * (checked when ref has one).  -ENOENT when the registry has none (404).
 */
int oci_registry_get_manifest(struct oci_registry *r, const char *ref, size_t max, char **ret,
			      size_t *ret_len, char digest_out[OCI_DIGEST_SIZE]);
/* Blob digest of ref's repository: exactly size bytes with that digest, or -EBADMSG. */
int oci_registry_get_blob(struct oci_registry *r, const char *ref, const char *digest,
			  uint64_t size, char **ret);
/*
 * The OCI 1.1 referrers API: the index of the manifests whose subject is
 * digest, filtered by artifact_type (NULL for all), at most max bytes.
 * -EOPNOTSUPP when the registry does not have the API (404), so that the
 * caller falls back to the referrers tag (oci/cosign.h).
 */
int oci_registry_get_referrers(struct oci_registry *r, const char *ref, const char *digest,
			       const char *artifact_type, size_t max, char **ret, size_t *ret_len);

/*
 * Pushes the local image local_ref from store to remote_ref (a full
 * reference with a tag on this client's registry; NULL for local_ref
 * itself).  Writes the digest of the top object to digest_out.
 */
int oci_registry_push(struct oci_registry *r, struct oci_store *store, const char *local_ref,
		      const char *remote_ref, char digest_out[OCI_DIGEST_SIZE]);

#endif /* OCI_REGISTRY_H */
