// SPDX-License-Identifier: Apache-2.0
/*
 * Columns of a data source.  See column.h.
 *
 * The catalog follows the layout's pre-order walk.  A field of a special
 * type named "x_raw" yields two columns, the human "x" first and the raw
 * number after it (hidden in columns, kept in JSON and YAML), so "x" sits where the gadget author
 * put the field; a special field without the suffix is shown in its human form in place.  Sizes
 * (gadget_bytes) and durations keep their number unless named
 * "_raw", as their raw form is what scripts want.
 */
#include "run/column.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run/escape.h"
#include "run/users.h"
#include "bpf/layout.h"
#include "oci/metadata.h"

#define RAW_SUFFIX     "_raw"
#define RAW_SUFFIX_LEN 4
/* A columns.width beyond this is taken as a typo, not a request. */
#define MAX_WIDTH 4096

struct catalog {
	const struct bpf_layout *l;
	const struct oci_metadata_ds *md;
	struct run_column *cols;
	size_t n, cap;
	/* the endpoint struct being walked, if any */
	int ep_depth;
	struct run_column_int ep_version;
	/* the user stack struct being walked, if any: its numbers are hidden */
	int us_depth;
};

static const char *ann(const struct catalog *b, const char *name, const char *key)
{
	return b->md ? oci_metadata_field_annotation(b->md, name, key) : NULL;
}

static bool ann_true(const char *v)
{
	return v && (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "1"));
}

static bool ann_false(const char *v)
{
	return v && (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "0"));
}

static bool ann_uint(const char *v, unsigned int *ret)
{
	char *end;
	unsigned long x;

	if (!v || *v < '0' || *v > '9')
		return false;
	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || *end || x > MAX_WIDTH)
		return false;
	*ret = (unsigned int)x;
	return true;
}

static struct run_column *catalog_add(struct catalog *b)
{
	struct run_column *c;

	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 32;

		c = realloc(b->cols, cap * sizeof(*c));
		if (!c)
			return NULL;
		b->cols = c;
		b->cap = cap;
	}
	c = &b->cols[b->n++];
	memset(c, 0, sizeof(*c));
	return c;
}

/* "proc.creds.uid" with leaf "user" -> "proc.creds.user" */
static char *sibling_name(const char *full, const char *leaf, size_t leaf_len)
{
	const char *dot = strrchr(full, '.');
	size_t pre = dot ? (size_t)(dot - full) + 1 : 0;
	char *s = malloc(pre + leaf_len + 1);

	if (!s)
		return NULL;
	memcpy(s, full, pre);
	memcpy(s + pre, leaf, leaf_len);
	s[pre + leaf_len] = '\0';
	return s;
}

static const char *leaf_of(const char *name)
{
	const char *dot = strrchr(name, '.');

	return dot ? dot + 1 : name;
}

static bool field_exists(const struct bpf_layout *l, const char *full)
{
	size_t i;

	for (i = 0; i < l->n_fields; i++)
		if (!strcmp(l->fields[i].full_name, full))
			return true;
	return false;
}

static bool int_of(const struct bpf_layout_field *f, struct run_column_int *v)
{
	if (f->kind != BPF_LAYOUT_INT && f->kind != BPF_LAYOUT_UINT && f->kind != BPF_LAYOUT_BOOL &&
	    f->kind != BPF_LAYOUT_ENUM)
		return false;
	if (f->size != 1 && f->size != 2 && f->size != 4 && f->size != 8)
		return false;
	if (f->bit_size && (f->bit_size > 64 || f->bit_offset + f->bit_size > f->size * 8))
		return false;
	v->off = f->offset;
	v->size = (uint8_t)f->size;
	v->bit_off = f->bit_offset;
	v->bit_size = f->bit_size;
	v->sign = f->kind == BPF_LAYOUT_INT || (f->kind == BPF_LAYOUT_ENUM && f->enum_signed);
	return true;
}

static const char *int_type(const struct run_column_int *v)
{
	static const char *const u[] = {"uint8", "uint16", "uint32", "uint64"};
	static const char *const s[] = {"int8", "int16", "int32", "int64"};
	unsigned int i = v->size == 1 ? 0 : v->size == 2 ? 1 : v->size == 4 ? 2 : 3;

	return v->sign ? s[i] : u[i];
}

/* Widths and alignment that fit a kind of value, before annotations. */
static void apply_template(struct run_column *c, const char *t)
{
	if (!strcmp(t, "comm")) {
		c->width = 16;
		c->flags &= ~RUN_COLUMN_RIGHT;
	} else if (!strcmp(t, "pid")) {
		c->width = 7;
		c->flags |= RUN_COLUMN_RIGHT;
	} else if (!strcmp(t, "ns")) {
		c->width = 12;
		c->flags |= RUN_COLUMN_RIGHT;
	} else if (!strcmp(t, "mntns_id") || !strcmp(t, "netns_id")) {
		c->width = 12;
		c->flags |= RUN_COLUMN_RIGHT | RUN_COLUMN_HIDDEN_COLS;
	} else if (!strcmp(t, "uid") || !strcmp(t, "gid")) {
		c->width = 8;
		c->flags |= RUN_COLUMN_RIGHT;
	} else if (!strcmp(t, "timestamp")) {
		c->width = 35;
		c->flags &= ~RUN_COLUMN_RIGHT;
	} else if (!strcmp(t, "syscall")) {
		c->width = 18;
		c->flags &= ~RUN_COLUMN_RIGHT;
	} else if (!strcmp(t, "l4endpoint")) {
		c->width = 22;
		c->flags &= ~RUN_COLUMN_RIGHT;
	} else if (!strcmp(t, "l3endpoint")) {
		c->width = 16;
		c->flags &= ~RUN_COLUMN_RIGHT;
	}
}

static void default_width(struct run_column *c)
{
	switch (c->kind) {
	case RUN_COLUMN_UINT:
	case RUN_COLUMN_INT:
		c->width = c->v.size == 1 ? 4 : c->v.size == 2 ? 6 : c->v.size == 4 ? 10 : 16;
		c->flags |= RUN_COLUMN_RIGHT;
		break;
	case RUN_COLUMN_BOOL:
		c->width = 5;
		break;
	case RUN_COLUMN_ERRNO:
	case RUN_COLUMN_FILE_MODE:
	case RUN_COLUMN_USER:
	case RUN_COLUMN_GROUP:
		c->width = 10;
		break;
	case RUN_COLUMN_SIGNAL:
		c->width = 9;
		break;
	case RUN_COLUMN_PROTO:
		c->width = 6;
		break;
	case RUN_COLUMN_FILE_FLAGS:
		c->width = 24;
		break;
	case RUN_COLUMN_ENUM:
		c->width = 12;
		break;
	case RUN_COLUMN_BYTES:
	case RUN_COLUMN_DURATION:
		c->width = 10;
		c->flags |= RUN_COLUMN_RIGHT;
		break;
	case RUN_COLUMN_TIMESTAMP:
		apply_template(c, "timestamp");
		break;
	case RUN_COLUMN_SYSCALL:
		apply_template(c, "syscall");
		break;
	case RUN_COLUMN_L4:
		apply_template(c, "l4endpoint");
		break;
	case RUN_COLUMN_L3:
	case RUN_COLUMN_IP:
		apply_template(c, "l3endpoint");
		break;
	default:
		c->width = 16;
		break;
	}
}

