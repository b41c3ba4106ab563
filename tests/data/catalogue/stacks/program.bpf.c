// SPDX-License-Identifier: GPL-2.0
/*
 * Stacks the way Inspektor Gadget's gadgets take them: a kernel stack in a
 * gadget_kernel_stack field named *_raw and a user stack in a struct
 * gadget_user_stack, on every openat(2).  The tests open a marker file from
 * a known function of a test binary and look for the names.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filter.h>
#include <gadget/kernel_stack_map.h>
#include <gadget/macros.h>
#include <gadget/types.h>
#include <gadget/user_stack_map.h>

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;
	gadget_kernel_stack kstack_raw;
	struct gadget_user_stack ustack;
	char fname[128];
};

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(open, events, event);

SEC("tracepoint/syscalls/sys_enter_openat")
int ig_stacks_open(struct syscall_trace_enter *ctx)
{
	struct event *e;
	long kstack;

	if (gadget_should_discard_data_current())
		return 0;
	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return 0;
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&e->proc);
	kstack = gadget_get_kernel_stack(ctx);
	e->kstack_raw = kstack >= 0 ? kstack : -1;
	gadget_get_user_stack_from_tracepoint(ctx, &e->ustack);
	bpf_probe_read_user_str(e->fname, sizeof(e->fname), (const char *)ctx->args[1]);
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
