/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sending records to userspace through a BPF ring buffer.
 *
 *   GADGET_TRACER_MAP(events, 1024 * 256);
 *   GADGET_TRACER(open, events, event);
 *
 *   e = gadget_reserve_buf(&events, sizeof(*e));    reserve in place ...
 *   if (!e) return 0;
 *   ...fill e...
 *   gadget_submit_buf(ctx, &events, e, sizeof(*e)); ... and commit, or
 *   gadget_output_buf(ctx, &events, &local, size);   copy a finished record
 *
 * GADGET_TRACER_MAP(name, size) declares the ring buffer name, the marker
 * gadget_map_tracer_<name>, and the per-CPU counter <name>_lost_samples
 * (one __u32 key, one __u64 value) that counts records which did not fit.
 * The runtime sums it and reports the loss.  The reserve and output macros
 * find the counter by pasting "_lost_samples" onto their map argument,
 * which is why they are macros: callers pass &events and the paste yields
 * &events_lost_samples.  The runtime may grow the ring at load time.
 *
 * Wakeup policy.  Waking the consumer is the expensive part of a ring buffer
 * (about 12 us per wakeup against 0.6 us for a silent submit on the machines
 * we measured), so the runtime batches.  It sets
 * gadget_ringbuf_wakeup_threshold at load time (for instance to a quarter of
 * the ring) and drains the ring on a short timer (about 10 ms) as well as on
 * wakeups.  Then:
 *
 *   threshold == 0   every commit uses flags 0: the kernel's own policy,
 *                    which wakes the consumer when it has caught up.  This
 *                    is what a loader that knows nothing of the knob gets.
 *   threshold != 0   a commit is silent (BPF_RB_NO_WAKEUP) unless the data
 *                    waiting in the ring, this record included, has reached
 *                    the threshold, in which case it forces a wakeup
 *                    (BPF_RB_FORCE_WAKEUP) so a burst cannot fill the ring
 *                    between two timer ticks.
 *
 * Consumers that rely on threshold != 0 must therefore call
 * ring_buffer__consume() periodically; epoll alone will not see the silent
 * records until the threshold is crossed.
 *
 * Define GADGET_NO_BUF_RESERVE before including this header when the gadget
 * only uses gadget_output_buf(): the reserve/submit/discard helpers and the
 * gadget_heap scratch map are then left out.  Only ring buffers are
 * supported; perf event arrays are not.
 */
#ifndef GADGET_BUFFER_H
#define GADGET_BUFFER_H

#include <bpf/bpf_helpers.h>

/* Size of one gadget_heap slot: the largest record a gadget builds there. */
#ifndef GADGET_MAX_EVENT_SIZE
#define GADGET_MAX_EVENT_SIZE 10240
#endif

/* Set by the runtime before load; see the wakeup policy above. */
const volatile __u32 gadget_ringbuf_wakeup_threshold = 0;

#define GADGET_TRACER_MAP(name, size)                                                              \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_RINGBUF);                                                \
		__uint(max_entries, size);                                                         \
	} name SEC(".maps");                                                                       \
	const void *gadget_map_tracer_##name __attribute__((unused));                              \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                                           \
		__uint(max_entries, 1);                                                            \
		__type(key, __u32);                                                                \
		__type(value, __u64);                                                              \
	} name##_lost_samples SEC(".maps");

static __always_inline void __gadget_count_lost(void *lost_samples)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(lost_samples, &zero);

	/* Per-CPU slot: no other writer can race with this one. */
	if (n)
		*n += 1;
}

/* Commit flags for a record about to become visible in ring buffer map. */
static __always_inline __u64 __gadget_commit_flags(void *map, __u64 adding)
{
	__u64 waiting;

	if (gadget_ringbuf_wakeup_threshold == 0)
		return 0;
	waiting = bpf_ringbuf_query(map, BPF_RB_AVAIL_DATA) + adding;
	if (waiting >= gadget_ringbuf_wakeup_threshold)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

#ifndef GADGET_NO_BUF_RESERVE
/* One GADGET_MAX_EVENT_SIZE scratch slot per CPU (key 0) for large records. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, GADGET_MAX_EVENT_SIZE);
} gadget_heap SEC(".maps");

static __always_inline void *__gadget_reserve_buf(void *map, void *lost_samples, __u64 size)
{
	void *buf = bpf_ringbuf_reserve(map, size, 0);

	if (!buf)
		__gadget_count_lost(lost_samples);
	return buf;
}

/*
 * Reserves size bytes (a constant) in ring buffer *map; NULL when the ring is
 * full, and the loss is counted.  The record must then be submitted or
 * discarded on every path.
 */
#define gadget_reserve_buf(map, size) __gadget_reserve_buf(map, map##_lost_samples, size)

/* Commits a reserved record.  ctx and size are unused with ring buffers. */
static __always_inline long gadget_submit_buf(void *ctx, void *map, void *buf, __u64 size)
{
	/* Queried before the commit: the reserved bytes are already counted. */
	bpf_ringbuf_submit(buf, __gadget_commit_flags(map, 0));
	return 0;
}

/* Drops a reserved record. */
static __always_inline void gadget_discard_buf(void *buf)
{
	/*
	 * Without the threshold keep the kernel's policy: a discard at the head
	 * of the ring may be what unblocks records committed behind it.
	 */
	bpf_ringbuf_discard(buf, gadget_ringbuf_wakeup_threshold ? BPF_RB_NO_WAKEUP : 0);
}
#endif /* GADGET_NO_BUF_RESERVE */

static __always_inline long __gadget_output_buf(void *ctx, void *map, void *lost_samples, void *buf,
						__u64 size)
{
	long err = bpf_ringbuf_output(map, buf, size, __gadget_commit_flags(map, size));

	if (err)
		__gadget_count_lost(lost_samples);
	return err;
}

/*
 * Copies size bytes from buf into ring buffer *map as one record.  size may
 * vary at run time (variable-length records), within what the verifier can
 * bound.  Returns 0 or a negative error; failures are counted as lost.
 */
#define gadget_output_buf(ctx, map, buf, size)                                                     \
	__gadget_output_buf(ctx, map, map##_lost_samples, buf, size)

#endif /* GADGET_BUFFER_H */
