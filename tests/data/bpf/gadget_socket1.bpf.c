// SPDX-License-Identifier: Apache-2.0
/*
 * A socket filter in Inspektor Gadget's "socket1" section that records the
 * network namespace id the dispatcher put in skb->cb[0] for each UDP packet
 * to port 9 it sees.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct sf_event {
	__u32 netns;
	__u32 len;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} sf_events SEC(".maps");

const void *gadget_tracer_sf___sf_events___sf_event __attribute__((unused));
const struct sf_event *__gadget_tracer_type_sf __attribute__((unused));

SEC("socket1")
int ig_sf(struct __sk_buff *skb)
{
	struct sf_event *e;
	__u16 dport;
	__u8 proto;

	/* Ethernet (14), IPv4 without options (20), UDP */
	if (bpf_skb_load_bytes(skb, 14 + 9, &proto, 1) || proto != 17 ||
	    bpf_skb_load_bytes(skb, 14 + 20 + 2, &dport, 2) || dport != __builtin_bswap16(9))
		return 0;
	e = bpf_ringbuf_reserve(&sf_events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->netns = skb->cb[0];
	e->len = skb->len;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
