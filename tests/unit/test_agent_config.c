// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the agent's settings (agent/config.c): the defaults docs/agent.md
 * promises, every key of config.yaml, the strictness that turns a typo into
 * an error naming the key, the overrides from the environment and flags, and
 * the checks on the merged values.  The file deploy/20-configmap.yaml ships
 * is parsed too, so the manifests and the parser cannot drift apart.  How the
 * agent reports these errors (exit code 2, one line) is covered by
 * tests/integration/test_agent.py.
 */
#include "agent/config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static struct agent_config cfg;
static char err[1024];

static int setup(void **state)
{
	(void)state;
	return agent_config_init(&cfg);
}

static int teardown(void **state)
{
	(void)state;
	agent_config_done(&cfg);
	return 0;
}

static int parse(const char *text)
{
	return agent_config_parse(&cfg, text, strlen(text), "config.yaml", err, sizeof(err));
}

static void test_defaults(void **state)
{
	(void)state;
	assert_null(cfg.node_name);
	assert_string_equal(cfg.host_root, "/");
	assert_string_equal(cfg.gadget_namespace, "gadget");
	assert_string_equal(cfg.instance_label, "type=gadget-instance");
	assert_int_equal(cfg.n_runtimes, 2);
	assert_string_equal(cfg.runtimes[0].name, "containerd");
	assert_string_equal(cfg.runtimes[0].socket_path, "/run/containerd/containerd.sock");
	assert_string_equal(cfg.runtimes[1].name, "cri-o");
	assert_string_equal(cfg.runtimes[1].socket_path, "/run/crio/crio.sock");
	assert_string_equal(cfg.listen_address, "127.0.0.1:8484");
	assert_string_equal(cfg.listen_unix, "/run/gadget/agent.sock");
	assert_string_equal(cfg.health_address, "0.0.0.0:8485");
	assert_string_equal(cfg.store_dir, "/var/lib/ig/oci-store");
	assert_int_equal(cfg.n_insecure_registries, 0);
	assert_int_equal(cfg.n_allowed_gadgets, 0);
	assert_int_equal(cfg.queue_max_records, 65536);
	assert_int_equal(cfg.log_level, BASE_LOG_INFO);
	assert_int_equal(agent_config_validate(&cfg, err, sizeof(err)), 0);
	/* an empty file, or one holding null, changes nothing */
	assert_int_equal(parse(""), 0);
	assert_int_equal(parse("~\n"), 0);
	assert_string_equal(cfg.listen_address, "127.0.0.1:8484");
}

