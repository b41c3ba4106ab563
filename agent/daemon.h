/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gadget agent: one event loop that owns the node's container
 * collection, the gadget runs of its clients, the detached instances, the
 * control API sessions and the health port (docs/agent.md, docs/api.md).
 *
 * Everything the agent owns is touched from the loop's thread only.  Work
 * that blocks (reading and pulling images, writing ConfigMaps) goes to a
 * small pool of worker threads and comes back to the loop as a completion;
 * the Kubernetes caches and the instance ConfigMap watch run in threads of
 * their own and hand their news to the loop the same way.
 */
#ifndef AGENT_DAEMON_H
#define AGENT_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

struct agent_config;
struct k8s_config;
struct agent_daemon;

/* Client runs (streaming or starting), instances and attaches an agent takes at most. */
#define AGENT_DAEMON_MAX_RUNS	   64
#define AGENT_DAEMON_MAX_INSTANCES 256
#define AGENT_DAEMON_MAX_ATTACHES  1024
/* How often the tracers' ring buffers are drained and record batches sent. */
#define AGENT_DAEMON_DRAIN_MS 10
/* How often a missing container runtime is tried again. */
#define AGENT_DAEMON_RUNTIME_RETRY_MS 10000
/* Per CRI call. */
#define AGENT_DAEMON_CRI_TIMEOUT_MS 1000
/* Time the shutdown gives clients to take their last messages. */
#define AGENT_DAEMON_SHUTDOWN_FLUSH_MS 5000
/* The memory budget when neither memoryBudget nor a cgroup memory limit gives one. */
#define AGENT_DAEMON_DEFAULT_BUDGET (256ull << 20)
/*
 * Of the half of a memory limit not in the budget, what the agent and
 * libbpf take for themselves (measured: 14 MB idle, 14 MB more while
 * libbpf reads the kernel's BTF); the rest is for gadgets, at least this.
 */
#define AGENT_DAEMON_SELF_BYTES	      (48ull << 20)
#define AGENT_DAEMON_MIN_GADGET_BYTES (24ull << 20)
/* Default parent of the plain-host instance files (<dir>/instances/<name>.yaml). */
#define AGENT_DAEMON_STATE_DIR "/var/lib/ig"

struct agent_daemon_opts {
	const struct agent_config *cfg; /* merged and validated; borrowed */
	const char *node_name;		/* resolved: flag, env, file or host name */
	const char *version;
	/* The Kubernetes API, taken over (freed with the daemon); NULL: a plain host. */
	struct k8s_config *k8s;
	const char *state_dir; /* NULL: AGENT_DAEMON_STATE_DIR */
	/*
	 * ig daemon, the host service: the control API on the unix socket only
	 * (listen.address is not opened), and no health port.
	 */
	bool host_service;
	/* short names the store lacks are looked up here too (agent_image_opts); borrowed */
	const char *const *fallback_stores;
	size_t n_fallback_stores;
};

/*
 * Sets everything up: listeners, health port, runtime (or its retry),
 * Kubernetes caches, instances.  -errno with a one-line reason in err;
 * opts->k8s is freed on failure too.
 */
int agent_daemon_new(const struct agent_daemon_opts *opts, struct agent_daemon **ret, char *err,
		     size_t errlen);
/*
 * Runs until SIGTERM or SIGINT, which must be blocked in every thread
 * (block them before agent_daemon_new(), which starts threads), then does
 * the documented shutdown sequence.  0, or -errno of a broken loop.
 */
int agent_daemon_run(struct agent_daemon *d);
struct agent_daemon *agent_daemon_free(struct agent_daemon *d);

#endif /* AGENT_DAEMON_H */
