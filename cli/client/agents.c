// SPDX-License-Identifier: Apache-2.0
/*
 * Sessions with agents and the loop that drives them; see agents.h.
 */
#include "cli/client/agents.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"

/* ---- the array ---- */

int client_agents_alloc(struct client_agents *as, size_t n)
{
	size_t i;

	as->v = calloc(n ? n : 1, sizeof(*as->v));
	if (!as->v)
		return -ENOMEM;
	as->n = n;
	for (i = 0; i < n; i++)
		as->v[i].fd = -1;
	return 0;
}

void client_agents_done(struct client_agents *as)
{
	size_t i;

	for (i = 0; as->v && i < as->n; i++) {
		struct client_agent *a = &as->v[i];

		client_agent_close(a);
		free(a->node);
		free(a->where);
		free(a->pod);
		free(a->phase);
		free(a->agent_version);
	}
	free(as->v);
	as->v = NULL;
	as->n = 0;
}

/* ---- failures ---- */

void client_agent_close(struct client_agent *a)
{
	if (a->transport) {
		/* the transport owns the fd */
		if (a->transport_free)
			a->transport_free(a->transport);
		a->transport = NULL;
	} else if (a->fd >= 0) {
		close(a->fd);
	}
	a->fd = -1;
	a->rd = agent_wire_reader_free(a->rd);
	a->wr = agent_wire_writer_free(a->wr);
}

void client_agent_fail(struct client_agent *a, int err, const char *fmt, ...)
{
	va_list ap;

	if (!a->error) {
		a->error = err < 0 ? err : -EIO;
		va_start(ap, fmt);
		base_err_setv(a->errmsg, sizeof(a->errmsg), fmt, ap);
		va_end(ap);
	}
	client_agent_close(a);
}

void client_agent_report(struct client_agent *a)
{
	if (!a->error || a->reported)
		return;
	a->reported = true;
	fflush(stdout);
	fprintf(stderr, "%s: %s: %s\n", client_prog, a->node, a->errmsg);
}

const char *client_agent_error_text(const Gadget__Agent__V1__Error *e)
{
	if (!e)
		return "unknown error";
	if (e->message && *e->message)
		return e->message;
	return agent_wire_error_code_name(e->code);
}

/* ---- sending and receiving ---- */

/* Why the stream broke, from the forward when it knows better. */
static void fail_stream(struct client_agent *a, int err, const char *what)
{
	const char *why = a->transport && a->transport_why ? a->transport_why(a->transport) : NULL;

	/* e.g. the error channel: the API server could not reach the pod's port */
	if (why && *why)
		client_agent_fail(a, err ? err : -ECONNREFUSED, "cannot reach the agent (%s): %s",
				  a->where, why);
	else if (err)
		client_agent_fail(a, err, "%s: %s", what, strerror(-err));
	else
		client_agent_fail(a, -ECONNRESET, "%s", what);
}

static int flush_some(struct client_agent *a)
{
	int r;

	if (!a->wr || !agent_wire_writer_pending(a->wr))
		return 0;
	r = agent_wire_writer_flush(a->wr, a->fd);
	if (r == -EAGAIN)
		return 0;
	if (r < 0)
		fail_stream(a, r, "connection to the agent lost");
	return r;
}

int client_agent_send(struct client_agent *a, Gadget__Agent__V1__Request *req, uint64_t *ret_id)
{
	int r;

	if (!client_agent_connected(a))
		return a->error ? a->error : -ENOTCONN;
	req->id = ++a->next_id;
	r = agent_wire_writer_queue(a->wr, &req->base, 0);
	if (r < 0) {
		client_agent_fail(a, r, "cannot send %s: %s",
				  agent_wire_request_name(req->payload_case), strerror(-r));
		return r;
	}
	if (ret_id)
		*ret_id = req->id;
	return flush_some(a);
}

/*
 * Hands out the complete messages the reader holds.  Returns 0 when more
 * bytes are needed (or a lost the connection: look at it), 1 when the
 * handler returned > 0 to stop here (the rest stays queued), or the
 * handler's negative return.
 */
static int drain(struct client_agent *a,
		 int (*fn)(void *ud, struct client_agent *a, Gadget__Agent__V1__Response *m),
		 void *ud)
{
	const uint8_t *msg;
	size_t len;
	int r;

	while ((r = agent_wire_reader_next(a->rd, &msg, &len)) == 1) {
		Gadget__Agent__V1__Response *m = NULL;

		if (agent_wire_response_unpack(msg, len, &m) < 0) {
			client_agent_fail(a, -EBADMSG, "the agent sent a malformed message");
			return 0;
		}
		r = fn(ud, a, m);
		agent_wire_response_free(m);
		if (r != 0 || !client_agent_connected(a))
			return r;
	}
	if (r < 0)
		fail_stream(a, r, "malformed stream from the agent");
	return 0;
}

