// SPDX-License-Identifier: Apache-2.0
/*
 * run / attach of kubectl gadget and ig --remote: a gadget run by the agents
 * (every node's, or one host's daemon), its records merged.
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
 *
 * Records come in the gadget's own bytes (ENCODING_RAW, docs/api.md
 * "Record encodings") and are rendered by agent_raw_client as `ig run`
 * renders them; agents before protocol 1.2 send JSON, which the JSON
 * printer (printer.h) prints.
 *
 * The run flags are ig run's (run/flags.h): a cluster's container
 * selectors for kubectl gadget, the host's for ig --remote; --node exists
 * only on a cluster.
 */
#include "cli/client/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "agent/instance.h"
#include "agent/raw.h"
#include "base/parse.h"
#include "run/flags.h"
#include "run/selector.h"
#include "cli/client/agents.h"
#include "cli/client/printer.h"

#define RUN_MAX_TAGS 32
/* GetGadgetInfo may make the agent pull the image first. */
#define RUN_INFO_TIMEOUT_MS 120000
/* After Ctrl-C, how long the agents get to end their runs. */
#define RUN_STOP_GRACE_MS 3000
/* Past --timeout, how long before an agent that did not end its run is given up. */
#define RUN_END_GRACE_MS 60000
/* Most bytes of an instance name (a DNS label). */
#define RUN_MAX_NAME 63
/*
 * Record bytes a node may have in flight to this client (in the API
 * server's and the kubelet's buffers) before it counts the next batches as
 * dropped: a client that falls behind is seen at the node before those
 * buffers grow; acknowledged every quarter of it.
 */
#define CLIENT_WINDOW_BYTES (4u << 20)
/*
 * --sort timestamp on a tracer: how long records of every node are held to
 * be printed in the order of their timestamps (docs/kubectl-gadget.md).
 */
#define CLIENT_SORT_DELAY_MS 500
/* Records a node dropped for this client are told at most this often, per node. */
#define RUN_LOST_EVERY_MS 1000

/* the client's own run flags; the run flags themselves are run/flags.h's */
enum client_run_opt_id {
	R_NODE = RUN_FLAG_CLIENT_FIRST,
	R_DETACH,
	R_NAME,
	R_TAG,
	R_TAGS,
	R_NO_REPLAY,
	R_LOGS,
	R_LOGS_SIZE,
	R_LOGS_BACKUPS,
};

/* the first row, --node, is a cluster's only */
static const struct base_opt client_run_opts[] = {
	{"node", 0, BASE_OPT_VALUE, R_NODE, "NODE",
	 "only these nodes (repeatable, or a comma-separated list; default: every node)", 0},
	{"detach", 0, BASE_OPT_SWITCH, R_DETACH, NULL,
	 "create a detached gadget instance that runs without this client, and return", 0},
	{"name", 0, BASE_OPT_VALUE, R_NAME, "NAME",
	 "--detach: the instance's name (default: generated)", 0},
	{"tag", 0, BASE_OPT_VALUE, R_TAG, "TAG",
	 "--detach: a free-form tag for 'list' (repeatable)", 0},
	{"tags", 0, BASE_OPT_VALUE, R_TAGS, "TAG,...",
	 "--detach: comma-separated tags (Inspektor Gadget's spelling)", 0},
	{"logs", 0, BASE_OPT_VALUE, R_LOGS, "CHANNEL",
	 "--detach: the instance's records as JSON lines to none, stdout (the node's log "
	 "collector) or file (rotated, under the agent's logs.directory); default: the agent's "
	 "logs.channel",
	 0},
	{"logs-max-size-mb", 0, BASE_OPT_VALUE, R_LOGS_SIZE, "MB",
	 "--detach, --logs file: rotate the log past this size (default: the agent's)", 0},
	{"logs-max-backups", 0, BASE_OPT_VALUE, R_LOGS_BACKUPS, "N",
	 "--detach, --logs file: rotated files kept (default: the agent's)", 0},
};

static const struct base_opt client_attach_opts[] = {
	{"node", 0, BASE_OPT_VALUE, R_NODE, "NODE",
	 "only these nodes (repeatable, or a comma-separated list)", 0},
	{"no-replay", 0, BASE_OPT_SWITCH, R_NO_REPLAY, NULL, "only new records, not the ones kept",
	 0},
};

#define N_RUN_OPTS    (sizeof(client_run_opts) / sizeof(client_run_opts[0]))
#define N_ATTACH_OPTS (sizeof(client_attach_opts) / sizeof(client_attach_opts[0]))

struct base_opt_table client_run_own_opts(const struct client_front *f, bool attach)
{
	const struct base_opt *o = attach ? client_attach_opts : client_run_opts;
	size_t n = attach ? N_ATTACH_OPTS : N_RUN_OPTS;

	return f->cluster ? (struct base_opt_table){.opts = o, .n = n}
			  : (struct base_opt_table){.opts = o + 1, .n = n - 1};
}

struct run_args {
	struct run_flags f; /* the run flags and the gadget's params */
	const char *nodes[CLIENT_MAX_NODE_FLAGS];
	size_t n_nodes;
	char *node_text[CLIENT_MAX_NODE_FLAGS]; /* copies the names point into */
	size_t n_node_text;
	bool detach, no_replay;
	const char *name;
	const char *tags[RUN_MAX_TAGS];
	size_t n_tags;
	char *tags_text[RUN_MAX_TAGS]; /* copies --tags values are cut in */
	size_t n_tags_text;
	Gadget__Agent__V1__InstanceLogs logs; /* --logs* */
	bool has_logs;

	/* the params as GadgetSpec carries them */
	Gadget__Agent__V1__KeyValue kv[RUN_FLAGS_MAX_PARAMS];
	Gadget__Agent__V1__KeyValue *kvp[RUN_FLAGS_MAX_PARAMS];
	size_t n_kv;
};

