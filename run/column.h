/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Columns: the values a pipeline can show, filter on and sort by.
 *
 * The catalog of a data source is derived once from its record layout and
 * gadget.yaml annotations: one column per leaf field, plus the human-readable
 * siblings of special fields ("error" for "error_raw"), plus one column per
 * network endpoint struct (and, once a resolver is given, the F.k8s.* names
 * of the cluster object behind an L4 endpoint F).  Everything a record needs at run time (offsets,
 * widths, how to render) is decided here so that formatting a record is a
 * walk over precomputed columns.
 *
 * This header is internal to agent/.
 */
#ifndef RUN_COLUMN_H
#define RUN_COLUMN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "run/pipeline.h"
#include "run/render.h"
#include "base/buf.h"

struct bpf_layout;
struct bpf_layout_field;
struct oci_metadata_ds;
struct run_users;

enum run_column_kind {
	RUN_COLUMN_UINT = 0,
	RUN_COLUMN_INT,
	RUN_COLUMN_BOOL,
	RUN_COLUMN_STRING,  /* char array up to its first NUL */
	RUN_COLUMN_STRINGS, /* NUL-separated strings, shown joined by spaces */
	RUN_COLUMN_ARRAY,   /* integers */
	RUN_COLUMN_HEX,	    /* opaque bytes */
	RUN_COLUMN_L4,	    /* gadget_l4endpoint_t */
	RUN_COLUMN_L3,	    /* gadget_l3endpoint_t */
	RUN_COLUMN_IP,	    /* an endpoint's address */
	RUN_COLUMN_PROTO,   /* an endpoint's IP protocol */
	RUN_COLUMN_ERRNO,
	RUN_COLUMN_SIGNAL,
	RUN_COLUMN_SYSCALL,
	RUN_COLUMN_FILE_FLAGS,
	RUN_COLUMN_FILE_MODE,
	RUN_COLUMN_ENUM,
	RUN_COLUMN_TIMESTAMP,
	RUN_COLUMN_BYTES,
	RUN_COLUMN_DURATION,
	RUN_COLUMN_USER,
	RUN_COLUMN_GROUP,
	RUN_COLUMN_EXTERN, /* computed by a caller's callback */
	RUN_COLUMN_EP_K8S, /* F.k8s.kind/name/namespace of an L4 endpoint F */
};

#define RUN_COLUMN_HIDDEN      (1u << 0) /* not in any default set */
#define RUN_COLUMN_HIDDEN_COLS (1u << 1) /* not in the default set of columns mode */
#define RUN_COLUMN_JSON_SKIP   (1u << 2) /* not in the default set of json / yaml */
#define RUN_COLUMN_RIGHT       (1u << 3) /* right-aligned in columns mode */
/* a caller-computed column whose text is a decimal number: unquoted in JSON and YAML */
#define RUN_COLUMN_NUMBER (1u << 4)

/* Where an integer lives in a record. */
struct run_column_int {
	uint32_t off;
	uint8_t size; /* 1, 2, 4 or 8; 0 = absent */
	uint8_t bit_off;
	uint8_t bit_size; /* 0 unless a bitfield */
	bool sign;
};

/*
 * The cluster object behind an L4 endpoint's address, shared by the endpoint
 * column (which owns it) and its F.k8s.* columns; looked up once per record
 * (run_column_env.epoch) and held until the next record.
 */
struct run_column_ep {
	struct run_endpoint_resolver res;
	uint64_t epoch; /* of the record val belongs to; 0 = none yet */
	bool found;
	struct run_endpoint_k8s val;
};

enum run_column_ep_part {
	RUN_COLUMN_EP_KIND = 0,
	RUN_COLUMN_EP_NAME,
	RUN_COLUMN_EP_NAMESPACE,
};

struct run_column {
	char *name;	   /* full dotted name: "proc.comm" */
	char *short_name;  /* "comm": the header and a lookup alias when unambiguous */
	char *description; /* NULL when none */
	const char *type;  /* for --help: "uint32", "string", "errno", ... */
	/* the BTF type as written ("gadget_counter__u32"); NULL for computed columns */
	const char *btf_type;
	enum run_column_kind kind;
	unsigned int flags;
	unsigned int width; /* columns mode; 0 = unlimited */

	struct run_column_int v; /* integer kinds and everything derived from one */
	uint32_t off, size;	 /* STRING, STRINGS, ARRAY, HEX, IP: the bytes */
	uint32_t elem_size;	 /* ARRAY */
	bool elem_sign;
	bool enum_flags; /* ENUM: every value is a single bit, show "A|B" */
	struct run_column_int port, proto, version; /* L4, L3, IP */
	const struct bpf_layout_field *field;	    /* ENUM: names of the values */

	int (*text_fn)(const void *record, size_t size, struct base_buf *out, void *ctx);
	void *ctx;		       /* EXTERN */
	enum run_column_source source; /* EXTERN */

	struct run_column_ep *ep; /* L4 (owner) and EP_K8S: NULL unless resolved */
	enum run_column_ep_part ep_part;
};

/* State the renderers share, owned by the pipeline. */
struct run_column_env {
	struct run_users *users; /* created lazily by the user/group columns */
	int64_t boot_to_real_ns; /* CLOCK_REALTIME - CLOCK_BOOTTIME */
	struct run_render_time_cache time;
	struct base_buf scratch;
	uint64_t epoch; /* bumped for every record looked at; see run_pipeline_epoch() */
};

