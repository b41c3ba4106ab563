// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the DNS message decoder (run/dns.c): queries and responses as
 * resolvers send them, names at the RFC 1035 limits (255 bytes, 127
 * labels), compression pointers including loops, and every kind of
 * truncation, which must come back as malformed, never as a crash or a hang.
 */
#include "run/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct msg {
	uint8_t b[2048];
	size_t n;
};

static void put(struct msg *m, const void *p, size_t n)
{
	assert_true(m->n + n <= sizeof(m->b));
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void put16(struct msg *m, uint16_t v)
{
	uint8_t b[2] = {v >> 8, v & 0xff};

	put(m, b, 2);
}

static void header(struct msg *m, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an)
{
	m->n = 0;
	put16(m, id);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
}

/* "a.b.c" as labels, with the final zero. */
static void name(struct msg *m, const char *dotted)
{
	const char *p = dotted;

	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		uint8_t len = (uint8_t)l;

		put(m, &len, 1);
		put(m, p, l);
		p += l + (dot ? 1 : 0);
	}
	put(m, "", 1);
}

static void question(struct msg *m, const char *dotted, uint16_t type)
{
	name(m, dotted);
	put16(m, type);
	put16(m, 1);
}

/* An answer whose name points at the question (offset 12). */
static void answer(struct msg *m, uint16_t type, const void *rdata, uint16_t len)
{
	put16(m, 0xc00c);
	put16(m, type);
	put16(m, 1);
	put16(m, 0);
	put16(m, 60);
	put16(m, len);
	put(m, rdata, len);
}

static void test_query(void **state)
{
	struct run_dns_msg d;
	struct msg m;

	header(&m, 0xbeef, 0x0100, 1, 0);
	question(&m, "www.example.com", 28);
	assert_int_equal(run_dns_parse(m.b, m.n, &d), 0);
	assert_int_equal(d.id, 0xbeef);
	assert_false(d.qr);
	assert_true(d.rd);
	assert_true(d.has_question);
	assert_int_equal(d.qtype, 28);
	assert_string_equal(run_dns_type_name(d.qtype), "AAAA");
	assert_string_equal(d.name, "www.example.com.");
	assert_int_equal(d.n_answers, 0);
	assert_false(d.malformed);
}

static void test_response_answers(void **state)
{
	uint8_t v4[4] = {10, 1, 2, 3}, v6[16] = {0xfd, 0, [15] = 1};
	struct run_dns_msg d;
	struct msg m;

	header(&m, 7, 0x8180, 1, 3);
	question(&m, "example.com", 1);
	answer(&m, 1, v4, 4);
	answer(&m, 5,
	       "\x03"
	       "foo\xc0\x0c",
	       6); /* a CNAME: counted, no address */
	answer(&m, 28, v6, 16);
	assert_int_equal(run_dns_parse(m.b, m.n, &d), 0);
	assert_true(d.qr);
	assert_true(d.ra);
	assert_int_equal(d.rcode, 0);
	assert_string_equal(run_dns_rcode_name(d.rcode), "Success");
	assert_int_equal(d.n_answers, 3);
	assert_int_equal(d.n_addrs, 2);
	assert_string_equal(d.addrs[0], "10.1.2.3");
	assert_string_equal(d.addrs[1], "fd00::1");
}

static void test_nxdomain_and_root(void **state)
{
	struct run_dns_msg d;
	struct msg m;

	header(&m, 1, 0x8183, 1, 0);
	question(&m, "", 2);
	assert_int_equal(run_dns_parse(m.b, m.n, &d), 0);
	assert_int_equal(d.rcode, 3);
	assert_string_equal(run_dns_rcode_name(d.rcode), "NameError");
	assert_string_equal(d.name, ".");
	assert_null(run_dns_rcode_name(12));
	assert_null(run_dns_type_name(4242));
}

