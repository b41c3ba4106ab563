// SPDX-License-Identifier: Apache-2.0
/*
 * Gadget data as Prometheus metrics (see metrics.h).
 *
 * A registry holds collectors, one per exported data source.  A collector
 * knows its families (the value fields, an implicit counter) and its key
 * columns; its series live in one hash table keyed by the key fields' text,
 * each series holding the values of every family of the collector in one
 * block of doubles:
 *
 *   counter, gauge   1 value
 *   histogram        n_bounds bucket counts (not cumulative), sum, count
 *
 * Doubles count exactly up to 2^53, far past any counter a scrape sees.
 * The labels of a series are rendered once, when it is created, so a scrape
 * is a walk that prints numbers, with appends rather than printf (a 10,000
 * series scrape spent 85% of its time in vfprintf).  A series is one
 * allocation: header, values, key and labels (three allocations, the
 * labels' rounded up to 256 bytes, took 395 bytes for a series of a 14-byte
 * key; one takes 139).
 *
 * The record path is build_key(), then the series of the key: the one the
 * previous record used when the key is the same (records come in runs from
 * one process), else a lookup in the hash table, with a hash seeded per
 * registry so that keys from foreign data (file names) cannot be chosen to
 * fall in one chain.
 */
#include "run/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "bpf/layout.h"
#include "oci/metadata.h"
#include "run/column.h"
#include "run/pipeline.h"
#include "base/err.h"

/* Longest Prometheus name this writes (scope + field + suffixes). */
#define METRICS_MAX_NAME 256
/* Default buckets of a histogram of single values: 2^0 .. 2^(n-1) in the field's unit. */
#define METRICS_LOG2_BUCKETS 32
/* A bucket bound as the exposition writes it: "%.15g" is at most 22 characters. */
#define METRICS_LE_BYTES 32

enum fam_type {
	FAM_COUNTER,
	FAM_GAUGE,
	FAM_HISTOGRAM,
};

enum fam_src {
	SRC_VALUE,    /* an integer field */
	SRC_SLOTS,    /* an array of log2 histogram slots */
	SRC_IMPLICIT, /* one per record */
};

struct family {
	char *name; /* without _total / _bucket */
	size_t name_len;
	char *help;
	enum fam_type type;
	enum fam_src src;
	const struct run_column *col;
	double scale;	 /* field unit -> base unit */
	size_t n_bounds; /* histograms: finite upper bounds, +Inf after them */
	double *bounds;	 /* in base units */
	char *le;	 /* n_bounds strings of METRICS_LE_BYTES: the bounds as written */
	size_t vidx;	 /* first value of the series block */
};

/*
 * One allocation: this header, the collector's n_vals values, the key (the
 * key fields' text, NUL-separated, then a NUL) and the labels ('a="x",b="y"',
 * without braces, then a NUL).
 */
struct series {
	struct series *next;
	uint64_t hash;
	uint32_t key_len;
	uint32_t labels_len;
	double v[];
};

struct run_metrics_ds {
	struct run_metrics *m;
	struct run_metrics_ds *next;
	char *scope;
	char *scope_label; /* 'otel_scope_name="scope"' */
	struct run_pipeline *p;
	const struct run_column *keys[RUN_METRICS_MAX_KEYS];
	char *key_names[RUN_METRICS_MAX_KEYS]; /* label names */
	size_t n_keys;
	struct family fams[RUN_METRICS_MAX_FAMILIES];
	size_t n_fams;
	size_t n_vals;

	struct series **table; /* n_buckets chains */
	size_t n_buckets;
	struct series **order; /* creation order, for a stable exposition */
	size_t n_series, cap_series;
	struct series *last;	/* the series of the previous record */
	struct base_buf key;	/* scratch: the key of the record at hand */
	struct base_buf labels; /* scratch: the labels of a new series */
};

