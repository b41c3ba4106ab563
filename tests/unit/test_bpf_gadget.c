// SPDX-License-Identifier: Apache-2.0
/*
 * The gadget runtime (bpf/gadget.c) against the real kernel.
 *
 * Runs as root: the test objects in tests/data/bpf/ are loaded and attached
 * to syscalls/sys_enter_getppid, the test calls getppid() itself and checks
 * the records that come back.  Each program filters on targ_pid, so other
 * processes calling getppid() do not disturb the counts.  Bad inputs (not an
 * ELF, no BTF, corrupt BTF, no data source, hooks this kernel lacks) must
 * give their one-line reason.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <elf.h>

#include <cmocka.h>

#include "bpf/gadget.h"

#define OBJ(name) TEST_BPF_DIR "/" name ".bpf.o"

/* struct tr_event of gadget_tracer.bpf.c */
struct tr_event {
	uint64_t magic;
	uint64_t timestamp;
	uint64_t mntns_id;
	uint32_t pid;
	char comm[16];
	uint32_t mode;
	char tag[8];
};

struct pf_event {
	uint64_t magic;
	uint32_t pid;
	uint32_t pad;
};

struct mi_record {
	uint32_t pid;
	char comm[16];
	uint32_t pad;
	uint64_t calls;
	uint32_t last_tid;
	uint32_t pad2;
};

struct it_task {
	uint32_t pid;
	uint32_t ppid;
	char comm[16];
};

/* tests/data/bpf/gadget_socket1.bpf.c */
struct sf_event {
	uint32_t netns;
	uint32_t len;
};

struct collected {
	size_t n;
	size_t last_size;
	struct tr_event last;
	struct pf_event last_pf;
	struct sf_event last_sf;
	const struct bpf_gadget_ds *ds;
};

static char errbuf[512];

static struct bpf_gadget_opts opts_with_err(void)
{
	struct bpf_gadget_opts o = {
		.sz = sizeof(o), .errbuf = errbuf, .errbuf_len = sizeof(errbuf)};

	errbuf[0] = '\0';
	return o;
}

static struct bpf_gadget *open_ok(const char *path)
{
	struct bpf_gadget_opts o = opts_with_err();
	struct bpf_gadget *g = NULL;
	int err = bpf_gadget_open_file(path, &o, &g);

	if (err)
		fail_msg("open %s: %d %s", path, err, errbuf);
	return g;
}

static void set_param_ok(struct bpf_gadget *g, const char *name, const char *value)
{
	int err = bpf_gadget_set_param(g, name, value);

	if (err)
		fail_msg("set %s=%s: %d %s", name, value, err, bpf_gadget_last_error(g));
}

static void load_attach_ok(struct bpf_gadget *g)
{
	int err = bpf_gadget_load(g);

	if (err)
		fail_msg("load: %d %s", err, bpf_gadget_last_error(g));
	err = bpf_gadget_attach(g);
	if (err)
		fail_msg("attach: %d %s", err, bpf_gadget_last_error(g));
}

static void set_own_pid(struct bpf_gadget *g)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%d", getpid());
	set_param_ok(g, "targ_pid", pid);
}

static void trigger(int n)
{
	for (int i = 0; i < n; i++)
		getppid();
}

static uint64_t own_mntns(void)
{
	struct stat st;

	assert_int_equal(stat("/proc/self/ns/mnt", &st), 0);
	return st.st_ino;
}

static int collect(const struct bpf_gadget_ds *ds, const void *data, size_t size, void *ctx)
{
	struct collected *c = ctx;

	c->n++;
	c->last_size = size;
	c->ds = ds;
	if (size >= sizeof(c->last) && ds->layout->size == sizeof(c->last))
		memcpy(&c->last, data, sizeof(c->last));
	if (size >= sizeof(c->last_pf) && ds->layout->size == sizeof(c->last_pf))
		memcpy(&c->last_pf, data, sizeof(c->last_pf));
	if (size >= sizeof(c->last_sf) && !strcmp(ds->name, "sf"))
		memcpy(&c->last_sf, data, sizeof(c->last_sf));
	return 0;
}

static int write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, data, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

