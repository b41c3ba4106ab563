// SPDX-License-Identifier: Apache-2.0
/*
 * instance.yaml, spec checks and the replay buffer.  See instance.h.
 *
 * A spec is built with borrowed pointers (into the YAML document) and then
 * packed and unpacked once, which gives a copy that owns every byte and is
 * freed by protobuf-c like any received message: there is one way to free
 * a spec, whichever way it was made.
 *
 * The writer uses libyaml's emitter, so quoting is libyaml's problem: a
 * param value of "true" or "0x10" stays a string for every reader.
 */
#include "agent/instance.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "agent/budget.h"
#include "agent/wire.h"
#include "base/err.h"
#include "base/yaml.h"
#include "base/yaml_emit.h"

bool agent_instance_name_valid(const char *name)
{
	size_t i, n = name ? strlen(name) : 0;

	if (!n || n > AGENT_INSTANCE_MAX_NAME || name[0] == '-' || name[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '-'))
			return false;
	return true;
}

Gadget__Agent__V1__InstanceSpec *agent_instance_spec_free(Gadget__Agent__V1__InstanceSpec *spec)
{
	if (spec)
		protobuf_c_message_free_unpacked(&spec->base, NULL);
	return NULL;
}

/* pack + unpack: a copy that owns everything. */
static int inst_own(const Gadget__Agent__V1__InstanceSpec *spec,
		    Gadget__Agent__V1__InstanceSpec **ret)
{
	size_t len = protobuf_c_message_get_packed_size(&spec->base);
	uint8_t *buf = malloc(len ? len : 1);
	Gadget__Agent__V1__InstanceSpec *copy;

	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(&spec->base, buf);
	copy = gadget__agent__v1__instance_spec__unpack(NULL, len, buf);
	free(buf);
	if (!copy)
		return -ENOMEM;
	*ret = copy;
	return 0;
}

int agent_instance_spec_dup(const Gadget__Agent__V1__InstanceSpec *spec,
			    Gadget__Agent__V1__InstanceSpec **ret)
{
	return inst_own(spec, ret);
}

bool agent_instance_spec_for_node(const Gadget__Agent__V1__InstanceSpec *spec, const char *node)
{
	size_t i;

	if (!spec->n_nodes)
		return true;
	for (i = 0; i < spec->n_nodes; i++)
		if (node && !strcmp(spec->nodes[i], node))
			return true;
	return false;
}

