// SPDX-License-Identifier: Apache-2.0
/*
 * ENCODING_RAW on the control API; see raw.h.
 *
 * The node's messages are built from malloc()ed pieces only (every string
 * duplicated, every array and sub-message its own allocation), so that
 * protobuf_c_message_free_unpacked() with the default allocator frees them
 * as it frees a message it unpacked.
 */
#include "agent/raw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "agent/wire.h"
#include "bpf/layout.h"
#include "oci/metadata.h"
#include "run/remote.h"
#include "run/runner.h"

typedef Gadget__Agent__V1__DataSourceLayout pb_layout;
typedef Gadget__Agent__V1__LayoutField pb_field;
typedef Gadget__Agent__V1__ExternColumn pb_column;
typedef Gadget__Agent__V1__KeyValue pb_kv;
typedef Gadget__Agent__V1__FieldAnnotations pb_fann;
typedef Gadget__Agent__V1__ContainerValues pb_container;
typedef Gadget__Agent__V1__EndpointName pb_endpoint;

#define DS_TYPE(x) GADGET__AGENT__V1__DATA_SOURCE_TYPE__DATA_SOURCE_##x
#define SOURCE(x)  GADGET__AGENT__V1__COLUMN_SOURCE__SOURCE_##x

/* ------------------------------------------------------------ building messages */

static char *dup(const char *s)
{
	return strdup(s ? s : "");
}

/* An array of n pointers, each to a new message made by init; NULL on ENOMEM. */
static void **msg_array(size_t n, size_t size, void (*init)(void *))
{
	void **v = calloc(n ? n : 1, sizeof(*v));
	size_t i;

	if (!v)
		return NULL;
	for (i = 0; i < n; i++) {
		v[i] = malloc(size);
		if (!v[i]) {
			while (i--)
				free(v[i]);
			free(v);
			return NULL;
		}
		init(v[i]);
	}
	return v;
}

static void init_field(void *m)
{
	gadget__agent__v1__layout_field__init(m);
}

static void init_column(void *m)
{
	gadget__agent__v1__extern_column__init(m);
}

static void init_kv(void *m)
{
	gadget__agent__v1__key_value__init(m);
}

static void init_fann(void *m)
{
	gadget__agent__v1__field_annotations__init(m);
}

static int put_field(pb_field *o, const struct bpf_layout_field *f)
{
	size_t k;

	o->name = dup(f->name);
	o->full_name = dup(f->full_name);
	o->type_name = dup(f->type_name);
	o->parent = f->parent;
	o->depth = f->depth;
	o->kind = f->kind;
	o->special = f->special;
	o->offset = f->offset;
	o->size = f->size;
	o->bit_offset = f->bit_offset;
	o->bit_size = f->bit_size;
	o->elem_kind = f->elem_kind;
	o->elem_size = f->elem_size;
	o->count = f->count;
	o->enum_signed = f->enum_signed;
	if (!o->name || !o->full_name || !o->type_name)
		return -ENOMEM;
	if (!f->n_enum_vals)
		return 0;
	o->enum_names = calloc(f->n_enum_vals, sizeof(*o->enum_names));
	o->enum_values = calloc(f->n_enum_vals, sizeof(*o->enum_values));
	if (!o->enum_names || !o->enum_values)
		return -ENOMEM;
	/* counted as they are filled: what is set is what gets freed */
	for (k = 0; k < f->n_enum_vals; k++) {
		o->enum_names[k] = dup(f->enum_vals[k].name);
		if (!o->enum_names[k])
			return -ENOMEM;
		o->n_enum_names = k + 1;
		o->enum_values[k] = f->enum_vals[k].value;
		o->n_enum_values = k + 1;
	}
	return 0;
}

static int put_kvs(const struct oci_metadata_annotation *a, size_t n, pb_kv ***ret, size_t *ret_n)
{
	pb_kv **v = (pb_kv **)msg_array(n, sizeof(pb_kv), init_kv);
	size_t i;

	if (!v)
		return -ENOMEM;
	*ret = v;
	*ret_n = n;
	for (i = 0; i < n; i++) {
		v[i]->key = dup(a[i].key);
		v[i]->value = dup(a[i].value);
		if (!v[i]->key || !v[i]->value)
			return -ENOMEM;
	}
	return 0;
}

static int put_annotations(pb_layout *o, const struct oci_metadata_ds *md)
{
	size_t i;
	int r;

	if (!md)
		return 0;
	r = put_kvs(md->annotations, md->n_annotations, &o->annotations, &o->n_annotations);
	if (r < 0 || !md->n_fields)
		return r;
	o->field_annotations = (pb_fann **)msg_array(md->n_fields, sizeof(pb_fann), init_fann);
	if (!o->field_annotations)
		return -ENOMEM;
	o->n_field_annotations = md->n_fields;
	for (i = 0; i < md->n_fields; i++) {
		pb_fann *fa = o->field_annotations[i];

		fa->field = dup(md->fields[i].name);
		if (!fa->field)
			return -ENOMEM;
		r = put_kvs(md->fields[i].annotations, md->fields[i].n_annotations,
			    &fa->annotations, &fa->n_annotations);
		if (r < 0)
			return r;
	}
	return 0;
}

static int put_columns(pb_layout *o, const struct run_remote_desc *d)
{
	size_t i;

	o->extern_columns = (pb_column **)msg_array(d->n_columns, sizeof(pb_column), init_column);
	if (!o->extern_columns)
		return -ENOMEM;
	o->n_extern_columns = d->n_columns;
	for (i = 0; i < d->n_columns; i++) {
		const struct run_remote_column *c = &d->columns[i];
		pb_column *pc = o->extern_columns[i];

		pc->name = dup(c->name);
		pc->description = dup(c->description);
		pc->value = dup(c->value);
		if (!pc->name || !pc->description || !pc->value)
			return -ENOMEM;
		pc->hidden = c->hidden;
		pc->hidden_columns = c->hidden_columns;
		pc->width = c->width;
		pc->number = c->number;
		pc->source = c->source == RUN_COLUMN_SOURCE_CONSTANT ? SOURCE(CONSTANT)
								     : SOURCE(CONTAINER);
	}
	return 0;
}

