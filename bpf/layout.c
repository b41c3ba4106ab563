// SPDX-License-Identifier: Apache-2.0
/*
 * Record layouts discovered from BTF.  See layout.h.
 *
 * The walk is a plain recursive descent over struct members.  The BTF comes
 * from a gadget ELF, which is foreign input: every type id is checked, every
 * typedef chain is bounded, and every field must lie inside the record, so a
 * hostile or corrupt object yields -EINVAL or -E2BIG rather than a crash.
 */
#include "bpf/layout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

/* Typedef/modifier chains longer than this are treated as loops. */
#define LAYOUT_MAX_CHAIN 32
/*
 * Members visited per layout, anonymous ones included: corrupt BTF can make
 * anonymous structs refer to each other, which the field limit alone would
 * not stop.
 */
#define LAYOUT_MAX_VISITS 65536

struct layout_ctx {
	const struct btf *btf;
	struct bpf_layout *l;
	size_t cap;
	uint32_t record_size;
	unsigned int visits;
	unsigned int nest;
};

static const struct {
	const char *name;
	enum bpf_layout_special special;
} special_names[] = {
	{"gadget_mntns_id", BPF_LAYOUT_SPECIAL_MNTNS_ID},
	{"gadget_netns_id", BPF_LAYOUT_SPECIAL_NETNS_ID},
	{"gadget_timestamp", BPF_LAYOUT_SPECIAL_TIMESTAMP},
	{"gadget_errno", BPF_LAYOUT_SPECIAL_ERRNO},
	{"gadget_uid", BPF_LAYOUT_SPECIAL_UID},
	{"gadget_gid", BPF_LAYOUT_SPECIAL_GID},
	{"gadget_signal", BPF_LAYOUT_SPECIAL_SIGNAL},
	{"gadget_syscall", BPF_LAYOUT_SPECIAL_SYSCALL},
	{"gadget_file_mode", BPF_LAYOUT_SPECIAL_FILE_MODE},
	{"gadget_file_flags", BPF_LAYOUT_SPECIAL_FILE_FLAGS},
	{"gadget_pid", BPF_LAYOUT_SPECIAL_PID},
	{"gadget_ppid", BPF_LAYOUT_SPECIAL_PPID},
	{"gadget_tid", BPF_LAYOUT_SPECIAL_TID},
	{"gadget_ptid", BPF_LAYOUT_SPECIAL_PTID},
	{"gadget_comm", BPF_LAYOUT_SPECIAL_COMM},
	{"gadget_pcomm", BPF_LAYOUT_SPECIAL_PCOMM},
	{"gadget_bytes", BPF_LAYOUT_SPECIAL_BYTES},
	{"gadget_duration", BPF_LAYOUT_SPECIAL_DURATION},
	{"gadget_kernel_stack", BPF_LAYOUT_SPECIAL_KERNEL_STACK},
	{"gadget_ip_addr_t", BPF_LAYOUT_SPECIAL_IP_ADDR},
	{"gadget_l3endpoint_t", BPF_LAYOUT_SPECIAL_L3ENDPOINT},
	{"gadget_l4endpoint_t", BPF_LAYOUT_SPECIAL_L4ENDPOINT},
	{"gadget_process", BPF_LAYOUT_SPECIAL_PROCESS},
	{"gadget_user_stack", BPF_LAYOUT_SPECIAL_USER_STACK},
};

