// SPDX-License-Identifier: Apache-2.0
/*
 * kubectl gadget list / show / delete: the detached gadget instances.
 *
 * Instances are cluster-wide (ConfigMaps in the gadget namespace, see
 * docs/api.md "Detached instances") but their state is per node: list asks
 * every agent (ListInstances) and merges the answers by instance id, one row
 * per instance with the state each node reports.  delete deletes the
 * ConfigMap with the user's own credentials (instance_cm.h); every agent
 * then stops the instance.
 *
 * As in Inspektor Gadget, an instance is named by its name, its id or a
 * prefix of its id (the 12 characters list shows are enough):
 * kg_instance_resolve() lists them and picks the one meant, refusing a
 * prefix that more than one id starts with.
 */
#include "cli/kubectl-gadget/kg.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

enum show_opt_id { S_OUTPUT = 1, S_HELP };

static const struct base_opt show_opts[] = {
	{"output", 'o', BASE_OPT_VALUE, S_OUTPUT, "FORMAT", "yaml (default, as IG) or json", 0},
	{"help", 'h', BASE_OPT_SWITCH, S_HELP, NULL, "show this help", 0},
};

#define N_SHOW_OPTS (sizeof(show_opts) / sizeof(show_opts[0]))

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
	struct kg_agents agents;
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
	if (sp && sp->gadget && !json_object_get(m, "params")) {
		json_t *params = json_object();

		for (size_t k = 0; params && k < sp->gadget->n_params; k++)
			json_object_set_new(params, sp->gadget->params[k]->key,
					    json_string(sp->gadget->params[k]->value));
		json_object_set_new(m, "params", params ? params : json_object());
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

	printf("%-12s %-24s %-28s %-16s %-24s %8s %s\n", "ID", "NAME", "IMAGE", "NODES", "STATE",
	       "RECORDS", "TAGS");
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
		printf("%-12.12s %-24s %-28s %-16s %-24s %8lld %s\n",
		       json_string_value(json_object_get(m, "id")),
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
	       "agent reports them: the first 12 characters of its ID (which, like the NAME,\n"
	       "attach, show and delete take), IMAGE, the NODES it was created for (\"all\"\n"
	       "when none were named), its STATE on each node that runs it, the RECORDS\n"
	       "produced on all nodes together, and its TAGS.  A node that does not answer is\n"
	       "reported on stderr and the exit code is then 1.  Also 'ls' and 'ps'.\n"
	       "\nOptions:\n");
	kg_opt_help(list_opts, N_LIST_OPTS);
}

static void list_ctx_done(struct list_ctx *c)
{
	free(c->req_ids);
	free(c->answered);
	json_decref(c->by_id);
	json_decref(c->order);
	kg_agents_done(&c->agents);
	memset(c, 0, sizeof(*c));
}

/*
 * Asks every agent (of nodes, when given) for its instances and merges them
 * into c (release with list_ctx_done()).  KG_EXIT_OK, or KG_EXIT_ERROR when
 * an agent failed (reported) or none was found (c->by_id NULL then).
 */
static int list_instances(struct kg_global *g, const char *const *nodes, size_t n_nodes,
			  struct list_ctx *c)
{
	Gadget__Agent__V1__ListInstances li = GADGET__AGENT__V1__LIST_INSTANCES__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	struct kg_loop l = {.on_response = list_response, .ud = c, .sigfd = -1};
	int ret = KG_EXIT_OK;
	size_t i;

	if (kg_agents_find(g, nodes, n_nodes, &c->agents) < 0)
		return KG_EXIT_ERROR;
	c->as = &c->agents;
	c->req_ids = calloc(c->as->n, sizeof(*c->req_ids));
	c->answered = calloc(c->as->n, sizeof(*c->answered));
	c->by_id = json_object();
	c->order = json_array();
	if (!c->req_ids || !c->answered || !c->by_id || !c->order) {
		kg_error("out of memory");
		json_decref(c->by_id);
		c->by_id = NULL;
		return KG_EXIT_ERROR;
	}
	kg_agents_connect(g, c->as);
	req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_LIST_INSTANCES;
	req.list_instances = &li;
	for (i = 0; i < c->as->n; i++)
		if (kg_agent_connected(&c->as->v[i]))
			kg_agent_send(&c->as->v[i], &req, &c->req_ids[i]);
	l.deadline_ms = kg_now_ms() + LIST_TIMEOUT_MS;
	kg_agents_loop(c->as, &l);
	for (i = 0; i < c->as->n; i++) {
		if (!c->answered[i] && !c->as->v[i].error)
			kg_agent_fail(&c->as->v[i], -ETIMEDOUT, "no answer within %d s",
				      LIST_TIMEOUT_MS / 1000);
		if (c->as->v[i].error) {
			kg_agent_report(&c->as->v[i]);
			ret = KG_EXIT_ERROR;
		}
	}
	if (c->cut)
		kg_warn("more than %d instances: the list is cut", LIST_MAX_INSTANCES);
	return ret;
}

