// SPDX-License-Identifier: GPL-2.0
/*
 * trace_exec: one record per execve(2)/execveat(2), with the fields of
 * Inspektor Gadget's trace_exec.
 *
 * sys_enter_execve* opens a per-thread slot and keeps the argv pointer.  A
 * successful exec then shows up as sched_process_exec, raised by the new
 * program, which reads its command line from the new stack and emits the
 * record; a failed one only reaches sys_exit_execve*, which reads argv from
 * the caller's (still mapped) memory and emits it when ignore_failed is
 * off.  Both exits free the slot.
 *
 * Inspektor Gadget fills the script-related fields (file, fctime, ...) from
 * a kprobe on security_bprm_check.  Kernels without kprobes are served here
 * from sched_process_exec as a BTF tracepoint, which sees the exec's
 * struct linux_binprm: for a program that is not a script, the file is the
 * executable; for a script, bprm->file is already the interpreter, so file
 * is the script's name as it was exec'd and its inode fields stay 0.
 *
 * Records are variable-sized: only the used part of args is sent, so a
 * short command line costs about 2.5 KiB, not the full 7.5 KiB.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#define GADGET_NO_BUF_RESERVE
#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/core_fixes.bpf.h>
#include <gadget/filesystem.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

/* include/uapi/linux/magic.h */
#define OVERLAYFS_SUPER_MAGIC 0x794c7630

#define ARGSIZE	       256 /* longest argument kept, with its NUL */
#define TOTAL_MAX_ARGS 20
#define FULL_MAX_ARGS  (TOTAL_MAX_ARGS * ARGSIZE)
#define LAST_ARG       (FULL_MAX_ARGS - ARGSIZE) /* last offset where a whole argument fits */

/* include/linux/kdev_t.h */
#define MINORBITS 20
#define MINORMASK ((1U << MINORBITS) - 1)

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;

	gadget_uid loginuid;
	__u32 sessionid;
	gadget_errno error_raw;
	int args_count;
	int tty;
	unsigned int tty_major;
	unsigned int tty_minor;
	bool from_rootfs;
	bool file_from_rootfs;
	bool upper_layer;
	bool fupper_layer;
	bool pupper_layer;
	unsigned int args_size;
	char cwd[GADGET_PATH_MAX];
	char file[GADGET_PATH_MAX];
	unsigned int dev_major;
	unsigned int dev_minor;
	unsigned long inode;
	__u64 ctime;
	__u64 fctime;
	__u64 pctime;
	char exepath[GADGET_PATH_MAX];
	char parent_exepath[GADGET_PATH_MAX];
	char args[FULL_MAX_ARGS]; /* argv, each NUL-terminated; keep last */
};

const volatile bool ignore_failed = true;
GADGET_PARAM(ignore_failed);

const volatile bool paths = false;
GADGET_PARAM(paths);

static const struct event empty_event = {};

/*
 * Keyed by the thread that called execve.  On success the kernel renames
 * that thread to the thread group leader's id (de_thread()), which is why
 * sched_process_exec reports the old id too.  LRU, so that slots of threads
 * that died between entry and exit (de_thread() kills the other threads of
 * an exec'ing process) are eventually reused.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct event);
} execs SEC(".maps");

/* The argv pointer given to execve, for the failed ones. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} exec_argv SEC(".maps");

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(exec, events, event);

/*
 * The controlling terminal: tty->index is only an index within its driver,
 * so the device number (as tty_devnum() computes it) is given too; all 0
 * without a terminal.
 */
static __always_inline void read_tty(struct event *e, struct task_struct *task)
{
	struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
	struct tty_driver *driver;

	if (!tty)
		return;
	driver = BPF_CORE_READ(tty, driver);
	if (!driver)
		return;
	e->tty = BPF_CORE_READ(tty, index);
	e->tty_major = BPF_CORE_READ(driver, major);
	e->tty_minor = BPF_CORE_READ(driver, minor_start) + e->tty;
}

/*
 * An overlay inode is followed in memory by struct ovl_inode's members, of
 * which __upperdentry comes first after the VFS inode (fs/overlayfs/ovl_entry.h,
 * a type no BTF describes): non-NULL when the file has a copy in the upper,
 * writable layer, that is, the container wrote it.
 */
