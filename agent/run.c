// SPDX-License-Identifier: Apache-2.0
/*
 * A gadget run inside the agent, and the table of all of them.  See run.h.
 *
 * A run's records come from the runner's sink (on_record, on_fetch_end)
 * into r->b; publish() hands a full or finished batch to emit(), which
 * packs one RecordBatch per started subscriber and, for an instance, keeps
 * the records in the replay ring.  Snapshot gadgets produce their records
 * inside run_runner_start(), before RunStarted can be sent, so batches
 * published while a run is starting are held and emitted right after
 * RunStarted.
 *
 * Stopping a run detaches its gadget: closing a loaded gadget's links waits
 * for the kernel, so the runner and what it borrows go to a worker as a
 * "grave" (bury()), and the loop goes on serving the other clients.
 *
 * An event of the table's epoll set may name a run that an earlier event
 * of the same batch freed or stopped; t->freed ends the batch then, and
 * since epoll is level-triggered the later events come again.
 */
#include "agent/run.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "agent/budget.h"
#include "agent/containers.h"
#include "agent/gadget_info.h"
#include "agent/image.h"
#include "agent/instance.h"
#include "agent/logs.h"
#include "agent/metrics.h"
#include "agent/raw.h"
#include "agent/server.h"
#include "agent/wire.h"
#include "agent/worker.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/time.h"
#include "bpf/layout.h"
#include "oci/metadata.h"
#include "run/annotate.h"
#include "run/column.h"
#include "run/filter.h"
#include "run/metrics.h"
#include "run/remote.h"
#include "run/runner.h"
#include "run/selector.h"

#define ERRC(x)	   GADGET__AGENT__V1__ERROR_CODE__ERROR_##x
#define END(x)	   GADGET__AGENT__V1__RUN_END_REASON__RUN_END_##x
#define RESP(x)	   GADGET__AGENT__V1__RESPONSE__PAYLOAD_##x
#define MSG_LEN	   1024
#define MAX_EVENTS 32
/* Room a RecordBatch needs besides the records' bytes. */
#define BATCH_OVERHEAD	 256
#define BATCH_PER_RECORD 8

typedef Gadget__Agent__V1__Response pb_response;
typedef Gadget__Agent__V1__ErrorCode pb_errcode;

enum src_kind {
	SRC_DRAIN = 1,
	SRC_RING,
	SRC_FETCH,
	SRC_TIMEOUT,
};

/* What an event of the table's epoll set is about. */
struct src {
	enum src_kind kind;
	struct agent_run *run;
};

struct batch_rec {
	uint32_t off;
	uint32_t len;
};

/*
 * The records of one RecordBatch being filled: their own bytes always, and
 * their JSON lines when a client that reads JSON or the instance's log
 * wanted them when the batch began.
 */
struct batch {
	struct agent_raw_batch raw;
	size_t n; /* records */
	bool json;
	struct base_buf buf; /* json: the lines */
	struct batch_rec *recs;
	size_t cap;
	size_t ds;
	uint64_t fetch;
	bool fetch_end;
	uint64_t first_seq;
	struct batch *next; /* held while starting */
};

/* A session the run streams to: its client, or an attach. */
struct sub {
	struct agent_run *run;
	struct agent_session *sess;
	uint64_t req_id;
	uint64_t run_id;
	uint64_t dropped_pending;
	uint64_t dropped_total;
	bool started; /* RunStarted sent */
	bool attach;
	bool raw;	  /* ENCODING_RAW asked for (and given, once started) */
	bool compress;	  /* zstd batches when they pay */
	bool need_tables; /* raw: the container and endpoint tables before the next batch */
	/* the window: record bytes sent, and taken as the client said (RecordsAck) */
	uint32_t window;
	uint64_t sent_bytes, acked_bytes;
	/* attach: what to replay once the instance runs */
	uint32_t replay_max;
	bool no_replay;
	struct sub *next;
};

/* What a runner borrows, freed with it (in a worker when it may be). */
struct grave {
	struct run_runner *runner;
	struct agent_image *img;
	struct oci_metadata *md;
	Gadget__Agent__V1__GadgetSpec *spec;
	struct run_selector sel;
};

struct grave_job {
	struct agent_worker_job job; /* first */
	struct grave g;
};

struct agent_run_table {
	struct agent_run_table_opts o;
	int ep;
	int drain_fd;
	struct src drain_src;
	bool drain_on;
	bool freed; /* a run or its fds went while handling an event */
	struct agent_run *runs;
	uint64_t next_id; /* runs and attaches */
	size_t n_clients; /* clients' runs */
	size_t n_attaches;
};

struct agent_run {
	struct agent_run_table *t;
	uint64_t id;
	bool instance;
	const char *instance_name, *instance_id;
	struct agent_run_ops ops;
	/* the instance's, borrowed: what spec is again once the runner is gone */
	const Gadget__Agent__V1__GadgetSpec *instance_spec;
	Gadget__Agent__V1__GadgetSpec *spec_owned;
	const Gadget__Agent__V1__GadgetSpec *spec;
	char *image; /* as requested */
	struct agent_image *img;
	struct oci_metadata *md;
	struct run_runner *runner;
	struct run_runner_opts ropts;
	struct run_metrics *metrics; /* --otel-metrics-name: this run's series */
	const Gadget__Agent__V1__InstanceLogs *logs_spec; /* an instance's, borrowed */
	struct agent_logs *logs;			  /* an instance's records as JSON lines */
	struct run_selector sel;
	char errbuf[MSG_LEN];
	struct src ring_src, fetch_src, timeout_src;
	int fetch_fd, timeout_fd;
	bool ring_added;
	bool has_tracer, has_mapiter, starting;
	bool loaded;	/* run_runner_start() was called: links to close */
	size_t charged; /* what its loaded gadget counts against o.gadget_budget */
	bool live;	/* started and not stopped since */
	uint64_t seq, cur_fetch, fetches, lost_seen;
	struct batch b;
	struct batch *held, **held_tail;
	/* ENCODING_RAW: per data source, what was sent of the tables, and the record size */
	struct run_remote_enc **enc;
	uint32_t *rec_max;
	size_t n_ds;
	Gadget__Agent__V1__DataSourceLayout **layouts; /* RunStarted's, built once */
	size_t n_layouts;
	bool layouts_failed; /* a column computed per record: JSON for everybody */
	size_t n_json_subs;
	struct base_buf json; /* a record's JSON line */
	ProtobufCBinaryData *bins;
	size_t bins_cap;
	struct sub *subs;
	struct agent_metrics_gadget *stat;
	struct agent_instance_ring *ring; /* an instance's: the replay */
	struct agent_run *next;
};

static char *cstr(const char *s)
{
	return (char *)(s ? s : "");
}

