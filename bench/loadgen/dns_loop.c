// SPDX-License-Identifier: Apache-2.0
/*
 * dns_loop: the DNS load of bench/dns.py.
 *
 *   dns_loop serve ADDR                  answers every query on ADDR:53 with
 *                                        one A record (the question copied)
 *   dns_loop query ADDR RATE MS TOKEN    sends RATE queries a second for MS
 *                                        ms from one connected UDP socket,
 *                                        names q<N>.TOKEN.bench, and reads the
 *                                        answers as they come
 *   dns_loop sock bind|connect N         N times: a UDP socket, bound to
 *                                        127.0.0.1:0 or connected to
 *                                        127.0.0.1:9, closed (what the socket
 *                                        enricher hooks cost)
 *
 * query and sock print key=value lines: sent, received, cpu_ns, elapsed_ns.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "loadgen.h"

#define DNS_PORT 53
#define MAX_MSG	 512

static int usage(void)
{
	fprintf(stderr, "usage: dns_loop serve ADDR | query ADDR RATE MS TOKEN | "
			"sock bind|connect N\n");
	return 2;
}

static int addr_of(const char *s, uint16_t port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	return inet_pton(AF_INET, s, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

#define BATCH 64

/* One answer in place: QR, RA, one A record pointing at the question. */
static size_t answer(unsigned char *m, size_t n)
{
	m[2] |= 0x80;
	m[3] = 0x80;
	m[6] = 0;
	m[7] = 1;
	memcpy(m + n, "\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x0a\x00\x00\x01", 16);
	return n + 16;
}

/* Batched (recvmmsg/sendmmsg) so that the server is never what limits the rate. */
static int serve(const char *addr)
{
	static unsigned char bufs[BATCH][MAX_MSG + 16];
	struct sockaddr_in sa, peers[BATCH];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), big = 8 << 20;

	if (fd < 0 || addr_of(addr, DNS_PORT, &sa) || bind(fd, (void *)&sa, sizeof(sa))) {
		perror("dns_loop serve");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		int n, k = 0;

		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = MAX_MSG;
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &peers[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(peers[i]);
		}
		n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
		for (int i = 0; i < n; i++) {
			if (msgs[i].msg_len < 12)
				continue;
			iov[k].iov_base = bufs[i];
			iov[k].iov_len = answer(bufs[i], msgs[i].msg_len);
			msgs[k].msg_hdr = msgs[i].msg_hdr;
			msgs[k].msg_hdr.msg_iov = &iov[k];
			k++;
		}
		if (k > 0)
			sendmmsg(fd, msgs, (unsigned int)k, 0);
	}
}

static size_t query_msg(unsigned char *m, uint16_t id, unsigned long n, const char *token)
{
	char label[32];
	size_t len = 12, l, tl = strlen(token);

	memset(m, 0, 12);
	m[0] = id >> 8;
	m[1] = id & 0xff;
	m[2] = 0x01; /* RD */
	m[5] = 1;    /* one question */
	l = (size_t)snprintf(label, sizeof(label), "q%lu", n);
	m[len++] = (unsigned char)l;
	memcpy(m + len, label, l);
	len += l;
	m[len++] = (unsigned char)tl;
	memcpy(m + len, token, tl);
	len += tl;
	memcpy(m + len,
	       "\x05"
	       "bench\x00\x00\x01\x00\x01",
	       11);
	return len + 11;
}

static int query(int argc, char **argv)
{
	long rate, ms;
	struct sockaddr_in sa;
	unsigned char m[MAX_MSG], buf[MAX_MSG + 64];
	unsigned long sent = 0, received = 0;
	uint64_t start, end, cpu0;
	int fd, big = 8 << 20;

	if (argc != 6 || parse_long(argv[3], 1, 10000000, &rate) ||
	    parse_long(argv[4], 1, 3600000, &ms) || strlen(argv[5]) > 40)
		return usage();
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || addr_of(argv[2], DNS_PORT, &sa) || connect(fd, (void *)&sa, sizeof(sa))) {
		perror("dns_loop query");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	cpu0 = cpu_used_ns();
	start = now_ns();
	end = start + (uint64_t)ms * 1000000ull;
	for (;;) {
		uint64_t t = now_ns();
		unsigned long due = (unsigned long)((t - start) * (uint64_t)rate / 1000000000ull);

		if (t >= end)
			break;
		while (sent < due) {
			size_t len = query_msg(m, (uint16_t)sent, sent, argv[5]);

			if (send(fd, m, len, 0) < 0)
				break;
			sent++;
		}
		while (recv(fd, buf, sizeof(buf), 0) > 0)
			received++;
		/* paced by the millisecond: the process's CPU is then its real work */
		struct timespec ts = {0, 1000000};

		nanosleep(&ts, NULL);
	}
	/* the last answers */
	for (uint64_t stop = now_ns() + 500000000ull; now_ns() < stop && received < sent;) {
		struct timespec ts = {0, 1000000};

		while (recv(fd, buf, sizeof(buf), 0) > 0)
			received++;
		nanosleep(&ts, NULL);
	}
	printf("sent=%lu\nreceived=%lu\ncpu_ns=%llu\nelapsed_ns=%llu\n", sent, received,
	       (unsigned long long)(cpu_used_ns() - cpu0), (unsigned long long)(end - start));
	return 0;
}

static int sock(int argc, char **argv)
{
	bool do_bind;
	struct sockaddr_in sa;
	uint64_t start, cpu0;
	long n;

	if (argc != 4 || parse_long(argv[3], 1, 100000000, &n))
		return usage();
	if (!strcmp(argv[2], "bind"))
		do_bind = true;
	else if (!strcmp(argv[2], "connect"))
		do_bind = false;
	else
		return usage();
	addr_of("127.0.0.1", do_bind ? 0 : 9, &sa);
	cpu0 = cpu_used_ns();
	start = now_ns();
	for (long i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (fd < 0 || (do_bind ? bind(fd, (void *)&sa, sizeof(sa))
				       : connect(fd, (void *)&sa, sizeof(sa)))) {
			perror("dns_loop sock");
			return 1;
		}
		close(fd);
	}
	printf("sent=%ld\ncpu_ns=%llu\nelapsed_ns=%llu\n", n,
	       (unsigned long long)(cpu_used_ns() - cpu0), (unsigned long long)(now_ns() - start));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "serve"))
		return serve(argv[2]);
	if (argc >= 2 && !strcmp(argv[1], "query"))
		return query(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "sock"))
		return sock(argc, argv);
	return usage();
}
