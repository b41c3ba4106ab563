// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for cri/hpack.c: the examples of RFC 7541 Appendix C (integers,
 * single fields, request and response sequences with and without Huffman
 * coding, dynamic table contents and evictions), the Huffman strings alone,
 * and what a hostile peer may send: bad indexes, truncated and overlong
 * integers and strings, misplaced or oversized table size updates, EOS and
 * bad padding, header lists over the bound.
 */
#include "cri/hpack.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAX_FIELDS 2048

struct fields {
	size_t n;
	char *name[MAX_FIELDS];
	char *value[MAX_FIELDS];
	int fail_at; /* callback fails on this field (1-based); 0 never */
};

static int collect(void *ctx, const char *name, size_t name_len, const char *value,
		   size_t value_len)
{
	struct fields *f = ctx;

	/* the strings are NUL-terminated where the lengths say */
	assert_int_equal(name[name_len], '\0');
	assert_int_equal(value[value_len], '\0');
	if (f->fail_at && (int)f->n + 1 == f->fail_at)
		return -ECANCELED;
	assert_true(f->n < MAX_FIELDS);
	f->name[f->n] = strndup(name, name_len);
	f->value[f->n] = strndup(value, value_len);
	f->n++;
	return 0;
}

static void fields_clear(struct fields *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->name[i]);
		free(f->value[i]);
	}
	memset(f, 0, sizeof(*f));
}

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex) / 2, i;
	unsigned int b;

	assert_true(n <= cap);
	for (i = 0; i < n; i++) {
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &b), 1);
		out[i] = (uint8_t)b;
	}
	return n;
}

static int decode_hex(struct hpack_decoder *d, const char *hex, struct fields *f)
{
	uint8_t buf[512];
	size_t n = unhex(hex, buf, sizeof(buf));

	return hpack_decoder_block(d, buf, n, collect, f);
}

/* The expected fields, "name", "value" pairs, NULL-terminated. */
static void expect_fields(const struct fields *f, const char *const *kv)
{
	size_t i;

	for (i = 0; kv[2 * i]; i++) {
		assert_true(i < f->n);
		assert_string_equal(f->name[i], kv[2 * i]);
		assert_string_equal(f->value[i], kv[2 * i + 1]);
	}
	assert_int_equal(f->n, i);
}

/* The dynamic table, newest first, as "name", "value" pairs. */
static void expect_table(const struct hpack_decoder *d, size_t size, const char *const *kv)
{
	const char *name, *value;
	size_t nl, vl, i;

	assert_int_equal(hpack_decoder_table_size(d), size);
	for (i = 0; kv[2 * i]; i++) {
		assert_int_equal(hpack_decoder_entry(d, HPACK_STATIC_ENTRIES + 1 + i, &name, &nl,
						     &value, &vl),
				 0);
		assert_string_equal(name, kv[2 * i]);
		assert_string_equal(value, kv[2 * i + 1]);
	}
	assert_int_equal(hpack_decoder_table_len(d), i);
	assert_int_equal(
		hpack_decoder_entry(d, HPACK_STATIC_ENTRIES + 1 + i, &name, &nl, &value, &vl),
		-ENOENT);
}

/* C.2: one field of each literal form, each on a fresh decoder. */
static void test_c2_fields(void **state)
{
	struct hpack_decoder *d;
	struct fields f = {0};

	assert_int_equal(hpack_decoder_new(HPACK_DEFAULT_TABLE_SIZE, &d), 0);
	assert_int_equal(decode_hex(d, "400a637573746f6d2d6b65790d637573746f6d2d686561646572", &f),
			 0);
	expect_fields(&f, (const char *const[]){"custom-key", "custom-header", NULL});
	expect_table(d, 55, (const char *const[]){"custom-key", "custom-header", NULL});
	fields_clear(&f);
	d = hpack_decoder_free(d);

	/* C.2.2 without indexing, C.2.3 never indexed: the table stays empty */
	assert_int_equal(hpack_decoder_new(HPACK_DEFAULT_TABLE_SIZE, &d), 0);
	assert_int_equal(decode_hex(d, "040c2f73616d706c652f70617468", &f), 0);
	expect_fields(&f, (const char *const[]){":path", "/sample/path", NULL});
	fields_clear(&f);
	assert_int_equal(decode_hex(d, "100870617373776f726406736563726574", &f), 0);
	expect_fields(&f, (const char *const[]){"password", "secret", NULL});
	fields_clear(&f);
	assert_int_equal(decode_hex(d, "82", &f), 0);
	expect_fields(&f, (const char *const[]){":method", "GET", NULL});
	expect_table(d, 0, (const char *const[]){NULL});
	fields_clear(&f);
	hpack_decoder_free(d);
}

