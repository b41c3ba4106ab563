// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the YAML document helpers (base/yaml.c): the bounds a load
 * enforces and the messages it gives, the walking helpers, scalars as the
 * core schema reads them, and the conversion to JSON with its limits.
 */
#include "base/yaml.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static char err[512];

static int load(struct base_yaml *y, const char *text, const struct base_yaml_opts *o)
{
	struct base_yaml_opts dflt = {.name = "t.yaml", .max_bytes = 1 << 20};

	err[0] = '\0';
	*y = (struct base_yaml){0};
	return base_yaml_load(y, text, strlen(text), o ? o : &dflt, err, sizeof(err));
}

static void expect_load_error(const char *text, const struct base_yaml_opts *o, int code,
			      const char *msg)
{
	struct base_yaml y;

	assert_int_equal(load(&y, text, o), code);
	if (strcmp(err, msg))
		fail_msg("\"%s\": got \"%s\", want \"%s\"", text, err, msg);
	assert_null(base_yaml_root(&y));
	base_yaml_done(&y);
}

static void test_load(void **state)
{
	struct base_yaml y;
	yaml_node_t *root;

	assert_int_equal(load(&y, "a: 1\nb: [x, y]\n", NULL), 0);
	root = base_yaml_root(&y);
	assert_non_null(root);
	assert_int_equal(root->type, YAML_MAPPING_NODE);
	assert_int_equal(base_yaml_len(root), 2);
	base_yaml_done(&y);
	/* done twice, or on a zeroed struct, is fine */
	base_yaml_done(&y);

	/* nothing to read: no root, no error */
	assert_int_equal(load(&y, "", NULL), 0);
	assert_null(base_yaml_root(&y));
	base_yaml_done(&y);
	assert_int_equal(load(&y, "# only a comment\n\n", NULL), 0);
	assert_null(base_yaml_root(&y));
	base_yaml_done(&y);
	assert_int_equal(base_yaml_load(&y, NULL, 0,
					&(struct base_yaml_opts){.name = "n", .max_bytes = 1}, err,
					sizeof(err)),
			 0);
	assert_null(base_yaml_root(&y));
	base_yaml_done(&y);
}

static void test_load_errors(void **state)
{
	struct base_yaml_opts small = {.name = "t.yaml", .max_bytes = 4};
	struct base_yaml_opts strict = {
		.name = "t.yaml", .max_bytes = 1 << 20, .no_aliases = true, .one_document = true};
	struct base_yaml y;

	expect_load_error("a: 1\n", &small, -E2BIG, "t.yaml: larger than 4 bytes");
	expect_load_error("a: 1\nb: [x\n", NULL, -EINVAL,
			  "t.yaml:3: invalid YAML: did not find expected ',' or ']'");
	/* a reader error gives an offset: its line is counted */
	expect_load_error("a: 1\nb: \xff\n", NULL, -EINVAL,
			  "t.yaml:2: invalid YAML: invalid leading UTF-8 octet");
	expect_load_error("a: &x 1\nb: *x\n", &strict, -EINVAL,
			  "t.yaml:2: aliases are not allowed");
	/* the scan for aliases reports bad YAML as the load would */
	expect_load_error("a: &x 1\nb: *x\nc: [\n", &strict, -EINVAL,
			  "t.yaml:2: aliases are not allowed");
	expect_load_error("a: b: c\nd: *x\n", &strict, -EINVAL,
			  "t.yaml:1: invalid YAML: mapping values are not allowed in this context");
	expect_load_error("a: 1\n---\nb: 2\n", &strict, -EINVAL,
			  "t.yaml:3: more than one YAML document");
	expect_load_error("a: 1\n---\nb: [\n", &strict, -EINVAL,
			  "t.yaml:4: invalid YAML: did not find expected node content");

	/* without the options, both are fine: aliases resolve, the first document is read */
	assert_int_equal(load(&y, "a: &x 1\nb: *x\n---\nc: 3\n", NULL), 0);
	assert_string_equal(base_yaml_text(base_yaml_get(&y, base_yaml_root(&y), "b")), "1");
	base_yaml_done(&y);
}

