// SPDX-License-Identifier: Apache-2.0
/*
 * config.yaml and its overrides.  See config.h.
 *
 * The file is loaded as a libyaml document and walked against a table of
 * known keys, so the set of keys, their types and the messages that name
 * them live in one place.  Aliases are refused (they are of no use in this
 * file and would let a small file expand into a large one).
 */
#include "agent/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "agent/instance.h"
#include "base/err.h"
#include "base/file.h"
#include "base/parse.h"
#include "base/yaml.h"
#include "oci/allow.h"
#include "oci/key.h"

static void cfg_strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void cfg_runtimes_clear(struct agent_config *c)
{
	size_t i;

	for (i = 0; i < c->n_runtimes; i++) {
		free(c->runtimes[i].name);
		free(c->runtimes[i].socket_path);
		c->runtimes[i].name = c->runtimes[i].socket_path = NULL;
	}
	c->n_runtimes = 0;
}

static int cfg_default_runtimes(struct agent_config *c)
{
	cfg_runtimes_clear(c);
	c->runtimes[0].name = strdup("containerd");
	c->runtimes[0].socket_path = strdup(AGENT_CONFIG_CONTAINERD_SOCKET);
	c->runtimes[1].name = strdup("cri-o");
	c->runtimes[1].socket_path = strdup(AGENT_CONFIG_CRIO_SOCKET);
	c->n_runtimes = 2;
	if (!c->runtimes[0].name || !c->runtimes[0].socket_path || !c->runtimes[1].name ||
	    !c->runtimes[1].socket_path)
		return -ENOMEM;
	return 0;
}

/* Replaces *dst with a copy of v (NULL stays NULL). */
static int cfg_set_str(char **dst, const char *v)
{
	char *p = NULL;

	if (v) {
		p = strdup(v);
		if (!p)
			return -ENOMEM;
	}
	free(*dst);
	*dst = p;
	return 0;
}

int agent_config_init(struct agent_config *c)
{
	int r = 0;

	memset(c, 0, sizeof(*c));
	c->queue_max_records = AGENT_CONFIG_DEFAULT_MAX_RECORDS;
	c->log_level = BASE_LOG_INFO;
	c->metrics_max_series = AGENT_CONFIG_DEFAULT_METRICS_SERIES;
	c->logs_max_size_mb = AGENT_CONFIG_DEFAULT_LOGS_SIZE_MB;
	c->logs_max_backups = AGENT_CONFIG_DEFAULT_LOGS_BACKUPS;
	r |= cfg_set_str(&c->metrics_address, AGENT_CONFIG_DEFAULT_METRICS_ADDRESS);
	r |= cfg_set_str(&c->logs_channel, "none");
	r |= cfg_set_str(&c->logs_dir, AGENT_CONFIG_DEFAULT_LOGS_DIR);
	c->verify_image = true;
	c->hello_timeout_ms = AGENT_CONFIG_DEFAULT_HELLO_MS;
	c->idle_timeout_ms = AGENT_CONFIG_DEFAULT_IDLE_MS;
	c->pull_timeout_ms = AGENT_CONFIG_DEFAULT_PULL_MS;
	r |= cfg_set_str(&c->host_root, "/");
	r |= cfg_set_str(&c->gadget_namespace, AGENT_CONFIG_DEFAULT_NAMESPACE);
	r |= cfg_set_str(&c->instance_label, AGENT_CONFIG_DEFAULT_LABEL);
	r |= cfg_set_str(&c->listen_address, AGENT_CONFIG_DEFAULT_LISTEN);
	r |= cfg_set_str(&c->listen_unix, AGENT_CONFIG_DEFAULT_UNIX);
	r |= cfg_set_str(&c->listen_unix_group, "");
	r |= cfg_set_str(&c->health_address, AGENT_CONFIG_DEFAULT_HEALTH);
	r |= cfg_set_str(&c->store_dir, AGENT_CONFIG_DEFAULT_STORE);
	r |= cfg_default_runtimes(c);
	return r ? -ENOMEM : 0;
}

