// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP/2 client connection state machine.  See h2.h.
 *
 * Input is parsed one frame at a time: the 9-byte header, then the payload
 * (bounded by H2_MAX_FRAME_SIZE) is collected until complete, whatever way
 * the bytes were split across h2_conn_feed() calls.  Header blocks are
 * assembled from HEADERS and CONTINUATION and decoded as a whole, also for
 * streams we no longer follow: HPACK state is per connection, and skipping
 * a block would leave our dynamic table out of step with the peer's.
 *
 * Where RFC 9113 allows a stream error we mostly end the connection
 * instead: this client runs one request at a time per connection, so the
 * difference is only which error the caller sees, and the next call dials
 * a fresh connection either way.
 */
#include "cri/h2.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "cri/hpack.h"

/* RFC 9113 3.4: the client connection preface. */
static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

enum {
	H2_DATA = 0x0,
	H2_HEADERS = 0x1,
	H2_PRIORITY = 0x2,
	H2_RST_STREAM = 0x3,
	H2_SETTINGS = 0x4,
	H2_PUSH_PROMISE = 0x5,
	H2_PING = 0x6,
	H2_GOAWAY = 0x7,
	H2_WINDOW_UPDATE = 0x8,
	H2_CONTINUATION = 0x9,
};

enum {
	H2_FLAG_END_STREAM = 0x1,
	H2_FLAG_ACK = 0x1,
	H2_FLAG_END_HEADERS = 0x4,
	H2_FLAG_PADDED = 0x8,
	H2_FLAG_PRIORITY = 0x20,
};

enum {
	H2_SETTINGS_HEADER_TABLE_SIZE = 0x1,
	H2_SETTINGS_ENABLE_PUSH = 0x2,
	H2_SETTINGS_MAX_CONCURRENT_STREAMS = 0x3,
	H2_SETTINGS_INITIAL_WINDOW_SIZE = 0x4,
	H2_SETTINGS_MAX_FRAME_SIZE = 0x5,
	H2_SETTINGS_MAX_HEADER_LIST_SIZE = 0x6,
};

#define H2_FRAME_HEADER	   9
#define H2_DEFAULT_WINDOW  65535
#define H2_DEFAULT_FRAME   16384
#define H2_MAX_WINDOW	   0x7fffffffL
#define H2_MAX_FRAME_LIMIT 0xffffffu
#define H2_MAX_STREAM_ID   0x7fffffffu
/* Request DATA is moved to the output only while less than this waits. */
#define H2_OUTPUT_HIGH (128u << 10)
/* Largest DATA frame we send, whatever the peer allows. */
#define H2_MAX_SEND_FRAME (64u << 10)
/* Consumed output is moved down once this much of it has gone. */
#define H2_OUTPUT_COMPACT (64u << 10)

struct h2_stream {
	struct h2_stream *next;
	uint32_t id;
	void *user;
	/* the peer's window for our DATA: signed, SETTINGS can shrink it */
	int64_t send_window;
	/* what the peer may still send before we open more */
	int64_t recv_window;
	const uint8_t *body;
	size_t body_len, body_off;
	bool local_closed; /* END_STREAM sent */
	bool got_headers;
	bool abandoned; /* a callback refused it: reset once the block ends */
};

struct h2_conn {
	const struct h2_stream_ops *ops;
	struct hpack_decoder *hpack;
	struct base_buf out;
	size_t out_off;

	/* frame being read */
	uint8_t fh[H2_FRAME_HEADER];
	size_t fh_len;
	uint32_t f_len, f_stream;
	uint8_t f_type, f_flags;
	struct base_buf payload;

	/* header block being assembled */
	struct base_buf block;
	uint32_t block_stream;
	bool block_end_stream;
	bool in_block;

	/* the peer's settings */
	uint32_t peer_max_frame;
	int64_t peer_initial_window;
	uint32_t peer_max_streams;
	bool got_settings;

	int64_t send_window;
	int64_t recv_window;
	uint32_t next_id;
	bool goaway;
	int err;
	struct h2_stream *streams;
	size_t n_streams;
};

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int out_append(struct h2_conn *c, const void *p, size_t n)
{
	int r = base_buf_append(&c->out, p, n);

	return r == -E2BIG ? -ENOBUFS : r;
}

