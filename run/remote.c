// SPDX-License-Identifier: Apache-2.0
/*
 * Records rendered somewhere else than where they were made (see remote.h).
 *
 * Both sides keep tables keyed by a mount namespace id (containers) or an
 * address (endpoints): small chained hash tables, bounded by
 * RUN_REMOTE_MAX_ENTRIES.  The node's side keeps what it sent, to send it
 * again to a client that attaches and to notice changes; the client's side
 * keeps what each node said.
 */
#include "run/remote.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "bpf/layout.h"
#include "run/column.h"
#include "run/derived.h"
#include "run/enrich.h"

/* ------------------------------------------------------------ tables */

struct entry {
	struct entry *next;
	uint64_t hash;
	uint64_t mntns;	     /* containers */
	char *ip;	     /* endpoints */
	char **values;	     /* n values; NULL: no value */
	bool known;	     /* values were set once */
	uint64_t checked_ms; /* node: when the values were last computed */
};

struct table {
	struct entry **buckets;
	size_t n_buckets, n;
	size_t n_values;
};

static uint64_t hash_u64(uint64_t v)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	return v;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void entry_free(struct entry *e, size_t n_values)
{
	size_t i;

	if (!e)
		return;
	for (i = 0; e->values && i < n_values; i++)
		free(e->values[i]);
	free(e->values);
	free(e->ip);
	free(e);
}

static void table_done(struct table *t)
{
	size_t i;

	for (i = 0; i < t->n_buckets; i++) {
		struct entry *e = t->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			entry_free(e, t->n_values);
		}
	}
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

static struct entry *table_find(const struct table *t, uint64_t hash, uint64_t mntns,
				const char *ip)
{
	struct entry *e;

	if (!t->n_buckets)
		return NULL;
	for (e = t->buckets[hash & (t->n_buckets - 1)]; e; e = e->next)
		if (e->hash == hash && (ip ? e->ip && !strcmp(e->ip, ip) : e->mntns == mntns))
			return e;
	return NULL;
}

