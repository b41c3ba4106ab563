// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the gadget image builder (oci/build.c).
 *
 * These run the real clang and llvm-strip on tests/data/oci/build/, a small
 * tracepoint gadget written against bpf/include/gadget, with
 * build/gen/vmlinux.h (make build/gen/vmlinux.h).  They check the image a
 * user would pull apart with any OCI tool: media types, platform,
 * annotations, the ELF keeping its BTF, and that two builds of the same
 * sources in different directories give one digest.  Failures must reach
 * the user as text: the compiler's "program.bpf.c:<line>:" diagnostics or a
 * reason naming the file.
 */
#include "oci/build.h"

#include <errno.h>
#include <fcntl.h>
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
#include "oci/store.h"

#define SRC_DIR	    TEST_DATA_DIR "/oci/build"
#define GADGET_INC  TEST_DATA_DIR "/../../bpf/include"
#define VMLINUX_INC TEST_DATA_DIR "/../../build/gen"
#define EPOCH	    "1700000000"
#define EPOCH_TEXT  "2023-11-14T22:13:20Z"

static const char *const include_dirs[] = {GADGET_INC, VMLINUX_INC, NULL};
static char tmp_root[64];

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	snprintf(tmp_root, sizeof(tmp_root), "/tmp/test-oci-build-XXXXXX");
	return mkdtemp(tmp_root) ? 0 : -1;
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

static char *read_file(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	int r = base_file_read(path, SIZE_MAX, &buf, &n);

	assert_int_equal(r, 0);
	if (len)
		*len = n;
	return buf;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	fclose(f);
}

/* Copies the fixture's two files into tmp/<name>. */
static const char *copy_source(const char *name)
{
	static char dir[PATH_MAX];
	char path[PATH_MAX + 32], *text;

	snprintf(dir, sizeof(dir), "%s", tmp_path(name));
	assert_int_equal(mkdir(dir, 0755), 0);
	text = read_file(SRC_DIR "/program.bpf.c", NULL);
	snprintf(path, sizeof(path), "%s/program.bpf.c", dir);
	write_file(path, text);
	free(text);
	text = read_file(SRC_DIR "/gadget.yaml", NULL);
	snprintf(path, sizeof(path), "%s/gadget.yaml", dir);
	write_file(path, text);
	free(text);
	return dir;
}

static struct oci_store *open_store(const char *name)
{
	struct oci_store *s = NULL;

	assert_int_equal(oci_store_open(tmp_path(name), &s), 0);
	return s;
}

static int build(struct oci_store *s, const char *dir, const char *ref, const char *epoch,
		 char digest[OCI_DIGEST_SIZE], char **msg)
{
	struct oci_build_opts o = {
		.source_dir = dir,
		.include_dirs = include_dirs,
		.store = s,
		.ref = ref,
		.source_date_epoch = epoch,
	};

	if (access(VMLINUX_INC "/vmlinux.h", R_OK) < 0)
		fail_msg("%s/vmlinux.h is missing: run make build/gen/vmlinux.h", VMLINUX_INC);
	return oci_build(&o, digest, msg);
}

static void build_ok(struct oci_store *s, const char *dir, const char *ref, const char *epoch,
		     char digest[OCI_DIGEST_SIZE])
{
	char *msg = NULL;
	int r = build(s, dir, ref, epoch, digest, &msg);

	if (r)
		print_error("build %s: %d\n%s\n", dir, r, msg ? msg : "(no message)");
	assert_int_equal(r, 0);
	/* the fixtures compile without a warning, so there is nothing to say */
	assert_null(msg);
}

static json_t *get_json(struct oci_store *s, const char *digest)
{
	void *buf = NULL;
	size_t len = 0;
	json_t *j;

	assert_int_equal(oci_store_get_blob(s, digest, OCI_STORE_MAX_MANIFEST, &buf, &len), 0);
	j = json_loadb(buf, len, 0, NULL);
	assert_non_null(j);
	/* compact: no whitespace outside strings */
	assert_null(memchr(buf, '\n', len));
	assert_null(strstr(buf, "\": "));
	free(buf);
	return j;
}

