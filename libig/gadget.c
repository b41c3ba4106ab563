// SPDX-License-Identifier: Apache-2.0
/*
 * libig's gadget object (include/ig/gadget.h): the run library's runner
 * (run/runner.h) with an event loop of its own, behind a pull API.
 *
 * What `ig run` does in its main loop is done here inside
 * ig_gadget_next(): one epoll set holds the tracers' ring buffers, the drain
 * timer that collects records submitted without a wakeup, the map fetch
 * timer, the run's timeout and the container collection.  Records reach the
 * runner's sink as JSON lines and wait in a queue until the program takes
 * them; the rings are read only when the queue is empty, so a program that
 * reads slowly makes the kernel drop (and count) records rather than the
 * library grow without bound, and one read is cut at LIBIG_MAX_QUEUE_BYTES.
 *
 * Images are found as the agent finds them (agent/image.h): the store, and
 * the registry as the pull policy says; short names also in the stores of
 * installed gadgets.
 */
#include <ig/gadget.h>

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/image.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"
#include "bpf/gadget.h"
#include "cri/collection.h"
#include "libig/ig.h"
#include "libig/record.h"
#include "oci/metadata.h"
#include "oci/ref.h"
#include "oci/store.h"
#include "run/enrich.h"
#include "run/runner.h"
#include "run/selector.h"

#define LIBIG_ERRLEN 2048
/* Bytes of records one read of the rings may queue. */
#define LIBIG_MAX_QUEUE_BYTES (32u << 20)
/* How often records submitted without a wakeup are collected (ig run's default). */
#define LIBIG_DRAIN_MS 10
/* Each CRI call, so that a runtime that hangs cannot stall a read for long. */
#define LIBIG_CRI_TIMEOUT_MS	1000
#define LIBIG_DEFAULT_FETCH_MS	1000
#define LIBIG_CONTAINERD_SOCKET "/run/containerd/containerd.sock"
#define LIBIG_CRIO_SOCKET	"/run/crio/crio.sock"
/* The stores of installed gadgets, after the one beside the library. */
#define LIBIG_STORE_LOCAL  "/usr/local/lib/ig/oci-store"
#define LIBIG_STORE_SYSTEM "/usr/lib/ig/oci-store"

enum tag {
	TAG_RING = 1,
	TAG_DRAIN,
	TAG_FETCH,
	TAG_TIMEOUT,
	TAG_CRI,
};

struct queued {
	size_t off, len;
	uint32_t ds;
	uint64_t fetch;
};

struct ig_gadget {
	char err[LIBIG_ERRLEN];
	char *name, *description, *image_ref, *digest;
	struct agent_image *img;
	void *obj;
	char *elf_path;
	struct oci_metadata *md;
	struct run_runner *runner;
	struct run_runner_opts ro;

	/* options, owned copies */
	enum ig_output output;
	int out_fd;
	bool no_header;
	char *fields, *sort;
	uint32_t max_entries;
	char *filters[RUN_RUNNER_MAX_FILTERS];
	size_t n_filters;
	uint64_t fetch_ms, timeout_ms;
	uint32_t fetch_count;
	struct run_selector sel;
	char *sel_text[4];
	bool host;
	char *containerd_socket, *crio_socket;

	struct cri_collection *coll;
	struct run_enrich *enrich;

	int ep, drain_fd, fetch_fd, tmo_fd;
	bool prepared, started, done;
	int broken; /* -errno once the run failed */
	uint64_t fetches;
	uint64_t fetch_no[BPF_GADGET_MAX_DS]; /* the fetch each map iterator is in */

	struct base_buf qbuf;
	struct queued *q;
	size_t q_n, q_cap, q_head;
	bool q_full;
	struct ig_record rec;

	struct ig_param_info *params;
	size_t n_params;
	struct ig_ds_info *dsi;
	struct ig_field_info **fi;
	size_t n_ds;
};

/* ---- errors ---- */

static int fail(struct ig_gadget *g, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct ig_gadget *g, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	base_err_setv(g->err, sizeof(g->err), fmt, ap);
	va_end(ap);
	base_log_debug("libig: %s", g->err);
	return r;
}

/* A failure the runner explained in g->err (its errbuf), else strerror. */
static int fail_runner(struct ig_gadget *g, int r)
{
	if (!g->err[0])
		snprintf(g->err, sizeof(g->err), "%s", strerror(-r));
	base_log_debug("libig: %s", g->err);
	return r;
}

const char *ig_gadget_errmsg(const struct ig_gadget *g)
{
	return g ? g->err : "";
}

/* ---- opening ---- */

static bool opts_has(const struct ig_gadget_opts *o, size_t end)
{
	return o && o->sz >= end;
}

#define OPT(o, field, dflt)                                                                        \
	(opts_has(o, offsetof(struct ig_gadget_opts, field) + sizeof((o)->field)) ? (o)->field     \
										  : (dflt))

static char *dup_opt(const char *s)
{
	return s ? strdup(s) : NULL;
}

