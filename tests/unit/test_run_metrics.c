// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for gadget metrics (run/metrics.c): annotations and well-known
 * types into families, records into series, the bound on series, and the
 * exact Prometheus text a scrape gets.  Records go through a real pipeline
 * (run/pipeline.c) with filters, so metrics see what passes them.
 */
#include "run/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bpf/layout.h"
#include "oci/metadata.h"
#include "run/pipeline.h"

struct ev {
	char comm[16];
	uint32_t bytes;	   /* gadget_counter__u32 */
	uint32_t queue;	   /* gadget_gauge__u32 */
	uint32_t slots[4]; /* gadget_histogram_slot__u32[4] */
	uint64_t lat_ns;   /* annotated histogram, unit ns */
	uint32_t code;	   /* a key by annotation */
	uint32_t pad;
};

#define OFF(m) ((uint32_t)offsetof(struct ev, m))

static struct bpf_layout_field fields[] = {
	{.name = (char *)"comm",
	 .full_name = (char *)"comm",
	 .type_name = (char *)"char[16]",
	 .parent = -1,
	 .kind = BPF_LAYOUT_STRING,
	 .offset = OFF(comm),
	 .size = 16},
	{.name = (char *)"bytes",
	 .full_name = (char *)"bytes",
	 .type_name = (char *)"gadget_counter__u32",
	 .parent = -1,
	 .kind = BPF_LAYOUT_UINT,
	 .offset = OFF(bytes),
	 .size = 4},
	{.name = (char *)"queue",
	 .full_name = (char *)"queue",
	 .type_name = (char *)"gadget_gauge__u32",
	 .parent = -1,
	 .kind = BPF_LAYOUT_UINT,
	 .offset = OFF(queue),
	 .size = 4},
	{.name = (char *)"slots",
	 .full_name = (char *)"slots",
	 .type_name = (char *)"gadget_histogram_slot__u32[4]",
	 .parent = -1,
	 .kind = BPF_LAYOUT_ARRAY,
	 .offset = OFF(slots),
	 .size = 16,
	 .elem_kind = BPF_LAYOUT_UINT,
	 .elem_size = 4,
	 .count = 4},
	{.name = (char *)"lat_ns",
	 .full_name = (char *)"lat_ns",
	 .type_name = (char *)"__u64",
	 .parent = -1,
	 .kind = BPF_LAYOUT_UINT,
	 .offset = OFF(lat_ns),
	 .size = 8},
	{.name = (char *)"code",
	 .full_name = (char *)"code",
	 .type_name = (char *)"__u32",
	 .parent = -1,
	 .kind = BPF_LAYOUT_UINT,
	 .offset = OFF(code),
	 .size = 4},
};

static struct bpf_layout layout = {
	.name = (char *)"ev",
	.size = sizeof(struct ev),
	.n_fields = sizeof(fields) / sizeof(fields[0]),
	.fields = fields,
};

static const char yaml_ok[] = "name: test\n"
			      "datasources:\n"
			      "  ev:\n"
			      "    annotations:\n"
			      "      metrics.collect: true\n"
			      "      metrics.implicit-counter.name: events\n"
			      "      metrics.implicit-counter.description: events seen\n"
			      "    fields:\n"
			      "      comm:\n"
			      "        annotations:\n"
			      "          metrics.type: key\n"
			      "      lat_ns:\n"
			      "        annotations:\n"
			      "          metrics.type: histogram\n"
			      "          metrics.unit: ns\n"
			      "          metrics.boundaries: 1000,1000000\n"
			      "          metrics.description: latency\n";

struct fx {
	struct oci_metadata *md;
	struct run_pipeline *p;
	struct run_metrics *m;
	struct run_metrics_ds *d;
	char err[512];
	int fd;
};

static int observe(void *ctx, const void *rec, size_t size)
{
	return run_metrics_ds_record(ctx, rec, size);
}

