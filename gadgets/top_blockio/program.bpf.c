// SPDX-License-Identifier: GPL-2.0
/*
 * top_blockio: block device reads and writes per process and disk, summed
 * in a hash map that the runtime fetches (and clears) at every interval.
 *
 * A request is followed through the block tracepoints, attached as tp_btf
 * programs so that each one gets the struct request itself:
 *
 *   block_io_start     the request is built from the first bio, in the
 *                      context of the task that submitted it: who
 *   block_rq_insert    queued for the I/O scheduler: who, if still unknown
 *   block_rq_issue     handed to the driver: start time and size, and who
 *                      if still unknown
 *   block_rq_complete  done, usually in interrupt context: the totals of
 *                      (who, disk, read or write) grow
 *
 * The task is remembered when the request is first seen because completion
 * runs on whatever the CPU was doing.  block_io_start (Linux 6.5) fires for
 * requests built from bios; the fallbacks cover the others (passthrough
 * commands such as SG_IO) and requests that started before the gadget
 * attached, which get the task current at insert or issue: possibly a
 * kworker (kblockd).  The filters (--pid, --comm, containers) are applied
 * to the task remembered, at completion.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include <gadget/common.h>
#include <gadget/core_fixes.bpf.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/maps.bpf.h>
#include <gadget/types.h>

#define MAX_ENTRIES 10240

/* The operation is the low bits of cmd_flags (include/linux/blk_types.h). */
#define REQ_OP_BITS 8
#define REQ_OP_MASK ((1U << REQ_OP_BITS) - 1)

enum rw_type {
	read,
	write,
};

/* Key of the summary: who, which disk, which direction. */
struct info_t {
	struct gadget_process proc;
	enum rw_type rw_raw;
	int major;
	int minor;
};

struct val_t {
	__u64 bytes;
	__u64 us;
	__u32 io;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_ENTRIES);
	__type(key, struct info_t);
	__type(value, struct val_t);
} counts SEC(".maps");

GADGET_MAPITER(blockio, counts);

/* Issue time and size of each request in flight. */
struct start_req_t {
	__u64 ts;
	__u64 data_len;
};

/*
 * Requests are preallocated per queue and reused: an entry whose completion
 * was missed is overwritten when its request is issued again.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_ENTRIES);
	__type(key, struct request *);
	__type(value, struct start_req_t);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_ENTRIES);
	__type(key, struct request *);
	__type(value, struct gadget_process);
} whobyreq SEC(".maps");

static const struct val_t zero_val;

static __always_inline void remember_task(struct request *rq, __u64 flags)
{
	struct gadget_process who;

	__builtin_memset(&who, 0, sizeof(who));
	gadget_process_populate(&who);
	bpf_map_update_elem(&whobyreq, &rq, &who, flags);
}

SEC("tp_btf/block_io_start")
int BPF_PROG(ig_topio_start, struct request *rq)
{
	/* a new request: whatever an earlier user of it left is stale */
	remember_task(rq, BPF_ANY);
	return 0;
}

SEC("tp_btf/block_rq_insert")
int BPF_PROG(ig_topio_ins, struct request *rq)
{
	remember_task(rq, BPF_NOEXIST);
	return 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(ig_topio_iss, struct request *rq)
{
	struct start_req_t s = {
		.ts = bpf_ktime_get_ns(),
		.data_len = BPF_CORE_READ(rq, __data_len),
	};

	remember_task(rq, BPF_NOEXIST);
	bpf_map_update_elem(&start, &rq, &s, BPF_ANY);
	return 0;
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(ig_topio_done, struct request *rq, blk_status_t error, unsigned int nr_bytes)
{
	struct gadget_process *who;
	struct start_req_t *s;
	struct gendisk *disk;
	struct info_t info;
	struct val_t *v;
	__u32 op;

	/* A request completed in parts ends with the part that covers the rest. */
	if (nr_bytes < BPF_CORE_READ(rq, __data_len))
		return 0;
	s = bpf_map_lookup_elem(&start, &rq);
	who = bpf_map_lookup_elem(&whobyreq, &rq);
	if (!s || !who)
		goto end;

	op = BPF_CORE_READ(rq, cmd_flags) & REQ_OP_MASK;
	if (op != REQ_OP_READ && op != REQ_OP_WRITE)
		goto end; /* flushes, discards, zone management... */
	if (gadget_should_discard_data(who->mntns_id, who->pid, who->tid, who->comm,
				       who->creds.uid, who->creds.gid))
		goto end;

	/* The key is hashed with its padding: clear all of it. */
	__builtin_memset(&info, 0, sizeof(info));
	__builtin_memcpy(&info.proc, who, sizeof(info.proc));
	info.rw_raw = op == REQ_OP_WRITE ? write : read;
	disk = get_disk(rq);
	if (disk) {
		info.major = BPF_CORE_READ(disk, major);
		info.minor = BPF_CORE_READ(disk, first_minor);
	}

	v = bpf_map_lookup_or_try_init(&counts, &info, &zero_val);
	if (v) {
		__sync_fetch_and_add(&v->bytes, s->data_len);
		__sync_fetch_and_add(&v->us, (bpf_ktime_get_ns() - s->ts) / 1000);
		__sync_fetch_and_add(&v->io, 1);
	}
end:
	bpf_map_delete_elem(&start, &rq);
	bpf_map_delete_elem(&whobyreq, &rq);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
