/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Gadget images for the agent: what `image` in GetGadgetInfo, RunGadget and
 * an instance spec names, found in the agent's image store (oci.storeDir)
 * and pulled from its registry when missing.
 *
 *  - a short name ("trace_exec", "trace_exec:latest", "org/g:v1") is looked
 *    up in the store only, under its canonical form ("trace_exec:latest"):
 *    the agent has no default registry to pull short names from;
 *  - a full reference ("localhost:5000/trace_exec:v1", "...@sha256:...")
 *    is taken from the store, or pulled into it from its registry first
 *    (plain HTTP for oci.insecureRegistries, credentials from the usual
 *    credentials file).
 *
 * oci.allowedGadgets (oci/allow.h) is checked on the canonical reference
 * before anything is read or pulled: a pattern with a trailing '*' is a
 * prefix, "repo@sha256:..." allows the image a tag resolves to (checked
 * once it is resolved, and only its repository is looked up before), any
 * other pattern must name the same image ("trace_exec" allows
 * "trace_exec:latest").  With oci.disallowPulling nothing is pulled.  With
 * public keys (oci.publicKeys, oci.verifyImage), the image found must be
 * signed by one of them (oci/signature.h): the signature is looked for in
 * the store, then in the image's registry unless pulling is disabled.
 *
 * agent_image_resolve() blocks (disk, network) and touches no shared state:
 * the agent calls it from a worker thread, with its own store object each
 * time, so a slow registry never stalls the event loop.
 */
#ifndef AGENT_IMAGE_H
#define AGENT_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oci/digest.h"

struct oci_key_set;

/* Longest message a failed resolution leaves. */
#define AGENT_IMAGE_ERRLEN 1024
/* Time a pull may stall or take to connect before it is given up. */
#define AGENT_IMAGE_STALL_MS   10000
#define AGENT_IMAGE_CONNECT_MS 5000

enum agent_image_pull {
	AGENT_IMAGE_PULL_MISSING = 0, /* a reference with a registry: when the store lacks it */
	AGENT_IMAGE_PULL_ALWAYS,      /* ... before every resolution (PullImage, ig --pull) */
	AGENT_IMAGE_PULL_NEVER,	      /* the store only */
};

struct agent_image_opts {
	const char *store_dir;
	enum agent_image_pull pull;
	const char *const *insecure_registries; /* "host[:port]" */
	size_t n_insecure_registries;
	const char *const *allowed; /* oci.allowedGadgets; none: all */
	size_t n_allowed;
	const char *authfile;		/* NULL: oci_auth_file(NULL) */
	bool disallow_pulling;		/* oci.disallowPulling: never reach a registry */
	const struct oci_key_set *keys; /* verify signatures with these; NULL: no check */
	/* A whole pull (oci.pullTimeout); 0: the registry client's default. */
	uint64_t pull_timeout_ms;
	/*
	 * A short name the store does not have is looked up in these stores
	 * too, in order, read only (ig daemon: the gadgets installed with ig);
	 * a directory without a store is skipped.
	 */
	const char *const *fallback_stores;
	size_t n_fallback_stores;
};

/* A resolved gadget; everything owned. */
struct agent_image {
	char *ref;		      /* canonical reference found: "trace_exec:latest" */
	char *name;		      /* short name: "trace_exec" */
	char digest[OCI_DIGEST_SIZE]; /* the platform manifest's digest */
	void *program;
	size_t program_len;
	char *config; /* gadget.yaml, NUL-terminated; NULL when absent */
	size_t config_len;
	bool pulled; /* it came from the registry this time */
};

enum agent_image_error {
	AGENT_IMAGE_OK = 0,
	AGENT_IMAGE_BAD_REF,	 /* not a reference */
	AGENT_IMAGE_NOT_ALLOWED, /* not in oci.allowedGadgets */
	AGENT_IMAGE_NOT_FOUND,	 /* not in the store, nor in the registry */
	AGENT_IMAGE_FAILED,	 /* pull or store failed */
	AGENT_IMAGE_UNVERIFIED,	 /* its signature did not verify */
};

struct agent_config;

/*
 * Fills o from the agent's settings: the store, registries, allow-list,
 * pull policy, and the public keys parsed once (oci.publicKeys, unless
 * oci.verifyImage is false), which o then owns.  Logs which checks are on.
 * -EINVAL with err for a key that does not parse.
 */
int agent_image_opts_init(struct agent_image_opts *o, const struct agent_config *cfg, char *err,
			  size_t errlen);
void agent_image_opts_done(struct agent_image_opts *o);

/*
 * The allowedGadgets check alone (no I/O): 0 (also when only the digest the
 * image resolves to can decide), or -EACCES with the reason in err,
 * -EINVAL when image is not a reference.
 */
int agent_image_check_allowed(const struct agent_image_opts *o, const char *image, char *err,
			      size_t errlen);

/*
 * Finds image, pulling it when it has a registry and the store lacks it
 * (o->pull says otherwise: always pull first, or never; a short name is
 * never pulled).
 * Returns 0 and a new image in *ret (free with agent_image_free()), or
 * -errno with *ret_kind saying which kind of failure it was and a one-line
 * message in err.
 */
int agent_image_resolve(const struct agent_image_opts *o, const char *image,
			struct agent_image **ret, enum agent_image_error *ret_kind, char *err,
			size_t errlen);
struct agent_image *agent_image_free(struct agent_image *img);

#endif /* AGENT_IMAGE_H */
