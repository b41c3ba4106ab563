// SPDX-License-Identifier: Apache-2.0
/*
 * The gRPC layer over our HTTP/2 connection: dialing the unix socket with a
 * deadline, request headers and message framing, reply reassembly and the
 * translation of gRPC status to -errno.  See transport.h for the contract.
 *
 * Sockets are non-blocking and every wait is a poll() bounded by what is
 * left of the call's deadline, so a runtime that hangs, stops reading or
 * dies mid-reply costs at most the caller's timeout.  A unary reply is
 * checked as it arrives: its length prefix is read before its body, so an
 * oversized reply is refused (the stream reset) without buffering it.
 */
#include "cri/transport.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "cri/h2.h"

#ifndef IG_VERSION
#define IG_VERSION "dev"
#endif

/* Bytes read from the socket at a time. */
#define TRANSPORT_READ_CHUNK (16u << 10)
/* gRPC message prefix: compressed flag and big-endian length. */
#define TRANSPORT_MSG_PREFIX 5
/* Longest grpc-message kept for the debug log. */
#define TRANSPORT_MAX_DETAIL 256
/* Wait between connect() attempts while the listener's backlog is full. */
#define TRANSPORT_BACKLOG_WAIT_MS 5
/*
 * Reply bytes buffered at most: one whole message, plus what one read can
 * complete behind it (a frame that was nearly all buffered in h2 already).
 */
#define TRANSPORT_MAX_BUFFERED                                                                     \
	(CRI_MAX_REPLY + TRANSPORT_MSG_PREFIX + H2_MAX_FRAME_SIZE + TRANSPORT_READ_CHUNK)

/* gRPC status codes (grpc/status.h), as the trailers carry them. */
enum transport_grpc_status {
	GRPC_OK = 0,
	GRPC_CANCELLED = 1,
	GRPC_UNKNOWN = 2,
	GRPC_INVALID_ARGUMENT = 3,
	GRPC_DEADLINE_EXCEEDED = 4,
	GRPC_NOT_FOUND = 5,
	GRPC_ALREADY_EXISTS = 6,
	GRPC_PERMISSION_DENIED = 7,
	GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_FAILED_PRECONDITION = 9,
	GRPC_ABORTED = 10,
	GRPC_OUT_OF_RANGE = 11,
	GRPC_UNIMPLEMENTED = 12,
	GRPC_INTERNAL = 13,
	GRPC_UNAVAILABLE = 14,
	GRPC_DATA_LOSS = 15,
	GRPC_UNAUTHENTICATED = 16,
};

/* Internal: the call never reached the server; another connection may work. */
#define TRANSPORT_RETRY (-EAGAIN)

struct transport_conn {
	int fd;
	struct h2_conn *h2;
	bool used; /* a call completed on it */
};

/* One call's view of its stream, filled by the h2 callbacks. */
struct transport_call {
	bool unary;
	int http_status;
	int grpc_status; /* -1 until a grpc-status field arrives */
	char detail[TRANSPORT_MAX_DETAIL + 1];
	bool got_reply; /* headers or data of this stream arrived */
	bool closed;
	bool reset;
	uint32_t rst_code;
	int err; /* what we found wrong with the reply; the stream was reset */
	/* reply bytes; [head, scan) holds complete, checked messages */
	struct base_buf data;
	size_t head, scan;
	size_t n_msgs;
};

struct cri_transport {
	char *path;
	pthread_mutex_t lock;
	struct transport_conn *conn;
};

