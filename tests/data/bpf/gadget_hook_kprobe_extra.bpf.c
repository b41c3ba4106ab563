// SPDX-License-Identifier: Apache-2.0
/*
 * A tracer whose work is done by a tracepoint, plus a kprobe extra, like
 * Inspektor Gadget's trace_tcpretrans: on a kernel without kprobes it runs
 * without the kprobe.
 */
#include "hook_tracer.h"

HOOK_TRACER("tracepoint/syscalls/sys_enter_getppid", ig_hook_main)

SEC("kprobe/do_sys_openat2")
int ig_hook_extra(void *ctx)
{
	return 0;
}
