// SPDX-License-Identifier: Apache-2.0
/*
 * Rendering agent records as columns, json, jsonpretty or yaml; see
 * printer.h.
 */
#include "cli/client/printer.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "run/escape.h"
#include "run/fields.h"
#include "base/buf.h"
#include "base/yaml_emit.h"
#include "cli/client/client.h"

/* Data sources and columns one gadget may describe. */
#define CLIENT_PRINTER_MAX_DS	  64
#define CLIENT_PRINTER_MAX_FIELDS 1024
/* Longest header name kept. */
#define CLIENT_PRINTER_MAX_HEADER 128
/* Most bytes of one output line (a record in columns or json output). */
#define CLIENT_PRINTER_MAX_LINE (32u << 20)

struct printer_col {
	char *name;   /* dotted path in the record */
	char *header; /* upper-cased */
	unsigned int width;
	bool right;
};

struct printer_ds_cols {
	char *name;
	bool tracer;
	struct printer_col *cols;
	size_t n;
};

struct client_printer {
	enum run_output o;
	bool no_header;
	FILE *out;
	bool has_info;
	struct printer_ds_cols ds[CLIENT_PRINTER_MAX_DS];
	size_t n_ds;
	struct base_buf line;

	/* columns: which table is on screen */
	const struct printer_ds_cols *shown_ds;
	uint64_t shown_fetch;
	bool any_table;
	bool bad_record_warned;
};

int client_printer_new(enum run_output o, bool no_header, FILE *out, struct client_printer **ret)
{
	struct client_printer *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->o = o;
	p->no_header = no_header;
	p->out = out;
	p->line.max = CLIENT_PRINTER_MAX_LINE;
	*ret = p;
	return 0;
}

static void ds_cols_done(struct printer_ds_cols *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->cols[i].name);
		free(d->cols[i].header);
	}
	free(d->cols);
	free(d->name);
	memset(d, 0, sizeof(*d));
}

struct client_printer *client_printer_free(struct client_printer *p)
{
	size_t i;

	if (!p)
		return NULL;
	for (i = 0; i < p->n_ds; i++)
		ds_cols_done(&p->ds[i]);
	base_buf_done(&p->line);
	free(p);
	return NULL;
}

bool client_printer_has_info(const struct client_printer *p)
{
	return p->has_info;
}

/* ---- choosing fields ---- */

/* The fields --fields selects in one data source, in order, into sel (run/fields.h). */
static int select_fields(const Gadget__Agent__V1__DataSourceInfo *ds, const char *fields,
			 bool columns, const Gadget__Agent__V1__FieldInfo **sel, size_t *ret_n,
			 char *err, size_t errlen)
{
	struct run_fields_item *items = calloc(ds->n_fields + 1, sizeof(*items));
	size_t *idx = calloc(ds->n_fields + 1, sizeof(*idx));
	size_t i, n = 0;
	int r = -ENOMEM;

	if (!items || !idx)
		goto out;
	for (i = 0; i < ds->n_fields; i++) {
		items[i].name = ds->fields[i]->name;
		items[i].short_name = ds->fields[i]->short_name;
		items[i].in_default =
			columns ? ds->fields[i]->visible_columns : ds->fields[i]->visible_json;
	}
	r = run_fields_select(items, ds->n_fields, fields, idx, &n, err, errlen);
	if (r < 0)
		goto out;
	for (i = 0; i < n; i++)
		sel[i] = ds->fields[idx[i]];
	*ret_n = n;
out:
	free(items);
	free(idx);
	return r;
}

static char *upper_dup(const char *s)
{
	size_t i, n = strlen(s);
	char *u;

	if (n > CLIENT_PRINTER_MAX_HEADER)
		n = CLIENT_PRINTER_MAX_HEADER;
	u = malloc(n + 1);
	if (!u)
		return NULL;
	for (i = 0; i < n; i++)
		u[i] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 32) : s[i];
	u[n] = '\0';
	return u;
}

static int build_cols(struct printer_ds_cols *d, const Gadget__Agent__V1__FieldInfo **sel, size_t n)
{
	size_t i, j;

	d->cols = calloc(n ? n : 1, sizeof(*d->cols));
	if (!d->cols)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const char *h = sel[i]->short_name && *sel[i]->short_name ? sel[i]->short_name
									  : sel[i]->name;

		/* a short name two columns share would be ambiguous: the full name then */
		for (j = 0; j < n; j++)
			if (j != i && sel[j]->short_name && !strcmp(sel[j]->short_name, h))
				h = sel[i]->name;
		d->cols[i].name = strdup(sel[i]->name);
		d->cols[i].header = upper_dup(h);
		d->cols[i].width = sel[i]->width;
		d->cols[i].right = sel[i]->alignment == GADGET__AGENT__V1__ALIGNMENT__ALIGN_RIGHT;
		d->n++;
		if (!d->cols[i].name || !d->cols[i].header)
			return -ENOMEM;
	}
	return 0;
}

