/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inspektor Gadget's allow-list of gadget images (--allowed-gadgets,
 * oci.allowedGadgets): which image references may run.  A pattern is
 *
 *   "host/repo:tag"      that tag ("host/repo" alone means its :latest)
 *   "host/repo@sha256:.." that image, whatever tag names it: matched against
 *                        the digest the reference resolves to
 *   "host/prefix" + '*'  any reference starting with host/prefix (the star
 *                        only at the end: "ghcr.io/org/trace_" + '*')
 *
 * compared with the canonical form of the reference (oci/ref.h).  An empty
 * list allows everything.  A reference by tag that only a digest pattern of
 * its repository could allow is undecided until the tag is resolved, so a
 * caller can refuse everything else before touching the store or the
 * network.
 */
#ifndef OCI_ALLOW_H
#define OCI_ALLOW_H

#include <stddef.h>

enum oci_allow {
	OCI_ALLOW_NO = 0,
	OCI_ALLOW_YES,
	OCI_ALLOW_IF_DIGEST, /* only if the resolved digest is one a pattern names */
};

/*
 * Matches image (any reference) against the patterns; digest is what image
 * resolved to (the top object's digest), or NULL before resolving.  With a
 * digest the answer is YES or NO.  -EINVAL when image is not a reference.
 */
int oci_allow_match(const char *const *patterns, size_t n, const char *image, const char *digest);

/* 0 when pattern is one of the forms above, -EINVAL with the reason in err. */
int oci_allow_check_pattern(const char *pattern, char *err, size_t errlen);

#endif /* OCI_ALLOW_H */