static struct ig_gadget *gadget_alloc(const struct ig_gadget_opts *o)
{
	struct ig_gadget *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->ep = g->drain_fd = g->fetch_fd = g->tmo_fd = -1;
	g->out_fd = -1;
	g->qbuf = (struct base_buf)BASE_BUF_INIT(LIBIG_MAX_QUEUE_BYTES + (16u << 20));
	g->containerd_socket = dup_opt(OPT(o, containerd_socket, NULL));
	g->crio_socket = dup_opt(OPT(o, crio_socket, NULL));
	return g;
}

/* An open failed before there was a gadget to hold the reason. */
static int open_fail(const struct ig_gadget_opts *o, struct ig_gadget *g, int r)
{
	char *errbuf = OPT(o, errbuf, NULL);
	size_t errlen = OPT(o, errbuf_len, 0);

	if (errbuf && errlen)
		snprintf(errbuf, errlen, "%s", g && g->err[0] ? g->err : strerror(-r));
	ig_gadget_free(g);
	return r;
}

static int params_build(struct ig_gadget *g)
{
	size_t i, n = run_runner_param_count(g->runner);

	g->params = calloc(n ? n : 1, sizeof(*g->params));
	if (!g->params)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const struct run_runner_param_info *p = run_runner_param(g->runner, i);
		struct ig_param_info *q = &g->params[i];

		q->key = p->key;
		q->name = p->name;
		q->description = p->description ? p->description : "";
		q->default_value = p->default_value ? p->default_value : "";
		q->type_name = p->type_name ? p->type_name : "";
		switch (p->type) {
		case BPF_GADGET_PARAM_BOOL:
			q->type = IG_PARAM_BOOL;
			break;
		case BPF_GADGET_PARAM_INT:
			q->type = IG_PARAM_INT;
			break;
		case BPF_GADGET_PARAM_UINT:
			q->type = IG_PARAM_UINT;
			break;
		case BPF_GADGET_PARAM_ENUM:
			q->type = IG_PARAM_ENUM;
			break;
		default:
			q->type = IG_PARAM_STRING;
		}
		q->values = p->values;
		q->n_values = p->n_values;
	}
	g->n_params = n;
	return 0;
}

/* The runner over what g holds: a program in memory or a file, and md. */
static int runner_open(struct ig_gadget *g, const void *program, size_t len)
{
	int r;

	g->ro = (struct run_runner_opts){
		.sz = sizeof(g->ro),
		.name = g->name,
		.program = program,
		.program_len = len,
		.elf_path = g->elf_path,
		.md = g->md,
		.errbuf = g->err,
		.errbuf_len = sizeof(g->err),
		.out_fd = -1,
	};
	r = run_runner_new(&g->ro, &g->runner);
	if (r < 0)
		return fail_runner(g, r);
	if (g->md && g->md->description && !g->description)
		g->description = strdup(g->md->description);
	r = params_build(g);
	return r < 0 ? fail(g, r, "%s", strerror(-r)) : 0;
}

