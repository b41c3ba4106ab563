// SPDX-License-Identifier: Apache-2.0
/*
 * kubectl gadget list-containers / version: one question to every agent,
 * the answers side by side.
 *
 * list-containers asks each agent for the containers of its node that the
 * selector (-n/-A, -p, -c, -l) matches (ListContainers) and prints them
 * together, sorted by node, namespace, pod and container.  version prints
 * the plugin's version, then each agent's (GetAgentInfo), and says which
 * nodes did not answer.
 */
#include "cli/kubectl-gadget/kg.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/yaml_emit.h"
#include "run/escape.h"
#include "run/selector.h"
#include "base/buf.h"
#include "cli/kubectl-gadget/agents.h"
#include "cli/client/printer.h"

#define ASK_TIMEOUT_MS 30000
/* Most containers listed over all nodes. */
#define LC_MAX_CONTAINERS (1u << 20)

/* One request to every connected agent, one answer each, within ASK_TIMEOUT_MS. */
struct ask_ctx {
	struct client_agents *as;
	uint64_t *req_ids;
	int (*on_answer)(struct ask_ctx *c, struct client_agent *a, Gadget__Agent__V1__Response *m);
	void *ud;
};

static int ask_response(void *ud, struct client_agent *a, Gadget__Agent__V1__Response *m)
{
	struct ask_ctx *c = ud;
	size_t i = (size_t)(a - c->as->v);
	int r;

	if (m->id != c->req_ids[i])
		return 0;
	if (m->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_ERROR) {
		client_agent_fail(a, -EIO, "%s", client_agent_error_text(m->error));
		return 0;
	}
	r = c->on_answer(c, a, m);
	/* one answer is all this command wants from the agent */
	client_agent_close(a);
	return r;
}

static int ask_all(struct client_agents *as, Gadget__Agent__V1__Request *req, struct ask_ctx *c)
{
	struct client_loop l = {.on_response = ask_response, .ud = c, .sigfd = -1};
	size_t i;
	int r;

	c->as = as;
	c->req_ids = calloc(as->n, sizeof(*c->req_ids));
	if (!c->req_ids)
		return -ENOMEM;
	for (i = 0; i < as->n; i++)
		if (client_agent_connected(&as->v[i]))
			client_agent_send(&as->v[i], req, &c->req_ids[i]);
	l.deadline_ms = kg_now_ms() + ASK_TIMEOUT_MS;
	r = client_agents_loop(as, &l);
	for (i = 0; i < as->n; i++)
		if (client_agent_connected(&as->v[i]))
			client_agent_fail(&as->v[i], -ETIMEDOUT, "no answer within %d s",
					  ASK_TIMEOUT_MS / 1000);
	free(c->req_ids);
	c->req_ids = NULL;
	return r == -ETIMEDOUT ? 0 : r;
}

/* ---- list-containers ---- */

enum lc_opt_id { C_OUTPUT = 1, C_ALL, C_POD, C_CONTAINER, C_SELECTOR, C_NODE, C_HELP };

static const struct base_opt lc_opts[] = {
	{"output", 'o', BASE_OPT_VALUE, C_OUTPUT, "FORMAT", "columns (default), json or yaml", 0},
	{"all-namespaces", 'A', BASE_OPT_SWITCH, C_ALL, NULL,
	 "containers of every namespace (default: -n, else the context's namespace)", 0},
	{"podname", 'p', BASE_OPT_VALUE, C_POD, "POD", "only the pod named POD", 0},
	{"containername", 'c', BASE_OPT_VALUE, C_CONTAINER, "NAME", "only containers named NAME",
	 0},
	{"selector", 'l', BASE_OPT_VALUE, C_SELECTOR, "k=v,...", "only pods with all these labels",
	 0},
	{"node", 0, BASE_OPT_VALUE, C_NODE, "NODE", "only this node (repeatable)", 0},
	{"help", 'h', BASE_OPT_SWITCH, C_HELP, NULL, "show this help", 0},
};

#define N_LC_OPTS (sizeof(lc_opts) / sizeof(lc_opts[0]))

static json_t *kv_object(Gadget__Agent__V1__KeyValue **kv, size_t n)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; o && i < n; i++)
		json_object_set_new(o, kv[i]->key, json_string(kv[i]->value));
	return o;
}