static int table_grow(struct table *t)
{
	size_t n = t->n_buckets ? t->n_buckets * 2 : 64, i;
	struct entry **b = calloc(n, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (i = 0; i < t->n_buckets; i++) {
		struct entry *e = t->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->n_buckets = n;
	return 0;
}

/* A new entry with n_values empty values; NULL past the bound or out of memory. */
static struct entry *table_add(struct table *t, uint64_t hash, uint64_t mntns, const char *ip)
{
	struct entry *e;

	if (t->n >= RUN_REMOTE_MAX_ENTRIES)
		return NULL;
	if (t->n >= t->n_buckets && table_grow(t) < 0)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->values = calloc(t->n_values ? t->n_values : 1, sizeof(*e->values));
	e->ip = ip ? strdup(ip) : NULL;
	if (!e->values || (ip && !e->ip)) {
		entry_free(e, 0);
		return NULL;
	}
	e->hash = hash;
	e->mntns = mntns;
	e->next = t->buckets[hash & (t->n_buckets - 1)];
	t->buckets[hash & (t->n_buckets - 1)] = e;
	t->n++;
	return e;
}

/*
 * Sets the values of e (a NULL value: the column has none, JSON's null);
 * true when any changed.  -ENOMEM as false with *err.  A new entry counts
 * as changed.
 */
static bool entry_set(struct entry *e, size_t n, const char *const *values, int *err)
{
	bool changed = !e->known;
	size_t i;

	e->known = true;
	for (i = 0; i < n; i++) {
		const char *v = values[i];
		char *copy = NULL;

		if (!v && !e->values[i])
			continue;
		if (v && e->values[i] && !strcmp(e->values[i], v))
			continue;
		if (v && !(copy = strndup(v, RUN_REMOTE_MAX_VALUE))) {
			*err = -ENOMEM;
			continue;
		}
		free(e->values[i]);
		e->values[i] = copy;
		changed = true;
	}
	return changed;
}

/* ------------------------------------------------------------ describing */

int run_remote_describe(const struct run_pipeline *p, struct run_remote_desc *ret)
{
	const struct run_column *cols = run_pipeline_columns(p);
	size_t i, n = run_pipeline_n_columns(p), k = 0;
	struct run_remote_desc d = {.layout = run_pipeline_layout(p)};
	struct base_buf b = BASE_BUF_INIT(RUN_REMOTE_MAX_VALUE);

	d.columns = calloc(n ? n : 1, sizeof(*d.columns));
	if (!d.columns)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const struct run_column *c = &cols[i];
		struct run_remote_column *rc;

		if (c->kind == RUN_COLUMN_EP_K8S)
			d.endpoint_k8s = true;
		if (c->kind != RUN_COLUMN_EXTERN || c->source == RUN_COLUMN_SOURCE_DERIVED)
			continue; /* the client derives these itself */
		if (c->source != RUN_COLUMN_SOURCE_CONSTANT &&
		    c->source != RUN_COLUMN_SOURCE_CONTAINER) {
			run_remote_desc_done(&d);
			base_buf_done(&b);
			return -EOPNOTSUPP;
		}
		rc = &d.columns[k++];
		rc->name = c->name;
		rc->description = c->description;
		rc->hidden = c->flags & RUN_COLUMN_HIDDEN;
		rc->hidden_columns = c->flags & RUN_COLUMN_HIDDEN_COLS;
		rc->number = c->flags & RUN_COLUMN_NUMBER;
		rc->width = c->width;
		rc->source = c->source;
		if (c->source == RUN_COLUMN_SOURCE_CONSTANT) {
			base_buf_reset(&b);
			if (c->text_fn(NULL, 0, &b, c->ctx) < 0 ||
			    !(rc->value = strdup(b.data ? b.data : ""))) {
				d.n_columns = k;
				run_remote_desc_done(&d);
				base_buf_done(&b);
				return -ENOMEM;
			}
		}
	}
	base_buf_done(&b);
	d.n_columns = k;
	*ret = d;
	return 0;
}

size_t run_remote_record_max(const struct run_pipeline *p)
{
	const struct run_column *cols = run_pipeline_columns(p);
	size_t i, n = run_pipeline_n_columns(p);

	for (i = 0; i < n; i++)
		if (cols[i].kind == RUN_COLUMN_EXTERN &&
		    cols[i].source == RUN_COLUMN_SOURCE_DERIVED)
			return BPF_LAYOUT_MAX_RECORD;
	return run_pipeline_layout(p)->size;
}

void run_remote_desc_done(struct run_remote_desc *d)
{
	size_t i;

	for (i = 0; d->columns && i < d->n_columns; i++)
		if (d->columns[i].source == RUN_COLUMN_SOURCE_CONSTANT)
			free((char *)d->columns[i].value);
	free(d->columns);
	memset(d, 0, sizeof(*d));
}

/* ------------------------------------------------------------ the node's side */

struct run_remote_enc {
	struct run_pipeline *p;
	uint32_t mntns_off;
	bool has_mntns;
	const struct run_column **ccols; /* the container columns, in column order */
	size_t n_ccols;
	const struct run_column **eps; /* L4 endpoint columns with a resolver */
	size_t n_eps;
	struct table containers, endpoints;
	uint64_t now_ms;
	uint64_t last_mntns; /* the last record's, already looked at this tick */
	bool last_valid;
	struct base_buf *texts; /* one per container column */
	/*
	 * Strings a record may end with, by offset: each has after it only
	 * other such strings (trace_open's fname, then fpath that only --paths
	 * sends).  A record ends with the last of them that starts in it.
	 */
	struct {
		uint32_t off, end;
	} tails[RUN_REMOTE_MAX_TAILS];
	size_t n_tails;
};

/* The end of the last byte column c reads from a record (0: none). */
static uint32_t col_end(const struct run_column *c)
{
	const struct run_column_int *ints[] = {&c->v, &c->port, &c->proto, &c->version};
	uint32_t end = c->size ? c->off + c->size : 0;
	size_t i;

	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		if (ints[i]->size && ints[i]->off + ints[i]->size > end)
			end = ints[i]->off + ints[i]->size;
	return end;
}

/*
 * A record whose last field is a string shown up to its NUL (trace_open's
 * fname): a gadget writes the string and leaves the rest of the array as
 * the ring buffer had it, an older record's bytes, which no column shows.
 * They are not sent (run_remote_enc_size()); a client reads what a record
 * lacks as zeros.  Only when nothing else lies at or past the string but
 * other such strings: no other field (a union, an internal one), no column
 * of another kind, nothing derived from the bytes after the struct.
 */
static bool tail_ok(const struct run_remote_enc *e, const struct run_column *cols, size_t n,
		    const struct run_column *s)
{
	const struct bpf_layout *l = run_pipeline_layout(e->p);
	size_t i, k;

	/* what lies past it must be one of the tails found already (all after it) */
	for (i = 0; i < l->n_fields; i++) {
		const struct bpf_layout_field *f = &l->fields[i];
		bool tail = false;

		if (f->kind == BPF_LAYOUT_STRUCT || (f->offset == s->off && f->size == s->size) ||
		    f->offset + f->size <= s->off)
			continue;
		for (k = 0; k < e->n_tails && !tail; k++)
			tail = f->offset == e->tails[k].off &&
			       f->offset + f->size == e->tails[k].end;
		if (!tail || f->offset < s->off + s->size)
			return false;
	}
	for (i = 0; i < n; i++) {
		bool tail = false;

		if (&cols[i] == s || col_end(&cols[i]) <= s->off)
			continue;
		for (k = 0; k < e->n_tails && !tail; k++)
			tail = cols[i].kind == RUN_COLUMN_STRING && cols[i].off == e->tails[k].off;
		if (!tail)
			return false;
	}
	return true;
}

static void find_tails(struct run_remote_enc *e, const struct run_column *cols, size_t n)
{
	uint32_t below = UINT32_MAX;
	size_t i;

	/* bytes after the struct are read by a derived column: nothing may be cut */
	for (i = 0; i < n; i++)
		if (cols[i].kind == RUN_COLUMN_EXTERN &&
		    cols[i].source == RUN_COLUMN_SOURCE_DERIVED)
			return;
	/* from the last string down, while each has only tails after it */
	while (e->n_tails < RUN_REMOTE_MAX_TAILS) {
		const struct run_column *s = NULL;

		for (i = 0; i < n; i++)
			if (cols[i].kind == RUN_COLUMN_STRING && cols[i].size && cols[i].off &&
			    cols[i].off < below && (!s || cols[i].off > s->off))
				s = &cols[i];
		if (!s || !tail_ok(e, cols, n, s))
			break;
		/* kept in ascending order: the new one goes first */
		memmove(&e->tails[1], &e->tails[0], e->n_tails * sizeof(e->tails[0]));
		e->tails[0].off = s->off;
		e->tails[0].end = s->off + s->size;
		e->n_tails++;
		below = s->off;
	}
}

int run_remote_enc_new(struct run_pipeline *p, struct run_remote_enc **ret)
{
	const struct run_column *cols = run_pipeline_columns(p);
	size_t i, n = run_pipeline_n_columns(p);
	struct run_remote_enc *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->p = p;
	e->has_mntns = run_enrich_mntns_offset(run_pipeline_layout(p), &e->mntns_off) == 0;
	e->ccols = calloc(n ? n : 1, sizeof(*e->ccols));
	e->eps = calloc(n ? n : 1, sizeof(*e->eps));
	e->texts = calloc(n ? n : 1, sizeof(*e->texts));
	if (!e->ccols || !e->eps || !e->texts) {
		run_remote_enc_free(e);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		if (cols[i].kind == RUN_COLUMN_EXTERN &&
		    cols[i].source == RUN_COLUMN_SOURCE_CONTAINER) {
			e->texts[e->n_ccols].max = RUN_REMOTE_MAX_VALUE * 2;
			e->ccols[e->n_ccols++] = &cols[i];
		}
		if (cols[i].kind == RUN_COLUMN_L4 && cols[i].ep)
			e->eps[e->n_eps++] = &cols[i];
	}
	e->containers.n_values = e->n_ccols;
	e->endpoints.n_values = 3;
	find_tails(e, cols, n);
	*ret = e;
	return 0;
}

struct run_remote_enc *run_remote_enc_free(struct run_remote_enc *e)
{
	size_t i;

	if (!e)
		return NULL;
	table_done(&e->containers);
	table_done(&e->endpoints);
	for (i = 0; e->texts && i < e->n_ccols; i++)
		base_buf_done(&e->texts[i]);
	free(e->texts);
	free(e->ccols);
	free(e->eps);
	free(e);
	return NULL;
}

void run_remote_enc_tick(struct run_remote_enc *e, uint64_t now_ms)
{
	e->now_ms = now_ms;
	e->last_valid = false;
}

static int enc_container(struct run_remote_enc *e, const void *rec, size_t size,
			 const struct run_remote_news *news)
{
	const char *values[RUN_REMOTE_MAX_CONTAINER_COLUMNS];
	uint64_t mntns = 0, h;
	struct entry *en;
	size_t i;
	int err = 0;

	if (!e->n_ccols || !e->has_mntns || (size_t)e->mntns_off + 8 > size)
		return 0;
	memcpy(&mntns, (const uint8_t *)rec + e->mntns_off, 8);
	/* consecutive records mostly come from one process */
	if (e->last_valid && mntns == e->last_mntns)
		return 0;
	h = hash_u64(mntns);
	en = table_find(&e->containers, h, mntns, NULL);
	if (en && e->now_ms - en->checked_ms < RUN_REMOTE_RECHECK_MS) {
		e->last_mntns = mntns;
		e->last_valid = true;
		return 0;
	}
	if (!en)
		en = table_add(&e->containers, h, mntns, NULL);
	if (!en)
		return 0; /* past the bound: the client renders it unnamed */
	for (i = 0; i < e->n_ccols && i < sizeof(values) / sizeof(values[0]); i++) {
		const struct run_column *c = e->ccols[i];

		int got;

		base_buf_reset(&e->texts[i]);
		got = c->text_fn(rec, size, &e->texts[i], c->ctx);
		values[i] = got == 0 ? (e->texts[i].data ? e->texts[i].data : "") : NULL;
	}
	en->checked_ms = e->now_ms;
	e->last_mntns = mntns;
	e->last_valid = true;
	if (entry_set(en, i, values, &err) && news && news->container)
		return news->container(news->ctx, mntns, values, i);
	return err;
}

static int enc_endpoints(struct run_remote_enc *e, const void *rec, size_t size,
			 const struct run_remote_news *news)
{
	struct run_column_env *env = run_pipeline_env(e->p);
	size_t i;
	int err = 0;

	for (i = 0; i < e->n_eps && err >= 0; i++) {
		char ip[64];
		const struct run_endpoint_k8s *v =
			run_column_ep_lookup(env, e->eps[i], rec, size, ip, sizeof(ip));
		const char *vals[3] = {v && v->kind ? v->kind : "", v && v->name ? v->name : "",
				       v && v->namespace ? v->namespace : ""};
		uint64_t h;
		struct entry *en;

		if (!ip[0])
			continue;
		h = hash_str(ip);
		en = table_find(&e->endpoints, h, 0, ip);
		if (en && e->now_ms - en->checked_ms < RUN_REMOTE_RECHECK_MS)
			continue;
		if (!en)
			en = table_add(&e->endpoints, h, 0, ip);
		if (!en)
			continue;
		en->checked_ms = e->now_ms;
		if (entry_set(en, 3, vals, &err) && news && news->endpoint)
			err = news->endpoint(news->ctx, ip, vals[0], vals[1], vals[2]);
	}
	return err;
}

int run_remote_enc_record(struct run_remote_enc *e, const void *rec, size_t size,
			  const struct run_remote_news *news)
{
	int r = enc_container(e, rec, size, news);

	if (r >= 0 && e->n_eps)
		r = enc_endpoints(e, rec, size, news);
	return r;
}

size_t run_remote_enc_size(const struct run_remote_enc *e, const void *rec, size_t size)
{
	size_t i, n;

	/* the last tail that starts in the record, and it must end there too */
	for (i = e->n_tails; i-- > 0;) {
		if (size <= e->tails[i].off)
			continue;
		if (size > e->tails[i].end)
			return size;
		n = size - e->tails[i].off;
		return e->tails[i].off + strnlen((const char *)rec + e->tails[i].off, n);
	}
	return size;
}

int run_remote_enc_all(struct run_remote_enc *e, const struct run_remote_news *news)
{
	size_t i;
	int r = 0;

	for (i = 0; i < e->containers.n_buckets && r >= 0; i++)
		for (struct entry *en = e->containers.buckets[i]; en && r >= 0; en = en->next)
			if (news->container)
				r = news->container(news->ctx, en->mntns,
						    (const char *const *)en->values,
						    e->containers.n_values);
	for (i = 0; i < e->endpoints.n_buckets && r >= 0; i++)
		for (struct entry *en = e->endpoints.buckets[i]; en && r >= 0; en = en->next)
			if (news->endpoint)
				r = news->endpoint(news->ctx, en->ip, en->values[0], en->values[1],
						   en->values[2]);
	return r;
}

/* ------------------------------------------------------------ the client's side */

struct remote_ds;

/* A computed column of the client's pipeline: its text comes from the node's tables. */
struct remote_col {
	struct remote_ds *ds;
	size_t index; /* among the data source's columns */
	size_t ccol;  /* CONTAINER: among the container columns */
	enum run_column_source source;
	char *value; /* CONSTANT: the first node's */
};

struct node_tables {
	struct table containers, endpoints;
	char **constants; /* per column; NULL: the description's */
};

struct remote_ds {
	struct run_remote *r;
	char *name;
	bool batches;
	struct bpf_layout *layout;
	struct run_pipeline *p;
	struct remote_col *cols;
	size_t n_cols, n_ccols;
	uint32_t mntns_off;
	bool has_mntns;
	struct run_derived *derived; /* ebpf.rest, DNS: the same columns as the node's */
	struct node_tables *nodes;   /* per node */
	void *scratch;		     /* batches: records padded to the layout's size */
	size_t scratch_cap;
};

struct run_remote {
	struct run_remote_opts o;
	struct remote_ds ds[RUN_REMOTE_MAX_DS];
	size_t n_ds;
	char **node_names;
	int64_t *node_clocks; /* CLOCK_REALTIME - CLOCK_BOOTTIME of each node */
	size_t n_nodes;
	int cur; /* the node of the record being rendered */
	bool prepared;
};

int run_remote_new(const struct run_remote_opts *opts, struct run_remote **ret)
{
	struct run_remote *r;

	if (!opts || opts->sz < sizeof(*opts))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->o = *opts;
	r->cur = -1;
	*ret = r;
	return 0;
}

static void node_tables_done(struct node_tables *t, size_t n_cols)
{
	size_t i;

	table_done(&t->containers);
	table_done(&t->endpoints);
	for (i = 0; t->constants && i < n_cols; i++)
		free(t->constants[i]);
	free(t->constants);
}

struct run_remote *run_remote_free(struct run_remote *r)
{
	size_t i, k;

	if (!r)
		return NULL;
	for (i = 0; i < r->n_ds; i++) {
		struct remote_ds *d = &r->ds[i];

		run_pipeline_free(d->p);
		run_derived_free(d->derived);
		bpf_layout_free(d->layout);
		for (k = 0; d->cols && k < d->n_cols; k++)
			free(d->cols[k].value);
		for (k = 0; d->nodes && k < r->n_nodes; k++)
			node_tables_done(&d->nodes[k], d->n_cols);
		free(d->nodes);
		free(d->cols);
		free(d->name);
		free(d->scratch);
	}
	for (i = 0; i < r->n_nodes; i++)
		free(r->node_names[i]);
	free(r->node_names);
	free(r->node_clocks);
	free(r);
	return NULL;
}

static int col_text(const void *rec, size_t size, struct base_buf *out, void *ctx)
{
	const struct remote_col *c = ctx;
	const struct remote_ds *d = c->ds;
	const struct run_remote *r = d->r;
	const struct node_tables *t = r->cur >= 0 ? &d->nodes[r->cur] : NULL;
	const struct entry *en;
	uint64_t mntns;
	int err;

	if (c->source == RUN_COLUMN_SOURCE_CONSTANT) {
		const char *v = t && t->constants && t->constants[c->index] ? t->constants[c->index]
									    : c->value;

		err = base_buf_puts(out, v ? v : "");
		return err < 0 ? err : 0;
	}
	if (!t || !d->has_mntns || !rec || (size_t)d->mntns_off + 8 > size)
		return 1;
	memcpy(&mntns, (const uint8_t *)rec + d->mntns_off, 8);
	en = table_find(&t->containers, hash_u64(mntns), mntns, NULL);
	if (!en || !en->values[c->ccol])
		return 1; /* not told (past the node's bound), or no value there */
	err = base_buf_puts(out, en->values[c->ccol]);
	return err < 0 ? err : 0;
}

static int ep_lookup_cb(void *ctx, const char *ip, struct run_endpoint_k8s *ret)
{
	const struct remote_ds *d = ctx;
	const struct run_remote *r = d->r;
	const struct entry *en;

	if (r->cur < 0)
		return 1;
	en = table_find(&d->nodes[r->cur].endpoints, hash_str(ip), 0, ip);
	if (!en || !en->values[0] || !*en->values[0])
		return 1;
	ret->kind = en->values[0];
	ret->name = en->values[1];
	ret->namespace = en->values[2];
	ret->ref = NULL;
	return 0;
}

int run_remote_add_ds(struct run_remote *r, const char *name, bool batches,
		      struct bpf_layout *layout, const struct oci_metadata_ds *md,
		      const struct run_remote_column *cols, size_t n, bool endpoint_k8s)
{
	struct run_pipeline_opts po = {
		.sz = sizeof(po),
		.output = r->o.output,
		.fields = r->o.fields,
		.no_header = r->o.no_header,
		.out_fd = r->o.out_fd,
		.errbuf = r->o.errbuf,
		.errbuf_len = r->o.errbuf_len,
	};
	struct remote_ds *d;
	size_t i;
	int err;

	if (r->prepared || r->n_ds == RUN_REMOTE_MAX_DS) {
		bpf_layout_free(layout);
		return r->prepared ? -EBUSY : -E2BIG;
	}
	d = &r->ds[r->n_ds];
	memset(d, 0, sizeof(*d));
	d->r = r;
	d->layout = layout;
	d->batches = batches;
	d->name = strdup(name);
	d->cols = calloc(n ? n : 1, sizeof(*d->cols));
	/* from here on run_remote_free() takes it down, whatever fails */
	r->n_ds++;
	if (!d->name || !d->cols)
		return -ENOMEM;
	if (n > RUN_REMOTE_MAX_CONTAINER_COLUMNS)
		return -E2BIG;
	d->has_mntns = run_enrich_mntns_offset(layout, &d->mntns_off) == 0;
	err = run_pipeline_new(layout, md, &po, &d->p);
	if (err < 0)
		return err;
	for (i = 0; i < n; i++) {
		struct remote_col *c = &d->cols[i];
		struct run_column_def def = {
			.name = cols[i].name,
			.description = cols[i].description,
			.hidden = cols[i].hidden,
			.hidden_columns = cols[i].hidden_columns,
			.width = (int)cols[i].width,
			.number = cols[i].number,
			.text = col_text,
			.ctx = c,
			.source = cols[i].source,
		};

		c->ds = d;
		c->index = i;
		c->source = cols[i].source;
		if (c->source == RUN_COLUMN_SOURCE_CONTAINER)
			c->ccol = d->n_ccols++;
		else if (!(c->value = strdup(cols[i].value ? cols[i].value : "")))
			return -ENOMEM;
		d->n_cols = i + 1;
		err = run_pipeline_add_column(d->p, &def);
		if (err < 0)
			return err;
	}
	if (endpoint_k8s) {
		struct run_endpoint_resolver res = {.lookup = ep_lookup_cb, .ctx = d};

		err = run_pipeline_add_endpoint_k8s(d->p, &res);
		if (err < 0)
			return err;
	}
	return run_derived_new(d->p, name, !batches, layout, md, &d->derived, r->o.errbuf,
			       r->o.errbuf_len);
}

int run_remote_prepare(struct run_remote *r)
{
	size_t i;
	int err;

	for (i = 0; i < r->n_ds; i++) {
		err = run_pipeline_prepare(r->ds[i].p);
		if (err < 0)
			return err;
	}
	r->prepared = true;
	return 0;
}

int run_remote_ds_index(const struct run_remote *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n_ds; i++)
		if (!strcmp(r->ds[i].name, name ? name : ""))
			return (int)i;
	/* a record naming no data source belongs to the only one there is */
	return r->n_ds == 1 && (!name || !*name) ? 0 : -ENOENT;
}

