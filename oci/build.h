/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Building a gadget image from its sources.
 *
 * A gadget source directory holds program.bpf.c and gadget.yaml, and may
 * hold a build.yaml that names them differently:
 *
 *   ebpfsource: probes/main.bpf.c     (default program.bpf.c)
 *   metadata: meta/gadget.yaml        (default gadget.yaml)
 *
 * (paths relative to the directory; other keys are ignored).  The program
 * is compiled with clang for the BPF target and stripped of DWARF with
 * llvm-strip -g, which keeps the .BTF and .BTF.ext sections the runtime
 * needs; gadget.yaml is checked with oci_metadata_parse() and stored
 * verbatim.  A build.yaml may also name a WebAssembly module (wasm:), which
 * this runtime does not run: the build goes on without it and says so in
 * the messages it returns.  The BPF target is -mcpu=v3 (32-bit
 * subregisters and jumps, Linux 5.1 on), with which the verifier follows
 * bounds that clang's v1 code loses.  The result is an image index with one linux/<arch> manifest
 * (config: gadget.yaml, one layer: the ELF), written to a store and tagged.
 *
 * Builds are reproducible: the compiler runs in the source directory with
 * that directory and the include directories mapped out of the debug paths
 * (BTF line info records file names), JSON is written compactly in a fixed
 * key order, and the creation time comes from SOURCE_DATE_EPOCH when the
 * caller passes it.  The same sources, headers, compiler and epoch give the
 * same index digest.
 */
#ifndef OCI_BUILD_H
#define OCI_BUILD_H

#include "oci/digest.h"

struct oci_store;

/* Most output of one compiler or strip run kept for the caller. */
#define OCI_BUILD_MAX_LOG	 (64u << 10)
#define OCI_BUILD_MAX_BUILD_YAML (64u << 10)

struct oci_build_opts {
	const char *source_dir;		 /* required */
	const char *const *include_dirs; /* NULL-terminated; bpf/include, vmlinux.h's dir */
	struct oci_store *store;	 /* required: where the image goes */
	const char *ref;		 /* required: tag to give it, "name:tag" */
	const char *arch;		 /* OCI name ("amd64"); NULL for the host's */
	/*
	 * Decimal seconds since the epoch for org.opencontainers.image.created,
	 * usually getenv("SOURCE_DATE_EPOCH"); NULL for the current time.
	 */
	const char *source_date_epoch;
	const char *clang; /* NULL: the newest of OCI_BUILD_CLANGS (oci_build_toolchain()) */
	const char *strip; /* NULL: llvm-strip of clang's version, else llvm-strip */
	const char *const *cflags; /* extra compiler flags, NULL-terminated; may be NULL */
};

/*
 * The compilers tried when none is given, newest first: Debian 12 offers
 * clang 14 (its default "clang"), 15, 16 and 19, and clang 14 cannot build
 * every gadget (it crashes on bpf_core_type_matches() and leaves memcmp()
 * calls unresolved in some of Inspektor Gadget's gadgets).
 */
#define OCI_BUILD_CLANGS "clang-19", "clang-18", "clang-17", "clang-16", "clang-15", "clang"

/* The compiler a build uses and how it describes itself. */
struct oci_build_toolchain {
	char clang[4096];  /* the executable: "/usr/bin/clang-19" */
	char strip[4096];  /* the matching llvm-strip: "/usr/bin/llvm-strip-19" */
	char version[160]; /* first line of clang --version: "Debian clang version 19.1.7 ..." */
};

/*
 * Finds the compiler: clang as given (a name looked up in PATH, or a
 * path), or when NULL the first of OCI_BUILD_CLANGS in PATH; llvm-strip of
 * the same version when there is one (strip NULL), else llvm-strip.
 * -ENOENT with the names tried in err when there is none.
 */
int oci_build_toolchain(const char *clang, const char *strip, struct oci_build_toolchain *ret,
			char *err, size_t errlen);

/*
 * Builds and tags the image.  Returns 0 and writes the digest of the image
 * index to digest_out (when not NULL).  When ret_msg is not NULL it
 * receives NULL or a malloc()ed text for the user: on failure the compiler's
 * diagnostics ("program.bpf.c:12:3: error: ...") or a one-line reason, on
 * success any compiler warnings.  Errors: -EINVAL (bad options, bad
 * gadget.yaml or build.yaml, or the compiler failed), -ENOENT (a source file,
 * or clang itself, is missing), -ENOEXEC (the compiler produced something
 * that is not a BPF ELF), -EFBIG (over a size limit), or the store's errors.
 */
int oci_build(const struct oci_build_opts *opts, char digest_out[OCI_DIGEST_SIZE], char **ret_msg);

/* The __TARGET_ARCH_<x> name for an OCI architecture, or NULL if unknown. */
const char *oci_build_target_arch(const char *oci_arch);

#endif /* OCI_BUILD_H */
