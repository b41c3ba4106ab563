// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for ENCODING_RAW (agent/raw.c, run/remote.c): records rendered by
 * a client from what a node sends must be byte for byte what `ig run`
 * prints from the same records, in every output mode, for streamed records
 * and for fetches, with the computed columns (a constant of the node, the
 * container's values, the names behind endpoint addresses) and with or
 * without compression.  Every message crosses a protobuf pack and unpack,
 * as on the wire.  The records are random bytes in the layouts of every
 * gadget this project builds and of a test type with every field kind the
 * runtime knows.  Then what a hostile agent could send: each malformed
 * description or batch is refused with one line.
 */
#include "agent/raw.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <cmocka.h>

#include "bpf/layout.h"
#include "oci/metadata.h"
#include "run/derived.h"
#include "run/enrich.h"
#include "run/remote.h"
#include "run/runner.h"

#ifndef TEST_GADGETS_DIR
#define TEST_GADGETS_DIR "build/gadgets"
#endif

static const enum run_output outputs[] = {
	RUN_OUTPUT_COLUMNS,
	RUN_OUTPUT_JSON,
	RUN_OUTPUT_JSONPRETTY,
	RUN_OUTPUT_YAML,
};

/* ------------------------------------------------------------ the node's columns */

/* Values of a record's container, a pure function of its mount namespace. */
static int col_text(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	const uint32_t *off = ctx;
	uint64_t mntns = 0;
	int which = (int)off[1];

	if ((size_t)off[0] + 8 > size)
		return 1;
	memcpy(&mntns, (const uint8_t *)rec + off[0], 8);
	if (mntns % 4 == 0) /* the host: empty names, no pid */
		return which == 2 ? 1 : 0;
	switch (which) {
	case 0:
		return base_buf_printf(out, "ns-%llu", (unsigned long long)(mntns % 3)) < 0;
	case 1:
		return base_buf_printf(out, "pod \"%llu\"\t\xc3\xa9", (unsigned long long)mntns) <
		       0;
	default:
		return base_buf_printf(out, "%llu", (unsigned long long)(mntns % 1000)) < 0;
	}
}

static int node_text(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	return base_buf_puts(out, "node-1") < 0;
}

static int ep_lookup(void *ctx, const char *ip, struct run_endpoint_k8s *ret)
{
	size_t h = 0;

	for (const char *p = ip; *p; p++)
		h = h * 31 + (unsigned char)*p;
	if (h % 3 == 0)
		return 1;
	ret->kind = h % 3 == 1 ? "Pod" : "Service";
	ret->name = h % 2 ? "web-1" : "db";
	ret->namespace = h % 5 ? "shop" : "";
	ret->ref = NULL;
	return 0;
}

struct side {
	struct run_pipeline *p;
	struct run_derived *derived;
	uint32_t mntns_cols[3][2];
};

struct popts {
	enum run_output output;
	const char *fields;
	const char *const *filters;
	size_t n_filters;
	const char *sort;
	size_t max_entries;
};

static bool has_special(const struct bpf_layout *l, enum bpf_layout_special sp)
{
	for (size_t i = 0; i < l->n_fields; i++)
		if (l->fields[i].special == sp)
			return true;
	return false;
}

/*
 * A pipeline as a node (raw_fn) or ig (out_fd) builds it: the node column,
 * three container columns when the records have a mount namespace, names
 * of endpoints.
 */
static void side_make(struct side *s, const char *name, const struct bpf_layout *l,
		      const struct oci_metadata_ds *md, const struct popts *o, int out_fd,
		      int (*raw_fn)(void *, const void *, size_t), void *raw_ctx,
		      enum run_runner_ds_type type)
{
	static const char *const names[] = {"k8s.namespace", "k8s.podName", "runtime.containerPid"};
	char err[256] = "";
	struct run_pipeline_opts po = {
		.sz = sizeof(po),
		.output = o->output,
		.fields = o->fields,
		.filters = o->filters,
		.n_filters = o->n_filters,
		.sort = o->sort,
		.max_entries = o->max_entries,
		.out_fd = out_fd,
		.errbuf = err,
		.errbuf_len = sizeof(err),
		.raw_fn = raw_fn,
		.raw_ctx = raw_ctx,
	};
	struct run_column_def node = {
		.name = "k8s.node",
		.description = "the node",
		.width = 12,
		.text = node_text,
		.source = RUN_COLUMN_SOURCE_CONSTANT,
	};
	uint32_t off;
	int r;

	r = run_pipeline_new(l, md, &po, &s->p);
	if (r)
		print_error("pipeline: %s\n", err);
	assert_int_equal(r, 0);
	assert_int_equal(run_pipeline_add_column(s->p, &node), 0);
	if (run_enrich_mntns_offset(l, &off) == 0)
		for (int i = 0; i < 3; i++) {
			struct run_column_def def = {
				.name = names[i],
				.description = "a container's",
				.hidden_columns = i == 2,
				.number = i == 2,
				.width = 10,
				.text = col_text,
				.ctx = s->mntns_cols[i],
				.source = RUN_COLUMN_SOURCE_CONTAINER,
			};

			s->mntns_cols[i][0] = off;
			s->mntns_cols[i][1] = (uint32_t)i;
			assert_int_equal(run_pipeline_add_column(s->p, &def), 0);
		}
	if (has_special(l, BPF_LAYOUT_SPECIAL_L4ENDPOINT)) {
		struct run_endpoint_resolver res = {.lookup = ep_lookup};

		assert_int_equal(run_pipeline_add_endpoint_k8s(s->p, &res), 0);
	}
	/* what the runner adds last: ebpf.rest bytes, DNS messages */
	assert_int_equal(run_derived_new(s->p, name, type == RUN_RUNNER_DS_TRACER, l, md,
					 &s->derived, err, sizeof(err)),
			 0);
	r = run_pipeline_prepare(s->p);
	if (r)
		print_error("prepare: %s\n", err);
	assert_int_equal(r, 0);
}

/* ------------------------------------------------------------ the wire */

static void *repack(const ProtobufCMessage *m, const ProtobufCMessageDescriptor *d)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len ? len : 1);
	void *copy;

	assert_non_null(buf);
	protobuf_c_message_pack(m, buf);
	copy = protobuf_c_message_unpack(d, NULL, len, buf);
	free(buf);
	assert_non_null(copy);
	return copy;
}

