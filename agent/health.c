// SPDX-License-Identifier: Apache-2.0
/*
 * The health port.  See health.h.
 *
 * Each connection goes through three states: reading the head (until the
 * blank line), writing the reply, closed.  The reply is built whole before
 * the first byte is written, so a scrape sees one consistent set of
 * figures, and a slow reader only costs its own buffer.  A /metrics body
 * is written where it was built, after the head, never copied behind it:
 * a copy doubled what a scrape of 10,000 series held (2.2 MB, not 1.1).
 */
#include "agent/health.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "agent/config.h"
#include "base/log.h"
#include "base/time.h"

#define HEALTH_TAG_LISTEN ((uint64_t)1)
#define HEALTH_TAG_TIMER  ((uint64_t)2)

struct health_conn {
	int fd;
	char head[AGENT_HEALTH_MAX_HEAD + 1];
	size_t head_len;
	struct base_buf out;  /* the reply's head, and a short body */
	struct base_buf body; /* a /metrics body, written after out */
	size_t out_off;	      /* of out and body, one after the other */
	bool writing;
	uint64_t deadline_ms;
	struct health_conn *next;
};

struct agent_health {
	int ep;
	int listen_fd;
	int timer_fd;
	struct agent_health_ops ops;
	struct health_conn *conns;
	size_t n_conns;
};

/*
 * The deadline check runs only while connections are open: an idle agent
 * does not wake up.  Four times a second, so that a deadline of a couple of
 * seconds is kept to within a quarter of one.
 */
static void health_arm(struct agent_health *h, bool on)
{
	struct itimerspec its = {{0, 0}, {0, 0}};

	if (on)
		its.it_interval.tv_nsec = its.it_value.tv_nsec = 250 * 1000000L;
	timerfd_settime(h->timer_fd, 0, &its, NULL);
}

static void health_conn_close(struct agent_health *h, struct health_conn *c)
{
	struct health_conn **pp;

	for (pp = &h->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	h->n_conns--;
	if (!h->n_conns)
		health_arm(h, false);
	epoll_ctl(h->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	base_buf_done(&c->out);
	base_buf_done(&c->body);
	free(c);
}

struct agent_health *agent_health_free(struct agent_health *h)
{
	if (!h)
		return NULL;
	while (h->conns)
		health_conn_close(h, h->conns);
	if (h->listen_fd >= 0)
		close(h->listen_fd);
	if (h->timer_fd >= 0)
		close(h->timer_fd);
	if (h->ep >= 0)
		close(h->ep);
	free(h);
	return NULL;
}

int agent_health_new(const char *address, const struct agent_health_ops *ops,
		     struct agent_health **ret, char *err, size_t errlen)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct sockaddr_storage ss;
	struct agent_health *h;
	socklen_t sl;
	int one = 1, r;

	err[0] = '\0';
	if (agent_config_parse_address(address, &ss, &sl, NULL)) {
		snprintf(err, errlen, "health.address: '%s' is not a host:port address", address);
		return -EINVAL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->ops = *ops;
	h->ep = epoll_create1(EPOLL_CLOEXEC);
	h->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	h->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->ep < 0 || h->timer_fd < 0 || h->listen_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "health port: %s", strerror(-r));
		goto fail;
	}
	setsockopt(h->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(h->listen_fd, (struct sockaddr *)&ss, sl) < 0 || listen(h->listen_fd, 64) < 0) {
		r = -errno;
		snprintf(err, errlen, "health.address %s: %s", address, strerror(-r));
		goto fail;
	}
	ev.data.u64 = HEALTH_TAG_LISTEN;
	if (epoll_ctl(h->ep, EPOLL_CTL_ADD, h->listen_fd, &ev) < 0) {
		r = -errno;
		goto fail;
	}
	ev.data.u64 = HEALTH_TAG_TIMER;
	if (epoll_ctl(h->ep, EPOLL_CTL_ADD, h->timer_fd, &ev) < 0) {
		r = -errno;
		goto fail;
	}
	*ret = h;
	return 0;
fail:
	if (!err[0])
		snprintf(err, errlen, "health port: %s", strerror(-r));
	agent_health_free(h);
	return r;
}