void agent_config_done(struct agent_config *c)
{
	if (!c)
		return;
	free(c->node_name);
	free(c->host_root);
	free(c->gadget_namespace);
	free(c->instance_label);
	cfg_runtimes_clear(c);
	free(c->listen_address);
	free(c->listen_unix);
	free(c->listen_unix_group);
	free(c->health_address);
	free(c->store_dir);
	free(c->metrics_address);
	free(c->logs_channel);
	free(c->logs_dir);
	cfg_strv_free(c->insecure_registries, c->n_insecure_registries);
	cfg_strv_free(c->allowed_gadgets, c->n_allowed_gadgets);
	cfg_strv_free(c->public_keys, c->n_public_keys);
	memset(c, 0, sizeof(*c));
}

int agent_config_parse_log_level(const char *s, enum base_log_level *ret)
{
	static const struct {
		const char *name;
		enum base_log_level level;
	} levels[] = {
		{"debug", BASE_LOG_DEBUG},
		{"info", BASE_LOG_INFO},
		{"warn", BASE_LOG_WARN},
		{"error", BASE_LOG_ERROR},
	};
	size_t i;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (!strcmp(s, levels[i].name)) {
			*ret = levels[i].level;
			return 0;
		}
	return -EINVAL;
}

/* ------------------------------------------------------------ the walk */

enum cfg_type {
	CFG_STRING,
	CFG_MAP,
	CFG_UINT,
	CFG_LOG_LEVEL,
	CFG_STRLIST,
	CFG_RUNTIMES,
	CFG_BOOL,
	CFG_LISTEN_ADDRESS, /* a string, remembered as given */
	CFG_DURATION,	    /* "10s", "500ms", "5m": uint64_t milliseconds */
	CFG_SIZE,	    /* 134217728, "128MiB", "1G": uint64_t bytes */
};

struct cfg_key {
	const char *path; /* dotted */
	enum cfg_type type;
	size_t off;	   /* into struct agent_config */
	size_t count_off;  /* CFG_STRLIST: the count */
	uint64_t min, max; /* CFG_UINT; both 0: queue.maxRecords' range */
};

#define CFG_OFF(f) offsetof(struct agent_config, f)

static const struct cfg_key cfg_keys[] = {
	{"nodeName", CFG_STRING, CFG_OFF(node_name), 0, 0, 0},
	{"hostRoot", CFG_STRING, CFG_OFF(host_root), 0, 0, 0},
	{"gadgetNamespace", CFG_STRING, CFG_OFF(gadget_namespace), 0, 0, 0},
	{"instanceConfigMapLabel", CFG_STRING, CFG_OFF(instance_label), 0, 0, 0},
	{"runtimes", CFG_RUNTIMES, 0, 0, 0, 0},
	{"listen", CFG_MAP, 0, 0, 0, 0},
	{"listen.address", CFG_LISTEN_ADDRESS, CFG_OFF(listen_address), 0, 0, 0},
	{"listen.unixSocket", CFG_STRING, CFG_OFF(listen_unix), 0, 0, 0},
	{"listen.unixSocketGroup", CFG_STRING, CFG_OFF(listen_unix_group), 0, 0, 0},
	{"listen.helloTimeout", CFG_DURATION, CFG_OFF(hello_timeout_ms), 0, 0, 0},
	{"listen.idleTimeout", CFG_DURATION, CFG_OFF(idle_timeout_ms), 0, 0, 0},
	{"health", CFG_MAP, 0, 0, 0, 0},
	{"health.address", CFG_STRING, CFG_OFF(health_address), 0, 0, 0},
	{"oci", CFG_MAP, 0, 0, 0, 0},
	{"oci.storeDir", CFG_STRING, CFG_OFF(store_dir), 0, 0, 0},
	{"oci.insecureRegistries", CFG_STRLIST, CFG_OFF(insecure_registries),
	 CFG_OFF(n_insecure_registries), 0, 0},
	{"oci.allowedGadgets", CFG_STRLIST, CFG_OFF(allowed_gadgets), CFG_OFF(n_allowed_gadgets), 0,
	 0},
	{"oci.verifyImage", CFG_BOOL, CFG_OFF(verify_image), 0, 0, 0},
	{"oci.publicKeys", CFG_STRLIST, CFG_OFF(public_keys), CFG_OFF(n_public_keys), 0, 0},
	{"oci.disallowPulling", CFG_BOOL, CFG_OFF(disallow_pulling), 0, 0, 0},
	{"oci.pullTimeout", CFG_DURATION, CFG_OFF(pull_timeout_ms), 0, 0, 0},
	{"memoryBudget", CFG_SIZE, CFG_OFF(memory_budget), 0, 0, 0},
	{"queue", CFG_MAP, 0, 0, 0, 0},
	{"queue.maxRecords", CFG_UINT, CFG_OFF(queue_max_records), 0, 0, 0},
	{"logLevel", CFG_LOG_LEVEL, CFG_OFF(log_level), 0, 0, 0},
	/* Inspektor Gadget's names for the gadget metrics endpoint */
	{"otel-metrics-listen", CFG_BOOL, CFG_OFF(metrics_listen), 0, 0, 0},
	{"otel-metrics-listen-address", CFG_STRING, CFG_OFF(metrics_address), 0, 0, 0},
	{"otel-metrics-max-series", CFG_UINT, CFG_OFF(metrics_max_series), 0, 1,
	 AGENT_CONFIG_MAX_METRICS_SERIES},
	{"logs", CFG_MAP, 0, 0, 0, 0},
	{"logs.channel", CFG_STRING, CFG_OFF(logs_channel), 0, 0, 0},
	{"logs.directory", CFG_STRING, CFG_OFF(logs_dir), 0, 0, 0},
	{"logs.max-size-mb", CFG_UINT, CFG_OFF(logs_max_size_mb), 0, 1, AGENT_INSTANCE_MAX_LOG_MB},
	{"logs.max-backups", CFG_UINT, CFG_OFF(logs_max_backups), 0, 1,
	 AGENT_INSTANCE_MAX_LOG_BACKUPS},
};

