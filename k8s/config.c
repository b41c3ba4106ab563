// SPDX-License-Identifier: Apache-2.0
/*
 * kubeconfig and in-cluster configuration.  See config.h for the rules.
 *
 * Each file is loaded with libyaml's document API (the whole tree is small
 * and bounded by K8S_CONFIG_MAX_BYTES) and its clusters, users and contexts
 * are added to one merged set where the first definition of a name wins.
 * Only then is the chosen context resolved, so that an error names the file
 * that defined the piece at fault.
 */
#include "k8s/config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <yaml.h>

#include "base/b64.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/file.h"
#include "base/log.h"
#include "base/time.h"
#include "base/yaml.h"
#include "k8s/exec.h"

struct cfg_cluster {
	char *name;
	const char *file;
	char *dir;
	char *server;
	char *ca_file;
	char *ca_data;
	size_t ca_data_len;
	bool insecure;
	char *proxy_url;
	char *tls_server_name;
	char *exec_config; /* the client.authentication.k8s.io/exec extension, as JSON */
};

struct cfg_user {
	char *name;
	const char *file;
	char *dir;
	char *token;
	char *token_file;
	char *cert_file;
	char *cert_data;
	size_t cert_data_len;
	char *key_file;
	char *key_data;
	size_t key_data_len;
	bool has_exec;
	struct k8s_exec_plugin exec;
	char *auth_provider; /* its name, when one is set */
	char *as_user;
	char **as_groups;
	size_t n_as_groups;
	char *as_uid;
};

struct cfg_context {
	char *name;
	const char *file;
	char *cluster;
	char *user;
	char *namespace;
};

/* Everything read from all files, before a context is chosen. */
struct cfg_set {
	char **files;
	size_t n_files;
	struct cfg_cluster *clusters;
	size_t n_clusters;
	struct cfg_user *users;
	size_t n_users;
	struct cfg_context *contexts;
	size_t n_contexts;
	char *current_context;
	const char *current_context_file;
};

struct k8s_config {
	char *server;
	char *context;
	char *cluster;
	char *user;
	char *namespace;
	char *source;
	bool in_cluster;
	bool insecure;
	char *ca;
	size_t ca_len;
	char *cert;
	size_t cert_len;
	char *key;
	size_t key_len;
	char *proxy_url;
	char *as_user;
	char **as_groups;
	size_t n_as_groups;
	char *as_uid;

	/* an exec credential plugin, and what it last answered (under token_lock) */
	bool has_exec;
	struct k8s_exec_plugin exec;
	char *exec_config;
	char *tls_server_name;
	unsigned int exec_timeout_ms;
	bool exec_valid;
	struct k8s_exec_credential exec_cred;

	pthread_mutex_t token_lock;
	char *token;
	char *token_file;
	unsigned int token_recheck_s;
	uint64_t token_checked_ms; /* base_time_mono_ms() of the last stat() */
	struct stat token_st;
	bool token_force;
};

/* The file being parsed; its name is in messages, its directory resolves relative paths. */
struct cfg_parser {
	const char *file;
	char *dir;
	struct base_yaml y;
};

static char *cfg_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, slash - path);
}

/* A path from a file, made absolute against that file's directory. */
static char *cfg_resolve_path(const char *dir, const char *path)
{
	char *out;

	if (!path || !*path)
		return NULL;
	if (path[0] == '/' || !dir)
		return strdup(path);
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	if (asprintf(&out, "%s/%s", dir, path) < 0)
		return NULL;
	return out;
}

/* base_file_read() with this module's code for a file over its maximum (config.h). */
static int cfg_read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	int r = base_file_read(path, max, ret, ret_len);

	return r == -EFBIG ? -E2BIG : r;
}

/* A scalar's text, or NULL (and an error) if the node is not a scalar. */
static const char *cfg_scalar(struct cfg_parser *p, const yaml_node_t *n, const char *what)
{
	const char *v = base_yaml_text(n);

	if (!v)
		base_yaml_fail(&p->y, n, -EINVAL, "%s: expected a string", what);
	return v;
}

static int cfg_dup_scalar(struct cfg_parser *p, const yaml_node_t *n, const char *what, char **ret)
{
	const char *v;
	char *d;

	if (base_yaml_is_null(n))
		return 0;
	v = cfg_scalar(p, n, what);
	if (!v)
		return -EINVAL;
	d = strdup(v);
	if (!d)
		return -ENOMEM;
	free(*ret);
	*ret = d;
	return 0;
}

static int cfg_bool(struct cfg_parser *p, const yaml_node_t *n, const char *what, bool *ret)
{
	const char *v;

	if (base_yaml_is_null(n))
		return 0;
	v = cfg_scalar(p, n, what);
	if (!v)
		return -EINVAL;
	if (base_yaml_bool(n, ret) < 0)
		return base_yaml_fail(&p->y, n, -EINVAL, "%s: expected true or false, got \"%s\"",
				      what, v);
	return 0;
}

static int cfg_b64(struct cfg_parser *p, const yaml_node_t *n, const char *what, char **ret,
		   size_t *ret_len)
{
	const char *v;
	char why[64];
	size_t len;
	int r;

	if (base_yaml_is_null(n))
		return 0;
	v = cfg_scalar(p, n, what);
	if (!v)
		return -EINVAL;
	len = n->data.scalar.length;
	if (len / 4 * 3 > K8S_CONFIG_MAX_PEM_BYTES)
		return base_yaml_fail(&p->y, n, -E2BIG, "%s: over %u bytes", what,
				      K8S_CONFIG_MAX_PEM_BYTES);
	free(*ret);
	*ret = NULL;
	r = base_b64_decode(v, len, BASE_B64_SPACE, ret, ret_len, why, sizeof(why));
	if (r == -EINVAL) {
		base_log_debug("%s:%zu: %s: %s", p->file, (size_t)n->start_mark.line + 1, what,
			       why);
		return base_yaml_fail(&p->y, n, r, "%s: invalid base64", what);
	}
	return r;
}

/* Checks that n is a mapping (or null, treated as empty); returns false after an error. */
static bool cfg_is_map(struct cfg_parser *p, const yaml_node_t *n, const char *what, int *r)
{
	if (n->type == YAML_MAPPING_NODE)
		return true;
	if (base_yaml_is_null(n))
		return false;
	*r = base_yaml_fail(&p->y, n, -EINVAL, "%s: expected a mapping", what);
	return false;
}

/* A list of strings, at most max of them. */
static int cfg_strlist(struct cfg_parser *p, const yaml_node_t *n, const char *what, size_t max,
		       char ***ret, size_t *ret_n)
{
	size_t len, i;
	char **v;

	if (base_yaml_is_null(n))
		return 0;
	if (n->type != YAML_SEQUENCE_NODE)
		return base_yaml_fail(&p->y, n, -EINVAL, "%s: expected a list", what);
	len = base_yaml_len(n);
	if (len > max)
		return base_yaml_fail(&p->y, n, -E2BIG, "%s: more than %zu entries", what, max);
	v = calloc(len ? len : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < len; i++) {
		const char *t = cfg_scalar(p, base_yaml_item(&p->y, n, i), what);

		if (!t || !(v[i] = strdup(t))) {
			while (i--)
				free(v[i]);
			free(v);
			return t ? -ENOMEM : -EINVAL;
		}
	}
	for (i = 0; i < *ret_n; i++)
		free((*ret)[i]);
	free(*ret);
	*ret = v;
	*ret_n = len;
	return 0;
}

/*
 * A cluster's extensions: the one named client.authentication.k8s.io/exec is
 * handed to exec plugins with provideClusterInfo (as spec.cluster.config).
 */
