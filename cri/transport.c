// SPDX-License-Identifier: Apache-2.0
/*
 * The gRPC layer over libnghttp2: dialing the unix socket with a deadline,
 * an nghttp2 client session driven in non-blocking mode through our own
 * send and recv callbacks on that socket, the request headers and message
 * framing, reply reassembly and the translation of gRPC status to -errno.
 * See transport.h for the contract.
 *
 * HTTP/2 itself (frames, HPACK, flow control, SETTINGS and PING
 * acknowledgements, and ending the connection with a GOAWAY when the server
 * breaks the protocol) is libnghttp2's; gRPC is small enough to be ours.
 * The gRPC C core would do both, but it cost the agent +10.7 MB of RSS and
 * 54 shared objects; libnghttp2 is one library without dependencies.
 *
 * Sockets are non-blocking and every wait is a poll() bounded by what is
 * left of the call's deadline, so a runtime that hangs, stops reading or
 * dies mid-reply costs at most the caller's timeout.  Each drive of the
 * session reads at most one chunk from the socket, so a server that sends
 * without pause cannot keep us from the deadline or from the caller.
 *
 * What a server can make us hold is bounded: reply bytes by
 * TRANSPORT_MAX_BUFFERED (a unary reply is checked as it arrives: its
 * length prefix is read before its body, so an oversized reply is refused,
 * the stream reset, without buffering it), a header block by
 * TRANSPORT_MAX_HEADER_LIST (announced as SETTINGS_MAX_HEADER_LIST_SIZE
 * and counted here, as nghttp2 leaves that to the application), queued
 * acknowledgements of a PING or SETTINGS flood by TRANSPORT_MAX_OUTBOUND_ACK
 * (past it nghttp2 ends the connection), and what an idle connection took
 * in before its reuse by TRANSPORT_MAX_IDLE_IN.
 *
 * A connection carries one call at a time (conn->call): callbacks for any
 * other stream, such as one we reset earlier, are ignored.
 */
#include "cri/transport.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
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
#include "base/time.h"

#ifndef IG_VERSION
#define IG_VERSION "dev"
#endif

/* Bytes read from the socket at a time (nghttp2 offers 16 KiB). */
#define TRANSPORT_READ_CHUNK (16u << 10)
/*
 * Output gathered before it goes to the socket: nghttp2 hands over one
 * frame at a time, and a request's HEADERS and DATA (and the PING
 * acknowledgement a Go server asks for with every reply) should wake the
 * runtime once, not once a frame.
 */
#define TRANSPORT_WRITE_BUF (16u << 10)
/* gRPC message prefix: compressed flag and big-endian length. */
#define TRANSPORT_MSG_PREFIX 5
/* Longest grpc-message kept for the debug log. */
#define TRANSPORT_MAX_DETAIL 256
/* Wait between connect() attempts while the listener's backlog is full. */
#define TRANSPORT_BACKLOG_WAIT_MS 5
/*
 * Reply bytes buffered at most: one whole message, the start of the next
 * one's prefix (which a unary call refuses once it is whole), and what one
 * read adds; nghttp2 hands DATA over from the bytes of the read, never
 * more.
 */
#define TRANSPORT_MAX_BUFFERED (CRI_MAX_REPLY + 2 * TRANSPORT_MSG_PREFIX + TRANSPORT_READ_CHUNK)
/* Our SETTINGS_INITIAL_WINDOW_SIZE, and the connection window we open. */
#define TRANSPORT_RECV_WINDOW (8u << 20)
/*
 * Largest header block accepted (response headers or trailers), counted
 * as SETTINGS_MAX_HEADER_LIST_SIZE counts it: name, value and 32 bytes
 * per field.  Past it the stream is reset and the call is -EPROTO.
 */
#define TRANSPORT_MAX_HEADER_LIST (64u << 10)
/* Largest request header block we send; a method is far shorter. */
#define TRANSPORT_MAX_SEND_HEADERS (16u << 10)
/* Longest method path accepted, so the request headers fit the above. */
#define TRANSPORT_MAX_METHOD 4096
/* SETTINGS and PING acknowledgements nghttp2 may queue unsent. */
#define TRANSPORT_MAX_OUTBOUND_ACK 64
/* Bytes an idle connection may have received when we reuse it. */
#define TRANSPORT_MAX_IDLE_IN (64u << 10)

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