static void test_every_key(void **state)
{
	(void)state;
	assert_int_equal(parse("nodeName: n7\n"
			       "hostRoot: /host\n"
			       "gadgetNamespace: tools\n"
			       "instanceConfigMapLabel: app.kubernetes.io/part-of=gadget\n"
			       "runtimes:\n"
			       "  - name: cri-o\n"
			       "    socketPath: /var/run/crio.sock\n"
			       "  - name: containerd\n"
			       "listen:\n"
			       "  address: '[::1]:9000'\n"
			       "  unixSocket: \"\"\n"
			       "health:\n"
			       "  address: 10.0.0.1:9001\n"
			       "oci:\n"
			       "  storeDir: /data/store\n"
			       "  insecureRegistries: [localhost:5000, reg.local]\n"
			       "  allowedGadgets:\n"
			       "    - ghcr.io/org/*\n"
			       "    - trace_exec\n"
			       "queue:\n"
			       "  maxRecords: 100\n"
			       "logLevel: debug\n"),
			 0);
	assert_string_equal(cfg.node_name, "n7");
	assert_string_equal(cfg.host_root, "/host");
	assert_string_equal(cfg.gadget_namespace, "tools");
	assert_string_equal(cfg.instance_label, "app.kubernetes.io/part-of=gadget");
	assert_int_equal(cfg.n_runtimes, 2);
	assert_string_equal(cfg.runtimes[0].name, "cri-o");
	assert_string_equal(cfg.runtimes[0].socket_path, "/var/run/crio.sock");
	/* a runtime without socketPath gets its default socket */
	assert_string_equal(cfg.runtimes[1].socket_path, "/run/containerd/containerd.sock");
	assert_string_equal(cfg.listen_address, "[::1]:9000");
	assert_string_equal(cfg.listen_unix, "");
	assert_string_equal(cfg.health_address, "10.0.0.1:9001");
	assert_string_equal(cfg.store_dir, "/data/store");
	assert_int_equal(cfg.n_insecure_registries, 2);
	assert_string_equal(cfg.insecure_registries[1], "reg.local");
	assert_int_equal(cfg.n_allowed_gadgets, 2);
	assert_string_equal(cfg.allowed_gadgets[0], "ghcr.io/org/*");
	assert_int_equal(cfg.queue_max_records, 100);
	assert_int_equal(cfg.log_level, BASE_LOG_DEBUG);
	assert_int_equal(agent_config_validate(&cfg, err, sizeof(err)), 0);

	/* verification is on by default; it needs keys to check anything */
	assert_true(cfg.verify_image);
	assert_false(cfg.disallow_pulling);
	assert_int_equal(cfg.n_public_keys, 0);
	assert_int_equal(
		parse("oci:\n  verifyImage: false\n  disallowPulling: true\n"
		      "  allowedGadgets: ['localhost:5000/g@sha256:"
		      "0000000000000000000000000000000000000000000000000000000000000001']\n"
		      "  publicKeys:\n  - |\n"
		      "    -----BEGIN PUBLIC KEY-----\n"
		      "    MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAErJnO2/+X2JZIKWTDWWZVjvR4CKcd\n"
		      "    46y3ec1dr3tlTZ8MT84sEpZLqvm1UdEdkV+ZpDMZFeh1gS+vVH0UdW0S/g==\n"
		      "    -----END PUBLIC KEY-----\n"),
		0);
	assert_false(cfg.verify_image);
	assert_true(cfg.disallow_pulling);
	assert_int_equal(cfg.n_public_keys, 1);
	assert_non_null(strstr(cfg.public_keys[0], "-----BEGIN PUBLIC KEY-----\nMFkw"));
	assert_int_equal(agent_config_validate(&cfg, err, sizeof(err)), 0);

	/* a list given again replaces the first; an empty runtimes list means the defaults */
	assert_int_equal(parse("oci: {insecureRegistries: []}\nruntimes: []\n"), 0);
	assert_int_equal(cfg.n_insecure_registries, 0);
	assert_int_equal(cfg.n_runtimes, 2);
	assert_string_equal(cfg.runtimes[0].name, "containerd");
	/* null keeps what was there (Helm writes null to drop a default) */
	assert_int_equal(parse("listen:\n  address: null\nlogLevel:\n"), 0);
	assert_string_equal(cfg.listen_address, "[::1]:9000");
	assert_int_equal(cfg.log_level, BASE_LOG_DEBUG);
}

static void expect_error(const char *text, int code, const char *needle)
{
	int r = parse(text);

	if (r != code || !strstr(err, needle))
		fail_msg("for %s: got %d '%s', want %d with '%s'", text, r, err, code, needle);
}

