// SPDX-License-Identifier: Apache-2.0
/*
 * gadget.yaml parser.  See metadata.h for the model and the rules.
 *
 * This reads libyaml's event stream rather than its document tree: with
 * events the parser can stop at the first alias, at the first level past
 * OCI_METADATA_MAX_DEPTH or at the first entry past OCI_METADATA_MAX_ENTRIES
 * before anything is built, and subtrees under unknown keys are walked past
 * without being stored.  The code is a small recursive descent that follows
 * the fixed shape of the format (so its own recursion is shallow); unknown
 * subtrees of any depth are skipped by a loop.
 *
 * Every element is zeroed as soon as it is counted and the object is kept
 * consistent at each step, so oci_metadata_free() can take down an object
 * abandoned at any point of the parse.
 */
#include "oci/metadata.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "base/err.h"
#include "base/file.h"
#include "base/log.h"
#include "base/yaml.h"

/* The name used in messages when the document did not come from a file. */
#define METADATA_DEFAULT_NAME "gadget.yaml"

/* Bits for "seen" sets that detect duplicate known keys. */
enum {
	SEEN_NAME = 1u << 0,
	SEEN_DESCRIPTION = 1u << 1,
	SEEN_HOMEPAGE = 1u << 2,
	SEEN_DOCUMENTATION = 1u << 3,
	SEEN_SOURCE = 1u << 4,
	SEEN_DATASOURCES = 1u << 5,
	SEEN_PARAMS = 1u << 6,
	SEEN_ANNOTATIONS = 1u << 7,
	SEEN_FIELDS = 1u << 8,
	SEEN_EBPF = 1u << 9,
	SEEN_KEY = 1u << 10,
	SEEN_DEFAULT = 1u << 11,
	SEEN_ALIAS = 1u << 12,
	SEEN_PARAM_DEFAULTS = 1u << 13,
};

struct metadata_parser {
	yaml_parser_t yaml;
	yaml_event_t ev; /* the current event, valid while have_ev */
	bool have_ev;
	const char *name; /* "gadget.yaml" or the path, for messages */
	const unsigned char *buf;
	size_t len;
	char *err;
	size_t errlen;
	unsigned int depth; /* collections open at the current event */
	size_t entries;
};

/*
 * Writes "<name>:<line>: <what><suffix>" to the caller's buffer.  Names in
 * the message come from the document, so control characters are masked to
 * keep the reason on one line.
 */
static int metadata_failv(struct metadata_parser *p, const yaml_mark_t *mark, int r,
			  const char *suffix, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));
static int metadata_failv(struct metadata_parser *p, const yaml_mark_t *mark, int r,
			  const char *suffix, const char *fmt, va_list ap)
{
	size_t used;
	int n;

	if (!p->err || !p->errlen)
		return r;
	n = snprintf(p->err, p->errlen, "%s:%zu: ", p->name, mark->line + 1);
	if (n < 0)
		n = 0;
	used = (size_t)n < p->errlen ? (size_t)n : p->errlen - 1;
	n = vsnprintf(p->err + used, p->errlen - used, fmt, ap);
	if (n > 0)
		used = used + (size_t)n < p->errlen ? used + (size_t)n : p->errlen - 1;
	if (suffix)
		snprintf(p->err + used, p->errlen - used, "%s", suffix);
	base_err_oneline(p->err);
	return r;
}

static int metadata_fail(struct metadata_parser *p, const yaml_mark_t *mark, int r, const char *fmt,
			 ...) __attribute__((format(printf, 4, 5)));
static int metadata_fail(struct metadata_parser *p, const yaml_mark_t *mark, int r, const char *fmt,
			 ...)
{
	va_list ap;

	va_start(ap, fmt);
	metadata_failv(p, mark, r, NULL, fmt, ap);
	va_end(ap);
	return r;
}

