// SPDX-License-Identifier: Apache-2.0
/*
 * Control API listeners and sessions.  See server.h.
 *
 * Record accounting: the writer only knows bytes, but queue.maxRecords
 * bounds records, so each session remembers, for every record batch it
 * queued, the byte position where the batch ends and how many records it
 * holds.  Bytes written so far (queued minus pending) tell which batches
 * have left, and the sum of the rest is the number of records still
 * waiting for this client.
 */
#include "agent/server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent/budget.h"
#include "agent/config.h"
#include "agent/wire.h"
#include "base/log.h"
#include "base/time.h"

/* Reads per session per wakeup, so one busy client cannot starve the others. */
#define SRV_READS_PER_WAKEUP 16

enum srv_kind {
	SRV_LISTEN_TCP = 1,
	SRV_LISTEN_UNIX,
	SRV_TIMER,
	SRV_SESSION,
};

struct srv_handle {
	enum srv_kind kind;
	int fd;
};

struct srv_batch_mark {
	uint64_t end; /* queued_total after the batch */
	uint32_t n;
};

struct agent_session {
	struct srv_handle h; /* first: epoll data points here */
	struct agent_server *srv;
	uint64_t id;
	enum srv_kind listener; /* SRV_LISTEN_TCP or SRV_LISTEN_UNIX */
	uint64_t accepted_ms;
	uint64_t active_ms; /* the last time it sent something */
	struct agent_wire_reader *rd;
	struct agent_wire_writer *wr;
	char peer[80];
	char client[AGENT_SERVER_MAX_CLIENT_NAME];
	bool hello;
	bool closing;  /* flush, then close */
	bool broken;   /* close without flushing */
	bool want_out; /* EPOLLOUT is on */
	uint64_t close_deadline_ms;
	uint64_t queued_total; /* bytes ever queued */
	struct srv_batch_mark *marks;
	size_t marks_head, marks_n, marks_cap;
	uint64_t records_queued;
	struct agent_session *next;
};

struct agent_server {
	int ep;
	struct srv_handle tcp, unx, timer;
	char *unix_path;
	struct agent_server_opts opts;
	char *node, *version;
	struct agent_session *sessions;
	size_t n_sessions;
	uint64_t next_id;
	size_t max_queue;
	size_t max_request;
	uint64_t hello_ms, idle_ms;
	size_t max_tcp, max_unix;
	bool timer_on;
	struct agent_server_stats stats;
};

static int srv_epoll(struct agent_server *srv, int op, struct srv_handle *h, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = h};

	return epoll_ctl(srv->ep, op, h->fd, &ev) < 0 ? -errno : 0;
}

/* ------------------------------------------------------------ sessions */

