// SPDX-License-Identifier: Apache-2.0
/*
 * The record pipeline.  See pipeline.h.
 *
 * run_pipeline_prepare() turns the selected columns into "programs": for
 * JSON and YAML, the text between two values (closing and opening braces,
 * commas, quoted keys, indentation) is computed once, so printing a record
 * is, per column, one copy of a constant prefix and one value written
 * straight into the output buffer.  Column headers are computed once too.
 */
#include "run/pipeline.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "run/column.h"
#include "run/escape.h"
#include "run/fields.h"
#include "run/filter.h"
#include "run/users.h"
#include "bpf/layout.h"
#include "oci/metadata.h"
#include "base/err.h"

/* A column name given by a caller; longer ones are refused. */
#define MAX_COLUMN_NAME 128
/*
 * Each pipeline's epochs start at a multiple of this, from a process-wide
 * counter, so that no two pipelines ever share an epoch value.
 */
#define EPOCH_SPAN (UINT64_C(1) << 40)

static _Atomic uint64_t epoch_base;

struct prog_op {
	const struct run_column *c;
	char *prefix;
	size_t prefix_len;
	int indent; /* of the value's own members (pretty JSON, YAML) */
};

/* A record's output as constant text around each value. */
struct prog {
	struct prog_op *ops;
	size_t n;
	char *suffix;
	size_t suffix_len;
};

struct sort_key {
	const struct run_column *c;
	bool desc;
};

struct run_pipeline {
	const struct bpf_layout *layout;
	const struct oci_metadata_ds *md;
	enum run_output output;
	char *fields;
	char *sort;
	char **filter_exprs;
	size_t n_filter_exprs;
	size_t max_entries;
	int out_fd;
	bool clear_screen;
	bool no_header;
	char *errbuf;
	size_t errbuf_len;
	int (*record_fn)(void *ctx, const char *json, size_t len);
	void *record_ctx;
	int (*raw_fn)(void *ctx, const void *rec, size_t size);
	void *raw_ctx;
	int (*observer)(void *ctx, const void *rec, size_t size);
	void *observer_ctx;

	/* the caller's columns (n_ext of them) first, then the layout's */
	struct run_column *cols;
	size_t n_cols;
	size_t n_ext;
	bool prepared;

	const struct run_column **sel;
	size_t n_sel;
	char *header; /* columns mode: the header line with its newline */
	size_t header_len;
	struct run_filter **filters;
	size_t n_filters;
	struct sort_key *keys;
	size_t n_keys;
	struct prog stream; /* json, jsonpretty, yaml: a record on its own */
	struct prog item;   /* the same as an element of a batch */
	/* columns mode: the selected histogram slot arrays, drawn as histograms in batches */
	const struct run_column **hist;
	const char **hist_unit;
	size_t n_hist;

	struct run_column_env env;
	struct base_buf out;
	bool header_done;
	bool hist_printed; /* a batch of histograms went out: the next needs a blank line */
	uint64_t n_batches;
	uint64_t matched;
};