struct cfg_walk {
	struct agent_config *c;
	struct base_yaml *y;
};

/* The scalar's text, or NULL (after setting the error) for anything else. */
static const char *cfg_scalar(struct cfg_walk *w, const yaml_node_t *n, const char *path, int *r)
{
	const char *s = NULL;

	switch (base_yaml_string(n, AGENT_CONFIG_MAX_VALUE, &s)) {
	case 0:
		return s;
	case -E2BIG:
		*r = base_yaml_fail(w->y, n, -E2BIG, "%s: value longer than %u bytes", path,
				    AGENT_CONFIG_MAX_VALUE);
		break;
	case -EILSEQ:
		*r = base_yaml_fail(w->y, n, -EINVAL, "%s: value contains a NUL byte", path);
		break;
	default:
		*r = base_yaml_fail(w->y, n, -EINVAL, "%s: expected a string, got %s", path,
				    base_yaml_kind(n));
	}
	return NULL;
}

static const struct cfg_key *cfg_find_key(const char *path)
{
	size_t i;

	for (i = 0; i < sizeof(cfg_keys) / sizeof(cfg_keys[0]); i++)
		if (!strcmp(cfg_keys[i].path, path))
			return &cfg_keys[i];
	return NULL;
}

static int cfg_strlist(struct cfg_walk *w, const struct cfg_key *k, const yaml_node_t *n)
{
	char ***dst = (char ***)((char *)w->c + k->off);
	size_t *count = (size_t *)((char *)w->c + k->count_off);
	size_t i, len;
	char **v;
	int r = 0;

	if (n->type != YAML_SEQUENCE_NODE)
		return base_yaml_fail(w->y, n, -EINVAL, "%s: expected a list of strings, got %s",
				      k->path, base_yaml_kind(n));
	len = base_yaml_len(n);
	if (len > AGENT_CONFIG_MAX_LIST)
		return base_yaml_fail(w->y, n, -E2BIG, "%s: more than %d entries", k->path,
				      AGENT_CONFIG_MAX_LIST);
	v = calloc(len + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < len; i++) {
		yaml_node_t *item = base_yaml_item(w->y, n, i);
		char path[64];
		const char *s;

		snprintf(path, sizeof(path), "%s[%zu]", k->path, i);
		s = cfg_scalar(w, item, path, &r);
		if (!s)
			goto fail;
		if (!*s) {
			r = base_yaml_fail(w->y, item, -EINVAL, "%s: empty string", path);
			goto fail;
		}
		v[i] = strdup(s);
		if (!v[i]) {
			r = -ENOMEM;
			goto fail;
		}
	}
	cfg_strv_free(*dst, *count);
	*dst = v;
	*count = len;
	return 0;
fail:
	cfg_strv_free(v, len);
	return r;
}

