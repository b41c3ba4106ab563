// SPDX-License-Identifier: Apache-2.0
/*
 * Bounded YAML documents and the walking helpers their readers share; see
 * yaml.h.
 */
#include "base/yaml.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/parse.h"

/* Longest reason before the "<name>:<line>: " prefix. */
#define YAML_MSG_MAX 512

int base_yaml_fail(struct base_yaml *y, const yaml_node_t *n, int r, const char *fmt, ...)
{
	char msg[YAML_MSG_MAX];
	va_list ap;

	if (!y->err || !y->errlen)
		return r;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n)
		snprintf(y->err, y->errlen, "%s:%zu: %s", y->name, n->start_mark.line + 1, msg);
	else
		snprintf(y->err, y->errlen, "%s: %s", y->name, msg);
	base_err_oneline(y->err);
	return r;
}

/* The one place where libyaml's error state becomes an errno and a message. */
static int yaml_parser_fail(struct base_yaml *y, const yaml_parser_t *p)
{
	yaml_node_t at = {.start_mark = p->problem_mark};

	if (p->error == YAML_MEMORY_ERROR)
		return base_yaml_fail(y, NULL, -ENOMEM, "out of memory");
	if (p->error == YAML_READER_ERROR) {
		/* the reader reports a byte offset, not a mark: count the lines */
		size_t end = p->problem_offset < y->len ? p->problem_offset : y->len;

		at.start_mark.line = 0;
		for (size_t i = 0; i < end; i++)
			at.start_mark.line += y->text[i] == '\n';
	}
	return base_yaml_fail(y, &at, -EINVAL, "invalid YAML: %s",
			      p->problem ? p->problem : "syntax error");
}

/* libyaml has no switch for aliases: find any in the event stream first. */
static int yaml_refuse_aliases(struct base_yaml *y)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int r = 0;

	/* an alias is "*name": no '*', no alias */
	if (!memchr(y->text, '*', y->len))
		return 0;
	if (!yaml_parser_initialize(&p))
		return base_yaml_fail(y, NULL, -ENOMEM, "out of memory");
	yaml_parser_set_input_string(&p, (const unsigned char *)y->text, y->len);
	for (;;) {
		yaml_node_t at;

		if (!yaml_parser_parse(&p, &ev)) {
			r = yaml_parser_fail(y, &p);
			break;
		}
		at.start_mark = ev.start_mark;
		if (ev.type == YAML_ALIAS_EVENT)
			r = base_yaml_fail(y, &at, -EINVAL, "aliases are not allowed");
		if (ev.type == YAML_STREAM_END_EVENT || r) {
			yaml_event_delete(&ev);
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return r;
}

int base_yaml_open(struct base_yaml *y, const void *text, size_t len,
		   const struct base_yaml_opts *opts, char *err, size_t errlen)
{
	int r;

	y->text = text ? text : "";
	y->len = text ? len : 0;
	y->name = opts->name;
	y->err = err;
	y->errlen = errlen;
	if (y->len > opts->max_bytes)
		return base_yaml_fail(y, NULL, -E2BIG, "larger than %zu bytes", opts->max_bytes);
	if (opts->no_aliases) {
		r = yaml_refuse_aliases(y);
		if (r < 0)
			return r;
	}
	if (!yaml_parser_initialize(&y->parser))
		return base_yaml_fail(y, NULL, -ENOMEM, "out of memory");
	y->have_parser = true;
	yaml_parser_set_input_string(&y->parser, (const unsigned char *)y->text, y->len);
	return 0;
}

int base_yaml_next(struct base_yaml *y)
{
	if (y->have_doc) {
		yaml_document_delete(&y->doc);
		y->have_doc = false;
	}
	if (!y->have_parser)
		return 0;
	if (!yaml_parser_load(&y->parser, &y->doc))
		return yaml_parser_fail(y, &y->parser);
	if (!yaml_document_get_root_node(&y->doc)) {
		/* the end of the text */
		yaml_document_delete(&y->doc);
		return 0;
	}
	y->have_doc = true;
	return 1;
}

int base_yaml_load(struct base_yaml *y, const void *text, size_t len,
		   const struct base_yaml_opts *opts, char *err, size_t errlen)
{
	yaml_document_t extra;
	yaml_node_t *root;
	int r;

	r = base_yaml_open(y, text, len, opts, err, errlen);
	if (r == 0)
		r = base_yaml_next(y);
	if (r <= 0 || !opts->one_document)
		return r < 0 ? r : 0;
	if (!yaml_parser_load(&y->parser, &extra)) {
		r = yaml_parser_fail(y, &y->parser);
	} else {
		root = yaml_document_get_root_node(&extra);
		r = root ? base_yaml_fail(y, root, -EINVAL, "more than one YAML document") : 0;
		yaml_document_delete(&extra);
	}
	if (r < 0) {
		/* no document after a failure */
		yaml_document_delete(&y->doc);
		y->have_doc = false;
	}
	return r;
}

void base_yaml_done(struct base_yaml *y)
{
	if (y->have_doc)
		yaml_document_delete(&y->doc);
	if (y->have_parser)
		yaml_parser_delete(&y->parser);
	y->have_doc = y->have_parser = false;
}

yaml_node_t *base_yaml_root(struct base_yaml *y)
{
	return y->have_doc ? yaml_document_get_root_node(&y->doc) : NULL;
}

yaml_node_t *base_yaml_node(struct base_yaml *y, int id)
{
	return y->have_doc ? yaml_document_get_node(&y->doc, id) : NULL;
}

/* ---- walking ---- */

const char *base_yaml_kind(const yaml_node_t *n)
{
	switch (n ? n->type : YAML_NO_NODE) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return "a scalar";
	}
}

