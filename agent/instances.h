/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's detached gadget instances (docs/agent.md "Detached gadget
 * instances", docs/api.md "Persistence"): where they are kept, which of
 * them run on this node, and their runs.  agent/instance.h is one
 * instance's spec; this is the set of them.
 *
 * With a Kubernetes API, instances are ConfigMaps in the gadget namespace
 * carrying the instance label: a thread watches them and keeps a snapshot
 * under a lock, and the loop reconciles its instances with the snapshot
 * whenever it changes (agent_instances_fd() is readable then).  A
 * ConfigMap that changed is a new instance: the old one ends.  Without one,
 * on a plain host, they are the files <state dir>/instances/<name>.yaml,
 * read at start, written and removed by CreateInstance and DeleteInstance.
 *
 * An instance for this node runs as an instance's run of agent/run.h: its
 * image is resolved by a worker, then the run starts; a start that fails
 * for lack of a container runtime is tried again when one answers.  A
 * failed instance stays listed, with the reason, until it is deleted.
 *
 * Everything here is the loop's but the watch thread, which only fills the
 * snapshot.
 */
#ifndef AGENT_INSTANCES_H
#define AGENT_INSTANCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/api.pb-c.h"
#include "k8s/watch.h"

struct agent_image_opts;
struct agent_run;
struct agent_run_table;
struct agent_worker_pool;
struct k8s_client;
struct agent_instances;

/* Length of an instance id made here (32 hex digits), with its NUL. */
#define AGENT_INSTANCES_ID_SIZE 33

struct agent_instances_opts {
	const char *node; /* borrowed, as are the strings below */
	/* A plain host: the instance files are in <state_dir>/instances. */
	const char *state_dir;
	/* Kubernetes (NULL: a plain host): the ConfigMaps and the most that run here. */
	struct k8s_client *kc;
	const char *gadget_namespace;
	const char *instance_label; /* "key=value" */
	size_t max_instances;
	struct agent_run_table *runs;
	struct agent_worker_pool *pool;		 /* images are resolved there */
	const struct agent_image_opts *img_opts; /* shared with the workers */
};

/*
 * Starts the ConfigMap watch thread, or reads the instance files and starts
 * those for this node.  -errno with a one-line reason in err.  Free with
 * agent_instances_free().
 */
int agent_instances_new(const struct agent_instances_opts *opts, struct agent_instances **ret,
			char *err, size_t errlen);
/*
 * Ends every instance's streams (RUN_END_SHUTDOWN) and frees it, then stops
 * the watch thread; NULL-safe.
 */
struct agent_instances *agent_instances_free(struct agent_instances *insts);

/* Readable when the ConfigMaps changed (borrowed). */
int agent_instances_fd(const struct agent_instances *insts);
/* Takes the ConfigMaps' snapshot and starts, replaces and ends instances to match it. */
void agent_instances_process(struct agent_instances *insts);
/* The agent is stopping: no instance starts from now on. */
void agent_instances_shutdown(struct agent_instances *insts);
/* A container runtime answers now: instances that failed for want of one start again. */
void agent_instances_retry(struct agent_instances *insts);

/* Ready once a synced snapshot of the ConfigMaps was taken; otherwise the reason in why. */
bool agent_instances_ready(struct agent_instances *insts, char *why, size_t len);
/* The ConfigMap watch's figures for /metrics (zero on a plain host). */
void agent_instances_watch_stats(struct agent_instances *insts, struct k8s_watch_stats *ret_stats,
				 bool *ret_synced, uint64_t *ret_last_ms);
/* Instances for this node; with running_only, those running. */
size_t agent_instances_count(const struct agent_instances *insts, bool running_only);

/* ------------------------------------------------------------ requests */

/* Whether an instance has this name or id, on any node. */
bool agent_instances_exists(const struct agent_instances *insts, const char *id_or_name);

/* ListInstances' answer: il points into the arrays and into the instances. */
struct agent_instances_list {
	Gadget__Agent__V1__InstanceList il;
	Gadget__Agent__V1__Instance *v, **pv;
};

/* The instances of this node.  0 or -ENOMEM; release with agent_instances_list_done(). */
int agent_instances_list_init(struct agent_instances *insts, struct agent_instances_list *ret);
void agent_instances_list_done(struct agent_instances_list *l);

/*
 * AttachInstance: the run to subscribe to (borrowed), of the instance of
 * this node named or with id id_or_name.  -ENOENT when there is none,
 * -EIO when it failed; the protocol's code in *code and a message in msg.
 */
int agent_instances_attachable(struct agent_instances *insts, const char *id_or_name,
			       struct agent_run **ret, Gadget__Agent__V1__ErrorCode *code,
			       char *msg, size_t len);

/*
 * CreateInstance on a plain host, for a validated spec (borrowed): writes
 * its file with a new id, then runs it when it is for this node.  0 with
 * the id and the creation time; -EEXIST when its file exists, -errno
 * otherwise, with *code and msg.
 */
int agent_instances_create_file(struct agent_instances *insts,
				const Gadget__Agent__V1__InstanceSpec *spec,
				char ret_id[AGENT_INSTANCES_ID_SIZE], int64_t *ret_created_ms,
				Gadget__Agent__V1__ErrorCode *code, char *msg, size_t len);
/*
 * DeleteInstance on a plain host: removes the file of the instance named
 * or with id id_or_name, on any node, and ends it.  0 with its id (free()
 * it); -ENOENT when there is none; -errno with msg when the file stays.
 */
int agent_instances_delete_file(struct agent_instances *insts, const char *id_or_name,
				char **ret_id, char *msg, size_t len);

#endif /* AGENT_INSTANCES_H */