/* The templates the gadget API's typedefs imply. */
static const char *special_template(enum bpf_layout_special s)
{
	switch (s) {
	case BPF_LAYOUT_SPECIAL_COMM:
	case BPF_LAYOUT_SPECIAL_PCOMM:
		return "comm";
	case BPF_LAYOUT_SPECIAL_PID:
	case BPF_LAYOUT_SPECIAL_PPID:
	case BPF_LAYOUT_SPECIAL_TID:
	case BPF_LAYOUT_SPECIAL_PTID:
		return "pid";
	case BPF_LAYOUT_SPECIAL_MNTNS_ID:
	case BPF_LAYOUT_SPECIAL_NETNS_ID:
		return "mntns_id";
	case BPF_LAYOUT_SPECIAL_UID:
	case BPF_LAYOUT_SPECIAL_GID:
		return "uid";
	default:
		return NULL;
	}
}

/* Headers of the process struct's parent fields, as other tools name them. */
static const char *special_short_name(const struct bpf_layout_field *f)
{
	switch (f->special) {
	case BPF_LAYOUT_SPECIAL_PCOMM:
		return "pcomm";
	case BPF_LAYOUT_SPECIAL_PPID:
		return "ppid";
	case BPF_LAYOUT_SPECIAL_PTID:
		return "ptid";
	default:
		return f->name;
	}
}

/* Annotations of gadget.yaml, looked up by the column's full name. */
static int apply_annotations(const struct catalog *b, struct run_column *c)
{
	const char *v;
	unsigned int w, lo, hi;

	v = ann(b, c->name, "template");
	if (v)
		apply_template(c, v);
	if (ann_uint(ann(b, c->name, "columns.width"), &w))
		c->width = w;
	if (ann_uint(ann(b, c->name, "columns.minwidth"), &lo) && c->width < lo)
		c->width = lo;
	if (ann_uint(ann(b, c->name, "columns.maxwidth"), &hi) && (c->width > hi || !c->width))
		c->width = hi;
	v = ann(b, c->name, "columns.alignment");
	if (v && !strcmp(v, "right"))
		c->flags |= RUN_COLUMN_RIGHT;
	else if (v && !strcmp(v, "left"))
		c->flags &= ~RUN_COLUMN_RIGHT;
	v = ann(b, c->name, "columns.hidden");
	if (ann_true(v))
		c->flags |= RUN_COLUMN_HIDDEN_COLS;
	else if (ann_false(v))
		c->flags &= ~(RUN_COLUMN_HIDDEN_COLS | RUN_COLUMN_HIDDEN);
	if (ann_true(ann(b, c->name, "json.skip")))
		c->flags |= RUN_COLUMN_JSON_SKIP;
	if (c->kind == RUN_COLUMN_STRING && ann_true(ann(b, c->name, "strings.nul-separated")))
		c->kind = RUN_COLUMN_STRINGS;
	v = ann(b, c->name, "description");
	if (v) {
		c->description = strdup(v);
		if (!c->description)
			return -ENOMEM;
	}
	return 0;
}

/* Names, widths and annotations common to every column of the layout. */
static int finish(struct catalog *b, struct run_column *c, const char *short_name,
		  const char *template)
{
	if (!c->name)
		return -ENOMEM;
	c->short_name = strdup(short_name);
	if (!c->short_name)
		return -ENOMEM;
	default_width(c);
	if (template)
		apply_template(c, template);
	return apply_annotations(b, c);
}

static const char *derived_type(enum run_column_kind k)
{
	switch (k) {
	case RUN_COLUMN_ERRNO:
		return "errno";
	case RUN_COLUMN_SIGNAL:
		return "signal";
	case RUN_COLUMN_SYSCALL:
		return "syscall";
	case RUN_COLUMN_FILE_FLAGS:
		return "file flags";
	case RUN_COLUMN_FILE_MODE:
		return "file mode";
	case RUN_COLUMN_ENUM:
		return "enum";
	case RUN_COLUMN_TIMESTAMP:
		return "timestamp";
	case RUN_COLUMN_BYTES:
		return "bytes";
	case RUN_COLUMN_DURATION:
		return "duration";
	case RUN_COLUMN_USER:
		return "user";
	case RUN_COLUMN_GROUP:
		return "group";
	case RUN_COLUMN_PROTO:
		return "protocol";
	case RUN_COLUMN_IP:
		return "ip address";
	default:
		return "string";
	}
}

/* The human form of a special integer field, or -1 when it has none. */
static int derived_kind(const struct catalog *b, const struct bpf_layout_field *f)
{
	switch (f->special) {
	case BPF_LAYOUT_SPECIAL_TIMESTAMP:
		return RUN_COLUMN_TIMESTAMP;
	case BPF_LAYOUT_SPECIAL_ERRNO:
		return RUN_COLUMN_ERRNO;
	case BPF_LAYOUT_SPECIAL_SIGNAL:
		return RUN_COLUMN_SIGNAL;
	case BPF_LAYOUT_SPECIAL_SYSCALL:
		return RUN_COLUMN_SYSCALL;
	case BPF_LAYOUT_SPECIAL_FILE_FLAGS:
		return RUN_COLUMN_FILE_FLAGS;
	case BPF_LAYOUT_SPECIAL_FILE_MODE:
		return RUN_COLUMN_FILE_MODE;
	case BPF_LAYOUT_SPECIAL_BYTES:
		return RUN_COLUMN_BYTES;
	case BPF_LAYOUT_SPECIAL_DURATION:
		return RUN_COLUMN_DURATION;
	default:
		break;
	}
	if (f->kind == BPF_LAYOUT_ENUM)
		return RUN_COLUMN_ENUM;
	if (b->ep_depth >= 0 && (!strcmp(f->name, "proto_raw") || !strcmp(f->name, "proto")))
		return RUN_COLUMN_PROTO;
	return -1;
}

