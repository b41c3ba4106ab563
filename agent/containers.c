// SPDX-License-Identifier: Apache-2.0
/*
 * The containers of the agent's node.  See containers.h.
 *
 * The ContainerList is built in two passes over the collection: one counts
 * the matching containers and their labels, the other fills arrays of
 * exactly that size, so a node with many pods costs four allocations.
 */
#include "agent/containers.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config.h"
#include "base/log.h"
#include "cri/collection.h"
#include "run/enrich.h"
#include "run/selector.h"

struct agent_containers {
	struct agent_containers_opts o;
	struct cri_collection_runtime rts[AGENT_CONFIG_MAX_RUNTIMES];
	char *rt_paths[AGENT_CONFIG_MAX_RUNTIMES];
	bool rt_warned[AGENT_CONFIG_MAX_RUNTIMES];
	size_t n_rts;
	struct cri_collection *coll;
	struct run_enrich *enrich0; /* before a runtime answered */
	struct run_enrich *enrich;
};

static char *cstr(const char *s)
{
	return (char *)(s ? s : "");
}

static char *path_join(const char *root, const char *path)
{
	char *p;

	if (asprintf(&p, "%s%s", root, path) < 0)
		return NULL;
	return p;
}

int agent_containers_new(const struct agent_containers_opts *opts, struct agent_containers **ret)
{
	struct agent_containers *c = calloc(1, sizeof(*c));
	size_t i;
	int rc;

	if (!c)
		return -ENOMEM;
	c->o = *opts;
	for (i = 0; i < opts->n_runtimes && i < CRI_COLLECTION_MAX_RUNTIMES; i++) {
		c->rt_paths[i] = path_join(opts->host_root, opts->runtimes[i].socket_path);
		if (!c->rt_paths[i]) {
			agent_containers_free(c);
			return -ENOMEM;
		}
		c->rts[i].name = opts->runtimes[i].name;
		c->rts[i].socket_path = c->rt_paths[i];
		c->n_rts = i + 1;
	}
	/* no runtime yet: fields still come out, empty, as they will with one */
	rc = run_enrich_new(NULL, &c->enrich0);
	if (rc < 0) {
		agent_containers_free(c);
		return rc;
	}
	*ret = c;
	return 0;
}

struct agent_containers *agent_containers_free(struct agent_containers *c)
{
	size_t i;

	if (!c)
		return NULL;
	c->enrich = run_enrich_free(c->enrich);
	c->enrich0 = run_enrich_free(c->enrich0);
	c->coll = cri_collection_free(c->coll);
	for (i = 0; i < c->n_rts; i++)
		free(c->rt_paths[i]);
	free(c);
	return NULL;
}

void agent_containers_tried(const struct agent_containers *c, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < c->n_rts && off < len; i++) {
		int w = snprintf(buf + off, len - off, "%s%s at %s", i ? ", " : "", c->rts[i].name,
				 c->rts[i].socket_path);

		if (w < 0)
			break;
		off += (size_t)w;
	}
}

int agent_containers_try(struct agent_containers *c)
{
	struct cri_collection_opts o = {
		.runtimes = c->rts,
		.n_runtimes = c->n_rts,
		.host_root = c->o.host_root,
		.timeout_ms = c->o.timeout_ms,
	};
	const char *names[CRI_COLLECTION_MAX_RUNTIMES];
	size_t i, n;
	bool any = false;
	int rc;

	if (c->coll)
		return 0;
	for (i = 0; i < c->n_rts; i++) {
		if (access(c->rts[i].socket_path, F_OK) == 0) {
			any = true;
			continue;
		}
		if (!c->rt_warned[i])
			base_log_warn("agent: runtime %s: no socket at %s; trying again every %d s",
				      c->rts[i].name, c->rts[i].socket_path,
				      (int)(c->o.retry_ms / 1000));
		c->rt_warned[i] = true;
	}
	/* without any socket, do not start gRPC only to learn that */
	if (!any)
		return 0;
	rc = cri_collection_new(&o, &c->coll);
	if (rc < 0) {
		char tried[512];

		agent_containers_tried(c, tried, sizeof(tried));
		base_log_warn("agent: no container runtime answers (tried %s): %s", tried,
			      strerror(-rc));
		c->coll = NULL;
		return 0;
	}
	rc = run_enrich_new(c->coll, &c->enrich);
	if (rc == 0)
		rc = c->o.watch(c->o.ctx, cri_collection_fd(c->coll));
	if (rc < 0) {
		base_log_error("agent: container collection: %s", strerror(-rc));
		c->enrich = run_enrich_free(c->enrich);
		c->coll = cri_collection_free(c->coll);
		return 0;
	}
	n = cri_collection_runtimes(c->coll, names, CRI_COLLECTION_MAX_RUNTIMES);
	for (i = 0; i < n; i++)
		base_log_info("agent: container runtime %s answers (%zu containers)", names[i],
			      cri_collection_count(c->coll));
	return 1;
}

