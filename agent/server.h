/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's control API endpoints: the loopback TCP listener and the unix
 * socket, one session per connection, the Hello exchange, and each
 * session's bounded output queue (docs/api.md "Transport", "Versioning",
 * "Slow clients and drops").
 *
 * The server knows the protocol's framing and session rules; what requests
 * mean is its owner's business: every request after a successful Hello is
 * handed to ops.request(), which answers through agent_session_send*().
 *
 * Output is never written from inside a send: sends queue and mark the
 * session, and agent_server_flush() (the owner calls it once per loop
 * iteration) writes what each socket takes and waits for EPOLLOUT for the
 * rest.  So a slow client never blocks the loop, and a session is never
 * freed under a caller that is sending to it: sessions close only inside
 * agent_server_process() and agent_server_flush(), after ops.closed().
 *
 * Each session's queue is bounded twice: AGENT_WIRE_MAX_QUEUE (or
 * max_queue_bytes) bytes and max_queue_records records not yet written to
 * the socket.  A record batch that would pass either bound is refused
 * (-ENOBUFS) and the caller counts its records as dropped for that client.
 *
 * What clients can make the agent hold is bounded per listener, so that
 * clients of one cannot starve the other (root's unix socket keeps working
 * whatever TCP clients do): each listener has its own session limit and its
 * own memory budget (agent/budget.h) that frames being received and queues
 * are charged to.  A request is at most max_request_bytes.  A connection
 * must say Hello within hello_timeout_ms; when a listener is full, a new
 * connection takes the place of its oldest one that has not said Hello yet,
 * and is refused only when every session there has.  A session that has
 * said Hello and then neither sends anything nor has a run or an attach
 * (ops.busy) for idle_timeout_ms is closed.
 *
 * Single-threaded, for the agent's epoll loop: poll agent_server_fd() (an
 * epoll set of its own) and call agent_server_process() when readable.
 */
#ifndef AGENT_SERVER_H
#define AGENT_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/api.pb-c.h"

struct agent_budget;
/* Connections served at once on each listener; more get ERROR_RESOURCE_EXHAUSTED. */
#define AGENT_SERVER_MAX_SESSIONS      256
#define AGENT_SERVER_MAX_UNIX_SESSIONS 64
/* The largest request a client may send (a CreateInstance holds at most a ConfigMap's 1 MiB). */
#define AGENT_SERVER_MAX_REQUEST (2u << 20)
/* Defaults of the Hello deadline and the idle timeout. */
#define AGENT_SERVER_HELLO_TIMEOUT_MS 10000
#define AGENT_SERVER_IDLE_TIMEOUT_MS  600000
/* A session being closed gets this long to take what is queued for it. */
#define AGENT_SERVER_CLOSE_GRACE_MS 5000
/* Longest client name from Hello kept for logs. */
#define AGENT_SERVER_MAX_CLIENT_NAME 128

struct agent_server;
struct agent_session;

struct agent_server_ops {
	/* A request after the session's Hello; req is borrowed for the call. */
	void (*request)(void *ctx, struct agent_session *s, const Gadget__Agent__V1__Request *req);
	/* The session is going away: drop every reference to it. */
	void (*closed)(void *ctx, struct agent_session *s);
	/* Whether the session has work that keeps it open while it sends nothing (a run). */
	bool (*busy)(void *ctx, struct agent_session *s);
	void *ctx;
};

struct agent_server_opts {
	const char *tcp_address;    /* "127.0.0.1:8484"; NULL or "": none */
	const char *unix_path;	    /* the socket's full path; NULL or "": none */
	unsigned int unix_gid;	    /* 0: root only (0600); else root:gid, 0660 */
	size_t max_queue_bytes;	    /* 0: AGENT_WIRE_MAX_QUEUE */
	uint32_t max_queue_records; /* 0: bytes only */
	const char *node;	    /* for Welcome */
	const char *version;	    /* for Welcome */
	/* Per listener: sessions at once (0: the defaults above) and memory (NULL: unbounded). */
	size_t max_tcp_sessions, max_unix_sessions;
	struct agent_budget *tcp_budget, *unix_budget; /* borrowed */
	size_t max_request_bytes;		       /* 0: AGENT_SERVER_MAX_REQUEST */
	uint64_t hello_timeout_ms;		       /* 0: AGENT_SERVER_HELLO_TIMEOUT_MS */
	uint64_t idle_timeout_ms;		       /* 0: AGENT_SERVER_IDLE_TIMEOUT_MS */
	struct agent_server_ops ops;
};