static int put_layout(pb_layout *o, const char *name, enum run_runner_ds_type type,
		      const struct oci_metadata_ds *md, const struct run_remote_desc *d)
{
	const struct bpf_layout *l = d->layout;
	size_t i;
	int r;

	o->name = dup(name);
	o->layout_name = dup(l->name);
	if (!o->name || !o->layout_name)
		return -ENOMEM;
	o->type = type == RUN_RUNNER_DS_TRACER	  ? DS_TYPE(TRACER)
		  : type == RUN_RUNNER_DS_MAPITER ? DS_TYPE(MAPITER)
						  : DS_TYPE(ITER);
	o->record_size = l->size;
	o->endpoint_k8s = d->endpoint_k8s;
	o->fields = (pb_field **)msg_array(l->n_fields, sizeof(pb_field), init_field);
	if (!o->fields)
		return -ENOMEM;
	o->n_fields = l->n_fields;
	for (i = 0; i < l->n_fields; i++) {
		r = put_field(o->fields[i], &l->fields[i]);
		if (r < 0)
			return r;
	}
	r = put_columns(o, d);
	return r < 0 ? r : put_annotations(o, md);
}

int agent_raw_layout_new(const char *name, enum run_runner_ds_type type,
			 const struct oci_metadata_ds *md, const struct run_pipeline *p,
			 pb_layout **ret)
{
	struct run_remote_desc d;
	pb_layout *o;
	int err;

	err = run_remote_describe(p, &d);
	if (err < 0)
		return err;
	o = malloc(sizeof(*o));
	if (!o) {
		run_remote_desc_done(&d);
		return -ENOMEM;
	}
	gadget__agent__v1__data_source_layout__init(o);
	err = put_layout(o, name, type, md, &d);
	run_remote_desc_done(&d);
	if (err < 0) {
		protobuf_c_message_free_unpacked(&o->base, NULL);
		return err;
	}
	*ret = o;
	return 0;
}