/* A pipeline (json to a pipe nobody reads: only metrics matter) with filter and metrics. */
static int make(struct fx *f, const char *yaml, const char *filter, size_t max_series)
{
	const char *filters[1] = {filter};
	struct run_pipeline_opts po = {.sz = sizeof(po), .output = RUN_OUTPUT_JSON};
	struct run_metrics_opts mo = {.sz = sizeof(mo), .max_series = max_series};
	const struct oci_metadata_ds *mds;
	int r;

	memset(f, 0, sizeof(*f));
	f->fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	po.out_fd = f->fd;
	po.filters = filter ? filters : NULL;
	po.n_filters = filter ? 1 : 0;
	po.errbuf = f->err;
	po.errbuf_len = sizeof(f->err);
	assert_int_equal(oci_metadata_parse(yaml, strlen(yaml), &f->md, f->err, sizeof(f->err)), 0);
	mds = oci_metadata_find_ds(f->md, "ev");
	assert_int_equal(run_pipeline_new(&layout, mds, &po, &f->p), 0);
	assert_int_equal(run_pipeline_prepare(f->p), 0);
	assert_int_equal(run_metrics_new(&mo, &f->m), 0);
	assert_true(run_metrics_wanted(mds));
	r = run_metrics_add_ds(f->m, "test-app", f->p, mds, f->err, sizeof(f->err), &f->d);
	if (r == 0)
		run_pipeline_set_observer(f->p, observe, f->d);
	return r;
}

static void done(struct fx *f)
{
	run_metrics_free(f->m);
	run_pipeline_free(f->p);
	oci_metadata_free(f->md);
	close(f->fd);
}

static void ev(struct run_pipeline *p, const char *comm, uint32_t bytes, uint32_t queue,
	       const uint32_t slots[4], uint64_t lat, uint32_t code)
{
	struct ev e = {0};

	snprintf(e.comm, sizeof(e.comm), "%s", comm);
	e.bytes = bytes;
	e.queue = queue;
	if (slots)
		memcpy(e.slots, slots, sizeof(e.slots));
	e.lat_ns = lat;
	e.code = code;
	assert_int_equal(run_pipeline_record(p, &e, sizeof(e)), 0);
}

static char *scrape(const struct run_metrics *m)
{
	struct base_buf b = BASE_BUF_INIT(0);

	assert_int_equal(run_metrics_write(m, &b), 0);
	return b.data ? base_buf_take(&b) : strdup("");
}

static void test_families_and_values(void **state)
{
	static const uint32_t s1[4] = {1, 0, 2, 0}, s2[4] = {0, 3, 0, 1};
	struct fx f;
	char *t;

	assert_int_equal(make(&f, yaml_ok, "comm!=skipped", 0), 0);
	ev(f.p, "cat", 10, 5, s1, 500, 0);
	ev(f.p, "cat", 20, 7, s2, 2000000, 0);
	ev(f.p, "ls\"\\x", 1, 1, NULL, 5000, 0);
	ev(f.p, "skipped", 1000, 1000, s1, 1, 0);
	t = scrape(f.m);
	if (getenv("SHOW"))
		fputs(t, stderr);
	/* a counter adds, a gauge keeps the last value; labels are escaped */
	assert_non_null(strstr(
		t, "# TYPE test_app_bytes_total counter\n"
		   "test_app_bytes_total{comm=\"cat\",otel_scope_name=\"test-app\"} 30\n"
		   "test_app_bytes_total{comm=\"ls\\\"\\\\x\",otel_scope_name=\"test-app\"} 1\n"));
	assert_non_null(strstr(t, "# TYPE test_app_queue gauge\n"
				  "test_app_queue{comm=\"cat\",otel_scope_name=\"test-app\"} 7\n"));
	/*
	 * slots: bucket i holds slot i ([2^(i-1), 2^i)), le = 2^i, cumulative;
	 * the sum counts each value at its slot's lower bound (0, 1, 2, 4)
	 */
	assert_non_null(strstr(
		t,
		"test_app_slots_bucket{comm=\"cat\",otel_scope_name=\"test-app\",le=\"1\"} 1\n"
		"test_app_slots_bucket{comm=\"cat\",otel_scope_name=\"test-app\",le=\"2\"} 4\n"
		"test_app_slots_bucket{comm=\"cat\",otel_scope_name=\"test-app\",le=\"4\"} 6\n"
		"test_app_slots_bucket{comm=\"cat\",otel_scope_name=\"test-app\",le=\"8\"} 7\n"
		"test_app_slots_bucket{comm=\"cat\",otel_scope_name=\"test-app\",le=\"+Inf\"} 7\n"
		"test_app_slots_sum{comm=\"cat\",otel_scope_name=\"test-app\"} 11\n"
		"test_app_slots_count{comm=\"cat\",otel_scope_name=\"test-app\"} 7\n"));
	/* an observed value in base units (seconds), explicit boundaries scaled too */
	assert_non_null(strstr(t, "# HELP test_app_lat_seconds latency\n"
				  "# TYPE test_app_lat_seconds histogram\n"));
	assert_non_null(strstr(
		t,
		"test_app_lat_seconds_bucket{comm=\"cat\",otel_scope_name=\"test-app\",le=\"1e-"
		"06\"} 1\n"
		"test_app_lat_seconds_bucket{comm=\"cat\",otel_scope_name=\"test-app\",le=\"0."
		"001\"} 1\n"
		"test_app_lat_seconds_bucket{comm=\"cat\",otel_scope_name=\"test-app\",le=\"+Inf\"}"
		" 2\n"
		"test_app_lat_seconds_sum{comm=\"cat\",otel_scope_name=\"test-app\"} 0.0020005"));
	/* the implicit counter counts records that passed the filter */
	assert_non_null(
		strstr(t, "# HELP test_app_events_total events seen\n"
			  "# TYPE test_app_events_total counter\n"
			  "test_app_events_total{comm=\"cat\",otel_scope_name=\"test-app\"} 2\n"));
	assert_null(strstr(t, "skipped"));
	assert_int_equal(run_metrics_series(f.m), 2);
	free(t);
	done(&f);
}

