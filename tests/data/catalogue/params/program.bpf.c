// SPDX-License-Identifier: GPL-2.0
/*
 * Params written as Inspektor Gadget's gadgets write them: a plain
 * variable without a key in gadget.yaml (the flag is --target_syscall), a
 * numeric param whose gadget.yaml defaultValue is "" (unset: the
 * initializer stays), and one with a one-letter alias (-k).
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;
	__s64 nr;
	__s32 target_signal; /* the param's value, for the tests to read */
	bool kill_only;
};

const volatile int target_syscall = -1;
GADGET_PARAM(target_syscall);

const volatile int target_signal = 7;
GADGET_PARAM(target_signal);

const volatile bool kill_only = false;
GADGET_PARAM(kill_only);

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(syscalls, events, event);

SEC("raw_tracepoint/sys_enter")
int ig_params_sys(struct bpf_raw_tracepoint_args *ctx)
{
	long nr = (long)ctx->args[1];
	struct event *e;

	if (target_syscall >= 0 && nr != target_syscall)
		return 0;
	if (gadget_should_discard_data_current())
		return 0;
	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return 0;
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&e->proc);
	e->nr = nr;
	e->target_signal = target_signal;
	e->kill_only = kill_only;
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
