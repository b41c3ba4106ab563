// SPDX-License-Identifier: Apache-2.0
/*
 * A tracer whose only program uses the hook kprobe/do_sys_openat2, for the tests of
 * what a user reads when the kernel lacks a hook.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct hk_event {
	__u32 pid;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} hk_events SEC(".maps");

const void *gadget_tracer_hook___hk_events___hk_event __attribute__((unused));
const struct hk_event *__gadget_tracer_type_hook __attribute__((unused));

SEC("kprobe/do_sys_openat2")
int ig_hook_kprobe(void *ctx)
{
	struct hk_event *e = bpf_ringbuf_reserve(&hk_events, sizeof(*e), 0);

	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