static const char *const special_labels[BPF_LAYOUT_SPECIAL_COUNT_] = {
	[BPF_LAYOUT_SPECIAL_NONE] = "none",
	[BPF_LAYOUT_SPECIAL_MNTNS_ID] = "mntns_id",
	[BPF_LAYOUT_SPECIAL_NETNS_ID] = "netns_id",
	[BPF_LAYOUT_SPECIAL_TIMESTAMP] = "timestamp",
	[BPF_LAYOUT_SPECIAL_ERRNO] = "errno",
	[BPF_LAYOUT_SPECIAL_UID] = "uid",
	[BPF_LAYOUT_SPECIAL_GID] = "gid",
	[BPF_LAYOUT_SPECIAL_SIGNAL] = "signal",
	[BPF_LAYOUT_SPECIAL_SYSCALL] = "syscall",
	[BPF_LAYOUT_SPECIAL_FILE_MODE] = "file_mode",
	[BPF_LAYOUT_SPECIAL_FILE_FLAGS] = "file_flags",
	[BPF_LAYOUT_SPECIAL_PID] = "pid",
	[BPF_LAYOUT_SPECIAL_PPID] = "ppid",
	[BPF_LAYOUT_SPECIAL_TID] = "tid",
	[BPF_LAYOUT_SPECIAL_PTID] = "ptid",
	[BPF_LAYOUT_SPECIAL_COMM] = "comm",
	[BPF_LAYOUT_SPECIAL_PCOMM] = "pcomm",
	[BPF_LAYOUT_SPECIAL_BYTES] = "bytes",
	[BPF_LAYOUT_SPECIAL_DURATION] = "duration",
	[BPF_LAYOUT_SPECIAL_KERNEL_STACK] = "kernel_stack",
	[BPF_LAYOUT_SPECIAL_IP_ADDR] = "ip_addr",
	[BPF_LAYOUT_SPECIAL_L3ENDPOINT] = "l3endpoint",
	[BPF_LAYOUT_SPECIAL_L4ENDPOINT] = "l4endpoint",
	[BPF_LAYOUT_SPECIAL_PROCESS] = "process",
	[BPF_LAYOUT_SPECIAL_USER_STACK] = "user_stack",
};

const char *bpf_layout_special_name(enum bpf_layout_special s)
{
	if ((unsigned int)s >= BPF_LAYOUT_SPECIAL_COUNT_)
		return "unknown";
	return special_labels[s];
}

static const char *type_name(const struct btf *btf, const struct btf_type *t)
{
	const char *s = btf__name_by_offset(btf, t->name_off);

	return s ? s : "";
}

static enum bpf_layout_special special_of_name(const char *name)
{
	for (size_t i = 0; i < sizeof(special_names) / sizeof(special_names[0]); i++)
		if (strcmp(name, special_names[i].name) == 0)
			return special_names[i].special;
	return BPF_LAYOUT_SPECIAL_NONE;
}

/*
 * Follows typedefs and const/volatile/restrict from id.  Stores the first
 * gadget API name met on the way in *special (when special is not NULL):
 * a typedef of a typedef of gadget_uid is still a uid.
 */
static int resolve(const struct btf *btf, uint32_t id, enum bpf_layout_special *special,
		   uint32_t *ret_id, const struct btf_type **ret)
{
	for (int i = 0; i < LAYOUT_MAX_CHAIN; i++) {
		const struct btf_type *t = btf__type_by_id(btf, id);

		if (!t)
			return -EINVAL;
		if (special && *special == BPF_LAYOUT_SPECIAL_NONE &&
		    (btf_is_typedef(t) || btf_is_struct(t) || btf_is_union(t)))
			*special = special_of_name(type_name(btf, t));
		if (btf_is_typedef(t) || btf_is_mod(t)) {
			id = t->type;
			continue;
		}
		*ret_id = id;
		*ret = t;
		return 0;
	}
	return -EINVAL;
}

/* The outermost type's name as a C programmer wrote it, for display. */
static int describe_type(const struct btf *btf, uint32_t id, char *buf, size_t len,
			 unsigned int nest)
{
	if (nest > LAYOUT_MAX_CHAIN)
		return -EINVAL;
	for (int i = 0; i < LAYOUT_MAX_CHAIN; i++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const char *name;
		int n;

		if (!t)
			return -EINVAL;
		if (btf_is_mod(t)) {
			id = t->type;
			continue;
		}
		name = type_name(btf, t);
		if (btf_is_void(t)) {
			n = snprintf(buf, len, "void");
		} else if (btf_is_array(t)) {
			const struct btf_array *a = btf_array(t);
			char elem[BPF_LAYOUT_MAX_NAME];
			int err = describe_type(btf, a->type, elem, sizeof(elem), nest + 1);

			if (err)
				return err;
			n = snprintf(buf, len, "%s[%u]", elem, a->nelems);
		} else if (btf_is_ptr(t)) {
			char to[BPF_LAYOUT_MAX_NAME];
			int err = describe_type(btf, t->type, to, sizeof(to), nest + 1);

			if (err)
				return err;
			n = snprintf(buf, len, "%s *", to);
		} else if (btf_is_struct(t)) {
			n = snprintf(buf, len, "struct %s", name[0] ? name : "(anon)");
		} else if (btf_is_union(t)) {
			n = snprintf(buf, len, "union %s", name[0] ? name : "(anon)");
		} else if (btf_is_any_enum(t)) {
			n = snprintf(buf, len, "enum %s", name[0] ? name : "(anon)");
		} else {
			n = snprintf(buf, len, "%s", name);
		}
		/* Display names only: a long one is cut, not an error. */
		return n < 0 ? -EINVAL : 0;
	}
	return -EINVAL;
}