/* The instance of c's list that arg means (see kg_instance_resolve()); prints why not. */
static json_t *resolve_in(const struct list_ctx *c, const char *arg)
{
	struct base_buf names = BASE_BUF_INIT(0);
	json_t *idv, *m, *hit = NULL;
	size_t i, n_hits = 0;

	json_array_foreach(c->order, i, idv)
	{
		const char *id = json_string_value(idv), *name;

		m = json_object_get(c->by_id, id);
		name = json_string_value(json_object_get(m, "name"));
		if (!strcmp(id, arg)) {
			hit = m;
			n_hits = 1;
			break;
		}
		if ((name && !strcmp(name, arg)) || !strncmp(id, arg, strlen(arg))) {
			hit = m;
			n_hits++;
			base_buf_printf(&names, "%s%s (%.12s)", names.len ? ", " : "",
					name ? name : "?", id);
		}
	}
	if (n_hits > 1)
		kg_error("'%s' names or begins the id of %zu instances: %s; give more of the id",
			 arg, n_hits, names.data);
	else if (!n_hits)
		kg_error("no gadget instance named '%s' (see 'kubectl gadget list')", arg);
	base_buf_done(&names);
	return n_hits == 1 ? hit : NULL;
}

int kg_instance_resolve(struct kg_global *g, const char *arg, char **ret_id, char **ret_name)
{
	struct list_ctx c = {0};
	json_t *m;
	int r = -ENOENT;

	if (!*arg) {
		kg_error("an empty instance name or id");
		return -EINVAL;
	}
	list_instances(g, NULL, 0, &c);
	if (!c.by_id) {
		list_ctx_done(&c);
		return -EIO;
	}
	m = resolve_in(&c, arg);
	if (m) {
		*ret_id = strdup(json_string_value(json_object_get(m, "id")));
		*ret_name = strdup(json_string_value(json_object_get(m, "name")) ?: "");
		r = *ret_id && *ret_name ? 0 : -ENOMEM;
		if (r < 0) {
			free(*ret_id);
			free(*ret_name);
		}
	}
	list_ctx_done(&c);
	return r;
}

int kg_cmd_list(struct kg_global *g, int argc, char **argv)
{
	enum run_output o = RUN_OUTPUT_COLUMNS;
	const char *nodes[KG_MAX_NODE_FLAGS];
	size_t n_nodes = 0;
	struct list_ctx c = {0};
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
	ret = list_instances(g, n_nodes ? nodes : NULL, n_nodes, &c);
	if (ret != KG_EXIT_OK && !c.by_id)
		goto out;
	if (print_list(&c, o) < 0)
		ret = KG_EXIT_ERROR;
out:
	list_ctx_done(&c);
	return ret;
}

/* ---- delete ---- */

static void delete_help(void)
{
	printf("Usage: kubectl gadget delete NAME|ID...\n\n"
	       "Deletes the detached gadget instances named NAME, or whose id is ID or starts\n"
	       "with it (as 'list' shows it): their ConfigMaps go, and every agent stops them;\n"
	       "clients attached to them are told.  Also 'del' and 'd'.\n"
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
		kg_error("which instance? usage: kubectl gadget delete NAME|ID...");
		return KG_EXIT_USAGE;
	}
	/* with the user's own credentials: the agents only read instances */
	if (kg_connect(g) < 0)
		return KG_EXIT_ERROR;
	/* a name, a whole id, or the start of one id (instance_cm.h) */
	for (k = first; k < argc; k++)
		if (argv[k][0] != '-' && kg_instance_cm_delete(g, argv[k]) != KG_EXIT_OK)
			ret = KG_EXIT_ERROR;
	return ret;
}

/* ---- show ---- */