static bool store_exists(const char *dir)
{
	char p[4096];
	struct stat st;

	snprintf(p, sizeof(p), "%s/oci-layout", dir);
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * <directory of libig.so>/rel: the gadgets installed with the library
 * (LIBDIR/ig/oci-store), or built with it (build/oci-store beside
 * build/libig.so).
 */
static char *store_beside_library(const char *rel)
{
	Dl_info info;
	const char *slash;
	char *p;

	if (!dladdr((void *)ig_gadget_open, &info) || !info.dli_fname)
		return NULL;
	slash = strrchr(info.dli_fname, '/');
	if (!slash)
		return NULL;
	if (asprintf(&p, "%.*s/%s", (int)(slash - info.dli_fname), info.dli_fname, rel) < 0)
		return NULL;
	return p;
}

static const char *default_store(const struct ig_gadget_opts *o)
{
	const char *dir = OPT(o, store_dir, NULL), *env = getenv("IG_OCI_STORE");

	if (dir && *dir)
		return dir;
	return env && *env ? env : OCI_STORE_DEFAULT_DIR;
}

static int image_kind_errno(enum agent_image_error k, int r)
{
	switch (k) {
	case AGENT_IMAGE_BAD_REF:
		return -EINVAL;
	case AGENT_IMAGE_NOT_ALLOWED:
		return -EACCES;
	case AGENT_IMAGE_NOT_FOUND:
		return -ENOENT;
	case AGENT_IMAGE_FAILED:
		return r == -ENOMEM ? r : -EIO;
	default:
		return r;
	}
}

/*
 * A short name is looked up in the store, then in the stores of installed
 * gadgets; a reference with a registry in the store only, pulled as the
 * policy says.
 */
static int resolve_image(struct ig_gadget *g, const char *image, const struct ig_gadget_opts *o)
{
	const char *const *insecure = OPT(o, insecure_registries, NULL);
	struct agent_image_opts io = {
		.insecure_registries = insecure,
		.n_insecure_registries = insecure ? OPT(o, n_insecure_registries, 0) : 0,
		.authfile = OPT(o, authfile, NULL),
	};
	char *stores[5] = {NULL}, tried[1024] = "";
	enum agent_image_error kind = AGENT_IMAGE_OK;
	struct oci_ref *ref = NULL;
	bool short_name;
	size_t i, n = 0, off = 0;
	int r;

	switch (OPT(o, pull, IG_PULL_MISSING)) {
	case IG_PULL_ALWAYS:
		io.pull = AGENT_IMAGE_PULL_ALWAYS;
		break;
	case IG_PULL_NEVER:
		io.pull = AGENT_IMAGE_PULL_NEVER;
		break;
	default:
		io.pull = AGENT_IMAGE_PULL_MISSING;
	}
	r = oci_ref_parse(image, &ref);
	if (r < 0)
		return fail(g, r == -ENOMEM ? r : -EINVAL,
			    "'%.256s' is not a valid image reference", image);
	short_name = !ref->registry;
	oci_ref_free(ref);
	if (short_name && io.pull == AGENT_IMAGE_PULL_ALWAYS)
		return fail(g, -EINVAL,
			    "pull policy always needs a reference with a registry "
			    "(\"host[:port]/%.256s\"), not a short name",
			    image);
	stores[n++] = strdup(default_store(o));
	if (short_name) {
		stores[n++] = store_beside_library("ig/oci-store");
		stores[n++] = store_beside_library("oci-store");
		stores[n++] = strdup(LIBIG_STORE_LOCAL);
		stores[n++] = strdup(LIBIG_STORE_SYSTEM);
	}
	r = -ENOENT;
	for (i = 0; i < n; i++) {
		bool exists = stores[i] && store_exists(stores[i]);

		if (stores[i] && off < sizeof(tried))
			off += (size_t)snprintf(tried + off, sizeof(tried) - off, "%s%s%s",
						off ? ", " : "", stores[i],
						exists ? "" : " (no store there)");
		if (!stores[i] || (short_name && !exists))
			continue;
		io.store_dir = stores[i];
		r = agent_image_resolve(&io, image, &g->img, &kind, g->err, sizeof(g->err));
		if (r == 0 || kind != AGENT_IMAGE_NOT_FOUND || !short_name)
			break;
	}
	for (i = 0; i < n; i++)
		free(stores[i]);
	if (r == 0)
		return 0;
	if (short_name && (kind == AGENT_IMAGE_NOT_FOUND || kind == AGENT_IMAGE_OK)) {
		fail(g, r, "gadget image %.256s not found: looked in the stores %s", image, tried);
		kind = AGENT_IMAGE_NOT_FOUND;
	} else if (!g->err[0])
		fail(g, r, "%s", strerror(-r));
	return image_kind_errno(kind, r);
}

int ig_gadget_open(const char *image, const struct ig_gadget_opts *opts, struct ig_gadget **ret)
{
	struct ig_gadget *g;
	int r;

	libig_log_init();
	if (!image || !ret)
		return -EINVAL;
	g = gadget_alloc(opts);
	if (!g)
		return -ENOMEM;
	r = resolve_image(g, image, opts);
	if (r < 0)
		return open_fail(opts, g, r);
	g->name = strdup(g->img->name);
	g->image_ref = strdup(g->img->ref);
	g->digest = strdup(g->img->digest);
	if (!g->name || !g->image_ref || !g->digest)
		return open_fail(opts, g, -ENOMEM);
	if (g->img->config) {
		r = oci_metadata_parse(g->img->config, g->img->config_len, &g->md, g->err,
				       sizeof(g->err));
		if (r < 0)
			return open_fail(opts, g, r);
	}
	r = runner_open(g, g->img->program, g->img->program_len);
	if (r < 0)
		return open_fail(opts, g, r);
	*ret = g;
	return 0;
}

/* gadget.yaml from the options, else (for a file) from beside the object. */
static int load_metadata(struct ig_gadget *g, const struct ig_gadget_opts *o, const char *dir)
{
	const char *text = OPT(o, metadata, NULL);
	char path[4096];
	struct stat st;

	if (text)
		return oci_metadata_parse(text, OPT(o, metadata_len, 0), &g->md, g->err,
					  sizeof(g->err));
	if (!dir)
		return 0;
	snprintf(path, sizeof(path), "%s/gadget.yaml", dir);
	if (stat(path, &st) < 0)
		return 0;
	return oci_metadata_load(path, &g->md, g->err, sizeof(g->err));
}

/* The last component of path[0..len), without trailing slashes, as a new string. */
static char *base_name(const char *path)
{
	size_t len = strlen(path);
	const char *slash;

	while (len > 1 && path[len - 1] == '/')
		len--;
	slash = memrchr(path, '/', len);
	if (!slash)
		return strndup(path, len);
	return strndup(slash + 1, len - (size_t)(slash + 1 - path));
}

int ig_gadget_open_file(const char *path, const struct ig_gadget_opts *opts, struct ig_gadget **ret)
{
	struct ig_gadget *g;
	const char *slash;
	char *dir = NULL;
	struct stat st;
	int r = 0;

	libig_log_init();
	if (!path || !ret)
		return -EINVAL;
	g = gadget_alloc(opts);
	if (!g)
		return -ENOMEM;
	if (stat(path, &st) < 0) {
		r = -errno;
		fail(g, r, "%.1024s: %s", path, strerror(-r));
		return open_fail(opts, g, r);
	}
	if (S_ISDIR(st.st_mode)) {
		/* a directory of a built gadget: program.bpf.o and gadget.yaml */
		dir = strdup(path);
		if (asprintf(&g->elf_path, "%s/program.bpf.o", path) < 0)
			g->elf_path = NULL;
		if (g->elf_path && stat(g->elf_path, &st) < 0)
			r = fail(g, -ENOENT, "%.1024s: no program.bpf.o in this directory", path);
	} else {
		/* an object file: gadget.yaml beside it */
		slash = strrchr(path, '/');
		dir = !slash	      ? strdup(".")
		      : slash == path ? strdup("/")
				      : strndup(path, (size_t)(slash - path));
		g->elf_path = strdup(path);
	}
	g->name = base_name(path);
	if (!r && (!dir || !g->elf_path || !g->name))
		r = -ENOMEM;
	if (!r)
		r = load_metadata(g, opts, dir);
	free(dir);
	if (!r)
		r = runner_open(g, NULL, 0);
	if (r < 0)
		return open_fail(opts, g, r);
	*ret = g;
	return 0;
}

int ig_gadget_open_mem(const void *obj, size_t len, const struct ig_gadget_opts *opts,
		       struct ig_gadget **ret)
{
	const char *name = OPT(opts, name, NULL);
	struct ig_gadget *g;
	int r;

	libig_log_init();
	if (!obj || !len || !ret)
		return -EINVAL;
	g = gadget_alloc(opts);
	if (!g)
		return -ENOMEM;
	g->obj = malloc(len);
	g->name = strdup(name && *name ? name : "gadget");
	if (!g->obj || !g->name)
		return open_fail(opts, g, -ENOMEM);
	memcpy(g->obj, obj, len);
	r = load_metadata(g, opts, NULL);
	if (r >= 0)
		r = runner_open(g, g->obj, len);
	if (r < 0)
		return open_fail(opts, g, r);
	*ret = g;
	return 0;
}

/* ---- options ---- */

static int check_setup(struct ig_gadget *g)
{
	if (!g)
		return -EINVAL;
	g->err[0] = '\0';
	if (g->prepared)
		return fail(g, -EBUSY, "the gadget is prepared: options can no longer change");
	return 0;
}

/* Replaces *dst by a copy of s (NULL clears it). */
static int set_str(struct ig_gadget *g, char **dst, const char *s)
{
	char *c = NULL;

	if (s && !(c = strdup(s)))
		return fail(g, -ENOMEM, "%s", strerror(ENOMEM));
	free(*dst);
	*dst = c;
	return 0;
}

/* Keys match as flags do: '-' and '_' alike. */
static bool key_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (*a != *b && !((*a == '-' || *a == '_') && (*b == '-' || *b == '_')))
			return false;
	return *a == *b;
}

