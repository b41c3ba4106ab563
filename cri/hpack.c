// SPDX-License-Identifier: Apache-2.0
/*
 * HPACK decoder and literal-only encoder.  See hpack.h.
 *
 * The Huffman code of RFC 7541 Appendix B is canonical: codes of one length
 * are consecutive and follow symbol order, and each length starts where the
 * previous one ended, shifted left.  So the table below only lists the
 * symbols by code length and the decoder walks the lengths bit by bit,
 * which needs no 257-entry code table and no tree.
 */
#include "cri/hpack.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Longest Huffman code (EOS and three control characters). */
#define HUFF_MAX_BITS 30
#define HUFF_EOS      256
/*
 * Integers above this are never valid here (sizes and indexes are far
 * smaller); it also keeps the shift in hpack_int() defined.
 */
#define HPACK_MAX_INT (1u << 24)

/* Symbols with a code of each length, 0..30 bits. */
static const uint8_t huff_count[HUFF_MAX_BITS + 1] = {
	0, 0, 0, 0, 0, 10, 26, 32, 6,  0, 5,  3,  2,  6, 2, 3,
	0, 0, 0, 3, 8, 13, 26, 29, 12, 4, 15, 19, 29, 0, 4,
};

/* The symbols ordered by code length, then by value: the canonical order. */
static const uint16_t huff_symbols[HUFF_EOS + 1] = {
	/* 5 bits: 0 1 2 a c e i o s t */
	48,
	49,
	50,
	97,
	99,
	101,
	105,
	111,
	115,
	116,
	/* 6 bits */
	32,
	37,
	45,
	46,
	47,
	51,
	52,
	53,
	54,
	55,
	56,
	57,
	61,
	65,
	95,
	98,
	100,
	102,
	103,
	104,
	108,
	109,
	110,
	112,
	114,
	117,
	/* 7 bits */
	58,
	66,
	67,
	68,
	69,
	70,
	71,
	72,
	73,
	74,
	75,
	76,
	77,
	78,
	79,
	80,
	81,
	82,
	83,
	84,
	85,
	86,
	87,
	89,
	106,
	107,
	113,
	118,
	119,
	120,
	121,
	122,
	/* 8 bits: & * , ; X Z */
	38,
	42,
	44,
	59,
	88,
	90,
	/* 10, 11, 12 bits */
	33,
	34,
	40,
	41,
	63,
	39,
	43,
	124,
	35,
	62,
	/* 13, 14, 15 bits */
	0,
	36,
	64,
	91,
	93,
	126,
	94,
	125,
	60,
	96,
	123,
	/* 19 bits */
	92,
	195,
	208,
	/* 20 bits */
	128,
	130,
	131,
	162,
	184,
	194,
	224,
	226,
	/* 21 bits */
	153,
	161,
	167,
	172,
	176,
	177,
	179,
	209,
	216,
	217,
	227,
	229,
	230,
	/* 22 bits */
	129,
	132,
	133,
	134,
	136,
	146,
	154,
	156,
	160,
	163,
	164,
	169,
	170,
	173,
	178,
	181,
	185,
	186,
	187,
	189,
	190,
	196,
	198,
	228,
	232,
	233,
	/* 23 bits */
	1,
	135,
	137,
	138,
	139,
	140,
	141,
	143,
	147,
	149,
	150,
	151,
	152,
	155,
	157,
	158,
	165,
	166,
	168,
	174,
	175,
	180,
	182,
	183,
	188,
	191,
	197,
	231,
	239,
	/* 24 bits */
	9,
	142,
	144,
	145,
	148,
	159,
	171,
	206,
	215,
	225,
	236,
	237,
	/* 25 bits */
	199,
	207,
	234,
	235,
	/* 26 bits */
	192,
	193,
	200,
	201,
	202,
	205,
	210,
	213,
	218,
	219,
	238,
	240,
	242,
	243,
	255,
	/* 27 bits */
	203,
	204,
	211,
	212,
	214,
	221,
	222,
	223,
	241,
	244,
	245,
	246,
	247,
	248,
	250,
	251,
	252,
	253,
	254,
	/* 28 bits */
	2,
	3,
	4,
	5,
	6,
	7,
	8,
	11,
	12,
	14,
	15,
	16,
	17,
	18,
	19,
	20,
	21,
	23,
	24,
	25,
	26,
	27,
	28,
	29,
	30,
	31,
	127,
	220,
	249,
	/* 30 bits: the last is EOS */
	10,
	13,
	22,
	HUFF_EOS,
};

struct hpack_static {
	const char *name;
	const char *value;
};