static int ep_add(struct agent_run_table *t, int fd, struct src *src, enum src_kind kind,
		  struct agent_run *r)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = src};

	src->kind = kind;
	src->run = r;
	return epoll_ctl(t->ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void ep_del(struct agent_run_table *t, int fd)
{
	if (fd >= 0)
		epoll_ctl(t->ep, EPOLL_CTL_DEL, fd, NULL);
}

/* ------------------------------------------------------------ specs */

Gadget__Agent__V1__GadgetSpec *agent_run_spec_dup(const Gadget__Agent__V1__GadgetSpec *spec)
{
	size_t len = protobuf_c_message_get_packed_size(&spec->base);
	uint8_t *buf = malloc(len ? len : 1);
	Gadget__Agent__V1__GadgetSpec *copy;

	if (!buf)
		return NULL;
	protobuf_c_message_pack(&spec->base, buf);
	copy = gadget__agent__v1__gadget_spec__unpack(NULL, len, buf);
	free(buf);
	return copy;
}

Gadget__Agent__V1__GadgetSpec *agent_run_spec_free(Gadget__Agent__V1__GadgetSpec *spec)
{
	if (spec)
		protobuf_c_message_free_unpacked(&spec->base, NULL);
	return NULL;
}

/*
 * The field a filter names is looked up only once the gadget is known; what
 * can be checked before (the grammar, the operator, a regular expression
 * and what it costs) is checked here, by the run library's own parser, with
 * a column of that name standing in for the gadget's.
 */
int agent_run_check_filters(char *const *filters, size_t n, char *msg, size_t len)
{
	size_t i;

	msg[0] = '\0';
	if (n > RUN_RUNNER_MAX_FILTERS) {
		snprintf(msg, len, "more than %d filters", RUN_RUNNER_MAX_FILTERS);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		struct run_column col = {.kind = RUN_COLUMN_STRING, .type = "string"};
		const char *p = filters[i], *name;
		struct run_filter *f = NULL;
		char *field;
		int r;

		if (!p) {
			snprintf(msg, len, "an empty filter");
			return -EINVAL;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		name = p;
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		       (*p >= '0' && *p <= '9') || *p == '_' || *p == '.')
			p++;
		field = strndup(name, (size_t)(p - name));
		if (!field)
			return -ENOMEM;
		col.name = col.short_name = field;
		r = run_filter_new(filters[i], &col, 1, &f, msg, len);
		run_filter_free(f);
		free(field);
		if (r < 0)
			return r;
	}
	return 0;
}

int agent_run_selector_parse(const Gadget__Agent__V1__Selector *s, struct run_selector *ret,
			     char *msg, size_t len)
{
	struct base_buf text = BASE_BUF_INIT(RUN_SELECTOR_MAX_TEXT);
	char why[160] = "";
	size_t i;
	int rc = 0;

	memset(ret, 0, sizeof(*ret));
	if (!s)
		return 0;
	ret->k8s_namespace = s->namespace_;
	ret->k8s_podname = s->podname;
	ret->k8s_containername = s->containername;
	ret->container_name = s->runtime_containername;
	for (i = 0; i < s->n_labels; i++) {
		const Gadget__Agent__V1__KeyValue *kv = s->labels[i];

		if (!kv->key[0] || strpbrk(kv->key, ",=") || strchr(kv->value, ',')) {
			snprintf(msg, len, "selector label '%.64s=%.64s' is not a valid label",
				 kv->key, kv->value);
			rc = -EINVAL;
			goto out;
		}
		if (base_buf_printf(&text, "%s%s=%s", i ? "," : "", kv->key, kv->value) < 0) {
			snprintf(msg, len, "selector labels longer than %d bytes",
				 RUN_SELECTOR_MAX_TEXT);
			rc = -E2BIG;
			goto out;
		}
	}
	if (text.len) {
		rc = run_selector_set_labels(ret, text.data, why, sizeof(why));
		if (rc < 0)
			snprintf(msg, len, "selector labels: %s", why[0] ? why : strerror(-rc));
	}
out:
	base_buf_done(&text);
	return rc;
}

/* ------------------------------------------------------------ graves */

static void grave_free(struct grave *g)
{
	g->runner = run_runner_free(g->runner);
	g->md = oci_metadata_free(g->md);
	g->img = agent_image_free(g->img);
	run_selector_done(&g->sel);
	memset(&g->sel, 0, sizeof(g->sel));
	g->spec = agent_run_spec_free(g->spec);
}

static void grave_work(struct agent_worker_job *j)
{
	grave_free(&((struct grave_job *)j)->g);
}

static void grave_drop(struct agent_worker_job *j)
{
	grave_free(&((struct grave_job *)j)->g);
	free(j);
}

static const struct agent_worker_job_ops grave_ops = {
	.work = grave_work,
	.done = grave_drop,
	.drop = grave_drop,
};

/* ------------------------------------------------------------ batches */

static void batch_init(struct batch *b)
{
	memset(b, 0, sizeof(*b));
	agent_raw_batch_init(&b->raw);
	b->buf = (struct base_buf)BASE_BUF_INIT(0);
}

static void batch_reset(struct batch *b)
{
	base_buf_reset(&b->buf);
	agent_raw_batch_reset(&b->raw);
	b->n = 0;
	b->json = false;
	b->fetch_end = false;
}

static void batch_done(struct batch *b)
{
	base_buf_done(&b->buf);
	agent_raw_batch_done(&b->raw);
	free(b->recs);
	b->recs = NULL;
	b->n = b->cap = 0;
}

/* The JSON line of record number b->n. */
static int batch_add_json(struct batch *b, const char *json, size_t len)
{
	size_t off = b->buf.len;
	int r;

	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct batch_rec *p = realloc(b->recs, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		b->recs = p;
		b->cap = cap;
	}
	r = base_buf_append(&b->buf, json, len);
	if (r)
		return r;
	b->recs[b->n].off = (uint32_t)off;
	b->recs[b->n].len = (uint32_t)len;
	return 0;
}

/* The largest of what the batch takes on the wire, as JSON or raw. */
static size_t batch_bytes(const struct batch *b)
{
	size_t raw = agent_raw_batch_bytes(&b->raw);

	return (b->buf.len > raw ? b->buf.len : raw) + b->n * BATCH_PER_RECORD + BATCH_OVERHEAD;
}

/* ------------------------------------------------------------ subscribers */

static void sub_send_started(struct agent_run *r, struct sub *s)
{
	Gadget__Agent__V1__RunStarted rs = GADGET__AGENT__V1__RUN_STARTED__INIT;
	pb_response resp = GADGET__AGENT__V1__RESPONSE__INIT;
	struct agent_gadget_info info;

	if (agent_gadget_info_init(&info, r->runner, r->image, r->img, r->md) < 0) {
		agent_session_send_error(s->sess, s->req_id, ERRC(INTERNAL), "%s",
					 strerror(ENOMEM));
		return;
	}
	rs.run_id = s->run_id;
	rs.info = &info.gi;
	rs.node = (char *)r->t->o.node;
	rs.instance_id = r->instance ? (char *)r->instance_id : (char *)"";
	if (s->raw && r->layouts) {
		rs.encoding = GADGET__AGENT__V1__RECORD_ENCODING__ENCODING_RAW;
		rs.layouts = r->layouts;
		rs.n_layouts = r->n_layouts;
		rs.boot_to_real_ns = run_pipeline_boot_offset(run_runner_ds_pipeline(r->runner, 0));
		/* what the client does not know yet: everything kept */
		s->need_tables = true;
	}
	resp.id = s->req_id;
	resp.payload_case = RESP(RUN_STARTED);
	resp.run_started = &rs;
	agent_session_send(s->sess, &resp);
	agent_gadget_info_done(&info);
	s->started = true;
}

static void sub_send_ended(struct agent_run *r, struct sub *s,
			   Gadget__Agent__V1__RunEndReason reason, const char *error)
{
	Gadget__Agent__V1__RunEnded re = GADGET__AGENT__V1__RUN_ENDED__INIT;
	Gadget__Agent__V1__Error e = GADGET__AGENT__V1__ERROR__INIT;
	pb_response resp = GADGET__AGENT__V1__RESPONSE__INIT;

	re.run_id = s->run_id;
	re.reason = reason;
	if (error) {
		e.code = ERRC(GADGET);
		e.message = (char *)error;
		re.error = &e;
	}
	re.records = r->seq;
	re.dropped_total = s->dropped_total;
	re.kernel_lost = r->runner ? run_runner_lost(r->runner) : r->lost_seen;
	resp.id = s->req_id;
	resp.payload_case = RESP(RUN_ENDED);
	resp.run_ended = &re;
	agent_session_send(s->sess, &resp);
}

/*
 * Sends every container and endpoint the node told anybody about, in one
 * RecordBatch without records per data source, to a raw client that
 * starts or missed a batch carrying some; tried again before the next
 * batch when the queue refuses it.
 */
static void sub_send_tables(struct agent_run *r, struct sub *s)
{
	Gadget__Agent__V1__RecordBatch rb = GADGET__AGENT__V1__RECORD_BATCH__INIT;
	pb_response resp = GADGET__AGENT__V1__RESPONSE__INIT;
	struct agent_raw_batch t;
	size_t i;
	int rc = 0;

	agent_raw_batch_init(&t);
	for (i = 0; i < r->n_ds && rc >= 0; i++) {
		const struct run_runner_ds_info *di = run_runner_ds(r->runner, i);

		agent_raw_batch_reset(&t);
		if (!r->enc[i] || agent_raw_batch_tables(&t, r->enc[i]) < 0) {
			rc = -ENOMEM;
			break;
		}
		if (!t.n_containers && !t.n_endpoints)
			continue;
		rb.run_id = s->run_id;
		rb.data_source = cstr(di ? di->name : NULL);
		agent_raw_batch_fill(&t, s->compress, &rb);
		resp.id = s->req_id;
		resp.payload_case = RESP(RECORDS);
		resp.records = &rb;
		rc = agent_session_send_records(s->sess, &resp, 0);
	}
	agent_raw_batch_done(&t);
	if (rc >= 0)
		s->need_tables = false;
}

/* Sends b (records of r) to s as one RecordBatch; counts it as dropped if refused. */
static void sub_send_batch(struct agent_run *r, struct sub *s, struct batch *b,
			   const ProtobufCBinaryData *bins, size_t first, size_t n, bool replay,
			   uint64_t first_seq)
{
	Gadget__Agent__V1__RecordBatch rb = GADGET__AGENT__V1__RECORD_BATCH__INIT;
	pb_response resp = GADGET__AGENT__V1__RESPONSE__INIT;
	const struct run_runner_ds_info *di;
	bool news = false;
	uint64_t bytes = 0;

	if (s->raw && b)
		news = b->raw.n_containers || b->raw.n_endpoints;
	/* a client that has not taken what is in flight misses this batch */
	if (s->window && s->sent_bytes - s->acked_bytes > s->window)
		goto dropped;
	if (s->raw && s->need_tables)
		sub_send_tables(r, s);
	if (s->raw && b) {
		if (agent_raw_batch_fill(&b->raw, s->compress, &rb) < 0)
			goto dropped;
		bytes = rb.raw.len;
	} else {
		rb.records = (ProtobufCBinaryData *)bins + first;
		rb.n_records = n;
		for (size_t i = 0; i < n; i++)
			bytes += rb.records[i].len;
	}
	rb.run_id = s->run_id;
	rb.first_seq = first_seq;
	rb.dropped_before = s->dropped_pending;
	rb.dropped_total = s->dropped_total;
	di = b && r->runner ? run_runner_ds(r->runner, b->ds) : NULL;
	rb.data_source = cstr(di ? di->name : NULL);
	rb.fetch = b ? b->fetch : 0;
	rb.fetch_end = b ? b->fetch_end : false;
	rb.replay = replay;
	rb.kernel_lost = r->runner ? run_runner_lost(r->runner) : r->lost_seen;
	resp.id = s->req_id;
	resp.payload_case = RESP(RECORDS);
	resp.records = &rb;
	if (agent_session_send_records(s->sess, &resp, n) >= 0) {
		s->dropped_pending = 0;
		s->sent_bytes += bytes;
		return;
	}
dropped:
	s->dropped_pending += n;
	s->dropped_total += n;
	/* the entries the batch carried went with it */
	if (news)
		s->need_tables = true;
}

static int bins_reserve(struct agent_run *r, size_t n)
{
	ProtobufCBinaryData *p;

	if (n <= r->bins_cap)
		return 0;
	p = realloc(r->bins, n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	r->bins = p;
	r->bins_cap = n;
	return 0;
}

/* The JSON lines of b as the records of a RecordBatch (room reserved). */
static const ProtobufCBinaryData *batch_bins(struct agent_run *r, const struct batch *b)
{
	size_t i;

	for (i = 0; b->json && i < b->n; i++) {
		r->bins[i].data = (uint8_t *)b->buf.data + b->recs[i].off;
		r->bins[i].len = b->recs[i].len;
	}
	return r->bins;
}

/*
 * Sends the kept records of an instance to a new attach, newest max (0 =
 * all), in batches of one data source each.
 */
static void sub_replay(struct agent_run *r, struct sub *s, uint32_t max)
{
	size_t kept = agent_instance_ring_count(r->ring), start = 0, i, n = 0;
	struct batch meta;
	uint64_t seq;
	const char *rec;
	size_t len, ds;

	if (max && kept > max)
		start = kept - max;
	if (start >= kept || !r->runner)
		return;
	/* the ring keeps the records' own bytes: a JSON client gets them formatted now */
	batch_init(&meta);
	for (i = start; i < kept; i++) {
		agent_instance_ring_get(r->ring, i, &seq, &ds, &rec, &len);
		if (n && (ds != meta.ds || batch_bytes(&meta) + len + BATCH_PER_RECORD >
						   AGENT_WIRE_MAX_BATCH_BYTES)) {
			if (s->raw || bins_reserve(r, n) >= 0)
				sub_send_batch(r, s, &meta, batch_bins(r, &meta), 0, n, true,
					       meta.first_seq);
			batch_reset(&meta);
			n = 0;
		}
		if (!n) {
			meta.ds = ds;
			meta.first_seq = seq;
		}
		if (s->raw) {
			if (agent_raw_batch_add(&meta.raw, rec, len, len) < 0)
				break;
		} else {
			base_buf_reset(&r->json);
			if (run_pipeline_json(run_runner_ds_pipeline(r->runner, ds), rec, len,
					      &r->json) < 0 ||
			    batch_add_json(&meta, r->json.data, r->json.len) < 0)
				break;
			meta.json = true;
		}
		meta.n = ++n;
	}
	if (n && (s->raw || bins_reserve(r, n) >= 0))
		sub_send_batch(r, s, &meta, batch_bins(r, &meta), 0, n, true, meta.first_seq);
	batch_done(&meta);
}

static void sub_unlink(struct agent_run *r, struct sub *s)
{
	struct sub **pp;

	for (pp = &r->subs; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	if (s->attach)
		r->t->n_attaches--;
	if (!s->raw)
		r->n_json_subs--;
	free(s);
}

static void publish(struct agent_run *r);

static struct sub *sub_new(struct agent_run *r, struct agent_session *s, uint64_t req_id,
			   uint64_t run_id, const struct agent_run_sub_opts *o)
{
	bool raw = o->raw;
	struct sub *sub = calloc(1, sizeof(*sub));

	if (!sub)
		return NULL;
	/* the batch being filled has no JSON lines: out with it before a JSON client comes */
	if (!raw && !r->n_json_subs && !r->logs)
		publish(r);
	sub->run = r;
	sub->sess = s;
	sub->req_id = req_id;
	sub->run_id = run_id;
	sub->raw = raw;
	sub->compress = o->compress;
	sub->window = o->window;
	if (!raw)
		r->n_json_subs++;
	sub->next = r->subs;
	r->subs = sub;
	return sub;
}

/* ------------------------------------------------------------ publishing */

static void emit(struct agent_run *r, struct batch *b)
{
	const ProtobufCBinaryData *bins = NULL;
	struct sub *s;

	if (b->json && bins_reserve(r, b->n) >= 0)
		bins = batch_bins(r, b);
	for (s = r->subs; s; s = s->next) {
		if (!s->started)
			continue;
		if (s->raw || bins) {
			sub_send_batch(r, s, b, bins, 0, b->n, false, b->first_seq);
		} else {
			/* no JSON to send (out of memory): missed, and told so */
			s->dropped_pending += b->n;
			s->dropped_total += b->n;
		}
	}
}

/* Publishes the batch being filled (also an empty one that ends a fetch). */
static void publish(struct agent_run *r)
{
	struct batch *h;

	agent_logs_flush(r->logs);
	if (!r->b.n && !r->b.fetch_end)
		return;
	if (!r->starting) {
		emit(r, &r->b);
		batch_reset(&r->b);
		return;
	}
	/* records made inside run_runner_start(): kept until RunStarted is out */
	h = calloc(1, sizeof(*h));
	if (!h) {
		batch_reset(&r->b);
		return;
	}
	*h = r->b;
	h->next = NULL;
	*r->held_tail = h;
	r->held_tail = &h->next;
	batch_init(&r->b);
}

static void release_held(struct agent_run *r)
{
	struct batch *h = r->held, *next;

	for (; h; h = next) {
		next = h->next;
		emit(r, h);
		batch_done(h);
		free(h);
	}
	r->held = NULL;
	r->held_tail = &r->held;
}

/* What the runner could not return from a call: the agent's log says it. */
static void run_problem(void *ctx, const char *msg)
{
	const struct agent_run *r = ctx;

	base_log_warn("agent: run %llu of %s: %s", (unsigned long long)r->id, r->image, msg);
}

/*
 * A record that passed the run's filters, as the gadget made it: into the
 * batch with the table entries a raw client needs for it, as a JSON line
 * too when a JSON client or the log reads it, and into an instance's ring.
 */
static int on_raw(void *ctx, size_t ds, const void *rec, size_t size)
{
	struct agent_run *r = ctx;
	const struct run_runner_ds_info *di = run_runner_ds(r->runner, ds);
	uint64_t fetch = di && di->type != RUN_RUNNER_DS_TRACER ? r->cur_fetch : 0;
	bool json = r->n_json_subs || r->logs;
	size_t len = ds < r->n_ds && size > r->rec_max[ds] ? r->rec_max[ds] : size;
	struct batch *b = &r->b;
	size_t mark;
	struct run_remote_news news = {
		.container = agent_raw_batch_container,
		.endpoint = agent_raw_batch_endpoint,
		.ctx = &b->raw,
	};
	int rc;

	if (b->n && (b->ds != ds || b->fetch != fetch || b->json != json ||
		     batch_bytes(b) + len + BATCH_PER_RECORD > AGENT_WIRE_MAX_BATCH_BYTES))
		publish(r);
	if (!b->n) {
		b->ds = ds;
		b->fetch = fetch;
		b->first_seq = r->seq;
		b->json = json;
	}
	if (ds < r->n_ds && r->enc[ds]) {
		rc = run_remote_enc_record(r->enc[ds], rec, size, &news);
		if (rc < 0)
			return rc;
		/* not what follows a last string's NUL: trace_open 346 -> 138 bytes a record */
		len = run_remote_enc_size(r->enc[ds], rec, len);
	}
	mark = b->raw.raw.len;
	rc = agent_raw_batch_add(&b->raw, rec, len, len);
	if (rc < 0)
		return rc;
	if (json) {
		base_buf_reset(&r->json);
		rc = run_pipeline_json(run_runner_ds_pipeline(r->runner, ds), rec, size, &r->json);
		if (rc >= 0)
			rc = batch_add_json(b, r->json.data, r->json.len);
		if (rc < 0) {
			/* the record is not half in the batch */
			b->raw.n--;
			b->raw.raw.len = mark;
			return rc;
		}
		if (r->logs)
			agent_logs_record(r->logs, di ? di->name : "", r->seq, r->json.data,
					  r->json.len);
	}
	b->n++;
	if (r->ring)
		agent_instance_ring_push(r->ring, r->seq, ds, rec, len);
	r->seq++;
	r->stat->records++;
	return 0;
}

static int on_fetch_end(void *ctx, size_t ds, uint64_t fetch)
{
	struct agent_run *r = ctx;

	if (r->b.n && (r->b.ds != ds || r->b.fetch != fetch))
		publish(r);
	if (!r->b.n) {
		r->b.ds = ds;
		r->b.fetch = fetch;
		r->b.first_seq = r->seq;
		r->b.json = r->n_json_subs || r->logs;
	}
	r->b.fetch_end = true;
	publish(r);
	return 0;
}

/* ------------------------------------------------------------ raw clients */

static void raw_done(struct agent_run *r)
{
	size_t i;

	for (i = 0; r->enc && i < r->n_ds; i++)
		run_remote_enc_free(r->enc[i]);
	free(r->enc);
	free(r->rec_max);
	r->enc = NULL;
	r->rec_max = NULL;
	r->n_ds = 0;
	agent_raw_layouts_free(r->layouts, r->n_layouts);
	r->layouts = NULL;
	r->n_layouts = 0;
}

/*
 * What raw clients need, once the runner is prepared: the layouts of
 * RunStarted and a table encoder per data source.  A gadget whose records
 * cannot be described makes every client a JSON one.
 */
static int raw_setup(struct agent_run *r)
{
	size_t i, n = run_runner_ds_count(r->runner);
	struct sub *s;
	int rc;

	raw_done(r);
	r->enc = calloc(n ? n : 1, sizeof(*r->enc));
	r->rec_max = calloc(n ? n : 1, sizeof(*r->rec_max));
	if (!r->enc || !r->rec_max)
		return -ENOMEM;
	r->n_ds = n;
	for (i = 0; i < n; i++) {
		struct run_pipeline *p = run_runner_ds_pipeline(r->runner, i);

		r->rec_max[i] = p ? (uint32_t)run_remote_record_max(p) : 0;
		rc = p ? run_remote_enc_new(p, &r->enc[i]) : -EINVAL;
		if (rc < 0)
			return rc;
	}
	rc = agent_raw_layouts_new(r->runner, &r->layouts, &r->n_layouts);
	if (rc == -EOPNOTSUPP) {
		r->layouts = NULL;
		for (s = r->subs; s; s = s->next)
			if (s->raw) {
				s->raw = false;
				r->n_json_subs++;
			}
		return 0;
	}
	return rc;
}

static void raw_tick(struct agent_run *r)
{
	uint64_t now = base_time_mono_ms();
	size_t i;

	for (i = 0; r->enc && i < r->n_ds; i++)
		if (r->enc[i])
			run_remote_enc_tick(r->enc[i], now);
}

static void count_lost(struct agent_run *r)
{
	uint64_t lost;

	if (!r->runner)
		return;
	lost = run_runner_lost(r->runner);
	if (lost > r->lost_seen) {
		r->stat->lost += lost - r->lost_seen;
		r->lost_seen = lost;
	}
}

/* ------------------------------------------------------------ starting and stopping */

static void drain_update(struct agent_run_table *t)
{
	struct agent_run *r;
	bool need = false;

	for (r = t->runs; r && !need; r = r->next)
		need = r->runner && r->has_tracer;
	if (need == t->drain_on)
		return;
	base_time_timer_set(t->drain_fd, need ? t->o.drain_ms : 0, need ? t->o.drain_ms : 0);
	t->drain_on = need;
}

/*
 * Frees the runner of r and what it borrows.  Closing a loaded gadget's
 * links waits for the kernel (an RCU grace period per tracepoint, tens of
 * milliseconds each), so that goes to a worker: the loop goes on serving the
 * other clients meanwhile.  The runner stops following the container
 * collection here first, since only the loop may touch the collection.
 */
static void bury(struct agent_run *r)
{
	struct grave g = {
		.runner = r->runner,
		.img = r->img,
		.md = r->md,
		.spec = r->spec_owned,
		.sel = r->sel,
	};
	struct grave_job *j = NULL;

	run_runner_unfollow(r->runner);
	agent_budget_give(r->t->o.gadget_budget, r->charged);
	r->charged = 0;
	/* the encoders borrow the runner's pipelines */
	raw_done(r);
	/* no record reaches the registry or the log once the runner left the loop */
	r->metrics = run_metrics_free(r->metrics);
	r->logs = agent_logs_free(r->logs);
	if (r->loaded && r->runner)
		j = calloc(1, sizeof(*j));
	r->runner = NULL;
	r->img = NULL;
	r->md = NULL;
	r->spec_owned = NULL;
	r->loaded = false;
	memset(&r->sel, 0, sizeof(r->sel));
	if (r->instance)
		r->spec = r->instance_spec;
	if (!j) {
		grave_free(&g);
		return;
	}
	j->job.ops = &grave_ops;
	j->g = g;
	agent_worker_pool_submit(r->t->o.pool, &j->job);
}

/* Detaches the gadget; the run object stays (an instance may start again). */
static void stop_runner(struct agent_run *r)
{
	struct agent_run_table *t = r->t;
	struct batch *h, *next;

	if (r->runner || r->fetch_fd >= 0 || r->timeout_fd >= 0)
		t->freed = true;
	if (r->ring_added)
		ep_del(t, run_runner_fd(r->runner));
	r->ring_added = false;
	if (r->fetch_fd >= 0) {
		ep_del(t, r->fetch_fd);
		close(r->fetch_fd);
		r->fetch_fd = -1;
	}
	if (r->timeout_fd >= 0) {
		ep_del(t, r->timeout_fd);
		close(r->timeout_fd);
		r->timeout_fd = -1;
	}
	count_lost(r);
	bury(r);
	for (h = r->held; h; h = next) {
		next = h->next;
		batch_done(h);
		free(h);
	}
	r->held = NULL;
	r->held_tail = &r->held;
	batch_reset(&r->b);
	r->starting = false;
	r->live = false;
	drain_update(t);
}

static bool wants_containers(const struct agent_run *r)
{
	return !run_selector_empty(&r->sel);
}

/* What the others runs' metrics are called, when r's would be written beside them. */
static const char *run_label(const struct agent_run *r, char *buf, size_t len)
{
	if (r->instance)
		snprintf(buf, len, "instance %s", r->instance_name ? r->instance_name : "?");
	else
		snprintf(buf, len, "run %llu", (unsigned long long)r->id);
	return buf;
}

/*
 * The agent writes every run's metrics in one exposition: a family name two
 * runs would both write (the same --otel-metrics-name twice) is refused
 * before the second one starts.
 */
static int metrics_collide(const struct agent_run *r, char *msg, size_t len)
{
	const struct agent_run *o;
	size_t i, k;

	for (i = 0; r->metrics && run_metrics_family_name(r->metrics, i); i++) {
		const char *name = run_metrics_family_name(r->metrics, i);

		for (o = r->t->runs; o; o = o->next) {
			if (o == r || !o->metrics || !o->live)
				continue;
			for (k = 0; run_metrics_family_name(o->metrics, k); k++) {
				char who[128];

				if (strcmp(run_metrics_family_name(o->metrics, k), name))
					continue;
				snprintf(msg, len,
					 "metric %s is already exported by %s (choose another "
					 "--otel-metrics-name)",
					 name, run_label(o, who, sizeof(who)));
				return -EEXIST;
			}
		}
	}
	return 0;
}

int agent_run_table_write_metrics(const struct agent_run_table *t, struct base_buf *out)
{
	const struct run_metrics *regs[AGENT_RUN_MAX_EXPORTING];
	char names[AGENT_RUN_MAX_EXPORTING][128];
	const char *labels[AGENT_RUN_MAX_EXPORTING];
	const struct agent_run *r;
	size_t n = 0;
	int rc = 0;

	for (r = t->runs; r && rc >= 0; r = r->next) {
		if (!r->metrics || !r->live)
			continue;
		rc = run_metrics_write(r->metrics, out);
		if (n < AGENT_RUN_MAX_EXPORTING) {
			regs[n] = r->metrics;
			labels[n] = run_label(r, names[n], sizeof(names[n]));
			n++;
		}
	}
	return rc < 0 ? rc : run_metrics_write_dropped(regs, labels, n, out);
}

/*
 * Opens the gadget of r (r->img), applies params and pipeline options; with
 * start, also the container selection, load and attach.  -errno with the
 * protocol's error code in *code and a message in msg.
 */
static int build(struct agent_run *r, const Gadget__Agent__V1__KeyValue *const *params,
		 size_t n_params, bool start, pb_errcode *code, char *msg, size_t len)
{
	struct agent_run_table *t = r->t;
	const Gadget__Agent__V1__GadgetSpec *g = r->spec;
	char mderr[256];
	size_t i;
	int rc;

	msg[0] = '\0';
	if (r->img->config && r->img->config_len &&
	    (rc = oci_metadata_parse(r->img->config, r->img->config_len, &r->md, mderr,
				     sizeof(mderr))) < 0) {
		*code = ERRC(IMAGE);
		snprintf(msg, len, "image %s: %s", r->img->ref, mderr);
		return rc;
	}
	/* --annotate speaks as gadget.yaml would, before anything reads it */
	rc = run_annotate_apply((const char *const *)g->annotate, g->n_annotate, &r->md, msg, len);
	if (rc < 0) {
		*code = rc == -ENOMEM ? ERRC(INTERNAL) : ERRC(INVALID_PARAM);
		return rc;
	}
	if (g->n_otel_metrics_name) {
		struct run_metrics_opts mo = {.sz = sizeof(mo),
					      .max_series = t->o.metrics_max_series};

		r->metrics = run_metrics_free(r->metrics);
		rc = run_metrics_new(&mo, &r->metrics);
		if (rc < 0) {
			*code = ERRC(INTERNAL);
			snprintf(msg, len, "%s", strerror(-rc));
			return rc;
		}
	}
	if (start) {
		rc = agent_run_selector_parse(r->spec->selector, &r->sel, msg, len);
		if (rc < 0) {
			*code = ERRC(INVALID_PARAM);
			return rc;
		}
		if (wants_containers(r) && !agent_containers_collection(t->o.containers)) {
			char tried[512];

			agent_containers_tried(t->o.containers, tried, sizeof(tried));
			*code = ERRC(UNAVAILABLE);
			snprintf(msg, len,
				 "a container selector needs a container runtime, and none answers "
				 "(tried %s)",
				 tried);
			return -ENODEV;
		}
	}
	r->stat = agent_metrics_gadget(t->o.metrics, r->img->name);
	r->ropts = (struct run_runner_opts){
		.sz = sizeof(struct run_runner_opts),
		.name = r->img->name,
		.program = r->img->program,
		.program_len = r->img->program_len,
		.md = r->md,
		.output = RUN_OUTPUT_JSON,
		.fields = g->fields && g->fields[0] ? g->fields : NULL,
		.filters = (const char *const *)g->filters,
		.n_filters = g->n_filters,
		.sort = g->sort && g->sort[0] ? g->sort : NULL,
		.max_entries = g->max_entries,
		.out_fd = -1,
		.sink = {.raw = on_raw, .fetch_end = on_fetch_end, .ctx = r},
		.selector = start ? &r->sel : NULL,
		.host = start && g->selector && g->selector->host,
		.coll = agent_containers_collection(t->o.containers),
		.enrich = agent_containers_enrich(t->o.containers),
		.k8s = t->o.k8s,
		.node_name = t->o.no_node_field ? NULL : t->o.node,
		.errbuf = r->errbuf,
		.problem = run_problem,
		.problem_ctx = r,
		.metrics = r->metrics,
		.metrics_names = (const char *const *)g->otel_metrics_name,
		.n_metrics_names = g->n_otel_metrics_name,
		.annotate = (const char *const *)g->annotate,
		.n_annotate = g->n_annotate,
	};
	r->ropts.errbuf_len = sizeof(r->errbuf);
	r->errbuf[0] = '\0';
	if (g->n_filters > RUN_RUNNER_MAX_FILTERS) {
		*code = ERRC(INVALID_PARAM);
		snprintf(msg, len, "more than %d filters", RUN_RUNNER_MAX_FILTERS);
		return -E2BIG;
	}
	rc = run_runner_new(&r->ropts, &r->runner);
	if (rc < 0) {
		*code = rc == -ENOMEM ? ERRC(INTERNAL) : ERRC(GADGET);
		snprintf(msg, len, "%.100s: %.900s", r->img->ref,
			 r->errbuf[0] ? r->errbuf : strerror(-rc));
		return rc;
	}
	if (start && t->o.k8s_l4 && run_runner_has_l4endpoint(r->runner)) {
		r->ropts.k8s = t->o.k8s_l4(t->o.ctx);
		run_runner_set_opts(r->runner, &r->ropts);
	}
	if (n_params > RUN_RUNNER_MAX_PARAMS) {
		*code = ERRC(INVALID_PARAM);
		snprintf(msg, len, "more than %d params", RUN_RUNNER_MAX_PARAMS);
		return -E2BIG;
	}
	for (i = 0; i < n_params; i++) {
		r->errbuf[0] = '\0';
		rc = run_runner_set_param(r->runner, params[i]->key, params[i]->value);
		if (rc < 0) {
			*code = ERRC(INVALID_PARAM);
			if (r->errbuf[0])
				snprintf(msg, len, "%s", r->errbuf);
			else if (rc == -ENOENT)
				snprintf(msg, len, "gadget %s has no param '%s'", r->img->name,
					 params[i]->key);
			else
				snprintf(msg, len, "invalid value '%s' for param '%s'",
					 params[i]->value, params[i]->key);
			return rc;
		}
	}
	r->errbuf[0] = '\0';
	rc = run_runner_prepare(r->runner);
	if (rc < 0) {
		*code = rc == -ENODEV					     ? ERRC(UNAVAILABLE)
			: rc == -EINVAL || rc == -EOPNOTSUPP || rc == -E2BIG ? ERRC(INVALID_PARAM)
									     : ERRC(GADGET);
		snprintf(msg, len, "%s", r->errbuf[0] ? r->errbuf : strerror(-rc));
		return rc;
	}
	rc = metrics_collide(r, msg, len);
	if (rc < 0) {
		*code = ERRC(INVALID_PARAM);
		return rc;
	}
	if (!start)
		return 0;
	rc = raw_setup(r);
	if (rc < 0) {
		*code = ERRC(INTERNAL);
		snprintf(msg, len, "%s", strerror(-rc));
		return rc;
	}
	raw_tick(r);
	r->has_tracer = run_runner_has_tracer(r->runner);
	r->has_mapiter = run_runner_has_mapiter(r->runner);
	r->starting = true;
	r->loaded = true;
	r->cur_fetch = 1;
	r->errbuf[0] = '\0';
	rc = run_runner_start(r->runner);
	r->starting = false;
	if (rc < 0) {
		*code = ERRC(GADGET);
		snprintf(msg, len, "%s", r->errbuf[0] ? r->errbuf : strerror(-rc));
		return rc;
	}
	return 0;
}

/* After a successful start: fds, timers, RunStarted to the waiting subscribers. */
static int go(struct agent_run *r, uint64_t timeout_ms)
{
	struct agent_run_table *t = r->t;
	const Gadget__Agent__V1__GadgetSpec *g = r->spec;
	uint64_t gadget_ms = 0;
	struct sub *s;
	int fd, rc;

	fd = run_runner_fd(r->runner);
	if (r->has_tracer && fd >= 0) {
		rc = ep_add(t, fd, &r->ring_src, SRC_RING, r);
		if (rc < 0)
			return rc;
		r->ring_added = true;
	}
	/* the client's interval, else the gadget's (paramDefaults; 0: at the end only) */
	if (r->has_mapiter && !g->map_fetch_interval_ms &&
	    run_runner_fetch_interval(r->runner, &gadget_ms) < 0)
		gadget_ms = 1000;
	if (r->has_mapiter && (g->map_fetch_interval_ms || gadget_ms)) {
		uint64_t ms = g->map_fetch_interval_ms ? g->map_fetch_interval_ms : gadget_ms;

		r->fetch_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (r->fetch_fd < 0)
			return -errno;
		rc = ep_add(t, r->fetch_fd, &r->fetch_src, SRC_FETCH, r);
		if (!rc)
			rc = base_time_timer_set(r->fetch_fd, ms, ms);
		if (rc < 0)
			return rc;
	}
	if (timeout_ms) {
		r->timeout_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (r->timeout_fd < 0)
			return -errno;
		rc = ep_add(t, r->timeout_fd, &r->timeout_src, SRC_TIMEOUT, r);
		if (!rc)
			rc = base_time_timer_set(r->timeout_fd, timeout_ms, 0);
		if (rc < 0)
			return rc;
	}
	for (s = r->subs; s; s = s->next) {
		if (s->started)
			continue;
		sub_send_started(r, s);
		if (s->attach && !s->no_replay)
			sub_replay(r, s, s->replay_max);
	}
	release_held(r);
	r->live = true;
	drain_update(t);
	return 0;
}

/* The run failed or made its last fetch: an instance's owner hears of it. */
static void finish(struct agent_run *r, Gadget__Agent__V1__RunEndReason reason, const char *error)
{
	bool instance = r->instance;

	agent_run_end(r, reason, error);
	if (instance && r->ops.ended)
		r->ops.ended(r->ops.ctx, r, reason, error);
}

/* The runner broke while running. */
static void fail(struct agent_run *r, int rc)
{
	char msg[MSG_LEN];

	snprintf(msg, sizeof(msg), "%.64s: %.900s", r->img ? r->img->name : r->image,
		 r->errbuf[0] ? r->errbuf : strerror(-rc));
	base_log_warn("agent: run %llu of %s failed: %s", (unsigned long long)r->id, r->image, msg);
	finish(r, END(ERROR), msg);
}

static void consume(struct agent_run *r)
{
	int rc;

	if (!r->runner || !r->has_tracer)
		return;
	raw_tick(r);
	r->errbuf[0] = '\0';
	rc = run_runner_consume(r->runner);
	if (rc < 0)
		fail(r, rc);
}

static void fetch(struct agent_run *r)
{
	const Gadget__Agent__V1__GadgetSpec *g = r->spec;
	int rc;

	base_time_timer_drain(r->fetch_fd);
	if (!r->runner)
		return;
	r->cur_fetch = ++r->fetches;
	raw_tick(r);
	r->errbuf[0] = '\0';
	rc = run_runner_fetch(r->runner);
	if (rc < 0) {
		fail(r, rc);
		return;
	}
	publish(r);
	/* an instance that has fetched enough stays listed, without a gadget */
	if (g->map_fetch_count && r->fetches >= g->map_fetch_count)
		finish(r, END(DONE), NULL);
}

static void drain_all(struct agent_run_table *t)
{
	struct agent_run *r, *next;

	for (r = t->runs; r; r = next) {
		next = r->next;
		if (!r->runner)
			continue;
		consume(r);
	}
	for (r = t->runs; r; r = r->next) {
		if (!r->runner)
			continue;
		publish(r);
		count_lost(r);
	}
}

/* ------------------------------------------------------------ one run */

int agent_run_new(struct agent_run_table *t, const struct agent_run_opts *opts,
		  struct agent_run **ret)
{
	const Gadget__Agent__V1__GadgetSpec *spec = opts->spec_take ? opts->spec_take : opts->spec;
	struct agent_instance_ring *ring = NULL;
	struct agent_run *r;

	if (opts->instance_name && agent_instance_ring_new(opts->replay_records, &ring) < 0) {
		agent_run_spec_free(opts->spec_take);
		return -ENOMEM;
	}
	if (ring)
		agent_instance_ring_set_budget(ring, t->o.replay_budget);
	r = calloc(1, sizeof(*r));
	if (!r) {
		agent_instance_ring_free(ring);
		agent_run_spec_free(opts->spec_take);
		return -ENOMEM;
	}
	r->t = t;
	r->id = ++t->next_id;
	r->instance = opts->instance_name != NULL;
	r->instance_name = opts->instance_name;
	r->instance_id = opts->instance_id;
	r->instance_spec = spec;
	r->logs_spec = opts->logs;
	r->ops = opts->ops;
	r->ring = ring;
	r->spec = spec;
	r->spec_owned = opts->spec_take;
	r->image = strdup(spec->image);
	r->fetch_fd = r->timeout_fd = -1;
	r->held_tail = &r->held;
	batch_init(&r->b);
	r->json = (struct base_buf)BASE_BUF_INIT(0);
	r->stat = agent_metrics_gadget(t->o.metrics, NULL);
	if (!r->image) {
		agent_instance_ring_free(ring);
		agent_run_spec_free(opts->spec_take);
		free(r);
		return -ENOMEM;
	}
	r->next = t->runs;
	t->runs = r;
	if (!r->instance)
		t->n_clients++;
	*ret = r;
	return 0;
}

struct agent_run *agent_run_free(struct agent_run *r)
{
	struct agent_run_table *t;
	struct agent_run **pp;

	if (!r)
		return NULL;
	t = r->t;
	while (r->subs)
		sub_unlink(r, r->subs);
	stop_runner(r);
	r->metrics = run_metrics_free(r->metrics);
	r->logs = agent_logs_free(r->logs);
	for (pp = &t->runs; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	if (!r->instance)
		t->n_clients--;
	batch_done(&r->b);
	base_buf_done(&r->json);
	raw_done(r);
	agent_run_spec_free(r->spec_owned);
	t->freed = true;
	agent_instance_ring_free(r->ring);
	free(r->image);
	free(r->bins);
	free(r);
	drain_update(t);
	return NULL;
}

int agent_run_prepare(struct agent_run *r, struct agent_image *img,
		      const Gadget__Agent__V1__KeyValue *const *params, size_t n_params,
		      pb_errcode *code, char *msg, size_t len)
{
	int rc;

	r->img = img;
	rc = build(r, params, n_params, false, code, msg, len);
	if (rc == 0 && r->spec->selector) {
		rc = agent_run_selector_parse(r->spec->selector, &r->sel, msg, len);
		*code = ERRC(INVALID_PARAM);
	}
	return rc;
}

int agent_run_gadget_info(const struct agent_run *r, struct agent_gadget_info *ret)
{
	return agent_gadget_info_init(ret, r->runner, r->image, r->img, r->md);
}

/* An instance's JSON-line log, on the channel its spec or the agent's config says. */
static int open_logs(struct agent_run *r, char *msg, size_t len)
{
	const struct agent_run_table_opts *to = &r->t->o;
	const Gadget__Agent__V1__InstanceLogs *ls = r->logs_spec;
	const char *channel = ls && ls->channel && ls->channel[0] ? ls->channel : to->logs_channel;
	struct agent_logs_opts lo = {
		.dir = to->logs_dir,
		.gadget = r->img->name,
		.node = to->node,
		.instance = r->instance_name,
		.instance_id = r->instance_id,
		.max_size_mb = ls && ls->max_size_mb ? ls->max_size_mb : to->logs_max_size_mb,
		.max_backups = ls && ls->max_backups ? ls->max_backups : to->logs_max_backups,
		.stdout_fd = STDOUT_FILENO,
	};

	if (!r->instance || agent_logs_channel_parse(channel, &lo.channel) < 0 ||
	    lo.channel == AGENT_LOGS_NONE)
		return 0;
	r->logs = agent_logs_free(r->logs);
	return agent_logs_new(&lo, &r->logs, msg, len);
}

int agent_run_start(struct agent_run *r, struct agent_image *img,
		    const Gadget__Agent__V1__KeyValue *const *params, size_t n_params,
		    uint64_t timeout_ms, pb_errcode *code, char *msg, size_t len)
{
	int rc;

	r->img = img;
	if (r->instance) {
		/* the runner borrows its spec: a copy of its own, which may outlive the instance */
		r->spec_owned = agent_run_spec_dup(r->instance_spec);
		if (r->spec_owned)
			r->spec = r->spec_owned;
	}
	rc = build(r, params, n_params, true, code, msg, len);
	if (rc < 0)
		return rc;
	rc = open_logs(r, msg, len);
	if (rc < 0) {
		*code = ERRC(INVALID_PARAM);
		return rc;
	}
	/* its maps are kernel memory of the agent's cgroup: as many as fit */
	if (!agent_budget_take(r->t->o.gadget_budget, AGENT_RUN_GADGET_BYTES)) {
		*code = ERRC(RESOURCE_EXHAUSTED);
		snprintf(msg, len,
			 "this agent has no memory left for another gadget (%zu loaded, each "
			 "counted as %u MiB of %zu MiB: raise its memory limit)",
			 agent_budget_used(r->t->o.gadget_budget) / AGENT_RUN_GADGET_BYTES,
			 AGENT_RUN_GADGET_BYTES >> 20,
			 agent_budget_limit(r->t->o.gadget_budget) >> 20);
		return -ENOSPC;
	}
	r->charged = AGENT_RUN_GADGET_BYTES;
	rc = go(r, timeout_ms);
	if (rc < 0) {
		*code = ERRC(INTERNAL);
		snprintf(msg, len, "%s", strerror(-rc));
	}
	return rc;
}

bool agent_run_done(const struct agent_run *r)
{
	return r->runner && run_runner_done(r->runner);
}

void agent_run_end(struct agent_run *r, Gadget__Agent__V1__RunEndReason reason, const char *error)
{
	struct sub *s;

	if (r->runner && !r->starting) {
		if (r->has_tracer && !error)
			run_runner_consume(r->runner);
		publish(r);
		count_lost(r);
	}
	for (s = r->subs; s; s = s->next) {
		if (s->started)
			sub_send_ended(r, s, reason, error);
		else
			agent_session_send_error(s->sess, s->req_id, ERRC(UNAVAILABLE),
						 "instance %s stopped before it ran",
						 r->instance ? r->instance_name : "?");
		/* out now: detaching the gadget below takes a while */
		agent_session_flush(s->sess);
	}
	while (r->subs)
		sub_unlink(r, r->subs);
	if (!r->instance)
		agent_run_free(r);
	else
		stop_runner(r);
}

void agent_run_stop(struct agent_run *r)
{
	if (r->runner)
		stop_runner(r);
}

int agent_run_subscribe(struct agent_run *r, struct agent_session *s, uint64_t req_id,
			const struct agent_run_sub_opts *o)
{
	return sub_new(r, s, req_id, r->id, o) ? 0 : -ENOMEM;
}

int agent_run_attach(struct agent_run *r, struct agent_session *s, uint64_t req_id,
		     uint32_t replay_max, bool no_replay, const struct agent_run_sub_opts *o)
{
	/* a running instance that cannot be described answers in JSON */
	struct agent_run_sub_opts so = *o;
	struct sub *sub;

	so.raw = o->raw && (!r->live || r->layouts);
	sub = sub_new(r, s, req_id, 0, &so);

	if (!sub)
		return -ENOMEM;
	sub->run_id = ++r->t->next_id;
	sub->attach = true;
	sub->replay_max = replay_max;
	sub->no_replay = no_replay;
	r->t->n_attaches++;
	if (!r->live)
		return 0; /* RunStarted when it runs */
	sub_send_started(r, sub);
	if (!sub->no_replay)
		sub_replay(r, sub, sub->replay_max);
	return 0;
}

void agent_run_refuse(struct agent_run *r, pb_errcode code, const char *fmt, ...)
{
	struct sub *s, *next;
	char msg[MSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (s = r->subs; s; s = next) {
		next = s->next;
		if (s->started)
			continue;
		agent_session_send_error(s->sess, s->req_id, code, "%s", msg);
		sub_unlink(r, s);
	}
}

uint64_t agent_run_id(const struct agent_run *r)
{
	return r->id;
}

const char *agent_run_image_ref(const struct agent_run *r)
{
	return r->img ? r->img->ref : NULL;
}

void agent_run_metrics_stats(const struct agent_run *r, uint64_t *series, uint64_t *dropped)
{
	*series = r->metrics ? run_metrics_series(r->metrics) : 0;
	*dropped = r->metrics ? run_metrics_dropped(r->metrics) : 0;
}

uint64_t agent_run_records(const struct agent_run *r)
{
	return r->seq;
}

size_t agent_run_subscribers(const struct agent_run *r)
{
	const struct sub *s;
	size_t n = 0;

	for (s = r->subs; s; s = s->next)
		n++;
	return n;
}

/* ------------------------------------------------------------ the table */

int agent_run_table_new(const struct agent_run_table_opts *opts, struct agent_run_table **ret)
{
	struct agent_run_table *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return -ENOMEM;
	t->o = *opts;
	t->ep = epoll_create1(EPOLL_CLOEXEC);
	t->drain_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (t->ep < 0 || t->drain_fd < 0) {
		rc = -errno;
		agent_run_table_free(t);
		return rc;
	}
	rc = ep_add(t, t->drain_fd, &t->drain_src, SRC_DRAIN, NULL);
	if (rc < 0) {
		agent_run_table_free(t);
		return rc;
	}
	*ret = t;
	return 0;
}

struct agent_run_table *agent_run_table_free(struct agent_run_table *t)
{
	if (!t)
		return NULL;
	while (t->runs)
		agent_run_free(t->runs);
	if (t->drain_fd >= 0)
		close(t->drain_fd);
	if (t->ep >= 0)
		close(t->ep);
	free(t);
	return NULL;
}

int agent_run_table_fd(const struct agent_run_table *t)
{
	return t->ep;
}

int agent_run_table_process(struct agent_run_table *t)
{
	struct epoll_event evs[MAX_EVENTS];
	int n, i;

	n = epoll_wait(t->ep, evs, MAX_EVENTS, 0);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++) {
		struct src *src = evs[i].data.ptr;

		t->freed = false;
		switch (src->kind) {
		case SRC_DRAIN:
			base_time_timer_drain(t->drain_fd);
			drain_all(t);
			break;
		case SRC_RING:
			consume(src->run);
			break;
		case SRC_FETCH:
			fetch(src->run);
			break;
		case SRC_TIMEOUT:
			base_time_timer_drain(src->run->timeout_fd);
			/* ebpf.map.flush-on-stop: what the maps hold goes out before the end */
			if (src->run->runner && run_runner_flush_on_stop(src->run->runner) &&
			    run_runner_fetch(src->run->runner) >= 0)
				publish(src->run);
			agent_run_end(src->run, END(TIMEOUT), NULL);
			break;
		}
		if (t->freed)
			break;
	}
	return 0;
}

void agent_run_table_end_all(struct agent_run_table *t, Gadget__Agent__V1__RunEndReason reason)
{
	struct agent_run *r, *next;

	for (r = t->runs; r; r = next) {
		next = r->next;
		agent_run_end(r, reason, NULL);
	}
}

int agent_run_table_stop(struct agent_run_table *t, struct agent_session *s, uint64_t run_id)
{
	struct agent_run *r;
	struct sub *sub = NULL;

	for (r = t->runs; r && !sub; r = r->next)
		for (sub = r->subs; sub; sub = sub->next)
			if (sub->sess == s && sub->run_id == run_id)
				break;
	if (!sub)
		return -ENOENT;
	if (sub->attach) {
		if (sub->started)
			sub_send_ended(sub->run, sub, END(DETACHED), NULL);
		else
			agent_session_send_error(s, sub->req_id, ERRC(UNAVAILABLE),
						 "detached before the instance ran");
		sub_unlink(sub->run, sub);
		return 0;
	}
	agent_run_end(sub->run, END(STOPPED), NULL);
	return 0;
}

int agent_run_table_ack(struct agent_run_table *t, struct agent_session *s, uint64_t run_id,
			uint64_t bytes)
{
	struct agent_run *r;
	struct sub *sub;

	for (r = t->runs; r; r = r->next)
		for (sub = r->subs; sub; sub = sub->next)
			if (sub->sess == s && sub->run_id == run_id) {
				/* what was never sent cannot have been taken */
				if (bytes > sub->acked_bytes)
					sub->acked_bytes =
						bytes < sub->sent_bytes ? bytes : sub->sent_bytes;
				return 0;
			}
	return -ENOENT;
}

void agent_run_table_drop_session(struct agent_run_table *t, struct agent_session *s)
{
	struct agent_run *r, *next;

	for (r = t->runs; r; r = next) {
		struct sub *sub, *snext;

		next = r->next;
		for (sub = r->subs; sub; sub = snext) {
			snext = sub->next;
			if (sub->sess == s)
				sub_unlink(r, sub);
		}
		if (!r->instance && !r->subs)
			agent_run_free(r);
	}
}

bool agent_run_table_session_busy(const struct agent_run_table *t, const struct agent_session *s)
{
	const struct agent_run *r;
	const struct sub *sub;

	for (r = t->runs; r; r = r->next)
		for (sub = r->subs; sub; sub = sub->next)
			if (sub->sess == s)
				return true;
	return false;
}

size_t agent_run_table_clients(const struct agent_run_table *t)
{
	return t->n_clients;
}

size_t agent_run_table_streaming(const struct agent_run_table *t)
{
	const struct agent_run *r;
	size_t n = 0;

	for (r = t->runs; r; r = r->next)
		n += !r->instance && r->runner;
	return n;
}

size_t agent_run_table_attaches(const struct agent_run_table *t)
{
	return t->n_attaches;
}