struct node {
	struct side s;
	struct run_remote_enc *enc;
	struct agent_raw_batch b;
	size_t max;
	const char *ds;
	bool compress;
	struct agent_raw_client *c;
	int idx;
	size_t sent, compressed;
};

static int node_raw(void *ctx, const void *rec, size_t size)
{
	struct node *n = ctx;
	struct run_remote_news news = {
		.container = agent_raw_batch_container,
		.endpoint = agent_raw_batch_endpoint,
		.ctx = &n->b,
	};
	int r = run_remote_enc_record(n->enc, rec, size, &news);

	/* as the agent does: what follows a last string's NUL stays home */
	if (r >= 0)
		r = agent_raw_batch_add(
			&n->b, rec, run_remote_enc_size(n->enc, rec, size < n->max ? size : n->max),
			n->max);
	return r;
}

/* The batch the node filled, across the wire to the client. */
static void node_send(struct node *n, uint64_t fetch, bool fetch_end)
{
	Gadget__Agent__V1__RecordBatch rb = GADGET__AGENT__V1__RECORD_BATCH__INIT;
	Gadget__Agent__V1__RecordBatch *got;
	char err[256] = "";
	int r;

	rb.data_source = (char *)n->ds;
	rb.fetch = fetch;
	rb.fetch_end = fetch_end;
	assert_int_equal(agent_raw_batch_fill(&n->b, n->compress, &rb), 0);
	n->compressed += rb.compressed;
	got = repack(&rb.base, &gadget__agent__v1__record_batch__descriptor);
	r = agent_raw_client_batch(n->c, n->idx, got, err, sizeof(err));
	if (r)
		print_error("batch: %s\n", err);
	assert_int_equal(r, 0);
	protobuf_c_message_free_unpacked(&got->base, NULL);
	agent_raw_batch_reset(&n->b);
	n->sent++;
}

static char *slurp(int fd)
{
	off_t n = lseek(fd, 0, SEEK_END);
	char *s;

	assert_true(n >= 0);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(pread(fd, s, (size_t)n, 0), n);
	s[n] = '\0';
	return s;
}

/* Bytes a record may carry after its struct. */
#define TAIL 64

/*
 * Random records of l: some short, with few mount namespaces and addresses;
 * sparse ones (mostly zeros, as real records are) compress.
 */
static uint8_t *make_records(const struct bpf_layout *l, size_t n, size_t *sizes, unsigned *seed,
			     bool sparse)
{
	size_t sz = l->size ? l->size : 1, stride = sz + TAIL;
	uint8_t *buf = malloc(n * stride);
	uint32_t off;
	bool mntns = run_enrich_mntns_offset(l, &off) == 0;

	assert_non_null(buf);
	for (size_t i = 0; i < n; i++) {
		uint8_t *rec = buf + i * stride;

		for (size_t k = 0; k < stride; k++)
			rec[k] = sparse && rand_r(seed) % 4 ? 0 : (uint8_t)rand_r(seed);
		for (size_t f = 0; f < l->n_fields; f++) {
			const struct bpf_layout_field *fl = &l->fields[f];

			/* endpoints of version 4 and 6 from a few addresses */
			if (!strcmp(fl->name, "version") && fl->parent >= 0 && fl->size == 1 &&
			    l->fields[fl->parent].special == BPF_LAYOUT_SPECIAL_L4ENDPOINT)
				rec[fl->offset] = rand_r(seed) % 3 ? 4 : 6;
			if (fl->special == BPF_LAYOUT_SPECIAL_IP_ADDR && fl->size >= 16) {
				memset(rec + fl->offset, 0, 16);
				rec[fl->offset] = 10;
				rec[fl->offset + 3] = (uint8_t)(rand_r(seed) % 7);
			}
		}
		if (mntns && off + 8 <= sz) {
			uint64_t m = 4026531840ull + (uint64_t)(rand_r(seed) % 9);

			memcpy(rec + off, &m, 8);
		}
		/* some cut short, some with bytes after the struct (a packet) */
		switch (rand_r(seed) % 8) {
		case 0:
			sizes[i] = (size_t)rand_r(seed) % sz;
			break;
		case 1:
			sizes[i] = sz + (size_t)rand_r(seed) % TAIL;
			break;
		default:
			sizes[i] = sz;
		}
	}
	return buf;
}

