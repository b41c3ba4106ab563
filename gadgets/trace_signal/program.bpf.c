// SPDX-License-Identifier: GPL-2.0
/*
 * trace_signal: signals as they are generated, from the tracepoint
 * signal/signal_generate.
 *
 * The tracepoint fires in the sender's context: a process calling kill(2)
 * and friends, or, for signals the kernel raises (SIGSEGV, SIGCHLD,
 * SIGPIPE...), the task whose action caused them.  The filters apply to
 * the sender.
 *
 * As in Inspektor Gadget's trace_signal, --kill-only (-k) reports the
 * kill(2), tkill(2) and tgkill(2) calls themselves, at their exit, with the
 * error they returned, and --failed only what failed: a call that fails
 * (ESRCH, EPERM) generates no signal, so --failed watches those calls too.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

/* si_code values of signals sent by a process (include/uapi/asm-generic/siginfo.h). */
#define SI_USER	 0    /* kill(2) */
#define SI_QUEUE (-1) /* sigqueue(3) */
#define SI_TKILL (-6) /* tkill(2), tgkill(2) */

#define EAGAIN 11

/* What became of the signal (enum trace_signal_result in the kernel). */
enum result {
	delivered,
	ignored,
	already_pending,
	overflow_fail,
	lose_info,
};

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc; /* the sender */

	gadget_pid tpid; /* the target thread */
	char tcomm[TASK_COMM_LEN];
	gadget_signal sig_raw;
	__s32 code; /* si_code: 0 kill, -6 tkill, 128 kernel, ... */
	enum result result_raw;
	gadget_errno error_raw; /* EAGAIN when the real-time queue overflowed, else 0 */
};

const volatile gadget_signal target_signal = 0;
GADGET_PARAM(target_signal);

const volatile bool failed_only = false;
GADGET_PARAM(failed_only);

const volatile bool kill_only = false;
GADGET_PARAM(kill_only);

/* A kill-family call between its entry and its exit. */
struct call {
	gadget_pid tpid;
	gadget_signal sig;
	__s32 code;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct call);
} calls SEC(".maps");

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(signal, events, event);

static __always_inline int call_enter(gadget_pid tpid, int sig, int code)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct call c = {.tpid = tpid, .sig = sig, .code = code};

	if (!kill_only && !failed_only)
		return 0;
	if (target_signal && sig != target_signal)
		return 0;
	if (gadget_should_discard_data_current())
		return 0;
	bpf_map_update_elem(&calls, &tid, &c, BPF_ANY);
	return 0;
}

static __always_inline int call_exit(void *ctx, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct call *c = bpf_map_lookup_elem(&calls, &tid);
	struct event *e;

	if (!c)
		return 0;
	/* a successful call was reported by signal_generate, unless with --kill-only */
	if ((failed_only || !kill_only) && ret >= 0)
		goto out;
	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		goto out;
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&e->proc);
	e->tpid = c->tpid;
	e->tcomm[0] = '\0';
	e->sig_raw = c->sig;
	e->code = c->code;
	e->result_raw = ret < 0 ? ignored : delivered;
	e->error_raw = ret < 0 ? -ret : 0;
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
out:
	bpf_map_delete_elem(&calls, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_kill")
int ig_sig_kill_e(struct syscall_trace_enter *ctx)
{
	return call_enter((gadget_pid)ctx->args[0], (int)ctx->args[1], SI_USER);
}

SEC("tracepoint/syscalls/sys_exit_kill")
int ig_sig_kill_x(struct syscall_trace_exit *ctx)
{
	return call_exit(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_tkill")
int ig_sig_tkill_e(struct syscall_trace_enter *ctx)
{
	return call_enter((gadget_pid)ctx->args[0], (int)ctx->args[1], SI_TKILL);
}

SEC("tracepoint/syscalls/sys_exit_tkill")
int ig_sig_tkill_x(struct syscall_trace_exit *ctx)
{
	return call_exit(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_tgkill")
int ig_sig_tgkill_e(struct syscall_trace_enter *ctx)
{
	return call_enter((gadget_pid)ctx->args[1], (int)ctx->args[2], SI_TKILL);
}

SEC("tracepoint/syscalls/sys_exit_tgkill")
int ig_sig_tgkill_x(struct syscall_trace_exit *ctx)
{
	return call_exit(ctx, ctx->ret);
}

SEC("tracepoint/signal/signal_generate")
int ig_sig_generate(struct trace_event_raw_signal_generate *ctx)
{
	int code = ctx->code;
	struct event *e;

	/* --kill-only: the calls, at their exit, report it */
	if (kill_only)
		return 0;
	if (target_signal && ctx->sig != target_signal)
		return 0;
	/* --failed: what the kernel could not queue */
	if (failed_only && ctx->result != overflow_fail && ctx->result != lose_info)
		return 0;
	if (gadget_should_discard_data_current())
		return 0;

	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return 0;
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&e->proc);
	e->tpid = ctx->pid;
	bpf_probe_read_kernel_str(e->tcomm, sizeof(e->tcomm), ctx->comm);
	e->sig_raw = ctx->sig;
	e->code = code;
	e->result_raw = ctx->result;
	e->error_raw = ctx->result == overflow_fail ? EAGAIN : 0;
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