static __always_inline bool has_upper_layer(struct inode *inode)
{
	struct dentry *upper = NULL;

	if (BPF_CORE_READ(inode, i_sb, s_magic) != OVERLAYFS_SUPER_MAGIC)
		return false;
	bpf_probe_read_kernel(&upper, sizeof(upper), (void *)inode + bpf_core_type_size(struct inode));
	return upper != NULL;
}

/* The file lives on the mount that is the task's root: the container's own rootfs. */
static __always_inline bool is_from_rootfs(struct task_struct *task, struct file *file)
{
	return BPF_CORE_READ(file, f_path.mnt) == BPF_CORE_READ(task, fs, root.mnt);
}

static __always_inline void copy_path(char *dst, const struct path *path)
{
	void *s = get_path_str(path);

	if (!s || bpf_probe_read_kernel_str(dst, GADGET_PATH_MAX, s) < 0)
		dst[0] = '\0';
}

/*
 * Counts the NULs of args[0..size), eight bytes at a time over the whole
 * buffer, without a branch in the loop: a verifier walks it in one pass,
 * where a loop that stops at size makes it walk the rest of the program
 * once per step (too complex).  Bytes past size are zero (the slot starts
 * as empty_event), so they are taken off the total.  A byte b is zero
 * exactly when ((b & 0x7f) + 0x7f | b) has its high bit clear.
 */
static __always_inline int count_args(struct event *e, __u32 size)
{
	const __u64 low7 = 0x7f7f7f7f7f7f7f7full;
	int zeros = 0;

	for (__u32 i = 0; i < FULL_MAX_ARGS / 8; i++) {
		__u64 w, z;

		__builtin_memcpy(&w, &e->args[i * 8], 8);
		z = ~(((w & low7) + low7) | w | low7) >> 7; /* bit 0 of each zero byte */
		z = (z & 0x00ff00ff00ff00ffull) + ((z >> 8) & 0x00ff00ff00ff00ffull);
		z = (z & 0x0000ffff0000ffffull) + ((z >> 16) & 0x0000ffff0000ffffull);
		zeros += (int)((z & 0xffffffffull) + (z >> 32));
	}
	return zeros - (int)(FULL_MAX_ARGS - size);
}

/*
 * At sched_process_exec the kernel has just copied argv onto the new stack,
 * so it is resident (reading the caller's strings at syscall entry fails
 * for pages a freshly forked child never touched).
 */
static __always_inline void read_argv_from_mm(struct event *e, struct task_struct *task)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	unsigned long start, end;
	__u32 size;

	if (!mm)
		return;
	start = BPF_CORE_READ(mm, arg_start);
	end = BPF_CORE_READ(mm, arg_end);
	if (end <= start)
		return;
	size = end - start > FULL_MAX_ARGS ? FULL_MAX_ARGS : end - start;
	if (size == 0 || size > FULL_MAX_ARGS)
		return;
	if (bpf_probe_read_user(e->args, size, (const void *)start))
		return;
	if (size - 1 < FULL_MAX_ARGS)
		e->args[size - 1] = '\0'; /* truncated: keep it a string */
	e->args_size = size;
	e->args_count = count_args(e, size);
}

/* A failed exec: the caller's argv, which the kernel did not get past. */
static __always_inline void read_argv(struct event *e, const char *const *argv)
{
	e->args_size = 0;
	e->args_count = 0;
	for (int i = 0; i < TOTAL_MAX_ARGS; i++) {
		const char *arg = NULL;
		__u32 off = e->args_size;
		long n;

		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			return;
		if (off > LAST_ARG)
			return;
		n = bpf_probe_read_user_str(&e->args[off], ARGSIZE, arg);
		if (n <= 0)
			return;
		e->args_count++;
		e->args_size = off + n;
	}
}

