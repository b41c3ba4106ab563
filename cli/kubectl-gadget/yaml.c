// SPDX-License-Identifier: Apache-2.0
/*
 * YAML documents to JSON values (libyaml's document API) and JSON values
 * to YAML text; see yaml.h.
 */
#include "cli/kubectl-gadget/yaml.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "run/escape.h"

/* Aliases may make a small document expand a lot: bound the nodes converted. */
#define KG_YAML_MAX_NODES (1u << 20)

struct conv {
	yaml_document_t *doc;
	const char *name;
	size_t nodes;
	char *err;
	size_t errlen;
};

static int conv_err(struct conv *c, const yaml_node_t *n, int r, const char *what)
{
	if (c->err && c->errlen)
		snprintf(c->err, c->errlen, "%s:%zu: %s", c->name,
			 n ? (size_t)n->start_mark.line + 1 : (size_t)0, what);
	return r;
}

static bool all_digits(const char *s, size_t n, const char *set)
{
	size_t i;

	if (!n)
		return false;
	for (i = 0; i < n; i++)
		if (!strchr(set, s[i]))
			return false;
	return true;
}

static bool is_word(const char *s, size_t n, const char *const *words)
{
	for (; *words; words++)
		if (strlen(*words) == n && !memcmp(s, *words, n))
			return true;
	return false;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool is_float(const char *s, size_t n)
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

/* The YAML 1.2 core schema's reading of a plain scalar. */
static json_t *plain_scalar(const char *s, size_t n)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
	static const char *const trues[] = {"true", "True", "TRUE", NULL};
	static const char *const falses[] = {"false", "False", "FALSE", NULL};
	char tmp[64];
	const char *digits = s;
	size_t dn = n;

	if (is_word(s, n, nulls))
		return json_null();
	if (is_word(s, n, trues))
		return json_true();
	if (is_word(s, n, falses))
		return json_false();
	if (n >= sizeof(tmp))
		return json_stringn(s, n);
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (dn && (*digits == '-' || *digits == '+'))
		digits++, dn--;
	if (all_digits(digits, dn, "0123456789")) {
		long long v;
		char *end;

		errno = 0;
		v = strtoll(tmp, &end, 10);
		if (!errno && !*end)
			return json_integer(v);
		return json_real(strtod(tmp, NULL));
	}
	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o') &&
	    all_digits(s + 2, n - 2, s[1] == 'x' ? "0123456789abcdefABCDEF" : "01234567")) {
		unsigned long long v;

		errno = 0;
		v = strtoull(tmp + 2, NULL, s[1] == 'x' ? 16 : 8);
		if (!errno && v <= (unsigned long long)INT64_MAX)
			return json_integer((json_int_t)v);
	}
	if (is_float(s, n))
		return json_real(strtod(tmp, NULL));
	return json_stringn(s, n);
}

static int convert(struct conv *c, yaml_node_t *n, int depth, json_t **ret)
{
	json_t *out = NULL;
	int r;

	if (!n)
		return conv_err(c, NULL, -EINVAL, "dangling node");
	if (depth > KG_YAML_MAX_DEPTH)
		return conv_err(c, n, -E2BIG, "nested too deeply");
	if (++c->nodes > KG_YAML_MAX_NODES)
		return conv_err(c, n, -E2BIG, "too many nodes (aliases?)");

	switch (n->type) {
	case YAML_SCALAR_NODE: {
		const char *s = (const char *)n->data.scalar.value;
		size_t len = n->data.scalar.length;

		out = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? plain_scalar(s, len)
								      : json_stringn(s, len);
		break;
	}
	case YAML_SEQUENCE_NODE: {
		yaml_node_item_t *it;

		out = json_array();
		for (it = n->data.sequence.items.start; out && it < n->data.sequence.items.top;
		     it++) {
			json_t *v;

			r = convert(c, yaml_document_get_node(c->doc, *it), depth + 1, &v);
			if (r < 0) {
				json_decref(out);
				return r;
			}
			if (json_array_append_new(out, v) < 0) {
				json_decref(out);
				return -ENOMEM;
			}
		}
		break;
	}
	case YAML_MAPPING_NODE: {
		yaml_node_pair_t *p;

		out = json_object();
		for (p = n->data.mapping.pairs.start; out && p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
			char *key;
			json_t *v;

			if (!k || k->type != YAML_SCALAR_NODE) {
				json_decref(out);
				return conv_err(c, n, -EINVAL, "a mapping key is not a scalar");
			}
			key = strndup((const char *)k->data.scalar.value, k->data.scalar.length);
			if (!key) {
				json_decref(out);
				return -ENOMEM;
			}
			if (json_object_get(out, key)) {
				free(key);
				json_decref(out);
				return conv_err(c, k, -EINVAL, "duplicate key");
			}
			r = convert(c, yaml_document_get_node(c->doc, p->value), depth + 1, &v);
			if (r < 0) {
				free(key);
				json_decref(out);
				return r;
			}
			r = json_object_set_new(out, key, v);
			free(key);
			if (r < 0) {
				json_decref(out);
				return -ENOMEM;
			}
		}
		break;
	}
	default:
		return conv_err(c, n, -EINVAL, "empty node");
	}
	if (!out)
		return -ENOMEM;
	*ret = out;
	return 0;
}

