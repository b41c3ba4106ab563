// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for registry credentials and WWW-Authenticate parsing (oci/auth.c).
 *
 * The credentials file is shared with podman, skopeo and docker, so what
 * matters is what those tools would see afterwards: other keys and entries
 * kept, mode 0600, and a file we cannot parse left exactly as it was.  The
 * challenge parser is fed the forms registries send and the malformed ones
 * a hostile server could.
 */
#include "oci/auth.h"

#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/file.h"
#include "oci/registry.h"

static char tmp_root[64];
static char err[512];

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	snprintf(tmp_root, sizeof(tmp_root), "/tmp/test-oci-auth-XXXXXX");
	if (!mkdtemp(tmp_root))
		return -1;
	err[0] = '\0';
	return 0;
}

static int teardown(void **state)
{
	nftw(tmp_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static const char *tmp_path(const char *name)
{
	static char buf[4][PATH_MAX];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmp_root, name);
	return buf[k];
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	fclose(f);
}

static char *read_file(const char *path)
{
	char *buf = NULL;
	size_t n = 0;
	int r = base_file_read(path, SIZE_MAX, &buf, &n);

	assert_int_equal(r, 0);
	return buf;
}

static json_t *load(const char *path)
{
	json_t *root = json_load_file(path, 0, NULL);

	assert_non_null(root);
	return root;
}

static void expect_creds(const char *path, const char *registry, const char *user,
			 const char *password)
{
	char *u = NULL, *p = NULL;
	int r = oci_auth_get(path, registry, &u, &p, err, sizeof(err));

	if (r != 1)
		print_error("get %s: %d %s\n", registry, r, err);
	assert_int_equal(r, 1);
	assert_string_equal(u, user);
	assert_string_equal(p, password);
	free(u);
	free(p);
}

static void expect_absent(const char *path, const char *registry)
{
	char *u = NULL, *p = NULL;

	assert_int_equal(oci_auth_get(path, registry, &u, &p, err, sizeof(err)), 0);
	assert_null(u);
	assert_null(p);
}

/* ---- the file ---- */

static void test_file_default(void **state)
{
	unsetenv(OCI_AUTH_FILE_ENV);
	assert_string_equal(oci_auth_file(NULL), OCI_AUTH_DEFAULT_FILE);
	assert_string_equal(oci_auth_file(""), OCI_AUTH_DEFAULT_FILE);
	setenv(OCI_AUTH_FILE_ENV, "/tmp/env.json", 1);
	assert_string_equal(oci_auth_file(NULL), "/tmp/env.json");
	assert_string_equal(oci_auth_file("/x.json"), "/x.json");
	setenv(OCI_AUTH_FILE_ENV, "", 1);
	assert_string_equal(oci_auth_file(NULL), OCI_AUTH_DEFAULT_FILE);
	unsetenv(OCI_AUTH_FILE_ENV);
}

static void test_create_and_get(void **state)
{
	const char *path = tmp_path("a/b/auth.json");
	struct stat st;
	json_t *root;

	/* no file: nothing known, and nothing created by looking */
	expect_absent(path, "localhost:5000");
	assert_int_equal(stat(path, &st), -1);

	assert_int_equal(
		oci_auth_set(path, "localhost:5000", "alice", "pa:ss word", err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(tmp_path("a/b"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* a password may hold ':'; only the first one splits */
	expect_creds(path, "localhost:5000", "alice", "pa:ss word");
	expect_absent(path, "localhost:5001");

	/* the format other tools read: base64 of user:password */
	root = load(path);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(root, "auths"), "localhost:5000"), "auth")),
		"YWxpY2U6cGE6c3Mgd29yZA==");
	json_decref(root);

	/* no temporary file left beside it */
	assert_int_equal(access(tmp_path("a/b/auth.json.tmp"), F_OK), -1);
}

static void test_update_keeps_other_keys(void **state)
{
	const char *path = tmp_path("auth.json");
	json_t *root, *auths;

	write_file(path, "{\"auths\":{\"ghcr.io\":{\"auth\":\"Ym9iOnNlY3JldA==\"},"
			 "\"https://localhost:5000/v1/\":{\"auth\":\"b2xkOm9sZA==\","
			 "\"email\":\"x@example.com\"}},"
			 "\"credHelpers\":{\"gcr.io\":\"gcloud\"},\"psFormat\":\"table\"}");
	chmod(path, 0644);
	expect_creds(path, "ghcr.io", "bob", "secret");
	/* a key spelled as a URL names the same registry */
	expect_creds(path, "localhost:5000", "old", "old");

	assert_int_equal(oci_auth_set(path, "localhost:5000", "new", "pw", err, sizeof(err)), 0);
	expect_creds(path, "localhost:5000", "new", "pw");
	expect_creds(path, "ghcr.io", "bob", "secret");
	root = load(path);
	auths = json_object_get(root, "auths");
	/* updated in place under its existing spelling, its other fields kept */
	assert_int_equal(json_object_size(auths), 2);
	assert_null(json_object_get(auths, "localhost:5000"));
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(auths, "https://localhost:5000/v1/"), "email")),
			    "x@example.com");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(root, "credHelpers"), "gcr.io")),
		"gcloud");
	assert_string_equal(json_string_value(json_object_get(root, "psFormat")), "table");
	json_decref(root);
	{
		struct stat st;

		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}

	/* a second registry is added beside them */
	assert_int_equal(oci_auth_set(path, "registry.local", "c", "d", err, sizeof(err)), 0);
	expect_creds(path, "registry.local", "c", "d");
	expect_creds(path, "ghcr.io", "bob", "secret");
}

