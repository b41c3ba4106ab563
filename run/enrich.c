// SPDX-License-Identifier: Apache-2.0
/*
 * Container enrichment columns; see enrich.h.
 *
 * Live containers are looked up in the collection.  Removed ones are copied
 * into a small table of their own (a FIFO, since they all expire after the
 * same delay, with hash chains by mount namespace id) until their grace
 * period ends.  The last lookup is cached and dropped on every collection
 * event, so a cached pointer never outlives its container.
 */
#include "run/enrich.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "run/pipeline.h"
#include "base/buf.h"
#include "base/time.h"
#include "bpf/layout.h"
#include "cri/collection.h"
#include "k8s/enrich.h"

#define GONE_BUCKETS 256

enum enrich_field {
	F_RT_CONTAINER_NAME = 0,
	F_RT_CONTAINER_ID,
	F_RT_CONTAINER_PID,
	F_RT_IMAGE_NAME,
	F_RT_RUNTIME_NAME,
	F_K8S_NAMESPACE,
	F_K8S_POD_NAME,
	F_K8S_CONTAINER_NAME,
	F_K8S_POD_LABELS,
	F_K8S_OWNER_KIND, /* only with the API caches */
	F_K8S_OWNER_NAME,
	F_COUNT_,
};

static const struct {
	const char *name;
	const char *description;
	int width;
	bool shown; /* in the default columns */
		    /* widths fit the upper-case name: the header is cut like any cell */
} fields[F_COUNT_] = {
	[F_RT_CONTAINER_NAME] = {"runtime.containerName", "Container name (runtime)", 21, false},
	[F_RT_CONTAINER_ID] = {"runtime.containerId", "Container id", 19, false},
	[F_RT_CONTAINER_PID] = {"runtime.containerPid", "PID of the container's first process", 8,
				false},
	[F_RT_IMAGE_NAME] = {"runtime.containerImageName", "Container image", 26, false},
	[F_RT_RUNTIME_NAME] = {"runtime.runtimeName", "Container runtime", 19, false},
	[F_K8S_NAMESPACE] = {"k8s.namespace", "Kubernetes namespace of the pod", 16, true},
	[F_K8S_POD_NAME] = {"k8s.podName", "Pod name", 20, true},
	[F_K8S_CONTAINER_NAME] = {"k8s.containerName", "Container name in the pod", 18, true},
	[F_K8S_POD_LABELS] = {"k8s.podLabels", "Pod labels, k=v,k2=v2", 24, false},
	[F_K8S_OWNER_KIND] =
		{"k8s.owner.kind",
		 "Kind of the pod's owner: Deployment, StatefulSet, DaemonSet, CronJob, "
		 "...",
		 14, false},
	[F_K8S_OWNER_NAME] = {"k8s.owner.name", "Name of the pod's owner", 20, false},
};

struct enrich_gone {
	struct cri_container c; /* strings owned here */
	uint64_t expires_ms;
	struct enrich_gone *chain;	 /* same bucket */
	struct enrich_gone *prev, *next; /* FIFO, oldest first */
};

struct enrich_col {
	struct run_enrich *e;
	const struct run_pipeline *p;
	struct k8s_enrich *k8s; /* NULL: the runtime's view only */
	uint32_t off;
	enum enrich_field field;
	struct enrich_col *next;
};

struct run_enrich {
	struct cri_collection *coll;
	int sub;
	struct enrich_gone *buckets[GONE_BUCKETS];
	struct enrich_gone *oldest, *newest;
	size_t n_gone;
	struct enrich_col *cols;

	bool cached;
	uint64_t cache_mntns;
	const struct cri_container *cache;

	/*
	 * The API's pod of the record being formatted: one lookup per record
	 * (run_pipeline_epoch()) for all the columns that need it, held
	 * until the next record so its strings stay valid.
	 */
	uint64_t pod_epoch;
	struct k8s_cache_obj *pod;
};