size_t base_yaml_len(const yaml_node_t *n)
{
	if (n && n->type == YAML_MAPPING_NODE)
		return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (n && n->type == YAML_SEQUENCE_NODE)
		return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	return 0;
}

bool base_yaml_pair(struct base_yaml *y, const yaml_node_t *map, size_t i, yaml_node_t **ret_key,
		    yaml_node_t **ret_value)
{
	const yaml_node_pair_t *p;

	if (!map || map->type != YAML_MAPPING_NODE || i >= base_yaml_len(map))
		return false;
	p = &map->data.mapping.pairs.start[i];
	*ret_key = base_yaml_node(y, p->key);
	*ret_value = base_yaml_node(y, p->value);
	/* the loader builds every node it names: both are there */
	return *ret_key && *ret_value;
}

yaml_node_t *base_yaml_item(struct base_yaml *y, const yaml_node_t *seq, size_t i)
{
	if (!seq || seq->type != YAML_SEQUENCE_NODE || i >= base_yaml_len(seq))
		return NULL;
	return base_yaml_node(y, seq->data.sequence.items.start[i]);
}

yaml_node_t *base_yaml_get(struct base_yaml *y, const yaml_node_t *map, const char *key)
{
	yaml_node_t *k, *v;

	for (size_t i = 0; base_yaml_pair(y, map, i, &k, &v); i++)
		if (k->type == YAML_SCALAR_NODE && !strcmp(base_yaml_text(k), key))
			return v;
	return NULL;
}

bool base_yaml_key_repeats(struct base_yaml *y, const yaml_node_t *map, size_t i)
{
	yaml_node_t *k, *v, *other;

	if (!base_yaml_pair(y, map, i, &k, &v) || k->type != YAML_SCALAR_NODE)
		return false;
	/* small mappings only: the readers bound their size first */
	for (size_t j = 0; j < i; j++)
		if (base_yaml_pair(y, map, j, &other, &v) && other->type == YAML_SCALAR_NODE &&
		    !strcmp(base_yaml_text(other), base_yaml_text(k)))
			return true;
	return false;
}

/* ---- scalars ---- */

const char *base_yaml_text(const yaml_node_t *n)
{
	if (!n || n->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

static bool yaml_is_word(const char *s, size_t n, const char *const *words)
{
	for (; *words; words++)
		if (strlen(*words) == n && !memcmp(s, *words, n))
			return true;
	return false;
}

static const char *const yaml_nulls[] = {"", "~", "null", "Null", "NULL", NULL};
static const char *const yaml_trues[] = {"true", "True", "TRUE", NULL};
static const char *const yaml_falses[] = {"false", "False", "FALSE", NULL};

bool base_yaml_plain_is_null(const char *s, size_t len)
{
	return yaml_is_word(s, len, yaml_nulls);
}

bool base_yaml_is_null(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE &&
	       n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       base_yaml_plain_is_null((const char *)n->data.scalar.value, n->data.scalar.length);
}

int base_yaml_string(const yaml_node_t *n, size_t max, const char **ret)
{
	const char *s = base_yaml_text(n);

	if (!s)
		return -EINVAL;
	if (n->data.scalar.length > max)
		return -E2BIG;
	if (strlen(s) != n->data.scalar.length)
		return -EILSEQ;
	*ret = s;
	return 0;
}

int base_yaml_bool(const yaml_node_t *n, bool *ret)
{
	const char *s = base_yaml_text(n);
	size_t len = s ? n->data.scalar.length : 0;

	if (s && yaml_is_word(s, len, yaml_trues))
		*ret = true;
	else if (s && yaml_is_word(s, len, yaml_falses))
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

int base_yaml_uint(const yaml_node_t *n, uint64_t max, uint64_t *ret)
{
	const char *s = base_yaml_text(n);

	if (!s)
		return -EINVAL;
	return base_parse_uint(s, max, ret);
}

/* ---- the core schema ---- */

static bool yaml_all_of(const char *s, size_t n, const char *set)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr(set, s[i]))
			return false;
	return true;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool yaml_is_float(const char *s, size_t n)
{
	size_t i = 0, d = 0;

	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++, d++;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, d++;
	}
	if (!d)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t e = 0;

		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, e++;
		if (!e)
			return false;
	}
	return i == n;
}

/* Longest text read as a number; longer ones are strings. */
#define YAML_NUM_MAX 63