size_t run_remote_ds_count(const struct run_remote *r)
{
	return r->n_ds;
}

int run_remote_node(struct run_remote *r, const char *name)
{
	size_t i;
	char **names;
	int64_t *clocks;

	if (!r->prepared)
		return -EBUSY;
	for (i = 0; i < r->n_nodes; i++)
		if (!strcmp(r->node_names[i], name))
			return (int)i;
	if (r->n_nodes == RUN_REMOTE_MAX_NODES)
		return -E2BIG;
	names = realloc(r->node_names, (r->n_nodes + 1) * sizeof(*names));
	if (!names)
		return -ENOMEM;
	r->node_names = names;
	clocks = realloc(r->node_clocks, (r->n_nodes + 1) * sizeof(*clocks));
	if (!clocks)
		return -ENOMEM;
	r->node_clocks = clocks;
	/* until the node says, the clock of this host */
	clocks[r->n_nodes] = r->n_ds ? run_pipeline_boot_offset(r->ds[0].p) : 0;
	for (i = 0; i < r->n_ds; i++) {
		struct remote_ds *d = &r->ds[i];
		struct node_tables *t = realloc(d->nodes, (r->n_nodes + 1) * sizeof(*t));

		if (!t)
			return -ENOMEM;
		d->nodes = t;
		memset(&t[r->n_nodes], 0, sizeof(*t));
		t[r->n_nodes].containers.n_values = d->n_ccols;
		t[r->n_nodes].endpoints.n_values = 3;
	}
	names[r->n_nodes] = strdup(name);
	if (!names[r->n_nodes])
		return -ENOMEM;
	return (int)r->n_nodes++;
}

