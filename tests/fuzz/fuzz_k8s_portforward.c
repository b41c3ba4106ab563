// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for the pods/portforward channel demultiplexer
 * (k8s/portforward.c), which reads frames from the API server.
 *
 * The input is a sequence of messages, each a length byte and that many
 * bytes.  They are fed whole and again one byte per piece; both ways must
 * give the same payload per channel and the same verdict, every piece's
 * payload must lie inside the piece, and an error must stick.  Any broken
 * promise aborts so that the fuzzer records it.
 */
#include "k8s/portforward.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_out {
	uint64_t hash[2];
	size_t len[2];
	int r;
};

static void fuzz_piece(struct k8s_portforward_demux *d, const uint8_t *p, size_t n, bool start,
		       struct fuzz_out *o)
{
	struct k8s_portforward_piece piece;
	int r;

	if (o->r < 0)
		return;
	r = k8s_portforward_demux_feed(d, p, n, start, &piece);
	if (r < 0) {
		o->r = r;
		if (k8s_portforward_demux_feed(d, p, n, true, &piece) != r || piece.len)
			abort();
		return;
	}
	if (piece.len > n || (piece.len && (piece.data < p || piece.data + piece.len > p + n)))
		abort();
	if (piece.channel != K8S_PORTFORWARD_CHANNEL_DATA &&
	    piece.channel != K8S_PORTFORWARD_CHANNEL_ERROR)
		abort();
	for (size_t i = 0; i < piece.len; i++)
		o->hash[piece.channel] = o->hash[piece.channel] * 131 + piece.data[i] + 1;
	o->len[piece.channel] += piece.len;
}

static void fuzz_run(const uint8_t *data, size_t size, bool bytewise, struct fuzz_out *o)
{
	struct k8s_portforward_demux d;
	size_t off = 1;

	memset(o, 0, sizeof(*o));
	k8s_portforward_demux_init(&d, size ? (uint16_t)(data[0] * 257) : 0);
	while (off < size) {
		size_t n = data[off++];

		if (n > size - off)
			n = size - off;
		if (!bytewise) {
			fuzz_piece(&d, data + off, n, true, o);
		} else {
			fuzz_piece(&d, data + off, 0, true, o);
			for (size_t i = 0; i < n; i++)
				fuzz_piece(&d, data + off + i, 1, false, o);
		}
		off += n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_out a, b;

	fuzz_run(data, size, false, &a);
	fuzz_run(data, size, true, &b);
	if (a.r != b.r)
		abort();
	if (a.r == 0 && memcmp(&a, &b, sizeof(a)))
		abort();
	return 0;
}
