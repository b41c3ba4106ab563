/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's worker threads.  What would block the event loop (resolving
 * and pulling an image, a write to the Kubernetes API, detaching a loaded
 * gadget, which waits for the kernel) is a job: its work runs in one of a
 * few threads, then it comes back to the loop as a completion.
 *
 * A job is a struct of its owner's that embeds struct agent_worker_job and
 * says, in its ops, what runs where:
 *
 *  - work() runs in a worker thread and may touch only what the job holds
 *    (copies, and objects that are safe to share, such as the image
 *    options), since the loop goes on meanwhile and its owner may be gone
 *    by the time it ends;
 *  - done() runs in the loop's thread, from agent_worker_pool_complete(),
 *    in the order the jobs were finished (oldest first): the job is its
 *    owner's again, to free or to submit anew;
 *  - drop() frees a job that will never be done(): when the pool is freed,
 *    the jobs still queued are worked first, then every job not completed
 *    is dropped.
 *
 * Poll agent_worker_pool_fd() (an eventfd) and call
 * agent_worker_pool_complete() when it is readable.
 */
#ifndef AGENT_WORKER_H
#define AGENT_WORKER_H

#include <stddef.h>

struct agent_worker_pool;
struct agent_worker_job;

struct agent_worker_job_ops {
	void (*work)(struct agent_worker_job *j); /* a worker thread */
	void (*done)(struct agent_worker_job *j); /* the loop */
	void (*drop)(struct agent_worker_job *j); /* the loop, never done */
};

struct agent_worker_job {
	const struct agent_worker_job_ops *ops;
	struct agent_worker_job *next; /* the pool's */
};

/* A pool without threads yet, and its eventfd.  -errno; free with agent_worker_pool_free(). */
int agent_worker_pool_new(struct agent_worker_pool **ret);
/*
 * Starts n worker threads.  -errno of pthread_create(); the threads started
 * before a failure stay, and go with the pool.
 */
int agent_worker_pool_start(struct agent_worker_pool *p, size_t n);
/*
 * Lets the workers finish the queue, joins them, then drops every job not
 * completed; NULL-safe.
 */
struct agent_worker_pool *agent_worker_pool_free(struct agent_worker_pool *p);

/* Readable when jobs are finished (borrowed). */
int agent_worker_pool_fd(const struct agent_worker_pool *p);
/* Queues j; the pool holds it until its done() or drop(). */
void agent_worker_pool_submit(struct agent_worker_pool *p, struct agent_worker_job *j);
/* Calls done() for every finished job, oldest first. */
void agent_worker_pool_complete(struct agent_worker_pool *p);

#endif /* AGENT_WORKER_H */
