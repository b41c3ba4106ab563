// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the control API codec (agent/wire.c, agent/api.proto).
 *
 * One stream holding every Request and every Response case, each filled in,
 * is framed and then read back whole, one byte at a time, in random splits,
 * and through a real non-blocking socketpair; every message must come back
 * with the same bytes and fields.  Then the failure modes a peer can cause:
 * a length over the maximum (refused from the header, before its memory is
 * taken), garbage bodies, a stream cut inside a message, and a client that
 * does not read (the writer's queue refuses droppable messages with -ENOBUFS
 * and delivers everything it accepted).
 */
#include "agent/wire.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

/* ------------------------------------------------------------ the messages */

static Gadget__Agent__V1__KeyValue kv_a = GADGET__AGENT__V1__KEY_VALUE__INIT;
static Gadget__Agent__V1__KeyValue kv_b = GADGET__AGENT__V1__KEY_VALUE__INIT;
static Gadget__Agent__V1__KeyValue *kvs[] = {&kv_a, &kv_b};
static char *filters[] = {"fname~^/etc", "error!=0"};
static Gadget__Agent__V1__Selector sel = GADGET__AGENT__V1__SELECTOR__INIT;
static Gadget__Agent__V1__GadgetSpec spec = GADGET__AGENT__V1__GADGET_SPEC__INIT;
static char *nodes[] = {"node-1", "node-2"};
static char *tags[] = {"audit"};
static Gadget__Agent__V1__InstanceSpec ispec = GADGET__AGENT__V1__INSTANCE_SPEC__INIT;

static Gadget__Agent__V1__Hello hello = GADGET__AGENT__V1__HELLO__INIT;
static Gadget__Agent__V1__GetAgentInfo get_agent_info = GADGET__AGENT__V1__GET_AGENT_INFO__INIT;
static Gadget__Agent__V1__GetGadgetInfo get_gadget_info = GADGET__AGENT__V1__GET_GADGET_INFO__INIT;
static Gadget__Agent__V1__RunGadget run_gadget = GADGET__AGENT__V1__RUN_GADGET__INIT;
static Gadget__Agent__V1__StopRun stop_run = GADGET__AGENT__V1__STOP_RUN__INIT;
static Gadget__Agent__V1__CreateInstance create_instance = GADGET__AGENT__V1__CREATE_INSTANCE__INIT;
static Gadget__Agent__V1__ListInstances list_instances = GADGET__AGENT__V1__LIST_INSTANCES__INIT;
static Gadget__Agent__V1__AttachInstance attach_instance = GADGET__AGENT__V1__ATTACH_INSTANCE__INIT;
static Gadget__Agent__V1__DeleteInstance delete_instance = GADGET__AGENT__V1__DELETE_INSTANCE__INIT;
static Gadget__Agent__V1__ListContainers list_containers = GADGET__AGENT__V1__LIST_CONTAINERS__INIT;

static Gadget__Agent__V1__Error error = GADGET__AGENT__V1__ERROR__INIT;
static Gadget__Agent__V1__Welcome welcome = GADGET__AGENT__V1__WELCOME__INIT;
static char *runtimes[] = {"containerd"};
static Gadget__Agent__V1__AgentInfo agent_info = GADGET__AGENT__V1__AGENT_INFO__INIT;
static Gadget__Agent__V1__FieldInfo field_comm = GADGET__AGENT__V1__FIELD_INFO__INIT;
static Gadget__Agent__V1__FieldInfo field_pid = GADGET__AGENT__V1__FIELD_INFO__INIT;
static Gadget__Agent__V1__FieldInfo *fields[] = {&field_comm, &field_pid};
static Gadget__Agent__V1__DataSourceInfo ds = GADGET__AGENT__V1__DATA_SOURCE_INFO__INIT;
static Gadget__Agent__V1__DataSourceInfo *dss[] = {&ds};
static char *enum_values[] = {"a", "b"};
static Gadget__Agent__V1__ParamInfo param = GADGET__AGENT__V1__PARAM_INFO__INIT;
static Gadget__Agent__V1__ParamInfo *params[] = {&param};
static Gadget__Agent__V1__GadgetInfo gadget_info = GADGET__AGENT__V1__GADGET_INFO__INIT;
static Gadget__Agent__V1__RunStarted run_started = GADGET__AGENT__V1__RUN_STARTED__INIT;
static ProtobufCBinaryData recs[3];
static Gadget__Agent__V1__RecordBatch batch = GADGET__AGENT__V1__RECORD_BATCH__INIT;
static Gadget__Agent__V1__Error run_error = GADGET__AGENT__V1__ERROR__INIT;
static Gadget__Agent__V1__RunEnded run_ended = GADGET__AGENT__V1__RUN_ENDED__INIT;
static Gadget__Agent__V1__Instance instance = GADGET__AGENT__V1__INSTANCE__INIT;
static Gadget__Agent__V1__Instance *instances[] = {&instance};
static Gadget__Agent__V1__InstanceList instance_list = GADGET__AGENT__V1__INSTANCE_LIST__INIT;
static Gadget__Agent__V1__InstanceDeleted instance_deleted =
	GADGET__AGENT__V1__INSTANCE_DELETED__INIT;