int ig_gadget_set_param(struct ig_gadget *g, const char *key, const char *value)
{
	size_t i;
	int r = check_setup(g);

	if (r < 0)
		return r;
	if (!key || !value)
		return fail(g, -EINVAL, "a param needs a key and a value");
	for (i = 0; i < g->n_params; i++)
		if (key_eq(key, g->params[i].key) || key_eq(key, g->params[i].name)) {
			key = g->params[i].key;
			break;
		}
	r = run_runner_set_param(g->runner, key, value);
	if (r == -ENOENT && !g->err[0])
		return fail(g, r, "gadget %s has no param '%.256s'", g->name, key);
	return r < 0 ? fail_runner(g, r) : 0;
}

int ig_gadget_set_fields(struct ig_gadget *g, const char *fields)
{
	int r = check_setup(g);

	return r < 0 ? r : set_str(g, &g->fields, fields && *fields ? fields : NULL);
}

int ig_gadget_add_filter(struct ig_gadget *g, const char *expr)
{
	int r = check_setup(g);

	if (r < 0)
		return r;
	if (!expr || !*expr)
		return fail(g, -EINVAL, "an empty filter");
	if (g->n_filters == RUN_RUNNER_MAX_FILTERS)
		return fail(g, -E2BIG, "too many filters (at most %d)", RUN_RUNNER_MAX_FILTERS);
	g->filters[g->n_filters] = strdup(expr);
	if (!g->filters[g->n_filters])
		return fail(g, -ENOMEM, "%s", strerror(ENOMEM));
	g->n_filters++;
	return 0;
}

