// SPDX-License-Identifier: Apache-2.0
/*
 * A tracer whose program the verifier rejects (a map value used without
 * the NULL check), for the test of the load error message.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct bp_event {
	__u64 calls;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} bp_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bp_event);
} bp_counts SEC(".maps");

const void *gadget_tracer_bad___bp_events___bp_event __attribute__((unused));
const struct bp_event *__gadget_tracer_type_bad __attribute__((unused));

SEC("tracepoint/syscalls/sys_enter_getppid")
int bp_getppid(void *ctx)
{
	__u32 zero = 0;
	struct bp_event *e = bpf_map_lookup_elem(&bp_counts, &zero);

	e->calls++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