/* The proto3 JSON names of Container. */
static json_t *container_json(const Gadget__Agent__V1__Container *c, const char *node)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:I, "
			 "s:I, s:I, s:I, s:b, s:b}",
			 "node", *c->node ? c->node : node, "namespace", c->pod_namespace, "pod",
			 c->pod_name, "container", c->name, "id", c->id, "podId", c->pod_id,
			 "podUid", c->pod_uid, "runtime", c->runtime, "imageName", c->image_name,
			 "imageDigest", c->image_digest, "podLabels",
			 kv_object(c->pod_labels, c->n_pod_labels), "labels",
			 kv_object(c->labels, c->n_labels), "pid", (json_int_t)c->pid, "mntns",
			 (json_int_t)c->mntns, "netns", (json_int_t)c->netns, "cgroupId",
			 (json_int_t)c->cgroup_id, "startedUnixNs", (json_int_t)c->started_unix_ns,
			 "hostNetwork", (int)c->host_network, "running", (int)c->running);
}

struct lc_ctx {
	json_t *all;
	bool cut;
};

static int lc_answer(struct ask_ctx *c, struct client_agent *a, Gadget__Agent__V1__Response *m)
{
	struct lc_ctx *lc = c->ud;
	size_t i;

	if (m->payload_case != GADGET__AGENT__V1__RESPONSE__PAYLOAD_CONTAINERS) {
		client_agent_fail(a, -EPROTO, "unexpected answer %s",
				  agent_wire_response_name(m->payload_case));
		return 0;
	}
	for (i = 0; i < m->containers->n_containers; i++) {
		if (json_array_size(lc->all) >= LC_MAX_CONTAINERS) {
			lc->cut = true;
			break;
		}
		json_array_append_new(lc->all,
				      container_json(m->containers->containers[i], a->node));
	}
	return 0;
}

static int cmp_str(json_t *x, json_t *y, const char *key)
{
	const char *a = json_string_value(json_object_get(x, key));
	const char *b = json_string_value(json_object_get(y, key));

	return strcmp(a ? a : "", b ? b : "");
}

static int cmp_container(const void *x, const void *y)
{
	json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
	static const char *const keys[] = {"node", "namespace", "pod", "container", "id"};
	size_t i;
	int r = 0;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]) && !r; i++)
		r = cmp_str(a, b, keys[i]);
	return r;
}

static void lc_sort(json_t *all)
{
	size_t i, n = json_array_size(all);
	json_t **v = calloc(n ? n : 1, sizeof(*v));

	if (!v)
		return;
	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(all, i));
	qsort(v, n, sizeof(*v), cmp_container);
	json_array_clear(all);
	for (i = 0; i < n; i++)
		json_array_append_new(all, v[i]);
	free(v);
}