static struct node_tables *tables_of(struct run_remote *r, int node, size_t ds)
{
	if (node < 0 || (size_t)node >= r->n_nodes || ds >= r->n_ds)
		return NULL;
	return &r->ds[ds].nodes[node];
}

int run_remote_node_constant(struct run_remote *r, int node, size_t ds, const char *column,
			     const char *value)
{
	struct node_tables *t = tables_of(r, node, ds);
	struct remote_ds *d = ds < r->n_ds ? &r->ds[ds] : NULL;
	size_t i;

	if (!t)
		return -EINVAL;
	for (i = 0; i < d->n_cols; i++) {
		const char *name = run_pipeline_columns(d->p)[i].name;

		if (d->cols[i].source != RUN_COLUMN_SOURCE_CONSTANT || strcmp(name, column))
			continue;
		if (!t->constants && !(t->constants = calloc(d->n_cols, sizeof(*t->constants))))
			return -ENOMEM;
		free(t->constants[i]);
		t->constants[i] = strndup(value ? value : "", RUN_REMOTE_MAX_VALUE);
		return t->constants[i] ? 0 : -ENOMEM;
	}
	return -ENOENT;
}

int run_remote_node_clock(struct run_remote *r, int node, int64_t boot_to_real_ns)
{
	if (node < 0 || (size_t)node >= r->n_nodes)
		return -EINVAL;
	r->node_clocks[node] = boot_to_real_ns;
	return 0;
}