static size_t bucket_of(uint64_t mntns)
{
	mntns ^= mntns >> 33;
	mntns *= 0xff51afd7ed558ccdull;
	mntns ^= mntns >> 33;
	return (size_t)(mntns % GONE_BUCKETS);
}

static void gone_free(struct enrich_gone *g)
{
	size_t i;

	if (!g)
		return;
	free((char *)g->c.id);
	free((char *)g->c.name);
	free((char *)g->c.pod_name);
	free((char *)g->c.pod_namespace);
	free((char *)g->c.runtime);
	free((char *)g->c.image_name);
	for (i = 0; i < g->c.n_pod_labels; i++) {
		free((char *)g->c.pod_labels[i].key);
		free((char *)g->c.pod_labels[i].value);
	}
	free((void *)g->c.pod_labels);
	free(g);
}

/* The fields the columns show; the rest stay empty. */
static struct enrich_gone *gone_copy(const struct cri_container *c)
{
	struct enrich_gone *g = calloc(1, sizeof(*g));
	struct cri_label *labels = NULL;
	size_t i;

	if (!g)
		return NULL;
	g->c.id = strdup(c->id);
	g->c.name = strdup(c->name);
	g->c.pod_name = strdup(c->pod_name);
	g->c.pod_namespace = strdup(c->pod_namespace);
	g->c.runtime = strdup(c->runtime);
	g->c.image_name = strdup(c->image_name);
	g->c.pod_id = g->c.pod_uid = g->c.image_digest = "";
	g->c.pid = c->pid;
	g->c.mntns = c->mntns;
	if (c->n_pod_labels) {
		labels = calloc(c->n_pod_labels, sizeof(*labels));
		g->c.pod_labels = labels;
	}
	for (i = 0; labels && i < c->n_pod_labels; i++) {
		labels[i].key = strdup(c->pod_labels[i].key);
		labels[i].value = strdup(c->pod_labels[i].value);
		g->c.n_pod_labels = i + 1;
		if (!labels[i].key || !labels[i].value)
			break;
	}
	if (!g->c.id || !g->c.name || !g->c.pod_name || !g->c.pod_namespace || !g->c.runtime ||
	    !g->c.image_name || (c->n_pod_labels && (!labels || i < c->n_pod_labels))) {
		gone_free(g);
		return NULL;
	}
	return g;
}

static void gone_unlink(struct run_enrich *e, struct enrich_gone *g)
{
	struct enrich_gone **pp;

	for (pp = &e->buckets[bucket_of(g->c.mntns)]; *pp; pp = &(*pp)->chain)
		if (*pp == g) {
			*pp = g->chain;
			break;
		}
	if (g->prev)
		g->prev->next = g->next;
	else
		e->oldest = g->next;
	if (g->next)
		g->next->prev = g->prev;
	else
		e->newest = g->prev;
	e->n_gone--;
	gone_free(g);
}

static struct enrich_gone *gone_find(const struct run_enrich *e, uint64_t mntns)
{
	struct enrich_gone *g;

	for (g = e->buckets[bucket_of(mntns)]; g; g = g->chain)
		if (g->c.mntns == mntns)
			return g;
	return NULL;
}

static void on_event(void *userdata, enum cri_collection_event ev, const struct cri_container *c)
{
	struct run_enrich *e = userdata;
	struct enrich_gone *g;
	size_t b;

	e->cached = false;
	/* a namespace id seen again belongs to the new container from now on */
	g = gone_find(e, c->mntns);
	if (g)
		gone_unlink(e, g);
	if (ev != CRI_COLLECTION_REMOVED)
		return;
	if (e->n_gone == RUN_ENRICH_MAX_GONE)
		gone_unlink(e, e->oldest);
	g = gone_copy(c);
	if (!g)
		return; /* out of memory: its late records go unnamed */
	g->expires_ms = base_time_mono_ms() + RUN_ENRICH_GRACE_MS;
	b = bucket_of(c->mntns);
	g->chain = e->buckets[b];
	e->buckets[b] = g;
	g->prev = e->newest;
	if (e->newest)
		e->newest->next = g;
	else
		e->oldest = g;
	e->newest = g;
	e->n_gone++;
}