struct run_metrics {
	uint64_t seed; /* of the series hash */
	size_t max_series;
	size_t n_series;
	uint64_t dropped;
	struct run_metrics_ds *ds; /* in the order added */
	struct run_metrics_ds **tail;
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	base_err_setv(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int run_metrics_new(const struct run_metrics_opts *opts, struct run_metrics **ret)
{
	struct run_metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->max_series =
		opts && opts->max_series ? opts->max_series : RUN_METRICS_DEFAULT_MAX_SERIES;
	if (getrandom(&m->seed, sizeof(m->seed), GRND_NONBLOCK) != sizeof(m->seed)) {
		struct timespec ts;

		/* early boot: not secret, but differs per run */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		m->seed = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)m;
	}
	m->tail = &m->ds;
	*ret = m;
	return 0;
}

static void ds_free(struct run_metrics_ds *d)
{
	size_t i;

	for (i = 0; i < d->n_series; i++)
		free(d->order[i]);
	free(d->order);
	free(d->table);
	for (i = 0; i < d->n_fams; i++) {
		free(d->fams[i].name);
		free(d->fams[i].help);
		free(d->fams[i].bounds);
		free(d->fams[i].le);
	}
	for (i = 0; i < d->n_keys; i++)
		free(d->key_names[i]);
	base_buf_done(&d->key);
	base_buf_done(&d->labels);
	free(d->scope);
	free(d->scope_label);
	free(d);
}

struct run_metrics *run_metrics_free(struct run_metrics *m)
{
	struct run_metrics_ds *d, *next;