static void run_args_done(struct run_args *a)
{
	size_t i;

	for (i = 0; i < a->n_node_text; i++)
		free(a->node_text[i]);
	for (i = 0; i < a->n_tags_text; i++)
		free(a->tags_text[i]);
	run_flags_done(&a->f);
}

/* --node a,b --node c */
static int add_nodes(struct run_args *a, const char *v, char *err, size_t errlen)
{
	char *copy, *p, *save = NULL;

	if (a->n_node_text == CLIENT_MAX_NODE_FLAGS)
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
		if (a->n_nodes == CLIENT_MAX_NODE_FLAGS)
			goto too_many;
		a->nodes[a->n_nodes++] = p;
	}
	return 0;
too_many:
	snprintf(err, errlen, "too many --node names (at most %d)", CLIENT_MAX_NODE_FLAGS);
	return -E2BIG;
}

/* One of the client's own run flags (run_flags_client_fn). */
static int set_opt(void *ctx, const struct base_opt *o, const char *v, char *err, size_t errlen)
{
	struct run_args *a = ctx;

	switch (o->id) {
	case R_NODE:
		return add_nodes(a, v, err, errlen);
	case R_DETACH:
		a->detach = !strcmp(v, "true");
		return 0;
	case R_NAME:
		a->name = v;
		return 0;
	case R_TAG:
		if (a->n_tags == RUN_MAX_TAGS) {
			snprintf(err, errlen, "too many tags (at most %d)", RUN_MAX_TAGS);
			return -E2BIG;
		}
		a->tags[a->n_tags++] = v;
		return 0;
	case R_TAGS: {
		char *copy, *p, *save = NULL;

		if (a->n_tags_text == RUN_MAX_TAGS) {
			snprintf(err, errlen, "too many tags (at most %d)", RUN_MAX_TAGS);
			return -E2BIG;
		}
		copy = strdup(v);
		if (!copy)
			return -ENOMEM;
		a->tags_text[a->n_tags_text++] = copy;
		for (p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
			if (a->n_tags == RUN_MAX_TAGS) {
				snprintf(err, errlen, "too many tags (at most %d)", RUN_MAX_TAGS);
				return -E2BIG;
			}
			a->tags[a->n_tags++] = p;
		}
		return 0;
	}
	case R_NO_REPLAY:
		a->no_replay = !strcmp(v, "true");
		return 0;
	case R_LOGS:
		if (strcmp(v, "none") && strcmp(v, "stdout") && strcmp(v, "file")) {
			snprintf(err, errlen, "invalid value '%s' for --logs: none, stdout or file",
				 v);
			return -EINVAL;
		}
		a->logs.channel = (char *)v;
		a->has_logs = true;
		return 0;
	case R_LOGS_SIZE:
	case R_LOGS_BACKUPS: {
		uint64_t n;
		uint64_t max = o->id == R_LOGS_SIZE ? AGENT_INSTANCE_MAX_LOG_MB
						    : AGENT_INSTANCE_MAX_LOG_BACKUPS;

		if (base_parse_uint(v, max, &n) < 0 || !n) {
			snprintf(err, errlen, "invalid value '%s' for %s: 1 to %llu", v,
				 base_opt_spelling(o), (unsigned long long)max);
			return -EINVAL;
		}
		if (o->id == R_LOGS_SIZE)
			a->logs.max_size_mb = (uint32_t)n;
		else
			a->logs.max_backups = (uint32_t)n;
		a->has_logs = true;
		return 0;
	}
	}
	snprintf(err, errlen, "%s: not handled", base_opt_spelling(o));
	return -EINVAL;
}

static int parse_args(const struct client_front *f, struct run_args *a, bool attach, int argc,
		      char **argv)
{
	unsigned int client = attach	   ? RUN_FLAGS_ATTACH
			      : f->cluster ? RUN_FLAGS_CLUSTER
					   : RUN_FLAGS_LOCAL;
	struct base_opt_table t = client_run_own_opts(f, attach);
	char err[CLIENT_ERRLEN];

	if (run_flags_parse(&a->f, client, &t, 1, set_opt, a, argc, argv, err, sizeof(err)) < 0) {
		client_error("%s", err);
		return -EINVAL;
	}
	return 0;
}

/* The second pass: the --key [value] left over must be the gadget's params. */
static int resolve_params(struct run_args *a, const struct agent_wire_desc *desc, int argc,
			  char **argv)
{
	char err[CLIENT_ERRLEN];
	size_t k;

	if (run_flags_params(&a->f, desc->help.params, desc->help.n_params, argc, argv, err,
			     sizeof(err)) < 0) {
		client_error("%s", err);
		return -EINVAL;
	}
	for (k = 0; k < a->f.n_params; k++) {
		gadget__agent__v1__key_value__init(&a->kv[k]);
		a->kv[k].key = (char *)a->f.params[k].key;
		a->kv[k].value = (char *)a->f.params[k].value;
		a->kvp[k] = &a->kv[k];
	}
	a->n_kv = a->f.n_params;
	return 0;
}

