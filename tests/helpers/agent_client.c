// SPDX-License-Identifier: Apache-2.0
/*
 * agent_client: a small client of the gadget agent's control API for the
 * integration tests (tests/integration/test_agent.py).  It speaks the
 * protocol through agent/wire.c, the codec every client uses, and prints
 * each Response as one JSON line, so a test checks what a real client
 * receives.
 *
 *   agent_client ADDR COMMAND [ARGS] [OPTIONS]
 *
 *   ADDR      host:port, or the path of a unix socket
 *   hello                      Hello only
 *   info                       GetAgentInfo
 *   gadget-info IMAGE          GetGadgetInfo (with --param, --filter)
 *   run IMAGE                  RunGadget; prints until RunEnded
 *   create NAME IMAGE          CreateInstance
 *   list                       ListInstances
 *   attach NAME                AttachInstance; prints until RunEnded
 *   delete NAME                DeleteInstance
 *   containers                 ListContainers (with the selector options)
 *   stop RUN_ID                StopRun of a run this connection does not have
 *
 * Options: --param k=v, --namespace NS, --podname P, --containername C,
 * --runtime-containername C, --label k=v, --host, --fields F, --filter E,
 * --sort S, --max-entries N, --fetch-interval MS, --fetch-count N,
 * --timeout MS (the run's), --node N, --tag T, --replay N, --no-replay,
 * --hello-major N, --hello-minor N, --no-hello; and for the client itself:
 * --pause-ms N (stop reading N ms after RunStarted: a slow client),
 * --stop-after N (StopRun after N records), --stop-after-ms N (StopRun N
 * ms after RunStarted), --exit-after-ms N (close the connection),
 * --encoding raw (run, attach: the gadget's own record bytes), --compress,
 * --window BYTES (record bytes in flight), --ack (RecordsAck after each batch),
 * --wait-ms N (give up, exit 3; default 60000), --quiet-records (print
 * n_records instead of the records), --count TOKEN (with --quiet-records:
 * token_records, how many records of the batch hold TOKEN: a JSON record
 * anywhere, a raw one, decompressed first, in the string of the field
 * --count-field NAME (default fname) of the first data source, since the
 * bytes after a string's NUL may be an older record's; bench/cluster.py
 * counts its load with it).
 * A quiet records line has wire_bytes too: the message as it came, header
 * included.
 *
 * Each line is {"t_ms": ms since start, "req": the Response's id, "type": "welcome"|...,
 * <the payload's fields>}.  Records are embedded as JSON objects.  Exit
 * status: 0 when the request was answered (a run: RunEnded), 1 when the
 * answer was an Error, 2 for usage, 3 on --wait-ms, 4 when the agent closed
 * the connection first.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <zstd.h>

#include "agent/wire.h"
#include "base/time.h"

#define MAX_KV	  64
#define MAX_LIST  64
#define EXIT_ERR  1
#define EXIT_USE  2
#define EXIT_WAIT 3
#define EXIT_EOF  4

struct client {
	const char *addr;
	const char *cmd;
	const char *arg1, *arg2;
	Gadget__Agent__V1__KeyValue params[MAX_KV], labels[MAX_KV];
	Gadget__Agent__V1__KeyValue *pparams[MAX_KV], *plabels[MAX_KV];
	size_t n_params, n_labels;
	char *filters[MAX_LIST], *nodes[MAX_LIST], *tags[MAX_LIST];
	size_t n_filters, n_nodes, n_tags;
	Gadget__Agent__V1__Selector sel;
	bool has_sel;
	Gadget__Agent__V1__GadgetSpec spec;
	uint32_t replay;
	bool no_replay, no_hello, quiet, raw, compress, ack;
	uint32_t window;
	uint64_t taken;
	const char *count, *count_field; /* --count TOKEN, --count-field NAME */
	uint32_t count_off, count_size;	 /* of that field, from RunStarted */
	uint32_t major, minor;
	long pause_ms, stop_after_ms, exit_after_ms, wait_ms;
	uint64_t stop_after;
	/* state */
	int fd;
	uint64_t t0;
	uint64_t run_id;
	bool have_run, stop_sent;
	uint64_t started_at, records;
	size_t msg_len; /* of the response being handled */
	void *unz;	/* --count: a compressed batch's records */
	size_t unz_cap;
	struct agent_wire_reader *rd;
	struct agent_wire_writer *wr;
};

