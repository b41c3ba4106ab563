// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for the record pipeline's user input and record bytes.
 *
 * -F expressions, --fields and --sort come from the command line and
 * records come from a BPF program that may be buggy or hostile, so both must
 * end in output or a one-line error, never in a crash or a read past the
 * record.  The input is:
 *
 *   byte 0        output format (low 2 bits), batch or stream (bit 2)
 *   lines         up to 4 filters, then --fields, then --sort, each ended
 *                 by '\n' (an empty fields/sort line means "not given")
 *   the rest      record bytes, cut into records of varying size
 *
 * Records are copied into exactly-sized heap buffers so that AddressSanitizer
 * catches a read past their end.
 */
#include "run/pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf/layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct bpf_layout_enum_val vals[] = {
	{.name = (char *)"A", .value = 1},
	{.name = (char *)"B", .value = 2},
	{.name = (char *)"C", .value = 4},
};

#define F(n, full, k, sp, off, sz, par, dep)                                                       \
	{                                                                                          \
		.name = (char *)(n), .full_name = (char *)(full), .type_name = (char *)"t",        \
		.parent = (par), .depth = (dep), .kind = (k), .special = (sp), .offset = (off),    \
		.size = (sz)                                                                       \
	}

/* 0 ts | 8 comm[16] | 24 pid | 28 uid | 32 errno | 36 flags | 40 l4 (24) | 64 bits | 65 ok |
 * 66 sig | 68 arr[4] u16 | 76 mode | 80 dur | 88 fname[40] */
static struct bpf_layout_field fields[] = {
	F("timestamp_raw", "timestamp_raw", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_TIMESTAMP, 0, 8, -1,
	  0),
	F("proc", "proc", BPF_LAYOUT_STRUCT, BPF_LAYOUT_SPECIAL_PROCESS, 8, 24, -1, 0),
	F("comm", "proc.comm", BPF_LAYOUT_STRING, BPF_LAYOUT_SPECIAL_COMM, 8, 16, 1, 1),
	F("pid", "proc.pid", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_PID, 24, 4, 1, 1),
	F("uid", "proc.uid", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_UID, 28, 4, 1, 1),
	F("error_raw", "error_raw", BPF_LAYOUT_INT, BPF_LAYOUT_SPECIAL_ERRNO, 32, 4, -1, 0),
	{.name = (char *)"kind_raw",
	 .full_name = (char *)"kind_raw",
	 .parent = -1,
	 .kind = BPF_LAYOUT_ENUM,
	 .offset = 36,
	 .size = 4,
	 .n_enum_vals = 3,
	 .enum_vals = vals},
	F("src", "src", BPF_LAYOUT_STRUCT, BPF_LAYOUT_SPECIAL_L4ENDPOINT, 40, 24, -1, 0),
	F("addr_raw", "src.addr_raw", BPF_LAYOUT_BYTES, BPF_LAYOUT_SPECIAL_IP_ADDR, 40, 16, 7, 1),
	F("port", "src.port", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_NONE, 56, 2, 7, 1),
	F("proto_raw", "src.proto_raw", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_NONE, 58, 2, 7, 1),
	F("version", "src.version", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_NONE, 60, 1, 7, 1),
	{.name = (char *)"bf",
	 .full_name = (char *)"bf",
	 .parent = -1,
	 .kind = BPF_LAYOUT_INT,
	 .offset = 64,
	 .size = 1,
	 .bit_offset = 2,
	 .bit_size = 5},
	F("ok", "ok", BPF_LAYOUT_BOOL, BPF_LAYOUT_SPECIAL_NONE, 65, 1, -1, 0),
	F("sig_raw", "sig_raw", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_SIGNAL, 66, 2, -1, 0),
	{.name = (char *)"arr",
	 .full_name = (char *)"arr",
	 .parent = -1,
	 .kind = BPF_LAYOUT_ARRAY,
	 .offset = 68,
	 .size = 8,
	 .elem_kind = BPF_LAYOUT_UINT,
	 .elem_size = 2,
	 .count = 4},
	F("mode_raw", "mode_raw", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_FILE_MODE, 76, 4, -1, 0),
	F("dur_raw", "dur_raw", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_DURATION, 80, 8, -1, 0),
	F("fname", "fname", BPF_LAYOUT_STRING, BPF_LAYOUT_SPECIAL_NONE, 88, 40, -1, 0),
};

