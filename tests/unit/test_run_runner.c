// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the gadget runner (run/runner.c) against the real kernel: the
 * test gadgets of tests/data/bpf are opened, given params, prepared, loaded
 * and attached, and the test makes the syscalls they trace itself (getppid()
 * for the tracer and the map iterator; the task iterator lists this very
 * process).  What a caller sees is checked: the params and fields it can
 * describe, the JSON records the sink receives (parsed back with jansson),
 * the end of each fetch, and the errors of bad params, fields and options.
 */
#include "run/runner.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "run/enrich.h"
#include "run/selector.h"

#define OBJ(name) TEST_BPF_DIR "/" name ".bpf.o"

#define MAX_RECORDS 4096

/* What the sink received. */
struct got {
	char *records[MAX_RECORDS];
	size_t ds[MAX_RECORDS];
	size_t n;
	uint64_t fetch_ends[16];
	size_t n_fetch_ends;
	int fail_with; /* the record callback returns this when non-zero */
};

static int on_record(void *ctx, size_t ds, const char *json, size_t len)
{
	struct got *g = ctx;

	assert_int_equal(strlen(json), len);
	if (g->fail_with)
		return g->fail_with;
	if (g->n < MAX_RECORDS) {
		g->records[g->n] = strndup(json, len);
		g->ds[g->n++] = ds;
	}
	return 0;
}

static int on_fetch_end(void *ctx, size_t ds, uint64_t fetch)
{
	struct got *g = ctx;

	assert_int_equal(ds, 0);
	if (g->n_fetch_ends < 16)
		g->fetch_ends[g->n_fetch_ends++] = fetch;
	return 0;
}

static void got_done(struct got *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		free(g->records[i]);
	memset(g, 0, sizeof(*g));
}

static json_t *parse(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);

	if (!j)
		fail_msg("not JSON (%s): %s", e.text, s);
	return j;
}