int agent_health_fd(const struct agent_health *h)
{
	return h->ep;
}

static const char *health_reason(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	default:
		return "Service Unavailable";
	}
}

/* Puts the whole reply in c->out and switches the connection to writing. */
static void health_reply(struct agent_health *h, struct health_conn *c, int code, const char *type,
			 const char *body, size_t body_len, bool head_only)
{
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};

	base_buf_reset(&c->out);
	base_buf_printf(&c->out,
			"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			"Cache-Control: no-store\r\n%sConnection: close\r\n\r\n",
			code, health_reason(code), type, body_len,
			code == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (!head_only && body_len)
		base_buf_append(&c->out, body, body_len);
	c->out_off = 0;
	c->writing = true;
	c->deadline_ms = base_time_mono_ms() + AGENT_HEALTH_REPLY_MS;
	shutdown(c->fd, SHUT_RD);
	epoll_ctl(h->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* As health_reply(), with the body the connection holds in c->body. */
static void health_reply_body(struct agent_health *h, struct health_conn *c, const char *type,
			      bool head_only)
{
	size_t len = c->body.len;

	if (head_only)
		base_buf_done(&c->body);
	health_reply(h, c, 200, type, NULL, len, true);
}

static void health_text(struct agent_health *h, struct health_conn *c, int code, const char *text,
			bool head_only)
{
	char body[512];
	int n = snprintf(body, sizeof(body), "%s\n", text);

	health_reply(h, c, code, "text/plain; charset=utf-8", body,
		     n < 0			? 0
		     : (size_t)n < sizeof(body) ? (size_t)n
						: sizeof(body) - 1,
		     head_only);
}

static void health_route(struct agent_health *h, struct health_conn *c)
{
	char method[16], path[256];
	const char *sp1, *sp2, *q, *line_end;
	size_t mlen, plen;
	bool head_only;

	line_end = strpbrk(c->head, "\r\n");
	sp1 = memchr(c->head, ' ', (size_t)(line_end - c->head));
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1)) : NULL;
	if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7)) {
		health_text(h, c, 400, "bad request line", false);
		return;
	}
	mlen = (size_t)(sp1 - c->head);
	q = memchr(sp1 + 1, '?', (size_t)(sp2 - sp1 - 1));
	plen = (size_t)((q ? q : sp2) - sp1 - 1);
	if (mlen >= sizeof(method) || plen >= sizeof(path)) {
		health_text(h, c, mlen >= sizeof(method) ? 405 : 404, "not found", false);
		return;
	}
	memcpy(method, c->head, mlen);
	method[mlen] = '\0';
	memcpy(path, sp1 + 1, plen);
	path[plen] = '\0';
	head_only = !strcmp(method, "HEAD");
	if (strcmp(path, "/healthz") && strcmp(path, "/readyz") && strcmp(path, "/metrics")) {
		health_text(h, c, 404, "not found", head_only);
		return;
	}
	if (!head_only && strcmp(method, "GET")) {
		health_text(h, c, 405, "method not allowed (GET or HEAD)", false);
		return;
	}
	if (!strcmp(path, "/healthz")) {
		/* answered from the event loop itself: that is what is alive */
		health_text(h, c, 200, "ok", head_only);
	} else if (!strcmp(path, "/readyz")) {
		char why[256] = "not ready";

		if (h->ops.ready(h->ops.ctx, why, sizeof(why)))
			health_text(h, c, 200, "ok", head_only);
		else
			health_text(h, c, 503, why, head_only);
	} else {
		int r;

		c->body = (struct base_buf)BASE_BUF_INIT(AGENT_HEALTH_MAX_BODY);
		r = h->ops.metrics(h->ops.ctx, &c->body);
		if (r < 0) {
			base_buf_done(&c->body);
			health_text(h, c, 500, strerror(-r), head_only);
		} else {
			health_reply_body(h, c, AGENT_HEALTH_METRICS_TYPE, head_only);
		}
	}
}

