// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for cri/h2.c, the HTTP/2 client connection, fed server frames from
 * memory and read back through its output: the preface and our SETTINGS, a
 * request and its response (whole and byte by byte), CONTINUATION, padding,
 * flow control in both directions, PING, RST_STREAM, GOAWAY, a callback
 * abandoning its stream, and the protocol violations that must end the
 * connection with a GOAWAY naming the right error.
 */
#include "cri/h2.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "cri/hpack.h"

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

enum {
	DATA,
	HEADERS,
	PRIORITY,
	RST_STREAM,
	SETTINGS,
	PUSH_PROMISE,
	PING,
	GOAWAY,
	WINDOW_UPDATE,
	CONTINUATION
};
enum { END_STREAM = 0x1, ACK = 0x1, END_HEADERS = 0x4, PADDED = 0x8 };

/* What one stream reported. */
struct rec {
	struct base_buf headers; /* "name=value\n" per field */
	struct base_buf data;
	int closes;
	bool reset;
	uint32_t code;
	bool fail_data;
};

static int rec_header(void *user, const char *name, size_t nl, const char *value, size_t vl)
{
	struct rec *r = user;

	base_buf_append(&r->headers, name, nl);
	base_buf_putc(&r->headers, '=');
	base_buf_append(&r->headers, value, vl);
	base_buf_putc(&r->headers, '\n');
	return 0;
}

static int rec_data(void *user, const uint8_t *buf, size_t len)
{
	struct rec *r = user;

	if (r->fail_data)
		return -ECANCELED;
	return base_buf_append(&r->data, buf, len);
}

static void rec_close(void *user, bool reset, uint32_t code)
{
	struct rec *r = user;

	r->closes++;
	r->reset = reset;
	r->code = code;
}

static const struct h2_stream_ops ops = {
	.header = rec_header,
	.data = rec_data,
	.close = rec_close,
};

static void rec_done(struct rec *r)
{
	base_buf_done(&r->headers);
	base_buf_done(&r->data);
}

/* ---- frames from the "server" ------------------------------------------ */