static void test_remove(void **state)
{
	const char *path = tmp_path("auth.json");
	json_t *root;

	/* nothing to remove from a file that is not there */
	assert_int_equal(oci_auth_remove(path, "localhost:5000", err, sizeof(err)), 0);
	assert_int_equal(oci_auth_remove(path, NULL, err, sizeof(err)), 0);
	assert_int_equal(access(path, F_OK), -1);

	write_file(path,
		   "{\"auths\":{\"a.io\":{\"auth\":\"YTpi\"},"
		   "\"https://b.io/v1/\":{\"auth\":\"YzpkZA==\"},\"b.io\":{\"auth\":\"eDp5\"}},"
		   "\"credsStore\":\"secretservice\"}");
	assert_int_equal(oci_auth_remove(path, "nope.io", err, sizeof(err)), 0);
	/* every spelling of the registry goes */
	assert_int_equal(oci_auth_remove(path, "b.io", err, sizeof(err)), 1);
	expect_absent(path, "b.io");
	expect_creds(path, "a.io", "a", "b");
	assert_int_equal(oci_auth_remove(path, "b.io", err, sizeof(err)), 0);

	/* --all: every entry, but not the other keys */
	assert_int_equal(oci_auth_remove(path, NULL, err, sizeof(err)), 1);
	expect_absent(path, "a.io");
	root = load(path);
	assert_int_equal(json_object_size(json_object_get(root, "auths")), 0);
	assert_string_equal(json_string_value(json_object_get(root, "credsStore")),
			    "secretservice");
	json_decref(root);
	assert_int_equal(oci_auth_remove(path, NULL, err, sizeof(err)), 0);
}

static void expect_untouched(const char *path, const char *content, int r, const char *needle)
{
	char *now;

	assert_int_equal(r, -EINVAL);
	if (!strstr(err, needle))
		print_error("message \"%s\" lacks \"%s\"\n", err, needle);
	assert_non_null(strstr(err, needle));
	now = read_file(path);
	assert_string_equal(now, content);
	free(now);
}