static Gadget__Agent__V1__Container container = GADGET__AGENT__V1__CONTAINER__INIT;
static Gadget__Agent__V1__Container *containers[] = {&container};
static Gadget__Agent__V1__ContainerList container_list = GADGET__AGENT__V1__CONTAINER_LIST__INIT;

#define N_REQ  10
#define N_RESP 11
static Gadget__Agent__V1__Request reqs[N_REQ];
static Gadget__Agent__V1__Response resps[N_RESP];

static void fill_messages(void)
{
	size_t i;

	kv_a.key = "pid";
	kv_a.value = "42";
	kv_b.key = "failed";
	kv_b.value = "true";
	sel.namespace_ = "shop";
	sel.podname = "web-1";
	sel.containername = "nginx";
	sel.n_labels = 2;
	sel.labels = kvs;
	sel.runtime_containername = "k8s_nginx";
	sel.host = true;
	spec.image = "ghcr.io/org/trace_open:v1";
	spec.n_params = 2;
	spec.params = kvs;
	spec.selector = &sel;
	spec.fields = "+proc.comm,-timestamp";
	spec.n_filters = 2;
	spec.filters = filters;
	spec.sort = "-reads,file";
	spec.max_entries = 20;
	spec.map_fetch_interval_ms = 2000;
	spec.map_fetch_count = 3;
	spec.timeout_ms = 10000;
	ispec.name = "opens";
	ispec.gadget = &spec;
	ispec.n_nodes = 2;
	ispec.nodes = nodes;
	ispec.created_unix_ms = 1700000000123;
	ispec.replay_records = 512;
	ispec.n_tags = 1;
	ispec.tags = tags;

	hello.protocol_major = AGENT_WIRE_PROTOCOL_MAJOR;
	hello.protocol_minor = AGENT_WIRE_PROTOCOL_MINOR;
	hello.client = "test 1.0";
	get_gadget_info.image = "trace_exec";
	get_gadget_info.n_params = 1;
	get_gadget_info.params = kvs;
	run_gadget.spec = &spec;
	stop_run.run_id = 7;
	create_instance.spec = &ispec;
	attach_instance.instance = "opens";
	attach_instance.replay_records = 100;
	attach_instance.no_replay = true;
	delete_instance.instance = "0123456789abcdef0123456789abcdef";
	list_containers.selector = &sel;

	for (i = 0; i < N_REQ; i++) {
		gadget__agent__v1__request__init(&reqs[i]);
		reqs[i].id = 1000 + i;
		reqs[i].payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_HELLO + i;
	}
	reqs[0].hello = &hello;
	reqs[1].get_agent_info = &get_agent_info;
	reqs[2].get_gadget_info = &get_gadget_info;
	reqs[3].run_gadget = &run_gadget;
	reqs[4].stop_run = &stop_run;
	reqs[5].create_instance = &create_instance;
	reqs[6].list_instances = &list_instances;
	reqs[7].attach_instance = &attach_instance;
	reqs[8].delete_instance = &delete_instance;
	reqs[9].list_containers = &list_containers;

	error.code = GADGET__AGENT__V1__ERROR_CODE__ERROR_NOT_FOUND;
	error.message = "instance \"x\" not found";
	welcome.protocol_major = 1;
	welcome.protocol_minor = 0;
	welcome.agent_version = "0.1.0";
	welcome.node = "node-1";
	agent_info.agent_version = "0.1.0";
	agent_info.protocol_major = 1;
	agent_info.node = "node-1";
	agent_info.kernel_release = "6.1.0";
	agent_info.arch = "x86_64";
	agent_info.n_runtimes = 1;
	agent_info.runtimes = runtimes;
	agent_info.started_unix_ms = 1700000000000;
	agent_info.runs = 2;
	agent_info.instances = 1;
	agent_info.containers = 12;
	agent_info.max_message_bytes = AGENT_WIRE_MAX_MESSAGE;
	agent_info.max_queue_bytes = AGENT_WIRE_MAX_QUEUE;
	field_comm.name = "proc.comm";
	field_comm.short_name = "comm";
	field_comm.type = "string";
	field_comm.description = "command";
	field_comm.visible_json = true;
	field_comm.visible_columns = true;
	field_comm.width = 16;
	field_pid.name = "proc.pid";
	field_pid.short_name = "pid";
	field_pid.type = "uint32";
	field_pid.visible_json = true;
	field_pid.width = 7;
	field_pid.alignment = GADGET__AGENT__V1__ALIGNMENT__ALIGN_RIGHT;
	ds.name = "open";
	ds.type = GADGET__AGENT__V1__DATA_SOURCE_TYPE__DATA_SOURCE_TRACER;
	ds.n_fields = 2;
	ds.fields = fields;
	ds.n_annotations = 1;
	ds.annotations = kvs;
	param.key = "mode";
	param.name = "targ_mode";
	param.description = "which mode";
	param.default_value = "a";
	param.type = GADGET__AGENT__V1__PARAM_TYPE__PARAM_ENUM;
	param.type_name = "enum mode";
	param.n_values = 2;
	param.values = enum_values;
	gadget_info.image = "trace_open";
	gadget_info.digest = "sha256:0123";
	gadget_info.name = "trace open";
	gadget_info.description = "trace open files";
	gadget_info.n_data_sources = 1;
	gadget_info.data_sources = dss;
	gadget_info.n_params = 1;
	gadget_info.params = params;
	run_started.run_id = 7;
	run_started.info = &gadget_info;
	run_started.node = "node-1";
	run_started.instance_id = "0123456789abcdef0123456789abcdef";
	recs[0].data = (uint8_t *)"{\"proc\":{\"comm\":\"cat\"}}";
	recs[0].len = strlen((char *)recs[0].data);
	recs[1].data = (uint8_t *)"{}";
	recs[1].len = 2;
	recs[2].data = NULL;
	recs[2].len = 0;
	batch.run_id = 7;
	batch.first_seq = 100;
	batch.dropped_before = 5;
	batch.n_records = 3;
	batch.records = recs;
	batch.data_source = "open";
	batch.fetch = 4;
	batch.fetch_end = true;
	batch.replay = true;
	batch.kernel_lost = 9;
	batch.dropped_total = 11;
	run_error.code = GADGET__AGENT__V1__ERROR_CODE__ERROR_GADGET;
	run_error.message = "cannot attach kprobe/x";
	run_ended.run_id = 7;
	run_ended.reason = GADGET__AGENT__V1__RUN_END_REASON__RUN_END_ERROR;
	run_ended.error = &run_error;
	run_ended.records = 103;
	run_ended.dropped_total = 11;
	run_ended.kernel_lost = 9;
	instance.id = "0123456789abcdef0123456789abcdef";
	instance.spec = &ispec;
	instance.state = GADGET__AGENT__V1__INSTANCE_STATE__INSTANCE_FAILED;
	instance.error = "image not found";
	instance.node = "node-1";
	instance.records = 5;
	instance.clients = 1;
	instance_list.n_instances = 1;
	instance_list.instances = instances;
	instance_deleted.id = instance.id;
	container.id = "c0ffee";
	container.name = "nginx";
	container.pod_id = "p1";
	container.pod_name = "web-1";
	container.pod_namespace = "shop";
	container.pod_uid = "uid-1";
	container.runtime = "containerd";
	container.image_name = "nginx:1";
	container.image_digest = "sha256:aa";
	container.n_pod_labels = 2;
	container.pod_labels = kvs;
	container.n_labels = 1;
	container.labels = kvs;
	container.pid = 4242;
	container.mntns = 4026531840ull;
	container.netns = 4026531841ull;
	container.cgroup_id = 1234;
	container.started_unix_ns = 1700000000000000000ll;
	container.host_network = true;
	container.running = true;
	container.node = "node-1";
	container_list.n_containers = 1;
	container_list.containers = containers;

	for (i = 0; i < N_RESP; i++) {
		gadget__agent__v1__response__init(&resps[i]);
		resps[i].id = 2000 + i;
		resps[i].payload_case = GADGET__AGENT__V1__RESPONSE__PAYLOAD_ERROR + i;
	}
	resps[0].error = &error;
	resps[1].welcome = &welcome;
	resps[2].agent_info = &agent_info;
	resps[3].gadget_info = &gadget_info;
	resps[4].run_started = &run_started;
	resps[5].records = &batch;
	resps[6].run_ended = &run_ended;
	resps[7].instance = &instance;
	resps[8].instances = &instance_list;
	resps[9].instance_deleted = &instance_deleted;
	resps[10].containers = &container_list;
}