	if (!m)
		return NULL;
	for (d = m->ds; d; d = next) {
		next = d->next;
		ds_free(d);
	}
	free(m);
	return NULL;
}

bool run_metrics_wanted(const struct oci_metadata_ds *md)
{
	const char *v = md ? oci_metadata_ds_annotation(md, "metrics.collect") : NULL;

	return v && (!strcasecmp(v, "true") || !strcmp(v, "1"));
}

/* ---- names ---- */

/*
 * Appends s as a Prometheus name part: [a-zA-Z0-9_], anything else an
 * underscore, no doubled underscores.
 */
static void name_part(char *out, size_t size, size_t *len, const char *s)
{
	for (; *s && *len + 1 < size; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			c = '_';
		if (c == '_' && *len && out[*len - 1] == '_')
			continue;
		out[(*len)++] = c;
	}
	out[*len] = '\0';
}

/*
 * scope_field_unit: the name of a family, without a type suffix; strip is
 * a unit abbreviation to drop from the end of the field's name.
 */
static char *family_name(const char *scope, const char *field, const char *unit_suffix,
			 const char *strip)
{
	char buf[METRICS_MAX_NAME];
	size_t len = 0;

	name_part(buf, sizeof(buf), &len, scope);
	if (len && buf[0] >= '0' && buf[0] <= '9') {
		/* a name cannot start with a digit */
		memmove(buf + 1, buf, len + 1 < sizeof(buf) ? len + 1 : sizeof(buf) - 1);
		buf[0] = '_';
		len = strlen(buf);
	}
	name_part(buf, sizeof(buf), &len, "_");
	name_part(buf, sizeof(buf), &len, field);
	while (len && buf[len - 1] == '_')
		buf[--len] = '\0';
	/*
	 * "lat_ns" in seconds is "lat_seconds": the abbreviation would mislead;
	 * a field named just "us" keeps its name
	 */
	if (strip && strlen(field) > strlen(strip) + 1 && len > strlen(strip) + 1 &&
	    buf[len - strlen(strip) - 1] == '_' && !strcmp(buf + len - strlen(strip), strip)) {
		len -= strlen(strip) + 1;
		buf[len] = '\0';
	}
	if (unit_suffix && *unit_suffix) {
		size_t n = strlen(unit_suffix);

		/* "latency_seconds" already says it */
		if (len < n + 1 || strcmp(buf + len - n, unit_suffix))
			name_part(buf, sizeof(buf), &len, unit_suffix);
	}
	return strdup(buf);
}

/* A label name: [a-zA-Z_][a-zA-Z0-9_]*, never starting with "__" (reserved). */
static char *label_name(const char *field)
{
	char buf[METRICS_MAX_NAME];
	size_t len = 0;

	name_part(buf, sizeof(buf), &len, field);
	while (len && buf[0] == '_') {
		memmove(buf, buf + 1, len);
		len--;
	}
	if (!len || (buf[0] >= '0' && buf[0] <= '9'))
		return NULL;
	return strdup(buf);
}

/* Appends v as a label value: backslash, quote and newline escaped. */
static int label_value(struct base_buf *b, const char *v, size_t n)
{
	size_t i;
	int r = 0;

	for (i = 0; i < n && r >= 0; i++) {
		if (v[i] == '\\')
			r = base_buf_puts(b, "\\\\");
		else if (v[i] == '"')
			r = base_buf_puts(b, "\\\"");
		else if (v[i] == '\n')
			r = base_buf_puts(b, "\\n");
		else
			r = base_buf_putc(b, v[i]);
	}
	return r;
}

/* ---- units ---- */

struct unit {
	const char *names; /* '|'-separated spellings, UCUM first */
	const char *suffix;
	double scale;
};

static const struct unit units[] = {
	{"ns|nanoseconds", "_seconds", 1e-9},  {"us|microseconds|µs", "_seconds", 1e-6},
	{"ms|milliseconds", "_seconds", 1e-3}, {"s|seconds", "_seconds", 1},
	{"By|bytes|B", "_bytes", 1},	       {"KiBy|KiB", "_bytes", 1024},
	{"MiBy|MiB", "_bytes", 1048576},
};

static const struct unit *find_unit(const char *u)
{
	size_t i;

	for (i = 0; u && i < sizeof(units) / sizeof(units[0]); i++) {
		const char *p = units[i].names;

		while (*p) {
			size_t n = strcspn(p, "|");

			if (strlen(u) == n && !strncmp(p, u, n))
				return &units[i];
			p += n + (p[n] == '|');
		}
	}
	return NULL;
}

/* ---- building a collector ---- */

static const char *field_note(const struct oci_metadata_ds *md, const char *field, const char *key)
{
	return md ? oci_metadata_field_annotation(md, field, key) : NULL;
}

static const struct run_column *find_column(const struct run_pipeline *p, const char *name)
{
	const struct run_column *cols = run_pipeline_columns(p);
	size_t i, n = run_pipeline_n_columns(p);

	for (i = 0; i < n; i++)
		if (!strcmp(cols[i].name, name))
			return &cols[i];
	return NULL;
}

/* The metric type a column's BTF type implies: gadget_counter__u32 and friends. */
static const char *implied_type(const struct run_column *c)
{
	const char *t = c->btf_type;

	if (!t)
		return NULL;
	if (!strncmp(t, "gadget_counter__", 16))
		return "counter";
	if (!strncmp(t, "gadget_gauge__", 14))
		return "gauge";
	if (!strncmp(t, "gadget_histogram_slot__", 23))
		return "histogram";
	return NULL;
}

static bool is_integer(const struct run_column *c)
{
	switch (c->kind) {
	case RUN_COLUMN_UINT:
	case RUN_COLUMN_INT:
	case RUN_COLUMN_BOOL:
	case RUN_COLUMN_BYTES:
	case RUN_COLUMN_DURATION:
		return true;
	default:
		return false;
	}
}

/* "1,2,5,10" -> sorted finite bounds; -EINVAL on anything else. */
static int parse_bounds(const char *s, double scale, struct family *f, char *err, size_t errlen)
{
	double b[RUN_METRICS_MAX_BUCKETS];
	size_t n = 0;

	while (*s) {
		char *end;
		double v = strtod(s, &end);

		if (end == s || !isfinite(v) || (n && v <= b[n - 1]) ||
		    n == RUN_METRICS_MAX_BUCKETS)
			return fail(err, errlen,
				    "invalid metrics.boundaries '%s' (increasing numbers, at most "
				    "%d, separated by commas)",
				    s, RUN_METRICS_MAX_BUCKETS);
		b[n++] = v * scale;
		s = end;
		while (*s == ' ')
			s++;
		if (*s == ',')
			s++;
		else if (*s)
			return fail(err, errlen, "invalid metrics.boundaries near '%s'", s);
	}
	f->bounds = malloc(n * sizeof(*f->bounds));
	if (!f->bounds)
		return -ENOMEM;
	memcpy(f->bounds, b, n * sizeof(*b));
	f->n_bounds = n;
	return 0;
}

static int set_log2_bounds(struct family *f, size_t n, bool slots)
{
	size_t i;

	f->bounds = malloc(n * sizeof(*f->bounds));
	if (!f->bounds)
		return -ENOMEM;
	/*
	 * slot i holds the values in [2^(i-1), 2^i) (slot 0: 0), as the gadget
	 * API's get_slot_idx() fills it: every one of them is <= 2^i
	 */
	(void)slots;
	for (i = 0; i < n; i++)
		f->bounds[i] = ldexp(1.0, (int)i) * f->scale;
	f->n_bounds = n;
	return 0;
}

/* The bounds as the exposition writes them in le="...", once rather than at every scrape. */
static int render_bounds(struct family *f)
{
	size_t i;

	f->le = malloc(f->n_bounds ? f->n_bounds * METRICS_LE_BYTES : 1);
	if (!f->le)
		return -ENOMEM;
	for (i = 0; i < f->n_bounds; i++)
		snprintf(f->le + i * METRICS_LE_BYTES, METRICS_LE_BYTES, "%.15g", f->bounds[i]);
	return 0;
}

static struct family *add_family(struct run_metrics_ds *d, char *err, size_t errlen)
{
	struct family *f;