static struct bpf_layout layout = {
	.name = (char *)"event",
	.size = 128,
	.n_fields = sizeof(fields) / sizeof(fields[0]),
	.fields = fields,
};

static int ext_text(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	(void)ctx;
	if (!size || ((const uint8_t *)rec)[0] & 1)
		return 1;
	return base_buf_append(out, rec, size < 8 ? size : 8);
}

/* The next '\n'-ended line as a new string, or NULL at the end of input. */
static char *line(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	char *s;

	if (!nl)
		return NULL;
	s = strndup((const char *)*p, (size_t)(nl - *p));
	*p = nl + 1;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int devnull = -1;
	const uint8_t *p = data, *end = data + size;
	char *filters[4] = {0}, *fields = NULL, *sort = NULL;
	struct run_column_def ext = {.name = "k8s.podName", .text = ext_text};
	struct run_pipeline *pl = NULL;
	char err[256] = "";
	size_t n_filters = 0, i;
	bool batch;
	int r;

	if (size < 1)
		return 0;
	if (devnull < 0)
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	batch = data[0] & 4;
	p++;
	while (n_filters < 4) {
		char *s = line(&p, end);

		if (!s)
			break;
		if (!*s) { /* an empty line ends the filters */
			free(s);
			break;
		}
		filters[n_filters++] = s;
	}
	fields = line(&p, end);
	sort = line(&p, end);
	if (fields && !*fields) {
		free(fields);
		fields = NULL;
	}
	if (sort && !*sort) {
		free(sort);
		sort = NULL;
	}

	struct run_pipeline_opts o = {
		.sz = sizeof(o),
		.output = (enum run_output)(data[0] & 3),
		.fields = fields,
		.filters = (const char *const *)filters,
		.n_filters = n_filters,
		.sort = sort,
		.max_entries = data[0] >> 4,
		.out_fd = devnull,
		.errbuf = err,
		.errbuf_len = sizeof(err),
	};

	r = run_pipeline_new(&layout, NULL, &o, &pl);
	if (r == 0)
		r = run_pipeline_add_column(pl, &ext);
	if (r == 0)
		r = run_pipeline_prepare(pl);
	if (r < 0) {
		/* a refusal explains itself in one line */
		if (r == -EINVAL && (!err[0] || strchr(err, '\n')))
			__builtin_trap();
		goto out;
	}
	if (batch) {
		const void *recs[16];
		uint8_t *copies[16];
		size_t n = 0, rs = size ? (size_t)(end - p) / 3 + 1 : 1;

		if (rs > 256)
			rs = 256;
		while (n < 16 && (size_t)(end - p) >= rs) {
			copies[n] = malloc(rs);
			if (!copies[n])
				break;
			memcpy(copies[n], p, rs);
			recs[n] = copies[n];
			p += rs;
			n++;
		}
		run_pipeline_batch(pl, recs, n, rs);
		for (i = 0; i < n; i++)
			free(copies[i]);
	} else {
		while (p < end) {
			/* a length byte, then that many bytes of record */
			size_t rs = *p++;
			uint8_t *rec;

			if (rs > (size_t)(end - p))
				rs = (size_t)(end - p);
			rec = malloc(rs ? rs : 1);
			if (!rec)
				break;
			memcpy(rec, p, rs);
			run_pipeline_record(pl, rec, rs);
			free(rec);
			p += rs;
		}
	}
	run_pipeline_flush(pl);
out:
	run_pipeline_free(pl);
	for (i = 0; i < n_filters; i++)
		free(filters[i]);
	free(fields);
	free(sort);
	return 0;
}
