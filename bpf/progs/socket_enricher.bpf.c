// SPDX-License-Identifier: Apache-2.0
/*
 * The socket enricher: fills gadget_sockets, the map of <gadget/sockets-map.h>
 * (key: network namespace, family, protocol, local port; value: the process
 * that owns the socket), which packet gadgets read to name the process behind
 * a packet.  Built into ig and loaded by bpf/socket_enricher.c.
 *
 * Inspektor Gadget fills the map from kprobes on inet_bind, tcp_connect,
 * udp_sendmsg and inet_release.  Kernels built without kprobes, or where
 * fentry is refused, need other hooks; these all work there:
 *
 *  - tp_btf/net_dev_queue: a packet leaving through a device, before the
 *    packet taps (where socket filters run) see it.  For a UDP socket, and
 *    for a TCP socket sending its SYN, this runs in the sending task, which
 *    is recorded when the socket is not known yet.  A UDP socket is
 *    therefore known before its first datagram reaches any socket filter.
 *  - tracepoint/syscalls/sys_exit_{bind,connect,listen}: the owner
 *    of explicitly bound sockets (servers), of connected UDP sockets and of
 *    listeners, from the file descriptor the syscall names.
 *  - iter/task_file at start: every socket that already exists, with the
 *    task whose file table holds it.
 *  - a syscall program the loader runs now and then: drops entries whose
 *    socket was closed (sk_socket cleared by sock_orphan(), or the memory reused for
 *    another socket) after a grace period, so late packets are still named.
 *
 * Blind spots: a TCP socket that only receives (an accepted connection) is
 * named after its listener, like Inspektor Gadget does; packets of a socket
 * in softirq context before its owner sent anything (none for UDP and TCP
 * clients); sockets passed to another process keep their first owner.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

#define AF_INET	     2
#define AF_INET6     10
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define S_IFMT_	     00170000
#define S_IFSOCK_    0140000
/* include/net/tcp_states.h */
#define TCP_SYN_SENT_	  2
#define TCP_TIME_WAIT_	  6
#define TCP_NEW_SYN_RECV_ 12

/* The key and the always-present part of struct gadget_socket_value. */
struct se_key {
	__u32 netns;
	__u16 family;
	__u8 proto;
	__u16 port;
};

struct se_value {
	__u64 mntns;
	__u64 pid_tgid;
	__u64 uid_gid;
	char task[16];
	char ptask[16];
	__u64 sock;
	__u64 deletion_timestamp;
	__u32 ppid;
	__u32 ptid;
	char ipv6only;
} __attribute__((aligned(8)));

_Static_assert(sizeof(struct se_key) == 12, "gadget_socket_key is 12 bytes");
_Static_assert(sizeof(struct se_value) == 88, "gadget_socket_value's fixed part is 88 bytes");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct se_key);
	__type(value, struct se_value);
} gadget_sockets SEC(".maps");

/* Closed sockets stay this long, for their last packets (set by the loader). */
const volatile __u64 se_grace_ns = 5000000000ULL;

static __always_inline bool sock_key(struct sock *sk, struct se_key *k)
{
	struct inet_sock *inet = (struct inet_sock *)sk;

	if (!sk)
		return false;
	k->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (k->family != AF_INET && k->family != AF_INET6)
		return false;
	k->proto = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
	if (k->proto != IPPROTO_TCP_ && k->proto != IPPROTO_UDP_)
		return false;
	k->port = bpf_ntohs(BPF_CORE_READ(inet, inet_sport));
	if (!k->port)
		return false;
	k->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	return true;
}

/*
 * The owner's identity.  For the current task the helpers are cheaper than
 * reading the task: the hooks that see the sending or binding task use them.
 */
static __always_inline void fill_task(struct se_value *v, struct task_struct *task, bool current,
				      struct sock *sk, __u16 family)
{
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);

	v->mntns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	if (current) {
		v->pid_tgid = bpf_get_current_pid_tgid();
		v->uid_gid = bpf_get_current_uid_gid();
		bpf_get_current_comm(&v->task, sizeof(v->task));
	} else {
		const struct cred *cred = BPF_CORE_READ(task, real_cred);

		v->pid_tgid =
			(__u64)BPF_CORE_READ(task, tgid) << 32 | (__u32)BPF_CORE_READ(task, pid);
		v->uid_gid =
			(__u64)BPF_CORE_READ(cred, gid.val) << 32 | BPF_CORE_READ(cred, uid.val);
		BPF_CORE_READ_STR_INTO(&v->task, task, comm);
	}
	if (parent) {
		BPF_CORE_READ_STR_INTO(&v->ptask, parent, comm);
		v->ppid = BPF_CORE_READ(parent, tgid);
		v->ptid = BPF_CORE_READ(parent, pid);
	}
	v->sock = (__u64)sk;
	if (family == AF_INET6)
		v->ipv6only = BPF_CORE_READ_BITFIELD_PROBED(sk, __sk_common.skc_ipv6only);
}

/* Records task as the owner of sk, whose key is k. */
static __always_inline void record(struct se_key *k, struct sock *sk, struct task_struct *task,
				   bool current)
{
	struct se_value v = {};

	fill_task(&v, task, current, sk, k->family);
	bpf_map_update_elem(&gadget_sockets, k, &v, BPF_ANY);
}

/*
 * Records task as the owner of sk unless the map already names this very
 * socket (or, with keep_other, any socket on its key).
 */
