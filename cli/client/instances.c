// SPDX-License-Identifier: Apache-2.0
/*
 * list / show / delete of kubectl gadget and ig --remote: the detached
 * gadget instances.
 *
 * Instances are cluster-wide (ConfigMaps in the gadget namespace, see
 * docs/api.md "Detached instances"; files in the state directory of a host's
 * daemon) but their state is per node: list asks every agent
 * (ListInstances) and merges the answers by instance id, one row per
 * instance with the state each node reports; show prints one of them as
 * Inspektor Gadget does.  delete deletes the ConfigMap with the user's own
 * credentials (the front end's delete_instance), or asks the daemon
 * (DeleteInstance); every agent then stops the instance.
 *
 * As in Inspektor Gadget, an instance is named by its name, its id or a
 * prefix of its id (the 12 characters list shows are enough):
 * client_instance_resolve() lists them and picks the one meant, refusing a
 * prefix that more than one id starts with.
 */
#include "cli/client/client.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
	/* an instance exporting metrics: its series, and what the series bound dropped */
	if (st && (in->metrics_series || in->metrics_dropped)) {
		json_object_set_new(st, "metricsSeries",
				    json_integer((json_int_t)in->metrics_series));
		json_object_set_new(st, "metricsDropped",
				    json_integer((json_int_t)in->metrics_dropped));
	}
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

static void list_help(const struct client_front *f)
{
	struct base_opt_table t = {.opts = list_opts, .n = N_LIST_OPTS - !f->cluster};

	if (f->cluster)
		printf("Usage: %1$s list [options]\n\n"
		       "Lists the detached gadget instances ('%1$s run --detach'), as every\n"
		       "agent reports them: the first 12 characters of its ID (which, like the "
		       "NAME,\n"
		       "attach, show and delete take), IMAGE, the NODES it was created for "
		       "(\"all\"\n"
		       "when none were named), its STATE on each node that runs it, the RECORDS\n"
		       "produced on all nodes together, and its TAGS.  A node that does not answer "
		       "is\n"
		       "reported on stderr and the exit code is then 1.  Also 'ls' and 'ps'.\n"
		       "\nOptions:\n",
		       f->cmd);
	else
		printf("Usage: %1$s list [options]\n\n"
		       "Lists the detached gadget instances of the daemon ('%1$s run --detach'):\n"
		       "the first 12 characters of its ID (which, like the NAME, attach, show and\n"
		       "delete take), IMAGE, NODES (\"all\"), its STATE (node:running, pending or\n"
		       "failed), the RECORDS it produced, and its TAGS.\n\nOptions:\n",
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
		json_decref(c->by_id);
		c->by_id = NULL;
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
	memset(c, 0, sizeof(*c));
}

/* The instance of c's list that arg means (see client_instance_resolve()); prints why not. */
static json_t *resolve_in(const struct client_front *f, const struct list_ctx *c, const char *arg)
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
		client_error(
			"'%s' names or begins the id of %zu instances: %s; give more of the id",
			arg, n_hits, names.data);
	else if (!n_hits)
		client_error("no gadget instance named '%s' (see '%s list')", arg, f->cmd);
	base_buf_done(&names);
	return n_hits == 1 ? hit : NULL;
}

int client_instance_resolve(const struct client_front *f, const char *arg, char **ret_id,
			    char **ret_name)
{
	struct client_agents as = {0};
	struct list_ctx c = {0};
	json_t *m;
	int r = -ENOENT;

	if (!*arg) {
		client_error("an empty instance name or id");
		return -EINVAL;
	}
	ask_instances(f, NULL, 0, &as, &c);
	if (!c.by_id) {
		list_ctx_done(&c);
		client_agents_done(&as);
		return -EIO;
	}
	m = resolve_in(f, &c, arg);
	if (m) {
		*ret_id = strdup(json_string_value(json_object_get(m, "id")));
		*ret_name = strdup(json_string_value(json_object_get(m, "name")) ?: "");
		r = *ret_id && *ret_name ? 0 : -ENOMEM;
		if (r < 0) {
			free(*ret_id);
			free(*ret_name);
			client_error("out of memory");
		}
	}
	list_ctx_done(&c);
	client_agents_done(&as);
	return r;
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
	{"output", 'o', BASE_OPT_VALUE, S_OUTPUT, "FORMAT", "yaml (default, as IG) or json", 0},
	{"help", 'h', BASE_OPT_SWITCH, S_HELP, NULL, "show this help", 0},
};

