// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for cri/transport.c, the gRPC client over libnghttp2, against a
 * scripted HTTP/2 server on a real unix socket.  The server's frames are
 * written here byte by byte, so it can do what no well-behaved gRPC server
 * does: oversized, compressed or surplus messages, header lists past our
 * limit, resets, GOAWAY, a PING flood, HTTP/1, closing mid-reply or just
 * before it.  Only the request's header block is read back with nghttp2's
 * HPACK inflater, to check what we sent.
 *
 * The behaviour against a real gRPC server (python3-grpcio) is covered by
 * tests/integration/test_cri_transport.py.
 */
#include "cri/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"

#define PREFACE_LEN 24
#define METHOD	    "/test.Transport/Call"

enum { DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINUPD, CONT };
enum { END_STREAM = 0x1, ACK = 0x1, END_HEADERS = 0x4, PADDED = 0x8, PRIO = 0x20 };

/* ---- the scripted server ------------------------------------------------- */

struct fake;
/* What the server does once a request is complete (its END_STREAM came). */
enum { FAKE_KEEP, FAKE_CLOSE };
typedef int (*fake_reply_fn)(struct fake *f, int fd, uint32_t stream, int nth);

struct fake {
	char dir[40];
	char path[64];
	int lfd;
	int stop[2];
	pthread_t th;
	fake_reply_fn reply;
	bool no_settings; /* no server preface: as an HTTP/1 server */
	/* what it saw; read after fake_stop() */
	int conns;
	int requests;
	struct base_buf headers; /* "name: value\n" of the last request */
	struct base_buf body;	 /* DATA of the last request */
	int rsts;
	uint32_t rst_code;
	int ping_acks;
	int goaways;
	uint32_t goaway_code;
};

/* cmocka's assertions belong to the test's thread; the server's own checks abort. */
static void must(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "test server: %s\n", what);
		abort();
	}
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Writes everything, or gives up quietly once the client is gone. */
static void write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	ssize_t w;

	while (n) {
		w = send(fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		b += w;
		n -= (size_t)w;
	}
}

static void frame(int fd, uint8_t type, uint8_t flags, uint32_t stream, const void *p, size_t n)
{
	uint8_t h[9] = {(uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, type, flags};

	put_u32(h + 5, stream);
	write_all(fd, h, sizeof(h));
	if (n)
		write_all(fd, p, n);
}

static void u32_frame(int fd, uint8_t type, uint32_t stream, uint32_t v)
{
	uint8_t p[4];

	put_u32(p, v);
	frame(fd, type, 0, stream, p, sizeof(p));
}

/* An HPACK integer with an n-bit prefix (RFC 7541 5.1). */
static void hpack_int(struct base_buf *b, uint8_t first, unsigned int bits, size_t v)
{
	size_t max = (1u << bits) - 1;

	if (v < max) {
		base_buf_putc(b, (char)(first | v));
		return;
	}
	base_buf_putc(b, (char)(first | max));
	for (v -= max; v >= 128; v >>= 7)
		base_buf_putc(b, (char)(0x80 | (v & 0x7f)));
	base_buf_putc(b, (char)v);
}

/* "Literal header field without indexing, new name", no Huffman coding. */
static void hpack_field(struct base_buf *b, const char *name, const char *value)
{
	hpack_int(b, 0x00, 4, 0);
	hpack_int(b, 0x00, 7, strlen(name));
	base_buf_puts(b, name);
	hpack_int(b, 0x00, 7, strlen(value));
	base_buf_puts(b, value);
}

/* A header block of name, value pairs ending in NULL, as HEADERS and CONTINUATION. */
static void headers(int fd, uint32_t stream, bool end_stream, ...)
{
	struct base_buf b = BASE_BUF_INIT(0);
	const char *name, *value;
	size_t off = 0, n;
	va_list ap;

	va_start(ap, end_stream);
	while ((name = va_arg(ap, const char *))) {
		value = va_arg(ap, const char *);
		hpack_field(&b, name, value);
	}
	va_end(ap);
	/* frames of the default SETTINGS_MAX_FRAME_SIZE */
	do {
		n = b.len - off > 16384 ? 16384 : b.len - off;
		frame(fd, off ? CONT : HEADERS,
		      (off + n == b.len ? END_HEADERS : 0) | (!off && end_stream ? END_STREAM : 0),
		      stream, b.data + off, n);
		off += n;
	} while (off < b.len);
	base_buf_done(&b);
}

static void reply_headers(int fd, uint32_t stream)
{
	headers(fd, stream, false, ":status", "200", "content-type", "application/grpc", NULL);
}

static void trailers(int fd, uint32_t stream, const char *status)
{
	headers(fd, stream, true, "grpc-status", status, NULL);
}

/* A DATA frame holding one gRPC message: flag, length, then n bytes of p. */
static void message(int fd, uint32_t stream, uint8_t flag, uint32_t len, const void *p, size_t n)
{
	uint8_t *b = malloc(5 + n);

	must(b != NULL, "malloc");
	b[0] = flag;
	put_u32(b + 1, len);
	if (n)
		memcpy(b + 5, p, n);
	frame(fd, DATA, 0, stream, b, 5 + n);
	free(b);
}

static int read_full(int fd, int stop, void *p, size_t n)
{
	uint8_t *b = p;
	ssize_t r;

	while (n) {
		struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN},
					{.fd = stop, .events = POLLIN}};

		/* what the client sent before it closed is read before stopping */
		if (poll(pfd, 2, -1) < 0 || (!pfd[0].revents && pfd[1].revents))
			return -1;
		r = read(fd, b, n);
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static void decode_headers(struct fake *f, nghttp2_hd_inflater *inf, const uint8_t *p, size_t n)
{
	nghttp2_nv nv;
	int flags;
	ssize_t r;

	base_buf_reset(&f->headers);
	base_buf_reset(&f->body);
	for (;;) {
		flags = 0;
		r = nghttp2_hd_inflate_hd2(inf, &nv, &flags, p, n, 1);
		must(r >= 0, "the request's header block does not decode");
		p += r;
		n -= (size_t)r;
		if (flags & NGHTTP2_HD_INFLATE_EMIT)
			base_buf_printf(&f->headers, "%.*s: %.*s\n", (int)nv.namelen, nv.name,
					(int)nv.valuelen, nv.value);
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(inf);
			break;
		}
		if (!n && !(flags & NGHTTP2_HD_INFLATE_EMIT))
			break;
	}
}