static int cfg_parse_extensions(struct cfg_parser *p, const yaml_node_t *n, struct cfg_cluster *c)
{
	if (base_yaml_is_null(n))
		return 0;
	if (n->type != YAML_SEQUENCE_NODE)
		return base_yaml_fail(&p->y, n, -EINVAL, "extensions: expected a list");
	for (size_t i = 0; i < base_yaml_len(n); i++) {
		yaml_node_t *item = base_yaml_item(&p->y, n, i), *name, *ext;
		json_t *j = NULL;
		int r;

		if (!item || item->type != YAML_MAPPING_NODE)
			continue;
		name = base_yaml_get(&p->y, item, "name");
		ext = base_yaml_get(&p->y, item, "extension");
		if (!name || !ext || !base_yaml_text(name) ||
		    strcmp(base_yaml_text(name), "client.authentication.k8s.io/exec"))
			continue;
		r = base_yaml_to_json(&p->y, ext, 4096, &j);
		if (r < 0)
			return base_yaml_fail(&p->y, ext, r, "extensions: %s: %s",
					      base_yaml_text(name), strerror(-r));
		free(c->exec_config);
		c->exec_config = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		if (!c->exec_config)
			return -ENOMEM;
	}
	return 0;
}

static int cfg_parse_cluster(struct cfg_parser *p, const yaml_node_t *m, struct cfg_cluster *c)
{
	yaml_node_t *k, *v;
	int r = 0;

	if (!cfg_is_map(p, m, "cluster", &r))
		return r;
	for (size_t i = 0; base_yaml_pair(&p->y, m, i, &k, &v); i++) {
		const char *key = cfg_scalar(p, k, "key");
		char *path = NULL;

		if (!key)
			return -EINVAL;
		if (!strcmp(key, "server")) {
			r = cfg_dup_scalar(p, v, "server", &c->server);
		} else if (!strcmp(key, "certificate-authority")) {
			r = cfg_dup_scalar(p, v, "certificate-authority", &path);
			if (!r && path) {
				free(c->ca_file);
				c->ca_file = cfg_resolve_path(p->dir, path);
				r = c->ca_file ? 0 : -ENOMEM;
			}
			free(path);
		} else if (!strcmp(key, "certificate-authority-data")) {
			r = cfg_b64(p, v, "certificate-authority-data", &c->ca_data,
				    &c->ca_data_len);
		} else if (!strcmp(key, "insecure-skip-tls-verify")) {
			r = cfg_bool(p, v, "insecure-skip-tls-verify", &c->insecure);
		} else if (!strcmp(key, "proxy-url")) {
			r = cfg_dup_scalar(p, v, "proxy-url", &c->proxy_url);
		} else if (!strcmp(key, "tls-server-name")) {
			r = cfg_dup_scalar(p, v, "tls-server-name", &c->tls_server_name);
		} else if (!strcmp(key, "extensions")) {
			r = cfg_parse_extensions(p, v, c);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int cfg_parse_path(struct cfg_parser *p, const yaml_node_t *v, const char *what, char **ret)
{
	char *path = NULL;
	int r;

	r = cfg_dup_scalar(p, v, what, &path);
	if (r < 0 || !path)
		return r;
	free(*ret);
	*ret = cfg_resolve_path(p->dir, path);
	free(path);
	return *ret ? 0 : -ENOMEM;
}

/* An exec section's env: a list of {name, value}. */
static int cfg_parse_exec_env(struct cfg_parser *p, const yaml_node_t *n, struct k8s_exec_plugin *e)
{
	size_t len;

	if (base_yaml_is_null(n))
		return 0;
	if (n->type != YAML_SEQUENCE_NODE)
		return base_yaml_fail(&p->y, n, -EINVAL, "exec.env: expected a list");
	for (size_t i = 0; i < e->n_env; i++) {
		free(e->env[i].name);
		free(e->env[i].value);
	}
	free(e->env);
	e->env = NULL;
	e->n_env = 0;
	len = base_yaml_len(n);
	if (len > K8S_EXEC_MAX_ENV)
		return base_yaml_fail(&p->y, n, -E2BIG, "exec.env: more than %d entries",
				      K8S_EXEC_MAX_ENV);
	e->env = calloc(len ? len : 1, sizeof(*e->env));
	if (!e->env)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *item = base_yaml_item(&p->y, n, i), *name, *value;
		const char *nt, *vt;

		if (!item || item->type != YAML_MAPPING_NODE)
			return base_yaml_fail(&p->y, item ? item : n, -EINVAL,
					      "exec.env[%zu]: expected {name, value}", i);
		name = base_yaml_get(&p->y, item, "name");
		value = base_yaml_get(&p->y, item, "value");
		nt = name ? base_yaml_text(name) : NULL;
		vt = value ? base_yaml_text(value) : "";
		if (!nt || !*nt || strchr(nt, '=') || !vt)
			return base_yaml_fail(&p->y, item, -EINVAL,
					      "exec.env[%zu]: expected {name, value} with a name "
					      "without '='",
					      i);
		e->env[i].name = strdup(nt);
		e->env[i].value = strdup(base_yaml_is_null(value) ? "" : vt);
		e->n_env++;
		if (!e->env[i].name || !e->env[i].value)
			return -ENOMEM;
	}
	return 0;
}

static int cfg_parse_exec(struct cfg_parser *p, const yaml_node_t *m, struct cfg_user *u)
{
	struct k8s_exec_plugin *e = &u->exec;
	yaml_node_t *k, *v;
	char *mode = NULL;
	int r = 0;

	if (!cfg_is_map(p, m, "exec", &r))
		return r;
	k8s_exec_plugin_done(e); /* a repeated key: the last one counts */
	u->has_exec = true;
	for (size_t i = 0; r == 0 && base_yaml_pair(&p->y, m, i, &k, &v); i++) {
		const char *key = cfg_scalar(p, k, "key");

		if (!key)
			return -EINVAL;
		if (!strcmp(key, "apiVersion"))
			r = cfg_dup_scalar(p, v, "exec.apiVersion", &e->api_version);
		else if (!strcmp(key, "command"))
			r = cfg_dup_scalar(p, v, "exec.command", &e->command);
		else if (!strcmp(key, "args"))
			r = cfg_strlist(p, v, "exec.args", K8S_EXEC_MAX_ARGS, &e->args, &e->n_args);
		else if (!strcmp(key, "env"))
			r = cfg_parse_exec_env(p, v, e);
		else if (!strcmp(key, "installHint"))
			r = cfg_dup_scalar(p, v, "exec.installHint", &e->install_hint);
		else if (!strcmp(key, "provideClusterInfo"))
			r = cfg_bool(p, v, "exec.provideClusterInfo", &e->provide_cluster_info);
		else if (!strcmp(key, "interactiveMode"))
			r = cfg_dup_scalar(p, v, "exec.interactiveMode", &mode);
	}
	if (r == 0 && mode) {
		if (!strcmp(mode, "IfAvailable"))
			e->interactive = K8S_EXEC_INTERACTIVE_IF_AVAILABLE;
		else if (!strcmp(mode, "Never"))
			e->interactive = K8S_EXEC_INTERACTIVE_NEVER;
		else if (!strcmp(mode, "Always"))
			e->interactive = K8S_EXEC_INTERACTIVE_ALWAYS;
		else
			r = base_yaml_fail(&p->y, m, -EINVAL,
					   "exec.interactiveMode: \"%.32s\" is not Never, "
					   "IfAvailable or Always",
					   mode);
	}
	free(mode);
	if (r < 0)
		return r;
	if (!e->command || !*e->command)
		return base_yaml_fail(&p->y, m, -EINVAL, "exec: no command");
	if (!e->api_version)
		return base_yaml_fail(&p->y, m, -EINVAL, "exec: no apiVersion");
	if (strcmp(e->api_version, K8S_EXEC_API_V1) && strcmp(e->api_version, K8S_EXEC_API_V1BETA1))
		return base_yaml_fail(&p->y, m, -EINVAL,
				      "exec.apiVersion: \"%.64s\" is not " K8S_EXEC_API_V1
				      " or " K8S_EXEC_API_V1BETA1,
				      e->api_version);
	/* client-go: a command with a slash is relative to the kubeconfig, a bare name uses PATH */
	if (strchr(e->command, '/') && e->command[0] != '/') {
		char *abs = cfg_resolve_path(p->dir, e->command);

		if (!abs)
			return -ENOMEM;
		free(e->command);
		e->command = abs;
	}
	return 0;
}

/* Impersonation names become HTTP header values: no control characters. */
static int cfg_header_ok(struct cfg_parser *p, const yaml_node_t *n, const char *what,
			 const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return base_yaml_fail(&p->y, n, -EINVAL, "%s: control character", what);
	return 0;
}

static int cfg_parse_user(struct cfg_parser *p, const yaml_node_t *m, struct cfg_user *u)
{
	yaml_node_t *k, *v;
	int r = 0;

	if (!cfg_is_map(p, m, "user", &r))
		return r;
	for (size_t i = 0; base_yaml_pair(&p->y, m, i, &k, &v); i++) {
		const char *key = cfg_scalar(p, k, "key");

		if (!key)
			return -EINVAL;
		if (!strcmp(key, "token"))
			r = cfg_dup_scalar(p, v, "token", &u->token);
		else if (!strcmp(key, "tokenFile"))
			r = cfg_parse_path(p, v, "tokenFile", &u->token_file);
		else if (!strcmp(key, "client-certificate"))
			r = cfg_parse_path(p, v, "client-certificate", &u->cert_file);
		else if (!strcmp(key, "client-key"))
			r = cfg_parse_path(p, v, "client-key", &u->key_file);
		else if (!strcmp(key, "client-certificate-data"))
			r = cfg_b64(p, v, "client-certificate-data", &u->cert_data,
				    &u->cert_data_len);
		else if (!strcmp(key, "client-key-data"))
			r = cfg_b64(p, v, "client-key-data", &u->key_data, &u->key_data_len);
		else if (!strcmp(key, "exec") && !base_yaml_is_null(v))
			r = cfg_parse_exec(p, v, u);
		else if (!strcmp(key, "auth-provider") && !base_yaml_is_null(v)) {
			yaml_node_t *name = v->type == YAML_MAPPING_NODE
						    ? base_yaml_get(&p->y, v, "name")
						    : NULL;

			free(u->auth_provider);
			u->auth_provider =
				strdup(name && base_yaml_text(name) ? base_yaml_text(name) : "?");
			r = u->auth_provider ? 0 : -ENOMEM;
		} else if (!strcmp(key, "as")) {
			r = cfg_dup_scalar(p, v, "as", &u->as_user);
			if (!r)
				r = cfg_header_ok(p, v, "as", u->as_user);
		} else if (!strcmp(key, "as-uid")) {
			r = cfg_dup_scalar(p, v, "as-uid", &u->as_uid);
			if (!r)
				r = cfg_header_ok(p, v, "as-uid", u->as_uid);
		} else if (!strcmp(key, "as-groups")) {
			r = cfg_strlist(p, v, "as-groups", K8S_CONFIG_MAX_GROUPS, &u->as_groups,
					&u->n_as_groups);
			for (size_t g = 0; !r && g < u->n_as_groups; g++)
				r = cfg_header_ok(p, v, "as-groups", u->as_groups[g]);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int cfg_parse_context(struct cfg_parser *p, const yaml_node_t *m, struct cfg_context *c)
{
	yaml_node_t *k, *v;
	int r = 0;

	if (!cfg_is_map(p, m, "context", &r))
		return r;
	for (size_t i = 0; base_yaml_pair(&p->y, m, i, &k, &v); i++) {
		const char *key = cfg_scalar(p, k, "key");

		if (!key)
			return -EINVAL;
		if (!strcmp(key, "cluster"))
			r = cfg_dup_scalar(p, v, "cluster", &c->cluster);
		else if (!strcmp(key, "user"))
			r = cfg_dup_scalar(p, v, "user", &c->user);
		else if (!strcmp(key, "namespace"))
			r = cfg_dup_scalar(p, v, "namespace", &c->namespace);
		if (r < 0)
			return r;
	}
	return 0;
}

static void cfg_cluster_done(struct cfg_cluster *c)
{
	free(c->name);
	free(c->dir);
	free(c->server);
	free(c->ca_file);
	free(c->ca_data);
	free(c->proxy_url);
	free(c->tls_server_name);
	free(c->exec_config);
}

static void cfg_user_done(struct cfg_user *u)
{
	free(u->name);
	free(u->dir);
	free(u->token);
	free(u->token_file);
	free(u->cert_file);
	free(u->cert_data);
	free(u->key_file);
	free(u->key_data);
	k8s_exec_plugin_done(&u->exec);
	free(u->auth_provider);
	free(u->as_user);
	for (size_t i = 0; i < u->n_as_groups; i++)
		free(u->as_groups[i]);
	free(u->as_groups);
	free(u->as_uid);
}

static void cfg_context_done(struct cfg_context *c)
{
	free(c->name);
	free(c->cluster);
	free(c->user);
	free(c->namespace);
}

static void cfg_set_done(struct cfg_set *s)
{
	for (size_t i = 0; i < s->n_clusters; i++)
		cfg_cluster_done(&s->clusters[i]);
	for (size_t i = 0; i < s->n_users; i++)
		cfg_user_done(&s->users[i]);
	for (size_t i = 0; i < s->n_contexts; i++)
		cfg_context_done(&s->contexts[i]);
	for (size_t i = 0; i < s->n_files; i++)
		free(s->files[i]);
	free(s->files);
	free(s->clusters);
	free(s->users);
	free(s->contexts);
	free(s->current_context);
	memset(s, 0, sizeof(*s));
}

enum cfg_section {
	CFG_CLUSTERS,
	CFG_USERS,
	CFG_CONTEXTS,
};

static const char *const cfg_section_names[] = {"clusters", "users", "contexts"};
static const char *const cfg_item_names[] = {"cluster", "user", "context"};

static bool cfg_has_name(const struct cfg_set *s, enum cfg_section sec, const char *name)
{
	switch (sec) {
	case CFG_CLUSTERS:
		for (size_t i = 0; i < s->n_clusters; i++)
			if (!strcmp(s->clusters[i].name, name))
				return true;
		break;
	case CFG_USERS:
		for (size_t i = 0; i < s->n_users; i++)
			if (!strcmp(s->users[i].name, name))
				return true;
		break;
	case CFG_CONTEXTS:
		for (size_t i = 0; i < s->n_contexts; i++)
			if (!strcmp(s->contexts[i].name, name))
				return true;
		break;
	}
	return false;
}

static int cfg_parse_entry(struct cfg_parser *p, struct cfg_set *s, enum cfg_section sec,
			   const yaml_node_t *item, size_t idx)
{
	const char *sname = cfg_section_names[sec], *iname = cfg_item_names[sec];
	const yaml_node_t *name_node = NULL, *body = NULL;
	yaml_node_t *k, *v;
	const char *name;
	void *grown;
	int r = 0;

	if (item->type != YAML_MAPPING_NODE)
		return base_yaml_fail(&p->y, item, -EINVAL, "%s[%zu]: expected a mapping", sname,
				      idx);
	for (size_t i = 0; base_yaml_pair(&p->y, item, i, &k, &v); i++) {
		const char *key = cfg_scalar(p, k, "key");

		if (!key)
			return -EINVAL;
		if (!strcmp(key, "name"))
			name_node = v;
		else if (!strcmp(key, iname))
			body = v;
	}
	if (!name_node || base_yaml_is_null(name_node))
		return base_yaml_fail(&p->y, item, -EINVAL, "%s[%zu]: no name", sname, idx);
	name = cfg_scalar(p, name_node, "name");
	if (!name)
		return -EINVAL;
	/* kubectl's merge: the first file to define a name keeps it */
	if (cfg_has_name(s, sec, name))
		return 0;

	switch (sec) {
	case CFG_CLUSTERS: {
		struct cfg_cluster c = {.file = p->file};

		if (body)
			r = cfg_parse_cluster(p, body, &c);
		c.name = strdup(name);
		c.dir = strdup(p->dir);
		grown = reallocarray(s->clusters, s->n_clusters + 1, sizeof(c));
		if (r < 0 || !c.name || !c.dir || !grown) {
			if (grown)
				s->clusters = grown;
			cfg_cluster_done(&c);
			return r < 0 ? r : -ENOMEM;
		}
		s->clusters = grown;
		s->clusters[s->n_clusters++] = c;
		break;
	}
	case CFG_USERS: {
		struct cfg_user u = {.file = p->file};

		if (body)
			r = cfg_parse_user(p, body, &u);
		u.name = strdup(name);
		u.dir = strdup(p->dir);
		grown = reallocarray(s->users, s->n_users + 1, sizeof(u));
		if (r < 0 || !u.name || !u.dir || !grown) {
			if (grown)
				s->users = grown;
			cfg_user_done(&u);
			return r < 0 ? r : -ENOMEM;
		}
		s->users = grown;
		s->users[s->n_users++] = u;
		break;
	}
	case CFG_CONTEXTS: {
		struct cfg_context c = {.file = p->file};

		if (body)
			r = cfg_parse_context(p, body, &c);
		c.name = strdup(name);
		grown = reallocarray(s->contexts, s->n_contexts + 1, sizeof(c));
		if (r < 0 || !c.name || !grown) {
			if (grown)
				s->contexts = grown;
			cfg_context_done(&c);
			return r < 0 ? r : -ENOMEM;
		}
		s->contexts = grown;
		s->contexts[s->n_contexts++] = c;
		break;
	}
	}
	return 0;
}

static int cfg_parse_section(struct cfg_parser *p, struct cfg_set *s, enum cfg_section sec,
			     const yaml_node_t *seq)
{
	size_t n;
	int r;

	if (base_yaml_is_null(seq))
		return 0;
	if (seq->type != YAML_SEQUENCE_NODE)
		return base_yaml_fail(&p->y, seq, -EINVAL, "%s: expected a list",
				      cfg_section_names[sec]);
	n = base_yaml_len(seq);
	if (n > K8S_CONFIG_MAX_ENTRIES)
		return base_yaml_fail(&p->y, seq, -E2BIG, "%s: more than %u entries",
				      cfg_section_names[sec], K8S_CONFIG_MAX_ENTRIES);
	for (size_t i = 0; i < n; i++) {
		r = cfg_parse_entry(p, s, sec, base_yaml_item(&p->y, seq, i), i);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Adds one file's contents to the merged set. */
static int cfg_parse_into(struct cfg_set *s, const char *file, const void *buf, size_t len,
			  char *err, size_t errlen)
{
	struct cfg_parser p = {.file = file};
	struct base_yaml_opts opts = {.max_bytes = K8S_CONFIG_MAX_BYTES};
	yaml_node_t *root, *k, *v;
	char **files;
	int r = 0;

	if (len > K8S_CONFIG_MAX_BYTES) {
		base_err_set(err, errlen, "%s: over %u bytes", file, K8S_CONFIG_MAX_BYTES);
		return -E2BIG;
	}
	files = reallocarray(s->files, s->n_files + 1, sizeof(*files));
	if (!files)
		return -ENOMEM;
	s->files = files;
	s->files[s->n_files] = strdup(file);
	if (!s->files[s->n_files])
		return -ENOMEM;
	/* entries point at the copy kept in the set */
	p.file = s->files[s->n_files++];
	p.dir = cfg_dirname(file);
	if (!p.dir)
		return -ENOMEM;

	opts.name = p.file;
	r = base_yaml_load(&p.y, buf, len, &opts, err, errlen);
	root = base_yaml_root(&p.y);
	if (r < 0 || !root || base_yaml_is_null(root))
		goto out; /* an empty file adds nothing, as with kubectl */
	if (root->type != YAML_MAPPING_NODE) {
		r = base_yaml_fail(&p.y, root, -EINVAL, "expected a mapping at the top");
		goto out;
	}
	for (size_t i = 0; base_yaml_pair(&p.y, root, i, &k, &v); i++) {
		const char *key = cfg_scalar(&p, k, "key");

		if (!key) {
			r = -EINVAL;
			break;
		}
		if (!strcmp(key, "clusters")) {
			r = cfg_parse_section(&p, s, CFG_CLUSTERS, v);
		} else if (!strcmp(key, "users")) {
			r = cfg_parse_section(&p, s, CFG_USERS, v);
		} else if (!strcmp(key, "contexts")) {
			r = cfg_parse_section(&p, s, CFG_CONTEXTS, v);
		} else if (!strcmp(key, "current-context")) {
			char *cc = NULL;

			r = cfg_dup_scalar(&p, v, "current-context", &cc);
			if (!r && cc && *cc && !s->current_context) {
				s->current_context = cc;
				s->current_context_file = p.file;
				cc = NULL;
			}
			free(cc);
		}
		if (r < 0)
			break;
	}
out:
	base_yaml_done(&p.y);
	free(p.dir);
	return r;
}

static int cfg_load_file(const char *pem_file, size_t max, const char *what, const char *owner,
			 char **ret, size_t *ret_len, char *err, size_t errlen)
{
	int r = cfg_read_file(pem_file, max, ret, ret_len);

	if (r < 0)
		base_err_set(err, errlen, "%s: %s %s: %s", owner, what, pem_file,
			     r == -E2BIG ? "file too large" : strerror(-r));
	return r;
}

static void cfg_strip(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
}

static int cfg_read_token(const char *path, char **ret, struct stat *ret_st)
{
	size_t len;
	int r;

	r = cfg_read_file(path, K8S_CONFIG_MAX_TOKEN_BYTES, ret, &len);
	if (r < 0)
		return r;
	cfg_strip(*ret);
	if (ret_st && stat(path, ret_st) < 0)
		memset(ret_st, 0, sizeof(*ret_st));
	return 0;
}

static struct k8s_config *cfg_alloc(void)
{
	struct k8s_config *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	pthread_mutex_init(&c->token_lock, NULL);
	c->token_recheck_s = K8S_CONFIG_TOKEN_RECHECK_S;
	c->token_checked_ms = base_time_mono_ms();
	return c;
}

static int cfg_set_server(struct k8s_config *c, const char *server)
{
	size_t n = strlen(server);

	while (n && server[n - 1] == '/')
		n--;
	c->server = strndup(server, n);
	return c->server ? 0 : -ENOMEM;
}

static int cfg_dup(const char *src, char **ret)
{
	*ret = src ? strdup(src) : NULL;
	return !src || *ret ? 0 : -ENOMEM;
}

/* A flag's file (--certificate-authority, --client-certificate, --client-key). */
static int cfg_load_flag_file(const char *path, const char *flag, char **ret, size_t *ret_len,
			      char *err, size_t errlen)
{
	int r = cfg_read_file(path, K8S_CONFIG_MAX_PEM_BYTES, ret, ret_len);

	if (r < 0)
		base_err_set(err, errlen, "%s %s: %s", flag, path,
			     r == -E2BIG ? "file too large" : strerror(-r));
	return r;
}

static bool cfg_header_value_ok(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/*
 * Impersonation: the flags replace the user's as, as-groups and as-uid, as
 * in client-go; groups or a uid without a user are refused, as kubectl
 * refuses them.
 */
static int cfg_impersonation(struct k8s_config *c, const struct k8s_config_opts *o,
			     const struct cfg_user *u, char *err, size_t errlen)
{
	const char *user = o->as_user ? o->as_user : u ? u->as_user : NULL;
	const char *uid = o->as_uid ? o->as_uid : u ? u->as_uid : NULL;
	const char *const *groups = o->n_as_groups ? o->as_groups
				    : u		   ? (const char *const *)u->as_groups
						   : NULL;
	size_t n = o->n_as_groups ? o->n_as_groups : u ? u->n_as_groups : 0;

	if (user && !*user)
		user = NULL;
	if ((n || uid) && !user) {
		if (u && !o->n_as_groups && !o->as_uid)
			base_err_set(err, errlen,
				     "%s: user \"%s\": as-groups and as-uid need as (a user to "
				     "impersonate)",
				     u->file, u->name);
		else
			base_err_set(err, errlen,
				     "impersonating groups or a uid (--as-group, --as-uid) needs a "
				     "user to impersonate (--as)");
		return -EINVAL;
	}
	if (n > K8S_CONFIG_MAX_GROUPS) {
		base_err_set(err, errlen, "more than %d groups to impersonate",
			     K8S_CONFIG_MAX_GROUPS);
		return -E2BIG;
	}
	if (!cfg_header_value_ok(user) || !cfg_header_value_ok(uid)) {
		base_err_set(err, errlen, "--as and --as-uid take no control characters");
		return -EINVAL;
	}
	if (cfg_dup(user, &c->as_user) < 0 || cfg_dup(uid, &c->as_uid) < 0)
		return -ENOMEM;
	if (n) {
		c->as_groups = calloc(n, sizeof(*c->as_groups));
		if (!c->as_groups)
			return -ENOMEM;
		for (; c->n_as_groups < n; c->n_as_groups++) {
			if (!cfg_header_value_ok(groups[c->n_as_groups])) {
				base_err_set(err, errlen, "--as-group takes no control characters");
				return -EINVAL;
			}
			if (cfg_dup(groups[c->n_as_groups], &c->as_groups[c->n_as_groups]) < 0)
				return -ENOMEM;
		}
	}
	return 0;
}

/* --certificate-authority and --insecure-skip-tls-verify over the cluster's. */
static int cfg_ca_flags(struct k8s_config *c, const struct k8s_config_opts *o, char *err,
			size_t errlen)
{
	if (o->ca_file && o->insecure) {
		base_err_set(err, errlen,
			     "--certificate-authority and --insecure-skip-tls-verify are mutually "
			     "exclusive");
		return -EINVAL;
	}
	if (o->ca_file) {
		free(c->ca);
		c->ca = NULL;
		c->ca_len = 0;
		c->insecure = false;
		return cfg_load_flag_file(o->ca_file, "--certificate-authority", &c->ca, &c->ca_len,
					  err, errlen);
	}
	if (o->insecure) {
		/* client-go: the flag clears the kubeconfig's CA instead of conflicting */
		free(c->ca);
		c->ca = NULL;
		c->ca_len = 0;
		c->insecure = true;
	}
	return 0;
}

static int cfg_cert_flags(struct k8s_config *c, const struct k8s_config_opts *o, char *err,
			  size_t errlen)
{
	int r = 0;

	if (o->client_cert_file) {
		free(c->cert);
		c->cert = NULL;
		r = cfg_load_flag_file(o->client_cert_file, "--client-certificate", &c->cert,
				       &c->cert_len, err, errlen);
	}
	if (r == 0 && o->client_key_file) {
		if (c->key)
			explicit_bzero(c->key, c->key_len);
		free(c->key);
		c->key = NULL;
		r = cfg_load_flag_file(o->client_key_file, "--client-key", &c->key, &c->key_len,
				       err, errlen);
	}
	if (r == 0 && !c->cert != !c->key) {
		base_err_set(err, errlen, "%s without %s",
			     c->cert ? "a client certificate" : "a client key",
			     c->cert ? "its key (--client-key)"
				     : "its certificate (--client-certificate)");
		r = -EINVAL;
	}
	return r;
}

/* --token replaces every credential of the user but its certificate. */
static int cfg_token_flag(struct k8s_config *c, const struct k8s_config_opts *o)
{
	if (!o->token)
		return 0;
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	free(c->token_file);
	c->token_file = NULL;
	if (c->has_exec)
		k8s_exec_plugin_done(&c->exec);
	c->has_exec = false;
	return cfg_dup(o->token, &c->token);
}

static int cfg_check_server(const char *server, const char *where, char *err, size_t errlen)
{
	if (strncmp(server, "https://", 8) && strncmp(server, "http://", 7)) {
		base_err_set(err, errlen, "%s: server \"%.200s\" is not an http(s) URL", where,
			     server);
		return -EINVAL;
	}
	return 0;
}

/* Chooses the context, cluster and user and builds the final object from the merged set. */
static int cfg_resolve(struct cfg_set *s, const struct k8s_config_opts *o, struct k8s_config **ret,
		       char *err, size_t errlen)
{
	const struct cfg_context *ctx = NULL;
	const struct cfg_cluster *cl = NULL;
	const struct cfg_user *u = NULL;
	struct k8s_config *c;
	const char *src = s->n_files ? s->files[0] : "kubeconfig";
	const char *context = o->context, *cluster, *user, *server;
	struct base_buf b = BASE_BUF_INIT(0);
	char owner[600];
	int r;

	if (!context)
		context = s->current_context;
	if (!context && !o->server) {
		base_err_set(err, errlen, "%s: no current-context set and no context given", src);
		return -ENOENT;
	}
	for (size_t i = 0; context && i < s->n_contexts; i++)
		if (!strcmp(s->contexts[i].name, context))
			ctx = &s->contexts[i];
	if (context && !ctx) {
		base_err_set(err, errlen, "%s: context \"%s\" not found",
			     s->current_context_file && context == s->current_context
				     ? s->current_context_file
				     : src,
			     context);
		return -ENOENT;
	}
	cluster = o->cluster ? o->cluster : ctx ? ctx->cluster : NULL;
	if (!cluster && !o->server) {
		base_err_set(err, errlen, "%s: context \"%s\" has no cluster", ctx->file,
			     ctx->name);
		return -EINVAL;
	}
	for (size_t i = 0; cluster && i < s->n_clusters; i++)
		if (!strcmp(s->clusters[i].name, cluster))
			cl = &s->clusters[i];
	if (cluster && !cl) {
		if (o->cluster)
			base_err_set(err, errlen, "%s: cluster \"%s\" (--cluster) not found", src,
				     cluster);
		else
			base_err_set(err, errlen, "%s: cluster \"%s\" of context \"%s\" not found",
				     ctx->file, ctx->cluster, ctx->name);
		return -ENOENT;
	}
	user = o->user ? o->user : ctx ? ctx->user : NULL;
	for (size_t i = 0; user && i < s->n_users; i++)
		if (!strcmp(s->users[i].name, user))
			u = &s->users[i];
	if (user && !u) {
		if (o->user)
			base_err_set(err, errlen, "%s: user \"%s\" (--user) not found", src, user);
		else
			base_err_set(err, errlen, "%s: user \"%s\" of context \"%s\" not found",
				     ctx->file, ctx->user, ctx->name);
		return -ENOENT;
	}
	server = o->server ? o->server : cl ? cl->server : NULL;
	if (!server || !*server) {
		base_err_set(err, errlen, "%s: cluster \"%s\": no server", cl->file, cl->name);
		return -EINVAL;
	}
	if (o->server)
		r = cfg_check_server(server, "--server", err, errlen);
	else
		snprintf(owner, sizeof(owner), "%s: cluster \"%s\"", cl->file, cl->name),
			r = cfg_check_server(server, owner, err, errlen);
	if (r < 0)
		return r;
	if (cl && cl->insecure && (cl->ca_data || cl->ca_file) && !o->insecure && !o->ca_file) {
		base_err_set(
			err, errlen,
			"%s: cluster \"%s\": certificate-authority and insecure-skip-tls-verify "
			"are mutually exclusive",
			cl->file, cl->name);
		return -EINVAL;
	}
	if (u && u->auth_provider && !u->token && !u->token_file && !u->cert_data &&
	    !u->cert_file && !u->has_exec && !o->token) {
		base_err_set(err, errlen,
			     "%s: user \"%s\": auth-provider \"%.32s\" is not supported (kubectl "
			     "dropped auth-providers for exec credential plugins: "
			     "gke-gcloud-auth-plugin, kubelogin, ...)",
			     u->file, u->name, u->auth_provider);
		return -EOPNOTSUPP;
	}

	c = cfg_alloc();
	if (!c)
		return -ENOMEM;
	r = cfg_set_server(c, server);
	if (r < 0)
		goto fail;
	if (cfg_dup(ctx ? ctx->name : NULL, &c->context) < 0 ||
	    cfg_dup(cl ? cl->name : NULL, &c->cluster) < 0 ||
	    cfg_dup(u ? u->name : NULL, &c->user) < 0 ||
	    cfg_dup(ctx && ctx->namespace && *ctx->namespace ? ctx->namespace : "default",
		    &c->namespace) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < s->n_files; i++) {
		if (i)
			base_buf_putc(&b, ':');
		base_buf_puts(&b, s->files[i]);
	}
	if (!s->n_files)
		base_buf_puts(&b, "--server");
	c->source = base_buf_take(&b);
	if (!c->source) {
		r = -ENOMEM;
		goto fail;
	}
	c->insecure = cl && cl->insecure;
	if (cl && cl->proxy_url) {
		if (strncmp(cl->proxy_url, "http://", 7) && strncmp(cl->proxy_url, "https://", 8) &&
		    strncmp(cl->proxy_url, "socks5://", 9)) {
			base_err_set(err, errlen,
				     "%s: cluster \"%s\": proxy-url \"%.200s\" is not an http, "
				     "https or socks5 URL",
				     cl->file, cl->name, cl->proxy_url);
			r = -EINVAL;
			goto fail;
		}
		if (cfg_dup(cl->proxy_url, &c->proxy_url) < 0) {
			r = -ENOMEM;
			goto fail;
		}
	}

	/* the -data form wins over the file, as in client-go */
	if (cl && cl->ca_data) {
		c->ca = malloc(cl->ca_data_len + 1);
		if (!c->ca) {
			r = -ENOMEM;
			goto fail;
		}
		memcpy(c->ca, cl->ca_data, cl->ca_data_len + 1);
		c->ca_len = cl->ca_data_len;
	} else if (cl && cl->ca_file && !o->ca_file && !o->insecure) {
		snprintf(owner, sizeof(owner), "%s: cluster \"%s\"", cl->file, cl->name);
		r = cfg_load_file(cl->ca_file, K8S_CONFIG_MAX_PEM_BYTES, "certificate-authority",
				  owner, &c->ca, &c->ca_len, err, errlen);
		if (r < 0)
			goto fail;
	}
	r = cfg_ca_flags(c, o, err, errlen);
	if (r < 0)
		goto fail;
	if (u) {
		snprintf(owner, sizeof(owner), "%s: user \"%s\"", u->file, u->name);
		if (u->cert_data) {
			c->cert = strndup(u->cert_data, u->cert_data_len);
			c->cert_len = u->cert_data_len;
			if (!c->cert) {
				r = -ENOMEM;
				goto fail;
			}
		} else if (u->cert_file && !o->client_cert_file) {
			r = cfg_load_file(u->cert_file, K8S_CONFIG_MAX_PEM_BYTES,
					  "client-certificate", owner, &c->cert, &c->cert_len, err,
					  errlen);
			if (r < 0)
				goto fail;
		}
		if (u->key_data) {
			c->key = strndup(u->key_data, u->key_data_len);
			c->key_len = u->key_data_len;
			if (!c->key) {
				r = -ENOMEM;
				goto fail;
			}
		} else if (u->key_file && !o->client_key_file) {
			r = cfg_load_file(u->key_file, K8S_CONFIG_MAX_PEM_BYTES, "client-key",
					  owner, &c->key, &c->key_len, err, errlen);
			if (r < 0)
				goto fail;
		}
		if (!o->client_cert_file && !o->client_key_file && !c->cert != !c->key) {
			base_err_set(err, errlen, "%s: %s without %s", owner,
				     c->cert ? "client-certificate" : "client-key",
				     c->cert ? "client-key" : "client-certificate");
			r = -EINVAL;
			goto fail;
		}
		if (o->token) {
			/* cfg_token_flag() below */
		} else if (u->token) {
			c->token = strdup(u->token);
			if (!c->token) {
				r = -ENOMEM;
				goto fail;
			}
		} else if (u->token_file) {
			c->token_file = strdup(u->token_file);
			if (!c->token_file) {
				r = -ENOMEM;
				goto fail;
			}
			r = cfg_read_token(c->token_file, &c->token, &c->token_st);
			if (r < 0) {
				base_err_set(err, errlen, "%s: tokenFile %s: %s", owner,
					     u->token_file,
					     r == -E2BIG ? "file too large" : strerror(-r));
				goto fail;
			}
		} else if (u->has_exec) {
			r = k8s_exec_plugin_dup(&u->exec, &c->exec);
			if (r < 0)
				goto fail;
			c->has_exec = true;
			free(c->exec.owner);
			if (asprintf(&c->exec.owner, "user \"%s\" (%s)", u->name, u->file) < 0) {
				c->exec.owner = NULL;
				r = -ENOMEM;
				goto fail;
			}
			if (cl && (cfg_dup(cl->exec_config, &c->exec_config) < 0 ||
				   cfg_dup(cl->tls_server_name, &c->tls_server_name) < 0)) {
				r = -ENOMEM;
				goto fail;
			}
		}
	}
	r = cfg_cert_flags(c, o, err, errlen);
	if (r == 0)
		r = cfg_token_flag(c, o);
	if (r == 0)
		r = cfg_impersonation(c, o, u, err, errlen);
	if (r < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	base_buf_done(&b);
	k8s_config_free(c);
	return r;
}

int k8s_config_parse(const void *buf, size_t len, const char *name, const char *context,
		     struct k8s_config **ret, char *err, size_t errlen)
{
	struct k8s_config_opts o = {.context = context};
	struct cfg_set s = {0};
	int r;

	r = cfg_parse_into(&s, name ? name : "kubeconfig", buf, len, err, errlen);
	if (r == 0)
		r = cfg_resolve(&s, &o, ret, err, errlen);
	cfg_set_done(&s);
	return r;
}

static int cfg_add_file(struct cfg_set *s, const char *path, bool must_exist, char *err,
			size_t errlen)
{
	char *buf = NULL;
	size_t len;
	int r;

	r = cfg_read_file(path, K8S_CONFIG_MAX_BYTES, &buf, &len);
	if (r == -ENOENT && !must_exist)
		return 0;
	if (r < 0) {
		base_err_set(err, errlen, "%s: %s", path,
			     r == -E2BIG ? "file too large" : strerror(-r));
		return r;
	}
	r = cfg_parse_into(s, path, buf, len, err, errlen);
	free(buf);
	return r;
}

static int cfg_in_cluster(const struct k8s_config_opts *opts, struct k8s_config **ret, char *err,
			  size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *root = opts && opts->root ? opts->root : "";
	struct k8s_config *c;
	char *path = NULL, *server = NULL;
	size_t len;
	int r;

	if (!host || !*host || !port || !*port) {
		base_err_set(
			err, errlen,
			"in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not "
			"set");
		return -ENOENT;
	}
	c = cfg_alloc();
	if (!c)
		return -ENOMEM;
	c->in_cluster = true;
	if (asprintf(&server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port) <
	    0) {
		server = NULL;
		r = -ENOMEM;
		goto fail;
	}
	r = cfg_set_server(c, server);
	free(server);
	if (r < 0)
		goto fail;
	c->source = strdup("in-cluster");
	if (!c->source || asprintf(&c->token_file, "%s" K8S_CONFIG_SA_DIR "/token", root) < 0) {
		c->token_file = NULL;
		r = -ENOMEM;
		goto fail;
	}
	r = cfg_read_token(c->token_file, &c->token, &c->token_st);
	if (r < 0) {
		base_err_set(err, errlen, "in-cluster: %s: %s", c->token_file,
			     r == -E2BIG ? "file too large" : strerror(-r));
		goto fail;
	}
	/* client-go goes on without the CA when ca.crt is missing; so do we */
	if (asprintf(&path, "%s" K8S_CONFIG_SA_DIR "/ca.crt", root) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	r = cfg_read_file(path, K8S_CONFIG_MAX_PEM_BYTES, &c->ca, &c->ca_len);
	if (r < 0 && r != -ENOENT) {
		base_err_set(err, errlen, "in-cluster: %s: %s", path,
			     r == -E2BIG ? "file too large" : strerror(-r));
		free(path);
		goto fail;
	}
	free(path);
	if (asprintf(&path, "%s" K8S_CONFIG_SA_DIR "/namespace", root) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	r = cfg_read_file(path, 256, &c->namespace, &len);
	free(path);
	if (r == 0)
		cfg_strip(c->namespace);
	if (!c->namespace || !*c->namespace) {
		free(c->namespace);
		c->namespace = strdup("default");
		if (!c->namespace) {
			r = -ENOMEM;
			goto fail;
		}
	}
	/* the flags apply here too (kubectl in a pod, --as for a test of RBAC) */
	if (opts->server) {
		free(c->server);
		r = cfg_check_server(opts->server, "--server", err, errlen);
		if (r == 0)
			r = cfg_set_server(c, opts->server);
		if (r < 0)
			goto fail;
	}
	r = cfg_ca_flags(c, opts, err, errlen);
	if (r == 0)
		r = cfg_cert_flags(c, opts, err, errlen);
	if (r == 0)
		r = cfg_token_flag(c, opts);
	if (r == 0)
		r = cfg_impersonation(c, opts, NULL, err, errlen);
	if (r < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	k8s_config_free(c);
	return r;
}

int k8s_config_load(const struct k8s_config_opts *opts, struct k8s_config **ret, char *err,
		    size_t errlen)
{
	struct k8s_config_opts none = {0};
	struct cfg_set s = {0};
	struct k8s_config *c = NULL;
	const char *env;
	char *home_cfg = NULL;
	int r = 0;

	if (!opts)
		opts = &none;
	if (opts->in_cluster) {
		r = cfg_in_cluster(opts, &c, err, errlen);
		goto done;
	}
	if (opts->kubeconfig) {
		r = cfg_add_file(&s, opts->kubeconfig, true, err, errlen);
		if (r == 0)
			r = cfg_resolve(&s, opts, &c, err, errlen);
		goto done;
	}
	env = getenv("KUBECONFIG");
	if (env && *env) {
		const char *p = env;
		size_t n_listed = 0;

		while (*p) {
			const char *end = strchrnul(p, ':');
			char *one;

			if (end > p) {
				if (++n_listed > K8S_CONFIG_MAX_FILES) {
					base_err_set(err, errlen, "KUBECONFIG: more than %u files",
						     K8S_CONFIG_MAX_FILES);
					r = -E2BIG;
					goto done;
				}
				one = strndup(p, end - p);
				if (!one) {
					r = -ENOMEM;
					goto done;
				}
				r = cfg_add_file(&s, one, false, err, errlen);
				free(one);
				if (r < 0)
					goto done;
			}
			p = *end ? end + 1 : end;
		}
	} else {
		const char *home = getenv("HOME");

		if (home && *home) {
			if (asprintf(&home_cfg, "%s/.kube/config", home) < 0) {
				home_cfg = NULL;
				r = -ENOMEM;
				goto done;
			}
			r = cfg_add_file(&s, home_cfg, false, err, errlen);
			if (r < 0)
				goto done;
		}
	}
	if (s.n_files || opts->server) {
		/* --server needs no kubeconfig, as with kubectl */
		r = cfg_resolve(&s, opts, &c, err, errlen);
		goto done;
	}
	env = getenv("KUBERNETES_SERVICE_HOST");
	if (env && *env) {
		r = cfg_in_cluster(opts, &c, err, errlen);
		goto done;
	}
	base_err_set(err, errlen, "no kubeconfig found (%s) and not running in a cluster",
		     getenv("KUBECONFIG") && *getenv("KUBECONFIG") ? "none of $KUBECONFIG exists"
								   : "no ~/.kube/config");
	r = -ENOENT;
done:
	cfg_set_done(&s);
	free(home_cfg);
	if (r < 0)
		return r;
	if (opts->token_recheck_s)
		c->token_recheck_s = opts->token_recheck_s;
	c->exec_timeout_ms = opts->exec_timeout_ms;
	*ret = c;
	return 0;
}

struct k8s_config *k8s_config_free(struct k8s_config *c)
{
	if (!c)
		return NULL;
	free(c->server);
	free(c->context);
	free(c->cluster);
	free(c->user);
	free(c->namespace);
	free(c->source);
	free(c->ca);
	free(c->cert);
	if (c->key) {
		explicit_bzero(c->key, c->key_len);
		free(c->key);
	}
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	free(c->token_file);
	free(c->proxy_url);
	free(c->as_user);
	for (size_t i = 0; i < c->n_as_groups; i++)
		free(c->as_groups[i]);
	free(c->as_groups);
	free(c->as_uid);
	k8s_exec_plugin_done(&c->exec);
	free(c->exec_config);
	free(c->tls_server_name);
	k8s_exec_credential_done(&c->exec_cred);
	pthread_mutex_destroy(&c->token_lock);
	free(c);
	return NULL;
}

const char *k8s_config_server(const struct k8s_config *c)
{
	return c->server;
}

const char *k8s_config_context(const struct k8s_config *c)
{
	return c->context;
}

const char *k8s_config_cluster(const struct k8s_config *c)
{
	return c->cluster;
}

const char *k8s_config_user(const struct k8s_config *c)
{
	return c->user;
}

const char *k8s_config_namespace(const struct k8s_config *c)
{
	return c->namespace;
}

const char *k8s_config_source(const struct k8s_config *c)
{
	return c->source;
}

bool k8s_config_in_cluster(const struct k8s_config *c)
{
	return c->in_cluster;
}

bool k8s_config_insecure(const struct k8s_config *c)
{
	return c->insecure;
}

const char *k8s_config_ca(const struct k8s_config *c, size_t *len)
{
	*len = c->ca_len;
	return c->ca;
}

const char *k8s_config_client_cert(const struct k8s_config *c, size_t *len)
{
	*len = c->cert_len;
	return c->cert;
}

const char *k8s_config_client_key(const struct k8s_config *c, size_t *len)
{
	*len = c->key_len;
	return c->key;
}

static bool cfg_stat_changed(const struct stat *a, const struct stat *b)
{
	return a->st_ino != b->st_ino || a->st_dev != b->st_dev || a->st_size != b->st_size ||
	       a->st_mtim.tv_sec != b->st_mtim.tv_sec || a->st_mtim.tv_nsec != b->st_mtim.tv_nsec;
}

/* Called with token_lock held. */
static void cfg_token_refresh(struct k8s_config *c)
{
	uint64_t now = base_time_mono_ms();
	struct stat st;
	char *fresh = NULL;

	if (!c->token_force && now - c->token_checked_ms < (uint64_t)c->token_recheck_s * 1000)
		return;
	c->token_force = false;
	c->token_checked_ms = now;
	if (stat(c->token_file, &st) < 0 || !cfg_stat_changed(&st, &c->token_st))
		return;
	if (cfg_read_token(c->token_file, &fresh, &st) < 0)
		return; /* keep the last token; the server will say if it is stale */
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	c->token = fresh;
	c->token_st = st;
}

const char *k8s_config_proxy(const struct k8s_config *c)
{
	return c->proxy_url;
}

const char *k8s_config_as_user(const struct k8s_config *c)
{
	return c->as_user;
}

const char *const *k8s_config_as_groups(const struct k8s_config *c, size_t *n)
{
	*n = c->n_as_groups;
	return (const char *const *)c->as_groups;
}

const char *k8s_config_as_uid(const struct k8s_config *c)
{
	return c->as_uid;
}

const char *k8s_config_exec_command(const struct k8s_config *c)
{
	return c->has_exec ? c->exec.command : NULL;
}

/* Called with token_lock held: the plugin's answer, still good? */
static bool cfg_exec_fresh(const struct k8s_config *c)
{
	return c->exec_valid &&
	       (!c->exec_cred.expires || (int64_t)time(NULL) < c->exec_cred.expires_unix);
}

/* Called with token_lock held: runs the plugin and keeps its answer. */
static int cfg_exec_run(struct k8s_config *c, char *err, size_t errlen)
{
	struct k8s_exec_cluster cl = {
		.server = c->server,
		.ca = c->ca,
		.ca_len = c->ca_len,
		.insecure = c->insecure,
		.proxy_url = c->proxy_url,
		.config_json = c->exec_config,
		.tls_server_name = c->tls_server_name,
	};
	struct k8s_exec_credential fresh = {0};
	int r;

	r = k8s_exec_run(&c->exec, &cl, c->exec_timeout_ms, &fresh, err, errlen);
	if (r < 0)
		return r;
	k8s_exec_credential_done(&c->exec_cred);
	c->exec_cred = fresh;
	c->exec_valid = true;
	return 0;
}

static int cfg_copy(const char *src, size_t len, char **ret, size_t *ret_len)
{
	if (!src)
		return 0;
	*ret = malloc(len + 1);
	if (!*ret)
		return -ENOMEM;
	memcpy(*ret, src, len);
	(*ret)[len] = '\0';
	if (ret_len)
		*ret_len = len;
	return 0;
}

void k8s_config_creds_done(struct k8s_config_creds *cr)
{
	if (!cr)
		return;
	if (cr->token) {
		explicit_bzero(cr->token, strlen(cr->token));
		free(cr->token);
	}
	if (cr->key) {
		explicit_bzero(cr->key, cr->key_len);
		free(cr->key);
	}
	free(cr->cert);
	memset(cr, 0, sizeof(*cr));
}

/* Called with token_lock held. */
static int cfg_creds_locked(struct k8s_config *c, struct k8s_config_creds *ret, char *err,
			    size_t errlen)
{
	struct k8s_config_creds cr = {0};
	const char *token = c->token, *cert = c->cert, *key = c->key;
	size_t cert_len = c->cert_len, key_len = c->key_len;
	int r;

	if (c->token_file)
		cfg_token_refresh(c);
	token = c->token;
	if (c->has_exec) {
		if (!cfg_exec_fresh(c)) {
			r = cfg_exec_run(c, err, errlen);
			if (r < 0)
				return r;
		}
		token = c->exec_cred.token;
		if (c->exec_cred.cert) {
			cert = c->exec_cred.cert;
			cert_len = c->exec_cred.cert_len;
			key = c->exec_cred.key;
			key_len = c->exec_cred.key_len;
		}
	}
	if (cfg_copy(token, token ? strlen(token) : 0, &cr.token, NULL) < 0 ||
	    cfg_copy(cert, cert_len, &cr.cert, &cr.cert_len) < 0 ||
	    cfg_copy(key, key_len, &cr.key, &cr.key_len) < 0) {
		k8s_config_creds_done(&cr);
		return -ENOMEM;
	}
	*ret = cr;
	return 0;
}

int k8s_config_creds(struct k8s_config *c, struct k8s_config_creds *ret, char *err, size_t errlen)
{
	int r;

	pthread_mutex_lock(&c->token_lock);
	r = cfg_creds_locked(c, ret, err, errlen);
	pthread_mutex_unlock(&c->token_lock);
	return r;
}

static bool cfg_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

bool k8s_config_refresh(struct k8s_config *c, const struct k8s_config_creds *used)
{
	struct k8s_config_creds now = {0};
	bool changed = false;
	char err[8];

	pthread_mutex_lock(&c->token_lock);
	c->token_force = true;
	/*
	 * The plugin runs again only when the answer that was refused is still
	 * the one kept: a thread that came second finds the new one and uses it.
	 */
	if (c->has_exec && c->exec_valid && cfg_same(c->exec_cred.token, used ? used->token : NULL))
		c->exec_valid = false;
	if (cfg_creds_locked(c, &now, err, sizeof(err)) == 0) {
		changed = !used || !cfg_same(now.token, used->token) ||
			  !cfg_same(now.cert, used->cert);
		k8s_config_creds_done(&now);
	}
	pthread_mutex_unlock(&c->token_lock);
	return changed;
}

int k8s_config_token(struct k8s_config *c, char **ret)
{
	struct k8s_config_creds cr;
	int r;

	r = k8s_config_creds(c, &cr, NULL, 0);
	if (r < 0)
		return r;
	*ret = cr.token;
	cr.token = NULL;
	k8s_config_creds_done(&cr);
	return 0;
}

void k8s_config_token_invalidate(struct k8s_config *c)
{
	pthread_mutex_lock(&c->token_lock);
	c->token_force = true;
	c->exec_valid = false;
	pthread_mutex_unlock(&c->token_lock);
}
