// SPDX-License-Identifier: GPL-2.0
/*
 * trace_mount: mount(2), umount2(2), move_mount(2) and fsopen(2) calls.
 *
 * As with trace_open, the entry tracepoint keeps the argument pointers per
 * thread and the exit reads the strings and emits the record with the
 * result.  fsopen() is the first step of the new mount API (fsopen,
 * fsconfig, fsmount, move_mount): it names the filesystem type, and
 * move_mount() names where the result is attached.
 *
 * The fields are those of Inspektor Gadget's trace_mount: flags as MS_*
 * names (enum flags_set), delta (the time the call took), and call, the
 * call as strace would write it, which IG's gadget builds in a WebAssembly
 * module and this one builds here with bpf_snprintf().
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

#define FS_MAX	    32
#define DATA_MAX    256
#define FLAGS_MAX   512
#define CALL_MAX    (2 * GADGET_PATH_MAX + DATA_MAX + FLAGS_MAX)
#define FLAG_NAME   16

enum op {
	mount,
	umount,
	move_mount,
	fsopen,
};

/* mount(2) flags (include/uapi/linux/mount.h): a "_set" enum is shown "A|B". */
enum flags_set : __u64 {
	MS_RDONLY = 0x00000001,
	MS_NOSUID = 0x00000002,
	MS_NODEV = 0x00000004,
	MS_NOEXEC = 0x00000008,
	MS_SYNCHRONOUS = 0x00000010,
	MS_REMOUNT = 0x00000020,
	MS_MANDLOCK = 0x00000040,
	MS_DIRSYNC = 0x00000080,
	MS_NOSYMFOLLOW = 0x00000100,
	MS_NOATIME = 0x00000200,
	MS_NODIRATIME = 0x00000400,
	MS_BIND = 0x00000800,
	MS_MOVE = 0x00001000,
	MS_REC = 0x00002000,
	MS_VERBOSE = 0x00004000,
	MS_SILENT = 0x00008000,
	MS_POSIXACL = 0x00010000,
	MS_UNBINDABLE = 0x00020000,
	MS_PRIVATE = 0x00040000,
	MS_SLAVE = 0x00080000,
	MS_SHARED = 0x00100000,
	MS_RELATIME = 0x00200000,
	MS_KERNMOUNT = 0x00400000,
	MS_I_VERSION = 0x00800000,
	MS_STRICTATIME = 0x01000000,
	MS_LAZYTIME = 0x02000000,
	MS_SUBMOUNT = 0x04000000,
	MS_NOREMOTELOCK = 0x08000000,
	MS_NOSEC = 0x10000000,
	MS_BORN = 0x20000000,
	MS_ACTIVE = 0x40000000,
	MS_NOUSER = 0x80000000,
};

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;

	gadget_duration delta_raw; /* how long the call took */
	enum flags_set flags_raw;
	gadget_errno error_raw;
	char fs[FS_MAX];	    /* mount, fsopen: filesystem type */
	char src[GADGET_PATH_MAX];  /* mount: source; move_mount: from_path */
	char dest[GADGET_PATH_MAX]; /* mount: target; umount: target; move_mount: to_path */
	char data[DATA_MAX];	    /* mount: options, as text */
	enum op op_raw;
	char call[CALL_MAX];
};

struct args {
	__u64 ts;
	enum op op;
	__u64 flags;
	const char *src;
	const char *dest;
	const char *fs;
	const char *data;
};

/* The names of flag bits, as the call shows them: MS_* for mount, MNT_* for umount2. */
static const char ms_names[32][FLAG_NAME] = {
	"MS_RDONLY",	  "MS_NOSUID",	   "MS_NODEV",	     "MS_NOEXEC",     "MS_SYNCHRONOUS",
	"MS_REMOUNT",	  "MS_MANDLOCK",   "MS_DIRSYNC",     "MS_NOSYMFOLLOW", "MS_NOATIME",
	"MS_NODIRATIME",  "MS_BIND",	   "MS_MOVE",	     "MS_REC",	      "MS_VERBOSE",
	"MS_SILENT",	  "MS_POSIXACL",   "MS_UNBINDABLE",  "MS_PRIVATE",    "MS_SLAVE",
	"MS_SHARED",	  "MS_RELATIME",   "MS_KERNMOUNT",   "MS_I_VERSION",  "MS_STRICTATIME",
	"MS_LAZYTIME",	  "MS_SUBMOUNT",   "MS_NOREMOTELOCK", "MS_NOSEC",     "MS_BORN",
	"MS_ACTIVE",	  "MS_NOUSER",
};
static const char mnt_names[4][FLAG_NAME] = {"MNT_FORCE", "MNT_DETACH", "MNT_EXPIRE",
					     "UMOUNT_NOFOLLOW"};

