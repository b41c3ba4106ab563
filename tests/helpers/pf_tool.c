// SPDX-License-Identifier: Apache-2.0
/*
 * pf_tool: relays stdin and stdout through pods/portforward forwards, for
 * the integration tests (tests/integration/test_portforward.py).
 *
 *   pf_tool --server URL [--ca FILE] [--token T] [--cert FILE --key FILE]
 *           [--insecure] [-n NAMESPACE] [--timeout-ms N] [--out PREFIX]
 *           [--start-delay-ms N] [--read-chunk N] [--read-delay-ms N]
 *           [--mem] [-v] POD:PORT...
 *
 * Every forward gets all of stdin.  With one forward and no --out, what the
 * pod sends goes to stdout; otherwise forward i writes to PREFIX.i.  The
 * --start-delay-ms, --read-chunk and --read-delay-ms knobs make a slow
 * reader.  pf_tool exits when every forward has reached EOF: 0, or 1 with
 * "pf_tool: error: <message>" when a forward could not be opened or the
 * server sent an error.  --mem prints "pf_tool: VmHWM <kB>" at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "base/log.h"
#include "k8s/portforward.h"

#define TOOL_MAX_FORWARDS 16
#define TOOL_BUF	  (64u << 10)

struct tool_fwd {
	struct k8s_portforward *pf;
	int fd;
	int out;
	bool eof;
	char pending[TOOL_BUF];
	size_t pending_off, pending_len;
};

static void tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void tool_error(const char *fmt, ...)
{
	va_list ap;

	fputs("pf_tool: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int tool_uint(const char *s, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max) {
		tool_error("bad number \"%s\"", s);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

static char *tool_read_file(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	int r = base_file_read(path, K8S_PORTFORWARD_MAX_PEM, &buf, &len);

	if (r < 0)
		tool_error("%s: %s", path, r == -EFBIG ? "too large" : strerror(-r));
	return r < 0 ? NULL : buf;
}

static void tool_sleep_ms(unsigned long ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void tool_print_hwm(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long kb;

		if (sscanf(line, "VmHWM: %lu kB", &kb) == 1)
			fprintf(stderr, "pf_tool: VmHWM %lu\n", kb);
	}
	if (f)
		fclose(f);
}

static void tool_log(enum base_log_level level, const char *fmt, va_list ap)
{
	fputs("pf_tool: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"server", required_argument, NULL, 's'},
		{"ca", required_argument, NULL, 'C'},
		{"token", required_argument, NULL, 't'},
		{"cert", required_argument, NULL, 'c'},
		{"key", required_argument, NULL, 'k'},
		{"insecure", no_argument, NULL, 'I'},
		{"namespace", required_argument, NULL, 'n'},
		{"timeout-ms", required_argument, NULL, 'T'},
		{"out", required_argument, NULL, 'o'},
		{"start-delay-ms", required_argument, NULL, 'D'},
		{"read-chunk", required_argument, NULL, 'R'},
		{"read-delay-ms", required_argument, NULL, 'd'},
		{"mem", no_argument, NULL, 'm'},
		{"verbose", no_argument, NULL, 'v'},
		{0},
	};
	struct k8s_portforward_opts o = {.namespace_ = "default"};
	static struct tool_fwd fwds[TOOL_MAX_FORWARDS];
	const char *out_prefix = NULL;
	char *ca = NULL, *cert = NULL, *key = NULL;
	unsigned long v, start_delay = 0, read_chunk = TOOL_BUF, read_delay = 0;
	bool mem = false, stdin_open = true;
	char err[K8S_PORTFORWARD_MAX_ERRMSG + 64], *buf = NULL;
	int nf = 0, c, r, status = 1;

	signal(SIGPIPE, SIG_IGN);
	while ((c = getopt_long(argc, argv, "n:v", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o.server = optarg;
			break;
		case 'C':
			ca = tool_read_file(optarg);
			if (!ca)
				goto out;
			o.ca_pem = ca;
			break;
		case 't':
			o.token = optarg;
			break;
		case 'c':
			cert = tool_read_file(optarg);
			if (!cert)
				goto out;
			o.client_cert_pem = cert;
			break;
		case 'k':
			key = tool_read_file(optarg);
			if (!key)
				goto out;
			o.client_key_pem = key;
			break;
		case 'I':
			o.insecure_skip_tls_verify = true;
			break;
		case 'n':
			o.namespace_ = optarg;
			break;
		case 'T':
			if (tool_uint(optarg, 600000, &v) < 0)
				goto out;
			o.connect_timeout_ms = (int)v;
			break;
		case 'o':
			out_prefix = optarg;
			break;
		case 'D':
			if (tool_uint(optarg, 600000, &start_delay) < 0)
				goto out;
			break;
		case 'R':
			if (tool_uint(optarg, TOOL_BUF, &read_chunk) < 0 || !read_chunk)
				goto out;
			break;
		case 'd':
			if (tool_uint(optarg, 60000, &read_delay) < 0)
				goto out;
			break;
		case 'm':
			mem = true;
			break;
		case 'v':
			base_log_set_fn(tool_log);
			base_log_set_level(BASE_LOG_DEBUG);
			break;
		default:
			status = 2;
			goto out;
		}
	}
	if (!o.server || optind >= argc || argc - optind > TOOL_MAX_FORWARDS) {
		tool_error("usage: pf_tool --server URL [options] POD:PORT...");
		status = 2;
		goto out;
	}
	buf = malloc(TOOL_BUF);
	if (!buf)
		goto out;
	o.err = err;
	o.err_size = sizeof(err);
	for (int i = optind; i < argc; i++) {
		struct tool_fwd *f = &fwds[nf];
		char pod[K8S_PORTFORWARD_MAX_NAME + 1];
		const char *colon = strrchr(argv[i], ':');
		size_t pl = colon ? (size_t)(colon - argv[i]) : 0;

		f->out = -1;
		if (!colon || !pl || pl >= sizeof(pod) || tool_uint(colon + 1, 65535, &v) < 0) {
			tool_error("bad target \"%s\" (want POD:PORT)", argv[i]);
			goto out;
		}
		memcpy(pod, argv[i], pl);
		pod[pl] = '\0';
		o.pod = pod;
		o.port = (uint16_t)v;
		r = k8s_portforward_open(&o, &f->fd, &f->pf);
		if (r < 0) {
			tool_error("%s: %s", argv[i], err[0] ? err : strerror(-r));
			goto out;
		}
		nf++;
		if (fcntl(f->fd, F_SETFL, O_NONBLOCK) < 0)
			goto out;
		if (out_prefix || argc - optind > 1) {
			char path[4096];

			snprintf(path, sizeof(path), "%s.%d", out_prefix ? out_prefix : "pf_tool",
				 nf - 1);
			f->out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			if (f->out < 0) {
				tool_error("%s: %s", path, strerror(errno));
				goto out;
			}
		} else {
			f->out = dup(STDOUT_FILENO);
		}
	}
	if (start_delay)
		tool_sleep_ms(start_delay);

	for (;;) {
		struct pollfd p[TOOL_MAX_FORWARDS * 2 + 1];
		bool pending = false, open_any = false;
		int np = 0;

		for (int i = 0; i < nf; i++) {
			pending |= fwds[i].pending_len > 0;
			open_any |= !fwds[i].eof;
		}
		if (!open_any)
			break;
		if (stdin_open && !pending)
			p[np++] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
		for (int i = 0; i < nf; i++) {
			short ev = 0;

			if (!fwds[i].eof)
				ev |= POLLIN;
			if (fwds[i].pending_len && !fwds[i].eof)
				ev |= POLLOUT;
			p[np++] = (struct pollfd){.fd = ev ? fwds[i].fd : -1, .events = ev};
		}
		if (poll(p, (nfds_t)np, -1) < 0) {
			if (errno == EINTR)
				continue;
			tool_error("poll: %s", strerror(errno));
			goto out;
		}
		if (stdin_open && !pending && p[0].revents) {
			ssize_t n = read(STDIN_FILENO, buf, TOOL_BUF);

			if (n <= 0) {
				stdin_open = false;
				for (int i = 0; i < nf; i++)
					shutdown(fwds[i].fd, SHUT_WR);
			}
			for (int i = 0; n > 0 && i < nf; i++) {
				memcpy(fwds[i].pending, buf, (size_t)n);
				fwds[i].pending_off = 0;
				fwds[i].pending_len = (size_t)n;
			}
		}
		for (int i = 0; i < nf; i++) {
			struct tool_fwd *f = &fwds[i];
			ssize_t n;

			if (f->eof)
				continue;
			if (f->pending_len) {
				n = write(f->fd, f->pending + f->pending_off, f->pending_len);
				if (n > 0) {
					f->pending_off += (size_t)n;
					f->pending_len -= (size_t)n;
				} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
					f->pending_len = 0; /* the stream is gone; EOF follows */
				}
			}
			n = read(f->fd, buf, read_chunk);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n <= 0) {
				f->eof = true;
				continue;
			}
			if (base_file_write_all(f->out, buf, (size_t)n) < 0) {
				tool_error("write: %s", strerror(errno));
				goto out;
			}
			if (read_delay)
				tool_sleep_ms(read_delay);
		}
	}
	status = 0;
	for (int i = 0; i < nf; i++) {
		const char *m = k8s_portforward_errmsg(fwds[i].pf);

		if (m) {
			tool_error("%s", m);
			status = 1;
		}
	}
out:
	for (int i = 0; i < nf; i++) {
		fwds[i].pf = k8s_portforward_free(fwds[i].pf);
		if (fwds[i].out >= 0)
			close(fwds[i].out);
	}
	if (mem)
		tool_print_hwm();
	free(buf);
	free(ca);
	free(cert);
	free(key);
	return status;
}
