/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Enrichment lookups over the list+watch caches: what a record's container,
 * pod or IP address stands for in the cluster.
 *
 * The caches already hold everything precomputed (labels as "k=v,k2=v2",
 * the resolved owner, IPs, container ids), so every lookup here is a few
 * O(1) hash lookups; this module only knows which cache answers what and in
 * which order: an IP is a pod's first (pods on the host network excepted),
 * then a service's cluster IP, then a node's address.
 *
 * Results are references (k8s_cache_obj_unref() them), so they stay valid
 * whatever the caches do meanwhile.  Objects deleted within the caches'
 * TTL are still found (k8s_cache_obj_deleted()), so late records are
 * enriched.
 *
 * Thread safety: an object is immutable after k8s_enrich_new(); lookups may
 * run from any number of threads.
 */
#ifndef K8S_ENRICH_H
#define K8S_ENRICH_H

#include "k8s/cache.h"

struct k8s_enrich;

struct k8s_enrich_opts {
	/* Borrowed; each may be NULL (its lookups then find nothing). */
	struct k8s_cache *pods;
	struct k8s_cache *services;
	struct k8s_cache *nodes;
};

/* Returns a new object in *ret (free with k8s_enrich_free()); -ENOMEM. */
int k8s_enrich_new(const struct k8s_enrich_opts *opts, struct k8s_enrich **ret);
struct k8s_enrich *k8s_enrich_free(struct k8s_enrich *e);

/* The pod namespace/name; a new reference or NULL. */
struct k8s_cache_obj *k8s_enrich_pod(struct k8s_enrich *e, const char *ns, const char *name);
/* The pod running a container ("containerd://<id>" or the bare id). */
struct k8s_cache_obj *k8s_enrich_container(struct k8s_enrich *e, const char *id);
/*
 * The pod of a container as the runtime names it: by container id first
 * (the pod's status lists it once the kubelet has reported it), then by the
 * pod namespace/name of the CRI labels (covers a container too new for
 * that).  Any argument may be NULL or "".  A new reference or NULL.
 */
struct k8s_cache_obj *k8s_enrich_container_pod(struct k8s_enrich *e, const char *id, const char *ns,
					       const char *name);
/* The pod, service or node behind an IP address (see above); o->kind says which. */
struct k8s_cache_obj *k8s_enrich_ip(struct k8s_enrich *e, const char *ip);

/* "Pod", "Service", "Namespace", "Node", "" for the kinds of cache objects. */
const char *k8s_enrich_kind_name(enum k8s_cache_kind kind);

#endif /* K8S_ENRICH_H */