/* Per-CPU scratch for the flags text of a call. */
struct flags_buf {
	char s[FLAGS_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flags_buf);
} flags_bufs SEC(".maps");

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
	a->ts = bpf_ktime_get_ns();
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

/* "MS_BIND|MS_REC" (mount), "MNT_DETACH" (umount2), else the number, into b. */
static __always_inline const char *flags_text(struct flags_buf *b, enum op op, __u64 flags)
{
	__u32 pos = 0;

	b->s[0] = '\0';
	for (int i = 0; i < 32; i++) {
		const char *name;
		__u64 arg[2];
		long n;

		if (!(flags & (1ull << i)))
			continue;
		if (op == mount)
			name = ms_names[i];
		else if (op == umount && i < 4)
			name = mnt_names[i];
		else
			break;
		arg[0] = (__u64)(pos ? "|" : "");
		arg[1] = (__u64)name;
		if (pos >= FLAGS_MAX - FLAG_NAME - 2)
			break;
		/* a name and its separator always fit in FLAG_NAME + 2 */
		n = bpf_snprintf(b->s + pos, FLAG_NAME + 2, "%s%s", arg, sizeof(arg));
		if (n <= 1)
			break;
		pos += n - 1;
	}
	if (!pos) {
		__u64 arg[1] = {flags};

		bpf_snprintf(b->s, FLAGS_MAX, "%llu", arg, sizeof(arg));
	}
	return b->s;
}

/* The call as strace writes it, with the error as a number: mount("a", "b", ...) = 0 */
static __always_inline void write_call(struct event *e, __u64 flags)
{
	__u32 zero = 0;
	struct flags_buf *b = bpf_map_lookup_elem(&flags_bufs, &zero);
	const char *f;

	e->call[0] = '\0';
	if (!b)
		return;
	f = flags_text(b, e->op_raw, flags);
	if (e->op_raw == mount) {
		__u64 arg[6] = {(__u64)e->src, (__u64)e->dest, (__u64)e->fs, (__u64)f,
				(__u64)e->data, e->error_raw};

		bpf_snprintf(e->call, sizeof(e->call), "mount(\"%s\", \"%s\", \"%s\", %s, \"%s\") = %u",
			     arg, sizeof(arg));
	} else if (e->op_raw == umount) {
		__u64 arg[3] = {(__u64)e->dest, (__u64)f, e->error_raw};

		bpf_snprintf(e->call, sizeof(e->call), "umount(\"%s\", %s) = %u", arg, sizeof(arg));
	} else if (e->op_raw == move_mount) {
		__u64 arg[4] = {(__u64)e->src, (__u64)e->dest, (__u64)f, e->error_raw};

		bpf_snprintf(e->call, sizeof(e->call), "move_mount(\"%s\", \"%s\", %s) = %u", arg,
			     sizeof(arg));
	} else {
		__u64 arg[3] = {(__u64)e->fs, (__u64)f, e->error_raw};

		bpf_snprintf(e->call, sizeof(e->call), "fsopen(\"%s\", %s) = %u", arg, sizeof(arg));
	}
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
	e->delta_raw = bpf_ktime_get_ns() - a->ts;
	e->op_raw = a->op;
	e->error_raw = ret < 0 ? -ret : 0;
	e->flags_raw = a->flags;
	user_str(e->src, sizeof(e->src), a->src);
	user_str(e->dest, sizeof(e->dest), a->dest);
	user_str(e->fs, sizeof(e->fs), a->fs);
	user_str(e->data, sizeof(e->data), a->data);
	write_call(e, a->flags);
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
