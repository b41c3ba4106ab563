/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading kernel data whose layout changed between releases.
 *
 * Each helper declares the alternative layouts as CO-RE "flavour" structs
 * (a ___suffix that libbpf strips when matching kernel types), asks the
 * running kernel's BTF which one exists with bpf_core_field_exists() or
 * bpf_core_type_exists(), and reads through that one.  The checks become
 * constants at load time, so the verifier drops the untaken branches.
 */
#ifndef GADGET_CORE_FIXES_BPF_H
#define GADGET_CORE_FIXES_BPF_H

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <gadget/tracing_compat.h>

/*
 * Calling this makes the verifier reject the program with the same message
 * libbpf produces for an unguarded failed CO-RE relocation ("invalid func
 * unknown#195896080", i.e. 0xbad2310).  Use it in a branch that only a
 * kernel lacking the needed type can reach: on others it is dead code.
 */
static void (*bpf_core_unreachable)(void) = (void *)0xbad2310;

/* task_struct::state became __state in Linux 5.14. */
struct task_struct___gadget_old {
	volatile long state;
} __attribute__((preserve_access_index));

static __always_inline __s64 get_task_state(void *task)
{
	struct task_struct *t = task;

	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___gadget_old *)task, state);
}

/* bio::bi_disk was replaced by bio::bi_bdev->bd_disk in Linux 5.12. */
struct bio___gadget_old {
	struct gendisk *bi_disk;
} __attribute__((preserve_access_index));

static __always_inline struct gendisk *get_gendisk(void *bio)
{
	struct bio *b = bio;

	if (bpf_core_field_exists(b->bi_bdev))
		return BPF_CORE_READ(b, bi_bdev, bd_disk);
	return BPF_CORE_READ((struct bio___gadget_old *)bio, bi_disk);
}

/* request::rq_disk went away in Linux 5.17; the disk is reached through the queue. */
struct request_queue___gadget {
	struct gendisk *disk;
} __attribute__((preserve_access_index));