struct cri_transport_stream {
	struct transport_conn *conn;
	struct transport_call call;
	uint8_t *body;
	char *path;
	char *method;
	int end_err;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining_ms(int64_t deadline)
{
	int64_t left = deadline - now_ms();

	if (left <= 0)
		return 0;
	return left > 1000000 ? 1000000 : (int)left;
}

/* UNAVAILABLE: what the socket path tells about why nobody answered. */
static int transport_unavailable(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	return -ECONNREFUSED;
}

static int grpc_to_errno(int code, const char *path)
{
	switch (code) {
	case GRPC_OK:
		return 0;
	case GRPC_UNAVAILABLE:
		return transport_unavailable(path);
	case GRPC_DEADLINE_EXCEEDED:
		return -ETIMEDOUT;
	case GRPC_UNIMPLEMENTED:
		return -EOPNOTSUPP;
	case GRPC_NOT_FOUND:
		return -ESRCH;
	case GRPC_INVALID_ARGUMENT:
		return -EINVAL;
	case GRPC_ALREADY_EXISTS:
		return -EEXIST;
	case GRPC_PERMISSION_DENIED:
	case GRPC_UNAUTHENTICATED:
		return -EACCES;
	case GRPC_RESOURCE_EXHAUSTED:
		return -E2BIG;
	case GRPC_CANCELLED:
		return -ECANCELED;
	case GRPC_ABORTED:
		return -ECONNABORTED;
	case GRPC_OUT_OF_RANGE:
		return -ERANGE;
	case GRPC_FAILED_PRECONDITION:
		return -EBUSY;
	case GRPC_INTERNAL:
		return -EPROTO;
	default:
		return -EIO;
	}
}

/* The gRPC over HTTP/2 spec's table for responses without grpc-status. */
static int http_to_grpc(int http_status)
{
	switch (http_status) {
	case 400:
		return GRPC_INTERNAL;
	case 401:
		return GRPC_UNAUTHENTICATED;
	case 403:
		return GRPC_PERMISSION_DENIED;
	case 404:
		return GRPC_UNIMPLEMENTED;
	case 429:
	case 502:
	case 503:
	case 504:
		return GRPC_UNAVAILABLE;
	default:
		return GRPC_UNKNOWN;
	}
}

static int rst_to_grpc(uint32_t code)
{
	switch (code) {
	case H2_CANCEL:
		return GRPC_CANCELLED;
	case H2_REFUSED_STREAM:
		return GRPC_UNAVAILABLE;
	case H2_ENHANCE_YOUR_CALM:
		return GRPC_RESOURCE_EXHAUSTED;
	case H2_INADEQUATE_SECURITY:
		return GRPC_PERMISSION_DENIED;
	default:
		return GRPC_INTERNAL;
	}
}

/* A small decimal field value; -1 when it is not one. */
static int parse_small_uint(const char *v, size_t n)
{
	int x = 0;
	size_t i;

	if (n == 0 || n > 4)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* grpc-message is percent-encoded; keep a bounded, printable copy. */
static void set_detail(struct transport_call *k, const char *v, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n && o < TRANSPORT_MAX_DETAIL; i++) {
		char c = v[i];

		if (c == '%' && i + 2 < n && hexval(v[i + 1]) >= 0 && hexval(v[i + 2]) >= 0) {
			c = (char)(hexval(v[i + 1]) << 4 | hexval(v[i + 2]));
			i += 2;
		}
		k->detail[o++] = (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	k->detail[o] = '\0';
}

static bool field_is(const char *name, size_t n, const char *want)
{
	return n == strlen(want) && !memcmp(name, want, n);
}

static int call_header(void *user, const char *name, size_t name_len, const char *value,
		       size_t value_len)
{
	struct transport_call *k = user;

	k->got_reply = true;
	if (field_is(name, name_len, ":status")) {
		k->http_status = parse_small_uint(value, value_len);
	} else if (field_is(name, name_len, "grpc-status")) {
		k->grpc_status = parse_small_uint(value, value_len);
		if (k->grpc_status < 0)
			k->grpc_status = GRPC_UNKNOWN;
	} else if (field_is(name, name_len, "grpc-message")) {
		set_detail(k, value, value_len);
	}
	return 0;
}

/* Checks the prefixes of the messages that are now complete or started. */
static int call_scan(struct transport_call *k)
{
	const uint8_t *p;
	uint32_t len;

	while (k->data.len - k->scan >= TRANSPORT_MSG_PREFIX) {
		p = (const uint8_t *)k->data.data + k->scan;
		/* bit 0 is the compressed flag; we never accept compression */
		if (p[0] != 0)
			return -EPROTO;
		len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
		if (len > CRI_MAX_REPLY)
			return -E2BIG;
		if (k->data.len - k->scan - TRANSPORT_MSG_PREFIX < len)
			break;
		k->scan += TRANSPORT_MSG_PREFIX + len;
		k->n_msgs++;
		if (k->unary && k->n_msgs > 1)
			return -EPROTO;
	}
	return 0;
}

static int call_data(void *user, const uint8_t *buf, size_t len)
{
	struct transport_call *k = user;
	int r;

	k->got_reply = true;
	r = base_buf_append(&k->data, buf, len);
	if (r == 0)
		r = call_scan(k);
	if (r < 0) {
		k->err = r;
		return r;
	}
	return 0;
}

static void call_close(void *user, bool reset, uint32_t code)
{
	struct transport_call *k = user;

	k->closed = true;
	k->reset = reset;
	k->rst_code = code;
}

static const struct h2_stream_ops transport_ops = {
	.header = call_header,
	.data = call_data,
	.close = call_close,
};

static void call_init(struct transport_call *k, bool unary)
{
	memset(k, 0, sizeof(*k));
	k->unary = unary;
	k->grpc_status = -1;
	k->data.max = TRANSPORT_MAX_BUFFERED;
}

static void call_done(struct transport_call *k)
{
	base_buf_done(&k->data);
}

/* The call's outcome once its stream closed (or we reset it). */
static int call_result(const struct transport_call *k, const char *path)
{
	if (k->err)
		return k->err;
	if (k->reset)
		return grpc_to_errno(rst_to_grpc(k->rst_code), path);
	if (k->grpc_status >= 0)
		return grpc_to_errno(k->grpc_status, path);
	if (k->http_status > 0 && k->http_status != 200)
		return grpc_to_errno(http_to_grpc(k->http_status), path);
	/* a 200 without trailers, or no headers at all */
	return -EPROTO;
}

static void call_log(const struct transport_call *k, const char *path, const char *method, int err)
{
	base_log_debug("cri: %s on %s: http %d grpc-status %d%s%s%s -> %s", method, path,
		       k->http_status, k->grpc_status, k->detail[0] ? " (" : "", k->detail,
		       k->detail[0] ? ")" : "", strerror(-err));
}

static struct transport_conn *conn_free(struct transport_conn *k)
{
	if (!k)
		return NULL;
	if (k->fd >= 0)
		close(k->fd);
	h2_conn_free(k->h2);
	free(k);
	return NULL;
}

/* connect() with the deadline; unix sockets answer EAGAIN, not EINPROGRESS. */
static int dial(const char *path, int64_t deadline, int *ret_fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(path);
	struct pollfd pfd;
	socklen_t sl;
	int fd, err, soerr;

	if (n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, n + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		err = errno;
		if (err == EINTR)
			continue;
		if (err == EAGAIN) {
			/* the listener's backlog is full: it is alive, wait a little */
			int left = remaining_ms(deadline);

			if (!left) {
				err = ETIMEDOUT;
				goto fail;
			}
			poll(NULL, 0,
			     left < TRANSPORT_BACKLOG_WAIT_MS ? left : TRANSPORT_BACKLOG_WAIT_MS);
			continue;
		}
		if (err == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, remaining_ms(deadline)) <= 0) {
				err = ETIMEDOUT;
				goto fail;
			}
			sl = sizeof(soerr);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
				err = errno;
			else
				err = soerr;
			if (!err)
				break;
		}
		goto fail;
	}
	*ret_fd = fd;
	return 0;
fail:
	close(fd);
	if (err == ENOENT || err == ECONNREFUSED)
		return transport_unavailable(path);
	return -err;
}

static int conn_open(const char *path, int64_t deadline, struct transport_conn **ret)
{
	struct transport_conn *k;
	int r;

	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->fd = -1;
	r = dial(path, deadline, &k->fd);
	if (r == 0)
		r = h2_conn_new(&transport_ops, &k->h2);
	if (r < 0) {
		conn_free(k);
		return r;
	}
	*ret = k;
	return 0;
}

/*
 * Writes what the connection has to say without blocking.  0, 1 when the
 * socket would block with output left, or -ECONNRESET when the peer is gone.
 */
static int conn_flush(struct transport_conn *k)
{
	const uint8_t *p;
	size_t len;
	ssize_t n;

	for (;;) {
		p = h2_conn_output(k->h2, &len);
		if (!len)
			return 0;
		n = send(k->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 1;
			return -ECONNRESET;
		}
		h2_conn_output_done(k->h2, (size_t)n);
	}
}

/*
 * One read into the connection.  >0 bytes fed, 0 would block,
 * -ECONNRESET when the peer closed or reset, or h2's error.
 */
static int conn_read(struct transport_conn *k)
{
	uint8_t buf[TRANSPORT_READ_CHUNK];
	ssize_t n;
	int r;

	do
		n = read(k->fd, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : -ECONNRESET;
	if (n == 0)
		return -ECONNRESET;
	r = h2_conn_feed(k->h2, buf, (size_t)n);
	return r < 0 ? r : (int)n;
}

/*
 * Before reusing an idle connection: take in what came meanwhile (a
 * GOAWAY, a PING) and see whether it is still there.
 */
static bool conn_alive(struct transport_conn *k)
{
	int r;

	while ((r = conn_read(k)) > 0)
		;
	return r == 0 && h2_conn_usable(k->h2) && conn_flush(k) >= 0;
}

/* grpc-timeout (gRPC over HTTP/2): at most 8 digits and a unit. */
static void format_timeout(char *buf, size_t n, int ms)
{
	if (ms <= 99999999)
		snprintf(buf, n, "%dm", ms);
	else
		snprintf(buf, n, "%dS", ms / 1000);
}

static int call_submit(struct transport_conn *k, struct transport_call *call, const char *method,
		       const uint8_t *body, size_t body_len, int timeout_ms)
{
	char timeout[16];
	struct h2_header hdrs[8];
	size_t n = 0;
	uint32_t id;

	hdrs[n++] = (struct h2_header){":method", "POST"};
	hdrs[n++] = (struct h2_header){":scheme", "http"};
	hdrs[n++] = (struct h2_header){":path", method};
	hdrs[n++] = (struct h2_header){":authority", "localhost"};
	hdrs[n++] = (struct h2_header){"content-type", "application/grpc"};
	hdrs[n++] = (struct h2_header){"te", "trailers"};
	hdrs[n++] = (struct h2_header){"user-agent", "ig-cri/" IG_VERSION};
	if (timeout_ms > 0) {
		format_timeout(timeout, sizeof(timeout), timeout_ms);
		hdrs[n++] = (struct h2_header){"grpc-timeout", timeout};
	}
	return h2_conn_submit(k->h2, hdrs, n, body, body_len, call, &id);
}

/*
 * Drives a submitted unary call until its stream closes or the deadline.
 * 0 when the stream ended (see call_result()), -ETIMEDOUT, -ECONNRESET when
 * the connection went away, or h2's error.  *ret_in counts bytes read.
 */
static int call_wait(struct transport_conn *k, struct transport_call *call, int64_t deadline,
		     size_t *ret_in)
{
	struct pollfd pfd;
	int r, left;

	for (;;) {
		r = conn_flush(k);
		if (r < 0)
			return r;
		if (call->closed || call->err)
			return 0;
		left = remaining_ms(deadline);
		if (!left)
			return -ETIMEDOUT;
		pfd.fd = k->fd;
		pfd.events = POLLIN | (r ? POLLOUT : 0);
		pfd.revents = 0;
		if (poll(&pfd, 1, left) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			r = conn_read(k);
			if (r < 0)
				return r;
			*ret_in += (size_t)r;
		}
	}
}

/* A gRPC message: the 5-byte prefix, then the request. */
static int frame_message(const void *req, size_t req_len, uint8_t **ret)
{
	uint8_t *b;

	if (req_len > CRI_MAX_REPLY)
		return -E2BIG;
	b = malloc(TRANSPORT_MSG_PREFIX + req_len);
	if (!b)
		return -ENOMEM;
	b[0] = 0;
	b[1] = (uint8_t)(req_len >> 24);
	b[2] = (uint8_t)(req_len >> 16);
	b[3] = (uint8_t)(req_len >> 8);
	b[4] = (uint8_t)req_len;
	if (req_len)
		memcpy(b + TRANSPORT_MSG_PREFIX, req, req_len);
	*ret = b;
	return 0;
}

int cri_transport_new(const char *socket_path, struct cri_transport **ret)
{
	struct cri_transport *t;

	if (!socket_path || !*socket_path || !ret)
		return -EINVAL;
	if (strlen(socket_path) > CRI_MAX_SOCKET_PATH)
		return -ENAMETOOLONG;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->path = strdup(socket_path);
	if (!t->path) {
		free(t);
		return -ENOMEM;
	}
	pthread_mutex_init(&t->lock, NULL);
	*ret = t;
	return 0;
}

struct cri_transport *cri_transport_free(struct cri_transport *t)
{
	if (!t)
		return NULL;
	conn_free(t->conn);
	pthread_mutex_destroy(&t->lock);
	free(t->path);
	free(t);
	return NULL;
}

const char *cri_transport_path(const struct cri_transport *t)
{
	return t ? t->path : NULL;
}

/*
 * One attempt on the transport's connection (dialed if needed).  On
 * TRANSPORT_RETRY the request never reached a live server.
 */
static int call_once(struct cri_transport *t, const char *method, const uint8_t *body,
		     size_t body_len, int64_t deadline, struct transport_call *call)
{
	struct transport_conn *k;
	size_t in = 0;
	bool reused;
	int r;

	if (t->conn && !conn_alive(t->conn)) {
		base_log_debug("cri: connection to %s went away while idle", t->path);
		t->conn = conn_free(t->conn);
	}
	if (!t->conn) {
		r = conn_open(t->path, deadline, &t->conn);
		if (r < 0)
			return r;
	}
	k = t->conn;
	reused = k->used;
	r = call_submit(k, call, method, body, body_len, remaining_ms(deadline));
	if (r == 0)
		r = call_wait(k, call, deadline, &in);
	/* a stream that ended, even by a reset, leaves the connection fine */
	if (r == 0 && h2_conn_usable(k->h2) && h2_conn_streams(k->h2) == 0) {
		k->used = true;
		return 0;
	}
	/* anything else leaves the connection in doubt: the next call dials */
	t->conn = conn_free(t->conn);
	if (r == 0)
		return 0;
	if (r == -ECONNRESET || r == -EAGAIN) {
		if (reused && !in)
			return TRANSPORT_RETRY;
		/* lost with part of the reply: say so; before it: UNAVAILABLE */
		return call->got_reply ? -ECONNRESET : transport_unavailable(t->path);
	}
	return r;
}

int cri_transport_call(struct cri_transport *t, const char *method, const void *req, size_t req_len,
		       int timeout_ms, uint8_t **ret_buf, size_t *ret_len)
{
	struct transport_call call;
	int64_t deadline;
	uint8_t *body = NULL, *out = NULL;
	size_t n;
	int attempt, r;

	if (!t || !method || (!req && req_len) || !ret_buf || !ret_len || timeout_ms <= 0)
		return -EINVAL;
	deadline = now_ms() + timeout_ms;
	r = frame_message(req, req_len, &body);
	if (r < 0)
		return r;
	pthread_mutex_lock(&t->lock);
	for (attempt = 0;; attempt++) {
		call_init(&call, true);
		r = call_once(t, method, body, TRANSPORT_MSG_PREFIX + req_len, deadline, &call);
		if (r == TRANSPORT_RETRY && attempt == 0) {
			base_log_debug("cri: %s on %s: stale connection, dialing again", method,
				       t->path);
			call_done(&call);
			continue;
		}
		break;
	}
	pthread_mutex_unlock(&t->lock);
	free(body);
	if (r == TRANSPORT_RETRY)
		r = transport_unavailable(t->path);
	if (r == 0)
		r = call_result(&call, t->path);
	/* exactly one message, nothing after it */
	if (r == 0 && (call.n_msgs != 1 || call.scan != call.data.len))
		r = -EPROTO;
	if (r == 0) {
		/* hand over the buffer itself: replies can be CRI_MAX_REPLY */
		n = call.scan - TRANSPORT_MSG_PREFIX;
		if (n) {
			out = (uint8_t *)base_buf_take(&call.data);
			memmove(out, out + TRANSPORT_MSG_PREFIX, n);
		}
		*ret_buf = out;
		*ret_len = n;
	}
	if (r < 0)
		call_log(&call, t->path, method, r);
	call_done(&call);
	return r;
}

int cri_transport_stream_open(struct cri_transport *t, const char *method, const void *req,
			      size_t req_len, struct cri_transport_stream **ret)
{
	struct cri_transport_stream *s;
	int64_t deadline = now_ms() + CRI_STREAM_OPEN_TIMEOUT_MS;
	struct pollfd pfd;
	int r;

	if (!t || !method || (!req && req_len) || !ret)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	call_init(&s->call, false);
	s->path = strdup(t->path);
	s->method = strdup(method);
	r = s->path && s->method ? 0 : -ENOMEM;
	if (r == 0)
		r = frame_message(req, req_len, &s->body);
	if (r == 0)
		r = conn_open(t->path, deadline, &s->conn);
	/* an event stream has no natural end, so no grpc-timeout */
	if (r == 0)
		r = call_submit(s->conn, &s->call, method, s->body, TRANSPORT_MSG_PREFIX + req_len,
				0);
	/* the request is small: get it out now, the caller only polls for input */
	while (r == 0 && (r = conn_flush(s->conn)) == 1) {
		pfd.fd = s->conn->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, remaining_ms(deadline)) == 0)
			r = -ETIMEDOUT;
		else
			r = 0;
	}
	if (r < 0) {
		if (r == -ECONNRESET)
			r = transport_unavailable(t->path);
		cri_transport_stream_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

int cri_transport_stream_fd(const struct cri_transport_stream *s)
{
	return s && s->conn ? s->conn->fd : -EINVAL;
}

/* The stream is over: the error next() reports from now on. */
static int stream_end(struct cri_transport_stream *s, int err)
{
	if (!s->end_err) {
		s->end_err = err;
		call_log(&s->call, s->path, s->method, err);
	}
	return s->end_err;
}

int cri_transport_stream_next(struct cri_transport_stream *s, uint8_t **ret_buf, size_t *ret_len)
{
	struct transport_call *k;
	const uint8_t *p;
	uint8_t *m;
	size_t len;
	int r;

	if (!s || !ret_buf || !ret_len)
		return -EINVAL;
	k = &s->call;
	for (;;) {
		if (k->head < k->scan) {
			p = (const uint8_t *)k->data.data + k->head;
			len = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
			m = NULL;
			if (len) {
				m = malloc(len);
				if (!m)
					return -ENOMEM;
				memcpy(m, p + TRANSPORT_MSG_PREFIX, len);
			}
			k->head += TRANSPORT_MSG_PREFIX + len;
			if (k->head == k->data.len) {
				base_buf_reset(&k->data);
				k->head = k->scan = 0;
			}
			*ret_buf = m;
			*ret_len = len;
			return 1;
		}
		if (s->end_err)
			return s->end_err;
		if (k->closed || k->err) {
			r = call_result(k, s->path);
			if (r == 0)
				r = k->scan == k->data.len ? -ECONNRESET : -EPROTO;
			return stream_end(s, r);
		}
		/* compact: what is left is the start of one message */
		if (k->head) {
			memmove(k->data.data, k->data.data + k->head, k->data.len - k->head);
			k->data.len -= k->head;
			k->scan -= k->head;
			k->head = 0;
		}
		r = conn_flush(s->conn);
		if (r >= 0)
			r = conn_read(s->conn);
		if (r == 0)
			return 0;
		if (r < 0 && !k->closed && !k->err) {
			if (r == -ECONNRESET && !k->got_reply)
				r = transport_unavailable(s->path);
			return stream_end(s, r);
		}
	}
}

struct cri_transport_stream *cri_transport_stream_free(struct cri_transport_stream *s)
{
	if (!s)
		return NULL;
	/* closing the connection cancels the call */
	conn_free(s->conn);
	call_done(&s->call);
	free(s->body);
	free(s->path);
	free(s->method);
	free(s);
	return NULL;
}
