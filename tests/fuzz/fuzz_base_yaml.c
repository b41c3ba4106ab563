// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for the YAML document helpers (base/yaml.c), which
 * load config.yaml, instance.yaml, kubeconfig files, build.yaml and
 * gadget.yaml.
 *
 * The first byte picks the options.  Every document of the text is walked
 * with every helper and converted to JSON.  Beyond not crashing or
 * leaking: a failure says why on one line, a refused alias or a second
 * document is refused when asked, the walking helpers agree with each
 * other, a conversion never yields more nodes than its budget or an
 * object with fewer keys than its mapping, and what base/yaml_emit.c
 * writes of the result reads back as the same value.  Any broken promise aborts so
 * that the fuzzer records the input.
 */
#include "base/yaml.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/yaml_emit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_NODES 4096

/* Whether libyaml's own event parser meets an alias before any error. */
static bool fuzz_has_alias(const char *text, size_t len)
{
	bool alias = false, done = false;
	yaml_parser_t p;
	yaml_event_t ev;

	if (!yaml_parser_initialize(&p))
		return false;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (!alias && !done && yaml_parser_parse(&p, &ev)) {
		alias = ev.type == YAML_ALIAS_EVENT;
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return alias;
}

static void fuzz_check_err(int r, const char *err)
{
	if (r != -EINVAL && r != -E2BIG && r != -ENOMEM)
		abort();
	if (!err[0] || strchr(err, '\n'))
		abort();
}

static size_t fuzz_count(json_t *v)
{
	size_t n = 1, i;
	const char *k;
	json_t *e;

	if (json_is_object(v))
		json_object_foreach(v, k, e) n += fuzz_count(e);
	else if (json_is_array(v))
		json_array_foreach(v, i, e) n += fuzz_count(e);
	return n;
}

/* The helpers on one node and, within a budget, those below it. */
static void fuzz_walk(struct base_yaml *y, yaml_node_t *n, int depth, size_t *budget)
{
	yaml_node_t *k, *v;
	const char *s;
	uint64_t u;
	bool b;
	size_t i;

	if (!n || depth > 8 || !*budget)
		return;
	(*budget)--;
	(void)base_yaml_kind(n);
	(void)base_yaml_is_null(n);
	if (base_yaml_string(n, 16, &s) == 0 && strlen(s) > 16)
		abort();
	if (base_yaml_bool(n, &b) == 0 && n->type != YAML_SCALAR_NODE)
		abort();
	if (base_yaml_uint(n, 1000, &u) == 0 && u > 1000)
		abort();
	if (n->type == YAML_SCALAR_NODE) {
		if (!base_yaml_text(n))
			abort();
		(void)base_yaml_plain_type(base_yaml_text(n), n->data.scalar.length);
	}
	for (i = 0; base_yaml_pair(y, n, i, &k, &v); i++) {
		if (base_yaml_key_repeats(y, n, i) &&
		    (!base_yaml_text(k) || i == 0 || !base_yaml_get(y, n, base_yaml_text(k))))
			abort(); /* a repeated key is a scalar found before */
		fuzz_walk(y, v, depth + 1, budget);
	}
	if (n->type == YAML_MAPPING_NODE && i != base_yaml_len(n))
		abort();
	for (i = 0; base_yaml_item(y, n, i); i++)
		fuzz_walk(y, base_yaml_item(y, n, i), depth + 1, budget);
	if (n->type == YAML_SEQUENCE_NODE && i != base_yaml_len(n))
		abort();
}

/* What base/yaml_emit.c writes of a value reads back as that value. */
static void fuzz_round_trip(json_t *v)
{
	struct base_yaml_opts opts = {.name = "again.yaml", .max_bytes = 1 << 24};
	struct base_buf b = BASE_BUF_INIT(0);
	struct base_yaml y = {0};
	json_t *back = NULL;
	char err[256];

	if (base_yaml_emit_json_doc(&b, v) < 0)
		abort();
	if (base_yaml_load(&y, b.data, b.len, &opts, err, sizeof(err)) < 0 ||
	    base_yaml_to_json(&y, base_yaml_root(&y), FUZZ_MAX_NODES, &back) < 0 ||
	    !json_equal(v, back))
		abort();
	json_decref(back);
	base_yaml_done(&y);
	base_buf_done(&b);
}

static void fuzz_document(struct base_yaml *y)
{
	yaml_node_t *root = base_yaml_root(y);
	size_t budget = 256;
	json_t *j = NULL;
	int r;

	fuzz_walk(y, root, 0, &budget);
	y->err[0] = '\0';
	r = base_yaml_to_json(y, root, FUZZ_MAX_NODES, &j);
	if (r == 0) {
		if (!j || fuzz_count(j) > FUZZ_MAX_NODES)
			abort();
		if (json_is_object(j) && json_object_size(j) != base_yaml_len(root))
			abort();
		fuzz_round_trip(j);
		json_decref(j);
	} else {
		if (j)
			abort();
		fuzz_check_err(r, y->err);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct base_yaml_opts opts = {.name = "fuzz.yaml", .max_bytes = 1 << 16};
	struct base_yaml y = {0};
	char err[256] = "", *copy;
	int r;

	if (size == 0 || size > opts.max_bytes + 1)
		return 0;
	opts.no_aliases = data[0] & 1;
	opts.one_document = data[0] & 2;
	/* An exact-size copy lets ASan see any read past the length. */
	copy = malloc(size - 1 ? size - 1 : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size - 1);
	if (data[0] & 4) {
		r = base_yaml_open(&y, copy, size - 1, &opts, err, sizeof(err));
		for (int docs = 0; r == 0 && docs < 16 && (r = base_yaml_next(&y)) > 0; docs++) {
			fuzz_document(&y);
			r = 0;
		}
	} else {
		r = base_yaml_load(&y, copy, size - 1, &opts, err, sizeof(err));
		if (r == 0)
			fuzz_document(&y);
		else if (base_yaml_root(&y))
			abort();
	}
	if (r < 0)
		fuzz_check_err(r, err);
	/* a text with an alias is never accepted when aliases are refused */
	if (r == 0 && opts.no_aliases && fuzz_has_alias(copy, size - 1))
		abort();
	base_yaml_done(&y);
	free(copy);
	return 0;
}
