/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image references: "trace_open", "ghcr.io/org/gadget:v1",
 * "localhost:5000/gadget@sha256:<hex>".
 *
 * The grammar is the one of the OCI distribution spec and of Docker's
 * reference package: a name made of an optional registry (host[:port]) and
 * a repository of lowercase path components, then an optional ":tag" and an
 * optional "@digest".  The first path component is a registry when it
 * contains '.' or ':', is "localhost", or is a bracketed IPv6 address;
 * otherwise the whole name is the repository and registry is NULL.  Such a
 * short name ("trace_open", "org/gadget") is kept as written: how it maps
 * to a registry or to the in-tree gadgets is for the caller to decide.
 */
#ifndef OCI_REF_H
#define OCI_REF_H

#include <stddef.h>

/* Docker's limit on registry + "/" + repository. */
#define OCI_REF_NAME_MAX_LEN 255
#define OCI_REF_TAG_MAX_LEN  128
/* Longest reference string accepted at all (name, tag and any digest). */
#define OCI_REF_MAX_LEN	    1024
#define OCI_REF_DEFAULT_TAG "latest"

struct oci_ref {
	char *registry;	  /* "ghcr.io", "localhost:5000"; NULL for a short name */
	char *repository; /* "org/gadget", or the short name "trace_open" */
	char *tag;	  /* "latest" when neither a tag nor a digest is given */
	char *digest;	  /* "sha256:<hex>", or NULL */
};

/*
 * Parses s.  Returns 0 and a new reference in *ret (free with
 * oci_ref_free()); -EINVAL when s is not a valid reference (uppercase in the
 * repository, bad tag or digest, empty components, name longer than
 * OCI_REF_NAME_MAX_LEN, ...), -ENOMEM.  *ret is untouched on failure.
 */
int oci_ref_parse(const char *s, struct oci_ref **ret);
/*
 * The canonical form "[registry/]repository[:tag][@digest]" as a new string
 * in *ret (free()).  Parsing the result gives back the same reference.
 */
int oci_ref_format(const struct oci_ref *r, char **ret);
/* The name alone, "[registry/]repository", as a new string in *ret. */
int oci_ref_format_name(const struct oci_ref *r, char **ret);
struct oci_ref *oci_ref_free(struct oci_ref *r);

#endif /* OCI_REF_H */
