// SPDX-License-Identifier: Apache-2.0
/*
 * Finding the agents and connecting to them through pods/portforward; see
 * agents.h.
 */
#include "cli/kubectl-gadget/agents.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "k8s/client.h"
#include "k8s/config.h"
#include "k8s/portforward.h"
#include "cli/kubectl-gadget/instance_cm.h"

/* ---- finding the agent pods ---- */

struct find_ctx {
	struct client_agents *as;
	const char *const *nodes;
	size_t n_nodes;
	bool too_many;
};

static bool wanted(const struct find_ctx *f, const char *node)
{
	size_t i;

	if (!f->n_nodes)
		return true;
	for (i = 0; i < f->n_nodes; i++)
		if (!strcmp(f->nodes[i], node))
			return true;
	return false;
}

static void agent_free_fields(struct client_agent *a)
{
	client_agent_close(a);
	free(a->pod);
	free(a->node);
	free(a->where);
	free(a->phase);
	free(a->agent_version);
	memset(a, 0, sizeof(*a));
	a->fd = -1;
}

static int find_item(void *userdata, json_t *pod)
{
	struct find_ctx *f = userdata;
	json_t *md = json_object_get(pod, "metadata");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *node =
		json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
	const char *phase =
		json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
	bool running = phase && !strcmp(phase, "Running");
	struct client_agent *a = NULL;
	size_t i;

	/* a pod on its way out (rolling update) is not the node's agent */
	if (!name || json_object_get(md, "deletionTimestamp"))
		return 0;
	if (!node || !*node)
		node = name;
	if (!wanted(f, node))
		return 0;
	for (i = 0; i < f->as->n; i++) {
		if (strcmp(f->as->v[i].node, node))
			continue;
		if (f->as->v[i].running || !running)
			return 0;
		a = &f->as->v[i];
		agent_free_fields(a);
		break;
	}
	if (!a) {
		if (f->as->n == CLIENT_MAX_AGENTS) {
			f->too_many = true;
			return 0;
		}
		a = &f->as->v[f->as->n++];
	}
	a->fd = -1;
	a->pod = strdup(name);
	a->node = strdup(node);
	a->phase = strdup(phase ? phase : "Unknown");
	a->running = running;
	if (asprintf(&a->where, "pod %s", name) < 0)
		a->where = NULL;
	if (!a->pod || !a->node || !a->phase || !a->where)
		return -ENOMEM;
	return 0;
}

static int cmp_agent(const void *x, const void *y)
{
	return strcmp(((const struct client_agent *)x)->node,
		      ((const struct client_agent *)y)->node);
}

int kg_agents_find(struct kg_global *g, const char *const *nodes, size_t n_nodes,
		   struct client_agents *ret)
{
	struct k8s_client_list_opts lo = {.label_selector = KG_AGENT_LABEL};
	struct client_agents as = {0};
	struct find_ctx f = {.as = &as, .nodes = nodes, .n_nodes = n_nodes};
	char path[K8S_CLIENT_MAX_URL], err[KG_ERRLEN] = "";
	size_t i, j;
	int r;

	if (kg_connect(g) < 0)
		return -ENOTCONN;
	if (client_agents_alloc(&as, CLIENT_MAX_AGENTS) < 0)
		return -ENOMEM;
	as.n = 0;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", g->gadget_namespace);
	r = k8s_client_list(g->client, path, &lo, find_item, &f, NULL, err, sizeof(err));
	if (r < 0) {
		if (r == -ENOMEM)
			kg_error("out of memory");
		else
			kg_api_error(g, r, err);
		client_agents_done(&as);
		return r;
	}
	if (f.too_many)
		kg_warn("more than %d agents: only the first %d are used", CLIENT_MAX_AGENTS,
			CLIENT_MAX_AGENTS);
	for (i = 0; i < n_nodes; i++) {
		for (j = 0; j < as.n && strcmp(as.v[j].node, nodes[i]); j++)
			;
		if (j == as.n) {
			kg_error("no gadget agent on node '%s' (agent pods are labelled %s in "
				 "namespace %s)",
				 nodes[i], KG_AGENT_LABEL, g->gadget_namespace);
			client_agents_done(&as);
			return -ENOENT;
		}
	}
	if (!as.n) {
		kg_error("no gadget agent found: no pod labelled %s in namespace %s (install the "
			 "agents with 'kubectl gadget deploy')",
			 KG_AGENT_LABEL, g->gadget_namespace);
		client_agents_done(&as);
		return -ENOENT;
	}
	qsort(as.v, as.n, sizeof(*as.v), cmp_agent);
	*ret = as;
	return 0;
}