static int set_err(struct run_pipeline *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int set_err(struct run_pipeline *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	base_err_setv(p->errbuf, p->errbuf_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int run_output_parse(const char *s, enum run_output *ret)
{
	static const char *const names[] = {
		[RUN_OUTPUT_COLUMNS] = "columns",
		[RUN_OUTPUT_JSON] = "json",
		[RUN_OUTPUT_JSONPRETTY] = "jsonpretty",
		[RUN_OUTPUT_YAML] = "yaml",
	};
	size_t i;

	for (i = 0; s && i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*ret = (enum run_output)i;
			return 0;
		}
	}
	return -EINVAL;
}

static int dup_opt(const char *s, char **ret)
{
	*ret = NULL;
	if (!s)
		return 0;
	if (strlen(s) > RUN_PIPELINE_MAX_EXPR)
		return -E2BIG;
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

int run_pipeline_new(const struct bpf_layout *layout, const struct oci_metadata_ds *md,
		     const struct run_pipeline_opts *opts, struct run_pipeline **ret)
{
	struct run_pipeline_opts o = {0};
	struct run_pipeline *p;
	size_t i;
	int r;

	if (!layout || !opts || !ret || opts->sz < offsetof(struct run_pipeline_opts, errbuf))
		return -EINVAL;
	memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->layout = layout;
	p->md = md;
	p->output = o.output;
	p->max_entries = o.max_entries;
	p->out_fd = o.out_fd;
	p->clear_screen = o.clear_screen;
	p->no_header = o.no_header;
	p->errbuf = o.errbuf;
	p->errbuf_len = o.errbuf_len;
	p->record_fn = o.record_fn;
	p->record_ctx = o.record_ctx;
	p->raw_fn = o.raw_fn;
	p->raw_ctx = o.raw_ctx;
	if (p->record_fn || p->raw_fn)
		p->output = RUN_OUTPUT_JSON;
	p->env.epoch = atomic_fetch_add(&epoch_base, EPOCH_SPAN) + 1;
	p->out.max = BASE_BUF_DEFAULT_MAX;
	p->env.scratch.max = BASE_BUF_DEFAULT_MAX;
	run_render_time_cache_init(&p->env.time);
	if (p->errbuf && p->errbuf_len)
		p->errbuf[0] = '\0';

	if (o.output > RUN_OUTPUT_YAML) {
		r = set_err(p, "unknown output format %d", (int)o.output);
		goto fail;
	}
	if (o.n_filters && !o.filters) {
		r = -EINVAL;
		goto fail;
	}
	if (o.n_filters > RUN_PIPELINE_MAX_FILTERS) {
		r = set_err(p, "too many filters (at most %d)", RUN_PIPELINE_MAX_FILTERS);
		goto fail;
	}
	/* "--fields=" with nothing in it means the defaults, not no columns */
	if (o.fields && !o.fields[strspn(o.fields, " \t,")])
		o.fields = NULL;
	r = dup_opt(o.fields, &p->fields);
	if (r >= 0)
		r = dup_opt(o.sort, &p->sort);
	if (r == -E2BIG) {
		r = set_err(p, "--fields or --sort longer than %d bytes", RUN_PIPELINE_MAX_EXPR);
		goto fail;
	}
	if (r < 0)
		goto fail;
	if (o.n_filters) {
		p->filter_exprs = calloc(o.n_filters, sizeof(*p->filter_exprs));
		if (!p->filter_exprs) {
			r = -ENOMEM;
			goto fail;
		}
		p->n_filter_exprs = o.n_filters;
		for (i = 0; i < o.n_filters; i++) {
			r = dup_opt(o.filters[i] ? o.filters[i] : "", &p->filter_exprs[i]);
			if (r == -E2BIG) {
				r = set_err(p, "filter longer than %d bytes",
					    RUN_PIPELINE_MAX_EXPR);
				goto fail;
			}
			if (r < 0)
				goto fail;
		}
	}
	r = run_column_catalog(layout, md, &p->cols, &p->n_cols);
	if (r < 0) {
		if (r == -E2BIG)
			set_err(p, "record layout of '%s' too large",
				layout->name ? layout->name : "?");
		goto fail;
	}
	*ret = p;
	return 0;
fail:
	run_pipeline_free(p);
	return r;
}

static bool valid_column_name(const char *s)
{
	size_t n = strlen(s), i;

	if (!n || n > MAX_COLUMN_NAME || s[0] == '.' || s[n - 1] == '.' || strstr(s, ".."))
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* "a.b" and "a.b.c" cannot both be JSON keys. */
static bool nested_names(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	if (na < nb)
		return !strncmp(a, b, na) && b[na] == '.';
	return !strncmp(a, b, nb) && a[nb] == '.';
}

/* Inserts the column at index at (the caller's columns go at n_ext, the front). */
static int add_column_at(struct run_pipeline *p, const struct run_column_def *def, size_t at)
{
	struct run_column *cols;
	size_t i;
	int r;

	if (!p || !def)
		return -EINVAL;
	if (p->prepared)
		return -EBUSY;
	if (!def->name || !valid_column_name(def->name))
		return set_err(p, "invalid column name '%.*s'", MAX_COLUMN_NAME,
			       def->name ? def->name : "");
	if (!def->text)
		return set_err(p, "column '%s' has no text callback", def->name);
	for (i = 0; i < p->n_cols; i++) {
		if (!strcmp(p->cols[i].name, def->name))
			return set_err(p, "column '%s' already exists", def->name);
		if (nested_names(p->cols[i].name, def->name))
			return set_err(p, "column '%s' conflicts with field '%s'", def->name,
				       p->cols[i].name);
	}
	cols = realloc(p->cols, (p->n_cols + 1) * sizeof(*cols));
	if (!cols)
		return -ENOMEM;
	p->cols = cols;
	memmove(&cols[at + 1], &cols[at], (p->n_cols - at) * sizeof(*cols));
	r = run_column_init_extern(&cols[at], def->name, def->description, def->hidden, def->width,
				   def->text, def->ctx);
	if (r < 0) {
		memmove(&cols[at], &cols[at + 1], (p->n_cols - at) * sizeof(*cols));
		return r;
	}
	if (def->number) {
		cols[at].flags |= RUN_COLUMN_NUMBER | RUN_COLUMN_RIGHT;
		cols[at].type = "uint64";
	}
	if (def->hidden_columns)
		cols[at].flags |= RUN_COLUMN_HIDDEN_COLS;
	cols[at].source = def->source;
	if (at <= p->n_ext)
		p->n_ext++;
	p->n_cols++;
	return 0;
}

int run_pipeline_add_column(struct run_pipeline *p, const struct run_column_def *def)
{
	return add_column_at(p, def, p ? p->n_ext : 0);
}

int run_pipeline_add_column_after(struct run_pipeline *p, const struct run_column_def *def,
				  const char *after)
{
	size_t i, at, len = after ? strlen(after) : 0;

	if (!p || !after)
		return -EINVAL;
	/* after the field, and after its members when it is a struct */
	for (i = 0, at = p->n_cols; i < p->n_cols; i++)
		if (!strncmp(p->cols[i].name, after, len) &&
		    (!p->cols[i].name[len] || p->cols[i].name[len] == '.'))
			at = i + 1;
	return add_column_at(p, def, at);
}

int run_pipeline_add_endpoint_k8s(struct run_pipeline *p, const struct run_endpoint_resolver *res)
{
	size_t i;
	int r;

	if (!p || !res || !res->lookup)
		return -EINVAL;
	if (p->prepared)
		return -EBUSY;
	for (i = p->n_ext; i < p->n_cols; i++) {
		struct run_column *cols;
		size_t end = i + 1, len = strlen(p->cols[i].name), k;
		char probe[MAX_COLUMN_NAME * 2 + 16];

		if (p->cols[i].kind != RUN_COLUMN_L4 || p->cols[i].ep)
			continue;
		/* a gadget field of that name would clash: leave that endpoint alone */
		snprintf(probe, sizeof(probe), "%s.k8s", p->cols[i].name);
		if (run_column_find(p->cols, p->n_cols, probe, strlen(probe)) >= 0)
			continue;
		/* after the endpoint's own members, so the columns stay grouped */
		while (end < p->n_cols && !strncmp(p->cols[end].name, p->cols[i].name, len) &&
		       p->cols[end].name[len] == '.')
			end++;
		cols = realloc(p->cols, (p->n_cols + 3) * sizeof(*cols));
		if (!cols)
			return -ENOMEM;
		p->cols = cols;
		cols[i].ep = calloc(1, sizeof(*cols[i].ep));
		if (!cols[i].ep)
			return -ENOMEM;
		cols[i].ep->res = *res;
		memmove(&cols[end + 3], &cols[end], (p->n_cols - end) * sizeof(*cols));
		for (k = 0; k < 3; k++) {
			r = run_column_init_ep_k8s(&cols[end + k], &cols[i],
						   (enum run_column_ep_part)k);
			if (r < 0) {
				while (k--)
					run_column_done(&cols[end + k]);
				memmove(&cols[end], &cols[end + 3],
					(p->n_cols - end) * sizeof(*cols));
				free(cols[i].ep);
				cols[i].ep = NULL;
				return r;
			}
		}
		p->n_cols += 3;
		i = end + 2;
	}
	return 0;
}

/* ---- field selection ---- */

static bool in_default_set(const struct run_pipeline *p, const struct run_column *c)
{
	unsigned int mask = RUN_COLUMN_HIDDEN;

	mask |= p->output == RUN_OUTPUT_COLUMNS ? RUN_COLUMN_HIDDEN_COLS : RUN_COLUMN_JSON_SKIP;
	return !(c->flags & mask);
}

static bool selected(const struct run_pipeline *p, const struct run_column *c)
{
	size_t i;

	for (i = 0; i < p->n_sel; i++)
		if (p->sel[i] == c)
			return true;
	return false;
}

static void trim(const char **s, size_t *n)
{
	while (*n && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

static int select_fields(struct run_pipeline *p)
{
	struct run_fields_item *items;
	size_t *idx, i, n = 0;
	int r = -ENOMEM;

	p->sel = calloc(p->n_cols ? p->n_cols : 1, sizeof(*p->sel));
	items = calloc(p->n_cols ? p->n_cols : 1, sizeof(*items));
	idx = calloc(p->n_cols ? p->n_cols : 1, sizeof(*idx));
	if (!p->sel || !items || !idx)
		goto out;
	for (i = 0; i < p->n_cols; i++) {
		items[i].name = p->cols[i].name;
		items[i].short_name = p->cols[i].short_name;
		items[i].in_default = in_default_set(p, &p->cols[i]);
	}
	r = run_fields_select(items, p->n_cols, p->fields, idx, &n, p->errbuf, p->errbuf_len);
	if (r < 0)
		goto out;
	for (i = 0; i < n; i++)
		p->sel[p->n_sel++] = &p->cols[idx[i]];
out:
	free(items);
	free(idx);
	return r;
}

/* ---- columns mode ---- */

/*
 * A cell of width c->width.  The last cell of a line is never cut (nothing
 * follows it) and only padded when right-aligned.
 */
static int put_cell(struct base_buf *b, const struct run_column *c, const char *s, size_t n,
		    bool last)
{
	bool right = c->flags & RUN_COLUMN_RIGHT;
	size_t w = c->width;

	if (last)
		w = right && w > run_escape_width(s, n) ? w : 0;
	return run_escape_cell(b, s, n, w, right, !last || right);
}

static int build_header(struct run_pipeline *p)
{
	struct base_buf b = BASE_BUF_INIT(0);
	size_t i, j;
	int r = 0;

	for (i = 0; i < p->n_sel && r >= 0; i++) {
		const struct run_column *c = p->sel[i];
		const char *name = c->short_name;
		bool last = i + 1 == p->n_sel;
		char upper[2 * MAX_COLUMN_NAME + 64];
		size_t n;

		/* A short name two selected columns share would be ambiguous. */
		for (j = 0; j < p->n_sel; j++)
			if (j != i && !strcmp(p->sel[j]->short_name, name))
				name = c->name;
		n = strlen(name);
		if (n >= sizeof(upper))
			n = sizeof(upper) - 1;
		for (j = 0; j < n; j++)
			upper[j] =
				(name[j] >= 'a' && name[j] <= 'z') ? (char)(name[j] - 32) : name[j];
		if (i)
			r = base_buf_putc(&b, ' ');
		if (r >= 0)
			r = put_cell(&b, c, upper, n, last);
	}
	if (r >= 0)
		r = base_buf_putc(&b, '\n');
	if (r < 0) {
		base_buf_done(&b);
		return r;
	}
	p->header_len = b.len;
	p->header = base_buf_take(&b);
	return p->header ? 0 : -ENOMEM;
}

static int emit_row(struct run_pipeline *p, const void *rec, size_t size)
{
	struct base_buf *tmp = &p->env.scratch;
	size_t i;
	int r = 0;

	for (i = 0; i < p->n_sel && r >= 0; i++) {
		const struct run_column *c = p->sel[i];
		bool last = i + 1 == p->n_sel;
		const char *s;
		size_t n;

		if (i)
			r = base_buf_putc(&p->out, ' ');
		if (r < 0)
			break;
		if (c->kind == RUN_COLUMN_STRING) {
			s = run_column_string(c, rec, size, &n);
		} else {
			base_buf_reset(tmp);
			r = run_column_text(&p->env, c, rec, size, tmp);
			if (r < 0)
				break;
			s = tmp->data ? tmp->data : "";
			n = r ? 0 : tmp->len;
		}
		r = put_cell(&p->out, c, s, n, last);
	}
	return r < 0 ? r : base_buf_putc(&p->out, '\n');
}

/* ---- histograms (columns mode, batches) ---- */

/* An array of the gadget API's log2 histogram slots (gadget_histogram_slot__u32[27]). */
static bool is_histogram(const struct run_column *c)
{
	return c->kind == RUN_COLUMN_ARRAY && c->btf_type &&
	       !strncmp(c->btf_type, "gadget_histogram_slot__", 23);
}

/*
 * What a histogram's values are, named the way bcc's tools do ("usecs"),
 * from the field's metrics.unit annotation; "value" when it has none or
 * one that is not a plain word.
 */
static const char *hist_unit(const struct run_pipeline *p, const struct run_column *c)
{
	static const struct {
		const char *unit, *label;
	} labels[] = {
		{"ns", "nsecs"},
		{"nanoseconds", "nsecs"},
		{"us", "usecs"},
		{"\xc2\xb5s", "usecs"}, /* µs */
		{"microseconds", "usecs"},
		{"ms", "msecs"},
		{"milliseconds", "msecs"},
		{"s", "secs"},
		{"seconds", "secs"},
		{"By", "bytes"},
		{"B", "bytes"},
		{"bytes", "bytes"},
	};
	const char *u =
		p->md ? oci_metadata_field_annotation(p->md, c->name, "metrics.unit") : NULL;
	size_t i, n = u ? strlen(u) : 0;

	for (i = 0; u && i < sizeof(labels) / sizeof(labels[0]); i++)
		if (!strcmp(u, labels[i].unit))
			return labels[i].label;
	if (!n || n > 16)
		return "value";
	for (i = 0; i < n; i++)
		if (!((u[i] >= 'a' && u[i] <= 'z') || (u[i] >= 'A' && u[i] <= 'Z') ||
		      (u[i] >= '0' && u[i] <= '9') || strchr("_/%.-", u[i])))
			return "value";
	return u;
}

static int find_histograms(struct run_pipeline *p)
{
	size_t i;

	for (i = 0; i < p->n_sel; i++) {
		if (!is_histogram(p->sel[i]))
			continue;
		if (!p->hist) {
			p->hist = calloc(p->n_sel, sizeof(*p->hist));
			p->hist_unit = calloc(p->n_sel, sizeof(*p->hist_unit));
			if (!p->hist || !p->hist_unit)
				return -ENOMEM;
		}
		p->hist[p->n_hist] = p->sel[i];
		p->hist_unit[p->n_hist++] = hist_unit(p, p->sel[i]);
	}
	return 0;
}

/* The slots of histogram column c; those past the end of a short record are 0. */
static size_t read_slots(const struct run_column *c, const void *rec, size_t size, uint64_t *slots)
{
	struct run_column_int v = {.size = (uint8_t)c->elem_size};
	size_t i, n = c->size / c->elem_size;

	if (n > RUN_RENDER_HIST_MAX_SLOTS)
		n = RUN_RENDER_HIST_MAX_SLOTS;
	for (i = 0; i < n; i++) {
		v.off = c->off + (uint32_t)(i * c->elem_size);
		slots[i] = run_column_read(&v, rec, size);
	}
	return n;
}

/*
 * A record with histograms: the other selected fields on one line
 * ("dev=8388608 cmd_flags=1", none when there are no others), then each
 * histogram under its field's name.
 */
static int emit_histograms(struct run_pipeline *p, const void *rec, size_t size)
{
	struct base_buf *tmp = &p->env.scratch;
	uint64_t slots[RUN_RENDER_HIST_MAX_SLOTS];
	size_t i, k = 0;
	int r = 0;

	for (i = 0; i < p->n_sel && r >= 0; i++) {
		const struct run_column *c = p->sel[i];

		if (is_histogram(c))
			continue;
		if (k++)
			r = base_buf_putc(&p->out, ' ');
		if (r >= 0)
			r = base_buf_printf(&p->out, "%s=", c->name);
		if (r < 0)
			break;
		base_buf_reset(tmp);
		r = run_column_text(&p->env, c, rec, size, tmp);
		if (r >= 0)
			r = run_escape_cell(&p->out, tmp->data ? tmp->data : "", r ? 0 : tmp->len,
					    0, false, false);
	}
	if (k && r >= 0)
		r = base_buf_putc(&p->out, '\n');
	for (i = 0; i < p->n_hist && r >= 0; i++) {
		size_t n = read_slots(p->hist[i], rec, size, slots);

		r = base_buf_printf(&p->out, "%s\n", p->hist[i]->name);
		if (r >= 0)
			r = run_render_log2_hist(&p->out, slots, n, p->hist_unit[i]);
	}
	return r;
}

/* ---- JSON and YAML programs ---- */

struct prog_builder {
	struct run_pipeline *p;
	struct prog *prog;
	struct base_buf pend; /* text since the last value */
	bool json, pretty;
	bool dash; /* YAML list item: the first line starts with "- " */
	int r;
};

static void pb_indent(struct prog_builder *b, int n)
{
	if (b->dash && n >= 2) {
		b->dash = false;
		if (b->r >= 0)
			b->r = base_buf_puts(&b->pend, "- ");
		n -= 2;
	}
	while (n-- > 0 && b->r >= 0)
		b->r = base_buf_putc(&b->pend, ' ');
}

static void pb_op(struct prog_builder *b, const struct run_column *c, int indent)
{
	struct prog *g = b->prog;
	struct prog_op *ops;

	if (b->r < 0)
		return;
	ops = realloc(g->ops, (g->n + 1) * sizeof(*ops));
	if (!ops) {
		b->r = -ENOMEM;
		return;
	}
	g->ops = ops;
	ops[g->n].c = c;
	ops[g->n].indent = indent;
	ops[g->n].prefix_len = b->pend.len;
	ops[g->n].prefix = base_buf_take(&b->pend);
	if (!ops[g->n].prefix)
		b->r = -ENOMEM;
	g->n++;
}

/*
 * Emits the members of the object whose members are cols[] (their names all
 * start with the skip bytes of the object's path), grouped by their next
 * name component in order of first appearance.
 */
static void pb_object(struct prog_builder *b, const struct run_column **cols, size_t n, size_t skip,
		      int indent)
{
	const struct run_column **sub;
	bool *done;
	size_t i, j, members = 0;

	if (!n)
		return;
	sub = calloc(n, sizeof(*sub));
	done = calloc(n, sizeof(*done));
	if (!sub || !done) {
		free(sub);
		free(done);
		b->r = -ENOMEM;
		return;
	}
	for (i = 0; i < n && b->r >= 0; i++) {
		const char *key = cols[i]->name + skip;
		size_t key_len = strcspn(key, ".");
		size_t n_sub = 0;
		bool leaf = !key[key_len];

		if (done[i])
			continue;
		for (j = i; j < n; j++) {
			const char *k = cols[j]->name + skip;

			if (!done[j] && !strncmp(k, key, key_len) &&
			    (k[key_len] == '.' || k[key_len] == '\0')) {
				done[j] = true;
				if (k[key_len] == '.')
					sub[n_sub++] = cols[j];
			}
		}
		if (b->json) {
			if (members && b->r >= 0)
				b->r = base_buf_putc(&b->pend, ',');
			if (b->pretty && b->r >= 0) {
				b->r = base_buf_putc(&b->pend, '\n');
				pb_indent(b, indent);
			}
			if (b->r >= 0)
				b->r = run_escape_json(&b->pend, key, key_len, 0);
			if (b->r >= 0)
				b->r = base_buf_puts(&b->pend, b->pretty ? ": " : ":");
		} else {
			pb_indent(b, indent);
			if (b->r >= 0)
				b->r = run_escape_yaml(&b->pend, key, key_len);
			if (b->r >= 0)
				b->r = base_buf_putc(&b->pend, ':');
		}
		members++;
		if (leaf) {
			pb_op(b, cols[i], indent);
			continue;
		}
		if (b->json) {
			if (b->r >= 0)
				b->r = base_buf_putc(&b->pend, '{');
			pb_object(b, sub, n_sub, skip + key_len + 1, indent + 2);
			if (b->pretty && b->r >= 0) {
				b->r = base_buf_putc(&b->pend, '\n');
				pb_indent(b, indent);
			}
			if (b->r >= 0)
				b->r = base_buf_putc(&b->pend, '}');
		} else {
			if (b->r >= 0)
				b->r = base_buf_putc(&b->pend, '\n');
			pb_object(b, sub, n_sub, skip + key_len + 1, indent + 2);
		}
	}
	free(sub);
	free(done);
}

static int build_prog(struct run_pipeline *p, struct prog *g, int base, bool dash)
{
	struct prog_builder b = {
		.p = p,
		.prog = g,
		.json = p->output != RUN_OUTPUT_YAML,
		.pretty = p->output == RUN_OUTPUT_JSONPRETTY,
		.dash = dash,
	};
	const struct run_column **cols = calloc(p->n_sel ? p->n_sel : 1, sizeof(*cols));
	size_t i, j, n = 0;

	if (!cols)
		return -ENOMEM;
	/* An endpoint column holds its members already: drop them. */
	for (i = 0; i < p->n_sel; i++) {
		bool inner = false;

		for (j = 0; j < p->n_sel && !inner; j++) {
			size_t len = strlen(p->sel[j]->name);

			inner = j != i && !strncmp(p->sel[i]->name, p->sel[j]->name, len) &&
				p->sel[i]->name[len] == '.';
		}
		if (!inner)
			cols[n++] = p->sel[i];
	}
	if (b.json)
		b.r = base_buf_putc(&b.pend, '{');
	else if (!n)
		b.r = base_buf_puts(&b.pend, dash ? "- {}\n" : "{}\n");
	pb_object(&b, cols, n, 0, base + (b.json ? 2 : 0));
	if (b.json && b.pretty && n && b.r >= 0) {
		b.r = base_buf_putc(&b.pend, '\n');
		pb_indent(&b, base);
	}
	if (b.json && b.r >= 0)
		b.r = base_buf_putc(&b.pend, '}');
	free(cols);
	if (b.r >= 0) {
		g->suffix_len = b.pend.len;
		g->suffix = base_buf_take(&b.pend);
		if (!g->suffix)
			b.r = -ENOMEM;
	}
	base_buf_done(&b.pend);
	return b.r;
}

static void prog_done(struct prog *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		free(g->ops[i].prefix);
	free(g->ops);
	free(g->suffix);
	memset(g, 0, sizeof(*g));
}

static int emit_prog(struct run_pipeline *p, const struct prog *g, const void *rec, size_t size)
{
	bool json = p->output != RUN_OUTPUT_YAML;
	bool pretty = p->output == RUN_OUTPUT_JSONPRETTY;
	size_t i;
	int r = 0;

	for (i = 0; i < g->n && r >= 0; i++) {
		const struct prog_op *op = &g->ops[i];

		r = run_put(&p->out, op->prefix, op->prefix_len);
		if (r < 0)
			break;
		if (json)
			r = run_column_json(&p->env, op->c, rec, size, &p->out,
					    pretty ? op->indent : -1);
		else
			r = run_column_yaml(&p->env, op->c, rec, size, &p->out, op->indent + 2);
	}
	return r < 0 ? r : run_put(&p->out, g->suffix, g->suffix_len);
}

/* ---- sort keys ---- */

static int parse_sort(struct run_pipeline *p)
{
	const char *item = p->sort;
	size_t cap = 0;

	if (!item)
		return 0;
	for (const char *s = item; *s; s++)
		cap += *s == ',';
	p->keys = calloc(cap + 1, sizeof(*p->keys));
	if (!p->keys)
		return -ENOMEM;
	while (*item) {
		size_t n = strcspn(item, ",");
		const char *t = item;
		bool desc = false;
		int idx;

		item += n;
		if (*item)
			item++;
		trim(&t, &n);
		if (n && (*t == '-' || *t == '+')) {
			desc = *t == '-';
			t++;
			n--;
		}
		if (!n)
			continue;
		idx = run_column_find(p->cols, p->n_cols, t, n);
		if (idx == -EINVAL)
			return set_err(
				p, "invalid --sort: field '%.*s' is ambiguous, use its full name",
				(int)n, t);
		if (idx < 0)
			return set_err(p,
				       "invalid --sort: unknown field '%.*s' (see --help for the "
				       "fields of this gadget)",
				       (int)n, t);
		p->keys[p->n_keys].c = &p->cols[idx];
		p->keys[p->n_keys].desc = desc;
		p->n_keys++;
	}
	return 0;
}

/* Undoes a failed run_pipeline_prepare() so that it can be called again. */
static int unprepare(struct run_pipeline *p, int r)
{
	size_t i;

	for (i = 0; i < p->n_filters; i++)
		run_filter_free(p->filters[i]);
	free(p->filters);
	p->filters = NULL;
	p->n_filters = 0;
	free(p->sel);
	p->sel = NULL;
	p->n_sel = 0;
	free(p->keys);
	p->keys = NULL;
	p->n_keys = 0;
	free(p->header);
	p->header = NULL;
	p->header_len = 0;
	prog_done(&p->stream);
	prog_done(&p->item);
	free(p->hist);
	p->hist = NULL;
	free(p->hist_unit);
	p->hist_unit = NULL;
	p->n_hist = 0;
	return r;
}

int run_pipeline_prepare(struct run_pipeline *p)
{
	struct timespec rt, bt;
	size_t i;
	int r;

	if (!p)
		return -EINVAL;
	if (p->prepared)
		return -EBUSY;
	r = select_fields(p);
	if (r < 0)
		return unprepare(p, r);
	if (p->n_filter_exprs) {
		p->filters = calloc(p->n_filter_exprs, sizeof(*p->filters));
		if (!p->filters)
			return unprepare(p, -ENOMEM);
	}
	for (i = 0; i < p->n_filter_exprs; i++) {
		r = run_filter_new(p->filter_exprs[i], p->cols, p->n_cols, &p->filters[i],
				   p->errbuf, p->errbuf_len);
		if (r < 0)
			return unprepare(p, r);
		p->n_filters++;
	}
	r = parse_sort(p);
	if (r >= 0 && p->output == RUN_OUTPUT_COLUMNS)
		r = build_header(p);
	if (r >= 0 && p->output == RUN_OUTPUT_COLUMNS && !p->record_fn && !p->raw_fn)
		r = find_histograms(p);
	if (r >= 0 && p->output != RUN_OUTPUT_COLUMNS)
		r = build_prog(p, &p->stream, 0, false);
	if (r >= 0 && p->output != RUN_OUTPUT_COLUMNS)
		r = build_prog(p, &p->item, 2, p->output == RUN_OUTPUT_YAML);
	if (r < 0)
		return unprepare(p, r);
	/* The gadget may ask for it, but escape codes only go to a terminal. */
	if (p->output == RUN_OUTPUT_COLUMNS && p->md && isatty(p->out_fd)) {
		const char *v = oci_metadata_ds_annotation(p->md, "cli.clear-screen-before");

		if (v && !strcmp(v, "true"))
			p->clear_screen = true;
	}
	/* Gadgets stamp records with bpf_ktime_get_boot_ns(). */
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	p->env.boot_to_real_ns = ((int64_t)rt.tv_sec - (int64_t)bt.tv_sec) * 1000000000 +
				 ((int64_t)rt.tv_nsec - (int64_t)bt.tv_nsec);
	p->prepared = true;
	return 0;
}

/* ---- records ---- */

static int matches(struct run_pipeline *p, const void *rec, size_t size)
{
	size_t i;

	p->env.epoch++;
	for (i = 0; i < p->n_filters; i++) {
		int r = run_filter_match(p->filters[i], &p->env, rec, size);

		if (r <= 0)
			return r;
	}
	if (p->observer) {
		int r = p->observer(p->observer_ctx, rec, size);

		if (r < 0)
			return r;
	}
	return 1;
}

size_t run_pipeline_n_columns(const struct run_pipeline *p)
{
	return p->n_cols;
}

const struct bpf_layout *run_pipeline_layout(const struct run_pipeline *p)
{
	return p->layout;
}

const struct run_column *run_pipeline_columns(const struct run_pipeline *p)
{
	return p->cols;
}

struct run_column_env *run_pipeline_env(struct run_pipeline *p)
{
	return &p->env;
}

void run_pipeline_set_observer(struct run_pipeline *p,
			       int (*fn)(void *ctx, const void *rec, size_t size), void *ctx)
{
	p->observer = fn;
	p->observer_ctx = ctx;
}

/* Drops a record that failed half-way so the output stays well-formed. */
static int undo(struct run_pipeline *p, size_t len, int r)
{
	p->out.len = len;
	if (p->out.data)
		p->out.data[len] = '\0';
	return r;
}

int run_pipeline_begin(struct run_pipeline *p)
{
	int r = 0;

	if (!p || !p->prepared)
		return -EINVAL;
	if (p->output == RUN_OUTPUT_COLUMNS && !p->record_fn && !p->header_done && !p->no_header)
		r = run_put(&p->out, p->header, p->header_len);
	if (r >= 0)
		p->header_done = true;
	return r;
}

int run_pipeline_flush(struct run_pipeline *p)
{
	size_t off = 0;
	int r = 0;

	if (!p)
		return -EINVAL;
	if (p->record_fn) {
		base_buf_reset(&p->out);
		return 0;
	}
	while (off < p->out.len) {
		ssize_t n = write(p->out_fd, p->out.data + off, p->out.len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = {.fd = p->out_fd, .events = POLLOUT};

			if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
				r = -errno;
				break;
			}
			continue;
		}
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0) {
			r = -EIO;
			break;
		}
		off += (size_t)n;
	}
	/* After a failure nobody reads what is left: drop it rather than grow. */
	base_buf_reset(&p->out);
	return r;
}

int run_pipeline_json(struct run_pipeline *p, const void *rec, size_t size, struct base_buf *out)
{
	struct base_buf mine;
	int r;

	if (!p || !p->prepared || p->output != RUN_OUTPUT_JSON || (!rec && size))
		return -EINVAL;
	/* the record is formatted where the caller wants it, by the same program */
	mine = p->out;
	p->out = *out;
	p->env.epoch++;
	r = emit_prog(p, &p->stream, rec ? rec : "", size);
	*out = p->out;
	p->out = mine;
	return r < 0 ? r : 0;
}

int64_t run_pipeline_boot_offset(const struct run_pipeline *p)
{
	return p->env.boot_to_real_ns;
}

void run_pipeline_set_boot_offset(struct run_pipeline *p, int64_t boot_to_real_ns)
{
	p->env.boot_to_real_ns = boot_to_real_ns;
}

static int maybe_flush(struct run_pipeline *p)
{
	return p->out.len >= RUN_PIPELINE_FLUSH_BYTES ? run_pipeline_flush(p) : 0;
}

/*
 * Callback output: hands over the record just formatted into the (otherwise
 * empty) output buffer, which is then reused for the next one.
 */
static int sink(struct run_pipeline *p, int r)
{
	if (r >= 0)
		r = p->record_fn(p->record_ctx, p->out.data ? p->out.data : "{}",
				 p->out.data ? p->out.len : 2);
	base_buf_reset(&p->out);
	if (r >= 0)
		p->matched++;
	return r < 0 ? r : 0;
}

int run_pipeline_record(struct run_pipeline *p, const void *data, size_t size)
{
	size_t len;
	int r;

	if (!p || (!data && size))
		return -EINVAL;
	if (!p->prepared)
		return -EINVAL;
	if (!data)
		data = "";
	r = matches(p, data, size);
	if (r <= 0)
		return r;
	if (p->raw_fn) {
		r = p->raw_fn(p->raw_ctx, data, size);
		if (r >= 0)
			p->matched++;
		return r < 0 ? r : 0;
	}
	len = p->out.len;
	switch (p->output) {
	case RUN_OUTPUT_COLUMNS:
		if (!p->header_done && !p->no_header)
			r = run_put(&p->out, p->header, p->header_len);
		if (r >= 0)
			r = emit_row(p, data, size);
		if (r >= 0)
			p->header_done = true;
		break;
	case RUN_OUTPUT_JSON:
	case RUN_OUTPUT_JSONPRETTY:
		r = emit_prog(p, &p->stream, data, size);
		if (p->record_fn)
			return sink(p, r);
		if (r >= 0)
			r = base_buf_putc(&p->out, '\n');
		break;
	case RUN_OUTPUT_YAML:
		r = run_put(&p->out, "---\n", 4);
		if (r >= 0)
			r = emit_prog(p, &p->stream, data, size);
		break;
	}
	if (r < 0)
		return undo(p, len, r);
	p->matched++;
	return maybe_flush(p);
}

struct sort_ctx {
	const struct run_pipeline *p;
	const uint64_t *nums; /* [row * n_keys + key] */
	const size_t *offs;   /* text keys: offset in text, length in lens */
	const size_t *lens;
	const char *text;
};

struct sort_row {
	size_t idx;
};

static int cmp_rows(const void *a, const void *b, void *arg)
{
	const struct sort_ctx *s = arg;
	size_t x = ((const struct sort_row *)a)->idx, y = ((const struct sort_row *)b)->idx;
	size_t nk = s->p->n_keys, k;

	for (k = 0; k < nk; k++) {
		const struct sort_key *key = &s->p->keys[k];
		size_t i = x * nk + k, j = y * nk + k;
		int c;

		if (run_column_sorts_by_int(key->c)) {
			uint64_t u = s->nums[i], v = s->nums[j];

			if (key->c->v.sign)
				c = (int64_t)u < (int64_t)v ? -1 : (int64_t)u > (int64_t)v;
			else
				c = u < v ? -1 : u > v;
		} else {
			size_t n = s->lens[i] < s->lens[j] ? s->lens[i] : s->lens[j];

			/* decimal text without leading zeros: the shorter is smaller */
			if ((key->c->flags & RUN_COLUMN_NUMBER) && s->lens[i] != s->lens[j])
				c = s->lens[i] < s->lens[j] ? -1 : 1;
			else
				c = memcmp(s->text + s->offs[i], s->text + s->offs[j], n);
			if (!c)
				c = s->lens[i] < s->lens[j] ? -1 : s->lens[i] > s->lens[j];
		}
		if (c)
			return key->desc ? -c : c;
	}
	/* equal keys keep their input order: a stable sort */
	return x < y ? -1 : x > y;
}

static int sort_rows(struct run_pipeline *p, const void *const *records, size_t record_size,
		     struct sort_row *rows, size_t n)
{
	struct base_buf text = BASE_BUF_INIT(0);
	size_t nk = p->n_keys, i, k;
	uint64_t *nums = calloc(n * nk, sizeof(*nums));
	size_t *offs = calloc(n * nk, sizeof(*offs));
	size_t *lens = calloc(n * nk, sizeof(*lens));
	int r = nums && offs && lens ? 0 : -ENOMEM;

	for (i = 0; i < n && r >= 0; i++) {
		const void *rec = records[rows[i].idx];

		p->env.epoch++;
		for (k = 0; k < nk && r >= 0; k++) {
			const struct run_column *c = p->keys[k].c;
			size_t at = i * nk + k;

			if (run_column_sorts_by_int(c)) {
				nums[at] = run_column_read(&c->v, rec, record_size);
				continue;
			}
			offs[at] = text.len;
			r = run_column_text(&p->env, c, rec, record_size, &text);
			if (r > 0)
				r = 0;
			lens[at] = text.len - offs[at];
		}
		rows[i].idx = i; /* now an index into the key arrays */
	}
	if (r >= 0) {
		struct sort_ctx s = {p, nums, offs, lens, text.data ? text.data : ""};

		qsort_r(rows, n, sizeof(*rows), cmp_rows, &s);
	}
	base_buf_done(&text);
	free(nums);
	free(offs);
	free(lens);
	return r;
}

/*
 * A batch of records with histograms, one histogram block per record
 * separated by empty lines; an empty batch prints nothing (but still clears
 * the screen, as an empty table would show only its header).
 */
static int batch_histograms(struct run_pipeline *p, const void *const *records,
			    const struct sort_row *rows, size_t m, size_t record_size)
{
	size_t i;
	int r = 0;

	if (p->clear_screen)
		r = run_put(&p->out, "\033[H\033[2J", 7);
	else if (m && p->hist_printed)
		r = base_buf_putc(&p->out, '\n');
	for (i = 0; i < m && r >= 0; i++) {
		p->env.epoch++;
		if (i)
			r = base_buf_putc(&p->out, '\n');
		if (r >= 0)
			r = emit_histograms(p, records[rows[i].idx], record_size);
	}
	if (m && r >= 0)
		p->hist_printed = true;
	return r;
}

int run_pipeline_batch(struct run_pipeline *p, const void *const *records, size_t n,
		       size_t record_size)
{
	struct sort_row *rows = NULL;
	size_t *map = NULL;
	size_t m = 0, i, len;
	int r = 0;

	if (!p || !p->prepared || (n && !records))
		return -EINVAL;
	if (n) {
		rows = calloc(n, sizeof(*rows));
		map = calloc(n, sizeof(*map));
		if (!rows || !map) {
			r = -ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		r = records[i] ? matches(p, records[i], record_size) : 0;
		if (r < 0)
			goto out;
		if (r)
			map[m++] = i;
	}
	r = 0;
	if (p->n_keys && m > 1) {
		const void **sub = calloc(m, sizeof(*sub));

		if (!sub) {
			r = -ENOMEM;
			goto out;
		}
		for (i = 0; i < m; i++) {
			sub[i] = records[map[i]];
			rows[i].idx = i;
		}
		r = sort_rows(p, sub, record_size, rows, m);
		free(sub);
		if (r < 0)
			goto out;
		for (i = 0; i < m; i++)
			rows[i].idx = map[rows[i].idx];
	} else {
		for (i = 0; i < m; i++)
			rows[i].idx = map[i];
	}
	if (p->max_entries && m > p->max_entries)
		m = p->max_entries;

	if (p->raw_fn) {
		for (i = 0; i < m && r >= 0; i++) {
			p->env.epoch++;
			r = p->raw_fn(p->raw_ctx, records[rows[i].idx], record_size);
			if (r >= 0)
				p->matched++;
		}
		goto out;
	}
	if (p->record_fn) {
		for (i = 0; i < m && r >= 0; i++) {
			p->env.epoch++;
			r = sink(p, emit_prog(p, &p->stream, records[rows[i].idx], record_size));
		}
		goto out;
	}
	len = p->out.len;
	switch (p->output) {
	case RUN_OUTPUT_COLUMNS:
		if (p->n_hist) {
			r = batch_histograms(p, records, rows, m, record_size);
			break;
		}
		if (p->clear_screen)
			r = run_put(&p->out, "\033[H\033[2J", 7);
		else if (p->n_batches)
			r = base_buf_putc(&p->out, '\n');
		if (r >= 0 && !p->no_header)
			r = run_put(&p->out, p->header, p->header_len);
		for (i = 0; i < m && r >= 0; i++) {
			p->env.epoch++;
			r = emit_row(p, records[rows[i].idx], record_size);
		}
		break;
	case RUN_OUTPUT_JSON:
		/* one object per line, as when streaming, so line-based readers work */
		for (i = 0; i < m && r >= 0; i++) {
			p->env.epoch++;
			r = emit_prog(p, &p->item, records[rows[i].idx], record_size);
			if (r >= 0)
				r = base_buf_putc(&p->out, '\n');
		}
		break;
	case RUN_OUTPUT_JSONPRETTY:
		r = base_buf_puts(&p->out, m ? "[\n" : "[");
		for (i = 0; i < m && r >= 0; i++) {
			p->env.epoch++;
			r = base_buf_puts(&p->out, "  ");
			if (r >= 0)
				r = emit_prog(p, &p->item, records[rows[i].idx], record_size);
			if (r >= 0)
				r = base_buf_puts(&p->out, i + 1 < m ? ",\n" : "\n");
		}
		if (r >= 0)
			r = base_buf_puts(&p->out, "]\n");
		break;
	case RUN_OUTPUT_YAML:
		r = base_buf_puts(&p->out, m ? "---\n" : "---\n[]\n");
		for (i = 0; i < m && r >= 0; i++) {
			p->env.epoch++;
			r = emit_prog(p, &p->item, records[rows[i].idx], record_size);
		}
		break;
	}
	if (r < 0) {
		undo(p, len, r);
		goto out;
	}
	p->n_batches++;
	p->matched += m;
	r = maybe_flush(p);
out:
	free(rows);
	free(map);
	return r;
}

void run_pipeline_print_fields(const struct run_pipeline *p, struct base_buf *out)
{
	size_t i, w = 0;

	if (!p || !out)
		return;
	for (i = 0; i < p->n_cols; i++) {
		size_t n = strlen(p->cols[i].name);

		if (n > w)
			w = n;
	}
	if (w > 40)
		w = 40;
	for (i = 0; i < p->n_cols; i++) {
		const struct run_column *c = &p->cols[i];
		const char *d = c->description ? c->description : "";
		bool hidden = !in_default_set(p, c);

		size_t start = out->len;

		if (base_buf_printf(out, "  %-*s  %-10s  %s%s%s", (int)w, c->name, c->type, d,
				    *d && hidden ? " " : "", hidden ? "(hidden)" : "") < 0)
			return;
		while (out->len > start && out->data[out->len - 1] == ' ')
			out->len--;
		if (base_buf_putc(out, '\n') < 0)
			return;
	}
}

size_t run_pipeline_field_count(const struct run_pipeline *p)
{
	return p && p->prepared ? p->n_cols : 0;
}

/* The i-th column in the order run_pipeline_field() describes. */
static const struct run_column *field_at(const struct run_pipeline *p, size_t i, bool *sel)
{
	size_t j, k = p->n_sel;

	if (!p->fields) {
		*sel = false;
		return &p->cols[i];
	}
	*sel = i < p->n_sel;
	if (*sel)
		return p->sel[i];
	for (j = 0; j < p->n_cols; j++) {
		if (selected(p, &p->cols[j]))
			continue;
		if (k++ == i)
			return &p->cols[j];
	}
	return NULL;
}

int run_pipeline_field(const struct run_pipeline *p, size_t i, struct run_pipeline_field *ret)
{
	const struct run_column *c;
	bool sel;

	if (!p || !ret || !p->prepared)
		return -EINVAL;
	if (i >= p->n_cols)
		return -ERANGE;
	c = field_at(p, i, &sel);
	if (!c)
		return -ERANGE;
	ret->name = c->name;
	ret->short_name = c->short_name;
	ret->type = c->type;
	ret->description = c->description ? c->description : "";
	if (p->fields) {
		ret->visible_json = ret->visible_columns = sel;
	} else {
		ret->visible_json = !(c->flags & (RUN_COLUMN_HIDDEN | RUN_COLUMN_JSON_SKIP));
		ret->visible_columns = !(c->flags & (RUN_COLUMN_HIDDEN | RUN_COLUMN_HIDDEN_COLS));
	}
	ret->width = c->width;
	ret->align_right = c->flags & RUN_COLUMN_RIGHT;
	return 0;
}

uint64_t run_pipeline_epoch(const struct run_pipeline *p)
{
	return p ? p->env.epoch : 0;
}

uint64_t run_pipeline_matched(const struct run_pipeline *p)
{
	return p ? p->matched : 0;
}

struct run_pipeline *run_pipeline_free(struct run_pipeline *p)
{
	size_t i;

	if (!p)
		return NULL;
	unprepare(p, 0);
	for (i = 0; i < p->n_filter_exprs; i++)
		free(p->filter_exprs[i]);
	free(p->filter_exprs);
	free(p->fields);
	free(p->sort);
	run_column_free_all(p->cols, p->n_cols);
	run_users_free(p->env.users);
	base_buf_done(&p->env.scratch);
	base_buf_done(&p->out);
	free(p);
	return NULL;
}
