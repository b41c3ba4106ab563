// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the run flags (run/flags.c): one table, the two steps of reading
 * a run's command line, the views of each client, and the messages.
 */
#include "run/flags.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "bpf/gadget.h"

enum { C_NODE = RUN_FLAG_CLIENT_FIRST };

static const struct base_opt client_opts[] = {
	{"node", 0, BASE_OPT_VALUE, C_NODE, "NODE", "a node", 0},
};

static const char *node_seen;

static int client_fn(void *ctx, const struct base_opt *o, const char *v, char *err, size_t errlen)
{
	if (o->id != C_NODE)
		return -EINVAL;
	node_seen = v;
	return 0;
}

static int parse(struct run_flags *f, unsigned int client, int argc, const char **argv, char *err)
{
	struct base_opt_table t = {.opts = client_opts, .n = 1};

	run_flags_init(f, "ig run");
	node_seen = NULL;
	return run_flags_parse(f, client, &t, 1, client_fn, NULL, argc, (char *const *)argv, err,
			       512);
}

static void test_every_run_flag(void **state)
{
	const char *argv[] = {"run",
			      "trace_open",
			      "-o",
			      "json",
			      "--fields",
			      "a,b",
			      "-F",
			      "x==1",
			      "--filter=y~z",
			      "--sort",
			      "-a",
			      "--max-entries",
			      "10",
			      "--map-fetch-interval",
			      "2s",
			      "--map-fetch-count",
			      "3",
			      "-t",
			      "5",
			      "--no-header",
			      "--node",
			      "n1"};
	struct run_flags f;
	char err[512] = "";

	assert_int_equal(parse(&f, RUN_FLAGS_LOCAL, 22, argv, err), 0);
	assert_string_equal(f.gadget, "trace_open");
	assert_int_equal(f.output, RUN_OUTPUT_JSON);
	assert_string_equal(f.fields, "a,b");
	assert_int_equal(f.n_filters, 2);
	assert_string_equal(f.filters[1], "y~z");
	assert_string_equal(f.sort, "-a");
	assert_int_equal(f.max_entries, 10);
	assert_int_equal(f.fetch_interval_ms, 2000);
	assert_int_equal(f.fetch_count, 3);
	assert_int_equal(f.timeout_ms, 5000);
	assert_true(f.no_header);
	assert_string_equal(node_seen, "n1");
	run_flags_done(&f);
}

static void test_selectors_per_client(void **state)
{
	const char *local[] = {
		"run",	 "g",	  "-c", "web", "--k8s-podname", "p1", "--k8s-selector",
		"app=x", "--host"};
	const char *cluster[] = {"run", "g", "-c", "web", "-p", "p1", "-l", "app=x", "-A"};
	const char *cl_on_host[] = {"run", "g", "-A"};
	struct run_flags f;
	char err[512] = "";

	assert_int_equal(parse(&f, RUN_FLAGS_LOCAL, 9, local, err), 0);
	/* on a host -c is the runtime's name of the container */
	assert_string_equal(f.sel.container_name, "web");
	assert_null(f.sel.k8s_containername);
	assert_string_equal(f.sel.k8s_podname, "p1");
	assert_int_equal(f.sel.n_labels, 1);
	assert_true(f.host);
	run_flags_done(&f);

	assert_int_equal(parse(&f, RUN_FLAGS_CLUSTER, 9, cluster, err), 0);
	/* on a cluster it is the container's name in its pod, as kubectl gadget has it */
	assert_null(f.sel.container_name);
	assert_string_equal(f.sel.k8s_containername, "web");
	assert_string_equal(f.sel.k8s_podname, "p1");
	assert_true(f.all_namespaces);
	run_flags_done(&f);

	/* -A could be a param's alias: known unknown once the params are */
	assert_int_equal(parse(&f, RUN_FLAGS_LOCAL, 3, cl_on_host, err), 0);
	assert_int_equal(
		run_flags_params(&f, NULL, 0, 3, (char *const *)cl_on_host, err, sizeof(err)),
		-EINVAL);
	assert_string_equal(err, "unknown option '-A' (see 'ig run g --help' for the run flags and "
				 "the gadget's params)");
	run_flags_done(&f);
}