/* One connection: answers SETTINGS, records what came, replies to requests. */
static void fake_serve(struct fake *f, int fd)
{
	nghttp2_hd_inflater *inf = NULL;
	uint8_t pre[PREFACE_LEN], h[9], *p = NULL;
	uint32_t len, stream;
	size_t skip;

	must(nghttp2_hd_inflate_new(&inf) == 0, "nghttp2_hd_inflate_new");
	if (!f->no_settings)
		frame(fd, SETTINGS, 0, 0, NULL, 0);
	if (read_full(fd, f->stop[0], pre, sizeof(pre)))
		goto out;
	must(!memcmp(pre, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", PREFACE_LEN), "no client preface");
	while (read_full(fd, f->stop[0], h, sizeof(h)) == 0) {
		len = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];
		stream =
			((uint32_t)h[5] << 24 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 8 | h[8]) &
			0x7fffffff;
		p = realloc(p, len + 1);
		must(p != NULL, "realloc");
		if (read_full(fd, f->stop[0], p, len))
			break;
		skip = (h[4] & PADDED) && (h[3] == HEADERS || h[3] == DATA) ? 1 + p[0] : 0;
		if (h[3] == HEADERS && (h[4] & PRIO))
			skip += 5;
		if (skip > len)
			skip = len;
		if (h[3] == SETTINGS && !(h[4] & ACK)) {
			frame(fd, SETTINGS, ACK, 0, NULL, 0);
		} else if (h[3] == PING && (h[4] & ACK)) {
			f->ping_acks++;
		} else if (h[3] == RST_STREAM && len == 4) {
			f->rsts++;
			f->rst_code = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
				      (uint32_t)p[2] << 8 | p[3];
		} else if (h[3] == GOAWAY && len >= 8) {
			f->goaways++;
			f->goaway_code = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 |
					 (uint32_t)p[6] << 8 | p[7];
		} else if (h[3] == HEADERS) {
			decode_headers(f, inf, p + skip, len - skip);
		} else if (h[3] == DATA) {
			base_buf_append(&f->body, p + skip, len - skip);
		}
		if ((h[3] == HEADERS || h[3] == DATA) && (h[4] & END_STREAM)) {
			f->requests++;
			if (f->reply(f, fd, stream, f->requests) == FAKE_CLOSE)
				break;
		}
	}
out:
	free(p);
	nghttp2_hd_inflate_del(inf);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	int fd;

	for (;;) {
		struct pollfd pfd[2] = {{.fd = f->lfd, .events = POLLIN},
					{.fd = f->stop[0], .events = POLLIN}};

		if (poll(pfd, 2, -1) < 0 || pfd[1].revents)
			break;
		fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		f->conns++;
		fake_serve(f, fd);
		close(fd);
	}
	return NULL;
}

static struct fake *fake_start(fake_reply_fn reply, bool no_settings)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->reply = reply;
	f->no_settings = no_settings;
	f->headers.max = f->body.max = 64u << 20;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_cri_transport.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/cri.sock", f->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, 8), 0);
	assert_int_equal(pipe2(f->stop, O_CLOEXEC), 0);
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
	return f;
}

