// SPDX-License-Identifier: Apache-2.0
/*
 * kubectl gadget deploy / undeploy: install and remove the gadget agents.
 *
 * deploy applies the manifests built into the plugin (the files of deploy/, see
 * manifests.h) with server-side apply (PATCH application/apply-patch+yaml,
 * fieldManager kubectl-gadget, force), which creates what is missing and
 * updates what exists in one request per object, and then watches the
 * DaemonSet until every scheduled agent is ready and up to date.
 *
 * undeploy deletes the same objects in reverse order, the namespace last
 * (which takes every detached instance ConfigMap with it), and waits until
 * the agent pods and the namespace are gone.
 */
#include "cli/kubectl-gadget/kg.h"

#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/yaml_emit.h"
#include "cli/kubectl-gadget/manifests.h"
#include "cli/kubectl-gadget/policy.h"
#include "cli/kubectl-gadget/nodesel.h"
#include "cli/kubectl-gadget/yaml.h"
#include "k8s/client.h"
#include "k8s/watch.h"

#define DEPLOY_FIELD_MANAGER	    "kubectl-gadget"
#define DEPLOY_DEFAULT_TIMEOUT	    "2m"
#define DEPLOY_APPLY_CONTENT_TYPE   "application/apply-patch+yaml"
#define DEPLOY_POLL_MS		    500
#define DEPLOY_MAX_LISTED_NOT_READY 10

/* The kinds deploy/ holds, and where the API serves them. */
struct deploy_kind {
	const char *api_version;
	const char *kind;
	const char *plural;
	bool namespaced;
};

static const struct deploy_kind deploy_kinds[] = {
	{"v1", "Namespace", "namespaces", false},
	{"v1", "ServiceAccount", "serviceaccounts", true},
	{"v1", "ConfigMap", "configmaps", true},
	{"v1", "Service", "services", true},
	{"v1", "Secret", "secrets", true},
	{"rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", false},
	{"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", false},
	{"rbac.authorization.k8s.io/v1", "Role", "roles", true},
	{"rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", true},
	{"apps/v1", "DaemonSet", "daemonsets", true},
};

static const struct deploy_kind *find_kind(const json_t *obj)
{
	const char *av = json_string_value(json_object_get(obj, "apiVersion"));
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	size_t i;

	for (i = 0; av && kind && i < sizeof(deploy_kinds) / sizeof(deploy_kinds[0]); i++)
		if (!strcmp(deploy_kinds[i].api_version, av) && !strcmp(deploy_kinds[i].kind, kind))
			return &deploy_kinds[i];
	return NULL;
}

static const char *obj_name(const json_t *obj)
{
	const char *n =
		json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));

	return n ? n : "";
}

/* "/apis/apps/v1/namespaces/gadget/daemonsets/gadget" */
static int object_path(const struct deploy_kind *k, const json_t *obj, char *path, size_t size)
{
	const char *ns =
		json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
	const char *prefix = strchr(k->api_version, '/') ? "/apis/" : "/api/";
	int n;

	if (k->namespaced)
		n = snprintf(path, size, "%s%s/namespaces/%s/%s/%s", prefix, k->api_version,
			     ns ? ns : "", k->plural, obj_name(obj));
	else
		n = snprintf(path, size, "%s%s/%s/%s", prefix, k->api_version, k->plural,
			     obj_name(obj));
	return n < 0 || (size_t)n >= size ? -E2BIG : 0;
}

static void lower(const char *s, char *out, size_t size)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < size; i++)
		out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
	out[i] = '\0';
}

/* Sets key to value in every container (init ones too) of a pod template. */
static void set_in_containers(json_t *obj, const char *key, const char *value)
{
	static const char *const lists[] = {"containers", "initContainers"};
	json_t *podspec =
		json_object_get(json_object_get(json_object_get(obj, "spec"), "template"), "spec");
	size_t i, j;
	json_t *c;

	for (i = 0; podspec && i < sizeof(lists) / sizeof(lists[0]); i++)
		json_array_foreach(json_object_get(podspec, lists[i]), j, c)
			json_object_set_new(c, key, json_string(value));
}

/*
 * What deploy flags set besides the image: keys of the agent's config.yaml
 * (a JSON object merged over the embedded one, key by key at the top level)
 * and the gadget metrics port.
 */
struct deploy_settings {
	const char *image;	  /* --image */
	json_t *config;		  /* keys to set in config.yaml; owned */
	const char *metrics_port; /* --otel-metrics-listen: the port, as text */
	const char *pull_policy;  /* --image-pull-policy */
	const json_t *affinity;	  /* --node-selector, as a node affinity */
};

