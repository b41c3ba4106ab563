// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the YAML writer (base/yaml_emit.c): the text it gives for JSON
 * values, the strings it quotes so that they read back as strings, and
 * the round trip through base/yaml.c that every value must survive.
 */
#include "base/yaml_emit.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/yaml.h"

static char *emit(const char *json)
{
	struct base_buf b = BASE_BUF_INIT(0);
	json_error_t je;
	json_t *v = json_loads(json, JSON_DECODE_ANY, &je);

	if (!v)
		fail_msg("%s: %s", json, je.text);
	assert_int_equal(base_yaml_emit_json_doc(&b, v), 0);
	json_decref(v);
	return base_buf_take(&b);
}

static void expect_yaml(const char *json, const char *yaml)
{
	char *got = emit(json);

	if (strcmp(got, yaml))
		fail_msg("%s:\ngot:\n%s\nwant:\n%s", json, got, yaml);
	free(got);
}

static void test_shapes(void **state)
{
	expect_yaml("{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"labels\":{\"a\":\"b\"}},"
		    "\"items\":[{\"a\":1,\"b\":2},\"x\",[1,2],[],{}],\"e\":{}}",
		    "kind: Pod\n"
		    "metadata:\n"
		    "  name: p\n"
		    "  labels:\n"
		    "    a: b\n"
		    "items:\n"
		    "- a: 1\n"
		    "  b: 2\n"
		    "- x\n"
		    "- - 1\n"
		    "  - 2\n"
		    "- []\n"
		    "- {}\n"
		    "e: {}\n");
	expect_yaml("[]", "[]\n");
	expect_yaml("{}", "{}\n");
	expect_yaml("\"top\"", "top\n");
	expect_yaml(
		"{\"i\":-3,\"r\":1.5,\"w\":2.0,\"big\":1e300,\"t\":true,\"f\":false,\"n\":null}",
		"i: -3\nr: 1.5\nw: 2.0\nbig: 1.0000000000000001e+300\nt: true\nf: false\n"
		"\"n\": null\n");
}

static void test_quoting(void **state)
{
	/* strings another reader would take for something else are double-quoted */
	expect_yaml("{\"a\":\"123\",\"b\":\"true\",\"c\":\"\",\"d\":\"null\",\"e\":\"~\","
		    "\"f\":\"0x1F\",\"g\":\"1e5\",\"h\":\".5\",\"i\":\"yes\",\"j\":\"Off\","
		    "\"k\":\"-x\",\"l\":\"a\\nb\",\"m\":\"t\\u0001\"}",
		    "a: \"123\"\nb: \"true\"\nc: \"\"\nd: \"null\"\ne: \"~\"\nf: \"0x1F\"\n"
		    "g: \"1e5\"\nh: \".5\"\ni: \"yes\"\nj: \"Off\"\nk: \"-x\"\nl: \"a\\nb\"\n"
		    "m: \"t\\x01\"\n");
	/* keys too */
	expect_yaml("{\"1\":\"one\",\"n\":\"no\"}", "\"1\": one\n\"n\": \"no\"\n");
	/* plain where plain reads back the same; libyaml quotes what cannot be plain */
	expect_yaml("{\"p\":\"plain text\",\"u\":\"h\\u00e9llo\",\"c\":\"a:b\",\"s\":\"a: b\"}",
		    "p: plain text\nu: h\xc3\xa9llo\nc: a:b\ns: 'a: b'\n");
}