static bool enum_is_flags(const struct bpf_layout_field *f)
{
	size_t i, bits = 0;

	for (i = 0; i < f->n_enum_vals; i++) {
		uint64_t v = (uint64_t)f->enum_vals[i].value;

		if (v & (v - 1))
			return false;
		bits += v != 0;
	}
	/* {0, 1, 2} is as likely a plain enum: a sequence up to 3 is not all bits. */
	return bits >= 3;
}

static void set_derived(struct run_column *c, enum run_column_kind k,
			const struct bpf_layout_field *f, const struct run_column_int *v)
{
	c->kind = k;
	c->v = *v;
	c->type = derived_type(k);
	if (k == RUN_COLUMN_ENUM) {
		c->field = f;
		c->enum_flags = enum_is_flags(f);
	}
}

static int numeric_kind(const struct bpf_layout_field *f, const struct run_column_int *v)
{
	if (f->kind == BPF_LAYOUT_BOOL)
		return RUN_COLUMN_BOOL;
	return v->sign ? RUN_COLUMN_INT : RUN_COLUMN_UINT;
}

/* "uid" -> "user", "gid" -> "group", "loginuid" -> "loginuid_user" */
static char *uid_sibling_name(const struct catalog *b, const struct bpf_layout_field *f, bool uid)
{
	const char *target = ann(b, f->full_name, "uidgidresolver.target");
	const char *word = uid ? "user" : "group";
	size_t n = strlen(f->name);
	char leaf[BPF_LAYOUT_MAX_NAME + 8];

	if (target && *target && !strchr(target, '.'))
		return sibling_name(f->full_name, target, strlen(target));
	if (!strcmp(f->name, uid ? "uid" : "gid"))
		return sibling_name(f->full_name, word, strlen(word));
	if (n > RAW_SUFFIX_LEN && !strcmp(f->name + n - RAW_SUFFIX_LEN, RAW_SUFFIX))
		return sibling_name(f->full_name, f->name, n - RAW_SUFFIX_LEN);
	if (n >= BPF_LAYOUT_MAX_NAME)
		return NULL;
	snprintf(leaf, sizeof(leaf), "%s_%s", f->name, word);
	return sibling_name(f->full_name, leaf, strlen(leaf));
}

static int add_uid_gid(struct catalog *b, const struct bpf_layout_field *f,
		       const struct run_column_int *v, unsigned int hidden)
{
	bool uid = f->special == BPF_LAYOUT_SPECIAL_UID;
	size_t n = strlen(f->name);
	bool raw = n > RAW_SUFFIX_LEN && !strcmp(f->name + n - RAW_SUFFIX_LEN, RAW_SUFFIX);
	struct run_column *c = catalog_add(b);
	char *sib;
	int r;

	if (!c)
		return -ENOMEM;
	c->kind = numeric_kind(f, v);
	c->v = *v;
	c->type = int_type(v);
	c->flags = hidden;
	c->name = strdup(f->full_name);
	r = finish(b, c, f->name, "uid");
	if (r < 0)
		return r;
	sib = uid_sibling_name(b, f, uid);
	if (!sib || field_exists(b->l, sib)) {
		free(sib);
		return 0;
	}
	if (raw)
		c->flags |= RUN_COLUMN_HIDDEN;
	c = catalog_add(b);
	if (!c) {
		free(sib);
		return -ENOMEM;
	}
	set_derived(c, uid ? RUN_COLUMN_USER : RUN_COLUMN_GROUP, f, v);
	c->flags = hidden;
	c->name = sib;
	return finish(b, c, leaf_of(sib), NULL);
}

/* An endpoint's address "addr_raw": a readable "addr" first, the bytes hidden. */
static int add_endpoint_addr(struct catalog *b, const struct bpf_layout_field *f,
			     unsigned int hidden, bool raw)
{
	size_t n = strlen(f->name);
	char *name = raw ? sibling_name(f->full_name, f->name, n - RAW_SUFFIX_LEN)
			 : strdup(f->full_name);
	struct run_column *c;
	int r;

	if (!name)
		return -ENOMEM;
	if (raw && field_exists(b->l, name)) {
		free(name);
		name = NULL;
	}
	if (name) {
		c = catalog_add(b);
		if (!c) {
			free(name);
			return -ENOMEM;
		}
		c->kind = RUN_COLUMN_IP;
		c->type = "ip address";
		c->off = f->offset;
		c->size = 16;
		c->version = b->ep_version;
		c->flags = hidden;
		c->name = name;
		r = finish(b, c, leaf_of(name), NULL);
		if (r < 0 || !raw)
			return r;
		hidden |= RUN_COLUMN_HIDDEN;
	}
	c = catalog_add(b);
	if (!c)
		return -ENOMEM;
	c->kind = RUN_COLUMN_HEX;
	c->type = "bytes";
	c->off = f->offset;
	c->size = f->size;
	c->flags = hidden;
	c->name = strdup(f->full_name);
	return finish(b, c, f->name, NULL);
}

