// SPDX-License-Identifier: GPL-2.0
/*
 * trace_tcpretrans: TCP retransmissions (tcp:tcp_retransmit_skb), with both
 * endpoints, the connection's state, the segment's TCP flags and the process
 * that owns the socket (from the socket enricher: retransmissions run from
 * timers, where the current task means nothing).
 *
 * Inspektor Gadget also reports tail loss probes through a kprobe on
 * tcp_send_loss_probe; kernels without kprobes have no hook there, so this
 * gadget reports retransmissions only (type is always RETRANS).
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include <gadget/buffer.h>
#include <gadget/core_fixes.bpf.h>
#include <gadget/macros.h>
#include <gadget/mntns_filter.h>
#include <gadget/types.h>

#define GADGET_TYPE_TRACING
#include <gadget/sockets-map.h>

#define AF_INET	     2
#define AF_INET6     10
#define IPPROTO_TCP_ 6

enum type {
	RETRANS,
	LOSS,
};

enum tcp_flags_set : __u8 {
	FIN = 0x01,
	SYN = 0x02,
	RST = 0x04,
	PSH = 0x08,
	ACK = 0x10,
	URG = 0x20,
	ECE = 0x40,
	CWR = 0x80,
};

enum tcp_state {
	tcp_established = 1,
	tcp_syn_sent,
	tcp_syn_recv,
	tcp_fin_wait1,
	tcp_fin_wait2,
	tcp_time_wait,
	tcp_close,
	tcp_close_wait,
	tcp_last_ack,
	tcp_listen,
	tcp_closing,
	tcp_new_syn_recv,
};

struct event {
	gadget_timestamp timestamp_raw;
	gadget_netns_id netns_id;
	struct gadget_process proc;
	struct gadget_l4endpoint_t src;
	struct gadget_l4endpoint_t dst;
	enum tcp_state state_raw;
	enum tcp_flags_set tcpflags_raw;
	enum type type_raw;
};

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(tcpretrans, events, event);

SEC("tracepoint/tcp/tcp_retransmit_skb")
int ig_tcpretrans(void *ctx)
{
	const struct sk_buff *skb = gadget_get_tcp_retransmit_skb_skbaddr(ctx);
	const struct sock *sk = gadget_get_tcp_retransmit_skb_skaddr(ctx);
	struct inet_sock *inet = (struct inet_sock *)sk;
	struct gadget_socket_value *sv;
	struct event *e;
	__u16 family;

	if (!sk || BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) != IPPROTO_TCP_)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	e->type_raw = RETRANS;
	e->src.proto_raw = e->dst.proto_raw = IPPROTO_TCP_;
	if (family == AF_INET) {
		e->src.version = e->dst.version = 4;
		e->src.addr_raw.v4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		e->dst.addr_raw.v4 = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	} else {
		e->src.version = e->dst.version = 6;
		BPF_CORE_READ_INTO(&e->src.addr_raw.v6, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&e->dst.addr_raw.v6, sk, __sk_common.skc_v6_daddr);
	}
	e->src.port = bpf_ntohs(BPF_CORE_READ(inet, inet_sport));
	e->dst.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	e->state_raw = BPF_CORE_READ(sk, __sk_common.skc_state);
	/* the header is built on a clone: the flags are in the control block */
	if (skb)
		bpf_probe_read_kernel(&e->tcpflags_raw, 1,
				      &((struct tcp_skb_cb *)&skb->cb[0])->tcp_flags);
	e->netns_id = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	sv = gadget_socket_lookup(sk, e->netns_id);
	if (gadget_filter_by_mntns && (!sv || gadget_should_discard_mntns_id(sv->mntns))) {
		gadget_discard_buf(e);
		return 0;
	}
	gadget_process_populate_from_socket(sv, &e->proc);
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