/* C.3 (raw) and C.4 (Huffman): three requests on one connection. */
static void run_requests(const char *const hex[3])
{
	static const char *const r1[] = {":method", "GET", ":scheme",	 "http",
					 ":path",   "/",   ":authority", "www.example.com",
					 NULL};
	static const char *const r2[] = {
		":method",	   "GET",	    ":scheme",	"http", ":path", "/", ":authority",
		"www.example.com", "cache-control", "no-cache", NULL};
	static const char *const r3[] = {
		":method",    "GET",	      ":scheme",    "https",
		":path",      "/index.html",  ":authority", "www.example.com",
		"custom-key", "custom-value", NULL};
	struct hpack_decoder *d;
	struct fields f = {0};

	assert_int_equal(hpack_decoder_new(HPACK_DEFAULT_TABLE_SIZE, &d), 0);
	assert_int_equal(decode_hex(d, hex[0], &f), 0);
	expect_fields(&f, r1);
	expect_table(d, 57, (const char *const[]){":authority", "www.example.com", NULL});
	fields_clear(&f);
	assert_int_equal(decode_hex(d, hex[1], &f), 0);
	expect_fields(&f, r2);
	expect_table(d, 110,
		     (const char *const[]){"cache-control", "no-cache", ":authority",
					   "www.example.com", NULL});
	fields_clear(&f);
	assert_int_equal(decode_hex(d, hex[2], &f), 0);
	expect_fields(&f, r3);
	expect_table(d, 164,
		     (const char *const[]){"custom-key", "custom-value", "cache-control",
					   "no-cache", ":authority", "www.example.com", NULL});
	fields_clear(&f);
	hpack_decoder_free(d);
}

static void test_c3_requests(void **state)
{
	run_requests((const char *const[]){
		"828684410f7777772e6578616d706c652e636f6d",
		"828684be58086e6f2d6361636865",
		"828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
	});
}

static void test_c4_requests_huffman(void **state)
{
	run_requests((const char *const[]){
		"828684418cf1e3c2e5f23a6ba0ab90f4ff",
		"828684be5886a8eb10649cbf",
		"828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
	});
}

/* C.5 (raw) and C.6 (Huffman): three responses, a 256-byte table, evictions. */
static void run_responses(const char *const hex[3])
{
	static const char *const r1[] = {":status",
					 "302",
					 "cache-control",
					 "private",
					 "date",
					 "Mon, 21 Oct 2013 20:13:21 GMT",
					 "location",
					 "https://www.example.com",
					 NULL};
	static const char *const r2[] = {":status",
					 "307",
					 "cache-control",
					 "private",
					 "date",
					 "Mon, 21 Oct 2013 20:13:21 GMT",
					 "location",
					 "https://www.example.com",
					 NULL};
	static const char *const r3[] = {":status",
					 "200",
					 "cache-control",
					 "private",
					 "date",
					 "Mon, 21 Oct 2013 20:13:22 GMT",
					 "location",
					 "https://www.example.com",
					 "content-encoding",
					 "gzip",
					 "set-cookie",
					 "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
					 NULL};
	struct hpack_decoder *d;
	struct fields f = {0};

	assert_int_equal(hpack_decoder_new(256, &d), 0);
	assert_int_equal(decode_hex(d, hex[0], &f), 0);
	expect_fields(&f, r1);
	expect_table(d, 222,
		     (const char *const[]){"location", "https://www.example.com", "date",
					   "Mon, 21 Oct 2013 20:13:21 GMT", "cache-control",
					   "private", ":status", "302", NULL});
	fields_clear(&f);
	assert_int_equal(decode_hex(d, hex[1], &f), 0);
	expect_fields(&f, r2);
	/* ":status: 302" was evicted to make room */
	expect_table(d, 222,
		     (const char *const[]){":status", "307", "location", "https://www.example.com",
					   "date", "Mon, 21 Oct 2013 20:13:21 GMT", "cache-control",
					   "private", NULL});
	fields_clear(&f);
	assert_int_equal(decode_hex(d, hex[2], &f), 0);
	expect_fields(&f, r3);
	expect_table(
		d, 215,
		(const char *const[]){
			"set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
			"content-encoding", "gzip", "date", "Mon, 21 Oct 2013 20:13:22 GMT", NULL});
	fields_clear(&f);
	hpack_decoder_free(d);
}

