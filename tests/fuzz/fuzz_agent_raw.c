// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for the client's side of ENCODING_RAW (agent/raw.c,
 * run/remote.c): what `kubectl gadget` decodes from any agent it reaches.
 *
 * The input's first byte picks the description: odd, the RunStarted that
 * follows (two bytes of length, then the message), which exercises the
 * layout checks; even, a valid description built here (every kind of
 * field, container and constant columns, endpoints), so that the fuzzer
 * spends its time on batches.  The rest is RecordBatch messages, each two
 * bytes of length then the message, rendered in the output mode the second
 * byte picks.  Beyond not crashing: every refusal comes with a one-line
 * reason, and a refused description leaves nothing to render.
 */
#include "agent/raw.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf/layout.h"
#include "run/pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define F(n, full, k, sp, par, dep, off, sz)                                                       \
	{                                                                                          \
		.name = (char *)(n), .full_name = (char *)(full), .type_name = (char *)"t",        \
		.parent = (par), .depth = (dep), .kind = (k), .special = (sp), .offset = (off),    \
		.size = (sz)                                                                       \
	}

static struct bpf_layout_enum_val vals[] = {{(char *)"READ", 1}, {(char *)"WRITE", 2}};

static struct bpf_layout_field fields[] = {
	F("timestamp_raw", "timestamp_raw", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_TIMESTAMP, -1, 0, 0,
	  8),
	F("mntns_id", "mntns_id", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_MNTNS_ID, -1, 0, 8, 8),
	F("comm", "comm", BPF_LAYOUT_STRING, BPF_LAYOUT_SPECIAL_COMM, -1, 0, 16, 16),
	F("error_raw", "error_raw", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_ERRNO, -1, 0, 32, 4),
	{.name = (char *)"op",
	 .full_name = (char *)"op",
	 .type_name = (char *)"enum op",
	 .parent = -1,
	 .kind = BPF_LAYOUT_ENUM,
	 .offset = 36,
	 .size = 4,
	 .n_enum_vals = 2,
	 .enum_vals = vals},
	F("dst", "dst", BPF_LAYOUT_STRUCT, BPF_LAYOUT_SPECIAL_L4ENDPOINT, -1, 0, 40, 24),
	F("addr_raw", "dst.addr_raw", BPF_LAYOUT_BYTES, BPF_LAYOUT_SPECIAL_IP_ADDR, 5, 1, 40, 16),
	F("port", "dst.port", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_NONE, 5, 1, 56, 2),
	F("proto_raw", "dst.proto_raw", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_NONE, 5, 1, 58, 2),
	F("version", "dst.version", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_NONE, 5, 1, 60, 1),
	{.name = (char *)"slots",
	 .full_name = (char *)"slots",
	 .type_name = (char *)"gadget_histogram_slot__u32",
	 .parent = -1,
	 .kind = BPF_LAYOUT_ARRAY,
	 .offset = 64,
	 .size = 32,
	 .elem_kind = BPF_LAYOUT_UINT,
	 .elem_size = 4,
	 .count = 8},
};

static struct bpf_layout layout = {
	.name = (char *)"event",
	.size = 96,
	.n_fields = sizeof(fields) / sizeof(fields[0]),
	.fields = fields,
};

static int text(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	return base_buf_puts(out, ctx) < 0;
}

static int lookup(void *ctx, const char *ip, struct run_endpoint_k8s *ret)
{
	return 1;
}

/* A valid RunStarted, packed, built once. */
static uint8_t *valid;
static size_t valid_len;

static void build_valid(void)
{
	struct run_pipeline_opts po = {.sz = sizeof(po), .output = RUN_OUTPUT_JSON, .out_fd = -1};
	struct run_column_def node = {.name = "k8s.node",
				      .text = text,
				      .ctx = (void *)"node-1",
				      .source = RUN_COLUMN_SOURCE_CONSTANT};
	struct run_column_def pod = {.name = "k8s.podName",
				     .text = text,
				     .ctx = (void *)"pod",
				     .source = RUN_COLUMN_SOURCE_CONTAINER};
	struct run_endpoint_resolver res = {.lookup = lookup};
	Gadget__Agent__V1__RunStarted rs = GADGET__AGENT__V1__RUN_STARTED__INIT;
	Gadget__Agent__V1__DataSourceLayout *pl = NULL;
	struct run_pipeline *p = NULL;

	if (run_pipeline_new(&layout, NULL, &po, &p) || run_pipeline_add_column(p, &node) ||
	    run_pipeline_add_column(p, &pod) || run_pipeline_add_endpoint_k8s(p, &res) ||
	    run_pipeline_prepare(p) ||
	    agent_raw_layout_new("events", RUN_RUNNER_DS_TRACER, NULL, p, &pl))
		abort();
	rs.encoding = GADGET__AGENT__V1__RECORD_ENCODING__ENCODING_RAW;
	rs.layouts = &pl;
	rs.n_layouts = 1;
	valid_len = protobuf_c_message_get_packed_size(&rs.base);
	valid = malloc(valid_len);
	if (!valid)
		abort();
	protobuf_c_message_pack(&rs.base, valid);
	protobuf_c_message_free_unpacked(&pl->base, NULL);
	run_pipeline_free(p);
}

static uint16_t len16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void check_err(const char *err)
{
	if (!err[0] || strchr(err, '\n'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int null_fd = -1;
	struct agent_raw_client_opts o = {.sz = sizeof(o)};
	Gadget__Agent__V1__RunStarted *rs;
	struct agent_raw_client *c = NULL;
	char err[512];
	int node, r;

	if (!valid)
		build_valid();
	if (null_fd < 0)
		null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (size < 2)
		return 0;
	o.output = (enum run_output)(data[1] % 4);
	o.out_fd = null_fd;
	if (data[0] & 1) {
		size_t n;

		if (size < 4 || (n = len16(data + 2)) > size - 4)
			return 0;
		rs = gadget__agent__v1__run_started__unpack(NULL, n, data + 4);
		data += 4 + n;
		size -= 4 + n;
	} else {
		rs = gadget__agent__v1__run_started__unpack(NULL, valid_len, valid);
		data += 2;
		size -= 2;
	}
	if (!rs)
		return 0;
	if (agent_raw_client_new(&o, &c))
		abort();
	err[0] = '\0';
	node = agent_raw_client_started(c, "node-1", rs, err, sizeof(err));
	protobuf_c_message_free_unpacked(&rs->base, NULL);
	if (node == -EINVAL)
		check_err(err);
	if (node < 0) {
		agent_raw_client_free(c);
		return 0;
	}
	agent_raw_client_begin(c);
	while (size >= 2) {
		size_t n = len16(data);
		Gadget__Agent__V1__RecordBatch *rb;

		if (n > size - 2)
			break;
		rb = gadget__agent__v1__record_batch__unpack(NULL, n, data + 2);
		data += 2 + n;
		size -= 2 + n;
		if (!rb)
			continue;
		err[0] = '\0';
		r = agent_raw_client_batch(c, node, rb, err, sizeof(err));
		if (r == -EINVAL)
			check_err(err);
		protobuf_c_message_free_unpacked(&rb->base, NULL);
	}
	agent_raw_client_flush(c);
	agent_raw_client_free(c);
	return 0;
}