int ig_gadget_set_sort(struct ig_gadget *g, const char *sort, uint32_t max_entries)
{
	int r = check_setup(g);

	if (r < 0)
		return r;
	g->max_entries = max_entries;
	return set_str(g, &g->sort, sort && *sort ? sort : NULL);
}

int ig_gadget_set_fetch(struct ig_gadget *g, uint64_t interval_ms, uint32_t count)
{
	int r = check_setup(g);

	if (r < 0)
		return r;
	g->fetch_ms = interval_ms;
	g->fetch_count = count;
	return 0;
}

int ig_gadget_set_timeout(struct ig_gadget *g, uint64_t timeout_ms)
{
	int r = check_setup(g);

	if (r < 0)
		return r;
	g->timeout_ms = timeout_ms;
	return 0;
}

int ig_gadget_set_selector(struct ig_gadget *g, const struct ig_selector *sel)
{
	const char *in[4] = {NULL};
	char *copy[4] = {NULL};
	struct run_selector s = {0};
	size_t i;
	int r = check_setup(g);

	if (r < 0)
		return r;
	if (sel && sel->sz >= offsetof(struct ig_selector, host) + sizeof(sel->host)) {
		in[0] = sel->containername;
		in[1] = sel->k8s_namespace;
		in[2] = sel->k8s_podname;
		in[3] = sel->k8s_containername;
		if (sel->k8s_labels && *sel->k8s_labels &&
		    run_selector_set_labels(&s, sel->k8s_labels, g->err, sizeof(g->err)) < 0)
			return fail_runner(g, -EINVAL);
	} else if (sel) {
		return fail(g, -EINVAL, "struct ig_selector: sz is too small");
	}
	for (i = 0; i < 4; i++) {
		if (in[i] && *in[i] && !(copy[i] = strdup(in[i]))) {
			while (i--)
				free(copy[i]);
			run_selector_done(&s);
			return fail(g, -ENOMEM, "%s", strerror(ENOMEM));
		}
	}
	run_selector_done(&g->sel);
	for (i = 0; i < 4; i++) {
		free(g->sel_text[i]);
		g->sel_text[i] = copy[i];
	}
	g->sel = s;
	g->sel.container_name = copy[0];
	g->sel.k8s_namespace = copy[1];
	g->sel.k8s_podname = copy[2];
	g->sel.k8s_containername = copy[3];
	g->host = sel && sel->host;
	return 0;
}

int ig_gadget_set_output(struct ig_gadget *g, enum ig_output output, int fd, unsigned int flags)
{
	int r = check_setup(g);

	if (r < 0)
		return r;
	if ((unsigned int)output > IG_OUTPUT_YAML || (output != IG_OUTPUT_RECORDS && fd < 0))
		return fail(g, -EINVAL, "text output needs a format and a file descriptor");
	g->output = output;
	g->out_fd = output == IG_OUTPUT_RECORDS ? -1 : fd;
	g->no_header = flags & IG_OUTPUT_NO_HEADER;
	return 0;
}

/* ---- the record queue ---- */

static bool ds_is_mapiter(const struct ig_gadget *g, size_t ds)
{
	const struct run_runner_ds_info *d = run_runner_ds(g->runner, ds);

	return d && d->type == RUN_RUNNER_DS_MAPITER;
}

static int on_record(void *ctx, size_t ds, const char *json, size_t len)
{
	struct ig_gadget *g = ctx;
	struct queued *e;
	int r;

	if (g->qbuf.len > LIBIG_MAX_QUEUE_BYTES && !ds_is_mapiter(g, ds)) {
		/* the rest stays in the ring for the next read */
		g->q_full = true;
		return -ENOBUFS;
	}
	if (g->q_n == g->q_cap) {
		size_t cap = g->q_cap ? g->q_cap * 2 : 256;
		struct queued *q = reallocarray(g->q, cap, sizeof(*q));

		if (!q)
			return -ENOMEM;
		g->q = q;
		g->q_cap = cap;
	}
	e = &g->q[g->q_n];
	e->off = g->qbuf.len;
	e->len = len;
	e->ds = (uint32_t)ds;
	e->fetch = ds < BPF_GADGET_MAX_DS && ds_is_mapiter(g, ds) ? g->fetch_no[ds] : 0;
	r = base_buf_append(&g->qbuf, json, len);
	if (r >= 0)
		r = base_buf_putc(&g->qbuf, '\0');
	if (r < 0)
		return r;
	g->q_n++;
	return 0;
}

/* A map iterator's fetch ended: its next records are the next fetch's. */
static int on_fetch_end(void *ctx, size_t ds, uint64_t fetch)
{
	struct ig_gadget *g = ctx;

	if (ds < BPF_GADGET_MAX_DS)
		g->fetch_no[ds] = fetch + 1;
	return 0;
}