static void *read_whole(const char *path, size_t *len)
{
	struct stat st;
	void *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

/* Finds the header of the section called name in an ELF image. */
static Elf64_Shdr *find_section(void *elf, const char *name)
{
	Elf64_Ehdr *eh = elf;
	Elf64_Shdr *sh = (Elf64_Shdr *)((char *)elf + eh->e_shoff);
	const char *names = (char *)elf + sh[eh->e_shstrndx].sh_offset;

	for (int i = 0; i < eh->e_shnum; i++)
		if (strcmp(names + sh[i].sh_name, name) == 0)
			return &sh[i];
	return NULL;
}

/* ---- discovery ---- */

static void test_discover_tracer(void **state)
{
	struct bpf_gadget *g = open_ok(OBJ("gadget_tracer"));
	const struct bpf_gadget_ds *ds;
	const struct bpf_gadget_param *p;

	assert_string_equal(bpf_gadget_name(g), "gadget_tracer.bpf.o");
	assert_non_null(bpf_gadget_btf(g));
	assert_int_equal(bpf_gadget_ds_count(g), 1);
	ds = bpf_gadget_ds_get(g, 0);
	assert_null(bpf_gadget_ds_get(g, 1));
	assert_string_equal(ds->name, "my_events");
	assert_int_equal(ds->type, BPF_GADGET_DS_TRACER);
	assert_string_equal(ds->map_name, "tr_events");
	assert_false(ds->perf_array);
	assert_string_equal(ds->layout->name, "tr_event");
	assert_int_equal(ds->layout->size, sizeof(struct tr_event));
	assert_int_equal(bpf_layout_find(ds->layout, "mntns_id")->special,
			 BPF_LAYOUT_SPECIAL_MNTNS_ID);
	assert_int_equal(bpf_layout_find(ds->layout, "comm")->special, BPF_LAYOUT_SPECIAL_COMM);

	assert_int_equal(bpf_gadget_param_count(g), 7);
	p = bpf_gadget_param_find(g, "targ_magic");
	assert_non_null(p);
	assert_int_equal(p->type, BPF_GADGET_PARAM_UINT);
	assert_int_equal(p->size, 8);
	assert_string_equal(p->default_value, "4660");
	assert_null(p->value);
	p = bpf_gadget_param_find(g, "targ_pid");
	assert_string_equal(p->type_name, "gadget_pid");
	assert_string_equal(p->default_value, "0");
	p = bpf_gadget_param_find(g, "targ_enabled");
	assert_int_equal(p->type, BPF_GADGET_PARAM_BOOL);
	assert_string_equal(p->type_name, "bool");
	assert_string_equal(p->default_value, "true");
	p = bpf_gadget_param_find(g, "targ_tag");
	assert_int_equal(p->type, BPF_GADGET_PARAM_STRING);
	assert_int_equal(p->size, 8);
	assert_string_equal(p->type_name, "char[8]");
	assert_string_equal(p->default_value, "abc");
	p = bpf_gadget_param_find(g, "targ_mode");
	assert_int_equal(p->type, BPF_GADGET_PARAM_ENUM);
	assert_string_equal(p->type_name, "enum tr_mode");
	assert_string_equal(p->default_value, "TR_MODE_B");
	assert_int_equal(p->n_enum_values, 3);
	assert_string_equal(p->enum_values[0], "TR_MODE_A");
	assert_string_equal(p->enum_values[2], "TR_MODE_C");
	assert_int_equal(bpf_gadget_param_find(g, "targ_tag")->n_enum_values, 0);
	p = bpf_gadget_param_find(g, "targ_small");
	assert_int_equal(p->type, BPF_GADGET_PARAM_INT);
	assert_string_equal(p->default_value, "-3");
	assert_string_equal(bpf_gadget_param_find(g, "targ_u8")->default_value, "200");
	/* Knobs of the gadget API are not params. */
	assert_null(bpf_gadget_param_find(g, "gadget_filter_by_mntns"));
	assert_null(bpf_gadget_param_find(g, "gadget_ringbuf_wakeup_threshold"));
	assert_null(bpf_gadget_param_get(g, 7));
	bpf_gadget_free(g);
}

static void test_discover_section_forms(void **state)
{
	struct bpf_gadget *g = open_ok(OBJ("gadget_perf"));
	const struct bpf_gadget_ds *tracer = NULL, *mapiter = NULL;

	assert_int_equal(bpf_gadget_ds_count(g), 2);
	for (size_t i = 0; i < 2; i++) {
		const struct bpf_gadget_ds *ds = bpf_gadget_ds_get(g, i);

		if (ds->type == BPF_GADGET_DS_TRACER)
			tracer = ds;
		else if (ds->type == BPF_GADGET_DS_MAPITER)
			mapiter = ds;
	}
	assert_non_null(tracer);
	assert_non_null(mapiter);
	assert_string_equal(tracer->name, "perf_stream");
	assert_string_equal(tracer->map_name, "pf_events");
	assert_true(tracer->perf_array);
	assert_string_equal(tracer->layout->name, "pf_event");
	assert_string_equal(mapiter->name, "call_counts");
	assert_string_equal(mapiter->map_name, "pf_calls");
	assert_int_equal(mapiter->key_size, 4);
	assert_int_equal(mapiter->value_offset, 8);
	assert_int_equal(mapiter->value_size, 8);
	assert_int_equal(bpf_layout_find(mapiter->layout, "calls")->offset, 8);
	bpf_gadget_free(g);
}

static void test_discover_mapiter_and_iter(void **state)
{
	struct bpf_gadget *g = open_ok(OBJ("gadget_mapiter"));
	const struct bpf_gadget_ds *ds = bpf_gadget_ds_get(g, 0);

	assert_int_equal(bpf_gadget_ds_count(g), 1);
	assert_string_equal(ds->name, "getppid_calls");
	assert_int_equal(ds->type, BPF_GADGET_DS_MAPITER);
	assert_string_equal(ds->map_name, "mi_counts");
	assert_int_equal(ds->key_size, 20);
	assert_int_equal(ds->value_offset, 24);
	assert_int_equal(ds->layout->size, sizeof(struct mi_record));
	assert_int_equal(bpf_layout_find(ds->layout, "calls")->offset,
			 offsetof(struct mi_record, calls));
	assert_int_equal(bpf_layout_find(ds->layout, "pid")->special, BPF_LAYOUT_SPECIAL_PID);
	bpf_gadget_free(g);

	g = open_ok(OBJ("gadget_iter"));
	ds = bpf_gadget_ds_get(g, 0);
	assert_int_equal(bpf_gadget_ds_count(g), 1);
	assert_string_equal(ds->name, "tasks");
	assert_int_equal(ds->type, BPF_GADGET_DS_ITER);
	assert_int_equal(ds->n_progs, 1);
	assert_string_equal(ds->progs[0], "it_dump_task");
	assert_string_equal(ds->iter_kind, "task");
	assert_int_equal(ds->layout->size, sizeof(struct it_task));
	bpf_gadget_free(g);
}

/* ---- params ---- */

static void test_params(void **state)
{
	struct bpf_gadget *g = open_ok(OBJ("gadget_tracer"));

	set_param_ok(g, "targ_magic", "0xdeadbeefcafe");
	assert_string_equal(bpf_gadget_param_find(g, "targ_magic")->value, "0xdeadbeefcafe");
	set_param_ok(g, "targ_enabled", "No");
	set_param_ok(g, "targ_enabled", "yes");
	set_param_ok(g, "targ_small", "-128");
	set_param_ok(g, "targ_small", "127");
	set_param_ok(g, "targ_u8", "255");
	set_param_ok(g, "targ_tag", "1234567");
	set_param_ok(g, "targ_tag", "");
	set_param_ok(g, "targ_mode", "TR_MODE_C");
	set_param_ok(g, "targ_mode", "1");

	assert_int_equal(bpf_gadget_set_param(g, "nope", "1"), -ENOENT);
	assert_string_equal(bpf_gadget_last_error(g), "unknown param 'nope'");
	assert_int_equal(bpf_gadget_set_param(g, "targ_pid", "abc"), -EINVAL);
	assert_string_equal(
		bpf_gadget_last_error(g),
		"invalid value 'abc' for param 'targ_pid' (expected an unsigned integer)");
	assert_int_equal(bpf_gadget_set_param(g, "targ_pid", "-1"), -EINVAL);
	assert_int_equal(bpf_gadget_set_param(g, "targ_pid", "12x"), -EINVAL);
	assert_int_equal(bpf_gadget_set_param(g, "targ_pid", " 12"), -EINVAL);
	assert_int_equal(bpf_gadget_set_param(g, "targ_pid", ""), -EINVAL);
	assert_int_equal(bpf_gadget_set_param(g, "targ_pid", "4294967296"), -ERANGE);
	assert_non_null(strstr(bpf_gadget_last_error(g), "out of range"));
	assert_int_equal(bpf_gadget_set_param(g, "targ_pid", "99999999999999999999999"), -ERANGE);
	assert_int_equal(bpf_gadget_set_param(g, "targ_u8", "256"), -ERANGE);
	assert_int_equal(bpf_gadget_set_param(g, "targ_small", "-129"), -ERANGE);
	assert_int_equal(bpf_gadget_set_param(g, "targ_small", "128"), -ERANGE);
	assert_int_equal(bpf_gadget_set_param(g, "targ_enabled", "maybe"), -EINVAL);
	assert_non_null(strstr(bpf_gadget_last_error(g), "expected true or false"));
	assert_int_equal(bpf_gadget_set_param(g, "targ_tag", "12345678"), -ERANGE);
	assert_int_equal(bpf_gadget_set_param(g, "targ_mode", "TR_MODE_Z"), -EINVAL);
	assert_non_null(strstr(bpf_gadget_last_error(g), "TR_MODE_A, TR_MODE_B, TR_MODE_C"));
	assert_int_equal(bpf_gadget_set_param(g, "targ_mode", NULL), -EINVAL);
	/* A rejected value leaves the last good one in place. */
	assert_string_equal(bpf_gadget_param_find(g, "targ_u8")->value, "255");

	assert_int_equal(bpf_gadget_load(g), 0);
	assert_int_equal(bpf_gadget_set_param(g, "targ_u8", "1"), -EBUSY);
	assert_int_equal(bpf_gadget_load(g), -EALREADY);
	bpf_gadget_free(g);
}

/* ---- tracers ---- */

static void test_tracer_records(void **state)
{
	struct bpf_gadget *g = open_ok(OBJ("gadget_tracer"));
	struct collected c = {0};
	struct epoll_event ev;
	char comm[16] = {0};
	uint64_t lost = 99;
	int n;

	prctl(PR_GET_NAME, comm);
	set_own_pid(g);
	set_param_ok(g, "targ_magic", "0x5eed5eed");
	set_param_ok(g, "targ_tag", "xyz");
	set_param_ok(g, "targ_mode", "TR_MODE_C");
	bpf_gadget_set_record_fn(g, collect, &c);
	assert_int_equal(bpf_gadget_attach(g), -EINVAL); /* not loaded */
	load_attach_ok(g);
	assert_int_equal(bpf_gadget_attach(g), -EALREADY);
	assert_true(bpf_gadget_poll_fd(g) >= 0);

	trigger(3);
	/*
	 * The runtime set gadget_ringbuf_wakeup_threshold, so the program
	 * submits without wakeups: epoll stays quiet and the timer-driven
	 * consume finds the records.
	 */
	assert_int_equal(epoll_wait(bpf_gadget_poll_fd(g), &ev, 1, 50), 0);
	n = bpf_gadget_consume(g);
	assert_int_equal(n, 3);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.last_size, sizeof(struct tr_event));
	assert_string_equal(c.ds->name, "my_events");
	assert_true(c.last.magic == 0x5eed5eed);
	assert_int_equal(c.last.pid, getpid());
	assert_true(c.last.mntns_id == own_mntns());
	assert_string_equal(c.last.tag, "xyz");
	assert_int_equal(c.last.mode, 7);
	assert_string_equal(c.last.comm, comm);
	assert_true(c.last.timestamp > 0);
	assert_int_equal(bpf_gadget_consume(g), 0);
	assert_int_equal(bpf_gadget_lost(g, c.ds, &lost), 0);
	assert_int_equal(lost, 0);
	bpf_gadget_free(g);
}