/* A container entry of one batch into another, its absent values still absent. */
static void resend_container(struct agent_raw_batch *b,
			     const Gadget__Agent__V1__ContainerValues *cv)
{
	const char *vals[RUN_REMOTE_MAX_CONTAINER_COLUMNS];

	assert_true(cv->n_values <= RUN_REMOTE_MAX_CONTAINER_COLUMNS);
	for (size_t i = 0; i < cv->n_values; i++)
		vals[i] = cv->values[i];
	for (size_t i = 0; i < cv->n_absent; i++)
		vals[cv->absent[i]] = NULL;
	assert_int_equal(agent_raw_batch_container(b, cv->mntns, vals, cv->n_values), 0);
}

/*
 * One comparison: n records of layout l through ig's pipeline and through
 * a node and a client, in mode o; batches for a fetch data source.
 */
static void compare(const char *what, const char *name, const struct bpf_layout *l,
		    const struct oci_metadata_ds *md, enum run_runner_ds_type type,
		    const struct popts *o, bool compress, unsigned seed)
{
	struct agent_raw_client_opts co = {
		.sz = sizeof(co),
		.output = o->output,
		.fields = o->fields,
	};
	Gadget__Agent__V1__RunStarted rs = GADGET__AGENT__V1__RUN_STARTED__INIT;
	Gadget__Agent__V1__DataSourceLayout *pl = NULL;
	Gadget__Agent__V1__RunStarted *got;
	struct side ig = {0};
	struct node n = {.compress = compress, .ds = name};
	size_t count = 300, i, sizes[300];
	uint8_t *recs = make_records(l, count, sizes, &seed, compress);
	size_t sz = l->size ? l->size : 1, stride = sz + TAIL;
	int fd_ig = memfd_create("ig", MFD_CLOEXEC), fd_c = memfd_create("client", MFD_CLOEXEC);
	char err[256] = "", *a, *b;
	int r;

	assert_true(fd_ig >= 0 && fd_c >= 0);
	co.out_fd = fd_c;
	side_make(&ig, name, l, md, o, fd_ig, NULL, NULL, type);
	side_make(&n.s, name, l, md, o, -1, node_raw, &n, type);
	n.max = run_remote_record_max(n.s.p);
	/* the same clock, so that timestamps read the same */
	run_pipeline_set_boot_offset(ig.p, run_pipeline_boot_offset(n.s.p));
	assert_int_equal(run_remote_enc_new(n.s.p, &n.enc), 0);
	run_remote_enc_tick(n.enc, 1);
	agent_raw_batch_init(&n.b);
	assert_int_equal(agent_raw_layout_new(n.ds, type, md, n.s.p, &pl), 0);

	rs.encoding = GADGET__AGENT__V1__RECORD_ENCODING__ENCODING_RAW;
	rs.layouts = &pl;
	rs.n_layouts = 1;
	rs.boot_to_real_ns = run_pipeline_boot_offset(n.s.p);
	got = repack(&rs.base, &gadget__agent__v1__run_started__descriptor);
	assert_int_equal(agent_raw_client_new(&co, &n.c), 0);
	r = agent_raw_client_started(n.c, "node-1", got, err, sizeof(err));
	if (r < 0)
		print_error("%s: started: %s\n", what, err);
	assert_int_equal(r, 0);
	n.idx = r;
	protobuf_c_message_free_unpacked(&got->base, NULL);

	if (type == RUN_RUNNER_DS_TRACER) {
		assert_int_equal(run_pipeline_begin(ig.p), 0);
		assert_int_equal(agent_raw_client_begin(n.c), 0);
		for (i = 0; i < count; i++) {
			assert_int_equal(run_pipeline_record(ig.p, recs + i * stride, sizes[i]), 0);
			assert_int_equal(run_pipeline_record(n.s.p, recs + i * stride, sizes[i]),
					 0);
			if (i % 64 == 63)
				node_send(&n, 0, false);
		}
		node_send(&n, 0, false);
	} else {
		/* two fetches, each in two batches; a fetch's records are whole-size */
		const void *ptrs[300];

		for (i = 0; i < count; i++)
			ptrs[i] = recs + i * stride;
		for (uint64_t f = 1; f <= 2; f++) {
			size_t half = count / 2, from = (f - 1) * half;

			assert_int_equal(run_pipeline_batch(ig.p, ptrs + from, half, sz), 0);
			/* the node's batch: its records arrive one by one through raw_fn */
			assert_int_equal(run_pipeline_batch(n.s.p, ptrs + from, half, sz), 0);
			/* cut in two RecordBatches at a record boundary */
			{
				struct agent_raw_batch all = n.b;
				const uint8_t *p = (const uint8_t *)all.raw.data,
					      *end = p + all.raw.len;
				size_t k = 0;

				agent_raw_batch_init(&n.b);
				for (; p < end; k++) {
					uint64_t len = 0;
					unsigned int shift = 0;

					while (*p & 0x80) {
						len |= (uint64_t)(*p++ & 0x7f) << shift;
						shift += 7;
					}
					len |= (uint64_t)*p++ << shift;
					assert_int_equal(agent_raw_batch_add(&n.b, p, len, len), 0);
					p += len;
					if (k == all.n / 2) {
						for (size_t c = 0; c < all.n_containers; c++)
							resend_container(&n.b, all.containers[c]);
						node_send(&n, f, false);
					}
				}
				/* the endpoints go with the second half: still before the fetch's
				 * end */
				for (size_t e = 0; e < all.n_endpoints; e++)
					assert_int_equal(agent_raw_batch_endpoint(
								 &n.b, all.endpoints[e]->ip,
								 all.endpoints[e]->kind,
								 all.endpoints[e]->name,
								 all.endpoints[e]->namespace_),
							 0);
				node_send(&n, f, true);
				agent_raw_batch_done(&all);
			}
		}
	}
	assert_int_equal(run_pipeline_flush(ig.p), 0);
	assert_int_equal(agent_raw_client_flush(n.c), 0);
	a = slurp(fd_ig);
	b = slurp(fd_c);
	if (strcmp(a, b))
		print_error("%s: output %d, compress %d\n--- ig\n%.3000s\n--- client\n%.3000s\n",
			    what, (int)o->output, compress, a, b);
	assert_string_equal(a, b);
	/* something was printed: a silent pair of pipelines proves nothing */
	assert_true(strlen(a) > 0);
	if (compress && type == RUN_RUNNER_DS_TRACER && l->size >= 64)
		assert_true(n.compressed > 0);
	free(a);
	free(b);
	free(recs);
	agent_raw_client_free(n.c);
	protobuf_c_message_free_unpacked(&pl->base, NULL);
	agent_raw_batch_done(&n.b);
	run_remote_enc_free(n.enc);
	run_pipeline_free(n.s.p);
	run_pipeline_free(ig.p);
	run_derived_free(n.s.derived);
	run_derived_free(ig.derived);
	close(fd_ig);
	close(fd_c);
}

