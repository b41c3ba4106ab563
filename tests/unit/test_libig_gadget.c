// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for libig's gadget object (libig/gadget.c) against the real
 * kernel, through the public header only: the test gadgets of
 * tests/data/bpf are opened from files and from memory, described, given
 * params and options, started, and read record by record while the test
 * makes the syscalls they trace itself (getppid()); snapshots, map
 * iterators and text output; and the one-line errors of everything a
 * program can get wrong.
 */
#include <ig/ig.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define OBJ(name) TEST_BPF_DIR "/" name ".bpf.o"

/* What the log callback got. */
static char logged[4096];

static void on_log(enum ig_log_level level, const char *msg, void *ctx)
{
	size_t n = strlen(logged);

	assert_ptr_equal(ctx, logged);
	snprintf(logged + n, sizeof(logged) - n, "%d %s\n", (int)level, msg);
}

static struct ig_gadget *open_obj(const char *path)
{
	struct ig_gadget_opts o = {.sz = sizeof(o)};
	struct ig_gadget *g = NULL;

	assert_int_equal(ig_gadget_open_file(path, &o, &g), 0);
	return g;
}

/* Calls getppid() until fn(g) is satisfied, reading with a short wait. */
static struct ig_record *next_record(struct ig_gadget *g)
{
	struct ig_record *rec = NULL;
	int i, r;

	for (i = 0; i < 200; i++) {
		getppid();
		r = ig_gadget_next(g, 20, &rec);
		assert_true(r >= 0);
		if (r == 1)
			return rec;
	}
	fail_msg("no record: %s", ig_gadget_errmsg(g));
	return NULL;
}

static void test_open_errors_are_one_line(void **state)
{
	char err[512] = "";
	struct ig_gadget_opts o = {.sz = sizeof(o), .errbuf = err, .errbuf_len = sizeof(err)};
	struct ig_gadget *g = NULL;
	static const char junk[] = "not an ELF object";

	assert_int_equal(ig_gadget_open_file("/nonexistent/x.bpf.o", &o, &g), -ENOENT);
	assert_null(g);
	assert_non_null(strstr(err, "/nonexistent/x.bpf.o"));
	assert_null(strchr(err, '\n'));
	assert_int_equal(ig_gadget_open_file(TEST_DATA_DIR, &o, &g), -ENOENT);
	assert_non_null(strstr(err, "no program.bpf.o"));
	assert_true(ig_gadget_open_mem(junk, sizeof(junk), &o, &g) < 0);
	assert_null(g);
	assert_true(err[0] != '\0');
	/* images: a short name found nowhere, a policy that cannot apply, not a reference */
	o.store_dir = "/nonexistent-store";
	assert_int_equal(ig_gadget_open("no_such_gadget", &o, &g), -ENOENT);
	assert_non_null(strstr(err, "no_such_gadget"));
	assert_non_null(strstr(err, "/nonexistent-store (no store there)"));
	o.pull = IG_PULL_ALWAYS;
	assert_int_equal(ig_gadget_open("trace_open", &o, &g), -EINVAL);
	assert_non_null(strstr(err, "registry"));
	o.pull = IG_PULL_MISSING;
	assert_int_equal(ig_gadget_open("Not A Ref!", &o, &g), -EINVAL);
	assert_int_equal(ig_gadget_open(NULL, &o, &g), -EINVAL);
	/* an options struct of an older, smaller layout is taken as far as it goes */
	o.sz = offsetof(struct ig_gadget_opts, pull);
	assert_int_equal(ig_gadget_open_file(OBJ("gadget_tracer"), &o, &g), 0);
	g = ig_gadget_free(g);
	assert_null(ig_gadget_free(NULL));
}