/* Applies settings to the config.yaml of the ConfigMap obj. */
static int set_config(json_t *obj, const struct deploy_settings *st)
{
	json_t *data = json_object_get(obj, "data"), *docs = NULL, *cfg;
	const char *text = json_string_value(json_object_get(data, "config.yaml"));
	struct base_buf b = BASE_BUF_INIT(0);
	char err[KG_ERRLEN] = "";
	int r;

	if (!st->config || !json_object_size(st->config))
		return 0;
	if (!text)
		return -EINVAL;
	r = kg_yaml_load_all(text, strlen(text), "config.yaml", &docs, err, sizeof(err));
	if (r < 0) {
		kg_error("embedded config.yaml: %s", err);
		return r;
	}
	cfg = json_array_get(docs, 0);
	r = cfg && json_is_object(cfg) ? json_object_update(cfg, st->config) : -EINVAL;
	if (r == 0)
		r = base_yaml_emit_json_doc(&b, cfg);
	if (r == 0)
		r = json_object_set_new(data, "config.yaml", json_stringn(b.data, b.len)) ? -ENOMEM
											  : 0;
	json_decref(docs);
	base_buf_done(&b);
	return r;
}

/* --otel-metrics-listen: the DaemonSet's container gets the port, and annotation scraping it. */
static void set_metrics_port(json_t *obj, const char *port)
{
	json_t *tmpl = json_object_get(json_object_get(obj, "spec"), "template");
	json_t *ann = json_object_get(json_object_get(tmpl, "metadata"), "annotations");
	json_t *c = json_array_get(json_object_get(json_object_get(tmpl, "spec"), "containers"), 0);
	json_t *ports = json_object_get(c, "ports");

	if (json_is_object(ann))
		json_object_set_new(ann, "prometheus.io/port", json_string(port));
	if (json_is_array(ports))
		json_array_append_new(ports,
				      json_pack("{s:s, s:I, s:s}", "name", "gadget-metrics",
						"containerPort", (json_int_t)strtol(port, NULL, 10),
						"protocol", "TCP"));
}

/*
 * The manifests as objects, adjusted: the agent image (--image), the
 * agent's config (--otel-metrics-listen, ...) and the gadget namespace
 * (--gadget-namespace) where it differs from the files'.
 */
static int load_objects(const struct kg_global *g, const struct deploy_settings *st, json_t **ret)
{
	/* undeploy: the objects as the files name them, nothing to adjust */
	static const struct deploy_settings none;
	const char *image;
	struct kg_manifest files[KG_MANIFESTS_MAX];
	size_t n = kg_manifests(files, KG_MANIFESTS_MAX), i, j;
	char err[KG_ERRLEN] = "";
	json_t *all = json_array(), *docs, *obj;
	const char *ns = g->gadget_namespace;
	int r;

	if (!all)
		return -ENOMEM;
	if (!st)
		st = &none;
	image = st->image;
	for (i = 0; i < n; i++) {
		r = kg_yaml_load_all(files[i].data, files[i].len, files[i].name, &docs, err,
				     sizeof(err));
		if (r < 0) {
			kg_error("embedded manifest %s", err);
			json_decref(all);
			return r;
		}
		json_array_foreach(docs, j, obj)
		{
			const struct deploy_kind *k = find_kind(obj);
			json_t *md = json_object_get(obj, "metadata");

			if (!k || !json_is_object(md) || !*obj_name(obj)) {
				kg_error("embedded manifest %s: object %zu: unsupported kind %s/%s "
					 "or no name",
					 files[i].name, j + 1,
					 json_string_value(json_object_get(obj, "apiVersion")),
					 json_string_value(json_object_get(obj, "kind")));
				json_decref(docs);
				json_decref(all);
				return -EINVAL;
			}
			if (!strcmp(k->kind, "Namespace") &&
			    !strcmp(obj_name(obj), KG_DEFAULT_GADGET_NAMESPACE))
				json_object_set_new(md, "name", json_string(ns));
			if (k->namespaced)
				json_object_set_new(md, "namespace", json_string(ns));
			if (!strcmp(k->kind, "RoleBinding") ||
			    !strcmp(k->kind, "ClusterRoleBinding")) {
				size_t s;
				json_t *sub;

				json_array_foreach(json_object_get(obj, "subjects"), s,
						   sub) if (json_object_get(sub, "namespace"))
					json_object_set_new(sub, "namespace", json_string(ns));
			}
			if (image && !strcmp(k->kind, "DaemonSet"))
				set_in_containers(obj, "image", image);
			if (st->metrics_port && !strcmp(k->kind, "DaemonSet"))
				set_metrics_port(obj, st->metrics_port);
			if (!strcmp(k->kind, "ConfigMap") &&
			    !strcmp(obj_name(obj), "gadget-config") && set_config(obj, st) < 0) {
				kg_error("cannot apply the deploy flags to config.yaml");
				json_decref(docs);
				json_decref(all);
				return -EINVAL;
			}
			if (st->pull_policy && !strcmp(k->kind, "DaemonSet"))
				set_in_containers(obj, "imagePullPolicy", st->pull_policy);
			if (st->affinity && !strcmp(k->kind, "DaemonSet"))
				json_object_set(
					json_object_get(
						json_object_get(json_object_get(obj, "spec"),
								"template"),
						"spec"),
					"affinity", (json_t *)st->affinity);
			json_array_append(all, obj);
		}
		json_decref(docs);
	}
	*ret = all;
	return 0;
}

