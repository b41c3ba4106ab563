// SPDX-License-Identifier: Apache-2.0
/*
 * kubectl gadget run / attach: a gadget on the nodes, its records merged.
 *
 * run finds the agents, asks one of them what the gadget is
 * (GetGadgetInfo: its params, so that `run IMAGE --help` lists them and an
 * unknown --flag is a usage error before anything starts, and its fields,
 * for --fields and the columns), then sends RunGadget to every agent and
 * prints the records as they arrive from any of them.  A node that fails is
 * reported once and the others go on; Ctrl-C or SIGTERM sends StopRun to
 * all and waits briefly for their RunEnded.  With --detach the gadget
 * becomes an instance (CreateInstance) that runs without this client.
 *
 * attach does the same for an instance (AttachInstance): the kept records
 * first, then the live ones; Ctrl-C detaches and the instance runs on.
 */
#include "cli/kubectl-gadget/kg.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "run/selector.h"
#include "cli/kubectl-gadget/agents.h"
#include "cli/kubectl-gadget/output.h"

#define RUN_MAX_PARAMS	64
#define RUN_MAX_FILTERS 64
#define RUN_MAX_TAGS	32
/* GetGadgetInfo may make the agent pull the image first. */
#define RUN_INFO_TIMEOUT_MS 120000
/* After Ctrl-C, how long the agents get to end their runs. */
#define RUN_STOP_GRACE_MS 3000
/* Past --timeout, how long before an agent that did not end its run is given up. */
#define RUN_END_GRACE_MS 60000
/* Most bytes of an instance name (a DNS label). */
#define RUN_MAX_NAME 63

enum run_opt_id {
	R_OUTPUT = 1,
	R_FIELDS,
	R_FILTER,
	R_SORT,
	R_MAX_ENTRIES,
	R_FETCH_INTERVAL,
	R_FETCH_COUNT,
	R_TIMEOUT,
	R_ALL_NAMESPACES,
	R_PODNAME,
	R_CONTAINERNAME,
	R_SELECTOR,
	R_NODE,
	R_DETACH,
	R_NAME,
	R_TAG,
	R_NO_REPLAY,
	R_HELP,
};

static const struct kg_opt run_opts[] = {
	{"output", 'o', true, R_OUTPUT, "FORMAT",
	 "columns (default), json (one record per line), jsonpretty or yaml"},
	{"fields", 0, true, R_FIELDS, "LIST",
	 "fields to print: 'a,b' exactly these; '+a,-b' add to or remove from the defaults"},
	{"filter", 'F', true, R_FILTER, "EXPR",
	 "keep records matching EXPR: field==v, !=, >, >=, <, <=, ~ regex, !~ (repeatable)"},
	{"sort", 0, true, R_SORT, "LIST",
	 "map iterators and snapshots: sort by these fields, '-field' for descending"},
	{"max-entries", 0, true, R_MAX_ENTRIES, "N",
	 "map iterators and snapshots: at most N rows per node and interval (0 = all)"},
	{"map-fetch-interval", 0, true, R_FETCH_INTERVAL, "DURATION",
	 "map iterators: how often to read and clear the map (default 1s)"},
	{"map-fetch-count", 0, true, R_FETCH_COUNT, "N",
	 "map iterators: stop after N fetches (default 0 = until interrupted)"},
	{"timeout", 0, true, R_TIMEOUT, "DURATION",
	 "stop after DURATION (e.g. 10, 10s, 500ms, 2m); default: until Ctrl-C"},
	{"all-namespaces", 'A', false, R_ALL_NAMESPACES, NULL,
	 "pods of every namespace (default: those of -n, else the context's namespace)"},
	{"podname", 'p', true, R_PODNAME, "POD", "only the pod named POD"},
	{"containername", 'c', true, R_CONTAINERNAME, "NAME",
	 "only containers named NAME in their pod"},
	{"selector", 'l', true, R_SELECTOR, "k=v,...", "only pods with all these labels"},
	{"node", 0, true, R_NODE, "NODE",
	 "only these nodes (repeatable, or a comma-separated list; default: every node)"},
	{"detach", 0, false, R_DETACH, NULL,
	 "create a detached gadget instance that runs without this client, and return"},
	{"name", 0, true, R_NAME, "NAME", "--detach: the instance's name (default: generated)"},
	{"tag", 0, true, R_TAG, "TAG", "--detach: a free-form tag for 'list' (repeatable)"},
	{"help", 'h', false, R_HELP, NULL, "show this help, with the gadget's params and fields"},
};

#define N_RUN_OPTS (sizeof(run_opts) / sizeof(run_opts[0]))

struct run_param {
	const char *key; /* as written, without the dashes */
	size_t key_len;
	const char *value; /* from "=VALUE"; NULL: the next argument or a switch */
	int argi;	   /* its index in argv */
};

