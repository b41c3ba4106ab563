// SPDX-License-Identifier: GPL-2.0
/*
 * A tiny gadget for the image build tests (tests/unit/test_oci_build.c):
 * one record per kill(2), from the syscall tracepoint, through the gadget
 * API headers.  Small on purpose, so that the build stays fast; it only has
 * to compile, carry BTF and declare a data source and a param.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

#include <gadget/buffer.h>
#include <gadget/macros.h>
#include <gadget/types.h>

struct event {
	gadget_timestamp timestamp_raw;
	__u32 pid;
	__u32 target;
	__s32 sig;
};

const volatile __s32 targ_sig = 0;
GADGET_PARAM(targ_sig);

GADGET_TRACER_MAP(events, 1024 * 64);
GADGET_TRACER(kill, events, event);

SEC("tracepoint/syscalls/sys_enter_kill")
int ig_kill_e(struct syscall_trace_enter *ctx)
{
	struct event *e;
	__s32 sig = ctx->args[1];

	if (targ_sig && sig != targ_sig)
		return 0;
	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return 0;
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->target = ctx->args[0];
	e->sig = sig;
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
