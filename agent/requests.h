/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's control API requests: one handler per request of
 * agent/api.proto (docs/api.md "Requests"), each answering on the session
 * it came from.  The session server hands every request after the Hello
 * to agent_requests_handle().
 *
 * A request that needs an image (GetGadgetInfo, RunGadget,
 * CreateInstance) or a write to the Kubernetes API (CreateInstance and
 * DeleteInstance with ConfigMaps) becomes a job for the worker pool; its
 * completion finds the session again by id, since the client may have
 * gone meanwhile, and answers then.  Runs, instances and containers are
 * asked through their own headers.
 *
 * The loop's thread only.
 */
#ifndef AGENT_REQUESTS_H
#define AGENT_REQUESTS_H

#include <stddef.h>
#include <stdint.h>

#include "agent/api.pb-c.h"

struct agent_containers;
struct agent_image_opts;
struct agent_instances;
struct agent_run_table;
struct agent_server;
struct agent_session;
struct agent_worker_pool;
struct k8s_client;
struct agent_requests;

/* What the handlers answer from and work with; everything borrowed. */
struct agent_requests_opts {
	const char *node;
	const char *version;
	int64_t started_ms;	  /* since the epoch */
	struct agent_server *srv; /* to find a session again by id */
	struct agent_run_table *runs;
	struct agent_instances *insts;
	struct agent_containers *containers;
	struct agent_worker_pool *pool;
	const struct agent_image_opts *img_opts; /* shared with the workers */
	struct k8s_client *kc;			 /* NULL: a plain host */
	size_t max_runs;			 /* clients' runs at once */
	size_t max_attaches;
};

/* Returns a new object in *ret (free with agent_requests_free()); -ENOMEM. */
int agent_requests_new(const struct agent_requests_opts *opts, struct agent_requests **ret);
/* NULL-safe; jobs still in the pool must have been dropped first. */
struct agent_requests *agent_requests_free(struct agent_requests *q);

/* Handles req (borrowed for the call) from session s. */
void agent_requests_handle(struct agent_requests *q, struct agent_session *s,
			   const Gadget__Agent__V1__Request *req);
/* The agent is stopping: requests are refused, and nothing more is submitted. */
void agent_requests_shutdown(struct agent_requests *q);

#endif /* AGENT_REQUESTS_H */