/* The one place where libyaml's error state becomes an errno and a message. */
static int metadata_yaml_error(struct metadata_parser *p)
{
	const yaml_parser_t *y = &p->yaml;
	yaml_mark_t mark = y->problem_mark;

	if (y->error == YAML_MEMORY_ERROR) {
		base_err_set(p->err, p->errlen, "%s: out of memory", p->name);
		return -ENOMEM;
	}
	if (y->error == YAML_READER_ERROR) {
		/* The reader reports a byte offset, not a mark: count lines. */
		size_t end = y->problem_offset < p->len ? y->problem_offset : p->len;

		mark.line = 0;
		for (size_t i = 0; i < end; i++)
			if (p->buf[i] == '\n')
				mark.line++;
	}
	base_log_debug("%s: libyaml error %d: %s (%s) at line %zu column %zu", p->name,
		       (int)y->error, y->problem ? y->problem : "?", y->context ? y->context : "",
		       mark.line + 1, mark.column + 1);
	return metadata_fail(p, &mark, -EINVAL, "malformed YAML: %s",
			     y->problem ? y->problem : "unknown error");
}

/*
 * Moves to the next event.  Aliases and the nesting limit are enforced here,
 * for every event of the document, known keys or not.
 */
static int metadata_next(struct metadata_parser *p)
{
	if (p->have_ev) {
		yaml_event_delete(&p->ev);
		p->have_ev = false;
	}
	if (!yaml_parser_parse(&p->yaml, &p->ev))
		return metadata_yaml_error(p);
	p->have_ev = true;
	switch (p->ev.type) {
	case YAML_ALIAS_EVENT:
		return metadata_fail(p, &p->ev.start_mark, -EINVAL, "aliases are not supported");
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		if (++p->depth > OCI_METADATA_MAX_DEPTH)
			return metadata_fail(p, &p->ev.start_mark, -E2BIG,
					     "nesting deeper than %d levels",
					     OCI_METADATA_MAX_DEPTH);
		break;
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		p->depth--;
		break;
	default:
		break;
	}
	return 0;
}

static int metadata_expect(struct metadata_parser *p, yaml_event_type_t type)
{
	int r = metadata_next(p);

	if (r < 0)
		return r;
	if (p->ev.type != type)
		return metadata_fail(p, &p->ev.start_mark, -EINVAL, "unexpected YAML event %d",
				     (int)p->ev.type);
	return 0;
}

/* A plain, untagged null: empty, "~", "null", "Null", "NULL". */
static bool metadata_is_null(const yaml_event_t *ev)
{
	if (ev->type != YAML_SCALAR_EVENT || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
	    !ev->data.scalar.plain_implicit)
		return false;
	return base_yaml_plain_is_null((const char *)ev->data.scalar.value, ev->data.scalar.length);
}

static const char *metadata_kind(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	case YAML_SEQUENCE_START_EVENT:
		return "a sequence";
	default:
		return "a scalar";
	}
}

