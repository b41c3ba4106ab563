// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the local OCI image-layout store (oci/store.c).
 *
 * Every test works in its own temporary directory.  Images are assembled
 * here by hand (JSON written with snprintf, a fake "ELF" as the layer) so
 * that each test controls exactly what is wrong with them: a missing blob,
 * a wrong media type, a lying descriptor size, a byte flipped on disk or in
 * a tarball.  What is checked is what a user would see: the error code, the
 * message naming the culprit, and the store left as it was.
 */
#include "oci/store.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/file.h"
#include "oci/digest.h"

#define YAML_A	"name: a\ndescription: gadget a\n"
#define YAML_B	"name: b\n"
#define PROG_A	"\177ELF program a, not really an ELF"
#define PROG_B	"\177ELF program b"
#define CREATED "2024-01-02T03:04:05Z"
/* sha256 of nothing: a valid digest no test stores */
#define ABSENT "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/* index.json tagging c:latest with a descriptor whose digest is not one */
#define BAD_INDEX                                                                                  \
	"{\"manifests\":[{\"mediaType\":\"" OCI_MEDIA_TYPE_GADGET_CONFIG "\",\"digest\":\"x\","    \
	"\"size\":1,\"annotations\":{\"" OCI_ANNOTATION_REF_NAME "\":\"c:latest\"}}]}"

struct img {
	char config[OCI_DIGEST_SIZE];
	char program[OCI_DIGEST_SIZE];
	char manifest[OCI_DIGEST_SIZE];
	char index[OCI_DIGEST_SIZE];
	size_t manifest_len, index_len;
	size_t size; /* all four blobs */
};

struct img_spec {
	const char *yaml, *program;
	const char *arch;
	const char *config_type, *layer_type;
	long long layer_size; /* -1: the real one */
};

static char tmp_root[64];
/*
 * Set in forked writers: a cmocka assert there would jump back into the
 * child's copy of the test runner, so failures exit instead.
 */
