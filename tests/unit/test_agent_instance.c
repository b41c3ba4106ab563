// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for detached instances (agent/instance.c): instance.yaml as
 * docs/agent.md and docs/api.md define it (every key, unknown keys ignored,
 * wrong types named), what the agent writes reads back the same, the checks
 * a spec must pass, and the replay ring.  ConfigMaps and attach against a
 * running agent are covered by tests/integration/test_agent.py.
 */
#include "agent/instance.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/wire.h"

static char err[512];

static Gadget__Agent__V1__InstanceSpec *parse_ok(const char *text)
{
	Gadget__Agent__V1__InstanceSpec *spec = NULL;
	int r = agent_instance_spec_parse(text, strlen(text), &spec, NULL, err, sizeof(err));

	if (r)
		fail_msg("parse failed: %d %s", r, err);
	return spec;
}

static void expect_error(const char *text, const char *needle)
{
	Gadget__Agent__V1__InstanceSpec *spec = NULL;
	int r = agent_instance_spec_parse(text, strlen(text), &spec, NULL, err, sizeof(err));

	if (r != -EINVAL || !strstr(err, needle))
		fail_msg("for %s: got %d '%s', want '%s'", text, r, err, needle);
	assert_null(spec);
}

/* The example of docs/agent.md, plus every optional key of docs/api.md. */
static const char full[] = "name: failed-opens\n"
			   "image: \"trace_open:latest\"\n"
			   "params:\n"
			   "  \"failed\": \"true\"\n"
			   "  pid: 0\n"
			   "selector:\n"
			   "  namespace: shop\n"
			   "  podname: web-1\n"
			   "  containername: nginx\n"
			   "  runtimeContainername: web-nginx\n"
			   "  labels: {app: web, tier: front}\n"
			   "  host: true\n"
			   "fields: proc.comm,fname\n"
			   "filters: [\"fname~^/etc\", \"error!=0\"]\n"
			   "sort: -count\n"
			   "maxEntries: 10\n"
			   "mapFetchIntervalMs: 2000\n"
			   "mapFetchCount: 5\n"
			   "nodes: [n1, n2]\n"
			   "replayRecords: 100\n"
			   "tags: [\"audit\"]\n"
			   "futureKey: {anything: [1, 2]}\n";

static void check_full(const Gadget__Agent__V1__InstanceSpec *s)
{
	const Gadget__Agent__V1__GadgetSpec *g = s->gadget;

	assert_string_equal(s->name, "failed-opens");
	assert_string_equal(g->image, "trace_open:latest");
	assert_int_equal(g->n_params, 2);
	assert_string_equal(g->params[0]->key, "failed");
	assert_string_equal(g->params[0]->value, "true");
	assert_string_equal(g->params[1]->key, "pid");
	assert_string_equal(g->params[1]->value, "0");
	assert_non_null(g->selector);
	assert_string_equal(g->selector->namespace_, "shop");
	assert_string_equal(g->selector->podname, "web-1");
	assert_string_equal(g->selector->containername, "nginx");
	assert_string_equal(g->selector->runtime_containername, "web-nginx");
	assert_int_equal(g->selector->n_labels, 2);
	assert_string_equal(g->selector->labels[1]->key, "tier");
	assert_string_equal(g->selector->labels[1]->value, "front");
	assert_true(g->selector->host);
	assert_string_equal(g->fields, "proc.comm,fname");
	assert_int_equal(g->n_filters, 2);
	assert_string_equal(g->filters[0], "fname~^/etc");
	assert_string_equal(g->sort, "-count");
	assert_int_equal(g->max_entries, 10);
	assert_int_equal(g->map_fetch_interval_ms, 2000);
	assert_int_equal(g->map_fetch_count, 5);
	assert_int_equal(g->timeout_ms, 0);
	assert_int_equal(s->n_nodes, 2);
	assert_string_equal(s->nodes[1], "n2");
	assert_int_equal(s->replay_records, 100);
	assert_int_equal(s->n_tags, 1);
	assert_string_equal(s->tags[0], "audit");
}

static void test_parse_every_key(void **state)
{
	Gadget__Agent__V1__InstanceSpec *s = parse_ok(full);

	(void)state;
	check_full(s);
	assert_int_equal(agent_instance_spec_check(s, err, sizeof(err)), 0);
	assert_true(agent_instance_spec_for_node(s, "n2"));
	assert_false(agent_instance_spec_for_node(s, "n3"));
	agent_instance_spec_free(s);

	/* the minimum: a name and an image; nodes empty runs everywhere */
	s = parse_ok("name: x\nimage: trace_exec\nnodes: []\nselector: null\n");
	assert_null(s->gadget->selector);
	assert_true(agent_instance_spec_for_node(s, "any"));
	assert_int_equal(s->replay_records, 0);
	agent_instance_spec_free(s);
}