static void test_c5_responses(void **state)
{
	run_responses((const char *const[]){
		"4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a3231"
		"20474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
		"4803333037c1c0bf",
		"88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a6970"
		"7738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d61"
		"67653d333630303b2076657273696f6e3d31",
	});
}

static void test_c6_responses_huffman(void **state)
{
	run_responses((const char *const[]){
		"488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad17"
		"1863c78f0b97c8e9ae82ae43d3",
		"4883640effc1c0bf",
		"88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2"
		"e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
	});
}

static void test_huffman_strings(void **state)
{
	static const struct {
		const char *hex, *text;
	} v[] = {
		{"f1e3c2e5f23a6ba0ab90f4ff", "www.example.com"},
		{"a8eb10649cbf", "no-cache"},
		{"25a849e95ba97d7f", "custom-key"},
		{"25a849e95bb8e8b4bf", "custom-value"},
		{"6402", "302"},
		{"640eff", "307"},
		{"aec3771a4b", "private"},
		{"d07abe941054d444a8200595040b8166e082a62d1bff", "Mon, 21 Oct 2013 20:13:21 GMT"},
		{"9d29ad171863c78f0b97c8e9ae82ae43d3", "https://www.example.com"},
		{"9bd9ab", "gzip"},
		{"", ""},
	};
	struct base_buf out = BASE_BUF_INIT(1024);
	uint8_t buf[64];
	size_t i, n;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		n = unhex(v[i].hex, buf, sizeof(buf));
		base_buf_reset(&out);
		assert_int_equal(hpack_huffman_decode(buf, n, &out), 0);
		assert_int_equal(out.len, strlen(v[i].text));
		assert_memory_equal(out.data ? out.data : "", v[i].text, out.len);
	}
	base_buf_done(&out);
}

/* The longest codes: three 30-bit controls, a 28-bit one, and byte 255. */
static void test_huffman_long_codes(void **state)
{
	/*
	 * 10 (30 bits 3ffffffc), 13 (3ffffffd), 22 (3ffffffe), 0x7f (28 bits
	 * ffffffc), 0xff (26 bits 3ffffee): 144 bits, no padding.
	 */
	static const uint8_t in[] = {0xff, 0xff, 0xff, 0xf3, 0xff, 0xff, 0xff, 0xdf, 0xff,
				     0xff, 0xff, 0xbf, 0xff, 0xff, 0xf3, 0xff, 0xff, 0xee};
	struct base_buf out = BASE_BUF_INIT(64);

	assert_int_equal(hpack_huffman_decode(in, sizeof(in), &out), 0);
	assert_int_equal(out.len, 5);
	assert_memory_equal(out.data, "\n\r\x16\x7f\xff", 5);
	base_buf_done(&out);
}