/* A full port: the connection open the longest goes, so the newest (a probe) is served. */
static void health_evict_oldest(struct agent_health *h)
{
	struct health_conn *c, *oldest = NULL;

	/* connections are pushed at the head: the oldest is the last */
	for (c = h->conns; c; c = c->next)
		oldest = c;
	if (oldest) {
		base_log_debug("health: %d connections open: the oldest closed",
			       AGENT_HEALTH_MAX_CONNS);
		health_conn_close(h, oldest);
	}
}

/* Connections taken per wakeup, so that a flood does not keep the loop from its other work. */
#define HEALTH_ACCEPTS_PER_WAKEUP 16

static void health_accept(struct agent_health *h)
{
	int k;

	for (k = 0; k < HEALTH_ACCEPTS_PER_WAKEUP; k++) {
		struct epoll_event ev = {.events = EPOLLIN};
		struct health_conn *c;
		int fd = accept4(h->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		if (h->n_conns >= AGENT_HEALTH_MAX_CONNS)
			health_evict_oldest(h);
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			return;
		}
		c->fd = fd;
		c->out = (struct base_buf)BASE_BUF_INIT(AGENT_HEALTH_MAX_BODY + 1024);
		c->deadline_ms = base_time_mono_ms() + AGENT_HEALTH_HEAD_MS;
		ev.data.ptr = c;
		if (epoll_ctl(h->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = h->conns;
		h->conns = c;
		if (!h->n_conns++)
			health_arm(h, true);
	}
}

/* Returns false when the connection is gone. */
static bool health_read(struct agent_health *h, struct health_conn *c)
{
	ssize_t n;
	char *end;

	n = read(c->fd, c->head + c->head_len, AGENT_HEALTH_MAX_HEAD - c->head_len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0) {
		health_conn_close(h, c);
		return false;
	}
	c->head_len += (size_t)n;
	c->head[c->head_len] = '\0';
	if (memchr(c->head, '\0', c->head_len)) {
		health_text(h, c, 400, "NUL byte in the request head", false);
		return true;
	}
	end = strstr(c->head, "\r\n\r\n");
	if (!end)
		end = strstr(c->head, "\n\n");
	if (end) {
		health_route(h, c);
		return true;
	}
	if (c->head_len >= AGENT_HEALTH_MAX_HEAD)
		health_text(h, c, 431, "request head larger than 8 KiB", false);
	return true;
}

static void health_write(struct agent_health *h, struct health_conn *c)
{
	size_t head = c->out.len, total = head + c->body.len;

	while (c->out_off < total) {
		size_t in_body = c->out_off > head ? c->out_off - head : 0;
		struct iovec iov[2];
		struct msghdr msg = {.msg_iov = iov};
		ssize_t n;

		if (c->out_off < head)
			iov[msg.msg_iovlen++] =
				(struct iovec){c->out.data + c->out_off, head - c->out_off};
		if (c->body.len > in_body)
			iov[msg.msg_iovlen++] =
				(struct iovec){c->body.data + in_body, c->body.len - in_body};
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
			break;
		c->out_off += (size_t)n;
	}
	health_conn_close(h, c);
}

static void health_expire(struct agent_health *h)
{
	uint64_t now = base_time_mono_ms(), ticks;
	struct health_conn *c = h->conns, *next;

	if (read(h->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		base_log_debug("health: timer: %s", strerror(errno));
	for (; c; c = next) {
		next = c->next;
		if (now >= c->deadline_ms)
			health_conn_close(h, c);
	}
}

int agent_health_process(struct agent_health *h)
{
	struct epoll_event evs[16];
	int n, i;

	n = epoll_wait(h->ep, evs, 16, 0);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	/* connections first: an accept below may reuse a freed pointer's address */
	for (i = 0; i < n; i++) {
		struct health_conn *c = evs[i].data.ptr;

		if (evs[i].data.u64 == HEALTH_TAG_LISTEN || evs[i].data.u64 == HEALTH_TAG_TIMER)
			continue;
		if (c->writing)
			health_write(h, c);
		else
			health_read(h, c);
	}
	for (i = 0; i < n; i++) {
		if (evs[i].data.u64 == HEALTH_TAG_LISTEN)
			health_accept(h);
		else if (evs[i].data.u64 == HEALTH_TAG_TIMER)
			health_expire(h);
	}
	return 0;
}