static void test_limits_and_messages(void **state)
{
	static const struct {
		const char *flag, *value, *msg;
	} bad[] = {
		{"-o", "xml",
		 "invalid value 'xml' for --output: one of columns, json, jsonpretty, "
		 "yaml"},
		{"--max-entries", "4294967296",
		 "invalid value '4294967296' for --max-entries: at "
		 "most 4294967295"},
		{"--map-fetch-interval", "0",
		 "invalid value '0' for --map-fetch-interval: must be "
		 "more than 0"},
		{"--timeout", "-1",
		 "invalid value '-1' for --timeout: a duration is seconds (5) or "
		 "a number with a unit (500ms, 10s, 2m, 1h)"},
		{"-l", "novalue", NULL},
	};
	const char *zero[] = {"run", "g", "-t", "0"};
	struct run_flags f;
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *argv[] = {"run", "g", bad[i].flag, bad[i].value};

		err[0] = '\0';
		assert_int_equal(parse(&f, RUN_FLAGS_CLUSTER, 4, argv, err), -EINVAL);
		if (bad[i].msg)
			assert_string_equal(err, bad[i].msg);
		else
			assert_non_null(strstr(err, "invalid value 'novalue' for --selector"));
		run_flags_done(&f);
	}
	/* -t 0 is "until stopped", the same for every client */
	assert_int_equal(parse(&f, RUN_FLAGS_CLUSTER, 4, zero, err), 0);
	assert_int_equal(f.timeout_ms, 0);
	run_flags_done(&f);
}

static void test_too_many_filters(void **state)
{
	const char *argv[2 + 2 * (RUN_FLAGS_MAX_FILTERS + 1)];
	struct run_flags f;
	char err[512];
	int n = 0, i;

	argv[n++] = "run";
	argv[n++] = "g";
	for (i = 0; i <= RUN_FLAGS_MAX_FILTERS; i++) {
		argv[n++] = "-F";
		argv[n++] = "a==1";
	}
	assert_int_equal(parse(&f, RUN_FLAGS_LOCAL, n, argv, err), -EINVAL);
	assert_non_null(strstr(err, "too many filters"));
	run_flags_done(&f);
}

static void test_filter_commas(void **state)
{
	/* Inspektor Gadget's -F: commas AND, "\\," and "\\\\" escape, other backslashes stay */
	const char *argv[] = {"run",	  "g",
			      "-F",	  "comm==a,pid==1",
			      "-F",	  "args==x\\,y,,fname~^\\d+\\\\$",
			      "--filter", "uid>=0",
			      "-F",	  ",",
			      "-F",	  "a==b\\"};
	static const char *const want[] = {"comm==a",	     "pid==1", "args==x,y",
					   "fname~^\\d+\\$", "uid>=0", "a==b\\"};
	const char *many[] = {"run", "g", "-F", NULL};
	char lots[4 * (RUN_FLAGS_MAX_FILTERS + 1)];
	struct run_flags f;
	char err[512];
	size_t i;

	assert_int_equal(parse(&f, RUN_FLAGS_CLUSTER, 12, argv, err), 0);
	assert_int_equal(f.n_filters, 6);
	for (i = 0; i < 6; i++)
		assert_string_equal(f.filters[i], want[i]);
	/* a plain value is argv's own string */
	assert_ptr_equal(f.filters[4], argv[7]);
	run_flags_done(&f);

	/* the parts of one -F count against the limit */
	for (i = 0; i <= RUN_FLAGS_MAX_FILTERS; i++)
		memcpy(lots + 4 * i, "a=1,", 4);
	lots[sizeof(lots) - 1] = '\0';
	many[3] = lots;
	assert_int_equal(parse(&f, RUN_FLAGS_LOCAL, 4, many, err), -EINVAL);
	assert_non_null(strstr(err, "too many filters"));
	run_flags_done(&f);
}