struct run_args {
	const char *image;
	enum kg_output output;
	const char *fields;
	const char *filters[RUN_MAX_FILTERS];
	size_t n_filters;
	const char *sort;
	uint64_t max_entries;
	uint64_t fetch_interval_ms;
	uint64_t fetch_count;
	uint64_t timeout_ms;
	bool all_namespaces;
	const char *podname, *containername, *labels;
	const char *nodes[KG_MAX_NODE_FLAGS];
	size_t n_nodes;
	char *node_text[KG_MAX_NODE_FLAGS]; /* copies the names point into */
	size_t n_node_text;
	bool detach, no_replay;
	const char *name;
	const char *tags[RUN_MAX_TAGS];
	size_t n_tags;
	bool help;

	/* gadget params, resolved once the gadget is known */
	struct run_param raw[RUN_MAX_PARAMS];
	size_t n_raw;
	int positional[RUN_MAX_PARAMS]; /* argv indexes of non-option arguments after IMAGE */
	size_t n_positional;
	Gadget__Agent__V1__KeyValue kv[RUN_MAX_PARAMS];
	Gadget__Agent__V1__KeyValue *kvp[RUN_MAX_PARAMS];
	char *kv_keys[RUN_MAX_PARAMS];
	size_t n_kv;
};

static void run_args_done(struct run_args *a)
{
	size_t i;

	for (i = 0; i < a->n_node_text; i++)
		free(a->node_text[i]);
	for (i = 0; i < a->n_kv; i++)
		free(a->kv_keys[i]);
}

/* --node a,b --node c */
static int add_nodes(struct run_args *a, const char *v)
{
	char *copy, *p, *save = NULL;

	if (a->n_node_text == KG_MAX_NODE_FLAGS)
		goto too_many;
	copy = strdup(v);
	if (!copy)
		return -ENOMEM;
	a->node_text[a->n_node_text++] = copy;
	for (p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		while (*p == ' ')
			p++;
		if (!*p)
			continue;
		if (a->n_nodes == KG_MAX_NODE_FLAGS)
			goto too_many;
		a->nodes[a->n_nodes++] = p;
	}
	return 0;
too_many:
	kg_error("too many --node names (at most %d)", KG_MAX_NODE_FLAGS);
	return -E2BIG;
}

static int set_opt(struct run_args *a, int id, const char *v)
{
	int r = 0;

	switch (id) {
	case R_OUTPUT:
		if (kg_output_parse(v, &a->output) < 0) {
			kg_error("invalid output format '%s' (columns, json, jsonpretty or yaml)",
				 v);
			return -EINVAL;
		}
		return 0;
	case R_FIELDS:
		a->fields = v;
		return 0;
	case R_FILTER:
		if (a->n_filters == RUN_MAX_FILTERS) {
			kg_error("too many filters (at most %d)", RUN_MAX_FILTERS);
			return -E2BIG;
		}
		a->filters[a->n_filters++] = v;
		return 0;
	case R_SORT:
		a->sort = v;
		return 0;
	case R_MAX_ENTRIES:
		r = base_parse_uint(v, UINT32_MAX, &a->max_entries);
		break;
	case R_FETCH_INTERVAL:
		r = base_parse_duration_ms(v, &a->fetch_interval_ms);
		if (!r && !a->fetch_interval_ms)
			r = -EINVAL;
		break;
	case R_FETCH_COUNT:
		r = base_parse_uint(v, UINT32_MAX, &a->fetch_count);
		break;
	case R_TIMEOUT:
		r = base_parse_duration_ms(v, &a->timeout_ms);
		if (!r && !a->timeout_ms)
			r = -EINVAL;
		break;
	case R_ALL_NAMESPACES:
		a->all_namespaces = true;
		return 0;
	case R_PODNAME:
		a->podname = v;
		return 0;
	case R_CONTAINERNAME:
		a->containername = v;
		return 0;
	case R_SELECTOR:
		a->labels = v;
		return 0;
	case R_NODE:
		return add_nodes(a, v);
	case R_DETACH:
		a->detach = true;
		return 0;
	case R_NAME:
		a->name = v;
		return 0;
	case R_TAG:
		if (a->n_tags == RUN_MAX_TAGS) {
			kg_error("too many tags (at most %d)", RUN_MAX_TAGS);
			return -E2BIG;
		}
		a->tags[a->n_tags++] = v;
		return 0;
	case R_NO_REPLAY:
		a->no_replay = true;
		return 0;
	case R_HELP:
		a->help = true;
		return 0;
	}
	if (r < 0) {
		size_t i;

		for (i = 0; i < N_RUN_OPTS && run_opts[i].id != id; i++)
			;
		kg_error("invalid value '%s' for --%s", v,
			 i < N_RUN_OPTS ? run_opts[i].long_name : "?");
	}
	return r;
}

/*
 * The first pass: the options this command knows, the image (the first
 * argument that is neither an option nor an option's value), and the rest
 * kept aside until the gadget's params are known.
 */
