// SPDX-License-Identifier: Apache-2.0
/*
 * kubectl gadget list / delete: the detached gadget instances.
 *
 * Instances are cluster-wide (ConfigMaps in the gadget namespace, see
 * docs/api.md "Detached instances") but their state is per node: list asks
 * every agent (ListInstances) and merges the answers by instance id, one row
 * per instance with the state each node reports.  delete deletes the
 * ConfigMap with the user's own credentials (instance_cm.h); every agent
 * then stops the instance.
 */
#include "cli/kubectl-gadget/kg.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/yaml_emit.h"
#include "cli/kubectl-gadget/agents.h"
#include "cli/kubectl-gadget/instance_cm.h"
#include "cli/kubectl-gadget/output.h"

#define LIST_TIMEOUT_MS 30000
/* Most instances listed; an agent's list beyond this is cut (and said so). */
#define LIST_MAX_INSTANCES 65536

enum list_opt_id { L_OUTPUT = 1, L_NODE, L_HELP };

static const struct base_opt list_opts[] = {
	{"output", 'o', BASE_OPT_VALUE, L_OUTPUT, "FORMAT", "columns (default), json or yaml", 0},
	{"node", 0, BASE_OPT_VALUE, L_NODE, "NODE", "ask only the agent of this node", 0},
	{"help", 'h', BASE_OPT_SWITCH, L_HELP, NULL, "show this help", 0},
};

#define N_LIST_OPTS (sizeof(list_opts) / sizeof(list_opts[0]))

static const char *state_word(Gadget__Agent__V1__InstanceState s)
{
	switch (s) {
	case GADGET__AGENT__V1__INSTANCE_STATE__INSTANCE_RUNNING:
		return "running";
	case GADGET__AGENT__V1__INSTANCE_STATE__INSTANCE_PENDING:
		return "pending";
	case GADGET__AGENT__V1__INSTANCE_STATE__INSTANCE_FAILED:
		return "failed";
	default:
		return "unknown";
	}
}

struct list_ctx {
	struct kg_agents *as;
	uint64_t *req_ids;
	bool *answered;
	json_t *by_id; /* id -> merged instance */
	json_t *order; /* ids in the order first seen */
	bool cut;
};

static json_t *str_array(char **v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static void merge_instance(struct list_ctx *c, struct kg_agent *a,
			   const Gadget__Agent__V1__Instance *in)
{
	const Gadget__Agent__V1__InstanceSpec *sp = in->spec;
	json_t *m = json_object_get(c->by_id, in->id), *st;

	if (!m) {
		if (json_array_size(c->order) >= LIST_MAX_INSTANCES) {
			c->cut = true;
			return;
		}
		m = json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:{}}", "id", in->id, "name",
			      sp ? sp->name : "", "image",
			      sp && sp->gadget ? sp->gadget->image : "", "nodes",
			      sp ? str_array(sp->nodes, sp->n_nodes) : json_array(), "tags",
			      sp ? str_array(sp->tags, sp->n_tags) : json_array(), "createdUnixMs",
			      (json_int_t)(sp ? sp->created_unix_ms : 0), "records", (json_int_t)0,
			      "states");
		if (!m || json_object_set_new(c->by_id, in->id, m) < 0)
			return;
		json_array_append_new(c->order, json_string(in->id));
	}
	st = json_pack("{s:s, s:I, s:i}", "state", state_word(in->state), "records",
		       (json_int_t)in->records, "clients", (int)in->clients);
	if (st && in->error && *in->error)
		json_object_set_new(st, "error", json_string(in->error));
	json_object_set_new(json_object_get(m, "states"), *in->node ? in->node : a->node, st);
	json_object_set_new(m, "records",
			    json_integer(json_integer_value(json_object_get(m, "records")) +
					 (json_int_t)in->records));
}