/* ---- waiting for the DaemonSet ---- */

struct ds_wait {
	struct kg_global *g;
	int64_t deadline;
	atomic_bool cancel;
	bool ready;
	bool stale; /* the status is about an older spec */
	bool gone;
	json_int_t desired, ready_n, updated;
	char shown[128];
	struct k8s_watch_decoder *dec;
};

static json_int_t status_int(const json_t *st, const char *key)
{
	return json_integer_value(json_object_get(st, key));
}

/* Looks at a DaemonSet: ready means every scheduled agent is ready and up to date. */
static void ds_check(struct ds_wait *w, const json_t *ds)
{
	const json_t *st = json_object_get(ds, "status");
	json_int_t gen =
		json_integer_value(json_object_get(json_object_get(ds, "metadata"), "generation"));
	json_t *og = json_object_get(st, "observedGeneration");
	char line[128];

	w->desired = status_int(st, "desiredNumberScheduled");
	w->ready_n = status_int(st, "numberReady");
	w->updated = status_int(st, "updatedNumberScheduled");
	/* a status the controller wrote before it saw this spec says nothing about it */
	w->stale = og && json_integer_value(og) < gen;
	w->ready =
		w->desired > 0 && w->ready_n == w->desired && w->updated == w->desired && !w->stale;
	snprintf(line, sizeof(line), "%lld/%lld agents ready", (long long)w->ready_n,
		 (long long)w->desired);
	if (w->stale)
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
			 " (the DaemonSet controller has not seen the new spec yet)");
	else if (w->updated < w->desired)
		snprintf(line + strlen(line), sizeof(line) - strlen(line), " (%lld up to date)",
			 (long long)w->updated);
	if (strcmp(line, w->shown)) {
		fprintf(stderr, "%s\n", line);
		snprintf(w->shown, sizeof(w->shown), "%s", line);
	}
}

static int ds_event(void *userdata, enum k8s_watch_type type, json_t *object)
{
	struct ds_wait *w = userdata;

	switch (type) {
	case K8S_WATCH_ADDED:
	case K8S_WATCH_MODIFIED:
		ds_check(w, object);
		/* stop the stream at once: nothing more to wait for */
		return w->ready ? -ECANCELED : 0;
	case K8S_WATCH_DELETED:
		w->gone = true;
		return -ECANCELED;
	case K8S_WATCH_ERROR:
		/* e.g. 410 Gone: the caller gets the object again and watches anew */
		return -ESTALE;
	default:
		return 0;
	}
}

static int ds_data(void *userdata, const char *data, size_t len)
{
	struct ds_wait *w = userdata;

	return k8s_watch_decoder_feed(w->dec, data, len);
}

static void ds_poll(void *userdata)
{
	struct ds_wait *w = userdata;

	if (kg_now_ms() >= w->deadline)
		atomic_store(&w->cancel, true);
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool pod_ready(const json_t *pod)
{
	json_t *c;
	size_t i;

	json_array_foreach(
		json_object_get(json_object_get(pod, "status"), "conditions"), i,
		c) if (!strcmp(json_string_value(json_object_get(c, "type")) ?: "",
			       "Ready")) return !strcmp(json_string_value(json_object_get(c,
											  "status"))
								?: "",
							"True");
	return false;
}

struct pod_scan {
	json_t *nodes_with_pod;
	struct base_buf not_ready;
	size_t n_not_ready;
	size_t n_pods;
};

static int pod_item(void *userdata, json_t *pod)
{
	struct pod_scan *s = userdata;
	const char *node =
		json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
	const char *phase =
		json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));

	s->n_pods++;
	if (node)
		json_object_set_new(s->nodes_with_pod, node, json_true());
	if (pod_ready(pod))
		return 0;
	if (s->n_not_ready++ < DEPLOY_MAX_LISTED_NOT_READY)
		base_buf_printf(&s->not_ready, "%spod %s on %s (%s)", s->not_ready.len ? ", " : "",
				obj_name(pod), node ? node : "no node",
				phase ? phase : "no status");
	return 0;
}

static int node_item(void *userdata, json_t *node)
{
	struct pod_scan *s = userdata;

	if (!json_object_get(s->nodes_with_pod, obj_name(node)))
		json_object_set_new(s->nodes_with_pod, obj_name(node), json_false());
	return 0;
}