static int parse_args(struct run_args *a, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *v = NULL;
		int id;

		if (!strcmp(arg, "--")) {
			for (i++; i < argc; i++) {
				if (!a->image) {
					a->image = argv[i];
					continue;
				}
				if (a->n_positional == RUN_MAX_PARAMS)
					goto too_many;
				a->positional[a->n_positional++] = i;
			}
			break;
		}
		id = kg_opt_match(run_opts, N_RUN_OPTS, argc, argv, &i, &v);
		if (id < 0)
			return id;
		if (id > 0) {
			if (set_opt(a, id, v) < 0)
				return -EINVAL;
			continue;
		}
		if (arg[0] == '-' && arg[1] == '-' && arg[2]) {
			const char *eq = strchr(arg + 2, '=');
			struct run_param *p;

			if (a->n_raw == RUN_MAX_PARAMS)
				goto too_many;
			p = &a->raw[a->n_raw++];
			p->key = arg + 2;
			p->key_len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
			p->value = eq ? eq + 1 : NULL;
			p->argi = i;
			continue;
		}
		if (arg[0] == '-' && arg[1]) {
			kg_error("unknown option '%s' (see 'kubectl gadget %s --help')", arg,
				 argv[0]);
			return -EINVAL;
		}
		if (!a->image) {
			a->image = arg;
			continue;
		}
		if (a->n_positional == RUN_MAX_PARAMS)
			goto too_many;
		a->positional[a->n_positional++] = i;
	}
	return 0;
too_many:
	kg_error("too many arguments");
	return -E2BIG;
}

static bool is_bool_word(const char *s)
{
	static const char *const words[] = {"true", "false", "1", "0", "yes", "no"};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcmp(s, words[i]))
			return true;
	return false;
}

/* Takes the positional argument at argv index i as a param's value, if it is one. */
static bool take_positional(struct run_args *a, int i)
{
	size_t k;

	for (k = 0; k < a->n_positional; k++) {
		if (a->positional[k] == i) {
			a->positional[k] = -1;
			return true;
		}
	}
	return false;
}

/* The second pass: the --key [value] left over must be the gadget's params. */
static int resolve_params(struct run_args *a, const Gadget__Agent__V1__GadgetInfo *info, int argc,
			  char **argv)
{
	size_t i, k;

	for (i = 0; i < a->n_raw; i++) {
		const struct run_param *p = &a->raw[i];
		const Gadget__Agent__V1__ParamInfo *pi = NULL;
		const char *v = p->value;

		for (k = 0; k < info->n_params && !pi; k++)
			if (strlen(info->params[k]->key) == p->key_len &&
			    !strncmp(info->params[k]->key, p->key, p->key_len))
				pi = info->params[k];
		if (!pi) {
			kg_error("unknown option '--%.*s' (see 'kubectl gadget %s %s --help' for "
				 "the "
				 "gadget's params)",
				 (int)p->key_len, p->key, argv[0], a->image);
			return -EINVAL;
		}
		if (!v && pi->type == GADGET__AGENT__V1__PARAM_TYPE__PARAM_BOOL) {
			/* a bare boolean turns it on; "--x false" reads too */
			v = "true";
			if (p->argi + 1 < argc && is_bool_word(argv[p->argi + 1]) &&
			    take_positional(a, p->argi + 1))
				v = argv[p->argi + 1];
		} else if (!v) {
			if (p->argi + 1 >= argc || !take_positional(a, p->argi + 1)) {
				kg_error("param --%s needs a value", pi->key);
				return -EINVAL;
			}
			v = argv[p->argi + 1];
		}
		for (k = 0; k < a->n_kv; k++)
			if (!strcmp(a->kv[k].key, pi->key))
				break;
		if (k == a->n_kv) {
			a->kv_keys[k] = strdup(pi->key);
			if (!a->kv_keys[k])
				return -ENOMEM;
			gadget__agent__v1__key_value__init(&a->kv[k]);
			a->kv[k].key = a->kv_keys[k];
			a->kvp[k] = &a->kv[k];
			a->n_kv++;
		}
		/* the last one given wins, like repeated flags usually do */
		a->kv[k].value = (char *)v;
	}
	for (k = 0; k < a->n_positional; k++) {
		if (a->positional[k] >= 0) {
			kg_error("unexpected argument '%s' (one gadget per run)",
				 argv[a->positional[k]]);
			return -EINVAL;
		}
	}
	return 0;
}

static void run_help(const char *cmd)
{
	printf("Usage: kubectl gadget run IMAGE [options] [--PARAM VALUE ...]\n\n"
	       "Runs the gadget IMAGE on every node through the gadget agents (see\n"
	       "'kubectl gadget deploy') and prints the records of all nodes as they come;\n"
	       "each record says its node in k8s.node.  IMAGE is what the agents run: a\n"
	       "short name of an image in their store (trace_exec, trace_open:latest) or a\n"
	       "full reference they pull (ghcr.io/org/gadget:v1).\n\n"
	       "Which pods: those of -n NS (or the context's namespace), of every namespace\n"
	       "with -A, narrowed by -p, -c and -l; --node limits the nodes.  A node that\n"
	       "fails is reported on stderr (\"node-2: ...\") and the others go on; the exit\n"
	       "code is then 1.  Ctrl-C stops the gadget everywhere.\n\nOptions:\n");
	kg_opt_help(run_opts, N_RUN_OPTS);
	printf("\n'kubectl gadget %s IMAGE --help' also lists the params and fields of IMAGE\n"
	       "(asked from one agent).\n"
	       "\nExamples:\n"
	       "  kubectl gadget run trace_exec -n shop\n"
	       "  kubectl gadget run trace_exec -A -o json --timeout 10s\n"
	       "  kubectl gadget run trace_open -n shop -p web-1 --failed --fields comm,fname\n"
	       "  kubectl gadget run trace_tcp -A --node node-1,node-2\n"
	       "  kubectl gadget run trace_exec -n shop --detach --name execs --tag audit\n",
	       cmd);
}

