// SPDX-License-Identifier: Apache-2.0
/*
 * list / delete / show of kubectl gadget and ig --remote: the detached
 * gadget instances.
 *
 * Instances are cluster-wide (ConfigMaps in the gadget namespace, see
 * docs/api.md "Detached instances"; files in the state directory of a host's
 * daemon) but their state is per node: list asks every agent
 * (ListInstances) and merges the answers by instance id, one row per
 * instance with the state each node reports; show prints one of them whole.
 * delete asks one agent, which deletes the ConfigMap (or the file); every
 * agent then stops the instance.
 */
#include "cli/client/client.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/yaml_emit.h"
#include "cli/client/agents.h"
#include "cli/client/printer.h"

#define LIST_TIMEOUT_MS 30000
/* Most instances listed; an agent's list beyond this is cut (and said so). */
#define LIST_MAX_INSTANCES 65536

enum list_opt_id { L_OUTPUT = 1, L_NODE, L_HELP };

static const struct base_opt list_opts[] = {
	{"output", 'o', BASE_OPT_VALUE, L_OUTPUT, "FORMAT", "columns (default), json or yaml", 0},
	{"help", 'h', BASE_OPT_SWITCH, L_HELP, NULL, "show this help", 0},
	/* a cluster's only */
	{"node", 0, BASE_OPT_VALUE, L_NODE, "NODE", "ask only the agent of this node", 0},
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
	struct client_agents *as;
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

/* The params of a spec as {key: value}. */
static json_t *spec_params(const Gadget__Agent__V1__GadgetSpec *g)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; o && i < g->n_params; i++)
		if (g->params[i] && g->params[i]->key)
			json_object_set_new(
				o, g->params[i]->key,
				json_string(g->params[i]->value ? g->params[i]->value : ""));
	return o;
}

static void merge_instance(struct list_ctx *c, struct client_agent *a,
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
		if (sp && sp->gadget)
			json_object_set_new(m, "params", spec_params(sp->gadget));
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

static int list_response(void *ud, struct client_agent *a, Gadget__Agent__V1__Response *m)
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
		client_agent_fail(a, -EIO, "%s", client_agent_error_text(m->error));
	}
	/* one answer is all this command wants from the agent */
	client_agent_close(a);
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

static void list_help(const struct client_front *f)
{
	struct base_opt_table t = {.opts = list_opts, .n = N_LIST_OPTS - !f->cluster};

	if (f->cluster)
		printf("Usage: %1$s list [options]\n\n"
		       "Lists the detached gadget instances ('%1$s run --detach'), as every\n"
		       "agent reports them: NAME, IMAGE, the NODES it was created for (\"all\" "
		       "when\n"
		       "none were named), its STATE on each node that runs it, the RECORDS "
		       "produced\n"
		       "on all nodes together, and its TAGS.  A node that does not answer is "
		       "reported\n"
		       "on stderr and the exit code is then 1.\n\nOptions:\n",
		       f->cmd);
	else
		printf("Usage: %1$s list [options]\n\n"
		       "Lists the detached gadget instances of the daemon ('%1$s run --detach'):\n"
		       "NAME, IMAGE, NODES (\"all\"), its STATE (node:running, pending or "
		       "failed),\n"
		       "the RECORDS it produced, and its TAGS.\n\nOptions:\n",
		       f->cmd);
	base_opt_help(stdout, &t, 1);
}

/* A command's own options (the rows of t); prints the error.  As base_opt_next(). */
static int opt_next(const struct client_front *f, const struct base_opt_table *t, int argc,
		    char **argv, int *i, const struct base_opt **o, const char **v)
{
	char err[CLIENT_ERRLEN];
	int r = base_opt_next(t, 1, argc, argv, i, o, v, err, sizeof(err));

	if (r == BASE_OPT_UNKNOWN)
		client_error("unknown option '%s' (see '%s %s --help')", argv[*i], f->cmd, argv[0]);
	else if (r == BASE_OPT_END)
		client_error("unexpected argument '--' (see '%s %s --help')", f->cmd, argv[0]);
	else if (r < 0)
		client_error("%s", err);
	return r;
}