int agent_raw_layouts_new(struct run_runner *r, pb_layout ***ret, size_t *ret_n)
{
	size_t i, n = run_runner_ds_count(r);
	pb_layout **v = calloc(n ? n : 1, sizeof(*v));
	int err = 0;

	if (!v)
		return -ENOMEM;
	for (i = 0; i < n && err >= 0; i++) {
		const struct run_runner_ds_info *info = run_runner_ds(r, i);
		struct run_pipeline *p = run_runner_ds_pipeline(r, i);

		err = p ? agent_raw_layout_new(info->name, info->type, info->md, p, &v[i])
			: -EINVAL;
	}
	if (err < 0) {
		agent_raw_layouts_free(v, n);
		return err;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

void agent_raw_layouts_free(pb_layout **l, size_t n)
{
	size_t i;

	for (i = 0; l && i < n; i++)
		if (l[i])
			protobuf_c_message_free_unpacked(&l[i]->base, NULL);
	free(l);
}

/* ------------------------------------------------------------ batches */

void agent_raw_batch_init(struct agent_raw_batch *b)
{
	memset(b, 0, sizeof(*b));
	b->raw = (struct base_buf)BASE_BUF_INIT(0);
	b->z = (struct base_buf)BASE_BUF_INIT(0);
}

void agent_raw_batch_reset(struct agent_raw_batch *b)
{
	size_t i;

	base_buf_reset(&b->raw);
	b->n = 0;
	for (i = 0; i < b->n_containers; i++)
		protobuf_c_message_free_unpacked(&b->containers[i]->base, NULL);
	for (i = 0; i < b->n_endpoints; i++)
		protobuf_c_message_free_unpacked(&b->endpoints[i]->base, NULL);
	b->n_containers = b->n_endpoints = 0;
	b->z_done = b->z_pays = false;
}

void agent_raw_batch_done(struct agent_raw_batch *b)
{
	agent_raw_batch_reset(b);
	base_buf_done(&b->raw);
	base_buf_done(&b->z);
	free(b->containers);
	free(b->endpoints);
	memset(b, 0, sizeof(*b));
}

int agent_raw_batch_add(struct agent_raw_batch *b, const void *rec, size_t size, size_t max)
{
	uint8_t v[10];
	size_t n = 0, len = size < max ? size : max, x = len;
	int r;

	do {
		v[n++] = (uint8_t)((x & 0x7f) | (x > 0x7f ? 0x80 : 0));
		x >>= 7;
	} while (x);
	r = base_buf_append(&b->raw, v, n);
	if (r < 0)
		return r;
	r = base_buf_append(&b->raw, rec, len);
	if (r < 0) {
		b->raw.len -= n;
		return r;
	}
	b->n++;
	b->z_done = false;
	return 0;
}

/* Room for one more pointer in *v. */
static int grow(void ***v, size_t n, size_t *cap)
{
	void **p;
	size_t c;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 16;
	p = realloc(*v, c * sizeof(*p));
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = c;
	return 0;
}

int agent_raw_batch_container(void *ctx, uint64_t mntns, const char *const *values, size_t n)
{
	struct agent_raw_batch *b = ctx;
	pb_container *c;
	size_t i, absent = 0;

	if (grow((void ***)&b->containers, b->n_containers, &b->cap_containers) < 0)
		return -ENOMEM;
	c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	gadget__agent__v1__container_values__init(c);
	c->mntns = mntns;
	c->values = calloc(n ? n : 1, sizeof(*c->values));
	c->absent = calloc(n ? n : 1, sizeof(*c->absent));
	if (!c->values || !c->absent)
		goto fail;
	for (i = 0; i < n; i++) {
		if (!values[i])
			c->absent[absent++] = (uint32_t)i;
		c->values[i] = dup(values[i]);
		if (!c->values[i])
			goto fail;
		c->n_values = i + 1;
	}
	c->n_absent = absent;
	b->containers[b->n_containers++] = c;
	b->z_done = false;
	return 0;
fail:
	protobuf_c_message_free_unpacked(&c->base, NULL);
	return -ENOMEM;
}

int agent_raw_batch_endpoint(void *ctx, const char *ip, const char *kind, const char *name,
			     const char *ns)
{
	struct agent_raw_batch *b = ctx;
	pb_endpoint *e;

	if (grow((void ***)&b->endpoints, b->n_endpoints, &b->cap_endpoints) < 0)
		return -ENOMEM;
	e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	gadget__agent__v1__endpoint_name__init(e);
	e->ip = dup(ip);
	e->kind = dup(kind);
	e->name = dup(name);
	e->namespace_ = dup(ns);
	if (!e->ip || !e->kind || !e->name || !e->namespace_) {
		protobuf_c_message_free_unpacked(&e->base, NULL);
		return -ENOMEM;
	}
	b->endpoints[b->n_endpoints++] = e;
	b->z_done = false;
	return 0;
}

size_t agent_raw_batch_bytes(const struct agent_raw_batch *b)
{
	/* the entries are rare: a rough size is enough to keep batches bounded */
	return b->raw.len + (b->n_containers + b->n_endpoints) * 256;
}

static int compress(struct agent_raw_batch *b)
{
	size_t bound = ZSTD_compressBound(b->raw.len), n;
	int r;

	b->z_done = true;
	b->z_pays = false;
	if (b->raw.len < AGENT_RAW_COMPRESS_MIN)
		return 0;
	base_buf_reset(&b->z);
	r = base_buf_reserve(&b->z, bound);
	if (r < 0)
		return r;
	n = ZSTD_compress(b->z.data, bound, b->raw.data, b->raw.len, AGENT_RAW_ZSTD_LEVEL);
	if (ZSTD_isError(n))
		return 0;
	b->z.len = n;
	/* a tenth less at least, or the client's time is not worth it */
	b->z_pays = n < b->raw.len - b->raw.len / 10;
	return 0;
}

int agent_raw_batch_fill(struct agent_raw_batch *b, bool want_compress,
			 Gadget__Agent__V1__RecordBatch *rb)
{
	int r;

	if (want_compress && !b->z_done) {
		r = compress(b);
		if (r < 0)
			return r;
	}
	rb->n_raw = b->n;
	rb->containers = b->containers;
	rb->n_containers = b->n_containers;
	rb->endpoints = b->endpoints;
	rb->n_endpoints = b->n_endpoints;
	if (want_compress && b->z_pays) {
		rb->raw.data = (uint8_t *)b->z.data;
		rb->raw.len = b->z.len;
		rb->compressed = true;
		rb->raw_len = (uint32_t)b->raw.len;
	} else {
		rb->raw.data = (uint8_t *)b->raw.data;
		rb->raw.len = b->raw.len;
		rb->compressed = false;
		rb->raw_len = 0;
	}
	return 0;
}

int agent_raw_batch_tables(struct agent_raw_batch *b, struct run_remote_enc *enc)
{
	struct run_remote_news news = {
		.container = agent_raw_batch_container,
		.endpoint = agent_raw_batch_endpoint,
		.ctx = b,
	};

	return run_remote_enc_all(enc, &news);
}

/* ------------------------------------------------------------ the client's side */

/* A fetch of one node and data source being gathered until its last batch. */
struct fetch_acc {
	uint64_t fetch;
	struct base_buf data;
	size_t *offs, *lens;
	size_t n, cap;
};

struct raw_node {
	int group;
	int idx;	       /* in its group's printer */
	struct fetch_acc *acc; /* per data source of its group */
};

/*
 * --sort timestamp: held records in a min-heap by timestamp (then arrival),
 * their bytes in refcounted chunks, so that holding a record allocates
 * nothing of its own.
 */
struct sort_chunk {
	struct sort_chunk *next;
	size_t used, live;
	uint8_t data[];
};

struct sort_item {
	uint64_t ts, seq, due_ms;
	struct sort_chunk *chunk;
	uint32_t off, len;
	int node;
	uint32_t ds;
};

struct sorter {
	struct sort_item *heap;
	size_t n, cap;
	struct sort_chunk *cur;	  /* being filled */
	struct sort_chunk *spare; /* one kept for reuse */
	size_t bytes;
	uint64_t seq;
};

/*
 * The nodes that describe their records alike, printed by one set of
 * pipelines; a node whose description differs (another version of the
 * gadget or of the agent) gets a group of its own rather than being lost.
 */
struct raw_group {
	struct run_remote *rr;
	struct oci_metadata *md;
	Gadget__Agent__V1__DataSourceLayout **shape;
	size_t n_shape;
	bool begun;
	int ts_off[RUN_REMOTE_MAX_DS]; /* the timestamp field of each tracer; -1: none */
	uint8_t ts_size[RUN_REMOTE_MAX_DS];
};

struct agent_raw_client {
	struct agent_raw_client_opts o;
	struct sorter sort;
	struct raw_group groups[AGENT_RAW_MAX_SHAPES];
	size_t n_groups;
	bool begun;
	struct raw_node *nodes;
	size_t n_nodes;
	ZSTD_DCtx *dctx;
	struct base_buf unz;
	uint64_t records;
	uint64_t now_ms; /* the clock the sort goes by (agent_raw_client_tick()) */
	const void **ptrs;
	size_t ptrs_cap;
	char errbuf[256];
};

int agent_raw_client_new(const struct agent_raw_client_opts *o, struct agent_raw_client **ret)
{
	struct agent_raw_client *c;

	if (!o || o->sz < sizeof(*o))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->o = *o;
	c->unz = (struct base_buf)BASE_BUF_INIT(AGENT_WIRE_MAX_MESSAGE);
	*ret = c;
	return 0;
}

/* ------------------------------------------------------------ the timestamp sort */

static void chunk_put(struct sorter *so, struct sort_chunk *ch)
{
	if (--ch->live || ch == so->cur)
		return;
	if (!so->spare) {
		so->spare = ch;
	} else {
		free(ch);
	}
}

static void sort_done(struct sorter *so)
{
	/* chunk_put() keeps the chunk being filled and one spare, frees the others */
	for (size_t i = 0; i < so->n; i++)
		chunk_put(so, so->heap[i].chunk);
	free(so->cur);
	free(so->spare);
	free(so->heap);
	memset(so, 0, sizeof(*so));
}

static bool item_before(const struct sort_item *a, const struct sort_item *b)
{
	return a->ts != b->ts ? a->ts < b->ts : a->seq < b->seq;
}

static void heap_up(struct sort_item *h, size_t i)
{
	while (i) {
		size_t p = (i - 1) / 2;
		struct sort_item t;

		if (!item_before(&h[i], &h[p]))
			break;
		t = h[i];
		h[i] = h[p];
		h[p] = t;
		i = p;
	}
}

static void heap_down(struct sort_item *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct sort_item t;

		if (l < n && item_before(&h[l], &h[m]))
			m = l;
		if (r < n && item_before(&h[r], &h[m]))
			m = r;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* Room for len bytes in the chunk being filled; NULL out of memory. */
static struct sort_chunk *chunk_room(struct sorter *so, size_t len)
{
	struct sort_chunk *ch = so->cur;
	size_t size = len > AGENT_RAW_SORT_CHUNK ? len : AGENT_RAW_SORT_CHUNK;

	if (ch && ch->used + len <= AGENT_RAW_SORT_CHUNK)
		return ch;
	/* the full chunk lives on while records in it are held */
	if (ch && !ch->live && !so->spare)
		so->spare = ch;
	else if (ch && !ch->live)
		free(ch);
	so->cur = NULL;
	if (so->spare && size == AGENT_RAW_SORT_CHUNK) {
		ch = so->spare;
		so->spare = NULL;
	} else {
		ch = malloc(sizeof(*ch) + size);
		if (!ch)
			return NULL;
	}
	ch->used = ch->live = 0;
	ch->next = NULL;
	so->cur = ch;
	return ch;
}

/* The oldest held record, out of the heap, printed. */
static int sort_pop(struct agent_raw_client *c)
{
	struct sorter *so = &c->sort;
	struct sort_item it = so->heap[0];
	int r;

	so->heap[0] = so->heap[--so->n];
	heap_down(so->heap, so->n, 0);
	so->bytes -= it.len;
	r = run_remote_record(c->groups[c->nodes[it.node].group].rr, c->nodes[it.node].idx, it.ds,
			      it.chunk->data + it.off, it.len);
	if (r >= 0)
		c->records++;
	chunk_put(so, it.chunk);
	return r;
}

/* Holds a tracer record of node until its time; false when it has no timestamp to sort by. */
static int sort_push(struct agent_raw_client *c, int node, size_t ds, const uint8_t *rec,
		     size_t len, bool *held)
{
	struct sorter *so = &c->sort;
	const struct raw_group *g = &c->groups[c->nodes[node].group];
	struct sort_chunk *ch;
	struct sort_item *it;
	uint64_t ts = 0;
	int r;

	*held = false;
	if (g->ts_off[ds] < 0 || (size_t)g->ts_off[ds] + g->ts_size[ds] > len)
		return 0;
	memcpy(&ts, rec + g->ts_off[ds], g->ts_size[ds]);
	while (so->n && (so->n >= AGENT_RAW_SORT_MAX_RECORDS ||
			 so->bytes + len > AGENT_RAW_SORT_MAX_BYTES)) {
		r = sort_pop(c);
		if (r < 0)
			return r;
	}
	if (so->n == so->cap) {
		size_t cap = so->cap ? so->cap * 2 : 1024;
		struct sort_item *h = realloc(so->heap, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		so->heap = h;
		so->cap = cap;
	}
	ch = chunk_room(so, len);
	if (!ch)
		return -ENOMEM;
	memcpy(ch->data + ch->used, rec, len);
	it = &so->heap[so->n];
	*it = (struct sort_item){
		.ts = ts,
		.seq = so->seq++,
		.due_ms = c->now_ms + c->o.sort_delay_ms,
		.chunk = ch,
		.off = (uint32_t)ch->used,
		.len = (uint32_t)len,
		.node = node,
		.ds = (uint32_t)ds,
	};
	ch->used += len;
	ch->live++;
	so->bytes += len;
	heap_up(so->heap, so->n++);
	*held = true;
	return 0;
}

int agent_raw_client_tick(struct agent_raw_client *c, uint64_t now_ms, bool all)
{
	struct sorter *so = &c->sort;
	int r = 0;

	c->now_ms = now_ms;
	/*
	 * The top (the earliest timestamp) goes out once its own delay has
	 * passed: a record waits for every held one with an earlier
	 * timestamp, so a node whose records arrive late holds the others'
	 * back by that lateness, never more than the delay.
	 */
	while (so->n && r >= 0 && (all || so->heap[0].due_ms <= now_ms))
		r = sort_pop(c);
	if (r >= 0)
		r = agent_raw_client_flush(c);
	if (r < 0)
		return r;
	if (!so->n)
		return -1;
	return so->heap[0].due_ms > now_ms ? (int)(so->heap[0].due_ms - now_ms) : 0;
}

static void acc_done(struct fetch_acc *a)
{
	base_buf_done(&a->data);
	free(a->offs);
	free(a->lens);
}

static void group_done(struct raw_group *g)
{
	size_t i;

	g->rr = run_remote_free(g->rr);
	g->md = oci_metadata_free(g->md);
	for (i = 0; g->shape && i < g->n_shape; i++)
		if (g->shape[i])
			protobuf_c_message_free_unpacked(&g->shape[i]->base, NULL);
	free(g->shape);
	g->shape = NULL;
	g->n_shape = 0;
}

struct agent_raw_client *agent_raw_client_free(struct agent_raw_client *c)
{
	size_t i, k;

	if (!c)
		return NULL;
	for (i = 0; i < c->n_nodes; i++) {
		for (k = 0; c->nodes[i].acc && k < c->groups[c->nodes[i].group].n_shape; k++)
			acc_done(&c->nodes[i].acc[k]);
		free(c->nodes[i].acc);
	}
	free(c->nodes);
	for (i = 0; i < c->n_groups; i++)
		group_done(&c->groups[i]);
	ZSTD_freeDCtx(c->dctx);
	base_buf_done(&c->unz);
	free(c->ptrs);
	sort_done(&c->sort);
	free(c);
	return NULL;
}

static struct bpf_layout *layout_from(const pb_layout *pl, char *err, size_t errlen)
{
	struct bpf_layout *l = calloc(1, sizeof(*l));
	size_t i, k;

	if (!l)
		goto nomem;
	if (pl->n_fields > BPF_LAYOUT_MAX_FIELDS) {
		snprintf(err, errlen, "data source %.64s: %zu fields (at most %d)", pl->name,
			 pl->n_fields, BPF_LAYOUT_MAX_FIELDS);
		bpf_layout_free(l);
		return NULL;
	}
	l->name = strdup(pl->layout_name);
	l->size = pl->record_size;
	l->fields = calloc(pl->n_fields ? pl->n_fields : 1, sizeof(*l->fields));
	if (!l->name || !l->fields)
		goto nomem;
	for (i = 0; i < pl->n_fields; i++) {
		const pb_field *pf = pl->fields[i];
		struct bpf_layout_field *f = &l->fields[i];

		l->n_fields = i + 1;
		f->name = strdup(pf->name);
		f->full_name = strdup(pf->full_name);
		f->type_name = strdup(pf->type_name);
		if (!f->name || !f->full_name || !f->type_name)
			goto nomem;
		f->parent = pf->parent;
		f->depth = pf->depth;
		f->kind = pf->kind <= BPF_LAYOUT_BYTES
				  ? (enum bpf_layout_kind)pf->kind
				  : (enum bpf_layout_kind)(BPF_LAYOUT_BYTES + 1);
		f->special = pf->special < BPF_LAYOUT_SPECIAL_COUNT_
				     ? (enum bpf_layout_special)pf->special
				     : BPF_LAYOUT_SPECIAL_COUNT_;
		f->offset = pf->offset;
		f->size = pf->size;
		/* out of range is caught by bpf_layout_check() as a bitfield too wide */
		f->bit_offset = pf->bit_offset > 255 ? 255 : (uint8_t)pf->bit_offset;
		f->bit_size = pf->bit_size > 255 ? 255 : (uint8_t)pf->bit_size;
		f->elem_kind = pf->elem_kind <= BPF_LAYOUT_BYTES
				       ? (enum bpf_layout_kind)pf->elem_kind
				       : (enum bpf_layout_kind)(BPF_LAYOUT_BYTES + 1);
		f->elem_size = pf->elem_size;
		f->count = pf->count;
		f->enum_signed = pf->enum_signed;
		if (pf->n_enum_names != pf->n_enum_values ||
		    pf->n_enum_names > BPF_LAYOUT_MAX_ENUM_VALS) {
			snprintf(err, errlen, "data source %.64s: field %.64s: bad enum values",
				 pl->name, pf->full_name);
			bpf_layout_free(l);
			return NULL;
		}
		if (!pf->n_enum_names)
			continue;
		f->enum_vals = calloc(pf->n_enum_names, sizeof(*f->enum_vals));
		if (!f->enum_vals)
			goto nomem;
		for (k = 0; k < pf->n_enum_names; k++) {
			f->n_enum_vals = k + 1;
			f->enum_vals[k].value = pf->enum_values[k];
			f->enum_vals[k].name = strdup(pf->enum_names[k]);
			if (!f->enum_vals[k].name)
				goto nomem;
		}
	}
	if (bpf_layout_check(l, err, errlen) < 0) {
		char why[192];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "data source %.64s: %s", pl->name, why);
		bpf_layout_free(l);
		return NULL;
	}
	return l;
nomem:
	snprintf(err, errlen, "%s", strerror(ENOMEM));
	bpf_layout_free(l);
	return NULL;
}

/* The annotations of data source pl into the group's md (one gadget.yaml for all). */
static int annotations_from(struct raw_group *g, const pb_layout *pl)
{
	size_t i, k;
	int r = 0;

	if (!g->md && !(g->md = oci_metadata_new()))
		return -ENOMEM;
	for (i = 0; i < pl->n_annotations && r >= 0; i++)
		r = oci_metadata_annotate(g->md, pl->name, NULL, pl->annotations[i]->key,
					  pl->annotations[i]->value);
	for (i = 0; i < pl->n_field_annotations && r >= 0; i++) {
		const pb_fann *fa = pl->field_annotations[i];

		for (k = 0; k < fa->n_annotations && r >= 0; k++)
			r = oci_metadata_annotate(g->md, pl->name, fa->field,
						  fa->annotations[k]->key,
						  fa->annotations[k]->value);
	}
	return r;
}

static int add_ds(struct agent_raw_client *c, struct raw_group *g, const pb_layout *pl, char *err,
		  size_t errlen)
{
	struct run_remote_column cols[RUN_REMOTE_MAX_CONTAINER_COLUMNS];
	struct bpf_layout *l;
	size_t i;
	int r;

	if (pl->n_extern_columns > RUN_REMOTE_MAX_CONTAINER_COLUMNS) {
		snprintf(err, errlen, "data source %.64s: %zu computed columns (at most %d)",
			 pl->name, pl->n_extern_columns, RUN_REMOTE_MAX_CONTAINER_COLUMNS);
		return -EINVAL;
	}
	for (i = 0; i < pl->n_extern_columns; i++) {
		const pb_column *pc = pl->extern_columns[i];

		if (pc->source != SOURCE(CONSTANT) && pc->source != SOURCE(CONTAINER)) {
			snprintf(err, errlen, "data source %.64s: column %.64s: unknown source %d",
				 pl->name, pc->name, (int)pc->source);
			return -EINVAL;
		}
		cols[i] = (struct run_remote_column){
			.name = pc->name,
			.description = pc->description,
			.hidden = pc->hidden,
			.hidden_columns = pc->hidden_columns,
			.number = pc->number,
			.width = pc->width,
			.source = pc->source == SOURCE(CONSTANT) ? RUN_COLUMN_SOURCE_CONSTANT
								 : RUN_COLUMN_SOURCE_CONTAINER,
			.value = pc->value,
		};
	}
	r = annotations_from(g, pl);
	if (r < 0) {
		snprintf(err, errlen, "data source %.64s: annotations: %s", pl->name, strerror(-r));
		return r == -ENOMEM ? r : -EINVAL;
	}
	l = layout_from(pl, err, errlen);
	if (!l)
		return err[0] && strcmp(err, strerror(ENOMEM)) ? -EINVAL : -ENOMEM;
	r = run_remote_add_ds(g->rr, pl->name, pl->type != DS_TYPE(TRACER), l,
			      oci_metadata_find_ds(g->md, pl->name), cols, pl->n_extern_columns,
			      pl->endpoint_k8s);
	if (r < 0 && !err[0])
		snprintf(err, errlen, "data source %.64s: %s", pl->name,
			 c->errbuf[0] ? c->errbuf : strerror(-r));
	return r;
}

/* Whether two descriptions are of the same records (the constants may differ). */
static bool same_shape(const pb_layout *a, const pb_layout *b)
{
	size_t i;

	if (strcmp(a->name, b->name) || a->type != b->type || a->record_size != b->record_size ||
	    a->n_fields != b->n_fields || a->n_extern_columns != b->n_extern_columns ||
	    a->endpoint_k8s != b->endpoint_k8s)
		return false;
	for (i = 0; i < a->n_fields; i++) {
		const pb_field *x = a->fields[i], *y = b->fields[i];

		if (strcmp(x->full_name, y->full_name) || x->kind != y->kind ||
		    x->special != y->special || x->offset != y->offset || x->size != y->size ||
		    x->bit_offset != y->bit_offset || x->bit_size != y->bit_size ||
		    x->elem_kind != y->elem_kind || x->elem_size != y->elem_size ||
		    x->count != y->count || x->n_enum_names != y->n_enum_names)
			return false;
	}
	for (i = 0; i < a->n_extern_columns; i++)
		if (strcmp(a->extern_columns[i]->name, b->extern_columns[i]->name) ||
		    a->extern_columns[i]->source != b->extern_columns[i]->source)
			return false;
	return true;
}

static pb_layout *copy_layout(const pb_layout *l)
{
	size_t len = protobuf_c_message_get_packed_size(&l->base);
	uint8_t *buf = malloc(len ? len : 1);
	pb_layout *copy;

	if (!buf)
		return NULL;
	protobuf_c_message_pack(&l->base, buf);
	copy = gadget__agent__v1__data_source_layout__unpack(NULL, len, buf);
	free(buf);
	return copy;
}

/* The field each tracer's records are sorted by: the first gadget_timestamp. */
static void sort_keys(struct raw_group *g)
{
	size_t i, k;

	for (i = 0; i < RUN_REMOTE_MAX_DS; i++)
		g->ts_off[i] = -1;
	for (i = 0; i < run_remote_ds_count(g->rr); i++) {
		const struct bpf_layout *l = run_remote_ds_layout(g->rr, i);

		if (run_remote_ds_batches(g->rr, i))
			continue;
		for (k = 0; k < l->n_fields; k++) {
			const struct bpf_layout_field *f = &l->fields[k];

			if (f->special == BPF_LAYOUT_SPECIAL_TIMESTAMP && !f->bit_size &&
			    f->size >= 1 && f->size <= 8) {
				g->ts_off[i] = (int)f->offset;
				g->ts_size[i] = (uint8_t)f->size;
				break;
			}
		}
	}
}

/* A new group for the description rs gives; its index, or -errno with err. */
static int describe(struct agent_raw_client *c, const Gadget__Agent__V1__RunStarted *rs, char *err,
		    size_t errlen)
{
	struct raw_group *g;
	struct run_remote_opts ro = {
		.sz = sizeof(ro),
		.output = c->o.output,
		.fields = c->o.fields,
		.no_header = c->o.no_header,
		.out_fd = c->o.out_fd,
		.errbuf = c->errbuf,
		.errbuf_len = sizeof(c->errbuf),
	};
	size_t i;
	int r;

	if (!rs->n_layouts || rs->n_layouts > RUN_REMOTE_MAX_DS) {
		snprintf(err, errlen, "%zu data sources described (1 to %d)", rs->n_layouts,
			 RUN_REMOTE_MAX_DS);
		return -EINVAL;
	}
	if (c->n_groups == AGENT_RAW_MAX_SHAPES) {
		snprintf(err, errlen, "more than %d different versions of the gadget's records",
			 AGENT_RAW_MAX_SHAPES);
		return -E2BIG;
	}
	g = &c->groups[c->n_groups];
	memset(g, 0, sizeof(*g));
	c->errbuf[0] = '\0';
	r = run_remote_new(&ro, &g->rr);
	if (r < 0)
		return r;
	for (i = 0; i < rs->n_layouts; i++) {
		r = add_ds(c, g, rs->layouts[i], err, errlen);
		if (r < 0)
			goto fail;
	}
	r = run_remote_prepare(g->rr);
	if (r < 0) {
		snprintf(err, errlen, "%s", c->errbuf[0] ? c->errbuf : strerror(-r));
		goto fail;
	}
	g->shape = calloc(rs->n_layouts, sizeof(*g->shape));
	if (!g->shape) {
		r = -ENOMEM;
		goto fail;
	}
	g->n_shape = rs->n_layouts;
	for (i = 0; i < rs->n_layouts; i++)
		if (!(g->shape[i] = copy_layout(rs->layouts[i]))) {
			r = -ENOMEM;
			goto fail;
		}
	sort_keys(g);
	/* a second version of the records, once the output started */
	if (c->begun) {
		r = run_remote_begin(g->rr);
		if (r < 0)
			goto fail;
		g->begun = true;
	}
	return (int)c->n_groups++;
fail:
	group_done(g);
	return r;
}

/* The group whose description is rs's, or -ENOENT. */
static int find_group(const struct agent_raw_client *c, const Gadget__Agent__V1__RunStarted *rs)
{
	size_t i, k;

	for (i = 0; i < c->n_groups; i++) {
		const struct raw_group *g = &c->groups[i];

		if (rs->n_layouts != g->n_shape)
			continue;
		for (k = 0; k < g->n_shape && same_shape(g->shape[k], rs->layouts[k]); k++)
			;
		if (k == g->n_shape)
			return (int)i;
	}
	return -ENOENT;
}

int agent_raw_client_started(struct agent_raw_client *c, const char *node,
			     const Gadget__Agent__V1__RunStarted *rs, char *err, size_t errlen)
{
	struct raw_node *nodes, *n;
	struct raw_group *g;
	size_t i, k;
	int gi, idx, r;

	err[0] = '\0';
	if (rs->encoding != GADGET__AGENT__V1__RECORD_ENCODING__ENCODING_RAW) {
		snprintf(err, errlen, "the agent sends records as JSON");
		return -EINVAL;
	}
	if (c->n_nodes >= RUN_REMOTE_MAX_NODES) {
		snprintf(err, errlen, "too many nodes");
		return -E2BIG;
	}
	gi = find_group(c, rs);
	if (gi < 0)
		gi = describe(c, rs, err, errlen);
	if (gi < 0)
		return gi;
	g = &c->groups[gi];
	nodes = realloc(c->nodes, (c->n_nodes + 1) * sizeof(*nodes));
	if (!nodes)
		return -ENOMEM;
	c->nodes = nodes;
	n = &nodes[c->n_nodes];
	memset(n, 0, sizeof(*n));
	/* a name the group knows already (a node that started again) is another node */
	idx = run_remote_node(g->rr, node);
	if (idx < 0) {
		snprintf(err, errlen, "%s", idx == -E2BIG ? "too many nodes" : strerror(-idx));
		return idx;
	}
	n->acc = calloc(g->n_shape, sizeof(*n->acc));
	if (!n->acc)
		return -ENOMEM;
	for (k = 0; k < g->n_shape; k++)
		n->acc[k].data = (struct base_buf)BASE_BUF_INIT(AGENT_RAW_MAX_FETCH_BYTES);
	n->group = gi;
	n->idx = idx;
	run_remote_node_clock(g->rr, idx, rs->boot_to_real_ns);
	for (i = 0; i < rs->n_layouts; i++)
		for (k = 0; k < rs->layouts[i]->n_extern_columns; k++) {
			const pb_column *pc = rs->layouts[i]->extern_columns[k];

			if (pc->source != SOURCE(CONSTANT))
				continue;
			r = run_remote_node_constant(g->rr, idx, i, pc->name, pc->value);
			if (r == -ENOMEM) {
				free(n->acc);
				return r;
			}
		}
	return (int)c->n_nodes++;
}

int agent_raw_client_begin(struct agent_raw_client *c)
{
	size_t i;
	int r;

	c->begun = true;
	for (i = 0; i < c->n_groups; i++) {
		if (c->groups[i].begun)
			continue;
		r = run_remote_begin(c->groups[i].rr);
		if (r < 0)
			return r;
		c->groups[i].begun = true;
	}
	return 0;
}

int agent_raw_client_flush(struct agent_raw_client *c)
{
	size_t i;
	int r;

	for (i = 0; i < c->n_groups; i++) {
		r = run_remote_flush(c->groups[i].rr);
		if (r < 0)
			return r;
	}
	return 0;
}

uint64_t agent_raw_client_records(const struct agent_raw_client *c)
{
	return c->records;
}

/* The records' bytes of rb, decompressed when they are; NULL with err. */
static const uint8_t *records_of(struct agent_raw_client *c,
				 const Gadget__Agent__V1__RecordBatch *rb, size_t *len, char *err,
				 size_t errlen)
{
	size_t n;

	if (!rb->compressed) {
		*len = rb->raw.len;
		return rb->raw.len ? rb->raw.data : (const uint8_t *)"";
	}
	if (rb->raw_len > AGENT_WIRE_MAX_MESSAGE ||
	    ZSTD_getFrameContentSize(rb->raw.data, rb->raw.len) != rb->raw_len) {
		snprintf(err, errlen, "a compressed batch of %u bytes is not what it says",
			 rb->raw_len);
		return NULL;
	}
	if (!c->dctx && !(c->dctx = ZSTD_createDCtx())) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return NULL;
	}
	base_buf_reset(&c->unz);
	if (base_buf_reserve(&c->unz, rb->raw_len ? rb->raw_len : 1) < 0) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return NULL;
	}
	n = ZSTD_decompressDCtx(c->dctx, c->unz.data, rb->raw_len, rb->raw.data, rb->raw.len);
	if (ZSTD_isError(n) || n != rb->raw_len) {
		snprintf(err, errlen, "a compressed batch does not decompress: %s",
			 ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong length");
		return NULL;
	}
	*len = n;
	return (const uint8_t *)c->unz.data;
}

/* The next record of p..end: its bytes and length; false at a malformed one. */
static bool next_record(const uint8_t **p, const uint8_t *end, const uint8_t **rec, size_t *len)
{
	uint64_t v = 0;
	unsigned int shift = 0;

	while (*p < end && shift < 35) {
		uint8_t b = *(*p)++;

		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			if (v > (uint64_t)(end - *p))
				return false;
			*rec = *p;
			*len = (size_t)v;
			*p += v;
			return true;
		}
		shift += 7;
	}
	return false;
}

static int acc_add(struct fetch_acc *a, const uint8_t *rec, size_t len)
{
	size_t off = a->data.len;
	int r;

	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 256;
		size_t *o = realloc(a->offs, cap * sizeof(*o)), *l;

		if (!o)
			return -ENOMEM;
		a->offs = o;
		l = realloc(a->lens, cap * sizeof(*l));
		if (!l)
			return -ENOMEM;
		a->lens = l;
		a->cap = cap;
	}
	r = base_buf_append(&a->data, rec, len);
	if (r < 0)
		return r;
	a->offs[a->n] = off;
	a->lens[a->n] = len;
	a->n++;
	return 0;
}