#define N_SHOW_OPTS (sizeof(show_opts) / sizeof(show_opts[0]))

static void show_help(const struct client_front *f)
{
	struct base_opt_table t = {.opts = show_opts, .n = N_SHOW_OPTS};

	printf("Usage: %s show NAME|ID [options]\n\n"
	       "Shows one detached gadget instance, named by its name, its id or the start of\n"
	       "its id, as Inspektor Gadget's 'show' does: YAML with its ID, Name, Image,\n"
	       "TimeCreated, Params, Tags and, for every %s that reports it, its Status\n"
	       "(Running, Pending or Error) and Message.  -o json gives everything 'list -o\n"
	       "json' knows of it (its records and attached clients too).%s\n\nOptions:\n",
	       f->cmd, f->cluster ? "node" : "daemon", f->cluster ? "  Also 's' and 'sh'." : "");
	base_opt_help(stdout, &t, 1);
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

int client_cmd_show(const struct client_front *f, int argc, char **argv)
{
	struct base_opt_table t = {.opts = show_opts, .n = N_SHOW_OPTS};
	struct base_buf b = BASE_BUF_INIT(0);
	enum run_output o = RUN_OUTPUT_YAML;
	struct client_agents as = {0};
	struct list_ctx c = {0};
	const char *arg = NULL;
	json_t *m, *shaped;
	int k, ret = CLIENT_EXIT_ERROR;

	for (k = 1; k < argc; k++) {
		const struct base_opt *opt = NULL;
		const char *v = NULL;
		int r = opt_next(f, &t, argc, argv, &k, &opt, &v);

		if (r < 0 || r == BASE_OPT_UNKNOWN || r == BASE_OPT_END)
			return CLIENT_EXIT_USAGE;
		if (r == BASE_OPT_WORD) {
			if (arg) {
				client_error("unexpected argument '%s' (one instance at a time)",
					     argv[k]);
				return CLIENT_EXIT_USAGE;
			}
			arg = argv[k];
			continue;
		}
		if (opt->id == S_HELP) {
			show_help(f);
			return CLIENT_EXIT_OK;
		}
		if (run_output_parse(v, &o) < 0 || o == RUN_OUTPUT_COLUMNS) {
			client_error("invalid output format '%s' (yaml or json)", v);
			return CLIENT_EXIT_USAGE;
		}
	}
	if (!arg || !*arg) {
		client_error("which instance? usage: %s show NAME|ID", f->cmd);
		return CLIENT_EXIT_USAGE;
	}
	ask_instances(f, NULL, 0, &as, &c);
	m = c.by_id ? resolve_in(f, &c, arg) : NULL;
	if (!m)
		goto out;
	if (o == RUN_OUTPUT_YAML) {
		shaped = ig_shape(m);
		if (shaped && base_yaml_emit_json_doc(&b, shaped) >= 0) {
			fwrite(b.data, 1, b.len, stdout);
			ret = CLIENT_EXIT_OK;
		}
		json_decref(shaped);
	} else {
		char *text = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		if (text) {
			printf("%s\n", text);
			ret = CLIENT_EXIT_OK;
		}
		free(text);
	}
out:
	base_buf_done(&b);
	list_ctx_done(&c);
	client_agents_done(&as);
	return ret;
}

/* ---- delete ---- */

static const struct base_opt delete_opts[] = {
	{"help", 'h', BASE_OPT_SWITCH, 1, NULL, "show this help", 0},
};

static void delete_help(const struct client_front *f)
{
	struct base_opt_table t = {.opts = delete_opts, .n = 1};

	printf("Usage: %s delete NAME|ID...\n\n"
	       "Deletes the detached gadget instances named NAME, or whose id is ID or starts\n"
	       "with it (as 'list' shows it): %s, and every %s stops them;\n"
	       "clients attached to them are told.%s\n\nOptions:\n",
	       f->cmd, f->cluster ? "their ConfigMaps go" : "their files in the daemon's state go",
	       f->cluster ? "agent" : "daemon", f->cluster ? "  Also 'del' and 'd'." : "");
	base_opt_help(stdout, &t, 1);
}

/*
 * DeleteInstance of what (a name or a whole id) through the first agent that
 * answers (a host's daemon); shown names it in messages.  CLIENT_EXIT_*, or
 * -ENOENT, not said, when the agent has no such instance.
 */
static int delete_through_agent(const struct client_front *f, const char *what, const char *shown)
{
	Gadget__Agent__V1__DeleteInstance di = GADGET__AGENT__V1__DELETE_INSTANCE__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	Gadget__Agent__V1__Response *m = NULL;
	struct client_agents as = {0};
	size_t i;
	int r = -ENOTCONN, ret = CLIENT_EXIT_ERROR;

	if (f->connect(f->ctx, NULL, 0, false, &as) < 0)
		return CLIENT_EXIT_ERROR;
	di.instance = (char *)what;
	req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_DELETE_INSTANCE;
	req.delete_instance = &di;
	for (i = 0; i < as.n; i++) {
		if (!client_agent_connected(&as.v[i]))
			continue;
		r = client_agent_call(&as.v[i], &req, LIST_TIMEOUT_MS, &m);
		if (r >= 0)
			break;
		client_agent_report(&as.v[i]);
	}
	if (r < 0) {
		client_error("no agent could delete '%s'", shown);
	} else if (m->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_INSTANCE_DELETED) {
		printf("gadget instance %s deleted\n", shown);
		ret = CLIENT_EXIT_OK;
	} else if (m->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_ERROR &&
		   m->error->code == GADGET__AGENT__V1__ERROR_CODE__ERROR_NOT_FOUND) {
		ret = -ENOENT;
	} else if (m->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_ERROR) {
		client_error("%s: %s", shown, client_agent_error_text(m->error));
	} else {
		client_error("unexpected answer %s to DeleteInstance",
			     agent_wire_response_name(m->payload_case));
	}
	agent_wire_response_free(m);
	client_agents_done(&as);
	return ret;
}

int client_cmd_delete(const struct client_front *f, int argc, char **argv)
{
	struct base_opt_table t = {.opts = delete_opts, .n = 1};
	int k, rc, ret = CLIENT_EXIT_OK, first = 0;

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
		client_error("which instance? usage: %s delete NAME|ID...", f->cmd);
		return CLIENT_EXIT_USAGE;
	}
	for (k = first; k < argc; k++) {
		char *id = NULL, *name = NULL;

		if (argv[k][0] == '-')
			continue;
		if (f->delete_instance) {
			/* the front end resolves names, ids and prefixes itself */
			if (!*argv[k]) {
				client_error("an empty instance name or id");
				ret = CLIENT_EXIT_ERROR;
			} else if (f->delete_instance(f->ctx, argv[k]) != CLIENT_EXIT_OK) {
				ret = CLIENT_EXIT_ERROR;
			}
			continue;
		}
		/* a name or a whole id the daemon knows at once (a name is taken as it is) */
		rc = delete_through_agent(f, argv[k], argv[k]);
		/* a prefix of an id is resolved as the agents list them (it prints why not) */
		if (rc == -ENOENT && client_instance_resolve(f, argv[k], &id, &name) == 0) {
			rc = strcmp(id, argv[k]) ? delete_through_agent(f, id, *name ? name : id)
						 : -ENOENT;
			if (rc == -ENOENT)
				client_error("no gadget instance named '%s' (see '%s list')",
					     argv[k], f->cmd);
		}
		if (rc != CLIENT_EXIT_OK)
			ret = CLIENT_EXIT_ERROR;
		free(id);
		free(name);
	}
	return ret;
}

bool client_instances_opts(const struct client_front *f, const char *cmd,
			   struct base_opt_table *ret)
{
	if (!strcmp(cmd, "list"))
		*ret = (struct base_opt_table){.opts = list_opts, .n = N_LIST_OPTS - !f->cluster};
	else if (!strcmp(cmd, "show"))
		*ret = (struct base_opt_table){.opts = show_opts, .n = N_SHOW_OPTS};
	else if (!strcmp(cmd, "delete"))
		*ret = (struct base_opt_table){.opts = delete_opts, .n = 1};
	else
		return false;
	return true;
}