int client_printer_set_info(struct client_printer *p, const Gadget__Agent__V1__GadgetInfo *info,
			    const char *fields, char *err, size_t errlen)
{
	const Gadget__Agent__V1__FieldInfo **sel;
	bool columns = p->o == RUN_OUTPUT_COLUMNS;
	size_t i, n;
	int r = 0;

	if (p->has_info)
		return 0;
	if (info->n_data_sources > CLIENT_PRINTER_MAX_DS) {
		snprintf(err, errlen, "the gadget has more than %d data sources",
			 CLIENT_PRINTER_MAX_DS);
		return -E2BIG;
	}
	for (i = 0; i < info->n_data_sources; i++) {
		if (info->data_sources[i]->n_fields > CLIENT_PRINTER_MAX_FIELDS) {
			snprintf(err, errlen, "data source '%s' has more than %d fields",
				 info->data_sources[i]->name, CLIENT_PRINTER_MAX_FIELDS);
			return -E2BIG;
		}
	}
	sel = calloc(CLIENT_PRINTER_MAX_FIELDS, sizeof(*sel));
	if (!sel)
		return -ENOMEM;
	for (i = 0; i < info->n_data_sources && r >= 0; i++) {
		const Gadget__Agent__V1__DataSourceInfo *ds = info->data_sources[i];

		r = select_fields(ds, fields, columns, sel, &n, err, errlen);
		if (r < 0 || !columns)
			continue;
		p->ds[p->n_ds].name = strdup(ds->name);
		p->ds[p->n_ds].tracer =
			ds->type == GADGET__AGENT__V1__DATA_SOURCE_TYPE__DATA_SOURCE_TRACER;
		r = p->ds[p->n_ds].name ? build_cols(&p->ds[p->n_ds], sel, n) : -ENOMEM;
		p->n_ds++;
	}
	free(sel);
	if (r < 0) {
		for (i = 0; i < p->n_ds; i++)
			ds_cols_done(&p->ds[i]);
		p->n_ds = 0;
		return r;
	}
	p->has_info = true;
	return 0;
}

char *client_printer_spec_fields(const struct client_printer *p, const char *fields)
{
	struct base_buf b = BASE_BUF_INIT(0);
	size_t i;

	if (p->o != RUN_OUTPUT_COLUMNS || p->n_ds != 1)
		return fields ? strdup(fields) : NULL;
	for (i = 0; i < p->ds[0].n; i++)
		if (base_buf_printf(&b, "%s%s", i ? "," : "", p->ds[0].cols[i].name) < 0) {
			base_buf_done(&b);
			return NULL;
		}
	/* an empty selection still has to say "nothing", not "the default" */
	return b.data ? base_buf_take(&b) : strdup(fields ? fields : "");
}

/* ---- printing ---- */

static int out_write(struct client_printer *p, const char *s, size_t n)
{
	if (n && fwrite(s, 1, n, p->out) != n)
		return errno ? -errno : -EIO;
	return 0;
}

int client_printer_flush(struct client_printer *p)
{
	if (fflush(p->out) == EOF || ferror(p->out))
		return errno ? -errno : -EIO;
	return 0;
}

/* The value at a dotted path: nested objects, else a key with dots in it. */
static json_t *lookup(json_t *rec, const char *path)
{
	json_t *cur = rec;
	const char *p = path;

	while (cur && *p) {
		size_t n = strcspn(p, ".");
		char key[256];

		if (n >= sizeof(key) || !json_is_object(cur))
			return json_object_get(rec, path);
		memcpy(key, p, n);
		key[n] = '\0';
		cur = json_object_get(cur, key);
		p += n;
		if (*p)
			p++;
	}
	return cur ? cur : json_object_get(rec, path);
}

static int cell_text(struct base_buf *b, const json_t *v)
{
	char tmp[64];
	char *s;
	int r;

	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_STRING:
		return base_buf_append(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return base_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_REAL:
		snprintf(tmp, sizeof(tmp), "%g", json_real_value(v));
		return base_buf_puts(b, tmp);
	case JSON_TRUE:
		return base_buf_puts(b, "true");
	case JSON_FALSE:
		return base_buf_puts(b, "false");
	case JSON_NULL:
		return 0;
	default:
		s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (!s)
			return -ENOMEM;
		r = base_buf_puts(b, s);
		free(s);
		return r;
	}
}

/* A cell as ig prints it: the last one is neither cut nor padded (unless right-aligned). */
static int put_cell(struct base_buf *b, const struct printer_col *c, const char *s, size_t n,
		    bool last)
{
	size_t w = c->width;

	if (last)
		w = c->right && w > run_escape_width(s, n) ? w : 0;
	return run_escape_cell(b, s, n, w, c->right, !last || c->right);
}