static void test_errors_name_the_key(void **state)
{
	(void)state;
	expect_error("nodename: x\n", -EINVAL, "config.yaml:1: unknown key 'nodename'");
	expect_error("listen:\n  adress: x\n", -EINVAL,
		     "config.yaml:2: unknown key 'listen.adress'");
	expect_error("oci:\n  storeDir: /a\n  pullPolicy: x\n", -EINVAL,
		     "unknown key 'oci.pullPolicy'");
	expect_error("listen: 8484\n", -EINVAL, "listen: expected a mapping, got a scalar");
	expect_error("nodeName: [a]\n", -EINVAL, "nodeName: expected a string, got a list");
	expect_error("queue:\n  maxRecords: many\n", -EINVAL,
		     "queue.maxRecords: expected an integer, got 'many'");
	expect_error("queue:\n  maxRecords: -1\n", -EINVAL,
		     "queue.maxRecords: expected an integer");
	expect_error("queue:\n  maxRecords: \"10\"\n", -EINVAL,
		     "queue.maxRecords: expected an integer");
	expect_error("queue:\n  maxRecords: 0\n", -EINVAL, "queue.maxRecords: 0 is out of range");
	expect_error("queue:\n  maxRecords: 99999999999\n", -EINVAL, "out of range");
	expect_error("logLevel: verbose\n", -EINVAL, "logLevel: 'verbose' is not a level");
	expect_error("oci:\n  allowedGadgets: trace_exec\n", -EINVAL,
		     "oci.allowedGadgets: expected a list of strings");
	expect_error("oci:\n  verifyImage: 'false'\n", -EINVAL,
		     "oci.verifyImage: expected true or false, got false");
	expect_error("oci:\n  disallowPulling: yes\n", -EINVAL,
		     "oci.disallowPulling: expected true or false, got yes");
	expect_error("oci:\n  verifyImage: [true]\n", -EINVAL, "oci.verifyImage: expected true");
	expect_error("oci:\n  allowedGadgets: [a, [b]]\n", -EINVAL,
		     "oci.allowedGadgets[1]: expected a string");
	expect_error("oci:\n  insecureRegistries: ['']\n", -EINVAL,
		     "oci.insecureRegistries[0]: empty string");
	expect_error("runtimes: containerd\n", -EINVAL, "runtimes: expected a list");
	expect_error("runtimes: [containerd]\n", -EINVAL, "runtimes[0]: expected a mapping");
	expect_error("runtimes:\n  - name: docker\n", -EINVAL,
		     "runtimes[0].name: must be containerd or cri-o, not 'docker'");
	expect_error("runtimes:\n  - socketPath: /x\n", -EINVAL, "runtimes[0].name");
	expect_error("runtimes:\n  - name: containerd\n    socket: /x\n", -EINVAL,
		     "unknown key 'runtimes[0].socket'");
	expect_error("runtimes: [{name: containerd}, {name: cri-o}, {name: cri-o}, {name: cri-o}, "
		     "{name: cri-o}]\n",
		     -E2BIG, "runtimes: more than 4 entries");
	expect_error("nodeName: a\nnodeName: b\n", -EINVAL, "config.yaml:2: nodeName: given twice");
	expect_error("- a\n- b\n", -EINVAL, "expected a mapping of keys at the top");
	expect_error("a: &x b\nc: *x\n", -EINVAL, "aliases are not allowed");
	expect_error("nodeName: [a\n", -EINVAL, "invalid YAML");
	expect_error("nodeName: a\n---\nnodeName: b\n", -EINVAL, "more than one YAML document");
	expect_error("? [a, b]\n: c\n", -EINVAL, "keys must be strings");
}

static void test_limits(void **state)
{
	size_t big = AGENT_CONFIG_MAX_BYTES + 1, i;
	char *text = malloc(big + 64);
	int n;

	(void)state;
	memset(text, ' ', big);
	memcpy(text, "nodeName: x\n", 12);
	text[big] = '\0';
	assert_int_equal(agent_config_parse(&cfg, text, big, "config.yaml", err, sizeof(err)),
			 -E2BIG);
	assert_non_null(strstr(err, "larger than"));

	n = snprintf(text, big, "nodeName: ");
	memset(text + n, 'a', AGENT_CONFIG_MAX_VALUE + 1);
	text[n + AGENT_CONFIG_MAX_VALUE + 1] = '\0';
	assert_int_equal(parse(text), -E2BIG);
	assert_non_null(strstr(err, "nodeName: value longer than"));

	n = snprintf(text, big, "oci:\n  allowedGadgets:\n");
	for (i = 0; i <= AGENT_CONFIG_MAX_LIST; i++)
		n += snprintf(text + n, big - (size_t)n, "    - g%zu\n", i);
	assert_int_equal(parse(text), -E2BIG);
	assert_non_null(strstr(err, "oci.allowedGadgets: more than 256 entries"));
	free(text);
}