static struct bpf_layout_field *add_field(struct layout_ctx *c)
{
	struct bpf_layout *l = c->l;

	if (l->n_fields >= BPF_LAYOUT_MAX_FIELDS)
		return NULL;
	if (l->n_fields == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct bpf_layout_field *f;

		if (cap > BPF_LAYOUT_MAX_FIELDS)
			cap = BPF_LAYOUT_MAX_FIELDS;
		f = realloc(l->fields, cap * sizeof(*f));
		if (!f)
			return NULL;
		l->fields = f;
		c->cap = cap;
	}
	memset(&l->fields[l->n_fields], 0, sizeof(l->fields[0]));
	return &l->fields[l->n_fields++];
}

static int int_kind(const struct btf_type *t, enum bpf_layout_kind *kind)
{
	uint32_t enc = btf_int_encoding(t);

	if (t->size != 1 && t->size != 2 && t->size != 4 && t->size != 8)
		return -EOPNOTSUPP;
	if (btf_int_offset(t) != 0)
		return -EOPNOTSUPP;
	if (enc & BTF_INT_BOOL)
		*kind = BPF_LAYOUT_BOOL;
	else if (enc & BTF_INT_SIGNED)
		*kind = BPF_LAYOUT_INT;
	else
		*kind = BPF_LAYOUT_UINT;
	return 0;
}

static int fill_enum(struct layout_ctx *c, struct bpf_layout_field *f, const struct btf_type *t)
{
	size_t n = btf_vlen(t);

	f->kind = BPF_LAYOUT_ENUM;
	f->enum_signed = btf_kflag(t);
	if (n > BPF_LAYOUT_MAX_ENUM_VALS)
		return -E2BIG;
	if (n == 0)
		return 0;
	f->enum_vals = calloc(n, sizeof(*f->enum_vals));
	if (!f->enum_vals)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *name;
		int64_t v;

		if (btf_is_enum(t)) {
			const struct btf_enum *e = btf_enum(t) + i;

			name = btf__name_by_offset(c->btf, e->name_off);
			v = f->enum_signed ? (int64_t)(int32_t)e->val : (int64_t)(uint32_t)e->val;
		} else {
			const struct btf_enum64 *e = btf_enum64(t) + i;

			name = btf__name_by_offset(c->btf, e->name_off);
			v = (int64_t)btf_enum64_value(e);
		}
		f->enum_vals[i].name = strdup(name ? name : "");
		if (!f->enum_vals[i].name)
			return -ENOMEM;
		f->enum_vals[i].value = v;
		f->n_enum_vals = i + 1;
	}
	return 0;
}

/*
 * Places a bitfield in a storage unit the reader can load in one go: the
 * declared type's size when the bits fit in an aligned unit of that size,
 * otherwise the smallest unit from the byte that holds the first bit.
 */
static int place_bitfield(struct layout_ctx *c, struct bpf_layout_field *f, uint32_t bit_off,
			  uint32_t bit_size, uint32_t type_size)
{
	uint32_t unit = type_size * 8;
	uint32_t start;

	if (bit_size == 0 || bit_size > 64)
		return -EINVAL;
	start = bit_off - bit_off % unit;
	if (bit_off % unit + bit_size <= unit && start / 8 + type_size <= c->record_size) {
		f->offset = start / 8;
		f->size = type_size;
		f->bit_offset = bit_off % unit;
	} else {
		uint32_t first = bit_off % 8;
		uint32_t size = 1;

		while (size < 8 && first + bit_size > size * 8)
			size *= 2;
		if (first + bit_size > size * 8)
			return -EINVAL;
		f->offset = bit_off / 8;
		f->size = size;
		f->bit_offset = first;
		if (f->offset >= c->record_size || f->size > c->record_size - f->offset)
			return -EINVAL;
	}
	f->bit_size = bit_size;
	return 0;
}