size_t run_remote_container_columns(const struct run_remote *r, size_t ds)
{
	return ds < r->n_ds ? r->ds[ds].n_ccols : 0;
}

const struct bpf_layout *run_remote_ds_layout(const struct run_remote *r, size_t ds)
{
	return ds < r->n_ds ? r->ds[ds].layout : NULL;
}

bool run_remote_ds_batches(const struct run_remote *r, size_t ds)
{
	return ds < r->n_ds && r->ds[ds].batches;
}

int run_remote_container(struct run_remote *r, int node, size_t ds, uint64_t mntns,
			 const char *const *values, size_t n)
{
	struct node_tables *t = tables_of(r, node, ds);
	uint64_t h = hash_u64(mntns);
	struct entry *en;
	int err = 0;

	if (!t || n != t->containers.n_values)
		return -EINVAL;
	en = table_find(&t->containers, h, mntns, NULL);
	if (!en)
		en = table_add(&t->containers, h, mntns, NULL);
	if (!en)
		return t->containers.n >= RUN_REMOTE_MAX_ENTRIES ? 0 : -ENOMEM;
	entry_set(en, n, values, &err);
	return err;
}

int run_remote_endpoint(struct run_remote *r, int node, size_t ds, const char *ip, const char *kind,
			const char *name, const char *ns)
{
	struct node_tables *t = tables_of(r, node, ds);
	const char *vals[3] = {kind, name, ns};
	struct entry *en;
	uint64_t h;
	int err = 0;

	if (!t || !ip || strlen(ip) > 64)
		return -EINVAL;
	h = hash_str(ip);
	en = table_find(&t->endpoints, h, 0, ip);
	if (!en)
		en = table_add(&t->endpoints, h, 0, ip);
	if (!en)
		return t->endpoints.n >= RUN_REMOTE_MAX_ENTRIES ? 0 : -ENOMEM;
	entry_set(en, 3, vals, &err);
	return err;
}