static void acc_reset(struct fetch_acc *a, uint64_t fetch)
{
	base_buf_reset(&a->data);
	a->n = 0;
	a->fetch = fetch;
}

/* A fetch's records, gathered: printed as one batch, as ig prints a fetch. */
static int acc_print(struct agent_raw_client *c, int node, size_t ds, struct fetch_acc *a)
{
	size_t i;
	int r;

	if (a->n > c->ptrs_cap) {
		const void **p = realloc(c->ptrs, a->n * sizeof(*p));

		if (!p)
			return -ENOMEM;
		c->ptrs = p;
		c->ptrs_cap = a->n;
	}
	for (i = 0; i < a->n; i++)
		c->ptrs[i] = a->data.data + a->offs[i];
	r = run_remote_batch(c->groups[c->nodes[node].group].rr, c->nodes[node].idx, ds, c->ptrs,
			     a->lens, a->n);
	if (r >= 0)
		c->records += a->n;
	acc_reset(a, 0);
	return r;
}

int agent_raw_client_batch(struct agent_raw_client *c, int node,
			   const Gadget__Agent__V1__RecordBatch *rb, char *err, size_t errlen)
{
	const uint8_t *p, *end, *rec;
	const char *vals[RUN_REMOTE_MAX_CONTAINER_COLUMNS];
	struct fetch_acc *a = NULL;
	size_t len, i, k, n = 0, nc;
	struct run_remote *rr;
	int ds, idx, r = 0;

	err[0] = '\0';
	if (node < 0 || (size_t)node >= c->n_nodes)
		return -EINVAL;
	rr = c->groups[c->nodes[node].group].rr;
	idx = c->nodes[node].idx;
	ds = run_remote_ds_index(rr, rb->data_source);
	if (ds < 0) {
		snprintf(err, errlen, "records of an unknown data source '%.64s'", rb->data_source);
		return -EINVAL;
	}
	nc = run_remote_container_columns(rr, (size_t)ds);
	for (i = 0; i < rb->n_containers; i++) {
		const pb_container *cv = rb->containers[i];

		if (cv->n_values != nc) {
			snprintf(err, errlen, "a container with %zu values for %zu columns",
				 cv->n_values, nc);
			return -EINVAL;
		}
		for (k = 0; k < nc; k++)
			vals[k] = cv->values[k];
		for (k = 0; k < cv->n_absent; k++)
			if (cv->absent[k] < nc)
				vals[cv->absent[k]] = NULL;
		r = run_remote_container(rr, idx, (size_t)ds, cv->mntns, vals, nc);
		if (r < 0)
			return r;
	}
	for (i = 0; i < rb->n_endpoints; i++) {
		const pb_endpoint *e = rb->endpoints[i];

		r = run_remote_endpoint(rr, idx, (size_t)ds, e->ip, e->kind, e->name,
					e->namespace_);
		if (r == -EINVAL) {
			snprintf(err, errlen, "an endpoint with a bad address");
			return r;
		}
		if (r < 0)
			return r;
	}
	p = records_of(c, rb, &len, err, errlen);
	if (!p)
		return -EINVAL;
	end = p + len;
	if (run_remote_ds_batches(rr, (size_t)ds)) {
		a = &c->nodes[node].acc[ds];
		/* a fetch whose end went missing (dropped) is not shown half */
		if (a->n && a->fetch != rb->fetch)
			acc_reset(a, rb->fetch);
		a->fetch = rb->fetch;
	}
	while (p < end) {
		if (!next_record(&p, end, &rec, &len)) {
			snprintf(err, errlen, "a malformed record in a batch");
			r = -EINVAL;
			break;
		}
		n++;
		if (a) {
			r = acc_add(a, rec, len);
			if (r == -E2BIG || r == -ENOBUFS) {
				snprintf(err, errlen, "a fetch larger than %u MiB",
					 AGENT_RAW_MAX_FETCH_BYTES >> 20);
				r = -EINVAL;
			}
		} else {
			bool held = false;

			if (c->o.sort_delay_ms)
				r = sort_push(c, node, (size_t)ds, rec, len, &held);
			if (r >= 0 && !held) {
				r = run_remote_record(rr, idx, (size_t)ds, rec, len);
				if (r >= 0)
					c->records++;
			}
		}
		if (r < 0)
			break;
	}
	if (r >= 0 && n != rb->n_raw) {
		snprintf(err, errlen, "a batch of %zu records that says %u", n, rb->n_raw);
		r = -EINVAL;
	}
	if (r < 0) {
		if (a)
			acc_reset(a, 0);
		return r;
	}
	if (a && rb->fetch_end)
		r = acc_print(c, node, (size_t)ds, a);
	return r;
}