struct request___gadget {
	struct request_queue___gadget *q;
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

static __always_inline struct gendisk *get_disk(void *request)
{
	struct request___gadget *r = request;

	if (bpf_core_field_exists(r->rq_disk))
		return BPF_CORE_READ(r, rq_disk);
	return BPF_CORE_READ(r, q, disk);
}

/*
 * The block_rq_complete tracepoint shares its event struct with
 * block_rq_error since Linux 5.19, and the struct was renamed.
 */
struct trace_event_raw_block_rq_complete___x {
	dev_t dev;
	sector_t sector;
	unsigned int nr_sector;
} __attribute__((preserve_access_index));

struct trace_event_raw_block_rq_completion___x {
	dev_t dev;
	sector_t sector;
	unsigned int nr_sector;
} __attribute__((preserve_access_index));

static __always_inline bool has_block_rq_completion(void)
{
	return bpf_core_type_exists(struct trace_event_raw_block_rq_completion___x);
}

/* renamedata gained old_mnt_userns (idmapped mounts, Linux 5.12), later renamed. */
struct renamedata___x {
	struct user_namespace *old_mnt_userns;
} __attribute__((preserve_access_index));

static __always_inline bool renamedata_has_old_mnt_userns_field(void)
{
	return bpf_core_field_exists(struct renamedata___x, old_mnt_userns);
}

/* kmem tracepoints: kfree and kmem_cache_free got their own event structs in Linux 6.0. */
struct trace_event_raw_kmem_free___x {
	const void *ptr;
} __attribute__((preserve_access_index));

struct trace_event_raw_kfree___x {
	const void *ptr;
} __attribute__((preserve_access_index));

struct trace_event_raw_kmem_cache_free___x {
	const void *ptr;
} __attribute__((preserve_access_index));

static __always_inline bool has_kfree(void)
{
	return bpf_core_type_exists(struct trace_event_raw_kfree___x);
}

static __always_inline bool has_kmem_cache_free(void)
{
	return bpf_core_type_exists(struct trace_event_raw_kmem_cache_free___x);
}

/*
 * tcp_retransmit_skb has its own event struct on recent kernels; before, it
 * used the shared tcp_event_sk_skb one.  Both start with the same pointers.
 */
struct trace_event_raw_tcp_retransmit_skb___x {
	const void *skbaddr;
	const void *skaddr;
} __attribute__((preserve_access_index));

struct trace_event_raw_tcp_event_sk_skb___x {
	const void *skbaddr;
	const void *skaddr;
} __attribute__((preserve_access_index));

static __always_inline const struct sk_buff *gadget_get_tcp_retransmit_skb_skbaddr(void *ctx)
{
	if (bpf_core_type_exists(struct trace_event_raw_tcp_retransmit_skb___x))
		return BPF_CORE_READ((struct trace_event_raw_tcp_retransmit_skb___x *)ctx, skbaddr);
	return BPF_CORE_READ((struct trace_event_raw_tcp_event_sk_skb___x *)ctx, skbaddr);
}

static __always_inline const struct sock *gadget_get_tcp_retransmit_skb_skaddr(void *ctx)
{
	if (bpf_core_type_exists(struct trace_event_raw_tcp_retransmit_skb___x))
		return BPF_CORE_READ((struct trace_event_raw_tcp_retransmit_skb___x *)ctx, skaddr);
	return BPF_CORE_READ((struct trace_event_raw_tcp_event_sk_skb___x *)ctx, skaddr);
}

/*
 * inode ctime: struct timespec64 i_ctime before Linux 6.6, __i_ctime in
 * 6.6-6.10, split i_ctime_sec/i_ctime_nsec since 6.11.  Since 6.13 the top
 * bit of the nanoseconds is a "queried" flag that stat() masks off.
 */
#define I_CTIME_QUERIED (1u << 31)

struct inode___gadget_ctime_ts64 {
	struct timespec64 i_ctime;
} __attribute__((preserve_access_index));

struct inode___gadget_ctime_ts64u {
	struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

struct inode___gadget_ctime_split {
	time64_t i_ctime_sec;
	u32 i_ctime_nsec;
} __attribute__((preserve_access_index));

/* ctime of inode in nanoseconds since the epoch, as stat() reports it; 0 if before 1970. */
static __always_inline __u64 gadget_get_ctime_nanosec_from_inode(struct inode *inode)
{
	struct inode___gadget_ctime_split *s = (void *)inode;
	struct inode___gadget_ctime_ts64u *u = (void *)inode;
	struct inode___gadget_ctime_ts64 *t = (void *)inode;
	__s64 sec;
	__u32 nsec;

	if (bpf_core_field_exists(s->i_ctime_sec)) {
		sec = BPF_CORE_READ(s, i_ctime_sec);
		nsec = BPF_CORE_READ(s, i_ctime_nsec);
	} else if (bpf_core_field_exists(u->__i_ctime)) {
		sec = BPF_CORE_READ(u, __i_ctime.tv_sec);
		nsec = BPF_CORE_READ(u, __i_ctime.tv_nsec);
	} else {
		sec = BPF_CORE_READ(t, i_ctime.tv_sec);
		nsec = BPF_CORE_READ(t, i_ctime.tv_nsec);
	}
	if (sec < 0)
		return 0;
	return (__u64)sec * 1000000000ull + (nsec & ~I_CTIME_QUERIED);
}

/*
 * The syscall number and arguments saved in a struct pt_regs at syscall
 * entry (for instance the one raw_syscalls/sys_enter passes).  pt_regs is
 * architecture specific, so this is decided at compile time.
 */
static __always_inline long gadget_get_syscall_nr(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
	return BPF_CORE_READ(regs, orig_ax);
#elif defined(__TARGET_ARCH_arm64)
	return BPF_CORE_READ(regs, syscallno);
#else
	return -1;
#endif
}

/* Argument arg_id (1 to 6) of the syscall; 0 for any other index. */
static __always_inline unsigned long gadget_get_syscall_arg(struct pt_regs *regs,
							    unsigned int arg_id)
{
	switch (arg_id) {
	case 1:
		return PT_REGS_PARM1_CORE_SYSCALL(regs);
	case 2:
		return PT_REGS_PARM2_CORE_SYSCALL(regs);
	case 3:
		return PT_REGS_PARM3_CORE_SYSCALL(regs);
	case 4:
		return PT_REGS_PARM4_CORE_SYSCALL(regs);
	case 5:
		return PT_REGS_PARM5_CORE_SYSCALL(regs);
#ifdef PT_REGS_PARM6_CORE_SYSCALL
	case 6:
		return PT_REGS_PARM6_CORE_SYSCALL(regs);
#endif
	}
	return 0;
}

#endif /* GADGET_CORE_FIXES_BPF_H */