static void usage_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void usage_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("agent_client: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_USE);
}

static unsigned long long num(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || !*s || *end)
		usage_fail("'%s' is not a number", s);
	return v;
}

static void kv(char *s, Gadget__Agent__V1__KeyValue *v, Gadget__Agent__V1__KeyValue **pv, size_t *n)
{
	char *eq = strchr(s, '=');

	if (!eq || *n == MAX_KV)
		usage_fail("'%s' is not k=v (or too many)", s);
	*eq = '\0';
	gadget__agent__v1__key_value__init(&v[*n]);
	v[*n].key = s;
	v[*n].value = eq + 1;
	pv[*n] = &v[*n];
	(*n)++;
}

static void list_add(char **v, size_t *n, char *s)
{
	if (*n == MAX_LIST)
		usage_fail("too many values");
	v[(*n)++] = s;
}

static void parse(struct client *c, int argc, char **argv)
{
	int i, pos = 0;

	gadget__agent__v1__selector__init(&c->sel);
	gadget__agent__v1__gadget_spec__init(&c->spec);
	c->major = AGENT_WIRE_PROTOCOL_MAJOR;
	c->minor = AGENT_WIRE_PROTOCOL_MINOR;
	c->wait_ms = 60000;
	c->pause_ms = c->stop_after_ms = c->exit_after_ms = -1;
	for (i = 1; i < argc; i++) {
		char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

#define OPT(name) (!strcmp(a, name) && (v || (usage_fail("%s needs a value", name), 0)) && ++i)
		if (OPT("--param"))
			kv(v, c->params, c->pparams, &c->n_params);
		else if (OPT("--label")) {
			kv(v, c->labels, c->plabels, &c->n_labels);
			c->has_sel = true;
		} else if (OPT("--namespace")) {
			c->sel.namespace_ = v;
			c->has_sel = true;
		} else if (OPT("--podname")) {
			c->sel.podname = v;
			c->has_sel = true;
		} else if (OPT("--containername")) {
			c->sel.containername = v;
			c->has_sel = true;
		} else if (OPT("--runtime-containername")) {
			c->sel.runtime_containername = v;
			c->has_sel = true;
		} else if (!strcmp(a, "--host")) {
			c->sel.host = true;
			c->has_sel = true;
		} else if (OPT("--fields"))
			c->spec.fields = v;
		else if (OPT("--filter"))
			list_add(c->filters, &c->n_filters, v);
		else if (OPT("--sort"))
			c->spec.sort = v;
		else if (OPT("--max-entries"))
			c->spec.max_entries = (uint32_t)num(v);
		else if (OPT("--fetch-interval"))
			c->spec.map_fetch_interval_ms = num(v);
		else if (OPT("--fetch-count"))
			c->spec.map_fetch_count = num(v);
		else if (OPT("--timeout"))
			c->spec.timeout_ms = num(v);
		else if (OPT("--node"))
			list_add(c->nodes, &c->n_nodes, v);
		else if (OPT("--tag"))
			list_add(c->tags, &c->n_tags, v);
		else if (OPT("--replay"))
			c->replay = (uint32_t)num(v);
		else if (!strcmp(a, "--no-replay"))
			c->no_replay = true;
		else if (OPT("--hello-major"))
			c->major = (uint32_t)num(v);
		else if (OPT("--hello-minor"))
			c->minor = (uint32_t)num(v);
		else if (!strcmp(a, "--no-hello"))
			c->no_hello = true;
		else if (OPT("--pause-ms"))
			c->pause_ms = (long)num(v);
		else if (OPT("--stop-after"))
			c->stop_after = num(v);
		else if (OPT("--stop-after-ms"))
			c->stop_after_ms = (long)num(v);
		else if (OPT("--exit-after-ms"))
			c->exit_after_ms = (long)num(v);
		else if (OPT("--wait-ms"))
			c->wait_ms = (long)num(v);
		else if (!strcmp(a, "--quiet-records"))
			c->quiet = true;
		else if (!strcmp(a, "--compress"))
			c->compress = true;
		else if (!strcmp(a, "--ack"))
			c->ack = true;
		else if (OPT("--window"))
			c->window = (uint32_t)num(v);
		else if (OPT("--count"))
			c->count = *v ? v : (usage_fail("--count: an empty token"), NULL);
		else if (OPT("--count-field"))
			c->count_field = v;
		else if (OPT("--encoding"))
			c->raw = !strcmp(v, "raw") ? true
				 : !strcmp(v, "json")
					 ? false
					 : (usage_fail("--encoding: raw or json, not '%s'", v),
					    false);
		else if (a[0] == '-' && a[1] == '-')
			usage_fail("unknown option '%s'", a);
		else if (pos == 0)
			c->addr = a, pos++;
		else if (pos == 1)
			c->cmd = a, pos++;
		else if (pos == 2)
			c->arg1 = a, pos++;
		else if (pos == 3)
			c->arg2 = a, pos++;
		else
			usage_fail("unexpected argument '%s'", a);
#undef OPT
	}
	if (!c->addr || !c->cmd)
		usage_fail("usage: agent_client ADDR COMMAND [ARGS] [OPTIONS]");
	c->sel.labels = c->plabels;
	c->sel.n_labels = c->n_labels;
	c->spec.params = c->pparams;
	c->spec.n_params = c->n_params;
	c->spec.filters = c->filters;
	c->spec.n_filters = c->n_filters;
	if (c->has_sel)
		c->spec.selector = &c->sel;
}