static void test_series_bound(void **state)
{
	struct fx f;
	char comm[16];
	char *t;
	int i;

	assert_int_equal(make(&f, yaml_ok, NULL, 100), 0);
	for (i = 0; i < 20000; i++) {
		snprintf(comm, sizeof(comm), "c%d", i);
		ev(f.p, comm, 1, 1, NULL, 1, 0);
	}
	/* known series still count after the bound */
	ev(f.p, "c0", 1, 1, NULL, 1, 0);
	assert_int_equal(run_metrics_series(f.m), 100);
	assert_int_equal(run_metrics_dropped(f.m), 19900);
	t = scrape(f.m);
	assert_non_null(
		strstr(t, "test_app_events_total{comm=\"c0\",otel_scope_name=\"test-app\"} 2\n"));
	assert_null(strstr(t, "comm=\"c100\""));
	free(t);
	done(&f);
}

/*
 * Records are matched to series by their key bytes, a word at a time, after
 * the previous record's series: keys that share all but one byte (at every
 * position across word boundaries), and runs broken by other keys, must
 * count apart and exactly.
 */
static void test_series_lookup(void **state)
{
	static const char *const keys[] = {
		"a",
		"b",
		"1234567",
		"1234568",
		"12345678",
		"12345679",
		"123456789",
		"12345678a",
		"abcdefghijklmno",
		"abcdefghijklmnO",
		"Abcdefghijklmno",
		"",
	};
	const size_t n = sizeof(keys) / sizeof(keys[0]);
	const char *at, *prev;
	struct fx f;
	size_t i, k;
	char *t;

	assert_int_equal(make(&f, yaml_ok, NULL, 0), 0);
	/* key i gets i + 1 records: in runs, alternating, and runs again */
	for (i = 0; i < n; i++)
		for (k = 0; k <= i / 2; k++)
			ev(f.p, keys[i], 1, 1, NULL, 1, 0);
	for (k = 0; k < n; k++)
		for (i = 0; i < n; i++)
			if (k < (i + 1) - (i / 2 + 1))
				ev(f.p, keys[i], 1, 1, NULL, 1, 0);
	assert_int_equal(run_metrics_series(f.m), n);
	t = scrape(f.m);
	for (i = 0, prev = t; i < n; i++) {
		char want[128];

		/* in the order the series came, each with its own count */
		snprintf(want, sizeof(want),
			 "test_app_events_total{comm=\"%s\",otel_scope_name=\"test-app\"} %zu\n",
			 keys[i], i + 1);
		at = strstr(t, want);
		assert_non_null(at);
		assert_true(at >= prev);
		prev = at;
	}
	free(t);
	done(&f);
}

