// SPDX-License-Identifier: GPL-2.0
/*
 * A histogram slot that is not an array: gadget_histogram_slot__u32 only
 * means something as the slots of a log2 histogram, so running this gadget
 * must fail in one line naming the field.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

#include <gadget/macros.h>
#include <gadget/maps.bpf.h>
#include <gadget/types.h>

struct hist_key {
	__u32 cpu;
};

struct hist_value {
	gadget_histogram_slot__u32 latency;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct hist_key);
	__type(value, struct hist_value);
} hists SEC(".maps");

GADGET_MAPITER(hist, hists);

static const struct hist_value zero = {};

SEC("tracepoint/syscalls/sys_enter_getppid")
int ig_hist_bad(void *ctx)
{
	struct hist_key k = {.cpu = bpf_get_smp_processor_id()};
	struct hist_value *v = bpf_map_lookup_or_try_init(&hists, &k, &zero);

	if (v)
		__sync_fetch_and_add(&v->latency, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
