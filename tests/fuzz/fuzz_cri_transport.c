// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for the CRI transport's reply path (cri/transport.c:
 * our gRPC framing over libnghttp2).  The input is what the runtime sends
 * back, written into a real unix socket that the transport dialed, after
 * our request.
 *
 *   byte 0: bit 0 prepends an empty SETTINGS frame (the server preface, so
 *           inputs need not find it), bit 1 makes a server-streaming call
 *           instead of a unary one, bits 2-4 pick the write size
 *
 * A unary call blocks, so its server is a thread that writes the input,
 * shuts its side down and reads until the client hangs up.  A stream is
 * driven from this thread, as the container collection drives it: write a
 * piece, take the messages, and so on until the end.
 *
 * Beyond not crashing: every result is 0 or one of the errnos transport.h
 * promises, no reply or message is larger than CRI_MAX_REPLY or than the
 * input, and a stream that ended keeps saying so.  A broken promise aborts.
 */
#include "cri/transport.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t fuzz_settings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
static const size_t fuzz_chunks[8] = {1, 2, 3, 7, 9, 64, 1000, SIZE_MAX};

static char fuzz_dir[] = "/tmp/fuzz_cri_transport.XXXXXX";
static char fuzz_path[64];
static int fuzz_lfd = -1;

struct fuzz_server {
	int fd;
	bool settings;
	const uint8_t *data;
	size_t size, chunk;
};

static void fuzz_cleanup(void)
{
	unlink(fuzz_path);
	rmdir(fuzz_dir);
}

static void fuzz_listen(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (fuzz_lfd >= 0)
		return;
	if (!mkdtemp(fuzz_dir))
		abort();
	snprintf(fuzz_path, sizeof(fuzz_path), "%s/cri.sock", fuzz_dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fuzz_path);
	fuzz_lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fuzz_lfd < 0 || bind(fuzz_lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fuzz_lfd, 4))
		abort();
	atexit(fuzz_cleanup);
}

/* What transport.h says a call or a stream can end with. */
static bool fuzz_known(int r)
{
	switch (-r) {
	case 0:
	case ECANCELED:
	case EIO:
	case EINVAL:
	case ETIMEDOUT:
	case ESRCH:
	case EEXIST:
	case EACCES:
	case E2BIG:
	case EBUSY:
	case ECONNABORTED:
	case ERANGE:
	case EOPNOTSUPP:
	case EPROTO:
	case ECONNREFUSED:
	case ECONNRESET:
	case ENOMEM:
		return true;
	default:
		return false;
	}
}

/* Reads and drops what the client wrote, without blocking. */
static void fuzz_discard(int fd)
{
	uint8_t buf[4096];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static void *fuzz_unary_server(void *arg)
{
	struct fuzz_server *s = arg;
	uint8_t buf[4096];
	size_t off, n;

	s->fd = accept4(fuzz_lfd, NULL, NULL, SOCK_CLOEXEC);
	if (s->fd < 0)
		abort();
	if (s->settings)
		send(s->fd, fuzz_settings, sizeof(fuzz_settings), MSG_NOSIGNAL);
	for (off = 0; off < s->size; off += n) {
		n = s->size - off < s->chunk ? s->size - off : s->chunk;
		if (send(s->fd, s->data + off, n, MSG_NOSIGNAL) < 0)
			break;
	}
	shutdown(s->fd, SHUT_WR);
	while (read(s->fd, buf, sizeof(buf)) > 0)
		;
	return NULL;
}

static void fuzz_unary(struct fuzz_server *s)
{
	struct cri_transport *t = NULL;
	pthread_t th;
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if (cri_transport_new(fuzz_path, &t))
		abort();
	r = pthread_create(&th, NULL, fuzz_unary_server, s);
	if (r)
		abort();
	r = cri_transport_call(t, "/fuzz.Transport/Unary", "q", 1, 2000, &buf, &len);
	/* hanging up ends the server's read, and any write the reply did not need */
	cri_transport_free(t);
	pthread_join(th, NULL);
	if (!fuzz_known(r) || (r == 0 && (len > CRI_MAX_REPLY || len > s->size)))
		abort();
	free(buf);
}

/* Takes the messages the stream has; false once it ended. */
static bool fuzz_take(struct cri_transport_stream *st, size_t *total, int *end)
{
	uint8_t *buf;
	size_t len;
	int r;

	while ((r = cri_transport_stream_next(st, &buf, &len)) == 1) {
		if (len > CRI_MAX_REPLY)
			abort();
		*total += len;
		free(buf);
	}
	if (r < 0) {
		if (!fuzz_known(r) || (*end && *end != r))
			abort();
		*end = r;
		return false;
	}
	return true;
}

static void fuzz_stream(struct fuzz_server *s)
{
	struct cri_transport_stream *st = NULL;
	struct cri_transport *t = NULL;
	struct pollfd pfd;
	size_t off = 0, n, total = 0;
	ssize_t w;
	int end = 0, rounds;

	if (cri_transport_new(fuzz_path, &t))
		abort();
	/* connect() completes into the listener's backlog: accept after it */
	if (cri_transport_stream_open(t, "/fuzz.Transport/Stream", "q", 1, &st))
		abort();
	s->fd = accept4(fuzz_lfd, NULL, NULL, SOCK_CLOEXEC);
	if (s->fd < 0)
		abort();
	if (s->settings)
		send(s->fd, fuzz_settings, sizeof(fuzz_settings), MSG_NOSIGNAL);
	while (off < s->size && fuzz_take(st, &total, &end)) {
		n = s->size - off < s->chunk ? s->size - off : s->chunk;
		w = send(s->fd, s->data + off, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno != EAGAIN)
			break;
		if (w > 0)
			off += (size_t)w;
		fuzz_discard(s->fd);
	}
	shutdown(s->fd, SHUT_WR);
	/* the end of the input ends the stream: end of file at the latest */
	pfd.fd = cri_transport_stream_fd(st);
	pfd.events = POLLIN;
	for (rounds = 0; fuzz_take(st, &total, &end); rounds++) {
		fuzz_discard(s->fd);
		if (rounds > 1000 || poll(&pfd, 1, 2000) != 1)
			abort();
	}
	/* and ended it stays, with the same error */
	if (total > s->size || !end || fuzz_take(st, &total, &end))
		abort();
	cri_transport_stream_free(st);
	cri_transport_free(t);
	close(s->fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_server s = {.fd = -1};

	if (size < 1)
		return 0;
	fuzz_listen();
	s.settings = data[0] & 1;
	s.chunk = fuzz_chunks[(data[0] >> 2) & 7];
	s.data = data + 1;
	s.size = size - 1;
	if (data[0] & 2) {
		fuzz_stream(&s);
		return 0;
	}
	fuzz_unary(&s);
	close(s.fd);
	return 0;
}
