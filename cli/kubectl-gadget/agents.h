/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agents of a cluster as the plugin sees them: found as the pods
 * labelled k8s-app=gadget in the gadget namespace (spec.nodeName names the
 * node), each reached through the API server's pods/portforward to port 8484
 * (k8s/portforward.h) and spoken to in the control protocol of docs/api.md
 * (agent/wire.h).
 *
 * Connections are opened in parallel (a few threads, each opening a forward
 * and saying Hello), because every one costs a TLS handshake and a WebSocket
 * upgrade through the API server; after that one thread drives them all in a
 * poll() loop, so records from every node are handled as they arrive.
 *
 * An agent that cannot be reached, refuses the session or loses its
 * connection is marked failed with a one-line reason; the command reports it
 * once ("node-2: ...") and goes on with the others.
 */
#ifndef CLI_KG_AGENTS_H
#define CLI_KG_AGENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/wire.h"
#include "cli/kubectl-gadget/kg.h"

/* Most agents (nodes) one command talks to. */
#define KG_MAX_AGENTS 4096
/* Most --node names. */
#define KG_MAX_NODE_FLAGS 256
/* Connections opened at once. */
#define KG_CONNECT_THREADS 16
/* Opening a forward and the agent's Welcome, each. */
#define KG_CONNECT_TIMEOUT_MS 10000

struct k8s_portforward;

struct kg_agent {
	char *pod;  /* the agent pod */
	char *node; /* its node (spec.nodeName), else the pod's name */
	char *phase;
	bool running; /* phase Running: worth connecting to */

	/* the session, while connected (fd >= 0) */
	struct k8s_portforward *pf;
	int fd;
	struct agent_wire_reader *rd;
	struct agent_wire_writer *wr;
	uint64_t next_id;
	char *agent_version; /* from Welcome */

	int error; /* -errno once failed */
	char errmsg[KG_ERRLEN];
	bool reported; /* the failure has been printed */
	void *user;    /* the command's per-agent state */
};

struct kg_agents {
	struct kg_agent *v;
	size_t n;
};

/*
 * Lists the agent pods of g's gadget namespace, one per node, keeping only
 * the nodes named in nodes[] when n_nodes > 0 (a name without an agent is an
 * error).  Prints the error (none deployed, API failures); -errno.
 */
int kg_agents_find(struct kg_global *g, const char *const *nodes, size_t n_nodes,
		   struct kg_agents *ret);
void kg_agents_done(struct kg_agents *as);

/*
 * Connects to every agent (forward + Hello).  Returns how many are
 * connected; the others have their error set (not yet reported).
 */
int kg_agents_connect(struct kg_global *g, struct kg_agents *as);

/* Marks a failed (once: later calls keep the first reason) and closes its session. */
void kg_agent_fail(struct kg_agent *a, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prints "node: reason" once for a failed agent. */
void kg_agent_report(struct kg_agent *a);
/* Closes the session, if any; the failure state is kept. */
void kg_agent_close(struct kg_agent *a);
static inline bool kg_agent_connected(const struct kg_agent *a)
{
	return a->fd >= 0;
}

/*
 * Queues req with a fresh id (stored in req->id and returned as *ret_id)
 * and writes what it can without blocking; the loop writes the rest.
 * -errno (the agent is then failed).
 */
int kg_agent_send(struct kg_agent *a, Gadget__Agent__V1__Request *req, uint64_t *ret_id);

/*
 * Sends req and waits up to timeout_ms for the answer to it (other messages
 * are dropped).  An Error answer is returned too: look at payload_case.
 * -ETIMEDOUT, or the error that failed the agent.
 */
int kg_agent_call(struct kg_agent *a, Gadget__Agent__V1__Request *req, int timeout_ms,
		  Gadget__Agent__V1__Response **ret);

struct kg_loop {
	/* A message from a; it is freed after the call.  A negative return ends the loop. */
	int (*on_response)(void *ud, struct kg_agent *a, Gadget__Agent__V1__Response *m);
	/* a's connection ended; a->error is set when it broke.  May be NULL. */
	void (*on_closed)(void *ud, struct kg_agent *a);
	/* Checked after every round; true ends the loop.  May be NULL. */
	bool (*done)(void *ud);
	/*
	 * Called after every round, and at the latest tick_ms after the last
	 * call when tick_ms > 0.  A negative return ends the loop.  May be NULL.
	 */
	int (*tick)(void *ud);
	int tick_ms;
	void *ud;
	int sigfd;	     /* a signalfd to watch, or -1 */
	int64_t deadline_ms; /* kg_now_ms() time to give up at; 0 for none */
};

/*
 * Drives every connected agent until done() says so or none is left
 * connected (0), a signal arrives on sigfd (-EINTR), the deadline passes
 * (-ETIMEDOUT) or on_response() fails (its error).  Safe to call again.
 */
int kg_agents_loop(struct kg_agents *as, const struct kg_loop *l);

/* A one-line reason for an Error answer: its message, else its code's name. */
const char *kg_agent_error_text(const Gadget__Agent__V1__Error *e);

#endif /* CLI_KG_AGENTS_H */