static __always_inline int enter_exec(const char *const *argv)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 ptr = (__u64)argv;

	/*
	 * Only the container filter here: comm (and possibly uid) change with
	 * the exec, and --comm should match the program being started, so the
	 * other filters are applied when the record is emitted.
	 */
	if (gadget_filter_by_mntns && gadget_should_discard_mntns_id(gadget_get_current_mntns_id()))
		return 0;
	if (bpf_map_update_elem(&execs, &tid, &empty_event, BPF_ANY))
		return 0;
	bpf_map_update_elem(&exec_argv, &tid, &ptr, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int ig_execve_e(struct syscall_trace_enter *ctx)
{
	return enter_exec((const char *const *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int ig_execveat_e(struct syscall_trace_enter *ctx)
{
	return enter_exec((const char *const *)ctx->args[2]);
}

/* What the current task says about itself, for both outcomes. */
static __always_inline void fill_task(struct event *e, struct task_struct *task)
{
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&e->proc);
	if (bpf_core_field_exists(task->loginuid))
		e->loginuid = BPF_CORE_READ(task, loginuid.val);
	else
		e->loginuid = GADGET_INVALID_ID; /* no CONFIG_AUDIT */
	if (bpf_core_field_exists(task->sessionid))
		e->sessionid = BPF_CORE_READ(task, sessionid);
	read_tty(e, task);
	if (paths) {
		struct fs_struct *fs = BPF_CORE_READ(task, fs);

		copy_path(e->cwd, &fs->pwd);
	}
}

static __always_inline void emit(void *ctx, struct event *e)
{
	__u64 size = __builtin_offsetof(struct event, args) + e->args_size;

	if (size > sizeof(*e))
		size = sizeof(*e);
	gadget_output_buf(ctx, &events, e, size);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(ig_sched_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	struct file *pexe = BPF_CORE_READ(parent, mm, exe_file);
	struct inode *inode = BPF_CORE_READ(exe, f_inode);
	struct inode *pinode = BPF_CORE_READ(pexe, f_inode);
	/* a script changed interp to its interpreter's name (bprm_change_interp()) */
	bool script = BPF_CORE_READ(bprm, interp) != BPF_CORE_READ(bprm, filename);
	__u32 old_tid = old_pid;
	struct event *e;

	e = bpf_map_lookup_elem(&execs, &old_tid);
	if (!e)
		goto out;
	if (gadget_should_discard_data_current())
		goto out;
	fill_task(e, task);
	e->error_raw = 0;
	read_argv_from_mm(e, task);
	if (inode) {
		e->upper_layer = has_upper_layer(inode);
		e->ctime = gadget_get_ctime_nanosec_from_inode(inode);
		e->from_rootfs = is_from_rootfs(task, exe);
	}
	if (pinode) {
		e->pupper_layer = has_upper_layer(pinode);
		e->pctime = gadget_get_ctime_nanosec_from_inode(pinode);
	}
	if (inode && !script) {
		/* the file exec'd is the executable */
		e->fupper_layer = e->upper_layer;
		e->fctime = e->ctime;
		e->file_from_rootfs = e->from_rootfs;
	}
	if (paths) {
		dev_t dev = 0;

		copy_path(e->exepath, &exe->f_path);
		copy_path(e->parent_exepath, &pexe->f_path);
		if (script) {
			bpf_probe_read_kernel_str(e->file, sizeof(e->file),
						  BPF_CORE_READ(bprm, filename));
		} else if (inode) {
			__builtin_memcpy(e->file, e->exepath, sizeof(e->file));
			dev = BPF_CORE_READ(inode, i_sb, s_dev);
			e->dev_major = dev >> MINORBITS;
			e->dev_minor = dev & MINORMASK;
			e->inode = BPF_CORE_READ(inode, i_ino);
		}
	}
	emit(ctx, e);
out:
	bpf_map_delete_elem(&execs, &old_tid);
	bpf_map_delete_elem(&exec_argv, &old_tid);
	return 0;
}

/* Reached with the slot still present only when the exec failed. */
static __always_inline int exit_exec(struct syscall_trace_exit *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct event *e;
	__u64 *argv;

	e = bpf_map_lookup_elem(&execs, &tid);
	if (!e)
		return 0;
	if (ignore_failed || ctx->ret >= 0 || gadget_should_discard_data_current())
		goto out;
	argv = bpf_map_lookup_elem(&exec_argv, &tid);
	if (argv)
		read_argv(e, (const char *const *)*argv);
	fill_task(e, task);
	e->error_raw = -ctx->ret;
	if (paths) {
		struct file *exe = BPF_CORE_READ(task, mm, exe_file);

		copy_path(e->exepath, &exe->f_path);
	}
	emit(ctx, e);
out:
	bpf_map_delete_elem(&execs, &tid);
	bpf_map_delete_elem(&exec_argv, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int ig_execve_x(struct syscall_trace_exit *ctx)
{
	return exit_exec(ctx);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int ig_execveat_x(struct syscall_trace_exit *ctx)
{
	return exit_exec(ctx);
}

char LICENSE[] SEC("license") = "GPL";
