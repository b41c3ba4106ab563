// SPDX-License-Identifier: GPL-2.0
/*
 * snapshot_process: the processes (or threads) running now.
 *
 * A task iterator visits every task once per snapshot; each one that
 * passes the filters is written to the iterator's output as a
 * struct gadget_process, which the runtime reads back as records.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/common.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

/* By default one entry per process (thread group leaders only). */
const volatile bool show_threads = false;
GADGET_PARAM(show_threads);

GADGET_ITER(processes, gadget_process, ig_snap_proc);

SEC("iter/task")
int ig_snap_proc(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct gadget_process p = {};

	if (!task)
		return 0; /* end of the iteration */
	if (!show_threads && task->pid != task->tgid)
		return 0;

	gadget_process_populate_from_task(task, &p);
	if (gadget_should_discard_data(p.mntns_id, p.pid, p.tid, p.comm, p.creds.uid, p.creds.gid))
		return 0;
	bpf_seq_write(ctx->meta->seq, &p, sizeof(p));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