static __always_inline void upsert(struct sock *sk, struct task_struct *task, bool current,
				   bool keep_other)
{
	struct se_value *old;
	struct se_key k = {};

	if (!sock_key(sk, &k))
		return;
	old = bpf_map_lookup_elem(&gadget_sockets, &k);
	if (old && (old->sock == (__u64)sk || keep_other))
		return;
	record(&k, sk, task, current);
}

/* A packet leaving through a device: the first one of a UDP socket or TCP SYN. */
SEC("tp_btf/net_dev_queue")
int BPF_PROG(se_xmit, struct sk_buff *skb)
{
	struct task_struct *task;
	struct sock *sk;
	__u8 state, proto;
	struct se_key k = {};
	struct se_value *old;

	sk = BPF_CORE_READ(skb, sk);
	if (!sk)
		return 0;
	state = BPF_CORE_READ(sk, __sk_common.skc_state);
	if (state == TCP_TIME_WAIT_ || state == TCP_NEW_SYN_RECV_)
		return 0; /* not a full socket */
	proto = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
	if (proto != IPPROTO_UDP_ && !(proto == IPPROTO_TCP_ && state == TCP_SYN_SENT_))
		return 0;
	if (!sock_key(sk, &k))
		return 0;
	old = bpf_map_lookup_elem(&gadget_sockets, &k);
	if (old && old->sock == (__u64)sk)
		return 0;
	/* Kernel sockets (tunnels) have no file; softirq has another namespace. */
	if (!BPF_CORE_READ(sk, sk_socket, file))
		return 0;
	task = (struct task_struct *)bpf_get_current_task();
	if (BPF_CORE_READ(task, nsproxy, net_ns, ns.inum) != k.netns)
		return 0;
	record(&k, sk, task, true);
	return 0;
}

/* The socket behind fd in the current task's file table, or NULL. */
static __always_inline struct sock *fd_sock(struct task_struct *task, __u32 fd)
{
	struct file **fds, *f = NULL;
	struct socket *so;
	unsigned int max;
	__u16 mode;

	fds = BPF_CORE_READ(task, files, fdt, fd);
	max = BPF_CORE_READ(task, files, fdt, max_fds);
	if (!fds || fd >= max)
		return NULL;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT_) != S_IFSOCK_)
		return NULL;
	so = BPF_CORE_READ(f, private_data);
	return so ? BPF_CORE_READ(so, sk) : NULL;
}

/*
 * The fd is the syscall's first argument, read back from the user registers
 * saved at entry, which the syscall leaves as they were: no entry program
 * and no per-thread map.
 */
static __always_inline int exit_fd(struct trace_event_raw_sys_exit *ctx, bool connect)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	long ret = ctx->ret;

	/* -EINPROGRESS: a non-blocking TCP connect whose SYN is out */
	if (ret != 0 && !(connect && ret == -115))
		return 0;
	upsert(fd_sock(task, (__u32)PT_REGS_PARM1_CORE_SYSCALL(regs)), task, true, false);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_bind")
int se_bind_x(struct trace_event_raw_sys_exit *ctx)
{
	return exit_fd(ctx, false);
}

SEC("tracepoint/syscalls/sys_exit_connect")
int se_connect_x(struct trace_event_raw_sys_exit *ctx)
{
	return exit_fd(ctx, true);
}

SEC("tracepoint/syscalls/sys_exit_listen")
int se_listen_x(struct trace_event_raw_sys_exit *ctx)
{
	return exit_fd(ctx, false);
}

/* Sockets that exist at start, with a task that holds them. */
SEC("iter/task_file")
int se_existing(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct socket *so;

	/* an iterator that writes nothing for a long time gets -EAGAIN */
	if (ctx->meta->seq_num % 65536 == 0)
		bpf_seq_write(ctx->meta->seq, ".", 1);
	if (!task || !file)
		return 0;
	so = bpf_sock_from_file(file);
	if (!so)
		return 0;
	/* a listener beats the connections it accepted, which share its port */
	upsert(BPF_CORE_READ(so, sk), task, false, true);
	return 0;
}

/* Entries of closed sockets go after se_grace_ns: one entry of the sweep. */
static long sweep_one(struct bpf_map *map, struct se_key *key, struct se_value *v, void *ctx)
{
	struct se_key k = {};
	struct sock *sk;
	__u64 now;
	bool alive;

	sk = (struct sock *)v->sock;
	alive = BPF_CORE_READ(sk, sk_socket) && sock_key(sk, &k) && k.netns == key->netns &&
		k.family == key->family && k.proto == key->proto && k.port == key->port;
	if (alive) {
		v->deletion_timestamp = 0;
		return 0;
	}
	now = bpf_ktime_get_ns();
	if (!v->deletion_timestamp)
		v->deletion_timestamp = now;
	else if (now - v->deletion_timestamp > se_grace_ns)
		bpf_map_delete_elem(map, key);
	return 0;
}

/*
 * Run by the loader with BPF_PROG_TEST_RUN now and then.  (An
 * iter/bpf_map_elem program, what Inspektor Gadget uses, is refused with
 * EPERM on some kernels; a syscall program walking the map is not.)
 */
SEC("syscall")
int se_sweep(void *ctx)
{
	bpf_for_each_map_elem(&gadget_sockets, sweep_one, NULL, 0);
	return 0;
}

char _license[] SEC("license") = "GPL";
