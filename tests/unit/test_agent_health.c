// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the health port (agent/health.c) over a real loopback socket:
 * what a probe and a scraper get, byte for byte, including a /metrics body
 * of several megabytes that the kernel takes in many partial writes (the
 * body is sent from where it was built, after the head), HEAD, and the
 * errors a bad request gets.
 */
#include "agent/health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

struct fx {
	struct agent_health *h;
	int port;
	size_t body_bytes; /* what the metrics callback writes */
	int metrics_err;   /* or this error */
	int scrapes;
};

/* Lines of a fixed width, numbered, so that a lost or repeated byte shows. */
static int metrics(void *ctx, struct base_buf *out)
{
	struct fx *f = ctx;
	size_t i;
	int r = 0;

	f->scrapes++;
	if (f->metrics_err)
		return f->metrics_err;
	for (i = 0; out->len < f->body_bytes && r >= 0; i++)
		r = base_buf_printf(out, "series_total{n=\"%09zu\"} %zu\n", i, i);
	return r;
}

static bool ready(void *ctx, char *why, size_t len)
{
	snprintf(why, len, "no runtime");
	return false;
}

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct agent_health_ops o = {.metrics = metrics, .ready = ready, .ctx = f};
	char addr[64], err[256];

	assert_non_null(f);
	f->port = free_port();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
	assert_int_equal(agent_health_new(addr, &o, &f->h, err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	agent_health_free(f->h);
	free(f);
	return 0;
}

/*
 * Sends req and reads the whole reply (the server closes), running the
 * server's side in between; a small receive buffer makes the server's
 * writes partial.  Returns a NUL-terminated copy; *len is its length.
 */
static char *exchange(struct fx *f, const char *req, size_t *len)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)f->port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct base_buf got = BASE_BUF_INIT(64u << 20);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rcv = 4096, rounds;
	char buf[65536];

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	for (rounds = 0; rounds < 1000000; rounds++) {
		struct pollfd p = {.fd = agent_health_fd(f->h), .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 1) > 0)
			assert_int_equal(agent_health_process(f->h), 0);
		n = read(fd, buf, sizeof(buf));
		if (n == 0)
			break;
		if (n < 0) {
			assert_int_equal(errno, EAGAIN);
			continue;
		}
		assert_int_equal(base_buf_append(&got, buf, (size_t)n), 0);
	}
	close(fd);
	*len = got.len;
	return got.data ? base_buf_take(&got) : strdup("");
}

/* The value of a header, or NULL. */
static const char *header(const char *reply, const char *name, char *out, size_t len)
{
	const char *p = strstr(reply, name), *end;

	if (!p)
		return NULL;
	p += strlen(name);
	end = strstr(p, "\r\n");
	snprintf(out, len, "%.*s", (int)(end - p), p);
	return out;
}

static void test_large_metrics_body(void **state)
{
	struct fx *f = *state;
	char cl[32], *reply, *body;
	size_t len, i, lines = 0;

	f->body_bytes = 3u << 20;
	reply = exchange(f, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &len);
	assert_true(!strncmp(reply, "HTTP/1.1 200 OK\r\n", 17));
	assert_non_null(strstr(reply, "Content-Type: " AGENT_HEALTH_METRICS_TYPE "\r\n"));
	body = strstr(reply, "\r\n\r\n");
	assert_non_null(body);
	body += 4;
	assert_non_null(header(reply, "Content-Length: ", cl, sizeof(cl)));
	assert_int_equal(strtoul(cl, NULL, 10), len - (size_t)(body - reply));
	assert_true(len - (size_t)(body - reply) >= f->body_bytes);
	/* every line, in order, once */
	for (i = 0; *body; i++) {
		char want[64];
		int n = snprintf(want, sizeof(want), "series_total{n=\"%09zu\"} %zu\n", i, i);

		assert_memory_equal(body, want, (size_t)n);
		body += n;
		lines++;
	}
	assert_true(lines > 80000);
	assert_int_equal(f->scrapes, 1);
	free(reply);
}

static void test_head_and_errors(void **state)
{
	struct fx *f = *state;
	char cl[32], *reply;
	size_t len;

	/* HEAD: the length of the body a GET would get, and no body */
	f->body_bytes = 100000;
	reply = exchange(f, "HEAD /metrics HTTP/1.1\r\n\r\n", &len);
	assert_non_null(header(reply, "Content-Length: ", cl, sizeof(cl)));
	assert_true(strtoul(cl, NULL, 10) >= 100000);
	assert_int_equal(len, (size_t)(strstr(reply, "\r\n\r\n") + 4 - reply));
	free(reply);

	/* a failing collector is a 500 with its reason */
	f->metrics_err = -E2BIG;
	reply = exchange(f, "GET /metrics HTTP/1.1\r\n\r\n", &len);
	assert_true(!strncmp(reply, "HTTP/1.1 500 ", 13));
	assert_non_null(strstr(reply, "\r\n\r\n"));
	assert_non_null(strstr(strstr(reply, "\r\n\r\n"), strerror(E2BIG)));
	free(reply);

	reply = exchange(f, "GET /readyz HTTP/1.1\r\n\r\n", &len);
	assert_true(!strncmp(reply, "HTTP/1.1 503 ", 13));
	assert_non_null(strstr(reply, "\r\n\r\nno runtime\n"));
	free(reply);

	reply = exchange(f, "GET /healthz HTTP/1.1\r\n\r\n", &len);
	assert_true(!strncmp(reply, "HTTP/1.1 200 OK\r\n", 17));
	assert_non_null(strstr(reply, "Content-Length: 3\r\n"));
	assert_non_null(strstr(reply, "\r\n\r\nok\n"));
	free(reply);

	reply = exchange(f, "POST /metrics HTTP/1.1\r\n\r\n", &len);
	assert_true(!strncmp(reply, "HTTP/1.1 405 ", 13));
	free(reply);
	reply = exchange(f, "GET /nope HTTP/1.1\r\n\r\n", &len);
	assert_true(!strncmp(reply, "HTTP/1.1 404 ", 13));
	free(reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_large_metrics_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_and_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
