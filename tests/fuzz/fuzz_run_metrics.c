// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for gadget metrics (run/metrics.c): record bytes from a
 * BPF program, which may be buggy or hostile, counted into series and
 * written out for Prometheus.
 *
 * The key fields are a command (char[16], maybe without its NUL), a file
 * name (char[40]) and a number, so keys of every length cross the word
 * boundaries the collector hashes and compares at; the values are a
 * counter, a gauge, a histogram of log2 slots and an observed duration.
 * The input is:
 *
 *   byte 0        the bound on series (1 + low 5 bits)
 *   the rest      records of the layout's size, each copied into an
 *                 exactly-sized heap buffer (AddressSanitizer catches a read
 *                 past it); a shorter tail is a short record
 *
 * Checked: no record is refused, the bound on series holds, and the
 * exposition is whole lines, each a "#" comment or "NAME{...} VALUE" with
 * no NUL and no raw newline inside (label values are escaped).
 */
#include "run/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf/layout.h"
#include "oci/metadata.h"
#include "run/pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 0 comm[16] | 16 fname[40] | 56 code u32 | 60 bytes (counter) | 64 queue (gauge) |
 * 68 slots[4] u32 (histogram) | 84 lat_ns u64 (histogram) */
#define REC_SIZE 92

#define F(n, k, tn, off, sz)                                                                       \
	{                                                                                          \
		.name = (char *)(n), .full_name = (char *)(n), .type_name = (char *)(tn),          \
		.parent = -1, .kind = (k), .offset = (off), .size = (sz)                           \
	}

static struct bpf_layout_field fields[] = {
	F("comm", BPF_LAYOUT_STRING, "char[16]", 0, 16),
	F("fname", BPF_LAYOUT_STRING, "char[40]", 16, 40),
	F("code", BPF_LAYOUT_UINT, "__u32", 56, 4),
	F("bytes", BPF_LAYOUT_UINT, "gadget_counter__u32", 60, 4),
	F("queue", BPF_LAYOUT_UINT, "gadget_gauge__u32", 64, 4),
	{.name = (char *)"slots",
	 .full_name = (char *)"slots",
	 .type_name = (char *)"gadget_histogram_slot__u32[4]",
	 .parent = -1,
	 .kind = BPF_LAYOUT_ARRAY,
	 .offset = 68,
	 .size = 16,
	 .elem_kind = BPF_LAYOUT_UINT,
	 .elem_size = 4,
	 .count = 4},
	F("lat_ns", BPF_LAYOUT_UINT, "__u64", 84, 8),
};

static struct bpf_layout layout = {
	.name = (char *)"ev",
	.size = REC_SIZE,
	.n_fields = sizeof(fields) / sizeof(fields[0]),
	.fields = fields,
};

static const char yaml[] = "name: fuzz\n"
			   "datasources:\n"
			   "  ev:\n"
			   "    annotations:\n"
			   "      metrics.collect: true\n"
			   "      metrics.implicit-counter.name: events\n"
			   "    fields:\n"
			   "      comm:\n"
			   "        annotations:\n"
			   "          metrics.type: key\n"
			   "      fname:\n"
			   "        annotations:\n"
			   "          metrics.type: key\n"
			   "      code:\n"
			   "        annotations:\n"
			   "          metrics.type: key\n"
			   "      lat_ns:\n"
			   "        annotations:\n"
			   "          metrics.type: histogram\n"
			   "          metrics.unit: ns\n";

/* Lines of the exposition: "# ..." or "NAME{LABELS} VALUE" with a name of [a-zA-Z0-9_:]. */
static void check_exposition(const char *t, size_t len)
{
	const char *p = t, *end = t + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *q = p;

		if (!nl)
			__builtin_trap(); /* every line ends */
		if (*p != '#') {
			while (q < nl && ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
					  (*q >= '0' && *q <= '9') || *q == '_' || *q == ':'))
				q++;
			if (q == p || q == nl || *q != '{' || !memchr(q, '}', (size_t)(nl - q)))
				__builtin_trap();
			if (nl[-1] == ' ' || memchr(q, '\0', (size_t)(nl - q)))
				__builtin_trap();
		}
		p = nl + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int devnull = -1;
	struct run_pipeline_opts po = {.sz = sizeof(po), .output = RUN_OUTPUT_JSON};
	struct run_metrics_opts mo = {.sz = sizeof(mo)};
	struct base_buf out = BASE_BUF_INIT(0);
	const struct oci_metadata_ds *mds;
	struct oci_metadata *md = NULL;
	struct run_pipeline *p = NULL;
	struct run_metrics *m = NULL;
	struct run_metrics_ds *d = NULL;
	const uint8_t *at, *end = data + size;
	char err[256];

	if (size < 1)
		return 0;
	if (devnull < 0)
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	po.out_fd = devnull;
	mo.max_series = 1 + (data[0] & 31);
	if (oci_metadata_parse(yaml, strlen(yaml), &md, err, sizeof(err)) < 0)
		__builtin_trap();
	mds = oci_metadata_find_ds(md, "ev");
	if (run_pipeline_new(&layout, mds, &po, &p) < 0 || run_pipeline_prepare(p) < 0 ||
	    run_metrics_new(&mo, &m) < 0 ||
	    run_metrics_add_ds(m, "fuzz", p, mds, err, sizeof(err), &d) < 0)
		__builtin_trap();
	for (at = data + 1; at < end;) {
		size_t n = (size_t)(end - at) < REC_SIZE ? (size_t)(end - at) : REC_SIZE;
		uint8_t *rec = malloc(n);

		if (!rec)
			break;
		memcpy(rec, at, n);
		if (run_metrics_ds_record(d, rec, n) < 0)
			__builtin_trap();
		free(rec);
		at += n;
	}
	if (run_metrics_series(m) > mo.max_series)
		__builtin_trap();
	if (run_metrics_write(m, &out) < 0)
		__builtin_trap();
	check_exposition(out.data ? out.data : "", out.len);
	base_buf_done(&out);
	run_metrics_free(m);
	run_pipeline_free(p);
	oci_metadata_free(md);
	return 0;
}