static void run_help(const struct client_front *f)
{
	struct base_opt_table t[2] = {
		run_flags_view(f->cluster ? RUN_FLAGS_CLUSTER : RUN_FLAGS_LOCAL),
		client_run_own_opts(f, false),
	};

	printf("Usage: %s run IMAGE [options] [--PARAM VALUE ...]\n\n", f->cmd);
	if (f->cluster)
		printf("Runs the gadget IMAGE on every node through the gadget agents (see\n"
		       "'%s deploy') and prints the records of all nodes as they come;\n"
		       "each record says its node in k8s.node.  IMAGE is what the agents run: a\n"
		       "short name of an image in their store (trace_exec, trace_open:latest) or "
		       "a\n"
		       "full reference they pull (ghcr.io/org/gadget:v1).\n\n"
		       "Which pods: those of -n NS (or the context's namespace), of every "
		       "namespace\n"
		       "with -A, narrowed by -p, -c and -l; --node limits the nodes.  A node that\n"
		       "fails is reported on stderr (\"node-2: ...\") and the others go on; the "
		       "exit\n"
		       "code is then 1.  Ctrl-C stops the gadget everywhere.\n\nOptions:\n",
		       f->cmd);
	else
		printf("Runs the gadget IMAGE in the host's gadget daemon ('ig daemon') and "
		       "prints\n"
		       "its records as 'ig run' does: the same flags, the same output.  IMAGE is\n"
		       "what the daemon runs: a short name of an image in its store (trace_exec,\n"
		       "trace_open:latest) or a full reference it pulls (ghcr.io/org/gadget:v1).\n"
		       "With --detach the gadget keeps running in the daemon, across client exits\n"
		       "and daemon restarts ('%s list', 'attach', 'delete').  Ctrl-C stops\n"
		       "a streaming run.\n\nOptions:\n",
		       f->cmd);
	base_opt_help(stdout, t, 2);
	printf("\n'%s run IMAGE --help' also lists the params and fields of IMAGE\n"
	       "(asked from %s).\n",
	       f->cmd, f->cluster ? "one agent" : "the daemon");
	if (f->cluster)
		printf("\nDifferences from Inspektor Gadget, on purpose: -t also takes units (5s,\n"
		       "500ms); regexes are RE2 syntax run by PCRE2 under limits (back-references\n"
		       "refused); -E/--filter-expr, --id, --event-buffer-length, --pull and\n"
		       "--verify-image are not taken: pulling and verifying are the agents' "
		       "policy.\n"
		       "\nExamples:\n"
		       "  %1$s run trace_exec -n shop\n"
		       "  %1$s run trace_exec -A -o json --timeout 10s\n"
		       "  %1$s run trace_open -n shop -p web-1 --failed --fields comm,fname\n"
		       "  %1$s run trace_tcp -A --node node-1,node-2\n"
		       "  %1$s run trace_exec -n shop --detach --name execs --tag audit\n",
		       f->cmd);
	else
		printf("\nExamples:\n"
		       "  %1$s run trace_exec\n"
		       "  %1$s run trace_open -o json --failed --timeout 10s\n"
		       "  %1$s run trace_exec -c web --detach --name execs --tag audit\n",
		       f->cmd);
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
	int raw; /* its index in the raw printer, -1: it sends JSON */
	uint64_t lost_untold;
	int64_t lost_told_ms;
	uint64_t taken, acked; /* record bytes, for RecordsAck */
};

struct stream {
	struct client_agents *as;
	struct run_node *nodes;
	struct client_printer *pr;    /* records as JSON (agents before protocol 1.2) */
	struct agent_raw_client *raw; /* the gadget's own records (docs/api.md) */
	bool compress;		      /* ask for zstd-compressed batches (client_front) */
	enum run_output output;
	bool no_header;
	unsigned int sort_delay_ms; /* --sort timestamp across nodes */
	const char *fields;	    /* attach: --fields for the instance's records */
	bool attach;
	bool stopping;
	bool deleted; /* attach: the instance was deleted */
	size_t invalid;
	int out_err;
};

static struct run_node *node_of(struct stream *s, struct client_agent *a)
{
	return &s->nodes[a - s->as->v];
}

static void send_stop(struct client_agent *a, struct run_node *n)
{
	Gadget__Agent__V1__StopRun stop = GADGET__AGENT__V1__STOP_RUN__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;

	if (n->stop_sent || n->ended || !client_agent_connected(a))
		return;
	stop.run_id = n->run_id;
	req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_STOP_RUN;
	req.stop_run = &stop;
	n->stop_sent = true;
	client_agent_send(a, &req, NULL);
}

