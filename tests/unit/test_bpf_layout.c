// SPDX-License-Identifier: Apache-2.0
/*
 * Record layouts from BTF (bpf/layout.c).
 *
 * The main case is struct lt_event in tests/data/bpf/layout_types.bpf.c:
 * this file declares the same struct with host types, so the expected
 * offsets come from offsetof() and the expected values from a record the
 * compiler lays out.  BTF the compiler cannot produce (ENUM64 with clang 14,
 * loops, types over the limits) is built here with libbpf's BTF writer.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "bpf/layout.h"

struct host_process {
	char comm[16];
	uint32_t pid;
	struct {
		uint32_t uid;
		uint32_t gid;
	} creds;
	uint64_t mntns_id;
};

struct host_l4endpoint {
	union {
		uint8_t v6[16];
		uint32_t v4;
	} addr_raw;
	uint16_t port;
	uint16_t proto_raw;
	uint8_t version;
};

/* Mirror of struct lt_event: same member types, so the same layout. */
struct host_event {
	uint64_t timestamp;
	struct host_process proc;
	uint32_t owner;
	uint32_t error_raw;
	uint32_t op;
	int32_t sign;
	union {
		uint32_t flags;
		uint8_t flag_bytes[4];
	};
	struct {
		uint16_t inner_a;
		uint16_t inner_b;
	};
	uint32_t bf_a : 3, bf_b : 5, bf_c : 24;
	bool ok;
	char name[16];
	uint16_t ports[4];
	struct host_l4endpoint dst;
	int8_t small;
	int64_t big_neg;
	union {
		uint32_t a;
		uint64_t b;
	} named_union;
	struct {
		int x;
	} pairs[2];
	void *ptr;
	char tail[0];
};

static struct btf *types_btf;

static int setup(void **state)
{
	types_btf = btf__parse(TEST_BPF_DIR "/layout_types.bpf.o", NULL);
	return types_btf ? 0 : -1;
}

static int teardown(void **state)
{
	btf__free(types_btf);
	return 0;
}

static struct bpf_layout *event_layout(void)
{
	int id = btf__find_by_name_kind(types_btf, "lt_event", BTF_KIND_STRUCT);
	struct bpf_layout *l = NULL;

	assert_true(id > 0);
	assert_int_equal(bpf_layout_from_btf(types_btf, id, &l), 0);
	assert_non_null(l);
	return l;
}

static const struct bpf_layout_field *field(const struct bpf_layout *l, const char *name)
{
	const struct bpf_layout_field *f = bpf_layout_find(l, name);

	if (!f)
		fail_msg("no field %s", name);
	return f;
}

static void check(const struct bpf_layout *l, const char *name, enum bpf_layout_kind kind,
		  size_t offset, size_t size, enum bpf_layout_special special)
{
	const struct bpf_layout_field *f = field(l, name);

	if (f->kind != kind || f->offset != offset || f->size != size || f->special != special)
		fail_msg("%s: kind %d offset %u size %u special %s, want kind %d offset %zu size "
			 "%zu special %s",
			 name, f->kind, f->offset, f->size, bpf_layout_special_name(f->special),
			 kind, offset, size, bpf_layout_special_name(special));
}