/* The core schema's reading of a plain scalar, with the value of a number. */
static json_type yaml_plain_scan(const char *s, size_t n, json_int_t *ret_int, double *ret_real)
{
	char tmp[YAML_NUM_MAX + 1];
	const char *digits = s;
	size_t dn = n;
	char *end;

	if (yaml_is_word(s, n, yaml_nulls))
		return JSON_NULL;
	if (yaml_is_word(s, n, yaml_trues))
		return JSON_TRUE;
	if (yaml_is_word(s, n, yaml_falses))
		return JSON_FALSE;
	if (n > YAML_NUM_MAX)
		return JSON_STRING;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (dn && (*digits == '-' || *digits == '+'))
		digits++, dn--;
	if (yaml_all_of(digits, dn, "0123456789")) {
		long long v;

		errno = 0;
		v = strtoll(tmp, &end, 10);
		if (!errno && !*end) {
			*ret_int = v;
			return JSON_INTEGER;
		}
		/* too large for an integer: a number all the same */
		*ret_real = strtod(tmp, NULL);
		return JSON_REAL;
	}
	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o') &&
	    yaml_all_of(s + 2, n - 2, s[1] == 'x' ? "0123456789abcdefABCDEF" : "01234567")) {
		unsigned long long v;

		errno = 0;
		v = strtoull(tmp + 2, NULL, s[1] == 'x' ? 16 : 8);
		if (!errno && v <= (unsigned long long)INT64_MAX) {
			*ret_int = (json_int_t)v;
			return JSON_INTEGER;
		}
	}
	if (yaml_is_float(s, n)) {
		*ret_real = strtod(tmp, NULL);
		/* JSON has no infinity: "1e999" stays the text it is */
		return isfinite(*ret_real) ? JSON_REAL : JSON_STRING;
	}
	return JSON_STRING;
}

json_type base_yaml_plain_type(const char *s, size_t len)
{
	json_int_t i;
	double d;

	return yaml_plain_scan(s, len, &i, &d);
}

static json_t *yaml_scalar_json(const yaml_node_t *n)
{
	const char *s = (const char *)n->data.scalar.value;
	size_t len = n->data.scalar.length;
	json_int_t i = 0;
	double d = 0;

	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_stringn(s, len);
	switch (yaml_plain_scan(s, len, &i, &d)) {
	case JSON_NULL:
		return json_null();
	case JSON_TRUE:
		return json_true();
	case JSON_FALSE:
		return json_false();
	case JSON_INTEGER:
		return json_integer(i);
	case JSON_REAL:
		return json_real(d);
	default:
		return json_stringn(s, len);
	}
}

struct yaml_conv {
	struct base_yaml *y;
	size_t nodes;
	size_t max_nodes;
};

static int yaml_convert(struct yaml_conv *c, yaml_node_t *n, int depth, json_t **ret)
{
	struct base_yaml *y = c->y;
	json_t *out = NULL, *v;
	yaml_node_t *k, *val;
	int r;

	if (!n)
		return base_yaml_fail(y, NULL, -EINVAL, "dangling node");
	if (depth > BASE_YAML_MAX_DEPTH)
		return base_yaml_fail(y, n, -E2BIG, "nested too deeply");
	if (++c->nodes > c->max_nodes)
		return base_yaml_fail(y, n, -E2BIG, "too many nodes (aliases?)");
	switch (n->type) {
	case YAML_SCALAR_NODE:
		out = yaml_scalar_json(n);
		break;
	case YAML_SEQUENCE_NODE:
		out = json_array();
		for (size_t i = 0; out && i < base_yaml_len(n); i++) {
			r = yaml_convert(c, base_yaml_item(y, n, i), depth + 1, &v);
			if (r == 0 && json_array_append_new(out, v) < 0)
				r = -ENOMEM;
			if (r < 0) {
				json_decref(out);
				return r;
			}
		}
		break;
	case YAML_MAPPING_NODE:
		out = json_object();
		for (size_t i = 0; out && base_yaml_pair(y, n, i, &k, &val); i++) {
			const char *key = base_yaml_text(k);
			size_t klen = key ? k->data.scalar.length : 0;

			if (!key)
				r = base_yaml_fail(y, n, -EINVAL, "a mapping key is not a scalar");
			else if (json_object_getn(out, key, klen))
				r = base_yaml_fail(y, k, -EINVAL, "duplicate key");
			else
				r = yaml_convert(c, val, depth + 1, &v);
			if (r == 0 && json_object_setn_new(out, key, klen, v) < 0)
				r = -ENOMEM;
			if (r < 0) {
				json_decref(out);
				return r;
			}
		}
		break;
	default:
		return base_yaml_fail(y, n, -EINVAL, "empty node");
	}
	if (!out)
		return -ENOMEM;
	*ret = out;
	return 0;
}

int base_yaml_to_json(struct base_yaml *y, const yaml_node_t *n, size_t max_nodes, json_t **ret)
{
	struct yaml_conv c = {.y = y, .max_nodes = max_nodes};

	return yaml_convert(&c, (yaml_node_t *)n, 0, ret);
}
