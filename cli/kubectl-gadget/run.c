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

#include "agent/raw.h"
#include "run/flags.h"
#include "run/selector.h"
#include "cli/kubectl-gadget/agents.h"
#include "cli/kubectl-gadget/output.h"

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
/* Records a node dropped for this client are told at most this often, per node. */
#define RUN_LOST_EVERY_MS 1000

/* KG_COMPRESS_RECORDS, unless the benchmark set KG_BENCH_COMPRESS to 0 or 1. */
static bool compress_records(void)
{
	const char *e = getenv(KG_BENCH_COMPRESS_ENV);

	if (e && (!strcmp(e, "0") || !strcmp(e, "1")))
		return *e == '1';
	return KG_COMPRESS_RECORDS;
}

/* kubectl gadget's own run flags; the run flags themselves are run/flags.h's */
enum kg_run_opt_id {
	R_NODE = RUN_FLAG_CLIENT_FIRST,
	R_DETACH,
	R_NAME,
	R_TAG,
	R_NO_REPLAY,
};

static const struct base_opt kg_run_opts[] = {
	{"node", 0, BASE_OPT_VALUE, R_NODE, "NODE",
	 "only these nodes (repeatable, or a comma-separated list; default: every node)", 0},
	{"detach", 0, BASE_OPT_SWITCH, R_DETACH, NULL,
	 "create a detached gadget instance that runs without this client, and return", 0},
	{"name", 0, BASE_OPT_VALUE, R_NAME, "NAME",
	 "--detach: the instance's name (default: generated)", 0},
	{"tag", 0, BASE_OPT_VALUE, R_TAG, "TAG",
	 "--detach: a free-form tag for 'list' (repeatable)", 0},
};

static const struct base_opt kg_attach_opts[] = {
	{"node", 0, BASE_OPT_VALUE, R_NODE, "NODE",
	 "only these nodes (repeatable, or a comma-separated list)", 0},
	{"no-replay", 0, BASE_OPT_SWITCH, R_NO_REPLAY, NULL, "only new records, not the ones kept",
	 0},
};

#define N_KG_RUN_OPTS	 (sizeof(kg_run_opts) / sizeof(kg_run_opts[0]))
#define N_KG_ATTACH_OPTS (sizeof(kg_attach_opts) / sizeof(kg_attach_opts[0]))

struct run_args {
	struct run_flags f; /* the run flags and the gadget's params */
	const char *nodes[KG_MAX_NODE_FLAGS];
	size_t n_nodes;
	char *node_text[KG_MAX_NODE_FLAGS]; /* copies the names point into */
	size_t n_node_text;
	bool detach, no_replay;
	const char *name;
	const char *tags[RUN_MAX_TAGS];
	size_t n_tags;

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
	run_flags_done(&a->f);
}

/* --node a,b --node c */
static int add_nodes(struct run_args *a, const char *v, char *err, size_t errlen)
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
	snprintf(err, errlen, "too many --node names (at most %d)", KG_MAX_NODE_FLAGS);
	return -E2BIG;
}

/* One of kubectl gadget's own run flags (run_flags_client_fn). */
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
	case R_NO_REPLAY:
		a->no_replay = !strcmp(v, "true");
		return 0;
	}
	snprintf(err, errlen, "%s: not handled", base_opt_spelling(o));
	return -EINVAL;
}

static int parse_args(struct run_args *a, unsigned int client, int argc, char **argv)
{
	struct base_opt_table t = {.opts = kg_run_opts, .n = N_KG_RUN_OPTS};
	char err[KG_ERRLEN];

	if (client == RUN_FLAGS_ATTACH)
		t = (struct base_opt_table){.opts = kg_attach_opts, .n = N_KG_ATTACH_OPTS};
	if (run_flags_parse(&a->f, client, &t, 1, set_opt, a, argc, argv, err, sizeof(err)) < 0) {
		kg_error("%s", err);
		return -EINVAL;
	}
	return 0;
}