static void test_offsets_and_kinds(void **state)
{
	struct bpf_layout *l = event_layout();

	assert_string_equal(l->name, "lt_event");
	assert_int_equal(l->size, sizeof(struct host_event));
	check(l, "timestamp", BPF_LAYOUT_UINT, offsetof(struct host_event, timestamp), 8,
	      BPF_LAYOUT_SPECIAL_TIMESTAMP);
	check(l, "proc", BPF_LAYOUT_STRUCT, offsetof(struct host_event, proc),
	      sizeof(struct host_process), BPF_LAYOUT_SPECIAL_PROCESS);
	check(l, "proc.comm", BPF_LAYOUT_STRING, offsetof(struct host_event, proc.comm), 16,
	      BPF_LAYOUT_SPECIAL_COMM);
	check(l, "proc.pid", BPF_LAYOUT_UINT, offsetof(struct host_event, proc.pid), 4,
	      BPF_LAYOUT_SPECIAL_PID);
	check(l, "proc.creds", BPF_LAYOUT_STRUCT, offsetof(struct host_event, proc.creds), 8,
	      BPF_LAYOUT_SPECIAL_NONE);
	check(l, "proc.creds.uid", BPF_LAYOUT_UINT, offsetof(struct host_event, proc.creds.uid), 4,
	      BPF_LAYOUT_SPECIAL_UID);
	check(l, "proc.creds.gid", BPF_LAYOUT_UINT, offsetof(struct host_event, proc.creds.gid), 4,
	      BPF_LAYOUT_SPECIAL_GID);
	check(l, "proc.mntns_id", BPF_LAYOUT_UINT, offsetof(struct host_event, proc.mntns_id), 8,
	      BPF_LAYOUT_SPECIAL_MNTNS_ID);
	/* typedef owner_uid -> gadget_uid -> __u32: still a uid */
	check(l, "owner", BPF_LAYOUT_UINT, offsetof(struct host_event, owner), 4,
	      BPF_LAYOUT_SPECIAL_UID);
	check(l, "error_raw", BPF_LAYOUT_UINT, offsetof(struct host_event, error_raw), 4,
	      BPF_LAYOUT_SPECIAL_ERRNO);
	check(l, "op", BPF_LAYOUT_ENUM, offsetof(struct host_event, op), 4,
	      BPF_LAYOUT_SPECIAL_NONE);
	/* Anonymous union and struct members belong to the record itself. */
	check(l, "flags", BPF_LAYOUT_UINT, offsetof(struct host_event, flags), 4,
	      BPF_LAYOUT_SPECIAL_NONE);
	check(l, "flag_bytes", BPF_LAYOUT_STRING, offsetof(struct host_event, flag_bytes), 4,
	      BPF_LAYOUT_SPECIAL_NONE);
	check(l, "inner_a", BPF_LAYOUT_UINT, offsetof(struct host_event, inner_a), 2,
	      BPF_LAYOUT_SPECIAL_NONE);
	check(l, "inner_b", BPF_LAYOUT_UINT, offsetof(struct host_event, inner_b), 2,
	      BPF_LAYOUT_SPECIAL_NONE);
	check(l, "ok", BPF_LAYOUT_BOOL, offsetof(struct host_event, ok), 1,
	      BPF_LAYOUT_SPECIAL_NONE);
	check(l, "name", BPF_LAYOUT_STRING, offsetof(struct host_event, name), 16,
	      BPF_LAYOUT_SPECIAL_NONE);
	check(l, "ports", BPF_LAYOUT_ARRAY, offsetof(struct host_event, ports), 8,
	      BPF_LAYOUT_SPECIAL_NONE);
	check(l, "dst", BPF_LAYOUT_STRUCT, offsetof(struct host_event, dst),
	      sizeof(struct host_l4endpoint), BPF_LAYOUT_SPECIAL_L4ENDPOINT);
	check(l, "dst.addr_raw", BPF_LAYOUT_BYTES, offsetof(struct host_event, dst.addr_raw), 16,
	      BPF_LAYOUT_SPECIAL_IP_ADDR);
	check(l, "dst.port", BPF_LAYOUT_UINT, offsetof(struct host_event, dst.port), 2,
	      BPF_LAYOUT_SPECIAL_NONE);
	check(l, "small", BPF_LAYOUT_INT, offsetof(struct host_event, small), 1,
	      BPF_LAYOUT_SPECIAL_NONE);
	check(l, "big_neg", BPF_LAYOUT_INT, offsetof(struct host_event, big_neg), 8,
	      BPF_LAYOUT_SPECIAL_NONE);
	check(l, "named_union", BPF_LAYOUT_BYTES, offsetof(struct host_event, named_union), 8,
	      BPF_LAYOUT_SPECIAL_NONE);
	check(l, "pairs", BPF_LAYOUT_BYTES, offsetof(struct host_event, pairs), 8,
	      BPF_LAYOUT_SPECIAL_NONE);
	check(l, "ptr", BPF_LAYOUT_UINT, offsetof(struct host_event, ptr), 8,
	      BPF_LAYOUT_SPECIAL_NONE);
	/* The flexible array has no bytes: it is not a field. */
	assert_null(bpf_layout_find(l, "tail"));
	/* Union members inside a named union are not fields either. */
	assert_null(bpf_layout_find(l, "named_union.a"));
	assert_null(bpf_layout_find(l, "a"));
	bpf_layout_free(l);
}