/* Columns of a leaf field: its own, and the human form of a special one. */
static int add_leaf(struct catalog *b, const struct bpf_layout_field *f)
{
	unsigned int hidden = b->ep_depth >= 0 ? RUN_COLUMN_HIDDEN : 0;
	const char *template = special_template(f->special);
	struct run_column_int v = {0};
	struct run_column *c;
	size_t n = strlen(f->name);
	bool raw = n > RAW_SUFFIX_LEN && !strcmp(f->name + n - RAW_SUFFIX_LEN, RAW_SUFFIX);
	int dk = -1, r;

	if (f->special == BPF_LAYOUT_SPECIAL_MNTNS_ID || f->special == BPF_LAYOUT_SPECIAL_NETNS_ID)
		hidden |= RUN_COLUMN_HIDDEN_COLS;
	/*
	 * Stacks are shown symbolised (run/stack.h): a kernel stack's id stays
	 * in JSON under its _raw name, a user stack's numbers are for --fields
	 */
	if (f->special == BPF_LAYOUT_SPECIAL_KERNEL_STACK && raw)
		hidden |= RUN_COLUMN_HIDDEN_COLS;
	if (b->us_depth >= 0)
		hidden |= RUN_COLUMN_HIDDEN;
	if (f->special == BPF_LAYOUT_SPECIAL_IP_ADDR && b->ep_depth >= 0 && f->size >= 16)
		return add_endpoint_addr(b, f, hidden, raw);
	if (int_of(f, &v)) {
		if (f->special == BPF_LAYOUT_SPECIAL_UID || f->special == BPF_LAYOUT_SPECIAL_GID)
			return add_uid_gid(b, f, &v, hidden);
		dk = derived_kind(b, f);
	}
	if (dk >= 0 && raw) {
		char *name = sibling_name(f->full_name, f->name, n - RAW_SUFFIX_LEN);

		if (!name)
			return -ENOMEM;
		if (field_exists(b->l, name)) {
			free(name);
		} else {
			c = catalog_add(b);
			if (!c) {
				free(name);
				return -ENOMEM;
			}
			set_derived(c, (enum run_column_kind)dk, f, &v);
			c->flags = hidden;
			c->name = name;
			r = finish(b, c, leaf_of(name), NULL);
			if (r < 0)
				return r;
			/* the number stays in JSON and YAML: it is what scripts compare */
			hidden |= RUN_COLUMN_HIDDEN_COLS;
		}
		dk = -1;
	}
	if (dk == RUN_COLUMN_BYTES || dk == RUN_COLUMN_DURATION)
		dk = -1;

	c = catalog_add(b);
	if (!c)
		return -ENOMEM;
	c->flags = hidden;
	c->name = strdup(f->full_name);
	/* borrowed from the layout, which outlives every pipeline built on it */
	c->btf_type = f->type_name;
	if (dk >= 0) {
		set_derived(c, (enum run_column_kind)dk, f, &v);
	} else if (v.size) {
		c->kind = numeric_kind(f, &v);
		c->v = v;
		c->type = c->kind == RUN_COLUMN_BOOL ? "bool" : int_type(&v);
	} else if (f->kind == BPF_LAYOUT_STRING) {
		c->kind = RUN_COLUMN_STRING;
		c->type = "string";
		c->off = f->offset;
		c->size = f->size;
	} else if (f->kind == BPF_LAYOUT_ARRAY && f->elem_kind != BPF_LAYOUT_STRUCT &&
		   f->elem_kind != BPF_LAYOUT_STRING && f->elem_kind != BPF_LAYOUT_BYTES &&
		   f->elem_kind != BPF_LAYOUT_ARRAY &&
		   (f->elem_size == 1 || f->elem_size == 2 || f->elem_size == 4 ||
		    f->elem_size == 8) &&
		   f->count && (uint64_t)f->elem_size * f->count <= f->size) {
		c->kind = RUN_COLUMN_ARRAY;
		c->type = "array";
		c->off = f->offset;
		c->size = f->elem_size * f->count;
		c->elem_size = f->elem_size;
		c->elem_sign = f->elem_kind == BPF_LAYOUT_INT;
	} else {
		c->kind = RUN_COLUMN_HEX;
		c->type = "bytes";
		c->off = f->offset;
		c->size = f->size;
	}
	return finish(b, c, special_short_name(f), template);
}

static const struct bpf_layout_field *member(const struct bpf_layout *l, size_t parent,
					     const char *name)
{
	size_t i;

	for (i = parent + 1; i < l->n_fields && l->fields[i].depth > l->fields[parent].depth; i++)
		if (l->fields[i].parent == (int)parent && !strcmp(l->fields[i].name, name))
			return &l->fields[i];
	return NULL;
}

static void member_int(const struct bpf_layout *l, size_t parent, const char *name, const char *alt,
		       uint32_t dflt_off, uint8_t dflt_size, struct run_column_int *v)
{
	const struct bpf_layout_field *f = member(l, parent, name);

	if (!f && alt)
		f = member(l, parent, alt);
	if (f && int_of(f, v))
		return;
	/* A layout without the member: the offsets of gadget/types.h. */
	memset(v, 0, sizeof(*v));
	if (l->fields[parent].size >= dflt_off + dflt_size) {
		v->off = l->fields[parent].offset + dflt_off;
		v->size = dflt_size;
	}
}

/* gadget_l4endpoint_t / gadget_l3endpoint_t: one column for the struct. */
static int add_endpoint(struct catalog *b, size_t i)
{
	const struct bpf_layout_field *f = &b->l->fields[i];
	const struct bpf_layout_field *addr = member(b->l, i, "addr_raw");
	bool l4 = f->special == BPF_LAYOUT_SPECIAL_L4ENDPOINT;
	struct run_column *c = catalog_add(b);

	if (!c)
		return -ENOMEM;
	c->kind = l4 ? RUN_COLUMN_L4 : RUN_COLUMN_L3;
	c->type = l4 ? "l4endpoint" : "l3endpoint";
	c->name = strdup(f->full_name);
	c->off = addr ? addr->offset : f->offset;
	c->size = 16;
	member_int(b->l, i, "version", NULL, l4 ? 20 : 16, 1, &c->version);
	if (l4) {
		member_int(b->l, i, "port", NULL, 16, 2, &c->port);
		member_int(b->l, i, "proto_raw", "proto", 18, 2, &c->proto);
	}
	if (c->off + 16 > f->offset + f->size)
		c->size = 0; /* too small to hold an address: shown empty */
	b->ep_depth = (int)f->depth;
	b->ep_version = c->version;
	return finish(b, c, f->name, NULL);
}

int run_column_catalog(const struct bpf_layout *l, const struct oci_metadata_ds *md,
		       struct run_column **ret, size_t *ret_n)
{
	struct catalog b = {.l = l, .md = md, .ep_depth = -1, .us_depth = -1};
	int skip_depth = -1;
	size_t i;
	int r = 0;

	for (i = 0; i < l->n_fields && r >= 0; i++) {
		const struct bpf_layout_field *f = &l->fields[i];

		if (skip_depth >= 0 && (int)f->depth > skip_depth)
			continue;
		skip_depth = -1;
		if (b.ep_depth >= 0 && (int)f->depth <= b.ep_depth)
			b.ep_depth = -1;
		if (b.us_depth >= 0 && (int)f->depth <= b.us_depth)
			b.us_depth = -1;
		/* "__" marks a gadget's internals */
		if (!f->name || !f->full_name || !strncmp(f->name, "__", 2)) {
			if (f->kind == BPF_LAYOUT_STRUCT)
				skip_depth = (int)f->depth;
			continue;
		}
		if (f->special == BPF_LAYOUT_SPECIAL_USER_STACK && f->kind == BPF_LAYOUT_STRUCT) {
			b.us_depth = (int)f->depth;
			continue;
		}
		if (f->kind == BPF_LAYOUT_STRUCT) {
			if (f->special == BPF_LAYOUT_SPECIAL_L4ENDPOINT ||
			    f->special == BPF_LAYOUT_SPECIAL_L3ENDPOINT)
				r = add_endpoint(&b, i);
			continue;
		}
		r = add_leaf(&b, f);
	}
	if (r < 0) {
		run_column_free_all(b.cols, b.n);
		return r;
	}
	*ret = b.cols;
	*ret_n = b.n;
	return 0;
}

