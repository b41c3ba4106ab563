/* SPDX-License-Identifier: Apache-2.0 */
/*
 * List+watch caches of Kubernetes objects (informers).
 *
 * A cache keeps one collection (pods, services, namespaces, nodes, ...),
 * optionally narrowed by field and label selectors, current in a
 * background thread of its own that runs the k8s_watch loop (see watch.h
 * for the list, watch, 410 and reconnect rules).  It stores only what
 * enrichment needs, in one compact immutable block per object: namespace,
 * name, uid, resourceVersion, labels as "k=v,k2=v2" (sorted by key), the
 * pod's node, IPs (pods: status.podIPs; services: spec.clusterIPs; nodes:
 * InternalIP/ExternalIP addresses), the owner (the controller in
 * ownerReferences; with resolve_owners, a ReplicaSet's Deployment and a
 * Job's CronJob, fetched once per owner with a GET and remembered),
 * hostNetwork and the containers' names and runtime ids from
 * status.*containerStatuses.
 *
 * Lookups are O(1) hash lookups under a read lock: by namespace/name, uid,
 * IP and container id.  They return a reference the caller drops with
 * k8s_cache_obj_unref(); an object never changes once published, an update
 * publishes a new one.  Deleted objects stay findable for deleted_ttl_ms
 * (k8s_cache_obj_deleted() is then true), so that events that arrive late
 * are still enriched.  Pods on the host network are not indexed by IP
 * (the IP is the node's).
 *
 * Handlers run in the cache's thread, after the store has changed and
 * without its lock held (they may look the cache up).  After a relist the
 * cache tells apart what was added, changed and deleted while it was not
 * watching, and calls the handlers for exactly those.
 *
 * Thread safety: every function may be called from any thread, except
 * k8s_cache_free(), which must not run concurrently with other calls on the
 * same cache nor from a handler.
 */
#ifndef K8S_CACHE_H
#define K8S_CACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s/watch.h"

struct k8s_client;
struct k8s_cache;

/* Default time deleted objects stay findable. */
#define K8S_CACHE_DELETED_TTL_MS 5000
/* Per object: IPs and containers kept, bytes of labels and of all strings. */
#define K8S_CACHE_MAX_IPS	 16
#define K8S_CACHE_MAX_CONTAINERS 64
#define K8S_CACHE_MAX_LABELS	 (16u << 10)
#define K8S_CACHE_MAX_OBJ_BYTES	 (64u << 10)
/* Owners resolved with a GET that are remembered (the memo is cleared when full). */
#define K8S_CACHE_MAX_OWNERS 8192

enum k8s_cache_kind {
	K8S_CACHE_POD,
	K8S_CACHE_SERVICE,
	K8S_CACHE_NAMESPACE,
	K8S_CACHE_NODE,
	K8S_CACHE_OTHER,
};

struct k8s_cache_container {
	const char *name;
	const char *id; /* without the "containerd://" scheme; "" before it runs */
};

/* Read-only; every string is non-NULL ("" when absent). */
struct k8s_cache_obj {
	enum k8s_cache_kind kind;
	const char *namespace; /* "" for cluster-scoped objects */
	const char *name;
	const char *uid;
	const char *resource_version;
	const char *labels;
	const char *node; /* pods: spec.nodeName */
	const char *owner_kind;
	const char *owner_name;
	const char *const *ips;
	size_t n_ips;
	const struct k8s_cache_container *containers;
	size_t n_containers;
	bool host_network;
	/* private */
	atomic_uint refs;
	_Atomic uint64_t deleted_at_ms;
	const char *key;
};

struct k8s_cache_obj *k8s_cache_obj_ref(struct k8s_cache_obj *o);
/* Drops a reference; NULL-safe; returns NULL. */
struct k8s_cache_obj *k8s_cache_obj_unref(struct k8s_cache_obj *o);
bool k8s_cache_obj_deleted(const struct k8s_cache_obj *o);

/* Handlers; objects are borrowed for the call (k8s_cache_obj_ref() to keep). */
struct k8s_cache_handlers {
	void (*on_add)(void *userdata, const struct k8s_cache_obj *o);
	void (*on_update)(void *userdata, const struct k8s_cache_obj *old,
			  const struct k8s_cache_obj *o);
	void (*on_delete)(void *userdata, const struct k8s_cache_obj *o);
	void *userdata;
};

struct k8s_cache_opts {
	struct k8s_client *client;  /* borrowed; must outlive the cache */
	const char *path;	    /* "/api/v1/pods", "/api/v1/namespaces/x/pods", ... */
	const char *field_selector; /* "spec.nodeName=n1" */
	const char *label_selector;
	unsigned int page_limit;	 /* 0 for 500 */
	unsigned int deleted_ttl_ms;	 /* 0 for K8S_CACHE_DELETED_TTL_MS */
	bool resolve_owners;		 /* pods: ReplicaSet -> Deployment, Job -> CronJob */
	unsigned int watch_timeout_s;	 /* see k8s_watch_opts */
	unsigned int backoff_initial_ms; /* see k8s_watch_opts */
	unsigned int backoff_max_ms;
	struct k8s_cache_handlers handlers;
};

/*
 * Starts a cache: its thread lists and watches until k8s_cache_free().
 * Returns 0 and the cache in *ret, -EINVAL, -ENOMEM, or pthread's error.
 */
int k8s_cache_new(const struct k8s_cache_opts *opts, struct k8s_cache **ret);
/* Stops the thread (within about 250 ms) and frees everything; NULL-safe. */
struct k8s_cache *k8s_cache_free(struct k8s_cache *c);

/* True once a first list has been stored. */
bool k8s_cache_synced(struct k8s_cache *c);
/*
 * Waits up to timeout_ms for the first list.  Returns 0 once synced;
 * -ETIMEDOUT, or the last list error, after the timeout; and the error at
 * once when the server refuses for good (-EACCES, -EPERM, -ENOENT,
 * -EINVAL, -EKEYREJECTED).  err receives the server's message.
 */
int k8s_cache_wait_synced(struct k8s_cache *c, unsigned int timeout_ms, char *err, size_t errlen);

/* Lookups: a new reference, or NULL.  Deleted objects within their TTL included. */
struct k8s_cache_obj *k8s_cache_get(struct k8s_cache *c, const char *ns, const char *name);
struct k8s_cache_obj *k8s_cache_get_by_uid(struct k8s_cache *c, const char *uid);
struct k8s_cache_obj *k8s_cache_get_by_ip(struct k8s_cache *c, const char *ip);
/* id with or without its "<runtime>://" scheme. */
struct k8s_cache_obj *k8s_cache_get_by_container_id(struct k8s_cache *c, const char *id);

/*
 * Calls fn for every object (deleted ones within their TTL included) under
 * the read lock: fn must not call back into the cache.  A non-zero return
 * stops the walk and is returned.
 */
int k8s_cache_foreach(struct k8s_cache *c, int (*fn)(void *userdata, const struct k8s_cache_obj *o),
		      void *userdata);
/* Objects held, live and deleted. */
size_t k8s_cache_count(struct k8s_cache *c);
enum k8s_cache_kind k8s_cache_get_kind(const struct k8s_cache *c);
void k8s_cache_get_stats(struct k8s_cache *c, struct k8s_watch_stats *ret);

/* "pods" -> K8S_CACHE_POD ..., from a collection path's last segment. */
enum k8s_cache_kind k8s_cache_kind_from_path(const char *path);

#endif /* K8S_CACHE_H */