static const struct hpack_static hpack_static_table[HPACK_STATIC_ENTRIES] = {
	{":authority", ""},
	{":method", "GET"},
	{":method", "POST"},
	{":path", "/"},
	{":path", "/index.html"},
	{":scheme", "http"},
	{":scheme", "https"},
	{":status", "200"},
	{":status", "204"},
	{":status", "206"},
	{":status", "304"},
	{":status", "400"},
	{":status", "404"},
	{":status", "500"},
	{"accept-charset", ""},
	{"accept-encoding", "gzip, deflate"},
	{"accept-language", ""},
	{"accept-ranges", ""},
	{"accept", ""},
	{"access-control-allow-origin", ""},
	{"age", ""},
	{"allow", ""},
	{"authorization", ""},
	{"cache-control", ""},
	{"content-disposition", ""},
	{"content-encoding", ""},
	{"content-language", ""},
	{"content-length", ""},
	{"content-location", ""},
	{"content-range", ""},
	{"content-type", ""},
	{"cookie", ""},
	{"date", ""},
	{"etag", ""},
	{"expect", ""},
	{"expires", ""},
	{"from", ""},
	{"host", ""},
	{"if-match", ""},
	{"if-modified-since", ""},
	{"if-none-match", ""},
	{"if-range", ""},
	{"if-unmodified-since", ""},
	{"last-modified", ""},
	{"link", ""},
	{"location", ""},
	{"max-forwards", ""},
	{"proxy-authenticate", ""},
	{"proxy-authorization", ""},
	{"range", ""},
	{"referer", ""},
	{"refresh", ""},
	{"retry-after", ""},
	{"server", ""},
	{"set-cookie", ""},
	{"strict-transport-security", ""},
	{"transfer-encoding", ""},
	{"user-agent", ""},
	{"vary", ""},
	{"via", ""},
	{"www-authenticate", ""},
};

/* name and value, each NUL-terminated, in one allocation */
struct hpack_entry {
	size_t name_len;
	size_t value_len;
	char data[];
};

struct hpack_decoder {
	/* ring of entries, oldest at start; index 1 on the wire is the newest */
	struct hpack_entry **ring;
	size_t cap, start, count;
	size_t size;	 /* RFC 7541 4.1: sum of name + value + 32 */
	size_t max_size; /* set by size updates, at most limit */
	size_t limit;	 /* what our SETTINGS allow the peer */
	struct base_buf name, value;
};

/* RFC 7541 4.1: each entry costs 32 bytes more than its strings. */
static size_t entry_size(size_t name_len, size_t value_len)
{
	return name_len + value_len + 32;
}

int hpack_decoder_new(size_t max_table_size, struct hpack_decoder **ret)
{
	struct hpack_decoder *d;

	if (!ret || max_table_size > HPACK_MAX_TABLE_SIZE)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	/* an entry costs at least 32 bytes, so this many always fit */
	d->cap = max_table_size / 32 + 1;
	d->ring = calloc(d->cap, sizeof(*d->ring));
	if (!d->ring) {
		free(d);
		return -ENOMEM;
	}
	d->limit = max_table_size;
	d->max_size = max_table_size;
	/* a Huffman string decodes to at most 8/5 of its size, plus its NUL */
	d->name.max = HPACK_MAX_HEADER_LIST;
	d->value.max = HPACK_MAX_HEADER_LIST;
	*ret = d;
	return 0;
}

static void table_evict_oldest(struct hpack_decoder *d)
{
	struct hpack_entry *e = d->ring[d->start];

	d->size -= entry_size(e->name_len, e->value_len);
	free(e);
	d->ring[d->start] = NULL;
	d->start = (d->start + 1) % d->cap;
	d->count--;
}

/* RFC 7541 4.3: evict until the table fits in max. */
static void table_shrink(struct hpack_decoder *d, size_t max)
{
	while (d->count && d->size > max)
		table_evict_oldest(d);
}

struct hpack_decoder *hpack_decoder_free(struct hpack_decoder *d)
{
	if (!d)
		return NULL;
	if (d->ring)
		table_shrink(d, 0);
	free(d->ring);
	base_buf_done(&d->name);
	base_buf_done(&d->value);
	free(d);
	return NULL;
}

size_t hpack_decoder_table_size(const struct hpack_decoder *d)
{
	return d ? d->size : 0;
}

size_t hpack_decoder_table_len(const struct hpack_decoder *d)
{
	return d ? d->count : 0;
}