/* The first integer leaf of l, to sort fetches by. */
static const char *sort_key(const struct bpf_layout *l, char *buf, size_t len)
{
	for (size_t i = 0; i < l->n_fields; i++)
		if (l->fields[i].kind == BPF_LAYOUT_UINT && strncmp(l->fields[i].name, "__", 2) &&
		    l->fields[i].special == BPF_LAYOUT_SPECIAL_NONE) {
			snprintf(buf, len, "-%s", l->fields[i].full_name);
			return buf;
		}
	return NULL;
}

static void compare_all(const char *what, const char *name, const struct bpf_layout *l,
			const struct oci_metadata_ds *md, enum run_runner_ds_type type)
{
	char key[256];

	for (size_t k = 0; k < sizeof(outputs) / sizeof(outputs[0]); k++)
		for (int z = 0; z < 2; z++) {
			struct popts o = {.output = outputs[k]};

			if (type != RUN_RUNNER_DS_TRACER) {
				o.sort = sort_key(l, key, sizeof(key));
				o.max_entries = 100;
			}
			compare(what, name, l, md, type, &o, z, 7u + (unsigned)k);
		}
}

/* Every data source of every gadget the project builds. */
static void test_gadgets_render_alike(void **state)
{
	DIR *dir = opendir(TEST_GADGETS_DIR);
	struct dirent *de;
	size_t seen = 0;

	assert_non_null(dir);
	while ((de = readdir(dir))) {
		const char *gadget = de->d_name;
		char obj[512], yaml[512], err[512] = "";
		struct oci_metadata *md = NULL;
		struct run_runner_opts o = {
			.sz = sizeof(o),
			.name = gadget,
			.out_fd = -1,
			.errbuf = err,
			.errbuf_len = sizeof(err),
		};
		struct run_runner *r = NULL;

		if (gadget[0] == '.')
			continue;
		snprintf(obj, sizeof(obj), "%s/%s/program.bpf.o", TEST_GADGETS_DIR, gadget);
		snprintf(yaml, sizeof(yaml), "%s/%s/gadget.yaml", TEST_GADGETS_DIR, gadget);
		assert_int_equal(oci_metadata_load(yaml, &md, err, sizeof(err)), 0);
		o.elf_path = obj;
		o.md = md;
		if (run_runner_new(&o, &r) < 0 || run_runner_prepare(r) < 0)
			print_error("%s: %s\n", gadget, err);
		assert_non_null(r);
		for (size_t i = 0; i < run_runner_ds_count(r); i++) {
			const struct run_runner_ds_info *info = run_runner_ds(r, i);
			const struct bpf_layout *l =
				run_pipeline_layout(run_runner_ds_pipeline(r, i));

			assert_int_equal(bpf_layout_check(l, err, sizeof(err)), 0);
			compare_all(gadget, info->name, l, info->md, info->type);
		}
		run_runner_free(r);
		oci_metadata_free(md);
		seen++;
	}
	closedir(dir);
	/* the gadgets are built: a test that looked at none would prove nothing */
	assert_true(seen >= 9);
}

