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

#include "base/yaml.h"
#include "run/escape.h"

/* Aliases may make a small document expand a lot: bound the nodes converted. */
#define KG_YAML_MAX_NODES (1u << 20)

int kg_yaml_load_all(const char *buf, size_t len, const char *name, json_t **ret, char *err,
		     size_t errlen)
{
	const struct base_yaml_opts opts = {.name = name, .max_bytes = KG_YAML_MAX_BYTES};
	struct base_yaml y = {0};
	json_t *docs, *v;
	int r;

	docs = json_array();
	if (!docs)
		return -ENOMEM;
	r = base_yaml_open(&y, buf, len, &opts, err, errlen);
	while (r == 0 && (r = base_yaml_next(&y)) > 0) {
		r = base_yaml_to_json(&y, base_yaml_root(&y), KG_YAML_MAX_NODES, &v);
		if (r == 0 && json_is_null(v))
			json_decref(v); /* an empty document */
		else if (r == 0 && json_array_append_new(docs, v) < 0)
			r = -ENOMEM;
	}
	base_yaml_done(&y);
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
