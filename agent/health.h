/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's health port: GET /healthz, /readyz and /metrics over plain
 * HTTP/1.1, for the kubelet's probes and for Prometheus (docs/agent.md
 * "Ports and endpoints").
 *
 * One request per connection (the reply says Connection: close), which is
 * what probes and scrapers do anyway and keeps the server a few states.
 * Request heads are limited to AGENT_HEALTH_MAX_HEAD bytes (431 past it);
 * any path but the three gets 404, any method but GET and HEAD 405.
 *
 * Slow or silent clients cannot hold the port: a connection has
 * AGENT_HEALTH_HEAD_MS to send its request head and AGENT_HEALTH_REPLY_MS to
 * take the reply, and when AGENT_HEALTH_MAX_CONNS are open a new one takes
 * the place of the oldest.  A kubelet probe sends its request as soon as it
 * connects, so it is answered even while others hold every slot.
 *
 * Made for the agent's epoll loop: everything is non-blocking and waits on
 * one fd (an epoll set of its own), agent_health_fd(); call
 * agent_health_process() when it is readable.  The answers are computed by
 * the owner's callbacks at the time of the request.
 */
#ifndef AGENT_HEALTH_H
#define AGENT_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

#define AGENT_HEALTH_MAX_HEAD  8192
#define AGENT_HEALTH_MAX_CONNS 64
#define AGENT_HEALTH_HEAD_MS   2000
#define AGENT_HEALTH_REPLY_MS  10000
/* Largest /metrics body. */
#define AGENT_HEALTH_MAX_BODY (4u << 20)

#define AGENT_HEALTH_METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct agent_health_ops {
	/* Appends the Prometheus text exposition to out; -errno gives a 500. */
	int (*metrics)(void *ctx, struct base_buf *out);
	/* True when ready; otherwise a one-line reason in why. */
	bool (*ready)(void *ctx, char *why, size_t len);
	void *ctx;
};

struct agent_health;

/*
 * Listens on address ("0.0.0.0:8485", "[::1]:9000").  Returns a new server
 * in *ret (free with agent_health_free()), or -errno with a message in err
 * (a bad address, the port in use).
 */
int agent_health_new(const char *address, const struct agent_health_ops *ops,
		     struct agent_health **ret, char *err, size_t errlen);
/* Closes the port and every connection; NULL-safe. */
struct agent_health *agent_health_free(struct agent_health *h);

/* Readable when agent_health_process() has work (borrowed). */
int agent_health_fd(const struct agent_health *h);
/* Accepts, reads, answers, closes; never blocks.  0 or -errno of epoll. */
int agent_health_process(struct agent_health *h);

#endif /* AGENT_HEALTH_H */
