// SPDX-License-Identifier: Apache-2.0
/*
 * Local OCI image-layout store.  See store.h for the layout, the locking
 * rules and the errors.
 *
 * Images are graphs of descriptors (index -> manifests -> config + layers);
 * tagging, listing, garbage collection, export and import all walk that
 * graph with store_walk_desc(), which bounds the number of objects and the
 * nesting depth, reads every index and manifest through the verifying blob
 * reader and checks that each object's size and declared media type agree
 * with the descriptor that led to it.  So a store that was tampered with, or
 * a tarball built to hurt, turns into an error message rather than into a
 * crash or unbounded memory.
 *
 * Digests found in JSON become file names, which is only safe because
 * store_desc_parse() accepts nothing but "sha256:" and 64 hex digits.
 */
#include "oci/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/archive.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/file.h"
#include "base/log.h"
#include "oci/metadata.h"
#include "oci/ref.h"

#define STORE_LAYOUT_FILE    "oci-layout"
#define STORE_INDEX_FILE     "index.json"
#define STORE_LOCK_FILE	     ".lock"
#define STORE_TMP_PREFIX     ".tmp-"
#define STORE_IMPORT_PREFIX  ".import-"
#define STORE_LAYOUT_VERSION "1.0.0"
#define STORE_LAYOUT_JSON    "{\"imageLayoutVersion\":\"" STORE_LAYOUT_VERSION "\"}"
#define STORE_MAX_LAYOUT     4096
/* Nesting of indexes inside indexes that a walk follows. */
#define STORE_MAX_DEPTH 4
#define STORE_IO_CHUNK	(64u << 10)

/* Docker's media types have the same structure as the OCI ones. */
#define STORE_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"
#define STORE_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

struct oci_store {
	char *dir;
	int dir_fd;
	int blobs_fd; /* blobs/sha256 */
	int lock_fd;
	unsigned int lock_depth;
	unsigned int tmp_counter;
	char err[512];
};

/* Where blobs are looked up: an import's staging directory, then the store. */
struct store_src {
	int fds[2];
	unsigned int n;
};

struct store_desc {
	const char *media_type;
	const char *digest;
	uint64_t size;
	json_t *obj;
};

/* A sorted set of digests. */
struct store_set {
	char (*v)[OCI_DIGEST_SIZE];
	size_t n, cap;
};

static int store_fail(struct oci_store *s, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int store_fail(struct oci_store *s, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	base_err_setv(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	base_log_debug("oci store %s: %s", s->dir, s->err);
	return r;
}

/* Puts prefix in front of the message already in s->err. */
static int store_prefix(struct oci_store *s, int r, const char *prefix)
{
	char old[sizeof(s->err)];

	memcpy(old, s->err, sizeof(old));
	return store_fail(s, r, "%s: %s", prefix, old);
}

static const char *store_strerror(int r, char *buf, size_t len)
{
	return strerror_r(r < 0 ? -r : r, buf, len);
}

static bool store_is_index_type(const char *t)
{
	return t && (!strcmp(t, OCI_MEDIA_TYPE_INDEX) || !strcmp(t, STORE_DOCKER_LIST));
}

static bool store_is_manifest_type(const char *t)
{
	return t && (!strcmp(t, OCI_MEDIA_TYPE_MANIFEST) || !strcmp(t, STORE_DOCKER_MANIFEST));
}

const char *oci_store_host_arch(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__aarch64__)
	return "arm64";
#elif defined(__i386__)
	return "386";
#elif defined(__arm__)
	return "arm";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return "ppc64le";
#elif defined(__s390x__)
	return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
	return "riscv64";
#else
	return "unknown";
#endif
}

/* ---- digest sets ---- */

static int store_set_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* 1 if added, 0 if already present. */
static int store_set_add(struct store_set *set, const char *digest)
{
	size_t lo = 0, hi = set->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(digest, set->v[mid]);

		if (c == 0)
			return 0;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 64;
		void *p = reallocarray(set->v, cap, sizeof(*set->v));

		if (!p)
			return -ENOMEM;
		set->v = p;
		set->cap = cap;
	}
	memmove(&set->v[lo + 1], &set->v[lo], (set->n - lo) * sizeof(*set->v));
	snprintf(set->v[lo], sizeof(set->v[lo]), "%s", digest);
	set->n++;
	return 1;
}

static bool store_set_has(const struct store_set *set, const char *digest)
{
	return set->n && bsearch(digest, set->v, set->n, sizeof(*set->v), store_set_cmp);
}

static void store_set_done(struct store_set *set)
{
	free(set->v);
	*set = (struct store_set){0};
}

/* ---- files ---- */