static int dial(const char *addr)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
	char host[256];
	const char *colon;
	int fd = -1;

	if (addr[0] == '/') {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};

		if (strlen(addr) >= sizeof(sun.sun_path))
			usage_fail("socket path too long");
		memcpy(sun.sun_path, addr, strlen(addr) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
			close(fd);
			return -errno;
		}
		return fd;
	}
	colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		usage_fail("address '%s' is not host:port", addr);
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &res))
		return -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (fd >= 0)
			close(fd);
		fd = -errno;
	}
	freeaddrinfo(res);
	return fd;
}

/* ---- protobuf -> JSON, by the descriptors ---- */

static json_t *msg_json(const ProtobufCMessage *m);

static json_t *field_value(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_integer(*(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_integer(*(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return json_integer(*(const int64_t *)p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return json_integer((json_int_t) * (const uint64_t *)p);
	case PROTOBUF_C_TYPE_FLOAT:
		return json_real(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return json_real(*(const double *)p);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *)p);
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev =
			protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);

		return ev ? json_string(ev->name) : json_integer(*(const int *)p);
	}
	case PROTOBUF_C_TYPE_STRING:
		return json_string(*(char *const *)p ? *(char *const *)p : "");
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;
		json_t *j = json_loadb((const char *)b->data, b->len, JSON_DECODE_ANY, NULL);

		return j ? j : json_stringn((const char *)b->data, b->len);
	}
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(ProtobufCMessage *const *)p ? msg_json(*(ProtobufCMessage *const *)p)
						     : json_null();
	}
	return json_null();
}

static size_t field_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	default:
		return 4;
	}
}

static json_t *msg_json(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	json_t *o = json_object();
	unsigned i;

	for (i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m;

		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
				continue;
		}
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset), k;
			const char *arr = *(char *const *)(base + f->offset);
			json_t *a = json_array();

			for (k = 0; k < n; k++)
				json_array_append_new(a, field_value(f, arr + k * field_size(f)));
			json_object_set_new(o, f->name, a);
			continue;
		}
		json_object_set_new(o, f->name, field_value(f, base + f->offset));
	}
	return o;
}

