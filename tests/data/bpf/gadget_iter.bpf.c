// SPDX-License-Identifier: Apache-2.0
/*
 * An iterator over tasks (GADGET_ITER's marker variable): one record per
 * thread group leader with its pid and comm.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

typedef __u32 gadget_pid;
typedef char gadget_comm;

struct it_task {
	gadget_pid pid;
	gadget_pid ppid;
	gadget_comm comm[16];
};

const struct it_task *unusedevent_tasks___it_task __attribute__((unused));
const void *gadget_iter_tasks___it_task___it_dump_task __attribute__((unused));

SEC("iter/task")
int it_dump_task(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct it_task t = {};

	if (!task || task->pid != task->tgid)
		return 0;
	t.pid = task->tgid;
	t.ppid = task->real_parent ? task->real_parent->tgid : 0;
	__builtin_memcpy(t.comm, task->comm, sizeof(t.comm));
	bpf_seq_write(seq, &t, sizeof(t));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