int run_column_init_extern(struct run_column *c, const char *name, const char *description,
			   bool hidden, int width,
			   int (*text_fn)(const void *, size_t, struct base_buf *, void *),
			   void *ctx)
{
	memset(c, 0, sizeof(*c));
	c->kind = RUN_COLUMN_EXTERN;
	c->type = "string";
	c->flags = hidden ? RUN_COLUMN_HIDDEN : 0;
	c->width = width > 0 && width <= MAX_WIDTH ? (unsigned int)width : 16;
	c->text_fn = text_fn;
	c->ctx = ctx;
	c->name = strdup(name);
	c->short_name = strdup(name);
	c->description = description ? strdup(description) : NULL;
	if (!c->name || !c->short_name || (description && !c->description)) {
		run_column_done(c);
		return -ENOMEM;
	}
	return 0;
}

int run_column_init_ep_k8s(struct run_column *c, const struct run_column *ep_col,
			   enum run_column_ep_part part)
{
	static const char *const leaf[] = {
		[RUN_COLUMN_EP_KIND] = "kind",
		[RUN_COLUMN_EP_NAME] = "name",
		[RUN_COLUMN_EP_NAMESPACE] = "namespace",
	};
	static const unsigned int width[] = {
		[RUN_COLUMN_EP_KIND] = 8,
		[RUN_COLUMN_EP_NAME] = 24,
		[RUN_COLUMN_EP_NAMESPACE] = 16,
	};
	static const char *const what[] = {
		[RUN_COLUMN_EP_KIND] = "Pod, Service or Node with this address",
		[RUN_COLUMN_EP_NAME] = "Name of the pod, service or node with this address",
		[RUN_COLUMN_EP_NAMESPACE] = "Namespace of the pod or service with this address",
	};
	struct base_buf b = BASE_BUF_INIT(0);

	memset(c, 0, sizeof(*c));
	c->kind = RUN_COLUMN_EP_K8S;
	c->type = "string";
	c->flags = (ep_col->flags & RUN_COLUMN_HIDDEN) | RUN_COLUMN_HIDDEN_COLS;
	c->width = width[part];
	c->off = ep_col->off;
	c->size = ep_col->size;
	c->version = ep_col->version;
	c->ep = ep_col->ep;
	c->ep_part = part;
	if (base_buf_printf(&b, "%s.k8s.%s", ep_col->name, leaf[part]) < 0)
		return -ENOMEM;
	c->name = base_buf_take(&b);
	/* the header is cut like any cell: leave room for "DST.K8S.NAMESPACE" */
	if (c->name && strlen(c->name) > c->width && strlen(c->name) <= MAX_WIDTH)
		c->width = (unsigned int)strlen(c->name);
	/* "src.k8s.name": a bare "name" would be ambiguous between endpoints */
	c->short_name = c->name ? strdup(c->name) : NULL;
	c->description = strdup(what[part]);
	if (!c->name || !c->short_name || !c->description) {
		run_column_done(c);
		return -ENOMEM;
	}
	return 0;
}

void run_column_done(struct run_column *c)
{
	if (c->kind == RUN_COLUMN_L4 && c->ep) {
		if (c->ep->val.ref && c->ep->res.release)
			c->ep->res.release(c->ep->res.ctx, c->ep->val.ref);
		free(c->ep);
		c->ep = NULL;
	}
	free(c->name);
	free(c->short_name);
	free(c->description);
	c->name = c->short_name = c->description = NULL;
}

void run_column_free_all(struct run_column *cols, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		run_column_done(&cols[i]);
	free(cols);
}

int run_column_find(const struct run_column *cols, size_t n, const char *name, size_t len)
{
	size_t i, found = n;

	for (i = 0; i < n; i++)
		if (!strncmp(cols[i].name, name, len) && !cols[i].name[len])
			return (int)i;
	for (i = 0; i < n; i++) {
		if (strncmp(cols[i].short_name, name, len) || cols[i].short_name[len])
			continue;
		if (found != n)
			return -EINVAL;
		found = i;
	}
	return found == n ? -ENOENT : (int)found;
}

uint64_t run_column_read(const struct run_column_int *v, const void *rec, size_t size)
{
	const uint8_t *p = (const uint8_t *)rec + v->off;
	unsigned int bits = v->size * 8;
	uint64_t x;

	if (!v->size || v->off >= size || size - v->off < v->size)
		return 0;
	switch (v->size) {
	case 1:
		x = p[0];
		break;
	case 2: {
		uint16_t t;

		memcpy(&t, p, 2);
		x = t;
		break;
	}
	case 4: {
		uint32_t t;

		memcpy(&t, p, 4);
		x = t;
		break;
	}
	default:
		memcpy(&x, p, 8);
		break;
	}
	if (v->bit_size) {
		x >>= v->bit_off;
		bits = v->bit_size;
	}
	if (bits < 64) {
		x &= (UINT64_C(1) << bits) - 1;
		if (v->sign && (x >> (bits - 1)) & 1)
			x |= ~((UINT64_C(1) << bits) - 1);
	}
	return x;
}

static int put_int(const struct run_column_int *v, const void *rec, size_t size,
		   struct base_buf *out)
{
	uint64_t x = run_column_read(v, rec, size);

	return v->sign ? run_put_i64(out, (int64_t)x) : run_put_u64(out, x);
}

static int text_enum(const struct run_column *c, uint64_t x, struct base_buf *out)
{
	const struct bpf_layout_field *f = c->field;
	uint64_t rest = x;
	bool any = false;
	size_t i;
	int r = 0;

	for (i = 0; i < f->n_enum_vals; i++)
		if ((uint64_t)f->enum_vals[i].value == x && f->enum_vals[i].name)
			return base_buf_puts(out, f->enum_vals[i].name);
	if (!c->enum_flags || !x)
		return c->v.sign ? base_buf_put_i64(out, (int64_t)x) : base_buf_put_u64(out, x);
	for (i = 0; i < f->n_enum_vals && r >= 0; i++) {
		uint64_t bit = (uint64_t)f->enum_vals[i].value;

		if (!bit || !f->enum_vals[i].name || (rest & bit) != bit)
			continue;
		rest &= ~bit;
		if (any)
			r = base_buf_putc(out, '|');
		if (r >= 0)
			r = base_buf_puts(out, f->enum_vals[i].name);
		any = true;
	}
	if (r >= 0 && rest)
		r = base_buf_printf(out, any ? "|0x%llx" : "0x%llx", (unsigned long long)rest);
	return r;
}

/* The bytes of [off, off + len) that the record holds. */
static size_t avail(uint32_t off, uint32_t len, size_t size)
{
	if (off >= size)
		return 0;
	return size - off < len ? size - off : len;
}

static int text_strings(const struct run_column *c, const void *rec, size_t size,
			struct base_buf *out)
{
	const char *p = (const char *)rec + c->off;
	size_t n = avail(c->off, c->size, size), i, start;
	int r;