/* A scrape of many series: every line, in creation order, values as integers. */
static void test_many_series(void **state)
{
	struct base_buf want = BASE_BUF_INIT(0);
	struct fx f;
	char comm[16];
	char *t, *at;
	int i;

	assert_int_equal(make(&f, yaml_ok, NULL, 0), 0);
	for (i = 0; i < 5000; i++) {
		snprintf(comm, sizeof(comm), "/c/%011d", i);
		ev(f.p, comm, (uint32_t)i, 1, NULL, 1, 0);
		ev(f.p, comm, (uint32_t)i, 1, NULL, 1, 0);
	}
	assert_int_equal(run_metrics_series(f.m), 5000);
	for (i = 0; i < 5000; i++)
		assert_int_equal(base_buf_printf(&want,
						 "test_app_bytes_total{comm=\"/c/%011d\","
						 "otel_scope_name=\"test-app\"} %d\n",
						 i, 2 * i),
				 0);
	t = scrape(f.m);
	at = strstr(t, "# TYPE test_app_bytes_total counter\n");
	assert_non_null(at);
	at += strlen("# TYPE test_app_bytes_total counter\n");
	assert_memory_equal(at, want.data, want.len);
	assert_true(!strncmp(at + want.len, "# HELP ", 7));
	free(t);
	base_buf_done(&want);
	done(&f);
}

static void test_bad_annotations(void **state)
{
	static const struct {
		const char *fields, *msg;
	} bad[] = {
		{"      code:\n        annotations:\n          metrics.type: average\n",
		 "field 'code': unknown metrics.type 'average' (counter, gauge, histogram or key)"},
		{"      comm:\n        annotations:\n          metrics.type: histogram\n",
		 "field 'comm' (string) cannot be a histogram: it must be a number or an array of "
		 "histogram slots"},
		{"      nosuch:\n        annotations:\n          metrics.type: key\n",
		 "metrics.type on 'nosuch': the data source has no such field"},
		{"      code:\n        annotations:\n          metrics.type: histogram\n"
		 "          metrics.boundaries: 5,1\n",
		 "invalid metrics.boundaries '1' (increasing numbers, at most 64, separated by "
		 "commas)"},
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char yaml[1024];
		struct fx f;

		snprintf(yaml, sizeof(yaml),
			 "name: t\ndatasources:\n  ev:\n    annotations:\n"
			 "      metrics.collect: true\n    fields:\n%s",
			 bad[i].fields);
		assert_int_equal(make(&f, yaml, NULL, 0), -EINVAL);
		assert_string_equal(f.err, bad[i].msg);
		done(&f);
	}
}

static void test_collisions(void **state)
{
	struct fx f;
	struct run_metrics_ds *again;

	assert_int_equal(make(&f, yaml_ok, NULL, 0), 0);
	/* the same name twice in one registry would write every family twice */
	assert_int_equal(run_metrics_add_ds(f.m, "test-app", f.p, oci_metadata_find_ds(f.md, "ev"),
					    f.err, sizeof(f.err), &again),
			 -EINVAL);
	assert_non_null(strstr(f.err, "collides with"));
	/* another name is fine */
	assert_int_equal(run_metrics_add_ds(f.m, "other", f.p, oci_metadata_find_ds(f.md, "ev"),
					    f.err, sizeof(f.err), &again),
			 0);
	assert_string_equal(run_metrics_family_name(f.m, 0), "test_app_bytes");
	done(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_families_and_values), cmocka_unit_test(test_series_bound),
		cmocka_unit_test(test_series_lookup),	    cmocka_unit_test(test_many_series),
		cmocka_unit_test(test_bad_annotations),	    cmocka_unit_test(test_collisions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