static void srv_session_free(struct agent_server *srv, struct agent_session *s)
{
	struct agent_session **pp;

	for (pp = &srv->sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	srv->n_sessions--;
	srv->stats.sessions = srv->n_sessions;
	if (s->listener == SRV_LISTEN_TCP)
		srv->stats.sessions_tcp--;
	else
		srv->stats.sessions_unix--;
	if (srv->opts.ops.closed)
		srv->opts.ops.closed(srv->opts.ops.ctx, s);
	epoll_ctl(srv->ep, EPOLL_CTL_DEL, s->h.fd, NULL);
	close(s->h.fd);
	agent_wire_reader_free(s->rd);
	agent_wire_writer_free(s->wr);
	free(s->marks);
	base_log_debug("agent: session %llu (%s) closed", (unsigned long long)s->id, s->peer);
	free(s);
}

/*
 * The timer ticks every second while there are sessions: Hello deadlines,
 * idle timeouts and the grace time of closing sessions are checked then.
 */
static void srv_timer_arm(struct agent_server *srv)
{
	struct itimerspec its = {.it_interval = {1, 0}, .it_value = {1, 0}};

	if (srv->timer_on)
		return;
	timerfd_settime(srv->timer.fd, 0, &its, NULL);
	srv->timer_on = true;
}

void agent_session_close(struct agent_session *s)
{
	if (s->closing)
		return;
	s->closing = true;
	s->close_deadline_ms = base_time_mono_ms() + AGENT_SERVER_CLOSE_GRACE_MS;
	/* nothing more is read; what is queued still goes out */
	shutdown(s->h.fd, SHUT_RD);
	srv_timer_arm(s->srv);
}

uint64_t agent_session_id(const struct agent_session *s)
{
	return s->id;
}

const char *agent_session_peer(const struct agent_session *s)
{
	return s->peer;
}

const char *agent_session_client(const struct agent_session *s)
{
	return s->client;
}

struct agent_session *agent_server_session(struct agent_server *srv, uint64_t id)
{
	struct agent_session *s;

	for (s = srv->sessions; s; s = s->next)
		if (s->id == id)
			return s->broken ? NULL : s;
	return NULL;
}

/* Forgets the batches the socket has taken. */
static void srv_marks_update(struct agent_session *s)
{
	uint64_t sent = s->queued_total - agent_wire_writer_pending(s->wr);

	while (s->marks_n && s->marks[s->marks_head].end <= sent) {
		s->records_queued -= s->marks[s->marks_head].n;
		s->srv->stats.records_sent += s->marks[s->marks_head].n;
		s->marks_head = (s->marks_head + 1) % s->marks_cap;
		s->marks_n--;
	}
}

static int srv_marks_push(struct agent_session *s, uint64_t end, uint32_t n)
{
	if (s->marks_n == s->marks_cap) {
		size_t cap = s->marks_cap ? s->marks_cap * 2 : 64, i;
		struct srv_batch_mark *m = malloc(cap * sizeof(*m));

		if (!m)
			return -ENOMEM;
		for (i = 0; i < s->marks_n; i++)
			m[i] = s->marks[(s->marks_head + i) % s->marks_cap];
		free(s->marks);
		s->marks = m;
		s->marks_cap = cap;
		s->marks_head = 0;
	}
	s->marks[(s->marks_head + s->marks_n) % s->marks_cap] = (struct srv_batch_mark){end, n};
	s->marks_n++;
	return 0;
}

int agent_session_send(struct agent_session *s, const Gadget__Agent__V1__Response *resp)
{
	int r;

	if (s->broken)
		return -EPIPE;
	r = agent_wire_writer_queue(s->wr, &resp->base, 0);
	if (r == 0) {
		s->queued_total +=
			AGENT_WIRE_HEADER_BYTES + protobuf_c_message_get_packed_size(&resp->base);
		return 0;
	}
	if (r == -ENOBUFS) {
		base_log_warn("agent: client %s (%s) does not read its answers: disconnected",
			      s->client[0] ? s->client : "?", s->peer);
		s->broken = true;
	}
	return r;
}

int agent_session_send_error(struct agent_session *s, uint64_t id,
			     Gadget__Agent__V1__ErrorCode code, const char *fmt, ...)
{
	Gadget__Agent__V1__Response resp = GADGET__AGENT__V1__RESPONSE__INIT;
	Gadget__Agent__V1__Error e = GADGET__AGENT__V1__ERROR__INIT;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e.code = code;
	e.message = msg;
	resp.id = id;
	resp.payload_case = GADGET__AGENT__V1__RESPONSE__PAYLOAD_ERROR;
	resp.error = &e;
	base_log_debug("agent: session %llu request %llu: %s: %s", (unsigned long long)s->id,
		       (unsigned long long)id, agent_wire_error_code_name(code), msg);
	return agent_session_send(s, &resp);
}

int agent_session_send_records(struct agent_session *s, const Gadget__Agent__V1__Response *resp,
			       size_t n_records)
{
	uint32_t max_rec = s->srv->opts.max_queue_records;
	size_t len;
	int r;

	if (s->broken || s->closing)
		return -EPIPE;
	srv_marks_update(s);
	if (max_rec && s->records_queued + n_records > max_rec && s->records_queued) {
		s->srv->stats.records_dropped += n_records;
		return -ENOBUFS;
	}
	len = protobuf_c_message_get_packed_size(&resp->base);
	r = agent_wire_writer_queue(s->wr, &resp->base, AGENT_WIRE_DROPPABLE);
	if (r < 0) {
		if (r == -ENOBUFS)
			s->srv->stats.records_dropped += n_records;
		return r;
	}
	s->queued_total += AGENT_WIRE_HEADER_BYTES + len;
	s->srv->stats.bytes_queued += AGENT_WIRE_HEADER_BYTES + len;
	if (n_records) {
		if (srv_marks_push(s, s->queued_total, (uint32_t)n_records) < 0)
			return 0; /* queued; only the count is off */
		s->records_queued += n_records;
	}
	return 0;
}

/* Writes what the socket takes; false when the session must go. */
static bool srv_session_flush(struct agent_session *s)
{
	struct agent_server *srv = s->srv;
	int r;

	if (s->broken)
		return false;
	if (!agent_wire_writer_pending(s->wr)) {
		if (s->want_out) {
			srv_epoll(srv, EPOLL_CTL_MOD, &s->h, s->closing ? 0 : EPOLLIN);
			s->want_out = false;
		}
		return !s->closing;
	}
	r = agent_wire_writer_flush(s->wr, s->h.fd);
	srv_marks_update(s);
	if (r == -EAGAIN) {
		if (!s->want_out) {
			srv_epoll(srv, EPOLL_CTL_MOD, &s->h, EPOLLOUT | (s->closing ? 0 : EPOLLIN));
			s->want_out = true;
		}
		return !(s->closing && base_time_mono_ms() >= s->close_deadline_ms);
	}
	if (r < 0) {
		base_log_debug("agent: session %llu: write: %s", (unsigned long long)s->id,
			       strerror(-r));
		return false;
	}
	if (s->want_out) {
		srv_epoll(srv, EPOLL_CTL_MOD, &s->h, s->closing ? 0 : EPOLLIN);
		s->want_out = false;
	}
	return !s->closing;
}

void agent_session_flush(struct agent_session *s)
{
	int r;

	if (s->broken || !agent_wire_writer_pending(s->wr))
		return;
	r = agent_wire_writer_flush(s->wr, s->h.fd);
	srv_marks_update(s);
	if (r < 0 && r != -EAGAIN)
		s->broken = true;
}

void agent_server_flush(struct agent_server *srv)
{
	struct agent_session *s, *next;

	for (s = srv->sessions; s; s = next) {
		next = s->next;
		if (!srv_session_flush(s))
			srv_session_free(srv, s);
	}
}

int agent_server_fd(const struct agent_server *srv)
{
	return srv->ep;
}

size_t agent_server_pending(const struct agent_server *srv)
{
	const struct agent_session *s;
	size_t n = 0;

	for (s = srv->sessions; s; s = s->next)
		if (!s->broken)
			n += agent_wire_writer_pending(s->wr);
	return n;
}

void agent_server_get_stats(const struct agent_server *srv, struct agent_server_stats *ret)
{
	*ret = srv->stats;
}

/* ------------------------------------------------------------ requests */

static void srv_hello(struct agent_session *s, const Gadget__Agent__V1__Request *req)
{
	Gadget__Agent__V1__Response resp = GADGET__AGENT__V1__RESPONSE__INIT;
	Gadget__Agent__V1__Welcome w = GADGET__AGENT__V1__WELCOME__INIT;
	const Gadget__Agent__V1__Hello *h = req->hello;
	char why[256];
	uint32_t minor;

	if (agent_wire_check_version(h->protocol_major, h->protocol_minor, &minor, why,
				     sizeof(why)) < 0) {
		base_log_info("agent: %s (%s): %s",
			      h->client && h->client[0] ? h->client : "client", s->peer, why);
		agent_session_send_error(s, req->id,
					 GADGET__AGENT__V1__ERROR_CODE__ERROR_UNSUPPORTED_VERSION,
					 "%s", why);
		agent_session_close(s);
		return;
	}
	snprintf(s->client, sizeof(s->client), "%s", h->client ? h->client : "");
	s->hello = true;
	w.protocol_major = AGENT_WIRE_PROTOCOL_MAJOR;
	w.protocol_minor = minor;
	w.agent_version = s->srv->version;
	w.node = s->srv->node;
	resp.id = req->id;
	resp.payload_case = GADGET__AGENT__V1__RESPONSE__PAYLOAD_WELCOME;
	resp.welcome = &w;
	agent_session_send(s, &resp);
	base_log_debug("agent: session %llu: %s (%s) speaks %u.%u", (unsigned long long)s->id,
		       s->client[0] ? s->client : "client", s->peer, h->protocol_major,
		       h->protocol_minor);
}

static void srv_message(struct agent_session *s, const uint8_t *msg, size_t len)
{
	Gadget__Agent__V1__Request *req = NULL;

	if (agent_wire_request_unpack(msg, len, &req) < 0) {
		agent_session_send_error(s, 0, GADGET__AGENT__V1__ERROR_CODE__ERROR_BAD_REQUEST,
					 "a message of %zu bytes is not a valid Request", len);
		agent_session_close(s);
		return;
	}
	if (!s->hello) {
		if (req->payload_case == GADGET__AGENT__V1__REQUEST__PAYLOAD_HELLO)
			srv_hello(s, req);
		else {
			agent_session_send_error(
				s, req->id, GADGET__AGENT__V1__ERROR_CODE__ERROR_HELLO_REQUIRED,
				"the first message must be Hello, not %s",
				agent_wire_request_name(req->payload_case));
			agent_session_close(s);
		}
	} else if (req->payload_case == GADGET__AGENT__V1__REQUEST__PAYLOAD_HELLO) {
		agent_session_send_error(s, req->id,
					 GADGET__AGENT__V1__ERROR_CODE__ERROR_BAD_REQUEST,
					 "Hello was already received on this connection");
	} else if (req->payload_case == GADGET__AGENT__V1__REQUEST__PAYLOAD__NOT_SET) {
		agent_session_send_error(s, req->id,
					 GADGET__AGENT__V1__ERROR_CODE__ERROR_UNIMPLEMENTED,
					 "this agent does not know the request (protocol %d.%d)",
					 AGENT_WIRE_PROTOCOL_MAJOR, AGENT_WIRE_PROTOCOL_MINOR);
	} else {
		s->srv->opts.ops.request(s->srv->opts.ops.ctx, s, req);
	}
	agent_wire_request_free(req);
}

/* Returns false when the session must go now. */
static bool srv_session_read(struct agent_session *s)
{
	int i, r = 0;

	for (i = 0; i < SRV_READS_PER_WAKEUP && !s->closing && !s->broken; i++) {
		const uint8_t *msg;
		size_t len;
		int m;

		r = agent_wire_reader_read(s->rd, s->h.fd);
		if (r > 0)
			s->active_ms = base_time_mono_ms();
		while (!s->closing && !s->broken &&
		       (m = agent_wire_reader_next(s->rd, &msg, &len)) == 1)
			srv_message(s, msg, len);
		if (r == -EAGAIN)
			return true;
		if (r == -ENOBUFS)
			continue;
		if (r == 0)
			return false; /* the client closed: its runs end */
		if (r == -EMSGSIZE) {
			agent_session_send_error(
				s, 0, GADGET__AGENT__V1__ERROR_CODE__ERROR_BAD_REQUEST,
				"a message announced over the maximum of %zu bytes",
				s->srv->max_request);
			agent_session_close(s);
			return true;
		}
		if (r == -EDQUOT) {
			/* the listener's memory is spent on other clients' messages */
			s->srv->stats.budget_refusals++;
			base_log_warn("agent: %s: no memory left in the %s budget for a request: "
				      "connection closed",
				      s->peer, s->listener == SRV_LISTEN_TCP ? "tcp" : "unix");
			agent_session_send_error(
				s, 0, GADGET__AGENT__V1__ERROR_CODE__ERROR_RESOURCE_EXHAUSTED,
				"the agent has no memory left for this request now");
			agent_session_close(s);
			return true;
		}
		if (r < 0) {
			base_log_debug("agent: session %llu: read: %s", (unsigned long long)s->id,
				       strerror(-r));
			return false;
		}
	}
	return true;
}

/* Sessions of one listener that still count against its limit. */
static size_t srv_count(const struct agent_server *srv, enum srv_kind listener)
{
	const struct agent_session *s;
	size_t n = 0;

	for (s = srv->sessions; s; s = s->next)
		if (s->listener == listener && !s->broken)
			n++;
	return n;
}

/*
 * Room on a full listener: its oldest session that has not said Hello goes.
 * A client that says Hello at once is never the oldest for long, while
 * connections held open without a word are what fills a listener.
 */
static bool srv_make_room(struct agent_server *srv, enum srv_kind listener)
{
	struct agent_session *s, *oldest = NULL;

	for (s = srv->sessions; s; s = s->next)
		if (s->listener == listener && !s->broken && !s->hello &&
		    (!oldest || s->accepted_ms < oldest->accepted_ms ||
		     (s->accepted_ms == oldest->accepted_ms && s->id < oldest->id)))
			oldest = s;
	if (!oldest)
		return false;
	base_log_debug("agent: session %llu (%s) closed without Hello to make room",
		       (unsigned long long)oldest->id, oldest->peer);
	srv->stats.hello_timeouts++;
	oldest->broken = true;
	return true;
}

/* At most this many connections are taken per wakeup, so reads are not starved by a flood. */
#define SRV_ACCEPTS_PER_WAKEUP 64

static void srv_accept(struct agent_server *srv, struct srv_handle *l)
{
	struct agent_budget *budget =
		l->kind == SRV_LISTEN_TCP ? srv->opts.tcp_budget : srv->opts.unix_budget;
	size_t max = l->kind == SRV_LISTEN_TCP ? srv->max_tcp : srv->max_unix;
	int k;

	for (k = 0; k < SRV_ACCEPTS_PER_WAKEUP; k++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct agent_session *s;
		bool full;
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		full = srv_count(srv, l->kind) >= max && !srv_make_room(srv, l->kind);
		s = calloc(1, sizeof(*s));
		if (!s || agent_wire_reader_new(srv->max_request, &s->rd) < 0 ||
		    agent_wire_writer_new(srv->max_queue, &s->wr) < 0) {
			if (s) {
				agent_wire_reader_free(s->rd);
				free(s);
			}
			close(fd);
			continue;
		}
		agent_wire_reader_set_budget(s->rd, budget);
		agent_wire_writer_set_budget(s->wr, budget);
		s->h.kind = SRV_SESSION;
		s->h.fd = fd;
		s->srv = srv;
		s->id = ++srv->next_id;
		s->listener = l->kind;
		s->accepted_ms = s->active_ms = base_time_mono_ms();
		if (l->kind == SRV_LISTEN_TCP && ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;
			char a[INET_ADDRSTRLEN] = "?";

			inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a));
			snprintf(s->peer, sizeof(s->peer), "tcp %s:%u", a, ntohs(in->sin_port));
		} else {
			snprintf(s->peer, sizeof(s->peer), "%s",
				 l->kind == SRV_LISTEN_TCP ? "tcp" : "unix");
		}
		if (srv_epoll(srv, EPOLL_CTL_ADD, &s->h, EPOLLIN) < 0) {
			close(fd);
			agent_wire_reader_free(s->rd);
			agent_wire_writer_free(s->wr);
			free(s);
			continue;
		}
		s->next = srv->sessions;
		srv->sessions = s;
		srv->n_sessions++;
		srv->stats.sessions = srv->n_sessions;
		srv->stats.sessions_total++;
		if (s->listener == SRV_LISTEN_TCP)
			srv->stats.sessions_tcp++;
		else
			srv->stats.sessions_unix++;
		srv_timer_arm(srv);
		if (full) {
			srv->stats.sessions_refused++;
			agent_session_send_error(
				s, 0, GADGET__AGENT__V1__ERROR_CODE__ERROR_RESOURCE_EXHAUSTED,
				"this agent serves at most %zu connections on this socket", max);
			/* the answer goes out now; the connection is not kept to wait for it */
			agent_session_flush(s);
			s->broken = true;
		}
	}
}

