// SPDX-License-Identifier: Apache-2.0
/*
 * cri_call: a raw gRPC client over our CRI transport, for the integration
 * tests that hold it against an independent gRPC server.
 *
 *   cri_call SOCKET METHOD [--timeout MS] [--hex] [--twice] < REQUEST
 *   cri_call SOCKET METHOD --stream < REQUEST
 *
 * The request bytes are read from stdin.  A unary call writes the reply
 * bytes to stdout (with --hex: as one line of hex).  --twice makes a second
 * call with the same request on the same transport after SIGUSR1 arrives,
 * printing "first done" on stderr when it is ready for the signal (so a test
 * can restart the server in between).  --stream prints each message of a
 * server-streaming call as a line of hex, polling the stream's descriptor
 * as the container collection does.
 *
 * On failure the errno name (e.g. "ETIMEDOUT") is printed on stderr and
 * the exit status is the errno value; a stream's end is such a failure too
 * (ECONNRESET when the server finished with OK).  Usage errors exit with
 * 255.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "cri/transport.h"

#define CRI_CALL_USAGE 255

static int usage(void)
{
	fprintf(stderr, "usage: cri_call SOCKET METHOD [--timeout MS] [--hex] [--twice]\n"
			"       cri_call SOCKET METHOD --stream\n");
	return CRI_CALL_USAGE;
}

static int fail(int err)
{
	const char *name = strerrorname_np(-err);

	fprintf(stderr, "%s: %s\n", name ? name : "?", strerror(-err));
	fflush(stdout);
	return -err & 0xff;
}

static void print_hex(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%02x", p[i]);
	putchar('\n');
}

static int read_stdin(struct base_buf *b)
{
	char chunk[65536];
	ssize_t n;
	int r;

	while ((n = read(STDIN_FILENO, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		r = base_buf_append(b, chunk, (size_t)n);
		if (r < 0)
			return r;
	}
	return 0;
}

static int unary(struct cri_transport *t, const char *method, const struct base_buf *req,
		 int timeout_ms, int hex)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	r = cri_transport_call(t, method, req->data, req->len, timeout_ms, &buf, &len);
	if (r < 0)
		return r;
	if (hex)
		print_hex(buf, len);
	else if (len && fwrite(buf, 1, len, stdout) != len)
		r = -EIO;
	fflush(stdout);
	free(buf);
	return r;
}

static int stream(struct cri_transport *t, const char *method, const struct base_buf *req)
{
	struct cri_transport_stream *s = NULL;
	struct pollfd pfd;
	uint8_t *buf;
	size_t len;
	int r;

	r = cri_transport_stream_open(t, method, req->data, req->len, &s);
	if (r < 0)
		return r;
	pfd.fd = cri_transport_stream_fd(s);
	pfd.events = POLLIN;
	for (;;) {
		/* level-triggered, like the collection's epoll: drain, then wait */
		while ((r = cri_transport_stream_next(s, &buf, &len)) == 1) {
			print_hex(buf, len);
			free(buf);
		}
		if (r < 0)
			break;
		fflush(stdout);
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
	}
	fflush(stdout);
	cri_transport_stream_free(s);
	return r;
}

int main(int argc, char **argv)
{
	struct base_buf req = BASE_BUF_INIT(CRI_MAX_REPLY);
	struct cri_transport *t = NULL;
	int timeout_ms = 10000, hex = 0, twice = 0, streaming = 0, i, r, sig;
	sigset_t set;
	char *end;

	if (argc < 3)
		return usage();
	for (i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			errno = 0;
			timeout_ms = (int)strtol(argv[++i], &end, 10);
			if (errno || *end || timeout_ms <= 0)
				return usage();
		} else if (!strcmp(argv[i], "--hex")) {
			hex = 1;
		} else if (!strcmp(argv[i], "--twice")) {
			twice = 1;
		} else if (!strcmp(argv[i], "--stream")) {
			streaming = 1;
		} else {
			return usage();
		}
	}
	/* block SIGUSR1 before anything can send it */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	r = read_stdin(&req);
	if (r == 0)
		r = cri_transport_new(argv[1], &t);
	if (r == 0 && streaming) {
		r = stream(t, argv[2], &req);
	} else if (r == 0) {
		r = unary(t, argv[2], &req, timeout_ms, hex);
		if (r == 0 && twice) {
			fprintf(stderr, "first done\n");
			sigwait(&set, &sig);
			r = unary(t, argv[2], &req, timeout_ms, hex);
		}
	}
	cri_transport_free(t);
	base_buf_done(&req);
	return r < 0 ? fail(r) : 0;
}