static bool queue_pop(struct ig_gadget *g, struct ig_record **ret)
{
	const struct queued *e;
	const struct run_runner_ds_info *d;

	if (g->q_head == g->q_n) {
		/* the record handed out last is done with: the space is reused */
		g->q_head = g->q_n = 0;
		base_buf_reset(&g->qbuf);
		libig_record_set(&g->rec, NULL, 0, NULL, 0);
		return false;
	}
	e = &g->q[g->q_head++];
	d = run_runner_ds(g->runner, e->ds);
	libig_record_set(&g->rec, g->qbuf.data + e->off, e->len, d ? d->name : "", e->fetch);
	*ret = &g->rec;
	return true;
}

/* ---- prepare and start ---- */

/*
 * The container runtimes: needed by a selector, and used for the k8s.* and
 * runtime.* fields when one answers.  Without a selector, a host without
 * runtime sockets costs nothing.
 */
static int setup_containers(struct ig_gadget *g)
{
	struct cri_collection_runtime rts[2];
	struct cri_collection_opts co = {.runtimes = rts, .timeout_ms = LIBIG_CRI_TIMEOUT_MS};
	bool need = !run_selector_empty(&g->sel);
	const char *cd = g->containerd_socket ? g->containerd_socket : LIBIG_CONTAINERD_SOCKET;
	const char *crio = g->crio_socket ? g->crio_socket : LIBIG_CRIO_SOCKET;
	size_t k, any = 0;
	int r = -ENOENT;

	if (*cd)
		rts[co.n_runtimes++] =
			(struct cri_collection_runtime){.name = "containerd", .socket_path = cd};
	if (*crio)
		rts[co.n_runtimes++] =
			(struct cri_collection_runtime){.name = "cri-o", .socket_path = crio};
	for (k = 0; k < co.n_runtimes; k++)
		any += access(rts[k].socket_path, F_OK) == 0;
	if (any)
		r = cri_collection_new(&co, &g->coll);
	if (r < 0 && need)
		return fail(g, -ENODEV,
			    "a container selector needs a container runtime, and none answered "
			    "(tried %s%s%s): %s",
			    *cd ? cd : "", *cd && *crio ? ", " : "", *crio ? crio : "",
			    strerror(-r));
	if (r < 0)
		base_log_debug("libig: no container runtime: %s", strerror(-r));
	r = run_enrich_new(g->coll, &g->enrich);
	return r < 0 ? fail(g, r, "container enrichment: %s", strerror(-r)) : 0;
}

static int info_build(struct ig_gadget *g)
{
	size_t i, k, n = run_runner_ds_count(g->runner);

	g->dsi = calloc(n ? n : 1, sizeof(*g->dsi));
	g->fi = calloc(n ? n : 1, sizeof(*g->fi));
	if (!g->dsi || !g->fi)
		return -ENOMEM;
	g->n_ds = n;
	for (i = 0; i < n; i++) {
		const struct run_runner_ds_info *d = run_runner_ds(g->runner, i);

		g->dsi[i].name = d->name;
		g->dsi[i].type = d->type == RUN_RUNNER_DS_TRACER    ? IG_DS_TRACER
				 : d->type == RUN_RUNNER_DS_MAPITER ? IG_DS_MAPITER
								    : IG_DS_SNAPSHOT;
		g->dsi[i].n_fields = d->n_fields;
		g->fi[i] = calloc(d->n_fields ? d->n_fields : 1, sizeof(**g->fi));
		if (!g->fi[i])
			return -ENOMEM;
		for (k = 0; k < d->n_fields; k++) {
			const struct run_runner_field *f = &d->fields[k];

			g->fi[i][k] = (struct ig_field_info){
				.name = f->name,
				.short_name = f->short_name,
				.type = f->type,
				.description = f->description ? f->description : "",
				.visible_json = f->visible_json,
				.visible_columns = f->visible_columns,
				.width = f->width > 0 ? (unsigned int)f->width : 0,
				.align_right = f->align_right,
			};
		}
	}
	return 0;
}

int ig_gadget_prepare(struct ig_gadget *g)
{
	static const enum run_output outputs[] = {
		[IG_OUTPUT_RECORDS] = RUN_OUTPUT_JSON,
		[IG_OUTPUT_COLUMNS] = RUN_OUTPUT_COLUMNS,
		[IG_OUTPUT_JSON] = RUN_OUTPUT_JSON,
		[IG_OUTPUT_JSONPRETTY] = RUN_OUTPUT_JSONPRETTY,
		[IG_OUTPUT_YAML] = RUN_OUTPUT_YAML,
	};
	int r = check_setup(g);

	if (r < 0)
		return r;
	r = setup_containers(g);
	if (r < 0)
		return r;
	g->ro.output = outputs[g->output];
	g->ro.fields = g->fields;
	g->ro.filters = (const char *const *)g->filters;
	g->ro.n_filters = g->n_filters;
	g->ro.sort = g->sort;
	g->ro.max_entries = g->max_entries;
	g->ro.no_header = g->no_header;
	g->ro.out_fd = g->out_fd;
	g->ro.selector = &g->sel;
	g->ro.host = g->host;
	g->ro.coll = g->coll;
	g->ro.enrich = g->enrich;
	if (g->output == IG_OUTPUT_RECORDS) {
		g->ro.sink.record = on_record;
		g->ro.sink.fetch_end = on_fetch_end;
		g->ro.sink.ctx = g;
	}
	r = run_runner_set_opts(g->runner, &g->ro);
	if (r >= 0)
		r = run_runner_prepare(g->runner);
	if (r < 0)
		return fail_runner(g, r);
	r = info_build(g);
	if (r < 0)
		return fail(g, r, "%s", strerror(-r));
	g->prepared = true;
	return 0;
}