/*
 * Builds the catalog of layout l with the annotations of md (may be NULL):
 * a new array of *ret_n columns in layout order; free with
 * run_column_free_all().  -E2BIG, -ENOMEM.
 */
int run_column_catalog(const struct bpf_layout *l, const struct oci_metadata_ds *md,
		       struct run_column **ret, size_t *ret_n);

/* Fills c for a caller-computed column; strings are copied.  -ENOMEM. */
int run_column_init_extern(struct run_column *c, const char *name, const char *description,
			   bool hidden, int width,
			   int (*text_fn)(const void *, size_t, struct base_buf *, void *),
			   void *ctx);
/*
 * Fills c as part of the L4 endpoint column ep_col, whose resolver state ep
 * it shares (ep_col must own it).  -ENOMEM.
 */
int run_column_init_ep_k8s(struct run_column *c, const struct run_column *ep_col,
			   enum run_column_ep_part part);
void run_column_done(struct run_column *c);
void run_column_free_all(struct run_column *cols, size_t n);

/*
 * Looks a user-given name up: a full name first, then a short name that only
 * one column has.  Returns the index, -ENOENT, or -EINVAL when the short name
 * is ambiguous.
 */
int run_column_find(const struct run_column *cols, size_t n, const char *name, size_t len);

/*
 * The cluster object behind the address of the L4 endpoint column c (one
 * with a resolver) in rec, looked up once per record; NULL when none.  With
 * ip_out, also the address as text ("" when the record has none).
 */
const struct run_endpoint_k8s *run_column_ep_lookup(struct run_column_env *env,
						    const struct run_column *c, const void *rec,
						    size_t size, char *ip_out, size_t ip_len);

/* Numbers compare as numbers; everything else as the text shown. */
static inline bool run_column_is_number(const struct run_column *c)
{
	return c->kind == RUN_COLUMN_UINT || c->kind == RUN_COLUMN_INT ||
	       c->kind == RUN_COLUMN_BOOL;
}

/* Columns whose text sorts wrongly but whose raw integer sorts right. */
static inline bool run_column_sorts_by_int(const struct run_column *c)
{
	return run_column_is_number(c) || c->kind == RUN_COLUMN_TIMESTAMP ||
	       c->kind == RUN_COLUMN_BYTES || c->kind == RUN_COLUMN_DURATION;
}

/* An integer from a record, sign-extended when signed; 0 past the end. */
uint64_t run_column_read(const struct run_column_int *v, const void *rec, size_t size);

/* A STRING column's bytes in rec, without copying; length 0 past the end. */
static inline const char *run_column_string(const struct run_column *c, const void *rec,
					    size_t size, size_t *ret_len)
{
	const char *p = (const char *)rec + c->off;
	size_t avail;

	if (c->off >= size) {
		*ret_len = 0;
		return "";
	}
	avail = size - c->off < c->size ? size - c->off : c->size;
	*ret_len = strnlen(p, avail);
	return p;
}

/*
 * Appends the value as text (what columns mode shows and text filters
 * compare).  Returns 0, 1 when there is no value (nothing appended), or a
 * negative errno.
 */
int run_column_text(struct run_column_env *env, const struct run_column *c, const void *rec,
		    size_t size, struct base_buf *out);

/*
 * Appends the value as JSON.  indent < 0 is compact; otherwise nested
 * objects and arrays are pretty-printed with their members at indent + 2
 * spaces.  0 or a negative errno.
 */
int run_column_json(struct run_column_env *env, const struct run_column *c, const void *rec,
		    size_t size, struct base_buf *out, int indent);

/*
 * Appends the value of a YAML mapping entry whose "key:" was just written:
 * " scalar\n", or a newline and a nested mapping at indent spaces.
 */
int run_column_yaml(struct run_column_env *env, const struct run_column *c, const void *rec,
		    size_t size, struct base_buf *out, int indent);

/* Appends n bytes; the fast path of every writer in agent/. */
static inline int run_put(struct base_buf *b, const void *p, size_t n)
{
	if (b->len + n < b->cap) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
		b->data[b->len] = '\0';
		return 0;
	}
	return base_buf_append(b, p, n);
}

/*
 * Appends v in decimal; with room for the widest number it writes in place
 * (every integer of every record goes through here).
 */
static inline int run_put_u64(struct base_buf *b, uint64_t v)
{
	char tmp[20], *o;
	size_t i = sizeof(tmp), n;

	if (b->len + sizeof(tmp) >= b->cap)
		return base_buf_put_u64(b, v);
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	n = sizeof(tmp) - i;
	o = b->data + b->len;
	memcpy(o, tmp + i, n);
	o[n] = '\0';
	b->len += n;
	return 0;
}

static inline int run_put_i64(struct base_buf *b, int64_t v)
{
	int r;

	if (v >= 0)
		return run_put_u64(b, (uint64_t)v);
	r = run_put(b, "-", 1);
	/* -(v + 1) + 1 stays in range for INT64_MIN */
	return r < 0 ? r : run_put_u64(b, (uint64_t)(-(v + 1)) + 1);
}

#endif /* RUN_COLUMN_H */
