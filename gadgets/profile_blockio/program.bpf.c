// SPDX-License-Identifier: GPL-2.0
/*
 * profile_blockio: block I/O latency as a log2 histogram of microseconds,
 * summed in a hash map that the runtime fetches (and clears) at every
 * interval.
 *
 * A request is timed from block:block_rq_issue (handed to the driver) to
 * block:block_rq_complete, so the histogram is the device's service time.
 * With --queued, requests of a queue that has an I/O scheduler are timed
 * from block:block_rq_insert instead, which adds the time they waited in
 * the scheduler.  The tracepoints are attached as tp_btf programs: they get
 * the struct request itself, which identifies an I/O from start to end
 * (the classic tracepoint records only carry a device and a sector).
 *
 * Everything happens in the kernel: one histogram per key (all zero, or
 * the disk and the request flags with --per-disk and --per-flag), no event
 * per I/O.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include <gadget/bits.bpf.h>
#include <gadget/core_fixes.bpf.h>
#include <gadget/macros.h>
#include <gadget/maps.bpf.h>
#include <gadget/types.h>

/* Slot 26 holds [2^25, 2^26) us and everything slower: about 33 s and up. */
#define MAX_SLOTS   27
#define MAX_ENTRIES 10240

/* The kernel's dev_t encoding (include/linux/kdev_t.h). */
#define MINORBITS 20
#define MKDEV(ma, mi) (((__u32)(ma) << MINORBITS) | (__u32)(mi))

/* One histogram per disk (the whole disk, not the partition). */
const volatile bool targ_per_disk = false;
GADGET_PARAM(targ_per_disk);

/* One histogram per value of the request's cmd_flags (operation and flags). */
const volatile bool targ_per_flag = false;
GADGET_PARAM(targ_per_flag);

/* Include the time spent in the I/O scheduler's queue. */
const volatile bool targ_queued = false;
GADGET_PARAM(targ_queued);

struct hist_key {
	__u32 cmd_flags;
	__u32 dev;
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

GADGET_MAPITER(blockio, hists);

/*
 * Start time of each request in flight.  A request is a preallocated tag of
 * its queue, reused for I/O after I/O: an entry whose completion was missed
 * is overwritten the next time the request starts, so the map stays small.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_ENTRIES);
	__type(key, struct request *);
	__type(value, __u64);
} start SEC(".maps");

static const struct hist_value zero_hist;

static __always_inline void stamp(struct request *rq)
{
	__u64 ts = bpf_ktime_get_ns();

	bpf_map_update_elem(&start, &rq, &ts, BPF_ANY);
}

SEC("tp_btf/block_rq_insert")
int BPF_PROG(ig_profio_ins, struct request *rq)
{
	if (targ_queued)
		stamp(rq);
	return 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(ig_profio_iss, struct request *rq)
{
	/* with --queued, keep the insert time of requests that went through a scheduler */
	if (targ_queued && BPF_CORE_READ(rq, q, elevator))
		return 0;
	stamp(rq);
	return 0;
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(ig_profio_done, struct request *rq, blk_status_t error, unsigned int nr_bytes)
{
	struct hist_key key = {};
	struct hist_value *h;
	__u64 *tsp, slot;
	__s64 delta;

	/*
	 * A request may complete in parts; it ends with the part that covers
	 * what is left of it (__data_len is only reduced after this tracepoint).
	 */
	if (nr_bytes < BPF_CORE_READ(rq, __data_len))
		return 0;
	tsp = bpf_map_lookup_elem(&start, &rq);
	if (!tsp)
		return 0;
	delta = (__s64)(bpf_ktime_get_ns() - *tsp);
	bpf_map_delete_elem(&start, &rq);
	if (delta < 0)
		return 0;

	if (targ_per_disk) {
		struct gendisk *disk = get_disk(rq);

		if (disk)
			key.dev = MKDEV(BPF_CORE_READ(disk, major), BPF_CORE_READ(disk, first_minor));
	}
	if (targ_per_flag)
		key.cmd_flags = BPF_CORE_READ(rq, cmd_flags);

	h = bpf_map_lookup_or_try_init(&hists, &key, &zero_hist);
	if (!h)
		return 0;
	slot = get_slot_idx((__u64)delta / 1000);
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	__sync_fetch_and_add(&h->latency[slot], 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