/* A runner of an in-tree gadget, prepared, its data source 0 described by *ret_l. */
static struct run_runner *gadget_runner(const char *name, struct oci_metadata **ret_md)
{
	char obj[512], yaml[512], err[512] = "";
	struct run_runner_opts o = {
		.sz = sizeof(o),
		.name = name,
		.out_fd = -1,
		.errbuf = err,
		.errbuf_len = sizeof(err),
	};
	struct run_runner *r = NULL;

	snprintf(obj, sizeof(obj), "%s/%s/program.bpf.o", TEST_GADGETS_DIR, name);
	snprintf(yaml, sizeof(yaml), "%s/%s/gadget.yaml", TEST_GADGETS_DIR, name);
	assert_int_equal(oci_metadata_load(yaml, ret_md, err, sizeof(err)), 0);
	o.elf_path = obj;
	o.md = *ret_md;
	if (run_runner_new(&o, &r) < 0 || run_runner_prepare(r) < 0)
		print_error("%s: %s\n", name, err);
	assert_non_null(r);
	return r;
}

static const struct bpf_layout_field *field_named(const struct bpf_layout *l, const char *name)
{
	for (size_t i = 0; i < l->n_fields; i++)
		if (!strcmp(l->fields[i].full_name, name))
			return &l->fields[i];
	fail_msg("no field %s", name);
	return NULL;
}

/*
 * trace_open's records end with fname: the bytes after its NUL (an older
 * record's, in a ring buffer) are not sent, nor the padding after it; a
 * record without a NUL there goes up to the end of the string.  A gadget
 * whose last field is no plain string (trace_exec: its args are shown
 * NUL-separated) is sent whole.
 */
static void test_string_tail_not_sent(void **state)
{
	struct oci_metadata *md = NULL;
	struct run_runner *r = gadget_runner("trace_open", &md);
	struct run_pipeline *p = run_runner_ds_pipeline(r, 0);
	const struct bpf_layout *l = run_pipeline_layout(p);
	const struct bpf_layout_field *f = field_named(l, "fname");
	struct run_remote_enc *enc = NULL;
	uint8_t *rec = calloc(1, l->size);

	const struct bpf_layout_field *fp = field_named(l, "fpath");
	/* without --paths the gadget sends the record up to fpath */
	size_t sent = fp->offset;

	assert_non_null(rec);
	assert_int_equal(run_remote_enc_new(p, &enc), 0);
	memset(rec, 0x5a, l->size);
	memcpy(rec + f->offset, "/etc/passwd", 12);
	assert_int_equal(run_remote_enc_size(enc, rec, sent), f->offset + 11);
	assert_int_equal(run_remote_enc_size(enc, rec, f->offset + 5), f->offset + 5);
	assert_int_equal(run_remote_enc_size(enc, rec, f->offset - 1), f->offset - 1);
	rec[f->offset] = '\0';
	assert_int_equal(run_remote_enc_size(enc, rec, sent), f->offset);
	memset(rec + f->offset, 'x', f->size);
	assert_int_equal(run_remote_enc_size(enc, rec, sent), f->offset + f->size);
	/* with --paths it ends with fpath: that one is cut, fname's bytes stay */
	memcpy(rec + fp->offset, "/etc", 5);
	assert_int_equal(run_remote_enc_size(enc, rec, l->size), fp->offset + 4);
	run_remote_enc_free(enc);
	run_runner_free(r);
	oci_metadata_free(md);

	md = NULL;
	r = gadget_runner("trace_exec", &md);
	p = run_runner_ds_pipeline(r, 0);
	l = run_pipeline_layout(p);
	rec = realloc(rec, l->size);
	assert_non_null(rec);
	memset(rec, 0, l->size);
	assert_int_equal(run_remote_enc_new(p, &enc), 0);
	assert_int_equal(run_remote_enc_size(enc, rec, l->size), l->size);
	run_remote_enc_free(enc);
	run_runner_free(r);
	oci_metadata_free(md);
	free(rec);
}

static struct bpf_layout *types_layout(void)
{
	struct btf *btf = btf__parse(TEST_BPF_DIR "/layout_types.bpf.o", NULL);
	struct bpf_layout *l = NULL;
	int id;

	assert_non_null(btf);
	id = btf__find_by_name_kind(btf, "lt_event", BTF_KIND_STRUCT);
	assert_true(id > 0);
	assert_int_equal(bpf_layout_from_btf(btf, (uint32_t)id, &l), 0);
	btf__free(btf);
	return l;
}