static void test_format_reads_back(void **state)
{
	struct base_buf out = BASE_BUF_INIT(AGENT_INSTANCE_MAX_YAML);
	struct agent_instance_extra ex = {.id = "0123456789abcdef0123456789abcdef",
					  .created_unix_ms = 1700000000123};
	struct agent_instance_extra back = {0};
	Gadget__Agent__V1__InstanceSpec *s = parse_ok(full), *again = NULL, *dup = NULL;

	(void)state;
	assert_int_equal(agent_instance_spec_format(s, &ex, &out), 0);
	/* values that look like other YAML types stay strings */
	assert_non_null(strstr(out.data, "failed: \"true\"\n"));
	assert_non_null(strstr(out.data, "pid: \"0\"\n"));
	assert_int_equal(
		agent_instance_spec_parse(out.data, out.len, &again, &back, err, sizeof(err)), 0);
	check_full(again);
	assert_string_equal(back.id, ex.id);
	assert_int_equal(back.created_unix_ms, ex.created_unix_ms);
	free(back.id);

	assert_int_equal(agent_instance_spec_dup(again, &dup), 0);
	check_full(dup);
	agent_instance_spec_free(dup);
	agent_instance_spec_free(again);
	agent_instance_spec_free(s);
	base_buf_done(&out);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("image: trace_exec\n", "no name");
	expect_error("name: x\n", "no image");
	expect_error("name: x\nimage: [a]\n", "instance.yaml:2: image: expected a string");
	expect_error("name: x\nimage: y\nparams: [a]\n", "params: expected a mapping of strings");
	expect_error("name: x\nimage: y\nparams: {a: [b]}\n", "params: keys and values must be");
	expect_error("name: x\nimage: y\nnodes: n1\n", "nodes: expected a list of strings");
	expect_error("name: x\nimage: y\ntags: [[a]]\n", "tags[0]: expected a string");
	expect_error("name: x\nimage: y\nmaxEntries: -1\n", "maxEntries: '-1' is not a number");
	expect_error("name: x\nimage: y\nreplayRecords: 65537\n", "replayRecords: '65537'");
	expect_error("name: x\nimage: y\nselector: {host: maybe}\n", "selector.host: expected");
	expect_error("name: x\nimage: y\nselector: [a]\n", "selector: expected a mapping");
	expect_error("- a\n", "expected a mapping with name and image");
	expect_error("name: &a x\nimage: *a\n", "aliases are not allowed");
	expect_error("name: [x\n", "invalid YAML");
	expect_error("name: x\nimage: y\nname: z\n", "instance.yaml: key 'name' given twice");
	expect_error("name: x\nimage: y\nparams: {a: '1', a: '2'}\n",
		     "params: key 'a' given twice");
	/* values quoted in messages stay on one line */
	expect_error("name: x\nimage: y\nmaxEntries: \"1\\n2\"\n", "maxEntries: '1?2'");
}

static void test_checks(void **state)
{
	Gadget__Agent__V1__InstanceSpec *s;

	(void)state;
	assert_true(agent_instance_name_valid("a"));
	assert_true(agent_instance_name_valid("failed-opens-2"));
	assert_false(agent_instance_name_valid(""));
	assert_false(agent_instance_name_valid(NULL));
	assert_false(agent_instance_name_valid("-a"));
	assert_false(agent_instance_name_valid("a-"));
	assert_false(agent_instance_name_valid("Upper"));
	assert_false(agent_instance_name_valid("a.b"));
	assert_false(agent_instance_name_valid(
		"a123456789012345678901234567890123456789012345678901234567890123"));

	s = parse_ok("name: Bad_Name\nimage: y\n");
	assert_int_equal(agent_instance_spec_check(s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'Bad_Name' is not a DNS label"));
	free(s->name);
	s->name = strdup("ok");
	s->gadget->timeout_ms = 5;
	assert_int_equal(agent_instance_spec_check(s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "timeout_ms must be 0"));
	s->gadget->timeout_ms = 0;
	s->replay_records = AGENT_WIRE_MAX_REPLAY_RECORDS + 1;
	assert_int_equal(agent_instance_spec_check(s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "replay_records"));
	s->replay_records = AGENT_WIRE_MAX_REPLAY_RECORDS;
	assert_int_equal(agent_instance_spec_check(s, err, sizeof(err)), 0);
	agent_instance_spec_free(s);
}

static void test_ring(void **state)
{
	struct agent_instance_ring *r = NULL;
	char json[64], big[8192];
	const char *got;
	uint64_t seq, i;
	size_t len, ds;

	(void)state;
	assert_int_equal(agent_instance_ring_new(0, &r), -EINVAL);
	assert_int_equal(agent_instance_ring_new(AGENT_WIRE_MAX_REPLAY_RECORDS + 1, &r), -EINVAL);
	assert_int_equal(agent_instance_ring_new(3, &r), 0);
	assert_int_equal(agent_instance_ring_count(r), 0);
	for (i = 0; i < 5; i++) {
		int n = snprintf(json, sizeof(json), "{\"n\":%llu}", (unsigned long long)i);

		assert_int_equal(agent_instance_ring_push(r, 100 + i, i % 2, json, (size_t)n), 0);
	}
	/* the last three, oldest first */
	assert_int_equal(agent_instance_ring_count(r), 3);
	for (i = 0; i < 3; i++) {
		agent_instance_ring_get(r, i, &seq, &ds, &got, &len);
		snprintf(json, sizeof(json), "{\"n\":%llu}", (unsigned long long)(i + 2));
		assert_int_equal(seq, 102 + i);
		assert_int_equal(ds, (i + 2) % 2);
		assert_string_equal(got, json);
		assert_int_equal(len, strlen(json));
	}
	/* a slot grows for a big record and is given back for small ones */
	memset(big, 'x', sizeof(big));
	assert_int_equal(agent_instance_ring_push(r, 105, 0, big, sizeof(big)), 0);
	agent_instance_ring_get(r, 2, &seq, &ds, &got, &len);
	assert_int_equal(len, sizeof(big));
	assert_int_equal(seq, 105);
	agent_instance_ring_clear(r);
	assert_int_equal(agent_instance_ring_count(r), 0);
	assert_int_equal(agent_instance_ring_push(r, 106, 0, "{}", 2), 0);
	agent_instance_ring_get(r, 0, &seq, &ds, &got, &len);
	assert_int_equal(seq, 106);
	assert_string_equal(got, "{}");
	agent_instance_ring_free(r);
	assert_null(agent_instance_ring_free(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_every_key),
		cmocka_unit_test(test_format_reads_back),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_checks),
		cmocka_unit_test(test_ring),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