static int stop_after_one(const struct bpf_gadget_ds *ds, const void *data, size_t size, void *ctx)
{
	int *seen = ctx;

	(*seen)++;
	return -ECANCELED;
}

static void test_tracer_callback_stops(void **state)
{
	struct bpf_gadget *g = open_ok(OBJ("gadget_tracer"));
	int seen = 0;

	set_own_pid(g);
	bpf_gadget_set_record_fn(g, stop_after_one, &seen);
	load_attach_ok(g);
	trigger(2);
	assert_int_equal(bpf_gadget_consume(g), -ECANCELED);
	assert_int_equal(seen, 1);
	bpf_gadget_set_record_fn(g, NULL, NULL);
	/* The rest is still there and is dropped without a callback. */
	assert_int_equal(bpf_gadget_consume(g), 1);
	bpf_gadget_free(g);
}

static void test_tracer_lost(void **state)
{
	struct bpf_gadget_opts o = opts_with_err();
	struct bpf_gadget *g = NULL;
	struct collected c = {0};
	uint64_t lost = 0;
	int n;

	/* One page of ring: fewer than 4096 / (56 + 8 header) = 64 records fit. */
	o.ringbuf_min_bytes = 4096;
	assert_int_equal(bpf_gadget_open_file(OBJ("gadget_tracer"), &o, &g), 0);
	set_own_pid(g);
	bpf_gadget_set_record_fn(g, collect, &c);
	load_attach_ok(g);
	trigger(200);
	n = bpf_gadget_consume(g);
	assert_true(n >= 32 && n <= 64);
	assert_int_equal(bpf_gadget_lost(g, bpf_gadget_ds_get(g, 0), &lost), 0);
	/* Every record is either delivered or counted as lost. */
	assert_int_equal(lost + (uint64_t)n, 200);
	assert_int_equal(bpf_gadget_lost(g, NULL, &lost), -EINVAL);
	bpf_gadget_free(g);
}