/* ---- connecting ---- */

struct connect_ctx {
	struct kg_global *g;
	struct client_agents *as;
	atomic_size_t next;
	struct k8s_config_creds creds;
	const char *ca;
	size_t ca_len;
	/* --as, --as-group, --as-uid: the same headers as the API requests carry */
	struct k8s_portforward_header hdrs[K8S_PORTFORWARD_MAX_HEADERS];
	size_t n_hdrs;
};

static void pf_free(void *pf)
{
	k8s_portforward_free(pf);
}

static const char *pf_why(void *pf)
{
	return k8s_portforward_errmsg(pf);
}

static void connect_one(struct connect_ctx *c, struct client_agent *a)
{
	char err[K8S_PORTFORWARD_MAX_ERRMSG + 64] = "";
	struct k8s_portforward_opts o = {
		.server = k8s_config_server(c->g->cfg),
		.ca_pem = c->ca,
		.ca_pem_len = c->ca_len,
		.token = c->creds.token,
		.client_cert_pem = c->creds.cert,
		.client_key_pem = c->creds.key,
		.insecure_skip_tls_verify = k8s_config_insecure(c->g->cfg),
		.headers = c->hdrs,
		.n_headers = c->n_hdrs,
		.proxy = k8s_config_proxy(c->g->cfg),
		.namespace_ = c->g->gadget_namespace,
		.pod = a->pod,
		.port = KG_AGENT_PORT,
		.connect_timeout_ms = CLIENT_CONNECT_TIMEOUT_MS,
		.err = err,
		.err_size = sizeof(err),
	};
	struct k8s_portforward *pf = NULL;
	int fd, r;

	if (!a->running) {
		client_agent_fail(a, -EAGAIN, "agent pod %s is not running (%s)", a->pod, a->phase);
		return;
	}
	r = k8s_portforward_open(&o, &fd, &pf);
	if (r < 0) {
		client_agent_fail(a, r, "cannot reach the agent (pod %s): %s", a->pod,
				  err[0] ? err : strerror(-r));
		return;
	}
	/* the forward owns fd */
	client_agent_hello(a, fd, pf, pf_free, pf_why, KG_NAME " " IG_VERSION);
}

static void *connect_worker(void *arg)
{
	struct connect_ctx *c = arg;
	size_t i;

	while ((i = atomic_fetch_add(&c->next, 1)) < c->as->n)
		connect_one(c, &c->as->v[i]);
	return NULL;
}

