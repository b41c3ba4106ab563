// SPDX-License-Identifier: GPL-2.0
/*
 * malloc() of libc by its short name, as Inspektor Gadget's trace_malloc
 * probes it: "uprobe/libc:malloc" means the libc each traced process runs
 * with, the host's or its container's own.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/mntns_filter.h>
#include <gadget/types.h>

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;
	__u64 size;
};

/* Only allocations of this size: the tests pick an unusual one. */
const volatile __u64 size_wanted = 0;
GADGET_PARAM(size_wanted);

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(malloc, events, event);

SEC("uprobe/libc:malloc")
int BPF_UPROBE(ig_malloc_e, size_t size)
{
	struct event *e;

	if (size_wanted && size != size_wanted)
		return 0;
	if (gadget_should_discard_data_current())
		return 0;
	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return 0;
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&e->proc);
	e->size = size;
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