	if (d->n_fams == RUN_METRICS_MAX_FAMILIES) {
		fail(err, errlen, "data source has more than %d metrics", RUN_METRICS_MAX_FAMILIES);
		return NULL;
	}
	f = &d->fams[d->n_fams++];
	memset(f, 0, sizeof(*f));
	f->scale = 1;
	return f;
}

static int add_value_family(struct run_metrics_ds *d, const struct run_column *c, const char *type,
			    const struct oci_metadata_ds *md, char *err, size_t errlen)
{
	const char *unit_name = field_note(md, c->name, "metrics.unit");
	const char *desc = field_note(md, c->name, "metrics.description");
	const char *bounds = field_note(md, c->name, "metrics.boundaries");
	const struct unit *u;
	struct family *f;
	int r;

	if (!unit_name && c->kind == RUN_COLUMN_DURATION)
		unit_name = "ns";
	if (!unit_name && c->kind == RUN_COLUMN_BYTES)
		unit_name = "By";
	u = find_unit(unit_name);
	f = add_family(d, err, errlen);
	if (!f)
		return -EINVAL;
	f->col = c;
	f->scale = u ? u->scale : 1;
	if (!strcmp(type, "counter")) {
		f->type = FAM_COUNTER;
	} else if (!strcmp(type, "gauge")) {
		f->type = FAM_GAUGE;
	} else {
		f->type = FAM_HISTOGRAM;
	}
	if (f->type == FAM_HISTOGRAM && c->kind == RUN_COLUMN_ARRAY) {
		if (c->elem_size != 4 && c->elem_size != 8)
			return fail(err, errlen,
				    "field '%s': a histogram array holds 32- or 64-bit slots",
				    c->name);
		f->src = SRC_SLOTS;
		if (c->size / c->elem_size > RUN_METRICS_MAX_BUCKETS)
			return fail(err, errlen, "field '%s': more than %d histogram slots",
				    c->name, RUN_METRICS_MAX_BUCKETS);
		r = set_log2_bounds(f, c->size / c->elem_size, true);
	} else if (is_integer(c)) {
		f->src = SRC_VALUE;
		r = 0;
		if (f->type == FAM_HISTOGRAM)
			r = bounds ? parse_bounds(bounds, f->scale, f, err, errlen)
				   : set_log2_bounds(f, METRICS_LOG2_BUCKETS, false);
	} else {
		return fail(err, errlen, "field '%s' (%s) cannot be a %s: it must be a number%s",
			    c->name, c->type, type,
			    f->type == FAM_HISTOGRAM ? " or an array of histogram slots" : "");
	}
	if (r >= 0 && f->type == FAM_HISTOGRAM)
		r = render_bounds(f);
	if (r < 0)
		return r;
	f->name = family_name(d->scope, c->name, u ? u->suffix : NULL, u ? unit_name : NULL);
	f->help = strdup(desc && *desc ? desc : c->description ? c->description : c->name);
	if (!f->name || !f->help)
		return -ENOMEM;
	f->name_len = strlen(f->name);
	f->vidx = d->n_vals;
	d->n_vals += f->type == FAM_HISTOGRAM ? f->n_bounds + 3 : 1;
	return 0;
}

static int add_implicit(struct run_metrics_ds *d, const char *name, const char *desc, char *err,
			size_t errlen)
{
	struct family *f = add_family(d, err, errlen);

	if (!f)
		return -EINVAL;
	f->type = FAM_COUNTER;
	f->src = SRC_IMPLICIT;
	f->name = family_name(d->scope, name, NULL, NULL);
	f->help = strdup(desc && *desc ? desc : "records of the data source");
	if (!f->name || !f->help)
		return -ENOMEM;
	f->name_len = strlen(f->name);
	f->vidx = d->n_vals++;
	return 0;
}

static int add_key(struct run_metrics_ds *d, const struct run_column *c, char *err, size_t errlen)
{
	if (d->n_keys == RUN_METRICS_MAX_KEYS)
		return fail(err, errlen, "more than %d metrics keys", RUN_METRICS_MAX_KEYS);
	d->key_names[d->n_keys] = label_name(c->name);
	if (!d->key_names[d->n_keys])
		return fail(err, errlen, "field '%s' cannot name a label", c->name);
	d->keys[d->n_keys++] = c;
	return 0;
}

/* The exposition writes NAME, NAME_total, NAME_bucket/_sum/_count: all must be distinct. */
static const char *collides(const struct run_metrics *m, const struct run_metrics_ds *self,
			    const char *name)
{
	const struct run_metrics_ds *d;
	size_t i, n = strlen(name);

	for (d = m->ds; d; d = d->next) {
		for (i = 0; i < d->n_fams; i++) {
			const char *o = d->fams[i].name;
			size_t k = strlen(o);

			if (d == self && o == name)
				continue;
			/* equal, or one is the other plus a suffix the writer adds */
			if (!strncmp(o, name, k < n ? k : n) &&
			    (k == n || !strcmp((k < n ? name : o) + (k < n ? k : n), "_total") ||
			     !strcmp((k < n ? name : o) + (k < n ? k : n), "_bucket") ||
			     !strcmp((k < n ? name : o) + (k < n ? k : n), "_sum") ||
			     !strcmp((k < n ? name : o) + (k < n ? k : n), "_count")))
				return o;
		}
	}
	return NULL;
}

int run_metrics_add_ds(struct run_metrics *m, const char *scope, struct run_pipeline *p,
		       const struct oci_metadata_ds *md, char *err, size_t errlen,
		       struct run_metrics_ds **ret)
{
	const struct run_column *cols = run_pipeline_columns(p);
	size_t i, n = run_pipeline_n_columns(p);
	struct run_metrics_ds *d;
	const char *ic;
	int r = -ENOMEM;