int run_enrich_new(struct cri_collection *coll, struct run_enrich **ret)
{
	struct run_enrich *e;

	if (!ret)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->coll = coll;
	e->sub = -1;
	if (coll) {
		e->sub = cri_collection_subscribe(coll, on_event, e);
		if (e->sub < 0) {
			int err = e->sub;

			free(e);
			return err;
		}
	}
	*ret = e;
	return 0;
}

struct run_enrich *run_enrich_free(struct run_enrich *e)
{
	struct enrich_col *col, *next;

	if (!e)
		return NULL;
	if (e->coll && e->sub >= 0)
		cri_collection_unsubscribe(e->coll, e->sub);
	while (e->oldest)
		gone_unlink(e, e->oldest);
	for (col = e->cols; col; col = next) {
		next = col->next;
		free(col);
	}
	k8s_cache_obj_unref(e->pod);
	free(e);
	return NULL;
}

int run_enrich_mntns_offset(const struct bpf_layout *l, uint32_t *ret)
{
	size_t i;

	if (!l)
		return -EINVAL;
	for (i = 0; i < l->n_fields; i++) {
		const struct bpf_layout_field *f = &l->fields[i];

		if (f->special == BPF_LAYOUT_SPECIAL_MNTNS_ID && f->size == sizeof(uint64_t) &&
		    !f->bit_size) {
			*ret = f->offset;
			return 0;
		}
	}
	return -ENOENT;
}

const struct cri_container *run_enrich_lookup(struct run_enrich *e, uint64_t mntns)
{
	const struct cri_container *c;
	struct enrich_gone *g;

	if (!e || !e->coll)
		return NULL;
	if (e->cached && e->cache_mntns == mntns)
		return e->cache;
	c = cri_collection_find_by_mntns(e->coll, mntns);
	if (!c && e->n_gone) {
		g = gone_find(e, mntns);
		c = g ? &g->c : NULL;
	}
	e->cached = true;
	e->cache_mntns = mntns;
	e->cache = c;
	return c;
}

void run_enrich_expire(struct run_enrich *e)
{
	uint64_t now;

	if (!e || !e->oldest)
		return;
	now = base_time_mono_ms();
	while (e->oldest && e->oldest->expires_ms <= now) {
		gone_unlink(e, e->oldest);
		e->cached = false;
	}
}

/*
 * "k=v,k2=v2".  Plain appends: this runs for every record of a container,
 * and going through printf made it most of what enriching a record cost.
 */
static int put_labels(struct base_buf *out, const struct cri_container *c)
{
	size_t i;
	int r = 0;

	for (i = 0; i < c->n_pod_labels && r >= 0; i++) {
		if (i)
			r = base_buf_putc(out, ',');
		if (r >= 0)
			r = base_buf_puts(out, c->pod_labels[i].key);
		if (r >= 0)
			r = base_buf_putc(out, '=');
		if (r >= 0)
			r = base_buf_puts(out, c->pod_labels[i].value);
	}
	return r < 0 ? r : 0;
}

/* The pod of container c in the API caches, or NULL. */
static const struct k8s_cache_obj *api_pod(const struct enrich_col *col,
					   const struct cri_container *c)
{
	struct run_enrich *e = col->e;
	uint64_t epoch = run_pipeline_epoch(col->p);

	if (e->pod_epoch == epoch)
		return e->pod;
	e->pod = k8s_cache_obj_unref(e->pod);
	e->pod = k8s_enrich_container_pod(col->k8s, c->id, c->pod_namespace, c->pod_name);
	e->pod_epoch = epoch;
	return e->pod;
}