static int cfg_runtimes(struct cfg_walk *w, const yaml_node_t *n)
{
	struct agent_config_runtime rts[AGENT_CONFIG_MAX_RUNTIMES] = {0};
	size_t i, k, len;
	int r = 0;

	if (n->type != YAML_SEQUENCE_NODE)
		return base_yaml_fail(w->y, n, -EINVAL, "runtimes: expected a list, got %s",
				      base_yaml_kind(n));
	len = base_yaml_len(n);
	if (len > AGENT_CONFIG_MAX_RUNTIMES)
		return base_yaml_fail(w->y, n, -E2BIG, "runtimes: more than %d entries",
				      AGENT_CONFIG_MAX_RUNTIMES);
	if (len == 0) /* empty means the defaults, as documented */
		return cfg_default_runtimes(w->c);
	for (i = 0; i < len; i++) {
		yaml_node_t *item = base_yaml_item(w->y, n, i), *kn, *vn;

		if (item->type != YAML_MAPPING_NODE) {
			r = base_yaml_fail(w->y, item, -EINVAL,
					   "runtimes[%zu]: expected a mapping {name, socketPath}, "
					   "got %s",
					   i, base_yaml_kind(item));
			goto out;
		}
		for (size_t j = 0; base_yaml_pair(w->y, item, j, &kn, &vn); j++) {
			const char *key = base_yaml_text(kn), *val;
			char path[64];
			char **dst;

			if (key && !strcmp(key, "name")) {
				dst = &rts[i].name;
			} else if (key && !strcmp(key, "socketPath")) {
				dst = &rts[i].socket_path;
			} else {
				r = base_yaml_fail(w->y, kn, -EINVAL,
						   "unknown key 'runtimes[%zu].%s'", i,
						   key ? key : "?");
				goto out;
			}
			snprintf(path, sizeof(path), "runtimes[%zu].%s", i, key);
			if (*dst) {
				r = base_yaml_fail(w->y, kn, -EINVAL, "%s: given twice", path);
				goto out;
			}
			val = cfg_scalar(w, vn, path, &r);
			if (!val)
				goto out;
			*dst = strdup(val);
			if (!*dst) {
				r = -ENOMEM;
				goto out;
			}
		}
		if (!rts[i].name ||
		    (strcmp(rts[i].name, "containerd") && strcmp(rts[i].name, "cri-o"))) {
			r = base_yaml_fail(
				w->y, item, -EINVAL,
				"runtimes[%zu].name: must be containerd or cri-o, not '%s'", i,
				rts[i].name ? rts[i].name : "");
			goto out;
		}
		if (!rts[i].socket_path) {
			rts[i].socket_path = strdup(!strcmp(rts[i].name, "containerd")
							    ? AGENT_CONFIG_CONTAINERD_SOCKET
							    : AGENT_CONFIG_CRIO_SOCKET);
			if (!rts[i].socket_path) {
				r = -ENOMEM;
				goto out;
			}
		}
	}
	cfg_runtimes_clear(w->c);
	memcpy(w->c->runtimes, rts, sizeof(rts));
	w->c->n_runtimes = len;
	return 0;
out:
	for (k = 0; k < len; k++) {
		free(rts[k].name);
		free(rts[k].socket_path);
	}
	return r;
}