static void test_perf_tracer_and_section_mapiter(void **state)
{
	struct bpf_gadget *g = open_ok(OBJ("gadget_perf"));
	const struct bpf_gadget_ds *tracer = NULL;
	struct collected c = {0};
	struct epoll_event ev;
	uint64_t lost = 1;

	for (size_t i = 0; i < bpf_gadget_ds_count(g); i++)
		if (bpf_gadget_ds_get(g, i)->type == BPF_GADGET_DS_TRACER)
			tracer = bpf_gadget_ds_get(g, i);
	set_own_pid(g);
	bpf_gadget_set_record_fn(g, collect, &c);
	/* No mount namespace filter map in this gadget. */
	assert_int_equal(bpf_gadget_mntns_filter_enable(g), -EOPNOTSUPP);
	load_attach_ok(g);
	trigger(2);
	/* Perf buffers wake up at a watermark, not per sample: a drain finds them. */
	assert_int_equal(epoll_wait(bpf_gadget_poll_fd(g), &ev, 1, 50), 0);
	assert_int_equal(bpf_gadget_consume(g), 2);
	assert_true(c.ds == tracer);
	/* Perf samples are padded to 8 bytes after their 4-byte size. */
	assert_true(c.last_size >= sizeof(struct pf_event));
	assert_true(c.last_pf.magic == 0xfeedf00d);
	assert_int_equal(c.last_pf.pid, getpid());
	assert_int_equal(bpf_gadget_lost(g, tracer, &lost), 0);
	assert_int_equal(lost, 0);
	bpf_gadget_free(g);
}