static void test_stream(void **state)
{
	struct base_yaml_opts o = {.name = "s.yaml", .max_bytes = 1 << 20};
	static const char text[] = "a: 1\n---\n---\n- b\n...\n";
	struct base_yaml y = {0};

	assert_int_equal(base_yaml_open(&y, text, strlen(text), &o, err, sizeof(err)), 0);
	assert_int_equal(base_yaml_next(&y), 1);
	assert_int_equal(base_yaml_root(&y)->type, YAML_MAPPING_NODE);
	assert_int_equal(base_yaml_next(&y), 1);
	assert_true(base_yaml_is_null(base_yaml_root(&y)));
	assert_int_equal(base_yaml_next(&y), 1);
	assert_int_equal(base_yaml_root(&y)->type, YAML_SEQUENCE_NODE);
	assert_int_equal(base_yaml_next(&y), 0);
	assert_null(base_yaml_root(&y));
	assert_int_equal(base_yaml_next(&y), 0);
	base_yaml_done(&y);
}

static void test_fail(void **state)
{
	struct base_yaml y;

	assert_int_equal(load(&y, "a:\n  b: \"x\\ny\"\n", NULL), 0);
	assert_int_equal(base_yaml_fail(&y, NULL, -EINVAL, "at the top"), -EINVAL);
	assert_string_equal(err, "t.yaml: at the top");
	/* the line of the node; the document's own text never splits the line */
	yaml_node_t *b = base_yaml_get(&y, base_yaml_get(&y, base_yaml_root(&y), "a"), "b");
	assert_int_equal(base_yaml_fail(&y, b, -ERANGE, "b: '%s'", base_yaml_text(b)), -ERANGE);
	assert_string_equal(err, "t.yaml:2: b: 'x?y'");
	/* no buffer: only the code */
	y.err = NULL;
	assert_int_equal(base_yaml_fail(&y, b, -EINVAL, "x"), -EINVAL);
	base_yaml_done(&y);
}

static void test_walk(void **state)
{
	struct base_yaml y;
	yaml_node_t *root, *k, *v, *list;
	size_t i;

	assert_int_equal(load(&y, "a: 1\nlist: [x, {m: n}]\na: 2\n[k]: v\n", NULL), 0);
	root = base_yaml_root(&y);
	assert_string_equal(base_yaml_kind(root), "a mapping");
	for (i = 0; base_yaml_pair(&y, root, i, &k, &v); i++)
		;
	assert_int_equal(i, 4);
	assert_int_equal(base_yaml_len(root), 4);

	/* the first of a repeated key; a non-scalar key is never found */
	assert_string_equal(base_yaml_text(base_yaml_get(&y, root, "a")), "1");
	assert_null(base_yaml_get(&y, root, "k"));
	assert_null(base_yaml_get(&y, root, "none"));
	assert_false(base_yaml_key_repeats(&y, root, 0));
	assert_false(base_yaml_key_repeats(&y, root, 1));
	assert_true(base_yaml_key_repeats(&y, root, 2));
	assert_false(base_yaml_key_repeats(&y, root, 3));
	assert_false(base_yaml_key_repeats(&y, root, 4));

	list = base_yaml_get(&y, root, "list");
	assert_string_equal(base_yaml_kind(list), "a list");
	assert_int_equal(base_yaml_len(list), 2);
	assert_string_equal(base_yaml_text(base_yaml_item(&y, list, 0)), "x");
	assert_string_equal(base_yaml_kind(base_yaml_item(&y, list, 1)), "a mapping");
	assert_null(base_yaml_item(&y, list, 2));
	assert_string_equal(base_yaml_kind(base_yaml_item(&y, list, 0)), "a scalar");

	/* asking a node of the wrong kind gives nothing */
	assert_null(base_yaml_item(&y, root, 0));
	assert_false(base_yaml_pair(&y, list, 0, &k, &v));
	assert_null(base_yaml_get(&y, list, "x"));
	assert_null(base_yaml_get(&y, NULL, "x"));
	assert_null(base_yaml_text(list));
	assert_int_equal(base_yaml_len(base_yaml_item(&y, list, 0)), 0);
	base_yaml_done(&y);
}