/* Sessions that took too long to say Hello, or have been idle too long, go. */
static void srv_expire(struct agent_server *srv, struct agent_session *s, uint64_t now)
{
	if (s->closing || s->broken)
		return;
	if (!s->hello && now - s->accepted_ms >= srv->hello_ms) {
		srv->stats.hello_timeouts++;
		base_log_debug("agent: session %llu (%s): no Hello within %llu ms",
			       (unsigned long long)s->id, s->peer,
			       (unsigned long long)srv->hello_ms);
		agent_session_send_error(s, 0, GADGET__AGENT__V1__ERROR_CODE__ERROR_HELLO_REQUIRED,
					 "no Hello within %llu ms",
					 (unsigned long long)srv->hello_ms);
		agent_session_close(s);
		return;
	}
	if (s->hello && now - s->active_ms >= srv->idle_ms && !agent_wire_writer_pending(s->wr) &&
	    !(srv->opts.ops.busy && srv->opts.ops.busy(srv->opts.ops.ctx, s))) {
		srv->stats.idle_timeouts++;
		base_log_debug("agent: session %llu (%s): idle for %llu ms: closed",
			       (unsigned long long)s->id, s->peer,
			       (unsigned long long)srv->idle_ms);
		agent_session_send_error(
			s, 0, GADGET__AGENT__V1__ERROR_CODE__ERROR_RESOURCE_EXHAUSTED,
			"connection idle for %llu ms: closed", (unsigned long long)srv->idle_ms);
		agent_session_close(s);
	}
}