/* ---- mount namespace filter ---- */

static void test_mntns_filter(void **state)
{
	struct bpf_gadget *g = open_ok(OBJ("gadget_tracer"));
	struct collected c = {0};

	set_own_pid(g);
	bpf_gadget_set_record_fn(g, collect, &c);
	assert_int_equal(bpf_gadget_mntns_filter_fd(g), -1);
	assert_int_equal(bpf_gadget_mntns_filter_add(g, 1), -EINVAL);
	assert_int_equal(bpf_gadget_mntns_filter_enable(g), 0);
	assert_true(bpf_gadget_mntns_filter_fd(g) >= 0);
	load_attach_ok(g);
	assert_int_equal(bpf_gadget_mntns_filter_enable(g), -EBUSY);

	/* Empty filter: nothing passes. */
	trigger(2);
	assert_int_equal(bpf_gadget_consume(g), 0);
	/* Our namespace added after load: it passes. */
	assert_int_equal(bpf_gadget_mntns_filter_add(g, own_mntns()), 0);
	trigger(2);
	assert_int_equal(bpf_gadget_consume(g), 2);
	assert_true(c.last.mntns_id == own_mntns());
	/* Another namespace does not open the gate for ours. */
	assert_int_equal(bpf_gadget_mntns_filter_remove(g, own_mntns()), 0);
	assert_int_equal(bpf_gadget_mntns_filter_add(g, 4026531840ULL + 12345), 0);
	trigger(2);
	assert_int_equal(bpf_gadget_consume(g), 0);
	/* Removing twice is fine. */
	assert_int_equal(bpf_gadget_mntns_filter_remove(g, own_mntns()), 0);
	bpf_gadget_free(g);
}

/* ---- map iterators and iter programs ---- */

struct batch_seen {
	size_t n;
	size_t record_size;
	uint64_t own_calls;
	bool found_self;
	char self_comm[16];
};

static int mapiter_batch(const struct bpf_gadget_ds *ds, const void *const *records, size_t n,
			 size_t record_size, void *ctx)
{
	struct batch_seen *b = ctx;

	b->n = n;
	b->record_size = record_size;
	for (size_t i = 0; i < n; i++) {
		const struct mi_record *r = records[i];

		if (r->pid == (uint32_t)getpid())
			b->own_calls = r->calls;
	}
	return 0;
}

static void test_mapiter_fetch(void **state)
{
	struct bpf_gadget *g = open_ok(OBJ("gadget_mapiter"));
	const struct bpf_gadget_ds *ds = bpf_gadget_ds_get(g, 0);
	struct batch_seen b = {0};

	set_own_pid(g);
	assert_int_equal(bpf_gadget_mapiter_fetch(g, ds, false, mapiter_batch, &b), -EINVAL);
	load_attach_ok(g);
	trigger(3);
	assert_int_equal(bpf_gadget_mapiter_fetch(g, ds, false, mapiter_batch, &b), 0);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.record_size, sizeof(struct mi_record));
	assert_int_equal(b.own_calls, 3);
	trigger(2);
	memset(&b, 0, sizeof(b));
	assert_int_equal(bpf_gadget_mapiter_fetch(g, ds, true, mapiter_batch, &b), 0);
	assert_int_equal(b.own_calls, 5);
	/* Cleared: the next fetch starts from zero. */
	memset(&b, 0, sizeof(b));
	assert_int_equal(bpf_gadget_mapiter_fetch(g, ds, true, mapiter_batch, &b), 0);
	assert_int_equal(b.n, 0);
	trigger(1);
	assert_int_equal(bpf_gadget_mapiter_fetch(g, ds, false, mapiter_batch, &b), 0);
	assert_int_equal(b.own_calls, 1);
	/* A tracer is not a map iterator. */
	bpf_gadget_free(g);
}