static void test_tree_and_names(void **state)
{
	struct bpf_layout *l = event_layout();
	const struct bpf_layout_field *proc = field(l, "proc");
	const struct bpf_layout_field *creds = field(l, "proc.creds");
	const struct bpf_layout_field *uid = field(l, "proc.creds.uid");
	const struct bpf_layout_field *ports = field(l, "ports");
	const struct bpf_layout_field *owner = field(l, "owner");
	int proc_idx = (int)(proc - l->fields);
	int creds_idx = (int)(creds - l->fields);

	/* Pre-order: a struct comes right before its first member. */
	assert_string_equal(l->fields[0].full_name, "timestamp");
	assert_int_equal(proc_idx, 1);
	assert_string_equal(l->fields[proc_idx + 1].full_name, "proc.comm");
	assert_int_equal(proc->parent, -1);
	assert_int_equal(proc->depth, 0);
	assert_int_equal(creds->parent, proc_idx);
	assert_int_equal(creds->depth, 1);
	assert_int_equal(uid->parent, creds_idx);
	assert_int_equal(uid->depth, 2);
	assert_string_equal(uid->name, "uid");
	assert_string_equal(uid->type_name, "gadget_uid");
	assert_string_equal(owner->type_name, "owner_uid");
	assert_string_equal(proc->type_name, "struct gadget_process");
	assert_string_equal(field(l, "proc.comm")->type_name, "gadget_comm[16]");
	assert_string_equal(field(l, "op")->type_name, "enum lt_op");
	assert_string_equal(field(l, "flags")->full_name, "flags");
	assert_int_equal(field(l, "flags")->parent, -1);
	assert_int_equal(ports->elem_kind, BPF_LAYOUT_UINT);
	assert_int_equal(ports->elem_size, 2);
	assert_int_equal(ports->count, 4);
	assert_int_equal(field(l, "name")->count, 0);
	bpf_layout_free(l);
}

static void test_enums(void **state)
{
	struct bpf_layout *l = event_layout();
	const struct bpf_layout_field *op = field(l, "op");
	const struct bpf_layout_field *sign = field(l, "sign");

	assert_false(op->enum_signed);
	assert_int_equal(op->n_enum_vals, 3);
	assert_string_equal(op->enum_vals[0].name, "LT_OP_READ");
	assert_int_equal(op->enum_vals[0].value, 1);
	assert_string_equal(op->enum_vals[2].name, "LT_OP_MAX");
	assert_int_equal(op->enum_vals[2].value, 0x7fffffff);
	assert_int_equal(sign->n_enum_vals, 2);
	assert_string_equal(sign->enum_vals[0].name, "LT_SIGN_NEG");
	/*
	 * clang < 15 does not mark signed enums (BTF kflag), so -1 may read as
	 * 0xffffffff; what matters is that values and records agree.
	 */
	if (sign->enum_signed)
		assert_int_equal(sign->enum_vals[0].value, -1);
	else
		assert_int_equal(sign->enum_vals[0].value, 0xffffffffLL);
	bpf_layout_free(l);
}

static void test_read_values(void **state)
{
	struct bpf_layout *l = event_layout();
	struct host_event e;

	memset(&e, 0, sizeof(e));
	e.bf_a = 5;
	e.bf_b = 17;
	e.bf_c = 0xabcdef;
	e.small = -5;
	e.big_neg = -1234567890123LL;
	e.sign = -1;
	e.ok = true;
	e.proc.creds.uid = 1000;
	e.ports[0] = 0xbeef;
	assert_int_equal(field(l, "bf_a")->bit_size, 3);
	assert_int_equal(field(l, "bf_b")->bit_size, 5);
	assert_int_equal(field(l, "bf_c")->bit_size, 24);
	assert_int_equal(field(l, "bf_a")->offset, 72);
	assert_int_equal(bpf_layout_read_u64(field(l, "bf_a"), &e), 5);
	assert_int_equal(bpf_layout_read_u64(field(l, "bf_b"), &e), 17);
	assert_int_equal(bpf_layout_read_u64(field(l, "bf_c"), &e), 0xabcdef);
	assert_int_equal(bpf_layout_read_i64(field(l, "small"), &e), -5);
	assert_int_equal(bpf_layout_read_u64(field(l, "small"), &e), 0xfb);
	assert_true(bpf_layout_read_i64(field(l, "big_neg"), &e) == -1234567890123LL);
	assert_int_equal(bpf_layout_read_i64(field(l, "sign"), &e),
			 field(l, "sign")->enum_vals[0].value);
	assert_int_equal(bpf_layout_read_u64(field(l, "ok"), &e), 1);
	assert_int_equal(bpf_layout_read_u64(field(l, "proc.creds.uid"), &e), 1000);
	/* Unsigned stays unsigned. */
	e.proc.pid = 0xffffffffu;
	assert_true(bpf_layout_read_i64(field(l, "proc.pid"), &e) == 0xffffffffLL);
	bpf_layout_free(l);
}