static int ep_add(struct ig_gadget *g, int fd, enum tag tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};

	return epoll_ctl(g->ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int loop_setup(struct ig_gadget *g)
{
	int r = 0;

	g->ep = epoll_create1(EPOLL_CLOEXEC);
	if (g->ep < 0)
		return -errno;
	if (run_runner_has_tracer(g->runner)) {
		int fd = run_runner_fd(g->runner);

		if (fd >= 0 && (r = ep_add(g, fd, TAG_RING)) < 0)
			return r;
		g->drain_fd = base_time_timer_new(LIBIG_DRAIN_MS, LIBIG_DRAIN_MS);
		if (g->drain_fd < 0)
			return g->drain_fd;
		if ((r = ep_add(g, g->drain_fd, TAG_DRAIN)) < 0)
			return r;
	}
	if (run_runner_has_mapiter(g->runner)) {
		uint64_t ms = g->fetch_ms ? g->fetch_ms : LIBIG_DEFAULT_FETCH_MS;

		g->fetch_fd = base_time_timer_new(ms, ms);
		if (g->fetch_fd < 0)
			return g->fetch_fd;
		if ((r = ep_add(g, g->fetch_fd, TAG_FETCH)) < 0)
			return r;
	}
	if (g->timeout_ms) {
		g->tmo_fd = base_time_timer_new(g->timeout_ms, 0);
		if (g->tmo_fd < 0)
			return g->tmo_fd;
		if ((r = ep_add(g, g->tmo_fd, TAG_TIMEOUT)) < 0)
			return r;
	}
	if (g->coll)
		r = ep_add(g, cri_collection_fd(g->coll), TAG_CRI);
	return r;
}

int ig_gadget_start(struct ig_gadget *g)
{
	size_t i;
	int r;

	if (!g)
		return -EINVAL;
	if (g->started)
		return fail(g, -EBUSY, "the gadget is started already");
	if (!g->prepared && (r = ig_gadget_prepare(g)) < 0)
		return r;
	g->err[0] = '\0';
	for (i = 0; i < BPF_GADGET_MAX_DS; i++)
		g->fetch_no[i] = 1;
	r = run_runner_start(g->runner);
	if (r < 0)
		return fail_runner(g, r);
	g->started = true;
	r = loop_setup(g);
	if (r < 0)
		return fail(g, r, "event loop: %s", strerror(-r));
	/* a snapshot is taken: its records are queued and that is all */
	if (run_runner_done(g->runner))
		g->done = true;
	return 0;
}

/* ---- running ---- */

static int consume(struct ig_gadget *g)
{
	int r;

	g->q_full = false;
	g->err[0] = '\0';
	r = run_runner_consume(g->runner);
	if (r < 0 && g->q_full) {
		/* the queue's bound, not a failure: the ring keeps the rest */
		g->err[0] = '\0';
		return 0;
	}
	return r;
}

static int fetch(struct ig_gadget *g)
{
	int r;

	g->err[0] = '\0';
	r = run_runner_fetch(g->runner);
	if (r < 0)
		return r;
	if (g->fetch_count && ++g->fetches >= g->fetch_count)
		g->done = true;
	return 0;
}

/* The run ends: what the kernel holds is read once more. */
static int finish(struct ig_gadget *g)
{
	int r = 0;

	if (g->done)
		return 0;
	g->done = true;
	if (run_runner_has_tracer(g->runner))
		r = consume(g);
	if (r >= 0 && run_runner_has_mapiter(g->runner))
		r = run_runner_fetch(g->runner);
	return r;
}

/* Handles what epoll reports; 0 or the -errno that broke the run. */
static int dispatch(struct ig_gadget *g, const struct epoll_event *evs, int n)
{
	bool drain = false;
	int i, r = 0;

	for (i = 0; i < n && r >= 0; i++) {
		switch (evs[i].data.u32) {
		case TAG_RING:
			drain = true;
			break;
		case TAG_DRAIN:
			base_time_timer_drain(g->drain_fd);
			drain = true;
			break;
		case TAG_FETCH:
			base_time_timer_drain(g->fetch_fd);
			if (!g->done)
				r = fetch(g);
			break;
		case TAG_TIMEOUT:
			base_time_timer_drain(g->tmo_fd);
			r = finish(g);
			break;
		case TAG_CRI:
			cri_collection_process(g->coll);
			run_enrich_expire(g->enrich);
			break;
		}
	}
	/* only into an empty queue: a slow reader leaves the records in the ring */
	if (r >= 0 && drain && !g->done && g->q_head == g->q_n)
		r = consume(g);
	return r;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ig_gadget_next(struct ig_gadget *g, int timeout_ms, struct ig_record **ret)
{
	int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
	struct ig_record *dummy;

	if (!g)
		return -EINVAL;
	if (!ret)
		ret = &dummy;
	*ret = NULL;
	if (!g->started)
		return fail(g, -EINVAL, "the gadget is not started");
	for (;;) {
		struct epoll_event evs[8];
		int wait, n, r;

		if (queue_pop(g, ret))
			return 1;
		if (g->broken)
			return g->broken;
		if (g->done)
			return -ENODATA;
		wait = timeout_ms < 0 ? -1 : 0;
		if (timeout_ms > 0) {
			int64_t left = deadline - now_ms();

			wait = left > 0 ? (int)left : 0;
		}
		n = epoll_wait(g->ep, evs, 8, wait);
		if (n < 0) {
			if (errno == EINTR)
				return -EINTR;
			return fail(g, -errno, "event loop: %s", strerror(errno));
		}
		r = dispatch(g, evs, n);
		if (r < 0) {
			g->broken = r;
			if (r != -EPIPE)
				fail_runner(g, r);
			/* what was queued before the failure is still handed out */
			continue;
		}
		if (n == 0 && g->q_head == g->q_n && !g->done)
			return 0;
	}
}

int ig_gadget_fd(const struct ig_gadget *g)
{
	return g && g->started ? g->ep : -EINVAL;
}

int ig_gadget_stop(struct ig_gadget *g)
{
	int r;

	if (!g || !g->started)
		return -EINVAL;
	r = finish(g);
	if (r < 0) {
		g->broken = r;
		return fail_runner(g, r);
	}
	return 0;
}

uint64_t ig_gadget_lost(const struct ig_gadget *g)
{
	return g && g->runner ? run_runner_lost(g->runner) : 0;
}

/* ---- info ---- */

const char *ig_gadget_name(const struct ig_gadget *g)
{
	return g ? g->name : NULL;
}

const char *ig_gadget_description(const struct ig_gadget *g)
{
	return g && g->description ? g->description : "";
}

const char *ig_gadget_image(const struct ig_gadget *g)
{
	return g ? g->image_ref : NULL;
}

const char *ig_gadget_digest(const struct ig_gadget *g)
{
	return g ? g->digest : NULL;
}

size_t ig_gadget_param_count(const struct ig_gadget *g)
{
	return g ? g->n_params : 0;
}

const struct ig_param_info *ig_gadget_param(const struct ig_gadget *g, size_t i)
{
	return g && i < g->n_params ? &g->params[i] : NULL;
}

size_t ig_gadget_ds_count(const struct ig_gadget *g)
{
	return g && g->prepared ? g->n_ds : 0;
}

const struct ig_ds_info *ig_gadget_ds(const struct ig_gadget *g, size_t i)
{
	return g && g->prepared && i < g->n_ds ? &g->dsi[i] : NULL;
}

const struct ig_field_info *ig_gadget_field(const struct ig_gadget *g, size_t ds, size_t i)
{
	if (!g || !g->prepared || ds >= g->n_ds || i >= g->dsi[ds].n_fields)
		return NULL;
	return &g->fi[ds][i];
}

/* ---- freeing ---- */

struct ig_gadget *ig_gadget_free(struct ig_gadget *g)
{
	size_t i;

	if (!g)
		return NULL;
	/* the runner leaves the collection and uses the enrichment */
	g->runner = run_runner_free(g->runner);
	g->enrich = run_enrich_free(g->enrich);
	g->coll = cri_collection_free(g->coll);
	if (g->ep >= 0)
		close(g->ep);
	if (g->drain_fd >= 0)
		close(g->drain_fd);
	if (g->fetch_fd >= 0)
		close(g->fetch_fd);
	if (g->tmo_fd >= 0)
		close(g->tmo_fd);
	libig_record_done(&g->rec);
	base_buf_done(&g->qbuf);
	free(g->q);
	for (i = 0; i < g->n_ds && g->fi; i++)
		free(g->fi[i]);
	free(g->fi);
	free(g->dsi);
	free(g->params);
	for (i = 0; i < g->n_filters; i++)
		free(g->filters[i]);
	run_selector_done(&g->sel);
	for (i = 0; i < 4; i++)
		free(g->sel_text[i]);
	free(g->fields);
	free(g->sort);
	free(g->containerd_socket);
	free(g->crio_socket);
	g->md = oci_metadata_free(g->md);
	g->img = agent_image_free(g->img);
	free(g->obj);
	free(g->elf_path);
	free(g->name);
	free(g->description);
	free(g->image_ref);
	free(g->digest);
	free(g);
	return NULL;
}
