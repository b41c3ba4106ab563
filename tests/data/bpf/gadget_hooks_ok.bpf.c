// SPDX-License-Identifier: Apache-2.0
/*
 * One program per kind of hook the runtime attaches by section (tracepoint,
 * raw tracepoint, BTF tracepoint), each emitting a record naming itself on
 * getppid() from targ_pid, plus programs attach must leave alone: a socket
 * filter, a uprobe without a target and an iterator.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define GETPPID_NR 110

struct ho_event {
	__u32 hook;
	__u32 pid;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} ho_events SEC(".maps");

const volatile __u32 targ_pid = 0;
const void *gadget_param_targ_pid __attribute__((unused));

const void *gadget_tracer_hooks___ho_events___ho_event __attribute__((unused));
const struct ho_event *__gadget_tracer_type_hooks __attribute__((unused));

static __always_inline int emit(__u32 hook)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct ho_event *e;

	if (targ_pid && pid != targ_pid)
		return 0;
	e = bpf_ringbuf_reserve(&ho_events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->hook = hook;
	e->pid = pid;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp/syscalls/sys_enter_getppid")
int ho_tp(void *ctx)
{
	return emit(1);
}

SEC("raw_tp/sys_enter")
int ho_raw_tp(struct bpf_raw_tracepoint_args *ctx)
{
	if (ctx->args[1] != GETPPID_NR)
		return 0;
	return emit(2);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(ho_tp_btf, struct pt_regs *regs, long id)
{
	if (id != GETPPID_NR)
		return 0;
	return emit(3);
}

SEC("socket")
int ho_socket(struct __sk_buff *skb)
{
	return 0;
}

SEC("uprobe")
int ho_uprobe(void *ctx)
{
	return 0;
}

SEC("iter/task")
int ho_iter(struct bpf_iter__task *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
