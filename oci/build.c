// SPDX-License-Identifier: Apache-2.0
/*
 * Gadget image builder.  See build.h.
 *
 * The compiler and llvm-strip are spawned with posix_spawn() (never through
 * a shell, so paths with spaces or quotes are just paths), with stdout and
 * stderr on one pipe whose first OCI_BUILD_MAX_LOG bytes are kept for the
 * caller.  The compiler runs in the source directory on a relative file name
 * so that its diagnostics read "program.bpf.c:12:3: error: ...".
 */
#include "oci/build.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "base/buf.h"
#include "base/file.h"
#include "base/log.h"
#include "base/yaml.h"
#include "oci/metadata.h"
#include "oci/ref.h"
#include "oci/store.h"

#define BUILD_DEFAULT_SOURCE   "program.bpf.c"
#define BUILD_DEFAULT_METADATA "gadget.yaml"
#define BUILD_YAML	       "build.yaml"
#define BUILD_MAX_ARGS	       256
/* ELF header fields we check: magic, 64-bit class, and e_machine == EM_BPF. */
#define BUILD_EM_BPF 247

extern char **environ;

struct build {
	const struct oci_build_opts *opts;
	char *source_dir; /* absolute, symlinks resolved */
	char *source;	  /* relative to source_dir, or absolute */
	char *metadata;
	char tmpdir[PATH_MAX];
	struct base_buf msg; /* what goes back to the caller */
	char *argv[BUILD_MAX_ARGS + 1];
	size_t argc;
	struct oci_build_toolchain tools;
};

static int build_fail(struct build *b, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int build_fail(struct build *b, int r, const char *fmt, ...)
{
	va_list ap;

	/* The reason goes after any compiler output already collected. */
	if (b->msg.len && b->msg.data[b->msg.len - 1] != '\n')
		base_buf_putc(&b->msg, '\n');
	va_start(ap, fmt);
	base_buf_vprintf(&b->msg, fmt, ap);
	va_end(ap);
	base_log_debug("oci build: %s", b->msg.data ? b->msg.data : "");
	return r;
}

const char *oci_build_target_arch(const char *oci_arch)
{
	static const struct {
		const char *oci, *target;
	} map[] = {
		{"amd64", "x86"},  {"arm64", "arm64"},	   {"arm", "arm"},	 {"386", "x86"},
		{"s390x", "s390"}, {"ppc64le", "powerpc"}, {"riscv64", "riscv"},
	};

	for (size_t i = 0; oci_arch && i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i].oci, oci_arch))
			return map[i].target;
	return NULL;
}

/* ---- running tools ---- */

static void build_args_reset(struct build *b)
{
	for (size_t i = 0; i < b->argc; i++)
		free(b->argv[i]);
	b->argc = 0;
	b->argv[0] = NULL;
}