static int set_names(struct bpf_layout_field *f, const char *prefix, const char *name,
		     const char *tname)
{
	size_t plen = prefix ? strlen(prefix) : 0;
	size_t nlen = strlen(name);

	if (nlen >= BPF_LAYOUT_MAX_NAME || plen + 1 + nlen >= BPF_LAYOUT_MAX_NAME)
		return -E2BIG;
	f->name = strdup(name);
	f->type_name = strdup(tname);
	f->full_name = malloc(plen + 1 + nlen + 1);
	if (!f->name || !f->type_name || !f->full_name)
		return -ENOMEM;
	if (plen)
		snprintf(f->full_name, plen + nlen + 2, "%s.%s", prefix, name);
	else
		memcpy(f->full_name, name, nlen + 1);
	return 0;
}

static int add_members(struct layout_ctx *c, const struct btf_type *st, uint64_t base_bits,
		       int parent, unsigned int depth, const char *prefix);

/*
 * Adds one member of type id at bit offset bit_off (from the record start).
 * name is NULL for the synthetic "key"/"value" fields of scalar map types.
 */
static int add_member(struct layout_ctx *c, uint32_t id, const char *name, uint64_t bit_off,
		      uint32_t bit_size, int parent, unsigned int depth, const char *prefix)
{
	enum bpf_layout_special special = BPF_LAYOUT_SPECIAL_NONE;
	char tname[BPF_LAYOUT_MAX_NAME];
	const struct btf_type *t;
	struct bpf_layout_field *f;
	uint32_t rid, size;
	int64_t rsize;
	int idx, err;

	if (++c->visits > LAYOUT_MAX_VISITS)
		return -E2BIG;

	err = resolve(c->btf, id, &special, &rid, &t);
	if (err)
		return err;

	if (!name[0]) {
		/* Anonymous struct/union: its members belong to the parent. */
		if (!btf_is_composite(t))
			return 0; /* unnamed padding bitfield */
		if (bit_off % 8)
			return -EINVAL;
		return add_members(c, t, bit_off, parent, depth, prefix);
	}

	if (bit_size == 0 && bit_off % 8)
		return -EINVAL;
	rsize = btf_is_ptr(t) ? 8 : btf__resolve_size(c->btf, rid);
	if (rsize < 0 || rsize > BPF_LAYOUT_MAX_RECORD)
		return -EINVAL;
	size = (uint32_t)rsize;
	if (size == 0 && !btf_is_composite(t))
		return 0; /* flexible array: no bytes of its own */
	if (bit_size == 0 && (bit_off / 8 > c->record_size || size > c->record_size - bit_off / 8))
		return -EINVAL;

	err = describe_type(c->btf, id, tname, sizeof(tname), 0);
	if (err)
		return err;
	f = add_field(c);
	if (!f)
		return c->l->n_fields >= BPF_LAYOUT_MAX_FIELDS ? -E2BIG : -ENOMEM;
	idx = (int)(f - c->l->fields);
	err = set_names(f, prefix, name, tname);
	if (err)
		return err;
	f->parent = parent;
	f->depth = depth;
	f->offset = bit_off / 8;
	f->size = size;

	if (btf_is_array(t)) {
		const struct btf_array *a = btf_array(t);
		const struct btf_type *et;
		uint32_t eid;

		err = resolve(c->btf, a->type, &special, &eid, &et);
		if (err)
			return err;
		f->kind = BPF_LAYOUT_BYTES;
		if (btf_is_int(et) && int_kind(et, &f->elem_kind) == 0) {
			f->elem_size = et->size;
			f->count = a->nelems;
			if (et->size == 1 && f->elem_kind != BPF_LAYOUT_BOOL)
				f->kind = BPF_LAYOUT_STRING;
			else if (f->elem_kind != BPF_LAYOUT_BOOL)
				f->kind = BPF_LAYOUT_ARRAY;
		} else if (btf_is_any_enum(et) &&
			   (et->size == 1 || et->size == 2 || et->size == 4 || et->size == 8)) {
			f->kind = BPF_LAYOUT_ARRAY;
			f->elem_kind = btf_kflag(et) ? BPF_LAYOUT_INT : BPF_LAYOUT_UINT;
			f->elem_size = et->size;
			f->count = a->nelems;
		}
		if (f->kind != BPF_LAYOUT_ARRAY) {
			f->elem_kind = 0;
			f->elem_size = 0;
			f->count = 0;
		}
	} else if (btf_is_int(t)) {
		if (int_kind(t, &f->kind))
			f->kind = BPF_LAYOUT_BYTES;
	} else if (btf_is_any_enum(t)) {
		err = fill_enum(c, f, t);
		if (err)
			return err;
		if (size != 1 && size != 2 && size != 4 && size != 8)
			return -EINVAL;
	} else if (btf_is_ptr(t)) {
		f->kind = BPF_LAYOUT_UINT;
	} else if (btf_is_struct(t)) {
		f->kind = BPF_LAYOUT_STRUCT;
	} else if (btf_is_union(t) || btf_is_float(t)) {
		f->kind = BPF_LAYOUT_BYTES;
	} else {
		return -EINVAL;
	}
	f->special = special;

	if (bit_size) {
		if (f->kind != BPF_LAYOUT_INT && f->kind != BPF_LAYOUT_UINT &&
		    f->kind != BPF_LAYOUT_BOOL && f->kind != BPF_LAYOUT_ENUM)
			return -EINVAL;
		err = place_bitfield(c, f, bit_off, bit_size, size);
		if (err)
			return err;
	}

	if (f->kind == BPF_LAYOUT_STRUCT) {
		char *full;

		if (depth + 1 >= BPF_LAYOUT_MAX_DEPTH)
			return -E2BIG;
		/* add_members() may move the array: keep the name, not f. */
		full = c->l->fields[idx].full_name;
		return add_members(c, t, bit_off, idx, depth + 1, full);
	}
	return 0;
}

