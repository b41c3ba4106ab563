// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for kubeconfig and in-cluster configuration (k8s/config.c).
 *
 * Kubeconfig files are written to a temporary directory and loaded the
 * ways kubectl would load them: one explicit file, $KUBECONFIG with several
 * files merged (first one to set a value wins), $HOME/.kube/config.  Then
 * the failures, each checked for the file, key or line the message must
 * name; and the in-cluster configuration from a temporary root, including
 * a rotated service account token.
 */
#include "k8s/config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* base64 of "CA PEM", "CERT PEM", "KEY PEM" */
#define B64_CA	 "Q0EgUEVN"
#define B64_CERT "Q0VSVCBQRU0="
#define B64_KEY	 "S0VZIFBFTQ=="

static char dir[256];
static char errbuf[512];

static void write_file(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *path_of(const char *name)
{
	static char path[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(path[i], sizeof(path[i]), "%s/%s", dir, name);
	return path[i];
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_k8s_config.XXXXXX");
	assert_non_null(mkdtemp(dir));
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	setenv("HOME", dir, 1);
	errbuf[0] = '\0';
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static const char full[] = "apiVersion: v1\n"
			   "kind: Config\n"
			   "clusters:\n"
			   "- name: prod\n"
			   "  cluster:\n"
			   "    server: https://10.0.0.1:6443/\n"
			   "    certificate-authority-data: " B64_CA "\n"
			   "users:\n"
			   "- name: admin\n"
			   "  user:\n"
			   "    client-certificate-data: " B64_CERT "\n"
			   "    client-key-data: " B64_KEY "\n"
			   "    token: secret-token\n"
			   "contexts:\n"
			   "- name: prod-admin\n"
			   "  context: {cluster: prod, user: admin, namespace: shop}\n"
			   "current-context: prod-admin\n";

static void test_data_fields(void **state)
{
	struct k8s_config *c = NULL;
	char *tok = NULL;
	const char *pem;
	size_t len;

	write_file("kc", full);
	struct k8s_config_opts o = {.kubeconfig = path_of("kc")};
	assert_int_equal(k8s_config_load(&o, &c, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(k8s_config_server(c), "https://10.0.0.1:6443");
	assert_string_equal(k8s_config_context(c), "prod-admin");
	assert_string_equal(k8s_config_cluster(c), "prod");
	assert_string_equal(k8s_config_user(c), "admin");
	assert_string_equal(k8s_config_namespace(c), "shop");
	assert_string_equal(k8s_config_source(c), path_of("kc"));
	assert_false(k8s_config_in_cluster(c));
	assert_false(k8s_config_insecure(c));
	pem = k8s_config_ca(c, &len);
	assert_int_equal(len, 6);
	assert_memory_equal(pem, "CA PEM", 6);
	pem = k8s_config_client_cert(c, &len);
	assert_int_equal(len, 8);
	assert_memory_equal(pem, "CERT PEM", 8);
	pem = k8s_config_client_key(c, &len);
	assert_int_equal(len, 7);
	assert_memory_equal(pem, "KEY PEM", 7);
	assert_int_equal(k8s_config_token(c, &tok), 0);
	assert_string_equal(tok, "secret-token");
	free(tok);
	k8s_config_free(c);
}

/* File fields are relative to the kubeconfig's directory; -data wins over the file. */
static void test_file_fields(void **state)
{
	struct k8s_config *c = NULL;
	char *tok = NULL;
	const char *pem;
	size_t len;

	write_file("ca.pem", "FILE CA");
	write_file("crt.pem", "FILE CERT");
	write_file("key.pem", "FILE KEY");
	write_file("token", "file-token\n");
	write_file("kc", "clusters:\n"
			 "- name: c\n"
			 "  cluster:\n"
			 "    server: https://h:1\n"
			 "    certificate-authority: ca.pem\n"
			 "users:\n"
			 "- name: u\n"
			 "  user:\n"
			 "    client-certificate: crt.pem\n"
			 "    client-key-data: " B64_KEY "\n"
			 "    client-key: does-not-exist\n"
			 "    tokenFile: token\n"
			 "contexts:\n"
			 "- name: x\n"
			 "  context: {cluster: c, user: u}\n"
			 "current-context: x\n");
	struct k8s_config_opts o = {.kubeconfig = path_of("kc")};
	assert_int_equal(k8s_config_load(&o, &c, errbuf, sizeof(errbuf)), 0);
	pem = k8s_config_ca(c, &len);
	assert_memory_equal(pem, "FILE CA", len);
	pem = k8s_config_client_cert(c, &len);
	assert_memory_equal(pem, "FILE CERT", len);
	pem = k8s_config_client_key(c, &len);
	assert_memory_equal(pem, "KEY PEM", len);
	assert_string_equal(k8s_config_namespace(c), "default");
	assert_int_equal(k8s_config_token(c, &tok), 0);
	assert_string_equal(tok, "file-token");
	free(tok);

	/* the token file is rotated: read again once asked to look */
	write_file("token.new", "rotated\n");
	assert_int_equal(rename(path_of("token.new"), path_of("token")), 0);
	k8s_config_token_invalidate(c);
	assert_int_equal(k8s_config_token(c, &tok), 0);
	assert_string_equal(tok, "rotated");
	free(tok);
	/* and when it goes away the last one read is kept */
	unlink(path_of("token"));
	k8s_config_token_invalidate(c);
	assert_int_equal(k8s_config_token(c, &tok), 0);
	assert_string_equal(tok, "rotated");
	free(tok);
	k8s_config_free(c);
}

static void test_merge(void **state)
{
	struct k8s_config *c = NULL;
	char env[1200];
	char *tok = NULL;

	/* a: the context to use and cluster "c" at host-a */
	write_file("a", "clusters:\n"
			"- name: c\n"
			"  cluster: {server: 'https://host-a:1'}\n"
			"contexts:\n"
			"- name: ctx\n"
			"  context: {cluster: c, user: u, namespace: from-a}\n"
			"current-context: ctx\n");
	/* b: its own cluster "c" (loses), user u (used), a context that loses */
	write_file("b", "clusters:\n"
			"- name: c\n"
			"  cluster: {server: 'https://host-b:1'}\n"
			"- name: only-b\n"
			"  cluster: {server: 'https://host-b2:1', insecure-skip-tls-verify: true}\n"
			"users:\n"
			"- name: u\n"
			"  user: {token: tok-b}\n"
			"contexts:\n"
			"- name: ctx\n"
			"  context: {cluster: only-b, user: u, namespace: from-b}\n"
			"- name: other\n"
			"  context: {cluster: only-b, user: u}\n"
			"current-context: other\n");
	snprintf(env, sizeof(env), "%s::%s:%s", path_of("missing"), path_of("a"), path_of("b"));
	setenv("KUBECONFIG", env, 1);
	assert_int_equal(k8s_config_load(NULL, &c, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(k8s_config_server(c), "https://host-a:1");
	assert_string_equal(k8s_config_namespace(c), "from-a");
	assert_int_equal(k8s_config_token(c, &tok), 0);
	assert_string_equal(tok, "tok-b");
	free(tok);
	snprintf(env, sizeof(env), "%s:%s", path_of("a"), path_of("b"));
	assert_string_equal(k8s_config_source(c), env);
	k8s_config_free(c);

	/* a context override reaches into the second file */
	struct k8s_config_opts o = {.context = "other"};
	assert_int_equal(k8s_config_load(&o, &c, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(k8s_config_server(c), "https://host-b2:1");
	assert_true(k8s_config_insecure(c));
	k8s_config_free(c);

	/* an explicit file is read alone */
	o = (struct k8s_config_opts){.kubeconfig = path_of("a")};
	assert_int_equal(k8s_config_load(&o, &c, errbuf, sizeof(errbuf)), -ENOENT);
	assert_non_null(strstr(errbuf, "user \"u\" of context \"ctx\" not found"));
	assert_non_null(strstr(errbuf, path_of("a")));
}

static void test_home_default(void **state)
{
	struct k8s_config *c = NULL;
	char kube[600];

	assert_int_equal(k8s_config_load(NULL, &c, errbuf, sizeof(errbuf)), -ENOENT);
	assert_non_null(strstr(errbuf, "no kubeconfig"));
	snprintf(kube, sizeof(kube), "%s/.kube", dir);
	assert_int_equal(mkdir(kube, 0700), 0);
	write_file(".kube/config", full);
	assert_int_equal(k8s_config_load(NULL, &c, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(k8s_config_context(c), "prod-admin");
	k8s_config_free(c);
}

struct bad_case {
	const char *yaml;
	const char *context;
	int err;
	const char *msg; /* after "<file>" */
};

static const struct bad_case bad[] = {
	{"clusters: [\n", NULL, -EINVAL, ":2: invalid YAML"},
	{"a: b\n  c: d\n", NULL, -EINVAL, ":2: invalid YAML"},
	{"- just\n- a list\n", NULL, -EINVAL, ":1: expected a mapping at the top"},
	{"clusters: {}\n", NULL, -EINVAL, ":1: clusters: expected a list"},
	{"clusters:\n- cluster: {server: x}\n", NULL, -EINVAL, ":2: clusters[0]: no name"},
	{"clusters:\n- name: c\n  cluster:\n    server: [1]\n", NULL, -EINVAL,
	 ":4: server: expected a string"},
	{"clusters:\n- name: c\n  cluster:\n    insecure-skip-tls-verify: maybe\n", NULL, -EINVAL,
	 ":4: insecure-skip-tls-verify: expected true or false"},
	{"users:\n- name: u\n  user:\n    client-key-data: '!!!!'\n", NULL, -EINVAL,
	 ":4: client-key-data: invalid base64"},
	{"users:\n- name: u\n  user:\n    client-key-data: QQ=\n", NULL, -EINVAL,
	 ":4: client-key-data: invalid base64"},
	{"contexts: []\n", NULL, -ENOENT, ": no current-context set"},
	{"contexts: []\ncurrent-context: gone\n", NULL, -ENOENT, ": context \"gone\" not found"},
	{"contexts:\n- name: x\n  context: {cluster: c}\n", "x", -ENOENT,
	 ": cluster \"c\" of context \"x\" not found"},
	{"clusters:\n- name: c\n  cluster: {}\ncontexts:\n- name: x\n  context: {cluster: c}\n",
	 "x", -EINVAL, ": cluster \"c\": no server"},
	{"clusters:\n- name: c\n  cluster: {server: 'ftp://h'}\ncontexts:\n- name: x\n"
	 "  context: {cluster: c}\n",
	 "x", -EINVAL, "is not an http(s) URL"},
	{"clusters:\n- name: c\n  cluster: {server: 'https://h', insecure-skip-tls-verify: true, "
	 "certificate-authority-data: " B64_CA "}\ncontexts:\n- name: x\n  context: {cluster: c}\n",
	 "x", -EINVAL, "mutually exclusive"},
	{"clusters:\n- name: c\n  cluster: {server: 'https://h'}\nusers:\n- name: u\n  user:\n"
	 "    exec: {command: aws}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n",
	 "x", -EOPNOTSUPP, ": user \"u\": exec credential plugins are not supported"},
	{"clusters:\n- name: c\n  cluster: {server: 'https://h'}\nusers:\n- name: u\n  user:\n"
	 "    client-certificate-data: " B64_CERT "\ncontexts:\n- name: x\n"
	 "  context: {cluster: c, user: u}\n",
	 "x", -EINVAL, "client-certificate without client-key"},
	{"clusters:\n- name: c\n  cluster: {server: 'https://h', certificate-authority: nope.pem}\n"
	 "contexts:\n- name: x\n  context: {cluster: c}\n",
	 "x", -ENOENT, "certificate-authority"},
};

static void test_bad(void **state)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct k8s_config_opts o = {.kubeconfig = path_of("bad"),
					    .context = bad[i].context};
		struct k8s_config *c = NULL;
		char want[600];
		int r;

		write_file("bad", bad[i].yaml);
		errbuf[0] = '\0';
		r = k8s_config_load(&o, &c, errbuf, sizeof(errbuf));
		if (r != bad[i].err)
			fail_msg("case %zu: %d, want %d (%s)", i, r, bad[i].err, errbuf);
		assert_null(c);
		snprintf(want, sizeof(want), "%s%s", path_of("bad"), bad[i].msg);
		if (!strstr(errbuf, want) &&
		    !(strstr(errbuf, path_of("bad")) && strstr(errbuf, bad[i].msg)))
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, errbuf, want);
	}
}

static void test_limits(void **state)
{
	struct k8s_config_opts o = {.kubeconfig = path_of("big")};
	struct k8s_config *c = NULL;
	int fd;

	fd = open(path_of("big"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, K8S_CONFIG_MAX_BYTES + 1), 0);
	close(fd);
	assert_int_equal(k8s_config_load(&o, &c, errbuf, sizeof(errbuf)), -E2BIG);
	assert_non_null(strstr(errbuf, path_of("big")));

	o.kubeconfig = dir;
	assert_int_equal(k8s_config_load(&o, &c, errbuf, sizeof(errbuf)), -EISDIR);

	/* an empty file is an empty configuration */
	write_file("empty", "");
	o.kubeconfig = path_of("empty");
	assert_int_equal(k8s_config_load(&o, &c, errbuf, sizeof(errbuf)), -ENOENT);
	assert_non_null(strstr(errbuf, "no current-context"));
	assert_int_equal(k8s_config_parse("", 0, "mem", NULL, &c, errbuf, sizeof(errbuf)), -ENOENT);
	assert_null(k8s_config_free(NULL));
}

static void make_sa(const char *token, const char *ns)
{
	char path[600];
	const char *parts[] = {"var", "var/run", "var/run/secrets", "var/run/secrets/kubernetes.io",
			       "var/run/secrets/kubernetes.io/serviceaccount"};

	for (size_t i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, parts[i]);
		mkdir(path, 0755);
	}
	if (token)
		write_file("var/run/secrets/kubernetes.io/serviceaccount/token", token);
	if (ns)
		write_file("var/run/secrets/kubernetes.io/serviceaccount/namespace", ns);
	write_file("var/run/secrets/kubernetes.io/serviceaccount/ca.crt", "SA CA");
}

static void test_in_cluster(void **state)
{
	struct k8s_config_opts o = {.in_cluster = true, .root = dir, .token_recheck_s = 3600};
	struct k8s_config *c = NULL;
	const char *pem;
	char *tok = NULL;
	size_t len;

	/* not in a pod */
	assert_int_equal(k8s_config_load(&o, &c, errbuf, sizeof(errbuf)), -ENOENT);
	assert_non_null(strstr(errbuf, "KUBERNETES_SERVICE_HOST"));

	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	make_sa(NULL, NULL);
	assert_int_equal(k8s_config_load(&o, &c, errbuf, sizeof(errbuf)), -ENOENT);
	assert_non_null(strstr(errbuf, "/var/run/secrets/kubernetes.io/serviceaccount/token"));

	make_sa("sa-token-1\n", "gadget\n");
	assert_int_equal(k8s_config_load(&o, &c, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(k8s_config_server(c), "https://10.96.0.1:443");
	assert_string_equal(k8s_config_namespace(c), "gadget");
	assert_string_equal(k8s_config_source(c), "in-cluster");
	assert_true(k8s_config_in_cluster(c));
	assert_null(k8s_config_context(c));
	pem = k8s_config_ca(c, &len);
	assert_memory_equal(pem, "SA CA", len);
	assert_int_equal(k8s_config_token(c, &tok), 0);
	assert_string_equal(tok, "sa-token-1");
	free(tok);

	/* rotated: not looked at before the interval, unless invalidated (a 401) */
	make_sa("sa-token-2-longer", NULL);
	assert_int_equal(k8s_config_token(c, &tok), 0);
	assert_string_equal(tok, "sa-token-1");
	free(tok);
	k8s_config_token_invalidate(c);
	assert_int_equal(k8s_config_token(c, &tok), 0);
	assert_string_equal(tok, "sa-token-2-longer");
	free(tok);
	k8s_config_free(c);

	/* used without asking when no kubeconfig exists; IPv6 in brackets */
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	o = (struct k8s_config_opts){.root = dir};
	assert_int_equal(k8s_config_load(&o, &c, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(k8s_config_server(c), "https://[fd00::1]:443");
	k8s_config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_data_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_home_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_cluster, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
