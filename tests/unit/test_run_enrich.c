// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the container enrichment columns (run/enrich.c) where no
 * runtime is involved: finding a record's mount namespace field, the columns
 * a pipeline is given (all of them in JSON, the K8S.* ones in the table only when
 * a runtime answers), and host records (no container) with empty values.
 * Lookups in a real container collection, and the grace period of removed
 * containers, are covered by tests/integration/test_run_containers.py.
 */
#include "run/enrich.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "run/pipeline.h"
#include "bpf/layout.h"

struct test_event {
	uint32_t pid;
	uint32_t pad;
	uint64_t mntns_id;
	char comm[8];
};

#define FIELD(n, full, k, sp, off, sz)                                                             \
	{                                                                                          \
		.name = (char *)(n), .full_name = (char *)(full), .type_name = (char *)"t",        \
		.parent = -1, .kind = (k), .special = (sp), .offset = (off), .size = (sz)          \
	}

static struct bpf_layout_field fields[] = {
	FIELD("pid", "pid", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_PID, 0, 4),
	FIELD("mntns_id", "mntns_id", BPF_LAYOUT_UINT, BPF_LAYOUT_SPECIAL_MNTNS_ID,
	      offsetof(struct test_event, mntns_id), 8),
	FIELD("comm", "comm", BPF_LAYOUT_STRING, BPF_LAYOUT_SPECIAL_COMM,
	      offsetof(struct test_event, comm), 8),
};

static struct bpf_layout layout = {
	.name = (char *)"event",
	.size = sizeof(struct test_event),
	.n_fields = 3,
	.fields = fields,
};

/* The same record without a mount namespace: nothing to enrich. */
static struct bpf_layout plain = {
	.name = (char *)"event",
	.size = sizeof(struct test_event),
	.n_fields = 1,
	.fields = fields,
};

static char *run(enum run_output out, bool show, const char *sel, size_t size)
{
	struct test_event ev = {.pid = 42, .mntns_id = 4026531840u, .comm = "sh"};
	struct run_pipeline_opts o = {.sz = sizeof(o), .output = out, .fields = sel};
	struct run_pipeline *p = NULL;
	struct run_enrich *e = NULL;
	char *text;
	off_t len;
	int fd = memfd_create("enrich-out", MFD_CLOEXEC);

	assert_true(fd >= 0);
	o.out_fd = fd;
	assert_int_equal(run_enrich_new(NULL, &e), 0);
	assert_int_equal(run_pipeline_new(&layout, NULL, &o, &p), 0);
	assert_int_equal(run_enrich_add_columns(e, p, &layout, show, NULL), 0);
	assert_int_equal(run_pipeline_prepare(p), 0);
	assert_int_equal(run_pipeline_record(p, &ev, size), 0);
	assert_int_equal(run_pipeline_flush(p), 0);
	run_pipeline_free(p);
	run_enrich_free(e);
	len = lseek(fd, 0, SEEK_END);
	text = calloc(1, (size_t)len + 1);
	assert_non_null(text);
	assert_int_equal(pread(fd, text, (size_t)len, 0), len);
	close(fd);
	return text;
}

static void test_mntns_offset(void **state)
{
	uint32_t off = 0;

	(void)state;
	assert_int_equal(run_enrich_mntns_offset(&layout, &off), 0);
	assert_int_equal(off, offsetof(struct test_event, mntns_id));
	assert_int_equal(run_enrich_mntns_offset(&plain, &off), -ENOENT);
	assert_int_equal(run_enrich_mntns_offset(NULL, &off), -EINVAL);
}

static void test_no_mntns_adds_nothing(void **state)
{
	struct run_pipeline_opts o = {.sz = sizeof(o), .out_fd = -1};
	struct run_pipeline *p = NULL;
	struct run_enrich *e = NULL;

	(void)state;
	assert_int_equal(run_enrich_new(NULL, &e), 0);
	assert_int_equal(run_pipeline_new(&plain, NULL, &o, &p), 0);
	assert_int_equal(run_enrich_add_columns(e, p, &plain, true, NULL), -ENOENT);
	assert_int_equal(run_enrich_add_columns(NULL, p, &plain, true, NULL), -EINVAL);
	assert_null(run_enrich_lookup(e, 4026531840u));
	run_enrich_expire(e);
	run_pipeline_free(p);
	assert_null(run_enrich_free(e));
	assert_null(run_enrich_free(NULL));
	assert_int_equal(run_enrich_new(NULL, NULL), -EINVAL);
}

static void test_host_record_json(void **state)
{
	char *got;

	(void)state;
	got = run(RUN_OUTPUT_JSON, false, NULL, sizeof(struct test_event));
	assert_string_equal(
		got, "{\"runtime\":{\"containerName\":\"\",\"containerId\":\"\","
		     "\"containerPid\":null,\"containerImageName\":\"\",\"runtimeName\":\"\"},"
		     "\"k8s\":{\"namespace\":\"\",\"podName\":\"\",\"containerName\":\"\","
		     "\"podLabels\":\"\"},\"pid\":42,\"mntns_id\":4026531840,\"comm\":\"sh\"}\n");
	free(got);
	/* a record cut before its mount namespace is a host record, never a read past it */
	got = run(RUN_OUTPUT_JSON, true, "k8s.podName,pid", 4);
	assert_string_equal(got, "{\"k8s\":{\"podName\":\"\"},\"pid\":42}\n");
	free(got);
}

static void test_table_columns(void **state)
{
	char *got;

	(void)state;
	/* no runtime: the table is what it was without enrichment */
	got = run(RUN_OUTPUT_COLUMNS, false, NULL, sizeof(struct test_event));
	assert_null(strstr(got, "K8S."));
	assert_non_null(strstr(got, "PID"));
	free(got);
	/* a runtime: the pod columns lead, the runtime.* ones stay for --fields */
	got = run(RUN_OUTPUT_COLUMNS, true, NULL, sizeof(struct test_event));
	assert_true(!strncmp(got, "K8S.NAMESPACE", 13));
	assert_non_null(strstr(got, "K8S.PODNAME"));
	assert_non_null(strstr(got, "K8S.CONTAINERNAME"));
	assert_null(strstr(got, "RUNTIME."));
	free(got);
	got = run(RUN_OUTPUT_COLUMNS, true, "runtime.containerName,pid", sizeof(struct test_event));
	assert_true(!strncmp(got, "RUNTIME.CONTAINERNAME", 21));
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mntns_offset),
		cmocka_unit_test(test_no_mntns_adds_nothing),
		cmocka_unit_test(test_host_record_json),
		cmocka_unit_test(test_table_columns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