static int out_frame(struct h2_conn *c, uint8_t type, uint8_t flags, uint32_t id, const void *p,
		     size_t n)
{
	uint8_t h[H2_FRAME_HEADER];
	int r;

	h[0] = (uint8_t)(n >> 16);
	h[1] = (uint8_t)(n >> 8);
	h[2] = (uint8_t)n;
	h[3] = type;
	h[4] = flags;
	put_u32(h + 5, id & H2_MAX_STREAM_ID);
	r = base_buf_reserve(&c->out, sizeof(h) + n);
	if (r < 0)
		return r == -E2BIG ? -ENOBUFS : r;
	r = out_append(c, h, sizeof(h));
	if (r == 0 && n)
		r = out_append(c, p, n);
	return r;
}

static int out_u32_frame(struct h2_conn *c, uint8_t type, uint32_t id, uint32_t v)
{
	uint8_t p[4];

	put_u32(p, v);
	return out_frame(c, type, 0, id, p, sizeof(p));
}

/* Ends the connection: GOAWAY (best effort) and a sticky error. */
static int conn_fail(struct h2_conn *c, uint32_t code, int err)
{
	uint8_t p[8];

	if (c->err)
		return c->err;
	base_log_debug("h2: connection error 0x%x (frame type %u, stream %u)", code, c->f_type,
		       c->f_stream);
	/* we accept no streams from the server, so the last one is 0 */
	put_u32(p, 0);
	put_u32(p + 4, code);
	out_frame(c, H2_GOAWAY, 0, 0, p, sizeof(p));
	c->err = err;
	return err;
}

static int proto_error(struct h2_conn *c, uint32_t code)
{
	return conn_fail(c, code, -EPROTO);
}