/* Says which agents are not ready and where none runs, as far as the API tells. */
static void explain_not_ready(struct kg_global *g, const struct ds_wait *w, const char *timeout)
{
	struct pod_scan s = {.nodes_with_pod = json_object(), .not_ready = BASE_BUF_INIT(0)};
	struct k8s_client_list_opts lo = {.label_selector = KG_AGENT_LABEL};
	struct base_buf missing = BASE_BUF_INIT(0);
	char path[K8S_CLIENT_MAX_URL], err[KG_ERRLEN];
	const char *key;
	json_t *v;
	size_t n_missing = 0;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", g->gadget_namespace);
	if (s.nodes_with_pod)
		k8s_client_list(g->client, path, &lo, pod_item, &s, NULL, err, sizeof(err));
	/* listing nodes may be forbidden to this user: then the pods say it all */
	if (s.nodes_with_pod && k8s_client_list(g->client, "/api/v1/nodes", NULL, node_item, &s,
						NULL, err, sizeof(err)) >= 0) {
		json_object_foreach(s.nodes_with_pod, key, v)
		{
			if (json_is_true(v) || n_missing++ >= DEPLOY_MAX_LISTED_NOT_READY)
				continue;
			base_buf_printf(&missing, "%s%s", missing.len ? ", " : "", key);
		}
	}
	kg_error("the agents are not ready after %s: %lld/%lld ready%s%s%s%s%s%s", timeout,
		 (long long)w->ready_n, (long long)w->desired,
		 w->stale ? " (the DaemonSet controller has not seen the new spec)" : "",
		 w->desired == 0 ? " (no node is scheduled to run an agent yet)" : "",
		 s.n_not_ready ? "; not ready: " : "", s.not_ready.data ? s.not_ready.data : "",
		 n_missing ? "; no agent pod on: " : "", missing.data ? missing.data : "");
	base_buf_done(&missing);
	base_buf_done(&s.not_ready);
	json_decref(s.nodes_with_pod);
}

static int wait_ready(struct kg_global *g, uint64_t timeout_ms, const char *timeout_text)
{
	struct ds_wait w = {.g = g, .deadline = kg_now_ms() + (int64_t)timeout_ms};
	char path[K8S_CLIENT_MAX_URL], err[KG_ERRLEN];
	int r;

	r = k8s_watch_decoder_new(0, ds_event, &w, &w.dec);
	if (r < 0)
		return r;
	for (;;) {
		struct k8s_client_stream_opts so = {
			.on_data = ds_data,
			.userdata = &w,
			.cancel = &w.cancel,
			.on_poll = ds_poll,
		};
		int64_t left = w.deadline - kg_now_ms();
		const char *rv;
		json_t *ds = NULL;
		char secs[32];

		snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/daemonsets/%s",
			 g->gadget_namespace, KG_DAEMONSET_NAME);
		r = k8s_client_get(g->client, path, &ds, err, sizeof(err));
		if (r < 0) {
			if (r == -ENOENT)
				kg_error("the DaemonSet %s/%s is gone", g->gadget_namespace,
					 KG_DAEMONSET_NAME);
			else
				kg_api_error(g, r, err);
			break;
		}
		ds_check(&w, ds);
		rv = json_string_value(
			json_object_get(json_object_get(ds, "metadata"), "resourceVersion"));
		if (w.ready || left <= 0) {
			json_decref(ds);
			break;
		}
		snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/daemonsets",
			 g->gadget_namespace);
		snprintf(secs, sizeof(secs), "%lld", (long long)(left + 999) / 1000);
		r = k8s_client_add_query(path, sizeof(path), "watch", "1");
		if (r >= 0)
			r = k8s_client_add_query(path, sizeof(path), "fieldSelector",
						 "metadata.name=" KG_DAEMONSET_NAME);
		if (r >= 0 && rv)
			r = k8s_client_add_query(path, sizeof(path), "resourceVersion", rv);
		if (r >= 0)
			r = k8s_client_add_query(path, sizeof(path), "timeoutSeconds", secs);
		json_decref(ds);
		if (r < 0)
			break;
		k8s_watch_decoder_reset(w.dec);
		r = k8s_client_stream(g->client, path, &so, err, sizeof(err));
		if (w.ready) {
			r = 0;
			break;
		}
		if (w.gone) {
			kg_error("the DaemonSet %s/%s was deleted while waiting",
				 g->gadget_namespace, KG_DAEMONSET_NAME);
			r = -ENOENT;
			break;
		}
		/* the stream ended (server timeout, 410, a cut): look again, after a breath */
		if (r < 0 && r != -ECANCELED && r != -ESTALE)
			sleep_ms(DEPLOY_POLL_MS);
		r = 0;
	}
	w.dec = k8s_watch_decoder_free(w.dec);
	if (r < 0)
		return r;
	if (!w.ready) {
		explain_not_ready(g, &w, timeout_text);
		return -ETIMEDOUT;
	}
	fprintf(stderr, "the gadget agents are ready on %lld node%s\n", (long long)w.desired,
		w.desired == 1 ? "" : "s");
	return 0;
}

/* ---- deploy ---- */