static int iter_batch(const struct bpf_gadget_ds *ds, const void *const *records, size_t n,
		      size_t record_size, void *ctx)
{
	struct batch_seen *b = ctx;

	b->n = n;
	b->record_size = record_size;
	for (size_t i = 0; i < n; i++) {
		const struct it_task *t = records[i];

		if (t->pid == (uint32_t)getpid() && t->ppid == (uint32_t)getppid()) {
			b->found_self = true;
			memcpy(b->self_comm, t->comm, sizeof(b->self_comm));
		}
	}
	return 0;
}

static void test_iter_run(void **state)
{
	struct bpf_gadget *g = open_ok(OBJ("gadget_iter"));
	const struct bpf_gadget_ds *ds = bpf_gadget_ds_get(g, 0);
	struct batch_seen b = {0};
	char comm[16] = {0};

	prctl(PR_GET_NAME, comm);
	load_attach_ok(g);
	for (int round = 0; round < 2; round++) {
		memset(&b, 0, sizeof(b));
		assert_int_equal(bpf_gadget_iter_run(g, ds, iter_batch, &b), 0);
		assert_int_equal(b.record_size, sizeof(struct it_task));
		assert_true(b.n > 2);
		assert_true(b.found_self);
		assert_string_equal(b.self_comm, comm);
	}
	/* Wrong kind of data source, or one of another gadget. */
	assert_int_equal(bpf_gadget_mapiter_fetch(g, ds, false, iter_batch, &b), -EINVAL);
	assert_int_equal(bpf_gadget_iter_run(g, NULL, iter_batch, &b), -EINVAL);
	bpf_gadget_free(g);
}

/* ---- bad input ---- */

static void expect_open_error(const char *path, int want, const char *text)
{
	struct bpf_gadget_opts o = opts_with_err();
	struct bpf_gadget *g = NULL;
	int err = bpf_gadget_open_file(path, &o, &g);

	if (err != want || !strstr(errbuf, text))
		fail_msg("open %s: %d '%s', want %d '%s'", path, err, errbuf, want, text);
	assert_null(g);
	assert_null(strchr(errbuf, '\n'));
}

static void test_not_elf(void **state)
{
	char path[] = "/tmp/test_bpf_gadget_XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(write_file(path, "hello, world\n", 13), 0);
	expect_open_error(path, -EINVAL, "not an ELF file");
	assert_int_equal(write_file(path, "", 0), 0);
	expect_open_error(path, -EINVAL, "not an ELF file");
	unlink(path);
	expect_open_error("/nonexistent/gadget.o", -ENOENT, "cannot read /nonexistent/gadget.o");
	expect_open_error("/tmp", -EISDIR, "cannot read /tmp");
	/* An x86 ELF is not a BPF object. */
	expect_open_error("/proc/self/exe", -EINVAL, "not a");
}

static void test_no_btf_and_no_ds(void **state)
{
	char path[] = "/tmp/test_bpf_gadget_XXXXXX";
	size_t len;
	char *elf = read_whole(OBJ("gadget_nods"), &len);
	Elf64_Shdr *btf = find_section(elf, ".BTF");
	Elf64_Shdr *ext = find_section(elf, ".BTF.ext");
	Elf64_Ehdr *eh = (Elf64_Ehdr *)elf;
	char *names = elf + ((Elf64_Shdr *)(elf + eh->e_shoff))[eh->e_shstrndx].sh_offset;
	int fd;

	expect_open_error(
		OBJ("gadget_nods"), -ENOENT,
		"defines no data source: use GADGET_TRACER, GADGET_MAPITER or GADGET_ITER");

	/* Renaming the BTF sections is what stripping them looks like to libbpf. */
	assert_non_null(btf);
	names[btf->sh_name + 1] = 'X';
	if (ext)
		names[ext->sh_name + 1] = 'X';
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(write_file(path, elf, len), 0);
	expect_open_error(path, -EINVAL, "has no BTF: compile with clang -g");
	unlink(path);
	free(elf);
}