/*
 * Asks every agent (of nodes[], when given) for its instances and merges
 * them into c.  CLIENT_EXIT_OK, or CLIENT_EXIT_ERROR when an agent did not
 * answer (reported) or none could be reached.
 */
static int ask_instances(const struct client_front *f, const char *const *nodes, size_t n_nodes,
			 struct client_agents *as, struct list_ctx *c)
{
	Gadget__Agent__V1__ListInstances li = GADGET__AGENT__V1__LIST_INSTANCES__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	struct client_loop l = {.on_response = list_response, .ud = c, .sigfd = -1};
	int ret = CLIENT_EXIT_OK;
	size_t i;

	/* an agent that cannot be reached is reported with those that do not answer */
	if (f->connect(f->ctx, nodes, n_nodes, true, as) < 0)
		return CLIENT_EXIT_ERROR;
	c->as = as;
	c->req_ids = calloc(as->n, sizeof(*c->req_ids));
	c->answered = calloc(as->n, sizeof(*c->answered));
	c->by_id = json_object();
	c->order = json_array();
	if (!c->req_ids || !c->answered || !c->by_id || !c->order) {
		client_error("out of memory");
		return CLIENT_EXIT_ERROR;
	}
	req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_LIST_INSTANCES;
	req.list_instances = &li;
	for (i = 0; i < as->n; i++)
		if (client_agent_connected(&as->v[i]))
			client_agent_send(&as->v[i], &req, &c->req_ids[i]);
	l.deadline_ms = client_now_ms() + LIST_TIMEOUT_MS;
	client_agents_loop(as, &l);
	for (i = 0; i < as->n; i++) {
		if (!c->answered[i] && !as->v[i].error)
			client_agent_fail(&as->v[i], -ETIMEDOUT, "no answer within %d s",
					  LIST_TIMEOUT_MS / 1000);
		if (as->v[i].error) {
			client_agent_report(&as->v[i]);
			ret = CLIENT_EXIT_ERROR;
		}
	}
	if (c->cut)
		client_warn("more than %d instances: the list is cut", LIST_MAX_INSTANCES);
	return ret;
}

static void list_ctx_done(struct list_ctx *c)
{
	free(c->req_ids);
	free(c->answered);
	json_decref(c->by_id);
	json_decref(c->order);
}

int client_cmd_list(const struct client_front *f, int argc, char **argv)
{
	struct base_opt_table t = {.opts = list_opts, .n = N_LIST_OPTS - !f->cluster};
	enum run_output o = RUN_OUTPUT_COLUMNS;
	const char *nodes[CLIENT_MAX_NODE_FLAGS];
	struct client_agents as = {0};
	struct list_ctx c = {0};
	size_t n_nodes = 0;
	int k, ret;

	for (k = 1; k < argc; k++) {
		const struct base_opt *opt = NULL;
		const char *v = NULL;
		int r = opt_next(f, &t, argc, argv, &k, &opt, &v);

		if (r < 0 || r == BASE_OPT_UNKNOWN || r == BASE_OPT_END)
			return CLIENT_EXIT_USAGE;
		if (r == BASE_OPT_WORD) {
			client_error("unexpected argument '%s' (see '%s list --help')", argv[k],
				     f->cmd);
			return CLIENT_EXIT_USAGE;
		}
		switch (opt->id) {
		case L_OUTPUT:
			if (run_output_parse(v, &o) < 0) {
				client_error("invalid output format '%s' (columns, json or yaml)",
					     v);
				return CLIENT_EXIT_USAGE;
			}
			break;
		case L_NODE:
			if (n_nodes == CLIENT_MAX_NODE_FLAGS) {
				client_error("too many --node names");
				return CLIENT_EXIT_USAGE;
			}
			nodes[n_nodes++] = v;
			break;
		case L_HELP:
			list_help(f);
			return CLIENT_EXIT_OK;
		}
	}
	ret = ask_instances(f, n_nodes ? nodes : NULL, n_nodes, &as, &c);
	if (c.by_id && print_list(&c, o) < 0)
		ret = CLIENT_EXIT_ERROR;
	list_ctx_done(&c);
	client_agents_done(&as);
	return ret;
}