enum deploy_opt_id {
	D_IMAGE = 1,
	D_TIMEOUT,
	D_NO_WAIT,
	D_PRINT,
	D_HELP,
	D_METRICS_LISTEN,
	D_METRICS_ADDRESS,
	D_VERIFY_GADGETS,
	D_PUBLIC_KEYS,
	D_ALLOWED_GADGETS,
	D_DISALLOW_PULLING,
	D_WAIT,
	D_PULL_POLICY,
	D_NODE_SELECTOR,
};

static const struct base_opt deploy_opts[] = {
	{"image", 0, BASE_OPT_VALUE, D_IMAGE, "IMAGE",
	 "the agent image (default: the manifests' gadget-agent:<version>)", 0},
	{"timeout", 't', BASE_OPT_VALUE, D_TIMEOUT, "DURATION",
	 "how long to wait for the agents to be ready (default " DEPLOY_DEFAULT_TIMEOUT ")", 0},
	{"no-wait", 0, BASE_OPT_SWITCH, D_NO_WAIT, NULL, "apply the objects and return at once", 0},
	{"wait", 0, BASE_OPT_SWITCH, D_WAIT, NULL,
	 "wait for the agents (the default; --wait=false is --no-wait, as in IG)", 0},
	{"print", 0, BASE_OPT_SWITCH, D_PRINT, NULL,
	 "print the objects as YAML instead of applying them (for kubectl apply -f -)", 0},
	{"otel-metrics-listen", 0, BASE_OPT_SWITCH, D_METRICS_LISTEN, NULL,
	 "serve gadget metrics for Prometheus on every agent (docs/metrics.md)", 0},
	{"otel-metrics-listen-address", 0, BASE_OPT_VALUE, D_METRICS_ADDRESS, "ADDR",
	 "where the agents serve them (default 0.0.0.0:2224)", 0},
	{"verify-gadgets", 0, BASE_OPT_SWITCH, D_VERIFY_GADGETS, NULL,
	 "agents run only images signed by one of --gadgets-public-keys (default true; "
	 "=false turns the check off)",
	 0},
	{"gadgets-public-keys", 0, BASE_OPT_VALUE, D_PUBLIC_KEYS, "KEYS",
	 "PEM public keys that sign gadget images, joined by commas "
	 "(\"$(cat a.pub),$(cat b.pub)\"), or files holding them",
	 0},
	{"allowed-gadgets", 0, BASE_OPT_VALUE, D_ALLOWED_GADGETS, "LIST",
	 "only these images run: repo:tag, repo@sha256:..., or a prefix ending in '*' "
	 "(comma-separated, repeatable; default: all)",
	 0},
	{"disallow-gadgets-pulling", 0, BASE_OPT_SWITCH, D_DISALLOW_PULLING, NULL,
	 "the agents never pull images: only what their stores hold runs", 0},
	{"print-only", 0, BASE_OPT_SWITCH, D_PRINT, NULL, NULL, 0},
	{"image-pull-policy", 0, BASE_OPT_VALUE, D_PULL_POLICY, "POLICY",
	 "Always, IfNotPresent or Never for the agent image (default: the manifests', "
	 "IfNotPresent; IG's default is Always)",
	 0},
	{"node-selector", 0, BASE_OPT_VALUE, D_NODE_SELECTOR, "SELECTOR",
	 "run agents only on the nodes these labels select (a=b,c!=d,e in (f,g); as a required "
	 "node affinity; some node must match)",
	 0},
	{"help", 'h', BASE_OPT_SWITCH, D_HELP, NULL, "show this help", 0},
};

#define N_DEPLOY_OPTS (sizeof(deploy_opts) / sizeof(deploy_opts[0]))

static void deploy_help(void)
{
	printf("Usage: kubectl gadget deploy [options]\n\n"
	       "Installs the gadget agents: the namespace (\"gadget\", or --gadget-namespace),\n"
	       "their ServiceAccount and RBAC, their ConfigMap and the DaemonSet that runs\n"
	       "one agent per node.  The objects are those of deploy/*.yaml, built into the\n"
	       "plugin, applied with server-side apply (field manager \"kubectl-gadget\"), so\n"
	       "deploying again updates them.  Then it waits until the DaemonSet reports every\n"
	       "scheduled agent ready and up to date, showing progress (\"2/3 agents ready\")\n"
	       "on stderr; when the timeout passes first it names the pods not ready and the\n"
	       "nodes without an agent and exits with 1.\n\nOptions:\n");
	kg_opt_help(deploy_opts, N_DEPLOY_OPTS);
	printf("\nExamples:\n"
	       "  kubectl gadget deploy\n"
	       "  kubectl gadget deploy --image registry.example/gadget-agent:v1 --timeout 5m\n"
	       "  kubectl gadget deploy --print | kubectl apply -f -\n"
	       "  kubectl gadget deploy --gadgets-public-keys \"$(cat cosign.pub)\" \\\n"
	       "      --allowed-gadgets 'registry.example/gadgets/*'\n");
}