static void srv_timer(struct agent_server *srv)
{
	struct itimerspec off = {{0, 0}, {0, 0}};
	uint64_t ticks, now = base_time_mono_ms();
	struct agent_session *s;

	if (read(srv->timer.fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	for (s = srv->sessions; s; s = s->next)
		srv_expire(srv, s, now);
	if (!srv->sessions) {
		timerfd_settime(srv->timer.fd, 0, &off, NULL);
		srv->timer_on = false;
	}
	/* closing sessions past their grace time go in agent_server_flush() */
}

int agent_server_process(struct agent_server *srv)
{
	struct epoll_event evs[32];
	int n, i;

	n = epoll_wait(srv->ep, evs, 32, 0);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++) {
		struct srv_handle *h = evs[i].data.ptr;
		struct agent_session *s;

		if (h == &srv->tcp || h == &srv->unx || h == &srv->timer)
			continue;
		s = (struct agent_session *)h;
		if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !s->closing &&
		    !srv_session_read(s))
			s->broken = true;
	}
	/* sessions marked broken above are freed here, after every event was seen */
	agent_server_flush(srv);
	/* by address only: the sessions of this batch may be freed by now */
	for (i = 0; i < n; i++) {
		struct srv_handle *h = evs[i].data.ptr;

		if (h == &srv->tcp || h == &srv->unx)
			srv_accept(srv, h);
		else if (h == &srv->timer)
			srv_timer(srv);
	}
	return 0;
}

