/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel stack traces.  gadget_get_kernel_stack() stores the current
 * kernel stack in the stack map ig_kstack and returns its id, which a
 * record keeps in a gadget_kernel_stack field; the runtime reads the
 * addresses from the map (by that name) and symbolises them with kallsyms.
 */
#ifndef GADGET_KERNEL_STACK_MAP_H
#define GADGET_KERNEL_STACK_MAP_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <gadget/tracing_compat.h>

#define GADGET_KERNEL_MAX_STACK_DEPTH	    127
#define GADGET_KERNEL_STACK_MAP_MAX_ENTRIES 10000

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, GADGET_KERNEL_STACK_MAP_MAX_ENTRIES);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, GADGET_KERNEL_MAX_STACK_DEPTH * sizeof(__u64));
} ig_kstack SEC(".maps");

/* The stack id (>= 0), or a negative error (e.g. -EEXIST on a hash collision). */
static __always_inline long gadget_get_kernel_stack(void *ctx)
{
	return bpf_get_stackid(ctx, &ig_kstack, BPF_F_FAST_STACK_CMP);
}

#endif /* GADGET_KERNEL_STACK_MAP_H */
