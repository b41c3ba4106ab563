// SPDX-License-Identifier: Apache-2.0
/*
 * Detached instances as ConfigMaps written with the user's credentials.
 * See instance_cm.h.
 *
 * The document is the one agents read (agent/instance.c writes and parses
 * it), so a spec that passes agent_instance_spec_check() here is one every
 * agent takes.  A delete names the ConfigMap's uid as a precondition: if
 * the instance was deleted and made again meanwhile, the new one stays.
 */
#include "cli/kubectl-gadget/instance_cm.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/instance.h"
#include "base/buf.h"
#include "cli/kubectl-gadget/kg.h"
#include "k8s/client.h"

int kg_instance_cm_create(struct kg_global *g, const Gadget__Agent__V1__InstanceSpec *spec)
{
	struct base_buf text = BASE_BUF_INIT(AGENT_INSTANCE_MAX_YAML);
	char path[K8S_CLIENT_MAX_URL], err[KG_ERRLEN] = "";
	json_t *cm = NULL, *reply = NULL;
	const char *uid;
	int r, ret = KG_EXIT_ERROR;

	if (agent_instance_spec_check(spec, err, sizeof(err)) < 0) {
		kg_error("%s", err);
		return KG_EXIT_USAGE;
	}
	r = agent_instance_spec_format(spec, NULL, &text);
	if (r == 0)
		cm = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "v1",
			       "kind", "ConfigMap", "metadata", "name", spec->name, "namespace",
			       g->gadget_namespace, "labels", KG_INSTANCE_LABEL_KEY,
			       KG_INSTANCE_LABEL_VALUE, "data", "instance.yaml", text.data);
	base_buf_done(&text);
	if (r == -E2BIG) {
		kg_error("the instance %s is larger than a ConfigMap may be", spec->name);
		return KG_EXIT_USAGE;
	}
	if (r < 0 || !cm) {
		kg_error("out of memory");
		return KG_EXIT_ERROR;
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", g->gadget_namespace);
	r = k8s_client_post(g->client, path, cm, &reply, err, sizeof(err));
	if (r == -EEXIST) {
		kg_error("cannot create the gadget instance '%s': it already exists", spec->name);
	} else if (r < 0) {
		kg_error("cannot create the gadget instance '%s': %s", spec->name,
			 err[0] ? err : strerror(-r));
	} else {
		uid = json_string_value(json_object_get(json_object_get(reply, "metadata"), "uid"));
		printf("gadget instance %s created (id %s)\n", spec->name, uid ? uid : "?");
		ret = KG_EXIT_OK;
	}
	json_decref(cm);
	json_decref(reply);
	return ret;
}

/* Names of the instances a prefix matched, for the message; at most this many. */
#define FIND_MAX_SHOWN 8

struct find_ctx {
	const char *id;
	char *name;	       /* the instance whose uid is id, or the one it begins */
	bool exact;	       /* name's uid is id itself */
	size_t n_prefixed;     /* instances whose uid begins with id */
	struct base_buf shown; /* "name (uid12), ..." of those */
};

/*
 * An instance ConfigMap whose uid is f->id, or begins with it (Inspektor
 * Gadget's id prefixes): the whole uid wins over any prefix.
 */
static int find_by_uid(void *userdata, json_t *item)
{
	struct find_ctx *f = userdata;
	json_t *md = json_object_get(item, "metadata");
	const char *uid = json_string_value(json_object_get(md, "uid"));
	const char *name = json_string_value(json_object_get(md, "name"));
	bool exact;

	if (!uid || !name || f->exact || strncmp(uid, f->id, strlen(f->id)))
		return 0;
	exact = !strcmp(uid, f->id);
	if (exact || !f->name) {
		free(f->name);
		f->name = strdup(name);
		if (!f->name)
			return -ENOMEM;
	}
	f->exact = exact;
	if (f->n_prefixed++ < FIND_MAX_SHOWN)
		base_buf_printf(&f->shown, "%s%s (%.12s)", f->shown.len ? ", " : "", name, uid);
	return 0;
}

/* Whether cm carries the instance label. */
static bool is_instance(const json_t *cm)
{
	json_t *labels = json_object_get(json_object_get(cm, "metadata"), "labels");
	const char *v = json_string_value(json_object_get(labels, KG_INSTANCE_LABEL_KEY));

	return v && !strcmp(v, KG_INSTANCE_LABEL_VALUE);
}

int kg_instance_cm_delete(struct kg_global *g, const char *name_or_id)
{
	struct k8s_client_list_opts lo = {.label_selector = KG_INSTANCE_LABEL_KEY
					  "=" KG_INSTANCE_LABEL_VALUE};
	char path[K8S_CLIENT_MAX_URL], err[KG_ERRLEN] = "";
	struct find_ctx f = {.id = name_or_id, .shown = BASE_BUF_INIT(0)};
	json_t *cm = NULL, *opts = NULL;
	const char *name = name_or_id, *uid;
	int r, ret = KG_EXIT_ERROR;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", g->gadget_namespace,
		 name_or_id);
	r = strchr(name_or_id, '/') ? -ENOENT
				    : k8s_client_get(g->client, path, &cm, err, sizeof(err));
	if (r == -ENOENT || (r >= 0 && !is_instance(cm))) {
		/* not a name: an id, the uid of an instance's ConfigMap, or its start */
		json_decref(cm);
		cm = NULL;
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps",
			 g->gadget_namespace);
		r = *name_or_id ? k8s_client_list(g->client, path, &lo, find_by_uid, &f, NULL, err,
						  sizeof(err))
				: 0;
		if (r >= 0 && !f.exact && f.n_prefixed > 1) {
			kg_error("'%s' begins the id of %zu instances: %s%s; give more of the id",
				 name_or_id, f.n_prefixed, f.shown.data,
				 f.n_prefixed > FIND_MAX_SHOWN ? ", ..." : "");
			goto out;
		}
		if (r >= 0 && f.name) {
			name = f.name;
			snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s",
				 g->gadget_namespace, name);
			r = k8s_client_get(g->client, path, &cm, err, sizeof(err));
		} else if (r >= 0) {
			kg_error("no gadget instance named '%s' (see 'kubectl gadget list')",
				 name_or_id);
			goto out;
		}
	}
	if (r < 0) {
		kg_error("cannot delete the gadget instance '%s': %s", name_or_id,
			 err[0] ? err : strerror(-r));
		goto out;
	}
	uid = json_string_value(json_object_get(json_object_get(cm, "metadata"), "uid"));
	if (!is_instance(cm) || !uid) {
		kg_error("no gadget instance named '%s' (see 'kubectl gadget list')", name_or_id);
		goto out;
	}
	opts = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "DeleteOptions",
			 "preconditions", "uid", uid);
	if (!opts) {
		kg_error("out of memory");
		goto out;
	}
	r = k8s_client_request(g->client, "DELETE", path, opts, NULL, NULL, err, sizeof(err));
	if (r == -ENOENT || r == -EBUSY) {
		kg_error("no gadget instance named '%s' any more", name_or_id);
	} else if (r < 0) {
		kg_error("cannot delete the gadget instance '%s': %s", name_or_id,
			 err[0] ? err : strerror(-r));
	} else {
		printf("gadget instance %s deleted\n", name);
		ret = KG_EXIT_OK;
	}
out:
	json_decref(cm);
	json_decref(opts);
	free(f.name);
	base_buf_done(&f.shown);
	return ret;
}
