// SPDX-License-Identifier: GPL-2.0
/*
 * A map that accumulates until the run stops, as Inspektor Gadget's
 * advise_seccomp does: calls to getppid(2) per command.  gadget.yaml asks
 * for no periodic fetch (paramDefaults) and marks the map
 * ebpf.map.flush-on-stop, so it is printed once, at the end.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

#include <gadget/macros.h>
#include <gadget/maps.bpf.h>
#include <gadget/types.h>

struct calls_key {
	gadget_comm comm[TASK_COMM_LEN];
};

struct calls_value {
	__u64 calls;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct calls_key);
	__type(value, struct calls_value);
} calls SEC(".maps");

GADGET_MAPITER(calls, calls);

static const struct calls_value zero = {};

SEC("tracepoint/syscalls/sys_enter_getppid")
int ig_flush_getppid(void *ctx)
{
	struct calls_key k = {};
	struct calls_value *v;

	bpf_get_current_comm(k.comm, sizeof(k.comm));
	v = bpf_map_lookup_or_try_init(&calls, &k, &zero);
	if (v)
		__sync_fetch_and_add(&v->calls, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