/* ------------------------------------------------------------ helpers */

/* The whole stream: every request, then every response. */
static void build_stream(struct base_buf *out)
{
	size_t i;

	for (i = 0; i < N_REQ; i++)
		assert_int_equal(agent_wire_frame(&reqs[i].base, out), 0);
	for (i = 0; i < N_RESP; i++)
		assert_int_equal(agent_wire_frame(&resps[i].base, out), 0);
}

static void assert_same_bytes(const ProtobufCMessage *want, const ProtobufCMessage *got)
{
	size_t n = protobuf_c_message_get_packed_size(want);
	uint8_t *a = malloc(n + 1), *b = malloc(n + 1);

	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(protobuf_c_message_get_packed_size(got), n);
	protobuf_c_message_pack(want, a);
	protobuf_c_message_pack(got, b);
	assert_memory_equal(a, b, n);
	free(a);
	free(b);
}

/* Checks message number k of the stream (requests first). */
static void check_message(size_t k, const uint8_t *msg, size_t len)
{
	Gadget__Agent__V1__Request *rq = NULL;
	Gadget__Agent__V1__Response *rs = NULL;

	if (k < N_REQ) {
		assert_int_equal(agent_wire_request_unpack(msg, len, &rq), 0);
		assert_int_equal(rq->id, reqs[k].id);
		assert_int_equal(rq->payload_case, reqs[k].payload_case);
		assert_same_bytes(&reqs[k].base, &rq->base);
		agent_wire_request_free(rq);
	} else {
		k -= N_REQ;
		assert_true(k < N_RESP);
		assert_int_equal(agent_wire_response_unpack(msg, len, &rs), 0);
		assert_int_equal(rs->id, resps[k].id);
		assert_int_equal(rs->payload_case, resps[k].payload_case);
		assert_same_bytes(&resps[k].base, &rs->base);
		agent_wire_response_free(rs);
	}
}