/* Every field kind: integers of each width, enums, bitfields, strings, arrays, unions, nesting. */
static void test_every_field_kind(void **state)
{
	static const char *const filters[] = {"small>=0"};
	struct bpf_layout *l = types_layout();
	char err[256];

	assert_int_equal(bpf_layout_check(l, err, sizeof(err)), 0);
	compare_all("lt_event", "events", l, NULL, RUN_RUNNER_DS_TRACER);
	compare_all("lt_event (fetches)", "events", l, NULL, RUN_RUNNER_DS_MAPITER);
	/* filters and fields run on the node: what passes prints the same */
	for (size_t k = 0; k < sizeof(outputs) / sizeof(outputs[0]); k++) {
		struct popts o = {
			.output = outputs[k],
			.fields = "k8s.node,name,small,dst,op,bf_b,ports,k8s.podName",
			.filters = filters,
			.n_filters = 1,
		};

		compare("lt_event (fields, filter)", "events", l, NULL, RUN_RUNNER_DS_TRACER, &o,
			false, 3);
	}
	bpf_layout_free(l);
}

/* ------------------------------------------------------------ hostile input */

struct hostile {
	struct bpf_layout *l;
	Gadget__Agent__V1__DataSourceLayout *pl;
	struct side s;
	int fd;
};

static void hostile_make(struct hostile *h)
{
	struct popts o = {.output = RUN_OUTPUT_JSON};

	h->l = types_layout();
	side_make(&h->s, "events", h->l, NULL, &o, -1, NULL, NULL, RUN_RUNNER_DS_TRACER);
	assert_int_equal(agent_raw_layout_new("events", RUN_RUNNER_DS_TRACER, NULL, h->s.p, &h->pl),
			 0);
	h->fd = memfd_create("out", MFD_CLOEXEC);
}

static void hostile_done(struct hostile *h)
{
	protobuf_c_message_free_unpacked(&h->pl->base, NULL);
	run_pipeline_free(h->s.p);
	run_derived_free(h->s.derived);
	bpf_layout_free(h->l);
	close(h->fd);
}

/* What a client says of a RunStarted with h's layout changed by fn. */
static int started_with(struct hostile *h, void (*fn)(Gadget__Agent__V1__DataSourceLayout *),
			char *err, size_t len, struct agent_raw_client **keep)
{
	struct agent_raw_client_opts co = {
		.sz = sizeof(co), .output = RUN_OUTPUT_JSON, .out_fd = h->fd};
	Gadget__Agent__V1__RunStarted rs = GADGET__AGENT__V1__RUN_STARTED__INIT;
	Gadget__Agent__V1__DataSourceLayout *pl =
		repack(&h->pl->base, &gadget__agent__v1__data_source_layout__descriptor);
	struct agent_raw_client *c = NULL;
	int r;

	if (fn)
		fn(pl);
	rs.encoding = GADGET__AGENT__V1__RECORD_ENCODING__ENCODING_RAW;
	rs.layouts = &pl;
	rs.n_layouts = 1;
	assert_int_equal(agent_raw_client_new(&co, &c), 0);
	r = agent_raw_client_started(c, "node-x", &rs, err, len);
	protobuf_c_message_free_unpacked(&pl->base, NULL);
	if (keep && r >= 0)
		*keep = c;
	else
		agent_raw_client_free(c);
	return r;
}

static void field_outside(Gadget__Agent__V1__DataSourceLayout *pl)
{
	pl->fields[3]->offset = pl->record_size - 1;
	pl->fields[3]->size = 8;
}

static void int_size_zero(Gadget__Agent__V1__DataSourceLayout *pl)
{
	for (size_t i = 0; i < pl->n_fields; i++)
		if (pl->fields[i]->kind == BPF_LAYOUT_INT ||
		    pl->fields[i]->kind == BPF_LAYOUT_UINT) {
			pl->fields[i]->size = 0;
			return;
		}
}

static void bad_parent(Gadget__Agent__V1__DataSourceLayout *pl)
{
	pl->fields[1]->parent = 5;
}

static void huge_record(Gadget__Agent__V1__DataSourceLayout *pl)
{
	pl->record_size = 0xffffffffu;
}

static void bad_kind(Gadget__Agent__V1__DataSourceLayout *pl)
{
	pl->fields[2]->kind = 99;
}

static void bad_bitfield(Gadget__Agent__V1__DataSourceLayout *pl)
{
	for (size_t i = 0; i < pl->n_fields; i++)
		if (pl->fields[i]->bit_size) {
			pl->fields[i]->bit_offset = 60;
			return;
		}
	fail();
}

static void bad_enum(Gadget__Agent__V1__DataSourceLayout *pl)
{
	for (size_t i = 0; i < pl->n_fields; i++)
		if (pl->fields[i]->n_enum_names) {
			pl->fields[i]->n_enum_values--;
			return;
		}
	fail();
}

static void bad_source(Gadget__Agent__V1__DataSourceLayout *pl)
{
	pl->extern_columns[0]->source = 7;
}

static void test_bad_layouts(void **state)
{
	static void (*const bad[])(Gadget__Agent__V1__DataSourceLayout *) = {
		field_outside, int_size_zero, bad_parent, huge_record,
		bad_kind,      bad_bitfield,  bad_enum,	  bad_source,
	};
	struct hostile h;
	char err[256];

	hostile_make(&h);
	assert_true(started_with(&h, NULL, err, sizeof(err), NULL) >= 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(started_with(&h, bad[i], err, sizeof(err), NULL), -EINVAL);
		/* one line that says where */
		assert_true(err[0] != '\0');
		assert_null(strchr(err, '\n'));
	}
	hostile_done(&h);
}

