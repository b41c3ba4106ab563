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
#include "k8s/exec.h"

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
	 "x", -EINVAL, ":7: exec: no apiVersion"},
	{"users:\n- name: u\n  user:\n    exec: {apiVersion: "
	 "client.authentication.k8s.io/v1alpha1, command: aws}\n",
	 NULL, -EINVAL, ":4: exec.apiVersion: \"client.authentication.k8s.io/v1alpha1\" is not"},
	{"users:\n- name: u\n  user:\n    exec: {apiVersion: client.authentication.k8s.io/v1}\n",
	 NULL, -EINVAL, ":4: exec: no command"},
	{"users:\n- name: u\n  user:\n    exec: {apiVersion: client.authentication.k8s.io/v1, "
	 "command: x, interactiveMode: Sometimes}\n",
	 NULL, -EINVAL,
	 ":4: exec.interactiveMode: \"Sometimes\" is not Never, IfAvailable or Always"},
	{"users:\n- name: u\n  user:\n    exec: {apiVersion: client.authentication.k8s.io/v1, "
	 "command: x, env: [{value: 1}]}\n",
	 NULL, -EINVAL, ":4: exec.env[0]: expected {name, value}"},
	{"clusters:\n- name: c\n  cluster: {server: 'https://h'}\nusers:\n- name: u\n  user:\n"
	 "    auth-provider: {name: gcp}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n",
	 "x", -EOPNOTSUPP, ": user \"u\": auth-provider \"gcp\" is not supported"},
	{"clusters:\n- name: c\n  cluster: {server: 'https://h', proxy-url: 'ftp://p:1'}\n"
	 "contexts:\n- name: x\n  context: {cluster: c}\n",
	 "x", -EINVAL,
	 ": cluster \"c\": proxy-url \"ftp://p:1\" is not an http, https or socks5 URL"},
	{"clusters:\n- name: c\n  cluster: {server: 'https://h'}\nusers:\n- name: u\n  user:\n"
	 "    as-groups: [devs]\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n",
	 "x", -EINVAL, ": user \"u\": as-groups and as-uid need as (a user to impersonate)"},
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

/* ---- exec credential plugins: real programs, run without a shell ---- */

static void write_plugin(const char *name, const char *body)
{
	char path[600];

	write_file(name, body);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(chmod(path, 0755), 0);
}

static struct k8s_config *load_exec(const char *exec_yaml, unsigned int timeout_ms)
{
	struct k8s_config_opts o = {.kubeconfig = path_of("kc"), .exec_timeout_ms = timeout_ms};
	struct k8s_config *c = NULL;
	char text[4096];

	snprintf(text, sizeof(text),
		 "clusters:\n- name: c\n  cluster:\n    server: https://h:6443\n"
		 "    certificate-authority-data: " B64_CA "\n"
		 "    extensions:\n    - name: client.authentication.k8s.io/exec\n"
		 "      extension: {audience: test}\n"
		 "users:\n- name: eks\n  user:\n    exec:\n%s"
		 "contexts:\n- name: x\n  context: {cluster: c, user: eks}\ncurrent-context: x\n",
		 exec_yaml);
	write_file("kc", text);
	if (k8s_config_load(&o, &c, errbuf, sizeof(errbuf)) < 0)
		fail_msg("load: %s", errbuf);
	return c;
}

static char *read_all(const char *name)
{
	char path[600], *buf = calloc(1, 8192);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "re");
	if (!f) {
		free(buf);
		return NULL;
	}
	if (fread(buf, 1, 8191, f) == 0)
		buf[0] = '\0';
	fclose(f);
	return buf;
}