static void test_describe_params_and_fields(void **state)
{
	struct ig_gadget *g = open_obj(OBJ("gadget_tracer"));
	const struct ig_param_info *p = NULL;
	const struct ig_field_info *f;
	const struct ig_ds_info *ds;
	bool magic = false;
	size_t i;

	assert_string_equal(ig_gadget_name(g), "gadget_tracer.bpf.o");
	assert_null(ig_gadget_image(g));
	for (i = 0; i < ig_gadget_param_count(g); i++)
		if (!strcmp(ig_gadget_param(g, i)->name, "targ_mode"))
			p = ig_gadget_param(g, i);
	assert_non_null(p);
	assert_int_equal(p->type, IG_PARAM_ENUM);
	assert_null(ig_gadget_param(g, 1000));
	/* the data sources are known once prepared */
	assert_int_equal(ig_gadget_ds_count(g), 0);
	assert_int_equal(ig_gadget_prepare(g), 0);
	assert_int_equal(ig_gadget_ds_count(g), 1);
	ds = ig_gadget_ds(g, 0);
	assert_string_equal(ds->name, "my_events");
	assert_int_equal(ds->type, IG_DS_TRACER);
	for (i = 0; i < ds->n_fields; i++) {
		f = ig_gadget_field(g, 0, i);
		if (!strcmp(f->name, "magic")) {
			magic = true;
			assert_string_equal(f->type, "uint64");
			assert_true(f->visible_json);
		}
	}
	assert_true(magic);
	assert_null(ig_gadget_field(g, 0, ds->n_fields));
	assert_null(ig_gadget_field(g, 1, 0));
	/* prepared: no more options */
	assert_int_equal(ig_gadget_set_param(g, "targ_magic", "1"), -EBUSY);
	assert_int_equal(ig_gadget_add_filter(g, "magic==1"), -EBUSY);
	assert_non_null(strstr(ig_gadget_errmsg(g), "prepared"));
	ig_gadget_free(g);
}

static void test_bad_options_name_what_is_wrong(void **state)
{
	struct ig_gadget *g = open_obj(OBJ("gadget_tracer"));
	struct ig_selector sel = {.sz = sizeof(sel), .k8s_labels = "a=b,=c"};

	assert_int_equal(ig_gadget_set_param(g, "no_such_param", "1"), -ENOENT);
	assert_non_null(strstr(ig_gadget_errmsg(g), "no_such_param"));
	assert_int_equal(ig_gadget_set_param(g, "targ-magic", "many"), -EINVAL);
	assert_true(ig_gadget_errmsg(g)[0] != '\0');
	assert_int_equal(ig_gadget_set_selector(g, &sel), -EINVAL);
	assert_true(ig_gadget_errmsg(g)[0] != '\0');
	assert_int_equal(ig_gadget_add_filter(g, ""), -EINVAL);
	assert_int_equal(ig_gadget_set_output(g, IG_OUTPUT_JSON, -1, 0), -EINVAL);
	assert_int_equal(ig_gadget_next(g, 0, NULL), -EINVAL); /* not started */
	assert_int_equal(ig_gadget_fd(g), -EINVAL);
	assert_int_equal(ig_gadget_set_fields(g, "magic,no_such_field"), 0);
	assert_int_equal(ig_gadget_prepare(g), -EINVAL);
	assert_non_null(strstr(ig_gadget_errmsg(g), "no_such_field"));
	ig_gadget_free(g);

	/* a container selector needs a runtime; none answers at these sockets */
	{
		struct ig_gadget_opts o = {
			.sz = sizeof(o),
			.containerd_socket = "/nonexistent/containerd.sock",
			.crio_socket = "",
		};
		struct ig_selector s2 = {.sz = sizeof(s2), .containername = "web"};

		assert_int_equal(ig_gadget_open_file(OBJ("gadget_tracer"), &o, &g), 0);
		assert_int_equal(ig_gadget_set_selector(g, &s2), 0);
		assert_int_equal(ig_gadget_prepare(g), -ENODEV);
		assert_non_null(strstr(ig_gadget_errmsg(g), "/nonexistent/containerd.sock"));
		ig_gadget_free(g);
	}
}