/* ---- show ---- */

enum show_opt_id { S_OUTPUT = 1, S_HELP };

static const struct base_opt show_opts[] = {
	{"output", 'o', BASE_OPT_VALUE, S_OUTPUT, "FORMAT", "yaml (default) or json", 0},
	{"help", 'h', BASE_OPT_SWITCH, S_HELP, NULL, "show this help", 0},
};

static void show_help(const struct client_front *f)
{
	struct base_opt_table t = {.opts = show_opts, .n = 2};

	printf("Usage: %s show NAME\n\n"
	       "Shows the detached gadget instance NAME (or its id, or a unique prefix of\n"
	       "it): its id, image, params, tags, when it was created, and its state, records\n"
	       "and attached clients on every %s that runs it.\n\nOptions:\n",
	       f->cmd, f->cluster ? "node" : "daemon");
	base_opt_help(stdout, &t, 1);
}

/* The merged instance named, with that id, or with an id starting so (when only one does). */
static json_t *find_instance(const struct list_ctx *c, const char *want, int *ret_matches)
{
	json_t *idv, *found = NULL;
	size_t i, n = 0, len = strlen(want);

	json_array_foreach(c->order, i, idv)
	{
		json_t *m = json_object_get(c->by_id, json_string_value(idv));
		const char *name = json_string_value(json_object_get(m, "name"));
		const char *id = json_string_value(idv);

		if ((name && !strcmp(name, want)) || !strcmp(id, want)) {
			*ret_matches = 1;
			return m;
		}
		if (len >= 4 && !strncmp(id, want, len)) {
			found = m;
			n++;
		}
	}
	*ret_matches = (int)n;
	return n == 1 ? found : NULL;
}

int client_cmd_show(const struct client_front *f, int argc, char **argv)
{
	struct base_opt_table t = {.opts = show_opts, .n = 2};
	struct base_buf b = BASE_BUF_INIT(0);
	struct client_agents as = {0};
	struct list_ctx c = {0};
	const char *name = NULL;
	bool json = false;
	int k, ret, matches = 0;
	json_t *m;

	for (k = 1; k < argc; k++) {
		const struct base_opt *opt = NULL;
		const char *v = NULL;
		int r = opt_next(f, &t, argc, argv, &k, &opt, &v);

		if (r < 0 || r == BASE_OPT_UNKNOWN || r == BASE_OPT_END)
			return CLIENT_EXIT_USAGE;
		if (r == BASE_OPT_WORD) {
			if (name) {
				client_error("unexpected argument '%s': show takes one instance",
					     argv[k]);
				return CLIENT_EXIT_USAGE;
			}
			name = argv[k];
			continue;
		}
		if (opt->id == S_HELP) {
			show_help(f);
			return CLIENT_EXIT_OK;
		}
		if (strcmp(v, "yaml") && strcmp(v, "json")) {
			client_error("invalid output format '%s' (yaml or json)", v);
			return CLIENT_EXIT_USAGE;
		}
		json = !strcmp(v, "json");
	}
	if (!name) {
		client_error("which instance? usage: %s show NAME", f->cmd);
		return CLIENT_EXIT_USAGE;
	}
	ret = ask_instances(f, NULL, 0, &as, &c);
	m = c.by_id ? find_instance(&c, name, &matches) : NULL;
	if (!m && c.by_id) {
		if (matches > 1)
			client_error("'%s' is the start of %d instance ids: give more of it", name,
				     matches);
		else
			client_error("no gadget instance named '%s' (see '%s list')", name, f->cmd);
		ret = CLIENT_EXIT_ERROR;
	} else if (m && json) {
		char *s = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		if (s)
			printf("%s\n", s);
		free(s);
	} else if (m && base_yaml_emit_json_doc(&b, m) >= 0) {
		fwrite(b.data, 1, b.len, stdout);
	}
	base_buf_done(&b);
	list_ctx_done(&c);
	client_agents_done(&as);
	return ret;
}