static void test_huffman_malformed(void **state)
{
	struct base_buf out = BASE_BUF_INIT(64);
	/* EOS (30 ones) inside the string */
	static const uint8_t eos[] = {0xff, 0xff, 0xff, 0xff};
	/* '0' (00000) then 000: padding must be ones */
	static const uint8_t zero_pad[] = {0x00};
	/* 'a' (00011) then a whole byte of ones: padding over 7 bits */
	static const uint8_t long_pad[] = {0x1f, 0xff};

	assert_int_equal(hpack_huffman_decode(eos, sizeof(eos), &out), -EBADMSG);
	base_buf_reset(&out);
	assert_int_equal(hpack_huffman_decode(zero_pad, sizeof(zero_pad), &out), -EBADMSG);
	base_buf_reset(&out);
	assert_int_equal(hpack_huffman_decode(long_pad, sizeof(long_pad), &out), -EBADMSG);
	base_buf_done(&out);
	/* output past the buffer's maximum */
	out.max = 2;
	assert_int_equal(hpack_huffman_decode((const uint8_t *)"\xf1\xe3\xc2\xe5", 4, &out),
			 -E2BIG);
	base_buf_done(&out);
}

/* h2spec's case: an EOS symbol inside a header value is a decoding error. */
static void test_block_eos(void **state)
{
	struct hpack_decoder *d;
	struct fields f = {0};

	assert_int_equal(hpack_decoder_new(HPACK_DEFAULT_TABLE_SIZE, &d), 0);
	assert_int_equal(decode_hex(d, "0085f2b24a84ff874951fffffffa7f", &f), -EBADMSG);
	fields_clear(&f);
	hpack_decoder_free(d);
}

static void test_size_updates(void **state)
{
	struct hpack_decoder *d;
	struct fields f = {0};

	assert_int_equal(hpack_decoder_new(HPACK_DEFAULT_TABLE_SIZE, &d), 0);
	assert_int_equal(decode_hex(d, "400a637573746f6d2d6b65790d637573746f6d2d686561646572", &f),
			 0);
	fields_clear(&f);
	assert_int_equal(hpack_decoder_table_len(d), 1);
	/* to 0 (evicts all), back to 4096 (C.1.2-style integer: 31 + 4065) */
	assert_int_equal(decode_hex(d, "203fe11f82", &f), 0);
	expect_fields(&f, (const char *const[]){":method", "GET", NULL});
	expect_table(d, 0, (const char *const[]){NULL});
	fields_clear(&f);
	/* above what we allow */
	assert_int_equal(decode_hex(d, "3fe21f", &f), -EBADMSG);
	/* after a field */
	assert_int_equal(decode_hex(d, "8220", &f), -EBADMSG);
	fields_clear(&f);
	/* a table of 0 keeps nothing, yet decodes */
	assert_int_equal(
		decode_hex(d, "20400a637573746f6d2d6b65790d637573746f6d2d686561646572", &f), 0);
	expect_fields(&f, (const char *const[]){"custom-key", "custom-header", NULL});
	expect_table(d, 0, (const char *const[]){NULL});
	fields_clear(&f);
	hpack_decoder_free(d);
}

