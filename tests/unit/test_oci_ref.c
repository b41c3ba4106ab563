// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for image references (oci/ref.c) and digests (oci/digest.c).
 *
 * Two tables: references that parse, with the four fields and the canonical
 * string expected, and references that must be refused.  The valid rows
 * also check that the canonical string parses back to the same fields.
 */
#include "oci/ref.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oci/digest.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define D256  "sha256:" HEX64

struct ref_case {
	const char *in;
	const char *registry, *repository, *tag, *digest;
	const char *canonical;
};

static const struct ref_case valid[] = {
	{"trace_open", NULL, "trace_open", "latest", NULL, "trace_open:latest"},
	{"trace_open:v1", NULL, "trace_open", "v1", NULL, "trace_open:v1"},
	{"org/gadget", NULL, "org/gadget", "latest", NULL, "org/gadget:latest"},
	{"ghcr.io/org/gadget:tag", "ghcr.io", "org/gadget", "tag", NULL, "ghcr.io/org/gadget:tag"},
	{"ghcr.io/inspektor-gadget/gadget/trace_open:latest", "ghcr.io",
	 "inspektor-gadget/gadget/trace_open", "latest", NULL,
	 "ghcr.io/inspektor-gadget/gadget/trace_open:latest"},
	{"localhost:5000/gadget:v1", "localhost:5000", "gadget", "v1", NULL,
	 "localhost:5000/gadget:v1"},
	{"localhost/gadget", "localhost", "gadget", "latest", NULL, "localhost/gadget:latest"},
	{"127.0.0.1:5000/a/b", "127.0.0.1:5000", "a/b", "latest", NULL,
	 "127.0.0.1:5000/a/b:latest"},
	{"[::1]:5000/gadget:x", "[::1]:5000", "gadget", "x", NULL, "[::1]:5000/gadget:x"},
	{"My-Registry.Example.com/x", "My-Registry.Example.com", "x", "latest", NULL,
	 "My-Registry.Example.com/x:latest"},
	{"reg.io/repo@" D256, "reg.io", "repo", NULL, D256, "reg.io/repo@" D256},
	{"repo:tag@" D256, NULL, "repo", "tag", D256, "repo:tag@" D256},
	{"a__b-c---d/e.f_g", NULL, "a__b-c---d/e.f_g", "latest", NULL, "a__b-c---d/e.f_g:latest"},
	{"x:_Tag.With-Chars_9", NULL, "x", "_Tag.With-Chars_9", NULL, "x:_Tag.With-Chars_9"},
	/* a host alone: the ':' starts a tag, as Docker reads it */
	{"localhost:5000", NULL, "localhost", "5000", NULL, "localhost:5000"},
	{"r.io/x@sha512:" HEX64 HEX64, "r.io", "x", NULL, "sha512:" HEX64 HEX64,
	 "r.io/x@sha512:" HEX64 HEX64},
	{"r.io/x@multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", "r.io", "x",
	 NULL, "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
	 "r.io/x@multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8"},
};

static const char *const invalid[] = {
	"",
	":tag",
	"@" D256,
	"Trace_open",	       /* uppercase repository */
	"ghcr.io/Org/gadget",  /* uppercase path component */
	"ghcr.io/",	       /* empty repository */
	"ghcr.io//x",	       /* empty component */
	"x/",		       /* trailing slash */
	"/x",		       /* leading slash */
	"_x",		       /* component starts with a separator */
	"x_",		       /* ... or ends with one */
	"a...b",	       /* separator run other than dashes */
	"a___b",	       /* three underscores */
	"a._b",		       /* mixed separators */
	"x:",		       /* empty tag */
	"x:.tag",	       /* tag starts with '.' */
	"x:-tag",	       /* tag starts with '-' */
	"x:ta g",	       /* space */
	"x:t@g",	       /* '@' inside the tag */
	"x@sha256:abc",	       /* short sha256 */
	"x@sha256:" HEX64 "0", /* long sha256 */
	"x@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
	"x@" HEX64,	    /* no algorithm */
	"x@sha256",	    /* no encoded part */
	"x@Sha256:" HEX64,  /* uppercase algorithm */
	"x@" D256 "@" D256, /* two digests */
	"-reg.io/x",	    /* host component starts with '-' */
	"reg-.io/x",	    /* ... or ends with it */
	"reg..io/x",	    /* empty host component */
	"reg.io:/x",	    /* empty port */
	"reg.io:123456/x",  /* port too long */
	"reg.io:80a/x",	    /* port not a number */
	"[]/x",		    /* empty IPv6 */
	"[zz::1]/x",	    /* not hex */
	"reg_io.com/x",	    /* '_' in a host */
	"x y",
	"x\n",
};

static void check_fields(const struct oci_ref *r, const struct ref_case *c)
{
	if (c->registry)
		assert_string_equal(r->registry, c->registry);
	else
		assert_null(r->registry);
	assert_string_equal(r->repository, c->repository);
	if (c->tag)
		assert_string_equal(r->tag, c->tag);
	else
		assert_null(r->tag);
	if (c->digest)
		assert_string_equal(r->digest, c->digest);
	else
		assert_null(r->digest);
}

