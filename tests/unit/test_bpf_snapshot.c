// SPDX-License-Identifier: Apache-2.0
/*
 * Map snapshots (bpf/snapshot.c) against real BPF hash maps: the batch
 * syscalls and the get_next_key walk must give the same records, laid out
 * as key bytes then the value at value_offset, and clearing must empty the
 * map.  Runs as root.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/bpf.h>

#include "bpf/snapshot.h"

#define N_ENTRIES 100

struct key {
	uint32_t id;
	uint32_t a;
	uint32_t b;
};

/* A record: 12 key bytes, 4 bytes of padding, the 8-byte value at 16. */
struct record {
	struct key key;
	uint32_t pad;
	uint64_t value;
};

static int make_map(uint32_t max_entries)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "snap_test", sizeof(struct key),
				sizeof(uint64_t), max_entries, NULL);

	assert_true(fd >= 0);
	for (uint32_t i = 0; i < N_ENTRIES && i < max_entries; i++) {
		struct key k = {.id = i, .a = i * 3, .b = ~i};
		uint64_t v = (uint64_t)i * 1000 + 7;

		assert_int_equal(bpf_map_update_elem(fd, &k, &v, BPF_ANY), 0);
	}
	return fd;
}

static size_t count_entries(int fd)
{
	struct key k, next;
	size_t n = 0;

	while (bpf_map_get_next_key(fd, n ? &k : NULL, &next) == 0) {
		k = next;
		n++;
	}
	return n;
}

static void check_records(struct bpf_snapshot *s, size_t want)
{
	bool seen[N_ENTRIES] = {false};

	assert_int_equal(s->n, want);
	assert_int_equal(bpf_snapshot_index(s), 0);
	for (size_t i = 0; i < s->n; i++) {
		const struct record *r = s->records[i];

		assert_true(r->key.id < N_ENTRIES);
		assert_false(seen[r->key.id]);
		seen[r->key.id] = true;
		assert_int_equal(r->key.a, r->key.id * 3);
		assert_int_equal(r->key.b, ~r->key.id);
		assert_int_equal(r->pad, 0);
		assert_true(r->value == (uint64_t)r->key.id * 1000 + 7);
	}
}

static void run(bool no_batch, bool clear)
{
	struct bpf_snapshot_map_opts o = {
		.key_size = sizeof(struct key),
		.value_size = sizeof(uint64_t),
		.value_offset = offsetof(struct record, value),
		.max_entries = 1024,
		.clear = clear,
		.no_batch = no_batch,
	};
	struct bpf_snapshot s;
	int fd = make_map(1024);

	bpf_snapshot_init(&s, sizeof(struct record), 0);
	assert_int_equal(bpf_snapshot_map(&s, fd, &o), N_ENTRIES);
	check_records(&s, N_ENTRIES);
	assert_int_equal(count_entries(fd), clear ? 0 : N_ENTRIES);
	/* A second snapshot appends to the same buffer. */
	assert_int_equal(bpf_snapshot_map(&s, fd, &o), clear ? 0 : N_ENTRIES);
	bpf_snapshot_done(&s);
	assert_null(s.data);
	close(fd);
}

static void test_batch(void **state)
{
	run(false, false);
}

static void test_batch_clear(void **state)
{
	run(false, true);
}

static void test_walk(void **state)
{
	run(true, false);
}

static void test_walk_clear(void **state)
{
	run(true, true);
}

static void test_limits(void **state)
{
	struct bpf_snapshot_map_opts o = {
		.key_size = sizeof(struct key),
		.value_size = sizeof(uint64_t),
		.value_offset = offsetof(struct record, value),
		.max_entries = 1024,
	};
	struct bpf_snapshot s;
	int fd = make_map(1024), r;

	/*
	 * Room for 10 records: reads stop there rather than overflowing.  A
	 * batch read takes whole hash buckets, so it may stop one bucket short
	 * of the room (where the keys fall depends on the map's random hash
	 * seed); walking the keys fills it exactly.
	 */
	bpf_snapshot_init(&s, sizeof(struct record), 10 * sizeof(struct record));
	r = bpf_snapshot_map(&s, fd, &o);
	assert_true(r > 0 && r <= 10);
	assert_int_equal(s.n, r);
	bpf_snapshot_done(&s);
	o.no_batch = true;
	bpf_snapshot_init(&s, sizeof(struct record), 10 * sizeof(struct record));
	assert_int_equal(bpf_snapshot_map(&s, fd, &o), 10);
	assert_int_equal(s.n, 10);
	/* Full: nothing more fits. */
	assert_int_equal(bpf_snapshot_map(&s, fd, &o), -E2BIG);
	bpf_snapshot_done(&s);
	o.no_batch = false;

	/* Layouts that do not hold the value are refused. */
	bpf_snapshot_init(&s, 8, 0);
	assert_int_equal(bpf_snapshot_map(&s, fd, &o), -EINVAL);
	o.value_offset = 4;
	bpf_snapshot_init(&s, sizeof(struct record), 0);
	assert_int_equal(bpf_snapshot_map(&s, fd, &o), -EINVAL);
	assert_int_equal(bpf_snapshot_map(&s, -1, &o), -EINVAL);
	assert_true(bpf_snapshot_iter(&s, -1) < 0);
	assert_int_equal(bpf_snapshot_index(&s), 0);
	bpf_snapshot_done(&s);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch),  cmocka_unit_test(test_batch_clear),
		cmocka_unit_test(test_walk),   cmocka_unit_test(test_walk_clear),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