/* Records of b holding c->count in their bytes; -1 when they cannot be read. */
static json_int_t count_token(struct client *c, const Gadget__Agent__V1__RecordBatch *b)
{
	size_t tl = strlen(c->count), i, n = 0;
	const uint8_t *p = b->raw.data, *end = p + b->raw.len;

	for (i = 0; i < b->n_records; i++)
		n += memmem(b->records[i].data, b->records[i].len, c->count, tl) != NULL;
	if (b->compressed) {
		size_t got;

		if (b->raw_len > AGENT_WIRE_MAX_MESSAGE)
			return -1;
		if (b->raw_len > c->unz_cap) {
			void *q = realloc(c->unz, b->raw_len);

			if (!q)
				return -1;
			c->unz = q;
			c->unz_cap = b->raw_len;
		}
		got = ZSTD_decompress(c->unz, c->unz_cap, b->raw.data, b->raw.len);
		if (ZSTD_isError(got) || got != b->raw_len)
			return -1;
		p = c->unz;
		end = p + got;
	}
	for (i = 0; i < b->n_raw; i++) {
		uint64_t len = 0;
		unsigned shift = 0;

		do {
			if (p == end || shift > 63)
				return -1;
			len |= (uint64_t)(*p & 0x7f) << shift;
			shift += 7;
		} while (*p++ & 0x80);
		if (len > (uint64_t)(end - p))
			return -1;
		if (c->count_off < len) {
			size_t sz = len - c->count_off < c->count_size ? len - c->count_off
								       : c->count_size;

			n += memmem(p + c->count_off, strnlen((const char *)p + c->count_off, sz),
				    c->count, tl) != NULL;
		}
		p += len;
	}
	return (json_int_t)n;
}

static void print_response(struct client *c, const Gadget__Agent__V1__Response *resp)
{
	json_t *o = json_object(), *payload = NULL;
	const ProtobufCMessage *pm = NULL;
	char *text;

	json_object_set_new(o, "t_ms", json_integer((json_int_t)(base_time_mono_ms() - c->t0)));
	json_object_set_new(o, "req", json_integer((json_int_t)resp->id));
	json_object_set_new(o, "type", json_string(agent_wire_response_name(resp->payload_case)));
	switch (resp->payload_case) {
	case GADGET__AGENT__V1__RESPONSE__PAYLOAD_ERROR:
		pm = &resp->error->base;
		break;
	case GADGET__AGENT__V1__RESPONSE__PAYLOAD_WELCOME:
		pm = &resp->welcome->base;
		break;
	case GADGET__AGENT__V1__RESPONSE__PAYLOAD_AGENT_INFO:
		pm = &resp->agent_info->base;
		break;
	case GADGET__AGENT__V1__RESPONSE__PAYLOAD_GADGET_INFO:
		pm = &resp->gadget_info->base;
		break;
	case GADGET__AGENT__V1__RESPONSE__PAYLOAD_RUN_STARTED:
		pm = &resp->run_started->base;
		break;
	case GADGET__AGENT__V1__RESPONSE__PAYLOAD_RECORDS:
		pm = &resp->records->base;
		break;
	case GADGET__AGENT__V1__RESPONSE__PAYLOAD_RUN_ENDED:
		pm = &resp->run_ended->base;
		break;
	case GADGET__AGENT__V1__RESPONSE__PAYLOAD_INSTANCE:
		pm = &resp->instance->base;
		break;
	case GADGET__AGENT__V1__RESPONSE__PAYLOAD_INSTANCES:
		pm = &resp->instances->base;
		break;
	case GADGET__AGENT__V1__RESPONSE__PAYLOAD_INSTANCE_DELETED:
		pm = &resp->instance_deleted->base;
		break;
	case GADGET__AGENT__V1__RESPONSE__PAYLOAD_CONTAINERS:
		pm = &resp->containers->base;
		break;
	default:
		break;
	}
	if (pm && resp->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_RECORDS && c->quiet) {
		const Gadget__Agent__V1__RecordBatch *b = resp->records;

		json_int_t bytes = (json_int_t)b->raw.len;

		for (size_t i = 0; i < b->n_records; i++)
			bytes += (json_int_t)b->records[i].len;
		payload = json_pack(
			"{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:I, s:I, s:s, s:I, s:b, s:b, "
			"s:I}",
			"record_bytes", bytes, "run_id", (json_int_t)b->run_id, "first_seq",
			(json_int_t)b->first_seq, "n_records",
			(json_int_t)(b->n_records + b->n_raw), "n_containers",
			(json_int_t)b->n_containers, "n_endpoints", (json_int_t)b->n_endpoints,
			"raw_bytes", (json_int_t)b->raw.len, "compressed", b->compressed,
			"dropped_before", (json_int_t)b->dropped_before, "dropped_total",
			(json_int_t)b->dropped_total, "data_source", b->data_source, "fetch",
			(json_int_t)b->fetch, "fetch_end", b->fetch_end, "replay", b->replay,
			"kernel_lost", (json_int_t)b->kernel_lost);
		json_object_set_new(
			payload, "wire_bytes",
			json_integer((json_int_t)(c->msg_len + AGENT_WIRE_HEADER_BYTES)));
		if (c->count)
			json_object_set_new(payload, "token_records",
					    json_integer(count_token(c, b)));
	} else if (pm) {
		payload = msg_json(pm);
	}
	if (payload)
		json_object_update(o, payload);
	json_decref(payload);
	text = json_dumps(o, JSON_COMPACT);
	if (text) {
		fputs(text, stdout);
		fputc('\n', stdout);
		fflush(stdout);
	}
	free(text);
	json_decref(o);
}

