// SPDX-License-Identifier: Apache-2.0
/*
 * The agents' image policy from kubectl gadget deploy's flags.  See policy.h.
 *
 * The config is YAML text inside the ConfigMap; it is read into JSON, the
 * oci keys set, and written back as YAML, which the agent reads with its
 * strict parser (booleans plain, keys as PEM strings).  Without policy
 * flags the text is left exactly as deploy/ has it.
 */
#include "cli/kubectl-gadget/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/file.h"
#include "base/yaml_emit.h"
#include "cli/kubectl-gadget/kg.h"
#include "cli/kubectl-gadget/yaml.h"
#include "oci/allow.h"
#include "oci/digest.h"
#include "oci/key.h"

void kg_policy_init(struct kg_policy *p)
{
	*p = (struct kg_policy){.verify = true};
}

void kg_policy_done(struct kg_policy *p)
{
	json_decref(p->allowed);
	p->allowed = NULL;
}

int kg_policy_add_allowed(struct kg_policy *p, const char *list)
{
	const char *s = list;
	char why[128];

	if (!p->allowed && !(p->allowed = json_array()))
		return -ENOMEM;
	while (*s) {
		size_t n = strcspn(s, ",");
		char *item = strndup(s, n);

		if (!item)
			return -ENOMEM;
		if (oci_allow_check_pattern(item, why, sizeof(why)) < 0) {
			kg_error("--allowed-gadgets: '%s': %s", item, why);
			free(item);
			return -EINVAL;
		}
		if (json_array_size(p->allowed) == KG_POLICY_MAX_ALLOWED) {
			kg_error("--allowed-gadgets: more than %d patterns", KG_POLICY_MAX_ALLOWED);
			free(item);
			return -EINVAL;
		}
		json_array_append_new(p->allowed, json_string(item));
		free(item);
		s += n;
		if (*s == ',')
			s++;
	}
	return 0;
}

/* The public keys as the agents get them: one PEM text per comma-separated item. */
static int policy_keys(const char *text, json_t **ret)
{
	json_t *keys = json_array();
	struct oci_key_set *ks = NULL;
	char why[OCI_KEY_ERRLEN];
	const char *s = text;
	int r;

	if (!keys)
		return -ENOMEM;
	/* the agents' own check, here, so that a bad key fails the deploy */
	r = oci_key_set_new(&ks);
	if (r == 0)
		r = oci_key_set_add(ks, text, why, sizeof(why));
	oci_key_set_free(ks);
	if (r < 0) {
		kg_error("--gadgets-public-keys: %s", r == -ENOMEM ? strerror(ENOMEM) : why);
		json_decref(keys);
		return r;
	}
	while (*s) {
		size_t n = strcspn(s, ",");
		const char *b = s, *e = s + n;
		char *item, *buf = NULL;
		size_t len = 0;

		s += n + (s[n] == ',');
		while (b < e && strchr(" \t\r\n", *b))
			b++;
		while (e > b && strchr(" \t\r\n", e[-1]))
			e--;
		if (b == e)
			continue;
		item = strndup(b, (size_t)(e - b));
		if (!item) {
			json_decref(keys);
			return -ENOMEM;
		}
		if (!strstr(item, "-----BEGIN ")) {
			/* a file: the agents get what it holds (checked above) */
			r = base_file_read(item, OCI_KEY_MAX_TEXT, &buf, &len);
			if (r < 0) {
				kg_error("--gadgets-public-keys: %s: %s", item, strerror(-r));
				free(item);
				json_decref(keys);
				return r;
			}
			free(item);
			item = buf;
		}
		json_array_append_new(keys, json_string(item));
		free(item);
	}
	*ret = keys;
	return 0;
}

static json_t *find_object(json_t *objs, const char *kind, const char *name)
{
	json_t *obj;
	size_t i;

	json_array_foreach(objs, i, obj)
	{
		const char *k = json_string_value(json_object_get(obj, "kind"));
		const char *n = json_string_value(
			json_object_get(json_object_get(obj, "metadata"), "name"));

		if (k && n && !strcmp(k, kind) && !strcmp(n, name))
			return obj;
	}
	return NULL;
}

