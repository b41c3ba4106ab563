/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mount namespace of the current task, which is how the runtime tells
 * containers apart: the id is the inode number /proc/PID/ns/mnt shows.
 */
#ifndef GADGET_MNTNS_H
#define GADGET_MNTNS_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <gadget/types.h>

static __always_inline gadget_mntns_id gadget_get_current_mntns_id(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	return BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
}

/* Older name of gadget_get_current_mntns_id(). */
__attribute__((deprecated("use gadget_get_current_mntns_id()"))) static __always_inline
	gadget_mntns_id
	gadget_get_mntns_id(void)
{
	return gadget_get_current_mntns_id();
}

#endif /* GADGET_MNTNS_H */