	while (n && !p[n - 1])
		n--;
	r = base_buf_reserve(out, n);
	if (r < 0)
		return r;
	start = out->len;
	for (i = 0; i < n; i++)
		out->data[start + i] = p[i] ? p[i] : ' ';
	out->len += n;
	out->data[out->len] = '\0';
	return 0;
}

static int text_array(const struct run_column *c, const void *rec, size_t size,
		      struct base_buf *out, const char *sep)
{
	struct run_column_int e = {.size = (uint8_t)c->elem_size, .sign = c->elem_sign};
	size_t n = avail(c->off, c->size, size) / c->elem_size, i;
	int r = base_buf_putc(out, '[');

	for (i = 0; i < n && r >= 0; i++) {
		e.off = c->off + (uint32_t)(i * c->elem_size);
		if (i)
			r = base_buf_puts(out, sep);
		if (r >= 0)
			r = put_int(&e, rec, size, out);
	}
	return r < 0 ? r : base_buf_putc(out, ']');
}

static int text_hex(const struct run_column *c, const void *rec, size_t size, struct base_buf *out)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *p = (const uint8_t *)rec + c->off;
	size_t n = avail(c->off, c->size, size), i;
	char *o;
	int r = base_buf_reserve(out, 2 * n);

	if (r < 0)
		return r;
	o = out->data + out->len;
	for (i = 0; i < n; i++) {
		*o++ = digits[p[i] >> 4];
		*o++ = digits[p[i] & 15];
	}
	*o = '\0';
	out->len += 2 * n;
	return 0;
}

static int text_ip(const struct run_column *c, const void *rec, size_t size, struct base_buf *out)
{
	unsigned int version = (unsigned int)run_column_read(&c->version, rec, size);

	if (!c->size || avail(c->off, 16, size) < (version == 4 ? 4u : 16u))
		return 0;
	return run_render_ip(out, (const uint8_t *)rec + c->off, version);
}

static int text_proto(uint64_t proto, struct base_buf *out)
{
	const char *name = run_render_proto_name(proto);

	return name ? base_buf_puts(out, name) : base_buf_put_u64(out, proto);
}

/*
 * The cluster object behind the endpoint's address, once per record; NULL
 * when there is none.  A failed lookup counts as none: a record is worth
 * more than its enrichment.
 */
static const struct run_endpoint_k8s *
ep_lookup(struct run_column_env *env, const struct run_column *c, const void *rec, size_t size)
{
	return run_column_ep_lookup(env, c, rec, size, NULL, 0);
}

const struct run_endpoint_k8s *run_column_ep_lookup(struct run_column_env *env,
						    const struct run_column *c, const void *rec,
						    size_t size, char *ip_out, size_t ip_len)
{
	struct run_column_ep *ep = c->ep;
	unsigned int version;
	char ip[INET6_ADDRSTRLEN];

	if (ip_out && ip_len)
		ip_out[0] = '\0';
	if (ep->epoch == env->epoch && !ip_out)
		return ep->found ? &ep->val : NULL;
	if (ep->val.ref && ep->res.release)
		ep->res.release(ep->res.ctx, ep->val.ref);
	memset(&ep->val, 0, sizeof(ep->val));
	ep->epoch = env->epoch;
	ep->found = false;
	version = (unsigned int)run_column_read(&c->version, rec, size);
	if ((version != 4 && version != 6) || !c->size ||
	    avail(c->off, 16, size) < (version == 4 ? 4u : 16u))
		return NULL;
	if (!inet_ntop(version == 4 ? AF_INET : AF_INET6, (const uint8_t *)rec + c->off, ip,
		       sizeof(ip)))
		return NULL;
	if (ip_out && ip_len)
		snprintf(ip_out, ip_len, "%s", ip);
	ep->found = ep->res.lookup(ep->res.ctx, ip, &ep->val) == 0;
	if (!ep->found && ep->val.ref && ep->res.release)
		ep->res.release(ep->res.ctx, ep->val.ref);
	if (!ep->found)
		memset(&ep->val, 0, sizeof(ep->val));
	return ep->found ? &ep->val : NULL;
}

static const char *ep_part_of(const struct run_endpoint_k8s *v, enum run_column_ep_part part)
{
	const char *s = NULL;

	if (!v)
		return "";
	switch (part) {
	case RUN_COLUMN_EP_KIND:
		s = v->kind;
		break;
	case RUN_COLUMN_EP_NAME:
		s = v->name;
		break;
	case RUN_COLUMN_EP_NAMESPACE:
		s = v->namespace;
		break;
	}
	return s ? s : "";
}

static int text_endpoint(const struct run_column *c, const void *rec, size_t size,
			 struct base_buf *out)
{
	unsigned int version = (unsigned int)run_column_read(&c->version, rec, size);
	size_t start = out->len;
	int r;

	if (c->kind == RUN_COLUMN_L4 && version == 6) {
		r = base_buf_putc(out, '[');
		if (r >= 0)
			r = text_ip(c, rec, size, out);
		if (r >= 0)
			r = base_buf_putc(out, ']');
	} else {
		r = text_ip(c, rec, size, out);
	}
	if (r < 0 || c->kind == RUN_COLUMN_L3)
		return r;
	if (out->len == start)
		return 0; /* no address, no port */
	r = base_buf_putc(out, ':');
	return r < 0 ? r : base_buf_put_u64(out, run_column_read(&c->port, rec, size));
}