static json_int_t int_at(json_t *j, const char *a, const char *b)
{
	json_t *v = json_object_get(j, a);

	if (b)
		v = json_object_get(v, b);
	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static const char *str_at(json_t *j, const char *a, const char *b)
{
	json_t *v = json_object_get(j, a);

	if (b)
		v = json_object_get(v, b);
	assert_true(json_is_string(v));
	return json_string_value(v);
}

static struct run_runner_opts base_opts(const char *obj, char *err, size_t errlen)
{
	struct run_runner_opts o = {
		.sz = sizeof(o),
		.name = "t",
		.elf_path = obj,
		.errbuf = err,
		.errbuf_len = errlen,
		.out_fd = -1,
	};

	return o;
}

static const struct run_runner_field *field(const struct run_runner_ds_info *ds, const char *name,
					    size_t *idx)
{
	size_t i;

	for (i = 0; i < ds->n_fields; i++) {
		if (!strcmp(ds->fields[i].name, name)) {
			if (idx)
				*idx = i;
			return &ds->fields[i];
		}
	}
	return NULL;
}

/* Drains until want records arrived, or two seconds passed. */
static void consume_until(struct run_runner *r, struct got *g, size_t want)
{
	int i;

	for (i = 0; i < 200 && g->n < want; i++) {
		struct timespec ts = {0, 10 * 1000000L};

		getppid();
		assert_int_equal(run_runner_consume(r), 0);
		nanosleep(&ts, NULL);
	}
}

static void test_params_described_and_checked(void **state)
{
	char err[512] = "";
	struct run_runner_opts o = base_opts(OBJ("gadget_tracer"), err, sizeof(err));
	struct run_runner *r = NULL;
	const struct run_runner_param_info *p = NULL;
	size_t i;

	assert_int_equal(run_runner_new(&o, &r), 0);
	assert_int_equal(run_runner_param_count(r), 7);
	/* Inspektor Gadget's name: the variable's, without gadget.yaml; the old one still reads */
	for (i = 0; i < run_runner_param_count(r); i++)
		if (!strcmp(run_runner_param(r, i)->key, "targ_magic"))
			p = run_runner_param(r, i);
	assert_non_null(p);
	assert_string_equal(p->name, "targ_magic");
	assert_string_equal(p->compat_key, "magic");
	assert_null(p->alias);
	assert_string_equal(p->default_value, "4660");
	assert_null(run_runner_param(r, 7));
	assert_int_equal(p->n_values, 0);
	/* an enum lists the names it accepts (GetGadgetInfo, ig run --help) */
	for (i = 0; i < run_runner_param_count(r); i++)
		if (!strcmp(run_runner_param(r, i)->key, "targ_mode"))
			p = run_runner_param(r, i);
	assert_string_equal(p->name, "targ_mode");
	assert_int_equal(p->n_values, 3);
	assert_string_equal(p->values[1], "TR_MODE_B");

	/* by key, by eBPF variable name and by the old key */
	assert_int_equal(run_runner_set_param(r, "magic", "77"), 0);
	assert_int_equal(run_runner_set_param(r, "targ_pid", "1"), 0);
	assert_int_equal(run_runner_set_param(r, "pid", "1"), 0);

	assert_int_equal(run_runner_set_param(r, "no-such", "1"), -ENOENT);
	assert_non_null(strstr(err, "no-such"));
	assert_int_equal(run_runner_set_param(r, "magic", "abc"), -EINVAL);
	assert_non_null(strstr(err, "abc"));
	assert_int_equal(run_runner_set_param(r, "u8", "300"), -EINVAL);
	assert_int_equal(run_runner_set_param(r, "enabled", "maybe"), -EINVAL);
	run_runner_free(r);
}

static void test_not_a_gadget(void **state)
{
	char path[] = "/tmp/runner-junk-XXXXXX", err[512] = "";
	int fd = mkstemp(path);
	struct run_runner_opts o = base_opts(path, err, sizeof(err));
	struct run_runner *r = NULL;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not an ELF file at all", 22), 22);
	close(fd);
	assert_int_equal(run_runner_new(&o, &r), -ENOEXEC);
	assert_null(r);
	assert_true(err[0]);
	unlink(path);

	o.elf_path = NULL;
	assert_int_equal(run_runner_new(&o, &r), -EINVAL);
	o.sz = 8;
	assert_int_equal(run_runner_new(&o, &r), -EINVAL);
}

static void test_bad_options_fail_prepare(void **state)
{
	static const char *const bad_filter[] = {"nosuchfield==1"};
	char err[512] = "";
	struct run_runner_opts o = base_opts(OBJ("gadget_tracer"), err, sizeof(err));
	struct run_selector sel = {.container_name = "web"};
	struct run_runner *r = NULL;

	o.fields = "pid,bogus";
	assert_int_equal(run_runner_new(&o, &r), 0);
	assert_int_equal(run_runner_prepare(r), -EINVAL);
	assert_non_null(strstr(err, "bogus"));
	r = run_runner_free(r);

	o.fields = NULL;
	o.filters = bad_filter;
	o.n_filters = 1;
	assert_int_equal(run_runner_new(&o, &r), 0);
	assert_int_equal(run_runner_prepare(r), -EINVAL);
	assert_non_null(strstr(err, "nosuchfield"));
	r = run_runner_free(r);

	o.filters = NULL;
	o.n_filters = 0;
	o.sort = "-nosuch";
	assert_int_equal(run_runner_new(&o, &r), 0);
	assert_int_equal(run_runner_prepare(r), -EINVAL);
	assert_non_null(strstr(err, "nosuch"));
	r = run_runner_free(r);

	/* a selector without a container runtime cannot select anything */
	o.sort = NULL;
	o.selector = &sel;
	assert_int_equal(run_runner_new(&o, &r), 0);
	assert_int_equal(run_runner_prepare(r), -ENODEV);
	assert_true(err[0]);
	/* nothing was loaded: starting is refused */
	assert_int_equal(run_runner_start(r), -EINVAL);
	run_runner_free(r);
}

static void test_fields_listed(void **state)
{
	char err[512] = "";
	struct run_runner_opts o = base_opts(OBJ("gadget_tracer"), err, sizeof(err));
	struct run_runner *r = NULL;
	struct run_enrich *e = NULL;
	const struct run_runner_ds_info *ds;
	const struct run_runner_field *f;
	size_t i_ns = 0, i_comm = 0;

	assert_int_equal(run_enrich_new(NULL, &e), 0);
	o.enrich = e;
	o.node_name = "node-7";
	assert_int_equal(run_runner_new(&o, &r), 0);
	assert_int_equal(run_runner_ds_count(r), 1);
	ds = run_runner_ds(r, 0);
	assert_string_equal(ds->name, "my_events");
	assert_int_equal(ds->type, RUN_RUNNER_DS_TRACER);
	assert_int_equal(ds->n_fields, 0); /* known once prepared */
	assert_true(run_runner_has_tracer(r));
	assert_false(run_runner_has_mapiter(r));
	assert_false(run_runner_has_l4endpoint(r));
	assert_int_equal(run_runner_prepare(r), 0);
	assert_int_equal(run_runner_prepare(r), -EBUSY);
	assert_int_equal(run_runner_set_opts(r, &o), -EBUSY);

	ds = run_runner_ds(r, 0);
	assert_true(ds->n_fields > 10);
	/* k8s.node first: the callers' columns lead, the node's first of all */
	assert_string_equal(ds->fields[0].name, "k8s.node");
	assert_true(ds->fields[0].visible_json && ds->fields[0].visible_columns);

	f = field(ds, "comm", &i_comm);
	assert_non_null(f);
	assert_string_equal(f->type, "string");
	assert_string_equal(f->short_name, "comm");
	assert_int_equal(f->width, 16);
	assert_false(f->align_right);
	assert_true(f->visible_json && f->visible_columns);

	f = field(ds, "mntns_id", NULL);
	assert_non_null(f);
	assert_true(f->visible_json);
	assert_false(f->visible_columns);

	f = field(ds, "pid", NULL);
	assert_true(f->align_right);
	f = field(ds, "magic", NULL);
	assert_string_equal(f->type, "uint64");

	/* enrichment: all in JSON; without a runtime none in the table */
	f = field(ds, "k8s.namespace", &i_ns);
	assert_non_null(f);
	assert_true(f->visible_json);
	assert_false(f->visible_columns);
	assert_true(i_ns < i_comm);
	assert_non_null(field(ds, "runtime.containerId", NULL));
	/* the API's columns only come with the API */
	assert_null(field(ds, "k8s.owner.kind", NULL));
	run_runner_free(r);
	run_enrich_free(e);
}

static void test_fields_option_orders_fields(void **state)
{
	char err[512] = "";
	struct run_runner_opts o = base_opts(OBJ("gadget_tracer"), err, sizeof(err));
	struct run_runner *r = NULL;
	const struct run_runner_ds_info *ds;
	size_t i;

	assert_int_equal(run_runner_new(&o, &r), 0);
	/* the options may come after the gadget is open */
	o.fields = "tag,pid";
	assert_int_equal(run_runner_set_opts(r, &o), 0);
	assert_int_equal(run_runner_prepare(r), 0);
	ds = run_runner_ds(r, 0);
	assert_string_equal(ds->fields[0].name, "tag");
	assert_string_equal(ds->fields[1].name, "pid");
	for (i = 0; i < ds->n_fields; i++)
		assert_int_equal(ds->fields[i].visible_json, i < 2);
	run_runner_free(r);
}

static void test_sink_gets_records_of_a_syscall(void **state)
{
	char err[512] = "", pid[16];
	struct got g = {0};
	struct run_runner_opts o = base_opts(OBJ("gadget_tracer"), err, sizeof(err));
	struct run_runner *r = NULL;
	json_t *j;

	o.sink.record = on_record;
	o.sink.fetch_end = on_fetch_end;
	o.sink.ctx = &g;
	o.node_name = "node-7";
	o.output = RUN_OUTPUT_COLUMNS; /* ignored with a sink */
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	assert_int_equal(run_runner_new(&o, &r), 0);
	assert_int_equal(run_runner_set_param(r, "pid", pid), 0);
	assert_int_equal(run_runner_set_param(r, "tag", "xyz"), 0);
	assert_int_equal(run_runner_prepare(r), 0);
	assert_int_equal(run_runner_start(r), 0);
	assert_true(run_runner_fd(r) >= 0);
	assert_false(run_runner_done(r));
	assert_int_equal(run_runner_set_param(r, "tag", "late"), -EBUSY);

	consume_until(r, &g, 3);
	assert_true(g.n >= 3);
	assert_int_equal(run_runner_records(r), g.n);
	assert_int_equal(run_runner_lost(r), 0);
	assert_int_equal(g.n_fetch_ends, 0); /* tracers have no fetches */

	j = parse(g.records[0]);
	assert_int_equal(g.ds[0], 0);
	assert_int_equal(int_at(j, "magic", NULL), 0x1234);
	assert_int_equal(int_at(j, "pid", NULL), getpid());
	assert_string_equal(str_at(j, "tag", NULL), "xyz");
	assert_int_equal(int_at(j, "mode", NULL), 1); /* targ_mode's default, TR_MODE_B */
	assert_string_equal(str_at(j, "k8s", "node"), "node-7");
	/* a line of ig run -o json, without the newline */
	assert_null(strchr(g.records[0], '\n'));
	json_decref(j);

	/* a failing sink stops the drain and says so */
	g.fail_with = -EPIPE;
	getppid();
	assert_int_equal(run_runner_consume(r), -EPIPE);
	run_runner_free(r);
	got_done(&g);
}

static void test_sink_filters_and_fields(void **state)
{
	static const char *const keep_none[] = {"pid==1"};
	char err[512] = "", pid[16];
	struct got g = {0};
	struct run_runner_opts o = base_opts(OBJ("gadget_tracer"), err, sizeof(err));
	struct run_runner *r = NULL;
	int i;

	o.sink.record = on_record;
	o.sink.ctx = &g;
	o.fields = "pid,magic";
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	assert_int_equal(run_runner_new(&o, &r), 0);
	assert_int_equal(run_runner_set_param(r, "pid", pid), 0);
	assert_int_equal(run_runner_set_param(r, "magic", "5"), 0);
	assert_int_equal(run_runner_prepare(r), 0);
	assert_int_equal(run_runner_start(r), 0);
	consume_until(r, &g, 1);
	assert_true(g.n >= 1);
	snprintf(err, sizeof(err), "{\"pid\":%d,\"magic\":5}", (int)getpid());
	assert_string_equal(g.records[0], err);
	run_runner_free(r);
	got_done(&g);

	/* a filter nothing passes: nothing arrives, though the gadget fires */
	o.fields = NULL;
	o.filters = keep_none;
	o.n_filters = 1;
	assert_int_equal(run_runner_new(&o, &r), 0);
	assert_int_equal(run_runner_set_param(r, "pid", pid), 0);
	assert_int_equal(run_runner_prepare(r), 0);
	assert_int_equal(run_runner_start(r), 0);
	for (i = 0; i < 20; i++) {
		getppid();
		assert_int_equal(run_runner_consume(r), 0);
	}
	assert_int_equal(g.n, 0);
	assert_int_equal(run_runner_records(r), 0);
	run_runner_free(r);
}

static void test_fd_output(void **state)
{
	char err[512] = "", pid[16], buf[8192];
	struct run_runner_opts o = base_opts(OBJ("gadget_tracer"), err, sizeof(err));
	struct run_runner *r = NULL;
	int fd = memfd_create("runner-out", MFD_CLOEXEC), i;
	ssize_t n;

	assert_true(fd >= 0);
	o.out_fd = fd;
	o.output = RUN_OUTPUT_COLUMNS;
	o.fields = "pid,tag";
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	assert_int_equal(run_runner_new(&o, &r), 0);
	assert_int_equal(run_runner_set_param(r, "pid", pid), 0);
	assert_int_equal(run_runner_prepare(r), 0);
	assert_int_equal(run_runner_start(r), 0);
	for (i = 0; i < 200 && !run_runner_records(r); i++) {
		getppid();
		assert_int_equal(run_runner_consume(r), 0);
	}
	run_runner_free(r);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_true(!strncmp(buf, "    PID TAG\n", 12));
	assert_non_null(strstr(buf, pid));
	assert_non_null(strstr(buf, " abc\n"));
	close(fd);
}

static void test_snapshot_runs_at_start(void **state)
{
	char err[512] = "", want[32];
	struct got g = {0};
	struct run_runner_opts o = base_opts(OBJ("gadget_iter"), err, sizeof(err));
	struct run_runner *r = NULL;
	size_t i, mine = 0;
	json_int_t prev = -1;

	o.sink.record = on_record;
	o.sink.fetch_end = on_fetch_end;
	o.sink.ctx = &g;
	o.sort = "pid";
	assert_int_equal(run_runner_new(&o, &r), 0);
	assert_int_equal(run_runner_ds(r, 0)->type, RUN_RUNNER_DS_ITER);
	assert_int_equal(run_runner_fd(r), -1);
	assert_int_equal(run_runner_prepare(r), 0);
	assert_int_equal(run_runner_start(r), 0);
	assert_true(run_runner_done(r));
	assert_int_equal(g.n_fetch_ends, 1);
	assert_int_equal(g.fetch_ends[0], 1);
	assert_true(g.n > 1);
	snprintf(want, sizeof(want), "{\"pid\":%d,", (int)getpid());
	for (i = 0; i < g.n; i++) {
		json_t *j = parse(g.records[i]);

		if (!strncmp(g.records[i], want, strlen(want))) {
			mine++;
			assert_int_equal(int_at(j, "ppid", NULL), getppid());
		}
		/* sorted by pid */
		assert_true(int_at(j, "pid", NULL) >= prev);
		prev = int_at(j, "pid", NULL);
		json_decref(j);
	}
	assert_int_equal(mine, 1);
	run_runner_free(r);
	got_done(&g);
}

static void test_mapiter_fetches(void **state)
{
	char err[512] = "", pid[16];
	struct got g = {0};
	struct run_runner_opts o = base_opts(OBJ("gadget_mapiter"), err, sizeof(err));
	struct run_runner *r = NULL;
	json_t *j;
	int i;

	o.sink.record = on_record;
	o.sink.fetch_end = on_fetch_end;
	o.sink.ctx = &g;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	assert_int_equal(run_runner_new(&o, &r), 0);
	assert_true(run_runner_has_mapiter(r));
	assert_false(run_runner_has_tracer(r));
	assert_int_equal(run_runner_set_param(r, "pid", pid), 0);
	assert_int_equal(run_runner_prepare(r), 0);
	assert_int_equal(run_runner_start(r), 0);
	assert_false(run_runner_done(r));
	for (i = 0; i < 5; i++)
		getppid();
	assert_int_equal(run_runner_fetch(r), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.n_fetch_ends, 1);
	assert_int_equal(g.fetch_ends[0], 1);
	j = parse(g.records[0]);
	assert_int_equal(int_at(j, "pid", NULL), getpid());
	assert_int_equal(int_at(j, "calls", NULL), 5);
	json_decref(j);

	/* the fetch cleared the map: the next one is empty, and still ends */
	assert_int_equal(run_runner_fetch(r), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.n_fetch_ends, 2);
	assert_int_equal(g.fetch_ends[1], 2);
	run_runner_free(r);
	got_done(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params_described_and_checked),
		cmocka_unit_test(test_not_a_gadget),
		cmocka_unit_test(test_bad_options_fail_prepare),
		cmocka_unit_test(test_fields_listed),
		cmocka_unit_test(test_fields_option_orders_fields),
		cmocka_unit_test(test_sink_gets_records_of_a_syscall),
		cmocka_unit_test(test_sink_filters_and_fields),
		cmocka_unit_test(test_fd_output),
		cmocka_unit_test(test_snapshot_runs_at_start),
		cmocka_unit_test(test_mapiter_fetches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
