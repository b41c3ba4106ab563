// SPDX-License-Identifier: Apache-2.0
/*
 * Uprobes per root.  See uprobes.h.
 *
 * Paths inside a root are opened with openat2(RESOLVE_IN_ROOT) from
 * /proc/PID/root, so that an image's absolute symlinks ("/lib" ->
 * "/usr/lib", or a hostile "/etc/shadow") resolve inside the image, never
 * on the host.  libbpf is handed /proc/self/fd/N: it parses the file to
 * find the function, and the kernel puts the probe on the real inode behind
 * that path (d_real_inode(), through overlayfs).
 *
 * Telling whether two roots hold the same real file: under overlayfs,
 * stat() gives the overlay's device, different in every container.  A
 * page of the file mapped here shows in /proc/self/maps with the device and
 * inode of the file behind the overlay (the kernel maps the real file),
 * which is the identity the kernel's uprobe uses.  Without overlayfs that
 * is what stat() says anyway, and stat() is the fallback.
 */
#include "run/uprobes.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <dirent.h>

#include <bpf/libbpf.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/file.h"
#include "base/log.h"
#include "bpf/gadget.h"
#include "run/ldcache.h"

/* Where the loader looks when the cache does not say (Debian's multiarch first). */
static const char *const lib_dirs[] = {
#if defined(__x86_64__)
	"/lib/x86_64-linux-gnu",
	"/usr/lib/x86_64-linux-gnu",
#elif defined(__aarch64__)
	"/lib/aarch64-linux-gnu",
	"/usr/lib/aarch64-linux-gnu",
#endif
	"/lib64",
	"/usr/lib64",
	"/lib",
	"/usr/lib",
};

/* Entries of one library directory looked at, at most. */
#define LIBDIR_MAX_ENTRIES 65536

#if defined(__x86_64__)
#define HOST_EM 62 /* EM_X86_64 */
#elif defined(__aarch64__)
#define HOST_EM 183 /* EM_AARCH64 */
#else
#define HOST_EM 0 /* not checked */
#endif

/* One program attached to one real file, shared by the roots that have it. */
struct up_link {
	size_t prog; /* index in the gadget's uprobes */
	dev_t dev;
	ino_t ino;
	struct bpf_link *link;
	unsigned int refs;
};

struct up_root {
	uint32_t pid;
	size_t n;
	struct up_link *links[RUN_UPROBES_MAX_FILES * 8];
};

struct run_uprobes {
	struct bpf_gadget *g;
	size_t n_links, cap_links;
	struct up_link **links;
	size_t n_roots, cap_roots;
	struct up_root **roots;
};

/* A library found in a root: the open file and the path it has there. */
struct found {
	int fd;
	dev_t dev;
	ino_t ino;
	char path[RUN_LDCACHE_MAX_PATH];
};

struct found_set {
	size_t n;
	struct found f[RUN_UPROBES_MAX_FILES];
};