static void test_malformed(void **state)
{
	static const char *const bad_files[] = {
		"{\"auths\": {",		  /* truncated */
		"[1,2]",			  /* not an object */
		"{\"auths\": []}",		  /* auths not an object */
		"{\"auths\": {}, \"auths\": {}}", /* duplicate key */
	};
	const char *path = tmp_path("auth.json");
	char *u = NULL, *p = NULL;

	for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
		write_file(path, bad_files[i]);
		expect_untouched(path, bad_files[i],
				 oci_auth_get(path, "a.io", &u, &p, err, sizeof(err)), path);
		expect_untouched(path, bad_files[i],
				 oci_auth_set(path, "a.io", "u", "p", err, sizeof(err)), path);
		expect_untouched(path, bad_files[i],
				 oci_auth_remove(path, "a.io", err, sizeof(err)), path);
		expect_untouched(path, bad_files[i], oci_auth_remove(path, NULL, err, sizeof(err)),
				 path);
	}
	assert_null(u);
	assert_null(p);

	/* malformed entries: an error for that registry, others still work */
	write_file(
		path,
		"{\"auths\":{\"a.io\":{\"auth\":\"!!!\"},\"b.io\":{\"auth\":\"bm9jb2xvbg==\"},"
		"\"c.io\":{\"auth\":7},\"d.io\":\"x\",\"e.io\":{},\"f.io\":{\"auth\":\"YTpi\"}}}");
	assert_int_equal(oci_auth_get(path, "a.io", &u, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "a.io"));
	assert_int_equal(oci_auth_get(path, "b.io", &u, &p, err, sizeof(err)), -EINVAL);
	assert_int_equal(oci_auth_get(path, "c.io", &u, &p, err, sizeof(err)), -EINVAL);
	assert_int_equal(oci_auth_get(path, "d.io", &u, &p, err, sizeof(err)), -EINVAL);
	/* an entry a credential helper fills is not ours to read */
	expect_absent(path, "e.io");
	expect_creds(path, "f.io", "a", "b");
	assert_null(u);
	assert_null(p);

	/* an empty file is an empty one, as some tools create it */
	write_file(path, "");
	expect_absent(path, "a.io");
	assert_int_equal(oci_auth_set(path, "a.io", "u", "p", err, sizeof(err)), 0);
	expect_creds(path, "a.io", "u", "p");
}

static void test_limits(void **state)
{
	const char *path = tmp_path("auth.json");
	char *big, *u = NULL, *p = NULL;
	FILE *f;

	/* bad arguments leave no file behind */
	assert_int_equal(oci_auth_set(path, "a.io", "us:er", "p", err, sizeof(err)), -EINVAL);
	assert_int_equal(oci_auth_set(path, "a.io", "", "p", err, sizeof(err)), -EINVAL);
	assert_int_equal(oci_auth_set(path, "", "u", "p", err, sizeof(err)), -EINVAL);
	assert_int_equal(oci_auth_set(path, "a b", "u", "p", err, sizeof(err)), -EINVAL);
	big = malloc(OCI_AUTH_MAX_PASSWORD + 2);
	assert_non_null(big);
	memset(big, 'x', OCI_AUTH_MAX_PASSWORD + 1);
	big[OCI_AUTH_MAX_PASSWORD + 1] = '\0';
	assert_int_equal(oci_auth_set(path, "a.io", "u", big, err, sizeof(err)), -EINVAL);
	big[OCI_AUTH_MAX_PASSWORD] = '\0';
	assert_int_equal(oci_auth_set(path, "a.io", "u", big, err, sizeof(err)), 0);
	expect_creds(path, "a.io", "u", big);
	big[OCI_AUTH_MAX_USER + 1] = '\0';
	assert_int_equal(oci_auth_set(path, "a.io", big, "p", err, sizeof(err)), -EINVAL);
	free(big);

	/* a file past the limit is refused, not read */
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs("{\"auths\":{},\"pad\":\"", f);
	for (unsigned int i = 0; i < OCI_AUTH_MAX_FILE; i += 64)
		fputs("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", f);
	fputs("\"}", f);
	fclose(f);
	assert_int_equal(oci_auth_get(path, "a.io", &u, &p, err, sizeof(err)), -EFBIG);
	assert_int_equal(oci_auth_set(path, "a.io", "u", "p", err, sizeof(err)), -EFBIG);

	/* a directory in the way */
	assert_int_equal(mkdir(tmp_path("dir.json"), 0700), 0);
	assert_int_equal(oci_auth_get(tmp_path("dir.json"), "a.io", &u, &p, err, sizeof(err)),
			 -EINVAL);
}