static int list_response(void *ud, struct kg_agent *a, Gadget__Agent__V1__Response *m)
{
	struct list_ctx *c = ud;
	size_t i = (size_t)(a - c->as->v), k;

	if (m->id != c->req_ids[i])
		return 0;
	c->answered[i] = true;
	if (m->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_INSTANCES) {
		for (k = 0; k < m->instances->n_instances; k++)
			merge_instance(c, a, m->instances->instances[k]);
	} else if (m->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_ERROR) {
		kg_agent_fail(a, -EIO, "%s", kg_agent_error_text(m->error));
	}
	/* one answer is all this command wants from the agent */
	kg_agent_close(a);
	return 0;
}

static void print_list_columns(const struct list_ctx *c)
{
	struct base_buf states = BASE_BUF_INIT(0);
	size_t i, k;
	json_t *idv, *v;

	printf("%-24s %-28s %-16s %-24s %8s %s\n", "NAME", "IMAGE", "NODES", "STATE", "RECORDS",
	       "TAGS");
	json_array_foreach(c->order, i, idv)
	{
		json_t *m = json_object_get(c->by_id, json_string_value(idv));
		struct base_buf nodes = BASE_BUF_INIT(0), tags = BASE_BUF_INIT(0);
		const char *node;

		base_buf_reset(&states);
		json_array_foreach(json_object_get(m, "nodes"), k, v)
			base_buf_printf(&nodes, "%s%s", k ? "," : "", json_string_value(v));
		json_array_foreach(json_object_get(m, "tags"), k, v)
			base_buf_printf(&tags, "%s%s", k ? "," : "", json_string_value(v));
		json_object_foreach(json_object_get(m, "states"), node, v)
			base_buf_printf(&states, "%s%s:%s", states.len ? "," : "", node,
					json_string_value(json_object_get(v, "state")));
		printf("%-24s %-28s %-16s %-24s %8lld %s\n",
		       json_string_value(json_object_get(m, "name")),
		       json_string_value(json_object_get(m, "image")),
		       nodes.len ? nodes.data : "all", states.len ? states.data : "-",
		       (long long)json_integer_value(json_object_get(m, "records")),
		       tags.len ? tags.data : "");
		base_buf_done(&nodes);
		base_buf_done(&tags);
	}
	base_buf_done(&states);
}