static void test_exec_plugin(void **state)
{
	struct k8s_config_creds cr = {0}, cr2 = {0};
	struct k8s_config *c;
	char *seen;

	/*
	 * Counts its calls in a file, records what it was given, and hands out
	 * tok-N expiring in 2 s.  The command is relative to the kubeconfig.
	 */
	write_plugin(
		"plugin.sh",
		"#!/bin/sh\n"
		"n=$(cat \"$STATE\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$STATE\"\n"
		"printf '%s\\n%s %s\\n%s\\n' \"$KUBERNETES_EXEC_INFO\" \"$1\" \"$2\" \"$FOO\" > "
		"\"$STATE.seen\"\n"
		"exp=$(date -u -d @$(($(date +%s)+2)) +%Y-%m-%dT%H:%M:%SZ)\n"
		"printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
		"\"ExecCredential\",\"status\":{\"token\":\"tok-%s\",\"expirationTimestamp\":"
		"\"%s\"}}' $n $exp\n");
	{
		char yaml[1024];

		snprintf(yaml, sizeof(yaml),
			 "      apiVersion: client.authentication.k8s.io/v1\n"
			 "      command: ./plugin.sh\n"
			 "      args: [get-token, --cluster=c]\n"
			 "      env: [{name: FOO, value: bar}, {name: STATE, value: %s/count}]\n"
			 "      provideClusterInfo: true\n"
			 "      interactiveMode: Never\n",
			 dir);
		c = load_exec(yaml, 5000);
	}
	assert_non_null(strstr(k8s_config_exec_command(c), "/plugin.sh"));
	/* nothing runs at load time */
	seen = read_all("count");
	assert_null(seen);
	assert_int_equal(k8s_config_creds(c, &cr, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(cr.token, "tok-1");
	seen = read_all("count.seen");
	assert_non_null(seen);
	assert_non_null(strstr(seen, "\"kind\":\"ExecCredential\""));
	assert_non_null(strstr(seen, "\"apiVersion\":\"client.authentication.k8s.io/v1\""));
	assert_non_null(strstr(seen, "\"interactive\":false"));
	assert_non_null(strstr(seen, "\"server\":\"https://h:6443\""));
	assert_non_null(strstr(seen, "\"certificate-authority-data\":\"" B64_CA "\""));
	assert_non_null(strstr(seen, "\"config\":{\"audience\":\"test\"}"));
	assert_non_null(strstr(seen, "\nget-token --cluster=c\nbar\n"));
	free(seen);
	k8s_config_creds_done(&cr);

	/* cached until it expires */
	assert_int_equal(k8s_config_creds(c, &cr, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(cr.token, "tok-1");
	k8s_config_creds_done(&cr);
	sleep(3);
	assert_int_equal(k8s_config_creds(c, &cr, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(cr.token, "tok-2");
	/* a 401 with the current token runs it again; with an old one it does not */
	assert_true(k8s_config_refresh(c, &cr));
	assert_int_equal(k8s_config_creds(c, &cr2, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(cr2.token, "tok-3");
	assert_true(k8s_config_refresh(c, &cr)); /* tok-2 is stale: tok-3 is the answer */
	k8s_config_creds_done(&cr2);
	assert_int_equal(k8s_config_creds(c, &cr2, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(cr2.token, "tok-3");
	k8s_config_creds_done(&cr);
	k8s_config_creds_done(&cr2);
	k8s_config_free(c);
}

static void expect_exec_error(const char *plugin_body, const char *exec_yaml,
			      unsigned int timeout_ms, const char *words)
{
	struct k8s_config_creds cr = {0};
	struct k8s_config *c;
	char *tok = (char *)1;

	if (plugin_body)
		write_plugin("bad.sh", plugin_body);
	c = load_exec(exec_yaml, timeout_ms);
	errbuf[0] = '\0';
	assert_int_equal(k8s_config_creds(c, &cr, errbuf, sizeof(errbuf)), -ENOKEY);
	assert_null(cr.token);
	if (!strstr(errbuf, words) || strchr(errbuf, '\n'))
		fail_msg("\"%s\" does not say \"%s\" on one line", errbuf, words);
	/* the same through the token getter */
	assert_int_equal(k8s_config_token(c, &tok), -ENOKEY);
	k8s_config_free(c);
}

#define EXEC_V1 "      apiVersion: client.authentication.k8s.io/v1\n"

static void test_exec_failures(void **state)
{
	char want[700];

	snprintf(want, sizeof(want),
		 "exec plugin '%s/bad.sh' of user \"eks\" (%s): exited with "
		 "status 3: token expired, run aws sso login",
		 dir, path_of("kc"));
	expect_exec_error("#!/bin/sh\necho starting >&2\necho 'token expired, run aws sso login' "
			  ">&2\nexit 3\n",
			  EXEC_V1 "      command: ./bad.sh\n", 5000, want);
	/* a plugin that hangs is killed at the timeout */
	expect_exec_error("#!/bin/sh\nexec sleep 60\n", EXEC_V1 "      command: ./bad.sh\n", 300,
			  "bad.sh' of user \"eks\" (");
	assert_non_null(strstr(errbuf, ": no answer within 1 s (killed)"));
	/* garbage */
	expect_exec_error("#!/bin/sh\necho 'this is not json'\n",
			  EXEC_V1 "      command: ./bad.sh\n", 5000,
			  "output is not an ExecCredential: ");
	expect_exec_error(
		"#!/bin/sh\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\","
		"\"kind\":\"ExecCredential\",\"status\":{\"token\":\"t\"}}'\n",
		EXEC_V1 "      command: ./bad.sh\n", 5000,
		"it is configured for apiVersion client.authentication.k8s.io/v1 but "
		"answered with \"client.authentication.k8s.io/v1beta1\"");
	expect_exec_error("#!/bin/sh\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
			  "\"kind\":\"ExecCredential\",\"status\":{}}'\n",
			  EXEC_V1 "      command: ./bad.sh\n", 5000,
			  "its ExecCredential has neither a token nor a certificate");
	/* not installed: the hint, on one line */
	expect_exec_error(NULL,
			  EXEC_V1 "      command: no-such-plugin-here\n"
				  "      installHint: |\n        Install it with:\n"
				  "          apt install x\n",
			  5000, "exec plugin 'no-such-plugin-here' of user \"eks\" (");
	assert_non_null(strstr(errbuf, "not found: Install it with: apt install x"));
	/* Always needs a terminal, and the tests have none */
	expect_exec_error(NULL, EXEC_V1 "      command: x\n      interactiveMode: Always\n", 5000,
			  "its interactiveMode is Always, and stdin is not a terminal");
}

static void test_exec_answers(void **state)
{
	static const struct {
		const char *json;
		int r;
		const char *words;
	} cases[] = {
		{"{\"apiVersion\":\"client.authentication.k8s.io/"
		 "v1beta1\",\"kind\":\"ExecCredential\","
		 "\"status\":{\"clientCertificateData\":\"CERT\",\"clientKeyData\":\"KEY\"}}",
		 0, NULL},
		{"{\"apiVersion\":\"client.authentication.k8s.io/"
		 "v1beta1\",\"kind\":\"ExecCredential\","
		 "\"status\":{\"clientCertificateData\":\"CERT\"}}",
		 -EINVAL, "clientCertificateData without clientKeyData"},
		{"{\"apiVersion\":\"client.authentication.k8s.io/"
		 "v1beta1\",\"kind\":\"ExecCredential\","
		 "\"status\":{\"token\":\"a\\nb\"}}",
		 -EINVAL, "its token holds a line break"},
		{"{\"apiVersion\":\"client.authentication.k8s.io/"
		 "v1beta1\",\"kind\":\"ExecCredential\","
		 "\"status\":{\"token\":\"t\",\"expirationTimestamp\":\"tomorrow\"}}",
		 -EINVAL, "status.expirationTimestamp is not an RFC 3339 time"},
		{"{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"Pod\"}",
		 -EINVAL, "kind is \"Pod\""},
		{"[1]", -EINVAL, "not a JSON object"},
		{"{} trailing", -EINVAL, "output is not an ExecCredential"},
		{"", -EINVAL, "no output"},
	};
	struct k8s_exec_credential cred;
	int64_t t;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&cred, 0, sizeof(cred));
		errbuf[0] = '\0';
		assert_int_equal(k8s_exec_parse(cases[i].json, strlen(cases[i].json),
						K8S_EXEC_API_V1BETA1, &cred, errbuf,
						sizeof(errbuf)),
				 cases[i].r);
		if (cases[i].words && !strstr(errbuf, cases[i].words))
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, errbuf, cases[i].words);
		if (!cases[i].r) {
			assert_string_equal(cred.cert, "CERT");
			assert_int_equal(cred.key_len, 3);
		}
		k8s_exec_credential_done(&cred);
	}
	assert_int_equal(k8s_exec_parse_time("2024-05-01T10:00:00Z", &t), 0);
	assert_int_equal(t, 1714557600);
	assert_int_equal(k8s_exec_parse_time("2024-05-01T12:00:00.123456789+02:00", &t), 0);
	assert_int_equal(t, 1714557600);
	assert_int_equal(k8s_exec_parse_time("2024-05-01 10:00:00Z", &t), -EINVAL);
	assert_int_equal(k8s_exec_parse_time("2024-13-01T10:00:00Z", &t), -EINVAL);
}

/* ---- kubectl's global flags ---- */

static void test_flags(void **state)
{
	static const char *const groups[] = {"devs", "system:authenticated"};
	struct k8s_config_opts o = {.kubeconfig = path_of("kc")};
	struct k8s_config_creds cr = {0};
	struct k8s_config *c = NULL;
	const char *const *g;
	const char *pem;
	size_t n, len;

	write_file("flag-ca.pem", "FLAG CA");
	write_file(
		"kc",
		"clusters:\n"
		"- name: a\n  cluster: {server: 'https://a:1', certificate-authority-data: " B64_CA
		", proxy-url: 'http://proxy:3128'}\n"
		"- name: b\n  cluster: {server: 'https://b:1'}\n"
		"users:\n"
		"- name: ua\n  user:\n    token: tok-a\n    as: ops\n    as-groups: [g1]\n"
		"- name: ub\n  user:\n    exec: {apiVersion: client.authentication.k8s.io/v1, "
		"command: never-run}\n"
		"contexts:\n- name: x\n  context: {cluster: a, user: ua}\ncurrent-context: x\n");
	assert_int_equal(k8s_config_load(&o, &c, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(k8s_config_proxy(c), "http://proxy:3128");
	assert_string_equal(k8s_config_as_user(c), "ops");
	g = k8s_config_as_groups(c, &n);
	assert_int_equal(n, 1);
	assert_string_equal(g[0], "g1");
	k8s_config_free(c);

	/* --cluster, --user; --token replaces the exec plugin, which never runs */
	o.cluster = "b";
	o.user = "ub";
	o.token = "flag-token";
	o.as_user = "jane";
	o.as_groups = groups;
	o.n_as_groups = 2;
	o.as_uid = "42";
	assert_int_equal(k8s_config_load(&o, &c, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(k8s_config_server(c), "https://b:1");
	assert_string_equal(k8s_config_user(c), "ub");
	assert_null(k8s_config_exec_command(c));
	assert_int_equal(k8s_config_creds(c, &cr, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(cr.token, "flag-token");
	k8s_config_creds_done(&cr);
	assert_string_equal(k8s_config_as_user(c), "jane");
	g = k8s_config_as_groups(c, &n);
	assert_int_equal(n, 2);
	assert_string_equal(g[1], "system:authenticated");
	assert_string_equal(k8s_config_as_uid(c), "42");
	assert_null(k8s_config_proxy(c));
	k8s_config_free(c);

	/* --insecure-skip-tls-verify drops the kubeconfig's CA; --certificate-authority replaces it
	 */
	o = (struct k8s_config_opts){.kubeconfig = path_of("kc"), .insecure = true};
	assert_int_equal(k8s_config_load(&o, &c, errbuf, sizeof(errbuf)), 0);
	assert_true(k8s_config_insecure(c));
	assert_null(k8s_config_ca(c, &len));
	k8s_config_free(c);
	o = (struct k8s_config_opts){.kubeconfig = path_of("kc"),
				     .ca_file = path_of("flag-ca.pem")};
	assert_int_equal(k8s_config_load(&o, &c, errbuf, sizeof(errbuf)), 0);
	pem = k8s_config_ca(c, &len);
	assert_memory_equal(pem, "FLAG CA", len);
	k8s_config_free(c);
	o.insecure = true;
	assert_int_equal(k8s_config_load(&o, &c, errbuf, sizeof(errbuf)), -EINVAL);
	assert_non_null(strstr(errbuf, "mutually exclusive"));

	/* unknown names, and what needs what */
	o = (struct k8s_config_opts){.kubeconfig = path_of("kc"), .user = "nobody"};
	assert_int_equal(k8s_config_load(&o, &c, errbuf, sizeof(errbuf)), -ENOENT);
	assert_non_null(strstr(errbuf, "user \"nobody\" (--user) not found"));
	o = (struct k8s_config_opts){.kubeconfig = path_of("kc"), .cluster = "nowhere"};
	assert_int_equal(k8s_config_load(&o, &c, errbuf, sizeof(errbuf)), -ENOENT);
	assert_non_null(strstr(errbuf, "cluster \"nowhere\" (--cluster) not found"));
	o = (struct k8s_config_opts){
		.kubeconfig = path_of("kc"), .user = "ub", .as_groups = groups, .n_as_groups = 1};
	assert_int_equal(k8s_config_load(&o, &c, errbuf, sizeof(errbuf)), -EINVAL);
	assert_non_null(strstr(errbuf, "needs a user to impersonate (--as)"));
	o = (struct k8s_config_opts){.kubeconfig = path_of("kc"),
				     .client_cert_file = path_of("kc")};
	assert_int_equal(k8s_config_load(&o, &c, errbuf, sizeof(errbuf)), -EINVAL);
	assert_non_null(strstr(errbuf, "without its key (--client-key)"));
	o = (struct k8s_config_opts){.kubeconfig = path_of("kc"), .server = "ftp://x"};
	assert_int_equal(k8s_config_load(&o, &c, errbuf, sizeof(errbuf)), -EINVAL);
	assert_non_null(strstr(errbuf, "--server: server \"ftp://x\" is not an http(s) URL"));

	/* --server needs no kubeconfig at all, as with kubectl */
	o = (struct k8s_config_opts){.server = "https://10.1.2.3:6443", .token = "t"};
	assert_int_equal(k8s_config_load(&o, &c, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(k8s_config_server(c), "https://10.1.2.3:6443");
	assert_string_equal(k8s_config_namespace(c), "default");
	assert_string_equal(k8s_config_source(c), "--server");
	assert_null(k8s_config_context(c));
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
		cmocka_unit_test_setup_teardown(test_exec_plugin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flags, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