/* Takes every complete message; returns how many were checked so far. */
static size_t drain(struct agent_wire_reader *r, size_t k)
{
	const uint8_t *msg;
	size_t len;
	int ret;

	while ((ret = agent_wire_reader_next(r, &msg, &len)) == 1)
		check_message(k++, msg, len);
	assert_int_equal(ret, 0);
	return k;
}

/* Feeds the stream in pieces of at most max_piece bytes (random sizes if rnd). */
static void feed_stream(const struct base_buf *s, size_t max_piece, bool rnd)
{
	struct agent_wire_reader *r = NULL;
	size_t off = 0, k = 0, piece, taken;

	assert_int_equal(agent_wire_reader_new(0, &r), 0);
	while (off < s->len) {
		piece = rnd ? 1 + (size_t)rand() % max_piece : max_piece;
		if (piece > s->len - off)
			piece = s->len - off;
		while (piece) {
			assert_int_equal(agent_wire_reader_feed(r, s->data + off, piece, &taken),
					 0);
			off += taken;
			piece -= taken;
			k = drain(r, k);
		}
	}
	assert_int_equal(k, N_REQ + N_RESP);
	assert_int_equal(agent_wire_reader_pending(r), 0);
	agent_wire_reader_free(r);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void nonblock(int fd)
{
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

/* ------------------------------------------------------------ tests */

static void test_roundtrip_whole(void **state)
{
	struct base_buf s = BASE_BUF_INIT(0);
	size_t i;

	build_stream(&s);
	feed_stream(&s, s.len, false);
	/* every case has a name, taken from the schema */
	for (i = 0; i < N_REQ; i++)
		assert_string_not_equal(agent_wire_request_name(reqs[i].payload_case), "unknown");
	assert_string_equal(agent_wire_request_name(GADGET__AGENT__V1__REQUEST__PAYLOAD_RUN_GADGET),
			    "run_gadget");
	assert_string_equal(agent_wire_response_name(GADGET__AGENT__V1__RESPONSE__PAYLOAD_RECORDS),
			    "records");
	assert_string_equal(agent_wire_response_name(999), "unknown");
	assert_string_equal(agent_wire_request_name(1), "unknown"); /* id, not a case */
	assert_string_equal(agent_wire_error_code_name(
				    GADGET__AGENT__V1__ERROR_CODE__ERROR_UNSUPPORTED_VERSION),
			    "ERROR_UNSUPPORTED_VERSION");
	assert_string_equal(agent_wire_error_code_name(999), "unknown");
	base_buf_done(&s);
}

static void test_roundtrip_bytewise(void **state)
{
	struct base_buf s = BASE_BUF_INIT(0);

	build_stream(&s);
	feed_stream(&s, 1, false);
	base_buf_done(&s);
}

static void test_roundtrip_random_splits(void **state)
{
	struct base_buf s = BASE_BUF_INIT(0);
	unsigned int seed;

	build_stream(&s);
	for (seed = 1; seed <= 200; seed++) {
		srand(seed);
		feed_stream(&s, 1 + seed % 97, true);
	}
	base_buf_done(&s);
}

/* The fields a user sees, checked by name once (bytes equality does the rest). */
static void test_fields(void **state)
{
	struct base_buf s = BASE_BUF_INIT(0);
	Gadget__Agent__V1__Response *rs = NULL;
	Gadget__Agent__V1__Request *rq = NULL;
	Gadget__Agent__V1__RecordBatch *b;
	Gadget__Agent__V1__GadgetSpec *g;

	assert_int_equal(agent_wire_frame(&resps[5].base, &s), 0);
	assert_int_equal(agent_wire_response_unpack(s.data + 4, s.len - 4, &rs), 0);
	b = rs->records;
	assert_int_equal(b->first_seq, 100);
	assert_int_equal(b->dropped_before, 5);
	assert_int_equal(b->n_records, 3);
	assert_int_equal(b->records[0].len, recs[0].len);
	assert_memory_equal(b->records[0].data, recs[0].data, recs[0].len);
	assert_int_equal(b->records[2].len, 0);
	assert_string_equal(b->data_source, "open");
	assert_true(b->fetch_end && b->replay);
	rs = agent_wire_response_free(rs);
	assert_null(rs);

	base_buf_reset(&s);
	assert_int_equal(agent_wire_frame(&reqs[5].base, &s), 0);
	assert_int_equal(agent_wire_request_unpack(s.data + 4, s.len - 4, &rq), 0);
	assert_string_equal(rq->create_instance->spec->name, "opens");
	g = rq->create_instance->spec->gadget;
	assert_string_equal(g->image, "ghcr.io/org/trace_open:v1");
	assert_string_equal(g->selector->namespace_, "shop");
	assert_string_equal(g->selector->labels[1]->key, "failed");
	assert_string_equal(g->filters[0], "fname~^/etc");
	assert_int_equal(g->timeout_ms, 10000);
	assert_string_equal(rq->create_instance->spec->nodes[1], "node-2");
	rq = agent_wire_request_free(rq);
	base_buf_done(&s);
}

static void test_socketpair(void **state)
{
	struct agent_wire_writer *w = NULL;
	struct agent_wire_reader *r = NULL;
	size_t i, k = 0;
	int sv[2], ret;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	nonblock(sv[0]);
	nonblock(sv[1]);
	assert_int_equal(agent_wire_writer_new(0, &w), 0);
	assert_int_equal(agent_wire_reader_new(0, &r), 0);
	assert_int_equal(agent_wire_reader_read(r, sv[1]), -EAGAIN);
	for (i = 0; i < N_REQ; i++)
		assert_int_equal(agent_wire_writer_queue(w, &reqs[i].base, 0), 0);
	for (i = 0; i < N_RESP; i++)
		assert_int_equal(agent_wire_writer_queue(w, &resps[i].base, AGENT_WIRE_DROPPABLE),
				 0);
	assert_true(agent_wire_writer_pending(w) > 0);
	assert_int_equal(agent_wire_writer_flush(w, sv[0]), 0);
	assert_int_equal(agent_wire_writer_pending(w), 0);
	close(sv[0]);
	while ((ret = agent_wire_reader_read(r, sv[1])) > 0)
		k = drain(r, k);
	assert_int_equal(ret, 0); /* clean end of stream */
	assert_int_equal(k, N_REQ + N_RESP);
	assert_int_equal(agent_wire_reader_read(r, sv[1]), 0);
	close(sv[1]);
	agent_wire_reader_free(r);
	agent_wire_writer_free(w);
}

static void test_oversize(void **state)
{
	static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 1, 2, 3};
	uint8_t over[4], at_max[4];
	struct agent_wire_reader *r = NULL;
	struct base_buf big = BASE_BUF_INIT(0);
	struct mallinfo2 before, after;
	const uint8_t *msg;
	size_t taken, len;
	int sv[2];

	put_be32(over, AGENT_WIRE_MAX_MESSAGE + 1);
	put_be32(at_max, AGENT_WIRE_MAX_MESSAGE);
	assert_int_equal(agent_wire_reader_new(AGENT_WIRE_MAX_MESSAGE + 1, &r), -EINVAL);

	assert_int_equal(agent_wire_reader_new(0, &r), 0);
	assert_int_equal(agent_wire_reader_feed(r, huge, sizeof(huge), &taken), -EMSGSIZE);
	assert_int_equal(agent_wire_reader_next(r, &msg, &len), -EMSGSIZE);
	/* the stream cannot be resynchronised: it stays broken */
	assert_int_equal(agent_wire_reader_feed(r, huge, 1, &taken), -EMSGSIZE);
	r = agent_wire_reader_free(r);

	assert_int_equal(agent_wire_reader_new(0, &r), 0);
	assert_int_equal(agent_wire_reader_feed(r, over, 4, &taken), -EMSGSIZE);
	assert_int_equal(taken, 4);
	assert_int_equal(agent_wire_reader_next(r, &msg, &len), -EMSGSIZE);
	r = agent_wire_reader_free(r);

	/* a smaller maximum, through a socket */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(agent_wire_reader_new(100, &r), 0);
	assert_int_equal(write(sv[0], "\0\0\0\x65", 4), 4); /* 101 */
	assert_int_equal(agent_wire_reader_read(r, sv[1]), 4);
	assert_int_equal(agent_wire_reader_next(r, &msg, &len), -EMSGSIZE);
	assert_int_equal(agent_wire_reader_read(r, sv[1]), -EMSGSIZE);
	close(sv[0]);
	close(sv[1]);
	r = agent_wire_reader_free(r);

	/*
	 * A header announcing the maximum takes memory only as bytes arrive:
	 * after the header and a few bytes, far less than 16 MiB is in use.
	 */
	assert_int_equal(agent_wire_reader_new(0, &r), 0);
	before = mallinfo2();
	assert_int_equal(agent_wire_reader_feed(r, at_max, 4, &taken), 0);
	assert_int_equal(agent_wire_reader_feed(r, "abc", 3, &taken), 0);
	assert_int_equal(agent_wire_reader_next(r, &msg, &len), 0);
	after = mallinfo2();
	assert_true(after.uordblks < before.uordblks + (1u << 20));
	r = agent_wire_reader_free(r);

	/* the writer and the framer refuse to make what a reader would refuse */
	assert_int_equal(base_buf_reserve(&big, AGENT_WIRE_MAX_MESSAGE + 1), 0);
	memset(big.data, 'x', AGENT_WIRE_MAX_MESSAGE + 1);
	{
		struct agent_wire_writer *w = NULL;

		assert_int_equal(agent_wire_writer_new(0, &w), 0);
		assert_int_equal(
			agent_wire_writer_queue_raw(w, big.data, AGENT_WIRE_MAX_MESSAGE + 1, 0),
			-EMSGSIZE);
		assert_int_equal(agent_wire_writer_pending(w), 0);
		assert_int_equal(
			agent_wire_writer_queue_raw(w, big.data, AGENT_WIRE_MAX_MESSAGE, 0), 0);
		assert_int_equal(agent_wire_writer_pending(w), AGENT_WIRE_MAX_MESSAGE + 4);
		agent_wire_writer_free(w);
	}
	{
		Gadget__Agent__V1__RecordBatch b = GADGET__AGENT__V1__RECORD_BATCH__INIT;
		Gadget__Agent__V1__Response resp = GADGET__AGENT__V1__RESPONSE__INIT;
		ProtobufCBinaryData one = {.len = AGENT_WIRE_MAX_MESSAGE,
					   .data = (uint8_t *)big.data};
		struct base_buf out = BASE_BUF_INIT(0);

		b.n_records = 1;
		b.records = &one;
		resp.payload_case = GADGET__AGENT__V1__RESPONSE__PAYLOAD_RECORDS;
		resp.records = &b;
		assert_int_equal(agent_wire_frame(&resp.base, &out), -EMSGSIZE);
		assert_int_equal(out.len, 0);
		base_buf_done(&out);
	}
	base_buf_done(&big);
}

/* A message of exactly the maximum passes, in pieces through the reader. */
static void test_max_size(void **state)
{
	struct agent_wire_reader *r = NULL;
	struct base_buf s = BASE_BUF_INIT(0);
	size_t off = 0, taken, len, got = 0;
	const uint8_t *msg;
	uint8_t hdr[4] = {0, 0, 0x10, 0}; /* 4096 */
	int ret;

	assert_int_equal(base_buf_append(&s, hdr, 4), 0);
	assert_int_equal(base_buf_reserve(&s, 4096), 0);
	memset(s.data + 4, 'y', 4096);
	s.len += 4096;
	assert_int_equal(agent_wire_reader_new(4096, &r), 0);
	while (off < s.len) {
		assert_int_equal(agent_wire_reader_feed(r, s.data + off,
							1000 < s.len - off ? 1000 : s.len - off,
							&taken),
				 0);
		off += taken;
		while ((ret = agent_wire_reader_next(r, &msg, &len)) == 1) {
			assert_int_equal(len, 4096);
			assert_int_equal(msg[0], 'y');
			assert_int_equal(msg[4095], 'y');
			got++;
		}
		assert_int_equal(ret, 0);
	}
	assert_int_equal(got, 1);
	agent_wire_reader_free(r);
	base_buf_done(&s);
}

static void test_garbage(void **state)
{
	/* field 1 with wire type 7 (none such) */
	static const uint8_t bad_type[] = {0x0f, 0x01};
	/* field 1 varint, never ending */
	static const uint8_t bad_varint[] = {0x08, 0xff, 0xff, 0xff};
	/* field 10 (hello) length-delimited, length past the end */
	static const uint8_t bad_len[] = {0x52, 0x20, 0x08};
	/* id = 5, then field 30 (a case from a newer version) */
	static const uint8_t future[] = {0x08, 0x05, 0xf2, 0x01, 0x02, 0x08, 0x01};
	Gadget__Agent__V1__Request *rq = NULL;
	Gadget__Agent__V1__Response *rs = NULL;

	assert_int_equal(agent_wire_request_unpack(bad_type, sizeof(bad_type), &rq), -EBADMSG);
	assert_int_equal(agent_wire_request_unpack(bad_varint, sizeof(bad_varint), &rq), -EBADMSG);
	assert_int_equal(agent_wire_request_unpack(bad_len, sizeof(bad_len), &rq), -EBADMSG);
	assert_int_equal(agent_wire_response_unpack(bad_type, sizeof(bad_type), &rs), -EBADMSG);
	assert_null(rq);
	assert_null(rs);

	assert_int_equal(agent_wire_request_unpack(future, sizeof(future), &rq), 0);
	assert_int_equal(rq->id, 5);
	assert_int_equal(rq->payload_case, GADGET__AGENT__V1__REQUEST__PAYLOAD__NOT_SET);
	assert_string_equal(agent_wire_request_name(rq->payload_case), "unknown");
	rq = agent_wire_request_free(rq);

	/* an empty body is a valid, empty Request */
	assert_int_equal(agent_wire_request_unpack(NULL, 0, &rq), 0);
	assert_int_equal(rq->id, 0);
	assert_int_equal(rq->payload_case, GADGET__AGENT__V1__REQUEST__PAYLOAD__NOT_SET);
	agent_wire_request_free(rq);
	assert_null(agent_wire_response_free(NULL));
	assert_null(agent_wire_reader_free(NULL));
	assert_null(agent_wire_writer_free(NULL));
}

static void test_eof_mid_message(void **state)
{
	struct base_buf s = BASE_BUF_INIT(0);
	struct agent_wire_reader *r = NULL;
	size_t cut, k;
	int sv[2], ret;

	assert_int_equal(agent_wire_frame(&reqs[0].base, &s), 0);
	assert_int_equal(agent_wire_frame(&reqs[3].base, &s), 0);
	/* cut inside the second frame's header, and inside its body */
	for (cut = s.len - protobuf_c_message_get_packed_size(&reqs[3].base) - 2; cut < s.len;
	     cut += 7) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		assert_int_equal(write(sv[0], s.data, cut), (ssize_t)cut);
		close(sv[0]);
		assert_int_equal(agent_wire_reader_new(0, &r), 0);
		k = 0;
		while ((ret = agent_wire_reader_read(r, sv[1])) > 0) {
			const uint8_t *msg;
			size_t len;

			while (agent_wire_reader_next(r, &msg, &len) == 1)
				check_message(k++, msg, len);
		}
		assert_int_equal(ret, -EPROTO);
		/* the whole first message was still delivered; nothing after */
		assert_int_equal(k, 1);
		{
			const uint8_t *msg;
			size_t len;

			assert_int_equal(agent_wire_reader_next(r, &msg, &len), -EPROTO);
		}
		r = agent_wire_reader_free(r);
		close(sv[1]);
	}
	base_buf_done(&s);
}