/* RFC 7541 4.4: an entry larger than the table empties it and is dropped. */
static int table_add(struct hpack_decoder *d, const char *name, size_t name_len, const char *value,
		     size_t value_len)
{
	size_t sz = entry_size(name_len, value_len);
	struct hpack_entry *e;

	if (sz > d->max_size) {
		table_shrink(d, 0);
		return 0;
	}
	e = malloc(sizeof(*e) + name_len + value_len + 2);
	if (!e)
		return -ENOMEM;
	e->name_len = name_len;
	e->value_len = value_len;
	memcpy(e->data, name, name_len);
	e->data[name_len] = '\0';
	memcpy(e->data + name_len + 1, value, value_len);
	e->data[name_len + 1 + value_len] = '\0';
	table_shrink(d, d->max_size - sz);
	d->ring[(d->start + d->count) % d->cap] = e;
	d->count++;
	d->size += sz;
	return 0;
}

int hpack_decoder_entry(const struct hpack_decoder *d, size_t index, const char **ret_name,
			size_t *ret_name_len, const char **ret_value, size_t *ret_value_len)
{
	const struct hpack_entry *e;

	if (!d || !ret_name || !ret_name_len || !ret_value || !ret_value_len)
		return -EINVAL;
	if (index == 0)
		return -ENOENT;
	if (index <= HPACK_STATIC_ENTRIES) {
		*ret_name = hpack_static_table[index - 1].name;
		*ret_name_len = strlen(*ret_name);
		*ret_value = hpack_static_table[index - 1].value;
		*ret_value_len = strlen(*ret_value);
		return 0;
	}
	index -= HPACK_STATIC_ENTRIES;
	if (index > d->count)
		return -ENOENT;
	e = d->ring[(d->start + d->count - index) % d->cap];
	*ret_name = e->data;
	*ret_name_len = e->name_len;
	*ret_value = e->data + e->name_len + 1;
	*ret_value_len = e->value_len;
	return 0;
}