int run_column_text(struct run_column_env *env, const struct run_column *c, const void *rec,
		    size_t size, struct base_buf *out)
{
	uint64_t x = run_column_read(&c->v, rec, size);
	const char *name;
	size_t n;

	switch (c->kind) {
	case RUN_COLUMN_UINT:
		return run_put_u64(out, x);
	case RUN_COLUMN_INT:
		return run_put_i64(out, (int64_t)x);
	case RUN_COLUMN_BOOL:
		return base_buf_puts(out, x ? "true" : "false");
	case RUN_COLUMN_STRING:
		name = run_column_string(c, rec, size, &n);
		return base_buf_append(out, name, n);
	case RUN_COLUMN_STRINGS:
		return text_strings(c, rec, size, out);
	case RUN_COLUMN_ARRAY:
		return text_array(c, rec, size, out, ",");
	case RUN_COLUMN_HEX:
		return text_hex(c, rec, size, out);
	case RUN_COLUMN_L4:
	case RUN_COLUMN_L3:
		return text_endpoint(c, rec, size, out);
	case RUN_COLUMN_IP:
		return text_ip(c, rec, size, out);
	case RUN_COLUMN_PROTO:
		return text_proto(x, out);
	case RUN_COLUMN_ERRNO:
		return run_render_errno(out, x);
	case RUN_COLUMN_SIGNAL:
		return run_render_signal(out, x);
	case RUN_COLUMN_SYSCALL:
		return run_render_syscall(out, x);
	case RUN_COLUMN_FILE_FLAGS:
		return run_render_file_flags(out, x);
	case RUN_COLUMN_FILE_MODE:
		return run_render_file_mode(out, x);
	case RUN_COLUMN_ENUM:
		return text_enum(c, x, out);
	case RUN_COLUMN_TIMESTAMP:
		if (!x)
			return 1; /* never set by the gadget */
		/* unsigned arithmetic: a garbage timestamp must not overflow */
		return run_render_timestamp(out, (int64_t)(x + (uint64_t)env->boot_to_real_ns),
					    &env->time);
	case RUN_COLUMN_BYTES:
		return run_render_bytes(out, x);
	case RUN_COLUMN_DURATION:
		return run_render_duration(out, (int64_t)x);
	case RUN_COLUMN_USER:
	case RUN_COLUMN_GROUP:
		if (!env->users && run_users_new(NULL, NULL, &env->users) < 0)
			return -ENOMEM;
		name = c->kind == RUN_COLUMN_USER ? run_users_user(env->users, (uint32_t)x)
						  : run_users_group(env->users, (uint32_t)x);
		return name ? base_buf_puts(out, name) : 1;
	case RUN_COLUMN_EXTERN: {
		size_t before = out->len;
		int r = c->text_fn(rec, size, out, c->ctx);

		if (r != 0) {
			/* A failing callback must not leave half a value behind. */
			out->len = before;
			if (out->data)
				out->data[before] = '\0';
		}
		return r < 0 ? r : r ? 1 : 0;
	}
	case RUN_COLUMN_EP_K8S:
		return base_buf_puts(out, ep_part_of(ep_lookup(env, c, rec, size), c->ep_part));
	}
	return 1;
}

static int put_indent(struct base_buf *out, int indent)
{
	static const char spaces[] = "                                ";
	int r = 0;

	while (indent > 0 && r >= 0) {
		int n = indent < (int)sizeof(spaces) - 1 ? indent : (int)sizeof(spaces) - 1;

		r = run_put(out, spaces, (size_t)n);
		indent -= n;
	}
	return r;
}

/* A new line indented by indent spaces; nothing for compact JSON (indent < 0). */
static int put_newline(struct base_buf *out, int indent)
{
	int r;

	if (indent < 0)
		return 0;
	r = base_buf_putc(out, '\n');
	return r < 0 ? r : put_indent(out, indent);
}

/* The text of an RUN_COLUMN_NUMBER column (or true/false), if it is one, else false (then quoted).
 */
static bool is_decimal(const struct run_column *c, const struct base_buf *b)
{
	size_t i;

	if (!(c->flags & RUN_COLUMN_NUMBER) || !b->len || b->len > 20)
		return false;
	/* JSON's literals too, for computed booleans */
	if ((b->len == 4 && !memcmp(b->data, "true", 4)) ||
	    (b->len == 5 && !memcmp(b->data, "false", 5)))
		return true;
	for (i = 0; i < b->len; i++)
		if (b->data[i] < '0' || b->data[i] > '9')
			return false;
	return true;
}

static int json_text(struct run_column_env *env, const struct run_column *c, const void *rec,
		     size_t size, struct base_buf *out)
{
	int r;

	base_buf_reset(&env->scratch);
	r = run_column_text(env, c, rec, size, &env->scratch);
	if (r < 0)
		return r;
	if (r)
		return run_put(out, "null", 4);
	if (is_decimal(c, &env->scratch))
		return run_put(out, env->scratch.data, env->scratch.len);
	return run_escape_json(out, env->scratch.data ? env->scratch.data : "", env->scratch.len,
			       0);
}

/* ,"k8s":{"kind":..,"name":..,"namespace":..} with members at indent (< 0: compact) */
static int json_endpoint_k8s(struct run_column_env *env, const struct run_column *c,
			     const void *rec, size_t size, struct base_buf *out, int indent)
{
	static const char *const keys[] = {"kind", "name", "namespace"};
	const struct run_endpoint_k8s *v = ep_lookup(env, c, rec, size);
	const char *colon = indent < 0 ? ":" : ": ";
	size_t k;
	int r = base_buf_putc(out, ',');

	if (r >= 0)
		r = put_newline(out, indent);
	if (r >= 0)
		r = base_buf_printf(out, "\"k8s\"%s{", colon);
	for (k = 0; k < 3 && r >= 0; k++) {
		const char *s = ep_part_of(v, (enum run_column_ep_part)k);

		if (k)
			r = base_buf_putc(out, ',');
		if (r >= 0)
			r = put_newline(out, indent < 0 ? -1 : indent + 2);
		if (r >= 0)
			r = base_buf_printf(out, "\"%s\"%s", keys[k], colon);
		if (r >= 0)
			r = run_escape_json(out, s, strlen(s), 0);
	}
	if (r >= 0)
		r = put_newline(out, indent);
	return r < 0 ? r : base_buf_putc(out, '}');
}

/* "key": (or "key":) without printf, which costs a record of many endpoints dearly. */
static int json_key(struct base_buf *out, const char *key, const char *colon)
{
	int r = base_buf_putc(out, '"');

	if (r >= 0)
		r = base_buf_puts(out, key);
	if (r >= 0)
		r = base_buf_putc(out, '"');
	return r < 0 ? r : base_buf_puts(out, colon);
}

