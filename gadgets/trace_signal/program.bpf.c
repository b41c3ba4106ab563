// SPDX-License-Identifier: GPL-2.0
/*
 * trace_signal: signals as they are generated, from the tracepoint
 * signal/signal_generate.
 *
 * The tracepoint fires in the sender's context: a process calling kill(2)
 * and friends, or, for signals the kernel raises (SIGSEGV, SIGCHLD,
 * SIGPIPE...), the task whose action caused them.  The filters apply to
 * the sender.
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

const volatile gadget_signal targ_signal = 0;
GADGET_PARAM(targ_signal);

const volatile bool kill_only = false;
GADGET_PARAM(kill_only);

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(signal, events, event);

SEC("tracepoint/signal/signal_generate")
int ig_sig_generate(struct trace_event_raw_signal_generate *ctx)
{
	int code = ctx->code;
	struct event *e;

	if (targ_signal && ctx->sig != targ_signal)
		return 0;
	if (kill_only && code != SI_USER && code != SI_QUEUE && code != SI_TKILL)
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