static void test_tracer_records_with_typed_fields(void **state)
{
	struct ig_gadget *g = open_obj(OBJ("gadget_tracer"));
	char pid[32], filter[64];
	struct ig_record *rec;
	const char *s;
	uint64_t u;
	int i;

	logged[0] = '\0';
	ig_set_log(on_log, IG_LOG_DEBUG, logged);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	snprintf(filter, sizeof(filter), "pid==%d", (int)getpid());
	assert_int_equal(ig_gadget_set_param(g, "targ_pid", pid), 0);
	assert_int_equal(ig_gadget_set_param(g, "targ-magic", "77"), 0);
	assert_int_equal(ig_gadget_add_filter(g, filter), 0);
	assert_int_equal(ig_gadget_start(g), 0);
	assert_true(ig_gadget_fd(g) >= 0);
	assert_int_equal(ig_gadget_set_param(g, "targ_magic", "1"), -EBUSY);
	assert_int_equal(ig_gadget_start(g), -EBUSY);
	for (i = 0; i < 3; i++) {
		rec = next_record(g);
		assert_string_equal(ig_record_ds(rec), "my_events");
		assert_int_equal(ig_record_fetch(rec), 0);
		assert_int_equal(ig_record_get_uint(rec, "magic", &u), 0);
		assert_int_equal(u, 77);
		assert_int_equal(ig_record_get_uint(rec, "pid", &u), 0);
		assert_int_equal(u, (uint64_t)getpid());
		assert_int_equal(ig_record_get_str(rec, "tag", &s, NULL), 0);
		assert_string_equal(s, "abc");
		/* targ_mode's default, TR_MODE_B, in a plain __u32 */
		assert_int_equal(ig_record_get_uint(rec, "mode", &u), 0);
		assert_int_equal(u, 1);
		assert_non_null(strstr(ig_record_json(rec, NULL), "\"magic\":77"));
	}
	/* nothing more without calls, then the end after stop */
	while (ig_gadget_next(g, 50, &rec) == 1)
		;
	assert_int_equal(ig_gadget_next(g, 0, &rec), 0);
	assert_int_equal(ig_gadget_stop(g), 0);
	while (ig_gadget_next(g, 0, &rec) == 1)
		;
	assert_int_equal(ig_gadget_next(g, 0, &rec), -ENODATA);
	assert_int_equal(ig_gadget_lost(g), 0);
	ig_gadget_free(g);
	/* the library said something through the callback, and nothing on stderr */
	assert_true(logged[0] != '\0');
	ig_set_log(NULL, IG_LOG_ERROR, NULL);
}

static void test_open_from_memory_with_metadata(void **state)
{
	static const char yaml[] = "name: mem gadget\ndescription: from memory\n";
	struct ig_gadget_opts o = {
		.sz = sizeof(o),
		.name = "memtracer",
		.metadata = yaml,
		.metadata_len = sizeof(yaml) - 1,
	};
	struct ig_gadget *g = NULL;
	struct ig_record *rec;
	size_t size = 4u << 20;
	char pid[32], *buf = malloc(size);
	ssize_t n;
	uint64_t u;
	int fd = open(OBJ("gadget_tracer"), O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0 && buf);
	n = read(fd, buf, size);
	close(fd);
	assert_true(n > 0 && n < (ssize_t)size);
	assert_int_equal(ig_gadget_open_mem(buf, (size_t)n, &o, &g), 0);
	/* the library copied the object */
	memset(buf, 0, size);
	free(buf);
	assert_string_equal(ig_gadget_name(g), "memtracer");
	assert_string_equal(ig_gadget_description(g), "from memory");
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	assert_int_equal(ig_gadget_set_param(g, "targ_pid", pid), 0);
	assert_int_equal(ig_gadget_set_timeout(g, 400), 0);
	assert_int_equal(ig_gadget_start(g), 0);
	rec = next_record(g);
	assert_int_equal(ig_record_get_uint(rec, "magic", &u), 0);
	assert_int_equal(u, 0x1234);
	/* the timeout ends the run */
	while ((n = ig_gadget_next(g, 2000, &rec)) == 1)
		;
	assert_int_equal(n, -ENODATA);
	ig_gadget_free(g);
}

