/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's own metrics: the per-gadget record counters its runs add to,
 * and the Prometheus text exposition (version 0.0.4) that the health
 * port's /metrics serves (docs/agent.md "Ports and endpoints").
 *
 * The counters are bounded: the first AGENT_METRICS_MAX_GADGETS gadget
 * names get a series each; any other gadget counts into a row named "other"
 * that the text does not show.  Everything else the text says is handed in by the
 * owner at the time of the scrape (struct agent_metrics_node), so this file
 * knows the format and nothing of where the figures come from.
 *
 * Single-threaded: the loop's thread only.
 */
#ifndef AGENT_METRICS_H
#define AGENT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "k8s/watch.h"

/* Gadget names kept for the per-gadget counters. */
#define AGENT_METRICS_MAX_GADGETS 256

struct agent_metrics;
struct agent_budget;

/* The counters of one gadget (by image name), added to by its runs. */
struct agent_metrics_gadget {
	char name[64];
	uint64_t records; /* produced on this node, after filters */
	uint64_t lost;	  /* the kernel could not queue them */
};

/* A Kubernetes list+watch cache, as the text reports it. */
struct agent_metrics_cache {
	const char *what; /* "pods": the resource label */
	struct k8s_watch_stats st;
	bool synced;
	uint64_t last_ms; /* CLOCK_MONOTONIC of its last change; 0: none yet */
};

/* The figures of a scrape besides the counters; strings borrowed. */
struct agent_metrics_node {
	const char *version;
	const char *node;
	int64_t started_ms; /* since the epoch */
	size_t instances;   /* running on this node */
	size_t containers;
	size_t runs; /* streaming to clients */
	uint64_t clients;
	uint64_t client_records_dropped;
	/* the limits of docs/agent.md "Limits" */
	uint64_t sessions_tcp, sessions_unix;
	uint64_t sessions_refused, hello_timeouts, idle_timeouts;
	const struct agent_budget *budgets[4];
	size_t n_budgets;
	const struct agent_metrics_cache *caches; /* none on a plain host */
	size_t n_caches;
};

/* Returns new, empty counters in *ret (free with agent_metrics_free()); -ENOMEM. */
int agent_metrics_new(struct agent_metrics **ret);
struct agent_metrics *agent_metrics_free(struct agent_metrics *m);

/*
 * The counters of gadget name, made on first use (borrowed, valid until
 * agent_metrics_free()).  NULL, a name of 64 bytes or more, or a name past
 * AGENT_METRICS_MAX_GADGETS: the "other" counters.
 */
struct agent_metrics_gadget *agent_metrics_gadget(struct agent_metrics *m, const char *name);

/* Appends the text exposition to out.  Returns 0. */
int agent_metrics_write(const struct agent_metrics *m, const struct agent_metrics_node *n,
			struct base_buf *out);

#endif /* AGENT_METRICS_H */
