/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The container collection: the containers running on this host according to
 * its CRI runtimes (containerd, CRI-O), with what a gadget run needs to filter
 * and enrich events: pod name, namespace and uid, pod labels, image, PID, and
 * the mount and network namespace ids and cgroup id of the container.
 *
 * Sandboxes (pause containers) are not containers in CRI and are never
 * listed; a pod whose sandbox uses the node's network namespace is marked
 * host_network.
 *
 * It is single-threaded and made for an epoll loop: poll cri_collection_fd()
 * and call cri_collection_process() when it is readable.  Subscribers get
 * ADDED/REMOVED callbacks from inside cri_collection_process() (and the
 * initial replay from cri_collection_subscribe()).
 *
 * How containers are found:
 *  - GetContainerEvents where the runtime has it: any event triggers a re-list.
 *  - A periodic re-list (poll_interval_ms, default 1 s) always: it is the
 *    safety net, and the only source when the runtime is restarting.
 *  - For containerd, inotify on its shim task directory
 *    (<state>/io.containerd.runtime.v2.task/k8s.io/): the shim makes a
 *    directory per container and runc writes init.pid into it after
 *    `runc create`, before `runc start` lets the container's command run.
 *    That triggers an immediate re-list, so a new container is in the
 *    collection within milliseconds rather than a poll interval.
 *
 * Choice: a container is added as soon as it has a process, also in state
 * CONTAINER_CREATED.  containerd 1.6 reports no PID over CRI until the task has
 * started, so for a created container the PID is read from init.pid in its
 * task directory.  Adding it then means a filter built from the collection
 * already holds the container's mount namespace when its first exec happens
 * (the runc init process waits in that namespace until `runc start`).  A
 * created container without a process yet is left out until it has one.
 * Containers whose process has gone (or that CRI reports exited) are removed.
 */
#ifndef CRI_COLLECTION_H
#define CRI_COLLECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cri/api.pb-c.h"

#define CRI_COLLECTION_MAX_RUNTIMES 4
/* Containers (and sandboxes) accepted from one list reply. */
#define CRI_COLLECTION_MAX_CONTAINERS 65536
/* Labels kept per pod or container. */
#define CRI_COLLECTION_MAX_LABELS      256
#define CRI_COLLECTION_MAX_SUBSCRIBERS 64
#define CRI_COLLECTION_DEFAULT_POLL_MS 1000
/* Longest /proc/<pid>/cgroup read. */
#define CRI_COLLECTION_MAX_CGROUP_FILE 65536

struct cri_collection_runtime {
	const char *name;	 /* "containerd", "cri-o": runtime.runtimeName */
	const char *socket_path; /* its CRI socket */
	/*
	 * containerd's state directory, for the task directory watch; NULL:
	 * the socket's directory (true for the default /run/containerd).
	 */
	const char *state_dir;
};

struct cri_collection_opts {
	const struct cri_collection_runtime *runtimes;
	size_t n_runtimes;
	/* Prefix for /proc, /sys and state dirs when the host is mounted elsewhere. */
	const char *host_root;
	unsigned int poll_interval_ms; /* 0: CRI_COLLECTION_DEFAULT_POLL_MS */
	int timeout_ms;		       /* per CRI call; 0: CRI_DEFAULT_TIMEOUT_MS */
};

struct cri_label {
	const char *key;
	const char *value;
};

/* Strings are owned by the collection and valid until the REMOVED callback returns. */
struct cri_container {
	const char *id;
	const char *name; /* container name: k8s.containerName, runtime.containerName */
	const char *pod_id;
	const char *pod_name;
	const char *pod_namespace;
	const char *pod_uid;
	const char *runtime; /* runtime.runtimeName */
	const char *image_name;
	const char *image_digest; /* "sha256:..." or "" */
	/* pod labels, without the io.kubernetes.* ones the kubelet adds */
	const struct cri_label *pod_labels;
	size_t n_pod_labels;
	/* container labels as the runtime reports them */
	const struct cri_label *labels;
	size_t n_labels;
	uint32_t pid;
	uint64_t mntns;
	uint64_t netns;
	uint64_t cgroup_id; /* cgroup v2 id (the cgroup dir's inode); 0 if unknown */
	int64_t started_at; /* ns since the epoch; 0 while only created */
	bool host_network;
	bool running; /* false: created, its process waits for start */
};