static int put_header(struct client_printer *p, const struct printer_ds_cols *d)
{
	size_t i;
	int r = 0;

	base_buf_reset(&p->line);
	if (p->any_table)
		r = base_buf_putc(&p->line, '\n');
	for (i = 0; i < d->n && r >= 0; i++) {
		if (i)
			r = base_buf_putc(&p->line, ' ');
		if (r >= 0)
			r = put_cell(&p->line, &d->cols[i], d->cols[i].header,
				     strlen(d->cols[i].header), i + 1 == d->n);
	}
	if (r >= 0)
		r = base_buf_putc(&p->line, '\n');
	p->any_table = true;
	return r < 0 ? r : out_write(p, p->line.data, p->line.len);
}

static const struct printer_ds_cols *find_ds(const struct client_printer *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->n_ds; i++)
		if (!strcmp(p->ds[i].name, name))
			return &p->ds[i];
	/* a record naming no data source belongs to the only one there is */
	return p->n_ds == 1 && !*name ? &p->ds[0] : NULL;
}

static int print_columns(struct client_printer *p, const struct printer_ds_cols *d, uint64_t fetch,
			 json_t *rec)
{
	struct base_buf val = BASE_BUF_INIT(CLIENT_PRINTER_MAX_LINE);
	size_t i;
	int r = 0;

	if (d != p->shown_ds || fetch != p->shown_fetch) {
		if (!p->no_header)
			r = put_header(p, d);
		p->shown_ds = d;
		p->shown_fetch = fetch;
	}
	base_buf_reset(&p->line);
	for (i = 0; i < d->n && r >= 0; i++) {
		base_buf_reset(&val);
		r = cell_text(&val, lookup(rec, d->cols[i].name));
		if (r >= 0 && i)
			r = base_buf_putc(&p->line, ' ');
		if (r >= 0)
			r = put_cell(&p->line, &d->cols[i], val.data ? val.data : "", val.len,
				     i + 1 == d->n);
	}
	if (r >= 0)
		r = base_buf_putc(&p->line, '\n');
	base_buf_done(&val);
	return r < 0 ? r : out_write(p, p->line.data, p->line.len);
}

int client_printer_begin(struct client_printer *p)
{
	int r = 0;

	if (p->o != RUN_OUTPUT_COLUMNS || p->n_ds != 1 || !p->ds[0].tracer || p->shown_ds)
		return 0;
	if (!p->no_header)
		r = put_header(p, &p->ds[0]);
	p->shown_ds = &p->ds[0];
	p->shown_fetch = 0;
	return r < 0 ? r : client_printer_flush(p);
}

int client_printer_record(struct client_printer *p, const char *ds, uint64_t fetch,
			  const uint8_t *rec, size_t len)
{
	const struct printer_ds_cols *d = NULL;
	json_error_t jerr;
	json_t *v;
	char *s;
	int r;

	if (p->o == RUN_OUTPUT_JSON) {
		/* as is, but one record is one line whatever the agent put in it */
		if (!memchr(rec, '\n', len) && !memchr(rec, '\r', len)) {
			r = out_write(p, (const char *)rec, len);
			return r < 0 ? r : out_write(p, "\n", 1);
		}
		base_buf_reset(&p->line);
		r = base_buf_append(&p->line, rec, len);
		if (r < 0)
			return r;
		for (size_t i = 0; i < p->line.len; i++)
			if (p->line.data[i] == '\n' || p->line.data[i] == '\r')
				p->line.data[i] = ' ';
		r = base_buf_putc(&p->line, '\n');
		return r < 0 ? r : out_write(p, p->line.data, p->line.len);
	}
	if (p->o == RUN_OUTPUT_COLUMNS) {
		d = find_ds(p, ds ? ds : "");
		if (!d)
			return 0;
	}
	v = json_loadb((const char *)rec, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!v || !json_is_object(v)) {
		if (!p->bad_record_warned) {
			fflush(p->out);
			client_warn("skipping a record that is not a JSON object");
			p->bad_record_warned = true;
		}
		json_decref(v);
		return 0;
	}
	switch (p->o) {
	case RUN_OUTPUT_COLUMNS:
		r = print_columns(p, d, fetch, v);
		break;
	case RUN_OUTPUT_JSONPRETTY:
		s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		r = s ? out_write(p, s, strlen(s)) : -ENOMEM;
		if (r >= 0)
			r = out_write(p, "\n", 1);
		free(s);
		break;
	default:
		base_buf_reset(&p->line);
		r = base_buf_puts(&p->line, "---\n");
		if (r >= 0)
			r = base_yaml_emit_json_doc(&p->line, v);
		if (r >= 0)
			r = out_write(p, p->line.data, p->line.len);
		break;
	}
	json_decref(v);
	return r;
}
