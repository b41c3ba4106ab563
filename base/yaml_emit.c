// SPDX-License-Identifier: Apache-2.0
/*
 * YAML text through libyaml's emitter; see yaml_emit.h.
 */
#include "base/yaml_emit.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/yaml.h"

/* libyaml's output handler: 1 to go on, 0 to fail the emitter. */
static int emit_write(void *data, unsigned char *buffer, size_t size)
{
	struct base_yaml_emit *e = data;
	int r = base_buf_append(e->out, buffer, size);

	if (r < 0) {
		e->err = r;
		return 0;
	}
	return 1;
}

/* Emits ev, which the emitter owns from here on. */
static int emit_event(struct base_yaml_emit *e, yaml_event_t *ev)
{
	if (!yaml_emitter_emit(&e->em, ev))
		return e->err ? e->err : -ENOMEM;
	return 0;
}

int base_yaml_emit_begin(struct base_yaml_emit *e, struct base_buf *out)
{
	yaml_event_t ev;
	int r;

	*e = (struct base_yaml_emit){.out = out};
	if (!yaml_emitter_initialize(&e->em))
		return -ENOMEM;
	e->started = true;
	yaml_emitter_set_output(&e->em, emit_write, e);
	yaml_emitter_set_unicode(&e->em, 1);
	yaml_emitter_set_width(&e->em, -1); /* no folding of long lines */
	if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING))
		return -ENOMEM;
	r = emit_event(e, &ev);
	if (r == 0 && !yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1))
		r = -ENOMEM;
	return r ? r : emit_event(e, &ev);
}

int base_yaml_emit_end(struct base_yaml_emit *e)
{
	yaml_event_t ev;
	int r = 0;

	if (!yaml_document_end_event_initialize(&ev, 1))
		r = -ENOMEM;
	if (r == 0)
		r = emit_event(e, &ev);
	if (r == 0 && !yaml_stream_end_event_initialize(&ev))
		r = -ENOMEM;
	if (r == 0)
		r = emit_event(e, &ev);
	if (r == 0 && !yaml_emitter_flush(&e->em))
		r = e->err ? e->err : -ENOMEM;
	base_yaml_emit_done(e);
	return r;
}

void base_yaml_emit_done(struct base_yaml_emit *e)
{
	if (e->started)
		yaml_emitter_delete(&e->em);
	e->started = false;
}

/* Whether a plain scalar of this text could be read back as anything but the string. */
static bool emit_needs_quotes(const char *s, size_t len)
{
	/* what YAML 1.1 readers also take for booleans or null */
	static const char *const words[] = {"yes", "no", "on", "off", "y", "n"};

	if (!len || base_yaml_plain_type(s, len) != JSON_STRING)
		return true;
	/* numbers of any YAML version and their look-alikes, "~" */
	if (strchr("0123456789+-.~", s[0]))
		return true;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i]) == len && !strncasecmp(s, words[i], len))
			return true;
	/* escaped on one line rather than folded over several */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

int base_yaml_emit_scalar(struct base_yaml_emit *e, const char *s, size_t len,
			  enum base_yaml_emit_style style)
{
	yaml_scalar_style_t ys = YAML_ANY_SCALAR_STYLE;
	yaml_event_t ev;

	if (len > INT_MAX)
		return -E2BIG;
	if (style == BASE_YAML_EMIT_QUOTED ||
	    (style == BASE_YAML_EMIT_STRING && emit_needs_quotes(s, len)))
		ys = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)len, 1, 1, ys))
		return -ENOMEM;
	return emit_event(e, &ev);
}

int base_yaml_emit_map_begin(struct base_yaml_emit *e)
{
	yaml_event_t ev;

	if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE))
		return -ENOMEM;
	return emit_event(e, &ev);
}

int base_yaml_emit_map_end(struct base_yaml_emit *e)
{
	yaml_event_t ev;

	if (!yaml_mapping_end_event_initialize(&ev))
		return -ENOMEM;
	return emit_event(e, &ev);
}

int base_yaml_emit_seq_begin(struct base_yaml_emit *e, bool flow)
{
	yaml_event_t ev;

	if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
						  flow ? YAML_FLOW_SEQUENCE_STYLE
						       : YAML_BLOCK_SEQUENCE_STYLE))
		return -ENOMEM;
	return emit_event(e, &ev);
}

int base_yaml_emit_seq_end(struct base_yaml_emit *e)
{
	yaml_event_t ev;

	if (!yaml_sequence_end_event_initialize(&ev))
		return -ENOMEM;
	return emit_event(e, &ev);
}

static int emit_json(struct base_yaml_emit *e, const json_t *v, int depth)
{
	const char *key;
	char num[64];
	json_t *val;
	size_t i;
	int r = 0, n;

	if (depth > BASE_YAML_EMIT_MAX_DEPTH)
		return -E2BIG;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		r = base_yaml_emit_map_begin(e);
		json_object_foreach((json_t *)v, key, val)
		{
			if (r == 0)
				r = base_yaml_emit_scalar(e, key, strlen(key),
							  BASE_YAML_EMIT_STRING);
			if (r == 0)
				r = emit_json(e, val, depth + 1);
		}
		return r ? r : base_yaml_emit_map_end(e);
	case JSON_ARRAY:
		r = base_yaml_emit_seq_begin(e, false);
		json_array_foreach(v, i, val)
		{
			if (r == 0)
				r = emit_json(e, val, depth + 1);
		}
		return r ? r : base_yaml_emit_seq_end(e);
	case JSON_STRING:
		return base_yaml_emit_scalar(e, json_string_value(v), json_string_length(v),
					     BASE_YAML_EMIT_STRING);
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		n = snprintf(num, sizeof(num), "%.17g", json_real_value(v));
		/* 1.0 is written "1.0", as JSON writes it, so that it reads back as a real */
		if (base_yaml_plain_type(num, (size_t)n) == JSON_INTEGER)
			snprintf(num + n, sizeof(num) - (size_t)n, ".0");
		break;
	case JSON_TRUE:
		return base_yaml_emit_scalar(e, "true", 4, BASE_YAML_EMIT_PLAIN);
	case JSON_FALSE:
		return base_yaml_emit_scalar(e, "false", 5, BASE_YAML_EMIT_PLAIN);
	case JSON_NULL:
		return base_yaml_emit_scalar(e, "null", 4, BASE_YAML_EMIT_PLAIN);
	default:
		return -EINVAL;
	}
	return base_yaml_emit_scalar(e, num, strlen(num), BASE_YAML_EMIT_PLAIN);
}

int base_yaml_emit_json(struct base_yaml_emit *e, const json_t *v)
{
	return emit_json(e, v, 0);
}

int base_yaml_emit_json_doc(struct base_buf *out, const json_t *v)
{
	struct base_yaml_emit e;
	int r;

	r = base_yaml_emit_begin(&e, out);
	if (r == 0)
		r = base_yaml_emit_json(&e, v);
	if (r == 0)
		return base_yaml_emit_end(&e);
	base_yaml_emit_done(&e);
	return r;
}