int h2_conn_new(const struct h2_stream_ops *ops, struct h2_conn **ret)
{
	uint8_t settings[4 * 6];
	struct h2_conn *c;
	int r;
	static const struct {
		uint16_t id;
		uint32_t value;
	} ours[] = {
		{H2_SETTINGS_ENABLE_PUSH, 0},
		{H2_SETTINGS_INITIAL_WINDOW_SIZE, H2_RECV_WINDOW},
		{H2_SETTINGS_MAX_FRAME_SIZE, H2_MAX_FRAME_SIZE},
		{H2_SETTINGS_MAX_HEADER_LIST_SIZE, HPACK_MAX_HEADER_LIST},
	};
	size_t i;

	if (!ops || !ops->header || !ops->data || !ops->close || !ret)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ops = ops;
	c->out.max = H2_MAX_OUTPUT;
	c->payload.max = H2_MAX_FRAME_SIZE;
	c->block.max = H2_MAX_HEADER_BLOCK;
	c->peer_max_frame = H2_DEFAULT_FRAME;
	c->peer_initial_window = H2_DEFAULT_WINDOW;
	c->peer_max_streams = UINT32_MAX;
	c->send_window = H2_DEFAULT_WINDOW;
	c->recv_window = H2_RECV_WINDOW;
	c->next_id = 1;
	r = hpack_decoder_new(HPACK_DEFAULT_TABLE_SIZE, &c->hpack);
	if (r < 0)
		goto fail;
	for (i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
		settings[i * 6] = (uint8_t)(ours[i].id >> 8);
		settings[i * 6 + 1] = (uint8_t)ours[i].id;
		put_u32(settings + i * 6 + 2, ours[i].value);
	}
	r = out_append(c, h2_preface, sizeof(h2_preface) - 1);
	if (r == 0)
		r = out_frame(c, H2_SETTINGS, 0, 0, settings, sizeof(settings));
	/* the connection window is not a setting: open it explicitly */
	if (r == 0)
		r = out_u32_frame(c, H2_WINDOW_UPDATE, 0, H2_RECV_WINDOW - H2_DEFAULT_WINDOW);
	if (r < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	h2_conn_free(c);
	return r;
}

struct h2_conn *h2_conn_free(struct h2_conn *c)
{
	struct h2_stream *s;

	if (!c)
		return NULL;
	while ((s = c->streams)) {
		c->streams = s->next;
		free(s);
	}
	hpack_decoder_free(c->hpack);
	base_buf_done(&c->out);
	base_buf_done(&c->payload);
	base_buf_done(&c->block);
	free(c);
	return NULL;
}

bool h2_conn_usable(const struct h2_conn *c)
{
	return c && !c->err && !c->goaway && c->next_id <= H2_MAX_STREAM_ID;
}

size_t h2_conn_streams(const struct h2_conn *c)
{
	return c ? c->n_streams : 0;
}

const uint8_t *h2_conn_output(struct h2_conn *c, size_t *ret_len)
{
	if (!c || !ret_len)
		return NULL;
	*ret_len = c->out.len - c->out_off;
	return (const uint8_t *)c->out.data + c->out_off;
}

static struct h2_stream *stream_find(struct h2_conn *c, uint32_t id)
{
	struct h2_stream *s;

	for (s = c->streams; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

/* A stream the server names that we never opened. */
static bool stream_idle(const struct h2_conn *c, uint32_t id)
{
	return !(id & 1) || id >= c->next_id;
}

static void stream_unlink(struct h2_conn *c, struct h2_stream *s)
{
	struct h2_stream **pp;

	for (pp = &c->streams; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			c->n_streams--;
			return;
		}
	}
}

/* Resets s with code; reports it to the owner when report is set. */
static int stream_reset(struct h2_conn *c, struct h2_stream *s, uint32_t code, bool report)
{
	int r = out_u32_frame(c, H2_RST_STREAM, s->id, code);

	stream_unlink(c, s);
	if (report)
		c->ops->close(s->user, true, code);
	free(s);
	return r < 0 ? conn_fail(c, H2_INTERNAL_ERROR, r) : 0;
}

/* The peer ended its side: the response is complete. */
static int stream_remote_end(struct h2_conn *c, struct h2_stream *s)
{
	int r = 0;

	/* a response that came before our request ended: stop sending */
	if (!s->local_closed)
		r = out_u32_frame(c, H2_RST_STREAM, s->id, H2_CANCEL);
	stream_unlink(c, s);
	c->ops->close(s->user, false, H2_NO_ERROR);
	free(s);
	return r < 0 ? conn_fail(c, H2_INTERNAL_ERROR, r) : 0;
}

/* Moves request DATA to the output as far as the windows allow. */
static int pump(struct h2_conn *c)
{
	struct h2_stream *s;
	int r;

	for (s = c->streams; s; s = s->next) {
		while (!s->local_closed) {
			size_t n = s->body_len - s->body_off;
			int64_t w =
				c->send_window < s->send_window ? c->send_window : s->send_window;
			size_t max = c->peer_max_frame < H2_MAX_SEND_FRAME ? c->peer_max_frame
									   : H2_MAX_SEND_FRAME;
			uint8_t flags = 0;

			if (c->out.len - c->out_off >= H2_OUTPUT_HIGH)
				return 0;
			if (w <= 0)
				break;
			if (n > max)
				n = max;
			if ((int64_t)n > w)
				n = (size_t)w;
			if (s->body_off + n == s->body_len)
				flags = H2_FLAG_END_STREAM;
			r = out_frame(c, H2_DATA, flags, s->id, s->body + s->body_off, n);
			if (r < 0)
				return conn_fail(c, H2_INTERNAL_ERROR, r);
			s->body_off += n;
			s->send_window -= (int64_t)n;
			c->send_window -= (int64_t)n;
			s->local_closed = flags & H2_FLAG_END_STREAM;
		}
	}
	return 0;
}

void h2_conn_output_done(struct h2_conn *c, size_t n)
{
	if (!c)
		return;
	if (n > c->out.len - c->out_off)
		n = c->out.len - c->out_off;
	c->out_off += n;
	if (c->out_off == c->out.len) {
		base_buf_reset(&c->out);
		c->out_off = 0;
	} else if (c->out_off >= H2_OUTPUT_COMPACT) {
		memmove(c->out.data, c->out.data + c->out_off, c->out.len - c->out_off);
		c->out.len -= c->out_off;
		c->out.data[c->out.len] = '\0';
		c->out_off = 0;
	}
	if (!c->err)
		pump(c);
}

int h2_conn_submit(struct h2_conn *c, const struct h2_header *hdrs, size_t n_hdrs,
		   const uint8_t *body, size_t body_len, void *user, uint32_t *ret_id)
{
	struct base_buf block = BASE_BUF_INIT(H2_MAX_HEADER_BLOCK);
	struct h2_stream *s = NULL, **pp;
	size_t i, off = 0, max;
	int r;

	if (!c || (!hdrs && n_hdrs) || (!body && body_len) || !ret_id)
		return -EINVAL;
	if (c->err)
		return c->err;
	if (!h2_conn_usable(c) || c->n_streams >= H2_MAX_STREAMS ||
	    c->n_streams >= c->peer_max_streams)
		return -EAGAIN;
	for (i = 0; i < n_hdrs; i++) {
		r = hpack_encode_field(&block, hdrs[i].name, hdrs[i].value);
		if (r < 0)
			goto out;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		r = -ENOMEM;
		goto out;
	}
	s->id = c->next_id;
	s->user = user;
	s->send_window = c->peer_initial_window;
	s->recv_window = H2_RECV_WINDOW;
	s->body = body;
	s->body_len = body_len;
	s->local_closed = body_len == 0;
	/* HEADERS, then CONTINUATION for what does not fit in one frame */
	max = c->peer_max_frame;
	do {
		size_t n = block.len - off > max ? max : block.len - off;
		uint8_t flags = 0;

		if (off + n == block.len)
			flags |= H2_FLAG_END_HEADERS;
		if (off == 0 && !body_len)
			flags |= H2_FLAG_END_STREAM;
		r = out_frame(c, off == 0 ? H2_HEADERS : H2_CONTINUATION, flags, s->id,
			      block.data + off, n);
		if (r < 0) {
			/* a half-written header block breaks the connection */
			r = conn_fail(c, H2_INTERNAL_ERROR, r);
			goto out;
		}
		off += n;
	} while (off < block.len);
	c->next_id += 2;
	for (pp = &c->streams; *pp; pp = &(*pp)->next)
		;
	*pp = s;
	c->n_streams++;
	*ret_id = s->id;
	s = NULL;
	r = pump(c);
out:
	free(s);
	base_buf_done(&block);
	return r;
}

int h2_conn_cancel(struct h2_conn *c, uint32_t id)
{
	struct h2_stream *s;

	if (!c)
		return -EINVAL;
	s = stream_find(c, id);
	if (!s)
		return -ENOENT;
	return stream_reset(c, s, H2_CANCEL, false);
}

/* Opens our receive windows again once half of them is used. */
static int credit(struct h2_conn *c, struct h2_stream *s)
{
	int r = 0;

	if (c->recv_window <= H2_RECV_WINDOW / 2) {
		r = out_u32_frame(c, H2_WINDOW_UPDATE, 0,
				  (uint32_t)(H2_RECV_WINDOW - c->recv_window));
		c->recv_window = H2_RECV_WINDOW;
	}
	if (r == 0 && s && s->recv_window <= H2_RECV_WINDOW / 2) {
		r = out_u32_frame(c, H2_WINDOW_UPDATE, s->id,
				  (uint32_t)(H2_RECV_WINDOW - s->recv_window));
		s->recv_window = H2_RECV_WINDOW;
	}
	return r < 0 ? conn_fail(c, H2_INTERNAL_ERROR, r) : 0;
}

/* Strips padding (RFC 9113 6.1): *p and *n become the content. */
static int unpad(struct h2_conn *c, const uint8_t **p, size_t *n)
{
	uint8_t pad;

	if (!(c->f_flags & H2_FLAG_PADDED))
		return 0;
	if (*n < 1)
		return proto_error(c, H2_FRAME_SIZE_ERROR);
	pad = (*p)[0];
	if ((size_t)pad >= *n)
		return proto_error(c, H2_PROTOCOL_ERROR);
	*p += 1;
	*n -= 1 + pad;
	return 0;
}

static int on_data(struct h2_conn *c, const uint8_t *p, size_t n)
{
	struct h2_stream *s;
	int r;

	if (c->f_stream == 0 || stream_idle(c, c->f_stream))
		return proto_error(c, H2_PROTOCOL_ERROR);
	/* flow control counts the whole payload, padding included */
	if ((int64_t)c->f_len > c->recv_window)
		return proto_error(c, H2_FLOW_CONTROL_ERROR);
	c->recv_window -= c->f_len;
	r = unpad(c, &p, &n);
	if (r < 0)
		return r;
	s = stream_find(c, c->f_stream);
	if (!s) /* a stream we reset: its data may still be on the way */
		return credit(c, NULL);
	if ((int64_t)c->f_len > s->recv_window)
		return proto_error(c, H2_FLOW_CONTROL_ERROR);
	s->recv_window -= c->f_len;
	if (!s->got_headers)
		return stream_reset(c, s, H2_PROTOCOL_ERROR, true);
	if (n && c->ops->data(s->user, p, n) < 0)
		return stream_reset(c, s, H2_CANCEL, false);
	if (c->f_flags & H2_FLAG_END_STREAM) {
		r = credit(c, NULL);
		return r < 0 ? r : stream_remote_end(c, s);
	}
	return credit(c, s);
}

struct block_ctx {
	struct h2_conn *c;
	struct h2_stream *s;
};

static int block_field(void *ctx, const char *name, size_t name_len, const char *value,
		       size_t value_len)
{
	struct block_ctx *b = ctx;

	if (b->s && !b->s->abandoned &&
	    b->c->ops->header(b->s->user, name, name_len, value, value_len) < 0)
		b->s->abandoned = true;
	return 0;
}

static int block_done(struct h2_conn *c)
{
	struct block_ctx ctx = {.c = c, .s = stream_find(c, c->block_stream)};
	int r;

	c->in_block = false;
	r = hpack_decoder_block(c->hpack, (const uint8_t *)c->block.data, c->block.len, block_field,
				&ctx);
	base_buf_reset(&c->block);
	if (r == -ENOMEM)
		return conn_fail(c, H2_INTERNAL_ERROR, r);
	if (r < 0)
		return proto_error(c, H2_COMPRESSION_ERROR);
	if (!ctx.s)
		return 0;
	if (ctx.s->abandoned)
		return stream_reset(c, ctx.s, H2_CANCEL, false);
	ctx.s->got_headers = true;
	if (c->block_end_stream)
		return stream_remote_end(c, ctx.s);
	return 0;
}

static int block_add(struct h2_conn *c, const uint8_t *p, size_t n)
{
	int r = base_buf_append(&c->block, p, n);

	if (r == -E2BIG)
		return proto_error(c, H2_ENHANCE_YOUR_CALM);
	if (r < 0)
		return conn_fail(c, H2_INTERNAL_ERROR, r);
	if (c->f_flags & H2_FLAG_END_HEADERS)
		return block_done(c);
	c->in_block = true;
	return 0;
}

static int on_headers(struct h2_conn *c, const uint8_t *p, size_t n)
{
	int r;

	if (c->f_stream == 0 || stream_idle(c, c->f_stream))
		return proto_error(c, H2_PROTOCOL_ERROR);
	r = unpad(c, &p, &n);
	if (r < 0)
		return r;
	if (c->f_flags & H2_FLAG_PRIORITY) {
		if (n < 5)
			return proto_error(c, H2_FRAME_SIZE_ERROR);
		p += 5;
		n -= 5;
	}
	c->block_stream = c->f_stream;
	c->block_end_stream = c->f_flags & H2_FLAG_END_STREAM;
	return block_add(c, p, n);
}

static int on_continuation(struct h2_conn *c, const uint8_t *p, size_t n)
{
	if (!c->in_block || c->f_stream != c->block_stream)
		return proto_error(c, H2_PROTOCOL_ERROR);
	return block_add(c, p, n);
}

static int on_rst_stream(struct h2_conn *c, const uint8_t *p, size_t n)
{
	struct h2_stream *s;

	if (c->f_stream == 0 || stream_idle(c, c->f_stream))
		return proto_error(c, H2_PROTOCOL_ERROR);
	if (n != 4)
		return proto_error(c, H2_FRAME_SIZE_ERROR);
	s = stream_find(c, c->f_stream);
	if (s) {
		stream_unlink(c, s);
		c->ops->close(s->user, true, get_u32(p));
		free(s);
	}
	return 0;
}

static int apply_setting(struct h2_conn *c, uint16_t id, uint32_t v)
{
	struct h2_stream *s;
	int64_t delta;

	switch (id) {
	case H2_SETTINGS_ENABLE_PUSH:
		if (v > 1)
			return proto_error(c, H2_PROTOCOL_ERROR);
		break;
	case H2_SETTINGS_MAX_CONCURRENT_STREAMS:
		c->peer_max_streams = v;
		break;
	case H2_SETTINGS_INITIAL_WINDOW_SIZE:
		if (v > H2_MAX_WINDOW)
			return proto_error(c, H2_FLOW_CONTROL_ERROR);
		/* RFC 9113 6.9.2: open streams' windows move by the difference */
		delta = (int64_t)v - c->peer_initial_window;
		for (s = c->streams; s; s = s->next) {
			if (s->send_window + delta > H2_MAX_WINDOW)
				return proto_error(c, H2_FLOW_CONTROL_ERROR);
			s->send_window += delta;
		}
		c->peer_initial_window = v;
		break;
	case H2_SETTINGS_MAX_FRAME_SIZE:
		if (v < H2_DEFAULT_FRAME || v > H2_MAX_FRAME_LIMIT)
			return proto_error(c, H2_PROTOCOL_ERROR);
		c->peer_max_frame = v;
		break;
	default:
		/*
		 * HEADER_TABLE_SIZE: our encoder never indexes.
		 * MAX_HEADER_LIST_SIZE: our requests are small.  Others:
		 * unknown settings are ignored (RFC 9113 6.5.2).
		 */
		break;
	}
	return 0;
}

static int on_settings(struct h2_conn *c, const uint8_t *p, size_t n)
{
	size_t i;
	int r;

	if (c->f_stream != 0)
		return proto_error(c, H2_PROTOCOL_ERROR);
	if (c->f_flags & H2_FLAG_ACK)
		return n ? proto_error(c, H2_FRAME_SIZE_ERROR) : 0;
	if (n % 6)
		return proto_error(c, H2_FRAME_SIZE_ERROR);
	for (i = 0; i < n; i += 6) {
		r = apply_setting(c, (uint16_t)(p[i] << 8 | p[i + 1]), get_u32(p + i + 2));
		if (r < 0)
			return r;
	}
	c->got_settings = true;
	r = out_frame(c, H2_SETTINGS, H2_FLAG_ACK, 0, NULL, 0);
	return r < 0 ? conn_fail(c, H2_INTERNAL_ERROR, r) : 0;
}

static int on_ping(struct h2_conn *c, const uint8_t *p, size_t n)
{
	int r;

	if (c->f_stream != 0)
		return proto_error(c, H2_PROTOCOL_ERROR);
	if (n != 8)
		return proto_error(c, H2_FRAME_SIZE_ERROR);
	if (c->f_flags & H2_FLAG_ACK)
		return 0;
	r = out_frame(c, H2_PING, H2_FLAG_ACK, 0, p, n);
	return r < 0 ? conn_fail(c, H2_INTERNAL_ERROR, r) : 0;
}

static int on_goaway(struct h2_conn *c, const uint8_t *p, size_t n)
{
	struct h2_stream *s, *next;
	uint32_t last;

	if (c->f_stream != 0)
		return proto_error(c, H2_PROTOCOL_ERROR);
	if (n < 8)
		return proto_error(c, H2_FRAME_SIZE_ERROR);
	last = get_u32(p) & H2_MAX_STREAM_ID;
	base_log_debug("h2: GOAWAY last stream %u, error 0x%x", last, get_u32(p + 4));
	c->goaway = true;
	/* streams the server never processed: safe to send elsewhere */
	for (s = c->streams; s; s = next) {
		next = s->next;
		if (s->id > last) {
			stream_unlink(c, s);
			c->ops->close(s->user, true, H2_REFUSED_STREAM);
			free(s);
		}
	}
	return 0;
}

static int on_window_update(struct h2_conn *c, const uint8_t *p, size_t n)
{
	struct h2_stream *s;
	uint32_t inc;

	if (n != 4)
		return proto_error(c, H2_FRAME_SIZE_ERROR);
	inc = get_u32(p) & 0x7fffffffu;
	if (inc == 0)
		return proto_error(c, H2_PROTOCOL_ERROR);
	if (c->f_stream == 0) {
		if (c->send_window + inc > H2_MAX_WINDOW)
			return proto_error(c, H2_FLOW_CONTROL_ERROR);
		c->send_window += inc;
		return 0;
	}
	if (stream_idle(c, c->f_stream))
		return proto_error(c, H2_PROTOCOL_ERROR);
	s = stream_find(c, c->f_stream);
	if (!s)
		return 0;
	if (s->send_window + inc > H2_MAX_WINDOW)
		return stream_reset(c, s, H2_FLOW_CONTROL_ERROR, true);
	s->send_window += inc;
	return 0;
}

static int frame_dispatch(struct h2_conn *c)
{
	const uint8_t *p = (const uint8_t *)c->payload.data;
	size_t n = c->f_len;

	/* RFC 9113 3.4: the server's preface is a SETTINGS frame */
	if (!c->got_settings && (c->f_type != H2_SETTINGS || (c->f_flags & H2_FLAG_ACK)))
		return proto_error(c, H2_PROTOCOL_ERROR);
	/* RFC 9113 6.10: nothing may come between a block's frames */
	if (c->in_block && c->f_type != H2_CONTINUATION)
		return proto_error(c, H2_PROTOCOL_ERROR);
	switch (c->f_type) {
	case H2_DATA:
		return on_data(c, p, n);
	case H2_HEADERS:
		return on_headers(c, p, n);
	case H2_PRIORITY:
		if (c->f_stream == 0)
			return proto_error(c, H2_PROTOCOL_ERROR);
		return n == 5 ? 0 : proto_error(c, H2_FRAME_SIZE_ERROR);
	case H2_RST_STREAM:
		return on_rst_stream(c, p, n);
	case H2_SETTINGS:
		return on_settings(c, p, n);
	case H2_PUSH_PROMISE: /* we sent ENABLE_PUSH 0 */
		return proto_error(c, H2_PROTOCOL_ERROR);
	case H2_PING:
		return on_ping(c, p, n);
	case H2_GOAWAY:
		return on_goaway(c, p, n);
	case H2_WINDOW_UPDATE:
		return on_window_update(c, p, n);
	case H2_CONTINUATION:
		return on_continuation(c, p, n);
	default: /* RFC 9113 4.1: unknown types are ignored */
		return 0;
	}
}

int h2_conn_feed(struct h2_conn *c, const uint8_t *buf, size_t len)
{
	size_t take;
	int r;

	if (!c || (!buf && len))
		return -EINVAL;
	while (len && !c->err) {
		if (c->fh_len < H2_FRAME_HEADER) {
			take = H2_FRAME_HEADER - c->fh_len;
			if (take > len)
				take = len;
			memcpy(c->fh + c->fh_len, buf, take);
			c->fh_len += take;
			buf += take;
			len -= take;
			if (c->fh_len < H2_FRAME_HEADER)
				break;
			c->f_len = (uint32_t)c->fh[0] << 16 | (uint32_t)c->fh[1] << 8 | c->fh[2];
			c->f_type = c->fh[3];
			c->f_flags = c->fh[4];
			c->f_stream = get_u32(c->fh + 5) & H2_MAX_STREAM_ID;
			if (c->f_len > H2_MAX_FRAME_SIZE)
				return proto_error(c, H2_FRAME_SIZE_ERROR);
			base_buf_reset(&c->payload);
			r = base_buf_reserve(&c->payload, c->f_len);
			if (r < 0)
				return conn_fail(c, H2_INTERNAL_ERROR, r);
		}
		take = c->f_len - c->payload.len;
		if (take > len)
			take = len;
		if (take) {
			memcpy(c->payload.data + c->payload.len, buf, take);
			c->payload.len += take;
			buf += take;
			len -= take;
		}
		if (c->payload.len < c->f_len)
			break;
		c->fh_len = 0;
		r = frame_dispatch(c);
		if (r < 0)
			return r;
	}
	if (c->err)
		return c->err;
	return pump(c);
}
