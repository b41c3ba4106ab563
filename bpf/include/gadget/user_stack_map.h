/* SPDX-License-Identifier: Apache-2.0 */
/*
 * User stack traces.
 *
 * With the param collect_ustack set, gadget_get_user_stack() stores the
 * current user stack in the stack map ig_ustack and fills a
 * struct gadget_user_stack with its id plus what userspace needs to
 * symbolise it later, possibly after the process is gone: the executable's
 * device, inode and mtime, a hash of the address-space layout, and the
 * thread ids in the initial pid namespace and the one below it.  With the
 * param unset the struct is zeroed and nothing else runs.
 *
 * gadget_get_user_stack(ctx, ustack) picks the variant from ctx's type;
 * every program type here takes the same path, as OpenTelemetry
 * correlation is not implemented (otel_correlation_id stays 0).
 */
#ifndef GADGET_USER_STACK_MAP_H
#define GADGET_USER_STACK_MAP_H

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <gadget/tracing_compat.h>
#include <gadget/macros.h>
#include <gadget/types.h>
#include <gadget/fnv1a.h>

#define GADGET_USER_MAX_STACK_DEPTH	  127
#define GADGET_USER_STACK_MAP_MAX_ENTRIES 10000

const volatile bool collect_ustack = false;
GADGET_PARAM(collect_ustack);

/*
 * Inspektor Gadget's --collect-build-id: here the build ids are read by
 * userspace from the files the process maps (ustack.buildid), so the kernel
 * has nothing more to do and no ig_build_id map is needed.
 */
const volatile bool collect_build_id = false;
GADGET_PARAM(collect_build_id);

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, GADGET_USER_STACK_MAP_MAX_ENTRIES);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, GADGET_USER_MAX_STACK_DEPTH * sizeof(__u64));
} ig_ustack SEC(".maps");

/* inode timestamps before Linux 6.11 were a struct timespec64 named i_mtime or __i_mtime. */
struct inode___gadget_ts64 {
	struct timespec64 i_mtime;
} __attribute__((preserve_access_index));

struct inode___gadget_ts64u {
	struct timespec64 __i_mtime;
} __attribute__((preserve_access_index));

struct inode___gadget_split {
	time64_t i_mtime_sec;
	u32 i_mtime_nsec;
} __attribute__((preserve_access_index));

/* Reads an inode's mtime whichever of the layouts above the running kernel uses. */
static __always_inline void gadget_inode_get_mtime(struct inode *inode, __u64 *sec, __u32 *nsec)
{
	struct inode___gadget_split *s = (void *)inode;
	struct inode___gadget_ts64u *u = (void *)inode;
	struct inode___gadget_ts64 *t = (void *)inode;

	if (bpf_core_field_exists(s->i_mtime_sec)) {
		*sec = BPF_CORE_READ(s, i_mtime_sec);
		*nsec = BPF_CORE_READ(s, i_mtime_nsec);
	} else if (bpf_core_field_exists(u->__i_mtime)) {
		*sec = BPF_CORE_READ(u, __i_mtime.tv_sec);
		*nsec = BPF_CORE_READ(u, __i_mtime.tv_nsec);
	} else {
		*sec = BPF_CORE_READ(t, i_mtime.tv_sec);
		*nsec = BPF_CORE_READ(t, i_mtime.tv_nsec);
	}
}

/* Changes when the task execs or its layout is randomised differently. */
static __always_inline __u32 gadget_get_base_addr_hash(struct task_struct *task)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	__u32 h = fnv_32a_init();

	fnv_32a_update_u64(&h, (__u64)mm);
	fnv_32a_update_u64(&h, BPF_CORE_READ(mm, start_code));
	fnv_32a_update_u64(&h, BPF_CORE_READ(mm, start_stack));
	return h;
}

static __always_inline void __gadget_fill_user_stack(void *ctx, struct gadget_user_stack *us)
{
	struct task_struct *task;
	struct inode *inode;
	struct pid *tpid;
	struct upid *up;
	unsigned int level;
	dev_t dev;

	__builtin_memset(us, 0, sizeof(*us));
	if (!collect_ustack)
		return;

	us->stack_id = bpf_get_stackid(ctx, &ig_ustack, BPF_F_FAST_STACK_CMP | BPF_F_USER_STACK);
	us->boot_timestamp = bpf_ktime_get_boot_ns();

	task = (struct task_struct *)bpf_get_current_task();
	us->tgid_level0 = BPF_CORE_READ(task, tgid);
	tpid = BPF_CORE_READ(task, thread_pid);
	level = BPF_CORE_READ(tpid, level);
	/* numbers[] is a flexible array; index it by hand to stay CO-RE friendly. */
	up = (struct upid *)&tpid->numbers;
	us->pid_level0 = BPF_CORE_READ(up, nr);
	us->pidns_level0 = BPF_CORE_READ(up, ns, ns.inum);
	if (level >= 1) {
		up = (struct upid *)((char *)up + bpf_core_type_size(struct upid));
		us->pid_level1 = BPF_CORE_READ(up, nr);
		us->pidns_level1 = BPF_CORE_READ(up, ns, ns.inum);
	}

	inode = BPF_CORE_READ(task, mm, exe_file, f_inode);
	dev = BPF_CORE_READ(inode, i_sb, s_dev);
	/* Kernel dev_t: 12 bits of major above 20 bits of minor. */
	us->major = dev >> 20;
	us->minor = dev & ((1u << 20) - 1);
	us->inode = BPF_CORE_READ(inode, i_ino);
	gadget_inode_get_mtime(inode, &us->mtime_sec, &us->mtime_nsec);
	us->base_addr_hash = gadget_get_base_addr_hash(task);
}

static __always_inline void gadget_get_user_stack_from_kprobe(void *ctx,
							      struct gadget_user_stack *us)
{
	__gadget_fill_user_stack(ctx, us);
}

static __always_inline void gadget_get_user_stack_from_perf_event(void *ctx,
								  struct gadget_user_stack *us)
{
	__gadget_fill_user_stack(ctx, us);
}

static __always_inline void gadget_get_user_stack_from_tracepoint(void *ctx,
								  struct gadget_user_stack *us)
{
	__gadget_fill_user_stack(ctx, us);
}

#define gadget_get_user_stack(ctx, ustack)                                                         \
	_Generic((ctx), struct bpf_perf_event_data *                                               \
		 : gadget_get_user_stack_from_perf_event, struct pt_regs *                         \
		 : gadget_get_user_stack_from_kprobe, default                                      \
		 : gadget_get_user_stack_from_tracepoint)((ctx), (ustack))

#endif /* GADGET_USER_STACK_MAP_H */