/* {"addr":..,"version":..,"port":..,"proto":..} */
static int json_endpoint(struct run_column_env *env, const struct run_column *c, const void *rec,
			 size_t size, struct base_buf *out, int indent)
{
	int in = indent < 0 ? -1 : indent + 2;
	const char *colon = indent < 0 ? ":" : ": ";
	unsigned int version = (unsigned int)run_column_read(&c->version, rec, size);
	int r;

	base_buf_reset(&env->scratch);
	r = text_ip(c, rec, size, &env->scratch);
	if (r >= 0)
		r = base_buf_putc(out, '{');
	if (r >= 0)
		r = put_newline(out, in);
	if (r >= 0)
		r = json_key(out, "addr", colon);
	if (r >= 0)
		r = run_escape_json(out, env->scratch.data ? env->scratch.data : "",
				    env->scratch.len, 0);
	if (r >= 0)
		r = base_buf_putc(out, ',');
	if (r >= 0)
		r = put_newline(out, in);
	if (r >= 0)
		r = json_key(out, "version", colon);
	if (r >= 0)
		r = base_buf_put_u64(out, version);
	if (r >= 0 && c->kind == RUN_COLUMN_L4) {
		uint64_t proto = run_column_read(&c->proto, rec, size);
		const char *name = run_render_proto_name(proto);

		r = base_buf_putc(out, ',');
		if (r >= 0)
			r = put_newline(out, in);
		if (r >= 0)
			r = json_key(out, "port", colon);
		if (r >= 0)
			r = base_buf_put_u64(out, run_column_read(&c->port, rec, size));
		if (r >= 0)
			r = base_buf_putc(out, ',');
		if (r >= 0)
			r = put_newline(out, in);
		if (r >= 0 && name) {
			r = json_key(out, "proto", colon);
			if (r >= 0)
				r = base_buf_putc(out, '"');
			if (r >= 0)
				r = base_buf_puts(out, name);
			if (r >= 0)
				r = base_buf_putc(out, '"');
		} else if (r >= 0)
			r = base_buf_printf(out, "\"proto\"%s\"%llu\"", colon,
					    (unsigned long long)proto);
	}
	if (r >= 0 && c->ep)
		r = json_endpoint_k8s(env, c, rec, size, out, in);
	if (r >= 0)
		r = put_newline(out, indent);
	return r < 0 ? r : base_buf_putc(out, '}');
}

static int json_array(const struct run_column *c, const void *rec, size_t size,
		      struct base_buf *out, int indent)
{
	struct run_column_int e = {.size = (uint8_t)c->elem_size, .sign = c->elem_sign};
	size_t n = avail(c->off, c->size, size) / c->elem_size, i;
	int r = base_buf_putc(out, '[');

	for (i = 0; i < n && r >= 0; i++) {
		e.off = c->off + (uint32_t)(i * c->elem_size);
		if (i)
			r = base_buf_putc(out, ',');
		if (r >= 0)
			r = put_newline(out, indent < 0 ? -1 : indent + 2);
		if (r >= 0)
			r = put_int(&e, rec, size, out);
	}
	if (r >= 0 && n)
		r = put_newline(out, indent);
	return r < 0 ? r : base_buf_putc(out, ']');
}

int run_column_json(struct run_column_env *env, const struct run_column *c, const void *rec,
		    size_t size, struct base_buf *out, int indent)
{
	uint64_t x;
	const char *s;
	size_t n;

	switch (c->kind) {
	case RUN_COLUMN_UINT:
		return run_put_u64(out, run_column_read(&c->v, rec, size));
	case RUN_COLUMN_INT:
		return run_put_i64(out, (int64_t)run_column_read(&c->v, rec, size));
	case RUN_COLUMN_BOOL:
		x = run_column_read(&c->v, rec, size);
		return x ? run_put(out, "true", 4) : run_put(out, "false", 5);
	case RUN_COLUMN_STRING:
		s = run_column_string(c, rec, size, &n);
		return run_escape_json(out, s, n, 0);
	case RUN_COLUMN_ARRAY:
		return json_array(c, rec, size, out, indent);
	case RUN_COLUMN_L4:
	case RUN_COLUMN_L3:
		return json_endpoint(env, c, rec, size, out, indent);
	default:
		return json_text(env, c, rec, size, out);
	}
}

/* "\nk8s:" and its members one level deeper than indent */
static int yaml_endpoint_k8s(struct run_column_env *env, const struct run_column *c,
			     const void *rec, size_t size, struct base_buf *out, int indent)
{
	static const char *const keys[] = {"kind: ", "name: ", "namespace: "};
	const struct run_endpoint_k8s *v = ep_lookup(env, c, rec, size);
	size_t k;
	int r = put_newline(out, indent);

	if (r >= 0)
		r = base_buf_puts(out, "k8s:");
	for (k = 0; k < 3 && r >= 0; k++) {
		const char *s = ep_part_of(v, (enum run_column_ep_part)k);

		r = put_newline(out, indent + 2);
		if (r >= 0)
			r = base_buf_puts(out, keys[k]);
		if (r >= 0)
			r = run_escape_yaml(out, s, strlen(s));
	}
	return r;
}

int run_column_yaml(struct run_column_env *env, const struct run_column *c, const void *rec,
		    size_t size, struct base_buf *out, int indent)
{
	int r;

	switch (c->kind) {
	case RUN_COLUMN_UINT:
	case RUN_COLUMN_INT:
	case RUN_COLUMN_BOOL:
		r = base_buf_putc(out, ' ');
		if (r >= 0)
			r = run_column_text(env, c, rec, size, out);
		break;
	case RUN_COLUMN_ARRAY:
		r = base_buf_putc(out, ' ');
		if (r >= 0)
			r = text_array(c, rec, size, out, ", ");
		break;
	case RUN_COLUMN_L4:
	case RUN_COLUMN_L3: {
		uint64_t proto = run_column_read(&c->proto, rec, size);
		const char *name = run_render_proto_name(proto);

		base_buf_reset(&env->scratch);
		r = text_ip(c, rec, size, &env->scratch);
		if (r >= 0)
			r = put_newline(out, indent);
		if (r >= 0)
			r = base_buf_puts(out, "addr: ");
		if (r >= 0)
			r = run_escape_yaml(out, env->scratch.data ? env->scratch.data : "",
					    env->scratch.len);
		if (r >= 0)
			r = put_newline(out, indent);
		if (r >= 0)
			r = base_buf_printf(out, "version: %u",
					    (unsigned int)run_column_read(&c->version, rec, size));
		if (r < 0 || c->kind == RUN_COLUMN_L3)
			break;
		r = put_newline(out, indent);
		if (r >= 0)
			r = base_buf_printf(out, "port: %u",
					    (unsigned int)run_column_read(&c->port, rec, size));
		if (r >= 0)
			r = put_newline(out, indent);
		if (r >= 0 && name)
			r = base_buf_printf(out, "proto: %s", name);
		else if (r >= 0)
			r = base_buf_printf(out, "proto: \"%llu\"", (unsigned long long)proto);
		if (r >= 0 && c->ep)
			r = yaml_endpoint_k8s(env, c, rec, size, out, indent);
		break;
	}
	default:
		base_buf_reset(&env->scratch);
		r = run_column_text(env, c, rec, size, &env->scratch);
		if (r < 0)
			return r;
		if (r) {
			r = base_buf_puts(out, " null");
			break;
		}
		r = base_buf_putc(out, ' ');
		if (r >= 0 && is_decimal(c, &env->scratch))
			r = run_put(out, env->scratch.data, env->scratch.len);
		else if (r >= 0)
			r = run_escape_yaml(out, env->scratch.data ? env->scratch.data : "",
					    env->scratch.len);
		break;
	}
	return r < 0 ? r : base_buf_putc(out, '\n');
}