static int print_objects(const json_t *objs)
{
	struct base_buf b = BASE_BUF_INIT(0);
	json_t *obj;
	size_t i;
	int r = 0;

	json_array_foreach(objs, i, obj)
	{
		r = base_buf_puts(&b, "---\n");
		if (r >= 0)
			r = base_yaml_emit_json_doc(&b, obj);
		if (r < 0)
			break;
	}
	if (r >= 0 && b.len)
		fwrite(b.data, 1, b.len, stdout);
	base_buf_done(&b);
	return r;
}

static int apply_object(struct kg_global *g, json_t *obj)
{
	const struct deploy_kind *k = find_kind(obj);
	char path[K8S_CLIENT_MAX_URL], err[KG_ERRLEN] = "", kind[64];
	int r;

	r = object_path(k, obj, path, sizeof(path));
	if (r >= 0)
		r = k8s_client_add_query(path, sizeof(path), "fieldManager", DEPLOY_FIELD_MANAGER);
	if (r >= 0)
		r = k8s_client_add_query(path, sizeof(path), "force", "true");
	if (r < 0) {
		kg_error("%s %s: path too long", k->kind, obj_name(obj));
		return r;
	}
	r = k8s_client_request(g->client, "PATCH", path, obj, DEPLOY_APPLY_CONTENT_TYPE, NULL, err,
			       sizeof(err));
	if (r < 0) {
		kg_api_error(g, r, err);
		return r;
	}
	lower(k->kind, kind, sizeof(kind));
	printf("%s/%s %s\n", kind, obj_name(obj), r == 201 ? "created" : "applied");
	fflush(stdout);
	return 0;
}

static int count_item(void *userdata, json_t *item)
{
	(*(size_t *)userdata)++;
	return 0;
}

/* As IG: a --node-selector no node matches is an error, not a DaemonSet that runs nowhere. */
static int check_nodes(struct kg_global *g, const char *selector)
{
	struct k8s_client_list_opts lo = {.label_selector = selector};
	char err[KG_ERRLEN] = "";
	size_t n = 0;
	int r;

	r = k8s_client_list(g->client, "/api/v1/nodes", &lo, count_item, &n, NULL, err,
			    sizeof(err));
	if (r == -EPERM) {
		/* listing nodes may be forbidden to whoever deploys: the affinity still holds */
		return 0;
	}
	if (r < 0) {
		kg_api_error(g, r, err);
		return r;
	}
	if (!n) {
		kg_error("no node matches --node-selector '%s'", selector);
		return -ENOENT;
	}
	return 0;
}