	if (!scope || !*scope)
		return fail(err, errlen, "metrics need a name (--otel-metrics-name DS:NAME)");
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->m = m;
	d->p = p;
	d->scope = strdup(scope);
	d->key.max = RUN_METRICS_MAX_KEY_BYTES * 2;
	d->labels.max = RUN_METRICS_MAX_KEYS * (METRICS_MAX_NAME + 4) +
			2 * RUN_METRICS_MAX_KEY_BYTES + strlen(scope) * 2 + 32;
	if (!d->scope)
		goto fail;
	{
		struct base_buf b = BASE_BUF_INIT(0);

		if (base_buf_puts(&b, "otel_scope_name=\"") < 0 ||
		    label_value(&b, scope, strlen(scope)) < 0 || base_buf_putc(&b, '"') < 0) {
			base_buf_done(&b);
			goto fail;
		}
		d->scope_label = base_buf_take(&b);
	}
	/* the fields of gadget.yaml and --annotate first: a name there must exist */
	for (i = 0; md && i < md->n_fields; i++) {
		const char *t =
			oci_metadata_field_annotation(md, md->fields[i].name, "metrics.type");

		if (t && !find_column(p, md->fields[i].name)) {
			r = fail(err, errlen,
				 "metrics.type on '%s': the data source has no such field",
				 md->fields[i].name);
			goto fail;
		}
	}
	for (i = 0; i < n; i++) {
		const struct run_column *c = &cols[i];
		const char *t = field_note(md, c->name, "metrics.type");

		if (!t)
			t = implied_type(c);
		if (!t)
			continue;
		if (!strcmp(t, "key"))
			r = add_key(d, c, err, errlen);
		else if (!strcmp(t, "counter") || !strcmp(t, "gauge") || !strcmp(t, "histogram"))
			r = add_value_family(d, c, t, md, err, errlen);
		else
			r = fail(err, errlen,
				 "field '%s': unknown metrics.type '%s' (counter, gauge, histogram "
				 "or key)",
				 c->name, t);
		if (r < 0)
			goto fail;
	}
	ic = md ? oci_metadata_ds_annotation(md, "metrics.implicit-counter.name") : NULL;
	if (ic && *ic) {
		r = add_implicit(
			d, ic,
			oci_metadata_ds_annotation(md, "metrics.implicit-counter.description"), err,
			errlen);
		if (r < 0)
			goto fail;
	}
	if (!d->n_fams) {
		r = fail(err, errlen,
			 "data source has no metrics: annotate a field with metrics.type, or the "
			 "data source with metrics.implicit-counter.name");
		goto fail;
	}
	for (i = 0; i < d->n_fams; i++) {
		const char *other = collides(m, d, d->fams[i].name);

		if (other) {
			r = fail(err, errlen,
				 "metric %s collides with %s (choose another "
				 "--otel-metrics-name)",
				 d->fams[i].name, other);
			goto fail;
		}
	}
	d->n_buckets = 64;
	d->table = calloc(d->n_buckets, sizeof(*d->table));
	if (!d->table) {
		r = -ENOMEM;
		goto fail;
	}
	*m->tail = d;
	m->tail = &d->next;
	if (ret)
		*ret = d;
	return 0;
fail:
	ds_free(d);
	return r;
}

/* ---- records ---- */

/*
 * Eight bytes a step (byte-wise FNV-1a was half of the collector's own time
 * on a 15-byte key); each step is a bijection of the state, so keys of one
 * word never collide, and the seed keeps a chain's members unpredictable.
 */
static uint64_t hash_bytes(uint64_t seed, const char *p, size_t n)
{
	uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL), w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	if (n) {
		w = 0;
		memcpy(&w, p, n);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 29);
}