static int add_members(struct layout_ctx *c, const struct btf_type *st, uint64_t base_bits,
		       int parent, unsigned int depth, const char *prefix)
{
	const struct btf_member *m = btf_members(st);
	uint16_t n = btf_vlen(st);
	int ret = 0;

	/* Named nesting is bounded by depth; this also bounds anonymous nesting. */
	if (c->nest >= 4 * BPF_LAYOUT_MAX_DEPTH)
		return -E2BIG;
	c->nest++;
	for (uint16_t i = 0; i < n; i++, m++) {
		const char *name = btf__name_by_offset(c->btf, m->name_off);
		uint64_t off = base_bits + btf_member_bit_offset(st, i);

		ret = add_member(c, m->type, name ? name : "", off, btf_member_bitfield_size(st, i),
				 parent, depth, prefix);
		if (ret)
			break;
	}
	c->nest--;
	return ret;
}

static void field_done(struct bpf_layout_field *f)
{
	free(f->name);
	free(f->full_name);
	free(f->type_name);
	for (size_t i = 0; i < f->n_enum_vals; i++)
		free(f->enum_vals[i].name);
	free(f->enum_vals);
}

struct bpf_layout *bpf_layout_free(struct bpf_layout *l)
{
	if (!l)
		return NULL;
	for (size_t i = 0; i < l->n_fields; i++)
		field_done(&l->fields[i]);
	/* A field that failed half way is counted: it was zeroed when added. */
	free(l->fields);
	free(l->name);
	free(l);
	return NULL;
}

static int layout_new(const char *name, struct bpf_layout **ret)
{
	struct bpf_layout *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->name = strdup(name);
	if (!l->name) {
		free(l);
		return -ENOMEM;
	}
	*ret = l;
	return 0;
}