static int cfg_uint(struct cfg_walk *w, const struct cfg_key *k, const yaml_node_t *n)
{
	uint64_t v;

	if (n->type != YAML_SCALAR_NODE)
		return base_yaml_fail(w->y, n, -EINVAL, "%s: expected an integer, got %s", k->path,
				      base_yaml_kind(n));
	/* a quoted "10" is a string, as every YAML reader sees it */
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || base_yaml_uint(n, UINT64_MAX, &v))
		return base_yaml_fail(w->y, n, -EINVAL, "%s: expected an integer, got '%.64s'",
				      k->path, base_yaml_text(n));
	if (v < (k->max ? k->min : 1) || v > (k->max ? k->max : AGENT_CONFIG_MAX_QUEUE_RECORDS))
		return base_yaml_fail(
			w->y, n, -EINVAL, "%s: %llu is out of range (%llu to %llu)", k->path,
			(unsigned long long)v, (unsigned long long)(k->max ? k->min : 1),
			(unsigned long long)(k->max ? k->max : AGENT_CONFIG_MAX_QUEUE_RECORDS));
	*(uint32_t *)((char *)w->c + k->off) = (uint32_t)v;
	return 0;
}

static int cfg_bool(struct cfg_walk *w, const struct cfg_key *k, const yaml_node_t *n)
{
	const char *s = base_yaml_text(n);
	bool *dst = (bool *)((char *)w->c + k->off);

	/* YAML 1.2's booleans, unquoted: a quoted "false" is a string */
	if (n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    base_yaml_bool(n, dst) == 0)
		return 0;
	return base_yaml_fail(w->y, n, -EINVAL, "%s: expected true or false, got %s", k->path,
			      n->type == YAML_SCALAR_NODE && s ? s : base_yaml_kind(n));
}

/* A duration or a size, as a string ("10s", "128MiB") or a plain integer (ms, bytes). */
static int cfg_quantity(struct cfg_walk *w, const struct cfg_key *k, const yaml_node_t *n)
{
	bool dur = k->type == CFG_DURATION;
	uint64_t v, lo = dur ? AGENT_CONFIG_MIN_TIMEOUT_MS : AGENT_CONFIG_MIN_BUDGET;
	uint64_t hi = dur ? AGENT_CONFIG_MAX_TIMEOUT_MS : AGENT_CONFIG_MAX_BUDGET;
	const char *s;
	int r = 0;

	s = cfg_scalar(w, n, k->path, &r);
	if (!s)
		return r;
	if ((dur ? base_parse_duration_ms(s, &v) : base_parse_size(s, &v)) < 0)
		return base_yaml_fail(w->y, n, -EINVAL, "%s: '%.64s' is not a %s", k->path, s,
				      dur ? "duration (10s, 500ms, 5m)" : "size (128MiB, 1GiB)");
	/* a budget of 0 asks for the computed one */
	if ((v < lo || v > hi) && (dur || v))
		return base_yaml_fail(w->y, n, -EINVAL, "%s: '%.64s' is out of range (%s)", k->path,
				      s, dur ? "100ms to 24h" : "4MiB to 64GiB, or 0");
	*(uint64_t *)((char *)w->c + k->off) = v;
	return 0;
}

static int cfg_map(struct cfg_walk *w, const yaml_node_t *n, const char *prefix);

static int cfg_value(struct cfg_walk *w, const struct cfg_key *k, const yaml_node_t *n)
{
	const char *s;
	int r = 0;

	if (base_yaml_is_null(n))
		return 0;
	switch (k->type) {
	case CFG_MAP:
		if (n->type != YAML_MAPPING_NODE)
			return base_yaml_fail(w->y, n, -EINVAL, "%s: expected a mapping, got %s",
					      k->path, base_yaml_kind(n));
		return cfg_map(w, n, k->path);
	case CFG_STRING:
		s = cfg_scalar(w, n, k->path, &r);
		if (!s)
			return r;
		return cfg_set_str((char **)((char *)w->c + k->off), s);
	case CFG_UINT:
		return cfg_uint(w, k, n);
	case CFG_LOG_LEVEL:
		s = cfg_scalar(w, n, k->path, &r);
		if (!s)
			return r;
		if (agent_config_parse_log_level(s, (enum base_log_level *)((char *)w->c + k->off)))
			return base_yaml_fail(w->y, n, -EINVAL,
					      "%s: '%.64s' is not a level (debug, info, warn, "
					      "error)",
					      k->path, s);
		return 0;
	case CFG_STRLIST:
		return cfg_strlist(w, k, n);
	case CFG_RUNTIMES:
		return cfg_runtimes(w, n);
	case CFG_BOOL:
		return cfg_bool(w, k, n);
	case CFG_LISTEN_ADDRESS:
		s = cfg_scalar(w, n, k->path, &r);
		if (!s)
			return r;
		w->c->listen_address_given = true;
		return cfg_set_str((char **)((char *)w->c + k->off), s);
	case CFG_DURATION:
	case CFG_SIZE:
		return cfg_quantity(w, k, n);
	}
	return -EINVAL;
}

