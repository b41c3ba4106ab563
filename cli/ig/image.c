// SPDX-License-Identifier: Apache-2.0
/*
 * ig image: the local gadget image store from the command line.
 *
 *   ig image build [DIR] -t REF      compile a gadget directory into an image
 *   ig image list                    what the store holds
 *   ig image remove REF...           untag, and collect what nothing uses
 *   ig image tag SRC DST             another name for an image
 *   ig image inspect REF             reference, digests, manifest, gadget.yaml
 *   ig image export REF... FILE      OCI layout tarball
 *   ig image import FILE             the reverse
 *   ig image push / pull             registry.c
 *
 * One dispatch table, one option table; each verb says which options it
 * takes, so the help of a verb lists exactly what it accepts.  The store
 * library does the work and words its own errors; this file picks the
 * store, finds the build's headers, formats output and reports once.
 */
#include "cli/ig/ig.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/complete.h"
#include "base/log.h"
#include "base/yaml.h"
#include "base/yaml_emit.h"
#include "cli/ig/resolve.h"
#include "oci/build.h"
#include "oci/digest.h"
#include "oci/metadata.h"
#include "oci/ref.h"
#include "oci/store.h"

#define IMAGE_MAX_INCLUDE_DIRS 32
/* Largest kernel BTF hashed to name the vmlinux.h cache entry. */
#define IMAGE_MAX_KERNEL_BTF (256u << 20)
/* Most bpftool diagnostics kept for an error message. */
#define IMAGE_MAX_TOOL_LOG 4096
/* Nodes of a gadget.yaml turned into JSON by inspect (aliases can make a
 * small document a huge tree: the budget stops that). */
#define IMAGE_MAX_YAML_NODES 65536
#define IMAGE_SHORT_DIGEST   12

#define KERNEL_BTF   "/sys/kernel/btf/vmlinux"
#define API_SENTINEL "gadget/macros.h"

extern char **environ;

/* ids of the rows; each row's tags is BIT(id), so a verb's view is the mask of what it takes */
enum image_opt_id {
	IOPT_STORE = 1,
	IOPT_TAG,
	IOPT_INCLUDE,
	IOPT_ARCH,
	IOPT_OUTPUT,
	IOPT_NO_TRUNC,
	IOPT_ALL,
	IOPT_HELP,
};

#define BIT(id) (1u << (id))
#define V	BASE_OPT_VALUE
#define S	BASE_OPT_SWITCH

static const struct base_opt image_opts[] = {
	{"tag", 't', V, IOPT_TAG, "REF",
	 "name and tag for the image: name:tag, host[:port]/name:tag", BIT(IOPT_TAG)},
	{"include-dir", 'I', V, IOPT_INCLUDE, "DIR",
	 "search DIR for headers before the gadget API headers and vmlinux.h found beside ig "
	 "(repeatable)",
	 BIT(IOPT_INCLUDE)},
	{"arch", 0, V, IOPT_ARCH, "ARCH",
	 "OCI architecture (amd64, arm64, ...); default: this machine's", BIT(IOPT_ARCH)},
	{"output", 'o', V, IOPT_OUTPUT, "FORMAT", NULL /* per verb */, BIT(IOPT_OUTPUT)},
	{"no-trunc", 0, S, IOPT_NO_TRUNC, NULL, "print full digests", BIT(IOPT_NO_TRUNC)},
	{"all", 'a', S, IOPT_ALL, NULL, "export every image of the store", BIT(IOPT_ALL)},
	{"store", 0, V, IOPT_STORE, "DIR",
	 "the local image store (default: $IG_OCI_STORE, else " OCI_STORE_DEFAULT_DIR ")",
	 BIT(IOPT_STORE)},
	{"help", 'h', S, IOPT_HELP, NULL, "show this help", BIT(IOPT_HELP)},
};

#undef V
#undef S

#define N_IMAGE_OPTS (sizeof(image_opts) / sizeof(image_opts[0]))

struct image_args {
	const char *store;
	const char *tag;
	const char *include_dirs[IMAGE_MAX_INCLUDE_DIRS];
	size_t n_include;
	const char *arch;
	const char *output;
	bool no_trunc;
	bool all;
	bool help;
	const char **pos; /* positional arguments */
	size_t n_pos;
};

struct image_verb {
	const char *name;
	const char *alias;
	int (*fn)(const struct image_verb *v, struct image_args *a);
	unsigned int opts; /* BIT(IOPT_*) accepted besides --store and --help */
	const char *args;
	const char *summary;
	const char *output_help;
	const char *details;
};

const char *ig_store_dir(const char *flag)
{
	const char *env = getenv("IG_OCI_STORE");

	if (flag && *flag)
		return flag;
	if (env && *env)
		return env;
	return OCI_STORE_DEFAULT_DIR;
}

/* ---- options ---- */

static int set_opt(const struct image_verb *v, struct image_args *a, const struct base_opt *o,
		   const char *val)
{
	switch (o->id) {
	case IOPT_STORE:
		a->store = val;
		break;
	case IOPT_TAG:
		a->tag = val;
		break;
	case IOPT_INCLUDE:
		if (a->n_include == IMAGE_MAX_INCLUDE_DIRS) {
			ig_error("too many --include-dir (at most %d)", IMAGE_MAX_INCLUDE_DIRS);
			return -E2BIG;
		}
		a->include_dirs[a->n_include++] = val;
		break;
	case IOPT_ARCH:
		if (!oci_build_target_arch(val)) {
			ig_error("unknown architecture '%s' (amd64, arm64, arm, 386, s390x, "
				 "ppc64le, riscv64)",
				 val);
			return -EINVAL;
		}
		a->arch = val;
		break;
	case IOPT_OUTPUT:
		a->output = val;
		break;
	case IOPT_NO_TRUNC:
		a->no_trunc = !strcmp(val, "true");
		break;
	case IOPT_ALL:
		a->all = !strcmp(val, "true");
		break;
	case IOPT_HELP:
		a->help = !strcmp(val, "true");
		break;
	}
	return 0;
}

