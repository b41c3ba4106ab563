// SPDX-License-Identifier: Apache-2.0
/*
 * A map iterator: counts getppid() calls per pid and comm in a hash map
 * declared with GADGET_MAPITER's marker variable.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

typedef __u32 gadget_pid;
typedef char gadget_comm;

struct mi_key {
	gadget_pid pid;
	gadget_comm comm[16];
};

struct mi_value {
	__u64 calls;
	__u32 last_tid;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct mi_key);
	__type(value, struct mi_value);
} mi_counts SEC(".maps");

const volatile __u32 targ_pid = 0;
const void *gadget_param_targ_pid __attribute__((unused));

const void *gadget_mapiter_getppid_calls___mi_counts __attribute__((unused));

SEC("raw_tracepoint/sys_enter")
int mi_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct mi_key k = {.pid = id >> 32};
	struct mi_value init = {.calls = 1, .last_tid = (__u32)id}, *v;

	/* args[1] is the syscall number; 110 is getppid on x86_64. */
	if (ctx->args[1] != 110 || (targ_pid && k.pid != targ_pid))
		return 0;
	bpf_get_current_comm(k.comm, sizeof(k.comm));
	v = bpf_map_lookup_elem(&mi_counts, &k);
	if (v) {
		__sync_fetch_and_add(&v->calls, 1);
		v->last_tid = (__u32)id;
	} else {
		bpf_map_update_elem(&mi_counts, &k, &init, BPF_ANY);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