/* Creates a new temporary file in the store directory; its name goes to name. */
static int store_tmp_create(struct oci_store *s, char *name, size_t namelen)
{
	for (int tries = 0; tries < 100; tries++) {
		int fd;

		snprintf(name, namelen, STORE_TMP_PREFIX "%d-%u", (int)getpid(), s->tmp_counter++);
		fd = openat(s->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			    0644);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/*
 * Writes buf as dst_dirfd/name: temporary file, fsync, size check, rename,
 * then fsync of the directory so the new name survives a crash.
 */
static int store_write_atomic(struct oci_store *s, int dst_dirfd, const char *name, const void *buf,
			      size_t len)
{
	char tmp[64], msg[128];
	struct stat st;
	int fd, r;

	fd = store_tmp_create(s, tmp, sizeof(tmp));
	if (fd < 0)
		return store_fail(s, fd, "cannot create a temporary file in %s: %s", s->dir,
				  store_strerror(fd, msg, sizeof(msg)));
	r = base_file_write_all(fd, buf, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && fstat(fd, &st) < 0)
		r = -errno;
	if (r == 0 && (uint64_t)st.st_size != len)
		r = -EIO;
	close(fd);
	if (r == 0 && renameat(s->dir_fd, tmp, dst_dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(s->dir_fd, tmp, 0);
		return store_fail(s, r, "cannot write %s in %s: %s", name, s->dir,
				  store_strerror(r, msg, sizeof(msg)));
	}
	if (fsync(dst_dirfd) < 0)
		base_log_debug("oci store: fsync of the directory of %s failed", name);
	return 0;
}

static int store_mkdir_p(const char *dir)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* ---- lock ---- */

int oci_store_lock(struct oci_store *s)
{
	char msg[128];

	if (s->lock_depth > 0) {
		s->lock_depth++;
		return 0;
	}
	if (s->lock_fd < 0)
		return store_fail(s, -EACCES, "cannot lock %s/" STORE_LOCK_FILE ": not writable",
				  s->dir);
	while (flock(s->lock_fd, LOCK_EX) < 0) {
		int r = -errno;

		if (r == -EINTR)
			continue;
		return store_fail(s, r, "cannot lock %s/" STORE_LOCK_FILE ": %s", s->dir,
				  store_strerror(r, msg, sizeof(msg)));
	}
	s->lock_depth = 1;
	return 0;
}

void oci_store_unlock(struct oci_store *s)
{
	if (s->lock_depth == 0)
		return;
	if (--s->lock_depth == 0)
		flock(s->lock_fd, LOCK_UN);
}

/* ---- open ---- */

static int store_check_layout(struct oci_store *s)
{
	json_t *root, *v;
	size_t len = 0;
	char *buf = NULL;
	char msg[128];
	int r;

	r = base_file_read_at(s->dir_fd, STORE_LAYOUT_FILE, STORE_MAX_LAYOUT, BASE_FILE_NOFOLLOW,
			      &buf, &len);
	if (r == -ENOENT)
		return store_write_atomic(s, s->dir_fd, STORE_LAYOUT_FILE, STORE_LAYOUT_JSON,
					  strlen(STORE_LAYOUT_JSON));
	if (r < 0)
		return store_fail(s, r, "%s/" STORE_LAYOUT_FILE ": %s", s->dir,
				  store_strerror(r, msg, sizeof(msg)));
	root = json_loadb(buf, len, 0, NULL);
	free(buf);
	v = json_object_get(root, "imageLayoutVersion");
	r = json_is_string(v) && !strcmp(json_string_value(v), STORE_LAYOUT_VERSION) ? 0 : -EINVAL;
	json_decref(root);
	if (r < 0)
		return store_fail(s, r,
				  "%s is not an OCI image layout of version " STORE_LAYOUT_VERSION,
				  s->dir);
	return 0;
}

static int store_init_layout(struct oci_store *s)
{
	static const char empty_index[] =
		"{\"schemaVersion\":2,\"mediaType\":\"" OCI_MEDIA_TYPE_INDEX "\",\"manifests\":[]}";
	char msg[128];
	int r;

	r = store_check_layout(s);
	if (r < 0)
		return r;
	if ((mkdirat(s->dir_fd, "blobs", 0755) < 0 && errno != EEXIST) ||
	    (mkdirat(s->dir_fd, "blobs/sha256", 0755) < 0 && errno != EEXIST)) {
		r = -errno;
		return store_fail(s, r, "cannot create %s/blobs/sha256: %s", s->dir,
				  store_strerror(r, msg, sizeof(msg)));
	}
	if (faccessat(s->dir_fd, STORE_INDEX_FILE, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT) {
			r = -errno;
			return store_fail(s, r, "%s/" STORE_INDEX_FILE ": %s", s->dir,
					  store_strerror(r, msg, sizeof(msg)));
		}
		r = store_write_atomic(s, s->dir_fd, STORE_INDEX_FILE, empty_index,
				       strlen(empty_index));
		if (r < 0)
			return r;
	}
	return 0;
}

static bool store_layout_ready(struct oci_store *s)
{
	struct stat st;
	size_t len = 0;
	char *buf = NULL;
	bool ok;

	if (fstatat(s->dir_fd, "blobs/sha256", &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISDIR(st.st_mode) ||
	    fstatat(s->dir_fd, STORE_INDEX_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    base_file_read_at(s->dir_fd, STORE_LAYOUT_FILE, STORE_MAX_LAYOUT, BASE_FILE_NOFOLLOW,
			      &buf, &len) < 0)
		return false;
	ok = len == strlen(STORE_LAYOUT_JSON) && !memcmp(buf, STORE_LAYOUT_JSON, len);
	free(buf);
	return ok;
}

struct oci_store *oci_store_free(struct oci_store *s)
{
	if (!s)
		return NULL;
	if (s->blobs_fd >= 0)
		close(s->blobs_fd);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	free(s->dir);
	free(s);
	return NULL;
}

int oci_store_open(const char *dir, struct oci_store **ret)
{
	struct oci_store *s;
	int r;

	if (!dir || !*dir)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->dir_fd = s->blobs_fd = s->lock_fd = -1;
	s->dir = strdup(dir);
	if (!s->dir) {
		r = -ENOMEM;
		goto fail;
	}
	r = store_mkdir_p(dir);
	if (r < 0 && r != -EACCES && r != -EROFS)
		goto fail;
	s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dir_fd < 0) {
		r = -errno;
		goto fail;
	}
	/* non-blocking, then checked: a FIFO there must not hold every command */
	s->lock_fd =
		openat(s->dir_fd, STORE_LOCK_FILE,
		       O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0644);
	/* A read-only store can still be read: writers will fail at lock time. */
	if (s->lock_fd < 0 && (errno == EACCES || errno == EROFS))
		s->lock_fd = openat(s->dir_fd, STORE_LOCK_FILE,
				    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (s->lock_fd >= 0) {
		struct stat st;

		if (fstat(s->lock_fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			r = -EINVAL;
			goto fail;
		}
	}
	/* A complete layout needs no lock: readers never wait for writers. */
	if (s->lock_fd >= 0 && !store_layout_ready(s)) {
		r = oci_store_lock(s);
		if (r < 0)
			goto fail;
		r = store_init_layout(s);
		oci_store_unlock(s);
		if (r < 0)
			goto fail;
	}
	s->blobs_fd = openat(s->dir_fd, "blobs/sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->blobs_fd < 0) {
		r = -errno;
		goto fail;
	}
	*ret = s;
	return 0;
fail:
	oci_store_free(s);
	return r;
}

const char *oci_store_dir(const struct oci_store *s)
{
	return s->dir;
}

const char *oci_store_errmsg(const struct oci_store *s)
{
	return s->err;
}

char **oci_store_strv_free(char **v)
{
	if (!v)
		return NULL;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
	return NULL;
}

/* ---- blobs ---- */

static int store_check_digest(struct oci_store *s, const char *digest)
{
	if (oci_digest_is_sha256(digest))
		return 0;
	if (oci_digest_check(digest) == 0)
		return store_fail(s, -EOPNOTSUPP, "digest %s: only sha256 is supported", digest);
	return store_fail(s, -EINVAL, "invalid digest \"%.80s\"", digest ? digest : "");
}

int oci_store_put_blob(struct oci_store *s, const void *buf, size_t len, const char *expect,
		       char digest_out[OCI_DIGEST_SIZE])
{
	char digest[OCI_DIGEST_SIZE];
	int r;

	if (expect) {
		r = store_check_digest(s, expect);
		if (r < 0)
			return r;
	}
	if (len > OCI_STORE_MAX_BLOB)
		return store_fail(s, -E2BIG, "blob of %zu bytes is larger than the limit of %u",
				  len, OCI_STORE_MAX_BLOB);
	r = oci_digest_buf(buf, len, digest);
	if (r < 0)
		return store_fail(s, r, "cannot compute a sha256 digest");
	if (expect && strcmp(expect, digest))
		return store_fail(s, -EBADMSG, "blob content has digest %s, expected %s", digest,
				  expect);
	r = oci_store_lock(s);
	if (r < 0)
		return r;
	r = store_write_atomic(s, s->blobs_fd, oci_digest_hex(digest), buf, len);
	oci_store_unlock(s);
	if (r < 0)
		return r;
	if (digest_out)
		memcpy(digest_out, digest, OCI_DIGEST_SIZE);
	return 0;
}

/* Reads and verifies a blob from the first directory of src that has it. */
static int store_src_read(struct oci_store *s, const struct store_src *src, const char *digest,
			  size_t max, void **ret_buf, size_t *ret_len)
{
	char actual[OCI_DIGEST_SIZE], msg[128];
	char *buf = NULL;
	size_t len = 0;
	int r = -ENOENT;

	r = store_check_digest(s, digest);
	if (r < 0)
		return r;
	r = -ENOENT;
	for (unsigned int i = 0; i < src->n && r == -ENOENT; i++)
		r = base_file_read_at(src->fds[i], oci_digest_hex(digest), max, BASE_FILE_NOFOLLOW,
				      &buf, &len);
	if (r == -ENOENT)
		return store_fail(s, r, "blob %s is missing from the store", digest);
	if (r == -EFBIG)
		return store_fail(s, r, "blob %s is larger than the limit of %zu bytes", digest,
				  max);
	if (r < 0)
		return store_fail(s, r, "cannot read blob %s: %s", digest,
				  store_strerror(r, msg, sizeof(msg)));
	r = oci_digest_buf(buf, len, actual);
	if (r == 0 && strcmp(actual, digest))
		r = store_fail(s, -EBADMSG, "blob %s is corrupt: its content has digest %s", digest,
			       actual);
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

static struct store_src store_src_store(const struct oci_store *s)
{
	return (struct store_src){.fds = {s->blobs_fd, -1}, .n = 1};
}

int oci_store_get_blob(struct oci_store *s, const char *digest, size_t max, void **ret_buf,
		       size_t *ret_len)
{
	struct store_src src = store_src_store(s);

	return store_src_read(s, &src, digest, max, ret_buf, ret_len);
}

int oci_store_has_blob(struct oci_store *s, const char *digest)
{
	int r = store_check_digest(s, digest);

	if (r < 0)
		return r;
	if (faccessat(s->blobs_fd, oci_digest_hex(digest), F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

/* ---- JSON and descriptors ---- */

static int store_json_parse(struct oci_store *s, const void *buf, size_t len, const char *what,
			    json_t **ret)
{
	json_error_t jerr;
	json_t *root;

	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return store_fail(s, -EINVAL, "%s: invalid JSON at line %d: %s", what, jerr.line,
				  jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return store_fail(s, -EINVAL, "%s: not a JSON object", what);
	}
	*ret = root;
	return 0;
}

static int store_json_dump(json_t *root, char **ret, size_t *ret_len)
{
	char *out;

	/* Compact output in insertion order: the same object, the same bytes. */
	out = json_dumps(root, JSON_COMPACT);
	if (!out)
		return -ENOMEM;
	*ret = out;
	*ret_len = strlen(out);
	return 0;
}

static const char *store_json_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int store_desc_parse(struct oci_store *s, json_t *o, const char *what, struct store_desc *d)
{
	json_t *size;
	int r;

	if (!json_is_object(o))
		return store_fail(s, -EINVAL, "%s: descriptor is not an object", what);
	d->obj = o;
	d->media_type = store_json_str(o, "mediaType");
	d->digest = store_json_str(o, "digest");
	size = json_object_get(o, "size");
	if (!d->media_type)
		return store_fail(s, -EINVAL, "%s: descriptor has no mediaType", what);
	if (!d->digest)
		return store_fail(s, -EINVAL, "%s: descriptor has no digest", what);
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return store_fail(s, -EINVAL, "%s: descriptor has no valid size", what);
	d->size = json_integer_value(size);
	r = store_check_digest(s, d->digest);
	if (r < 0)
		return store_prefix(s, r, what);
	return 0;
}

static json_t *store_desc_new(const char *media_type, const char *digest, uint64_t size)
{
	return json_pack("{s:s,s:s,s:I}", "mediaType", media_type, "digest", digest, "size",
			 (json_int_t)size);
}

/* ---- walking an image ---- */

struct store_walk;
typedef int (*store_visit_fn)(struct store_walk *w, const struct store_desc *d, json_t *doc,
			      const void *buf, size_t len);

struct store_walk {
	struct oci_store *s;
	const struct store_src *src;
	bool read_leaves; /* read and verify config and layer blobs too */
	bool post_order;  /* visit an object after its children, not before */
	unsigned int budget;
	store_visit_fn visit;
	void *ctx;
};

static void store_walk_init(struct store_walk *w, struct oci_store *s, const struct store_src *src,
			    bool read_leaves, store_visit_fn visit, void *ctx)
{
	*w = (struct store_walk){
		.s = s,
		.src = src,
		.read_leaves = read_leaves,
		.budget = OCI_STORE_MAX_DESCRIPTORS,
		.visit = visit,
		.ctx = ctx,
	};
}

static int store_walk_desc(struct store_walk *w, const struct store_desc *d, unsigned int depth);

static int store_walk_child(struct store_walk *w, json_t *o, const char *parent, unsigned int depth)
{
	struct store_desc child;
	char what[128];
	int r;

	snprintf(what, sizeof(what), "%.80s", parent);
	r = store_desc_parse(w->s, o, what, &child);
	if (r < 0)
		return r;
	return store_walk_desc(w, &child, depth + 1);
}

static int store_walk_doc(struct store_walk *w, const struct store_desc *d, json_t *doc,
			  unsigned int depth)
{
	struct oci_store *s = w->s;
	json_t *arr, *o;
	size_t i;
	int r;

	if (store_is_index_type(d->media_type)) {
		arr = json_object_get(doc, "manifests");
		if (!json_is_array(arr))
			return store_fail(s, -EINVAL, "index %s has no manifests array", d->digest);
		json_array_foreach(arr, i, o)
		{
			r = store_walk_child(w, o, d->digest, depth);
			if (r < 0)
				return r;
		}
		return 0;
	}
	o = json_object_get(doc, "config");
	arr = json_object_get(doc, "layers");
	if (!o || !json_is_array(arr))
		return store_fail(s, -EINVAL, "manifest %s has no config or no layers array",
				  d->digest);
	r = store_walk_child(w, o, d->digest, depth);
	if (r < 0)
		return r;
	json_array_foreach(arr, i, o)
	{
		r = store_walk_child(w, o, d->digest, depth);
		if (r < 0)
			return r;
	}
	return 0;
}

static int store_walk_desc(struct store_walk *w, const struct store_desc *d, unsigned int depth)
{
	struct oci_store *s = w->s;
	bool container =
		store_is_index_type(d->media_type) || store_is_manifest_type(d->media_type);
	const char *declared;
	json_t *doc = NULL;
	void *buf = NULL;
	size_t len = 0;
	int r;

	if (w->budget == 0)
		return store_fail(s, -E2BIG, "image references more than %u objects",
				  OCI_STORE_MAX_DESCRIPTORS);
	w->budget--;
	if (!container && !w->read_leaves)
		return w->visit ? w->visit(w, d, NULL, NULL, 0) : 0;
	if (depth > STORE_MAX_DEPTH)
		return store_fail(s, -E2BIG, "image indexes nested deeper than %d levels",
				  STORE_MAX_DEPTH);
	r = store_src_read(s, w->src, d->digest,
			   container ? OCI_STORE_MAX_MANIFEST : OCI_STORE_MAX_BLOB, &buf, &len);
	if (r < 0)
		return r;
	if (len != d->size) {
		r = store_fail(s, -EBADMSG, "blob %s has %zu bytes, its descriptor says %llu",
			       d->digest, len, (unsigned long long)d->size);
		goto out;
	}
	if (container) {
		r = store_json_parse(s, buf, len, d->digest, &doc);
		if (r < 0)
			goto out;
		declared = store_json_str(doc, "mediaType");
		if (declared && strcmp(declared, d->media_type)) {
			r = store_fail(s, -EMEDIUMTYPE,
				       "blob %s has media type %.100s, its descriptor says %.100s",
				       d->digest, declared, d->media_type);
			goto out;
		}
	}
	if (w->visit && !w->post_order) {
		r = w->visit(w, d, doc, buf, len);
		if (r < 0)
			goto out;
	}
	if (container)
		r = store_walk_doc(w, d, doc, depth);
	if (r == 0 && w->visit && w->post_order)
		r = w->visit(w, d, doc, buf, len);
out:
	json_decref(doc);
	free(buf);
	return r;
}

/* ---- index.json ---- */

static int store_index_read(struct oci_store *s, json_t **ret)
{
	char *buf = NULL;
	size_t len = 0;
	json_t *root, *m;
	char msg[128];
	int r;

	r = base_file_read_at(s->dir_fd, STORE_INDEX_FILE, OCI_STORE_MAX_INDEX, BASE_FILE_NOFOLLOW,
			      &buf, &len);
	if (r < 0)
		return store_fail(s, r, "%s/" STORE_INDEX_FILE ": %s", s->dir,
				  r == -EFBIG ? "too large" : store_strerror(r, msg, sizeof(msg)));
	r = store_json_parse(s, buf, len, STORE_INDEX_FILE, &root);
	free(buf);
	if (r < 0)
		return r;
	m = json_object_get(root, "manifests");
	if (!m) {
		m = json_array();
		if (!m || json_object_set_new(root, "manifests", m) < 0) {
			json_decref(root);
			return -ENOMEM;
		}
	}
	if (!json_is_array(m)) {
		json_decref(root);
		return store_fail(s, -EINVAL, STORE_INDEX_FILE ": manifests is not an array");
	}
	*ret = root;
	return 0;
}

static int store_index_write(struct oci_store *s, json_t *root)
{
	size_t len = 0;
	char *out;
	int r;

	r = store_json_dump(root, &out, &len);
	if (r < 0)
		return store_fail(s, r, "cannot serialize " STORE_INDEX_FILE);
	r = store_write_atomic(s, s->dir_fd, STORE_INDEX_FILE, out, len);
	free(out);
	return r;
}

static const char *store_entry_ref(json_t *entry)
{
	return store_json_str(json_object_get(entry, "annotations"), OCI_ANNOTATION_REF_NAME);
}

/* The entry of index.json tagged ref, or NULL. */
static json_t *store_index_find(json_t *root, const char *ref, size_t *ret_i)
{
	json_t *arr = json_object_get(root, "manifests"), *e;
	size_t i;

	json_array_foreach(arr, i, e)
	{
		const char *name = store_entry_ref(e);

		if (name && !strcmp(name, ref)) {
			if (ret_i)
				*ret_i = i;
			return e;
		}
	}
	return NULL;
}

/* Adds or moves tag ref in the index in memory. */
static int store_index_set(json_t *root, const char *ref, const struct store_desc *d)
{
	json_t *arr = json_object_get(root, "manifests"), *e;
	size_t i;

	e = store_desc_new(d->media_type, d->digest, d->size);
	if (!e)
		return -ENOMEM;
	if (json_object_set_new(e, "annotations",
				json_pack("{s:s}", OCI_ANNOTATION_REF_NAME, ref)) < 0) {
		json_decref(e);
		return -ENOMEM;
	}
	if (store_index_find(root, ref, &i))
		return json_array_set_new(arr, i, e) < 0 ? -ENOMEM : 0;
	return json_array_append_new(arr, e) < 0 ? -ENOMEM : 0;
}

/*
 * Parses a reference that names a tag, or a digest alone ("name@sha256:..."
 * as a pull by digest records it), into its canonical string, the key of
 * index.json entries.
 */
static int store_canonical_tag(struct oci_store *s, const char *ref, char **ret)
{
	struct oci_ref *r = NULL;
	int err;

	err = oci_ref_parse(ref, &r);
	if (err < 0)
		return store_fail(s, err, "invalid image reference \"%.200s\"", ref ? ref : "");
	if (r->digest && r->tag) {
		oci_ref_free(r);
		return store_fail(s, -EINVAL, "%.200s names both a tag and a digest; give one",
				  ref);
	}
	err = oci_ref_format(r, ret);
	oci_ref_free(r);
	return err;
}

/* A canonical digest reference must name the digest it is stored with. */
static int store_check_ref_digest(struct oci_store *s, const char *canonical, const char *digest)
{
	const char *at = strchr(canonical, '@');

	if (at && strcmp(at + 1, digest))
		return store_fail(s, -EINVAL, "%.200s cannot name blob %s", canonical, digest);
	return 0;
}

/* ---- tag ---- */

/*
 * Builds the descriptor of blob digest from its own mediaType field, or from
 * its shape when it has none (the field is optional in older manifests).
 */
static int store_describe(struct oci_store *s, const struct store_src *src, const char *digest,
			  json_t **ret_desc)
{
	const char *media_type;
	json_t *doc = NULL;
	void *buf = NULL;
	size_t len = 0;
	int r;

	r = store_src_read(s, src, digest, OCI_STORE_MAX_MANIFEST, &buf, &len);
	if (r == -EFBIG)
		return store_fail(s, -EMEDIUMTYPE, "blob %s is not an image index or manifest",
				  digest);
	if (r < 0)
		return r;
	r = store_json_parse(s, buf, len, digest, &doc);
	free(buf);
	if (r < 0)
		return r;
	media_type = store_json_str(doc, "mediaType");
	if (!media_type && json_is_array(json_object_get(doc, "manifests")))
		media_type = OCI_MEDIA_TYPE_INDEX;
	else if (!media_type && json_is_array(json_object_get(doc, "layers")))
		media_type = OCI_MEDIA_TYPE_MANIFEST;
	if (!store_is_index_type(media_type) && !store_is_manifest_type(media_type)) {
		r = store_fail(s, -EMEDIUMTYPE,
			       "blob %s has media type %.100s, not an image index or manifest",
			       digest, media_type ? media_type : "(none)");
		json_decref(doc);
		return r;
	}
	*ret_desc = store_desc_new(media_type, digest, len);
	json_decref(doc);
	return *ret_desc ? 0 : -ENOMEM;
}

int oci_store_tag(struct oci_store *s, const char *ref, const char *digest)
{
	struct store_src src = store_src_store(s);
	json_t *desc_obj = NULL, *root = NULL;
	struct store_desc d;
	struct store_walk w;
	char *name = NULL;
	int r;

	r = store_canonical_tag(s, ref, &name);
	if (r == 0)
		r = store_check_digest(s, digest);
	if (r == 0)
		r = store_check_ref_digest(s, name, digest);
	if (r < 0)
		goto out;
	r = oci_store_lock(s);
	if (r < 0)
		goto out;
	r = store_describe(s, &src, digest, &desc_obj);
	if (r == 0)
		r = store_desc_parse(s, desc_obj, digest, &d);
	if (r == 0) {
		store_walk_init(&w, s, &src, true, NULL, NULL);
		r = store_walk_desc(&w, &d, 0);
	}
	if (r == 0)
		r = store_index_read(s, &root);
	if (r == 0)
		r = store_index_set(root, name, &d);
	if (r == 0)
		r = store_index_write(s, root);
	oci_store_unlock(s);
out:
	json_decref(root);
	json_decref(desc_obj);
	free(name);
	return r;
}

/* ---- walk (for push) ---- */

static int store_lookup(struct oci_store *s, const char *ref, json_t **ret_root,
			struct store_desc *ret);

struct store_walk_pub {
	struct store_set seen;
	oci_store_walk_fn fn;
	void *userdata;
};

static int store_visit_pub(struct store_walk *w, const struct store_desc *d, json_t *doc,
			   const void *buf, size_t len)
{
	struct store_walk_pub *p = w->ctx;
	int r = store_set_add(&p->seen, d->digest);

	if (r <= 0)
		return r;
	r = p->fn(p->userdata, d->media_type, d->digest, d->size);
	return r < 0 ? r : 0;
}

int oci_store_walk(struct oci_store *s, const char *ref, oci_store_walk_fn fn, void *userdata)
{
	struct store_src src = store_src_store(s);
	struct store_walk_pub p = {.fn = fn, .userdata = userdata};
	struct store_desc d;
	struct store_walk w;
	json_t *root = NULL;
	int r;

	r = store_lookup(s, ref, &root, &d);
	if (r == 0 && !store_is_index_type(d.media_type) && !store_is_manifest_type(d.media_type))
		r = store_fail(s, -EMEDIUMTYPE,
			       "image %.200s has media type %.100s, not an image index or manifest",
			       ref, d.media_type);
	if (r == 0) {
		store_walk_init(&w, s, &src, false, store_visit_pub, &p);
		w.post_order = true;
		r = store_walk_desc(&w, &d, 0);
	}
	store_set_done(&p.seen);
	json_decref(root);
	return r;
}

/* ---- garbage collection ---- */

static int store_visit_mark(struct store_walk *w, const struct store_desc *d, json_t *doc,
			    const void *buf, size_t len)
{
	int r = store_set_add(w->ctx, d->digest);

	return r < 0 ? r : 0;
}

static int store_mark(struct oci_store *s, json_t *root, struct store_set *live)
{
	struct store_src src = store_src_store(s);
	json_t *arr = json_object_get(root, "manifests"), *e;
	struct store_walk w;
	struct store_desc d;
	size_t i;
	int r;

	json_array_foreach(arr, i, e)
	{
		r = store_desc_parse(s, e, STORE_INDEX_FILE, &d);
		if (r < 0)
			return r;
		store_walk_init(&w, s, &src, false, store_visit_mark, live);
		r = store_walk_desc(&w, &d, 0);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Removes a staging directory left by an import (flat: files only). */
static void store_rm_staging(int parent_fd, const char *name)
{
	struct dirent *de;
	DIR *dir;
	int fd;

	fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		dir = fdopendir(fd);
		if (!dir) {
			close(fd);
		} else {
			while ((de = readdir(dir)))
				if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
					unlinkat(dirfd(dir), de->d_name, 0);
			closedir(dir);
		}
	}
	unlinkat(parent_fd, name, AT_REMOVEDIR);
}

/* Under the lock nobody is writing, so every temporary file is a leftover. */
static void store_sweep_tmp(struct oci_store *s)
{
	struct dirent *de;
	DIR *dir;
	int fd;

	fd = openat(s->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return;
	}
	while ((de = readdir(dir))) {
		if (!strncmp(de->d_name, STORE_TMP_PREFIX, strlen(STORE_TMP_PREFIX)))
			unlinkat(s->dir_fd, de->d_name, 0);
		else if (!strncmp(de->d_name, STORE_IMPORT_PREFIX, strlen(STORE_IMPORT_PREFIX)))
			store_rm_staging(s->dir_fd, de->d_name);
	}
	closedir(dir);
}

static int store_gc_locked(struct oci_store *s)
{
	struct store_set live = {0};
	char digest[OCI_DIGEST_SIZE];
	json_t *root = NULL;
	struct dirent *de;
	int fd, r, n = 0;
	DIR *dir;

	r = store_index_read(s, &root);
	if (r == 0)
		r = store_mark(s, root, &live);
	json_decref(root);
	if (r < 0) {
		store_set_done(&live);
		return store_prefix(s, r, "garbage collection skipped");
	}
	fd = openat(s->blobs_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		store_set_done(&live);
		return store_fail(s, r, "cannot read %s/blobs/sha256", s->dir);
	}
	while ((de = readdir(dir))) {
		snprintf(digest, sizeof(digest), OCI_DIGEST_SHA256_PREFIX "%.64s", de->d_name);
		if (strlen(de->d_name) != OCI_DIGEST_SHA256_HEX || !oci_digest_is_sha256(digest))
			continue; /* not ours to judge */
		if (store_set_has(&live, digest))
			continue;
		if (unlinkat(s->blobs_fd, de->d_name, 0) == 0)
			n++;
	}
	closedir(dir);
	store_set_done(&live);
	store_sweep_tmp(s);
	if (n)
		fsync(s->blobs_fd);
	return n;
}

int oci_store_gc(struct oci_store *s)
{
	int r;

	r = oci_store_lock(s);
	if (r < 0)
		return r;
	r = store_gc_locked(s);
	oci_store_unlock(s);
	return r;
}

/* ---- remove ---- */

/* True if index.json entry e is matched by reference r for removal. */
static bool store_entry_matches(json_t *e, const struct oci_ref *r, const char *canonical)
{
	struct oci_ref *er = NULL;
	const char *name = store_entry_ref(e);
	bool match;

	if (!name)
		return false;
	if (!r->digest)
		return !strcmp(name, canonical);
	if (strcmp(store_json_str(e, "digest") ? store_json_str(e, "digest") : "", r->digest))
		return false;
	if (oci_ref_parse(name, &er) < 0)
		return false;
	match = !strcmp(er->repository, r->repository) &&
		!strcmp(er->registry ? er->registry : "", r->registry ? r->registry : "");
	oci_ref_free(er);
	return match;
}

int oci_store_remove(struct oci_store *s, const char *ref)
{
	struct oci_ref *r = NULL;
	char *canonical = NULL;
	json_t *root = NULL, *arr;
	size_t removed = 0;
	int err;

	err = oci_ref_parse(ref, &r);
	if (err < 0)
		return store_fail(s, err, "invalid image reference \"%.200s\"", ref ? ref : "");
	err = oci_ref_format(r, &canonical);
	if (err < 0)
		goto out;
	err = oci_store_lock(s);
	if (err < 0)
		goto out;
	err = store_index_read(s, &root);
	if (err < 0)
		goto unlock;
	arr = json_object_get(root, "manifests");
	for (size_t i = 0; i < json_array_size(arr);) {
		if (store_entry_matches(json_array_get(arr, i), r, canonical)) {
			json_array_remove(arr, i);
			removed++;
		} else {
			i++;
		}
	}
	if (!removed) {
		err = store_fail(s, -ENOENT, "image %s is not in the store", canonical);
		goto unlock;
	}
	err = store_index_write(s, root);
	if (err < 0)
		goto unlock;
	/* The tag is gone either way; leftover blobs only cost space. */
	if (store_gc_locked(s) < 0)
		base_log_debug("oci store: %s", s->err);
	s->err[0] = '\0';
unlock:
	oci_store_unlock(s);
out:
	json_decref(root);
	free(canonical);
	oci_ref_free(r);
	return err;
}

/* ---- list ---- */

struct store_list_ctx {
	struct store_set seen;
	struct oci_store_image *img;
};

static int store_visit_list(struct store_walk *w, const struct store_desc *d, json_t *doc,
			    const void *buf, size_t len)
{
	struct store_list_ctx *c = w->ctx;
	const char *created;
	int r;

	r = store_set_add(&c->seen, d->digest);
	if (r < 0)
		return r;
	if (r > 0)
		c->img->size += d->size;
	created = store_json_str(json_object_get(doc, "annotations"), OCI_ANNOTATION_CREATED);
	if (created && !c->img->created) {
		c->img->created = strndup(created, 64);
		if (!c->img->created)
			return -ENOMEM;
	}
	return 0;
}

void oci_store_images_free(struct oci_store_image *images, size_t n)
{
	if (!images)
		return;
	for (size_t i = 0; i < n; i++) {
		free(images[i].ref);
		free(images[i].media_type);
		free(images[i].created);
	}
	free(images);
}

int oci_store_list(struct oci_store *s, struct oci_store_image **ret, size_t *ret_n)
{
	struct store_src src = store_src_store(s);
	struct oci_store_image *images = NULL;
	json_t *root = NULL, *arr, *e;
	size_t n = 0, i;
	int r;

	r = store_index_read(s, &root);
	if (r < 0)
		return r;
	arr = json_object_get(root, "manifests");
	if (json_array_size(arr)) {
		images = calloc(json_array_size(arr), sizeof(*images));
		if (!images) {
			json_decref(root);
			return -ENOMEM;
		}
	}
	json_array_foreach(arr, i, e)
	{
		struct store_list_ctx c = {.img = &images[n]};
		const char *name = store_entry_ref(e);
		struct store_walk w;
		struct store_desc d;

		if (!name || store_desc_parse(s, e, STORE_INDEX_FILE, &d) < 0)
			continue;
		c.img->ref = strdup(name);
		c.img->media_type = strdup(d.media_type);
		if (!c.img->ref || !c.img->media_type) {
			n++;
			r = -ENOMEM;
			break;
		}
		snprintf(c.img->digest, sizeof(c.img->digest), "%s", d.digest);
		n++;
		store_walk_init(&w, s, &src, false, store_visit_list, &c);
		r = store_walk_desc(&w, &d, 0);
		store_set_done(&c.seen);
		if (r == -ENOMEM)
			break;
		r = 0; /* a broken image is still listed */
	}
	json_decref(root);
	s->err[0] = '\0';
	if (r < 0) {
		oci_store_images_free(images, n);
		return r;
	}
	*ret = images;
	*ret_n = n;
	return 0;
}

int oci_store_has_ref(struct oci_store *s, const char *ref)
{
	char saved[sizeof(s->err)];
	struct oci_ref *r = NULL;
	json_t *root = NULL, *e;
	char *canonical = NULL;
	struct store_desc d;
	int err;

	/* a question, not an operation: the message of the last failure stays */
	memcpy(saved, s->err, sizeof(saved));
	err = oci_ref_parse(ref, &r);
	if (err == 0 && r->digest) {
		err = oci_store_has_blob(s, r->digest);
	} else if (err == 0) {
		err = oci_ref_format(r, &canonical);
		if (err == 0)
			err = store_index_read(s, &root);
		if (err == 0) {
			/* as oci_store_list() would list it */
			e = store_index_find(root, canonical, NULL);
			err = e && store_desc_parse(s, e, STORE_INDEX_FILE, &d) == 0;
		}
	}
	memcpy(s->err, saved, sizeof(saved));
	json_decref(root);
	free(canonical);
	oci_ref_free(r);
	return err;
}

/* ---- resolve ---- */

struct oci_store_gadget *oci_store_gadget_free(struct oci_store_gadget *g)
{
	if (!g)
		return NULL;
	free(g->config);
	free(g->program);
	free(g);
	return NULL;
}

/* Reads a blob from its descriptor, checking the size it announces. */
static int store_read_desc(struct oci_store *s, const struct store_desc *d, size_t max,
			   void **ret_buf, size_t *ret_len)
{
	struct store_src src = store_src_store(s);
	void *buf = NULL;
	size_t len = 0;
	int r;

	if (d->size > max)
		return store_fail(s, -EFBIG,
				  "blob %s of %llu bytes is larger than the limit of %zu",
				  d->digest, (unsigned long long)d->size, max);
	r = store_src_read(s, &src, d->digest, max, &buf, &len);
	if (r < 0)
		return r;
	if (len != d->size) {
		free(buf);
		return store_fail(s, -EBADMSG, "blob %s has %zu bytes, its descriptor says %llu",
				  d->digest, len, (unsigned long long)d->size);
	}
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

static int store_read_doc(struct oci_store *s, const struct store_desc *d, json_t **ret)
{
	const char *declared;
	void *buf = NULL;
	size_t len = 0;
	json_t *doc;
	int r;

	r = store_read_desc(s, d, OCI_STORE_MAX_MANIFEST, &buf, &len);
	if (r < 0)
		return r;
	r = store_json_parse(s, buf, len, d->digest, &doc);
	free(buf);
	if (r < 0)
		return r;
	declared = store_json_str(doc, "mediaType");
	if (declared && strcmp(declared, d->media_type)) {
		r = store_fail(s, -EMEDIUMTYPE,
			       "blob %s has media type %.100s, its descriptor says %.100s",
			       d->digest, declared, d->media_type);
		json_decref(doc);
		return r;
	}
	*ret = doc;
	return 0;
}

/* Picks the linux/arch manifest of an image index. */
static int store_pick_platform(struct oci_store *s, const char *ref, json_t *index,
			       const char *arch, struct store_desc *ret)
{
	json_t *arr = json_object_get(index, "manifests"), *e;
	char have[256] = "";
	size_t i, used = 0;
	int r;

	if (!json_is_array(arr))
		return store_fail(s, -EINVAL, "image %s: index has no manifests array", ref);
	json_array_foreach(arr, i, e)
	{
		json_t *platform = json_object_get(e, "platform");
		const char *os = store_json_str(platform, "os");
		const char *a = store_json_str(platform, "architecture");

		if (os && a && !strcmp(os, "linux") && !strcmp(a, arch)) {
			r = store_desc_parse(s, e, ref, ret);
			if (r < 0)
				return r;
			return 0;
		}
		if (os && a && used < sizeof(have)) {
			int n = snprintf(have + used, sizeof(have) - used, "%s%.20s/%.20s",
					 used ? ", " : "", os, a);

			used += n > 0 ? (size_t)n : 0;
		}
	}
	return store_fail(s, -ENOENT, "image %s has no manifest for linux/%s (it has: %s)", ref,
			  arch, used ? have : "none");
}

/* Finds what ref points at: a tag in index.json, or a blob by digest. */
static int store_lookup(struct oci_store *s, const char *ref, json_t **ret_root,
			struct store_desc *ret)
{
	struct store_src src = store_src_store(s);
	struct oci_ref *r = NULL;
	char *canonical = NULL;
	json_t *root = NULL, *e;
	int err;

	err = oci_ref_parse(ref, &r);
	if (err < 0)
		return store_fail(s, err, "invalid image reference \"%.200s\"", ref ? ref : "");
	/* As with Docker, a digest wins over a tag given with it. */
	if (r->digest) {
		err = store_describe(s, &src, r->digest, &root);
		if (err == -ENOENT)
			err = store_fail(s, err, "image %s is not in the store", ref);
		if (err == 0)
			err = store_desc_parse(s, root, r->digest, ret);
		goto out;
	}
	err = oci_ref_format(r, &canonical);
	if (err == 0)
		err = store_index_read(s, &root);
	if (err < 0)
		goto out;
	e = store_index_find(root, canonical, NULL);
	if (!e) {
		err = store_fail(s, -ENOENT, "image %s is not in the store", canonical);
		goto out;
	}
	err = store_desc_parse(s, e, STORE_INDEX_FILE, ret);
out:
	if (err < 0) {
		json_decref(root);
		root = NULL;
	}
	*ret_root = root;
	free(canonical);
	oci_ref_free(r);
	return err;
}

static int store_resolve_manifest(struct oci_store *s, const char *ref, json_t *manifest,
				  struct store_desc *config, struct store_desc *program)
{
	json_t *layers = json_object_get(manifest, "layers"), *e;
	unsigned int found = 0;
	size_t i;
	int r;

	r = store_desc_parse(s, json_object_get(manifest, "config"), ref, config);
	if (r < 0)
		return r;
	if (strcmp(config->media_type, OCI_MEDIA_TYPE_GADGET_CONFIG))
		return store_fail(s, -EMEDIUMTYPE,
				  "image %s: config has media type %.100s, "
				  "expected " OCI_MEDIA_TYPE_GADGET_CONFIG,
				  ref, config->media_type);
	if (!json_is_array(layers))
		return store_fail(s, -EINVAL, "image %s: manifest has no layers array", ref);
	json_array_foreach(layers, i, e)
	{
		struct store_desc d;

		r = store_desc_parse(s, e, ref, &d);
		if (r < 0)
			return r;
		if (strcmp(d.media_type, OCI_MEDIA_TYPE_GADGET_PROGRAM))
			continue;
		if (found++ == 0)
			*program = d;
	}
	if (found == 0)
		return store_fail(s, -ENODATA,
				  "image %s: manifest has no layer of media "
				  "type " OCI_MEDIA_TYPE_GADGET_PROGRAM,
				  ref);
	if (found > 1)
		return store_fail(s, -EINVAL,
				  "image %s: manifest has %u layers of media "
				  "type " OCI_MEDIA_TYPE_GADGET_PROGRAM ", expected one",
				  ref, found);
	return 0;
}

int oci_store_resolve(struct oci_store *s, const char *ref, const char *arch,
		      struct oci_store_gadget **ret)
{
	struct store_desc top, mdesc, config, program;
	json_t *root = NULL, *top_doc = NULL, *manifest = NULL;
	struct oci_store_gadget *g;
	void *buf;
	size_t len;
	int r;

	if (!arch)
		arch = oci_store_host_arch();
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	r = store_lookup(s, ref, &root, &top);
	if (r < 0)
		goto out;
	snprintf(g->image_digest, sizeof(g->image_digest), "%s", top.digest);
	if (!store_is_index_type(top.media_type) && !store_is_manifest_type(top.media_type)) {
		r = store_fail(s, -EMEDIUMTYPE,
			       "image %s has media type %.100s, not an image index or manifest",
			       ref, top.media_type);
		goto out;
	}
	r = store_read_doc(s, &top, &top_doc);
	if (r < 0)
		goto out;
	if (store_is_index_type(top.media_type)) {
		r = store_pick_platform(s, ref, top_doc, arch, &mdesc);
		if (r < 0)
			goto out;
		if (!store_is_manifest_type(mdesc.media_type)) {
			r = store_fail(s, -EMEDIUMTYPE,
				       "image %s: manifest for linux/%s has media type %.100s, "
				       "expected " OCI_MEDIA_TYPE_MANIFEST,
				       ref, arch, mdesc.media_type);
			goto out;
		}
		r = store_read_doc(s, &mdesc, &manifest);
		if (r < 0)
			goto out;
	} else {
		mdesc = top;
		manifest = json_incref(top_doc);
	}
	snprintf(g->manifest_digest, sizeof(g->manifest_digest), "%s", mdesc.digest);
	r = store_resolve_manifest(s, ref, manifest, &config, &program);
	if (r < 0)
		goto out;
	r = store_read_desc(s, &config, OCI_METADATA_MAX_BYTES, &buf, &len);
	if (r < 0)
		goto out;
	g->config = buf;
	g->config_len = len;
	r = store_read_desc(s, &program, OCI_STORE_MAX_PROGRAM, &buf, &len);
	if (r < 0)
		goto out;
	g->program = buf;
	g->program_len = len;
	*ret = g;
	g = NULL;
out:
	json_decref(manifest);
	json_decref(top_doc);
	json_decref(root);
	oci_store_gadget_free(g);
	return r;
}

/* ---- export ---- */

/* libarchive is loaded only for export and import; say so if it cannot be. */
static int store_archive_load(struct oci_store *s)
{
	char msg[BASE_ARCHIVE_ERRLEN];
	int r = base_archive_load(msg, sizeof(msg));

	return r < 0 ? store_fail(s, r, "%s", msg) : 0;
}

static int store_archive_fail(struct oci_store *s, struct archive *a, int r, const char *what)
{
	const char *msg = archive_error_string(a);

	return store_fail(s, r, "%s: %s", what, msg ? msg : "archive error");
}

static int store_tar_header(struct oci_store *s, struct archive *a, const char *name, bool dir,
			    size_t size)
{
	struct archive_entry *e = archive_entry_new();
	int r = 0;

	if (!e)
		return -ENOMEM;
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
	archive_entry_set_perm(e, dir ? 0755 : 0644);
	archive_entry_set_size(e, dir ? 0 : (la_int64_t)size);
	/* Fixed owner and time: the same images give the same tarball. */
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_mtime(e, 0, 0);
	if (archive_write_header(a, e) != ARCHIVE_OK)
		r = store_archive_fail(s, a, -EIO, name);
	archive_entry_free(e);
	return r;
}

static int store_tar_data(struct oci_store *s, struct archive *a, const char *name, const void *buf,
			  size_t len)
{
	int r = store_tar_header(s, a, name, false, len);

	if (r == 0 && len && archive_write_data(a, buf, len) != (la_ssize_t)len)
		r = store_archive_fail(s, a, -EIO, name);
	return r;
}

/* Streams one blob into the tarball, checking its digest on the way. */
static int store_tar_blob(struct oci_store *s, struct archive *a, const char *digest)
{
	char name[128], actual[OCI_DIGEST_SIZE], msg[128];
	struct oci_digest *h = NULL;
	char *chunk = NULL;
	struct stat st;
	uint64_t left;
	int fd, r;

	/* non-blocking: a FIFO in the store must not hold the export; fstat() refuses it below */
	fd = openat(s->blobs_fd, oci_digest_hex(digest),
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		return store_fail(s, r, "blob %s: %s", digest, store_strerror(r, msg, sizeof(msg)));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return store_fail(s, -EIO, "blob %s is not a regular file", digest);
	}
	if ((uint64_t)st.st_size > OCI_STORE_MAX_BLOB) {
		close(fd);
		return store_fail(s, -EFBIG, "blob %s is larger than the limit of %u bytes", digest,
				  OCI_STORE_MAX_BLOB);
	}
	snprintf(name, sizeof(name), "blobs/sha256/%s", oci_digest_hex(digest));
	r = oci_digest_new(&h);
	if (r == 0 && !(chunk = malloc(STORE_IO_CHUNK)))
		r = -ENOMEM;
	if (r == 0)
		r = store_tar_header(s, a, name, false, st.st_size);
	for (left = st.st_size; r == 0 && left;) {
		ssize_t n = read(fd, chunk, left < STORE_IO_CHUNK ? left : STORE_IO_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = store_fail(s, n < 0 ? -errno : -EIO, "blob %s: short read", digest);
			break;
		}
		left -= n;
		r = oci_digest_update(h, chunk, n);
		if (r == 0 && archive_write_data(a, chunk, n) != n)
			r = store_archive_fail(s, a, -EIO, name);
	}
	if (r == 0)
		r = oci_digest_final(h, actual);
	if (r == 0 && strcmp(actual, digest))
		r = store_fail(s, -EBADMSG, "blob %s is corrupt: its content has digest %s", digest,
			       actual);
	oci_digest_free(h);
	free(chunk);
	close(fd);
	return r;
}

/* Picks the index.json entries to export into a new index object. */
static int store_export_index(struct oci_store *s, json_t *root, const char *const *refs, size_t n,
			      json_t **ret)
{
	json_t *out, *arr, *src_arr = json_object_get(root, "manifests"), *e;
	char *canonical = NULL;
	size_t i;
	int r = 0;

	out = json_pack("{s:i,s:s,s:[]}", "schemaVersion", 2, "mediaType", OCI_MEDIA_TYPE_INDEX,
			"manifests");
	if (!out)
		return -ENOMEM;
	arr = json_object_get(out, "manifests");
	if (n == 0) {
		json_array_foreach(src_arr, i, e) if (store_entry_ref(e) &&
						      json_array_append(arr, e) < 0) r = -ENOMEM;
	}
	for (i = 0; i < n && r == 0; i++) {
		r = store_canonical_tag(s, refs[i], &canonical);
		if (r < 0)
			break;
		e = store_index_find(root, canonical, NULL);
		if (!e)
			r = store_fail(s, -ENOENT, "image %s is not in the store", canonical);
		else if (!store_index_find(out, canonical, NULL) && json_array_append(arr, e) < 0)
			r = -ENOMEM;
		free(canonical);
		canonical = NULL;
	}
	if (r == 0 && json_array_size(arr) == 0)
		r = store_fail(s, -ENOENT, "no image to export");
	if (r < 0) {
		json_decref(out);
		return r;
	}
	*ret = out;
	return 0;
}

static int store_export_write(struct oci_store *s, struct archive *a, json_t *index)
{
	struct store_src src = store_src_store(s);
	struct store_set blobs = {0};
	struct store_walk w;
	struct store_desc d;
	size_t len = 0, i;
	char *out = NULL;
	json_t *e;
	int r = 0;

	json_array_foreach(json_object_get(index, "manifests"), i, e)
	{
		r = store_desc_parse(s, e, STORE_INDEX_FILE, &d);
		if (r < 0)
			goto out;
		store_walk_init(&w, s, &src, false, store_visit_mark, &blobs);
		r = store_walk_desc(&w, &d, 0);
		if (r < 0)
			goto out;
	}
	r = store_tar_data(s, a, STORE_LAYOUT_FILE, STORE_LAYOUT_JSON, strlen(STORE_LAYOUT_JSON));
	if (r == 0)
		r = store_json_dump(index, &out, &len);
	if (r == 0)
		r = store_tar_data(s, a, STORE_INDEX_FILE, out, len);
	if (r == 0)
		r = store_tar_header(s, a, "blobs/", true, 0);
	if (r == 0)
		r = store_tar_header(s, a, "blobs/sha256/", true, 0);
	for (i = 0; r == 0 && i < blobs.n; i++)
		r = store_tar_blob(s, a, blobs.v[i]);
out:
	free(out);
	store_set_done(&blobs);
	return r;
}

int oci_store_export(struct oci_store *s, const char *const *refs, size_t n, const char *path)
{
	char tmp[PATH_MAX], msg[128];
	json_t *root = NULL, *index = NULL;
	struct archive *a = NULL;
	int fd = -1, r;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >= (int)sizeof(tmp))
		return store_fail(s, -ENAMETOOLONG, "%s: path too long", path);
	r = store_archive_load(s);
	if (r < 0)
		return r;
	r = store_index_read(s, &root);
	if (r == 0)
		r = store_export_index(s, root, refs, n, &index);
	if (r < 0)
		goto out;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		store_fail(s, r, "cannot create %s: %s", tmp, store_strerror(r, msg, sizeof(msg)));
		goto out;
	}
	a = archive_write_new();
	if (!a) {
		r = -ENOMEM;
		goto out;
	}
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		r = store_archive_fail(s, a, -EIO, path);
		goto out;
	}
	r = store_export_write(s, a, index);
	if (r == 0 && archive_write_close(a) != ARCHIVE_OK)
		r = store_archive_fail(s, a, -EIO, path);
	if (r == 0 && fsync(fd) < 0) {
		r = -errno;
		store_fail(s, r, "%s: %s", path, store_strerror(r, msg, sizeof(msg)));
	}
	if (r == 0 && fchmod(fd, 0644) < 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0) {
		r = -errno;
		store_fail(s, r, "cannot write %s: %s", path, store_strerror(r, msg, sizeof(msg)));
	}
out:
	if (a)
		archive_write_free(a);
	if (fd >= 0) {
		close(fd);
		if (r < 0)
			unlink(tmp);
	}
	json_decref(index);
	json_decref(root);
	return r;
}

/* ---- import ---- */

struct store_import {
	struct oci_store *s;
	struct archive *a;
	int fd; /* the tarball */
	int stage_fd;
	char stage_name[64];
	struct store_set staged;
	struct store_set reachable; /* blobs the tarball's images use */
	void *layout, *index;
	size_t layout_len, index_len;
	uint64_t total;
};

/* Reads the current entry into memory, at most max bytes. */
static int store_import_read_mem(struct store_import *im, const char *name, size_t max, void **ret,
				 size_t *ret_len)
{
	struct base_buf b = BASE_BUF_INIT(max);
	char chunk[8192];
	la_ssize_t n;
	int r;

	if (*ret)
		return store_fail(im->s, -EINVAL, "tarball: %s appears twice", name);
	for (;;) {
		n = archive_read_data(im->a, chunk, sizeof(chunk));
		if (n < 0) {
			base_buf_done(&b);
			return store_archive_fail(im->s, im->a, -EBADMSG, "tarball");
		}
		if (n == 0)
			break;
		r = base_buf_append(&b, chunk, n);
		if (r < 0) {
			base_buf_done(&b);
			if (r == -E2BIG)
				return store_fail(im->s, -EFBIG,
						  "tarball: %s is larger than %zu bytes", name,
						  max);
			return r;
		}
	}
	/* An empty entry still yields a (terminated) buffer. */
	r = base_buf_reserve(&b, 0);
	if (r < 0)
		return r;
	*ret_len = b.len;
	*ret = base_buf_take(&b);
	return 0;
}

/* Streams the current entry into the staging directory, verifying its digest. */
static int store_import_blob(struct store_import *im, const char *hex)
{
	struct oci_store *s = im->s;
	char digest[OCI_DIGEST_SIZE], actual[OCI_DIGEST_SIZE], msg[128];
	struct oci_digest *h = NULL;
	char *chunk = NULL;
	uint64_t size = 0;
	la_ssize_t n;
	int fd, r;

	snprintf(digest, sizeof(digest), OCI_DIGEST_SHA256_PREFIX "%s", hex);
	r = store_set_add(&im->staged, digest);
	if (r < 0)
		return r;
	if (r == 0)
		return store_fail(s, -EINVAL, "tarball: blob %s appears twice", digest);
	fd = openat(im->stage_fd, hex, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		r = -errno;
		return store_fail(s, r, "cannot stage blob %s: %s", digest,
				  store_strerror(r, msg, sizeof(msg)));
	}
	r = oci_digest_new(&h);
	if (r == 0 && !(chunk = malloc(STORE_IO_CHUNK)))
		r = -ENOMEM;
	while (r == 0) {
		n = archive_read_data(im->a, chunk, STORE_IO_CHUNK);
		if (n < 0) {
			r = store_archive_fail(s, im->a, -EBADMSG, "tarball");
			break;
		}
		if (n == 0)
			break;
		size += n;
		im->total += n;
		if (size > OCI_STORE_MAX_BLOB) {
			r = store_fail(s, -EFBIG, "tarball: blob %s is larger than %u bytes",
				       digest, OCI_STORE_MAX_BLOB);
			break;
		}
		if (im->total > OCI_STORE_MAX_IMPORT_BYTES) {
			r = store_fail(s, -EFBIG, "tarball: more than %llu bytes of blobs",
				       (unsigned long long)OCI_STORE_MAX_IMPORT_BYTES);
			break;
		}
		r = oci_digest_update(h, chunk, n);
		if (r == 0)
			r = base_file_write_all(fd, chunk, n);
	}
	if (r == 0)
		r = oci_digest_final(h, actual);
	if (r == 0 && strcmp(actual, digest))
		r = store_fail(s, -EBADMSG,
			       "tarball: blob %s is corrupt: its content has digest %s", digest,
			       actual);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	oci_digest_free(h);
	free(chunk);
	close(fd);
	return r;
}

/* "./blobs//sha256/x" -> "blobs/sha256/x"; NULL for the top directory. */
static const char *store_import_name(const char *path, char *buf, size_t len)
{
	size_t o = 0;

	while (*path) {
		while (*path == '/')
			path++;
		if (path[0] == '.' && (path[1] == '/' || path[1] == '\0')) {
			path++;
			continue;
		}
		while (*path && *path != '/') {
			if (o + 2 >= len)
				return NULL;
			buf[o++] = *path++;
		}
		if (*path == '/' && o)
			buf[o++] = '/';
	}
	while (o && buf[o - 1] == '/')
		o--;
	buf[o] = '\0';
	return o ? buf : NULL;
}

static int store_import_entries(struct store_import *im, const char *path)
{
	struct oci_store *s = im->s;
	struct archive_entry *entry;
	char name[256];
	unsigned int count = 0;
	int r;

	if (archive_read_support_filter_all(im->a) != ARCHIVE_OK ||
	    archive_read_support_format_tar(im->a) != ARCHIVE_OK)
		return store_archive_fail(s, im->a, -EIO, path);
	im->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (im->fd < 0) {
		char msg[128];

		r = -errno;
		return store_fail(s, r, "%s: %s", path, store_strerror(r, msg, sizeof(msg)));
	}
	if (archive_read_open_fd(im->a, im->fd, STORE_IO_CHUNK) != ARCHIVE_OK)
		return store_archive_fail(s, im->a, -EBADMSG, path);
	for (;;) {
		const char *n;

		r = archive_read_next_header(im->a, &entry);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK)
			return store_archive_fail(s, im->a, -EBADMSG, "tarball");
		if (++count > OCI_STORE_MAX_IMPORT_ENTRIES)
			return store_fail(s, -EFBIG, "tarball: more than %u entries",
					  OCI_STORE_MAX_IMPORT_ENTRIES);
		n = store_import_name(archive_entry_pathname(entry) ? archive_entry_pathname(entry)
								    : "",
				      name, sizeof(name));
		if (!n || archive_entry_filetype(entry) == AE_IFDIR)
			continue;
		if (archive_entry_filetype(entry) != AE_IFREG || archive_entry_hardlink(entry))
			return store_fail(s, -EINVAL, "tarball: %.100s is not a regular file", n);
		if (!strcmp(n, STORE_LAYOUT_FILE))
			r = store_import_read_mem(im, n, STORE_MAX_LAYOUT, &im->layout,
						  &im->layout_len);
		else if (!strcmp(n, STORE_INDEX_FILE))
			r = store_import_read_mem(im, n, OCI_STORE_MAX_INDEX, &im->index,
						  &im->index_len);
		else if (!strncmp(n, "blobs/sha256/", strlen("blobs/sha256/"))) {
			char digest[OCI_DIGEST_SIZE + 8];

			snprintf(digest, sizeof(digest), OCI_DIGEST_SHA256_PREFIX "%.70s",
				 n + strlen("blobs/sha256/"));
			if (!oci_digest_is_sha256(digest))
				return store_fail(s, -EINVAL,
						  "tarball: %.100s is not a sha256 blob name", n);
			r = store_import_blob(im, oci_digest_hex(digest));
		} else {
			r = 0; /* other files of a layout are allowed and ignored */
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* Checks the staged layout and collects the references it tags. */
static int store_import_check(struct store_import *im, json_t **ret_index)
{
	struct oci_store *s = im->s;
	struct store_src src = {.fds = {im->stage_fd, s->blobs_fd}, .n = 2};
	json_t *layout = NULL, *index = NULL, *e;
	struct store_walk w;
	struct store_desc d;
	const char *v;
	size_t i;
	int r;

	if (!im->layout)
		return store_fail(s, -EINVAL,
				  "tarball: no " STORE_LAYOUT_FILE
				  " file, not an OCI image layout");
	r = store_json_parse(s, im->layout, im->layout_len, "tarball: " STORE_LAYOUT_FILE, &layout);
	if (r < 0)
		return r;
	v = store_json_str(layout, "imageLayoutVersion");
	r = v && !strcmp(v, STORE_LAYOUT_VERSION) ? 0 : -EINVAL;
	json_decref(layout);
	if (r < 0)
		return store_fail(s, r, "tarball: unsupported image layout version");
	if (!im->index)
		return store_fail(s, -EINVAL, "tarball: no " STORE_INDEX_FILE);
	r = store_json_parse(s, im->index, im->index_len, "tarball: " STORE_INDEX_FILE, &index);
	if (r < 0)
		return r;
	if (!json_is_array(json_object_get(index, "manifests"))) {
		json_decref(index);
		return store_fail(s, -EINVAL, "tarball: " STORE_INDEX_FILE " has no manifests");
	}
	json_array_foreach(json_object_get(index, "manifests"), i, e)
	{
		r = store_desc_parse(s, e, "tarball: " STORE_INDEX_FILE, &d);
		if (r == 0 && !store_is_index_type(d.media_type) &&
		    !store_is_manifest_type(d.media_type))
			r = store_fail(s, -EMEDIUMTYPE,
				       "tarball: %s has media type %.100s, not an image", d.digest,
				       d.media_type);
		if (r == 0) {
			store_walk_init(&w, s, &src, true, store_visit_mark, &im->reachable);
			r = store_walk_desc(&w, &d, 0);
			if (r < 0)
				store_prefix(s, r, "tarball");
		}
		if (r < 0) {
			json_decref(index);
			return r;
		}
	}
	*ret_index = index;
	return 0;
}

/* Canonical names of the tagged entries, in index order, duplicates merged. */
static int store_import_refs(struct store_import *im, json_t *index, char ***ret)
{
	json_t *arr = json_object_get(index, "manifests"), *e;
	char **refs;
	size_t n = 0, i;
	int r = 0;

	refs = calloc(json_array_size(arr) + 1, sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	json_array_foreach(arr, i, e)
	{
		const char *name = store_entry_ref(e);
		struct store_desc d;

		if (!name)
			continue;
		r = store_canonical_tag(im->s, name, &refs[n]);
		if (r < 0) {
			store_prefix(im->s, r, "tarball");
			break;
		}
		/* A digest name must agree with its entry, or it would name another image. */
		r = store_desc_parse(im->s, e, "tarball: " STORE_INDEX_FILE, &d);
		if (r == 0)
			r = store_check_ref_digest(im->s, refs[n], d.digest);
		n++;
		if (r < 0)
			break;
	}
	if (r == 0 && n == 0)
		r = store_fail(im->s, -ENOENT,
			       "tarball: no image is named (no " OCI_ANNOTATION_REF_NAME
			       " annotation in " STORE_INDEX_FILE ")");
	if (r < 0) {
		oci_store_strv_free(refs);
		return r;
	}
	*ret = refs;
	return 0;
}

static int store_import_commit(struct store_import *im, json_t *index, char **refs)
{
	struct oci_store *s = im->s;
	json_t *root = NULL, *arr = json_object_get(index, "manifests"), *e;
	struct store_desc d;
	char msg[128];
	size_t i, k = 0;
	int r;

	for (i = 0; i < im->staged.n; i++) {
		const char *hex = oci_digest_hex(im->staged.v[i]);

		/* Extra files of the tarball would only be garbage here. */
		if (!store_set_has(&im->reachable, im->staged.v[i]))
			continue;
		if (renameat(im->stage_fd, hex, s->blobs_fd, hex) < 0) {
			r = -errno;
			return store_fail(s, r, "cannot move blob %s into the store: %s",
					  im->staged.v[i], store_strerror(r, msg, sizeof(msg)));
		}
	}
	fsync(s->blobs_fd);
	r = store_index_read(s, &root);
	if (r < 0)
		return r;
	json_array_foreach(arr, i, e)
	{
		if (!store_entry_ref(e))
			continue;
		r = store_desc_parse(s, e, STORE_INDEX_FILE, &d);
		if (r == 0)
			r = store_index_set(root, refs[k++], &d);
		if (r < 0)
			break;
	}
	if (r == 0)
		r = store_index_write(s, root);
	json_decref(root);
	return r;
}

int oci_store_import(struct oci_store *s, const char *path, char ***ret_refs)
{
	struct store_import im = {.s = s, .fd = -1, .stage_fd = -1};
	json_t *index = NULL;
	char **refs = NULL;
	unsigned char rnd[8];
	int r;

	r = store_archive_load(s);
	if (r < 0)
		return r;
	r = oci_store_lock(s);
	if (r < 0)
		return r;
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	snprintf(im.stage_name, sizeof(im.stage_name), STORE_IMPORT_PREFIX "%d-%02x%02x%02x%02x",
		 (int)getpid(), rnd[0], rnd[1], rnd[2], rnd[3]);
	if (mkdirat(s->dir_fd, im.stage_name, 0700) < 0) {
		r = store_fail(s, -errno, "cannot create a staging directory in %s", s->dir);
		im.stage_name[0] = '\0';
		goto out;
	}
	im.stage_fd = openat(s->dir_fd, im.stage_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (im.stage_fd < 0) {
		r = -errno;
		goto out;
	}
	im.a = archive_read_new();
	if (!im.a) {
		r = -ENOMEM;
		goto out;
	}
	r = store_import_entries(&im, path);
	if (r == 0)
		r = store_import_check(&im, &index);
	if (r == 0)
		r = store_import_refs(&im, index, &refs);
	if (r == 0)
		r = store_import_commit(&im, index, refs);
	if (r == 0 && ret_refs) {
		*ret_refs = refs;
		refs = NULL;
	}
out:
	if (im.a)
		archive_read_free(im.a);
	if (im.fd >= 0)
		close(im.fd);
	if (im.stage_fd >= 0)
		close(im.stage_fd);
	if (im.stage_name[0])
		store_rm_staging(s->dir_fd, im.stage_name);
	store_set_done(&im.staged);
	store_set_done(&im.reachable);
	free(im.layout);
	free(im.index);
	json_decref(index);
	oci_store_strv_free(refs);
	oci_store_unlock(s);
	return r;
}