/* Sets oci.<key> of the config to v (taken). */
static int policy_set(json_t *cfg, const char *key, json_t *v)
{
	json_t *oci = json_object_get(cfg, "oci");

	if (!json_is_object(oci)) {
		oci = json_object();
		if (!oci || json_object_set_new(cfg, "oci", oci) < 0) {
			json_decref(v);
			return -ENOMEM;
		}
	}
	return json_object_set_new(oci, key, v) < 0 ? -ENOMEM : 0;
}

/* Marks the DaemonSet's pods with the config's digest: a new policy restarts the agents. */
static int policy_checksum(json_t *objs, const char *text, size_t len)
{
	json_t *ds = find_object(objs, "DaemonSet", KG_DAEMONSET_NAME), *tmpl, *md, *ann;
	char digest[OCI_DIGEST_SIZE];
	int r;

	tmpl = json_object_get(json_object_get(ds, "spec"), "template");
	if (!json_is_object(tmpl))
		return 0;
	r = oci_digest_buf(text, len, digest);
	if (r < 0)
		return r;
	md = json_object_get(tmpl, "metadata");
	if (!json_is_object(md) && json_object_set_new(tmpl, "metadata", md = json_object()) < 0)
		return -ENOMEM;
	ann = json_object_get(md, "annotations");
	if (!json_is_object(ann) && json_object_set_new(md, "annotations", ann = json_object()) < 0)
		return -ENOMEM;
	return json_object_set_new(ann, "checksum/config", json_string(oci_digest_hex(digest))) < 0
		       ? -ENOMEM
		       : 0;
}

int kg_policy_apply(const struct kg_policy *p, json_t *objs)
{
	json_t *cm = find_object(objs, "ConfigMap", "gadget-config"), *data, *docs = NULL, *cfg;
	struct base_buf out = BASE_BUF_INIT(KG_YAML_MAX_BYTES);
	const char *text;
	char err[KG_ERRLEN];
	bool changed = p->verify_set || p->keys || p->allowed || p->disallow_set;
	json_t *keys = NULL, *oci;
	int r;

	data = json_object_get(cm, "data");
	text = json_string_value(json_object_get(data, "config.yaml"));
	if (!text) {
		kg_error("the embedded manifests have no gadget-config ConfigMap with config.yaml");
		return -EINVAL;
	}
	r = kg_yaml_load_all(text, strlen(text), "config.yaml", &docs, err, sizeof(err));
	cfg = json_array_get(docs, 0);
	if (r < 0 || !json_is_object(cfg)) {
		kg_error("the embedded config.yaml: %s", r < 0 ? err : "not a mapping");
		json_decref(docs);
		return r < 0 ? r : -EINVAL;
	}
	r = 0;
	if (p->keys)
		r = policy_keys(p->keys, &keys);
	if (r == 0 && keys)
		r = policy_set(cfg, "publicKeys", keys);
	if (r == 0 && p->verify_set)
		r = policy_set(cfg, "verifyImage", json_boolean(p->verify));
	if (r == 0 && p->allowed)
		r = policy_set(cfg, "allowedGadgets", json_deep_copy(p->allowed));
	if (r == 0 && p->disallow_set)
		r = policy_set(cfg, "disallowPulling", json_boolean(p->disallow_pull));
	if (r == 0 && changed)
		r = base_yaml_emit_json_doc(&out, cfg);
	if (r == 0 && changed)
		r = json_object_set_new(data, "config.yaml", json_stringn(out.data, out.len)) < 0
			    ? -ENOMEM
			    : policy_checksum(objs, out.data, out.len);
	if (r < 0) {
		if (r == -ENOMEM || r == -E2BIG)
			kg_error("cannot write the agents' config: %s", strerror(-r));
		goto out;
	}
	/* what the agents will do, said once before anything is applied */
	oci = json_object_get(cfg, "oci");
	if (!json_array_size(json_object_get(oci, "publicKeys")))
		kg_warn("gadget images are not verified: no --gadgets-public-keys given, so "
			"whoever "
			"may run gadgets or create instances runs any image the agents can get");
	else if (json_is_false(json_object_get(oci, "verifyImage")))
		kg_warn("gadget images are not verified (--verify-gadgets=false)");
out:
	base_buf_done(&out);
	json_decref(docs);
	return r;
}
