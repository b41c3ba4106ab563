/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The containers of the agent's node: the CRI runtimes the config names,
 * the collection of their containers once one answers, the enrichment runs
 * read it through, and the ContainerList that ListContainers answers
 * (docs/agent.md "Container runtimes").
 *
 * A runtime may start after the agent: agent_containers_try() is called at
 * start and then every retry interval by the owner until one answers.
 * Before that, runs get an enrichment without a collection, so that the
 * container fields still come out, empty, as they will with one.
 *
 * Single-threaded, for the agent's epoll loop: once the collection exists,
 * its fd is handed to opts.watch(), and agent_containers_process() is to be
 * called when it is readable.
 */
#ifndef AGENT_CONTAINERS_H
#define AGENT_CONTAINERS_H

#include <stddef.h>
#include <stdint.h>

#include "agent/api.pb-c.h"

struct agent_config_runtime;
struct cri_collection;
struct run_enrich;
struct run_selector;
struct agent_containers;

struct agent_containers_opts {
	const struct agent_config_runtime *runtimes; /* borrowed, as the config has them */
	size_t n_runtimes;
	const char *host_root; /* where the host's / is, "" for "/"; borrowed */
	uint32_t timeout_ms;   /* per CRI call */
	uint32_t retry_ms;     /* how often the owner tries again (for the log) */
	/* The collection's fd is to join the owner's loop: 0 or -errno. */
	int (*watch)(void *ctx, int fd);
	void *ctx;
};

/* Returns a new object in *ret (free with agent_containers_free()); -ENOMEM. */
int agent_containers_new(const struct agent_containers_opts *opts, struct agent_containers **ret);
struct agent_containers *agent_containers_free(struct agent_containers *c);

/*
 * Connects to the runtimes whose socket exists, unless the collection is
 * up already.  1 when it came up now, 0 otherwise; what failed is logged
 * (a missing socket once per runtime).
 */
int agent_containers_try(struct agent_containers *c);
/* The collection's fd is readable. */
void agent_containers_process(struct agent_containers *c);
/* Drops the enrichment's cached answers that may be stale (with a collection only). */
void agent_containers_expire(struct agent_containers *c);

/* NULL until a runtime answers (borrowed). */
struct cri_collection *agent_containers_collection(const struct agent_containers *c);
/* What runs enrich their records with: never NULL (borrowed). */
struct run_enrich *agent_containers_enrich(const struct agent_containers *c);
/* "containerd at /run/...sock, cri-o at ..." for messages, cut to len. */
void agent_containers_tried(const struct agent_containers *c, char *buf, size_t len);

/* ListContainers' answer: cl points into the arrays. */
struct agent_containers_list {
	Gadget__Agent__V1__ContainerList cl;
	Gadget__Agent__V1__Container *v, **pv;
	Gadget__Agent__V1__KeyValue *kv, **pkv;
};

/*
 * The containers of coll that sel matches, each with node; strings are
 * borrowed from the collection until it is next processed.  0, or -ENOMEM;
 * release with agent_containers_list_done() either way.
 */
int agent_containers_list_init(struct agent_containers_list *l, struct cri_collection *coll,
			       const struct run_selector *sel, const char *node);
void agent_containers_list_done(struct agent_containers_list *l);

#endif /* AGENT_CONTAINERS_H */
