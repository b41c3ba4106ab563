/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container enrichment: the runtime.* and k8s.* columns of a record, found
 * through the record's mount namespace id (its gadget_mntns_id field) in the
 * container collection.
 *
 *   runtime.containerName  runtime.containerId  runtime.containerPid
 *   runtime.containerImageName  runtime.runtimeName
 *   k8s.namespace  k8s.podName  k8s.containerName  k8s.podLabels ("k=v,k2=v2")
 *
 * With the Kubernetes API caches (k8s/enrich.h), the pod of a container is
 * also looked up there (by container id, then by namespace/name), which
 * adds k8s.owner.kind and k8s.owner.name (the resolved owner: a
 * Deployment rather than its ReplicaSet) and takes k8s.podLabels from the
 * pod's current labels, so a relabelled pod shows its new labels; a pod the
 * API does not know keeps the runtime's labels.  Network endpoints
 * (gadget_l4endpoint_t fields) get the name of the pod, service or node
 * behind their address: run_enrich_add_endpoint_columns().
 *
 * A record from a process outside any container (the host) gets empty
 * values.  Lookups are O(1): the collection's mntns hash, and the last answer
 * is kept, since consecutive records mostly come from one process.
 *
 * A container's last records may still sit in a ring buffer when the
 * collection reports it removed; its details are kept for
 * RUN_ENRICH_GRACE_MS afterwards so that those records are still named.
 */
#ifndef RUN_ENRICH_H
#define RUN_ENRICH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct run_pipeline;
struct bpf_layout;
struct cri_collection;
struct cri_container;
struct k8s_enrich;

#define RUN_ENRICH_GRACE_MS 2000
/* Removed containers remembered at once; the oldest go first past this. */
#define RUN_ENRICH_MAX_GONE 1024

struct run_enrich;

/*
 * coll (borrowed, may be NULL: every record then looks like the host's) must
 * outlive the object.  Returns a new object; free with run_enrich_free().
 */
int run_enrich_new(struct cri_collection *coll, struct run_enrich **ret);
struct run_enrich *run_enrich_free(struct run_enrich *e);

/*
 * The offset of the record's mount namespace id: the first field of type
 * gadget_mntns_id.  -ENOENT when the layout has none.
 */
int run_enrich_mntns_offset(const struct bpf_layout *l, uint32_t *ret);

/*
 * Adds the enrichment columns to p (before run_pipeline_prepare()) for
 * records laid out by l.  With show, K8S.NAMESPACE, K8S.PODNAME and
 * K8S.CONTAINERNAME are in the default columns; every column is in the default
 * JSON and YAML output either way.  With k8s (borrowed, it must outlive p;
 * may be NULL) the pod is also looked up in the API caches, as the header
 * comment says, and the owner columns are added (JSON and YAML only).
 * -ENOENT when l has no mount namespace field (nothing added); other -errno
 * from run_pipeline_add_column().
 */
int run_enrich_add_columns(struct run_enrich *e, struct run_pipeline *p, const struct bpf_layout *l,
			   bool show, struct k8s_enrich *k8s);

/*
 * F.k8s.kind, F.k8s.name and F.k8s.namespace of every gadget_l4endpoint_t
 * field F of p (see run_pipeline_add_endpoint_k8s()), from
 * k8s_enrich_ip() of k8s (borrowed; it must outlive p).
 */
int run_enrich_add_endpoint_columns(struct run_pipeline *p, struct k8s_enrich *k8s);

/*
 * The container whose mount namespace is mntns, or one removed less than
 * RUN_ENRICH_GRACE_MS ago; NULL for the host.  Borrowed until the next
 * collection event or run_enrich_expire().
 */
const struct cri_container *run_enrich_lookup(struct run_enrich *e, uint64_t mntns);

/* Forgets removed containers past their grace period; call now and then. */
void run_enrich_expire(struct run_enrich *e);

#endif /* RUN_ENRICH_H */