int kg_cmd_deploy(struct kg_global *g, int argc, char **argv)
{
	const char *timeout_text = DEPLOY_DEFAULT_TIMEOUT, *metrics_address = NULL;
	struct deploy_settings st = {.config = json_object()};
	uint64_t port = 0;
	bool no_wait = false, print = false, metrics = false;
	uint64_t timeout_ms = 0;
	json_t *objs = NULL, *obj;
	struct kg_policy pol;
	const char *node_selector = NULL;
	json_t *affinity = NULL;
	char err[KG_ERRLEN];
	size_t i;
	int k, ret = KG_EXIT_ERROR;

	kg_policy_init(&pol);
	for (k = 1; k < argc; k++) {
		const char *v = NULL;
		int id = kg_opt_match(deploy_opts, N_DEPLOY_OPTS, argc, argv, &k, &v);

		switch (id) {
		case D_IMAGE:
			if (!*v) {
				kg_error("--image needs an image reference");
				goto usage;
			}
			st.image = v;
			break;
		case D_METRICS_LISTEN:
			metrics = !strcmp(v, "true");
			break;
		case D_METRICS_ADDRESS:
			if (!strrchr(v, ':') ||
			    base_parse_uint(strrchr(v, ':') + 1, 65535, &port) < 0 || !port) {
				kg_error("invalid value '%s' for --otel-metrics-listen-address: "
					 "host:port",
					 v);
				goto usage;
			}
			metrics_address = v;
			break;
		case D_TIMEOUT:
			timeout_text = v;
			break;
		case D_NO_WAIT:
			no_wait = !strcmp(v, "true");
			break;
		case D_WAIT:
			no_wait = strcmp(v, "true");
			break;
		case D_PRINT:
			print = !strcmp(v, "true");
			break;
		case D_PULL_POLICY:
			if (strcmp(v, "Always") && strcmp(v, "IfNotPresent") &&
			    strcmp(v, "Never")) {
				kg_error(
					"invalid --image-pull-policy '%s' (Always, IfNotPresent or "
					"Never)",
					v);
				goto usage;
			}
			st.pull_policy = v;
			break;
		case D_NODE_SELECTOR:
			node_selector = v;
			break;
		case D_HELP:
			deploy_help();
			ret = KG_EXIT_OK;
			goto out;
		case D_VERIFY_GADGETS:
			pol.verify = !strcmp(v, "true");
			pol.verify_set = true;
			break;
		case D_PUBLIC_KEYS:
			pol.keys = v;
			break;
		case D_ALLOWED_GADGETS:
			if (kg_policy_add_allowed(&pol, v) < 0)
				goto usage;
			break;
		case D_DISALLOW_PULLING:
			pol.disallow_pull = !strcmp(v, "true");
			pol.disallow_set = true;
			break;
		case 0:
			kg_error("unexpected argument '%s' (see 'kubectl gadget deploy --help')",
				 argv[k]);
			goto usage;
		default:
			goto usage;
		}
	}
	if (!st.config)
		goto out;
	if (metrics || metrics_address) {
		json_object_set_new(st.config, "otel-metrics-listen", json_boolean(metrics));
		if (metrics_address)
			json_object_set_new(st.config, "otel-metrics-listen-address",
					    json_string(metrics_address));
		if (metrics)
			st.metrics_port =
				metrics_address ? strrchr(metrics_address, ':') + 1 : "2224";
	}
	if (base_parse_duration_ms(timeout_text, &timeout_ms) < 0 || !timeout_ms) {
		kg_error("invalid --timeout '%s' (e.g. 30s, 2m)", timeout_text);
		goto usage;
	}
	if (node_selector && kg_nodesel_affinity(node_selector, &affinity, err, sizeof(err)) < 0) {
		kg_error("%s", err);
		goto usage;
	}
	st.affinity = affinity;
	if (load_objects(g, &st, &objs) < 0)
		goto out;
	if (kg_policy_apply(&pol, objs) < 0)
		goto usage;
	if (print) {
		ret = print_objects(objs) < 0 ? KG_EXIT_ERROR : KG_EXIT_OK;
		goto out;
	}
	if (kg_connect(g) < 0)
		goto out;
	if (node_selector && check_nodes(g, node_selector) < 0)
		goto out;
	json_array_foreach(objs, i, obj) if (apply_object(g, obj) < 0) goto out;
	if (no_wait || wait_ready(g, timeout_ms, timeout_text) >= 0)
		ret = KG_EXIT_OK;
out:
	kg_policy_done(&pol);
	json_decref(affinity);
	json_decref(objs);
	json_decref(st.config);
	return ret;
usage:
	ret = KG_EXIT_USAGE;
	goto out;
}

/* ---- undeploy ---- */

enum undeploy_opt_id { U_TIMEOUT = 1, U_NO_WAIT, U_HELP, U_WAIT };

static const struct base_opt undeploy_opts[] = {
	{"timeout", 't', BASE_OPT_VALUE, U_TIMEOUT, "DURATION",
	 "how long to wait for the agents to go (default " DEPLOY_DEFAULT_TIMEOUT ")", 0},
	{"no-wait", 0, BASE_OPT_SWITCH, U_NO_WAIT, NULL, "delete the objects and return at once",
	 0},
	{"wait", 0, BASE_OPT_SWITCH, U_WAIT, NULL,
	 "wait until they are gone (the default; --wait=false is --no-wait, as in IG)", 0},
	{"help", 'h', BASE_OPT_SWITCH, U_HELP, NULL, "show this help", 0},
};

#define N_UNDEPLOY_OPTS (sizeof(undeploy_opts) / sizeof(undeploy_opts[0]))

static void undeploy_help(void)
{
	printf("Usage: kubectl gadget undeploy [options]\n\n"
	       "Removes what 'kubectl gadget deploy' installed, in reverse order: the\n"
	       "DaemonSet, the agents' ConfigMap, RBAC and ServiceAccount, and last the\n"
	       "namespace (\"gadget\", or --gadget-namespace) itself.  Deleting the namespace\n"
	       "also deletes everything else in it, in particular every detached gadget\n"
	       "instance (they are ConfigMaps there): nothing is kept.  Objects already gone\n"
	       "are skipped.  Then it waits until the agent pods and the namespace are gone.\n"
	       "\nOptions:\n");
	kg_opt_help(undeploy_opts, N_UNDEPLOY_OPTS);
}

static int delete_object(struct kg_global *g, json_t *obj)
{
	const struct deploy_kind *k = find_kind(obj);
	char path[K8S_CLIENT_MAX_URL], err[KG_ERRLEN] = "", kind[64];
	int r;

	r = object_path(k, obj, path, sizeof(path));
	/* the agent pods go with their DaemonSet, without waiting for us to ask */
	if (r >= 0)
		r = k8s_client_add_query(path, sizeof(path), "propagationPolicy", "Background");
	if (r < 0)
		return r;
	lower(k->kind, kind, sizeof(kind));
	r = k8s_client_request(g->client, "DELETE", path, NULL, NULL, NULL, err, sizeof(err));
	if (r == -ENOENT) {
		printf("%s/%s already gone\n", kind, obj_name(obj));
		return 0;
	}
	if (r == -EBUSY && !strcmp(k->kind, "Namespace")) {
		/* 409 from a namespace already Terminating: its controller is on it */
		printf("%s/%s already being deleted\n", kind, obj_name(obj));
		return 0;
	}
	if (r < 0) {
		kg_api_error(g, r, err);
		return r;
	}
	printf("%s/%s deleted\n", kind, obj_name(obj));
	fflush(stdout);
	return 0;
}