/* Copies the current scalar, which is known not to be null. */
static int metadata_dup_scalar(struct metadata_parser *p, char **ret)
{
	size_t n = p->ev.data.scalar.length;
	char *s;

	if (n > OCI_METADATA_MAX_SCALAR)
		return metadata_fail(p, &p->ev.start_mark, -E2BIG, "value longer than %d bytes",
				     OCI_METADATA_MAX_SCALAR);
	/* "\0" in a quoted scalar would silently cut a C string short. */
	if (memchr(p->ev.data.scalar.value, '\0', n))
		return metadata_fail(p, &p->ev.start_mark, -EINVAL, "value contains a NUL byte");
	s = strndup((const char *)p->ev.data.scalar.value, n);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

/*
 * Takes the current node as text.  fmt names the node for the message when
 * it is not a scalar.  A null becomes "" when null_empty, NULL otherwise.
 */
static int metadata_take_scalar(struct metadata_parser *p, bool null_empty, char **ret,
				const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int metadata_take_scalar(struct metadata_parser *p, bool null_empty, char **ret,
				const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int r;

	if (p->ev.type != YAML_SCALAR_EVENT) {
		va_start(ap, fmt);
		r = metadata_failv(p, &p->ev.start_mark, -EINVAL, " must be a scalar", fmt, ap);
		va_end(ap);
		return r;
	}
	if (metadata_is_null(&p->ev)) {
		if (null_empty) {
			s = strdup("");
			if (!s)
				return -ENOMEM;
		}
	} else {
		r = metadata_dup_scalar(p, &s);
		if (r < 0)
			return r;
	}
	free(*ret);
	*ret = s;
	return 0;
}

/*
 * Checks that the current node opens a mapping.  Returns 1 for a mapping
 * (read it with metadata_next_entry()), 0 for a null, which stands for an
 * empty mapping, or -EINVAL naming the node with fmt.
 */
static int metadata_begin_mapping(struct metadata_parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int metadata_begin_mapping(struct metadata_parser *p, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (p->ev.type == YAML_MAPPING_START_EVENT)
		return 1;
	if (metadata_is_null(&p->ev))
		return 0;
	va_start(ap, fmt);
	r = metadata_failv(p, &p->ev.start_mark, -EINVAL, " must be a mapping", fmt, ap);
	va_end(ap);
	return r;
}

/*
 * Steps to the next entry of the mapping being read.  Returns 1 with a new
 * copy of the key in *key and the first event of the value current, 0 at the
 * end of the mapping, or -errno.
 */
static int metadata_next_entry(struct metadata_parser *p, char **key, yaml_mark_t *key_mark)
{
	int r;

	r = metadata_next(p);
	if (r < 0)
		return r;
	if (p->ev.type == YAML_MAPPING_END_EVENT)
		return 0;
	if (p->ev.type != YAML_SCALAR_EVENT)
		return metadata_fail(p, &p->ev.start_mark, -EINVAL, "keys must be scalars, not %s",
				     metadata_kind(&p->ev));
	*key_mark = p->ev.start_mark;
	r = metadata_dup_scalar(p, key);
	if (r < 0)
		return r;
	r = metadata_next(p);
	if (r < 0) {
		free(*key);
		*key = NULL;
		return r;
	}
	return 1;
}

/* Walks past the current node: a scalar, or a collection and all it holds. */
static int metadata_skip(struct metadata_parser *p)
{
	unsigned int depth = p->depth;
	int r;

	if (p->ev.type != YAML_MAPPING_START_EVENT && p->ev.type != YAML_SEQUENCE_START_EVENT)
		return 0;
	while (p->depth >= depth) {
		r = metadata_next(p);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Marks bit in *seen, or fails if the key came before. */
static int metadata_once(struct metadata_parser *p, unsigned int *seen, unsigned int bit,
			 const char *key, const yaml_mark_t *key_mark)
{
	if (*seen & bit)
		return metadata_fail(p, key_mark, -EINVAL, "duplicate key '%s'", key);
	*seen |= bit;
	return 0;
}

static int metadata_count_entry(struct metadata_parser *p, const yaml_mark_t *mark)
{
	if (++p->entries > OCI_METADATA_MAX_ENTRIES)
		return metadata_fail(p, mark, -E2BIG,
				     "more than %d datasources, fields, params and annotations",
				     OCI_METADATA_MAX_ENTRIES);
	return 0;
}

/*
 * Makes room for element n of an array of n elements of size bytes: returns
 * the array, moved if needed, or NULL.  The capacity is implied by the count
 * (the smallest power of two >= max(n, 4)), so it needs no field of its own.
 */
static void *metadata_grow(void *arr, size_t n, size_t size)
{
	if (n != 0 && (n < 4 || (n & (n - 1))))
		return arr;
	return reallocarray(arr, n < 4 ? 4 : n * 2, size);
}

static int metadata_parse_annotations(struct metadata_parser *p, const char *ds, const char *field,
				      size_t *n_annotations,
				      struct oci_metadata_annotation **annotations)
{
	struct oci_metadata_annotation *a;
	yaml_mark_t key_mark;
	char *key = NULL;
	int r;

	if (field)
		r = metadata_begin_mapping(p, "'annotations' of field '%s' in datasource '%s'",
					   field, ds);
	else
		r = metadata_begin_mapping(p, "'annotations' of datasource '%s'", ds);
	if (r <= 0)
		return r;
	while ((r = metadata_next_entry(p, &key, &key_mark)) > 0) {
		for (size_t i = 0; i < *n_annotations; i++)
			if (!strcmp((*annotations)[i].key, key)) {
				r = metadata_fail(p, &key_mark, -EINVAL,
						  "duplicate annotation '%s'", key);
				goto out;
			}
		r = metadata_count_entry(p, &key_mark);
		if (r < 0)
			goto out;
		a = metadata_grow(*annotations, *n_annotations, sizeof(*a));
		if (!a) {
			r = -ENOMEM;
			goto out;
		}
		*annotations = a;
		a += (*n_annotations)++;
		memset(a, 0, sizeof(*a));
		a->key = key;
		key = NULL;
		if (field)
			r = metadata_take_scalar(p, true, &a->value,
						 "annotation '%s' of field '%s' in datasource '%s'",
						 a->key, field, ds);
		else
			r = metadata_take_scalar(p, true, &a->value,
						 "annotation '%s' of datasource '%s'", a->key, ds);
		if (r < 0)
			goto out;
	}
out:
	free(key);
	return r;
}

static int metadata_parse_field(struct metadata_parser *p, const char *ds,
				struct oci_metadata_field *f)
{
	unsigned int seen = 0;
	yaml_mark_t key_mark;
	char *key = NULL;
	int r;

	r = metadata_begin_mapping(p, "field '%s' in datasource '%s'", f->name, ds);
	if (r <= 0)
		return r;
	while ((r = metadata_next_entry(p, &key, &key_mark)) > 0) {
		if (!strcasecmp(key, "annotations")) {
			r = metadata_once(p, &seen, SEEN_ANNOTATIONS, key, &key_mark);
			if (r >= 0)
				r = metadata_parse_annotations(p, ds, f->name, &f->n_annotations,
							       &f->annotations);
		} else {
			r = metadata_skip(p);
		}
		free(key);
		key = NULL;
		if (r < 0)
			return r;
	}
	return r;
}

static int metadata_parse_fields(struct metadata_parser *p, struct oci_metadata_ds *ds)
{
	struct oci_metadata_field *f;
	yaml_mark_t key_mark;
	char *key = NULL;
	int r;

	r = metadata_begin_mapping(p, "'fields' of datasource '%s'", ds->name);
	if (r <= 0)
		return r;
	while ((r = metadata_next_entry(p, &key, &key_mark)) > 0) {
		for (size_t i = 0; i < ds->n_fields; i++)
			if (!strcmp(ds->fields[i].name, key)) {
				r = metadata_fail(p, &key_mark, -EINVAL, "duplicate field '%s'",
						  key);
				goto out;
			}
		r = metadata_count_entry(p, &key_mark);
		if (r < 0)
			goto out;
		f = metadata_grow(ds->fields, ds->n_fields, sizeof(*f));
		if (!f) {
			r = -ENOMEM;
			goto out;
		}
		ds->fields = f;
		f += ds->n_fields++;
		memset(f, 0, sizeof(*f));
		f->name = key;
		key = NULL;
		r = metadata_parse_field(p, ds->name, f);
		if (r < 0)
			goto out;
	}
out:
	free(key);
	return r;
}

static int metadata_parse_ds(struct metadata_parser *p, struct oci_metadata_ds *ds)
{
	unsigned int seen = 0;
	yaml_mark_t key_mark;
	char *key = NULL;
	int r;

	r = metadata_begin_mapping(p, "datasource '%s'", ds->name);
	if (r <= 0)
		return r;
	while ((r = metadata_next_entry(p, &key, &key_mark)) > 0) {
		if (!strcasecmp(key, "annotations")) {
			r = metadata_once(p, &seen, SEEN_ANNOTATIONS, key, &key_mark);
			if (r >= 0)
				r = metadata_parse_annotations(
					p, ds->name, NULL, &ds->n_annotations, &ds->annotations);
		} else if (!strcasecmp(key, "fields")) {
			r = metadata_once(p, &seen, SEEN_FIELDS, key, &key_mark);
			if (r >= 0)
				r = metadata_parse_fields(p, ds);
		} else {
			r = metadata_skip(p);
		}
		free(key);
		key = NULL;
		if (r < 0)
			return r;
	}
	return r;
}

static int metadata_parse_datasources(struct metadata_parser *p, struct oci_metadata *m)
{
	struct oci_metadata_ds *ds;
	yaml_mark_t key_mark;
	char *key = NULL;
	int r;

	r = metadata_begin_mapping(p, "'datasources'");
	if (r <= 0)
		return r;
	while ((r = metadata_next_entry(p, &key, &key_mark)) > 0) {
		if (oci_metadata_find_ds(m, key)) {
			r = metadata_fail(p, &key_mark, -EINVAL, "duplicate datasource '%s'", key);
			goto out;
		}
		r = metadata_count_entry(p, &key_mark);
		if (r < 0)
			goto out;
		ds = metadata_grow(m->datasources, m->n_datasources, sizeof(*ds));
		if (!ds) {
			r = -ENOMEM;
			goto out;
		}
		m->datasources = ds;
		ds += m->n_datasources++;
		memset(ds, 0, sizeof(*ds));
		ds->name = key;
		key = NULL;
		r = metadata_parse_ds(p, ds);
		if (r < 0)
			goto out;
	}
out:
	free(key);
	return r;
}

static int metadata_parse_param(struct metadata_parser *p, struct oci_metadata_param *param)
{
	unsigned int seen = 0;
	yaml_mark_t key_mark;
	char *key = NULL;
	int r;

	r = metadata_begin_mapping(p, "param '%s'", param->name);
	if (r <= 0)
		return r;
	while ((r = metadata_next_entry(p, &key, &key_mark)) > 0) {
		char **dst = NULL;
		unsigned int bit = 0;

		if (!strcasecmp(key, "key")) {
			dst = &param->key;
			bit = SEEN_KEY;
		} else if (!strcasecmp(key, "defaultValue")) {
			dst = &param->default_value;
			bit = SEEN_DEFAULT;
		} else if (!strcasecmp(key, "description")) {
			dst = &param->description;
			bit = SEEN_DESCRIPTION;
		} else if (!strcasecmp(key, "alias")) {
			dst = &param->alias;
			bit = SEEN_ALIAS;
		}
		if (dst) {
			r = metadata_once(p, &seen, bit, key, &key_mark);
			if (r >= 0)
				r = metadata_take_scalar(p, false, dst, "'%s' of param '%s'", key,
							 param->name);
		} else {
			r = metadata_skip(p);
		}
		free(key);
		key = NULL;
		if (r < 0)
			return r;
	}
	return r;
}

static int metadata_parse_ebpf_params(struct metadata_parser *p, struct oci_metadata *m)
{
	struct oci_metadata_param *param;
	yaml_mark_t key_mark;
	char *key = NULL;
	int r;

	r = metadata_begin_mapping(p, "'params.ebpf'");
	if (r <= 0)
		return r;
	while ((r = metadata_next_entry(p, &key, &key_mark)) > 0) {
		if (oci_metadata_find_param(m, key)) {
			r = metadata_fail(p, &key_mark, -EINVAL, "duplicate param '%s'", key);
			goto out;
		}
		r = metadata_count_entry(p, &key_mark);
		if (r < 0)
			goto out;
		param = metadata_grow(m->params, m->n_params, sizeof(*param));
		if (!param) {
			r = -ENOMEM;
			goto out;
		}
		m->params = param;
		param += m->n_params++;
		memset(param, 0, sizeof(*param));
		param->name = key;
		key = NULL;
		r = metadata_parse_param(p, param);
		if (r < 0)
			goto out;
	}
out:
	free(key);
	return r;
}

/* Only params.ebpf is ours; other sections (wasm, custom) are ignored. */
static int metadata_parse_params(struct metadata_parser *p, struct oci_metadata *m)
{
	unsigned int seen = 0;
	yaml_mark_t key_mark;
	char *key = NULL;
	int r;

	r = metadata_begin_mapping(p, "'params'");
	if (r <= 0)
		return r;
	while ((r = metadata_next_entry(p, &key, &key_mark)) > 0) {
		if (!strcasecmp(key, "ebpf")) {
			r = metadata_once(p, &seen, SEEN_EBPF, key, &key_mark);
			if (r >= 0)
				r = metadata_parse_ebpf_params(p, m);
		} else {
			r = metadata_skip(p);
		}
		free(key);
		key = NULL;
		if (r < 0)
			return r;
	}
	return r;
}

/*
 * paramDefaults: {operator.oci.ebpf.map-fetch-interval: "0", ...}, the
 * defaults a gadget gives to params that are not its own (the run's).
 */
static int metadata_parse_param_defaults(struct metadata_parser *p, struct oci_metadata *m)
{
	struct oci_metadata_annotation *a;
	yaml_mark_t key_mark;
	char *key = NULL;
	int r;

	r = metadata_begin_mapping(p, "'paramDefaults'");
	if (r <= 0)
		return r;
	while ((r = metadata_next_entry(p, &key, &key_mark)) > 0) {
		if (oci_metadata_param_default(m, key)) {
			r = metadata_fail(p, &key_mark, -EINVAL, "duplicate param default '%s'",
					  key);
			goto out;
		}
		r = metadata_count_entry(p, &key_mark);
		if (r < 0)
			goto out;
		a = metadata_grow(m->param_defaults, m->n_param_defaults, sizeof(*a));
		if (!a) {
			r = -ENOMEM;
			goto out;
		}
		m->param_defaults = a;
		a += m->n_param_defaults++;
		memset(a, 0, sizeof(*a));
		a->key = key;
		key = NULL;
		r = metadata_take_scalar(p, true, &a->value, "param default '%s'", a->key);
		if (r < 0)
			goto out;
	}
out:
	free(key);
	return r;
}

static int metadata_parse_top(struct metadata_parser *p, struct oci_metadata *m)
{
	static const struct {
		const char *key;
		unsigned int bit;
		size_t offset;
	} strings[] = {
		{"name", SEEN_NAME, offsetof(struct oci_metadata, name)},
		{"description", SEEN_DESCRIPTION, offsetof(struct oci_metadata, description)},
		{"homepageURL", SEEN_HOMEPAGE, offsetof(struct oci_metadata, homepage_url)},
		{"documentationURL", SEEN_DOCUMENTATION,
		 offsetof(struct oci_metadata, documentation_url)},
		{"sourceURL", SEEN_SOURCE, offsetof(struct oci_metadata, source_url)},
	};
	unsigned int seen = 0;
	yaml_mark_t key_mark;
	char *key = NULL;
	int r;

	while ((r = metadata_next_entry(p, &key, &key_mark)) > 0) {
		size_t i;

		for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
			if (!strcasecmp(key, strings[i].key))
				break;
		if (i < sizeof(strings) / sizeof(strings[0])) {
			char **dst = (char **)((char *)m + strings[i].offset);

			r = metadata_once(p, &seen, strings[i].bit, key, &key_mark);
			if (r >= 0)
				r = metadata_take_scalar(p, false, dst, "'%s'", key);
		} else if (!strcasecmp(key, "datasources")) {
			r = metadata_once(p, &seen, SEEN_DATASOURCES, key, &key_mark);
			if (r >= 0)
				r = metadata_parse_datasources(p, m);
		} else if (!strcasecmp(key, "params")) {
			r = metadata_once(p, &seen, SEEN_PARAMS, key, &key_mark);
			if (r >= 0)
				r = metadata_parse_params(p, m);
		} else if (!strcasecmp(key, "paramDefaults")) {
			r = metadata_once(p, &seen, SEEN_PARAM_DEFAULTS, key, &key_mark);
			if (r >= 0)
				r = metadata_parse_param_defaults(p, m);
		} else {
			r = metadata_skip(p);
		}
		free(key);
		key = NULL;
		if (r < 0)
			return r;
	}
	return r;
}

/* stream-start [document-start node document-end] stream-end */
static int metadata_parse_stream(struct metadata_parser *p, struct oci_metadata *m)
{
	int r;

	r = metadata_expect(p, YAML_STREAM_START_EVENT);
	if (r < 0)
		return r;
	r = metadata_next(p);
	if (r < 0)
		return r;
	if (p->ev.type == YAML_STREAM_END_EVENT)
		return 0; /* nothing but comments and blank lines */
	if (p->ev.type != YAML_DOCUMENT_START_EVENT)
		return metadata_fail(p, &p->ev.start_mark, -EINVAL, "unexpected YAML event %d",
				     (int)p->ev.type);
	r = metadata_next(p);
	if (r < 0)
		return r;
	if (p->ev.type == YAML_MAPPING_START_EVENT) {
		r = metadata_parse_top(p, m);
		if (r < 0)
			return r;
	} else if (!metadata_is_null(&p->ev)) {
		return metadata_fail(p, &p->ev.start_mark, -EINVAL,
				     "top level must be a mapping, not %s", metadata_kind(&p->ev));
	}
	r = metadata_expect(p, YAML_DOCUMENT_END_EVENT);
	if (r < 0)
		return r;
	r = metadata_next(p);
	if (r < 0)
		return r;
	if (p->ev.type != YAML_STREAM_END_EVENT)
		return metadata_fail(p, &p->ev.start_mark, -EINVAL, "more than one YAML document");
	return 0;
}

static int metadata_parse_named(const char *name, const void *buf, size_t len,
				struct oci_metadata **ret, char *err, size_t errlen)
{
	struct metadata_parser p = {
		.name = name,
		.buf = buf ? buf : (const void *)"",
		.len = buf ? len : 0,
		.err = err,
		.errlen = errlen,
	};
	struct oci_metadata *m;
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (p.len > OCI_METADATA_MAX_BYTES) {
		base_err_set(err, errlen, "%s: larger than %u bytes", name, OCI_METADATA_MAX_BYTES);
		return -E2BIG;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		goto oom;
	if (!yaml_parser_initialize(&p.yaml)) {
		free(m);
		goto oom;
	}
	yaml_parser_set_input_string(&p.yaml, p.buf, p.len);
	r = metadata_parse_stream(&p, m);
	if (p.have_ev)
		yaml_event_delete(&p.ev);
	yaml_parser_delete(&p.yaml);
	if (r == -ENOMEM) {
		oci_metadata_free(m);
		goto oom;
	}
	if (r < 0) {
		oci_metadata_free(m);
		return r;
	}
	*ret = m;
	return 0;
oom:
	base_err_set(err, errlen, "%s: out of memory", name);
	return -ENOMEM;
}

int oci_metadata_parse(const void *buf, size_t len, struct oci_metadata **ret, char *err,
		       size_t errlen)
{
	return metadata_parse_named(METADATA_DEFAULT_NAME, buf, len, ret, err, errlen);
}

int oci_metadata_load(const char *path, struct oci_metadata **ret, char *err, size_t errlen)
{
	char *buf = NULL, msg[128];
	size_t len = 0;
	int r;

	r = base_file_read(path, OCI_METADATA_MAX_BYTES, &buf, &len);
	if (r == -EFBIG) {
		base_err_set(err, errlen, "%s: larger than %u bytes", path, OCI_METADATA_MAX_BYTES);
		return -E2BIG; /* as for a document given in memory */
	}
	if (r < 0) {
		base_err_set(err, errlen, "%s: %s", path, strerror_r(-r, msg, sizeof(msg)));
		return r;
	}
	r = metadata_parse_named(path, buf, len, ret, err, errlen);
	free(buf);
	return r;
}

static void metadata_free_annotations(size_t n, struct oci_metadata_annotation *a)
{
	for (size_t i = 0; i < n; i++) {
		free(a[i].key);
		free(a[i].value);
	}
	free(a);
}

struct oci_metadata *oci_metadata_free(struct oci_metadata *m)
{
	if (!m)
		return NULL;
	for (size_t i = 0; i < m->n_datasources; i++) {
		struct oci_metadata_ds *ds = &m->datasources[i];

		for (size_t j = 0; j < ds->n_fields; j++) {
			free(ds->fields[j].name);
			metadata_free_annotations(ds->fields[j].n_annotations,
						  ds->fields[j].annotations);
		}
		free(ds->fields);
		free(ds->name);
		metadata_free_annotations(ds->n_annotations, ds->annotations);
	}
	free(m->datasources);
	for (size_t i = 0; i < m->n_params; i++) {
		free(m->params[i].name);
		free(m->params[i].key);
		free(m->params[i].default_value);
		free(m->params[i].description);
		free(m->params[i].alias);
	}
	free(m->params);
	metadata_free_annotations(m->n_param_defaults, m->param_defaults);
	free(m->name);
	free(m->description);
	free(m->homepage_url);
	free(m->documentation_url);
	free(m->source_url);
	free(m);
	return NULL;
}

const struct oci_metadata_ds *oci_metadata_find_ds(const struct oci_metadata *m, const char *name)
{
	if (!m || !name)
		return NULL;
	for (size_t i = 0; i < m->n_datasources; i++)
		if (!strcmp(m->datasources[i].name, name))
			return &m->datasources[i];
	return NULL;
}

const struct oci_metadata_param *oci_metadata_find_param(const struct oci_metadata *m,
							 const char *name)
{
	if (!m || !name)
		return NULL;
	for (size_t i = 0; i < m->n_params; i++)
		if (!strcmp(m->params[i].name, name))
			return &m->params[i];
	return NULL;
}

static const char *metadata_annotation(size_t n, const struct oci_metadata_annotation *a,
				       const char *key)
{
	if (!key)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(a[i].key, key))
			return a[i].value;
	return NULL;
}

const char *oci_metadata_param_default(const struct oci_metadata *m, const char *key)
{
	if (!m)
		return NULL;
	return metadata_annotation(m->n_param_defaults, m->param_defaults, key);
}

const char *oci_metadata_ds_annotation(const struct oci_metadata_ds *ds, const char *key)
{
	if (!ds)
		return NULL;
	return metadata_annotation(ds->n_annotations, ds->annotations, key);
}

const struct oci_metadata_field *oci_metadata_find_field(const struct oci_metadata_ds *ds,
							 const char *name)
{
	if (!ds || !name)
		return NULL;
	for (size_t i = 0; i < ds->n_fields; i++)
		if (!strcmp(ds->fields[i].name, name))
			return &ds->fields[i];
	return NULL;
}

const char *oci_metadata_field_annotation(const struct oci_metadata_ds *ds, const char *field,
					  const char *key)
{
	const struct oci_metadata_field *f = oci_metadata_find_field(ds, field);

	if (!f)
		return NULL;
	return metadata_annotation(f->n_annotations, f->annotations, key);
}

/* ---- annotations given at run time (--annotate) ---- */

struct oci_metadata *oci_metadata_new(void)
{
	return calloc(1, sizeof(struct oci_metadata));
}

/* Sets key in the array (replacing an existing value). */
static int metadata_set_annotation(size_t *n, struct oci_metadata_annotation **a, const char *key,
				   const char *value)
{
	struct oci_metadata_annotation *grown;
	char *v;

	for (size_t i = 0; i < *n; i++) {
		if (strcmp((*a)[i].key, key))
			continue;
		v = strdup(value);
		if (!v)
			return -ENOMEM;
		free((*a)[i].value);
		(*a)[i].value = v;
		return 0;
	}
	if (*n >= OCI_METADATA_MAX_ENTRIES)
		return -E2BIG;
	grown = metadata_grow(*a, *n, sizeof(**a));
	if (!grown)
		return -ENOMEM;
	*a = grown;
	grown[*n].key = strdup(key);
	grown[*n].value = strdup(value);
	if (!grown[*n].key || !grown[*n].value) {
		free(grown[*n].key);
		free(grown[*n].value);
		return -ENOMEM;
	}
	(*n)++;
	return 0;
}

int oci_metadata_annotate(struct oci_metadata *m, const char *ds, const char *field,
			  const char *key, const char *value)
{
	struct oci_metadata_ds *d = (struct oci_metadata_ds *)oci_metadata_find_ds(m, ds);
	struct oci_metadata_field *f;

	if (!m || !ds || !*ds || !key || !*key || !value)
		return -EINVAL;
	if (strlen(key) > OCI_METADATA_MAX_SCALAR || strlen(value) > OCI_METADATA_MAX_SCALAR)
		return -E2BIG;
	if (!d) {
		struct oci_metadata_ds *grown;

		if (m->n_datasources >= OCI_METADATA_MAX_ENTRIES)
			return -E2BIG;
		grown = metadata_grow(m->datasources, m->n_datasources, sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		m->datasources = grown;
		d = &grown[m->n_datasources];
		memset(d, 0, sizeof(*d));
		d->name = strdup(ds);
		if (!d->name)
			return -ENOMEM;
		m->n_datasources++;
	}
	if (!field)
		return metadata_set_annotation(&d->n_annotations, &d->annotations, key, value);
	f = (struct oci_metadata_field *)oci_metadata_find_field(d, field);
	if (!f) {
		struct oci_metadata_field *grown;

		if (d->n_fields >= OCI_METADATA_MAX_ENTRIES)
			return -E2BIG;
		grown = metadata_grow(d->fields, d->n_fields, sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		d->fields = grown;
		f = &grown[d->n_fields];
		memset(f, 0, sizeof(*f));
		f->name = strdup(field);
		if (!f->name)
			return -ENOMEM;
		d->n_fields++;
	}
	return metadata_set_annotation(&f->n_annotations, &f->annotations, key, value);
}