int run_remote_begin(struct run_remote *r)
{
	size_t i;
	int err;

	for (i = 0; i < r->n_ds; i++) {
		if (r->ds[i].batches)
			continue;
		err = run_pipeline_begin(r->ds[i].p);
		if (err < 0)
			return err;
	}
	return 0;
}

int run_remote_record(struct run_remote *r, int node, size_t ds, const void *data, size_t size)
{
	int err;

	if (!tables_of(r, node, ds))
		return -EINVAL;
	r->cur = node;
	run_pipeline_set_boot_offset(r->ds[ds].p, r->node_clocks[node]);
	err = run_pipeline_record(r->ds[ds].p, data, size);
	r->cur = -1;
	return err;
}

int run_remote_batch(struct run_remote *r, int node, size_t ds, const void *const *records,
		     const size_t *sizes, size_t n)
{
	struct remote_ds *d;
	const void **recs;
	size_t i, sz;
	uint8_t *buf;
	int err;

	if (!tables_of(r, node, ds))
		return -EINVAL;
	d = &r->ds[ds];
	sz = d->layout->size ? d->layout->size : 1;
	/* the pipeline takes one size: shorter records are padded with zeros, longer cut */
	if (n && (n > SIZE_MAX / sz || n * sz > d->scratch_cap)) {
		void *s = n <= SIZE_MAX / sz ? realloc(d->scratch, n * sz) : NULL;

		if (!s)
			return -ENOMEM;
		d->scratch = s;
		d->scratch_cap = n * sz;
	}
	recs = calloc(n ? n : 1, sizeof(*recs));
	if (!recs)
		return -ENOMEM;
	buf = d->scratch;
	for (i = 0; i < n; i++) {
		size_t c = sizes[i] < sz ? sizes[i] : sz;

		memcpy(buf + i * sz, records[i], c);
		memset(buf + i * sz + c, 0, sz - c);
		recs[i] = buf + i * sz;
	}
	r->cur = node;
	run_pipeline_set_boot_offset(d->p, r->node_clocks[node]);
	err = run_pipeline_batch(d->p, recs, n, sz);
	r->cur = -1;
	free(recs);
	return err;
}

int run_remote_flush(struct run_remote *r)
{
	size_t i;
	int err;

	for (i = 0; i < r->n_ds; i++) {
		err = run_pipeline_flush(r->ds[i].p);
		if (err < 0)
			return err;
	}
	return 0;
}