int kg_yaml_load_all(const char *buf, size_t len, const char *name, json_t **ret, char *err,
		     size_t errlen)
{
	yaml_parser_t parser;
	json_t *docs;
	int r = 0;

	if (len > KG_YAML_MAX_BYTES) {
		if (err && errlen)
			snprintf(err, errlen, "%s: larger than %u bytes", name, KG_YAML_MAX_BYTES);
		return -E2BIG;
	}
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	docs = json_array();
	if (!docs) {
		yaml_parser_delete(&parser);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	for (;;) {
		struct conv c = {.name = name, .err = err, .errlen = errlen};
		yaml_document_t doc;
		yaml_node_t *root;
		json_t *v;

		if (!yaml_parser_load(&parser, &doc)) {
			if (err && errlen)
				snprintf(err, errlen, "%s:%zu: %s", name,
					 (size_t)parser.problem_mark.line + 1,
					 parser.problem ? parser.problem : "invalid YAML");
			r = -EINVAL;
			break;
		}
		root = yaml_document_get_root_node(&doc);
		if (!root) {
			/* the end of the stream */
			yaml_document_delete(&doc);
			break;
		}
		c.doc = &doc;
		r = convert(&c, root, 0, &v);
		yaml_document_delete(&doc);
		if (r < 0)
			break;
		if (json_is_null(v)) {
			json_decref(v);
			continue;
		}
		if (json_array_append_new(docs, v) < 0) {
			r = -ENOMEM;
			break;
		}
	}
	yaml_parser_delete(&parser);
	if (r < 0) {
		json_decref(docs);
		return r;
	}
	*ret = docs;
	return 0;
}

/* ---- emitting ---- */

static int pad(struct base_buf *b, int indent)
{
	int r = 0;

	while (indent-- > 0 && r >= 0)
		r = base_buf_putc(b, ' ');
	return r;
}

static int emit_scalar(struct base_buf *b, const json_t *v)
{
	char tmp[64];

	switch (json_typeof(v)) {
	case JSON_STRING:
		return run_escape_yaml(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return base_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_REAL:
		snprintf(tmp, sizeof(tmp), "%.17g", json_real_value(v));
		return base_buf_puts(b, tmp);
	case JSON_TRUE:
		return base_buf_puts(b, "true");
	case JSON_FALSE:
		return base_buf_puts(b, "false");
	case JSON_NULL:
		return base_buf_puts(b, "null");
	case JSON_OBJECT:
		return base_buf_puts(b, "{}");
	case JSON_ARRAY:
		return base_buf_puts(b, "[]");
	}
	return -EINVAL;
}

static bool is_block(const json_t *v)
{
	return (json_is_object(v) && json_object_size(v)) ||
	       (json_is_array(v) && json_array_size(v));
}

static int emit_block(struct base_buf *b, const json_t *v, int indent, bool inline_first,
		      int depth);

/* After "key:" or "-": the value, on this line or as a block below. */
static int emit_after(struct base_buf *b, const json_t *v, int indent, bool in_seq, int depth)
{
	int r;

	if (!is_block(v)) {
		r = base_buf_putc(b, ' ');
		if (r >= 0)
			r = emit_scalar(b, v);
		return r < 0 ? r : base_buf_putc(b, '\n');
	}
	/* a mapping inside a sequence item starts on the item's line */
	if (in_seq && json_is_object(v)) {
		r = base_buf_putc(b, ' ');
		return r < 0 ? r : emit_block(b, v, indent, true, depth + 1);
	}
	r = base_buf_putc(b, '\n');
	return r < 0 ? r : emit_block(b, v, indent, false, depth + 1);
}

static int emit_block(struct base_buf *b, const json_t *v, int indent, bool inline_first, int depth)
{
	bool first = true;
	int r = 0;

	if (depth > KG_YAML_MAX_DEPTH)
		return -E2BIG;
	if (json_is_object(v)) {
		const char *key;
		json_t *val;

		json_object_foreach((json_t *)v, key, val)
		{
			if (!(first && inline_first))
				r = pad(b, indent);
			first = false;
			if (r >= 0)
				r = run_escape_yaml(b, key, strlen(key));
			if (r >= 0)
				r = base_buf_putc(b, ':');
			if (r >= 0)
				/* sequences under a key stay at the key's indent, as kubectl writes
				 */
				r = emit_after(b, val, json_is_array(val) ? indent : indent + 2,
					       false, depth);
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (json_is_array(v)) {
		size_t i;
		json_t *val;

		json_array_foreach(v, i, val)
		{
			if (!(first && inline_first))
				r = pad(b, indent);
			first = false;
			if (r >= 0)
				r = base_buf_putc(b, '-');
			if (r >= 0)
				r = emit_after(b, val, indent + 2, true, depth);
			if (r < 0)
				return r;
		}
		return 0;
	}
	r = emit_scalar(b, v);
	return r < 0 ? r : base_buf_putc(b, '\n');
}

int kg_yaml_emit(struct base_buf *b, const json_t *v)
{
	return emit_block(b, v, 0, false, 0);
}