static void test_scalars(void **state)
{
	static const char text[] = "plain: x\n"
				   "empty:\n"
				   "tilde: ~\n"
				   "Null: Null\n"
				   "quoted: 'null'\n"
				   "nul: \"a\\0b\"\n"
				   "long: abcdefghij\n"
				   "t: True\n"
				   "f: FALSE\n"
				   "yes: yes\n"
				   "n: 42\n"
				   "neg: -1\n"
				   "big: 18446744073709551616\n"
				   "map: {}\n";
	struct base_yaml y;
	yaml_node_t *root;
	const char *s;
	uint64_t u;
	bool b;

#define N(key) base_yaml_get(&y, root, key)
	assert_int_equal(load(&y, text, NULL), 0);
	root = base_yaml_root(&y);

	assert_false(base_yaml_is_null(N("plain")));
	assert_true(base_yaml_is_null(N("empty")));
	assert_true(base_yaml_is_null(N("tilde")));
	assert_true(base_yaml_is_null(N("Null")));
	assert_false(base_yaml_is_null(N("quoted")));
	assert_false(base_yaml_is_null(N("map")));
	assert_false(base_yaml_is_null(NULL));
	assert_true(base_yaml_plain_is_null("NULL", 4));
	assert_false(base_yaml_plain_is_null("nul", 3));

	assert_int_equal(base_yaml_string(N("plain"), 10, &s), 0);
	assert_string_equal(s, "x");
	assert_int_equal(base_yaml_string(N("long"), 10, &s), 0);
	assert_int_equal(base_yaml_string(N("long"), 9, &s), -E2BIG);
	assert_int_equal(base_yaml_string(N("nul"), 10, &s), -EILSEQ);
	assert_int_equal(base_yaml_string(N("map"), 10, &s), -EINVAL);

	assert_int_equal(base_yaml_bool(N("t"), &b), 0);
	assert_true(b);
	assert_int_equal(base_yaml_bool(N("f"), &b), 0);
	assert_false(b);
	assert_int_equal(base_yaml_bool(N("yes"), &b), -EINVAL); /* YAML 1.1 only */
	assert_int_equal(base_yaml_bool(N("map"), &b), -EINVAL);

	assert_int_equal(base_yaml_uint(N("n"), 100, &u), 0);
	assert_int_equal(u, 42);
	assert_int_equal(base_yaml_uint(N("n"), 41, &u), -ERANGE);
	assert_int_equal(base_yaml_uint(N("big"), UINT64_MAX, &u), -ERANGE);
	assert_int_equal(base_yaml_uint(N("neg"), 100, &u), -EINVAL);
	assert_int_equal(base_yaml_uint(N("plain"), 100, &u), -EINVAL);
	assert_int_equal(base_yaml_uint(N("map"), 100, &u), -EINVAL);
#undef N
	base_yaml_done(&y);
}

