// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the pods/portforward channel demultiplexer (k8s/portforward.c).
 *
 * The API server's frames are built here the way the channel protocol
 * lays them out (channel byte, then on each channel a two-byte little
 * endian port header before any payload) and fed whole, split at every
 * point, and broken: an unknown channel, a header naming another port, a
 * continuation without a start.  Plus the arguments k8s_portforward_open()
 * refuses before touching the network.
 */
#include "k8s/portforward.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define PORT 8080

static const uint8_t data_hdr[] = {0, PORT & 0xff, PORT >> 8};
static const uint8_t err_hdr[] = {1, PORT & 0xff, PORT >> 8};

static void feed_ok(struct k8s_portforward_demux *d, const void *buf, size_t len, bool start,
		    enum k8s_portforward_channel ch, const char *want)
{
	struct k8s_portforward_piece p;

	assert_int_equal(k8s_portforward_demux_feed(d, buf, len, start, &p), 0);
	assert_int_equal(p.channel, ch);
	assert_int_equal(p.len, strlen(want));
	assert_memory_equal(p.data, want, p.len);
}

static void test_headers_then_data(void **state)
{
	struct k8s_portforward_demux d;
	const uint8_t msg[] = {0, 'h', 'e', 'l', 'l', 'o'};
	const uint8_t emsg[] = {1, 'b', 'a', 'd'};

	k8s_portforward_demux_init(&d, PORT);
	feed_ok(&d, data_hdr, sizeof(data_hdr), true, K8S_PORTFORWARD_CHANNEL_DATA, "");
	feed_ok(&d, err_hdr, sizeof(err_hdr), true, K8S_PORTFORWARD_CHANNEL_ERROR, "");
	feed_ok(&d, msg, sizeof(msg), true, K8S_PORTFORWARD_CHANNEL_DATA, "hello");
	/* the rest of the same message: no channel byte */
	feed_ok(&d, "more", 4, false, K8S_PORTFORWARD_CHANNEL_DATA, "more");
	feed_ok(&d, emsg, sizeof(emsg), true, K8S_PORTFORWARD_CHANNEL_ERROR, "bad");
	/* an empty message and an empty piece carry nothing */
	feed_ok(&d, "", 0, true, K8S_PORTFORWARD_CHANNEL_DATA, "");
	feed_ok(&d, msg, 1, false, K8S_PORTFORWARD_CHANNEL_DATA, "");
	feed_ok(&d, msg + 1, 5, false, K8S_PORTFORWARD_CHANNEL_DATA, "hello");
}

/* The header and the first payload in one message, split at every byte. */
static void test_split_everywhere(void **state)
{
	const uint8_t msg[] = {0, PORT & 0xff, PORT >> 8, 'a', 'b', 'c', 'd'};

	for (size_t cut = 0; cut <= sizeof(msg); cut++) {
		struct k8s_portforward_demux d;
		struct k8s_portforward_piece p;
		char got[16];
		size_t n = 0;

		k8s_portforward_demux_init(&d, PORT);
		assert_int_equal(k8s_portforward_demux_feed(&d, msg, cut, true, &p), 0);
		memcpy(got, p.data, p.len);
		n = p.len;
		assert_int_equal(
			k8s_portforward_demux_feed(&d, msg + cut, sizeof(msg) - cut, false, &p), 0);
		assert_int_equal(p.channel, K8S_PORTFORWARD_CHANNEL_DATA);
		memcpy(got + n, p.data, p.len);
		n += p.len;
		assert_int_equal(n, 4);
		assert_memory_equal(got, "abcd", 4);
	}
}

static void test_unknown_channel_sticks(void **state)
{
	struct k8s_portforward_demux d;
	struct k8s_portforward_piece p;
	const uint8_t bad[] = {2, 0x90, 0x1f};

	k8s_portforward_demux_init(&d, PORT);
	assert_int_equal(k8s_portforward_demux_feed(&d, bad, sizeof(bad), true, &p), -EPROTO);
	assert_int_equal(p.len, 0);
	/* once broken, always broken */
	assert_int_equal(k8s_portforward_demux_feed(&d, data_hdr, sizeof(data_hdr), true, &p),
			 -EPROTO);
}