static int build_arg(struct build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int build_arg(struct build *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	if (b->argc == BUILD_MAX_ARGS)
		return -E2BIG;
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	b->argv[b->argc++] = s;
	b->argv[b->argc] = NULL;
	return 0;
}

/*
 * Runs exe with b->argv in cwd (NULL: ours), appending its output to b->msg.  Returns
 * the exit status (0-255), or -errno when it could not be started or died
 * from a signal.
 */
static int build_spawn(struct build *b, const char *exe, const char *cwd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, stop;
	char chunk[4096];
	int fds[2], status, r;
	size_t kept = 0;
	pid_t pid;

	/*
	 * The tools stop on Ctrl-C and SIGTERM as usual, whatever the caller
	 * blocks: a caller that blocks them while it builds (to clean up
	 * before it goes) still sees the build end.
	 */
	sigemptyset(&none);
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	r = posix_spawnattr_init(&attr);
	if (r)
		return -r;
	r = posix_spawnattr_setsigmask(&attr, &none);
	if (!r)
		r = posix_spawnattr_setsigdefault(&attr, &stop);
	if (!r)
		r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (r) {
		posix_spawnattr_destroy(&attr);
		return -r;
	}

	if (pipe2(fds, O_CLOEXEC) < 0) {
		r = -errno;
		posix_spawnattr_destroy(&attr);
		return r;
	}
	r = posix_spawn_file_actions_init(&fa);
	if (r) {
		posix_spawnattr_destroy(&attr);
		close(fds[0]);
		close(fds[1]);
		return -r;
	}
	r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (!r)
		r = posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	if (!r)
		r = posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
	if (!r && cwd)
		r = posix_spawn_file_actions_addchdir_np(&fa, cwd);
	if (!r)
		r = posix_spawn(&pid, exe, &fa, &attr, b->argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(fds[1]);
	if (r) {
		close(fds[0]);
		return -r;
	}
	/* Read to the end even past the limit, so the child never blocks. */
	for (;;) {
		ssize_t n = read(fds[0], chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (kept < OCI_BUILD_MAX_LOG) {
			size_t take = (size_t)n < OCI_BUILD_MAX_LOG - kept
					      ? (size_t)n
					      : OCI_BUILD_MAX_LOG - kept;

			if (base_buf_append(&b->msg, chunk, take) == 0)
				kept += take;
		}
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return -EINTR;
}

/*
 * Finds the executable for name the way a shell would (a name with a '/' is
 * a path, anything else is looked up in PATH).  Done here rather than left
 * to posix_spawnp() because an exec failure in the child is not always
 * reported back (under valgrind it becomes an exit status of 127).
 */
static int build_find_tool(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH"), *p, *end;

	if (strchr(name, '/')) {
		if (access(name, X_OK) < 0)
			return -errno;
		return snprintf(out, len, "%s", name) < (int)len ? 0 : -ENAMETOOLONG;
	}
	for (p = path && *path ? path : "/usr/local/bin:/usr/bin:/bin"; *p; p = end) {
		size_t n;

		end = strchrnul(p, ':');
		n = end - p;
		if (*end)
			end++;
		if (snprintf(out, len, "%.*s/%s", (int)n, n ? p : ".", name) >= (int)len)
			continue;
		if (access(out, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

static int build_run_tool(struct build *b, const char *what, const char *cwd)
{
	char err[128], exe[PATH_MAX];
	int r;

	r = build_find_tool(b->argv[0], exe, sizeof(exe));
	if (r == -ENOENT)
		return build_fail(b, -ENOENT, "%s: command not found", b->argv[0]);
	if (r < 0)
		return build_fail(b, r, "%s: %s", b->argv[0], strerror_r(-r, err, sizeof(err)));
	r = build_spawn(b, exe, cwd);
	if (r < 0)
		return build_fail(b, r, "%s: cannot run %s: %s", what, b->argv[0],
				  strerror_r(-r, err, sizeof(err)));
	if (r > 0)
		return build_fail(b, -EINVAL, "%s failed (%s exited with status %d)", what,
				  b->argv[0], r);
	return 0;
}

/* ---- the toolchain ---- */

/* "clang-19" -> "-19": the version suffix of a clang executable's name, or "". */
static const char *clang_suffix(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (strncmp(base, "clang-", 6) || !base[6] ||
	    strspn(base + 6, "0123456789") != strlen(base + 6))
		return "";
	return base + 5;
}

/* The first line clang --version prints ("Debian clang version 19.1.7 ..."), or "". */
static void clang_version(const char *clang, char *out, size_t len)
{
	struct build b = {.msg = BASE_BUF_INIT(OCI_BUILD_MAX_LOG)};

	out[0] = '\0';
	if (build_arg(&b, "%s", clang) == 0 && build_arg(&b, "--version") == 0 &&
	    build_spawn(&b, clang, NULL) == 0 && b.msg.data)
		snprintf(out, len, "%.*s", (int)strcspn(b.msg.data, "\n"), b.msg.data);
	build_args_reset(&b);
	base_buf_done(&b.msg);
}

static int find_toolchain(const char *clang, const char *strip, struct oci_build_toolchain *t,
			  char *err, size_t errlen)
{
	static const char *const clangs[] = {OCI_BUILD_CLANGS};
	char name[64];
	int r = -ENOENT;

	if (clang) {
		r = build_find_tool(clang, t->clang, sizeof(t->clang));
		if (r < 0) {
			snprintf(err, errlen, "%s: command not found", clang);
			return r;
		}
	} else {
		for (size_t i = 0; i < sizeof(clangs) / sizeof(clangs[0]) && r < 0; i++)
			r = build_find_tool(clangs[i], t->clang, sizeof(t->clang));
		if (r < 0) {
			snprintf(err, errlen,
				 "no clang found in PATH (tried clang-19, -18, -17, -16, -15 and "
				 "clang)");
			return r;
		}
	}
	if (!strip) {
		/* the llvm-strip of the same LLVM, as Debian names them side by side */
		snprintf(name, sizeof(name), "llvm-strip%s", clang_suffix(t->clang));
		if (build_find_tool(name, t->strip, sizeof(t->strip)) == 0)
			return 0;
		strip = "llvm-strip";
	}
	r = build_find_tool(strip, t->strip, sizeof(t->strip));
	if (r < 0)
		snprintf(err, errlen, "%s: command not found", strip);
	return r;
}

int oci_build_toolchain(const char *clang, const char *strip, struct oci_build_toolchain *ret,
			char *err, size_t errlen)
{
	struct oci_build_toolchain t = {0};
	char why[256] = "";
	int r;

	if (!ret)
		return -EINVAL;
	r = find_toolchain(clang, strip, &t, why, sizeof(why));
	if (r < 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s", why);
		return r;
	}
	clang_version(t.clang, t.version, sizeof(t.version));
	*ret = t;
	return 0;
}

/* ---- inputs ---- */

static int build_read_file(struct build *b, const char *path, size_t max, char **ret,
			   size_t *ret_len)
{
	char err[128];
	int r;

	r = base_file_read(path, max, ret, ret_len);
	if (r == -EISDIR || r == -EINVAL)
		return build_fail(b, -EINVAL, "%s: not a regular file", path);
	if (r == -EFBIG)
		return build_fail(b, r, "%s: larger than %zu bytes", path, max);
	if (r < 0)
		return build_fail(b, r, "%s: %s", path, strerror_r(-r, err, sizeof(err)));
	return 0;
}

static int build_set_path(struct build *b, char **dst, const char *value, const char *key)
{
	if (!*value || strlen(value) >= PATH_MAX)
		return build_fail(b, -EINVAL, BUILD_YAML ": invalid %s", key);
	free(*dst);
	*dst = strdup(value);
	return *dst ? 0 : -ENOMEM;
}

/* Reads the file names from build.yaml when there is one. */
static int build_load_build_yaml(struct build *b)
{
	static const struct base_yaml_opts opts = {
		.name = BUILD_YAML,
		.max_bytes = OCI_BUILD_MAX_BUILD_YAML,
	};
	static const char *const keys[] = {"ebpfsource", "metadata"};
	char **dsts[] = {&b->source, &b->metadata};
	struct base_yaml y = {0};
	const char *wasm;
	char path[PATH_MAX], err[256];
	yaml_node_t *root;
	char *buf = NULL;
	size_t len = 0;
	int r;

	b->source = strdup(BUILD_DEFAULT_SOURCE);
	b->metadata = strdup(BUILD_DEFAULT_METADATA);
	if (!b->source || !b->metadata)
		return -ENOMEM;
	if (snprintf(path, sizeof(path), "%s/" BUILD_YAML, b->source_dir) >= (int)sizeof(path))
		return build_fail(b, -ENAMETOOLONG, "%s: path too long", b->source_dir);
	if (access(path, F_OK) < 0)
		return 0;
	r = build_read_file(b, path, OCI_BUILD_MAX_BUILD_YAML, &buf, &len);
	if (r < 0)
		return r;
	r = base_yaml_load(&y, buf, len, &opts, err, sizeof(err));
	if (r < 0)
		r = build_fail(b, r, "%s", err);
	root = base_yaml_root(&y);
	if (r == 0 && root && root->type != YAML_MAPPING_NODE)
		r = build_fail(b, -EINVAL, BUILD_YAML ": expected a mapping at the top");
	for (size_t i = 0; r == 0 && i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = base_yaml_text(base_yaml_get(&y, root, keys[i]));

		if (v)
			r = build_set_path(b, dsts[i], v, keys[i]);
	}
	/* Inspektor Gadget's images may carry a WebAssembly module too; not ours */
	wasm = r == 0 ? base_yaml_text(base_yaml_get(&y, root, "wasm")) : NULL;
	if (wasm && *wasm)
		base_buf_printf(&b->msg,
				"warning: " BUILD_YAML ": wasm module %.200s is not built: this "
				"runtime does not run WebAssembly, the image holds the eBPF "
				"program only\n",
				wasm);
	base_yaml_done(&y);
	free(buf);
	return r;
}

/* "dir/name", or name itself when absolute. */
static int build_path(struct build *b, const char *name, char *out, size_t len)
{
	int n;

	if (name[0] == '/')
		n = snprintf(out, len, "%s", name);
	else
		n = snprintf(out, len, "%s/%s", b->source_dir, name);
	if (n < 0 || (size_t)n >= len)
		return build_fail(b, -ENAMETOOLONG, "%s: path too long", name);
	return 0;
}

/* ---- compiling ---- */

static int build_compile(struct build *b, const char *arch, const char *obj)
{
	const struct oci_build_opts *o = b->opts;
	const char *target = oci_build_target_arch(arch);
	char real[PATH_MAX];
	int r = 0;

	if (!target)
		return build_fail(b, -EINVAL, "unsupported architecture %s", arch);
	build_args_reset(b);
	r = build_arg(b, "%s", b->tools.clang);
	if (!r)
		r = build_arg(b, "-target");
	if (!r)
		r = build_arg(b, "bpf");
	/*
	 * v3: with clang 19's default (v1) a bounds check can land on a copy
	 * of a register whose 32-bit value is then used, and the verifier
	 * rejects gadgets it accepts from clang 14 (advise_seccomp).
	 */
	if (!r)
		r = build_arg(b, "-mcpu=v3");
	if (!r)
		r = build_arg(b, "-O2");
	if (!r)
		r = build_arg(b, "-g");
	if (!r)
		r = build_arg(b, "-D__TARGET_ARCH_%s", target);
	if (!r)
		r = build_arg(b, "-Wall");
	/*
	 * BTF line info keeps the file names of the debug info: map the
	 * directories away so the ELF does not depend on where the sources and
	 * headers happen to live.
	 */
	if (!r)
		r = build_arg(b, "-fdebug-prefix-map=%s=.", b->source_dir);
	for (size_t i = 0; !r && o->include_dirs && o->include_dirs[i]; i++) {
		if (!realpath(o->include_dirs[i], real)) {
			char err[128];

			r = -errno;
			return build_fail(b, r, "include directory %s: %s", o->include_dirs[i],
					  strerror_r(-r, err, sizeof(err)));
		}
		r = build_arg(b, "-I%s", real);
		if (!r)
			r = build_arg(b, "-fdebug-prefix-map=%s=.", real);
	}
	for (size_t i = 0; !r && o->cflags && o->cflags[i]; i++)
		r = build_arg(b, "%s", o->cflags[i]);
	if (!r)
		r = build_arg(b, "-c");
	if (!r)
		r = build_arg(b, "%s", b->source);
	if (!r)
		r = build_arg(b, "-o");
	if (!r)
		r = build_arg(b, "%s", obj);
	if (r < 0)
		return r == -E2BIG ? build_fail(b, r, "too many compiler arguments") : r;
	return build_run_tool(b, "compilation", b->source_dir);
}

static int build_strip(struct build *b, const char *in, const char *out)
{
	int r;

	build_args_reset(b);
	r = build_arg(b, "%s", b->tools.strip);
	if (!r)
		r = build_arg(b, "-g");
	if (!r)
		r = build_arg(b, "%s", in);
	if (!r)
		r = build_arg(b, "-o");
	if (!r)
		r = build_arg(b, "%s", out);
	if (r < 0)
		return r;
	return build_run_tool(b, "strip", NULL);
}

static int build_check_elf(struct build *b, const unsigned char *p, size_t len)
{
	unsigned int machine;

	/* e_ident: magic, class 2 (64-bit); e_machine at offset 18. */
	if (len < 64 || memcmp(p, "\177ELF", 4) || p[4] != 2)
		return build_fail(b, -ENOEXEC, "the compiler output is not a 64-bit ELF object");
	machine =
		p[5] == 1 ? (unsigned int)(p[18] | p[19] << 8) : (unsigned int)(p[18] << 8 | p[19]);
	if (machine != BUILD_EM_BPF)
		return build_fail(b, -ENOEXEC,
				  "the compiler output is not a BPF object (machine %u)", machine);
	return 0;
}

/* ---- image ---- */

static int build_created(struct build *b, char *out, size_t len)
{
	const char *sde = b->opts->source_date_epoch;
	long long secs = 0;
	struct tm tm;
	time_t t;

	if (sde) {
		char *end = NULL;

		errno = 0;
		secs = strtoll(sde, &end, 10);
		/* Up to year 9999, so that the timestamp keeps four year digits. */
		if (!*sde || *end || errno || secs < 0 || secs > 253402300799LL ||
		    strspn(sde, "0123456789") != strlen(sde))
			return build_fail(
				b, -EINVAL,
				"SOURCE_DATE_EPOCH must be a number of seconds, not \"%.40s\"",
				sde);
		t = (time_t)secs;
	} else {
		t = time(NULL);
	}
	if (!gmtime_r(&t, &tm) || !strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return build_fail(b, -EINVAL, "cannot format the creation time");
	return 0;
}

/* The standard annotations that gadget.yaml and the build can fill in. */
static json_t *build_annotations(const struct oci_metadata *m, const char *created)
{
	const struct {
		const char *key, *value;
	} a[] = {
		{OCI_ANNOTATION_CREATED, created},
		{OCI_ANNOTATION_TITLE, m->name},
		{OCI_ANNOTATION_DESCRIPTION, m->description},
		{OCI_ANNOTATION_URL, m->homepage_url},
		{OCI_ANNOTATION_DOCUMENTATION, m->documentation_url},
		{OCI_ANNOTATION_SOURCE, m->source_url},
	};
	json_t *o = json_object();

	for (size_t i = 0; o && i < sizeof(a) / sizeof(a[0]); i++) {
		if (!a[i].value || !*a[i].value)
			continue;
		if (json_object_set_new(o, a[i].key, json_string(a[i].value)) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static json_t *build_desc(const char *media_type, const char *digest, size_t size,
			  const char *title)
{
	json_t *d = json_pack("{s:s,s:s,s:I}", "mediaType", media_type, "digest", digest, "size",
			      (json_int_t)size);

	if (d && title &&
	    json_object_set_new(d, "annotations", json_pack("{s:s}", OCI_ANNOTATION_TITLE, title)) <
		    0) {
		json_decref(d);
		return NULL;
	}
	return d;
}

/* Serialises o compactly (insertion order) and stores it as a blob. */
static int build_put_json(struct build *b, json_t *o, char digest[OCI_DIGEST_SIZE],
			  size_t *ret_size)
{
	char *text;
	int r;

	if (!o)
		return -ENOMEM;
	text = json_dumps(o, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	*ret_size = strlen(text);
	r = oci_store_put_blob(b->opts->store, text, *ret_size, NULL, digest);
	free(text);
	if (r < 0)
		return build_fail(b, r, "%s", oci_store_errmsg(b->opts->store));
	return 0;
}

static int build_image(struct build *b, const char *arch, const struct oci_metadata *m,
		       const void *yaml, size_t yaml_len, const void *elf, size_t elf_len,
		       char index_digest[OCI_DIGEST_SIZE])
{
	struct oci_store *st = b->opts->store;
	char config_digest[OCI_DIGEST_SIZE], program_digest[OCI_DIGEST_SIZE];
	char manifest_digest[OCI_DIGEST_SIZE], created[32];
	json_t *manifest = NULL, *index = NULL, *ann = NULL;
	size_t manifest_size = 0, index_size = 0;
	int r;

	r = build_created(b, created, sizeof(created));
	if (r < 0)
		return r;
	r = oci_store_lock(st);
	if (r < 0)
		return build_fail(b, r, "%s", oci_store_errmsg(st));
	r = oci_store_put_blob(st, yaml, yaml_len, NULL, config_digest);
	if (r == 0)
		r = oci_store_put_blob(st, elf, elf_len, NULL, program_digest);
	if (r < 0) {
		build_fail(b, r, "%s", oci_store_errmsg(st));
		goto out;
	}
	ann = build_annotations(m, created);
	manifest = json_pack(
		"{s:i,s:s,s:o,s:[o],s:O}", "schemaVersion", 2, "mediaType", OCI_MEDIA_TYPE_MANIFEST,
		"config",
		build_desc(OCI_MEDIA_TYPE_GADGET_CONFIG, config_digest, yaml_len, "config.yaml"),
		"layers",
		build_desc(OCI_MEDIA_TYPE_GADGET_PROGRAM, program_digest, elf_len, "program.o"),
		"annotations", ann);
	r = build_put_json(b, manifest, manifest_digest, &manifest_size);
	if (r < 0)
		goto out;
	index = json_pack("{s:i,s:s,s:[{s:s,s:s,s:I,s:{s:s,s:s}}],s:O}", "schemaVersion", 2,
			  "mediaType", OCI_MEDIA_TYPE_INDEX, "manifests", "mediaType",
			  OCI_MEDIA_TYPE_MANIFEST, "digest", manifest_digest, "size",
			  (json_int_t)manifest_size, "platform", "architecture", arch, "os",
			  "linux", "annotations", ann);
	r = build_put_json(b, index, index_digest, &index_size);
	if (r < 0)
		goto out;
	r = oci_store_tag(st, b->opts->ref, index_digest);
	if (r < 0)
		build_fail(b, r, "%s", oci_store_errmsg(st));
out:
	oci_store_unlock(st);
	json_decref(ann);
	json_decref(manifest);
	json_decref(index);
	return r;
}

/* ---- driver ---- */

static void build_cleanup_tmp(struct build *b)
{
	char path[PATH_MAX + 32];

	if (!b->tmpdir[0])
		return;
	snprintf(path, sizeof(path), "%s/program.o", b->tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/program.stripped.o", b->tmpdir);
	unlink(path);
	rmdir(b->tmpdir);
}

static int build_check_opts(struct build *b, const char **arch)
{
	const struct oci_build_opts *o = b->opts;
	struct oci_ref *ref = NULL;
	char real[PATH_MAX], err[128];
	int r;

	if (!o->source_dir || !o->store || !o->ref)
		return build_fail(b, -EINVAL, "source directory, store and reference are required");
	r = oci_ref_parse(o->ref, &ref);
	if (r < 0)
		return build_fail(b, r, "invalid image reference \"%.200s\"", o->ref);
	r = ref->digest ? -EINVAL : 0;
	oci_ref_free(ref);
	if (r < 0)
		return build_fail(b, r, "cannot build into a digest reference: %.200s", o->ref);
	*arch = o->arch ? o->arch : oci_store_host_arch();
	if (!oci_build_target_arch(*arch))
		return build_fail(b, -EINVAL, "unsupported architecture %s", *arch);
	if (!realpath(o->source_dir, real)) {
		r = -errno;
		return build_fail(b, r, "%s: %s", o->source_dir, strerror_r(-r, err, sizeof(err)));
	}
	b->source_dir = strdup(real);
	return b->source_dir ? 0 : -ENOMEM;
}

int oci_build(const struct oci_build_opts *opts, char digest_out[OCI_DIGEST_SIZE], char **ret_msg)
{
	struct build b = {.opts = opts, .msg = BASE_BUF_INIT(2 * OCI_BUILD_MAX_LOG)};
	char path[PATH_MAX], obj[PATH_MAX + 32], stripped[PATH_MAX + 32], err[512] = "";
	char digest[OCI_DIGEST_SIZE];
	struct oci_metadata *m = NULL;
	char *yaml = NULL, *elf = NULL;
	size_t yaml_len = 0, elf_len = 0;
	const char *arch = NULL, *tmp;
	int r;

	if (ret_msg)
		*ret_msg = NULL;
	if (!opts)
		return -EINVAL;
	r = build_check_opts(&b, &arch);
	if (r == 0)
		r = build_load_build_yaml(&b);
	if (r == 0)
		r = build_path(&b, b.metadata, path, sizeof(path));
	if (r == 0)
		r = build_read_file(&b, path, OCI_METADATA_MAX_BYTES, &yaml, &yaml_len);
	if (r == 0) {
		r = oci_metadata_parse(yaml, yaml_len, &m, err, sizeof(err));
		if (r < 0)
			build_fail(&b, r, "%s", err);
	}
	if (r == 0) {
		struct stat st;

		r = build_path(&b, b.source, path, sizeof(path));
		if (r == 0 && access(path, R_OK) < 0) {
			r = -errno;
			build_fail(&b, r, "%s: %s", path, strerror_r(-r, err, sizeof(err)));
		} else if (r == 0 && (stat(path, &st) < 0 || !S_ISREG(st.st_mode))) {
			/* a FIFO would hold the compiler (and this build) for ever */
			r = -EINVAL;
			build_fail(&b, r, "%s: not a regular file", path);
		}
	}
	if (r == 0) {
		r = find_toolchain(opts->clang, opts->strip, &b.tools, err, sizeof(err));
		if (r < 0)
			build_fail(&b, r, "%s", err);
	}
	if (r < 0)
		goto out;

	tmp = getenv("TMPDIR");
	snprintf(b.tmpdir, sizeof(b.tmpdir), "%s/ig-build-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(b.tmpdir)) {
		r = -errno;
		b.tmpdir[0] = '\0';
		build_fail(&b, r, "cannot create a temporary directory: %s",
			   strerror_r(-r, err, sizeof(err)));
		goto out;
	}
	snprintf(obj, sizeof(obj), "%s/program.o", b.tmpdir);
	snprintf(stripped, sizeof(stripped), "%s/program.stripped.o", b.tmpdir);
	r = build_compile(&b, arch, obj);
	if (r == 0)
		r = build_strip(&b, obj, stripped);
	if (r == 0)
		r = build_read_file(&b, stripped, OCI_STORE_MAX_PROGRAM, &elf, &elf_len);
	if (r == 0)
		r = build_check_elf(&b, (const unsigned char *)elf, elf_len);
	if (r == 0)
		r = build_image(&b, arch, m, yaml, yaml_len, elf, elf_len, digest);
	if (r == 0 && digest_out)
		memcpy(digest_out, digest, OCI_DIGEST_SIZE);
out:
	build_cleanup_tmp(&b);
	build_args_reset(&b);
	oci_metadata_free(m);
	free(yaml);
	free(elf);
	free(b.source_dir);
	free(b.source);
	free(b.metadata);
	if (ret_msg && b.msg.len)
		*ret_msg = base_buf_take(&b.msg);
	base_buf_done(&b.msg);
	return r;
}