/* ------------------------------------------------------------ listeners */

static int srv_listen_tcp(struct agent_server *srv, const char *address, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, r;

	if (agent_config_parse_address(address, &ss, &sl, NULL)) {
		snprintf(err, errlen, "listen.address: '%s' is not a host:port address", address);
		return -EINVAL;
	}
	srv->tcp.kind = SRV_LISTEN_TCP;
	srv->tcp.fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->tcp.fd < 0)
		goto fail;
	setsockopt(srv->tcp.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(srv->tcp.fd, (struct sockaddr *)&ss, sl) < 0 || listen(srv->tcp.fd, 64) < 0)
		goto fail;
	return srv_epoll(srv, EPOLL_CTL_ADD, &srv->tcp, EPOLLIN);
fail:
	r = -errno;
	snprintf(err, errlen, "listen.address %s: %s", address, strerror(-r));
	return r;
}

static int srv_mkdir_p(const char *path)
{
	char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *p;

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, strlen(path) + 1);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

static int srv_listen_unix(struct agent_server *srv, const char *path, unsigned int gid, char *err,
			   size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	int r;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "listen.unixSocket: %s: path too long", path);
		return -ENAMETOOLONG;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	r = srv_mkdir_p(path);
	if (r < 0) {
		snprintf(err, errlen, "listen.unixSocket: cannot create the directory of %s: %s",
			 path, strerror(-r));
		return r;
	}
	if (lstat(path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "listen.unixSocket: %s exists and is not a socket",
				 path);
			return -EEXIST;
		}
		/* a socket file left by an agent that died, unless someone answers on it */
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			snprintf(err, errlen, "listen.unixSocket: another process listens on %s",
				 path);
			return -EADDRINUSE;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	srv->unx.kind = SRV_LISTEN_UNIX;
	srv->unx.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->unx.fd < 0 || bind(srv->unx.fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		r = -errno;
		snprintf(err, errlen, "listen.unixSocket %s: %s", path, strerror(-r));
		return r;
	}
	srv->unix_path = strdup(path);
	/* root only, before anyone can connect */
	if (!srv->unix_path || chmod(path, 0600) < 0 ||
	    /* and the group the configuration names */
	    (gid && (chown(path, 0, (gid_t)gid) < 0 || chmod(path, 0660) < 0)) ||
	    listen(srv->unx.fd, 64) < 0) {
		r = srv->unix_path ? -errno : -ENOMEM;
		snprintf(err, errlen, "listen.unixSocket %s: %s", path, strerror(-r));
		return r;
	}
	return srv_epoll(srv, EPOLL_CTL_ADD, &srv->unx, EPOLLIN);
}

