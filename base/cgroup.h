/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The memory limit of the calling process's cgroup: what a container's
 * `resources.limits.memory` becomes, and what the kernel's OOM killer
 * enforces.  A daemon that sizes its buffers from it stays inside the limit
 * instead of being killed at it.
 *
 * Both hierarchies are read: cgroup v1 (memory.limit_in_bytes, and the
 * hierarchical_memory_limit of memory.stat, which accounts for smaller
 * limits on the ancestors) and v2 (memory.max of the cgroup and each of its
 * ancestors).  The process's cgroup path comes from /proc/self/cgroup.  In a
 * container that path may name the container's cgroup as the host sees it
 * while /sys/fs/cgroup is the container's own view, where that cgroup is
 * the root: both places are tried.
 */
#ifndef BASE_CGROUP_H
#define BASE_CGROUP_H

#include <stdint.h>

/*
 * The memory limit in bytes, from the cgroup file system mounted at root
 * (NULL: "/sys/fs/cgroup") and the membership in proc_self_cgroup (NULL:
 * "/proc/self/cgroup"); the two exist for tests.  -ENOENT when no limit
 * applies (none set, or no memory controller), -errno when the files cannot
 * be read.
 */
int base_cgroup_memory_limit(const char *root, const char *proc_self_cgroup, uint64_t *ret);

#endif /* BASE_CGROUP_H */