static int cfg_map(struct cfg_walk *w, const yaml_node_t *n, const char *prefix)
{
	yaml_node_t *kn, *vn;
	int r;

	for (size_t i = 0; base_yaml_pair(w->y, n, i, &kn, &vn); i++) {
		const char *key = base_yaml_text(kn);
		const struct cfg_key *k;
		char path[128];

		if (!key)
			return base_yaml_fail(w->y, kn, -EINVAL, "%s%skeys must be strings", prefix,
					      *prefix ? ": " : "");
		snprintf(path, sizeof(path), "%s%s%.64s", prefix, *prefix ? "." : "", key);
		if (base_yaml_key_repeats(w->y, n, i))
			return base_yaml_fail(w->y, kn, -EINVAL, "%s: given twice", path);
		k = cfg_find_key(path);
		if (!k)
			return base_yaml_fail(w->y, kn, -EINVAL, "unknown key '%s'", path);
		r = cfg_value(w, k, vn);
		if (r)
			return r;
	}
	return 0;
}

int agent_config_parse(struct agent_config *c, const char *text, size_t len, const char *name,
		       char *err, size_t errlen)
{
	const struct base_yaml_opts opts = {
		.name = name,
		.max_bytes = AGENT_CONFIG_MAX_BYTES,
		/* of no use in this file, and they let a small file expand into a large one */
		.no_aliases = true,
		.one_document = true,
	};
	struct base_yaml y = {0};
	struct cfg_walk w = {.c = c, .y = &y};
	yaml_node_t *root;
	int r;

	err[0] = '\0';
	r = base_yaml_load(&y, text, len, &opts, err, errlen);
	root = base_yaml_root(&y);
	/* an empty file keeps every default */
	if (r == 0 && root && !base_yaml_is_null(root)) {
		if (root->type != YAML_MAPPING_NODE)
			r = base_yaml_fail(&y, root, -EINVAL,
					   "expected a mapping of keys at the top, got %s",
					   base_yaml_kind(root));
		else
			r = cfg_map(&w, root, "");
	}
	base_yaml_done(&y);
	return r;
}

int agent_config_load(struct agent_config *c, const char *path, bool missing_ok, char *err,
		      size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	err[0] = '\0';
	r = base_file_read(path, AGENT_CONFIG_MAX_BYTES, &buf, &len);
	if (r == -ENOENT && missing_ok)
		return 0;
	if (r == -EISDIR || r == -EINVAL) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return r;
	}
	if (r == -EFBIG) {
		snprintf(err, errlen, "%s: larger than %u bytes", path, AGENT_CONFIG_MAX_BYTES);
		return -E2BIG; /* as for a text given in memory */
	}
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	r = agent_config_parse(c, buf, len, path, err, errlen);
	free(buf);
	return r;
}

int agent_config_set(struct agent_config *c, const char *key, const char *value, char *err,
		     size_t errlen)
{
	err[0] = '\0';
	if (!strcmp(key, "logLevel")) {
		if (agent_config_parse_log_level(value, &c->log_level)) {
			snprintf(err, errlen,
				 "'%.64s' is not a log level (debug, info, warn, error)", value);
			return -EINVAL;
		}
		return 0;
	}
	if (strlen(value) > AGENT_CONFIG_MAX_VALUE) {
		snprintf(err, errlen, "value longer than %u bytes", AGENT_CONFIG_MAX_VALUE);
		return -E2BIG;
	}
	if (!strcmp(key, "nodeName"))
		return cfg_set_str(&c->node_name, value);
	if (!strcmp(key, "hostRoot"))
		return cfg_set_str(&c->host_root, value);
	if (!strcmp(key, "gadgetNamespace"))
		return cfg_set_str(&c->gadget_namespace, value);
	snprintf(err, errlen, "'%s' cannot be overridden", key);
	return -EINVAL;
}