static void test_snapshot_records_then_the_end(void **state)
{
	struct ig_gadget *g = open_obj(OBJ("gadget_iter"));
	struct ig_record *rec;
	bool me = false;
	uint64_t u;
	int r;

	assert_int_equal(ig_gadget_prepare(g), 0);
	assert_int_equal(ig_gadget_ds(g, 0)->type, IG_DS_SNAPSHOT);
	assert_int_equal(ig_gadget_start(g), 0);
	while ((r = ig_gadget_next(g, 1000, &rec)) == 1)
		if (ig_record_get_uint(rec, "pid", &u) == 0 && u == (uint64_t)getpid())
			me = true;
	assert_int_equal(r, -ENODATA);
	assert_true(me);
	ig_gadget_free(g);
}

static void test_map_iterator_fetches(void **state)
{
	struct ig_gadget *g = open_obj(OBJ("gadget_mapiter"));
	struct ig_record *rec;
	uint64_t fetches[8] = {0}, calls, last = 0;
	char pid[32];
	size_t n = 0;
	int r, i;

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	assert_int_equal(ig_gadget_set_param(g, "targ_pid", pid), 0);
	assert_int_equal(ig_gadget_set_fetch(g, 150, 3), 0);
	assert_int_equal(ig_gadget_set_sort(g, "-calls", 10), 0);
	assert_int_equal(ig_gadget_start(g), 0);
	for (;;) {
		for (i = 0; i < 5; i++)
			getppid();
		r = ig_gadget_next(g, 50, &rec);
		if (r < 0)
			break;
		if (r == 0)
			continue;
		assert_int_equal(ig_record_get_uint(rec, "calls", &calls), 0);
		assert_true(calls > 0);
		/* fetch numbers grow, one fetch's records together */
		assert_true(ig_record_fetch(rec) >= last);
		last = ig_record_fetch(rec);
		if (n < 8)
			fetches[n++] = last;
	}
	assert_int_equal(r, -ENODATA);
	assert_true(n >= 2);
	assert_int_equal(fetches[0], 1);
	assert_true(last <= 3);
	ig_gadget_free(g);
}

static void test_text_output_on_a_descriptor(void **state)
{
	struct ig_gadget *g = open_obj(OBJ("gadget_tracer"));
	char pid[32], buf[8192] = "";
	size_t got = 0;
	int fds[2], i, r;

	assert_int_equal(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	assert_int_equal(ig_gadget_set_param(g, "targ_pid", pid), 0);
	assert_int_equal(ig_gadget_set_fields(g, "magic,tag"), 0);
	assert_int_equal(ig_gadget_set_output(g, IG_OUTPUT_JSON, fds[1], 0), 0);
	assert_int_equal(ig_gadget_start(g), 0);
	for (i = 0; i < 200 && !strstr(buf, "\n"); i++) {
		struct ig_record *rec = (struct ig_record *)1;
		ssize_t n;

		getppid();
		r = ig_gadget_next(g, 20, &rec);
		assert_int_equal(r, 0); /* text output never hands out records */
		assert_null(rec);
		n = read(fds[0], buf + got, sizeof(buf) - 1 - got);
		if (n > 0)
			got += (size_t)n;
		buf[got] = '\0';
	}
	assert_non_null(strstr(buf, "{\"magic\":4660,\"tag\":\"abc\"}\n"));
	ig_gadget_free(g);
	close(fds[0]);
	close(fds[1]);
}

static void test_version(void **state)
{
	char want[32];

	snprintf(want, sizeof(want), "%d.%d.%d", IG_VERSION_MAJOR, IG_VERSION_MINOR,
		 IG_VERSION_PATCH);
	assert_int_equal(strncmp(ig_version(), want, strlen(want)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_open_errors_are_one_line),
		cmocka_unit_test(test_describe_params_and_fields),
		cmocka_unit_test(test_bad_options_name_what_is_wrong),
		cmocka_unit_test(test_tracer_records_with_typed_fields),
		cmocka_unit_test(test_open_from_memory_with_metadata),
		cmocka_unit_test(test_snapshot_records_then_the_end),
		cmocka_unit_test(test_map_iterator_fetches),
		cmocka_unit_test(test_text_output_on_a_descriptor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