/* ---- requests ---- */

static void send_req(struct client *c, Gadget__Agent__V1__Request *req)
{
	if (agent_wire_writer_queue(c->wr, &req->base, 0) < 0)
		usage_fail("cannot queue the request");
	while (agent_wire_writer_pending(c->wr)) {
		int r = agent_wire_writer_flush(c->wr, c->fd);

		if (r == -EAGAIN) {
			struct pollfd p = {.fd = c->fd, .events = POLLOUT};

			poll(&p, 1, 1000);
			continue;
		}
		if (r < 0) {
			fprintf(stderr, "agent_client: write: %s\n", strerror(-r));
			exit(EXIT_EOF);
		}
	}
}

static void send_command(struct client *c)
{
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	Gadget__Agent__V1__GetAgentInfo gai = GADGET__AGENT__V1__GET_AGENT_INFO__INIT;
	Gadget__Agent__V1__GetGadgetInfo ggi = GADGET__AGENT__V1__GET_GADGET_INFO__INIT;
	Gadget__Agent__V1__RunGadget rg = GADGET__AGENT__V1__RUN_GADGET__INIT;
	Gadget__Agent__V1__CreateInstance ci = GADGET__AGENT__V1__CREATE_INSTANCE__INIT;
	Gadget__Agent__V1__InstanceSpec is = GADGET__AGENT__V1__INSTANCE_SPEC__INIT;
	Gadget__Agent__V1__ListInstances li = GADGET__AGENT__V1__LIST_INSTANCES__INIT;
	Gadget__Agent__V1__AttachInstance ai = GADGET__AGENT__V1__ATTACH_INSTANCE__INIT;
	Gadget__Agent__V1__DeleteInstance di = GADGET__AGENT__V1__DELETE_INSTANCE__INIT;
	Gadget__Agent__V1__ListContainers lc = GADGET__AGENT__V1__LIST_CONTAINERS__INIT;
	Gadget__Agent__V1__StopRun sr = GADGET__AGENT__V1__STOP_RUN__INIT;
	const char *cmd = c->cmd;

	req.id = 2;
#define NEED(x)                                                                                    \
	do {                                                                                       \
		if (!(x))                                                                          \
			usage_fail("%s: missing argument", cmd);                                   \
	} while (0)
	if (!strcmp(cmd, "hello")) {
		return;
	} else if (!strcmp(cmd, "info")) {
		req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_GET_AGENT_INFO;
		req.get_agent_info = &gai;
	} else if (!strcmp(cmd, "gadget-info")) {
		NEED(c->arg1);
		ggi.image = (char *)c->arg1;
		ggi.params = c->pparams;
		ggi.n_params = c->n_params;
		ggi.filters = c->filters;
		ggi.n_filters = c->n_filters;
		req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_GET_GADGET_INFO;
		req.get_gadget_info = &ggi;
	} else if (!strcmp(cmd, "run")) {
		NEED(c->arg1);
		c->spec.image = (char *)c->arg1;
		rg.spec = &c->spec;
		rg.encoding = c->raw ? GADGET__AGENT__V1__RECORD_ENCODING__ENCODING_RAW
				     : GADGET__AGENT__V1__RECORD_ENCODING__ENCODING_JSON;
		rg.compress = c->compress;
		rg.window_bytes = c->window;
		req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_RUN_GADGET;
		req.run_gadget = &rg;
	} else if (!strcmp(cmd, "create")) {
		NEED(c->arg1 && c->arg2);
		c->spec.image = (char *)c->arg2;
		is.name = (char *)c->arg1;
		is.gadget = &c->spec;
		is.nodes = c->nodes;
		is.n_nodes = c->n_nodes;
		is.tags = c->tags;
		is.n_tags = c->n_tags;
		is.replay_records = c->replay;
		ci.spec = &is;
		req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_CREATE_INSTANCE;
		req.create_instance = &ci;
	} else if (!strcmp(cmd, "list")) {
		req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_LIST_INSTANCES;
		req.list_instances = &li;
	} else if (!strcmp(cmd, "attach")) {
		NEED(c->arg1);
		ai.instance = (char *)c->arg1;
		ai.replay_records = c->replay;
		ai.no_replay = c->no_replay;
		ai.encoding = c->raw ? GADGET__AGENT__V1__RECORD_ENCODING__ENCODING_RAW
				     : GADGET__AGENT__V1__RECORD_ENCODING__ENCODING_JSON;
		ai.compress = c->compress;
		ai.window_bytes = c->window;
		req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_ATTACH_INSTANCE;
		req.attach_instance = &ai;
	} else if (!strcmp(cmd, "delete")) {
		NEED(c->arg1);
		di.instance = (char *)c->arg1;
		req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_DELETE_INSTANCE;
		req.delete_instance = &di;
	} else if (!strcmp(cmd, "stop")) {
		NEED(c->arg1);
		sr.run_id = num(c->arg1);
		req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_STOP_RUN;
		req.stop_run = &sr;
	} else if (!strcmp(cmd, "containers")) {
		lc.selector = c->has_sel ? &c->sel : NULL;
		req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_LIST_CONTAINERS;
		req.list_containers = &lc;
	} else {
		usage_fail("unknown command '%s'", cmd);
	}
#undef NEED
	send_req(c, &req);
}