void agent_containers_process(struct agent_containers *c)
{
	cri_collection_process(c->coll);
	run_enrich_expire(c->enrich);
}

void agent_containers_expire(struct agent_containers *c)
{
	if (c->coll)
		run_enrich_expire(c->enrich);
}

struct cri_collection *agent_containers_collection(const struct agent_containers *c)
{
	return c->coll;
}

struct run_enrich *agent_containers_enrich(const struct agent_containers *c)
{
	return c->enrich ? c->enrich : c->enrich0;
}

/* ------------------------------------------------------------ ListContainers */

struct list_ctx {
	struct agent_containers_list *l;
	const struct run_selector *sel;
	size_t n, max, n_kv, max_kv;
	const char *node;
};

static void labels_to_kv(struct list_ctx *c, const struct cri_label *l, size_t n,
			 Gadget__Agent__V1__KeyValue ***ret, size_t *ret_n)
{
	size_t i;

	*ret = &c->l->pkv[c->n_kv];
	*ret_n = 0;
	for (i = 0; i < n && c->n_kv < c->max_kv; i++) {
		Gadget__Agent__V1__KeyValue *kv = &c->l->kv[c->n_kv];

		gadget__agent__v1__key_value__init(kv);
		kv->key = (char *)l[i].key;
		kv->value = (char *)l[i].value;
		c->l->pkv[c->n_kv++] = kv;
		(*ret_n)++;
	}
}

static int containers_count(void *userdata, const struct cri_container *ct)
{
	struct list_ctx *c = userdata;

	if (run_selector_match(c->sel, ct)) {
		c->max++;
		c->max_kv += ct->n_pod_labels + ct->n_labels;
	}
	return 0;
}

static int containers_fill(void *userdata, const struct cri_container *ct)
{
	struct list_ctx *c = userdata;
	Gadget__Agent__V1__Container *o;

	if (c->n == c->max || !run_selector_match(c->sel, ct))
		return 0;
	o = &c->l->v[c->n];
	gadget__agent__v1__container__init(o);
	c->l->pv[c->n++] = o;
	o->id = cstr(ct->id);
	o->name = cstr(ct->name);
	o->pod_id = cstr(ct->pod_id);
	o->pod_name = cstr(ct->pod_name);
	o->pod_namespace = cstr(ct->pod_namespace);
	o->pod_uid = cstr(ct->pod_uid);
	o->runtime = cstr(ct->runtime);
	o->image_name = cstr(ct->image_name);
	o->image_digest = cstr(ct->image_digest);
	labels_to_kv(c, ct->pod_labels, ct->n_pod_labels, &o->pod_labels, &o->n_pod_labels);
	labels_to_kv(c, ct->labels, ct->n_labels, &o->labels, &o->n_labels);
	o->pid = ct->pid;
	o->mntns = ct->mntns;
	o->netns = ct->netns;
	o->cgroup_id = ct->cgroup_id;
	o->started_unix_ns = ct->started_at;
	o->host_network = ct->host_network;
	o->running = ct->running;
	o->node = (char *)c->node;
	return 0;
}

int agent_containers_list_init(struct agent_containers_list *l, struct cri_collection *coll,
			       const struct run_selector *sel, const char *node)
{
	struct list_ctx c = {.l = l, .sel = sel, .node = node};

	memset(l, 0, sizeof(*l));
	gadget__agent__v1__container_list__init(&l->cl);
	cri_collection_foreach(coll, containers_count, &c);
	l->v = calloc(c.max ? c.max : 1, sizeof(*l->v));
	l->pv = calloc(c.max ? c.max : 1, sizeof(*l->pv));
	l->kv = calloc(c.max_kv ? c.max_kv : 1, sizeof(*l->kv));
	l->pkv = calloc(c.max_kv ? c.max_kv : 1, sizeof(*l->pkv));
	if (!l->v || !l->pv || !l->kv || !l->pkv)
		return -ENOMEM;
	cri_collection_foreach(coll, containers_fill, &c);
	l->cl.containers = l->pv;
	l->cl.n_containers = c.n;
	return 0;
}

void agent_containers_list_done(struct agent_containers_list *l)
{
	free(l->v);
	free(l->pv);
	free(l->kv);
	free(l->pkv);
	memset(l, 0, sizeof(*l));
}