/*
 * A client that does not read: droppable messages are refused once the
 * queue is full, control messages still go in, and the peer finally gets
 * exactly what was accepted, in order, with seq gaps where records were
 * dropped.
 */
static void test_queue_limit(void **state)
{
	Gadget__Agent__V1__RecordBatch b = GADGET__AGENT__V1__RECORD_BATCH__INIT;
	Gadget__Agent__V1__Response resp = GADGET__AGENT__V1__RESPONSE__INIT;
	Gadget__Agent__V1__Response *got;
	struct agent_wire_writer *w = NULL;
	struct agent_wire_reader *r = NULL;
	ProtobufCBinaryData rec;
	uint64_t seq, accepted = 0, dropped = 0, next_seq = 0, seen = 0, ended = 0;
	const uint8_t *msg;
	size_t len;
	char json[600];
	int sv[2], sndbuf = 4096, ret, flush;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	nonblock(sv[0]);
	nonblock(sv[1]);
	assert_int_equal(agent_wire_writer_new(64 << 10, &w), 0);
	assert_int_equal(agent_wire_reader_new(0, &r), 0);

	memset(json, 'r', sizeof(json));
	rec.data = (uint8_t *)json;
	rec.len = sizeof(json);
	b.run_id = 1;
	b.n_records = 1;
	b.records = &rec;
	resp.payload_case = GADGET__AGENT__V1__RESPONSE__PAYLOAD_RECORDS;
	resp.records = &b;

	/* the agent's side: one record per batch, the peer never reads */
	for (seq = 0; seq < 2000; seq++) {
		b.first_seq = seq;
		b.dropped_before = dropped;
		ret = agent_wire_writer_queue(w, &resp.base, AGENT_WIRE_DROPPABLE);
		if (ret == -ENOBUFS) {
			dropped++;
		} else {
			assert_int_equal(ret, 0);
			accepted++;
			dropped = 0;
		}
		assert_true(agent_wire_writer_pending(w) <= 64 << 10);
		flush = agent_wire_writer_flush(w, sv[0]);
		assert_true(flush == 0 || flush == -EAGAIN);
	}
	assert_true(accepted > 0);
	assert_true(dropped > 0);
	/* fill what room is left, then an answer, which is not droppable */
	for (;; seq++) {
		b.first_seq = seq;
		b.dropped_before = dropped;
		if (agent_wire_writer_queue(w, &resp.base, AGENT_WIRE_DROPPABLE) == -ENOBUFS)
			break;
		accepted++;
		dropped = 0;
	}
	dropped++;
	seq++;
	b.first_seq = seq;
	b.dropped_before = dropped;
	assert_int_equal(agent_wire_writer_queue(w, &resp.base, 0), 0);
	accepted++;
	assert_true(agent_wire_writer_pending(w) > 64 << 10);
	resp.payload_case = GADGET__AGENT__V1__RESPONSE__PAYLOAD_RUN_ENDED;
	resp.run_ended = &run_ended;
	assert_int_equal(agent_wire_writer_queue(w, &resp.base, 0), 0);

	/* the client wakes up and reads everything */
	for (;;) {
		flush = agent_wire_writer_flush(w, sv[0]);
		ret = agent_wire_reader_read(r, sv[1]);
		if (ret == -ENOBUFS)
			ret = 1;
		assert_true(ret > 0 || ret == -EAGAIN);
		while (agent_wire_reader_next(r, &msg, &len) == 1) {
			assert_int_equal(agent_wire_response_unpack(msg, len, &got), 0);
			if (got->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_RUN_ENDED) {
				ended++;
			} else {
				assert_int_equal(got->payload_case,
						 GADGET__AGENT__V1__RESPONSE__PAYLOAD_RECORDS);
				assert_int_equal(ended, 0);
				/* the gap in seq is what the batch says was dropped */
				assert_int_equal(got->records->first_seq,
						 next_seq + got->records->dropped_before);
				assert_int_equal(got->records->records[0].len, sizeof(json));
				next_seq = got->records->first_seq + 1;
				seen++;
			}
			agent_wire_response_free(got);
		}
		if (flush == 0 && ret == -EAGAIN)
			break;
	}
	assert_int_equal(seen, accepted);
	assert_int_equal(ended, 1);
	assert_int_equal(agent_wire_writer_pending(w), 0);

	/* a peer that is gone: -EPIPE, no signal */
	assert_int_equal(agent_wire_writer_queue(w, &resp.base, 0), 0);
	close(sv[1]);
	assert_int_equal(agent_wire_writer_flush(w, sv[0]), -EPIPE);
	assert_true(agent_wire_writer_pending(w) > 0);
	close(sv[0]);
	agent_wire_reader_free(r);
	agent_wire_writer_free(w);
}