/* ------------------------------------------------------------ validation */

int agent_config_parse_address(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len,
			       bool *ret_loopback)
{
	char host[64];
	const char *colon, *h = s;
	unsigned long port;
	size_t hlen;
	char *end;

	memset(ret, 0, sizeof(*ret));
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		h = s + 1;
		hlen = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL;
		hlen = (size_t)(colon - s);
	}
	if (!hlen || hlen >= sizeof(host) || !colon[1])
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || colon[1] == '-' || colon[1] == '+' || port < 1 || port > 65535)
		return -EINVAL;
	if (!strcmp(host, "localhost"))
		memcpy(host, "127.0.0.1", sizeof("127.0.0.1"));
	if (s[0] != '[') {
		struct sockaddr_in *in = (struct sockaddr_in *)ret;

		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return -EINVAL;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*ret_len = sizeof(*in);
		if (ret_loopback)
			*ret_loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ret;

		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return -EINVAL;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*ret_len = sizeof(*in6);
		if (ret_loopback)
			*ret_loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	return 0;
}

/* RFC 1123 label, as Kubernetes names namespaces. */
static bool cfg_dns_label(const char *s)
{
	size_t i, n = strlen(s);

	if (!n || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* A label key or value: [A-Za-z0-9._/-]. */
static bool cfg_label_part(const char *s, size_t n, bool key)
{
	size_t i;

	if (n > (key ? 253u : 63u))
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
		      (key && ch == '/')))
			return false;
	}
	return true;
}

static int cfg_validate(const struct agent_config *c, char *err, size_t errlen);

int agent_config_validate(const struct agent_config *c, char *err, size_t errlen)
{
	int r = cfg_validate(c, err, errlen);

	base_err_oneline(err);
	return r;
}

int agent_config_unix_group(const struct agent_config *c, unsigned int *ret_gid, char *err,
			    size_t errlen)
{
	struct group gr, *found = NULL;
	const char *name = c->listen_unix_group ? c->listen_unix_group : "";
	char buf[4096], *end;
	unsigned long v;

	*ret_gid = 0;
	if (!*name)
		return 0;
	errno = 0;
	v = strtoul(name, &end, 10);
	if (!*end && !errno && v < UINT32_MAX && name[0] != '-') {
		*ret_gid = (unsigned int)v;
		return 0;
	}
	if (getgrnam_r(name, &gr, buf, sizeof(buf), &found) != 0 || !found) {
		snprintf(err, errlen, "listen.unixSocketGroup: no group named '%.128s'", name);
		return -EINVAL;
	}
	*ret_gid = (unsigned int)found->gr_gid;
	return 0;
}