/* 1234567 -> "1,234,567" */
static const char *commas(uint64_t v, char *buf, size_t len)
{
	char digits[24];
	size_t n = (size_t)snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v), i,
	       o = 0;

	for (i = 0; i < n && o + 2 < len; i++) {
		if (i && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

/* What a node says this client missed: the larger of the sum and its total. */
static void count_dropped(struct run_node *n, uint64_t sum, uint64_t total)
{
	uint64_t now = sum > total ? sum : total;

	n->lost_untold += now - n->dropped;
	n->dropped = now;
}

/* "node-2: 1,234 records lost ...", at most once a second per node, and at the end. */
static void tell_lost(struct client_agent *a, struct run_node *n, bool now)
{
	char num[32];
	int64_t t = client_now_ms();

	if (!n->lost_untold || (!now && t - n->lost_told_ms < RUN_LOST_EVERY_MS))
		return;
	fflush(stdout);
	fprintf(stderr, "%s: %s: %s records lost: this client did not read them fast enough\n",
		client_prog, a->node, commas(n->lost_untold, num, sizeof(num)));
	n->lost_untold = 0;
	n->lost_told_ms = t;
}

static int on_raw_records(struct stream *s, struct client_agent *a, struct run_node *n,
			  const Gadget__Agent__V1__RecordBatch *b)
{
	char err[CLIENT_ERRLEN];
	uint64_t before = agent_raw_client_records(s->raw);
	int r = agent_raw_client_batch(s->raw, n->raw, b, err, sizeof(err));

	n->records += agent_raw_client_records(s->raw) - before;
	if (r == -EINVAL) {
		/* a node that sends what cannot be read is dropped; the others go on */
		client_agent_fail(a, -EPROTO, "a malformed record batch: %s", err);
		client_agent_report(a);
		return 0;
	}
	if (r >= 0)
		r = agent_raw_client_flush(s->raw);
	if (r < 0)
		s->out_err = r;
	return r;
}

/* Tells the node what this client has taken, every quarter of the window. */
static void ack(struct client_agent *a, struct run_node *n, const Gadget__Agent__V1__RecordBatch *b)
{
	Gadget__Agent__V1__RecordsAck ra = GADGET__AGENT__V1__RECORDS_ACK__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	size_t i;

	n->taken += b->raw.len;
	for (i = 0; i < b->n_records; i++)
		n->taken += b->records[i].len;
	if (n->taken - n->acked < CLIENT_WINDOW_BYTES / 4 || !client_agent_connected(a))
		return;
	ra.run_id = n->run_id;
	ra.bytes = n->taken;
	req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_RECORDS_ACK;
	req.records_ack = &ra;
	if (client_agent_send(a, &req, NULL) >= 0)
		n->acked = n->taken;
}

static int on_records(struct stream *s, struct client_agent *a, struct run_node *n,
		      const Gadget__Agent__V1__RecordBatch *b)
{
	size_t i;
	int r;

	count_dropped(n, n->dropped + b->dropped_before, b->dropped_total);
	if (b->kernel_lost > n->kernel_lost)
		n->kernel_lost = b->kernel_lost;
	tell_lost(a, n, false);
	if (n->raw >= 0) {
		r = on_raw_records(s, a, n, b);
		if (r >= 0)
			ack(a, n, b);
		return r;
	}
	for (i = 0; i < b->n_records; i++) {
		r = client_printer_record(s->pr, b->data_source, b->fetch, b->records[i].data,
					  b->records[i].len);
		if (r < 0) {
			s->out_err = r;
			return r;
		}
		n->records++;
	}
	r = client_printer_flush(s->pr);
	if (r < 0)
		s->out_err = r;
	else
		ack(a, n, b);
	return r;
}

static void on_ended(struct stream *s, struct client_agent *a, struct run_node *n,
		     const Gadget__Agent__V1__RunEnded *e)
{
	n->ended = true;
	count_dropped(n, n->dropped, e->dropped_total);
	if (e->kernel_lost > n->kernel_lost)
		n->kernel_lost = e->kernel_lost;
	switch (e->reason) {
	case GADGET__AGENT__V1__RUN_END_REASON__RUN_END_ERROR:
		client_agent_fail(a, -EIO, "the gadget failed: %s",
				  client_agent_error_text(e->error));
		client_agent_report(a);
		return;
	case GADGET__AGENT__V1__RUN_END_REASON__RUN_END_SHUTDOWN:
		client_agent_fail(a, -ESHUTDOWN, "the agent is shutting down: the run ended early");
		client_agent_report(a);
		return;
	case GADGET__AGENT__V1__RUN_END_REASON__RUN_END_DELETED:
		if (!s->deleted) {
			fflush(stdout);
			fprintf(stderr, "%s: the instance was deleted\n", client_prog);
		}
		s->deleted = true;
		break;
	default:
		break;
	}
	/* nothing more will come about this run */
	client_agent_close(a);
}

/* A node that sends the gadget's own records: the raw printer learns them. */
static void on_raw_started(struct stream *s, struct client_agent *a, struct run_node *n,
			   const Gadget__Agent__V1__RunStarted *rs)
{
	struct agent_raw_client_opts o = {
		.sz = sizeof(o),
		.output = s->output,
		.fields = s->fields,
		.no_header = s->no_header,
		.out_fd = STDOUT_FILENO,
		.sort_delay_ms = s->sort_delay_ms,
	};
	char err[CLIENT_ERRLEN];
	bool first = !s->raw;
	int r;

	if (!s->raw && agent_raw_client_new(&o, &s->raw) < 0) {
		client_agent_fail(a, -ENOMEM, "%s", strerror(ENOMEM));
		client_agent_report(a);
		return;
	}
	r = agent_raw_client_started(s->raw, a->node, rs, err, sizeof(err));
	if (r < 0) {
		client_agent_fail(a, r, "%s", err[0] ? err : strerror(-r));
		client_agent_report(a);
		if (r == -EINVAL && first && strstr(err, "field"))
			s->invalid++;
		return;
	}
	n->raw = r;
	if (first) {
		/* what is on stdout already (the JSON printer's) goes first */
		client_printer_flush(s->pr);
		if (agent_raw_client_begin(s->raw) < 0 || agent_raw_client_flush(s->raw) < 0)
			s->out_err = -EPIPE;
	}
	if (s->stopping)
		send_stop(a, n);
}

static int on_response(void *ud, struct client_agent *a, Gadget__Agent__V1__Response *m)
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
			client_agent_close(a);
			return 0;
		}
		if (m->error->code == GADGET__AGENT__V1__ERROR_CODE__ERROR_INVALID_PARAM)
			s->invalid++;
		client_agent_fail(a, -EINVAL, "%s", client_agent_error_text(m->error));
		client_agent_report(a);
		return 0;
	case GADGET__AGENT__V1__RESPONSE__PAYLOAD_RUN_STARTED:
		n->started = true;
		n->run_id = m->run_started->run_id;
		if (m->run_started->encoding == GADGET__AGENT__V1__RECORD_ENCODING__ENCODING_RAW) {
			on_raw_started(s, a, n, m->run_started);
			return 0;
		}
		if (!client_printer_has_info(s->pr) && m->run_started->info) {
			char err[CLIENT_ERRLEN] = "";

			if (client_printer_set_info(s->pr, m->run_started->info, s->fields, err,
						    sizeof(err)) < 0)
				client_warn("%s", err);
		}
		if (client_printer_has_info(s->pr) && client_printer_begin(s->pr) < 0)
			s->out_err = -EPIPE;
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

static void on_closed(void *ud, struct client_agent *a)
{
	struct stream *s = ud;

	if (!node_of(s, a)->ended)
		client_agent_report(a);
}

/*
 * Drives the streams until every node ended, the output went away, or a
 * signal: then StopRun to every node and a short wait for their RunEnded.
 */
/* --sort timestamp: the held records whose time came. */
static int sort_tick(void *ud)
{
	struct stream *s = ud;
	int r;

	if (!s->raw || !s->sort_delay_ms)
		return 0;
	r = agent_raw_client_tick(s->raw, (uint64_t)client_now_ms(), false);
	if (r < -1) {
		s->out_err = r;
		return r;
	}
	return 0;
}

static int stream_all(struct stream *s, int sigfd, uint64_t timeout_ms)
{
	struct client_loop l = {
		.on_response = on_response,
		.on_closed = on_closed,
		.tick = sort_tick,
		.tick_ms = s->sort_delay_ms ? 50 : 0,
		.ud = s,
		.sigfd = sigfd,
		/* a run ends itself at its timeout; an attach is ended here, at once */
		.deadline_ms = !timeout_ms ? 0
			       : s->attach
				       ? client_now_ms() + (int64_t)timeout_ms
				       : client_now_ms() + (int64_t)timeout_ms + RUN_END_GRACE_MS,
	};
	size_t i;
	int r;

	r = client_agents_loop(s->as, &l);
	if (r == -EINTR || r == -ETIMEDOUT) {
		if (r == -ETIMEDOUT && !s->attach)
			for (i = 0; i < s->as->n; i++)
				if (client_agent_connected(&s->as->v[i]) && !s->nodes[i].ended) {
					client_agent_fail(
						&s->as->v[i], -ETIMEDOUT,
						"the run did not end %d s after its timeout",
						RUN_END_GRACE_MS / 1000);
					client_agent_report(&s->as->v[i]);
				}
		s->stopping = true;
		for (i = 0; i < s->as->n; i++)
			if (s->nodes[i].started)
				send_stop(&s->as->v[i], &s->nodes[i]);
		/* a second Ctrl-C, or the grace period, ends it at once */
		l.deadline_ms = client_now_ms() + RUN_STOP_GRACE_MS;
		r = client_agents_loop(s->as, &l);
	}
	/* closing a session stops whatever still runs on it */
	for (i = 0; i < s->as->n; i++)
		client_agent_close(&s->as->v[i]);
	if (r == -EINTR || r == -ETIMEDOUT)
		r = 0;
	/* what the sort still holds goes out, in order */
	if (s->raw && s->sort_delay_ms && !s->out_err) {
		int t = agent_raw_client_tick(s->raw, (uint64_t)client_now_ms(), true);

		if (t < -1)
			s->out_err = t;
	}
	return r;
}

static void report_losses(struct stream *s)
{
	size_t i;

	for (i = 0; i < s->as->n; i++) {
		const struct run_node *n = &s->nodes[i];
		const char *node = s->as->v[i].node;

		if (n->lost_untold)
			tell_lost(&s->as->v[i], &s->nodes[i], true);
		if (n->kernel_lost)
			client_warn("%s: %llu records lost in the kernel (ring buffer full)", node,
				    (unsigned long long)n->kernel_lost);
	}
}

/* 0 when no node failed, CLIENT_EXIT_USAGE when all that failed refused the params. */
static int exit_code(struct stream *s)
{
	size_t i, failed = 0;

	for (i = 0; i < s->as->n; i++) {
		client_agent_report(&s->as->v[i]);
		failed += s->as->v[i].error != 0;
	}
	if (!failed)
		return CLIENT_EXIT_OK;
	return s->invalid == failed ? CLIENT_EXIT_USAGE : CLIENT_EXIT_ERROR;
}

/* ---- run ---- */

/*
 * Asks the agents in turn (one answer is enough) what IMAGE is; with a (the
 * parsed command line), also whether its params, fields, filters and sort
 * are good, as a run would check them.
 */
static int gadget_info(struct client_agents *as, const char *image, const struct run_args *a,
		       Gadget__Agent__V1__Response **ret)
{
	Gadget__Agent__V1__GetGadgetInfo gi = GADGET__AGENT__V1__GET_GADGET_INFO__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	size_t i;
	int r = -ENOTCONN;

	gi.image = (char *)image;
	if (a) {
		gi.params = (Gadget__Agent__V1__KeyValue **)a->kvp;
		gi.n_params = a->n_kv;
		gi.fields = a->f.fields ? (char *)a->f.fields : "";
		gi.filters = (char **)a->f.filters;
		gi.n_filters = a->f.n_filters;
		gi.sort = a->f.sort ? (char *)a->f.sort : "";
		gi.annotate = (char **)a->f.annotate;
		gi.n_annotate = a->f.n_annotate;
		gi.otel_metrics_name = (char **)a->f.metrics_names;
		gi.n_otel_metrics_name = a->f.n_metrics_names;
	}
	req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_GET_GADGET_INFO;
	req.get_gadget_info = &gi;
	for (i = 0; i < as->n; i++) {
		struct client_agent *ag = &as->v[i];

		if (!client_agent_connected(ag))
			continue;
		r = client_agent_call(ag, &req, RUN_INFO_TIMEOUT_MS, ret);
		if (r >= 0)
			return 0;
		if (!ag->error)
			client_agent_fail(ag, r, "no answer about the gadget: %s", strerror(-r));
		client_agent_report(ag);
	}
	return r;
}

/*
 * The selector of GadgetSpec, from the run flags (labels already parsed
 * there): a cluster's -n/-A, -p, -c, -l, or a host's -c (the runtime's
 * container name), --k8s-namespace, --k8s-podname, --k8s-containername,
 * --k8s-selector and --host.
 */
static void build_selector(const struct client_front *f, const struct run_args *a,
			   Gadget__Agent__V1__Selector *ps, Gadget__Agent__V1__KeyValue *lkv,
			   Gadget__Agent__V1__KeyValue **lkvp)
{
	const struct run_selector *sel = &a->f.sel;
	size_t i;

	ps->podname = sel->k8s_podname ? (char *)sel->k8s_podname : "";
	ps->containername = sel->k8s_containername ? (char *)sel->k8s_containername : "";
	if (!f->cluster) {
		ps->namespace_ = sel->k8s_namespace ? (char *)sel->k8s_namespace : "";
		ps->runtime_containername = sel->container_name ? (char *)sel->container_name : "";
		ps->host = a->f.host;
	}
	for (i = 0; i < sel->n_labels; i++) {
		gadget__agent__v1__key_value__init(&lkv[i]);
		lkv[i].key = (char *)sel->labels[i].key;
		lkv[i].value = (char *)sel->labels[i].value;
		lkvp[i] = &lkv[i];
	}
	ps->labels = lkvp;
	ps->n_labels = sel->n_labels;
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
			rnd[i] = (unsigned char)(client_now_ms() >> (i * 5));
	out[n++] = '-';
	for (i = 0; i < sizeof(rnd); i++)
		out[n++] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
	out[n] = '\0';
}

/* CreateInstance through the first agent that answers (a host's daemon). */
static int create_through_agent(struct client_agents *as, const Gadget__Agent__V1__InstanceSpec *is)
{
	Gadget__Agent__V1__CreateInstance ci = GADGET__AGENT__V1__CREATE_INSTANCE__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	Gadget__Agent__V1__Response *m = NULL;
	int ret = CLIENT_EXIT_ERROR, r = -ENOTCONN;
	size_t i;

	ci.spec = (Gadget__Agent__V1__InstanceSpec *)is;
	req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_CREATE_INSTANCE;
	req.create_instance = &ci;
	for (i = 0; i < as->n; i++) {
		if (!client_agent_connected(&as->v[i]))
			continue;
		r = client_agent_call(&as->v[i], &req, RUN_INFO_TIMEOUT_MS, &m);
		if (r >= 0)
			break;
		client_agent_report(&as->v[i]);
	}
	if (r < 0) {
		client_error("no agent could create the instance");
		return CLIENT_EXIT_ERROR;
	}
	if (m->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_INSTANCE) {
		printf("gadget instance %s created (id %s)\n",
		       m->instance->spec && *m->instance->spec->name ? m->instance->spec->name
								     : is->name,
		       m->instance->id);
		ret = CLIENT_EXIT_OK;
	} else if (m->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_ERROR) {
		client_error("cannot create the gadget instance '%s': %s", is->name,
			     client_agent_error_text(m->error));
		if (m->error->code == GADGET__AGENT__V1__ERROR_CODE__ERROR_INVALID_PARAM ||
		    m->error->code == GADGET__AGENT__V1__ERROR_CODE__ERROR_BAD_REQUEST)
			ret = CLIENT_EXIT_USAGE;
	} else {
		client_error("unexpected answer %s to CreateInstance",
			     agent_wire_response_name(m->payload_case));
	}
	agent_wire_response_free(m);
	return ret;
}

/*
 * The agents have checked the gadget, its params and filters already
 * (GetGadgetInfo).  In a cluster the instance is a ConfigMap the user
 * writes with their own credentials (f->create_instance), which the agents
 * read to run it; a host's daemon creates it itself (CreateInstance).
 */
static int run_detach(const struct client_front *f, struct client_agents *as, struct run_args *a,
		      Gadget__Agent__V1__GadgetSpec *spec)
{
	Gadget__Agent__V1__InstanceSpec is = GADGET__AGENT__V1__INSTANCE_SPEC__INIT;
	char name[RUN_MAX_NAME + 1];

	if (a->name)
		snprintf(name, sizeof(name), "%s", a->name);
	else
		make_name(a->f.gadget, name, sizeof(name));
	is.name = name;
	is.gadget = spec;
	is.nodes = (char **)a->nodes;
	is.n_nodes = a->n_nodes;
	is.tags = (char **)a->tags;
	is.n_tags = a->n_tags;
	if (a->has_logs)
		is.logs = &a->logs;
	if (f->create_instance)
		return f->create_instance(f->ctx, &is);
	return create_through_agent(as, &is);
}

/* The per-node state of s, every node JSON until it says otherwise. */
static int stream_init(const struct client_front *f, struct stream *s, struct client_agents *as,
		       struct client_printer *pr, const struct run_args *a)
{
	size_t i;

	s->as = as;
	s->compress = f->compress;
	s->pr = pr;
	s->output = a->f.output;
	s->no_header = a->f.no_header;
	/* tracers' records sort by time across nodes; fetches are sorted by each node */
	if (a->f.sort && (!strcmp(a->f.sort, "timestamp") || !strcmp(a->f.sort, "timestamp_raw")))
		s->sort_delay_ms = CLIENT_SORT_DELAY_MS;
	s->fields = a->f.fields;
	s->nodes = calloc(as->n ? as->n : 1, sizeof(*s->nodes));
	if (!s->nodes)
		return -ENOMEM;
	for (i = 0; i < as->n; i++)
		s->nodes[i].raw = -1;
	return 0;
}

static void stream_done(struct stream *s)
{
	free(s->nodes);
	s->nodes = NULL;
	s->raw = agent_raw_client_free(s->raw);
}

static int run_stream(const struct client_front *f, struct client_agents *as,
		      struct client_printer *pr, const struct run_args *a,
		      Gadget__Agent__V1__GadgetSpec *spec, uint64_t timeout_ms)
{
	Gadget__Agent__V1__RunGadget rg = GADGET__AGENT__V1__RUN_GADGET__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	struct stream s = {0};
	int sigfd, r, ret;
	size_t i;

	if (stream_init(f, &s, as, pr, a) < 0) {
		client_error("out of memory");
		return CLIENT_EXIT_ERROR;
	}
	sigfd = client_block_signals();
	rg.spec = spec;
	rg.encoding = GADGET__AGENT__V1__RECORD_ENCODING__ENCODING_RAW;
	rg.compress = s.compress;
	rg.window_bytes = CLIENT_WINDOW_BYTES;
	req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_RUN_GADGET;
	req.run_gadget = &rg;
	for (i = 0; i < as->n; i++) {
		if (!client_agent_connected(&as->v[i]))
			continue;
		if (client_agent_send(&as->v[i], &req, &s.nodes[i].req_id) < 0)
			client_agent_report(&as->v[i]);
	}
	r = stream_all(&s, sigfd, timeout_ms);
	if (sigfd >= 0)
		close(sigfd);
	if (r == -EPIPE || s.out_err == -EPIPE) {
		/* the reader went away (| head): not an error */
		stream_done(&s);
		return CLIENT_EXIT_OK;
	}
	if (r < 0)
		client_error("%s", strerror(-r));
	report_losses(&s);
	ret = r < 0 ? CLIENT_EXIT_ERROR : exit_code(&s);
	stream_done(&s);
	return ret;
}

int client_cmd_run(const struct client_front *f, int argc, char **argv)
{
	struct run_args a = {0};
	Gadget__Agent__V1__Selector ps = GADGET__AGENT__V1__SELECTOR__INIT;
	Gadget__Agent__V1__GadgetSpec spec = GADGET__AGENT__V1__GADGET_SPEC__INIT;
	Gadget__Agent__V1__KeyValue lkv[RUN_SELECTOR_MAX_LABELS];
	Gadget__Agent__V1__KeyValue *lkvp[RUN_SELECTOR_MAX_LABELS];
	Gadget__Agent__V1__Response *info = NULL, *checked = NULL;
	struct agent_wire_desc *desc = NULL;
	struct client_agents as = {0};
	struct client_printer *pr = NULL;
	char err[CLIENT_ERRLEN] = "", *fields = NULL, cmd[256];
	int ret = CLIENT_EXIT_USAGE;

	snprintf(cmd, sizeof(cmd), "%s run", f->cmd);
	run_flags_init(&a.f, cmd);
	gadget__agent__v1__instance_logs__init(&a.logs);
	if (parse_args(f, &a, false, argc, argv) < 0)
		goto out;
	if (!a.f.gadget) {
		if (a.f.help) {
			run_help(f);
			ret = CLIENT_EXIT_OK;
		} else {
			client_error("which gadget? usage: %s IMAGE [options] (see '%s --help')",
				     cmd, cmd);
		}
		goto out;
	}
	if (a.detach && a.f.timeout_ms) {
		client_error("--timeout does not go with --detach: an instance runs until deleted");
		goto out;
	}
	if (!f->cluster && (a.f.metrics_listen || a.f.metrics_listen_address)) {
		client_error("--otel-metrics-listen is the daemon's to set (otel-metrics-listen in "
			     "its configuration): its metrics endpoint serves every run");
		goto out;
	}
	if ((a.name || a.n_tags || a.has_logs) && !a.detach) {
		client_error("--name, --tag and --logs are for --detach");
		goto out;
	}
	if (a.name && !dns_label(a.name)) {
		client_error(
			"invalid instance name '%s': lower-case letters, digits and '-', at most "
			"%d, starting and ending with a letter or digit",
			a.name, RUN_MAX_NAME);
		goto out;
	}
	build_selector(f, &a, &ps, lkv, lkvp);

	ret = CLIENT_EXIT_ERROR;
	if (f->connect(f->ctx, a.nodes, a.n_nodes, a.f.help, &as) < 0) {
		if (a.f.help)
			run_help(f);
		goto out;
	}
	/* the context's namespace is known now that the kubeconfig is loaded */
	if (f->cluster)
		ps.namespace_ = a.f.all_namespaces ? "" : (char *)f->namespace_(f->ctx);
	if (gadget_info(&as, a.f.gadget, NULL, &info) < 0) {
		client_error("no agent could tell what the gadget %s is", a.f.gadget);
		goto out;
	}
	if (info->payload_case != GADGET__AGENT__V1__RESPONSE__PAYLOAD_GADGET_INFO) {
		if (info->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_ERROR)
			client_error("%s: %s", a.f.gadget, client_agent_error_text(info->error));
		else
			client_error("unexpected answer %s to GetGadgetInfo",
				     agent_wire_response_name(info->payload_case));
		goto out;
	}
	if (agent_wire_desc_new(info->gadget_info, &desc) < 0) {
		client_error("out of memory");
		goto out;
	}
	if (a.f.help) {
		run_help(f);
		run_help_gadget(stdout, &desc->help);
		ret = CLIENT_EXIT_OK;
		goto out;
	}
	ret = CLIENT_EXIT_USAGE;
	if (resolve_params(&a, desc, argc, argv) < 0)
		goto out;
	if (client_printer_new(a.f.output, a.f.no_header, stdout, &pr) < 0 ||
	    client_printer_set_info(pr, info->gadget_info, a.f.fields, err, sizeof(err)) < 0) {
		client_error("%s", err[0] ? err : "out of memory");
		goto out;
	}
	if (a.n_kv || a.f.n_filters || a.f.sort || a.f.fields || a.f.n_annotate ||
	    a.f.n_metrics_names) {
		/*
		 * The agent checks the params, fields, filters and sort as a
		 * run would, before anything starts.  The param keys point into
		 * the first answer, which stays until the end.
		 */
		if (gadget_info(&as, a.f.gadget, &a, &checked) < 0) {
			ret = CLIENT_EXIT_ERROR;
			goto out;
		}
		if (checked->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_ERROR) {
			client_error("%s", client_agent_error_text(checked->error));
			if (checked->error->code !=
			    GADGET__AGENT__V1__ERROR_CODE__ERROR_INVALID_PARAM)
				ret = CLIENT_EXIT_ERROR;
			goto out;
		}
	}

	spec.image = (char *)a.f.gadget;
	spec.params = a.kvp;
	spec.n_params = a.n_kv;
	spec.selector = &ps;
	/* an instance is not printed here: it keeps the fields as the user gave them */
	fields = a.detach ? (a.f.fields ? strdup(a.f.fields) : NULL)
			  : client_printer_spec_fields(pr, a.f.fields);
	spec.fields = fields ? fields : "";
	spec.filters = (char **)a.f.filters;
	spec.n_filters = a.f.n_filters;
	spec.sort = a.f.sort ? (char *)a.f.sort : "";
	spec.max_entries = a.f.max_entries;
	/* 0: the agent takes the gadget's own default (paramDefaults), else 1s */
	spec.map_fetch_interval_ms = a.f.fetch_interval_set ? a.f.fetch_interval_ms : 0;
	spec.map_fetch_count = a.f.fetch_count;
	spec.timeout_ms = a.f.timeout_ms;
	spec.annotate = (char **)a.f.annotate;
	spec.n_annotate = a.f.n_annotate;
	spec.otel_metrics_name = (char **)a.f.metrics_names;
	spec.n_otel_metrics_name = a.f.n_metrics_names;
	if (a.detach)
		ret = run_detach(f, &as, &a, &spec);
	else
		ret = run_stream(f, &as, pr, &a, &spec, a.f.timeout_ms);
out:
	free(fields);
	agent_wire_desc_free(desc);
	agent_wire_response_free(checked);
	agent_wire_response_free(info);
	client_printer_free(pr);
	client_agents_done(&as);
	run_args_done(&a);
	return ret;
}

/* ---- attach ---- */

static void attach_help(const struct client_front *f)
{
	struct base_opt_table t[2] = {
		run_flags_view(RUN_FLAGS_ATTACH),
		client_run_own_opts(f, true),
	};

	printf("Usage: %1$s attach NAME|ID [options]\n\n"
	       "Shows the records of the detached gadget instance NAME (or whose id is ID or\n"
	       "starts with it; see '%1$s run --detach' and '%1$s list')\n"
	       "from every %2$s it runs on: first the records %3$s kept, then new ones\n"
	       "as they come.  Ctrl-C detaches (so does the end of --timeout); the instance\n"
	       "keeps running.%4$s\n\nOptions:\n",
	       f->cmd, f->cluster ? "node" : "daemon", f->cluster ? "each agent" : "the daemon",
	       f->cluster ? "  Also 'a'." : "");
	base_opt_help(stdout, t, 2);
}

/*
 * Attaches to target on every agent until Ctrl-C or the instance's end.
 * CLIENT_EXIT_* after reporting, or -ENOENT (not reported) when every agent
 * answered that it has no such instance.
 */
static int attach_once(const struct client_front *f, struct run_args *a, const char *target)
{
	Gadget__Agent__V1__AttachInstance at = GADGET__AGENT__V1__ATTACH_INSTANCE__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	struct client_agents as = {0};
	struct stream s = {0};
	struct client_printer *pr = NULL;
	int ret = CLIENT_EXIT_ERROR, sigfd = -1, r;
	size_t i, found = 0;

	if (f->connect(f->ctx, a->nodes, a->n_nodes, false, &as) < 0)
		goto out;
	if (client_printer_new(a->f.output, a->f.no_header, stdout, &pr) < 0)
		goto out;
	if (stream_init(f, &s, &as, pr, a) < 0)
		goto out;
	s.attach = true;
	sigfd = client_block_signals();
	at.instance = (char *)target;
	at.no_replay = a->no_replay;
	at.encoding = GADGET__AGENT__V1__RECORD_ENCODING__ENCODING_RAW;
	at.compress = s.compress;
	at.window_bytes = CLIENT_WINDOW_BYTES;
	req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_ATTACH_INSTANCE;
	req.attach_instance = &at;
	for (i = 0; i < as.n; i++)
		if (client_agent_connected(&as.v[i]) &&
		    client_agent_send(&as.v[i], &req, &s.nodes[i].req_id) < 0)
			client_agent_report(&as.v[i]);
	r = stream_all(&s, sigfd, a->f.timeout_ms);
	if (r == -EPIPE || s.out_err == -EPIPE) {
		ret = CLIENT_EXIT_OK;
		goto out;
	}
	for (i = 0; i < as.n; i++)
		found += s.nodes[i].started;
	if (!found && !s.deleted) {
		for (i = 0; i < as.n && !as.v[i].error; i++)
			;
		if (i == as.n) {
			ret = -ENOENT;
			goto out;
		}
	}
	report_losses(&s);
	ret = r < 0 ? CLIENT_EXIT_ERROR : exit_code(&s);
out:
	if (sigfd >= 0)
		close(sigfd);
	stream_done(&s);
	client_printer_free(pr);
	client_agents_done(&as);
	return ret;
}

int client_cmd_attach(const struct client_front *f, int argc, char **argv)
{
	struct run_args a = {0};
	const char *name = NULL;
	char *id = NULL, *iname = NULL, cmd[256];
	int ret = CLIENT_EXIT_USAGE;

	snprintf(cmd, sizeof(cmd), "%s attach", f->cmd);
	run_flags_init(&a.f, cmd);
	if (parse_args(f, &a, true, argc, argv) < 0)
		goto out;
	name = a.f.gadget;
	if (a.f.n_unknown || a.f.n_words) {
		int extra = a.f.n_unknown ? a.f.unknown[0].argi : a.f.words[0];

		client_error("unexpected argument '%s' (see '%s --help')", argv[extra], cmd);
		goto out;
	}
	if (a.f.help) {
		attach_help(f);
		ret = CLIENT_EXIT_OK;
		goto out;
	}
	if (!name || !*name) {
		client_error("which instance? usage: %s NAME|ID", cmd);
		goto out;
	}
	/* a name or a whole id the agents know at once; a prefix of an id after a list */
	ret = attach_once(f, &a, name);
	if (ret == -ENOENT) {
		ret = CLIENT_EXIT_ERROR;
		if (client_instance_resolve(f, name, &id, &iname) == 0) {
			ret = strcmp(id, name) ? attach_once(f, &a, id) : -ENOENT;
			if (ret == -ENOENT) {
				client_error("no gadget instance named '%s' (see '%s list')", name,
					     f->cmd);
				ret = CLIENT_EXIT_ERROR;
			}
		}
	}
out:
	free(id);
	free(iname);
	run_args_done(&a);
	return ret;
}