static void test_params(void **state)
{
	static const struct run_runner_param_info pid = {.key = "pid",
							 .name = "targ_pid",
							 .type = BPF_GADGET_PARAM_UINT},
						  failed = {.key = "failed",
							    .name = "targ_failed",
							    .type = BPF_GADGET_PARAM_BOOL},
						  sys = {.key = "target_syscall",
							 .name = "target_syscall",
							 .type = BPF_GADGET_PARAM_INT};
	const struct run_runner_param_info *params[] = {&pid, &failed, &sys};
	const char *ok[] = {
		"run", "g",	  "--pid",	  "1", "--failed", "false", "--target-syscall",
		"3",   "--pid=2", "--targ_failed"};
	const char *missing[] = {"run", "g", "--pid"};
	const char *extra[] = {"run", "g", "--failed", "word"};
	const char *unknown[] = {"run", "g", "--nope=1"};
	struct run_flags f;
	char err[512];

	assert_int_equal(parse(&f, RUN_FLAGS_LOCAL, 10, ok, err), 0);
	assert_int_equal(run_flags_params(&f, params, 3, 10, (char *const *)ok, err, sizeof(err)),
			 0);
	assert_int_equal(f.n_params, 3);
	/* the last one given wins; a bare boolean is true */
	assert_string_equal(f.params[0].key, "pid");
	assert_string_equal(f.params[0].value, "2");
	assert_string_equal(f.params[1].key, "failed");
	assert_string_equal(f.params[1].value, "true");
	assert_string_equal(f.params[2].key, "target_syscall");
	assert_string_equal(f.params[2].value, "3");
	run_flags_done(&f);

	assert_int_equal(parse(&f, RUN_FLAGS_LOCAL, 3, missing, err), 0);
	assert_int_equal(
		run_flags_params(&f, params, 3, 3, (char *const *)missing, err, sizeof(err)),
		-EINVAL);
	assert_string_equal(err, "param --pid needs a value");
	run_flags_done(&f);

	assert_int_equal(parse(&f, RUN_FLAGS_LOCAL, 4, extra, err), 0);
	assert_int_equal(run_flags_params(&f, params, 3, 4, (char *const *)extra, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "unexpected argument 'word' (one gadget per run)");
	run_flags_done(&f);

	assert_int_equal(parse(&f, RUN_FLAGS_LOCAL, 3, unknown, err), 0);
	assert_int_equal(
		run_flags_params(&f, params, 3, 3, (char *const *)unknown, err, sizeof(err)),
		-EINVAL);
	assert_string_equal(err, "unknown option '--nope' (see 'ig run g --help' for the run flags "
				 "and the gadget's params)");
	run_flags_done(&f);
}

/* gadget.yaml's one-letter alias, and the keys earlier versions derived */
static void test_param_alias(void **state)
{
	static const struct run_runner_param_info kill = {.key = "kill-only",
							  .name = "kill_only",
							  .alias = "k",
							  .type = BPF_GADGET_PARAM_BOOL},
						  sys = {.key = "target_syscall",
							 .name = "target_syscall",
							 .alias = "s",
							 .type = BPF_GADGET_PARAM_INT},
						  failed = {.key = "targ_failed",
							    .name = "targ_failed",
							    .compat_key = "failed",
							    .type = BPF_GADGET_PARAM_BOOL};
	const struct run_runner_param_info *params[] = {&kill, &sys, &failed};
	const char *ok[] = {"run", "g", "-k", "-s", "59", "--failed"};
	const char *negative[] = {"run", "g", "--target_syscall", "-1", "-k"};
	const char *bundled[] = {"run", "g", "-ks"};
	const char *unknown[] = {"run", "g", "-x"};
	const char *attach[] = {"attach", "g", "-k"};
	struct run_flags f;
	char err[512];

	assert_int_equal(parse(&f, RUN_FLAGS_LOCAL, 6, ok, err), 0);
	assert_int_equal(run_flags_params(&f, params, 3, 6, (char *const *)ok, err, sizeof(err)),
			 0);
	assert_int_equal(f.n_params, 3);
	assert_string_equal(f.params[0].key, "kill-only");
	assert_string_equal(f.params[0].value, "true");
	assert_string_equal(f.params[1].key, "target_syscall");
	assert_string_equal(f.params[1].value, "59");
	assert_string_equal(f.params[2].key, "targ_failed");
	assert_string_equal(f.params[2].value, "true");
	run_flags_done(&f);

	/* a negative number after a param that takes a value is that value */
	assert_int_equal(parse(&f, RUN_FLAGS_LOCAL, 5, negative, err), 0);
	assert_int_equal(
		run_flags_params(&f, params, 3, 5, (char *const *)negative, err, sizeof(err)), 0);
	assert_int_equal(f.n_params, 2);
	assert_string_equal(f.params[0].key, "target_syscall");
	assert_string_equal(f.params[0].value, "-1");
	assert_string_equal(f.params[1].key, "kill-only");
	run_flags_done(&f);

	/* no bundling of short options: "-ks" is not a param */
	assert_int_equal(parse(&f, RUN_FLAGS_LOCAL, 3, bundled, err), -EINVAL);
	assert_non_null(strstr(err, "unknown option '-ks'"));
	run_flags_done(&f);

	assert_int_equal(parse(&f, RUN_FLAGS_LOCAL, 3, unknown, err), 0);
	assert_int_equal(
		run_flags_params(&f, params, 3, 3, (char *const *)unknown, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "unknown option '-x'"));
	run_flags_done(&f);

	/* attaching takes no params, and a cluster's are not known yet: an error at once */
	assert_int_equal(parse(&f, RUN_FLAGS_ATTACH, 3, attach, err), -EINVAL);
	assert_non_null(strstr(err, "unknown option '-k'"));
	run_flags_done(&f);
	assert_int_equal(parse(&f, RUN_FLAGS_CLUSTER, 3, attach, err), -EINVAL);
	assert_non_null(strstr(err, "unknown option '-k'"));
	run_flags_done(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_run_flag),
		cmocka_unit_test(test_selectors_per_client),
		cmocka_unit_test(test_limits_and_messages),
		cmocka_unit_test(test_too_many_filters),
		cmocka_unit_test(test_filter_commas),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_param_alias),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