/* RFC 7541 4.4: an entry larger than the whole table empties it. */
static void test_entry_larger_than_table(void **state)
{
	struct hpack_decoder *d;
	struct fields f = {0};

	assert_int_equal(hpack_decoder_new(64, &d), 0);
	/* ":path: /sample/path" with indexing: 5 + 12 + 32 = 49 bytes fit */
	assert_int_equal(decode_hex(d, "440c2f73616d706c652f70617468", &f), 0);
	expect_table(d, 49, (const char *const[]){":path", "/sample/path", NULL});
	/* custom-key: custom-header is 55: evicts the first, fits alone */
	assert_int_equal(decode_hex(d, "400a637573746f6d2d6b65790d637573746f6d2d686561646572", &f),
			 0);
	expect_table(d, 55, (const char *const[]){"custom-key", "custom-header", NULL});
	/* indexed name from the entry that the add evicts (index 62) */
	assert_int_equal(decode_hex(d,
				    "7e2061616161616161616161616161616161616161616161616161616161"
				    "61616161",
				    &f),
			 0);
	assert_int_equal(f.n, 3);
	assert_string_equal(f.name[2], "custom-key");
	assert_string_equal(f.value[2], "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	expect_table(d, 0, (const char *const[]){NULL});
	fields_clear(&f);
	hpack_decoder_free(d);
}

static void test_bad_indexes(void **state)
{
	struct hpack_decoder *d;
	struct fields f = {0};

	assert_int_equal(hpack_decoder_new(HPACK_DEFAULT_TABLE_SIZE, &d), 0);
	assert_int_equal(decode_hex(d, "80", &f), -EBADMSG);		 /* index 0 */
	assert_int_equal(decode_hex(d, "be", &f), -EBADMSG);		 /* 62, table empty */
	assert_int_equal(decode_hex(d, "7e0161", &f), -EBADMSG);	 /* name index 62 */
	assert_int_equal(decode_hex(d, "0f3001", &f), -EBADMSG);	 /* name index 63 */
	assert_int_equal(decode_hex(d, "ff808080808001", &f), -EBADMSG); /* overlong */
	assert_int_equal(decode_hex(d, "ffffffff0f", &f), -EBADMSG);	 /* huge index */
	assert_int_equal(f.n, 0);
	hpack_decoder_free(d);
}

/* Every cut of a block either decodes the fields before it or is refused. */
static void test_truncated(void **state)
{
	static const char *hex = "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf";
	struct hpack_decoder *d;
	struct fields f = {0};
	uint8_t buf[64];
	size_t n = unhex(hex, buf, sizeof(buf)), cut;
	int r;

	for (cut = 0; cut < n; cut++) {
		/* index 0xbf (63) needs the history of C.4.1 and C.4.2 */
		assert_int_equal(hpack_decoder_new(HPACK_DEFAULT_TABLE_SIZE, &d), 0);
		assert_int_equal(decode_hex(d, "828684418cf1e3c2e5f23a6ba0ab90f4ff", &f), 0);
		assert_int_equal(decode_hex(d, "828684be5886a8eb10649cbf", &f), 0);
		fields_clear(&f);
		r = hpack_decoder_block(d, buf, cut, collect, &f);
		if (cut <= 4)
			assert_int_equal(r, 0);
		else
			assert_int_equal(r, -EBADMSG);
		assert_int_equal(f.n, cut <= 4 ? cut : 4);
		fields_clear(&f);
		hpack_decoder_free(d);
	}
}

static void test_string_past_block(void **state)
{
	struct hpack_decoder *d;
	struct fields f = {0};

	assert_int_equal(hpack_decoder_new(HPACK_DEFAULT_TABLE_SIZE, &d), 0);
	/* value says 13 bytes, 3 follow */
	assert_int_equal(decode_hex(d, "040d2f7361", &f), -EBADMSG);
	/* a string length in the gigabytes */
	assert_int_equal(decode_hex(d, "047fffffffff0f", &f), -EBADMSG);
	hpack_decoder_free(d);
}

static void test_header_list_bound(void **state)
{
	struct hpack_decoder *d;
	struct fields f = {0};
	static uint8_t block[4096];
	size_t n = HPACK_MAX_HEADER_LIST / (10 + 32); /* ":authority" with no value */

	assert_true(n + 1 <= sizeof(block));
	memset(block, 0x81, sizeof(block));
	assert_int_equal(hpack_decoder_new(HPACK_DEFAULT_TABLE_SIZE, &d), 0);
	assert_int_equal(hpack_decoder_block(d, block, n, collect, &f), 0);
	assert_int_equal(f.n, n);
	fields_clear(&f);
	assert_int_equal(hpack_decoder_block(d, block, n + 1, collect, &f), -E2BIG);
	fields_clear(&f);
	hpack_decoder_free(d);
}

static void test_callback_error(void **state)
{
	struct hpack_decoder *d;
	struct fields f = {.fail_at = 2};

	assert_int_equal(hpack_decoder_new(HPACK_DEFAULT_TABLE_SIZE, &d), 0);
	assert_int_equal(decode_hex(d, "828684418cf1e3c2e5f23a6ba0ab90f4ff", &f), -ECANCELED);
	assert_int_equal(f.n, 1);
	fields_clear(&f);
	hpack_decoder_free(d);
}

static void test_encode_round_trip(void **state)
{
	static const char *const kv[] = {":method",
					 "POST",
					 ":scheme",
					 "http",
					 ":path",
					 "/runtime.v1.RuntimeService/Version",
					 ":authority",
					 "localhost",
					 "content-type",
					 "application/grpc",
					 "te",
					 "trailers",
					 "grpc-timeout",
					 "1000m",
					 "x-empty",
					 "",
					 NULL};
	struct base_buf out = BASE_BUF_INIT(4096);
	struct hpack_decoder *d;
	struct fields f = {0};
	size_t i;

	for (i = 0; kv[2 * i]; i++)
		assert_int_equal(hpack_encode_field(&out, kv[2 * i], kv[2 * i + 1]), 0);
	/* exact static entries are one byte: :method POST is index 3 */
	assert_int_equal((uint8_t)out.data[0], 0x83);
	assert_int_equal((uint8_t)out.data[1], 0x86);
	assert_int_equal(hpack_decoder_new(HPACK_DEFAULT_TABLE_SIZE, &d), 0);
	assert_int_equal(hpack_decoder_block(d, (const uint8_t *)out.data, out.len, collect, &f),
			 0);
	expect_fields(&f, kv);
	/* literals without indexing leave the peer's table alone */
	assert_int_equal(hpack_decoder_table_len(d), 0);
	fields_clear(&f);
	hpack_decoder_free(d);

	/* a long value needs a multi-byte length (C.1.2's form) */
	{
		char *big = malloc(1338);

		assert_non_null(big);
		memset(big, 'v', 1337);
		big[1337] = '\0';
		base_buf_reset(&out);
		assert_int_equal(hpack_encode_field(&out, "x-big", big), 0);
		assert_int_equal(hpack_decoder_new(HPACK_DEFAULT_TABLE_SIZE, &d), 0);
		assert_int_equal(
			hpack_decoder_block(d, (const uint8_t *)out.data, out.len, collect, &f), 0);
		assert_int_equal(f.n, 1);
		assert_string_equal(f.value[0], big);
		fields_clear(&f);
		hpack_decoder_free(d);
		free(big);
	}
	/* the output's bound holds */
	out.max = 4;
	base_buf_reset(&out);
	assert_int_equal(hpack_encode_field(&out, "x-long-name", "v"), -E2BIG);
	base_buf_done(&out);
}

static void test_args(void **state)
{
	struct hpack_decoder *d;

	assert_int_equal(hpack_decoder_new(HPACK_MAX_TABLE_SIZE + 1, &d), -EINVAL);
	assert_int_equal(hpack_decoder_new(HPACK_DEFAULT_TABLE_SIZE, NULL), -EINVAL);
	assert_null(hpack_decoder_free(NULL));
	assert_int_equal(hpack_decoder_new(0, &d), 0);
	assert_int_equal(hpack_decoder_block(d, NULL, 0, collect, NULL), 0);
	assert_int_equal(hpack_decoder_block(d, NULL, 1, collect, NULL), -EINVAL);
	hpack_decoder_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_c2_fields),
		cmocka_unit_test(test_c3_requests),
		cmocka_unit_test(test_c4_requests_huffman),
		cmocka_unit_test(test_c5_responses),
		cmocka_unit_test(test_c6_responses_huffman),
		cmocka_unit_test(test_huffman_strings),
		cmocka_unit_test(test_huffman_long_codes),
		cmocka_unit_test(test_huffman_malformed),
		cmocka_unit_test(test_block_eos),
		cmocka_unit_test(test_size_updates),
		cmocka_unit_test(test_entry_larger_than_table),
		cmocka_unit_test(test_bad_indexes),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_string_past_block),
		cmocka_unit_test(test_header_list_bound),
		cmocka_unit_test(test_callback_error),
		cmocka_unit_test(test_encode_round_trip),
		cmocka_unit_test(test_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