static void send_stop(struct client *c)
{
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	Gadget__Agent__V1__StopRun sr = GADGET__AGENT__V1__STOP_RUN__INIT;

	if (c->stop_sent || !c->have_run)
		return;
	sr.run_id = c->run_id;
	req.id = 3;
	req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_STOP_RUN;
	req.stop_run = &sr;
	send_req(c, &req);
	c->stop_sent = true;
}

/* RecordsAck of everything taken so far (the window opens again). */
static void send_ack(struct client *c, const Gadget__Agent__V1__RecordBatch *b)
{
	Gadget__Agent__V1__RecordsAck ra = GADGET__AGENT__V1__RECORDS_ACK__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;

	c->taken += b->raw.len;
	for (size_t i = 0; i < b->n_records; i++)
		c->taken += b->records[i].len;
	ra.run_id = c->run_id;
	ra.bytes = c->taken;
	req.id = 4;
	req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_RECORDS_ACK;
	req.records_ack = &ra;
	send_req(c, &req);
}

/* Where --count looks in a raw record: the field --count-field names. */
static void count_field_of(struct client *c, const Gadget__Agent__V1__DataSourceLayout *l)
{
	const char *want = c->count_field ? c->count_field : "fname";
	size_t i;

	for (i = 0; i < l->n_fields; i++)
		if (!strcmp(l->fields[i]->full_name, want)) {
			c->count_off = l->fields[i]->offset;
			c->count_size = l->fields[i]->size;
			return;
		}
	c->count_off = UINT32_MAX;
}

/* Returns an exit code when the client is done, -1 to go on. */
static int handle(struct client *c, const Gadget__Agent__V1__Response *resp)
{
	bool streaming = !strcmp(c->cmd, "run") || !strcmp(c->cmd, "attach");

	print_response(c, resp);
	switch (resp->payload_case) {
	case GADGET__AGENT__V1__RESPONSE__PAYLOAD_ERROR:
		if (resp->id == 3)
			return -1; /* the StopRun's own error */
		return EXIT_ERR;
	case GADGET__AGENT__V1__RESPONSE__PAYLOAD_WELCOME:
		if (!strcmp(c->cmd, "hello"))
			return 0;
		send_command(c);
		return -1;
	case GADGET__AGENT__V1__RESPONSE__PAYLOAD_RUN_STARTED:
		c->run_id = resp->run_started->run_id;
		c->have_run = true;
		if (resp->run_started->n_layouts)
			count_field_of(c, resp->run_started->layouts[0]);
		c->started_at = base_time_mono_ms();
		return -1;
	case GADGET__AGENT__V1__RESPONSE__PAYLOAD_RECORDS:
		c->records += resp->records->n_records + resp->records->n_raw;
		if (c->stop_after && c->records >= c->stop_after)
			send_stop(c);
		if (c->ack)
			send_ack(c, resp->records);
		return -1;
	case GADGET__AGENT__V1__RESPONSE__PAYLOAD_RUN_ENDED:
		return 0;
	default:
		return streaming ? -1 : 0;
	}
}