static int child_id = -1;

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_rf(const char *path)
{
	nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
	snprintf(tmp_root, sizeof(tmp_root), "/tmp/test-oci-store-XXXXXX");
	if (!mkdtemp(tmp_root))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	rm_rf(tmp_root);
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

static struct oci_store *open_store(const char *name)
{
	struct oci_store *s = NULL;

	assert_int_equal(oci_store_open(tmp_path(name), &s), 0);
	return s;
}

static void put(struct oci_store *s, const char *data, size_t len, char digest[OCI_DIGEST_SIZE])
{
	int r = oci_store_put_blob(s, data, len, NULL, digest);

	if (r && child_id >= 0) {
		fprintf(stderr, "writer %d: %s\n", child_id, oci_store_errmsg(s));
		_exit(15);
	}
	if (r)
		print_error("put: %s\n", oci_store_errmsg(s));
	assert_int_equal(r, 0);
}

static void make_image(struct oci_store *s, const struct img_spec *sp, struct img *out)
{
	char manifest[2048], index[2048];
	long long layer_size =
		sp->layer_size >= 0 ? sp->layer_size : (long long)strlen(sp->program);

	put(s, sp->yaml, strlen(sp->yaml), out->config);
	put(s, sp->program, strlen(sp->program), out->program);
	snprintf(manifest, sizeof(manifest),
		 "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\","
		 "\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu},"
		 "\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%lld}],"
		 "\"annotations\":{\"" OCI_ANNOTATION_CREATED "\":\"" CREATED "\"}}",
		 sp->config_type ? sp->config_type : OCI_MEDIA_TYPE_GADGET_CONFIG, out->config,
		 strlen(sp->yaml), sp->layer_type ? sp->layer_type : OCI_MEDIA_TYPE_GADGET_PROGRAM,
		 out->program, layer_size);
	out->manifest_len = strlen(manifest);
	put(s, manifest, out->manifest_len, out->manifest);
	snprintf(index, sizeof(index),
		 "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MEDIA_TYPE_INDEX "\","
		 "\"manifests\":[{\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\",\"digest\":\"%s\","
		 "\"size\":%zu,\"platform\":{\"architecture\":\"%s\",\"os\":\"linux\"}}],"
		 "\"annotations\":{\"" OCI_ANNOTATION_CREATED "\":\"" CREATED "\"}}",
		 out->manifest, out->manifest_len, sp->arch ? sp->arch : oci_store_host_arch());
	out->index_len = strlen(index);
	put(s, index, out->index_len, out->index);
	out->size = strlen(sp->yaml) + strlen(sp->program) + out->manifest_len + out->index_len;
}

static void make_simple(struct oci_store *s, const char *yaml, const char *prog, struct img *out)
{
	struct img_spec sp = {.yaml = yaml, .program = prog, .layer_size = -1};

	make_image(s, &sp, out);
}

static void tag(struct oci_store *s, const char *ref, const char *digest)
{
	int r = oci_store_tag(s, ref, digest);

	if (r)
		print_error("tag %s: %s\n", ref, oci_store_errmsg(s));
	assert_int_equal(r, 0);
}

static void assert_msg(struct oci_store *s, const char *needle)
{
	if (!strstr(oci_store_errmsg(s), needle))
		print_error("message \"%s\" lacks \"%s\"\n", oci_store_errmsg(s), needle);
	assert_non_null(strstr(oci_store_errmsg(s), needle));
}

/* noinline: GCC 12 inlined it and then took its result for &buf (-Wdangling-pointer) */
static __attribute__((noinline)) char *read_file(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	int r = base_file_read(path, SIZE_MAX, &buf, &n);

	assert_int_equal(r, 0);
	if (len)
		*len = n;
	return buf;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static const char *blob_path(const char *store, const char *digest)
{
	static char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s/blobs/sha256/%s", tmp_path(store), oci_digest_hex(digest));
	return buf;
}

/* Number of entries in a directory, "." and ".." excluded. */
static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* ---- layout ---- */

static void test_open_creates_layout(void **state)
{
	struct oci_store *s = NULL;
	char *text;

	s = open_store("a/b/store");
	text = read_file(tmp_path("a/b/store/oci-layout"), NULL);
	assert_string_equal(text, "{\"imageLayoutVersion\":\"1.0.0\"}");
	free(text);
	text = read_file(tmp_path("a/b/store/index.json"), NULL);
	assert_non_null(strstr(text, "\"manifests\":[]"));
	assert_non_null(strstr(text, OCI_MEDIA_TYPE_INDEX));
	free(text);
	assert_int_equal(count_dir(tmp_path("a/b/store/blobs/sha256")), 0);
	assert_string_equal(oci_store_dir(s), tmp_path("a/b/store"));
	s = oci_store_free(s);
	assert_null(s);
	/* opening again keeps what is there */
	s = open_store("a/b/store");
	oci_store_free(s);

	/* some other layout version is not ours to touch */
	mkdir(tmp_path("other"), 0755);
	write_file(tmp_path("other/oci-layout"), "{\"imageLayoutVersion\":\"2.0.0\"}", 30);
	assert_int_equal(oci_store_open(tmp_path("other"), &s), -EINVAL);
	/* a file in the way */
	write_file(tmp_path("file"), "x", 1);
	assert_int_equal(oci_store_open(tmp_path("file"), &s), -ENOTDIR);
}

/* ---- blobs ---- */

static void test_put_get(void **state)
{
	static const char abc_digest[] =
		"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	struct oci_store *s = open_store("s");
	char digest[OCI_DIGEST_SIZE];
	void *buf = NULL;
	size_t len = 0;

	assert_int_equal(oci_store_put_blob(s, "abc", 3, abc_digest, digest), 0);
	assert_string_equal(digest, abc_digest);
	assert_int_equal(oci_store_has_blob(s, abc_digest), 1);
	assert_int_equal(oci_store_get_blob(s, abc_digest, 3, &buf, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(buf, "abc", 4); /* terminated */
	free(buf);

	/* larger than the caller's bound */
	assert_int_equal(oci_store_get_blob(s, abc_digest, 2, &buf, &len), -EFBIG);

	/* content that does not match the expected digest is not stored */
	assert_int_equal(oci_store_put_blob(s, "abd", 3, abc_digest, digest), -EBADMSG);
	assert_msg(s, "expected "
		      "sha256:ba7816bf");
	assert_int_equal(count_dir(tmp_path("s/blobs/sha256")), 1);

	/* absent, malformed, unsupported */
	assert_int_equal(oci_store_get_blob(s, ABSENT, 10, &buf, &len), -ENOENT);
	assert_msg(s, "is missing");
	assert_int_equal(oci_store_has_blob(s, ABSENT), 0);
	assert_int_equal(oci_store_get_blob(s, "sha256:../../oci-layout", 10, &buf, &len), -EINVAL);
	assert_int_equal(oci_store_has_blob(s, "../oci-layout"), -EINVAL);
	assert_int_equal(oci_store_get_blob(
				 s,
				 "sha512:"
				 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0"
				 "123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
				 10, &buf, &len),
			 -EOPNOTSUPP);

	/* no temporary file is left behind */
	assert_int_equal(count_dir(tmp_path("s")), 4); /* oci-layout index.json blobs .lock */
	oci_store_free(s);
}

static void test_corrupt_blob(void **state)
{
	struct oci_store *s = open_store("s");
	struct oci_store_gadget *g = NULL;
	char digest[OCI_DIGEST_SIZE];
	struct img a;
	void *buf = NULL;
	size_t len;

	put(s, "hello", 5, digest);
	/* same size, other bytes: only the digest can tell */
	write_file(blob_path("s", digest), "jello", 5);
	assert_int_equal(oci_store_has_blob(s, digest), 1);
	assert_int_equal(oci_store_get_blob(s, digest, 100, &buf, &len), -EBADMSG);
	assert_msg(s, "is corrupt");
	assert_msg(s, digest);
	assert_null(buf);
	/* storing it again repairs it */
	put(s, "hello", 5, digest);
	assert_int_equal(oci_store_get_blob(s, digest, 100, &buf, &len), 0);
	free(buf);

	make_simple(s, YAML_A, PROG_A, &a);
	tag(s, "a:v1", a.index);
	write_file(blob_path("s", a.program), "\177ELF program A, not really an ELF",
		   strlen(PROG_A));
	assert_int_equal(oci_store_resolve(s, "a:v1", NULL, &g), -EBADMSG);
	assert_msg(s, "is corrupt");
	assert_msg(s, a.program);
	assert_null(g);
	oci_store_free(s);
}

/* ---- tags, list, remove, gc ---- */

static void test_tag_list_remove_gc(void **state)
{
	struct oci_store *s = open_store("s");
	struct oci_store_image *images = NULL;
	char ref[256], extra[OCI_DIGEST_SIZE];
	struct img a, b;
	size_t n = 0;

	make_simple(s, YAML_A, PROG_A, &a);
	make_simple(s, YAML_A, PROG_B, &b); /* shares its config blob with a */
	assert_int_equal(count_dir(tmp_path("s/blobs/sha256")), 7);
	tag(s, "ghcr.io/x/a:v1", a.index);
	tag(s, "a", a.index); /* short name, default tag */
	tag(s, "b:v1", b.index);
	tag(s, "b:v1", b.index); /* again: no second entry */

	assert_int_equal(oci_store_list(s, &images, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(images[0].ref, "ghcr.io/x/a:v1");
	assert_string_equal(images[1].ref, "a:latest");
	assert_string_equal(images[2].ref, "b:v1");
	assert_string_equal(images[0].digest, a.index);
	assert_string_equal(images[2].digest, b.index);
	assert_string_equal(images[0].media_type, OCI_MEDIA_TYPE_INDEX);
	assert_string_equal(images[0].created, CREATED);
	assert_int_equal(images[0].size, a.size);
	assert_int_equal(images[2].size, b.size);
	oci_store_images_free(images, n);

	/* moving a tag */
	tag(s, "a", b.index);
	assert_int_equal(oci_store_list(s, &images, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(images[1].digest, b.index);
	oci_store_images_free(images, n);
	tag(s, "a", a.index);

	/* removing b keeps the config it shares with a */
	assert_int_equal(oci_store_remove(s, "b:v1"), 0);
	assert_int_equal(oci_store_has_blob(s, b.index), 0);
	assert_int_equal(oci_store_has_blob(s, b.manifest), 0);
	assert_int_equal(oci_store_has_blob(s, b.program), 0);
	assert_int_equal(oci_store_has_blob(s, a.config), 1);
	assert_int_equal(count_dir(tmp_path("s/blobs/sha256")), 4);

	assert_int_equal(oci_store_remove(s, "b:v1"), -ENOENT);
	assert_msg(s, "b:v1 is not in the store");
	assert_int_equal(oci_store_remove(s, "B"), -EINVAL);

	/* one of two tags of a: the blobs stay */
	assert_int_equal(oci_store_remove(s, "a:latest"), 0);
	assert_int_equal(count_dir(tmp_path("s/blobs/sha256")), 4);

	/* an unreferenced blob is garbage */
	put(s, "stray", 5, extra);
	assert_int_equal(oci_store_gc(s), 1);
	assert_int_equal(oci_store_has_blob(s, extra), 0);

	/* by digest: every tag of that name pointing there */
	snprintf(ref, sizeof(ref), "ghcr.io/x/a@%s", b.index);
	assert_int_equal(oci_store_remove(s, ref), -ENOENT);
	snprintf(ref, sizeof(ref), "ghcr.io/x/a@%s", a.index);
	assert_int_equal(oci_store_remove(s, ref), 0);
	assert_int_equal(count_dir(tmp_path("s/blobs/sha256")), 0);
	assert_int_equal(oci_store_list(s, &images, &n), 0);
	assert_int_equal(n, 0);
	oci_store_images_free(images, n);
	oci_store_free(s);
}

static void test_gc_keeps_unwalkable(void **state)
{
	struct oci_store *s = open_store("s");
	struct img a;

	make_simple(s, YAML_A, PROG_A, &a);
	tag(s, "a:v1", a.index);
	/* without its manifest, a's blobs cannot be told from garbage */
	unlink(blob_path("s", a.manifest));
	assert_true(oci_store_gc(s) < 0);
	assert_msg(s, "garbage collection skipped");
	assert_int_equal(oci_store_has_blob(s, a.program), 1);
	assert_int_equal(oci_store_has_blob(s, a.config), 1);
	oci_store_free(s);
}

static void test_tag_checks(void **state)
{
	struct oci_store *s = open_store("s");
	struct img a;
	char ref[256], *index;

	make_simple(s, YAML_A, PROG_A, &a);
	assert_int_equal(oci_store_tag(s, "a:v1", ABSENT), -ENOENT);
	assert_int_equal(oci_store_tag(s, "a:v1", a.config), -EINVAL); /* YAML is not JSON */
	assert_int_equal(oci_store_tag(s, "Bad Ref", a.index), -EINVAL);
	/* a digest reference may only name its own digest (see test_tag_digest_ref) */
	snprintf(ref, sizeof(ref), "a@%s", a.manifest);
	assert_int_equal(oci_store_tag(s, ref, a.index), -EINVAL);
	assert_msg(s, "cannot name blob");
	snprintf(ref, sizeof(ref), "a:v1@%s", a.index);
	assert_int_equal(oci_store_tag(s, ref, a.index), -EINVAL);
	assert_msg(s, "names both a tag and a digest");
	/* an image with a blob missing cannot be tagged */
	unlink(blob_path("s", a.program));
	assert_int_equal(oci_store_tag(s, "a:v1", a.index), -ENOENT);
	assert_msg(s, a.program);
	index = read_file(tmp_path("s/index.json"), NULL);
	assert_null(strstr(index, "a:v1"));
	free(index);
	oci_store_free(s);
}

/* ---- resolve ---- */

static void test_resolve(void **state)
{
	struct oci_store *s = open_store("s");
	struct oci_store_gadget *g = NULL;
	char ref[256];
	struct img a;

	make_simple(s, YAML_A, PROG_A, &a);
	tag(s, "ghcr.io/x/a:v1", a.index);
	assert_int_equal(oci_store_resolve(s, "ghcr.io/x/a:v1", NULL, &g), 0);
	assert_string_equal(g->config, YAML_A);
	assert_int_equal(g->config_len, strlen(YAML_A));
	assert_int_equal(g->program_len, strlen(PROG_A));
	assert_memory_equal(g->program, PROG_A, strlen(PROG_A));
	assert_string_equal(g->image_digest, a.index);
	assert_string_equal(g->manifest_digest, a.manifest);
	g = oci_store_gadget_free(g);

	/* by digest, tag or no tag */
	snprintf(ref, sizeof(ref), "ghcr.io/x/a@%s", a.index);
	assert_int_equal(oci_store_resolve(s, ref, NULL, &g), 0);
	g = oci_store_gadget_free(g);
	snprintf(ref, sizeof(ref), "whatever:tag@%s", a.manifest);
	assert_int_equal(oci_store_resolve(s, ref, NULL, &g), 0); /* a manifest directly */
	assert_string_equal(g->manifest_digest, a.manifest);
	g = oci_store_gadget_free(g);

	assert_int_equal(oci_store_resolve(s, "ghcr.io/x/a:v2", NULL, &g), -ENOENT);
	assert_msg(s, "ghcr.io/x/a:v2 is not in the store");
	assert_int_equal(oci_store_resolve(s, "ghcr.io/x/a", NULL, &g), -ENOENT);
	assert_int_equal(oci_store_resolve(s, "NOPE", NULL, &g), -EINVAL);

	/* another platform */
	assert_int_equal(oci_store_resolve(s, "ghcr.io/x/a:v1", "riscv64", &g), -ENOENT);
	assert_msg(s, "no manifest for linux/riscv64");
	assert_msg(s, oci_store_host_arch());
	assert_null(g);
	oci_store_free(s);
}

static void test_resolve_bad_images(void **state)
{
	struct oci_store *s = open_store("s");
	struct oci_store_gadget *g = NULL;
	struct img_spec sp = {.yaml = YAML_B, .program = PROG_B, .layer_size = -1};
	struct img img;

	/* config of another type */
	sp.config_type = "application/vnd.oci.image.config.v1+json";
	make_image(s, &sp, &img);
	tag(s, "wrongconfig", img.index);
	assert_int_equal(oci_store_resolve(s, "wrongconfig", NULL, &g), -EMEDIUMTYPE);
	assert_msg(s, "config has media type application/vnd.oci.image.config.v1+json");

	/* no gadget layer */
	sp.config_type = NULL;
	sp.layer_type = "application/vnd.oci.image.layer.v1.tar+gzip";
	make_image(s, &sp, &img);
	tag(s, "nolayer", img.index);
	assert_int_equal(oci_store_resolve(s, "nolayer", NULL, &g), -ENODATA);
	assert_msg(s, "no layer of media type " OCI_MEDIA_TYPE_GADGET_PROGRAM);

	/* a descriptor that lies about the size: refused at tag time ... */
	sp.layer_type = NULL;
	sp.layer_size = 3;
	make_image(s, &sp, &img);
	assert_int_equal(oci_store_tag(s, "badsize", img.index), -EBADMSG);
	assert_msg(s, "its descriptor says 3");

	/* ... and at resolve time if it got there anyway (index.json edited) */
	sp.layer_size = -1;
	make_image(s, &sp, &img);
	tag(s, "good", img.index);
	unlink(blob_path("s", img.program));
	assert_int_equal(oci_store_resolve(s, "good", NULL, &g), -ENOENT);
	assert_msg(s, "is missing");

	/* an index.json edited by hand, with a digest that is not one */
	write_file(tmp_path("s/index.json"), BAD_INDEX, strlen(BAD_INDEX));
	assert_int_equal(oci_store_resolve(s, "c", NULL, &g), -EINVAL);
	assert_msg(s, "invalid digest \"x\"");
	write_file(tmp_path("s/index.json"), "{\"manifests\":", 13);
	assert_int_equal(oci_store_resolve(s, "c", NULL, &g), -EINVAL);
	assert_msg(s, "index.json: invalid JSON");
	assert_null(g);
	oci_store_free(s);
}

/* Held or not, told apart from held but broken, without losing the reason it broke. */
static void test_has_ref(void **state)
{
	struct oci_store *s = open_store("s");
	struct oci_store_gadget *g = NULL;
	char ref[256], msg[512];
	struct img a;

	make_simple(s, YAML_A, PROG_A, &a);
	tag(s, "ghcr.io/x/a:v1", a.index);
	assert_int_equal(oci_store_has_ref(s, "ghcr.io/x/a:v1"), 1);
	assert_int_equal(oci_store_has_ref(s, "ghcr.io/x/a:v2"), 0);
	assert_int_equal(oci_store_has_ref(s, "ghcr.io/x/b:v1"), 0);
	snprintf(ref, sizeof(ref), "anything@%s", a.index);
	assert_int_equal(oci_store_has_ref(s, ref), 1);
	snprintf(ref, sizeof(ref), "anything@sha256:%064d", 0);
	assert_int_equal(oci_store_has_ref(s, ref), 0);
	assert_int_equal(oci_store_has_ref(s, "NOPE"), -EINVAL);

	/* present but broken: resolve fails, has_ref keeps its message */
	unlink(blob_path("s", a.program));
	assert_int_equal(oci_store_resolve(s, "ghcr.io/x/a:v1", NULL, &g), -ENOENT);
	snprintf(msg, sizeof(msg), "%s", oci_store_errmsg(s));
	assert_int_equal(oci_store_has_ref(s, "ghcr.io/x/a:v1"), 1);
	assert_int_equal(oci_store_has_ref(s, "NOPE"), -EINVAL);
	assert_string_equal(oci_store_errmsg(s), msg);

	/* an index.json that cannot be read is not "not there" */
	write_file(tmp_path("s/index.json"), "{\"manifests\":", 13);
	assert_true(oci_store_has_ref(s, "ghcr.io/x/a:v1") < 0);
	oci_store_free(s);
}

/* ---- concurrency ---- */

#define ROUNDS 15

static void writer(const char *dir, int id)
{
	struct oci_store *s = NULL;
	char yaml[64], prog[64], ref[64];
	struct img im;

	child_id = id;
	for (int i = 0; i < ROUNDS; i++) {
		if (oci_store_open(dir, &s) < 0)
			_exit(10);
		/* its own image, then the one both write, then drop the previous own tag */
		/*
		 * put + tag is one unit, as in a build: without the lock the
		 * other writer's removal collects these blobs before the tag.
		 */
		if (oci_store_lock(s) < 0)
			_exit(14);
		snprintf(yaml, sizeof(yaml), "name: w%d-%d\n", id, i);
		snprintf(prog, sizeof(prog), "\177ELF w%d-%d", id, i);
		make_simple(s, yaml, prog, &im);
		snprintf(ref, sizeof(ref), "w%d:r%d", id, i);
		if (oci_store_tag(s, ref, im.index) < 0) {
			fprintf(stderr, "writer %d: %s\n", id, oci_store_errmsg(s));
			_exit(11);
		}
		make_simple(s, YAML_A, PROG_A, &im);
		if (oci_store_tag(s, "shared:latest", im.index) < 0) {
			fprintf(stderr, "writer %d: %s\n", id, oci_store_errmsg(s));
			_exit(12);
		}
		oci_store_unlock(s);
		if (i > 0) {
			snprintf(ref, sizeof(ref), "w%d:r%d", id, i - 1);
			if (oci_store_remove(s, ref) < 0) {
				fprintf(stderr, "writer %d: %s\n", id, oci_store_errmsg(s));
				_exit(13);
			}
		}
		s = oci_store_free(s);
	}
	_exit(0);
}

static void test_concurrent_writers(void **state)
{
	const char *dir = tmp_path("s");
	struct oci_store_image *images = NULL;
	struct oci_store *s = open_store("s");
	pid_t pids[2];
	size_t n = 0;

	for (int i = 0; i < 2; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0)
			writer(dir, i);
	}
	for (int i = 0; i < 2; i++) {
		int status = -1;

		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(oci_store_list(s, &images, &n), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		struct oci_store_gadget *g = NULL;
		int r = oci_store_resolve(s, images[i].ref, NULL, &g);

		if (r)
			print_error("%s: %s\n", images[i].ref, oci_store_errmsg(s));
		assert_int_equal(r, 0);
		oci_store_gadget_free(g);
		assert_true(!strcmp(images[i].ref, "shared:latest") ||
			    !strcmp(images[i].ref, "w0:r"
						   "14") ||
			    !strcmp(images[i].ref, "w1:r14"));
	}
	oci_store_images_free(images, n);
	/* nothing unreferenced is left: 3 images of 4 blobs each */
	assert_int_equal(oci_store_gc(s), 0);
	assert_int_equal(count_dir(tmp_path("s/blobs/sha256")), 12);
	oci_store_free(s);
}

/* ---- export / import ---- */

static void list_digests(struct oci_store *s, char *out, size_t len)
{
	struct oci_store_image *images = NULL;
	size_t n = 0, used = 0;

	assert_int_equal(oci_store_list(s, &images, &n), 0);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		used += snprintf(out + used, len - used, "%s=%s/%llu;", images[i].ref,
				 images[i].digest, (unsigned long long)images[i].size);
	oci_store_images_free(images, n);
}

static void test_export_import(void **state)
{
	struct oci_store *s = open_store("s"), *t;
	struct oci_store_gadget *g = NULL;
	const char *only[] = {"b:v1"};
	char before[2048], after[2048], **refs = NULL;
	char *tar1, *tar2;
	size_t len1, len2;
	struct img a, b;

	make_simple(s, YAML_A, PROG_A, &a);
	make_simple(s, YAML_B, PROG_B, &b);
	tag(s, "ghcr.io/x/a:v1", a.index);
	tag(s, "b:v1", b.index);
	put(s, "stray", 5, a.config); /* not exported: no image uses it */
	assert_int_equal(oci_store_export(s, NULL, 0, tmp_path("all.tar")), 0);
	assert_int_equal(oci_store_export(s, NULL, 0, tmp_path("all2.tar")), 0);
	/* same images, same bytes */
	tar1 = read_file(tmp_path("all.tar"), &len1);
	tar2 = read_file(tmp_path("all2.tar"), &len2);
	assert_int_equal(len1, len2);
	assert_memory_equal(tar1, tar2, len1);
	free(tar1);
	free(tar2);

	t = open_store("t");
	assert_int_equal(oci_store_import(t, tmp_path("all.tar"), &refs), 0);
	assert_non_null(refs);
	assert_string_equal(refs[0], "ghcr.io/x/a:v1");
	assert_string_equal(refs[1], "b:v1");
	assert_null(refs[2]);
	oci_store_strv_free(refs);
	list_digests(s, before, sizeof(before));
	list_digests(t, after, sizeof(after));
	assert_string_equal(before, after);
	assert_int_equal(count_dir(tmp_path("t/blobs/sha256")), 8);
	assert_int_equal(oci_store_resolve(t, "ghcr.io/x/a:v1", NULL, &g), 0);
	assert_memory_equal(g->program, PROG_A, strlen(PROG_A));
	g = oci_store_gadget_free(g);
	/* importing again changes nothing */
	assert_int_equal(oci_store_import(t, tmp_path("all.tar"), NULL), 0);
	list_digests(t, after, sizeof(after));
	assert_string_equal(before, after);
	oci_store_free(t);

	/* one image only */
	assert_int_equal(oci_store_export(s, only, 1, tmp_path("b.tar")), 0);
	t = open_store("u");
	assert_int_equal(oci_store_import(t, tmp_path("b.tar"), NULL), 0);
	list_digests(t, after, sizeof(after));
	assert_non_null(strstr(after, "b:v1="));
	assert_null(strstr(after, "ghcr.io/x/a"));
	assert_int_equal(count_dir(tmp_path("u/blobs/sha256")), 4);
	oci_store_free(t);

	only[0] = "nothere";
	assert_int_equal(oci_store_export(s, only, 1, tmp_path("none.tar")), -ENOENT);
	assert_msg(s, "nothere:latest is not in the store");
	assert_int_equal(access(tmp_path("none.tar"), F_OK), -1);
	oci_store_free(s);
}

/* Snapshot of everything a user could see of a store. */
static void snapshot(const char *store, char *out, size_t len)
{
	char path[PATH_MAX], *index;
	size_t used;

	snprintf(path, sizeof(path), "%s/index.json", tmp_path(store));
	index = read_file(path, NULL);
	snprintf(path, sizeof(path), "%s/blobs/sha256", tmp_path(store));
	used = snprintf(out, len, "%s|blobs=%d|top=%d", index, count_dir(path),
			count_dir(tmp_path(store)));
	assert_true(used < len);
	free(index);
}

struct tar_entry {
	const char *name;
	const char *data; /* file contents, or the target of a link */
	char type;	  /* 'f' file, 'l' symbolic link, 'h' hard link */
};

#define TAR_LAYOUT                                                                                 \
	{                                                                                          \
		"oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 'f'                            \
	}

static void write_tar(const char *path, const struct tar_entry *entries, size_t n)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e;

	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		const struct tar_entry *t = &entries[i];

		e = archive_entry_new();
		archive_entry_set_pathname(e, t->name);
		archive_entry_set_perm(e, 0644);
		if (t->type == 'f') {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_size(e, strlen(t->data));
		} else if (t->type == 'l') {
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, t->data);
		} else {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, t->data);
		}
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (t->type == 'f')
			archive_write_data(a, t->data, strlen(t->data));
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
}

static void expect_import_fails(struct oci_store *t, const char *tar, int err, const char *msg)
{
	char before[8192], after[8192];
	char **refs = (char **)0x1;
	int r;

	snapshot("s", before, sizeof(before));
	r = oci_store_import(t, tar, &refs);
	if (r != err)
		print_error("%s: %d %s\n", tar, r, oci_store_errmsg(t));
	assert_int_equal(r, err);
	assert_msg(t, msg);
	assert_ptr_equal(refs, (char **)0x1);
	snapshot("s", after, sizeof(after));
	assert_string_equal(before, after);
}

static void test_import_damaged(void **state)
{
	struct oci_store *s = open_store("s");
	struct img a, b;
	char *tar, *p, name[128], index[1024];
	size_t len;

	/* the target store already has an image; it must come out unchanged */
	make_simple(s, YAML_B, PROG_B, &b);
	tag(s, "b:v1", b.index);

	make_simple(s, YAML_A, PROG_A, &a);
	tag(s, "a:v1", a.index);
	assert_int_equal(oci_store_export(s, (const char *[]){"a:v1"}, 1, tmp_path("a.tar")), 0);
	assert_int_equal(oci_store_remove(s, "a:v1"), 0);

	/* one byte of the program flipped inside the tarball */
	tar = read_file(tmp_path("a.tar"), &len);
	p = memmem(tar, len, PROG_A, strlen(PROG_A));
	assert_non_null(p);
	p[5] ^= 0x20;
	write_file(tmp_path("corrupt.tar"), tar, len);
	expect_import_fails(s, tmp_path("corrupt.tar"), -EBADMSG, "is corrupt");

	/* cut short in the middle of the blobs */
	write_file(tmp_path("short.tar"), tar, (p - tar) + 3);
	expect_import_fails(s, tmp_path("short.tar"), -EBADMSG, "tarball");
	free(tar);

	/* a blob the index needs is not in the tarball */
	snprintf(index, sizeof(index),
		 "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" OCI_MEDIA_TYPE_INDEX
		 "\",\"digest\":\"%s\",\"size\":%zu,\"annotations\":{\"" OCI_ANNOTATION_REF_NAME
		 "\":\"a:v1\"}}]}",
		 a.index, a.index_len);
	{
		const struct tar_entry entries[] = {TAR_LAYOUT, {"index.json", index, 'f'}};

		write_tar(tmp_path("missing.tar"), entries, 2);
	}
	expect_import_fails(s, tmp_path("missing.tar"), -ENOENT, a.index);

	/* a symlink where a blob should be */
	snprintf(name, sizeof(name), "blobs/sha256/%s", oci_digest_hex(a.index));
	{
		const struct tar_entry entries[] = {
			TAR_LAYOUT, {"index.json", index, 'f'}, {name, "/etc/passwd", 'l'}};

		write_tar(tmp_path("link.tar"), entries, 3);
	}
	expect_import_fails(s, tmp_path("link.tar"), -EINVAL, "not a regular file");
	/* a hard link to another entry */
	{
		const struct tar_entry entries[] = {
			TAR_LAYOUT, {"index.json", index, 'f'}, {name, "index.json", 'h'}};

		write_tar(tmp_path("hardlink.tar"), entries, 3);
	}
	expect_import_fails(s, tmp_path("hardlink.tar"), -EINVAL, "not a regular file");

	/* path games under blobs/ */
	{
		const struct tar_entry entries[] = {TAR_LAYOUT,
						    {"blobs/sha256/../../index.json", "{}", 'f'}};

		write_tar(tmp_path("dotdot.tar"), entries, 2);
	}
	expect_import_fails(s, tmp_path("dotdot.tar"), -EINVAL, "not a sha256 blob name");

	/* not a layout at all, and not a tarball at all */
	{
		const struct tar_entry entries[] = {{"hello.txt", "hi", 'f'}};

		write_tar(tmp_path("plain.tar"), entries, 1);
	}
	expect_import_fails(s, tmp_path("plain.tar"), -EINVAL, "not an OCI image layout");
	write_file(tmp_path("junk.tar"), "this is not a tarball at all, just text....", 44);
	expect_import_fails(s, tmp_path("junk.tar"), -EBADMSG,
			    "junk.tar: Unrecognized archive format");
	expect_import_fails(s, tmp_path("absent.tar"), -ENOENT, "absent.tar");

	/* an index entry with a bad name */
	snprintf(index, sizeof(index),
		 "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" OCI_MEDIA_TYPE_INDEX
		 "\",\"digest\":\"%s\",\"size\":%zu,\"annotations\":{\"" OCI_ANNOTATION_REF_NAME
		 "\":\"Not A Ref\"}}]}",
		 b.index, b.index_len);
	{
		const struct tar_entry entries[] = {TAR_LAYOUT, {"index.json", index, 'f'}};

		write_tar(tmp_path("badref.tar"), entries, 2);
	}
	expect_import_fails(s, tmp_path("badref.tar"), -EINVAL, "Not A Ref");

	/* the image still resolves */
	{
		struct oci_store_gadget *g = NULL;

		assert_int_equal(oci_store_resolve(s, "b:v1", NULL, &g), 0);
		oci_store_gadget_free(g);
	}
	oci_store_free(s);
}

/* Reads a blob of s as a string (the test images are all text). */
static char *blob_text(struct oci_store *s, const char *digest)
{
	void *buf = NULL;
	size_t len = 0;

	assert_int_equal(oci_store_get_blob(s, digest, 4096, &buf, &len), 0);
	return buf;
}

static void test_import_extra_files(void **state)
{
	struct oci_store *s = open_store("s"), *t = open_store("t");
	char index[1024], junk_digest[OCI_DIGEST_SIZE], junk_name[128], names[4][128];
	char *blobs[4], **refs = NULL;
	const char *digests[4];
	struct img a;

	make_simple(s, YAML_A, PROG_A, &a);
	digests[0] = a.index;
	digests[1] = a.manifest;
	digests[2] = a.config;
	digests[3] = a.program;
	for (int i = 0; i < 4; i++) {
		blobs[i] = blob_text(s, digests[i]);
		snprintf(names[i], sizeof(names[i]), "./blobs/sha256/%s",
			 oci_digest_hex(digests[i]));
	}
	assert_int_equal(oci_digest_buf("junk", 4, junk_digest), 0);
	snprintf(junk_name, sizeof(junk_name), "blobs/sha256/%s", oci_digest_hex(junk_digest));
	/* an index entry without a name is verified but not tagged */
	snprintf(index, sizeof(index),
		 "{\"schemaVersion\":2,\"manifests\":["
		 "{\"mediaType\":\"" OCI_MEDIA_TYPE_INDEX "\",\"digest\":\"%s\",\"size\":%zu,"
		 "\"annotations\":{\"" OCI_ANNOTATION_REF_NAME "\":\"localhost:5000/a:v1\"}},"
		 "{\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu}]}",
		 a.index, a.index_len, a.manifest, a.manifest_len);
	{
		/* "./" prefixes as GNU tar writes them, README and a stray blob */
		const struct tar_entry entries[] = {
			{"./index.json", index, 'f'}, {"./README", "not part of the layout", 'f'},
			{junk_name, "junk", 'f'},     {names[0], blobs[0], 'f'},
			{names[1], blobs[1], 'f'},    {names[2], blobs[2], 'f'},
			{names[3], blobs[3], 'f'},    TAR_LAYOUT,
		};

		write_tar(tmp_path("extra.tar"), entries, sizeof(entries) / sizeof(entries[0]));
	}
	for (int i = 0; i < 4; i++)
		free(blobs[i]);
	assert_int_equal(oci_store_import(t, tmp_path("extra.tar"), &refs), 0);
	assert_string_equal(refs[0], "localhost:5000/a:v1");
	assert_null(refs[1]);
	oci_store_strv_free(refs);
	/* the image's four blobs, not the stray one, and no staging left */
	assert_int_equal(count_dir(tmp_path("t/blobs/sha256")), 4);
	assert_int_equal(oci_store_has_blob(t, junk_digest), 0);
	assert_int_equal(count_dir(tmp_path("t")), 4);
	oci_store_free(t);
	oci_store_free(s);
}

/* ---- walk and digest references (for the registry client) ---- */

struct walk_rec {
	char digests[8][OCI_DIGEST_SIZE];
	char types[8][128];
	uint64_t sizes[8];
	int n;
	int fail_at; /* return -EIO on this call; -1 never */
};

static int walk_cb(void *userdata, const char *media_type, const char *digest, uint64_t size)
{
	struct walk_rec *w = userdata;

	if (w->n == w->fail_at)
		return -EIO;
	assert_true(w->n < 8);
	snprintf(w->digests[w->n], OCI_DIGEST_SIZE, "%s", digest);
	snprintf(w->types[w->n], sizeof(w->types[w->n]), "%s", media_type);
	w->sizes[w->n] = size;
	w->n++;
	return 0;
}

static void test_walk(void **state)
{
	struct oci_store *s = open_store("s");
	struct walk_rec w = {.fail_at = -1};
	char manifest[2048], dup[OCI_DIGEST_SIZE], ref[256];
	struct img a;

	make_simple(s, YAML_A, PROG_A, &a);
	tag(s, "localhost:5000/a:v1", a.index);
	assert_int_equal(oci_store_walk(s, "localhost:5000/a:v1", walk_cb, &w), 0);
	/* children before parents, the top object last */
	assert_int_equal(w.n, 4);
	assert_string_equal(w.digests[0], a.config);
	assert_string_equal(w.types[0], OCI_MEDIA_TYPE_GADGET_CONFIG);
	assert_int_equal(w.sizes[0], strlen(YAML_A));
	assert_string_equal(w.digests[1], a.program);
	assert_string_equal(w.types[1], OCI_MEDIA_TYPE_GADGET_PROGRAM);
	assert_string_equal(w.digests[2], a.manifest);
	assert_int_equal(w.sizes[2], a.manifest_len);
	assert_string_equal(w.digests[3], a.index);
	assert_string_equal(w.types[3], OCI_MEDIA_TYPE_INDEX);
	assert_int_equal(w.sizes[3], a.index_len);

	/* by digest, with no tag needed */
	w = (struct walk_rec){.fail_at = -1};
	snprintf(ref, sizeof(ref), "a@%s", a.manifest);
	assert_int_equal(oci_store_walk(s, ref, walk_cb, &w), 0);
	assert_int_equal(w.n, 3);
	assert_string_equal(w.digests[2], a.manifest);

	/* a blob named twice (config used as a layer too) is visited once */
	snprintf(manifest, sizeof(manifest),
		 "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\","
		 "\"config\":{\"mediaType\":\"" OCI_MEDIA_TYPE_GADGET_CONFIG
		 "\",\"digest\":\"%s\",\"size\":%zu},"
		 "\"layers\":[{\"mediaType\":\"" OCI_MEDIA_TYPE_GADGET_CONFIG
		 "\",\"digest\":\"%s\",\"size\":%zu}]}",
		 a.config, strlen(YAML_A), a.config, strlen(YAML_A));
	put(s, manifest, strlen(manifest), dup);
	tag(s, "dup:v1", dup);
	w = (struct walk_rec){.fail_at = -1};
	assert_int_equal(oci_store_walk(s, "dup:v1", walk_cb, &w), 0);
	assert_int_equal(w.n, 2);
	assert_string_equal(w.digests[0], a.config);
	assert_string_equal(w.digests[1], dup);

	/* the callback's error stops the walk */
	w = (struct walk_rec){.fail_at = 1};
	assert_int_equal(oci_store_walk(s, "localhost:5000/a:v1", walk_cb, &w), -EIO);
	assert_int_equal(w.n, 1);

	/* absent images, and blobs that are not images */
	w = (struct walk_rec){.fail_at = -1};
	assert_int_equal(oci_store_walk(s, "nope:v1", walk_cb, &w), -ENOENT);
	assert_msg(s, "not in the store");
	snprintf(ref, sizeof(ref), "a@%s", a.config);
	assert_int_not_equal(oci_store_walk(s, ref, walk_cb, &w), 0);
	assert_int_equal(w.n, 0);

	/* a missing blob of a tagged image is an error, not a short walk */
	unlink(blob_path("s", a.manifest));
	assert_int_equal(oci_store_walk(s, "localhost:5000/a:v1", walk_cb, &w), -ENOENT);
	assert_msg(s, a.manifest);
	oci_store_free(s);
}

static void test_tag_digest_ref(void **state)
{
	struct oci_store *s = open_store("s");
	struct oci_store_gadget *g = NULL;
	struct oci_store_image *images = NULL;
	char ref[256], other[256], *index;
	size_t n = 0;
	struct img a;

	make_simple(s, YAML_A, PROG_A, &a);
	snprintf(ref, sizeof(ref), "localhost:5000/a@%s", a.index);
	tag(s, ref, a.index);
	/* listed under the digest reference, and it keeps the blobs from gc */
	assert_int_equal(oci_store_list(s, &images, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(images[0].ref, ref);
	assert_string_equal(images[0].digest, a.index);
	oci_store_images_free(images, n);
	assert_int_equal(oci_store_gc(s), 0);
	assert_int_equal(oci_store_resolve(s, ref, NULL, &g), 0);
	assert_string_equal(g->image_digest, a.index);
	assert_memory_equal(g->program, PROG_A, strlen(PROG_A));
	g = oci_store_gadget_free(g);
	/* tagging it again does not add a second entry */
	tag(s, ref, a.index);
	index = read_file(tmp_path("s/index.json"), NULL);
	assert_non_null(strstr(index, ref));
	assert_null(strstr(strstr(index, ref) + 1, ref));
	free(index);

	/* it goes with a removal by digest, with its blobs */
	snprintf(other, sizeof(other), "localhost:5000/a:v1");
	tag(s, other, a.index);
	assert_int_equal(oci_store_remove(s, ref), 0);
	assert_int_equal(oci_store_list(s, &images, &n), 0);
	assert_int_equal(n, 0);
	oci_store_images_free(images, n);
	assert_int_equal(count_dir(tmp_path("s/blobs/sha256")), 0);
	oci_store_free(s);
}

static void test_export_import_digest_ref(void **state)
{
	struct oci_store *s = open_store("s"), *t = open_store("t");
	char ref[256], **refs = NULL;
	struct img a;
	const char *one[1];

	make_simple(s, YAML_A, PROG_A, &a);
	snprintf(ref, sizeof(ref), "localhost:5000/a@%s", a.index);
	tag(s, ref, a.index);
	one[0] = ref;
	assert_int_equal(oci_store_export(s, one, 1, tmp_path("a.tar")), 0);
	assert_int_equal(oci_store_import(t, tmp_path("a.tar"), &refs), 0);
	assert_non_null(refs);
	assert_string_equal(refs[0], ref);
	assert_null(refs[1]);
	oci_store_strv_free(refs);
	oci_store_free(t);
	oci_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_blob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tag_list_remove_gc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc_keeps_unwalkable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tag_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_bad_images, setup, teardown),
		cmocka_unit_test_setup_teardown(test_has_ref, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_import, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_damaged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_extra_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tag_digest_ref, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_import_digest_ref, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