/* RFC 7541 5.1: an integer with an N-bit prefix in the first byte. */
static int hpack_int(const uint8_t **p, const uint8_t *end, unsigned prefix_bits, uint32_t *ret)
{
	uint32_t mask = (1u << prefix_bits) - 1;
	uint64_t v;
	unsigned shift = 0;
	uint8_t b;

	if (*p >= end)
		return -EBADMSG;
	v = **p & mask;
	(*p)++;
	if (v < mask) {
		*ret = (uint32_t)v;
		return 0;
	}
	do {
		if (*p >= end || shift > 28)
			return -EBADMSG;
		b = **p;
		(*p)++;
		v += (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	if (v > HPACK_MAX_INT)
		return -EBADMSG;
	*ret = (uint32_t)v;
	return 0;
}

int hpack_huffman_decode(const uint8_t *in, size_t len, struct base_buf *out)
{
	/* code read so far, first code and first symbol of its length */
	uint32_t code = 0, first = 0, index = 0;
	unsigned bits = 0;
	bool ones = true;
	size_t i;
	int b, r;

	if (!in && len)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		for (b = 7; b >= 0; b--) {
			uint32_t bit = (in[i] >> b) & 1;

			code |= bit;
			ones = ones && bit;
			bits++;
			if (code - first < huff_count[bits]) {
				uint16_t sym = huff_symbols[index + code - first];

				if (sym == HUFF_EOS)
					return -EBADMSG;
				r = base_buf_putc(out, (char)sym);
				if (r < 0)
					return r;
				code = first = index = 0;
				bits = 0;
				ones = true;
				continue;
			}
			if (bits >= HUFF_MAX_BITS)
				return -EBADMSG;
			index += huff_count[bits];
			first = (first + huff_count[bits]) << 1;
			code <<= 1;
		}
	}
	/* RFC 7541 5.2: padding is under 8 bits of the EOS code's prefix */
	if (bits > 7 || !ones)
		return -EBADMSG;
	return 0;
}

/* RFC 7541 5.2: a string literal, raw or Huffman-coded, into out. */
static int hpack_string(const uint8_t **p, const uint8_t *end, struct base_buf *out)
{
	bool huffman;
	uint32_t n;
	int r;

	if (*p >= end)
		return -EBADMSG;
	huffman = **p & 0x80;
	r = hpack_int(p, end, 7, &n);
	if (r < 0)
		return r;
	if (n > (size_t)(end - *p))
		return -EBADMSG;
	base_buf_reset(out);
	if (huffman)
		r = hpack_huffman_decode(*p, n, out);
	else
		r = base_buf_append(out, *p, n);
	/* make sure an empty string is still a valid C string */
	if (r >= 0)
		r = base_buf_reserve(out, 0);
	if (r >= 0)
		out->data[out->len] = '\0';
	*p += n;
	return r;
}

struct hpack_field {
	const char *name, *value;
	size_t name_len, value_len;
};

static int field_from_index(const struct hpack_decoder *d, uint32_t index, struct hpack_field *f)
{
	if (hpack_decoder_entry(d, index, &f->name, &f->name_len, &f->value, &f->value_len) < 0)
		return -EBADMSG;
	return 0;
}

/* The literal forms of RFC 7541 6.2: name by index or literal, then value. */
static int field_literal(struct hpack_decoder *d, const uint8_t **p, const uint8_t *end,
			 unsigned prefix_bits, struct hpack_field *f)
{
	uint32_t index;
	int r;

	r = hpack_int(p, end, prefix_bits, &index);
	if (r < 0)
		return r;
	if (index) {
		/*
		 * Copied: adding the field to the table may evict the entry
		 * its name came from.
		 */
		r = field_from_index(d, index, f);
		if (r == 0) {
			base_buf_reset(&d->name);
			r = base_buf_append(&d->name, f->name, f->name_len);
		}
		if (r == 0)
			r = base_buf_reserve(&d->name, 0);
	} else {
		r = hpack_string(p, end, &d->name);
	}
	if (r < 0)
		return r;
	f->name = d->name.data;
	f->name_len = d->name.len;
	r = hpack_string(p, end, &d->value);
	f->value = d->value.data;
	f->value_len = d->value.len;
	return r;
}

int hpack_decoder_block(struct hpack_decoder *d, const uint8_t *block, size_t len,
			hpack_field_fn fn, void *ctx)
{
	const uint8_t *p = block, *end = block + len;
	size_t list = 0;
	bool fields = false;
	int r;

	if (!d || !fn || (!block && len))
		return -EINVAL;
	while (p < end) {
		struct hpack_field f;
		uint8_t b = *p;
		uint32_t v;

		if (b & 0x80) { /* 6.1 indexed field */
			r = hpack_int(&p, end, 7, &v);
			if (r == 0)
				r = field_from_index(d, v, &f);
		} else if (b & 0x40) { /* 6.2.1 literal with incremental indexing */
			r = field_literal(d, &p, end, 6, &f);
			if (r == 0)
				r = table_add(d, f.name, f.name_len, f.value, f.value_len);
		} else if (b & 0x20) { /* 6.3 dynamic table size update */
			/* RFC 7541 4.2: only at the start of a block */
			if (fields)
				return -EBADMSG;
			r = hpack_int(&p, end, 5, &v);
			if (r < 0)
				return r;
			if (v > d->limit)
				return -EBADMSG;
			d->max_size = v;
			table_shrink(d, v);
			continue;
		} else { /* 6.2.2 without indexing, 6.2.3 never indexed */
			r = field_literal(d, &p, end, 4, &f);
		}
		if (r < 0)
			return r;
		fields = true;
		list += entry_size(f.name_len, f.value_len);
		if (list > HPACK_MAX_HEADER_LIST)
			return -E2BIG;
		r = fn(ctx, f.name, f.name_len, f.value, f.value_len);
		if (r < 0)
			return r;
	}
	return 0;
}

/* RFC 7541 5.1, the encoding side. */
static int encode_int(struct base_buf *out, uint8_t first, unsigned prefix_bits, uint32_t v)
{
	uint32_t mask = (1u << prefix_bits) - 1;
	uint8_t tmp[8];
	size_t n = 0;

	if (v < mask) {
		tmp[n++] = first | (uint8_t)v;
	} else {
		tmp[n++] = first | (uint8_t)mask;
		v -= mask;
		while (v >= 0x80) {
			tmp[n++] = (uint8_t)(0x80 | (v & 0x7f));
			v >>= 7;
		}
		tmp[n++] = (uint8_t)v;
	}
	return base_buf_append(out, tmp, n);
}

static int encode_string(struct base_buf *out, const char *s, size_t n)
{
	int r = encode_int(out, 0x00, 7, (uint32_t)n);

	return r < 0 ? r : base_buf_append(out, s, n);
}

int hpack_encode_field(struct base_buf *out, const char *name, const char *value)
{
	size_t nlen, vlen, i, name_index = 0;
	int r;

	if (!out || !name || !value)
		return -EINVAL;
	nlen = strlen(name);
	vlen = strlen(value);
	if (nlen > HPACK_MAX_HEADER_LIST || vlen > HPACK_MAX_HEADER_LIST)
		return -EINVAL;
	for (i = 0; i < HPACK_STATIC_ENTRIES; i++) {
		if (strcmp(hpack_static_table[i].name, name))
			continue;
		if (!strcmp(hpack_static_table[i].value, value))
			return encode_int(out, 0x80, 7, (uint32_t)(i + 1));
		if (!name_index)
			name_index = i + 1;
	}
	/* 6.2.2 literal without indexing: the peer's table never changes */
	r = encode_int(out, 0x00, 4, (uint32_t)name_index);
	if (r == 0 && !name_index)
		r = encode_string(out, name, nlen);
	if (r == 0)
		r = encode_string(out, value, vlen);
	return r;
}
