// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the record pipeline (run/pipeline.c).
 *
 * The layout below is built by hand the way bpf/layout.c would describe a
 * gadget's event struct: a process struct with nested credentials, special
 * typedefs (timestamp, errno, uid/gid, mntns), an enum, a bitfield, a bool,
 * an L4 endpoint, plain and NUL-separated strings and an internal "__"
 * field.  Records go through a pipeline writing into a memfd and the tests
 * compare the exact text a user would see.
 */
#include "run/pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bpf/layout.h"
#include "oci/metadata.h"

struct test_l4 {
	uint8_t addr[16];
	uint16_t port;
	uint16_t proto_raw;
	uint8_t version;
	uint8_t pad[3];
};

struct test_event {
	uint64_t timestamp_raw;
	char comm[16];
	uint32_t pid;
	uint32_t internal;
	uint64_t mntns_id;
	uint32_t uid;
	uint32_t gid;
	uint32_t error_raw;
	uint32_t op_raw;
	uint8_t bits; /* lo:3 (unsigned), hi:5 (signed) */
	uint8_t ok;
	uint16_t pad1;
	int32_t delta;
	struct test_l4 dst;
	char fname[24];
	char args[24];
};

#define OFF(m) ((uint32_t)offsetof(struct test_event, m))
#define SZ(m)  ((uint32_t)sizeof(((struct test_event *)0)->m))

static struct bpf_layout_enum_val op_vals[] = {
	{.name = (char *)"OP_OPEN", .value = 0},
	{.name = (char *)"OP_CLOSE", .value = 1},
	{.name = (char *)"OP_READ", .value = 2},
};

#define FIELD(n, full, k, sp, off, sz, par, dep)                                                   \
	{                                                                                          \
		.name = (char *)(n), .full_name = (char *)(full), .type_name = (char *)"t",        \
		.parent = (par), .depth = (dep), .kind = (k), .special = (sp), .offset = (off),    \
		.size = (sz)                                                                       \
	}

static struct bpf_layout_field fields[] = {
	FIELD("timestamp_raw", "timestamp_raw", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_TIMESTAMP,
	      OFF(timestamp_raw), 8, -1, 0),
	FIELD("proc", "proc", BPF_LAYOUT_STRUCT, BPF_LAYOUT_SPECIAL_PROCESS, OFF(comm), 40, -1, 0),
	FIELD("comm", "proc.comm", BPF_LAYOUT_STRING, BPF_LAYOUT_SPECIAL_COMM, OFF(comm), 16, 1, 1),
	FIELD("pid", "proc.pid", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_PID, OFF(pid), 4, 1, 1),
	FIELD("__internal", "proc.__internal", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_NONE,
	      OFF(internal), 4, 1, 1),
	FIELD("mntns_id", "proc.mntns_id", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_MNTNS_ID,
	      OFF(mntns_id), 8, 1, 1),
	FIELD("creds", "proc.creds", BPF_LAYOUT_STRUCT, BPF_LAYOUT_SPECIAL_NONE, OFF(uid), 8, 1, 1),
	FIELD("uid", "proc.creds.uid", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_UID, OFF(uid), 4, 6, 2),
	FIELD("gid", "proc.creds.gid", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_GID, OFF(gid), 4, 6, 2),
	FIELD("error_raw", "error_raw", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_ERRNO, OFF(error_raw),
	      4, -1, 0),
	{.name = (char *)"op_raw",
	 .full_name = (char *)"op_raw",
	 .type_name = (char *)"enum op",
	 .parent = -1,
	 .kind = BPF_LAYOUT_ENUM,
	 .offset = OFF(op_raw),
	 .size = 4,
	 .n_enum_vals = 3,
	 .enum_vals = op_vals},
	{.name = (char *)"lo",
	 .full_name = (char *)"lo",
	 .parent = -1,
	 .kind = BPF_LAYOUT_UINT,
	 .offset = OFF(bits),
	 .size = 1,
	 .bit_offset = 0,
	 .bit_size = 3},
	{.name = (char *)"hi",
	 .full_name = (char *)"hi",
	 .parent = -1,
	 .kind = BPF_LAYOUT_INT,
	 .offset = OFF(bits),
	 .size = 1,
	 .bit_offset = 3,
	 .bit_size = 5},
	FIELD("ok", "ok", BPF_LAYOUT_BOOL, BPF_LAYOUT_SPECIAL_NONE, OFF(ok), 1, -1, 0),
	FIELD("delta", "delta", BPF_LAYOUT_INT, BPF_LAYOUT_SPECIAL_NONE, OFF(delta), 4, -1, 0),
	FIELD("dst", "dst", BPF_LAYOUT_STRUCT, BPF_LAYOUT_SPECIAL_L4ENDPOINT, OFF(dst), 24, -1, 0),
	FIELD("addr_raw", "dst.addr_raw", BPF_LAYOUT_BYTES, BPF_LAYOUT_SPECIAL_IP_ADDR,
	      OFF(dst.addr), 16, 15, 1),
	FIELD("port", "dst.port", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_NONE, OFF(dst.port), 2, 15,
	      1),
	FIELD("proto_raw", "dst.proto_raw", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_NONE,
	      OFF(dst.proto_raw), 2, 15, 1),
	FIELD("version", "dst.version", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_NONE, OFF(dst.version),
	      1, 15, 1),
	FIELD("fname", "fname", BPF_LAYOUT_STRING, BPF_LAYOUT_SPECIAL_NONE, OFF(fname), SZ(fname),
	      -1, 0),
	FIELD("args", "args", BPF_LAYOUT_STRING, BPF_LAYOUT_SPECIAL_NONE, OFF(args), SZ(args), -1,
	      0),
};

static struct bpf_layout layout = {
	.name = (char *)"event",
	.size = sizeof(struct test_event),
	.n_fields = sizeof(fields) / sizeof(fields[0]),
	.fields = fields,
};

#define ANN(k, v)                                                                                  \
	{                                                                                          \
		.key = (char *)(k), .value = (char *)(v)                                           \
	}

static struct oci_metadata_annotation ann_timestamp[] = {ANN("columns.hidden", "true")};
static struct oci_metadata_annotation ann_fname[] = {ANN("columns.width", "10"),
						     ANN("description", "File name")};
static struct oci_metadata_annotation ann_args[] = {ANN("strings.nul-separated", "true"),
						    ANN("columns.width", "20")};
static struct oci_metadata_annotation ann_delta[] = {ANN("columns.alignment", "left"),
						     ANN("columns.width", "6")};
static struct oci_metadata_annotation ann_hidden[] = {ANN("columns.hidden", "true")};
static struct oci_metadata_annotation ann_op[] = {ANN("columns.width", "5")};

static struct oci_metadata_field md_fields[] = {
	{.name = (char *)"timestamp", .n_annotations = 1, .annotations = ann_timestamp},
	{.name = (char *)"fname", .n_annotations = 2, .annotations = ann_fname},
	{.name = (char *)"args", .n_annotations = 2, .annotations = ann_args},
	{.name = (char *)"delta", .n_annotations = 2, .annotations = ann_delta},
	{.name = (char *)"lo", .n_annotations = 1, .annotations = ann_hidden},
	{.name = (char *)"hi", .n_annotations = 1, .annotations = ann_hidden},
	{.name = (char *)"proc.creds.gid", .n_annotations = 1, .annotations = ann_hidden},
	{.name = (char *)"proc.creds.group", .n_annotations = 1, .annotations = ann_hidden},
	{.name = (char *)"op", .n_annotations = 1, .annotations = ann_op},
};