static void put_frame(struct base_buf *b, uint8_t type, uint8_t flags, uint32_t id, const void *p,
		      size_t n)
{
	uint8_t h[9] = {
		(uint8_t)(n >> 16),  (uint8_t)(n >> 8),	  (uint8_t)n,	      type,	  flags,
		(uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id};

	assert_int_equal(base_buf_append(b, h, sizeof(h)), 0);
	if (n)
		assert_int_equal(base_buf_append(b, p, n), 0);
}

static void put_u32_frame(struct base_buf *b, uint8_t type, uint32_t id, uint32_t v)
{
	uint8_t p[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

	put_frame(b, type, 0, id, p, 4);
}

static void put_setting(struct base_buf *b, uint16_t id, uint32_t v)
{
	uint8_t p[6] = {(uint8_t)(id >> 8), (uint8_t)id,       (uint8_t)(v >> 24),
			(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

	put_frame(b, SETTINGS, 0, 0, p, sizeof(p));
}

/* A header block of "name", "value" pairs, NULL-terminated. */
static void block_of(struct base_buf *blk, const char *const *kv)
{
	size_t i;

	base_buf_reset(blk);
	for (i = 0; kv[2 * i]; i++)
		assert_int_equal(hpack_encode_field(blk, kv[2 * i], kv[2 * i + 1]), 0);
}

static void put_headers(struct base_buf *b, uint8_t flags, uint32_t id, const char *const *kv)
{
	struct base_buf blk = BASE_BUF_INIT(0);

	block_of(&blk, kv);
	put_frame(b, HEADERS, flags | END_HEADERS, id, blk.data, blk.len);
	base_buf_done(&blk);
}

static const char *const resp_headers[] = {":status", "200", "content-type", "application/grpc",
					   NULL};
static const char *const resp_trailers[] = {"grpc-status", "0", NULL};

/* ---- frames we sent ------------------------------------------------------ */

struct frame {
	uint8_t type, flags;
	uint32_t id;
	uint8_t payload[80 << 10];
	size_t len;
};

struct wire {
	struct base_buf bytes;
	size_t off;
	bool preface_seen;
};

/* Moves everything the connection wants to send into w. */
static void drain(struct h2_conn *c, struct wire *w)
{
	const uint8_t *p;
	size_t n;

	for (;;) {
		p = h2_conn_output(c, &n);
		if (!n)
			break;
		assert_int_equal(base_buf_append(&w->bytes, p, n), 0);
		h2_conn_output_done(c, n);
	}
}

/* The next whole frame sent; false when none. */
static bool next_frame(struct h2_conn *c, struct wire *w, struct frame *f)
{
	const uint8_t *p;
	size_t left;

	drain(c, w);
	if (!w->preface_seen) {
		assert_true(w->bytes.len >= strlen(PREFACE));
		assert_memory_equal(w->bytes.data, PREFACE, strlen(PREFACE));
		w->off = strlen(PREFACE);
		w->preface_seen = true;
	}
	left = w->bytes.len - w->off;
	if (left < 9)
		return false;
	p = (const uint8_t *)w->bytes.data + w->off;
	f->len = (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
	assert_true(left >= 9 + f->len);
	assert_true(f->len <= sizeof(f->payload));
	f->type = p[3];
	f->flags = p[4];
	f->id = (uint32_t)p[5] << 24 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 8 | p[8];
	memcpy(f->payload, p + 9, f->len);
	w->off += 9 + f->len;
	return true;
}

/* Skips to the next frame of type; asserts there is one. */
static void expect_frame(struct h2_conn *c, struct wire *w, struct frame *f, uint8_t type)
{
	while (next_frame(c, w, f))
		if (f->type == type)
			return;
	fail_msg("no frame of type %u sent", type);
}

static uint32_t u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int feed(struct h2_conn *c, const struct base_buf *b)
{
	return h2_conn_feed(c, (const uint8_t *)b->data, b->len);
}

/* A connection past the handshake with one request (stream 1) sent. */
static struct h2_conn *setup(struct rec *r, struct wire *w, const uint8_t *body, size_t body_len)
{
	static const struct h2_header hdrs[] = {
		{":method", "POST"},
		{":scheme", "http"},
		{":path", "/svc/Method"},
		{":authority", "localhost"},
	};
	struct base_buf in = BASE_BUF_INIT(0);
	struct frame f;
	struct h2_conn *c;
	uint32_t id;

	assert_int_equal(h2_conn_new(&ops, &c), 0);
	assert_int_equal(h2_conn_submit(c, hdrs, 4, body, body_len, r, &id), 0);
	assert_int_equal(id, 1);
	put_frame(&in, SETTINGS, 0, 0, NULL, 0);
	assert_int_equal(feed(c, &in), 0);
	base_buf_done(&in);
	expect_frame(c, w, &f, HEADERS);
	return c;
}

static void teardown(struct h2_conn *c, struct rec *r, struct wire *w)
{
	h2_conn_free(c);
	rec_done(r);
	base_buf_done(&w->bytes);
}

/* The connection failed and said why. */
static void expect_goaway(struct h2_conn *c, struct wire *w, uint32_t code)
{
	struct frame f;

	expect_frame(c, w, &f, GOAWAY);
	assert_int_equal(f.len, 8);
	assert_int_equal(u32(f.payload + 4), code);
	assert_false(h2_conn_usable(c));
}

/* ---- tests --------------------------------------------------------------- */

static void test_preface_and_settings(void **state)
{
	struct wire w = {.bytes = BASE_BUF_INIT(0)};
	struct h2_conn *c;
	struct frame f;
	size_t i;
	uint32_t seen[8] = {0};

	assert_int_equal(h2_conn_new(&ops, &c), 0);
	assert_true(next_frame(c, &w, &f));
	assert_int_equal(f.type, SETTINGS);
	assert_int_equal(f.id, 0);
	assert_int_equal(f.len % 6, 0);
	for (i = 0; i < f.len; i += 6) {
		uint16_t id = (uint16_t)(f.payload[i] << 8 | f.payload[i + 1]);

		assert_true(id < 8);
		seen[id] = u32(f.payload + i + 2) + 1;
	}
	assert_int_equal(seen[2], 0 + 1);		      /* ENABLE_PUSH 0 */
	assert_int_equal(seen[4], H2_RECV_WINDOW + 1);	      /* INITIAL_WINDOW_SIZE */
	assert_int_equal(seen[5], H2_MAX_FRAME_SIZE + 1);     /* MAX_FRAME_SIZE */
	assert_int_equal(seen[6], HPACK_MAX_HEADER_LIST + 1); /* MAX_HEADER_LIST_SIZE */
	assert_true(next_frame(c, &w, &f));
	assert_int_equal(f.type, WINDOW_UPDATE);
	assert_int_equal(f.id, 0);
	assert_int_equal(u32(f.payload), H2_RECV_WINDOW - 65535);
	assert_false(next_frame(c, &w, &f));
	h2_conn_free(c);
	base_buf_done(&w.bytes);
}

static void run_exchange(size_t split)
{
	static const struct h2_header hdrs[] = {
		{":method", "POST"},	     {":scheme", "http"}, {":path", "/svc/Echo"},
		{":authority", "localhost"}, {"te", "trailers"},
	};
	struct wire w = {.bytes = BASE_BUF_INIT(0)};
	struct base_buf in = BASE_BUF_INIT(0);
	struct rec r = {0};
	struct hpack_decoder *dec;
	struct h2_conn *c;
	struct frame f;
	uint8_t padded[1 + 5 + 3] = {3, 'w', 'o', 'r', 'l', 'd', 0, 0, 0};
	uint32_t id;
	size_t i;

	assert_int_equal(h2_conn_new(&ops, &c), 0);
	assert_int_equal(h2_conn_submit(c, hdrs, 5, (const uint8_t *)"hello", 5, &r, &id), 0);
	assert_int_equal(h2_conn_streams(c), 1);
	/* our request: HEADERS that decode back to the fields, then the body */
	expect_frame(c, &w, &f, HEADERS);
	assert_int_equal(f.id, 1);
	assert_int_equal(f.flags, END_HEADERS);
	assert_int_equal(hpack_decoder_new(HPACK_DEFAULT_TABLE_SIZE, &dec), 0);
	assert_int_equal(hpack_decoder_block(dec, f.payload, f.len, rec_header, &r), 0);
	assert_string_equal(r.headers.data, ":method=POST\n:scheme=http\n:path=/svc/Echo\n"
					    ":authority=localhost\nte=trailers\n");
	base_buf_reset(&r.headers);
	hpack_decoder_free(dec);
	assert_true(next_frame(c, &w, &f));
	assert_int_equal(f.type, DATA);
	assert_int_equal(f.flags, END_STREAM);
	assert_int_equal(f.len, 5);
	assert_memory_equal(f.payload, "hello", 5);

	/* the response, fed whole or in pieces of split bytes */
	put_frame(&in, SETTINGS, 0, 0, NULL, 0);
	put_headers(&in, 0, 1, resp_headers);
	put_frame(&in, DATA, PADDED, 1, padded, sizeof(padded));
	put_frame(&in, 0xfa, 0, 1, "ignored", 7); /* unknown type */
	put_headers(&in, END_STREAM, 1, resp_trailers);
	for (i = 0; i < in.len; i += split) {
		size_t n = in.len - i < split ? in.len - i : split;

		assert_int_equal(h2_conn_feed(c, (const uint8_t *)in.data + i, n), 0);
	}
	assert_string_equal(r.headers.data,
			    ":status=200\ncontent-type=application/grpc\ngrpc-status=0\n");
	assert_int_equal(r.data.len, 5);
	assert_memory_equal(r.data.data, "world", 5);
	assert_int_equal(r.closes, 1);
	assert_false(r.reset);
	assert_int_equal(h2_conn_streams(c), 0);
	assert_true(h2_conn_usable(c));
	expect_frame(c, &w, &f, SETTINGS);
	assert_int_equal(f.flags, ACK);
	assert_int_equal(f.len, 0);
	base_buf_done(&in);
	teardown(c, &r, &w);
}

static void test_exchange_whole(void **state)
{
	run_exchange(1 << 20);
}

static void test_exchange_byte_by_byte(void **state)
{
	run_exchange(1);
}

static void test_continuation(void **state)
{
	static const char *const kv[] = {":status", "200",	  "x-one", "1111111111",
					 "x-two",   "2222222222", NULL};
	struct wire w = {.bytes = BASE_BUF_INIT(0)};
	struct base_buf in = BASE_BUF_INIT(0), blk = BASE_BUF_INIT(0);
	struct rec r = {0};
	struct h2_conn *c = setup(&r, &w, NULL, 0);

	block_of(&blk, kv);
	put_frame(&in, HEADERS, 0, 1, blk.data, 5);
	put_frame(&in, CONTINUATION, 0, 1, blk.data + 5, 10);
	put_frame(&in, CONTINUATION, END_HEADERS, 1, blk.data + 15, blk.len - 15);
	assert_int_equal(feed(c, &in), 0);
	assert_string_equal(r.headers.data, ":status=200\nx-one=1111111111\nx-two=2222222222\n");
	assert_int_equal(r.closes, 0);
	teardown(c, &r, &w);

	/* anything between a block's frames breaks the connection */
	memset(&r, 0, sizeof(r));
	memset(&w, 0, sizeof(w));
	c = setup(&r, &w, NULL, 0);
	base_buf_reset(&in);
	put_frame(&in, HEADERS, 0, 1, blk.data, 5);
	put_frame(&in, PING, 0, 0, "12345678", 8);
	assert_int_equal(feed(c, &in), -EPROTO);
	expect_goaway(c, &w, H2_PROTOCOL_ERROR);
	assert_string_equal(r.headers.data ? r.headers.data : "", "");
	/* and it stays failed */
	assert_int_equal(feed(c, &in), -EPROTO);
	base_buf_done(&in);
	base_buf_done(&blk);
	teardown(c, &r, &w);
}

static size_t data_sent(struct h2_conn *c, struct wire *w, size_t max_frame, bool *ended)
{
	struct frame f;
	size_t total = 0;

	while (next_frame(c, w, &f)) {
		if (f.type != DATA)
			continue;
		assert_int_equal(f.id, 1);
		assert_true(f.len <= max_frame);
		assert_false(*ended);
		total += f.len;
		*ended = f.flags & END_STREAM;
	}
	return total;
}

static void test_flow_control_send(void **state)
{
	const size_t n = 200000;
	uint8_t *body = malloc(n);
	struct wire w = {.bytes = BASE_BUF_INIT(0)};
	struct base_buf in = BASE_BUF_INIT(0);
	struct rec r = {0};
	struct h2_conn *c;
	bool ended = false;
	size_t sent;

	assert_non_null(body);
	memset(body, 'b', n);
	c = setup(&r, &w, body, n);
	/* the default windows: 65535 bytes in frames of at most 16384 */
	sent = data_sent(c, &w, 16384, &ended);
	assert_int_equal(sent, 65535);
	assert_false(ended);
	/* a larger stream window alone is not enough: the connection's is spent */
	put_setting(&in, 4, 1 << 20);
	put_setting(&in, 5, 32768);
	assert_int_equal(feed(c, &in), 0);
	assert_int_equal(data_sent(c, &w, 32768, &ended), 0);
	base_buf_reset(&in);
	put_u32_frame(&in, WINDOW_UPDATE, 0, 100000);
	assert_int_equal(feed(c, &in), 0);
	sent += data_sent(c, &w, 32768, &ended);
	assert_int_equal(sent, 165535);
	assert_false(ended);
	base_buf_reset(&in);
	put_u32_frame(&in, WINDOW_UPDATE, 0, 1 << 20);
	assert_int_equal(feed(c, &in), 0);
	sent += data_sent(c, &w, 32768, &ended);
	assert_int_equal(sent, n);
	assert_true(ended);
	base_buf_done(&in);
	teardown(c, &r, &w);
	free(body);
}

static void test_flow_control_receive(void **state)
{
	struct wire w = {.bytes = BASE_BUF_INIT(0)};
	struct base_buf in = BASE_BUF_INIT(0);
	static uint8_t chunk[H2_MAX_FRAME_SIZE];
	struct rec r = {0};
	struct h2_conn *c = setup(&r, &w, NULL, 0);
	struct frame f;
	size_t i, frames = H2_RECV_WINDOW / 2 / sizeof(chunk) + 1;
	uint32_t conn_inc = 0, stream_inc = 0;

	put_headers(&in, 0, 1, resp_headers);
	assert_int_equal(feed(c, &in), 0);
	for (i = 0; i < frames; i++) {
		base_buf_reset(&in);
		put_frame(&in, DATA, 0, 1, chunk, sizeof(chunk));
		assert_int_equal(feed(c, &in), 0);
	}
	assert_int_equal(r.data.len, frames * sizeof(chunk));
	/* at half of each window we opened it again, by what was used then */
	while (next_frame(c, &w, &f)) {
		if (f.type != WINDOW_UPDATE)
			continue;
		if (f.id == 0)
			conn_inc += u32(f.payload);
		else if (f.id == 1)
			stream_inc += u32(f.payload);
	}
	assert_int_equal(conn_inc, (frames - 1) * sizeof(chunk));
	assert_int_equal(stream_inc, (frames - 1) * sizeof(chunk));
	base_buf_done(&in);
	teardown(c, &r, &w);
}

static void test_ping(void **state)
{
	struct wire w = {.bytes = BASE_BUF_INIT(0)};
	struct base_buf in = BASE_BUF_INIT(0);
	struct rec r = {0};
	struct h2_conn *c = setup(&r, &w, NULL, 0);
	struct frame f;

	put_frame(&in, PING, 0, 0, "abcdefgh", 8);
	put_frame(&in, PING, ACK, 0, "ignored!", 8); /* an ACK is not answered */
	assert_int_equal(feed(c, &in), 0);
	expect_frame(c, &w, &f, PING);
	assert_int_equal(f.flags, ACK);
	assert_int_equal(f.len, 8);
	assert_memory_equal(f.payload, "abcdefgh", 8);
	assert_false(next_frame(c, &w, &f));
	base_buf_reset(&in);
	put_frame(&in, PING, 0, 0, "short", 5);
	assert_int_equal(feed(c, &in), -EPROTO);
	expect_goaway(c, &w, H2_FRAME_SIZE_ERROR);
	base_buf_done(&in);
	teardown(c, &r, &w);
}

static void test_rst_stream(void **state)
{
	struct wire w = {.bytes = BASE_BUF_INIT(0)};
	struct base_buf in = BASE_BUF_INIT(0);
	struct rec r = {0};
	struct h2_conn *c = setup(&r, &w, NULL, 0);

	put_headers(&in, 0, 1, resp_headers);
	put_u32_frame(&in, RST_STREAM, 1, H2_ENHANCE_YOUR_CALM);
	/* frames for the closed stream that were already on the way */
	put_frame(&in, DATA, 0, 1, "late", 4);
	put_u32_frame(&in, WINDOW_UPDATE, 1, 10);
	assert_int_equal(feed(c, &in), 0);
	assert_int_equal(r.closes, 1);
	assert_true(r.reset);
	assert_int_equal(r.code, H2_ENHANCE_YOUR_CALM);
	assert_int_equal(r.data.len, 0);
	assert_true(h2_conn_usable(c));
	assert_int_equal(h2_conn_streams(c), 0);
	base_buf_done(&in);
	teardown(c, &r, &w);
}

static void test_goaway(void **state)
{
	static const struct h2_header hdrs[] = {{":method", "POST"}, {":path", "/x"}};
	struct wire w = {.bytes = BASE_BUF_INIT(0)};
	struct base_buf in = BASE_BUF_INIT(0);
	struct rec r = {0}, r3 = {0}, r5 = {0};
	struct h2_conn *c = setup(&r, &w, NULL, 0);
	uint8_t goaway[8] = {0, 0, 0, 1, 0, 0, 0, 0};
	uint32_t id;

	assert_int_equal(h2_conn_submit(c, hdrs, 2, NULL, 0, &r3, &id), 0);
	assert_int_equal(id, 3);
	put_frame(&in, GOAWAY, 0, 0, goaway, sizeof(goaway));
	assert_int_equal(feed(c, &in), 0);
	/* 3 was never processed: refused; 1 goes on */
	assert_int_equal(r3.closes, 1);
	assert_true(r3.reset);
	assert_int_equal(r3.code, H2_REFUSED_STREAM);
	assert_int_equal(r.closes, 0);
	assert_false(h2_conn_usable(c));
	assert_int_equal(h2_conn_submit(c, hdrs, 2, NULL, 0, &r5, &id), -EAGAIN);
	base_buf_reset(&in);
	put_headers(&in, END_STREAM, 1, resp_headers);
	assert_int_equal(feed(c, &in), 0);
	assert_int_equal(r.closes, 1);
	assert_false(r.reset);
	base_buf_done(&in);
	rec_done(&r3);
	rec_done(&r5);
	teardown(c, &r, &w);
}

static void test_callback_abandons_stream(void **state)
{
	struct wire w = {.bytes = BASE_BUF_INIT(0)};
	struct base_buf in = BASE_BUF_INIT(0);
	struct rec r = {.fail_data = true};
	struct h2_conn *c = setup(&r, &w, NULL, 0);
	struct frame f;

	put_headers(&in, 0, 1, resp_headers);
	put_frame(&in, DATA, 0, 1, "refused", 7);
	put_frame(&in, DATA, 0, 1, "more", 4);
	put_headers(&in, END_STREAM, 1, resp_trailers);
	assert_int_equal(feed(c, &in), 0);
	expect_frame(c, &w, &f, RST_STREAM);
	assert_int_equal(f.id, 1);
	assert_int_equal(u32(f.payload), H2_CANCEL);
	/* no more reports, and the connection lives on */
	assert_int_equal(r.closes, 0);
	assert_string_equal(r.headers.data, ":status=200\ncontent-type=application/grpc\n");
	assert_true(h2_conn_usable(c));
	assert_int_equal(h2_conn_streams(c), 0);
	base_buf_done(&in);
	teardown(c, &r, &w);
}

static void test_data_before_headers(void **state)
{
	struct wire w = {.bytes = BASE_BUF_INIT(0)};
	struct base_buf in = BASE_BUF_INIT(0);
	struct rec r = {0};
	struct h2_conn *c = setup(&r, &w, NULL, 0);
	struct frame f;

	put_frame(&in, DATA, 0, 1, "early", 5);
	assert_int_equal(feed(c, &in), 0);
	assert_int_equal(r.closes, 1);
	assert_true(r.reset);
	assert_int_equal(r.code, H2_PROTOCOL_ERROR);
	expect_frame(c, &w, &f, RST_STREAM);
	assert_int_equal(u32(f.payload), H2_PROTOCOL_ERROR);
	base_buf_done(&in);
	teardown(c, &r, &w);
}

/* A complete response while our request is still going out stops it. */
static void test_early_response(void **state)
{
	const size_t n = 100000;
	uint8_t *body = calloc(1, n);
	struct wire w = {.bytes = BASE_BUF_INIT(0)};
	struct base_buf in = BASE_BUF_INIT(0);
	struct rec r = {0};
	struct h2_conn *c;
	struct frame f;
	bool ended = false;

	assert_non_null(body);
	c = setup(&r, &w, body, n);
	assert_int_equal(data_sent(c, &w, 16384, &ended), 65535);
	put_headers(&in, END_STREAM, 1,
		    (const char *const[]){":status", "200", "grpc-status", "12", NULL});
	put_u32_frame(&in, WINDOW_UPDATE, 0, 1 << 20);
	assert_int_equal(feed(c, &in), 0);
	assert_int_equal(r.closes, 1);
	assert_false(r.reset);
	expect_frame(c, &w, &f, RST_STREAM);
	assert_int_equal(u32(f.payload), H2_CANCEL);
	assert_int_equal(data_sent(c, &w, 16384, &ended), 0);
	assert_false(ended);
	base_buf_done(&in);
	teardown(c, &r, &w);
	free(body);
}

struct bad_case {
	const char *what;
	void (*build)(struct base_buf *in);
	uint32_t code;
};

static void bad_first_not_settings(struct base_buf *in)
{
	base_buf_reset(in); /* replaces setup()'s SETTINGS: see run_bad() */
	put_frame(in, PING, 0, 0, "12345678", 8);
}

static void bad_oversized(struct base_buf *in)
{
	uint8_t h[9] = {0x01, 0x00, 0x01, DATA, 0, 0, 0, 0, 1}; /* 65537 bytes */

	base_buf_append(in, h, sizeof(h));
}

static void bad_push_promise(struct base_buf *in)
{
	put_frame(in, PUSH_PROMISE, END_HEADERS, 1, "\0\0\0\2", 4);
}

static void bad_data_stream0(struct base_buf *in)
{
	put_frame(in, DATA, 0, 0, "x", 1);
}

static void bad_headers_even(struct base_buf *in)
{
	put_headers(in, 0, 2, resp_headers);
}

static void bad_headers_unopened(struct base_buf *in)
{
	put_headers(in, 0, 5, resp_headers);
}

static void bad_window_zero(struct base_buf *in)
{
	put_u32_frame(in, WINDOW_UPDATE, 0, 0);
}

static void bad_window_overflow(struct base_buf *in)
{
	put_u32_frame(in, WINDOW_UPDATE, 0, 0x7fffffff);
}

static void bad_settings_length(struct base_buf *in)
{
	put_frame(in, SETTINGS, 0, 0, "\0\4\0\0\0", 5);
}

static void bad_settings_ack_payload(struct base_buf *in)
{
	put_frame(in, SETTINGS, ACK, 0, "\0\4\0\0\0\0", 6);
}

static void bad_max_frame(struct base_buf *in)
{
	put_setting(in, 5, 100);
}

static void bad_initial_window(struct base_buf *in)
{
	put_setting(in, 4, 0x80000000u);
}

static void bad_padding(struct base_buf *in)
{
	put_headers(in, 0, 1, resp_headers);
	put_frame(in, DATA, PADDED, 1, "\5abc", 4);
}

static void bad_continuation_alone(struct base_buf *in)
{
	put_frame(in, CONTINUATION, END_HEADERS, 1, "\x88", 1);
}

static void bad_hpack(struct base_buf *in)
{
	put_frame(in, HEADERS, END_HEADERS, 1, "\x80", 1);
}

static void bad_block_too_big(struct base_buf *in)
{
	static uint8_t junk[16384];
	size_t i;

	memset(junk, 0x88, sizeof(junk));
	put_frame(in, HEADERS, 0, 1, junk, sizeof(junk));
	for (i = 0; i < H2_MAX_HEADER_BLOCK / sizeof(junk); i++)
		put_frame(in, CONTINUATION, 0, 1, junk, sizeof(junk));
}

static void bad_rst_length(struct base_buf *in)
{
	put_frame(in, RST_STREAM, 0, 1, "\0\0\0\0\0", 5);
}

static void bad_goaway_stream(struct base_buf *in)
{
	put_frame(in, GOAWAY, 0, 1, "\0\0\0\0\0\0\0\0", 8);
}

static void run_bad(const struct bad_case *bc)
{
	struct wire w = {.bytes = BASE_BUF_INIT(0)};
	struct base_buf in = BASE_BUF_INIT(0);
	struct rec r = {0};
	struct h2_conn *c;
	uint32_t id;
	int rc;
	static const struct h2_header hdrs[] = {{":method", "POST"}, {":path", "/x"}};

	if (bc->build == bad_first_not_settings) {
		assert_int_equal(h2_conn_new(&ops, &c), 0);
		assert_int_equal(h2_conn_submit(c, hdrs, 2, NULL, 0, &r, &id), 0);
	} else {
		c = setup(&r, &w, NULL, 0);
	}
	bc->build(&in);
	rc = feed(c, &in);
	if (rc != -EPROTO)
		fail_msg("%s: feed gave %d", bc->what, rc);
	expect_goaway(c, &w, bc->code);
	assert_int_equal(h2_conn_submit(c, hdrs, 2, NULL, 0, &r, &id), -EPROTO);
	base_buf_done(&in);
	teardown(c, &r, &w);
}

static void test_protocol_errors(void **state)
{
	static const struct bad_case cases[] = {
		{"first frame not SETTINGS", bad_first_not_settings, H2_PROTOCOL_ERROR},
		{"frame over our maximum", bad_oversized, H2_FRAME_SIZE_ERROR},
		{"PUSH_PROMISE", bad_push_promise, H2_PROTOCOL_ERROR},
		{"DATA on stream 0", bad_data_stream0, H2_PROTOCOL_ERROR},
		{"HEADERS on a server stream", bad_headers_even, H2_PROTOCOL_ERROR},
		{"HEADERS on a stream never opened", bad_headers_unopened, H2_PROTOCOL_ERROR},
		{"WINDOW_UPDATE of 0", bad_window_zero, H2_PROTOCOL_ERROR},
		{"WINDOW_UPDATE past 2^31-1", bad_window_overflow, H2_FLOW_CONTROL_ERROR},
		{"SETTINGS of 5 bytes", bad_settings_length, H2_FRAME_SIZE_ERROR},
		{"SETTINGS ACK with payload", bad_settings_ack_payload, H2_FRAME_SIZE_ERROR},
		{"MAX_FRAME_SIZE 100", bad_max_frame, H2_PROTOCOL_ERROR},
		{"INITIAL_WINDOW_SIZE 2^31", bad_initial_window, H2_FLOW_CONTROL_ERROR},
		{"padding longer than the frame", bad_padding, H2_PROTOCOL_ERROR},
		{"CONTINUATION without HEADERS", bad_continuation_alone, H2_PROTOCOL_ERROR},
		{"HPACK index 0", bad_hpack, H2_COMPRESSION_ERROR},
		{"header block over the bound", bad_block_too_big, H2_ENHANCE_YOUR_CALM},
		{"RST_STREAM of 5 bytes", bad_rst_length, H2_FRAME_SIZE_ERROR},
		{"GOAWAY on a stream", bad_goaway_stream, H2_PROTOCOL_ERROR},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_bad(&cases[i]);
}

/* A peer that makes us answer without ever reading hits the output bound. */
static void test_output_bound(void **state)
{
	struct wire w = {.bytes = BASE_BUF_INIT(0)};
	struct base_buf in = BASE_BUF_INIT(0);
	struct rec r = {0};
	struct h2_conn *c = setup(&r, &w, NULL, 0);
	size_t i;
	int rc = 0;

	for (i = 0; i < 100 && rc == 0; i++) {
		size_t j;

		base_buf_reset(&in);
		for (j = 0; j < 1000; j++)
			put_frame(&in, PING, 0, 0, "12345678", 8);
		rc = feed(c, &in);
	}
	assert_int_equal(rc, -ENOBUFS);
	assert_false(h2_conn_usable(c));
	base_buf_done(&in);
	teardown(c, &r, &w);
}

static void test_args(void **state)
{
	static const struct h2_stream_ops none = {0};
	struct h2_conn *c;
	uint32_t id;

	assert_int_equal(h2_conn_new(&none, &c), -EINVAL);
	assert_int_equal(h2_conn_new(&ops, NULL), -EINVAL);
	assert_null(h2_conn_free(NULL));
	assert_int_equal(h2_conn_new(&ops, &c), 0);
	assert_int_equal(h2_conn_submit(c, NULL, 0, NULL, 1, NULL, &id), -EINVAL);
	assert_int_equal(h2_conn_cancel(c, 1), -ENOENT);
	assert_int_equal(h2_conn_feed(c, NULL, 1), -EINVAL);
	assert_int_equal(h2_conn_feed(c, NULL, 0), 0);
	h2_conn_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_preface_and_settings),
		cmocka_unit_test(test_exchange_whole),
		cmocka_unit_test(test_exchange_byte_by_byte),
		cmocka_unit_test(test_continuation),
		cmocka_unit_test(test_flow_control_send),
		cmocka_unit_test(test_flow_control_receive),
		cmocka_unit_test(test_ping),
		cmocka_unit_test(test_rst_stream),
		cmocka_unit_test(test_goaway),
		cmocka_unit_test(test_callback_abandons_stream),
		cmocka_unit_test(test_data_before_headers),
		cmocka_unit_test(test_early_response),
		cmocka_unit_test(test_protocol_errors),
		cmocka_unit_test(test_output_bound),
		cmocka_unit_test(test_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
