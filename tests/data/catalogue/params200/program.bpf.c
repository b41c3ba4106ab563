// SPDX-License-Identifier: GPL-2.0
/*
 * A gadget with 200 params (Inspektor Gadget's trace_lsm has more than 64):
 * they must all be listed and settable.  Param p<N> filters on nothing; the
 * record carries p0, p100 and p199 so the tests see the values set.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

/* p0 = 0, p1 = 1, ... p199 = 199 */
#define P(n)                                                                                       \
	const volatile __u32 p##n = n;                                                             \
	GADGET_PARAM(p##n);
#define P10(t) P(t##0) P(t##1) P(t##2) P(t##3) P(t##4) P(t##5) P(t##6) P(t##7) P(t##8) P(t##9)

// clang-format off
P(0) P(1) P(2) P(3) P(4) P(5) P(6) P(7) P(8) P(9)
P10(1) P10(2) P10(3) P10(4) P10(5) P10(6) P10(7) P10(8) P10(9) P10(10)
P10(11) P10(12) P10(13) P10(14) P10(15) P10(16) P10(17) P10(18) P10(19)
	// clang-format on

	struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;
	__u32 v0, v100, v199;
};

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(many, events, event);

SEC("tracepoint/syscalls/sys_enter_getppid")
int ig_many_getppid(void *ctx)
{
	struct event *e;

	if (gadget_should_discard_data_current())
		return 0;
	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return 0;
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&e->proc);
	e->v0 = p0;
	e->v100 = p100;
	e->v199 = p199;
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