/* Even control messages stop at max_queue + one maximum message. */
static void test_queue_hard_limit(void **state)
{
	struct agent_wire_writer *w = NULL;
	static uint8_t body[1000];
	size_t n = 0;
	int ret, p[2];

	assert_int_equal(agent_wire_writer_new(4096, &w), 0);
	while ((ret = agent_wire_writer_queue_raw(w, body, sizeof(body), 0)) == 0)
		n++;
	assert_int_equal(ret, -ENOBUFS);
	assert_int_equal(n, (4096 + 4 + AGENT_WIRE_MAX_MESSAGE) / (sizeof(body) + 4));
	/* a pipe is written with write(2) */
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(agent_wire_writer_flush(w, p[1]), -EAGAIN);
	assert_true(agent_wire_writer_pending(w) < n * (sizeof(body) + 4));
	close(p[0]);
	close(p[1]);
	agent_wire_writer_free(w);
}

static void test_version(void **state)
{
	char err[256] = "";
	uint32_t minor = 99;

	assert_int_equal(
		agent_wire_check_version(AGENT_WIRE_PROTOCOL_MAJOR, 0, &minor, err, sizeof(err)),
		0);
	assert_int_equal(minor, 0);
	assert_int_equal(agent_wire_check_version(AGENT_WIRE_PROTOCOL_MAJOR,
						  AGENT_WIRE_PROTOCOL_MINOR + 5, &minor, err,
						  sizeof(err)),
			 0);
	assert_int_equal(minor, AGENT_WIRE_PROTOCOL_MINOR);
	minor = 99;
	assert_int_equal(agent_wire_check_version(AGENT_WIRE_PROTOCOL_MAJOR + 1, 3, &minor, err,
						  sizeof(err)),
			 -EPROTONOSUPPORT);
	assert_int_equal(minor, 99);
	assert_non_null(strstr(err, "2.3"));
	assert_non_null(strstr(err, "major"));
	assert_int_equal(agent_wire_check_version(0, 0, &minor, NULL, 0), -EPROTONOSUPPORT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_whole),
		cmocka_unit_test(test_roundtrip_bytewise),
		cmocka_unit_test(test_roundtrip_random_splits),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_socketpair),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_max_size),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_eof_mid_message),
		cmocka_unit_test(test_queue_limit),
		cmocka_unit_test(test_queue_hard_limit),
		cmocka_unit_test(test_version),
	};

	fill_messages();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