static void test_plain_type(void **state)
{
	static const struct {
		const char *s;
		json_type t;
	} cases[] = {
		{"", JSON_NULL},	{"~", JSON_NULL},
		{"null", JSON_NULL},	{"true", JSON_TRUE},
		{"False", JSON_FALSE},	{"yes", JSON_STRING},
		{"0", JSON_INTEGER},	{"-12", JSON_INTEGER},
		{"+7", JSON_INTEGER},	{"0x1F", JSON_INTEGER},
		{"0o17", JSON_INTEGER}, {"0x", JSON_STRING},
		{"0o8", JSON_STRING},	{"1.5", JSON_REAL},
		{".5", JSON_REAL},	{"1e5", JSON_REAL},
		{"-1.5E-3", JSON_REAL}, {"1e", JSON_STRING},
		{".", JSON_STRING},	{"1-2", JSON_STRING},
		{"1_000", JSON_STRING}, {"99999999999999999999", JSON_REAL},
		{".inf", JSON_STRING},	{"abc", JSON_STRING},
		{"1.2.3", JSON_STRING}, {"1e999", JSON_STRING},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (base_yaml_plain_type(cases[i].s, strlen(cases[i].s)) != cases[i].t)
			fail_msg("\"%s\": type %d, want %d", cases[i].s,
				 base_yaml_plain_type(cases[i].s, strlen(cases[i].s)), cases[i].t);
	/* a NUL inside is never a number */
	assert_int_equal(base_yaml_plain_type("1\0", 2), JSON_STRING);
}

static json_t *to_json(const char *text, size_t max_nodes, int code)
{
	struct base_yaml y;
	json_t *v = NULL;

	assert_int_equal(load(&y, text, NULL), 0);
	assert_int_equal(base_yaml_to_json(&y, base_yaml_root(&y), max_nodes, &v), code);
	base_yaml_done(&y);
	return v;
}

static void test_to_json(void **state)
{
	json_t *v = to_json("s: x\nq: \"1\"\nn: 1\nr: 1.5\nh: 0x10\nb: true\nz: ~\n"
			    "l: [a, {k: v}]\ne: {}\n",
			    100, 0);
	char *dump = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);

	assert_string_equal(dump, "{\"s\":\"x\",\"q\":\"1\",\"n\":1,\"r\":1.5,\"h\":16,\"b\":true,"
				  "\"z\":null,\"l\":[\"a\",{\"k\":\"v\"}],\"e\":{}}");
	free(dump);
	json_decref(v);

	/* a key with a NUL byte stays whole */
	v = to_json("\"a\\0b\": 1\n\"a\": 2\n", 100, 0);
	assert_int_equal(json_object_size(v), 2);
	json_decref(v);

	assert_null(to_json("a: 1\nb: 2\na: 3\n", 100, -EINVAL));
	assert_string_equal(err, "t.yaml:3: duplicate key");
	assert_null(to_json("a: 1\n? [k]\n: v\n", 100, -EINVAL));
	assert_string_equal(err, "t.yaml:1: a mapping key is not a scalar");
	assert_null(to_json("[1, 2, 3]\n", 3, -E2BIG));
	assert_string_equal(err, "t.yaml:1: too many nodes (aliases?)");
	assert_null(to_json("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
			    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
			    1000, -E2BIG));
	assert_string_equal(err, "t.yaml:1: nested too deeply");
}

/* An alias bomb: each level doubles the tree that conversion would build. */
static void test_alias_bomb(void **state)
{
	struct base_yaml y;
	json_t *v = NULL;
	char text[2048];
	size_t n = 0;

	n += snprintf(text + n, sizeof(text) - n, "a0: &a0 [x, x]\n");
	for (int i = 1; i < 30; i++)
		n += snprintf(text + n, sizeof(text) - n, "a%d: &a%d [*a%d, *a%d]\n", i, i, i - 1,
			      i - 1);
	assert_int_equal(load(&y, text, NULL), 0);
	assert_int_equal(base_yaml_to_json(&y, base_yaml_root(&y), 1u << 16, &v), -E2BIG);
	assert_null(v);
	assert_non_null(strstr(err, "too many nodes"));
	base_yaml_done(&y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load),	   cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_stream),	   cmocka_unit_test(test_fail),
		cmocka_unit_test(test_walk),	   cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_plain_type), cmocka_unit_test(test_to_json),
		cmocka_unit_test(test_alias_bomb),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