/*
 * Hands out what the reader holds, then reads what the fd has, until it
 * would block.  Returns as drain() does; a stream that ends fails a (the
 * agent never closes first).
 */
static int
read_messages(struct client_agent *a,
	      int (*fn)(void *ud, struct client_agent *a, Gadget__Agent__V1__Response *m), void *ud)
{
	for (;;) {
		int n, r = drain(a, fn, ud);

		if (r != 0 || !client_agent_connected(a))
			return r;
		n = agent_wire_reader_read(a->rd, a->fd);
		if (n == -EAGAIN)
			return 0;
		if (n == 0) {
			fail_stream(a, 0, "the agent closed the connection");
			return 0;
		}
		if (n < 0 && n != -ENOBUFS) {
			fail_stream(a, n,
				    n == -EMSGSIZE ? "message over the size limit"
						   : "connection to the agent lost");
			return 0;
		}
	}
}

struct call_ctx {
	uint64_t id;
	Gadget__Agent__V1__Response *answer;
};

/*
 * Keeps the answer to the call, which read_messages() frees after this
 * returns: a copy, by packing and unpacking (answers are small).  Returns 1
 * to stop there: what follows is for the caller's loop.
 */
static int call_handler(void *ud, struct client_agent *a, Gadget__Agent__V1__Response *m)
{
	struct call_ctx *c = ud;
	uint8_t *buf;
	size_t len;
	int r;

	if (m->id != c->id)
		return 0;
	len = gadget__agent__v1__response__get_packed_size(m);
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	gadget__agent__v1__response__pack(m, buf);
	r = agent_wire_response_unpack(buf, len, &c->answer);
	free(buf);
	return r < 0 ? r : 1;
}

int client_agent_call(struct client_agent *a, Gadget__Agent__V1__Request *req, int timeout_ms,
		      Gadget__Agent__V1__Response **ret)
{
	int64_t deadline = client_now_ms() + timeout_ms;
	struct call_ctx c = {0};
	int r;

	r = client_agent_send(a, req, &c.id);
	if (r < 0)
		return r;
	/* the answer may be among the bytes already read */
	r = drain(a, call_handler, &c);
	if (r < 0)
		return r;
	while (!c.answer) {
		struct pollfd p = {.fd = a->fd, .events = POLLIN};
		int64_t left = deadline - client_now_ms();

		if (!client_agent_connected(a))
			return a->error ? a->error : -ECONNRESET;
		if (a->wr && agent_wire_writer_pending(a->wr))
			p.events |= POLLOUT;
		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		if ((p.revents & POLLOUT) && flush_some(a) < 0)
			return a->error;
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			r = read_messages(a, call_handler, &c);
			if (r < 0)
				return r;
		}
	}
	*ret = c.answer;
	return 0;
}

/* ---- connecting ---- */

int client_agent_hello(struct client_agent *a, int fd, void *transport,
		       void (*transport_free)(void *), const char *(*transport_why)(void *),
		       const char *client_name)
{
	Gadget__Agent__V1__Hello hello = GADGET__AGENT__V1__HELLO__INIT;
	Gadget__Agent__V1__Request req = GADGET__AGENT__V1__REQUEST__INIT;
	Gadget__Agent__V1__Response *m = NULL;
	int r;

	a->fd = fd;
	a->transport = transport;
	a->transport_free = transport_free;
	a->transport_why = transport_why;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    agent_wire_reader_new(0, &a->rd) < 0 || agent_wire_writer_new(0, &a->wr) < 0) {
		client_agent_fail(a, -ENOMEM, "cannot set up the session: %s", strerror(errno));
		return a->error;
	}
	hello.protocol_major = AGENT_WIRE_PROTOCOL_MAJOR;
	hello.protocol_minor = AGENT_WIRE_PROTOCOL_MINOR;
	hello.client = (char *)client_name;
	req.payload_case = GADGET__AGENT__V1__REQUEST__PAYLOAD_HELLO;
	req.hello = &hello;
	r = client_agent_call(a, &req, CLIENT_CONNECT_TIMEOUT_MS, &m);
	if (r == -ETIMEDOUT) {
		client_agent_fail(a, r, "the agent (%s) did not answer within %d s", a->where,
				  CLIENT_CONNECT_TIMEOUT_MS / 1000);
		return r;
	}
	if (r < 0) {
		/* client_agent_call() failed the agent with the reason */
		if (!a->error)
			client_agent_fail(a, r, "%s", strerror(-r));
		return a->error;
	}
	if (m->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_WELCOME) {
		a->agent_version = strdup(m->welcome->agent_version);
		base_log_debug("%s: agent %s (%s), protocol %u.%u", a->node,
			       m->welcome->agent_version, a->where, m->welcome->protocol_major,
			       m->welcome->protocol_minor);
	} else if (m->payload_case == GADGET__AGENT__V1__RESPONSE__PAYLOAD_ERROR) {
		client_agent_fail(a, -EPROTONOSUPPORT, "%s", client_agent_error_text(m->error));
	} else {
		client_agent_fail(a, -EPROTO, "the agent answered Hello with %s",
				  agent_wire_response_name(m->payload_case));
	}
	agent_wire_response_free(m);
	return a->error;
}