enum cri_collection_event {
	CRI_COLLECTION_ADDED = 1,
	CRI_COLLECTION_REMOVED,
};

typedef void (*cri_collection_fn)(void *userdata, enum cri_collection_event event,
				  const struct cri_container *c);
/* Return non-zero to stop the iteration. */
typedef int (*cri_collection_foreach_fn)(void *userdata, const struct cri_container *c);

struct cri_collection;

/*
 * Connects to each runtime (Version) and lists what runs.  A runtime whose
 * socket is missing, or that does not answer, is kept as down as long as
 * another answers, and asked again at every sync: it joins when it starts.
 * When none answers, returns the first error that is not -ENOENT (else
 * -ENOENT).  Returns a new collection; free with
 * cri_collection_free().
 */
int cri_collection_new(const struct cri_collection_opts *opts, struct cri_collection **ret);
/* Frees without REMOVED callbacks. */
struct cri_collection *cri_collection_free(struct cri_collection *c);

/* An fd that is readable when cri_collection_process() has work (borrowed). */
int cri_collection_fd(const struct cri_collection *c);
/* Handles what is pending; never blocks longer than the CRI calls it makes. */
int cri_collection_process(struct cri_collection *c);
/*
 * Re-lists every runtime now, including those that did not answer before
 * (a runtime started after the collection is found this way).  0 when at
 * least one answered, else the first error.
 */
int cri_collection_sync(struct cri_collection *c);

/* Calls fn(ADDED) for each current container first; returns an id >= 0. */
int cri_collection_subscribe(struct cri_collection *c, cri_collection_fn fn, void *userdata);
void cri_collection_unsubscribe(struct cri_collection *c, int id);

void cri_collection_foreach(const struct cri_collection *c, cri_collection_foreach_fn fn,
			    void *userdata);
size_t cri_collection_count(const struct cri_collection *c);
/* O(1) lookups; NULL when absent.  Borrowed. */
const struct cri_container *cri_collection_find_by_mntns(const struct cri_collection *c,
							 uint64_t mntns);
const struct cri_container *cri_collection_find_by_id(const struct cri_collection *c,
						      const char *id);
/* Names of the runtimes answering at the last sync (borrowed), for messages. */
size_t cri_collection_runtimes(const struct cri_collection *c, const char **names, size_t max);

/*
 * Building blocks, exposed for tests.
 *
 * A container from a verbose ContainerStatus reply and its sandbox's status
 * (sandbox may be NULL): everything but the namespace and cgroup ids, which
 * come from /proc.  pid_override (non-zero) replaces the PID of the reply.
 * -ENODATA when the reply names no container; -E2BIG past the label bound.
 * Free with cri_collection_container_free().
 */
int cri_collection_container_new(const Runtime__V1__ContainerStatusResponse *status,
				 const Runtime__V1__PodSandboxStatusResponse *sandbox,
				 const char *runtime, uint32_t pid_override,
				 struct cri_container **ret);
struct cri_container *cri_collection_container_free(struct cri_container *c);
/*
 * The unified (cgroup v2) path from the text of /proc/<pid>/cgroup: the
 * "0::<path>" line.  *ret is malloc'd.  -ENODATA without such a line.
 */
int cri_collection_cgroup_path(const char *text, size_t len, char **ret);
/* "repo@sha256:..." -> "sha256:..."; a bare "sha256:..." as is; else "". Borrowed. */
const char *cri_collection_image_digest(const char *image_ref);

#endif /* CRI_COLLECTION_H */