static void lc_print(json_t *all, enum run_output o)
{
	struct base_buf b = BASE_BUF_INIT(0);
	json_t *c;
	size_t i;
	char *s;

	if (o == RUN_OUTPUT_YAML) {
		if (base_yaml_emit_json_doc(&b, all) >= 0)
			fwrite(b.data, 1, b.len, stdout);
		base_buf_done(&b);
		return;
	}
	if (o != RUN_OUTPUT_COLUMNS) {
		s = json_dumps(all, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (s)
			printf("%s\n", s);
		free(s);
		return;
	}
	printf("%-16s %-20s %-28s %-20s %-13s %8s %s\n", "NODE", "NAMESPACE", "POD", "CONTAINER",
	       "ID", "PID", "IMAGE");
	json_array_foreach(all, i, c)
	{
		const char *f[6] = {"node", "namespace", "pod", "container", "id", "imageName"};
		const char *v[6];
		size_t k;

		/* names come from the cluster: no control characters on the terminal */
		for (k = 0; k < 6; k++) {
			v[k] = json_string_value(json_object_get(c, f[k]));
			if (!v[k])
				v[k] = "";
		}
		base_buf_reset(&b);
		run_escape_cell(&b, v[0], strlen(v[0]), 16, false, true);
		base_buf_putc(&b, ' ');
		run_escape_cell(&b, v[1], strlen(v[1]), 20, false, true);
		base_buf_putc(&b, ' ');
		run_escape_cell(&b, v[2], strlen(v[2]), 28, false, true);
		base_buf_putc(&b, ' ');
		run_escape_cell(&b, v[3], strlen(v[3]), 20, false, true);
		base_buf_putc(&b, ' ');
		run_escape_cell(&b, v[4], strlen(v[4]) < 13 ? strlen(v[4]) : 13, 13, false, true);
		base_buf_printf(&b, " %8lld ",
				(long long)json_integer_value(json_object_get(c, "pid")));
		run_escape_cell(&b, v[5], strlen(v[5]), 0, false, false);
		if (b.data)
			printf("%s\n", b.data);
	}
	base_buf_done(&b);
}

static void lc_help(void)
{
	printf("Usage: kubectl gadget list-containers [options]\n\n"
	       "Lists the containers the gadget agents see on their nodes, those of -n NS\n"
	       "(or the context's namespace), of every namespace with -A, narrowed by -p,\n"
	       "-c and -l: the ones a 'kubectl gadget run' with the same options traces.\n"
	       "A node that does not answer is reported on stderr and the exit code is 1.\n"
	       "\nOptions:\n");
	kg_opt_help(lc_opts, N_LC_OPTS);
}

int kg_cmd_list_containers(struct kg_global *g, int argc, char **argv)
{
	Gadget__Agent__V1__ListContainers lc = GADGET__AGENT__V1__LIST_CONTAINERS__INIT;
	Gadget__Agent__V1__Selector ps = GADGET__AGENT__V1__SELECTOR__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	Gadget__Agent__V1__KeyValue lkv[RUN_SELECTOR_MAX_LABELS];
	Gadget__Agent__V1__KeyValue *lkvp[RUN_SELECTOR_MAX_LABELS];
	enum run_output o = RUN_OUTPUT_COLUMNS;
	const char *nodes[CLIENT_MAX_NODE_FLAGS], *labels = NULL, *pod = NULL, *ctr = NULL;
	struct run_selector sel = {0};
	struct lc_ctx lctx = {0};
	struct ask_ctx c = {.on_answer = lc_answer, .ud = &lctx};
	struct client_agents as = {0};
	bool all_ns = false;
	size_t n_nodes = 0, i;
	char why[256] = "";
	int k, ret = KG_EXIT_ERROR;

	for (k = 1; k < argc; k++) {
		const char *v = NULL;
		int id = kg_opt_match(lc_opts, N_LC_OPTS, argc, argv, &k, &v);

		switch (id) {
		case C_OUTPUT:
			if (run_output_parse(v, &o) < 0) {
				kg_error("invalid output format '%s' (columns, json or yaml)", v);
				return KG_EXIT_USAGE;
			}
			break;
		case C_ALL:
			all_ns = true;
			break;
		case C_POD:
			pod = v;
			break;
		case C_CONTAINER:
			ctr = v;
			break;
		case C_SELECTOR:
			labels = v;
			break;
		case C_NODE:
			if (n_nodes == CLIENT_MAX_NODE_FLAGS) {
				kg_error("too many --node names");
				return KG_EXIT_USAGE;
			}
			nodes[n_nodes++] = v;
			break;
		case C_HELP:
			lc_help();
			return KG_EXIT_OK;
		case 0:
			kg_error("unexpected argument '%s' (see 'kubectl gadget list-containers "
				 "--help')",
				 argv[k]);
			return KG_EXIT_USAGE;
		default:
			return KG_EXIT_USAGE;
		}
	}
	if (labels && run_selector_set_labels(&sel, labels, why, sizeof(why)) < 0) {
		kg_error("invalid -l/--selector '%s': %s", labels, why);
		return KG_EXIT_USAGE;
	}
	if (kg_agents_find(g, n_nodes ? nodes : NULL, n_nodes, &as) < 0)
		goto out;
	ps.namespace_ = all_ns ? "" : (char *)kg_namespace(g);
	ps.podname = pod ? (char *)pod : "";
	ps.containername = ctr ? (char *)ctr : "";
	for (i = 0; i < sel.n_labels; i++) {
		gadget__agent__v1__key_value__init(&lkv[i]);
		lkv[i].key = (char *)sel.labels[i].key;
		lkv[i].value = (char *)sel.labels[i].value;
		lkvp[i] = &lkv[i];
	}
	ps.labels = lkvp;
	ps.n_labels = sel.n_labels;
	lc.selector = &ps;
	req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_LIST_CONTAINERS;
	req.list_containers = &lc;
	lctx.all = json_array();
	if (!lctx.all)
		goto out;
	kg_agents_connect(g, &as);
	if (ask_all(&as, &req, &c) < 0)
		goto out;
	ret = KG_EXIT_OK;
	for (i = 0; i < as.n; i++) {
		if (as.v[i].error) {
			client_agent_report(&as.v[i]);
			ret = KG_EXIT_ERROR;
		}
	}
	if (lctx.cut)
		kg_warn("more than %u containers: the list is cut", LC_MAX_CONTAINERS);
	lc_sort(lctx.all);
	lc_print(lctx.all, o);
out:
	json_decref(lctx.all);
	run_selector_done(&sel);
	client_agents_done(&as);
	return ret;
}

/* ---- version ---- */

struct version_row {
	char *text;
};

static int version_answer(struct ask_ctx *c, struct client_agent *a, Gadget__Agent__V1__Response *m)
{
	struct version_row *rows = c->ud;
	const Gadget__Agent__V1__AgentInfo *ai = m->agent_info;

	if (m->payload_case != GADGET__AGENT__V1__RESPONSE__PAYLOAD_AGENT_INFO) {
		client_agent_fail(a, -EPROTO, "unexpected answer %s",
				  agent_wire_response_name(m->payload_case));
		return 0;
	}
	if (asprintf(&rows[a - c->as->v].text,
		     "gadget-agent %s (protocol %u.%u, kernel %s, %s, pod %s)", ai->agent_version,
		     ai->protocol_major, ai->protocol_minor, ai->kernel_release, ai->arch,
		     a->pod) < 0)
		rows[a - c->as->v].text = NULL;
	return 0;
}

int kg_cmd_version(struct kg_global *g, int argc, char **argv)
{
	Gadget__Agent__V1__GetAgentInfo gai = GADGET__AGENT__V1__GET_AGENT_INFO__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	struct version_row *rows = NULL;
	struct ask_ctx c = {.on_answer = version_answer};
	struct client_agents as = {0};
	size_t i;
	int ret = KG_EXIT_ERROR;

	for (int k = 1; k < argc; k++) {
		const char *v = NULL;
		int id = kg_opt_match(kg_help_opts, 1, argc, argv, &k, &v);

		if (id < 0)
			return KG_EXIT_USAGE;
		if (id == 1 && !strcmp(v, "true")) {
			printf("Usage: kubectl gadget version\n\n"
			       "Prints the version of the plugin, then the version of the gadget "
			       "agent on\n"
			       "each node (asking each one through the API server); a node whose "
			       "agent\n"
			       "does not answer is shown with the reason, and the exit code is "
			       "then "
			       "1.\n\nOptions:\n");
			kg_opt_help(kg_help_opts, 1);
			return KG_EXIT_OK;
		}
		if (id == 0) {
			kg_error("unexpected argument '%s' (see 'kubectl gadget version --help')",
				 argv[k]);
			return KG_EXIT_USAGE;
		}
	}
	printf("kubectl-gadget version %s\n", IG_VERSION);
	fflush(stdout);
	if (kg_agents_find(g, NULL, 0, &as) < 0)
		return KG_EXIT_ERROR;
	rows = calloc(as.n, sizeof(*rows));
	if (!rows)
		goto out;
	c.ud = rows;
	kg_agents_connect(g, &as);
	req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_GET_AGENT_INFO;
	req.get_agent_info = &gai;
	if (ask_all(&as, &req, &c) < 0)
		goto out;
	ret = KG_EXIT_OK;
	for (i = 0; i < as.n; i++) {
		if (rows[i].text && !as.v[i].error) {
			printf("node %s: %s\n", as.v[i].node, rows[i].text);
			continue;
		}
		printf("node %s: not answering: %s\n", as.v[i].node,
		       as.v[i].error ? as.v[i].errmsg : "no answer");
		ret = KG_EXIT_ERROR;
	}
out:
	for (i = 0; rows && i < as.n; i++)
		free(rows[i].text);
	free(rows);
	client_agents_done(&as);
	return ret;
}

bool kg_containers_opts(const char *cmd, struct base_opt_table *ret)
{
	if (!strcmp(cmd, "list-containers"))
		*ret = (struct base_opt_table){.opts = lc_opts, .n = N_LC_OPTS};
	else if (!strcmp(cmd, "version"))
		*ret = (struct base_opt_table){.opts = kg_help_opts, .n = 1};
	else
		return false;
	return true;
}
