// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for the socket enricher (bpf/socket_enricher.c) on the real kernel:
 * after bind, connect, a first datagram, or for a socket that existed
 * before the enricher, gadget_sockets names this process; a closed socket
 * is marked by the sweep and dropped after the grace period; the enricher
 * is shared and unloaded with its last user.
 */
#include "bpf/socket_enricher.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <cmocka.h>

/* <gadget/sockets-map.h>'s key and the fixed part of its value. */
struct key {
	uint32_t netns;
	uint16_t family;
	uint8_t proto;
	uint16_t port;
};

struct value {
	uint64_t mntns;
	uint64_t pid_tgid;
	uint64_t uid_gid;
	char task[16];
	char ptask[16];
	uint64_t sock;
	uint64_t deletion_timestamp;
	uint32_t ppid;
	uint32_t ptid;
	char ipv6only;
} __attribute__((aligned(8)));

static uint32_t self_netns(void)
{
	struct stat st;

	assert_int_equal(stat("/proc/self/ns/net", &st), 0);
	return (uint32_t)st.st_ino;
}

static uint16_t local_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	return ntohs(sa.sin_port);
}

static int lookup(struct bpf_socket_enricher *e, int proto, uint16_t port, struct value *v)
{
	struct key k;

	memset(&k, 0, sizeof(k)); /* the padding byte is part of the hash key */
	k.netns = self_netns();
	k.family = AF_INET;
	k.proto = (uint8_t)proto;
	k.port = port;
	return bpf_map_lookup_elem(bpf_socket_enricher_map_fd(e), &k, v) ? -errno : 0;
}

static void assert_mine(const struct value *v)
{
	char comm[16] = "";

	prctl(PR_GET_NAME, comm);
	assert_int_equal(v->pid_tgid >> 32, getpid());
	assert_int_equal((uint32_t)v->uid_gid, getuid());
	assert_int_equal(v->ppid, getppid());
	assert_string_equal(v->task, comm);
	assert_int_equal(v->deletion_timestamp, 0);
}

static int udp_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	return fd;
}

static struct sockaddr_in loopback(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

static void test_existing_bind_connect_send(void **state)
{
	struct sockaddr_in any = loopback(0), nine = loopback(9);
	struct bpf_socket_enricher *e = NULL;
	int before = udp_socket(), b = udp_socket(), c = udp_socket(), s = udp_socket();
	struct value v;
	char err[256] = "";

	/* a socket bound before the enricher starts: found by iter/task_file */
	assert_int_equal(bind(before, (struct sockaddr *)&any, sizeof(any)), 0);
	assert_int_equal(bpf_socket_enricher_get(&e, err, sizeof(err)), 0);
	assert_int_equal(lookup(e, IPPROTO_UDP, local_port(before), &v), 0);
	assert_mine(&v);

	/* bind: the syscall tracepoints */
	assert_int_equal(bind(b, (struct sockaddr *)&any, sizeof(any)), 0);
	assert_int_equal(lookup(e, IPPROTO_UDP, local_port(b), &v), 0);
	assert_mine(&v);

	/* connect: the local port is chosen then */
	assert_int_equal(connect(c, (struct sockaddr *)&nine, sizeof(nine)), 0);
	assert_int_equal(lookup(e, IPPROTO_UDP, local_port(c), &v), 0);
	assert_mine(&v);

	/* sendto from an unbound socket: net_dev_queue, before the packet leaves */
	assert_int_equal(sendto(s, "x", 1, 0, (struct sockaddr *)&nine, sizeof(nine)), 1);
	assert_int_equal(lookup(e, IPPROTO_UDP, local_port(s), &v), 0);
	assert_mine(&v);

	close(before);
	close(b);
	close(c);
	close(s);
	bpf_socket_enricher_put(e);
}

static void test_closed_socket_swept(void **state)
{
	struct sockaddr_in any = loopback(0);
	struct bpf_socket_enricher *e = NULL, *e2 = NULL;
	int fd = udp_socket();
	char err[256] = "";
	struct value v;
	uint16_t port;

	assert_int_equal(bpf_socket_enricher_get(&e, err, sizeof(err)), 0);
	assert_int_equal(bpf_socket_enricher_get(&e2, err, sizeof(err)), 0);
	assert_ptr_equal(e, e2); /* one per process */
	bpf_socket_enricher_put(e2);

	assert_int_equal(bind(fd, (struct sockaddr *)&any, sizeof(any)), 0);
	port = local_port(fd);
	assert_int_equal(bpf_socket_enricher_sweep(e), 0);
	assert_int_equal(lookup(e, IPPROTO_UDP, port, &v), 0);
	assert_int_equal(v.deletion_timestamp, 0); /* alive: left alone */

	close(fd);
	usleep(100 * 1000); /* the socket is freed after an RCU grace period */
	assert_int_equal(bpf_socket_enricher_sweep(e), 0);
	assert_int_equal(lookup(e, IPPROTO_UDP, port, &v), 0);
	assert_true(v.deletion_timestamp != 0); /* closed: kept for its last packets */

	usleep((BPF_SOCKET_ENRICHER_GRACE_MS + 200) * 1000);
	assert_int_equal(bpf_socket_enricher_sweep(e), 0);
	assert_int_equal(lookup(e, IPPROTO_UDP, port, &v), -ENOENT);
	bpf_socket_enricher_put(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_existing_bind_connect_send),
		cmocka_unit_test(test_closed_socket_swept),
	};

	if (geteuid() != 0) {
		print_message("skipped: needs root\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