static const char *series_key(const struct run_metrics_ds *d, const struct series *s)
{
	return (const char *)&s->v[d->n_vals];
}

static const char *series_labels(const struct run_metrics_ds *d, const struct series *s)
{
	return series_key(d, s) + s->key_len + 1;
}

/* The key fields' text, NUL-separated, into d->key. */
static int build_key(struct run_metrics_ds *d, const void *rec, size_t size)
{
	struct run_column_env *env = run_pipeline_env(d->p);
	size_t i;
	int r = 0;

	base_buf_reset(&d->key);
	for (i = 0; i < d->n_keys && r >= 0; i++) {
		const struct run_column *c = d->keys[i];
		size_t start = d->key.len;

		if (c->kind == RUN_COLUMN_STRING) {
			size_t n;
			const char *s = run_column_string(c, rec, size, &n);

			r = run_put(&d->key, s, n);
		} else {
			r = run_column_text(env, c, rec, size, &d->key);
			if (r > 0)
				r = 0;
		}
		/* a long value is cut, never refused: its series is still counted */
		if (r >= 0 && d->key.len - start > RUN_METRICS_MAX_KEY_BYTES / RUN_METRICS_MAX_KEYS)
			d->key.len = start + RUN_METRICS_MAX_KEY_BYTES / RUN_METRICS_MAX_KEYS;
		if (r >= 0)
			r = base_buf_putc(&d->key, '\0');
	}
	return r;
}