/* argv[0] is the verb.  Options and positional arguments may be mixed. */
static int parse_args(const struct image_verb *v, int argc, char **argv, struct image_args *a)
{
	struct base_opt_table t = {
		.opts = image_opts,
		.n = N_IMAGE_OPTS,
		.tags = v->opts | BIT(IOPT_STORE) | BIT(IOPT_HELP),
	};
	bool only_pos = false;
	char err[256];

	a->pos = calloc((size_t)argc + 1, sizeof(*a->pos));
	if (!a->pos) {
		ig_error("%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	for (int i = 1; i < argc; i++) {
		const struct base_opt *o = NULL;
		const char *val = NULL;
		int r;

		if (only_pos) {
			a->pos[a->n_pos++] = argv[i];
			continue;
		}
		r = base_opt_next(&t, 1, argc, argv, &i, &o, &val, err, sizeof(err));
		switch (r) {
		case BASE_OPT_WORD:
			a->pos[a->n_pos++] = argv[i];
			break;
		case BASE_OPT_END:
			only_pos = true;
			break;
		case BASE_OPT_UNKNOWN:
			ig_error("unknown option '%s' (see 'ig image %s --help')", argv[i],
				 v->name);
			return -EINVAL;
		case BASE_OPT_MATCHED:
			if (set_opt(v, a, o, val) < 0)
				return -EINVAL;
			break;
		default:
			ig_error("%s", err);
			return -EINVAL;
		}
	}
	return 0;
}

static void print_verb_help(const struct image_verb *v)
{
	struct base_opt rows[N_IMAGE_OPTS];
	struct base_opt_table t = {
		.opts = rows,
		.n = N_IMAGE_OPTS,
		.tags = v->opts | BIT(IOPT_STORE) | BIT(IOPT_HELP),
	};

	printf("Usage: ig image %s%s%s [options]\n\n%s.\n", v->name, *v->args ? " " : "", v->args,
	       v->summary);
	if (v->details)
		printf("\n%s", v->details);
	if (v->alias)
		printf("\nAlias: ig image %s\n", v->alias);
	printf("\nOptions:\n");
	/* -o says what this verb prints */
	memcpy(rows, image_opts, sizeof(rows));
	for (size_t i = 0; i < N_IMAGE_OPTS; i++)
		if (rows[i].id == IOPT_OUTPUT)
			rows[i].help = v->output_help ? v->output_help : "output format";
	base_opt_help(stdout, &t, 1);
}

static int open_store(const struct image_args *a, struct oci_store **ret)
{
	const char *dir = ig_store_dir(a->store);
	int r = oci_store_open(dir, ret);

	if (r < 0)
		ig_error("cannot open the image store %s: %s", dir, strerror(-r));
	return r;
}

/*
 * The store's own message; prefixed with the store when it is about what the
 * store holds and does not name it already, since "not in the store" alone
 * leaves open which one.
 */
static void store_error(struct oci_store *s, int r)
{
	const char *m = oci_store_errmsg(s), *dir = oci_store_dir(s);
	bool content =
		r == -ENOENT || r == -EBADMSG || r == -EMEDIUMTYPE || r == -ENODATA || r == -EFBIG;

	if (!m || !*m)
		m = strerror(-r);
	if (content && !strstr(m, dir))
		ig_error("%s: %s", dir, m);
	else
		ig_error("%s", m);
}

static int want_args(const struct image_verb *v, const struct image_args *a, size_t min, size_t max)
{
	if (a->n_pos >= min && a->n_pos <= max)
		return 0;
	ig_error("%s arguments; usage: ig image %s %s (see 'ig image %s --help')",
		 a->n_pos < min ? "missing" : "too many", v->name, v->args, v->name);
	return -EINVAL;
}

/* ---- build: headers ---- */

static bool path_exists(const char *dir, const char *file)
{
	char p[PATH_MAX];

	if (snprintf(p, sizeof(p), "%s/%s", dir, file) >= (int)sizeof(p))
		return false;
	return access(p, R_OK) == 0;
}

/*
 * The first of the exe-relative and installed places holding file.  The
 * build tree keeps the API headers in <repo>/bpf/include and vmlinux.h in
 * <build>/gen, with ig in <build>/bin or <build>/san/bin; an installation
 * keeps both in <prefix>/lib/ig/include.
 */
static char *find_data_dir(const char *const *exe_rel, const char *file)
{
	static const char *const installed[] = {
		"/usr/local/lib/ig/include",
		"/usr/lib/ig/include",
		"/usr/share/ig/include",
	};

	for (size_t i = 0; exe_rel[i]; i++) {
		char *d = ig_resolve_exe_path(exe_rel[i]);
		char real[PATH_MAX];

		if (d && path_exists(d, file) && realpath(d, real)) {
			free(d);
			return strdup(real);
		}
		free(d);
	}
	for (size_t i = 0; i < sizeof(installed) / sizeof(installed[0]); i++)
		if (path_exists(installed[i], file))
			return strdup(installed[i]);
	return NULL;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* $IG_CACHE_DIR, else $XDG_CACHE_HOME/ig, else ~/.cache/ig, else /var/cache/ig. */
static char *cache_dir(void)
{
	const char *env = getenv("IG_CACHE_DIR");
	char *p;

	if (env && *env)
		return strdup(env);
	env = getenv("XDG_CACHE_HOME");
	if (env && *env)
		return asprintf(&p, "%s/ig", env) < 0 ? NULL : p;
	env = getenv("HOME");
	if (env && *env && strcmp(env, "/"))
		return asprintf(&p, "%s/.cache/ig", env) < 0 ? NULL : p;
	return strdup("/var/cache/ig");
}

/* sha256 of the running kernel's BTF: what a generated vmlinux.h depends on. */
static int kernel_btf_digest(char out[OCI_DIGEST_SIZE])
{
	struct oci_digest *d = NULL;
	char chunk[65536];
	size_t total = 0;
	int fd, r;

	fd = open(KERNEL_BTF, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = oci_digest_new(&d);
	while (r == 0) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = -errno;
		if (n <= 0)
			break;
		total += (size_t)n;
		if (total > IMAGE_MAX_KERNEL_BTF)
			r = -EFBIG;
		else
			r = oci_digest_update(d, chunk, (size_t)n);
	}
	close(fd);
	if (r == 0)
		r = oci_digest_final(d, out);
	oci_digest_free(d);
	return r;
}

static int find_tool(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH"), *p, *end;
	char full[PATH_MAX + 64];

	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	/* bpftool lives in sbin, which a user's PATH may lack */
	if (snprintf(full, sizeof(full), "%s:/usr/sbin:/sbin", path) >= (int)sizeof(full))
		return -ENAMETOOLONG;
	for (p = full; *p; p = end) {
		size_t n;

		end = strchrnul(p, ':');
		n = (size_t)(end - p);
		if (*end)
			end++;
		if (!n || snprintf(out, len, "%.*s/%s", (int)n, p, name) >= (int)len)
			continue;
		if (access(out, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

/*
 * Runs "bpftool btf dump file KERNEL_BTF format c" with its output into fd.
 * Its stderr goes to log.  Returns its exit status or -errno.
 */
static int run_bpftool(const char *exe, int fd, struct base_buf *log)
{
	char *argv[] = {(char *)exe, "btf", "dump", "file", KERNEL_BTF, "format", "c", NULL};
	posix_spawn_file_actions_t fa;
	int pipefd[2], status, r;
	char chunk[1024];
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	r = posix_spawn_file_actions_init(&fa);
	if (!r)
		r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (!r)
		r = posix_spawn_file_actions_adddup2(&fa, fd, 1);
	if (!r)
		r = posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	if (!r)
		r = posix_spawn(&pid, exe, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (r) {
		close(pipefd[0]);
		return -r;
	}
	for (;;) {
		ssize_t n = read(pipefd[0], chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (log->len < IMAGE_MAX_TOOL_LOG)
			base_buf_append(log, chunk, (size_t)n);
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -EINTR;
}

/*
 * A directory holding a vmlinux.h for the running kernel, generated with
 * bpftool from its BTF the first time and kept in the cache under the
 * BTF's digest, so a new kernel gets a new header.
 */
static int vmlinux_from_kernel(char **ret_dir)
{
	struct base_buf log = BASE_BUF_INIT(2 * IMAGE_MAX_TOOL_LOG);
	char digest[OCI_DIGEST_SIZE], exe[PATH_MAX], *root = NULL, *dir = NULL, *tmp = NULL;
	char *final = NULL;
	int fd = -1, r;

	r = kernel_btf_digest(digest);
	if (r < 0) {
		ig_error("no vmlinux.h found and the kernel BTF (" KERNEL_BTF ") cannot be "
			 "read: %s; point --include-dir at a directory with a vmlinux.h",
			 strerror(-r));
		return r;
	}
	root = cache_dir();
	if (!root || asprintf(&dir, "%s/vmlinux/%.16s", root, oci_digest_hex(digest)) < 0 ||
	    asprintf(&final, "%s/vmlinux.h", dir) < 0 ||
	    asprintf(&tmp, "%s/.vmlinux.h.XXXXXX", dir) < 0) {
		r = -ENOMEM;
		ig_error("%s", strerror(ENOMEM));
		goto out;
	}
	if (access(final, R_OK) == 0)
		goto done;
	r = find_tool("bpftool", exe, sizeof(exe));
	if (r < 0) {
		ig_error("no vmlinux.h found, and bpftool (to generate one from " KERNEL_BTF
			 ") is not installed; point --include-dir at a directory with a "
			 "vmlinux.h");
		goto out;
	}
	r = mkdir_p(dir, 0755);
	if (r < 0) {
		ig_error("cannot create the cache directory %s: %s", dir, strerror(-r));
		goto out;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		ig_error("cannot create a file in %s: %s", dir, strerror(-r));
		goto out;
	}
	r = run_bpftool(exe, fd, &log);
	if (r == 0 && (fsync(fd) < 0 || fchmod(fd, 0644) < 0))
		r = -errno;
	if (r != 0) {
		/* keep the first line of what bpftool said */
		if (log.data)
			log.data[strcspn(log.data, "\n")] = '\0';
		if (r > 0)
			ig_error("generating vmlinux.h: bpftool exited with status %d%s%s", r,
				 log.len ? ": " : "", log.len ? log.data : "");
		else
			ig_error("generating vmlinux.h: %s", strerror(-r));
		r = r > 0 ? -EIO : r;
		unlink(tmp);
		goto out;
	}
	/* Parallel builds may both generate it: the rename makes the last one win whole. */
	if (rename(tmp, final) < 0) {
		r = -errno;
		ig_error("cannot write %s: %s", final, strerror(-r));
		unlink(tmp);
		goto out;
	}
	base_log_debug("generated %s from " KERNEL_BTF, final);
done:
	*ret_dir = dir;
	dir = NULL;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	base_buf_done(&log);
	free(root);
	free(dir);
	free(tmp);
	free(final);
	return r;
}

/* /usr/include/<triplet>: where asm/ headers live for the host. */
static char *multiarch_dir(void)
{
	struct utsname u;
	char *p;

	if (uname(&u) < 0 || asprintf(&p, "/usr/include/%s-linux-gnu", u.machine) < 0)
		return NULL;
	if (access(p, R_OK) == 0)
		return p;
	free(p);
	return NULL;
}

struct include_set {
	const char *dirs[IMAGE_MAX_INCLUDE_DIRS + 4];
	char *owned[3];
};

static void include_set_done(struct include_set *inc)
{
	for (size_t i = 0; i < sizeof(inc->owned) / sizeof(inc->owned[0]); i++)
		free(inc->owned[i]);
}

/* The user's directories first, then the API headers, vmlinux.h and asm/. */
static int build_includes(const struct image_args *a, struct include_set *inc)
{
	static const char *const api_rel[] = {"../../bpf/include", "../../../bpf/include",
					      "../lib/ig/include", NULL};
	static const char *const vmlinux_rel[] = {"../gen", "../../gen", "../lib/ig/include", NULL};
	bool have_api = false, have_vmlinux = false;
	size_t n = 0;
	int r;

	for (size_t i = 0; i < a->n_include; i++) {
		if (access(a->include_dirs[i], R_OK) < 0) {
			ig_error("include directory %s: %s", a->include_dirs[i], strerror(errno));
			return -errno;
		}
		have_api |= path_exists(a->include_dirs[i], API_SENTINEL);
		have_vmlinux |= path_exists(a->include_dirs[i], "vmlinux.h");
		inc->dirs[n++] = a->include_dirs[i];
	}
	if (!have_api) {
		inc->owned[0] = find_data_dir(api_rel, API_SENTINEL);
		if (!inc->owned[0]) {
			ig_error("the gadget API headers (" API_SENTINEL ") are not installed "
				 "beside ig nor in /usr/lib/ig/include; point --include-dir at "
				 "them");
			return -ENOENT;
		}
		inc->dirs[n++] = inc->owned[0];
	}
	if (!have_vmlinux) {
		inc->owned[1] = find_data_dir(vmlinux_rel, "vmlinux.h");
		if (!inc->owned[1]) {
			r = vmlinux_from_kernel(&inc->owned[1]);
			if (r < 0)
				return r;
		}
		inc->dirs[n++] = inc->owned[1];
	}
	if (!a->arch || !strcmp(a->arch, oci_store_host_arch())) {
		inc->owned[2] = multiarch_dir();
		if (inc->owned[2])
			inc->dirs[n++] = inc->owned[2];
	}
	inc->dirs[n] = NULL;
	for (size_t i = 0; i < n; i++)
		base_log_debug("include directory %s", inc->dirs[i]);
	return 0;
}

/* ---- build ---- */

/* Compiler output goes out as it came; its last line, the verdict, as the error. */
static void report_build_failure(const char *dir, char *msg, int r)
{
	char *last;
	size_t len;

	if (!msg || !*msg) {
		ig_error("building %s: %s", dir, strerror(-r));
		return;
	}
	len = strlen(msg);
	while (len && msg[len - 1] == '\n')
		msg[--len] = '\0';
	last = strrchr(msg, '\n');
	if (last) {
		*last++ = '\0';
		fflush(stdout);
		fprintf(stderr, "%s\n", msg);
	} else {
		last = msg;
	}
	ig_error("%s", last);
}

static int verb_build(const struct image_verb *v, struct image_args *a)
{
	struct oci_build_toolchain tools;
	struct include_set inc = {0};
	char why[256];
	struct oci_store *s = NULL;
	char digest[OCI_DIGEST_SIZE], *msg = NULL;
	const char *dir;
	int r;

	if (want_args(v, a, 0, 1) < 0)
		return IG_EXIT_USAGE;
	if (!a->tag) {
		ig_error("which name? usage: ig image build [DIR] -t NAME[:TAG]");
		return IG_EXIT_USAGE;
	}
	dir = a->n_pos ? a->pos[0] : ".";
	/* $CLANG and $LLVM_STRIP as make passes them; else the newest clang there is */
	r = oci_build_toolchain(getenv("CLANG"), getenv("LLVM_STRIP"), &tools, why, sizeof(why));
	if (r < 0) {
		ig_error("%s", why);
		return IG_EXIT_ERROR;
	}
	r = build_includes(a, &inc);
	if (r == 0)
		r = open_store(a, &s);
	if (r == 0) {
		struct oci_build_opts o = {
			.source_dir = dir,
			.include_dirs = inc.dirs,
			.store = s,
			.ref = a->tag,
			.arch = a->arch,
			.source_date_epoch = getenv("SOURCE_DATE_EPOCH"),
			.clang = tools.clang,
			.strip = tools.strip,
		};

		sigset_t stop, old;

		/*
		 * Ctrl-C or SIGTERM during the build ends the compiler (which
		 * takes them as usual), then the build cleans its temporary
		 * directory, then the signal ends ig as it would have.
		 */
		sigemptyset(&stop);
		sigaddset(&stop, SIGINT);
		sigaddset(&stop, SIGTERM);
		sigaddset(&stop, SIGHUP);
		sigprocmask(SIG_BLOCK, &stop, &old);
		r = oci_build(&o, digest, &msg);
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (r < 0) {
			report_build_failure(dir, msg, r);
		} else {
			/* which compiler, and the warnings */
			fflush(stdout);
			fprintf(stderr, "ig: compiled with %s%s%s%s\n", tools.clang,
				tools.version[0] ? " (" : "", tools.version,
				tools.version[0] ? ")" : "");
			if (msg && *msg) {
				fflush(stdout);
				fputs(msg, stderr);
				if (msg[strlen(msg) - 1] != '\n')
					fputc('\n', stderr);
			}
			printf("%s\n", digest);
		}
	}
	free(msg);
	oci_store_free(s);
	include_set_done(&inc);
	return r < 0 ? IG_EXIT_ERROR : IG_EXIT_OK;
}

/* ---- list ---- */

/* RFC 3339 as images carry it ("2024-05-01T10:00:00Z", fractions, offsets). */
static bool parse_created(const char *s, time_t *ret)
{
	struct tm tm = {0};
	const char *p;
	long off = 0;

	if (!s || !(p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
		return false;
	if (*p == '.')
		p += 1 + strspn(p + 1, "0123456789");
	if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 +
		      ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
		if (*p == '-')
			off = -off;
	} else if (strcmp(p, "Z") && strcmp(p, "z")) {
		return false;
	}
	*ret = timegm(&tm) - off;
	return true;
}

static void format_age(const char *created, char *out, size_t len)
{
	static const struct {
		long secs;
		const char *unit;
	} units[] = {
		{365L * 86400, "year"}, {30L * 86400, "month"}, {7L * 86400, "week"},
		{86400, "day"},		{3600, "hour"},		{60, "minute"},
	};
	time_t t, now = time(NULL);
	long d;

	if (!parse_created(created, &t)) {
		snprintf(out, len, "%s", created ? created : "");
		return;
	}
	d = (long)(now - t);
	if (d < 0) {
		snprintf(out, len, "%s", created);
		return;
	}
	/* Two of a unit before switching to it reads better than "1 week". */
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (d >= 2 * units[i].secs) {
			snprintf(out, len, "%ld %ss ago", d / units[i].secs, units[i].unit);
			return;
		}
	}
	snprintf(out, len, "%ld second%s ago", d, d == 1 ? "" : "s");
}

/* Sizes as registries and docker print them: decimal units. */
static void format_size(uint64_t n, char *out, size_t len)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
	double v = (double)n;
	size_t u = 0;

	while (v >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(out, len, "%lluB", (unsigned long long)n);
	else
		snprintf(out, len, "%.3g%s", v, units[u]);
}

struct list_row {
	char *repository;
	const char *tag;
	char digest[OCI_DIGEST_SIZE];
	char created[64];
	char size[32];
	const struct oci_store_image *img;
};

static int cmp_images(const void *x, const void *y)
{
	const struct oci_store_image *a = x, *b = y;

	return strcmp(a->ref, b->ref);
}

static int fill_row(const struct oci_store_image *img, bool no_trunc, struct list_row *row,
		    struct oci_ref **ret_ref)
{
	struct oci_ref *ref = NULL;
	int r;

	r = oci_ref_parse(img->ref, &ref);
	if (r == 0)
		r = oci_ref_format_name(ref, &row->repository);
	if (r < 0) {
		oci_ref_free(ref);
		return r;
	}
	row->tag = ref->tag ? ref->tag : "<none>";
	if (no_trunc || !oci_digest_is_sha256(img->digest))
		snprintf(row->digest, sizeof(row->digest), "%s", img->digest);
	else
		snprintf(row->digest, sizeof(row->digest), "%.*s", IMAGE_SHORT_DIGEST,
			 oci_digest_hex(img->digest));
	format_age(img->created, row->created, sizeof(row->created));
	format_size(img->size, row->size, sizeof(row->size));
	row->img = img;
	*ret_ref = ref;
	return 0;
}

static int print_list_json(struct oci_store_image *images, size_t n)
{
	json_t *arr = json_array();
	char *text;

	for (size_t i = 0; arr && i < n; i++) {
		struct oci_ref *ref = NULL;
		char *name = NULL;
		json_t *o;

		if (oci_ref_parse(images[i].ref, &ref) < 0 || oci_ref_format_name(ref, &name) < 0) {
			oci_ref_free(ref);
			continue;
		}
		o = json_pack("{s:s,s:s,s:s?,s:s,s:s,s:s?,s:I}", "reference", images[i].ref,
			      "repository", name, "tag", ref->tag, "digest", images[i].digest,
			      "mediaType", images[i].media_type, "created", images[i].created,
			      "size", (json_int_t)images[i].size);
		if (o)
			json_array_append_new(arr, o);
		free(name);
		oci_ref_free(ref);
	}
	text = arr ? json_dumps(arr, JSON_INDENT(2)) : NULL;
	json_decref(arr);
	if (!text) {
		ig_error("%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	printf("%s\n", text);
	free(text);
	return 0;
}

static int verb_list(const struct image_verb *v, struct image_args *a)
{
	static const char *const head[] = {"REPOSITORY", "TAG", "DIGEST", "CREATED", "SIZE"};
	struct oci_store_image *images = NULL;
	struct list_row *rows = NULL;
	struct oci_ref **refs = NULL;
	struct oci_store *s = NULL;
	size_t n = 0, w[5];
	bool json = false;
	int r;

	if (want_args(v, a, 0, 0) < 0)
		return IG_EXIT_USAGE;
	if (a->output && !strcmp(a->output, "json")) {
		json = true;
	} else if (a->output && strcmp(a->output, "columns")) {
		ig_error("invalid output format '%s' (columns or json)", a->output);
		return IG_EXIT_USAGE;
	}
	if (open_store(a, &s) < 0)
		return IG_EXIT_ERROR;
	r = oci_store_list(s, &images, &n);
	if (r < 0) {
		store_error(s, r);
		goto out;
	}
	if (n)
		qsort(images, n, sizeof(*images), cmp_images);
	if (json) {
		r = print_list_json(images, n);
		goto out;
	}
	rows = calloc(n + 1, sizeof(*rows));
	refs = calloc(n + 1, sizeof(*refs));
	if (!rows || !refs) {
		r = -ENOMEM;
		ig_error("%s", strerror(ENOMEM));
		goto out;
	}
	for (size_t i = 0; i < 5; i++)
		w[i] = strlen(head[i]);
	for (size_t i = 0; i < n; i++) {
		r = fill_row(&images[i], a->no_trunc, &rows[i], &refs[i]);
		if (r < 0) {
			ig_error("store entry %s: invalid reference", images[i].ref);
			goto out;
		}
#define WIDEN(k, s)                                                                                \
	do {                                                                                       \
		if (strlen(s) > w[k])                                                              \
			w[k] = strlen(s);                                                          \
	} while (0)
		WIDEN(0, rows[i].repository);
		WIDEN(1, rows[i].tag);
		WIDEN(2, rows[i].digest);
		WIDEN(3, rows[i].created);
#undef WIDEN
	}
	printf("%-*s  %-*s  %-*s  %-*s  %s\n", (int)w[0], head[0], (int)w[1], head[1], (int)w[2],
	       head[2], (int)w[3], head[3], head[4]);
	for (size_t i = 0; i < n; i++)
		printf("%-*s  %-*s  %-*s  %-*s  %s\n", (int)w[0], rows[i].repository, (int)w[1],
		       rows[i].tag, (int)w[2], rows[i].digest, (int)w[3], rows[i].created,
		       rows[i].size);
	r = 0;
out:
	for (size_t i = 0; rows && i < n; i++) {
		free(rows[i].repository);
		oci_ref_free(refs[i]);
	}
	free(rows);
	free(refs);
	oci_store_images_free(images, n);
	oci_store_free(s);
	return r < 0 ? IG_EXIT_ERROR : IG_EXIT_OK;
}

/* ---- remove, tag ---- */

static int verb_remove(const struct image_verb *v, struct image_args *a)
{
	struct oci_store *s = NULL;
	int ret = IG_EXIT_OK;

	if (want_args(v, a, 1, SIZE_MAX) < 0)
		return IG_EXIT_USAGE;
	if (open_store(a, &s) < 0)
		return IG_EXIT_ERROR;
	/* Each reference on its own: one bad name does not keep the others. */
	for (size_t i = 0; i < a->n_pos; i++) {
		int r = oci_store_remove(s, a->pos[i]);

		if (r < 0) {
			store_error(s, r);
			ret = IG_EXIT_ERROR;
			continue;
		}
		printf("Removed %s\n", a->pos[i]);
	}
	oci_store_free(s);
	return ret;
}

/* The digest the store's ref (tag or digest reference) points at. */
static int image_digest(struct oci_store *s, const char *ref_s, char out[OCI_DIGEST_SIZE])
{
	struct oci_store_image *images = NULL;
	struct oci_ref *ref = NULL;
	char *canonical = NULL;
	size_t n = 0;
	int r;

	r = oci_ref_parse(ref_s, &ref);
	if (r < 0) {
		ig_error("invalid image reference \"%.200s\"", ref_s);
		return r;
	}
	if (ref->digest) {
		r = oci_store_has_blob(s, ref->digest);
		if (r == 1)
			snprintf(out, OCI_DIGEST_SIZE, "%s", ref->digest);
		else
			ig_error("image %s is not in the store %s", ref_s, oci_store_dir(s));
		oci_ref_free(ref);
		return r == 1 ? 0 : -ENOENT;
	}
	r = oci_ref_format(ref, &canonical);
	if (r == 0)
		r = oci_store_list(s, &images, &n);
	if (r < 0) {
		store_error(s, r);
		goto out;
	}
	r = -ENOENT;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(images[i].ref, canonical)) {
			snprintf(out, OCI_DIGEST_SIZE, "%s", images[i].digest);
			r = 0;
			break;
		}
	}
	if (r < 0)
		ig_error("image %s is not in the store %s", canonical, oci_store_dir(s));
out:
	oci_store_images_free(images, n);
	free(canonical);
	oci_ref_free(ref);
	return r;
}

static int verb_tag(const struct image_verb *v, struct image_args *a)
{
	char digest[OCI_DIGEST_SIZE];
	struct oci_store *s = NULL;
	int r;

	if (want_args(v, a, 2, 2) < 0)
		return IG_EXIT_USAGE;
	if (open_store(a, &s) < 0)
		return IG_EXIT_ERROR;
	r = image_digest(s, a->pos[0], digest);
	if (r == 0) {
		r = oci_store_tag(s, a->pos[1], digest);
		if (r < 0)
			store_error(s, r);
	}
	oci_store_free(s);
	return r < 0 ? IG_EXIT_ERROR : IG_EXIT_OK;
}

/* ---- inspect ---- */

/* gadget.yaml as JSON, or NULL when it does not convert (the text goes instead). */
static json_t *metadata_json(const char *text, size_t len)
{
	/* the store bounded the blob already */
	const struct base_yaml_opts opts = {.name = "gadget.yaml", .max_bytes = len};
	struct base_yaml y = {0};
	json_t *out = NULL;

	if (base_yaml_load(&y, text, len, &opts, NULL, 0) == 0) {
		if (!base_yaml_root(&y))
			out = json_object();
		else if (base_yaml_to_json(&y, base_yaml_root(&y), IMAGE_MAX_YAML_NODES, &out) < 0)
			out = NULL;
	}
	base_yaml_done(&y);
	return out;
}

static json_t *blob_json(struct oci_store *s, const char *digest)
{
	void *buf = NULL;
	size_t len = 0;
	json_t *o;

	if (oci_store_get_blob(s, digest, OCI_STORE_MAX_MANIFEST, &buf, &len) < 0)
		return NULL;
	o = json_loadb(buf, len, 0, NULL);
	free(buf);
	return o;
}

static int print_yaml(json_t *root)
{
	struct base_buf b = BASE_BUF_INIT(0);
	int r = base_yaml_emit_json_doc(&b, root);

	if (r == 0 && fwrite(b.data, 1, b.len, stdout) != b.len)
		r = -EIO;
	base_buf_done(&b);
	return r;
}

static json_t *inspect_json(struct oci_store *s, const char *ref_s, const char *arch,
			    const struct oci_store_gadget *g)
{
	struct oci_store_image *images = NULL;
	struct oci_ref *ref = NULL;
	char *canonical = NULL;
	json_t *o, *manifest, *md;
	size_t n = 0;

	if (oci_ref_parse(ref_s, &ref) < 0 || oci_ref_format(ref, &canonical) < 0) {
		oci_ref_free(ref);
		return NULL;
	}
	oci_ref_free(ref);
	manifest = blob_json(s, g->manifest_digest);
	o = json_pack("{s:s,s:s,s:s,s:s}", "reference", canonical, "digest", g->image_digest,
		      "architecture", arch, "manifestDigest", g->manifest_digest);
	free(canonical);
	if (!o || !manifest) {
		json_decref(o);
		json_decref(manifest);
		return NULL;
	}
	json_object_set(
		o, "created",
		json_object_get(json_object_get(manifest, "annotations"), OCI_ANNOTATION_CREATED)
			?: json_null());
	if (oci_store_list(s, &images, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			if (!strcmp(images[i].digest, g->image_digest)) {
				json_object_set_new(o, "size",
						    json_integer((json_int_t)images[i].size));
				break;
			}
		oci_store_images_free(images, n);
	}
	json_object_set_new(o, "programSize", json_integer((json_int_t)g->program_len));
	if (strcmp(g->image_digest, g->manifest_digest))
		json_object_set_new(o, "index", blob_json(s, g->image_digest) ?: json_null());
	json_object_set_new(o, "manifest", manifest);
	md = metadata_json(g->config, g->config_len);
	json_object_set_new(o, "metadata", md ? md : json_stringn(g->config, g->config_len));
	return o;
}

static int verb_inspect(const struct image_verb *v, struct image_args *a)
{
	const char *arch = a->arch ? a->arch : oci_store_host_arch();
	struct oci_store_gadget *g = NULL;
	struct oci_store *s = NULL;
	bool yaml = false;
	json_t *o = NULL;
	char *text;
	int r;

	if (want_args(v, a, 1, 1) < 0)
		return IG_EXIT_USAGE;
	if (a->output && !strcmp(a->output, "yaml")) {
		yaml = true;
	} else if (a->output && strcmp(a->output, "json")) {
		ig_error("invalid output format '%s' (json or yaml)", a->output);
		return IG_EXIT_USAGE;
	}
	if (open_store(a, &s) < 0)
		return IG_EXIT_ERROR;
	r = oci_store_resolve(s, a->pos[0], arch, &g);
	if (r < 0) {
		store_error(s, r);
		goto out;
	}
	o = inspect_json(s, a->pos[0], arch, g);
	if (!o) {
		r = -ENOMEM;
		ig_error("image %s: cannot read its manifest back", a->pos[0]);
		goto out;
	}
	if (yaml) {
		r = print_yaml(o);
		if (r < 0)
			ig_error("writing YAML: %s", strerror(-r));
		goto out;
	}
	text = json_dumps(o, JSON_INDENT(2));
	if (!text) {
		r = -ENOMEM;
		ig_error("%s", strerror(ENOMEM));
		goto out;
	}
	printf("%s\n", text);
	free(text);
out:
	json_decref(o);
	oci_store_gadget_free(g);
	oci_store_free(s);
	return r < 0 ? IG_EXIT_ERROR : IG_EXIT_OK;
}

/* ---- export, import ---- */

static int verb_export(const struct image_verb *v, struct image_args *a)
{
	struct oci_store *s = NULL;
	size_t n_refs;
	int r;

	if (a->all ? want_args(v, a, 1, 1) < 0 : want_args(v, a, 2, SIZE_MAX) < 0)
		return IG_EXIT_USAGE;
	n_refs = a->n_pos - 1;
	if (open_store(a, &s) < 0)
		return IG_EXIT_ERROR;
	r = oci_store_export(s, a->all ? NULL : a->pos, a->all ? 0 : n_refs, a->pos[n_refs]);
	if (r < 0)
		store_error(s, r);
	oci_store_free(s);
	return r < 0 ? IG_EXIT_ERROR : IG_EXIT_OK;
}

static int verb_import(const struct image_verb *v, struct image_args *a)
{
	struct oci_store *s = NULL;
	char **refs = NULL;
	int r;

	if (want_args(v, a, 1, 1) < 0)
		return IG_EXIT_USAGE;
	if (open_store(a, &s) < 0)
		return IG_EXIT_ERROR;
	r = oci_store_import(s, a->pos[0], &refs);
	if (r < 0)
		store_error(s, r);
	for (char **p = refs; p && *p; p++)
		printf("%s\n", *p);
	oci_store_strv_free(refs);
	oci_store_free(s);
	return r < 0 ? IG_EXIT_ERROR : IG_EXIT_OK;
}

/* ---- dispatch ---- */

static const struct image_verb image_verbs[] = {
	{"build", NULL, verb_build, BIT(IOPT_TAG) | BIT(IOPT_INCLUDE) | BIT(IOPT_ARCH),
	 "[DIR] -t NAME[:TAG]",
	 "Build the gadget in DIR (default: the current directory) into an image", NULL,
	 "DIR holds program.bpf.c and gadget.yaml (or a build.yaml naming them).  The\n"
	 "program is compiled with clang against the gadget API headers and a vmlinux.h\n"
	 "(found beside ig, else generated from /sys/kernel/btf/vmlinux with bpftool\n"
	 "into $IG_CACHE_DIR or ~/.cache/ig), and the image is tagged in the store.\n"
	 "The compiler is $CLANG, else the newest of clang-19 ... clang-15 and clang\n"
	 "installed (named on stderr); llvm-strip is $LLVM_STRIP, else the one of the\n"
	 "same version.  A WebAssembly module in build.yaml (wasm:) is not built: this\n"
	 "runtime does not run them, and the build says so.\n"
	 "Prints the digest of the image.  Set SOURCE_DATE_EPOCH for a reproducible\n"
	 "creation time: the same sources, compiler and epoch give the same digest.\n"},
	{"list", "ls", verb_list, BIT(IOPT_OUTPUT) | BIT(IOPT_NO_TRUNC), "",
	 "List the images in the local store", "columns (default) or json", NULL},
	{"remove", "rm", verb_remove, 0, "REF...",
	 "Remove images from the local store, and the blobs no other image uses", NULL,
	 "A digest reference (name@sha256:...) removes every tag of name pointing at it.\n"},
	{"tag", NULL, verb_tag, 0, "SRC DST", "Give the image SRC the additional name DST", NULL,
	 NULL},
	{"inspect", NULL, verb_inspect, BIT(IOPT_OUTPUT) | BIT(IOPT_ARCH), "REF",
	 "Show an image: reference, digests, manifest and gadget.yaml", "json (default) or yaml",
	 NULL},
	{"export", NULL, verb_export, BIT(IOPT_ALL), "REF... FILE",
	 "Write images to FILE as an OCI image layout tarball", NULL,
	 "The tarball is reproducible and can be read by 'ig image import' and by\n"
	 "other OCI tools (skopeo copy oci-archive:FILE ...).\n"},
	{"import", NULL, verb_import, 0, "FILE",
	 "Import the images of an OCI image layout tarball (plain or compressed)", NULL,
	 "Every blob and image is checked before anything enters the store, so a\n"
	 "damaged tarball leaves the store as it was.  Prints the names imported.\n"},
};

#define N_IMAGE_VERBS (sizeof(image_verbs) / sizeof(image_verbs[0]))

static void usage(FILE *f)
{
	fprintf(f, "Usage: ig image <command> [args]\n\n"
		   "Builds, stores and moves gadget images (OCI images holding an eBPF\n"
		   "program and its gadget.yaml).\n\nCommands:\n");
	for (size_t i = 0; i < N_IMAGE_VERBS; i++)
		fprintf(f, "  %-8s %s\n", image_verbs[i].name, image_verbs[i].summary);
	fprintf(f, "  %-8s %s\n", "push", "Push an image from the local store to a registry");
	fprintf(f, "  %-8s %s\n", "pull", "Pull an image from a registry into the local store");
	fprintf(f, "  %-8s %s\n", "sign", "Sign an image of the local store with a private key");
	fprintf(f, "  %-8s %s\n", "verify", "Check an image's signature against public keys");
	fprintf(f,
		"\nEvery command takes --store DIR (default: $IG_OCI_STORE, else "
		"%s).\n"
		"Run 'ig image <command> --help' for its options.\n"
		"\nExamples:\n"
		"  ig image build gadgets/trace_open -t trace_open:v1\n"
		"  ig image list\n"
		"  ig image export trace_open:v1 trace_open.tar\n"
		"  ig run trace_open:v1\n",
		OCI_STORE_DEFAULT_DIR);
}

int ig_cmd_image(int argc, char **argv)
{
	struct image_args a = {0};
	const struct image_verb *v = NULL;
	int ret;

	if (argc < 2) {
		usage(stderr);
		return IG_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return IG_EXIT_OK;
	}
	if (!strcmp(argv[1], "push"))
		return ig_cmd_image_push(argc - 1, argv + 1);
	if (!strcmp(argv[1], "pull"))
		return ig_cmd_image_pull(argc - 1, argv + 1);
	if (!strcmp(argv[1], "sign"))
		return ig_cmd_image_sign(argc - 1, argv + 1);
	if (!strcmp(argv[1], "verify"))
		return ig_cmd_image_verify(argc - 1, argv + 1);
	for (size_t i = 0; i < N_IMAGE_VERBS && !v; i++)
		if (!strcmp(argv[1], image_verbs[i].name) ||
		    (image_verbs[i].alias && !strcmp(argv[1], image_verbs[i].alias)))
			v = &image_verbs[i];
	if (!v) {
		ig_error("unknown command 'ig image %s' (see 'ig image --help')", argv[1]);
		return IG_EXIT_USAGE;
	}
	if (parse_args(v, argc - 1, argv + 1, &a) < 0) {
		free(a.pos);
		return IG_EXIT_USAGE;
	}
	if (a.help) {
		print_verb_help(v);
		ret = IG_EXIT_OK;
	} else {
		ret = v->fn(v, &a);
	}
	free(a.pos);
	return ret;
}

static void add_ref(void *ctx, const char *name)
{
	base_complete_add(ctx, name, NULL);
}

void ig_image_complete(struct base_complete *c, int argc, char **argv)
{
	if (argc == 1 && c->word[0] != '-') {
		for (size_t i = 0; i < N_IMAGE_VERBS; i++)
			base_complete_add(c, image_verbs[i].name, image_verbs[i].summary);
		base_complete_add(c, "push", "Push an image from the local store to a registry");
		base_complete_add(c, "pull", "Pull an image from a registry into the local store");
		c->directive = BASE_COMPLETE_NOFILE;
		return;
	}
	if (c->word[0] == '-') {
		base_complete_add(c, "--store", "the local image store");
		base_complete_add(c, "--help", "the command's help");
		c->directive = BASE_COMPLETE_NOFILE;
		return;
	}
	/* the images of the store for the commands that take references */
	if (argc >= 2 &&
	    (!strcmp(argv[1], "remove") || !strcmp(argv[1], "rm") || !strcmp(argv[1], "tag") ||
	     !strcmp(argv[1], "inspect") || !strcmp(argv[1], "export") || !strcmp(argv[1], "push")))
		ig_resolve_names(NULL, add_ref, c);
}