static int col_text(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	const struct enrich_col *col = ctx;
	const struct k8s_cache_obj *pod = NULL;
	const struct cri_container *c;
	const char *s = NULL;
	uint64_t mntns;
	int r;

	if ((size_t)col->off + sizeof(mntns) > size)
		return 0;
	memcpy(&mntns, (const char *)rec + col->off, sizeof(mntns));
	c = run_enrich_lookup(col->e, mntns);
	if (!c) /* the host: empty text, and no number (null in JSON) */
		return col->field == F_RT_CONTAINER_PID ? 1 : 0;
	switch (col->field) {
	case F_RT_CONTAINER_NAME:
	case F_K8S_CONTAINER_NAME:
		s = c->name;
		break;
	case F_RT_CONTAINER_ID:
		s = c->id;
		break;
	case F_RT_CONTAINER_PID:
		r = base_buf_put_u64(out, c->pid);
		return r < 0 ? r : 0;
	case F_RT_IMAGE_NAME:
		s = c->image_name;
		break;
	case F_RT_RUNTIME_NAME:
		s = c->runtime;
		break;
	case F_K8S_NAMESPACE:
		s = c->pod_namespace;
		break;
	case F_K8S_POD_NAME:
		s = c->pod_name;
		break;
	case F_K8S_POD_LABELS:
		pod = col->k8s ? api_pod(col, c) : NULL;
		if (!pod)
			return put_labels(out, c);
		s = pod->labels;
		break;
	case F_K8S_OWNER_KIND:
	case F_K8S_OWNER_NAME:
		pod = col->k8s ? api_pod(col, c) : NULL;
		if (pod)
			s = col->field == F_K8S_OWNER_KIND ? pod->owner_kind : pod->owner_name;
		break;
	case F_COUNT_:
		break;
	}
	if (!s || !*s)
		return 0;
	r = base_buf_puts(out, s);
	return r < 0 ? r : 0;
}

int run_enrich_add_columns(struct run_enrich *e, struct run_pipeline *p, const struct bpf_layout *l,
			   bool show, struct k8s_enrich *k8s)
{
	uint32_t off;
	size_t i;
	int r;

	if (!e || !p || !l)
		return -EINVAL;
	r = run_enrich_mntns_offset(l, &off);
	if (r)
		return r;
	for (i = 0; i < F_COUNT_; i++) {
		if (!k8s && (i == F_K8S_OWNER_KIND || i == F_K8S_OWNER_NAME))
			continue;
		struct enrich_col *col = calloc(1, sizeof(*col));
		struct run_column_def def = {
			.name = fields[i].name,
			.description = fields[i].description,
			.hidden_columns = !(show && fields[i].shown),
			.width = fields[i].width,
			.number = i == F_RT_CONTAINER_PID,
			.text = col_text,
			.source = RUN_COLUMN_SOURCE_CONTAINER,
			.ctx = col,
		};

		if (!col)
			return -ENOMEM;
		col->e = e;
		col->p = p;
		col->k8s = k8s;
		col->off = off;
		col->field = (enum enrich_field)i;
		col->next = e->cols;
		e->cols = col;
		r = run_pipeline_add_column(p, &def);
		if (r < 0)
			return r;
	}
	return 0;
}

static int endpoint_lookup(void *ctx, const char *ip, struct run_endpoint_k8s *ret)
{
	struct k8s_cache_obj *o = k8s_enrich_ip(ctx, ip);

	if (!o)
		return 1;
	ret->kind = k8s_enrich_kind_name(o->kind);
	ret->name = o->name;
	ret->namespace = o->namespace;
	ret->ref = o;
	return 0;
}

static void endpoint_release(void *ctx, void *ref)
{
	k8s_cache_obj_unref(ref);
}

int run_enrich_add_endpoint_columns(struct run_pipeline *p, struct k8s_enrich *k8s)
{
	struct run_endpoint_resolver res = {
		.lookup = endpoint_lookup,
		.release = endpoint_release,
		.ctx = k8s,
	};

	if (!p || !k8s)
		return -EINVAL;
	return run_pipeline_add_endpoint_k8s(p, &res);
}