static int open_in_root(int root, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, root, path, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

/* Reads a regular file of at most max bytes from fd. */
static int read_fd(int fd, size_t max, char **ret, size_t *ret_len)
{
	struct stat st;
	size_t len = 0, cap;
	char *buf;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return -errno;
		}
		if (n == 0 || (len += (size_t)n) == cap)
			break;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* /proc/self/maps of ig itself: a few hundred lines. */
#define MAPS_MAX_BYTES (4u << 20)

/* The real file behind fd (see the top of the file); 0 or -errno. */
static int real_id(int fd, dev_t *dev, ino_t *ino)
{
	long page = sysconf(_SC_PAGESIZE);
	char *maps = NULL, key[32];
	const char *line;
	size_t len = 0;
	struct stat st;
	void *p;
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	*dev = st.st_dev;
	*ino = st.st_ino;
	p = st.st_size > 0 ? mmap(NULL, (size_t)page, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
	if (p == MAP_FAILED)
		return 0;
	snprintf(key, sizeof(key), "%" PRIxPTR "-", (uintptr_t)p);
	r = base_file_read("/proc/self/maps", MAPS_MAX_BYTES, &maps, &len);
	munmap(p, (size_t)page);
	for (line = r == 0 ? maps : NULL; line && *line;) {
		const char *nl = strchr(line, '\n');
		unsigned long long i;
		unsigned int maj, min;

		/* start-end perms offset MAJ:MIN inode path */
		if (!strncmp(line, key, strlen(key))) {
			if (sscanf(line, "%*s %*s %*s %x:%x %llu", &maj, &min, &i) == 3 && i) {
				*dev = makedev(maj, min);
				*ino = (ino_t)i;
			}
			break;
		}
		line = nl ? nl + 1 : NULL;
	}
	free(maps);
	return 0;
}

/* An ELF shared object or executable for this machine: worth a uprobe. */
static bool native_elf(int fd)
{
	unsigned char h[20];

	if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return false;
	if (memcmp(h, "\177ELF", 4) || h[4] != (sizeof(void *) == 8 ? 2 : 1))
		return false;
	return !HOST_EM || (unsigned int)(h[18] | h[19] << 8) == HOST_EM;
}

/* Opens path in root and keeps it in fs unless it is not usable or already there. */
static void found_add(struct found_set *fs, int root, const char *path)
{
	struct found *f;
	int fd;

	if (fs->n == RUN_UPROBES_MAX_FILES)
		return;
	fd = open_in_root(root, path, O_RDONLY);
	if (fd < 0)
		return;
	f = &fs->f[fs->n];
	if (!native_elf(fd) || real_id(fd, &f->dev, &f->ino) < 0) {
		close(fd);
		return;
	}
	for (size_t i = 0; i < fs->n; i++) {
		if (fs->f[i].dev == f->dev && fs->f[i].ino == f->ino) {
			close(fd); /* a symlink to a file found already */
			return;
		}
	}
	f->fd = fd;
	snprintf(f->path, sizeof(f->path), "%s", path);
	fs->n++;
}

struct cache_ctx {
	struct found_set *fs;
	int root;
};

static int from_cache(void *ctx, const char *path)
{
	struct cache_ctx *c = ctx;

	found_add(c->fs, c->root, path);
	return 0;
}

/* "libc.so", "libc.so.6", "libc.so.6.1" for "libc"; not "libcap.so" or "libc.so-x". */
static bool lib_name_matches(const char *entry, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(entry, name, n) || strncmp(entry + n, ".so", 3))
		return false;
	for (entry += n + 3; *entry; entry++)
		if (*entry != '.' && (*entry < '0' || *entry > '9'))
			return false;
	return true;
}

static void from_dir(struct found_set *fs, int root, const char *dir, const char *name)
{
	char path[RUN_LDCACHE_MAX_PATH];
	size_t seen = 0;
	struct dirent *de;
	DIR *d;
	int fd;

	fd = open_in_root(root, dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) && seen++ < LIBDIR_MAX_ENTRIES) {
		if (!lib_name_matches(de->d_name, name))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < (int)sizeof(path))
			found_add(fs, root, path);
	}
	closedir(d);
}

/* The files name means in root: as given when absolute, else as the loader finds it. */
static void find_library(int root, const char *name, struct found_set *fs)
{
	struct cache_ctx c = {.fs = fs, .root = root};
	char *cache = NULL;
	size_t len = 0;
	int fd;

	if (name[0] == '/') {
		found_add(fs, root, name);
		return;
	}
	fd = open_in_root(root, "/etc/ld.so.cache", O_RDONLY);
	if (fd >= 0) {
		if (read_fd(fd, RUN_LDCACHE_MAX_BYTES, &cache, &len) == 0)
			run_ldcache_lookup(cache, len, name, from_cache, &c);
		free(cache);
		close(fd);
	}
	/* no cache (musl, distroless images) or nothing in it: the usual directories */
	for (size_t i = 0; !fs->n && i < sizeof(lib_dirs) / sizeof(lib_dirs[0]); i++)
		from_dir(fs, root, lib_dirs[i], name);
}

static void found_done(struct found_set *fs)
{
	for (size_t i = 0; i < fs->n; i++)
		close(fs->f[i].fd);
	fs->n = 0;
}

/* ---- links and roots ---- */

int run_uprobes_new(struct bpf_gadget *g, struct run_uprobes **ret)
{
	struct run_uprobes *u;

	*ret = NULL;
	if (!bpf_gadget_uprobe_count(g))
		return 0;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->g = g;
	*ret = u;
	return 0;
}

static struct up_root *find_root(struct run_uprobes *u, uint32_t pid, size_t *idx)
{
	for (size_t i = 0; i < u->n_roots; i++) {
		if (u->roots[i]->pid == pid) {
			if (idx)
				*idx = i;
			return u->roots[i];
		}
	}
	return NULL;
}

static void unref(struct run_uprobes *u, struct up_link *l)
{
	if (--l->refs)
		return;
	bpf_link__destroy(l->link);
	for (size_t i = 0; i < u->n_links; i++) {
		if (u->links[i] == l) {
			u->links[i] = u->links[--u->n_links];
			break;
		}
	}
	free(l);
}