int kg_agents_connect(struct kg_global *g, struct client_agents *as)
{
	struct connect_ctx c = {.g = g, .as = as};
	pthread_t th[KG_CONNECT_THREADS];
	size_t i, n_threads = as->n < KG_CONNECT_THREADS ? as->n : KG_CONNECT_THREADS;
	size_t started = 0, n_groups;
	const char *const *groups;
	char err[KG_ERRLEN] = "";
	int connected = 0, r;

	/* the plugin, if any, ran for the list of agents: this is its cached answer */
	r = k8s_config_creds(g->cfg, &c.creds, err, sizeof(err));
	if (r < 0) {
		for (i = 0; i < as->n; i++)
			client_agent_fail(&as->v[i], r, "%s", err[0] ? err : strerror(-r));
		return 0;
	}
	c.ca = k8s_config_ca(g->cfg, &c.ca_len);
	if (k8s_config_as_user(g->cfg))
		c.hdrs[c.n_hdrs++] = (struct k8s_portforward_header){"Impersonate-User",
								     k8s_config_as_user(g->cfg)};
	groups = k8s_config_as_groups(g->cfg, &n_groups);
	for (i = 0; i < n_groups && c.n_hdrs + 1 < K8S_PORTFORWARD_MAX_HEADERS; i++)
		c.hdrs[c.n_hdrs++] =
			(struct k8s_portforward_header){"Impersonate-Group", groups[i]};
	if (k8s_config_as_uid(g->cfg))
		c.hdrs[c.n_hdrs++] = (struct k8s_portforward_header){"Impersonate-Uid",
								     k8s_config_as_uid(g->cfg)};
	for (i = 1; i < n_threads; i++) {
		if (pthread_create(&th[started], NULL, connect_worker, &c))
			break;
		started++;
	}
	/* this thread works too: with one agent no thread is started */
	connect_worker(&c);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	k8s_config_creds_done(&c.creds);
	for (i = 0; i < as->n; i++)
		connected += client_agent_connected(&as->v[i]);
	return connected;
}

/* ---- the client front end ---- */

static int kg_front_connect(void *ctx, const char *const *nodes, size_t n_nodes, bool quiet,
			    struct client_agents *ret)
{
	struct kg_global *g = ctx;
	size_t i;

	if (kg_agents_find(g, nodes, n_nodes, ret) < 0)
		return -ENOENT;
	if (kg_agents_connect(g, ret) == 0) {
		for (i = 0; i < ret->n; i++)
			client_agent_report(&ret->v[i]);
		kg_error("no gadget agent could be reached");
		client_agents_done(ret);
		return -ENOTCONN;
	}
	for (i = 0; !quiet && i < ret->n; i++)
		client_agent_report(&ret->v[i]);
	return 1;
}

static const char *kg_front_namespace(void *ctx)
{
	return kg_namespace(ctx);
}

static int kg_front_create(void *ctx, const Gadget__Agent__V1__InstanceSpec *spec)
{
	struct kg_global *g = ctx;

	if (kg_connect(g) < 0)
		return KG_EXIT_ERROR;
	return kg_instance_cm_create(g, spec);
}

static int kg_front_delete(void *ctx, const char *name_or_id)
{
	struct kg_global *g = ctx;

	if (kg_connect(g) < 0)
		return KG_EXIT_ERROR;
	return kg_instance_cm_delete(g, name_or_id);
}

/*
 * Whether to ask the agents for zstd-compressed record batches (they
 * compress only batches where it pays).  It pays on the port-forward path:
 * bench/cluster.py, trace_open at 100k records/s from one node, CPU per
 * record with / without: the agent 0.50 / 0.35 us, the API server's relay
 * 0.34 / 0.67 us, kubectl gadget 2.59 / 4.28 us (libwebsockets handles every
 * byte: 5.7 bytes a record on the wire against 138), 3.4 / 5.3 us in all;
 * both held the rate without loss.  See docs/benchmarks.md.
 */
#define KG_COMPRESS_RECORDS true
/* The benchmark's way to ask otherwise (bench/cluster.py); not for users. */
#define KG_BENCH_COMPRESS_ENV "KG_BENCH_COMPRESS"

/* KG_COMPRESS_RECORDS, unless the benchmark set KG_BENCH_COMPRESS to 0 or 1. */
static bool compress_records(void)
{
	const char *e = getenv(KG_BENCH_COMPRESS_ENV);

	if (e && (!strcmp(e, "0") || !strcmp(e, "1")))
		return *e == '1';
	return KG_COMPRESS_RECORDS;
}

struct client_front kg_front(struct kg_global *g)
{
	return (struct client_front){
		.prog = KG_NAME,
		.cmd = "kubectl gadget",
		.cluster = true,
		.connect = kg_front_connect,
		.namespace_ = kg_front_namespace,
		/* records cross the API server and the kubelet: compression pays */
		.compress = compress_records(),
		.create_instance = kg_front_create,
		.delete_instance = kg_front_delete,
		.ctx = g,
	};
}