static void test_typedef_and_bad_ids(void **state)
{
	struct btf *btf = btf__new_empty();
	struct bpf_layout *l = NULL;
	int u32, st, td;

	u32 = btf__add_int(btf, "u32", 4, 0);
	st = btf__add_struct(btf, "pair", 8);
	btf__add_field(btf, "a", u32, 0, 0);
	btf__add_field(btf, "b", u32, 32, 0);
	td = btf__add_typedef(btf, "pair_t", st);
	assert_int_equal(bpf_layout_from_btf(btf, td, &l), 0);
	assert_string_equal(l->name, "pair");
	assert_int_equal(l->n_fields, 2);
	assert_int_equal(field(l, "b")->offset, 4);
	l = bpf_layout_free(l);
	assert_null(l);
	/* Not a struct, unknown id, NULL: errors, not crashes. */
	assert_int_equal(bpf_layout_from_btf(btf, u32, &l), -EINVAL);
	assert_int_equal(bpf_layout_from_btf(btf, 9999, &l), -EINVAL);
	assert_int_equal(bpf_layout_from_btf(NULL, st, &l), -EINVAL);
	assert_null(bpf_layout_free(NULL));
	assert_null(bpf_layout_find(NULL, "a"));
	assert_string_equal(bpf_layout_special_name(BPF_LAYOUT_SPECIAL_MNTNS_ID), "mntns_id");
	assert_string_equal(bpf_layout_special_name(BPF_LAYOUT_SPECIAL_COUNT_ + 3), "unknown");
	btf__free(btf);
}

static void test_enum64_and_straddling_bitfield(void **state)
{
	struct btf *btf = btf__new_empty();
	struct bpf_layout *l = NULL;
	uint8_t rec[16] = {0};
	int u64, e64, st;

	u64 = btf__add_int(btf, "u64", 8, 0);
	e64 = btf__add_enum64(btf, "big", 8, false);
	btf__add_enum64_value(btf, "BIG_A", 1ULL << 40);
	btf__add_enum64_value(btf, "BIG_B", 3);
	st = btf__add_struct(btf, "packed", 16);
	btf__add_field(btf, "kind", e64, 0, 0);
	/* 12 bits starting at bit 70, inside the record's second u64. */
	btf__add_field(btf, "mid", u64, 70, 12);
	assert_int_equal(bpf_layout_from_btf(btf, st, &l), 0);
	assert_int_equal(field(l, "kind")->kind, BPF_LAYOUT_ENUM);
	assert_int_equal(field(l, "kind")->n_enum_vals, 2);
	assert_true(field(l, "kind")->enum_vals[0].value == (int64_t)(1ULL << 40));
	/* bits 70..81 = 0xabc */
	rec[8] = (uint8_t)(0xabc << 6);
	rec[9] = (uint8_t)(0xabc >> 2);
	rec[10] = (uint8_t)(0xabc >> 10);
	assert_int_equal(bpf_layout_read_u64(field(l, "mid"), rec), 0xabc);
	l = bpf_layout_free(l);
	btf__free(btf);

	/* A bitfield that crosses its declared type's natural unit. */
	btf = btf__new_empty();
	u64 = btf__add_int(btf, "u32", 4, 0);
	st = btf__add_struct(btf, "odd", 8);
	btf__add_field(btf, "x", u64, 28, 8);
	assert_int_equal(bpf_layout_from_btf(btf, st, &l), 0);
	memset(rec, 0, sizeof(rec));
	rec[3] = 0x50; /* low nibble of x in bits 28..31 */
	rec[4] = 0x0a; /* high nibble in bits 32..35 */
	assert_int_equal(bpf_layout_read_u64(field(l, "x"), rec), 0xa5);
	assert_true(field(l, "x")->offset + field(l, "x")->size <= 8);
	bpf_layout_free(l);
	btf__free(btf);
}