static void test_name_limits(void **state)
{
	char longest[512] = "", want[512] = "";
	struct run_dns_msg d;
	struct msg m;
	size_t n;

	/* 127 one-byte labels: 254 bytes and the root, 255 in all: the limit */
	for (int i = 0; i < 127; i++)
		memcpy(want + 2 * i, "a.", 3);
	memcpy(longest, want, 254);
	longest[253] = '\0'; /* "a.a.....a" */
	header(&m, 1, 0, 1, 0);
	question(&m, longest, 1);
	assert_int_equal(run_dns_parse(m.b, m.n, &d), 0);
	assert_string_equal(d.name, want);

	/* one label more is 257 bytes */
	n = strlen(longest);
	memcpy(longest + n, ".a", 3);
	header(&m, 1, 0, 1, 0);
	question(&m, longest, 1);
	assert_int_equal(run_dns_parse(m.b, m.n, &d), -EBADMSG);
	assert_true(d.malformed);
	assert_false(d.has_question);
	assert_string_equal(d.name, "");

	/* five 63-byte labels: 321 bytes */
	memset(longest, 'x', 63);
	longest[63] = '\0';
	header(&m, 1, 0, 1, 0);
	for (int i = 0; i < 5; i++) {
		uint8_t l = 63;

		put(&m, &l, 1);
		put(&m, longest, 63);
	}
	put(&m, "", 1);
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(run_dns_parse(m.b, m.n, &d), -EBADMSG);
}

static void test_compression(void **state)
{
	struct run_dns_msg d;
	struct msg m;

	/* a question pointing at itself */
	header(&m, 1, 0, 1, 0);
	put16(&m, 0xc00c);
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(run_dns_parse(m.b, m.n, &d), -EBADMSG);

	/* two pointers at each other, in an answer */
	header(&m, 1, 0x8180, 1, 1);
	question(&m, "ok.test", 1);
	put16(&m, 0xc000 | (uint16_t)(m.n + 2));
	put16(&m, 0xc000 | (uint16_t)(m.n - 2));
	assert_int_equal(run_dns_parse(m.b, m.n, &d), -EBADMSG);
	assert_string_equal(d.name, "ok.test."); /* the question was fine */

	/* a pointer past the end */
	header(&m, 1, 0, 1, 0);
	put16(&m, 0xcfff);
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(run_dns_parse(m.b, m.n, &d), -EBADMSG);

	/* the reserved label types 0x40 and 0x80 */
	header(&m, 1, 0, 1, 0);
	put(&m,
	    "\x41"
	    "a",
	    2);
	assert_int_equal(run_dns_parse(m.b, m.n, &d), -EBADMSG);
}

static void test_truncated(void **state)
{
	uint8_t v4[4] = {1, 2, 3, 4};
	struct run_dns_msg d;
	struct msg m;

	assert_int_equal(run_dns_parse("\x12\x34\x01", 3, &d), -EINVAL);
	assert_int_equal(run_dns_parse(NULL, 0, &d), -EINVAL);

	header(&m, 1, 0x8180, 1, 2);
	question(&m, "cut.test", 1);
	answer(&m, 1, v4, 4);
	answer(&m, 1, v4, 4);
	/* every shorter message is malformed past the header, never more */
	for (size_t n = 12; n < m.n; n++) {
		int r = run_dns_parse(m.b, n, &d);

		assert_int_equal(r, -EBADMSG);
		assert_true(d.n_addrs <= 1);
	}
	assert_int_equal(run_dns_parse(m.b, m.n, &d), 0);
	assert_int_equal(d.n_addrs, 2);

	/* 65535 answers announced, none there: stops at once */
	header(&m, 1, 0x8180, 0, 0xffff);
	assert_int_equal(run_dns_parse(m.b, m.n, &d), -EBADMSG);
}

static void test_escapes(void **state)
{
	struct run_dns_msg d;
	struct msg m;

	header(&m, 1, 0, 1, 0);
	put(&m,
	    "\x04"
	    "a.b\x01"
	    "\x01"
	    "\\"
	    "\x00",
	    8);
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(run_dns_parse(m.b, m.n, &d), 0);
	assert_string_equal(d.name, "a\\.b\\001.\\\\.");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_response_answers),
		cmocka_unit_test(test_nxdomain_and_root),
		cmocka_unit_test(test_name_limits),
		cmocka_unit_test(test_compression),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_escapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