/* ---- delete ---- */

static void delete_help(const struct client_front *f)
{
	static const struct base_opt help = {"help",	       'h', BASE_OPT_SWITCH, 1, NULL,
					     "show this help", 0};
	struct base_opt_table t = {.opts = &help, .n = 1};

	printf("Usage: %s delete NAME...\n\n"
	       "Deletes the detached gadget instances NAME (or their ids): %s, and every\n"
	       "%s stops them; clients attached to them are told.\n\nOptions:\n",
	       f->cmd, f->cluster ? "their ConfigMaps go" : "their files in the daemon's state go",
	       f->cluster ? "agent" : "daemon");
	base_opt_help(stdout, &t, 1);
}

static int delete_one(const struct client_front *f, struct client_agents *as, const char *name)
{
	Gadget__Agent__V1__DeleteInstance di = GADGET__AGENT__V1__DELETE_INSTANCE__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	Gadget__Agent__V1__Response *m = NULL;
	size_t i;
	int r = -ENOTCONN, ret = CLIENT_EXIT_ERROR;

	di.instance = (char *)name;
	req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_DELETE_INSTANCE;
	req.delete_instance = &di;
	for (i = 0; i < as->n; i++) {
		if (!client_agent_connected(&as->v[i]))
			continue;
		r = client_agent_call(&as->v[i], &req, LIST_TIMEOUT_MS, &m);
		if (r >= 0)
			break;
		client_agent_report(&as->v[i]);
	}
	if (r < 0) {
		client_error("no agent could delete '%s'", name);
		return CLIENT_EXIT_ERROR;
	}
	if (m->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_INSTANCE_DELETED) {
		printf("gadget instance %s deleted\n", name);
		ret = CLIENT_EXIT_OK;
	} else if (m->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_ERROR &&
		   m->error->code == GADGET__AGENT__V1__ERROR_CODE__ERROR_NOT_FOUND) {
		client_error("no gadget instance named '%s' (see '%s list')", name, f->cmd);
	} else if (m->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_ERROR) {
		client_error("%s: %s", name, client_agent_error_text(m->error));
	} else {
		client_error("unexpected answer %s to DeleteInstance",
			     agent_wire_response_name(m->payload_case));
	}
	agent_wire_response_free(m);
	return ret;
}

int client_cmd_delete(const struct client_front *f, int argc, char **argv)
{
	static const struct base_opt help = {"help",	       'h', BASE_OPT_SWITCH, 1, NULL,
					     "show this help", 0};
	struct base_opt_table t = {.opts = &help, .n = 1};
	struct client_agents as = {0};
	int k, ret = CLIENT_EXIT_OK, first = 0;

	for (k = 1; k < argc; k++) {
		const struct base_opt *o = NULL;
		const char *v = NULL;
		int r = opt_next(f, &t, argc, argv, &k, &o, &v);

		if (r < 0 || r == BASE_OPT_UNKNOWN || r == BASE_OPT_END)
			return CLIENT_EXIT_USAGE;
		if (r == BASE_OPT_MATCHED && !strcmp(v, "true")) {
			delete_help(f);
			return CLIENT_EXIT_OK;
		}
		if (r == BASE_OPT_WORD && !first)
			first = k;
	}
	if (!first) {
		client_error("which instance? usage: %s delete NAME...", f->cmd);
		return CLIENT_EXIT_USAGE;
	}
	if (f->connect(f->ctx, NULL, 0, false, &as) < 0)
		return CLIENT_EXIT_ERROR;
	for (k = first; k < argc; k++)
		if (argv[k][0] != '-' && delete_one(f, &as, argv[k]) != CLIENT_EXIT_OK)
			ret = CLIENT_EXIT_ERROR;
	client_agents_done(&as);
	return ret;
}
