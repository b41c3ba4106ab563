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
#include <yaml.h>

#include "base/b64.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/file.h"
#include "base/log.h"
#include "base/time.h"
#include "base/yaml.h"

struct cfg_cluster {
	char *name;
	const char *file;
	char *dir;
	char *server;
	char *ca_file;
	char *ca_data;
	size_t ca_data_len;
	bool insecure;
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
	const char *plugin; /* "exec" or "auth-provider" when one is set */
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
		else if ((!strcmp(key, "exec") || !strcmp(key, "auth-provider")) &&
			 !base_yaml_is_null(v))
			u->plugin = !strcmp(key, "exec") ? "exec" : "auth-provider";
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

/* Chooses the context and builds the final object from the merged set. */
static int cfg_resolve(struct cfg_set *s, const char *context, struct k8s_config **ret, char *err,
		       size_t errlen)
{
	const struct cfg_context *ctx = NULL;
	const struct cfg_cluster *cl = NULL;
	const struct cfg_user *u = NULL;
	struct k8s_config *c;
	const char *src = s->n_files ? s->files[0] : "kubeconfig";
	struct base_buf b = BASE_BUF_INIT(0);
	int r;

	if (!context)
		context = s->current_context;
	if (!context) {
		base_err_set(err, errlen, "%s: no current-context set and no context given", src);
		return -ENOENT;
	}
	for (size_t i = 0; i < s->n_contexts; i++)
		if (!strcmp(s->contexts[i].name, context))
			ctx = &s->contexts[i];
	if (!ctx) {
		base_err_set(err, errlen, "%s: context \"%s\" not found",
			     s->current_context_file && context == s->current_context
				     ? s->current_context_file
				     : src,
			     context);
		return -ENOENT;
	}
	if (!ctx->cluster) {
		base_err_set(err, errlen, "%s: context \"%s\" has no cluster", ctx->file,
			     ctx->name);
		return -EINVAL;
	}
	for (size_t i = 0; i < s->n_clusters; i++)
		if (!strcmp(s->clusters[i].name, ctx->cluster))
			cl = &s->clusters[i];
	if (!cl) {
		base_err_set(err, errlen, "%s: cluster \"%s\" of context \"%s\" not found",
			     ctx->file, ctx->cluster, ctx->name);
		return -ENOENT;
	}
	if (ctx->user) {
		for (size_t i = 0; i < s->n_users; i++)
			if (!strcmp(s->users[i].name, ctx->user))
				u = &s->users[i];
		if (!u) {
			base_err_set(err, errlen, "%s: user \"%s\" of context \"%s\" not found",
				     ctx->file, ctx->user, ctx->name);
			return -ENOENT;
		}
	}
	if (!cl->server || !*cl->server) {
		base_err_set(err, errlen, "%s: cluster \"%s\": no server", cl->file, cl->name);
		return -EINVAL;
	}
	if (strncmp(cl->server, "https://", 8) && strncmp(cl->server, "http://", 7)) {
		base_err_set(err, errlen, "%s: cluster \"%s\": server \"%s\" is not an http(s) URL",
			     cl->file, cl->name, cl->server);
		return -EINVAL;
	}
	if (cl->insecure && (cl->ca_data || cl->ca_file)) {
		base_err_set(
			err, errlen,
			"%s: cluster \"%s\": certificate-authority and insecure-skip-tls-verify "
			"are mutually exclusive",
			cl->file, cl->name);
		return -EINVAL;
	}
	if (u && u->plugin && !u->token && !u->token_file && !u->cert_data && !u->cert_file) {
		base_err_set(err, errlen,
			     "%s: user \"%s\": %s credential plugins are not supported", u->file,
			     u->name, u->plugin);
		return -EOPNOTSUPP;
	}

	c = cfg_alloc();
	if (!c)
		return -ENOMEM;
	r = cfg_set_server(c, cl->server);
	if (r < 0)
		goto fail;
	c->context = strdup(ctx->name);
	c->cluster = strdup(cl->name);
	c->user = u ? strdup(u->name) : NULL;
	c->namespace = strdup(ctx->namespace && *ctx->namespace ? ctx->namespace : "default");
	for (size_t i = 0; i < s->n_files; i++) {
		if (i)
			base_buf_putc(&b, ':');
		base_buf_puts(&b, s->files[i]);
	}
	c->source = base_buf_take(&b);
	if (!c->context || !c->cluster || (u && !c->user) || !c->namespace || !c->source) {
		r = -ENOMEM;
		goto fail;
	}
	c->insecure = cl->insecure;

	/* the -data form wins over the file, as in client-go */
	if (cl->ca_data) {
		c->ca = malloc(cl->ca_data_len + 1);
		if (!c->ca) {
			r = -ENOMEM;
			goto fail;
		}
		memcpy(c->ca, cl->ca_data, cl->ca_data_len + 1);
		c->ca_len = cl->ca_data_len;
	} else if (cl->ca_file) {
		char owner[300];

		snprintf(owner, sizeof(owner), "%s: cluster \"%s\"", cl->file, cl->name);
		r = cfg_load_file(cl->ca_file, K8S_CONFIG_MAX_PEM_BYTES, "certificate-authority",
				  owner, &c->ca, &c->ca_len, err, errlen);
		if (r < 0)
			goto fail;
	}
	if (u) {
		char owner[300];

		snprintf(owner, sizeof(owner), "%s: user \"%s\"", u->file, u->name);
		if (u->cert_data) {
			c->cert = strndup(u->cert_data, u->cert_data_len);
			c->cert_len = u->cert_data_len;
			if (!c->cert) {
				r = -ENOMEM;
				goto fail;
			}
		} else if (u->cert_file) {
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
		} else if (u->key_file) {
			r = cfg_load_file(u->key_file, K8S_CONFIG_MAX_PEM_BYTES, "client-key",
					  owner, &c->key, &c->key_len, err, errlen);
			if (r < 0)
				goto fail;
		}
		if (!c->cert != !c->key) {
			base_err_set(err, errlen, "%s: %s without %s", owner,
				     c->cert ? "client-certificate" : "client-key",
				     c->cert ? "client-key" : "client-certificate");
			r = -EINVAL;
			goto fail;
		}
		if (u->token) {
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
		}
	}
	*ret = c;
	return 0;
fail:
	k8s_config_free(c);
	return r;
}

int k8s_config_parse(const void *buf, size_t len, const char *name, const char *context,
		     struct k8s_config **ret, char *err, size_t errlen)
{
	struct cfg_set s = {0};
	int r;

	r = cfg_parse_into(&s, name ? name : "kubeconfig", buf, len, err, errlen);
	if (r == 0)
		r = cfg_resolve(&s, context, ret, err, errlen);
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
			r = cfg_resolve(&s, opts->context, &c, err, errlen);
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
	if (s.n_files) {
		r = cfg_resolve(&s, opts->context, &c, err, errlen);
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

int k8s_config_token(struct k8s_config *c, char **ret)
{
	char *copy = NULL;
	bool oom;

	pthread_mutex_lock(&c->token_lock);
	if (c->token_file)
		cfg_token_refresh(c);
	if (c->token)
		copy = strdup(c->token);
	oom = c->token && !copy;
	pthread_mutex_unlock(&c->token_lock);
	if (oom)
		return -ENOMEM;
	*ret = copy;
	return 0;
}

void k8s_config_token_invalidate(struct k8s_config *c)
{
	pthread_mutex_lock(&c->token_lock);
	c->token_force = true;
	pthread_mutex_unlock(&c->token_lock);
}
