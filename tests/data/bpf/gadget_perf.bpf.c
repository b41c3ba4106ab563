// SPDX-License-Identifier: Apache-2.0
/*
 * A tracer over a perf event array, declared with the .tracers section
 * form, and a map iterator declared with the .mapiters section form.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct pf_event {
	__u64 magic;
	__u32 pid;
	__u32 pad;
};

struct pf_key {
	__u32 pid;
};

struct pf_value {
	__u64 calls;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} pf_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct pf_key);
	__type(value, struct pf_value);
} pf_calls SEC(".maps");

const volatile __u32 targ_pid = 0;
const void *gadget_param_targ_pid __attribute__((unused));

/* Keep the record type in BTF even if the program stopped using it. */
const struct pf_event *unused_pf_event __attribute__((unused));

struct {
	__type(type, struct pf_event);
	__type(map, pf_events);
} perf_stream SEC(".tracers");

struct {
	__type(map, pf_calls);
} call_counts SEC(".mapiters");

SEC("tracepoint/syscalls/sys_enter_getppid")
int pf_getppid(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct pf_event e = {.magic = 0xfeedf00d, .pid = pid};
	struct pf_key k = {.pid = pid};
	struct pf_value one = {.calls = 1}, *v;

	if (targ_pid && pid != targ_pid)
		return 0;
	bpf_perf_event_output(ctx, &pf_events, BPF_F_CURRENT_CPU, &e, sizeof(e));
	v = bpf_map_lookup_elem(&pf_calls, &k);
	if (v)
		__sync_fetch_and_add(&v->calls, 1);
	else
		bpf_map_update_elem(&pf_calls, &k, &one, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