static void test_limits(void **state)
{
	struct btf *btf = btf__new_empty();
	struct bpf_layout *l = NULL;
	char name[300];
	int u8, inner, st, en, loop, td1, td2;

	u8 = btf__add_int(btf, "u8", 1, 0);

	/* Nine levels of nesting: deeper than BPF_LAYOUT_MAX_DEPTH. */
	inner = btf__add_struct(btf, "lvl0", 1);
	btf__add_field(btf, "v", u8, 0, 0);
	for (int i = 1; i <= BPF_LAYOUT_MAX_DEPTH; i++) {
		snprintf(name, sizeof(name), "lvl%d", i);
		st = btf__add_struct(btf, name, 1);
		btf__add_field(btf, "in", inner, 0, 0);
		inner = st;
	}
	assert_int_equal(bpf_layout_from_btf(btf, inner, &l), -E2BIG);

	/* More fields than BPF_LAYOUT_MAX_FIELDS. */
	st = btf__add_struct(btf, "wide", BPF_LAYOUT_MAX_FIELDS + 1);
	for (int i = 0; i <= BPF_LAYOUT_MAX_FIELDS; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		btf__add_field(btf, name, u8, i * 8, 0);
	}
	assert_int_equal(bpf_layout_from_btf(btf, st, &l), -E2BIG);

	/* An enum with too many values. */
	en = btf__add_enum(btf, "many", 4);
	for (int i = 0; i <= BPF_LAYOUT_MAX_ENUM_VALS; i++) {
		snprintf(name, sizeof(name), "V%d", i);
		btf__add_enum_value(btf, name, i);
	}
	st = btf__add_struct(btf, "has_enum", 4);
	btf__add_field(btf, "e", en, 0, 0);
	assert_int_equal(bpf_layout_from_btf(btf, st, &l), -E2BIG);

	/* A member name longer than BPF_LAYOUT_MAX_NAME. */
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	st = btf__add_struct(btf, "long_name", 1);
	btf__add_field(btf, name, u8, 0, 0);
	assert_int_equal(bpf_layout_from_btf(btf, st, &l), -E2BIG);

	/* A record bigger than BPF_LAYOUT_MAX_RECORD. */
	st = btf__add_struct(btf, "huge", BPF_LAYOUT_MAX_RECORD + 8);
	btf__add_field(btf, "v", u8, 0, 0);
	assert_int_equal(bpf_layout_from_btf(btf, st, &l), -E2BIG);

	/* Corrupt BTF: an anonymous member that is its own parent. */
	loop = btf__add_struct(btf, "self", 4);
	btf__add_field(btf, "", loop, 0, 0);
	assert_true(bpf_layout_from_btf(btf, loop, &l) < 0);

	/* Corrupt BTF: typedefs that refer to each other. */
	td1 = btf__type_cnt(btf);
	td2 = td1 + 1;
	btf__add_typedef(btf, "t1", td2);
	btf__add_typedef(btf, "t2", td1);
	st = btf__add_struct(btf, "has_loop", 4);
	btf__add_field(btf, "x", td1, 0, 0);
	assert_int_equal(bpf_layout_from_btf(btf, st, &l), -EINVAL);

	/* A member past the end of its struct. */
	st = btf__add_struct(btf, "short", 2);
	btf__add_field(btf, "x", u8, 64, 0);
	assert_int_equal(bpf_layout_from_btf(btf, st, &l), -EINVAL);
	assert_null(l);
	btf__free(btf);
}

static void test_key_value(void **state)
{
	struct btf *btf = btf__new_empty();
	struct bpf_layout *l = NULL;
	uint32_t voff = 0;
	int u32, u64, key, val, arr;

	u32 = btf__add_int(btf, "u32", 4, 0);
	u64 = btf__add_int(btf, "u64", 8, 0);
	arr = btf__add_array(btf, u32, u32, 3);
	key = btf__add_struct(btf, "k", 12);
	btf__add_field(btf, "pid", u32, 0, 0);
	btf__add_field(btf, "ids", arr, 0, 0);
	val = btf__add_struct(btf, "v", 8);
	btf__add_field(btf, "count", u64, 0, 0);
	assert_int_equal(bpf_layout_from_btf_kv(btf, key, val, &voff, &l), 0);
	assert_int_equal(voff, 16);
	assert_int_equal(l->size, 24);
	assert_string_equal(l->name, "v");
	assert_int_equal(field(l, "pid")->offset, 0);
	assert_int_equal(field(l, "count")->offset, 16);
	l = bpf_layout_free(l);

	/* Scalar key and value become fields named after their role. */
	assert_int_equal(bpf_layout_from_btf_kv(btf, u32, u64, &voff, &l), 0);
	assert_int_equal(voff, 8);
	assert_int_equal(l->n_fields, 2);
	assert_int_equal(field(l, "key")->kind, BPF_LAYOUT_UINT);
	assert_int_equal(field(l, "value")->offset, 8);
	assert_int_equal(field(l, "value")->size, 8);
	bpf_layout_free(l);
	btf__free(btf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offsets_and_kinds),
		cmocka_unit_test(test_tree_and_names),
		cmocka_unit_test(test_enums),
		cmocka_unit_test(test_read_values),
		cmocka_unit_test(test_typedef_and_bad_ids),
		cmocka_unit_test(test_enum64_and_straddling_bitfield),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_key_value),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