static void test_valid(void **state)
{
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		const struct ref_case *c = &valid[i];
		struct oci_ref *r = NULL, *again = NULL;
		char *s = NULL;
		int err;

		err = oci_ref_parse(c->in, &r);
		if (err)
			print_error("refused: \"%s\"\n", c->in);
		assert_int_equal(err, 0);
		check_fields(r, c);
		assert_int_equal(oci_ref_format(r, &s), 0);
		assert_string_equal(s, c->canonical);
		/* the canonical form reads back to the same reference */
		assert_int_equal(oci_ref_parse(s, &again), 0);
		check_fields(again, c->tag ? c
					   : &(struct ref_case){
						     .registry = c->registry,
						     .repository = c->repository,
						     .digest = c->digest,
					     });
		free(s);
		oci_ref_free(again);
		oci_ref_free(r);
	}
}

static void test_invalid(void **state)
{
	struct oci_ref *sentinel = (struct oci_ref *)0x5a5a5a5a;

	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		struct oci_ref *r = sentinel;
		int err = oci_ref_parse(invalid[i], &r);

		if (err != -EINVAL)
			print_error("accepted: \"%s\"\n", invalid[i]);
		assert_int_equal(err, -EINVAL);
		assert_ptr_equal(r, sentinel);
	}
	assert_int_equal(oci_ref_parse(NULL, &sentinel), -EINVAL);
}

static void test_lengths(void **state)
{
	char name[OCI_REF_NAME_MAX_LEN + 2], tag[OCI_REF_TAG_MAX_LEN + 2], s[1024];
	struct oci_ref *r = NULL;

	/* name of exactly the maximum: "a.io/" + repository */
	memset(name, 'a', sizeof(name));
	memcpy(name, "a.io/", 5);
	name[OCI_REF_NAME_MAX_LEN] = '\0';
	assert_int_equal(oci_ref_parse(name, &r), 0);
	r = oci_ref_free(r);
	name[OCI_REF_NAME_MAX_LEN] = 'a';
	name[OCI_REF_NAME_MAX_LEN + 1] = '\0';
	assert_int_equal(oci_ref_parse(name, &r), -EINVAL);

	memset(tag, 't', sizeof(tag));
	tag[OCI_REF_TAG_MAX_LEN] = '\0';
	snprintf(s, sizeof(s), "x:%s", tag);
	assert_int_equal(oci_ref_parse(s, &r), 0);
	assert_int_equal(strlen(r->tag), OCI_REF_TAG_MAX_LEN);
	r = oci_ref_free(r);
	tag[OCI_REF_TAG_MAX_LEN] = 't';
	tag[OCI_REF_TAG_MAX_LEN + 1] = '\0';
	snprintf(s, sizeof(s), "x:%s", tag);
	assert_int_equal(oci_ref_parse(s, &r), -EINVAL);
}

static void test_format_name(void **state)
{
	struct oci_ref *r = NULL;
	char *s = NULL;

	assert_int_equal(oci_ref_parse("localhost:5000/a/b:v2@" D256, &r), 0);
	assert_int_equal(oci_ref_format_name(r, &s), 0);
	assert_string_equal(s, "localhost:5000/a/b");
	free(s);
	oci_ref_free(r);
	assert_null(oci_ref_free(NULL));
}

static void test_digest(void **state)
{
	char d[OCI_DIGEST_SIZE];
	struct oci_digest *h = NULL;

	/* sha256("") and sha256("abc"), the FIPS 180-2 test vectors */
	assert_int_equal(oci_digest_buf("", 0, d), 0);
	assert_string_equal(
		d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(oci_digest_new(&h), 0);
	assert_int_equal(oci_digest_update(h, "a", 1), 0);
	assert_int_equal(oci_digest_update(h, "bc", 2), 0);
	assert_int_equal(oci_digest_final(h, d), 0);
	assert_string_equal(
		d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(oci_digest_update(h, "x", 1), -EINVAL);
	oci_digest_free(h);

	assert_true(oci_digest_is_sha256(D256));
	assert_false(oci_digest_is_sha256("sha256:" HEX64 "0"));
	assert_false(oci_digest_is_sha256("sha256:../../../../etc/passwd"));
	assert_false(oci_digest_is_sha256("sha512:" HEX64));
	assert_false(oci_digest_is_sha256(NULL));
	assert_string_equal(oci_digest_hex(D256), HEX64);
	assert_int_equal(oci_digest_check(D256), 0);
	assert_int_equal(oci_digest_check("sha256:/etc/passwd"), -EINVAL);
	assert_int_equal(oci_digest_check("a+b.c_d-e:xyz="), 0);
	assert_int_equal(oci_digest_check("a++b:xyz"), -EINVAL);
	assert_int_equal(oci_digest_check(":xyz"), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),	cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_lengths), cmocka_unit_test(test_format_name),
		cmocka_unit_test(test_digest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