/* The link of program prog on file f, made or shared; 0 or -errno with err. */
static int link_file(struct run_uprobes *u, struct up_root *root, size_t prog,
		     const struct found *f, const char *who, char *err, size_t errlen)
{
	char path[64], shown[RUN_LDCACHE_MAX_PATH + 160];
	struct up_link *l = NULL, **grown;
	int r;

	if (root->n == sizeof(root->links) / sizeof(root->links[0]))
		return 0;
	for (size_t i = 0; i < u->n_links && !l; i++)
		if (u->links[i]->prog == prog && u->links[i]->dev == f->dev &&
		    u->links[i]->ino == f->ino)
			l = u->links[i];
	if (!l) {
		if (u->n_links == u->cap_links) {
			size_t cap = u->cap_links ? u->cap_links * 2 : 16;

			grown = reallocarray(u->links, cap, sizeof(*grown));
			if (!grown)
				return -ENOMEM;
			u->links = grown;
			u->cap_links = cap;
		}
		l = calloc(1, sizeof(*l));
		if (!l)
			return -ENOMEM;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", f->fd);
		snprintf(shown, sizeof(shown), "%s (%s)", f->path, who);
		r = bpf_gadget_uprobe_attach(u->g, prog, path, shown, &l->link);
		if (r < 0) {
			free(l);
			base_err_set(err, errlen, "%s", bpf_gadget_last_error(u->g));
			return r;
		}
		l->prog = prog;
		l->dev = f->dev;
		l->ino = f->ino;
		u->links[u->n_links++] = l;
		base_log_debug("uprobes: %s attached to %s",
			       bpf_gadget_uprobe_get(u->g, prog)->section, shown);
	}
	l->refs++;
	root->links[root->n++] = l;
	return 0;
}

static void root_free(struct run_uprobes *u, struct up_root *root)
{
	for (size_t i = 0; i < root->n; i++)
		unref(u, root->links[i]);
	free(root);
}

/* What warn_skipped() says at most, whatever a gadget names. */
#define SKIPPED_MAX_BYTES 8192

/*
 * Notes that file lacks function, as "file\tfunction\n" lines, once each
 * (a gadget's uprobe and uretprobe of one function fail together).
 */
static int note_skipped(struct base_buf *b, const char *file, const char *function)
{
	char line[RUN_LDCACHE_MAX_PATH + 300];
	int n = snprintf(line, sizeof(line), "%s\t%.255s\n", file, function);

	if (n < 0 || (size_t)n >= sizeof(line) || (b->data && strstr(b->data, line)))
		return 0;
	/* past the maximum the rest goes unsaid, which is no reason to fail */
	if (base_buf_puts(b, line) == -ENOMEM)
		return -ENOMEM;
	return 0;
}

/* The file of a "file\tfunction\n" line, and its length. */
static size_t line_file(const char *line)
{
	return strcspn(line, "\t\n");
}

/* One line per library: "functions a, b not found in FILE (who): their probes are off". */
static void warn_skipped(const struct base_buf *b, const char *who,
			 void (*warn)(void *ctx, const char *msg), void *ctx)
{
	for (const char *l = b->data; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		struct base_buf msg = BASE_BUF_INIT(SKIPPED_MAX_BYTES);
		size_t flen = line_file(l), n = 0;
		bool seen = false;

		/* a file is said once, at its first line */
		for (const char *e = b->data; e < l && !seen; e = strchr(e, '\n') + 1)
			seen = line_file(e) == flen && !strncmp(e, l, flen);
		if (seen || l[flen] != '\t')
			continue;
		for (const char *e = l; e && *e; e = strchr(e, '\n') ? strchr(e, '\n') + 1 : NULL) {
			if (line_file(e) != flen || strncmp(e, l, flen) || e[flen] != '\t')
				continue;
			base_buf_printf(&msg, "%s%.*s", n++ ? ", " : "",
					(int)strcspn(e + flen + 1, "\n"), e + flen + 1);
		}
		base_buf_printf(&msg, " not found in %.*s (%s): %s off", (int)flen, l, who,
				n > 1 ? "their probes are" : "its probe is");
		if (msg.data) {
			char text[SKIPPED_MAX_BYTES + 16];

			snprintf(text, sizeof(text), "%s %s", n > 1 ? "functions" : "function",
				 msg.data);
			warn(ctx, text);
		}
		base_buf_done(&msg);
	}
}

