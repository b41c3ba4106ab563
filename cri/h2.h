/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client side of one HTTP/2 connection (RFC 9113), without the socket.
 *
 * The connection is a state machine between two byte streams: bytes read
 * from the peer go in with h2_conn_feed(), bytes to write come out of
 * h2_conn_output() (and are acknowledged with h2_conn_output_done()).  The
 * owner does the I/O, the polling and the deadlines; this keeps the frame
 * parser testable and fuzzable from memory.
 *
 * What it does: the client preface and SETTINGS (no server push, a large
 * receive window, bounded frame and header list sizes), SETTINGS/PING
 * acknowledgements, HEADERS with CONTINUATION decoded through HPACK, DATA
 * with padding, flow control both ways (the peer's windows are honoured
 * when sending; ours are re-opened with WINDOW_UPDATE as data is handed
 * over), RST_STREAM, GOAWAY.  Unknown frame types are ignored.  Any
 * protocol violation ends the connection with a GOAWAY and -EPROTO.
 *
 * Streams are client-initiated requests.  Their responses arrive through
 * the callbacks of struct h2_stream_ops, called from inside h2_conn_feed().
 */
#ifndef CRI_H2_H
#define CRI_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest frame payload we accept (our SETTINGS_MAX_FRAME_SIZE). */
#define H2_MAX_FRAME_SIZE (64u << 10)
/* Largest header block (HEADERS plus CONTINUATION fragments) we assemble. */
#define H2_MAX_HEADER_BLOCK (64u << 10)
/* Our SETTINGS_INITIAL_WINDOW_SIZE, and the connection window we open. */
#define H2_RECV_WINDOW (8u << 20)
/* Streams one connection keeps open at a time. */
#define H2_MAX_STREAMS 16
/*
 * Output a peer can make us queue without reading it (acknowledgements of
 * a PING or SETTINGS flood): past it the connection fails with -ENOBUFS.
 */
#define H2_MAX_OUTPUT (1u << 20)

/* Error codes of RFC 9113 section 7, as carried by RST_STREAM and GOAWAY. */
enum h2_error {
	H2_NO_ERROR = 0x0,
	H2_PROTOCOL_ERROR = 0x1,
	H2_INTERNAL_ERROR = 0x2,
	H2_FLOW_CONTROL_ERROR = 0x3,
	H2_SETTINGS_TIMEOUT = 0x4,
	H2_STREAM_CLOSED = 0x5,
	H2_FRAME_SIZE_ERROR = 0x6,
	H2_REFUSED_STREAM = 0x7,
	H2_CANCEL = 0x8,
	H2_COMPRESSION_ERROR = 0x9,
	H2_CONNECT_ERROR = 0xa,
	H2_ENHANCE_YOUR_CALM = 0xb,
	H2_INADEQUATE_SECURITY = 0xc,
	H2_HTTP_1_1_REQUIRED = 0xd,
};

struct h2_conn;

struct h2_header {
	const char *name; /* lower case, as HTTP/2 requires */
	const char *value;
};

/*
 * What a stream reports.  user is the pointer given to h2_conn_submit().
 * A negative return from header() or data() abandons the stream: it is
 * reset with CANCEL and reports nothing more (the connection goes on).
 */
struct h2_stream_ops {
	/* One field of a HEADERS block (response headers or trailers). */
	int (*header)(void *user, const char *name, size_t name_len, const char *value,
		      size_t value_len);
	/* Payload of a DATA frame, padding removed. */
	int (*data)(void *user, const uint8_t *buf, size_t len);
	/*
	 * The stream is over: reset false when the peer ended it
	 * (END_STREAM), true with the RST_STREAM error code when it reset it,
	 * or with H2_REFUSED_STREAM when a GOAWAY said it was never processed.
	 */
	void (*close)(void *user, bool reset, uint32_t code);
};

/*
 * A new connection; its output already holds the client preface, our
 * SETTINGS and the connection WINDOW_UPDATE.  ops is borrowed for the
 * connection's life.  Free with h2_conn_free() (no callbacks are made).
 */
int h2_conn_new(const struct h2_stream_ops *ops, struct h2_conn **ret);
struct h2_conn *h2_conn_free(struct h2_conn *c);

/*
 * Starts a request: HEADERS (and CONTINUATION) with the given fields, then
 * body as DATA frames as far as the peer's windows allow (the rest goes out
 * as they open).  body is borrowed until the stream closes or is cancelled;
 * body_len 0 ends the stream with the HEADERS frame.  Returns 0 and the
 * stream id; -EAGAIN when the connection takes no new streams (GOAWAY, ids
 * used up, the peer's stream limit reached), -EPROTO once it has failed.
 */
int h2_conn_submit(struct h2_conn *c, const struct h2_header *hdrs, size_t n_hdrs,
		   const uint8_t *body, size_t body_len, void *user, uint32_t *ret_id);
/* Resets a stream with CANCEL; it reports nothing more.  -ENOENT if gone. */
int h2_conn_cancel(struct h2_conn *c, uint32_t id);

/*
 * Processes bytes received from the peer, making the callbacks.  0, or a
 * negative errno once the connection has failed (-EPROTO for a protocol
 * violation, -ENOBUFS, -ENOMEM); a failed connection queues its GOAWAY and
 * keeps returning the same error.
 */
int h2_conn_feed(struct h2_conn *c, const uint8_t *buf, size_t len);

/* The bytes waiting to be written (borrowed; valid until the next call). */
const uint8_t *h2_conn_output(struct h2_conn *c, size_t *ret_len);
/* n bytes of the output were written; more request DATA may follow. */
void h2_conn_output_done(struct h2_conn *c, size_t n);

/* False once the connection failed, got a GOAWAY or used up stream ids. */
bool h2_conn_usable(const struct h2_conn *c);
/* Streams currently open. */
size_t h2_conn_streams(const struct h2_conn *c);

#endif /* CRI_H2_H */