static struct oci_metadata_ds md = {
	.name = (char *)"open",
	.n_fields = sizeof(md_fields) / sizeof(md_fields[0]),
	.fields = md_fields,
};

static void fill(struct test_event *e, const char *comm, uint32_t pid, uint32_t error,
		 const char *fname)
{
	static const char args[] = "cat\0-n\0file";

	memset(e, 0, sizeof(*e));
	snprintf(e->comm, sizeof(e->comm), "%s", comm);
	e->pid = pid;
	e->internal = 77;
	e->mntns_id = 4026531840u;
	e->error_raw = error;
	e->op_raw = 1;
	e->bits = (uint8_t)((29u << 3) | 5u); /* lo = 5, hi = -3 */
	e->ok = 1;
	e->delta = -5;
	e->dst.addr[0] = 10;
	e->dst.addr[3] = 1;
	e->dst.port = 443;
	e->dst.proto_raw = 6;
	e->dst.version = 4;
	snprintf(e->fname, sizeof(e->fname), "%s", fname);
	memcpy(e->args, args, sizeof(args));
}

struct fixture {
	int fd;
	char err[256];
	struct run_pipeline *p;
};

struct popts {
	enum run_output output;
	const char *fields;
	const char *const *filters;
	size_t n_filters;
	const char *sort;
	size_t max_entries;
	bool no_md;
	bool no_header;
	bool clear;
};

static int make(struct fixture *f, const struct popts *o)
{
	struct run_pipeline_opts po = {
		.sz = sizeof(po),
		.output = o->output,
		.fields = o->fields,
		.filters = o->filters,
		.n_filters = o->n_filters,
		.sort = o->sort,
		.max_entries = o->max_entries,
		.out_fd = f->fd,
		.clear_screen = o->clear,
		.no_header = o->no_header,
		.errbuf = f->err,
		.errbuf_len = sizeof(f->err),
	};
	int r;

	f->p = run_pipeline_free(f->p);
	f->err[0] = '\0';
	r = run_pipeline_new(&layout, o->no_md ? NULL : &md, &po, &f->p);
	if (r == 0)
		r = run_pipeline_prepare(f->p);
	return r;
}

static void make_ok(struct fixture *f, const struct popts *o)
{
	int r = make(f, o);

	if (r)
		print_error("error: %s\n", f->err);
	assert_int_equal(r, 0);
}

/* Flushes the pipeline and returns (then forgets) everything it wrote. */
static char *output(struct fixture *f)
{
	off_t n;
	char *s;

	assert_int_equal(run_pipeline_flush(f->p), 0);
	n = lseek(f->fd, 0, SEEK_END);
	assert_true(n >= 0);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(pread(f->fd, s, (size_t)n, 0), n);
	s[n] = '\0';
	assert_int_equal(ftruncate(f->fd, 0), 0);
	assert_int_equal(lseek(f->fd, 0, SEEK_SET), 0);
	return s;
}