static void test_wrong_port(void **state)
{
	struct k8s_portforward_demux d;
	struct k8s_portforward_piece p;
	const uint8_t other[] = {0, 0x51, 0x00, 'x'};

	k8s_portforward_demux_init(&d, PORT);
	assert_int_equal(k8s_portforward_demux_feed(&d, other, sizeof(other), true, &p), -EPROTO);
	/* split across pieces: the second byte decides */
	k8s_portforward_demux_init(&d, PORT);
	assert_int_equal(k8s_portforward_demux_feed(&d, other, 2, true, &p), 0);
	assert_int_equal(k8s_portforward_demux_feed(&d, other + 2, 2, false, &p), -EPROTO);
}

static void test_continuation_without_start(void **state)
{
	struct k8s_portforward_demux d;
	struct k8s_portforward_piece p;

	k8s_portforward_demux_init(&d, PORT);
	assert_int_equal(k8s_portforward_demux_feed(&d, data_hdr, sizeof(data_hdr), false, &p),
			 -EPROTO);
}

static void test_open_refuses_bad_arguments(void **state)
{
	char err[256];
	struct k8s_portforward_opts o = {
		.server = "https://127.0.0.1:1",
		.namespace_ = "default",
		.pod = "web",
		.port = 80,
		.err = err,
		.err_size = sizeof(err),
	};
	struct k8s_portforward *pf = NULL;
	int fd = -1;

	o.server = "http://127.0.0.1:1";
	assert_int_equal(k8s_portforward_open(&o, &fd, &pf), -EINVAL);
	assert_non_null(strstr(err, "bad API server URL"));
	o.server = "https://127.0.0.1:99999";
	assert_int_equal(k8s_portforward_open(&o, &fd, &pf), -EINVAL);
	o.server = "https://127.0.0.1:1";
	o.pod = "../secrets";
	assert_int_equal(k8s_portforward_open(&o, &fd, &pf), -EINVAL);
	assert_non_null(strstr(err, "bad namespace or pod name"));
	o.pod = "web";
	o.port = 0;
	assert_int_equal(k8s_portforward_open(&o, &fd, &pf), -EINVAL);
	o.port = 80;
	o.token = "a\r\nX-Evil: 1";
	assert_int_equal(k8s_portforward_open(&o, &fd, &pf), -EINVAL);
	assert_non_null(strstr(err, "bad bearer token"));
	o.token = NULL;
	o.ca_pem = "not a certificate";
	assert_int_equal(k8s_portforward_open(&o, &fd, &pf), -EINVAL);
	assert_non_null(strstr(err, "no certificate in the CA bundle"));
	o.ca_pem = NULL;
	o.client_cert_pem = "x";
	assert_int_equal(k8s_portforward_open(&o, &fd, &pf), -EINVAL);
	/* nothing was handed out */
	assert_null(pf);
	assert_int_equal(fd, -1);
	assert_null(k8s_portforward_free(NULL));
}

/* A real connection attempt to a closed loopback port, twice in a row:
 * the service thread starts, reports, stops and starts again. */
static void test_open_refused_twice(void **state)
{
	char err[256];
	struct k8s_portforward_opts o = {
		.server = "https://127.0.0.1:1",
		.namespace_ = "default",
		.pod = "web",
		.port = 80,
		.err = err,
		.err_size = sizeof(err),
	};
	struct k8s_portforward *pf = NULL;
	int fd = -1;

	for (int i = 0; i < 2; i++) {
		assert_int_equal(k8s_portforward_open(&o, &fd, &pf), -ECONNREFUSED);
		assert_non_null(strstr(err, "connection refused"));
		assert_null(pf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers_then_data),
		cmocka_unit_test(test_split_everywhere),
		cmocka_unit_test(test_unknown_channel_sticks),
		cmocka_unit_test(test_wrong_port),
		cmocka_unit_test(test_continuation_without_start),
		cmocka_unit_test(test_open_refuses_bad_arguments),
		cmocka_unit_test(test_open_refused_twice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