/* ---- the agents' answers ---- */

struct run_node {
	uint64_t req_id;
	uint64_t run_id;
	bool started;
	bool ended;
	bool not_found; /* attach: the instance does not run there */
	bool stop_sent;
	uint64_t dropped;
	uint64_t kernel_lost;
	uint64_t records;
};

struct stream {
	struct kg_agents *as;
	struct run_node *nodes;
	struct kg_printer *pr;
	bool attach;
	bool stopping;
	bool deleted; /* attach: the instance was deleted */
	size_t invalid;
	int out_err;
};

static struct run_node *node_of(struct stream *s, struct kg_agent *a)
{
	return &s->nodes[a - s->as->v];
}

static void send_stop(struct kg_agent *a, struct run_node *n)
{
	Gadget__Agent__V1__StopRun stop = GADGET__AGENT__V1__STOP_RUN__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;

	if (n->stop_sent || n->ended || !kg_agent_connected(a))
		return;
	stop.run_id = n->run_id;
	req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_STOP_RUN;
	req.stop_run = &stop;
	n->stop_sent = true;
	kg_agent_send(a, &req, NULL);
}

static int on_records(struct stream *s, struct kg_agent *a, struct run_node *n,
		      const Gadget__Agent__V1__RecordBatch *b)
{
	size_t i;
	int r;

	n->dropped += b->dropped_before;
	if (b->dropped_total > n->dropped)
		n->dropped = b->dropped_total;
	if (b->kernel_lost > n->kernel_lost)
		n->kernel_lost = b->kernel_lost;
	for (i = 0; i < b->n_records; i++) {
		r = kg_printer_record(s->pr, b->data_source, b->fetch, b->records[i].data,
				      b->records[i].len);
		if (r < 0) {
			s->out_err = r;
			return r;
		}
		n->records++;
	}
	r = kg_printer_flush(s->pr);
	if (r < 0)
		s->out_err = r;
	return r;
}

static void on_ended(struct stream *s, struct kg_agent *a, struct run_node *n,
		     const Gadget__Agent__V1__RunEnded *e)
{
	n->ended = true;
	if (e->dropped_total > n->dropped)
		n->dropped = e->dropped_total;
	if (e->kernel_lost > n->kernel_lost)
		n->kernel_lost = e->kernel_lost;
	switch (e->reason) {
	case GADGET__AGENT__V1__RUN_END_REASON__RUN_END_ERROR:
		kg_agent_fail(a, -EIO, "the gadget failed: %s", kg_agent_error_text(e->error));
		kg_agent_report(a);
		return;
	case GADGET__AGENT__V1__RUN_END_REASON__RUN_END_SHUTDOWN:
		kg_agent_fail(a, -ESHUTDOWN, "the agent is shutting down: the run ended early");
		kg_agent_report(a);
		return;
	case GADGET__AGENT__V1__RUN_END_REASON__RUN_END_DELETED:
		if (!s->deleted) {
			fflush(stdout);
			fprintf(stderr, KG_NAME ": the instance was deleted\n");
		}
		s->deleted = true;
		break;
	default:
		break;
	}
	/* nothing more will come about this run */
	kg_agent_close(a);
}

static int on_response(void *ud, struct kg_agent *a, Gadget__Agent__V1__Response *m)
{
	struct stream *s = ud;
	struct run_node *n = node_of(s, a);

	if (m->id != n->req_id)
		return 0; /* e.g. the answer to a StopRun for a run that just ended */
	switch (m->payload_case) {
	case GADGET__AGENT__V1__RESPONSE__PAYLOAD_ERROR:
		if (s->attach && m->error->code == GADGET__AGENT__V1__ERROR_CODE__ERROR_NOT_FOUND) {
			n->not_found = true;
			n->ended = true;
			kg_agent_close(a);
			return 0;
		}
		if (m->error->code == GADGET__AGENT__V1__ERROR_CODE__ERROR_INVALID_PARAM)
			s->invalid++;
		kg_agent_fail(a, -EINVAL, "%s", kg_agent_error_text(m->error));
		kg_agent_report(a);
		return 0;
	case GADGET__AGENT__V1__RESPONSE__PAYLOAD_RUN_STARTED:
		n->started = true;
		n->run_id = m->run_started->run_id;
		if (!kg_printer_has_info(s->pr) && m->run_started->info) {
			char err[KG_ERRLEN] = "";

			if (kg_printer_set_info(s->pr, m->run_started->info, NULL, err,
						sizeof(err)) < 0)
				kg_warn("%s", err);
		}
		if (s->stopping)
			send_stop(a, n);
		return 0;
	case GADGET__AGENT__V1__RESPONSE__PAYLOAD_RECORDS:
		return on_records(s, a, n, m->records);
	case GADGET__AGENT__V1__RESPONSE__PAYLOAD_RUN_ENDED:
		on_ended(s, a, n, m->run_ended);
		return 0;
	default:
		return 0;
	}
}