static const char *jstr(json_t *o, const char *path)
{
	char key[128];
	const char *dot;

	/* "a/b/c" walks objects; annotation keys contain dots, hence '/' */
	while ((dot = strchr(path, '/'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		o = json_object_get(o, key);
		path = dot + 1;
	}
	return json_string_value(json_object_get(o, path));
}

static void test_build_image(void **state)
{
	struct oci_store *s = open_store("store");
	struct oci_store_gadget *g = NULL;
	json_t *index, *manifest, *m0, *config, *layers;
	char digest[OCI_DIGEST_SIZE];
	char *yaml;
	size_t yaml_len;

	build_ok(s, SRC_DIR, "ghcr.io/test/kill:v1", EPOCH, digest);

	/* the image index: one linux/<host arch> manifest, the annotations */
	index = get_json(s, digest);
	assert_int_equal(json_integer_value(json_object_get(index, "schemaVersion")), 2);
	assert_string_equal(jstr(index, "mediaType"), OCI_MEDIA_TYPE_INDEX);
	assert_int_equal(json_array_size(json_object_get(index, "manifests")), 1);
	m0 = json_array_get(json_object_get(index, "manifests"), 0);
	assert_string_equal(jstr(m0, "mediaType"), OCI_MEDIA_TYPE_MANIFEST);
	assert_string_equal(jstr(m0, "platform/architecture"), oci_store_host_arch());
	assert_string_equal(jstr(m0, "platform/os"), "linux");
	assert_string_equal(jstr(index, "annotations/" OCI_ANNOTATION_CREATED), EPOCH_TEXT);

	/* the manifest: gadget.yaml as config, the ELF as its one layer */
	manifest = get_json(s, jstr(m0, "digest"));
	assert_string_equal(jstr(manifest, "mediaType"), OCI_MEDIA_TYPE_MANIFEST);
	config = json_object_get(manifest, "config");
	assert_string_equal(jstr(config, "mediaType"), OCI_MEDIA_TYPE_GADGET_CONFIG);
	assert_string_equal(jstr(config, "annotations/" OCI_ANNOTATION_TITLE), "config.yaml");
	layers = json_object_get(manifest, "layers");
	assert_int_equal(json_array_size(layers), 1);
	assert_string_equal(jstr(json_array_get(layers, 0), "mediaType"),
			    OCI_MEDIA_TYPE_GADGET_PROGRAM);
	assert_string_equal(jstr(json_array_get(layers, 0), "annotations/" OCI_ANNOTATION_TITLE),
			    "program.o");
	assert_string_equal(jstr(manifest, "annotations/" OCI_ANNOTATION_CREATED), EPOCH_TEXT);
	assert_string_equal(jstr(manifest, "annotations/" OCI_ANNOTATION_TITLE), "kill test");
	assert_string_equal(jstr(manifest, "annotations/" OCI_ANNOTATION_DESCRIPTION),
			    "Records kill(2) calls; a fixture for the image build tests");
	assert_string_equal(jstr(manifest, "annotations/" OCI_ANNOTATION_URL),
			    "https://example.com/kill-test");
	assert_string_equal(jstr(manifest, "annotations/" OCI_ANNOTATION_DOCUMENTATION),
			    "https://example.com/kill-test/docs");
	assert_string_equal(jstr(manifest, "annotations/" OCI_ANNOTATION_SOURCE),
			    "https://example.com/kill-test/src");
	json_decref(manifest);
	json_decref(index);

	/* what the runtime gets back: gadget.yaml verbatim, a BPF ELF with BTF */
	assert_int_equal(oci_store_resolve(s, "ghcr.io/test/kill:v1", NULL, &g), 0);
	assert_string_equal(g->image_digest, digest);
	yaml = read_file(SRC_DIR "/gadget.yaml", &yaml_len);
	assert_int_equal(g->config_len, yaml_len);
	assert_memory_equal(g->config, yaml, yaml_len);
	free(yaml);
	assert_true(g->program_len > 64);
	assert_memory_equal(g->program, "\177ELF", 4);
	assert_int_equal(((unsigned char *)g->program)[18], 247); /* EM_BPF */
	assert_non_null(memmem(g->program, g->program_len, ".BTF.ext", 9));
	assert_non_null(memmem(g->program, g->program_len, "gadget_tracer_kill___events___event",
			       strlen("gadget_tracer_kill___events___event")));
	/* DWARF is stripped */
	assert_null(memmem(g->program, g->program_len, ".debug_info", 12));
	oci_store_gadget_free(g);
	oci_store_free(s);
}

static void test_reproducible(void **state)
{
	char d1[OCI_DIGEST_SIZE], d2[OCI_DIGEST_SIZE], d3[OCI_DIGEST_SIZE], d4[OCI_DIGEST_SIZE];
	struct oci_store *s1 = open_store("s1"), *s2 = open_store("s2");
	const char *copy;

	build_ok(s1, SRC_DIR, "kill:v1", EPOCH, d1);
	/* same sources elsewhere, another store, another tag */
	copy = copy_source("elsewhere");
	build_ok(s2, copy, "other/name:v2", EPOCH, d2);
	assert_string_equal(d1, d2);
	/* and again in the first store: nothing changes */
	build_ok(s1, SRC_DIR, "kill:v1", EPOCH, d3);
	assert_string_equal(d1, d3);
	/* another date is another image */
	build_ok(s1, SRC_DIR, "kill:v1", "1700000001", d4);
	assert_string_not_equal(d1, d4);
	oci_store_free(s1);
	oci_store_free(s2);
}

static void test_syntax_error(void **state)
{
	struct oci_store *s = open_store("store");
	struct oci_store_image *images = NULL;
	char *msg = NULL, path[PATH_MAX + 32];
	const char *dir = copy_source("bad");
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/program.bpf.c", dir);
	write_file(path, "#include <vmlinux.h>\n"
			 "#include <bpf/bpf_helpers.h>\n"
			 "\n"
			 "SEC(\"tracepoint/syscalls/sys_enter_kill\")\n"
			 "int f(void *ctx) { return 0 }\n");
	assert_int_equal(build(s, dir, "bad:v1", EPOCH, NULL, &msg), -EINVAL);
	assert_non_null(msg);
	if (!strstr(msg, "program.bpf.c:5:"))
		print_error("%s\n", msg);
	assert_non_null(strstr(msg, "program.bpf.c:5:"));
	assert_non_null(strstr(msg, "error"));
	assert_non_null(strstr(msg, "compilation failed"));
	free(msg);
	/* nothing was tagged */
	assert_int_equal(oci_store_list(s, &images, &n), 0);
	assert_int_equal(n, 0);
	oci_store_images_free(images, n);
	oci_store_free(s);
}

static void test_warnings_returned(void **state)
{
	struct oci_store *s = open_store("store");
	char *msg = NULL, path[PATH_MAX + 32], digest[OCI_DIGEST_SIZE];
	const char *dir = copy_source("warn");

	snprintf(path, sizeof(path), "%s/program.bpf.c", dir);
	write_file(path, "#include <vmlinux.h>\n"
			 "#include <bpf/bpf_helpers.h>\n"
			 "\n"
			 "SEC(\"tracepoint/syscalls/sys_enter_kill\")\n"
			 "int f(void *ctx)\n"
			 "{\n"
			 "\tint unused;\n"
			 "\treturn 0;\n"
			 "}\n"
			 "char LICENSE[] SEC(\"license\") = \"GPL\";\n");
	assert_int_equal(build(s, dir, "warn:v1", EPOCH, digest, &msg), 0);
	assert_non_null(msg);
	if (!strstr(msg, "program.bpf.c:7:"))
		print_error("%s\n", msg);
	assert_non_null(strstr(msg, "program.bpf.c:7:"));
	assert_non_null(strstr(msg, "unused variable"));
	free(msg);
	oci_store_free(s);
}

static void expect_fail(struct oci_build_opts *o, int err, const char *needle)
{
	char *msg = NULL;
	int r = oci_build(o, NULL, &msg);

	if (r != err || !msg || !strstr(msg, needle))
		print_error("got %d: %s\n", r, msg ? msg : "(no message)");
	assert_int_equal(r, err);
	assert_non_null(msg);
	assert_non_null(strstr(msg, needle));
	free(msg);
}

static void test_bad_inputs(void **state)
{
	struct oci_store *s = open_store("store");
	const char *dir = copy_source("src");
	char path[PATH_MAX + 32];
	struct oci_build_opts o = {
		.source_dir = dir,
		.include_dirs = include_dirs,
		.store = s,
		.ref = "x:v1",
		.source_date_epoch = EPOCH,
	};

	o.source_date_epoch = "yesterday";
	expect_fail(&o, -EINVAL, "SOURCE_DATE_EPOCH");
	o.source_date_epoch = "-5";
	expect_fail(&o, -EINVAL, "SOURCE_DATE_EPOCH");
	o.source_date_epoch = EPOCH;

	o.ref = "x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	expect_fail(&o, -EINVAL, "digest reference");
	o.ref = "Not A Ref";
	expect_fail(&o, -EINVAL, "invalid image reference");
	o.ref = "x:v1";

	o.arch = "vax";
	expect_fail(&o, -EINVAL, "unsupported architecture vax");
	o.arch = NULL;

	o.clang = "/nonexistent/clang";
	expect_fail(&o, -ENOENT, "/nonexistent/clang: command not found");
	o.clang = NULL;

	o.source_dir = tmp_path("nothere");
	expect_fail(&o, -ENOENT, "nothere");
	o.source_dir = dir;

	/* gadget.yaml is checked before anything is compiled */
	snprintf(path, sizeof(path), "%s/gadget.yaml", dir);
	write_file(path, "name: x\nparams: [1, 2]\n");
	expect_fail(&o, -EINVAL, "gadget.yaml:2:");
	unlink(path);
	expect_fail(&o, -ENOENT, "gadget.yaml: No such file");

	/* build.yaml names other files */
	snprintf(path, sizeof(path), "%s/build.yaml", dir);
	write_file(path, "ebpfsource: main.bpf.c\nmetadata: meta.yaml\nunknown: {a: 1}\n");
	expect_fail(&o, -ENOENT, "meta.yaml: No such file");
	snprintf(path, sizeof(path), "%s/meta.yaml", dir);
	write_file(path, "name: renamed\n");
	expect_fail(&o, -ENOENT, "main.bpf.c: No such file");
	snprintf(path, sizeof(path), "%s/program.bpf.c", dir);
	{
		char to[PATH_MAX + 32];

		snprintf(to, sizeof(to), "%s/main.bpf.c", dir);
		assert_int_equal(rename(path, to), 0);
	}
	{
		struct oci_store_gadget *g = NULL;
		char *msg = NULL;
		int r = oci_build(&o, NULL, &msg);

		if (r)
			print_error("%s\n", msg ? msg : "");
		assert_int_equal(r, 0);
		free(msg);
		assert_int_equal(oci_store_resolve(s, "x:v1", NULL, &g), 0);
		assert_string_equal(g->config, "name: renamed\n");
		oci_store_gadget_free(g);
	}
	snprintf(path, sizeof(path), "%s/build.yaml", dir);
	write_file(path, "- a list\n");
	expect_fail(&o, -EINVAL, "build.yaml: expected a mapping");
	write_file(path, "ebpfsource: [unclosed\n");
	expect_fail(&o, -EINVAL, "build.yaml:");
	oci_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_build_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reproducible, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_warnings_returned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_inputs, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
