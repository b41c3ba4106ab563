// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for image references (oci/ref.c).
 *
 * References come from command lines, gadget manifests and tarball
 * index.json files.  Beyond not crashing, every accepted reference must
 * round-trip: its canonical string parses again to the same canonical
 * string, and each field obeys its own grammar's limits.  Any broken promise
 * aborts so that the fuzzer records the input.
 */
#include "oci/ref.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oci/digest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(const struct oci_ref *r)
{
	if (!r->repository || !*r->repository)
		abort();
	if (!r->tag && !r->digest)
		abort();
	if (r->tag && (!*r->tag || strlen(r->tag) > OCI_REF_TAG_MAX_LEN))
		abort();
	if (r->digest && oci_digest_check(r->digest) != 0)
		abort();
	if (strchr(r->repository, ':') || strchr(r->repository, '@'))
		abort();
	if (r->registry && (!*r->registry || strchr(r->registry, '/')))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oci_ref *r = NULL, *again = NULL;
	char *s, *canon = NULL, *canon2 = NULL, *name = NULL;

	if (size > OCI_REF_MAX_LEN + 16)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	oci_digest_check(s);
	if (oci_ref_parse(s, &r) == 0) {
		fuzz_check(r);
		if (oci_ref_format(r, &canon) != 0 || oci_ref_format_name(r, &name) != 0)
			abort();
		if (strncmp(canon, name, strlen(name)))
			abort();
		if (oci_ref_parse(canon, &again) != 0)
			abort();
		fuzz_check(again);
		if (oci_ref_format(again, &canon2) != 0 || strcmp(canon, canon2))
			abort();
	}
	free(canon);
	free(canon2);
	free(name);
	oci_ref_free(again);
	oci_ref_free(r);
	free(s);
	return 0;
}
