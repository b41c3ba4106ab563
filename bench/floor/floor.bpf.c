// SPDX-License-Identifier: GPL-2.0
/*
 * The streaming floor the benchmark compares tracers with: on every openat
 * exit, the smallest useful record (time, pid, tid) goes into a ring buffer
 * with BPF_RB_NO_WAKEUP, and nothing else happens in the kernel.  Its
 * consumer (floor.c) polls every 10 ms.  Any tracer that streams every event
 * to user space pays at least this; what a real gadget adds above it is the
 * work of filling a useful record and of waking its reader.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

struct floor_record {
	__u64 ts;
	__u32 pid;
	__u32 tid;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} records SEC(".maps");

/* Records that found the ring full. */
__u64 lost = 0;

SEC("tracepoint/syscalls/sys_exit_openat")
int floor_openat(void *ctx)
{
	struct floor_record *r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);
	__u64 id;

	if (!r) {
		__sync_fetch_and_add(&lost, 1);
		return 0;
	}
	id = bpf_get_current_pid_tgid();
	r->ts = bpf_ktime_get_boot_ns();
	r->pid = id >> 32;
	r->tid = (__u32)id;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