/* One call's view of its stream, filled by the session's callbacks. */
struct transport_call {
	bool unary;
	int32_t stream_id;
	/* the request (prefix included), borrowed until the stream closes */
	const uint8_t *body;
	size_t body_len, body_off;
	int http_status;
	int grpc_status; /* -1 until a grpc-status field arrives */
	char detail[TRANSPORT_MAX_DETAIL + 1];
	size_t header_list; /* of the header block being received */
	bool got_reply;	    /* headers or data of this stream arrived */
	bool ended;	    /* the server ended its side (END_STREAM) */
	bool cancelled;	    /* we reset the stream ourselves */
	bool closed;
	uint32_t close_code; /* RST_STREAM code (either side's), 0 for a clean end */
	bool refused;	     /* the server never processed it */
	int err;	     /* what we found wrong with the reply; the stream was reset */
	/* reply bytes; [head, scan) holds complete, checked messages */
	struct base_buf data;
	size_t head, scan;
	size_t n_msgs;
};

struct transport_conn {
	int fd;
	nghttp2_session *h2;
	struct transport_call *call;	  /* the call on the connection now, or NULL */
	size_t in;			  /* bytes read from the socket */
	unsigned int reads_left;	  /* socket reads allowed in this drive */
	uint8_t out[TRANSPORT_WRITE_BUF]; /* frames not yet written */
	size_t out_len;
	bool goaway; /* the server is going away: no new calls */
	int err;     /* sticky: the connection failed */
	bool used;   /* a call completed on it */
	bool full;   /* nghttp2 stopped sending because out was full */
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
	return (int64_t)base_time_mono_ms();
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

/* RST_STREAM codes, as the same spec maps them. */
static int rst_to_grpc(uint32_t code)
{
	switch (code) {
	case NGHTTP2_CANCEL:
		return GRPC_CANCELLED;
	case NGHTTP2_REFUSED_STREAM:
		return GRPC_UNAVAILABLE;
	case NGHTTP2_ENHANCE_YOUR_CALM:
		return GRPC_RESOURCE_EXHAUSTED;
	case NGHTTP2_INADEQUATE_SECURITY:
		return GRPC_PERMISSION_DENIED;
	default:
		return GRPC_INTERNAL;
	}
}

/*
 * nghttp2's error codes, in one place: the peer closed (-ECONNRESET), no
 * new stream fits on this connection (-EAGAIN: another may take it), no
 * memory, and everything else, a flood included, is the server's fault.
 */
static int h2_to_errno(int lib)
{
	base_log_debug("cri: http2: %s", nghttp2_strerror(lib));
	switch (lib) {
	case NGHTTP2_ERR_EOF:
		return -ECONNRESET;
	case NGHTTP2_ERR_NOMEM:
		return -ENOMEM;
	case NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE:
	case NGHTTP2_ERR_START_STREAM_NOT_ALLOWED:
	case NGHTTP2_ERR_SESSION_CLOSING:
		return -EAGAIN;
	default:
		return -EPROTO;
	}
}

/* A small decimal field value; -1 when it is not one. */
static int parse_small_uint(const uint8_t *v, size_t n)
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

static int hexval(uint8_t c)
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
static void set_detail(struct transport_call *k, const uint8_t *v, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n && o < TRANSPORT_MAX_DETAIL; i++) {
		uint8_t c = v[i];

		if (c == '%' && i + 2 < n && hexval(v[i + 1]) >= 0 && hexval(v[i + 2]) >= 0) {
			c = (uint8_t)(hexval(v[i + 1]) << 4 | hexval(v[i + 2]));
			i += 2;
		}
		k->detail[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	k->detail[o] = '\0';
}

static bool field_is(const uint8_t *name, size_t n, const char *want)
{
	return n == strlen(want) && !memcmp(name, want, n);
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

/* The call's outcome once its stream closed, ended or was given up. */
static int call_result(const struct transport_call *k, const char *path)
{
	if (k->err)
		return k->err;
	/* a reset before the server finished decides; one after it is cleanup */
	if (!k->ended && k->close_code != NGHTTP2_NO_ERROR)
		return grpc_to_errno(rst_to_grpc(k->close_code), path);
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

/* ---- the session's callbacks -------------------------------------------- */

static struct transport_call *conn_call(struct transport_conn *k, int32_t stream_id)
{
	return k->call && k->call->stream_id == stream_id ? k->call : NULL;
}

/*
 * Writes the gathered output without blocking: 0 when all of it went, 1
 * when the socket would block, -ECONNRESET when the peer is gone.
 */
static int out_write(struct transport_conn *k)
{
	ssize_t n;

	while (k->out_len) {
		n = send(k->fd, k->out, k->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 1;
			if (!k->err)
				k->err = -ECONNRESET;
			return k->err;
		}
		k->out_len -= (size_t)n;
		memmove(k->out, k->out + n, k->out_len);
	}
	return 0;
}

/* Gathers nghttp2's output; writes it out when the buffer is full. */
static ssize_t on_send(nghttp2_session *h2, const uint8_t *data, size_t len, int flags, void *user)
{
	struct transport_conn *k = user;
	size_t room;
	int r;

	if (k->out_len == sizeof(k->out)) {
		r = out_write(k);
		if (r < 0)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		if (r > 0) {
			k->full = true;
			return NGHTTP2_ERR_WOULDBLOCK;
		}
	}
	room = sizeof(k->out) - k->out_len;
	if (len > room)
		len = room;
	memcpy(k->out + k->out_len, data, len);
	k->out_len += len;
	return (ssize_t)len;
}

static ssize_t on_recv(nghttp2_session *h2, uint8_t *buf, size_t len, int flags, void *user)
{
	struct transport_conn *k = user;
	ssize_t n;

	if (!k->reads_left)
		return NGHTTP2_ERR_WOULDBLOCK;
	k->reads_left--;
	if (len > TRANSPORT_READ_CHUNK)
		len = TRANSPORT_READ_CHUNK;
	do
		n = read(k->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		k->in += (size_t)n;
		return n;
	}
	if (n == 0)
		return NGHTTP2_ERR_EOF;
	if (errno == EAGAIN)
		return NGHTTP2_ERR_WOULDBLOCK;
	if (!k->err)
		k->err = -ECONNRESET;
	return NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
	struct transport_call *c = conn_call(user, f->hd.stream_id);

	if (c)
		c->header_list = 0;
	return 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name,
		     size_t name_len, const uint8_t *value, size_t value_len, uint8_t flags,
		     void *user)
{
	struct transport_call *c = conn_call(user, f->hd.stream_id);

	if (!c || c->err)
		return 0;
	c->got_reply = true;
	c->header_list += name_len + value_len + 32;
	if (c->header_list > TRANSPORT_MAX_HEADER_LIST) {
		/* nghttp2 resets the stream and skips the rest of the block */
		c->err = -EPROTO;
		c->cancelled = true;
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	if (field_is(name, name_len, ":status")) {
		c->http_status = parse_small_uint(value, value_len);
	} else if (field_is(name, name_len, "grpc-status")) {
		c->grpc_status = parse_small_uint(value, value_len);
		if (c->grpc_status < 0)
			c->grpc_status = GRPC_UNKNOWN;
	} else if (field_is(name, name_len, "grpc-message")) {
		set_detail(c, value, value_len);
	}
	return 0;
}

static int on_data(nghttp2_session *h2, uint8_t flags, int32_t stream_id, const uint8_t *buf,
		   size_t len, void *user)
{
	struct transport_call *c = conn_call(user, stream_id);
	int r;

	if (!c || c->err)
		return 0;
	c->got_reply = true;
	r = base_buf_append(&c->data, buf, len);
	if (r == 0)
		r = call_scan(c);
	if (r < 0) {
		/* give up the stream; the connection goes on */
		c->err = r;
		c->cancelled = true;
		if (nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL))
			return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	return 0;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
	struct transport_conn *k = user;
	struct transport_call *c = conn_call(k, f->hd.stream_id);

	if (f->hd.type == NGHTTP2_GOAWAY) {
		base_log_debug("cri: http2: the server is going away (code 0x%x)",
			       f->goaway.error_code);
		k->goaway = true;
	}
	if (c && (f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		c->ended = true;
	return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t stream_id, uint32_t code, void *user)
{
	struct transport_call *c = conn_call(user, stream_id);

	if (!c)
		return 0;
	c->closed = true;
	c->close_code = code;
	/* a GOAWAY that excluded it closes it so too (RFC 9113 8.7) */
	if (code == NGHTTP2_REFUSED_STREAM)
		c->refused = true;
	return 0;
}

static int on_frame_not_send(nghttp2_session *h2, const nghttp2_frame *f, int lib, void *user)
{
	struct transport_call *c = conn_call(user, f->hd.stream_id);

	/* the request never left: the session was closing */
	if (c && f->hd.type == NGHTTP2_HEADERS) {
		base_log_debug("cri: http2: request not sent: %s", nghttp2_strerror(lib));
		c->closed = true;
		c->refused = true;
		c->close_code = NGHTTP2_REFUSED_STREAM;
	}
	return 0;
}

/*
 * nghttp2 ends a connection the server broke with a GOAWAY naming the
 * error; seeing it go out is how we learn of it.
 */
static int on_before_frame_send(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
	struct transport_conn *k = user;

	if (f->hd.type == NGHTTP2_GOAWAY && f->goaway.error_code != NGHTTP2_NO_ERROR && !k->err) {
		base_log_debug("cri: http2: protocol error 0x%x from the server",
			       f->goaway.error_code);
		k->err = -EPROTO;
	}
	return 0;
}

static ssize_t on_body_read(nghttp2_session *h2, int32_t stream_id, uint8_t *buf, size_t len,
			    uint32_t *flags, nghttp2_data_source *src, void *user)
{
	struct transport_call *c = src->ptr;
	size_t n = c->body_len - c->body_off;

	if (n > len)
		n = len;
	memcpy(buf, c->body + c->body_off, n);
	c->body_off += n;
	if (c->body_off == c->body_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

/* ---- connections ---------------------------------------------------------- */

static struct transport_conn *conn_free(struct transport_conn *k)
{
	if (!k)
		return NULL;
	/* no callbacks are made from here */
	nghttp2_session_del(k->h2);
	if (k->fd >= 0)
		close(k->fd);
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

/*
 * The client session: no server push, a large receive window (replies can
 * be CRI_MAX_REPLY), our header list limit, and nghttp2's bounds set
 * explicitly.  The client preface goes out with the first send.
 */
static int session_new(struct transport_conn *k)
{
	static const nghttp2_settings_entry settings[] = {
		{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
		{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, TRANSPORT_RECV_WINDOW},
		{NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, TRANSPORT_MAX_HEADER_LIST},
	};
	nghttp2_session_callbacks *cb = NULL;
	nghttp2_option *opt = NULL;
	int r;

	r = nghttp2_session_callbacks_new(&cb);
	if (r == 0)
		r = nghttp2_option_new(&opt);
	if (r == 0) {
		nghttp2_session_callbacks_set_send_callback(cb, on_send);
		nghttp2_session_callbacks_set_recv_callback(cb, on_recv);
		nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
		nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
		nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
		nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
		nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
		nghttp2_session_callbacks_set_on_frame_not_send_callback(cb, on_frame_not_send);
		nghttp2_session_callbacks_set_before_frame_send_callback(cb, on_before_frame_send);
		nghttp2_option_set_max_send_header_block_length(opt, TRANSPORT_MAX_SEND_HEADERS);
		nghttp2_option_set_max_outbound_ack(opt, TRANSPORT_MAX_OUTBOUND_ACK);
		r = nghttp2_session_client_new2(&k->h2, cb, k, opt);
	}
	if (r == 0)
		r = nghttp2_submit_settings(k->h2, NGHTTP2_FLAG_NONE, settings,
					    sizeof(settings) / sizeof(settings[0]));
	/* the connection window is not a setting: open it explicitly */
	if (r == 0)
		r = nghttp2_session_set_local_window_size(k->h2, NGHTTP2_FLAG_NONE, 0,
							  TRANSPORT_RECV_WINDOW);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	return r < 0 ? h2_to_errno(r) : 0;
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
		r = session_new(k);
	if (r < 0) {
		conn_free(k);
		return r;
	}
	*ret = k;
	return 0;
}

/* The connection is over: keep the first reason. */
static int conn_fail(struct transport_conn *k, int lib)
{
	if (!k->err)
		k->err = h2_to_errno(lib);
	return k->err;
}

/*
 * Writes what the session has to say without blocking.  0, 1 when the
 * socket would block with output left, or the connection's error.
 */
static int conn_flush(struct transport_conn *k)
{
	int r;

	if (k->err)
		return k->err;
	/*
	 * nghttp2 stops when out is full and the socket would block; the
	 * socket may have drained by the out_write() below, and then nothing
	 * but another send takes the rest: polling for input alone would wait
	 * for a server that waits for the rest of the request.
	 */
	do {
		k->full = false;
		r = nghttp2_session_send(k->h2);
		if (r < 0)
			return conn_fail(k, r);
		r = out_write(k);
		if (k->err)
			return k->err;
	} while (r == 0 && k->full);
	return r;
}

/*
 * One read into the session.  >0 bytes taken in, 0 would block, or the
 * connection's error: -ECONNRESET when the peer closed or reset, -EPROTO
 * when it broke the protocol.
 */
static int conn_read(struct transport_conn *k)
{
	size_t before = k->in;
	int r;

	if (k->err)
		return k->err;
	k->reads_left = 1;
	r = nghttp2_session_recv(k->h2);
	k->reads_left = 0;
	if (r == NGHTTP2_ERR_EOF) {
		/* what it sent last may have been a violation: is a GOAWAY queued? */
		nghttp2_session_send(k->h2);
	}
	if (r < 0)
		return conn_fail(k, r);
	if (k->err)
		return k->err;
	return (int)(k->in - before);
}

/* No failure and no GOAWAY: a new call may go on it. */
static bool conn_usable(struct transport_conn *k)
{
	return !k->err && !k->goaway && nghttp2_session_want_read(k->h2) &&
	       nghttp2_session_get_next_stream_id(k->h2) <= INT32_MAX;
}

/*
 * Before reusing an idle connection: take in what came meanwhile (a
 * GOAWAY, a PING), though not without end, and see whether it is still
 * there.
 */
static bool conn_alive(struct transport_conn *k)
{
	size_t start = k->in;
	int r;

	while ((r = conn_read(k)) > 0)
		if (k->in - start > TRANSPORT_MAX_IDLE_IN)
			return false;
	return r == 0 && conn_usable(k) && conn_flush(k) >= 0;
}

/* grpc-timeout (gRPC over HTTP/2): at most 8 digits and a unit. */
static void format_timeout(char *buf, size_t n, int ms)
{
	if (ms <= 99999999)
		snprintf(buf, n, "%dm", ms);
	else
		snprintf(buf, n, "%dS", ms / 1000);
}

#define TRANSPORT_NV(n, v)                                                                         \
	((nghttp2_nv){(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE})

static int call_submit(struct transport_conn *k, struct transport_call *call, const char *method,
		       const uint8_t *body, size_t body_len, int timeout_ms)
{
	nghttp2_data_provider prd = {.source.ptr = call, .read_callback = on_body_read};
	char timeout[16];
	nghttp2_nv hdrs[8];
	size_t n = 0;
	int32_t id;

	hdrs[n++] = TRANSPORT_NV(":method", "POST");
	hdrs[n++] = TRANSPORT_NV(":scheme", "http");
	hdrs[n++] = TRANSPORT_NV(":path", method);
	hdrs[n++] = TRANSPORT_NV(":authority", "localhost");
	hdrs[n++] = TRANSPORT_NV("content-type", "application/grpc");
	hdrs[n++] = TRANSPORT_NV("te", "trailers");
	hdrs[n++] = TRANSPORT_NV("user-agent", "ig-cri/" IG_VERSION);
	if (timeout_ms > 0) {
		format_timeout(timeout, sizeof(timeout), timeout_ms);
		hdrs[n++] = TRANSPORT_NV("grpc-timeout", timeout);
	}
	call->body = body;
	call->body_len = body_len;
	call->body_off = 0;
	/* nghttp2 copies the fields; the body is read as the windows open */
	id = nghttp2_submit_request(k->h2, NULL, hdrs, n, &prd, call);
	if (id < 0)
		return h2_to_errno(id);
	call->stream_id = id;
	k->call = call;
	return 0;
}

/*
 * Drives a submitted call until its stream closes or the deadline.  0 when
 * the stream is over (see call_result()), -ETIMEDOUT, or the connection's
 * error.
 */
static int call_wait(struct transport_conn *k, struct transport_call *call, int64_t deadline)
{
	struct pollfd pfd;
	int r, left;

	for (;;) {
		/*
		 * The server answered before taking the whole request: stop
		 * sending it (RFC 9113 8.1), the stream then closes.
		 */
		if (call->ended && !call->closed && !call->cancelled) {
			call->cancelled = true;
			r = nghttp2_submit_rst_stream(k->h2, NGHTTP2_FLAG_NONE, call->stream_id,
						      NGHTTP2_CANCEL);
			if (r < 0)
				return conn_fail(k, r);
		}
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
	bool reused, got_bytes;
	size_t in;
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
	in = k->in;
	r = call_submit(k, call, method, body, body_len, remaining_ms(deadline));
	if (r == 0)
		r = call_wait(k, call, deadline);
	k->call = NULL;
	got_bytes = k->in != in;
	/* a stream that closed, even by a reset, leaves the connection fine */
	if (r == 0 && call->closed && conn_usable(k))
		k->used = true;
	else /* anything else leaves it in doubt: the next call dials */
		t->conn = conn_free(t->conn);
	if (r == 0)
		return call->refused && reused ? TRANSPORT_RETRY : 0;
	if (r == -ECONNRESET || r == -EAGAIN) {
		if (reused && !got_bytes)
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

	if (!t || !method || (!req && req_len) || !ret_buf || !ret_len || timeout_ms <= 0 ||
	    strlen(method) > TRANSPORT_MAX_METHOD)
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

	if (!t || !method || (!req && req_len) || !ret || strlen(method) > TRANSPORT_MAX_METHOD)
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
		if (k->closed || k->ended || k->err) {
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
		if (r < 0 && !k->closed && !k->ended && !k->err) {
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
