// SPDX-License-Identifier: Apache-2.0
/*
 * A tracer for tests/unit/test_bpf_gadget.c: on getppid() from targ_pid it
 * emits one record carrying targ_magic, its mount namespace and targ_tag.
 * It has the mount namespace filter, a lost-samples counter and the wakeup
 * threshold knob of the gadget API, all declared by hand.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

typedef __u64 gadget_mntns_id;
typedef __u64 gadget_timestamp;
typedef __u32 gadget_pid;
typedef char gadget_comm;

enum tr_mode {
	TR_MODE_A = 0,
	TR_MODE_B = 1,
	TR_MODE_C = 7,
};

struct tr_event {
	__u64 magic;
	gadget_timestamp timestamp;
	gadget_mntns_id mntns_id;
	gadget_pid pid;
	gadget_comm comm[16];
	__u32 mode;
	char tag[8];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} tr_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} tr_events_lost_samples SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, gadget_mntns_id);
	__type(value, __u32);
	__uint(max_entries, 1024);
} gadget_mntns_filter_map SEC(".maps");

const volatile bool gadget_filter_by_mntns = false;
const volatile __u32 gadget_ringbuf_wakeup_threshold = 0;

const volatile __u64 targ_magic = 0x1234;
const volatile gadget_pid targ_pid = 0;
const volatile bool targ_enabled = true;
const volatile char targ_tag[8] = "abc";
const volatile enum tr_mode targ_mode = TR_MODE_B;
const volatile __s8 targ_small = -3;
const volatile __u8 targ_u8 = 200;

const void *gadget_param_targ_magic __attribute__((unused));
const void *gadget_param_targ_pid __attribute__((unused));
const void *gadget_param_targ_enabled __attribute__((unused));
const void *gadget_param_targ_tag __attribute__((unused));
const void *gadget_param_targ_mode __attribute__((unused));
const void *gadget_param_targ_small __attribute__((unused));
const void *gadget_param_targ_u8 __attribute__((unused));

/* The data source name has a single underscore: "my_events". */
const void *gadget_tracer_my_events___tr_events___tr_event __attribute__((unused));
const struct tr_event *__gadget_tracer_type_my_events __attribute__((unused));

SEC("tracepoint/syscalls/sys_enter_getppid")
int tr_getppid(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	gadget_mntns_id mntns;
	struct tr_event *e;
	__u32 zero = 0;

	if (!targ_enabled || (targ_pid && targ_pid != pid))
		return 0;
	mntns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	if (gadget_filter_by_mntns && !bpf_map_lookup_elem(&gadget_mntns_filter_map, &mntns))
		return 0;
	e = bpf_ringbuf_reserve(&tr_events, sizeof(*e), 0);
	if (!e) {
		__u64 *lost = bpf_map_lookup_elem(&tr_events_lost_samples, &zero);

		if (lost)
			*lost += 1;
		return 0;
	}
	e->magic = targ_magic;
	e->timestamp = bpf_ktime_get_boot_ns();
	e->mntns_id = mntns;
	e->pid = pid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->mode = targ_mode;
	for (int i = 0; i < 8; i++)
		e->tag[i] = targ_tag[i];
	bpf_ringbuf_submit(e, gadget_ringbuf_wakeup_threshold ? BPF_RB_NO_WAKEUP : 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
