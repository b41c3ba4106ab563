/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Filling struct gadget_process, the process identity most records carry.
 *
 * gadget_process_populate() describes the current task, so it belongs in
 * hooks that run in process context (syscall tracepoints, sched events
 * raised by the task itself); in softirq or for another task use
 * gadget_process_populate_from_task().
 */
#ifndef GADGET_COMMON_H
#define GADGET_COMMON_H

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <gadget/types.h>
#include <gadget/mntns.h>

static __always_inline void __gadget_parent_populate(struct task_struct *task,
						     struct gadget_process *p)
{
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);

	if (!parent) {
		p->parent.pid = 0;
		p->parent.tid = 0;
		p->parent.comm[0] = '\0';
		return;
	}
	p->parent.pid = BPF_CORE_READ(parent, tgid);
	p->parent.tid = BPF_CORE_READ(parent, pid);
	bpf_probe_read_kernel_str(p->parent.comm, sizeof(p->parent.comm), &parent->comm);
}

/* Fills *p with the current task's identity, credentials and parent. */
static __always_inline void gadget_process_populate(struct gadget_process *p)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();

	bpf_get_current_comm(p->comm, sizeof(p->comm));
	p->pid = pid_tgid >> 32;
	p->tid = (__u32)pid_tgid;
	p->mntns_id = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	p->creds.uid = (__u32)uid_gid;
	p->creds.gid = uid_gid >> 32;
	__gadget_parent_populate(task, p);
}

/*
 * Fills *p from an arbitrary task (an iterator's, or a signal's target).
 * Credentials are the task's real ids as seen from the initial user
 * namespace.
 */
static __always_inline void gadget_process_populate_from_task(struct task_struct *task,
							      struct gadget_process *p)
{
	bpf_probe_read_kernel_str(p->comm, sizeof(p->comm), &task->comm);
	p->pid = BPF_CORE_READ(task, tgid);
	p->tid = BPF_CORE_READ(task, pid);
	p->mntns_id = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	p->creds.uid = BPF_CORE_READ(task, cred, uid.val);
	p->creds.gid = BPF_CORE_READ(task, cred, gid.val);
	__gadget_parent_populate(task, p);
}

#endif /* GADGET_COMMON_H */