static int batch_with(struct agent_raw_client *c, const void *raw, size_t len, uint32_t n,
		      bool compressed, uint32_t raw_len, char *err, size_t errlen)
{
	Gadget__Agent__V1__RecordBatch rb = GADGET__AGENT__V1__RECORD_BATCH__INIT;

	rb.data_source = "events";
	rb.raw.data = (uint8_t *)raw;
	rb.raw.len = len;
	rb.n_raw = n;
	rb.compressed = compressed;
	rb.raw_len = raw_len;
	return agent_raw_client_batch(c, 0, &rb, err, errlen);
}

static void test_bad_batches(void **state)
{
	struct agent_raw_client *c = NULL;
	Gadget__Agent__V1__RecordBatch rb = GADGET__AGENT__V1__RECORD_BATCH__INIT;
	Gadget__Agent__V1__ContainerValues cv = GADGET__AGENT__V1__CONTAINER_VALUES__INIT,
					   *cvp = &cv;
	const uint8_t ok[] = {2, 'a', 'b', 0};
	const uint8_t truncated[] = {5, 'a', 'b'};
	const uint8_t endless[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80};
	const uint8_t zbogus[] = {0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3};
	struct hostile h;
	char err[256];
	char *one = "x";

	hostile_make(&h);
	assert_int_equal(started_with(&h, NULL, err, sizeof(err), &c), 0);
	assert_int_equal(batch_with(c, ok, sizeof(ok), 2, false, 0, err, sizeof(err)), 0);
	assert_int_equal(batch_with(c, ok, sizeof(ok), 3, false, 0, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "says 3"));
	assert_int_equal(batch_with(c, truncated, sizeof(truncated), 1, false, 0, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "malformed"));
	assert_int_equal(batch_with(c, endless, sizeof(endless), 1, false, 0, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(batch_with(c, zbogus, sizeof(zbogus), 1, true, 10, err, sizeof(err)),
			 -EINVAL);
	/* a decompressed size past any message: refused before any allocation */
	assert_int_equal(
		batch_with(c, zbogus, sizeof(zbogus), 1, true, 0xffffffffu, err, sizeof(err)),
		-EINVAL);
	/* a data source nobody described, a container with the wrong number of values */
	rb.data_source = "other";
	assert_int_equal(agent_raw_client_batch(c, 0, &rb, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown data source"));
	rb.data_source = "events";
	cv.values = &one;
	cv.n_values = 1;
	rb.containers = &cvp;
	rb.n_containers = 1;
	assert_int_equal(agent_raw_client_batch(c, 0, &rb, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "values"));
	/* a node that is not known */
	assert_int_equal(batch_with(c, ok, sizeof(ok), 2, false, 0, err, sizeof(err)), 0);
	rb.n_containers = 0;
	assert_int_equal(agent_raw_client_batch(c, 5, &rb, err, sizeof(err)), -EINVAL);
	agent_raw_client_free(c);
	hostile_done(&h);
}

/*
 * Nodes that describe the same records share the printer (their constants
 * may differ); one whose records differ (another version of the gadget) is
 * printed by pipelines of its own rather than lost, up to a bound.
 */
static void test_nodes_alike_and_not(void **state)
{
	struct agent_raw_client_opts co = {.sz = sizeof(co), .output = RUN_OUTPUT_JSON};
	Gadget__Agent__V1__RunStarted rs = GADGET__AGENT__V1__RUN_STARTED__INIT;
	struct agent_raw_client *c = NULL;
	const uint8_t rec[] = {0};
	struct hostile h;
	char err[256];
	int i, r;

	hostile_make(&h);
	co.out_fd = h.fd;
	rs.encoding = GADGET__AGENT__V1__RECORD_ENCODING__ENCODING_RAW;
	rs.layouts = &h.pl;
	rs.n_layouts = 1;
	assert_int_equal(agent_raw_client_new(&co, &c), 0);
	assert_int_equal(agent_raw_client_started(c, "node-1", &rs, err, sizeof(err)), 0);
	assert_int_equal(agent_raw_client_started(c, "node-2", &rs, err, sizeof(err)), 1);
	/* another version: its own printer, its records still printed */
	h.pl->fields[4]->offset++;
	assert_int_equal(agent_raw_client_started(c, "node-3", &rs, err, sizeof(err)), 2);
	assert_int_equal(batch_with(c, rec, 0, 0, false, 0, err, sizeof(err)), 0);
	h.pl->fields[4]->offset--;
	/* a node speaking JSON has no business here */
	rs.encoding = GADGET__AGENT__V1__RECORD_ENCODING__ENCODING_JSON;
	assert_int_equal(agent_raw_client_started(c, "node-4", &rs, err, sizeof(err)), -EINVAL);
	/* at most AGENT_RAW_MAX_SHAPES versions */
	rs.encoding = GADGET__AGENT__V1__RECORD_ENCODING__ENCODING_RAW;
	for (i = 0, r = 0; i < 2 * AGENT_RAW_MAX_SHAPES && r >= 0; i++) {
		h.pl->record_size++;
		r = agent_raw_client_started(c, "node-n", &rs, err, sizeof(err));
	}
	assert_int_equal(r, -E2BIG);
	assert_non_null(strstr(err, "different versions"));
	agent_raw_client_free(c);
	hostile_done(&h);
}

/* A batch of lt_event records of the given timestamps (in big_neg too, to see them) from node. */
static void sorted_batch(struct agent_raw_client *c, int node, const struct bpf_layout *l,
			 const uint64_t *ts, size_t n)
{
	Gadget__Agent__V1__RecordBatch rb = GADGET__AGENT__V1__RECORD_BATCH__INIT;
	const struct bpf_layout_field *f = NULL, *shown = bpf_layout_find(l, "big_neg");
	struct agent_raw_batch b;
	uint8_t rec[1024];
	char err[256];

	for (size_t i = 0; i < l->n_fields && !f; i++)
		if (l->fields[i].special == BPF_LAYOUT_SPECIAL_TIMESTAMP)
			f = &l->fields[i];
	assert_non_null(f);
	assert_non_null(shown);
	assert_true(l->size <= sizeof(rec));
	agent_raw_batch_init(&b);
	for (size_t i = 0; i < n; i++) {
		memset(rec, 0, sizeof(rec));
		memcpy(rec + f->offset, &ts[i], 8);
		memcpy(rec + shown->offset, &ts[i], 8);
		assert_int_equal(agent_raw_batch_add(&b, rec, l->size, l->size), 0);
	}
	rb.data_source = "events";
	assert_int_equal(agent_raw_batch_fill(&b, false, &rb), 0);
	assert_int_equal(agent_raw_client_batch(c, node, &rb, err, sizeof(err)), 0);
	agent_raw_batch_done(&b);
}

/* The big_neg values printed so far, in order, as "10 20 ...". */
static void printed(int fd, char *out, size_t len)
{
	char *all = slurp(fd), *p = all;
	size_t o = 0;

	out[0] = '\0';
	while ((p = strstr(p, "\"big_neg\":"))) {
		p += strlen("\"big_neg\":");
		o += (size_t)snprintf(out + o, len - o, "%s%lld", o ? " " : "",
				      strtoll(p, NULL, 10));
	}
	free(all);
}

/* --sort timestamp: records of two nodes come out in time order, after the delay. */
static void test_sort_timestamp_across_nodes(void **state)
{
	static const uint64_t a[] = {10, 30, 50}, b[] = {20, 40}, late[] = {5};
	struct agent_raw_client_opts co = {
		.sz = sizeof(co),
		.output = RUN_OUTPUT_JSON,
		.fields = "big_neg",
		.sort_delay_ms = 500,
	};
	Gadget__Agent__V1__RunStarted rs = GADGET__AGENT__V1__RUN_STARTED__INIT;
	struct agent_raw_client *c = NULL;
	struct hostile h;
	char err[256], got[256];

	hostile_make(&h);
	co.out_fd = h.fd;
	rs.encoding = GADGET__AGENT__V1__RECORD_ENCODING__ENCODING_RAW;
	rs.layouts = &h.pl;
	rs.n_layouts = 1;
	assert_int_equal(agent_raw_client_new(&co, &c), 0);
	assert_int_equal(agent_raw_client_started(c, "node-a", &rs, err, sizeof(err)), 0);
	assert_int_equal(agent_raw_client_started(c, "node-b", &rs, err, sizeof(err)), 1);
	assert_int_equal(agent_raw_client_tick(c, 1000, false), -1);
	sorted_batch(c, 0, h.l, a, 3);
	assert_int_equal(agent_raw_client_tick(c, 1100, false), 400);
	sorted_batch(c, 1, h.l, b, 2);
	/* nothing is due yet */
	assert_int_equal(agent_raw_client_tick(c, 1200, false), 300);
	printed(h.fd, got, sizeof(got));
	assert_string_equal(got, "");
	/* node-a's 10 is due; 20 (node-b's, due at 1600) holds 30 and 50 back */
	assert_int_equal(agent_raw_client_tick(c, 1550, false), 50);
	printed(h.fd, got, sizeof(got));
	assert_string_equal(got, "10");
	assert_int_equal(agent_raw_client_tick(c, 1700, false), -1);
	printed(h.fd, got, sizeof(got));
	assert_string_equal(got, "10 20 30 40 50");
	/* later than the delay behind the others: out of order, but out */
	sorted_batch(c, 1, h.l, late, 1);
	assert_int_equal(agent_raw_client_tick(c, 1800, true), -1);
	printed(h.fd, got, sizeof(got));
	assert_string_equal(got, "10 20 30 40 50 5");
	assert_int_equal(agent_raw_client_records(c), 6);
	agent_raw_client_free(c);
	hostile_done(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_field_kind),
		cmocka_unit_test(test_gadgets_render_alike),
		cmocka_unit_test(test_string_tail_not_sent),
		cmocka_unit_test(test_bad_layouts),
		cmocka_unit_test(test_bad_batches),
		cmocka_unit_test(test_nodes_alike_and_not),
		cmocka_unit_test(test_sort_timestamp_across_nodes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