/* Stops the server; what it recorded stays readable until fake_free(). */
static void fake_stop(struct fake *f)
{
	must(write(f->stop[1], "x", 1) == 1, "stop");
	pthread_join(f->th, NULL);
}

static void fake_free(struct fake *f)
{
	close(f->lfd);
	close(f->stop[0]);
	close(f->stop[1]);
	unlink(f->path);
	rmdir(f->dir);
	base_buf_done(&f->headers);
	base_buf_done(&f->body);
	free(f);
}

/* ---- replies ------------------------------------------------------------ */

/* The request's message back, as the reply. */
static int reply_echo(struct fake *f, int fd, uint32_t stream, int nth)
{
	reply_headers(fd, stream);
	frame(fd, DATA, 0, stream, f->body.data, f->body.len);
	trailers(fd, stream, "0");
	return FAKE_KEEP;
}

static int reply_nothing(struct fake *f, int fd, uint32_t stream, int nth)
{
	return FAKE_KEEP;
}

static int reply_close(struct fake *f, int fd, uint32_t stream, int nth)
{
	return FAKE_CLOSE;
}

static int call(struct fake *f, struct cri_transport *t, const char *req, int timeout_ms,
		uint8_t **ret, size_t *ret_len)
{
	return cri_transport_call(t, METHOD, req, strlen(req), timeout_ms, ret, ret_len);
}

/* One call on a fresh transport; the reply is checked to be "" on success. */
static int call_once(fake_reply_fn reply, struct fake **ret_fake)
{
	struct cri_transport *t = NULL;
	struct fake *f = fake_start(reply, false);
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	assert_int_equal(cri_transport_new(f->path, &t), 0);
	r = call(f, t, "", 5000, &buf, &len);
	free(buf);
	cri_transport_free(t);
	fake_stop(f);
	if (ret_fake)
		*ret_fake = f;
	else
		fake_free(f);
	return r;
}

/* ---- unary calls ---------------------------------------------------------- */

