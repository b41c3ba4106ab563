// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for the HTTP/2 client connection (cri/h2.c): the bytes
 * are what the server sends after our requests.
 *
 *   byte 0: bit 0 prepends an empty SETTINGS frame (the server preface, so
 *           inputs need not find it), bits 1-3 pick the feed chunk size,
 *           bit 4 opens a second stream, bit 5 sends a request body larger
 *           than the initial window
 *
 * The output is drained between chunks.  Beyond not crashing: no stream
 * reports after its close, a stream closes at most once, reported data never
 * exceeds the input, a failed connection stays failed, and the stream count
 * never exceeds H2_MAX_STREAMS.  A broken promise aborts.
 */
#include "cri/h2.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_stream {
	bool closed;
	size_t data;
};

static int on_header(void *user, const char *name, size_t nl, const char *value, size_t vl)
{
	struct fuzz_stream *s = user;

	if (s->closed)
		abort();
	return nl == 4 && !memcmp(name, "kill", 4) ? -1 : 0;
}

static int on_data(void *user, const uint8_t *buf, size_t len)
{
	struct fuzz_stream *s = user;

	if (s->closed || !len)
		abort();
	s->data += len;
	return len == 13 ? -1 : 0;
}

static void on_close(void *user, bool reset, uint32_t code)
{
	struct fuzz_stream *s = user;

	if (s->closed)
		abort();
	s->closed = true;
}

static const struct h2_stream_ops fuzz_ops = {
	.header = on_header,
	.data = on_data,
	.close = on_close,
};

static void drain(struct h2_conn *c)
{
	size_t n;

	while (h2_conn_output(c, &n) && n)
		h2_conn_output_done(c, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t settings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
	static const struct h2_header hdrs[] = {
		{":method", "POST"},
		{":scheme", "http"},
		{":path", "/fuzz/Method"},
		{":authority", "localhost"},
		{"content-type", "application/grpc"},
	};
	static const size_t chunks[8] = {1, 2, 3, 7, 9, 64, 1000, SIZE_MAX};
	static uint8_t body[100000];
	struct fuzz_stream s1 = {0}, s2 = {0};
	struct h2_conn *c;
	size_t off, chunk;
	uint32_t id;
	int r = 0, first_err = 0;

	if (size < 1)
		return 0;
	if (h2_conn_new(&fuzz_ops, &c))
		abort();
	if (h2_conn_submit(c, hdrs, 5, body, data[0] & 0x20 ? sizeof(body) : 5, &s1, &id))
		abort();
	if ((data[0] & 0x10) && h2_conn_submit(c, hdrs, 5, NULL, 0, &s2, &id))
		abort();
	chunk = chunks[(data[0] >> 1) & 7];
	if (data[0] & 1)
		r = h2_conn_feed(c, settings, sizeof(settings));
	drain(c);
	for (off = 1; off < size && r == 0; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;

		r = h2_conn_feed(c, data + off, n);
		if (r < 0)
			first_err = r;
		if (h2_conn_streams(c) > H2_MAX_STREAMS)
			abort();
		drain(c);
	}
	if (s1.data + s2.data > size)
		abort();
	if (first_err) {
		if (h2_conn_usable(c) || h2_conn_feed(c, data, 1) != first_err)
			abort();
	}
	h2_conn_free(c);
	return 0;
}
