/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sessions with agents, whatever carries the bytes: the control protocol of
 * docs/api.md (agent/wire.h) over a file descriptor that a front end opened
 * (a pods/portforward stream for kubectl-gadget, a unix socket for
 * `ig --remote`).  After the Hello exchange one thread drives every session
 * in a poll() loop, so records from every agent are handled as they arrive.
 *
 * An agent that cannot be reached, refuses the session or loses its
 * connection is marked failed with a one-line reason; the command reports it
 * once ("node-2: ...") and goes on with the others.
 */
#ifndef CLI_CLIENT_AGENTS_H
#define CLI_CLIENT_AGENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/wire.h"
#include "cli/client/client.h"

/* Most agents (nodes) one command talks to. */
#define CLIENT_MAX_AGENTS 4096
/* Most --node names. */
#define CLIENT_MAX_NODE_FLAGS 256
/* Opening a connection and the agent's Welcome, each. */
#define CLIENT_CONNECT_TIMEOUT_MS 10000

struct client_agent {
	char *node;  /* the node it serves, for messages ("node-2: ...") */
	char *where; /* how it is reached, for messages: "pod gadget-x8k2f", "unix:///run/x" */

	/* a cluster's agent pod: its name and phase; Running is worth connecting to */
	char *pod;
	char *phase;
	bool running;

	/* the session, while connected (fd >= 0) */
	int fd;
	void *transport; /* owns fd when set (closed by transport_free), else fd is closed */
	void (*transport_free)(void *transport);
	/* why the transport broke, when it knows better than the socket; may be NULL */
	const char *(*transport_why)(void *transport);
	struct agent_wire_reader *rd;
	struct agent_wire_writer *wr;
	uint64_t next_id;
	char *agent_version; /* from Welcome */

	int error; /* -errno once failed */
	char errmsg[CLIENT_ERRLEN];
	bool reported; /* the failure has been printed */
	void *user;    /* the command's per-agent state */
};

struct client_agents {
	struct client_agent *v;
	size_t n;
};

/* An array of n agents, each closed (fd -1), for a front end to fill.  -ENOMEM. */
int client_agents_alloc(struct client_agents *as, size_t n);
void client_agents_done(struct client_agents *as);

/*
 * Takes fd (non-blocking after this) as a's session and says Hello: 0, or
 * -errno with a failed (the Error the agent answered, a timeout, ...).
 * transport and its functions as in struct client_agent (may be NULL).
 */
int client_agent_hello(struct client_agent *a, int fd, void *transport,
		       void (*transport_free)(void *), const char *(*transport_why)(void *),
		       const char *client_name);

/*
 * Connects a to the agent on the unix socket path and says Hello; a->where
 * and a->node should be set.  0 or -errno with a failed ("permission denied
 * ... (the socket is root's)").
 */
int client_agent_connect_unix(struct client_agent *a, const char *path, const char *client_name);

/* Marks a failed (once: later calls keep the first reason) and closes its session. */
void client_agent_fail(struct client_agent *a, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prints "node: reason" once for a failed agent. */
void client_agent_report(struct client_agent *a);
/* Closes the session, if any; the failure state is kept. */
void client_agent_close(struct client_agent *a);
static inline bool client_agent_connected(const struct client_agent *a)
{
	return a->fd >= 0;
}

/*
 * Queues req with a fresh id (stored in req->id and returned as *ret_id)
 * and writes what it can without blocking; the loop writes the rest.
 * -errno (the agent is then failed).
 */
int client_agent_send(struct client_agent *a, Gadget__Agent__V1__Request *req, uint64_t *ret_id);

/*
 * Sends req and waits up to timeout_ms for the answer to it (other messages
 * are dropped).  An Error answer is returned too: look at payload_case.
 * -ETIMEDOUT, or the error that failed the agent.
 */
int client_agent_call(struct client_agent *a, Gadget__Agent__V1__Request *req, int timeout_ms,
		      Gadget__Agent__V1__Response **ret);

struct client_loop {
	/* A message from a; it is freed after the call.  A negative return ends the loop. */
	int (*on_response)(void *ud, struct client_agent *a, Gadget__Agent__V1__Response *m);
	/* a's connection ended; a->error is set when it broke.  May be NULL. */
	void (*on_closed)(void *ud, struct client_agent *a);
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
	int64_t deadline_ms; /* client_now_ms() time to give up at; 0 for none */
};

/*
 * Drives every connected agent until done() says so or none is left
 * connected (0), a signal arrives on sigfd (-EINTR), the deadline passes
 * (-ETIMEDOUT) or on_response() fails (its error).  Safe to call again.
 */
int client_agents_loop(struct client_agents *as, const struct client_loop *l);

/* A one-line reason for an Error answer: its message, else its code's name. */
const char *client_agent_error_text(const Gadget__Agent__V1__Error *e);

#endif /* CLI_CLIENT_AGENTS_H */
