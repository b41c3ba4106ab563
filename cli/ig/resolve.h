/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Finding a gadget from what the user typed to ig run:
 *
 *  - a path: an eBPF object, or a directory holding program.bpf.o (and
 *    gadget.yaml beside it);
 *  - a full image reference with a registry ("localhost:5000/trace_open:v1",
 *    "ghcr.io/org/g@sha256:..."): taken from the local image store, pulled
 *    from its registry first when the pull policy says so;
 *  - a short name ("trace_open", "mygadget:v2"): the local image store,
 *    then the store of in-tree gadgets shipped beside the binary
 *    (<exe>/../oci-store in the build tree, <exe>/../lib/ig/oci-store where
 *    make install put it, /usr/local/lib/ig/oci-store, /usr/lib/ig/oci-store),
 *    then, for a bare name, the directories of built gadgets ($IG_GADGETS,
 *    <exe>/../gadgets, /usr/local/lib/ig/gadgets, /usr/lib/ig/gadgets).
 *
 * A gadget found in a store is read whole (program and gadget.yaml, every
 * blob's digest checked) and handed over in memory, so a store changing
 * under a running gadget cannot affect it.
 */
#ifndef CLI_IG_RESOLVE_H
#define CLI_IG_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>

struct ig_registry_flags;
struct oci_key_set;
struct oci_store_gadget;

/* Longest message a failed lookup leaves (what was tried, and where). */
#define IG_RESOLVE_ERRLEN 2048

enum ig_pull_policy {
	IG_PULL_MISSING = 0, /* pull when the local store does not have it */
	IG_PULL_ALWAYS,
	IG_PULL_NEVER,
};

/* "always", "missing", "never"; -EINVAL for anything else. */
int ig_pull_policy_parse(const char *s, enum ig_pull_policy *ret);

struct ig_resolve_opts {
	const char *store_dir; /* --store, or NULL for ig_store_dir(NULL) */
	enum ig_pull_policy pull;
	const struct ig_registry_flags *registry; /* for pulls; may be NULL */
	/*
	 * The image policy (oci/allow.h, oci/signature.h): with keys or
	 * patterns, only images run (no paths, no built gadget directories);
	 * an image must match a pattern and be signed by one of the keys.
	 * disallow_pulling keeps registries out, signatures included.
	 */
	const struct oci_key_set *keys; /* NULL: no signature check */
	const char *const *allowed;
	size_t n_allowed;
	bool disallow_pulling;
};

struct ig_gadget_files {
	char *name; /* short name for messages and the BPF object: "trace_open" */
	/* From a path or a directory of built gadgets: */
	char *elf_path;	 /* the eBPF object */
	char *yaml_path; /* gadget.yaml beside it, or NULL when there is none */
	/* From an image: */
	struct oci_store_gadget *image; /* program and gadget.yaml in memory */
	char *ref;			/* canonical reference found */
	char *store_dir;		/* the store it came from */
};

/*
 * Resolves spec.  On failure returns -errno and leaves a one-line reason in
 * err (for a gadget that was not found: every place tried), except when a
 * pull failed: the pull has printed its own error then and err is "".
 */
int ig_resolve_gadget(const char *spec, const struct ig_resolve_opts *opts,
		      struct ig_gadget_files *ret, char *err, size_t errlen);
void ig_gadget_files_done(struct ig_gadget_files *f);

/*
 * Every short name ig run would find, for shell completion: the images of
 * the local store (store_dir as --store) and of the in-tree stores ("name"
 * for name:latest, and "name:tag"), and the built gadget directories.  fn
 * gets each (borrowed for the call; repeats are possible).
 */
typedef void (*ig_resolve_name_fn)(void *ctx, const char *name);
void ig_resolve_names(const char *store_dir, ig_resolve_name_fn fn, void *ctx);

/*
 * "<directory of the running ig binary>/rel" as a new string (free()), or
 * NULL.  The build tree and installed layouts put ig's data at fixed places
 * relative to the binary.
 */
char *ig_resolve_exe_path(const char *rel);

#endif /* CLI_IG_RESOLVE_H */