/* Resolves id to a struct or union; name is the struct's or else the typedef's. */
static int composite_of(const struct btf *btf, uint32_t id, const struct btf_type **ret,
			const char **ret_name)
{
	const char *name = NULL;

	for (int i = 0; i < LAYOUT_MAX_CHAIN; i++) {
		const struct btf_type *t = btf__type_by_id(btf, id);

		if (!t)
			return -EINVAL;
		if (btf_is_typedef(t) && !name)
			name = type_name(btf, t);
		if (btf_is_typedef(t) || btf_is_mod(t)) {
			id = t->type;
			continue;
		}
		if (!btf_is_composite(t))
			return -EINVAL;
		if (type_name(btf, t)[0])
			name = type_name(btf, t);
		*ret = t;
		*ret_name = name ? name : "";
		return 0;
	}
	return -EINVAL;
}

int bpf_layout_from_btf(const struct btf *btf, uint32_t type_id, struct bpf_layout **ret)
{
	struct layout_ctx c = {.btf = btf};
	const struct btf_type *t;
	const char *name;
	int err;

	if (!btf || !ret)
		return -EINVAL;
	err = composite_of(btf, type_id, &t, &name);
	if (err)
		return err;
	if (t->size > BPF_LAYOUT_MAX_RECORD)
		return -E2BIG;
	err = layout_new(name, &c.l);
	if (err)
		return err;
	c.l->size = t->size;
	c.record_size = t->size;
	err = add_members(&c, t, 0, -1, 0, NULL);
	if (err) {
		bpf_layout_free(c.l);
		return err;
	}
	*ret = c.l;
	return 0;
}

/* A key or value: a struct's members, or a single field named after its role. */
static int add_part(struct layout_ctx *c, uint32_t id, const char *role, uint32_t offset)
{
	const struct btf_type *t;
	const char *name;

	if (composite_of(c->btf, id, &t, &name) == 0)
		return add_members(c, t, (uint64_t)offset * 8, -1, 0, NULL);
	return add_member(c, id, role, (uint64_t)offset * 8, 0, -1, 0, NULL);
}

static int part_size(const struct btf *btf, uint32_t id, uint32_t *ret)
{
	int64_t s = btf__resolve_size(btf, id);

	if (s <= 0)
		return -EINVAL;
	if (s > BPF_LAYOUT_MAX_RECORD)
		return -E2BIG;
	*ret = (uint32_t)s;
	return 0;
}

int bpf_layout_from_btf_kv(const struct btf *btf, uint32_t key_id, uint32_t value_id,
			   uint32_t *ret_value_offset, struct bpf_layout **ret)
{
	struct layout_ctx c = {.btf = btf};
	uint32_t ksize, vsize, voff;
	const struct btf_type *t;
	const char *name = "";
	int err;

	if (!btf || !ret || !ret_value_offset)
		return -EINVAL;
	err = part_size(btf, key_id, &ksize);
	if (err)
		return err;
	err = part_size(btf, value_id, &vsize);
	if (err)
		return err;
	voff = (ksize + 7) & ~7u;
	if ((uint64_t)voff + vsize > BPF_LAYOUT_MAX_RECORD)
		return -E2BIG;
	if (composite_of(btf, value_id, &t, &name) != 0 || !name[0])
		name = "";
	err = layout_new(name, &c.l);
	if (err)
		return err;
	c.l->size = voff + vsize;
	c.record_size = c.l->size;
	err = add_part(&c, key_id, "key", 0);
	if (!err)
		err = add_part(&c, value_id, "value", voff);
	if (err) {
		bpf_layout_free(c.l);
		return err;
	}
	*ret_value_offset = voff;
	*ret = c.l;
	return 0;
}

const struct bpf_layout_field *bpf_layout_find(const struct bpf_layout *l, const char *full_name)
{
	if (!l || !full_name)
		return NULL;
	for (size_t i = 0; i < l->n_fields; i++)
		if (strcmp(l->fields[i].full_name, full_name) == 0)
			return &l->fields[i];
	return NULL;
}