static int cfg_validate(const struct agent_config *c, char *err, size_t errlen)
{
	unsigned int gid;
	struct sockaddr_storage ss;
	socklen_t sl;
	const char *eq;
	bool loop;
	size_t i;

	err[0] = '\0';
	/* empty turns the TCP listener off */
	if (c->listen_address[0] &&
	    agent_config_parse_address(c->listen_address, &ss, &sl, &loop)) {
		snprintf(err, errlen, "listen.address: '%s' is not a host:port address",
			 c->listen_address);
		return -EINVAL;
	}
	if (c->listen_address[0] && !loop) {
		snprintf(err, errlen,
			 "listen.address: '%s' is not a loopback address (the control API is "
			 "reached through the API server's port-forward only)",
			 c->listen_address);
		return -EINVAL;
	}
	if (agent_config_parse_address(c->health_address, &ss, &sl, NULL)) {
		snprintf(err, errlen, "health.address: '%s' is not a host:port address",
			 c->health_address);
		return -EINVAL;
	}
	if (c->listen_unix[0] && c->listen_unix[0] != '/') {
		snprintf(err, errlen, "listen.unixSocket: '%s' is not an absolute path",
			 c->listen_unix);
		return -EINVAL;
	}
	if (strlen(c->listen_unix) + strlen(c->host_root) >= 100) {
		snprintf(err, errlen,
			 "listen.unixSocket: '%s' under hostRoot is too long for a "
			 "unix socket",
			 c->listen_unix);
		return -EINVAL;
	}
	if (agent_config_unix_group(c, &gid, err, errlen) < 0)
		return -EINVAL;
	if (c->host_root[0] != '/') {
		snprintf(err, errlen, "hostRoot: '%s' is not an absolute path", c->host_root);
		return -EINVAL;
	}
	if (!cfg_dns_label(c->gadget_namespace)) {
		snprintf(err, errlen, "gadgetNamespace: '%s' is not a valid namespace name",
			 c->gadget_namespace);
		return -EINVAL;
	}
	eq = strchr(c->instance_label, '=');
	if (!eq || eq == c->instance_label ||
	    !cfg_label_part(c->instance_label, (size_t)(eq - c->instance_label), true) || !eq[1] ||
	    !cfg_label_part(eq + 1, strlen(eq + 1), false)) {
		snprintf(err, errlen, "instanceConfigMapLabel: '%s' is not a key=value label",
			 c->instance_label);
		return -EINVAL;
	}
	for (i = 0; i < c->n_runtimes; i++)
		if (c->runtimes[i].socket_path[0] != '/') {
			snprintf(err, errlen,
				 "runtimes[%zu].socketPath: '%s' is not an absolute path", i,
				 c->runtimes[i].socket_path);
			return -EINVAL;
		}
	if (!c->store_dir[0]) {
		snprintf(err, errlen, "oci.storeDir: empty");
		return -EINVAL;
	}
	if (agent_config_parse_address(c->metrics_address, &ss, &sl, NULL)) {
		snprintf(err, errlen,
			 "otel-metrics-listen-address: '%s' is not a host:port address",
			 c->metrics_address);
		return -EINVAL;
	}
	if (strcmp(c->logs_channel, "none") && strcmp(c->logs_channel, "stdout") &&
	    strcmp(c->logs_channel, "file")) {
		snprintf(err, errlen, "logs.channel: '%s' is not none, stdout or file",
			 c->logs_channel);
		return -EINVAL;
	}
	/* the directory is under hostRoot: nothing may climb out of it */
	if (c->logs_dir[0] != '/' || strstr(c->logs_dir, "/../") ||
	    (strlen(c->logs_dir) >= 3 && !strcmp(c->logs_dir + strlen(c->logs_dir) - 3, "/..")) ||
	    strlen(c->logs_dir) + strlen(c->host_root) >= 3000) {
		snprintf(err, errlen,
			 "logs.directory: '%s' is not an absolute path without '..' components",
			 c->logs_dir);
		return -EINVAL;
	}
	for (i = 0; i < c->n_allowed_gadgets; i++) {
		char why[128];

		if (oci_allow_check_pattern(c->allowed_gadgets[i], why, sizeof(why)) < 0) {
			snprintf(err, errlen, "oci.allowedGadgets[%zu]: '%s': %s", i,
				 c->allowed_gadgets[i], why);
			return -EINVAL;
		}
	}
	for (i = 0; i < c->n_public_keys; i++) {
		struct oci_key_set *ks = NULL;
		char why[OCI_KEY_ERRLEN];
		int r;

		if (oci_key_set_new(&ks) < 0)
			return -ENOMEM;
		r = oci_key_set_add(ks, c->public_keys[i], why, sizeof(why));
		oci_key_set_free(ks);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			snprintf(err, errlen, "oci.publicKeys[%zu]: %s", i, why);
			return -EINVAL;
		}
	}
	for (i = 0; i < c->n_insecure_registries; i++)
		if (strpbrk(c->insecure_registries[i], "/ ")) {
			snprintf(err, errlen,
				 "oci.insecureRegistries[%zu]: '%s' is not host[:port]", i,
				 c->insecure_registries[i]);
			return -EINVAL;
		}
	if (c->node_name && !c->node_name[0]) {
		snprintf(err, errlen, "nodeName: empty");
		return -EINVAL;
	}
	return 0;
}