static void on_closed(void *ud, struct kg_agent *a)
{
	struct stream *s = ud;

	if (!node_of(s, a)->ended)
		kg_agent_report(a);
}

static int block_signals(void)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	return signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
}

/*
 * Drives the streams until every node ended, the output went away, or a
 * signal: then StopRun to every node and a short wait for their RunEnded.
 */
static int stream_all(struct stream *s, int sigfd, uint64_t timeout_ms)
{
	struct kg_loop l = {
		.on_response = on_response,
		.on_closed = on_closed,
		.ud = s,
		.sigfd = sigfd,
		.deadline_ms =
			timeout_ms ? kg_now_ms() + (int64_t)timeout_ms + RUN_END_GRACE_MS : 0,
	};
	size_t i;
	int r;

	r = kg_agents_loop(s->as, &l);
	if (r == -EINTR || r == -ETIMEDOUT) {
		if (r == -ETIMEDOUT)
			for (i = 0; i < s->as->n; i++)
				if (kg_agent_connected(&s->as->v[i]) && !s->nodes[i].ended) {
					kg_agent_fail(&s->as->v[i], -ETIMEDOUT,
						      "the run did not end %d s after its timeout",
						      RUN_END_GRACE_MS / 1000);
					kg_agent_report(&s->as->v[i]);
				}
		s->stopping = true;
		for (i = 0; i < s->as->n; i++)
			if (s->nodes[i].started)
				send_stop(&s->as->v[i], &s->nodes[i]);
		/* a second Ctrl-C, or the grace period, ends it at once */
		l.deadline_ms = kg_now_ms() + RUN_STOP_GRACE_MS;
		r = kg_agents_loop(s->as, &l);
	}
	/* closing a session stops whatever still runs on it */
	for (i = 0; i < s->as->n; i++)
		kg_agent_close(&s->as->v[i]);
	if (r == -EINTR || r == -ETIMEDOUT)
		r = 0;
	return r;
}

static void report_losses(struct stream *s)
{
	size_t i;

	for (i = 0; i < s->as->n; i++) {
		const struct run_node *n = &s->nodes[i];
		const char *node = s->as->v[i].node;

		if (n->dropped)
			kg_warn("%s: %llu records dropped: this client did not read them fast "
				"enough",
				node, (unsigned long long)n->dropped);
		if (n->kernel_lost)
			kg_warn("%s: %llu records lost in the kernel (ring buffer full)", node,
				(unsigned long long)n->kernel_lost);
	}
}

/* 0 when no node failed, KG_EXIT_USAGE when all that failed refused the params. */
static int exit_code(struct stream *s)
{
	size_t i, failed = 0;

	for (i = 0; i < s->as->n; i++) {
		kg_agent_report(&s->as->v[i]);
		failed += s->as->v[i].error != 0;
	}
	if (!failed)
		return KG_EXIT_OK;
	return s->invalid == failed ? KG_EXIT_USAGE : KG_EXIT_ERROR;
}

/* ---- run ---- */

/* Asks the agents in turn (one answer is enough) what IMAGE is. */
static int gadget_info(struct kg_agents *as, const char *image,
		       Gadget__Agent__V1__KeyValue **params, size_t n_params,
		       Gadget__Agent__V1__Response **ret)
{
	Gadget__Agent__V1__GetGadgetInfo gi = GADGET__AGENT__V1__GET_GADGET_INFO__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	size_t i;
	int r = -ENOTCONN;

	gi.image = (char *)image;
	gi.params = params;
	gi.n_params = n_params;
	req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_GET_GADGET_INFO;
	req.get_gadget_info = &gi;
	for (i = 0; i < as->n; i++) {
		struct kg_agent *a = &as->v[i];

		if (!kg_agent_connected(a))
			continue;
		r = kg_agent_call(a, &req, RUN_INFO_TIMEOUT_MS, ret);
		if (r >= 0)
			return 0;
		if (!a->error)
			kg_agent_fail(a, r, "no answer about the gadget: %s", strerror(-r));
		kg_agent_report(a);
	}
	return r;
}

static void report_connect_failures(struct kg_agents *as)
{
	size_t i;

	for (i = 0; i < as->n; i++)
		kg_agent_report(&as->v[i]);
}