int run_uprobes_add(struct run_uprobes *u, uint32_t pid, const char *who, bool required,
		    void (*warn)(void *ctx, const char *msg), void *ctx, char *err, size_t errlen)
{
	char why[RUN_LDCACHE_MAX_PATH + 512];
	struct found_set fs = {0};
	struct up_root *root, **grown;
	struct base_buf skipped = BASE_BUF_INIT(SKIPPED_MAX_BYTES);
	const char *last = NULL;
	bool missing = false;
	char proc[64];
	int rootfd, r = 0;

	if (!u)
		return 0;
	if (find_root(u, pid, NULL))
		return 0;
	if (u->n_roots == RUN_UPROBES_MAX_ROOTS)
		return base_err_fail(err, errlen, -E2BIG, "more than %d roots to attach uprobes in",
				     RUN_UPROBES_MAX_ROOTS);
	if (pid)
		snprintf(proc, sizeof(proc), "/proc/%u/root", pid);
	else
		snprintf(proc, sizeof(proc), "/proc/self/root");
	rootfd = open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		r = -errno;
		base_err_set(err, errlen, "uprobes in %s: cannot open %s: %s", who, proc,
			     strerror(-r));
		return r;
	}
	root = calloc(1, sizeof(*root));
	if (!root) {
		close(rootfd);
		return -ENOMEM;
	}
	root->pid = pid;
	for (size_t i = 0; i < bpf_gadget_uprobe_count(u->g) && r >= 0; i++) {
		const struct bpf_gadget_uprobe *p = bpf_gadget_uprobe_get(u->g, i);

		/* programs of one gadget mostly name the same library: find it once */
		if (!last || strcmp(last, p->target)) {
			found_done(&fs);
			find_library(rootfd, p->target, &fs);
			last = p->target;
		}
		if (!fs.n) {
			/*
			 * Remembered, not failed at once: a gadget may probe
			 * several libraries of which a root has some (trace_ssl:
			 * libssl, libgnutls, libnss), as Inspektor Gadget's do.
			 */
			base_log_debug("uprobes: %s: %s not found in %s", p->section, p->target,
				       who);
			if (!missing) {
				missing = true;
				if (p->target[0] == '/')
					base_err_set(err, errlen, "%s: %s not found in %s",
						     p->section, p->target, who);
				else
					base_err_set(err, errlen,
						     "%s: library %s not found in %s (neither in "
						     "its /etc/ld.so.cache nor as %s.so* in /lib, "
						     "/usr/lib and their multiarch directories)",
						     p->section, p->target, who, p->target);
			}
			continue;
		}
		for (size_t k = 0; k < fs.n && r >= 0; k++) {
			r = link_file(u, root, i, &fs.f[k], who, why, sizeof(why));
			if (r != -ENOENT)
				continue;
			/*
			 * A function this build of the library lacks (a static one
			 * stripped away, one of another version) turns that probe
			 * off, as in Inspektor Gadget; the run fails only when
			 * nothing at all is probed.
			 */
			r = 0;
			if (!missing) {
				missing = true;
				base_err_set(err, errlen, "%s", why);
			}
			r = note_skipped(&skipped, fs.f[k].path, p->symbol);
		}
	}
	found_done(&fs);
	close(rootfd);
	/* nothing to probe at all in the one root that must have it */
	if (r >= 0 && missing && required && !root->n)
		r = -ENOENT;
	if (r >= 0 && warn)
		warn_skipped(&skipped, who, warn, ctx);
	base_buf_done(&skipped);
	if (r < 0) {
		root_free(u, root);
		return r;
	}
	if (u->n_roots == u->cap_roots) {
		size_t cap = u->cap_roots ? u->cap_roots * 2 : 8;

		grown = reallocarray(u->roots, cap, sizeof(*grown));
		if (!grown) {
			root_free(u, root);
			return -ENOMEM;
		}
		u->roots = grown;
		u->cap_roots = cap;
	}
	u->roots[u->n_roots++] = root;
	return (int)root->n;
}

void run_uprobes_remove(struct run_uprobes *u, uint32_t pid)
{
	struct up_root *root;
	size_t i;

	if (!u || !(root = find_root(u, pid, &i)))
		return;
	u->roots[i] = u->roots[--u->n_roots];
	root_free(u, root);
}

size_t run_uprobes_links(const struct run_uprobes *u)
{
	return u ? u->n_links : 0;
}

struct run_uprobes *run_uprobes_free(struct run_uprobes *u)
{
	if (!u)
		return NULL;
	while (u->n_roots)
		run_uprobes_remove(u, u->roots[0]->pid);
	free(u->roots);
	free(u->links);
	free(u);
	return NULL;
}