/* Whatever is written reads back as the same value. */
static void test_round_trip(void **state)
{
	static const char *const values[] = {
		"{\"a\":[1,-2,3.25,1e300,2.0,0.1],\"b\":{\"c\":null,\"d\":[true,false]}}",
		"[\"\",\" \",\"x \",\" x\",\"#\",\"a #b\",\"- \",\"-\",\"?\",\":\",\"{\",\"[\","
		"\"'\",\"\\\"\",\"*a\",\"&a\",\"!t\",\"%p\",\"@\",\"`\",\"|\",\">\",\"---\","
		"\"...\",\"\\t\",\"\\r\\n\",\"\\u0000\",\"\\u00a0\",\"\\u2028\",\"\\ufeff\","
		"\"Null\",\"NULL\",\"True\",\"FALSE\",\"0o7\",\"+1\",\"1_0\",\"1.\",\"1e\","
		"\"9223372036854775808\",\"0x8000000000000000\",\".inf\",\"y\",\"N\",\"=\"]",
		"{\"\":1,\" \":2,\"a: b\":3,\"- x\":4,\"true\":5,\"\\n\":6}",
	};

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		struct base_yaml_opts o = {.name = "rt", .max_bytes = 1 << 20};
		json_t *v = json_loads(values[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL), *back;
		struct base_buf b = BASE_BUF_INIT(0);
		struct base_yaml y = {0};
		char err[256];

		assert_non_null(v);
		assert_int_equal(base_yaml_emit_json_doc(&b, v), 0);
		assert_int_equal(base_yaml_load(&y, b.data, b.len, &o, err, sizeof(err)), 0);
		assert_int_equal(base_yaml_to_json(&y, base_yaml_root(&y), 1000, &back), 0);
		if (!json_equal(v, back))
			fail_msg("%s did not come back from:\n%s", values[i], b.data);
		json_decref(back);
		json_decref(v);
		base_yaml_done(&y);
		base_buf_done(&b);
	}
}

static void test_builder(void **state)
{
	static const char *const tags[] = {"a", "true"};
	struct base_buf b = BASE_BUF_INIT(0);
	struct base_yaml_emit e;
	json_t *one;

	assert_int_equal(base_yaml_emit_begin(&e, &b), 0);
	assert_int_equal(base_yaml_emit_map_begin(&e), 0);
	assert_int_equal(base_yaml_emit_scalar(&e, "name", 4, BASE_YAML_EMIT_PLAIN), 0);
	assert_int_equal(base_yaml_emit_scalar(&e, "x", 1, BASE_YAML_EMIT_QUOTED), 0);
	assert_int_equal(base_yaml_emit_scalar(&e, "tags", 4, BASE_YAML_EMIT_PLAIN), 0);
	assert_int_equal(base_yaml_emit_seq_begin(&e, true), 0);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(
			base_yaml_emit_scalar(&e, tags[i], strlen(tags[i]), BASE_YAML_EMIT_STRING),
			0);
	assert_int_equal(base_yaml_emit_seq_end(&e), 0);
	assert_int_equal(base_yaml_emit_map_end(&e), 0);
	assert_int_equal(base_yaml_emit_end(&e), 0);
	base_yaml_emit_done(&e); /* after end: nothing left to free */
	assert_string_equal(b.data, "name: \"x\"\ntags: [a, \"true\"]\n");

	/* appended, not replaced */
	one = json_integer(1);
	assert_int_equal(base_yaml_emit_json_doc(&b, one), 0);
	json_decref(one);
	assert_string_equal(b.data, "name: \"x\"\ntags: [a, \"true\"]\n1\n");
	base_buf_done(&b);
}

static void test_limits(void **state)
{
	struct base_buf small = BASE_BUF_INIT(8);
	json_t *deep = json_array(), *v = json_pack("{s:s}", "key", "a long enough value");

	assert_int_equal(base_yaml_emit_json_doc(&small, v), -E2BIG);
	base_buf_done(&small);
	json_decref(v);

	for (int i = 0; i < BASE_YAML_EMIT_MAX_DEPTH + 1; i++) {
		json_t *outer = json_array();

		json_array_append_new(outer, deep);
		deep = outer;
	}
	small = (struct base_buf)BASE_BUF_INIT(0);
	assert_int_equal(base_yaml_emit_json_doc(&small, deep), -E2BIG);
	base_buf_done(&small);
	json_decref(deep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shapes),	   cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_round_trip), cmocka_unit_test(test_builder),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