static bool int_size(uint32_t size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

static int check_field(const struct bpf_layout *l, size_t i, char *err, size_t errlen)
{
	const struct bpf_layout_field *f = &l->fields[i];
	const char *why = NULL;

	if (!f->name || !f->full_name || !f->type_name || strlen(f->name) > BPF_LAYOUT_MAX_NAME)
		why = "has no name";
	else if (f->kind > BPF_LAYOUT_BYTES || f->special >= BPF_LAYOUT_SPECIAL_COUNT_)
		why = "has an unknown kind";
	else if (f->offset > l->size || f->size > l->size - f->offset)
		why = "lies outside the record";
	else if (f->parent >= (int)i || f->parent < -1 ||
		 (f->parent >= 0 && l->fields[f->parent].kind != BPF_LAYOUT_STRUCT))
		why = "has a bad parent";
	else if (f->depth != (f->parent < 0 ? 0 : l->fields[f->parent].depth + 1) ||
		 f->depth > BPF_LAYOUT_MAX_DEPTH)
		why = "has a bad depth";
	else if ((f->kind == BPF_LAYOUT_INT || f->kind == BPF_LAYOUT_UINT ||
		  f->kind == BPF_LAYOUT_BOOL || f->kind == BPF_LAYOUT_ENUM) &&
		 !int_size(f->size))
		why = "is an integer of a bad size";
	else if (f->bit_size && (f->bit_size > 64 || f->bit_offset + f->bit_size > f->size * 8))
		why = "is a bitfield outside its unit";
	else if (!f->bit_size && f->bit_offset)
		why = "has a bit offset but no bit size";
	else if (f->kind == BPF_LAYOUT_ARRAY &&
		 (f->elem_kind > BPF_LAYOUT_BYTES || (uint64_t)f->elem_size * f->count > f->size))
		why = "is an array larger than its field";
	else if (f->n_enum_vals > BPF_LAYOUT_MAX_ENUM_VALS || (f->n_enum_vals && !f->enum_vals))
		why = "has too many enum values";
	for (size_t k = 0; !why && k < f->n_enum_vals; k++)
		if (!f->enum_vals[k].name)
			why = "has an enum value without a name";
	if (!why)
		return 0;
	snprintf(err, errlen, "field %zu (%.64s) %s", i, f->full_name ? f->full_name : "?", why);
	return -EINVAL;
}

int bpf_layout_check(const struct bpf_layout *l, char *err, size_t errlen)
{
	int r;

	if (!l || !l->name || (l->n_fields && !l->fields)) {
		snprintf(err, errlen, "layout without a name");
		return -EINVAL;
	}
	if (l->size > BPF_LAYOUT_MAX_RECORD || l->n_fields > BPF_LAYOUT_MAX_FIELDS) {
		snprintf(err, errlen, "layout %.64s is over the limits (%u bytes, %zu fields)",
			 l->name, l->size, l->n_fields);
		return -EINVAL;
	}
	for (size_t i = 0; i < l->n_fields; i++) {
		r = check_field(l, i, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

static uint64_t load_le(const struct bpf_layout_field *f, const void *record)
{
	const uint8_t *p = (const uint8_t *)record + f->offset;
	uint32_t size = f->size > 8 ? 8 : f->size;
	uint64_t v = 0;

	for (uint32_t i = 0; i < size; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Number of meaningful bits of an integer-like field. */
static unsigned int value_bits(const struct bpf_layout_field *f)
{
	if (f->bit_size)
		return f->bit_size;
	return f->size >= 8 ? 64 : f->size * 8;
}

uint64_t bpf_layout_read_u64(const struct bpf_layout_field *f, const void *record)
{
	unsigned int bits = value_bits(f);
	uint64_t v = load_le(f, record);

	if (f->bit_size)
		v >>= f->bit_offset;
	if (bits < 64)
		v &= (UINT64_C(1) << bits) - 1;
	if (f->kind == BPF_LAYOUT_BOOL)
		return v != 0;
	return v;
}

int64_t bpf_layout_read_i64(const struct bpf_layout_field *f, const void *record)
{
	unsigned int bits = value_bits(f);
	uint64_t v = bpf_layout_read_u64(f, record);
	bool is_signed =
		f->kind == BPF_LAYOUT_INT || (f->kind == BPF_LAYOUT_ENUM && f->enum_signed);

	if (is_signed && bits < 64 && (v >> (bits - 1)) & 1)
		v |= ~((UINT64_C(1) << bits) - 1);
	return (int64_t)v;
}