static void test_corrupt_inputs(void **state)
{
	struct bpf_gadget_opts o = opts_with_err();
	struct bpf_gadget *g = NULL;
	size_t len;
	char *elf = read_whole(OBJ("gadget_tracer"), &len);
	char *copy = malloc(len);
	Elf64_Shdr *btf = find_section(elf, ".BTF");
	static const char junk[1] = {0};
	int err;

	assert_non_null(copy);
	/* Every truncation of a real object is refused cleanly. */
	for (size_t cut = 0; cut < len; cut += (cut < 256 ? 1 : 97)) {
		err = bpf_gadget_open_mem(elf, cut, &o, &g);
		assert_true(err < 0);
		assert_null(g);
		assert_true(errbuf[0] != '\0');
	}

	/* A BTF header with the wrong magic. */
	memcpy(copy, elf, len);
	copy[btf->sh_offset] ^= 0xff;
	err = bpf_gadget_open_mem(copy, len, &o, &g);
	assert_true(err < 0);
	if (!strstr(errbuf, "malformed BTF"))
		fail_msg("corrupt BTF: %s", errbuf);

	/* A BTF string section offset past the end. */
	memcpy(copy, elf, len);
	memset(copy + btf->sh_offset + 16, 0x7f, 4);
	err = bpf_gadget_open_mem(copy, len, &o, &g);
	assert_true(err < 0);
	assert_non_null(strstr(errbuf, "BTF"));

	/* Section table past the end of the file. */
	memcpy(copy, elf, len);
	((Elf64_Ehdr *)copy)->e_shoff = len;
	err = bpf_gadget_open_mem(copy, len, &o, &g);
	assert_int_equal(err, -EINVAL);
	assert_non_null(strstr(errbuf, "corrupt ELF"));

	/* Too big is refused before anything is read. */
	err = bpf_gadget_open_mem(junk, (size_t)BPF_GADGET_MAX_ELF_BYTES + 1, &o, &g);
	assert_int_equal(err, -E2BIG);
	assert_int_equal(bpf_gadget_open_mem(NULL, 10, &o, &g), -EINVAL);
	assert_int_equal(bpf_gadget_open_mem(elf, len, &o, NULL), -EINVAL);

	/* Without opts at all, errors still come back as codes. */
	assert_int_equal(bpf_gadget_open_mem("xx", 2, NULL, &g), -EINVAL);
	free(copy);
	free(elf);
	assert_null(bpf_gadget_free(NULL));
}

/* ---- attaching by section ---- */

struct hooks_seen {
	unsigned int mask;
	size_t n;
};

static int hook_record(const struct bpf_gadget_ds *ds, const void *data, size_t size, void *ctx)
{
	struct hooks_seen *h = ctx;
	const uint32_t *rec = data;

	assert_int_equal(size, 8);
	if (rec[1] == (uint32_t)getpid()) {
		h->mask |= 1u << rec[0];
		h->n++;
	}
	return 0;
}

static void test_attach_by_section(void **state)
{
	struct bpf_gadget *g = open_ok(OBJ("gadget_hooks_ok"));
	struct hooks_seen h = {0};

	set_own_pid(g);
	bpf_gadget_set_record_fn(g, hook_record, &h);
	/* The socket filter, the target-less uprobe and the iterator are skipped. */
	load_attach_ok(g);
	trigger(1);
	assert_int_equal(bpf_gadget_consume(g), 3);
	/* tracepoint (1), raw tracepoint (2) and BTF tracepoint (3) all ran. */
	assert_int_equal(h.mask, (1u << 1) | (1u << 2) | (1u << 3));
	assert_int_equal(h.n, 3);
	bpf_gadget_free(g);
}

/* ---- hooks this kernel lacks ---- */

static void expect_load_error(const char *obj, const char *text)
{
	struct bpf_gadget *g = open_ok(obj);
	int err = bpf_gadget_load(g);

	assert_true(err < 0);
	if (!strstr(bpf_gadget_last_error(g), text))
		fail_msg("load %s: '%s', want '%s'", obj, bpf_gadget_last_error(g), text);
	assert_null(strchr(bpf_gadget_last_error(g), '\n'));
	bpf_gadget_free(g);
}

static void expect_attach_error(const char *obj, const char *text)
{
	struct bpf_gadget *g = open_ok(obj);
	int err = bpf_gadget_load(g);

	if (err)
		fail_msg("load %s: %s", obj, bpf_gadget_last_error(g));
	err = bpf_gadget_attach(g);
	assert_true(err < 0);
	if (!strstr(bpf_gadget_last_error(g), text))
		fail_msg("attach %s: '%s', want '%s'", obj, bpf_gadget_last_error(g), text);
	/* Nothing stays attached after a failure. */
	assert_int_equal(bpf_gadget_poll_fd(g), -1);
	bpf_gadget_free(g);
}

static bool kprobes_exist(void)
{
	return access("/sys/bus/event_source/devices/kprobe/type", F_OK) == 0 ||
	       access("/sys/kernel/tracing/kprobe_events", F_OK) == 0;
}

