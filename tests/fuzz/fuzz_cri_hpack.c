// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for the HPACK decoder (cri/hpack.c), which reads what a
 * container runtime's HTTP/2 server sends.
 *
 *   byte 0 even: the rest is one Huffman string
 *   byte 0 odd:  byte 1 sets the table size (x 64), then blocks follow, each
 *                as a length byte and that many bytes, all through one
 *                decoder so the dynamic table carries over between blocks
 *
 * Beyond not crashing: Huffman output is at most 8/5 of its input, fields
 * stay within the header list bound, the table within its size, every
 * dynamic entry can be read back, and a decoded block re-encoded by our
 * encoder decodes to the same fields.  A broken promise aborts.
 */
#include "cri/hpack.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_FIELDS 64

struct seen {
	size_t n;
	size_t total;
	bool has_nul;
	char *name[FUZZ_MAX_FIELDS];
	char *value[FUZZ_MAX_FIELDS];
};

static int on_field(void *ctx, const char *name, size_t nl, const char *value, size_t vl)
{
	struct seen *s = ctx;

	if (name[nl] != '\0' || value[vl] != '\0')
		abort();
	s->total += nl + vl + 32;
	if (s->total > HPACK_MAX_HEADER_LIST)
		abort();
	if (memchr(name, '\0', nl) || memchr(value, '\0', vl))
		s->has_nul = true;
	if (s->n < FUZZ_MAX_FIELDS) {
		s->name[s->n] = strndup(name, nl);
		s->value[s->n] = strndup(value, vl);
		if (!s->name[s->n] || !s->value[s->n])
			abort();
		s->n++;
	}
	return 0;
}

static void seen_clear(struct seen *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->name[i]);
		free(s->value[i]);
	}
	memset(s, 0, sizeof(*s));
}

/* Our encoder's output for the fields decodes to the same fields. */
static void round_trip(const struct seen *s)
{
	struct base_buf out = BASE_BUF_INIT(4 * HPACK_MAX_HEADER_LIST);
	struct hpack_decoder *d;
	struct seen again = {0};
	size_t i;

	if (s->has_nul || s->n >= FUZZ_MAX_FIELDS)
		return;
	for (i = 0; i < s->n; i++)
		if (hpack_encode_field(&out, s->name[i], s->value[i]))
			abort();
	if (hpack_decoder_new(HPACK_DEFAULT_TABLE_SIZE, &d))
		abort();
	if (hpack_decoder_block(d, (const uint8_t *)out.data, out.len, on_field, &again))
		abort();
	if (again.n != s->n)
		abort();
	for (i = 0; i < s->n; i++)
		if (strcmp(again.name[i], s->name[i]) || strcmp(again.value[i], s->value[i]))
			abort();
	seen_clear(&again);
	hpack_decoder_free(d);
	base_buf_done(&out);
}

static void check_table(const struct hpack_decoder *d, size_t limit)
{
	const char *name, *value;
	size_t nl, vl, i, sum = 0;

	if (hpack_decoder_table_size(d) > limit)
		abort();
	for (i = 0; i < hpack_decoder_table_len(d); i++) {
		if (hpack_decoder_entry(d, HPACK_STATIC_ENTRIES + 1 + i, &name, &nl, &value, &vl))
			abort();
		sum += nl + vl + 32;
	}
	if (sum != hpack_decoder_table_size(d))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hpack_decoder *d;
	size_t limit, off, n;

	if (size < 1)
		return 0;
	if (!(data[0] & 1)) {
		struct base_buf out = BASE_BUF_INIT(0);

		if (hpack_huffman_decode(data + 1, size - 1, &out) == 0 &&
		    out.len * 5 > (size - 1) * 8)
			abort();
		base_buf_done(&out);
		return 0;
	}
	if (size < 2)
		return 0;
	limit = (size_t)data[1] * 64;
	if (hpack_decoder_new(limit, &d))
		abort();
	for (off = 2; off < size; off += n) {
		struct seen s = {0};
		int r;

		n = data[off++];
		if (n > size - off)
			n = size - off;
		r = hpack_decoder_block(d, data + off, n, on_field, &s);
		if (r == 0)
			round_trip(&s);
		seen_clear(&s);
		check_table(d, limit);
		if (r)
			break;
	}
	hpack_decoder_free(d);
	return 0;
}
