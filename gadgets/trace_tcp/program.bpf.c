// SPDX-License-Identifier: GPL-2.0
/*
 * trace_tcp: TCP connections being made (connect), taken (accept) and torn
 * down (close), with both endpoints and the owning process.
 *
 * Everything comes from tracepoints:
 *
 *   sock/inet_sock_set_state  CLOSE -> SYN_SENT happens inside connect(2),
 *                             in the caller's context: remember the caller
 *                             for that socket.  SYN_SENT -> ESTABLISHED (or
 *                             -> CLOSE on failure) completes the handshake,
 *                             usually in softirq: emit "connect" then, when
 *                             the local port is known.  Any other -> CLOSE
 *                             of a remembered socket emits "close".
 *   syscalls/sys_exit_accept4, sys_exit_accept
 *                             the new descriptor's socket gives the
 *                             endpoints; the caller is remembered too.
 *
 * The remembered caller is what close (and completed connect) events
 * carry: they mostly happen in softirq, where "current" is unrelated.
 * Sockets opened before the gadget started are not reported.
 *
 * As in Inspektor Gadget's trace_tcp, fd is the descriptor the call was
 * made on (connect(2)'s socket, accept(2)'s listening socket; -1 for close)
 * and accept_fd the descriptor accept(2) returned (-1 otherwise), and
 * --accept-only, --connect-only and --failure-only select the events.
 * Syscall arguments are read at exit from the registers saved at entry.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filesystem.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

#define AF_INET	    2
#define AF_INET6    10
#define IPPROTO_TCP 6

enum event_type {
	connect,
	accept,
	close,
};

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;

	enum event_type type_raw;
	struct gadget_l4endpoint_t src; /* local end */
	struct gadget_l4endpoint_t dst; /* remote end */
	gadget_netns_id netns_id;
	gadget_errno error_raw;
	int fd;	       /* connect: its socket; accept: the listening socket; close: -1 */
	int accept_fd; /* accept: the new descriptor; otherwise -1 */
};

/* The process that connected or accepted, and the descriptor, per struct sock. */
struct owner {
	struct gadget_process proc;
	int fd;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct owner);
} owners SEC(".maps");

const volatile bool accept_only = false;
GADGET_PARAM(accept_only);

const volatile bool connect_only = false;
GADGET_PARAM(connect_only);

const volatile bool failure_only = false;
GADGET_PARAM(failure_only);

/* Whether the params let events of this type (and this outcome) through. */
static __always_inline bool wanted(enum event_type type, bool failed)
{
	if (accept_only && type != accept)
		return false;
	if (connect_only && type != connect)
		return false;
	return !failure_only || failed;
}

/* The registers of the calling thread as saved on syscall entry. */
static __always_inline struct pt_regs *entry_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(tcp, events, event);

static __always_inline gadget_netns_id sock_netns(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

static __always_inline void set_endpoint(struct gadget_l4endpoint_t *ep, __u16 family,
					 const void *v4, const void *v6, __u16 port)
{
	ep->port = port;
	ep->proto_raw = IPPROTO_TCP;
	/* The tracepoint context may only be read at fixed offsets; copy through a helper. */
	if (family == AF_INET) {
		ep->version = 4;
		bpf_probe_read_kernel(&ep->addr_raw.v4, 4, v4);
	} else {
		ep->version = 6;
		bpf_probe_read_kernel(ep->addr_raw.v6, 16, v6);
	}
}

/* Emits an event for a state change, the process taken from the owners map. */
static __always_inline void emit_state(struct trace_event_raw_inet_sock_set_state *ctx,
				       const struct owner *owner, enum event_type type,
				       gadget_errno error)
{
	const struct sock *sk = ctx->skaddr;
	struct event *e;

	if (!wanted(type, error != 0))
		return;
	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	e->proc = owner->proc;
	e->fd = type == connect ? owner->fd : -1;
	e->accept_fd = -1;
	e->type_raw = type;
	set_endpoint(&e->src, ctx->family, ctx->saddr, ctx->saddr_v6, ctx->sport);
	set_endpoint(&e->dst, ctx->family, ctx->daddr, ctx->daddr_v6, ctx->dport);
	e->netns_id = sock_netns(sk);
	e->error_raw = error;
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
}

SEC("tracepoint/sock/inet_sock_set_state")
int ig_tcp_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 key = (__u64)ctx->skaddr;
	struct owner *owner;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	if (ctx->family != AF_INET && ctx->family != AF_INET6)
		return 0;

	if (ctx->newstate == TCP_SYN_SENT) {
		/* Inside connect(2): the caller owns the socket, its first argument. */
		struct owner o = {};

		if (gadget_should_discard_data_current())
			return 0;
		gadget_process_populate(&o.proc);
		o.fd = (int)PT_REGS_PARM1_CORE_SYSCALL(entry_regs());
		bpf_map_update_elem(&owners, &key, &o, BPF_ANY);
		return 0;
	}

	owner = bpf_map_lookup_elem(&owners, &key);
	if (!owner)
		return 0;

	if (ctx->oldstate == TCP_SYN_SENT) {
		if (ctx->newstate == TCP_ESTABLISHED) {
			emit_state(ctx, owner, connect, 0);
		} else if (ctx->newstate == TCP_CLOSE) {
			/* Refused or timed out: sk_err says why. */
			const struct sock *sk = ctx->skaddr;

			emit_state(ctx, owner, connect, BPF_CORE_READ(sk, sk_err));
		}
	} else if (ctx->newstate == TCP_CLOSE) {
		emit_state(ctx, owner, close, 0);
	}
	if (ctx->newstate == TCP_CLOSE)
		bpf_map_delete_elem(&owners, &key);
	return 0;
}

/* accept(2) returned fd: describe its socket and remember who took it. */
static __always_inline int accepted(struct syscall_trace_exit *ctx)
{
	struct socket *sock;
	struct sock *sk;
	struct file *file;
	struct owner o = {};
	struct event *e;
	__u16 family;
	__u64 key;

	/*
	 * A failed accept has no connection to describe (and non-blocking
	 * servers fail with EAGAIN all the time): not an event, as in IG.
	 */
	if (ctx->ret < 0 || !wanted(accept, false))
		return 0;
	if (gadget_should_discard_data_current())
		return 0;
	file = get_struct_file_for_fd(ctx->ret);
	if (!file)
		return 0;
	/* A descriptor accept() just returned is a socket: its private data is the struct socket.
	 */
	sock = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;

	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&e->proc);
	e->type_raw = accept;
	e->src.proto_raw = IPPROTO_TCP;
	e->dst.proto_raw = IPPROTO_TCP;
	e->src.port = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->dst.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		e->src.version = 4;
		e->dst.version = 4;
		e->src.addr_raw.v4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		e->dst.addr_raw.v4 = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	} else {
		e->src.version = 6;
		e->dst.version = 6;
		bpf_core_read(e->src.addr_raw.v6, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->dst.addr_raw.v6, 16, &sk->__sk_common.skc_v6_daddr);
	}
	e->netns_id = sock_netns(sk);
	e->fd = (int)PT_REGS_PARM1_CORE_SYSCALL(entry_regs());
	e->accept_fd = (int)ctx->ret;

	key = (__u64)sk;
	o.proc = e->proc;
	o.fd = (int)ctx->ret;
	bpf_map_update_elem(&owners, &key, &o, BPF_ANY);
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int ig_accept4_x(struct syscall_trace_exit *ctx)
{
	return accepted(ctx);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int ig_accept_x(struct syscall_trace_exit *ctx)
{
	return accepted(ctx);
}

char LICENSE[] SEC("license") = "GPL";