static void expect_output(struct fixture *f, const char *want)
{
	char *got = output(f);

	if (strcmp(got, want))
		print_error("--- want\n%s--- got\n%s---\n", want, got);
	assert_string_equal(got, want);
	free(got);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->fd = memfd_create("pipeline-out", MFD_CLOEXEC);
	if (f->fd < 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	run_pipeline_free(f->p);
	close(f->fd);
	free(f);
	return 0;
}

static void record(struct fixture *f, const struct test_event *e)
{
	assert_int_equal(run_pipeline_record(f->p, e, sizeof(*e)), 0);
}

static void test_output_parse(void **state)
{
	enum run_output o = RUN_OUTPUT_JSON;

	(void)state;
	assert_int_equal(run_output_parse("columns", &o), 0);
	assert_int_equal(o, RUN_OUTPUT_COLUMNS);
	assert_int_equal(run_output_parse("jsonpretty", &o), 0);
	assert_int_equal(o, RUN_OUTPUT_JSONPRETTY);
	assert_int_equal(run_output_parse("yaml", &o), 0);
	assert_int_equal(o, RUN_OUTPUT_YAML);
	assert_int_equal(run_output_parse("json", &o), 0);
	assert_int_equal(o, RUN_OUTPUT_JSON);
	assert_int_equal(run_output_parse("JSON", &o), -EINVAL);
	assert_int_equal(run_output_parse("", &o), -EINVAL);
	assert_int_equal(o, RUN_OUTPUT_JSON);
}

static void test_columns_default(void **state)
{
	struct fixture *f = *state;
	struct popts o = {.output = RUN_OUTPUT_COLUMNS};
	struct test_event e;

	make_ok(f, &o);
	fill(&e, "cat", 1234, 2, "/etc/passwd");
	record(f, &e);
	fill(&e, "a-very-long-command", 5, 0, "/x"); /* comm holds 15 bytes and a NUL */
	e.error_raw = (uint32_t)-13;		     /* some gadgets store -errno */
	e.op_raw = 7;				     /* no name: the number */
	e.ok = 0;
	e.dst.version = 6;
	memset(e.dst.addr, 0, 16);
	e.dst.addr[15] = 1;
	e.dst.port = 80;
	record(f, &e);
	/* The header is printed once, before the first record. */
	expect_output(f,
		      "COMM                 PID      UID USER       ERROR      OP    OK    DELTA  "
		      "DST                    FNAME      ARGS\n"
		      "cat                 1234        0 root       ENOENT     OP_C… true  -5     "
		      "10.0.0.1:443           /etc/pass… cat -n file\n"
		      "a-very-long-com        5        0 root       EACCES     7     false -5     "
		      "[::1]:80               /x         cat -n file\n");
	assert_int_equal(run_pipeline_matched(f->p), 2);
}

static void test_columns_no_md_no_header(void **state)
{
	struct fixture *f = *state;
	struct popts o = {.output = RUN_OUTPUT_COLUMNS,
			  .no_md = true,
			  .no_header = true,
			  .fields = "proc.pid,lo,hi,delta,args"};
	struct test_event e;

	make_ok(f, &o);
	fill(&e, "cat", 1234, 2, "/etc/passwd");
	record(f, &e);
	/* Without the annotation the NUL-separated args show only argv[0]. */
	expect_output(f, "   1234    5   -3         -5 cat\n");
}

static void test_json_default(void **state)
{
	struct fixture *f = *state;
	struct popts o = {.output = RUN_OUTPUT_JSON};
	struct test_event e;

	make_ok(f, &o);
	fill(&e, "cat", 1234, 2, "/etc/passwd");
	record(f, &e);
	e.error_raw = 0;
	record(f, &e);
	expect_output(f,
		      "{\"timestamp\":null,\"timestamp_raw\":0,\"proc\":{\"comm\":\"cat\","
		      "\"pid\":1234,\"mntns_id\":4026531840,"
		      "\"creds\":{\"uid\":0,\"user\":\"root\",\"gid\":0,\"group\":\"root\"}},"
		      "\"error\":\"ENOENT\",\"error_raw\":2,\"op\":\"OP_CLOSE\",\"op_raw\":1,"
		      "\"lo\":5,\"hi\":-3,\"ok\":true,"
		      "\"delta\":-5,\"dst\":{\"addr\":\"10.0.0.1\",\"version\":4,\"port\":443,"
		      "\"proto\":\"TCP\"},\"fname\":\"/etc/passwd\",\"args\":\"cat -n file\"}\n"
		      "{\"timestamp\":null,\"timestamp_raw\":0,\"proc\":{\"comm\":\"cat\","
		      "\"pid\":1234,\"mntns_id\":4026531840,"
		      "\"creds\":{\"uid\":0,\"user\":\"root\",\"gid\":0,\"group\":\"root\"}},"
		      "\"error\":\"\",\"error_raw\":0,\"op\":\"OP_CLOSE\",\"op_raw\":1,\"lo\":5,"
		      "\"hi\":-3,\"ok\":true,"
		      "\"delta\":-5,\"dst\":{\"addr\":\"10.0.0.1\",\"version\":4,\"port\":443,"
		      "\"proto\":\"TCP\"},\"fname\":\"/etc/passwd\",\"args\":\"cat -n file\"}\n");
}

static void test_json_fields_order_and_nesting(void **state)
{
	struct fixture *f = *state;
	struct popts o = {.output = RUN_OUTPUT_JSON,
			  .fields = "proc.pid,fname,proc.comm,error_raw,dst.port,op_raw"};
	struct test_event e;

	make_ok(f, &o);
	fill(&e, "cat", 1234, 2, "/etc/passwd");
	record(f, &e);
	/* Members of one struct are grouped where the first of them appears. */
	expect_output(f, "{\"proc\":{\"pid\":1234,\"comm\":\"cat\"},\"fname\":\"/etc/passwd\","
			 "\"error_raw\":2,\"dst\":{\"port\":443},\"op_raw\":1}\n");
}

static void test_jsonpretty(void **state)
{
	struct fixture *f = *state;
	struct popts o = {.output = RUN_OUTPUT_JSONPRETTY,
			  .fields = "proc.comm,proc.creds.uid,dst,error"};
	struct test_event e;

	make_ok(f, &o);
	fill(&e, "cat", 1234, 2, "/etc/passwd");
	record(f, &e);
	expect_output(f, "{\n"
			 "  \"proc\": {\n"
			 "    \"comm\": \"cat\",\n"
			 "    \"creds\": {\n"
			 "      \"uid\": 0\n"
			 "    }\n"
			 "  },\n"
			 "  \"dst\": {\n"
			 "    \"addr\": \"10.0.0.1\",\n"
			 "    \"version\": 4,\n"
			 "    \"port\": 443,\n"
			 "    \"proto\": \"TCP\"\n"
			 "  },\n"
			 "  \"error\": \"ENOENT\"\n"
			 "}\n");
}

static void test_yaml(void **state)
{
	struct fixture *f = *state;
	struct popts o = {.output = RUN_OUTPUT_YAML,
			  .fields = "proc.comm,proc.pid,dst,fname,ok,timestamp,error"};
	struct test_event e;

	make_ok(f, &o);
	fill(&e, "cat", 1234, 2, "/etc/passwd");
	record(f, &e);
	fill(&e, "true", 1, 0, "a: b");
	record(f, &e);
	expect_output(f, "---\n"
			 "proc:\n"
			 "  comm: cat\n"
			 "  pid: 1234\n"
			 "dst:\n"
			 "  addr: \"10.0.0.1\"\n"
			 "  version: 4\n"
			 "  port: 443\n"
			 "  proto: TCP\n"
			 "fname: /etc/passwd\n"
			 "ok: true\n"
			 "timestamp: null\n"
			 "error: ENOENT\n"
			 "---\n"
			 "proc:\n"
			 "  comm: \"true\"\n"
			 "  pid: 1\n"
			 "dst:\n"
			 "  addr: \"10.0.0.1\"\n"
			 "  version: 4\n"
			 "  port: 443\n"
			 "  proto: TCP\n"
			 "fname: \"a: b\"\n"
			 "ok: true\n"
			 "timestamp: null\n"
			 "error: \"\"\n");
}

static void test_fields_relative(void **state)
{
	struct fixture *f = *state;
	struct popts o = {.output = RUN_OUTPUT_COLUMNS,
			  .fields = "-proc.comm, -dst,-args,+error_raw,-fname,-proc.creds.uid,"
				    "-proc.creds.user,-ok,-delta"};
	struct test_event e;

	make_ok(f, &o);
	fill(&e, "cat", 1234, 2, "/etc/passwd");
	record(f, &e);
	/* a right-aligned last column is padded, never cut */
	expect_output(f, "    PID ERROR      OP     ERROR_RAW\n"
			 "   1234 ENOENT     OP_C…          2\n");
}

static void test_fields_struct_and_short_names(void **state)
{
	struct fixture *f = *state;
	struct popts o = {.output = RUN_OUTPUT_COLUMNS, .fields = "proc,fname"};
	struct test_event e;

	/* "proc" stands for its columns of the default set (not mntns_id). */
	make_ok(f, &o);
	fill(&e, "cat", 1234, 2, "/etc/passwd");
	record(f, &e);
	expect_output(f, "COMM                 PID      UID USER       FNAME\n"
			 "cat                 1234        0 root       /etc/passwd\n");

	/* A last component is enough when unique; JSON still nests it. */
	o.output = RUN_OUTPUT_JSON;
	o.fields = "comm,port,mntns_id";
	make_ok(f, &o);
	record(f, &e);
	expect_output(f, "{\"proc\":{\"comm\":\"cat\",\"mntns_id\":4026531840},"
			 "\"dst\":{\"port\":443}}\n");
}

static void test_fields_errors(void **state)
{
	struct fixture *f = *state;
	struct popts o = {.output = RUN_OUTPUT_COLUMNS, .fields = "proc.comm,nope"};

	assert_int_equal(make(f, &o), -EINVAL);
	assert_string_equal(f->err,
			    "unknown field 'nope' (see --help for the fields of this gadget)");
	o.fields = "+bogus";
	assert_int_equal(make(f, &o), -EINVAL);
	assert_string_equal(f->err,
			    "unknown field 'bogus' (see --help for the fields of this gadget)");
	/* internal fields do not exist for the user */
	o.fields = "proc.__internal";
	assert_int_equal(make(f, &o), -EINVAL);
	o.fields = "__internal";
	assert_int_equal(make(f, &o), -EINVAL);
	/* "version" is a member of dst only: fine; "addr" likewise */
	o.fields = "version,addr";
	assert_int_equal(make(f, &o), 0);
}

static void filter_case(struct fixture *f, const char *expr, bool want_match)
{
	const char *filters[] = {expr};
	struct popts o = {.output = RUN_OUTPUT_JSON,
			  .fields = "proc.pid",
			  .filters = filters,
			  .n_filters = 1};
	struct test_event e;
	char *got;

	make_ok(f, &o);
	fill(&e, "cat", 1234, 2, "/etc/passwd");
	record(f, &e);
	got = output(f);
	if (want_match != (got[0] != '\0'))
		print_error("filter '%s': want %s\n", expr, want_match ? "match" : "no match");
	assert_int_equal(got[0] != '\0', want_match);
	free(got);
	assert_int_equal(run_pipeline_matched(f->p), want_match ? 1 : 0);
}

static void test_filter_operators(void **state)
{
	struct fixture *f = *state;

	/* numbers compare as numbers */
	filter_case(f, "proc.pid==1234", true);
	filter_case(f, "proc.pid=1234", true);
	filter_case(f, "pid==123", false);
	filter_case(f, "pid!=1234", false);
	filter_case(f, "pid!=1", true);
	filter_case(f, "pid>999", true);
	filter_case(f, "pid>1234", false);
	filter_case(f, "pid>=1234", true);
	filter_case(f, "pid<1234", false);
	filter_case(f, "pid<=1234", true);
	filter_case(f, "pid<10000", true); /* lexically "1234" > "10000" */
	filter_case(f, "pid==0x4d2", true);
	filter_case(f, "delta<0", true);
	filter_case(f, "delta==-5", true);
	filter_case(f, "hi==-3", true);
	filter_case(f, "lo==5", true);
	filter_case(f, "ok==true", true);
	filter_case(f, "ok==false", false);
	filter_case(f, " pid == 1234", true);
	/* strings */
	filter_case(f, "proc.comm==cat", true);
	filter_case(f, "comm==ca", false);
	filter_case(f, "comm!=cat", false);
	filter_case(f, "comm>cas", true);
	filter_case(f, "comm<cat", false);
	filter_case(f, "fname~^/etc/", true);
	filter_case(f, "fname~passwd$", true);
	filter_case(f, "fname~^passwd", false);
	filter_case(f, "fname!~^/etc/", false);
	filter_case(f, "fname!~^/tmp/", true);
	filter_case(f, "fname==/etc/passwd", true);
	filter_case(f, "fname==", false);
	filter_case(f, "args==cat -n file", true);
	/* rendered values */
	filter_case(f, "error==ENOENT", true);
	filter_case(f, "error==", false);
	filter_case(f, "error!=ENOENT", false);
	filter_case(f, "error_raw==2", true);
	filter_case(f, "op==OP_CLOSE", true);
	filter_case(f, "op~CLOSE|READ", true);
	filter_case(f, "user==root", true);
	filter_case(f, "dst==10.0.0.1:443", true);
	filter_case(f, "dst.proto==TCP", true);
	filter_case(f, "dst.addr==10.0.0.1", true);
	filter_case(f, "pid~^12", true);
	filter_case(f, "pid~^2", false);
	/* bracket expressions hold plain characters; counted repetitions work */
	filter_case(f, "fname~^/[+{a-z}]+/pass[[:alpha:]]{2}$", true);
	filter_case(f, "dst~^([0-9]{1,3}\\.){3}[0-9]{1,3}:443$", true);
	filter_case(f, "comm~^c\\+*", true);
	/* RE2's syntax, as Inspektor Gadget's users write it */
	filter_case(f, "pid~^\\d+$", true);
	filter_case(f, "comm~^\\w{3}$", true);
	filter_case(f, "args~cat\\s-n", true);
	filter_case(f, "args~^\\S+\\s", true);
	filter_case(f, "fname~^/.*?/", true);
	filter_case(f, "fname~(?i)^/ETC/", true);
	filter_case(f, "comm~^\\D", true);
	filter_case(f, "comm~a{,3}", false); /* a literal in RE2 too */
}

static void test_filter_empty_errno(void **state)
{
	struct fixture *f = *state;
	const char *filters[] = {"error==", "comm~^c"};
	struct popts o = {.output = RUN_OUTPUT_COLUMNS,
			  .fields = "pid,error",
			  .filters = filters,
			  .n_filters = 2,
			  .no_header = true};
	struct test_event e;

	make_ok(f, &o);
	fill(&e, "cat", 1, 2, "/a");
	record(f, &e);
	fill(&e, "cat", 2, 0, "/a");
	record(f, &e);
	fill(&e, "dog", 3, 0, "/a");
	record(f, &e);
	/* all filters must match */
	expect_output(f, "      2 \n");
}

static void expect_filter_error(struct fixture *f, const char *expr, const char *msg)
{
	const char *filters[] = {"pid>0", expr};
	struct popts o = {.output = RUN_OUTPUT_JSON, .filters = filters, .n_filters = 2};

	assert_int_equal(make(f, &o), -EINVAL);
	if (strcmp(f->err, msg))
		print_error("filter '%s'\n want: %s\n  got: %s\n", expr, msg, f->err);
	assert_string_equal(f->err, msg);
}

static void test_filter_errors(void **state)
{
	struct fixture *f = *state;

	expect_filter_error(f, "pid",
			    "invalid filter 'pid': expected FIELD OP VALUE with OP one of ==, !=, "
			    "<, <=, >, >=, ~, !~");
	expect_filter_error(f, "==3", "invalid filter '==3': no field name before '=='");
	expect_filter_error(f, "nope==3",
			    "invalid filter 'nope==3': unknown field 'nope' (see --help for the "
			    "fields of this gadget)");
	expect_filter_error(f, "pid==abc",
			    "invalid filter 'pid==abc': field 'proc.pid' needs an unsigned "
			    "integer, not 'abc'");
	expect_filter_error(f, "pid==-1",
			    "invalid filter 'pid==-1': field 'proc.pid' needs an unsigned "
			    "integer, not '-1'");
	expect_filter_error(f, "pid>",
			    "invalid filter 'pid>': field 'proc.pid' needs an unsigned "
			    "integer, not ''");
	expect_filter_error(f, "pid==99999999999999999999999",
			    "invalid filter 'pid==99999999999999999999999': field 'proc.pid' "
			    "needs an unsigned integer, not '99999999999999999999999'");
	expect_filter_error(
		f, "delta==1.5",
		"invalid filter 'delta==1.5': field 'delta' needs an integer, not '1.5'");
	expect_filter_error(f, "ok==maybe",
			    "invalid filter 'ok==maybe': field 'ok' needs true or false, not "
			    "'maybe'");
	/* PCRE2's own words, with where in the pattern */
	expect_filter_error(f, "comm~a+++",
			    "invalid filter 'comm~a+++': bad regular expression: quantifier does "
			    "not follow a repeatable item at offset 3");
	expect_filter_error(f, "comm~(a)\\1",
			    "invalid filter 'comm~(a)\\1': bad regular expression: back-references "
			    "are not supported");
	expect_filter_error(f, "comm~(",
			    "invalid filter 'comm~(': bad regular expression: missing closing "
			    "parenthesis at offset 1");
}

static void batch(struct fixture *f, struct test_event *ev, size_t n)
{
	const void *recs[8];
	size_t i;

	for (i = 0; i < n; i++)
		recs[i] = &ev[i];
	assert_int_equal(run_pipeline_batch(f->p, recs, n, sizeof(*ev)), 0);
}

static void three(struct test_event *ev)
{
	fill(&ev[0], "b", 10, 0, "/b");
	fill(&ev[1], "a", 30, 2, "/a");
	fill(&ev[2], "c", 20, 0, "/c");
}

static void test_batch_sort_limit_columns(void **state)
{
	struct fixture *f = *state;
	struct popts o = {.output = RUN_OUTPUT_COLUMNS,
			  .fields = "comm,pid",
			  .sort = "-pid",
			  .max_entries = 2};
	struct test_event ev[3];

	make_ok(f, &o);
	three(ev);
	batch(f, ev, 3);
	batch(f, ev, 3);
	expect_output(f, "COMM                 PID\n"
			 "a                     30\n"
			 "c                     20\n"
			 "\n"
			 "COMM                 PID\n"
			 "a                     30\n"
			 "c                     20\n");
	assert_int_equal(run_pipeline_matched(f->p), 4);
}

static void test_batch_sort_keys(void **state)
{
	struct fixture *f = *state;
	struct popts o = {.output = RUN_OUTPUT_JSON, .fields = "comm,pid", .sort = "error,comm"};
	struct test_event ev[4];

	make_ok(f, &o);
	three(ev);
	fill(&ev[3], "a", 40, 0, "/d");
	batch(f, ev, 4);
	/* "" < "ENOENT"; ties broken by comm, then by input order (stable) */
	expect_output(
		f,
		"{\"proc\":{\"comm\":\"a\",\"pid\":40}}\n{\"proc\":{\"comm\":\"b\",\"pid\":10}}\n"
		"{\"proc\":{\"comm\":\"c\",\"pid\":20}}\n{\"proc\":{\"comm\":\"a\",\"pid\":30}}\n");

	o.sort = "-error, comm";
	o.filters = (const char *const[]){"pid!=20"};
	o.n_filters = 1;
	make_ok(f, &o);
	batch(f, ev, 4);
	expect_output(
		f,
		"{\"proc\":{\"comm\":\"a\",\"pid\":30}}\n{\"proc\":{\"comm\":\"a\",\"pid\":40}}\n"
		"{\"proc\":{\"comm\":\"b\",\"pid\":10}}\n");

	o.sort = "nope";
	assert_int_equal(make(f, &o), -EINVAL);
	assert_string_equal(f->err, "invalid --sort: unknown field 'nope' (see --help for the "
				    "fields of this gadget)");
}

static void test_batch_sort_stable(void **state)
{
	struct fixture *f = *state;
	struct popts o = {.output = RUN_OUTPUT_JSON, .fields = "pid", .sort = "ok"};
	struct test_event ev[6];
	size_t i;

	make_ok(f, &o);
	for (i = 0; i < 6; i++) {
		fill(&ev[i], "x", (uint32_t)i, 0, "/");
		ev[i].ok = i % 2;
	}
	batch(f, ev, 6);
	expect_output(f,
		      "{\"proc\":{\"pid\":0}}\n{\"proc\":{\"pid\":2}}\n{\"proc\":{\"pid\":4}}\n"
		      "{\"proc\":{\"pid\":1}}\n{\"proc\":{\"pid\":3}}\n{\"proc\":{\"pid\":5}}\n");
}

static void test_batch_jsonpretty_yaml(void **state)
{
	struct fixture *f = *state;
	struct popts o = {.output = RUN_OUTPUT_JSONPRETTY, .fields = "comm,pid", .sort = "pid"};
	struct test_event ev[3];

	make_ok(f, &o);
	three(ev);
	batch(f, ev, 2);
	batch(f, ev, 0);
	expect_output(f, "[\n"
			 "  {\n"
			 "    \"proc\": {\n"
			 "      \"comm\": \"b\",\n"
			 "      \"pid\": 10\n"
			 "    }\n"
			 "  },\n"
			 "  {\n"
			 "    \"proc\": {\n"
			 "      \"comm\": \"a\",\n"
			 "      \"pid\": 30\n"
			 "    }\n"
			 "  }\n"
			 "]\n"
			 "[]\n");

	o.output = RUN_OUTPUT_YAML;
	o.fields = "pid,comm,dst";
	make_ok(f, &o);
	batch(f, ev, 3);
	batch(f, ev, 0);
	expect_output(f, "---\n"
			 "- proc:\n"
			 "    pid: 10\n"
			 "    comm: b\n"
			 "  dst:\n"
			 "    addr: \"10.0.0.1\"\n"
			 "    version: 4\n"
			 "    port: 443\n"
			 "    proto: TCP\n"
			 "- proc:\n"
			 "    pid: 20\n"
			 "    comm: c\n"
			 "  dst:\n"
			 "    addr: \"10.0.0.1\"\n"
			 "    version: 4\n"
			 "    port: 443\n"
			 "    proto: TCP\n"
			 "- proc:\n"
			 "    pid: 30\n"
			 "    comm: a\n"
			 "  dst:\n"
			 "    addr: \"10.0.0.1\"\n"
			 "    version: 4\n"
			 "    port: 443\n"
			 "    proto: TCP\n"
			 "---\n"
			 "[]\n");
}

static void test_batch_clear_screen(void **state)
{
	struct fixture *f = *state;
	struct popts o = {.output = RUN_OUTPUT_COLUMNS, .fields = "pid", .clear = true};
	struct test_event ev[3];

	make_ok(f, &o);
	three(ev);
	batch(f, ev, 1);
	batch(f, ev, 1);
	expect_output(f, "\033[H\033[2J    PID\n     10\n\033[H\033[2J    PID\n     10\n");
}

static void test_json_escaping(void **state)
{
	struct fixture *f = *state;
	struct popts o = {.output = RUN_OUTPUT_JSON, .fields = "fname"};
	struct test_event e;

	make_ok(f, &o);
	fill(&e, "x", 1, 0, "");
	memcpy(e.fname, "a\"b\\c\n\x01\x1f\x7f", 10);
	record(f, &e);
	memcpy(e.fname, "\xc3\xa9\xff\xe2\x82\xac\xed\xa0\x80z", 11); /* é, bad, €, surrogate */
	record(f, &e);
	/* not NUL-terminated: the string stops at the field's end */
	memset(e.fname, 'x', sizeof(e.fname));
	record(f, &e);
	expect_output(f, "{\"fname\":\"a\\\"b\\\\c\\n\\u0001\\u001f\x7f\"}\n"
			 "{\"fname\":\"\xc3\xa9\\ufffd\xe2\x82\xac\\ufffd\\ufffd\\ufffdz\"}\n"
			 "{\"fname\":\"xxxxxxxxxxxxxxxxxxxxxxxx\"}\n");
}

static void test_columns_sanitize(void **state)
{
	struct fixture *f = *state;
	struct popts o = {.output = RUN_OUTPUT_COLUMNS, .fields = "fname,pid", .no_header = true};
	struct test_event e;

	make_ok(f, &o);
	fill(&e, "x", 1, 0, "\033[2Jab\tc\xff");
	record(f, &e);
	/* escape sequences cannot reach the terminal */
	expect_output(f, "?[2Jab?c?        1\n");
}

static void test_short_records(void **state)
{
	struct fixture *f = *state;
	struct popts o = {.output = RUN_OUTPUT_JSON,
			  .fields = "proc.comm,proc.pid,fname,args,dst,error"};
	struct test_event e;

	make_ok(f, &o);
	fill(&e, "cat", 1234, 2, "/etc/passwd");
	/* args cut after "cat\0-n": the rest of the record was not submitted */
	assert_int_equal(run_pipeline_record(f->p, &e, OFF(args) + 6), 0);
	/* fname cut in the middle, no NUL within the record */
	assert_int_equal(run_pipeline_record(f->p, &e, OFF(fname) + 4), 0);
	/* only the first 20 bytes: comm cut, pid missing */
	assert_int_equal(run_pipeline_record(f->p, &e, 20), 0);
	assert_int_equal(run_pipeline_record(f->p, &e, 0), 0);
	expect_output(
		f, "{\"proc\":{\"comm\":\"cat\",\"pid\":1234},\"fname\":\"/etc/passwd\",\"args\":"
		   "\"cat -n\",\"dst\":{\"addr\":\"10.0.0.1\",\"version\":4,\"port\":443,\"proto\":"
		   "\"TCP\"},\"error\":\"ENOENT\"}\n"
		   "{\"proc\":{\"comm\":\"cat\",\"pid\":1234},\"fname\":\"/"
		   "etc\",\"args\":\"\",\"dst\":"
		   "{\"addr\":\"10.0.0.1\",\"version\":4,\"port\":443,\"proto\":\"TCP\"},\"error\":"
		   "\"ENOENT\"}\n"
		   "{\"proc\":{\"comm\":\"cat\",\"pid\":0},\"fname\":\"\",\"args\":\"\",\"dst\":"
		   "{\"addr\":\"\",\"version\":0,\"port\":0,\"proto\":\"0\"},\"error\":\"\"}\n"
		   "{\"proc\":{\"comm\":\"\",\"pid\":0},\"fname\":\"\",\"args\":\"\",\"dst\":"
		   "{\"addr\":\"\",\"version\":0,\"port\":0,\"proto\":\"0\"},\"error\":\"\"}\n");
	/* a NULL record of size 0 is an empty record, with data it is an error */
	assert_int_equal(run_pipeline_record(f->p, NULL, 0), 0);
	assert_int_equal(run_pipeline_record(f->p, NULL, 4), -EINVAL);
	free(output(f));
}

static void test_timestamp(void **state)
{
	struct fixture *f = *state;
	struct popts o = {.output = RUN_OUTPUT_JSON, .fields = "timestamp,timestamp_raw"};
	struct test_event e;
	struct timespec bt, rt;
	char *got, *p;
	long long sec;

	make_ok(f, &o);
	fill(&e, "x", 1, 0, "/");
	clock_gettime(CLOCK_BOOTTIME, &bt);
	clock_gettime(CLOCK_REALTIME, &rt);
	e.timestamp_raw = (uint64_t)bt.tv_sec * 1000000000 + (uint64_t)bt.tv_nsec;
	record(f, &e);
	got = output(f);
	/* {"timestamp":"YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ","timestamp_raw":N} */
	p = strstr(got, "\"timestamp\":\"");
	assert_non_null(p);
	p += 13;
	assert_int_equal(strlen(p) > 30, 1);
	assert_int_equal(p[4], '-');
	assert_int_equal(p[10], 'T');
	assert_int_equal(p[19], '.');
	assert_int_equal(p[29], 'Z');
	/* the same second as the real time it was taken at (give or take one) */
	{
		struct tm tm = {0};

		assert_non_null(strptime(p, "%Y-%m-%dT%H:%M:%S", &tm));
		sec = (long long)timegm(&tm);
		assert_true(sec >= rt.tv_sec - 1 && sec <= rt.tv_sec + 1);
	}
	assert_non_null(strstr(got, "\",\"timestamp_raw\":"));
	free(got);
}

static int ctx_text(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	const struct test_event *e = rec;

	(void)size;
	if (e->pid == 1)
		return 1; /* no value */
	return base_buf_printf(out, "%s-%u", (const char *)ctx, e->pid);
}

static void test_extern_columns(void **state)
{
	struct fixture *f = *state;
	struct run_pipeline_opts po = {
		.sz = sizeof(po),
		.output = RUN_OUTPUT_JSON,
		.fields = "-error,-op,-lo,-hi,-ok,-delta,-dst,-fname,-args,-timestamp,-proc,"
			  "-timestamp_raw,-error_raw,-op_raw",
		.out_fd = f->fd,
		.errbuf = f->err,
		.errbuf_len = sizeof(f->err),
	};
	struct run_column_def pod = {.name = "k8s.podName",
				     .description = "Pod",
				     .width = 12,
				     .text = ctx_text,
				     .ctx = (void *)"pod"};
	struct run_column_def node = {
		.name = "k8s.node", .hidden = true, .text = ctx_text, .ctx = (void *)"node"};
	struct run_column_def rt = {
		.name = "runtime.containerName", .text = ctx_text, .ctx = (void *)"c"};
	struct test_event e;

	assert_int_equal(run_pipeline_new(&layout, &md, &po, &f->p), 0);
	assert_int_equal(run_pipeline_add_column(f->p, &pod), 0);
	assert_int_equal(run_pipeline_add_column(f->p, &node), 0);
	assert_int_equal(run_pipeline_add_column(f->p, &rt), 0);
	assert_int_equal(run_pipeline_add_column(f->p, &pod), -EINVAL);
	assert_string_equal(f->err, "column 'k8s.podName' already exists");
	{
		struct run_column_def bad = {.name = "proc", .text = ctx_text};

		assert_int_equal(run_pipeline_add_column(f->p, &bad), -EINVAL);
		assert_string_equal(f->err, "column 'proc' conflicts with field 'proc.comm'");
		bad.name = "a..b";
		assert_int_equal(run_pipeline_add_column(f->p, &bad), -EINVAL);
		bad.name = "ok2";
		bad.text = NULL;
		assert_int_equal(run_pipeline_add_column(f->p, &bad), -EINVAL);
	}
	assert_int_equal(run_pipeline_prepare(f->p), 0);
	assert_int_equal(run_pipeline_add_column(f->p, &rt), -EBUSY);
	assert_int_equal(run_pipeline_prepare(f->p), -EBUSY);
	fill(&e, "x", 7, 0, "/");
	record(f, &e);
	e.pid = 1;
	record(f, &e);
	/* caller's columns come first; hidden ones only on request */
	expect_output(f,
		      "{\"k8s\":{\"podName\":\"pod-7\"},\"runtime\":{\"containerName\":\"c-7\"}}\n"
		      "{\"k8s\":{\"podName\":null},\"runtime\":{\"containerName\":null}}\n");

	f->p = run_pipeline_free(f->p);
	po.output = RUN_OUTPUT_COLUMNS;
	po.fields = "k8s.podName,k8s.node,pid";
	po.filters = (const char *const[]){"k8s.node~^node-[0-9]$"};
	po.n_filters = 1;
	assert_int_equal(run_pipeline_new(&layout, &md, &po, &f->p), 0);
	assert_int_equal(run_pipeline_add_column(f->p, &pod), 0);
	/* the fields name a column not added yet: prepare fails and can be retried */
	assert_int_equal(run_pipeline_prepare(f->p), -EINVAL);
	assert_string_equal(f->err,
			    "unknown field 'k8s.node' (see --help for the fields of this gadget)");
	assert_int_equal(run_pipeline_add_column(f->p, &node), 0);
	assert_int_equal(run_pipeline_prepare(f->p), 0);
	e.pid = 7;
	record(f, &e);
	e.pid = 12;
	record(f, &e);
	e.pid = 1; /* no value: empty, and does not match the regex */
	record(f, &e);
	expect_output(f, "K8S.PODNAME  K8S.NODE             PID\n"
			 "pod-7        node-7                 7\n");
}

/*
 * A profile gadget's map entry (profile_blockio): two key fields, a log2
 * histogram in the gadget API's slot type, and an array of another type.
 */
struct test_hist {
	uint32_t cmd_flags;
	uint32_t dev;
	uint32_t latency[8];
	uint32_t other[3];
};

#define HOFF(m) ((uint32_t)offsetof(struct test_hist, m))

static struct bpf_layout_field hist_fields[] = {
	FIELD("cmd_flags", "cmd_flags", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_NONE, HOFF(cmd_flags),
	      4, -1, 0),
	FIELD("dev", "dev", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_NONE, HOFF(dev), 4, -1, 0),
	{.name = (char *)"latency",
	 .full_name = (char *)"latency",
	 .type_name = (char *)"gadget_histogram_slot__u32[8]",
	 .parent = -1,
	 .kind = BPF_LAYOUT_ARRAY,
	 .offset = HOFF(latency),
	 .size = 32,
	 .elem_kind = BPF_LAYOUT_UINT,
	 .elem_size = 4,
	 .count = 8},
	{.name = (char *)"other",
	 .full_name = (char *)"other",
	 .type_name = (char *)"__u32[3]",
	 .parent = -1,
	 .kind = BPF_LAYOUT_ARRAY,
	 .offset = HOFF(other),
	 .size = 12,
	 .elem_kind = BPF_LAYOUT_UINT,
	 .elem_size = 4,
	 .count = 3},
};

static struct bpf_layout hist_layout = {
	.name = (char *)"hist_value",
	.size = sizeof(struct test_hist),
	.n_fields = sizeof(hist_fields) / sizeof(hist_fields[0]),
	.fields = hist_fields,
};

/* "µs" as Inspektor Gadget's profile gadgets write it, in UTF-8 */
static struct oci_metadata_annotation ann_latency[] = {ANN("metrics.unit", "\xc2\xb5s")};
static struct oci_metadata_annotation ann_other[] = {ANN("columns.hidden", "true")};
static struct oci_metadata_field hist_md_fields[] = {
	{.name = (char *)"latency", .n_annotations = 1, .annotations = ann_latency},
	{.name = (char *)"other", .n_annotations = 1, .annotations = ann_other},
};
static struct oci_metadata_ds hist_md = {
	.name = (char *)"blockio",
	.n_fields = sizeof(hist_md_fields) / sizeof(hist_md_fields[0]),
	.fields = hist_md_fields,
};

static void make_hist(struct fixture *f, const struct popts *o)
{
	struct run_pipeline_opts po = {
		.sz = sizeof(po),
		.output = o->output,
		.fields = o->fields,
		.sort = o->sort,
		.max_entries = o->max_entries,
		.out_fd = f->fd,
		.clear_screen = o->clear,
		.no_header = o->no_header,
		.errbuf = f->err,
		.errbuf_len = sizeof(f->err),
	};

	f->p = run_pipeline_free(f->p);
	assert_int_equal(run_pipeline_new(&hist_layout, o->no_md ? NULL : &hist_md, &po, &f->p), 0);
	assert_int_equal(run_pipeline_prepare(f->p), 0);
}

static void two_hists(struct test_hist *h)
{
	memset(h, 0, 2 * sizeof(*h));
	h[0].cmd_flags = 1;
	h[0].dev = 8u << 20;
	h[0].latency[4] = 5;
	h[0].latency[5] = 10;
	h[0].latency[7] = 2;
	h[0].other[0] = 9;
	h[1].dev = (8u << 20) | 16;
	h[1].latency[1] = 1;
}

static void hist_batch(struct fixture *f, const struct test_hist *h, size_t n)
{
	const void *recs[2] = {&h[0], &h[1]};

	assert_int_equal(run_pipeline_batch(f->p, recs, n, sizeof(*h)), 0);
}

static void test_histogram_batches(void **state)
{
	struct fixture *f = *state;
	struct popts o = {.output = RUN_OUTPUT_COLUMNS, .sort = "cmd_flags"};
	struct test_hist h[2];

	/* one histogram per record, its other fields on a line above it */
	make_hist(f, &o);
	two_hists(h);
	hist_batch(f, h, 2);
	hist_batch(f, h, 0);
	hist_batch(f, h, 1);
	expect_output(f, "cmd_flags=0 dev=8388624\n"
			 "latency\n"
			 "usecs          : count    distribution\n"
			 "    1 -> 2     : 1        |****************************************|\n"
			 "\n"
			 "cmd_flags=1 dev=8388608\n"
			 "latency\n"
			 "usecs          : count    distribution\n"
			 "    8 -> 16    : 5        |********************                    |\n"
			 "   16 -> 32    : 10       |****************************************|\n"
			 "   32 -> 64    : 0        |                                        |\n"
			 "   64 -> 128   : 2        |********                                |\n"
			 "\n"
			 "cmd_flags=1 dev=8388608\n"
			 "latency\n"
			 "usecs          : count    distribution\n"
			 "    8 -> 16    : 5        |********************                    |\n"
			 "   16 -> 32    : 10       |****************************************|\n"
			 "   32 -> 64    : 0        |                                        |\n"
			 "   64 -> 128   : 2        |********                                |\n");
	assert_int_equal(run_pipeline_matched(f->p), 3);

	/* the histogram alone: no line of other fields; max_entries and clear screen apply */
	o.fields = "latency";
	o.max_entries = 1;
	o.clear = true;
	make_hist(f, &o);
	hist_batch(f, h, 2);
	hist_batch(f, h, 0);
	expect_output(f, "\033[H\033[2Jlatency\n"
			 "usecs          : count    distribution\n"
			 "    1 -> 2     : 1        |****************************************|\n"
			 "\033[H\033[2J");

	/* other arrays are fields like any other; no metrics.unit: "value" */
	o.fields = "other,latency";
	o.max_entries = 0;
	o.clear = false;
	o.no_md = true;
	make_hist(f, &o);
	hist_batch(f, h, 1);
	expect_output(f, "other=[9,0,0]\n"
			 "latency\n"
			 "value          : count    distribution\n"
			 "    8 -> 16    : 5        |********************                    |\n"
			 "   16 -> 32    : 10       |****************************************|\n"
			 "   32 -> 64    : 0        |                                        |\n"
			 "   64 -> 128   : 2        |********                                |\n");
}

static void test_histogram_elsewhere(void **state)
{
	struct fixture *f = *state;
	struct popts o = {.output = RUN_OUTPUT_COLUMNS, .fields = "dev,other"};
	struct test_hist h[2];

	two_hists(h);
	/* without a histogram selected, a batch is a table */
	make_hist(f, &o);
	hist_batch(f, h, 1);
	expect_output(f, "       DEV OTHER\n   8388608 [9,0,0]\n");

	/* JSON keeps the slots as an array */
	o.output = RUN_OUTPUT_JSON;
	o.fields = NULL;
	make_hist(f, &o);
	hist_batch(f, h, 2);
	expect_output(f, "{\"cmd_flags\":1,\"dev\":8388608,\"latency\":[0,0,0,0,5,10,0,2],"
			 "\"other\":[9,0,0]}\n"
			 "{\"cmd_flags\":0,\"dev\":8388624,\"latency\":[0,1,0,0,0,0,0,0],"
			 "\"other\":[0,0,0]}\n");

	/* a streamed record stays a row of the table */
	o.output = RUN_OUTPUT_COLUMNS;
	o.fields = "latency";
	make_hist(f, &o);
	assert_int_equal(run_pipeline_record(f->p, &h[1], sizeof(h[1])), 0);
	expect_output(f, "LATENCY\n[0,1,0,0,0,0,0,0]\n");
}

static void test_print_fields(void **state)
{
	struct fixture *f = *state;
	struct popts o = {.output = RUN_OUTPUT_COLUMNS};
	struct base_buf b = BASE_BUF_INIT(0);

	make_ok(f, &o);
	run_pipeline_print_fields(f->p, &b);
	assert_non_null(b.data);
	assert_string_equal(b.data, "  timestamp         timestamp   (hidden)\n"
				    "  timestamp_raw     uint64      (hidden)\n"
				    "  proc.comm         string\n"
				    "  proc.pid          uint32\n"
				    "  proc.mntns_id     uint64      (hidden)\n"
				    "  proc.creds.uid    uint32\n"
				    "  proc.creds.user   user\n"
				    "  proc.creds.gid    uint32      (hidden)\n"
				    "  proc.creds.group  group       (hidden)\n"
				    "  error             errno\n"
				    "  error_raw         uint32      (hidden)\n"
				    "  op                enum\n"
				    "  op_raw            uint32      (hidden)\n"
				    "  lo                uint8       (hidden)\n"
				    "  hi                int8        (hidden)\n"
				    "  ok                bool\n"
				    "  delta             int32\n"
				    "  dst               l4endpoint\n"
				    "  dst.addr          ip address  (hidden)\n"
				    "  dst.addr_raw      bytes       (hidden)\n"
				    "  dst.port          uint16      (hidden)\n"
				    "  dst.proto         protocol    (hidden)\n"
				    "  dst.proto_raw     uint16      (hidden)\n"
				    "  dst.version       uint8       (hidden)\n"
				    "  fname             string      File name\n"
				    "  args              string\n");
	assert_null(strstr(b.data, "internal"));
	base_buf_done(&b);
}

static void test_bad_opts(void **state)
{
	struct fixture *f = *state;
	struct run_pipeline_opts po = {.sz = sizeof(po), .out_fd = f->fd};
	struct run_pipeline *p = NULL;
	struct test_event e;

	assert_int_equal(run_pipeline_new(NULL, NULL, &po, &p), -EINVAL);
	po.sz = 0;
	assert_int_equal(run_pipeline_new(&layout, NULL, &po, &p), -EINVAL);
	po.sz = sizeof(po);
	po.output = (enum run_output)9;
	assert_int_equal(run_pipeline_new(&layout, NULL, &po, &p), -EINVAL);
	assert_null(p);
	po.output = RUN_OUTPUT_JSON;
	assert_int_equal(run_pipeline_new(&layout, NULL, &po, &p), 0);
	/* records before prepare are refused */
	fill(&e, "x", 1, 0, "/");
	assert_int_equal(run_pipeline_record(p, &e, sizeof(e)), -EINVAL);
	assert_int_equal(run_pipeline_prepare(p), 0);
	assert_int_equal(run_pipeline_prepare(p), -EBUSY);
	assert_null(run_pipeline_free(p));
	assert_null(run_pipeline_free(NULL));
}

static void test_epipe(void **state)
{
	struct fixture *f = *state;
	struct run_pipeline_opts po = {.sz = sizeof(po), .output = RUN_OUTPUT_JSON};
	struct run_pipeline *p = NULL;
	struct test_event e;
	int fds[2];

	(void)f;
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	close(fds[0]);
	po.out_fd = fds[1];
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(run_pipeline_new(&layout, NULL, &po, &p), 0);
	assert_int_equal(run_pipeline_prepare(p), 0);
	fill(&e, "x", 1, 0, "/");
	assert_int_equal(run_pipeline_record(p, &e, sizeof(e)), 0);
	assert_int_equal(run_pipeline_flush(p), -EPIPE);
	/* nothing left to write */
	assert_int_equal(run_pipeline_flush(p), 0);
	run_pipeline_free(p);
	close(fds[1]);
}

static void test_auto_flush_nonblocking(void **state)
{
	struct fixture *f = *state;
	struct run_pipeline_opts po = {.sz = sizeof(po), .output = RUN_OUTPUT_JSON};
	struct run_pipeline *p = NULL;
	struct test_event e;
	size_t total = 0, i;
	int fds[2];
	pid_t child;

	size_t one;
	char *text;

	/* The size of one record's line, for the reader to check its total. */
	po.out_fd = f->fd;
	fill(&e, "x", 1, 0, "/");
	assert_int_equal(run_pipeline_new(&layout, NULL, &po, &f->p), 0);
	assert_int_equal(run_pipeline_prepare(f->p), 0);
	record(f, &e);
	text = output(f);
	one = strlen(text);
	free(text);

	/* A reader slower than the writer: EAGAIN must be waited out, not lost. */
	assert_int_equal(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		char buf[4096];
		ssize_t n;
		size_t got = 0;
		int fl = fcntl(fds[0], F_GETFL);

		fcntl(fds[0], F_SETFL, fl & ~O_NONBLOCK);
		close(fds[1]);
		usleep(50000);
		while ((n = read(fds[0], buf, sizeof(buf))) > 0)
			got += (size_t)n;
		_exit(got == 2000 * one ? 0 : 1);
	}
	close(fds[0]);
	po.out_fd = fds[1];
	assert_int_equal(run_pipeline_new(&layout, NULL, &po, &p), 0);
	assert_int_equal(run_pipeline_prepare(p), 0);
	for (i = 0; i < 2000; i++)
		assert_int_equal(run_pipeline_record(p, &e, sizeof(e)), 0);
	assert_int_equal(run_pipeline_flush(p), 0);
	total = run_pipeline_matched(p);
	assert_int_equal(total, 2000);
	run_pipeline_free(p);
	close(fds[1]);
	{
		int status = 0;

		assert_int_equal(waitpid(child, &status, 0), child);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_output_parse),
		cmocka_unit_test_setup_teardown(test_columns_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_columns_no_md_no_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_fields_order_and_nesting, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_jsonpretty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_yaml, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fields_relative, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fields_struct_and_short_names, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fields_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filter_operators, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filter_empty_errno, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filter_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_sort_limit_columns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_sort_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_sort_stable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_jsonpretty_yaml, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_clear_screen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_escaping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_columns_sanitize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timestamp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extern_columns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_histogram_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_histogram_elsewhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_print_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_opts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epipe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auto_flush_nonblocking, setup, teardown),
	};

	/* Wall-clock output is in UTC ("Z") whatever the machine's zone. */
	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
