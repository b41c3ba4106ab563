// SPDX-License-Identifier: Apache-2.0
/*
 * The allow-list of gadget images.  See allow.h.
 *
 * Every comparison is between canonical forms, so "trace_exec" and
 * "trace_exec:latest", or a registry written with and without the default
 * tag, cannot be told apart by an attacker choosing how to spell a name.
 */
#include "oci/allow.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "oci/ref.h"

/* The canonical name ("[registry/]repository") and tag of a reference. */
struct allow_ref {
	struct oci_ref *ref;
	char *name;
	char *canonical; /* "[registry/]repository[:tag][@digest]" */
};

static void allow_ref_done(struct allow_ref *a)
{
	oci_ref_free(a->ref);
	free(a->name);
	free(a->canonical);
}

static int allow_ref_parse(const char *s, struct allow_ref *a)
{
	int r;

	*a = (struct allow_ref){0};
	r = oci_ref_parse(s, &a->ref);
	if (r == 0)
		r = oci_ref_format_name(a->ref, &a->name);
	if (r == 0)
		r = oci_ref_format(a->ref, &a->canonical);
	if (r < 0)
		allow_ref_done(a);
	return r;
}

/* One pattern against the image; the image's resolved digest when known. */
static enum oci_allow allow_one(const char *pattern, const struct allow_ref *img,
				const char *digest)
{
	struct allow_ref p;
	enum oci_allow res = OCI_ALLOW_NO;
	size_t n = strlen(pattern);

	if (n && pattern[n - 1] == '*')
		return !strncmp(pattern, img->canonical, n - 1) ? OCI_ALLOW_YES : OCI_ALLOW_NO;
	if (allow_ref_parse(pattern, &p) < 0)
		return OCI_ALLOW_NO;
	if (strcmp(p.name, img->name))
		goto out;
	if (p.ref->digest) {
		/* "repo@digest" (a tag beside it changes nothing: the digest decides) */
		if (img->ref->digest && !strcmp(img->ref->digest, p.ref->digest))
			res = OCI_ALLOW_YES;
		else if (digest)
			res = !strcmp(digest, p.ref->digest) ? OCI_ALLOW_YES : OCI_ALLOW_NO;
		else if (!img->ref->digest)
			res = OCI_ALLOW_IF_DIGEST;
	} else if (img->ref->tag && p.ref->tag && !strcmp(img->ref->tag, p.ref->tag)) {
		res = OCI_ALLOW_YES;
	}
out:
	allow_ref_done(&p);
	return res;
}

int oci_allow_match(const char *const *patterns, size_t n, const char *image, const char *digest)
{
	enum oci_allow best = OCI_ALLOW_NO;
	struct allow_ref img;
	int r;

	r = allow_ref_parse(image, &img);
	if (r < 0)
		return r;
	if (!n)
		best = OCI_ALLOW_YES;
	for (size_t i = 0; i < n && best != OCI_ALLOW_YES; i++) {
		enum oci_allow a = allow_one(patterns[i], &img, digest);

		if (a > best)
			best = a;
	}
	allow_ref_done(&img);
	return best;
}

int oci_allow_check_pattern(const char *pattern, char *err, size_t errlen)
{
	const char *star = strchr(pattern, '*');
	struct allow_ref p;

	if (!*pattern)
		return base_err_fail(err, errlen, -EINVAL, "empty");
	if (star && star[1])
		return base_err_fail(err, errlen, -EINVAL, "'*' is only allowed at the end");
	if (star)
		return 0;
	if (allow_ref_parse(pattern, &p) < 0)
		return base_err_fail(err, errlen, -EINVAL,
				     "not an image reference, and no '*' at the end");
	allow_ref_done(&p);
	return 0;
}