void agent_server_stop_listening(struct agent_server *srv)
{
	if (srv->tcp.fd >= 0) {
		epoll_ctl(srv->ep, EPOLL_CTL_DEL, srv->tcp.fd, NULL);
		close(srv->tcp.fd);
		srv->tcp.fd = -1;
	}
	if (srv->unx.fd >= 0) {
		epoll_ctl(srv->ep, EPOLL_CTL_DEL, srv->unx.fd, NULL);
		close(srv->unx.fd);
		srv->unx.fd = -1;
	}
}

struct agent_server *agent_server_free(struct agent_server *srv)
{
	if (!srv)
		return NULL;
	while (srv->sessions)
		srv_session_free(srv, srv->sessions);
	agent_server_stop_listening(srv);
	if (srv->unix_path) {
		unlink(srv->unix_path);
		free(srv->unix_path);
	}
	if (srv->timer.fd >= 0)
		close(srv->timer.fd);
	if (srv->ep >= 0)
		close(srv->ep);
	free(srv->node);
	free(srv->version);
	free(srv);
	return NULL;
}

int agent_server_new(const struct agent_server_opts *opts, struct agent_server **ret, char *err,
		     size_t errlen)
{
	struct agent_server *srv;
	int r;

	err[0] = '\0';
	if (!opts->ops.request)
		return -EINVAL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->tcp.fd = srv->unx.fd = srv->timer.fd = -1;
	srv->opts = *opts;
	srv->opts.tcp_address = srv->opts.unix_path = NULL;
	srv->max_queue = opts->max_queue_bytes ? opts->max_queue_bytes : AGENT_WIRE_MAX_QUEUE;
	srv->max_request =
		opts->max_request_bytes ? opts->max_request_bytes : AGENT_SERVER_MAX_REQUEST;
	if (srv->max_request > AGENT_WIRE_MAX_MESSAGE)
		srv->max_request = AGENT_WIRE_MAX_MESSAGE;
	srv->hello_ms =
		opts->hello_timeout_ms ? opts->hello_timeout_ms : AGENT_SERVER_HELLO_TIMEOUT_MS;
	srv->idle_ms = opts->idle_timeout_ms ? opts->idle_timeout_ms : AGENT_SERVER_IDLE_TIMEOUT_MS;
	srv->max_tcp = opts->max_tcp_sessions ? opts->max_tcp_sessions : AGENT_SERVER_MAX_SESSIONS;
	srv->max_unix =
		opts->max_unix_sessions ? opts->max_unix_sessions : AGENT_SERVER_MAX_UNIX_SESSIONS;
	srv->node = strdup(opts->node ? opts->node : "");
	srv->version = strdup(opts->version ? opts->version : "");
	srv->opts.node = srv->node;
	srv->opts.version = srv->version;
	srv->ep = epoll_create1(EPOLL_CLOEXEC);
	srv->timer.kind = SRV_TIMER;
	srv->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (!srv->node || !srv->version) {
		r = -ENOMEM;
		goto fail;
	}
	if (srv->ep < 0 || srv->timer.fd < 0 ||
	    (r = srv_epoll(srv, EPOLL_CTL_ADD, &srv->timer, EPOLLIN)) < 0) {
		r = -errno;
		snprintf(err, errlen, "control API: %s", strerror(-r));
		goto fail;
	}
	if (opts->tcp_address && opts->tcp_address[0]) {
		r = srv_listen_tcp(srv, opts->tcp_address, err, errlen);
		if (r < 0)
			goto fail;
	}
	if (opts->unix_path && opts->unix_path[0]) {
		r = srv_listen_unix(srv, opts->unix_path, opts->unix_gid, err, errlen);
		if (r < 0)
			goto fail;
	}
	*ret = srv;
	return 0;
fail:
	agent_server_free(srv);
	return r;
}