static void test_encode_basic(void **state)
{
	char *s = NULL;

	/* RFC 7617's example */
	assert_int_equal(oci_auth_encode_basic("Aladdin", "open sesame", &s), 0);
	assert_string_equal(s, "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
	free(s);
	assert_int_equal(oci_auth_encode_basic("a", "", &s), 0);
	assert_string_equal(s, "YTo=");
	free(s);
	assert_int_equal(oci_auth_encode_basic("ab", "c", &s), 0);
	assert_string_equal(s, "YWI6Yw==");
	free(s);
}

/* ---- WWW-Authenticate ---- */

static int parse(const char *h, struct oci_auth_challenge *c)
{
	return oci_auth_parse_challenge(h, strlen(h), c);
}

static void expect_bearer(const char *h, const char *realm, const char *service, const char *scope)
{
	struct oci_auth_challenge c;
	int r = parse(h, &c);

	if (r)
		print_error("parse \"%s\": %d\n", h, r);
	assert_int_equal(r, 0);
	assert_int_equal(c.scheme, OCI_AUTH_SCHEME_BEARER);
	assert_string_equal(c.realm, realm);
	if (service)
		assert_string_equal(c.service, service);
	else
		assert_null(c.service);
	if (scope)
		assert_string_equal(c.scope, scope);
	else
		assert_null(c.scope);
	oci_auth_challenge_done(&c);
}

static void expect_invalid(const char *h, int want)
{
	struct oci_auth_challenge c;
	int r = parse(h, &c);

	if (r != want)
		print_error("parse \"%s\": %d, expected %d\n", h, r, want);
	assert_int_equal(r, want);
	assert_null(c.realm);
	assert_null(c.service);
	assert_null(c.scope);
}

static void test_challenge_forms(void **state)
{
	struct oci_auth_challenge c;

	/* what distribution sends */
	expect_bearer("Bearer realm=\"https://auth.example/token\",service=\"registry\","
		      "scope=\"repository:org/gadget:pull,push\"",
		      "https://auth.example/token", "registry", "repository:org/gadget:pull,push");
	/* case-insensitive names, spaces around '=' and ',', token values */
	expect_bearer("bearer  Realm = \"https://a/t\" , SERVICE=reg.io , error=invalid_token",
		      "https://a/t", "reg.io", NULL);
	/* escapes inside quoted strings */
	expect_bearer("Bearer realm=\"https://a/t?x=\\\"y\\\"\",scope=\"a\\\\b\"",
		      "https://a/t?x=\"y\"", NULL, "a\\b");
	/* empty list elements are allowed */
	expect_bearer("Bearer ,realm=\"r\",,service=\"s\",", "r", "s", NULL);
	/* only the first challenge counts */
	expect_bearer("Bearer realm=\"r1\", Basic realm=\"r2\"", "r1", NULL, NULL);

	assert_int_equal(parse("Basic realm=\"Registry Realm\"", &c), 0);
	assert_int_equal(c.scheme, OCI_AUTH_SCHEME_BASIC);
	assert_string_equal(c.realm, "Registry Realm");
	oci_auth_challenge_done(&c);
	assert_int_equal(parse("Basic realm=\"a\", Bearer realm=\"b\"", &c), 0);
	assert_int_equal(c.scheme, OCI_AUTH_SCHEME_BASIC);
	assert_string_equal(c.realm, "a");
	oci_auth_challenge_done(&c);
	/* Basic needs no parameters to be answered */
	assert_int_equal(parse("Basic", &c), 0);
	assert_int_equal(c.scheme, OCI_AUTH_SCHEME_BASIC);
	assert_null(c.realm);
	oci_auth_challenge_done(&c);
	assert_int_equal(parse("Basic, Bearer realm=\"b\"", &c), 0);
	assert_int_equal(c.scheme, OCI_AUTH_SCHEME_BASIC);
	oci_auth_challenge_done(&c);
	/* the length bounds the header, not a terminator */
	assert_int_equal(oci_auth_parse_challenge("Bearer realm=\"r\"garbage", 16, &c), 0);
	assert_string_equal(c.realm, "r");
	oci_auth_challenge_done(&c);
	/* done is safe twice */
	oci_auth_challenge_done(&c);
	oci_auth_challenge_done(NULL);
}

static void test_challenge_bad(void **state)
{
	struct oci_auth_challenge c;
	char *big;

	expect_invalid("", -EINVAL);
	expect_invalid("   ", -EINVAL);
	expect_invalid("Bearer service=\"s\"", -EINVAL); /* no realm */
	expect_invalid("Bearer realm=\"\"", -EINVAL);
	expect_invalid("Bearer", -EINVAL);
	expect_invalid("Bearer realm=\"unterminated", -EINVAL);
	expect_invalid("Bearer realm=\"r\\", -EINVAL);
	expect_invalid("Bearer realm=", -EINVAL);
	expect_invalid("Bearer realm=https://a/t", -EINVAL); /* '/' is not a token char */
	expect_invalid("Bearer realm=\"r\" service=\"s\"", -EINVAL);
	expect_invalid("Bearer realm=\"a\",realm=\"b\"", -EINVAL);
	expect_invalid("Bearer realm=\"a\nb\"", -EINVAL);
	expect_invalid("Bearer realm=\"a\x7f\"", -EINVAL);
	expect_invalid("Bearer =\"r\"", -EINVAL);
	expect_invalid("Bearer\"realm\"", -EINVAL);
	expect_invalid("\"Bearer\" realm=\"r\"", -EINVAL);

	/* a scheme we do not speak: named as unknown */
	assert_int_equal(parse("Negotiate YIIBhwYGKwYBBQUCoIIBezCCAXeg", &c), -EOPNOTSUPP);
	assert_int_equal(c.scheme, OCI_AUTH_SCHEME_UNKNOWN);
	assert_null(c.realm);
	assert_int_equal(parse("Digest realm=\"r\", nonce=\"n\"", &c), -EOPNOTSUPP);
	assert_int_equal(parse("Bearerx realm=\"r\"", &c), -EOPNOTSUPP);

	/* overlong */
	big = malloc(OCI_REGISTRY_MAX_CHALLENGE + 64);
	assert_non_null(big);
	snprintf(big, OCI_REGISTRY_MAX_CHALLENGE + 64, "Bearer realm=\"");
	memset(big + strlen(big), 'a', OCI_REGISTRY_MAX_CHALLENGE);
	big[OCI_REGISTRY_MAX_CHALLENGE + 14] = '"';
	big[OCI_REGISTRY_MAX_CHALLENGE + 15] = '\0';
	expect_invalid(big, -EFBIG);
	/* just under the limit is fine */
	big[OCI_REGISTRY_MAX_CHALLENGE - 2] = '"';
	big[OCI_REGISTRY_MAX_CHALLENGE - 1] = '\0';
	assert_int_equal(parse(big, &c), 0);
	assert_int_equal(strlen(c.realm), OCI_REGISTRY_MAX_CHALLENGE - 16);
	oci_auth_challenge_done(&c);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_default),
		cmocka_unit_test_setup_teardown(test_create_and_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_keeps_other_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test(test_encode_basic),
		cmocka_unit_test(test_challenge_forms),
		cmocka_unit_test(test_challenge_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
