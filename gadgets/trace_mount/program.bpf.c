// SPDX-License-Identifier: GPL-2.0
/*
 * trace_mount: mount(2), umount2(2), move_mount(2) and fsopen(2) calls.
 *
 * As with trace_open, the entry tracepoint keeps the argument pointers per
 * thread and the exit reads the strings and emits the record with the
 * result.  fsopen() is the first step of the new mount API (fsopen,
 * fsconfig, fsmount, move_mount): it names the filesystem type, and
 * move_mount() names where the result is attached.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filesystem.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

#define FS_MAX	 32
#define DATA_MAX 256

enum op {
	mount,
	umount,
	move_mount,
	fsopen,
};

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;

	enum op op_raw;
	gadget_errno error_raw;
	__u64 flags;
	char src[GADGET_PATH_MAX];  /* mount: source; move_mount: from_path */
	char dest[GADGET_PATH_MAX]; /* mount: target; umount: target; move_mount: to_path */
	char fs[FS_MAX];	    /* mount, fsopen: filesystem type */
	char data[DATA_MAX];	    /* mount: options, as text */
};

struct args {
	enum op op;
	__u64 flags;
	const char *src;
	const char *dest;
	const char *fs;
	const char *data;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct args);
} start SEC(".maps");

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(mount, events, event);

static __always_inline int enter(struct args *a)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (gadget_should_discard_data_current())
		return 0;
	bpf_map_update_elem(&start, &tid, a, BPF_ANY);
	return 0;
}

/* Copies a user string; an absent or unreadable one becomes "". */
static __always_inline void user_str(char *dst, __u32 size, const char *src)
{
	dst[0] = '\0';
	if (src && bpf_probe_read_user_str(dst, size, src) < 0)
		dst[0] = '\0';
}

static __always_inline int leave(struct syscall_trace_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	long ret = ctx->ret;
	struct event *e;
	struct args *a;

	a = bpf_map_lookup_elem(&start, &tid);
	if (!a)
		return 0;
	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		goto out;
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&e->proc);
	e->op_raw = a->op;
	e->error_raw = ret < 0 ? -ret : 0;
	e->flags = a->flags;
	user_str(e->src, sizeof(e->src), a->src);
	user_str(e->dest, sizeof(e->dest), a->dest);
	user_str(e->fs, sizeof(e->fs), a->fs);
	user_str(e->data, sizeof(e->data), a->data);
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
out:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

/* mount(source, target, filesystemtype, mountflags, data) */
SEC("tracepoint/syscalls/sys_enter_mount")
int ig_mount_e(struct syscall_trace_enter *ctx)
{
	struct args a = {
		.op = mount,
		.src = (const char *)ctx->args[0],
		.dest = (const char *)ctx->args[1],
		.fs = (const char *)ctx->args[2],
		.flags = ctx->args[3],
		.data = (const char *)ctx->args[4],
	};

	return enter(&a);
}

SEC("tracepoint/syscalls/sys_exit_mount")
int ig_mount_x(struct syscall_trace_exit *ctx)
{
	return leave(ctx);
}

/* umount2(target, flags); the syscall is named umount in the kernel. */
SEC("tracepoint/syscalls/sys_enter_umount")
int ig_umount_e(struct syscall_trace_enter *ctx)
{
	struct args a = {
		.op = umount,
		.dest = (const char *)ctx->args[0],
		.flags = ctx->args[1],
	};

	return enter(&a);
}

SEC("tracepoint/syscalls/sys_exit_umount")
int ig_umount_x(struct syscall_trace_exit *ctx)
{
	return leave(ctx);
}

/* move_mount(from_dfd, from_path, to_dfd, to_path, flags) */
SEC("tracepoint/syscalls/sys_enter_move_mount")
int ig_move_mount_e(struct syscall_trace_enter *ctx)
{
	struct args a = {
		.op = move_mount,
		.src = (const char *)ctx->args[1],
		.dest = (const char *)ctx->args[3],
		.flags = ctx->args[4],
	};

	return enter(&a);
}

SEC("tracepoint/syscalls/sys_exit_move_mount")
int ig_move_mount_x(struct syscall_trace_exit *ctx)
{
	return leave(ctx);
}

/* fsopen(fs_name, flags) */
SEC("tracepoint/syscalls/sys_enter_fsopen")
int ig_fsopen_e(struct syscall_trace_enter *ctx)
{
	struct args a = {
		.op = fsopen,
		.fs = (const char *)ctx->args[0],
		.flags = ctx->args[1],
	};

	return enter(&a);
}

SEC("tracepoint/syscalls/sys_exit_fsopen")
int ig_fsopen_x(struct syscall_trace_exit *ctx)
{
	return leave(ctx);
}

char LICENSE[] SEC("license") = "GPL";
