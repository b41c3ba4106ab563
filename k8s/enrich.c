// SPDX-License-Identifier: Apache-2.0
/*
 * Enrichment lookups over the caches.  See enrich.h.
 */
#include "k8s/enrich.h"

#include <errno.h>
#include <stdlib.h>

struct k8s_enrich {
	struct k8s_enrich_opts o;
};

int k8s_enrich_new(const struct k8s_enrich_opts *opts, struct k8s_enrich **ret)
{
	struct k8s_enrich *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	if (opts)
		e->o = *opts;
	*ret = e;
	return 0;
}

struct k8s_enrich *k8s_enrich_free(struct k8s_enrich *e)
{
	free(e);
	return NULL;
}

struct k8s_cache_obj *k8s_enrich_pod(struct k8s_enrich *e, const char *ns, const char *name)
{
	return e->o.pods ? k8s_cache_get(e->o.pods, ns, name) : NULL;
}

struct k8s_cache_obj *k8s_enrich_container(struct k8s_enrich *e, const char *id)
{
	return e->o.pods && id && *id ? k8s_cache_get_by_container_id(e->o.pods, id) : NULL;
}

struct k8s_cache_obj *k8s_enrich_container_pod(struct k8s_enrich *e, const char *id, const char *ns,
					       const char *name)
{
	struct k8s_cache_obj *o = k8s_enrich_container(e, id);

	if (!o && ns && *ns && name && *name)
		o = k8s_enrich_pod(e, ns, name);
	return o;
}

struct k8s_cache_obj *k8s_enrich_ip(struct k8s_enrich *e, const char *ip)
{
	struct k8s_cache *order[] = {e->o.pods, e->o.services, e->o.nodes};
	struct k8s_cache_obj *o = NULL;

	if (!ip || !*ip)
		return NULL;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]) && !o; i++)
		if (order[i])
			o = k8s_cache_get_by_ip(order[i], ip);
	return o;
}

const char *k8s_enrich_kind_name(enum k8s_cache_kind kind)
{
	switch (kind) {
	case K8S_CACHE_POD:
		return "Pod";
	case K8S_CACHE_SERVICE:
		return "Service";
	case K8S_CACHE_NAMESPACE:
		return "Namespace";
	case K8S_CACHE_NODE:
		return "Node";
	default:
		return "";
	}
}