int client_agent_connect_unix(struct client_agent *a, const char *path, const char *client_name)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd, r;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		client_agent_fail(a, -ENAMETOOLONG, "%s: the socket path is too long", path);
		return a->error;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		client_agent_fail(a, -errno, "socket: %s", strerror(errno));
		return a->error;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		r = -errno;
		close(fd);
		if (r == -EACCES || r == -EPERM)
			client_agent_fail(
				a, r,
				"cannot connect to the daemon at %s: %s (the socket is "
				"for root and the group the daemon's configuration names)",
				path, strerror(-r));
		else if (r == -ENOENT || r == -ECONNREFUSED)
			client_agent_fail(a, r,
					  "cannot connect to the daemon at %s: %s (is 'ig daemon' "
					  "running?)",
					  path, strerror(-r));
		else
			client_agent_fail(a, r, "cannot connect to the daemon at %s: %s", path,
					  strerror(-r));
		return r;
	}
	return client_agent_hello(a, fd, NULL, NULL, NULL, client_name);
}

/* ---- the loop ---- */

int client_agents_loop(struct client_agents *as, const struct client_loop *l)
{
	struct pollfd *p = calloc(as->n + 1, sizeof(*p));
	struct client_agent **who = calloc(as->n + 1, sizeof(*who));
	int r = 0;

	if (!p || !who) {
		free(p);
		free(who);
		return -ENOMEM;
	}
	for (;;) {
		size_t n = 0, i;
		int timeout = -1;

		if (l->done && l->done(l->ud))
			break;
		for (i = 0; i < as->n; i++) {
			struct client_agent *a = &as->v[i];

			if (client_agent_connected(a) && agent_wire_reader_pending(a->rd)) {
				/* messages a call left behind, before waiting for more */
				r = drain(a, l->on_response, l->ud);
				if (r < 0)
					goto out;
				if (!client_agent_connected(a) && l->on_closed)
					l->on_closed(l->ud, a);
			}
			if (!client_agent_connected(a))
				continue;
			p[n].fd = a->fd;
			p[n].events = POLLIN;
			if (agent_wire_writer_pending(a->wr))
				p[n].events |= POLLOUT;
			p[n].revents = 0;
			who[n++] = a;
		}
		if (!n)
			break;
		if (l->sigfd >= 0) {
			p[n].fd = l->sigfd;
			p[n].events = POLLIN;
			p[n].revents = 0;
			who[n++] = NULL;
		}
		if (l->deadline_ms) {
			int64_t left = l->deadline_ms - client_now_ms();

			if (left <= 0) {
				r = -ETIMEDOUT;
				break;
			}
			timeout = left > 60000 ? 60000 : (int)left;
		}
		if (l->tick && l->tick_ms > 0 && (timeout < 0 || timeout > l->tick_ms))
			timeout = l->tick_ms;
		r = poll(p, n, timeout);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			break;
		}
		r = 0;
		for (i = 0; i < n && r >= 0; i++) {
			struct client_agent *a = who[i];

			if (!p[i].revents)
				continue;
			if (!a) {
				struct signalfd_siginfo si;

				if (read(l->sigfd, &si, sizeof(si)) > 0)
					r = -EINTR;
				continue;
			}
			if (!client_agent_connected(a))
				continue;
			if ((p[i].revents & POLLOUT) && flush_some(a) < 0) {
				if (l->on_closed)
					l->on_closed(l->ud, a);
				continue;
			}
			if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				int k = read_messages(a, l->on_response, l->ud);

				if (k < 0)
					r = k;
				else if (!client_agent_connected(a) && l->on_closed)
					l->on_closed(l->ud, a);
			}
		}
		if (r >= 0 && l->tick)
			r = l->tick(l->ud);
		if (r < 0)
			break;
	}
out:
	free(p);
	free(who);
	return r < 0 ? r : 0;
}