static void test_missing_hooks(void **state)
{
	if (!kprobes_exist())
		expect_attach_error(
			OBJ("gadget_hook_kprobe"),
			"program 'ig_hook_kprobe': cannot attach kprobe/do_sys_openat2: "
			"kprobes are not available on this kernel");
	expect_attach_error(OBJ("gadget_hook_badtp"),
			    "program 'ig_hook_badtp': cannot attach "
			    "tracepoint/syscalls/sys_enter_foo: tracepoint syscalls/sys_enter_foo "
			    "does not exist");
	expect_attach_error(OBJ("gadget_hook_rawtp"),
			    "raw tracepoint no_such_raw_tp does not exist");
	expect_load_error(OBJ("gadget_hook_fentrynx"),
			  "program 'ig_hook_fentrynx': hook fentry/no_such_function_xyz does not "
			  "exist on this kernel");
	expect_load_error(OBJ("gadget_badprog"),
			  "program 'bp_getppid' (tracepoint/syscalls/sys_enter_getppid) was "
			  "rejected by the verifier: R0 invalid mem access");
}

/* On a kernel without kprobes, a kprobe beside working programs is left out. */
static void test_kprobe_extra_left_out(void **state)
{
	struct bpf_gadget *g;

	if (kprobes_exist())
		skip();
	g = open_ok(OBJ("gadget_hook_kprobe_extra"));
	load_attach_ok(g);
	assert_non_null(bpf_gadget_attach_warning(g));
	assert_non_null(strstr(bpf_gadget_attach_warning(g),
			       "program 'ig_hook_extra': cannot attach kprobe/do_sys_openat2"));
	bpf_gadget_free(g);
}

/*
 * A "socket1" program loads as a socket filter and, attached in a network
 * namespace, sees its packets with that namespace's id in skb->cb[0].
 */
static void test_socket_filter_in_netns(void **state)
{
	struct sockaddr_in nine = {.sin_family = AF_INET, .sin_port = htons(9)};
	struct collected c = {0};
	struct stat st;
	struct bpf_gadget *g;
	int fd;

	nine.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g = open_ok(OBJ("gadget_socket1"));
	bpf_gadget_set_record_fn(g, collect, &c);
	assert_int_equal(bpf_gadget_socket_prog_count(g), 1);
	load_attach_ok(g);
	assert_int_equal(stat("/proc/self/ns/net", &st), 0);
	assert_int_equal(bpf_gadget_netns_attach(g, st.st_ino, "/proc/self/ns/net"), 0);
	/* a second user of the same namespace shares the attachment */
	assert_int_equal(bpf_gadget_netns_attach(g, st.st_ino, "/proc/self/ns/net"), 0);
	assert_int_equal(bpf_gadget_netns_count(g), 1);
	assert_int_equal(bpf_gadget_netns_attach(g, 1, "/proc/no/such/ns"), -ENOENT);

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(sendto(fd, "ping", 4, 0, (struct sockaddr *)&nine, sizeof(nine)), 4);
	close(fd);
	/* loopback: seen leaving and arriving */
	assert_true(bpf_gadget_consume(g) >= 1);
	assert_int_equal(c.last_sf.netns, (uint32_t)st.st_ino);
	assert_int_equal(c.last_sf.len, 14 + 20 + 8 + 4);

	assert_int_equal(bpf_gadget_netns_detach(g, st.st_ino), 0);
	assert_int_equal(bpf_gadget_netns_count(g), 1);
	assert_int_equal(bpf_gadget_netns_detach(g, st.st_ino), 0);
	assert_int_equal(bpf_gadget_netns_count(g), 0);
	assert_int_equal(bpf_gadget_netns_detach(g, st.st_ino), -ENOENT);
	bpf_gadget_free(g);
}

static void test_fentry_unsupported(void **state)
{
	struct bpf_gadget *g = open_ok(OBJ("gadget_hook_fentry"));
	int err = bpf_gadget_load(g);

	if (err == 0) {
		/* This kernel has fentry: nothing to explain. */
		bpf_gadget_free(g);
		skip();
	}
	assert_non_null(strstr(bpf_gadget_last_error(g),
			       "program 'ig_hook_fentry': hook fentry/do_sys_openat2 cannot be "
			       "loaded on this kernel (fentry/fexit unsupported: "));
	bpf_gadget_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_discover_tracer),
		cmocka_unit_test(test_discover_section_forms),
		cmocka_unit_test(test_discover_mapiter_and_iter),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_tracer_records),
		cmocka_unit_test(test_tracer_callback_stops),
		cmocka_unit_test(test_tracer_lost),
		cmocka_unit_test(test_perf_tracer_and_section_mapiter),
		cmocka_unit_test(test_mntns_filter),
		cmocka_unit_test(test_mapiter_fetch),
		cmocka_unit_test(test_iter_run),
		cmocka_unit_test(test_not_elf),
		cmocka_unit_test(test_no_btf_and_no_ds),
		cmocka_unit_test(test_corrupt_inputs),
		cmocka_unit_test(test_attach_by_section),
		cmocka_unit_test(test_missing_hooks),
		cmocka_unit_test(test_fentry_unsupported),
		cmocka_unit_test(test_kprobe_extra_left_out),
		cmocka_unit_test(test_socket_filter_in_netns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
