// SPDX-License-Identifier: GPL-2.0
/*
 * snapshot_socket: the TCP and UDP sockets of every network namespace of the
 * run (ig runs iter/tcp and iter/udp once inside each), with their state,
 * endpoints, inode, owning uid and, when the socket enricher knows it, the
 * process that owns them (and so its container).
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#define GADGET_TYPE_TRACING
#include <gadget/macros.h>
#include <gadget/sockets-map.h>
#include <gadget/types.h>

#define AF_INET	     2
#define AF_INET6     10
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17

/* include/net/tcp_states.h */
enum socket_state {
	ESTABLISHED = 1,
	SYN_SENT,
	SYN_RECV,
	FIN_WAIT1,
	FIN_WAIT2,
	TIME_WAIT,
	CLOSE,
	CLOSE_WAIT,
	LAST_ACK,
	LISTEN,
	CLOSING,
	NEW_SYN_RECV,
};

struct socket_entry {
	struct gadget_l4endpoint_t src;
	struct gadget_l4endpoint_t dst;
	enum socket_state state_raw;
	__u32 ino;
	gadget_uid uid;
	gadget_netns_id netns_id;
	struct gadget_process proc;
};

GADGET_ITER(sockets, socket_entry, ig_snap_tcp, ig_snap_udp);

static __always_inline void emit(struct seq_file *seq, struct sock *sk, __u8 proto, __u8 state)
{
	struct inet_sock *inet = (struct inet_sock *)sk;
	struct socket_entry e = {};
	struct socket *so;
	__u16 family;

	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family == AF_INET) {
		e.src.version = e.dst.version = 4;
		e.src.addr_raw.v4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		e.dst.addr_raw.v4 = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	} else if (family == AF_INET6) {
		e.src.version = e.dst.version = 6;
		BPF_CORE_READ_INTO(&e.src.addr_raw.v6, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&e.dst.addr_raw.v6, sk, __sk_common.skc_v6_daddr);
	} else {
		return;
	}
	e.src.proto_raw = e.dst.proto_raw = proto;
	e.src.port = bpf_ntohs(BPF_CORE_READ(inet, inet_sport));
	e.dst.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	e.state_raw = state;
	e.netns_id = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	e.uid = BPF_CORE_READ(sk, sk_uid.val);
	so = BPF_CORE_READ(sk, sk_socket);
	if (so)
		e.ino = BPF_CORE_READ(container_of(so, struct socket_alloc, socket), vfs_inode.i_ino);
	gadget_process_populate_from_socket(gadget_socket_lookup(sk, e.netns_id), &e.proc);
	bpf_seq_write(seq, &e, sizeof(e));
}

SEC("iter/tcp")
int ig_snap_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tcp_sock *tp;

	if (!skc)
		return 0;
	/* TIME_WAIT and request sockets have no owner and no inode: left out */
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	emit(ctx->meta->seq, (struct sock *)tp, IPPROTO_TCP_,
	     BPF_CORE_READ(skc, skc_state));
	return 0;
}

SEC("iter/udp")
int ig_snap_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;

	if (!udp)
		return 0;
	emit(ctx->meta->seq, (struct sock *)udp, IPPROTO_UDP_,
	     BPF_CORE_READ((struct sock *)udp, __sk_common.skc_state));
	return 0;
}

char _license[] SEC("license") = "GPL";