static int print_list(const struct list_ctx *c, enum run_output o)
{
	struct base_buf b = BASE_BUF_INIT(0);
	json_t *all = json_array(), *idv;
	size_t i;
	char *s;
	int r = 0;

	if (o == RUN_OUTPUT_COLUMNS) {
		json_decref(all);
		print_list_columns(c);
		return 0;
	}
	json_array_foreach(c->order, i, idv)
		json_array_append(all, json_object_get(c->by_id, json_string_value(idv)));
	if (o == RUN_OUTPUT_YAML) {
		r = base_yaml_emit_json_doc(&b, all);
		if (r >= 0)
			fwrite(b.data, 1, b.len, stdout);
	} else {
		s = json_dumps(all, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (s)
			printf("%s\n", s);
		free(s);
	}
	base_buf_done(&b);
	json_decref(all);
	return r;
}

static void list_help(void)
{
	printf("Usage: kubectl gadget list [options]\n\n"
	       "Lists the detached gadget instances ('kubectl gadget run --detach'), as every\n"
	       "agent reports them: NAME, IMAGE, the NODES it was created for (\"all\" when\n"
	       "none were named), its STATE on each node that runs it, the RECORDS produced\n"
	       "on all nodes together, and its TAGS.  A node that does not answer is reported\n"
	       "on stderr and the exit code is then 1.\n\nOptions:\n");
	kg_opt_help(list_opts, N_LIST_OPTS);
}

int kg_cmd_list(struct kg_global *g, int argc, char **argv)
{
	Gadget__Agent__V1__ListInstances li = GADGET__AGENT__V1__LIST_INSTANCES__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	enum run_output o = RUN_OUTPUT_COLUMNS;
	const char *nodes[KG_MAX_NODE_FLAGS];
	size_t n_nodes = 0, i;
	struct kg_agents as = {0};
	struct list_ctx c = {0};
	struct kg_loop l = {.on_response = list_response, .ud = &c, .sigfd = -1};
	int k, ret = KG_EXIT_USAGE;

	for (k = 1; k < argc; k++) {
		const char *v = NULL;
		int id = kg_opt_match(list_opts, N_LIST_OPTS, argc, argv, &k, &v);

		switch (id) {
		case L_OUTPUT:
			if (run_output_parse(v, &o) < 0) {
				kg_error("invalid output format '%s' (columns, json or yaml)", v);
				return KG_EXIT_USAGE;
			}
			break;
		case L_NODE:
			if (n_nodes == KG_MAX_NODE_FLAGS) {
				kg_error("too many --node names");
				return KG_EXIT_USAGE;
			}
			nodes[n_nodes++] = v;
			break;
		case L_HELP:
			list_help();
			return KG_EXIT_OK;
		case 0:
			kg_error("unexpected argument '%s' (see 'kubectl gadget list --help')",
				 argv[k]);
			return KG_EXIT_USAGE;
		default:
			return KG_EXIT_USAGE;
		}
	}
	ret = KG_EXIT_ERROR;
	if (kg_agents_find(g, n_nodes ? nodes : NULL, n_nodes, &as) < 0)
		return KG_EXIT_ERROR;
	c.as = &as;
	c.req_ids = calloc(as.n, sizeof(*c.req_ids));
	c.answered = calloc(as.n, sizeof(*c.answered));
	c.by_id = json_object();
	c.order = json_array();
	if (!c.req_ids || !c.answered || !c.by_id || !c.order)
		goto out;
	kg_agents_connect(g, &as);
	req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_LIST_INSTANCES;
	req.list_instances = &li;
	for (i = 0; i < as.n; i++)
		if (kg_agent_connected(&as.v[i]))
			kg_agent_send(&as.v[i], &req, &c.req_ids[i]);
	l.deadline_ms = kg_now_ms() + LIST_TIMEOUT_MS;
	kg_agents_loop(&as, &l);
	ret = KG_EXIT_OK;
	for (i = 0; i < as.n; i++) {
		if (!c.answered[i] && !as.v[i].error)
			kg_agent_fail(&as.v[i], -ETIMEDOUT, "no answer within %d s",
				      LIST_TIMEOUT_MS / 1000);
		if (as.v[i].error) {
			kg_agent_report(&as.v[i]);
			ret = KG_EXIT_ERROR;
		}
	}
	if (c.cut)
		kg_warn("more than %d instances: the list is cut", LIST_MAX_INSTANCES);
	if (print_list(&c, o) < 0)
		ret = KG_EXIT_ERROR;
out:
	free(c.req_ids);
	free(c.answered);
	json_decref(c.by_id);
	json_decref(c.order);
	kg_agents_done(&as);
	return ret;
}

/* ---- delete ---- */

static void delete_help(void)
{
	printf("Usage: kubectl gadget delete NAME...\n\n"
	       "Deletes the detached gadget instances NAME (or their ids): their ConfigMaps\n"
	       "go, and every agent stops them; clients attached to them are told.\n"
	       "\nOptions:\n");
	kg_opt_help(kg_help_opts, 1);
}

int kg_cmd_delete(struct kg_global *g, int argc, char **argv)
{
	int k, ret = KG_EXIT_OK, first = 0;

	for (k = 1; k < argc; k++) {
		const char *v = NULL;
		int id = kg_opt_match(kg_help_opts, 1, argc, argv, &k, &v);

		if (id < 0)
			return KG_EXIT_USAGE;
		if (id == 1 && !strcmp(v, "true")) {
			delete_help();
			return KG_EXIT_OK;
		}
		if (id == 0 && !first)
			first = k;
	}
	if (!first) {
		kg_error("which instance? usage: kubectl gadget delete NAME...");
		return KG_EXIT_USAGE;
	}
	/* with the user's own credentials: the agents only read instances */
	if (kg_connect(g) < 0)
		return KG_EXIT_ERROR;
	for (k = first; k < argc; k++)
		if (argv[k][0] != '-' && kg_instance_cm_delete(g, argv[k]) != KG_EXIT_OK)
			ret = KG_EXIT_ERROR;
	return ret;
}