int agent_instance_spec_check(const Gadget__Agent__V1__InstanceSpec *spec, char *err, size_t errlen)
{
	const Gadget__Agent__V1__GadgetSpec *g = spec->gadget;

	err[0] = '\0';
	if (!agent_instance_name_valid(spec->name)) {
		snprintf(err, errlen,
			 "instance name '%.80s' is not a DNS label (lowercase letters, digits and "
			 "'-', at most %d)",
			 spec->name ? spec->name : "", AGENT_INSTANCE_MAX_NAME);
		base_err_oneline(err);
		return -EINVAL;
	}
	if (!g || !g->image || !g->image[0]) {
		snprintf(err, errlen, "instance %s: no gadget image", spec->name);
		return -EINVAL;
	}
	if (g->timeout_ms) {
		snprintf(err, errlen, "instance %s: timeout_ms must be 0 for an instance",
			 spec->name);
		return -EINVAL;
	}
	if (spec->replay_records > AGENT_WIRE_MAX_REPLAY_RECORDS) {
		snprintf(err, errlen, "instance %s: replay_records %u is over the maximum %d",
			 spec->name, spec->replay_records, AGENT_WIRE_MAX_REPLAY_RECORDS);
		return -EINVAL;
	}
	if (g->n_params > AGENT_INSTANCE_MAX_LIST || g->n_filters > AGENT_INSTANCE_MAX_LIST ||
	    g->n_annotate > AGENT_INSTANCE_MAX_LIST ||
	    g->n_otel_metrics_name > AGENT_INSTANCE_MAX_LIST ||
	    spec->n_nodes > AGENT_INSTANCE_MAX_LIST || spec->n_tags > AGENT_INSTANCE_MAX_LIST ||
	    (g->selector && g->selector->n_labels > AGENT_INSTANCE_MAX_LIST)) {
		snprintf(err, errlen,
			 "instance %s: more than %d params, filters, nodes, tags or "
			 "labels",
			 spec->name, AGENT_INSTANCE_MAX_LIST);
		return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------ parsing */

struct inst_parse {
	struct base_yaml *y;
	/* scratch the borrowed spec points into; freed after packing */
	void *allocs[64];
	size_t n_allocs;
};

static void *inst_calloc(struct inst_parse *p, size_t n, size_t size)
{
	void *v;

	if (p->n_allocs == sizeof(p->allocs) / sizeof(p->allocs[0]))
		return NULL;
	v = calloc(n ? n : 1, size);
	if (v)
		p->allocs[p->n_allocs++] = v;
	return v;
}

static int inst_str(struct inst_parse *p, const yaml_node_t *n, const char *key, char **ret)
{
	const char *s = NULL;

	if (base_yaml_is_null(n))
		return 0;
	switch (base_yaml_string(n, SIZE_MAX, &s)) {
	case 0:
		*ret = (char *)s;
		return 0;
	case -EILSEQ:
		return base_yaml_fail(p->y, n, -EINVAL, "%s: contains a NUL byte", key);
	default:
		return base_yaml_fail(p->y, n, -EINVAL, "%s: expected a string", key);
	}
}

static int inst_uint(struct inst_parse *p, const yaml_node_t *n, const char *key, uint64_t max,
		     uint64_t *ret)
{
	if (base_yaml_is_null(n))
		return 0;
	if (n->type != YAML_SCALAR_NODE)
		return base_yaml_fail(p->y, n, -EINVAL, "%s: expected a number", key);
	if (base_yaml_uint(n, max, ret) < 0)
		return base_yaml_fail(p->y, n, -EINVAL,
				      "%s: '%.32s' is not a number from 0 to %" PRIu64, key,
				      base_yaml_text(n), max);
	return 0;
}

static int inst_bool(struct inst_parse *p, const yaml_node_t *n, const char *key, bool *ret)
{
	if (base_yaml_is_null(n))
		return 0;
	if (base_yaml_bool(n, ret) < 0)
		return base_yaml_fail(p->y, n, -EINVAL, "%s: expected true or false", key);
	return 0;
}

static int inst_strlist(struct inst_parse *p, const yaml_node_t *n, const char *key, char ***ret,
			size_t *ret_n)
{
	size_t len, i;
	char **v;

	if (base_yaml_is_null(n))
		return 0;
	if (n->type != YAML_SEQUENCE_NODE)
		return base_yaml_fail(p->y, n, -EINVAL, "%s: expected a list of strings", key);
	len = base_yaml_len(n);
	if (len > AGENT_INSTANCE_MAX_LIST)
		return base_yaml_fail(p->y, n, -E2BIG, "%s: more than %d entries", key,
				      AGENT_INSTANCE_MAX_LIST);
	v = inst_calloc(p, len, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < len; i++) {
		yaml_node_t *item = base_yaml_item(p->y, n, i);

		if (item->type != YAML_SCALAR_NODE)
			return base_yaml_fail(p->y, item, -EINVAL, "%s[%zu]: expected a string",
					      key, i);
		v[i] = (char *)base_yaml_text(item);
	}
	*ret = v;
	*ret_n = len;
	return 0;
}

/*
 * A key given twice is an error, as YAML says (and as gadget.yaml is read);
 * the mappings read here are small, so the quadratic check is bounded.
 */
static int inst_unique_keys(struct inst_parse *p, const yaml_node_t *n, const char *what)
{
	yaml_node_t *k, *v;

	if (base_yaml_len(n) > AGENT_INSTANCE_MAX_LIST)
		return base_yaml_fail(p->y, n, -E2BIG, "%s: more than %d keys", what,
				      AGENT_INSTANCE_MAX_LIST);
	for (size_t i = 0; base_yaml_pair(p->y, n, i, &k, &v); i++) {
		if (k->type != YAML_SCALAR_NODE)
			return base_yaml_fail(p->y, k, -EINVAL, "%s: keys must be strings", what);
		if (base_yaml_key_repeats(p->y, n, i))
			return base_yaml_fail(p->y, k, -EINVAL, "%s: key '%.64s' given twice", what,
					      base_yaml_text(k));
	}
	return 0;
}

/* A mapping of strings into KeyValue messages. */
static int inst_kvmap(struct inst_parse *p, const yaml_node_t *n, const char *key,
		      Gadget__Agent__V1__KeyValue ***ret, size_t *ret_n)
{
	Gadget__Agent__V1__KeyValue *kvs, **ptrs;
	yaml_node_t *k, *v;
	size_t len, i;
	int r;

	if (base_yaml_is_null(n))
		return 0;
	if (n->type != YAML_MAPPING_NODE)
		return base_yaml_fail(p->y, n, -EINVAL, "%s: expected a mapping of strings", key);
	len = base_yaml_len(n);
	if (len > AGENT_INSTANCE_MAX_LIST)
		return base_yaml_fail(p->y, n, -E2BIG, "%s: more than %d entries", key,
				      AGENT_INSTANCE_MAX_LIST);
	r = inst_unique_keys(p, n, key);
	if (r)
		return r;
	kvs = inst_calloc(p, len, sizeof(*kvs));
	ptrs = inst_calloc(p, len, sizeof(*ptrs));
	if (!kvs || !ptrs)
		return -ENOMEM;
	for (i = 0; base_yaml_pair(p->y, n, i, &k, &v); i++) {
		if (k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE)
			return base_yaml_fail(p->y, k, -EINVAL,
					      "%s: keys and values must be strings", key);
		gadget__agent__v1__key_value__init(&kvs[i]);
		kvs[i].key = (char *)base_yaml_text(k);
		kvs[i].value = (char *)base_yaml_text(v);
		ptrs[i] = &kvs[i];
	}
	*ret = ptrs;
	*ret_n = len;
	return 0;
}

static int inst_selector(struct inst_parse *p, const yaml_node_t *n,
			 Gadget__Agent__V1__Selector *sel)
{
	yaml_node_t *k, *v;
	int r = 0;

	if (n->type != YAML_MAPPING_NODE)
		return base_yaml_fail(p->y, n, -EINVAL, "selector: expected a mapping");
	r = inst_unique_keys(p, n, "selector");
	for (size_t i = 0; !r && base_yaml_pair(p->y, n, i, &k, &v); i++) {
		const char *key = base_yaml_text(k);

		if (!strcmp(key, "namespace"))
			r = inst_str(p, v, "selector.namespace", &sel->namespace_);
		else if (!strcmp(key, "podname"))
			r = inst_str(p, v, "selector.podname", &sel->podname);
		else if (!strcmp(key, "containername"))
			r = inst_str(p, v, "selector.containername", &sel->containername);
		else if (!strcmp(key, "runtimeContainername"))
			r = inst_str(p, v, "selector.runtimeContainername",
				     &sel->runtime_containername);
		else if (!strcmp(key, "labels"))
			r = inst_kvmap(p, v, "selector.labels", &sel->labels, &sel->n_labels);
		else if (!strcmp(key, "host")) {
			bool b = false;

			r = inst_bool(p, v, "selector.host", &b);
			sel->host = b;
		}
	}
	return r;
}

/* logs: {channel: stdout|file|none, maxSizeMB: N, maxBackups: N} */
static int inst_logs(struct inst_parse *p, const yaml_node_t *n,
		     Gadget__Agent__V1__InstanceLogs *logs)
{
	yaml_node_t *k, *v;
	uint64_t u;
	int r;

	if (n->type != YAML_MAPPING_NODE)
		return base_yaml_fail(p->y, n, -EINVAL, "logs: expected a mapping");
	r = inst_unique_keys(p, n, "logs");
	for (size_t i = 0; !r && base_yaml_pair(p->y, n, i, &k, &v); i++) {
		const char *key = base_yaml_text(k);

		u = 0;
		if (!strcmp(key, "channel")) {
			r = inst_str(p, v, "logs.channel", &logs->channel);
			if (!r && logs->channel && strcmp(logs->channel, "") &&
			    strcmp(logs->channel, "none") && strcmp(logs->channel, "stdout") &&
			    strcmp(logs->channel, "file"))
				r = base_yaml_fail(
					p->y, v, -EINVAL,
					"logs.channel: '%.32s' is not stdout, file or none",
					logs->channel);
		} else if (!strcmp(key, "maxSizeMB")) {
			r = inst_uint(p, v, "logs.maxSizeMB", AGENT_INSTANCE_MAX_LOG_MB, &u);
			logs->max_size_mb = (uint32_t)u;
		} else if (!strcmp(key, "maxBackups")) {
			r = inst_uint(p, v, "logs.maxBackups", AGENT_INSTANCE_MAX_LOG_BACKUPS, &u);
			logs->max_backups = (uint32_t)u;
		}
	}
	return r;
}

static int inst_top(struct inst_parse *p, const yaml_node_t *root,
		    Gadget__Agent__V1__InstanceSpec *spec, Gadget__Agent__V1__GadgetSpec *g,
		    Gadget__Agent__V1__Selector *sel, Gadget__Agent__V1__InstanceLogs *logs,
		    struct agent_instance_extra *extra)
{
	yaml_node_t *k, *v;
	uint64_t u;
	int r;

	/* keys are known to be strings from here on */
	r = inst_unique_keys(p, root, "instance.yaml");
	for (size_t i = 0; !r && base_yaml_pair(p->y, root, i, &k, &v); i++) {
		const char *key = base_yaml_text(k);

		u = 0;
		if (!strcmp(key, "name")) {
			r = inst_str(p, v, key, &spec->name);
		} else if (!strcmp(key, "image")) {
			r = inst_str(p, v, key, &g->image);
		} else if (!strcmp(key, "params")) {
			r = inst_kvmap(p, v, key, &g->params, &g->n_params);
		} else if (!strcmp(key, "selector")) {
			if (!base_yaml_is_null(v)) {
				r = inst_selector(p, v, sel);
				g->selector = sel;
			}
		} else if (!strcmp(key, "fields")) {
			r = inst_str(p, v, key, &g->fields);
		} else if (!strcmp(key, "filters")) {
			r = inst_strlist(p, v, key, &g->filters, &g->n_filters);
		} else if (!strcmp(key, "sort")) {
			r = inst_str(p, v, key, &g->sort);
		} else if (!strcmp(key, "maxEntries")) {
			r = inst_uint(p, v, key, UINT32_MAX, &u);
			g->max_entries = (uint32_t)u;
		} else if (!strcmp(key, "mapFetchIntervalMs")) {
			r = inst_uint(p, v, key, UINT64_MAX, &g->map_fetch_interval_ms);
		} else if (!strcmp(key, "mapFetchCount")) {
			r = inst_uint(p, v, key, UINT64_MAX, &g->map_fetch_count);
		} else if (!strcmp(key, "nodes")) {
			r = inst_strlist(p, v, key, &spec->nodes, &spec->n_nodes);
		} else if (!strcmp(key, "tags")) {
			r = inst_strlist(p, v, key, &spec->tags, &spec->n_tags);
		} else if (!strcmp(key, "annotate")) {
			r = inst_strlist(p, v, key, &g->annotate, &g->n_annotate);
		} else if (!strcmp(key, "otelMetricsName")) {
			r = inst_strlist(p, v, key, &g->otel_metrics_name, &g->n_otel_metrics_name);
		} else if (!strcmp(key, "logs")) {
			if (!base_yaml_is_null(v)) {
				r = inst_logs(p, v, logs);
				spec->logs = logs;
			}
		} else if (!strcmp(key, "replayRecords")) {
			r = inst_uint(p, v, key, AGENT_WIRE_MAX_REPLAY_RECORDS, &u);
			spec->replay_records = (uint32_t)u;
		} else if (extra && !strcmp(key, "id")) {
			char *id = NULL;

			r = inst_str(p, v, key, &id);
			if (!r && id) {
				free(extra->id);
				extra->id = strdup(id);
				if (!extra->id)
					r = -ENOMEM;
			}
		} else if (extra && !strcmp(key, "createdUnixMs")) {
			r = inst_uint(p, v, key, INT64_MAX, &u);
			extra->created_unix_ms = (int64_t)u;
		}
		/* anything else: written by a newer agent, ignored */
	}
	return r;
}

int agent_instance_spec_parse(const char *text, size_t len, Gadget__Agent__V1__InstanceSpec **ret,
			      struct agent_instance_extra *extra, char *err, size_t errlen)
{
	const struct base_yaml_opts opts = {
		.name = "instance.yaml",
		.max_bytes = AGENT_INSTANCE_MAX_YAML,
		.no_aliases = true, /* they have no use in a spec and would let it expand */
	};
	struct base_yaml y = {0};
	struct inst_parse p = {.y = &y};
	Gadget__Agent__V1__InstanceSpec spec;
	Gadget__Agent__V1__GadgetSpec g;
	Gadget__Agent__V1__Selector sel;
	Gadget__Agent__V1__InstanceLogs logs;
	yaml_node_t *root;
	size_t i;
	int r;

	err[0] = '\0';
	if (extra)
		*extra = (struct agent_instance_extra){0};
	gadget__agent__v1__instance_spec__init(&spec);
	gadget__agent__v1__gadget_spec__init(&g);
	gadget__agent__v1__selector__init(&sel);
	gadget__agent__v1__instance_logs__init(&logs);
	spec.gadget = &g;
	r = base_yaml_load(&y, text, len, &opts, err, errlen);
	if (r < 0)
		goto out;
	root = base_yaml_root(&y);
	if (!root || root->type != YAML_MAPPING_NODE) {
		r = base_yaml_fail(&y, root, -EINVAL, "expected a mapping with name and image");
		goto out;
	}
	r = inst_top(&p, root, &spec, &g, &sel, &logs, extra);
	if (r)
		goto out;
	if (!spec.name || !spec.name[0]) {
		r = base_yaml_fail(&y, root, -EINVAL, "no name");
		goto out;
	}
	if (!g.image || !g.image[0]) {
		r = base_yaml_fail(&y, root, -EINVAL, "no image");
		goto out;
	}
	r = inst_own(&spec, ret);
out:
	for (i = 0; i < p.n_allocs; i++)
		free(p.allocs[i]);
	base_yaml_done(&y);
	if (r && extra) {
		free(extra->id);
		extra->id = NULL;
	}
	if (r && !err[0])
		snprintf(err, errlen, "instance.yaml: %s", strerror(-r));
	return r;
}

/* ------------------------------------------------------------ writing */

static int inst_emit_key(struct base_yaml_emit *e, const char *k)
{
	return base_yaml_emit_scalar(e, k, strlen(k), BASE_YAML_EMIT_PLAIN);
}

/* Values are always quoted: a param value of "true" or "0x10" stays a string. */
static int inst_emit_str(struct base_yaml_emit *e, const char *s)
{
	return base_yaml_emit_scalar(e, s, strlen(s), BASE_YAML_EMIT_QUOTED);
}

static int inst_kv_str(struct base_yaml_emit *e, const char *k, const char *v)
{
	int r = inst_emit_key(e, k);

	return r ? r : inst_emit_str(e, v);
}

static int inst_kv_u64(struct base_yaml_emit *e, const char *k, uint64_t v)
{
	char num[32];
	int r = inst_emit_key(e, k);

	snprintf(num, sizeof(num), "%" PRIu64, v);
	return r ? r : inst_emit_key(e, num);
}

static int inst_list(struct base_yaml_emit *e, const char *k, char **v, size_t n)
{
	size_t i;
	int r = inst_emit_key(e, k);

	if (!r)
		r = base_yaml_emit_seq_begin(e, true);
	for (i = 0; i < n && !r; i++)
		r = inst_emit_str(e, v[i]);
	return r ? r : base_yaml_emit_seq_end(e);
}

static int inst_kvs(struct base_yaml_emit *e, const char *k, Gadget__Agent__V1__KeyValue **kv,
		    size_t n)
{
	size_t i;
	int r = inst_emit_key(e, k);

	if (!r)
		r = base_yaml_emit_map_begin(e);
	for (i = 0; i < n && !r; i++)
		r = inst_kv_str(e, kv[i]->key, kv[i]->value);
	return r ? r : base_yaml_emit_map_end(e);
}

static int inst_emit_selector(struct base_yaml_emit *e, const Gadget__Agent__V1__Selector *s)
{
	int r = inst_emit_key(e, "selector");

	if (!r)
		r = base_yaml_emit_map_begin(e);
	if (!r && s->namespace_[0])
		r = inst_kv_str(e, "namespace", s->namespace_);
	if (!r && s->podname[0])
		r = inst_kv_str(e, "podname", s->podname);
	if (!r && s->containername[0])
		r = inst_kv_str(e, "containername", s->containername);
	if (!r && s->runtime_containername[0])
		r = inst_kv_str(e, "runtimeContainername", s->runtime_containername);
	if (!r && s->n_labels)
		r = inst_kvs(e, "labels", s->labels, s->n_labels);
	if (!r && s->host) {
		r = inst_emit_key(e, "host");
		if (!r)
			r = inst_emit_key(e, "true");
	}
	return r ? r : base_yaml_emit_map_end(e);
}

static int inst_emit_logs(struct base_yaml_emit *e, const Gadget__Agent__V1__InstanceLogs *l)
{
	int r = inst_emit_key(e, "logs");

	if (!r)
		r = base_yaml_emit_map_begin(e);
	if (!r && l->channel && l->channel[0])
		r = inst_kv_str(e, "channel", l->channel);
	if (!r && l->max_size_mb)
		r = inst_kv_u64(e, "maxSizeMB", l->max_size_mb);
	if (!r && l->max_backups)
		r = inst_kv_u64(e, "maxBackups", l->max_backups);
	return r ? r : base_yaml_emit_map_end(e);
}

static int inst_emit_spec(struct base_yaml_emit *e, const Gadget__Agent__V1__InstanceSpec *spec,
			  const struct agent_instance_extra *extra)
{
	const Gadget__Agent__V1__GadgetSpec *g = spec->gadget;
	int r;

	r = base_yaml_emit_map_begin(e);
	if (!r && extra && extra->id)
		r = inst_kv_str(e, "id", extra->id);
	if (!r && extra && extra->created_unix_ms)
		r = inst_kv_u64(e, "createdUnixMs", (uint64_t)extra->created_unix_ms);
	if (!r)
		r = inst_kv_str(e, "name", spec->name);
	if (!r)
		r = inst_kv_str(e, "image", g && g->image ? g->image : "");
	if (!r && g && g->n_params)
		r = inst_kvs(e, "params", g->params, g->n_params);
	if (!r && g && g->selector)
		r = inst_emit_selector(e, g->selector);
	if (!r && g && g->fields[0])
		r = inst_kv_str(e, "fields", g->fields);
	if (!r && g && g->n_filters)
		r = inst_list(e, "filters", g->filters, g->n_filters);
	if (!r && g && g->sort[0])
		r = inst_kv_str(e, "sort", g->sort);
	if (!r && g && g->max_entries)
		r = inst_kv_u64(e, "maxEntries", g->max_entries);
	if (!r && g && g->map_fetch_interval_ms)
		r = inst_kv_u64(e, "mapFetchIntervalMs", g->map_fetch_interval_ms);
	if (!r && g && g->map_fetch_count)
		r = inst_kv_u64(e, "mapFetchCount", g->map_fetch_count);
	if (!r && g && g->n_annotate)
		r = inst_list(e, "annotate", g->annotate, g->n_annotate);
	if (!r && g && g->n_otel_metrics_name)
		r = inst_list(e, "otelMetricsName", g->otel_metrics_name, g->n_otel_metrics_name);
	if (!r && spec->logs)
		r = inst_emit_logs(e, spec->logs);
	if (!r)
		r = inst_list(e, "nodes", spec->nodes, spec->n_nodes);
	if (!r && spec->replay_records)
		r = inst_kv_u64(e, "replayRecords", spec->replay_records);
	if (!r)
		r = inst_list(e, "tags", spec->tags, spec->n_tags);
	return r ? r : base_yaml_emit_map_end(e);
}

int agent_instance_spec_format(const Gadget__Agent__V1__InstanceSpec *spec,
			       const struct agent_instance_extra *extra, struct base_buf *out)
{
	struct base_yaml_emit e;
	int r;

	r = base_yaml_emit_begin(&e, out);
	if (r == 0)
		r = inst_emit_spec(&e, spec, extra);
	if (r == 0)
		return base_yaml_emit_end(&e);
	base_yaml_emit_done(&e);
	return r;
}

/* ------------------------------------------------------------ replay */

struct inst_slot {
	uint64_t seq;
	size_t ds;
	char *json;
	size_t len;
	size_t cap;
};

struct agent_instance_ring {
	struct inst_slot *slots;
	size_t cap;
	size_t head; /* oldest */
	size_t n;
	struct agent_budget *budget; /* charged with the slots' buffers; NULL: none */
};

int agent_instance_ring_new(size_t capacity, struct agent_instance_ring **ret)
{
	struct agent_instance_ring *r;

	if (!capacity || capacity > AGENT_WIRE_MAX_REPLAY_RECORDS)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->slots = calloc(capacity, sizeof(*r->slots));
	if (!r->slots) {
		free(r);
		return -ENOMEM;
	}
	r->cap = capacity;
	*ret = r;
	return 0;
}

struct agent_instance_ring *agent_instance_ring_free(struct agent_instance_ring *r)
{
	size_t i;

	if (!r)
		return NULL;
	for (i = 0; i < r->cap; i++) {
		agent_budget_give(r->budget, r->slots[i].cap);
		free(r->slots[i].json);
	}
	free(r->slots);
	free(r);
	return NULL;
}

void agent_instance_ring_set_budget(struct agent_instance_ring *r, struct agent_budget *b)
{
	size_t i;

	for (i = 0; i < r->cap; i++)
		agent_budget_give(r->budget, r->slots[i].cap);
	r->budget = b;
	for (i = 0; i < r->cap; i++)
		if (r->slots[i].cap && !agent_budget_take(b, r->slots[i].cap)) {
			free(r->slots[i].json);
			r->slots[i].json = NULL;
			r->slots[i].cap = 0;
		}
	r->head = r->n = 0;
}

/* Frees the oldest record's buffer; false when there is none. */
static bool ring_forget_oldest(struct agent_instance_ring *r)
{
	struct inst_slot *s;

	if (!r->n)
		return false;
	s = &r->slots[r->head];
	agent_budget_give(r->budget, s->cap);
	free(s->json);
	s->json = NULL;
	s->cap = 0;
	r->head = (r->head + 1) % r->cap;
	r->n--;
	return true;
}

int agent_instance_ring_push(struct agent_instance_ring *r, uint64_t seq, size_t ds,
			     const char *json, size_t len)
{
	struct inst_slot *s;

	if (r->n == r->cap) {
		s = &r->slots[r->head];
		r->head = (r->head + 1) % r->cap;
		r->n--;
	} else {
		s = &r->slots[(r->head + r->n) % r->cap];
	}
	/* a much larger slot than needed is given back, so one burst is not kept */
	if (len + 1 > s->cap || s->cap > 4 * (len + 1) + 4096) {
		char *p;

		/* over the budget, the oldest records are forgotten first */
		while (len + 1 > s->cap && !agent_budget_take(r->budget, len + 1 - s->cap))
			if (!ring_forget_oldest(r))
				return -ENOBUFS;
		if (len + 1 < s->cap)
			agent_budget_give(r->budget, s->cap - (len + 1));
		p = realloc(s->json, len + 1);
		if (!p) {
			/* the slot stays as it was: charge it back to what it holds */
			if (len + 1 > s->cap)
				agent_budget_give(r->budget, len + 1 - s->cap);
			else
				agent_budget_take(r->budget, s->cap - (len + 1));
			return -ENOMEM;
		}
		s->json = p;
		s->cap = len + 1;
	}
	memcpy(s->json, json, len);
	s->json[len] = '\0';
	s->len = len;
	s->seq = seq;
	s->ds = ds;
	r->n++;
	return 0;
}

size_t agent_instance_ring_count(const struct agent_instance_ring *r)
{
	return r ? r->n : 0;
}

void agent_instance_ring_get(const struct agent_instance_ring *r, size_t i, uint64_t *ret_seq,
			     size_t *ret_ds, const char **ret_json, size_t *ret_len)
{
	const struct inst_slot *s = &r->slots[(r->head + i) % r->cap];

	*ret_seq = s->seq;
	*ret_ds = s->ds;
	*ret_json = s->json;
	*ret_len = s->len;
}

void agent_instance_ring_clear(struct agent_instance_ring *r)
{
	if (r) {
		r->head = 0;
		r->n = 0;
	}
}
