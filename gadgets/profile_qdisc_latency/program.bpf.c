// SPDX-License-Identifier: GPL-2.0
/*
 * profile_qdisc_latency: how long packets wait in the network scheduler
 * (the qdisc) before the driver takes them, as a log2 histogram summed in
 * the kernel and fetched, like Inspektor Gadget's gadget of that name.
 *
 * qdisc:qdisc_enqueue stamps a packet as it enters a queue; qdisc_dequeue
 * takes the stamp and counts the wait.  A packet that leaves otherwise
 * (freed: consume_skb, kfree_skb) closes its stamp too, so that none is
 * left behind; its time in the queue counts as well, as in IG.  The raw
 * tracepoints give the struct sk_buff, which identifies a packet from
 * enqueue to dequeue.
 *
 * --ifindex restricts to one interface (-1: all), --ms counts milliseconds
 * instead of microseconds.  One histogram per interface with
 * --per-interface (the ifindex field), one for all otherwise.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include <gadget/bits.bpf.h>
#include <gadget/macros.h>
#include <gadget/maps.bpf.h>
#include <gadget/types.h>

/* Slot 26 holds [2^25, 2^26) and everything slower. */
#define MAX_SLOTS   27
#define MAX_ENTRIES 10240

const volatile int ifindex = -1;
GADGET_PARAM(ifindex);

const volatile bool targ_ms = false;
GADGET_PARAM(targ_ms);

const volatile bool per_interface = false;
GADGET_PARAM(per_interface);

struct hist_key {
	__s32 ifindex; /* with --per-interface; 0 otherwise */
};

struct hist_value {
	gadget_histogram_slot__u32 latency[MAX_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_ENTRIES);
	__type(key, struct hist_key);
	__type(value, struct hist_value);
} hists SEC(".maps");

GADGET_MAPITER(qdisc, hists);

/* When a queued packet went in, and where. */
struct stamp {
	__u64 ts;
	__s32 ifindex;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_ENTRIES);
	__type(key, __u64);
	__type(value, struct stamp);
} queued SEC(".maps");

static const struct hist_value zero;

static __always_inline void done(struct sk_buff *skb)
{
	__u64 key = (__u64)skb, now = bpf_ktime_get_ns(), delta;
	struct hist_key hk = {};
	struct hist_value *h;
	struct stamp *st;
	__u32 slot;

	st = bpf_map_lookup_elem(&queued, &key);
	if (!st)
		return;
	if (now > st->ts) {
		delta = (now - st->ts) / (targ_ms ? 1000000u : 1000u);
		if (per_interface)
			hk.ifindex = st->ifindex;
		h = bpf_map_lookup_or_try_init(&hists, &hk, &zero);
		if (h) {
			slot = get_slot_idx(delta);
			if (slot >= MAX_SLOTS)
				slot = MAX_SLOTS - 1;
			__sync_fetch_and_add(&h->latency[slot], 1);
		}
	}
	bpf_map_delete_elem(&queued, &key);
}

SEC("raw_tp/qdisc_enqueue")
int BPF_PROG(ig_qdisc_enq, struct Qdisc *qdisc, const struct netdev_queue *txq,
	     struct sk_buff *skb)
{
	struct stamp st = {.ts = bpf_ktime_get_ns()};
	__u64 key = (__u64)skb;

	st.ifindex = BPF_CORE_READ(txq, dev, ifindex);
	if (ifindex >= 0 && st.ifindex != ifindex)
		return 0;
	bpf_map_update_elem(&queued, &key, &st, BPF_ANY);
	return 0;
}

SEC("raw_tp/qdisc_dequeue")
int BPF_PROG(ig_qdisc_deq, struct Qdisc *qdisc, const struct netdev_queue *txq, int packets,
	     struct sk_buff *skb)
{
	if (skb)
		done(skb);
	return 0;
}

SEC("raw_tp/consume_skb")
int BPF_PROG(ig_qdisc_consume, struct sk_buff *skb)
{
	done(skb);
	return 0;
}

SEC("raw_tp/kfree_skb")
int BPF_PROG(ig_qdisc_free, struct sk_buff *skb)
{
	done(skb);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