static void show_help(void)
{
	printf("Usage: kubectl gadget show NAME|ID [options]\n\n"
	       "Shows one detached gadget instance, named by its name, its id or the start of\n"
	       "its id, as Inspektor Gadget's 'show' does: YAML with its ID, Name, Image,\n"
	       "TimeCreated, Params, Tags and, for every node that reports it, its Status\n"
	       "(Running, Pending or Error) and Message.  -o json gives everything 'list -o\n"
	       "json' knows of it.  Also 's' and 'sh'.\n\nOptions:\n");
	kg_opt_help(show_opts, N_SHOW_OPTS);
}

static const char *ig_status(const char *state)
{
	if (!strcmp(state, "running"))
		return "Running";
	if (!strcmp(state, "pending"))
		return "Pending";
	if (!strcmp(state, "failed"))
		return "Error";
	return "Unknown";
}

/* IG's InstanceState, keys as its YAML spells them. */
static json_t *ig_shape(const json_t *m)
{
	json_t *out, *nodes = json_array(), *st;
	const char *node;
	char when[64] = "";
	time_t t = (time_t)(json_integer_value(json_object_get(m, "createdUnixMs")) / 1000);
	struct tm tm;

	if (t && gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_foreach((json_t *)json_object_get(m, "states"), node, st)
	{
		const char *err = json_string_value(json_object_get(st, "error"));

		json_array_append_new(
			nodes, json_pack("{s:s, s:s, s:s}", "Node", node, "Status",
					 ig_status(json_string_value(json_object_get(st, "state"))),
					 "Message", err ? err : ""));
	}
	out = json_pack("{s:O, s:O, s:O, s:s, s:O, s:O, s:o}", "ID", json_object_get(m, "id"),
			"Name", json_object_get(m, "name"), "Image", json_object_get(m, "image"),
			"TimeCreated", when, "Params",
			json_object_get(m, "params") ? json_object_get(m, "params") : json_null(),
			"Tags", json_object_get(m, "tags"), "NodeInstances", nodes);
	return out;
}

int kg_cmd_show(struct kg_global *g, int argc, char **argv)
{
	struct base_buf b = BASE_BUF_INIT(0);
	enum run_output o = RUN_OUTPUT_YAML;
	struct list_ctx c = {0};
	const char *arg = NULL;
	json_t *m, *shaped;
	int k, ret = KG_EXIT_ERROR;

	for (k = 1; k < argc; k++) {
		const char *v = NULL;
		int opt = kg_opt_match(show_opts, N_SHOW_OPTS, argc, argv, &k, &v);

		switch (opt) {
		case S_OUTPUT:
			if (run_output_parse(v, &o) < 0 || o == RUN_OUTPUT_COLUMNS) {
				kg_error("invalid output format '%s' (yaml or json)", v);
				return KG_EXIT_USAGE;
			}
			break;
		case S_HELP:
			show_help();
			return KG_EXIT_OK;
		case 0:
			if (arg) {
				kg_error("unexpected argument '%s' (one instance at a time)",
					 argv[k]);
				return KG_EXIT_USAGE;
			}
			arg = argv[k];
			break;
		default:
			return KG_EXIT_USAGE;
		}
	}
	if (!arg || !*arg) {
		kg_error("which instance? usage: kubectl gadget show NAME|ID");
		return KG_EXIT_USAGE;
	}
	list_instances(g, NULL, 0, &c);
	m = c.by_id ? resolve_in(&c, arg) : NULL;
	if (!m)
		goto out;
	if (o == RUN_OUTPUT_YAML) {
		shaped = ig_shape(m);
		if (shaped && base_yaml_emit_json_doc(&b, shaped) >= 0) {
			fwrite(b.data, 1, b.len, stdout);
			ret = KG_EXIT_OK;
		}
		json_decref(shaped);
	} else {
		char *text = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		if (text) {
			printf("%s\n", text);
			ret = KG_EXIT_OK;
		}
		free(text);
	}
out:
	base_buf_done(&b);
	list_ctx_done(&c);
	return ret;
}

bool kg_instances_opts(const char *cmd, struct base_opt_table *ret)
{
	if (!strcmp(cmd, "list"))
		*ret = (struct base_opt_table){.opts = list_opts, .n = N_LIST_OPTS};
	else if (!strcmp(cmd, "show"))
		*ret = (struct base_opt_table){.opts = show_opts, .n = N_SHOW_OPTS};
	else if (!strcmp(cmd, "delete"))
		*ret = (struct base_opt_table){.opts = kg_help_opts, .n = 1};
	else
		return false;
	return true;
}