int main(int argc, char **argv)
{
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	Gadget__Agent__V1__Hello hello = GADGET__AGENT__V1__HELLO__INIT;
	struct client c = {0};
	bool paused_done = false;

	signal(SIGPIPE, SIG_IGN);
	parse(&c, argc, argv);
	c.t0 = base_time_mono_ms();
	c.fd = dial(c.addr);
	if (c.fd < 0) {
		fprintf(stderr, "agent_client: connect %s: %s\n", c.addr, strerror(-c.fd));
		return EXIT_EOF;
	}
	if (agent_wire_reader_new(0, &c.rd) < 0 || agent_wire_writer_new(0, &c.wr) < 0)
		return EXIT_ERR;
	if (c.no_hello) {
		send_command(&c);
	} else {
		hello.protocol_major = c.major;
		hello.protocol_minor = c.minor;
		hello.client = "agent_client";
		req.id = 1;
		req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_HELLO;
		req.hello = &hello;
		send_req(&c, &req);
	}
	for (;;) {
		uint64_t now = base_time_mono_ms();
		long timeout = (long)(c.t0 + (uint64_t)c.wait_ms) - (long)now;
		bool paused = false;
		struct pollfd p = {.fd = c.fd, .events = POLLIN};
		const uint8_t *msg;
		size_t len;
		int r;

		if (timeout <= 0) {
			fprintf(stderr, "agent_client: no end after %ld ms\n", c.wait_ms);
			return EXIT_WAIT;
		}
		if (c.exit_after_ms >= 0) {
			long left = (long)(c.t0 + (uint64_t)c.exit_after_ms) - (long)now;

			if (left <= 0)
				return 0;
			if (left < timeout)
				timeout = left;
		}
		if (c.have_run && c.stop_after_ms >= 0 && !c.stop_sent) {
			long left = (long)(c.started_at + (uint64_t)c.stop_after_ms) - (long)now;

			if (left <= 0)
				send_stop(&c);
			else if (left < timeout)
				timeout = left;
		}
		if (c.have_run && c.pause_ms >= 0 && !paused_done) {
			long left = (long)(c.started_at + (uint64_t)c.pause_ms) - (long)now;

			if (left <= 0) {
				paused_done = true;
				fprintf(stderr, "agent_client: reading again\n");
			} else {
				paused = true;
				if (left < timeout)
					timeout = left;
			}
		}
		if (paused) {
			poll(NULL, 0, (int)timeout);
			continue;
		}
		if (poll(&p, 1, (int)timeout) <= 0)
			continue;
		r = agent_wire_reader_read(c.rd, c.fd);
		if (r == -EAGAIN || r == -EINTR)
			continue;
		while (agent_wire_reader_next(c.rd, &msg, &len) == 1) {
			Gadget__Agent__V1__Response *resp = NULL;
			int done;

			if (agent_wire_response_unpack(msg, len, &resp) < 0) {
				fprintf(stderr, "agent_client: a response that does not decode\n");
				return EXIT_ERR;
			}
			c.msg_len = len;
			done = handle(&c, resp);
			agent_wire_response_free(resp);
			if (done >= 0)
				return done;
			/* a pause starts right after RunStarted: stop taking messages */
			if (c.have_run && c.pause_ms >= 0 && !paused_done)
				break;
		}
		if (r == 0 || (r < 0 && r != -ENOBUFS)) {
			fprintf(stderr, "agent_client: the agent closed the connection (%s)\n",
				r ? strerror(-r) : "end of stream");
			return EXIT_EOF;
		}
	}
}
