/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one-program tracer the hook tests build around a single section name:
 * each gadget_hook_*.bpf.c names the hook it exercises and nothing else, so
 * what a test asserts is the runtime's reaction to that hook alone.
 */
#ifndef TEST_HOOK_TRACER_H
#define TEST_HOOK_TRACER_H

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

#define HOOK_TRACER(section, prog)                                                                 \
	SEC(section)                                                                               \
	int prog(void *ctx)                                                                        \
	{                                                                                          \
		struct hk_event *e = bpf_ringbuf_reserve(&hk_events, sizeof(*e), 0);               \
		if (!e)                                                                            \
			return 0;                                                                  \
		e->pid = bpf_get_current_pid_tgid() >> 32;                                         \
		bpf_ringbuf_submit(e, 0);                                                          \
		return 0;                                                                          \
	}                                                                                          \
	char LICENSE[] SEC("license") = "GPL";

#endif /* TEST_HOOK_TRACER_H */
