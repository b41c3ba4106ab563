// SPDX-License-Identifier: GPL-2.0
/*
 * trace_tcpdrop: TCP packets the kernel drops (skb:kfree_skb, with its drop
 * reason), with both endpoints, the connection's state, the packet's TCP
 * flags, the kernel stack and the process that owns the socket, from the
 * socket enricher (drops happen in softirq, where the current task means
 * nothing).  Packets dropped before they found a socket have none and are
 * not reported, as in Inspektor Gadget.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include <gadget/buffer.h>
#include <gadget/kernel_stack_map.h>
#include <gadget/macros.h>
#include <gadget/mntns_filter.h>
#include <gadget/types.h>

#define GADGET_TYPE_TRACING
#include <gadget/sockets-map.h>

#define AF_INET	     2
#define AF_INET6     10
#define IPPROTO_TCP_ 6
/* enum skb_drop_reason: 0 is not dropped yet, 1 consumed; real drops follow */
#define DROP_REASON_FIRST 2

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

struct event {
	gadget_timestamp timestamp_raw;
	gadget_netns_id netns_id;
	struct gadget_l4endpoint_t src;
	struct gadget_l4endpoint_t dst;
	gadget_mntns_id mount_ns_id;
	gadget_comm comm[TASK_COMM_LEN];
	gadget_pid pid;
	gadget_tid tid;
	gadget_uid uid;
	gadget_gid gid;
	enum tcp_state state_raw;
	enum tcp_flags_set tcpflags_raw;
	enum skb_drop_reason reason_raw;
	gadget_kernel_stack kernel_stack_raw;
};

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(tcpdrop, events, event);

SEC("tracepoint/skb/kfree_skb")
int ig_tcpdrop(struct trace_event_raw_kfree_skb *ctx)
{
	struct sk_buff *skb = ctx->skbaddr;
	struct gadget_socket_value *sv;
	struct inet_sock *inet;
	unsigned char *head;
	struct sock *sk;
	struct event *e;
	__u16 family, th;

	if ((int)ctx->reason < DROP_REASON_FIRST)
		return 0;
	sk = BPF_CORE_READ(skb, sk);
	if (!sk)
		sk = ctx->rx_sk;
	if (!sk || BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) != IPPROTO_TCP_)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	inet = (struct inet_sock *)sk;
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	e->reason_raw = ctx->reason;
	e->state_raw = BPF_CORE_READ(sk, __sk_common.skc_state);
	e->kernel_stack_raw = gadget_get_kernel_stack(ctx);
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
	/* byte 13 of the TCP header holds the flags */
	head = BPF_CORE_READ(skb, head);
	th = BPF_CORE_READ(skb, transport_header);
	if (head && th != (__u16)~0U)
		bpf_probe_read_kernel(&e->tcpflags_raw, 1, head + th + 13);
	e->netns_id = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	sv = gadget_socket_lookup(sk, e->netns_id);
	if (sv) {
		if (gadget_should_discard_mntns_id(sv->mntns)) {
			gadget_discard_buf(e);
			return 0;
		}
		e->mount_ns_id = sv->mntns;
		e->pid = sv->pid_tgid >> 32;
		e->tid = (__u32)sv->pid_tgid;
		__builtin_memcpy(e->comm, sv->task, sizeof(e->comm));
		e->uid = (__u32)sv->uid_gid;
		e->gid = sv->uid_gid >> 32;
	} else if (gadget_filter_by_mntns) {
		gadget_discard_buf(e);
		return 0;
	}
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