static void test_overrides(void **state)
{
	(void)state;
	assert_int_equal(parse("nodeName: from-file\nlogLevel: warn\n"), 0);
	assert_int_equal(agent_config_set(&cfg, "nodeName", "from-env", err, sizeof(err)), 0);
	assert_string_equal(cfg.node_name, "from-env");
	assert_int_equal(agent_config_set(&cfg, "hostRoot", "/host", err, sizeof(err)), 0);
	assert_int_equal(agent_config_set(&cfg, "gadgetNamespace", "ns", err, sizeof(err)), 0);
	assert_int_equal(agent_config_set(&cfg, "logLevel", "error", err, sizeof(err)), 0);
	assert_int_equal(cfg.log_level, BASE_LOG_ERROR);
	assert_int_equal(agent_config_set(&cfg, "logLevel", "chatty", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'chatty' is not a log level"));
	assert_int_equal(cfg.log_level, BASE_LOG_ERROR);
	assert_int_equal(agent_config_set(&cfg, "listen.address", "x", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cannot be overridden"));
}

static void expect_invalid(const char *text, const char *needle)
{
	agent_config_done(&cfg);
	assert_int_equal(agent_config_init(&cfg), 0);
	assert_int_equal(parse(text), 0);
	assert_int_equal(agent_config_validate(&cfg, err, sizeof(err)), -EINVAL);
	if (!strstr(err, needle))
		fail_msg("for %s: '%s' lacks '%s'", text, err, needle);
}

static void test_validation(void **state)
{
	(void)state;
	expect_invalid("listen: {address: 0.0.0.0:8484}", "listen.address: '0.0.0.0:8484' is not "
							  "a loopback address");
	expect_invalid("listen: {address: '[::]:8484'}", "is not a loopback address");
	expect_invalid("listen: {address: localhost}", "is not a host:port address");
	expect_invalid("listen: {address: '127.0.0.1:0'}", "is not a host:port address");
	expect_invalid("listen: {address: '127.0.0.1:65536'}", "is not a host:port address");
	expect_invalid("listen: {address: '127.0.0.1:-1'}", "is not a host:port address");
	expect_invalid("health: {address: 'example.com:80'}", "health.address");
	expect_invalid("listen: {unixSocket: run/agent.sock}",
		       "listen.unixSocket: 'run/agent.sock' "
		       "is not an absolute path");
	expect_invalid("hostRoot: host", "hostRoot: 'host' is not an absolute path");
	expect_invalid("gadgetNamespace: Gadget", "gadgetNamespace: 'Gadget'");
	expect_invalid("gadgetNamespace: -x", "gadgetNamespace");
	expect_invalid("instanceConfigMapLabel: type", "instanceConfigMapLabel: 'type'");
	expect_invalid("instanceConfigMapLabel: =x", "instanceConfigMapLabel");
	expect_invalid("instanceConfigMapLabel: 'a=b c'", "instanceConfigMapLabel");
	expect_invalid("runtimes: [{name: containerd, socketPath: run/c.sock}]",
		       "runtimes[0].socketPath: 'run/c.sock' is not an absolute path");
	expect_invalid("oci: {allowedGadgets: ['ghcr.io/*/x']}",
		       "oci.allowedGadgets[0]: 'ghcr.io/*/x': '*' is only allowed at the end");
	expect_invalid("oci: {allowedGadgets: ['Trace_Exec']}",
		       "oci.allowedGadgets[0]: 'Trace_Exec': not an image reference");
	expect_invalid("oci: {publicKeys: ['not a key']}", "oci.publicKeys[0]: public key 1");
	expect_invalid("oci:\n  publicKeys:\n  - |\n    -----BEGIN PRIVATE KEY-----\n"
		       "    AAAA\n    -----END PRIVATE KEY-----\n",
		       "oci.publicKeys[0]: public key 1: a private key, where the public key "
		       "belongs");
	expect_invalid("oci: {insecureRegistries: ['http://x']}", "oci.insecureRegistries[0]");
	expect_invalid("oci: {storeDir: ''}", "oci.storeDir: empty");
	expect_invalid("nodeName: ''", "nodeName: empty");
}

/* listen.unixSocketGroup: a gid, a group name, or nothing (root only). */
static void test_unix_socket_group(void **state)
{
	unsigned int gid = 77;

	(void)state;
	assert_int_equal(agent_config_unix_group(&cfg, &gid, err, sizeof(err)), 0);
	assert_int_equal(gid, 0);
	assert_int_equal(parse("listen: {unixSocketGroup: 4242}"), 0);
	assert_int_equal(agent_config_validate(&cfg, err, sizeof(err)), 0);
	assert_int_equal(agent_config_unix_group(&cfg, &gid, err, sizeof(err)), 0);
	assert_int_equal(gid, 4242);
	assert_int_equal(parse("listen: {unixSocketGroup: root}"), 0);
	assert_int_equal(agent_config_unix_group(&cfg, &gid, err, sizeof(err)), 0);
	assert_int_equal(gid, 0);
	expect_invalid("listen: {unixSocketGroup: no-such-group-at-all}",
		       "listen.unixSocketGroup: no group named 'no-such-group-at-all'");
	expect_invalid("listen: {unixSocketGroup: '-1'}", "listen.unixSocketGroup");
}

static void test_addresses(void **state)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	bool loop;

	(void)state;
	assert_int_equal(agent_config_parse_address("127.0.0.1:8484", &ss, &sl, &loop), 0);
	assert_true(loop);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(agent_config_parse_address("127.9.9.9:1", &ss, &sl, &loop), 0);
	assert_true(loop);
	assert_int_equal(agent_config_parse_address("localhost:80", &ss, &sl, &loop), 0);
	assert_true(loop);
	assert_int_equal(agent_config_parse_address("[::1]:80", &ss, &sl, &loop), 0);
	assert_true(loop);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(agent_config_parse_address("10.1.2.3:80", &ss, &sl, &loop), 0);
	assert_false(loop);
	assert_int_equal(agent_config_parse_address("::1:80", &ss, &sl, &loop), -EINVAL);
	assert_int_equal(agent_config_parse_address("[::1]80", &ss, &sl, &loop), -EINVAL);
	assert_int_equal(agent_config_parse_address(":80", &ss, &sl, &loop), -EINVAL);
	assert_int_equal(agent_config_parse_address("1.2.3.4:", &ss, &sl, &loop), -EINVAL);
	assert_int_equal(agent_config_parse_address("1.2.3.4:80x", &ss, &sl, &loop), -EINVAL);
	assert_int_equal(agent_config_parse_address("1.2.3:80", &ss, &sl, &loop), -EINVAL);
}

/* The config the manifests ship is what this parser reads, and it is valid. */
static void test_deploy_configmap(void **state)
{
	char path[512], line[512];
	char *text = calloc(1, AGENT_CONFIG_MAX_BYTES);
	size_t len = 0;
	bool in = false;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/../../deploy/20-configmap.yaml", TEST_DATA_DIR);
	f = fopen(path, "re");
	assert_non_null(f);
	/* the block under "config.yaml: |", indented by four spaces */
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "config.yaml: |")) {
			in = true;
			continue;
		}
		if (in && strncmp(line, "    ", 4) && line[0] != '\n')
			break;
		if (in)
			len += (size_t)snprintf(text + len, AGENT_CONFIG_MAX_BYTES - len, "%s",
						line[0] == '\n' ? line : line + 4);
	}
	fclose(f);
	assert_true(len > 0);
	assert_int_equal(agent_config_parse(&cfg, text, len, path, err, sizeof(err)), 0);
	assert_int_equal(agent_config_validate(&cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.host_root, "/host");
	assert_string_equal(cfg.listen_address, AGENT_CONFIG_DEFAULT_LISTEN);
	assert_string_equal(cfg.health_address, AGENT_CONFIG_DEFAULT_HEALTH);
	assert_string_equal(cfg.instance_label, AGENT_CONFIG_DEFAULT_LABEL);
	assert_int_equal(cfg.queue_max_records, AGENT_CONFIG_DEFAULT_MAX_RECORDS);
	assert_int_equal(cfg.n_runtimes, 2);
	free(text);
}

/* The limits of docs/agent.md "Limits": durations, the budget, and the TCP listener off. */
static void test_limit_keys(void **state)
{
	(void)state;
	assert_int_equal(cfg.hello_timeout_ms, 10000);
	assert_int_equal(cfg.idle_timeout_ms, 600000);
	assert_int_equal(cfg.pull_timeout_ms, 300000);
	assert_int_equal(cfg.memory_budget, 0);
	assert_false(cfg.listen_address_given);
	assert_int_equal(parse("listen:\n  helloTimeout: 2s\n  idleTimeout: 1500ms\n"
			       "oci:\n  pullTimeout: 1m\nmemoryBudget: 128MiB\n"),
			 0);
	assert_int_equal(cfg.hello_timeout_ms, 2000);
	assert_int_equal(cfg.idle_timeout_ms, 1500);
	assert_int_equal(cfg.pull_timeout_ms, 60000);
	assert_int_equal(cfg.memory_budget, 128u << 20);
	assert_false(cfg.listen_address_given);
	assert_int_equal(parse("memoryBudget: 0\nlisten:\n  address: \"\"\n"), 0);
	assert_int_equal(cfg.memory_budget, 0);
	assert_true(cfg.listen_address_given);
	/* empty turns the TCP listener off: valid */
	assert_int_equal(agent_config_validate(&cfg, err, sizeof(err)), 0);
	assert_int_equal(parse("listen:\n  helloTimeout: soon\n"), -EINVAL);
	assert_string_equal(err,
			    "config.yaml:2: listen.helloTimeout: 'soon' is not a duration (10s, "
			    "500ms, 5m)");
	assert_int_equal(parse("listen:\n  idleTimeout: 1ms\n"), -EINVAL);
	assert_string_equal(err,
			    "config.yaml:2: listen.idleTimeout: '1ms' is out of range (100ms to "
			    "24h)");
	assert_int_equal(parse("memoryBudget: 1KiB\n"), -EINVAL);
	assert_string_equal(
		err, "config.yaml:1: memoryBudget: '1KiB' is out of range (4MiB to 64GiB, or 0)");
	assert_int_equal(parse("oci:\n  pullTimeout: [5m]\n"), -EINVAL);
	assert_string_equal(err, "config.yaml:2: oci.pullTimeout: expected a string, got a list");
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/test_agent_config_XXXXXX";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "logLevel: warn\n", 15), 15);
	close(fd);
	assert_int_equal(agent_config_load(&cfg, path, false, err, sizeof(err)), 0);
	assert_int_equal(cfg.log_level, BASE_LOG_WARN);
	unlink(path);
	assert_int_equal(agent_config_load(&cfg, path, false, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
	assert_int_equal(agent_config_load(&cfg, path, true, err, sizeof(err)), 0);
	assert_int_equal(agent_config_load(&cfg, "/tmp", false, err, sizeof(err)), -EISDIR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_name_the_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overrides, setup, teardown),
		cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unix_socket_group, setup, teardown),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test_setup_teardown(test_deploy_configmap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limit_keys, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