static int build_selector(struct run_args *a, struct run_selector *sel,
			  Gadget__Agent__V1__Selector *ps, Gadget__Agent__V1__KeyValue *lkv,
			  Gadget__Agent__V1__KeyValue **lkvp)
{
	char why[256] = "";
	size_t i;

	if (a->labels) {
		int r = run_selector_set_labels(sel, a->labels, why, sizeof(why));

		if (r < 0) {
			kg_error("invalid -l/--selector '%s': %s", a->labels,
				 why[0] ? why : strerror(-r));
			return r;
		}
	}
	ps->podname = a->podname ? (char *)a->podname : "";
	ps->containername = a->containername ? (char *)a->containername : "";
	for (i = 0; i < sel->n_labels; i++) {
		gadget__agent__v1__key_value__init(&lkv[i]);
		lkv[i].key = (char *)sel->labels[i].key;
		lkv[i].value = (char *)sel->labels[i].value;
		lkvp[i] = &lkv[i];
	}
	ps->labels = lkvp;
	ps->n_labels = sel->n_labels;
	return 0;
}

static bool dns_label(const char *s)
{
	size_t i, n = strlen(s);

	if (!n || n > RUN_MAX_NAME || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* "ghcr.io/org/trace_exec:v1" -> "trace-exec-k3x9qz" */
static void make_name(const char *image, char *out, size_t size)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	const char *base = strrchr(image, '/');
	unsigned char rnd[6] = {0};
	size_t i, n = 0, max = size - 8;

	base = base ? base + 1 : image;
	for (i = 0; base[i] && base[i] != ':' && base[i] != '@' && n + 1 < max && n < 40; i++) {
		char c = base[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c + 32);
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			c = '-';
		if (c == '-' && (!n || out[n - 1] == '-'))
			continue;
		out[n++] = c;
	}
	while (n && out[n - 1] == '-')
		n--;
	if (!n) {
		memcpy(out, "gadget", 6);
		n = 6;
	}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		for (i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char)(kg_now_ms() >> (i * 5));
	out[n++] = '-';
	for (i = 0; i < sizeof(rnd); i++)
		out[n++] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
	out[n] = '\0';
}

static int run_detach(struct kg_agents *as, struct run_args *a, Gadget__Agent__V1__GadgetSpec *spec)
{
	Gadget__Agent__V1__InstanceSpec is = GADGET__AGENT__V1__INSTANCE_SPEC__INIT;
	Gadget__Agent__V1__CreateInstance ci = GADGET__AGENT__V1__CREATE_INSTANCE__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	Gadget__Agent__V1__Response *m = NULL;
	char name[RUN_MAX_NAME + 1];
	int ret = KG_EXIT_ERROR, r = -ENOTCONN;
	size_t i;

	if (a->name)
		snprintf(name, sizeof(name), "%s", a->name);
	else
		make_name(a->image, name, sizeof(name));
	is.name = name;
	is.gadget = spec;
	is.nodes = (char **)a->nodes;
	is.n_nodes = a->n_nodes;
	is.tags = (char **)a->tags;
	is.n_tags = a->n_tags;
	ci.spec = &is;
	req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_CREATE_INSTANCE;
	req.create_instance = &ci;
	/* any agent creates it for the whole cluster: the first that answers */
	for (i = 0; i < as->n; i++) {
		if (!kg_agent_connected(&as->v[i]))
			continue;
		r = kg_agent_call(&as->v[i], &req, RUN_INFO_TIMEOUT_MS, &m);
		if (r >= 0)
			break;
		kg_agent_report(&as->v[i]);
	}
	if (r < 0) {
		kg_error("no agent could create the instance");
		return KG_EXIT_ERROR;
	}
	if (m->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_INSTANCE) {
		printf("gadget instance %s created (id %s)\n",
		       m->instance->spec && *m->instance->spec->name ? m->instance->spec->name
								     : name,
		       m->instance->id);
		ret = KG_EXIT_OK;
	} else if (m->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_ERROR) {
		kg_error("cannot create the gadget instance '%s': %s", name,
			 kg_agent_error_text(m->error));
		if (m->error->code == GADGET__AGENT__V1__ERROR_CODE__ERROR_INVALID_PARAM ||
		    m->error->code == GADGET__AGENT__V1__ERROR_CODE__ERROR_BAD_REQUEST)
			ret = KG_EXIT_USAGE;
	} else {
		kg_error("unexpected answer %s to CreateInstance",
			 agent_wire_response_name(m->payload_case));
	}
	agent_wire_response_free(m);
	return ret;
}

static int run_stream(struct kg_agents *as, struct kg_printer *pr,
		      Gadget__Agent__V1__GadgetSpec *spec, uint64_t timeout_ms)
{
	Gadget__Agent__V1__RunGadget rg = GADGET__AGENT__V1__RUN_GADGET__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	struct stream s = {.as = as, .pr = pr};
	int sigfd, r, ret;
	size_t i;

	s.nodes = calloc(as->n, sizeof(*s.nodes));
	if (!s.nodes) {
		kg_error("out of memory");
		return KG_EXIT_ERROR;
	}
	sigfd = block_signals();
	rg.spec = spec;
	req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_RUN_GADGET;
	req.run_gadget = &rg;
	for (i = 0; i < as->n; i++) {
		if (!kg_agent_connected(&as->v[i]))
			continue;
		if (kg_agent_send(&as->v[i], &req, &s.nodes[i].req_id) < 0)
			kg_agent_report(&as->v[i]);
	}
	r = stream_all(&s, sigfd, timeout_ms);
	if (sigfd >= 0)
		close(sigfd);
	if (r == -EPIPE || s.out_err == -EPIPE) {
		/* the reader went away (| head): not an error */
		free(s.nodes);
		return KG_EXIT_OK;
	}
	if (r < 0)
		kg_error("%s", strerror(-r));
	report_losses(&s);
	ret = r < 0 ? KG_EXIT_ERROR : exit_code(&s);
	free(s.nodes);
	return ret;
}

int kg_cmd_run(struct kg_global *g, int argc, char **argv)
{
	struct run_args a = {.output = KG_OUTPUT_COLUMNS};
	struct run_selector sel = {0};
	Gadget__Agent__V1__Selector ps = GADGET__AGENT__V1__SELECTOR__INIT;
	Gadget__Agent__V1__GadgetSpec spec = GADGET__AGENT__V1__GADGET_SPEC__INIT;
	Gadget__Agent__V1__KeyValue lkv[RUN_SELECTOR_MAX_LABELS];
	Gadget__Agent__V1__KeyValue *lkvp[RUN_SELECTOR_MAX_LABELS];
	Gadget__Agent__V1__Response *info = NULL;
	struct kg_agents as = {0};
	struct kg_printer *pr = NULL;
	char err[KG_ERRLEN] = "", *fields = NULL;
	int ret = KG_EXIT_USAGE;

	if (parse_args(&a, argc, argv) < 0)
		goto out;
	if (!a.image) {
		if (a.help) {
			run_help("run");
			ret = KG_EXIT_OK;
		} else {
			kg_error("which gadget? usage: kubectl gadget run IMAGE [options] (see "
				 "'kubectl gadget run --help')");
		}
		goto out;
	}
	if (a.detach && a.timeout_ms) {
		kg_error("--timeout does not go with --detach: an instance runs until deleted");
		goto out;
	}
	if ((a.name || a.n_tags) && !a.detach) {
		kg_error("--name and --tag are for --detach");
		goto out;
	}
	if (a.name && !dns_label(a.name)) {
		kg_error("invalid instance name '%s': lower-case letters, digits and '-', at most "
			 "%d, starting and ending with a letter or digit",
			 a.name, RUN_MAX_NAME);
		goto out;
	}
	if (build_selector(&a, &sel, &ps, lkv, lkvp) < 0)
		goto out;

	ret = KG_EXIT_ERROR;
	if (kg_agents_find(g, a.nodes, a.n_nodes, &as) < 0) {
		if (a.help)
			run_help("run");
		goto out;
	}
	/* the context's namespace is known now that the kubeconfig is loaded */
	ps.namespace_ = a.all_namespaces ? "" : (char *)kg_namespace(g);
	if (kg_agents_connect(g, &as) == 0) {
		report_connect_failures(&as);
		kg_error("no gadget agent could be reached");
		goto out;
	}
	if (!a.help)
		report_connect_failures(&as);
	if (gadget_info(&as, a.image, NULL, 0, &info) < 0) {
		kg_error("no agent could tell what the gadget %s is", a.image);
		goto out;
	}
	if (info->payload_case != GADGET__AGENT__V1__RESPONSE__PAYLOAD_GADGET_INFO) {
		if (info->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_ERROR)
			kg_error("%s: %s", a.image, kg_agent_error_text(info->error));
		else
			kg_error("unexpected answer %s to GetGadgetInfo",
				 agent_wire_response_name(info->payload_case));
		goto out;
	}
	if (a.help) {
		run_help("run");
		kg_print_gadget_help(info->gadget_info);
		ret = KG_EXIT_OK;
		goto out;
	}
	ret = KG_EXIT_USAGE;
	if (resolve_params(&a, info->gadget_info, argc, argv) < 0)
		goto out;
	if (kg_printer_new(a.output, stdout, &pr) < 0 ||
	    kg_printer_set_info(pr, info->gadget_info, a.fields, err, sizeof(err)) < 0) {
		kg_error("%s", err[0] ? err : "out of memory");
		goto out;
	}
	if (a.n_kv) {
		/* the agent checks the values as a run would, before anything starts */
		agent_wire_response_free(info);
		info = NULL;
		if (gadget_info(&as, a.image, a.kvp, a.n_kv, &info) < 0) {
			ret = KG_EXIT_ERROR;
			goto out;
		}
		if (info->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_ERROR) {
			kg_error("%s", kg_agent_error_text(info->error));
			if (info->error->code != GADGET__AGENT__V1__ERROR_CODE__ERROR_INVALID_PARAM)
				ret = KG_EXIT_ERROR;
			goto out;
		}
	}

	spec.image = (char *)a.image;
	spec.params = a.kvp;
	spec.n_params = a.n_kv;
	spec.selector = &ps;
	/* an instance is not printed here: it keeps the fields as the user gave them */
	fields = a.detach ? (a.fields ? strdup(a.fields) : NULL)
			  : kg_printer_spec_fields(pr, a.fields);
	spec.fields = fields ? fields : "";
	spec.filters = (char **)a.filters;
	spec.n_filters = a.n_filters;
	spec.sort = a.sort ? (char *)a.sort : "";
	spec.max_entries = (uint32_t)a.max_entries;
	spec.map_fetch_interval_ms = a.fetch_interval_ms;
	spec.map_fetch_count = a.fetch_count;
	spec.timeout_ms = a.timeout_ms;
	if (a.detach)
		ret = run_detach(&as, &a, &spec);
	else
		ret = run_stream(&as, pr, &spec, a.timeout_ms);
out:
	free(fields);
	agent_wire_response_free(info);
	kg_printer_free(pr);
	kg_agents_done(&as);
	run_selector_done(&sel);
	run_args_done(&a);
	return ret;
}

/* ---- attach ---- */

static const struct kg_opt attach_opts[] = {
	{"output", 'o', true, R_OUTPUT, "FORMAT",
	 "columns (default), json (one record per line), jsonpretty or yaml"},
	{"node", 0, true, R_NODE, "NODE",
	 "only these nodes (repeatable, or a comma-separated list)"},
	{"no-replay", 0, false, R_NO_REPLAY, NULL, "only new records, not the ones kept"},
	{"help", 'h', false, R_HELP, NULL, "show this help"},
};

#define N_ATTACH_OPTS (sizeof(attach_opts) / sizeof(attach_opts[0]))

static void attach_help(void)
{
	printf("Usage: kubectl gadget attach NAME [options]\n\n"
	       "Shows the records of the detached gadget instance NAME (see 'kubectl gadget\n"
	       "run --detach' and 'kubectl gadget list') from every node it runs on: first\n"
	       "the records each agent kept, then new ones as they come.  Ctrl-C detaches;\n"
	       "the instance keeps running.\n\nOptions:\n");
	kg_opt_help(attach_opts, N_ATTACH_OPTS);
}

int kg_cmd_attach(struct kg_global *g, int argc, char **argv)
{
	Gadget__Agent__V1__AttachInstance at = GADGET__AGENT__V1__ATTACH_INSTANCE__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	struct run_args a = {.output = KG_OUTPUT_COLUMNS};
	struct kg_agents as = {0};
	struct stream s = {.attach = true};
	struct kg_printer *pr = NULL;
	const char *name = NULL;
	int ret = KG_EXIT_USAGE, sigfd = -1, r, k;
	size_t i, found = 0;

	for (k = 1; k < argc; k++) {
		const char *v = NULL;
		int id = kg_opt_match(attach_opts, N_ATTACH_OPTS, argc, argv, &k, &v);

		if (id < 0 || (id > 0 && set_opt(&a, id, v) < 0))
			goto out;
		if (id > 0)
			continue;
		if (argv[k][0] == '-' || name) {
			kg_error("unexpected argument '%s' (see 'kubectl gadget attach --help')",
				 argv[k]);
			goto out;
		}
		name = argv[k];
	}
	if (a.help) {
		attach_help();
		ret = KG_EXIT_OK;
		goto out;
	}
	if (!name) {
		kg_error("which instance? usage: kubectl gadget attach NAME");
		goto out;
	}
	ret = KG_EXIT_ERROR;
	if (kg_agents_find(g, a.nodes, a.n_nodes, &as) < 0)
		goto out;
	if (kg_agents_connect(g, &as) == 0) {
		report_connect_failures(&as);
		kg_error("no gadget agent could be reached");
		goto out;
	}
	report_connect_failures(&as);
	if (kg_printer_new(a.output, stdout, &pr) < 0)
		goto out;
	s.as = &as;
	s.pr = pr;
	s.nodes = calloc(as.n, sizeof(*s.nodes));
	if (!s.nodes)
		goto out;
	sigfd = block_signals();
	at.instance = (char *)name;
	at.no_replay = a.no_replay;
	req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_ATTACH_INSTANCE;
	req.attach_instance = &at;
	for (i = 0; i < as.n; i++)
		if (kg_agent_connected(&as.v[i]) &&
		    kg_agent_send(&as.v[i], &req, &s.nodes[i].req_id) < 0)
			kg_agent_report(&as.v[i]);
	r = stream_all(&s, sigfd, 0);
	if (r == -EPIPE || s.out_err == -EPIPE) {
		ret = KG_EXIT_OK;
		goto out;
	}
	for (i = 0; i < as.n; i++)
		found += s.nodes[i].started;
	if (!found && !s.deleted) {
		for (i = 0; i < as.n && !as.v[i].error; i++)
			;
		if (i == as.n) {
			kg_error("no gadget instance named '%s' (see 'kubectl gadget list')", name);
			goto out;
		}
	}
	report_losses(&s);
	ret = r < 0 ? KG_EXIT_ERROR : exit_code(&s);
out:
	if (sigfd >= 0)
		close(sigfd);
	free(s.nodes);
	kg_printer_free(pr);
	kg_agents_done(&as);
	run_args_done(&a);
	return ret;
}
