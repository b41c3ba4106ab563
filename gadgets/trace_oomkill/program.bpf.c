// SPDX-License-Identifier: GPL-2.0
/*
 * trace_oomkill: processes the OOM killer picks, and who made it pick them.
 *
 * Inspektor Gadget's trace_oomkill puts a kprobe on oom_kill_process(),
 * which kernels without kprobes lack.  The tracepoint oom:mark_victim fires
 * at the same moment, in the same context (the task whose allocation
 * failed, which the record calls fprocess), for the victim it is about to
 * kill; as a BTF tracepoint it gets the victim's struct task_struct.  The
 * fields are IG's, except that pages is the victim's resident memory here
 * (anonymous, file and shared pages), where IG gives the size of the
 * memory the killer considered, which only oom_kill_process() sees.
 *
 * The container filter applies to the victim, whose mount namespace comes
 * first so that the record is enriched with the victim's container.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/macros.h>
#include <gadget/mntns_filter.h>
#include <gadget/types.h>

struct event {
	gadget_timestamp timestamp_raw;
	gadget_mntns_id tmntns_id; /* the victim's: keep it first (enrichment) */
	struct gadget_process fprocess;
	gadget_pid tpid;
	gadget_comm tcomm[TASK_COMM_LEN];
	__u64 pages;
	gadget_uid tuid;
	__s16 oom_score_adj;
};

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(oomkill, events, event);

/* mm->rss_stat[i], a percpu_counter since Linux 6.2 (its approximate total). */
static __always_inline __u64 rss_pages(struct mm_struct *mm, int i)
{
	__s64 v = 0;

	if (!mm || i < 0 || i > 3)
		return 0;
	v = BPF_CORE_READ(mm, rss_stat[i].count);
	return v > 0 ? (__u64)v : 0;
}

SEC("tp_btf/mark_victim")
int BPF_PROG(ig_oom_victim, struct task_struct *task, uid_t uid)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	__u64 mntns_id = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	struct event *e;

	if (gadget_should_discard_mntns_id(mntns_id))
		return 0;
	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return 0;
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	e->tmntns_id = mntns_id;
	gadget_process_populate(&e->fprocess);
	e->tpid = BPF_CORE_READ(task, tgid);
	BPF_CORE_READ_STR_INTO(&e->tcomm, task, comm);
	e->pages = rss_pages(mm, MM_FILEPAGES) + rss_pages(mm, MM_ANONPAGES) +
		   rss_pages(mm, MM_SHMEMPAGES);
	e->tuid = uid;
	e->oom_score_adj = BPF_CORE_READ(task, signal, oom_score_adj);
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