static void test_echo_and_request_headers(void **state)
{
	struct cri_transport *t = NULL;
	struct fake *f = fake_start(reply_echo, false);
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_int_equal(cri_transport_new(f->path, &t), 0);
	assert_string_equal(cri_transport_path(t), f->path);
	assert_int_equal(call(f, t, "hello", 5000, &buf, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "hello", 5);
	free(buf);
	cri_transport_free(t);
	fake_stop(f);
	assert_non_null(strstr(f->headers.data, ":method: POST\n"));
	assert_non_null(strstr(f->headers.data, ":scheme: http\n"));
	assert_non_null(strstr(f->headers.data, ":path: " METHOD "\n"));
	assert_non_null(strstr(f->headers.data, "content-type: application/grpc\n"));
	assert_non_null(strstr(f->headers.data, "te: trailers\n"));
	/* the deadline goes with the call, in milliseconds, a little spent */
	assert_non_null(strstr(f->headers.data, "grpc-timeout: "));
	assert_non_null(strstr(f->headers.data, "m\n"));
	/* the request message: flag 0, length 5 */
	assert_int_equal(f->body.len, 10);
	assert_memory_equal(f->body.data, "\0\0\0\0\5hello", 10);
	fake_free(f);
}

static void test_connection_kept_across_calls(void **state)
{
	struct cri_transport *t = NULL;
	struct fake *f = fake_start(reply_echo, false);
	uint8_t *buf = NULL;
	size_t len = 0;
	int i;

	assert_int_equal(cri_transport_new(f->path, &t), 0);
	for (i = 0; i < 5; i++) {
		assert_int_equal(call(f, t, "again", 5000, &buf, &len), 0);
		assert_int_equal(len, 5);
		free(buf);
	}
	/* an empty reply is no buffer at all */
	assert_int_equal(call(f, t, "", 5000, &buf, &len), 0);
	assert_null(buf);
	assert_int_equal(len, 0);
	cri_transport_free(t);
	fake_stop(f);
	assert_int_equal(f->conns, 1);
	assert_int_equal(f->requests, 6);
	fake_free(f);
}

static const char *status_value;

static int reply_trailers_only(struct fake *f, int fd, uint32_t stream, int nth)
{
	headers(fd, stream, true, ":status", "200", "content-type", "application/grpc",
		"grpc-status", status_value, "grpc-message", "no%20such%20thing%0a", NULL);
	return FAKE_KEEP;
}

static void test_grpc_status_mapping(void **state)
{
	static const struct {
		const char *status;
		int err;
	} cases[] = {
		{"0", -EPROTO}, /* OK without a message */
		{"1", -ECANCELED},     {"3", -EINVAL},	{"4", -ETIMEDOUT},   {"5", -ESRCH},
		{"6", -EEXIST},	       {"7", -EACCES},	{"8", -E2BIG},	     {"9", -EBUSY},
		{"10", -ECONNABORTED}, {"11", -ERANGE}, {"12", -EOPNOTSUPP}, {"13", -EPROTO},
		{"14", -ECONNREFUSED}, /* the socket is there, so: nobody answers */
		{"15", -EIO},	       {"16", -EACCES}, {"99", -EIO},	     {"x", -EIO},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		status_value = cases[i].status;
		assert_int_equal(call_once(reply_trailers_only, NULL), cases[i].err);
	}
}

static const char *http_status;

static int reply_http_status(struct fake *f, int fd, uint32_t stream, int nth)
{
	headers(fd, stream, true, ":status", http_status, NULL);
	return FAKE_KEEP;
}

static void test_http_status_without_grpc_status(void **state)
{
	static const struct {
		const char *status;
		int err;
	} cases[] = {
		{"200", -EPROTO},     {"400", -EPROTO},	      {"401", -EACCES}, {"403", -EACCES},
		{"404", -EOPNOTSUPP}, {"503", -ECONNREFUSED}, {"500", -EIO},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		http_status = cases[i].status;
		assert_int_equal(call_once(reply_http_status, NULL), cases[i].err);
	}
}

static uint32_t rst_code;

static int reply_rst(struct fake *f, int fd, uint32_t stream, int nth)
{
	reply_headers(fd, stream);
	u32_frame(fd, RST_STREAM, stream, rst_code);
	return FAKE_KEEP;
}

static void test_rst_stream_mapping(void **state)
{
	static const struct {
		uint32_t code;
		int err;
	} cases[] = {
		{NGHTTP2_CANCEL, -ECANCELED},	     {NGHTTP2_REFUSED_STREAM, -ECONNREFUSED},
		{NGHTTP2_ENHANCE_YOUR_CALM, -E2BIG}, {NGHTTP2_INADEQUATE_SECURITY, -EACCES},
		{NGHTTP2_PROTOCOL_ERROR, -EPROTO},   {NGHTTP2_NO_ERROR, -EPROTO},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rst_code = cases[i].code;
		assert_int_equal(call_once(reply_rst, NULL), cases[i].err);
	}
}

/* The first reply claims one byte over the maximum; the second is fine. */
static int reply_too_big_then_echo(struct fake *f, int fd, uint32_t stream, int nth)
{
	if (nth > 1)
		return reply_echo(f, fd, stream, nth);
	reply_headers(fd, stream);
	message(fd, stream, 0, CRI_MAX_REPLY + 1, "xyz", 3);
	return FAKE_KEEP;
}

static void test_reply_over_max_refused_from_its_prefix(void **state)
{
	struct cri_transport *t = NULL;
	struct fake *f = fake_start(reply_too_big_then_echo, false);
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_int_equal(cri_transport_new(f->path, &t), 0);
	assert_int_equal(call(f, t, "a", 5000, &buf, &len), -E2BIG);
	/* the stream was reset, the connection goes on */
	assert_int_equal(call(f, t, "b", 5000, &buf, &len), 0);
	assert_int_equal(len, 1);
	free(buf);
	cri_transport_free(t);
	fake_stop(f);
	assert_int_equal(f->conns, 1);
	assert_int_equal(f->rsts, 1);
	assert_int_equal(f->rst_code, NGHTTP2_CANCEL);
	fake_free(f);
}

static int reply_compressed(struct fake *f, int fd, uint32_t stream, int nth)
{
	reply_headers(fd, stream);
	message(fd, stream, 1, 3, "abc", 3);
	trailers(fd, stream, "0");
	return FAKE_KEEP;
}

static int reply_two_messages(struct fake *f, int fd, uint32_t stream, int nth)
{
	reply_headers(fd, stream);
	message(fd, stream, 0, 3, "abc", 3);
	message(fd, stream, 0, 3, "def", 3);
	trailers(fd, stream, "0");
	return FAKE_KEEP;
}

static int reply_trailing_bytes(struct fake *f, int fd, uint32_t stream, int nth)
{
	reply_headers(fd, stream);
	message(fd, stream, 0, 3, "abc", 3);
	frame(fd, DATA, 0, stream, "\0\0", 2);
	trailers(fd, stream, "0");
	return FAKE_KEEP;
}

static int reply_no_trailers(struct fake *f, int fd, uint32_t stream, int nth)
{
	reply_headers(fd, stream);
	message(fd, stream, 0, 3, "abc", 3);
	frame(fd, DATA, END_STREAM, stream, NULL, 0);
	return FAKE_KEEP;
}

static void test_malformed_replies(void **state)
{
	assert_int_equal(call_once(reply_compressed, NULL), -EPROTO);
	assert_int_equal(call_once(reply_two_messages, NULL), -EPROTO);
	assert_int_equal(call_once(reply_trailing_bytes, NULL), -EPROTO);
	assert_int_equal(call_once(reply_no_trailers, NULL), -EPROTO);
}

/* Two fields of 40 KiB: each within nghttp2's own limit, together past ours. */
static int reply_huge_headers(struct fake *f, int fd, uint32_t stream, int nth)
{
	char *v = malloc(40 << 10);

	must(v != NULL, "malloc");
	memset(v, 'v', (40 << 10) - 1);
	v[(40 << 10) - 1] = '\0';
	headers(fd, stream, false, ":status", "200", "x-a", v, "x-b", v, NULL);
	free(v);
	return FAKE_KEEP;
}

static void test_header_list_over_limit(void **state)
{
	struct fake *f;

	assert_int_equal(call_once(reply_huge_headers, &f), -EPROTO);
	assert_int_equal(f->rsts, 1);
	fake_free(f);
}

/* The second request finds the connection dead before any byte of reply. */
static int reply_echo_close_second(struct fake *f, int fd, uint32_t stream, int nth)
{
	if (nth == 2)
		return FAKE_CLOSE;
	return reply_echo(f, fd, stream, nth);
}

static void test_stale_connection_retried_once(void **state)
{
	struct cri_transport *t = NULL;
	struct fake *f = fake_start(reply_echo_close_second, false);
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_int_equal(cri_transport_new(f->path, &t), 0);
	assert_int_equal(call(f, t, "one", 5000, &buf, &len), 0);
	free(buf);
	assert_int_equal(call(f, t, "two", 5000, &buf, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(buf, "two", 3);
	free(buf);
	cri_transport_free(t);
	fake_stop(f);
	assert_int_equal(f->conns, 2);
	assert_int_equal(f->requests, 3);
	fake_free(f);
}

/* The second request is left out by a GOAWAY: never processed, so retried. */
static int reply_goaway_second(struct fake *f, int fd, uint32_t stream, int nth)
{
	uint8_t p[8];

	if (nth != 2)
		return reply_echo(f, fd, stream, nth);
	put_u32(p, stream - 2);
	put_u32(p + 4, NGHTTP2_NO_ERROR);
	frame(fd, GOAWAY, 0, 0, p, sizeof(p));
	return FAKE_KEEP;
}

static void test_goaway_refused_call_retried(void **state)
{
	struct cri_transport *t = NULL;
	struct fake *f = fake_start(reply_goaway_second, false);
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_int_equal(cri_transport_new(f->path, &t), 0);
	assert_int_equal(call(f, t, "one", 5000, &buf, &len), 0);
	free(buf);
	assert_int_equal(call(f, t, "two", 5000, &buf, &len), 0);
	assert_int_equal(len, 3);
	free(buf);
	cri_transport_free(t);
	fake_stop(f);
	assert_int_equal(f->conns, 2);
	fake_free(f);
}

static int reply_cut_mid_message(struct fake *f, int fd, uint32_t stream, int nth)
{
	reply_headers(fd, stream);
	message(fd, stream, 0, 100, "only ten..", 10);
	return FAKE_CLOSE;
}

static void test_connection_lost(void **state)
{
	/* with part of the reply */
	assert_int_equal(call_once(reply_cut_mid_message, NULL), -ECONNRESET);
	/* before any reply, on a fresh connection: nobody answers */
	assert_int_equal(call_once(reply_close, NULL), -ECONNREFUSED);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_deadline(void **state)
{
	struct cri_transport *t = NULL;
	struct fake *f = fake_start(reply_nothing, false);
	uint8_t *buf = NULL;
	size_t len = 0;
	int64_t t0 = mono_ms();

	assert_int_equal(cri_transport_new(f->path, &t), 0);
	assert_int_equal(call(f, t, "x", 200, &buf, &len), -ETIMEDOUT);
	assert_true(mono_ms() - t0 < 1500);
	cri_transport_free(t);
	fake_stop(f);
	assert_non_null(strstr(f->headers.data, "grpc-timeout: "));
	fake_free(f);
}

static int reply_http1(struct fake *f, int fd, uint32_t stream, int nth)
{
	static const char r[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";

	write_all(fd, r, sizeof(r) - 1);
	return FAKE_KEEP;
}

static void test_http1_server(void **state)
{
	struct cri_transport *t = NULL;
	struct fake *f = fake_start(reply_http1, true);
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_int_equal(cri_transport_new(f->path, &t), 0);
	assert_int_equal(call(f, t, "x", 2000, &buf, &len), -EPROTO);
	cri_transport_free(t);
	fake_stop(f);
	/* nghttp2 said why before hanging up */
	assert_int_equal(f->goaways, 1);
	assert_int_equal(f->goaway_code, NGHTTP2_PROTOCOL_ERROR);
	fake_free(f);
}

static int reply_ping_then_echo(struct fake *f, int fd, uint32_t stream, int nth)
{
	frame(fd, PING, 0, 0, "12345678", 8);
	return reply_echo(f, fd, stream, nth);
}

static void test_ping_answered(void **state)
{
	struct fake *f;

	assert_int_equal(call_once(reply_ping_then_echo, &f), 0);
	assert_int_equal(f->ping_acks, 1);
	fake_free(f);
}

/*
 * PINGs the client must acknowledge, sent without reading a byte of the
 * acknowledgements: once the socket holds no more, they queue, and past
 * the bound nghttp2 gives up the connection.
 */
static int reply_ping_flood(struct fake *f, int fd, uint32_t stream, int nth)
{
	uint8_t ping[17] = {0, 0, 8, PING, 0, 0, 0, 0, 0, 'p', 'i', 'n', 'g', 'p', 'i', 'n', 'g'};
	uint8_t *b = malloc(sizeof(ping) * 4096);
	int i, j;

	must(b != NULL, "malloc");
	for (i = 0; i < 4096; i++)
		memcpy(b + i * sizeof(ping), ping, sizeof(ping));
	for (j = 0; j < 64; j++) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};

		/* the client stops reading once it gave up */
		if (poll(&pfd, 1, 2000) <= 0 || (pfd.revents & (POLLERR | POLLHUP)))
			break;
		write_all(fd, b, sizeof(ping) * 4096);
	}
	free(b);
	return FAKE_CLOSE;
}

static void test_ping_flood(void **state)
{
	assert_int_equal(call_once(reply_ping_flood, NULL), -EPROTO);
}

/* ---- server streaming ---------------------------------------------------- */

static int reply_stream(struct fake *f, int fd, uint32_t stream, int nth)
{
	uint8_t two[16] = {0, 0, 0, 0, 3, 't', 'w', 'o', 0, 0, 0, 0, 0};
	uint8_t one[9] = {0, 0, 0, 0, 4, 'o', 'n', 'e', '!'};

	reply_headers(fd, stream);
	/* a message split across two frames */
	frame(fd, DATA, 0, stream, one, 6);
	usleep(20000);
	frame(fd, DATA, 0, stream, one + 6, 3);
	/* a message and an empty one in one frame */
	frame(fd, DATA, 0, stream, two, 13);
	trailers(fd, stream, "0");
	return FAKE_KEEP;
}

/* Polls and drains the stream as the collection does, until it ends. */
static int drain_stream(struct cri_transport_stream *s, struct base_buf *msgs, int *n_msgs)
{
	struct pollfd pfd = {.fd = cri_transport_stream_fd(s), .events = POLLIN};
	uint8_t *buf;
	size_t len;
	int r;

	for (;;) {
		while ((r = cri_transport_stream_next(s, &buf, &len)) == 1) {
			base_buf_append(msgs, buf ? (const char *)buf : "", len);
			base_buf_putc(msgs, '|');
			(*n_msgs)++;
			free(buf);
		}
		if (r < 0)
			return r;
		assert_int_equal(poll(&pfd, 1, 5000), 1);
	}
}

static void test_stream_messages_then_ok(void **state)
{
	struct base_buf msgs = BASE_BUF_INIT(0);
	struct cri_transport_stream *s = NULL;
	struct cri_transport *t = NULL;
	struct fake *f = fake_start(reply_stream, false);
	uint8_t *buf;
	size_t len;
	int n = 0;

	assert_int_equal(cri_transport_new(f->path, &t), 0);
	assert_int_equal(cri_transport_stream_open(t, METHOD, "q", 1, &s), 0);
	assert_true(cri_transport_stream_fd(s) >= 0);
	/* CRI event streams do not end: an OK end reads as a reset */
	assert_int_equal(drain_stream(s, &msgs, &n), -ECONNRESET);
	assert_int_equal(n, 3);
	assert_string_equal(msgs.data, "one!|two||");
	/* and stays so */
	assert_int_equal(cri_transport_stream_next(s, &buf, &len), -ECONNRESET);
	cri_transport_stream_free(s);
	cri_transport_free(t);
	fake_stop(f);
	/* no grpc-timeout on a stream */
	assert_null(strstr(f->headers.data, "grpc-timeout"));
	fake_free(f);
	base_buf_done(&msgs);
}

static int reply_stream_headers_only(struct fake *f, int fd, uint32_t stream, int nth)
{
	reply_headers(fd, stream);
	return FAKE_KEEP;
}

static void test_stream_idle_returns_zero(void **state)
{
	struct cri_transport_stream *s = NULL;
	struct cri_transport *t = NULL;
	struct fake *f = fake_start(reply_stream_headers_only, false);
	struct pollfd pfd;
	uint8_t *buf;
	size_t len;
	int i;

	assert_int_equal(cri_transport_new(f->path, &t), 0);
	assert_int_equal(cri_transport_stream_open(t, METHOD, NULL, 0, &s), 0);
	pfd.fd = cri_transport_stream_fd(s);
	pfd.events = POLLIN;
	/* whatever arrives (SETTINGS, headers), no message: 0 without blocking */
	for (i = 0; i < 5; i++) {
		assert_int_equal(cri_transport_stream_next(s, &buf, &len), 0);
		poll(&pfd, 1, 50);
	}
	cri_transport_stream_free(s);
	cri_transport_free(t);
	fake_stop(f);
	fake_free(f);
}

static int reply_stream_too_big(struct fake *f, int fd, uint32_t stream, int nth)
{
	reply_headers(fd, stream);
	message(fd, stream, 0, 2, "ok", 2);
	message(fd, stream, 0, CRI_MAX_REPLY + 1, NULL, 0);
	return FAKE_KEEP;
}

static void test_stream_errors(void **state)
{
	struct base_buf msgs = BASE_BUF_INIT(0);
	struct cri_transport_stream *s = NULL;
	struct cri_transport *t = NULL;
	struct fake *f;
	int n = 0;

	/* a status */
	status_value = "12";
	f = fake_start(reply_trailers_only, false);
	assert_int_equal(cri_transport_new(f->path, &t), 0);
	assert_int_equal(cri_transport_stream_open(t, METHOD, NULL, 0, &s), 0);
	assert_int_equal(drain_stream(s, &msgs, &n), -EOPNOTSUPP);
	assert_int_equal(n, 0);
	s = cri_transport_stream_free(s);
	t = cri_transport_free(t);
	fake_stop(f);
	fake_free(f);

	/* a message past the maximum, after a good one */
	f = fake_start(reply_stream_too_big, false);
	assert_int_equal(cri_transport_new(f->path, &t), 0);
	assert_int_equal(cri_transport_stream_open(t, METHOD, NULL, 0, &s), 0);
	assert_int_equal(drain_stream(s, &msgs, &n), -E2BIG);
	assert_int_equal(n, 1);
	assert_string_equal(msgs.data, "ok|");
	s = cri_transport_stream_free(s);
	t = cri_transport_free(t);
	fake_stop(f);
	fake_free(f);

	/* the server goes away mid-message */
	f = fake_start(reply_cut_mid_message, false);
	assert_int_equal(cri_transport_new(f->path, &t), 0);
	assert_int_equal(cri_transport_stream_open(t, METHOD, NULL, 0, &s), 0);
	assert_int_equal(drain_stream(s, &msgs, &n), -ECONNRESET);
	cri_transport_stream_free(s);
	cri_transport_free(t);
	fake_stop(f);
	fake_free(f);
	base_buf_done(&msgs);
}

/* ---- arguments ------------------------------------------------------------ */

static void test_arguments(void **state)
{
	struct cri_transport_stream *s = NULL;
	struct cri_transport *t = NULL;
	char path[CRI_MAX_SOCKET_PATH + 2], *method;
	uint8_t *buf;
	size_t len;

	assert_int_equal(cri_transport_new(NULL, &t), -EINVAL);
	assert_int_equal(cri_transport_new("", &t), -EINVAL);
	memset(path, 'p', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(cri_transport_new(path, &t), -ENAMETOOLONG);
	assert_int_equal(cri_transport_new("/nonexistent/cri.sock", &t), 0);
	assert_int_equal(cri_transport_call(t, METHOD, NULL, 1, 1000, &buf, &len), -EINVAL);
	assert_int_equal(cri_transport_call(t, METHOD, NULL, 0, 0, &buf, &len), -EINVAL);
	assert_int_equal(cri_transport_call(t, METHOD, NULL, 0, 1000, &buf, &len), -ENOENT);
	assert_int_equal(cri_transport_stream_open(t, METHOD, NULL, 0, &s), -ENOENT);
	/* a method is a short path */
	method = malloc(8192);
	assert_non_null(method);
	memset(method, 'm', 8191);
	method[8191] = '\0';
	assert_int_equal(cri_transport_call(t, method, NULL, 0, 1000, &buf, &len), -EINVAL);
	free(method);
	assert_int_equal(cri_transport_stream_fd(NULL), -EINVAL);
	assert_int_equal(cri_transport_stream_next(NULL, &buf, &len), -EINVAL);
	assert_null(cri_transport_stream_free(NULL));
	assert_null(cri_transport_free(t));
	assert_null(cri_transport_free(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo_and_request_headers),
		cmocka_unit_test(test_connection_kept_across_calls),
		cmocka_unit_test(test_grpc_status_mapping),
		cmocka_unit_test(test_http_status_without_grpc_status),
		cmocka_unit_test(test_rst_stream_mapping),
		cmocka_unit_test(test_reply_over_max_refused_from_its_prefix),
		cmocka_unit_test(test_malformed_replies),
		cmocka_unit_test(test_header_list_over_limit),
		cmocka_unit_test(test_stale_connection_retried_once),
		cmocka_unit_test(test_goaway_refused_call_retried),
		cmocka_unit_test(test_connection_lost),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_http1_server),
		cmocka_unit_test(test_ping_answered),
		cmocka_unit_test(test_ping_flood),
		cmocka_unit_test(test_stream_messages_then_ok),
		cmocka_unit_test(test_stream_idle_returns_zero),
		cmocka_unit_test(test_stream_errors),
		cmocka_unit_test(test_arguments),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