static int grow_table(struct run_metrics_ds *d)
{
	size_t n = d->n_buckets * 2, i;
	struct series **t = calloc(n, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (i = 0; i < d->n_series; i++) {
		struct series *s = d->order[i];
		size_t b = s->hash & (n - 1);

		s->next = t[b];
		t[b] = s;
	}
	free(d->table);
	d->table = t;
	d->n_buckets = n;
	return 0;
}

/* The labels of the key in d->key, into d->labels. */
static int render_labels(struct run_metrics_ds *d)
{
	struct base_buf *b = &d->labels;
	const char *v = d->key.data;
	size_t i;
	int r = 0;

	base_buf_reset(b);
	for (i = 0; i < d->n_keys && r >= 0; i++) {
		size_t n = strlen(v);

		r = base_buf_puts(b, d->key_names[i]);
		if (r >= 0)
			r = base_buf_puts(b, "=\"");
		if (r >= 0)
			r = label_value(b, v, n);
		if (r >= 0)
			r = base_buf_puts(b, "\",");
		v += n + 1;
	}
	if (r >= 0)
		r = base_buf_puts(b, d->scope_label);
	return r;
}

/*
 * Word-wise, inline: keys are short and compared on every record, where a
 * call to memcmp() took as long as the rest of the collector.
 */
static bool same_key(const struct run_metrics_ds *d, const struct series *s)
{
	const char *a = series_key(d, s), *b = d->key.data;
	size_t n = d->key.len;
	uint64_t x, y;

	if (s->key_len != n)
		return false;
	for (; n >= 8; a += 8, b += 8, n -= 8) {
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		if (x != y)
			return false;
	}
	for (; n; a++, b++, n--)
		if (*a != *b)
			return false;
	return true;
}

/* The series of the key in d->key; NULL when a new one is past the bound. */
static struct series *series_of(struct run_metrics_ds *d, int *err)
{
	uint64_t h = hash_bytes(d->m->seed, d->key.data ? d->key.data : "", d->key.len);
	struct series **slot = &d->table[h & (d->n_buckets - 1)], *s;
	size_t vals = d->n_vals * sizeof(double);
	char *key;
	int r;

	*err = 0;
	for (s = *slot; s; s = s->next)
		if (s->hash == h && same_key(d, s))
			return s;
	if (d->m->n_series >= d->m->max_series) {
		d->m->dropped++;
		return NULL;
	}
	if (d->n_series == d->cap_series) {
		size_t cap = d->cap_series ? d->cap_series * 2 : 64;
		struct series **o = realloc(d->order, cap * sizeof(*o));

		if (!o)
			goto nomem;
		d->order = o;
		d->cap_series = cap;
	}
	r = render_labels(d);
	if (r < 0) {
		*err = r;
		return NULL;
	}
	s = malloc(sizeof(*s) + vals + d->key.len + 1 + d->labels.len + 1);
	if (!s)
		goto nomem;
	s->hash = h;
	s->key_len = (uint32_t)d->key.len;
	s->labels_len = (uint32_t)d->labels.len;
	memset(s->v, 0, vals);
	key = (char *)&s->v[d->n_vals];
	if (d->key.len)
		memcpy(key, d->key.data, d->key.len);
	key[d->key.len] = '\0';
	memcpy(key + d->key.len + 1, d->labels.data, d->labels.len + 1);
	s->next = *slot;
	*slot = s;
	d->order[d->n_series++] = s;
	d->m->n_series++;
	if (d->n_series > d->n_buckets && grow_table(d) < 0)
		goto nomem;
	return s;
nomem:
	*err = -ENOMEM;
	return NULL;
}

static double value_of(const struct family *f, const void *rec, size_t size)
{
	uint64_t v = run_column_read(&f->col->v, rec, size);

	if (f->col->v.sign)
		return (double)(int64_t)v * f->scale;
	return (double)v * f->scale;
}

static void observe(const struct family *f, double *v, double x)
{
	size_t b;

	for (b = 0; b < f->n_bounds && x > f->bounds[b]; b++)
		;
	v[b]++; /* b == n_bounds: the +Inf bucket */
	v[f->n_bounds + 1] += x;
	v[f->n_bounds + 2]++;
}

static void add_slots(const struct family *f, double *v, const void *rec, size_t size)
{
	const struct run_column *c = f->col;
	const uint8_t *p = (const uint8_t *)rec + c->off;
	size_t i, n = f->n_bounds;

	for (i = 0; i < n; i++) {
		uint64_t x = 0;
		size_t at = c->off + i * c->elem_size;

		if (at >= size || size - at < c->elem_size)
			break;
		if (c->elem_size == 4) {
			uint32_t t;

			memcpy(&t, p + i * 4, 4);
			x = t;
		} else {
			memcpy(&x, p + i * 8, 8);
		}
		if (!x)
			continue;
		v[i] += (double)x;
		/* each value counted at its slot's lower bound: 2^(i-1), 0 for slot 0 */
		if (i)
			v[n + 1] += (double)x * ldexp(1.0, (int)i - 1) * f->scale;
		v[n + 2] += (double)x;
	}
}

int run_metrics_ds_record(struct run_metrics_ds *d, const void *rec, size_t size)
{
	struct series *s;
	size_t i;
	int r = build_key(d, rec, size);

	if (r < 0)
		return r == -E2BIG ? 0 : r;
	s = d->last;
	if (!s || !same_key(d, s)) {
		s = series_of(d, &r);
		if (!s)
			return r;
		d->last = s;
	}
	for (i = 0; i < d->n_fams; i++) {
		const struct family *f = &d->fams[i];
		double *v = &s->v[f->vidx];

		switch (f->src) {
		case SRC_IMPLICIT:
			v[0]++;
			break;
		case SRC_SLOTS:
			add_slots(f, v, rec, size);
			break;
		case SRC_VALUE:
			if (f->type == FAM_COUNTER)
				v[0] += value_of(f, rec, size);
			else if (f->type == FAM_GAUGE)
				v[0] = value_of(f, rec, size);
			else
				observe(f, v, value_of(f, rec, size));
			break;
		}
	}
	return 0;
}

/* ---- exposition ---- */

size_t run_metrics_series(const struct run_metrics *m)
{
	return m ? m->n_series : 0;
}

uint64_t run_metrics_dropped(const struct run_metrics *m)
{
	return m ? m->dropped : 0;
}

const char *run_metrics_family_name(const struct run_metrics *m, size_t i)
{
	const struct run_metrics_ds *d;

	for (d = m ? m->ds : NULL; d; d = d->next) {
		if (i < d->n_fams)
			return d->fams[i].name;
		i -= d->n_fams;
	}
	return NULL;
}

/* A sample value: integers as integers, everything else with full precision. */
static int put_value(struct base_buf *b, double v)
{
	char t[64];

	if (v == floor(v) && fabs(v) < 9007199254740992.0)
		return base_buf_put_i64(b, (int64_t)v);
	/* the shortest of the two spellings that reads back as the same number */
	snprintf(t, sizeof(t), "%.15g", v);
	if (strtod(t, NULL) == v)
		return base_buf_puts(b, t);
	return base_buf_printf(b, "%.17g", v);
}

static int put_help(struct base_buf *b, const char *name, const char *suffix, const char *type,
		    const char *help)
{
	const char *h;
	int r = base_buf_printf(b, "# HELP %s%s ", name, suffix);

	/* HELP text escapes backslash and newline */
	for (h = help; *h && r >= 0; h++)
		r = *h == '\\'	 ? base_buf_puts(b, "\\\\")
		    : *h == '\n' ? base_buf_puts(b, "\\n")
				 : base_buf_putc(b, *h);
	if (r >= 0)
		r = base_buf_printf(b, "\n# TYPE %s%s %s\n", name, suffix, type);
	return r;
}

/* NAMESUFFIX{LABELS} VALUE, or NAMESUFFIX{LABELS,le="LE"} VALUE, and a newline. */
static int put_sample(struct base_buf *b, const struct family *f, const char *suffix,
		      const char *labels, size_t labels_len, const char *le, double v)
{
	int r = base_buf_append(b, f->name, f->name_len);

	if (r >= 0)
		r = base_buf_puts(b, suffix);
	if (r >= 0)
		r = base_buf_putc(b, '{');
	if (r >= 0)
		r = base_buf_append(b, labels, labels_len);
	if (r >= 0 && le) {
		r = base_buf_puts(b, ",le=\"");
		if (r >= 0)
			r = base_buf_puts(b, le);
		if (r >= 0)
			r = base_buf_putc(b, '"');
	}
	if (r >= 0)
		r = base_buf_puts(b, "} ");
	if (r >= 0)
		r = put_value(b, v);
	if (r >= 0)
		r = base_buf_putc(b, '\n');
	return r;
}

static int write_family(const struct run_metrics_ds *d, const struct family *f, struct base_buf *b)
{
	static const char *const types[] = {"counter", "gauge", "histogram"};
	const char *suffix = f->type == FAM_COUNTER ? "_total" : "";
	size_t i, k;
	int r = put_help(b, f->name, suffix, types[f->type], f->help);

	for (i = 0; i < d->n_series && r >= 0; i++) {
		const struct series *s = d->order[i];
		const char *labels = series_labels(d, s);
		const double *v = &s->v[f->vidx];
		double cum = 0;

		if (f->type != FAM_HISTOGRAM) {
			r = put_sample(b, f, suffix, labels, s->labels_len, NULL, v[0]);
			continue;
		}
		for (k = 0; k <= f->n_bounds && r >= 0; k++) {
			cum += v[k];
			r = put_sample(b, f, "_bucket", labels, s->labels_len,
				       k < f->n_bounds ? f->le + k * METRICS_LE_BYTES : "+Inf",
				       cum);
		}
		if (r >= 0)
			r = put_sample(b, f, "_sum", labels, s->labels_len, NULL,
				       v[f->n_bounds + 1]);
		if (r >= 0)
			r = put_sample(b, f, "_count", labels, s->labels_len, NULL,
				       v[f->n_bounds + 2]);
	}
	return r;
}

int run_metrics_write(const struct run_metrics *m, struct base_buf *out)
{
	const struct run_metrics_ds *d;
	size_t i;
	int r = 0;

	for (d = m ? m->ds : NULL; d && r >= 0; d = d->next)
		for (i = 0; i < d->n_fams && r >= 0; i++)
			r = write_family(d, &d->fams[i], out);
	return r;
}

int run_metrics_write_dropped(const struct run_metrics *const *registries,
			      const char *const *labels, size_t n, struct base_buf *out)
{
	size_t i;
	int r;

	if (!n)
		return 0;
	r = base_buf_puts(out, "# HELP gadget_metrics_dropped_series_total Records of new series "
			       "dropped past the bound on series of a run\n"
			       "# TYPE gadget_metrics_dropped_series_total counter\n");
	for (i = 0; i < n && r >= 0; i++) {
		r = base_buf_puts(out, "gadget_metrics_dropped_series_total{run=\"");
		if (r >= 0)
			r = label_value(out, labels[i], strlen(labels[i]));
		if (r >= 0)
			r = base_buf_printf(out, "\"} %llu\n",
					    (unsigned long long)run_metrics_dropped(registries[i]));
	}
	return r;
}