/* The second pass: the --key [value] left over must be the gadget's params. */
static int resolve_params(struct run_args *a, const struct agent_wire_desc *desc, int argc,
			  char **argv)
{
	char err[KG_ERRLEN];
	size_t k;

	if (run_flags_params(&a->f, desc->help.params, desc->help.n_params, argc, argv, err,
			     sizeof(err)) < 0) {
		kg_error("%s", err);
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

static void run_help(const char *cmd)
{
	struct base_opt_table t[2] = {
		run_flags_view(RUN_FLAGS_CLUSTER),
		{.opts = kg_run_opts, .n = N_KG_RUN_OPTS},
	};

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
	base_opt_help(stdout, t, 2);
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
	int raw; /* its index in the raw printer, -1: it sends JSON */
	uint64_t lost_untold;
	int64_t lost_told_ms;
};

struct stream {
	struct kg_agents *as;
	struct run_node *nodes;
	struct kg_printer *pr;	      /* records as JSON (agents before protocol 1.2) */
	struct agent_raw_client *raw; /* the gadget's own records (docs/api.md) */
	enum run_output output;
	bool no_header;
	const char *fields; /* attach: --fields for the instance's records */
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
static void tell_lost(struct kg_agent *a, struct run_node *n, bool now)
{
	char num[32];
	int64_t t = kg_now_ms();

	if (!n->lost_untold || (!now && t - n->lost_told_ms < RUN_LOST_EVERY_MS))
		return;
	fflush(stdout);
	fprintf(stderr,
		KG_NAME ": %s: %s records lost: this client did not read them fast enough\n",
		a->node, commas(n->lost_untold, num, sizeof(num)));
	n->lost_untold = 0;
	n->lost_told_ms = t;
}

static int on_raw_records(struct stream *s, struct kg_agent *a, struct run_node *n,
			  const Gadget__Agent__V1__RecordBatch *b)
{
	char err[KG_ERRLEN];
	uint64_t before = agent_raw_client_records(s->raw);
	int r = agent_raw_client_batch(s->raw, n->raw, b, err, sizeof(err));

	n->records += agent_raw_client_records(s->raw) - before;
	if (r == -EINVAL) {
		/* a node that sends what cannot be read is dropped; the others go on */
		kg_agent_fail(a, -EPROTO, "a malformed record batch: %s", err);
		kg_agent_report(a);
		return 0;
	}
	if (r >= 0)
		r = agent_raw_client_flush(s->raw);
	if (r < 0)
		s->out_err = r;
	return r;
}

static int on_records(struct stream *s, struct kg_agent *a, struct run_node *n,
		      const Gadget__Agent__V1__RecordBatch *b)
{
	size_t i;
	int r;

	count_dropped(n, n->dropped + b->dropped_before, b->dropped_total);
	if (b->kernel_lost > n->kernel_lost)
		n->kernel_lost = b->kernel_lost;
	tell_lost(a, n, false);
	if (n->raw >= 0)
		return on_raw_records(s, a, n, b);
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
	count_dropped(n, n->dropped, e->dropped_total);
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

/* A node that sends the gadget's own records: the raw printer learns them. */
static void on_raw_started(struct stream *s, struct kg_agent *a, struct run_node *n,
			   const Gadget__Agent__V1__RunStarted *rs)
{
	struct agent_raw_client_opts o = {
		.sz = sizeof(o),
		.output = s->output,
		.fields = s->fields,
		.no_header = s->no_header,
		.out_fd = STDOUT_FILENO,
	};
	char err[KG_ERRLEN];
	bool first = !s->raw;
	int r;

	if (!s->raw && agent_raw_client_new(&o, &s->raw) < 0) {
		kg_agent_fail(a, -ENOMEM, "%s", strerror(ENOMEM));
		kg_agent_report(a);
		return;
	}
	r = agent_raw_client_started(s->raw, a->node, rs, err, sizeof(err));
	if (r < 0) {
		kg_agent_fail(a, r, "%s", err[0] ? err : strerror(-r));
		kg_agent_report(a);
		if (r == -EINVAL && first && strstr(err, "field"))
			s->invalid++;
		return;
	}
	n->raw = r;
	if (first) {
		/* what is on stdout already (the JSON printer's) goes first */
		kg_printer_flush(s->pr);
		if (agent_raw_client_begin(s->raw) < 0 || agent_raw_client_flush(s->raw) < 0)
			s->out_err = -EPIPE;
	}
	if (s->stopping)
		send_stop(a, n);
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
		if (m->run_started->encoding == GADGET__AGENT__V1__RECORD_ENCODING__ENCODING_RAW) {
			on_raw_started(s, a, n, m->run_started);
			return 0;
		}
		if (!kg_printer_has_info(s->pr) && m->run_started->info) {
			char err[KG_ERRLEN] = "";

			if (kg_printer_set_info(s->pr, m->run_started->info, s->fields, err,
						sizeof(err)) < 0)
				kg_warn("%s", err);
		}
		if (kg_printer_has_info(s->pr) && kg_printer_begin(s->pr) < 0)
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

		if (n->lost_untold)
			tell_lost(&s->as->v[i], &s->nodes[i], true);
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

/*
 * Asks the agents in turn (one answer is enough) what IMAGE is; with a (the
 * parsed command line), also whether its params, fields, filters and sort
 * are good, as a run would check them.
 */
static int gadget_info(struct kg_agents *as, const char *image, const struct run_args *a,
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
		struct kg_agent *ag = &as->v[i];

		if (!kg_agent_connected(ag))
			continue;
		r = kg_agent_call(ag, &req, RUN_INFO_TIMEOUT_MS, ret);
		if (r >= 0)
			return 0;
		if (!ag->error)
			kg_agent_fail(ag, r, "no answer about the gadget: %s", strerror(-r));
		kg_agent_report(ag);
	}
	return r;
}

static void report_connect_failures(struct kg_agents *as)
{
	size_t i;

	for (i = 0; i < as->n; i++)
		kg_agent_report(&as->v[i]);
}

/* The selector of GadgetSpec, from the run flags (labels already parsed there). */
static void build_selector(const struct run_args *a, Gadget__Agent__V1__Selector *ps,
			   Gadget__Agent__V1__KeyValue *lkv, Gadget__Agent__V1__KeyValue **lkvp)
{
	const struct run_selector *sel = &a->f.sel;
	size_t i;

	ps->podname = sel->k8s_podname ? (char *)sel->k8s_podname : "";
	ps->containername = sel->k8s_containername ? (char *)sel->k8s_containername : "";
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
		make_name(a->f.gadget, name, sizeof(name));
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

/* The per-node state of s, every node JSON until it says otherwise. */
static int stream_init(struct stream *s, struct kg_agents *as, struct kg_printer *pr,
		       const struct run_args *a)
{
	size_t i;

	s->as = as;
	s->pr = pr;
	s->output = a->f.output;
	s->no_header = a->f.no_header;
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

static int run_stream(struct kg_agents *as, struct kg_printer *pr, const struct run_args *a,
		      Gadget__Agent__V1__GadgetSpec *spec, uint64_t timeout_ms)
{
	Gadget__Agent__V1__RunGadget rg = GADGET__AGENT__V1__RUN_GADGET__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	struct stream s = {0};
	int sigfd, r, ret;
	size_t i;

	if (stream_init(&s, as, pr, a) < 0) {
		kg_error("out of memory");
		return KG_EXIT_ERROR;
	}
	sigfd = block_signals();
	rg.spec = spec;
	rg.encoding = GADGET__AGENT__V1__RECORD_ENCODING__ENCODING_RAW;
	rg.compress = compress_records();
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
		stream_done(&s);
		return KG_EXIT_OK;
	}
	if (r < 0)
		kg_error("%s", strerror(-r));
	report_losses(&s);
	ret = r < 0 ? KG_EXIT_ERROR : exit_code(&s);
	stream_done(&s);
	return ret;
}

int kg_cmd_run(struct kg_global *g, int argc, char **argv)
{
	struct run_args a = {0};
	Gadget__Agent__V1__Selector ps = GADGET__AGENT__V1__SELECTOR__INIT;
	Gadget__Agent__V1__GadgetSpec spec = GADGET__AGENT__V1__GADGET_SPEC__INIT;
	Gadget__Agent__V1__KeyValue lkv[RUN_SELECTOR_MAX_LABELS];
	Gadget__Agent__V1__KeyValue *lkvp[RUN_SELECTOR_MAX_LABELS];
	Gadget__Agent__V1__Response *info = NULL, *checked = NULL;
	struct agent_wire_desc *desc = NULL;
	struct kg_agents as = {0};
	struct kg_printer *pr = NULL;
	char err[KG_ERRLEN] = "", *fields = NULL;
	int ret = KG_EXIT_USAGE;

	run_flags_init(&a.f, "kubectl gadget run");
	if (parse_args(&a, RUN_FLAGS_CLUSTER, argc, argv) < 0)
		goto out;
	if (!a.f.gadget) {
		if (a.f.help) {
			run_help("run");
			ret = KG_EXIT_OK;
		} else {
			kg_error("which gadget? usage: kubectl gadget run IMAGE [options] (see "
				 "'kubectl gadget run --help')");
		}
		goto out;
	}
	if (a.detach && a.f.timeout_ms) {
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
	build_selector(&a, &ps, lkv, lkvp);

	ret = KG_EXIT_ERROR;
	if (kg_agents_find(g, a.nodes, a.n_nodes, &as) < 0) {
		if (a.f.help)
			run_help("run");
		goto out;
	}
	/* the context's namespace is known now that the kubeconfig is loaded */
	ps.namespace_ = a.f.all_namespaces ? "" : (char *)kg_namespace(g);
	if (kg_agents_connect(g, &as) == 0) {
		report_connect_failures(&as);
		kg_error("no gadget agent could be reached");
		goto out;
	}
	if (!a.f.help)
		report_connect_failures(&as);
	if (gadget_info(&as, a.f.gadget, NULL, &info) < 0) {
		kg_error("no agent could tell what the gadget %s is", a.f.gadget);
		goto out;
	}
	if (info->payload_case != GADGET__AGENT__V1__RESPONSE__PAYLOAD_GADGET_INFO) {
		if (info->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_ERROR)
			kg_error("%s: %s", a.f.gadget, kg_agent_error_text(info->error));
		else
			kg_error("unexpected answer %s to GetGadgetInfo",
				 agent_wire_response_name(info->payload_case));
		goto out;
	}
	if (agent_wire_desc_new(info->gadget_info, &desc) < 0) {
		kg_error("out of memory");
		goto out;
	}
	if (a.f.help) {
		run_help("run");
		run_help_gadget(stdout, &desc->help);
		ret = KG_EXIT_OK;
		goto out;
	}
	ret = KG_EXIT_USAGE;
	if (resolve_params(&a, desc, argc, argv) < 0)
		goto out;
	if (kg_printer_new(a.f.output, a.f.no_header, stdout, &pr) < 0 ||
	    kg_printer_set_info(pr, info->gadget_info, a.f.fields, err, sizeof(err)) < 0) {
		kg_error("%s", err[0] ? err : "out of memory");
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
			ret = KG_EXIT_ERROR;
			goto out;
		}
		if (checked->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_ERROR) {
			kg_error("%s", kg_agent_error_text(checked->error));
			if (checked->error->code !=
			    GADGET__AGENT__V1__ERROR_CODE__ERROR_INVALID_PARAM)
				ret = KG_EXIT_ERROR;
			goto out;
		}
	}

	spec.image = (char *)a.f.gadget;
	spec.params = a.kvp;
	spec.n_params = a.n_kv;
	spec.selector = &ps;
	/* an instance is not printed here: it keeps the fields as the user gave them */
	fields = a.detach ? (a.f.fields ? strdup(a.f.fields) : NULL)
			  : kg_printer_spec_fields(pr, a.f.fields);
	spec.fields = fields ? fields : "";
	spec.filters = (char **)a.f.filters;
	spec.n_filters = a.f.n_filters;
	spec.sort = a.f.sort ? (char *)a.f.sort : "";
	spec.max_entries = a.f.max_entries;
	spec.map_fetch_interval_ms = a.f.fetch_interval_ms;
	spec.map_fetch_count = a.f.fetch_count;
	spec.timeout_ms = a.f.timeout_ms;
	spec.annotate = (char **)a.f.annotate;
	spec.n_annotate = a.f.n_annotate;
	spec.otel_metrics_name = (char **)a.f.metrics_names;
	spec.n_otel_metrics_name = a.f.n_metrics_names;
	if (a.detach)
		ret = run_detach(&as, &a, &spec);
	else
		ret = run_stream(&as, pr, &a, &spec, a.f.timeout_ms);
out:
	free(fields);
	agent_wire_desc_free(desc);
	agent_wire_response_free(checked);
	agent_wire_response_free(info);
	kg_printer_free(pr);
	kg_agents_done(&as);
	run_args_done(&a);
	return ret;
}

/* ---- attach ---- */

static void attach_help(void)
{
	struct base_opt_table t[2] = {
		run_flags_view(RUN_FLAGS_ATTACH),
		{.opts = kg_attach_opts, .n = N_KG_ATTACH_OPTS},
	};

	printf("Usage: kubectl gadget attach NAME [options]\n\n"
	       "Shows the records of the detached gadget instance NAME (see 'kubectl gadget\n"
	       "run --detach' and 'kubectl gadget list') from every node it runs on: first\n"
	       "the records each agent kept, then new ones as they come.  Ctrl-C detaches;\n"
	       "the instance keeps running.\n\nOptions:\n");
	base_opt_help(stdout, t, 2);
}

int kg_cmd_attach(struct kg_global *g, int argc, char **argv)
{
	Gadget__Agent__V1__AttachInstance at = GADGET__AGENT__V1__ATTACH_INSTANCE__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	struct run_args a = {0};
	struct kg_agents as = {0};
	struct stream s = {0};
	struct kg_printer *pr = NULL;
	const char *name = NULL;
	int ret = KG_EXIT_USAGE, sigfd = -1, r;
	size_t i, found = 0;

	run_flags_init(&a.f, "kubectl gadget attach");
	if (parse_args(&a, RUN_FLAGS_ATTACH, argc, argv) < 0)
		goto out;
	name = a.f.gadget;
	if (a.f.n_unknown || a.f.n_words) {
		int extra = a.f.n_unknown ? a.f.unknown[0].argi : a.f.words[0];

		kg_error("unexpected argument '%s' (see 'kubectl gadget attach --help')",
			 argv[extra]);
		goto out;
	}
	if (a.f.help) {
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
	if (kg_printer_new(a.f.output, a.f.no_header, stdout, &pr) < 0)
		goto out;
	if (stream_init(&s, &as, pr, &a) < 0)
		goto out;
	s.attach = true;
	sigfd = block_signals();
	at.instance = (char *)name;
	at.no_replay = a.no_replay;
	at.encoding = GADGET__AGENT__V1__RECORD_ENCODING__ENCODING_RAW;
	at.compress = compress_records();
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
	stream_done(&s);
	kg_printer_free(pr);
	kg_agents_done(&as);
	run_args_done(&a);
	return ret;
}