struct agent_server_stats {
	uint64_t sessions_total;
	uint64_t sessions;
	uint64_t sessions_tcp, sessions_unix;
	/* connections refused at a full listener, and closed for taking too long */
	uint64_t sessions_refused;
	uint64_t hello_timeouts; /* no Hello in time, or made room for a newer connection */
	uint64_t idle_timeouts;
	uint64_t budget_refusals; /* requests too large for what the budget had left */
	uint64_t records_sent;
	uint64_t records_dropped;
	uint64_t bytes_queued;
};

/*
 * Opens the listeners (the unix socket with mode 0600, or 0660 and the
 * group unix_gid, replacing a stale one; -EADDRINUSE when another process
 * answers on it).  -errno with a
 * one-line reason in err.  Free with agent_server_free().
 */
int agent_server_new(const struct agent_server_opts *opts, struct agent_server **ret, char *err,
		     size_t errlen);
/*
 * Closes every session (ops.closed() for each) and the listeners, and
 * removes the unix socket file; NULL-safe.
 */
struct agent_server *agent_server_free(struct agent_server *srv);

int agent_server_fd(const struct agent_server *srv);
/* Accepts, reads and dispatches; never blocks.  0 or -errno of epoll. */
int agent_server_process(struct agent_server *srv);
/* Writes what sessions have queued; closes sessions that are done or broken. */
void agent_server_flush(struct agent_server *srv);
/*
 * Shutdown, first step: no more connections.  Sessions stay until closed;
 * the unix socket file goes with agent_server_free().
 */
void agent_server_stop_listening(struct agent_server *srv);
/* Bytes queued over all sessions (what a shutdown waits for). */
size_t agent_server_pending(const struct agent_server *srv);
void agent_server_get_stats(const struct agent_server *srv, struct agent_server_stats *ret);

/* The session with this id, or NULL once it has closed. */
struct agent_session *agent_server_session(struct agent_server *srv, uint64_t id);

uint64_t agent_session_id(const struct agent_session *s);
/* "tcp 127.0.0.1:40000" or "unix", and the client name from Hello; borrowed. */
const char *agent_session_peer(const struct agent_session *s);
const char *agent_session_client(const struct agent_session *s);

/*
 * Queues a control message (an answer, RunStarted, RunEnded, an Error).
 * These go past the queue bound by up to one maximum message; a client that
 * does not even take those is disconnected, and this returns -ENOBUFS.
 */
int agent_session_send(struct agent_session *s, const Gadget__Agent__V1__Response *resp);
/* An Error{code, message} about request id. */
int agent_session_send_error(struct agent_session *s, uint64_t id,
			     Gadget__Agent__V1__ErrorCode code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/*
 * Queues a RecordBatch of n_records records, unless the session's queue is
 * past a bound: -ENOBUFS then, and nothing is queued.
 */
int agent_session_send_records(struct agent_session *s, const Gadget__Agent__V1__Response *resp,
			       size_t n_records);
/* Closes the session once what is queued is written (or after the grace time). */
void agent_session_close(struct agent_session *s);
/*
 * Writes what the socket takes now, without waiting and without ever
 * closing the session (a failure is handled by the next
 * agent_server_flush()): for a message that should not wait for the end of
 * the loop iteration, such as RunEnded before a slow gadget detach.
 */
void agent_session_flush(struct agent_session *s);

#endif /* AGENT_SERVER_H */