static int count_pod(void *userdata, json_t *pod)
{
	struct base_buf *names = userdata;

	return base_buf_printf(names, "%s%s", names->len ? ", " : "", obj_name(pod));
}

static int wait_gone(struct kg_global *g, uint64_t timeout_ms, const char *timeout_text)
{
	struct k8s_client_list_opts lo = {.label_selector = KG_AGENT_LABEL};
	int64_t deadline = kg_now_ms() + (int64_t)timeout_ms;
	struct base_buf names = BASE_BUF_INIT(64u << 10);
	char path[K8S_CLIENT_MAX_URL], err[KG_ERRLEN];
	size_t shown = (size_t)-1;
	bool ns_there = true;
	int r;

	for (;;) {
		base_buf_reset(&names);
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", g->gadget_namespace);
		r = k8s_client_list(g->client, path, &lo, count_pod, &names, NULL, err,
				    sizeof(err));
		if (r < 0 && r != -ENOENT && r != -E2BIG) {
			kg_api_error(g, r, err);
			break;
		}
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s", g->gadget_namespace);
		r = k8s_client_get(g->client, path, NULL, err, sizeof(err));
		if (r < 0 && r != -ENOENT) {
			kg_api_error(g, r, err);
			break;
		}
		ns_there = r >= 0;
		if (!names.len && !ns_there) {
			r = 0;
			break;
		}
		if (names.len != shown) {
			fprintf(stderr, "waiting for %s to go\n",
				names.len ? "the agent pods" : "the namespace");
			shown = names.len;
		}
		if (kg_now_ms() >= deadline) {
			kg_error("still there after %s: %s%s%s", timeout_text,
				 names.len ? "agent pods " : "", names.len ? names.data : "",
				 ns_there ? (names.len ? " and the namespace" : "the namespace")
					  : "");
			r = -ETIMEDOUT;
			break;
		}
		sleep_ms(DEPLOY_POLL_MS);
	}
	base_buf_done(&names);
	return r;
}

int kg_cmd_undeploy(struct kg_global *g, int argc, char **argv)
{
	const char *timeout_text = DEPLOY_DEFAULT_TIMEOUT;
	uint64_t timeout_ms = 0;
	bool no_wait = false;
	json_t *objs = NULL;
	size_t i;
	int k, ret = KG_EXIT_ERROR;

	for (k = 1; k < argc; k++) {
		const char *v = NULL;
		int id = kg_opt_match(undeploy_opts, N_UNDEPLOY_OPTS, argc, argv, &k, &v);

		switch (id) {
		case U_TIMEOUT:
			timeout_text = v;
			break;
		case U_NO_WAIT:
			no_wait = !strcmp(v, "true");
			break;
		case U_WAIT:
			no_wait = strcmp(v, "true");
			break;
		case U_HELP:
			undeploy_help();
			return KG_EXIT_OK;
		case 0:
			kg_error("unexpected argument '%s' (see 'kubectl gadget undeploy --help')",
				 argv[k]);
			return KG_EXIT_USAGE;
		default:
			return KG_EXIT_USAGE;
		}
	}
	if (base_parse_duration_ms(timeout_text, &timeout_ms) < 0 || !timeout_ms) {
		kg_error("invalid --timeout '%s' (e.g. 30s, 2m)", timeout_text);
		return KG_EXIT_USAGE;
	}
	/* the objects as the files have them: undeploy takes no deploy flags */
	if (load_objects(g, &(struct deploy_settings){0}, &objs) < 0)
		return KG_EXIT_ERROR;
	if (kg_connect(g) < 0)
		goto out;
	for (i = json_array_size(objs); i-- > 0;)
		if (delete_object(g, json_array_get(objs, i)) < 0)
			goto out;
	if (no_wait || wait_gone(g, timeout_ms, timeout_text) >= 0)
		ret = KG_EXIT_OK;
out:
	json_decref(objs);
	return ret;
}

bool kg_deploy_opts(const char *cmd, struct base_opt_table *ret)
{
	if (!strcmp(cmd, "deploy"))
		*ret = (struct base_opt_table){.opts = deploy_opts, .n = N_DEPLOY_OPTS};
	else if (!strcmp(cmd, "undeploy"))
		*ret = (struct base_opt_table){.opts = undeploy_opts, .n = N_UNDEPLOY_OPTS};
	else
		return false;
	return true;
}
